/* emu: definitions shared by the interpreter's files (not part of the public interface).
 *
 * Register and memory accessors are static inline so the hot paths compile into the dispatch
 * loop: a register access is a switch on the operand size; a memory access is one segment base
 * add and one TLB tag compare before a host load or store. Everything that can fault raises the
 * exception with emu_raise, which unwinds to emu_run with longjmp: instructions therefore write
 * their destination (memory first) only after every access that can fault has been made. */
#ifndef VMON_ACCEL_EMU_PRIV_H
#define VMON_ACCEL_EMU_PRIV_H

#include <stdint.h>
#include <string.h>

#include "accel/emu/cpu.h"
#include "accel/emu/decode.h"

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/* RFLAGS bits */
#define F_CF 0x0001u
#define F_PF 0x0004u
#define F_AF 0x0010u
#define F_ZF 0x0040u
#define F_SF 0x0080u
#define F_TF 0x0100u
#define F_IF 0x0200u
#define F_DF 0x0400u
#define F_OF 0x0800u
#define F_IOPL 0x3000u
#define F_NT 0x4000u
#define F_RF 0x10000u
#define F_VM 0x20000u
#define F_AC 0x40000u
#define F_ID 0x200000u
#define F_ARITH (F_CF | F_PF | F_AF | F_ZF | F_SF | F_OF)

/* Exception vectors */
enum {
	EMU_DE = 0,
	EMU_DB = 1,
	EMU_BP = 3,
	EMU_OF = 4,
	EMU_UD = 6,
	EMU_NM = 7,
	EMU_DF = 8,
	EMU_TS = 10,
	EMU_NP = 11,
	EMU_SS = 12,
	EMU_GP = 13,
	EMU_PF = 14,
	EMU_MF = 16,
	EMU_AC = 17
};

/* Memory access kinds for translation and TLB fill. */
enum emu_acc { EMU_ACC_R = 0, EMU_ACC_W = 1, EMU_ACC_X = 2 };

#define EMU_PAGE_MASK (~0xfffull)
/* MAXPHYADDR: the physical-address width the MMU checks reserved bits against and CPUID
 * 0x80000008 reports (also the limit of MTRR base/mask fields). */
#define EMU_PHYS_BITS 40

/* ---- exceptions and exits (exec.c) ---- */

/* Raise an exception: record it and unwind to emu_run. */
_Noreturn void emu_raise(struct emu_cpu *c, unsigned vector, int has_error, uint32_t error);
/* Leave emu_run with an exit reason (UNIMPL records the instruction bytes). */
_Noreturn void emu_exit_now(struct emu_cpu *c, unsigned reason);

/* ---- sizes ---- */

static inline uint64_t sz_mask(unsigned size)
{
	return size >= 8 ? ~0ull : (1ull << (size * 8)) - 1;
}

static inline uint64_t sz_sext(uint64_t v, unsigned size)
{
	unsigned sh = 64 - 8 * size;
	return (uint64_t)((int64_t)(v << sh) >> sh);
}

static inline unsigned sz_msb(uint64_t v, unsigned size)
{
	return (unsigned)(v >> (size * 8 - 1)) & 1;
}

/* ---- registers ---- */

static inline uint64_t reg_get(const struct emu_cpu *c, unsigned r, unsigned size)
{
	switch (size) {
	case 1:
		return r >= EMU_REG_AH ? (c->st.gpr[r - EMU_REG_AH] >> 8) & 0xff
				       : c->st.gpr[r] & 0xff;
	case 2:
		return c->st.gpr[r] & 0xffff;
	case 4:
		return c->st.gpr[r] & 0xffffffff;
	default:
		return c->st.gpr[r];
	}
}

/* Write with x86 semantics: 32-bit writes zero-extend, 8/16-bit writes merge. */
static inline void reg_set(struct emu_cpu *c, unsigned r, unsigned size, uint64_t v)
{
	switch (size) {
	case 1:
		if (r >= EMU_REG_AH)
			c->st.gpr[r - EMU_REG_AH] =
			    (c->st.gpr[r - EMU_REG_AH] & ~0xff00ull) | ((v & 0xff) << 8);
		else
			c->st.gpr[r] = (c->st.gpr[r] & ~0xffull) | (v & 0xff);
		break;
	case 2:
		c->st.gpr[r] = (c->st.gpr[r] & ~0xffffull) | (v & 0xffff);
		break;
	case 4:
		c->st.gpr[r] = (uint32_t)v;
		break;
	default:
		c->st.gpr[r] = v;
	}
}

