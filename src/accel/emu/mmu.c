/* emu: linear to guest-physical translation (the software MMU's page walks).
 *
 * Paging off: identity (truncated to 32 bits outside long mode). Paging on, three forms:
 * - 32-bit (CR4.PAE=0): 2 levels of 4-byte entries, 4 MiB pages with CR4.PSE;
 * - PAE (CR4.PAE=1, EFER.LMA=0): 4 PDPTEs loaded at CR3 write time, then 2 levels of 8-byte
 *   entries with 2 MiB pages;
 * - 4-level (EFER.LMA=1): canonical check, then 4 levels with 1 GiB/2 MiB pages.
 * All forms check U/S, R/W (CR0.WP for supervisor writes), NX (EFER.NXE, 8-byte entries only),
 * reserved bits (#PF with RSVD), and set accessed/dirty bits with host atomics so that vCPUs on
 * parallel threads and the guest's own atomic PTE updates (cmpxchg on PTEs) interleave safely.
 * Global pages (G in the leaf with CR4.PGE) are reported in c->walk_global so the TLB keeps them
 * across CR3 writes. The walk does not cache anything itself: the TLB in mem.c caches its results
 * per 4 KiB page (large pages are split into 4 KiB entries, c->walk_large gives the page size for
 * INVLPG). 5-level paging, PCID, SMEP/SMAP and protection keys are not implemented (and not
 * advertised in CPUID). */
#include "accel/emu/emu_priv.h"

#define PTE_P 0x1ull
#define PTE_W 0x2ull
#define PTE_U 0x4ull
#define PTE_A 0x20ull
#define PTE_D 0x40ull
#define PTE_PS 0x80ull
#define PTE_G 0x100ull
#define PTE_NX (1ull << 63)
#define PHYS_BITS EMU_PHYS_BITS /* MAXPHYADDR, as CPUID 0x80000008 reports */
#define PTE_ADDR (((1ull << PHYS_BITS) - 1) & ~0xfffull)
#define PTE_RSVD_HI (((1ull << 52) - 1) & ~((1ull << PHYS_BITS) - 1)) /* 51:MAXPHYADDR */

/* #PF error code bits */
#define PFE_P 0x1u
#define PFE_W 0x2u
#define PFE_U 0x4u
#define PFE_RSVD 0x8u
#define PFE_I 0x10u

struct walk {
	int user, write, fetch;
	uint64_t allow_w, allow_u, nx;
	unsigned n;
	void *slots[5];
	uint8_t wide[5]; /* 8-byte entry */
};

static void *pte_ptr(struct emu_cpu *c, uint64_t gpa, unsigned size)
{
	return c->ops->ram_ptr(c->ctx, gpa & ~(uint64_t)(size - 1), 1);
}

static inline uint64_t pte_load(const void *p, unsigned size)
{
	if (size == 8)
		return __atomic_load_n((const uint64_t *)p, __ATOMIC_RELAXED);
	return __atomic_load_n((const uint32_t *)p, __ATOMIC_RELAXED);
}

/* Permission checks and A/D updates after the leaf; returns 0 or EMU_PF + 1. */
static int walk_finish(struct emu_cpu *c, struct walk *w, uint32_t *err)
{
	*err |= PFE_P;
	if (w->user && !w->allow_u)
		return EMU_PF + 1;
	if (w->write && !w->allow_w && (w->user || (c->st.cr0 & X86_CR0_WP)))
		return EMU_PF + 1;
	if (w->fetch && w->nx && (c->st.efer & X86_EFER_NXE))
		return EMU_PF + 1;
	for (unsigned i = 0; i < w->n; i++) {
		uint64_t set = PTE_A | (w->write && i == w->n - 1 ? PTE_D : 0);
		if (w->wide[i]) {
			uint64_t *p = w->slots[i];
			if ((__atomic_load_n(p, __ATOMIC_RELAXED) & set) != set)
				__atomic_fetch_or(p, set, __ATOMIC_SEQ_CST);
		} else {
			uint32_t *p = w->slots[i];
			if ((__atomic_load_n(p, __ATOMIC_RELAXED) & set) != set)
				__atomic_fetch_or(p, (uint32_t)set, __ATOMIC_SEQ_CST);
		}
	}
	*err &= ~PFE_P;
	return 0;
}

/* Reserved bits of an 8-byte paging entry at level (0 = PTE) with the given PS bit. */
static uint64_t rsvd64(const struct emu_cpu *c, unsigned level, int ps)
{
	uint64_t r = PTE_RSVD_HI;

	if (!(c->st.efer & X86_EFER_NXE))
		r |= PTE_NX;
	if (level == 3)
		r |= PTE_PS; /* PML4E */
	if (ps && level == 2)
		r |= 0x3fffe000ull; /* 1 GiB page: bits 29:13 */
	if (ps && level == 1)
		r |= 0x1fe000ull; /* 2 MiB page: bits 20:13 */
	return r;
}

