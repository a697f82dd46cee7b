/* emu: x87 FPU: dispatch of D8-DF, the register stack, loads and stores (real, integer, BCD),
 * constants, control and environment instructions (FNINIT, FLDCW/FNSTCW, FNSTSW, FNCLEX,
 * FLDENV/FNSTENV, FRSTOR/FNSAVE), FXCH, FFREE(P), FINCSTP/FDECSTP, FCMOVcc. Arithmetic and
 * compares are in exec_x87_arith.c.
 *
 * Values are 80-bit extended registers computed by the soft-float core (sse_fp.h): no host long
 * double, so results are x86-exact on any host. Exceptions follow the x87 model: flags are
 * sticky in FSW; masked exceptions deliver the default response (QNaN indefinite, integer
 * indefinite, ...); an unmasked one sets ES/B and is reported as #MF (CR0.NE) by the next
 * waiting x87 or MMX instruction. The register stack is kept in the FXSAVE image in ST order,
 * so TOP changes rotate the eight slots. FOP/FIP/FDP record the last non-control instruction
 * (FDP only when it has a memory operand); FXSAVE stores them only while an exception is
 * pending, as the AMD hosts the difftest runs on. FWAIT decodes as NOP (decode_tab.c), so it
 * neither raises #NM (CR0.MP+TS) nor a pending #MF. */
#include "accel/emu/sse_fp.h"

static uint16_t fcw(const struct emu_cpu *c)
{
	return fx_get16(c, FX_FCW);
}

static uint16_t fsw(const struct emu_cpu *c)
{
	return fx_get16(c, FX_FSW);
}

static void set_top(struct emu_cpu *c, unsigned t)
{
	fx_set16(c, FX_FSW, (uint16_t)((fsw(c) & ~0x3800u) | (t & 7) << 11));
}

static struct sfr indef(void)
{
	return sf_default_nan(SF_F80);
}

void x87_set(struct emu_cpu *c, unsigned i, struct sfr v)
{
	uint8_t *p = c->st.fxsave + FX_ST + 16 * (i & 7);

	memcpy(p, &v.m, 8);
	memcpy(p + 8, &v.se, 2);
	memset(p + 10, 0, 6);
	c->st.fxsave[FX_FTW] |= (uint8_t)(1u << ((x87_top(c) + i) & 7));
}

/* Rotate the slots for TOP - 1 (down) or TOP + 1 (up). */
static void rotate(struct emu_cpu *c, int down)
{
	uint8_t *st = c->st.fxsave + FX_ST, t[16];

	if (down) {
		memcpy(t, st + 112, 16);
		memmove(st + 16, st, 112);
		memcpy(st, t, 16);
		set_top(c, x87_top(c) - 1);
	} else {
		memcpy(t, st, 16);
		memmove(st, st + 16, 112);
		memcpy(st + 112, t, 16);
		set_top(c, x87_top(c) + 1);
	}
}

void x87_push(struct emu_cpu *c, struct sfr v)
{
	rotate(c, 1);
	x87_set(c, 0, v);
}

void x87_pop(struct emu_cpu *c)
{
	c->st.fxsave[FX_FTW] &= (uint8_t)~(1u << x87_top(c));
	rotate(c, 0);
}

void x87_env(const struct emu_cpu *c, struct sf_env *e, int pc)
{
	static const uint8_t precs[4] = {24, 64, 53, 64};
	uint16_t cw = fcw(c);

	memset(e, 0, sizeof(*e));
	e->rc = (uint8_t)((cw >> 10) & 3);
	e->prec = pc ? precs[(cw >> 8) & 3] : 64;
	e->um = (cw & SF_UE) != 0;
	e->om = (cw & SF_OE) != 0;
	e->x87 = 1;
}

int x87_finish(struct emu_cpu *c, uint32_t flags, int c1)
{
	uint16_t cw = fcw(c), sw = fsw(c);
	int suppress = 0;

	if (flags & ~cw & 0x07) {
		flags &= 0x07 | X87_SF;
		suppress = 1;
	}
	sw |= (uint16_t)(flags & 0x7f);
	if (flags & ~cw & 0x3f)
		sw |= 0x8080;
	if (c1 >= 0)
		sw = (uint16_t)((sw & ~X87_C1) | (c1 && !suppress ? X87_C1 : 0));
	fx_set16(c, FX_FSW, sw);
	return suppress;
}

