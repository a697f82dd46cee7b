/* e820 map: fixed low holes, RAM per gmem region, ECAM reservation, sorting, minimum size. */
#include "boot_test_util.h"

#include <errno.h>

static uint8_t dummy_hva[GMEM_PAGE_SIZE] __attribute__((aligned(4096)));

static void check_entry(const struct e820_map *m, unsigned i, uint64_t addr, uint64_t size,
			uint32_t type)
{
	assert_true(i < m->nr);
	assert_int_equal(m->entries[i].addr, addr);
	assert_int_equal(m->entries[i].size, size);
	assert_int_equal(m->entries[i].type, type);
}

static void test_e820_basic(void **state)
{
	struct fake_vm *v = fake_vm_new(TEST_RAM);
	const struct e820_map *m = &v->e820;

	assert_int_equal(m->nr, 5);
	check_entry(m, 0, 0, LAYOUT_EBDA, E820_RAM);
	check_entry(m, 1, LAYOUT_EBDA, 0xa0000 - LAYOUT_EBDA, E820_RESERVED);
	check_entry(m, 2, LAYOUT_BIOS_START, 0x100000 - LAYOUT_BIOS_START, E820_RESERVED);
	check_entry(m, 3, 0x100000, TEST_RAM - 0x100000, E820_RAM);
	check_entry(m, 4, LAYOUT_PCI_ECAM, 256 * MIB, E820_RESERVED);
	fake_vm_free(v);
}

static void test_e820_high_region_sorted(void **state)
{
	struct gmem gm;
	struct e820_map m;
	uint8_t *low = calloc(1, 4 * MIB);

	/* Add the region above 4 GiB first: the map must still come out sorted. Its memory is
	 * never touched, so a dummy host pointer is enough. */
	memset(&gm, 0, sizeof(gm));
	assert_int_equal(gmem_add_region(&gm, 1ull << 32, 1ull << 30, dummy_hva), 0);
	assert_int_equal(gmem_add_region(&gm, 0, 4 * MIB, low), 0);
	assert_int_equal(e820_build(&gm, &m), 0);
	assert_int_equal(m.nr, 6);
	check_entry(&m, 3, 0x100000, 3 * MIB, E820_RAM);
	check_entry(&m, 4, LAYOUT_PCI_ECAM, 256 * MIB, E820_RESERVED);
	check_entry(&m, 5, 1ull << 32, 1ull << 30, E820_RAM);
	for (unsigned i = 1; i < m.nr; i++)
		assert_true(m.entries[i - 1].addr + m.entries[i - 1].size <= m.entries[i].addr);
	assert_int_equal(e820_ram_end(&m, (1ull << 32) + 5), (1ull << 32) + (1ull << 30));
	gmem_destroy(&gm);
	free(low);
}

static void test_e820_minimum(void **state)
{
	struct gmem gm;
	struct e820_map m;
	uint8_t *ram = calloc(1, E820_MIN_RAM);

	memset(&gm, 0, sizeof(gm));
	assert_int_equal(gmem_add_region(&gm, 0, E820_MIN_RAM, ram), 0);
	assert_int_equal(e820_build(&gm, &m), 0);
	check_entry(&m, 3, 0x100000, E820_MIN_RAM - 0x100000, E820_RAM);
	gmem_destroy(&gm);

	memset(&gm, 0, sizeof(gm));
	assert_int_equal(gmem_add_region(&gm, 0, E820_MIN_RAM - GMEM_PAGE_SIZE, ram), 0);
	assert_int_equal(e820_build(&gm, &m), -EINVAL);
	assert_int_equal(m.nr, 0);
	gmem_destroy(&gm);

	/* Below 1 MiB: must fail cleanly, not underflow the [1 MiB, end) entry. */
	memset(&gm, 0, sizeof(gm));
	assert_int_equal(gmem_add_region(&gm, 0, 512 * 1024, ram), 0);
	assert_int_equal(e820_build(&gm, &m), -EINVAL);
	gmem_destroy(&gm);
	free(ram);
}

static void test_e820_no_low_ram(void **state)
{
	struct gmem gm;
	struct e820_map m;

	memset(&gm, 0, sizeof(gm));
	assert_int_equal(e820_build(&gm, &m), -EINVAL); /* no regions at all */
	assert_int_equal(gmem_add_region(&gm, 16 * MIB, 16 * MIB, dummy_hva), 0);
	assert_int_equal(e820_build(&gm, &m), -EINVAL);
	assert_int_equal(m.nr, 0);
	gmem_destroy(&gm);
}

static void test_e820_ecam_overlap(void **state)
{
	struct gmem gm;
	struct e820_map m;
	uint8_t *low = calloc(1, 4 * MIB);

	memset(&gm, 0, sizeof(gm));
	assert_int_equal(gmem_add_region(&gm, 0, 4 * MIB, low), 0);
	assert_int_equal(gmem_add_region(&gm, LAYOUT_PCI_ECAM + 255 * MIB, MIB, dummy_hva), 0);
	assert_int_equal(e820_build(&gm, &m), -EINVAL);
	gmem_destroy(&gm);

	/* Just past the window is fine. */
	memset(&gm, 0, sizeof(gm));
	assert_int_equal(gmem_add_region(&gm, 0, 4 * MIB, low), 0);
	assert_int_equal(gmem_add_region(&gm, LAYOUT_PCI_ECAM + 256 * MIB, MIB, dummy_hva), 0);
	assert_int_equal(e820_build(&gm, &m), 0);
	assert_int_equal(m.nr, 6);
	gmem_destroy(&gm);
	free(low);
}

static void test_e820_queries(void **state)
{
	struct fake_vm *v = fake_vm_new(TEST_RAM);
	const struct e820_map *m = &v->e820;

	assert_int_equal(e820_ram_end(m, 0), LAYOUT_EBDA);
	assert_int_equal(e820_ram_end(m, LAYOUT_EBDA - 1), LAYOUT_EBDA);
	assert_int_equal(e820_ram_end(m, LAYOUT_EBDA), 0);
	assert_int_equal(e820_ram_end(m, 0xf0000), 0);
	assert_int_equal(e820_ram_end(m, LAYOUT_KERNEL), TEST_RAM);
	assert_int_equal(e820_ram_end(m, TEST_RAM), 0);
	assert_int_equal(e820_ram_end(m, LAYOUT_PCI_ECAM), 0);

	assert_true(e820_is_ram(m, LAYOUT_KERNEL, TEST_RAM - LAYOUT_KERNEL));
	assert_false(e820_is_ram(m, LAYOUT_KERNEL, TEST_RAM - LAYOUT_KERNEL + 1));
	assert_true(e820_is_ram(m, 0, LAYOUT_EBDA));
	assert_false(e820_is_ram(m, 0, LAYOUT_EBDA + 1));
	assert_false(e820_is_ram(m, 0x9f000, 0x62000)); /* spans the holes */
	assert_true(e820_is_ram(m, TEST_RAM - 1, 0));
	assert_false(e820_is_ram(m, UINT64_MAX, 2));
	assert_false(e820_is_ram(m, LAYOUT_KERNEL, UINT64_MAX));
	fake_vm_free(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_e820_basic),
	    cmocka_unit_test(test_e820_high_region_sorted),
	    cmocka_unit_test(test_e820_minimum),
	    cmocka_unit_test(test_e820_no_low_ram),
	    cmocka_unit_test(test_e820_ecam_overlap),
	    cmocka_unit_test(test_e820_queries),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
