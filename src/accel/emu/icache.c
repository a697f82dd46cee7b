/* emu: decode cache. Decoded instructions are grouped into blocks (runs that go on past
 * conditional branches and end at any other control transfer, an unimplemented/invalid
 * instruction, 64 instructions, or a page end) and looked up by the guest-physical address of
 * their first byte plus the decode mode, so a block survives page-table changes and is shared by
 * every linear alias of the code.
 *
 * Memory: one allocation holding fixed pools of blocks and instructions; when either pool is full
 * the whole cache is flushed (no per-block freeing, no malloc on the execution path).
 *
 * Coherence: each page holding decoded code has a page record listing its blocks. mem.c never
 * installs a TLB write tag for such a page, so the first store to it lands in emu_st_slow, which
 * calls emu_icache_invalidate_page: the page's blocks are marked dead (they stay in the pools
 * until the next full flush, so a block being executed stays readable) and the run loop leaves
 * the current block after the storing instruction. */
#include <stddef.h>
#include <stdlib.h>

#include "accel/emu/emu_priv.h"
#include "accel/emu/icache.h"

static inline uint32_t ic_hash(uint64_t gpa, unsigned mode)
{
	return (uint32_t)(((gpa ^ ((uint64_t)mode << 60)) * 0x9e3779b97f4a7c15ull) >>
			  (64 - IC_HASH_BITS));
}

static inline uint32_t ic_page_hash(uint64_t page)
{
	return (uint32_t)(((page >> 12) * 0x9e3779b97f4a7c15ull) >> (64 - IC_PAGE_BITS));
}

int emu_icache_init(struct emu_cpu *c)
{
	c->icache = calloc(1, sizeof(*c->icache));
	return c->icache ? 0 : -1;
}

void emu_icache_destroy(struct emu_cpu *c)
{
	free(c->icache);
	c->icache = NULL;
}

static void ic_flush(struct emu_icache *ic)
{
	memset(ic->jc, 0, sizeof(ic->jc));
	memset(ic->hash, 0, sizeof(ic->hash));
	memset(ic->page_hash, 0, sizeof(ic->page_hash));
	ic->nblocks = ic->ninsns = ic->npages = ic->page_free = 0;
	ic->flushes++;
}

static struct ic_page *ic_page_find(struct emu_icache *ic, uint64_t page, uint32_t **link)
{
	uint32_t *l = &ic->page_hash[ic_page_hash(page)];

	while (*l) {
		struct ic_page *p = &ic->pages[*l - 1];
		if (p->page == page) {
			if (link)
				*link = l;
			return p;
		}
		l = &p->next;
	}
	return NULL;
}

int emu_icache_page_has_code(const struct emu_cpu *c, uint64_t page)
{
	return ic_page_find(c->icache, page, NULL) != NULL;
}

/* Link block bi into the list of page (creating the record, and telling the VMM). Returns 0, or
 * -1 when full. */
static int ic_page_add(struct emu_cpu *c, uint64_t page, uint32_t bi, uint32_t *next_slot)
{
	struct emu_icache *ic = c->icache;
	struct ic_page *p = ic_page_find(ic, page, NULL);

	if (!p) {
		uint32_t idx;
		if (ic->page_free) {
			idx = ic->page_free - 1;
			ic->page_free = ic->pages[idx].next;
		} else if (ic->npages < IC_MAX_PAGES) {
			idx = ic->npages++;
		} else {
			return -1;
		}
		p = &ic->pages[idx];
		p->page = page;
		p->blocks = 0;
		uint32_t *head = &ic->page_hash[ic_page_hash(page)];
		p->next = *head;
		*head = idx + 1;
		if (c->ops->code_page)
			c->ops->code_page(c->ctx, page);
	}
	*next_slot = p->blocks;
	p->blocks = bi + 1;
	return 0;
}

void emu_icache_invalidate_page(struct emu_cpu *c, uint64_t page)
{
	struct emu_icache *ic = c->icache;
	uint32_t *link;
	struct ic_page *p = ic_page_find(ic, page, &link);

	if (!p)
		return;
	for (uint32_t i = p->blocks; i;) {
		struct emu_block *b = &ic->blocks[i - 1];
		uint32_t next =
		    (b->gpa & EMU_PAGE_MASK) == page ? b->page_next : ic->block_page1_next[i - 1];
		b->mode = IC_DEAD;
		i = next;
	}
	*link = p->next;
	p->next = ic->page_free;
	ic->page_free = (uint32_t)(p - ic->pages) + 1;
	c->stop_block = 1;
}