/* ---- memory (mem.c for the slow paths) ---- */

uint64_t emu_ld_slow(struct emu_cpu *c, uint64_t lin, unsigned size);
void emu_st_slow(struct emu_cpu *c, uint64_t lin, unsigned size, uint64_t v);
/* Segment limit/type checks for non-flat modes; returns the linear address. */
uint64_t emu_seg_linear(struct emu_cpu *c, unsigned seg, uint64_t ea, unsigned size, int acc);
/* Translate a linear address for acc and fill the TLB; returns the entry or NULL for MMIO
 * (then *gpa is set). Raises #PF/#GP on failure. */
struct emu_tlb_entry *emu_tlb_fill(struct emu_cpu *c, uint64_t lin, int acc, uint64_t *gpa);

/* Guest loads and stores on host RAM. x86 guests expect TSO: stores become visible in program
 * order and loads are not reordered with older loads. x86 hosts give that with plain accesses. On
 * weakly ordered hosts (aarch64, ...) each access is a load-acquire / store-release (a plain
 * access between fences when misaligned), so what one vCPU thread publishes with ordinary stores
 * (a spinlock release after the data it protects) is seen in that order by the others. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "emu assumes a little-endian host"
#endif
#if defined(__x86_64__) || defined(__i386__)
#define EMU_HOST_TSO 1
#else
#define EMU_HOST_TSO 0
#endif

static inline uint64_t ld_host(const uint8_t *p, unsigned size)
{
	if (!EMU_HOST_TSO) {
		uint64_t v;
		if (!((uintptr_t)p & (size - 1))) {
			switch (size) {
			case 1:
				return __atomic_load_n(p, __ATOMIC_ACQUIRE);
			case 2:
				return __atomic_load_n((const uint16_t *)p, __ATOMIC_ACQUIRE);
			case 4:
				return __atomic_load_n((const uint32_t *)p, __ATOMIC_ACQUIRE);
			default:
				return __atomic_load_n((const uint64_t *)p, __ATOMIC_ACQUIRE);
			}
		}
		v = 0;
		memcpy(&v, p, size); /* little-endian hosts only, as everywhere in emu */
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		return v;
	}
	switch (size) {
	case 1:
		return *p;
	case 2: {
		uint16_t v;
		memcpy(&v, p, 2);
		return v;
	}
	case 4: {
		uint32_t v;
		memcpy(&v, p, 4);
		return v;
	}
	default: {
		uint64_t v;
		memcpy(&v, p, 8);
		return v;
	}
	}
}

static inline void st_host(uint8_t *p, unsigned size, uint64_t v)
{
	if (!EMU_HOST_TSO) {
		if (!((uintptr_t)p & (size - 1))) {
			switch (size) {
			case 1:
				__atomic_store_n(p, (uint8_t)v, __ATOMIC_RELEASE);
				return;
			case 2:
				__atomic_store_n((uint16_t *)p, (uint16_t)v, __ATOMIC_RELEASE);
				return;
			case 4:
				__atomic_store_n((uint32_t *)p, (uint32_t)v, __ATOMIC_RELEASE);
				return;
			default:
				__atomic_store_n((uint64_t *)p, v, __ATOMIC_RELEASE);
				return;
			}
		}
		__atomic_thread_fence(__ATOMIC_RELEASE);
		memcpy(p, &v, size);
		return;
	}
	switch (size) {
	case 1:
		*p = (uint8_t)v;
		break;
	case 2: {
		uint16_t w = (uint16_t)v;
		memcpy(p, &w, 2);
		break;
	}
	case 4: {
		uint32_t w = (uint32_t)v;
		memcpy(p, &w, 4);
		break;
	}
	default:
		memcpy(p, &v, 8);
	}
}

