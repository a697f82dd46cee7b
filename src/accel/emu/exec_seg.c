/* emu: segmentation. Descriptor reads, segment register loads (MOV/POP Sreg, LDS/LES/LSS/LFS/
 * LGS) with the protected-mode checks, far JMP/CALL/RET, descriptor-table registers (LGDT, LIDT,
 * SGDT, SIDT, LLDT, LTR, SLDT, STR), LAR/LSL/VERR/VERW and SWAPGS.
 *
 * Real mode loads set selector and base (selector << 4) and keep the hidden limit and attributes
 * ("unreal mode" works). Protected mode follows SDM vol. 2 MOV/POP/JMP/CALL/RET pseudo code for
 * code and data segments; call gates, task gates and task switches exit with EMU_EXIT_UNIMPL
 * (Linux and multiboot kernels use none of them). Accessed bits are set in the descriptor when
 * clear. Every instruction here ends its decoded block (the mode cache may change). */
#include "accel/emu/emu_priv.h"

void emu_desc_unpack(struct x86_segment *s, uint16_t sel, uint64_t d)
{
	s->selector = sel;
	s->limit = (uint32_t)((d & 0xffff) | ((d >> 32) & 0xf0000));
	s->base = ((d >> 16) & 0xffffff) | ((d >> 32) & 0xff000000);
	s->type = (d >> 40) & 0xf;
	s->s = (d >> 44) & 1;
	s->dpl = (d >> 45) & 3;
	s->present = (d >> 47) & 1;
	s->avl = (d >> 52) & 1;
	s->l = (d >> 53) & 1;
	s->db = (d >> 54) & 1;
	s->g = (d >> 55) & 1;
	s->unusable = 0;
	if (s->g)
		s->limit = (s->limit << 12) | 0xfff;
}

/* Linear address of the descriptor for sel, or raise vec(sel) when outside its table. */
static uint64_t desc_addr(struct emu_cpu *c, uint16_t sel, unsigned vec, unsigned len)
{
	uint64_t base, limit;

	if (sel & 4) {
		if (c->st.ldt.unusable || !c->st.ldt.present)
			emu_raise(c, vec, 1, sel & 0xfffc);
		base = c->st.ldt.base;
		limit = c->st.ldt.limit;
	} else {
		base = c->st.gdt.base;
		limit = c->st.gdt.limit;
	}
	if ((sel & 0xfff8u) + len - 1 > limit)
		emu_raise(c, vec, 1, sel & 0xfffc);
	return base + (sel & 0xfff8u);
}

uint64_t emu_desc_read(struct emu_cpu *c, uint16_t sel, unsigned vec)
{
	return emu_sys_ld(c, desc_addr(c, sel, vec, 8), 8);
}

static void desc_set_accessed(struct emu_cpu *c, uint16_t sel, uint64_t d)
{
	if (!(d & (1ull << 40)))
		emu_sys_st(c, desc_addr(c, sel, EMU_GP, 8) + 5, 1, ((d >> 40) & 0xff) | 1);
}

/* A null selector in a data segment register. */
static void seg_null(struct x86_segment *s, uint16_t sel)
{
	*s = (struct x86_segment){.selector = sel, .unusable = 1};
}

void emu_load_seg(struct emu_cpu *c, unsigned seg, uint16_t sel)
{
	struct x86_segment *s = &c->st.seg[seg], n;
	uint32_t err = sel & 0xfffc;

	if (!(c->st.cr0 & X86_CR0_PE) || (c->st.rflags & F_VM)) {
		s->selector = sel;
		s->base = (uint64_t)sel << 4;
		if (c->st.rflags & F_VM) {
			s->limit = 0xffff;
			s->dpl = 3;
		}
		emu_cpu_update_mode(c);
		return;
	}
	if (!(sel & 0xfffc)) {
		if (seg == X86_SS && (c->mode != EMU_MODE_64 || c->cpl == 3 || (sel & 3) != c->cpl))
			emu_raise(c, EMU_GP, 1, 0);
		seg_null(s, sel);
		if (seg == X86_SS) {
			s->dpl = c->cpl;
			s->s = 1;
			s->type = 3;
			s->db = 1;
		}
		emu_cpu_update_mode(c);
		return;
	}
	uint64_t d = emu_desc_read(c, sel, EMU_GP);
	emu_desc_unpack(&n, sel, d);
	if (seg == X86_SS) {
		if ((sel & 3) != c->cpl || n.dpl != c->cpl || !n.s || (n.type & 8) || !(n.type & 2))
			emu_raise(c, EMU_GP, 1, err);
		if (!n.present)
			emu_raise(c, EMU_SS, 1, err);
	} else {
		if (!n.s || ((n.type & 8) && !(n.type & 2)))
			emu_raise(c, EMU_GP, 1, err);
		if ((!(n.type & 8) || !(n.type & 4)) && ((sel & 3) > n.dpl || c->cpl > n.dpl))
			emu_raise(c, EMU_GP, 1, err);
		if (!n.present)
			emu_raise(c, EMU_NP, 1, err);
	}
	desc_set_accessed(c, sel, d);
	n.type |= 1;
	*s = n;
	emu_cpu_update_mode(c);
}