int x87_stack_fault(struct emu_cpu *c, int overflow)
{
	int r = x87_finish(c, SF_IE | X87_SF, -1);

	x87_set_cc(c, X87_C1, overflow ? X87_C1 : 0); /* even when unmasked */
	return r;
}

void x87_ptrs(struct emu_cpu *c, const struct emu_insn *in, int mem)
{
	uint64_t rip = c->st.rip;

	fx_set16(c, FX_FOP, (uint16_t)(in->imm2 & 0x7ff));
	memcpy(c->st.fxsave + 8, &rip, 8);
	fx_set16(c, FX_PRIV_FCS, c->st.seg[X86_CS].selector);
	if (mem) {
		uint64_t ea = emu_ea(c, in);
		memcpy(c->st.fxsave + 16, &ea, 8);
		fx_set16(c, FX_PRIV_FDS, c->st.seg[in->seg].selector);
	}
}

void x87_set_cc(struct emu_cpu *c, uint16_t mask, uint16_t cc)
{
	fx_set16(c, FX_FSW, (uint16_t)((fsw(c) & ~mask) | (cc & mask)));
}

static uint64_t ea_plus(const struct emu_insn *in, uint64_t ea, unsigned k)
{
	return (ea + k) & sz_mask(in->asize);
}

sf_t x87_ld_real(struct emu_cpu *c, const struct emu_insn *in, unsigned size)
{
	static const struct sf_env none;
	uint64_t ea = emu_ea(c, in);

	if (size == 10) {
		uint64_t m = emu_ld(c, in->seg, ea, 8);
		uint16_t se = (uint16_t)emu_ld(c, in->seg, ea_plus(in, ea, 8), 2);
		return sf_unpack80(m, se);
	}
	return sf_unpack(&none, size == 4 ? SF_F32 : SF_F64, emu_ld(c, in->seg, ea, size));
}

/* sign * m as an unpacked value */
static sf_t sf_of_mag(unsigned sign, uint64_t m)
{
	sf_t x = {0, 0, (uint8_t)sign, SF_ZERO, 0, 0};

	if (m) {
		unsigned lz = (unsigned)__builtin_clzll(m);
		x.cls = SF_NORM;
		x.sig = m << lz;
		x.exp = 63 - (int32_t)lz;
	}
	return x;
}

static sf_t sf_of_int(int64_t v)
{
	return sf_of_mag(v < 0, v < 0 ? 0 - (uint64_t)v : (uint64_t)v);
}

sf_t x87_ld_int(struct emu_cpu *c, const struct emu_insn *in, unsigned size)
{
	return sf_of_int((int64_t)sz_sext(emu_ld(c, in->seg, emu_ea(c, in), size), size));
}

/* ---- loads ---- */

/* Push v with the stack-overflow check; flags are the conversion's exceptions. */
static void push_checked(struct emu_cpu *c, struct sfr v, uint32_t flags)
{
	if (!x87_empty(c, 7)) {
		if (!x87_stack_fault(c, 1))
			x87_push(c, indef());
		return;
	}
	/* an unmasked DE (FLD m32/m64 of a denormal) still loads the value */
	if (x87_finish(c, flags, 0) && (flags & ~fcw(c) & SF_IE))
		return;
	x87_push(c, v);
}

static void fld_real(struct emu_cpu *c, const struct emu_insn *in, unsigned size)
{
	sf_t x = x87_ld_real(c, in, size);
	struct sf_env e;
	struct sfr v;

	x87_env(c, &e, 0);
	if (size == 10) {
		v.m = emu_ld(c, in->seg, emu_ea(c, in), 8);
		v.se = (uint16_t)emu_ld(c, in->seg, ea_plus(in, emu_ea(c, in), 8), 2);
	} else if (x.cls == SF_NAN) {
		if (sf_is_snan(x))
			e.flags |= SF_IE;
		v = sf_qnan(SF_F80, x);
	} else {
		if (x.den)
			e.flags |= SF_DE;
		v = sf_pack(&e, SF_F80, x);
	}
	push_checked(c, v, e.flags);
}

static void fild(struct emu_cpu *c, const struct emu_insn *in, unsigned size)
{
	struct sf_env e;

	x87_env(c, &e, 0);
	push_checked(c, sf_pack(&e, SF_F80, x87_ld_int(c, in, size)), 0);
}

