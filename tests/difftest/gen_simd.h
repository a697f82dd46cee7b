/* Difftest SIMD/x87 generator (gen_sse.c, gen_x87.c) and FPU state comparison. */
#ifndef VMON_TESTS_DIFFTEST_GEN_SIMD_H
#define VMON_TESTS_DIFFTEST_GEN_SIMD_H

#include <stddef.h>

#include "gen.h"

/* Initial FXSAVE image (XMM, MXCSR, x87 stack, control/status/tag words) in r->fx, and FP values
 * sprinkled over the data area when SIMD/x87 groups are enabled. */
void gen_fp_state(struct gen *g, struct dt_regs *r, uint8_t *mem);
/* One item of a SIMD group (G_SSEMOV..G_FXSR) or of G_X87. */
void gen_sse_item(struct gen *g, int group);
void gen_x87_item(struct gen *g);
/* The x87 part of an initial FXSAVE image: FCW, FSW (TOP), abridged FTW, ST0-7. */
void gen_x87_state(struct gen *g, uint8_t *fx);
/* A memory operand of n bytes at a 16-byte aligned, freshly chosen offset of the data area
 * addressed as [R12 + disp32] (for FXSAVE-sized and environment operands). */
struct opnd o_mem_big(struct gen *g, unsigned n);

/* Interesting values. */
uint32_t rnd_f32(struct gen *g);
uint64_t rnd_f64(struct gen *g);

/* Compare the FXSAVE images of native and emu (fields a host FXSAVE leaves undefined or that
 * differ by design are ignored); append a description of the differences to why. Returns 1 when
 * they differ. */
int dt_fx_diff(const uint8_t *nat, const uint8_t *emu, char *why, size_t n);

#endif
