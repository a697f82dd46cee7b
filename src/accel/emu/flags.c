/* emu: lazy arithmetic flags.
 *
 * The common flag producers (ADD, ADC, SUB, SBB, CMP, NEG, AND/OR/XOR/TEST, INC, DEC) only store
 * their operands, result, size and kind in cpu->cc; the six arithmetic flags are computed when an
 * instruction consumes them (Jcc, SETcc, CMOVcc, ADC, PUSHF, ...). Conditions after CMP/SUB and
 * logic ops are evaluated straight from the operands without building RFLAGS. Rarer producers
 * (shifts, multiplies, bit operations) compute flags eagerly and set cc.op = EMU_CC_EAGER, in
 * which case st.rflags holds them.
 *
 * Conventions: src1/src2/res are zero-extended to 64 bits and truncated to cc.size bytes.
 * SUB-like ops store res = src1 - src2 (NEG stores src1 = 0); ADC/SBB keep the carry in cc.cf;
 * INC/DEC keep the preserved CF in cc.cf. SHL/SHR/SAR by a nonzero count store their result with
 * CF in cc.cf and OF in src1 (AF reads as clear, as the eager version left it). */
#include "accel/emu/emu_priv.h"

static inline uint32_t parity_flag(uint64_t res)
{
	return __builtin_parity((unsigned)(res & 0xff)) ? 0 : F_PF;
}

uint32_t emu_flags_arith(const struct emu_cpu *c)
{
	const struct emu_lazy_flags *cc = &c->cc;
	uint64_t r = cc->res, a = cc->src1, b = cc->src2;
	unsigned sz = cc->size;
	uint32_t f = 0;

	switch (cc->op) {
	case EMU_CC_EAGER:
		return (uint32_t)c->st.rflags & F_ARITH;
	case EMU_CC_ADD:
	case EMU_CC_ADC:
		if (cc->op == EMU_CC_ADC && cc->cf ? r <= a : r < a)
			f |= F_CF;
		if (sz_msb((a ^ r) & (b ^ r), sz))
			f |= F_OF;
		f |= (uint32_t)((a ^ b ^ r) & F_AF);
		break;
	case EMU_CC_SUB:
	case EMU_CC_SBB:
		if (cc->op == EMU_CC_SBB && cc->cf ? a <= b : a < b)
			f |= F_CF;
		if (sz_msb((a ^ b) & (a ^ r), sz))
			f |= F_OF;
		f |= (uint32_t)((a ^ b ^ r) & F_AF);
		break;
	case EMU_CC_LOGIC:
		break;
	case EMU_CC_INC:
		f |= cc->cf ? F_CF : 0;
		if (r == 1ull << (sz * 8 - 1))
			f |= F_OF;
		if ((r & 0xf) == 0)
			f |= F_AF;
		break;
	case EMU_CC_DEC:
		f |= cc->cf ? F_CF : 0;
		if (r == (1ull << (sz * 8 - 1)) - 1)
			f |= F_OF;
		if ((r & 0xf) == 0xf)
			f |= F_AF;
		break;
	case EMU_CC_SHIFT:
		f |= (cc->cf ? F_CF : 0) | (a ? F_OF : 0);
		break;
	}
	if (r == 0)
		f |= F_ZF;
	if (sz_msb(r, sz))
		f |= F_SF;
	return f | parity_flag(r);
}

void emu_flags_materialize(struct emu_cpu *c)
{
	if (c->cc.op == EMU_CC_EAGER)
		return;
	c->st.rflags = (c->st.rflags & ~(uint64_t)F_ARITH) | emu_flags_arith(c);
	c->cc.op = EMU_CC_EAGER;
}

unsigned emu_flags_cf(const struct emu_cpu *c)
{
	const struct emu_lazy_flags *cc = &c->cc;

	switch (cc->op) {
	case EMU_CC_ADD:
		return cc->res < cc->src1;
	case EMU_CC_SUB:
		return cc->src1 < cc->src2;
	case EMU_CC_LOGIC:
		return 0;
	case EMU_CC_INC:
	case EMU_CC_DEC:
	case EMU_CC_SHIFT:
		return cc->cf;
	case EMU_CC_EAGER:
		return c->st.rflags & F_CF;
	default:
		return emu_flags_arith(c) & F_CF;
	}
}

/* Condition from materialised flag bits. */
static int cond_from_flags(uint32_t f, unsigned cc)
{
	int r;

	switch (cc >> 1) {
	case 0:
		r = !!(f & F_OF);
		break;
	case 1:
		r = !!(f & F_CF);
		break;
	case 2:
		r = !!(f & F_ZF);
		break;
	case 3:
		r = !!(f & (F_CF | F_ZF));
		break;
	case 4:
		r = !!(f & F_SF);
		break;
	case 5:
		r = !!(f & F_PF);
		break;
	case 6:
		r = !(f & F_SF) != !(f & F_OF);
		break;
	default:
		r = (f & F_ZF) || (!(f & F_SF) != !(f & F_OF));
		break;
	}
	return r ^ (cc & 1);
}

int emu_cond(const struct emu_cpu *c, unsigned cc)
{
	const struct emu_lazy_flags *l = &c->cc;
	unsigned sz = l->size;
	int r;

	if (l->op == EMU_CC_SUB) {
		int64_t sa = (int64_t)sz_sext(l->src1, sz), sb = (int64_t)sz_sext(l->src2, sz);
		switch (cc >> 1) {
		case 1:
			r = l->src1 < l->src2;
			break;
		case 2:
			r = l->res == 0;
			break;
		case 3:
			r = l->src1 <= l->src2;
			break;
		case 4:
			r = sz_msb(l->res, sz);
			break;
		case 6:
			r = sa < sb;
			break;
		case 7:
			r = sa <= sb;
			break;
		default:
			return cond_from_flags(emu_flags_arith(c), cc);
		}
		return r ^ (cc & 1);
	}
	if (l->op == EMU_CC_LOGIC) {
		switch (cc >> 1) {
		case 0:
		case 1:
			r = 0;
			break;
		case 2:
		case 3:
			r = l->res == 0;
			break;
		case 4:
		case 6:
			r = sz_msb(l->res, sz);
			break;
		case 7:
			r = l->res == 0 || sz_msb(l->res, sz);
			break;
		default:
			return cond_from_flags(emu_flags_arith(c), cc);
		}
		return r ^ (cc & 1);
	}
	if (l->op != EMU_CC_EAGER && ((cc >> 1) == 2 || (cc >> 1) == 4)) {
		/* ZF and SF come from the result of every lazy producer */
		r = (cc >> 1) == 2 ? l->res == 0 : (int)sz_msb(l->res, sz);
		return r ^ (cc & 1);
	}
	return cond_from_flags(emu_flags_arith(c), cc);
}
