/* emu: MMX/SSE dispatch. One table entry per (map, opcode, mandatory prefix) names the handler,
 * its argument and the instruction class, which selects the checks made first:
 *   C_SSE     CR0.EM or !CR4.OSFXSR: #UD; CR0.TS: #NM
 *   C_MMX     CR0.EM: #UD; CR0.TS: #NM; then the MMX transition (TOP = 0, all tags valid)
 *   C_SSEMMX  the SSE checks, then the MMX transition (SSE instructions with an MMX operand)
 *   C_MMXNT   the MMX checks without the transition (EMMS)
 *   C_NONE    no FPU checks (CRC32, MOVNTI; the 0F AE group checks per form)
 * An empty entry is #UD (prefix/opcode combinations that do not exist). A pending x87 exception
 * raises #MF before an MMX instruction (x87_check_pending). The class checks come before the
 * handler's own: a register operand in a memory-only form (MOVNTQ, LDDQU, MOVNTDQA, ...) with
 * CR0.TS set or an x87 exception pending gives #NM or #MF where the CPU gives #UD. */
#include "accel/emu/sse_priv.h"

enum { C_UD = 0, C_SSE, C_MMX, C_SSEMMX, C_MMXNT, C_NONE };

struct sse_ent {
	sse_fn fn;
	uint16_t arg;
	uint8_t cls;
};

#define E(f, a, k)                                                                                 \
	{                                                                                          \
		f, (uint16_t)(a), k                                                                \
	}
#define MOV(a) E(sse_mov, a, C_SSE)
#define MMXMOV(a) E(sse_mov, a, C_MMX)
#define I2(op, esz)                                                                                \
	{                                                                                          \
		E(sse_int2, IA(op, esz), C_MMX), E(sse_int2, IA(op, esz), C_SSE)                   \
	}
#define I2X(op)                                                                                    \
	{                                                                                          \
		E(sse_int2, IA(op, 1) | X16, C_SSE), E(sse_int2, IA(op, 1) | X16, C_SSE)           \
	}
#define I66(op, esz)                                                                               \
	{                                                                                          \
		[1] = E(sse_int2, IA(op, esz), C_SSE)                                              \
	}
#define FP4(op)                                                                                    \
	{                                                                                          \
		E(sse_fp_arith, (op) | FA_PFX, C_SSE), E(sse_fp_arith, (op) | FA_PFX, C_SSE),      \
		    E(sse_fp_arith, (op) | FA_PFX, C_SSE), E(sse_fp_arith, (op) | FA_PFX, C_SSE)   \
	}
#define SHF(kind, esz)                                                                             \
	{                                                                                          \
		E(sse_shift, (kind) | ((esz) << 4), C_MMX),                                        \
		    E(sse_shift, (kind) | ((esz) << 4), C_SSE)                                     \
	}
#define CV(a) E(sse_fp_cvt, a, C_SSE)
#define CVM(a) E(sse_fp_cvt, a, C_SSEMMX)
#define SH2(a)                                                                                     \
	{                                                                                          \
		E(sse_shuf, a, C_MMX), E(sse_shuf, a, C_SSE)                                       \
	}
#define SH66(a)                                                                                    \
	{                                                                                          \
		[1] = E(sse_shuf, a, C_SSE)                                                        \
	}
#define PMOV(s, d, sg)                                                                             \
	{                                                                                          \
		[1] = E(sse_int_misc, IM_PMOV(s, d, sg), C_SSE)                                    \
	}

