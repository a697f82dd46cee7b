/* Unit tests for emu's behaviour on hostile or unusual guest input, the cases the decoder/executor
 * fuzzer (fuzz/fuzz_emu.c) found or relies on: a REP string instruction with a huge count gives
 * control back within the instruction budget and to emu_request_stop, and resumes where it left
 * off; exception deliveries count against the budget; emu_cpu_reset restores the emu_cpu_init
 * state; emu_cpu_set_state of a PAE-paging state loads the PDPTEs from CR3. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "emu_sys_env.h"

/* rep stosb upwards with RCX = 3 * 64 KiB + 5 into DATA (page aligned): the bulk path fills at
 * most 64 KiB (EMU_REP_BULK_BYTES) per execution and leaves RIP on the REP; the fourth
 * execution finishes it. Downwards (DF set) the one-at-a-time path does EMU_REP_CHUNK (1024)
 * iterations per execution. */
static void test_rep_chunks(void **state)
{
	struct env *e = *state;
	struct x86_cpu_state st;
	const uint64_t bulk = 65536, n = 3 * bulk + 5;

	CODE_AT(e, CODE, 0xf3, 0xaa, 0xf4); /* rep stosb; hlt */
	env_state(e, &st, CODE);
	st.gpr[X86_RCX] = n;
	st.gpr[X86_RDI] = DATA;
	st.gpr[X86_RAX] = 0x5a;
	emu_cpu_set_state(&e->cpu, &st);
	for (unsigned i = 1; i <= 3; i++) {
		assert_int_equal(emu_run(&e->cpu, 1), EMU_EXIT_LIMIT);
		assert_int_equal(e->cpu.st.rip, CODE);
		assert_int_equal(e->cpu.st.gpr[X86_RCX], n - bulk * i);
		assert_int_equal(e->cpu.st.gpr[X86_RDI], DATA + bulk * i);
	}
	assert_int_equal(emu_run(&e->cpu, 0), EMU_EXIT_HLT);
	assert_int_equal(e->cpu.st.gpr[X86_RCX], 0);
	assert_int_equal(e->cpu.st.gpr[X86_RDI], DATA + n);
	for (uint64_t i = 0; i < n; i++)
		assert_int_equal(e->ram[DATA + i], 0x5a);
	assert_int_equal(e->ram[DATA + n], 0);

	/* std; rep stosw; hlt: downwards, 1024 words per execution (after the STD). */
	const uint64_t m = 2 * 1024 + 3, top = DATA + 0x2000;
	CODE_AT(e, CODE, 0xfd, 0x66, 0xf3, 0xab, 0xf4);
	env_state(e, &st, CODE);
	st.gpr[X86_RCX] = m;
	st.gpr[X86_RDI] = top;
	st.gpr[X86_RAX] = 0xa55a;
	emu_cpu_set_state(&e->cpu, &st);
	assert_int_equal(emu_run(&e->cpu, 2), EMU_EXIT_LIMIT);
	assert_int_equal(e->cpu.st.gpr[X86_RCX], m - 1024);
	assert_int_equal(e->cpu.st.gpr[X86_RDI], top - 2 * 1024);
	assert_int_equal(emu_run(&e->cpu, 0), EMU_EXIT_HLT);
	assert_int_equal(e->cpu.st.gpr[X86_RDI], top - 2 * m);
	for (uint64_t i = 0; i < m; i++) {
		assert_int_equal(e->ram[top - 2 * i], 0x5a);
		assert_int_equal(e->ram[top - 2 * i + 1], 0xa5);
	}
}

/* REP MOVS whose destination overlaps its source just above it copies element by element, as the
 * CPU does (a pattern repeats), not as memmove would; MOVSW with a 1-byte offset reads each word
 * before writing it. A run crossing a page is split at the page boundary. */