static void fbld(struct emu_cpu *c, const struct emu_insn *in)
{
	uint64_t ea = emu_ea(c, in), lo = emu_ld(c, in->seg, ea, 8), v = 0;
	unsigned hi = (unsigned)emu_ld(c, in->seg, ea_plus(in, ea, 8), 2);
	struct sf_env e;

	for (int k = 1; k >= 0; k--)
		v = v * 10 + ((hi >> (4 * k)) & 15);
	for (int k = 15; k >= 0; k--)
		v = v * 10 + ((lo >> (4 * k)) & 15);
	sf_t x = sf_of_int((int64_t)v);
	x.sign = (uint8_t)((hi >> 15) & 1);
	x87_env(c, &e, 0);
	push_checked(c, sf_pack(&e, SF_F80, x), 0);
}

/* FLD1, FLDL2T, FLDL2E, FLDPI, FLDLG2, FLDLN2, FLDZ: the constants rounded under FCW.RC. */
static void fld_const(struct emu_cpu *c, unsigned k)
{
	static const struct {
		uint64_t m;
		uint16_t se;
		uint8_t near_up; /* the bits beyond 64 are above one half */
	} tab[7] = {{0x8000000000000000ull, 0x3fff, 2},	 {0xd49a784bcd1b8afeull, 0x4000, 0},
		    {0xb8aa3b295c17f0bbull, 0x3fff, 1},	 {0xc90fdaa22168c234ull, 0x4000, 1},
		    {0x9a209a84fbcff798ull, 0x3ffd, 1},	 {0xb17217f7d1cf79abull, 0x3ffe, 1},
		    {0, 0, 2}};
	unsigned rc = (fcw(c) >> 10) & 3;
	struct sfr v = {tab[k].m, tab[k].se};

	if (tab[k].near_up != 2 && ((rc == 0 && tab[k].near_up) || rc == 2))
		v.m++;
	push_checked(c, v, 0);
}

/* ---- stores ---- */

static void st_bytes(struct emu_cpu *c, const struct emu_insn *in, uint64_t m, uint16_t se,
		     unsigned size)
{
	uint64_t ea = emu_ea(c, in);

	if (size == 10) {
		emu_st(c, in->seg, ea, 8, m);
		emu_st(c, in->seg, ea_plus(in, ea, 8), 2, se);
	} else {
		emu_st(c, in->seg, ea, size, m);
	}
}

static void fst_mem(struct emu_cpu *c, const struct emu_insn *in, unsigned size, int pop)
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
		if (e.flags & ~fcw(c) & (SF_OE | SF_UE)) {
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

static void fist(struct emu_cpu *c, const struct emu_insn *in, unsigned size, int pop, int trunc)
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
			 sf_cmp(sf_of_mag(0, r < 0 ? 0 - (uint64_t)r : (uint64_t)r), ax) > 0;
		if (x87_finish(c, e.flags, up))
			return;
	}
	emu_st(c, in->seg, emu_ea(c, in), size, v & sz_mask(size));
	if (pop)
		x87_pop(c);
}

static void fbstp(struct emu_cpu *c, const struct emu_insn *in)
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
		int up = ok && (e.flags & SF_PE) && sf_cmp(sf_of_mag(0, m), ax) > 0;
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

/* ---- register operations ---- */

static void load_cw_sw(struct emu_cpu *c, uint16_t cw, uint16_t sw);

static void fld_st(struct emu_cpu *c, unsigned i)
{
	if (x87_empty(c, i)) {
		if (!x87_stack_fault(c, 0))
			x87_push(c, indef()); /* underflow only, even onto a valid register */
		return;
	}
	push_checked(c, x87_raw(c, i), 0);
}

static void fst_st(struct emu_cpu *c, unsigned i, int pop)
{
	struct sfr v;

	if (x87_empty(c, 0)) {
		if (x87_stack_fault(c, 0))
			return;
		v = indef();
	} else {
		v = x87_raw(c, 0);
		x87_finish(c, 0, 0);
	}
	x87_set(c, i, v);
	if (pop)
		x87_pop(c);
}

