/* Difftest generator: MMX/SSE/SSE2/SSE3/SSSE3/SSE4.1/SSE4.2 items with register and memory
 * operands, FXSAVE/FXRSTOR/LDMXCSR/STMXCSR, the initial FPU state (XMM registers with IEEE
 * special values, MXCSR with rounding modes, DAZ/FTZ and occasionally unmasked exceptions) and
 * the FXSAVE image comparison. RCPPS/RSQRTPS are not generated: their results are
 * vendor-specific approximations. */
#include <stdio.h>
#include <string.h>

#include "gen_simd.h"

enum { PN, P66, PF3, PF2 };
static const unsigned pfx_bits[4] = {0, P_OPSZ, P_REP, P_REPNE};

/* Operand forms: G (ModRM.reg) first, then E (ModRM.rm). X xmm, M mm, R gpr; the number is the
 * memory operand size (16 means m128 aligned unless U). */
enum form {
	X_X16,	 /* xmm, xmm/m128 (aligned) */
	X_X16U,	 /* xmm, xmm/m128 unaligned */
	X_X8,	 /* xmm, xmm/m64 */
	X_X4,	 /* xmm, xmm/m32 */
	X_X2,	 /* xmm, xmm/m16 */
	X_M16U,	 /* xmm, m128 only (LDDQU) */
	X_M16A,	 /* xmm, m128 aligned only (MOVNTDQA) */
	X_M8,	 /* xmm, m64 only (MOVLPD/MOVHPD loads) */
	M_M8,	 /* mm, mm/m64 */
	X_MM8,	 /* xmm, mm/m64 (CVTPI2PS/PD) */
	M_X16,	 /* mm, xmm/m128 (CVTPD2PI) */
	M_X8,	 /* mm, xmm/m64 (CVTPS2PI) */
	R_X4,	 /* r32/64, xmm/m32 (CVTSS2SI) */
	R_X8,	 /* r32/64, xmm/m64 */
	X_RM,	 /* xmm, r/m32/64 (CVTSI2SS, MOVD/MOVQ) */
	M_RM,	 /* mm, r/m32/64 */
	RM_X,	 /* r/m32/64, xmm (MOVD store) */
	RM_M,	 /* r/m32/64, mm */
	R_XR,	 /* r32, xmm register (MOVMSKPS, PMOVMSKB, PEXTRW) */
	R_MR,	 /* r32, mm register */
	ST_X16,	 /* xmm/m128 aligned, xmm */
	ST_X16U, /* xmm/m128, xmm */
	ST_X8,	 /* xmm/m64, xmm */
	ST_M8X,	 /* m64 only, xmm (MOVLPS store) */
	ST_X4,	 /* xmm/m32, xmm */
	ST_NT16, /* m128 aligned only, xmm */
	ST_MM8,	 /* mm/m64, mm */
	ST_NTQ,	 /* m64 only, mm */
	X_MR,	 /* xmm, mm register (MOVQ2DQ) */
	M_XR,	 /* mm, xmm register (MOVDQ2Q) */
	SHI_X,	 /* 0F 71-73 /n ib on an xmm register */
	SHI_M,	 /* ... on an mm register */
	PINS_X,	 /* xmm, r32/m(n), imm */
	PINS_M,	 /* mm, r32/m16, imm */
	PEXT_X,	 /* r/m(n), xmm, imm */
	MASKMOV_X,
	MASKMOV_M,
	NTI,
	EMMS,
};

struct ent {
	uint8_t pfx, esc, op, form;
	uint8_t imm;  /* 0: none; else the mask applied to a random imm8 */
	uint8_t n;    /* PINS/PEXT element size; SHI: ModRM.reg */
	uint8_t w;    /* 0 no REX.W, 1 random, 2 always */
	uint8_t xmm0; /* implicit XMM0 (BLENDV): value it */
};

#define E0(p, o, f)                                                                                \
	{                                                                                          \
		p, 0, o, f, 0, 0, 0, 0                                                             \
	}
#define EI(p, o, f, m)                                                                             \
	{                                                                                          \
		p, 0, o, f, m, 0, 0, 0                                                             \
	}
#define E38(p, o, f)                                                                               \
	{                                                                                          \
		p, 0x38, o, f, 0, 0, 0, 0                                                          \
	}
#define E3A(p, o, f, m)                                                                            \
	{                                                                                          \
		p, 0x3a, o, f, m, 0, 0, 0                                                          \
	}

