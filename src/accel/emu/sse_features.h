/* emu: the one place that says which CPUID feature bits the emulator's x87/MMX/SSE code
 * completes. The CPUID policy for the emu backend advertises exactly these SIMD/FPU bits (and the
 * integer side adds its own, e.g. POPCNT, CMOV); an instruction group that is not finished must
 * not appear here. Verified against the host CPU by tests/difftest (groups ssemov, sseint, ssefp,
 * ssecvt, mmx, ssse3, sse41, sse42, fxsr, x87). SSE3 and later stay unadvertised until the
 * difftest is known to cover every instruction of the extension, not only the generated ones. */
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
#define EMU_SIMD_CPUID1_ECX 0u

/* MXCSR_MASK reported by FXSAVE: DAZ and all architectural bits are supported. */
#define EMU_MXCSR_MASK 0xffffu

#endif