static void test_rep_movs_overlap(void **state)
{
	struct env *e = *state;
	struct x86_cpu_state st;
	const uint64_t src = DATA + 0x1000 - 40; /* the copy crosses into the next page */
	uint8_t want[300];

	for (unsigned i = 0; i < 300; i++)
		e->ram[src + i] = (uint8_t)(i * 7 + 1);
	/* rep movsb with rdi = rsi + 3: bytes 0..2 repeat over the whole destination. */
	for (unsigned i = 0; i < 3 + 200; i++)
		want[i] = e->ram[src + i % 3];
	CODE_AT(e, CODE, 0xf3, 0xa4, 0xf4);
	env_state(e, &st, CODE);
	st.gpr[X86_RCX] = 200;
	st.gpr[X86_RSI] = src;
	st.gpr[X86_RDI] = src + 3;
	emu_cpu_set_state(&e->cpu, &st);
	assert_int_equal(emu_run(&e->cpu, 0), EMU_EXIT_HLT);
	assert_memory_equal(&e->ram[src], want, 203);
	assert_int_equal(e->cpu.st.gpr[X86_RSI], src + 200);
	assert_int_equal(e->cpu.st.gpr[X86_RDI], src + 203);

	/* rep movsw with rdi = rsi + 1: each iteration moves the word at si to si + 1. */
	for (unsigned i = 0; i < 300; i++)
		e->ram[src + i] = (uint8_t)(i * 7 + 1);
	memcpy(want, &e->ram[src], 300);
	for (unsigned i = 0; i < 100; i++) {
		uint8_t w0 = want[2 * i], w1 = want[2 * i + 1];
		want[2 * i + 1] = w0;
		want[2 * i + 2] = w1;
	}
	CODE_AT(e, CODE, 0x66, 0xf3, 0xa5, 0xf4);
	env_state(e, &st, CODE);
	st.gpr[X86_RCX] = 100;
	st.gpr[X86_RSI] = src;
	st.gpr[X86_RDI] = src + 1;
	emu_cpu_set_state(&e->cpu, &st);
	assert_int_equal(emu_run(&e->cpu, 0), EMU_EXIT_HLT);
	assert_memory_equal(&e->ram[src], want, 202);
}

/* emu_cpu_request_interrupt_window: emu_run stops as soon as an interrupt could be taken (after
 * STI and the instruction it shadows; right after a POPF that sets IF), not at the end of its
 * budget; without the request it runs on. */
static void test_interrupt_window(void **state)
{
	struct env *e = *state;
	struct x86_cpu_state st;

	/* cli; nop; sti; nop (shadowed); nop; nop; hlt */
	CODE_AT(e, CODE, 0xfa, 0x90, 0xfb, 0x90, 0x90, 0x90, 0xf4);
	env_state(e, &st, CODE);
	emu_cpu_set_state(&e->cpu, &st);
	emu_cpu_request_interrupt_window(&e->cpu); /* IF is 0 after the CLI: wait */
	assert_int_equal(emu_run(&e->cpu, 1000), EMU_EXIT_STOP);
	assert_int_equal(e->cpu.st.rip, CODE + 4);
	assert_true(emu_cpu_interrupt_window(&e->cpu));
	assert_int_equal(emu_run(&e->cpu, 1000), EMU_EXIT_HLT); /* fired once */

	/* cli; pushfq; or qword [rsp], 0x200; popfq; nop; hlt */
	CODE_AT(e, CODE, 0xfa, 0x9c, 0x48, 0x81, 0x0c, 0x24, 0x00, 0x02, 0x00, 0x00, 0x9d, 0x90,
		0xf4);
	env_state(e, &st, CODE);
	emu_cpu_set_state(&e->cpu, &st);
	emu_cpu_request_interrupt_window(&e->cpu);
	assert_int_equal(emu_run(&e->cpu, 1000), EMU_EXIT_STOP);
	assert_int_equal(e->cpu.st.rip, CODE + 11);

	/* An injected interrupt clears the request. */
	env_state(e, &st, CODE);
	emu_cpu_set_state(&e->cpu, &st);
	emu_cpu_request_interrupt_window(&e->cpu);
	emu_cpu_inject_interrupt(&e->cpu, 0x40);
	assert_int_equal(e->cpu.irq_window, 0);
}

/* emu_invalidate_phys over everything (what a vCPU whose invalidation queue overflowed asks for)
 * returns at once, dropping the decoded code, instead of walking 2^52 pages; the code then runs
 * again, from a new decoding of what memory holds now. */
