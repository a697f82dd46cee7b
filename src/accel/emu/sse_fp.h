/* emu: software floating point shared by the SSE (exec_sse_fp.c, exec_sse_cvt.c) and x87
 * (exec_x87*.c, whose own internals are in x87_priv.h) code, and the SSE lane helpers built on it.
 *
 * All arithmetic is integer arithmetic on unpacked values (exec_sse_sf.c): no host FPU state,
 * rounding mode or exception flags are involved, so results, NaN payloads and flags are the
 * x86 ones on any host. Values are rounded once, correctly, to the destination format: IEEE
 * single/double, or x87 double-extended with precision control (24/53/64 significand bits,
 * extended exponent range). Underflow tininess is detected after rounding, as x86 does. */
#ifndef VMON_ACCEL_EMU_SSE_FP_H
#define VMON_ACCEL_EMU_SSE_FP_H

#include "accel/emu/sse_priv.h"

/* ---- soft float core (exec_sse_sf.c) ---- */

enum sf_fmt { SF_F32, SF_F64, SF_F80 };
enum sf_cls { SF_ZERO, SF_NORM, SF_INF, SF_NAN };

/* An unpacked value. NORM: (-1)^sign * sig * 2^(exp - 63) with bit 63 of sig set (denormal
 * inputs are normalised; den records that the encoding was denormal). NAN: the payload aligned as
 * in the x87 format (bit 63 set, bit 62 the quiet bit), so converting between formats keeps the
 * top payload bits. bad: an x87 encoding the FPU rejects (unnormal, pseudo-NaN/-infinity). */
typedef struct {
	uint64_t sig;
	int32_t exp;
	uint8_t sign, cls, den, bad;
} sf_t;

/* (-1)^sign * m * 2^(exp - 63) normalised (bit 63 of sig set); m = 0 gives a signed zero. */
static inline sf_t sf_norm(unsigned sign, int32_t exp, uint64_t m)
{
	sf_t x = {0, 0, (uint8_t)sign, SF_ZERO, 0, 0};

	if (m) {
		unsigned lz = (unsigned)__builtin_clzll(m);
		x.cls = SF_NORM;
		x.sig = m << lz;
		x.exp = exp - (int32_t)lz;
	}
	return x;
}

/* Leading zeros of a nonzero 128-bit value. */
static inline unsigned sf_clz128(unsigned __int128 x)
{
	uint64_t hi = (uint64_t)(x >> 64);
	return hi ? (unsigned)__builtin_clzll(hi) : 64 + (unsigned)__builtin_clzll((uint64_t)x);
}

/* A packed result: F32/F64 bits in m, or an x87 register (significand m, sign/exponent se). */
struct sfr {
	uint64_t m;
	uint16_t se;
};

/* Per-operation environment. flags accumulates exception bits in the MXCSR/FSW layout (IE DE
 * ZE OE UE PE = bits 0-5). up is set by every rounding: 1 when the magnitude was rounded up
 * (x87 C1). x87: unmasked overflow/underflow deliver the exponent-wrapped result (bias adjust). */
struct sf_env {
	uint32_t flags;
	uint8_t rc;	/* 0 nearest-even, 1 down, 2 up, 3 toward zero */
	uint8_t prec;	/* significand bits for F80 results: 24, 53 or 64 */
	uint8_t daz;	/* SSE: denormal inputs read as zero (no DE) */
	uint8_t ftz;	/* SSE: tiny results become zero (with UE and PE) when UE is masked */
	uint8_t um, om; /* UE / OE masked */
	uint8_t x87;
	uint8_t up;
};

#define SF_IE 0x01u
#define SF_DE 0x02u
#define SF_ZE 0x04u
#define SF_OE 0x08u
#define SF_UE 0x10u
#define SF_PE 0x20u

static inline int sf_is_snan(sf_t x)
{
	return x.cls == SF_NAN && !(x.sig & (1ull << 62));
}

/* Unpack F32/F64 bits (DAZ applied when e->daz) or an x87 register. */
sf_t sf_unpack(const struct sf_env *e, int fmt, uint64_t bits);
sf_t sf_unpack80(uint64_t m, uint16_t se);
/* Round x to fmt under e (NaNs keep their top payload bits, quiet bit unchanged). */
struct sfr sf_pack(struct sf_env *e, int fmt, sf_t x);
/* The default QNaN (x87 "real indefinite"). */
struct sfr sf_default_nan(int fmt);
/* Quieten a NaN and pack it. */
struct sfr sf_qnan(int fmt, sf_t x);
/* Operations on non-NaN operands (callers apply their format's NaN rules first; bad operands are
 * the caller's too). Invalid operations give the default NaN with IE, x/0 infinity with ZE; DE is
 * raised for denormal inputs unless IE or ZE was. Results are rounded to fmt under e. */
struct sfr sf_add(struct sf_env *e, int fmt, sf_t a, sf_t b);
struct sfr sf_mul(struct sf_env *e, int fmt, sf_t a, sf_t b);
struct sfr sf_div(struct sf_env *e, int fmt, sf_t a, sf_t b);
struct sfr sf_sqrt(struct sf_env *e, int fmt, sf_t a);
/* Signed integer to fmt (rounded under e). */
struct sfr sf_from_int(struct sf_env *e, int fmt, int64_t v);
/* Finite or infinite x to a signed integer of bits 16/32/64 under rounding mode rc; out of
 * range or infinite: *ok = 0 (the caller raises IE and stores the indefinite integer). PE is
 * raised for an inexact in-range result. */
int64_t sf_to_int(struct sf_env *e, sf_t x, unsigned bits, unsigned rc, int *ok);
/* Round a finite x to an integral value under rc (PE when inexact); keeps the sign of zero. */
sf_t sf_round_int(struct sf_env *e, sf_t x, unsigned rc);
/* Compare non-NaN values: -1 less, 0 equal, 1 greater. */
int sf_cmp(sf_t a, sf_t b);

/* ---- SSE lane helpers (exec_sse_fp.c) ---- */

/* Environment for one SSE instruction under MXCSR mx with rounding mode rc. */
void fp_env(struct sf_env *e, uint32_t mx, unsigned rc);
static inline int fp_fmt(int is32)
{
	return is32 ? SF_F32 : SF_F64;
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

/* One lane of FP_ADD/SUB/MUL/DIV/MIN/MAX/SQRT (sqrt: of b) with the SSE NaN rules (the first
 * operand's NaN wins, quietened; MIN/MAX return the second operand on NaN or equality). */
uint64_t fp_lane(struct sf_env *e, unsigned op, int is32, uint64_t a, uint64_t b);
void sse_fp_dp(struct emu_cpu *c, const struct emu_insn *in, int is32);

#endif
