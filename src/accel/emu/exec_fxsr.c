/* emu: the 0F AE group: FXSAVE/FXRSTOR (legacy 512-byte image, 32-bit and REX.W forms),
 * LDMXCSR/STMXCSR, CLFLUSH/CLFLUSHOPT/CLWB (a read access check, no cache to flush); the fences
 * decode as NOP (decode.c). XSAVE/XRSTOR/XSAVEOPT and RD/WR{FS,GS}BASE are not implemented here
 * (EMU_EXIT_UNIMPL; XSAVE is not advertised).
 *
 * FXSAVE writes bytes 0-415 (0-287 outside 64-bit mode: XMM8-15 exist only there) and leaves the
 * reserved and software-available area alone. FIP/FDP/FOP are stored as kept in st.fxsave (the
 * x87 code does not track them). FXRSTOR loads MXCSR first and raises #GP(0) when it sets bits
 * outside MXCSR_MASK. */
#include "accel/emu/sse_priv.h"

static void fxsr_check_nm(struct emu_cpu *c)
{
	if (c->st.cr0 & (X86_CR0_TS | X86_CR0_EM))
		emu_raise(c, EMU_NM, 0, 0);
}

static void fxsr_check_sse(struct emu_cpu *c)
{
	if ((c->st.cr0 & X86_CR0_EM) || !(c->st.cr4 & X86_CR4_OSFXSR))
		emu_raise(c, EMU_UD, 0, 0);
	if (c->st.cr0 & X86_CR0_TS)
		emu_raise(c, EMU_NM, 0, 0);
}

static uint64_t fxsr_aligned_lin(struct emu_cpu *c, const struct emu_insn *in, uint64_t ea, int acc)
{
	uint64_t lin = emu_linear(c, in->seg, ea, 512, acc);
	if (lin & 15)
		emu_raise(c, EMU_GP, 1, 0);
	return lin;
}

static void fxsave(struct emu_cpu *c, const struct emu_insn *in)
{
	unsigned len = c->mode == EMU_MODE_64 ? 416 : 288;
	uint64_t ea = emu_ea(c, in), lin;
	uint8_t img[416];

	fxsr_check_nm(c);
	lin = fxsr_aligned_lin(c, in, ea, EMU_ACC_W);
	emu_probe_write(c, in->seg, ea, len);
	memcpy(img, c->st.fxsave, len);
	memset(img + 5, 0, 1);
	if (!(img[FX_FSW] & 0x80)) /* FOP, FIP, FDP only with an exception pending (as AMD) */
		memset(img + FX_FOP, 0, 18);
	if (in->osize != 8) { /* 32-bit form: FIP, FCS, FDP, FDS */
		memset(img + 12, 0, 4);
		memset(img + 20, 0, 4);
		if (img[FX_FSW] & 0x80) {
			memcpy(img + 12, c->st.fxsave + FX_PRIV_FCS, 2);
			memcpy(img + 20, c->st.fxsave + FX_PRIV_FDS, 2);
		}
	}
	uint32_t mask = EMU_MXCSR_MASK;
	memcpy(img + FX_MXCSR_MASK, &mask, 4);
	for (unsigned i = 0; i < len; i += 8) {
		uint64_t v;
		memcpy(&v, img + i, 8);
		emu_st_lin(c, (lin + i) & c->lin_mask, 8, v);
	}
}

static void fxrstor(struct emu_cpu *c, const struct emu_insn *in)
{
	unsigned len = c->mode == EMU_MODE_64 ? 416 : 288;
	uint64_t ea = emu_ea(c, in), lin;
	uint8_t img[416];
	uint32_t mx;

	fxsr_check_nm(c);
	lin = fxsr_aligned_lin(c, in, ea, EMU_ACC_R);
	for (unsigned i = 0; i < len; i += 8) {
		uint64_t v = emu_ld_lin(c, (lin + i) & c->lin_mask, 8);
		memcpy(img + i, &v, 8);
	}
	memcpy(&mx, img + FX_MXCSR, 4);
	if (mx & ~EMU_MXCSR_MASK)
		emu_raise(c, EMU_GP, 1, 0);
	if (in->osize != 8) {
		memcpy(c->st.fxsave + FX_PRIV_FCS, img + 12, 2);
		memcpy(c->st.fxsave + FX_PRIV_FDS, img + 20, 2);
		memset(img + 12, 0, 4);
		memset(img + 20, 0, 4);
	} else { /* the 64-bit image has no selectors: FCS and FDS become 0 */
		memset(c->st.fxsave + FX_PRIV_FCS, 0, 2);
		memset(c->st.fxsave + FX_PRIV_FDS, 0, 2);
	}
	memcpy(img + FX_MXCSR_MASK, c->st.fxsave + FX_MXCSR_MASK, 4);
	img[FX_FOP + 1] &= 7; /* FOP is 11 bits */
	/* ES and B follow from the restored exception flags and masks */
	uint16_t fsw, fcw;
	memcpy(&fcw, img + FX_FCW, 2);
	memcpy(&fsw, img + FX_FSW, 2);
	fsw &= 0x7f7f;
	if (fsw & ~fcw & 0x3f)
		fsw |= 0x8080;
	memcpy(img + FX_FSW, &fsw, 2);
	memcpy(c->st.fxsave, img, len);
}

static void clflush(struct emu_cpu *c, const struct emu_insn *in)
{
	uint64_t lin = emu_linear(c, in->seg, emu_ea(c, in), 1, EMU_ACC_R), gpa;
	(void)emu_tlb_fill(c, lin, EMU_ACC_R, &gpa);
}

/* arg: mandatory prefix (0 none, 1 66, 2 F3, 3 F2). */
void sse_grp15(struct emu_cpu *c, const struct emu_insn *in, unsigned arg)
{
	unsigned r = in->reg & 7;
	uint32_t v;

	if (in->flags & EMU_I_REG) {
		if (arg == 2 && r < 4)
			emu_exit_now(c, EMU_EXIT_UNIMPL); /* RD/WR FS/GS BASE */
		emu_raise(c, EMU_UD, 0, 0);
	}
	if (arg == 1 && r >= 6) { /* CLWB, CLFLUSHOPT */
		clflush(c, in);
		return;
	}
	if (arg != 0)
		emu_raise(c, EMU_UD, 0, 0);
	switch (r) {
	case 0:
		fxsave(c, in);
		break;
	case 1:
		fxrstor(c, in);
		break;
	case 2:
		fxsr_check_sse(c);
		v = (uint32_t)emu_ld(c, in->seg, emu_ea(c, in), 4);
		if (v & ~EMU_MXCSR_MASK)
			emu_raise(c, EMU_GP, 1, 0);
		sse_set_mxcsr(c, v);
		break;
	case 3:
		fxsr_check_sse(c);
		emu_st(c, in->seg, emu_ea(c, in), 4, sse_mxcsr(c));
		break;
	case 7:
		clflush(c, in);
		break;
	default: /* XSAVE, XRSTOR, XSAVEOPT */
		emu_exit_now(c, EMU_EXIT_UNIMPL);
	}
}