static inline uint64_t emu_linear(struct emu_cpu *c, unsigned seg, uint64_t ea, unsigned size,
				  int acc)
{
	if (likely(c->flat))
		return (c->seg_base[seg] + ea) & c->lin_mask;
	return emu_seg_linear(c, seg, ea, size, acc);
}

/* The TLB tag an access to lin at the current privilege compares against. */
static inline uint64_t emu_tag(const struct emu_cpu *c, uint64_t lin)
{
	return (lin & EMU_PAGE_MASK) | c->tlb_user;
}

static inline uint64_t emu_ld_lin(struct emu_cpu *c, uint64_t lin, unsigned size)
{
	struct emu_tlb_entry *e = &c->tlb[(lin >> 12) & (EMU_TLB_SIZE - 1)];
	if (likely(e->tag_r == emu_tag(c, lin) && (lin & 0xfff) <= 4096 - size))
		return ld_host((const uint8_t *)(uintptr_t)(lin + e->addend), size);
	return emu_ld_slow(c, lin, size);
}

static inline void emu_st_lin(struct emu_cpu *c, uint64_t lin, unsigned size, uint64_t v)
{
	struct emu_tlb_entry *e = &c->tlb[(lin >> 12) & (EMU_TLB_SIZE - 1)];
	if (likely(e->tag_w == emu_tag(c, lin) && (lin & 0xfff) <= 4096 - size))
		st_host((uint8_t *)(uintptr_t)(lin + e->addend), size, v);
	else
		emu_st_slow(c, lin, size, v);
}

/* Load/store size bytes at seg:ea (ea already truncated to the address size). */
static inline uint64_t emu_ld(struct emu_cpu *c, unsigned seg, uint64_t ea, unsigned size)
{
	return emu_ld_lin(c, emu_linear(c, seg, ea, size, EMU_ACC_R), size);
}

static inline void emu_st(struct emu_cpu *c, unsigned seg, uint64_t ea, unsigned size, uint64_t v)
{
	emu_st_lin(c, emu_linear(c, seg, ea, size, EMU_ACC_W), size, v);
}

/* Probe that a store of size bytes at seg:ea would succeed (faults now if not). Used where an
 * instruction must fault before changing any state (e.g. multi-part writes). */
void emu_probe_write(struct emu_cpu *c, unsigned seg, uint64_t ea, unsigned size);

/* Effective address of the instruction's memory operand, truncated to the address size. */
static inline uint64_t emu_ea(const struct emu_cpu *c, const struct emu_insn *in)
{
	uint64_t ea = (uint64_t)(int64_t)in->disp;

	if (in->base != EMU_REG_NONE)
		ea += in->base == EMU_REG_RIP ? c->st.rip + in->len : c->st.gpr[in->base];
	if (in->index != EMU_REG_NONE)
		ea += c->st.gpr[in->index] << in->scale;
	return ea & sz_mask(in->asize);
}

/* The E (ModRM r/m) operand. */
static inline uint64_t emu_get_e(struct emu_cpu *c, const struct emu_insn *in, unsigned size)
{
	if (in->flags & EMU_I_REG)
		return reg_get(c, in->rm, size);
	return emu_ld(c, in->seg, emu_ea(c, in), size);
}

static inline void emu_set_e(struct emu_cpu *c, const struct emu_insn *in, unsigned size,
			     uint64_t v)
{
	if (in->flags & EMU_I_REG)
		reg_set(c, in->rm, size, v);
	else
		emu_st(c, in->seg, emu_ea(c, in), size, v);
}

/* Execute one decoded instruction (exec.c). Returns 0 or an exit reason. */
int emu_exec_one(struct emu_cpu *c, const struct emu_insn *in);
/* The handler id of an instruction decoded for mode (enum emu_mode) for the threaded interpreter
 * (exec.c; insn.hid). */
uint8_t emu_handler_select(const struct emu_insn *in, unsigned mode);
/* Instructions still in the run's budget: icount_left plus what the running block has been
 * charged for but not run. */
