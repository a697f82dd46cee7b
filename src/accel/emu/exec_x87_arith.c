/* emu: x87 arithmetic (FADD FSUB FSUBR FMUL FDIV FDIVR and their P/I forms, FSQRT), compares
 * (FCOM FUCOM FICOM FCOMI FUCOMI FTST FXAM), FCHS, FABS, FRNDINT, FSCALE, FXTRACT, FPREM,
 * FPREM1 on the soft-float core: exact, with precision control (PC) on the arithmetic and FSQRT
 * results, C1 = "rounded up", and the x87 NaN rules (an SNaN operand raises IE; of two NaNs the
 * QNaN, else the larger significand, wins, quietened; unsupported encodings give the indefinite).
 *
 * F2XM1, FYL2X, FYL2XP1, FPTAN, FPATAN, FSIN, FCOS and FSINCOS are approximations: computed in
 * host double precision (<math.h>) and widened, so they are not bit-exact (about 53 correct
 * bits instead of the hardware's 64); the difftest does not generate them. */
#include <math.h>

#include "accel/emu/x87_priv.h"

enum { K_ADD, K_MUL, K_COM, K_COMP, K_SUB, K_SUBR, K_DIV, K_DIVR };

static struct sfr nan2(sf_t a, sf_t b)
{
	if (a.cls == SF_NAN && b.cls == SF_NAN) {
		int qa = !sf_is_snan(a), qb = !sf_is_snan(b);
		uint64_t ma = a.sig | 1ull << 62, mb = b.sig | 1ull << 62;
		if (qa != qb)
			return sf_qnan(SF_F80, qa ? a : b);
		if (ma != mb)
			return sf_qnan(SF_F80, ma > mb ? a : b);
		return sf_qnan(SF_F80, a.sign ? b : a);
	}
	return sf_qnan(SF_F80, a.cls == SF_NAN ? a : b);
}

/* x op y for k in K_ADD..K_DIVR (not the compares). */
static struct sfr op2(struct sf_env *e, unsigned k, sf_t x, sf_t y)
{
	if (x.bad || y.bad) {
		e->flags |= SF_IE;
		return x87_indef();
	}
	if (x.cls == SF_NAN || y.cls == SF_NAN) {
		if (sf_is_snan(x) || sf_is_snan(y))
			e->flags |= SF_IE;
		return nan2(x, y);
	}
	switch (k) {
	case K_ADD:
		return sf_add(e, SF_F80, x, y);
	case K_MUL:
		return sf_mul(e, SF_F80, x, y);
	case K_SUB:
		y.sign ^= 1;
		return sf_add(e, SF_F80, x, y);
	case K_SUBR:
		x.sign ^= 1;
		return sf_add(e, SF_F80, y, x);
	case K_DIV:
		return sf_div(e, SF_F80, x, y);
	default:
		return sf_div(e, SF_F80, y, x);
	}
}

/* ST(dst) = ST(dst) op src, then pop. */
static void binop(struct emu_cpu *c, unsigned k, unsigned dst, sf_t src, int src_empty, int pop)
{
	struct sf_env e;
	struct sfr r;

	x87_env(c, &e, 1);
	if (src_empty || x87_empty(c, dst)) {
		if (x87_stack_fault(c, 0))
			return;
		r = x87_indef();
	} else {
		r = op2(&e, k, x87_get(c, dst), src);
		if (x87_finish(c, e.flags, e.up))
			return;
	}
	x87_set(c, dst, r);
	if (pop)
		x87_pop(c);
}

/* 0 greater, 1 less, 2 equal, 3 unordered */
static unsigned cmp3(struct sf_env *e, sf_t a, sf_t b, int quiet)
{
	if (a.bad || b.bad) {
		e->flags |= SF_IE;
		return 3;
	}
	if (a.cls == SF_NAN || b.cls == SF_NAN) {
		if (!quiet || sf_is_snan(a) || sf_is_snan(b))
			e->flags |= SF_IE;
		return 3;
	}
	if (a.den || b.den)
		e->flags |= SF_DE;
	int r = sf_cmp(a, b);
	return r > 0 ? 0 : r < 0 ? 1 : 2;
}

