/* Unit tests for the local APIC timer on a fake clock: one-shot, the divide configuration,
 * periodic (no drift, skipped periods, the minimum period), masked, and TSC-deadline mode.
 * Fixture: lapic_test_env.h. */
#include "lapic_test_env.h"

/* ---- timer ---- */

static void test_timer_oneshot(void **state)
{
	struct fx *f = *state;
	sw_enable(f);
	wr(f, R_TDCR, 0xb); /* divide by 1 */
	wr(f, R_LVT_TIMER, 0x20);
	f->now = 5000;
	wr(f, R_TMICT, 1000);
	assert_int_equal(lapic_timer_deadline(&f->l), 6000);
	assert_int_equal(rd(f, R_TMCCT), 1000);
	f->now = 5400;
	assert_int_equal(rd(f, R_TMCCT), 600);
	lapic_timer_tick(&f->l, 5999);
	assert_int_equal(vec_bit(f, R_IRR, 0x20), 0);
	assert_int_equal(f->kicks, 0);
	f->now = 6000;
	assert_int_equal(rd(f, R_TMCCT), 0); /* expired, not yet ticked */
	lapic_timer_tick(&f->l, 6000);
	assert_int_equal(vec_bit(f, R_IRR, 0x20), 1);
	assert_int_equal(vec_bit(f, R_TMR, 0x20), 0);
	assert_int_equal(f->kicks, 1);
	assert_int_equal(lapic_timer_deadline(&f->l), UINT64_MAX);
	assert_int_equal(rd(f, R_TMCCT), 0);
	assert_int_equal(rd(f, R_TMICT), 1000);
	lapic_timer_tick(&f->l, 100000); /* fires once only */
	assert_int_equal(f->kicks, 1);
	/* Re-arming and stopping with a zero initial count. */
	wr(f, R_TMICT, 50);
	assert_int_equal(lapic_timer_deadline(&f->l), 6050);
	wr(f, R_TMICT, 0);
	assert_int_equal(lapic_timer_deadline(&f->l), UINT64_MAX);
	assert_int_equal(rd(f, R_TMCCT), 0);
}

static void test_timer_divide_config(void **state)
{
	struct fx *f = *state;
	static const struct {
		uint32_t tdcr, div;
	} tab[] = {{0x0, 2},  {0x1, 4},	 {0x2, 8},   {0x3, 16},
		   {0x8, 32}, {0x9, 64}, {0xa, 128}, {0xb, 1}};
	sw_enable(f);
	wr(f, R_LVT_TIMER, 0x20);
	for (unsigned i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
		f->now = 10000;
		wr(f, R_TDCR, tab[i].tdcr);
		wr(f, R_TMICT, 1000);
		assert_int_equal(lapic_timer_deadline(&f->l), 10000 + 1000ull * tab[i].div);
		f->now = 10000 + 250ull * tab[i].div;
		assert_int_equal(rd(f, R_TMCCT), 750);
	}
	/* A divide change applies from the next count. */
	f->now = 20000;
	wr(f, R_TDCR, 0xb);
	wr(f, R_TMICT, 1000);
	wr(f, R_TDCR, 0x0);
	assert_int_equal(lapic_timer_deadline(&f->l), 21000);
	f->now = 20500;
	assert_int_equal(rd(f, R_TMCCT), 500);
	wr(f, R_TMICT, 1000);
	assert_int_equal(lapic_timer_deadline(&f->l), 22500);
}

