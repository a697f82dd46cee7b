/* PVH loader: ELF64/ELF32 with a Xen PHYS32_ENTRY note, hvm_start_info v1, module placement, and
 * malformed notes and segments. */
#include "boot_test_util.h"

#include <errno.h>

#define SEG_OFF 0x1000
#define SEG_PADDR 0x1000000ull
#define SEG_VADDR 0xffffffff81000000ull
#define SEG_FILESZ 0x200
#define SEG_MEMSZ 0x1000
#define PVH_ENTRY (SEG_PADDR + 0x100)
#define NOTE_OFF 0x200
#define XEN_NOTE (NOTE_OFF + 32) /* after a 32-byte GNU build-id style note */
#define IMG_LEN (SEG_OFF + SEG_FILESZ)

static uint8_t img[0x2000];

static void put_notes(unsigned descsz)
{
	uint8_t *n = img + NOTE_OFF;
	st32(n, 4);
	st32(n + 4, 16);
	st32(n + 8, 3);
	memcpy(n + 12, "GNU", 4);
	fill_pattern(n + 16, 16, 5);
	n = img + XEN_NOTE;
	st32(n, 4);
	st32(n + 4, descsz);
	st32(n + 8, 18);
	memcpy(n + 12, "Xen", 4);
	if (descsz == 8)
		st64(n + 16, PVH_ENTRY);
	else
		st32(n + 16, (uint32_t)PVH_ENTRY);
}

/* ELF64 x86-64: PT_LOAD at SEG_PADDR (virtual SEG_VADDR) and a PT_NOTE with the Xen note. */
static size_t mk_pvh64(void)
{
	memset(img, 0, sizeof(img));
	memcpy(img,
	       "\x7f"
	       "ELF\x02\x01\x01",
	       7);
	st16(img + 16, 2);
	st16(img + 18, 62);
	st32(img + 20, 1);
	st64(img + 24, SEG_VADDR);
	st64(img + 32, 64);
	st16(img + 52, 64);
	st16(img + 54, 56);
	st16(img + 56, 2);
	uint8_t *ph = img + 64;
	st32(ph, 1);
	st64(ph + 8, SEG_OFF);
	st64(ph + 16, SEG_VADDR);
	st64(ph + 24, SEG_PADDR);
	st64(ph + 32, SEG_FILESZ);
	st64(ph + 40, SEG_MEMSZ);
	ph += 56;
	st32(ph, 4);
	st64(ph + 8, NOTE_OFF);
	st64(ph + 32, 32 + 24);
	st64(ph + 40, 32 + 24);
	put_notes(8);
	fill_pattern(img + SEG_OFF, SEG_FILESZ, 3);
	return IMG_LEN;
}

#define PH64_NOTE (64 + 56)

/* The same as ELF32 i386 with a 4-byte note value. */
static size_t mk_pvh32(void)
{
	memset(img, 0, sizeof(img));
	memcpy(img,
	       "\x7f"
	       "ELF\x01\x01\x01",
	       7);
	st16(img + 16, 2);
	st16(img + 18, 3);
	st32(img + 20, 1);
	st32(img + 24, (uint32_t)PVH_ENTRY);
	st32(img + 28, 52);
	st16(img + 40, 52);
	st16(img + 42, 32);
	st16(img + 44, 2);
	uint8_t *ph = img + 52;
	st32(ph, 1);
	st32(ph + 4, SEG_OFF);
	st32(ph + 8, (uint32_t)SEG_PADDR);
	st32(ph + 12, (uint32_t)SEG_PADDR);
	st32(ph + 16, SEG_FILESZ);
	st32(ph + 20, SEG_MEMSZ);
	ph += 32;
	st32(ph, 4);
	st32(ph + 4, NOTE_OFF);
	st32(ph + 16, 32 + 20);
	st32(ph + 20, 32 + 20);
	put_notes(4);
	fill_pattern(img + SEG_OFF, SEG_FILESZ, 4);
	return IMG_LEN;
}

