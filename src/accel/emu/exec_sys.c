/* emu: system instructions. MOV to/from control and debug registers, CLTS, LMSW/SMSW, INVLPG,
 * CPUID, RDTSC/RDTSCP, RDMSR/WRMSR, SYSCALL/SYSRET, SYSENTER/SYSEXIT, INVD/WBINVD, RDRAND, the
 * 0F 01 group, the TSS I/O permission bitmap, and the dispatch of the rarer instruction groups
 * (exec.c sends every op it does not handle itself here).
 *
 * Control-register writes check reserved bits and mode rules (SDM vol. 3 2.5, 4.1) and flush the
 * TLB as the architecture requires: a CR3 write drops non-global entries, changes of CR0.PG/WP/
 * PE and CR4.PGE/PAE/PSE drop everything. CR8 is the VMM's LAPIC TPR[7:4] through the get_tpr/
 * set_tpr callbacks (a private st.cr8 without them). Debug registers are stored but breakpoints and
 * TF single-stepping are not implemented. */
#include "accel/emu/emu_priv.h"

#define CR0_DEFINED                                                                                \
	(X86_CR0_PE | X86_CR0_MP | X86_CR0_EM | X86_CR0_TS | X86_CR0_ET | X86_CR0_NE |             \
	 X86_CR0_WP | X86_CR0_AM | X86_CR0_NW | X86_CR0_CD | X86_CR0_PG)
#define CR4_TSD (1ull << 2)
#define CR4_DE (1ull << 3)
#define CR4_MCE (1ull << 6)
#define CR4_PCE (1ull << 8)
#define CR4_OSXSAVE (1ull << 18)
/* CR4 bits emu accepts (no VME/PVI, UMIP, LA57, FSGSBASE, PCIDE, OSXSAVE, SMEP, SMAP, PKE). */
#define CR4_ALLOWED                                                                                \
	(CR4_TSD | CR4_DE | X86_CR4_PSE | X86_CR4_PAE | CR4_MCE | X86_CR4_PGE | CR4_PCE |          \
	 X86_CR4_OSFXSR | X86_CR4_OSXMMEXCPT)

static int pae_paging(const struct emu_cpu *c, uint64_t cr0, uint64_t cr4)
{
	return (cr0 & X86_CR0_PG) && (cr4 & X86_CR4_PAE) && !(c->st.efer & X86_EFER_LME);
}

void emu_write_cr0(struct emu_cpu *c, uint64_t v)
{
	uint64_t old = c->st.cr0;

	if (v >> 32)
		emu_raise(c, EMU_GP, 1, 0);
	v = (v & CR0_DEFINED) | X86_CR0_ET;
	if (((v & X86_CR0_PG) && !(v & X86_CR0_PE)) || ((v & X86_CR0_NW) && !(v & X86_CR0_CD)))
		emu_raise(c, EMU_GP, 1, 0);
	if ((v & X86_CR0_PG) && !(old & X86_CR0_PG) && (c->st.efer & X86_EFER_LME)) {
		if (!(c->st.cr4 & X86_CR4_PAE) || c->st.seg[X86_CS].l)
			emu_raise(c, EMU_GP, 1, 0);
		c->st.efer |= X86_EFER_LMA;
	} else if (!(v & X86_CR0_PG) && (old & X86_CR0_PG) && (c->st.efer & X86_EFER_LMA)) {
		if (c->mode == EMU_MODE_64)
			emu_raise(c, EMU_GP, 1, 0);
		c->st.efer &= ~X86_EFER_LMA;
	}
	if (pae_paging(c, v, c->st.cr4) && !(old & X86_CR0_PG) && emu_load_pdptes(c, c->st.cr3))
		emu_raise(c, EMU_GP, 1, 0);
	c->st.cr0 = v;
	if ((old ^ v) & (X86_CR0_PG | X86_CR0_WP | X86_CR0_PE))
		emu_tlb_flush(c);
	emu_cpu_update_mode(c);
}

void emu_write_cr4(struct emu_cpu *c, uint64_t v)
{
	uint64_t old = c->st.cr4;

	if (v & ~CR4_ALLOWED)
		emu_raise(c, EMU_GP, 1, 0);
	if (!(v & X86_CR4_PAE) && (c->st.efer & X86_EFER_LMA))
		emu_raise(c, EMU_GP, 1, 0);
	if (pae_paging(c, c->st.cr0, v) &&
	    ((old ^ v) & (X86_CR4_PAE | X86_CR4_PSE | X86_CR4_PGE)) &&
	    emu_load_pdptes(c, c->st.cr3))
		emu_raise(c, EMU_GP, 1, 0);
	c->st.cr4 = v;
	if ((old ^ v) & (X86_CR4_PGE | X86_CR4_PAE | X86_CR4_PSE))
		emu_tlb_flush(c);
}

