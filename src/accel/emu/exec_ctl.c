/* emu: stack primitives, ENTER, POPF, port I/O and string instructions (MOVS, CMPS, STOS, LODS,
 * SCAS with REP/REPE/REPNE and DF). */
#include "accel/emu/emu_priv.h"

void emu_push(struct emu_cpu *c, unsigned size, uint64_t v)
{
	uint64_t sm = sz_mask(c->stack_size);
	uint64_t sp = (c->st.gpr[X86_RSP] - size) & sm;

	emu_st(c, X86_SS, sp, size, v);
	c->st.gpr[X86_RSP] = (c->st.gpr[X86_RSP] & ~sm) | sp;
}

uint64_t emu_pop(struct emu_cpu *c, unsigned size)
{
	uint64_t sm = sz_mask(c->stack_size);
	uint64_t sp = c->st.gpr[X86_RSP] & sm;
	uint64_t v = emu_ld(c, X86_SS, sp, size);

	c->st.gpr[X86_RSP] = (c->st.gpr[X86_RSP] & ~sm) | ((sp + size) & sm);
	return v;
}

/* ENTER: all stores go through a local stack pointer; registers change only at the end. */
void emu_exec_enter(struct emu_cpu *c, const struct emu_insn *in)
{
	unsigned size = in->osize, level = in->imm2 & 31;
	uint64_t sm = sz_mask(c->stack_size);
	uint64_t sp = c->st.gpr[X86_RSP] & sm, bp = c->st.gpr[X86_RBP] & sm, frame;

	sp = (sp - size) & sm;
	emu_st(c, X86_SS, sp, size, reg_get(c, X86_RBP, size));
	frame = sp;
	if (level) {
		for (unsigned i = 1; i < level; i++) {
			bp = (bp - size) & sm;
			uint64_t v = emu_ld(c, X86_SS, bp, size);
			sp = (sp - size) & sm;
			emu_st(c, X86_SS, sp, size, v);
		}
		sp = (sp - size) & sm;
		emu_st(c, X86_SS, sp, size, frame);
	}
	sp = (sp - (in->imm & 0xffff)) & sm;
	emu_probe_write(c, X86_SS, sp, 1); /* the new stack top must be writable */
	reg_set(c, X86_RBP, size, frame);
	c->st.gpr[X86_RSP] = (c->st.gpr[X86_RSP] & ~sm) | sp;
}

void emu_exec_popf(struct emu_cpu *c, const struct emu_insn *in)
{
	unsigned size = in->osize;
	unsigned iopl = (unsigned)(c->st.rflags & F_IOPL) >> 12;
	uint64_t mask = F_ARITH | F_TF | F_DF | F_NT | F_AC | F_ID;
	uint64_t v;

	if ((c->st.rflags & F_VM) && iopl < 3)
		emu_raise(c, EMU_GP, 1, 0); /* VME not implemented */
	v = emu_pop(c, size);
	if (c->cpl == 0)
		mask |= F_IOPL | F_IF;
	else if (c->cpl <= iopl)
		mask |= F_IF;
	if (size == 2)
		mask &= 0xffff;
	emu_flags_materialize(c);
	c->st.rflags = (c->st.rflags & ~mask & ~(uint64_t)F_RF) | (v & mask) | X86_RFLAGS_FIXED;
}

void emu_exec_io(struct emu_cpu *c, const struct emu_insn *in)
{
	unsigned size = in->osize > 4 ? 4 : in->osize;
	uint16_t port = (in->flags & EMU_I_DX) ? (uint16_t)c->st.gpr[X86_RDX] : (uint16_t)in->imm;

	emu_io_check(c, port, size); /* IOPL, then the TSS I/O permission bitmap */
	if (in->op == EMU_OP_IN)
		reg_set(c, X86_RAX, size, c->ops->pio_in(c->ctx, port, size));
	else
		c->ops->pio_out(c->ctx, port, size, (uint32_t)reg_get(c, X86_RAX, size));
}

/* One iteration; returns the SUB result for CMPS/SCAS (ZF test), else 0. Registers are updated
 * after each iteration so that a fault leaves an architecturally consistent state. */
static inline uint64_t string_once(struct emu_cpu *c, const struct emu_insn *in, uint64_t step)
{
	unsigned size = in->osize, as = in->asize;
	uint64_t am = sz_mask(as), m = sz_mask(size);
	uint64_t si = c->st.gpr[X86_RSI] & am, di = c->st.gpr[X86_RDI] & am, a, b;

	switch (in->op) {
	case EMU_OP_MOVS:
		a = emu_ld(c, in->seg, si, size);
		emu_st(c, X86_ES, di, size, a);
		reg_set(c, X86_RSI, as, si + step);
		reg_set(c, X86_RDI, as, di + step);
		return 0;
	case EMU_OP_STOS:
		emu_st(c, X86_ES, di, size, reg_get(c, X86_RAX, size));
		reg_set(c, X86_RDI, as, di + step);
		return 0;
	case EMU_OP_LODS:
		reg_set(c, X86_RAX, size, emu_ld(c, in->seg, si, size));
		reg_set(c, X86_RSI, as, si + step);
		return 0;
	case EMU_OP_SCAS:
		a = reg_get(c, X86_RAX, size);
		b = emu_ld(c, X86_ES, di, size);
		reg_set(c, X86_RDI, as, di + step);
		break;
	default: /* CMPS */
		a = emu_ld(c, in->seg, si, size);
		b = emu_ld(c, X86_ES, di, size);
		reg_set(c, X86_RSI, as, si + step);
		reg_set(c, X86_RDI, as, di + step);
		break;
	}
	cc_set(c, EMU_CC_SUB, size, (a - b) & m, a, b);
	return (a - b) & m;
}

