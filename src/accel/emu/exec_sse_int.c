/* emu: packed integer SIMD (MMX, SSE2, SSSE3, SSE4.1): arithmetic with wrap-around or
 * saturation, compares, min/max, logic, averages, multiplies, packs/unpacks, horizontal adds,
 * sign/abs, shifts, PTEST, PHMINPOSUW, PMOVSX/ZX. One element loop serves the 8-byte MMX and the
 * 16-byte XMM forms; the table passes the element size. */
#include "accel/emu/sse_priv.h"

static inline uint64_t el(const xmm_t *v, unsigned i, unsigned esz)
{
	uint64_t x = 0;
	memcpy(&x, &v->b[i * esz], esz);
	return x;
}

static inline int64_t els(const xmm_t *v, unsigned i, unsigned esz)
{
	return (int64_t)sz_sext(el(v, i, esz), esz);
}

static inline void set_el(xmm_t *v, unsigned i, unsigned esz, uint64_t x)
{
	memcpy(&v->b[i * esz], &x, esz);
}

static inline uint64_t sat_s(int64_t x, unsigned esz)
{
	int64_t hi = (int64_t)(sz_mask(esz) >> 1), lo = -hi - 1;
	return (uint64_t)(x > hi ? hi : x < lo ? lo : x);
}

static inline uint64_t sat_u(int64_t x, unsigned esz)
{
	int64_t hi = (int64_t)sz_mask(esz);
	return (uint64_t)(x > hi ? hi : x < 0 ? 0 : x);
}

static uint64_t lane(unsigned op, unsigned esz, uint64_t a, uint64_t b)
{
	int64_t sa = (int64_t)sz_sext(a, esz), sb = (int64_t)sz_sext(b, esz);
	uint64_t ones = sz_mask(esz);

	switch (op) {
	case I_ADD:
		return a + b;
	case I_SUB:
		return a - b;
	case I_ADDS:
		return sat_s(sa + sb, esz);
	case I_SUBS:
		return sat_s(sa - sb, esz);
	case I_ADDUS:
		return sat_u((int64_t)(a + b), esz);
	case I_SUBUS:
		return sat_u((int64_t)a - (int64_t)b, esz);
	case I_CMPEQ:
		return a == b ? ones : 0;
	case I_CMPGT:
		return sa > sb ? ones : 0;
	case I_MINU:
		return a < b ? a : b;
	case I_MAXU:
		return a > b ? a : b;
	case I_MINS:
		return sa < sb ? a : b;
	case I_MAXS:
		return sa > sb ? a : b;
	case I_AVG:
		return (a + b + 1) >> 1;
	case I_MULL:
		return (uint64_t)(sa * sb);
	case I_MULH:
		return (uint64_t)((sa * sb) >> (8 * esz));
	case I_MULHU:
		return (a * b) >> (8 * esz);
	case I_SIGN:
		return sb < 0 ? 0 - a : sb == 0 ? 0 : a;
	case I_MULHRSW:
		return (uint64_t)((((sa * sb) >> 14) + 1) >> 1);
	default: /* I_ABS */
		return (uint64_t)(sb < 0 ? -sb : sb);
	}
}

static void int_pairwise(unsigned op, unsigned esz, unsigned w, const xmm_t *g, const xmm_t *e,
			 xmm_t *r)
{
	unsigned n = w / esz, h = n / 2;

	for (unsigned i = 0; i < n; i++) {
		const xmm_t *s = i < h ? g : e;
		unsigned k = (i % h) * 2;
		int64_t a = els(s, k, esz), b = els(s, k + 1, esz), x;
		x = op == I_HADD || op == I_HADDS ? a + b : a - b;
		set_el(r, i, esz, op == I_HADDS || op == I_HSUBS ? sat_s(x, esz) : (uint64_t)x);
	}
}

