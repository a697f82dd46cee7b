/* Unit tests for the ACPI PM register block, driven through a real PIO bus with a fake SCI line,
 * exit sink and clock. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "arch/x86/layout.h"
#include "core/bus.h"
#include "hw/acpi_pm.h"

#define PM_STS (PORT_ACPI_PM + 0)
#define PM_EN (PORT_ACPI_PM + 2)
#define PM_CNT (PORT_ACPI_PM + 4)
#define PM_TMR (PORT_ACPI_PM + 8)
#define NS_PER_S 1000000000ull

struct fixture {
	struct bus pio;
	struct acpi_pm pm;
	uint64_t now_ns;
	int sci_level, sci_calls;
	unsigned sci_gsi;
	int exits;
	enum vm_exit_kind exit_kind;
	int exit_code;
};

static void fake_irq_set(void *ctx, unsigned gsi, int level)
{
	struct fixture *f = ctx;

	f->sci_gsi = gsi;
	f->sci_level = level;
	f->sci_calls++;
}

static void fake_exit(void *ctx, enum vm_exit_kind kind, int code)
{
	struct fixture *f = ctx;

	f->exits++;
	f->exit_kind = kind;
	f->exit_code = code;
}

static uint64_t fake_mono_ns(void *ctx)
{
	return ((struct fixture *)ctx)->now_ns;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->now_ns = 5 * NS_PER_S; /* the timer counts from init, not from clock zero */
	assert_int_equal(bus_init(&f->pio, BUS_PIO), 0);
	struct irq_line sci = {fake_irq_set, f, GSI_ACPI_SCI};
	struct exit_sink ex = {fake_exit, f};
	struct clock_src clk = {fake_mono_ns, NULL, f};
	assert_int_equal(acpi_pm_init(&f->pm, sci, ex, clk), 0);
	assert_int_equal(acpi_pm_attach(&f->pm, &f->pio), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	bus_destroy(&f->pio);
	acpi_pm_destroy(&f->pm);
	free(f);
	return 0;
}

static uint64_t rd(struct fixture *f, uint64_t port, unsigned size)
{
	uint64_t v = 0;

	assert_int_equal(bus_read(&f->pio, port, size, &v), 1);
	return v;
}

static void wr(struct fixture *f, uint64_t port, unsigned size, uint64_t v)
{
	assert_int_equal(bus_write(&f->pio, port, size, v), 1);
}

static uint32_t expected_ticks(uint64_t ns)
{
	return (uint32_t)((unsigned __int128)ns * ACPI_PM_TMR_HZ / NS_PER_S);
}

static void test_attach_range(void **state)
{
	struct fixture *f = *state;
	uint64_t v;

	assert_int_equal(bus_read(&f->pio, PORT_ACPI_PM - 1, 1, &v), 0);
	assert_int_equal(bus_read(&f->pio, PORT_ACPI_PM + ACPI_PM_LEN, 1, &v), 0);
	assert_int_equal(rd(f, PORT_ACPI_PM + 6, 2), 0); /* hole between CNT and TMR */
	assert_int_equal(acpi_pm_attach(&f->pm, &f->pio), -EEXIST);
}

static void test_sci_en_reads_one(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(rd(f, PM_CNT, 2), ACPI_PM1_CNT_SCI_EN);
	wr(f, PM_CNT, 2, 0);
	assert_int_equal(rd(f, PM_CNT, 2) & ACPI_PM1_CNT_SCI_EN, ACPI_PM1_CNT_SCI_EN);
	assert_int_equal(rd(f, PM_CNT, 1), ACPI_PM1_CNT_SCI_EN);
}

