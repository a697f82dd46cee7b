/* emu: the specialised handlers of the threaded interpreter (included by exec.c only).
 *
 * When a block is decoded, emu_handler_select gives each instruction a handler id (insn.hid):
 * either a handler specialised for its operation, operand size and register/memory form, or
 * GENERIC, which runs the instruction through exec_one's switch. run_blocks jumps from each
 * handler straight to the next instruction's handler (direct threading with computed goto, one
 * indirect jump per handler, which the host's branch predictor tracks separately), so the common
 * instructions run without the size switches of the generic accessors.
 *
 * EMU_HANDLERS lists every handler: X(name, body, check). body is a statement run with c (the
 * CPU) and in (the instruction) in scope; check is 1 when the handler can end the block early
 * (it accesses memory, whose slow path may invalidate decoded code or request a stop, or it calls
 * code that sets stop_block), 0 for register-only handlers. JCC is not in the list: blocks go on
 * past a conditional branch, and run_blocks leaves the block when the branch is taken. */
#ifndef VMON_ACCEL_EMU_EXEC_FAST_H
#define VMON_ACCEL_EMU_EXEC_FAST_H

#include "accel/emu/emu_priv.h"

/* ---- helpers for the handler bodies ---- */

#define GPR(r) (c->st.gpr[(r)])
#define M4(v) ((uint64_t)(uint32_t)(v))

/* CF alone, the common lazy states inline. */
static inline unsigned fast_cf(const struct emu_cpu *c)
{
	switch (c->cc.op) {
	case EMU_CC_LOGIC:
		return 0;
	case EMU_CC_INC:
	case EMU_CC_DEC:
	case EMU_CC_SHIFT:
		return c->cc.cf;
	default:
		return emu_flags_cf(c);
	}
}

/* CMP and TEST of a (a register or memory operand) with b, at size sz (1, 2, 4 or 8). */
static inline void fast_cmp(struct emu_cpu *c, unsigned sz, uint64_t a, uint64_t b)
{
	const uint64_t m = sz_mask(sz);

	a &= m;
	b &= m;
	cc_set(c, EMU_CC_SUB, sz, (a - b) & m, a, b);
}

static inline void fast_test(struct emu_cpu *c, unsigned sz, uint64_t a, uint64_t b)
{
	cc_set(c, EMU_CC_LOGIC, sz, a & b & sz_mask(sz), 0, 0);
}

/* a K b for the six ALU kinds that have specialised handlers; sets the lazy flags. */
#define FAST_ALU_ADD(a, b, m) fast_alu_(c, EMU_CC_ADD, (a), (b), ((a) + (b)) & (m), sz)
#define FAST_ALU_SUB(a, b, m) fast_alu_(c, EMU_CC_SUB, (a), (b), ((a) - (b)) & (m), sz)
#define FAST_ALU_CMP(a, b, m) fast_alu_(c, EMU_CC_SUB, (a), (b), ((a) - (b)) & (m), sz)
#define FAST_ALU_AND(a, b, m) fast_alu_(c, EMU_CC_LOGIC, (a), (b), (a) & (b), sz)
#define FAST_ALU_OR(a, b, m) fast_alu_(c, EMU_CC_LOGIC, (a), (b), (a) | (b), sz)
#define FAST_ALU_XOR(a, b, m) fast_alu_(c, EMU_CC_LOGIC, (a), (b), (a) ^ (b), sz)
#define FAST_ALU_WRITES_ADD 1
#define FAST_ALU_WRITES_SUB 1
#define FAST_ALU_WRITES_CMP 0
#define FAST_ALU_WRITES_AND 1
#define FAST_ALU_WRITES_OR 1
#define FAST_ALU_WRITES_XOR 1

static inline uint64_t fast_alu_(struct emu_cpu *c, unsigned op, uint64_t a, uint64_t b, uint64_t r,
				 unsigned sz)
{
	cc_set(c, op, sz, r, a, b);
	return r;
}

