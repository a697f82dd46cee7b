/* Internals of the virtio block device shared by virtio_blk.c (the device: queue, slots,
 * completions, reset, save/load, creation) and virtio_blk_req.c (one request: layout checks,
 * decoding, and starting it on the disk). Everything here is protected by the device lock. */
#ifndef VMON_VIRTIO_VIRTIO_BLK_PRIV_H
#define VMON_VIRTIO_VIRTIO_BLK_PRIV_H

#include <endian.h>
#include <string.h>

#include "virtio/virtio_blk.h"

#define BLK_HDR_LEN 16u
#define BLK_DWZ_LEN 16u /* struct virtio_blk_discard_write_zeroes */

/* One request slot: the popped element, the back-end request and the data iovecs. */
struct blk_req {
	struct virtq_elem elem;
	struct disk_req dreq;
	struct iovec iov[VIRTQ_ELEM_MAX_IOV];
	struct virtio_blk *blk;
	uint8_t *status;   /* the status byte, in guest memory (a writable segment) */
	uint32_t used_len; /* what the used ring reports on completion */
	uint32_t type;
	uint64_t sector;
	struct blk_req *next_free;
};

struct virtio_blk {
	struct virtio_dev vdev; /* first: the ops recover the device from it */
	struct disk *disk;
	struct evloop *el;
	int efd; /* watched in el, or -1 */
	bool readonly;
	uint64_t capacity; /* sectors */
	char serial[VIRTIO_BLK_ID_BYTES];
	uint8_t config[VIRTIO_BLK_CONFIG_LEN];

	/* Protected by vdev.lock. */
	struct blk_req *slots[VIRTIO_BLK_MAX_INFLIGHT]; /* allocated when first needed */
	unsigned nslots;
	struct blk_req *free_list;
	unsigned busy; /* slots in use */
	bool blocked;  /* stopped reading the queue for want of a free slot */
	bool dropping; /* reset or destroy: completions are discarded */
	bool pushed;   /* used entries not signalled yet */
};

static inline void put16(uint8_t *p, uint16_t v)
{
	v = htole16(v);
	memcpy(p, &v, 2);
}

static inline void put32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, 4);
}

static inline void put64(uint8_t *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, 8);
}

static inline uint32_t get32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return le32toh(v);
}

static inline uint64_t get64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return le64toh(v);
}

/* Write the status, return the element to the driver (used length used_len) and free the slot. */
void blk_complete(struct virtio_blk *blk, struct blk_req *r, uint8_t status, uint32_t used_len);

/* Free the slot without returning anything to the driver. */
void blk_release(struct virtio_blk *blk, struct blk_req *r);

/* Check the layout of a popped request and start it or answer it. Returns false when the
 * request is malformed: the queue is then broken and the slot freed. */
bool blk_start(struct virtio_blk *blk, struct virtq *vq, struct blk_req *r);

#endif