static inline uint64_t emu_icount_left(const struct emu_cpu *c)
{
	const struct emu_insn *p = c->blk_start;
	uint64_t rip = c->blk_rip;

	if (!c->blk_end)
		return c->icount_left;
	/* A block runs straight through (a taken branch leaves it), so the instruction at st.rip
	 * is found by walking from the first. */
	while (p < c->blk_end && rip != c->st.rip) {
		rip = (rip + p->len) & c->ip_mask;
		p++;
	}
	return c->icount_left + (uint64_t)(c->blk_end - p);
}

/* ---- stack (exec_ctl.c) ---- */

void emu_push(struct emu_cpu *c, unsigned size, uint64_t v);
uint64_t emu_pop(struct emu_cpu *c, unsigned size);

/* ---- lazy flags (flags.c) ---- */

static inline void cc_set(struct emu_cpu *c, unsigned op, unsigned size, uint64_t res, uint64_t s1,
			  uint64_t s2)
{
	c->cc.op = (uint8_t)op;
	c->cc.size = (uint8_t)size;
	c->cc.res = res;
	c->cc.src1 = s1;
	c->cc.src2 = s2;
}

/* The six arithmetic flags as RFLAGS bits. */
uint32_t emu_flags_arith(const struct emu_cpu *c);
/* Fold the lazy flags into st.rflags (cc.op becomes EAGER). */
void emu_flags_materialize(struct emu_cpu *c);
/* CF alone. */
unsigned emu_flags_cf(const struct emu_cpu *c);
/* Evaluate condition code cc (0-15, Jcc encoding order). */
int emu_cond(const struct emu_cpu *c, unsigned cc);
/* The same, with the most common cases inline: ZF and SF after any lazy producer, and the unsigned
 * comparisons after CMP/SUB. */
static inline int emu_cond_fast(const struct emu_cpu *c, unsigned cc)
{
	unsigned k = cc >> 1;

	if (likely(c->cc.op != EMU_CC_EAGER)) {
		if (k == 2)
			return (c->cc.res == 0) ^ (int)(cc & 1);
		if (c->cc.op == EMU_CC_SUB && (k == 1 || k == 3))
			return (k == 1 ? c->cc.src1 < c->cc.src2 : c->cc.src1 <= c->cc.src2) ^
			       (int)(cc & 1);
	}
	return emu_cond(c, cc);
}

/* Replace the bits in mask with bits (arithmetic flags, materialising first). */
static inline void flags_set_eager(struct emu_cpu *c, uint32_t mask, uint32_t bits)
{
	if (c->cc.op != EMU_CC_EAGER) {
		if ((mask & F_ARITH) != F_ARITH)
			emu_flags_materialize(c);
		else
			c->cc.op = EMU_CC_EAGER; /* every arithmetic flag is replaced */
	}
	c->st.rflags = (c->st.rflags & ~(uint64_t)mask) | (bits & mask);
}

/* SHL/SAL, SHR or SAR (sub: enum emu_shift) of a, size bytes, by a nonzero masked count: the
 * result, with CF and OF as the CPU leaves them. emu_shift_flags then records them lazily (after
 * the destination is written, so that a faulting store leaves the flags alone). */
static inline uint64_t emu_shift_arith(unsigned sub, uint64_t a, unsigned cnt, unsigned size,
				       unsigned *cf, unsigned *of)
{
	unsigned bits = size * 8;
	uint64_t m = sz_mask(size), r;

	if (sub == EMU_SH_SHL || sub == EMU_SH_SAL) {
		r = (a << cnt) & m;
		*cf = cnt <= bits ? (unsigned)(a >> (bits - cnt)) & 1 : 0;
		*of = sz_msb(r, size) ^ *cf;
	} else if (sub == EMU_SH_SHR) {
		r = a >> cnt;
		*cf = (unsigned)(a >> (cnt - 1)) & 1;
		*of = sz_msb(a, size);
	} else {
		int64_t sa = (int64_t)sz_sext(a, size);
		r = (uint64_t)(sa >> cnt) & m;
		*cf = (unsigned)(sa >> (cnt - 1)) & 1;
		*of = 0;
	}
	return r;
}

