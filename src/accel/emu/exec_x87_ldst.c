/* emu: x87 loads and stores: FLD/FST(P) of m32/m64/m80 and ST(i) sources, FILD/FIST(P)/FISTTP,
 * FBLD/FBSTP (packed BCD), the constants. The value rules are in exec_x87.c's header comment. */
#include "accel/emu/x87_priv.h"

sf_t x87_ld_real(struct emu_cpu *c, const struct emu_insn *in, unsigned size)
{
	static const struct sf_env none;
	uint64_t ea = emu_ea(c, in);

	if (size == 10) {
		uint64_t m = emu_ld(c, in->seg, ea, 8);
		uint16_t se = (uint16_t)emu_ld(c, in->seg, x87_ea_plus(in, ea, 8), 2);
		return sf_unpack80(m, se);
	}
	return sf_unpack(&none, size == 4 ? SF_F32 : SF_F64, emu_ld(c, in->seg, ea, size));
}

static sf_t sf_of_int(int64_t v)
{
	return sf_norm(v < 0, 63, v < 0 ? 0 - (uint64_t)v : (uint64_t)v);
}

sf_t x87_ld_int(struct emu_cpu *c, const struct emu_insn *in, unsigned size)
{
	return sf_of_int((int64_t)sz_sext(emu_ld(c, in->seg, emu_ea(c, in), size), size));
}

/* ---- loads ---- */

void x87_fld_real(struct emu_cpu *c, const struct emu_insn *in, unsigned size)
{
	sf_t x = x87_ld_real(c, in, size);
	struct sf_env e;
	struct sfr v;

	x87_env(c, &e, 0);
	if (size == 10) {
		v.m = emu_ld(c, in->seg, emu_ea(c, in), 8);
		v.se = (uint16_t)emu_ld(c, in->seg, x87_ea_plus(in, emu_ea(c, in), 8), 2);
	} else if (x.cls == SF_NAN) {
		if (sf_is_snan(x))
			e.flags |= SF_IE;
		v = sf_qnan(SF_F80, x);
	} else {
		if (x.den)
			e.flags |= SF_DE;
		v = sf_pack(&e, SF_F80, x);
	}
	x87_push_checked(c, v, e.flags);
}

void x87_fild(struct emu_cpu *c, const struct emu_insn *in, unsigned size)
{
	struct sf_env e;

	x87_env(c, &e, 0);
	x87_push_checked(c, sf_pack(&e, SF_F80, x87_ld_int(c, in, size)), 0);
}

void x87_fbld(struct emu_cpu *c, const struct emu_insn *in)
{
	uint64_t ea = emu_ea(c, in), lo = emu_ld(c, in->seg, ea, 8), v = 0;
	unsigned hi = (unsigned)emu_ld(c, in->seg, x87_ea_plus(in, ea, 8), 2);
	struct sf_env e;

	for (int k = 1; k >= 0; k--)
		v = v * 10 + ((hi >> (4 * k)) & 15);
	for (int k = 15; k >= 0; k--)
		v = v * 10 + ((lo >> (4 * k)) & 15);
	sf_t x = sf_of_int((int64_t)v);
	x.sign = (uint8_t)((hi >> 15) & 1);
	x87_env(c, &e, 0);
	x87_push_checked(c, sf_pack(&e, SF_F80, x), 0);
}

/* FLD1, FLDL2T, FLDL2E, FLDPI, FLDLG2, FLDLN2, FLDZ: the constants rounded under FCW.RC. */
void x87_fld_const(struct emu_cpu *c, unsigned k)
{
	static const struct {
		uint64_t m;
		uint16_t se;
		uint8_t near_up; /* the bits beyond 64 are above one half */
	} tab[7] = {{0x8000000000000000ull, 0x3fff, 2},
		    {0xd49a784bcd1b8afeull, 0x4000, 0},
		    {0xb8aa3b295c17f0bbull, 0x3fff, 1},
		    {0xc90fdaa22168c234ull, 0x4000, 1},
		    {0x9a209a84fbcff798ull, 0x3ffd, 1},
		    {0xb17217f7d1cf79abull, 0x3ffe, 1},
		    {0, 0, 2}};
	unsigned rc = (x87_fcw(c) >> 10) & 3;
	struct sfr v = {tab[k].m, tab[k].se};

	if (tab[k].near_up != 2 && ((rc == 0 && tab[k].near_up) || rc == 2))
		v.m++;
	x87_push_checked(c, v, 0);
}

/* ---- stores ---- */