/* dst = dst K src on registers of size sz (4 or 8; a 32-bit write zero-extends). */
#define FAST_ALU_RR(K, sz_, dst, src)                                                              \
	do {                                                                                       \
		const unsigned sz = (sz_);                                                         \
		const uint64_t m = sz == 8 ? ~0ull : 0xffffffffull;                                \
		uint64_t a_ = GPR(dst) & m, b_ = (src)&m;                                          \
		uint64_t r_ = FAST_ALU_##K(a_, b_, m);                                             \
		if (FAST_ALU_WRITES_##K)                                                           \
			GPR(dst) = r_;                                                             \
	} while (0)

/* Shift a register of size sz by the immediate count or CL (SHL, SHR, SAR; flags as
 * emu_exec_shift). */
static inline void fast_shift(struct emu_cpu *c, const struct emu_insn *in, unsigned sub,
			      unsigned sz)
{
	const uint64_t m = sz == 8 ? ~0ull : 0xffffffffull;
	unsigned cnt =
	    (unsigned)((in->flags & EMU_I_CL) ? GPR(X86_RCX) : in->imm) & (sz == 8 ? 63 : 31);
	unsigned cf, of;
	uint64_t a = GPR(in->rm) & m;

	if (!cnt) {
		GPR(in->rm) = a; /* a 32-bit write still zero-extends */
		return;
	}
	uint64_t r = emu_shift_arith(sub, a, cnt, sz, &cf, &of);
	GPR(in->rm) = r;
	emu_shift_flags(c, sz, r, cf, of);
}

static inline void fast_incdec(struct emu_cpu *c, const struct emu_insn *in, int dec, unsigned sz)
{
	const uint64_t m = sz == 8 ? ~0ull : 0xffffffffull;
	unsigned cf = fast_cf(c);
	uint64_t a = GPR(in->rm) & m, r = (dec ? a - 1 : a + 1) & m;

	GPR(in->rm) = r;
	cc_set(c, dec ? EMU_CC_DEC : EMU_CC_INC, sz, r, a, 1);
	c->cc.cf = (uint8_t)cf;
}

/* 64-bit push and pop (the 64-bit stack: no masking; other stack sizes take the generic path). */
static inline void fast_push8(struct emu_cpu *c, uint64_t v)
{
	if (unlikely(c->stack_size != 8)) {
		emu_push(c, 8, v);
		return;
	}
	uint64_t sp = GPR(X86_RSP) - 8;
	emu_st(c, X86_SS, sp, 8, v);
	GPR(X86_RSP) = sp;
}

static inline uint64_t fast_pop8(struct emu_cpu *c)
{
	if (unlikely(c->stack_size != 8))
		return emu_pop(c, 8);
	uint64_t sp = GPR(X86_RSP);
	uint64_t v = emu_ld(c, X86_SS, sp, 8);
	GPR(X86_RSP) = sp + 8;
	return v;
}

/* Effective addresses in 64-bit mode with a segment whose base is 0 (ES, CS, SS, DS) and 64-bit
 * addressing: the address is the linear address. B: base register and displacement; BI: with an
 * index register too. */
static inline uint64_t ea_b(const struct emu_cpu *c, const struct emu_insn *in)
{
	return GPR(in->base) + (uint64_t)(int64_t)in->disp;
}

static inline uint64_t ea_bi(const struct emu_cpu *c, const struct emu_insn *in)
{
	return GPR(in->base) + (GPR(in->index) << in->scale) + (uint64_t)(int64_t)in->disp;
}

/* Loads and stores at such an address (B and BI variants next to each other). */
#define FAST_MEM_HANDLERS(X, F)                                                                    \
	X(LD8_##F, GPR(in->reg) = emu_ld_lin(c, ea_##F(c, in), 8), 1)                              \
	X(LD4_##F, GPR(in->reg) = emu_ld_lin(c, ea_##F(c, in), 4), 1)                              \
	X(ST8_##F, emu_st_lin(c, ea_##F(c, in), 8, GPR(in->reg)), 1)                               \
	X(ST4_##F, emu_st_lin(c, ea_##F(c, in), 4, GPR(in->reg)), 1)                               \
	X(LDZB4_##F, GPR(in->reg) = emu_ld_lin(c, ea_##F(c, in), 1), 1)

/* ---- the handler list ---- */

/* ALU handlers for one kind K: register forms of 00-3B (E,G and G,E) and 81/83 on a register. */
#define FAST_ALU_HANDLERS(X, K)                                                                    \
	X(ALU_EG_##K##_8, FAST_ALU_RR(K, 8, in->rm, GPR(in->reg)), 0)                              \
	X(ALU_EG_##K##_4, FAST_ALU_RR(K, 4, in->rm, GPR(in->reg)), 0)                              \
	X(ALU_GE_##K##_8, FAST_ALU_RR(K, 8, in->reg, GPR(in->rm)), 0)                              \
	X(ALU_GE_##K##_4, FAST_ALU_RR(K, 4, in->reg, GPR(in->rm)), 0)                              \
	X(ALU_EI_##K##_8, FAST_ALU_RR(K, 8, in->rm, in->imm), 0)                                   \
	X(ALU_EI_##K##_4, FAST_ALU_RR(K, 4, in->rm, in->imm), 0)

#define EMU_HANDLERS(X) X(GENERIC, , 1) X(JCC, , 0) EMU_HANDLERS_FAST(X)
#define EMU_HANDLERS_FAST(X)                                                                       \
	X(NOP, , 0)                                                                                \
	X(MOV_EG_R8, GPR(in->rm) = GPR(in->reg), 0)                                                \
	X(MOV_EG_R4, GPR(in->rm) = M4(GPR(in->reg)), 0)                                            \
	X(MOV_GE_R8, GPR(in->reg) = GPR(in->rm), 0)                                                \
	X(MOV_GE_R4, GPR(in->reg) = M4(GPR(in->rm)), 0)                                            \
	X(MOV_RI8, GPR(in->rm) = in->imm, 0)                                                       \
	X(MOV_RI4, GPR(in->rm) = M4(in->imm), 0)                                                   \
	X(MOV_LD8, GPR(in->reg) = emu_ld(c, in->seg, emu_ea(c, in), 8), 1)                         \
	X(MOV_LD4, GPR(in->reg) = emu_ld(c, in->seg, emu_ea(c, in), 4), 1)                         \
	X(MOV_ST8, emu_st(c, in->seg, emu_ea(c, in), 8, GPR(in->reg)), 1)                          \
	X(MOV_ST4, emu_st(c, in->seg, emu_ea(c, in), 4, GPR(in->reg)), 1)                          \
	FAST_MEM_HANDLERS(X, b)                                                                    \
	FAST_MEM_HANDLERS(X, bi)                                                                   \
	X(ST1_b, emu_st_lin(c, ea_b(c, in), 1, reg_get(c, in->reg, 1)), 1)                         \
	X(CMPI_M_b, fast_cmp(c, in->osize, emu_ld_lin(c, ea_b(c, in), in->osize), in->imm), 1)     \
	X(TESTI_M_b, fast_test(c, in->osize, emu_ld_lin(c, ea_b(c, in), in->osize), in->imm), 1)   \
	X(TEST_R1, fast_test(c, 1, reg_get(c, in->rm, 1), reg_get(c, in->reg, 1)), 0)              \
	X(TESTI_R, fast_test(c, in->osize, GPR(in->rm), in->imm), 0)                               \
	X(TESTI_R1, fast_test(c, 1, reg_get(c, in->rm, 1), in->imm), 0)                            \
	X(CMPI_R1, fast_cmp(c, 1, reg_get(c, in->rm, 1), in->imm), 0)                              \
	X(MOVSXD_R, GPR(in->reg) = (uint64_t)(int64_t)(int32_t)GPR(in->rm), 0)                     \
	X(MOVSXD_M_b, GPR(in->reg) = (uint64_t)(int64_t)(int32_t)emu_ld_lin(c, ea_b(c, in), 4), 1) \
	X(MOV_SI, emu_st(c, in->seg, emu_ea(c, in), in->osize, in->imm), 1)                        \
	X(MOVZX_R, reg_set(c, in->reg, in->osize, reg_get(c, in->rm, in->sub)), 0)                 \
	X(MOVZX_M, reg_set(c, in->reg, in->osize, emu_ld(c, in->seg, emu_ea(c, in), in->sub)), 1)  \
	X(MOVSX, reg_set(c, in->reg, in->osize, sz_sext(emu_get_e(c, in, in->sub), in->sub)), 1)   \
	X(LEA8, GPR(in->reg) = emu_ea(c, in), 0)                                                   \
	X(LEA4, GPR(in->reg) = M4(emu_ea(c, in)), 0)                                               \
	FAST_ALU_HANDLERS(X, ADD)                                                                  \
	FAST_ALU_HANDLERS(X, SUB)                                                                  \
	FAST_ALU_HANDLERS(X, CMP)                                                                  \
	FAST_ALU_HANDLERS(X, AND)                                                                  \
	FAST_ALU_HANDLERS(X, OR)                                                                   \
	FAST_ALU_HANDLERS(X, XOR)                                                                  \
	X(ALU_EG_X, alu_e(c, in, in->sub, reg_get(c, in->reg, in->osize), 0), 1)                   \
	X(ALU_EI_X, alu_e(c, in, in->sub, in->imm, 0), 1)                                          \
	X(ALU_GE_X, exec_alu_ge(c, in), 1)                                                         \
	X(TEST_RR8, cc_set(c, EMU_CC_LOGIC, 8, GPR(in->rm) & GPR(in->reg), 0, 0), 0)               \
	X(TEST_RR4, cc_set(c, EMU_CC_LOGIC, 4, M4(GPR(in->rm) & GPR(in->reg)), 0, 0), 0)           \
	X(TEST_E,                                                                                  \
	  alu_e(c, in, 0, in->op == EMU_OP_TEST_EI ? in->imm : reg_get(c, in->reg, in->osize), 1), \
	  1)                                                                                       \
	X(SHL8, fast_shift(c, in, EMU_SH_SHL, 8), 0)                                               \
	X(SHL4, fast_shift(c, in, EMU_SH_SHL, 4), 0)                                               \
	X(SHR8, fast_shift(c, in, EMU_SH_SHR, 8), 0)                                               \
	X(SHR4, fast_shift(c, in, EMU_SH_SHR, 4), 0)                                               \
	X(SAR8, fast_shift(c, in, EMU_SH_SAR, 8), 0)                                               \
	X(SAR4, fast_shift(c, in, EMU_SH_SAR, 4), 0)                                               \
	X(SHIFT, emu_exec_shift(c, in), 1)                                                         \
	X(INC8, fast_incdec(c, in, 0, 8), 0)                                                       \
	X(INC4, fast_incdec(c, in, 0, 4), 0)                                                       \
	X(DEC8, fast_incdec(c, in, 1, 8), 0)                                                       \
	X(DEC4, fast_incdec(c, in, 1, 4), 0)                                                       \
	X(JMP_REL, jump_to(c, in, c->next_rip + in->imm), 0)                                       \
	X(CALL_REL8, fast_push8(c, c->next_rip); jump_to(c, in, c->next_rip + in->imm), 1)         \
	X(RET8, jump_to(c, in, fast_pop8(c)), 1)                                                   \
	X(PUSH_R8, fast_push8(c, GPR(in->rm)), 1)                                                  \
	X(POP_R8, GPR(in->rm) = fast_pop8(c), 1)                                                   \
	X(CMOV, exec_cmov(c, in), 1)                                                               \
	X(SETCC, emu_set_e(c, in, 1, (uint64_t)emu_cond_fast(c, in->sub)), 1)

#define EMU_H_ENUM(name, body, check) EMU_H_##name,
enum emu_handler { EMU_HANDLERS(EMU_H_ENUM) EMU_H_COUNT };
#undef EMU_H_ENUM

/* emu_handler_select computes ids by offset within these groups. */
_Static_assert(EMU_H_MOV_EG_R4 == EMU_H_MOV_EG_R8 + 1 && EMU_H_MOV_GE_R4 == EMU_H_MOV_GE_R8 + 1 &&
		   EMU_H_MOV_RI4 == EMU_H_MOV_RI8 + 1 && EMU_H_MOV_LD4 == EMU_H_MOV_LD8 + 1 &&
		   EMU_H_MOV_ST4 == EMU_H_MOV_ST8 + 1 && EMU_H_LEA4 == EMU_H_LEA8 + 1 &&
		   EMU_H_TEST_RR4 == EMU_H_TEST_RR8 + 1 && EMU_H_SHL4 == EMU_H_SHL8 + 1 &&
		   EMU_H_SHR4 == EMU_H_SHR8 + 1 && EMU_H_SAR4 == EMU_H_SAR8 + 1 &&
		   EMU_H_INC4 == EMU_H_INC8 + 1 && EMU_H_DEC4 == EMU_H_DEC8 + 1,
	       "size variants follow their 64-bit handler");
_Static_assert(EMU_H_ALU_GE_ADD_8 == EMU_H_ALU_EG_ADD_8 + 2 &&
		   EMU_H_ALU_EI_ADD_8 == EMU_H_ALU_EG_ADD_8 + 4 &&
		   EMU_H_ALU_EG_SUB_8 == EMU_H_ALU_EG_ADD_8 + 6 &&
		   EMU_H_ALU_EG_CMP_8 == EMU_H_ALU_EG_ADD_8 + 12 &&
		   EMU_H_ALU_EG_AND_8 == EMU_H_ALU_EG_ADD_8 + 18 &&
		   EMU_H_ALU_EG_OR_8 == EMU_H_ALU_EG_ADD_8 + 24 &&
		   EMU_H_ALU_EI_XOR_4 == EMU_H_ALU_EG_ADD_8 + 35,
	       "ALU handlers: kinds ADD SUB CMP AND OR XOR, forms EG GE EI, sizes 8 4");
_Static_assert(EMU_H_LD4_b == EMU_H_LD8_b + 1 && EMU_H_ST8_b == EMU_H_LD8_b + 2 &&
		   EMU_H_ST4_b == EMU_H_LD8_b + 3 && EMU_H_LDZB4_b == EMU_H_LD8_b + 4 &&
		   EMU_H_LD8_bi == EMU_H_LD8_b + 5,
	       "flat memory handlers: LD8 LD4 ST8 ST4 LDZB4, B then BI");
_Static_assert(EMU_H_COUNT <= 256, "handler ids fit insn.hid");

#endif
