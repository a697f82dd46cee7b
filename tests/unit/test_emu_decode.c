/* Unit tests for the emu decoder: prefixes, REX, ModRM/SIB forms, immediates, maps, limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "accel/emu/cpu.h"
#include "accel/emu/decode.h"

#define DEC(mode, in, ...)                                                                         \
	({                                                                                         \
		static const uint8_t b_[] = {__VA_ARGS__};                                         \
		emu_decode(b_, sizeof(b_), (mode), (in));                                          \
	})

#define M64 EMU_MODE_64
#define M32 EMU_MODE_32
#define M16 EMU_MODE_16

static void test_prefix_rex_w_wins_over_66(void **state)
{
	struct emu_insn in;
	(void)state;
	assert_int_equal(DEC(M64, &in, 0x66, 0x48, 0x01, 0xc0), 4);
	assert_int_equal(in.op, EMU_OP_ALU_EG);
	assert_int_equal(in.osize, 8);
}

static void test_prefix_rex_before_legacy_is_ignored(void **state)
{
	struct emu_insn in;
	(void)state;
	/* REX.WB followed by 66: the REX is dropped, so this is add ax, ax on rax (not r8). */
	assert_int_equal(DEC(M64, &in, 0x49, 0x66, 0x01, 0xc0), 4);
	assert_int_equal(in.osize, 2);
	assert_int_equal(in.rm, X86_RAX);
	assert_true(in.flags & EMU_I_REG);
}

static void test_prefix_lock_rules(void **state)
{
	struct emu_insn in;
	(void)state;
	assert_int_equal(DEC(M64, &in, 0xf0, 0x01, 0x00), 3); /* lock add [rax], eax */
	assert_int_equal(in.op, EMU_OP_LOCKED);
	assert_int_equal(in.lop, EMU_OP_ALU_EG);
	assert_true(in.flags & EMU_I_LOCK);
	DEC(M64, &in, 0xf0, 0x01, 0xc0); /* register destination */
	assert_int_equal(in.op, EMU_OP_UD);
	DEC(M64, &in, 0xf0, 0x39, 0x00); /* lock cmp */
	assert_int_equal(in.op, EMU_OP_UD);
	DEC(M64, &in, 0xf0, 0x89, 0x00); /* lock mov */
	assert_int_equal(in.op, EMU_OP_UD);
	DEC(M64, &in, 0xf0, 0x0f, 0xc7, 0x08); /* lock cmpxchg8b [rax] */
	assert_int_equal(in.op, EMU_OP_LOCKED);
	assert_int_equal(in.lop, EMU_OP_CMPXCHG8B);
	assert_int_equal(in.osize, 8);
	DEC(M64, &in, 0xf0, 0x0f, 0xa3, 0x00); /* lock bt: not lockable */
	assert_int_equal(in.op, EMU_OP_UD);
}

static void test_prefix_segments(void **state)
{
	struct emu_insn in;
	(void)state;
	DEC(M64, &in, 0x2e, 0x8b, 0x00); /* CS override ignored in 64-bit mode */
	assert_int_equal(in.seg, X86_DS);
	DEC(M64, &in, 0x64, 0x8b, 0x00);
	assert_int_equal(in.seg, X86_FS);
	DEC(M64, &in, 0x65, 0x2e, 0x8b, 0x00); /* last effective override wins: GS kept */
	assert_int_equal(in.seg, X86_GS);
	DEC(M32, &in, 0x2e, 0x8b, 0x00);
	assert_int_equal(in.seg, X86_CS);
	DEC(M32, &in, 0x8b, 0x45, 0x08); /* [ebp+8] defaults to SS */
	assert_int_equal(in.seg, X86_SS);
	DEC(M32, &in, 0x3e, 0x8b, 0x45, 0x08);
	assert_int_equal(in.seg, X86_DS);
}

static void test_rex_byte_registers(void **state)
{
	struct emu_insn in;
	(void)state;
	DEC(M64, &in, 0x88, 0xe0); /* mov al, ah */
	assert_int_equal(in.rm, X86_RAX);
	assert_int_equal(in.reg, EMU_REG_AH);
	DEC(M64, &in, 0x40, 0x88, 0xe0); /* mov al, spl */
	assert_int_equal(in.reg, X86_RSP);
	DEC(M64, &in, 0x0f, 0xb6, 0xc7); /* movzx eax, bh */
	assert_int_equal(in.rm, EMU_REG_AH + 3);
	DEC(M64, &in, 0x40, 0x0f, 0xb6, 0xc7); /* movzx eax, dil */
	assert_int_equal(in.rm, X86_RDI);
	DEC(M64, &in, 0x41, 0xb4, 0x12); /* mov r12b, 0x12 */
	assert_int_equal(in.rm, X86_R12);
	assert_int_equal(in.imm, 0x12);
}