static void test_timer_periodic(void **state)
{
	struct fx *f = *state;
	sw_enable(f);
	wr(f, R_TDCR, 0xb);
	wr(f, R_LVT_TIMER, TIMER_PERIODIC | 0x21);
	f->now = 10000;
	wr(f, R_TMICT, 1000000); /* 1 ms */
	assert_int_equal(lapic_timer_deadline(&f->l), 1010000);
	/* A late tick re-arms from the previous deadline (no drift). */
	f->now = 1010300;
	lapic_timer_tick(&f->l, f->now);
	assert_int_equal(vec_bit(f, R_IRR, 0x21), 1);
	assert_int_equal(lapic_timer_deadline(&f->l), 2010000);
	assert_int_equal(rd(f, R_TMCCT), 999700);
	lapic_ack(&f->l, 0x21);
	wr(f, R_EOI, 0);
	/* Far behind: missed periods are skipped, one interrupt. */
	f->now = 5510000;
	assert_int_equal(rd(f, R_TMCCT), 500000); /* still computed within the period */
	lapic_timer_tick(&f->l, f->now);
	assert_int_equal(vec_bit(f, R_IRR, 0x21), 1);
	assert_int_equal(lapic_timer_deadline(&f->l), 6010000);
	assert_int_equal(f->kicks, 2);
	/* Exactly on a deadline: the next is one period later. */
	lapic_timer_tick(&f->l, 6010000);
	assert_int_equal(lapic_timer_deadline(&f->l), 7010000);
	/* Periodic -> one-shot takes effect at expiry. */
	wr(f, R_LVT_TIMER, 0x21);
	assert_int_equal(lapic_timer_deadline(&f->l), 7010000);
	lapic_timer_tick(&f->l, 7010000);
	assert_int_equal(lapic_timer_deadline(&f->l), UINT64_MAX);
}

static void test_timer_periodic_min_period(void **state)
{
	struct fx *f = *state;
	sw_enable(f);
	wr(f, R_TDCR, 0xb);
	wr(f, R_LVT_TIMER, TIMER_PERIODIC | 0x21);
	wr(f, R_TMICT, 10);
	assert_int_equal(lapic_timer_deadline(&f->l), f->now + LAPIC_MIN_PERIOD_NS);
	assert_true(rd(f, R_TMCCT) <= 10);
	/* One-shot counts are not limited. */
	wr(f, R_LVT_TIMER, 0x21);
	wr(f, R_TMICT, 10);
	assert_int_equal(lapic_timer_deadline(&f->l), f->now + 10);
}

static void test_timer_masked(void **state)
{
	struct fx *f = *state;
	sw_enable(f);
	wr(f, R_TDCR, 0xb);
	wr(f, R_LVT_TIMER, LVT_MASKED | 0x22);
	wr(f, R_TMICT, 100);
	assert_int_equal(lapic_timer_deadline(&f->l), 1100);
	lapic_timer_tick(&f->l, 1100);
	assert_int_equal(vec_bit(f, R_IRR, 0x22), 0);
	assert_int_equal(f->kicks, 0);
	assert_int_equal(lapic_timer_deadline(&f->l), UINT64_MAX);
	/* Masked periodic keeps counting. */
	wr(f, R_LVT_TIMER, LVT_MASKED | TIMER_PERIODIC | 0x22);
	f->now = 2000;
	wr(f, R_TMICT, 300000);
	lapic_timer_tick(&f->l, 302000);
	assert_int_equal(lapic_timer_deadline(&f->l), 602000);
	assert_int_equal(lapic_pending_vector(&f->l), -1);
	/* Unmasking: the next expiry interrupts. */
	wr(f, R_LVT_TIMER, TIMER_PERIODIC | 0x22);
	lapic_timer_tick(&f->l, 602000);
	assert_int_equal(lapic_pending_vector(&f->l), 0x22);
	/* A software-disabled APIC masks the timer LVT. */
	wr(f, R_SVR, 0xff);
	assert_int_equal(rd(f, R_LVT_TIMER), LVT_MASKED | TIMER_PERIODIC | 0x22);
	wr(f, R_LVT_TIMER, TIMER_PERIODIC | 0x22);
	assert_int_equal(rd(f, R_LVT_TIMER) & LVT_MASKED, LVT_MASKED);
}