/* Check a far transfer target for JMP/CALL (direct code segments only) and return its
 * descriptor with RPL = CPL; gates and TSS descriptors exit as unimplemented. */
static void far_target(struct emu_cpu *c, uint16_t sel, struct x86_segment *n)
{
	uint32_t err = sel & 0xfffc;

	if (!(sel & 0xfffc))
		emu_raise(c, EMU_GP, 1, 0);
	uint64_t d = emu_desc_read(c, sel, EMU_GP);
	emu_desc_unpack(n, sel, d);
	if (!n->s) {
		if (n->type == 0x4 || n->type == 0xc || n->type == 0x5 || n->type == 0x1 ||
		    n->type == 0x9)
			emu_exit_now(c, EMU_EXIT_UNIMPL); /* call gate, task gate, TSS */
		emu_raise(c, EMU_GP, 1, err);
	}
	if (!(n->type & 8))
		emu_raise(c, EMU_GP, 1, err);
	if (n->type & 4) {
		if (n->dpl > c->cpl)
			emu_raise(c, EMU_GP, 1, err);
	} else if ((sel & 3) > c->cpl || n->dpl != c->cpl) {
		emu_raise(c, EMU_GP, 1, err);
	}
	if (!n->present)
		emu_raise(c, EMU_NP, 1, err);
	if ((c->st.efer & X86_EFER_LMA) && n->l && n->db)
		emu_raise(c, EMU_GP, 1, err);
	desc_set_accessed(c, sel, d);
	n->type |= 1;
	n->selector = (uint16_t)((sel & 0xfffc) | c->cpl);
}

static void far_commit(struct emu_cpu *c, uint16_t sel, uint64_t ip, const struct x86_segment *n)
{
	if (!(c->st.cr0 & X86_CR0_PE) || (c->st.rflags & F_VM)) {
		c->st.seg[X86_CS].selector = sel;
		c->st.seg[X86_CS].base = (uint64_t)sel << 4;
	} else {
		int to64 = (c->st.efer & X86_EFER_LMA) && n->l;
		if (!to64) {
			ip &= 0xffffffffu;
			if (ip > n->limit)
				emu_raise(c, EMU_GP, 1, 0);
		} else if (ip != (uint64_t)((int64_t)(ip << 16) >> 16)) {
			emu_raise(c, EMU_GP, 1, 0);
		}
		c->st.seg[X86_CS] = *n;
	}
	c->next_rip = ip;
	emu_cpu_update_mode(c);
	c->stop_block = 1;
}

/* JMP/CALL far: EA/9A ptr (imm = offset | selector << (osize*8)) or FF /5, /3 m16:16/32/64. */
static void exec_far(struct emu_cpu *c, const struct emu_insn *in, int call)
{
	unsigned w = in->osize;
	uint64_t ip;
	uint16_t sel;
	struct x86_segment n = {0};

	if (in->op == EMU_OP_FAR_P) {
		ip = in->imm & sz_mask(w);
		sel = (uint16_t)(in->imm >> (w * 8));
	} else {
		uint64_t ea = emu_ea(c, in);
		ip = emu_ld(c, in->seg, ea, w);
		sel = (uint16_t)emu_ld(c, in->seg, (ea + w) & sz_mask(in->asize), 2);
	}
	int prot = (c->st.cr0 & X86_CR0_PE) && !(c->st.rflags & F_VM);
	if (prot)
		far_target(c, sel, &n);
	if (call) {
		uint64_t sm = sz_mask(c->stack_size), sp = c->st.gpr[X86_RSP] & sm;
		sp = (sp - w) & sm;
		emu_st(c, X86_SS, sp, w, c->st.seg[X86_CS].selector);
		sp = (sp - w) & sm;
		emu_st(c, X86_SS, sp, w, c->next_rip);
		uint64_t old = c->st.gpr[X86_RSP];
		c->st.gpr[X86_RSP] = (old & ~sm) | sp;
		far_commit(c, sel, ip & sz_mask(w), &n);
	} else {
		far_commit(c, sel, ip & sz_mask(w), &n);
	}
}

