/* Fixture for the local APIC unit tests (test_lapic_*.c): register offsets and MSR numbers, a
 * fake clock and fake lapic_ops that record every callback (and check that the LAPIC lock is free
 * in each), cmocka setup/teardown for an AP (APIC ID 3) and the BSP (ID 0), and register access
 * helpers through the MMIO ops and MSRs. Header-only: every function is static inline. */
#ifndef VMON_TESTS_LAPIC_TEST_ENV_H
#define VMON_TESTS_LAPIC_TEST_ENV_H

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <string.h>

#include <cmocka.h>

#include "hw/irq/lapic.h"

/* A 1 GHz bus (timer counts are ns at divide-by-1) and a 1 GHz TSC (TSC ticks are ns). */
#define BUS_HZ 1000000000ull
#define TSC_KHZ 1000000ull

/* xAPIC register offsets in the MMIO page. */
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

/* One send_ipi callback, as the LAPIC made it. */
struct ipi_rec {
	struct lapic *src;
	uint32_t dest;
	int logical;
	unsigned shorthand, dm;
	uint8_t vector;
	int level, trigger;
};

/* The fixture: the LAPIC under test, the fake clock's time and what the callbacks saw (the
 * first 8 IPIs and EOI broadcasts; n_ipi and n_eoi count all of them). */
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

static inline uint64_t fake_mono(void *ctx)
{
	return ((struct fx *)ctx)->now;
}

static inline void check_unlocked(struct fx *f)
{
	if (f->threads) /* another thread may hold the lock legitimately */
		return;
	if (pthread_mutex_trylock(&f->l.lock) == 0)
		pthread_mutex_unlock(&f->l.lock);
	else
		f->lock_free_in_cb = 0;
}

static inline void fake_send_ipi(void *ctx, struct lapic *src, uint32_t dest, int logical,
				 unsigned shorthand, unsigned dm, uint8_t vector, int level,
				 int trigger)
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

static inline void fake_eoi(void *ctx, uint8_t vector)
{
	struct fx *f = ctx;
	check_unlocked(f);
	if (f->n_eoi < 8)
		f->eoi[f->n_eoi] = vector;
	f->n_eoi++;
}

static inline void fake_kick(void *ctx)
{
	struct fx *f = ctx;
	check_unlocked(f);
	__atomic_fetch_add(&f->kicks, 1, __ATOMIC_SEQ_CST);
}

static const struct lapic_ops fake_ops = {fake_send_ipi, fake_eoi, fake_kick};

/* lapic_init f->l with APIC ID id on f's clock and fake ops. */
static inline int fx_init(struct fx *f, uint32_t id, int bsp, uint64_t tsc_khz)
{
	struct clock_src clk = {fake_mono, NULL, f};
	f->lock_free_in_cb = 1;
	return lapic_init(&f->l, id, bsp, &clk, BUS_HZ, tsc_khz, &fake_ops, f);
}

static inline int setup_id(void **state, uint32_t id, int bsp)
{
	struct fx *f = test_calloc(1, sizeof(*f));
	f->now = 1000;
	assert_int_equal(fx_init(f, id, bsp, TSC_KHZ), 0);
	*state = f;
	return 0;
}

/* cmocka setups: the BSP (APIC ID 0) or an AP (APIC ID 3), at time 1000 ns. */
static inline int setup_bsp(void **state)
{
	return setup_id(state, 0, 1);
}

static inline int setup_ap(void **state)
{
	return setup_id(state, 3, 0);
}

/* cmocka teardown: checks that every callback ran with the LAPIC lock free. */
static inline int teardown(void **state)
{
	struct fx *f = *state;
	assert_true(f->lock_free_in_cb);
	lapic_destroy(&f->l);
	test_free(f);
	return 0;
}

/* 4-byte MMIO read and write of register off. */
static inline uint32_t rd(struct fx *f, unsigned off)
{
	return (uint32_t)lapic_mmio_ops.read(&f->l, off, 4);
}

static inline void wr(struct fx *f, unsigned off, uint32_t v)
{
	lapic_mmio_ops.write(&f->l, off, 4, v);
}

/* Bit v of the 256-bit register (ISR, TMR, IRR) at base. */
static inline int vec_bit(struct fx *f, unsigned base, uint8_t v)
{
	return (rd(f, base + (v >> 5) * 16) >> (v & 31)) & 1;
}

/* Software-enable the APIC (SVR bit 8, spurious vector 0xff). */
static inline void sw_enable(struct fx *f)
{
	wr(f, R_SVR, 0x1ff);
}

/* Set IA32_APIC_BASE.EXTD: x2APIC mode. */
static inline void enter_x2apic(struct fx *f)
{
	uint64_t base;
	assert_int_equal(lapic_msr_read(&f->l, MSR_APIC_BASE, &base), 0);
	assert_int_equal(lapic_msr_write(&f->l, MSR_APIC_BASE, base | (1ull << 10)), 0);
}

/* Read MSR m, which must not fault. */
static inline uint64_t msr(struct fx *f, uint32_t m)
{
	uint64_t v = 0xdeadbeef;
	assert_int_equal(lapic_msr_read(&f->l, m, &v), 0);
	return v;
}

#endif
