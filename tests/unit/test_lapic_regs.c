/* Unit tests for the local APIC's registers: reset and INIT state, lapic_init's argument checks,
 * MMIO access sizes and read-only registers, writable-bit masks, IA32_APIC_BASE mode transitions
 * (xAPIC, x2APIC, disabled) and the x2APIC MSR rules. Fixture: lapic_test_env.h. */
#include "lapic_test_env.h"

/* ---- reset state ---- */

static void test_reset_values_ap(void **state)
{
	struct fx *f = *state;
	assert_int_equal(lapic_apic_base(&f->l), 0xfee00800ull); /* enabled, not BSP */
	assert_int_equal(rd(f, R_ID), 3u << 24);
	assert_int_equal(lapic_id(&f->l), 3);
	assert_int_equal(rd(f, R_VER), 0x00050014);
	assert_int_equal(rd(f, R_TPR), 0);
	assert_int_equal(rd(f, R_APR), 0);
	assert_int_equal(rd(f, R_PPR), 0);
	assert_int_equal(rd(f, R_LDR), 0);
	assert_int_equal(rd(f, R_DFR), 0xffffffffu);
	assert_int_equal(rd(f, R_SVR), 0xff);
	for (unsigned i = 0; i < 8; i++) {
		assert_int_equal(rd(f, R_ISR + i * 16), 0);
		assert_int_equal(rd(f, R_TMR + i * 16), 0);
		assert_int_equal(rd(f, R_IRR + i * 16), 0);
	}
	assert_int_equal(rd(f, R_ESR), 0);
	assert_int_equal(rd(f, R_ICR_LO), 0);
	assert_int_equal(rd(f, R_ICR_HI), 0);
	for (unsigned r = R_LVT_TIMER; r <= R_LVT_ERROR; r += 16)
		assert_int_equal(rd(f, r), LVT_MASKED);
	assert_int_equal(rd(f, R_TMICT), 0);
	assert_int_equal(rd(f, R_TMCCT), 0);
	assert_int_equal(rd(f, R_TDCR), 0);
	assert_int_equal(rd(f, 0x2f0), 0); /* no CMCI LVT */
	assert_int_equal(lapic_timer_deadline(&f->l), UINT64_MAX);
	assert_int_equal(lapic_accepts_pic_intr(&f->l), 0);
	assert_int_equal(lapic_pending_vector(&f->l), -1);
	assert_int_equal(lapic_has_work(&f->l), 0);
	assert_int_equal(msr(f, MSR_TSC_DEADLINE), 0);
}

static void test_reset_values_bsp(void **state)
{
	struct fx *f = *state;
	assert_int_equal(lapic_apic_base(&f->l), 0xfee00900ull); /* enabled + BSP */
	assert_int_equal(rd(f, R_ID), 0);
	/* The BSP's LINT0 is virtual wire (ExtINT, unmasked), as KVM sets it up. */
	assert_int_equal(rd(f, R_LVT_LINT0), 0x700);
	assert_int_equal(lapic_accepts_pic_intr(&f->l), 1);
	wr(f, R_LVT_LINT0, 0x700 | LVT_MASKED);
	assert_int_equal(lapic_accepts_pic_intr(&f->l), 0);
}

static void test_init_and_power_on_reset(void **state)
{
	struct fx *f = *state;
	sw_enable(f);
	wr(f, R_ID, 0x07000000);
	wr(f, R_TPR, 0x20);
	wr(f, R_LDR, 0x08000000);
	lapic_deliver(&f->l, APIC_DM_FIXED, 0x40, 0);
	assert_int_equal(lapic_msr_write(&f->l, MSR_APIC_BASE, 0xfed00800ull), 0);
	lapic_deliver(&f->l, APIC_DM_NMI, 0, 0);

	lapic_reset(&f->l, 0); /* INIT: id, base and pending events survive */
	assert_int_equal(rd(f, R_ID), 0x07000000);
	assert_int_equal(lapic_apic_base(&f->l), 0xfed00800ull);
	assert_int_equal(rd(f, R_TPR), 0);
	assert_int_equal(rd(f, R_LDR), 0);
	assert_int_equal(rd(f, R_SVR), 0xff);
	assert_int_equal(vec_bit(f, R_IRR, 0x40), 0);
	assert_int_equal(lapic_take_events(&f->l, NULL), LAPIC_EV_NMI);

	lapic_reset(&f->l, 1); /* power-on: everything */
	assert_int_equal(rd(f, R_ID), 3u << 24);
	assert_int_equal(lapic_apic_base(&f->l), 0xfee00800ull);
}

