/* emu: x87 FPU: dispatch of D8-DF, the register stack, FXCH, FFREE(P), FINCSTP/FDECSTP, FCMOVcc.
 * Loads and stores (real, integer, BCD, constants) are in exec_x87_ldst.c, the control and
 * environment instructions in exec_x87_env.c, arithmetic and compares in exec_x87_arith.c.
 *
 * Values are 80-bit extended registers computed by the soft-float core (sse_fp.h): no host long
 * double, so results are x86-exact on any host. Exceptions follow the x87 model: flags are
 * sticky in FSW; masked exceptions deliver the default response (QNaN indefinite, integer
 * indefinite, ...); an unmasked one sets ES/B and is reported as #MF (CR0.NE) by the next
 * waiting x87 or MMX instruction. The register stack is kept in the FXSAVE image in ST order,
 * so TOP changes rotate the eight slots. FOP/FIP/FDP record the last non-control instruction
 * (FDP only when it has a memory operand); FXSAVE stores them only while an exception is
 * pending, as the AMD hosts the difftest runs on. FWAIT decodes as NOP (decode_tab.c), so it
 * neither raises #NM (CR0.MP+TS) nor a pending #MF. */
#include "accel/emu/x87_priv.h"

void x87_set(struct emu_cpu *c, unsigned i, struct sfr v)
{
	uint8_t *p = c->st.fxsave + FX_ST + 16 * (i & 7);

	memcpy(p, &v.m, 8);
	memcpy(p + 8, &v.se, 2);
	memset(p + 10, 0, 6);
	c->st.fxsave[FX_FTW] |= (uint8_t)(1u << ((x87_top(c) + i) & 7));
}

/* Rotate the slots for TOP - 1 (down) or TOP + 1 (up). */
static void rotate(struct emu_cpu *c, int down)
{
	uint8_t *st = c->st.fxsave + FX_ST, t[16];

	if (down) {
		memcpy(t, st + 112, 16);
		memmove(st + 16, st, 112);
		memcpy(st, t, 16);
		x87_set_top(c, x87_top(c) - 1);
	} else {
		memcpy(t, st, 16);
		memmove(st, st + 16, 112);
		memcpy(st + 112, t, 16);
		x87_set_top(c, x87_top(c) + 1);
	}
}

void x87_push(struct emu_cpu *c, struct sfr v)
{
	rotate(c, 1);
	x87_set(c, 0, v);
}

/* Push v with the stack-overflow check; flags are the conversion's exceptions. */
void x87_push_checked(struct emu_cpu *c, struct sfr v, uint32_t flags)
{
	if (!x87_empty(c, 7)) {
		if (!x87_stack_fault(c, 1))
			x87_push(c, x87_indef());
		return;
	}
	/* an unmasked DE (FLD m32/m64 of a denormal) still loads the value */
	if (x87_finish(c, flags, 0) && (flags & ~x87_fcw(c) & SF_IE))
		return;
	x87_push(c, v);
}

void x87_pop(struct emu_cpu *c)
{
	c->st.fxsave[FX_FTW] &= (uint8_t) ~(1u << x87_top(c));
	rotate(c, 0);
}

void x87_env(const struct emu_cpu *c, struct sf_env *e, int pc)
{
	static const uint8_t precs[4] = {24, 64, 53, 64};
	uint16_t cw = x87_fcw(c);

	memset(e, 0, sizeof(*e));
	e->rc = (uint8_t)((cw >> 10) & 3);
	e->prec = pc ? precs[(cw >> 8) & 3] : 64;
	e->um = (cw & SF_UE) != 0;
	e->om = (cw & SF_OE) != 0;
	e->x87 = 1;
}

