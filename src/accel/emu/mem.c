/* emu: software TLB, memory slow paths (page-crossing, MMIO, code-page writes), segmentation
 * checks.
 *
 * The TLB is direct mapped, indexed by linear page number. An entry caches one 4 KiB linear page
 * with a host address delta; tag_r/tag_w/tag_x say which accesses may use it. A write tag is never
 * installed for a page that holds decoded code, so stores to code always reach emu_st_slow, which
 * drops the stale decoded blocks first (self-modifying code, module loading). */
#include "accel/emu/emu_priv.h"

static inline void tlb_kill(struct emu_tlb_entry *e)
{
	e->tag_r = e->tag_w = e->tag_x = EMU_TLB_INVALID;
	e->gpa = EMU_TLB_INVALID;
	e->global = 0;
}

void emu_tlb_flush(struct emu_cpu *c)
{
	c->tlb_gen++;
	for (unsigned i = 0; i < EMU_TLB_SIZE; i++)
		tlb_kill(&c->tlb[i]);
}

void emu_tlb_flush_nonglobal(struct emu_cpu *c)
{
	c->tlb_gen++;
	for (unsigned i = 0; i < EMU_TLB_SIZE; i++)
		if (!c->tlb[i].global)
			tlb_kill(&c->tlb[i]);
}

/* INVLPG: every entry that came from the guest page containing lin (large pages were split). */
void emu_tlb_flush_page(struct emu_cpu *c, uint64_t lin)
{
	c->tlb_gen++;
	for (unsigned i = 0; i < EMU_TLB_SIZE; i++) {
		struct emu_tlb_entry *e = &c->tlb[i];
		if (e->tag_r != EMU_TLB_INVALID && !((e->tag_r ^ lin) & e->lmask))
			tlb_kill(e);
	}
}

struct emu_tlb_entry *emu_tlb_fill(struct emu_cpu *c, uint64_t lin, int acc, uint64_t *gpa)
{
	uint64_t page = lin & EMU_PAGE_MASK, pa;
	uint32_t err;
	int r = emu_mmu_translate(c, page, acc, &pa, &err);

	if (r < 0)
		emu_exit_now(c, EMU_EXIT_UNIMPL);
	if (r > 0) {
		if (r - 1 == EMU_PF)
			c->st.cr2 = lin;
		emu_raise(c, (unsigned)r - 1, 1, err);
	}
	*gpa = pa | (lin & 0xfff);
	uint8_t *host = c->ops->ram_ptr(c->ctx, pa, acc == EMU_ACC_W);
	if (!host)
		return NULL;

	struct emu_tlb_entry *e = &c->tlb[(lin >> 12) & (EMU_TLB_SIZE - 1)];
	uint64_t tag = page | c->tlb_user;
	if (e->gpa != pa || e->addend != (uintptr_t)host - page ||
	    (e->tag_r & ~EMU_PAGE_MASK) != c->tlb_user)
		e->tag_r = e->tag_w = e->tag_x = EMU_TLB_INVALID;
	e->addend = (uintptr_t)host - page;
	e->gpa = pa;
	e->global = c->walk_global;
	e->lmask = ~((4096ull << c->walk_large) - 1);
	e->tag_r = tag;
	if (acc == EMU_ACC_X)
		e->tag_x = tag;
	if (acc == EMU_ACC_W && !emu_icache_page_has_code(c, pa))
		e->tag_w = tag;
	return e;
}

uint64_t emu_ld_slow(struct emu_cpu *c, uint64_t lin, unsigned size)
{
	uint64_t gpa;

	if ((lin & 0xfff) + size > 4096) {
		uint64_t v = 0;
		/* Translate both pages before reading (an MMIO read may have side effects). */
		emu_tlb_fill(c, lin, EMU_ACC_R, &gpa);
		emu_tlb_fill(c, (lin + size - 1) & c->lin_mask, EMU_ACC_R, &gpa);
		for (unsigned i = 0; i < size; i++)
			v |= emu_ld_lin(c, (lin + i) & c->lin_mask, 1) << (8 * i);
		return v;
	}
	struct emu_tlb_entry *e = emu_tlb_fill(c, lin, EMU_ACC_R, &gpa);
	if (e)
		return ld_host((const uint8_t *)(uintptr_t)(lin + e->addend), size);
	return c->ops->mmio_read(c->ctx, gpa, size) & sz_mask(size);
}

