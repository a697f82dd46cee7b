/* kvm backend: conversion between struct x86_cpu_state and KVM's register ioctls, and the
 * firmware-like initial CPUID/MSR setup of a new vCPU. */
#include "accel/kvm/kvm_int.h"
#include "core/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#define MSR_IA32_TSC 0x10
#define MSR_IA32_APICBASE 0x1b
#define MSR_IA32_SYSENTER_CS 0x174
#define MSR_IA32_SYSENTER_ESP 0x175
#define MSR_IA32_SYSENTER_EIP 0x176
#define MSR_IA32_MISC_ENABLE 0x1a0
#define MSR_MTRR_DEF_TYPE 0x2ff
#define MSR_IA32_CR_PAT 0x277
#define MSR_STAR 0xc0000081
#define MSR_LSTAR 0xc0000082
#define MSR_CSTAR 0xc0000083
#define MSR_SFMASK 0xc0000084
#define MSR_KERNEL_GS_BASE 0xc0000102
#define MSR_TSC_AUX 0xc0000103
#define MSR_KVM_SYSTEM_TIME_NEW 0x4b564d01
#define MSR_KVM_WALL_CLOCK_NEW 0x4b564d00
#define MSR_KVM_PV_EOI_EN 0x4b564d04
#define MSR_KVM_STEAL_TIME 0x4b564d03

/* MSRs carried in x86_cpu_state.msrs across save/restore. */
static const uint32_t saved_msrs[] = {
    MSR_IA32_SYSENTER_CS,
    MSR_IA32_SYSENTER_ESP,
    MSR_IA32_SYSENTER_EIP,
    MSR_STAR,
    MSR_LSTAR,
    MSR_CSTAR,
    MSR_SFMASK,
    MSR_KERNEL_GS_BASE,
    MSR_TSC_AUX,
    MSR_IA32_CR_PAT,
    MSR_IA32_MISC_ENABLE,
    MSR_MTRR_DEF_TYPE,
    MSR_KVM_SYSTEM_TIME_NEW,
    MSR_KVM_WALL_CLOCK_NEW,
    MSR_KVM_PV_EOI_EN,
    MSR_KVM_STEAL_TIME,
};

static int vcpu_fd(struct vcpu *vcpu)
{
	return ((struct kvm_vcpu_data *)vcpu->accel)->fd;
}

static void seg_to_kvm(const struct x86_segment *s, struct kvm_segment *k)
{
	*k = (struct kvm_segment){.base = s->base,
				  .limit = s->limit,
				  .selector = s->selector,
				  .type = s->type,
				  .present = s->present,
				  .dpl = s->dpl,
				  .db = s->db,
				  .s = s->s,
				  .l = s->l,
				  .g = s->g,
				  .avl = s->avl,
				  .unusable = s->unusable};
}

static void seg_from_kvm(const struct kvm_segment *k, struct x86_segment *s)
{
	*s = (struct x86_segment){.base = k->base,
				  .limit = k->limit,
				  .selector = k->selector,
				  .type = k->type,
				  .present = k->present,
				  .dpl = k->dpl,
				  .db = k->db,
				  .s = k->s,
				  .l = k->l,
				  .g = k->g,
				  .avl = k->avl,
				  .unusable = k->unusable};
}

static int kvm_msr_supported(struct kvm_vm *k, uint32_t index)
{
	for (unsigned i = 0; i < k->nr_msr_index; i++)
		if (k->msr_index_list[i] == index)
			return 1;
	return 0;
}

/* Write MSRs; entries KVM rejects are reported and skipped. */
static int set_msrs(struct vcpu *vcpu, const struct x86_msr *m, unsigned n)
{
	struct kvm_vm *k = kvm_of(vcpu->vm);
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e[X86_MAX_SAVED_MSRS];
	} b;
	unsigned cnt = 0;

	memset(&b, 0, sizeof(b));
	for (unsigned i = 0; i < n && cnt < X86_MAX_SAVED_MSRS; i++) {
		if (!kvm_msr_supported(k, m[i].index))
			continue;
		b.e[cnt].index = m[i].index;
		b.e[cnt].data = m[i].value;
		cnt++;
	}
	b.hdr.nmsrs = cnt;
	int r = ioctl(vcpu_fd(vcpu), KVM_SET_MSRS, &b);
	if (r < 0)
		return -errno;
	if ((unsigned)r != cnt)
		log_warn("kvm: vCPU %u: KVM rejected MSR 0x%x", vcpu->id, b.e[r].index);
	return 0;
}