static void st_bytes(struct emu_cpu *c, const struct emu_insn *in, uint64_t m, uint16_t se,
		     unsigned size)
{
	uint64_t ea = emu_ea(c, in);

	if (size == 10) {
		emu_st(c, in->seg, ea, 8, m);
		emu_st(c, in->seg, x87_ea_plus(in, ea, 8), 2, se);
	} else {
		emu_st(c, in->seg, ea, size, m);
	}
}

void x87_fst_mem(struct emu_cpu *c, const struct emu_insn *in, unsigned size, int pop)
{
	struct sf_env e;
	struct sfr v;
	int fmt = size == 4 ? SF_F32 : size == 8 ? SF_F64 : SF_F80;

	emu_probe_write(c, in->seg, emu_ea(c, in), size);
	x87_env(c, &e, 0);
	if (x87_empty(c, 0)) {
		if (x87_stack_fault(c, 0))
			return;
		v = sf_default_nan(fmt);
	} else if (size == 10) {
		v = x87_raw(c, 0);
		x87_finish(c, 0, 0);
	} else {
		sf_t x = x87_get(c, 0);
		if (x.bad) {
			e.flags |= SF_IE;
			v = sf_default_nan(fmt);
		} else if (x.cls == SF_NAN) {
			if (sf_is_snan(x))
				e.flags |= SF_IE;
			v = sf_qnan(fmt, x);
		} else {
			v = sf_pack(&e, fmt, x);
		}
		if (e.flags & ~x87_fcw(c) & (SF_OE | SF_UE)) {
			x87_finish(c, e.flags & ~SF_PE, 0);
			return; /* unmasked overflow/underflow: nothing is stored */
		}
		if (x87_finish(c, e.flags, e.up))
			return;
	}
	st_bytes(c, in, v.m, v.se, size);
	if (pop)
		x87_pop(c);
}

void x87_fist(struct emu_cpu *c, const struct emu_insn *in, unsigned size, int pop, int trunc)
{
	uint64_t iv = 1ull << (size * 8 - 1), v = iv;
	struct sf_env e;

	emu_probe_write(c, in->seg, emu_ea(c, in), size);
	x87_env(c, &e, 0);
	if (x87_empty(c, 0)) {
		if (x87_stack_fault(c, 0))
			return;
	} else {
		sf_t x = x87_get(c, 0);
		int ok = 0;
		int64_t r = 0;
		if (!x.bad && x.cls != SF_NAN)
			r = sf_to_int(&e, x, size * 8, trunc ? 3 : e.rc, &ok);
		if (ok)
			v = (uint64_t)r;
		else
			e.flags |= SF_IE;
		sf_t ax = x;
		ax.sign = 0;
		int up = ok && (e.flags & SF_PE) &&
			 sf_cmp(sf_norm(0, 63, r < 0 ? 0 - (uint64_t)r : (uint64_t)r), ax) > 0;
		if (x87_finish(c, e.flags, up))
			return;
	}
	emu_st(c, in->seg, emu_ea(c, in), size, v & sz_mask(size));
	if (pop)
		x87_pop(c);
}

void x87_fbstp(struct emu_cpu *c, const struct emu_insn *in)
{
	uint64_t lo = 0, hi = 0xffff;
	struct sf_env e;

	emu_probe_write(c, in->seg, emu_ea(c, in), 10);
	x87_env(c, &e, 0);
	lo = 0xc000000000000000ull; /* packed BCD indefinite */
	if (x87_empty(c, 0)) {
		if (x87_stack_fault(c, 0))
			return;
	} else {
		sf_t x = x87_get(c, 0);
		int ok = 0;
		int64_t r = 0;
		if (!x.bad && x.cls != SF_NAN)
			r = sf_to_int(&e, x, 64, e.rc, &ok);
		uint64_t m = r < 0 ? 0 - (uint64_t)r : (uint64_t)r;
		sf_t ax = x;
		ax.sign = 0;
		int up = ok && (e.flags & SF_PE) && sf_cmp(sf_norm(0, 63, m), ax) > 0;
		if (ok && m < 1000000000000000000ull) {
			lo = 0;
			hi = x.sign ? 0x8000 : 0;
			for (int k = 0; k < 18; k++, m /= 10) {
				if (k < 16)
					lo |= (m % 10) << (4 * k);
				else
					hi |= (m % 10) << (4 * (k - 16));
			}
		} else {
			e.flags = SF_IE;
			up = 0;
		}
		if (x87_finish(c, e.flags, up))
			return;
	}
	st_bytes(c, in, lo, (uint16_t)hi, 10);
	x87_pop(c);
}
