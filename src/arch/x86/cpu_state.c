#include "arch/x86/cpu_state.h"

#include <errno.h>
#include <string.h>

static void seg_set(struct x86_segment *sg, uint16_t sel, uint64_t base, uint32_t limit,
		    uint8_t type, uint8_t s, uint8_t db, uint8_t l, uint8_t g)
{
	*sg = (struct x86_segment){.base = base,
				   .limit = limit,
				   .selector = sel,
				   .type = type,
				   .present = 1,
				   .dpl = 0,
				   .db = db,
				   .s = s,
				   .l = l,
				   .g = g};
}

static void state_common(struct x86_cpu_state *s)
{
	memset(s, 0, sizeof(*s));
	s->rflags = X86_RFLAGS_FIXED;
	s->dr[6] = 0xffff0ff0;
	s->dr[7] = 0x400;
	s->xcr0 = 1;
	s->apic_base = 0xfee00000ull | (1ull << 11) | (1ull << 8); /* enabled, BSP */
	/* FXSAVE defaults: FCW 0x37f, MXCSR 0x1f80. */
	s->fxsave[0] = 0x7f;
	s->fxsave[1] = 0x03;
	s->fxsave[24] = 0x80;
	s->fxsave[25] = 0x1f;
	seg_set(&s->tr, 0, 0, 0xffff, 11, 0, 0, 0, 0);
	seg_set(&s->ldt, 0, 0, 0xffff, 2, 0, 0, 0, 0);
}

void x86_state_reset(struct x86_cpu_state *s)
{
	state_common(s);
	s->rip = 0xfff0;
	s->cr0 = X86_CR0_ET | X86_CR0_NW | X86_CR0_CD;
	s->gpr[X86_RDX] = 0x600; /* family 6 reset signature */
	for (int i = 0; i < 6; i++)
		seg_set(&s->seg[i], 0, 0, 0xffff, 3, 1, 0, 0, 0);
	seg_set(&s->seg[X86_CS], 0xf000, 0xffff0000, 0xffff, 11, 1, 0, 0, 0);
	s->gdt.limit = 0xffff;
	s->idt.limit = 0xffff;
}

void x86_state_flat32(struct x86_cpu_state *s, uint32_t eip, uint64_t gdt_base, uint16_t gdt_limit)
{
	state_common(s);
	s->rip = eip;
	s->cr0 = X86_CR0_PE | X86_CR0_ET;
	for (int i = 0; i < 6; i++)
		seg_set(&s->seg[i], 0x18, 0, 0xffffffff, 3, 1, 1, 0, 1);
	seg_set(&s->seg[X86_CS], 0x10, 0, 0xffffffff, 11, 1, 1, 0, 1);
	s->gdt.base = gdt_base;
	s->gdt.limit = gdt_limit;
	s->idt.limit = 0;
}

void x86_state_long64(struct x86_cpu_state *s, uint64_t rip, uint64_t cr3, uint64_t gdt_base,
		      uint16_t gdt_limit)
{
	state_common(s);
	s->rip = rip;
	s->cr0 = X86_CR0_PE | X86_CR0_ET | X86_CR0_PG;
	s->cr3 = cr3;
	s->cr4 = X86_CR4_PAE;
	s->efer = X86_EFER_LME | X86_EFER_LMA;
	for (int i = 0; i < 6; i++)
		seg_set(&s->seg[i], 0x18, 0, 0xffffffff, 3, 1, 1, 0, 1);
	seg_set(&s->seg[X86_CS], 0x10, 0, 0xffffffff, 11, 1, 0, 1, 1);
	s->gdt.base = gdt_base;
	s->gdt.limit = gdt_limit;
}

int x86_state_set_msr(struct x86_cpu_state *s, uint32_t index, uint64_t value)
{
	for (uint32_t i = 0; i < s->nr_msrs; i++) {
		if (s->msrs[i].index == index) {
			s->msrs[i].value = value;
			return 0;
		}
	}
	if (s->nr_msrs >= X86_MAX_SAVED_MSRS)
		return -ENOSPC;
	s->msrs[s->nr_msrs++] = (struct x86_msr){index, value};
	return 0;
}

int x86_state_get_msr(const struct x86_cpu_state *s, uint32_t index, uint64_t *value)
{
	for (uint32_t i = 0; i < s->nr_msrs; i++) {
		if (s->msrs[i].index == index) {
			*value = s->msrs[i].value;
			return 1;
		}
	}
	return 0;
}
