/* emu: x87 internals shared by exec_x87.c (stack, dispatch, register operations),
 * exec_x87_ldst.c (loads and stores), exec_x87_env.c (control and environment) and
 * exec_x87_arith.c (arithmetic, compares, math functions). */
#ifndef VMON_ACCEL_EMU_X87_PRIV_H
#define VMON_ACCEL_EMU_X87_PRIV_H

#include "accel/emu/sse_fp.h"

static inline uint16_t x87_fcw(const struct emu_cpu *c)
{
	return fx_get16(c, FX_FCW);
}

static inline uint16_t x87_fsw(const struct emu_cpu *c)
{
	return fx_get16(c, FX_FSW);
}

static inline void x87_set_top(struct emu_cpu *c, unsigned t)
{
	fx_set16(c, FX_FSW, (uint16_t)((x87_fsw(c) & ~0x3800u) | (t & 7) << 11));
}

/* The default QNaN ("real indefinite"). */
static inline struct sfr x87_indef(void)
{
	return sf_default_nan(SF_F80);
}

/* ea + k wrapped to the address size (the parts of an m80 or an environment image). */
static inline uint64_t x87_ea_plus(const struct emu_insn *in, uint64_t ea, unsigned k)
{
	return (ea + k) & sz_mask(in->asize);
}

/* The register stack.
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
/* Push v with the stack-overflow check; flags are the exceptions of the conversion that made v
 * (an unmasked IE stops the push, an unmasked DE does not). */
void x87_push_checked(struct emu_cpu *c, struct sfr v, uint32_t flags);
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

/* exec_x87_ldst.c: FLD m32/m64/m80, FILD, FBLD, the constants (D9 E8-EE, k = modrm & 7), FST(P)
 * m32/m64/m80, FIST(P)/FISTTP (trunc), FBSTP. */
void x87_fld_real(struct emu_cpu *c, const struct emu_insn *in, unsigned size);
void x87_fild(struct emu_cpu *c, const struct emu_insn *in, unsigned size);
void x87_fbld(struct emu_cpu *c, const struct emu_insn *in);
void x87_fld_const(struct emu_cpu *c, unsigned k);
void x87_fst_mem(struct emu_cpu *c, const struct emu_insn *in, unsigned size, int pop);
void x87_fist(struct emu_cpu *c, const struct emu_insn *in, unsigned size, int pop, int trunc);
void x87_fbstp(struct emu_cpu *c, const struct emu_insn *in);

/* exec_x87_env.c: FNINIT, FLDCW, FLDENV/FRSTOR (rstor), FNSTENV/FNSAVE (save), FNSTSW m16. */
void x87_fninit(struct emu_cpu *c);
void x87_fldcw(struct emu_cpu *c, uint16_t v);
void x87_fnstenv(struct emu_cpu *c, const struct emu_insn *in, int save);
void x87_fldenv(struct emu_cpu *c, const struct emu_insn *in, int rstor);
void x87_fnstsw_mem(struct emu_cpu *c, const struct emu_insn *in);

#endif
