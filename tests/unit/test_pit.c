/* Unit tests for the 8254 PIT and port 0x61, driven through a real PIO bus with a fake clock and a
 * fake IRQ 0 line that records each level. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/bus.h"
#include "hw/irq/pit.h"

#define NS 1000000000ull
#define T0 5000000000ull
#define MAX_LEVELS 32

struct fixture {
	struct bus pio;
	uint64_t now;
	struct clock_src clk;
	struct pit pit;
	unsigned n;
	int levels[MAX_LEVELS];
};

static uint64_t fake_mono(void *ctx)
{
	return ((struct fixture *)ctx)->now;
}

static void fake_irq(void *ctx, unsigned gsi, int level)
{
	struct fixture *f = ctx;

	assert_int_equal(gsi, 0);
	if (f->n < MAX_LEVELS)
		f->levels[f->n] = level;
	f->n++;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->now = T0;
	f->clk = (struct clock_src){.mono_ns = fake_mono, .ctx = f};
	assert_int_equal(bus_init(&f->pio, BUS_PIO), 0);
	struct irq_line line = {.set = fake_irq, .ctx = f, .gsi = 0};
	assert_int_equal(pit_init(&f->pit, line, &f->clk), 0);
	assert_int_equal(
	    bus_register(&f->pio, PIT_PORT_BASE, PIT_PORT_LEN, &pit_ops, &f->pit, "pit"), 0);
	assert_int_equal(bus_register(&f->pio, PIT_SPEAKER_PORT, PIT_SPEAKER_LEN, &pit_speaker_ops,
				      &f->pit, "port61"),
			 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	bus_destroy(&f->pio);
	pit_destroy(&f->pit);
	free(f);
	return 0;
}

static void outb(struct fixture *f, uint16_t port, uint8_t v)
{
	assert_int_equal(bus_write(&f->pio, port, 1, v), 1);
}

static uint8_t inb(struct fixture *f, uint16_t port)
{
	uint64_t v = 0;

	assert_int_equal(bus_read(&f->pio, port, 1, &v), 1);
	return (uint8_t)v;
}

/* The first ns at which t PIT clocks have elapsed: ceil(t * 1e9 / 1193182). */
static uint64_t ticks_ns(uint64_t t)
{
	return (t * NS + PIT_FREQ_HZ - 1) / PIT_FREQ_HZ;
}

/* Control word for ch with lobyte/hibyte access and mode, then the count. */
static void program(struct fixture *f, unsigned ch, unsigned mode, uint16_t count)
{
	outb(f, 0x43, (uint8_t)(ch << 6 | 0x30 | mode << 1));
	outb(f, (uint16_t)(0x40 + ch), count & 0xff);
	outb(f, (uint16_t)(0x40 + ch), count >> 8);
}

static uint16_t latch_read(struct fixture *f, unsigned ch)
{
	outb(f, 0x43, (uint8_t)(ch << 6));
	uint16_t lo = inb(f, (uint16_t)(0x40 + ch));
	return (uint16_t)(lo | inb(f, (uint16_t)(0x40 + ch)) << 8);
}

/* Read-back status of one channel. */
static uint8_t status(struct fixture *f, unsigned ch)
{
	outb(f, 0x43, (uint8_t)(0xe0 | 2 << ch));
	return inb(f, (uint16_t)(0x40 + ch));
}

static void test_reset_state(void **state)
{
	struct fixture *f = *state;

	/* Channel 0 runs mode 3 with count 65536 (18.2 Hz). */
	assert_int_equal(pit_deadline(&f->pit), T0 + ticks_ns(65536));
	assert_int_equal(status(f, 0), 0x80 | 0x30 | 0x06);
	/* Channel 2: gate low, mode 3, OUT high; speaker off. */
	assert_int_equal(inb(f, 0x61) & 0x2f, 0x20);
	assert_int_equal(inb(f, 0x43), 0);
	f->now = T0 + ticks_ns(1000);
	assert_int_equal(latch_read(f, 0), (uint16_t)(65536 - 2000));
	/* A low gate stops channel 2 (mode 3). */
	assert_int_equal(latch_read(f, 2), 0);
	pit_tick(&f->pit, T0 + ticks_ns(65536));
	assert_int_equal(f->n, 2);
	pit_reset(&f->pit);
	assert_int_equal(pit_deadline(&f->pit), f->now + ticks_ns(65536));
}

