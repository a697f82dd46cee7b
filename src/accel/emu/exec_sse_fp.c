/* emu: SSE/SSE2/SSE3/SSE4.1 floating point: arithmetic, min/max, sqrt, horizontal and
 * alternating add/sub, compares, COMIS/UCOMIS, ROUND*, DPPS/DPPD.
 *
 * Lanes are computed with host C double arithmetic under the rounding mode MXCSR.RC selects
 * (fesetround, restored to nearest afterwards); a float lane is computed in double and rounded
 * once to float, which is exact for + - * / sqrt (53 >= 2 * 24 + 2 bits). x86 specifics are
 * explicit, not left to the host: NaN propagation (first operand's NaN, quietened; MIN/MAX return
 * the second operand), the default NaN (negative QNaN "indefinite"), DAZ on inputs, FTZ on
 * results, the denormal flag. Overflow, underflow, inexact and divide-by-zero come from the host
 * (fetestexcept). Known deviations: with an unmasked exception all flags of the instruction are
 * set before #XM (hardware sets only the pre-computation ones when those are unmasked), and
 * underflow tininess follows the host (x86 hosts: after rounding, as the guest expects). RCPPS/
 * RSQRTPS return the exactly rounded value (hardware: a 12-bit approximation that differs
 * between vendors). */
#include <fenv.h>
#include <math.h>

#include "accel/emu/sse_fp.h"

#define EMU_XM 19

void sse_fp_flags(struct emu_cpu *c, uint32_t flags)
{
	uint32_t mx = sse_mxcsr(c);

	flags &= 0x3f;
	sse_set_mxcsr(c, mx | flags);
	if (flags & ~(mx >> 7) & 0x3f)
		emu_raise(c, (c->st.cr4 & X86_CR4_OSXMMEXCPT) ? EMU_XM : EMU_UD, 0, 0);
}

void fp_begin(struct fpctx *f, uint32_t mx, unsigned rc)
{
	static const int modes[4] = {FE_TONEAREST, FE_DOWNWARD, FE_UPWARD, FE_TOWARDZERO};

	f->mx = mx;
	f->flags = 0;
	feclearexcept(FE_ALL_EXCEPT);
	if (rc & 3)
		fesetround(modes[rc & 3]);
}

uint32_t fp_end(struct fpctx *f)
{
	fp_collect(f);
	fesetround(FE_TONEAREST);
	return f->flags;
}

void fp_collect(struct fpctx *f)
{
	int x = fetestexcept(FE_ALL_EXCEPT);

	feclearexcept(FE_ALL_EXCEPT);
	if (x & FE_INVALID)
		f->flags |= MX_IE;
	if (x & FE_DIVBYZERO)
		f->flags |= MX_ZE;
	if (x & FE_OVERFLOW)
		f->flags |= MX_OE;
	if (x & FE_UNDERFLOW)
		f->flags |= MX_UE;
	if (x & FE_INEXACT)
		f->flags |= MX_PE;
}

uint64_t fp_daz(struct fpctx *f, uint64_t x, int is32)
{
	if ((f->mx & MX_DAZ) && fp_is_denorm(x, is32))
		return x & fp_sign(is32);
	return x;
}

double fp_to_d(uint64_t x, int is32)
{
	if (is32) {
		float v;
		uint32_t b = (uint32_t)x;
		memcpy(&v, &b, 4);
		return v;
	}
	double d;
	memcpy(&d, &x, 8);
	return d;
}

/* Round the double r to the lane format (raising host flags), then apply FTZ. */
uint64_t fp_from_d(struct fpctx *f, double r, int is32)
{
	uint64_t bits;

	if (is32) {
		volatile float v = (float)r;
		float fv = v;
		uint32_t b;
		memcpy(&b, &fv, 4);
		bits = b;
		if (fetestexcept(FE_INEXACT) && fabsf(fv) < 1.17549435e-38f)
			f->flags |= MX_UE; /* tiny and inexact (double rounding hid it) */
	} else {
		memcpy(&bits, &r, 8);
	}
	if ((f->mx & MX_FZ) && (f->mx & (MX_UE << 7)) && fp_is_denorm(bits, is32)) {
		bits &= fp_sign(is32);
		f->flags |= MX_UE | MX_PE;
	}
	return bits;
}