static const struct ent t_mov[] = {
    E0(PN, 0x10, X_X16U),
    E0(P66, 0x10, X_X16U),
    E0(PF3, 0x10, X_X4),
    E0(PF2, 0x10, X_X8),
    E0(PN, 0x11, ST_X16U),
    E0(P66, 0x11, ST_X16U),
    E0(PF3, 0x11, ST_X4),
    E0(PF2, 0x11, ST_X8),
    E0(PN, 0x12, X_X8),
    E0(P66, 0x12, X_M8),
    E0(PF3, 0x12, X_X16),
    E0(PF2, 0x12, X_X8),
    E0(PN, 0x13, ST_M8X),
    E0(P66, 0x13, ST_M8X),
    E0(PN, 0x14, X_X16),
    E0(P66, 0x14, X_X16),
    E0(PN, 0x15, X_X16),
    E0(P66, 0x15, X_X16),
    E0(PN, 0x16, X_X8),
    E0(P66, 0x16, X_M8),
    E0(PF3, 0x16, X_X16),
    E0(PN, 0x17, ST_M8X),
    E0(P66, 0x17, ST_M8X),
    E0(PN, 0x28, X_X16),
    E0(P66, 0x28, X_X16),
    E0(PN, 0x29, ST_X16),
    E0(P66, 0x29, ST_X16),
    E0(PN, 0x2b, ST_NT16),
    E0(P66, 0x2b, ST_NT16),
    E0(PN, 0x50, R_XR),
    E0(P66, 0x50, R_XR),
    E0(PN, 0x54, X_X16),
    E0(P66, 0x54, X_X16),
    E0(PN, 0x55, X_X16),
    E0(P66, 0x55, X_X16),
    E0(PN, 0x56, X_X16),
    E0(P66, 0x56, X_X16),
    E0(PN, 0x57, X_X16),
    E0(P66, 0x57, X_X16),
    {P66, 0, 0x6e, X_RM, 0, 0, 1, 0},
    E0(P66, 0x6f, X_X16),
    E0(PF3, 0x6f, X_X16U),
    EI(P66, 0x70, X_X16, 0xff),
    EI(PF3, 0x70, X_X16, 0xff),
    EI(PF2, 0x70, X_X16, 0xff),
    {P66, 0, 0x7e, RM_X, 0, 0, 1, 0},
    E0(PF3, 0x7e, X_X8),
    E0(P66, 0x7f, ST_X16),
    E0(PF3, 0x7f, ST_X16U),
    {P66, 0, 0xc4, PINS_X, 0xff, 2, 0, 0},
    EI(P66, 0xc5, R_XR, 0xff),
    EI(PN, 0xc6, X_X16, 0xff),
    EI(P66, 0xc6, X_X16, 0xff),
    E0(P66, 0xd6, ST_X8),
    E0(P66, 0xd7, R_XR),
    E0(P66, 0xdb, X_X16),
    E0(P66, 0xdf, X_X16),
    E0(P66, 0xe7, ST_NT16),
    E0(P66, 0xeb, X_X16),
    E0(P66, 0xef, X_X16),
    {PN, 0, 0xc3, NTI, 0, 0, 1, 0},
    E0(PF2, 0xf0, X_M16U),
    E0(P66, 0xf7, MASKMOV_X),
};

static const uint8_t int_ops[] = {0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a,
				  0x6b, 0x74, 0x75, 0x76, 0xd1, 0xd2, 0xd3, 0xd4, 0xd5, 0xd8, 0xd9,
				  0xda, 0xdc, 0xdd, 0xde, 0xe0, 0xe1, 0xe2, 0xe3, 0xe4, 0xe5, 0xe8,
				  0xe9, 0xea, 0xec, 0xed, 0xee, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6,
				  0xf8, 0xf9, 0xfa, 0xfb, 0xfc, 0xfd, 0xfe, 0xdb, 0xdf, 0xeb, 0xef};

/* 0F 71-73 /n: valid n per opcode for MMX (mask over ModRM.reg) and for 66 (adds 73 /3, /7). */
static const uint8_t shi_valid[3] = {0x54, 0x54, 0x44};

static const struct ent t_mmx[] = {
    {PN, 0, 0x6e, M_RM, 0, 0, 1, 0},
    {PN, 0, 0x7e, RM_M, 0, 0, 1, 0},
    E0(PN, 0x6f, M_M8),
    E0(PN, 0x7f, ST_MM8),
    E0(PN, 0xe7, ST_NTQ),
    E0(PN, 0x77, EMMS),
    EI(PN, 0x70, M_M8, 0xff),
    {PN, 0, 0xc4, PINS_M, 0xff, 2, 0, 0},
    EI(PN, 0xc5, R_MR, 0xff),
    E0(PN, 0xd7, R_MR),
    E0(PN, 0xf7, MASKMOV_M),
    E0(PF3, 0xd6, X_MR),
    E0(PF2, 0xd6, M_XR),
};

static const uint8_t fp_ops[] = {0x51, 0x58, 0x59, 0x5c, 0x5d, 0x5e, 0x5f, 0xc2};

static const struct ent t_fp3[] = {
    E0(PN, 0x2e, X_X4),	  E0(P66, 0x2e, X_X8),	E0(PN, 0x2f, X_X4),   E0(P66, 0x2f, X_X8),
    E0(P66, 0xd0, X_X16), E0(PF2, 0xd0, X_X16), E0(P66, 0x7c, X_X16), E0(PF2, 0x7c, X_X16),
    E0(P66, 0x7d, X_X16), E0(PF2, 0x7d, X_X16),
};

