/* Virtio device core (virtio 1.x, sections 2.1-2.4 and 3): device status, feature negotiation,
 * the queues and the device configuration space, independent of the transport.
 *
 * A device embeds a struct virtio_dev and supplies a struct virtio_dev_ops. A transport
 * (virtio_mmio.h, virtio_pci.h) attaches itself with virtio_dev_attach and exposes the
 * registers; it supplies the interrupt and reset callbacks of struct virtio_transport.
 *
 * Status: ACKNOWLEDGE, DRIVER, FEATURES_OK, DRIVER_OK and FAILED are set by the driver; bits
 * once set stay set until a reset (writing 0), since the driver must not clear them. FEATURES_OK
 * is refused (left clear, for the driver to read back) when the driver accepted a feature the
 * device did not offer or did not accept VIRTIO_F_VERSION_1. DRIVER_OK is refused without
 * FEATURES_OK. Driver features are writable only before FEATURES_OK. The core offers
 * VIRTIO_F_VERSION_1, VIRTIO_F_INDIRECT_DESC and VIRTIO_F_EVENT_IDX on top of the device's bits.
 *
 * Queues are processed only with DRIVER_OK set and DEVICE_NEEDS_RESET clear. When a queue breaks
 * (a malformed element, virtq.h) or cannot be enabled, the core sets DEVICE_NEEDS_RESET and, if
 * DRIVER_OK is set, raises a configuration-change interrupt; the device then processes nothing
 * until the driver resets it. A reset (status 0, or virtio_dev_reset) calls the device's reset
 * hook, disables every queue (indices 0, size back to the maximum), clears the driver features
 * and the status, and tells the transport to drop its pending interrupts.
 *
 * Locking: `lock` protects everything in struct virtio_dev, the device's own state and the
 * transport's registers (the transport has no lock of its own). It is taken by the transport's
 * register handlers (vCPU threads), by virtio_dev_notify (the event-loop thread) and by the
 * machine (reset, save, load). Every ops callback and every transport callback is called with it
 * held; the transport's interrupt callback sets an irq_line under it (lock order: virtio device
 * lock -> interrupt controller lock). No other lock is taken while it is held, and it is never
 * held while calling the transport's queue-notify callback. Functions named *_locked, and the
 * ones whose contract says so, expect the caller to hold it. */
#ifndef VMON_VIRTIO_VIRTIO_H
#define VMON_VIRTIO_VIRTIO_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/gmem.h"
#include "virtio/virtq.h"

/* Device status bits (section 2.1). */
#define VIRTIO_STATUS_ACKNOWLEDGE 0x01u
#define VIRTIO_STATUS_DRIVER 0x02u
#define VIRTIO_STATUS_DRIVER_OK 0x04u
#define VIRTIO_STATUS_FEATURES_OK 0x08u
#define VIRTIO_STATUS_NEEDS_RESET 0x40u
#define VIRTIO_STATUS_FAILED 0x80u

/* Reserved feature bits (section 6) the core knows. */
#define VIRTIO_F_INDIRECT_DESC 28
#define VIRTIO_F_EVENT_IDX 29
#define VIRTIO_F_VERSION_1 32
#define VIRTIO_BIT(b) (1ull << (b))
#define VIRTIO_CORE_FEATURES                                                                       \
	(VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC) |                     \
	 VIRTIO_BIT(VIRTIO_F_EVENT_IDX))

/* Device IDs (section 5). */
#define VIRTIO_ID_NET 1
#define VIRTIO_ID_BLOCK 2
#define VIRTIO_ID_CONSOLE 3
#define VIRTIO_ID_RNG 4
#define VIRTIO_ID_BALLOON 5
#define VIRTIO_ID_VSOCK 19

/* Interrupt reasons, as the InterruptStatus / ISR bits. */
#define VIRTIO_INT_USED 1u
#define VIRTIO_INT_CONFIG 2u

#define VIRTIO_MAX_QUEUES 8
#define VIRTIO_CONFIG_MAX 256	 /* bytes of device configuration space */
#define VIRTIO_DEV_STATE_MAX 512 /* bytes of device-specific saved state */

struct virtio_dev;

