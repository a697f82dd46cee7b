/* Boot loader dispatcher and the helpers the three loaders share: error text, guest copies, the
 * boot-info area allocator, command line, initrd placement, boot GDT and entry state. */
#include "arch/x86/boot.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arch/x86/boot_priv.h"
#include "arch/x86/layout.h"

#define BZ_BOOT_FLAG_OFF 0x1fe
#define BZ_HEADER_OFF 0x202
#define BZ_BOOT_FLAG 0xAA55
#define BZ_HEADER_MAGIC 0x53726448u /* "HdrS" */

int boot_fail(struct boot_ctx *c, int ret, const char *fmt, ...)
{
	va_list ap;

	if (c->err && c->errlen) {
		va_start(ap, fmt);
		vsnprintf(c->err, c->errlen, fmt, ap);
		va_end(ap);
	}
	return ret;
}

/* Human-readable size: bytes, KiB or MiB, rounded up. */
static void boot_fmt_size(char *buf, size_t len, uint64_t n)
{
	if (n >= BOOT_MIB)
		snprintf(buf, len, "%llu MiB",
			 (unsigned long long)(n / BOOT_MIB + !!(n % BOOT_MIB)));
	else if (n >= 1024)
		snprintf(buf, len, "%llu KiB", (unsigned long long)(n / 1024 + !!(n % 1024)));
	else
		snprintf(buf, len, "%llu bytes", (unsigned long long)n);
}

int boot_write(struct boot_ctx *c, uint64_t gpa, const void *src, size_t len, const char *what)
{
	if (gmem_write(c->gm, gpa, src, len))
		return boot_fail(c, -ENOMEM, "%s: %zu bytes at 0x%llx are not in guest RAM", what,
				 len, (unsigned long long)gpa);
	return 0;
}

int boot_area_alloc(struct boot_ctx *c, struct boot_area *area, uint64_t len, uint64_t align,
		    uint64_t *gpa, const char *what)
{
	uint64_t start = boot_align_up(area->next, align);

	if (start == 0 || start > area->end || len > area->end - start)
		return boot_fail(c, -E2BIG,
				 "%s: %llu bytes do not fit in the boot information area", what,
				 (unsigned long long)len);
	*gpa = start;
	area->next = start + len;
	return 0;
}

int boot_area_string(struct boot_ctx *c, struct boot_area *area, const char *s, uint64_t *gpa,
		     const char *what)
{
	size_t len = strlen(s) + 1;
	int ret = boot_area_alloc(c, area, len, 1, gpa, what);

	if (ret)
		return ret;
	return boot_write(c, *gpa, s, len, what);
}

int boot_write_cmdline(struct boot_ctx *c, const char *prefix, uint64_t max)
{
	const char *cl = c->in->cmdline ? c->in->cmdline : "";
	const char *extra = c->out->kind != BOOT_MULTIBOOT ? c->in->linux_cmdline_extra : NULL;
	size_t cl_len = strlen(cl), pre_len = 0, extra_len = 0, total;
	uint64_t gpa = LAYOUT_CMDLINE;
	int ret;

	if (max > LAYOUT_CMDLINE_MAX - 1)
		max = LAYOUT_CMDLINE_MAX - 1;
	if (prefix)
		pre_len = strlen(prefix) + (cl_len ? 1 : 0);
	if (extra && *extra)
		extra_len = strlen(extra) + (cl_len ? 1 : 0);
	if (__builtin_add_overflow(pre_len, cl_len, &total) ||
	    __builtin_add_overflow(total, extra_len, &total) || total > max)
		return boot_fail(c, -E2BIG, "cmdline: %zu bytes is longer than the limit of %llu",
				 cl_len + pre_len + extra_len, (unsigned long long)max);
	if (prefix) {
		ret = boot_write(c, gpa, prefix, strlen(prefix), "cmdline");
		if (ret)
			return ret;
		gpa += strlen(prefix);
		if (cl_len) {
			ret = boot_write(c, gpa++, " ", 1, "cmdline");
			if (ret)
				return ret;
		}
	}
	ret = boot_write(c, gpa, cl, cl_len + (extra_len ? 0 : 1), "cmdline");
	if (ret)
		return ret;
	if (extra_len) {
		gpa += cl_len;
		if (cl_len && (ret = boot_write(c, gpa++, " ", 1, "cmdline")))
			return ret;
		ret = boot_write(c, gpa, extra, strlen(extra) + 1, "cmdline");
		if (ret)
			return ret;
	}
	c->out->cmdline_gpa = LAYOUT_CMDLINE;
	return 0;
}