/* RETF [imm16]: same privilege or return to an outer level (pops SS:SP). */
static void exec_retf(struct emu_cpu *c, const struct emu_insn *in)
{
	unsigned w = in->osize, cpl = c->cpl;
	uint64_t sm = sz_mask(c->stack_size), sp = c->st.gpr[X86_RSP] & sm;
	uint64_t ip = emu_ld(c, X86_SS, sp, w);
	uint16_t sel = (uint16_t)emu_ld(c, X86_SS, (sp + w) & sm, w);
	uint64_t rel = in->imm & 0xffff;
	struct x86_segment n = {0}, nss = {0};

	sp = (sp + 2 * w + rel) & sm;
	if (!(c->st.cr0 & X86_CR0_PE) || (c->st.rflags & F_VM)) {
		c->st.gpr[X86_RSP] = (c->st.gpr[X86_RSP] & ~sm) | sp;
		far_commit(c, sel, ip, &n);
		return;
	}
	uint32_t err = sel & 0xfffc;
	unsigned rpl = sel & 3;
	if (!(sel & 0xfffc))
		emu_raise(c, EMU_GP, 1, 0);
	uint64_t d = emu_desc_read(c, sel, EMU_GP);
	emu_desc_unpack(&n, sel, d);
	if (rpl < cpl || !n.s || !(n.type & 8) || ((n.type & 4) ? n.dpl > rpl : n.dpl != rpl))
		emu_raise(c, EMU_GP, 1, err);
	if (!n.present)
		emu_raise(c, EMU_NP, 1, err);
	if (rpl == cpl) {
		c->st.gpr[X86_RSP] = (c->st.gpr[X86_RSP] & ~sm) | sp;
		far_commit(c, sel, ip, &n);
		return;
	}
	/* Outer level: SS:SP follow the return address and the released parameters. */
	uint64_t nsp = emu_ld(c, X86_SS, sp, w);
	uint16_t ssel = (uint16_t)emu_ld(c, X86_SS, (sp + w) & sm, w);
	int to64 = (c->st.efer & X86_EFER_LMA) && n.l;
	if (!(ssel & 0xfffc)) {
		if (!to64 || rpl == 3)
			emu_raise(c, EMU_GP, 1, 0);
		nss = (struct x86_segment){.selector = ssel,
					   .dpl = (uint8_t)rpl,
					   .unusable = 1,
					   .s = 1,
					   .type = 3,
					   .db = 1};
	} else {
		emu_desc_unpack(&nss, ssel, emu_desc_read(c, ssel, EMU_GP));
		if ((ssel & 3) != rpl || nss.dpl != rpl || !nss.s || (nss.type & 8) ||
		    !(nss.type & 2))
			emu_raise(c, EMU_GP, 1, ssel & 0xfffc);
		if (!nss.present)
			emu_raise(c, EMU_SS, 1, ssel & 0xfffc);
	}
	uint64_t nm = to64 ? ~0ull : sz_mask(nss.db ? 4 : 2);
	c->st.seg[X86_SS] = nss;
	c->st.gpr[X86_RSP] = (c->st.gpr[X86_RSP] & ~nm) | ((nsp + rel) & nm);
	far_commit(c, sel, ip, &n);
	for (unsigned i = X86_ES; i <= X86_GS; i++) {
		struct x86_segment *s = &c->st.seg[i];
		if (i == X86_CS || i == X86_SS || s->unusable)
			continue;
		if (s->dpl < rpl && (s->type & 0xc) != 0xc)
			seg_null(s, 0);
	}
	emu_cpu_update_mode(c);
}

