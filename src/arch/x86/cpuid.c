#include "arch/x86/cpuid.h"

#include <errno.h>
#include <string.h>

/* Feature bits the policy touches. */
#define CPUID1_ECX_MONITOR (1u << 3)
#define CPUID1_ECX_VMX (1u << 5)
#define CPUID1_ECX_PDCM (1u << 15)
#define CPUID1_ECX_HYPERVISOR (1u << 31)
#define CPUID1_EDX_HTT (1u << 28)
#define CPUID_80000001_ECX_SVM (1u << 2)
#define CPUID_80000001_ECX_CMP_LEGACY (1u << 1)
#define CPUID_80000001_ECX_TOPOEXT (1u << 22)
#define CPUID_80000001_ECX_PERFCTR_CORE (1u << 23)
/* KVM paravirtual feature bits (leaf 0x40000001 EAX) vmon keeps. */
#define KVM_FEAT_CLOCKSOURCE (1u << 0)
#define KVM_FEAT_NOP_IO_DELAY (1u << 1)
#define KVM_FEAT_CLOCKSOURCE2 (1u << 3)
#define KVM_FEAT_ASYNC_PF (1u << 4)
#define KVM_FEAT_STEAL_TIME (1u << 5)
#define KVM_FEAT_PV_EOI (1u << 6)
#define KVM_FEAT_PV_UNHALT (1u << 7)
#define KVM_FEAT_PV_TLB_FLUSH (1u << 9)
#define KVM_FEAT_PV_SEND_IPI (1u << 11)
#define KVM_FEAT_PV_SCHED_YIELD (1u << 13)
#define KVM_FEAT_CLOCKSOURCE_STABLE (1u << 24)
#define KVM_FEATURES_KEPT                                                                          \
	(KVM_FEAT_CLOCKSOURCE | KVM_FEAT_NOP_IO_DELAY | KVM_FEAT_CLOCKSOURCE2 |                    \
	 KVM_FEAT_STEAL_TIME | KVM_FEAT_PV_EOI | KVM_FEAT_PV_UNHALT | KVM_FEAT_PV_TLB_FLUSH |      \
	 KVM_FEAT_PV_SEND_IPI | KVM_FEAT_PV_SCHED_YIELD | KVM_FEAT_CLOCKSOURCE_STABLE)

struct cpuid_entry *cpuid_find(struct cpuid_table *t, uint32_t function, uint32_t index)
{
	for (unsigned i = 0; i < t->nr; i++) {
		struct cpuid_entry *e = &t->e[i];
		if (e->function != function)
			continue;
		if ((e->flags & CPUID_FLAG_SIGNIFICANT_INDEX) && e->index != index)
			continue;
		return e;
	}
	return NULL;
}

void cpuid_query(struct cpuid_table *t, uint32_t regs[4])
{
	uint32_t leaf = regs[0], sub = regs[2];
	const struct cpuid_entry *e = cpuid_find(t, leaf, sub);

	if (!e && leaf < 0x40000000) {
		const struct cpuid_entry *l0 = cpuid_find(t, 0, 0);
		const struct cpuid_entry *lx = cpuid_find(t, 0x80000000, 0);
		int beyond = leaf >= 0x80000000 ? (!lx || leaf > lx->eax) : (l0 && leaf > l0->eax);
		if (beyond && l0)
			e = cpuid_find(t, l0->eax, sub);
	}
	if (!e) {
		regs[0] = regs[1] = regs[2] = regs[3] = 0;
		return;
	}
	regs[0] = e->eax;
	regs[1] = e->ebx;
	regs[2] = e->ecx;
	regs[3] = e->edx;
}

void cpuid_remove(struct cpuid_table *t, uint32_t function)
{
	unsigned j = 0;
	for (unsigned i = 0; i < t->nr; i++)
		if (t->e[i].function != function)
			t->e[j++] = t->e[i];
	t->nr = j;
}

int cpuid_set(struct cpuid_table *t, const struct cpuid_entry *e)
{
	for (unsigned i = 0; i < t->nr; i++) {
		if (t->e[i].function == e->function &&
		    (!(e->flags & CPUID_FLAG_SIGNIFICANT_INDEX) || t->e[i].index == e->index)) {
			t->e[i] = *e;
			return 0;
		}
	}
	if (t->nr >= CPUID_MAX_ENTRIES)
		return -ENOSPC;
	t->e[t->nr++] = *e;
	return 0;
}

