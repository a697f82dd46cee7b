/* Unit tests for emu's locked instructions: LOCK XADD/INC/CMPXCHG/ADD and an XCHG spinlock run by
 * two emu_cpu instances on two host threads over the same guest RAM lose no update;
 * CMPXCHG8B/16B semantics; locked operands that are misaligned, cross a page or are MMIO; LOCK
 * on forms that cannot be locked is #UD. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "emu_sys_env.h"

#define ITERS 100000u

static uint64_t reg(struct env *e, int r)
{
	return e->cpu.st.gpr[r];
}

static uint64_t zf(struct env *e)
{
	return emu_cpu_rflags(&e->cpu) & 0x40;
}

/* Each thread: ITERS times lock xadd [rsi], eax=1; lock inc qword [rsi+8]; a CMPXCHG loop adding
 * 1 to [rsi+16]; lock add word [rsi+0x29], 1 (misaligned inside an 8-byte word); an XCHG
 * spinlock at [rsi+32] around a plain inc dword [rsi+24]. */
/* clang-format off */
static const uint8_t worker[] = {
	0xb9, ITERS & 0xff, (ITERS >> 8) & 0xff, (ITERS >> 16) & 0xff, 0x00, /* mov ecx, ITERS */
	0xb8, 0x01, 0x00, 0x00, 0x00,		/* 5 loop: mov eax, 1 */
	0xf0, 0x0f, 0xc1, 0x06,			/* lock xadd [rsi], eax */
	0xf0, 0x48, 0xff, 0x46, 0x08,		/* lock inc qword [rsi+8] */
	0x8b, 0x46, 0x10,			/* mov eax, [rsi+16] */
	0x8d, 0x50, 0x01,			/* 22 retry: lea edx, [rax+1] */
	0xf0, 0x0f, 0xb1, 0x56, 0x10,		/* lock cmpxchg [rsi+16], edx */
	0x75, 0xf6,				/* jnz retry */
	0xf0, 0x66, 0x83, 0x46, 0x29, 0x01,	/* lock add word [rsi+0x29], 1 */
	0xb8, 0x01, 0x00, 0x00, 0x00,		/* 38 spin: mov eax, 1 */
	0x87, 0x46, 0x20,			/* xchg [rsi+32], eax */
	0x85, 0xc0,				/* test eax, eax */
	0x75, 0xf4,				/* jnz spin */
	0xff, 0x46, 0x18,			/* inc dword [rsi+24] */
	0xc7, 0x46, 0x20, 0x00, 0x00, 0x00, 0x00, /* mov dword [rsi+32], 0 */
	0xff, 0xc9,				/* dec ecx */
	0x0f, 0x85, 0xc1, 0xff, 0xff, 0xff,	/* jnz loop */
	0xf4,					/* 68: hlt */
};
/* clang-format on */

static void *worker_thread(void *arg)
{
	struct env *e = arg;
	struct x86_cpu_state st;
	int r;

	env_state(e, &st, CODE);
	st.gpr[X86_RSI] = DATA;
	emu_cpu_set_state(&e->cpu, &st);
	do
		r = emu_run(&e->cpu, 0);
	while (r == EMU_EXIT_LIMIT);
	return (void *)(intptr_t)r;
}