void emu_st_slow(struct emu_cpu *c, uint64_t lin, unsigned size, uint64_t v)
{
	uint64_t gpa;

	if ((lin & 0xfff) + size > 4096) {
		emu_tlb_fill(c, lin, EMU_ACC_W, &gpa);
		emu_tlb_fill(c, (lin + size - 1) & c->lin_mask, EMU_ACC_W, &gpa);
		for (unsigned i = 0; i < size; i++)
			emu_st_lin(c, (lin + i) & c->lin_mask, 1, v >> (8 * i));
		return;
	}
	struct emu_tlb_entry *e = emu_tlb_fill(c, lin, EMU_ACC_W, &gpa);
	if (!e) {
		c->ops->mmio_write(c->ctx, gpa, size, v & sz_mask(size));
		return;
	}
	if (e->tag_w != emu_tag(c, lin)) {
		/* The page holds decoded code: drop it, then the write tag can be installed. */
		emu_icache_invalidate_page(c, gpa & EMU_PAGE_MASK);
		e->tag_w = emu_tag(c, lin);
	}
	st_host((uint8_t *)(uintptr_t)(lin + e->addend), size, v);
}

uint8_t *emu_host_w(struct emu_cpu *c, uint64_t lin, unsigned size)
{
	struct emu_tlb_entry *e = &c->tlb[(lin >> 12) & (EMU_TLB_SIZE - 1)];
	uint64_t gpa;

	if ((lin & 0xfff) + size > 4096)
		return NULL;
	if (e->tag_w != emu_tag(c, lin)) {
		e = emu_tlb_fill(c, lin, EMU_ACC_W, &gpa);
		if (!e)
			return NULL;
		if (e->tag_w != emu_tag(c, lin)) {
			emu_icache_invalidate_page(c, gpa & EMU_PAGE_MASK);
			e->tag_w = emu_tag(c, lin);
		}
	}
	return (uint8_t *)(uintptr_t)(lin + e->addend);
}

const uint8_t *emu_host_r(struct emu_cpu *c, uint64_t lin, unsigned size)
{
	struct emu_tlb_entry *e = &c->tlb[(lin >> 12) & (EMU_TLB_SIZE - 1)];
	uint64_t gpa;

	if ((lin & 0xfff) + size > 4096)
		return NULL;
	if (e->tag_r != emu_tag(c, lin)) {
		e = emu_tlb_fill(c, lin, EMU_ACC_R, &gpa);
		if (!e)
			return NULL;
	}
	return (const uint8_t *)(uintptr_t)(lin + e->addend);
}

void emu_probe_write(struct emu_cpu *c, unsigned seg, uint64_t ea, unsigned size)
{
	uint64_t lin = emu_linear(c, seg, ea, size, EMU_ACC_W), gpa;
	struct emu_tlb_entry *e = &c->tlb[(lin >> 12) & (EMU_TLB_SIZE - 1)];

	if (e->tag_w != emu_tag(c, lin))
		emu_tlb_fill(c, lin, EMU_ACC_W, &gpa);
	if ((lin & 0xfff) + size > 4096)
		emu_tlb_fill(c, (lin + size - 1) & c->lin_mask, EMU_ACC_W, &gpa);
}

/* Segment checks outside 64-bit mode: presence, type, and limit (expand-up and expand-down). */
uint64_t emu_seg_linear(struct emu_cpu *c, unsigned seg, uint64_t ea, unsigned size, int acc)
{
	const struct x86_segment *s = &c->st.seg[seg];
	unsigned vec = seg == X86_SS ? EMU_SS : EMU_GP;
	uint64_t last = ea + size - 1;

	if (c->mode == EMU_MODE_64)
		return (c->seg_base[seg] + ea) & c->lin_mask;
	if (c->st.cr0 & X86_CR0_PE) {
		if (s->unusable || !s->present)
			emu_raise(c, vec, 1, 0);
		if (acc == EMU_ACC_W && ((s->type & 8) || !(s->type & 2)))
			emu_raise(c, vec, 1, 0); /* code segment or read-only data */
		if (acc == EMU_ACC_R && (s->type & 8) && !(s->type & 2))
			emu_raise(c, vec, 1, 0); /* execute-only code */
	}
	if (!(s->type & 8) && (s->type & 4)) { /* expand-down data */
		uint64_t top = s->db ? 0xffffffffull : 0xffffull;
		if (ea <= s->limit || last > top)
			emu_raise(c, vec, 1, 0);
	} else if (last > s->limit) {
		emu_raise(c, vec, 1, 0);
	}
	return (s->base + ea) & 0xffffffffull;
}

unsigned emu_fetch_nofault(struct emu_cpu *c, uint64_t rip, uint8_t *buf, unsigned len)
{
	unsigned n = 0;

	while (n < len) {
		uint64_t lin = (c->seg_base[X86_CS] + rip + n) & c->lin_mask, gpa;
		uint32_t err;
		if (emu_mmu_translate(c, lin, EMU_ACC_X, &gpa, &err))
			break;
		uint8_t *p = c->ops->ram_ptr(c->ctx, gpa & EMU_PAGE_MASK, 0);
		if (!p)
			break;
		buf[n++] = p[gpa & 0xfff];
	}
	return n;
}
