/* emu: SSE/SSE2/SSE3/SSE4.1 floating point: arithmetic, min/max, sqrt, horizontal and
 * alternating add/sub, compares, COMIS/UCOMIS, ROUND*, DPPS/DPPD.
 *
 * Lanes go through the soft-float core (sse_fp.h), so results and MXCSR flags are exact and
 * host independent: NaN propagation (the first operand's NaN, quietened; MIN/MAX return the
 * second operand), the default NaN (negative QNaN "indefinite"), DAZ on inputs, FTZ on results,
 * the exception priorities of each lane (an SNaN operand gives IE only, a QNaN operand no flag,
 * IE/ZE hide DE), and the two-phase #XM rule in sse_fp_flags. Known deviation: RCPPS/RSQRTPS
 * return the exactly rounded value (hardware: a 12-bit approximation that differs between
 * vendors). */
#include "accel/emu/sse_fp.h"

#define EMU_XM 19

/* Pre-computation exceptions (IE DE ZE) of any lane that are unmasked raise #XM with only those
 * flags recorded; otherwise every flag is recorded and unmasked post-computation ones (OE UE PE)
 * raise #XM. Either way the destination is left unchanged (the callers write after this). */
void sse_fp_flags(struct emu_cpu *c, uint32_t flags)
{
	uint32_t mx = sse_mxcsr(c), unmasked = ~(mx >> 7) & 0x3f;

	flags &= 0x3f;
	if (flags & unmasked & 0x7)
		flags &= 0x7;
	sse_set_mxcsr(c, mx | flags);
	if (flags & unmasked)
		emu_raise(c, (c->st.cr4 & X86_CR4_OSXMMEXCPT) ? EMU_XM : EMU_UD, 0, 0);
}

void fp_env(struct sf_env *e, uint32_t mx, unsigned rc)
{
	memset(e, 0, sizeof(*e));
	e->rc = (uint8_t)(rc & 3);
	e->prec = 64;
	e->daz = (mx & MX_DAZ) != 0;
	e->ftz = (mx & MX_FZ) != 0;
	e->um = (mx & (MX_UE << 7)) != 0;
	e->om = (mx & (MX_OE << 7)) != 0;
}

uint64_t fp_lane(struct sf_env *e, unsigned op, int is32, uint64_t a, uint64_t b)
{
	int fmt = fp_fmt(is32), unary = op == FP_SQRT;
	sf_t x = sf_unpack(e, fmt, a), y = sf_unpack(e, fmt, b);
	struct sfr r;

	if (op == FP_MIN || op == FP_MAX) {
		uint64_t sign = is32 ? 0x80000000u : 0x8000000000000000ull;
		if (x.cls == SF_ZERO)
			a &= sign; /* a DAZ-flushed denormal is returned as zero */
		if (y.cls == SF_ZERO)
			b &= sign;
		if (x.cls == SF_NAN || y.cls == SF_NAN) {
			e->flags |= SF_IE;
			return b;
		}
		if (x.den || y.den)
			e->flags |= SF_DE;
		int k = sf_cmp(x, y);
		return (op == FP_MIN ? k < 0 : k > 0) ? a : b;
	}
	if ((!unary && x.cls == SF_NAN) || y.cls == SF_NAN) {
		if ((!unary && sf_is_snan(x)) || sf_is_snan(y))
			e->flags |= SF_IE;
		return sf_qnan(fmt, !unary && x.cls == SF_NAN ? x : y).m;
	}
	switch (op) {
	case FP_ADD:
		r = sf_add(e, fmt, x, y);
		break;
	case FP_SUB:
		y.sign ^= 1;
		r = sf_add(e, fmt, x, y);
		break;
	case FP_MUL:
		r = sf_mul(e, fmt, x, y);
		break;
	case FP_DIV:
		r = sf_div(e, fmt, x, y);
		break;
	default:
		r = sf_sqrt(e, fmt, y);
		break;
	}
	return r.m;
}

/* RCPPS/RSQRTPS: the exactly rounded value (hardware returns a vendor-specific 12-bit
 * approximation); denormal inputs read as zero, denormal results flush to zero, no flags. */