static void test_timer_tsc_deadline(void **state)
{
	struct fx *f = *state;
	sw_enable(f);
	/* Not in TSC-deadline mode: the MSR reads 0 and ignores writes. */
	assert_int_equal(lapic_msr_write(&f->l, MSR_TSC_DEADLINE, 5000), 0);
	assert_int_equal(msr(f, MSR_TSC_DEADLINE), 0);
	assert_int_equal(lapic_timer_deadline(&f->l), UINT64_MAX);

	wr(f, R_TMICT, 1000);
	wr(f, R_LVT_TIMER, TIMER_TSCDL | 0x23); /* switching mode disarms, clears TMICT */
	assert_int_equal(rd(f, R_TMICT), 0);
	assert_int_equal(lapic_timer_deadline(&f->l), UINT64_MAX);
	wr(f, R_TMICT, 1000); /* ignored in TSC-deadline mode */
	assert_int_equal(rd(f, R_TMICT), 0);
	assert_int_equal(rd(f, R_TMCCT), 0);
	assert_int_equal(lapic_timer_deadline(&f->l), UINT64_MAX);

	assert_int_equal(lapic_msr_write(&f->l, MSR_TSC_DEADLINE, 5000), 0);
	assert_int_equal(msr(f, MSR_TSC_DEADLINE), 5000);
	assert_int_equal(lapic_timer_deadline(&f->l), 5000); /* TSC ticks = ns, TSC 0 at 0 */
	lapic_set_tsc_base(&f->l, 700);
	assert_int_equal(lapic_timer_deadline(&f->l), 5700);
	lapic_timer_tick(&f->l, 5699);
	assert_int_equal(lapic_pending_vector(&f->l), -1);
	lapic_timer_tick(&f->l, 5700);
	assert_int_equal(lapic_pending_vector(&f->l), 0x23);
	assert_int_equal(msr(f, MSR_TSC_DEADLINE), 0); /* cleared when it fires */
	assert_int_equal(lapic_timer_deadline(&f->l), UINT64_MAX);

	/* Writing 0 disarms; a deadline in the past fires at the next tick. */
	assert_int_equal(lapic_msr_write(&f->l, MSR_TSC_DEADLINE, 9000), 0);
	assert_int_equal(lapic_msr_write(&f->l, MSR_TSC_DEADLINE, 0), 0);
	assert_int_equal(lapic_timer_deadline(&f->l), UINT64_MAX);
	assert_int_equal(lapic_msr_write(&f->l, MSR_TSC_DEADLINE, 1), 0);
	assert_int_equal(lapic_timer_deadline(&f->l), 701);
	/* Leaving TSC-deadline mode disarms and clears it. */
	wr(f, R_LVT_TIMER, 0x23);
	assert_int_equal(lapic_timer_deadline(&f->l), UINT64_MAX);
	wr(f, R_LVT_TIMER, TIMER_TSCDL | 0x23);
	assert_int_equal(msr(f, MSR_TSC_DEADLINE), 0);

	/* Another TSC rate: 2 GHz, so 2 ticks per ns. */
	struct fx *g = test_calloc(1, sizeof(*g));
	assert_int_equal(fx_init(g, 1, 0, 2000000), 0);
	wr(g, R_SVR, 0x1ff);
	wr(g, R_LVT_TIMER, TIMER_TSCDL | 0x23);
	assert_int_equal(lapic_msr_write(&g->l, MSR_TSC_DEADLINE, 8000), 0);
	assert_int_equal(lapic_timer_deadline(&g->l), 4000);
	assert_int_equal(lapic_msr_write(&g->l, MSR_TSC_DEADLINE, UINT64_MAX), 0);
	assert_true(lapic_timer_deadline(&g->l) > (1ull << 62));
	lapic_destroy(&g->l);
	test_free(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_timer_oneshot, setup_ap, teardown),
	    cmocka_unit_test_setup_teardown(test_timer_divide_config, setup_ap, teardown),
	    cmocka_unit_test_setup_teardown(test_timer_periodic, setup_ap, teardown),
	    cmocka_unit_test_setup_teardown(test_timer_periodic_min_period, setup_ap, teardown),
	    cmocka_unit_test_setup_teardown(test_timer_masked, setup_ap, teardown),
	    cmocka_unit_test_setup_teardown(test_timer_tsc_deadline, setup_ap, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