static void test_mode2_periodic(void **state)
{
	struct fixture *f = *state;
	const uint64_t n = 11932; /* Linux's LATCH for HZ=100 */

	program(f, 0, 2, (uint16_t)n);
	/* Each deadline is exactly the k * count clock boundary, rounded up to a ns. */
	uint64_t d = pit_deadline(&f->pit);
	assert_int_equal(d, T0 + ticks_ns(n));
	assert_true(d - T0 >= n * NS / PIT_FREQ_HZ && d - T0 <= n * NS / PIT_FREQ_HZ + 1);
	pit_tick(&f->pit, d - 1);
	assert_int_equal(f->n, 0);
	for (uint64_t k = 1; k <= 10; k++) {
		assert_int_equal(pit_deadline(&f->pit), T0 + ticks_ns(k * n));
		pit_tick(&f->pit, T0 + ticks_ns(k * n));
		assert_int_equal(f->n, 2 * k);
		assert_int_equal(f->levels[2 * k - 2], 1);
		assert_int_equal(f->levels[2 * k - 1], 0);
	}
	/* Ticking again at the same time does nothing. */
	pit_tick(&f->pit, T0 + ticks_ns(10 * n));
	assert_int_equal(f->n, 20);
	/* The count: n at load, n - d, and OUT low only where the count is 1. */
	f->now = T0 + ticks_ns(10 * n + 100);
	assert_int_equal(latch_read(f, 0), n - 100);
	f->now = T0 + ticks_ns(11 * n - 1);
	assert_int_equal(latch_read(f, 0), 1);
	assert_int_equal(status(f, 0) & 0x80, 0);
	f->now = T0 + ticks_ns(11 * n);
	assert_int_equal(status(f, 0) & 0x80, 0x80);
}

static void test_missed_periods_skipped(void **state)
{
	struct fixture *f = *state;
	const uint64_t n = 1193; /* 1 kHz */

	program(f, 0, 2, (uint16_t)n);
	pit_tick(&f->pit, T0 + ticks_ns(n));
	assert_int_equal(f->n, 2);
	/* 50 periods late: one pulse, and the next deadline stays on the load-time grid. */
	pit_tick(&f->pit, T0 + ticks_ns(51 * n) + 1000);
	assert_int_equal(f->n, 4);
	assert_int_equal(pit_deadline(&f->pit), T0 + ticks_ns(52 * n));
	pit_tick(&f->pit, T0 + ticks_ns(52 * n));
	assert_int_equal(f->n, 6);
	assert_int_equal(pit_deadline(&f->pit), T0 + ticks_ns(53 * n));
}

static void test_mode0_oneshot(void **state)
{
	struct fixture *f = *state;

	outb(f, 0x43, 0x30);
	/* Null count: no IRQ pending, OUT low, status shows it. */
	assert_int_equal(pit_deadline(&f->pit), UINT64_MAX);
	assert_int_equal(status(f, 0), 0x40 | 0x30);
	outb(f, 0x40, 1000 & 0xff);
	assert_int_equal(pit_deadline(&f->pit), UINT64_MAX); /* the first byte stops it */
	outb(f, 0x40, 1000 >> 8);
	assert_int_equal(status(f, 0), 0x30);
	uint64_t d = pit_deadline(&f->pit);
	assert_int_equal(d, T0 + ticks_ns(1000));
	f->now = d - 1;
	assert_int_equal(status(f, 0) & 0x80, 0);
	assert_int_equal(latch_read(f, 0), 1);
	pit_tick(&f->pit, d);
	assert_int_equal(f->n, 2);
	assert_int_equal(pit_deadline(&f->pit), UINT64_MAX);
	pit_tick(&f->pit, d + NS);
	assert_int_equal(f->n, 2);
	/* After terminal count OUT stays high and the count wraps through 0xffff. */
	f->now = T0 + ticks_ns(1010);
	assert_int_equal(status(f, 0) & 0x80, 0x80);
	assert_int_equal(latch_read(f, 0), 0xfff6);
	/* A new count restarts the one-shot. */
	outb(f, 0x40, 10);
	outb(f, 0x40, 0);
	assert_int_equal(pit_deadline(&f->pit), f->now + ticks_ns(10));
	/* Linux's shutdown: control word only, no more IRQs. */
	outb(f, 0x43, 0x30);
	assert_int_equal(pit_deadline(&f->pit), UINT64_MAX);
}

