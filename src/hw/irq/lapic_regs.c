/* The local APIC's register interface: xAPIC MMIO, x2APIC MSRs, IA32_APIC_BASE and
 * IA32_TSC_DEADLINE, with the xAPIC and x2APIC access rules. See lapic.h for the model and the
 * lock. */
#include "hw/irq/lapic_priv.h"

static uint32_t reg_read_locked(struct lapic *l, unsigned reg, int x2)
{
	switch (reg) {
	case APIC_REG_ID:
		return x2 ? l->init_id : lapic_get(l, reg);
	case APIC_REG_APR:
		return lapic_apr_locked(l);
	case APIC_REG_ICR_LO:
		return lapic_get(l, reg); /* delivery status (bit 12) is always idle */
	case APIC_REG_TMCCT:
		return lapic_timer_tmcct_locked(l);
	case APIC_REG_VER:
	case APIC_REG_TPR:
	case APIC_REG_PPR:
	case APIC_REG_LDR:
	case APIC_REG_DFR:
	case APIC_REG_SVR:
	case APIC_REG_ESR:
	case APIC_REG_ICR_HI:
	case APIC_REG_TMICT:
	case APIC_REG_TDCR:
		return lapic_get(l, reg);
	default:
		if ((reg >= APIC_REG_ISR && reg < APIC_REG_ESR) ||
		    (reg >= APIC_REG_LVT_TIMER && reg <= APIC_REG_LVT_ERROR))
			return lapic_get(l, reg);
		return 0; /* EOI, RRD, CMCI, SELF IPI, reserved */
	}
}

static int lvt_index(unsigned reg)
{
	if (reg < APIC_REG_LVT_TIMER || reg > APIC_REG_LVT_ERROR || (reg & 0xf))
		return -1;
	return (int)((reg - APIC_REG_LVT_TIMER) >> 4);
}

/* A register write; x2 selects x2APIC rules (then -1 is #GP). The x2APIC ICR is written by the
 * MSR code. */
static int reg_write_locked(struct lapic *l, unsigned reg, uint32_t val, int x2,
			    struct lapic_out *out)
{
	int lvt = lvt_index(reg);
	if (lvt >= 0) {
		val &= lapic_lvt_regs[lvt].mask;
		if (!lapic_sw_enabled(l))
			val |= APIC_LVT_MASKED;
		if (reg == APIC_REG_LVT_TIMER)
			lapic_timer_lvt_write_locked(l, val);
		else
			lapic_set(l, reg, val);
		return 0;
	}
	switch (reg) {
	case APIC_REG_ID:
		if (x2)
			return -1;
		lapic_set(l, reg, val & 0xff000000u);
		return 0;
	case APIC_REG_TPR:
		lapic_tpr_write_locked(l, val, out);
		return 0;
	case APIC_REG_EOI:
		if (x2 && val)
			return -1;
		lapic_eoi_locked(l, out);
		return 0;
	case APIC_REG_LDR:
		if (x2)
			return -1;
		lapic_set(l, reg, val & 0xff000000u);
		return 0;
	case APIC_REG_DFR:
		if (x2)
			return -1;
		lapic_set(l, reg, val | 0x0fffffffu);
		return 0;
	case APIC_REG_SVR:
		val &= APIC_SVR_MASK;
		lapic_set(l, reg, val);
		if (!(val & APIC_SVR_ENABLE))
			for (unsigned i = 0; i < APIC_NR_LVT; i++)
				lapic_set(l, lapic_lvt_regs[i].reg,
					  lapic_get(l, lapic_lvt_regs[i].reg) | APIC_LVT_MASKED);
		return 0;
	case APIC_REG_ESR:
		if (x2 && val)
			return -1;
		lapic_set(l, reg, l->esr_latch);
		l->esr_latch = 0;
		return 0;
	case APIC_REG_ICR_LO:
		val &= APIC_ICR_LO_MASK;
		lapic_set(l, reg, val);
		lapic_send_locked(l, val, lapic_get(l, APIC_REG_ICR_HI) >> 24, out);
		return 0;
	case APIC_REG_ICR_HI:
		lapic_set(l, reg, val & 0xff000000u);
		return 0;
	case APIC_REG_TMICT:
		lapic_timer_tmict_write_locked(l, val);
		return 0;
	case APIC_REG_TDCR:
		lapic_set(l, reg, val & 0xb);
		return 0;
	case APIC_REG_SELF_IPI:
		if (!x2)
			return 0;
		if (val & ~0xffu)
			return -1;
		if (lapic_sw_enabled(l)) /* a fixed interrupt like any other */
			lapic_accept_fixed_locked(l, (uint8_t)val, 0, out);
		return 0;
	default:
		/* read-only or absent: #GP in x2APIC mode, ignored in xAPIC mode */
		return x2 ? -1 : 0;
	}
}

