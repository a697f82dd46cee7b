/* The local APIC's core: interrupt acceptance and priority (IRR/ISR/TMR, TPR/PPR), EOI, IPIs,
 * errors, reset, destination matching, the vCPU's questions, and save/load. Register access
 * (MMIO, MSRs, IA32_APIC_BASE) is in lapic_regs.c, the timer in lapic_timer.c. See lapic.h for the
 * model and the lock. */
#include <errno.h>
#include <string.h>

#include "hw/irq/irq_util.h"
#include "hw/irq/lapic_priv.h"

/* LVT registers in order, and the bits a write may set in each (declared in lapic_priv.h). */
const struct lapic_lvt_desc lapic_lvt_regs[APIC_NR_LVT] = {
    {APIC_REG_LVT_TIMER, 0x700ffu},   /* vector, mask, mode */
    {APIC_REG_LVT_THERMAL, 0x107ffu}, /* vector, delivery mode, mask */
    {APIC_REG_LVT_PERF, 0x107ffu},
    {APIC_REG_LVT_LINT0, 0x1a7ffu}, /* + polarity, trigger mode (remote IRR is read-only) */
    {APIC_REG_LVT_LINT1, 0x1a7ffu},
    {APIC_REG_LVT_ERROR, 0x100ffu}, /* vector, mask */
};

/* ---- vector bitmaps and priorities ---- */

static unsigned vec_reg(unsigned base, uint8_t v)
{
	return base + (unsigned)(v >> 5) * 16;
}

static int vec_test(struct lapic *l, unsigned base, uint8_t v)
{
	return (lapic_get(l, vec_reg(base, v)) >> (v & 31)) & 1;
}

static void vec_assign(struct lapic *l, unsigned base, uint8_t v, int on)
{
	unsigned r = vec_reg(base, v);
	uint32_t w = lapic_get(l, r), bit = 1u << (v & 31);
	lapic_set(l, r, on ? w | bit : w & ~bit);
}

/* Highest set vector of the bitmap at `base`, or -1. */
static int vec_highest(struct lapic *l, unsigned base)
{
	for (int i = 7; i >= 0; i--) {
		uint32_t w = lapic_get(l, base + (unsigned)i * 16);
		if (w)
			return i * 32 + irq_fls32(w);
	}
	return -1;
}

void lapic_update_ppr_locked(struct lapic *l)
{
	uint32_t tpr = lapic_get(l, APIC_REG_TPR) & 0xff;
	int isrv = vec_highest(l, APIC_REG_ISR);
	uint32_t isr_class = isrv < 0 ? 0 : (uint32_t)isrv & 0xf0;
	lapic_set(l, APIC_REG_PPR, (tpr & 0xf0) >= isr_class ? tpr : isr_class);
}

/* SDM 10.8.3.1: the arbitration priority. */
uint32_t lapic_apr_locked(struct lapic *l)
{
	uint32_t tpr = lapic_get(l, APIC_REG_TPR) & 0xff;
	int isrv = vec_highest(l, APIC_REG_ISR), irrv = vec_highest(l, APIC_REG_IRR);
	uint32_t isr_c = isrv < 0 ? 0 : (uint32_t)isrv & 0xf0;
	uint32_t irr_c = irrv < 0 ? 0 : (uint32_t)irrv & 0xf0;
	if ((tpr & 0xf0) >= irr_c && (tpr & 0xf0) > isr_c)
		return tpr;
	uint32_t apr = tpr & 0xf0;
	apr = isr_c > apr ? isr_c : apr;
	return irr_c > apr ? irr_c : apr;
}

static int pending_locked(struct lapic *l)
{
	if (!lapic_hw_enabled(l))
		return -1;
	int irrv = vec_highest(l, APIC_REG_IRR);
	if (irrv < 0 || ((uint32_t)irrv & 0xf0) <= (lapic_get(l, APIC_REG_PPR) & 0xf0))
		return -1;
	return irrv;
}

/* ---- errors, acceptance, EOI, IPIs ---- */

static void error_locked(struct lapic *l, uint32_t bits, struct lapic_out *out)
{
	l->esr_latch |= bits;
	uint32_t lvt = lapic_get(l, APIC_REG_LVT_ERROR);
	uint8_t v = (uint8_t)(lvt & APIC_LVT_VECTOR);
	/* An illegal error vector only latches (it would raise another error). */
	if (!(lvt & APIC_LVT_MASKED) && v >= 16) {
		vec_assign(l, APIC_REG_IRR, v, 1);
		vec_assign(l, APIC_REG_TMR, v, 0);
		out->kick = 1;
	}
}

