/* emu: the interpreter loop and the dispatch of the common instructions.
 *
 * emu_run looks up the decoded block at CS:RIP (icache.c) and executes its instructions through
 * one switch. While an instruction executes, st.rip still names it and c->next_rip holds the
 * fall-through address; branches change next_rip, and rip is committed only when the
 * instruction completes, so an exception (emu_raise -> longjmp back into emu_run) leaves rip at
 * the faulting instruction with no rollback needed. Rarer instruction groups live in
 * exec_alu.c, exec_ctl.c and exec_str.c. */
#include "accel/emu/emu_priv.h"

_Noreturn void emu_raise(struct emu_cpu *c, unsigned vector, int has_error, uint32_t error)
{
	c->exit.vector = (uint8_t)vector;
	c->exit.has_error = (uint8_t)has_error;
	c->exit.error_code = error;
	longjmp(c->jb, 1);
}

_Noreturn void emu_exit_now(struct emu_cpu *c, unsigned reason)
{
	c->exit.reason = reason;
	if (reason == EMU_EXIT_UNIMPL)
		c->exit.len = (uint8_t)emu_fetch_nofault(c, c->st.rip, c->exit.bytes, EMU_INSN_MAX);
	longjmp(c->jb, 2);
}

/* The result of the ALU operation kind on a and b (already truncated to size); the new lazy
 * flags go to *cc so that the caller can commit them after its store has succeeded. */
static inline uint64_t alu_compute(const struct emu_cpu *c, unsigned kind, unsigned size,
				   uint64_t a, uint64_t b, struct emu_lazy_flags *cc)
{
	uint64_t m = sz_mask(size), r;
	/* read the carry before cc is written: cc may be &c->cc */
	unsigned cf = kind == EMU_ALU_ADC || kind == EMU_ALU_SBB ? emu_flags_cf(c) : 0;

	cc->size = (uint8_t)size;
	cc->src1 = a;
	cc->src2 = b;
	switch (kind) {
	case EMU_ALU_ADD:
		r = (a + b) & m;
		cc->op = EMU_CC_ADD;
		break;
	case EMU_ALU_ADC:
		r = (a + b + cf) & m;
		cc->op = EMU_CC_ADC;
		cc->cf = (uint8_t)cf;
		break;
	case EMU_ALU_SBB:
		r = (a - b - cf) & m;
		cc->op = EMU_CC_SBB;
		cc->cf = (uint8_t)cf;
		break;
	case EMU_ALU_SUB:
	case EMU_ALU_CMP:
		r = (a - b) & m;
		cc->op = EMU_CC_SUB;
		break;
	case EMU_ALU_OR:
		r = a | b;
		cc->op = EMU_CC_LOGIC;
		break;
	case EMU_ALU_AND:
		r = a & b;
		cc->op = EMU_CC_LOGIC;
		break;
	default: /* XOR */
		r = a ^ b;
		cc->op = EMU_CC_LOGIC;
		break;
	}
	cc->res = r;
	return r;
}

/* E = E op b (or just flags for CMP/TEST when kind is CMP or test is set). The flags are written
 * straight into c->cc where nothing can fault afterwards (a struct copy of a freshly built
 * local would stall on store forwarding); the slow read-modify-write path keeps them aside until
 * its store has succeeded. */
static inline void alu_e(struct emu_cpu *c, const struct emu_insn *in, unsigned kind, uint64_t b,
			 int test)
{
	unsigned size = in->osize;
	uint64_t r;

	b &= sz_mask(size);
	if (in->flags & EMU_I_REG) {
		uint64_t a = reg_get(c, in->rm, size);
		if (test) {
			cc_set(c, EMU_CC_LOGIC, size, a & b, 0, 0);
		} else {
			r = alu_compute(c, kind, size, a, b, &c->cc);
			if (kind != EMU_ALU_CMP)
				reg_set(c, in->rm, size, r);
		}
		return;
	}
	uint64_t ea = emu_ea(c, in);
	if (test || kind == EMU_ALU_CMP) {
		uint64_t a = emu_ld(c, in->seg, ea, size);
		if (test)
			cc_set(c, EMU_CC_LOGIC, size, a & b, 0, 0);
		else
			alu_compute(c, kind, size, a, b, &c->cc);
		return;
	}
	/* Read-modify-write (with LOCK, emu_exec_locked runs this on a private operand copy). */
	uint64_t lin = emu_linear(c, in->seg, ea, size, EMU_ACC_W);
	struct emu_tlb_entry *e = &c->tlb[(lin >> 12) & (EMU_TLB_SIZE - 1)];
	if (likely(e->tag_w == emu_tag(c, lin) && (lin & 0xfff) <= 4096 - size)) {
		uint8_t *p = (uint8_t *)(uintptr_t)(lin + e->addend);
		r = alu_compute(c, kind, size, ld_host(p, size), b, &c->cc);
		st_host(p, size, r);
	} else {
		struct emu_lazy_flags cc;
		r = alu_compute(c, kind, size, emu_ld_lin(c, lin, size), b, &cc);
		emu_st_lin(c, lin, size, r);
		c->cc = cc;
	}
}