static uint64_t mmio_read(void *dev, uint64_t off, unsigned size)
{
	struct lapic *l = dev;
	uint8_t slot[16] = {0};
	uint64_t val = 0;

	if (off >= LAPIC_MMIO_LEN || size > 8)
		return 0;
	pthread_mutex_lock(&l->lock);
	if (lapic_hw_enabled(l) && !lapic_x2apic_mode(l) && off < sizeof(l->regs)) {
		uint32_t r = reg_read_locked(l, (unsigned)off & 0xff0, 0);
		for (unsigned i = 0; i < 4; i++)
			slot[i] = (uint8_t)(r >> (8 * i));
	}
	pthread_mutex_unlock(&l->lock);
	for (unsigned i = 0; i < size && (off & 0xf) + i < 16; i++)
		val |= (uint64_t)slot[(off & 0xf) + i] << (8 * i);
	return val;
}

static void mmio_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct lapic *l = dev;
	struct lapic_out out = {0};

	if (size != 4 || (off & 0xf) || off >= sizeof(l->regs))
		return;
	pthread_mutex_lock(&l->lock);
	if (lapic_hw_enabled(l) && !lapic_x2apic_mode(l))
		(void)reg_write_locked(l, (unsigned)off, (uint32_t)val, 0, &out);
	pthread_mutex_unlock(&l->lock);
	lapic_flush(l, &out);
}

const struct bus_ops lapic_mmio_ops = {mmio_read, mmio_write};

/* x2APIC register access rights. */
enum { X2_R = 1, X2_W = 2 };

static unsigned x2_access(unsigned reg)
{
	if (lvt_index(reg) >= 0)
		return X2_R | X2_W;
	if (reg >= APIC_REG_ISR && reg < APIC_REG_ESR)
		return X2_R; /* ISR, TMR, IRR */
	switch (reg) {
	case APIC_REG_ID:
	case APIC_REG_VER:
	case APIC_REG_PPR:
	case APIC_REG_LDR:
	case APIC_REG_TMCCT:
		return X2_R;
	case APIC_REG_TPR:
	case APIC_REG_SVR:
	case APIC_REG_ESR:
	case APIC_REG_ICR_LO:
	case APIC_REG_TMICT:
	case APIC_REG_TDCR:
		return X2_R | X2_W;
	case APIC_REG_EOI:
	case APIC_REG_SELF_IPI:
		return X2_W;
	default:
		return 0;
	}
}

#define MSR_APIC_BASE 0x1bu
#define MSR_TSC_DEADLINE 0x6e0u
#define MSR_X2APIC_FIRST 0x800u
#define MSR_X2APIC_LAST 0x8ffu