void lapic_accept_fixed_locked(struct lapic *l, uint8_t vector, int trigger_level,
			       struct lapic_out *out)
{
	if (vector < 16) {
		error_locked(l, APIC_ESR_RECV_ILLEGAL, out);
		return;
	}
	vec_assign(l, APIC_REG_IRR, vector, 1);
	vec_assign(l, APIC_REG_TMR, vector, trigger_level);
	out->kick = 1;
}

void lapic_tpr_write_locked(struct lapic *l, uint32_t tpr, struct lapic_out *out)
{
	int was = pending_locked(l);
	lapic_set(l, APIC_REG_TPR, tpr & 0xff);
	lapic_update_ppr_locked(l);
	/* A vector held back by the old priority must reach the vCPU now, not at its next exit. */
	if (was < 0 && pending_locked(l) >= 0)
		out->kick = 1;
}

void lapic_eoi_locked(struct lapic *l, struct lapic_out *out)
{
	int isrv = vec_highest(l, APIC_REG_ISR);
	if (isrv < 0)
		return;
	vec_assign(l, APIC_REG_ISR, (uint8_t)isrv, 0);
	lapic_update_ppr_locked(l);
	if (vec_test(l, APIC_REG_TMR, (uint8_t)isrv)) {
		out->eoi = 1;
		out->eoi_vector = (uint8_t)isrv;
	}
}

void lapic_send_locked(struct lapic *l, uint32_t icr, uint32_t dest, struct lapic_out *out)
{
	unsigned dm = APIC_ICR_DM(icr);
	if ((dm == APIC_DM_FIXED || dm == APIC_DM_LOWEST) && (icr & 0xff) < 16) {
		error_locked(l, APIC_ESR_SEND_ILLEGAL, out);
		return;
	}
	out->ipi = 1;
	out->ipi_icr = icr;
	out->ipi_dest = dest;
}

/* Make the calls an access collected; the lock must not be held. */
void lapic_flush(struct lapic *l, const struct lapic_out *out)
{
	const struct lapic_ops *ops = l->ops;
	if (out->ipi && ops->send_ipi) {
		uint32_t icr = out->ipi_icr;
		ops->send_ipi(l->ctx, l, out->ipi_dest, !!(icr & APIC_ICR_LOGICAL),
			      APIC_ICR_SHORTHAND(icr), APIC_ICR_DM(icr), (uint8_t)(icr & 0xff),
			      !!(icr & APIC_ICR_LEVEL), !!(icr & APIC_ICR_TRIGGER));
	}
	if (out->eoi && ops->eoi_broadcast)
		ops->eoi_broadcast(l->ctx, out->eoi_vector);
	if (out->kick && ops->kick)
		ops->kick(l->ctx);
}

/* ---- reset ---- */

/* The power-up register state; the ID register is `id_reg`, IA32_APIC_BASE is kept. */
void lapic_regs_reset_locked(struct lapic *l, uint32_t id_reg)
{
	memset(l->regs, 0, sizeof(l->regs));
	lapic_set(l, APIC_REG_ID, id_reg);
	lapic_set(l, APIC_REG_VER, APIC_VERSION);
	lapic_set(l, APIC_REG_DFR, 0xffffffffu);
	lapic_set(l, APIC_REG_SVR, 0xff);
	for (unsigned i = 0; i < APIC_NR_LVT; i++)
		lapic_set(l, lapic_lvt_regs[i].reg, APIC_LVT_MASKED);
	/* No firmware sets up virtual wire mode: the BSP starts with LINT0 as ExtINT (as KVM). */
	if (l->apic_base & LAPIC_BASE_BSP)
		lapic_set(l, APIC_REG_LVT_LINT0, APIC_DM_EXTINT << 8);
	if (lapic_x2apic_mode(l))
		lapic_set(l, APIC_REG_LDR, lapic_x2apic_ldr(l->init_id));
	l->esr_latch = 0;
	l->timer_div = 2;
	lapic_timer_stop_locked(l);
}

void lapic_reset(struct lapic *l, int power_on)
{
	pthread_mutex_lock(&l->lock);
	if (power_on) {
		l->apic_base = LAPIC_BASE_DEFAULT | LAPIC_BASE_EN | (l->bsp ? LAPIC_BASE_BSP : 0);
		l->events = 0;
		l->sipi_vector = 0;
		lapic_regs_reset_locked(l, l->init_id << 24);
	} else {
		lapic_regs_reset_locked(l, lapic_get(l, APIC_REG_ID));
	}
	pthread_mutex_unlock(&l->lock);
}

