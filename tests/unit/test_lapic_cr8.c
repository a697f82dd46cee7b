/* Unit tests for CR8 as the local APIC's TPR[7:4] (SDM vol. 3 "Task Priority in IA-32e Mode"):
 * emu's MOV to/from CR8 wired to a real struct lapic through the get_tpr/set_tpr callbacks, as
 * the emu backend's vCPU does (src/accel/emu/vm/emu_vcpu.c). A MOV to CR8 writes TPR[7:4] and
 * clears TPR[3:0]; TPR writes through the xAPIC page and x2APIC MSR 0x808 read back in CR8; and
 * lowering CR8 below a pending vector kicks the vCPU, which then takes the interrupt at the next
 * instruction boundary (the test plays the vCPU loop's part: pending vector, ack, inject).
 * Fixtures: emu_sys_env.h (the machine) and lapic_test_env.h (register names, fake clock). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "emu_sys_env.h"
#include "lapic_test_env.h"

/* The CPU (first: the emulator's callbacks get &t->e as ctx) and its LAPIC (in t->f.l). */
struct cr8_env {
	struct env e;
	struct fx f;
	int stop_on_kick; /* kick requests an emulator stop, as the VMM's kick does */
};

static struct cr8_env *of(void *ctx)
{
	return ctx; /* e is the first member */
}

static void t_send_ipi(void *ctx, struct lapic *src, uint32_t dest, int logical, unsigned shorthand,
		       unsigned dm, uint8_t vector, int level, int trigger)
{
	(void)ctx, (void)src, (void)dest, (void)logical, (void)shorthand, (void)dm, (void)vector;
	(void)level, (void)trigger;
	fail_msg("unexpected IPI");
}

static void t_eoi(void *ctx, uint8_t vector)
{
	(void)ctx, (void)vector;
}

static void t_kick(void *ctx)
{
	struct cr8_env *t = of(ctx);
	check_unlocked(&t->f);
	t->f.kicks++;
	if (t->stop_on_kick)
		emu_request_stop(&t->e.cpu);
}

static const struct lapic_ops t_lapic_ops = {t_send_ipi, t_eoi, t_kick};

static uint8_t t_get_tpr(void *ctx)
{
	return lapic_get_tpr(&of(ctx)->f.l);
}

static void t_set_tpr(void *ctx, uint8_t tpr)
{
	lapic_set_tpr(&of(ctx)->f.l, tpr);
}

static int t_rdmsr(void *ctx, uint32_t msr, uint64_t *val)
{
	return lapic_msr_read(&of(ctx)->f.l, msr, val);
}

static int t_wrmsr(void *ctx, uint32_t msr, uint64_t val)
{
	return lapic_msr_write(&of(ctx)->f.l, msr, val);
}

static const struct emu_sys_ops t_sys = {.rdtsc = env_rdtsc,
					 .rdmsr = t_rdmsr,
					 .wrmsr = t_wrmsr,
					 .get_tpr = t_get_tpr,
					 .set_tpr = t_set_tpr};

static int t_setup(void **state)
{
	struct cr8_env *t = calloc(1, sizeof(*t));
	if (!t || env_init(&t->e, NULL)) {
		free(t);
		return -1;
	}
	emu_cpu_set_sys_ops(&t->e.cpu, &t_sys);
	struct clock_src clk = {fake_mono, NULL, &t->f};
	t->f.now = 1000;
	t->f.lock_free_in_cb = 1;
	if (lapic_init(&t->f.l, 0, 1, &clk, BUS_HZ, TSC_KHZ, &t_lapic_ops, t)) {
		env_destroy(&t->e, 1);
		free(t);
		return -1;
	}
	sw_enable(&t->f);
	*state = t;
	return 0;
}

static int t_teardown(void **state)
{
	struct cr8_env *t = *state;
	assert_true(t->f.lock_free_in_cb);
	lapic_destroy(&t->f.l);
	env_destroy(&t->e, 1);
	free(t);
	return 0;
}

/* Kernel state at CODE with IF set. */
static void t_state(struct cr8_env *t, struct x86_cpu_state *st)
{
	env_state(&t->e, st, CODE);
	st->rflags |= 0x200;
}

