/* Unit tests for emu's system side in long mode with paging: exception delivery through the IDT
 * (#PF with CR2 and error codes, #GP, #DE, INT n gate DPL checks, #DF, triple fault), the
 * exc_exit test mode, interrupt and NMI injection with HLT wake-up, the STI interrupt shadow and
 * the TSS I/O permission bitmap, CR8 with and without the TPR callbacks. MSRs and CPUID:
 * test_emu_msr.c. CR8 against the real LAPIC: test_lapic_cr8.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "emu_sys_env.h"

/* Stopped at the HLT of the handler for vector v. */
static void assert_in_handler(struct env *e, int r, unsigned v)
{
	assert_int_equal(r, EMU_EXIT_HLT);
	assert_int_equal(e->cpu.st.rip, HANDLER(v) + 1);
	assert_int_equal(e->cpu.st.seg[X86_CS].selector, SEL_KCODE);
}

/* Kernel code at CODE that IRETQs to USER_CODE (CPL 3, stack USTACK, IF=0). */
#define TO_USER                                                                                    \
	0x6a, 0x23, 0x68, 0x00, 0x00, 0x03, 0x00, 0x6a, 0x02, 0x6a, 0x2b, 0x68, 0x00, 0x10, 0x01,  \
	    0x00, 0x48, 0xcf

static void test_page_faults(void **state)
{
	struct env *e = *state;
	uint64_t r[16] = {0};

	/* Not present, supervisor read: error code 0, pushed frame SS RSP RFLAGS CS RIP ERR. */
	env_set_pte(e, 0x150000, 0);
	CODE_AT(e, CODE, 0x48, 0x8b, 0x04, 0x25, 0x08, 0x00, 0x15, 0x00, 0xf4);
	assert_in_handler(e, run_k(e, r), 14);
	assert_int_equal(e->cpu.st.cr2, 0x150008);
	assert_int_equal(rsp(e), KSTACK - 48);
	assert_int_equal(stk(e, 0), 0);
	assert_int_equal(stk(e, 1), CODE);
	assert_int_equal(stk(e, 2), SEL_KCODE);
	assert_int_equal(stk(e, 3) & 0x202, 0x2);
	assert_int_equal(stk(e, 4), KSTACK);
	assert_int_equal(stk(e, 5), SEL_KDATA);
	assert_int_equal(emu_cpu_rflags(&e->cpu) & X86_RFLAGS_IF, 0);

	/* Write to a read-only page with CR0.WP: P|W. */
	env_set_pte(e, 0x151000, 0x151000 | PTE_P);
	CODE_AT(e, CODE, 0x89, 0x04, 0x25, 0x10, 0x10, 0x15, 0x00, 0xf4);
	assert_in_handler(e, run_k(e, r), 14);
	assert_int_equal(stk(e, 0), 3);
	assert_int_equal(e->cpu.st.cr2, 0x151010);

	/* A reserved bit above MAXPHYADDR (40, CPUID 0x80000008): P|RSVD. Bit 39 is an address
	 * bit (the access goes to MMIO). */
	env_set_pte(e, 0x152000, 0x152000 | PTE_P | PTE_W | (1ull << 45));
	CODE_AT(e, CODE, 0x8b, 0x04, 0x25, 0x00, 0x20, 0x15, 0x00, 0xf4);
	assert_in_handler(e, run_k(e, r), 14);
	assert_int_equal(stk(e, 0), 9);
	env_set_pte(e, 0x152000, 0x152000 | PTE_P | PTE_W | (1ull << 39));
	e->mmio_reads = 0;
	assert_int_equal(run_k(e, r), EMU_EXIT_HLT);
	assert_int_equal(e->cpu.st.rip, CODE + 8);
	assert_int_equal(e->mmio_reads, 1);

	/* Fetch from an NX page: P|I. */
	env_set_pte(e, 0x153000, 0x153000 | PTE_P | PTE_W | PTE_NX);
	r[X86_RAX] = 0x153000;
	CODE_AT(e, CODE, 0xff, 0xe0); /* jmp rax */
	assert_in_handler(e, run_k(e, r), 14);
	assert_int_equal(stk(e, 0), 0x11);
	assert_int_equal(stk(e, 1), 0x153000);
	assert_int_equal(e->cpu.st.cr2, 0x153000);
}

