/* Test helpers for virtio: fake guest memory, a driver-side split-virtqueue builder that lays out
 * descriptor tables, available rings and indirect tables in that memory and reads the used ring
 * back, and a minimal driver that brings a virtio-mmio device up through its registers the way
 * Linux's virtio_mmio driver does. Header-only: every function is static inline. Also used by the
 * virtio fuzz harnesses (fuzz/fuzz_virtio_*.c) and bench/blk_host.c, which build with
 * -Itests/unit. */
#ifndef VMON_TESTS_VIRTQ_BUILDER_H
#define VMON_TESTS_VIRTQ_BUILDER_H

#include <endian.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/gmem.h"
#include "virtio/virtio.h"
#include "virtio/virtio_mmio.h"
#include "virtio/virtq.h"

/* ---- fake guest memory ---- */

/* Add a zeroed, caller-owned RAM region [gpa, gpa+size) (size a multiple of 4 KiB). */
static inline int fake_mem_add(struct gmem *gm, uint64_t gpa, uint64_t size)
{
	void *p = aligned_alloc(GMEM_PAGE_SIZE, size);
	if (!p)
		return -1;
	memset(p, 0, size);
	if (gmem_add_region(gm, gpa, size, p)) {
		free(p);
		return -1;
	}
	return 0;
}

/* Free the regions fake_mem_add made and the gmem. */
static inline void fake_mem_destroy(struct gmem *gm)
{
	for (unsigned i = 0; i < gm->nr_regions; i++)
		free(gm->regions[i].hva);
	gmem_destroy(gm);
}

/* Host pointer to guest byte gpa (the test's view of guest memory). */
static inline uint8_t *fake_mem_ptr(struct gmem *gm, uint64_t gpa)
{
	return gmem_ptr(gm, gpa, 0, GMEM_READ);
}

static inline void gm_w16(struct gmem *gm, uint64_t gpa, uint16_t v)
{
	v = htole16(v);
	if (gmem_write(gm, gpa, &v, 2))
		abort();
}

static inline void gm_w32(struct gmem *gm, uint64_t gpa, uint32_t v)
{
	v = htole32(v);
	if (gmem_write(gm, gpa, &v, 4))
		abort();
}

static inline uint16_t gm_r16(struct gmem *gm, uint64_t gpa)
{
	uint16_t v;
	if (gmem_read(gm, gpa, &v, 2))
		abort();
	return le16toh(v);
}

static inline uint32_t gm_r32(struct gmem *gm, uint64_t gpa)
{
	uint32_t v;
	if (gmem_read(gm, gpa, &v, 4))
		abort();
	return le32toh(v);
}

/* ---- the driver side of one split virtqueue ---- */

struct vqb {
	struct gmem *gm;
	uint32_t size;
	uint64_t desc, avail, used; /* guest addresses of the three areas */
	uint16_t avail_idx;	    /* driver's shadow of avail->idx */
	uint16_t next_free;	    /* next descriptor handed out (round robin) */
};

/* One buffer of a chain: guest address, length, device-writable or not. */
struct vqb_seg {
	uint64_t addr;
	uint32_t len;
	int write;
};

/* Lay out an empty queue of `size` entries at the given addresses (areas zeroed). */
static inline void vqb_init(struct vqb *b, struct gmem *gm, uint32_t size, uint64_t desc,
			    uint64_t avail, uint64_t used)
{
	memset(b, 0, sizeof(*b));
	b->gm = gm;
	b->size = size;
	b->desc = desc;
	b->avail = avail;
	b->used = used;
	if (gmem_fill(gm, desc, 0, 16ull * size) || gmem_fill(gm, avail, 0, 6 + 2ull * size) ||
	    gmem_fill(gm, used, 0, 6 + 8ull * size))
		abort();
}

/* Write descriptor idx of the table at table_gpa (the queue's table or an indirect table). */
static inline void vqb_write_desc_at(struct gmem *gm, uint64_t table_gpa, unsigned idx,
				     uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	uint8_t d[16];
	uint64_t a = htole64(addr);
	uint32_t l = htole32(len);
	uint16_t f = htole16(flags), n = htole16(next);

	memcpy(d, &a, 8);
	memcpy(d + 8, &l, 4);
	memcpy(d + 12, &f, 2);
	memcpy(d + 14, &n, 2);
	if (gmem_write(gm, table_gpa + 16ull * idx, d, 16))
		abort();
}

static inline void vqb_write_desc(struct vqb *b, unsigned idx, uint64_t addr, uint32_t len,
				  uint16_t flags, uint16_t next)
{
	vqb_write_desc_at(b->gm, b->desc, idx, addr, len, flags, next);
}

/* Put head into the next avail ring slot without publishing it. */
static inline void vqb_put_head(struct vqb *b, uint16_t slot_idx, uint16_t head)
{
	gm_w16(b->gm, b->avail + 4 + 2ull * (slot_idx % b->size), head);
}

/* Set avail->idx (the driver's publication) to idx. */
static inline void vqb_set_avail_idx(struct vqb *b, uint16_t idx)
{
	b->avail_idx = idx;
	gm_w16(b->gm, b->avail + 2, idx);
}

/* Make head available: ring slot, then idx. */
static inline void vqb_publish(struct vqb *b, uint16_t head)
{
	vqb_put_head(b, b->avail_idx, head);
	vqb_set_avail_idx(b, (uint16_t)(b->avail_idx + 1));
}

