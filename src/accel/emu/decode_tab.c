/* emu: opcode tables. One entry per opcode of the one-byte and 0F maps, plus the ModRM.reg
 * groups. Entries left zero are EMU_OP_UNIMPL without ModRM; reserved opcodes that are known to
 * raise #UD say so explicitly. */
#include "accel/emu/decode.h"
#include "accel/emu/decode_tab.h"

#define X(o, s, i, fl)                                                                             \
	{                                                                                          \
		.op = EMU_OP_##o, .sub = (s), .imm = (i), .f = (fl)                                \
	}

/* The six classic ALU encodings at base: Eb,Gb Ev,Gv Gb,Eb Gv,Ev AL,Ib eAX,Iz */
#define ALU6(base, kind, lk)                                                                       \
	[(base) + 0] = X(ALU_EG, kind, I_NONE, D_M | D_B | (lk)),                                  \
		  [(base) + 1] = X(ALU_EG, kind, I_NONE, D_M | (lk)),                              \
		  [(base) + 2] = X(ALU_GE, kind, I_NONE, D_M | D_B),                               \
		  [(base) + 3] = X(ALU_GE, kind, I_NONE, D_M),                                     \
		  [(base) + 4] = X(ALU_EI, kind, I_Z, D_B | D_ACC),                                \
		  [(base) + 5] = X(ALU_EI, kind, I_Z, D_ACC)

#define R8(base, o, s, i, fl)                                                                      \
	[(base) + 0] = X(o, s, i, fl), [(base) + 1] = X(o, s, i, fl),                              \
		  [(base) + 2] = X(o, s, i, fl), [(base) + 3] = X(o, s, i, fl),                    \
		  [(base) + 4] = X(o, s, i, fl), [(base) + 5] = X(o, s, i, fl),                    \
		  [(base) + 6] = X(o, s, i, fl), [(base) + 7] = X(o, s, i, fl)

#define CC16(base, o, i, fl)                                                                       \
	[(base) + 0] = X(o, 0, i, fl), [(base) + 1] = X(o, 1, i, fl),                              \
		  [(base) + 2] = X(o, 2, i, fl), [(base) + 3] = X(o, 3, i, fl),                    \
		  [(base) + 4] = X(o, 4, i, fl), [(base) + 5] = X(o, 5, i, fl),                    \
		  [(base) + 6] = X(o, 6, i, fl), [(base) + 7] = X(o, 7, i, fl),                    \
		  [(base) + 8] = X(o, 8, i, fl), [(base) + 9] = X(o, 9, i, fl),                    \
		  [(base) + 10] = X(o, 10, i, fl), [(base) + 11] = X(o, 11, i, fl),                \
		  [(base) + 12] = X(o, 12, i, fl), [(base) + 13] = X(o, 13, i, fl),                \
		  [(base) + 14] = X(o, 14, i, fl), [(base) + 15] = X(o, 15, i, fl)

#define UM(i) X(UNIMPL, 0, i, D_M)

