/* Unit tests for the MC146818 RTC / CMOS, driven through its bus ops with a fake clock. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "hw/cmos_rtc.h"

#define NS 1000000000ull
#define T_2024_02_29_134556 1709214356ll /* a Thursday */
#define T_2024_02_29_000500 1709165100ll

struct fake_clock {
	uint64_t mono;
	int64_t wall;
};

struct fixture {
	struct fake_clock clk;
	struct cmos_rtc *rtc;
};

static uint64_t fake_mono(void *ctx)
{
	return ((struct fake_clock *)ctx)->mono;
}

static int64_t fake_wall(void *ctx)
{
	return ((struct fake_clock *)ctx)->wall;
}

static struct clock_src fake_src(struct fake_clock *c)
{
	struct clock_src s = {fake_mono, fake_wall, c};
	return s;
}

static const struct cmos_rtc_mem mem_512m = {512ull << 20, 0, 2};

static int setup(void **state)
{
	struct fixture *fx = test_calloc(1, sizeof(*fx));
	fx->clk.mono = NS / 5;
	fx->clk.wall = T_2024_02_29_134556;
	assert_int_equal(cmos_rtc_create(fake_src(&fx->clk), &mem_512m, &fx->rtc), 0);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	cmos_rtc_destroy(fx->rtc);
	test_free(fx);
	return 0;
}

static uint8_t rd(struct cmos_rtc *rtc, uint8_t idx)
{
	cmos_rtc_ops.write(rtc, 0, 1, idx);
	return (uint8_t)cmos_rtc_ops.read(rtc, 1, 1);
}

static void wr(struct cmos_rtc *rtc, uint8_t idx, uint8_t v)
{
	cmos_rtc_ops.write(rtc, 0, 1, idx);
	cmos_rtc_ops.write(rtc, 1, 1, v);
}

static void expect_time(struct cmos_rtc *rtc, uint8_t sec, uint8_t min, uint8_t hour, uint8_t dow,
			uint8_t dom, uint8_t mon, uint8_t year, uint8_t century)
{
	assert_int_equal(rd(rtc, 0x00), sec);
	assert_int_equal(rd(rtc, 0x02), min);
	assert_int_equal(rd(rtc, 0x04), hour);
	assert_int_equal(rd(rtc, 0x06), dow);
	assert_int_equal(rd(rtc, 0x07), dom);
	assert_int_equal(rd(rtc, 0x08), mon);
	assert_int_equal(rd(rtc, 0x09), year);
	assert_int_equal(rd(rtc, 0x32), century);
}

static void test_time_bcd_24h(void **state)
{
	struct fixture *fx = *state;
	assert_int_equal(rd(fx->rtc, 0x0b), 0x02);
	expect_time(fx->rtc, 0x56, 0x45, 0x13, 5, 0x29, 0x02, 0x24, 0x20);
	fx->clk.wall += 4; /* time follows the host clock */
	assert_int_equal(rd(fx->rtc, 0x00), 0x00);
	assert_int_equal(rd(fx->rtc, 0x02), 0x46);
}

static void test_time_formats(void **state)
{
	struct fixture *fx = *state;
	wr(fx->rtc, 0x0b, 0x06); /* binary, 24h */
	expect_time(fx->rtc, 56, 45, 13, 5, 29, 2, 24, 20);
	wr(fx->rtc, 0x0b, 0x04); /* binary, 12h */
	assert_int_equal(rd(fx->rtc, 0x04), 0x81);
	wr(fx->rtc, 0x0b, 0x00); /* BCD, 12h */
	assert_int_equal(rd(fx->rtc, 0x04), 0x81);
	fx->clk.wall = T_2024_02_29_000500;
	assert_int_equal(rd(fx->rtc, 0x04), 0x12); /* 12 AM */
	fx->clk.wall += 12 * 3600;
	assert_int_equal(rd(fx->rtc, 0x04), 0x92); /* 12 PM */
	wr(fx->rtc, 0x0b, 0x04);
	assert_int_equal(rd(fx->rtc, 0x04), 0x8c);
	fx->clk.wall -= 12 * 3600;
	assert_int_equal(rd(fx->rtc, 0x04), 0x0c);
}