static void test_two_threads_lose_nothing(void **state)
{
	struct env *e = *state, e2;
	pthread_t t1, t2;
	void *r1, *r2;

	assert_int_equal(sizeof(worker), 69); /* the branch displacements assume this layout */
	env_code(e, CODE, worker, sizeof(worker));
	memset(e->ram + DATA, 0, 64);
	assert_int_equal(env_init(&e2, e->ram), 0);
	assert_int_equal(pthread_create(&t1, NULL, worker_thread, e), 0);
	assert_int_equal(pthread_create(&t2, NULL, worker_thread, &e2), 0);
	pthread_join(t1, &r1);
	pthread_join(t2, &r2);
	env_destroy(&e2, 0);
	assert_int_equal((intptr_t)r1, EMU_EXIT_HLT);
	assert_int_equal((intptr_t)r2, EMU_EXIT_HLT);
	assert_int_equal(get32(e, DATA), 2 * ITERS);
	assert_int_equal(get64(e, DATA + 8), 2 * ITERS);
	assert_int_equal(get32(e, DATA + 16), 2 * ITERS);
	assert_int_equal(get32(e, DATA + 24), 2 * ITERS);
	assert_int_equal(e->ram[DATA + 0x29] | (e->ram[DATA + 0x2a] << 8), (2 * ITERS) & 0xffff);
	assert_int_equal(e->ram[DATA + 0x28], 0);
	assert_int_equal(e->ram[DATA + 0x2b], 0);
}

static void test_cmpxchg8b_16b(void **state)
{
	struct env *e = *state;
	uint64_t r[16] = {[X86_RSI] = DATA,
			  [X86_RAX] = 0x11111111,
			  [X86_RDX] = 0x22222222,
			  [X86_RBX] = 0x33333333,
			  [X86_RCX] = 0x44444444};

	put64(e, DATA, 0x2222222211111111ull);
	CODE_AT(e, CODE, 0xf0, 0x0f, 0xc7, 0x0e, 0xf4); /* lock cmpxchg8b [rsi]: equal */
	assert_int_equal(run_k(e, r), EMU_EXIT_HLT);
	assert_int_equal(get64(e, DATA), 0x4444444433333333ull);
	assert_int_equal(zf(e), 0x40);
	assert_int_equal(run_k(e, r), EMU_EXIT_HLT); /* not equal: edx:eax loaded */
	assert_int_equal(get64(e, DATA), 0x4444444433333333ull);
	assert_int_equal(zf(e), 0);
	assert_int_equal(reg(e, X86_RAX), 0x33333333);
	assert_int_equal(reg(e, X86_RDX), 0x44444444);

	uint64_t q[16] = {
	    [X86_RSI] = DATA + 16, [X86_RAX] = 1, [X86_RDX] = 2, [X86_RBX] = 3, [X86_RCX] = 4};
	put64(e, DATA + 16, 1);
	put64(e, DATA + 24, 2);
	CODE_AT(e, CODE, 0xf0, 0x48, 0x0f, 0xc7, 0x0e, 0xf4); /* lock cmpxchg16b [rsi] */
	assert_int_equal(run_k(e, q), EMU_EXIT_HLT);
	assert_int_equal(get64(e, DATA + 16), 3);
	assert_int_equal(get64(e, DATA + 24), 4);
	assert_int_equal(zf(e), 0x40);
	q[X86_RDX] = 5; /* high half differs */
	assert_int_equal(run_k(e, q), EMU_EXIT_HLT);
	assert_int_equal(zf(e), 0);
	assert_int_equal(reg(e, X86_RAX), 3);
	assert_int_equal(reg(e, X86_RDX), 4);
	assert_int_equal(get64(e, DATA + 16), 3);
	CODE_AT(e, CODE, 0x48, 0x0f, 0xc7, 0x0e, 0xf4); /* without LOCK: same result */
	q[X86_RAX] = 3;
	q[X86_RDX] = 4;
	q[X86_RBX] = 7;
	q[X86_RCX] = 8;
	assert_int_equal(run_k(e, q), EMU_EXIT_HLT);
	assert_int_equal(get64(e, DATA + 16), 7);
	assert_int_equal(get64(e, DATA + 24), 8);
	q[X86_RSI] = DATA + 8; /* misaligned: #GP(0), memory untouched */
	CODE_AT(e, CODE, 0xf0, 0x48, 0x0f, 0xc7, 0x0e, 0xf4);
	assert_int_equal(run_k(e, q), EMU_EXIT_EXCEPTION);
	assert_int_equal(e->cpu.exit.vector, 13);
	assert_int_equal(get64(e, DATA + 16), 7);
	/* A locked operand on a read-only page faults like a store (#PF), and the TLB stays
	 * usable afterwards. */
	env_set_pte(e, 0x151000, 0x151000 | PTE_P);
	q[X86_RSI] = 0x151000;
	assert_int_equal(run_k(e, q), EMU_EXIT_EXCEPTION);
	assert_int_equal(e->cpu.exit.vector, 14);
	q[X86_RSI] = DATA + 16;
	CODE_AT(e, CODE, 0x48, 0x89, 0x1e, 0xf4); /* mov [rsi], rbx */
	assert_int_equal(run_k(e, q), EMU_EXIT_HLT);
	assert_int_equal(get64(e, DATA + 16), 7);
}

