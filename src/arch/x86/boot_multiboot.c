/* Multiboot v1 loader (GNU Multiboot Specification 0.6.96), compatible with QEMU's -kernel:
 * ELF32 kernels load their PT_LOAD segments at p_paddr; any image whose header sets flag 16 loads
 * through the a.out kludge address fields instead (that is also the only way to boot a 64-bit ELF).
 *
 * Header flags: bit 0 (page-aligned modules) and bit 1 (memory information) are always satisfied,
 * bit 2 (video mode) is ignored, bits 3-15 are requirements we do not know and make the load fail
 * as the specification demands. The information structure, memory map, module list and strings
 * live in [LAYOUT_BOOT_INFO, LAYOUT_BOOT_INFO_END); the command line ("kernel-name args", as QEMU
 * and GRUB pass it) at LAYOUT_CMDLINE; the initrd is module 0, page-aligned after the kernel. */
#include <errno.h>
#include <string.h>

#include "arch/x86/boot_priv.h"
#include "arch/x86/layout.h"

#define MB_HEADER_MAGIC 0x1BADB002u
#define MB_SEARCH_LEN 8192
#define MB_HEADER_MIN 12
#define MB_HEADER_AOUT 32 /* magic, flags, checksum + 5 address fields */

#define MB_FLAG_PAGE_ALIGN (1u << 0)
#define MB_FLAG_MEMORY_INFO (1u << 1)
#define MB_FLAG_VIDEO_MODE (1u << 2)
#define MB_FLAG_AOUT_KLUDGE (1u << 16)
#define MB_FLAGS_REQUIRED_KNOWN (MB_FLAG_PAGE_ALIGN | MB_FLAG_MEMORY_INFO | MB_FLAG_VIDEO_MODE)

/* Multiboot information structure: flags and field offsets. */
#define MBI_FLAG_MEM (1u << 0)
#define MBI_FLAG_CMDLINE (1u << 2)
#define MBI_FLAG_MODS (1u << 3)
#define MBI_FLAG_MMAP (1u << 6)
#define MBI_FLAG_LOADER_NAME (1u << 9)
#define MBI_FLAGS 0
#define MBI_MEM_LOWER 4
#define MBI_MEM_UPPER 8
#define MBI_CMDLINE 16
#define MBI_MODS_COUNT 20
#define MBI_MODS_ADDR 24
#define MBI_MMAP_LENGTH 44
#define MBI_MMAP_ADDR 48
#define MBI_LOADER_NAME 64
#define MBI_SIZE 128	 /* 116 bytes with the framebuffer fields, zeroed and rounded up */
#define MB_MMAP_ENTRY 24 /* size (=20), base_addr, length, type */
#define MB_MOD_SIZE 16	 /* mod_start, mod_end, string, reserved */

long boot_multiboot_find(const uint8_t *buf, size_t len, long *bad_csum)
{
	size_t lim = len < MB_SEARCH_LEN ? len : MB_SEARCH_LEN;

	*bad_csum = -1;
	for (size_t i = 0; i + MB_HEADER_MIN <= lim; i += 4) {
		if (boot_le32(buf + i) != MB_HEADER_MAGIC)
			continue;
		uint32_t sum = MB_HEADER_MAGIC + boot_le32(buf + i + 4) + boot_le32(buf + i + 8);
		if (sum == 0)
			return (long)i;
		if (*bad_csum < 0)
			*bad_csum = (long)i;
	}
	return -1;
}

