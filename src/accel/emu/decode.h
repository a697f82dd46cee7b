/* emu: x86 instruction decoder. Table driven; turns up to 15 bytes into a compact struct emu_insn
 * that the interpreter executes and the decode cache stores. It has no CPU state and no side
 * effects, so it can be unit tested and fuzzed on its own. */
#ifndef VMON_ACCEL_EMU_DECODE_H
#define VMON_ACCEL_EMU_DECODE_H

#include <stdint.h>

#define EMU_INSN_MAX 15

/* Internal operation ids: what the interpreter does. Forms with an E (ModRM r/m) operand read
 * it from rm when EMU_I_REG is set, else from memory. */
enum emu_op {
	EMU_OP_UNIMPL = 0, /* valid x86 the emulator does not implement yet */
	EMU_OP_UD,	   /* raises #UD */
	EMU_OP_NOP,
	EMU_OP_ALU_EG, /* E = E op G, sub = enum emu_alu */
	EMU_OP_ALU_GE, /* G = G op E */
	EMU_OP_ALU_EI, /* E = E op imm (accumulator forms use rm = RAX) */
	EMU_OP_TEST_EG,
	EMU_OP_TEST_EI,
	EMU_OP_XCHG,
	EMU_OP_MOV_EG,
	EMU_OP_MOV_GE,
	EMU_OP_MOV_EI,
	EMU_OP_MOV_AO, /* A0/A1: acc = [moffs] (address in imm) */
	EMU_OP_MOV_OA, /* A2/A3: [moffs] = acc */
	EMU_OP_MOV_ES, /* 8C: E = segment selector */
	EMU_OP_MOVZX,  /* sub = source size */
	EMU_OP_MOVSX,
	EMU_OP_LEA,
	EMU_OP_INC,
	EMU_OP_DEC,
	EMU_OP_NOT,
	EMU_OP_NEG,
	EMU_OP_MUL1,
	EMU_OP_IMUL1,
	EMU_OP_IMUL2, /* G = G * E */
	EMU_OP_IMUL3, /* G = E * imm */
	EMU_OP_DIV,
	EMU_OP_IDIV,
	EMU_OP_SHIFT, /* sub = enum emu_shift; count = CL if EMU_I_CL else imm */
	EMU_OP_SHLD,
	EMU_OP_SHRD,
	EMU_OP_BT_EG, /* sub: 0 BT, 1 BTS, 2 BTR, 3 BTC */
	EMU_OP_BT_EI,
	EMU_OP_BSF,
	EMU_OP_BSR,
	EMU_OP_TZCNT,
	EMU_OP_LZCNT,
	EMU_OP_POPCNT,
	EMU_OP_BSWAP,
	EMU_OP_CBW,   /* CBW/CWDE/CDQE */
	EMU_OP_CWD,   /* CWD/CDQ/CQO */
	EMU_OP_SETCC, /* sub = condition */
	EMU_OP_CMOV,
	EMU_OP_JCC, /* imm = sign-extended displacement */
	EMU_OP_JMP_REL,
	EMU_OP_CALL_REL,
	EMU_OP_JMP_E,
	EMU_OP_CALL_E,
	EMU_OP_RET,  /* imm = bytes to release */
	EMU_OP_LOOP, /* sub: 0 LOOPNE, 1 LOOPE, 2 LOOP */
	EMU_OP_JCXZ,
	EMU_OP_PUSH_E,
	EMU_OP_PUSH_I,
	EMU_OP_PUSH_SEG, /* sub = segment */
	EMU_OP_POP_E,
	EMU_OP_PUSHF,
	EMU_OP_POPF,
	EMU_OP_ENTER, /* imm = frame size, imm2 = nesting level */
	EMU_OP_LEAVE,
	EMU_OP_MOVS,
	EMU_OP_CMPS,
	EMU_OP_STOS,
	EMU_OP_LODS,
	EMU_OP_SCAS,
	EMU_OP_CMPXCHG,
	EMU_OP_CMPXCHG8B, /* CMPXCHG16B with REX.W */
	EMU_OP_XADD,
	EMU_OP_MOVBE_GE,
	EMU_OP_MOVBE_EG,
	EMU_OP_ADCX,
	EMU_OP_ADOX,
	EMU_OP_CLC,
	EMU_OP_STC,
	EMU_OP_CMC,
	EMU_OP_CLD,
	EMU_OP_STD,
	EMU_OP_CLI,
	EMU_OP_STI,
	EMU_OP_LAHF,
	EMU_OP_SAHF,
	EMU_OP_XLAT,
	EMU_OP_HLT,
	EMU_OP_IN, /* port = imm unless EMU_I_DX */
	EMU_OP_OUT,
	EMU_OP_INT, /* imm = vector (INT3, INT n, INT1) */
	/* System and legacy instructions (exec_sys.c, exec_seg.c, exec_int.c, exec_legacy.c). */
	EMU_OP_INTO,
	EMU_OP_IRET,
	EMU_OP_MOV_SE,	/* 8E: segment register reg = E */
	EMU_OP_POP_SEG, /* sub = segment */
	EMU_OP_LSEG,	/* LES/LDS/LSS/LFS/LGS: sub = segment */
	EMU_OP_FAR_P,	/* JMP/CALL ptr16:16/32 (sub 1 = CALL), imm = offset | sel << osize*8 */
	EMU_OP_FAR_E,	/* JMP/CALL m16:16/32/64 (sub 1 = CALL) */
	EMU_OP_RETF,	/* imm = bytes to release */
	EMU_OP_GRP6,	/* 0F 00: sub = ModRM.reg */
	EMU_OP_GRP7,	/* 0F 01: sub = ModRM.reg */
	EMU_OP_LAR,	/* sub: 0 LAR, 1 LSL */
	EMU_OP_MOV_CR,	/* sub: 0 read (0F 20), 1 write (0F 22); ModRM.mod ignored */
	EMU_OP_MOV_DR,	/* sub: 0 read (0F 21), 1 write (0F 23) */
	EMU_OP_CLTS,
	EMU_OP_SYSCALL,
	EMU_OP_SYSRET,
	EMU_OP_SYSENTER,
	EMU_OP_SYSEXIT,
	EMU_OP_WRMSR,
	EMU_OP_RDTSC,
	EMU_OP_RDMSR,
	EMU_OP_RDPMC,
	EMU_OP_CPUID,
	EMU_OP_WBINVD, /* INVD, WBINVD */
	EMU_OP_RDRAND, /* 0F C7 /6 (register) */
	EMU_OP_BCD,    /* sub: 0 DAA, 1 DAS, 2 AAA, 3 AAS, 4 AAM, 5 AAD (imm = base) */
	EMU_OP_PUSHA,
	EMU_OP_POPA,
	EMU_OP_BOUND,
	EMU_OP_ARPL,
	EMU_OP_INS,
	EMU_OP_OUTS,
	EMU_OP_LOCKED, /* LOCK-prefixed memory RMW: the instruction's own op is in lop */
	EMU_OP_SSE,    /* MMX/SSE/0F AE: imm2 = map << 8 | opcode, sub = prefix (0, 66, F3, F2) */
	EMU_OP_X87,    /* D8-DF: imm2 = (opcode & 7) << 8 | ModRM */
	EMU_OP_COUNT
};