static const struct ent t_cvt[] = {
    E0(PN, 0x2a, X_MM8),
    E0(P66, 0x2a, X_MM8),
    {PF3, 0, 0x2a, X_RM, 0, 0, 1, 0},
    {PF2, 0, 0x2a, X_RM, 0, 0, 1, 0},
    E0(PN, 0x2c, M_X8),
    E0(P66, 0x2c, M_X16),
    {PF3, 0, 0x2c, R_X4, 0, 0, 1, 0},
    {PF2, 0, 0x2c, R_X8, 0, 0, 1, 0},
    E0(PN, 0x2d, M_X8),
    E0(P66, 0x2d, M_X16),
    {PF3, 0, 0x2d, R_X4, 0, 0, 1, 0},
    {PF2, 0, 0x2d, R_X8, 0, 0, 1, 0},
    E0(PN, 0x5a, X_X8),
    E0(P66, 0x5a, X_X16),
    E0(PF3, 0x5a, X_X4),
    E0(PF2, 0x5a, X_X8),
    E0(PN, 0x5b, X_X16),
    E0(P66, 0x5b, X_X16),
    E0(PF3, 0x5b, X_X16),
    E0(P66, 0xe6, X_X16),
    E0(PF3, 0xe6, X_X8),
    E0(PF2, 0xe6, X_X16),
};

static const uint8_t ssse3_ops[] = {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
				    0x08, 0x09, 0x0a, 0x0b, 0x1c, 0x1d, 0x1e};

static const struct ent t_sse41[] = {
    {P66, 0x38, 0x10, X_X16, 0, 0, 0, 1},
    {P66, 0x38, 0x14, X_X16, 0, 0, 0, 1},
    {P66, 0x38, 0x15, X_X16, 0, 0, 0, 1},
    E38(P66, 0x17, X_X16),
    E38(P66, 0x20, X_X8),
    E38(P66, 0x21, X_X4),
    E38(P66, 0x22, X_X2),
    E38(P66, 0x23, X_X8),
    E38(P66, 0x24, X_X4),
    E38(P66, 0x25, X_X8),
    E38(P66, 0x28, X_X16),
    E38(P66, 0x29, X_X16),
    E38(P66, 0x2a, X_M16A),
    E38(P66, 0x2b, X_X16),
    E38(P66, 0x30, X_X8),
    E38(P66, 0x31, X_X4),
    E38(P66, 0x32, X_X2),
    E38(P66, 0x33, X_X8),
    E38(P66, 0x34, X_X4),
    E38(P66, 0x35, X_X8),
    E38(P66, 0x38, X_X16),
    E38(P66, 0x39, X_X16),
    E38(P66, 0x3a, X_X16),
    E38(P66, 0x3b, X_X16),
    E38(P66, 0x3c, X_X16),
    E38(P66, 0x3d, X_X16),
    E38(P66, 0x3e, X_X16),
    E38(P66, 0x3f, X_X16),
    E38(P66, 0x40, X_X16),
    E38(P66, 0x41, X_X16),
    E3A(P66, 0x08, X_X16, 0x0f),
    E3A(P66, 0x09, X_X16, 0x0f),
    E3A(P66, 0x0a, X_X4, 0x0f),
    E3A(P66, 0x0b, X_X8, 0x0f),
    E3A(P66, 0x0c, X_X16, 0xff),
    E3A(P66, 0x0d, X_X16, 0xff),
    E3A(P66, 0x0e, X_X16, 0xff),
    {P66, 0x3a, 0x14, PEXT_X, 0xff, 1, 1, 0},
    {P66, 0x3a, 0x15, PEXT_X, 0xff, 2, 1, 0},
    {P66, 0x3a, 0x16, PEXT_X, 0xff, 4, 1, 0},
    {P66, 0x3a, 0x17, PEXT_X, 0xff, 4, 1, 0},
    {P66, 0x3a, 0x20, PINS_X, 0xff, 1, 1, 0},
    E3A(P66, 0x21, X_X4, 0xff),
    {P66, 0x3a, 0x22, PINS_X, 0xff, 4, 1, 0},
    E3A(P66, 0x40, X_X16, 0xff),
    E3A(P66, 0x41, X_X16, 0xff),
    E3A(P66, 0x42, X_X16, 0xff),
};

/* ---- values ---- */

static const uint32_t f32_special[] = {
    0x00000000, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0xffc00000, 0x7f800001,
    0xffa00005, 0x00000001, 0x807fffff, 0x00400000, 0x00800000, 0x80800000, 0x7f7fffff,
    0xff7fffff, 0x3f800000, 0xbf800000, 0x3f000000, 0x4f000000, 0xcf000000, 0x4effffff,
    0x5f000000, 0xdf000000, 0x3fc00000, 0x40200000, 0xbfc00000, 0x00ffffff, 0x7f000000,
    0x34000000, 0x3f7fffff, 0x4b000000, 0xcb7fffff, 0x3effffff, 0x1f800000, 0x20000000};