const struct emu_opinfo emu_optab_1b[256] = {
    ALU6(0x00, EMU_ALU_ADD, D_LK),
    ALU6(0x08, EMU_ALU_OR, D_LK),
    ALU6(0x10, EMU_ALU_ADC, D_LK),
    ALU6(0x18, EMU_ALU_SBB, D_LK),
    ALU6(0x20, EMU_ALU_AND, D_LK),
    ALU6(0x28, EMU_ALU_SUB, D_LK),
    ALU6(0x30, EMU_ALU_XOR, D_LK),
    ALU6(0x38, EMU_ALU_CMP, 0),
    [0x06] = X(PUSH_SEG, 0, I_NONE, D_I64),
    [0x07] = X(POP_SEG, 0, I_NONE, D_I64 | D_END),
    [0x0e] = X(PUSH_SEG, 1, I_NONE, D_I64),
    [0x16] = X(PUSH_SEG, 2, I_NONE, D_I64),
    [0x17] = X(POP_SEG, 2, I_NONE, D_I64 | D_END),
    [0x1e] = X(PUSH_SEG, 3, I_NONE, D_I64),
    [0x1f] = X(POP_SEG, 3, I_NONE, D_I64 | D_END),
    [0x27] = X(BCD, 0, I_NONE, D_I64),
    [0x2f] = X(BCD, 1, I_NONE, D_I64),
    [0x37] = X(BCD, 2, I_NONE, D_I64),
    [0x3f] = X(BCD, 3, I_NONE, D_I64),
    R8(0x40, INC, 0, I_NONE, D_RO | D_I64),
    R8(0x48, DEC, 0, I_NONE, D_RO | D_I64),
    R8(0x50, PUSH_E, 0, I_NONE, D_RO | D_64),
    R8(0x58, POP_E, 0, I_NONE, D_RO | D_64),
    [0x60] = X(PUSHA, 0, I_NONE, D_I64),
    [0x61] = X(POPA, 0, I_NONE, D_I64),
    [0x62] = X(BOUND, 0, I_NONE, D_M | D_MEM | D_I64), /* EVEX in 64-bit mode: #UD */
    [0x63] = X(MOVSX, 4, I_NONE, D_M), /* MOVSXD; ARPL outside 64-bit mode (decode.c) */
    [0x68] = X(PUSH_I, 0, I_Z, D_64),
    [0x69] = X(IMUL3, 0, I_Z, D_M),
    [0x6a] = X(PUSH_I, 0, I_B, D_64),
    [0x6b] = X(IMUL3, 0, I_B, D_M),
    [0x6c] = X(INS, 0, I_NONE, D_B | D_STR),
    [0x6d] = X(INS, 0, I_NONE, D_STR),
    [0x6e] = X(OUTS, 0, I_NONE, D_B | D_STR),
    [0x6f] = X(OUTS, 0, I_NONE, D_STR),
    CC16(0x70, JCC, I_J8, D_F64 | D_END),
    [0x80] = X(ALU_EI, 0, I_Z, D_M | D_B | D_LK | D_SUBREG),
    [0x81] = X(ALU_EI, 0, I_Z, D_M | D_LK | D_SUBREG),
    [0x82] = X(ALU_EI, 0, I_Z, D_M | D_B | D_LK | D_SUBREG | D_I64),
    [0x83] = X(ALU_EI, 0, I_B, D_M | D_LK | D_SUBREG),
    [0x84] = X(TEST_EG, 0, I_NONE, D_M | D_B),
    [0x85] = X(TEST_EG, 0, I_NONE, D_M),
    [0x86] = X(XCHG, 0, I_NONE, D_M | D_B | D_LK),
    [0x87] = X(XCHG, 0, I_NONE, D_M | D_LK),
    [0x88] = X(MOV_EG, 0, I_NONE, D_M | D_B),
    [0x89] = X(MOV_EG, 0, I_NONE, D_M),
    [0x8a] = X(MOV_GE, 0, I_NONE, D_M | D_B),
    [0x8b] = X(MOV_GE, 0, I_NONE, D_M),
    [0x8c] = X(MOV_ES, 0, I_NONE, D_M),
    [0x8d] = X(LEA, 0, I_NONE, D_M | D_MEM),
    [0x8e] = X(MOV_SE, 0, I_NONE, D_M | D_END),
    [0x8f] = X(POP_E, G_1A, I_NONE, D_M | D_GRP),
    R8(0x90, XCHG, 0, I_NONE, D_RO), /* 90 itself is special-cased in decode.c */
    [0x98] = X(CBW, 0, I_NONE, 0),
    [0x99] = X(CWD, 0, I_NONE, 0),
    [0x9a] = X(FAR_P, 1, I_P, D_I64 | D_END),
    [0x9b] = X(NOP, 0, I_NONE, 0), /* FWAIT: no x87 exceptions are pending yet */
    [0x9c] = X(PUSHF, 0, I_NONE, D_64),
    [0x9d] = X(POPF, 0, I_NONE, D_64 | D_END),
    [0x9e] = X(SAHF, 0, I_NONE, 0),
    [0x9f] = X(LAHF, 0, I_NONE, 0),
    [0xa0] = X(MOV_AO, 0, I_O, D_B),
    [0xa1] = X(MOV_AO, 0, I_O, 0),
    [0xa2] = X(MOV_OA, 0, I_O, D_B),
    [0xa3] = X(MOV_OA, 0, I_O, 0),
    [0xa4] = X(MOVS, 0, I_NONE, D_B | D_STR),
    [0xa5] = X(MOVS, 0, I_NONE, D_STR),
    [0xa6] = X(CMPS, 0, I_NONE, D_B | D_STR),
    [0xa7] = X(CMPS, 0, I_NONE, D_STR),
    [0xa8] = X(TEST_EI, 0, I_Z, D_B | D_ACC),
    [0xa9] = X(TEST_EI, 0, I_Z, D_ACC),
    [0xaa] = X(STOS, 0, I_NONE, D_B | D_STR),
    [0xab] = X(STOS, 0, I_NONE, D_STR),
    [0xac] = X(LODS, 0, I_NONE, D_B | D_STR),
    [0xad] = X(LODS, 0, I_NONE, D_STR),
    [0xae] = X(SCAS, 0, I_NONE, D_B | D_STR),
    [0xaf] = X(SCAS, 0, I_NONE, D_STR),
    R8(0xb0, MOV_EI, 0, I_V, D_RO | D_B),
    R8(0xb8, MOV_EI, 0, I_V, D_RO),
    [0xc0] = X(SHIFT, 0, I_UB, D_M | D_B | D_SUBREG),
    [0xc1] = X(SHIFT, 0, I_UB, D_M | D_SUBREG),
    [0xc2] = X(RET, 0, I_W, D_F64 | D_END),
    [0xc3] = X(RET, 0, I_NONE, D_F64 | D_END),
    [0xc4] = X(LSEG, 0, I_NONE, D_M | D_MEM | D_I64 | D_END), /* LES; VEX3 (no AVX): #UD */
    [0xc5] = X(LSEG, 3, I_NONE, D_M | D_MEM | D_I64 | D_END), /* LDS; VEX2 (no AVX): #UD */
    [0xc6] = X(MOV_EI, G_11, I_Z, D_M | D_B | D_GRP),
    [0xc7] = X(MOV_EI, G_11, I_Z, D_M | D_GRP),
    [0xc8] = X(ENTER, 0, I_WB, D_64),
    [0xc9] = X(LEAVE, 0, I_NONE, D_64),
    [0xca] = X(RETF, 0, I_W, D_END),
    [0xcb] = X(RETF, 0, I_NONE, D_END),
    [0xcc] = X(INT, 3, I_SUB, D_END),
    [0xcd] = X(INT, 0, I_UB, D_END),
    [0xce] = X(INTO, 0, I_NONE, D_I64 | D_END),
    [0xcf] = X(IRET, 0, I_NONE, D_END),
    [0xd0] = X(SHIFT, 0, I_ONE, D_M | D_B | D_SUBREG),
    [0xd1] = X(SHIFT, 0, I_ONE, D_M | D_SUBREG),
    [0xd2] = X(SHIFT, 0, I_NONE, D_M | D_B | D_SUBREG | D_CL),
    [0xd3] = X(SHIFT, 0, I_NONE, D_M | D_SUBREG | D_CL),
    [0xd4] = X(BCD, 4, I_UB, D_I64),
    [0xd5] = X(BCD, 5, I_UB, D_I64),
    [0xd6] = X(UD, 0, I_NONE, D_END),
    [0xd7] = X(XLAT, 0, I_NONE, D_B),
    R8(0xd8, X87, 0, I_NONE, D_M), /* x87 (exec_x87.c) */
    [0xe0] = X(LOOP, 0, I_J8, D_F64 | D_END),
    [0xe1] = X(LOOP, 1, I_J8, D_F64 | D_END),
    [0xe2] = X(LOOP, 2, I_J8, D_F64 | D_END),
    [0xe3] = X(JCXZ, 0, I_J8, D_F64 | D_END),
    [0xe4] = X(IN, 0, I_UB, D_B),
    [0xe5] = X(IN, 0, I_UB, 0),
    [0xe6] = X(OUT, 0, I_UB, D_B),
    [0xe7] = X(OUT, 0, I_UB, 0),
    [0xe8] = X(CALL_REL, 0, I_JZ, D_F64 | D_END),
    [0xe9] = X(JMP_REL, 0, I_JZ, D_F64 | D_END),
    [0xea] = X(FAR_P, 0, I_P, D_I64 | D_END),
    [0xeb] = X(JMP_REL, 0, I_J8, D_F64 | D_END),
    [0xec] = X(IN, 0, I_NONE, D_B | D_DX),
    [0xed] = X(IN, 0, I_NONE, D_DX),
    [0xee] = X(OUT, 0, I_NONE, D_B | D_DX),
    [0xef] = X(OUT, 0, I_NONE, D_DX),
    [0xf1] = X(INT, 1, I_SUB, D_END),
    [0xf4] = X(HLT, 0, I_NONE, D_END),
    [0xf5] = X(CMC, 0, I_NONE, 0),
    [0xf6] = X(UNIMPL, G_3, I_NONE, D_M | D_B | D_GRP),
    [0xf7] = X(UNIMPL, G_3, I_NONE, D_M | D_GRP),
    [0xf8] = X(CLC, 0, I_NONE, 0),
    [0xf9] = X(STC, 0, I_NONE, 0),
    [0xfa] = X(CLI, 0, I_NONE, 0),
    [0xfb] = X(STI, 0, I_NONE, D_END),
    [0xfc] = X(CLD, 0, I_NONE, 0),
    [0xfd] = X(STD, 0, I_NONE, 0),
    [0xfe] = X(UNIMPL, G_4, I_NONE, D_M | D_B | D_GRP),
    [0xff] = X(UNIMPL, G_5, I_NONE, D_M | D_GRP),
};

