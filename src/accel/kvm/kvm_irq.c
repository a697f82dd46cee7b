/* kvm backend: the GSI routing table (the PC's irqchip pins, then MSI routes for irqfds) and the
 * MSI entry points (KVM_SIGNAL_MSI, and eventfds bound to an MSI message). */
#include "accel/kvm/kvm_int.h"
#include "arch/x86/layout.h"
#include "core/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

/* Route GSIs as a PC (and QEMU) does: ISA IRQ 0 (the PIT) reaches IOAPIC pin 2; IRQs 1-15 reach
 * the PIC and the same IOAPIC pin; GSIs 16-23 reach the IOAPIC only. Then GSI KVM_MSI_GSI_BASE + i
 * is MSI route i, for every route in use. Caller holds route_lock (or is vm_init). */
int kvm_routing_commit(struct kvm_vm *k)
{
	size_t n = 0, max = 16 * 2 + IOAPIC_NR_PINS + KVM_MSI_ROUTES;
	struct kvm_irq_routing *r =
	    calloc(1, sizeof(*r) + max * sizeof(struct kvm_irq_routing_entry));
	if (!r)
		return -ENOMEM;
	for (unsigned gsi = 0; gsi < 16; gsi++) {
		if (gsi == 2)
			continue; /* cascade */
		r->entries[n++] = (struct kvm_irq_routing_entry){
		    .gsi = gsi,
		    .type = KVM_IRQ_ROUTING_IRQCHIP,
		    .u.irqchip = {gsi < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE,
				  gsi % 8}};
	}
	for (unsigned gsi = 0; gsi < IOAPIC_NR_PINS; gsi++) {
		if (gsi == 2)
			continue;
		r->entries[n++] = (struct kvm_irq_routing_entry){
		    .gsi = gsi,
		    .type = KVM_IRQ_ROUTING_IRQCHIP,
		    .u.irqchip = {KVM_IRQCHIP_IOAPIC, gsi == 0 ? GSI_PIT : gsi}};
	}
	for (unsigned i = 0; i < KVM_MSI_ROUTES; i++) {
		const struct kvm_msi_route *m = &k->msi[i];
		if (!m->used)
			continue;
		r->entries[n++] = (struct kvm_irq_routing_entry){
		    .gsi = KVM_MSI_GSI_BASE + i,
		    .type = KVM_IRQ_ROUTING_MSI,
		    .u.msi = {.address_lo = (uint32_t)m->addr,
			      .address_hi = (uint32_t)(m->addr >> 32),
			      .data = m->data}};
	}
	r->nr = (uint32_t)n;
	int ret = ioctl(k->vm_fd, KVM_SET_GSI_ROUTING, r) < 0 ? -errno : 0;
	free(r);
	return ret;
}

int kvm_msi(struct vm *vm, uint64_t addr, uint32_t data)
{
	struct kvm_msi msi = {
	    .address_lo = (uint32_t)addr, .address_hi = (uint32_t)(addr >> 32), .data = data};

	if ((addr & ACCEL_MSI_ADDR_MASK) != ACCEL_MSI_ADDR_BASE)
		return -EINVAL;
	/* > 0: delivered; 0: blocked by the guest (e.g. a disabled APIC). */
	if (ioctl(kvm_of(vm)->vm_fd, KVM_SIGNAL_MSI, &msi) < 0)
		return -errno;
	return 0;
}

static int msi_irqfd_add(struct kvm_vm *k, int *route, int fd, uint64_t addr, uint32_t data)
{
	unsigned i;
	int ret;

	for (i = 0; i < KVM_MSI_ROUTES && k->msi[i].used; i++)
		;
	if (i == KVM_MSI_ROUTES)
		return -ENOSPC;
	k->msi[i] = (struct kvm_msi_route){addr, data, fd, 1};
	ret = kvm_routing_commit(k);
	if (!ret) {
		struct kvm_irqfd irq = {.fd = (uint32_t)fd, .gsi = KVM_MSI_GSI_BASE + i};
		ret = ioctl(k->vm_fd, KVM_IRQFD, &irq) < 0 ? -errno : 0;
	}
	if (ret) {
		k->msi[i].used = 0;
		(void)kvm_routing_commit(k);
		return ret;
	}
	*route = (int)i;
	return 0;
}

int kvm_msi_irqfd(struct vm *vm, int *route, int fd, uint64_t addr, uint32_t data, int deassign)
{
	struct kvm_vm *k = kvm_of(vm);
	int ret = 0;

	if (!deassign && (addr & ACCEL_MSI_ADDR_MASK) != ACCEL_MSI_ADDR_BASE)
		return -EINVAL;
	pthread_mutex_lock(&k->route_lock);
	if (*route < 0) {
		ret = deassign ? 0 : msi_irqfd_add(k, route, fd, addr, data);
	} else if (*route >= KVM_MSI_ROUTES || !k->msi[*route].used || k->msi[*route].fd != fd) {
		ret = -EINVAL;
	} else if (deassign) {
		struct kvm_irqfd irq = {.fd = (uint32_t)fd,
					.gsi = KVM_MSI_GSI_BASE + (unsigned)*route,
					.flags = KVM_IRQFD_FLAG_DEASSIGN};
		if (ioctl(k->vm_fd, KVM_IRQFD, &irq) < 0)
			log_debug("kvm: KVM_IRQFD deassign: %s", strerror(errno));
		k->msi[*route].used = 0;
		ret = kvm_routing_commit(k);
		*route = -1;
	} else if (k->msi[*route].addr != addr || k->msi[*route].data != data) {
		struct kvm_msi_route old = k->msi[*route];
		k->msi[*route].addr = addr;
		k->msi[*route].data = data;
		ret = kvm_routing_commit(k);
		if (ret)
			k->msi[*route] = old;
	}
	pthread_mutex_unlock(&k->route_lock);
	return ret;
}