static void test_rex_extends_all_fields(void **state)
{
	struct emu_insn in;
	(void)state;
	assert_int_equal(DEC(M64, &in, 0x4f, 0x8b, 0x44, 0x8d, 0x10), 5); /* mov r8,[r13+r9*4+16] */
	assert_int_equal(in.reg, X86_R8);
	assert_int_equal(in.base, X86_R13);
	assert_int_equal(in.index, X86_R9);
	assert_int_equal(in.scale, 2);
	assert_int_equal(in.disp, 16);
	assert_int_equal(in.osize, 8);
	DEC(M64, &in, 0x42, 0x8b, 0x04, 0x20); /* REX.X: index 12 is r12, not "none" */
	assert_int_equal(in.index, X86_R12);
	DEC(M64, &in, 0x41, 0x8b, 0x04, 0x24); /* [r12] needs a SIB */
	assert_int_equal(in.base, X86_R12);
	assert_int_equal(in.index, EMU_REG_NONE);
	assert_int_equal(in.seg, X86_DS);
	DEC(M64, &in, 0x41, 0x50); /* push r8 */
	assert_int_equal(in.op, EMU_OP_PUSH_E);
	assert_int_equal(in.rm, X86_R8);
	assert_int_equal(in.osize, 8);
	DEC(M64, &in, 0x66, 0x50); /* push ax */
	assert_int_equal(in.osize, 2);
	DEC(M64, &in, 0x41, 0x90); /* xchg r8, rax: REX.B makes 90 a real exchange */
	assert_int_equal(in.op, EMU_OP_XCHG);
	DEC(M64, &in, 0x90);
	assert_int_equal(in.op, EMU_OP_NOP);
}

static void test_rip_relative(void **state)
{
	struct emu_insn in;
	(void)state;
	assert_int_equal(DEC(M64, &in, 0x8b, 0x05, 0x78, 0x56, 0x34, 0x12), 6);
	assert_int_equal(in.base, EMU_REG_RIP);
	assert_int_equal(in.disp, 0x12345678);
	DEC(M64, &in, 0x41, 0x8b, 0x05, 0, 0, 0, 0); /* REX.B does not turn it into [r13] */
	assert_int_equal(in.base, EMU_REG_RIP);
	DEC(M64, &in, 0x41, 0x8b, 0x45, 0x00); /* [r13+0] */
	assert_int_equal(in.base, X86_R13);
	DEC(M32, &in, 0x8b, 0x05, 0x78, 0x56, 0x34, 0x12); /* absolute outside 64-bit mode */
	assert_int_equal(in.base, EMU_REG_NONE);
	/* An immediate after the displacement: cmp dword [rip+4], 0x11223344 */
	assert_int_equal(DEC(M64, &in, 0x81, 0x3d, 4, 0, 0, 0, 0x44, 0x33, 0x22, 0x11), 10);
	assert_int_equal(in.imm, 0x11223344);
	DEC(M64, &in, 0x67, 0x8b, 0x05, 0, 0, 0, 0); /* [eip+0] */
	assert_int_equal(in.base, EMU_REG_RIP);
	assert_int_equal(in.asize, 4);
}

static void test_sib_no_base(void **state)
{
	struct emu_insn in;
	(void)state;
	assert_int_equal(DEC(M64, &in, 0x8b, 0x04, 0x25, 0x00, 0x10, 0x00, 0x00), 7);
	assert_int_equal(in.base, EMU_REG_NONE);
	assert_int_equal(in.index, EMU_REG_NONE);
	assert_int_equal(in.disp, 0x1000);
	DEC(M64, &in, 0x8b, 0x04, 0x8d, 0xf0, 0xff, 0xff, 0xff); /* [rcx*4 - 16] */
	assert_int_equal(in.base, EMU_REG_NONE);
	assert_int_equal(in.index, X86_RCX);
	assert_int_equal(in.scale, 2);
	assert_int_equal(in.disp, -16);
	DEC(M64, &in, 0x8b, 0x44, 0x25, 0x08); /* mod=1 base=5: [rbp+8], SS */
	assert_int_equal(in.base, X86_RBP);
	assert_int_equal(in.seg, X86_SS);
	DEC(M64, &in, 0x8b, 0x04, 0x24); /* [rsp] */
	assert_int_equal(in.base, X86_RSP);
	assert_int_equal(in.seg, X86_SS);
}

