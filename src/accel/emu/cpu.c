/* emu: vCPU life cycle, state transfer and the mode cache. */
#include <errno.h>

#include "accel/emu/emu_priv.h"

/* The power-on state of everything but the callbacks and the decode cache. */
static void cpu_power_on(struct emu_cpu *c)
{
	x86_state_reset(&c->st);
	/* Firmware defaults, as the kvm backend sets them: PAT power-on value, fast strings,
	 * MTRRs enabled with write-back as the default type. */
	c->msr.pat = 0x0007040600070406ull;
	c->msr.misc_enable = 1;
	c->msr.mtrr_def = 0xc06;
	emu_cpu_update_mode(c);
	emu_tlb_flush(c);
}

int emu_cpu_init(struct emu_cpu *c, const struct emu_mem_ops *ops, void *ctx)
{
	memset(c, 0, sizeof(*c));
	c->ops = ops;
	c->ctx = ctx;
	if (emu_icache_init(c))
		return -ENOMEM;
	cpu_power_on(c);
	return 0;
}

void emu_cpu_reset(struct emu_cpu *c)
{
	const struct emu_mem_ops *ops = c->ops;
	const struct emu_sys_ops *sys = c->sys;
	struct emu_icache *ic = c->icache;
	void *ctx = c->ctx;

	memset(c, 0, sizeof(*c));
	c->ops = ops;
	c->sys = sys;
	c->ctx = ctx;
	c->icache = ic;
	emu_icache_reset(c);
	cpu_power_on(c);
}

void emu_cpu_set_sys_ops(struct emu_cpu *c, const struct emu_sys_ops *sys)
{
	c->sys = sys;
}

void emu_cpu_destroy(struct emu_cpu *c)
{
	emu_icache_destroy(c);
}

void emu_cpu_update_mode(struct emu_cpu *c)
{
	const struct x86_segment *cs = &c->st.seg[X86_CS];
	int pe = !!(c->st.cr0 & X86_CR0_PE);

	if ((c->st.efer & X86_EFER_LMA) && cs->l) {
		c->mode = EMU_MODE_64;
		c->ip_mask = ~0ull;
		c->lin_mask = ~0ull;
		c->stack_size = 8;
		c->flat = 1;
		for (int i = 0; i < 6; i++)
			c->seg_base[i] = i >= X86_FS ? c->st.seg[i].base : 0;
	} else {
		c->mode = pe && cs->db && !(c->st.rflags & F_VM) ? EMU_MODE_32 : EMU_MODE_16;
		c->ip_mask = c->mode == EMU_MODE_32 ? 0xffffffffull : 0xffffull;
		c->lin_mask = 0xffffffffull;
		c->stack_size = c->st.seg[X86_SS].db ? 4 : 2;
		c->flat = pe;
		for (int i = 0; i < 6; i++) {
			const struct x86_segment *s = &c->st.seg[i];
			c->seg_base[i] = s->base & 0xffffffffull;
			if (s->unusable && i >= X86_FS)
				continue;
			if (s->unusable || !s->present || s->limit != 0xffffffffu ||
			    (!(s->type & 8) && (s->type & 4)) || (!(s->type & 8) && !(s->type & 2)))
				c->flat = 0;
		}
	}
	/* Through emu_set_cpl: TLB entries filled for the supervisor must not serve CPL 3. */
	if (!pe)
		emu_set_cpl(c, 0);
	else if (c->st.rflags & F_VM)
		emu_set_cpl(c, 3);
	else
		emu_set_cpl(c, cs->selector & 3);
}

void emu_cpu_set_state(struct emu_cpu *c, const struct x86_cpu_state *st)
{
	c->st = *st;
	c->st.rflags |= X86_RFLAGS_FIXED;
	c->cc.op = EMU_CC_EAGER;
	emu_cpu_update_mode(c);
	emu_tlb_flush(c);
	/* PAE paging: the PDPTEs are not part of the state; load them from CR3 as a MOV to CR3
	 * would (not present when they are invalid: accesses then #PF). */
	memset(c->pdpte, 0, sizeof(c->pdpte));
	if ((c->st.cr0 & X86_CR0_PG) && (c->st.cr4 & X86_CR4_PAE) && !(c->st.efer & X86_EFER_LMA))
		(void)emu_load_pdptes(c, c->st.cr3);
	emu_msrs_load(c, st);
	emu_events_update(c); /* pending interrupt and interrupt shadow from the state */
}

uint64_t emu_cpu_rflags(struct emu_cpu *c)
{
	emu_flags_materialize(c);
	return c->st.rflags;
}

void emu_cpu_get_state(struct emu_cpu *c, struct x86_cpu_state *st)
{
	emu_flags_materialize(c);
	*st = c->st;
	if (emu_has_tpr(c)) /* CR8 aliases TPR[7:4] (exec_sys.c) */
		st->cr8 = (uint64_t)(c->sys->get_tpr(c->ctx) >> 4);
	emu_msrs_save(c, st);
}
