/* libFuzzer harness: boot_load() (arch/x86/boot*.c) on arbitrary kernel images.
 *
 * Input layout (all little-endian):
 *   [0]     flags: bit 0 an initrd is given; bit 1 the command line is NULL; bits 2-3 kernel_name
 *           (NULL, "k", "/boot/vmlinuz-fuzz", LAYOUT_CMDLINE_MAX characters); bits 4-5
 *           initrd_name (NULL, "", "initrd.img", 0x6000 characters); bits 6-7 guest RAM layout
 *           (see layouts[] below)
 *   [1]     bit 0: rsdp_gpa = LAYOUT_ACPI_START (else 0); bit 1: long command line mode
 *   [2..5]  initrd length (taken modulo INITRD_MAX + 1; its bytes are a fixed pattern)
 *   [6..7]  command line length: in long mode a run of that many 'x'; otherwise the low byte
 *           says how many of the next input bytes form the command line
 *   ...     the command line bytes (normal mode), then the kernel image: the rest of the input.
 *
 * Guest RAM is one static 32 MiB buffer shared by every layout and never cleared (boot_load only
 * writes guest memory). After each call the harness checks the contract in boot.h: the return
 * code is a documented one with a sentence in err; on success the kernel lies at or above 1 MiB,
 * the initrd is in RAM, page-aligned, clear of the kernel and (bzImage) below initrd_addr_max,
 * the command line at LAYOUT_CMDLINE reads back as given, the entry state matches `entry`; and
 * below 1 MiB nothing was written outside the loader's areas of layout.h (checked through the
 * gmem dirty bitmap, which records every VMM write). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "arch/x86/boot.h"
#include "arch/x86/e820.h"
#include "arch/x86/layout.h"
#include "core/gmem.h"
#include "fuzz_input.h"

#define MIB (1ull << 20)
#define RAM_SIZE (32 * MIB)
#define INITRD_MAX (RAM_SIZE + 8 * MIB) /* larger than any layout's RAM: exercises -ENOMEM */
#define HDR_SIZE 8
#define LONG_NAME_LEN LAYOUT_CMDLINE_MAX /* alone longer than any command line limit */
#define LONG_INITRD_NAME_LEN 0x6000	 /* fits no boot information area */

struct layout {
	struct gmem gm;
	struct e820_map e820;
};

static uint8_t *ram;	    /* RAM_SIZE bytes backing every layout */
static uint8_t *initrd_buf; /* INITRD_MAX bytes of pattern */
static char *long_cmdline;  /* LAYOUT_CMDLINE_MAX + 1 'x' characters */
static char *long_name, *long_initrd_name;
static struct layout layouts[4];
static int verbose; /* VMON_FUZZ_VERBOSE=1: print each result (for looking at seeds) */

static void layout_add(struct layout *l, uint64_t gpa, uint64_t size, uint64_t buf_off)
{
	FZ_CHECK(gmem_add_region(&l->gm, gpa, size, ram + buf_off) == 0, "region 0x%llx",
		 (unsigned long long)gpa);
}