static void fxch(struct emu_cpu *c, unsigned i)
{
	struct sfr a, b;

	if (x87_empty(c, 0) || x87_empty(c, i)) {
		if (x87_stack_fault(c, 0))
			return;
		a = x87_empty(c, 0) ? indef() : x87_raw(c, 0);
		b = x87_empty(c, i) ? indef() : x87_raw(c, i);
	} else {
		a = x87_raw(c, 0);
		b = x87_raw(c, i);
		x87_finish(c, 0, 0);
	}
	x87_set(c, 0, b);
	x87_set(c, i, a);
}

static void fcmov(struct emu_cpu *c, unsigned cond, int neg, unsigned i)
{
	uint32_t f = emu_flags_arith(c);
	int t;

	switch (cond) {
	case 0:
		t = (f & F_CF) != 0;
		break;
	case 1:
		t = (f & F_ZF) != 0;
		break;
	case 2:
		t = (f & (F_CF | F_ZF)) != 0;
		break;
	default:
		t = (f & F_PF) != 0;
	}
	if (neg)
		t = !t;
	if (x87_empty(c, 0) || x87_empty(c, i)) {
		if (!x87_stack_fault(c, 0))
			x87_set(c, 0, indef()); /* whatever the condition */
		return;
	}
	if (t)
		x87_set(c, 0, x87_raw(c, i)); /* C1 unchanged */
}

/* ---- control and environment ---- */

/* Set TOP to t keeping the physical registers (the ST-ordered slots rotate). */
static void retop(struct emu_cpu *c, unsigned t)
{
	unsigned k = (t - x87_top(c)) & 7;
	uint8_t old[128];

	memcpy(old, c->st.fxsave + FX_ST, 128);
	for (unsigned i = 0; i < 8; i++)
		memcpy(c->st.fxsave + FX_ST + 16 * i, old + 16 * ((i + k) & 7), 16);
	set_top(c, t);
}

static void fninit(struct emu_cpu *c)
{
	retop(c, 0);
	fx_set16(c, FX_FCW, 0x037f);
	fx_set16(c, FX_FSW, 0);
	c->st.fxsave[FX_FTW] = 0;
	memset(c->st.fxsave + FX_FOP, 0, 18);
	fx_set16(c, FX_PRIV_FCS, 0);
	fx_set16(c, FX_PRIV_FDS, 0);
}

/* Load FCW (bits 13-15 read as 0, bit 6 as 1) and FSW (ES and B recomputed). */
static void load_cw_sw(struct emu_cpu *c, uint16_t cw, uint16_t sw)
{
	cw = (uint16_t)((cw & 0x1f3f) | 0x40);
	sw &= 0x7f7f;
	if (sw & ~cw & 0x3f)
		sw |= 0x8080;
	fx_set16(c, FX_FCW, cw);
	fx_set16(c, FX_FSW, sw);
}

static void fldcw(struct emu_cpu *c, uint16_t v)
{
	load_cw_sw(c, v, fsw(c));
}

/* The full tag word (00 valid, 01 zero, 10 special, 11 empty) for FNSTENV/FNSAVE. */
static uint16_t full_tags(const struct emu_cpu *c)
{
	unsigned top = x87_top(c);
	uint16_t tw = 0;

	for (unsigned p = 0; p < 8; p++) {
		unsigned t = 3;
		if ((c->st.fxsave[FX_FTW] >> p) & 1) {
			struct sfr r = x87_raw(c, (p - top) & 7);
			unsigned ex = r.se & 0x7fff;
			if (ex == 0x7fff)
				t = 2;
			else if (ex == 0)
				t = r.m ? 2 : 1;
			else
				t = (r.m >> 63) ? 0 : 2;
		}
		tw |= (uint16_t)(t << (2 * p));
	}
	return tw;
}

static unsigned env_len(const struct emu_insn *in)
{
	return in->osize == 2 ? 14 : 28;
}

