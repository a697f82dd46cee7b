/* CPUID policy: what the guest sees. A backend fills a table with what it can provide (kvm: the
 * host's KVM_GET_SUPPORTED_CPUID; emu: what it implements), then cpuid_policy_apply() filters it
 * to what vmon really provides and sets the per-vCPU topology fields. */
#ifndef VMON_ARCH_X86_CPUID_H
#define VMON_ARCH_X86_CPUID_H

#include <stdint.h>

#define CPUID_MAX_ENTRIES 160
#define CPUID_FLAG_SIGNIFICANT_INDEX 1u /* as KVM_CPUID_FLAG_SIGNIFCANT_INDEX */

struct cpuid_entry {
	uint32_t function, index, flags;
	uint32_t eax, ebx, ecx, edx;
};

struct cpuid_table {
	unsigned nr;
	struct cpuid_entry e[CPUID_MAX_ENTRIES];
};

/* The entry for (function, index), or NULL. index is ignored for leaves without
 * CPUID_FLAG_SIGNIFICANT_INDEX. */
struct cpuid_entry *cpuid_find(struct cpuid_table *t, uint32_t function, uint32_t index);

/* What the CPUID instruction returns for leaf regs[0], subleaf regs[2], into regs (EAX, EBX,
 * ECX, EDX): the table's entry; for a leaf above the highest basic or extended one (below the
 * hypervisor range), the highest basic leaf, as Intel CPUs do; else zeros. */
void cpuid_query(struct cpuid_table *t, uint32_t regs[4]);

/* Remove every entry of `function`. */
void cpuid_remove(struct cpuid_table *t, uint32_t function);

/* Add or replace an entry. Returns 0 or -ENOSPC. */
int cpuid_set(struct cpuid_table *t, const struct cpuid_entry *e)
    __attribute__((warn_unused_result));

/* Filter t to what vmon provides and make it describe vCPU `vcpu_id` of `ncpus`:
 * APIC ids (leaf 1, 0xB), the hypervisor bit, topology (leaves 4, 0xB, 0x80000008), no nested
 * virtualization (VMX/SVM cleared), no PMU (leaf 0xA), no MONITOR/MWAIT, and, when `kvm_pv` is set,
 * the KVM paravirtual leaves kept with only the features vmon supports. Returns 0 or -errno. */
int cpuid_policy_apply(struct cpuid_table *t, unsigned vcpu_id, unsigned ncpus, int kvm_pv)
    __attribute__((warn_unused_result));

#endif