/* Linux's pit_calibrate_tsc(): gate on, channel 2 mode 0, poll OUT2 in port 0x61 bit 5. */
static void test_ch2_out2_calibration(void **state)
{
	struct fixture *f = *state;
	const uint16_t latch = 59659; /* 50 ms */

	outb(f, 0x61, (uint8_t)((inb(f, 0x61) & ~0x02) | 0x01));
	outb(f, 0x43, 0xb0);
	assert_int_equal(inb(f, 0x61) & 0x20, 0); /* mode 0 written: OUT low */
	outb(f, 0x42, latch & 0xff);
	outb(f, 0x42, latch >> 8);
	uint64_t start = f->now;
	assert_int_equal(inb(f, 0x61) & 0x21, 0x01);
	f->now = start + ticks_ns(latch) - 1;
	assert_int_equal(inb(f, 0x61) & 0x20, 0);
	f->now = start + ticks_ns(latch);
	assert_int_equal(inb(f, 0x61) & 0x20, 0x20);
	f->now += NS;
	assert_int_equal(inb(f, 0x61) & 0x20, 0x20);
	/* Channel 2 never raises IRQ 0, and channel 0 was left alone. */
	assert_int_equal(pit_deadline(&f->pit), T0 + ticks_ns(65536));
	assert_int_equal(f->n, 0);
	/* Speaker data reads back. */
	outb(f, 0x61, 0x03);
	assert_int_equal(inb(f, 0x61) & 0x0f, 0x03);
}

static void test_ch2_gate_suspends(void **state)
{
	struct fixture *f = *state;

	/* Count written with the gate low: loaded, but not counting until the gate rises. */
	outb(f, 0x61, 0x00);
	program(f, 2, 0, 1000);
	f->now += ticks_ns(5000);
	assert_int_equal(latch_read(f, 2), 1000);
	assert_int_equal(inb(f, 0x61) & 0x20, 0);
	outb(f, 0x61, 0x01);
	uint64_t t = f->now;
	f->now = t + ticks_ns(400);
	assert_int_equal(latch_read(f, 2), 600);
	/* Gate low pauses, gate high resumes. */
	outb(f, 0x61, 0x00);
	f->now += ticks_ns(10000);
	assert_int_equal(latch_read(f, 2), 600);
	outb(f, 0x61, 0x01);
	t = f->now;
	f->now = t + ticks_ns(590);
	assert_int_equal(latch_read(f, 2), 10);
	assert_int_equal(inb(f, 0x61) & 0x20, 0);
	f->now = t + ticks_ns(610);
	assert_int_equal(inb(f, 0x61) & 0x20, 0x20);
	/* Mode 2: gate low forces OUT high; a rising gate reloads the count. */
	program(f, 2, 2, 100);
	f->now += ticks_ns(30);
	outb(f, 0x61, 0x00);
	assert_int_equal(inb(f, 0x61) & 0x20, 0x20);
	outb(f, 0x61, 0x01);
	assert_int_equal(latch_read(f, 2), 100);
}

/* Linux's quick_pit_calibrate(): channel 2 mode 0 from 0xffff, polling the MSB. */
static void test_ch2_msb_polling(void **state)
{
	struct fixture *f = *state;

	outb(f, 0x61, 0x01);
	outb(f, 0x43, 0xb0);
	outb(f, 0x42, 0xff);
	outb(f, 0x42, 0xff);
	uint64_t start = f->now;
	for (unsigned i = 0; i < 40; i++) {
		f->now = start + ticks_ns(256 * i + 128);
		inb(f, 0x42); /* LSB, ignored */
		assert_int_equal(inb(f, 0x42), 0xff - i);
	}
	/* The LSB/MSB order survives: two more reads are LSB then MSB of the live count. */
	f->now = start + ticks_ns(0x1234);
	assert_int_equal(inb(f, 0x42), (0xffff - 0x1234) & 0xff);
	assert_int_equal(inb(f, 0x42), (0xffff - 0x1234) >> 8);
}

