#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sys/mman.h>

#include "core/gmem.h"

#define MiB (1ull << 20)

static void test_bounds_single_region(void **state)
{
	struct gmem gm = {0};
	uint8_t *buf = calloc(1, 2 * MiB);
	assert_int_equal(gmem_add_region(&gm, 0, 2 * MiB, buf), 0);
	assert_ptr_equal(gmem_ptr(&gm, 0, 2 * MiB, GMEM_READ), buf);
	assert_ptr_equal(gmem_ptr(&gm, 2 * MiB - 1, 1, GMEM_READ), buf + 2 * MiB - 1);
	assert_null(gmem_ptr(&gm, 2 * MiB - 1, 2, GMEM_READ));
	assert_null(gmem_ptr(&gm, 2 * MiB, 1, GMEM_READ));
	/* Overflowing ranges never wrap around to valid memory. */
	assert_null(gmem_ptr(&gm, UINT64_MAX, 2, GMEM_READ));
	assert_null(gmem_ptr(&gm, 16, UINT64_MAX, GMEM_READ));
	assert_null(gmem_ptr(&gm, UINT64_MAX - 15, 32, GMEM_READ));
	gmem_destroy(&gm);
	free(buf);
}

static void test_add_region_rules(void **state)
{
	struct gmem gm = {0};
	uint8_t *buf = calloc(1, 4 * MiB);
	assert_int_equal(gmem_add_region(&gm, 0, 0, buf), -EINVAL);
	assert_int_equal(gmem_add_region(&gm, 0x800, 4096, buf), -EINVAL); /* unaligned */
	assert_int_equal(gmem_add_region(&gm, UINT64_MAX & ~0xfffull, 8192, buf), -EINVAL);
	assert_int_equal(gmem_add_region(&gm, 0, MiB, buf), 0);
	assert_int_equal(gmem_add_region(&gm, MiB - 4096, MiB, buf + MiB), -EEXIST);
	assert_int_equal(gmem_add_region(&gm, 3 * MiB, MiB, buf + MiB), 0);
	assert_int_equal(gm.ram_size, 2 * MiB);
	gmem_destroy(&gm);
	free(buf);
}

static void test_copy_across_regions(void **state)
{
	struct gmem gm = {0};
	uint8_t *a = calloc(1, MiB), *b = calloc(1, MiB);
	/* Two adjacent regions with distinct host buffers: copies must split. */
	assert_int_equal(gmem_add_region(&gm, 0, MiB, a), 0);
	assert_int_equal(gmem_add_region(&gm, MiB, MiB, b), 0);
	uint8_t src[64], dst[64];
	for (int i = 0; i < 64; i++)
		src[i] = (uint8_t)(i + 1);
	assert_int_equal(gmem_write(&gm, MiB - 32, src, 64), 0);
	assert_memory_equal(a + MiB - 32, src, 32);
	assert_memory_equal(b, src + 32, 32);
	assert_int_equal(gmem_read(&gm, MiB - 32, dst, 64), 0);
	assert_memory_equal(dst, src, 64);
	/* gmem_ptr refuses a range spanning two regions. */
	assert_null(gmem_ptr(&gm, MiB - 32, 64, GMEM_READ));
	/* Partly outside RAM: -EFAULT and nothing written. */
	memset(b + MiB - 8, 0xee, 8);
	assert_int_equal(gmem_write(&gm, 2 * MiB - 8, src, 16), -EFAULT);
	assert_int_equal(b[MiB - 8], 0xee);
	assert_int_equal(gmem_fill(&gm, 10, 0x5a, 5), 0);
	assert_int_equal(a[10], 0x5a);
	assert_int_equal(a[14], 0x5a);
	assert_int_equal(a[15], 0);
	assert_true(gmem_is_ram(&gm, 0, 2 * MiB));
	assert_false(gmem_is_ram(&gm, 0, 2 * MiB + 1));
	gmem_destroy(&gm);
	free(a);
	free(b);
}