static void check_pvh(struct fake_vm *v, unsigned nr_modules)
{
	const uint64_t si = LAYOUT_BOOT_INFO;
	const struct x86_cpu_state *s = &v->res.bsp;

	assert_int_equal(v->res.kind, BOOT_PVH);
	assert_memory_equal(gp(v, SEG_PADDR, SEG_FILESZ), img + SEG_OFF, SEG_FILESZ);
	for (unsigned i = SEG_FILESZ; i < SEG_MEMSZ; i++)
		assert_int_equal(gp(v, SEG_PADDR, SEG_MEMSZ)[i], 0);
	assert_int_equal(v->res.kernel_gpa, SEG_PADDR);
	assert_int_equal(v->res.kernel_end, SEG_PADDR + SEG_MEMSZ);

	assert_int_equal(g32(v, si + 0), 0x336ec578);
	assert_int_equal(g32(v, si + 4), 1);
	assert_int_equal(g32(v, si + 8), 0);
	assert_int_equal(g32(v, si + 12), nr_modules);
	assert_int_equal(g64(v, si + 24), LAYOUT_CMDLINE);
	assert_int_equal(g64(v, si + 32), LAYOUT_ACPI_START);
	uint64_t map = g64(v, si + 40);
	uint32_t nr = g32(v, si + 48);
	assert_int_equal(nr, v->e820.nr);
	assert_true(map >= si + 56 && map + 24ull * nr <= LAYOUT_BOOT_INFO_END);
	for (unsigned i = 0; i < nr; i++) {
		assert_int_equal(g64(v, map + 24 * i), v->e820.entries[i].addr);
		assert_int_equal(g64(v, map + 24 * i + 8), v->e820.entries[i].size);
		assert_int_equal(g32(v, map + 24 * i + 16), v->e820.entries[i].type);
		assert_int_equal(g32(v, map + 24 * i + 20), 0);
	}

	assert_int_equal(v->res.entry, PVH_ENTRY);
	assert_int_equal(s->rip, PVH_ENTRY);
	assert_int_equal(s->gpr[X86_RBX], LAYOUT_BOOT_INFO);
	assert_true(s->cr0 & X86_CR0_PE);
	assert_false(s->cr0 & X86_CR0_PG);
	assert_int_equal(s->efer, 0);
	assert_false(s->rflags & X86_RFLAGS_IF);
	check_gdt(v, BOOT_GDT_CODE32);
}

static void test_pvh_elf64(void **state)
{
	struct fake_vm *v = fake_vm_new(TEST_RAM);
	size_t len = mk_pvh64();

	assert_int_equal(run_boot(v, img, len, NULL, 0, "console=hvc0"), 0);
	check_pvh(v, 0);
	assert_int_equal(g64(v, LAYOUT_BOOT_INFO + 16), 0);
	assert_string_equal((const char *)gp(v, LAYOUT_CMDLINE, 13), "console=hvc0");
	assert_int_equal(v->res.cmdline_gpa, LAYOUT_CMDLINE);
	/* A PVH kernel is a Linux format: the machine's extra follows the command line. */
	assert_int_equal(run_boot_extra(v, img, len, NULL, 0, "console=hvc0", "virtio_mmio.x=1"),
			 0);
	assert_string_equal((const char *)gp(v, LAYOUT_CMDLINE, 29),
			    "console=hvc0 virtio_mmio.x=1");
	fake_vm_free(v);
}

static void test_pvh_elf64_initrd(void **state)
{
	struct fake_vm *v = fake_vm_new(TEST_RAM);
	size_t len = mk_pvh64();
	static uint8_t initrd[3 * 4096 + 17];
	uint64_t want = (TEST_RAM - sizeof(initrd)) & ~4095ull;

	fill_pattern(initrd, sizeof(initrd), 11);
	assert_int_equal(run_boot(v, img, len, initrd, sizeof(initrd), NULL), 0);
	check_pvh(v, 1);
	assert_int_equal(v->res.initrd_gpa, want);
	assert_int_equal(v->res.initrd_size, sizeof(initrd));
	assert_memory_equal(gp(v, want, sizeof(initrd)), initrd, sizeof(initrd));
	uint64_t mods = g64(v, LAYOUT_BOOT_INFO + 16);
	assert_true(mods >= LAYOUT_BOOT_INFO && mods + 32 <= LAYOUT_BOOT_INFO_END);
	assert_int_equal(g64(v, mods), want);
	assert_int_equal(g64(v, mods + 8), sizeof(initrd));
	assert_string_equal((const char *)gp(v, g64(v, mods + 16), 11), "initrd.img");
	assert_int_equal(g64(v, mods + 24), 0);
	assert_string_equal((const char *)gp(v, LAYOUT_CMDLINE, 1), "");
	fake_vm_free(v);
}