/* What a device implements. All are called with the device lock held. */
struct virtio_dev_ops {
	/* Forget everything the driver set up (the core resets the queues itself). May be NULL. */
	void (*reset)(struct virtio_dev *vdev);
	/* Process queue q (ready, DRIVER_OK set, not broken): pop elements, handle them, push them
	 * and call virtio_dev_signal_used. Return 0 when the queue is drained, 1 when work was left
	 * for a later call (a per-call budget ran out). */
	int (*queue_notify)(struct virtio_dev *vdev, unsigned q);
	/* Config space access of size 1, 2 or 4 at off, with off + size <= config_len. May be NULL
	 * (reads 0, writes ignored). */
	uint32_t (*config_read)(struct virtio_dev *vdev, uint32_t off, unsigned size);
	void (*config_write)(struct virtio_dev *vdev, uint32_t off, unsigned size, uint32_t val);
	/* Device-specific state: save returns the bytes written into buf (at most cap) or -errno;
	 * load checks everything and returns 0 or -EINVAL leaving the device unchanged. May be NULL
	 * for a device without state of its own (then only 0 bytes load). */
	int (*save)(struct virtio_dev *vdev, void *buf, size_t cap);
	int (*load)(struct virtio_dev *vdev, const void *buf, size_t len);
};

/* What the transport supplies. Both are called with the device lock held. */
struct virtio_transport {
	/* Record `reason` (VIRTIO_INT_*) and raise the interrupt. */
	void (*interrupt)(void *ctx, unsigned reason);
	/* The device was reset: drop pending interrupts and lower the line. */
	void (*reset)(void *ctx);
	/* Optional: a used-buffer interrupt for queue q (a transport with per-queue vectors, such
	 * as PCI with MSI-X, needs the queue). NULL: interrupt(ctx, VIRTIO_INT_USED) is called. */
	void (*queue_interrupt)(void *ctx, unsigned q);
	void *ctx;
};

/* What a device declares at creation. */
struct virtio_dev_config {
	const char *name;    /* for log messages; must outlive the device */
	uint32_t device_id;  /* VIRTIO_ID_* */
	uint64_t features;   /* device-specific feature bits; the core adds its own */
	unsigned nr_queues;  /* 1..VIRTIO_MAX_QUEUES */
	uint32_t queue_size; /* QueueNumMax of every queue: a power of two <= VIRTQ_MAX_SIZE */
	uint32_t config_len; /* bytes of configuration space, <= VIRTIO_CONFIG_MAX */
};

struct virtio_dev {
	pthread_mutex_t lock; /* see the header comment */
	const struct virtio_dev_ops *ops;
	struct virtio_transport transport;
	struct gmem *gm;
	const char *name;
	uint32_t device_id;
	uint64_t device_features; /* offered: the device's bits | VIRTIO_CORE_FEATURES */
	uint64_t driver_features; /* as written by the driver */
	uint8_t status;
	uint32_t config_gen;
	uint32_t config_len;
	unsigned nr_queues;
	struct virtq vq[VIRTIO_MAX_QUEUES];
};

/* Saved core state; dev[0..dev_len) is the device's own (ops->save). */
struct virtio_dev_state {
	uint32_t device_id;
	uint32_t nr_queues;
	uint64_t device_features;
	uint64_t driver_features;
	uint32_t status;
	uint32_t config_gen;
	struct virtq_state vq[VIRTIO_MAX_QUEUES];
	uint32_t dev_len;
	uint32_t reserved;
	uint8_t dev[VIRTIO_DEV_STATE_MAX];
};

/* Initialise vdev in its reset state with queues over gm. The caller (the device) embeds vdev.
 * Returns 0, -EINVAL for a bad configuration, -ENOMEM or -errno from mutex creation. */
int virtio_dev_init(struct virtio_dev *vdev, const struct virtio_dev_config *cfg,
		    const struct virtio_dev_ops *ops, struct gmem *gm)
    __attribute__((warn_unused_result));

/* Release what virtio_dev_init allocated. No transport or thread may use vdev any more. */
void virtio_dev_destroy(struct virtio_dev *vdev);

/* Bind the transport's callbacks (copied). Called once by the transport, before the guest runs. */
void virtio_dev_attach(struct virtio_dev *vdev, const struct virtio_transport *t);

