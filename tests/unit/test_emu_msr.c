/* Unit tests for the MSRs emu keeps (#GP rules of EFER, canonical addresses, PAT, MTRRs, TSC,
 * forwarding of the LAPIC and unknown MSRs to the VMM, save/load through x86_cpu_state.msrs) and
 * for its CPUID table: the leaves, an instruction for every advertised feature (it must run),
 * SYSCALL/SYSRET/SYSENTER, and #UD/#GP for features emu does not advertise. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "accel/emu/sse_features.h"
#include "arch/x86/cpuid.h"
#include "emu_sys_env.h"

/* ---- MSRs (exc_exit mode: #GP is an EXCEPTION exit) ---- */

static int msr_run(struct env *e, uint32_t idx, uint64_t val, int write, uint64_t *out)
{
	uint64_t r[16] = {[X86_RCX] = idx, [X86_RAX] = (uint32_t)val, [X86_RDX] = val >> 32};

	e->cpu.exc_exit = 1;
	if (write)
		CODE_AT(e, CODE, 0x0f, 0x30, 0xf4);
	else
		CODE_AT(e, CODE, 0x0f, 0x32, 0xf4);
	int ret = run_k(e, r);
	if (out)
		*out = (e->cpu.st.gpr[X86_RDX] << 32) | (uint32_t)e->cpu.st.gpr[X86_RAX];
	if (ret == EMU_EXIT_HLT)
		return 0;
	assert_int_equal(ret, EMU_EXIT_EXCEPTION);
	assert_int_equal(e->cpu.exit.vector, 13);
	assert_int_equal(e->cpu.exit.error_code, 0);
	return -1;
}

#define WR(e, i, v) msr_run((e), (i), (v), 1, NULL)
static uint64_t rd_ok(struct env *e, uint32_t idx)
{
	uint64_t v = 0;
	assert_int_equal(msr_run(e, idx, 0, 0, &v), 0);
	return v;
}
#define RD_FAILS(e, i) assert_int_equal(msr_run((e), (i), 0, 0, NULL), -1)

static void test_msr_efer_and_canonical(void **state)
{
	struct env *e = *state;
	const uint64_t lme_lma = X86_EFER_LME | X86_EFER_LMA;

	assert_int_equal(rd_ok(e, 0xc0000080), lme_lma | X86_EFER_NXE | X86_EFER_SCE);
	assert_int_equal(WR(e, 0xc0000080, lme_lma | 2), -1);	      /* reserved bit 1 */
	assert_int_equal(WR(e, 0xc0000080, lme_lma | (1 << 12)), -1); /* SVME: not provided */
	assert_int_equal(WR(e, 0xc0000080, lme_lma | (1ull << 32)), -1);
	assert_int_equal(WR(e, 0xc0000080, X86_EFER_LMA), -1); /* LME off with paging on */
	assert_int_equal(WR(e, 0xc0000080, X86_EFER_LME), 0);  /* LMA is read-only: kept */
	assert_int_equal(e->cpu.st.efer, lme_lma);

	/* Addresses must be canonical (FS/GS_BASE read back below: each run reloads state). */
	static const uint32_t addr_msrs[] = {0xc0000082, 0xc0000083, 0xc0000102, 0x175,
					     0x176,	 0xc0000100, 0xc0000101};
	for (unsigned i = 0; i < sizeof(addr_msrs) / sizeof(addr_msrs[0]); i++) {
		assert_int_equal(WR(e, addr_msrs[i], 0x0000800000000000ull), -1);
		assert_int_equal(WR(e, addr_msrs[i], 0xffff800000001000ull), 0);
		if (i < 5)
			assert_int_equal(rd_ok(e, addr_msrs[i]), 0xffff800000001000ull);
	}
	assert_int_equal(WR(e, 0xc0000081, 0x0023001000000000ull), 0); /* STAR: any value */
	assert_int_equal(rd_ok(e, 0xc0000081), 0x0023001000000000ull);

	/* FS_BASE moves fs: at once; SWAPGS exchanges GS_BASE and KERNEL_GS_BASE. */
	put64(e, DATA, 0x1122334455667788ull);
	uint64_t r[16] = {[X86_RCX] = 0xc0000100, [X86_RAX] = DATA};
	/* wrmsr; mov rbx, fs:[0]; hlt */
	CODE_AT(e, CODE, 0x0f, 0x30, 0x64, 0x48, 0x8b, 0x1c, 0x25, 0, 0, 0, 0, 0xf4);
	assert_int_equal(run_k(e, r), EMU_EXIT_HLT);
	assert_int_equal(e->cpu.st.gpr[X86_RBX], 0x1122334455667788ull);
	assert_int_equal(e->cpu.st.seg[X86_FS].base, DATA);
	r[X86_RCX] = 0xc0000102;
	r[X86_RAX] = 0x12345000;
	/* wrmsr KERNEL_GS_BASE; mov ecx, GS_BASE; swapgs; rdmsr; hlt */
	CODE_AT(e, CODE, 0x0f, 0x30, 0xb9, 0x01, 0x01, 0x00, 0xc0, 0x0f, 0x01, 0xf8, 0x0f, 0x32,
		0xf4);
	assert_int_equal(run_k(e, r), EMU_EXIT_HLT);
	assert_int_equal(e->cpu.st.gpr[X86_RAX], 0x12345000);
	assert_int_equal(e->cpu.st.seg[X86_GS].base, 0x12345000);
}