static inline void emu_shift_flags(struct emu_cpu *c, unsigned size, uint64_t r, unsigned cf,
				   unsigned of)
{
	cc_set(c, EMU_CC_SHIFT, size, r, of, 0);
	c->cc.cf = (uint8_t)cf;
}

/* The VMM keeps CR8 as its LAPIC's TPR (emu_sys_ops get_tpr/set_tpr, both set). */
static inline int emu_has_tpr(const struct emu_cpu *c)
{
	return c->sys && c->sys->get_tpr && c->sys->set_tpr;
}

/* PF, ZF, SF of a result (for eagerly computed flags). */
static inline uint32_t flags_szp(uint64_t res, unsigned size)
{
	uint32_t f = 0;

	res &= sz_mask(size);
	if (!res)
		f |= F_ZF;
	if (sz_msb(res, size))
		f |= F_SF;
	if (!__builtin_parity((unsigned)(res & 0xff)))
		f |= F_PF;
	return f;
}

/* ---- instruction groups (exec_alu.c, exec_ctl.c, exec_str.c) ---- */

void emu_exec_shift(struct emu_cpu *c, const struct emu_insn *in);
void emu_exec_shxd(struct emu_cpu *c, const struct emu_insn *in);
void emu_exec_muldiv(struct emu_cpu *c, const struct emu_insn *in);
void emu_exec_bitop(struct emu_cpu *c, const struct emu_insn *in);
void emu_exec_bitscan(struct emu_cpu *c, const struct emu_insn *in);
void emu_exec_cmpxchg(struct emu_cpu *c, const struct emu_insn *in);
void emu_exec_adx(struct emu_cpu *c, const struct emu_insn *in);
void emu_exec_string(struct emu_cpu *c, const struct emu_insn *in);
/* A REP string instruction (and REP INS/OUTS) runs at most EMU_REP_CHUNK iterations per
 * execution. With a count left it restarts itself (RIP stays on it, registers already updated)
 * and ends the block, so that the run loop sees pending events and the instruction budget
 * between chunks: x86 REP is interruptible between iterations, and a guest's huge count must not
 * keep the vCPU thread from returning. */
#ifndef EMU_REP_CHUNK
#define EMU_REP_CHUNK 1024u /* the fuzz build uses a smaller one (Makefile: FUZZ_CFLAGS) */
#endif
/* REP MOVS/STOS upwards copy or fill whole runs within a page on the host; at most this many
 * bytes per execution. */
#define EMU_REP_BULK_BYTES (64u * 1024)
static inline void emu_rep_yield(struct emu_cpu *c)
{
	c->next_rip = c->st.rip;
	c->stop_block = 1;
}
void emu_exec_enter(struct emu_cpu *c, const struct emu_insn *in);
void emu_exec_popf(struct emu_cpu *c, const struct emu_insn *in);
void emu_exec_io(struct emu_cpu *c, const struct emu_insn *in);
/* MMX/SSE/SSE2-4.2 and the 0F AE group (exec_sse*.c, exec_fxsr.c); x87 (exec_x87.c). */
void emu_exec_sse(struct emu_cpu *c, const struct emu_insn *in);
void emu_exec_x87(struct emu_cpu *c, const struct emu_insn *in);

/* ---- decode cache (icache.c) ---- */

struct emu_block {
	uint64_t gpa;	   /* guest-physical address of the first byte; ~0 when dead */
	uint64_t gpa_last; /* page of the last byte (a second page when it crosses) */
	uint32_t first;	   /* index of the first insn in the pool */
	uint16_t n;	   /* instructions */
	uint8_t mode;
	uint8_t pad;
	uint32_t hash_next; /* block index + 1, 0 ends */
	uint32_t page_next; /* next block on the same code page, index + 1 */
};

int emu_icache_init(struct emu_cpu *c);
void emu_icache_destroy(struct emu_cpu *c);
/* Empty the decode cache, keeping its memory (emu_cpu_reset). */
void emu_icache_reset(struct emu_cpu *c);
/* The decoded block starting at the current CS:RIP after a miss in the inline lookup (icache.h:
 * emu_icache_get_fast): translating on a miss, may raise #PF/#GP. *insns receives its
 * instructions. */