/* Ranges of more pages than this drop the whole decode cache instead of being walked page by
 * page: "everything" (gpa 0, len ~0, a vCPU's overflowed invalidation queue) would otherwise be
 * 2^52 page lookups, made while the vCPU's invalidation lock is held. */
#define IC_INVAL_WALK_MAX 256u

void emu_invalidate_phys(struct emu_cpu *c, uint64_t gpa, uint64_t len)
{
	uint64_t end;

	if (!len)
		return;
	if (__builtin_add_overflow(gpa, len - 1, &end))
		end = UINT64_MAX;
	if (((end & EMU_PAGE_MASK) - (gpa & EMU_PAGE_MASK)) / 4096 >= IC_INVAL_WALK_MAX) {
		ic_flush(c->icache);
		c->stop_block = 1;
		return;
	}
	for (uint64_t pg = gpa & EMU_PAGE_MASK; pg <= (end & EMU_PAGE_MASK); pg += 4096) {
		emu_icache_invalidate_page(c, pg);
		if (pg + 4096 == 0)
			break;
	}
}

/* Make sure no TLB entry lets stores reach page without the slow path. */
static void ic_protect_page(struct emu_cpu *c, uint64_t page)
{
	for (unsigned i = 0; i < EMU_TLB_SIZE; i++)
		if (c->tlb[i].gpa == page)
			c->tlb[i].tag_w = EMU_TLB_INVALID;
}

/* Decode the instruction at the start of a block when it crosses into the next page. */
static int ic_decode_cross(struct emu_cpu *c, const uint8_t *host, unsigned avail, uint64_t lin,
			   struct emu_insn *in, uint64_t *page1)
{
	uint8_t buf[EMU_INSN_MAX];
	uint64_t next_lin = ((lin & EMU_PAGE_MASK) + 4096) & c->lin_mask, gpa;

	memcpy(buf, host, avail);
	struct emu_tlb_entry *e = emu_tlb_fill(c, next_lin, EMU_ACC_X, &gpa);
	for (unsigned i = avail; i < EMU_INSN_MAX; i++)
		buf[i] = e ? *(const uint8_t *)(uintptr_t)(next_lin + (i - avail) + e->addend)
			   : (uint8_t)c->ops->mmio_read(c->ctx, gpa + (i - avail), 1);
	*page1 = gpa & EMU_PAGE_MASK;
	return emu_decode(buf, EMU_INSN_MAX, c->mode, in);
}

static const struct emu_block *ic_mmio_block(struct emu_cpu *c, uint64_t gpa,
					     const struct emu_insn **insns)
{
	struct emu_icache *ic = c->icache;
	uint8_t buf[EMU_INSN_MAX];

	for (unsigned i = 0; i < EMU_INSN_MAX; i++)
		buf[i] = (uint8_t)c->ops->mmio_read(c->ctx, gpa + i, 1);
	int r = emu_decode(buf, EMU_INSN_MAX, c->mode, &ic->tmp_insn);
	if (r == EMU_DEC_GP)
		emu_raise(c, EMU_GP, 1, 0);
	if (r == EMU_DEC_UD)
		ic->tmp_insn.op = EMU_OP_UD;
	ic->tmp_insn.hid = emu_handler_select(&ic->tmp_insn, c->mode);
	ic->tmp_block = (struct emu_block){.gpa = gpa, .n = 1, .mode = IC_DEAD};
	*insns = &ic->tmp_insn;
	return &ic->tmp_block;
}

