/* emu: the software floating-point core (see sse_fp.h). Exact intermediate results are formed
 * in 128-bit integers (a GCC/Clang extension available on every 64-bit host) with a sticky bit,
 * then rounded once by sf_round. */
#include "accel/emu/sse_fp.h"

typedef unsigned __int128 u128;

struct fmtinfo {
	int32_t bias;
	int32_t emax; /* all-ones exponent field */
	unsigned p;   /* significand bits */
	int32_t adj;  /* exponent wrap of unmasked overflow/underflow results (3 * 2^(e-2)) */
};

static const struct fmtinfo fmts[3] = {
    {127, 0xff, 24, 192}, {1023, 0x7ff, 53, 1536}, {16383, 0x7fff, 64, 24576}};

/* Pack a biased exponent field and an x87-style significand (integer bit at 63). */
static struct sfr raw(int fmt, unsigned sign, int32_t be, uint64_t m)
{
	struct sfr r = {0, 0};

	switch (fmt) {
	case SF_F32:
		r.m = (uint64_t)sign << 31 | (uint64_t)be << 23 | ((m >> 40) & 0x7fffff);
		break;
	case SF_F64:
		r.m = (uint64_t)sign << 63 | (uint64_t)be << 52 | ((m >> 11) & 0xfffffffffffffull);
		break;
	default:
		r.m = m;
		r.se = (uint16_t)(sign << 15 | (unsigned)be);
	}
	return r;
}

static struct sfr zero(int fmt, unsigned sign)
{
	return raw(fmt, sign, 0, 0);
}

static struct sfr inf(int fmt, unsigned sign)
{
	return raw(fmt, sign, fmts[fmt].emax, 1ull << 63);
}

struct sfr sf_default_nan(int fmt)
{
	return raw(fmt, 1, fmts[fmt].emax, 3ull << 62);
}

struct sfr sf_qnan(int fmt, sf_t x)
{
	return raw(fmt, x.sign, fmts[fmt].emax, x.sig | 3ull << 62);
}

sf_t sf_unpack(const struct sf_env *e, int fmt, uint64_t bits)
{
	sf_t x = {0, 0, 0, SF_ZERO, 0, 0};
	int32_t be;
	uint64_t frac;
	unsigned fb = fmt == SF_F32 ? 23 : 52;

	if (fmt == SF_F80)
		return sf_unpack80(bits, 0);
	x.sign = (uint8_t)(bits >> (fmt == SF_F32 ? 31 : 63) & 1);
	be = (int32_t)((bits >> fb) & (uint64_t)fmts[fmt].emax);
	frac = bits & ((1ull << fb) - 1);
	if (be == fmts[fmt].emax) {
		x.cls = frac ? SF_NAN : SF_INF;
		x.sig = 1ull << 63 | frac << (63 - fb);
		return x;
	}
	if (be == 0) {
		if (!frac || e->daz)
			return x;
		unsigned lz = (unsigned)__builtin_clzll(frac);
		x.cls = SF_NORM;
		x.den = 1;
		x.sig = frac << lz;
		x.exp = 1 - fmts[fmt].bias - (int32_t)(lz - (63 - fb));
		return x;
	}
	x.cls = SF_NORM;
	x.sig = 1ull << 63 | frac << (63 - fb);
	x.exp = be - fmts[fmt].bias;
	return x;
}

sf_t sf_unpack80(uint64_t m, uint16_t se)
{
	sf_t x = {0, 0, (uint8_t)(se >> 15), SF_ZERO, 0, 0};
	int32_t be = se & 0x7fff;

	if (be == 0x7fff) {
		x.sig = m;
		x.cls = (m << 1) ? SF_NAN : SF_INF;
		x.bad = !(m >> 63);
		return x;
	}
	if (be == 0) {
		if (!m)
			return x;
		unsigned lz = (unsigned)__builtin_clzll(m);
		x.cls = SF_NORM;
		x.den = 1; /* denormal or pseudo-denormal */
		x.sig = m << lz;
		x.exp = 1 - 16383 - (int32_t)lz;
		return x;
	}
	x.cls = SF_NORM;
	x.sig = m;
	x.exp = be - 16383;
	x.bad = !(m >> 63); /* unnormal */
	if (x.bad && m) {
		unsigned lz = (unsigned)__builtin_clzll(m);
		x.sig = m << lz;
		x.exp -= (int32_t)lz;
	}
	return x;
}