static void test_counter_latch(void **state)
{
	struct fixture *f = *state;

	program(f, 2, 0, 50000);
	outb(f, 0x61, 0x01);
	uint64_t start = f->now;
	f->now = start + ticks_ns(1000);
	outb(f, 0x43, 0x80); /* latch channel 2 */
	f->now = start + ticks_ns(3000);
	outb(f, 0x43, 0x80); /* ignored: the first latch holds until read */
	assert_int_equal(inb(f, 0x42), (50000 - 1000) & 0xff);
	f->now = start + ticks_ns(7000);
	assert_int_equal(inb(f, 0x42), (50000 - 1000) >> 8);
	/* Latch released: the next reads are live. */
	assert_int_equal(inb(f, 0x42), (50000 - 7000) & 0xff);
	assert_int_equal(inb(f, 0x42), (50000 - 7000) >> 8);
	/* A control word drops a pending latch. */
	outb(f, 0x43, 0x80);
	outb(f, 0x43, 0xb0);
	outb(f, 0x42, 0x10);
	outb(f, 0x42, 0x00);
	assert_int_equal(inb(f, 0x42), 0x10);
}

static void test_read_back(void **state)
{
	struct fixture *f = *state;

	program(f, 0, 2, 1000);
	outb(f, 0x43, 0x14); /* channel 0, lobyte only, mode 2 */
	program(f, 2, 0, 500);
	outb(f, 0x61, 0x01);
	/* Status of channels 0 and 2 in one command, without counts. */
	outb(f, 0x43, 0xe0 | 0x02 | 0x08);
	assert_int_equal(inb(f, 0x40), 0x80 | 0x40 | 0x10 | 0x04); /* null count, OUT high */
	assert_int_equal(inb(f, 0x42), 0x30 | 0x00);
	outb(f, 0x40, 200);
	f->now += ticks_ns(50);
	/* Count and status: the status byte comes first, then the latched count. */
	outb(f, 0x43, 0xc0 | 0x02);
	assert_int_equal(inb(f, 0x40), 0x80 | 0x10 | 0x04);
	assert_int_equal(inb(f, 0x40), 150);
	assert_int_equal(inb(f, 0x40), 150 - 0); /* lobyte access: each read is the live LSB */
	/* Count only for channel 2 (word access). */
	outb(f, 0x43, 0xd0 | 0x08);
	assert_int_equal(inb(f, 0x42), 450 & 0xff);
	assert_int_equal(inb(f, 0x42), 450 >> 8);
	/* Mode 6 and 7 alias 2 and 3; the BCD bit is reported. */
	outb(f, 0x43, 0x40 | 0x30 | 0x0c | 0x01);
	assert_int_equal(status(f, 1), 0x80 | 0x40 | 0x30 | 0x04 | 0x01);
	outb(f, 0x43, 0x40 | 0x30 | 0x0e);
	assert_int_equal(status(f, 1), 0x80 | 0x40 | 0x30 | 0x06);
}

static void test_access_modes(void **state)
{
	struct fixture *f = *state;

	outb(f, 0x61, 0x01);
	/* Lobyte only. */
	outb(f, 0x43, 0x90);
	outb(f, 0x42, 0x80);
	assert_int_equal(inb(f, 0x42), 0x80);
	assert_int_equal(inb(f, 0x42), 0x80);
	f->now += ticks_ns(0x10);
	assert_int_equal(inb(f, 0x42), 0x70);
	/* Hibyte only: the written byte is the MSB. */
	outb(f, 0x43, 0xa0);
	outb(f, 0x42, 0x12);
	assert_int_equal(inb(f, 0x42), 0x12);
	f->now += ticks_ns(1);
	assert_int_equal(inb(f, 0x42), 0x11);
	assert_int_equal(latch_read(f, 2) >> 8, 0x11); /* latched in hibyte mode: MSB only */
	/* Word: lobyte then hibyte on both sides. */
	outb(f, 0x43, 0xb0);
	outb(f, 0x42, 0x34);
	outb(f, 0x42, 0x12);
	assert_int_equal(inb(f, 0x42), 0x34);
	assert_int_equal(inb(f, 0x42), 0x12);
	/* A 16-bit port access is two byte accesses of consecutive ports (0x40, 0x41). */
	outb(f, 0x43, 0x10);
	outb(f, 0x43, 0x50);
	assert_int_equal(bus_write(&f->pio, 0x40, 2, 0x0807), 1);
	assert_int_equal(pit_deadline(&f->pit), f->now + ticks_ns(7));
	f->now += ticks_ns(2);
	uint64_t v = 0;
	assert_int_equal(bus_read(&f->pio, 0x40, 2, &v), 1);
	assert_int_equal(v, 0x0605);
}

