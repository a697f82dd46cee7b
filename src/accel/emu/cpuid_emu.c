/* emu: the CPUID the guest sees. It lists exactly what the emulator implements: an Intel-style
 * family 6 CPU (so that Linux takes the TSC frequency from leaf 0x15; model 0x8f is not on
 * Linux's TSC-deadline errata list), the integer and system features the interpreter and MMU
 * complete, the SIMD bits sse_features.h declares verified, the LAPIC features the VMM's
 * userspace LAPIC provides (x2APIC, TSC deadline), and no XSAVE, AVX, MONITOR, VMX, PCID,
 * SMEP/SMAP, FSGSBASE, BMI, PMU or machine-check architecture. cpuid_policy_apply then adds the
 * APIC ids, the hypervisor bit and the topology (leaves 1, 0xB, 4). tests/unit/test_emu_msr.c
 * runs an instruction of every advertised feature. */
#include <string.h>

#include "accel/emu/emu_priv.h"
#include "accel/emu/sse_features.h"
#include "arch/x86/cpuid.h"

/* Leaf 1 EDX: FPU(0) DE(2) PSE(3) TSC(4) MSR(5) PAE(6) CX8(8) APIC(9) SEP(11) MTRR(12) PGE(13)
 * CMOV(15) PAT(16) CLFSH(19). No VME (no virtual-8086 extensions), MCE/MCA, PSE-36 (32-bit
 * paging treats PDE bits 21:13 as reserved), DS, ACPI thermal, SS, HTT (policy), TM, PBE. */
#define EMU_L1_EDX                                                                                 \
	((1u << 0) | (1u << 2) | (1u << 3) | (1u << 4) | (1u << 5) | (1u << 6) | (1u << 8) |       \
	 (1u << 9) | (1u << 11) | (1u << 12) | (1u << 13) | (1u << 15) | (1u << 16) | (1u << 19))
/* The x86-64 baseline FPU(0) MMX(23) FXSR(24) SSE(25) SSE2(26): Linux x86-64 refuses to boot
 * without it (verify_cpu, required-features.h), so it is listed while the SIMD differential
 * tests are completed; everything beyond it comes from sse_features.h only. */
#define EMU_L1_EDX_BASELINE ((1u << 0) | (1u << 23) | (1u << 24) | (1u << 25) | (1u << 26))
/* Leaf 1 ECX: CX16(13, with a host 16-byte CAS) x2APIC(21) MOVBE(22) POPCNT(23)
 * TSC-deadline(24) RDRAND(30, the VMM's rdrand callback; without one RDRAND reports failure). */
#define EMU_L1_ECX_CX16 (1u << 13)
#define EMU_L1_ECX ((1u << 21) | (1u << 22) | (1u << 23) | (1u << 24) | (1u << 30))
/* Leaf 7.0 EBX: TSC_ADJUST(1, IA32_TSC_ADJUST: the vCPU's TSC offset) ERMS(9, REP MOVSB/STOSB)
 * ADX(19). With TSC_ADJUST, a constant and non-stop TSC and a known frequency, Linux trusts the
 * TSC without its clocksource watchdog, which would otherwise compare it with the timer-tick
 * count and, when the host deschedules the vCPU thread (ticks then arrive late), mark the TSC
 * unstable and fall back to a slow clocksource. */
#define EMU_L7_EBX ((1u << 1) | (1u << 9) | (1u << 19))
/* Leaf 7.0 EDX: ARCH_CAPABILITIES(29). The interpreter does not speculate, so
 * IA32_ARCH_CAPABILITIES (EMU_ARCH_CAPABILITIES, emu_priv.h) reports every "not affected" bit; a
 * guest kernel then needs neither page-table isolation nor retpolines, return thunks or buffer
 * clearing, which would otherwise cost it a TLB flush on every kernel entry and extra
 * instructions on every call. SPEC_CTRL(26) is not advertised: Linux picks eIBRS from
 * ARCH_CAPABILITIES without it, and then has no IA32_SPEC_CTRL writes to make (the MSRs are kept
 * all the same, see msr.c). */