static void test_msr_pat_mtrr_tsc(void **state)
{
	struct env *e = *state;

	assert_int_equal(rd_ok(e, 0x277), 0x0007040600070406ull);  /* power-on PAT */
	assert_int_equal(WR(e, 0x277, 0x0007040600070402ull), -1); /* type 2 reserved */
	assert_int_equal(WR(e, 0x277, 0x0007040600070408ull), -1);
	assert_int_equal(WR(e, 0x277, 0x0007010600070106ull), 0);
	assert_int_equal(rd_ok(e, 0x277), 0x0007010600070106ull);

	assert_int_equal(rd_ok(e, 0x2ff), 0xc06);	 /* MTRRs on, default WB (as kvm sets it) */
	assert_int_equal(rd_ok(e, 0xfe) & 0x1ff, 0x108); /* fixed ranges, 8 variable */
	assert_int_equal(WR(e, 0x2ff, 0xc02), -1);
	assert_int_equal(WR(e, 0x2ff, 0x1c06), -1);
	assert_int_equal(WR(e, 0x200, (1ull << 40) | 6), -1); /* base above MAXPHYADDR */
	assert_int_equal(WR(e, 0x200, 0x80000007), -1);	      /* type 7 */
	assert_int_equal(WR(e, 0x200, 0x80000006), 0);
	assert_int_equal(WR(e, 0x201, 0xff80000801ull), -1); /* mask: bits 10:0 reserved */
	assert_int_equal(WR(e, 0x201, 0xff80000800ull), 0);
	assert_int_equal(WR(e, 0x250, 0x0606060606060602ull), -1);
	assert_int_equal(WR(e, 0x250, 0x0606060606060606ull), 0);
	assert_int_equal(rd_ok(e, 0x250), 0x0606060606060606ull);

	/* IA32_TSC writes move the offset; TSC_ADJUST shows it. */
	e->tsc = 1000;
	assert_int_equal(WR(e, 0x10, 5000), 0);
	CODE_AT(e, CODE, 0x0f, 0x31, 0xf4); /* rdtsc */
	assert_int_equal(run_k(e, NULL), EMU_EXIT_HLT);
	assert_int_equal(e->cpu.st.gpr[X86_RAX], 5000);
	e->tsc = 1500;
	assert_int_equal(rd_ok(e, 0x10), 5500);
	assert_int_equal(rd_ok(e, 0x3b), 4000);
	/* TSC_AUX feeds RDTSCP; bits 63:32 are reserved. */
	assert_int_equal(WR(e, 0xc0000103, 1ull << 32), -1);
	assert_int_equal(WR(e, 0xc0000103, 7), 0);
	CODE_AT(e, CODE, 0x0f, 0x01, 0xf9, 0xf4);
	assert_int_equal(run_k(e, NULL), EMU_EXIT_HLT);
	assert_int_equal(e->cpu.st.gpr[X86_RCX], 7);
	assert_int_equal(e->cpu.st.gpr[X86_RAX], 5500);
}