static void test_init_in_x2apic_mode(void **state)
{
	struct fx *f = *state;
	enter_x2apic(f);
	lapic_reset(&f->l, 0);
	assert_int_equal(lapic_apic_base(&f->l), 0xfee00c00ull);
	assert_int_equal(msr(f, X2(R_ID)), 3);
	assert_int_equal(msr(f, X2(R_LDR)), 1u << 3);
	assert_int_equal(msr(f, X2(R_SVR)), 0xff);
}

static void test_init_rejects_bad_args(void **state)
{
	struct fx *f = *state;
	struct lapic l2;
	struct clock_src clk = {fake_mono, NULL, f};
	assert_int_equal(lapic_init(&l2, 0xff, 0, &clk, BUS_HZ, TSC_KHZ, &fake_ops, f), -EINVAL);
	assert_int_equal(lapic_init(&l2, 1, 0, NULL, BUS_HZ, TSC_KHZ, &fake_ops, f), -EINVAL);
	assert_int_equal(lapic_init(&l2, 1, 0, &clk, 0, TSC_KHZ, &fake_ops, f), -EINVAL);
	assert_int_equal(lapic_init(&l2, 1, 0, &clk, BUS_HZ, 0, &fake_ops, f), -EINVAL);
	assert_int_equal(lapic_init(&l2, 1, 0, &clk, BUS_HZ, TSC_KHZ, NULL, f), -EINVAL);
}

/* ---- MMIO access sizes ---- */

static void test_mmio_access_sizes(void **state)
{
	struct fx *f = *state;
	assert_int_equal(lapic_mmio_ops.read(&f->l, R_VER, 1), 0x14);
	assert_int_equal(lapic_mmio_ops.read(&f->l, R_VER + 2, 1), 0x05);
	assert_int_equal(lapic_mmio_ops.read(&f->l, R_VER + 1, 2), 0x0500);
	assert_int_equal(lapic_mmio_ops.read(&f->l, R_VER, 8), 0x00050014);
	assert_int_equal(lapic_mmio_ops.read(&f->l, R_VER + 4, 4), 0);
	assert_int_equal(lapic_mmio_ops.read(&f->l, R_DFR + 3, 2), 0xff);
	assert_int_equal(lapic_mmio_ops.read(&f->l, 0x800, 4), 0);
	/* Only aligned 4-byte writes take effect. */
	lapic_mmio_ops.write(&f->l, R_TPR, 1, 0x50);
	lapic_mmio_ops.write(&f->l, R_TPR, 2, 0x50);
	lapic_mmio_ops.write(&f->l, R_TPR, 8, 0x50);
	lapic_mmio_ops.write(&f->l, R_TPR + 4, 4, 0x50);
	assert_int_equal(rd(f, R_TPR), 0);
	lapic_mmio_ops.write(&f->l, R_TPR, 4, 0xfff);
	assert_int_equal(rd(f, R_TPR), 0xff);
	/* Read-only registers ignore writes. */
	wr(f, R_VER, 0);
	wr(f, R_PPR, 0x40);
	wr(f, R_IRR + 0x10, 0xffffffff);
	assert_int_equal(rd(f, R_VER), 0x00050014);
	assert_int_equal(rd(f, R_PPR), 0xff);
	assert_int_equal(rd(f, R_IRR + 0x10), 0);
}

static void test_register_masks(void **state)
{
	struct fx *f = *state;
	sw_enable(f);
	wr(f, R_ID, 0xffffffff);
	assert_int_equal(rd(f, R_ID), 0xff000000u);
	wr(f, R_LDR, 0xffffffff);
	assert_int_equal(rd(f, R_LDR), 0xff000000u);
	wr(f, R_DFR, 0);
	assert_int_equal(rd(f, R_DFR), 0x0fffffffu);
	wr(f, R_SVR, 0xffffffff);
	assert_int_equal(rd(f, R_SVR), 0x3ff); /* no EOI-broadcast suppression bit */
	wr(f, R_TDCR, 0xffffffff);
	assert_int_equal(rd(f, R_TDCR), 0xb);
	wr(f, R_ICR_HI, 0xffffffff);
	assert_int_equal(rd(f, R_ICR_HI), 0xff000000u);
	wr(f, R_LVT_TIMER, 0xffffffff);
	assert_int_equal(rd(f, R_LVT_TIMER), 0x700ff);
	wr(f, R_LVT_LINT0, 0xffffffff);
	assert_int_equal(rd(f, R_LVT_LINT0), 0x1a7ff);
	wr(f, R_LVT_ERROR, 0xffffffff);
	assert_int_equal(rd(f, R_LVT_ERROR), 0x100ff);
	wr(f, R_LVT_PERF, 0xffffffff);
	assert_int_equal(rd(f, R_LVT_PERF), 0x107ff);
}

