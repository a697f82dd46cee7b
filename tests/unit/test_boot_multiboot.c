/* Multiboot v1 loader: ELF32 and a.out-kludge images, the information structure, and malformed
 * images (which must fail with a message, never crash or write outside RAM). */
#include "boot_test_util.h"

#include <errno.h>

#define MB_MAGIC 0x1BADB002u
#define MB_HDR 0x80    /* multiboot header offset in the ELF image */
#define PH0 0x34       /* first program header in the ELF32 image */
#define SEG_OFF 0x1000 /* file offset of the loaded segment */
#define SEG_PADDR 0x200000u
#define SEG_FILESZ 0x100u
#define SEG_MEMSZ 0x300u
#define ELF_LEN (SEG_OFF + SEG_FILESZ)

#define AOUT_HDR 0x40
#define AOUT_LOAD 0x300000u
#define AOUT_LEN 0x1800
#define IMG_MAX 0x4000

static uint8_t img[IMG_MAX];

static void mb_header(uint8_t *p, uint32_t flags)
{
	st32(p, MB_MAGIC);
	st32(p + 4, flags);
	st32(p + 8, (uint32_t)(0u - MB_MAGIC - flags));
}

/* ELF32 i386 executable, one PT_LOAD of SEG_FILESZ bytes (memsz SEG_MEMSZ) at SEG_PADDR. */
static size_t mk_elf32(uint32_t flags)
{
	memset(img, 0, sizeof(img));
	memcpy(img,
	       "\x7f"
	       "ELF",
	       4);
	img[4] = 1; /* ELFCLASS32 */
	img[5] = 1; /* little-endian */
	img[6] = 1;
	st16(img + 16, 2); /* ET_EXEC */
	st16(img + 18, 3); /* EM_386 */
	st32(img + 20, 1);
	st32(img + 24, SEG_PADDR + 0x10); /* e_entry */
	st32(img + 28, PH0);
	st16(img + 40, 52);
	st16(img + 42, 32);
	st16(img + 44, 1);
	uint8_t *ph = img + PH0;
	st32(ph, 1); /* PT_LOAD */
	st32(ph + 4, SEG_OFF);
	st32(ph + 8, SEG_PADDR);
	st32(ph + 12, SEG_PADDR);
	st32(ph + 16, SEG_FILESZ);
	st32(ph + 20, SEG_MEMSZ);
	st32(ph + 24, 5);
	st32(ph + 28, 0x1000);
	mb_header(img + MB_HDR, flags);
	fill_pattern(img + SEG_OFF, SEG_FILESZ, 1);
	return ELF_LEN;
}

/* Raw image with the a.out kludge: file [0, 0x1000) loads at AOUT_LOAD, bss to +0x2000. */
static size_t mk_aout(uint32_t flags)
{
	memset(img, 0, sizeof(img));
	fill_pattern(img, AOUT_LEN, 2);
	uint8_t *h = img + AOUT_HDR;
	mb_header(h, flags | (1u << 16));
	st32(h + 12, AOUT_LOAD + AOUT_HDR); /* header_addr */
	st32(h + 16, AOUT_LOAD);	    /* load_addr */
	st32(h + 20, AOUT_LOAD + 0x1000);   /* load_end_addr */
	st32(h + 24, AOUT_LOAD + 0x2000);   /* bss_end_addr */
	st32(h + 28, AOUT_LOAD + 0x80);	    /* entry_addr */
	return AOUT_LEN;
}

static const char *gstr(struct fake_vm *v, uint64_t gpa)
{
	return (const char *)gp(v, gpa, 1);
}

static void check_info(struct fake_vm *v, int with_module)
{
	uint64_t mbi = LAYOUT_BOOT_INFO;
	uint32_t flags = g32(v, mbi);
	uint32_t want = 1u | 4u | 64u | 512u | (with_module ? 8u : 0u);

	assert_int_equal(flags, want);
	assert_int_equal(g32(v, mbi + 4), 640);
	assert_int_equal(g32(v, mbi + 8), (TEST_RAM - MIB) / 1024);
	assert_int_equal(g32(v, mbi + 16), LAYOUT_CMDLINE);
	assert_string_equal(gstr(v, g32(v, mbi + 64)), "vmon");

	uint32_t mlen = g32(v, mbi + 44), maddr = g32(v, mbi + 48);
	assert_int_equal(mlen, v->e820.nr * 24);
	assert_true(maddr >= LAYOUT_BOOT_INFO && maddr + mlen <= LAYOUT_BOOT_INFO_END);
	for (unsigned i = 0; i < v->e820.nr; i++) {
		uint64_t e = maddr + 24ull * i;
		assert_int_equal(g32(v, e), 20);
		assert_int_equal(g64(v, e + 4), v->e820.entries[i].addr);
		assert_int_equal(g64(v, e + 12), v->e820.entries[i].size);
		assert_int_equal(g32(v, e + 20), v->e820.entries[i].type);
	}
}