int boot_load_initrd(struct boot_ctx *c, uint64_t lo, uint64_t hi, int top)
{
	uint64_t size = c->in->initrd_len, gpa = 0, lo_al;
	char sz[32];

	if (!c->in->initrd)
		return 0;
	if (hi > c->low_ram_end)
		hi = c->low_ram_end;
	lo_al = boot_align_up(lo, BOOT_PAGE);
	int fits = lo_al != 0 && lo_al < hi && size <= hi - lo_al;
	if (fits) {
		gpa = top ? (hi - size) & ~(BOOT_PAGE - 1) : lo_al;
		fits = gpa >= lo_al;
	}
	if (!fits) {
		boot_fmt_size(sz, sizeof(sz), size);
		return boot_fail(c, -ENOMEM,
				 "initrd: %s does not fit below 0x%llx in %llu MiB of RAM", sz,
				 (unsigned long long)(hi ? hi - 1 : 0),
				 (unsigned long long)(c->gm->ram_size / BOOT_MIB));
	}
	int ret = boot_write(c, gpa, c->in->initrd, (size_t)size, "initrd");
	if (ret)
		return ret;
	c->out->initrd_gpa = gpa;
	c->out->initrd_size = size;
	return 0;
}

static int boot_write_gdt(struct boot_ctx *c, uint64_t code)
{
	uint8_t gdt[BOOT_GDT_ENTRIES * 8];

	memset(gdt, 0, sizeof(gdt));
	boot_put64(gdt + 2 * 8, code);
	boot_put64(gdt + 3 * 8, BOOT_GDT_DATA);
	return boot_write(c, LAYOUT_BOOT_GDT, gdt, sizeof(gdt), "boot GDT");
}

int boot_enter32(struct boot_ctx *c, uint32_t entry, uint32_t eax, uint32_t ebx)
{
	int ret = boot_write_gdt(c, BOOT_GDT_CODE32);

	if (ret)
		return ret;
	x86_state_flat32(&c->out->bsp, entry, LAYOUT_BOOT_GDT, BOOT_GDT_ENTRIES * 8 - 1);
	c->out->bsp.gpr[X86_RAX] = eax;
	c->out->bsp.gpr[X86_RBX] = ebx;
	c->out->entry = entry;
	return 0;
}

int boot_enter64(struct boot_ctx *c, uint64_t rip, uint64_t rsi)
{
	int ret = boot_write_gdt(c, BOOT_GDT_CODE64);

	if (ret)
		return ret;
	x86_state_long64(&c->out->bsp, rip, LAYOUT_PML4, LAYOUT_BOOT_GDT, BOOT_GDT_ENTRIES * 8 - 1);
	c->out->bsp.gpr[X86_RSI] = rsi;
	c->out->entry = (uint32_t)rip;
	return 0;
}

static int boot_is_bzimage(const uint8_t *k, size_t len)
{
	return len >= BZ_HEADER_OFF + 4 && boot_le16(k + BZ_BOOT_FLAG_OFF) == BZ_BOOT_FLAG &&
	       boot_le32(k + BZ_HEADER_OFF) == BZ_HEADER_MAGIC;
}

int boot_load(struct gmem *gm, const struct e820_map *e820, const struct boot_input *in,
	      struct boot_result *out, char *err, size_t errlen)
{
	struct boot_ctx c = {
	    .gm = gm, .e820 = e820, .in = in, .out = out, .err = err, .errlen = errlen};
	long mb_off, bad_csum;

	if (err && errlen)
		err[0] = '\0';
	if (!gm || !e820 || !in || !out)
		return boot_fail(&c, -EINVAL, "boot: missing guest memory, memory map or input");
	memset(out, 0, sizeof(*out));
	if (!in->kernel || in->kernel_len == 0)
		return boot_fail(&c, -ENOEXEC, "kernel: image is empty");
	if (in->initrd_len && !in->initrd)
		return boot_fail(&c, -EINVAL, "initrd: length given without data");
	c.low_ram_end = e820_ram_end(e820, LAYOUT_KERNEL);
	if (c.low_ram_end == 0 || !gmem_is_ram(gm, 0, LAYOUT_EBDA))
		return boot_fail(&c, -EINVAL, "boot: guest RAM must cover 0-0x%llx and 1 MiB",
				 (unsigned long long)LAYOUT_EBDA - 1);

