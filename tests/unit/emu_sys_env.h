/* A small 64-bit machine for the emu system-level unit tests (test_emu_sys.c, test_emu_msr.c,
 * test_emu_lock.c, test_emu_robust.c): 4 MiB of RAM at guest-physical 0, identity-mapped by 4-level
 * page tables (4 KiB pages below 2 MiB, one 2 MiB page above), a GDT with kernel and user segments
 * and a 64-bit TSS, and an IDT whose handler for vector v is at HANDLER(v) (a HLT unless a test
 * puts code there); cmocka setup/teardown functions that make one per test. */
#ifndef VMON_TESTS_EMU_SYS_ENV_H
#define VMON_TESTS_EMU_SYS_ENV_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "accel/emu/cpu.h"

#define ENV_RAM (4u << 20)
#define PML4 0x1000u
#define PDPT 0x2000u
#define PD 0x3000u
#define PT0 0x4000u
#define GDT 0x5000u
#define IDT 0x6000u
#define TSS 0x7000u
#define HANDLERS 0x8000u
#define HANDLER(v) (HANDLERS + (v)*16u)
#define SCRATCH 0x9000u /* handlers store here */
#define CODE 0x10000u
#define USER_CODE 0x11000u
#define KSTACK 0x20000u
#define USTACK 0x30000u
#define RSP0 0x3f000u
#define DATA 0x50000u

#define SEL_KCODE 0x10
#define SEL_KDATA 0x18
#define SEL_UDATA 0x23
#define SEL_UCODE 0x2b
#define SEL_TSS 0x30

#define PTE_P 0x1ull
#define PTE_W 0x2ull
#define PTE_U 0x4ull
#define PTE_PS 0x80ull
#define PTE_NX (1ull << 63)

struct env {
	uint8_t *ram; /* ENV_RAM bytes; may be shared by several envs (threads test) */
	struct emu_cpu cpu;
	unsigned mmio_reads, mmio_writes;
	/* MSR callbacks: the last forwarded access and the value reads return */
	uint32_t last_msr;
	uint64_t last_msr_val, msr_read_val;
	unsigned msr_calls;
	uint64_t tsc;
	/* TPR callbacks (tests that install them): the fake TPR and the writes to it */
	uint8_t tpr;
	unsigned tpr_writes;
	int stop_on_tpr; /* set_tpr requests a stop, as the VMM's kick does */
};

static inline uint8_t *env_ram(void *ctx, uint64_t gpa, int write)
{
	struct env *e = ctx;
	(void)write;
	return gpa < ENV_RAM ? e->ram + gpa : NULL;
}

static inline uint64_t env_mmio_read(void *ctx, uint64_t gpa, unsigned size)
{
	struct env *e = ctx;
	(void)gpa, (void)size;
	e->mmio_reads++;
	return 0x5a5a5a5a5a5a5a5aull;
}

static inline void env_mmio_write(void *ctx, uint64_t gpa, unsigned size, uint64_t val)
{
	struct env *e = ctx;
	(void)gpa, (void)size, (void)val;
	e->mmio_writes++;
}

static inline uint32_t env_in(void *ctx, uint16_t port, unsigned size)
{
	(void)ctx, (void)port, (void)size;
	return ~0u;
}

static inline void env_out(void *ctx, uint16_t port, unsigned size, uint32_t val)
{
	(void)ctx, (void)port, (void)size, (void)val;
}

/* The VMM's MSRs: the LAPIC ones (0x1b, 0x6e0, 0x800-0x8ff) succeed, others #GP. */
static inline int env_lapic_msr(uint32_t msr)
{
	return msr == 0x1b || msr == 0x6e0 || (msr >= 0x800 && msr <= 0x8ff);
}

static inline int env_rdmsr(void *ctx, uint32_t msr, uint64_t *val)
{
	struct env *e = ctx;
	e->msr_calls++;
	e->last_msr = msr;
	*val = e->msr_read_val;
	return env_lapic_msr(msr) ? 0 : -1;
}

