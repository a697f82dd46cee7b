/* emu: definitions shared by the MMX/SSE/x87 files (exec_sse*.c, exec_fxsr.c, exec_x87.c).
 *
 * State lives only in st.fxsave (the legacy FXSAVE image): XMM registers at 160 + 16 * n, the x87
 * and MMX registers at 32 + 16 * i in stack order ST(i), FCW/FSW/abridged FTW at 0/2/4, MXCSR at
 * 24. The host is little-endian, so lanes are accessed through a union copied in and out with
 * memcpy. No host SIMD is used: every lane operation is plain C so the emulator runs on any host.
 *
 * Dispatch is table driven (exec_sse.c): for every (map, opcode) and mandatory prefix (none, 66,
 * F3, F2) an entry names a handler, a small argument and the class of the instruction, which
 * decides the CR0/CR4 checks made before the handler runs. */
#ifndef VMON_ACCEL_EMU_SSE_PRIV_H
#define VMON_ACCEL_EMU_SSE_PRIV_H

#include <stdint.h>
#include <string.h>

#include "accel/emu/emu_priv.h"
#include "accel/emu/sse_features.h"

typedef union {
	uint8_t b[16];
	int8_t sb[16];
	uint16_t w[8];
	int16_t sw[8];
	uint32_t d[4];
	int32_t sd[4];
	uint64_t q[2];
	int64_t sq[2];
	float f[4];
	double f64[2];
} xmm_t;

#define FX_FCW 0
#define FX_FSW 2
#define FX_FTW 4
#define FX_FOP 6
#define FX_MXCSR 24
#define FX_MXCSR_MASK 28
#define FX_ST 32
#define FX_XMM 160
/* Emulator-private x87 state in the image's software-available area (FXSAVE writes only bytes
 * 0-415, so the guest never sees these bytes): the selectors of the last x87 instruction (FCS)
 * and of its memory operand (FDS), which the 64-bit image has no field for. */
#define FX_PRIV_FCS 504
#define FX_PRIV_FDS 506

/* MXCSR bits */
#define MX_IE 0x0001u
#define MX_DE 0x0002u
#define MX_ZE 0x0004u
#define MX_OE 0x0008u
#define MX_UE 0x0010u
#define MX_PE 0x0020u
#define MX_DAZ 0x0040u
#define MX_MASKS 0x1f80u
#define MX_RC_SHIFT 13
#define MX_FZ 0x8000u

static inline uint16_t fx_get16(const struct emu_cpu *c, unsigned off)
{
	uint16_t v;
	memcpy(&v, c->st.fxsave + off, 2);
	return v;
}

static inline void fx_set16(struct emu_cpu *c, unsigned off, uint16_t v)
{
	memcpy(c->st.fxsave + off, &v, 2);
}

static inline uint32_t sse_mxcsr(const struct emu_cpu *c)
{
	uint32_t v;
	memcpy(&v, c->st.fxsave + FX_MXCSR, 4);
	return v;
}

static inline void sse_set_mxcsr(struct emu_cpu *c, uint32_t v)
{
	memcpy(c->st.fxsave + FX_MXCSR, &v, 4);
}

static inline void xmm_get(const struct emu_cpu *c, unsigned r, xmm_t *v)
{
	memcpy(v, c->st.fxsave + FX_XMM + 16 * (r & 15), 16);
}

static inline void xmm_set(struct emu_cpu *c, unsigned r, const xmm_t *v)
{
	memcpy(c->st.fxsave + FX_XMM + 16 * (r & 15), v, 16);
}

/* The image slot of physical x87 register r: slots hold ST(i) = R((TOP + i) & 7). */
static inline uint8_t *fx_phys(struct emu_cpu *c, unsigned r)
{
	unsigned top = (unsigned)(c->st.fxsave[FX_FSW + 1] >> 3) & 7;
	return c->st.fxsave + FX_ST + 16 * ((r - top) & 7);
}

/* MMX register r is physical x87 register R(r). The MMX transition (TOP = 0, all tags valid)
 * is made after the instruction's handler (exec_sse.c), so that a faulting instruction leaves
 * the x87 state alone; until then TOP may be nonzero. */
static inline uint64_t mmx_get(struct emu_cpu *c, unsigned r)
{
	uint64_t v;
	memcpy(&v, fx_phys(c, r & 7), 8);
	return v;
}

/* Writing an MMX register sets the exponent/sign word of the x87 register to all ones. */
static inline void mmx_set(struct emu_cpu *c, unsigned r, uint64_t v)
{
	uint8_t *p = fx_phys(c, r & 7);
	memcpy(p, &v, 8);
	p[8] = p[9] = 0xff;
}