static const struct sse_ent tab_0f[256][4] = {
    [0x10] = {MOV(MV_LOADU), MOV(MV_LOADU), MOV(MV_SS_LOAD), MOV(MV_SD_LOAD)},
    [0x11] = {MOV(MV_STOREU), MOV(MV_STOREU), MOV(MV_SS_STORE), MOV(MV_SD_STORE)},
    [0x12] = {MOV(MV_LPS_LOAD), MOV(MV_LPD_LOAD), MOV(MV_SLDUP), MOV(MV_DDUP)},
    [0x13] = {MOV(MV_LP_STORE), MOV(MV_LP_STORE)},
    [0x14] = {E(sse_int2, IA(I_UNPCKL, 4) | X16, C_SSE), E(sse_int2, IA(I_UNPCKL, 8), C_SSE)},
    [0x15] = {E(sse_int2, IA(I_UNPCKH, 4) | X16, C_SSE), E(sse_int2, IA(I_UNPCKH, 8), C_SSE)},
    [0x16] = {MOV(MV_HPS_LOAD), MOV(MV_HPD_LOAD), MOV(MV_SHDUP)},
    [0x17] = {MOV(MV_HP_STORE), MOV(MV_HP_STORE)},
    [0x28] = {MOV(MV_LOADA), MOV(MV_LOADA)},
    [0x29] = {MOV(MV_STOREA), MOV(MV_STOREA)},
    [0x2a] = {CV(CV_PI2PS), CV(CV_PI2PD), CV(CV_SI2SS), CV(CV_SI2SD)},
    [0x2b] = {MOV(MV_STORENT), MOV(MV_STORENT)},
    [0x2c] = {CVM(CV_TPS2PI), CVM(CV_TPD2PI), CV(CV_TSS2SI), CV(CV_TSD2SI)},
    [0x2d] = {CVM(CV_PS2PI), CVM(CV_PD2PI), CV(CV_SS2SI), CV(CV_SD2SI)},
    [0x2e] = {E(sse_fp_cmp, CMP_UCOMISS, C_SSE), E(sse_fp_cmp, CMP_UCOMISD, C_SSE)},
    [0x2f] = {E(sse_fp_cmp, CMP_COMISS, C_SSE), E(sse_fp_cmp, CMP_COMISD, C_SSE)},
    [0x50] = {MOV(MV_MSKPS), MOV(MV_MSKPD)},
    [0x51] = FP4(FP_SQRT),
    [0x52] = {E(sse_fp_arith, FA(FP_RSQRT, F_PS), C_SSE),
	      {0},
	      E(sse_fp_arith, FA(FP_RSQRT, F_SS), C_SSE)},
    [0x53] = {E(sse_fp_arith, FA(FP_RCP, F_PS), C_SSE),
	      {0},
	      E(sse_fp_arith, FA(FP_RCP, F_SS), C_SSE)},
    [0x54] = I2X(I_AND),
    [0x55] = I2X(I_ANDN),
    [0x56] = I2X(I_OR),
    [0x57] = I2X(I_XOR),
    [0x58] = FP4(FP_ADD),
    [0x59] = FP4(FP_MUL),
    [0x5a] = {CV(CV_PS2PD), CV(CV_PD2PS), CV(CV_SS2SD), CV(CV_SD2SS)},
    [0x5b] = {CV(CV_DQ2PS), CV(CV_PS2DQ), CV(CV_TPS2DQ)},
    [0x5c] = FP4(FP_SUB),
    [0x5d] = FP4(FP_MIN),
    [0x5e] = FP4(FP_DIV),
    [0x5f] = FP4(FP_MAX),
    [0x60] = I2(I_UNPCKL, 1),
    [0x61] = I2(I_UNPCKL, 2),
    [0x62] = I2(I_UNPCKL, 4),
    [0x63] = I2(I_PACKSS, 2),
    [0x64] = I2(I_CMPGT, 1),
    [0x65] = I2(I_CMPGT, 2),
    [0x66] = I2(I_CMPGT, 4),
    [0x67] = I2(I_PACKUS, 2),
    [0x68] = I2(I_UNPCKH, 1),
    [0x69] = I2(I_UNPCKH, 2),
    [0x6a] = I2(I_UNPCKH, 4),
    [0x6b] = I2(I_PACKSS, 4),
    [0x6c] = I66(I_UNPCKL, 8),
    [0x6d] = I66(I_UNPCKH, 8),
    [0x6e] = {MMXMOV(MV_D_TO), MOV(MV_D_TO)},
    [0x6f] = {MMXMOV(MV_Q_MM_LOAD), MOV(MV_LOADA), MOV(MV_LOADU)},
    [0x70] = {E(sse_shuf, SH_PSHUFW, C_MMX), E(sse_shuf, SH_PSHUFD, C_SSE),
	      E(sse_shuf, SH_PSHUFHW, C_SSE), E(sse_shuf, SH_PSHUFLW, C_SSE)},
    [0x71] = {E(sse_shift, 0x171, C_MMX), E(sse_shift, 0x171, C_SSE)},
    [0x72] = {E(sse_shift, 0x172, C_MMX), E(sse_shift, 0x172, C_SSE)},
    [0x73] = {E(sse_shift, 0x173, C_MMX), E(sse_shift, 0x173, C_SSE)},
    [0x74] = I2(I_CMPEQ, 1),
    [0x75] = I2(I_CMPEQ, 2),
    [0x76] = I2(I_CMPEQ, 4),
    [0x77] = {E(sse_mov, MV_EMMS, C_MMXNT)},
    [0x7c] = {{0},
	      E(sse_fp_arith, FA(FP_HADD, F_PD), C_SSE),
	      {0},
	      E(sse_fp_arith, FA(FP_HADD, F_PS), C_SSE)},
    [0x7d] = {{0},
	      E(sse_fp_arith, FA(FP_HSUB, F_PD), C_SSE),
	      {0},
	      E(sse_fp_arith, FA(FP_HSUB, F_PS), C_SSE)},
    [0x7e] = {MMXMOV(MV_D_FROM), MOV(MV_D_FROM), MOV(MV_Q_XMM_LOAD)},
    [0x7f] = {MMXMOV(MV_Q_MM_STORE), MOV(MV_STOREA), MOV(MV_STOREU)},
    [0xae] = {E(sse_grp15, 0, C_NONE), E(sse_grp15, 1, C_NONE), E(sse_grp15, 2, C_NONE),
	      E(sse_grp15, 3, C_NONE)},
    [0xc2] = {E(sse_fp_cmp, CMP_PS, C_SSE), E(sse_fp_cmp, CMP_PD, C_SSE),
	      E(sse_fp_cmp, CMP_SS, C_SSE), E(sse_fp_cmp, CMP_SD, C_SSE)},
    [0xc3] = {E(sse_mov, MV_NTI, C_NONE)},
    [0xc4] = {E(sse_insext, IX_PINSRW, C_MMX), E(sse_insext, IX_PINSRW, C_SSE)},
    [0xc5] = {E(sse_insext, IX_PEXTRW, C_MMX), E(sse_insext, IX_PEXTRW, C_SSE)},
    [0xc6] = {E(sse_shuf, SH_SHUFPS, C_SSE), E(sse_shuf, SH_SHUFPD, C_SSE)},
    [0xd0] = {{0},
	      E(sse_fp_arith, FA(FP_ADDSUB, F_PD), C_SSE),
	      {0},
	      E(sse_fp_arith, FA(FP_ADDSUB, F_PS), C_SSE)},
    [0xd1] = SHF(0, 2),
    [0xd2] = SHF(0, 4),
    [0xd3] = SHF(0, 8),
    [0xd4] = I2(I_ADD, 8),
    [0xd5] = I2(I_MULL, 2),
    [0xd6] = {{0},
	      MOV(MV_Q_XMM_STORE),
	      E(sse_mov, MV_Q2DQ, C_SSEMMX),
	      E(sse_mov, MV_DQ2Q, C_SSEMMX)},
    [0xd7] = {MMXMOV(MV_PMOVMSKB), MOV(MV_PMOVMSKB)},
    [0xd8] = I2(I_SUBUS, 1),
    [0xd9] = I2(I_SUBUS, 2),
    [0xda] = I2(I_MINU, 1),
    [0xdb] = I2(I_AND, 1),
    [0xdc] = I2(I_ADDUS, 1),
    [0xdd] = I2(I_ADDUS, 2),
    [0xde] = I2(I_MAXU, 1),
    [0xdf] = I2(I_ANDN, 1),
    [0xe0] = I2(I_AVG, 1),
    [0xe1] = SHF(1, 2),
    [0xe2] = SHF(1, 4),
    [0xe3] = I2(I_AVG, 2),
    [0xe4] = I2(I_MULHU, 2),
    [0xe5] = I2(I_MULH, 2),
    [0xe6] = {{0}, CV(CV_TPD2DQ), CV(CV_DQ2PD), CV(CV_PD2DQ)},
    [0xe7] = {MMXMOV(MV_NTQ), MOV(MV_STORENT)},
    [0xe8] = I2(I_SUBS, 1),
    [0xe9] = I2(I_SUBS, 2),
    [0xea] = I2(I_MINS, 2),
    [0xeb] = I2(I_OR, 1),
    [0xec] = I2(I_ADDS, 1),
    [0xed] = I2(I_ADDS, 2),
    [0xee] = I2(I_MAXS, 2),
    [0xef] = I2(I_XOR, 1),
    [0xf0] = {[3] = MOV(MV_LDDQU)},
    [0xf1] = SHF(2, 2),
    [0xf2] = SHF(2, 4),
    [0xf3] = SHF(2, 8),
    [0xf4] = I2(I_MULUDQ, 4),
    [0xf5] = I2(I_MADDWD, 2),
    [0xf6] = I2(I_SADBW, 1),
    [0xf7] = {MMXMOV(MV_MASKMOV), MOV(MV_MASKMOV)},
    [0xf8] = I2(I_SUB, 1),
    [0xf9] = I2(I_SUB, 2),
    [0xfa] = I2(I_SUB, 4),
    [0xfb] = I2(I_SUB, 8),
    [0xfc] = I2(I_ADD, 1),
    [0xfd] = I2(I_ADD, 2),
    [0xfe] = I2(I_ADD, 4),
};

