/* Unit tests for emu execution: exact flags in corner cases, exceptions, string ops, the decode
 * cache (self-modifying code), page-crossing accesses, 32-bit and 16-bit modes. Code runs from a
 * 64 KiB fake RAM at guest-physical 0 with paging off. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "accel/emu/cpu.h"

#define RAM_SIZE 0x10000u
#define CODE 0x1000u
#define STACK_TOP 0xf000u

#define CF 0x001u
#define PF 0x004u
#define AF 0x010u
#define ZF 0x040u
#define SF 0x080u
#define DF 0x400u
#define OF 0x800u
#define ARITH (CF | PF | AF | ZF | SF | OF)

struct env {
	uint8_t ram[RAM_SIZE];
	struct emu_cpu cpu;
	unsigned mmio_reads, mmio_writes;
	uint64_t last_mmio;
};

static uint8_t *env_ram(void *ctx, uint64_t gpa, int write)
{
	struct env *e = ctx;
	(void)write;
	return gpa < RAM_SIZE ? e->ram + gpa : NULL;
}

static uint64_t env_mmio_read(void *ctx, uint64_t gpa, unsigned size)
{
	struct env *e = ctx;
	(void)size;
	e->mmio_reads++;
	e->last_mmio = gpa;
	return 0xab;
}

static void env_mmio_write(void *ctx, uint64_t gpa, unsigned size, uint64_t val)
{
	struct env *e = ctx;
	(void)size;
	e->mmio_writes++;
	e->last_mmio = gpa ^ val;
}

static uint32_t env_in(void *ctx, uint16_t port, unsigned size)
{
	(void)ctx, (void)size;
	return port == 0x60 ? 0x5a : ~0u;
}

static void env_out(void *ctx, uint16_t port, unsigned size, uint32_t val)
{
	struct env *e = ctx;
	(void)size;
	e->last_mmio = ((uint64_t)port << 32) | val;
}

static const struct emu_mem_ops env_ops = {env_ram, env_mmio_read, env_mmio_write,
					   env_in,  env_out,	   NULL};

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	if (!e || emu_cpu_init(&e->cpu, &env_ops, e))
		return -1;
	/* Report exceptions instead of delivering them through the (empty) IDT. */
	e->cpu.exc_exit = 1;
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;
	emu_cpu_destroy(&e->cpu);
	free(e);
	return 0;
}

/* Load code at CODE in 64-bit mode with the given registers and flags, run to HLT. */
static int run64(struct env *e, const uint8_t *code, size_t len, const uint64_t *regs,
		 uint64_t rflags)
{
	struct x86_cpu_state st;

	memcpy(e->ram + CODE, code, len);
	emu_invalidate_phys(&e->cpu, CODE, len);
	x86_state_long64(&st, CODE, 0, 0, 0);
	st.cr0 &= ~X86_CR0_PG;
	if (regs)
		memcpy(st.gpr, regs, sizeof(st.gpr));
	st.gpr[X86_RSP] = regs && regs[X86_RSP] ? regs[X86_RSP] : STACK_TOP;
	st.rflags = rflags | 2;
	emu_cpu_set_state(&e->cpu, &st);
	return emu_run(&e->cpu, 10000);
}

#define RUN(e, regs, fl, ...)                                                                      \
	({                                                                                         \
		static const uint8_t c_[] = {__VA_ARGS__, 0xf4};                                   \
		run64((e), c_, sizeof(c_), (regs), (fl));                                          \
	})

static uint64_t flags(struct env *e)
{
	return emu_cpu_rflags(&e->cpu) & (ARITH | DF);
}

static uint64_t reg(struct env *e, int r)
{
	return e->cpu.st.gpr[r];
}