const struct emu_opinfo emu_optab_0f[256] = {
    [0x00] = X(GRP6, 0, I_NONE, D_M | D_SUBREG | D_END),
    [0x01] = X(GRP7, 0, I_NONE, D_M | D_SUBREG | D_END),
    [0x02] = X(LAR, 0, I_NONE, D_M),
    [0x03] = X(LAR, 1, I_NONE, D_M),
    [0x04] = X(UD, 0, I_NONE, D_END),
    [0x05] = X(SYSCALL, 0, I_NONE, D_END),
    [0x06] = X(CLTS, 0, I_NONE, D_END),
    [0x07] = X(SYSRET, 0, I_NONE, D_END),
    [0x08] = X(WBINVD, 0, I_NONE, 0), /* INVD */
    [0x09] = X(WBINVD, 0, I_NONE, 0),
    [0x0a] = X(UD, 0, I_NONE, D_END),
    [0x0b] = X(UD, 0, I_NONE, D_END), /* UD2 */
    [0x0c] = X(UD, 0, I_NONE, D_END),
    [0x0d] = X(NOP, 0, I_NONE, D_M), /* PREFETCH/PREFETCHW */
    [0x0e] = X(UD, 0, I_NONE, D_END),
    [0x0f] = X(UD, 0, I_NONE, D_END),
    R8(0x10, SSE, 0, I_NONE, D_M), /* MMX/SSE rows: exec_sse*.c decides per prefix */
    R8(0x18, NOP, 0, I_NONE, D_M), /* hint NOPs incl. 0F 1F /0 and ENDBR */
    [0x20] = X(MOV_CR, 0, I_NONE, D_M | D_F64 | D_END), /* ModRM.mod ignored (decode.c) */
    [0x21] = X(MOV_DR, 0, I_NONE, D_M | D_F64 | D_END),
    [0x22] = X(MOV_CR, 1, I_NONE, D_M | D_F64 | D_END),
    [0x23] = X(MOV_DR, 1, I_NONE, D_M | D_F64 | D_END),
    R8(0x28, SSE, 0, I_NONE, D_M),
    [0x30] = X(WRMSR, 0, I_NONE, D_END),
    [0x31] = X(RDTSC, 0, I_NONE, 0),
    [0x32] = X(RDMSR, 0, I_NONE, 0),
    [0x33] = X(RDPMC, 0, I_NONE, 0),
    [0x34] = X(SYSENTER, 0, I_NONE, D_END),
    [0x35] = X(SYSEXIT, 0, I_NONE, D_END),
    CC16(0x40, CMOV, I_NONE, D_M),
    R8(0x50, SSE, 0, I_NONE, D_M),
    R8(0x58, SSE, 0, I_NONE, D_M),
    R8(0x60, SSE, 0, I_NONE, D_M),
    R8(0x68, SSE, 0, I_NONE, D_M),
    [0x70] = X(SSE, 0, I_UB, D_M),
    [0x71] = X(SSE, 0, I_UB, D_M),
    [0x72] = X(SSE, 0, I_UB, D_M),
    [0x73] = X(SSE, 0, I_UB, D_M),
    [0x74] = X(SSE, 0, I_NONE, D_M),
    [0x75] = X(SSE, 0, I_NONE, D_M),
    [0x76] = X(SSE, 0, I_NONE, D_M),
    [0x77] = X(SSE, 0, I_NONE, 0), /* EMMS */
    [0x78] = UM(I_NONE),
    [0x79] = UM(I_NONE),
    [0x7c] = X(SSE, 0, I_NONE, D_M),
    [0x7d] = X(SSE, 0, I_NONE, D_M),
    [0x7e] = X(SSE, 0, I_NONE, D_M),
    [0x7f] = X(SSE, 0, I_NONE, D_M),
    CC16(0x80, JCC, I_JZ, D_F64 | D_END),
    CC16(0x90, SETCC, I_NONE, D_M | D_B),
    [0xa0] = X(PUSH_SEG, 4, I_NONE, D_64),
    [0xa1] = X(POP_SEG, 4, I_NONE, D_64 | D_END),
    [0xa2] = X(CPUID, 0, I_NONE, D_END),
    [0xa3] = X(BT_EG, 0, I_NONE, D_M),
    [0xa4] = X(SHLD, 0, I_UB, D_M),
    [0xa5] = X(SHLD, 0, I_NONE, D_M | D_CL),
    [0xa8] = X(PUSH_SEG, 5, I_NONE, D_64),
    [0xa9] = X(POP_SEG, 5, I_NONE, D_64 | D_END),
    [0xab] = X(BT_EG, 1, I_NONE, D_M | D_LK),
    [0xac] = X(SHRD, 0, I_UB, D_M),
    [0xad] = X(SHRD, 0, I_NONE, D_M | D_CL),
    [0xae] = X(SSE, 0, I_NONE, D_M), /* group 15 (exec_fxsr.c); fences decode as NOP */
    [0xaf] = X(IMUL2, 0, I_NONE, D_M),
    [0xb0] = X(CMPXCHG, 0, I_NONE, D_M | D_B | D_LK),
    [0xb1] = X(CMPXCHG, 0, I_NONE, D_M | D_LK),
    [0xb2] = X(LSEG, 2, I_NONE, D_M | D_MEM | D_END),
    [0xb3] = X(BT_EG, 2, I_NONE, D_M | D_LK),
    [0xb4] = X(LSEG, 4, I_NONE, D_M | D_MEM | D_END),
    [0xb5] = X(LSEG, 5, I_NONE, D_M | D_MEM | D_END),
    [0xb6] = X(MOVZX, 1, I_NONE, D_M),
    [0xb7] = X(MOVZX, 2, I_NONE, D_M),
    [0xb8] = X(POPCNT, 0, I_NONE, D_M),	    /* F3 required (decode.c) */
    [0xb9] = X(UD, 0, I_NONE, D_M | D_END), /* UD1 */
    [0xba] = X(UNIMPL, G_8, I_UB, D_M | D_GRP),
    [0xbb] = X(BT_EG, 3, I_NONE, D_M | D_LK),
    [0xbc] = X(BSF, 0, I_NONE, D_M), /* TZCNT with F3 */
    [0xbd] = X(BSR, 0, I_NONE, D_M), /* LZCNT with F3 */
    [0xbe] = X(MOVSX, 1, I_NONE, D_M),
    [0xbf] = X(MOVSX, 2, I_NONE, D_M),
    [0xc0] = X(XADD, 0, I_NONE, D_M | D_B | D_LK),
    [0xc1] = X(XADD, 0, I_NONE, D_M | D_LK),
    [0xc2] = X(SSE, 0, I_UB, D_M),
    [0xc3] = X(SSE, 0, I_NONE, D_M | D_MEM), /* MOVNTI */
    [0xc4] = X(SSE, 0, I_UB, D_M),
    [0xc5] = X(SSE, 0, I_UB, D_M),
    [0xc6] = X(SSE, 0, I_UB, D_M),
    [0xc7] = X(UNIMPL, G_9, I_NONE, D_M | D_GRP),
    R8(0xc8, BSWAP, 0, I_NONE, D_RO),
    R8(0xd0, SSE, 0, I_NONE, D_M),
    R8(0xd8, SSE, 0, I_NONE, D_M),
    R8(0xe0, SSE, 0, I_NONE, D_M),
    R8(0xe8, SSE, 0, I_NONE, D_M),
    R8(0xf0, SSE, 0, I_NONE, D_M),
    [0xf8] = X(SSE, 0, I_NONE, D_M),
    [0xf9] = X(SSE, 0, I_NONE, D_M),
    [0xfa] = X(SSE, 0, I_NONE, D_M),
    [0xfb] = X(SSE, 0, I_NONE, D_M),
    [0xfc] = X(SSE, 0, I_NONE, D_M),
    [0xfd] = X(SSE, 0, I_NONE, D_M),
    [0xfe] = X(SSE, 0, I_NONE, D_M),
    [0xff] = X(UD, 0, I_NONE, D_M | D_END), /* UD0 */
};