/* Does rounding increment kept (low bit odd) given the discarded part? */
static inline int round_inc(unsigned rc, unsigned sign, unsigned odd, int half, int sticky)
{
	switch (rc & 3) {
	case 0:
		return half && (sticky || odd);
	case 1:
		return sign && (half || sticky);
	case 2:
		return !sign && (half || sticky);
	default:
		return 0;
	}
}

/* Round (-1)^sign * sig * 2^(exp - 127), sig != 0 with bit 127 set, to fmt. */
static struct sfr sf_round(struct sf_env *e, int fmt, unsigned sign, int32_t exp, u128 sig)
{
	const struct fmtinfo *f = &fmts[fmt];
	unsigned p = fmt == SF_F80 ? e->prec : f->p, sh = 128 - p;
	u128 mask = ((u128)1 << sh) - 1, half = (u128)1 << (sh - 1), k, rem;
	int32_t be = exp + f->bias;
	int tiny = 0, inc;

	e->up = 0;
	if (be < 1) {
		/* Tininess after rounding: the value rounded to p bits with an unbounded exponent
		 * is below the smallest normal. */
		tiny = 1;
		if (be == 0) {
			k = sig >> sh;
			rem = sig & mask;
			if (round_inc(e->rc, sign, (unsigned)k & 1, (rem & half) != 0,
				      (rem & (half - 1)) != 0) &&
			    k + 1 == (u128)1 << p)
				tiny = 0;
		}
		if (tiny && e->ftz && e->um) {
			e->flags |= SF_UE | SF_PE;
			return zero(fmt, sign);
		}
		if (tiny && !e->um) {
			/* unmasked underflow: x87 delivers the exponent-wrapped result; SSE raises
			 * #XM, with PE telling whether that result was inexact */
			be += f->adj;
			tiny = 2;
			if (be < 1 && fmt == SF_F80) {
				/* massive underflow (FSCALE): a signed zero even after bias */
				e->flags |= SF_UE | SF_PE;
				return zero(fmt, sign);
			}
		} else {
			unsigned s = (unsigned)(1 - be);
			sig = s >= 128 ? 1 : (sig >> s) | ((sig & (((u128)1 << s) - 1)) != 0);
			be = 0;
		}
	}
	k = sig >> sh;
	rem = sig & mask;
	inc = round_inc(e->rc, sign, (unsigned)k & 1, (rem & half) != 0, (rem & (half - 1)) != 0);
	int pe = rem != 0;
	if (tiny && (rem || !e->um))
		e->flags |= SF_UE;
	if (inc) {
		e->up = 1;
		k++;
		if (k >> p) {
			k >>= 1;
			be++;
		}
	}
	if (be == 0 && (k >> (p - 1)))
		be = 1; /* a denormal rounded up to the smallest normal */
	if (be >= f->emax) {
		if (!e->om) { /* unmasked overflow: likewise */
			be -= f->adj;
			e->flags |= SF_OE;
			if (be >= f->emax && fmt == SF_F80) {
				/* massive overflow (FSCALE): a signed infinity */
				e->flags |= SF_PE;
				e->up = 1;
				return inf(fmt, sign);
			}
		} else {
			e->flags |= SF_OE | SF_PE;
			unsigned rc = e->rc & 3;
			if (rc == 0 || (rc == 1 && sign) || (rc == 2 && !sign)) {
				e->up = 1;
				return inf(fmt, sign);
			}
			e->up = 0;
			be = f->emax - 1;
			k = ((u128)1 << p) - 1;
		}
	}
	if (pe)
		e->flags |= SF_PE;
	return raw(fmt, sign, be, (uint64_t)(k << (64 - p)));
}

struct sfr sf_pack(struct sf_env *e, int fmt, sf_t x)
{
	switch (x.cls) {
	case SF_ZERO:
		return zero(fmt, x.sign);
	case SF_INF:
		return inf(fmt, x.sign);
	case SF_NAN:
		return raw(fmt, x.sign, fmts[fmt].emax, x.sig | 1ull << 63);
	default:
		return sf_round(e, fmt, x.sign, x.exp, (u128)x.sig << 64);
	}
}