static inline int env_wrmsr(void *ctx, uint32_t msr, uint64_t val)
{
	struct env *e = ctx;
	e->msr_calls++;
	e->last_msr = msr;
	e->last_msr_val = val;
	return env_lapic_msr(msr) ? 0 : -1;
}

static inline uint64_t env_rdtsc(void *ctx)
{
	return ((struct env *)ctx)->tsc;
}

static inline int env_rdrand(void *ctx, uint64_t *val)
{
	(void)ctx;
	*val = 0x0123456789abcdefull;
	return 0;
}

static const struct emu_mem_ops env_ops = {env_ram, env_mmio_read, env_mmio_write,
					   env_in,  env_out,	   NULL};
static const struct emu_sys_ops env_sys = {
    .rdtsc = env_rdtsc, .rdmsr = env_rdmsr, .wrmsr = env_wrmsr, .rdrand = env_rdrand};

static inline void put64(struct env *e, uint64_t gpa, uint64_t v)
{
	memcpy(e->ram + gpa, &v, 8);
}

static inline uint64_t get64(const struct env *e, uint64_t gpa)
{
	uint64_t v;
	memcpy(&v, e->ram + gpa, 8);
	return v;
}

static inline uint32_t get32(const struct env *e, uint64_t gpa)
{
	uint32_t v;
	memcpy(&v, e->ram + gpa, 4);
	return v;
}

/* Page-table entry of the 4 KiB page at gpa (below 2 MiB). */
static inline void env_set_pte(struct env *e, uint64_t gpa, uint64_t flags_and_addr)
{
	put64(e, PT0 + (gpa >> 12) * 8, flags_and_addr);
	emu_tlb_flush(&e->cpu);
}

static inline void env_set_gate(struct env *e, unsigned vec, uint64_t off, unsigned dpl,
				unsigned present)
{
	uint64_t lo = (off & 0xffff) | ((uint64_t)SEL_KCODE << 16) | (0xeull << 40) |
		      ((uint64_t)dpl << 45) | ((uint64_t)present << 47) |
		      (((off >> 16) & 0xffff) << 48);
	put64(e, IDT + vec * 16, lo);
	put64(e, IDT + vec * 16 + 8, off >> 32);
}

/* Build the machine in e->ram (allocated unless shared_ram is given). */
static inline int env_init(struct env *e, uint8_t *shared_ram)
{
	memset(e, 0, sizeof(*e));
	e->ram = shared_ram ? shared_ram : calloc(1, ENV_RAM);
	if (!e->ram || emu_cpu_init(&e->cpu, &env_ops, e))
		return -1;
	emu_cpu_set_sys_ops(&e->cpu, &env_sys);
	if (shared_ram)
		return 0;
	put64(e, PML4, PDPT | PTE_P | PTE_W | PTE_U);
	put64(e, PDPT, PD | PTE_P | PTE_W | PTE_U);
	put64(e, PD, PT0 | PTE_P | PTE_W | PTE_U);
	put64(e, PD + 8, (2u << 20) | PTE_P | PTE_W | PTE_U | PTE_PS);
	for (uint64_t i = 0; i < 512; i++)
		put64(e, PT0 + i * 8, (i << 12) | PTE_P | PTE_W | PTE_U);
	static const uint64_t gdt[] = {
	    0, 0, 0x00af9b000000ffffull, /* 0x10 kernel code, 64-bit */
	    0x00cf93000000ffffull,	 /* 0x18 kernel data */
	    0x00cff3000000ffffull,	 /* 0x20 user data (DPL 3) */
	    0x00affb000000ffffull,	 /* 0x28 user code, 64-bit */
	    /* 0x30: 64-bit TSS at TSS, limit 0x67, busy */
	    0x0000000000000067ull | ((uint64_t)TSS << 16) | (0x8bull << 40), 0};
	memcpy(e->ram + GDT, gdt, sizeof(gdt));
	put64(e, TSS + 4, RSP0);
	for (unsigned v = 0; v < 256; v++) {
		env_set_gate(e, v, HANDLER(v), v == 0x80 || v == 3 ? 3 : 0, 1);
		e->ram[HANDLER(v)] = 0xf4; /* hlt */
	}
	return 0;
}

