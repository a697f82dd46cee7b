/* bzImage loader: 64-bit boot protocol, zero page fields, initrd placement, page tables, entry
 * state, and malformed or unsupported headers. */
#include "boot_test_util.h"

#include <errno.h>

#define SETUP_LEN (5 * 512) /* setup_sects 4 */
#define PAYLOAD 0x3000
#define BZ_LEN (SETUP_LEN + PAYLOAD)
#define PREF 0x1000000ull
#define INIT_SIZE 0x800000ull
#define KEND (PREF + INIT_SIZE)

static uint8_t img[0x30000];

static size_t mk_bz(void)
{
	memset(img, 0, sizeof(img));
	memset(img + 0x268, 0x5a, 0x100); /* past the header: must not reach the zero page */
	img[0x1f1] = 4;
	st16(img + 0x1fe, 0xAA55);
	img[0x200] = 0xeb;
	img[0x201] = 0x66; /* header ends at 0x268 */
	memcpy(img + 0x202, "HdrS", 4);
	st16(img + 0x206, 0x020f);
	img[0x211] = 0x01;	       /* LOADED_HIGH */
	st32(img + 0x22c, 0x7fffffff); /* initrd_addr_max */
	st32(img + 0x230, 0x200000);   /* kernel_alignment */
	img[0x234] = 1;		       /* relocatable */
	st16(img + 0x236, 0x3);	       /* XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G */
	st32(img + 0x238, 2047);       /* cmdline_size */
	st64(img + 0x250, 0xdeadbeef); /* setup_data: we pass none */
	st64(img + 0x258, PREF);       /* pref_address */
	st32(img + 0x260, (uint32_t)INIT_SIZE);
	fill_pattern(img + SETUP_LEN, PAYLOAD, 7);
	return BZ_LEN;
}

static const uint8_t *zp(struct fake_vm *v)
{
	return gp(v, LAYOUT_ZERO_PAGE, 4096);
}

static void check_page_tables(struct fake_vm *v)
{
	assert_int_equal(g64(v, LAYOUT_PML4), LAYOUT_PDPT | 3);
	for (unsigned i = 1; i < 512; i++)
		assert_int_equal(g64(v, LAYOUT_PML4 + 8 * i), 0);
	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(g64(v, LAYOUT_PDPT + 8 * i), (LAYOUT_PD + 4096 * i) | 3);
	assert_int_equal(g64(v, LAYOUT_PDPT + 32), 0);
	for (unsigned i = 0; i < 2048; i++)
		assert_int_equal(g64(v, LAYOUT_PD + 8 * i), ((uint64_t)i << 21) | 0x83);
}