static void test_add_sub_flags(void **state)
{
	struct env *e = *state;
	uint64_t r[16] = {[X86_RAX] = 0x7fffffff, [X86_RBX] = 1};

	assert_int_equal(RUN(e, r, 0, 0x01, 0xd8), EMU_EXIT_HLT); /* add eax, ebx */
	assert_int_equal(reg(e, X86_RAX), 0x80000000);
	assert_int_equal(flags(e), OF | SF | AF | PF);
	r[X86_RAX] = 0;
	RUN(e, r, 0, 0x48, 0x29, 0xd8); /* sub rax, rbx: 0 - 1 */
	assert_int_equal(reg(e, X86_RAX), ~0ull);
	assert_int_equal(flags(e), CF | SF | AF | PF);
	r[X86_RAX] = 0xff;
	RUN(e, r, CF, 0x10, 0xd8); /* adc al, bl with CF: 0xff + 1 + 1 */
	assert_int_equal(reg(e, X86_RAX), 0x01);
	assert_int_equal(flags(e), CF | AF);
	r[X86_RAX] = 0;
	r[X86_RBX] = 0;
	RUN(e, r, CF, 0x48, 0x19, 0xd8); /* sbb rax, rbx with CF: 0 - 0 - 1 */
	assert_int_equal(reg(e, X86_RAX), ~0ull);
	assert_int_equal(flags(e), CF | SF | AF | PF);
	r[X86_RAX] = 0x12345678;
	RUN(e, r, 0, 0x66, 0x3d, 0x78, 0x56); /* cmp ax, 0x5678: equal */
	assert_int_equal(flags(e), ZF | PF);
	assert_int_equal(reg(e, X86_RAX), 0x12345678);
}

static void test_logic_inc_neg(void **state)
{
	struct env *e = *state;
	uint64_t r[16] = {[X86_RAX] = 0xffffffff00000003ull};

	RUN(e, r, CF | OF, 0x83, 0xe0, 0x01); /* and eax, 1: zero-extends, clears CF/OF */
	assert_int_equal(reg(e, X86_RAX), 1);
	assert_int_equal(flags(e), 0);
	r[X86_RAX] = 0x7f;
	RUN(e, r, CF, 0xfe, 0xc0); /* inc al: OF, CF preserved */
	assert_int_equal(reg(e, X86_RAX), 0x80);
	assert_int_equal(flags(e), CF | OF | SF | AF);
	r[X86_RAX] = 0;
	RUN(e, r, CF, 0x48, 0xff, 0xc8); /* dec rax */
	assert_int_equal(flags(e), CF | SF | AF | PF);
	r[X86_RAX] = 0x80;
	RUN(e, r, 0, 0xf6, 0xd8); /* neg al: 0x80 stays, OF and CF */
	assert_int_equal(reg(e, X86_RAX), 0x80);
	assert_int_equal(flags(e), CF | OF | SF);
	r[X86_RAX] = 0;
	RUN(e, r, CF, 0xf7, 0xd8); /* neg 0: CF clear */
	assert_int_equal(flags(e), ZF | PF);
}