static void env_store(struct emu_cpu *c, const struct emu_insn *in, uint64_t ea)
{
	uint64_t fip, fdp;
	uint16_t fop = fx_get16(c, FX_FOP);

	uint16_t fcs = fx_get16(c, FX_PRIV_FCS), fds = fx_get16(c, FX_PRIV_FDS);

	memcpy(&fip, c->st.fxsave + 8, 8);
	memcpy(&fdp, c->st.fxsave + 16, 8);
	if (in->osize == 2) {
		uint16_t w[7] = {fcw(c),	 fsw(c), full_tags(c), (uint16_t)fip,
				 fcs,		 (uint16_t)fdp, fds};
		for (unsigned k = 0; k < 7; k++)
			emu_st(c, in->seg, ea_plus(in, ea, 2 * k), 2, w[k]);
		return;
	}
	uint32_t d[7] = {0xffff0000u | fcw(c),	    0xffff0000u | fsw(c),
			 0xffff0000u | full_tags(c), (uint32_t)fip,
			 (uint32_t)fop << 16 | fcs, (uint32_t)fdp,
			 0xffff0000u | fds};
	for (unsigned k = 0; k < 7; k++)
		emu_st(c, in->seg, ea_plus(in, ea, 4 * k), 4, d[k]);
}

static void env_load(struct emu_cpu *c, const struct emu_insn *in, uint64_t ea, int rstor)
{
	uint16_t cw, sw, tw, fcs, fds;
	uint64_t fip, fdp, fop = 0;

	if (in->osize == 2) {
		cw = (uint16_t)emu_ld(c, in->seg, ea, 2);
		sw = (uint16_t)emu_ld(c, in->seg, ea_plus(in, ea, 2), 2);
		tw = (uint16_t)emu_ld(c, in->seg, ea_plus(in, ea, 4), 2);
		fip = emu_ld(c, in->seg, ea_plus(in, ea, 6), 2);
		fcs = (uint16_t)emu_ld(c, in->seg, ea_plus(in, ea, 8), 2);
		fdp = emu_ld(c, in->seg, ea_plus(in, ea, 10), 2);
		fds = (uint16_t)emu_ld(c, in->seg, ea_plus(in, ea, 12), 2);
	} else {
		cw = (uint16_t)emu_ld(c, in->seg, ea, 2);
		sw = (uint16_t)emu_ld(c, in->seg, ea_plus(in, ea, 4), 2);
		tw = (uint16_t)emu_ld(c, in->seg, ea_plus(in, ea, 8), 2);
		fip = emu_ld(c, in->seg, ea_plus(in, ea, 12), 4);
		uint32_t d4 = (uint32_t)emu_ld(c, in->seg, ea_plus(in, ea, 16), 4);
		fcs = (uint16_t)d4;
		fop = (d4 >> 16) & 0x7ff;
		fdp = emu_ld(c, in->seg, ea_plus(in, ea, 20), 4);
		fds = (uint16_t)emu_ld(c, in->seg, ea_plus(in, ea, 24), 2);
	}
	uint8_t ftw = 0;
	for (unsigned p = 0; p < 8; p++)
		if (((tw >> (2 * p)) & 3) != 3)
			ftw |= (uint8_t)(1u << p);
	if (!rstor)
		retop(c, (sw >> 11) & 7);
	load_cw_sw(c, cw, sw);
	c->st.fxsave[FX_FTW] = ftw;
	fx_set16(c, FX_FOP, (uint16_t)fop);
	fx_set16(c, FX_PRIV_FCS, fcs);
	fx_set16(c, FX_PRIV_FDS, fds);
	memcpy(c->st.fxsave + 8, &fip, 8);
	memcpy(c->st.fxsave + 16, &fdp, 8);
}

static void fnstenv(struct emu_cpu *c, const struct emu_insn *in, int save)
{
	uint64_t ea = emu_ea(c, in);
	unsigned n = env_len(in);

	emu_probe_write(c, in->seg, ea, n + (save ? 80 : 0));
	env_store(c, in, ea);
	if (save) {
		for (unsigned i = 0; i < 8; i++) {
			struct sfr r = x87_raw(c, i);
			emu_st(c, in->seg, ea_plus(in, ea, n + 10 * i), 8, r.m);
			emu_st(c, in->seg, ea_plus(in, ea, n + 10 * i + 8), 2, r.se);
		}
		fninit(c);
	} else {
		load_cw_sw(c, fcw(c) | 0x3f, fsw(c)); /* all masked: nothing pending (ES, B clear) */
	}
}