static void test_set_time(void **state)
{
	struct fixture *fx = *state;
	wr(fx->rtc, 0x0b, 0x92); /* SET | UIE: UIE is dropped */
	assert_int_equal(rd(fx->rtc, 0x0b), 0x82);
	fx->clk.wall += 100;
	assert_int_equal(rd(fx->rtc, 0x00), 0x56); /* frozen */
	wr(fx->rtc, 0x00, 0x50);
	wr(fx->rtc, 0x02, 0x59);
	wr(fx->rtc, 0x04, 0x23);
	wr(fx->rtc, 0x07, 0x31);
	wr(fx->rtc, 0x08, 0x12);
	wr(fx->rtc, 0x09, 0x99);
	wr(fx->rtc, 0x32, 0x19);
	assert_int_equal(rd(fx->rtc, 0x09), 0x99);
	wr(fx->rtc, 0x0b, 0x02);
	expect_time(fx->rtc, 0x50, 0x59, 0x23, 6, 0x31, 0x12, 0x99, 0x19);
	fx->clk.wall += 15; /* runs on from the set time, over the century */
	expect_time(fx->rtc, 0x05, 0x00, 0x00, 7, 0x01, 0x01, 0x00, 0x20);
	cmos_rtc_reset(fx->rtc); /* the offset is battery-backed */
	assert_int_equal(rd(fx->rtc, 0x09), 0x00);
	assert_int_equal(rd(fx->rtc, 0x32), 0x20);
}

static void test_write_while_running(void **state)
{
	struct fixture *fx = *state;
	wr(fx->rtc, 0x02, 0x10);
	assert_int_equal(rd(fx->rtc, 0x02), 0x10);
	assert_int_equal(rd(fx->rtc, 0x00), 0x56);
	assert_int_equal(rd(fx->rtc, 0x04), 0x13);
	fx->clk.wall += 4;
	assert_int_equal(rd(fx->rtc, 0x00), 0x00);
	assert_int_equal(rd(fx->rtc, 0x02), 0x11);
	/* Binary 12-hour write: 3 PM. */
	wr(fx->rtc, 0x0b, 0x04);
	wr(fx->rtc, 0x04, 0x83);
	wr(fx->rtc, 0x0b, 0x02);
	assert_int_equal(rd(fx->rtc, 0x04), 0x15);
}

static void test_uip(void **state)
{
	struct fixture *fx = *state;
	fx->clk.mono = 5 * NS + NS / 2;
	assert_int_equal(rd(fx->rtc, 0x0a), 0x26);
	fx->clk.mono = 6 * NS - 1000;
	assert_int_equal(rd(fx->rtc, 0x0a), 0xa6);
	fx->clk.mono = 6 * NS - 244000;
	assert_int_equal(rd(fx->rtc, 0x0a), 0xa6);
	fx->clk.mono = 6 * NS - 244001;
	assert_int_equal(rd(fx->rtc, 0x0a), 0x26);
	fx->clk.mono = 6 * NS;
	assert_int_equal(rd(fx->rtc, 0x0a), 0x26);
	/* The guest cannot write UIP; divider and rate bits are stored. */
	wr(fx->rtc, 0x0a, 0xa3);
	assert_int_equal(rd(fx->rtc, 0x0a), 0x23);
	/* No update cycle while SET, nor with the divider held in reset. */
	fx->clk.mono = 7 * NS - 1000;
	assert_int_equal(rd(fx->rtc, 0x0a), 0xa3);
	wr(fx->rtc, 0x0b, 0x82);
	assert_int_equal(rd(fx->rtc, 0x0a), 0x23);
	wr(fx->rtc, 0x0b, 0x02);
	wr(fx->rtc, 0x0a, 0x70);
	assert_int_equal(rd(fx->rtc, 0x0a), 0x70);
}

static void test_reg_c_flags(void **state)
{
	struct fixture *fx = *state;
	wr(fx->rtc, 0x0a, 0x20); /* no periodic rate */
	fx->clk.mono = NS / 2;
	assert_int_equal(rd(fx->rtc, 0x0c), 0x00); /* same second as create */
	fx->clk.mono = NS + NS / 10;
	assert_int_equal(rd(fx->rtc, 0x0c), 0x10); /* an update ended: UF */
	assert_int_equal(rd(fx->rtc, 0x0c), 0x00); /* read-cleared */
	fx->clk.mono = NS + NS / 5;
	assert_int_equal(rd(fx->rtc, 0x0c), 0x00);
	wr(fx->rtc, 0x0b, 0x12); /* UIE */
	fx->clk.mono = 3 * NS;
	assert_int_equal(rd(fx->rtc, 0x0c), 0x90); /* IRQF | UF */
	wr(fx->rtc, 0x0a, 0x2f);		   /* 2 Hz periodic rate */
	wr(fx->rtc, 0x0b, 0x42);		   /* PIE only */
	fx->clk.mono = 3 * NS + NS / 10;
	assert_int_equal(rd(fx->rtc, 0x0c), 0x00);
	fx->clk.mono = 3 * NS + 6 * NS / 10;
	assert_int_equal(rd(fx->rtc, 0x0c), 0xc0); /* IRQF | PF */
	fx->clk.mono = 4 * NS + NS / 5;
	assert_int_equal(rd(fx->rtc, 0x0c), 0xd0); /* IRQF | PF | UF */
	/* C and D are read-only; D reports valid RAM and time. */
	wr(fx->rtc, 0x0c, 0xff);
	wr(fx->rtc, 0x0d, 0x00);
	assert_int_equal(rd(fx->rtc, 0x0c), 0x00);
	assert_int_equal(rd(fx->rtc, 0x0d), 0x80);
	/* Reset drops the interrupt enables. */
	wr(fx->rtc, 0x0b, 0x7a);
	cmos_rtc_reset(fx->rtc);
	assert_int_equal(rd(fx->rtc, 0x0b), 0x02);
}