/* G = G op E */
static inline void exec_alu_ge(struct emu_cpu *c, const struct emu_insn *in)
{
	unsigned size = in->osize;
	uint64_t e = emu_get_e(c, in, size); /* may fault: before the flags change */
	uint64_t v = alu_compute(c, in->sub, size, reg_get(c, in->reg, size), e, &c->cc);

	if (in->sub != EMU_ALU_CMP)
		reg_set(c, in->reg, size, v);
}

static inline void exec_cmov(struct emu_cpu *c, const struct emu_insn *in)
{
	unsigned size = in->osize;
	uint64_t v = emu_get_e(c, in, size);

	if (emu_cond_fast(c, in->sub))
		reg_set(c, in->reg, size, v);
	else if (size == 4)
		reg_set(c, in->reg, 4, reg_get(c, in->reg, 4));
}

static inline void exec_incdec(struct emu_cpu *c, const struct emu_insn *in, int dec)
{
	unsigned size = in->osize;
	unsigned cf = emu_flags_cf(c);
	uint64_t ea = 0, a, r;

	if (in->flags & EMU_I_REG) {
		a = reg_get(c, in->rm, size);
	} else {
		ea = emu_ea(c, in);
		a = emu_ld(c, in->seg, ea, size);
	}
	r = (dec ? a - 1 : a + 1) & sz_mask(size);
	emu_set_e(c, in, size, r);
	cc_set(c, dec ? EMU_CC_DEC : EMU_CC_INC, size, r, a, 1);
	c->cc.cf = (uint8_t)cf;
}

static inline void exec_unary(struct emu_cpu *c, const struct emu_insn *in, int neg)
{
	unsigned size = in->osize;
	uint64_t a = emu_get_e(c, in, size), r;

	r = (neg ? 0 - a : ~a) & sz_mask(size);
	emu_set_e(c, in, size, r);
	if (neg)
		cc_set(c, EMU_CC_SUB, size, r, 0, a);
}

static inline void jump_to(struct emu_cpu *c, const struct emu_insn *in, uint64_t target)
{
	c->next_rip = target & (in->osize == 2 ? 0xffff : in->osize == 4 ? 0xffffffff : ~0ull);
}

static void exec_xchg(struct emu_cpu *c, const struct emu_insn *in)
{
	unsigned size = in->osize;
	uint64_t g = reg_get(c, in->reg, size);

	/* With memory this runs inside emu_exec_locked (on a private copy of the operand). */
	if (in->flags & EMU_I_REG) {
		uint64_t e = reg_get(c, in->rm, size);
		reg_set(c, in->rm, size, g);
		reg_set(c, in->reg, size, e);
	} else {
		uint64_t ea = emu_ea(c, in);
		uint64_t e = emu_ld(c, in->seg, ea, size);
		emu_st(c, in->seg, ea, size, g);
		reg_set(c, in->reg, size, e);
	}
}

static void exec_loop(struct emu_cpu *c, const struct emu_insn *in)
{
	unsigned as = in->asize;
	uint64_t cnt = (reg_get(c, X86_RCX, as) - 1) & sz_mask(as);
	int take = cnt != 0;

	reg_set(c, X86_RCX, as, cnt);
	if (in->sub == 0)
		take = take && !emu_cond(c, 4); /* LOOPNE: ZF = 0 */
	else if (in->sub == 1)
		take = take && emu_cond(c, 4); /* LOOPE: ZF = 1 */
	if (take)
		jump_to(c, in, c->next_rip + in->imm);
}