/* ---- IA32_APIC_BASE and x2APIC MSRs ---- */

static void test_apic_base_transitions(void **state)
{
	struct fx *f = *state;
	const uint64_t base = 0xfee00000ull, en = 1ull << 11, extd = 1ull << 10;
	uint64_t v;
	/* Reserved bits. */
	assert_int_equal(lapic_msr_write(&f->l, MSR_APIC_BASE, base | en | 1), -1);
	assert_int_equal(lapic_msr_write(&f->l, MSR_APIC_BASE, base | en | (1ull << 9)), -1);
	assert_int_equal(lapic_msr_write(&f->l, MSR_APIC_BASE, base | en | (1ull << 52)), -1);
	/* EXTD without EN is invalid. */
	assert_int_equal(lapic_msr_write(&f->l, MSR_APIC_BASE, base | extd), -1);
	assert_int_equal(lapic_apic_base(&f->l), base | en);
	/* Relocation is stored. */
	assert_int_equal(lapic_msr_write(&f->l, MSR_APIC_BASE, 0xfed00000ull | en), 0);
	assert_int_equal(lapic_apic_base(&f->l), 0xfed00000ull | en);
	assert_int_equal(lapic_msr_write(&f->l, MSR_APIC_BASE, base | en), 0);

	/* xAPIC -> x2APIC -> (not xAPIC) -> disabled -> (not x2APIC) -> xAPIC. */
	sw_enable(f);
	wr(f, R_TPR, 0x40);
	wr(f, R_ID, 0x09000000);
	assert_int_equal(lapic_msr_write(&f->l, MSR_APIC_BASE, base | en | extd), 0);
	assert_int_equal(msr(f, X2(R_ID)), 3); /* the initial id, not the written one */
	assert_int_equal(msr(f, X2(R_TPR)), 0x40);
	assert_int_equal(lapic_mmio_ops.read(&f->l, R_TPR, 4), 0); /* MMIO off */
	assert_int_equal(lapic_msr_write(&f->l, MSR_APIC_BASE, base | en), -1);
	assert_int_equal(lapic_apic_base(&f->l), base | en | extd);
	lapic_deliver(&f->l, APIC_DM_FIXED, 0x80, 0);
	assert_int_equal(lapic_msr_write(&f->l, MSR_APIC_BASE, base), 0);
	assert_int_equal(lapic_pending_vector(&f->l), -1);
	assert_int_equal(lapic_accepts_pic_intr(&f->l), 1);
	assert_int_equal(lapic_msr_read(&f->l, X2(R_TPR), &v), -1);
	assert_int_equal(lapic_msr_write(&f->l, MSR_APIC_BASE, base | en | extd), -1);
	assert_int_equal(lapic_apic_base(&f->l), base);
	assert_int_equal(lapic_msr_write(&f->l, MSR_APIC_BASE, base | en), 0);
	/* Disabling reset the APIC to its power-up state. */
	assert_int_equal(rd(f, R_TPR), 0);
	assert_int_equal(rd(f, R_SVR), 0xff);
	assert_int_equal(rd(f, R_ID), 3u << 24);
	assert_int_equal(vec_bit(f, R_IRR, 0x80), 0);
	assert_int_equal(rd(f, R_LVT_LINT0), LVT_MASKED);
	/* Disabled from xAPIC mode directly, then back. */
	assert_int_equal(lapic_msr_write(&f->l, MSR_APIC_BASE, base), 0);
	assert_int_equal(lapic_mmio_ops.read(&f->l, R_VER, 4), 0);
	assert_int_equal(lapic_msr_write(&f->l, MSR_APIC_BASE, base | en), 0);
	assert_int_equal(rd(f, R_VER), 0x00050014);
	/* The BSP bit is writable (as on KVM). */
	assert_int_equal(lapic_msr_write(&f->l, MSR_APIC_BASE, base | en | (1ull << 8)), 0);
	assert_int_equal(msr(f, MSR_APIC_BASE), base | en | (1ull << 8));
}

