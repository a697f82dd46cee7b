/* emu: exception and interrupt delivery, IRET, software interrupts, injected events.
 *
 * Delivery (emu_deliver) follows the SDM vol. 3 ch. 6 for the three IDT formats:
 * - real mode: the IVT (4-byte far pointers), pushing FLAGS, CS, IP;
 * - protected mode: 8-byte interrupt/trap gates (16- and 32-bit), a stack switch from the TSS
 *   (SS0/ESP0..) when the handler runs at a more privileged level; task gates exit with
 *   EMU_EXIT_UNIMPL; virtual-8086 mode is not supported;
 * - long mode: 16-byte gates, IST stacks, RSP0-2 from the 64-bit TSS on privilege changes, the
 *   new RSP aligned down to 16 bytes, SS:RSP always pushed.
 * Error codes of faults raised while reading the IDT, the handler's code descriptor or the TSS
 * carry the IDT bit (2) and the EXT bit (1) for events not caused by INT n/INT3/INTO.
 *
 * Nothing is committed until every access that can fault has been done (the pushes go to the
 * new stack through a local stack pointer), so a fault during delivery re-enters emu_exception
 * with the architectural state of the original event. emu_exception applies the double-fault
 * rules (contributory/page-fault classes, SDM table 6-5) and turns a fault while delivering #DF
 * into EMU_EXIT_TRIPLE_FAULT.
 *
 * External interrupts and NMIs come from the VMM (emu_cpu_inject_*) and are taken at block
 * boundaries only (run loop: c->events), which are instruction boundaries; the interrupt shadow
 * after STI / MOV SS / POP SS holds for exactly one instruction. NMIs are blocked from NMI
 * delivery until the next IRET. */
#include "accel/emu/emu_priv.h"

/* Where and how the handler runs (computed first, committed last). */
struct target {
	struct x86_segment cs, ss;
	uint64_t rip, sp, ss_base, sp_mask;
	unsigned cpl;
	int new_stack;
};

static int contributory(unsigned v)
{
	return v == EMU_DE || (v >= EMU_TS && v <= EMU_GP);
}

void emu_events_update(struct emu_cpu *c)
{
	uint32_t ev = (c->st.pending_irq != 0) | c->nmi_pending | c->irq_window |
		      ((c->st.flags & X86_STATE_INT_SHADOW) != 0) |
		      __atomic_load_n(&c->stop_req, __ATOMIC_RELAXED);
	__atomic_store_n(&c->events, ev, __ATOMIC_RELAXED);
}

int emu_cpu_interrupt_window(struct emu_cpu *c)
{
	return (c->st.rflags & F_IF) && !(c->st.flags & X86_STATE_INT_SHADOW) && !c->st.pending_irq;
}

void emu_cpu_request_interrupt_window(struct emu_cpu *c)
{
	c->irq_window = 1;
	emu_events_update(c);
}

void emu_cpu_inject_interrupt(struct emu_cpu *c, uint8_t vector)
{
	c->irq_window = 0;
	c->st.pending_irq = (uint32_t)vector + 1;
	emu_events_update(c);
}

void emu_cpu_inject_nmi(struct emu_cpu *c)
{
	c->nmi_pending = 1;
	emu_events_update(c);
}

uint64_t emu_sys_ld(struct emu_cpu *c, uint64_t lin, unsigned size)
{
	unsigned cpl = c->cpl;
	uint64_t v;

	emu_set_cpl(c, 0);
	v = emu_ld_lin(c, lin & c->lin_mask, size);
	emu_set_cpl(c, cpl);
	return v;
}

void emu_sys_st(struct emu_cpu *c, uint64_t lin, unsigned size, uint64_t v)
{
	unsigned cpl = c->cpl;

	emu_set_cpl(c, 0);
	emu_st_lin(c, lin & c->lin_mask, size, v);
	emu_set_cpl(c, cpl);
}