static void test_s5_poweroff(void **state)
{
	struct fixture *f = *state;
	uint16_t typ = ACPI_PM_SLP_TYP_S5 << ACPI_PM1_CNT_SLP_TYP_SHIFT;

	/* Linux writes SLP_TYP first, then SLP_TYP | SLP_EN. */
	wr(f, PM_CNT, 2, typ | ACPI_PM1_CNT_SCI_EN);
	assert_int_equal(f->exits, 0);
	assert_int_equal(rd(f, PM_CNT, 2), typ | ACPI_PM1_CNT_SCI_EN);
	wr(f, PM_CNT, 2, typ | ACPI_PM1_CNT_SLP_EN | ACPI_PM1_CNT_SCI_EN);
	assert_int_equal(f->exits, 1);
	assert_int_equal(f->exit_kind, VM_EXIT_POWEROFF);
	assert_int_equal(f->exit_code, 0);
	assert_int_equal(rd(f, PM_CNT, 2) & ACPI_PM1_CNT_SLP_EN, 0); /* write-only */
}

static void test_s5_high_byte_write(void **state)
{
	struct fixture *f = *state;
	uint16_t v = ACPI_PM_SLP_TYP_S5 << ACPI_PM1_CNT_SLP_TYP_SHIFT | ACPI_PM1_CNT_SLP_EN;

	wr(f, PM_CNT + 1, 1, v >> 8);
	assert_int_equal(f->exits, 1);
	assert_int_equal(f->exit_kind, VM_EXIT_POWEROFF);
}

static void test_other_sleep_types_ignored(void **state)
{
	struct fixture *f = *state;

	for (unsigned typ = 0; typ < 8; typ++) {
		if (typ == ACPI_PM_SLP_TYP_S5)
			continue;
		wr(f, PM_CNT, 2, typ << ACPI_PM1_CNT_SLP_TYP_SHIFT | ACPI_PM1_CNT_SLP_EN);
	}
	assert_int_equal(f->exits, 0);
	/* SLP_EN alone with a stored S5 type does power off. */
	wr(f, PM_CNT, 2, ACPI_PM_SLP_TYP_S5 << ACPI_PM1_CNT_SLP_TYP_SHIFT);
	assert_int_equal(f->exits, 0);
	wr(f, PM_CNT + 1, 1, ACPI_PM1_CNT_SLP_EN >> 8 | ACPI_PM_SLP_TYP_S5 << 2);
	assert_int_equal(f->exits, 1);
}

static void test_timer(void **state)
{
	struct fixture *f = *state;
	uint64_t t0 = f->now_ns;
	static const uint64_t deltas[] = {0,
					  1,
					  279,
					  1000,
					  NS_PER_S,
					  1500000000ull,
					  3600 * NS_PER_S,
					  10000 * NS_PER_S + 123456789,
					  400ull * 24 * 3600 * NS_PER_S};

	for (size_t i = 0; i < sizeof(deltas) / sizeof(deltas[0]); i++) {
		f->now_ns = t0 + deltas[i];
		assert_int_equal(rd(f, PM_TMR, 4), expected_ticks(deltas[i]));
	}
	f->now_ns = t0 + NS_PER_S;
	assert_int_equal(rd(f, PM_TMR, 4), 3579545);
	assert_int_equal(rd(f, PM_TMR, 2), 3579545 & 0xffff);
	assert_int_equal(rd(f, PM_TMR + 2, 2), 3579545 >> 16);
	/* Read-only. */
	wr(f, PM_TMR, 4, 0);
	assert_int_equal(rd(f, PM_TMR, 4), 3579545);
	/* A clock that steps backwards does not make the counter jump. */
	f->now_ns = t0 - 1;
	assert_int_equal(rd(f, PM_TMR, 4), 0);
}

static void test_tmr_sts(void **state)
{
	struct fixture *f = *state;
	uint64_t t0 = f->now_ns;
	uint64_t half = (1ull << 31) * NS_PER_S / ACPI_PM_TMR_HZ + 1; /* past bit 31 flipping */

	assert_int_equal(rd(f, PM_STS, 2), 0);
	wr(f, PM_EN, 2, ACPI_PM1_EN_TMR);
	f->now_ns = t0 + half;
	assert_int_equal(rd(f, PM_STS, 2) & ACPI_PM1_STS_TMR, ACPI_PM1_STS_TMR);
	assert_int_equal(f->sci_level, 1);
	assert_int_equal(f->sci_gsi, GSI_ACPI_SCI);
	wr(f, PM_STS, 2, ACPI_PM1_STS_TMR);
	assert_int_equal(rd(f, PM_STS, 2), 0);
	assert_int_equal(f->sci_level, 0);
}