static const uint64_t f64_special[] = {
    0x0000000000000000, 0x8000000000000000, 0x7ff0000000000000, 0xfff0000000000000,
    0x7ff8000000000000, 0xfff8000000000000, 0x7ff0000000000001, 0xfff4000000000abc,
    0x0000000000000001, 0x800fffffffffffff, 0x0008000000000000, 0x0010000000000000,
    0x8010000000000000, 0x7fefffffffffffff, 0xffefffffffffffff, 0x3ff0000000000000,
    0xbff0000000000000, 0x3fe0000000000000, 0x41e0000000000000, 0xc1e0000000000000,
    0x41dfffffffffffff, 0x43e0000000000000, 0xc3e0000000000000, 0x3ff8000000000000,
    0x4004000000000000, 0xbff8000000000000, 0x41dfffffffc00000, 0xc1e0000000100000,
    0x47efffffe0000000, 0x47efffffefffffff, 0x380fffffffffffff, 0x36a0000000000000,
    0x3ca0000000000000, 0x4330000000000000, 0x3fefffffffffffff, 0x1ff0000000000000};

uint32_t rnd_f32(struct gen *g)
{
	uint32_t s = (uint32_t)rn(g, 2) << 31, m = (uint32_t)rnd(g) & 0x7fffff;

	switch (rn(g, 8)) {
	case 0:
	case 1:
		return f32_special[rn(g, sizeof(f32_special) / 4)];
	case 2: /* near 1 */
		return s | (uint32_t)(127 - 4 + rn(g, 9)) << 23 | m;
	case 3: /* small integers and halves */
		return s | (uint32_t)(127 + rn(g, 24)) << 23 | (m & ~0u << (23 - rn(g, 4)));
	case 4: /* tiny: products underflow */
		return s | (uint32_t)rn(g, 40) << 23 | m;
	case 5: /* huge: products overflow */
		return s | (uint32_t)(230 + rn(g, 25)) << 23 | m;
	case 6: /* short significands: exact results, ties */
		return s | (uint32_t)(100 + rn(g, 60)) << 23 | (m & 0x7ff000);
	default:
		return (uint32_t)rnd(g);
	}
}

uint64_t rnd_f64(struct gen *g)
{
	uint64_t s = (uint64_t)rn(g, 2) << 63, m = rnd(g) & 0xfffffffffffffull;

	switch (rn(g, 8)) {
	case 0:
	case 1:
		return f64_special[rn(g, sizeof(f64_special) / 8)];
	case 2:
		return s | (uint64_t)(1023 - 4 + rn(g, 9)) << 52 | m;
	case 3:
		return s | (uint64_t)(1023 + rn(g, 64)) << 52 | (m & ~0ull << (52 - rn(g, 6)));
	case 4:
		return s | (uint64_t)rn(g, 60) << 52 | m;
	case 5:
		return s | (uint64_t)(1900 + rn(g, 147)) << 52 | m;
	case 6: /* f32-representable, values around the float range for narrowing */
		return s | (uint64_t)(1023 - 160 + rn(g, 320)) << 52 | (m & ~0ull << 29);
	default:
		return rnd(g);
	}
}

/* 16 bytes of a register or memory chunk: float lanes, double lanes, a short string, integers. */
static void rnd_vec(struct gen *g, uint8_t *p)
{
	static const char alpha[] = "aab\0cdA\0";
	uint64_t q[2];
	uint32_t d[4];

	switch (rn(g, 6)) {
	case 0:
	case 1:
		for (int i = 0; i < 4; i++)
			d[i] = rnd_f32(g);
		if (rn(g, 4) == 0)
			d[rn(g, 4)] = d[rn(g, 4)];
		memcpy(p, d, 16);
		break;
	case 2:
	case 3:
		q[0] = rnd_f64(g);
		q[1] = rn(g, 4) ? rnd_f64(g) : q[0];
		memcpy(p, q, 16);
		break;
	case 4: /* string: few distinct characters, zero terminators */
		for (int i = 0; i < 16; i++)
			p[i] = (uint8_t)alpha[rn(g, rn(g, 3) ? 8 : 3)];
		break;
	default:
		q[0] = rnd(g);
		q[1] = rnd(g);
		if (rn(g, 3) == 0)
			q[1] &= 0x00ff00ff00ff00ffull * (rnd(g) & 0xff);
		memcpy(p, q, 16);
	}
}

static uint64_t simd_groups(void)
{
	uint64_t m = 0;
	for (int i = G_SSEMOV; i <= G_X87; i++)
		m |= 1ull << i;
	return m;
}

