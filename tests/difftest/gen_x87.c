/* Difftest generator: x87 items (loads, stores, integer and BCD conversions, arithmetic in every
 * encoding, compares, FCOMI/FCMOV, stack manipulation, control and environment instructions)
 * and the initial x87 state: control words with every rounding and precision control, a random
 * TOP and tag word, registers holding zeros, infinities, NaNs, denormals, unsupported encodings,
 * integers and values exactly representable in single/double. The transcendental instructions
 * (F2XM1 FYL2X FYL2XP1 FPTAN FPATAN FSIN FCOS FSINCOS) are not generated: emu approximates them. */
#include <string.h>

#include "gen_simd.h"

static void rnd_f80(struct gen *g, uint8_t *p)
{
	uint64_t m = rnd(g) | 1ull << 63;
	uint16_t se = (uint16_t)(rn(g, 2) << 15), e;

	switch (rn(g, 14)) {
	case 0:
		m = 0, e = 0;
		break;
	case 1:
		m = 1ull << 63, e = 0x7fff;
		break;
	case 2:
		m = 3ull << 62 | (rn(g, 2) ? rnd(g) >> 2 : 0), e = 0x7fff;
		break;
	case 3:
		m = 1ull << 63 | (rnd(g) >> (2 + rn(g, 60))) | 1, e = 0x7fff;
		break;
	case 4:
		m = rnd(g) >> (1 + rn(g, 63)), e = 0;
		break;
	case 5: /* single */
		m &= ~0ull << 40, e = (uint16_t)(0x3fff - 130 + rn(g, 260));
		break;
	case 6: /* double */
		m &= ~0ull << 11, e = (uint16_t)(0x3fff - 1030 + rn(g, 2060));
		break;
	case 7: { /* integers */
		unsigned k = rn(g, 64);
		e = (uint16_t)(0x3fff + k);
		m &= ~0ull << (63 - k);
		break;
	}
	case 8:
		e = (uint16_t)(0x3fff - 4 + rn(g, 9));
		break;
	case 9:
		e = (uint16_t)(rn(g, 2) ? 1 + rn(g, 70) : 0x7ffe - rn(g, 70));
		break;
	case 10: /* unsupported: unnormal, pseudo-denormal, pseudo-NaN/infinity */
		switch (rn(g, 3)) {
		case 0:
			m &= ~(1ull << 63), e = (uint16_t)(1 + rn(g, 0x7ffe));
			break;
		case 1:
			e = 0;
			break;
		default:
			m &= ~(1ull << 63), e = 0x7fff;
		}
		break;
	case 11: /* halves, for rounding ties */
		e = (uint16_t)(0x3fff + rn(g, 64));
		m = (m & ~0ull << (62 - (e - 0x3fff))) | 1ull << (62 - (e - 0x3fff));
		break;
	default:
		e = (uint16_t)(0x3fff - 100 + rn(g, 200));
	}
	se |= e;
	memcpy(p, &m, 8);
	memcpy(p + 8, &se, 2);
	memset(p + 10, 0, 6);
}

static uint16_t rnd_fcw(struct gen *g)
{
	static const unsigned pcs[] = {0, 2, 3, 3, 1};
	uint16_t cw = 0x037f;

	if (rn(g, 3) == 0)
		return cw;
	cw = (uint16_t)(0x0040 | 0x3f | pcs[rn(g, 5)] << 8 | rn(g, 4) << 10);
	if (g->o->faults && rn(g, 8) == 0)
		cw &= (uint16_t) ~(1u << rn(g, 6));
	return cw;
}

void gen_x87_state(struct gen *g, uint8_t *fx)
{
	uint16_t cw = rnd_fcw(g), sw = (uint16_t)(rn(g, 8) << 11);
	uint8_t tw;

	if (rn(g, 2))
		sw |= (uint16_t)(rnd(g) & 0x4700);
	if (rn(g, 4) == 0)
		sw |= (uint16_t)(rnd(g) & 0x7f & (cw | 0x40));
	if (g->o->faults && rn(g, 16) == 0)
		sw |= (uint16_t)(rnd(g) & 0x3f);
	if (sw & ~cw & 0x3f)
		sw |= 0x8080;
	switch (rn(g, 4)) {
	case 0: { /* k values on the stack */
		unsigned k = rn(g, 9), top = (sw >> 11) & 7;
		tw = 0;
		for (unsigned i = 0; i < k; i++)
			tw |= (uint8_t)(1u << ((top + i) & 7));
		break;
	}
	case 1:
		tw = rn(g, 2) ? 0xff : 0;
		break;
	default:
		tw = (uint8_t)rnd(g);
	}
	memcpy(fx, &cw, 2);
	memcpy(fx + 2, &sw, 2);
	fx[4] = tw;
	for (int i = 0; i < 8; i++)
		rnd_f80(g, fx + 32 + 16 * i);
}

/* ---- items ---- */

static void x87_reg(struct gen *g, uint8_t op, unsigned reg, unsigned i)
{
	struct opnd rm = o_reg((int)i);
	enc_start(g);
	enc_insn(g, 0, 4, &op, 1, (int)reg, &rm, 0, 0);
}

