/* The CPU-backend interface. kvm (accel/kvm) and emu (accel/emu) implement it; core/vm drives it.
 *
 * Life cycle: vm_init once (after guest memory and buses exist), then vcpu_init for each vCPU,
 * vcpu_set_state for the BSP's boot state, then each vCPU thread calls vcpu_run, which returns
 * only when the VM is stopping (vm_exit_requested) or on a fatal backend error. vcpu_kick makes a
 * running vcpu_run notice a stop request promptly. set_irq drives one interrupt input (GSI);
 * ioeventfd and irqfd let device notifications and interrupts bypass the vCPU threads where the
 * backend can (core/vmio.c uses them for virtio-mmio). */
#ifndef VMON_ACCEL_ACCEL_H
#define VMON_ACCEL_ACCEL_H

#include <stddef.h>
#include <stdint.h>

#include "arch/x86/cpu_state.h"

struct vm;
struct vcpu;

struct accel_ops {
	const char *name;
	/* Can this backend run on this host? Returns 0, or -errno with a reason in why. */
	int (*probe)(char *why, size_t why_len);
	int (*vm_init)(struct vm *vm);
	void (*vm_destroy)(struct vm *vm);
	int (*vcpu_init)(struct vcpu *vcpu);
	void (*vcpu_destroy)(struct vcpu *vcpu);
	int (*vcpu_set_state)(struct vcpu *vcpu, const struct x86_cpu_state *st);
	int (*vcpu_get_state)(struct vcpu *vcpu, struct x86_cpu_state *st);
	/* Run until the VM stops; returns 0, or -errno after requesting a VM_EXIT_VMM_ERROR exit.
	 */
	int (*vcpu_run)(struct vcpu *vcpu);
	void (*vcpu_kick)(struct vcpu *vcpu);
	void (*set_irq)(struct vm *vm, unsigned gsi, int level);
	/* Optional: signal fd when the guest writes `datamatch` (len bytes) to addr on the MMIO
	 * (is_pio 0) or PIO bus, without leaving the kernel (KVM_IOEVENTFD). NULL or -ENOTSUP: the
	 * caller keeps handling the write through the bus. deassign 1 removes the registration. */
	int (*ioeventfd)(struct vm *vm, uint64_t addr, unsigned len, uint64_t datamatch, int fd,
			 int is_pio, int deassign);
	/* Optional: drive GSI gsi as a level-triggered line from eventfd fd (KVM_IRQFD with
	 * KVM_IRQFD_FLAG_RESAMPLE): a write to fd asserts the line; when the guest EOIs the
	 * interrupt the backend lowers the line and signals resample_fd, and the caller writes fd
	 * again if its source is still pending. While registered, set_irq must not be used for that
	 * GSI. deassign 1 removes the registration. NULL or -ENOTSUP: the caller drives the line
	 * with set_irq (which on a userspace irqchip is already a direct call). */
	int (*irqfd)(struct vm *vm, unsigned gsi, int fd, int resample_fd, int deassign);
	/* Deliver one message-signalled interrupt as a PCI function writes it (x86 format: address
	 * 0xfee00000 | destination << 12 | destination mode (1 logical) << 2; data: vector in bits
	 * 7:0, delivery mode in 10:8, trigger mode in bit 15). kvm: KVM_SIGNAL_MSI; emu: routed to
	 * the userspace LAPICs as an IOAPIC message is. Any thread. Returns 0 (also when the
	 * guest's APIC state blocks it), -EINVAL for an address outside the interrupt window, or
	 * -errno. */
	int (*msi)(struct vm *vm, uint64_t addr, uint32_t data);
	/* Optional: deliver the MSI (addr, data) each time eventfd fd is written, without a call
	 * into the VMM (kvm: a KVM_IRQ_ROUTING_MSI entry on a GSI of its own, bound with
	 * KVM_IRQFD). *route is the caller's handle: -1 creates a route for fd and sets it; a
	 * route given back changes that route's message (a no-op when unchanged); deassign 1
	 * removes it and sets -1. Any thread; routes are few and message changes rare (each
	 * rewrites the routing table). Returns 0, -ENOSPC when routes run out, -EINVAL, -errno.
	 * NULL or an error: the caller uses msi. */
	int (*msi_irqfd)(struct vm *vm, int *route, int fd, uint64_t addr, uint32_t data,
			 int deassign);
};

/* The MSI address window (interrupt messages), as decoded by accel_ops.msi. */
#define ACCEL_MSI_ADDR_BASE 0xfee00000ull
#define ACCEL_MSI_ADDR_MASK 0xfff00000ull

extern const struct accel_ops accel_kvm_ops;
/* NULL until the emu backend is linked in (accel/emu). */
extern const struct accel_ops *const accel_emu_ops;

/* 1 when the host CPU advertises VMX or SVM (read from CPUID on x86 hosts, /proc/cpuinfo
 * otherwise). `auto` picks kvm only then. */
int accel_host_has_hw_virt(void);

#endif