void gen_fp_state(struct gen *g, struct dt_regs *r, uint8_t *mem)
{
	uint8_t *fx = r->fx;
	uint32_t mx = 0x1f80;

	memset(fx, 0, 512);
	gen_x87_state(g, fx);
	switch (rn(g, 10)) {
	case 0:
	case 1:
		mx |= (uint32_t)rn(g, 4) << 13;
		break;
	case 2:
		mx |= (uint32_t)rn(g, 4) << 13 | (rn(g, 2) ? 0x8000 : 0) | (rn(g, 2) ? 0x40 : 0);
		break;
	case 3:
		mx |= (uint32_t)rnd(g) & 0x3f;
		break;
	case 4:
		if (g->o->faults)
			mx &= ~(0x80u << rn(g, 6));
		break;
	default:
		break;
	}
	memcpy(fx + 24, &mx, 4);
	for (int i = 0; i < 16; i++)
		rnd_vec(g, fx + 160 + 16 * i);
	if (g->o->only && !(g->o->only & simd_groups()))
		return;
	for (unsigned off = 0; off < DT_DATA_SIZE; off += 16)
		if (rn(g, 2))
			rnd_vec(g, mem + off);
}

/* ---- operands ---- */

struct opnd o_mem_big(struct gen *g, unsigned n)
{
	struct opnd o;
	uint64_t off = (16 + rn(g, (unsigned)(DT_DATA_SIZE - n - 32))) & ~15ull;

	memset(&o, 0, sizeof(o));
	o.mem = 1;
	o.kind = M_BASE;
	o.base = DT_BASE1;
	o.disp = (int32_t)(DT_DATA + off - DT_BASE1_VAL);
	return o;
}

static struct opnd xmem(struct gen *g, int n, int aligned)
{
	if (aligned && g->o->faults && rn(g, 48) == 0)
		aligned = 0; /* #GP(0) when it happens to be misaligned */
	return o_mem(g, n, aligned ? 16 : 1, 0);
}

static int xreg(struct gen *g)
{
	return (int)rn(g, 16);
}

static int mreg(struct gen *g)
{
	return (int)rn(g, rn(g, 8) ? 8 : 16); /* REX.R/B are ignored for MMX registers */
}

/* E: register (xmm or mm or gpr) with probability 1/2, else memory. */
static struct opnd e_x(struct gen *g, int n, int aligned)
{
	return rn(g, 2) ? o_reg(xreg(g)) : xmem(g, n, aligned);
}

static struct opnd e_m(struct gen *g)
{
	return rn(g, 2) ? o_reg(mreg(g)) : xmem(g, 8, 0);
}

static struct opnd e_r(struct gen *g, int n, int dst)
{
	return rn(g, 2) ? o_reg(dst ? pick_reg(g) : pick_src(g)) : xmem(g, n, 0);
}

/* A memory form occasionally used as a register (#UD) when faults are allowed. */
static struct opnd mem_only(struct gen *g, int n, int aligned)
{
	if (g->o->faults && rn(g, 40) == 0)
		return o_reg(xreg(g));
	return xmem(g, n, aligned);
}