/* A supervisor page the kernel just read must still fault for CPL 3 (TLB privilege tags), and
 * the handler runs on RSP0 from the TSS. */
static void test_user_fault_stack_switch(void **state)
{
	struct env *e = *state;

	env_set_pte(e, 0x154000, 0x154000 | PTE_P | PTE_W);
	e->ram[0x154000] = 0x77;
	CODE_AT(e, CODE, 0x8b, 0x04, 0x25, 0x00, 0x40, 0x15, 0x00, TO_USER);
	CODE_AT(e, USER_CODE, 0x8b, 0x1c, 0x25, 0x00, 0x40, 0x15, 0x00, 0xf4);
	assert_in_handler(e, run_k(e, NULL), 14);
	assert_int_equal(e->cpu.st.gpr[X86_RAX], 0x77);
	assert_int_equal(e->cpu.st.gpr[X86_RBX], 0);
	assert_int_equal(stk(e, 0), 5); /* P|U */
	assert_int_equal(e->cpu.st.cr2, 0x154000);
	assert_int_equal(rsp(e), RSP0 - 48);
	assert_int_equal(stk(e, 1), USER_CODE);
	assert_int_equal(stk(e, 2), SEL_UCODE);
	assert_int_equal(stk(e, 4), USTACK);
	assert_int_equal(stk(e, 5), SEL_UDATA);
	/* A user write to a user page the kernel made read-only: P|W|U. */
	env_set_pte(e, 0x154000, 0x154000 | PTE_P | PTE_U);
	CODE_AT(e, USER_CODE, 0x89, 0x1c, 0x25, 0x00, 0x40, 0x15, 0x00, 0xf4);
	assert_in_handler(e, run_k(e, NULL), 14);
	assert_int_equal(stk(e, 0), 7);
}

static void test_gp_de_int(void **state)
{
	struct env *e = *state;
	uint64_t r[16] = {[X86_RCX] = 0xc0000082, [X86_RDX] = 0x8000}; /* LSTAR non-canonical */

	CODE_AT(e, CODE, 0x0f, 0x30, 0xf4); /* wrmsr */
	assert_in_handler(e, run_k(e, r), 13);
	assert_int_equal(rsp(e), KSTACK - 48);
	assert_int_equal(stk(e, 0), 0);
	assert_int_equal(stk(e, 1), CODE);

	CODE_AT(e, CODE, 0x90, 0xf7, 0xf3, 0xf4); /* nop; div ebx (0): no error code */
	assert_in_handler(e, run_k(e, NULL), 0);
	assert_int_equal(rsp(e), KSTACK - 40);
	assert_int_equal(stk(e, 0), CODE + 1);

	CODE_AT(e, CODE, 0xcc, 0xf4); /* int3: traps, returns after it */
	assert_in_handler(e, run_k(e, NULL), 3);
	assert_int_equal(stk(e, 0), CODE + 1);

	/* From CPL 3: INT 0x80 through a DPL 3 gate, INT 0x21 (DPL 0 gate) is #GP(0x21*8+2). */
	CODE_AT(e, CODE, TO_USER);
	CODE_AT(e, USER_CODE, 0xcd, 0x80, 0xf4);
	assert_in_handler(e, run_k(e, NULL), 0x80);
	assert_int_equal(rsp(e), RSP0 - 40);
	assert_int_equal(stk(e, 0), USER_CODE + 2);
	assert_int_equal(stk(e, 1), SEL_UCODE);
	CODE_AT(e, USER_CODE, 0xcd, 0x21, 0xf4);
	assert_in_handler(e, run_k(e, NULL), 13);
	assert_int_equal(stk(e, 0), 0x21 * 8 + 2);
	assert_int_equal(stk(e, 1), USER_CODE);
	/* HLT at CPL 3 is #GP(0) */
	CODE_AT(e, USER_CODE, 0xf4);
	assert_in_handler(e, run_k(e, NULL), 13);
	assert_int_equal(stk(e, 0), 0);
	assert_int_equal(stk(e, 1), USER_CODE);
}