/* Write n segments as a chain of descriptors from next_free and return the head (unpublished). */
static inline uint16_t vqb_chain(struct vqb *b, const struct vqb_seg *segs, unsigned n)
{
	uint16_t head = b->next_free;

	for (unsigned i = 0; i < n; i++) {
		uint16_t idx = (uint16_t)((head + i) % b->size);
		uint16_t next = (uint16_t)((head + i + 1) % b->size);
		uint16_t flags = (uint16_t)((segs[i].write ? VIRTQ_DESC_F_WRITE : 0) |
					    (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0));
		vqb_write_desc(b, idx, segs[i].addr, segs[i].len, flags, i + 1 < n ? next : 0);
	}
	b->next_free = (uint16_t)((head + n) % b->size);
	return head;
}

/* Add and publish a chain of n segments; returns its head. */
static inline uint16_t vqb_add(struct vqb *b, const struct vqb_seg *segs, unsigned n)
{
	uint16_t head = vqb_chain(b, segs, n);
	vqb_publish(b, head);
	return head;
}

/* Write n segments as an indirect table at table_gpa and return the head of a one-descriptor
 * chain that points at it (unpublished). */
static inline uint16_t vqb_indirect(struct vqb *b, uint64_t table_gpa, const struct vqb_seg *segs,
				    unsigned n)
{
	uint16_t head = b->next_free;

	for (unsigned i = 0; i < n; i++) {
		uint16_t flags = (uint16_t)((segs[i].write ? VIRTQ_DESC_F_WRITE : 0) |
					    (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0));
		vqb_write_desc_at(b->gm, table_gpa, i, segs[i].addr, segs[i].len, flags,
				  (uint16_t)(i + 1 < n ? i + 1 : 0));
	}
	vqb_write_desc(b, head, table_gpa, 16u * n, VIRTQ_DESC_F_INDIRECT, 0);
	b->next_free = (uint16_t)((head + 1) % b->size);
	return head;
}

static inline void vqb_set_avail_flags(struct vqb *b, uint16_t flags)
{
	gm_w16(b->gm, b->avail, flags);
}

static inline void vqb_set_used_event(struct vqb *b, uint16_t v)
{
	gm_w16(b->gm, b->avail + 4 + 2ull * b->size, v);
}

static inline uint16_t vqb_used_idx(struct vqb *b)
{
	return gm_r16(b->gm, b->used + 2);
}

static inline uint16_t vqb_avail_event(struct vqb *b)
{
	return gm_r16(b->gm, b->used + 4 + 8ull * b->size);
}

/* The used ring entry written for used index i. */
static inline void vqb_used_elem(struct vqb *b, uint16_t i, uint32_t *id, uint32_t *len)
{
	uint64_t e = b->used + 4 + 8ull * (i % b->size);
	*id = gm_r32(b->gm, e);
	*len = gm_r32(b->gm, e + 4);
}

/* ---- a minimal virtio-mmio driver ---- */

static inline uint32_t mmio_rd(struct virtio_mmio *m, uint64_t off)
{
	return (uint32_t)virtio_mmio_ops.read(m, off, 4);
}

static inline void mmio_wr(struct virtio_mmio *m, uint64_t off, uint32_t v)
{
	virtio_mmio_ops.write(m, off, 4, v);
}

/* Reset, ACKNOWLEDGE, DRIVER, negotiate `features` (two 32-bit halves), FEATURES_OK. Returns the
 * status read back (FEATURES_OK set when the device accepted). */
static inline uint32_t mmio_negotiate(struct virtio_mmio *m, uint64_t features)
{
	mmio_wr(m, VIRTIO_MMIO_STATUS, 0);
	mmio_wr(m, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
	mmio_wr(m, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	mmio_wr(m, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	mmio_wr(m, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(features >> 32));
	mmio_wr(m, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	mmio_wr(m, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)features);
	mmio_wr(m, VIRTIO_MMIO_STATUS,
		VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
	return mmio_rd(m, VIRTIO_MMIO_STATUS);
}

/* Program queue q with b's size and addresses and set QueueReady. Returns QueueReady read back. */
static inline uint32_t mmio_setup_queue(struct virtio_mmio *m, unsigned q, const struct vqb *b)
{
	mmio_wr(m, VIRTIO_MMIO_QUEUE_SEL, q);
	mmio_wr(m, VIRTIO_MMIO_QUEUE_NUM, b->size);
	mmio_wr(m, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)b->desc);
	mmio_wr(m, VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(b->desc >> 32));
	mmio_wr(m, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)b->avail);
	mmio_wr(m, VIRTIO_MMIO_QUEUE_DRIVER_HIGH, (uint32_t)(b->avail >> 32));
	mmio_wr(m, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)b->used);
	mmio_wr(m, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, (uint32_t)(b->used >> 32));
	mmio_wr(m, VIRTIO_MMIO_QUEUE_READY, 1);
	return mmio_rd(m, VIRTIO_MMIO_QUEUE_READY);
}

/* Set DRIVER_OK on top of the negotiated status. */
static inline void mmio_driver_ok(struct virtio_mmio *m)
{
	mmio_wr(m, VIRTIO_MMIO_STATUS, mmio_rd(m, VIRTIO_MMIO_STATUS) | VIRTIO_STATUS_DRIVER_OK);
}

#endif
