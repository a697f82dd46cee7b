/* emu: the decode cache's layout (icache.c), shared with the run loop so that the common lookup,
 * a hit in the virtual jump cache, is inline there. */
#ifndef VMON_ACCEL_EMU_ICACHE_H
#define VMON_ACCEL_EMU_ICACHE_H

#include "accel/emu/emu_priv.h"

#define IC_HASH_BITS 15
#define IC_MAX_BLOCKS (1u << 15)
#define IC_MAX_INSNS (1u << 18)
#define IC_PAGE_BITS 12
#define IC_MAX_PAGES (1u << 14)
#define IC_BLOCK_INSNS 64
#define IC_DEAD 0xff
#define IC_JC_BITS 10 /* the jump cache: a small direct-mapped front for the hash table */
#define IC_VJC_BITS 10

/* The virtual jump cache: the block last found for a linear RIP, in a mode and at a privilege,
 * valid while no TLB flush happened since (tlb_gen) and the block still translates that gpa. */
struct ic_vjc {
	uint64_t lin, gpa, gen;
	uint32_t ctx; /* mode | tlb_user << 8 */
	uint32_t bi;  /* block index + 1 */
};

struct ic_page {
	uint64_t page;
	uint32_t blocks; /* first block index + 1 */
	uint32_t next;	 /* next record in the hash chain (or free list), index + 1 */
};

struct emu_icache {
	struct ic_vjc vjc[1u << IC_VJC_BITS];
	uint32_t jc[1u << IC_JC_BITS]; /* block index + 1 of a recent block at this slot, or 0 */
	uint32_t hash[1u << IC_HASH_BITS];
	uint32_t page_hash[1u << IC_PAGE_BITS];
	uint32_t nblocks, ninsns, npages, page_free;
	uint64_t flushes;
	struct emu_block blocks[IC_MAX_BLOCKS];
	uint32_t block_page1_next[IC_MAX_BLOCKS]; /* list link on the block's second page */
	struct ic_page pages[IC_MAX_PAGES];
	struct emu_insn insns[IC_MAX_INSNS];
	struct emu_block tmp_block; /* uncached: code fetched from MMIO */
	struct emu_insn tmp_insn;
};

static inline uint32_t ic_vjc_slot(uint64_t lin)
{
	return (uint32_t)(lin ^ (lin >> IC_VJC_BITS)) & ((1u << IC_VJC_BITS) - 1);
}

/* What a jump-cache entry was filled under: the decode mode and the privilege of the TLB tags. */
static inline uint32_t ic_ctx(const struct emu_cpu *c)
{
	return c->mode | (uint32_t)c->tlb_user << 8;
}

/* The block at CS:RIP when the virtual jump cache knows it, else NULL (emu_icache_get_slow). */
static inline const struct emu_block *emu_icache_get_fast(struct emu_cpu *c,
							  const struct emu_insn **insns)
{
	struct emu_icache *ic = c->icache;
	uint64_t lin = (c->seg_base[X86_CS] + c->st.rip) & c->lin_mask;
	const struct ic_vjc *v = &ic->vjc[ic_vjc_slot(lin)];
	uint32_t ctx = ic_ctx(c);

	if (likely(v->lin == lin && v->gen == c->tlb_gen && v->ctx == ctx && v->bi &&
		   v->bi <= ic->nblocks)) {
		const struct emu_block *b = &ic->blocks[v->bi - 1];
		if (likely(b->gpa == v->gpa && b->mode == c->mode)) {
			*insns = &ic->insns[b->first];
			return b;
		}
	}
	return NULL;
}

#endif