static const struct emu_block *ic_translate(struct emu_cpu *c, uint64_t lin, uint64_t gpa,
					    const struct emu_tlb_entry *e,
					    const struct emu_insn **insns)
{
	struct emu_icache *ic = c->icache;

	if (ic->nblocks >= IC_MAX_BLOCKS || ic->ninsns + IC_BLOCK_INSNS > IC_MAX_INSNS ||
	    ic->npages + 2 > IC_MAX_PAGES)
		ic_flush(ic);

	uint32_t bi = ic->nblocks;
	struct emu_block *b = &ic->blocks[bi];
	struct emu_insn *out = &ic->insns[ic->ninsns];
	const uint8_t *host = (const uint8_t *)(uintptr_t)((lin & EMU_PAGE_MASK) + e->addend);
	unsigned off = lin & 0xfff, n = 0;
	uint64_t page0 = gpa & EMU_PAGE_MASK, page1 = page0;

	while (n < IC_BLOCK_INSNS && off < 4096) {
		struct emu_insn *in = &out[n];
		int r = emu_decode(host + off, 4096 - off, c->mode, in);
		if (r == EMU_DEC_MORE) {
			if (n > 0)
				break;
			r = ic_decode_cross(c, host + off, 4096 - off, lin, in, &page1);
		}
		if (r == EMU_DEC_GP) {
			if (n > 0)
				break;
			emu_raise(c, EMU_GP, 1, 0);
		}
		if (r == EMU_DEC_UD) {
			in->op = EMU_OP_UD;
			in->flags |= EMU_I_END;
		}
		in->hid = emu_handler_select(in, c->mode);
		n++;
		off += in->len;
		/* A block goes on past a conditional branch (its fall-through is on the same page);
		 * the run loop leaves the block when the branch is taken. */
		if ((in->flags & EMU_I_END) && in->op != EMU_OP_JCC)
			break;
	}
	*b = (struct emu_block){
	    .gpa = gpa, .gpa_last = page1, .first = ic->ninsns, .n = (uint16_t)n, .mode = c->mode};
	if (ic_page_add(c, page0, bi, &b->page_next) ||
	    (page1 != page0 && ic_page_add(c, page1, bi, &ic->block_page1_next[bi]))) {
		ic_flush(ic); /* page table full: start over (retranslated on the next lookup) */
		ic->tmp_block = *b;
		ic->tmp_block.mode = IC_DEAD;
		*insns = out;
		return &ic->tmp_block;
	}
	ic->nblocks++;
	ic->ninsns += n;
	uint32_t h = ic_hash(gpa, c->mode);
	b->hash_next = ic->hash[h];
	ic->hash[h] = bi + 1;
	ic_protect_page(c, page0);
	if (page1 != page0)
		ic_protect_page(c, page1);
	*insns = out;
	return b;
}

static const struct emu_block *ic_lookup(struct emu_cpu *c, uint64_t lin,
					 const struct emu_insn **insns);

const struct emu_block *emu_icache_get_slow(struct emu_cpu *c, const struct emu_insn **insns)
{
	struct emu_icache *ic = c->icache;
	uint64_t lin = (c->seg_base[X86_CS] + c->st.rip) & c->lin_mask;
	struct ic_vjc *v = &ic->vjc[ic_vjc_slot(lin)];
	const struct emu_block *b = ic_lookup(c, lin, insns);

	if (b->mode != IC_DEAD) { /* a cached block (not an MMIO or uncached one) */
		v->lin = lin;
		v->gpa = b->gpa;
		v->gen = c->tlb_gen;
		v->ctx = ic_ctx(c);
		v->bi = (uint32_t)(b - ic->blocks) + 1;
	}
	return b;
}

static const struct emu_block *ic_lookup(struct emu_cpu *c, uint64_t lin,
					 const struct emu_insn **insns)
{
	struct emu_icache *ic = c->icache;
	uint64_t gpa;
	struct emu_tlb_entry *e = &c->tlb[(lin >> 12) & (EMU_TLB_SIZE - 1)];

	if (likely(e->tag_x == emu_tag(c, lin))) {
		gpa = e->gpa | (lin & 0xfff);
	} else {
		e = emu_tlb_fill(c, lin, EMU_ACC_X, &gpa);
		if (!e)
			return ic_mmio_block(c, gpa, insns);
	}
	/* A slot holds any block index up to nblocks; a block whose gpa and mode match is a valid
	 * translation whichever way it got there (dead blocks have mode IC_DEAD). */
	uint32_t *jc = &ic->jc[(uint32_t)(gpa ^ (gpa >> IC_JC_BITS)) & ((1u << IC_JC_BITS) - 1)];
	uint32_t j = *jc;
	if (likely(j && j <= ic->nblocks)) {
		const struct emu_block *b = &ic->blocks[j - 1];
		if (likely(b->gpa == gpa && b->mode == c->mode)) {
			*insns = &ic->insns[b->first];
			return b;
		}
	}
	for (uint32_t i = ic->hash[ic_hash(gpa, c->mode)]; i;) {
		const struct emu_block *b = &ic->blocks[i - 1];
		if (b->gpa == gpa && b->mode == c->mode) {
			*jc = i;
			*insns = &ic->insns[b->first];
			return b;
		}
		i = b->hash_next;
	}
	return ic_translate(c, lin, gpa, e, insns);
}

void emu_icache_reset(struct emu_cpu *c)
{
	/* Everything before the pools: the lookup caches, the hash heads and the counters. The
	 * pools' stale contents are unreachable once those are zero (as after a fresh calloc). */
	memset(c->icache, 0, offsetof(struct emu_icache, blocks));
}
