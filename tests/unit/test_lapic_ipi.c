/* Unit tests for the local APIC's IPIs: ICR writes in xAPIC and x2APIC mode (what reaches
 * send_ipi, shorthands, illegal vectors and ESR, SELF IPI), and destination matching (physical,
 * flat and cluster logical, x2APIC, a disabled APIC). Fixture: lapic_test_env.h. */
#include "lapic_test_env.h"

/* ---- IPIs ---- */

static void test_icr_xapic(void **state)
{
	struct fx *f = *state;
	/* INIT level assert to APIC 5, physical. */
	wr(f, R_ICR_HI, 0x05000000);
	wr(f, R_ICR_LO, 0x0000c500);
	assert_int_equal(f->n_ipi, 1);
	struct ipi_rec *r = &f->ipi[0];
	assert_ptr_equal(r->src, &f->l);
	assert_int_equal(r->dest, 5);
	assert_int_equal(r->logical, 0);
	assert_int_equal(r->shorthand, 0);
	assert_int_equal(r->dm, APIC_DM_INIT);
	assert_int_equal(r->vector, 0);
	assert_int_equal(r->level, 1);
	assert_int_equal(r->trigger, 1);
	assert_int_equal(rd(f, R_ICR_LO), 0x0000c500); /* delivery status idle */

	/* SIPI vector 0x9a. */
	wr(f, R_ICR_LO, 0x0000469a);
	r = &f->ipi[1];
	assert_int_equal(r->dm, APIC_DM_STARTUP);
	assert_int_equal(r->vector, 0x9a);
	assert_int_equal(r->level, 1);
	assert_int_equal(r->trigger, 0);

	/* Fixed 0x40, logical, all excluding self; reserved bits and delivery status dropped. */
	wr(f, R_ICR_HI, 0x0c000000);
	wr(f, R_ICR_LO, 0xfff01840u | 0x000c0000u);
	r = &f->ipi[2];
	assert_int_equal(r->dest, 0x0c);
	assert_int_equal(r->logical, 1);
	assert_int_equal(r->shorthand, 3);
	assert_int_equal(r->dm, APIC_DM_FIXED);
	assert_int_equal(r->vector, 0x40);
	assert_int_equal(rd(f, R_ICR_LO), 0x000c0840);

	/* Self shorthand, NMI. */
	wr(f, R_ICR_LO, 0x00040400);
	assert_int_equal(f->ipi[3].shorthand, 1);
	assert_int_equal(f->ipi[3].dm, APIC_DM_NMI);
	assert_int_equal(f->n_ipi, 4);
	assert_int_equal(f->kicks, 0);
	/* Writing ICR high alone sends nothing. */
	wr(f, R_ICR_HI, 0x01000000);
	assert_int_equal(f->n_ipi, 4);
	/* A self IPI routed straight back into the sender (from inside the callback). */
	sw_enable(f);
	f->route_self = 1;
	wr(f, R_ICR_LO, 0x00048061); /* fixed 0x61, level-triggered, self */
	assert_int_equal(f->n_ipi, 5);
	assert_int_equal(lapic_pending_vector(&f->l), 0x61);
	assert_int_equal(vec_bit(f, R_TMR, 0x61), 1);
	assert_int_equal(f->kicks, 1);
}

static void test_icr_illegal_vector_and_esr(void **state)
{
	struct fx *f = *state;
	sw_enable(f);
	wr(f, R_ICR_LO, 0x00000005); /* fixed vector 5: illegal, not sent */
	assert_int_equal(f->n_ipi, 0);
	assert_int_equal(rd(f, R_ESR), 0); /* write-to-update */
	wr(f, R_ESR, 0);
	assert_int_equal(rd(f, R_ESR), 0x20);
	wr(f, R_ESR, 0);
	assert_int_equal(rd(f, R_ESR), 0);
	/* Receiving an illegal vector raises the error LVT when it is unmasked. */
	wr(f, R_LVT_ERROR, 0xfe);
	lapic_deliver(&f->l, APIC_DM_FIXED, 3, 0);
	assert_int_equal(vec_bit(f, R_IRR, 3), 0);
	assert_int_equal(vec_bit(f, R_IRR, 0xfe), 1);
	wr(f, R_ESR, 0);
	assert_int_equal(rd(f, R_ESR), 0x40);
	/* Non-fixed modes carry no vector check. */
	wr(f, R_ICR_LO, 0x00000500);
	assert_int_equal(f->n_ipi, 1);
}

