/* Private state of the kvm backend. */
#ifndef VMON_ACCEL_KVM_INT_H
#define VMON_ACCEL_KVM_INT_H

#include <linux/kvm.h>
#include <stdatomic.h>

#include "arch/x86/cpuid.h"
#include "core/vm.h"

struct kvm_vm {
	int sys_fd; /* /dev/kvm */
	int vm_fd;
	int run_size;
	unsigned nr_slots;
	struct cpuid_table supported; /* KVM_GET_SUPPORTED_CPUID */
	uint32_t *msr_index_list;     /* KVM_GET_MSR_INDEX_LIST */
	unsigned nr_msr_index;
};

struct kvm_vcpu_data {
	int fd;
	struct kvm_run *run;
	atomic_int running; /* the thread is inside the run loop and may be signalled */
};

/* Convert between the common state struct and KVM's ioctls (kvm_state.c). */
int kvm_state_set(struct vcpu *vcpu, const struct x86_cpu_state *st);
int kvm_state_get(struct vcpu *vcpu, struct x86_cpu_state *st);
/* Program CPUID and firmware-default MSRs for a new vCPU (kvm_state.c). */
int kvm_vcpu_setup_cpu(struct vcpu *vcpu);

/* vCPU life cycle and run loop (kvm_vcpu.c). */
int kvm_vcpu_init(struct vcpu *vcpu);
void kvm_vcpu_destroy(struct vcpu *vcpu);
int kvm_vcpu_run(struct vcpu *vcpu);
void kvm_vcpu_kick(struct vcpu *vcpu);

static inline struct kvm_vm *kvm_of(struct vm *vm)
{
	return vm->accel_data;
}

#endif
