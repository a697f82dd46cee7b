/* Unit tests for lapic_save/lapic_load: a round trip that keeps the timer running across a
 * restore at another time, one-shot, TSC-deadline and x2APIC state, KVM-style state without
 * timer_ns_left, and rejection or sanitising of bad state. Fixture: lapic_test_env.h. */
#include "lapic_test_env.h"

/* ---- save / load ---- */

static uint32_t st32(const struct lapic_state *s, unsigned reg)
{
	return (uint32_t)s->regs[reg] | (uint32_t)s->regs[reg + 1] << 8 |
	       (uint32_t)s->regs[reg + 2] << 16 | (uint32_t)s->regs[reg + 3] << 24;
}

static void test_save_load_round_trip(void **state)
{
	struct fx *f = *state;
	struct lapic_state s;
	sw_enable(f);
	wr(f, R_TPR, 0x20);
	wr(f, R_LDR, 0x02000000);
	wr(f, R_TDCR, 0xb);
	wr(f, R_LVT_TIMER, TIMER_PERIODIC | 0x30);
	lapic_deliver(&f->l, APIC_DM_FIXED, 0x51, 1);
	lapic_ack(&f->l, 0x51);
	lapic_deliver(&f->l, APIC_DM_FIXED, 0x44, 0);
	lapic_deliver(&f->l, APIC_DM_STARTUP, 0x12, 0);
	f->now = 10000;
	wr(f, R_TMICT, 1000000);
	f->now = 310000; /* 700 us left */
	lapic_save(&f->l, &s);
	assert_int_equal(s.timer_ns_left, 700000);
	assert_int_equal(st32(&s, R_TMCCT), 700000);
	assert_int_equal(st32(&s, R_PPR), 0x50);
	assert_int_equal(st32(&s, R_ISR + 0x20), 1u << (0x51 - 0x40));
	assert_int_equal(st32(&s, R_IRR + 0x20), 1u << (0x44 - 0x40));
	assert_int_equal(st32(&s, R_TMR + 0x20), 1u << (0x51 - 0x40));
	assert_int_equal(s.apic_base, 0xfee00800ull);
	assert_int_equal(s.events, LAPIC_EV_SIPI);

	/* Restore into a fresh LAPIC at another time: the timer continues. */
	struct fx *g = test_calloc(1, sizeof(*g));
	assert_int_equal(fx_init(g, 3, 0, TSC_KHZ), 0);
	g->now = 5000000;
	assert_int_equal(lapic_load(&g->l, &s), 0);
	assert_int_equal(lapic_timer_deadline(&g->l), 5700000);
	assert_int_equal(rd(g, R_TMCCT), 700000);
	assert_int_equal(rd(g, R_TPR), 0x20);
	assert_int_equal(rd(g, R_PPR), 0x50);
	assert_int_equal(rd(g, R_LDR), 0x02000000);
	assert_int_equal(rd(g, R_SVR), 0x1ff);
	assert_int_equal(vec_bit(g, R_ISR, 0x51), 1);
	assert_int_equal(vec_bit(g, R_TMR, 0x51), 1);
	assert_int_equal(vec_bit(g, R_IRR, 0x44), 0x1);
	uint8_t sv = 0;
	assert_int_equal(lapic_take_events(&g->l, &sv), LAPIC_EV_SIPI);
	assert_int_equal(sv, 0x12);
	lapic_timer_tick(&g->l, 5700000);
	assert_int_equal(lapic_timer_deadline(&g->l), 6700000); /* full period after */
	assert_int_equal(vec_bit(g, R_IRR, 0x30), 1);
	wr(g, R_EOI, 0);
	assert_int_equal(g->n_eoi, 1);
	assert_int_equal(g->eoi[0], 0x51);

	/* Saving the restored LAPIC gives the same register page back (modulo TMCCT). */
	struct lapic_state s2;
	g->now = 5000000;
	assert_int_equal(lapic_load(&g->l, &s), 0);
	lapic_save(&g->l, &s2);
	assert_memory_equal(s.regs, s2.regs, sizeof(s.regs));
	lapic_destroy(&g->l);
	test_free(g);
}