static void test_icr_x2apic(void **state)
{
	struct fx *f = *state;
	enter_x2apic(f);
	uint64_t icr = (0x12345678ull << 32) | 0x0000c8f1; /* fixed 0xf1, logical, level, trig */
	assert_int_equal(lapic_msr_write(&f->l, X2(R_ICR_LO), icr), 0);
	assert_int_equal(f->n_ipi, 1);
	struct ipi_rec *r = &f->ipi[0];
	assert_ptr_equal(r->src, &f->l);
	assert_int_equal(r->dest, 0x12345678);
	assert_int_equal(r->logical, 1);
	assert_int_equal(r->shorthand, 0);
	assert_int_equal(r->dm, APIC_DM_FIXED);
	assert_int_equal(r->vector, 0xf1);
	assert_int_equal(r->level, 1);
	assert_int_equal(r->trigger, 1);
	assert_int_equal(msr(f, X2(R_ICR_LO)), icr);
	/* ICR high does not exist as its own MSR in x2APIC mode. */
	uint64_t v;
	assert_int_equal(lapic_msr_read(&f->l, X2(R_ICR_HI), &v), -1);
	assert_int_equal(lapic_msr_write(&f->l, X2(R_ICR_HI), 1), -1);
	/* All-including-self INIT. */
	assert_int_equal(lapic_msr_write(&f->l, X2(R_ICR_LO), 0x00080500), 0);
	assert_int_equal(f->ipi[1].shorthand, 2);
	assert_int_equal(f->ipi[1].dm, APIC_DM_INIT);
	assert_int_equal(f->ipi[1].dest, 0);

	/* SELF IPI: delivered locally (not while software disabled), write-only. */
	assert_int_equal(lapic_msr_write(&f->l, X2(0x3f0), 0x50), 0);
	assert_int_equal(lapic_pending_vector(&f->l), -1);
	sw_enable(f); /* xAPIC MMIO is off in x2APIC mode */
	assert_int_equal(rd(f, R_SVR), 0);
	assert_int_equal(lapic_msr_write(&f->l, X2(R_SVR), 0x1ff), 0);
	unsigned kicks = f->kicks;
	assert_int_equal(lapic_msr_write(&f->l, X2(0x3f0), 0x50), 0);
	assert_int_equal(f->n_ipi, 2);
	assert_int_equal(f->kicks, kicks + 1);
	assert_int_equal(lapic_pending_vector(&f->l), 0x50);
	assert_int_equal(msr(f, X2(R_IRR) + 2) >> 16 & 1, 1);
	assert_int_equal(lapic_msr_write(&f->l, X2(0x3f0), 0x150), -1);
	assert_int_equal(lapic_msr_read(&f->l, X2(0x3f0), &v), -1);
}

/* ---- destination matching ---- */

