/* virtio-mmio slots of the PC machine: one virtio device behind a virtio-mmio transport, placed at
 * its slot's window on the MMIO bus, with its interrupt line and queue notifications plumbed
 * through the CPU backend and the event loop.
 *
 * Slot n sits at LAYOUT_VIRTIO_MMIO_START + n * LAYOUT_VIRTIO_MMIO_SLOT and raises GSI
 * GSI_VIRTIO_FIRST + n (arch/x86/layout.h). The device's work (virtio_dev_notify) always runs on
 * the event-loop thread:
 * - with the backend's ioeventfd (kvm: KVM_IOEVENTFD on QueueNotify, 4 bytes, datamatch = queue
 *   index) each queue has an eventfd that the loop watches, and a notify never leaves the kernel;
 * - otherwise (emu, or a kvm without it) the QueueNotify write reaches the transport on the vCPU
 *   thread, whose callback sets the queue's bit in a pending mask and signals one eventfd that
 *   the loop watches. The DRIVER_OK kick and a device that reports more work use that path too.
 * The interrupt is level-triggered, high while InterruptStatus is non-zero. With the backend's
 * irqfd (kvm: KVM_IRQFD with a resample eventfd) raising it is an eventfd write; on EOI the
 * backend lowers the line and signals the resample eventfd, and the loop raises it again while
 * InterruptStatus is still non-zero (a resample that the loop handles only after a new raise raises
 * once more: the guest may then see an interrupt with InterruptStatus 0, which drivers ignore).
 * Otherwise the line is driven with accel->set_irq. Which path was taken is logged at debug level.
 *
 * Locking: a slot has no lock of its own. Its pending mask and line level are atomics; the
 * device and transport are protected by the virtio device lock (virtio.h). */
#ifndef VMON_CORE_VMIO_H
#define VMON_CORE_VMIO_H

#include <stdint.h>

#include "core/evloop.h"
#include "virtio/virtio.h"
#include "virtio/virtio_mmio.h"

struct vm;
struct vmio_slot;

/* Wire vdev (initialised, not attached to a transport) into slot n < LAYOUT_VIRTIO_MMIO_MAX of vm:
 * create the transport, register it on vm->mmio, set up notifications on el (which need not be
 * running yet) and the interrupt. The slot does not own vdev. Prints nothing; returns 0 and sets
 * *out, or -EINVAL (bad n), -EBUSY (window taken), -ENOMEM or -errno, with everything undone. */
int vmio_create(struct vm *vm, struct evloop *el, unsigned n, struct virtio_dev *vdev,
		struct vmio_slot **out) __attribute__((warn_unused_result));

/* Undo vmio_create (the event loop must be stopped, or no handler of the slot may run). The
 * device is left to its owner. Safe with NULL. */
void vmio_destroy(struct vmio_slot *s);

/* Machine reset: reset the device and the transport, lower the line, forget pending notifies. */
void vmio_reset(struct vmio_slot *s);

/* The slot's window base, announced size (LAYOUT_VIRTIO_MMIO_SIZE) and GSI. */
uint64_t vmio_base(const struct vmio_slot *s);
uint64_t vmio_size(const struct vmio_slot *s);
unsigned vmio_gsi(const struct vmio_slot *s);

/* The transport, for save/load (virtio_mmio_save/virtio_mmio_load). */
struct virtio_mmio *vmio_transport(struct vmio_slot *s);

/* 1 when notifications bypass the vCPU threads (ioeventfd), 1 when the interrupt goes through an
 * irqfd; for logs and tests. */
int vmio_uses_ioeventfd(const struct vmio_slot *s);
int vmio_uses_irqfd(const struct vmio_slot *s);

#endif
