/* Internals shared by lapic.c (registers, MSRs, delivery, state) and lapic_timer.c (the LVT
 * timer): register offsets and bits, register-page accessors, and the "effects to apply after
 * unlocking" record. Every function here expects l->lock held unless it says otherwise. */
#ifndef VMON_HW_IRQ_LAPIC_PRIV_H
#define VMON_HW_IRQ_LAPIC_PRIV_H

#include <stdint.h>

#include "hw/irq/lapic.h"

/* Register offsets in the xAPIC page / KVM register page (x2APIC MSR = 0x800 + (off >> 4)). */
enum {
	APIC_REG_ID = 0x20,
	APIC_REG_VER = 0x30,
	APIC_REG_TPR = 0x80,
	APIC_REG_APR = 0x90,
	APIC_REG_PPR = 0xa0,
	APIC_REG_EOI = 0xb0,
	APIC_REG_RRD = 0xc0,
	APIC_REG_LDR = 0xd0,
	APIC_REG_DFR = 0xe0,
	APIC_REG_SVR = 0xf0,
	APIC_REG_ISR = 0x100,
	APIC_REG_TMR = 0x180,
	APIC_REG_IRR = 0x200,
	APIC_REG_ESR = 0x280,
	APIC_REG_CMCI = 0x2f0,
	APIC_REG_ICR_LO = 0x300,
	APIC_REG_ICR_HI = 0x310,
	APIC_REG_LVT_TIMER = 0x320,
	APIC_REG_LVT_THERMAL = 0x330,
	APIC_REG_LVT_PERF = 0x340,
	APIC_REG_LVT_LINT0 = 0x350,
	APIC_REG_LVT_LINT1 = 0x360,
	APIC_REG_LVT_ERROR = 0x370,
	APIC_REG_TMICT = 0x380,
	APIC_REG_TMCCT = 0x390,
	APIC_REG_TDCR = 0x3e0,
	APIC_REG_SELF_IPI = 0x3f0,
};

#define APIC_VERSION 0x00050014u /* version 0x14, max LVT entry 5 */
#define APIC_NR_LVT 6

#define APIC_SVR_ENABLE (1u << 8)
#define APIC_SVR_MASK 0x3ffu /* vector, enable, focus checking; no EOI-broadcast suppression */

#define APIC_LVT_MASKED (1u << 16)
#define APIC_LVT_VECTOR 0xffu
#define APIC_LVT_DM(v) (((v) >> 8) & 7u)
#define APIC_LVT_TIMER_MODE(v) (((v) >> 17) & 3u)
enum { APIC_TIMER_ONESHOT = 0, APIC_TIMER_PERIODIC = 1, APIC_TIMER_TSCDEADLINE = 2 };

#define APIC_ICR_DM(v) (((v) >> 8) & 7u)
#define APIC_ICR_LOGICAL (1u << 11)
#define APIC_ICR_LEVEL (1u << 14)
#define APIC_ICR_TRIGGER (1u << 15)
#define APIC_ICR_SHORTHAND(v) (((v) >> 18) & 3u)
#define APIC_ICR_LO_MASK 0x000ccfffu /* vector, DM, dest mode, level, trigger, shorthand */

#define APIC_ESR_SEND_ILLEGAL (1u << 5)
#define APIC_ESR_RECV_ILLEGAL (1u << 6)

/* IA32_APIC_BASE: bits 0-7, 9 and 52-63 are reserved. */
#define LAPIC_BASE_RESERVED (0xffull | (1ull << 9) | ~((1ull << 52) - 1))

/* What an access did that must be told to the outside once the lock is dropped. */
struct lapic_out {
	int kick;
	int eoi;
	uint8_t eoi_vector;
	int ipi;
	uint32_t ipi_dest;
	uint32_t ipi_icr; /* the ICR low bits */
};