static uint64_t bswap_sz(uint64_t v, unsigned size)
{
	if (size == 8)
		return __builtin_bswap64(v);
	if (size == 4)
		return __builtin_bswap32((uint32_t)v);
	return __builtin_bswap16((uint16_t)v);
}

static int exec_misc(struct emu_cpu *c, const struct emu_insn *in)
{
	unsigned size = in->osize;
	uint64_t v;

	switch (in->op) {
	case EMU_OP_CBW:
		v = reg_get(c, X86_RAX, size / 2);
		reg_set(c, X86_RAX, size, sz_sext(v, size / 2));
		break;
	case EMU_OP_CWD:
		v = sz_msb(reg_get(c, X86_RAX, size), size) ? ~0ull : 0;
		reg_set(c, X86_RDX, size, v);
		break;
	case EMU_OP_BSWAP:
		if (size == 2) /* undefined; hardware clears the low word */
			reg_set(c, in->rm, 2, 0);
		else
			reg_set(c, in->rm, size, bswap_sz(reg_get(c, in->rm, size), size));
		break;
	case EMU_OP_MOVBE_GE:
		v = emu_ld(c, in->seg, emu_ea(c, in), size);
		reg_set(c, in->reg, size, bswap_sz(v, size));
		break;
	case EMU_OP_MOVBE_EG:
		emu_st(c, in->seg, emu_ea(c, in), size, bswap_sz(reg_get(c, in->reg, size), size));
		break;
	case EMU_OP_CLC:
		flags_set_eager(c, F_CF, 0);
		break;
	case EMU_OP_STC:
		flags_set_eager(c, F_CF, F_CF);
		break;
	case EMU_OP_CMC:
		flags_set_eager(c, F_CF, emu_flags_cf(c) ? 0 : F_CF);
		break;
	case EMU_OP_CLD:
		c->st.rflags &= ~(uint64_t)F_DF;
		break;
	case EMU_OP_STD:
		c->st.rflags |= F_DF;
		break;
	case EMU_OP_LAHF:
		v = (emu_flags_arith(c) & (F_SF | F_ZF | F_AF | F_PF | F_CF)) | 2;
		reg_set(c, EMU_REG_AH, 1, v);
		break;
	case EMU_OP_SAHF:
		v = reg_get(c, EMU_REG_AH, 1);
		flags_set_eager(c, F_SF | F_ZF | F_AF | F_PF | F_CF, (uint32_t)v);
		break;
	case EMU_OP_XLAT:
		v = (c->st.gpr[X86_RBX] + reg_get(c, X86_RAX, 1)) & sz_mask(in->asize);
		reg_set(c, X86_RAX, 1, emu_ld(c, in->seg, v, 1));
		break;
	case EMU_OP_MOV_ES:
		if ((in->reg & 7) > X86_GS) /* before indexing seg[] (6 entries) */
			emu_raise(c, EMU_UD, 0, 0);
		v = c->st.seg[in->reg & 7].selector;
		if (in->flags & EMU_I_REG)
			reg_set(c, in->rm, size, v);
		else
			emu_st(c, in->seg, emu_ea(c, in), 2, v);
		break;
	case EMU_OP_HLT:
		if (c->cpl)
			emu_raise(c, EMU_GP, 1, 0);
		return EMU_EXIT_HLT;
	case EMU_OP_CLI:
	case EMU_OP_STI:
		if ((c->st.cr0 & X86_CR0_PE) && c->cpl > ((c->st.rflags & F_IOPL) >> 12))
			emu_raise(c, EMU_GP, 1, 0);
		if (in->op == EMU_OP_CLI) {
			c->st.rflags &= ~(uint64_t)F_IF;
		} else {
			emu_exec_sti(c);
			c->stop_block = 1; /* the shadow is handled at the block boundary */
		}
		break;
	case EMU_OP_INT:
		if (!c->exc_exit) {
			/* INT n/INT3/INT1 via the IDT: gate DPL check, returns after it */
			emu_exec_int(c, in);
			break;
		}
		/* Tests: report the vector as an exception with rip after the instruction. */
		c->st.rip = c->next_rip;
		emu_raise(c, (unsigned)in->imm, 0, 0);
	case EMU_OP_SSE:
		emu_exec_sse(c, in);
		break;
	case EMU_OP_X87:
		emu_exec_x87(c, in);
		break;
	case EMU_OP_UD:
		emu_raise(c, EMU_UD, 0, 0);
	default:
		/* System, segment and legacy instructions (exec_sys.c dispatches the rest). */
		return emu_exec_sys(c, in);
	}
	return 0;
}