#define EMU_L7_EDX (1u << 29)
/* Leaf 7.2 EDX: BHI_CTRL(4): IA32_SPEC_CTRL.BHI_DIS_S exists, so Linux need not clear the branch
 * history in software on every system call. */
#define EMU_L7_2_EDX (1u << 4)
/* 0x80000001 ECX: LAHF/SAHF in 64-bit mode(0), LZCNT(5); EDX: SYSCALL(11) NX(20)
 * 1 GiB pages(26) RDTSCP(27) LM(29). */
#define EMU_X1_ECX ((1u << 0) | (1u << 5))
#define EMU_X1_EDX ((1u << 11) | (1u << 20) | (1u << 26) | (1u << 27) | (1u << 29))
/* 0x80000007 EDX: invariant TSC(8) (the VMM's TSC runs at a constant rate). */
#define EMU_X7_EDX (1u << 8)

static void add(struct cpuid_table *t, uint32_t fn, uint32_t idx, uint32_t flags, uint32_t a,
		uint32_t b, uint32_t c, uint32_t d)
{
	struct cpuid_entry e = {fn, idx, flags, a, b, c, d};
	if (cpuid_set(t, &e))
		return; /* cannot happen: the table holds far more entries than emu lists */
}

static uint32_t str4(const char *s)
{
	uint32_t v;
	memcpy(&v, s, 4);
	return v;
}

void emu_cpuid_table(struct cpuid_table *t, uint32_t tsc_khz)
{
	static const char brand[48] = "vmon emu CPU";
	uint32_t mhz = tsc_khz / 1000;
	uint64_t hz = (uint64_t)tsc_khz * 1000;
	uint32_t ecx1 = EMU_L1_ECX | EMU_SIMD_CPUID1_ECX | (EMU_HAVE_CAS16 ? EMU_L1_ECX_CX16 : 0);

	memset(t, 0, sizeof(*t));
	add(t, 0, 0, 0, 0x16, str4("Genu"), str4("ntel"), str4("ineI"));
	/* Family 6, model 0x8f, stepping 8; EBX: CLFLUSH line 8 * 8 bytes (APIC ids: policy). */
	add(t, 1, 0, 0, 0x000806f8, 8u << 8, ecx1,
	    EMU_L1_EDX | EMU_L1_EDX_BASELINE | EMU_SIMD_CPUID1_EDX);
	add(t, 7, 0, CPUID_FLAG_SIGNIFICANT_INDEX, 2, EMU_L7_EBX, 0, EMU_L7_EDX);
	add(t, 7, 1, CPUID_FLAG_SIGNIFICANT_INDEX, 0, 0, 0, 0);
	add(t, 7, 2, CPUID_FLAG_SIGNIFICANT_INDEX, 0, 0, 0, EMU_L7_2_EDX);
	/* TSC = crystal * 1 / 1; Linux then knows the TSC and LAPIC timer frequencies. */
	if (hz && hz <= UINT32_MAX)
		add(t, 0x15, 0, 0, 1, 1, (uint32_t)hz, 0);
	else
		add(t, 0x15, 0, 0, 0, 0, 0, 0); /* unknown (or above 4.29 GHz): not enumerated */
	add(t, 0x16, 0, 0, mhz & 0xffff, mhz & 0xffff, 100, 0);
	add(t, 0x80000000, 0, 0, 0x80000008, 0, 0, 0);
	add(t, 0x80000001, 0, 0, 0, 0, EMU_X1_ECX, EMU_X1_EDX);
	for (uint32_t i = 0; i < 3; i++) {
		const char *s = brand + 16 * i;
		add(t, 0x80000002 + i, 0, 0, str4(s), str4(s + 4), str4(s + 8), str4(s + 12));
	}
	add(t, 0x80000007, 0, 0, 0, 0, 0, EMU_X7_EDX);
	/* Physical address bits (what the MMU checks as reserved) and 48 linear bits. */
	add(t, 0x80000008, 0, 0, (48u << 8) | EMU_PHYS_BITS, 0, 0, 0);
}