static void test_shift_rotate_flags(void **state)
{
	struct env *e = *state;
	uint64_t r[16] = {[X86_RAX] = 0x80000001ull, [X86_RCX] = 0};

	RUN(e, r, CF | ZF, 0xd3, 0xe0); /* shl eax, cl=0: flags untouched */
	assert_int_equal(flags(e), CF | ZF);
	RUN(e, r, 0, 0xd1, 0xe0); /* shl eax, 1: CF from bit 31, OF = MSB ^ CF */
	assert_int_equal(reg(e, X86_RAX), 2);
	assert_int_equal(flags(e) & (CF | OF | ZF | SF), CF | OF);
	r[X86_RAX] = 0xf0;
	RUN(e, r, 0, 0xc0, 0xf8, 0x04); /* sar al, 4 */
	assert_int_equal(reg(e, X86_RAX), 0xff);
	assert_int_equal(flags(e) & (CF | SF | ZF | PF), SF | PF);
	r[X86_RAX] = 0x81;
	RUN(e, r, 0, 0xd0, 0xc0); /* rol al, 1 */
	assert_int_equal(reg(e, X86_RAX), 0x03);
	assert_int_equal(flags(e) & (CF | OF), CF | OF);
	r[X86_RAX] = 0x01;
	RUN(e, r, 0, 0xd0, 0xd8); /* rcr al, 1 with CF=0: CF <- 1, OF = MSB ^ CF(old) = 0 */
	assert_int_equal(reg(e, X86_RAX), 0x00);
	assert_int_equal(flags(e) & (CF | OF), CF);
	r[X86_RAX] = 0x00;
	RUN(e, r, CF, 0xc0, 0xd0, 0x09); /* rcl al, 9 = rotate by 0 (mod 9): unchanged */
	assert_int_equal(reg(e, X86_RAX), 0);
	assert_int_equal(flags(e) & CF, CF);
	r[X86_RAX] = 0x8000000000000000ull;
	r[X86_RDX] = 0xffffffffffffffffull;
	RUN(e, r, 0, 0x48, 0x0f, 0xa4, 0xd0, 0x04); /* shld rax, rdx, 4 */
	assert_int_equal(reg(e, X86_RAX), 0xf);
	assert_int_equal(flags(e) & (CF | ZF | SF), 0);
	RUN(e, r, 0, 0x48, 0x0f, 0xac, 0xd0, 0x3c); /* shrd rax, rdx, 60 */
	assert_int_equal(reg(e, X86_RAX), 0xfffffffffffffff8ull);
	assert_int_equal(flags(e) & (CF | SF), SF);
}

static void test_mul_div(void **state)
{
	struct env *e = *state;
	uint64_t r[16] = {[X86_RAX] = ~0ull, [X86_RBX] = 2};

	RUN(e, r, 0, 0x48, 0xf7, 0xe3); /* mul rbx */
	assert_int_equal(reg(e, X86_RDX), 1);
	assert_int_equal(reg(e, X86_RAX), ~0ull - 1);
	assert_int_equal(flags(e) & (CF | OF), CF | OF);
	RUN(e, r, CF | OF, 0x48, 0xf7, 0xeb); /* imul rbx: -1 * 2 fits */
	assert_int_equal(reg(e, X86_RDX), ~0ull);
	assert_int_equal(reg(e, X86_RAX), ~0ull - 1);
	assert_int_equal(flags(e) & (CF | OF), 0);
	r[X86_RAX] = 0x4000000000000000ull;
	RUN(e, r, 0, 0x48, 0x6b, 0xc0, 0x02); /* imul rax, rax, 2: overflow */
	assert_int_equal(reg(e, X86_RAX), 0x8000000000000000ull);
	assert_int_equal(flags(e) & (CF | OF), CF | OF);
	r[X86_RAX] = 100;
	r[X86_RDX] = 0;
	r[X86_RBX] = 7;
	RUN(e, r, 0, 0x48, 0xf7, 0xf3); /* div rbx */
	assert_int_equal(reg(e, X86_RAX), 14);
	assert_int_equal(reg(e, X86_RDX), 2);
	r[X86_RAX] = (uint64_t)-100;
	r[X86_RDX] = ~0ull;
	RUN(e, r, 0, 0x48, 0xf7, 0xfb); /* idiv rbx: -100 / 7 = -14 rem -2 */
	assert_int_equal(reg(e, X86_RAX), (uint64_t)-14);
	assert_int_equal(reg(e, X86_RDX), (uint64_t)-2);
}

static void test_divide_error(void **state)
{
	struct env *e = *state;
	uint64_t r[16] = {[X86_RAX] = 5, [X86_RBX] = 0};

	assert_int_equal(RUN(e, r, 0, 0x90, 0xf7, 0xf3), EMU_EXIT_EXCEPTION); /* div ebx */
	assert_int_equal(e->cpu.exit.vector, 0);
	assert_int_equal(e->cpu.st.rip, CODE + 1); /* at the DIV, after the NOP */
	assert_int_equal(reg(e, X86_RAX), 5);
	r[X86_RAX] = 0x8000000000000000ull; /* INT64_MIN / -1 overflows */
	r[X86_RDX] = ~0ull;
	r[X86_RBX] = ~0ull;
	assert_int_equal(RUN(e, r, 0, 0x48, 0xf7, 0xfb), EMU_EXIT_EXCEPTION);
	assert_int_equal(e->cpu.exit.vector, 0);
	r[X86_RAX] = 0;
	r[X86_RDX] = 7; /* quotient overflow: rdx >= divisor */
	r[X86_RBX] = 7;
	assert_int_equal(RUN(e, r, 0, 0x48, 0xf7, 0xf3), EMU_EXIT_EXCEPTION);
}