/* Speculation control: emu does not speculate, so ARCH_CAPABILITIES says "not affected" to every
 * attack Linux knows a bit for (so it chooses no page-table isolation and no retpolines), and
 * SPEC_CTRL keeps the bits that exist (IBRS STIBP SSBD RRSBA_DIS_S BHI_DIS_S); PRED_CMD takes IBPB.
 */
static void test_msr_speculation(void **state)
{
	struct env *e = *state;
	uint64_t caps = rd_ok(e, 0x10a);

	static const unsigned no_bits[] = {0, 4, 5, 6, 8, 13, 14, 15, 20, 24, 26, 27, 62};
	for (unsigned i = 0; i < sizeof(no_bits) / sizeof(no_bits[0]); i++)
		if (!(caps >> no_bits[i] & 1))
			fail_msg("ARCH_CAPABILITIES 0x%llx lacks bit %u", (unsigned long long)caps,
				 no_bits[i]);
	assert_true(caps & 2);			  /* IBRS_ALL: eIBRS rather than retpolines */
	assert_int_equal(caps & (1ull << 2), 0);  /* not RSBA */
	assert_int_equal(caps & (1ull << 25), 0); /* no GDS_CTRL (no IA32_MCU_OPT_CTRL) */
	assert_int_equal(WR(e, 0x10a, caps), -1); /* read-only */
	assert_int_equal(rd_ok(e, 0x48), 0);
	assert_int_equal(WR(e, 0x48, 0x401), 0);
	assert_int_equal(rd_ok(e, 0x48), 0x401);
	assert_int_equal(WR(e, 0x48, 1ull << 3), -1); /* reserved */
	assert_int_equal(rd_ok(e, 0x48), 0x401);
	assert_int_equal(WR(e, 0x49, 1), 0);
	assert_int_equal(WR(e, 0x49, 2), -1);
}

static void test_msr_forwarding(void **state)
{
	struct env *e = *state;

	/* Platform MSRs Linux reads: emu answers, nothing is forwarded. */
	e->msr_calls = 0;
	assert_int_equal(rd_ok(e, 0x8b), 0);
	assert_int_equal(rd_ok(e, 0x17), 0);
	assert_int_equal(rd_ok(e, 0x179), 0);
	assert_int_equal(rd_ok(e, 0xc0000082), 0);
	assert_int_equal(e->msr_calls, 0);
	/* LAPIC MSRs go to the VMM. */
	e->msr_read_val = 0xfee00900;
	assert_int_equal(rd_ok(e, 0x1b), 0xfee00900);
	assert_int_equal(e->last_msr, 0x1b);
	assert_int_equal(WR(e, 0x830, 0x000000ff000400fdull), 0);
	assert_int_equal(e->last_msr, 0x830);
	assert_int_equal(e->last_msr_val, 0x000000ff000400fdull);
	assert_int_equal(WR(e, 0x6e0, 12345), 0);
	assert_int_equal(e->last_msr, 0x6e0);
	assert_int_equal(rd_ok(e, 0x8ff), 0xfee00900);
	/* Unknown MSRs are offered to the VMM, which refuses: #GP. */
	RD_FAILS(e, 0x12345);
	assert_int_equal(e->last_msr, 0x12345);
	assert_int_equal(WR(e, 0x1d9, 1), -1); /* DEBUGCTL: not kept, the VMM refuses */
	/* Without callbacks everything emu does not keep is #GP. */
	emu_cpu_set_sys_ops(&e->cpu, NULL);
	RD_FAILS(e, 0x1b);
	assert_int_equal(rd_ok(e, 0x277), 0x0007040600070406ull);
	emu_cpu_set_sys_ops(&e->cpu, &env_sys);
	/* RDMSR/WRMSR at CPL 3: #GP(0). */
	struct x86_cpu_state st;
	env_state(e, &st, CODE);
	env_user(&st, USER_CODE, USTACK);
	st.gpr[X86_RCX] = 0xc0000082;
	CODE_AT(e, USER_CODE, 0x0f, 0x32, 0xf4);
	e->cpu.exc_exit = 1;
	assert_int_equal(run_st(e, &st), EMU_EXIT_EXCEPTION);
	assert_int_equal(e->cpu.exit.vector, 13);
	assert_int_equal(e->cpu.st.rip, USER_CODE);
}

