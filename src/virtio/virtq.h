/* Split virtqueue (virtio 1.x, section 2.7) on guest memory, device side.
 *
 * A queue is three guest-physical areas: the descriptor table (16 bytes per entry, 16-aligned),
 * the available ring written by the driver (flags, idx, ring[size], used_event; 2-aligned) and the
 * used ring written by the device (flags, idx, ring[size] of {id, len}, avail_event; 4-aligned).
 * All fields are little-endian. The three areas are mapped once, when the queue is enabled; each
 * must lie inside one RAM region (gmem_ptr). Buffers that descriptors point at may cross regions:
 * such a buffer becomes one iovec per region.
 *
 * Everything in guest memory is hostile. Every guest-written field (avail idx, ring entries,
 * descriptor addr/len/flags/next, used_event) is copied into a local once and only the copy is
 * validated and used; indirect tables are copied whole into VMM memory before they are walked. Any
 * malformed element marks the queue broken: from then on virtq_pop returns -EIO without touching
 * guest memory, until the queue is reset. The device core turns a broken queue into
 * DEVICE_NEEDS_RESET and a configuration-change interrupt (virtio.h).
 *
 * Errors that break the queue: an avail idx more than `size` ahead of the last one consumed, a
 * head or next index past the table, a chain longer than the table (loops), INDIRECT when not
 * negotiated, INDIRECT together with NEXT, INDIRECT inside an indirect table, an indirect table
 * whose length is zero, not a multiple of 16, longer than VIRTQ_INDIRECT_MAX entries or not RAM, a
 * device-readable descriptor after a device-writable one, a buffer that overflows or leaves RAM,
 * more than VIRTQ_ELEM_MAX_IOV segments or more than VIRTQ_ELEM_MAX_LEN bytes in one element.
 * Zero-length descriptors are accepted (they add no segment, their address is not looked at).
 *
 * Locking: a virtq has no lock of its own. Every function below must be called with the lock of
 * the device that owns the queue held (virtio_dev.lock), which serialises the vCPU threads (queue
 * configuration through the transport) and the event-loop thread (pop/push). */
#ifndef VMON_VIRTIO_VIRTQ_H
#define VMON_VIRTIO_VIRTQ_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "core/gmem.h"

#define VIRTQ_MAX_SIZE 32768u

#define VIRTQ_DESC_F_NEXT 1u
#define VIRTQ_DESC_F_WRITE 2u
#define VIRTQ_DESC_F_INDIRECT 4u
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1u
#define VIRTQ_USED_F_NO_NOTIFY 1u

#define VIRTQ_DESC_SIZE 16u
#define VIRTQ_DESC_ALIGN 16u
#define VIRTQ_AVAIL_ALIGN 2u
#define VIRTQ_USED_ALIGN 4u

/* Limits on one element: segments (iovecs) and total bytes (the spec forbids chains longer than
 * 2^32 bytes), and entries in one indirect table. */
#define VIRTQ_ELEM_MAX_IOV 1024u
#define VIRTQ_ELEM_MAX_LEN (1ull << 32)
#define VIRTQ_INDIRECT_MAX 1024u

/* One popped element: segments 0..nr_read-1 are device-readable (driver to device), then
 * nr_write device-writable segments follow. gpa[i] is where iov[i] starts in the guest. Writes
 * through the host pointers are allowed only into the writable segments. */
struct virtq_elem {
	uint16_t head;	    /* descriptor index to hand back in the used ring */
	unsigned nr_read;   /* device-readable segments */
	unsigned nr_write;  /* device-writable segments, after the readable ones */
	uint64_t read_len;  /* bytes in the readable segments */
	uint64_t write_len; /* bytes in the writable segments */
	struct iovec iov[VIRTQ_ELEM_MAX_IOV];
	uint64_t gpa[VIRTQ_ELEM_MAX_IOV];
};

struct virtq {
	struct gmem *gm;
	uint32_t max_size; /* QueueNumMax; 0 means the queue does not exist */

	/* Configuration, as the driver wrote it (validated when the queue is enabled). */
	uint32_t size;
	uint64_t desc_gpa, avail_gpa, used_gpa;
	bool ready;

	/* Negotiated ring features (set by the device core at FEATURES_OK). */
	bool event_idx;
	bool indirect;

	/* Run-time state. */
	bool broken;
	uint16_t last_avail_idx; /* next avail ring slot to consume */
	uint16_t used_idx;	 /* next used ring slot to fill (mirrors used->idx) */
	uint16_t signalled_used; /* used_idx when virtq_needs_notify last ran */

	/* Host mappings of the three areas, valid while ready. */
	uint8_t *desc;
	uint8_t *avail;
	uint8_t *used;

	/* Scratch copy of the indirect table being walked (VIRTQ_INDIRECT_MAX entries). */
	uint8_t *itable;
};

