/* emu: opcode tables shared by decode.c (private to the decoder). */
#ifndef VMON_ACCEL_EMU_DECODE_TAB_H
#define VMON_ACCEL_EMU_DECODE_TAB_H

#include <stdint.h>

/* struct emu_opinfo.f */
#define D_M 0x0001	/* has a ModRM byte */
#define D_B 0x0002	/* byte operand size */
#define D_64 0x0004	/* default 64-bit operand size in 64-bit mode (stack ops) */
#define D_F64 0x0008	/* operand size forced to 64 bits in 64-bit mode (near branches) */
#define D_I64 0x0010	/* invalid (#UD) in 64-bit mode */
#define D_LK 0x0020	/* LOCK allowed with a memory destination */
#define D_GRP 0x0040	/* ModRM.reg selects the entry of group `sub` */
#define D_RO 0x0080	/* register in the low opcode bits (rm, with REX.B) */
#define D_ACC 0x0100	/* implied accumulator operand (rm = RAX) */
#define D_MEM 0x0200	/* memory operand required (mod == 3 is #UD) */
#define D_END 0x0400	/* ends a decoded block */
#define D_STR 0x0800	/* string instruction: F3/F2 are REP prefixes */
#define D_SUBREG 0x1000 /* sub = ModRM.reg (ALU group 1, shift group 2) */
#define D_CL 0x2000	/* shift count in CL */
#define D_DX 0x4000	/* port in DX */

/* struct emu_opinfo.imm */
enum emu_imm {
	I_NONE = 0,
	I_B,   /* 8 bits, sign-extended */
	I_UB,  /* 8 bits, zero-extended */
	I_W,   /* 16 bits, zero-extended */
	I_Z,   /* operand size, at most 32 bits, sign-extended */
	I_V,   /* operand size, up to 64 bits */
	I_O,   /* address size (moffs) */
	I_WB,  /* 16 bits then 8 bits (ENTER) */
	I_J8,  /* rel8 */
	I_JZ,  /* rel16/rel32 */
	I_P,   /* far pointer: offset (16/32) + selector */
	I_ONE, /* constant 1 (shift by one) */
	I_SUB, /* constant from sub (INT3, INT1) */
};

struct emu_opinfo {
	uint8_t op; /* enum emu_op */
	uint8_t sub;
	uint8_t imm; /* enum emu_imm */
	uint8_t pad;
	uint16_t f;
};

enum emu_group { G_1A, G_3, G_4, G_5, G_11, G_8, G_9, G_COUNT };

extern const struct emu_opinfo emu_optab_1b[256];
extern const struct emu_opinfo emu_optab_0f[256];
extern const struct emu_opinfo emu_optab_grp[G_COUNT][8];

#endif
