/* Unit tests for the userspace local APIC, driven through its MMIO ops, MSRs and vCPU-side calls
 * with a fake clock and fake ops that record every callback. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <string.h>

#include <cmocka.h>

#include "hw/irq/lapic.h"

#define BUS_HZ 1000000000ull
#define TSC_KHZ 1000000ull

enum {
	R_ID = 0x20,
	R_VER = 0x30,
	R_TPR = 0x80,
	R_APR = 0x90,
	R_PPR = 0xa0,
	R_EOI = 0xb0,
	R_LDR = 0xd0,
	R_DFR = 0xe0,
	R_SVR = 0xf0,
	R_ISR = 0x100,
	R_TMR = 0x180,
	R_IRR = 0x200,
	R_ESR = 0x280,
	R_ICR_LO = 0x300,
	R_ICR_HI = 0x310,
	R_LVT_TIMER = 0x320,
	R_LVT_THERMAL = 0x330,
	R_LVT_PERF = 0x340,
	R_LVT_LINT0 = 0x350,
	R_LVT_LINT1 = 0x360,
	R_LVT_ERROR = 0x370,
	R_TMICT = 0x380,
	R_TMCCT = 0x390,
	R_TDCR = 0x3e0,
};

#define MSR_APIC_BASE 0x1b
#define MSR_TSC_DEADLINE 0x6e0
#define X2(reg) (0x800u + ((reg) >> 4))

#define LVT_MASKED 0x10000u
#define TIMER_PERIODIC (1u << 17)
#define TIMER_TSCDL (2u << 17)

struct ipi_rec {
	struct lapic *src;
	uint32_t dest;
	int logical;
	unsigned shorthand, dm;
	uint8_t vector;
	int level, trigger;
};

struct fx {
	uint64_t now;
	struct lapic l;
	struct ipi_rec ipi[8];
	unsigned n_ipi;
	uint8_t eoi[8];
	unsigned n_eoi;
	unsigned kicks;
	int lock_free_in_cb; /* every callback found the lock free */
	int route_self;	     /* send_ipi delivers shorthand-self IPIs back into src */
	int threads;	     /* several threads use the LAPIC: skip the lock check */
};

static uint64_t fake_mono(void *ctx)
{
	return ((struct fx *)ctx)->now;
}

static void check_unlocked(struct fx *f)
{
	if (f->threads) /* another thread may hold the lock legitimately */
		return;
	if (pthread_mutex_trylock(&f->l.lock) == 0)
		pthread_mutex_unlock(&f->l.lock);
	else
		f->lock_free_in_cb = 0;
}

static void fake_send_ipi(void *ctx, struct lapic *src, uint32_t dest, int logical,
			  unsigned shorthand, unsigned dm, uint8_t vector, int level, int trigger)
{
	struct fx *f = ctx;
	check_unlocked(f);
	if (f->n_ipi < 8)
		f->ipi[f->n_ipi] =
		    (struct ipi_rec){src, dest, logical, shorthand, dm, vector, level, trigger};
	f->n_ipi++;
	if (f->route_self && shorthand == 1)
		lapic_deliver(src, dm, vector, trigger); /* re-entry: the lock must be free */
}

static void fake_eoi(void *ctx, uint8_t vector)
{
	struct fx *f = ctx;
	check_unlocked(f);
	if (f->n_eoi < 8)
		f->eoi[f->n_eoi] = vector;
	f->n_eoi++;
}

static void fake_kick(void *ctx)
{
	struct fx *f = ctx;
	check_unlocked(f);
	__atomic_fetch_add(&f->kicks, 1, __ATOMIC_SEQ_CST);
}

static const struct lapic_ops fake_ops = {fake_send_ipi, fake_eoi, fake_kick};

static int fx_init(struct fx *f, uint32_t id, int bsp, uint64_t tsc_khz)
{
	struct clock_src clk = {fake_mono, NULL, f};
	f->lock_free_in_cb = 1;
	return lapic_init(&f->l, id, bsp, &clk, BUS_HZ, tsc_khz, &fake_ops, f);
}

static int setup_id(void **state, uint32_t id, int bsp)
{
	struct fx *f = test_calloc(1, sizeof(*f));
	f->now = 1000;
	assert_int_equal(fx_init(f, id, bsp, TSC_KHZ), 0);
	*state = f;
	return 0;
}

static int setup_bsp(void **state)
{
	return setup_id(state, 0, 1);
}

