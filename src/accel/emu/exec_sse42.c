/* emu: SSE4.2 string compares (PCMPESTRI/PCMPESTRM/PCMPISTRI/PCMPISTRM), CRC32 (CRC-32C), and
 * the SSE4.1 leftovers DPPS/DPPD/MPSADBW. PCMPxSTRx follows the SDM's IntRes1/IntRes2 model:
 * xmm1 (G) holds the set, ranges or needle, xmm2/m128 (E, no alignment needed) the string. */
#include "accel/emu/sse_fp.h"

/* Element i of v for format fmt (imm[1:0]): unsigned/signed bytes/words. */
static int32_t str_el(const xmm_t *v, unsigned i, unsigned fmt)
{
	switch (fmt & 3) {
	case 0:
		return v->b[i];
	case 1:
		return v->w[i];
	case 2:
		return v->sb[i];
	default:
		return v->sw[i];
	}
}

static unsigned str_implicit_len(const xmm_t *v, unsigned n, unsigned fmt)
{
	for (unsigned i = 0; i < n; i++)
		if (!str_el(v, i, fmt))
			return i;
	return n;
}

static unsigned str_explicit_len(struct emu_cpu *c, unsigned r, unsigned n, int w64)
{
	int64_t l = w64 ? (int64_t)c->st.gpr[r] : (int64_t)(int32_t)c->st.gpr[r];
	if (l < 0)
		l = l == INT64_MIN ? INT64_MAX : -l;
	return l > (int64_t)n ? n : (unsigned)l;
}

static uint32_t str_intres1(const xmm_t *a, const xmm_t *b, unsigned la, unsigned lb, unsigned n,
			    unsigned imm)
{
	unsigned fmt = imm & 3, agg = (imm >> 2) & 3;
	uint32_t res = 0;

	for (unsigned j = 0; j < n; j++) {
		int bit = 0;
		switch (agg) {
		case 0: /* equal any */
			for (unsigned i = 0; i < la && j < lb && !bit; i++)
				bit = str_el(a, i, fmt) == str_el(b, j, fmt);
			break;
		case 1: /* ranges */
			for (unsigned i = 0; i + 1 < la && j < lb && !bit; i += 2) {
				int32_t x = str_el(b, j, fmt);
				bit = x >= str_el(a, i, fmt) && x <= str_el(a, i + 1, fmt);
			}
			break;
		case 2: /* equal each */
			if (j >= la && j >= lb)
				bit = 1;
			else if (j < la && j < lb)
				bit = str_el(a, j, fmt) == str_el(b, j, fmt);
			break;
		default: /* equal ordered */
			bit = 1;
			for (unsigned k = 0; k < n - j && bit; k++) {
				if (k >= la)
					break;
				if (j + k >= lb)
					bit = 0;
				else
					bit = str_el(a, k, fmt) == str_el(b, j + k, fmt);
			}
			break;
		}
		res |= (uint32_t)bit << j;
	}
	return res;
}

/* arg: opcode & 3 (0 ESTRM, 1 ESTRI, 2 ISTRM, 3 ISTRI) */
void sse_str(struct emu_cpu *c, const struct emu_insn *in, unsigned arg)
{
	unsigned imm = (unsigned)in->imm & 0xff, n = imm & 1 ? 8 : 16, la, lb;
	uint32_t all = (1u << n) - 1, r1, r2;
	xmm_t a, b;

	xmm_get(c, in->reg, &a);
	sse_get_e(c, in, &b, 16, 0, 0);
	if (arg < 2) {
		la = str_explicit_len(c, X86_RAX, n, in->osize == 8);
		lb = str_explicit_len(c, X86_RDX, n, in->osize == 8);
	} else {
		la = str_implicit_len(&a, n, imm);
		lb = str_implicit_len(&b, n, imm);
	}
	r1 = str_intres1(&a, &b, la, lb, n, imm);
	switch ((imm >> 4) & 3) {
	case 1:
		r2 = ~r1 & all;
		break;
	case 3:
		r2 = (r1 ^ ((1u << lb) - 1)) & all;
		break;
	default:
		r2 = r1;
	}
	if (arg & 1) {
		unsigned idx = n;
		if (r2)
			idx = imm & 0x40 ? 31 - (unsigned)__builtin_clz(r2)
					 : (unsigned)__builtin_ctz(r2);
		reg_set(c, X86_RCX, 4, idx);
	} else {
		xmm_t m;
		memset(&m, 0, sizeof(m));
		if (!(imm & 0x40)) {
			m.d[0] = r2;
		} else {
			for (unsigned i = 0; i < n; i++)
				if ((r2 >> i) & 1) {
					if (n == 16)
						m.b[i] = 0xff;
					else
						m.w[i] = 0xffff;
				}
		}
		xmm_set(c, 0, &m);
	}
	uint32_t f = 0;
	if (r2)
		f |= F_CF;
	if (lb < n)
		f |= F_ZF;
	if (la < n)
		f |= F_SF;
	if (r2 & 1)
		f |= F_OF;
	flags_set_eager(c, F_ARITH, f);
}

/* CRC32 r32/r64, r/m8 (arg 0) or r/m16/32/64 (arg 1): CRC-32C, bit-reflected. */
void sse_crc32(struct emu_cpu *c, const struct emu_insn *in, unsigned arg)
{
	unsigned n = arg ? in->osize : 1;
	uint64_t v =
	    in->flags & EMU_I_REG ? reg_get(c, in->rm, n) : emu_ld(c, in->seg, emu_ea(c, in), n);
	uint32_t crc = (uint32_t)c->st.gpr[in->reg];

	for (unsigned i = 0; i < n; i++) {
		crc ^= (uint8_t)(v >> (8 * i));
		for (unsigned k = 0; k < 8; k++)
			crc = crc & 1 ? (crc >> 1) ^ 0x82f63b78u : crc >> 1;
	}
	reg_set(c, in->reg, in->osize == 8 ? 8 : 4, crc);
}

void sse_misc41(struct emu_cpu *c, const struct emu_insn *in, unsigned arg)
{
	if (arg != M41_MPSADBW) {
		sse_fp_dp(c, in, arg == M41_DPPS);
		return;
	}
	unsigned imm = (unsigned)in->imm, od = imm & 4, os = (imm & 3) * 4;
	xmm_t g, e, r;

	xmm_get(c, in->reg, &g);
	sse_get_e(c, in, &e, 16, 0, 1);
	for (unsigned i = 0; i < 8; i++) {
		unsigned s = 0;
		for (unsigned k = 0; k < 4; k++) {
			int d = (int)g.b[od + i + k] - (int)e.b[os + k];
			s += (unsigned)(d < 0 ? -d : d);
		}
		r.w[i] = (uint16_t)s;
	}
	xmm_set(c, in->reg, &r);
}