int x87_finish(struct emu_cpu *c, uint32_t flags, int c1)
{
	uint16_t cw = x87_fcw(c), sw = x87_fsw(c);
	int suppress = 0;

	if (flags & ~cw & 0x07) {
		flags &= 0x07 | X87_SF;
		suppress = 1;
	}
	sw |= (uint16_t)(flags & 0x7f);
	if (flags & ~cw & 0x3f)
		sw |= 0x8080;
	if (c1 >= 0)
		sw = (uint16_t)((sw & ~X87_C1) | (c1 && !suppress ? X87_C1 : 0));
	fx_set16(c, FX_FSW, sw);
	return suppress;
}

int x87_stack_fault(struct emu_cpu *c, int overflow)
{
	int r = x87_finish(c, SF_IE | X87_SF, -1);

	x87_set_cc(c, X87_C1, overflow ? X87_C1 : 0); /* even when unmasked */
	return r;
}

void x87_ptrs(struct emu_cpu *c, const struct emu_insn *in, int mem)
{
	uint64_t rip = c->st.rip;

	fx_set16(c, FX_FOP, (uint16_t)(in->imm2 & 0x7ff));
	memcpy(c->st.fxsave + 8, &rip, 8);
	fx_set16(c, FX_PRIV_FCS, c->st.seg[X86_CS].selector);
	if (mem) {
		uint64_t ea = emu_ea(c, in);
		memcpy(c->st.fxsave + 16, &ea, 8);
		fx_set16(c, FX_PRIV_FDS, c->st.seg[in->seg].selector);
	}
}

void x87_set_cc(struct emu_cpu *c, uint16_t mask, uint16_t cc)
{
	fx_set16(c, FX_FSW, (uint16_t)((x87_fsw(c) & ~mask) | (cc & mask)));
}

/* ---- register operations ---- */

static void fld_st(struct emu_cpu *c, unsigned i)
{
	if (x87_empty(c, i)) {
		if (!x87_stack_fault(c, 0))
			x87_push(c, x87_indef()); /* underflow only, even onto a valid register */
		return;
	}
	x87_push_checked(c, x87_raw(c, i), 0);
}

static void fst_st(struct emu_cpu *c, unsigned i, int pop)
{
	struct sfr v;

	if (x87_empty(c, 0)) {
		if (x87_stack_fault(c, 0))
			return;
		v = x87_indef();
	} else {
		v = x87_raw(c, 0);
		x87_finish(c, 0, 0);
	}
	x87_set(c, i, v);
	if (pop)
		x87_pop(c);
}

static void fxch(struct emu_cpu *c, unsigned i)
{
	struct sfr a, b;

	if (x87_empty(c, 0) || x87_empty(c, i)) {
		if (x87_stack_fault(c, 0))
			return;
		a = x87_empty(c, 0) ? x87_indef() : x87_raw(c, 0);
		b = x87_empty(c, i) ? x87_indef() : x87_raw(c, i);
	} else {
		a = x87_raw(c, 0);
		b = x87_raw(c, i);
		x87_finish(c, 0, 0);
	}
	x87_set(c, 0, b);
	x87_set(c, i, a);
}

static void fcmov(struct emu_cpu *c, unsigned cond, int neg, unsigned i)
{
	uint32_t f = emu_flags_arith(c);
	int t;

	switch (cond) {
	case 0:
		t = (f & F_CF) != 0;
		break;
	case 1:
		t = (f & F_ZF) != 0;
		break;
	case 2:
		t = (f & (F_CF | F_ZF)) != 0;
		break;
	default:
		t = (f & F_PF) != 0;
	}
	if (neg)
		t = !t;
	if (x87_empty(c, 0) || x87_empty(c, i)) {
		if (!x87_stack_fault(c, 0))
			x87_set(c, 0, x87_indef()); /* whatever the condition */
		return;
	}
	if (t)
		x87_set(c, 0, x87_raw(c, i)); /* C1 unchanged */
}

/* ---- dispatch ---- */

static _Noreturn void ud(struct emu_cpu *c)
{
	emu_raise(c, EMU_UD, 0, 0);
}