static void test_nvram_index(void **state)
{
	struct fixture *fx = *state;
	wr(fx->rtc, 0x40, 0x5a);
	wr(fx->rtc, 0x7f, 0xa5);
	wr(fx->rtc, 0x01, 0x33); /* alarm registers are plain storage */
	assert_int_equal(rd(fx->rtc, 0x40), 0x5a);
	assert_int_equal(rd(fx->rtc, 0x7f), 0xa5);
	assert_int_equal(rd(fx->rtc, 0x01), 0x33);
	assert_int_equal(cmos_rtc_nmi_masked(fx->rtc), 0);
	cmos_rtc_ops.write(fx->rtc, 0, 1, 0xc0); /* NMI masked, index 0x40 */
	assert_int_equal(cmos_rtc_nmi_masked(fx->rtc), 1);
	assert_int_equal(cmos_rtc_ops.read(fx->rtc, 1, 1), 0x5a);
	assert_int_equal(cmos_rtc_ops.read(fx->rtc, 0, 1), 0xff); /* index port is write-only */
	/* outw(0x70): index in the low byte, data in the high byte. */
	cmos_rtc_ops.write(fx->rtc, 0, 2, 0x6641);
	assert_int_equal(cmos_rtc_nmi_masked(fx->rtc), 0);
	assert_int_equal(rd(fx->rtc, 0x41), 0x66);
}

static void test_memory_bytes(void **state)
{
	struct fixture *fx = *state;
	struct fake_clock clk = {0, 0};
	struct cmos_rtc *r;
	const struct cmos_rtc_mem big = {3ull << 30, 5ull << 30, 8};
	const struct cmos_rtc_mem small = {8ull << 20, 0, 1};
	const struct cmos_rtc_mem tiny = {512ull << 10, 0, 1};

	assert_int_equal(rd(fx->rtc, 0x14), 0x06);
	assert_int_equal(rd(fx->rtc, 0x15), 0x80); /* 640 KiB base */
	assert_int_equal(rd(fx->rtc, 0x16), 0x02);
	assert_int_equal(rd(fx->rtc, 0x17), 0x00); /* 63 MiB extended = 0xfc00 KiB */
	assert_int_equal(rd(fx->rtc, 0x18), 0xfc);
	assert_int_equal(rd(fx->rtc, 0x30), 0x00);
	assert_int_equal(rd(fx->rtc, 0x31), 0xfc);
	assert_int_equal(rd(fx->rtc, 0x34), 0x00); /* 496 MiB / 64 KiB = 0x1f00 */
	assert_int_equal(rd(fx->rtc, 0x35), 0x1f);
	assert_int_equal(rd(fx->rtc, 0x5b), 0);
	assert_int_equal(rd(fx->rtc, 0x5c), 0);
	assert_int_equal(rd(fx->rtc, 0x5d), 0);
	assert_int_equal(rd(fx->rtc, 0x5f), 1);

	assert_int_equal(cmos_rtc_create(fake_src(&clk), &big, &r), 0);
	assert_int_equal(rd(r, 0x34), 0x00); /* (3 GiB - 16 MiB) / 64 KiB = 0xbf00 */
	assert_int_equal(rd(r, 0x35), 0xbf);
	assert_int_equal(rd(r, 0x5b), 0x00); /* 5 GiB / 64 KiB = 0x014000 */
	assert_int_equal(rd(r, 0x5c), 0x40);
	assert_int_equal(rd(r, 0x5d), 0x01);
	assert_int_equal(rd(r, 0x5f), 7);
	cmos_rtc_destroy(r);

	assert_int_equal(cmos_rtc_create(fake_src(&clk), &small, &r), 0);
	assert_int_equal(rd(r, 0x17), 0x00); /* 7 MiB = 0x1c00 KiB */
	assert_int_equal(rd(r, 0x18), 0x1c);
	assert_int_equal(rd(r, 0x34), 0);
	assert_int_equal(rd(r, 0x35), 0);
	assert_int_equal(rd(r, 0x5f), 0);
	cmos_rtc_destroy(r);

	assert_int_equal(cmos_rtc_create(fake_src(&clk), &tiny, &r), 0);
	assert_int_equal(rd(r, 0x17), 0);
	assert_int_equal(rd(r, 0x18), 0);
	cmos_rtc_destroy(r);
}