static void den_flag(struct sf_env *e, sf_t a, sf_t b)
{
	if (a.den || b.den)
		e->flags |= SF_DE;
}

struct sfr sf_add(struct sf_env *e, int fmt, sf_t a, sf_t b)
{
	if (a.cls == SF_INF || b.cls == SF_INF) {
		if (a.cls == SF_INF && b.cls == SF_INF && a.sign != b.sign) {
			e->flags |= SF_IE;
			return sf_default_nan(fmt);
		}
		den_flag(e, a, b);
		return inf(fmt, a.cls == SF_INF ? a.sign : b.sign);
	}
	den_flag(e, a, b);
	if (a.cls == SF_ZERO && b.cls == SF_ZERO)
		return zero(fmt, a.sign == b.sign ? a.sign : (e->rc & 3) == 1);
	if (a.cls == SF_ZERO)
		return sf_pack(e, fmt, b);
	if (b.cls == SF_ZERO)
		return sf_pack(e, fmt, a);
	if (a.exp < b.exp || (a.exp == b.exp && a.sig < b.sig)) {
		sf_t t = a;
		a = b;
		b = t;
	}
	u128 x = (u128)a.sig << 62, y = (u128)b.sig << 62, r;
	int64_t d = (int64_t)a.exp - b.exp;
	if (d >= 126)
		y = 1;
	else if (d > 0)
		y = (y >> d) | ((y & (((u128)1 << d) - 1)) != 0);
	r = a.sign == b.sign ? x + y : x - y;
	if (!r)
		return zero(fmt, (e->rc & 3) == 1);
	unsigned lz = sf_clz128(r);
	return sf_round(e, fmt, a.sign, a.exp + 2 - (int32_t)lz, r << lz);
}

struct sfr sf_mul(struct sf_env *e, int fmt, sf_t a, sf_t b)
{
	unsigned sign = a.sign ^ b.sign;

	if ((a.cls == SF_INF && b.cls == SF_ZERO) || (a.cls == SF_ZERO && b.cls == SF_INF)) {
		e->flags |= SF_IE;
		return sf_default_nan(fmt);
	}
	den_flag(e, a, b);
	if (a.cls == SF_INF || b.cls == SF_INF)
		return inf(fmt, sign);
	if (a.cls == SF_ZERO || b.cls == SF_ZERO)
		return zero(fmt, sign);
	u128 r = (u128)a.sig * b.sig;
	unsigned lz = (unsigned)!(r >> 127);
	return sf_round(e, fmt, sign, a.exp + b.exp + 1 - (int32_t)lz, r << lz);
}

struct sfr sf_div(struct sf_env *e, int fmt, sf_t a, sf_t b)
{
	unsigned sign = a.sign ^ b.sign;

	if ((a.cls == SF_INF && b.cls == SF_INF) || (a.cls == SF_ZERO && b.cls == SF_ZERO)) {
		e->flags |= SF_IE;
		return sf_default_nan(fmt);
	}
	if (b.cls == SF_ZERO) {
		if (a.cls == SF_NORM)
			e->flags |= SF_ZE;
		return inf(fmt, sign);
	}
	den_flag(e, a, b);
	if (a.cls == SF_INF)
		return inf(fmt, sign);
	if (a.cls == SF_ZERO || b.cls == SF_INF)
		return zero(fmt, sign);
	u128 n = (u128)a.sig << 64;
	u128 q1 = n / b.sig, r1 = n % b.sig;
	u128 n2 = r1 << 62;
	u128 q2 = n2 / b.sig, r2 = n2 % b.sig;
	u128 q = (q1 << 62) | q2 | (r2 != 0);
	unsigned lz = sf_clz128(q);
	return sf_round(e, fmt, sign, a.exp - b.exp + 1 - (int32_t)lz, q << lz);
}

