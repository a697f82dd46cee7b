/* emu: vmon's portable x86 CPU emulator (interpreter + software MMU). Public interface.
 *
 * A struct emu_cpu wraps the shared architectural state (struct x86_cpu_state) with emulator
 * private state: lazy arithmetic flags, a cached execution mode, a software TLB mapping guest
 * linear pages to host pointers, and a cache of decoded instruction blocks keyed by guest
 * physical address. Guest memory and I/O are reached only through struct emu_mem_ops, so the
 * core is independent of the VMM (the accel glue implements the callbacks on core/gmem and
 * core/bus).
 *
 * Threading: one emu_cpu is used by one thread at a time. Callbacks run on that thread.
 * The code is portable C11 (GCC/Clang builtins only); it assumes a little-endian host. */
#ifndef VMON_ACCEL_EMU_CPU_H
#define VMON_ACCEL_EMU_CPU_H

#include <setjmp.h>
#include <stdint.h>

#include "accel/emu/decode.h"
#include "arch/x86/cpu_state.h"

/* Memory and I/O callbacks. ctx is passed back unchanged.
 *
 * ram_ptr: host pointer to the byte at guest-physical gpa when gpa is RAM, else NULL (MMIO or
 * unmapped). The pointer must stay valid for the whole 4 KiB guest page containing gpa until the
 * emulator's TLB is flushed (emu_tlb_flush). write=1 announces that the emulator may store through
 * the pointer until then; a callback that tracks dirty pages marks the page on that call, and the
 * VMM calls emu_tlb_flush after clearing dirty bits so the next write calls back again.
 *
 * mmio_read/mmio_write: an access of size 1, 2, 4 or 8 bytes to a non-RAM address, little-endian
 * value in the low bytes. Accesses crossing a page boundary are split into bytes.
 *
 * pio_in/pio_out: port I/O of size 1, 2 or 4.
 *
 * code_page (optional, may be NULL): the decode cache started holding code from guest-physical
 * page (4 KiB aligned). A VMM with several vCPUs records it, so that a write to the page by the
 * VMM or another vCPU can drop the decoded code (emu_invalidate_phys) before it runs again. */
struct emu_mem_ops {
	uint8_t *(*ram_ptr)(void *ctx, uint64_t gpa, int write);
	uint64_t (*mmio_read)(void *ctx, uint64_t gpa, unsigned size);
	void (*mmio_write)(void *ctx, uint64_t gpa, unsigned size, uint64_t val);
	uint32_t (*pio_in)(void *ctx, uint16_t port, unsigned size);
	void (*pio_out)(void *ctx, uint16_t port, unsigned size, uint32_t val);
	void (*code_page)(void *ctx, uint64_t page);
};

/* Why emu_run/emu_step returned. */
enum emu_exit {
	EMU_EXIT_NONE = 0,     /* emu_step only: one instruction completed */
	EMU_EXIT_HLT,	       /* HLT executed; rip points after it */
	EMU_EXIT_LIMIT,	       /* max_insns instructions retired */
	EMU_EXIT_EXCEPTION,    /* exc_exit set: exception not delivered (exit.vector/error_code) */
	EMU_EXIT_UNIMPL,       /* unimplemented instruction: exit.bytes/len; rip points at it */
	EMU_EXIT_STOP,	       /* emu_request_stop was called */
	EMU_EXIT_TRIPLE_FAULT, /* shutdown: an exception while delivering #DF (VMM: reset) */
};

