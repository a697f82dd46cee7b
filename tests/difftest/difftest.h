/* Differential test of the emu CPU core against the host CPU (x86-64 hosts only).
 * Random instruction sequences run natively (in an mmap'd code page between a prologue that
 * loads registers and flags and an epilogue that stores them) and in emu (64-bit mode,
 * identity-mapped memory); registers, flags and scratch memory are compared. */
#ifndef VMON_TESTS_DIFFTEST_H
#define VMON_TESTS_DIFFTEST_H

#include <stdint.h>

/* Fixed layout (all below 2 GiB so that disp32 absolute addressing reaches it). */
#define DT_REGION 0x20000000ull
#define DT_CODE DT_REGION /* prologue + sequence + epilogue */
#define DT_CODE_SIZE 0x4000ull
#define DT_DATA (DT_REGION + 0x10000ull) /* scratch data */
#define DT_DATA_SIZE 0x2000ull
#define DT_STACK (DT_DATA + DT_DATA_SIZE) /* stack area, directly after data */
#define DT_STACK_SIZE 0x1000ull
#define DT_MEM_SIZE (DT_DATA_SIZE + DT_STACK_SIZE) /* compared bytes from DT_DATA */
#define DT_STACK_TOP (DT_STACK + 0xc00ull)
#define DT_CTX (DT_REGION + 0x20000ull)
#define DT_REGION_SIZE 0x21000ull

/* Register roles during a sequence. R12/R13 are memory bases, R14 an index; never written. */
#define DT_BASE1 12
#define DT_BASE2 13
#define DT_INDEX 14
#define DT_BASE1_VAL (DT_DATA + 0x800ull)
#define DT_BASE2_VAL (DT_DATA + 0x1000ull)

#define DT_FLAGS_CMP 0xcd5u /* OF DF SF ZF AF PF CF */

struct dt_regs {
	uint64_t gpr[16];
	uint64_t rflags;
	uint8_t fx[512] __attribute__((aligned(16))); /* FXSAVE64 image (x87, MMX, SSE) */
};

/* Native context at DT_CTX, used by the prologue and epilogue code. */
struct dt_ctx {
	uint64_t host_rsp;
	uint64_t flags_in;
	uint64_t in[16];
	uint64_t out[16];
	uint64_t flags_out;
	uint64_t pad;
	uint8_t fx_in[512] __attribute__((aligned(16)));  /* FXRSTOR64'd by the prologue */
	uint8_t fx_out[512] __attribute__((aligned(16))); /* FXSAVE64'd by the epilogue */
	uint8_t fx_host[512] __attribute__((aligned(16)));
};

#define DT_MAX_INSNS 64
#define DT_SEQ_MAX 2048

struct dt_seq {
	uint8_t code[DT_SEQ_MAX];
	unsigned len;
	unsigned ninsn;
	uint16_t insn_off[DT_MAX_INSNS * 4];   /* start offsets of emitted instructions */
	uint32_t insn_undef[DT_MAX_INSNS * 4]; /* flags undefined before each (a fault there) */
	uint32_t undef;			       /* flags undefined at the end (masked in compare) */
	uint64_t groups;		       /* bit per generator group used */
};

enum dt_group {
	G_ALU,
	G_ALUI,
	G_TEST,
	G_MOV,
	G_MOVX,
	G_LEA,
	G_XCHG,
	G_INCDEC,
	G_NEGNOT,
	G_MUL,
	G_IMUL,
	G_DIV,
	G_SHIFT,
	G_SHXD,
	G_BT,
	G_BSCAN,
	G_BSWAP,
	G_CBW,
	G_SETCC,
	G_CMOV,
	G_JCC,
	G_JMP,
	G_CALL,
	G_LOOP,
	G_PUSH,
	G_PUSHF,
	G_ENTER,
	G_STRING,
	G_CMPXCHG,
	G_XADD,
	G_MOVBE,
	G_FLAGOP,
	G_NOP,
	G_XLAT,
	G_ADX,
	G_PREFIX,
	G_SSEMOV, /* SIMD and x87 groups (gen_sse.c, gen_x87.c): keep G_SSEMOV..G_X87 together */
	G_SSEINT,
	G_SSEFP,
	G_SSECVT,
	G_MMX,
	G_SSSE3,
	G_SSE41,
	G_SSE42,
	G_FXSR,
	G_X87,
	G_NGROUPS
};

extern const char *const dt_group_names[G_NGROUPS];

struct dt_gen_opts {
	uint64_t only; /* group mask (0: all) */
	int strict;    /* do not track undefined flags (report every difference) */
	int faults;    /* allow faulting items (#DE, #UD, #GP) */
};

/* Generate one sequence into s (code to be placed at code_addr) with initial registers r and
 * the initial data memory mem (DT_MEM_SIZE bytes). rng is the generator state. */
void dt_gen(uint64_t *rng, const struct dt_gen_opts *o, uint64_t code_addr, struct dt_seq *s,
	    struct dt_regs *r, uint8_t *mem);

/* Native runner. dt_native_init maps the region; dt_native_run runs the code at DT_CODE (the
 * caller placed prologue + sequence + epilogue there). Returns 0, or the trap number + 1 of a
 * fault (then *fault_rip is set and regs hold the state at the fault). */
int dt_native_init(void);
unsigned dt_prologue(uint8_t *p);
unsigned dt_epilogue(uint8_t *p);
int dt_native_run(struct dt_regs *regs, uint64_t *fault_rip);

uint64_t dt_rand(uint64_t *s);

/* Single-step the code natively (TF) and record the state before each instruction whose
 * address is in [start, end). Returns the number of steps recorded. */
struct dt_step {
	struct dt_regs regs;
	uint64_t rip;
};
int dt_native_trace(struct dt_regs *regs, uint64_t start, uint64_t end, struct dt_step *steps,
		    int max);

#endif