/* Saved queue state. flags carries VIRTQ_STATE_*. */
#define VIRTQ_STATE_READY 1u
#define VIRTQ_STATE_BROKEN 2u
#define VIRTQ_STATE_EVENT_IDX 4u
#define VIRTQ_STATE_INDIRECT 8u
#define VIRTQ_STATE_FLAGS 15u
struct virtq_state {
	uint64_t desc_gpa, avail_gpa, used_gpa;
	uint32_t size;
	uint32_t flags;
	uint16_t last_avail_idx;
	uint16_t used_idx;
	uint16_t signalled_used;
	uint16_t reserved;
};

/* Set up a disabled queue over gm offering at most max_size entries (a power of two up to
 * VIRTQ_MAX_SIZE, or 0 for a queue that does not exist). The size starts at max_size.
 * Returns 0, -EINVAL for a bad max_size, or -ENOMEM. */
int virtq_init(struct virtq *vq, struct gmem *gm, uint32_t max_size)
    __attribute__((warn_unused_result));

/* Free what virtq_init allocated. */
void virtq_destroy(struct virtq *vq);

/* Back to the state after virtq_init: disabled, size max_size, addresses 0, indices 0, no ring
 * features, not broken. */
void virtq_reset(struct virtq *vq);

/* Record the queue size or area addresses the driver wrote. Ignored with -EBUSY while the queue
 * is ready; virtq_set_size returns -EINVAL (and still records the value, so that enabling then
 * fails) for a size that is zero, not a power of two or above max_size. */
int virtq_set_size(struct virtq *vq, uint32_t size);
int virtq_set_addrs(struct virtq *vq, uint64_t desc_gpa, uint64_t avail_gpa, uint64_t used_gpa);

/* Set the negotiated ring features (VIRTIO_F_EVENT_IDX, VIRTIO_F_INDIRECT_DESC). */
void virtq_set_features(struct virtq *vq, bool event_idx, bool indirect);

/* Make the queue ready: check the size, each area's alignment, that each area lies inside one
 * RAM region, and map them. Indices start at 0. Returns 0, or -EINVAL (the queue stays disabled;
 * the caller decides whether the driver misbehaved). */
int virtq_enable(struct virtq *vq) __attribute__((warn_unused_result));

/* Disable the queue (QueueReady = 0): unmap the areas and restart the indices at 0. */
void virtq_disable(struct virtq *vq);

/* Take the next available element into *elem. Returns 0 with *elem filled, -EAGAIN when the
 * queue is not ready or has nothing available, or -EIO when the queue is (now) broken; elem is
 * undefined then. With event idx negotiated, avail_event is set to the new last_avail_idx so the
 * driver notifies for the next buffer. */
int virtq_pop(struct virtq *vq, struct virtq_elem *elem) __attribute__((warn_unused_result));

/* Return elem to the driver with `written` bytes written into its writable segments: mark those
 * bytes dirty again (the device wrote them after the pop mapped them), fill the next used ring
 * entry and publish the new used idx. -EINVAL when written exceeds elem->write_len or the head is
 * out of range (nothing is written), -EIO when the queue is broken or not ready. */
int virtq_push(struct virtq *vq, const struct virtq_elem *elem, uint32_t written)
    __attribute__((warn_unused_result));

/* Give back the last n elements popped and not pushed (at most the number in flight, last_avail_idx
 * - used_idx; more is clamped): the next pops return them again, read anew from guest memory. For
 * a device that popped buffers it then found it cannot use yet (virtio-net: a frame that needs
 * more receive buffers than the driver has made available). With event idx, avail_event keeps the
 * value of the last pop, which is at or past the rewound index, so the driver still notifies when
 * it adds the next buffer after those already consumed once. */
void virtq_unpop(struct virtq *vq, unsigned n);

/* After one or more pushes: 1 when the driver wants a used-buffer notification now, else 0.
 * With VIRTIO_F_EVENT_IDX, 1 when used idx moved past used_event since the last call (the
 * vring_need_event test, wrap-around safe); without it, 1 unless the driver set
 * VIRTQ_AVAIL_F_NO_INTERRUPT. Always 0 when nothing was pushed since the last call and for a
 * disabled queue; a queue that broke after pushes still reports them. */
int virtq_needs_notify(struct virtq *vq);

/* Mark the queue broken (a device that found an element malformed for its own reasons). */
void virtq_set_broken(struct virtq *vq);

/* 1 when the queue is broken. */
static inline bool virtq_broken(const struct virtq *vq)
{
	return vq->broken;
}

/* Copy the queue state into *st. */
void virtq_save(const struct virtq *vq, struct virtq_state *st);

/* Replace the queue state with *st after checking it: known flags only, size a power of two up
 * to max_size, and for a ready queue the alignment and RAM placement of the three areas (they are
 * mapped again) and in-flight count (last_avail_idx - used_idx) within the size. Returns 0, or
 * -EINVAL leaving the queue unchanged. */
int virtq_load(struct virtq *vq, const struct virtq_state *st) __attribute__((warn_unused_result));

/* Check *st as virtq_load would, without changing anything. */
int virtq_check_state(const struct virtq *vq, const struct virtq_state *st)
    __attribute__((warn_unused_result));

#endif