/* Operands the host cannot update with one atomic still execute correctly. */
static void test_locked_odd_operands(void **state)
{
	struct env *e = *state;
	uint64_t r[16] = {[X86_RSI] = DATA + 0xffe, [X86_RAX] = 0xaabbccdd};

	/* XCHG with memory crossing a page (implicitly locked). */
	put64(e, DATA + 0xffc, 0x4433221100000000ull);
	CODE_AT(e, CODE, 0x87, 0x06, 0xf4); /* xchg [rsi], eax */
	assert_int_equal(run_k(e, r), EMU_EXIT_HLT);
	assert_int_equal(reg(e, X86_RAX), 0x22110000);
	assert_int_equal(get64(e, DATA + 0xffc), 0x4433aabbccdd0000ull);
	CODE_AT(e, CODE, 0xf0, 0x87, 0x06, 0xf4); /* lock xchg [rsi], eax */
	assert_int_equal(run_k(e, r), EMU_EXIT_HLT);
	assert_int_equal(reg(e, X86_RAX), 0xaabbccdd);
	CODE_AT(e, CODE, 0xf0, 0x01, 0x06, 0xf4); /* lock add [rsi], eax (crosses) */
	assert_int_equal(run_k(e, r), EMU_EXIT_HLT);
	assert_int_equal(get32(e, DATA + 0xffe), 0xaabbccdd * 2u);
	/* Misaligned, crossing an 8-byte boundary inside the page. */
	r[X86_RSI] = DATA + 6;
	put64(e, DATA, 0);
	put64(e, DATA + 8, 0);
	r[X86_RAX] = 5;
	CODE_AT(e, CODE, 0xf0, 0x0f, 0xc1, 0x06, 0xf4); /* lock xadd [rsi], eax */
	assert_int_equal(run_k(e, r), EMU_EXIT_HLT);
	assert_int_equal(run_k(e, r), EMU_EXIT_HLT);
	assert_int_equal(reg(e, X86_RAX), 5);
	assert_int_equal(get32(e, DATA + 6), 10);
	/* LOCK BTS with a register bit offset beyond the operand. */
	r[X86_RSI] = DATA;
	r[X86_RAX] = 70;
	CODE_AT(e, CODE, 0xf0, 0x48, 0x0f, 0xab, 0x06, 0xf4); /* lock bts [rsi], rax */
	assert_int_equal(run_k(e, r), EMU_EXIT_HLT);
	assert_int_equal(get64(e, DATA + 8), 0x40);
	assert_int_equal(emu_cpu_rflags(&e->cpu) & 1, 0);
	assert_int_equal(run_k(e, r), EMU_EXIT_HLT);
	assert_int_equal(emu_cpu_rflags(&e->cpu) & 1, 1);
	/* MMIO operand: reaches the device callbacks (not atomic, but executed). */
	env_set_pte(e, 0x150000, 0x7ff000 | PTE_P | PTE_W); /* beyond the 4 MiB of RAM */
	r[X86_RSI] = 0x150000;
	e->mmio_reads = e->mmio_writes = 0;
	CODE_AT(e, CODE, 0xf0, 0x87, 0x06, 0xf4);
	assert_int_equal(run_k(e, r), EMU_EXIT_HLT);
	assert_int_equal(reg(e, X86_RAX), 0x5a5a5a5a);
	assert_int_equal(e->mmio_reads, 1);
	assert_int_equal(e->mmio_writes, 1);
}