int kvm_state_set(struct vcpu *vcpu, const struct x86_cpu_state *st)
{
	int fd = vcpu_fd(vcpu);
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	struct kvm_fpu fpu;

	if (ioctl(fd, KVM_GET_SREGS, &sregs) < 0)
		return -errno;
	for (int i = 0; i < 6; i++) {
		static const size_t off[6] = {
		    offsetof(struct kvm_sregs, es), offsetof(struct kvm_sregs, cs),
		    offsetof(struct kvm_sregs, ss), offsetof(struct kvm_sregs, ds),
		    offsetof(struct kvm_sregs, fs), offsetof(struct kvm_sregs, gs),
		};
		seg_to_kvm(&st->seg[i], (struct kvm_segment *)((char *)&sregs + off[i]));
	}
	seg_to_kvm(&st->tr, &sregs.tr);
	seg_to_kvm(&st->ldt, &sregs.ldt);
	sregs.gdt.base = st->gdt.base;
	sregs.gdt.limit = st->gdt.limit;
	sregs.idt.base = st->idt.base;
	sregs.idt.limit = st->idt.limit;
	sregs.cr0 = st->cr0;
	sregs.cr2 = st->cr2;
	sregs.cr3 = st->cr3;
	sregs.cr4 = st->cr4;
	sregs.cr8 = st->cr8;
	sregs.efer = st->efer;
	sregs.apic_base = st->apic_base;
	memset(sregs.interrupt_bitmap, 0, sizeof(sregs.interrupt_bitmap));
	if (st->pending_irq && st->pending_irq <= 256) {
		unsigned v = st->pending_irq - 1;
		sregs.interrupt_bitmap[v / 64] |= 1ull << (v % 64);
	}
	if (ioctl(fd, KVM_SET_SREGS, &sregs) < 0)
		return -errno;

	memset(&regs, 0, sizeof(regs));
	const uint64_t *g = st->gpr;
	regs.rax = g[X86_RAX], regs.rcx = g[X86_RCX], regs.rdx = g[X86_RDX], regs.rbx = g[X86_RBX];
	regs.rsp = g[X86_RSP], regs.rbp = g[X86_RBP], regs.rsi = g[X86_RSI], regs.rdi = g[X86_RDI];
	regs.r8 = g[X86_R8], regs.r9 = g[X86_R9], regs.r10 = g[X86_R10], regs.r11 = g[X86_R11];
	regs.r12 = g[X86_R12], regs.r13 = g[X86_R13], regs.r14 = g[X86_R14];
	regs.r15 = g[X86_R15];
	regs.rip = st->rip;
	regs.rflags = st->rflags | X86_RFLAGS_FIXED;
	if (ioctl(fd, KVM_SET_REGS, &regs) < 0)
		return -errno;

	/* FXSAVE image → kvm_fpu. */
	memset(&fpu, 0, sizeof(fpu));
	const uint8_t *fx = st->fxsave;
	memcpy(&fpu.fcw, fx + 0, 2);
	memcpy(&fpu.fsw, fx + 2, 2);
	fpu.ftwx = fx[4];
	memcpy(&fpu.last_opcode, fx + 6, 2);
	memcpy(&fpu.last_ip, fx + 8, 8);
	memcpy(&fpu.last_dp, fx + 16, 8);
	memcpy(&fpu.mxcsr, fx + 24, 4);
	for (int i = 0; i < 8; i++)
		memcpy(fpu.fpr[i], fx + 32 + 16 * i, 16);
	memcpy(fpu.xmm, fx + 160, 256);
	if (ioctl(fd, KVM_SET_FPU, &fpu) < 0)
		return -errno;

	if (st->nr_msrs) {
		int ret = set_msrs(vcpu, st->msrs, st->nr_msrs);
		if (ret)
			return ret;
	}
	struct kvm_mp_state mp = {.mp_state = st->mp_state};
	if (ioctl(fd, KVM_SET_MP_STATE, &mp) < 0)
		return -errno;
	return 0;
}