static void fldenv(struct emu_cpu *c, const struct emu_insn *in, int rstor)
{
	uint64_t ea = emu_ea(c, in);
	unsigned n = env_len(in);
	uint8_t regs[80];

	if (rstor) /* read everything first: a fault leaves the state alone */
		for (unsigned i = 0; i < 80; i += 8) {
			uint64_t v = emu_ld(c, in->seg, ea_plus(in, ea, n + i), 8);
			memcpy(regs + i, &v, 8);
		}
	(void)emu_ld(c, in->seg, ea_plus(in, ea, n - 4), 4);
	env_load(c, in, ea, rstor);
	if (rstor)
		for (unsigned i = 0; i < 8; i++) {
			uint8_t *p = c->st.fxsave + FX_ST + 16 * i;
			memcpy(p, regs + 10 * i, 10);
			memset(p + 10, 0, 6);
		}
}

static void fnstsw_mem(struct emu_cpu *c, const struct emu_insn *in)
{
	emu_st(c, in->seg, emu_ea(c, in), 2, fsw(c));
}

/* ---- dispatch ---- */

static _Noreturn void ud(struct emu_cpu *c)
{
	emu_raise(c, EMU_UD, 0, 0);
}

static void exec_d9(struct emu_cpu *c, const struct emu_insn *in, unsigned modrm, int mem)
{
	unsigned reg = (modrm >> 3) & 7, i = modrm & 7;

	if (mem) {
		switch (reg) {
		case 0:
			x87_ptrs(c, in, 1);
			fld_real(c, in, 4);
			return;
		case 2:
		case 3:
			x87_ptrs(c, in, 1);
			fst_mem(c, in, 4, reg == 3);
			return;
		case 4:
			fldenv(c, in, 0);
			return;
		case 5:
			fldcw(c, (uint16_t)emu_ld(c, in->seg, emu_ea(c, in), 2));
			return;
		case 6:
			fnstenv(c, in, 0);
			return;
		case 7:
			emu_st(c, in->seg, emu_ea(c, in), 2, fcw(c));
			return;
		default:
			ud(c);
		}
	}
	x87_ptrs(c, in, 0);
	switch (reg) {
	case 0:
		fld_st(c, i);
		return;
	case 1:
		fxch(c, i);
		return;
	case 2:
		if (i != 0)
			ud(c);
		return; /* FNOP */
	case 3: /* FSTP1: as FSTP, but an empty ST(0) is just popped (AMD: no stack fault) */
		if (x87_empty(c, 0)) {
			x87_pop(c);
			x87_finish(c, 0, 0);
			return;
		}
		fst_st(c, i, 1);
		return;
	case 5:
		if (i == 7)
			ud(c);
		fld_const(c, i);
		return;
	case 6:
		if (i == 6 || i == 7) { /* FDECSTP, FINCSTP */
			rotate(c, i == 6);
			x87_finish(c, 0, 0);
			return;
		}
		break;
	default:
		break;
	}
	x87_d9_math(c, in, modrm);
}

static void exec_db(struct emu_cpu *c, const struct emu_insn *in, unsigned modrm, int mem)
{
	unsigned reg = (modrm >> 3) & 7, i = modrm & 7;

	if (mem) {
		x87_ptrs(c, in, 1);
		switch (reg) {
		case 0:
			fild(c, in, 4);
			return;
		case 1:
		case 2:
		case 3:
			fist(c, in, 4, reg != 2, reg == 1);
			return;
		case 5:
			fld_real(c, in, 10);
			return;
		case 7:
			fst_mem(c, in, 10, 1);
			return;
		default:
			ud(c);
		}
	}
	if (reg < 4) {
		x87_ptrs(c, in, 0);
		fcmov(c, reg, 1, i);
		return;
	}
	if (reg == 4) {
		switch (i) {
		case 0: /* FENI, FDISI, FSETPM: no-ops since the 287 */
		case 1:
		case 4:
			return;
		case 2:
			fx_set16(c, FX_FSW, fsw(c) & 0x7f00);
			return;
		case 3:
			fninit(c);
			return;
		default:
			ud(c);
		}
	}
	if (reg == 5 || reg == 6) {
		x87_ptrs(c, in, 0);
		x87_comi(c, in, i, reg == 5, 0);
		return;
	}
	ud(c);
}