static void test_invalidate_everything(void **state)
{
	struct env *e = *state;
	struct x86_cpu_state st;

	CODE_AT(e, CODE, 0xb8, 0x01, 0x00, 0x00, 0x00, 0xf4); /* mov eax, 1; hlt */
	env_state(e, &st, CODE);
	emu_cpu_set_state(&e->cpu, &st);
	assert_int_equal(emu_run(&e->cpu, 100), EMU_EXIT_HLT);
	assert_int_equal(e->cpu.st.gpr[X86_RAX], 1);
	e->ram[CODE + 1] = 0x02; /* behind the emulator's back: mov eax, 2 */
	emu_invalidate_phys(&e->cpu, 0, ~0ull);
	env_state(e, &st, CODE);
	emu_cpu_set_state(&e->cpu, &st);
	assert_int_equal(emu_run(&e->cpu, 100), EMU_EXIT_HLT);
	assert_int_equal(e->cpu.st.gpr[X86_RAX], 2);
	emu_invalidate_phys(&e->cpu, 0xfffffffffffff000ull, 0x2000); /* wraps: no endless walk */
}

/* A huge count still honours the budget and emu_request_stop;
 * REPE CMPSB stops on the first difference inside a chunk as before. */
static void test_rep_huge_count(void **state)
{
	struct env *e = *state;
	struct x86_cpu_state st;

	/* rep lodsb with a 32-bit address size: ECX = 2^32-1 iterations of reads. */
	CODE_AT(e, CODE, 0x67, 0xf3, 0xac, 0xf4); /* rep lodsb [esi]; hlt */
	env_state(e, &st, CODE);
	st.gpr[X86_RCX] = 0xffffffffull;
	st.gpr[X86_RSI] = DATA;
	emu_cpu_set_state(&e->cpu, &st);
	assert_int_equal(emu_run(&e->cpu, 100), EMU_EXIT_LIMIT);
	assert_int_equal(e->cpu.st.rip, CODE);
	assert_int_equal(e->cpu.st.gpr[X86_RCX], 0xffffffffull - 100 * 1024);
	emu_request_stop(&e->cpu);
	assert_int_equal(emu_run(&e->cpu, 0), EMU_EXIT_STOP);
	assert_int_equal(e->cpu.st.rip, CODE);

	memset(e->ram + DATA, 7, 4096);
	memset(e->ram + DATA + 0x2000, 7, 4096);
	e->ram[DATA + 0x2000 + 3000] = 8;
	CODE_AT(e, CODE, 0xf3, 0xa6, 0xf4); /* repe cmpsb; hlt */
	env_state(e, &st, CODE);
	st.gpr[X86_RCX] = 4096;
	st.gpr[X86_RSI] = DATA;
	st.gpr[X86_RDI] = DATA + 0x2000;
	emu_cpu_set_state(&e->cpu, &st);
	assert_int_equal(emu_run(&e->cpu, 0), EMU_EXIT_HLT);
	assert_int_equal(e->cpu.st.gpr[X86_RCX], 4096 - 3001);
	assert_int_equal(e->cpu.st.gpr[X86_RSI], DATA + 3001);
	assert_int_equal(emu_cpu_rflags(&e->cpu) & 0x40, 0); /* ZF clear: stopped on a difference */
}

/* Exception delivery counts against the budget: a #PF handler whose own fetch faults is
 * delivered again and again (here until the stack runs out, in 16-bit code with a wrapping stack
 * forever), and emu_run(10) returns after 10 deliveries. */
static void test_exception_loop_budget(void **state)
{
	struct env *e = *state;

	e->cpu.exc_exit = 0;
	env_set_pte(e, 0x150000, 0);
	env_set_gate(e, 14, 0x150000, 0, 1);
	CODE_AT(e, CODE, 0x8b, 0x04, 0x25, 0x00, 0x00, 0x15, 0x00, 0xf4); /* mov eax, [0x150000] */
	struct x86_cpu_state st;
	env_state(e, &st, CODE);
	emu_cpu_set_state(&e->cpu, &st);
	assert_int_equal(emu_run(&e->cpu, 10), EMU_EXIT_LIMIT);
	assert_int_equal(e->cpu.st.rip, 0x150000);
	assert_int_equal(rsp(e), KSTACK - 10 * 48);
	/* Unbounded, it ends once the stack is used up: the push faults, so does #DF's. */
	assert_int_equal(emu_run(&e->cpu, 0), EMU_EXIT_TRIPLE_FAULT);
}