/* Load through the a.out kludge fields of the header at file offset off. */
static int mb_load_aout(struct boot_ctx *c, size_t off, uint32_t *entry, uint64_t *lo, uint64_t *hi)
{
	const uint8_t *k = c->in->kernel;
	size_t len = c->in->kernel_len;
	uint32_t header_addr, load_addr, load_end, bss_end, entry_addr;
	uint64_t text_off, load_size, mem_size;

	if (len - off < MB_HEADER_AOUT)
		return boot_fail(c, -ENOEXEC, "kernel: multiboot header truncated");
	header_addr = boot_le32(k + off + 12);
	load_addr = boot_le32(k + off + 16);
	load_end = boot_le32(k + off + 20);
	bss_end = boot_le32(k + off + 24);
	entry_addr = boot_le32(k + off + 28);

	if (load_addr > header_addr)
		return boot_fail(c, -ENOEXEC,
				 "kernel: multiboot load_addr 0x%x is above header_addr 0x%x",
				 load_addr, header_addr);
	if (header_addr - load_addr > off)
		return boot_fail(
		    c, -ENOEXEC,
		    "kernel: multiboot header_addr 0x%x and load_addr 0x%x put the load "
		    "before the start of the file",
		    header_addr, load_addr);
	text_off = off - (header_addr - load_addr);
	if (load_end == 0) {
		load_size = len - text_off;
	} else {
		if (load_end <= load_addr)
			return boot_fail(c, -ENOEXEC,
					 "kernel: multiboot load_end_addr 0x%x is not above "
					 "load_addr 0x%x",
					 load_end, load_addr);
		load_size = load_end - load_addr;
		if (load_size > len - text_off)
			return boot_fail(
			    c, -ENOEXEC,
			    "kernel: multiboot load_end_addr 0x%x lies past the end of "
			    "the file",
			    load_end);
	}
	mem_size = load_size;
	if (bss_end) {
		if (bss_end < load_addr + load_size)
			return boot_fail(c, -ENOEXEC,
					 "kernel: multiboot bss_end_addr 0x%x is below the end of "
					 "the loaded image",
					 bss_end);
		mem_size = bss_end - load_addr;
	}
	if (load_addr < LAYOUT_KERNEL)
		return boot_fail(c, -ENOEXEC,
				 "kernel: multiboot load_addr 0x%x overlaps the boot area below "
				 "1 MiB",
				 load_addr);
	if (!gmem_is_ram(c->gm, load_addr, mem_size))
		return boot_fail(c, -ENOMEM,
				 "kernel: multiboot image (0x%x-0x%llx) is outside guest RAM "
				 "(%llu MiB)",
				 load_addr, (unsigned long long)(load_addr + mem_size - 1),
				 (unsigned long long)(c->gm->ram_size / BOOT_MIB));
	if (entry_addr < load_addr || entry_addr - load_addr >= load_size)
		return boot_fail(c, -ENOEXEC,
				 "kernel: multiboot entry_addr 0x%x is outside the loaded image",
				 entry_addr);

	int ret = boot_write(c, load_addr, k + text_off, (size_t)load_size, "kernel");
	if (ret)
		return ret;
	if (gmem_fill(c->gm, load_addr + load_size, 0, (size_t)(mem_size - load_size)))
		return boot_fail(c, -ENOMEM, "kernel: cannot clear the multiboot bss");
	*entry = entry_addr;
	*lo = load_addr;
	*hi = load_addr + mem_size;
	return 0;
}

static int mb_load_elf(struct boot_ctx *c, uint32_t *entry, uint64_t *lo, uint64_t *hi)
{
	struct boot_elf elf;
	uint64_t phys;
	int ret;

	/* Checked before parsing, as QEMU does: the header of an ELF64 is not ours to judge. */
	if (c->in->kernel_len > 4 && c->in->kernel[4] == 2 /* ELFCLASS64 */)
		return boot_fail(
		    c, -ENOEXEC,
		    "kernel: 64-bit ELF multiboot images are not supported; use ELF32 or "
		    "the a.out kludge");
	ret = boot_elf_parse(c, &elf);
	if (ret)
		return ret;
	if (elf.machine != BOOT_EM_386)
		return boot_fail(c, -ENOEXEC, "kernel: multiboot ELF machine %u is not i386",
				 elf.machine);
	ret = boot_elf_load(c, &elf, lo, hi);
	if (ret)
		return ret;
	ret = boot_elf_entry_phys(c, &elf, elf.entry, &phys);
	if (ret)
		return ret;
	if (phys > UINT32_MAX)
		return boot_fail(c, -ENOEXEC, "kernel: multiboot entry point is above 4 GiB");
	*entry = (uint32_t)phys;
	return 0;
}

/* The memory map as multiboot wants it: each entry prefixed by its size (20). */
static int mb_write_mmap(struct boot_ctx *c, struct boot_area *area, uint64_t *gpa,
			 uint32_t *length)
{
	uint8_t e[MB_MMAP_ENTRY];
	unsigned nr = c->e820->nr < E820_MAX ? c->e820->nr : E820_MAX;
	int ret = boot_area_alloc(c, area, (uint64_t)nr * MB_MMAP_ENTRY, 8, gpa, "multiboot mmap");

	if (ret)
		return ret;
	for (unsigned i = 0; i < nr; i++) {
		const struct e820_entry *en = &c->e820->entries[i];
		boot_put32(e, MB_MMAP_ENTRY - 4);
		boot_put64(e + 4, en->addr);
		boot_put64(e + 12, en->size);
		boot_put32(e + 20, en->type);
		ret = boot_write(c, *gpa + (uint64_t)i * MB_MMAP_ENTRY, e, sizeof(e),
				 "multiboot mmap");
		if (ret)
			return ret;
	}
	*length = nr * MB_MMAP_ENTRY;
	return 0;
}