static inline uint32_t lapic_get(const struct lapic *l, unsigned reg)
{
	const uint8_t *p = l->regs + reg;
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void lapic_set(struct lapic *l, unsigned reg, uint32_t v)
{
	uint8_t *p = l->regs + reg;
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static inline int lapic_x2apic_mode(const struct lapic *l)
{
	return (l->apic_base & (LAPIC_BASE_EN | LAPIC_BASE_EXTD)) ==
	       (LAPIC_BASE_EN | LAPIC_BASE_EXTD);
}

static inline int lapic_hw_enabled(const struct lapic *l)
{
	return (l->apic_base & LAPIC_BASE_EN) != 0;
}

static inline int lapic_sw_enabled(const struct lapic *l)
{
	return (lapic_get(l, APIC_REG_SVR) & APIC_SVR_ENABLE) != 0;
}

/* LVT registers in order, with the bits a write may set in each. */
struct lapic_lvt_desc {
	unsigned reg;
	uint32_t mask;
};
extern const struct lapic_lvt_desc lapic_lvt_regs[APIC_NR_LVT];

static inline uint32_t lapic_x2apic_ldr(uint32_t id)
{
	return ((id >> 4) << 16) | (1u << (id & 0xf));
}

/* ---- lapic.c ---- */

/* Recompute PPR from TPR and ISR. */
void lapic_update_ppr_locked(struct lapic *l);
/* The arbitration priority (SDM 10.8.3.1), computed. */
uint32_t lapic_apr_locked(struct lapic *l);
/* A TPR write (MMIO, x2APIC MSR, CR8): bits 7:0, PPR recomputed; sets out->kick when a pending
 * vector became deliverable. */
void lapic_tpr_write_locked(struct lapic *l, uint32_t tpr, struct lapic_out *out);
/* EOI: retire the highest ISR vector; a level-triggered one is broadcast (out->eoi). */
void lapic_eoi_locked(struct lapic *l, struct lapic_out *out);
/* Send the IPI described by ICR low bits `icr` to `dest` (out->ipi), or latch an ESR error. */
void lapic_send_locked(struct lapic *l, uint32_t icr, uint32_t dest, struct lapic_out *out);
/* The power-up register state with ID register `id_reg`; IA32_APIC_BASE is kept. */
void lapic_regs_reset_locked(struct lapic *l, uint32_t id_reg);
/* Make the calls `out` collected. Called WITHOUT the lock. */
void lapic_flush(struct lapic *l, const struct lapic_out *out);

/* Accept a fixed interrupt locally (timer, error LVT, self IPI): IRR (+TMR) or an ESR error.
 * Sets out->kick when IRR changed. */
void lapic_accept_fixed_locked(struct lapic *l, uint8_t vector, int trigger_level,
			       struct lapic_out *out);

/* ---- lapic_timer.c ---- */

/* The divisor selected by a divide configuration value (bits 0, 1, 3). */
static inline uint32_t lapic_tdcr_divisor(uint32_t tdcr)
{
	uint32_t x = (tdcr & 3u) | ((tdcr & 8u) >> 1);
	return 1u << ((x + 1) & 7u);
}

/* Disarm the timer (deadline, TSC deadline). */
void lapic_timer_stop_locked(struct lapic *l);
/* A guest write of the LVT timer register (already masked); handles mode switches. */
void lapic_timer_lvt_write_locked(struct lapic *l, uint32_t val);
/* A guest write of the initial count. */
void lapic_timer_tmict_write_locked(struct lapic *l, uint32_t val);
/* The current count, computed from the clock. */
uint32_t lapic_timer_tmcct_locked(struct lapic *l);
/* IA32_TSC_DEADLINE read / write. */
uint64_t lapic_timer_tscdl_read_locked(struct lapic *l);
void lapic_timer_tscdl_write_locked(struct lapic *l, uint64_t val);
/* Save: ns until the timer fires, 0 when not armed. */
uint64_t lapic_timer_save_locked(struct lapic *l);
/* Load: re-arm from the (already sanitised) registers and tsc_deadline, with ns_left (0: derive
 * it from the saved current count `tmcct` or from the TSC deadline). */
void lapic_timer_load_locked(struct lapic *l, uint64_t ns_left, uint32_t tmcct);

#endif