/* System callbacks (CPUID, TSC, MSRs the VMM owns, entropy). Any may be NULL; ctx is the one
 * given to emu_cpu_init.
 *
 * cpuid: regs[0] = EAX (leaf) and regs[2] = ECX (subleaf) on entry; EAX EBX ECX EDX on return.
 *   NULL: every leaf reads as zeros.
 * rdtsc: the guest TSC before emu's offset (WRMSR to IA32_TSC adjusts an offset kept in emu).
 *   NULL: a counter of retired instructions.
 * rdmsr/wrmsr: MSRs emu forwards (IA32_APIC_BASE 0x1b, x2APIC 0x800-0x8ff, TSC_DEADLINE 0x6e0,
 *   and any MSR emu does not know). Return 0 on success, -1 to raise #GP(0).
 * rdrand: fill *val with random bits; return 0, or -1 for "no entropy now" (RDRAND then clears
 *   CF). NULL: RDRAND always reports failure (CF=0), which guests must tolerate.
 * get_tpr/set_tpr: the local APIC's task-priority register (bits 7:0), which CR8 aliases (SDM
 *   vol. 3 "Task Priority in IA-32e Mode": CR8[3:0] = TPR[7:4]). MOV from CR8 reads
 *   get_tpr() >> 4; MOV to CR8 calls set_tpr(cr8 << 4) (TPR[3:0] cleared) and ends the block,
 *   so that an interrupt the lower priority unmasks is taken at the next instruction boundary
 *   when the VMM kicks (emu_request_stop) from set_tpr. emu_cpu_get_state reports CR8 from
 *   get_tpr. Only used when both are set; otherwise CR8 is kept in st.cr8 (no LAPIC). */
struct emu_sys_ops {
	void (*cpuid)(void *ctx, uint32_t regs[4]);
	uint64_t (*rdtsc)(void *ctx);
	int (*rdmsr)(void *ctx, uint32_t msr, uint64_t *val);
	int (*wrmsr)(void *ctx, uint32_t msr, uint64_t val);
	int (*rdrand)(void *ctx, uint64_t *val);
	uint8_t (*get_tpr)(void *ctx);
	void (*set_tpr)(void *ctx, uint8_t tpr);
};

/* MSRs emu keeps itself (saved to and restored from x86_cpu_state.msrs by get/set_state). */
struct emu_msrs {
	uint64_t star, lstar, cstar, sfmask, kernel_gs_base;
	uint64_t sysenter_cs, sysenter_esp, sysenter_eip;
	uint64_t pat, tsc_aux, misc_enable, tsc_offset;
	uint64_t spec_ctrl; /* IA32_SPEC_CTRL: kept, no effect (nothing speculates) */
	uint64_t mtrr_cap, mtrr_def, mtrr_fix[11], mtrr_var[16];
};

/* Lazy flags: which operation last defined the arithmetic flags (see flags.c). */
enum emu_cc_op {
	EMU_CC_EAGER = 0, /* OF SF ZF AF PF CF are valid in st.rflags */
	EMU_CC_ADD,
	EMU_CC_ADC,
	EMU_CC_SUB,
	EMU_CC_SBB,
	EMU_CC_LOGIC,
	EMU_CC_INC,
	EMU_CC_DEC,
	EMU_CC_SHIFT, /* SHL/SHR/SAR: CF in cf, OF in src1, AF clear; SF ZF PF from res */
};

struct emu_insn;

struct emu_lazy_flags {
	uint64_t res, src1, src2; /* zero-extended to 64 bits */
	uint8_t op;		  /* enum emu_cc_op */
	uint8_t size;		  /* operand size in bytes */
	uint8_t cf;		  /* carry in (ADC/SBB) or preserved CF (INC/DEC) */
};

#define EMU_TLB_BITS 10
#define EMU_TLB_SIZE (1u << EMU_TLB_BITS)
#define EMU_TLB_INVALID 1ull /* a tag that never matches a page-aligned address */

/* One software TLB entry: a linear page (tag) and the host address delta for it. Separate tags
 * for read, write and fetch so that pages holding decoded code can be read but not written fast. */
struct emu_tlb_entry {
	uint64_t tag_r, tag_w, tag_x; /* linear page | EMU_TLB_USER when filled at CPL 3 */
	uintptr_t addend;	      /* host = linear + addend */
	uint64_t gpa;		      /* guest-physical page */
	uint64_t lmask;		      /* ~(size - 1) of the guest page that mapped it (INVLPG) */
	uint32_t global;	      /* from a global translation (kept across CR3 writes) */
	uint32_t pad;
};

/* Tag bit of entries filled at CPL 3: a user access never hits an entry whose permissions
 * were checked for the supervisor, and vice versa, without flushing on privilege changes. */
#define EMU_TLB_USER 2ull

enum emu_mode { EMU_MODE_16 = 0, EMU_MODE_32 = 1, EMU_MODE_64 = 2 };

struct emu_icache;