static void check_entry32(struct fake_vm *v, uint32_t entry)
{
	const struct x86_cpu_state *s = &v->res.bsp;

	assert_int_equal(v->res.kind, BOOT_MULTIBOOT);
	assert_int_equal(v->res.entry, entry);
	assert_int_equal(s->rip, entry);
	assert_int_equal(s->gpr[X86_RAX], 0x2BADB002);
	assert_int_equal(s->gpr[X86_RBX], LAYOUT_BOOT_INFO);
	assert_true(s->cr0 & X86_CR0_PE);
	assert_false(s->cr0 & X86_CR0_PG);
	assert_int_equal(s->seg[X86_CS].db, 1);
	check_gdt(v, BOOT_GDT_CODE32);
}

static void test_mb_elf32(void **state)
{
	struct fake_vm *v = fake_vm_new(TEST_RAM);
	size_t len = mk_elf32(0x3);

	assert_int_equal(run_boot(v, img, len, NULL, 0, "console=ttyS0 quiet"), 0);
	assert_memory_equal(gp(v, SEG_PADDR, SEG_FILESZ), img + SEG_OFF, SEG_FILESZ);
	for (uint32_t i = SEG_FILESZ; i < SEG_MEMSZ; i++)
		assert_int_equal(gp(v, SEG_PADDR, SEG_MEMSZ)[i], 0);
	assert_int_equal(gp(v, SEG_PADDR + SEG_MEMSZ, 1)[0], 0xcc);
	assert_int_equal(v->res.kernel_gpa, SEG_PADDR);
	assert_int_equal(v->res.kernel_end, SEG_PADDR + SEG_MEMSZ);
	assert_int_equal(v->res.initrd_gpa, 0);
	assert_string_equal(gstr(v, LAYOUT_CMDLINE), "kernel.elf console=ttyS0 quiet");
	check_info(v, 0);
	check_entry32(v, SEG_PADDR + 0x10);
	/* The Linux-only extra (virtio_mmio.device=) is not given to a multiboot kernel. */
	assert_int_equal(run_boot_extra(v, img, len, NULL, 0, "quiet", "virtio_mmio.device=1@2:3"),
			 0);
	assert_string_equal(gstr(v, LAYOUT_CMDLINE), "kernel.elf quiet");
	fake_vm_free(v);
}

static void test_mb_elf32_initrd(void **state)
{
	struct fake_vm *v = fake_vm_new(TEST_RAM);
	size_t len = mk_elf32(0x1);
	static uint8_t initrd[10000];

	fill_pattern(initrd, sizeof(initrd), 9);
	assert_int_equal(run_boot(v, img, len, initrd, sizeof(initrd), NULL), 0);
	check_info(v, 1);
	assert_string_equal(gstr(v, LAYOUT_CMDLINE), "kernel.elf");
	uint64_t mods = g32(v, LAYOUT_BOOT_INFO + 24);
	assert_int_equal(g32(v, LAYOUT_BOOT_INFO + 20), 1);
	uint32_t start = g32(v, mods), end = g32(v, mods + 4);
	assert_int_equal(start, SEG_PADDR + 0x1000); /* page-aligned right after the kernel */
	assert_int_equal(end, start + sizeof(initrd));
	assert_string_equal(gstr(v, g32(v, mods + 8)), "initrd.img");
	assert_memory_equal(gp(v, start, sizeof(initrd)), initrd, sizeof(initrd));
	assert_int_equal(v->res.initrd_gpa, start);
	assert_int_equal(v->res.initrd_size, sizeof(initrd));
	fake_vm_free(v);
}

static void test_mb_elf32_virtual_entry(void **state)
{
	struct fake_vm *v = fake_vm_new(TEST_RAM);
	size_t len = mk_elf32(0);

	st32(img + PH0 + 8, 0xc0200000u);   /* p_vaddr: higher half */
	st32(img + 24, 0xc0200000u + 0x20); /* e_entry is virtual */
	assert_int_equal(run_boot(v, img, len, NULL, 0, ""), 0);
	check_entry32(v, SEG_PADDR + 0x20);

	st32(img + 24, 0xd0000000u); /* in no segment */
	assert_int_equal(run_boot(v, img, len, NULL, 0, ""), -ENOEXEC);
	assert_err_has(v, "entry point");
	fake_vm_free(v);
}