static const struct sse_ent tab_0f38[256][4] = {
    [0x00] = SH2(SH_PSHUFB),
    [0x01] = I2(I_HADD, 2),
    [0x02] = I2(I_HADD, 4),
    [0x03] = I2(I_HADDS, 2),
    [0x04] = I2(I_MADDUBSW, 1),
    [0x05] = I2(I_HSUB, 2),
    [0x06] = I2(I_HSUB, 4),
    [0x07] = I2(I_HSUBS, 2),
    [0x08] = I2(I_SIGN, 1),
    [0x09] = I2(I_SIGN, 2),
    [0x0a] = I2(I_SIGN, 4),
    [0x0b] = I2(I_MULHRSW, 2),
    [0x10] = SH66(SH_PBLENDVB),
    [0x14] = SH66(SH_BLENDVPS),
    [0x15] = SH66(SH_BLENDVPD),
    [0x17] = {[1] = E(sse_int_misc, IM_PTEST, C_SSE)},
    [0x1c] = I2(I_ABS, 1),
    [0x1d] = I2(I_ABS, 2),
    [0x1e] = I2(I_ABS, 4),
    [0x20] = PMOV(1, 2, 1),
    [0x21] = PMOV(1, 4, 1),
    [0x22] = PMOV(1, 8, 1),
    [0x23] = PMOV(2, 4, 1),
    [0x24] = PMOV(2, 8, 1),
    [0x25] = PMOV(4, 8, 1),
    [0x28] = I66(I_MULDQ, 4),
    [0x29] = I66(I_CMPEQ, 8),
    [0x2a] = {[1] = MOV(MV_NTDQA)},
    [0x2b] = I66(I_PACKUS, 4),
    [0x30] = PMOV(1, 2, 0),
    [0x31] = PMOV(1, 4, 0),
    [0x32] = PMOV(1, 8, 0),
    [0x33] = PMOV(2, 4, 0),
    [0x34] = PMOV(2, 8, 0),
    [0x35] = PMOV(4, 8, 0),
    [0x37] = I66(I_CMPGT, 8),
    [0x38] = I66(I_MINS, 1),
    [0x39] = I66(I_MINS, 4),
    [0x3a] = I66(I_MINU, 2),
    [0x3b] = I66(I_MINU, 4),
    [0x3c] = I66(I_MAXS, 1),
    [0x3d] = I66(I_MAXS, 4),
    [0x3e] = I66(I_MAXU, 2),
    [0x3f] = I66(I_MAXU, 4),
    [0x40] = I66(I_MULL, 4),
    [0x41] = {[1] = E(sse_int_misc, IM_PHMINPOSUW, C_SSE)},
    [0xf0] = {[3] = E(sse_crc32, 0, C_NONE)},
    [0xf1] = {[3] = E(sse_crc32, 1, C_NONE)},
};