static void test_count_zero_is_65536(void **state)
{
	struct fixture *f = *state;

	program(f, 0, 2, 0);
	assert_int_equal(pit_deadline(&f->pit), T0 + ticks_ns(65536));
	assert_int_equal(latch_read(f, 0), 0);
	f->now = T0 + ticks_ns(1);
	assert_int_equal(latch_read(f, 0), 0xffff);
	outb(f, 0x61, 0x01);
	program(f, 2, 0, 0);
	uint64_t start = f->now;
	f->now = start + ticks_ns(65535);
	assert_int_equal(inb(f, 0x61) & 0x20, 0);
	f->now = start + ticks_ns(65536);
	assert_int_equal(inb(f, 0x61) & 0x20, 0x20);
	/* Lobyte-only 0 is 65536 too. */
	outb(f, 0x43, 0x14);
	outb(f, 0x40, 0);
	assert_int_equal(pit_deadline(&f->pit), f->now + ticks_ns(65536));
}

static void test_mode3_square_wave(void **state)
{
	struct fixture *f = *state;

	outb(f, 0x61, 0x01);
	program(f, 2, 3, 100);
	uint64_t start = f->now;
	f->now = start + ticks_ns(49);
	assert_int_equal(inb(f, 0x61) & 0x20, 0x20);
	assert_int_equal(latch_read(f, 2), 2);
	f->now = start + ticks_ns(50);
	assert_int_equal(inb(f, 0x61) & 0x20, 0);
	f->now = start + ticks_ns(99);
	assert_int_equal(inb(f, 0x61) & 0x20, 0);
	f->now = start + ticks_ns(100);
	assert_int_equal(inb(f, 0x61) & 0x20, 0x20);
	/* On channel 0 each period's rising edge is an IRQ. */
	program(f, 0, 3, 100);
	assert_int_equal(pit_deadline(&f->pit), f->now + ticks_ns(100));
}

/* Linux's PIT clockevent in one-shot mode: mode 4, IRQ at the end of the strobe. */
static void test_mode4_strobe(void **state)
{
	struct fixture *f = *state;

	outb(f, 0x43, 0x38);
	outb(f, 0x40, 0x00);
	outb(f, 0x40, 0x10);
	assert_int_equal(pit_deadline(&f->pit), T0 + ticks_ns(0x1001));
	f->now = T0 + ticks_ns(0x1000);
	assert_int_equal(status(f, 0) & 0x80, 0);
	f->now = T0 + ticks_ns(0x1000) - 1;
	assert_int_equal(status(f, 0) & 0x80, 0x80);
	pit_tick(&f->pit, T0 + ticks_ns(0x1001));
	assert_int_equal(f->n, 2);
	assert_int_equal(pit_deadline(&f->pit), UINT64_MAX);
}

static void test_bcd(void **state)
{
	struct fixture *f = *state;

	outb(f, 0x43, 0x35); /* channel 0, word, mode 2, BCD */
	outb(f, 0x40, 0x00);
	outb(f, 0x40, 0x01); /* 0100 BCD = 100 clocks */
	assert_int_equal(pit_deadline(&f->pit), T0 + ticks_ns(100));
	f->now = T0 + ticks_ns(11);
	assert_int_equal(latch_read(f, 0), 0x0089);
	/* 0 in BCD is 10000. */
	outb(f, 0x43, 0x35);
	outb(f, 0x40, 0x00);
	outb(f, 0x40, 0x00);
	assert_int_equal(pit_deadline(&f->pit), f->now + ticks_ns(10000));
	f->now += ticks_ns(1);
	assert_int_equal(latch_read(f, 0), 0x9999);
}

static void test_refresh_toggle(void **state)
{
	struct fixture *f = *state;

	f->now = 0;
	uint8_t a = inb(f, 0x61) & 0x10;
	f->now = 15085;
	uint8_t b = inb(f, 0x61) & 0x10;
	f->now = 2 * 15085;
	uint8_t c = inb(f, 0x61) & 0x10;
	assert_int_not_equal(a, b);
	assert_int_equal(a, c);
	/* Bits 4 and 5 are read-only, bits 6-7 read 0. */
	outb(f, 0x61, 0xf0);
	assert_int_equal(inb(f, 0x61) & 0xcf, 0x00);
}

