/* Virtio memory balloon (virtio 1.x, section 5.5; device ID 5).
 *
 * Queues, numbered consecutively as the present ones (what Linux and QEMU do): 0 inflateq,
 * 1 deflateq, 2 statsq (VIRTIO_BALLOON_F_STATS_VQ, always offered), then reporting_vq
 * (VIRTIO_BALLOON_F_PAGE_REPORTING, offered when created with `reporting`) as queue 3.
 * Configuration space (8 bytes): num_pages, le32, the target in 4 KiB pages, written by the device
 * (virtio_balloon_set_target raises a configuration interrupt); actual, le32, written by the
 * driver (the pages it holds).
 *
 * Inflate: each request is device-readable le32 page frame numbers (4 KiB pages); the host memory
 * behind each is given back with gmem_discard (runs of consecutive frames in one call), so it
 * costs nothing until the guest touches it again, and reads as zero then. A frame that is not RAM
 * is skipped and logged (rate-limited); trailing bytes that are not a whole frame number are
 * ignored. Deflate: bookkeeping only (the pages come back zeroed when touched). Free page
 * reporting: each request's device-writable buffers are free guest memory; whole pages among them
 * are discarded the same way. Every request is returned with used length 0. A request with a
 * segment in the wrong direction (writable for inflate, deflate and stats; readable for
 * reporting) is a chain error: the queue breaks and the device sets DEVICE_NEEDS_RESET.
 *
 * Statistics: the driver keeps one buffer of {le16 tag, le64 value} entries in statsq; the device
 * records the values and holds the buffer; virtio_balloon_request_stats returns it (used length
 * 0) so that the driver refills and re-posts it with fresh values. With an event loop and a
 * period (stats_secs > 0) a timerfd requests them every period.
 *
 * Saved state: target, actual, the counters, the last statistics, and whether a stats buffer
 * (and which head) is held. Load checks the version, the target against guest RAM and the head
 * against the queue size; a held buffer is returned to the driver at the next stats request.
 *
 * Locking: everything is protected by the virtio device lock (virtio.h); the set/request/get
 * functions take it and may be called from any thread (the event loop in vmon). */
#ifndef VMON_VIRTIO_VIRTIO_BALLOON_H
#define VMON_VIRTIO_VIRTIO_BALLOON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/evloop.h"
#include "core/gmem.h"
#include "virtio/virtio.h"

#define VIRTIO_BALLOON_F_MUST_TELL_HOST 0
#define VIRTIO_BALLOON_F_STATS_VQ 1
#define VIRTIO_BALLOON_F_DEFLATE_ON_OOM 2
#define VIRTIO_BALLOON_F_PAGE_REPORTING 5

#define VIRTIO_BALLOON_INFLATEQ 0
#define VIRTIO_BALLOON_DEFLATEQ 1
#define VIRTIO_BALLOON_STATSQ 2
#define VIRTIO_BALLOON_REPORTQ 3
#define VIRTIO_BALLOON_QUEUE_SIZE 128
#define VIRTIO_BALLOON_CONFIG_LEN 8
#define VIRTIO_BALLOON_CFG_NUM_PAGES 0
#define VIRTIO_BALLOON_CFG_ACTUAL 4
#define VIRTIO_BALLOON_PAGE_SHIFT 12

/* Statistics tags (section 5.5.6.3). */
#define VIRTIO_BALLOON_S_SWAP_IN 0
#define VIRTIO_BALLOON_S_SWAP_OUT 1
#define VIRTIO_BALLOON_S_MAJFLT 2
#define VIRTIO_BALLOON_S_MINFLT 3
#define VIRTIO_BALLOON_S_MEMFREE 4
#define VIRTIO_BALLOON_S_MEMTOT 5
#define VIRTIO_BALLOON_S_AVAIL 6
#define VIRTIO_BALLOON_S_CACHES 7
#define VIRTIO_BALLOON_S_HTLB_PGALLOC 8
#define VIRTIO_BALLOON_S_HTLB_PGFAIL 9
#define VIRTIO_BALLOON_S_NR 10

struct virtio_balloon_opts {
	uint64_t size;	     /* initial target in bytes (rounded down to pages) */
	unsigned stats_secs; /* statistics period, 0 for none */
	bool reporting;	     /* offer free page reporting */
};

/* Parse "" or "size=SIZE,stats=SECONDS,reporting" (any order, each at most once; SIZE as --mem,
 * e.g. 128M; SECONDS 0..3600) into *o. Returns 0 or -EINVAL with a one-line reason in err. */
int virtio_balloon_parse_opts(const char *s, struct virtio_balloon_opts *o, char *err,
			      size_t errlen) __attribute__((warn_unused_result));

/* What the device knows, for the control channel and tests. */
struct virtio_balloon_info {
	uint32_t target_pages, actual_pages;
	uint64_t inflated, deflated, reported; /* pages seen in each queue since creation */
	uint64_t stats_updates;		       /* stats buffers received */
	bool stats_valid[VIRTIO_BALLOON_S_NR];
	uint64_t stats[VIRTIO_BALLOON_S_NR];
};

struct virtio_balloon;

/* Create a balloon over gm (target o->size, which must not exceed guest RAM). With el not NULL
 * and o->stats_secs > 0, a timerfd on el requests statistics periodically. Returns 0 and sets
 * *out, or -EINVAL (target beyond RAM), -ENOMEM, -errno. */
int virtio_balloon_create(struct gmem *gm, const struct virtio_balloon_opts *o, struct evloop *el,
			  struct virtio_balloon **out) __attribute__((warn_unused_result));

/* Free the device (the loop must be stopped or not running its timer). Safe with NULL. */
void virtio_balloon_destroy(struct virtio_balloon *b);

/* The virtio device, for the transport and virtio_dev_notify. */
struct virtio_dev *virtio_balloon_dev(struct virtio_balloon *b);

/* Set the target to `bytes` (rounded down to 4 KiB pages) and raise a configuration interrupt.
 * Returns 0, or -EINVAL when bytes exceed guest RAM. Takes the device lock. */
int virtio_balloon_set_target(struct virtio_balloon *b, uint64_t bytes)
    __attribute__((warn_unused_result));

/* Ask the driver for fresh statistics (return the held stats buffer). Returns 0, or -EAGAIN when
 * no buffer is held (none posted yet, or a request is outstanding). Takes the device lock. */
int virtio_balloon_request_stats(struct virtio_balloon *b);

/* Copy what the device knows into *info. Takes the device lock. */
void virtio_balloon_get_info(struct virtio_balloon *b, struct virtio_balloon_info *info);

#endif