static void exec_dd(struct emu_cpu *c, const struct emu_insn *in, unsigned modrm, int mem)
{
	unsigned reg = (modrm >> 3) & 7, i = modrm & 7;

	if (mem) {
		switch (reg) {
		case 0:
			x87_ptrs(c, in, 1);
			fld_real(c, in, 8);
			return;
		case 1:
			x87_ptrs(c, in, 1);
			fist(c, in, 8, 1, 1);
			return;
		case 2:
		case 3:
			x87_ptrs(c, in, 1);
			fst_mem(c, in, 8, reg == 3);
			return;
		case 4:
			fldenv(c, in, 1);
			return;
		case 6:
			fnstenv(c, in, 1);
			return;
		case 7:
			fnstsw_mem(c, in);
			return;
		default:
			ud(c);
		}
	}
	x87_ptrs(c, in, 0);
	switch (reg) {
	case 0: /* FFREE */
		c->st.fxsave[FX_FTW] &= (uint8_t)~(1u << ((x87_top(c) + i) & 7));
		x87_finish(c, 0, 0);
		return;
	case 1:
		fxch(c, i);
		return;
	case 2:
	case 3:
		fst_st(c, i, reg == 3);
		return;
	case 4:
	case 5:
		x87_arith(c, in, 5, modrm);
		return;
	default:
		ud(c);
	}
}

static void exec_df(struct emu_cpu *c, const struct emu_insn *in, unsigned modrm, int mem)
{
	unsigned reg = (modrm >> 3) & 7, i = modrm & 7;

	if (mem) {
		x87_ptrs(c, in, 1);
		switch (reg) {
		case 0:
			fild(c, in, 2);
			return;
		case 1:
		case 2:
		case 3:
			fist(c, in, 2, reg != 2, reg == 1);
			return;
		case 4:
			fbld(c, in);
			return;
		case 5:
			fild(c, in, 8);
			return;
		case 6:
			fbstp(c, in);
			return;
		default:
			fist(c, in, 8, 1, 0);
			return;
		}
	}
	switch (reg) {
	case 0: /* FFREEP */
		x87_ptrs(c, in, 0);
		c->st.fxsave[FX_FTW] &= (uint8_t)~(1u << ((x87_top(c) + i) & 7));
		x87_pop(c);
		x87_finish(c, 0, 0);
		return;
	case 1:
		x87_ptrs(c, in, 0);
		fxch(c, i);
		return;
	case 2:
	case 3:
		x87_ptrs(c, in, 0);
		fst_st(c, i, 1);
		return;
	case 4:
		if (i != 0)
			ud(c);
		reg_set(c, X86_RAX, 2, fsw(c)); /* FNSTSW AX */
		return;
	case 5:
	case 6:
		x87_ptrs(c, in, 0);
		x87_comi(c, in, i, reg == 5, 1);
		return;
	default:
		ud(c);
	}
}

/* Non-waiting control instructions: FNSTENV, FNSTCW, FNCLEX, FNINIT, FNSAVE, FNSTSW (and the
 * 8087/287 no-ops). They do not report pending exceptions. */
static int no_wait(unsigned op, unsigned modrm, int mem)
{
	unsigned reg = (modrm >> 3) & 7;

	if (mem)
		return (op == 1 || op == 5) && reg >= 6;
	return (op == 3 && (modrm & 0xf8) == 0xe0) || (op == 7 && modrm == 0xe0);
}

void emu_exec_x87(struct emu_cpu *c, const struct emu_insn *in)
{
	unsigned op = (in->imm2 >> 8) & 7, modrm = in->imm2 & 0xff;
	int mem = !(in->flags & EMU_I_REG);

	if (c->st.cr0 & (X86_CR0_EM | X86_CR0_TS))
		emu_raise(c, EMU_NM, 0, 0);
	if (!no_wait(op, modrm, mem))
		x87_check_pending(c);
	switch (op) {
	case 1:
		exec_d9(c, in, modrm, mem);
		break;
	case 2:
		if (!mem && modrm < 0xe0) {
			x87_ptrs(c, in, 0);
			fcmov(c, (modrm >> 3) & 3, 0, modrm & 7);
			break;
		}
		x87_arith(c, in, op, modrm);
		break;
	case 3:
		exec_db(c, in, modrm, mem);
		break;
	case 5:
		exec_dd(c, in, modrm, mem);
		break;
	case 7:
		exec_df(c, in, modrm, mem);
		break;
	default: /* D8, DC, DE */
		x87_arith(c, in, op, modrm);
	}
}
