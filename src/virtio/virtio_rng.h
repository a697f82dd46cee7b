/* Virtio entropy device (virtio 1.x, section 5.4; device ID 4): one request queue, no feature
 * bits, no configuration space.
 *
 * Each request must consist of device-writable buffers only; a request with a device-readable
 * segment is malformed: the queue breaks and the device sets DEVICE_NEEDS_RESET (virtio.h). The
 * writable segments are filled from the byte source, at most VIRTIO_RNG_MAX_REQ bytes per request
 * (the spec lets the device use less than the whole buffer), and the request is returned with
 * the number of bytes written. One notification processes at most VIRTIO_RNG_BUDGET bytes; if
 * requests remain, virtio_dev_notify reports more work so the event loop can come back to it.
 * When the source fails, the request is returned with what was written so far (possibly 0) and
 * the failure is logged (rate-limited): a host error never becomes a guest-visible crash.
 *
 * Locking: the device state is protected by the virtio device lock (virtio.h); the byte source is
 * called with it held and must not call back into the device. */
#ifndef VMON_VIRTIO_VIRTIO_RNG_H
#define VMON_VIRTIO_VIRTIO_RNG_H

#include <stddef.h>
#include <sys/types.h>

#include "core/gmem.h"
#include "virtio/virtio.h"

#define VIRTIO_RNG_QUEUE_SIZE 256
#define VIRTIO_RNG_MAX_REQ (64u * 1024)	 /* bytes filled per request */
#define VIRTIO_RNG_BUDGET (1024u * 1024) /* bytes filled per notification */

/* A source of random bytes: fill buf with up to len bytes, return how many (>= 1) or -errno.
 * The default (NULL at creation) is getrandom(2). */
typedef ssize_t (*virtio_rng_source_fn)(void *ctx, void *buf, size_t len);

struct virtio_rng;

/* Create an entropy device over guest memory gm that reads from src(src_ctx, ...), or from
 * getrandom when src is NULL. Returns 0 and sets *out, or -ENOMEM / -errno. */
int virtio_rng_create(struct gmem *gm, virtio_rng_source_fn src, void *src_ctx,
		      struct virtio_rng **out) __attribute__((warn_unused_result));

/* Free the device. Its transport must have been destroyed first. */
void virtio_rng_destroy(struct virtio_rng *rng);

/* The virtio device, for the transport and virtio_dev_notify. */
struct virtio_dev *virtio_rng_dev(struct virtio_rng *rng);

#endif
