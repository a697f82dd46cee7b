/* exception: #DE, #UD, #BP, #GP (bad selector, non-canonical address), #PF (not present on read
 * and write, write to a read-only page). Each handler records vector, error code, RIP and CR2
 * and resumes after the faulting instruction; the test checks them. */
#include "guest.h"

/* Runs `insn` with exc_resume pointing past it. Outputs the addresses of the instruction (start)
 * and of the resume point (end). Extra inputs/clobbers follow the asm's own. */
#define FAULT_ASM(insn, start, end, ...)                                                      \
	asm volatile("lea 1f(%%rip), %0\n\t"                                                  \
		     "lea 2f(%%rip), %1\n\t"                                                  \
		     "mov %1, exc_resume(%%rip)\n"                                            \
		     "1:\t" insn "\n"                                                         \
		     "2:\n"                                                                   \
		     : "=&r"(start), "=&r"(end)__VA_ARGS__)

static uint64_t count_before;

static void expect(const char *what, uint64_t vec, uint64_t err, uint64_t rip)
{
	TEST_ASSERT(exc_last.count == count_before + 1, "%s: %lu exceptions, expected 1", what,
		    exc_last.count - count_before);
	TEST_ASSERT(exc_last.vector == vec, "%s: vector %lu, expected %lu", what, exc_last.vector,
		    vec);
	TEST_ASSERT(exc_last.error == err, "%s: error code 0x%lx, expected 0x%lx", what,
		    exc_last.error, err);
	TEST_ASSERT(exc_last.rip == rip, "%s: rip 0x%lx, expected 0x%lx", what, exc_last.rip, rip);
	test_note("%s: vector %lu, error 0x%lx, rip ok", what, vec, err);
	count_before = exc_last.count;
}

static void test_de(void)
{
	uint64_t s, e;
	FAULT_ASM("divl %%ecx", s, e, : "a"(1), "d"(0), "c"(0) : "memory");
	expect("#DE div by zero", VEC_DE, 0, s);
}

static void test_ud(void)
{
	uint64_t s, e;
	FAULT_ASM("ud2", s, e, : : "memory");
	expect("#UD ud2", VEC_UD, 0, s);
}

static void test_bp(void)
{
	uint64_t s, e;
	FAULT_ASM("int3", s, e, : : "memory");
	expect("#BP int3 (trap: rip after it)", VEC_BP, 0, e);
}

static void test_gp(void)
{
	uint64_t s, e;
	/* Selector 0x1238 (index 0x247, GDT, RPL 0) is far beyond the GDT limit: #GP(0x1238). */
	FAULT_ASM("mov %%ax, %%fs", s, e, : "a"(0x1238) : "memory");
	expect("#GP loading selector 0x1238", VEC_GP, 0x1238, s);
	/* A non-canonical address: #GP(0). */
	FAULT_ASM("mov (%%rcx), %%rax", s, e, : "c"(0x8000000000000000ull) : "rax", "memory");
	expect("#GP non-canonical load", VEC_GP, 0, s);
	asm volatile("mov %0, %%fs" : : "r"(SEL_DATA));
}

/* Split the 2 MiB page at 32 MiB into 4 KiB pages: page 1 not present, page 2 read-only. */
#define PF_REGION 0x2000000ull
static uint64_t pf_pt[512] __attribute__((aligned(4096)));

static void test_pf(void)
{
	uint64_t *pde = &boot_pd[0][PF_REGION >> 21];
	uint64_t saved = *pde;
	for (int i = 0; i < 512; i++)
		pf_pt[i] = (PF_REGION + 4096ull * i) | PTE_P | PTE_W;
	pf_pt[1] = 0;
	pf_pt[2] &= ~PTE_W;
	*pde = (uint64_t)pf_pt | PTE_P | PTE_W;
	write_cr3(read_cr3());
	write_cr0(read_cr0() | (1u << 16)); /* CR0.WP: supervisor writes obey R/O pages */

	volatile uint64_t *ok = (volatile uint64_t *)(PF_REGION + 0x10);
	*ok = 0x1234;
	TEST_EQ(*ok, 0x1234, "access to a present 4 KiB page");

	uint64_t s, e, addr = PF_REGION + 0x1000 + 0x88;
	FAULT_ASM("mov (%%rcx), %%rax", s, e, : "c"(addr) : "rax", "memory");
	expect("#PF read of a not-present page", VEC_PF, 0, s);
	TEST_EQ(exc_last.cr2, addr, "CR2 after #PF read");

	addr = PF_REGION + 0x1ff8;
	FAULT_ASM("movq $7, (%%rcx)", s, e, : "c"(addr) : "memory");
	expect("#PF write to a not-present page", VEC_PF, 2, s);
	TEST_EQ(exc_last.cr2, addr, "CR2 after #PF write");

	addr = PF_REGION + 0x2040;
	uint64_t v = *(volatile uint64_t *)addr; /* reads are fine */
	FAULT_ASM("movq %%rax, (%%rcx)", s, e, : "c"(addr), "a"(v) : "memory");
	expect("#PF write to a read-only page", VEC_PF, 3, s);
	TEST_EQ(exc_last.cr2, addr, "CR2 after #PF on a read-only page");

	*pde = saved;
	write_cr3(read_cr3());
	*(volatile uint64_t *)(PF_REGION + 0x1ff8) = 5; /* mapped again */
}

int main(const struct boot_info *bi)
{
	const unsigned vecs[] = { VEC_DE, VEC_BP, VEC_UD, VEC_GP, VEC_PF };
	for (unsigned i = 0; i < sizeof(vecs) / sizeof(vecs[0]); i++)
		intr_set_handler(vecs[i], intr_record_and_resume);
	test_de();
	test_ud();
	test_gp();
	test_pf();
	/* Last, and skippable: a paravirtual KVM without VMX/SVM (kvm-pvm) runs guest kernel code in
	 * KVM's instruction emulator, which cannot execute INT n outside real mode. The runner
	 * passes skip_int3=1 only there. */
	if (cmdline_has("skip_int3=1"))
		test_note("SKIP #BP int3: host KVM cannot emulate INT n");
	else
		test_bp();
	return 0;
}