struct emu_exit_info {
	uint32_t reason; /* enum emu_exit */
	uint8_t vector;	 /* EXCEPTION */
	uint8_t has_error;
	uint32_t error_code;
	uint8_t len; /* UNIMPL: instruction bytes (as far as decoded) */
	uint8_t bytes[15];
};

struct emu_cpu {
	struct x86_cpu_state st; /* arithmetic flags in st.rflags are stale unless cc.op==EAGER */
	struct emu_lazy_flags cc;

	/* Mode cache, recomputed by emu_cpu_update_mode from CS, CR0, EFER. */
	uint8_t mode;	    /* enum emu_mode: default code size */
	uint8_t stack_size; /* 2, 4 or 8 */
	uint8_t flat;	    /* segment bases 0 and no limit checks needed (64-bit mode) */
	uint8_t cpl;
	uint64_t ip_mask;     /* 0xffff, 0xffffffff or ~0 */
	uint64_t lin_mask;    /* 0xffffffff outside long mode, else ~0 */
	uint64_t seg_base[6]; /* effective bases (ES/CS/SS/DS read as 0 in 64-bit mode) */

	/* Per-instruction scratch used by the interpreter. */
	uint64_t next_rip;
	uint64_t icount_left; /* charged a whole block ahead while one runs (see blk_end) */
	/* The running block (blk_end NULL outside one): its instructions, the RIP of its first, and
	 * its end. Those from the one at st.rip on are charged to icount_left but have not retired
	 * (emu_icount_left). */
	const struct emu_insn *blk_start, *blk_end;
	uint64_t blk_rip;
	uint8_t stop_block; /* leave the current block after this instruction */
	uint8_t stop_req;

	/* Events checked at block boundaries: nonzero when an interrupt/NMI is pending, an
	 * interrupt shadow is active or a stop was requested (see exec_int.c). */
	uint32_t events;
	uint8_t nmi_pending;
	uint8_t irq_window;  /* emu_cpu_request_interrupt_window: stop when the window opens */
	uint8_t delivering;  /* vector + 1 of the exception being delivered (double faults) */
	uint8_t walk_global; /* the last successful page walk mapped a global page */
	uint8_t walk_large;  /* ... a large page: log2 of its size minus 12 (0: 4 KiB) */
	uint64_t tlb_user;   /* EMU_TLB_USER at CPL 3, else 0 */
	uint64_t tlb_gen;    /* bumped by every TLB flush: the icache's jump cache checks it */
	uint64_t pdpte[4];   /* PAE page-directory pointers, loaded on CR3 writes */
	uint64_t icount;     /* retired instructions (TSC without a callback) */
	uint64_t run_budget; /* icount_left at the start of the run or the last icount update */
	/* Set by tests: exit with EMU_EXIT_EXCEPTION instead of delivering through the IDT. */
	uint8_t exc_exit;
	/* Locked instructions (exec_lock.c): a scratch copy of the operand's page and the TLB entry
	 * redirected to it while the instruction runs (restored by emu_run if it faults). */
	struct emu_tlb_entry *lock_tlb;
	uint8_t in_locked; /* emu_exec_locked is running the instruction (XCHG must not recurse) */
	struct emu_tlb_entry lock_saved;
	uint8_t lock_page[4096];
	struct emu_msrs msr;

	struct emu_tlb_entry tlb[EMU_TLB_SIZE];
	struct emu_icache *icache;

	const struct emu_mem_ops *ops;
	const struct emu_sys_ops *sys;
	void *ctx;

	struct emu_exit_info exit;
	jmp_buf jb; /* exceptions unwind to emu_run with longjmp */
};

/* Initialise cpu with the power-on reset state, the given callbacks and an empty decode cache.
 * Returns 0 or -ENOMEM. */
int emu_cpu_init(struct emu_cpu *cpu, const struct emu_mem_ops *ops, void *ctx)
    __attribute__((warn_unused_result));

/* Back to the state emu_cpu_init leaves (power-on reset, empty decode cache, no pending events,
 * emu's MSRs at their defaults, exc_exit clear), keeping the callbacks, the system callbacks
 * and the decode cache's memory. Not while emu_run is running. */
void emu_cpu_reset(struct emu_cpu *cpu);