static void test_power_button(void **state)
{
	struct fixture *f = *state;

	/* Not enabled: latched, no SCI. */
	assert_int_equal(acpi_pm_power_button(&f->pm), -EAGAIN);
	assert_int_equal(rd(f, PM_STS, 2), ACPI_PM1_STS_PWRBTN);
	assert_int_equal(f->sci_level, 0);
	/* Enabling with the status latched raises the (level) SCI. */
	wr(f, PM_EN, 2, ACPI_PM1_EN_PWRBTN);
	assert_int_equal(f->sci_level, 1);
	/* Writing 0 clears nothing; writing the bit clears it and drops the SCI. */
	wr(f, PM_STS, 2, 0);
	assert_int_equal(rd(f, PM_STS, 2), ACPI_PM1_STS_PWRBTN);
	wr(f, PM_STS + 1, 1, ACPI_PM1_STS_PWRBTN >> 8);
	assert_int_equal(rd(f, PM_STS, 2), 0);
	assert_int_equal(f->sci_level, 0);
	/* Enabled: delivered at once. */
	assert_int_equal(acpi_pm_power_button(&f->pm), 0);
	assert_int_equal(f->sci_level, 1);
	/* A 32-bit access at 0x600 sees status and enable. */
	assert_int_equal(rd(f, PM_STS, 4),
			 ACPI_PM1_STS_PWRBTN | (uint32_t)ACPI_PM1_EN_PWRBTN << 16);
	wr(f, PM_STS, 4, ACPI_PM1_STS_PWRBTN); /* clears status, writes enable 0 */
	assert_int_equal(rd(f, PM_STS, 4), 0);
	assert_int_equal(f->sci_level, 0);
	assert_int_equal(f->exits, 0);
}

static void test_enable_bits(void **state)
{
	struct fixture *f = *state;

	wr(f, PM_EN, 2, 0xffff);
	assert_int_equal(rd(f, PM_EN, 2),
			 ACPI_PM1_EN_TMR | ACPI_PM1_EN_GBL | ACPI_PM1_EN_PWRBTN | ACPI_PM1_EN_RTC);
	wr(f, PM_EN, 1, 0);
	assert_int_equal(rd(f, PM_EN, 2), ACPI_PM1_EN_PWRBTN | ACPI_PM1_EN_RTC);
	/* Status bits cannot be set by writing. */
	wr(f, PM_STS, 2, 0xffff);
	assert_int_equal(rd(f, PM_STS, 2), 0);
}

static void test_reset(void **state)
{
	struct fixture *f = *state;

	wr(f, PM_EN, 2, ACPI_PM1_EN_PWRBTN);
	wr(f, PM_CNT, 2, 3 << ACPI_PM1_CNT_SLP_TYP_SHIFT);
	assert_int_equal(acpi_pm_power_button(&f->pm), 0);
	assert_int_equal(f->sci_level, 1);
	acpi_pm_reset(&f->pm);
	assert_int_equal(f->sci_level, 0);
	assert_int_equal(rd(f, PM_STS, 2), 0);
	assert_int_equal(rd(f, PM_EN, 2), 0);
	assert_int_equal(rd(f, PM_CNT, 2), ACPI_PM1_CNT_SCI_EN);
}

