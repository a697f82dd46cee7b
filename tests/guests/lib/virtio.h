/* Minimal virtio driver core for test guests (lib/virtio.c): finds one device by its virtio
 * device id on virtio-mmio (fw_cfg "etc/vmon/virtio-mmio") or, when that list lacks it, on
 * virtio-pci (bus 0 scan, BAR4 assigned at VIRTIO_PCI_BAR4, INTx), negotiates VIRTIO_F_VERSION_1
 * and sets up 8-entry split queues. Interrupts are level-triggered through the IOAPIC on
 * VIRTIO_VEC: virtio-mmio's handler reads and acknowledges InterruptStatus, virtio-pci's reads
 * the ISR (read-to-clear). One device per guest. */
#ifndef GUEST_VIRTIO_H
#define GUEST_VIRTIO_H

#include "guest.h"

#define VIRTIO_VEC 0x40
#define VIRTIO_QSIZE 8
#define VIRTIO_PCI_BAR4 0xc0000000ull

#define VRING_DESC_F_NEXT 1
#define VRING_DESC_F_WRITE 2

struct vring_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct vq {
	struct vring_desc desc[VIRTIO_QSIZE] __attribute__((aligned(16)));
	volatile struct {
		uint16_t flags, idx, ring[VIRTIO_QSIZE], used_event;
	} avail __attribute__((aligned(2)));
	volatile struct {
		uint16_t flags, idx;
		struct {
			uint32_t id, len;
		} ring[VIRTIO_QSIZE];
		uint16_t avail_event;
	} used __attribute__((aligned(4)));
	unsigned index;	    /* queue number */
	uint16_t last_used; /* used.idx already consumed */
	uint64_t notify;    /* address of the notify register */
	uint32_t irqs0;	    /* device interrupts counted at the last submit */
};

struct vdev {
	bool pci;
	uint32_t device_id;
	uint32_t gsi;
	uint64_t base;	 /* virtio-mmio registers, or the PCI common configuration */
	uint64_t devcfg; /* device-specific configuration */
	uint64_t isr;	 /* PCI ISR */
	uint64_t notify; /* PCI notify base */
	uint32_t notify_mult;
	unsigned pci_dev; /* bus 0 device number */
	volatile uint32_t irqs, spurious;
};

/* One buffer of a descriptor chain. */
struct vbuf {
	void *addr;
	uint32_t len;
	bool write; /* device-writable */
};

/* Finds the device (test_fail when absent), routes its interrupt and resets it. */
void virtio_find(struct vdev *d, uint32_t device_id);
/* ACKNOWLEDGE, DRIVER, device features -> VERSION_1 | (want & offered low 32 bits), FEATURES_OK.
 * Returns the low 32 bits the device offered. */
uint32_t virtio_negotiate(struct vdev *d, uint32_t want);
/* Sets up queue q (its size must be >= VIRTIO_QSIZE). */
void virtio_queue(struct vdev *d, struct vq *q, unsigned index);
void virtio_driver_ok(struct vdev *d);
void virtio_reset(struct vdev *d);
uint8_t virtio_status(struct vdev *d);
uint32_t virtio_cfg_read32(struct vdev *d, unsigned off);
uint64_t virtio_cfg_read64(struct vdev *d, unsigned off);

/* Posts buffers as one chain in descriptors 0..n-1 (n <= VIRTIO_QSIZE) and notifies. */
void vq_submit(struct vdev *d, struct vq *q, const struct vbuf *b, unsigned n);
/* Waits up to ms for the next used element and for an interrupt; checks its id is the head
 * (0) and returns the used length. */
uint32_t vq_wait(struct vdev *d, struct vq *q, uint64_t ms);
/* Submit and wait. */
uint32_t vq_request(struct vdev *d, struct vq *q, const struct vbuf *b, unsigned n);

#endif