static void test_double_and_triple_fault(void **state)
{
	struct env *e = *state;
	uint64_t r[16] = {[X86_RCX] = 0xc0000082, [X86_RDX] = 0x8000};
	struct x86_cpu_state st;

	/* #GP whose gate is not present: #NP while delivering a contributory fault is #DF(0). */
	env_set_gate(e, 13, HANDLER(13), 0, 0);
	CODE_AT(e, CODE, 0x0f, 0x30, 0xf4);
	assert_in_handler(e, run_k(e, r), 8);
	assert_int_equal(stk(e, 0), 0);
	assert_int_equal(stk(e, 1), CODE);
	/* #PF while delivering #PF is #DF too: an IDT whose entries from 13 on lie in a page that
	 * is not present (entry 8 is readable). */
	const uint64_t idt2 = 0x150000 - 13 * 16;
	memcpy(e->ram + idt2, e->ram + IDT, 13 * 16);
	env_set_pte(e, 0x150000, 0);
	env_state(e, &st, CODE);
	st.idt.base = idt2;
	CODE_AT(e, CODE, 0x8b, 0x04, 0x25, 0x00, 0x00, 0x15, 0x00, 0xf4);
	assert_in_handler(e, run_st(e, &st), 8);
	assert_int_equal(e->cpu.st.cr2, idt2 + 14 * 16); /* the IDT entry for #PF */
	assert_int_equal(stk(e, 0), 0);
	assert_int_equal(stk(e, 1), CODE);
	/* Nothing can be delivered: shutdown. */
	env_state(e, &st, CODE);
	st.idt.limit = 0;
	CODE_AT(e, CODE, 0x0f, 0x0b); /* ud2 */
	assert_int_equal(run_st(e, &st), EMU_EXIT_TRIPLE_FAULT);
	assert_int_equal(e->cpu.exit.reason, EMU_EXIT_TRIPLE_FAULT);
}

/* exc_exit: report the exception instead of delivering it; nothing is pushed. */
static void test_exc_exit(void **state)
{
	struct env *e = *state;

	e->cpu.exc_exit = 1;
	env_set_pte(e, 0x150000, 0);
	CODE_AT(e, CODE, 0x90, 0x89, 0x04, 0x25, 0x00, 0x00, 0x15, 0x00, 0xf4);
	assert_int_equal(run_k(e, NULL), EMU_EXIT_EXCEPTION);
	assert_int_equal(e->cpu.exit.vector, 14);
	assert_int_equal(e->cpu.exit.has_error, 1);
	assert_int_equal(e->cpu.exit.error_code, 2);
	assert_int_equal(e->cpu.st.cr2, 0x150000);
	assert_int_equal(e->cpu.st.rip, CODE + 1);
	assert_int_equal(rsp(e), KSTACK);
	CODE_AT(e, CODE, 0xcd, 0x21); /* int 0x21: vector 0x21, rip after the INT */
	assert_int_equal(run_k(e, NULL), EMU_EXIT_EXCEPTION);
	assert_int_equal(e->cpu.exit.vector, 0x21);
	assert_int_equal(e->cpu.st.rip, CODE + 2);
	e->cpu.exc_exit = 0;
	CODE_AT(e, CODE, 0xcd, 0x21);
	assert_in_handler(e, run_k(e, NULL), 0x21);
}