#define UDG X(UD, 0, I_NONE, D_END)

/* Group entries replace the base entry's op, sub, imm and flags; D_B and D_M are inherited. */
const struct emu_opinfo emu_optab_grp[G_COUNT][8] = {
    [G_1A] = {X(POP_E, 0, I_NONE, D_64), UDG, UDG, UDG, UDG, UDG, UDG, UDG},
    [G_3] = {X(TEST_EI, 0, I_Z, 0), X(TEST_EI, 0, I_Z, 0), X(NOT, 0, I_NONE, D_LK),
	     X(NEG, 0, I_NONE, D_LK), X(MUL1, 0, I_NONE, 0), X(IMUL1, 0, I_NONE, 0),
	     X(DIV, 0, I_NONE, 0), X(IDIV, 0, I_NONE, 0)},
    [G_4] = {X(INC, 0, I_NONE, D_LK), X(DEC, 0, I_NONE, D_LK), UDG, UDG, UDG, UDG, UDG, UDG},
    [G_5] = {X(INC, 0, I_NONE, D_LK), X(DEC, 0, I_NONE, D_LK), X(CALL_E, 0, I_NONE, D_F64 | D_END),
	     X(FAR_E, 1, I_NONE, D_MEM | D_END), X(JMP_E, 0, I_NONE, D_F64 | D_END),
	     X(FAR_E, 0, I_NONE, D_MEM | D_END), X(PUSH_E, 0, I_NONE, D_64), UDG},
    [G_11] = {X(MOV_EI, 0, I_Z, 0), UDG, UDG, UDG, UDG, UDG, UDG, UDG},
    [G_8] = {UDG, UDG, UDG, UDG, X(BT_EI, 0, I_UB, 0), X(BT_EI, 1, I_UB, D_LK),
	     X(BT_EI, 2, I_UB, D_LK), X(BT_EI, 3, I_UB, D_LK)},
    [G_9] = {UDG, X(CMPXCHG8B, 0, I_NONE, D_MEM | D_LK), UDG, UDG, UDG, UDG,
	     X(RDRAND, 0, I_NONE, 0), UDG}, /* RDSEED, RDPID: not advertised */
};
