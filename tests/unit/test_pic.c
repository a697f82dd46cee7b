/* Unit tests for the 8259A PIC pair, driven through its port ops with a fake INTR sink. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "hw/irq/pic.h"

struct fixture {
	struct pic p;
	unsigned calls;
	int level;
};

static void fake_intr(void *ctx, int level)
{
	struct fixture *fx = ctx;
	fx->calls++;
	fx->level = level;
}

static const struct pic_ops ops = {.intr = fake_intr};

static void outb_m(struct pic *p, unsigned off, uint8_t v)
{
	pic_master_ops.write(p, off, 1, v);
}

static void outb_s(struct pic *p, unsigned off, uint8_t v)
{
	pic_slave_ops.write(p, off, 1, v);
}

static uint8_t inb_m(struct pic *p, unsigned off)
{
	return (uint8_t)pic_master_ops.read(p, off, 1);
}

static uint8_t inb_s(struct pic *p, unsigned off)
{
	return (uint8_t)pic_slave_ops.read(p, off, 1);
}

/* The Linux/BIOS init sequence: master at 0x20, slave at 0x28, optional AEOI. */
static void init_pics(struct pic *p, int aeoi)
{
	outb_m(p, 0, 0x11);
	outb_m(p, 1, 0x20);
	outb_m(p, 1, 0x04);
	outb_m(p, 1, aeoi ? 0x03 : 0x01);
	outb_s(p, 0, 0x11);
	outb_s(p, 1, 0x28);
	outb_s(p, 1, 0x02);
	outb_s(p, 1, 0x01);
	outb_m(p, 1, 0x00);
	outb_s(p, 1, 0x00);
}

static int setup(void **state)
{
	struct fixture *fx = test_calloc(1, sizeof(*fx));
	assert_int_equal(pic_init(&fx->p, &ops, fx), 0);
	init_pics(&fx->p, 0);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	pic_destroy(&fx->p);
	test_free(fx);
	return 0;
}

static void test_init_base_imr(void **state)
{
	struct fixture *fx = *state;
	assert_int_equal(inb_m(&fx->p, 1), 0);
	outb_m(&fx->p, 1, 0xfe);
	assert_int_equal(inb_m(&fx->p, 1), 0xfe);
	pic_set_irq(&fx->p, 1, 1); /* masked */
	assert_false(pic_has_intr(&fx->p));
	assert_int_equal(fx->calls, 0);
	pic_set_irq(&fx->p, 0, 1);
	assert_true(pic_has_intr(&fx->p));
	assert_int_equal(fx->calls, 1);
	assert_int_equal(fx->level, 1);
	assert_int_equal(pic_read_irq(&fx->p), 0x20);
	assert_int_equal(fx->level, 0);
	outb_m(&fx->p, 0, 0x20);
	outb_m(&fx->p, 1, 0x00); /* unmask IRQ1: its edge was latched in IRR */
	assert_int_equal(pic_read_irq(&fx->p), 0x20 + 1);
}

static void test_priority_eoi(void **state)
{
	struct fixture *fx = *state;
	pic_set_irq(&fx->p, 4, 1);
	pic_set_irq(&fx->p, 3, 1);
	assert_int_equal(pic_read_irq(&fx->p), 0x23);
	/* IRQ4 is lower priority than the in-service IRQ3 */
	assert_false(pic_has_intr(&fx->p));
	outb_m(&fx->p, 0, 0x0b); /* OCW3 read ISR */
	assert_int_equal(inb_m(&fx->p, 0), 1u << 3);
	outb_m(&fx->p, 0, 0x0a); /* OCW3 read IRR */
	assert_int_equal(inb_m(&fx->p, 0), 1u << 4);
	pic_set_irq(&fx->p, 1, 1); /* higher priority nests */
	assert_true(pic_has_intr(&fx->p));
	assert_int_equal(pic_read_irq(&fx->p), 0x21);
	outb_m(&fx->p, 0, 0x20); /* non-specific EOI clears IRQ1 */
	outb_m(&fx->p, 0, 0x0b);
	assert_int_equal(inb_m(&fx->p, 0), 1u << 3);
	outb_m(&fx->p, 0, 0x63); /* specific EOI IRQ3 */
	assert_int_equal(inb_m(&fx->p, 0), 0);
	assert_true(pic_has_intr(&fx->p));
	assert_int_equal(pic_read_irq(&fx->p), 0x24);
	/* rotate: set lowest priority to IRQ4, so IRQ5 is now highest */
	outb_m(&fx->p, 0, 0x20);
	outb_m(&fx->p, 0, 0xc4);
	pic_set_irq(&fx->p, 0, 0);
	pic_set_irq(&fx->p, 0, 1);
	pic_set_irq(&fx->p, 6, 1);
	assert_int_equal(pic_read_irq(&fx->p), 0x26);
}