/* #MF before an x87 (waiting) or MMX instruction when an unmasked x87 exception is pending
 * (FSW.ES) and CR0.NE selects native error reporting. With NE clear the PC's external FERR#
 * interrupt path is not modelled: the exception stays pending and the instruction runs. */
static inline void x87_check_pending(struct emu_cpu *c)
{
	if ((c->st.fxsave[FX_FSW] & 0x80) && (c->st.cr0 & X86_CR0_NE))
		emu_raise(c, EMU_MF, 0, 0);
}

/* ---- operand helpers (exec_sse.c) ---- */

/* 16-byte load/store at seg:ea; align: #GP(0) unless 16-byte aligned. The store probes both
 * halves first so that a fault leaves memory unchanged. */
void sse_ld128(struct emu_cpu *c, const struct emu_insn *in, uint64_t ea, xmm_t *v, int align);
void sse_st128(struct emu_cpu *c, const struct emu_insn *in, uint64_t ea, const xmm_t *v,
	       int align);
/* The E operand of an XMM (mmx=0) or MMX (mmx=1) instruction as a 16-byte value: a register, or
 * n bytes of memory (16 checked for alignment when align; 8 or 4 zero-extended). */
void sse_get_e(struct emu_cpu *c, const struct emu_insn *in, xmm_t *v, unsigned n, int mmx,
	       int align);
/* Width of a packed integer operation: 8 for MMX (no prefix), 16 for 66. */
static inline unsigned sse_width(const struct emu_insn *in)
{
	return in->sub == 1 ? 16 : 8;
}
/* The G operand (register reg: MMX when width 8) as a 16-byte value, and its write-back. */
void sse_get_g(struct emu_cpu *c, const struct emu_insn *in, xmm_t *v, unsigned width);
void sse_set_g(struct emu_cpu *c, const struct emu_insn *in, const xmm_t *v, unsigned width);
/* The MMX state transition every MMX instruction makes: TOP = 0, all registers valid. Handlers
 * that transition only for some forms (CVTPI2PS/PD with a register source) call it last. */
void sse_mmx_enter(struct emu_cpu *c);
int sse_shift_imm_kind(const struct emu_insn *in, unsigned opc);