/* Store on the handler's stack (at the handler's privilege). */
static void tpush(struct emu_cpu *c, struct target *t, unsigned size, uint64_t v)
{
	unsigned cpl = c->cpl;

	t->sp = (t->sp - size) & t->sp_mask;
	emu_set_cpl(c, t->cpl);
	emu_st_lin(c, (t->ss_base + t->sp) & c->lin_mask, size, v);
	emu_set_cpl(c, cpl);
}

static void deliver_real(struct emu_cpu *c, unsigned vec, uint64_t ret)
{
	uint64_t sp = c->st.gpr[X86_RSP] & 0xffff, fl = emu_cpu_rflags(c);

	if (vec * 4 + 3 > c->st.idt.limit)
		emu_raise(c, EMU_GP, 1, vec * 8 + 2);
	uint32_t ptr = (uint32_t)emu_ld_lin(c, (c->st.idt.base + vec * 4) & 0xffffffff, 4);
	sp = (sp - 2) & 0xffff;
	emu_st(c, X86_SS, sp, 2, fl);
	sp = (sp - 2) & 0xffff;
	emu_st(c, X86_SS, sp, 2, c->st.seg[X86_CS].selector);
	sp = (sp - 2) & 0xffff;
	emu_st(c, X86_SS, sp, 2, ret);
	c->st.gpr[X86_RSP] = (c->st.gpr[X86_RSP] & ~0xffffull) | sp;
	c->st.rflags &= ~(uint64_t)(F_IF | F_TF | F_AC | F_RF);
	c->st.seg[X86_CS].selector = (uint16_t)(ptr >> 16);
	c->st.seg[X86_CS].base = (ptr >> 16) << 4;
	c->st.rip = ptr & 0xffff;
}

/* The stack of privilege level dpl from the current TSS (16/32/64-bit formats). */
static void tss_stack(struct emu_cpu *c, unsigned dpl, unsigned ist, struct target *t, uint32_t ext)
{
	const struct x86_segment *tr = &c->st.tr;
	uint32_t terr = (tr->selector & 0xfffc) | ext;
	unsigned off, w;

	if (c->st.efer & X86_EFER_LMA) {
		off = ist ? 36 + (ist - 1) * 8 : 4 + dpl * 8;
		if (off + 7 > tr->limit)
			emu_raise(c, EMU_TS, 1, terr);
		t->sp = emu_sys_ld(c, tr->base + off, 8);
		return;
	}
	w = (tr->type & 8) ? 4 : 2;
	off = w == 4 ? 4 + dpl * 8 : 2 + dpl * 4;
	if (off + 2 * w - 1 > tr->limit)
		emu_raise(c, EMU_TS, 1, terr);
	t->sp = emu_sys_ld(c, tr->base + off, w);
	uint16_t ss = (uint16_t)emu_sys_ld(c, tr->base + off + w, 2);
	if (!(ss & 0xfffc))
		emu_raise(c, EMU_TS, 1, ext);
	if ((ss & 3) != dpl)
		emu_raise(c, EMU_TS, 1, (ss & 0xfffc) | ext);
	uint64_t d = emu_desc_read(c, ss, EMU_TS);
	emu_desc_unpack(&t->ss, ss, d);
	if (!t->ss.s || (t->ss.type & 8) || !(t->ss.type & 2) || t->ss.dpl != dpl)
		emu_raise(c, EMU_TS, 1, (ss & 0xfffc) | ext);
	if (!t->ss.present)
		emu_raise(c, EMU_SS, 1, (ss & 0xfffc) | ext);
}

