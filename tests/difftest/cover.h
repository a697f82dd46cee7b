/* Difftest coverage of the SIMD extensions beyond SSE2: a list of every instruction form of
 * SSE3, SSSE3, SSE4.1 and SSE4.2 (register and memory operands, MMX and XMM forms, REX.W and
 * operand-size variants, MONITOR/MWAIT as #UD), tallied from the instructions of passing
 * sequences as emu's decoder sees them. `difftest --cover` prints the tally and fails when a
 * form was never run; sse_features.h advertises an extension only when all its forms are hit. */
#ifndef VMON_TESTS_DIFFTEST_COVER_H
#define VMON_TESTS_DIFFTEST_COVER_H

#include <stdint.h>

/* Count one instruction of a passing sequence (p: its bytes, avail: bytes readable from p) that
 * emu completed, or, with ud set, that raised #UD on both sides. */
void dt_cover_insn(const uint8_t *p, unsigned avail, int ud);

/* Print the tally (every form with verbose, else the missing ones and a summary per
 * extension); returns the number of forms never run. Without faults (--no-faults) the #UD forms
 * are not generated and not counted. */
int dt_cover_report(int verbose, int faults);

#endif