	if (boot_is_bzimage(in->kernel, in->kernel_len)) {
		out->kind = BOOT_BZIMAGE;
		return boot_bzimage_load(&c);
	}
	mb_off = boot_multiboot_find(in->kernel, in->kernel_len, &bad_csum);
	if (mb_off >= 0) {
		out->kind = BOOT_MULTIBOOT;
		return boot_multiboot_load(&c, (size_t)mb_off);
	}
	if (boot_elf_is_elf(in->kernel, in->kernel_len)) {
		struct boot_elf elf;
		uint32_t entry;
		int ret = boot_elf_parse(&c, &elf);
		if (ret)
			return ret;
		ret = boot_elf_find_pvh(&c, &elf, &entry);
		if (ret < 0)
			return ret;
		if (ret == 1) {
			out->kind = BOOT_PVH;
			return boot_pvh_load(&c, &elf, entry);
		}
	}
	if (bad_csum >= 0)
		return boot_fail(&c, -ENOEXEC,
				 "kernel: multiboot header at offset 0x%lx has a bad checksum",
				 bad_csum);
	return boot_fail(&c, -ENOEXEC, "kernel: not a bzImage, multiboot or PVH ELF image");
}

const char *boot_kind_name(enum boot_kind kind)
{
	switch (kind) {
	case BOOT_MULTIBOOT:
		return "multiboot";
	case BOOT_PVH:
		return "pvh";
	case BOOT_BZIMAGE:
		return "bzimage";
	}
	return "unknown";
}

static int read_fail(char *err, size_t errlen, int ret, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int read_fail(char *err, size_t errlen, int ret, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return ret;
}

int boot_read_file(const char *path, uint8_t **buf, size_t *len, size_t max, char *err,
		   size_t errlen)
{
	char eb[128], sz[32];
	struct stat st;
	uint8_t *p = NULL;
	size_t used = 0, cap = 64 * 1024;
	int fd, ret = 0, e;

	*buf = NULL;
	*len = 0;
	if (max == SIZE_MAX)
		max--; /* max + 1 below must not wrap */
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		e = errno;
		return read_fail(err, errlen, -e, "cannot open %s: %s", path,
				 strerror_r(e, eb, sizeof(eb)));
	}
	if (fstat(fd, &st)) {
		e = errno;
		ret = read_fail(err, errlen, -e, "cannot stat %s: %s", path,
				strerror_r(e, eb, sizeof(eb)));
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		ret = read_fail(err, errlen, -EISDIR, "%s is a directory, not a file", path);
		goto out;
	}
	if (S_ISREG(st.st_mode) && st.st_size > 0) {
		if ((unsigned long long)st.st_size > max)
			goto too_big;
		cap = (size_t)st.st_size + 1; /* the extra byte sees EOF (or growth) at once */
	}
	if (cap > max + 1)
		cap = max + 1;
	p = malloc(cap);
	if (!p)
		goto no_mem;
	for (;;) {
		if (used == cap) {
			size_t ncap = cap > max / 2 ? max + 1 : cap * 2;
			uint8_t *np = realloc(p, ncap);
			if (!np)
				goto no_mem;
			p = np;
			cap = ncap;
		}
		ssize_t n = read(fd, p + used, cap - used);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			e = errno;
			ret = read_fail(err, errlen, -e, "cannot read %s: %s", path,
					strerror_r(e, eb, sizeof(eb)));
			goto out;
		}
		if (n == 0)
			break;
		used += (size_t)n;
		if (used > max)
			goto too_big;
	}
	if (used == 0) {
		ret = read_fail(err, errlen, -EINVAL, "%s is empty", path);
		goto out;
	}
	*buf = p;
	*len = used;
	p = NULL;
	goto out;
no_mem:
	ret = read_fail(err, errlen, -ENOMEM, "%s: out of memory", path);
	goto out;
too_big:
	boot_fmt_size(sz, sizeof(sz), max);
	ret = read_fail(err, errlen, -EFBIG, "%s is larger than the limit of %s", path, sz);
out:
	free(p);
	close(fd);
	return ret;
}
