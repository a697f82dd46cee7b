/* Unit tests for the 8254 PIT and port 0x61, driven through their port ops with a fake clock. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "hw/irq/pit.h"

#define NS 1000000000ull
#define T0 5000000ull

struct fixture {
	uint64_t now;
	struct clock_src clk;
	struct pit pit;
	unsigned n;
	int levels[16];
};

static uint64_t fake_mono(void *ctx)
{
	return ((struct fixture *)ctx)->now;
}

static void fake_irq(void *ctx, unsigned gsi, int level)
{
	struct fixture *fx = ctx;
	assert_int_equal(gsi, 0);
	if (fx->n < 16)
		fx->levels[fx->n] = level;
	fx->n++;
}

static int setup(void **state)
{
	struct fixture *fx = test_calloc(1, sizeof(*fx));
	fx->now = T0;
	fx->clk = (struct clock_src){fake_mono, NULL, fx};
	struct irq_line l = {fake_irq, fx, 0};
	assert_int_equal(pit_init(&fx->pit, l, &fx->clk), 0);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	pit_destroy(&fx->pit);
	test_free(fx);
	return 0;
}

static void outb(struct fixture *fx, unsigned port, uint8_t v)
{
	if (port == 0x61)
		pit_speaker_ops.write(&fx->pit, 0, 1, v);
	else
		pit_ops.write(&fx->pit, port - 0x40, 1, v);
}

static uint8_t inb(struct fixture *fx, unsigned port)
{
	if (port == 0x61)
		return (uint8_t)pit_speaker_ops.read(&fx->pit, 0, 1);
	return (uint8_t)pit_ops.read(&fx->pit, port - 0x40, 1);
}

static uint64_t ticks_ns(uint64_t ticks)
{
	return (ticks * NS + PIT_FREQ - 1) / PIT_FREQ;
}

static void program(struct fixture *fx, unsigned ch, unsigned mode, uint16_t count)
{
	outb(fx, 0x43, (uint8_t)((ch << 6) | 0x30 | (mode << 1)));
	outb(fx, 0x40 + ch, count & 0xff);
	outb(fx, 0x40 + ch, count >> 8);
}

static void test_reset_state(void **state)
{
	struct fixture *fx = *state;
	/* after reset ch0 runs mode 3 with count 65536 */
	assert_int_equal(pit_deadline(&fx->pit), T0 + ticks_ns(65536));
	/* ch2: gate low, mode 3 with OUT high */
	assert_int_equal(inb(fx, 0x61) & 0x21, 0x20);
}

static void test_mode2_deadline(void **state)
{
	struct fixture *fx = *state;
	program(fx, 0, 2, 11932);
	uint64_t d = pit_deadline(&fx->pit);
	uint64_t exact = 11932ull * NS / PIT_FREQ;
	assert_true(d - T0 == exact || d - T0 == exact + 1);
	pit_tick(&fx->pit, d - 1);
	assert_int_equal(fx->n, 0);
	pit_tick(&fx->pit, d);
	assert_int_equal(fx->n, 2);
	assert_int_equal(fx->levels[0], 1);
	assert_int_equal(fx->levels[1], 0);
	assert_int_equal(pit_deadline(&fx->pit), T0 + ticks_ns(2 * 11932));
	/* missed periods are skipped, phase stays locked to the load time */
	pit_tick(&fx->pit, T0 + ticks_ns(5 * 11932) + 1000);
	assert_int_equal(fx->n, 4);
	assert_int_equal(pit_deadline(&fx->pit), T0 + ticks_ns(6 * 11932));
	/* counter value in mode 2 */
	fx->now = T0 + ticks_ns(100);
	outb(fx, 0x43, 0x00);
	assert_int_equal(inb(fx, 0x40) | (inb(fx, 0x40) << 8), 11932 - 100);
}

static void test_mode0_oneshot(void **state)
{
	struct fixture *fx = *state;
	program(fx, 0, 0, 1000);
	uint64_t d = pit_deadline(&fx->pit);
	assert_int_equal(d, T0 + ticks_ns(1000));
	pit_tick(&fx->pit, d + 10 * NS);
	assert_int_equal(fx->n, 2);
	assert_int_equal(pit_deadline(&fx->pit), UINT64_MAX);
	pit_tick(&fx->pit, d + 20 * NS);
	assert_int_equal(fx->n, 2);
	/* a control word disarms until a count is loaded */
	program(fx, 0, 3, 0);
	assert_int_equal(pit_deadline(&fx->pit), T0 + ticks_ns(65536));
	outb(fx, 0x43, 0x36);
	assert_int_equal(pit_deadline(&fx->pit), UINT64_MAX);
}

/* Linux's PIT TSC calibration: ch2 mode 0, poll OUT2 and the MSB. */
static void test_ch2_out2(void **state)
{
	struct fixture *fx = *state;
	outb(fx, 0x61, (inb(fx, 0x61) & ~0x02) | 0x01);
	assert_int_equal(inb(fx, 0x61) & 0x03, 0x01);
	outb(fx, 0x43, 0xb0);
	outb(fx, 0x42, 0xff);
	outb(fx, 0x42, 0xff);
	assert_int_equal(inb(fx, 0x61) & 0x20, 0);
	inb(fx, 0x42);
	assert_int_equal(inb(fx, 0x42), 0xff);
	uint8_t prev = 0xff;
	for (int i = 1; i <= 20; i++) {
		fx->now = T0 + ticks_ns(256ull * i + 10);
		inb(fx, 0x42); /* LSB */
		uint8_t msb = inb(fx, 0x42);
		assert_int_equal(msb, prev - 1);
		prev = msb;
		assert_int_equal(inb(fx, 0x61) & 0x20, 0);
	}
	fx->now = T0 + ticks_ns(0xffff);
	assert_int_equal(inb(fx, 0x61) & 0x20, 0x20);
	/* ch2 never raises IRQ0 */
	assert_int_equal(fx->n, 0);

	/* speaker data bit is read/write; refresh bit toggles over time */
	outb(fx, 0x61, 0x03);
	assert_int_equal(inb(fx, 0x61) & 0x03, 0x03);
	uint8_t r = inb(fx, 0x61) & 0x10;
	fx->now += 15085;
	assert_int_not_equal(inb(fx, 0x61) & 0x10, r);

	/* mode 2 restarts on a rising gate */
	outb(fx, 0x61, 0x00);
	program(fx, 2, 2, 1000);
	fx->now += ticks_ns(300);
	outb(fx, 0x43, 0x80);
	assert_int_equal(inb(fx, 0x42) | (inb(fx, 0x42) << 8), 700);
	outb(fx, 0x61, 0x01);
	outb(fx, 0x43, 0x80);
	assert_int_equal(inb(fx, 0x42) | (inb(fx, 0x42) << 8), 1000);
}