void sse_int2(struct emu_cpu *c, const struct emu_insn *in, unsigned arg)
{
	unsigned op = arg & 0xff, esz = (arg >> 8) & 0xf;
	unsigned w = (arg & X16) ? 16 : sse_width(in), n = w / esz;
	xmm_t g, e, r;

	sse_get_g(c, in, &g, w);
	sse_get_e(c, in, &e, w, w == 8, 1);
	memset(&r, 0, sizeof(r));
	switch (op) {
	case I_AND:
	case I_ANDN:
	case I_OR:
	case I_XOR:
		for (unsigned i = 0; i < 2; i++)
			r.q[i] = op == I_AND	? g.q[i] & e.q[i]
				 : op == I_ANDN ? ~g.q[i] & e.q[i]
				 : op == I_OR	? g.q[i] | e.q[i]
						: g.q[i] ^ e.q[i];
		break;
	case I_MULUDQ:
	case I_MULDQ:
		for (unsigned i = 0; i < w / 8; i++)
			r.q[i] = op == I_MULUDQ ? (uint64_t)g.d[2 * i] * e.d[2 * i]
						: (uint64_t)((int64_t)g.sd[2 * i] * e.sd[2 * i]);
		break;
	case I_MADDWD:
		for (unsigned i = 0; i < w / 4; i++)
			r.d[i] = (uint32_t)((int32_t)g.sw[2 * i] * e.sw[2 * i] +
					    (int64_t)g.sw[2 * i + 1] * e.sw[2 * i + 1]);
		break;
	case I_MADDUBSW:
		for (unsigned i = 0; i < w / 2; i++)
			r.w[i] = (uint16_t)sat_s((int64_t)g.b[2 * i] * e.sb[2 * i] +
						     (int64_t)g.b[2 * i + 1] * e.sb[2 * i + 1],
						 2);
		break;
	case I_SADBW:
		for (unsigned k = 0; k < w / 8; k++) {
			unsigned s = 0;
			for (unsigned i = 0; i < 8; i++) {
				int d = (int)g.b[8 * k + i] - (int)e.b[8 * k + i];
				s += (unsigned)(d < 0 ? -d : d);
			}
			r.q[k] = s;
		}
		break;
	case I_PACKSS:
	case I_PACKUS:
		for (unsigned i = 0; i < 2 * n; i++) {
			int64_t x = i < n ? els(&g, i, esz) : els(&e, i - n, esz);
			set_el(&r, i, esz / 2,
			       op == I_PACKSS ? sat_s(x, esz / 2) : sat_u(x, esz / 2));
		}
		break;
	case I_UNPCKL:
	case I_UNPCKH: {
		unsigned base = op == I_UNPCKH ? n / 2 : 0;
		for (unsigned i = 0; i < n / 2; i++) {
			set_el(&r, 2 * i, esz, el(&g, base + i, esz));
			set_el(&r, 2 * i + 1, esz, el(&e, base + i, esz));
		}
		break;
	}
	case I_HADD:
	case I_HADDS:
	case I_HSUB:
	case I_HSUBS:
		int_pairwise(op, esz, w, &g, &e, &r);
		break;
	default:
		for (unsigned i = 0; i < n; i++)
			set_el(&r, i, esz, lane(op, esz, el(&g, i, esz), el(&e, i, esz)));
	}
	sse_set_g(c, in, &r, w);
}

/* PSRL/PSRA/PSLL: kind 0 logical right, 1 arithmetic right, 2 left; esz 2, 4, 8 or 16 (the
 * byte shifts PSRLDQ/PSLLDQ, count in bytes). */
static void shift_vec(xmm_t *v, unsigned kind, unsigned esz, uint64_t cnt, unsigned w)
{
	if (esz == 16) {
		xmm_t r;
		memset(&r, 0, sizeof(r));
		if (cnt > 16)
			cnt = 16;
		for (unsigned i = 0; i < 16; i++) {
			if (kind == 0 && i + cnt < 16)
				r.b[i] = v->b[i + cnt];
			else if (kind == 2 && i >= cnt)
				r.b[i] = v->b[i - cnt];
		}
		*v = r;
		return;
	}
	unsigned bits = 8 * esz;
	for (unsigned i = 0; i < w / esz; i++) {
		uint64_t x = el(v, i, esz);
		if (kind == 1)
			x = (uint64_t)((int64_t)sz_sext(x, esz) >> (cnt >= bits ? bits - 1 : cnt));
		else if (cnt >= bits)
			x = 0;
		else
			x = kind == 0 ? x >> cnt : x << cnt;
		set_el(v, i, esz, x);
	}
}