/* Install system callbacks (may be called any time between runs; NULL removes them). */
void emu_cpu_set_sys_ops(struct emu_cpu *cpu, const struct emu_sys_ops *sys);

/* 1 when an external interrupt can be delivered now: RFLAGS.IF=1, no interrupt shadow (the
 * instruction after STI, MOV SS or POP SS) and no interrupt already injected but undelivered. */
int emu_cpu_interrupt_window(struct emu_cpu *cpu);

/* Queue external interrupt `vector` (32-255) for delivery through the IDT before the next
 * instruction the CPU can take it at (the VMM calls this when emu_cpu_interrupt_window says yes,
 * after acknowledging the vector in its interrupt controller). A HLTed vCPU resumes after the
 * handler's IRET: call emu_run again. Same thread as emu_run (or while it is not running). */
void emu_cpu_inject_interrupt(struct emu_cpu *cpu, uint8_t vector);

/* The VMM has an interrupt to inject but the window is closed (IF=0 or an interrupt shadow):
 * make emu_run return EMU_EXIT_STOP at the first block boundary where emu_cpu_interrupt_window
 * holds (after STI and the instruction it shadows, POPF, IRET, SYSRET, ...), instead of at the
 * end of its instruction budget. Cleared when it fires and by emu_cpu_inject_interrupt. Same
 * thread as emu_run (or while it is not running). */
void emu_cpu_request_interrupt_window(struct emu_cpu *cpu);

/* Queue an NMI; delivered when NMIs are not blocked (blocked from NMI delivery until IRET). */
void emu_cpu_inject_nmi(struct emu_cpu *cpu);

/* Fill t with the CPUID leaves emu implements (see cpuid_emu.c for the vendor and the feature
 * list). tsc_khz (0: unknown) feeds leaves 0x15/0x16. The VMM then runs cpuid_policy_apply. */
struct cpuid_table;
void emu_cpuid_table(struct cpuid_table *t, uint32_t tsc_khz);

/* Free the decode cache. The struct may be reinitialised afterwards. */
void emu_cpu_destroy(struct emu_cpu *cpu);

/* Load architectural state (flushes the TLB and recomputes the mode cache). st->cr8 goes to
 * st.cr8 only: with TPR callbacks the LAPIC's own state (restored by the VMM) is the truth. */
void emu_cpu_set_state(struct emu_cpu *cpu, const struct x86_cpu_state *st);

/* Store architectural state with materialised flags (CR8 from the TPR with TPR callbacks). */
void emu_cpu_get_state(struct emu_cpu *cpu, struct x86_cpu_state *st);

/* Recompute the mode cache after changing st.seg[], st.cr0 or st.efer directly. */
void emu_cpu_update_mode(struct emu_cpu *cpu);

/* Current RFLAGS with the lazily computed arithmetic flags folded in (also stores them). */
uint64_t emu_cpu_rflags(struct emu_cpu *cpu);

/* Drop all TLB entries (after CR3/paging changes or dirty-log resets). */
void emu_tlb_flush(struct emu_cpu *cpu);

/* Invalidate decoded code overlapping guest-physical [gpa, gpa+len): the VMM calls this after
 * writing guest memory behind the emulator's back (DMA, loaders). */
void emu_invalidate_phys(struct emu_cpu *cpu, uint64_t gpa, uint64_t len);

/* Run until an exit condition or max_insns retired instructions (0 means no limit; a delivered
 * exception counts as one, and a REP string instruction retires in chunks), delivering
 * exceptions architecturally where the implemented subset allows. Returns an enum emu_exit;
 * cpu->exit holds the details. st.rip names the instruction that did not complete (for
 * EXCEPTION and UNIMPL; after INT n/INT3, which trap, the next one), or the next one. */
int emu_run(struct emu_cpu *cpu, uint64_t max_insns);

/* Execute one instruction. Returns EMU_EXIT_NONE when it retired normally, else as emu_run. */
int emu_step(struct emu_cpu *cpu);

/* Make a running emu_run return EMU_EXIT_STOP at the next block boundary. May be called from
 * another thread (atomic flag); the VMM uses it to kick a vCPU before injecting an interrupt. */
void emu_request_stop(struct emu_cpu *cpu);

#endif