static void test_mb_aout(void **state)
{
	struct fake_vm *v = fake_vm_new(TEST_RAM);
	size_t len = mk_aout(0x2);

	assert_int_equal(run_boot(v, img, len, NULL, 0, "x"), 0);
	assert_memory_equal(gp(v, AOUT_LOAD, 0x1000), img, 0x1000);
	for (uint32_t i = 0; i < 0x1000; i++)
		assert_int_equal(gp(v, AOUT_LOAD + 0x1000, 0x1000)[i], 0);
	assert_int_equal(v->res.kernel_gpa, AOUT_LOAD);
	assert_int_equal(v->res.kernel_end, AOUT_LOAD + 0x2000);
	check_info(v, 0);
	check_entry32(v, AOUT_LOAD + 0x80);

	/* load_end_addr 0: load to the end of the file; bss_end 0: no bss. */
	fake_vm_free(v);
	v = fake_vm_new(TEST_RAM);
	len = mk_aout(0);
	st32(img + AOUT_HDR + 20, 0);
	st32(img + AOUT_HDR + 24, 0);
	assert_int_equal(run_boot(v, img, len, NULL, 0, "x"), 0);
	assert_memory_equal(gp(v, AOUT_LOAD, AOUT_LEN), img, AOUT_LEN);
	assert_int_equal(v->res.kernel_end, AOUT_LOAD + AOUT_LEN);
	assert_int_equal(gp(v, AOUT_LOAD + AOUT_LEN, 1)[0], 0xcc);
	fake_vm_free(v);
}

static void test_mb_aout_header_not_at_load_start(void **state)
{
	struct fake_vm *v = fake_vm_new(TEST_RAM);
	size_t len = mk_aout(0);

	/* header_addr - load_addr = 0x20 < offset 0x40: the text starts at file offset 0x20. */
	st32(img + AOUT_HDR + 12, AOUT_LOAD + 0x20);
	assert_int_equal(run_boot(v, img, len, NULL, 0, NULL), 0);
	assert_memory_equal(gp(v, AOUT_LOAD, 0x1000), img + 0x20, 0x1000);
	fake_vm_free(v);
}

static void test_mb_elf64_with_kludge(void **state)
{
	struct fake_vm *v = fake_vm_new(TEST_RAM);
	size_t len = mk_aout(0);

	memcpy(img,
	       "\x7f"
	       "ELF\x02\x01\x01",
	       7); /* an ELF64 whose header says "use the kludge" */
	st16(img + 16, 2);
	st16(img + 18, 62);
	assert_int_equal(run_boot(v, img, len, NULL, 0, NULL), 0);
	assert_memory_equal(gp(v, AOUT_LOAD, 0x1000), img, 0x1000);
	check_entry32(v, AOUT_LOAD + 0x80);
	fake_vm_free(v);
}

static void test_mb_elf64_rejected(void **state)
{
	struct fake_vm *v = fake_vm_new(TEST_RAM);
	size_t len = mk_elf32(0);

	img[4] = 2; /* ELFCLASS64; the 64-byte header fits in the image */
	assert_int_equal(run_boot(v, img, len, NULL, 0, NULL), -ENOEXEC);
	assert_err_has(v, "64-bit ELF multiboot images are not supported");
	fake_vm_free(v);
}

static void test_mb_bad_flags_and_checksum(void **state)
{
	struct fake_vm *v = fake_vm_new(TEST_RAM);
	size_t len = mk_elf32(0x8); /* bit 3: a requirement nobody defined */

	assert_int_equal(run_boot(v, img, len, NULL, 0, NULL), -ENOEXEC);
	assert_err_has(v, "unsupported");
	len = mk_elf32(0x4); /* video mode: ignored */
	assert_int_equal(run_boot(v, img, len, NULL, 0, NULL), 0);

	len = mk_elf32(0);
	st32(img + MB_HDR + 8, 0x12345678); /* bad checksum: not multiboot */
	assert_int_equal(run_boot(v, img, len, NULL, 0, NULL), -ENOEXEC);
	assert_err_has(v, "bad checksum");

	len = mk_elf32(0);
	st32(img + MB_HDR, 0x1BADB003); /* bad magic */
	assert_int_equal(run_boot(v, img, len, NULL, 0, NULL), -ENOEXEC);
	assert_err_has(v, "not a bzImage, multiboot or PVH ELF image");

	/* A header beyond the first 8192 bytes does not count. */
	memset(img, 0, sizeof(img));
	mb_header(img + 8192, 0x10000);
	assert_int_equal(run_boot(v, img, 8192 + 32, NULL, 0, NULL), -ENOEXEC);
	assert_err_has(v, "not a bzImage");

	/* Multiboot header, but neither ELF nor the kludge. */
	memset(img, 0, sizeof(img));
	mb_header(img + 4, 0);
	assert_int_equal(run_boot(v, img, 64, NULL, 0, NULL), -ENOEXEC);
	assert_err_has(v, "a.out kludge");
	fake_vm_free(v);
}