static void emit_ent(struct gen *g, const struct ent *e)
{
	uint8_t opc[3];
	int nopc = 0, w = e->w == 2 || (e->w == 1 && rn(g, 2)), size = w ? 8 : 4, regf = 0;
	int n = w ? 8 : 4;
	struct opnd rm;
	uint64_t imm = e->imm ? rnd(g) & e->imm : 0;

	opc[nopc++] = 0x0f;
	if (e->esc)
		opc[nopc++] = e->esc;
	opc[nopc++] = e->op;
	switch (e->form) {
	case X_X16:
		regf = xreg(g), rm = e_x(g, 16, 1);
		break;
	case X_X16U:
		regf = xreg(g), rm = e_x(g, 16, 0);
		break;
	case X_X8:
		regf = xreg(g), rm = e_x(g, 8, 0);
		break;
	case X_X4:
		regf = xreg(g), rm = e_x(g, 4, 0);
		break;
	case X_X2:
		regf = xreg(g), rm = e_x(g, 2, 0);
		break;
	case X_M16U:
		regf = xreg(g), rm = mem_only(g, 16, 0);
		break;
	case X_M16A:
		regf = xreg(g), rm = mem_only(g, 16, 1);
		break;
	case X_M8:
		regf = xreg(g), rm = mem_only(g, 8, 0);
		break;
	case M_M8:
		regf = mreg(g), rm = e_m(g);
		break;
	case X_MM8:
		regf = xreg(g), rm = e_m(g);
		break;
	case M_X16:
		regf = mreg(g), rm = e_x(g, 16, 1);
		break;
	case M_X8:
		regf = mreg(g), rm = e_x(g, 8, 0);
		break;
	case R_X4:
		regf = pick_reg(g), rm = e_x(g, 4, 0);
		break;
	case R_X8:
		regf = pick_reg(g), rm = e_x(g, 8, 0);
		break;
	case X_RM:
		regf = xreg(g), rm = e_r(g, n, 0);
		break;
	case M_RM:
		regf = mreg(g), rm = e_r(g, n, 0);
		break;
	case RM_X:
		regf = xreg(g), rm = e_r(g, n, 1);
		break;
	case RM_M:
		regf = mreg(g), rm = e_r(g, n, 1);
		break;
	case R_XR:
		regf = pick_reg(g), rm = o_reg(xreg(g));
		if (g->o->faults && rn(g, 40) == 0)
			rm = xmem(g, 16, 1);
		break;
	case R_MR:
		regf = pick_reg(g), rm = o_reg(mreg(g));
		break;
	case ST_X16:
		regf = xreg(g), rm = e_x(g, 16, 1);
		break;
	case ST_X16U:
		regf = xreg(g), rm = e_x(g, 16, 0);
		break;
	case ST_X8:
		regf = xreg(g), rm = e_x(g, 8, 0);
		break;
	case ST_M8X:
		regf = xreg(g), rm = mem_only(g, 8, 0);
		break;
	case ST_X4:
		regf = xreg(g), rm = e_x(g, 4, 0);
		break;
	case ST_NT16:
		regf = xreg(g), rm = mem_only(g, 16, 1);
		break;
	case ST_MM8:
		regf = mreg(g), rm = e_m(g);
		break;
	case ST_NTQ:
		regf = mreg(g), rm = mem_only(g, 8, 0);
		break;
	case X_MR:
		regf = xreg(g), rm = o_reg(mreg(g));
		break;
	case M_XR:
		regf = mreg(g), rm = o_reg(xreg(g));
		break;
	case SHI_X:
	case SHI_M:
		regf = e->n, rm = o_reg(e->form == SHI_X ? xreg(g) : mreg(g));
		imm = rn(g, 4) ? rn(g, 20) : rnd(g) & 0xff;
		break;
	case PINS_X:
	case PINS_M:
		regf = e->form == PINS_X ? xreg(g) : mreg(g);
		rm = e_r(g, e->n == 4 ? n : e->n, 0);
		break;
	case PEXT_X:
		regf = xreg(g), rm = e_r(g, e->n == 4 ? n : e->n, 1);
		break;
	case MASKMOV_X:
	case MASKMOV_M: /* writes [RDI]: point it into the data area first */
		if (g->avoid & (1u << 7))
			return;
		emit_lea(g, 7, DT_BASE1, (int32_t)rn(g, 1024) - 512);
		regf = e->form == MASKMOV_X ? xreg(g) : mreg(g);
		rm = o_reg(e->form == MASKMOV_X ? xreg(g) : mreg(g));
		break;
	case NTI:
		regf = pick_src(g), rm = mem_only(g, n, 0);
		if (!rm.mem)
			rm = xmem(g, n, 0);
		break;
	case EMMS:
		enc_start(g);
		enc_insn(g, 0, 4, opc, nopc, 0, NULL, 0, 0);
		return;
	}
	if (e->xmm0 && rn(g, 4) == 0)
		regf = 0;
	enc_start(g);
	enc_insn(g, pfx_bits[e->pfx], size, opc, nopc, regf, &rm, e->imm ? 1 : 0, imm);
	/* COMIS/UCOMIS and PTEST define every arithmetic flag; the rest leave them alone */
	if ((e->esc == 0 && (e->op == 0x2e || e->op == 0x2f)) || (e->esc == 0x38 && e->op == 0x17))
		g->undef = 0;
}

static void pick(struct gen *g, const struct ent *t, unsigned n)
{
	emit_ent(g, &t[rn(g, n)]);
}

static void item_int(struct gen *g, int mmx)
{
	if (rn(g, 6) == 0) { /* shift by immediate */
		unsigned k = rn(g, 3), r = rn(g, 8);
		unsigned valid = shi_valid[k] | (!mmx && k == 2 ? 0x88 : 0);
		if (!((valid >> r) & 1) && !(g->o->faults && rn(g, 8) == 0))
			r = k == 2 ? 2 : 4;
		struct ent e = {mmx ? PN : P66,
				0,
				(uint8_t)(0x71 + k),
				mmx ? SHI_M : SHI_X,
				0xff,
				(uint8_t)r,
				0,
				0};
		emit_ent(g, &e);
		return;
	}
	uint8_t op = int_ops[rn(g, sizeof(int_ops))];
	struct ent e = {mmx ? PN : P66, 0, op, mmx ? M_M8 : X_X16, 0, 0, 0, 0};
	if (!mmx && rn(g, 12) == 0) { /* 66-only: PUNPCKLQDQ/HQDQ */
		e.op = rn(g, 2) ? 0x6c : 0x6d;
	}
	emit_ent(g, &e);
}