/* Protected and long mode. */
static void deliver_prot(struct emu_cpu *c, unsigned vec, int type, int has_err, uint32_t err,
			 uint64_t ret)
{
	int lm = !!(c->st.efer & X86_EFER_LMA);
	uint32_t ext = type != EMU_EV_SOFT;
	uint32_t ierr = vec * 8 + 2 + ext;
	unsigned esz = lm ? 16 : 8;
	struct target t = {0};
	uint64_t lo, hi = 0;

	if (vec * esz + esz - 1 > c->st.idt.limit)
		emu_raise(c, EMU_GP, 1, ierr);
	lo = emu_sys_ld(c, c->st.idt.base + vec * esz, 8);
	if (lm)
		hi = emu_sys_ld(c, c->st.idt.base + vec * esz + 8, 8);
	unsigned gtype = (lo >> 40) & 0x1f, gdpl = (lo >> 45) & 3;
	int gate32 = 1, trap;
	if (lm) {
		if (gtype != 0xe && gtype != 0xf)
			emu_raise(c, EMU_GP, 1, ierr);
	} else if (gtype == 0x5) {
		emu_exit_now(c, EMU_EXIT_UNIMPL); /* task gate */
	} else if (gtype == 0x6 || gtype == 0x7) {
		gate32 = 0;
	} else if (gtype != 0xe && gtype != 0xf) {
		emu_raise(c, EMU_GP, 1, ierr);
	}
	trap = gtype & 1;
	if (type == EMU_EV_SOFT && gdpl < c->cpl)
		emu_raise(c, EMU_GP, 1, ierr);
	if (!((lo >> 47) & 1))
		emu_raise(c, EMU_NP, 1, ierr);
	uint16_t sel = (uint16_t)(lo >> 16);
	t.rip = (lo & 0xffff) | (gate32 ? (lo >> 32) & 0xffff0000ull : 0) | (hi << 32);
	if (!(sel & 0xfffc))
		emu_raise(c, EMU_GP, 1, ext);
	uint64_t d = emu_desc_read(c, sel, EMU_GP);
	emu_desc_unpack(&t.cs, sel, d);
	uint32_t serr = (sel & 0xfffc) | ext;
	if (!t.cs.s || !(t.cs.type & 8) || t.cs.dpl > c->cpl)
		emu_raise(c, EMU_GP, 1, serr);
	if (lm && (!t.cs.l || t.cs.db))
		emu_raise(c, EMU_GP, 1, serr);
	if (!t.cs.present)
		emu_raise(c, EMU_NP, 1, serr);
	int conforming = !!(t.cs.type & 4);
	t.cpl = conforming ? c->cpl : t.cs.dpl;
	t.cs.selector = (uint16_t)((sel & 0xfffc) | t.cpl);
	unsigned ist = lm ? (unsigned)(lo >> 32) & 7 : 0;
	t.new_stack = t.cpl < c->cpl;
	if (c->st.rflags & F_VM)
		emu_exit_now(c, EMU_EXIT_UNIMPL); /* virtual-8086 mode */

	if (lm) {
		t.sp_mask = ~0ull;
		t.ss_base = 0;
		if (t.new_stack || ist)
			tss_stack(c, t.cpl, ist, &t, ext);
		else
			t.sp = c->st.gpr[X86_RSP];
		if (t.new_stack)
			t.ss = (struct x86_segment){.selector = (uint16_t)t.cpl,
						    .dpl = (uint8_t)t.cpl,
						    .unusable = 1,
						    .s = 1,
						    .type = 3,
						    .db = 1};
		else
			t.ss = c->st.seg[X86_SS];
		if ((uint64_t)((int64_t)(t.sp << 16) >> 16) != t.sp)
			emu_raise(c, EMU_SS, 1, ext);
		t.sp &= ~15ull;
		if (t.rip != (uint64_t)((int64_t)(t.rip << 16) >> 16))
			emu_raise(c, EMU_GP, 1, ext);
	} else {
		if (t.new_stack) {
			tss_stack(c, t.cpl, 0, &t, ext);
		} else {
			t.ss = c->st.seg[X86_SS];
			t.sp = c->st.gpr[X86_RSP];
		}
		t.sp_mask = t.ss.db ? 0xffffffffull : 0xffffull;
		t.ss_base = t.ss.base & 0xffffffffull;
		t.sp &= t.sp_mask;
		if (!gate32)
			t.rip &= 0xffff;
		if (t.rip > t.cs.limit)
			emu_raise(c, EMU_GP, 1, ext);
	}

	unsigned w = lm ? 8 : gate32 ? 4 : 2;
	uint64_t fl = emu_cpu_rflags(c);
	if (lm || t.new_stack) {
		tpush(c, &t, w, c->st.seg[X86_SS].selector);
		tpush(c, &t, w, c->st.gpr[X86_RSP]);
	}
	tpush(c, &t, w, fl);
	tpush(c, &t, w, c->st.seg[X86_CS].selector);
	tpush(c, &t, w, ret);
	if (has_err)
		tpush(c, &t, w, err);

	/* Commit. */
	if (lm || t.new_stack) {
		c->st.seg[X86_SS] = t.ss;
		c->st.gpr[X86_RSP] = t.sp;
	} else {
		c->st.gpr[X86_RSP] = (c->st.gpr[X86_RSP] & ~t.sp_mask) | t.sp;
	}
	c->st.seg[X86_CS] = t.cs;
	c->st.rip = t.rip;
	c->st.rflags &= ~(uint64_t)(F_TF | F_NT | F_RF | F_VM | (trap ? 0 : F_IF));
}