static void x87_mem(struct gen *g, uint8_t op, unsigned reg, const struct opnd *m, int size)
{
	enc_start(g);
	enc_insn(g, 0, size, &op, 1, (int)reg, m, 0, 0);
}

static void x87_mem_rnd(struct gen *g, uint8_t op, unsigned reg, int n)
{
	struct opnd m = o_mem(g, n, 1, 0);
	x87_mem(g, op, reg, &m, 4);
}

static void mov_imm32(struct gen *g, const struct opnd *m, int32_t off, uint32_t v)
{
	uint8_t op = 0xc7;
	struct opnd f = *m;
	f.disp += off;
	enc_start(g);
	enc_insn(g, 0, 4, &op, 1, 0, &f, 4, v);
}

static void item_load(struct gen *g)
{
	switch (rn(g, 7)) {
	case 0:
		x87_mem_rnd(g, 0xd9, 0, 4); /* FLD m32 */
		break;
	case 1:
		x87_mem_rnd(g, 0xdd, 0, 8); /* FLD m64 */
		break;
	case 2:
		x87_mem_rnd(g, 0xdb, 5, 10); /* FLD m80 */
		break;
	case 3:
		x87_reg(g, 0xd9, 0, rn(g, 8)); /* FLD ST(i) */
		break;
	case 4: { /* FILD m16/m32/m64 */
		static const uint8_t ops[3] = {0xdf, 0xdb, 0xdf};
		static const uint8_t regs[3] = {0, 0, 5};
		static const int sz[3] = {2, 4, 8};
		unsigned k = rn(g, 3);
		x87_mem_rnd(g, ops[k], regs[k], sz[k]);
		break;
	}
	case 5: { /* FBLD of a valid BCD value */
		struct opnd m = o_mem_big(g, 16);
		uint64_t lo = 0;
		uint32_t hi = (uint32_t)(rn(g, 2) << 15);
		for (int k = 0; k < 16; k++)
			lo |= (uint64_t)rn(g, 10) << (4 * k);
		if (rn(g, 2))
			lo &= 0xffffffffull >> (4 * rn(g, 8));
		else
			hi |= rn(g, 10) | rn(g, 10) << 4;
		mov_imm32(g, &m, 0, (uint32_t)lo);
		mov_imm32(g, &m, 4, (uint32_t)(lo >> 32));
		mov_imm32(g, &m, 8, hi);
		x87_mem(g, 0xdf, 4, &m, 4);
		break;
	}
	default:
		x87_reg(g, 0xd9, 5, rn(g, 7)); /* FLD1 .. FLDZ */
	}
}

static void item_store(struct gen *g)
{
	switch (rn(g, 6)) {
	case 0: { /* FST/FSTP m32/m64 */
		unsigned d = rn(g, 2);
		x87_mem_rnd(g, d ? 0xdd : 0xd9, 2 + rn(g, 2), d ? 8 : 4);
		break;
	}
	case 1:
		x87_mem_rnd(g, 0xdb, 7, 10); /* FSTP m80 */
		break;
	case 2: { /* FST/FSTP ST(i) and the FSTP aliases D9 D8, DF D0/D8 */
		static const uint8_t ops[5] = {0xdd, 0xdd, 0xd9, 0xdf, 0xdf};
		static const uint8_t regs[5] = {2, 3, 3, 2, 3};
		unsigned k = rn(g, 5);
		x87_reg(g, ops[k], regs[k], rn(g, 8));
		break;
	}
	case 3: { /* FIST/FISTP/FISTTP m16/m32/m64 */
		static const uint8_t ops[3] = {0xdf, 0xdb, 0xdd};
		static const int sz[3] = {2, 4, 8};
		unsigned k = rn(g, 3), r = 1 + rn(g, 3);
		if (k == 2)
			r = rn(g, 2) ? 1 : 7; /* DD /1 FISTTP m64, DF /7 FISTP m64 */
		x87_mem_rnd(g, k == 2 && r == 7 ? 0xdf : ops[k], r, sz[k]);
		break;
	}
	case 4:
		x87_mem_rnd(g, 0xdf, 6, 10); /* FBSTP */
		break;
	default: /* FRNDINT first: a value FIST can store exactly */
		x87_reg(g, 0xd9, 7, 4);
		x87_mem_rnd(g, 0xdb, 2 + rn(g, 2), 4);
	}
}

static void item_arith(struct gen *g)
{
	unsigned r = rn(g, 8);

	if (r == 2 || r == 3)
		r = rn(g, 2) ? 0 : 4 + rn(g, 4);
	switch (rn(g, 6)) {
	case 0:
		x87_mem_rnd(g, 0xd8, r, 4);
		break;
	case 1:
		x87_mem_rnd(g, 0xdc, r, 8);
		break;
	case 2:
		x87_mem_rnd(g, rn(g, 2) ? 0xda : 0xde, r, rn(g, 2) ? 4 : 2);
		break;
	case 3:
		x87_reg(g, 0xd8, r, rn(g, 8));
		break;
	case 4:
		x87_reg(g, 0xdc, r, rn(g, 8));
		break;
	default:
		x87_reg(g, 0xde, r, rn(g, 8));
	}
}