static const uint16_t cc_of[4] = {0, X87_C0, X87_C3, X87_C3 | X87_C2 | X87_C0};

/* Compare ST(0) with src, set C3 C2 C0, pop pops times. */
static void fcom(struct emu_cpu *c, sf_t src, int src_empty, int quiet, int pops)
{
	struct sf_env e;
	unsigned r = 3;
	int sup = 0;

	x87_env(c, &e, 0);
	if (src_empty || x87_empty(c, 0)) {
		sup = x87_stack_fault(c, 0); /* the codes say unordered even when unmasked */
	} else {
		r = cmp3(&e, x87_get(c, 0), src, quiet);
		/* unmasked exceptions still set the codes, but do not pop */
		sup = x87_finish(c, e.flags, 0);
	}
	x87_set_cc(c, X87_C0 | X87_C2 | X87_C3, cc_of[r]);
	while (pops-- && !sup)
		x87_pop(c);
}

static void fcom_st(struct emu_cpu *c, unsigned i, int quiet, int pops)
{
	fcom(c, x87_get(c, i), x87_empty(c, i), quiet, pops);
}

void x87_comi(struct emu_cpu *c, const struct emu_insn *in, unsigned i, int quiet, int pop)
{
	static const uint32_t fl[4] = {0, F_CF, F_ZF, F_ZF | F_PF | F_CF};
	struct sf_env e;
	unsigned r = 3;
	int sup = 0;

	(void)in;
	x87_env(c, &e, 0);
	if (x87_empty(c, 0) || x87_empty(c, i)) {
		sup = x87_stack_fault(c, 0);
	} else {
		r = cmp3(&e, x87_get(c, 0), x87_get(c, i), quiet);
		sup = x87_finish(c, e.flags, -1); /* C1 unchanged */
	}
	flags_set_eager(c, F_ARITH, fl[r]);
	if (pop && !sup)
		x87_pop(c);
}

void x87_arith(struct emu_cpu *c, const struct emu_insn *in, unsigned op, unsigned modrm)
{
	unsigned reg = (modrm >> 3) & 7, i = modrm & 7;
	int mem = !(in->flags & EMU_I_REG);

	x87_ptrs(c, in, mem);
	if (mem) {
		sf_t src = op == 0   ? x87_ld_real(c, in, 4)
			   : op == 4 ? x87_ld_real(c, in, 8)
			   : op == 2 ? x87_ld_int(c, in, 4)
				     : x87_ld_int(c, in, 2);
		if (reg == K_COM || reg == K_COMP)
			fcom(c, src, 0, 0, reg == K_COMP);
		else
			binop(c, reg, 0, src, 0, 0);
		return;
	}
	switch (op) {
	case 0: /* D8: ST(0) = ST(0) op ST(i) */
		if (reg == K_COM || reg == K_COMP)
			fcom_st(c, i, 0, reg == K_COMP);
		else
			binop(c, reg, 0, x87_get(c, i), x87_empty(c, i), 0);
		return;
	case 2: /* DA E9: FUCOMPP */
		if (modrm != 0xe9)
			emu_raise(c, EMU_UD, 0, 0);
		fcom_st(c, 1, 1, 2);
		return;
	case 5: /* DD E0/E8: FUCOM, FUCOMP */
		fcom_st(c, i, 1, reg == 5);
		return;
	case 4: /* DC: ST(i) = ST(i) op ST(0), SUB/SUBR and DIV/DIVR swapped */
	case 6: /* DE: the same and pop */
		if (reg == K_COM || reg == K_COMP) {
			if (op == 6 && reg == K_COMP) { /* DE D9: FCOMPP */
				if (i != 1)
					emu_raise(c, EMU_UD, 0, 0);
				fcom_st(c, 1, 0, 2);
			} else { /* DC D0/D8, DE D0: FCOM/FCOMP aliases */
				fcom_st(c, i, 0, op == 6 || reg == K_COMP);
			}
			return;
		}
		binop(c, reg >= 4 ? reg ^ 1 : reg, i, x87_get(c, 0), x87_empty(c, 0), op == 6);
		return;
	}
}

