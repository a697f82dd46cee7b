/* emu: linear to guest-physical translation (the software MMU's page walk).
 *
 * Paging off: identity (truncated to 32 bits outside long mode). Long mode: the 4-level walk
 * with 1 GiB/2 MiB pages, U/S, R/W (with CR0.WP), NX (with EFER.NXE), and accessed/dirty bit
 * updates. 32-bit legacy and PAE paging are not implemented yet (EMU_EXIT_UNIMPL); 5-level
 * paging, PCID and protection keys come later. The walk does not cache anything itself: the TLB
 * in mem.c caches its results per 4 KiB page, so large pages are split into 4 KiB entries. */
#include "accel/emu/emu_priv.h"

#define PTE_P 0x1ull
#define PTE_W 0x2ull
#define PTE_U 0x4ull
#define PTE_A 0x20ull
#define PTE_D 0x40ull
#define PTE_PS 0x80ull
#define PTE_NX (1ull << 63)
#define PTE_ADDR 0x000ffffffffff000ull

/* #PF error code bits */
#define PFE_P 0x1u
#define PFE_W 0x2u
#define PFE_U 0x4u
#define PFE_RSVD 0x8u
#define PFE_I 0x10u

static uint64_t *pte_ptr(struct emu_cpu *c, uint64_t gpa)
{
	uint8_t *p = c->ops->ram_ptr(c->ctx, gpa & ~7ull, 1);
	return (uint64_t *)(void *)p;
}

static int mmu_walk64(struct emu_cpu *c, uint64_t lin, int acc, uint64_t *gpa, uint32_t *err)
{
	uint64_t table = c->st.cr3 & PTE_ADDR, pte = 0, *slots[4];
	int user = c->cpl == 3, write = acc == EMU_ACC_W, fetch = acc == EMU_ACC_X;
	uint64_t allow_w = 1, allow_u = 1, nx = 0;
	int level, n = 0;

	*err = (write ? PFE_W : 0) | (user ? PFE_U : 0) |
	       (fetch && (c->st.efer & X86_EFER_NXE) ? PFE_I : 0);
	for (level = 3; level >= 0; level--) {
		uint64_t *slot = pte_ptr(c, table + ((lin >> (12 + 9 * level)) & 0x1ff) * 8);
		if (!slot)
			return EMU_PF + 1; /* page table outside RAM: treat as not present */
		memcpy(&pte, slot, 8);
		if (!(pte & PTE_P))
			return EMU_PF + 1;
		slots[n++] = slot;
		allow_w &= !!(pte & PTE_W);
		allow_u &= !!(pte & PTE_U);
		nx |= pte & PTE_NX;
		if (level > 0 && level < 3 && (pte & PTE_PS))
			break;
		if (level == 3 && (pte & PTE_PS)) {
			*err |= PFE_P | PFE_RSVD;
			return EMU_PF + 1;
		}
		table = pte & PTE_ADDR;
	}
	*err |= PFE_P;
	if (user && !allow_u)
		return EMU_PF + 1;
	if (write && !allow_w && (user || (c->st.cr0 & X86_CR0_WP)))
		return EMU_PF + 1;
	if (fetch && nx && (c->st.efer & X86_EFER_NXE))
		return EMU_PF + 1;
	for (int i = 0; i < n; i++) {
		uint64_t v, set = PTE_A | (write && i == n - 1 ? PTE_D : 0);
		memcpy(&v, slots[i], 8);
		if ((v & set) != set) {
			v |= set;
			memcpy(slots[i], &v, 8); /* TODO: cmpxchg once vCPUs run in parallel */
		}
	}
	if (level < 0)
		level = 0;
	uint64_t off_mask = (1ull << (12 + 9 * level)) - 1;
	*gpa = ((pte & PTE_ADDR) & ~off_mask) | (lin & off_mask);
	return 0;
}

int emu_mmu_translate(struct emu_cpu *c, uint64_t lin, int acc, uint64_t *gpa, uint32_t *err)
{
	*err = 0;
	if (!(c->st.cr0 & X86_CR0_PG)) {
		*gpa = lin & c->lin_mask;
		return 0;
	}
	if (c->st.efer & X86_EFER_LMA) {
		uint64_t top = (uint64_t)((int64_t)(lin << 16) >> 16);
		if (top != lin)
			return EMU_GP + 1;
		return mmu_walk64(c, lin, acc, gpa, err);
	}
	return -1; /* legacy 32-bit and PAE paging: not implemented yet */
}
