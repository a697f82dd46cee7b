/* Tiny x86-64 encoder used by the difftest generator. */
#ifndef VMON_TESTS_DIFFTEST_ENC_H
#define VMON_TESTS_DIFFTEST_ENC_H

#include <stdint.h>

#include "difftest.h"

/* Memory operand kinds */
enum m_kind { M_BASE, M_BASE_INDEX, M_RIP, M_ABS, M_INDEX_ONLY };

/* Byte registers AH..BH are named 16..19 (they forbid REX). */
#define R_AH 16

struct opnd {
	int mem;
	int reg;  /* register form */
	int kind; /* memory form */
	int base, index, scale;
	int32_t disp;
	uint64_t target; /* M_RIP */
	int a32;	 /* 67 prefix */
	int force_disp32;
};

struct gen {
	struct dt_seq *s;
	uint64_t *rng;
	uint64_t code_addr;
	const struct dt_gen_opts *o;
	uint32_t undef;
	uint32_t avoid; /* registers items must not write (bit mask) */
	int depth;	/* net 8-byte pushes */
	int nitems;
	int faulted; /* a faulting item was emitted: stop */
	/* forward jumps waiting for an item boundary */
	struct {
		unsigned pos, size;
		int target;
		uint32_t undef;
	} pend[16];
	int npend;
};

/* Prefix flags for enc_insn */
#define P_LOCK 0x1
#define P_REP 0x2      /* F3 */
#define P_REPNE 0x4    /* F2 */
#define P_NO66 0x8     /* operand size 2 without 66 (never used) */
#define P_DEF64 0x10   /* opcode defaults to 64-bit: no REX.W for size 8 */
#define P_REX 0x20     /* force an (empty) REX prefix */
#define P_SEGJUNK 0x40 /* add ignored segment prefixes */
#define P_OPSZ 0x80    /* 66 as a mandatory prefix */

void enc_byte(struct gen *g, uint8_t b);
/* Start of a new instruction (records its offset for failure reports). */
void enc_start(struct gen *g);
/* Emit prefixes, REX, opcode (1-3 bytes), ModRM/SIB/disp for rm (NULL: no ModRM), imm. */
void enc_insn(struct gen *g, unsigned pfx, int size, const uint8_t *opc, int nopc, int regf,
	      const struct opnd *rm, int immsz, uint64_t imm);
/* Register-in-opcode form (50+r, B8+r, C8+r...). */
void enc_oreg(struct gen *g, unsigned pfx, int size, uint8_t opc, int reg, int immsz, uint64_t imm);

#endif