void emu_write_cr3(struct emu_cpu *c, uint64_t v)
{
	if (c->st.efer & X86_EFER_LMA) {
		if (v >> 52) /* no PCIDE: bit 63 must be 0 too */
			emu_raise(c, EMU_GP, 1, 0);
	} else {
		v &= 0xffffffffu;
	}
	if (pae_paging(c, c->st.cr0, c->st.cr4) && emu_load_pdptes(c, v))
		emu_raise(c, EMU_GP, 1, 0);
	c->st.cr3 = v;
	emu_tlb_flush_nonglobal(c);
}

static uint64_t read_cr8(struct emu_cpu *c)
{
	return emu_has_tpr(c) ? (uint64_t)(c->sys->get_tpr(c->ctx) >> 4) : c->st.cr8;
}

/* CR8 is the LAPIC's TPR[7:4] (SDM vol. 3 "Task Priority in IA-32e Mode"); a write clears
 * TPR[3:0]. Lowering it may unmask a pending interrupt: the block ends here so that the run loop
 * sees the VMM's kick before the next instruction. */
static void write_cr8(struct emu_cpu *c, uint64_t v)
{
	if (v >> 4)
		emu_raise(c, EMU_GP, 1, 0);
	c->st.cr8 = v;
	if (emu_has_tpr(c)) {
		c->sys->set_tpr(c->ctx, (uint8_t)(v << 4));
		c->stop_block = 1;
	}
}

static void exec_mov_cr(struct emu_cpu *c, const struct emu_insn *in)
{
	unsigned cr = in->reg, size = c->mode == EMU_MODE_64 ? 8 : 4;
	uint64_t v;

	if (cr != 0 && cr != 2 && cr != 3 && cr != 4 && cr != 8)
		emu_raise(c, EMU_UD, 0, 0);
	if (c->cpl)
		emu_raise(c, EMU_GP, 1, 0);
	if (in->sub == 0) {
		v = cr == 0   ? c->st.cr0
		    : cr == 2 ? c->st.cr2
		    : cr == 3 ? c->st.cr3
		    : cr == 4 ? c->st.cr4
			      : read_cr8(c);
		reg_set(c, in->rm, size, v);
		return;
	}
	v = reg_get(c, in->rm, size);
	switch (cr) {
	case 0:
		emu_write_cr0(c, v);
		break;
	case 2:
		c->st.cr2 = v;
		break;
	case 3:
		emu_write_cr3(c, v);
		break;
	case 4:
		emu_write_cr4(c, v);
		break;
	default:
		write_cr8(c, v);
		break;
	}
}

static void exec_mov_dr(struct emu_cpu *c, const struct emu_insn *in)
{
	unsigned dr = in->reg, size = c->mode == EMU_MODE_64 ? 8 : 4;

	if (dr > 7 || ((dr == 4 || dr == 5) && (c->st.cr4 & CR4_DE)))
		emu_raise(c, EMU_UD, 0, 0);
	if (c->cpl)
		emu_raise(c, EMU_GP, 1, 0);
	if (dr == 4 || dr == 5)
		dr += 2;
	if (in->sub == 0) {
		uint64_t v = c->st.dr[dr];
		if (dr == 6)
			v |= 0xffff0ff0u;
		else if (dr == 7)
			v |= 0x400;
		reg_set(c, in->rm, size, v);
		return;
	}
	uint64_t v = reg_get(c, in->rm, size);
	if (dr >= 6 && (v >> 32))
		emu_raise(c, EMU_GP, 1, 0);
	c->st.dr[dr] = v;
}

uint64_t emu_rdtsc(struct emu_cpu *c)
{
	uint64_t t = c->sys && c->sys->rdtsc ? c->sys->rdtsc(c->ctx)
					     : c->icount + (c->run_budget - emu_icount_left(c));
	return t + c->msr.tsc_offset;
}