static int mb_write_info(struct boot_ctx *c)
{
	struct boot_area area = {LAYOUT_BOOT_INFO, LAYOUT_BOOT_INFO_END};
	uint8_t info[MBI_SIZE], mod[MB_MOD_SIZE];
	uint64_t info_gpa, mmap_gpa, mods_gpa, str_gpa, name_gpa, upper;
	uint32_t flags = MBI_FLAG_MEM | MBI_FLAG_CMDLINE | MBI_FLAG_MMAP | MBI_FLAG_LOADER_NAME;
	uint32_t mmap_len;
	int ret;

	memset(info, 0, sizeof(info));
	ret = boot_area_alloc(c, &area, MBI_SIZE, 8, &info_gpa, "multiboot info");
	if (!ret)
		ret = mb_write_mmap(c, &area, &mmap_gpa, &mmap_len);
	if (!ret)
		ret = boot_area_string(c, &area, BOOT_LOADER_NAME, &name_gpa, "multiboot info");
	if (ret)
		return ret;
	if (c->in->initrd) {
		const char *s = c->in->initrd_name ? c->in->initrd_name : "";
		ret = boot_area_alloc(c, &area, MB_MOD_SIZE, 8, &mods_gpa, "multiboot modules");
		if (!ret)
			ret = boot_area_string(c, &area, s, &str_gpa, "initrd name");
		if (ret)
			return ret;
		memset(mod, 0, sizeof(mod));
		boot_put32(mod, (uint32_t)c->out->initrd_gpa);
		boot_put32(mod + 4, (uint32_t)(c->out->initrd_gpa + c->out->initrd_size));
		boot_put32(mod + 8, (uint32_t)str_gpa);
		ret = boot_write(c, mods_gpa, mod, sizeof(mod), "multiboot modules");
		if (ret)
			return ret;
		flags |= MBI_FLAG_MODS;
		boot_put32(info + MBI_MODS_COUNT, 1);
		boot_put32(info + MBI_MODS_ADDR, (uint32_t)mods_gpa);
	}
	upper = (c->low_ram_end - LAYOUT_KERNEL) / 1024;
	boot_put32(info + MBI_FLAGS, flags);
	boot_put32(info + MBI_MEM_LOWER, 640);
	boot_put32(info + MBI_MEM_UPPER, upper > UINT32_MAX ? UINT32_MAX : (uint32_t)upper);
	boot_put32(info + MBI_CMDLINE, (uint32_t)c->out->cmdline_gpa);
	boot_put32(info + MBI_MMAP_LENGTH, mmap_len);
	boot_put32(info + MBI_MMAP_ADDR, (uint32_t)mmap_gpa);
	boot_put32(info + MBI_LOADER_NAME, (uint32_t)name_gpa);
	return boot_write(c, info_gpa, info, sizeof(info), "multiboot info");
}

int boot_multiboot_load(struct boot_ctx *c, size_t off)
{
	const uint8_t *k = c->in->kernel;
	uint32_t flags = boot_le32(k + off + 4), entry = 0;
	uint64_t lo = 0, hi = 0;
	int ret;

	if (flags & 0xffffu & ~MB_FLAGS_REQUIRED_KNOWN)
		return boot_fail(c, -ENOEXEC,
				 "kernel: multiboot header requires unsupported features "
				 "(flags 0x%08x)",
				 flags);
	if (flags & MB_FLAG_AOUT_KLUDGE)
		ret = mb_load_aout(c, off, &entry, &lo, &hi);
	else if (boot_elf_is_elf(k, c->in->kernel_len))
		ret = mb_load_elf(c, &entry, &lo, &hi);
	else
		ret = boot_fail(c, -ENOEXEC,
				"kernel: multiboot image is not ELF and has no a.out kludge "
				"address fields (flag 16)");
	if (ret)
		return ret;
	c->out->kernel_gpa = lo;
	c->out->kernel_end = hi;

	ret = boot_write_cmdline(c, c->in->kernel_name, LAYOUT_CMDLINE_MAX - 1);
	if (!ret)
		ret = boot_load_initrd(c, hi, c->low_ram_end, 0);
	if (!ret)
		ret = mb_write_info(c);
	if (ret)
		return ret;
	return boot_enter32(c, entry, BOOT_MULTIBOOT_MAGIC, (uint32_t)LAYOUT_BOOT_INFO);
}