int lapic_msr_read(struct lapic *l, uint32_t msr, uint64_t *val)
{
	int ret = 0;
	pthread_mutex_lock(&l->lock);
	if (msr == MSR_APIC_BASE) {
		*val = l->apic_base;
	} else if (msr == MSR_TSC_DEADLINE) {
		*val = lapic_timer_tscdl_read_locked(l);
	} else if (msr >= MSR_X2APIC_FIRST && msr <= MSR_X2APIC_LAST && lapic_x2apic_mode(l)) {
		unsigned reg = (msr - MSR_X2APIC_FIRST) << 4;
		if (!(x2_access(reg) & X2_R))
			ret = -1;
		else if (reg == APIC_REG_ICR_LO)
			*val = (uint64_t)lapic_get(l, APIC_REG_ICR_HI) << 32 |
			       lapic_get(l, APIC_REG_ICR_LO);
		else
			*val = reg_read_locked(l, reg, 1);
	} else {
		ret = -1;
	}
	pthread_mutex_unlock(&l->lock);
	return ret;
}

/* IA32_APIC_BASE write: -1 for #GP. */
static int apic_base_write_locked(struct lapic *l, uint64_t val)
{
	uint64_t mode_bits = LAPIC_BASE_EN | LAPIC_BASE_EXTD;
	uint64_t old = l->apic_base & mode_bits, new = val &mode_bits;

	if ((val & LAPIC_BASE_RESERVED) || new == LAPIC_BASE_EXTD)
		return -1;
	if (old == mode_bits && new == LAPIC_BASE_EN)
		return -1; /* x2APIC -> xAPIC */
	if (old == 0 && new == mode_bits)
		return -1; /* disabled -> x2APIC */
	l->apic_base = val;
	if (!new &&old) {
		/* Globally disabled: the APIC returns to its power-up state. */
		lapic_regs_reset_locked(l, l->init_id << 24);
	} else if (new == mode_bits && old != mode_bits) {
		lapic_set(l, APIC_REG_ID, l->init_id << 24);
		lapic_set(l, APIC_REG_LDR, lapic_x2apic_ldr(l->init_id));
	}
	return 0;
}

int lapic_msr_write(struct lapic *l, uint32_t msr, uint64_t val)
{
	struct lapic_out out = {0};
	int ret = 0;

	pthread_mutex_lock(&l->lock);
	if (msr == MSR_APIC_BASE) {
		ret = apic_base_write_locked(l, val);
	} else if (msr == MSR_TSC_DEADLINE) {
		lapic_timer_tscdl_write_locked(l, val);
	} else if (msr >= MSR_X2APIC_FIRST && msr <= MSR_X2APIC_LAST && lapic_x2apic_mode(l)) {
		unsigned reg = (msr - MSR_X2APIC_FIRST) << 4;
		if (!(x2_access(reg) & X2_W)) {
			ret = -1;
		} else if (reg == APIC_REG_ICR_LO) {
			uint32_t lo = (uint32_t)val & APIC_ICR_LO_MASK,
				 dest = (uint32_t)(val >> 32);
			lapic_set(l, APIC_REG_ICR_LO, lo);
			lapic_set(l, APIC_REG_ICR_HI, dest);
			lapic_send_locked(l, lo, dest, &out);
		} else if (val >> 32) {
			ret = -1;
		} else {
			ret = reg_write_locked(l, reg, (uint32_t)val, 1, &out);
		}
	} else {
		ret = -1;
	}
	pthread_mutex_unlock(&l->lock);
	lapic_flush(l, &out);
	return ret;
}

uint8_t lapic_get_tpr(struct lapic *l)
{
	pthread_mutex_lock(&l->lock);
	uint8_t tpr = (uint8_t)lapic_get(l, APIC_REG_TPR);
	pthread_mutex_unlock(&l->lock);
	return tpr;
}

void lapic_set_tpr(struct lapic *l, uint8_t tpr)
{
	struct lapic_out out = {0};

	pthread_mutex_lock(&l->lock);
	lapic_tpr_write_locked(l, tpr, &out);
	pthread_mutex_unlock(&l->lock);
	lapic_flush(l, &out);
}

uint64_t lapic_apic_base(struct lapic *l)
{
	pthread_mutex_lock(&l->lock);
	uint64_t v = l->apic_base;
	pthread_mutex_unlock(&l->lock);
	return v;
}