static void test_save_load(void **state)
{
	struct fixture *f = *state;
	struct acpi_pm_state st;
	struct acpi_pm other;
	struct fixture g = {0};

	wr(f, PM_EN, 2, ACPI_PM1_EN_PWRBTN);
	wr(f, PM_CNT, 2, 2 << ACPI_PM1_CNT_SLP_TYP_SHIFT);
	assert_int_equal(acpi_pm_power_button(&f->pm), 0);
	f->now_ns += 2 * NS_PER_S;
	acpi_pm_save(&f->pm, &st);
	assert_int_equal(st.version, ACPI_PM_STATE_VERSION);
	assert_int_equal(st.sts, ACPI_PM1_STS_PWRBTN);
	assert_int_equal(st.en, ACPI_PM1_EN_PWRBTN);
	assert_int_equal(st.cnt, 2 << ACPI_PM1_CNT_SLP_TYP_SHIFT);
	assert_int_equal(st.tmr_ticks, 2 * 3579545ull);

	/* Restore into a device whose clock reads something else entirely. */
	g.now_ns = 777 * NS_PER_S;
	struct irq_line sci = {fake_irq_set, &g, GSI_ACPI_SCI};
	struct exit_sink ex = {fake_exit, &g};
	struct clock_src clk = {fake_mono_ns, NULL, &g};
	assert_int_equal(acpi_pm_init(&other, sci, ex, clk), 0);
	assert_int_equal(bus_init(&g.pio, BUS_PIO), 0);
	assert_int_equal(acpi_pm_attach(&other, &g.pio), 0);
	assert_int_equal(acpi_pm_load(&other, &st), 0);
	assert_int_equal(g.sci_level, 1);
	assert_int_equal(rd(&g, PM_STS, 2), ACPI_PM1_STS_PWRBTN);
	assert_int_equal(rd(&g, PM_EN, 2), ACPI_PM1_EN_PWRBTN);
	assert_int_equal(rd(&g, PM_CNT, 2), 2 << ACPI_PM1_CNT_SLP_TYP_SHIFT | ACPI_PM1_CNT_SCI_EN);
	assert_int_equal(rd(&g, PM_TMR, 4), 2 * 3579545u);
	g.now_ns += NS_PER_S;
	assert_int_equal(rd(&g, PM_TMR, 4), 3 * 3579545u);
	bus_destroy(&g.pio);
	acpi_pm_destroy(&other);
}

static void test_load_rejects(void **state)
{
	struct fixture *f = *state;
	struct acpi_pm_state st, bad;

	wr(f, PM_EN, 2, ACPI_PM1_EN_TMR);
	acpi_pm_save(&f->pm, &st);

	bad = st;
	bad.version = 2;
	assert_int_equal(acpi_pm_load(&f->pm, &bad), -EINVAL);
	bad = st;
	bad.sts = 1u << 15;
	assert_int_equal(acpi_pm_load(&f->pm, &bad), -EINVAL);
	bad = st;
	bad.en = 1u << 6; /* reserved */
	assert_int_equal(acpi_pm_load(&f->pm, &bad), -EINVAL);
	bad = st;
	bad.cnt = ACPI_PM1_CNT_SLP_EN | ACPI_PM_SLP_TYP_S5 << ACPI_PM1_CNT_SLP_TYP_SHIFT;
	assert_int_equal(acpi_pm_load(&f->pm, &bad), -EINVAL);
	bad = st;
	bad.cnt = 1u << 3;
	assert_int_equal(acpi_pm_load(&f->pm, &bad), -EINVAL);
	/* Nothing changed, and loading never powers off. */
	assert_int_equal(rd(f, PM_EN, 2), ACPI_PM1_EN_TMR);
	assert_int_equal(f->exits, 0);
	/* SCI_EN in a saved control value is accepted (it always reads as 1). */
	bad = st;
	bad.cnt = ACPI_PM1_CNT_SCI_EN;
	assert_int_equal(acpi_pm_load(&f->pm, &bad), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_attach_range, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sci_en_reads_one, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_s5_poweroff, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_s5_high_byte_write, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_other_sleep_types_ignored, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_timer, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tmr_sts, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_power_button, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_enable_bits, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reset, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_save_load, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_load_rejects, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