/* ---- D9 E0-FF ---- */

/* ST(0) if valid; else the stack fault: returns 0 when the instruction must stop, setting *r to
 * the indefinite when the masked response is to write it. */
static int st0_or_fault(struct emu_cpu *c, sf_t *x, int *write_indef)
{
	*write_indef = 0;
	if (!x87_empty(c, 0)) {
		*x = x87_get(c, 0);
		return 1;
	}
	if (!x87_stack_fault(c, 0))
		*write_indef = 1;
	return 0;
}

static double to_double(sf_t x)
{
	struct sf_env e;
	double d;

	memset(&e, 0, sizeof(e));
	e.um = e.om = 1;
	uint64_t b = sf_pack(&e, SF_F64, x).m;
	memcpy(&d, &b, 8);
	return d;
}

static struct sfr from_double(struct sf_env *e, double d)
{
	static const struct sf_env none;
	uint64_t b;

	memcpy(&b, &d, 8);
	sf_t x = sf_unpack(&none, SF_F64, b);
	if (x.cls == SF_NAN)
		return x87_indef();
	if (x.cls != SF_ZERO)
		e->flags |= SF_PE;
	return sf_pack(e, SF_F80, x);
}

/* NaN/unsupported handling of a one-operand function: returns 1 with *r set when done. */
static int special1(struct sf_env *e, sf_t x, struct sfr *r)
{
	if (x.bad) {
		e->flags |= SF_IE;
		*r = x87_indef();
		return 1;
	}
	if (x.cls == SF_NAN) {
		if (sf_is_snan(x))
			e->flags |= SF_IE;
		*r = sf_qnan(SF_F80, x);
		return 1;
	}
	return 0;
}

static void unary(struct emu_cpu *c, unsigned modrm)
{
	struct sf_env e;
	struct sfr r;
	sf_t x;
	int wi;

	if (!st0_or_fault(c, &x, &wi)) {
		if (wi)
			x87_set(c, 0, x87_indef());
		return;
	}
	x87_env(c, &e, modrm == 0xfa);
	if (!special1(&e, x, &r)) {
		switch (modrm) {
		case 0xfa: /* FSQRT */
			r = sf_sqrt(&e, SF_F80, x);
			break;
		case 0xfc: { /* FRNDINT */
			if (x.den)
				e.flags |= SF_DE;
			sf_t y = sf_round_int(&e, x, e.rc), ax = x, ay = y;
			ax.sign = ay.sign = 0;
			r = sf_pack(&e, SF_F80, y);
			e.up = sf_cmp(ay, ax) > 0;
			break;
		}
		case 0xf0: /* F2XM1 */
			if (x.den)
				e.flags |= SF_DE;
			r = x.cls == SF_ZERO ? sf_pack(&e, SF_F80, x)
					     : from_double(&e, expm1(to_double(x) * M_LN2));
			break;
		default: { /* FSIN, FCOS */
			if (x.cls == SF_INF) {
				e.flags |= SF_IE;
				r = x87_indef();
				break;
			}
			if (x.cls == SF_NORM && x.exp >= 63) {
				x87_set_cc(c, X87_C2, X87_C2);
				return;
			}
			double d = to_double(x);
			if (x.den)
				e.flags |= SF_DE;
			r = modrm == 0xfe && x.cls == SF_ZERO
				? sf_pack(&e, SF_F80, x)
				: from_double(&e, modrm == 0xfe ? sin(d) : cos(d));
			x87_set_cc(c, X87_C2, 0);
		}
		}
	}
	if (x87_finish(c, e.flags, e.up))
		return;
	x87_set(c, 0, r);
}