static void test_save_load(void **state)
{
	struct fixture *f = *state;
	struct pit_state s, s2;

	program(f, 0, 2, 11932);
	outb(f, 0x61, 0x03);
	program(f, 2, 0, 30000);
	outb(f, 0x43, 0x50); /* channel 1 waits for a count */
	f->now = T0 + ticks_ns(20000);
	outb(f, 0x43, 0x80); /* latch channel 2 */
	assert_int_equal(inb(f, 0x42), (30000 - 20000) & 0xff);
	pit_save(&f->pit, &s);
	assert_int_equal(s.ch[0].count, 11932);
	assert_int_equal(s.ch[0].mode, 2);
	assert_int_equal(s.ch[0].count_load_time, ticks_ns(20000));
	assert_int_equal(s.ch[2].count_latched, 2);
	assert_int_equal(s.ch[2].gate, 1);
	assert_int_equal(s.speaker, 0x03);
	assert_int_equal(s.flags, PIT_FLAG_SPEAKER_VALID | PIT_FLAG_NULL_COUNT(1));

	/* Another host, another clock: the elapsed times carry over. */
	struct fixture g = {.now = 777 * NS};
	g.clk = (struct clock_src){.mono_ns = fake_mono, .ctx = &g};
	struct irq_line line = {.set = fake_irq, .ctx = &g, .gsi = 0};
	struct pit other;
	assert_int_equal(pit_init(&other, line, &g.clk), 0);
	assert_int_equal(pit_load(&other, &s), 0);
	pit_save(&other, &s2);
	assert_memory_equal(&s, &s2, sizeof(s));
	assert_int_equal(pit_deadline(&other), 777 * NS - ticks_ns(20000) + ticks_ns(2 * 11932));
	assert_int_equal(pit_ops.read(&other, 2, 1), (30000 - 20000) >> 8); /* rest of the latch */
	assert_int_equal(pit_speaker_ops.read(&other, 0, 1) & 0x23, 0x03);
	g.now += ticks_ns(10000);
	assert_int_equal(pit_speaker_ops.read(&other, 0, 1) & 0x20, 0x20);
	pit_destroy(&other);

	/* A saved state from before a 2^40 ns uptime loads on a freshly booted host. */
	s.ch[0].count_load_time = 1ll << 40;
	assert_int_equal(pit_load(&f->pit, &s), 0);
	pit_save(&f->pit, &s2);
	assert_int_equal(s2.ch[0].count_load_time, 1ll << 40);
}

static void test_load_rejects(void **state)
{
	struct fixture *f = *state;
	struct pit_state good, bad;

	program(f, 0, 2, 1000);
	pit_save(&f->pit, &good);
	for (int i = 0; i < 15; i++) {
		bad = good;
		switch (i) {
		case 0:
			bad.ch[0].count = 0;
			break;
		case 1:
			bad.ch[1].count = 0x10001;
			break;
		case 2:
			bad.ch[2].mode = 6;
			break;
		case 3:
			bad.ch[0].rw_mode = 0;
			break;
		case 4:
			bad.ch[0].read_state = 4; /* word state with lobyte access */
			bad.ch[0].rw_mode = 1;
			break;
		case 5:
			bad.ch[1].gate = 0;
			break;
		case 6:
			bad.ch[2].gate = 2;
			break;
		case 7:
			bad.ch[0].count_load_time = -1;
			break;
		case 8:
			bad.flags |= PIT_FLAG_HPET_LEGACY;
			break;
		case 9:
			bad.flags |= 0x80000000u;
			break;
		case 10:
			bad.speaker = 0x01; /* gate bit disagrees with channel 2 */
			break;
		case 11:
			bad.speaker = 0x10;
			break;
		case 12:
			bad.ch[2].bcd = 1;
			bad.ch[2].count = 10001;
			break;
		case 13:
			bad.ch[0].count_latched = 4;
			break;
		case 14:
			bad.ch[0].status_latched = 2;
			break;
		}
		assert_int_equal(pit_load(&f->pit, &bad), -EINVAL);
	}
	pit_save(&f->pit, &bad);
	assert_memory_equal(&good, &bad, sizeof(good));
	/* Without SPEAKER_VALID the speaker byte is ignored. */
	bad.flags = 0;
	bad.speaker = 0xff;
	assert_int_equal(pit_load(&f->pit, &bad), 0);
	assert_int_equal(inb(f, 0x61) & 0x0f, 0x00);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_reset_state, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mode2_periodic, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_missed_periods_skipped, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mode0_oneshot, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ch2_out2_calibration, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ch2_gate_suspends, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ch2_msb_polling, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_counter_latch, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_read_back, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_access_modes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_count_zero_is_65536, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mode3_square_wave, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mode4_strobe, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bcd, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refresh_toggle, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_save_load, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_load_rejects, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