/* emu_cpu_reset: the state of a fresh emu_cpu, callbacks kept, no stale decoded code. */
static void test_reset(void **state)
{
	struct env *e = *state;
	struct x86_cpu_state st, a, b;
	struct emu_cpu *fresh = calloc(1, sizeof(*fresh));

	assert_non_null(fresh);
	CODE_AT(e, CODE, 0xb8, 0x01, 0x00, 0x00, 0x00, 0xf4); /* mov eax, 1; hlt */
	assert_int_equal(run_k(e, NULL), EMU_EXIT_HLT);
	assert_int_equal(e->cpu.st.gpr[X86_RAX], 1);
	emu_cpu_inject_nmi(&e->cpu);
	emu_cpu_reset(&e->cpu);
	assert_int_equal(emu_cpu_init(fresh, &env_ops, e), 0);
	emu_cpu_get_state(&e->cpu, &a);
	emu_cpu_get_state(fresh, &b);
	assert_memory_equal(&a, &b, sizeof(a));
	assert_int_equal(e->cpu.exc_exit, 0);
	assert_int_equal(e->cpu.nmi_pending, 0);
	assert_ptr_equal(e->cpu.sys, &env_sys);
	emu_cpu_destroy(fresh);
	free(fresh);
	/* New code at the same address runs (the decode cache was emptied, and the write through
	 * the test's RAM pointer bypassed the emulator). */
	memcpy(e->ram + CODE, (const uint8_t[]){0xb8, 0x02, 0x00, 0x00, 0x00, 0xf4}, 6);
	e->cpu.exc_exit = 1;
	env_state(e, &st, CODE);
	assert_int_equal(run_st(e, &st), EMU_EXIT_HLT);
	assert_int_equal(e->cpu.st.gpr[X86_RAX], 2);
}

/* 32-bit PAE paging set up outside the emulator (a loader or a migrated state): the PDPTEs come
 * from CR3 at emu_cpu_set_state, so the first access translates. */
static void test_pae_set_state(void **state)
{
	struct env *e = *state;
	struct x86_cpu_state st;
	const uint64_t pdpt = 0x60000;

	put64(e, pdpt, PD | PTE_P); /* PAE PDPTEs have no W/U bits */
	put64(e, pdpt + 8, 0);
	put64(e, pdpt + 16, 0);
	put64(e, pdpt + 24, 0);
	put64(e, DATA, 0x1122334455667788ull);
	CODE_AT(e, CODE, 0x8b, 0x05, DATA & 0xff, (DATA >> 8) & 0xff, DATA >> 16,
		0x00, /* mov eax */
		0xf4);
	x86_state_flat32(&st, CODE, GDT, 8 * 8 - 1);
	st.cr0 |= X86_CR0_PG;
	st.cr4 |= X86_CR4_PAE;
	st.cr3 = pdpt;
	assert_int_equal(run_st(e, &st), EMU_EXIT_HLT);
	assert_int_equal(e->cpu.st.gpr[X86_RAX], 0x55667788);
	/* Reserved bits in a PDPTE: not loaded, so the access faults instead. */
	put64(e, pdpt, PD | PTE_P | PTE_W);
	assert_int_equal(run_st(e, &st), EMU_EXIT_EXCEPTION);
	assert_int_equal(e->cpu.exit.vector, 14);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_rep_chunks, env_setup_exc_exit, env_teardown),
	    cmocka_unit_test_setup_teardown(test_rep_movs_overlap, env_setup_exc_exit,
					    env_teardown),
	    cmocka_unit_test_setup_teardown(test_interrupt_window, env_setup_exc_exit,
					    env_teardown),
	    cmocka_unit_test_setup_teardown(test_invalidate_everything, env_setup_exc_exit,
					    env_teardown),
	    cmocka_unit_test_setup_teardown(test_rep_huge_count, env_setup_exc_exit, env_teardown),
	    cmocka_unit_test_setup_teardown(test_exception_loop_budget, env_setup_exc_exit,
					    env_teardown),
	    cmocka_unit_test_setup_teardown(test_reset, env_setup_exc_exit, env_teardown),
	    cmocka_unit_test_setup_teardown(test_pae_set_state, env_setup_exc_exit, env_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
