/* emu: software floating point shared by the SSE (exec_sse_fp.c, exec_sse_cvt.c) and x87
 * (exec_x87*.c) code, and the SSE lane helpers built on it.
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

/* ---- x87 internals shared by exec_x87.c and exec_x87_arith.c ----
 * ST(i) lives in image slot i (FX_ST + 16 * i); tags are the abridged FTW bits of the physical
 * registers R((TOP + i) & 7). Results are written with bytes 10-15 of the slot cleared. */

#define X87_C0 0x0100u
#define X87_C1 0x0200u
#define X87_C2 0x0400u
#define X87_C3 0x4000u
#define X87_SF 0x0040u

static inline unsigned x87_top(const struct emu_cpu *c)
{
	return (unsigned)(c->st.fxsave[FX_FSW + 1] >> 3) & 7;
}

static inline int x87_empty(const struct emu_cpu *c, unsigned i)
{
	return !((c->st.fxsave[FX_FTW] >> ((x87_top(c) + i) & 7)) & 1);
}

static inline struct sfr x87_raw(const struct emu_cpu *c, unsigned i)
{
	struct sfr r;
	memcpy(&r.m, c->st.fxsave + FX_ST + 16 * (i & 7), 8);
	memcpy(&r.se, c->st.fxsave + FX_ST + 16 * (i & 7) + 8, 2);
	return r;
}

static inline sf_t x87_get(const struct emu_cpu *c, unsigned i)
{
	struct sfr r = x87_raw(c, i);
	return sf_unpack80(r.m, r.se);
}

/* Write ST(i) and mark it valid. */
void x87_set(struct emu_cpu *c, unsigned i, struct sfr v);
/* Push v (the caller has checked for overflow) / pop ST(0) (tag empty, TOP + 1). */
void x87_push(struct emu_cpu *c, struct sfr v);
void x87_pop(struct emu_cpu *c);
/* Environment from FCW: rounding control, masks and (pc) the precision control. */
void x87_env(const struct emu_cpu *c, struct sf_env *e, int pc);
/* Record the exception flags (SF_* plus X87_SF) of an instruction in FSW and set C1 to c1 (0 or
 * 1; -1 leaves it alone). Unmasked exceptions set ES and B (the
 * #MF comes at the next waiting instruction); an unmasked pre-computation exception (IE DE ZE)
 * keeps only those flags and returns 1: the caller must not write its result. */
int x87_finish(struct emu_cpu *c, uint32_t flags, int c1);
/* Stack overflow (push onto a valid register) or underflow (an empty operand): IE and SF with
 * C1 = overflow. Returns 1 when IE is unmasked (the instruction does nothing more). */
int x87_stack_fault(struct emu_cpu *c, int overflow);
/* Record FOP, FIP and (mem) FDP for a non-control instruction. */
void x87_ptrs(struct emu_cpu *c, const struct emu_insn *in, int mem);
/* Condition codes C0-C3 (the X87_C* bits in cc are set, the others in mask cleared). */
void x87_set_cc(struct emu_cpu *c, uint16_t mask, uint16_t cc);
/* An m32/m64/m80 floating-point or m16/m32/m64 integer memory operand as an unpacked value. */
sf_t x87_ld_real(struct emu_cpu *c, const struct emu_insn *in, unsigned size);
sf_t x87_ld_int(struct emu_cpu *c, const struct emu_insn *in, unsigned size);

/* exec_x87_arith.c: D8/DA/DC/DE arithmetic and compares, FCOMI/FUCOMI(P), and the D9 E0-FF
 * group (FCHS FABS FTST FXAM and the math functions). op is the opcode byte & 7, modrm. */
void x87_arith(struct emu_cpu *c, const struct emu_insn *in, unsigned op, unsigned modrm);
void x87_comi(struct emu_cpu *c, const struct emu_insn *in, unsigned i, int quiet, int pop);
void x87_d9_math(struct emu_cpu *c, const struct emu_insn *in, unsigned modrm);

#endif