/* Execute one decoded instruction. Returns 0 or an exit reason. */
static inline __attribute__((always_inline)) int exec_one(struct emu_cpu *c,
							  const struct emu_insn *in)
{
	unsigned size = in->osize;
	uint64_t v;

	switch (in->op) {
	case EMU_OP_NOP:
		break;
	case EMU_OP_ALU_EG:
		alu_e(c, in, in->sub, reg_get(c, in->reg, size), 0);
		break;
	case EMU_OP_ALU_EI:
		alu_e(c, in, in->sub, in->imm, 0);
		break;
	case EMU_OP_ALU_GE:
		exec_alu_ge(c, in);
		break;
	case EMU_OP_TEST_EG:
		alu_e(c, in, 0, reg_get(c, in->reg, size), 1);
		break;
	case EMU_OP_TEST_EI:
		alu_e(c, in, 0, in->imm, 1);
		break;
	case EMU_OP_MOV_EG:
		emu_set_e(c, in, size, reg_get(c, in->reg, size));
		break;
	case EMU_OP_MOV_GE:
		reg_set(c, in->reg, size, emu_get_e(c, in, size));
		break;
	case EMU_OP_MOV_EI:
		emu_set_e(c, in, size, in->imm);
		break;
	case EMU_OP_MOV_AO:
		reg_set(c, X86_RAX, size, emu_ld(c, in->seg, in->imm & sz_mask(in->asize), size));
		break;
	case EMU_OP_MOV_OA:
		emu_st(c, in->seg, in->imm & sz_mask(in->asize), size, reg_get(c, X86_RAX, size));
		break;
	case EMU_OP_MOVZX:
		reg_set(c, in->reg, size, emu_get_e(c, in, in->sub));
		break;
	case EMU_OP_MOVSX:
		reg_set(c, in->reg, size, sz_sext(emu_get_e(c, in, in->sub), in->sub));
		break;
	case EMU_OP_LEA:
		reg_set(c, in->reg, size, emu_ea(c, in));
		break;
	case EMU_OP_XCHG:
		/* XCHG with memory is implicitly locked. EMU_I_LOCK on an XCHG means it is already
		 * running inside emu_exec_locked (LOCK-prefixed forms decode to EMU_OP_LOCKED). */
		if (!(in->flags & (EMU_I_REG | EMU_I_LOCK))) {
			emu_exec_locked(c, in);
			break;
		}
		exec_xchg(c, in);
		break;
	case EMU_OP_INC:
	case EMU_OP_DEC:
		exec_incdec(c, in, in->op == EMU_OP_DEC);
		break;
	case EMU_OP_NOT:
	case EMU_OP_NEG:
		exec_unary(c, in, in->op == EMU_OP_NEG);
		break;
	case EMU_OP_JCC:
		if (emu_cond(c, in->sub))
			jump_to(c, in, c->next_rip + in->imm);
		break;
	case EMU_OP_JMP_REL:
		jump_to(c, in, c->next_rip + in->imm);
		break;
	case EMU_OP_CALL_REL:
		emu_push(c, size, c->next_rip);
		jump_to(c, in, c->next_rip + in->imm);
		break;
	case EMU_OP_JMP_E:
		jump_to(c, in, emu_get_e(c, in, size));
		break;
	case EMU_OP_CALL_E:
		v = emu_get_e(c, in, size);
		emu_push(c, size, c->next_rip);
		jump_to(c, in, v);
		break;
	case EMU_OP_RET:
		v = emu_pop(c, size);
		if (in->imm) {
			uint64_t sm = sz_mask(c->stack_size);
			uint64_t sp = (c->st.gpr[X86_RSP] + in->imm) & sm;
			c->st.gpr[X86_RSP] = (c->st.gpr[X86_RSP] & ~sm) | sp;
		}
		jump_to(c, in, v);
		break;
	case EMU_OP_LOOP:
		exec_loop(c, in);
		break;
	case EMU_OP_JCXZ:
		if (!reg_get(c, X86_RCX, in->asize))
			jump_to(c, in, c->next_rip + in->imm);
		break;
	case EMU_OP_PUSH_E:
		emu_push(c, size, emu_get_e(c, in, size));
		break;
	case EMU_OP_PUSH_I:
		emu_push(c, size, in->imm);
		break;
	case EMU_OP_PUSH_SEG:
		emu_push(c, size, c->st.seg[in->sub].selector);
		break;
	case EMU_OP_POP_E:
		if (in->flags & EMU_I_REG) {
			reg_set(c, in->rm, size, emu_pop(c, size));
		} else {
			/* The address is computed after RSP is incremented; undo RSP on a fault. */
			uint64_t old_sp = c->st.gpr[X86_RSP];
			v = emu_pop(c, size);
			uint64_t ea = emu_ea(c, in);
			c->st.gpr[X86_RSP] = old_sp;
			emu_probe_write(c, in->seg, ea, size);
			emu_pop(c, size);
			emu_st(c, in->seg, ea, size, v);
		}
		break;
	case EMU_OP_PUSHF:
		v = emu_cpu_rflags(c) & ~(uint64_t)(F_VM | F_RF);
		emu_push(c, size, v);
		break;
	case EMU_OP_POPF:
		emu_exec_popf(c, in);
		break;
	case EMU_OP_ENTER:
		emu_exec_enter(c, in);
		break;
	case EMU_OP_LEAVE: {
		uint64_t sm = sz_mask(c->stack_size), sp = c->st.gpr[X86_RSP];
		uint64_t bp = c->st.gpr[X86_RBP];
		c->st.gpr[X86_RSP] = (sp & ~sm) | (bp & sm);
		v = emu_pop(c, size);
		reg_set(c, X86_RBP, size, v);
		break;
	}
	case EMU_OP_SETCC:
		emu_set_e(c, in, 1, (uint64_t)emu_cond(c, in->sub));
		break;
	case EMU_OP_CMOV:
		exec_cmov(c, in);
		break;
	case EMU_OP_MUL1:
	case EMU_OP_IMUL1:
	case EMU_OP_IMUL2:
	case EMU_OP_IMUL3:
	case EMU_OP_DIV:
	case EMU_OP_IDIV:
		emu_exec_muldiv(c, in);
		break;
	case EMU_OP_SHIFT:
		emu_exec_shift(c, in);
		break;
	case EMU_OP_SHLD:
	case EMU_OP_SHRD:
		emu_exec_shxd(c, in);
		break;
	case EMU_OP_BT_EG:
	case EMU_OP_BT_EI:
		emu_exec_bitop(c, in);
		break;
	case EMU_OP_BSF:
	case EMU_OP_BSR:
	case EMU_OP_TZCNT:
	case EMU_OP_LZCNT:
	case EMU_OP_POPCNT:
		emu_exec_bitscan(c, in);
		break;
	case EMU_OP_CMPXCHG:
	case EMU_OP_CMPXCHG8B:
	case EMU_OP_XADD:
		emu_exec_cmpxchg(c, in);
		break;
	case EMU_OP_ADCX:
	case EMU_OP_ADOX:
		emu_exec_adx(c, in);
		break;
	case EMU_OP_MOVS:
	case EMU_OP_CMPS:
	case EMU_OP_STOS:
	case EMU_OP_LODS:
	case EMU_OP_SCAS:
		emu_exec_string(c, in);
		break;
	case EMU_OP_IN:
	case EMU_OP_OUT:
		emu_exec_io(c, in);
		break;
	default:
		return exec_misc(c, in);
	}
	return 0;
}

