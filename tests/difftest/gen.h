/* Difftest generator internals shared by gen.c (core, data-processing groups) and gen_ctl.c
 * (control flow, stack, strings, faults). */
#ifndef VMON_TESTS_DIFFTEST_GEN_H
#define VMON_TESTS_DIFFTEST_GEN_H

#include "enc.h"

#define FL_CF 0x001u
#define FL_PF 0x004u
#define FL_AF 0x010u
#define FL_ZF 0x040u
#define FL_SF 0x080u
#define FL_OF 0x800u
#define FL_ALL (FL_CF | FL_PF | FL_AF | FL_ZF | FL_SF | FL_OF)

uint64_t rnd(struct gen *g);
unsigned rn(struct gen *g, unsigned n);
int rsize(struct gen *g);		  /* 1, 2, 4 or 8 */
int rsize_nb(struct gen *g);		  /* 2, 4 or 8 */
int pick_reg(struct gen *g);		  /* a writable GPR (not RSP, R12-R14, not avoided) */
int pick_src(struct gen *g);		  /* any GPR readable as a source (incl. R12-R14) */
int pick_breg(struct gen *g, int legacy); /* byte register; legacy: AL..BL, AH..BH */
struct opnd o_reg(int r);
/* A memory operand of size bytes inside the data area; align: required alignment (1..16);
 * legacy: no REX-requiring base (RIP/absolute forms only). */
struct opnd o_mem(struct gen *g, int size, int align, int legacy);
/* Register or memory r/m operand for an item of the given size (writable when dst). */
struct opnd o_rm(struct gen *g, int size, int dst, int legacy);
/* Emit a CMP that defines all six arithmetic flags when any flag in mask is undefined. */
void need_flags(struct gen *g, uint32_t mask);
/* mov reg, imm (sign-extended imm32 for size 8). */
void emit_mov_imm(struct gen *g, int size, int reg, uint64_t imm);
/* lea reg64, [base + disp] */
void emit_lea(struct gen *g, int reg, int base, int32_t disp);
/* Register a forward jump whose rel field (size 1 or 4) ends at the current position. */
void add_pending(struct gen *g, unsigned size, int skip_items);
/* One item of a simple data-processing group (used as LOOP bodies). */
void item_alu_simple(struct gen *g);

/* Emit one item of group; gen_alu_item returns 0 when the group is not a data-processing one. */
int gen_alu_item(struct gen *g, int group);
void gen_ctl_item(struct gen *g, int group);

#endif