/* FYL2X, FYL2XP1, FPATAN: ST(1) = f(ST(1), ST(0)), pop. FSCALE: ST(0) = ST(0) * 2^trunc(ST(1)). */
static void binary_fn(struct emu_cpu *c, unsigned modrm)
{
	struct sf_env e;
	struct sfr r;
	unsigned dst = modrm == 0xfd ? 0 : 1;

	x87_env(c, &e, 0);
	if (x87_empty(c, 0) || x87_empty(c, 1)) {
		if (x87_stack_fault(c, 0))
			return;
		r = x87_indef();
		goto write;
	}
	sf_t x = x87_get(c, 0), y = x87_get(c, 1);
	if (x.bad || y.bad) {
		e.flags |= SF_IE;
		r = x87_indef();
	} else if (x.cls == SF_NAN || y.cls == SF_NAN) {
		if (sf_is_snan(x) || sf_is_snan(y))
			e.flags |= SF_IE;
		r = nan2(x, y);
	} else if (modrm == 0xfd) { /* FSCALE */
		if (x.den || y.den)
			e.flags |= SF_DE;
		if (y.cls == SF_INF) {
			int bad = (!y.sign && x.cls == SF_ZERO) || (y.sign && x.cls == SF_INF);
			if (bad) {
				e.flags |= SF_IE;
				r = x87_indef();
			} else {
				sf_t z = x;
				if (x.cls == SF_NORM)
					z.cls = y.sign ? SF_ZERO : SF_INF;
				r = sf_pack(&e, SF_F80, z);
			}
		} else {
			int ok;
			int64_t n = y.cls == SF_NORM && y.exp > 20
					? (y.sign ? -(1 << 21) : 1 << 21)
					: sf_to_int(&(struct sf_env){0}, y, 64, 3, &ok);
			if (x.cls == SF_NORM)
				x.exp += (int32_t)n;
			r = sf_pack(&e, SF_F80, x);
		}
	} else {
		double a = to_double(x), b = to_double(y), v;
		if (modrm == 0xf3) {
			v = atan2(b, a);
		} else if (modrm == 0xf1) {
			if (x.sign && x.cls != SF_ZERO) {
				e.flags |= SF_IE;
				r = x87_indef();
				goto done;
			}
			if (x.cls == SF_ZERO && y.cls != SF_ZERO)
				e.flags |= SF_ZE;
			v = b * log2(a);
		} else {
			v = b * log1p(a) / M_LN2;
		}
		r = from_double(&e, v);
	}
done:
	if (x87_finish(c, e.flags, e.up))
		return;
write:
	x87_set(c, dst, r);
	if (dst)
		x87_pop(c);
}