int emu_exec_one(struct emu_cpu *c, const struct emu_insn *in)
{
	return exec_one(c, in);
}

#include "accel/emu/exec_fast.h"
#include "accel/emu/icache.h"

static uint8_t select_alu(const struct emu_insn *in, unsigned base)
{
	/* base: the handler of ADD for this form at size 8; the kinds follow in list order */
	static const int8_t kind_slot[8] = {
	    [EMU_ALU_ADD] = 0, [EMU_ALU_OR] = 4,  [EMU_ALU_ADC] = -1, [EMU_ALU_SBB] = -1,
	    [EMU_ALU_AND] = 3, [EMU_ALU_SUB] = 1, [EMU_ALU_XOR] = 5,  [EMU_ALU_CMP] = 2};
	int k = kind_slot[in->sub & 7];

	if (k < 0 || !(in->flags & EMU_I_REG) || (in->osize != 8 && in->osize != 4))
		return EMU_H_GENERIC;
	return (uint8_t)(base + (unsigned)k * 6 + (in->osize == 4));
}

/* The flat-address handler (offset k in the LD8 LD4 ST8 ST4 LDZB4 group) for a memory operand
 * in 64-bit mode with a zero-based segment and 64-bit addressing, or 0 when it has none. */
static uint8_t select_flat(const struct emu_insn *in, unsigned mode, unsigned k)
{
	if (mode != EMU_MODE_64 || (in->flags & EMU_I_REG) || in->asize != 8 || in->seg >= X86_FS ||
	    in->base >= 16)
		return 0;
	return (uint8_t)((in->index == EMU_REG_NONE ? EMU_H_LD8_b : EMU_H_LD8_bi) + k);
}