static void test_addressing_16bit(void **state)
{
	struct emu_insn in;
	(void)state;
	assert_int_equal(DEC(M16, &in, 0x8b, 0x00), 2); /* mov ax, [bx+si] */
	assert_int_equal(in.osize, 2);
	assert_int_equal(in.asize, 2);
	assert_int_equal(in.base, X86_RBX);
	assert_int_equal(in.index, X86_RSI);
	DEC(M16, &in, 0x8b, 0x46, 0xfe); /* [bp-2] */
	assert_int_equal(in.base, X86_RBP);
	assert_int_equal(in.seg, X86_SS);
	assert_int_equal(in.disp, -2);
	assert_int_equal(DEC(M16, &in, 0x8b, 0x06, 0x34, 0x12), 4); /* [0x1234] */
	assert_int_equal(in.base, EMU_REG_NONE);
	assert_int_equal(in.disp, 0x1234);
	assert_int_equal(DEC(M16, &in, 0x67, 0x66, 0x8b, 0x44, 0x24, 0x04), 6); /* 32-bit forms */
	assert_int_equal(in.asize, 4);
	assert_int_equal(in.osize, 4);
	assert_int_equal(in.base, X86_RSP);
	DEC(M32, &in, 0x40); /* inc eax outside 64-bit mode */
	assert_int_equal(in.op, EMU_OP_INC);
	assert_int_equal(in.osize, 4);
}

static void test_immediates(void **state)
{
	struct emu_insn in;
	(void)state;
	assert_int_equal(DEC(M64, &in, 0x48, 0xb8, 1, 2, 3, 4, 5, 6, 7, 8), 10);
	assert_int_equal(in.imm, 0x0807060504030201ull);
	assert_int_equal(DEC(M64, &in, 0x48, 0xc7, 0xc0, 0xff, 0xff, 0xff, 0xff), 7);
	assert_int_equal(in.imm, ~0ull);
	assert_int_equal(DEC(M64, &in, 0x66, 0xb8, 0x34, 0x12), 4);
	assert_int_equal(in.imm, 0x1234);
	DEC(M64, &in, 0x6a, 0xff);
	assert_int_equal(in.op, EMU_OP_PUSH_I);
	assert_int_equal(in.osize, 8);
	assert_int_equal(in.imm, ~0ull);
	assert_int_equal(DEC(M64, &in, 0xc8, 0x10, 0x00, 0x02), 4);
	assert_int_equal(in.imm, 16);
	assert_int_equal(in.imm2, 2);
	assert_int_equal(DEC(M64, &in, 0xa1, 1, 2, 3, 4, 5, 6, 7, 8), 9); /* moffs64 */
	assert_int_equal(DEC(M64, &in, 0x67, 0xa1, 1, 2, 3, 4), 6);	  /* moffs32 */
	assert_int_equal(DEC(M64, &in, 0x66, 0xe8, 1, 0, 0, 0), 6);	  /* call: 64-bit, rel32 */
	assert_int_equal(in.osize, 8);
	assert_int_equal(DEC(M32, &in, 0x66, 0xe8, 1, 0), 4); /* rel16 in 32-bit code */
	assert_int_equal(DEC(M64, &in, 0xc1, 0xe0, 0x05), 3);
	assert_int_equal(in.op, EMU_OP_SHIFT);
	assert_int_equal(in.sub, EMU_SH_SHL);
	assert_int_equal(in.imm, 5);
	DEC(M64, &in, 0xd3, 0xf8);
	assert_int_equal(in.sub, EMU_SH_SAR);
	assert_true(in.flags & EMU_I_CL);
	assert_int_equal(DEC(M64, &in, 0xf6, 0xc3, 0x80), 3); /* test bl, imm8: group 3 /0 */
	assert_int_equal(in.op, EMU_OP_TEST_EI);
	assert_int_equal(DEC(M64, &in, 0xf7, 0xd8), 2); /* neg eax: no immediate */
	assert_int_equal(in.op, EMU_OP_NEG);
}