static void test_bit_ops(void **state)
{
	struct env *e = *state;
	uint64_t r[16] = {[X86_RAX] = 0, [X86_RBX] = 0x1234, [X86_RCX] = 0x100};

	RUN(e, r, 0, 0x0f, 0xbc, 0xc1); /* bsf eax, ecx */
	assert_int_equal(reg(e, X86_RAX), 8);
	assert_int_equal(flags(e) & ZF, 0);
	r[X86_RCX] = 0;
	r[X86_RAX] = 0xdeadbeefcafef00dull;
	RUN(e, r, 0, 0x48, 0x0f, 0xbd, 0xc1); /* bsr rax, rcx=0: ZF, rax unchanged */
	assert_int_equal(reg(e, X86_RAX), 0xdeadbeefcafef00dull);
	assert_int_equal(flags(e) & ZF, ZF);
	RUN(e, r, 0, 0xf3, 0x0f, 0xbd, 0xc1); /* lzcnt eax, ecx=0: 32, CF */
	assert_int_equal(reg(e, X86_RAX), 32);
	assert_int_equal(flags(e) & (CF | ZF), CF);
	r[X86_RCX] = 0xf0f0;
	RUN(e, r, ARITH, 0xf3, 0x0f, 0xb8, 0xc1); /* popcnt: clears all but ZF */
	assert_int_equal(reg(e, X86_RAX), 8);
	assert_int_equal(flags(e), 0);
	RUN(e, r, ZF, 0x0f, 0xba, 0xeb, 0x04); /* bts ebx, 4: CF = old bit, ZF kept */
	assert_int_equal(reg(e, X86_RBX), 0x1234);
	assert_int_equal(flags(e) & (CF | ZF), CF | ZF);
	RUN(e, r, 0, 0x0f, 0xba, 0xf3, 0x24); /* btr ebx, 36 -> bit 4 */
	assert_int_equal(reg(e, X86_RBX), 0x1224);
	/* bt with a negative register offset into memory: bit -1 is bit 7 of the byte before */
	e->ram[0x3fff] = 0x80;
	r[X86_RSI] = 0x4000;
	r[X86_RDX] = (uint64_t)-1;
	RUN(e, r, 0, 0x48, 0x0f, 0xa3, 0x16); /* bt [rsi], rdx */
	assert_int_equal(flags(e) & CF, CF);
}

static void test_cmpxchg_xadd(void **state)
{
	struct env *e = *state;
	uint64_t r[16] = {[X86_RAX] = 5, [X86_RBX] = 5, [X86_RCX] = 9};

	RUN(e, r, 0, 0x0f, 0xb1, 0xcb); /* cmpxchg ebx, ecx: equal */
	assert_int_equal(reg(e, X86_RBX), 9);
	assert_int_equal(flags(e) & ZF, ZF);
	r[X86_RAX] = 0xffffffff00000004ull;
	r[X86_RBX] = 0xaaaaaaaa00000005ull;
	RUN(e, r, 0, 0x0f, 0xb1, 0xcb); /* not equal: eax loaded, ebx untouched */
	assert_int_equal(reg(e, X86_RAX), 5);
	assert_int_equal(reg(e, X86_RBX), 0xaaaaaaaa00000005ull);
	assert_int_equal(flags(e) & (ZF | CF), CF);
	r[X86_RAX] = 1;
	r[X86_RBX] = 2;
	RUN(e, r, 0, 0x48, 0x0f, 0xc1, 0xc3); /* xadd rbx, rax */
	assert_int_equal(reg(e, X86_RBX), 3);
	assert_int_equal(reg(e, X86_RAX), 2);
	/* cmpxchg16b on a misaligned operand raises #GP */
	r[X86_RSI] = 0x4008;
	assert_int_equal(RUN(e, r, 0, 0x48, 0x0f, 0xc7, 0x0e), EMU_EXIT_EXCEPTION);
	assert_int_equal(e->cpu.exit.vector, 13);
}