/* Reset the device as a status write of 0 does (takes the lock). For machine reset. */
void virtio_dev_reset(struct virtio_dev *vdev);

/* Event-loop entry: the driver notified queue q. Takes the lock; when q exists, is ready and not
 * broken, DRIVER_OK is set and NEEDS_RESET clear, runs ops->queue_notify, then turns a broken
 * queue into NEEDS_RESET. Returns 1 when the device left work for another call (the caller should
 * call again soon, after giving other handlers a turn), else 0. */
int virtio_dev_notify(struct virtio_dev *vdev, unsigned q);

/* The following expect the device lock held (transports and devices call them). */

/* 32 bits of the offered features: word sel (0 or 1; other words read 0). */
uint32_t virtio_dev_device_features_locked(const struct virtio_dev *vdev, uint32_t sel);

/* The driver wrote 32 bits of its features to word sel. Ignored after FEATURES_OK and for sel > 1.
 */
void virtio_dev_set_driver_features_locked(struct virtio_dev *vdev, uint32_t sel, uint32_t val);

/* The driver wrote the status register: 0 resets, anything else adds bits (see the header
 * comment). Returns true when this write set DRIVER_OK: the transport should then kick every ready
 * queue, since buffers made available before DRIVER_OK were not processed. */
bool virtio_dev_set_status_locked(struct virtio_dev *vdev, uint8_t val);

/* The driver set QueueReady for queue q to 1 or 0. Enabling checks the queue (virtq_enable); a
 * queue that cannot be enabled stays disabled and the device gets NEEDS_RESET. Returns 0 or
 * -EINVAL. */
int virtio_dev_queue_ready_locked(struct virtio_dev *vdev, unsigned q, bool ready);

/* The queue q, or NULL when the device has no such queue. */
struct virtq *virtio_dev_queue(struct virtio_dev *vdev, unsigned q);

/* Config space access from the driver: size 1, 2 or 4; out-of-range bytes read 0 and writes to
 * them are ignored. */
uint32_t virtio_dev_config_read_locked(struct virtio_dev *vdev, uint32_t off, unsigned size);
void virtio_dev_config_write_locked(struct virtio_dev *vdev, uint32_t off, unsigned size,
				    uint32_t val);

/* Raise a used-buffer interrupt for queue q if the driver wants one (virtq_needs_notify). Devices
 * call it after pushing. */
void virtio_dev_signal_used(struct virtio_dev *vdev, unsigned q);

/* The device changed its configuration space: bump the generation and, with DRIVER_OK, raise a
 * configuration-change interrupt. */
void virtio_dev_config_changed(struct virtio_dev *vdev);

/* Enter the error state: set NEEDS_RESET and, with DRIVER_OK, raise a configuration-change
 * interrupt (once). */
void virtio_dev_set_needs_reset(struct virtio_dev *vdev);

/* Reset with the lock held (the transport's status-0 path). */
void virtio_dev_reset_locked(struct virtio_dev *vdev);

/* 1 when feature bit `bit` was negotiated (FEATURES_OK set and the driver accepted it). */
static inline bool virtio_dev_has_feature(const struct virtio_dev *vdev, unsigned bit)
{
	return (vdev->status & VIRTIO_STATUS_FEATURES_OK) && bit < 64 &&
	       (vdev->driver_features & VIRTIO_BIT(bit));
}

/* Save the core state and the device's (ops->save) into *st. Lock held. Returns 0 or -errno from
 * ops->save. */
int virtio_dev_save_locked(struct virtio_dev *vdev, struct virtio_dev_state *st)
    __attribute__((warn_unused_result));

/* Replace the state with *st after checking everything: same device id, queue count and offered
 * features, known status bits, driver features a valid negotiated set when FEATURES_OK is set,
 * each queue's state (virtq_check_state) with ring features matching the negotiated ones, a
 * broken queue only with NEEDS_RESET, and the device's own state (ops->load). Lock held.
 * Returns 0, or -EINVAL with nothing changed. */
int virtio_dev_load_locked(struct virtio_dev *vdev, const struct virtio_dev_state *st)
    __attribute__((warn_unused_result));

#endif