uint64_t fp_lane(struct fpctx *f, unsigned op, int is32, uint64_t a, uint64_t b)
{
	int unary = op == FP_SQRT;

	a = fp_daz(f, a, is32);
	b = fp_daz(f, b, is32);
	if (op == FP_MIN || op == FP_MAX) {
		if (fp_is_nan(a, is32) || fp_is_nan(b, is32)) {
			f->flags |= MX_IE;
			return b;
		}
		if (fp_is_denorm(a, is32) || fp_is_denorm(b, is32))
			f->flags |= MX_DE;
		double x = fp_to_d(a, is32), y = fp_to_d(b, is32);
		return (op == FP_MIN ? x < y : x > y) ? a : b;
	}
	if ((!unary && fp_is_nan(a, is32)) || fp_is_nan(b, is32)) {
		if ((!unary && fp_is_snan(a, is32)) || fp_is_snan(b, is32))
			f->flags |= MX_IE;
		return fp_quiet(!unary && fp_is_nan(a, is32) ? a : b, is32);
	}
	if ((!unary && fp_is_denorm(a, is32)) || fp_is_denorm(b, is32))
		f->flags |= MX_DE;
	volatile double x = fp_to_d(a, is32), y = fp_to_d(b, is32);
	volatile double r;
	switch (op) {
	case FP_ADD:
		r = x + y;
		break;
	case FP_SUB:
		r = x - y;
		break;
	case FP_MUL:
		r = x * y;
		break;
	case FP_DIV:
		r = x / y;
		break;
	default:
		r = sqrt(y);
		break;
	}
	double rv = r;
	uint64_t res;
	if (rv != rv) {
		f->flags |= MX_IE;
		res = fp_default_nan(is32);
	} else {
		res = fp_from_d(f, rv, is32);
	}
	fp_collect(f);
	return res;
}

/* Exactly rounded reciprocal / reciprocal square root; no flags (as the hardware). Denormal
 * inputs count as zero. */
static uint64_t fp_recip(unsigned op, int is32, uint64_t b)
{
	if (fp_is_nan(b, is32))
		return fp_quiet(b, is32);
	if (fp_is_denorm(b, is32))
		b &= fp_sign(is32);
	double y = fp_to_d(b, is32), r;
	if (op == FP_RSQRT)
		r = y == 0 ? 1 / y : y < 0 ? NAN : 1 / sqrt(y);
	else
		r = 1 / y;
	if (r != r)
		return fp_default_nan(is32);
	struct fpctx f = {0};
	uint64_t v = fp_from_d(&f, r, is32);
	feclearexcept(FE_ALL_EXCEPT);
	return v;
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
	struct fpctx f;
	xmm_t g, e, r;

	xmm_get(c, in->reg, &g);
	fp_get_e(c, in, fmt, &e);
	r = g;
	if (op == FP_RCP || op == FP_RSQRT) {
		for (unsigned i = 0; i < n; i++)
			fp_set(&r, i, is32, fp_recip(op, is32, fp_get(&e, i, is32)));
		xmm_set(c, in->reg, &r);
		return;
	}
	fp_begin(&f, sse_mxcsr(c), sse_mxcsr(c) >> MX_RC_SHIFT);
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
	sse_fp_flags(c, fp_end(&f));
	xmm_set(c, in->reg, &r);
}

/* Compare a and b: 0 equal, 1 less, 2 greater, 3 unordered; flags for signalling (sig: any NaN
 * is invalid) or quiet (only SNaN) compares and for denormal operands. */
static unsigned fp_compare(struct fpctx *f, int is32, uint64_t a, uint64_t b, int sig)
{
	a = fp_daz(f, a, is32);
	b = fp_daz(f, b, is32);
	if (fp_is_nan(a, is32) || fp_is_nan(b, is32)) {
		if (sig || fp_is_snan(a, is32) || fp_is_snan(b, is32))
			f->flags |= MX_IE;
		return 3;
	}
	if (fp_is_denorm(a, is32) || fp_is_denorm(b, is32))
		f->flags |= MX_DE;
	double x = fp_to_d(a, is32), y = fp_to_d(b, is32);
	return x == y ? 0 : x < y ? 1 : 2;
}