void emu_deliver(struct emu_cpu *c, unsigned vector, int type, int has_err, uint32_t err)
{
	uint64_t ret = (type == EMU_EV_SOFT || type == EMU_EV_ICEBP) ? c->next_rip : c->st.rip;

	if (!(c->st.cr0 & X86_CR0_PE))
		deliver_real(c, vector, ret);
	else
		deliver_prot(c, vector, type, has_err, err, ret);
	if (type == EMU_EV_NMI)
		c->st.flags |= X86_STATE_NMI_MASKED;
	c->st.flags &= ~X86_STATE_INT_SHADOW;
	emu_cpu_update_mode(c);
	c->next_rip = c->st.rip;
	c->stop_block = 1;
	emu_events_update(c);
}

int emu_exception(struct emu_cpu *c)
{
	unsigned vec = c->exit.vector;
	int has_err = c->exit.has_error;
	uint32_t err = c->exit.error_code;

	emu_cpu_update_mode(c); /* a fault in the middle of a delivery may have left cpl changed */
	if (c->delivering) {
		unsigned first = c->delivering - 1u;
		if (first == EMU_DF) {
			c->delivering = 0;
			c->exit.reason = EMU_EXIT_TRIPLE_FAULT;
			return EMU_EXIT_TRIPLE_FAULT;
		}
		if ((contributory(first) && contributory(vec)) ||
		    (first == EMU_PF && (contributory(vec) || vec == EMU_PF))) {
			vec = EMU_DF;
			has_err = 1;
			err = 0;
		}
	}
	c->delivering = (uint8_t)(vec + 1);
	c->exit.vector = (uint8_t)vec;
	c->exit.has_error = (uint8_t)has_err;
	c->exit.error_code = err;
	emu_deliver(c, vec, EMU_EV_EXC, has_err, err);
	c->delivering = 0;
	return 0;
}

int emu_events(struct emu_cpu *c, int *one_insn)
{
	if (__atomic_load_n(&c->stop_req, __ATOMIC_RELAXED)) {
		__atomic_store_n(&c->stop_req, 0, __ATOMIC_RELAXED);
		emu_events_update(c);
		return EMU_EXIT_STOP;
	}
	if (c->st.flags & X86_STATE_INT_SHADOW) {
		c->st.flags &= ~X86_STATE_INT_SHADOW;
		*one_insn = 1;
		emu_events_update(c);
		return 0;
	}
	if (c->irq_window && emu_cpu_interrupt_window(c)) {
		/* The VMM waits for this: give it the vCPU to inject before the next instruction.
		 */
		c->irq_window = 0;
		emu_events_update(c);
		return EMU_EXIT_STOP;
	}
	if (c->nmi_pending && !(c->st.flags & X86_STATE_NMI_MASKED)) {
		c->nmi_pending = 0;
		emu_events_update(c);
		emu_deliver(c, 2, EMU_EV_NMI, 0, 0);
	} else if (c->st.pending_irq && (c->st.rflags & F_IF)) {
		unsigned v = c->st.pending_irq - 1;
		c->st.pending_irq = 0;
		emu_events_update(c);
		emu_deliver(c, v, EMU_EV_EXT, 0, 0);
	}
	return 0;
}