static void test_slave_cascade(void **state)
{
	struct fixture *fx = *state;
	pic_set_irq(&fx->p, 10, 1);
	assert_true(pic_has_intr(&fx->p));
	assert_int_equal(fx->level, 1);
	assert_int_equal(pic_read_irq(&fx->p), 0x2a);
	outb_m(&fx->p, 0, 0x0b);
	assert_int_equal(inb_m(&fx->p, 0), 1u << 2);
	outb_s(&fx->p, 0, 0x0b);
	assert_int_equal(inb_s(&fx->p, 0), 1u << 2);
	outb_s(&fx->p, 0, 0x20);
	outb_m(&fx->p, 0, 0x20);
	assert_int_equal(inb_m(&fx->p, 0), 0);
	assert_int_equal(inb_s(&fx->p, 0), 0);
	/* masking the slave pin removes the cascade request */
	outb_s(&fx->p, 1, 1u << 0);
	pic_set_irq(&fx->p, 8, 1);
	assert_false(pic_has_intr(&fx->p));
	outb_s(&fx->p, 1, 0);
	assert_int_equal(pic_read_irq(&fx->p), 0x28);
}

static void test_aeoi(void **state)
{
	struct fixture *fx = *state;
	init_pics(&fx->p, 1);
	pic_set_irq(&fx->p, 5, 1);
	assert_int_equal(pic_read_irq(&fx->p), 0x25);
	outb_m(&fx->p, 0, 0x0b);
	assert_int_equal(inb_m(&fx->p, 0), 0);
	pic_set_irq(&fx->p, 6, 1);
	assert_int_equal(pic_read_irq(&fx->p), 0x26);
}

static void test_elcr_level(void **state)
{
	struct fixture *fx = *state;
	pic_elcr_ops.write(&fx->p, 0, 1, 0xff);
	pic_elcr_ops.write(&fx->p, 1, 1, 0xff);
	assert_int_equal(pic_elcr_ops.read(&fx->p, 0, 1), 0xf8);
	assert_int_equal(pic_elcr_ops.read(&fx->p, 1, 1), 0xde);
	pic_set_irq(&fx->p, 11, 1);
	assert_int_equal(pic_read_irq(&fx->p), 0x2b);
	outb_s(&fx->p, 0, 0x20);
	outb_m(&fx->p, 0, 0x20);
	/* level-triggered: still requesting while high */
	assert_true(pic_has_intr(&fx->p));
	assert_int_equal(pic_read_irq(&fx->p), 0x2b);
	outb_s(&fx->p, 0, 0x20);
	outb_m(&fx->p, 0, 0x20);
	pic_set_irq(&fx->p, 11, 0);
	assert_false(pic_has_intr(&fx->p));
	/* an edge IRQ is latched even after the line drops */
	pic_set_irq(&fx->p, 1, 1);
	pic_set_irq(&fx->p, 1, 0);
	assert_int_equal(pic_read_irq(&fx->p), 0x21);
}

static void test_spurious_poll(void **state)
{
	struct fixture *fx = *state;
	assert_int_equal(pic_read_irq(&fx->p), 0x27);
	pic_set_irq(&fx->p, 12, 1);
	pic_set_irq(&fx->p, 12, 0);
	/* level request that went away before INTA on the slave: spurious slave vector */
	pic_elcr_ops.write(&fx->p, 1, 1, 1u << 4);
	pic_set_irq(&fx->p, 12, 1);
	assert_true(pic_has_intr(&fx->p));
	outb_m(&fx->p, 0, 0x0c); /* poll */
	assert_int_equal(inb_m(&fx->p, 0), 0x82);
	outb_m(&fx->p, 0, 0x0c);
	assert_int_equal(inb_m(&fx->p, 0), 0x00);
}

static void test_save_load(void **state)
{
	struct fixture *fx = *state;
	struct pic_chip_state s[2];
	outb_m(&fx->p, 1, 0x10);
	pic_set_irq(&fx->p, 3, 1);
	pic_save(&fx->p, s);
	assert_int_equal(s[0].irq_base, 0x20);
	assert_int_equal(s[1].irq_base, 0x28);
	assert_int_equal(s[0].imr, 0x10);
	assert_int_equal(s[0].elcr_mask, 0xf8);
	assert_int_equal(s[1].elcr_mask, 0xde);

	struct fixture fx2 = {0};
	assert_int_equal(pic_init(&fx2.p, &ops, &fx2), 0);
	assert_int_equal(pic_load(&fx2.p, s), 0);
	assert_int_equal(fx2.calls, 1);
	assert_int_equal(fx2.level, 1);
	assert_int_equal(inb_m(&fx2.p, 1), 0x10);
	assert_int_equal(pic_read_irq(&fx2.p), 0x23);
	s[0].priority_add = 8;
	assert_int_equal(pic_load(&fx2.p, s), -EINVAL);
	pic_destroy(&fx2.p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_init_base_imr, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_priority_eoi, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_slave_cascade, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_aeoi, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_elcr_level, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_spurious_poll, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_save_load, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