static void test_latch_readback(void **state)
{
	struct fixture *fx = *state;
	program(fx, 0, 0, 5000);
	fx->now = T0 + ticks_ns(1000);
	outb(fx, 0x43, 0x00); /* latch */
	fx->now = T0 + ticks_ns(2000);
	outb(fx, 0x43, 0x00); /* second latch ignored until read */
	assert_int_equal(inb(fx, 0x40), 4000 & 0xff);
	assert_int_equal(inb(fx, 0x40), 4000 >> 8);
	/* unlatched reads follow the clock */
	assert_int_equal(inb(fx, 0x40) | (inb(fx, 0x40) << 8), 3000);

	/* read-back: status and count of ch0 */
	outb(fx, 0x43, 0xc2);
	assert_int_equal(inb(fx, 0x40), (0 << 7) | (3 << 4) | (0 << 1) | 0);
	assert_int_equal(inb(fx, 0x40) | (inb(fx, 0x40) << 8), 3000);
	fx->now = T0 + ticks_ns(6000);
	outb(fx, 0x43, 0xe2); /* status only */
	assert_int_equal(inb(fx, 0x40), 0x80 | 0x30);
	/* read-back of ch2's count only */
	program(fx, 2, 2, 400);
	outb(fx, 0x43, 0xd8);
	assert_int_equal(inb(fx, 0x42) | (inb(fx, 0x42) << 8), 400);
}

static void test_lohi_modes(void **state)
{
	struct fixture *fx = *state;
	outb(fx, 0x43, 0x14); /* ch0 LSB only, mode 2 */
	outb(fx, 0x40, 100);
	assert_int_equal(pit_deadline(&fx->pit), T0 + ticks_ns(100));
	assert_int_equal(inb(fx, 0x40), 100);
	assert_int_equal(inb(fx, 0x40), 100);
	outb(fx, 0x43, 0x24); /* MSB only */
	outb(fx, 0x40, 2);
	assert_int_equal(pit_deadline(&fx->pit), T0 + ticks_ns(512));
	assert_int_equal(inb(fx, 0x40), 2);
	outb(fx, 0x43, 0x34); /* lo then hi */
	outb(fx, 0x40, 0x34);
	assert_int_equal(pit_deadline(&fx->pit), UINT64_MAX); /* half written */
	outb(fx, 0x40, 0x12);
	assert_int_equal(pit_deadline(&fx->pit), T0 + ticks_ns(0x1234));
	assert_int_equal(inb(fx, 0x40), 0x34);
	assert_int_equal(inb(fx, 0x40), 0x12);
	assert_int_equal(inb(fx, 0x40), 0x34);
	/* count 0 = 65536 */
	program(fx, 0, 2, 0);
	assert_int_equal(pit_deadline(&fx->pit), T0 + ticks_ns(65536));
}

static void test_save_load(void **state)
{
	struct fixture *fx = *state;
	struct pit_state s;
	outb(fx, 0x61, 0x03);
	program(fx, 0, 2, 1000);
	program(fx, 2, 0, 5000);
	fx->now = T0 + ticks_ns(250);
	outb(fx, 0x43, 0x80); /* latch ch2 */
	pit_save(&fx->pit, &s);
	assert_int_equal(s.ch[0].count, 1000);
	assert_int_equal(s.ch[0].mode, 2);
	assert_int_equal(s.ch[0].count_load_time, -(int64_t)ticks_ns(250));
	assert_int_equal(s.speaker, 3);

	struct fixture *fx2 = test_calloc(1, sizeof(*fx2));
	fx2->now = 77 * NS;
	fx2->clk = (struct clock_src){fake_mono, NULL, fx2};
	struct irq_line l = {fake_irq, fx2, 0};
	assert_int_equal(pit_init(&fx2->pit, l, &fx2->clk), 0);
	assert_int_equal(pit_load(&fx2->pit, &s), 0);
	uint64_t base = 77 * NS - ticks_ns(250);
	assert_int_equal(pit_deadline(&fx2->pit), base + ticks_ns(1000));
	assert_int_equal(inb(fx2, 0x42) | (inb(fx2, 0x42) << 8), 4750);
	assert_int_equal(inb(fx2, 0x61) & 0x03, 0x03);
	struct pit_state bad = s;
	bad.ch[1].mode = 6;
	assert_int_equal(pit_load(&fx2->pit, &bad), -EINVAL);
	bad = s;
	bad.ch[0].count = 0;
	assert_int_equal(pit_load(&fx2->pit, &bad), -EINVAL);
	pit_destroy(&fx2->pit);
	test_free(fx2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_reset_state, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mode2_deadline, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mode0_oneshot, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ch2_out2, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_latch_readback, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_lohi_modes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_save_load, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