static void exec_cpuid(struct emu_cpu *c)
{
	uint32_t r[4] = {(uint32_t)c->st.gpr[X86_RAX], 0, (uint32_t)c->st.gpr[X86_RCX], 0};

	if (c->sys && c->sys->cpuid)
		c->sys->cpuid(c->ctx, r);
	else
		r[0] = r[1] = r[2] = r[3] = 0;
	c->st.gpr[X86_RAX] = r[0];
	c->st.gpr[X86_RBX] = r[1];
	c->st.gpr[X86_RCX] = r[2];
	c->st.gpr[X86_RDX] = r[3];
}

/* A flat code or data segment for SYSCALL/SYSRET/SYSENTER/SYSEXIT. */
static struct x86_segment flat_seg(uint16_t sel, int code, int l, unsigned dpl)
{
	return (struct x86_segment){.selector = sel,
				    .limit = 0xffffffffu,
				    .type = code ? 0xb : 0x3,
				    .present = 1,
				    .dpl = (uint8_t)dpl,
				    .db = !l,
				    .s = 1,
				    .l = (uint8_t)l,
				    .g = 1};
}

static void exec_syscall(struct emu_cpu *c)
{
	uint16_t sel = (uint16_t)(c->msr.star >> 32) & 0xfffc;

	if (!(c->st.efer & X86_EFER_SCE) || c->mode != EMU_MODE_64)
		emu_raise(c, EMU_UD, 0, 0); /* Intel: 64-bit mode only */
	c->st.gpr[X86_RCX] = c->next_rip;
	c->st.gpr[X86_R11] = emu_cpu_rflags(c) & ~(uint64_t)F_RF;
	c->st.rflags &= ~(c->msr.sfmask | F_RF | F_VM);
	c->st.rflags |= X86_RFLAGS_FIXED;
	c->st.seg[X86_CS] = flat_seg(sel, 1, 1, 0);
	c->st.seg[X86_SS] = flat_seg((uint16_t)(sel + 8), 0, 0, 0);
	c->next_rip = c->msr.lstar;
	emu_cpu_update_mode(c);
	emu_events_update(c);
}

static void exec_sysret(struct emu_cpu *c, const struct emu_insn *in)
{
	uint16_t sel = (uint16_t)(c->msr.star >> 48);

	if (!(c->st.efer & X86_EFER_SCE) || c->mode != EMU_MODE_64)
		emu_raise(c, EMU_UD, 0, 0);
	if (c->cpl)
		emu_raise(c, EMU_GP, 1, 0);
	uint64_t rip = c->st.gpr[X86_RCX];
	if (in->osize == 8) {
		if (rip != (uint64_t)((int64_t)(rip << 16) >> 16))
			emu_raise(c, EMU_GP, 1, 0);
		c->st.seg[X86_CS] = flat_seg((uint16_t)((sel + 16) | 3), 1, 1, 3);
	} else {
		rip &= 0xffffffffu;
		c->st.seg[X86_CS] = flat_seg((uint16_t)(sel | 3), 1, 0, 3);
	}
	emu_flags_materialize(c);
	c->st.rflags = (c->st.gpr[X86_R11] & 0x3c7fd7u) | X86_RFLAGS_FIXED;
	c->st.seg[X86_SS] = flat_seg((uint16_t)((sel + 8) | 3), 0, 0, 3);
	c->next_rip = rip;
	emu_cpu_update_mode(c);
	emu_events_update(c);
}

static void exec_sysenter(struct emu_cpu *c, const struct emu_insn *in, int exit)
{
	uint16_t cs = (uint16_t)c->msr.sysenter_cs & 0xfffc;
	int lm = !!(c->st.efer & X86_EFER_LMA);

	if (!(c->st.cr0 & X86_CR0_PE) || !cs)
		emu_raise(c, EMU_GP, 1, 0);
	if (!exit) {
		emu_flags_materialize(c);
		c->st.rflags &= ~(uint64_t)(F_VM | F_IF | F_RF);
		c->st.seg[X86_CS] = flat_seg(cs, 1, lm, 0);
		c->st.seg[X86_SS] = flat_seg((uint16_t)(cs + 8), 0, 0, 0);
		c->next_rip = lm ? c->msr.sysenter_eip : (uint32_t)c->msr.sysenter_eip;
		c->st.gpr[X86_RSP] = lm ? c->msr.sysenter_esp : (uint32_t)c->msr.sysenter_esp;
	} else {
		if (c->cpl)
			emu_raise(c, EMU_GP, 1, 0);
		int to64 = in->osize == 8;
		uint64_t rip = c->st.gpr[X86_RDX], rsp = c->st.gpr[X86_RCX];
		if (to64 && (rip != (uint64_t)((int64_t)(rip << 16) >> 16) ||
			     rsp != (uint64_t)((int64_t)(rsp << 16) >> 16)))
			emu_raise(c, EMU_GP, 1, 0);
		c->st.seg[X86_CS] = flat_seg((uint16_t)((cs + (to64 ? 32 : 16)) | 3), 1, to64, 3);
		c->st.seg[X86_SS] = flat_seg((uint16_t)((cs + (to64 ? 40 : 24)) | 3), 0, 0, 3);
		c->next_rip = to64 ? rip : (uint32_t)rip;
		c->st.gpr[X86_RSP] = to64 ? rsp : (uint32_t)rsp;
	}
	emu_cpu_update_mode(c);
	emu_events_update(c);
}