void sse_fp_cmp(struct emu_cpu *c, const struct emu_insn *in, unsigned arg)
{
	unsigned fmt = arg & 3, n, pred = (unsigned)in->imm & 7;
	int is32 = fmt == F_PS || fmt == F_SS;
	struct fpctx f = {.mx = sse_mxcsr(c)};
	xmm_t g, e;

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

/* Round to an integral value in the same format; mode 0-3 as MXCSR.RC. */
double fp_rint(double d, unsigned mode)
{
	double fl = floor(d), r;

	switch (mode & 3) {
	case 0: {
		double diff = d - fl;
		r = diff > 0.5 ? fl + 1 : diff < 0.5 ? fl : fmod(fl, 2) == 0 ? fl : fl + 1;
		break;
	}
	case 1:
		r = fl;
		break;
	case 2:
		r = ceil(d);
		break;
	default:
		r = trunc(d);
	}
	return copysign(r, d);
}

void sse_fp_round(struct emu_cpu *c, const struct emu_insn *in, unsigned arg)
{
	unsigned imm = (unsigned)in->imm, fmt = arg & 3;
	unsigned mode = imm & 4 ? sse_mxcsr(c) >> MX_RC_SHIFT : imm;
	int is32 = fmt == F_PS || fmt == F_SS;
	unsigned n = fmt >= F_SS ? 1 : is32 ? 4 : 2;
	struct fpctx f = {.mx = sse_mxcsr(c)};
	xmm_t g, e;

	xmm_get(c, in->reg, &g);
	fp_get_e(c, in, fmt, &e);
	if (fmt < F_SS)
		g = e;
	for (unsigned i = 0; i < n; i++) {
		uint64_t x = fp_daz(&f, fp_get(&e, i, is32), is32);
		if (fp_is_nan(x, is32)) {
			if (fp_is_snan(x, is32))
				f.flags |= MX_IE;
			fp_set(&g, i, is32, fp_quiet(x, is32));
			continue;
		}
		double d = fp_to_d(x, is32), r = fp_rint(d, mode);
		if (r != d && !(imm & 8))
			f.flags |= MX_PE;
		uint64_t bits;
		if (is32) {
			float fr = (float)r;
			uint32_t b;
			memcpy(&b, &fr, 4);
			bits = b;
		} else {
			memcpy(&bits, &r, 8);
		}
		fp_set(&g, i, is32, bits);
	}
	sse_fp_flags(c, f.flags);
	xmm_set(c, in->reg, &g);
}

/* DPPS/DPPD: products selected by imm[7:4] (imm[5:4] for pd), summed pairwise, the sum written
 * to the lanes selected by imm[3:0] (others zero). */
void sse_fp_dp(struct emu_cpu *c, const struct emu_insn *in, int is32)
{
	unsigned imm = (unsigned)in->imm, n = is32 ? 4 : 2;
	struct fpctx f;
	uint64_t p[4], sum;
	xmm_t g, e, r;

	xmm_get(c, in->reg, &g);
	sse_get_e(c, in, &e, 16, 0, 1);
	fp_begin(&f, sse_mxcsr(c), sse_mxcsr(c) >> MX_RC_SHIFT);
	for (unsigned i = 0; i < n; i++)
		p[i] = (imm >> (4 + i)) & 1 ? fp_lane(&f, FP_MUL, is32, fp_get(&g, i, is32),
						      fp_get(&e, i, is32))
					    : 0;
	if (is32)
		sum = fp_lane(&f, FP_ADD, 1, fp_lane(&f, FP_ADD, 1, p[0], p[1]),
			      fp_lane(&f, FP_ADD, 1, p[2], p[3]));
	else
		sum = fp_lane(&f, FP_ADD, 0, p[0], p[1]);
	memset(&r, 0, sizeof(r));
	for (unsigned i = 0; i < n; i++)
		if ((imm >> i) & 1)
			fp_set(&r, i, is32, sum);
	sse_fp_flags(c, fp_end(&f));
	xmm_set(c, in->reg, &r);
}
