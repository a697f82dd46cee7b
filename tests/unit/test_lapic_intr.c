/* Unit tests for the local APIC's interrupt acceptance: TPR/PPR/APR priority classes, ack and EOI
 * order with nested ISR bits, level-triggered EOI broadcast, a software-disabled APIC (drops FIXED,
 * takes INIT/SIPI/NMI/ExtINT/SMI as events), and delivery from several threads at once. Fixture:
 * lapic_test_env.h. */
#include "lapic_test_env.h"

/* ---- priorities, ack, EOI ---- */

static void test_tpr_ppr_priority_classes(void **state)
{
	struct fx *f = *state;
	sw_enable(f);
	lapic_deliver(&f->l, APIC_DM_FIXED, 0x45, 0);
	lapic_deliver(&f->l, APIC_DM_FIXED, 0x62, 0);
	assert_int_equal(f->kicks, 2);
	assert_int_equal(vec_bit(f, R_IRR, 0x45), 1);
	assert_int_equal(vec_bit(f, R_IRR, 0x62), 1);
	assert_int_equal(lapic_pending_vector(&f->l), 0x62);

	wr(f, R_TPR, 0x65); /* same class as 0x62: blocked */
	assert_int_equal(rd(f, R_PPR), 0x65);
	assert_int_equal(lapic_pending_vector(&f->l), -1);
	assert_int_equal(lapic_has_work(&f->l), 0);
	assert_int_equal(lapic_priority(&f->l), 0x65);
	wr(f, R_TPR, 0x5f);
	assert_int_equal(lapic_pending_vector(&f->l), 0x62);
	wr(f, R_TPR, 0x40);
	assert_int_equal(lapic_pending_vector(&f->l), 0x62);
	wr(f, R_TPR, 0x00);

	lapic_ack(&f->l, 0x62);
	assert_int_equal(vec_bit(f, R_IRR, 0x62), 0);
	assert_int_equal(vec_bit(f, R_ISR, 0x62), 1);
	assert_int_equal(rd(f, R_PPR), 0x60);
	assert_int_equal(lapic_pending_vector(&f->l), -1); /* 0x45 is a lower class */
	/* TPR above the ISR class wins in PPR. */
	wr(f, R_TPR, 0x71);
	assert_int_equal(rd(f, R_PPR), 0x71);
	wr(f, R_TPR, 0x61);
	assert_int_equal(rd(f, R_PPR), 0x61);
	wr(f, R_TPR, 0x51);
	assert_int_equal(rd(f, R_PPR), 0x60);
	wr(f, R_TPR, 0);
	wr(f, R_EOI, 0);
	assert_int_equal(rd(f, R_PPR), 0);
	assert_int_equal(lapic_pending_vector(&f->l), 0x45);
	assert_int_equal(lapic_has_work(&f->l), 1);
	assert_int_equal(f->n_eoi, 0); /* edge: no broadcast */
}

static void test_apr(void **state)
{
	struct fx *f = *state;
	sw_enable(f);
	wr(f, R_TPR, 0x35);
	assert_int_equal(rd(f, R_APR), 0x35);
	lapic_deliver(&f->l, APIC_DM_FIXED, 0x52, 0);
	assert_int_equal(rd(f, R_APR), 0x50); /* IRR class above TPR */
	lapic_ack(&f->l, 0x52);
	assert_int_equal(rd(f, R_APR), 0x50); /* ISR class above TPR */
	wr(f, R_TPR, 0x65);
	assert_int_equal(rd(f, R_APR), 0x65);
}

