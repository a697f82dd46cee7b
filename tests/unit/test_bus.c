#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/bus.h"

struct fake_dev {
	uint64_t last_off, last_val;
	unsigned last_size, reads, writes;
};

static uint64_t fake_read(void *dev, uint64_t off, unsigned size)
{
	struct fake_dev *d = dev;
	d->reads++;
	d->last_off = off;
	d->last_size = size;
	return 0x1122334455667788ull;
}

static void fake_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct fake_dev *d = dev;
	d->writes++;
	d->last_off = off;
	d->last_size = size;
	d->last_val = val;
}

static const struct bus_ops fake_ops = {fake_read, fake_write};

static void test_register_rules(void **state)
{
	struct bus b;
	struct fake_dev d = {0};
	assert_int_equal(bus_init(&b, BUS_MMIO), 0);
	assert_int_equal(bus_register(&b, 0x1000, 0, &fake_ops, &d, "zero"), -EINVAL);
	assert_int_equal(bus_register(&b, UINT64_MAX - 2, 8, &fake_ops, &d, "wrap"), -EINVAL);
	assert_int_equal(bus_register(&b, 0x1000, 0x100, &fake_ops, &d, "a"), 0);
	assert_int_equal(bus_register(&b, 0x10ff, 1, &fake_ops, &d, "overlap-end"), -EEXIST);
	assert_int_equal(bus_register(&b, 0xf00, 0x101, &fake_ops, &d, "overlap-start"), -EEXIST);
	assert_int_equal(bus_register(&b, 0x800, 0x2000, &fake_ops, &d, "cover"), -EEXIST);
	assert_int_equal(bus_register(&b, 0x1100, 0x100, &fake_ops, &d, "adjacent"), 0);
	assert_int_equal(bus_register(&b, 0xf00, 0x100, &fake_ops, &d, "below"), 0);
	assert_int_equal(b.nr, 3);
	assert_int_equal(bus_unregister(&b, 0x1100, &d), 0);
	assert_int_equal(bus_unregister(&b, 0x1100, &d), -ENOENT);
	assert_int_equal(bus_register(&b, UINT64_MAX - 7, 8, &fake_ops, &d, "top"), 0);
	bus_destroy(&b);

	struct bus p;
	assert_int_equal(bus_init(&p, BUS_PIO), 0);
	assert_int_equal(bus_register(&p, 0xfffe, 4, &fake_ops, &d, "past-64k"), -EINVAL);
	assert_int_equal(bus_register(&p, 0xfffc, 4, &fake_ops, &d, "last"), 0);
	bus_destroy(&p);
}

static void test_dispatch_offsets(void **state)
{
	struct bus b;
	struct fake_dev d1 = {0}, d2 = {0};
	uint64_t v;
	assert_int_equal(bus_init(&b, BUS_PIO), 0);
	assert_int_equal(bus_register(&b, 0x3f8, 8, &fake_ops, &d1, "uart"), 0);
	assert_int_equal(bus_register(&b, 0x60, 1, &fake_ops, &d2, "kbd"), 0);
	assert_int_equal(bus_write(&b, 0x3fb, 1, 0x1ff), 1);
	assert_int_equal(d1.last_off, 3);
	assert_int_equal(d1.last_val, 0xff); /* masked to the access size */
	assert_int_equal(bus_read(&b, 0x3f8, 2, &v), 1);
	assert_int_equal(v, 0x7788);
	assert_int_equal(bus_read(&b, 0x60, 1, &v), 1);
	assert_int_equal(d2.reads, 1);
	/* An access straddling the end of a range is unclaimed. */
	assert_int_equal(bus_read(&b, 0x3fe, 4, &v), 0);
	assert_int_equal(v, 0xffffffff);
	/* Unclaimed PIO reads are all ones, for every size. */
	assert_int_equal(bus_read(&b, 0x80, 1, &v), 0);
	assert_int_equal(v, 0xff);
	assert_int_equal(bus_read(&b, 0x80, 2, &v), 0);
	assert_int_equal(v, 0xffff);
	/* Bad sizes are unclaimed. */
	assert_int_equal(bus_read(&b, 0x3f8, 3, &v), 0);
	assert_int_equal(bus_write(&b, 0x90, 1, 0), 0);
	bus_destroy(&b);
}

static void test_mmio_unclaimed_zero_and_bytes(void **state)
{
	struct bus b;
	struct fake_dev d = {0};
	uint8_t data[8];
	uint64_t v = 1;
	assert_int_equal(bus_init(&b, BUS_MMIO), 0);
	assert_int_equal(bus_read(&b, 0xfee00000, 4, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(bus_register(&b, 0xd0000000, 0x1000, &fake_ops, &d, "dev"), 0);
	assert_int_equal(bus_read_bytes(&b, 0xd0000010, data, 4), 1);
	assert_int_equal(data[0], 0x88);
	assert_int_equal(data[3], 0x55);
	const uint8_t w[2] = {0x34, 0x12};
	assert_int_equal(bus_write_bytes(&b, 0xd0000ffe, w, 2), 1);
	assert_int_equal(d.last_val, 0x1234);
	assert_int_equal(d.last_off, 0xffe);
	bus_destroy(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_register_rules),
	    cmocka_unit_test(test_dispatch_offsets),
	    cmocka_unit_test(test_mmio_unclaimed_zero_and_bytes),
	};
	return cmocka_run_group_tests_name("bus", tests, NULL, NULL);
}