static void test_save_load_oneshot_tsc_and_x2apic(void **state)
{
	struct fx *f = *state;
	struct lapic_state s;
	/* An expired, not yet ticked one-shot saves 1 ns and fires right after the load. */
	sw_enable(f);
	wr(f, R_TDCR, 0xb);
	wr(f, R_LVT_TIMER, 0x31);
	wr(f, R_TMICT, 100);
	f->now = 2000;
	lapic_save(&f->l, &s);
	assert_int_equal(s.timer_ns_left, 1);
	f->now = 9000;
	assert_int_equal(lapic_load(&f->l, &s), 0);
	assert_int_equal(lapic_timer_deadline(&f->l), 9001);

	/* KVM-style state (no timer_ns_left): derived from TMCCT. */
	s.timer_ns_left = 0;
	s.regs[R_TMCCT] = 40;
	assert_int_equal(lapic_load(&f->l, &s), 0);
	assert_int_equal(lapic_timer_deadline(&f->l), 9040);
	s.regs[R_TMCCT] = 0; /* an expired one-shot stays disarmed */
	assert_int_equal(lapic_load(&f->l, &s), 0);
	assert_int_equal(lapic_timer_deadline(&f->l), UINT64_MAX);

	/* TSC deadline in x2APIC mode. */
	enter_x2apic(f);
	assert_int_equal(lapic_msr_write(&f->l, X2(R_LVT_TIMER), TIMER_TSCDL | 0x32), 0);
	assert_int_equal(lapic_msr_write(&f->l, MSR_TSC_DEADLINE, 12000), 0);
	assert_int_equal(lapic_msr_write(&f->l, X2(R_ICR_LO), (7ull << 32) | 0x500), 0);
	lapic_save(&f->l, &s);
	assert_int_equal(s.apic_base, 0xfee00c00ull);
	assert_int_equal(s.tsc_deadline, 12000);
	assert_int_equal(s.timer_ns_left, 3000);
	assert_int_equal(s.regs[R_ID + 3], 3); /* id << 24, as KVM_GET_LAPIC */
	f->now = 20000;
	assert_int_equal(lapic_load(&f->l, &s), 0);
	assert_int_equal(lapic_timer_deadline(&f->l), 23000);
	assert_int_equal(msr(f, MSR_TSC_DEADLINE), 12000);
	assert_int_equal(msr(f, X2(R_ICR_LO)), (7ull << 32) | 0x500);
	assert_int_equal(msr(f, X2(R_LDR)), 1u << 3);
	s.timer_ns_left = 0; /* derived from the TSC deadline */
	assert_int_equal(lapic_load(&f->l, &s), 0);
	assert_int_equal(lapic_timer_deadline(&f->l), 12000);
}

static void test_load_rejects_bad_state(void **state)
{
	struct fx *f = *state;
	struct lapic_state s, cur;
	sw_enable(f);
	wr(f, R_TPR, 0x20);
	lapic_save(&f->l, &s);

	struct lapic_state bad = s;
	bad.apic_base |= 1ull << 9;
	assert_int_equal(lapic_load(&f->l, &bad), -EINVAL);
	bad = s;
	bad.apic_base = 0xfee00400ull; /* EXTD without EN */
	assert_int_equal(lapic_load(&f->l, &bad), -EINVAL);
	bad = s;
	bad.apic_base |= 1ull << 60;
	assert_int_equal(lapic_load(&f->l, &bad), -EINVAL);
	bad = s;
	bad.regs[R_ID] = 1; /* ID bits 23:0 */
	assert_int_equal(lapic_load(&f->l, &bad), -EINVAL);
	bad = s;
	bad.events = 0x100;
	assert_int_equal(lapic_load(&f->l, &bad), -EINVAL);
	/* Unchanged. */
	lapic_save(&f->l, &cur);
	assert_memory_equal(&cur, &s, sizeof(s));

	/* Sanitised, not rejected: reserved register bits and vectors 0-15. */
	bad = s;
	bad.regs[R_TPR + 1] = 0xff;
	bad.regs[R_IRR] = 0xff;
	bad.regs[R_IRR + 2] = 0x01; /* vector 16 */
	bad.regs[R_VER] = 0x99;
	bad.regs[0x40] = 0x77; /* no register there */
	assert_int_equal(lapic_load(&f->l, &bad), 0);
	assert_int_equal(rd(f, R_TPR), 0x20);
	assert_int_equal(rd(f, R_IRR), 1u << 16);
	assert_int_equal(rd(f, R_VER), 0x00050014);
	assert_int_equal(lapic_mmio_ops.read(&f->l, 0x40, 4), 0);
	assert_int_equal(lapic_pending_vector(&f->l), -1); /* 16 is below the TPR class */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_save_load_round_trip, setup_ap, teardown),
	    cmocka_unit_test_setup_teardown(test_save_load_oneshot_tsc_and_x2apic, setup_ap,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_load_rejects_bad_state, setup_ap, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