/* Handler arguments. */
enum sse_mov_arg {
	MV_LOADU,
	MV_LOADA,
	MV_STOREU,
	MV_STOREA,
	MV_STORENT,
	MV_SS_LOAD,
	MV_SS_STORE,
	MV_SD_LOAD,
	MV_SD_STORE,
	MV_LPS_LOAD,
	MV_LPD_LOAD,
	MV_LP_STORE,
	MV_HPS_LOAD,
	MV_HPD_LOAD,
	MV_HP_STORE,
	MV_SLDUP,
	MV_SHDUP,
	MV_DDUP,
	MV_D_TO,
	MV_D_FROM,
	MV_Q_XMM_LOAD,
	MV_Q_MM_LOAD,
	MV_Q_MM_STORE,
	MV_Q_XMM_STORE,
	MV_Q2DQ,
	MV_DQ2Q,
	MV_MSKPS,
	MV_MSKPD,
	MV_PMOVMSKB,
	MV_NTI,
	MV_NTQ,
	MV_MASKMOV,
	MV_NTDQA,
	MV_EMMS,
	MV_LDDQU
};
enum sse_shuf_arg {
	SH_SHUFPS,
	SH_SHUFPD,
	SH_PSHUFD,
	SH_PSHUFHW,
	SH_PSHUFLW,
	SH_PSHUFW,
	SH_PALIGNR,
	SH_PSHUFB,
	SH_BLENDPS,
	SH_BLENDPD,
	SH_PBLENDW,
	SH_BLENDVPS,
	SH_BLENDVPD,
	SH_PBLENDVB,
	SH_INSERTPS
};
enum sse_insext_arg {
	IX_PINSRW,
	IX_PEXTRW,
	IX_PEXTRB_E,
	IX_PEXTRW_E,
	IX_PEXTRD_E,
	IX_EXTRACTPS,
	IX_PINSRB,
	IX_PINSRD
};
/* sse_int2: op | size code; X16 forces 16-byte width (no-prefix XMM forms such as ANDPS). */
enum sse_int_op {
	I_ADD,
	I_SUB,
	I_ADDS,
	I_ADDUS,
	I_SUBS,
	I_SUBUS,
	I_CMPEQ,
	I_CMPGT,
	I_MINU,
	I_MINS,
	I_MAXU,
	I_MAXS,
	I_AND,
	I_ANDN,
	I_OR,
	I_XOR,
	I_AVG,
	I_MULL,
	I_MULH,
	I_MULHU,
	I_MULUDQ,
	I_MULDQ,
	I_MADDWD,
	I_SADBW,
	I_PACKSS,
	I_PACKUS,
	I_UNPCKL,
	I_UNPCKH,
	I_HADD,
	I_HADDS,
	I_HSUB,
	I_HSUBS,
	I_MADDUBSW,
	I_SIGN,
	I_MULHRSW,
	I_ABS
};
#define IA(op, esz) ((op) | ((esz) << 8)) /* esz: element bytes 1, 2, 4, 8 */
#define X16 0x8000u
enum sse_int_misc_arg { IM_PTEST, IM_PHMINPOSUW };
#define IM_PMOV(ssz, dsz, sgn) (0x1000 | (ssz) | ((dsz) << 4) | ((sgn) << 8))
enum sse_fp_op {
	FP_ADD,
	FP_SUB,
	FP_MUL,
	FP_DIV,
	FP_MIN,
	FP_MAX,
	FP_SQRT,
	FP_RSQRT,
	FP_RCP,
	FP_ADDSUB,
	FP_HADD,
	FP_HSUB
};
/* fp format (from the prefix or forced): */
enum sse_fmt { F_PS, F_PD, F_SS, F_SD };
#define FA(op, fmt) ((op) | ((fmt) << 8))
#define FA_PFX 0x80u /* format from the prefix */
enum sse_cmp_arg {
	CMP_PS,
	CMP_PD,
	CMP_SS,
	CMP_SD,
	CMP_COMISS,
	CMP_COMISD,
	CMP_UCOMISS,
	CMP_UCOMISD
};
enum sse_cvt_arg {
	CV_PI2PS,
	CV_PI2PD,
	CV_SI2SS,
	CV_SI2SD,
	CV_TPS2PI,
	CV_TPD2PI,
	CV_TSS2SI,
	CV_TSD2SI,
	CV_PS2PI,
	CV_PD2PI,
	CV_SS2SI,
	CV_SD2SI,
	CV_PS2PD,
	CV_PD2PS,
	CV_SS2SD,
	CV_SD2SS,
	CV_DQ2PS,
	CV_PS2DQ,
	CV_TPS2DQ,
	CV_TPD2DQ,
	CV_DQ2PD,
	CV_PD2DQ
};
enum sse_misc41_arg { M41_DPPS, M41_DPPD, M41_MPSADBW };

/* Handlers: arg is the table entry's argument. */
typedef void (*sse_fn)(struct emu_cpu *c, const struct emu_insn *in, unsigned arg);

/* exec_sse_mov.c: moves, shuffles, unpacks, inserts/extracts, masks */
void sse_mov(struct emu_cpu *c, const struct emu_insn *in, unsigned arg);
void sse_shuf(struct emu_cpu *c, const struct emu_insn *in, unsigned arg);
void sse_insext(struct emu_cpu *c, const struct emu_insn *in, unsigned arg);
/* exec_sse_int.c: integer SIMD */
void sse_int2(struct emu_cpu *c, const struct emu_insn *in, unsigned arg);
void sse_shift(struct emu_cpu *c, const struct emu_insn *in, unsigned arg);
void sse_int_misc(struct emu_cpu *c, const struct emu_insn *in, unsigned arg);
/* exec_sse_fp.c: float arithmetic, compares, conversions */
void sse_fp_arith(struct emu_cpu *c, const struct emu_insn *in, unsigned arg);
void sse_fp_cmp(struct emu_cpu *c, const struct emu_insn *in, unsigned arg);
void sse_fp_cvt(struct emu_cpu *c, const struct emu_insn *in, unsigned arg);
void sse_fp_round(struct emu_cpu *c, const struct emu_insn *in, unsigned arg);
/* exec_sse42.c: PCMPxSTRx, CRC32, PHMINPOSUW, MPSADBW, DPPS/DPPD */
void sse_str(struct emu_cpu *c, const struct emu_insn *in, unsigned arg);
void sse_crc32(struct emu_cpu *c, const struct emu_insn *in, unsigned arg);
void sse_misc41(struct emu_cpu *c, const struct emu_insn *in, unsigned arg);
/* exec_fxsr.c: 0F AE group */
void sse_grp15(struct emu_cpu *c, const struct emu_insn *in, unsigned arg);

/* Raise #XM (CR4.OSXMMEXCPT) or #UD for unmasked SIMD exceptions in flags; else accumulate flags
 * into MXCSR. Called after a result is computed and before it is written. */
void sse_fp_flags(struct emu_cpu *c, uint32_t flags);

#endif