/* Patch one a.out field (index 3..7 = header_addr..entry_addr) and expect failure. */
static void aout_bad(struct fake_vm *v, unsigned field, uint32_t val, int err, const char *msg)
{
	size_t len = mk_aout(0);
	st32(img + AOUT_HDR + 4 * field, val);
	assert_int_equal(run_boot(v, img, len, NULL, 0, NULL), err);
	assert_err_has(v, msg);
}

static void test_mb_aout_malformed(void **state)
{
	struct fake_vm *v = fake_vm_new(TEST_RAM);

	aout_bad(v, 4, AOUT_LOAD + AOUT_HDR + 4, -ENOEXEC, "above header_addr");
	aout_bad(v, 3, AOUT_LOAD + 0x1000, -ENOEXEC, "before the start of the file");
	aout_bad(v, 3, 0xffffffffu, -ENOEXEC, "before the start of the file");
	aout_bad(v, 5, AOUT_LOAD, -ENOEXEC, "load_end_addr");
	aout_bad(v, 5, AOUT_LOAD + AOUT_LEN + 4, -ENOEXEC, "past the end of the file");
	aout_bad(v, 5, 0xffffffffu, -ENOEXEC, "past the end of the file");
	aout_bad(v, 6, AOUT_LOAD + 0x800, -ENOEXEC, "bss_end_addr");
	aout_bad(v, 6, 0xffffffffu, -ENOMEM, "outside guest RAM");
	aout_bad(v, 7, AOUT_LOAD + 0x1000, -ENOEXEC, "entry_addr");
	aout_bad(v, 7, AOUT_LOAD - 1, -ENOEXEC, "entry_addr");

	/* Loading below 1 MiB would overwrite the boot structures. */
	size_t len = mk_aout(0);
	st32(img + AOUT_HDR + 12, 0x8000 + AOUT_HDR);
	st32(img + AOUT_HDR + 16, 0x8000);
	st32(img + AOUT_HDR + 20, 0x9000);
	st32(img + AOUT_HDR + 24, 0);
	st32(img + AOUT_HDR + 28, 0x8080);
	assert_int_equal(run_boot(v, img, len, NULL, 0, NULL), -ENOEXEC);
	assert_err_has(v, "below 1 MiB");

	/* Beyond the 64 MiB of RAM. */
	len = mk_aout(0);
	st32(img + AOUT_HDR + 12, 0x8000000 + AOUT_HDR);
	st32(img + AOUT_HDR + 16, 0x8000000);
	st32(img + AOUT_HDR + 20, 0x8001000);
	st32(img + AOUT_HDR + 24, 0);
	st32(img + AOUT_HDR + 28, 0x8000080);
	assert_int_equal(run_boot(v, img, len, NULL, 0, NULL), -ENOMEM);
	assert_err_has(v, "outside guest RAM");

	/* Kludge header cut short by the end of the file. */
	memset(img, 0, sizeof(img));
	mb_header(img + 8, 0x10000);
	assert_int_equal(run_boot(v, img, 24, NULL, 0, NULL), -ENOEXEC);
	assert_err_has(v, "truncated");
	fake_vm_free(v);
}