static void test_pvh_elf32(void **state)
{
	struct fake_vm *v = fake_vm_new(TEST_RAM);
	size_t len = mk_pvh32();

	assert_int_equal(run_boot(v, img, len, NULL, 0, NULL), 0);
	check_pvh(v, 0);
	fake_vm_free(v);
}

static void test_pvh_initrd_fit(void **state)
{
	struct fake_vm *v = fake_vm_new(TEST_RAM);
	size_t len = mk_pvh64();
	size_t room = TEST_RAM - (SEG_PADDR + SEG_MEMSZ);
	uint8_t *big = calloc(1, room + 1);

	/* Exactly the room between the kernel and the end of RAM: fits, right after the kernel. */
	assert_int_equal(run_boot(v, img, len, big, room, NULL), 0);
	assert_int_equal(v->res.initrd_gpa, SEG_PADDR + SEG_MEMSZ);
	/* One byte more would overlap the kernel. */
	assert_int_equal(run_boot(v, img, len, big, room + 1, NULL), -ENOMEM);
	assert_err_has(v, "initrd: 48 MiB does not fit below 0x3ffffff in 64 MiB of RAM");
	free(big);
	fake_vm_free(v);
}

static void pvh_bad(struct fake_vm *v, int err, const char *msg)
{
	assert_int_equal(run_boot(v, img, IMG_LEN, NULL, 0, NULL), err);
	assert_err_has(v, msg);
}

static void test_pvh_bad_notes(void **state)
{
	struct fake_vm *v = fake_vm_new(TEST_RAM);

	mk_pvh64();
	st32(img + NOTE_OFF, 0xffffffffu); /* namesz overflows when padded */
	pvh_bad(v, -ENOEXEC, "overruns");
	mk_pvh64();
	st32(img + NOTE_OFF + 4, 0xfffffffdu); /* descsz */
	pvh_bad(v, -ENOEXEC, "overruns");
	mk_pvh64();
	st32(img + XEN_NOTE + 4, 0xffffffffu);
	pvh_bad(v, -ENOEXEC, "overruns");
	mk_pvh64();
	st32(img + XEN_NOTE + 4, 2); /* neither 4 nor 8 bytes */
	pvh_bad(v, -ENOEXEC, "4 or 8");
	mk_pvh64();
	st64(img + XEN_NOTE + 16, 1ull << 32);
	pvh_bad(v, -ENOEXEC, "above 4 GiB");
	mk_pvh64();
	st64(img + PH64_NOTE + 8, 0xfffffffffffffff0ull); /* p_offset wraps */
	pvh_bad(v, -ENOEXEC, "note segment");
	mk_pvh64();
	st64(img + PH64_NOTE + 32, IMG_LEN); /* p_filesz past EOF */
	pvh_bad(v, -ENOEXEC, "note segment");
	mk_pvh64();
	st64(img + PH64_NOTE + 32, 40); /* 8 bytes after the GNU note: a tail < 12 is ignored */
	pvh_bad(v, -ENOEXEC, "not a bzImage, multiboot or PVH ELF image");
	mk_pvh64();
	st64(img + PH64_NOTE + 32, 46); /* Xen note header present, its name cut off */
	pvh_bad(v, -ENOEXEC, "overruns");
	mk_pvh64();
	st64(img + PH64_NOTE + 32, 30); /* cut inside the GNU note's descriptor */
	pvh_bad(v, -ENOEXEC, "overruns");
	mk_pvh64();
	st32(img + XEN_NOTE + 8, 17); /* another Xen note type: no PVH entry */
	pvh_bad(v, -ENOEXEC, "not a bzImage, multiboot or PVH ELF image");
	mk_pvh64();
	memcpy(img + XEN_NOTE + 12, "Xem", 4);
	pvh_bad(v, -ENOEXEC, "not a bzImage");
	fake_vm_free(v);
}