static void test_lock_rules(void **state)
{
	struct env *e = *state;
	uint64_t r[16] = {[X86_RSI] = DATA};
	static const uint8_t ud[][4] = {
	    {0xf0, 0x01, 0xc0, 0xf4}, /* lock add eax, eax: register destination */
	    {0xf0, 0x39, 0x06, 0xf4}, /* lock cmp [rsi], eax: not a RMW */
	    {0xf0, 0x8b, 0x06, 0xf4}, /* lock mov eax, [rsi] */
	    {0xf0, 0x90, 0xf4, 0xf4}, /* lock nop */
	};

	for (unsigned i = 0; i < sizeof(ud) / sizeof(ud[0]); i++) {
		env_code(e, CODE, ud[i], 4);
		assert_int_equal(run_k(e, r), EMU_EXIT_EXCEPTION);
		assert_int_equal(e->cpu.exit.vector, 6);
		assert_int_equal(e->cpu.st.rip, CODE);
	}
	/* Every lockable form through the locked path gives the plain result and flags. */
	static const uint8_t ok[][7] = {
	    {5, 0xf0, 0x83, 0x06, 0x05, 0xf4},	     /* lock add dword [rsi], 5 */
	    {5, 0xf0, 0x83, 0x0e, 0x40, 0xf4},	     /* lock or dword [rsi], 0x40 */
	    {5, 0xf0, 0x83, 0x16, 0x01, 0xf4},	     /* lock adc dword [rsi], 1 (CF=0) */
	    {5, 0xf0, 0x83, 0x1e, 0x01, 0xf4},	     /* lock sbb dword [rsi], 1 */
	    {5, 0xf0, 0x83, 0x26, 0x7f, 0xf4},	     /* lock and dword [rsi], 0x7f */
	    {5, 0xf0, 0x83, 0x2e, 0x02, 0xf4},	     /* lock sub dword [rsi], 2 */
	    {5, 0xf0, 0x83, 0x36, 0x0f, 0xf4},	     /* lock xor dword [rsi], 0xf */
	    {4, 0xf0, 0xf7, 0x16, 0xf4},	     /* lock not dword [rsi] */
	    {4, 0xf0, 0xf7, 0x1e, 0xf4},	     /* lock neg dword [rsi] */
	    {4, 0xf0, 0xfe, 0x0e, 0xf4},	     /* lock dec byte [rsi] */
	    {6, 0xf0, 0x0f, 0xba, 0x36, 0x00, 0xf4}, /* lock btr dword [rsi], 0 */
	    {6, 0xf0, 0x0f, 0xba, 0x3e, 0x03, 0xf4}, /* lock btc dword [rsi], 3 */
	};
	uint32_t v = 10;
	put64(e, DATA, v);
	for (unsigned i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		env_code(e, CODE, ok[i] + 1, ok[i][0]);
		assert_int_equal(run_k(e, r), EMU_EXIT_HLT);
	}
	/* 10 +5 =15 |0x40 =0x4f +1 =0x50 -1 =0x4f &0x7f =0x4f -2 =0x4d ^0xf =0x42 ~ =0xffffffbd
	 * neg =0x43 dec byte =0x42 btr 0 =0x42 btc 3 =0x4a */
	assert_int_equal(get32(e, DATA), 0x4a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_two_threads_lose_nothing, env_setup_exc_exit,
					    env_teardown),
	    cmocka_unit_test_setup_teardown(test_cmpxchg8b_16b, env_setup_exc_exit, env_teardown),
	    cmocka_unit_test_setup_teardown(test_locked_odd_operands, env_setup_exc_exit,
					    env_teardown),
	    cmocka_unit_test_setup_teardown(test_lock_rules, env_setup_exc_exit, env_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