/* FXTRACT, FPTAN, FSINCOS: replace ST(0) and push a second value. */
static void push2(struct emu_cpu *c, unsigned modrm)
{
	struct sf_env e;
	struct sfr a, b;
	sf_t x;
	int wi;

	if (!st0_or_fault(c, &x, &wi)) {
		if (wi) {
			x87_set(c, 0, x87_indef());
			x87_push(c, x87_indef()); /* without an overflow check, as the hardware */
		}
		return;
	}
	if (!x87_empty(c, 7)) {
		if (!x87_stack_fault(c, 1)) {
			x87_set(c, 0, x87_indef());
			x87_push(c, x87_indef());
		}
		return;
	}
	x87_env(c, &e, 0);
	if (special1(&e, x, &a)) {
		b = a;
	} else if (modrm == 0xf4) { /* FXTRACT */
		if (x.cls == SF_ZERO) {
			e.flags |= SF_ZE;
			a = (struct sfr){1ull << 63, 0xffff};
			b = sf_pack(&e, SF_F80, x);
		} else if (x.cls == SF_INF) {
			a = (struct sfr){1ull << 63, 0x7fff};
			b = sf_pack(&e, SF_F80, x);
		} else {
			struct sf_env ex;
			x87_env(c, &ex, 0);
			if (x.den)
				e.flags |= SF_DE;
			int64_t ev = x.exp;
			sf_t ee = sf_norm(ev < 0, 63, ev < 0 ? (uint64_t)-ev : (uint64_t)ev);
			a = sf_pack(&ex, SF_F80, ee);
			x.exp = 0;
			b = sf_pack(&e, SF_F80, x);
		}
	} else {
		if (x.cls == SF_INF) {
			e.flags |= SF_IE;
			a = b = x87_indef();
		} else if (x.cls == SF_NORM && x.exp >= 63) {
			x87_set_cc(c, X87_C2, X87_C2);
			return;
		} else {
			double d = to_double(x);
			if (modrm == 0xf2) {
				a = x.cls == SF_ZERO ? sf_pack(&e, SF_F80, x)
						     : from_double(&e, tan(d));
				b = (struct sfr){1ull << 63, 0x3fff};
			} else {
				a = x.cls == SF_ZERO ? sf_pack(&e, SF_F80, x)
						     : from_double(&e, sin(d));
				b = from_double(&e, cos(d));
			}
			x87_set_cc(c, X87_C2, 0);
		}
	}
	if (x87_finish(c, e.flags, e.up))
		return;
	x87_set(c, 0, a);
	x87_push(c, b);
}

/* FPREM (truncating quotient) and FPREM1 (IEEE, nearest-even quotient). */
static void fprem(struct emu_cpu *c, int ieee)
{
	typedef unsigned __int128 u128;
	struct sf_env e;
	struct sfr r;

	x87_env(c, &e, 0);
	if (x87_empty(c, 0) || x87_empty(c, 1)) {
		x87_set_cc(c, X87_C2, 0);
		if (!x87_stack_fault(c, 0))
			x87_set(c, 0, x87_indef());
		return;
	}
	sf_t x = x87_get(c, 0), y = x87_get(c, 1);
	uint16_t cc = 0, ccmask = X87_C0 | X87_C1 | X87_C2 | X87_C3;
	if (x.bad || y.bad) {
		e.flags |= SF_IE;
		r = x87_indef();
		ccmask = X87_C1 | X87_C2;
	} else if (x.cls == SF_NAN || y.cls == SF_NAN) {
		if (sf_is_snan(x) || sf_is_snan(y))
			e.flags |= SF_IE;
		r = nan2(x, y);
		ccmask = X87_C1 | X87_C2;
	} else if (x.cls == SF_INF || y.cls == SF_ZERO) {
		e.flags |= SF_IE;
		r = x87_indef();
		ccmask = X87_C1 | X87_C2;
	} else {
		if (x.den || y.den)
			e.flags |= SF_DE;
		int32_t d = x.exp - y.exp;
		uint64_t q = 0;
		if (x.cls == SF_ZERO || y.cls == SF_INF || d < -1) {
			r = sf_pack(&e, SF_F80, x);
		} else if (d >= 64) { /* partial remainder: reduce the exponent by 32..63 */
			unsigned n = ((unsigned)d & 31) | 32;
			u128 num = (u128)x.sig << n;
			uint64_t rem = (uint64_t)(num % y.sig);
			r = sf_pack(&e, SF_F80, sf_norm(x.sign, x.exp - (int32_t)n, rem));
			cc = X87_C2; /* incomplete; the quotient bits read as 0 (AMD) */
		} else {
			/* x = X 2^(xe-63), y = Y 2^(ye-63): X 2^d = q Y + R, remainder R 2^(ye-63)
			 */
			u128 num = d >= 0 ? (u128)x.sig << d : (u128)x.sig;
			u128 den = d >= 0 ? (u128)y.sig : (u128)y.sig << 1;
			u128 qq = num / den, rem = num % den;
			int32_t rexp = d >= 0 ? y.exp : y.exp - 1; /* exponent of den's bit 63 */
			unsigned sign = x.sign;
			if (ieee && (2 * rem > den || (2 * rem == den && (qq & 1)))) {
				qq++;
				rem = den - rem;
				sign ^= 1;
			}
			q = (uint64_t)qq;
			sf_t z = {0, 0, (uint8_t)sign, SF_ZERO, 0, 0};
			if (rem) {
				unsigned lz = sf_clz128(rem);
				z.cls = SF_NORM;
				z.sig = (uint64_t)((rem << lz) >> 64);
				z.exp = rexp + 64 - (int32_t)lz;
			} else {
				z.sign = x.sign;
			}
			r = sf_pack(&e, SF_F80, z);
			if (d == -1 && !ieee)
				q = 0;
		}
		cc |=
		    (uint16_t)((q & 1 ? X87_C1 : 0) | (q & 2 ? X87_C3 : 0) | (q & 4 ? X87_C0 : 0));
	}
	if (x87_finish(c, e.flags, -1)) {
		x87_set_cc(c, X87_C2, 0); /* an unmasked exception: only C2 is cleared */
		return;
	}
	x87_set(c, 0, r);
	x87_set_cc(c, ccmask, cc);
}