void emu_io_check(struct emu_cpu *c, uint16_t port, unsigned size)
{
	unsigned iopl = (unsigned)(c->st.rflags & F_IOPL) >> 12;
	const struct x86_segment *tr = &c->st.tr;

	if (!(c->st.cr0 & X86_CR0_PE) || (c->cpl <= iopl && !(c->st.rflags & F_VM)))
		return;
	if (tr->unusable || (tr->type & 7) != 3 || !(tr->type & 8) || tr->limit < 103)
		emu_raise(c, EMU_GP, 1, 0);
	uint32_t base = (uint32_t)emu_sys_ld(c, tr->base + 102, 2);
	uint32_t off = base + port / 8;
	if (off + 1 > tr->limit)
		emu_raise(c, EMU_GP, 1, 0);
	uint32_t bits = (uint32_t)emu_sys_ld(c, tr->base + off, 2);
	if ((bits >> (port & 7)) & ((1u << size) - 1))
		emu_raise(c, EMU_GP, 1, 0);
}

/* 0F 01: descriptor tables, SMSW/LMSW, INVLPG and the register-form extensions. */
static void exec_grp7(struct emu_cpu *c, const struct emu_insn *in)
{
	unsigned sub = in->sub, rm = in->rm & 7;

	if (!(in->flags & EMU_I_REG)) {
		if (sub <= 3) {
			emu_exec_dtable(c, in, sub);
		} else if (sub == 4) { /* SMSW m16 */
			emu_st(c, in->seg, emu_ea(c, in), 2, c->st.cr0 & 0xffff);
		} else if (sub == 6) { /* LMSW m16 */
			uint64_t v = emu_ld(c, in->seg, emu_ea(c, in), 2);
			if (c->cpl)
				emu_raise(c, EMU_GP, 1, 0);
			emu_write_cr0(c, (c->st.cr0 & ~0xeull) | (v & 0xf) | (c->st.cr0 & 1));
		} else if (sub == 7) { /* INVLPG */
			if (c->cpl)
				emu_raise(c, EMU_GP, 1, 0);
			uint64_t ea = emu_ea(c, in);
			emu_tlb_flush_page(c, (c->seg_base[in->seg] + ea) & c->lin_mask);
		} else {
			emu_raise(c, EMU_UD, 0, 0);
		}
		return;
	}
	if (sub == 4) { /* SMSW r */
		reg_set(c, in->rm, in->osize, c->st.cr0 & sz_mask(in->osize));
	} else if (sub == 6) { /* LMSW r */
		if (c->cpl)
			emu_raise(c, EMU_GP, 1, 0);
		uint64_t v = reg_get(c, in->rm, 2);
		emu_write_cr0(c, (c->st.cr0 & ~0xeull) | (v & 0xf) | (c->st.cr0 & 1));
	} else if (sub == 7 && rm == 0) {
		emu_swapgs(c);
	} else if (sub == 7 && rm == 1) { /* RDTSCP */
		if ((c->st.cr4 & CR4_TSD) && c->cpl)
			emu_raise(c, EMU_GP, 1, 0);
		uint64_t t = emu_rdtsc(c);
		c->st.gpr[X86_RAX] = (uint32_t)t;
		c->st.gpr[X86_RDX] = t >> 32;
		c->st.gpr[X86_RCX] = (uint32_t)c->msr.tsc_aux;
	} else if (sub == 2 && rm == 0 && (c->st.cr4 & CR4_OSXSAVE)) {
		/* XGETBV: reachable only once XSAVE is advertised and CR4.OSXSAVE allowed (the
		 * XSAVE owner extends CR4_ALLOWED and adds XSETBV here). */
		if ((uint32_t)c->st.gpr[X86_RCX] != 0)
			emu_raise(c, EMU_GP, 1, 0);
		c->st.gpr[X86_RAX] = (uint32_t)c->st.xcr0;
		c->st.gpr[X86_RDX] = c->st.xcr0 >> 32;
	} else {
		emu_raise(c, EMU_UD, 0, 0); /* VMX, SVM, MONITOR/MWAIT, CLAC/STAC, ... */
	}
}