static void test_maps_and_mandatory_prefixes(void **state)
{
	struct emu_insn in;
	(void)state;
	assert_int_equal(DEC(M64, &in, 0x0f, 0x1f, 0x44, 0x00, 0x00), 5);
	assert_int_equal(in.op, EMU_OP_NOP);
	DEC(M64, &in, 0xf3, 0x0f, 0xb8, 0xc1);
	assert_int_equal(in.op, EMU_OP_POPCNT);
	DEC(M64, &in, 0x0f, 0xb8, 0xc1);
	assert_int_equal(in.op, EMU_OP_UD);
	DEC(M64, &in, 0xf3, 0x0f, 0xbc, 0xc1);
	assert_int_equal(in.op, EMU_OP_TZCNT);
	DEC(M64, &in, 0x0f, 0xbd, 0xc1);
	assert_int_equal(in.op, EMU_OP_BSR);
	assert_int_equal(DEC(M64, &in, 0x0f, 0x38, 0xf0, 0x00), 4);
	assert_int_equal(in.op, EMU_OP_MOVBE_GE);
	DEC(M64, &in, 0x0f, 0x38, 0xf0, 0xc0); /* MOVBE needs memory */
	assert_int_equal(in.op, EMU_OP_UD);
	DEC(M64, &in, 0x66, 0x0f, 0x38, 0xf6, 0xc1);
	assert_int_equal(in.op, EMU_OP_ADCX);
	DEC(M64, &in, 0xf3, 0x0f, 0x38, 0xf6, 0xc1);
	assert_int_equal(in.op, EMU_OP_ADOX);
	assert_int_equal(DEC(M64, &in, 0x0f, 0x3a, 0x0f, 0xc1, 0x08), 5); /* palignr: length */
	assert_int_equal(in.op, EMU_OP_SSE);
	assert_int_equal(in.imm2, 0x40f); /* map 4 (0F 3A), opcode 0F */
	assert_int_equal(DEC(M64, &in, 0x66, 0x0f, 0x6f, 0x40, 0x10), 5); /* movdqa */
	assert_int_equal(in.op, EMU_OP_SSE);
	assert_int_equal(in.sub, 1);			      /* mandatory 66 */
	assert_int_equal(DEC(M64, &in, 0xd9, 0x45, 0x08), 3); /* x87: fld dword [rbp+8] */
	assert_int_equal(in.op, EMU_OP_X87);
	DEC(M64, &in, 0x0f, 0x0b);
	assert_int_equal(in.op, EMU_OP_UD);
	assert_int_equal(DEC(M64, &in, 0x06), EMU_DEC_UD); /* push es: invalid in 64-bit mode */
	DEC(M32, &in, 0x06);
	assert_int_equal(in.op, EMU_OP_PUSH_SEG);
	DEC(M64, &in, 0x48, 0x0f, 0xc7, 0x08);
	assert_int_equal(in.op, EMU_OP_CMPXCHG8B);
	assert_int_equal(in.osize, 16);
	DEC(M64, &in, 0xff, 0xe0);
	assert_int_equal(in.op, EMU_OP_JMP_E);
	assert_int_equal(in.osize, 8);
	assert_true(in.flags & EMU_I_END);
	DEC(M64, &in, 0xfe, 0x10); /* group 4 /2 */
	assert_int_equal(in.op, EMU_OP_UD);
	DEC(M64, &in, 0xf3, 0x48, 0xa5);
	assert_int_equal(in.op, EMU_OP_MOVS);
	assert_int_equal(in.osize, 8);
	assert_true(in.flags & EMU_I_REP);
	DEC(M64, &in, 0xf2, 0xae);
	assert_true(in.flags & EMU_I_REPNE);
	DEC(M64, &in, 0xf3, 0x01, 0xc0); /* F3 on a non-string op is ignored */
	assert_false(in.flags & (EMU_I_REP | EMU_I_REPNE));
}

static void test_length_limit(void **state)
{
	uint8_t b[20];
	struct emu_insn in;
	(void)state;
	memset(b, 0x66, sizeof(b));
	b[14] = 0x90; /* 14 prefixes + NOP = 15 bytes: valid */
	assert_int_equal(emu_decode(b, sizeof(b), M64, &in), 15);
	memset(b, 0x66, sizeof(b));
	b[15] = 0x90; /* 16 bytes */
	assert_int_equal(emu_decode(b, sizeof(b), M64, &in), EMU_DEC_GP);
	/* A long instruction pushed past 15 by prefixes: 4 prefixes + 12-byte mov */
	static const uint8_t lng[] = {0x2e, 0x2e, 0x2e, 0x2e, 0x48, 0xc7, 0x84, 0x88,
				      1,    2,	  3,	4,    5,    6,	  7,	8};
	assert_int_equal(emu_decode(lng, sizeof(lng), M64, &in), EMU_DEC_GP);
	assert_int_equal(emu_decode(lng + 1, sizeof(lng) - 1, M64, &in), 15);
	/* Truncated input asks for more bytes. */
	assert_int_equal(emu_decode(lng + 1, 9, M64, &in), EMU_DEC_MORE);
	assert_int_equal(emu_decode(b, 3, M64, &in), EMU_DEC_MORE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_prefix_rex_w_wins_over_66),
	    cmocka_unit_test(test_prefix_rex_before_legacy_is_ignored),
	    cmocka_unit_test(test_prefix_lock_rules),
	    cmocka_unit_test(test_prefix_segments),
	    cmocka_unit_test(test_rex_byte_registers),
	    cmocka_unit_test(test_rex_extends_all_fields),
	    cmocka_unit_test(test_rip_relative),
	    cmocka_unit_test(test_sib_no_base),
	    cmocka_unit_test(test_addressing_16bit),
	    cmocka_unit_test(test_immediates),
	    cmocka_unit_test(test_maps_and_mandatory_prefixes),
	    cmocka_unit_test(test_length_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