static void test_pvh_bad_image(void **state)
{
	struct fake_vm *v = fake_vm_new(TEST_RAM);

	mk_pvh64();
	st64(img + XEN_NOTE + 16, 0x2000000); /* entry in no segment */
	pvh_bad(v, -ENOEXEC, "entry");
	mk_pvh64();
	st64(img + XEN_NOTE + 16, SEG_VADDR & 0xffffffffu); /* a virtual address, not physical */
	pvh_bad(v, -ENOEXEC, "entry");
	mk_pvh32();
	st32(img + 52 + 8, 0xc1000000u); /* p_vaddr; the note's entry lies only in vaddr space */
	st32(img + XEN_NOTE + 16, 0xc1000100u);
	pvh_bad(v, -ENOEXEC, "not a physical address");
	mk_pvh64();
	st16(img + 18, 40);
	pvh_bad(v, -ENOEXEC, "not x86");
	mk_pvh64();
	st64(img + 64 + 24, 0x3fff800); /* segment runs past the end of RAM */
	st64(img + XEN_NOTE + 16, 0x3fff800);
	pvh_bad(v, -ENOMEM, "outside guest RAM");
	mk_pvh64();
	st64(img + 64 + 24, 0xfffffffffffff000ull); /* paddr + memsz wraps */
	pvh_bad(v, -ENOEXEC, "wraps");
	mk_pvh64();
	st64(img + 64 + 24, 0x80000); /* below 1 MiB */
	pvh_bad(v, -ENOEXEC, "below 1 MiB");
	mk_pvh64();
	st64(img + 64 + 32, 0xffffffffffffffffull); /* filesz > memsz */
	pvh_bad(v, -ENOEXEC, "p_filesz");
	mk_pvh64();
	st64(img + 64 + 8, IMG_LEN - 1); /* segment past EOF */
	pvh_bad(v, -ENOEXEC, "past the end of the file");
	mk_pvh64();
	st16(img + 56, 40); /* phnum * phentsize past EOF */
	st64(img + 32, 0x1100);
	pvh_bad(v, -ENOEXEC, "program headers");
	mk_pvh64();
	st64(img + 32, 0xffffffffffffffc0ull); /* e_phoff + table wraps */
	pvh_bad(v, -ENOEXEC, "program headers");
	mk_pvh64();
	st16(img + 16, 3); /* ET_DYN */
	pvh_bad(v, -ENOEXEC, "not an executable");
	mk_pvh64();
	img[5] = 2; /* big-endian */
	pvh_bad(v, -ENOEXEC, "little-endian");
	mk_pvh64();
	img[4] = 7;
	pvh_bad(v, -ENOEXEC, "ELF class");
	mk_pvh64();
	assert_int_equal(run_boot(v, img, 60, NULL, 0, NULL), -ENOEXEC);
	assert_err_has(v, "ELF header truncated");
	assert_int_equal(run_boot(v, img, 5, NULL, 0, NULL), -ENOEXEC);
	assert_err_has(v, "ELF header truncated");
	fake_vm_free(v);
}

static void test_pvh_limits(void **state)
{
	struct fake_vm *v = fake_vm_new(TEST_RAM);
	size_t len = mk_pvh64();
	char *cl = malloc(LAYOUT_CMDLINE_MAX + 1);

	memset(cl, 'b', LAYOUT_CMDLINE_MAX);
	cl[LAYOUT_CMDLINE_MAX] = '\0';
	assert_int_equal(run_boot(v, img, len, NULL, 0, cl), -E2BIG);
	assert_err_has(v, "cmdline: 65536 bytes is longer than the limit of 65535");
	cl[LAYOUT_CMDLINE_MAX - 1] = '\0';
	assert_int_equal(run_boot(v, img, len, NULL, 0, cl), 0);
	assert_int_equal(gp(v, LAYOUT_CMDLINE, LAYOUT_CMDLINE_MAX)[LAYOUT_CMDLINE_MAX - 1], 0);
	free(cl);
	fake_vm_free(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pvh_elf64),	  cmocka_unit_test(test_pvh_elf64_initrd),
	    cmocka_unit_test(test_pvh_elf32),	  cmocka_unit_test(test_pvh_initrd_fit),
	    cmocka_unit_test(test_pvh_bad_notes), cmocka_unit_test(test_pvh_bad_image),
	    cmocka_unit_test(test_pvh_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
