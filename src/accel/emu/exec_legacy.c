/* emu: legacy integer instructions outside 64-bit mode (BCD adjust, PUSHA/POPA, BOUND, ARPL)
 * and the string port I/O instructions INS/OUTS (with REP).
 *
 * BCD flags follow the SDM pseudo code where defined; undefined flags get deterministic values
 * (OF = 0, SF/ZF/PF from AL where the SDM leaves them undefined). */
#include "accel/emu/emu_priv.h"

static void exec_bcd(struct emu_cpu *c, const struct emu_insn *in)
{
	uint32_t f = emu_flags_arith(c);
	unsigned al = (unsigned)c->st.gpr[X86_RAX] & 0xff, old_al = al, cf = f & F_CF;
	unsigned ah = (unsigned)(c->st.gpr[X86_RAX] >> 8) & 0xff;
	uint32_t nf = 0;

	switch (in->sub) {
	case 0: /* DAA */
	case 1: /* DAS */
		cf = 0;
		if ((al & 0xf) > 9 || (f & F_AF)) {
			cf = (f & F_CF) || (in->sub ? old_al < 6 : al + 6 > 0xff);
			al = in->sub ? al - 6 : al + 6;
			nf |= F_AF;
		}
		if (old_al > 0x99 || (f & F_CF)) {
			al = in->sub ? al - 0x60 : al + 0x60;
			cf = 1;
		} else if (!in->sub) {
			cf = 0;
		}
		al &= 0xff;
		nf |= (cf ? F_CF : 0) | flags_szp(al, 1);
		reg_set(c, X86_RAX, 1, al); /* OF undefined: 0 */
		break;
	case 2: /* AAA */
	case 3: /* AAS */
		if ((al & 0xf) > 9 || (f & F_AF)) {
			unsigned ax = (unsigned)c->st.gpr[X86_RAX] & 0xffff;
			ax = in->sub == 2 ? ax + 0x106 : ax - 0x106;
			ah = (ax >> 8) & 0xff;
			al = ax & 0xf;
			nf = F_AF | F_CF;
		} else {
			al &= 0xf;
		}
		nf |= flags_szp(al, 1); /* SF ZF PF OF undefined: from AL, OF = 0 */
		reg_set(c, X86_RAX, 2, (ah << 8) | al);
		break;
	case 4: { /* AAM imm8 */
		unsigned base = (unsigned)in->imm & 0xff;
		if (!base)
			emu_raise(c, EMU_DE, 0, 0);
		ah = al / base;
		al = al % base;
		reg_set(c, X86_RAX, 2, (ah << 8) | al);
		nf = flags_szp(al, 1);
		break;
	}
	default: { /* AAD imm8 */
		unsigned base = (unsigned)in->imm & 0xff;
		al = (al + ah * base) & 0xff;
		reg_set(c, X86_RAX, 2, al);
		nf = flags_szp(al, 1);
		break;
	}
	}
	flags_set_eager(c, F_ARITH, nf);
}

static void exec_pusha(struct emu_cpu *c, const struct emu_insn *in)
{
	unsigned w = in->osize;
	uint64_t sm = sz_mask(c->stack_size), sp = c->st.gpr[X86_RSP] & sm;
	uint64_t osp = c->st.gpr[X86_RSP];

	emu_probe_write(c, X86_SS, (sp - 8 * w) & sm, 8 * w);
	for (int r = X86_RAX; r <= X86_RDI; r++) {
		sp = (sp - w) & sm;
		emu_st(c, X86_SS, sp, w, r == X86_RSP ? osp : c->st.gpr[r]);
	}
	c->st.gpr[X86_RSP] = (c->st.gpr[X86_RSP] & ~sm) | sp;
}

static void exec_popa(struct emu_cpu *c, const struct emu_insn *in)
{
	unsigned w = in->osize;
	uint64_t sm = sz_mask(c->stack_size), sp = c->st.gpr[X86_RSP] & sm, v[8];

	for (int r = X86_RDI; r >= X86_RAX; r--) {
		v[r] = emu_ld(c, X86_SS, sp, w);
		sp = (sp + w) & sm;
	}
	for (int r = X86_RAX; r <= X86_RDI; r++)
		if (r != X86_RSP)
			reg_set(c, (unsigned)r, w, v[r]);
	c->st.gpr[X86_RSP] = (c->st.gpr[X86_RSP] & ~sm) | sp;
}