static int flat_b(const struct emu_insn *in, unsigned mode)
{
	return select_flat(in, mode, 0) == EMU_H_LD8_b;
}

uint8_t emu_handler_select(const struct emu_insn *in, unsigned mode)
{
	unsigned sz = in->osize, reg = in->flags & EMU_I_REG;
	int s84 = sz == 8 || sz == 4, s4 = sz == 4;
	uint8_t h;

	switch (in->op) {
	case EMU_OP_NOP:
		return EMU_H_NOP;
	case EMU_OP_MOV_EG:
		if (sz == 1 && flat_b(in, mode))
			return EMU_H_ST1_b;
		if (!s84)
			break;
		if ((h = select_flat(in, mode, 2u + (unsigned)s4)))
			return h;
		return (uint8_t)(reg ? EMU_H_MOV_EG_R8 + s4 : EMU_H_MOV_ST8 + s4);
	case EMU_OP_MOV_GE:
		if (!s84)
			break;
		if ((h = select_flat(in, mode, (unsigned)s4)))
			return h;
		return (uint8_t)(reg ? EMU_H_MOV_GE_R8 + s4 : EMU_H_MOV_LD8 + s4);
	case EMU_OP_MOV_EI:
		if (!reg)
			return EMU_H_MOV_SI;
		return s84 ? (uint8_t)(EMU_H_MOV_RI8 + s4) : EMU_H_GENERIC;
	case EMU_OP_MOVZX:
		if (in->sub == 1 && sz == 4 && (h = select_flat(in, mode, 4)))
			return h;
		return reg ? EMU_H_MOVZX_R : EMU_H_MOVZX_M;
	case EMU_OP_MOVSX:
		if (in->sub == 4 && sz == 8)
			return reg		  ? EMU_H_MOVSXD_R
			       : flat_b(in, mode) ? EMU_H_MOVSXD_M_b
						  : EMU_H_MOVSX;
		return EMU_H_MOVSX;
	case EMU_OP_LEA:
		return s84 ? (uint8_t)(EMU_H_LEA8 + s4) : EMU_H_GENERIC;
	case EMU_OP_ALU_EG:
		h = select_alu(in, EMU_H_ALU_EG_ADD_8);
		return h != EMU_H_GENERIC ? h : (uint8_t)EMU_H_ALU_EG_X;
	case EMU_OP_ALU_GE:
		h = select_alu(in, EMU_H_ALU_GE_ADD_8);
		return h != EMU_H_GENERIC ? h : (uint8_t)EMU_H_ALU_GE_X;
	case EMU_OP_ALU_EI:
		if (in->sub == EMU_ALU_CMP && reg && sz == 1)
			return EMU_H_CMPI_R1;
		if (in->sub == EMU_ALU_CMP && flat_b(in, mode))
			return EMU_H_CMPI_M_b;
		h = select_alu(in, EMU_H_ALU_EI_ADD_8);
		return h != EMU_H_GENERIC ? h : (uint8_t)EMU_H_ALU_EI_X;
	case EMU_OP_TEST_EG:
		if (reg && sz == 1)
			return EMU_H_TEST_R1;
		return reg && s84 ? (uint8_t)(EMU_H_TEST_RR8 + s4) : (uint8_t)EMU_H_TEST_E;
	case EMU_OP_TEST_EI:
		if (reg)
			return sz == 1 ? EMU_H_TESTI_R1 : s84 ? EMU_H_TESTI_R : EMU_H_TEST_E;
		return flat_b(in, mode) ? EMU_H_TESTI_M_b : EMU_H_TEST_E;
	case EMU_OP_SHIFT:
		if (!reg || !s84)
			return EMU_H_SHIFT;
		if (in->sub == EMU_SH_SHL || in->sub == EMU_SH_SAL)
			return (uint8_t)(EMU_H_SHL8 + s4);
		if (in->sub == EMU_SH_SHR)
			return (uint8_t)(EMU_H_SHR8 + s4);
		if (in->sub == EMU_SH_SAR)
			return (uint8_t)(EMU_H_SAR8 + s4);
		return EMU_H_SHIFT;
	case EMU_OP_INC:
	case EMU_OP_DEC:
		if (!reg || !s84)
			break;
		return (uint8_t)((in->op == EMU_OP_INC ? EMU_H_INC8 : EMU_H_DEC8) + s4);
	case EMU_OP_JCC:
		return EMU_H_JCC;
	case EMU_OP_JMP_REL:
		return EMU_H_JMP_REL;
	case EMU_OP_CALL_REL:
		return sz == 8 ? EMU_H_CALL_REL8 : EMU_H_GENERIC;
	case EMU_OP_RET:
		return sz == 8 && !in->imm ? EMU_H_RET8 : EMU_H_GENERIC;
	case EMU_OP_PUSH_E:
		return sz == 8 && reg ? EMU_H_PUSH_R8 : EMU_H_GENERIC;
	case EMU_OP_POP_E:
		return sz == 8 && reg ? EMU_H_POP_R8 : EMU_H_GENERIC;
	case EMU_OP_CMOV:
		return EMU_H_CMOV;
	case EMU_OP_SETCC:
		return EMU_H_SETCC;
	default:
		break;
	}
	return EMU_H_GENERIC;
}