static inline void env_destroy(struct env *e, int free_ram)
{
	emu_cpu_destroy(&e->cpu);
	if (free_ram)
		free(e->ram);
}

/* cmocka setup: a calloc'd env with its own RAM in *state, in exc_exit mode (exceptions are
 * EMU_EXIT_EXCEPTION exits, not deliveries through the IDT) when exc_exit is set. -1 when the
 * env cannot be made. */
static inline int env_setup_mode(void **state, int exc_exit)
{
	struct env *e = calloc(1, sizeof(*e));
	if (!e || env_init(e, NULL)) {
		free(e);
		return -1;
	}
	e->cpu.exc_exit = exc_exit;
	*state = e;
	return 0;
}

static inline int env_setup(void **state)
{
	return env_setup_mode(state, 0);
}

static inline int env_setup_exc_exit(void **state)
{
	return env_setup_mode(state, 1);
}

/* cmocka teardown for env_setup and env_setup_exc_exit. */
static inline int env_teardown(void **state)
{
	struct env *e = *state;
	env_destroy(e, 1);
	free(e);
	return 0;
}

/* 64-bit kernel state at rip: paging on, CR0.WP, EFER.NXE|SCE, IDT/GDT/TSS loaded, IF=0. */
static inline void env_state(struct env *e, struct x86_cpu_state *st, uint64_t rip)
{
	(void)e;
	x86_state_long64(st, rip, PML4, GDT, 8 * 8 - 1);
	st->cr0 |= X86_CR0_WP | X86_CR0_NE | X86_CR0_MP;
	st->cr4 |= X86_CR4_PGE | X86_CR4_OSFXSR | X86_CR4_OSXMMEXCPT;
	st->efer |= X86_EFER_NXE | X86_EFER_SCE;
	st->idt.base = IDT;
	st->idt.limit = 256 * 16 - 1;
	st->tr = (struct x86_segment){
	    .base = TSS, .limit = 0x67, .selector = SEL_TSS, .type = 11, .present = 1};
	st->gpr[X86_RSP] = KSTACK;
}

/* Switch st to CPL 3 (user code and stack selectors). */
static inline void env_user(struct x86_cpu_state *st, uint64_t rip, uint64_t rsp)
{
	st->seg[X86_CS].selector = SEL_UCODE;
	st->seg[X86_CS].dpl = 3;
	st->seg[X86_SS].selector = SEL_UDATA;
	st->seg[X86_SS].dpl = 3;
	st->rip = rip;
	st->gpr[X86_RSP] = rsp;
}

/* Copy code to gpa (dropping stale decoded blocks). */
static inline void env_code(struct env *e, uint64_t gpa, const uint8_t *code, size_t len)
{
	memcpy(e->ram + gpa, code, len);
	emu_invalidate_phys(&e->cpu, gpa, len);
}

#define CODE_AT(e, gpa, ...)                                                                       \
	do {                                                                                       \
		static const uint8_t c_[] = {__VA_ARGS__};                                         \
		env_code((e), (gpa), c_, sizeof(c_));                                              \
	} while (0)

/* Load st and run up to 100000 instructions. */
static inline int run_st(struct env *e, const struct x86_cpu_state *st)
{
	emu_cpu_set_state(&e->cpu, st);
	return emu_run(&e->cpu, 100000);
}

/* Kernel state at CODE with the given registers (NULL: zeros), then run. */
static inline int run_k(struct env *e, const uint64_t *regs)
{
	struct x86_cpu_state st;
	env_state(e, &st, CODE);
	if (regs)
		for (int i = 0; i < 16; i++)
			if (i != X86_RSP)
				st.gpr[i] = regs[i];
	return run_st(e, &st);
}

static inline uint64_t rsp(struct env *e)
{
	return e->cpu.st.gpr[X86_RSP];
}

/* The n-th 8-byte slot of the handler's stack. */
static inline uint64_t stk(struct env *e, unsigned n)
{
	return get64(e, rsp(e) + 8 * n);
}

#endif