/* REP MOVS / REP STOS upwards (DF clear), cnt > 0 elements left: as many whole elements as lie in
 * RAM within the current page of the destination (and of the source) and do not wrap the address
 * size, copied or filled on the host at once, with RSI/RDI/RCX advanced past them. Returns the
 * elements done; 0 when the next element needs the one-at-a-time path (MMIO, a page-crossing
 * element, a segment limit, a fault: string_once then raises it with the registers exact). */
static uint64_t string_bulk(struct emu_cpu *c, const struct emu_insn *in, uint64_t cnt)
{
	unsigned size = in->osize, as = in->asize;
	uint64_t am = sz_mask(as);
	uint64_t di = c->st.gpr[X86_RDI] & am, si = c->st.gpr[X86_RSI] & am;
	uint64_t k = cnt, bytes;

	if (k > (am - di) / size + 1)
		k = (am - di) / size + 1; /* no wrap of the address size */
	if (in->op == EMU_OP_MOVS && k > (am - si) / size + 1)
		k = (am - si) / size + 1;
	if (!c->flat)
		return 0; /* segment limits: the per-element path checks them */
	uint64_t dl = (c->seg_base[X86_ES] + di) & c->lin_mask;
	if (k > (4096 - (dl & 0xfff)) / size)
		k = (4096 - (dl & 0xfff)) / size;
	uint64_t sl = 0;
	if (in->op == EMU_OP_MOVS) {
		sl = (c->seg_base[in->seg] + si) & c->lin_mask;
		if (k > (4096 - (sl & 0xfff)) / size)
			k = (4096 - (sl & 0xfff)) / size;
	}
	if (k < 2)
		return 0;
	bytes = k * size;
	if (in->op == EMU_OP_MOVS) {
		const uint8_t *src = emu_host_r(c, sl, (unsigned)bytes);
		uint8_t *dst = src ? emu_host_w(c, dl, (unsigned)bytes) : NULL;
		if (!dst)
			return 0;
		if (dst > src && dst < src + bytes) {
			/* Overlapping upwards: element by element, as the CPU copies (a byte
			 * pattern repeats), not memmove. */
			for (uint64_t i = 0; i < bytes; i += size) {
				uint64_t t; /* each element is read whole, then written */
				memcpy(&t, src + i, size);
				memcpy(dst + i, &t, size);
			}
		} else {
			memmove(dst, src, bytes);
		}
		reg_set(c, X86_RSI, as, si + bytes);
	} else {
		uint8_t *dst = emu_host_w(c, dl, (unsigned)bytes);
		uint64_t v = c->st.gpr[X86_RAX];
		if (!dst)
			return 0;
		if (size == 1) {
			memset(dst, (uint8_t)v, bytes);
		} else {
			for (uint64_t i = 0; i < bytes; i += size)
				memcpy(dst + i, &v,
				       size); /* little-endian host: the low size bytes */
		}
	}
	reg_set(c, X86_RDI, as, di + bytes);
	return k;
}

/* REP: at most EMU_REP_CHUNK one-at-a-time iterations, or EMU_REP_BULK_BYTES through the bulk
 * path, per execution; interrupts and the budget are seen between chunks. */
void emu_exec_string(struct emu_cpu *c, const struct emu_insn *in)
{
	uint64_t step = (c->st.rflags & F_DF) ? 0 - (uint64_t)in->osize : in->osize;
	unsigned as = in->asize;
	int cmp = in->op == EMU_OP_CMPS || in->op == EMU_OP_SCAS;

	if (!(in->flags & (EMU_I_REP | EMU_I_REPNE))) {
		string_once(c, in, step);
		return;
	}
	uint64_t cnt = reg_get(c, X86_RCX, as);
	if (!(c->st.rflags & F_DF) && (in->op == EMU_OP_MOVS || in->op == EMU_OP_STOS)) {
		uint64_t done = 0;
		unsigned slow = 0;
		if (!EMU_HOST_TSO)
			__atomic_thread_fence(
			    __ATOMIC_SEQ_CST); /* order against earlier accesses */
		while (cnt) {
			if (done >= EMU_REP_BULK_BYTES || slow == EMU_REP_CHUNK) {
				emu_rep_yield(c);
				break;
			}
			uint64_t k = string_bulk(c, in, cnt);
			if (k) {
				done += k * in->osize;
			} else {
				string_once(c, in, step);
				k = 1;
				slow++;
			}
			cnt -= k;
			reg_set(c, X86_RCX, as, cnt);
		}
		if (!EMU_HOST_TSO)
			__atomic_thread_fence(__ATOMIC_SEQ_CST);
		return;
	}
	for (unsigned n = 0; cnt; n++) {
		if (n == EMU_REP_CHUNK) {
			emu_rep_yield(c); /* the rest when this instruction runs again */
			return;
		}
		uint64_t r = string_once(c, in, step);
		reg_set(c, X86_RCX, as, --cnt);
		if (cmp && ((in->flags & EMU_I_REP) ? r != 0 : r == 0))
			break;
	}
}