static void exec_d9(struct emu_cpu *c, const struct emu_insn *in, unsigned modrm, int mem)
{
	unsigned reg = (modrm >> 3) & 7, i = modrm & 7;

	if (mem) {
		switch (reg) {
		case 0:
			x87_ptrs(c, in, 1);
			x87_fld_real(c, in, 4);
			return;
		case 2:
		case 3:
			x87_ptrs(c, in, 1);
			x87_fst_mem(c, in, 4, reg == 3);
			return;
		case 4:
			x87_fldenv(c, in, 0);
			return;
		case 5:
			x87_fldcw(c, (uint16_t)emu_ld(c, in->seg, emu_ea(c, in), 2));
			return;
		case 6:
			x87_fnstenv(c, in, 0);
			return;
		case 7:
			emu_st(c, in->seg, emu_ea(c, in), 2, x87_fcw(c));
			return;
		default:
			ud(c);
		}
	}
	x87_ptrs(c, in, 0);
	switch (reg) {
	case 0:
		fld_st(c, i);
		return;
	case 1:
		fxch(c, i);
		return;
	case 2:
		if (i != 0)
			ud(c);
		return; /* FNOP */
	case 3: /* FSTP1: as FSTP, but an empty ST(0) is just popped (AMD: no stack fault) */
		if (x87_empty(c, 0)) {
			x87_pop(c);
			x87_finish(c, 0, 0);
			return;
		}
		fst_st(c, i, 1);
		return;
	case 5:
		if (i == 7)
			ud(c);
		x87_fld_const(c, i);
		return;
	case 6:
		if (i == 6 || i == 7) { /* FDECSTP, FINCSTP */
			rotate(c, i == 6);
			x87_finish(c, 0, 0);
			return;
		}
		break;
	default:
		break;
	}
	x87_d9_math(c, in, modrm);
}

static void exec_db(struct emu_cpu *c, const struct emu_insn *in, unsigned modrm, int mem)
{
	unsigned reg = (modrm >> 3) & 7, i = modrm & 7;

	if (mem) {
		x87_ptrs(c, in, 1);
		switch (reg) {
		case 0:
			x87_fild(c, in, 4);
			return;
		case 1:
		case 2:
		case 3:
			x87_fist(c, in, 4, reg != 2, reg == 1);
			return;
		case 5:
			x87_fld_real(c, in, 10);
			return;
		case 7:
			x87_fst_mem(c, in, 10, 1);
			return;
		default:
			ud(c);
		}
	}
	if (reg < 4) {
		x87_ptrs(c, in, 0);
		fcmov(c, reg, 1, i);
		return;
	}
	if (reg == 4) {
		switch (i) {
		case 0: /* FENI, FDISI, FSETPM: no-ops since the 287 */
		case 1:
		case 4:
			return;
		case 2:
			fx_set16(c, FX_FSW, x87_fsw(c) & 0x7f00);
			return;
		case 3:
			x87_fninit(c);
			return;
		default:
			ud(c);
		}
	}
	if (reg == 5 || reg == 6) {
		x87_ptrs(c, in, 0);
		x87_comi(c, in, i, reg == 5, 0);
		return;
	}
	ud(c);
}

static void exec_dd(struct emu_cpu *c, const struct emu_insn *in, unsigned modrm, int mem)
{
	unsigned reg = (modrm >> 3) & 7, i = modrm & 7;

	if (mem) {
		switch (reg) {
		case 0:
			x87_ptrs(c, in, 1);
			x87_fld_real(c, in, 8);
			return;
		case 1:
			x87_ptrs(c, in, 1);
			x87_fist(c, in, 8, 1, 1);
			return;
		case 2:
		case 3:
			x87_ptrs(c, in, 1);
			x87_fst_mem(c, in, 8, reg == 3);
			return;
		case 4:
			x87_fldenv(c, in, 1);
			return;
		case 6:
			x87_fnstenv(c, in, 1);
			return;
		case 7:
			x87_fnstsw_mem(c, in);
			return;
		default:
			ud(c);
		}
	}
	x87_ptrs(c, in, 0);
	switch (reg) {
	case 0: /* FFREE */
		c->st.fxsave[FX_FTW] &= (uint8_t) ~(1u << ((x87_top(c) + i) & 7));
		x87_finish(c, 0, 0);
		return;
	case 1:
		fxch(c, i);
		return;
	case 2:
	case 3:
		fst_st(c, i, reg == 3);
		return;
	case 4:
	case 5:
		x87_arith(c, in, 5, modrm);
		return;
	default:
		ud(c);
	}
}