static void test_interrupt_hlt_wakeup(void **state)
{
	struct env *e = *state;

	CODE_AT(e, HANDLER(0x40), 0xff, 0xc1, 0x48, 0xcf); /* inc ecx; iretq */
	/* sti; hlt; mov ebx, 1; hlt */
	CODE_AT(e, CODE, 0xfb, 0xf4, 0xbb, 0x01, 0x00, 0x00, 0x00, 0xf4);
	assert_int_equal(emu_cpu_interrupt_window(&e->cpu), 0);
	assert_int_equal(run_k(e, NULL), EMU_EXIT_HLT);
	assert_int_equal(e->cpu.st.rip, CODE + 2);
	assert_int_equal(emu_cpu_interrupt_window(&e->cpu), 1);
	emu_cpu_inject_interrupt(&e->cpu, 0x40);
	assert_int_equal(emu_cpu_interrupt_window(&e->cpu), 0); /* one already queued */
	assert_int_equal(emu_run(&e->cpu, 1000), EMU_EXIT_HLT);
	assert_int_equal(e->cpu.st.gpr[X86_RCX], 1);
	assert_int_equal(e->cpu.st.gpr[X86_RBX], 1);
	assert_int_equal(e->cpu.st.rip, CODE + 8);
	assert_int_equal(rsp(e), KSTACK);

	/* With IF=0 the interrupt stays pending. */
	CODE_AT(e, CODE, 0xbb, 0x02, 0x00, 0x00, 0x00, 0xf4);
	struct x86_cpu_state st;
	env_state(e, &st, CODE);
	emu_cpu_set_state(&e->cpu, &st);
	emu_cpu_inject_interrupt(&e->cpu, 0x40);
	assert_int_equal(emu_run(&e->cpu, 1000), EMU_EXIT_HLT);
	assert_int_equal(e->cpu.st.gpr[X86_RCX], 0);
	assert_int_equal(e->cpu.st.pending_irq, 0x41);
	/* An NMI is taken regardless of IF, and blocks further NMIs until IRET. */
	emu_cpu_inject_nmi(&e->cpu);
	assert_in_handler(e, emu_run(&e->cpu, 1000), 2);
	assert_int_equal(stk(e, 0), CODE + 6);
}

/* The instruction after STI runs before a pending interrupt is taken. */
static void test_sti_shadow(void **state)
{
	struct env *e = *state;
	struct x86_cpu_state st;

	/* mov [SCRATCH], eax; iretq */
	CODE_AT(e, HANDLER(0x41), 0x89, 0x04, 0x25, 0x00, 0x90, 0x00, 0x00, 0x48, 0xcf);
	/* sti; mov eax, 1; mov eax, 2; hlt */
	CODE_AT(e, CODE, 0xfb, 0xb8, 0x01, 0x00, 0x00, 0x00, 0xb8, 0x02, 0x00, 0x00, 0x00, 0xf4);
	env_state(e, &st, CODE);
	emu_cpu_set_state(&e->cpu, &st);
	assert_int_equal(emu_step(&e->cpu), EMU_EXIT_NONE); /* sti */
	assert_int_equal(emu_cpu_interrupt_window(&e->cpu), 0);
	assert_int_equal(emu_step(&e->cpu), EMU_EXIT_NONE); /* mov eax, 1 */
	assert_int_equal(emu_cpu_interrupt_window(&e->cpu), 1);
	emu_cpu_inject_interrupt(&e->cpu, 0x41);
	assert_int_equal(emu_run(&e->cpu, 1000), EMU_EXIT_HLT);
	assert_int_equal(get32(e, SCRATCH), 1);
	assert_int_equal(e->cpu.st.gpr[X86_RAX], 2);

	/* Queued while IF=0: taken exactly one instruction after STI. */
	put64(e, SCRATCH, 0);
	emu_cpu_set_state(&e->cpu, &st);
	emu_cpu_inject_interrupt(&e->cpu, 0x41);
	assert_int_equal(emu_run(&e->cpu, 1000), EMU_EXIT_HLT);
	assert_int_equal(get32(e, SCRATCH), 1);
	assert_int_equal(e->cpu.st.rip, CODE + 12);
	/* STI with IF already 1 opens no shadow: taken before mov eax, 1 (eax still 0). */
	put64(e, SCRATCH, 0xff);
	st.rflags |= X86_RFLAGS_IF;
	st.gpr[X86_RAX] = 0;
	emu_cpu_set_state(&e->cpu, &st);
	assert_int_equal(emu_step(&e->cpu), EMU_EXIT_NONE); /* sti */
	assert_int_equal(emu_cpu_interrupt_window(&e->cpu), 1);
	emu_cpu_inject_interrupt(&e->cpu, 0x41);
	assert_int_equal(emu_run(&e->cpu, 1000), EMU_EXIT_HLT);
	assert_int_equal(get32(e, SCRATCH), 0);
}

