/* Unit tests for the userspace IOAPIC, driven through its MMIO ops with a fake deliver. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "hw/irq/ioapic.h"

struct delivery {
	uint32_t dest;
	int logical;
	unsigned mode;
	uint8_t vector;
	int level;
};

struct fixture {
	struct ioapic io;
	unsigned n;
	struct delivery d[16];
};

static void fake_deliver(void *ctx, uint32_t dest, int logical, unsigned mode, uint8_t vector,
			 int level)
{
	struct fixture *fx = ctx;
	if (fx->n < 16)
		fx->d[fx->n] = (struct delivery){dest, logical, mode, vector, level};
	fx->n++;
}

static const struct ioapic_ops ops = {.deliver = fake_deliver};

static int setup(void **state)
{
	struct fixture *fx = test_calloc(1, sizeof(*fx));
	assert_int_equal(ioapic_init(&fx->io, 2, &ops, fx), 0);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	ioapic_destroy(&fx->io);
	test_free(fx);
	return 0;
}

static uint32_t rd(struct ioapic *io, uint32_t reg)
{
	ioapic_mmio_ops.write(io, 0x00, 4, reg);
	return (uint32_t)ioapic_mmio_ops.read(io, 0x10, 4);
}

static void wr(struct ioapic *io, uint32_t reg, uint32_t val)
{
	ioapic_mmio_ops.write(io, 0x00, 4, reg);
	ioapic_mmio_ops.write(io, 0x10, 4, val);
}

static void set_rte(struct ioapic *io, unsigned pin, uint64_t v)
{
	wr(io, 0x11 + 2 * pin, (uint32_t)(v >> 32));
	wr(io, 0x10 + 2 * pin, (uint32_t)v);
}

static void test_id_version(void **state)
{
	struct fixture *fx = *state;
	assert_int_equal(rd(&fx->io, 1), 0x00170011);
	assert_int_equal(rd(&fx->io, 0), 2u << 24);
	wr(&fx->io, 0, 0x0a000000);
	assert_int_equal(rd(&fx->io, 0), 0x0a000000);
	assert_int_equal(rd(&fx->io, 2), 0x0a000000);
	assert_int_equal(ioapic_mmio_ops.read(&fx->io, 0x00, 4), 2);
	ioapic_reset(&fx->io);
	assert_int_equal(rd(&fx->io, 0), 2u << 24);
}

static void test_redir_rw(void **state)
{
	struct fixture *fx = *state;
	for (unsigned i = 0; i < IOAPIC_PINS; i++) {
		assert_int_equal(rd(&fx->io, 0x10 + 2 * i), 0x10000);
		assert_int_equal(rd(&fx->io, 0x11 + 2 * i), 0);
	}
	/* delivery status and remote IRR are read-only */
	wr(&fx->io, 0x10 + 2 * 5, 0x1d0a5 | (1u << 12) | (1u << 14));
	wr(&fx->io, 0x11 + 2 * 5, 0xff000000);
	assert_int_equal(rd(&fx->io, 0x10 + 2 * 5), 0x1d0a5 & ~0x5000u);
	assert_int_equal(rd(&fx->io, 0x11 + 2 * 5), 0xff000000);
	assert_int_equal(fx->n, 0);
}

static void test_edge(void **state)
{
	struct fixture *fx = *state;
	set_rte(&fx->io, 3, (3ull << 56) | (1u << 11) | (1u << 8) | 0x33);
	ioapic_set_irq(&fx->io, 3, 1);
	assert_int_equal(fx->n, 1);
	assert_int_equal(fx->d[0].dest, 3);
	assert_int_equal(fx->d[0].logical, 1);
	assert_int_equal(fx->d[0].mode, 1);
	assert_int_equal(fx->d[0].vector, 0x33);
	assert_int_equal(fx->d[0].level, 0);
	ioapic_set_irq(&fx->io, 3, 1); /* still high: no edge */
	assert_int_equal(fx->n, 1);
	ioapic_set_irq(&fx->io, 3, 0);
	assert_int_equal(fx->n, 1);
	ioapic_set_irq(&fx->io, 3, 1);
	assert_int_equal(fx->n, 2);
	/* no remote IRR for edge entries */
	assert_int_equal(rd(&fx->io, 0x10 + 6) & (1u << 14), 0);
}

static void test_level_eoi(void **state)
{
	struct fixture *fx = *state;
	set_rte(&fx->io, 9, (1ull << 15) | 0x41);
	ioapic_set_irq(&fx->io, 9, 1);
	assert_int_equal(fx->n, 1);
	assert_int_equal(fx->d[0].level, 1);
	assert_true(rd(&fx->io, 0x10 + 18) & (1u << 14));
	ioapic_set_irq(&fx->io, 9, 1);
	assert_int_equal(fx->n, 1);
	ioapic_eoi(&fx->io, 0x42); /* other vector: nothing */
	assert_int_equal(fx->n, 1);
	ioapic_eoi(&fx->io, 0x41); /* still high: redeliver */
	assert_int_equal(fx->n, 2);
	assert_true(rd(&fx->io, 0x10 + 18) & (1u << 14));
	ioapic_set_irq(&fx->io, 9, 0);
	ioapic_mmio_ops.write(&fx->io, 0x40, 4, 0x41); /* EOI register */
	assert_int_equal(fx->n, 2);
	assert_false(rd(&fx->io, 0x10 + 18) & (1u << 14));
}

static void test_masked(void **state)
{
	struct fixture *fx = *state;
	set_rte(&fx->io, 1, (1ull << 16) | 0x31);
	set_rte(&fx->io, 2, (1ull << 16) | (1ull << 15) | 0x32);
	ioapic_set_irq(&fx->io, 1, 1);
	ioapic_set_irq(&fx->io, 2, 1);
	assert_int_equal(fx->n, 0);
	set_rte(&fx->io, 1, 0x31); /* edge lost while masked */
	assert_int_equal(fx->n, 0);
	set_rte(&fx->io, 2, (1ull << 15) | 0x32); /* level delivers on unmask */
	assert_int_equal(fx->n, 1);
	assert_int_equal(fx->d[0].vector, 0x32);
	ioapic_set_irq(&fx->io, 30, 1); /* out of range: ignored */
	assert_int_equal(fx->n, 1);
}

static void test_save_load(void **state)
{
	struct fixture *fx = *state;
	struct ioapic_state s;
	set_rte(&fx->io, 4, (5ull << 56) | (1ull << 15) | 0x44);
	ioapic_set_irq(&fx->io, 4, 1);
	assert_int_equal(fx->n, 1);
	ioapic_save(&fx->io, &s);
	assert_int_equal(s.base_address, 0xfec00000ull);
	assert_int_equal(s.id, 2);
	assert_int_equal(s.irr, 1u << 4);

	struct fixture fx2 = {0};
	assert_int_equal(ioapic_init(&fx2.io, 0, &ops, &fx2), 0);
	assert_int_equal(ioapic_load(&fx2.io, &s), 0);
	assert_int_equal(fx2.n, 0); /* remote IRR set: no redelivery */
	assert_int_equal(rd(&fx2.io, 0), 2u << 24);
	assert_int_equal(rd(&fx2.io, 0x11 + 8), 5u << 24);
	ioapic_eoi(&fx2.io, 0x44);
	assert_int_equal(fx2.n, 1);
	struct ioapic_state bad = s;
	bad.id = 16;
	assert_int_equal(ioapic_load(&fx2.io, &bad), -EINVAL);
	ioapic_destroy(&fx2.io);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_id_version, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_redir_rw, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_edge, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_level_eoi, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_masked, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_save_load, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
