/* emu: the model-specific registers the emulator keeps itself (SYSCALL/SYSENTER targets, FS/GS
 * bases, PAT, MTRRs, TSC offset, ...), with the #GP rules of the SDM; the rest is forwarded to
 * the VMM's rdmsr/wrmsr callbacks (LAPIC MSRs), and anything nobody knows raises #GP. */
#include "accel/emu/emu_priv.h"

enum {
	MSR_TSC = 0x10,
	MSR_PLATFORM_ID = 0x17,
	MSR_APIC_BASE = 0x1b,
	MSR_FEAT_CTL = 0x3a,
	MSR_TSC_ADJUST = 0x3b,
	MSR_SPEC_CTRL = 0x48,
	MSR_PRED_CMD = 0x49,
	MSR_UCODE_REV = 0x8b,
	MSR_MTRRCAP = 0xfe,
	MSR_ARCH_CAPABILITIES = 0x10a,
	MSR_SYSENTER_CS = 0x174,
	MSR_SYSENTER_ESP = 0x175,
	MSR_SYSENTER_EIP = 0x176,
	MSR_MCG_CAP = 0x179,
	MSR_MCG_STATUS = 0x17a,
	MSR_MISC_ENABLE = 0x1a0,
	MSR_MTRR_PHYS_FIRST = 0x200, /* 0x200-0x20f: 8 base/mask pairs */
	MSR_MTRR_FIX64K = 0x250,
	MSR_MTRR_FIX16K_80000 = 0x258,
	MSR_MTRR_FIX16K_A0000 = 0x259,
	MSR_MTRR_FIX4K_FIRST = 0x268, /* 0x268-0x26f */
	MSR_PAT = 0x277,
	MSR_MTRR_DEF = 0x2ff,
	MSR_EFER = 0xc0000080,
	MSR_STAR = 0xc0000081,
	MSR_LSTAR = 0xc0000082,
	MSR_CSTAR = 0xc0000083,
	MSR_SFMASK = 0xc0000084,
	MSR_FS_BASE = 0xc0000100,
	MSR_GS_BASE = 0xc0000101,
	MSR_KERNEL_GS_BASE = 0xc0000102,
	MSR_TSC_AUX = 0xc0000103,
};

#define EMU_MTRR_VAR 8
#define EFER_ALLOWED (X86_EFER_SCE | X86_EFER_LME | X86_EFER_LMA | X86_EFER_NXE)

static int canonical(uint64_t v)
{
	return (uint64_t)((int64_t)(v << 16) >> 16) == v;
}

/* PAT entries: UC(0) WC(1) WT(4) WP(5) WB(6) UC-(7); 2 and 3 are reserved. */
static int pat_valid(uint64_t v)
{
	for (int i = 0; i < 8; i++) {
		unsigned t = (v >> (8 * i)) & 0xff;
		if (t > 7 || t == 2 || t == 3)
			return 0;
	}
	return 1;
}

/* Memory types MTRRs accept: UC(0) WC(1) WT(4) WP(5) WB(6). */
static int mtrr_type_valid(unsigned t)
{
	return t == 0 || t == 1 || (t >= 4 && t <= 6);
}

#define PHYS_RSVD (~((1ull << EMU_PHYS_BITS) - 1))

/* A fixed-range MTRR: eight type bytes. */
static int mtrr_fixed_valid(uint64_t v)
{
	for (int i = 0; i < 8; i++)
		if (!mtrr_type_valid((v >> (8 * i)) & 0xff))
			return 0;
	return 1;
}

/* Variable-range MTRR at index i of the base/mask pairs (even: PhysBase, odd: PhysMask). */
static int mtrr_var_valid(unsigned i, uint64_t v)
{
	if (i & 1)
		return !(v & (PHYS_RSVD | 0x7ff));
	return !(v & (PHYS_RSVD | 0xf00)) && mtrr_type_valid(v & 0xff);
}

static uint64_t *fixed_mtrr(struct emu_cpu *c, uint32_t idx)
{
	if (idx == MSR_MTRR_FIX64K)
		return &c->msr.mtrr_fix[0];
	if (idx == MSR_MTRR_FIX16K_80000 || idx == MSR_MTRR_FIX16K_A0000)
		return &c->msr.mtrr_fix[1 + idx - MSR_MTRR_FIX16K_80000];
	if (idx >= MSR_MTRR_FIX4K_FIRST && idx < MSR_MTRR_FIX4K_FIRST + 8)
		return &c->msr.mtrr_fix[3 + idx - MSR_MTRR_FIX4K_FIRST];
	return NULL;
}