static void test_x2apic_msr_rules(void **state)
{
	struct fx *f = *state;
	uint64_t v;
	/* Not in x2APIC mode: every x2APIC MSR faults. */
	assert_int_equal(lapic_msr_read(&f->l, X2(R_ID), &v), -1);
	assert_int_equal(lapic_msr_write(&f->l, X2(R_TPR), 0), -1);
	assert_int_equal(lapic_msr_read(&f->l, 0x1c, &v), -1);
	assert_int_equal(lapic_msr_write(&f->l, 0x10, 0), -1);

	enter_x2apic(f);
	assert_int_equal(msr(f, X2(R_ID)), 3);
	assert_int_equal(msr(f, X2(R_VER)), 0x00050014);
	assert_int_equal(msr(f, X2(R_LDR)), 1u << 3);
	assert_int_equal(msr(f, X2(R_SVR)), 0xff);
	assert_int_equal(msr(f, X2(R_LVT_LINT1)), LVT_MASKED);
	/* Read-only registers. */
	assert_int_equal(lapic_msr_write(&f->l, X2(R_ID), 5), -1);
	assert_int_equal(lapic_msr_write(&f->l, X2(R_VER), 0), -1);
	assert_int_equal(lapic_msr_write(&f->l, X2(R_LDR), 0), -1);
	assert_int_equal(lapic_msr_write(&f->l, X2(R_PPR), 0), -1);
	assert_int_equal(lapic_msr_write(&f->l, X2(R_IRR), 0), -1);
	assert_int_equal(lapic_msr_write(&f->l, X2(R_ISR) + 7, 0), -1);
	assert_int_equal(lapic_msr_write(&f->l, X2(R_TMCCT), 0), -1);
	/* Nonexistent: APR, RRD, DFR, CMCI, gaps, the end of the range. */
	assert_int_equal(lapic_msr_read(&f->l, X2(R_APR), &v), -1);
	assert_int_equal(lapic_msr_read(&f->l, 0x80c, &v), -1);
	assert_int_equal(lapic_msr_read(&f->l, X2(R_DFR), &v), -1);
	assert_int_equal(lapic_msr_write(&f->l, X2(R_DFR), 0xffffffff), -1);
	assert_int_equal(lapic_msr_read(&f->l, 0x82f, &v), -1);
	assert_int_equal(lapic_msr_read(&f->l, 0x801, &v), -1);
	assert_int_equal(lapic_msr_read(&f->l, 0x83a, &v), -1);
	assert_int_equal(lapic_msr_read(&f->l, 0x8ff, &v), -1);
	/* Write-only EOI; it takes only 0. */
	assert_int_equal(lapic_msr_read(&f->l, X2(R_EOI), &v), -1);
	assert_int_equal(lapic_msr_write(&f->l, X2(R_EOI), 1), -1);
	assert_int_equal(lapic_msr_write(&f->l, X2(R_EOI), 0), 0);
	/* ESR: write-to-update with 0 only. */
	assert_int_equal(lapic_msr_write(&f->l, X2(R_ESR), 1), -1);
	assert_int_equal(lapic_msr_write(&f->l, X2(R_ESR), 0), 0);
	assert_int_equal(msr(f, X2(R_ESR)), 0);
	/* Bits 63:32 are reserved outside the ICR. */
	assert_int_equal(lapic_msr_write(&f->l, X2(R_TPR), 1ull << 32), -1);
	assert_int_equal(lapic_msr_write(&f->l, X2(R_TPR), 0x31), 0);
	assert_int_equal(msr(f, X2(R_TPR)), 0x31);
	assert_int_equal(msr(f, X2(R_PPR)), 0x31);
	/* Timer registers through MSRs. */
	assert_int_equal(lapic_msr_write(&f->l, X2(R_SVR), 0x1ff), 0);
	assert_int_equal(lapic_msr_write(&f->l, X2(R_TDCR), 0xb), 0);
	assert_int_equal(lapic_msr_write(&f->l, X2(R_LVT_TIMER), 0x40), 0);
	assert_int_equal(lapic_msr_write(&f->l, X2(R_TMICT), 500), 0);
	f->now += 100;
	assert_int_equal(msr(f, X2(R_TMCCT)), 400);
	assert_int_equal(msr(f, X2(R_TMICT)), 500);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_reset_values_ap, setup_ap, teardown),
	    cmocka_unit_test_setup_teardown(test_reset_values_bsp, setup_bsp, teardown),
	    cmocka_unit_test_setup_teardown(test_init_and_power_on_reset, setup_ap, teardown),
	    cmocka_unit_test_setup_teardown(test_init_in_x2apic_mode, setup_ap, teardown),
	    cmocka_unit_test_setup_teardown(test_init_rejects_bad_args, setup_ap, teardown),
	    cmocka_unit_test_setup_teardown(test_mmio_access_sizes, setup_ap, teardown),
	    cmocka_unit_test_setup_teardown(test_register_masks, setup_ap, teardown),
	    cmocka_unit_test_setup_teardown(test_apic_base_transitions, setup_ap, teardown),
	    cmocka_unit_test_setup_teardown(test_x2apic_msr_rules, setup_ap, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