static char *make_string(size_t len, char c)
{
	char *s = malloc(len + 1);
	FZ_CHECK(s != NULL, "out of memory");
	memset(s, c, len);
	s[len] = '\0';
	return s;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_log_setup();
	verbose = getenv("VMON_FUZZ_VERBOSE") != NULL;
	ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	FZ_CHECK(ram != MAP_FAILED, "cannot map guest RAM");
	initrd_buf = malloc(INITRD_MAX);
	FZ_CHECK(initrd_buf != NULL, "out of memory");
	for (size_t i = 0; i < INITRD_MAX; i++)
		initrd_buf[i] = (uint8_t)(i * 7 + (i >> 12) + 1);
	long_cmdline = make_string(LAYOUT_CMDLINE_MAX, 'x');
	long_name = make_string(LONG_NAME_LEN, 'k');
	long_initrd_name = make_string(LONG_INITRD_NAME_LEN, 'i');

	/* 0: the smallest machine e820 accepts; 1: 8 MiB; 2: 32 MiB in one region; 3: low RAM in
	 * two adjacent regions (copies split between them) and 16 MiB above 4 GiB. */
	layout_add(&layouts[0], 0, E820_MIN_RAM, 0);
	layout_add(&layouts[1], 0, 8 * MIB, 0);
	layout_add(&layouts[2], 0, RAM_SIZE, 0);
	layout_add(&layouts[3], 0, 12 * MIB, 0);
	layout_add(&layouts[3], 12 * MIB, 4 * MIB, 12 * MIB);
	layout_add(&layouts[3], GMEM_HOLE_END, 16 * MIB, 16 * MIB);
	for (int i = 0; i < 4; i++)
		FZ_CHECK(e820_build(&layouts[i].gm, &layouts[i].e820) == 0, "e820 of layout %d", i);
	return 0;
}

/* Below 1 MiB the loaders may write only these areas (layout.h). */
static int low_page_allowed(uint64_t page)
{
	static const struct {
		uint64_t start, end;
	} areas[] = {
	    {LAYOUT_BOOT_GDT, LAYOUT_BOOT_GDT + BOOT_GDT_ENTRIES * 8},
	    {LAYOUT_BOOT_INFO, LAYOUT_BOOT_INFO_END},
	    {LAYOUT_ZERO_PAGE, LAYOUT_ZERO_PAGE + 4096},
	    {LAYOUT_PML4, LAYOUT_PML4 + 4096},
	    {LAYOUT_PDPT, LAYOUT_PDPT + 4096},
	    {LAYOUT_PD, LAYOUT_PD + 4 * 4096},
	    {LAYOUT_CMDLINE, LAYOUT_CMDLINE + LAYOUT_CMDLINE_MAX},
	};
	uint64_t lo = page * GMEM_PAGE_SIZE, hi = lo + GMEM_PAGE_SIZE;

	for (size_t i = 0; i < sizeof(areas) / sizeof(areas[0]); i++)
		if (lo < areas[i].end && areas[i].start < hi)
			return 1;
	return 0;
}

static const uint8_t *guest(struct gmem *gm, uint64_t gpa, uint64_t len)
{
	const uint8_t *p = gmem_ptr(gm, gpa, len, GMEM_READ);
	FZ_CHECK(p != NULL, "0x%llx+%llu is not guest RAM", (unsigned long long)gpa,
		 (unsigned long long)len);
	return p;
}

/* The guest bytes at [gpa, gpa+len) equal src (compared at both ends for speed). */
static void check_copy(struct gmem *gm, uint64_t gpa, const uint8_t *src, uint64_t len,
		       const char *what)
{
	uint64_t n = len < 4096 ? len : 4096;
	uint8_t buf[4096];

	FZ_CHECK(gmem_read(gm, gpa, buf, n) == 0, "%s not readable", what);
	FZ_CHECK(memcmp(buf, src, n) == 0, "%s: head differs", what);
	FZ_CHECK(gmem_read(gm, gpa + len - n, buf, n) == 0, "%s not readable", what);
	FZ_CHECK(memcmp(buf, src + len - n, n) == 0, "%s: tail differs", what);
}

static void check_cmdline(struct gmem *gm, const struct boot_input *in, enum boot_kind kind)
{
	const char *cl = in->cmdline ? in->cmdline : "";
	size_t cl_len = strlen(cl);
	const uint8_t *g;

	if (kind == BOOT_MULTIBOOT && in->kernel_name) {
		size_t pre = strlen(in->kernel_name);
		g = guest(gm, LAYOUT_CMDLINE, pre);
		FZ_CHECK(memcmp(g, in->kernel_name, pre) == 0, "multiboot cmdline prefix");
		if (cl_len) {
			FZ_CHECK(*guest(gm, LAYOUT_CMDLINE + pre, 1) == ' ', "multiboot separator");
			pre++;
		}
		g = guest(gm, LAYOUT_CMDLINE + pre, cl_len + 1);
	} else {
		g = guest(gm, LAYOUT_CMDLINE, cl_len + 1);
	}
	FZ_CHECK(memcmp(g, cl, cl_len + 1) == 0, "command line differs");
}