static void exec_df(struct emu_cpu *c, const struct emu_insn *in, unsigned modrm, int mem)
{
	unsigned reg = (modrm >> 3) & 7, i = modrm & 7;

	if (mem) {
		x87_ptrs(c, in, 1);
		switch (reg) {
		case 0:
			x87_fild(c, in, 2);
			return;
		case 1:
		case 2:
		case 3:
			x87_fist(c, in, 2, reg != 2, reg == 1);
			return;
		case 4:
			x87_fbld(c, in);
			return;
		case 5:
			x87_fild(c, in, 8);
			return;
		case 6:
			x87_fbstp(c, in);
			return;
		default:
			x87_fist(c, in, 8, 1, 0);
			return;
		}
	}
	switch (reg) {
	case 0: /* FFREEP */
		x87_ptrs(c, in, 0);
		c->st.fxsave[FX_FTW] &= (uint8_t) ~(1u << ((x87_top(c) + i) & 7));
		x87_pop(c);
		x87_finish(c, 0, 0);
		return;
	case 1:
		x87_ptrs(c, in, 0);
		fxch(c, i);
		return;
	case 2:
	case 3:
		x87_ptrs(c, in, 0);
		fst_st(c, i, 1);
		return;
	case 4:
		if (i != 0)
			ud(c);
		reg_set(c, X86_RAX, 2, x87_fsw(c)); /* FNSTSW AX */
		return;
	case 5:
	case 6:
		x87_ptrs(c, in, 0);
		x87_comi(c, in, i, reg == 5, 1);
		return;
	default:
		ud(c);
	}
}

/* Non-waiting control instructions: FNSTENV, FNSTCW, FNCLEX, FNINIT, FNSAVE, FNSTSW (and the
 * 8087/287 no-ops). They do not report pending exceptions. */
static int no_wait(unsigned op, unsigned modrm, int mem)
{
	unsigned reg = (modrm >> 3) & 7;

	if (mem)
		return (op == 1 || op == 5) && reg >= 6;
	return (op == 3 && (modrm & 0xf8) == 0xe0) || (op == 7 && modrm == 0xe0);
}

void emu_exec_x87(struct emu_cpu *c, const struct emu_insn *in)
{
	unsigned op = (in->imm2 >> 8) & 7, modrm = in->imm2 & 0xff;
	int mem = !(in->flags & EMU_I_REG);

	if (c->st.cr0 & (X86_CR0_EM | X86_CR0_TS))
		emu_raise(c, EMU_NM, 0, 0);
	if (!no_wait(op, modrm, mem))
		x87_check_pending(c);
	switch (op) {
	case 1:
		exec_d9(c, in, modrm, mem);
		break;
	case 2:
		if (!mem && modrm < 0xe0) {
			x87_ptrs(c, in, 0);
			fcmov(c, (modrm >> 3) & 3, 0, modrm & 7);
			break;
		}
		x87_arith(c, in, op, modrm);
		break;
	case 3:
		exec_db(c, in, modrm, mem);
		break;
	case 5:
		exec_dd(c, in, modrm, mem);
		break;
	case 7:
		exec_df(c, in, modrm, mem);
		break;
	default: /* D8, DC, DE */
		x87_arith(c, in, op, modrm);
	}
}