/* 8-byte-entry walk from table (4-level: top = 3; PAE: top = 1 below a PDPTE). */
static int walk64(struct emu_cpu *c, struct walk *w, uint64_t lin, uint64_t table, int top,
		  uint64_t *gpa, uint32_t *err)
{
	uint64_t pte = 0;
	int level;

	for (level = top; level >= 0; level--) {
		void *slot = pte_ptr(c, table + ((lin >> (12 + 9 * level)) & 0x1ff) * 8, 8);
		if (!slot)
			return EMU_PF + 1; /* page table outside RAM: treat as not present */
		pte = pte_load(slot, 8);
		if (!(pte & PTE_P))
			return EMU_PF + 1;
		int ps = level > 0 && (pte & PTE_PS);
		if (pte & rsvd64(c, (unsigned)level, ps)) {
			*err |= PFE_P | PFE_RSVD;
			return EMU_PF + 1;
		}
		w->slots[w->n] = slot;
		w->wide[w->n++] = 1;
		w->allow_w &= !!(pte & PTE_W);
		w->allow_u &= !!(pte & PTE_U);
		w->nx |= pte & PTE_NX;
		if (ps)
			break;
		table = pte & PTE_ADDR;
	}
	if (level < 0)
		level = 0;
	int r = walk_finish(c, w, err);
	if (r)
		return r;
	uint64_t off_mask = (1ull << (12 + 9 * level)) - 1;
	*gpa = ((pte & PTE_ADDR) & ~off_mask) | (lin & off_mask);
	c->walk_global = (pte & PTE_G) && (c->st.cr4 & X86_CR4_PGE);
	c->walk_large = (uint8_t)(9 * level);
	return 0;
}

/* 32-bit paging: 4-byte entries, 4 MiB pages with CR4.PSE (no PSE-36: bits 21:13 reserved). */
static int walk32(struct emu_cpu *c, struct walk *w, uint64_t lin, uint64_t *gpa, uint32_t *err)
{
	void *slot = pte_ptr(c, (c->st.cr3 & 0xfffff000u) + ((lin >> 22) & 0x3ff) * 4, 4);
	uint64_t pde, pte;

	if (!slot)
		return EMU_PF + 1;
	pde = pte_load(slot, 4);
	if (!(pde & PTE_P))
		return EMU_PF + 1;
	w->slots[w->n] = slot;
	w->wide[w->n++] = 0;
	w->allow_w = !!(pde & PTE_W);
	w->allow_u = !!(pde & PTE_U);
	if ((pde & PTE_PS) && (c->st.cr4 & X86_CR4_PSE)) {
		if (pde & 0x3fe000u) {
			*err |= PFE_P | PFE_RSVD;
			return EMU_PF + 1;
		}
		int r = walk_finish(c, w, err);
		if (r)
			return r;
		*gpa = (pde & 0xffc00000u) | (lin & 0x3fffff);
		c->walk_global = (pde & PTE_G) && (c->st.cr4 & X86_CR4_PGE);
		c->walk_large = 10;
		return 0;
	}
	slot = pte_ptr(c, (pde & 0xfffff000u) + ((lin >> 12) & 0x3ff) * 4, 4);
	if (!slot)
		return EMU_PF + 1;
	pte = pte_load(slot, 4);
	if (!(pte & PTE_P))
		return EMU_PF + 1;
	w->slots[w->n] = slot;
	w->wide[w->n++] = 0;
	w->allow_w &= !!(pte & PTE_W);
	w->allow_u &= !!(pte & PTE_U);
	int r = walk_finish(c, w, err);
	if (r)
		return r;
	*gpa = (pte & 0xfffff000u) | (lin & 0xfff);
	c->walk_global = (pte & PTE_G) && (c->st.cr4 & X86_CR4_PGE);
	c->walk_large = 0;
	return 0;
}

int emu_load_pdptes(struct emu_cpu *c, uint64_t cr3)
{
	uint64_t base = cr3 & 0xffffffe0u, v[4];

	for (int i = 0; i < 4; i++) {
		const uint8_t *p = c->ops->ram_ptr(c->ctx, base + 8 * i, 0);
		if (!p)
			return -1;
		memcpy(&v[i], p, 8);
		if ((v[i] & PTE_P) && (v[i] & (PTE_RSVD_HI | PTE_NX | 0x1e6ull)))
			return -1; /* bits 2:1, 8:5, 63:MAXPHYADDR */
	}
	memcpy(c->pdpte, v, sizeof(v));
	return 0;
}

int emu_mmu_translate(struct emu_cpu *c, uint64_t lin, int acc, uint64_t *gpa, uint32_t *err)
{
	struct walk w = {.user = c->cpl == 3,
			 .write = acc == EMU_ACC_W,
			 .fetch = acc == EMU_ACC_X,
			 .allow_w = 1,
			 .allow_u = 1};

	c->walk_global = 0;
	c->walk_large = 0;
	*err = 0;
	if (!(c->st.cr0 & X86_CR0_PG)) {
		*gpa = lin & c->lin_mask;
		return 0;
	}
	*err = (w.write ? PFE_W : 0) | (w.user ? PFE_U : 0);
	if (c->st.efer & X86_EFER_LMA) {
		uint64_t top = (uint64_t)((int64_t)(lin << 16) >> 16);
		if (top != lin)
			return EMU_GP + 1;
		if (w.fetch && (c->st.efer & X86_EFER_NXE))
			*err |= PFE_I;
		return walk64(c, &w, lin, c->st.cr3 & PTE_ADDR, 3, gpa, err);
	}
	lin &= 0xffffffffu;
	if (!(c->st.cr4 & X86_CR4_PAE))
		return walk32(c, &w, lin, gpa, err);
	if (w.fetch && (c->st.efer & X86_EFER_NXE))
		*err |= PFE_I;
	uint64_t pdpte = c->pdpte[lin >> 30];
	if (!(pdpte & PTE_P))
		return EMU_PF + 1;
	return walk64(c, &w, lin, pdpte & PTE_ADDR, 1, gpa, err);
}