static void test_stack_and_flags_ops(void **state)
{
	struct env *e = *state;
	uint64_t r[16] = {[X86_RAX] = 0x8d5};

	/* push rax; popf; pushf; pop rbx */
	RUN(e, r, 0, 0x50, 0x9d, 0x9c, 0x5b);
	assert_int_equal(flags(e), 0x8d5);
	assert_int_equal(reg(e, X86_RBX) & 0xfff, 0x8d7);
	assert_int_equal(reg(e, X86_RSP), STACK_TOP);
	r[X86_RAX] = 0;
	RUN(e, r, CF | ZF | SF, 0x9f); /* lahf */
	assert_int_equal((reg(e, X86_RAX) >> 8) & 0xff, 0xc3);
	r[X86_RAX] = 0x1500;
	RUN(e, r, OF, 0x9e); /* sahf: OF kept */
	assert_int_equal(flags(e), OF | AF | PF | CF);
	/* enter 16, 0; leave */
	r[X86_RBP] = 0x1234;
	RUN(e, r, 0, 0xc8, 0x10, 0x00, 0x00, 0x48, 0x89, 0xe0, 0xc9);
	assert_int_equal(reg(e, X86_RAX), STACK_TOP - 8 - 16);
	assert_int_equal(reg(e, X86_RBP), 0x1234);
	assert_int_equal(reg(e, X86_RSP), STACK_TOP);
}

static void test_string_ops(void **state)
{
	struct env *e = *state;
	uint64_t r[16] = {[X86_RSI] = 0x4003, [X86_RDI] = 0x5003, [X86_RCX] = 4};

	memcpy(e->ram + 0x4000, "abcd", 4);
	RUN(e, r, DF, 0xf3, 0xa4); /* std; rep movsb backwards */
	assert_memory_equal(e->ram + 0x5000, "abcd", 4);
	assert_int_equal(reg(e, X86_RCX), 0);
	assert_int_equal(reg(e, X86_RSI), 0x3fff);
	r[X86_RDI] = 0x4000;
	r[X86_RCX] = 10;
	r[X86_RAX] = 'c';
	RUN(e, r, 0, 0xf2, 0xae); /* repne scasb */
	assert_int_equal(reg(e, X86_RDI), 0x4003);
	assert_int_equal(reg(e, X86_RCX), 7);
	assert_int_equal(flags(e) & ZF, ZF);
	r[X86_RCX] = 0;
	RUN(e, r, CF, 0xf3, 0xa6); /* repe cmpsb with rcx=0: nothing, flags kept */
	assert_int_equal(flags(e), CF);
}

static void test_self_modifying_code(void **state)
{
	struct env *e = *state;
	/* mov byte [rip+0], 0xf4 overwrites the first byte of the following "inc eax" (ff c0),
	 * which is already decoded in the same block, with HLT. */
	uint64_t r[16] = {0};
	static const uint8_t code[] = {0xc6, 0x05, 0x00, 0x00, 0x00, 0x00, 0xf4, /* [next] = hlt */
				       0xff, 0xc0,				 /* inc eax */
				       0xf4};
	/* First run: decode the block; the store turns "ff" into "f4", so HLT runs before inc. */
	assert_int_equal(run64(e, code, sizeof(code), r, 0), EMU_EXIT_HLT);
	assert_int_equal(reg(e, X86_RAX), 0);
	assert_int_equal(e->cpu.st.rip, CODE + 8);
	/* Second run over the now-modified code from a fresh copy: must re-decode again. */
	assert_int_equal(run64(e, code, sizeof(code), r, 0), EMU_EXIT_HLT);
	assert_int_equal(e->cpu.st.rip, CODE + 8);
}

