/* Private state of the kvm backend. */
#ifndef VMON_ACCEL_KVM_INT_H
#define VMON_ACCEL_KVM_INT_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdatomic.h>

#include "arch/x86/cpuid.h"
#include "core/vm.h"

/* MSI routes for irqfds (kvm_irq.c): route i is GSI KVM_MSI_GSI_BASE + i, after the irqchip's. */
#define KVM_MSI_ROUTES 128
#define KVM_MSI_GSI_BASE 24

struct kvm_msi_route {
	uint64_t addr;
	uint32_t data;
	int fd;
	int used;
};

struct kvm_vm {
	/* Protects msi[] and the KVM routing table built from it. A leaf lock (callers may hold a
	 * device lock). */
	pthread_mutex_t route_lock;
	struct kvm_msi_route msi[KVM_MSI_ROUTES];
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

/* The GSI routing table: the PC's irqchip pins and the MSI routes in use (kvm_irq.c). Caller
 * holds route_lock, or is kvm_vm_init. Returns 0 or -errno from KVM_SET_GSI_ROUTING. */
int kvm_routing_commit(struct kvm_vm *k);
/* accel_ops.msi and accel_ops.msi_irqfd (kvm_irq.c). */
int kvm_msi(struct vm *vm, uint64_t addr, uint32_t data);
int kvm_msi_irqfd(struct vm *vm, int *route, int fd, uint64_t addr, uint32_t data, int deassign);

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