/* LGDT/LIDT/SGDT/SIDT memory operand: limit, then a 24/32/64-bit base. */
void emu_exec_dtable(struct emu_cpu *c, const struct emu_insn *in, unsigned which)
{
	struct x86_dtable *t = which & 1 ? &c->st.idt : &c->st.gdt;
	uint64_t ea = emu_ea(c, in), am = sz_mask(in->asize);
	unsigned bsz = c->mode == EMU_MODE_64 ? 8 : 4;

	if (in->flags & EMU_I_REG)
		emu_raise(c, EMU_UD, 0, 0);
	if (which < 2) { /* SGDT, SIDT */
		emu_probe_write(c, in->seg, ea, 2);
		emu_probe_write(c, in->seg, (ea + 2) & am, bsz);
		emu_st(c, in->seg, ea, 2, t->limit);
		emu_st(c, in->seg, (ea + 2) & am, bsz, t->base);
		return;
	}
	if (c->cpl)
		emu_raise(c, EMU_GP, 1, 0);
	uint16_t limit = (uint16_t)emu_ld(c, in->seg, ea, 2);
	uint64_t base = emu_ld(c, in->seg, (ea + 2) & am, bsz);
	if (bsz == 8 && base != (uint64_t)((int64_t)(base << 16) >> 16))
		emu_raise(c, EMU_GP, 1, 0);
	if (in->osize == 2 && bsz == 4)
		base &= 0xffffff;
	t->limit = limit;
	t->base = base;
}

/* LLDT and LTR: system descriptors from the GDT (16 bytes in long mode). */
static void exec_lsys(struct emu_cpu *c, uint16_t sel, int tr)
{
	uint32_t err = sel & 0xfffc;
	struct x86_segment n;

	if (!(c->st.cr0 & X86_CR0_PE) || (c->st.rflags & F_VM))
		emu_raise(c, EMU_UD, 0, 0);
	if (c->cpl)
		emu_raise(c, EMU_GP, 1, 0);
	if (!(sel & 0xfffc)) {
		if (tr)
			emu_raise(c, EMU_GP, 1, 0);
		seg_null(&c->st.ldt, sel);
		return;
	}
	if (sel & 4)
		emu_raise(c, EMU_GP, 1, err);
	int lm = !!(c->st.efer & X86_EFER_LMA);
	uint64_t addr = desc_addr(c, sel, EMU_GP, lm ? 16 : 8);
	uint64_t d = emu_sys_ld(c, addr, 8);
	emu_desc_unpack(&n, sel, d);
	if (n.s || (tr ? (n.type != 9 && (lm || n.type != 1)) : n.type != 2))
		emu_raise(c, EMU_GP, 1, err);
	if (!n.present)
		emu_raise(c, EMU_NP, 1, err);
	if (lm) {
		uint64_t hi = emu_sys_ld(c, addr + 8, 8);
		n.base |= (hi & 0xffffffff) << 32;
	}
	if (tr) {
		emu_sys_st(c, addr + 5, 1, ((d >> 40) & 0xff) | 2); /* busy */
		n.type |= 2;
		c->st.tr = n;
	} else {
		c->st.ldt = n;
	}
}

/* LAR/LSL/VERR/VERW: ZF=1 and a result when the selector is visible at CPL/RPL. */
static void exec_lar(struct emu_cpu *c, const struct emu_insn *in, unsigned kind)
{
	uint16_t sel = (uint16_t)emu_get_e(c, in, 2);
	struct x86_segment n;
	int ok = 0;
	uint64_t d = 0;

	if (!(c->st.cr0 & X86_CR0_PE) || (c->st.rflags & F_VM))
		emu_raise(c, EMU_UD, 0, 0);
	if (sel & 0xfffc) {
		uint64_t base = sel & 4 ? c->st.ldt.base : c->st.gdt.base;
		uint64_t limit =
		    sel & 4 ? (c->st.ldt.unusable ? 0 : c->st.ldt.limit) : c->st.gdt.limit;
		if ((sel & 0xfff8u) + 7u <= limit && !((sel & 4) && c->st.ldt.unusable)) {
			d = emu_sys_ld(c, base + (sel & 0xfff8u), 8);
			emu_desc_unpack(&n, sel, d);
			int conf = n.s && (n.type & 0xc) == 0xc;
			ok = conf || (n.dpl >= c->cpl && n.dpl >= (sel & 3));
			if (!n.s) {
				unsigned t = n.type;
				int good;
				if (c->st.efer & X86_EFER_LMA)
					good =
					    t == 2 || t == 9 || t == 11 || (kind == 0 && t == 12);
				else
					good = t == 1 || t == 2 || t == 3 || t == 9 || t == 11 ||
					       (kind == 0 && (t == 4 || t == 5 || t == 12));
				ok = ok && kind < 2 && good;
			} else if (kind == 2) {
				ok = ok && ((n.type & 8) ? (n.type & 2) : 1);
			} else if (kind == 3) {
				ok = ok && !(n.type & 8) && (n.type & 2);
			}
		}
	}
	flags_set_eager(c, F_ZF, ok ? F_ZF : 0);
	if (!ok)
		return;
	if (kind == 0)
		reg_set(c, in->reg, in->osize, (d >> 32) & 0x00ffff00 & sz_mask(in->osize));
	else if (kind == 1)
		reg_set(c, in->reg, in->osize, n.limit);
}