int kvm_state_get(struct vcpu *vcpu, struct x86_cpu_state *st)
{
	int fd = vcpu_fd(vcpu);
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	struct kvm_fpu fpu;

	memset(st, 0, sizeof(*st));
	if (ioctl(fd, KVM_GET_SREGS, &sregs) < 0 || ioctl(fd, KVM_GET_REGS, &regs) < 0 ||
	    ioctl(fd, KVM_GET_FPU, &fpu) < 0)
		return -errno;
	seg_from_kvm(&sregs.es, &st->seg[X86_ES]);
	seg_from_kvm(&sregs.cs, &st->seg[X86_CS]);
	seg_from_kvm(&sregs.ss, &st->seg[X86_SS]);
	seg_from_kvm(&sregs.ds, &st->seg[X86_DS]);
	seg_from_kvm(&sregs.fs, &st->seg[X86_FS]);
	seg_from_kvm(&sregs.gs, &st->seg[X86_GS]);
	seg_from_kvm(&sregs.tr, &st->tr);
	seg_from_kvm(&sregs.ldt, &st->ldt);
	st->gdt = (struct x86_dtable){sregs.gdt.base, sregs.gdt.limit};
	st->idt = (struct x86_dtable){sregs.idt.base, sregs.idt.limit};
	st->cr0 = sregs.cr0, st->cr2 = sregs.cr2, st->cr3 = sregs.cr3, st->cr4 = sregs.cr4;
	st->cr8 = sregs.cr8, st->efer = sregs.efer, st->apic_base = sregs.apic_base;
	for (unsigned v = 0; v < 256; v++)
		if (sregs.interrupt_bitmap[v / 64] & (1ull << (v % 64)))
			st->pending_irq = v + 1;
	uint64_t *g = st->gpr;
	g[X86_RAX] = regs.rax, g[X86_RCX] = regs.rcx, g[X86_RDX] = regs.rdx, g[X86_RBX] = regs.rbx;
	g[X86_RSP] = regs.rsp, g[X86_RBP] = regs.rbp, g[X86_RSI] = regs.rsi, g[X86_RDI] = regs.rdi;
	g[X86_R8] = regs.r8, g[X86_R9] = regs.r9, g[X86_R10] = regs.r10, g[X86_R11] = regs.r11;
	g[X86_R12] = regs.r12, g[X86_R13] = regs.r13, g[X86_R14] = regs.r14;
	g[X86_R15] = regs.r15;
	st->rip = regs.rip;
	st->rflags = regs.rflags;
	uint8_t *fx = st->fxsave;
	memcpy(fx + 0, &fpu.fcw, 2);
	memcpy(fx + 2, &fpu.fsw, 2);
	fx[4] = fpu.ftwx;
	memcpy(fx + 6, &fpu.last_opcode, 2);
	memcpy(fx + 8, &fpu.last_ip, 8);
	memcpy(fx + 16, &fpu.last_dp, 8);
	memcpy(fx + 24, &fpu.mxcsr, 4);
	for (int i = 0; i < 8; i++)
		memcpy(fx + 32 + 16 * i, fpu.fpr[i], 16);
	memcpy(fx + 160, fpu.xmm, 256);

	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e[X86_MAX_SAVED_MSRS];
	} b;
	memset(&b, 0, sizeof(b));
	unsigned n = 0;
	for (size_t i = 0; i < sizeof(saved_msrs) / sizeof(saved_msrs[0]); i++)
		if (kvm_msr_supported(kvm_of(vcpu->vm), saved_msrs[i]))
			b.e[n++].index = saved_msrs[i];
	b.hdr.nmsrs = n;
	int r = ioctl(fd, KVM_GET_MSRS, &b);
	if (r < 0)
		return -errno;
	for (int i = 0; i < r; i++)
		(void)x86_state_set_msr(st, b.e[i].index, b.e[i].data);

	struct kvm_mp_state mp;
	if (ioctl(fd, KVM_GET_MP_STATE, &mp) < 0)
		return -errno;
	st->mp_state = mp.mp_state;
	struct kvm_lapic_state lapic;
	if (ioctl(fd, KVM_GET_LAPIC, &lapic) == 0)
		memcpy(st->lapic, lapic.regs, sizeof(st->lapic));
	return 0;
}

int kvm_vcpu_setup_cpu(struct vcpu *vcpu)
{
	struct kvm_vm *k = kvm_of(vcpu->vm);
	struct cpuid_table *t = malloc(sizeof(*t));
	int ret;

	if (!t)
		return -ENOMEM;
	*t = k->supported;
	ret = cpuid_policy_apply(t, vcpu->id, vcpu->vm->ncpus, 1);
	if (ret) {
		free(t);
		return ret;
	}
	size_t sz = sizeof(struct kvm_cpuid2) + t->nr * sizeof(struct kvm_cpuid_entry2);
	struct kvm_cpuid2 *c = calloc(1, sz);
	if (!c) {
		free(t);
		return -ENOMEM;
	}
	c->nent = t->nr;
	for (unsigned i = 0; i < t->nr; i++) {
		const struct cpuid_entry *e = &t->e[i];
		c->entries[i] =
		    (struct kvm_cpuid_entry2){.function = e->function,
					      .index = e->index,
					      .flags = e->flags & CPUID_FLAG_SIGNIFICANT_INDEX
							   ? KVM_CPUID_FLAG_SIGNIFCANT_INDEX
							   : 0,
					      .eax = e->eax,
					      .ebx = e->ebx,
					      .ecx = e->ecx,
					      .edx = e->edx};
	}
	ret = ioctl(((struct kvm_vcpu_data *)vcpu->accel)->fd, KVM_SET_CPUID2, c) < 0 ? -errno : 0;
	free(c);
	free(t);
	if (ret) {
		log_err("kvm: KVM_SET_CPUID2 on vCPU %u: %s", vcpu->id, strerror(-ret));
		return ret;
	}
	/* Firmware defaults: fast strings, PAT power-on value, MTRRs enabled with write-back. */
	const struct x86_msr init[] = {
	    {MSR_IA32_MISC_ENABLE, 1},
	    {MSR_IA32_CR_PAT, 0x0007040600070406ull},
	    {MSR_MTRR_DEF_TYPE, 0xc06},
	};
	return set_msrs(vcpu, init, sizeof(init) / sizeof(init[0]));
}