static void test_msr_save_load(void **state)
{
	struct env *e = *state, e2;
	static const struct {
		uint32_t idx;
		uint64_t val;
	} m[] = {
	    {0xc0000081, 0x0023001000000000ull},
	    {0xc0000082, 0xffffffff81000000ull},
	    {0xc0000083, 0xffffffff81000100ull},
	    {0xc0000084, 0x47700},
	    {0xc0000102, 0xffff888000000000ull},
	    {0xc0000103, 3},
	    {0x174, 0x10},
	    {0x175, 0xfffffe0000001000ull},
	    {0x176, 0xffffffff81000200ull},
	    {0x277, 0x0007010600070106ull},
	    {0x200, 0x6},
	    {0x201, 0xff80000800ull},
	    {0x268, 0x0505050505050505ull},
	    {0x2ff, 0xc00},
	    {0x48, 0x401},
	};
	struct x86_cpu_state st;
	uint64_t v;

	for (unsigned i = 0; i < sizeof(m) / sizeof(m[0]); i++)
		assert_int_equal(WR(e, m[i].idx, m[i].val), 0);
	emu_cpu_get_state(&e->cpu, &st);
	for (unsigned i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		assert_true(x86_state_get_msr(&st, m[i].idx, &v));
		assert_int_equal(v, m[i].val);
	}
	assert_int_equal(env_init(&e2, NULL), 0);
	emu_cpu_set_state(&e2.cpu, &st);
	for (unsigned i = 0; i < sizeof(m) / sizeof(m[0]); i++)
		assert_int_equal(rd_ok(&e2, m[i].idx), m[i].val);
	env_destroy(&e2, 1);
}

/* ---- CPUID ---- */

static struct cpuid_table cpuid_tab; /* test harness only: the callback's table */

static void env_cpuid(void *ctx, uint32_t r[4])
{
	(void)ctx;
	const struct cpuid_entry *c = cpuid_find(&cpuid_tab, r[0], r[2]);
	r[0] = c ? c->eax : 0;
	r[1] = c ? c->ebx : 0;
	r[2] = c ? c->ecx : 0;
	r[3] = c ? c->edx : 0;
}

static const struct emu_sys_ops cpuid_sys = {.cpuid = env_cpuid,
					     .rdtsc = env_rdtsc,
					     .rdmsr = env_rdmsr,
					     .wrmsr = env_wrmsr,
					     .rdrand = env_rdrand};

static const struct cpuid_entry *leaf(uint32_t fn, uint32_t idx)
{
	const struct cpuid_entry *c = cpuid_find(&cpuid_tab, fn, idx);
	assert_non_null(c);
	return c;
}