#define RND(f)                                                                                     \
	{                                                                                          \
		[1] = E(sse_fp_round, f, C_SSE)                                                    \
	}
#define IX66(a)                                                                                    \
	{                                                                                          \
		[1] = E(sse_insext, a, C_SSE)                                                      \
	}
#define STR(a)                                                                                     \
	{                                                                                          \
		[1] = E(sse_str, a, C_SSE)                                                         \
	}

static const struct sse_ent tab_0f3a[256][4] = {
    [0x08] = RND(F_PS),
    [0x09] = RND(F_PD),
    [0x0a] = RND(F_SS),
    [0x0b] = RND(F_SD),
    [0x0c] = SH66(SH_BLENDPS),
    [0x0d] = SH66(SH_BLENDPD),
    [0x0e] = SH66(SH_PBLENDW),
    [0x0f] = SH2(SH_PALIGNR),
    [0x14] = IX66(IX_PEXTRB_E),
    [0x15] = IX66(IX_PEXTRW_E),
    [0x16] = IX66(IX_PEXTRD_E),
    [0x17] = IX66(IX_EXTRACTPS),
    [0x20] = IX66(IX_PINSRB),
    [0x21] = SH66(SH_INSERTPS),
    [0x22] = IX66(IX_PINSRD),
    [0x40] = {[1] = E(sse_misc41, M41_DPPS, C_SSE)},
    [0x41] = {[1] = E(sse_misc41, M41_DPPD, C_SSE)},
    [0x42] = {[1] = E(sse_misc41, M41_MPSADBW, C_SSE)},
    [0x60] = STR(0),
    [0x61] = STR(1),
    [0x62] = STR(2),
    [0x63] = STR(3),
};