/* Bits needed to number n items (ceil(log2(n))). */
static unsigned order_of(unsigned n)
{
	unsigned s = 0;
	while ((1u << s) < n)
		s++;
	return s;
}

static int set_topology_leaf_b(struct cpuid_table *t, uint32_t leaf, unsigned vcpu_id,
			       unsigned ncpus)
{
	cpuid_remove(t, leaf);
	/* Level 0: SMT (one thread per core); level 1: core (ncpus cores); level 2: invalid. */
	struct cpuid_entry smt = {leaf, 0, CPUID_FLAG_SIGNIFICANT_INDEX, 0, 1, 0x100, vcpu_id};
	struct cpuid_entry core = {
	    leaf, 1, CPUID_FLAG_SIGNIFICANT_INDEX, order_of(ncpus), ncpus, 0x201, vcpu_id};
	struct cpuid_entry end = {leaf, 2, CPUID_FLAG_SIGNIFICANT_INDEX, 0, 0, 2, vcpu_id};
	int ret = cpuid_set(t, &smt);
	if (!ret)
		ret = cpuid_set(t, &core);
	if (!ret)
		ret = cpuid_set(t, &end);
	return ret;
}

int cpuid_policy_apply(struct cpuid_table *t, unsigned vcpu_id, unsigned ncpus, int kvm_pv)
{
	struct cpuid_entry *e;
	int ret;

	if (ncpus == 0 || vcpu_id >= ncpus || ncpus > 255)
		return -EINVAL;
	e = cpuid_find(t, 1, 0);
	if (!e)
		return -EINVAL;
	e->ebx = (e->ebx & 0x0000ffffu) | (vcpu_id << 24) | ((ncpus > 1 ? ncpus : 1) << 16);
	if (ncpus > 1)
		e->edx |= CPUID1_EDX_HTT;
	else
		e->edx &= ~CPUID1_EDX_HTT;
	e->ecx &= ~(CPUID1_ECX_MONITOR | CPUID1_ECX_VMX | CPUID1_ECX_PDCM);
	e->ecx |= CPUID1_ECX_HYPERVISOR;

	/* Deterministic cache parameters: cores per package field. */
	for (unsigned i = 0; i < t->nr; i++) {
		e = &t->e[i];
		if (e->function != 4 || (e->eax & 0x1f) == 0)
			continue;
		unsigned level = (e->eax >> 5) & 7;
		unsigned sharing = level >= 3 ? ncpus - 1 : 0;
		e->eax = (e->eax & 0x3fff) | (sharing << 14) | ((ncpus - 1) << 26);
	}
	cpuid_remove(t, 0xa); /* no virtual PMU */
	ret = set_topology_leaf_b(t, 0xb, vcpu_id, ncpus);
	if (ret)
		return ret;
	cpuid_remove(t, 0x1f);

	e = cpuid_find(t, 0x80000001, 0);
	if (e)
		e->ecx &= ~(CPUID_80000001_ECX_SVM | CPUID_80000001_ECX_CMP_LEGACY |
			    CPUID_80000001_ECX_TOPOEXT | CPUID_80000001_ECX_PERFCTR_CORE);
	e = cpuid_find(t, 0x80000008, 0);
	if (e) /* AMD: NC = ncpus - 1, ApicIdCoreIdSize */
		e->ecx = (e->ecx & ~0xf0ffu) | (order_of(ncpus) << 12) | (ncpus - 1);
	cpuid_remove(t, 0x8000001e); /* AMD extended APIC id / topology: not described */
	for (uint32_t f = 0x80000020; f <= 0x80000026; f++)
		cpuid_remove(t, f); /* AMD QoS/PMU extensions */

	if (kvm_pv) {
		e = cpuid_find(t, 0x40000001, 0);
		if (e)
			e->eax &= KVM_FEATURES_KEPT;
	} else {
		for (uint32_t f = 0x40000000; f <= 0x400000ff; f++)
			cpuid_remove(t, f);
	}
	return 0;
}