static void test_cpuid_leaves(void **state)
{
	(void)state;
	emu_cpuid_table(&cpuid_tab, 1000000);
	assert_int_equal(cpuid_policy_apply(&cpuid_tab, 0, 2, 0), 0);

	const struct cpuid_entry *c = leaf(0, 0);
	char vendor[13] = {0};
	memcpy(vendor, &c->ebx, 4);
	memcpy(vendor + 4, &c->edx, 4);
	memcpy(vendor + 8, &c->ecx, 4);
	assert_string_equal(vendor, "GenuineIntel");
	assert_int_equal(c->eax, 0x16);

	c = leaf(1, 0);
	assert_int_equal((c->eax >> 8) & 0xf, 6);
	assert_int_equal(((c->eax >> 4) & 0xf) | ((c->eax >> 12) & 0xf0), 0x8f);
	/* What an x86-64 Linux kernel requires (required-features.h), and the LAPIC features. */
	const uint32_t need_edx = (1u << 0) | (1u << 3) | (1u << 4) | (1u << 5) | (1u << 6) |
				  (1u << 8) | (1u << 9) | (1u << 13) | (1u << 15) | (1u << 24) |
				  (1u << 25) | (1u << 26);
	assert_int_equal(c->edx & need_edx, need_edx);
	assert_int_equal(c->ecx & ((1u << 21) | (1u << 24) | (1u << 31)),
			 (1u << 21) | (1u << 24) | (1u << 31)); /* x2APIC TSC-deadline hyperv */
	/* Not implemented: VME MCE MCA PSE-36 DS ACPI SS TM PBE. */
	assert_int_equal(c->edx & ((1u << 1) | (1u << 7) | (1u << 14) | (1u << 17) | (1u << 21) |
				   (1u << 22) | (1u << 27) | (1u << 29) | (1u << 31)),
			 0);
	/* Not implemented: PCLMUL DTES64 MONITOR VMX SMX EST TM2 FMA PDCM PCID DCA AES XSAVE
	 * OSXSAVE AVX F16C. */
	assert_int_equal(c->ecx & ((1u << 1) | (1u << 2) | (1u << 3) | (1u << 5) | (1u << 6) |
				   (1u << 7) | (1u << 8) | (1u << 12) | (1u << 15) | (1u << 17) |
				   (1u << 18) | (1u << 25) | (1u << 26) | (1u << 27) | (1u << 28) |
				   (1u << 29)),
			 0);
	/* The SIMD bits are exactly what sse_features.h declares verified. */
	const uint32_t simd_ecx = EMU_CPUID1_ECX_SSE3 | EMU_CPUID1_ECX_SSSE3 |
				  EMU_CPUID1_ECX_SSE4_1 | EMU_CPUID1_ECX_SSE4_2;
	assert_int_equal(c->ecx & simd_ecx, EMU_SIMD_CPUID1_ECX & simd_ecx);

	c = leaf(7, 0);
	assert_int_equal(c->eax, 2);				      /* subleaves 0-2 */
	assert_int_equal(c->ebx, (1u << 1) | (1u << 9) | (1u << 19)); /* TSC_ADJUST ERMS ADX */
	assert_int_equal(c->ecx, 0);
	assert_int_equal(c->edx, 1u << 29); /* ARCH_CAPABILITIES */
	c = leaf(7, 1);
	assert_int_equal(c->eax | c->ebx | c->ecx | c->edx, 0);
	c = leaf(7, 2);
	assert_int_equal(c->edx, 1u << 4); /* BHI_CTRL */
	c = leaf(0x15, 0);
	assert_int_equal(c->eax, 1);
	assert_int_equal(c->ebx, 1);
	assert_int_equal(c->ecx, 1000000000u);
	assert_int_equal(leaf(0x16, 0)->eax, 1000);
	assert_int_equal(leaf(0x80000000, 0)->eax, 0x80000008);
	c = leaf(0x80000001, 0);
	assert_int_equal(c->edx, (1u << 11) | (1u << 20) | (1u << 26) | (1u << 27) | (1u << 29));
	assert_int_equal(c->ecx, (1u << 0) | (1u << 5));
	char brand[49] = {0};
	for (uint32_t i = 0; i < 3; i++) {
		c = leaf(0x80000002 + i, 0);
		memcpy(brand + 16 * i, &c->eax, 4);
		memcpy(brand + 16 * i + 4, &c->ebx, 4);
		memcpy(brand + 16 * i + 8, &c->ecx, 4);
		memcpy(brand + 16 * i + 12, &c->edx, 4);
	}
	assert_string_equal(brand, "vmon emu CPU");
	assert_int_equal(leaf(0x80000008, 0)->eax & 0xffff, (48 << 8) | 40);
	/* No XSAVE leaf, no PMU leaf, no AMD SVM. */
	assert_null(cpuid_find(&cpuid_tab, 0xd, 0));
	assert_null(cpuid_find(&cpuid_tab, 0xa, 0));
	/* An unknown TSC frequency leaves leaf 0x15 empty. */
	struct cpuid_table t2;
	emu_cpuid_table(&t2, 0);
	assert_int_equal(cpuid_find(&t2, 0x15, 0)->ecx, 0);
}

struct probe {
	const char *name;
	uint32_t leaf, reg, bit; /* reg: 1 EBX, 2 ECX, 3 EDX */
	uint8_t code[16];
	unsigned len;
};

#define P(n, l, r, b, ...)                                                                         \
	{                                                                                          \
		n, l, r, b, {__VA_ARGS__}, sizeof((uint8_t[]){__VA_ARGS__})                        \
	}