static void test_nested_isr_ack_eoi_order(void **state)
{
	struct fx *f = *state;
	sw_enable(f);
	lapic_deliver(&f->l, APIC_DM_FIXED, 0x31, 0);
	int v = lapic_pending_vector(&f->l);
	assert_int_equal(v, 0x31);
	lapic_ack(&f->l, (uint8_t)v);
	/* A higher class nests; a same-class or lower one waits. */
	lapic_deliver(&f->l, APIC_DM_FIXED, 0x38, 0);
	assert_int_equal(lapic_pending_vector(&f->l), -1);
	lapic_deliver(&f->l, APIC_DM_FIXED, 0xa1, 0);
	assert_int_equal(lapic_pending_vector(&f->l), 0xa1);
	lapic_ack(&f->l, 0xa1);
	assert_int_equal(rd(f, R_PPR), 0xa0);
	assert_int_equal(vec_bit(f, R_ISR, 0x31), 1);
	assert_int_equal(vec_bit(f, R_ISR, 0xa1), 1);
	/* Ack of a vector that is not in IRR changes nothing. */
	lapic_ack(&f->l, 0xf0);
	assert_int_equal(vec_bit(f, R_ISR, 0xf0), 0);

	wr(f, R_EOI, 0); /* retires the highest: 0xa1 */
	assert_int_equal(vec_bit(f, R_ISR, 0xa1), 0);
	assert_int_equal(vec_bit(f, R_ISR, 0x31), 1);
	assert_int_equal(rd(f, R_PPR), 0x30);
	assert_int_equal(lapic_pending_vector(&f->l), -1);
	wr(f, R_EOI, 0);
	assert_int_equal(vec_bit(f, R_ISR, 0x31), 0);
	assert_int_equal(rd(f, R_PPR), 0);
	assert_int_equal(lapic_pending_vector(&f->l), 0x38);
	lapic_ack(&f->l, 0x38);
	wr(f, R_EOI, 0);
	wr(f, R_EOI, 0); /* empty ISR: nothing */
	assert_int_equal(rd(f, R_PPR), 0);
	assert_int_equal(lapic_pending_vector(&f->l), -1);
}

static void test_level_eoi_broadcast(void **state)
{
	struct fx *f = *state;
	sw_enable(f);
	lapic_deliver(&f->l, APIC_DM_FIXED, 0x30, 1);
	lapic_deliver(&f->l, APIC_DM_FIXED, 0x40, 0);
	assert_int_equal(vec_bit(f, R_TMR, 0x30), 1);
	assert_int_equal(vec_bit(f, R_TMR, 0x40), 0);
	lapic_ack(&f->l, (uint8_t)lapic_pending_vector(&f->l));
	wr(f, R_EOI, 0);
	assert_int_equal(f->n_eoi, 0);
	assert_int_equal(lapic_pending_vector(&f->l), 0x30);
	lapic_ack(&f->l, 0x30);
	wr(f, R_EOI, 0);
	assert_int_equal(f->n_eoi, 1);
	assert_int_equal(f->eoi[0], 0x30);
	/* An edge delivery of the same vector clears its TMR bit. */
	lapic_deliver(&f->l, APIC_DM_FIXED, 0x30, 0);
	assert_int_equal(vec_bit(f, R_TMR, 0x30), 0);
	lapic_ack(&f->l, 0x30);
	wr(f, R_EOI, 0);
	assert_int_equal(f->n_eoi, 1);
	/* x2APIC EOI broadcasts too. */
	enter_x2apic(f);
	lapic_deliver(&f->l, APIC_DM_LOWEST, 0x91, 1);
	lapic_ack(&f->l, 0x91);
	assert_int_equal(lapic_msr_write(&f->l, X2(R_EOI), 0), 0);
	assert_int_equal(f->n_eoi, 2);
	assert_int_equal(f->eoi[1], 0x91);
}

/* ---- software-disabled APIC and events ---- */