/* Threaded dispatch: with GNU C's labels as values each handler ends in its own indirect jump to
 * the next instruction's handler; other compilers get the same handlers behind one switch. */
#if defined(__GNUC__) && !defined(EMU_SWITCH_DISPATCH)
#define EMU_THREADED 1
#else
#define EMU_THREADED 0
#endif

/* Run blocks until an exit. Each block's instructions are charged against icount_left when it
 * starts (a block is cut to the budget left); the instructions a block did not run are given back
 * when it ends early, and c->blk_* let emu_run and emu_rdtsc account exactly while an instruction
 * runs or after one faults (emu_icount_left). */
static int run_blocks(struct emu_cpu *c)
{
#if EMU_THREADED
#define EMU_H_LABEL(name, body, check) &&h_##name,
	static const void *const labels[EMU_H_COUNT] = {EMU_HANDLERS(EMU_H_LABEL)};
#undef EMU_H_LABEL
#define EMU_DISPATCH() goto *labels[in->hid]
#else
#define EMU_DISPATCH() goto dispatch
#endif
	const struct emu_insn *in, *end;
	int r;

	for (;;) {
		int one = 0;

		/* Injected interrupts, NMIs, the interrupt shadow and stop requests. */
		if (unlikely(__atomic_load_n(&c->events, __ATOMIC_RELAXED))) {
			r = emu_events(c, &one);
			if (r)
				return r;
		}
		const struct emu_block *b = emu_icache_get_fast(c, &in);
		if (unlikely(!b))
			b = emu_icache_get_slow(c, &in);
		uint64_t n = unlikely(one) ? 1 : b->n;

		if (unlikely(n > c->icount_left))
			n = c->icount_left;
		c->icount_left -= n;
		end = in + n;
		c->blk_start = in;
		c->blk_end = end;
		c->blk_rip = c->st.rip;
		c->stop_block = 0;
		c->next_rip = (c->st.rip + in->len) & c->ip_mask;
		EMU_DISPATCH();

		/* After an instruction: commit RIP, then on to the next one unless the block ends.
		 */
#define EMU_NEXT(check)                                                                            \
	do {                                                                                       \
		uint64_t rip_ = c->next_rip;                                                       \
		c->st.rip = rip_;                                                                  \
		if (unlikely((++in == end) | ((check) && c->stop_block)))                          \
			goto block_end;                                                            \
		c->next_rip = (rip_ + in->len) & c->ip_mask;                                       \
		EMU_DISPATCH();                                                                    \
	} while (0)

#if !EMU_THREADED
	dispatch:
		switch (in->hid) {
#define EMU_H_CASE(name, body, check)                                                              \
	case EMU_H_##name:                                                                         \
		goto h_##name;
			EMU_HANDLERS(EMU_H_CASE)
#undef EMU_H_CASE
		}
#endif
	h_GENERIC:
		r = exec_one(c, in);
		if (unlikely(r)) {
			c->st.rip = c->next_rip;
			c->icount_left += (uint64_t)(end - in - 1);
			c->blk_end = NULL;
			return r;
		}
		EMU_NEXT(1);
	h_JCC:
		/* Blocks extend past conditional branches (icache.c): a taken one leaves the block.
		 */
		if (emu_cond_fast(c, in->sub)) {
			jump_to(c, in, c->next_rip + in->imm);
			c->st.rip = c->next_rip;
			in++;
			goto block_end;
		}
		EMU_NEXT(0);
#define EMU_H_BODY(name, body, check)                                                              \
	h_##name : body;                                                                           \
	EMU_NEXT(check);
		EMU_HANDLERS_FAST(EMU_H_BODY)
#undef EMU_H_BODY
	block_end:
		c->icount_left += (uint64_t)(end - in);
		c->blk_end = NULL;
		if (unlikely(c->icount_left == 0))
			return EMU_EXIT_LIMIT;
	}
#undef EMU_NEXT
#undef EMU_DISPATCH
}