/* INT n, INT3, INTO, INT1 (ICEBP). */
void emu_exec_int(struct emu_cpu *c, const struct emu_insn *in)
{
	if (in->op == EMU_OP_INTO) {
		if (!emu_cond(c, 0))
			return;
		emu_deliver(c, EMU_OF, EMU_EV_SOFT, 0, 0);
		return;
	}
	if ((c->st.rflags & F_VM) && in->imm != 1)
		emu_exit_now(c, EMU_EXIT_UNIMPL);
	emu_deliver(c, (unsigned)in->imm, in->sub == 1 ? EMU_EV_ICEBP : EMU_EV_SOFT, 0, 0);
}

void emu_exec_sti(struct emu_cpu *c)
{
	if (!(c->st.rflags & F_IF))
		c->st.flags |= X86_STATE_INT_SHADOW;
	c->st.rflags |= F_IF;
	emu_events_update(c);
}

/* Null data segment registers the new (outer) privilege level may not use (IRET/RETF). */
static void null_outer_segs(struct emu_cpu *c, unsigned cpl)
{
	static const unsigned regs[4] = {X86_ES, X86_DS, X86_FS, X86_GS};

	for (int i = 0; i < 4; i++) {
		struct x86_segment *s = &c->st.seg[regs[i]];
		int conf_code = (s->type & 0xc) == 0xc;
		if (!s->unusable && s->dpl < cpl && !conf_code) {
			s->selector = 0;
			s->unusable = 1;
			s->present = 0;
		}
	}
}

/* IRET/IRETD/IRETQ. Returns to the same or an outer privilege level; a nested-task return or a
 * return to virtual-8086 mode exits as unimplemented. */
