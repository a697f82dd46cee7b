/* virtio-pci devices of the PC machine: one virtio device behind a virtio-pci transport
 * (virtio/virtio_pci.h), registered as function 0 of bus 0, device n on the PCI host, with its
 * BARs placed on the MMIO bus where the guest assigns them, and its notifications and interrupts
 * plumbed through the CPU backend and the event loop.
 *
 * The device's work (virtio_dev_notify) always runs on the event-loop thread:
 * - with the backend's ioeventfd (kvm: KVM_IOEVENTFD, 2 bytes, datamatch = queue index, on each
 *   queue's notify address in BAR4) each queue has an eventfd that the loop watches, and a notify
 *   never leaves the kernel. The registrations follow BAR4 when the guest moves it;
 * - otherwise (emu, or a kvm without it) the notify write reaches the transport on the vCPU
 *   thread, whose callback sets the queue's bit in a pending mask and signals one eventfd that
 *   the loop watches. The DRIVER_OK kick and a device that reports more work use that path too.
 * Interrupts: with the backend's msi_irqfd (kvm: an MSI routing entry plus KVM_IRQFD) each MSI-X
 * vector gets an eventfd bound to its message the first time it fires (rebound when the guest
 * changes the message), and sending it is an eventfd write; otherwise (emu, or a kvm that refuses
 * a route) messages go to accel->msi (kvm: KVM_SIGNAL_MSI; emu: straight into the userspace
 * LAPICs). Either way from the thread that raises them, normally the event loop. A message whose
 * address is outside the interrupt window goes nowhere. INTx (only used while MSI-X is off)
 * drives GSI_PCI_INTX(n, 0) with accel->set_irq.
 *
 * BAR placement runs in the PCI host's bar_map hook (host lock held, on the vCPU thread doing the
 * config write): the old range is unregistered from vm->mmio (and its ioeventfds deassigned), the
 * new one registered. A BAR the guest places over another device's range stays unregistered
 * (logged, rate-limited), as an unclaimed range.
 *
 * Locking: a vpci device has no lock of its own beyond the host lock (which serialises BAR moves)
 * and the device lock (virtio.h, which also covers the per-vector eventfds); its pending mask is
 * atomic. */
#ifndef VMON_CORE_VPCI_H
#define VMON_CORE_VPCI_H

#include <stdint.h>

#include "core/evloop.h"
#include "hw/pci_host.h"
#include "virtio/virtio.h"
#include "virtio/virtio_pci.h"

struct vm;
struct vpci_dev;

/* Wire vdev (initialised, not attached to a transport) as PCI device n (1 <= n <=
 * LAYOUT_PCI_MAX_DEVICES) of host on vm: create the transport, register the function, set up
 * notifications on el (which need not be running yet). The BARs are mapped later, by the guest.
 * The vpci device does not own vdev. Prints nothing; returns 0 and sets *out, or -EINVAL (bad n),
 * -EEXIST (slot taken), -ENOMEM or -errno, with everything undone. */
int vpci_create(struct vm *vm, struct evloop *el, struct pci_host *host, unsigned n,
		struct virtio_dev *vdev, struct vpci_dev **out) __attribute__((warn_unused_result));

/* Undo vpci_create: unmaps the BARs and releases the eventfds. The event loop must be stopped
 * (or no handler of the device may run) and the guest must no longer access the host. The device
 * is left to its owner. Safe with NULL. */
void vpci_destroy(struct vpci_dev *d);

/* Machine reset, after pci_host_reset: reset the device and the transport, forget pending
 * notifies. */
void vpci_reset(struct vpci_dev *d);

/* The PCI device number, the INTx GSI, and the transport (for save/load). */
unsigned vpci_slot(const struct vpci_dev *d);
unsigned vpci_gsi(const struct vpci_dev *d);
struct virtio_pci *vpci_transport(struct vpci_dev *d);

/* Where BAR4 is mapped now (PCI_BAR_UNMAPPED if not), and 1 when notifications use ioeventfds;
 * for logs and tests. */
uint64_t vpci_bar_addr(const struct vpci_dev *d);
int vpci_uses_ioeventfd(const struct vpci_dev *d);
/* 1 once an MSI-X message went out through an irqfd route. */
int vpci_uses_msi_irqfd(const struct vpci_dev *d);

#endif