int emu_msr_read(struct emu_cpu *c, uint32_t idx, uint64_t *v)
{
	uint64_t *f = fixed_mtrr(c, idx);
	if (f) {
		*v = *f;
		return 0;
	}
	if (idx >= MSR_MTRR_PHYS_FIRST && idx < MSR_MTRR_PHYS_FIRST + 2 * EMU_MTRR_VAR) {
		*v = c->msr.mtrr_var[idx - MSR_MTRR_PHYS_FIRST];
		return 0;
	}
	switch (idx) {
	case MSR_TSC:
		*v = emu_rdtsc(c);
		return 0;
	case MSR_PLATFORM_ID:
	case MSR_UCODE_REV:
	case MSR_MCG_CAP:
	case MSR_MCG_STATUS:
		*v = 0;
		return 0;
	case MSR_FEAT_CTL:
		*v = 1; /* locked, VMX off */
		return 0;
	case MSR_TSC_ADJUST:
		*v = c->msr.tsc_offset;
		return 0;
	case MSR_MTRRCAP:
		*v = 0x500 | EMU_MTRR_VAR; /* fixed ranges, WC, 8 variable ranges */
		return 0;
	case MSR_SPEC_CTRL:
		*v = c->msr.spec_ctrl;
		return 0;
	case MSR_ARCH_CAPABILITIES:
		*v = EMU_ARCH_CAPABILITIES;
		return 0;
	case MSR_SYSENTER_CS:
		*v = c->msr.sysenter_cs;
		return 0;
	case MSR_SYSENTER_ESP:
		*v = c->msr.sysenter_esp;
		return 0;
	case MSR_SYSENTER_EIP:
		*v = c->msr.sysenter_eip;
		return 0;
	case MSR_MISC_ENABLE:
		*v = c->msr.misc_enable;
		return 0;
	case MSR_PAT:
		*v = c->msr.pat;
		return 0;
	case MSR_MTRR_DEF:
		*v = c->msr.mtrr_def;
		return 0;
	case MSR_EFER:
		*v = c->st.efer;
		return 0;
	case MSR_STAR:
		*v = c->msr.star;
		return 0;
	case MSR_LSTAR:
		*v = c->msr.lstar;
		return 0;
	case MSR_CSTAR:
		*v = c->msr.cstar;
		return 0;
	case MSR_SFMASK:
		*v = c->msr.sfmask;
		return 0;
	case MSR_FS_BASE:
		*v = c->st.seg[X86_FS].base;
		return 0;
	case MSR_GS_BASE:
		*v = c->st.seg[X86_GS].base;
		return 0;
	case MSR_KERNEL_GS_BASE:
		*v = c->msr.kernel_gs_base;
		return 0;
	case MSR_TSC_AUX:
		*v = c->msr.tsc_aux;
		return 0;
	}
	if (c->sys && c->sys->rdmsr)
		return c->sys->rdmsr(c->ctx, idx, v);
	return -1;
}

static void set_seg_base(struct emu_cpu *c, unsigned seg, uint64_t v)
{
	c->st.seg[seg].base = v;
	emu_cpu_update_mode(c);
}