/* The operation of 0F 71-73 /r ib (opc 0x71-0x73): kind | element size << 4, 0x100 | kind for
 * the byte shifts, or -1 for an undefined encoding (#UD, ahead of the #NM and #MF checks). */
int sse_shift_imm_kind(const struct emu_insn *in, unsigned opc)
{
	static const int16_t kinds[3][8] = {{-1, -1, 0x20, -1, 0x21, -1, 0x22, -1},
					    {-1, -1, 0x40, -1, 0x41, -1, 0x42, -1},
					    {-1, -1, 0x80, 0x100, -1, -1, 0x82, 0x102}};
	int k = kinds[opc - 0x71][in->reg & 7];

	if (k < 0 || !(in->flags & EMU_I_REG) || (k >= 0x100 && sse_width(in) != 16))
		return -1;
	return k;
}

void sse_shift(struct emu_cpu *c, const struct emu_insn *in, unsigned arg)
{
	unsigned w = sse_width(in);
	xmm_t v, e;

	if (arg & 0x100) { /* 0F 71-73 /r ib: register forms only */
		int k = sse_shift_imm_kind(in, arg & 0xff);
		if (k < 0)
			emu_raise(c, EMU_UD, 0, 0);
		unsigned esz = k >= 0x100 ? 16 : (unsigned)k >> 4;
		if (w == 8)
			v.q[0] = mmx_get(c, in->rm), v.q[1] = 0;
		else
			xmm_get(c, in->rm, &v);
		shift_vec(&v, (unsigned)k & 3, esz, in->imm & 0xff, w);
		if (w == 8)
			mmx_set(c, in->rm, v.q[0]);
		else
			xmm_set(c, in->rm, &v);
		return;
	}
	sse_get_g(c, in, &v, w);
	sse_get_e(c, in, &e, w, w == 8, 1);
	shift_vec(&v, arg & 3, arg >> 4, e.q[0], w);
	sse_set_g(c, in, &v, w);
}

void sse_int_misc(struct emu_cpu *c, const struct emu_insn *in, unsigned arg)
{
	xmm_t g, e, r;

	memset(&r, 0, sizeof(r));
	if (arg & 0x1000) { /* PMOVSX/PMOVZX */
		unsigned ssz = arg & 0xf, dsz = (arg >> 4) & 0xf, sgn = (arg >> 8) & 1,
			 n = 16 / dsz;
		if (in->flags & EMU_I_REG) {
			xmm_get(c, in->rm, &e);
		} else {
			memset(&e, 0, sizeof(e));
			e.q[0] = emu_ld(c, in->seg, emu_ea(c, in), n * ssz);
		}
		for (unsigned i = 0; i < n; i++)
			set_el(&r, i, dsz, sgn ? (uint64_t)els(&e, i, ssz) : el(&e, i, ssz));
		xmm_set(c, in->reg, &r);
		return;
	}
	xmm_get(c, in->reg, &g);
	sse_get_e(c, in, &e, 16, 0, 1);
	if (arg == IM_PTEST) {
		uint32_t f = 0;
		if (!((g.q[0] & e.q[0]) | (g.q[1] & e.q[1])))
			f |= F_ZF;
		if (!((~g.q[0] & e.q[0]) | (~g.q[1] & e.q[1])))
			f |= F_CF;
		flags_set_eager(c, F_ARITH, f);
		return;
	}
	/* PHMINPOSUW */
	unsigned idx = 0;
	for (unsigned i = 1; i < 8; i++)
		if (e.w[i] < e.w[idx])
			idx = i;
	r.w[0] = e.w[idx];
	r.w[1] = (uint16_t)idx;
	xmm_set(c, in->reg, &r);
}