int emu_run(struct emu_cpu *c, uint64_t max_insns)
{
	c->icount_left = max_insns ? max_insns : UINT64_MAX;
	c->run_budget = c->icount_left;
	c->exit.reason = EMU_EXIT_NONE;
	c->delivering = 0;
	c->blk_end = NULL;
	if (setjmp(c->jb)) {
		/* An exception or exit unwound an instruction (or a delivery): the block's
		 * instructions from the one that did not complete are not charged. */
		c->icount_left = emu_icount_left(c);
		c->blk_end = NULL;
		if (c->lock_tlb) {
			*c->lock_tlb = c->lock_saved;
			c->lock_tlb = NULL;
		}
		c->in_locked = 0;
		if (c->exit.reason == EMU_EXIT_NONE && !c->exc_exit)
			c->exit.reason = (uint32_t)emu_exception(c);
		else if (c->exit.reason == EMU_EXIT_NONE)
			c->exit.reason = EMU_EXIT_EXCEPTION;
		if (c->exit.reason != EMU_EXIT_NONE) {
			emu_cpu_update_mode(c);
			goto out;
		}
		/* A delivered exception counts against the budget like an instruction: a handler
		 * that faults again (e.g. on its own fetch, with a stack that wraps and never
		 * overflows) would otherwise loop here without end. */
		if (--c->icount_left == 0) {
			c->exit.reason = EMU_EXIT_LIMIT;
			goto out;
		}
	}
	c->exit.reason = (uint32_t)run_blocks(c);
out:
	c->icount += c->run_budget - c->icount_left;
	c->run_budget = c->icount_left;
	return (int)c->exit.reason;
}

int emu_step(struct emu_cpu *c)
{
	int r = emu_run(c, 1);
	return r == EMU_EXIT_LIMIT ? EMU_EXIT_NONE : r;
}

void emu_request_stop(struct emu_cpu *c)
{
	__atomic_store_n(&c->stop_req, 1, __ATOMIC_RELAXED);
	__atomic_fetch_or(&c->events, 1u, __ATOMIC_RELAXED);
}