struct sfr sf_sqrt(struct sf_env *e, int fmt, sf_t a)
{
	if (a.cls == SF_ZERO)
		return zero(fmt, a.sign);
	if (a.sign) {
		e->flags |= SF_IE;
		return sf_default_nan(fmt);
	}
	if (a.cls == SF_INF)
		return inf(fmt, 0);
	den_flag(e, a, a);
	/* value = sig * 2^E, E = exp - 63; radicand R = sig << s with E - s even */
	int32_t E = a.exp - 63;
	unsigned s = (E & 1) ? 63 : 64;
	u128 R = (u128)a.sig << s, rem = 0, root = 0;
	enum { K = 3 }; /* extra root bits from 2K appended zero radicand bits */
	for (unsigned i = 0; i < 64 + K; i++) {
		unsigned two = i < 64 ? (unsigned)(R >> (126 - 2 * i)) & 3 : 0;
		rem = (rem << 2) | two;
		u128 t = (root << 2) | 1;
		root <<= 1;
		if (rem >= t) {
			rem -= t;
			root |= 1;
		}
	}
	u128 r = (root << 1) | (rem != 0);
	unsigned lz = sf_clz128(r);
	return sf_round(e, fmt, 0, 127 - K - 1 - (int32_t)lz + (E - (int32_t)s) / 2, r << lz);
}

struct sfr sf_from_int(struct sf_env *e, int fmt, int64_t v)
{
	unsigned sign = v < 0;
	uint64_t m = sign ? 0 - (uint64_t)v : (uint64_t)v;

	if (!m)
		return zero(fmt, 0);
	unsigned lz = (unsigned)__builtin_clzll(m);
	return sf_round(e, fmt, sign, 63 - (int32_t)lz, (u128)(m << lz) << 64);
}

/* Integer part of |x| and the discarded bits (half, sticky) for x finite nonzero. */
static uint64_t int_part(sf_t x, int *half, int *sticky, int *big)
{
	*big = x.exp >= 64;
	if (*big) {
		*half = *sticky = 0;
		return 0;
	}
	if (x.exp >= 0) {
		unsigned sh = 63 - (unsigned)x.exp;
		uint64_t fr = sh ? x.sig << (64 - sh) : 0;
		*half = (int)(fr >> 63);
		*sticky = (fr << 1) != 0;
		return sh ? x.sig >> sh : x.sig;
	}
	if (x.exp == -1) {
		*half = 1;
		*sticky = (x.sig << 1) != 0;
	} else {
		*half = 0;
		*sticky = 1;
	}
	return 0;
}

int64_t sf_to_int(struct sf_env *e, sf_t x, unsigned bits, unsigned rc, int *ok)
{
	int half, sticky, big;
	uint64_t k, lim = 1ull << (bits - 1);

	*ok = 1;
	if (x.cls == SF_ZERO)
		return 0;
	if (x.cls != SF_NORM) {
		*ok = 0;
		return 0;
	}
	k = int_part(x, &half, &sticky, &big);
	if (big) {
		*ok = 0;
		return 0;
	}
	if (round_inc(rc, x.sign, (unsigned)k & 1, half, sticky)) {
		if (++k == 0) {
			*ok = 0;
			return 0;
		}
	}
	if (k > lim || (k == lim && !x.sign)) {
		*ok = 0;
		return 0;
	}
	if (half || sticky)
		e->flags |= SF_PE;
	return x.sign ? (int64_t)(0 - k) : (int64_t)k;
}

sf_t sf_round_int(struct sf_env *e, sf_t x, unsigned rc)
{
	int half, sticky, big;
	uint64_t k;

	if (x.cls != SF_NORM || x.exp >= 63)
		return x;
	k = int_part(x, &half, &sticky, &big);
	if (half || sticky)
		e->flags |= SF_PE;
	if (round_inc(rc, x.sign, (unsigned)k & 1, half, sticky))
		k++;
	return sf_norm(x.sign, 63, k);
}

int sf_cmp(sf_t a, sf_t b)
{
	if (a.cls == SF_ZERO && b.cls == SF_ZERO)
		return 0;
	if (a.sign != b.sign)
		return a.sign ? -1 : 1;
	int mag; /* |a| vs |b| */
	if (a.cls == b.cls && a.cls == SF_INF)
		mag = 0;
	else if (a.cls == SF_INF || b.cls == SF_ZERO)
		mag = 1;
	else if (b.cls == SF_INF || a.cls == SF_ZERO)
		mag = -1;
	else if (a.exp != b.exp)
		mag = a.exp < b.exp ? -1 : 1;
	else
		mag = a.sig == b.sig ? 0 : a.sig < b.sig ? -1 : 1;
	return a.sign ? -mag : mag;
}