static void test_create_rejects(void **state)
{
	struct fake_clock clk = {0, 0};
	struct cmos_rtc *r = NULL;
	const struct cmos_rtc_mem nocpu = {1ull << 30, 0, 0};
	const struct cmos_rtc_mem many = {1ull << 30, 0, 257};
	const struct cmos_rtc_mem huge = {(4ull << 30) + 4096, 0, 1};
	(void)state;
	assert_int_equal(cmos_rtc_create(fake_src(&clk), &nocpu, &r), -EINVAL);
	assert_null(r);
	assert_int_equal(cmos_rtc_create(fake_src(&clk), &many, &r), -EINVAL);
	assert_int_equal(cmos_rtc_create(fake_src(&clk), &huge, &r), -EINVAL);
	assert_int_equal(cmos_rtc_create(fake_src(&clk), NULL, &r), -EINVAL);
}

static void test_save_load(void **state)
{
	struct fixture *fx = *state;
	struct fake_clock clk2 = {42 * NS, T_2024_02_29_134556 + 1000};
	struct cmos_rtc_state st, st2;
	struct cmos_rtc *r2;

	wr(fx->rtc, 0x09, 0x30); /* year 2030 */
	wr(fx->rtc, 0x50, 0xee);
	cmos_rtc_ops.write(fx->rtc, 0, 1, 0x80 | 0x50);
	cmos_rtc_save(fx->rtc, &st);
	assert_int_equal(st.index, 0x50);
	assert_int_equal(st.nmi_masked, 1);

	assert_int_equal(cmos_rtc_create(fake_src(&clk2), &mem_512m, &r2), 0);
	assert_int_equal(cmos_rtc_load(r2, &st), 0);
	cmos_rtc_save(r2, &st2);
	assert_memory_equal(&st, &st2, sizeof(st));
	assert_int_equal(cmos_rtc_ops.read(r2, 1, 1), 0xee); /* index restored */
	assert_int_equal(cmos_rtc_nmi_masked(r2), 1);
	/* The guest offset travels: 1000 s later on the new host, still in 2030. */
	assert_int_equal(rd(r2, 0x09), 0x30);
	assert_int_equal(rd(r2, 0x02), 0x02);
	assert_int_equal(rd(r2, 0x00), 0x36);
	assert_int_equal(rd(r2, 0x04), 0x14);

	/* A frozen image (SET) round-trips too. */
	wr(fx->rtc, 0x0b, 0x82);
	wr(fx->rtc, 0x00, 0x11);
	cmos_rtc_save(fx->rtc, &st);
	assert_int_equal(cmos_rtc_load(r2, &st), 0);
	assert_int_equal(rd(r2, 0x00), 0x11);
	wr(r2, 0x0b, 0x02);
	assert_int_equal(rd(r2, 0x00), 0x11);
	assert_int_equal(rd(r2, 0x09), 0x30);
	cmos_rtc_destroy(r2);
}

static void test_load_rejects(void **state)
{
	struct fixture *fx = *state;
	struct cmos_rtc_state good, bad, after;

	wr(fx->rtc, 0x60, 0x12);
	cmos_rtc_save(fx->rtc, &good);
#define REJECT(stmt)                                                                               \
	do {                                                                                       \
		bad = good;                                                                        \
		stmt;                                                                              \
		assert_int_equal(cmos_rtc_load(fx->rtc, &bad), -EINVAL);                           \
	} while (0)
	REJECT(bad.index = 0x80);
	REJECT(bad.nmi_masked = 2);
	REJECT(bad.reserved[3] = 1);
	REJECT(bad.offset_s = 1ll << 40);
	REJECT(bad.offset_s = -(1ll << 40));
	REJECT(bad.ram[0x0a] |= 0x80);
	REJECT(bad.ram[0x0c] = 0x10);
	REJECT(bad.ram[0x0d] = 0x00);
	REJECT(bad.ram[0x0b] = 0x92); /* SET with UIE */
	REJECT(bad.ram[0x00] = 0x12); /* time slot used while running */
	REJECT(bad.ram[0x32] = 0x20);
#undef REJECT
	cmos_rtc_save(fx->rtc, &after);
	assert_memory_equal(&good, &after, sizeof(good));
	assert_int_equal(rd(fx->rtc, 0x60), 0x12);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_time_bcd_24h, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_time_formats, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_set_time, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_write_while_running, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_uip, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reg_c_flags, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_nvram_index, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_memory_bytes, setup, teardown),
	    cmocka_unit_test(test_create_rejects),
	    cmocka_unit_test_setup_teardown(test_save_load, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_load_rejects, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