static void test_sw_disabled_drops_fixed_takes_init_sipi(void **state)
{
	struct fx *f = *state;
	uint8_t sv = 0;
	/* SVR is 0xff after reset: software disabled. */
	lapic_deliver(&f->l, APIC_DM_FIXED, 0x40, 0);
	lapic_deliver(&f->l, APIC_DM_LOWEST, 0x41, 1);
	assert_int_equal(vec_bit(f, R_IRR, 0x40), 0);
	assert_int_equal(vec_bit(f, R_IRR, 0x41), 0);
	assert_int_equal(f->kicks, 0);
	assert_int_equal(lapic_has_work(&f->l), 0);

	lapic_deliver(&f->l, APIC_DM_INIT, 0, 1);
	assert_int_equal(f->kicks, 1);
	assert_int_equal(lapic_has_work(&f->l), 1);
	lapic_deliver(&f->l, APIC_DM_STARTUP, 0x9a, 0);
	assert_int_equal(f->kicks, 2);
	assert_int_equal(lapic_take_events(&f->l, &sv), LAPIC_EV_INIT | LAPIC_EV_SIPI);
	assert_int_equal(sv, 0x9a);
	assert_int_equal(lapic_take_events(&f->l, &sv), 0);
	assert_int_equal(lapic_has_work(&f->l), 0);

	/* An INIT after a SIPI cancels the SIPI. */
	lapic_deliver(&f->l, APIC_DM_STARTUP, 0x10, 0);
	lapic_deliver(&f->l, APIC_DM_INIT, 0, 1);
	assert_int_equal(lapic_take_events(&f->l, &sv), LAPIC_EV_INIT);
	lapic_deliver(&f->l, APIC_DM_NMI, 0, 0);
	lapic_deliver(&f->l, APIC_DM_EXTINT, 0, 0);
	lapic_deliver(&f->l, APIC_DM_SMI, 0, 0);
	lapic_deliver(&f->l, 3, 0x55, 0); /* reserved: dropped */
	assert_int_equal(lapic_take_events(&f->l, NULL),
			 LAPIC_EV_NMI | LAPIC_EV_EXTINT | LAPIC_EV_SMI);

	/* Enabled, FIXED is accepted; disabling keeps IRR but masks the LVTs. */
	sw_enable(f);
	wr(f, R_LVT_LINT0, 0x700);
	lapic_deliver(&f->l, APIC_DM_FIXED, 0x40, 0);
	assert_int_equal(lapic_pending_vector(&f->l), 0x40);
	wr(f, R_SVR, 0xff);
	assert_int_equal(lapic_pending_vector(&f->l), 0x40);
	for (unsigned r = R_LVT_TIMER; r <= R_LVT_ERROR; r += 16)
		assert_int_equal(rd(f, r) & LVT_MASKED, LVT_MASKED);
	assert_int_equal(lapic_accepts_pic_intr(&f->l), 0);
}

/* ---- threads ---- */

struct sender {
	struct lapic *l;
	uint8_t first;
};

static void *send_many(void *arg)
{
	struct sender *s = arg;
	for (unsigned i = 0; i < 2000; i++)
		lapic_deliver(s->l, APIC_DM_FIXED, (uint8_t)(s->first + i % 16), 0);
	return NULL;
}

/* Other threads deliver while the vCPU thread takes interrupts: nothing is lost or invented. */
static void test_concurrent_delivery(void **state)
{
	struct fx *f = *state;
	pthread_t t[3];
	struct sender s[3] = {{&f->l, 0x40}, {&f->l, 0x80}, {&f->l, 0xc0}};
	unsigned seen[256] = {0};
	sw_enable(f);
	f->threads = 1;
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(pthread_create(&t[i], NULL, send_many, &s[i]), 0);
	for (unsigned n = 0; n < 20000; n++) {
		int v = lapic_pending_vector(&f->l);
		if (v < 0)
			continue;
		lapic_ack(&f->l, (uint8_t)v);
		seen[v]++;
		wr(f, R_EOI, 0);
	}
	for (unsigned i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	for (int v; (v = lapic_pending_vector(&f->l)) >= 0;) {
		lapic_ack(&f->l, (uint8_t)v);
		seen[v]++;
		wr(f, R_EOI, 0);
	}
	for (unsigned v = 0; v < 256; v++) {
		int sent =
		    (v >= 0x40 && v < 0x50) || (v >= 0x80 && v < 0x90) || (v >= 0xc0 && v < 0xd0);
		if (sent)
			assert_true(seen[v] >= 1 && seen[v] <= 125);
		else
			assert_int_equal(seen[v], 0);
	}
	for (unsigned i = 0; i < 8; i++) {
		assert_int_equal(rd(f, R_IRR + i * 16), 0);
		assert_int_equal(rd(f, R_ISR + i * 16), 0);
	}
	assert_int_equal(__atomic_load_n(&f->kicks, __ATOMIC_SEQ_CST), 6000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_tpr_ppr_priority_classes, setup_ap, teardown),
	    cmocka_unit_test_setup_teardown(test_apr, setup_ap, teardown),
	    cmocka_unit_test_setup_teardown(test_nested_isr_ack_eoi_order, setup_ap, teardown),
	    cmocka_unit_test_setup_teardown(test_level_eoi_broadcast, setup_ap, teardown),
	    cmocka_unit_test_setup_teardown(test_sw_disabled_drops_fixed_takes_init_sipi, setup_ap,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_concurrent_delivery, setup_ap, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