/* One instruction of each advertised feature (rsi = DATA, 16-byte aligned; rcx = 0x10). */
static const struct probe probes[] = {
    P("fpu", 1, 3, 0, 0xdb, 0xe3, 0xd9, 0xe8, 0xdd, 0xd8), /* fninit; fld1; fstp st0 */
    P("tsc", 1, 3, 4, 0x0f, 0x31),
    P("msr", 1, 3, 5, 0x0f, 0x32),
    P("cx8", 1, 3, 8, 0xf0, 0x0f, 0xc7, 0x0e),
    P("cmov", 1, 3, 15, 0x0f, 0x44, 0xc1),
    P("clfsh", 1, 3, 19, 0x0f, 0xae, 0x3e),
    P("mmx", 1, 3, 23, 0x0f, 0xfc, 0xc1, 0x0f, 0x77), /* paddb mm0, mm1; emms */
    P("fxsr", 1, 3, 24, 0x0f, 0xae, 0x06, 0x0f, 0xae, 0x0e),
    P("sse", 1, 3, 25, 0x0f, 0x28, 0xc1, 0x0f, 0x58, 0xc1),
    P("sse2", 1, 3, 26, 0x66, 0x0f, 0xfe, 0xc1, 0x66, 0x0f, 0x6f, 0xc1),
    P("sse3", 1, 2, 0, 0xf2, 0x0f, 0x7c, 0xc1),
    /* lddqu xmm0, [rsi]; movddup xmm0, xmm1; movshdup xmm1, xmm0; addsubps xmm0, xmm1 */
    P("sse3 moves", 1, 2, 0, 0xf2, 0x0f, 0xf0, 0x06, 0xf2, 0x0f, 0x12, 0xc1, 0xf3, 0x0f, 0x16, 0xc8,
      0xf2, 0x0f, 0xd0, 0xc1),
    P("sse3 fisttp", 1, 2, 0, 0xd9, 0xe8, 0xdb, 0x0f), /* fld1; fisttp dword [rdi] */
    P("ssse3", 1, 2, 9, 0x66, 0x0f, 0x38, 0x00, 0xc1),
    /* pshufb mm0, mm1; palignr mm0, mm1, 5; emms */
    P("ssse3 mmx", 1, 2, 9, 0x0f, 0x38, 0x00, 0xc1, 0x0f, 0x3a, 0x0f, 0xc1, 0x05, 0x0f, 0x77),
    P("cx16", 1, 2, 13, 0xf0, 0x48, 0x0f, 0xc7, 0x0e),
    P("sse4.1", 1, 2, 19, 0x66, 0x0f, 0x38, 0x39, 0xc1),
    /* movntdqa xmm0, [rsi]; roundsd xmm0, xmm1, 4 */
    P("sse4.1 more", 1, 2, 19, 0x66, 0x0f, 0x38, 0x2a, 0x06, 0x66, 0x0f, 0x3a, 0x0b, 0xc1, 0x04),
    P("sse4.1 pextrd", 1, 2, 19, 0x66, 0x0f, 0x3a, 0x16, 0xc0, 0x01), /* pextrd eax, xmm0, 1 */
    P("sse4.2", 1, 2, 20, 0xf2, 0x0f, 0x38, 0xf1, 0xc1),
    /* pcmpistri xmm0, xmm1, 0x0c; pcmpgtq xmm0, xmm1 */
    P("sse4.2 more", 1, 2, 20, 0x66, 0x0f, 0x3a, 0x63, 0xc1, 0x0c, 0x66, 0x0f, 0x38, 0x37, 0xc1),
    P("movbe", 1, 2, 22, 0x0f, 0x38, 0xf0, 0x06, 0x0f, 0x38, 0xf1, 0x06),
    P("popcnt", 1, 2, 23, 0xf3, 0x0f, 0xb8, 0xc1),
    P("rdrand", 1, 2, 30, 0x0f, 0xc7, 0xf0),
    P("tsc_adjust", 7, 1, 1, 0xb9, 0x3b, 0, 0, 0, 0x0f, 0x32),			 /* rdmsr */
    P("spec_ctrl", 7, 3, 26, 0xb9, 0x48, 0, 0, 0, 0x31, 0xc0, 0x99, 0x0f, 0x30), /* wrmsr 0 */
    P("arch_capabilities", 7, 3, 29, 0xb9, 0x0a, 0x01, 0, 0, 0x0f, 0x32),
    P("erms", 7, 1, 9, 0xf3, 0xa4),
    P("adx", 7, 1, 19, 0x66, 0x0f, 0x38, 0xf6, 0xc1, 0xf3, 0x0f, 0x38, 0xf6, 0xc1),
    P("lahf", 0x80000001, 2, 0, 0x9f, 0x9e),
    P("lzcnt", 0x80000001, 2, 5, 0xf3, 0x0f, 0xbd, 0xc1),
    P("rdtscp", 0x80000001, 3, 27, 0x0f, 0x01, 0xf9),
};