static uint64_t fp_recip(unsigned op, uint64_t b)
{
	struct sf_env e;
	sf_t y, one = {1ull << 63, 0, 0, SF_NORM, 0, 0};

	fp_env(&e, 0x1f80 | MX_DAZ | MX_FZ, 0);
	y = sf_unpack(&e, SF_F32, b);
	if (y.cls == SF_NAN)
		return sf_qnan(SF_F32, y).m;
	if (op == FP_RSQRT) {
		if (y.sign && y.cls != SF_ZERO)
			return sf_default_nan(SF_F32).m;
		if (y.cls == SF_ZERO)
			return y.sign ? 0xff800000u : 0x7f800000u;
		y = sf_unpack(&e, SF_F64, sf_sqrt(&e, SF_F64, y).m);
	}
	return sf_div(&e, SF_F32, one, y).m;
}

/* Load the E operand of a ps/pd/ss/sd instruction (scalar memory forms read 4/8 bytes). */
static void fp_get_e(struct emu_cpu *c, const struct emu_insn *in, unsigned fmt, xmm_t *e)
{
	sse_get_e(c, in, e, fmt == F_SS ? 4 : fmt == F_SD ? 8 : 16, 0, 1);
}

void sse_fp_arith(struct emu_cpu *c, const struct emu_insn *in, unsigned arg)
{
	unsigned op = arg & 0x7f, fmt = arg & FA_PFX ? in->sub : arg >> 8;
	int is32 = fmt == F_PS || fmt == F_SS;
	unsigned esz = is32 ? 4 : 8, n = fmt >= F_SS ? 1 : 16 / esz;
	uint32_t mx = sse_mxcsr(c);
	struct sf_env f;
	xmm_t g, e, r;

	xmm_get(c, in->reg, &g);
	fp_get_e(c, in, fmt, &e);
	r = g;
	if (op == FP_RCP || op == FP_RSQRT) {
		for (unsigned i = 0; i < n; i++)
			r.d[i] = (uint32_t)fp_recip(op, e.d[i]);
		xmm_set(c, in->reg, &r);
		return;
	}
	fp_env(&f, mx, mx >> MX_RC_SHIFT);
	for (unsigned i = 0; i < n; i++) {
		uint64_t a = fp_get(&g, i, is32), b = fp_get(&e, i, is32), v;
		if (op == FP_ADDSUB) {
			v = fp_lane(&f, i & 1 ? FP_ADD : FP_SUB, is32, a, b);
		} else if (op == FP_HADD || op == FP_HSUB) {
			const xmm_t *s = i < n / 2 ? &g : &e;
			unsigned k = 2 * (i % (n / 2));
			v = fp_lane(&f, op == FP_HADD ? FP_ADD : FP_SUB, is32, fp_get(s, k, is32),
				    fp_get(s, k + 1, is32));
		} else {
			v = fp_lane(&f, op, is32, a, b);
		}
		fp_set(&r, i, is32, v);
	}
	sse_fp_flags(c, f.flags);
	xmm_set(c, in->reg, &r);
}

/* Compare a and b: 0 equal, 1 less, 2 greater, 3 unordered; flags for signalling (sig: any NaN
 * is invalid) or quiet (only SNaN) compares and for denormal operands. */
static unsigned fp_compare(struct sf_env *f, int is32, uint64_t a, uint64_t b, int sig)
{
	sf_t x = sf_unpack(f, fp_fmt(is32), a), y = sf_unpack(f, fp_fmt(is32), b);

	if (x.cls == SF_NAN || y.cls == SF_NAN) {
		if (sig || sf_is_snan(x) || sf_is_snan(y))
			f->flags |= SF_IE;
		return 3;
	}
	if (x.den || y.den)
		f->flags |= SF_DE;
	int k = sf_cmp(x, y);
	return k == 0 ? 0 : k < 0 ? 1 : 2;
}