static void fxam(struct emu_cpu *c)
{
	struct sfr v = x87_raw(c, 0);
	sf_t x = sf_unpack80(v.m, v.se);
	uint16_t cc;

	if (x87_empty(c, 0))
		cc = X87_C3 | X87_C0;
	else if (x.bad)
		cc = 0;
	else if (x.cls == SF_NAN)
		cc = X87_C0;
	else if (x.cls == SF_INF)
		cc = X87_C2 | X87_C0;
	else if (x.cls == SF_ZERO)
		cc = X87_C3;
	else
		cc = x.den ? X87_C3 | X87_C2 : X87_C2;
	if (v.se & 0x8000)
		cc |= X87_C1;
	x87_set_cc(c, X87_C0 | X87_C1 | X87_C2 | X87_C3, cc);
}

void x87_d9_math(struct emu_cpu *c, const struct emu_insn *in, unsigned modrm)
{
	static const sf_t zero = {0, 0, 0, SF_ZERO, 0, 0};
	struct sfr r;

	(void)in;
	switch (modrm) {
	case 0xe0: /* FCHS */
	case 0xe1: /* FABS */
		if (x87_empty(c, 0)) {
			if (!x87_stack_fault(c, 0))
				x87_set(c, 0, x87_indef());
			return;
		}
		r = x87_raw(c, 0);
		r.se = modrm == 0xe0 ? r.se ^ 0x8000 : r.se & 0x7fff;
		x87_finish(c, 0, 0);
		x87_set(c, 0, r);
		return;
	case 0xe4: /* FTST */
		fcom(c, zero, 0, 0, 0);
		return;
	case 0xe5:
		fxam(c);
		return;
	case 0xf0: /* F2XM1 */
	case 0xfa: /* FSQRT */
	case 0xfc: /* FRNDINT */
	case 0xfe: /* FSIN */
	case 0xff: /* FCOS */
		unary(c, modrm);
		return;
	case 0xf1: /* FYL2X */
	case 0xf3: /* FPATAN */
	case 0xf9: /* FYL2XP1 */
	case 0xfd: /* FSCALE */
		binary_fn(c, modrm);
		return;
	case 0xf2: /* FPTAN */
	case 0xf4: /* FXTRACT */
	case 0xfb: /* FSINCOS */
		push2(c, modrm);
		return;
	case 0xf5:
	case 0xf8:
		fprem(c, modrm == 0xf5);
		return;
	default:
		emu_raise(c, EMU_UD, 0, 0);
	}
}