void sse_mmx_enter(struct emu_cpu *c)
{
	uint16_t fsw = fx_get16(c, FX_FSW);
	unsigned top = (fsw >> 11) & 7;

	if (top) {
		uint8_t old[128];
		memcpy(old, c->st.fxsave + FX_ST, 128);
		for (unsigned j = 0; j < 8; j++)
			memcpy(c->st.fxsave + FX_ST + 16 * j, old + 16 * ((j - top) & 7), 16);
		fx_set16(c, FX_FSW, (uint16_t)(fsw & ~0x3800u));
	}
	c->st.fxsave[FX_FTW] = 0xff;
}

void emu_exec_sse(struct emu_cpu *c, const struct emu_insn *in)
{
	unsigned map = (unsigned)(in->imm2 >> 8) - 2, opc = in->imm2 & 0xff;
	const struct sse_ent *e;
	uint64_t cr0 = c->st.cr0;

	if (map == 0)
		e = &tab_0f[opc][in->sub & 3];
	else if (map == 1)
		e = &tab_0f38[opc][in->sub & 3];
	else
		e = &tab_0f3a[opc][in->sub & 3];
	if (map == 0 && opc >= 0x71 && opc <= 0x73 && sse_shift_imm_kind(in, opc) < 0)
		emu_raise(c, EMU_UD, 0, 0);
	switch (e->cls) {
	case C_UD:
		emu_raise(c, EMU_UD, 0, 0);
	case C_SSE:
	case C_SSEMMX:
		if ((cr0 & X86_CR0_EM) || !(c->st.cr4 & X86_CR4_OSFXSR))
			emu_raise(c, EMU_UD, 0, 0);
		if (cr0 & X86_CR0_TS)
			emu_raise(c, EMU_NM, 0, 0);
		if (e->cls == C_SSEMMX)
			x87_check_pending(c);
		break;
	case C_MMX:
	case C_MMXNT:
		if (cr0 & X86_CR0_EM)
			emu_raise(c, EMU_UD, 0, 0);
		if (cr0 & X86_CR0_TS)
			emu_raise(c, EMU_NM, 0, 0);
		x87_check_pending(c);
		break;
	default:
		break;
	}
	e->fn(c, in, e->arg);
	if (e->cls == C_MMX || e->cls == C_SSEMMX)
		sse_mmx_enter(c);
}

/* ---- operand helpers ---- */

void sse_ld128(struct emu_cpu *c, const struct emu_insn *in, uint64_t ea, xmm_t *v, int align)
{
	uint64_t lin = emu_linear(c, in->seg, ea, 16, EMU_ACC_R);

	if (align && (lin & 15))
		emu_raise(c, EMU_GP, 1, 0);
	v->q[0] = emu_ld_lin(c, lin, 8);
	v->q[1] = emu_ld_lin(c, (lin + 8) & c->lin_mask, 8);
}

void sse_st128(struct emu_cpu *c, const struct emu_insn *in, uint64_t ea, const xmm_t *v, int align)
{
	uint64_t lin = emu_linear(c, in->seg, ea, 16, EMU_ACC_W);

	if (align && (lin & 15))
		emu_raise(c, EMU_GP, 1, 0);
	if ((lin & 0xfff) > 4096 - 16)
		emu_probe_write(c, in->seg, ea, 16);
	emu_st_lin(c, lin, 8, v->q[0]);
	emu_st_lin(c, (lin + 8) & c->lin_mask, 8, v->q[1]);
}

void sse_get_e(struct emu_cpu *c, const struct emu_insn *in, xmm_t *v, unsigned n, int mmx,
	       int align)
{
	if (in->flags & EMU_I_REG) {
		if (mmx) {
			v->q[0] = mmx_get(c, in->rm);
			v->q[1] = 0;
		} else {
			xmm_get(c, in->rm, v);
		}
		return;
	}
	uint64_t ea = emu_ea(c, in);
	if (n == 16) {
		sse_ld128(c, in, ea, v, align);
		return;
	}
	v->q[0] = emu_ld(c, in->seg, ea, n);
	v->q[1] = 0;
}

void sse_get_g(struct emu_cpu *c, const struct emu_insn *in, xmm_t *v, unsigned width)
{
	if (width == 8) {
		v->q[0] = mmx_get(c, in->reg);
		v->q[1] = 0;
	} else {
		xmm_get(c, in->reg, v);
	}
}

void sse_set_g(struct emu_cpu *c, const struct emu_insn *in, const xmm_t *v, unsigned width)
{
	if (width == 8)
		mmx_set(c, in->reg, v->q[0]);
	else
		xmm_set(c, in->reg, v);
}
