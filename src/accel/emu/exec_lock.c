/* emu: LOCK-prefixed read-modify-write instructions (and XCHG with memory, which is always
 * locked), atomic with respect to every other access by other vCPU threads.
 *
 * The instruction runs once on a private copy of its memory operand: the operand's TLB entry is
 * pointed at a scratch page holding the value read atomically from guest RAM, the ordinary
 * implementation executes, and the value it left is then committed with one host
 * compare-and-swap. When another vCPU changed the operand in between, the registers and flags
 * are restored and the instruction runs again. So one implementation of each instruction serves
 * both the plain and the locked form (ADD/OR/ADC/SBB/AND/SUB/XOR, INC/DEC, NOT/NEG, XCHG, XADD,
 * CMPXCHG, CMPXCHG8B/16B, BTS/BTR/BTC), and plain stores by other vCPUs are never lost (a lock
 * would not give that).
 *
 * Host atomics: a naturally aligned operand uses the host atomic of its width; a misaligned one
 * that fits in an aligned 8-byte word uses a compare-and-swap on that word; any other misaligned
 * operand uses the host's atomics on the unaligned address on x86 hosts (where LOCK works on any
 * address) and runs without atomicity elsewhere. 16 bytes (CMPXCHG16B, always aligned) use an
 * inline 16-byte compare-and-swap where the host has one (EMU_HAVE_CAS16; x86-64 hosts need
 * CMPXCHG16B, which every x86-64 CPU since 2006 has) and libatomic otherwise. Operands in MMIO
 * or crossing a page run without atomicity (as on hardware, a split lock is a bus lock; vCPUs
 * here are separate threads that cannot be stopped cheaply). */
#include "accel/emu/emu_priv.h"

enum lock_mode {
	LK_DIRECT, /* host atomic of the operand's width at p */
	LK_WORD,   /* compare-and-swap on the aligned 8-byte word containing the operand */
};

#if defined(__x86_64__) || defined(__i386__)
#define HOST_UNALIGNED_ATOMICS 1
#else
#define HOST_UNALIGNED_ATOMICS 0
#endif

/* How the operand of size bytes at host address p can be accessed atomically; -1: it cannot. */
static int lock_mode(const uint8_t *p, unsigned size)
{
	uintptr_t a = (uintptr_t)p;

	if (!(a & (size - 1)))
		return LK_DIRECT;
	if (size < 8 && (a & 7) + size <= 8)
		return LK_WORD;
	return HOST_UNALIGNED_ATOMICS && size <= 8 ? LK_DIRECT : -1;
}

static uint64_t *word_of(uint8_t *p, unsigned *shift)
{
	*shift = (unsigned)((uintptr_t)p & 7) * 8;
	return (uint64_t *)((uintptr_t)p & ~(uintptr_t)7);
}

static uint64_t atomic_ld(uint8_t *p, unsigned size, int mode)
{
	if (mode == LK_WORD) {
		unsigned sh;
		uint64_t *w = word_of(p, &sh);
		return (__atomic_load_n(w, __ATOMIC_SEQ_CST) >> sh) & sz_mask(size);
	}
	switch (size) {
	case 1:
		return __atomic_load_n(p, __ATOMIC_SEQ_CST);
	case 2:
		return __atomic_load_n((uint16_t *)p, __ATOMIC_SEQ_CST);
	case 4:
		return __atomic_load_n((uint32_t *)p, __ATOMIC_SEQ_CST);
	default:
		return __atomic_load_n((uint64_t *)p, __ATOMIC_SEQ_CST);
	}
}

