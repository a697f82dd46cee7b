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
 * pio_in/pio_out: port I/O of size 1, 2 or 4. */
struct emu_mem_ops {
	uint8_t *(*ram_ptr)(void *ctx, uint64_t gpa, int write);
	uint64_t (*mmio_read)(void *ctx, uint64_t gpa, unsigned size);
	void (*mmio_write)(void *ctx, uint64_t gpa, unsigned size, uint64_t val);
	uint32_t (*pio_in)(void *ctx, uint16_t port, unsigned size);
	void (*pio_out)(void *ctx, uint16_t port, unsigned size, uint32_t val);
};

/* Why emu_run/emu_step returned. */
enum emu_exit {
	EMU_EXIT_NONE = 0,  /* emu_step only: one instruction completed */
	EMU_EXIT_HLT,	    /* HLT executed; rip points after it */
	EMU_EXIT_LIMIT,	    /* max_insns instructions retired */
	EMU_EXIT_EXCEPTION, /* an exception could not be delivered: exit.vector/error_code */
	EMU_EXIT_UNIMPL,    /* unimplemented instruction: exit.bytes/len; rip points at it */
	EMU_EXIT_STOP,	    /* emu_request_stop was called */
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
};

struct emu_lazy_flags {
	uint64_t res, src1, src2; /* zero-extended to 64 bits */
	uint8_t op;		  /* enum emu_cc_op */
	uint8_t size;		  /* operand size in bytes */
	uint8_t cf;		  /* carry in (ADC/SBB) or preserved CF (INC/DEC) */
};

#define EMU_TLB_BITS 8
#define EMU_TLB_SIZE (1u << EMU_TLB_BITS)
#define EMU_TLB_INVALID 1ull /* a tag that never matches a page-aligned address */

/* One software TLB entry: a linear page (tag) and the host address delta for it. Separate tags
 * for read, write and fetch so that pages holding decoded code can be read but not written fast. */
struct emu_tlb_entry {
	uint64_t tag_r, tag_w, tag_x;
	uintptr_t addend; /* host = linear + addend */
	uint64_t gpa;	  /* guest-physical page */
};

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
	uint64_t icount_left;
	uint8_t stop_block; /* leave the current block after this instruction */
	uint8_t stop_req;

	struct emu_tlb_entry tlb[EMU_TLB_SIZE];
	struct emu_icache *icache;

	const struct emu_mem_ops *ops;
	void *ctx;

	struct emu_exit_info exit;
	jmp_buf jb; /* exceptions unwind to emu_run with longjmp */
};

/* Initialise cpu with the power-on reset state, the given callbacks and an empty decode cache.
 * Returns 0 or -ENOMEM. */
int emu_cpu_init(struct emu_cpu *cpu, const struct emu_mem_ops *ops, void *ctx)
    __attribute__((warn_unused_result));

/* Free the decode cache. The struct may be reinitialised afterwards. */
void emu_cpu_destroy(struct emu_cpu *cpu);

/* Load architectural state (flushes the TLB and recomputes the mode cache). */
void emu_cpu_set_state(struct emu_cpu *cpu, const struct x86_cpu_state *st);

/* Store architectural state with materialised flags. */
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

/* Run until an exit condition or max_insns retired instructions (0 means no limit), delivering
 * exceptions architecturally where the implemented subset allows. Returns an enum emu_exit;
 * cpu->exit holds the details. st.rip names the instruction that did not complete (for
 * EXCEPTION and UNIMPL; after INT n/INT3, which trap, the next one), or the next one. */
int emu_run(struct emu_cpu *cpu, uint64_t max_insns);

/* Execute one instruction. Returns EMU_EXIT_NONE when it retired normally, else as emu_run. */
int emu_step(struct emu_cpu *cpu);

/* Make a running emu_run return EMU_EXIT_STOP at the next block boundary. Same thread only
 * for now (a cross-thread kick will use an atomic flag). */
void emu_request_stop(struct emu_cpu *cpu);

#endif