static void test_cpuid_features_execute(void **state)
{
	struct env *e = *state;
	uint64_t r[16] = {[X86_RSI] = DATA, [X86_RDI] = DATA + 0x100, [X86_RCX] = 0x10};

	emu_cpuid_table(&cpuid_tab, 1000000);
	assert_int_equal(cpuid_policy_apply(&cpuid_tab, 0, 1, 0), 0);
	emu_cpu_set_sys_ops(&e->cpu, &cpuid_sys);
	e->cpu.exc_exit = 1;
	for (unsigned i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		const struct probe *p = &probes[i];
		const struct cpuid_entry *c = leaf(p->leaf, 0);
		uint32_t v = p->reg == 1 ? c->ebx : p->reg == 2 ? c->ecx : c->edx;
		if (!((v >> p->bit) & 1))
			continue;
		uint8_t code[17];
		memcpy(code, p->code, p->len);
		code[p->len] = 0xf4;
		env_code(e, CODE, code, p->len + 1);
		int ret = run_k(e, r);
		if (ret != EMU_EXIT_HLT || e->cpu.st.rip != CODE + p->len + 1)
			fail_msg("advertised %s: exit %d vector %u at %#llx", p->name, ret,
				 e->cpu.exit.vector, (unsigned long long)e->cpu.st.rip);
	}
	/* CPUID through the instruction: the guest sees the table. */
	r[X86_RAX] = 0x80000008;
	CODE_AT(e, CODE, 0x0f, 0xa2, 0xf4);
	assert_int_equal(run_k(e, r), EMU_EXIT_HLT);
	assert_int_equal(e->cpu.st.gpr[X86_RAX] & 0xff, 40);
}

/* SYSCALL/SYSRET and SYSENTER (advertised: SYSCALL, SEP). */
static void test_fast_system_calls(void **state)
{
	struct env *e = *state;
	uint64_t r[16] = {0};

	e->cpu.exc_exit = 1;
	assert_int_equal(WR(e, 0xc0000081, 0x0018001000000000ull), 0); /* STAR */
	assert_int_equal(WR(e, 0xc0000082, CODE + 0x100), 0);	       /* LSTAR */
	assert_int_equal(WR(e, 0xc0000084, 0x200), 0);		       /* SFMASK: IF */
	e->ram[CODE + 0x100] = 0xf4;
	CODE_AT(e, CODE, 0x0f, 0x05); /* syscall */
	assert_int_equal(run_k(e, r), EMU_EXIT_HLT);
	assert_int_equal(e->cpu.st.rip, CODE + 0x101);
	assert_int_equal(e->cpu.st.gpr[X86_RCX], CODE + 2);
	assert_int_equal(e->cpu.st.seg[X86_CS].selector, 0x10);
	assert_int_equal(e->cpu.st.seg[X86_SS].selector, 0x18);
	/* sysretq to USER_CODE: CS = STAR[63:48] + 16 | 3, SS = + 8 | 3, RFLAGS from R11 */
	r[X86_RCX] = USER_CODE;
	r[X86_R11] = 0x202;
	CODE_AT(e, CODE, 0x48, 0x0f, 0x07);
	CODE_AT(e, USER_CODE, 0xf4);
	assert_int_equal(run_k(e, r), EMU_EXIT_EXCEPTION); /* hlt at CPL 3 */
	assert_int_equal(e->cpu.exit.vector, 13);
	assert_int_equal(e->cpu.st.rip, USER_CODE);
	assert_int_equal(e->cpu.st.seg[X86_CS].selector, SEL_UCODE);
	assert_int_equal(e->cpu.st.seg[X86_SS].selector, SEL_UDATA);
	assert_int_equal(emu_cpu_rflags(&e->cpu) & 0x200, 0x200);
	/* SYSCALL with EFER.SCE clear is #UD. */
	struct x86_cpu_state st;
	env_state(e, &st, CODE);
	st.efer &= ~X86_EFER_SCE;
	CODE_AT(e, CODE, 0x0f, 0x05);
	assert_int_equal(run_st(e, &st), EMU_EXIT_EXCEPTION);
	assert_int_equal(e->cpu.exit.vector, 6);
	/* SYSENTER */
	assert_int_equal(WR(e, 0x174, 0x10), 0);
	assert_int_equal(WR(e, 0x175, KSTACK - 0x100), 0);
	assert_int_equal(WR(e, 0x176, CODE + 0x100), 0);
	CODE_AT(e, CODE, 0x0f, 0x34);
	assert_int_equal(run_k(e, r), EMU_EXIT_HLT);
	assert_int_equal(e->cpu.st.rip, CODE + 0x101);
	assert_int_equal(rsp(e), KSTACK - 0x100);
}