static void item_fp(struct gen *g)
{
	if (g->o->faults && rn(g, 64) == 0) {
		/* MONITOR/MWAIT (0F 01 C8/C9): #UD at CPL 3 natively, #UD in emu (not advertised)
		 */
		static const uint8_t op[2] = {0x0f, 0x01};
		struct opnd rm = o_reg((int)rn(g, 2));
		enc_start(g);
		enc_insn(g, 0, 4, op, 2, 1, &rm, 0, 0);
		return;
	}
	if (rn(g, 4) == 0) {
		pick(g, t_fp3, sizeof(t_fp3) / sizeof(t_fp3[0]));
		return;
	}
	static const uint8_t forms[4] = {X_X16, X_X16, X_X4, X_X8};
	unsigned p = rn(g, 4);
	struct ent e = {(uint8_t)p, 0, fp_ops[rn(g, sizeof(fp_ops))], forms[p], 0, 0, 0, 0};
	if (e.op == 0xc2)
		e.imm = 7;
	emit_ent(g, &e);
}

static void item_ssse3(struct gen *g)
{
	int mmx = rn(g, 4) == 0;
	struct ent e = {mmx ? PN : P66,
			0x38,
			ssse3_ops[rn(g, sizeof(ssse3_ops))],
			mmx ? M_M8 : X_X16,
			0,
			0,
			0,
			0};
	if (rn(g, 6) == 0) {
		e.esc = 0x3a;
		e.op = 0x0f;
		e.imm = 0xff;
		if (rn(g, 2))
			e.imm = 0x1f;
	}
	emit_ent(g, &e);
}

static void item_sse42(struct gen *g)
{
	unsigned k = rn(g, 8);

	if (k == 0) {
		struct ent e = E38(P66, 0x37, X_X16);
		emit_ent(g, &e);
	} else if (k <= 2) { /* CRC32 r32/r64, r/m8/16/32/64 */
		static const int sizes[] = {1, 2, 4, 8};
		int sz = sizes[rn(g, 4)], w = sz == 8 || (sz == 1 && rn(g, 2));
		uint8_t opc[3] = {0x0f, 0x38, (uint8_t)(sz == 1 ? 0xf0 : 0xf1)};
		struct opnd rm =
		    rn(g, 2) ? o_reg(sz == 1 ? pick_breg(g, 0) : pick_src(g)) : o_mem(g, sz, 1, 0);
		enc_start(g);
		enc_insn(g, P_REPNE | (sz == 2 ? P_OPSZ : 0), w ? 8 : 4, opc, 3, pick_reg(g), &rm,
			 0, 0);
	} else { /* PCMPxSTRx; explicit lengths in EAX/EDX */
		unsigned op = 0x60 + rn(g, 4);
		if (op < 0x62) {
			int w = rn(g, 4) == 0;
			if (!(g->avoid & 1))
				emit_mov_imm(g, w ? 8 : 4, 0,
					     (uint64_t)(int64_t)((int)rn(g, 40) - 20));
			if (!(g->avoid & 4))
				emit_mov_imm(g, w ? 8 : 4, 2,
					     (uint64_t)(int64_t)((int)rn(g, 40) - 20));
		}
		struct ent e = {P66, 0x3a, (uint8_t)op, X_X16U, 0x7f, 0, (uint8_t)(op < 0x62), 0};
		emit_ent(g, &e);
		g->undef = 0; /* PCMPxSTRx define every arithmetic flag; PCMPGTQ and CRC32 none */
	}
}

/* FXSAVE (REX.W or not) to a fresh area, then FXRSTOR it back, possibly after changing a field;
 * LDMXCSR/STMXCSR through memory. */
static void item_fxsr(struct gen *g)
{
	uint8_t op[2] = {0x0f, 0xae}, mov = 0xc7;
	struct opnd m = o_mem_big(g, 512), f;
	int w = rn(g, 4) != 0;

	switch (rn(g, 4)) {
	case 0: { /* LDMXCSR from a valid value */
		uint32_t mx = 0x1f80 | (uint32_t)rn(g, 4) << 13;
		if (rn(g, 2))
			mx |= (uint32_t)rnd(g) & 0x803f;
		if (rn(g, 3) == 0)
			mx |= 0x40;
		if (g->o->faults && rn(g, 6) == 0)
			mx &= ~(0x80u << rn(g, 6));
		if (g->o->faults && rn(g, 16) == 0)
			mx |= 1u << (18 + rn(g, 14)); /* reserved: #GP (bit 17 is AMD's MM) */
		enc_start(g);
		enc_insn(g, 0, 4, &mov, 1, 0, &m, 4, mx);
		enc_start(g);
		enc_insn(g, 0, 4, op, 2, 2, &m, 0, 0);
		return;
	}
	case 1:
		enc_start(g);
		enc_insn(g, 0, 4, op, 2, 3, &m, 0, 0);
		return;
	default:
		break;
	}
	if (g->o->faults && rn(g, 24) == 0)
		m.disp += 8; /* misaligned: #GP */
	enc_start(g);
	enc_insn(g, 0, w ? 8 : 4, op, 2, 0, &m, 0, 0);
	f = m;
	f.disp += 28; /* MXCSR_MASK differs between hosts: overwrite it */
	enc_start(g);
	enc_insn(g, 0, 4, &mov, 1, 0, &f, 4, 0xffff);
	if (rn(g, 2)) {
		/* change a field: FCW, FSW, FTW byte, MXCSR, an ST or XMM register qword */
		static const int offs[] = {0, 2, 4, 24, 32, 48, 64, 160, 168, 200, 400};
		f = m;
		f.disp += offs[rn(g, sizeof(offs) / sizeof(offs[0]))];
		uint64_t v = rnd(g);
		if (f.disp - m.disp == 24)
			v = 0x1f80 | (v & 0x603f);
		if (f.disp - m.disp == 0)
			v = (v & 0xf3f) | 0x3f | 0x40;
		enc_start(g);
		enc_insn(g, 0, 4, &mov, 1, 0, &f, 4, v);
	}
	if (rn(g, 4)) {
		enc_start(g);
		enc_insn(g, 0, rn(g, 4) ? (w ? 8 : 4) : (w ? 4 : 8), op, 2, 1, &m, 0, 0);
	}
}