const struct emu_block *emu_icache_get_slow(struct emu_cpu *c, const struct emu_insn **insns);
/* 1 when guest-physical page (4 KiB aligned) holds decoded code. */
int emu_icache_page_has_code(const struct emu_cpu *c, uint64_t page);
/* Drop the decoded code of a page (on a write to it). Sets c->stop_block. */
void emu_icache_invalidate_page(struct emu_cpu *c, uint64_t page);

/* Host pointer for a store of size bytes at linear lin within one page of RAM (dropping decoded
 * code on the page first), or NULL for MMIO or a page-crossing access. Faults like a store. */
uint8_t *emu_host_w(struct emu_cpu *c, uint64_t lin, unsigned size);
/* The same for a load (no decoded code is dropped). Faults like a load. */
const uint8_t *emu_host_r(struct emu_cpu *c, uint64_t lin, unsigned size);

/* IA32_ARCH_CAPABILITIES (0x10a; Intel SDM vol. 4 table 2-2, bit names as Linux's msr-index.h):
 * RDCL_NO(0) IBRS_ALL(1) SKIP_L1DFL_VMENTRY(3) SSB_NO(4) MDS_NO(5) PSCHANGE_MC_NO(6) TAA_NO(8)
 * SBDR_SSDP_NO(13) FBSDP_NO(14) PSDP_NO(15) BHI_NO(20) PBRSB_NO(24) GDS_NO(26) RFDS_NO(27)
 * ITS_NO(62): no speculative execution, so none of those attacks applies. IA32_SPEC_CTRL accepts
 * IBRS(0) STIBP(1) SSBD(2) RRSBA_DIS_S(6) BHI_DIS_S(10) and keeps them without effect. */
#define EMU_ARCH_CAPABILITIES                                                                      \
	((1ull << 0) | (1ull << 1) | (1ull << 3) | (1ull << 4) | (1ull << 5) | (1ull << 6) |       \
	 (1ull << 8) | (1ull << 13) | (1ull << 14) | (1ull << 15) | (1ull << 20) | (1ull << 24) |  \
	 (1ull << 26) | (1ull << 27) | (1ull << 62))
#define EMU_SPEC_CTRL_BITS 0x447ull

/* ---- system instructions (exec_sys.c, exec_seg.c, exec_int.c, exec_legacy.c, msr.c) ---- */

/* Kinds of event delivery. */
enum emu_ev {
	EMU_EV_EXC = 0, /* exception (fault/trap raised by an instruction) */
	EMU_EV_SOFT,	/* INT n, INT3, INTO: DPL checked, return address after the insn */
	EMU_EV_ICEBP,	/* INT1: no DPL check, return address after the insn */
	EMU_EV_EXT,	/* external interrupt (EXT bit in error codes) */
	EMU_EV_NMI,
};

/* Instructions outside the common set (dispatched from exec.c). Returns 0 or an exit reason. */
int emu_exec_sys(struct emu_cpu *c, const struct emu_insn *in);
int emu_exec_seg(struct emu_cpu *c, const struct emu_insn *in);
int emu_exec_legacy(struct emu_cpu *c, const struct emu_insn *in);
void emu_exec_int(struct emu_cpu *c, const struct emu_insn *in);
void emu_exec_iret(struct emu_cpu *c, const struct emu_insn *in);
/* A LOCK-prefixed memory RMW (EMU_OP_LOCKED) or XCHG with memory, executed atomically with
 * respect to other vCPU threads on the same guest RAM (exec_lock.c). */
void emu_exec_locked(struct emu_cpu *c, const struct emu_insn *in);
/* 1 when the host has an inline 16-byte compare-and-swap (CMPXCHG16B is then atomic and CPUID
 * advertises CX16). x86-64 hosts: CMPXCHG16B, compiled per function (exec_lock.c). */
#if defined(__x86_64__) || defined(__GCC_HAVE_SYNC_COMPARE_AND_SWAP_16)
#define EMU_HAVE_CAS16 1
#else
#define EMU_HAVE_CAS16 0
#endif
void emu_exec_sti(struct emu_cpu *c);
/* SGDT(0)/SIDT(1)/LGDT(2)/LIDT(3) with a memory operand; SWAPGS. */
void emu_exec_dtable(struct emu_cpu *c, const struct emu_insn *in, unsigned which);
void emu_swapgs(struct emu_cpu *c);
/* #GP(0) unless port I/O of size bytes at port is allowed (IOPL, then the TSS bitmap). */
void emu_io_check(struct emu_cpu *c, uint16_t port, unsigned size);