/* IN/OUT at CPL 3 with IOPL 0: allowed by the TSS I/O permission bitmap only. */
static void test_io_permission_bitmap(void **state)
{
	struct env *e = *state;
	struct x86_cpu_state st;

	e->cpu.exc_exit = 1;
	env_state(e, &st, CODE);
	env_user(&st, USER_CODE, USTACK);
	CODE_AT(e, USER_CODE, 0xe4, 0x80, 0xe4, 0x81, 0xf4); /* in al, 0x80; in al, 0x81; hlt */
	e->ram[TSS + 102] = 0x68; /* bitmap at TSS+0x68, beyond the limit 0x67: #GP */
	assert_int_equal(run_st(e, &st), EMU_EXIT_EXCEPTION);
	assert_int_equal(e->cpu.exit.vector, 13);
	assert_int_equal(e->cpu.st.rip, USER_CODE);
	/* Inside the limit: port 0x80 allowed, 0x81 not. */
	memset(e->ram + TSS + 0x68, 0xff, 32);
	e->ram[TSS + 0x68 + 0x80 / 8] = 0xfe;
	st.tr.limit = 0x68 + 32;
	assert_int_equal(run_st(e, &st), EMU_EXIT_EXCEPTION);
	assert_int_equal(e->cpu.exit.vector, 13);
	assert_int_equal(e->cpu.st.rip, USER_CODE + 2);
	assert_int_equal(e->cpu.st.gpr[X86_RAX] & 0xff, 0xff); /* the VMM's PIO read */
	st.rflags |= 0x3000;				       /* IOPL 3: no bitmap check */
	assert_int_equal(run_st(e, &st), EMU_EXIT_EXCEPTION);
	assert_int_equal(e->cpu.st.rip, USER_CODE + 4); /* the HLT */
}

/* mov eax, imm32; mov cr8, rax; mov rbx, cr8; hlt */
#define CR8_WRITE_READ(v) 0xb8, (v), 0, 0, 0, 0x44, 0x0f, 0x22, 0xc0, 0x44, 0x0f, 0x20, 0xc3, 0xf4

/* Without TPR callbacks (no LAPIC) CR8 is a private register; bits 63:4 are reserved. */
static void test_cr8_private(void **state)
{
	struct env *e = *state;
	struct x86_cpu_state st;

	CODE_AT(e, CODE, CR8_WRITE_READ(9));
	assert_int_equal(run_k(e, NULL), EMU_EXIT_HLT);
	assert_int_equal(e->cpu.st.gpr[X86_RBX], 9);
	emu_cpu_get_state(&e->cpu, &st);
	assert_int_equal(st.cr8, 9);
	assert_int_equal(e->tpr_writes, 0);

	CODE_AT(e, CODE, CR8_WRITE_READ(0x10));
	assert_in_handler(e, run_k(e, NULL), 13);
	assert_int_equal(stk(e, 1), CODE + 5); /* the MOV to CR8, after the error code */
	emu_cpu_get_state(&e->cpu, &st);
	assert_int_equal(st.cr8, 0); /* run_k's state; the faulting write changed nothing */
}