static void item_compare(struct gen *g)
{
	switch (rn(g, 9)) {
	case 0: /* FCOM/FCOMP m32/m64, FICOM(P) m16/m32 */
		x87_mem_rnd(g, (uint8_t)(0xd8 + 2 * rn(g, 4)), 2 + rn(g, 2), 8);
		break;
	case 1: /* FCOM/FCOMP ST(i) and the DC/DE aliases */
		x87_reg(g, rn(g, 3) ? 0xd8 : 0xdc, 2 + rn(g, 2), rn(g, 8));
		break;
	case 2: /* FCOMPP, FUCOMPP */
		if (rn(g, 2))
			x87_reg(g, 0xde, 3, 1); /* FCOMPP */
		else
			x87_reg(g, 0xda, 5, 1); /* FUCOMPP */
		break;
	case 3: /* FUCOM/FUCOMP */
		x87_reg(g, 0xdd, 4 + rn(g, 2), rn(g, 8));
		break;
	case 4: /* FCOMI/FUCOMI/FCOMIP/FUCOMIP */
		x87_reg(g, rn(g, 2) ? 0xdb : 0xdf, 5 + rn(g, 2), rn(g, 8));
		g->undef = 0;
		break;
	case 5: /* FCMOVcc */
		need_flags(g, FL_ALL);
		x87_reg(g, rn(g, 2) ? 0xda : 0xdb, rn(g, 4), rn(g, 8));
		break;
	case 6:
		x87_reg(g, 0xd9, 4, 4 + rn(g, 2)); /* FTST, FXAM */
		break;
	default: { /* FNSTSW AX after a compare */
		static const uint8_t fnstsw[2] = {0xdf, 0xe0};
		x87_reg(g, 0xd8, 2, rn(g, 8));
		if (g->avoid & 1)
			break;
		enc_start(g);
		for (int k = 0; k < 2; k++)
			enc_byte(g, fnstsw[k]);
	}
	}
}

static void item_misc(struct gen *g)
{
	static const uint8_t d9[] = {0xc8, 0xe0, 0xe1, 0xfa, 0xfc, 0xfd, 0xf4,
				     0xf5, 0xf8, 0xf6, 0xf7, 0xd0, 0xfa, 0xfc};
	switch (rn(g, 4)) {
	case 0:
		x87_reg(g, 0xd9, 1, rn(g, 8)); /* FXCH */
		break;
	case 1: /* FFREE, FFREEP, FXCH aliases */
		x87_reg(g, rn(g, 2) ? 0xdd : 0xdf, rn(g, 2), rn(g, 8));
		break;
	default: {
		uint8_t b = d9[rn(g, sizeof(d9))];
		x87_reg(g, 0xd9, (b >> 3) & 7, b & 7);
	}
	}
}

static void item_control(struct gen *g)
{
	struct opnd m = o_mem_big(g, 112);

	switch (rn(g, 7)) {
	case 0: /* FNSTCW / FNSTSW m16 */
		x87_mem(g, rn(g, 2) ? 0xd9 : 0xdd, 7, &m, 4);
		break;
	case 1: { /* FLDCW */
		uint16_t cw = rnd_fcw(g);
		if (rn(g, 8) == 0)
			cw ^= (uint16_t)(rnd(g) & 0xf0c0);
		mov_imm32(g, &m, 0, cw);
		x87_mem(g, 0xd9, 5, &m, 4);
		break;
	}
	case 2: /* FNINIT, FNCLEX */
		x87_reg(g, 0xdb, 4, 2 + rn(g, 2));
		break;
	case 3:
	case 4: { /* FNSTENV/FNSAVE (32- or 16-bit format), maybe changed, then FLDENV/FRSTOR */
		int sz = rn(g, 4) ? 4 : 2, save = rn(g, 2);
		x87_mem(g, save ? 0xdd : 0xd9, 6, &m, sz);
		if (rn(g, 2))
			mov_imm32(g, &m, (int32_t)(4 * rn(g, 3)), (uint32_t)rnd(g) | 0x3f);
		if (rn(g, 3))
			x87_mem(g, save ? 0xdd : 0xd9, 4, &m, rn(g, 6) ? sz : 6 - sz);
		break;
	}
	default: /* FNSTENV and compare the memory image, then keep going with masks set */
		x87_mem(g, 0xd9, 6, &m, 4);
	}
}

void gen_x87_item(struct gen *g)
{
	switch (rn(g, 16)) {
	case 0:
	case 1:
	case 2:
		item_load(g);
		break;
	case 3:
	case 4:
	case 5:
		item_store(g);
		break;
	case 6:
	case 7:
	case 8:
	case 9:
		item_arith(g);
		break;
	case 10:
	case 11:
		item_compare(g);
		break;
	case 12:
	case 13:
		item_misc(g);
		break;
	default:
		item_control(g);
	}
}