static uint8_t t_cr8(struct cr8_env *t)
{
	struct x86_cpu_state st;
	emu_cpu_get_state(&t->e.cpu, &st);
	return (uint8_t)st.cr8;
}

/* MOV to CR8 writes TPR[7:4] and clears TPR[3:0]; PPR follows. */
static void test_cr8_write_sets_tpr(void **state)
{
	struct cr8_env *t = *state;
	struct x86_cpu_state st;

	wr(&t->f, R_TPR, 0x5f);
	/* mov rbx, cr8; mov eax, 2; mov cr8, rax; mov rcx, cr8; hlt */
	CODE_AT(&t->e, CODE, 0x44, 0x0f, 0x20, 0xc3, 0xb8, 0x02, 0, 0, 0, 0x44, 0x0f, 0x22, 0xc0,
		0x44, 0x0f, 0x20, 0xc1, 0xf4);
	t_state(t, &st);
	assert_int_equal(run_st(&t->e, &st), EMU_EXIT_HLT);
	assert_int_equal(t->e.cpu.st.gpr[X86_RBX], 5);
	assert_int_equal(t->e.cpu.st.gpr[X86_RCX], 2);
	assert_int_equal(rd(&t->f, R_TPR), 0x20);
	assert_int_equal(rd(&t->f, R_PPR), 0x20);
	assert_int_equal(lapic_priority(&t->f.l), 0x20);
	assert_int_equal(t_cr8(t), 2);
	assert_int_equal(t->f.kicks, 0); /* nothing pending */
}

/* TPR written through the xAPIC page and through x2APIC MSR 0x808 reads back in CR8. */
static void test_tpr_write_shows_in_cr8(void **state)
{
	struct cr8_env *t = *state;
	struct x86_cpu_state st;

	/* mov rbx, cr8; hlt */
	CODE_AT(&t->e, CODE, 0x44, 0x0f, 0x20, 0xc3, 0xf4);
	wr(&t->f, R_TPR, 0x9c);
	t_state(t, &st);
	assert_int_equal(run_st(&t->e, &st), EMU_EXIT_HLT);
	assert_int_equal(t->e.cpu.st.gpr[X86_RBX], 9);
	assert_int_equal(t_cr8(t), 9);

	/* x2APIC: mov ecx, 0x808; mov eax, 0x3a; xor edx, edx; wrmsr; mov rbx, cr8; hlt */
	enter_x2apic(&t->f);
	CODE_AT(&t->e, CODE, 0xb9, 0x08, 0x08, 0, 0, 0xb8, 0x3a, 0, 0, 0, 0x31, 0xd2, 0x0f, 0x30,
		0x44, 0x0f, 0x20, 0xc3, 0xf4);
	t_state(t, &st);
	assert_int_equal(run_st(&t->e, &st), EMU_EXIT_HLT);
	assert_int_equal(t->e.cpu.st.gpr[X86_RBX], 3);
	assert_int_equal(msr(&t->f, X2(R_TPR)), 0x3a);
	assert_int_equal(t_cr8(t), 3);
	/* ... and CR8 writes show in the MSR. mov eax, 0xd; mov cr8, rax; hlt */
	CODE_AT(&t->e, CODE, 0xb8, 0x0d, 0, 0, 0, 0x44, 0x0f, 0x22, 0xc0, 0xf4);
	t_state(t, &st);
	assert_int_equal(run_st(&t->e, &st), EMU_EXIT_HLT);
	assert_int_equal(msr(&t->f, X2(R_TPR)), 0xd0);
}

/* A vector pending below the old TPR but above the new one: lowering CR8 kicks the vCPU, the run
 * stops right after the MOV to CR8, and the vector is taken there. Lowering to the vector's own
 * class or raising CR8 does not kick. */