/* Deliver an event through the IVT/IDT now (may raise). */
void emu_deliver(struct emu_cpu *c, unsigned vector, int type, int has_err, uint32_t err);
/* Called by emu_run after an exception unwound: deliver it (handling #DF and triple faults).
 * Returns 0 to continue or an exit reason. */
int emu_exception(struct emu_cpu *c);
/* Block-boundary event check (c->events != 0). Returns 0, or an exit reason; *one_insn is set
 * when only one instruction may run before the next check (interrupt shadow). */
int emu_events(struct emu_cpu *c, int *one_insn);
/* Recompute c->events from the pending state. */
void emu_events_update(struct emu_cpu *c);

/* Load segment register seg from selector sel with protected-mode checks (MOV/POP Sreg, LxS). */
void emu_load_seg(struct emu_cpu *c, unsigned seg, uint16_t sel);
/* Read the 8-byte descriptor for selector sel (GDT or LDT); raises vec(sel) when outside. */
uint64_t emu_desc_read(struct emu_cpu *c, uint16_t sel, unsigned vec);
/* Unpack descriptor d for selector sel into *s. */
void emu_desc_unpack(struct x86_segment *s, uint16_t sel, uint64_t d);
/* Supervisor (implicit) accesses to system structures at linear addresses. */
uint64_t emu_sys_ld(struct emu_cpu *c, uint64_t lin, unsigned size);
void emu_sys_st(struct emu_cpu *c, uint64_t lin, unsigned size, uint64_t v);
/* Set the privilege the TLB checks accesses against (c->cpl and c->tlb_user). */
static inline void emu_set_cpl(struct emu_cpu *c, unsigned cpl)
{
	c->cpl = (uint8_t)cpl;
	c->tlb_user = cpl == 3 ? EMU_TLB_USER : 0;
}

/* Control registers with their side effects (TLB flushes, PDPTE loads, mode changes); raise
 * #GP(0) on reserved bits or invalid combinations. */
void emu_write_cr0(struct emu_cpu *c, uint64_t v);
void emu_write_cr3(struct emu_cpu *c, uint64_t v);
void emu_write_cr4(struct emu_cpu *c, uint64_t v);
/* TLB maintenance: everything but global entries (CR3 writes), one page (INVLPG). */
void emu_tlb_flush_nonglobal(struct emu_cpu *c);
void emu_tlb_flush_page(struct emu_cpu *c, uint64_t lin);
/* Load the PAE PDPTEs from CR3; returns 0 or -1 when one has reserved bits set. */
int emu_load_pdptes(struct emu_cpu *c, uint64_t cr3);

/* MSR access (msr.c): 0, or -1 for #GP. */
int emu_msr_read(struct emu_cpu *c, uint32_t idx, uint64_t *v);
int emu_msr_write(struct emu_cpu *c, uint32_t idx, uint64_t v);
/* Copy emu's MSRs to st->msrs and back (get/set_state). */
void emu_msrs_save(const struct emu_cpu *c, struct x86_cpu_state *st);
void emu_msrs_load(struct emu_cpu *c, const struct x86_cpu_state *st);
uint64_t emu_rdtsc(struct emu_cpu *c);

/* ---- MMU (mmu.c) ---- */

/* Translate linear address lin for access acc to guest-physical *gpa. Returns 0, or the
 * exception vector + 1 (e.g. EMU_PF + 1) with *err set to the error code; raises nothing. */
int emu_mmu_translate(struct emu_cpu *c, uint64_t lin, int acc, uint64_t *gpa, uint32_t *err);

/* Read up to len instruction bytes at CS:rip without faulting; returns how many were read. */
unsigned emu_fetch_nofault(struct emu_cpu *c, uint64_t rip, uint8_t *buf, unsigned len);

#endif