int emu_msr_write(struct emu_cpu *c, uint32_t idx, uint64_t v)
{
	uint64_t *f = fixed_mtrr(c, idx);
	if (f) {
		if (!mtrr_fixed_valid(v))
			return -1;
		*f = v;
		return 0;
	}
	if (idx >= MSR_MTRR_PHYS_FIRST && idx < MSR_MTRR_PHYS_FIRST + 2 * EMU_MTRR_VAR) {
		if (!mtrr_var_valid(idx - MSR_MTRR_PHYS_FIRST, v))
			return -1;
		c->msr.mtrr_var[idx - MSR_MTRR_PHYS_FIRST] = v;
		return 0;
	}
	switch (idx) {
	case MSR_TSC:
		c->msr.tsc_offset += v - emu_rdtsc(c);
		return 0;
	case MSR_TSC_ADJUST:
		c->msr.tsc_offset = v;
		return 0;
	case MSR_SPEC_CTRL:
		if (v & ~EMU_SPEC_CTRL_BITS)
			return -1;
		c->msr.spec_ctrl = v;
		return 0;
	case MSR_PRED_CMD:
		return v & ~1ull ? -1 : 0; /* IBPB: nothing to flush */
	case MSR_UCODE_REV:
	case MSR_MCG_STATUS:
		return 0;
	case MSR_SYSENTER_CS:
		c->msr.sysenter_cs = v & 0xffff;
		return 0;
	case MSR_SYSENTER_ESP:
		if (!canonical(v))
			return -1;
		c->msr.sysenter_esp = v;
		return 0;
	case MSR_SYSENTER_EIP:
		if (!canonical(v))
			return -1;
		c->msr.sysenter_eip = v;
		return 0;
	case MSR_MISC_ENABLE:
		c->msr.misc_enable = v;
		return 0;
	case MSR_PAT:
		if (!pat_valid(v))
			return -1;
		c->msr.pat = v;
		return 0;
	case MSR_MTRR_DEF:
		if ((v & ~0xcffull) || !mtrr_type_valid(v & 0xff))
			return -1;
		c->msr.mtrr_def = v;
		return 0;
	case MSR_EFER:
		if (v & ~EFER_ALLOWED)
			return -1;
		/* LME cannot change while paging is on; LMA is read-only. */
		if ((c->st.cr0 & X86_CR0_PG) && ((v ^ c->st.efer) & X86_EFER_LME))
			return -1;
		v = (v & ~X86_EFER_LMA) | (c->st.efer & X86_EFER_LMA);
		if ((v ^ c->st.efer) & X86_EFER_NXE)
			emu_tlb_flush(c);
		c->st.efer = v;
		emu_cpu_update_mode(c);
		return 0;
	case MSR_STAR:
		c->msr.star = v;
		return 0;
	case MSR_LSTAR:
	case MSR_CSTAR:
		if (!canonical(v))
			return -1;
		*(idx == MSR_LSTAR ? &c->msr.lstar : &c->msr.cstar) = v;
		return 0;
	case MSR_SFMASK:
		c->msr.sfmask = v & 0xffffffffull;
		return 0;
	case MSR_FS_BASE:
	case MSR_GS_BASE:
		if (!canonical(v))
			return -1;
		set_seg_base(c, idx == MSR_FS_BASE ? X86_FS : X86_GS, v);
		return 0;
	case MSR_KERNEL_GS_BASE:
		if (!canonical(v))
			return -1;
		c->msr.kernel_gs_base = v;
		return 0;
	case MSR_TSC_AUX:
		if (v >> 32)
			return -1;
		c->msr.tsc_aux = v;
		return 0;
	}
	if (c->sys && c->sys->wrmsr)
		return c->sys->wrmsr(c->ctx, idx, v);
	return -1;
}

/* The MSRs saved in x86_cpu_state.msrs: the indices the kvm backend saves (kvm_state.c), so
 * both backends' states mean the same, plus TSC_ADJUST (emu's TSC offset; KVM stores a
 * host-initiated write without moving the TSC), SPEC_CTRL (a guest that set IBRS and BHI_DIS_S
 * reads them back after a migration) and the MTRRs (KVM restores them too). */
static const uint32_t saved_msrs[] = {
    MSR_SYSENTER_CS, MSR_SYSENTER_ESP, MSR_SYSENTER_EIP,   MSR_STAR,	  MSR_LSTAR,
    MSR_CSTAR,	     MSR_SFMASK,       MSR_KERNEL_GS_BASE, MSR_TSC_AUX,	  MSR_PAT,
    MSR_MISC_ENABLE, MSR_MTRR_DEF,     MSR_TSC_ADJUST,	   MSR_SPEC_CTRL,
};
#define NR_SAVED (sizeof(saved_msrs) / sizeof(saved_msrs[0]))
#define NR_MTRR (11 + 2 * EMU_MTRR_VAR)

/* Index of saved MSR number i (the fixed list, then the fixed and variable MTRRs). */
static uint32_t saved_index(unsigned i)
{
	if (i < NR_SAVED)
		return saved_msrs[i];
	i -= NR_SAVED;
	if (i == 0)
		return MSR_MTRR_FIX64K;
	if (i < 3)
		return MSR_MTRR_FIX16K_80000 + (i - 1);
	if (i < 11)
		return MSR_MTRR_FIX4K_FIRST + (i - 3);
	return MSR_MTRR_PHYS_FIRST + (i - 11);
}

void emu_msrs_save(const struct emu_cpu *c, struct x86_cpu_state *st)
{
	struct emu_cpu *m = (struct emu_cpu *)c; /* emu_msr_read does not change these MSRs */

	for (unsigned i = 0; i < NR_SAVED + NR_MTRR; i++) {
		uint64_t v = 0;
		if (emu_msr_read(m, saved_index(i), &v) == 0)
			(void)x86_state_set_msr(st, saved_index(i), v);
	}
}

void emu_msrs_load(struct emu_cpu *c, const struct x86_cpu_state *st)
{
	for (unsigned i = 0; i < NR_SAVED + NR_MTRR; i++) {
		uint64_t v;
		/* Values are validated like a WRMSR; an invalid one keeps the current value. */
		if (x86_state_get_msr(st, saved_index(i), &v))
			(void)emu_msr_write(c, saved_index(i), v);
	}
}