static void exec_bound(struct emu_cpu *c, const struct emu_insn *in)
{
	unsigned w = in->osize;
	uint64_t ea = emu_ea(c, in);
	int64_t lo = (int64_t)sz_sext(emu_ld(c, in->seg, ea, w), w);
	int64_t hi = (int64_t)sz_sext(emu_ld(c, in->seg, (ea + w) & sz_mask(in->asize), w), w);
	int64_t idx = (int64_t)sz_sext(reg_get(c, in->reg, w), w);

	if (idx < lo || idx > hi)
		emu_raise(c, 5, 0, 0); /* #BR */
}

static void exec_arpl(struct emu_cpu *c, const struct emu_insn *in)
{
	uint64_t ea = 0;
	uint16_t d, s = (uint16_t)reg_get(c, in->reg, 2);

	if (!(c->st.cr0 & X86_CR0_PE) || (c->st.rflags & F_VM))
		emu_raise(c, EMU_UD, 0, 0);
	if (in->flags & EMU_I_REG) {
		d = (uint16_t)reg_get(c, in->rm, 2);
	} else {
		ea = emu_ea(c, in);
		d = (uint16_t)emu_ld(c, in->seg, ea, 2);
	}
	if ((d & 3) < (s & 3)) {
		d = (uint16_t)((d & ~3) | (s & 3));
		if (in->flags & EMU_I_REG)
			reg_set(c, in->rm, 2, d);
		else
			emu_st(c, in->seg, ea, 2, d);
		flags_set_eager(c, F_ZF, F_ZF);
	} else {
		flags_set_eager(c, F_ZF, 0);
	}
}

/* INS/OUTS: one element per iteration, registers updated after each (restartable). */
static void exec_ins_outs(struct emu_cpu *c, const struct emu_insn *in)
{
	unsigned size = in->osize > 4 ? 4 : in->osize, as = in->asize;
	uint64_t am = sz_mask(as);
	uint64_t step = (c->st.rflags & F_DF) ? 0 - (uint64_t)size : size;
	uint16_t port = (uint16_t)c->st.gpr[X86_RDX];
	int rep = !!(in->flags & (EMU_I_REP | EMU_I_REPNE));
	uint64_t cnt = rep ? reg_get(c, X86_RCX, as) : 1;

	emu_io_check(c, port, size);
	for (unsigned n = 0; cnt; cnt--, n++) {
		if (rep && n == EMU_REP_CHUNK) {
			emu_rep_yield(c);
			return;
		}
		if (in->op == EMU_OP_INS) {
			uint64_t di = c->st.gpr[X86_RDI] & am;
			emu_probe_write(c, X86_ES, di, size);
			uint32_t v = c->ops->pio_in(c->ctx, port, size);
			emu_st(c, X86_ES, di, size, v);
			reg_set(c, X86_RDI, as, di + step);
		} else {
			uint64_t si = c->st.gpr[X86_RSI] & am;
			uint64_t v = emu_ld(c, in->seg, si, size);
			c->ops->pio_out(c->ctx, port, size, (uint32_t)v);
			reg_set(c, X86_RSI, as, si + step);
		}
		if (rep)
			reg_set(c, X86_RCX, as, cnt - 1);
	}
}

int emu_exec_legacy(struct emu_cpu *c, const struct emu_insn *in)
{
	switch (in->op) {
	case EMU_OP_BCD:
		exec_bcd(c, in);
		break;
	case EMU_OP_PUSHA:
		exec_pusha(c, in);
		break;
	case EMU_OP_POPA:
		exec_popa(c, in);
		break;
	case EMU_OP_BOUND:
		exec_bound(c, in);
		break;
	case EMU_OP_ARPL:
		exec_arpl(c, in);
		break;
	default:
		exec_ins_outs(c, in);
		break;
	}
	return 0;
}