void sse_fp_cmp(struct emu_cpu *c, const struct emu_insn *in, unsigned arg)
{
	unsigned fmt = arg & 3, n, pred = (unsigned)in->imm & 7;
	int is32 = fmt == F_PS || fmt == F_SS;
	struct sf_env f;
	xmm_t g, e;

	fp_env(&f, sse_mxcsr(c), 0);
	xmm_get(c, in->reg, &g);
	if (arg >= CMP_COMISS) {
		is32 = arg == CMP_COMISS || arg == CMP_UCOMISS;
		fp_get_e(c, in, is32 ? F_SS : F_SD, &e);
		unsigned r = fp_compare(&f, is32, fp_get(&g, 0, is32), fp_get(&e, 0, is32),
					arg <= CMP_COMISD);
		static const uint32_t fl[4] = {F_ZF, F_CF, 0, F_ZF | F_PF | F_CF};
		sse_fp_flags(c, f.flags);
		flags_set_eager(c, F_ARITH, fl[r]);
		return;
	}
	fp_get_e(c, in, fmt, &e);
	n = fmt >= F_SS ? 1 : is32 ? 4 : 2;
	for (unsigned i = 0; i < n; i++) {
		/* predicates: EQ LT LE UNORD NEQ NLT NLE ORD; LT/LE/NLT/NLE signal on QNaN */
		unsigned r = fp_compare(&f, is32, fp_get(&g, i, is32), fp_get(&e, i, is32),
					(pred & 3) == 1 || (pred & 3) == 2);
		int t;
		switch (pred & 3) {
		case 0:
			t = r == 0;
			break;
		case 1:
			t = r == 1;
			break;
		case 2:
			t = r <= 1;
			break;
		default:
			t = r == 3;
		}
		if (pred & 4)
			t = !t;
		fp_set(&g, i, is32, t ? ~0ull : 0);
	}
	sse_fp_flags(c, f.flags);
	xmm_set(c, in->reg, &g);
}

void sse_fp_round(struct emu_cpu *c, const struct emu_insn *in, unsigned arg)
{
	unsigned imm = (unsigned)in->imm, fmt = arg & 3;
	unsigned mode = imm & 4 ? sse_mxcsr(c) >> MX_RC_SHIFT : imm;
	int is32 = fmt == F_PS || fmt == F_SS;
	unsigned n = fmt >= F_SS ? 1 : is32 ? 4 : 2;
	struct sf_env f;
	xmm_t g, e;

	fp_env(&f, sse_mxcsr(c), mode);
	xmm_get(c, in->reg, &g);
	fp_get_e(c, in, fmt, &e);
	if (fmt < F_SS)
		g = e;
	for (unsigned i = 0; i < n; i++) {
		sf_t x = sf_unpack(&f, fp_fmt(is32), fp_get(&e, i, is32));
		if (x.cls == SF_NAN) {
			if (sf_is_snan(x))
				f.flags |= SF_IE;
			fp_set(&g, i, is32, sf_qnan(fp_fmt(is32), x).m);
			continue;
		}
		uint32_t before = f.flags;
		x = sf_round_int(&f, x, mode);
		if (imm & 8)
			f.flags = before | (f.flags & ~SF_PE);
		fp_set(&g, i, is32, sf_pack(&f, fp_fmt(is32), x).m);
	}
	sse_fp_flags(c, f.flags);
	xmm_set(c, in->reg, &g);
}

/* DPPS/DPPD: products selected by imm[7:4] (imm[5:4] for pd), summed pairwise, the sum written
 * to the lanes selected by imm[3:0] (others zero). MXCSR is updated (and #XM raised) after the
 * multiplications and again after the additions, as the hardware does. */
void sse_fp_dp(struct emu_cpu *c, const struct emu_insn *in, int is32)
{
	unsigned imm = (unsigned)in->imm, n = is32 ? 4 : 2;
	uint32_t mx = sse_mxcsr(c);
	struct sf_env f;
	uint64_t p[4], sum;
	xmm_t g, e, r;

	xmm_get(c, in->reg, &g);
	sse_get_e(c, in, &e, 16, 0, 1);
	fp_env(&f, mx, mx >> MX_RC_SHIFT);
	for (unsigned i = 0; i < n; i++)
		p[i] = (imm >> (4 + i)) & 1
			   ? fp_lane(&f, FP_MUL, is32, fp_get(&g, i, is32), fp_get(&e, i, is32))
			   : 0;
	/* the products are a step of their own: their unmasked exceptions stop the instruction */
	sse_fp_flags(c, f.flags);
	f.flags = 0;
	if (is32)
		sum = fp_lane(&f, FP_ADD, 1, fp_lane(&f, FP_ADD, 1, p[0], p[1]),
			      fp_lane(&f, FP_ADD, 1, p[2], p[3]));
	else
		sum = fp_lane(&f, FP_ADD, 0, p[0], p[1]);
	memset(&r, 0, sizeof(r));
	for (unsigned i = 0; i < n; i++)
		if ((imm >> i) & 1)
			fp_set(&r, i, is32, sum);
	sse_fp_flags(c, f.flags);
	xmm_set(c, in->reg, &r);
}