/* Features emu does not advertise are not half-present: #UD, or #GP for the CR4 enable bits. */
static void test_unadvertised_features_fault(void **state)
{
	struct env *e = *state;
	static const uint8_t ud[][6] = {
	    {3, 0x0f, 0x01, 0xd0},	       /* xgetbv (no OSXSAVE) */
	    {3, 0x0f, 0x01, 0xc8},	       /* monitor */
	    {3, 0x0f, 0x01, 0xc9},	       /* mwait */
	    {3, 0x0f, 0x01, 0xc1},	       /* vmcall */
	    {3, 0x0f, 0x01, 0xca},	       /* clac (no SMAP) */
	    {3, 0x0f, 0xc7, 0xf8},	       /* rdseed */
	    {4, 0xf3, 0x0f, 0xc7, 0xf8},       /* rdpid */
	    {3, 0xc5, 0xf8, 0x77},	       /* vzeroupper (VEX: no AVX) */
	    {5, 0xc4, 0xe2, 0x70, 0xf2, 0xc2}, /* andn (BMI1) */
	};

	e->cpu.exc_exit = 1;
	for (unsigned i = 0; i < sizeof(ud) / sizeof(ud[0]); i++) {
		uint8_t code[8];
		memcpy(code, ud[i] + 1, ud[i][0]);
		code[ud[i][0]] = 0xf4;
		env_code(e, CODE, code, ud[i][0] + 1u);
		int ret = run_k(e, NULL);
		if (ret != EMU_EXIT_EXCEPTION || e->cpu.exit.vector != 6)
			fail_msg("insn %u: exit %d vector %u", i, ret, e->cpu.exit.vector);
	}
	/* CR4: VME PVI UMIP LA57 VMXE SMXE FSGSBASE PCIDE OSXSAVE SMEP SMAP PKE */
	static const unsigned bits[] = {0, 1, 11, 12, 13, 14, 16, 17, 18, 20, 21, 22};
	for (unsigned i = 0; i < sizeof(bits) / sizeof(bits[0]); i++) {
		uint64_t r[16] = {[X86_RAX] = X86_CR4_PAE | (1ull << bits[i])};
		CODE_AT(e, CODE, 0x0f, 0x22, 0xe0, 0xf4); /* mov cr4, rax */
		int ret = run_k(e, r);
		if (ret != EMU_EXIT_EXCEPTION || e->cpu.exit.vector != 13)
			fail_msg("CR4 bit %u: exit %d vector %u", bits[i], ret, e->cpu.exit.vector);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_msr_efer_and_canonical, env_setup, env_teardown),
	    cmocka_unit_test_setup_teardown(test_msr_pat_mtrr_tsc, env_setup, env_teardown),
	    cmocka_unit_test_setup_teardown(test_msr_speculation, env_setup, env_teardown),
	    cmocka_unit_test_setup_teardown(test_msr_forwarding, env_setup, env_teardown),
	    cmocka_unit_test_setup_teardown(test_msr_save_load, env_setup, env_teardown),
	    cmocka_unit_test_setup_teardown(test_cpuid_leaves, env_setup, env_teardown),
	    cmocka_unit_test_setup_teardown(test_cpuid_features_execute, env_setup, env_teardown),
	    cmocka_unit_test_setup_teardown(test_fast_system_calls, env_setup, env_teardown),
	    cmocka_unit_test_setup_teardown(test_unadvertised_features_fault, env_setup,
					    env_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
