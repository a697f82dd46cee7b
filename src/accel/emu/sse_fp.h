/* emu: floating-point lane helpers shared by exec_sse_fp.c and exec_sse_cvt.c. Lanes are raw
 * bit patterns (float in the low 32 bits when is32) so that NaNs keep their payloads. */
#ifndef VMON_ACCEL_EMU_SSE_FP_H
#define VMON_ACCEL_EMU_SSE_FP_H

#include "accel/emu/sse_priv.h"

/* Flags of one instruction and the MXCSR it runs under. */
struct fpctx {
	uint32_t mx;
	uint32_t flags;
};

static inline uint64_t fp_sign(int is32)
{
	return is32 ? 0x80000000ull : 0x8000000000000000ull;
}

static inline int fp_is_nan(uint64_t x, int is32)
{
	return is32 ? ((uint32_t)x & 0x7fffffffu) > 0x7f800000u
		    : (x & 0x7fffffffffffffffull) > 0x7ff0000000000000ull;
}

static inline int fp_is_snan(uint64_t x, int is32)
{
	return fp_is_nan(x, is32) && !(x & (is32 ? 0x400000ull : 0x8000000000000ull));
}

static inline uint64_t fp_quiet(uint64_t x, int is32)
{
	return x | (is32 ? 0x400000ull : 0x8000000000000ull);
}

static inline int fp_is_denorm(uint64_t x, int is32)
{
	return is32 ? ((uint32_t)x & 0x7f800000u) == 0 && ((uint32_t)x & 0x7fffffu)
		    : (x & 0x7ff0000000000000ull) == 0 && (x & 0xfffffffffffffull);
}

static inline uint64_t fp_default_nan(int is32)
{
	return is32 ? 0xffc00000ull : 0xfff8000000000000ull;
}

static inline uint64_t fp_get(const xmm_t *v, unsigned i, int is32)
{
	return is32 ? v->d[i] : v->q[i];
}

static inline void fp_set(xmm_t *v, unsigned i, int is32, uint64_t x)
{
	if (is32)
		v->d[i] = (uint32_t)x;
	else
		v->q[i] = x;
}

/* Start an instruction: clear host flags, select rounding mode rc (MXCSR.RC encoding). */
void fp_begin(struct fpctx *f, uint32_t mx, unsigned rc);
/* Move the host exception flags raised so far into f->flags and clear them. */
void fp_collect(struct fpctx *f);
/* End: collect, restore round-to-nearest; returns f->flags. */
uint32_t fp_end(struct fpctx *f);
/* DAZ: a denormal input becomes a signed zero when MXCSR.DAZ is set. */
uint64_t fp_daz(struct fpctx *f, uint64_t x, int is32);
double fp_to_d(uint64_t x, int is32);
/* Round r to the lane format under the current mode (host flags), FTZ, tiny+inexact -> UE. */
uint64_t fp_from_d(struct fpctx *f, double r, int is32);
/* One lane of FP_ADD/SUB/MUL/DIV/MIN/MAX/SQRT (sqrt: of b) with x86 NaN rules. */
uint64_t fp_lane(struct fpctx *f, unsigned op, int is32, uint64_t a, uint64_t b);
/* Round to integral in mode 0-3 (nearest-even, down, up, toward zero), keeping the sign. */
double fp_rint(double d, unsigned mode);
void sse_fp_dp(struct emu_cpu *c, const struct emu_insn *in, int is32);

#endif