static uint8_t fake_get_tpr(void *ctx)
{
	return ((struct env *)ctx)->tpr;
}

static void fake_set_tpr(void *ctx, uint8_t tpr)
{
	struct env *e = ctx;
	e->tpr = tpr;
	e->tpr_writes++;
	if (e->stop_on_tpr)
		emu_request_stop(&e->cpu);
}

static const struct emu_sys_ops tpr_sys = {.rdtsc = env_rdtsc,
					   .rdmsr = env_rdmsr,
					   .wrmsr = env_wrmsr,
					   .get_tpr = fake_get_tpr,
					   .set_tpr = fake_set_tpr};

/* With TPR callbacks CR8 is TPR[7:4]: a MOV to CR8 writes TPR[7:4] and clears TPR[3:0], a MOV
 * from CR8 and the saved state read TPR[7:4], a VMM stop request from set_tpr is taken at the
 * next instruction boundary, and #GP writes do not reach the TPR. */
static void test_cr8_tpr_callbacks(void **state)
{
	struct env *e = *state;
	struct x86_cpu_state st;

	emu_cpu_set_sys_ops(&e->cpu, &tpr_sys);
	/* mov rcx, cr8; mov eax, 5; mov cr8, rax; mov rbx, cr8; hlt */
	CODE_AT(e, CODE, 0x44, 0x0f, 0x20, 0xc1, CR8_WRITE_READ(5));
	e->tpr = 0x9c;
	assert_int_equal(run_k(e, NULL), EMU_EXIT_HLT);
	assert_int_equal(e->cpu.st.gpr[X86_RCX], 9);
	assert_int_equal(e->tpr, 0x50);
	assert_int_equal(e->tpr_writes, 1);
	assert_int_equal(e->cpu.st.gpr[X86_RBX], 5);
	e->tpr = 0xe1; /* the LAPIC's TPR written behind the CPU's back (MMIO, MSR 0x808) */
	emu_cpu_get_state(&e->cpu, &st);
	assert_int_equal(st.cr8, 0xe);

	e->stop_on_tpr = 1;
	assert_int_equal(run_k(e, NULL), EMU_EXIT_STOP);
	assert_int_equal(e->cpu.st.rip, CODE + 4 + 9); /* right after the MOV to CR8 */
	assert_int_equal(e->cpu.st.gpr[X86_RBX], 0);
	assert_int_equal(emu_run(&e->cpu, 1000), EMU_EXIT_HLT);
	assert_int_equal(e->cpu.st.gpr[X86_RBX], 5);

	CODE_AT(e, CODE, 0x44, 0x0f, 0x20, 0xc1, CR8_WRITE_READ(0x20));
	assert_in_handler(e, run_k(e, NULL), 13);
	assert_int_equal(e->tpr, 0x50);
	assert_int_equal(e->tpr_writes, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_page_faults, env_setup, env_teardown),
	    cmocka_unit_test_setup_teardown(test_user_fault_stack_switch, env_setup, env_teardown),
	    cmocka_unit_test_setup_teardown(test_gp_de_int, env_setup, env_teardown),
	    cmocka_unit_test_setup_teardown(test_double_and_triple_fault, env_setup, env_teardown),
	    cmocka_unit_test_setup_teardown(test_exc_exit, env_setup, env_teardown),
	    cmocka_unit_test_setup_teardown(test_interrupt_hlt_wakeup, env_setup, env_teardown),
	    cmocka_unit_test_setup_teardown(test_sti_shadow, env_setup, env_teardown),
	    cmocka_unit_test_setup_teardown(test_io_permission_bitmap, env_setup, env_teardown),
	    cmocka_unit_test_setup_teardown(test_cr8_private, env_setup, env_teardown),
	    cmocka_unit_test_setup_teardown(test_cr8_tpr_callbacks, env_setup, env_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