void emu_swapgs(struct emu_cpu *c)
{
	if (c->mode != EMU_MODE_64)
		emu_raise(c, EMU_UD, 0, 0);
	if (c->cpl)
		emu_raise(c, EMU_GP, 1, 0);
	uint64_t t = c->st.seg[X86_GS].base;
	c->st.seg[X86_GS].base = c->msr.kernel_gs_base;
	c->msr.kernel_gs_base = t;
	c->seg_base[X86_GS] = c->st.seg[X86_GS].base;
}

int emu_exec_seg(struct emu_cpu *c, const struct emu_insn *in)
{
	unsigned r = in->reg & 7;

	switch (in->op) {
	case EMU_OP_MOV_SE:
		if (r == X86_CS || r > X86_GS)
			emu_raise(c, EMU_UD, 0, 0);
		emu_load_seg(c, r, (uint16_t)emu_get_e(c, in, 2));
		if (r == X86_SS) {
			c->st.flags |= X86_STATE_INT_SHADOW;
			emu_events_update(c);
		}
		break;
	case EMU_OP_POP_SEG: {
		uint64_t sm = sz_mask(c->stack_size), sp = c->st.gpr[X86_RSP] & sm;
		uint16_t sel = (uint16_t)emu_ld(c, X86_SS, sp, 2);
		emu_load_seg(c, in->sub, sel);
		c->st.gpr[X86_RSP] = (c->st.gpr[X86_RSP] & ~sm) | ((sp + in->osize) & sm);
		if (in->sub == X86_SS) {
			c->st.flags |= X86_STATE_INT_SHADOW;
			emu_events_update(c);
		}
		break;
	}
	case EMU_OP_LSEG: {
		uint64_t ea = emu_ea(c, in);
		uint64_t off = emu_ld(c, in->seg, ea, in->osize);
		uint16_t sel =
		    (uint16_t)emu_ld(c, in->seg, (ea + in->osize) & sz_mask(in->asize), 2);
		emu_load_seg(c, in->sub, sel);
		reg_set(c, in->reg, in->osize, off);
		break;
	}
	case EMU_OP_FAR_P:
	case EMU_OP_FAR_E:
		exec_far(c, in, in->sub);
		break;
	case EMU_OP_RETF:
		exec_retf(c, in);
		break;
	case EMU_OP_GRP6:
		if (!(c->st.cr0 & X86_CR0_PE) || (c->st.rflags & F_VM))
			emu_raise(c, EMU_UD, 0, 0);
		switch (in->sub) {
		case 0: /* SLDT */
		case 1: /* STR */
			if (in->flags & EMU_I_REG)
				reg_set(c, in->rm, in->osize,
					in->sub ? c->st.tr.selector : c->st.ldt.selector);
			else
				emu_st(c, in->seg, emu_ea(c, in), 2,
				       in->sub ? c->st.tr.selector : c->st.ldt.selector);
			break;
		case 2: /* LLDT */
		case 3: /* LTR */
			exec_lsys(c, (uint16_t)emu_get_e(c, in, 2), in->sub == 3);
			break;
		case 4: /* VERR */
		case 5: /* VERW */
			exec_lar(c, in, in->sub - 2);
			break;
		default:
			emu_raise(c, EMU_UD, 0, 0);
		}
		break;
	case EMU_OP_LAR:
		exec_lar(c, in, in->sub);
		break;
	default:
		emu_exit_now(c, EMU_EXIT_UNIMPL);
	}
	return 0;
}