static void test_page_crossing(void **state)
{
	struct env *e = *state;
	struct x86_cpu_state st;
	/* A 10-byte mov rax, imm64 that straddles the page boundary at 0x2000. */
	static const uint8_t mov[] = {0x48, 0xb8, 1, 2, 3, 4, 5, 6, 7, 8, 0x48, 0x8b, 0x1e, 0xf4};

	memcpy(e->ram + 0x1ffc, mov, sizeof(mov));
	memcpy(e->ram + 0x2ffc, "\x11\x22\x33\x44\x55\x66\x77\x88", 8);
	emu_invalidate_phys(&e->cpu, 0x1000, 0x2000);
	x86_state_long64(&st, 0x1ffc, 0, 0, 0);
	st.cr0 &= ~X86_CR0_PG;
	st.gpr[X86_RSI] = 0x2ffc; /* mov rbx, [rsi] crosses into 0x3000 */
	emu_cpu_set_state(&e->cpu, &st);
	assert_int_equal(emu_run(&e->cpu, 100), EMU_EXIT_HLT);
	assert_int_equal(reg(e, X86_RAX), 0x0807060504030201ull);
	assert_int_equal(reg(e, X86_RBX), 0x8877665544332211ull);
	/* An access outside RAM goes to the MMIO callbacks. */
	uint64_t r[16] = {[X86_RSI] = 0x100000};
	RUN(e, r, 0, 0x8a, 0x06, 0x88, 0x46, 0x01); /* mov al, [rsi]; mov [rsi+1], al */
	assert_int_equal(reg(e, X86_RAX) & 0xff, 0xab);
	assert_int_equal(e->mmio_writes, 1);
}

static void test_exits(void **state)
{
	struct env *e = *state;
	uint64_t r[16] = {0};

	/* xsave [rax] (XSAVE is not implemented nor advertised): an UNIMPL exit at the insn. */
	assert_int_equal(RUN(e, r, 0, 0x90, 0x0f, 0xae, 0x20), EMU_EXIT_UNIMPL);
	assert_int_equal(e->cpu.st.rip, CODE + 1);
	assert_true(e->cpu.exit.len >= 2);
	assert_int_equal(e->cpu.exit.bytes[0], 0x0f);
	assert_int_equal(e->cpu.exit.bytes[1], 0xae);
	assert_int_equal(RUN(e, r, 0, 0x0f, 0x0b), EMU_EXIT_EXCEPTION); /* ud2 */
	assert_int_equal(e->cpu.exit.vector, 6);
	/* Instruction limit and single-stepping. */
	static const uint8_t loop[] = {0xeb, 0xfe};
	assert_int_equal(run64(e, loop, sizeof(loop), r, 0), EMU_EXIT_LIMIT);
	assert_int_equal(emu_step(&e->cpu), EMU_EXIT_NONE);
	assert_int_equal(e->cpu.st.rip, CODE);
	/* Port I/O */
	RUN(e, r, 0, 0xe4, 0x60, 0xe6, 0x80); /* in al, 0x60; out 0x80, al */
	assert_int_equal(reg(e, X86_RAX), 0x5a);
	assert_int_equal(e->last_mmio, (0x80ull << 32) | 0x5a);
}

/* The threaded interpreter charges a block's instructions when it starts: a fault, a budget cut
 * or a read of the instruction count in the middle of a block must still see exact counts. */