static void test_mb_elf_malformed(void **state)
{
	struct fake_vm *v = fake_vm_new(TEST_RAM);
	size_t len;

	len = mk_elf32(0);
	st32(img + PH0 + 12, 0x8000); /* p_paddr below 1 MiB */
	assert_int_equal(run_boot(v, img, len, NULL, 0, NULL), -ENOEXEC);
	assert_err_has(v, "below 1 MiB");

	len = mk_elf32(0);
	st32(img + PH0 + 12, 0x3ffff00); /* runs past the end of RAM */
	assert_int_equal(run_boot(v, img, len, NULL, 0, NULL), -ENOMEM);
	assert_err_has(v, "outside guest RAM");

	len = mk_elf32(0);
	st32(img + PH0 + 12, 0xfffff000u);
	st32(img + PH0 + 20, 0xffffffffu); /* huge memsz */
	assert_int_equal(run_boot(v, img, len, NULL, 0, NULL), -ENOMEM);

	len = mk_elf32(0);
	st32(img + PH0 + 16, SEG_MEMSZ + 1); /* filesz > memsz */
	assert_int_equal(run_boot(v, img, len, NULL, 0, NULL), -ENOEXEC);
	assert_err_has(v, "p_filesz > p_memsz");

	len = mk_elf32(0);
	st32(img + PH0 + 4, 0xffffff00u); /* p_offset + filesz wraps */
	assert_int_equal(run_boot(v, img, len, NULL, 0, NULL), -ENOEXEC);
	assert_err_has(v, "past the end of the file");

	len = mk_elf32(0);
	st32(img + PH0 + 4, ELF_LEN - 0x10); /* segment runs past EOF */
	assert_int_equal(run_boot(v, img, len, NULL, 0, NULL), -ENOEXEC);
	assert_err_has(v, "past the end of the file");

	len = mk_elf32(0);
	st16(img + 44, 0xffff); /* phnum * phentsize past EOF */
	assert_int_equal(run_boot(v, img, len, NULL, 0, NULL), -ENOEXEC);
	assert_err_has(v, "program headers");

	len = mk_elf32(0);
	st32(img + 28, 0xfffffff0u); /* e_phoff huge */
	assert_int_equal(run_boot(v, img, len, NULL, 0, NULL), -ENOEXEC);
	assert_err_has(v, "program headers");

	len = mk_elf32(0);
	st16(img + 42, 16); /* phentsize too small */
	assert_int_equal(run_boot(v, img, len, NULL, 0, NULL), -ENOEXEC);

	len = mk_elf32(0);
	st16(img + 44, 0); /* no program headers */
	assert_int_equal(run_boot(v, img, len, NULL, 0, NULL), -ENOEXEC);

	len = mk_elf32(0);
	st32(img + PH0, 6); /* no PT_LOAD at all */
	assert_int_equal(run_boot(v, img, len, NULL, 0, NULL), -ENOEXEC);
	assert_err_has(v, "no loadable segments");

	len = mk_elf32(0);
	st16(img + 18, 40); /* EM_ARM */
	assert_int_equal(run_boot(v, img, len, NULL, 0, NULL), -ENOEXEC);
	assert_err_has(v, "not i386");

	/* ELF header truncated (multiboot header inside the first 48 bytes). */
	len = mk_elf32(0);
	mb_header(img + 0x20, 0);
	assert_int_equal(run_boot(v, img, 48, NULL, 0, NULL), -ENOEXEC);
	assert_err_has(v, "ELF header truncated");
	fake_vm_free(v);
}

static void test_mb_limits(void **state)
{
	struct fake_vm *v = fake_vm_new(TEST_RAM);
	size_t len = mk_elf32(0);
	char *cl = malloc(LAYOUT_CMDLINE_MAX);
	uint8_t *big = calloc(1, 70 * MIB);

	memset(cl, 'a', LAYOUT_CMDLINE_MAX - 1);
	cl[LAYOUT_CMDLINE_MAX - 1] = '\0';
	assert_int_equal(run_boot(v, img, len, NULL, 0, cl), -E2BIG);
	assert_err_has(v, "cmdline");
	/* "kernel.elf " + cmdline must fit in LAYOUT_CMDLINE_MAX - 1 bytes. */
	cl[LAYOUT_CMDLINE_MAX - 1 - strlen("kernel.elf ")] = '\0';
	assert_int_equal(run_boot(v, img, len, NULL, 0, cl), 0);

	assert_int_equal(run_boot(v, img, len, big, 70 * MIB, NULL), -ENOMEM);
	assert_err_has(v, "initrd: 70 MiB does not fit");

	/* A module name too long for the boot information area. */
	struct boot_input in = {
	    .kernel = img, .kernel_len = len, .initrd = big, .initrd_len = 16, .initrd_name = cl};
	assert_int_equal(boot_load(&v->gm, &v->e820, &in, &v->res, v->err, sizeof(v->err)), -E2BIG);
	assert_err_has(v, "initrd name");
	free(big);
	free(cl);
	fake_vm_free(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_mb_elf32),
	    cmocka_unit_test(test_mb_elf32_initrd),
	    cmocka_unit_test(test_mb_elf32_virtual_entry),
	    cmocka_unit_test(test_mb_aout),
	    cmocka_unit_test(test_mb_aout_header_not_at_load_start),
	    cmocka_unit_test(test_mb_elf64_with_kludge),
	    cmocka_unit_test(test_mb_elf64_rejected),
	    cmocka_unit_test(test_mb_bad_flags_and_checksum),
	    cmocka_unit_test(test_mb_aout_malformed),
	    cmocka_unit_test(test_mb_elf_malformed),
	    cmocka_unit_test(test_mb_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
