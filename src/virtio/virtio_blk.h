/* Virtio block device (virtio 1.x, section 5.2; device ID 2): one request queue over a disk
 * back-end (backend/disk.h: a raw image or a copy-on-write overlay, io_uring or synchronous I/O).
 *
 * Features offered: SIZE_MAX, SEG_MAX, BLK_SIZE, FLUSH, TOPOLOGY, and DISCARD + WRITE_ZEROES for
 * writable disks, RO for read-only ones (plus the core's VERSION_1, INDIRECT_DESC, EVENT_IDX).
 * Configuration space: capacity (image bytes / 512), size_max, seg_max, blk_size (512, or the
 * O_DIRECT alignment with cache=none), topology, the discard and write-zeroes limits (one segment
 * per request, as QEMU), write_zeroes_may_unmap = 1. Nothing in it is writable.
 *
 * A request is a 16-byte header (type, ioprio, sector) in device-readable memory, the data, and
 * a status byte: the last byte of the device-writable part. Requests and their outcome:
 *   IN, OUT        read / write len bytes at sector * 512; len must be a multiple of 512 and at
 *                  most VIRTIO_BLK_MAX_REQ_BYTES, the range inside the capacity (with overflow
 *                  checks), else IOERR. OUT on a read-only disk: IOERR (nothing written).
 *   FLUSH          fdatasync (for an overlay also its bitmap); OK at once on a read-only disk.
 *   GET_ID         the serial, NUL-padded, into the first min(20, len) writable bytes.
 *   DISCARD        fallocate(PUNCH_HOLE|KEEP_SIZE); WRITE_ZEROES: PUNCH_HOLE when the request's
 *   WRITE_ZEROES   unmap flag is set, else ZERO_RANGE. Exactly one 16-byte segment (else
 *                  UNSUPP, and IOERR when the data is not a whole number of segments); unknown
 *                  flags, or unmap on DISCARD: UNSUPP; more than the max sectors or outside the
 *                  capacity: IOERR; on a read-only disk: IOERR.
 *   anything else  UNSUPP.
 * Host I/O errors become IOERR (logged, rate-limited). The used length is the bytes the device
 * wrote: data + 1 for IN (whatever the status, so the data pages are marked dirty again), the
 * id + 1 for GET_ID, else 1.
 *
 * Malformed requests break the queue and put the device in DEVICE_NEEDS_RESET (virtio.h): a
 * header not wholly device-readable (fewer than 16 readable bytes), no device-writable byte for
 * the status, and data in the wrong direction (readable data after the header of IN or GET_ID,
 * writable data before the status of OUT, DISCARD or WRITE_ZEROES); so are the virtqueue's own
 * errors (virtq.h: loops, buffers outside RAM, lengths that overflow). Such a request is never
 * started, and requests after it are not looked at; requests still in flight then complete
 * without being returned (a broken queue takes no used entries; the driver resets the device).
 *
 * Limits: at most VIRTIO_BLK_MAX_INFLIGHT requests are in flight; the queue is then not read
 * until completions free slots (with io_uring, the completion handler resumes it). With the
 * synchronous engine one notification handles at most VIRTIO_BLK_MAX_INFLIGHT requests and
 * reports more work (virtio_dev_notify returns 1).
 *
 * Threads and locking: everything runs with the virtio device lock held (virtio.h): the queue
 * work from virtio_dev_notify and the completions from virtio_blk_poll, both on the event-loop
 * thread; reset, drain, save and load from wherever the machine calls them. The disk back-end is
 * protected by the same lock. When an event loop is given at creation, the back-end's
 * completion eventfd is watched there and virtio_blk_poll runs by itself. */
#ifndef VMON_VIRTIO_VIRTIO_BLK_H
#define VMON_VIRTIO_VIRTIO_BLK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend/disk.h"
#include "core/evloop.h"
#include "core/gmem.h"
#include "virtio/virtio.h"

/* Feature bits (section 5.2.3). */
#define VIRTIO_BLK_F_SIZE_MAX 1
#define VIRTIO_BLK_F_SEG_MAX 2
#define VIRTIO_BLK_F_RO 5
#define VIRTIO_BLK_F_BLK_SIZE 6
#define VIRTIO_BLK_F_FLUSH 9
#define VIRTIO_BLK_F_TOPOLOGY 10
#define VIRTIO_BLK_F_DISCARD 13
#define VIRTIO_BLK_F_WRITE_ZEROES 14

/* Request types and status values (section 5.2.6). */
#define VIRTIO_BLK_T_IN 0u
#define VIRTIO_BLK_T_OUT 1u
#define VIRTIO_BLK_T_FLUSH 4u
#define VIRTIO_BLK_T_GET_ID 8u
#define VIRTIO_BLK_T_DISCARD 11u
#define VIRTIO_BLK_T_WRITE_ZEROES 13u
#define VIRTIO_BLK_S_OK 0u
#define VIRTIO_BLK_S_IOERR 1u
#define VIRTIO_BLK_S_UNSUPP 2u
#define VIRTIO_BLK_WZ_FLAG_UNMAP 1u