static void check_bz(struct fake_vm *v)
{
	const uint8_t *z = zp(v);
	const struct x86_cpu_state *s = &v->res.bsp;

	assert_int_equal(v->res.kind, BOOT_BZIMAGE);
	assert_memory_equal(gp(v, LAYOUT_KERNEL, PAYLOAD), img + SETUP_LEN, PAYLOAD);
	assert_int_equal(v->res.kernel_gpa, LAYOUT_KERNEL);
	assert_int_equal(v->res.kernel_end, KEND);

	/* Copied from the file. */
	assert_int_equal(z[0x1f1], img[0x1f1]);
	assert_int_equal(ld16(z + 0x1fe), 0xAA55);
	assert_memory_equal(z + 0x202, "HdrS", 4);
	assert_int_equal(ld16(z + 0x206), ld16(img + 0x206));
	assert_int_equal(ld16(z + 0x236), 0x3);
	assert_int_equal(ld32(z + 0x260), INIT_SIZE);
	assert_int_equal(ld64(z + 0x258), PREF);
	/* Written by the loader. */
	assert_int_equal(ld16(z + 0x1fa), 0xffff);
	assert_int_equal(z[0x210], 0xff);
	assert_int_equal(z[0x211], 0x81);
	assert_int_equal(ld16(z + 0x224), 0xfe00);
	assert_int_equal(ld32(z + 0x228), LAYOUT_CMDLINE);
	assert_int_equal(ld32(z + 0x0c8), 0);
	assert_int_equal(ld64(z + 0x250), 0);
	assert_int_equal(ld32(z + 0x218), (uint32_t)v->res.initrd_gpa);
	assert_int_equal(ld32(z + 0x21c), (uint32_t)v->res.initrd_size);
	assert_int_equal(ld32(z + 0x0c0), 0);
	assert_int_equal(ld32(z + 0x0c4), 0);
	/* Past the header length (0x268) nothing from the file. */
	for (unsigned i = 0x268; i < 0x290; i++)
		assert_int_equal(z[i], 0);
	/* e820. */
	assert_int_equal(z[0x1e8], v->e820.nr);
	for (unsigned i = 0; i < v->e820.nr; i++) {
		const uint8_t *e = z + 0x2d0 + 20 * i;
		assert_int_equal(ld64(e), v->e820.entries[i].addr);
		assert_int_equal(ld64(e + 8), v->e820.entries[i].size);
		assert_int_equal(ld32(e + 16), v->e820.entries[i].type);
	}
	assert_int_equal(z[0x2d0 + 20 * v->e820.nr], 0);

	check_page_tables(v);
	assert_int_equal(v->res.entry, LAYOUT_KERNEL + 0x200);
	assert_int_equal(s->rip, LAYOUT_KERNEL + 0x200);
	assert_int_equal(s->gpr[X86_RSI], LAYOUT_ZERO_PAGE);
	assert_int_equal(s->cr3, LAYOUT_PML4);
	assert_true(s->cr0 & X86_CR0_PG);
	assert_true(s->cr4 & X86_CR4_PAE);
	assert_int_equal(s->efer & (X86_EFER_LME | X86_EFER_LMA), X86_EFER_LME | X86_EFER_LMA);
	assert_int_equal(s->seg[X86_CS].l, 1);
	assert_false(s->rflags & X86_RFLAGS_IF);
	check_gdt(v, BOOT_GDT_CODE64);
}

static void test_bz_basic(void **state)
{
	struct fake_vm *v = fake_vm_new(TEST_RAM);

	assert_int_equal(run_boot(v, img, mk_bz(), NULL, 0, "console=ttyS0 root=/dev/vda"), 0);
	check_bz(v);
	assert_string_equal((const char *)gp(v, LAYOUT_CMDLINE, 28), "console=ttyS0 root=/dev/vda");
	assert_int_equal(v->res.cmdline_gpa, LAYOUT_CMDLINE);
	assert_int_equal(ld64(zp(v) + 0x070), LAYOUT_ACPI_START);
	assert_int_equal(v->res.initrd_gpa, 0);
	fake_vm_free(v);
}

static void test_bz_setup_sects_zero(void **state)
{
	struct fake_vm *v = fake_vm_new(TEST_RAM);
	size_t len = mk_bz();

	img[0x1f1] = 0; /* means 4 */
	assert_int_equal(run_boot(v, img, len, NULL, 0, NULL), 0);
	check_bz(v);
	fake_vm_free(v);
}

static void test_bz_initrd(void **state)
{
	struct fake_vm *v = fake_vm_new(TEST_RAM);
	static uint8_t initrd[5 * 4096 + 3];
	size_t len = mk_bz();

	fill_pattern(initrd, sizeof(initrd), 13);
	assert_int_equal(run_boot(v, img, len, initrd, sizeof(initrd), NULL), 0);
	check_bz(v);
	assert_int_equal(v->res.initrd_gpa, (TEST_RAM - sizeof(initrd)) & ~4095ull);
	assert_int_equal(v->res.initrd_size, sizeof(initrd));
	assert_memory_equal(gp(v, v->res.initrd_gpa, sizeof(initrd)), initrd, sizeof(initrd));

	/* initrd_addr_max below the end of RAM caps the placement. */
	len = mk_bz();
	st32(img + 0x22c, 0x1ffffff);
	assert_int_equal(run_boot(v, img, len, initrd, sizeof(initrd), NULL), 0);
	assert_int_equal(v->res.initrd_gpa, (0x2000000 - sizeof(initrd)) & ~4095ull);
	assert_int_equal(ld32(zp(v) + 0x218), v->res.initrd_gpa);
	assert_int_equal(ld32(zp(v) + 0x21c), sizeof(initrd));

	/* initrd_addr_max below the kernel's init_size area: nowhere to go. */
	len = mk_bz();
	st32(img + 0x22c, (uint32_t)KEND - 1);
	assert_int_equal(run_boot(v, img, len, initrd, sizeof(initrd), NULL), -ENOMEM);
	assert_err_has(v, "initrd: 21 KiB does not fit below 0x17fffff in 64 MiB of RAM");
	fake_vm_free(v);
}

