/* emu: the one place that says which CPUID feature bits the emulator's x87/MMX/SSE code
 * completes. The CPUID policy for the emu backend advertises exactly these SIMD/FPU bits (and the
 * integer side adds its own, e.g. POPCNT, CMOV); an instruction group that is not finished must
 * not appear here. Verified against the host CPU by tests/difftest (groups ssemov, sseint, ssefp,
 * ssecvt, mmx, ssse3, sse41, sse42, fxsr, x87). SSE3, SSSE3, SSE4.1 and SSE4.2 are advertised
 * because `difftest --cover` (tests/difftest/cover.c) runs every instruction form of each
 * (register and memory operands, MMX and XMM forms, REX.W variants, FISTTP) and they match the
 * host. MONITOR/MWAIT (leaf 1 ECX bit 3, its own bit) stay unadvertised and raise #UD. An
 * extension added here needs its forms in cover.c first. */
#ifndef VMON_ACCEL_EMU_SSE_FEATURES_H
#define VMON_ACCEL_EMU_SSE_FEATURES_H

/* CPUID.01H:EDX */
#define EMU_CPUID1_EDX_FPU (1u << 0)
#define EMU_CPUID1_EDX_MMX (1u << 23)
#define EMU_CPUID1_EDX_FXSR (1u << 24)
#define EMU_CPUID1_EDX_SSE (1u << 25)
#define EMU_CPUID1_EDX_SSE2 (1u << 26)
/* CPUID.01H:ECX */
#define EMU_CPUID1_ECX_SSE3 (1u << 0)
#define EMU_CPUID1_ECX_SSSE3 (1u << 9)
#define EMU_CPUID1_ECX_SSE4_1 (1u << 19)
#define EMU_CPUID1_ECX_SSE4_2 (1u << 20)

/* What the emulator implements (leaf 1). */
#define EMU_SIMD_CPUID1_EDX 0u
#define EMU_SIMD_CPUID1_ECX                                                                        \
	(EMU_CPUID1_ECX_SSE3 | EMU_CPUID1_ECX_SSSE3 | EMU_CPUID1_ECX_SSE4_1 | EMU_CPUID1_ECX_SSE4_2)

/* MXCSR_MASK reported by FXSAVE: DAZ and all architectural bits are supported. */
#define EMU_MXCSR_MASK 0xffffu

#endif
