/* emu: SSE/SSE2 conversions between float, double, int32/int64 and MMX int32 pairs.
 * Float-to-integer results out of range (and NaNs) are the integer indefinite value (the sign bit
 * alone) with #I; rounding follows MXCSR.RC or truncates (CVTT*). Float/double narrowing rounds
 * under MXCSR.RC with FTZ and the x86 NaN payload rules (soft-float core, sse_fp.h). */
#include "accel/emu/sse_fp.h"

static uint64_t cvt_f2i(struct sf_env *f, uint64_t x, int is32, unsigned isz, unsigned mode)
{
	uint64_t indef = isz == 8 ? 0x8000000000000000ull : 0x80000000ull;
	sf_t v = sf_unpack(f, fp_fmt(is32), x);
	int ok = 0;
	int64_t r = 0;

	if (v.cls != SF_NAN)
		r = sf_to_int(f, v, isz * 8, mode, &ok);
	if (!ok) {
		f->flags |= SF_IE;
		return indef;
	}
	return (uint64_t)r & sz_mask(isz);
}

/* Signed integer to float/double under the current rounding mode. */
static uint64_t cvt_i2f(struct sf_env *f, int64_t v, int is32)
{
	return sf_from_int(f, fp_fmt(is32), v).m;
}

/* float <-> double. to32: narrowing. */
static uint64_t cvt_f2f(struct sf_env *f, uint64_t x, int to32)
{
	int from = to32 ? SF_F64 : SF_F32, to = to32 ? SF_F32 : SF_F64;
	sf_t v = sf_unpack(f, from, x);

	if (v.cls == SF_NAN) {
		if (sf_is_snan(v))
			f->flags |= SF_IE;
		return sf_qnan(to, v).m;
	}
	if (v.den)
		f->flags |= SF_DE;
	return sf_pack(f, to, v).m;
}

static uint64_t src_gpr_or_mem(struct emu_cpu *c, const struct emu_insn *in, unsigned n)
{
	if (in->flags & EMU_I_REG)
		return reg_get(c, in->rm, n);
	return emu_ld(c, in->seg, emu_ea(c, in), n);
}

void sse_fp_cvt(struct emu_cpu *c, const struct emu_insn *in, unsigned arg)
{
	uint32_t mx = sse_mxcsr(c);
	unsigned rc = (mx >> MX_RC_SHIFT) & 3, isz = in->osize == 8 ? 8 : 4;
	struct sf_env f;
	xmm_t g, e, r;
	uint64_t v = 0;

	xmm_get(c, in->reg, &g);
	memset(&r, 0, sizeof(r));
	switch (arg) {
	case CV_PI2PS:
	case CV_PI2PD:
	case CV_DQ2PD:
		if (arg != CV_DQ2PD && (in->flags & EMU_I_REG))
			x87_check_pending(c); /* an MMX register source */
		sse_get_e(c, in, &e, 8, arg != CV_DQ2PD, 0);
		if (arg != CV_DQ2PD && (in->flags & EMU_I_REG))
			sse_mmx_enter(c); /* after the operand fetch, before #XM */
		fp_env(&f, mx, rc);
		r = arg == CV_PI2PS ? g : r;
		for (unsigned i = 0; i < 2; i++)
			fp_set(&r, i, arg == CV_PI2PS, cvt_i2f(&f, e.sd[i], arg == CV_PI2PS));
		break;
	case CV_SI2SS:
	case CV_SI2SD:
		v = src_gpr_or_mem(c, in, isz);
		fp_env(&f, mx, rc);
		r = g;
		fp_set(&r, 0, arg == CV_SI2SS,
		       cvt_i2f(&f, (int64_t)sz_sext(v, isz), arg == CV_SI2SS));
		break;
	case CV_DQ2PS:
		sse_get_e(c, in, &e, 16, 0, 1);
		fp_env(&f, mx, rc);
		for (unsigned i = 0; i < 4; i++)
			r.d[i] = (uint32_t)cvt_i2f(&f, e.sd[i], 1);
		break;
	case CV_TPS2PI:
	case CV_PS2PI:
	case CV_TPD2PI:
	case CV_PD2PI:
	case CV_PS2DQ:
	case CV_TPS2DQ:
	case CV_PD2DQ:
	case CV_TPD2DQ: {
		int is32 =
		    arg == CV_TPS2PI || arg == CV_PS2PI || arg == CV_PS2DQ || arg == CV_TPS2DQ;
		int trunc =
		    arg == CV_TPS2PI || arg == CV_TPD2PI || arg == CV_TPS2DQ || arg == CV_TPD2DQ;
		int to_mm =
		    arg == CV_TPS2PI || arg == CV_PS2PI || arg == CV_TPD2PI || arg == CV_PD2PI;
		unsigned n = arg == CV_PS2DQ || arg == CV_TPS2DQ ? 4 : 2;
		if (to_mm)
			x87_check_pending(c);
		sse_get_e(c, in, &e, is32 && to_mm ? 8 : 16, 0, 1);
		if (to_mm)
			sse_mmx_enter(c);
		fp_env(&f, mx, 0);
		for (unsigned i = 0; i < n; i++)
			r.d[i] =
			    (uint32_t)cvt_f2i(&f, fp_get(&e, i, is32), is32, 4, trunc ? 3 : rc);
		sse_fp_flags(c, f.flags);
		if (to_mm)
			mmx_set(c, in->reg, r.q[0]);
		else
			xmm_set(c, in->reg, &r);
		return;
	}
	case CV_TSS2SI:
	case CV_SS2SI:
	case CV_TSD2SI:
	case CV_SD2SI: {
		int is32 = arg == CV_TSS2SI || arg == CV_SS2SI;
		sse_get_e(c, in, &e, is32 ? 4 : 8, 0, 0);
		fp_env(&f, mx, 0);
		v = cvt_f2i(&f, fp_get(&e, 0, is32), is32, isz,
			    arg == CV_TSS2SI || arg == CV_TSD2SI ? 3 : rc);
		sse_fp_flags(c, f.flags);
		reg_set(c, in->reg, isz, v);
		return;
	}
	case CV_PS2PD:
	case CV_SS2SD:
		sse_get_e(c, in, &e, arg == CV_PS2PD ? 8 : 4, 0, 0);
		fp_env(&f, mx, rc);
		r = arg == CV_SS2SD ? g : r;
		for (unsigned i = 0; i < (arg == CV_PS2PD ? 2u : 1u); i++)
			r.q[i] = cvt_f2f(&f, e.d[i], 0);
		break;
	case CV_PD2PS:
	case CV_SD2SS:
		sse_get_e(c, in, &e, arg == CV_PD2PS ? 16 : 8, 0, 1);
		fp_env(&f, mx, rc);
		r = arg == CV_SD2SS ? g : r;
		for (unsigned i = 0; i < (arg == CV_PD2PS ? 2u : 1u); i++)
			r.d[i] = (uint32_t)cvt_f2f(&f, e.q[i], 1);
		break;
	default:
		emu_raise(c, EMU_UD, 0, 0);
	}
	sse_fp_flags(c, f.flags);
	xmm_set(c, in->reg, &r);
}