static int setup_ap(void **state)
{
	return setup_id(state, 3, 0);
}

static int teardown(void **state)
{
	struct fx *f = *state;
	assert_true(f->lock_free_in_cb);
	lapic_destroy(&f->l);
	test_free(f);
	return 0;
}

static uint32_t rd(struct fx *f, unsigned off)
{
	return (uint32_t)lapic_mmio_ops.read(&f->l, off, 4);
}

static void wr(struct fx *f, unsigned off, uint32_t v)
{
	lapic_mmio_ops.write(&f->l, off, 4, v);
}

static int vec_bit(struct fx *f, unsigned base, uint8_t v)
{
	return (rd(f, base + (v >> 5) * 16) >> (v & 31)) & 1;
}

static void sw_enable(struct fx *f)
{
	wr(f, R_SVR, 0x1ff);
}

static void enter_x2apic(struct fx *f)
{
	uint64_t base;
	assert_int_equal(lapic_msr_read(&f->l, MSR_APIC_BASE, &base), 0);
	assert_int_equal(lapic_msr_write(&f->l, MSR_APIC_BASE, base | (1ull << 10)), 0);
}

static uint64_t msr(struct fx *f, uint32_t m)
{
	uint64_t v = 0xdeadbeef;
	assert_int_equal(lapic_msr_read(&f->l, m, &v), 0);
	return v;
}

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
	    cmocka_unit_test_setup_teardown(test_reset_values_ap, setup_ap, teardown),
	    cmocka_unit_test_setup_teardown(test_reset_values_bsp, setup_bsp, teardown),
	    cmocka_unit_test_setup_teardown(test_init_and_power_on_reset, setup_ap, teardown),
	    cmocka_unit_test_setup_teardown(test_init_in_x2apic_mode, setup_ap, teardown),
	    cmocka_unit_test_setup_teardown(test_init_rejects_bad_args, setup_ap, teardown),
	    cmocka_unit_test_setup_teardown(test_mmio_access_sizes, setup_ap, teardown),
	    cmocka_unit_test_setup_teardown(test_register_masks, setup_ap, teardown),
	    cmocka_unit_test_setup_teardown(test_tpr_ppr_priority_classes, setup_ap, teardown),
	    cmocka_unit_test_setup_teardown(test_apr, setup_ap, teardown),
	    cmocka_unit_test_setup_teardown(test_nested_isr_ack_eoi_order, setup_ap, teardown),
	    cmocka_unit_test_setup_teardown(test_level_eoi_broadcast, setup_ap, teardown),
	    cmocka_unit_test_setup_teardown(test_icr_xapic, setup_ap, teardown),
	    cmocka_unit_test_setup_teardown(test_icr_illegal_vector_and_esr, setup_ap, teardown),
	    cmocka_unit_test_setup_teardown(test_icr_x2apic, setup_ap, teardown),
	    cmocka_unit_test_setup_teardown(test_match_physical_and_flat, setup_ap, teardown),
	    cmocka_unit_test_setup_teardown(test_match_cluster, setup_ap, teardown),
	    cmocka_unit_test_setup_teardown(test_match_x2apic_and_disabled, setup_ap, teardown),
	    cmocka_unit_test_setup_teardown(test_timer_oneshot, setup_ap, teardown),
	    cmocka_unit_test_setup_teardown(test_timer_divide_config, setup_ap, teardown),
	    cmocka_unit_test_setup_teardown(test_timer_periodic, setup_ap, teardown),
	    cmocka_unit_test_setup_teardown(test_timer_periodic_min_period, setup_ap, teardown),
	    cmocka_unit_test_setup_teardown(test_timer_masked, setup_ap, teardown),
	    cmocka_unit_test_setup_teardown(test_timer_tsc_deadline, setup_ap, teardown),
	    cmocka_unit_test_setup_teardown(test_apic_base_transitions, setup_ap, teardown),
	    cmocka_unit_test_setup_teardown(test_x2apic_msr_rules, setup_ap, teardown),
	    cmocka_unit_test_setup_teardown(test_sw_disabled_drops_fixed_takes_init_sipi, setup_ap,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_concurrent_delivery, setup_ap, teardown),
	    cmocka_unit_test_setup_teardown(test_save_load_round_trip, setup_ap, teardown),
	    cmocka_unit_test_setup_teardown(test_save_load_oneshot_tsc_and_x2apic, setup_ap,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_load_rejects_bad_state, setup_ap, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