enum emu_alu {
	EMU_ALU_ADD,
	EMU_ALU_OR,
	EMU_ALU_ADC,
	EMU_ALU_SBB,
	EMU_ALU_AND,
	EMU_ALU_SUB,
	EMU_ALU_XOR,
	EMU_ALU_CMP
};
enum emu_shift {
	EMU_SH_ROL,
	EMU_SH_ROR,
	EMU_SH_RCL,
	EMU_SH_RCR,
	EMU_SH_SHL,
	EMU_SH_SHR,
	EMU_SH_SAL,
	EMU_SH_SAR
};

/* struct emu_insn.flags */
#define EMU_I_REG 0x01	 /* E operand is register rm (mod == 3 or implied) */
#define EMU_I_LOCK 0x02	 /* F0 prefix (accepted only on lockable memory forms) */
#define EMU_I_REP 0x04	 /* F3 (REP/REPE) on a string instruction */
#define EMU_I_REPNE 0x08 /* F2 (REPNE) on a string instruction */
#define EMU_I_CL 0x10	 /* shift count from CL */
#define EMU_I_DX 0x20	 /* port from DX */
#define EMU_I_END 0x40	 /* ends a decoded block (control transfer or mode change) */

#define EMU_REG_NONE 0xff
#define EMU_REG_RIP 0x10 /* base register of a RIP-relative operand */

/* Byte registers: 0-15 are the low bytes (SPL.. with REX), 16-19 are AH, CH, DH, BH. */
#define EMU_REG_AH 16

/* A decoded instruction, 32 bytes. */
struct emu_insn {
	uint8_t op;    /* enum emu_op */
	uint8_t sub;   /* ALU/shift kind, condition code, source size, ... */
	uint8_t len;   /* bytes */
	uint8_t flags; /* EMU_I_* */
	uint8_t osize; /* operand size: 1, 2, 4, 8 (16 for CMPXCHG16B) */
	uint8_t asize; /* address size: 2, 4, 8 */
	uint8_t reg;   /* ModRM reg (with REX.R), or byte register code */
	uint8_t rm;    /* register form of r/m (with REX.B) */
	uint8_t base;  /* memory form: base register, EMU_REG_RIP or EMU_REG_NONE */
	uint8_t index; /* index register or EMU_REG_NONE */
	uint8_t scale; /* index shift 0..3 */
	uint8_t seg;   /* effective segment (enum x86_sreg) */
	int32_t disp;
	uint16_t imm2; /* ENTER nesting level */
	uint8_t lop;   /* EMU_OP_LOCKED: the locked instruction's op */
	uint8_t hid;   /* the interpreter's handler (emu_handler_select; 0 = generic) */
	uint64_t imm;  /* immediate, sign- or zero-extended as the op expects */
};

/* Decoder results (negative). */
#define EMU_DEC_MORE (-1) /* need more bytes than avail (instruction crosses the buffer end) */
#define EMU_DEC_GP (-2)	  /* longer than 15 bytes: #GP(0) */
#define EMU_DEC_UD (-3)	  /* invalid encoding: #UD */

/* Decode the instruction at p (avail readable bytes) for a code segment of default size mode
 * (enum emu_mode). Fills *in and returns its length (1..15), or EMU_DEC_MORE when the encoding
 * runs past avail (call again with more bytes; never returned when avail >= 15), EMU_DEC_GP for
 * an instruction longer than 15 bytes, EMU_DEC_UD for an invalid encoding (*in->len then holds
 * the bytes consumed). Valid instructions the emulator does not implement decode to
 * EMU_OP_UNIMPL with the correct length where the length is known (else the bytes seen). */
int emu_decode(const uint8_t *p, unsigned avail, unsigned mode, struct emu_insn *in);

#endif