static void check_result(struct layout *l, const struct boot_input *in, const struct boot_result *r)
{
	FZ_CHECK(r->kind == BOOT_MULTIBOOT || r->kind == BOOT_PVH || r->kind == BOOT_BZIMAGE,
		 "kind %d", (int)r->kind);
	FZ_CHECK(r->kernel_gpa >= LAYOUT_KERNEL, "kernel at 0x%llx is below 1 MiB",
		 (unsigned long long)r->kernel_gpa);
	FZ_CHECK(r->kernel_end > r->kernel_gpa, "kernel 0x%llx-0x%llx is empty",
		 (unsigned long long)r->kernel_gpa, (unsigned long long)r->kernel_end);
	FZ_CHECK(r->cmdline_gpa == LAYOUT_CMDLINE, "cmdline_gpa 0x%llx",
		 (unsigned long long)r->cmdline_gpa);
	check_cmdline(&l->gm, in, r->kind);

	if (r->kind == BOOT_BZIMAGE) {
		FZ_CHECK(r->kernel_gpa == LAYOUT_KERNEL, "bzImage at 0x%llx",
			 (unsigned long long)r->kernel_gpa);
		FZ_CHECK(r->bsp.rip == LAYOUT_KERNEL + 0x200 && r->entry == LAYOUT_KERNEL + 0x200,
			 "bzImage entry 0x%llx", (unsigned long long)r->bsp.rip);
		FZ_CHECK(r->bsp.gpr[X86_RSI] == LAYOUT_ZERO_PAGE, "bzImage RSI");
	} else {
		FZ_CHECK(r->bsp.rip == r->entry, "rip 0x%llx but entry 0x%x",
			 (unsigned long long)r->bsp.rip, r->entry);
		FZ_CHECK(r->bsp.gpr[X86_RBX] == LAYOUT_BOOT_INFO, "EBX 0x%llx",
			 (unsigned long long)r->bsp.gpr[X86_RBX]);
		FZ_CHECK(r->entry >= r->kernel_gpa && r->entry < r->kernel_end,
			 "entry 0x%x outside the kernel 0x%llx-0x%llx", r->entry,
			 (unsigned long long)r->kernel_gpa, (unsigned long long)r->kernel_end);
	}

	if (!in->initrd) {
		FZ_CHECK(r->initrd_gpa == 0 && r->initrd_size == 0, "initrd without input");
		return;
	}
	uint64_t ig = r->initrd_gpa, is = r->initrd_size;
	FZ_CHECK(is == in->initrd_len, "initrd size %llu, given %zu", (unsigned long long)is,
		 in->initrd_len);
	FZ_CHECK(ig >= LAYOUT_KERNEL && (ig & (GMEM_PAGE_SIZE - 1)) == 0, "initrd at 0x%llx",
		 (unsigned long long)ig);
	FZ_CHECK(ig + is <= GMEM_HOLE_START && gmem_is_ram(&l->gm, ig, is),
		 "initrd 0x%llx+%llu not in low RAM", (unsigned long long)ig,
		 (unsigned long long)is);
	FZ_CHECK(ig >= r->kernel_end || ig + is <= r->kernel_gpa,
		 "initrd 0x%llx+%llu overlaps the kernel 0x%llx-0x%llx", (unsigned long long)ig,
		 (unsigned long long)is, (unsigned long long)r->kernel_gpa,
		 (unsigned long long)r->kernel_end);
	if (r->kind == BOOT_BZIMAGE) {
		const uint8_t *k = in->kernel + 0x22c; /* initrd_addr_max, inside the checked header */
		uint64_t max = (uint64_t)k[0] | (uint64_t)k[1] << 8 | (uint64_t)k[2] << 16 |
			       (uint64_t)k[3] << 24;
		FZ_CHECK(is == 0 || ig + is - 1 <= max, "initrd ends above initrd_addr_max 0x%llx",
			 (unsigned long long)max);
	}
	if (is)
		check_copy(&l->gm, ig, in->initrd, is, "initrd");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[4] = {NULL, "k", "/boot/vmlinuz-fuzz", NULL};
	static const char *const initrd_names[4] = {NULL, "", "initrd.img", NULL};
	struct fz_in in = fz_init(data, size);
	struct boot_input bi;
	struct boot_result res;
	char err[256], *cmdline = NULL;
	size_t got;

	if (size < HDR_SIZE)
		return -1;
	uint8_t flags = fz_u8(&in), misc = fz_u8(&in);
	uint32_t initrd_len = fz_u32(&in);
	uint16_t cl_len = fz_u16(&in);
	struct layout *l = &layouts[flags >> 6];

	memset(&bi, 0, sizeof(bi));
	if (flags & 1) {
		bi.initrd = initrd_buf;
		bi.initrd_len = initrd_len % (INITRD_MAX + 1);
	}
	if (!(flags & 2)) {
		if (misc & 2) {
			bi.cmdline = long_cmdline + LAYOUT_CMDLINE_MAX - cl_len;
		} else {
			const uint8_t *p = fz_bytes(&in, cl_len & 0xff, &got);
			cmdline = malloc(got + 1); /* exact size: overreads are caught */
			FZ_CHECK(cmdline != NULL, "out of memory");
			memcpy(cmdline, p, got);
			cmdline[got] = '\0';
			bi.cmdline = cmdline;
		}
	}
	bi.kernel_name = ((flags >> 2) & 3) == 3 ? long_name : names[(flags >> 2) & 3];
	bi.initrd_name =
	    ((flags >> 4) & 3) == 3 ? long_initrd_name : initrd_names[(flags >> 4) & 3];
	bi.rsdp_gpa = (misc & 1) ? LAYOUT_ACPI_START : 0;
	bi.kernel = fz_rest(&in, &bi.kernel_len); /* the tail of libFuzzer's exact-size buffer */

	/* Start with clean dirty bits below 1 MiB so that stray writes show. */
	for (uint64_t pg = 0; pg < LAYOUT_KERNEL / GMEM_PAGE_SIZE; pg++)
		(void)gmem_test_and_clear_dirty(&l->gm, pg * GMEM_PAGE_SIZE);

	memset(err, 0x5a, sizeof(err));
	int ret = boot_load(&l->gm, &l->e820, &bi, &res, err, sizeof(err));

	FZ_CHECK(memchr(err, '\0', sizeof(err)) != NULL, "err is not NUL-terminated");
	if (verbose)
		fprintf(stderr, "boot_load: %d (%s) %s\n", ret, ret ? "error" : boot_kind_name(res.kind),
			ret ? err : "");
	if (ret == 0) {
		check_result(l, &bi, &res);
	} else {
		FZ_CHECK(ret == -EINVAL || ret == -ENOEXEC || ret == -E2BIG || ret == -ENOMEM,
			 "undocumented error %d (%s)", ret, err);
		FZ_CHECK(err[0] != '\0', "error %d without a message", ret);
	}
	for (uint64_t pg = 0; pg < LAYOUT_KERNEL / GMEM_PAGE_SIZE; pg++) {
		int dirty = gmem_test_and_clear_dirty(&l->gm, pg * GMEM_PAGE_SIZE);
		FZ_CHECK(!dirty || low_page_allowed(pg),
			 "boot_load wrote page 0x%llx below 1 MiB outside the loader areas (ret %d)",
			 (unsigned long long)(pg * GMEM_PAGE_SIZE), ret);
	}
	free(cmdline);
	return 0;
}