static void test_cr8_lower_delivers_pending(void **state)
{
	struct cr8_env *t = *state;
	struct x86_cpu_state st;

	/* mov eax, 6; mov cr8, rax; hlt */
	CODE_AT(&t->e, CODE, 0xb8, 0x06, 0, 0, 0, 0x44, 0x0f, 0x22, 0xc0, 0xf4);
	t_state(t, &st);
	assert_int_equal(run_st(&t->e, &st), EMU_EXIT_HLT);
	assert_int_equal(rd(&t->f, R_TPR), 0x60);
	lapic_deliver(&t->f.l, APIC_DM_FIXED, 0x51, 0);
	assert_int_equal(t->f.kicks, 1); /* the delivery itself */
	assert_int_equal(vec_bit(&t->f, R_IRR, 0x51), 1);
	assert_int_equal(lapic_pending_vector(&t->f.l), -1); /* masked by TPR 0x60 */

	t->stop_on_kick = 1;
	/* mov eax, 5; mov cr8, rax (class 5: still masked); mov eax, 7; mov cr8, rax (raise);
	 * mov eax, 4; mov cr8, rax (unmasks 0x51); nop; nop; mov ebx, 1; hlt */
	CODE_AT(&t->e, CODE, 0xb8, 0x05, 0, 0, 0, 0x44, 0x0f, 0x22, 0xc0, 0xb8, 0x07, 0, 0, 0, 0x44,
		0x0f, 0x22, 0xc0, 0xb8, 0x04, 0, 0, 0, 0x44, 0x0f, 0x22, 0xc0, 0x90, 0x90, 0xbb,
		0x01, 0, 0, 0, 0xf4);
	t_state(t, &st);
	assert_int_equal(run_st(&t->e, &st), EMU_EXIT_STOP);
	assert_int_equal(t->f.kicks, 2); /* only the write that unmasked 0x51 */
	assert_int_equal(t->e.cpu.st.rip, CODE + 27);
	assert_int_equal(rd(&t->f, R_TPR), 0x40);

	/* The vCPU loop (vcpu_accept_irq): the window is open, take the vector and inject it. */
	assert_int_equal(emu_cpu_interrupt_window(&t->e.cpu), 1);
	assert_int_equal(lapic_pending_vector(&t->f.l), 0x51);
	lapic_ack(&t->f.l, 0x51);
	emu_cpu_inject_interrupt(&t->e.cpu, 0x51);
	assert_int_equal(emu_run(&t->e.cpu, 1000), EMU_EXIT_HLT);
	assert_int_equal(t->e.cpu.st.rip, HANDLER(0x51) + 1);
	assert_int_equal(get64(&t->e, t->e.cpu.st.gpr[X86_RSP]), CODE + 27); /* return RIP */
	assert_int_equal(t->e.cpu.st.gpr[X86_RBX], 0); /* before the instructions after it */
	assert_int_equal(vec_bit(&t->f, R_IRR, 0x51), 0);
	assert_int_equal(vec_bit(&t->f, R_ISR, 0x51), 1);
	assert_int_equal(rd(&t->f, R_PPR), 0x50);
}

/* The same unmasking through the xAPIC page kicks too (the vCPU then stops at the end of the
 * running block instead of at the end of its slice). */
static void test_tpr_mmio_lower_kicks(void **state)
{
	struct cr8_env *t = *state;

	wr(&t->f, R_TPR, 0x80);
	lapic_deliver(&t->f.l, APIC_DM_FIXED, 0x71, 0);
	assert_int_equal(t->f.kicks, 1);
	wr(&t->f, R_TPR, 0x75); /* same class: still masked */
	assert_int_equal(t->f.kicks, 1);
	wr(&t->f, R_TPR, 0x60);
	assert_int_equal(t->f.kicks, 2);
	assert_int_equal(lapic_pending_vector(&t->f.l), 0x71);
	wr(&t->f, R_TPR, 0x10); /* already deliverable: no second kick */
	assert_int_equal(t->f.kicks, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_cr8_write_sets_tpr, t_setup, t_teardown),
	    cmocka_unit_test_setup_teardown(test_tpr_write_shows_in_cr8, t_setup, t_teardown),
	    cmocka_unit_test_setup_teardown(test_cr8_lower_delivers_pending, t_setup, t_teardown),
	    cmocka_unit_test_setup_teardown(test_tpr_mmio_lower_kicks, t_setup, t_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