static void test_block_instruction_accounting(void **state)
{
	struct env *e = *state;
	uint64_t r[16] = {0};

	/* nop x5; ud2: five retire, the fault does not */
	uint64_t before = e->cpu.icount;
	assert_int_equal(RUN(e, r, 0, 0x90, 0x90, 0x90, 0x90, 0x90, 0x0f, 0x0b),
			 EMU_EXIT_EXCEPTION);
	assert_int_equal(e->cpu.st.rip, CODE + 5);
	assert_int_equal(e->cpu.icount - before, 5);
	/* nop x3; rdtsc (no TSC callback: the count of retired instructions); hlt */
	before = e->cpu.icount;
	assert_int_equal(RUN(e, r, 0, 0x90, 0x90, 0x90, 0x0f, 0x31), EMU_EXIT_HLT);
	uint64_t tsc = (reg(e, X86_RDX) << 32) | (reg(e, X86_RAX) & 0xffffffff);
	assert_int_equal(tsc, before + 3);
	assert_int_equal(e->cpu.icount - before, 5); /* hlt retires too */
	/* a budget of 4 stops inside a block of ten nops */
	static const uint8_t nops[] = {0x90, 0x90, 0x90, 0x90, 0x90, 0x90,
				       0x90, 0x90, 0x90, 0x90, 0xf4};
	before = e->cpu.icount;
	memcpy(e->ram + CODE, nops, sizeof(nops));
	emu_invalidate_phys(&e->cpu, CODE, sizeof(nops));
	e->cpu.st.rip = CODE;
	assert_int_equal(emu_run(&e->cpu, 4), EMU_EXIT_LIMIT);
	assert_int_equal(e->cpu.st.rip, CODE + 4);
	assert_int_equal(e->cpu.icount - before, 4);
	assert_int_equal(emu_run(&e->cpu, 100), EMU_EXIT_HLT);
	assert_int_equal(e->cpu.st.rip, CODE + sizeof(nops));
	assert_int_equal(e->cpu.icount - before, 11);
}

/* Corner cases of the specialised handlers (register forms at 32 and 64 bits, lazy shift flags,
 * high byte registers, the stack pointer as an operand). */
static void test_fast_handlers(void **state)
{
	struct env *e = *state;
	uint64_t r[16] = {[X86_RAX] = 0xffffffff80000000ull, [X86_RBX] = 0x80000000ull};

	RUN(e, r, 0, 0x01, 0xd8); /* add eax, ebx: zero-extends, CF ZF OF */
	assert_int_equal(reg(e, X86_RAX), 0);
	assert_int_equal(flags(e), CF | ZF | PF | OF);
	r[X86_RAX] = 0x8000000000000001ull;
	/* shl rax, 1; setc cl; inc rdx (CF kept); pushf; pop rsi */
	RUN(e, r, 0, 0x48, 0xc1, 0xe0, 0x01, 0x0f, 0x92, 0xc1, 0x48, 0xff, 0xc2, 0x9c, 0x5e);
	assert_int_equal(reg(e, X86_RAX), 2);
	assert_int_equal(reg(e, X86_RCX) & 0xff, 1);
	assert_int_equal(reg(e, X86_RSI) & (ARITH), CF);
	r[X86_RAX] = 0xf0;
	RUN(e, r, 0, 0x48, 0xc1, 0xe8, 0x04); /* shr rax, 4: OF = old MSB (0) */
	assert_int_equal(reg(e, X86_RAX), 0xf);
	assert_int_equal(flags(e), PF);
	r[X86_RAX] = 0x8000000000000000ull;
	RUN(e, r, ZF, 0x48, 0xc1, 0xf8, 0x3f); /* sar rax, 63 */
	assert_int_equal(reg(e, X86_RAX), ~0ull);
	assert_int_equal(flags(e), SF | PF);
	r[X86_RAX] = 0x1ffffffffull;
	RUN(e, r, CF | ZF, 0xc1, 0xe0, 0x00); /* shl eax, 0: flags kept, upper half cleared */
	assert_int_equal(reg(e, X86_RAX), 0xffffffff);
	assert_int_equal(flags(e), CF | ZF);
	r[X86_RCX] = 0x0100;
	r[X86_RBX] = 0x0200;
	RUN(e, r, 0, 0x84, 0xfd); /* test ch, bh: 1 & 2 = 0 */
	assert_int_equal(flags(e), ZF | PF);
	RUN(e, r, 0, 0x54, 0x5c); /* push rsp; pop rsp: the old RSP comes back */
	assert_int_equal(reg(e, X86_RSP), STACK_TOP);
	r[X86_RAX] = 5;
	r[X86_RBX] = 5;
	/* cmp rax, rbx; jbe +2 (taken: skips mov bl, 1); mov bl, 1; hlt */
	RUN(e, r, 0, 0x48, 0x39, 0xd8, 0x76, 0x02, 0xb3, 0x01);
	assert_int_equal(reg(e, X86_RBX), 5);
	/* Blocks go on past a conditional branch: mov ecx, 5; L: dec ecx; jnz L (taken 4 times,
	 * then falls through within the block); xor eax, eax; cmp ecx, 0; je +2 (taken mid-block);
	 * mov al, 1 (skipped); hlt. 15 instructions retire. */
	uint64_t before = e->cpu.icount;
	RUN(e, r, 0, 0xb9, 0x05, 0x00, 0x00, 0x00, 0xff, 0xc9, 0x75, 0xfc, 0x31, 0xc0, 0x83, 0xf9,
	    0x00, 0x74, 0x02, 0xb0, 0x01);
	assert_int_equal(reg(e, X86_RCX), 0);
	assert_int_equal(reg(e, X86_RAX), 0);
	assert_int_equal(e->cpu.st.rip, CODE + 19);
	assert_int_equal(e->cpu.icount - before, 15);
}