static void test_match_physical_and_flat(void **state)
{
	struct fx *f = *state;
	assert_int_equal(lapic_match_dest(&f->l, 3, 0), 1);
	assert_int_equal(lapic_match_dest(&f->l, 4, 0), 0);
	assert_int_equal(lapic_match_dest(&f->l, 0xff, 0), 1);
	assert_int_equal(lapic_match_dest(&f->l, 0xffffffffu, 0), 1);
	wr(f, R_ID, 0x09000000); /* the xAPIC ID is writable */
	assert_int_equal(lapic_match_dest(&f->l, 3, 0), 0);
	assert_int_equal(lapic_match_dest(&f->l, 9, 0), 1);
	assert_int_equal(lapic_id(&f->l), 9);

	/* Flat model (DFR all ones), logical id bit 2. */
	assert_int_equal(lapic_match_dest(&f->l, 0x04, 1), 0); /* LDR still 0 */
	wr(f, R_LDR, 0x04000000);
	assert_int_equal(lapic_match_dest(&f->l, 0x04, 1), 1);
	assert_int_equal(lapic_match_dest(&f->l, 0x0c, 1), 1);
	assert_int_equal(lapic_match_dest(&f->l, 0x01, 1), 0);
	assert_int_equal(lapic_match_dest(&f->l, 0x00, 1), 0);
	assert_int_equal(lapic_match_dest(&f->l, 0xff, 1), 1);
}

static void test_match_cluster(void **state)
{
	struct fx *f = *state;
	wr(f, R_DFR, 0x0fffffff); /* cluster model */
	wr(f, R_LDR, 0x21000000); /* cluster 2, member bit 0 */
	assert_int_equal(lapic_match_dest(&f->l, 0x21, 1), 1);
	assert_int_equal(lapic_match_dest(&f->l, 0x23, 1), 1);
	assert_int_equal(lapic_match_dest(&f->l, 0x22, 1), 0);
	assert_int_equal(lapic_match_dest(&f->l, 0x11, 1), 0);
	assert_int_equal(lapic_match_dest(&f->l, 0xff, 1), 1);
	/* An undefined model matches nothing but broadcasts. */
	wr(f, R_DFR, 0x5fffffff);
	assert_int_equal(lapic_match_dest(&f->l, 0x21, 1), 0);
	assert_int_equal(lapic_match_dest(&f->l, 0xff, 1), 1);
}

static void test_match_x2apic_and_disabled(void **state)
{
	struct fx *f = *state;
	struct fx *g = test_calloc(1, sizeof(*g));
	assert_int_equal(fx_init(g, 0x13, 0, TSC_KHZ), 0);
	enter_x2apic(g);
	assert_int_equal(msr(g, X2(R_LDR)), 0x00010008);
	assert_int_equal(lapic_match_dest(&g->l, 0x00010008, 1), 1);
	assert_int_equal(lapic_match_dest(&g->l, 0x0001000c, 1), 1);
	assert_int_equal(lapic_match_dest(&g->l, 0x00010004, 1), 0);
	assert_int_equal(lapic_match_dest(&g->l, 0x00020008, 1), 0);
	assert_int_equal(lapic_match_dest(&g->l, 0xffffffffu, 1), 1);
	assert_int_equal(lapic_match_dest(&g->l, 0x13, 0), 1);
	assert_int_equal(lapic_match_dest(&g->l, 0x14, 0), 0);
	assert_int_equal(lapic_match_dest(&g->l, 0xffffffffu, 0), 1);
	assert_int_equal(lapic_match_dest(&g->l, 0xff, 0), 0); /* not a broadcast in x2APIC */
	assert_int_equal(lapic_id(&g->l), 0x13);
	lapic_destroy(&g->l);
	test_free(g);

	/* Globally disabled: matches nothing. */
	assert_int_equal(lapic_msr_write(&f->l, MSR_APIC_BASE, 0xfee00000ull), 0);
	assert_int_equal(lapic_match_dest(&f->l, 3, 0), 0);
	assert_int_equal(lapic_match_dest(&f->l, 0xff, 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_icr_xapic, setup_ap, teardown),
	    cmocka_unit_test_setup_teardown(test_icr_illegal_vector_and_esr, setup_ap, teardown),
	    cmocka_unit_test_setup_teardown(test_icr_x2apic, setup_ap, teardown),
	    cmocka_unit_test_setup_teardown(test_match_physical_and_flat, setup_ap, teardown),
	    cmocka_unit_test_setup_teardown(test_match_cluster, setup_ap, teardown),
	    cmocka_unit_test_setup_teardown(test_match_x2apic_and_disabled, setup_ap, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
