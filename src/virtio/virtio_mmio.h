/* Virtio over MMIO, version 2 (virtio 1.x, section 4.2): one 4 KiB slot (LAYOUT_VIRTIO_MMIO_SLOT)
 * per device with the control registers below 0x100 and the device configuration space from
 * 0x100, and one level-triggered interrupt line, high while InterruptStatus is non-zero.
 *
 * Registers take 32-bit aligned accesses only; any other access reads 0 and is ignored on write
 * (logged, rate-limited). The configuration space takes 1, 2 and 4-byte accesses. Reads of
 * write-only registers return 0, writes to read-only registers are ignored. MagicValue is
 * 0x74726976 ("virt"), Version 2, VendorID VIRTIO_MMIO_VENDOR ("VMON" as little-endian bytes).
 * QueueNumMax reads 0 for a queue the device does not have; QueueNum and the queue addresses can
 * change only while the queue is not ready. No shared memory regions (SHMLen and SHMBase read all
 * ones), no VIRTIO_F_RING_RESET (QueueReset reads 0), no VIRTIO_F_NOTIFICATION_DATA.
 *
 * QueueNotify does not touch the device: it calls the notify callback given at creation with the
 * queue index, without any lock held. The machine routes that to the event-loop thread, which
 * then calls virtio_dev_notify; on kvm the machine instead registers an ioeventfd for the
 * QueueNotify address (virtio_mmio_notify_offset) and the write never reaches this code. The same
 * callback is called for every ready queue when the driver sets DRIVER_OK, so buffers made
 * available before that are not lost.
 *
 * Locking: the transport's registers are protected by the device's lock (virtio_dev.lock, see
 * virtio.h); the transport has no lock of its own. The irq line is set with that lock held. */
#ifndef VMON_VIRTIO_VIRTIO_MMIO_H
#define VMON_VIRTIO_VIRTIO_MMIO_H

#include <stdint.h>

#include "core/bus.h"
#include "core/devif.h"
#include "virtio/virtio.h"

#define VIRTIO_MMIO_MAGIC 0x74726976u
#define VIRTIO_MMIO_VERSION 2u
#define VIRTIO_MMIO_VENDOR 0x4e4f4d56u /* "VMON" */

/* Register offsets. */
#define VIRTIO_MMIO_MAGIC_VALUE 0x000
#define VIRTIO_MMIO_VERSION_REG 0x004
#define VIRTIO_MMIO_DEVICE_ID 0x008
#define VIRTIO_MMIO_VENDOR_ID 0x00c
#define VIRTIO_MMIO_DEVICE_FEATURES 0x010
#define VIRTIO_MMIO_DEVICE_FEATURES_SEL 0x014
#define VIRTIO_MMIO_DRIVER_FEATURES 0x020
#define VIRTIO_MMIO_DRIVER_FEATURES_SEL 0x024
#define VIRTIO_MMIO_QUEUE_SEL 0x030
#define VIRTIO_MMIO_QUEUE_NUM_MAX 0x034
#define VIRTIO_MMIO_QUEUE_NUM 0x038
#define VIRTIO_MMIO_QUEUE_READY 0x044
#define VIRTIO_MMIO_QUEUE_NOTIFY 0x050
#define VIRTIO_MMIO_INTERRUPT_STATUS 0x060
#define VIRTIO_MMIO_INTERRUPT_ACK 0x064
#define VIRTIO_MMIO_STATUS 0x070
#define VIRTIO_MMIO_QUEUE_DESC_LOW 0x080
#define VIRTIO_MMIO_QUEUE_DESC_HIGH 0x084
#define VIRTIO_MMIO_QUEUE_DRIVER_LOW 0x090
#define VIRTIO_MMIO_QUEUE_DRIVER_HIGH 0x094
#define VIRTIO_MMIO_QUEUE_DEVICE_LOW 0x0a0
#define VIRTIO_MMIO_QUEUE_DEVICE_HIGH 0x0a4
#define VIRTIO_MMIO_SHM_SEL 0x0ac
#define VIRTIO_MMIO_SHM_LEN_LOW 0x0b0
#define VIRTIO_MMIO_SHM_LEN_HIGH 0x0b4
#define VIRTIO_MMIO_SHM_BASE_LOW 0x0b8
#define VIRTIO_MMIO_SHM_BASE_HIGH 0x0bc
#define VIRTIO_MMIO_QUEUE_RESET 0x0c0
#define VIRTIO_MMIO_CONFIG_GENERATION 0x0fc
#define VIRTIO_MMIO_CONFIG 0x100

struct virtio_mmio;

/* Called (without locks) when the driver notifies queue `queue`. */
typedef void (*virtio_mmio_notify_fn)(void *ctx, unsigned queue);

/* Saved transport state, with the device core's. */
struct virtio_mmio_state {
	uint32_t interrupt_status;
	uint32_t device_features_sel;
	uint32_t driver_features_sel;
	uint32_t queue_sel;
	uint32_t shm_sel;
	uint32_t reserved;
	struct virtio_dev_state dev;
};

/* Bus handlers; register with len LAYOUT_VIRTIO_MMIO_SLOT and the virtio_mmio as dev. */
extern const struct bus_ops virtio_mmio_ops;

/* Create the transport for vdev (which must be initialised and not attached to another
 * transport): interrupts go to irq, queue notifications to notify(notify_ctx, queue). Lowers the
 * line. Returns 0 and sets *out, or -ENOMEM / -EINVAL (no notify callback). */
int virtio_mmio_create(struct virtio_dev *vdev, struct irq_line irq, virtio_mmio_notify_fn notify,
		       void *notify_ctx, struct virtio_mmio **out)
    __attribute__((warn_unused_result));

/* Free the transport (not the device). It must no longer be registered on a bus. */
void virtio_mmio_destroy(struct virtio_mmio *m);

/* The device behind the transport. */
struct virtio_dev *virtio_mmio_dev(struct virtio_mmio *m);

/* Machine reset: reset the device and the transport registers, lower the line. */
void virtio_mmio_reset(struct virtio_mmio *m);

/* Offset of QueueNotify in the slot, for a KVM ioeventfd (4-byte write, data = queue index). */
uint64_t virtio_mmio_notify_offset(void);

/* Save the transport and device state into *st. Returns 0 or -errno (from the device). */
int virtio_mmio_save(struct virtio_mmio *m, struct virtio_mmio_state *st)
    __attribute__((warn_unused_result));

/* Replace the state with *st after checking it (virtio_dev_load_locked, plus known interrupt
 * bits, only with DRIVER_OK). Sets the line from the loaded InterruptStatus. Returns 0, or -EINVAL
 * leaving everything unchanged. */
int virtio_mmio_load(struct virtio_mmio *m, const struct virtio_mmio_state *st)
    __attribute__((warn_unused_result));

#endif