static void exec_rdrand(struct emu_cpu *c, const struct emu_insn *in)
{
	uint64_t v = 0;
	int ok;

	if (!(in->flags & EMU_I_REG))
		emu_raise(c, EMU_UD, 0, 0);
	ok = c->sys && c->sys->rdrand && c->sys->rdrand(c->ctx, &v) == 0;
	reg_set(c, in->rm, in->osize, ok ? v : 0);
	flags_set_eager(c, F_ARITH, ok ? F_CF : 0);
}

int emu_exec_sys(struct emu_cpu *c, const struct emu_insn *in)
{
	uint64_t v;

	switch (in->op) {
	case EMU_OP_IRET:
		emu_exec_iret(c, in);
		break;
	case EMU_OP_INTO:
		emu_exec_int(c, in);
		break;
	case EMU_OP_MOV_CR:
		exec_mov_cr(c, in);
		break;
	case EMU_OP_MOV_DR:
		exec_mov_dr(c, in);
		break;
	case EMU_OP_CLTS:
		if (c->cpl)
			emu_raise(c, EMU_GP, 1, 0);
		c->st.cr0 &= ~X86_CR0_TS;
		break;
	case EMU_OP_GRP7:
		exec_grp7(c, in);
		break;
	case EMU_OP_CPUID:
		exec_cpuid(c);
		break;
	case EMU_OP_RDTSC:
		if ((c->st.cr4 & CR4_TSD) && c->cpl)
			emu_raise(c, EMU_GP, 1, 0);
		v = emu_rdtsc(c);
		c->st.gpr[X86_RAX] = (uint32_t)v;
		c->st.gpr[X86_RDX] = v >> 32;
		break;
	case EMU_OP_RDMSR:
		if (c->cpl || emu_msr_read(c, (uint32_t)c->st.gpr[X86_RCX], &v))
			emu_raise(c, EMU_GP, 1, 0);
		c->st.gpr[X86_RAX] = (uint32_t)v;
		c->st.gpr[X86_RDX] = v >> 32;
		break;
	case EMU_OP_WRMSR:
		v = (c->st.gpr[X86_RDX] << 32) | (uint32_t)c->st.gpr[X86_RAX];
		if (c->cpl || emu_msr_write(c, (uint32_t)c->st.gpr[X86_RCX], v))
			emu_raise(c, EMU_GP, 1, 0);
		break;
	case EMU_OP_RDPMC:
		emu_raise(c, EMU_GP, 1, 0); /* no PMU */
	case EMU_OP_SYSCALL:
		exec_syscall(c);
		break;
	case EMU_OP_SYSRET:
		exec_sysret(c, in);
		break;
	case EMU_OP_SYSENTER:
	case EMU_OP_SYSEXIT:
		exec_sysenter(c, in, in->op == EMU_OP_SYSEXIT);
		break;
	case EMU_OP_WBINVD:
		if (c->cpl)
			emu_raise(c, EMU_GP, 1, 0);
		break;
	case EMU_OP_RDRAND:
		exec_rdrand(c, in);
		break;
	case EMU_OP_LOCKED:
		emu_exec_locked(c, in);
		break;
	case EMU_OP_MOV_SE:
	case EMU_OP_POP_SEG:
	case EMU_OP_LSEG:
	case EMU_OP_FAR_P:
	case EMU_OP_FAR_E:
	case EMU_OP_RETF:
	case EMU_OP_GRP6:
	case EMU_OP_LAR:
		return emu_exec_seg(c, in);
	case EMU_OP_BCD:
	case EMU_OP_PUSHA:
	case EMU_OP_POPA:
	case EMU_OP_BOUND:
	case EMU_OP_ARPL:
	case EMU_OP_INS:
	case EMU_OP_OUTS:
		return emu_exec_legacy(c, in);
	default:
		emu_exit_now(c, EMU_EXIT_UNIMPL);
	}
	return 0;
}