static void test_mode32_and_16(void **state)
{
	struct env *e = *state;
	struct x86_cpu_state st;
	/* 32-bit: push eax; pop ebx; mov ecx, [esp-4]; dec ecx (48 is DEC here, not REX) */
	static const uint8_t c32[] = {0x50, 0x5b, 0x8b, 0x4c, 0x24, 0xfc, 0x49, 0xf4};
	memcpy(e->ram + CODE, c32, sizeof(c32));
	emu_invalidate_phys(&e->cpu, CODE, sizeof(c32));
	x86_state_flat32(&st, CODE, 0, 0);
	st.gpr[X86_RAX] = 0x12345678;
	st.gpr[X86_RSP] = STACK_TOP;
	emu_cpu_set_state(&e->cpu, &st);
	assert_int_equal(emu_run(&e->cpu, 100), EMU_EXIT_HLT);
	assert_int_equal(reg(e, X86_RBX), 0x12345678);
	assert_int_equal(reg(e, X86_RCX), 0x12345677);
	assert_int_equal(reg(e, X86_RSP), STACK_TOP);
	/* 16-bit real mode: mov ax, [bx+si+2]; add ax, 1; push ax (SS:SP wraps in 64 KiB) */
	static const uint8_t c16[] = {0x8b, 0x40, 0x02, 0x05, 0x01, 0x00, 0x50, 0xf4};
	memcpy(e->ram + CODE, c16, sizeof(c16));
	e->ram[0x502] = 0xff;
	e->ram[0x503] = 0x7f;
	emu_invalidate_phys(&e->cpu, CODE, sizeof(c16));
	x86_state_reset(&st);
	st.seg[X86_CS].base = 0;
	st.seg[X86_CS].selector = 0;
	st.rip = CODE;
	st.gpr[X86_RBX] = 0x500;
	st.gpr[X86_RSP] = 0x0000; /* push wraps to 0xfffe */
	emu_cpu_set_state(&e->cpu, &st);
	assert_int_equal(emu_run(&e->cpu, 100), EMU_EXIT_HLT);
	assert_int_equal(reg(e, X86_RAX), 0x8000);
	assert_int_equal(flags(e), OF | SF | AF | PF);
	assert_int_equal(reg(e, X86_RSP), 0xfffe);
	assert_int_equal(e->ram[0xfffe] | (e->ram[0xffff] << 8), 0x8000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_add_sub_flags, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_logic_inc_neg, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_shift_rotate_flags, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mul_div, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_divide_error, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bit_ops, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cmpxchg_xadd, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stack_and_flags_ops, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_string_ops, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_self_modifying_code, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_page_crossing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_exits, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mode32_and_16, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_block_instruction_accounting, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fast_handlers, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