void gen_sse_item(struct gen *g, int group)
{
	switch (group) {
	case G_SSEMOV:
		pick(g, t_mov, sizeof(t_mov) / sizeof(t_mov[0]));
		break;
	case G_SSEINT:
		item_int(g, 0);
		break;
	case G_MMX:
		if (rn(g, 3) == 0)
			pick(g, t_mmx, sizeof(t_mmx) / sizeof(t_mmx[0]));
		else
			item_int(g, 1);
		break;
	case G_SSEFP:
		item_fp(g);
		break;
	case G_SSECVT:
		pick(g, t_cvt, sizeof(t_cvt) / sizeof(t_cvt[0]));
		break;
	case G_SSSE3:
		item_ssse3(g);
		break;
	case G_SSE41:
		pick(g, t_sse41, sizeof(t_sse41) / sizeof(t_sse41[0]));
		break;
	case G_SSE42:
		item_sse42(g);
		break;
	case G_FXSR:
		item_fxsr(g);
		break;
	}
}

/* ---- comparison ---- */

static void fx_norm(const uint8_t *in, uint8_t *out)
{
	memcpy(out, in, 416);
	out[5] = 0;
	memset(out + 28, 0, 4); /* MXCSR_MASK */
	for (int i = 0; i < 8; i++)
		memset(out + 32 + 16 * i + 10, 0, 6);
	if (!(out[2] & 0x80)) /* FOP/FIP/FDP: saved by AMD only with an exception pending */
		memset(out + 6, 0, 18);
}

int dt_fx_diff(const uint8_t *nat, const uint8_t *emu, char *why, size_t n)
{
	uint8_t a[416], b[416];
	size_t w = 0;

	fx_norm(nat, a);
	fx_norm(emu, b);
	if (!memcmp(a, b, sizeof(a)))
		return 0;
#define OUT(...)                                                                                   \
	do {                                                                                       \
		if (w < n)                                                                         \
			w += (size_t)snprintf(why + w, n - w, __VA_ARGS__);                        \
	} while (0)
	static const struct {
		const char *name;
		unsigned off, len;
	} fld[] = {{"fcw", 0, 2}, {"fsw", 2, 2},  {"ftw", 4, 1},   {"fop", 6, 2},
		   {"fip", 8, 8}, {"fdp", 16, 8}, {"mxcsr", 24, 4}};
	for (unsigned i = 0; i < sizeof(fld) / sizeof(fld[0]); i++) {
		uint64_t x = 0, y = 0;
		memcpy(&x, a + fld[i].off, fld[i].len);
		memcpy(&y, b + fld[i].off, fld[i].len);
		if (x != y)
			OUT("%s: native %#llx emu %#llx\n  ", fld[i].name, (unsigned long long)x,
			    (unsigned long long)y);
	}
	for (int i = 0; i < 8; i++) {
		const uint8_t *p = a + 32 + 16 * i, *q = b + 32 + 16 * i;
		if (memcmp(p, q, 10)) {
			uint64_t pm, qm;
			uint16_t pe, qe;
			memcpy(&pm, p, 8), memcpy(&pe, p + 8, 2);
			memcpy(&qm, q, 8), memcpy(&qe, q + 8, 2);
			OUT("st%d: native %04x:%016llx emu %04x:%016llx\n  ", i, pe,
			    (unsigned long long)pm, qe, (unsigned long long)qm);
		}
	}
	for (int i = 0; i < 16; i++) {
		const uint8_t *p = a + 160 + 16 * i, *q = b + 160 + 16 * i;
		if (memcmp(p, q, 16)) {
			uint64_t pv[2], qv[2];
			memcpy(pv, p, 16), memcpy(qv, q, 16);
			OUT("xmm%d: native %016llx:%016llx emu %016llx:%016llx\n  ", i,
			    (unsigned long long)pv[1], (unsigned long long)pv[0],
			    (unsigned long long)qv[1], (unsigned long long)qv[0]);
		}
	}
#undef OUT
	return 1;
}