static void test_bz_initrd_too_big(void **state)
{
	struct fake_vm *v = fake_vm_new(TEST_RAM);
	size_t len = mk_bz(), room = TEST_RAM - KEND;
	uint8_t *big = calloc(1, 48 * MIB);

	assert_int_equal(run_boot(v, img, len, big, 48 * MIB, NULL), -ENOMEM);
	assert_err_has(v, "initrd: 48 MiB does not fit below 0x3ffffff in 64 MiB of RAM");
	assert_int_equal(run_boot(v, img, len, big, room + 1, NULL), -ENOMEM);
	assert_int_equal(run_boot(v, img, len, big, room, NULL), 0);
	assert_int_equal(v->res.initrd_gpa, KEND);
	free(big);
	fake_vm_free(v);
}

static void test_bz_cmdline_size(void **state)
{
	struct fake_vm *v = fake_vm_new(TEST_RAM);
	size_t len = mk_bz();

	st32(img + 0x238, 16);
	assert_int_equal(run_boot(v, img, len, NULL, 0, "0123456789abcdef"), 0);
	assert_int_equal(run_boot(v, img, len, NULL, 0, "0123456789abcdefg"), -E2BIG);
	assert_err_has(v, "cmdline: 17 bytes is longer than the limit of 16");
	fake_vm_free(v);
}

/* The machine's virtio_mmio.device= list follows the user's command line and counts against the
 * kernel's limit. */
static void test_bz_cmdline_extra(void **state)
{
	struct fake_vm *v = fake_vm_new(TEST_RAM);
	size_t len = mk_bz();
	const char *extra = "virtio_mmio.device=512@0xd0000000:16";

	assert_int_equal(run_boot_extra(v, img, len, NULL, 0, "console=ttyS0", extra), 0);
	assert_string_equal((const char *)gp(v, LAYOUT_CMDLINE, 64),
			    "console=ttyS0 virtio_mmio.device=512@0xd0000000:16");
	assert_int_equal(run_boot_extra(v, img, len, NULL, 0, NULL, extra), 0);
	assert_string_equal((const char *)gp(v, LAYOUT_CMDLINE, 64), extra);
	assert_int_equal(run_boot_extra(v, img, len, NULL, 0, "quiet", ""), 0);
	assert_string_equal((const char *)gp(v, LAYOUT_CMDLINE, 64), "quiet");
	st32(img + 0x238, 16);
	assert_int_equal(run_boot_extra(v, img, len, NULL, 0, "0123456", "89abcdef"), 0);
	assert_string_equal((const char *)gp(v, LAYOUT_CMDLINE, 64), "0123456 89abcdef");
	assert_int_equal(run_boot_extra(v, img, len, NULL, 0, "0123456", "89abcdefg"), -E2BIG);
	assert_err_has(v, "cmdline: 17 bytes is longer than the limit of 16");
	fake_vm_free(v);
}

static void test_bz_protocol(void **state)
{
	struct fake_vm *v = fake_vm_new(TEST_RAM);
	size_t len;

	len = mk_bz();
	st16(img + 0x236, 0x2); /* no XLF_KERNEL_64 */
	assert_int_equal(run_boot(v, img, len, NULL, 0, NULL), -ENOEXEC);
	assert_err_has(v, "XLF_KERNEL_64");

	len = mk_bz();
	st16(img + 0x206, 0x0202);
	assert_int_equal(run_boot(v, img, len, NULL, 0, NULL), -ENOEXEC);
	assert_err_has(v, "boot protocol 2.02 is too old");

	len = mk_bz();
	st16(img + 0x206, 0x020c); /* 2.12: no acpi_rsdp_addr */
	assert_int_equal(run_boot(v, img, len, NULL, 0, NULL), 0);
	assert_int_equal(ld64(zp(v) + 0x070), 0);

	len = mk_bz();
	img[0x211] = 0; /* zImage */
	assert_int_equal(run_boot(v, img, len, NULL, 0, NULL), -ENOEXEC);
	assert_err_has(v, "zImage");
	fake_vm_free(v);
}