/* 1 when *p still held old and now holds nval. */
static int atomic_cas(uint8_t *p, unsigned size, int mode, uint64_t old, uint64_t nval)
{
	if (mode == LK_WORD) {
		unsigned sh;
		uint64_t *w = word_of(p, &sh), m = sz_mask(size) << sh;
		uint64_t cur = __atomic_load_n(w, __ATOMIC_SEQ_CST);
		if (((cur & m) >> sh) != old)
			return 0;
		/* A change to the word's other bytes fails the CAS too: the caller just retries. */
		return __atomic_compare_exchange_n(w, &cur, (cur & ~m) | (nval << sh), 0,
						   __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
	}
	switch (size) {
	case 1: {
		uint8_t o = (uint8_t)old;
		return __atomic_compare_exchange_n(p, &o, (uint8_t)nval, 0, __ATOMIC_SEQ_CST,
						   __ATOMIC_SEQ_CST);
	}
	case 2: {
		uint16_t o = (uint16_t)old;
		return __atomic_compare_exchange_n((uint16_t *)p, &o, (uint16_t)nval, 0,
						   __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
	}
	case 4: {
		uint32_t o = (uint32_t)old;
		return __atomic_compare_exchange_n((uint32_t *)p, &o, (uint32_t)nval, 0,
						   __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
	}
	default:
		return __atomic_compare_exchange_n((uint64_t *)p, &old, nval, 0, __ATOMIC_SEQ_CST,
						   __ATOMIC_SEQ_CST);
	}
}

typedef unsigned __int128 u128;

/* 16-byte compare-and-swap at 16-byte aligned p; returns the value *p held. Not inlined: the
 * x86-64 CMPXCHG16B target attribute must not meet a caller compiled without it. */
#if defined(__x86_64__)
#define CAS16_ATTR __attribute__((target("cx16"), noinline))
#else
#define CAS16_ATTR
#endif
static CAS16_ATTR u128 cas16(u128 *p, u128 old, u128 nval)
{
#if EMU_HAVE_CAS16
	return __sync_val_compare_and_swap(p, old, nval);
#else
	__atomic_compare_exchange_n(p, &old, nval, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
	return old;
#endif
}

/* Linear address and size of the memory operand the locked instruction reads and writes. */
static uint64_t lock_operand(struct emu_cpu *c, const struct emu_insn *in, unsigned *size)
{
	uint64_t ea = emu_ea(c, in);

	*size = in->osize;
	if (in->op == EMU_OP_CMPXCHG8B) {
		if (in->osize == 16 && (ea & 15))
			emu_raise(c, EMU_GP, 1, 0);
	} else if (in->op == EMU_OP_BT_EG) {
		/* The bit offset is signed and may address memory beyond the operand. */
		unsigned bits = in->osize * 8;
		int64_t so = (int64_t)sz_sext(reg_get(c, in->reg, in->osize), in->osize);
		int64_t words = so >= 0 ? so / (int64_t)bits : -((-so + bits - 1) / bits);
		ea = (ea + (uint64_t)(words * (int64_t)in->osize)) & sz_mask(in->asize);
	}
	return emu_linear(c, in->seg, ea, *size, EMU_ACC_W);
}

void emu_exec_locked(struct emu_cpu *c, const struct emu_insn *orig)
{
	struct emu_insn in = *orig;
	unsigned size;
	int mode = -1;

	if (in.op == EMU_OP_LOCKED)
		in.op = in.lop;
	in.flags |= EMU_I_LOCK; /* exec.c: an XCHG marked so runs the plain implementation */
	uint64_t lin = lock_operand(c, &in, &size);
	uint8_t *p = (lin & 0xfff) <= 4096 - size ? emu_host_w(c, lin, size) : NULL;
	if (p)
		mode = lock_mode(p, size);
	if (mode < 0) {
		emu_exec_one(c, &in); /* MMIO, page-crossing, or misaligned without host support */
		return;
	}
	struct emu_tlb_entry *e = &c->tlb[(lin >> 12) & (EMU_TLB_SIZE - 1)];
	uint8_t *scratch = c->lock_page + (lin & 0xfff);
	uint64_t gpr[16], rflags = c->st.rflags;
	struct emu_lazy_flags cc = c->cc;
	memcpy(gpr, c->st.gpr, sizeof(gpr));

	for (;;) {
		uint8_t old[16];
		if (size == 16) {
			u128 v = cas16((u128 *)p, 0, 0); /* an atomic read (writes only 0 over 0) */
			memcpy(old, &v, 16);
		} else {
			uint64_t v = atomic_ld(p, size, mode);
			memcpy(old, &v, 8);
		}
		memcpy(scratch, old, size);
		c->lock_saved = *e;
		e->tag_r = e->tag_w = emu_tag(c, lin);
		e->tag_x = EMU_TLB_INVALID;
		e->addend = (uintptr_t)c->lock_page - (uintptr_t)(lin & EMU_PAGE_MASK);
		c->lock_tlb = e; /* emu_run puts the entry back if the instruction faults */
		emu_exec_one(c, &in);
		*e = c->lock_saved;
		c->lock_tlb = NULL;
		if (!memcmp(scratch, old, size)) {
			c->in_locked = 0;
			return; /* nothing to write: the atomic read was the whole access */
		}
		int ok;
		if (size == 16) {
			u128 o, n;
			memcpy(&o, old, 16);
			memcpy(&n, scratch, 16);
			ok = cas16((u128 *)p, o, n) == o;
		} else {
			uint64_t o = 0, n = 0;
			memcpy(&o, old, size);
			memcpy(&n, scratch, size);
			ok = atomic_cas(p, size, mode, o, n);
		}
		if (ok) {
			c->in_locked = 0;
			return;
		}
		/* Another vCPU wrote the operand: undo and run again on the new value. */
		memcpy(c->st.gpr, gpr, sizeof(gpr));
		c->st.rflags = rflags;
		c->cc = cc;
	}
}