int lapic_init(struct lapic *l, uint32_t id, int bsp, const struct clock_src *clk, uint64_t bus_hz,
	       uint64_t tsc_khz, const struct lapic_ops *ops, void *ctx)
{
	if (!clk || !clk->mono_ns || !ops || !bus_hz || !tsc_khz || bus_hz > (1ull << 33) ||
	    tsc_khz > (1ull << 33) || id >= 0xff)
		return -EINVAL;
	memset(l, 0, sizeof(*l));
	int r = pthread_mutex_init(&l->lock, NULL);
	if (r)
		return -r;
	l->clk = *clk;
	l->ops = ops;
	l->ctx = ctx;
	l->bus_hz = bus_hz;
	l->tsc_khz = tsc_khz;
	l->init_id = id;
	l->bsp = !!bsp;
	lapic_reset(l, 1);
	return 0;
}

void lapic_destroy(struct lapic *l)
{
	pthread_mutex_destroy(&l->lock);
}

/* ---- interrupt messages and the vCPU's questions ---- */

void lapic_deliver(struct lapic *l, unsigned delivery_mode, uint8_t vector, int trigger_level)
{
	struct lapic_out out = {0};

	pthread_mutex_lock(&l->lock);
	switch (delivery_mode) {
	case APIC_DM_FIXED:
	case APIC_DM_LOWEST:
		if (lapic_hw_enabled(l) && lapic_sw_enabled(l))
			lapic_accept_fixed_locked(l, vector, trigger_level, &out);
		break;
	case APIC_DM_SMI:
		l->events |= LAPIC_EV_SMI;
		out.kick = 1;
		break;
	case APIC_DM_NMI:
		l->events |= LAPIC_EV_NMI;
		out.kick = 1;
		break;
	case APIC_DM_INIT:
		l->events = (l->events | LAPIC_EV_INIT) & ~(uint32_t)LAPIC_EV_SIPI;
		out.kick = 1;
		break;
	case APIC_DM_STARTUP:
		l->events |= LAPIC_EV_SIPI;
		l->sipi_vector = vector;
		out.kick = 1;
		break;
	case APIC_DM_EXTINT:
		l->events |= LAPIC_EV_EXTINT;
		out.kick = 1;
		break;
	default:
		break; /* reserved */
	}
	pthread_mutex_unlock(&l->lock);
	lapic_flush(l, &out);
}

int lapic_match_dest(struct lapic *l, uint32_t dest, int logical)
{
	int hit = 0;
	pthread_mutex_lock(&l->lock);
	uint32_t ldr = lapic_get(l, APIC_REG_LDR);
	if (!lapic_hw_enabled(l)) {
		hit = 0;
	} else if (dest == 0xffffffffu) {
		hit = 1;
	} else if (lapic_x2apic_mode(l)) {
		if (!logical)
			hit = dest == l->init_id;
		else
			hit = (dest >> 16) == (ldr >> 16) && (dest & ldr & 0xffff);
	} else if (dest == 0xff) {
		hit = 1;
	} else if (!logical) {
		hit = dest == lapic_get(l, APIC_REG_ID) >> 24;
	} else {
		uint32_t model = lapic_get(l, APIC_REG_DFR) >> 28, id = ldr >> 24;
		dest &= 0xff;
		if (model == 0xf)
			hit = (dest & id) != 0;
		else if (model == 0)
			hit = (dest >> 4) == (id >> 4) && (dest & id & 0xf);
	}
	pthread_mutex_unlock(&l->lock);
	return hit;
}

unsigned lapic_priority(struct lapic *l)
{
	pthread_mutex_lock(&l->lock);
	unsigned p = lapic_get(l, APIC_REG_PPR) & 0xff;
	pthread_mutex_unlock(&l->lock);
	return p;
}

uint32_t lapic_id(struct lapic *l)
{
	pthread_mutex_lock(&l->lock);
	uint32_t id = lapic_x2apic_mode(l) ? l->init_id : lapic_get(l, APIC_REG_ID) >> 24;
	pthread_mutex_unlock(&l->lock);
	return id;
}

int lapic_pending_vector(struct lapic *l)
{
	pthread_mutex_lock(&l->lock);
	int v = pending_locked(l);
	pthread_mutex_unlock(&l->lock);
	return v;
}

void lapic_ack(struct lapic *l, uint8_t vector)
{
	pthread_mutex_lock(&l->lock);
	if (vec_test(l, APIC_REG_IRR, vector)) {
		vec_assign(l, APIC_REG_IRR, vector, 0);
		vec_assign(l, APIC_REG_ISR, vector, 1);
		lapic_update_ppr_locked(l);
	}
	pthread_mutex_unlock(&l->lock);
}

unsigned lapic_take_events(struct lapic *l, uint8_t *sipi_vector)
{
	pthread_mutex_lock(&l->lock);
	unsigned ev = l->events;
	l->events = 0;
	if ((ev & LAPIC_EV_SIPI) && sipi_vector)
		*sipi_vector = l->sipi_vector;
	pthread_mutex_unlock(&l->lock);
	return ev;
}