static void test_dirty_tracking(void **state)
{
	struct gmem gm = {0};
	uint8_t *buf = calloc(1, MiB);
	assert_int_equal(gmem_add_region(&gm, 0, MiB, buf), 0);
	assert_false(gmem_test_and_clear_dirty(&gm, 0x3000));
	uint32_t v = 7;
	assert_int_equal(gmem_write(&gm, 0x3ffe, &v, sizeof(v)), 0); /* spans pages 3 and 4 */
	assert_true(gmem_test_and_clear_dirty(&gm, 0x3000));
	assert_true(gmem_test_and_clear_dirty(&gm, 0x4000));
	assert_false(gmem_test_and_clear_dirty(&gm, 0x3000));
	assert_false(gmem_test_and_clear_dirty(&gm, 0x5000));
	/* Reads do not dirty; write pointers do. */
	assert_non_null(gmem_ptr(&gm, 0x8000, 16, GMEM_READ));
	assert_false(gmem_test_and_clear_dirty(&gm, 0x8000));
	assert_non_null(gmem_ptr(&gm, 0x8000, 16, GMEM_WRITE));
	assert_true(gmem_test_and_clear_dirty(&gm, 0x8000));
	gmem_destroy(&gm);
	free(buf);
}

static void test_init_ram_layout(void **state)
{
	struct gmem gm;
	assert_int_equal(gmem_init_ram(&gm, 0), -EINVAL);
	assert_int_equal(gmem_init_ram(&gm, 4097), -EINVAL);
	/* 4 GiB of RAM splits around the 32-bit hole (MAP_NORESERVE: nothing is touched). */
	assert_int_equal(gmem_init_ram(&gm, 4ull << 30), 0);
	assert_int_equal(gm.nr_regions, 2);
	assert_int_equal(gmem_low_ram_end(&gm), GMEM_HOLE_START);
	assert_int_equal(gm.regions[1].gpa, GMEM_HOLE_END);
	assert_int_equal(gm.regions[1].size, (4ull << 30) - GMEM_HOLE_START);
	assert_null(gmem_ptr(&gm, GMEM_HOLE_START, 1, GMEM_READ));
	assert_non_null(gmem_ptr(&gm, GMEM_HOLE_END, 1, GMEM_READ));
	gmem_destroy(&gm);
	assert_int_equal(gmem_init_ram(&gm, 64ull << 20), 0);
	assert_int_equal(gm.nr_regions, 1);
	gmem_destroy(&gm);
}

/* gmem_discard: the pages read as zero, are no longer resident, and are dirty; neighbours keep
 * their bytes; misaligned or non-RAM ranges are refused with nothing discarded. */
static void test_discard(void **state)
{
	struct gmem gm;
	unsigned char vec[4];
	assert_int_equal(gmem_init_ram(&gm, 1ull << 20), 0);
	assert_int_equal(gmem_fill(&gm, 0x10000, 0xab, 4 * GMEM_PAGE_SIZE), 0);
	for (int i = 0; i < 4; i++)
		gmem_test_and_clear_dirty(&gm, 0x10000 + i * GMEM_PAGE_SIZE);
	uint8_t *p = gmem_ptr(&gm, 0x10000, 4 * GMEM_PAGE_SIZE, GMEM_READ);
	assert_int_equal(gmem_discard(&gm, 0x11000, 2 * GMEM_PAGE_SIZE), 0);
	assert_int_equal(mincore(p, 4 * GMEM_PAGE_SIZE, vec), 0);
	assert_true(vec[0] & 1);
	assert_false(vec[1] & 1);
	assert_false(vec[2] & 1);
	assert_int_equal(p[0xfff], 0xab);
	assert_int_equal(p[0x1000], 0);
	assert_int_equal(p[0x2fff], 0);
	assert_int_equal(p[0x3000], 0xab);
	assert_false(gmem_test_and_clear_dirty(&gm, 0x10000));
	assert_true(gmem_test_and_clear_dirty(&gm, 0x11000));
	assert_true(gmem_test_and_clear_dirty(&gm, 0x12000));
	assert_false(gmem_test_and_clear_dirty(&gm, 0x13000));
	/* Misaligned start or length; a range running past the end of RAM. */
	assert_int_equal(gmem_discard(&gm, 0x10001, GMEM_PAGE_SIZE), -EINVAL);
	assert_int_equal(gmem_discard(&gm, 0x10000, 100), -EINVAL);
	assert_int_equal(gmem_discard(&gm, 0xff000, 2 * GMEM_PAGE_SIZE), -EFAULT);
	assert_int_equal(gmem_discard(&gm, UINT64_MAX & ~0xfffull, 0x2000), -EFAULT);
	assert_int_equal(p[0x3000], 0xab);
	gmem_destroy(&gm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bounds_single_region), cmocka_unit_test(test_add_region_rules),
	    cmocka_unit_test(test_copy_across_regions),	 cmocka_unit_test(test_dirty_tracking),
	    cmocka_unit_test(test_init_ram_layout),	 cmocka_unit_test(test_discard),
	};
	return cmocka_run_group_tests_name("gmem", tests, NULL, NULL);
}