void emu_exec_iret(struct emu_cpu *c, const struct emu_insn *in)
{
	unsigned w = in->osize, cpl = c->cpl;
	uint64_t sm = sz_mask(c->stack_size), sp = c->st.gpr[X86_RSP] & sm;
	uint64_t ip, cs, fl, nsp = 0, nss = 0;

	if (!(c->st.cr0 & X86_CR0_PE)) {
		ip = emu_ld(c, X86_SS, sp, w);
		cs = emu_ld(c, X86_SS, (sp + w) & sm, w) & 0xffff;
		fl = emu_ld(c, X86_SS, (sp + 2 * w) & sm, w);
		if (ip > c->st.seg[X86_CS].limit)
			emu_raise(c, EMU_GP, 1, 0);
		uint64_t mask = w == 2 ? 0xffff
				       : (F_ARITH | F_TF | F_IF | F_DF | F_OF | F_IOPL | F_NT |
					  F_RF | F_AC | F_ID);
		emu_flags_materialize(c);
		c->st.rflags = (c->st.rflags & ~mask) | (fl & mask) | X86_RFLAGS_FIXED;
		c->st.gpr[X86_RSP] = (c->st.gpr[X86_RSP] & ~sm) | ((sp + 3 * w) & sm);
		c->st.seg[X86_CS].selector = (uint16_t)cs;
		c->st.seg[X86_CS].base = cs << 4;
		c->next_rip = ip;
		goto done;
	}
	if (c->st.rflags & F_NT) {
		if (c->st.efer & X86_EFER_LMA)
			emu_raise(c, EMU_GP, 1, 0);
		emu_exit_now(c, EMU_EXIT_UNIMPL); /* task return */
	}
	ip = emu_ld(c, X86_SS, sp, w);
	cs = emu_ld(c, X86_SS, (sp + w) & sm, w) & 0xffff;
	fl = emu_ld(c, X86_SS, (sp + 2 * w) & sm, w);
	if (w == 2)
		fl = (emu_cpu_rflags(c) & ~0xffffull) | fl;
	if ((fl & F_VM) && cpl == 0 && c->mode != EMU_MODE_64)
		emu_exit_now(c, EMU_EXIT_UNIMPL); /* return to virtual-8086 mode */
	if (!(cs & 0xfffc))
		emu_raise(c, EMU_GP, 1, 0);
	struct x86_segment ncs, nssd = {0};
	emu_desc_unpack(&ncs, (uint16_t)cs, emu_desc_read(c, (uint16_t)cs, EMU_GP));
	unsigned rpl = cs & 3;
	uint32_t cerr = (uint32_t)cs & 0xfffc;
	if (rpl < cpl || !ncs.s || !(ncs.type & 8))
		emu_raise(c, EMU_GP, 1, cerr);
	if ((ncs.type & 4) ? ncs.dpl > rpl : ncs.dpl != rpl)
		emu_raise(c, EMU_GP, 1, cerr);
	if (!ncs.present)
		emu_raise(c, EMU_NP, 1, cerr);
	int to64 = (c->st.efer & X86_EFER_LMA) && ncs.l;
	if ((c->st.efer & X86_EFER_LMA) && ncs.l && ncs.db)
		emu_raise(c, EMU_GP, 1, cerr);
	int pop_ss = rpl > cpl || c->mode == EMU_MODE_64;
	if (pop_ss) {
		nsp = emu_ld(c, X86_SS, (sp + 3 * w) & sm, w);
		nss = emu_ld(c, X86_SS, (sp + 4 * w) & sm, w) & 0xffff;
		if (!(nss & 0xfffc)) {
			if (!to64 || rpl == 3)
				emu_raise(c, EMU_GP, 1, 0);
			nssd = (struct x86_segment){.selector = (uint16_t)nss,
						    .dpl = (uint8_t)rpl,
						    .unusable = 1,
						    .s = 1,
						    .type = 3,
						    .db = 1};
		} else {
			uint32_t serr = (uint32_t)nss & 0xfffc;
			emu_desc_unpack(&nssd, (uint16_t)nss,
					emu_desc_read(c, (uint16_t)nss, EMU_GP));
			if ((nss & 3) != rpl || nssd.dpl != rpl || !nssd.s || (nssd.type & 8) ||
			    !(nssd.type & 2))
				emu_raise(c, EMU_GP, 1, serr);
			if (!nssd.present)
				emu_raise(c, EMU_SS, 1, serr);
		}
	}
	if (!to64) {
		ip &= w == 2 ? 0xffff : 0xffffffff;
		if (ip > ncs.limit)
			emu_raise(c, EMU_GP, 1, 0);
	} else if (ip != (uint64_t)((int64_t)(ip << 16) >> 16)) {
		emu_raise(c, EMU_GP, 1, 0);
	}

	/* Commit: flags by the old CPL's rules, then the segments. */
	uint64_t mask = F_ARITH | F_TF | F_DF | F_NT | F_RF | F_AC | F_ID;
	unsigned iopl = (unsigned)(c->st.rflags & F_IOPL) >> 12;
	if (cpl <= iopl)
		mask |= F_IF;
	if (cpl == 0)
		mask |= F_IOPL;
	if (w == 2)
		mask &= 0xffff;
	emu_flags_materialize(c);
	c->st.rflags = (c->st.rflags & ~mask) | (fl & mask) | X86_RFLAGS_FIXED;
	if (pop_ss) {
		c->st.seg[X86_SS] = nssd;
		uint64_t nm = w == 8 || to64 ? ~0ull : sz_mask(nssd.db ? 4 : 2);
		c->st.gpr[X86_RSP] = (c->st.gpr[X86_RSP] & ~nm) | (nsp & nm);
	} else {
		c->st.gpr[X86_RSP] = (c->st.gpr[X86_RSP] & ~sm) | ((sp + 3 * w) & sm);
	}
	c->st.seg[X86_CS] = ncs;
	c->next_rip = ip;
	if (rpl > cpl)
		null_outer_segs(c, rpl);
done:
	c->st.flags &= ~X86_STATE_NMI_MASKED;
	emu_cpu_update_mode(c);
	c->stop_block = 1;
	emu_events_update(c);
}