static void test_bz_truncated(void **state)
{
	struct fake_vm *v = fake_vm_new(TEST_RAM);
	size_t len;

	mk_bz();
	assert_int_equal(run_boot(v, img, 0x206, NULL, 0, NULL), -ENOEXEC);
	assert_err_has(v, "bzImage setup header truncated");
	assert_int_equal(run_boot(v, img, 0x240, NULL, 0, NULL), -ENOEXEC);
	assert_err_has(v, "bzImage setup header truncated");

	len = mk_bz();
	img[0x201] = 0x50; /* header claims to end before init_size */
	assert_int_equal(run_boot(v, img, len, NULL, 0, NULL), -ENOEXEC);
	assert_err_has(v, "bzImage setup header truncated");

	len = mk_bz();
	img[0x1f1] = 255; /* setup larger than the file */
	assert_int_equal(run_boot(v, img, len, NULL, 0, NULL), -ENOEXEC);
	assert_err_has(v, "truncated");
	/* Setup exactly the whole file: no protected-mode code. */
	mk_bz();
	assert_int_equal(run_boot(v, img, SETUP_LEN, NULL, 0, NULL), -ENOEXEC);
	fake_vm_free(v);
}

static void test_bz_header_clamp(void **state)
{
	struct fake_vm *v = fake_vm_new(TEST_RAM);
	size_t len = mk_bz();

	img[0x201] = 0xff; /* header "ends" at 0x301: copy stops at 0x290 */
	assert_int_equal(run_boot(v, img, len, NULL, 0, NULL), 0);
	assert_int_equal(zp(v)[0x28f], 0x5a);
	for (unsigned i = 0x290; i < 0x2d0; i++)
		assert_int_equal(zp(v)[i], 0);
	fake_vm_free(v);
}

static void test_bz_kernel_extent(void **state)
{
	struct fake_vm *v = fake_vm_new(TEST_RAM);
	size_t len;

	len = mk_bz();
	st32(img + 0x260, 0xffffffffu); /* init_size beyond RAM */
	assert_int_equal(run_boot(v, img, len, NULL, 0, NULL), -ENOMEM);
	assert_err_has(v, "needs RAM");

	len = mk_bz();
	st64(img + 0x258, 0xffffffffffff0000ull); /* pref_address + alignment overflows */
	assert_int_equal(run_boot(v, img, len, NULL, 0, NULL), -ENOEXEC);
	assert_err_has(v, "overflows");

	len = mk_bz();
	st64(img + 0x258, 0xffffffffffe00000ull); /* aligned, but + init_size wraps */
	assert_int_equal(run_boot(v, img, len, NULL, 0, NULL), -ENOEXEC);
	assert_err_has(v, "overflows");

	len = mk_bz();
	st32(img + 0x230, 3);
	assert_int_equal(run_boot(v, img, len, NULL, 0, NULL), -ENOEXEC);
	assert_err_has(v, "power of 2");

	len = mk_bz();
	img[0x234] = 0; /* not relocatable: runs at pref_address */
	st64(img + 0x258, 0x8000);
	assert_int_equal(run_boot(v, img, len, NULL, 0, NULL), -ENOEXEC);
	assert_err_has(v, "below 1 MiB");
	st64(img + 0x258, 0);
	assert_int_equal(run_boot(v, img, len, NULL, 0, NULL), 0);
	assert_int_equal(v->res.kernel_end, LAYOUT_KERNEL + INIT_SIZE);
	fake_vm_free(v);

	/* 16 MiB of RAM cannot hold a kernel that runs at 16 MiB. */
	v = fake_vm_new(16 * MIB);
	assert_int_equal(run_boot(v, img, mk_bz(), NULL, 0, NULL), -ENOMEM);
	assert_err_has(v, "low RAM ends at 0x1000000");
	fake_vm_free(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bz_basic),	    cmocka_unit_test(test_bz_setup_sects_zero),
	    cmocka_unit_test(test_bz_initrd),	    cmocka_unit_test(test_bz_initrd_too_big),
	    cmocka_unit_test(test_bz_cmdline_size), cmocka_unit_test(test_bz_cmdline_extra),
	    cmocka_unit_test(test_bz_protocol),	    cmocka_unit_test(test_bz_truncated),
	    cmocka_unit_test(test_bz_header_clamp), cmocka_unit_test(test_bz_kernel_extent),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