/* Configuration space offsets (struct virtio_blk_config). */
#define VIRTIO_BLK_CFG_CAPACITY 0
#define VIRTIO_BLK_CFG_SIZE_MAX 8
#define VIRTIO_BLK_CFG_SEG_MAX 12
#define VIRTIO_BLK_CFG_BLK_SIZE 20
#define VIRTIO_BLK_CFG_PHYS_EXP 24
#define VIRTIO_BLK_CFG_ALIGN_OFF 25
#define VIRTIO_BLK_CFG_MIN_IO 26
#define VIRTIO_BLK_CFG_OPT_IO 28
#define VIRTIO_BLK_CFG_MAX_DISCARD_SECTORS 36
#define VIRTIO_BLK_CFG_MAX_DISCARD_SEG 40
#define VIRTIO_BLK_CFG_DISCARD_ALIGN 44
#define VIRTIO_BLK_CFG_MAX_WZ_SECTORS 48
#define VIRTIO_BLK_CFG_MAX_WZ_SEG 52
#define VIRTIO_BLK_CFG_WZ_MAY_UNMAP 56
#define VIRTIO_BLK_CONFIG_LEN 60

#define VIRTIO_BLK_QUEUE_SIZE 256
#define VIRTIO_BLK_SEG_MAX 126u			  /* data segments per request */
#define VIRTIO_BLK_SIZE_MAX (64u * 1024)	  /* bytes per segment */
#define VIRTIO_BLK_MAX_REQ_BYTES (8u << 20)	  /* >= SEG_MAX * SIZE_MAX */
#define VIRTIO_BLK_MAX_DISCARD_SECTORS (1u << 22) /* 2 GiB per DISCARD / WRITE_ZEROES */
#define VIRTIO_BLK_MAX_INFLIGHT 64u
#define VIRTIO_BLK_ID_BYTES 20u

struct virtio_blk_opts {
	char *path;   /* image, or the overlay when base is set */
	char *base;   /* NULL, or the raw base of a copy-on-write overlay */
	char *serial; /* NULL, or at most VIRTIO_BLK_ID_BYTES printable ASCII characters */
	bool readonly;
	enum disk_cache cache; /* default DISK_CACHE_WRITEBACK */
	bool sync_io;	       /* no io_uring (tests, benchmarks); not settable from the string */
};

/* Parse "path=FILE[,ro][,serial=ID][,cache=none|writeback][,base=BASE]" (keys in any order, each
 * at most once; values cannot contain commas) into *o, whose strings are then allocated (free
 * them with virtio_blk_opts_free). Returns 0, or -EINVAL with a one-line reason in err and *o
 * left empty. */
int virtio_blk_parse_opts(const char *s, struct virtio_blk_opts *o, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Free the strings of *o and zero it. */
void virtio_blk_opts_free(struct virtio_blk_opts *o);

struct virtio_blk;

/* Open the disk and create the device over guest memory gm. When el is not NULL the back-end's
 * completion eventfd is added to it (so completions are handled on its thread); with NULL the
 * caller calls virtio_blk_poll or virtio_blk_drain itself (tests). Returns 0 and sets *out, or
 * -errno with a one-line reason in err: the disk_open reasons (missing file, size not a multiple
 * of 512, bad overlay), a bad serial, -ENOMEM. */
int virtio_blk_create(const struct virtio_blk_opts *o, struct gmem *gm, struct evloop *el,
		      struct virtio_blk **out, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Stop watching the eventfd, wait for requests in flight (dropping their results), write an
 * overlay's bitmap back, close the disk and free the device. The transport must be gone. */
void virtio_blk_destroy(struct virtio_blk *blk);

/* The virtio device, for the transport and virtio_dev_notify. */
struct virtio_dev *virtio_blk_dev(struct virtio_blk *blk);

/* Capacity in 512-byte sectors. */
uint64_t virtio_blk_capacity(const struct virtio_blk *blk);

/* Handle the completions that are ready, then resume the queue if it waited for free slots.
 * Takes the device lock. The event-loop handler; tests call it directly. */
void virtio_blk_poll(struct virtio_blk *blk);

/* Process everything the queue has and wait until no request is in flight, completing each
 * (used ring, interrupt). Takes the device lock. Call it with the vCPUs paused before save: then
 * nothing is in flight and the avail ring holds nothing unprocessed, so the core's queue state is
 * the whole story (ops->save fails with -EBUSY otherwise). After a load the machine should kick
 * the queue (virtio_dev_notify) as it does at DRIVER_OK. Returns 0. */
int virtio_blk_drain(struct virtio_blk *blk);

/* "io_uring" or "sync": the engine the back-end uses. */
const char *virtio_blk_engine(const struct virtio_blk *blk);

#endif