int lapic_accepts_pic_intr(struct lapic *l)
{
	pthread_mutex_lock(&l->lock);
	uint32_t lint0 = lapic_get(l, APIC_REG_LVT_LINT0);
	int r = !lapic_hw_enabled(l) ||
		(!(lint0 & APIC_LVT_MASKED) && APIC_LVT_DM(lint0) == APIC_DM_EXTINT);
	pthread_mutex_unlock(&l->lock);
	return r;
}

int lapic_has_work(struct lapic *l)
{
	pthread_mutex_lock(&l->lock);
	int r = l->events != 0 || pending_locked(l) >= 0;
	pthread_mutex_unlock(&l->lock);
	return r;
}

/* ---- save / load ---- */

void lapic_save(struct lapic *l, struct lapic_state *s)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_lock(&l->lock);
	memcpy(s->regs, l->regs, sizeof(s->regs));
	uint32_t tmcct = lapic_timer_tmcct_locked(l);
	for (unsigned i = 0; i < 4; i++)
		s->regs[APIC_REG_TMCCT + i] = (uint8_t)(tmcct >> (8 * i));
	s->apic_base = l->apic_base;
	s->tsc_deadline = l->tsc_deadline;
	s->timer_ns_left = lapic_timer_save_locked(l);
	s->events = l->events;
	s->sipi_vector = l->sipi_vector;
	pthread_mutex_unlock(&l->lock);
}

static uint32_t state_get(const struct lapic_state *s, unsigned reg)
{
	const uint8_t *p = s->regs + reg;
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int lapic_load(struct lapic *l, const struct lapic_state *s)
{
	const uint32_t all_events =
	    LAPIC_EV_NMI | LAPIC_EV_INIT | LAPIC_EV_SIPI | LAPIC_EV_EXTINT | LAPIC_EV_SMI;
	if ((s->apic_base & LAPIC_BASE_RESERVED) ||
	    (s->apic_base & (LAPIC_BASE_EN | LAPIC_BASE_EXTD)) == LAPIC_BASE_EXTD ||
	    (state_get(s, APIC_REG_ID) & 0x00ffffffu) || (s->events & ~all_events))
		return -EINVAL;

	pthread_mutex_lock(&l->lock);
	l->apic_base = s->apic_base;
	int x2 = lapic_x2apic_mode(l);
	/* Only the registers that exist, with their writable bits. */
	memset(l->regs, 0, sizeof(l->regs));
	lapic_set(l, APIC_REG_ID, x2 ? l->init_id << 24 : state_get(s, APIC_REG_ID));
	lapic_set(l, APIC_REG_VER, APIC_VERSION);
	lapic_set(l, APIC_REG_TPR, state_get(s, APIC_REG_TPR) & 0xff);
	lapic_set(l, APIC_REG_LDR,
		  x2 ? lapic_x2apic_ldr(l->init_id) : state_get(s, APIC_REG_LDR) & 0xff000000u);
	lapic_set(l, APIC_REG_DFR, state_get(s, APIC_REG_DFR) | 0x0fffffffu);
	lapic_set(l, APIC_REG_SVR, state_get(s, APIC_REG_SVR) & APIC_SVR_MASK);
	for (unsigned r = APIC_REG_ISR; r < APIC_REG_ESR; r += 16)
		lapic_set(l, r, state_get(s, r) & ((r & 0x70) ? 0xffffffffu : 0xffff0000u));
	lapic_set(l, APIC_REG_ESR, state_get(s, APIC_REG_ESR) & 0xff);
	lapic_set(l, APIC_REG_ICR_LO, state_get(s, APIC_REG_ICR_LO) & APIC_ICR_LO_MASK);
	lapic_set(l, APIC_REG_ICR_HI, state_get(s, APIC_REG_ICR_HI) & (x2 ? ~0u : 0xff000000u));
	for (unsigned i = 0; i < APIC_NR_LVT; i++) {
		uint32_t v = state_get(s, lapic_lvt_regs[i].reg) & lapic_lvt_regs[i].mask;
		lapic_set(l, lapic_lvt_regs[i].reg, lapic_sw_enabled(l) ? v : v | APIC_LVT_MASKED);
	}
	lapic_set(l, APIC_REG_TMICT, state_get(s, APIC_REG_TMICT));
	lapic_set(l, APIC_REG_TDCR, state_get(s, APIC_REG_TDCR) & 0xb);
	lapic_update_ppr_locked(l);
	l->esr_latch = 0;
	l->tsc_deadline = s->tsc_deadline;
	lapic_timer_load_locked(l, s->timer_ns_left, state_get(s, APIC_REG_TMCCT));
	l->events = s->events;
	l->sipi_vector = s->sipi_vector;
	pthread_mutex_unlock(&l->lock);
	return 0;
}
