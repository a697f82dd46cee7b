/* The queue-notify path that both virtio transports' machine wiring (vmio.c, vpci.c) share: a
 * notify from any thread sets the queue's bit in a pending mask and signals one eventfd that the
 * event loop watches; the loop then runs virtio_dev_notify for each pending queue, and a device
 * that reports more work is queued again behind the loop's other handlers. The same entry
 * (vq_kick_run) serves a queue's own ioeventfd.
 *
 * Locking: none of its own. The pending mask is atomic; the device is protected by the virtio
 * device lock (virtio.h), taken inside virtio_dev_notify. */
#ifndef VMON_CORE_VQKICK_H
#define VMON_CORE_VQKICK_H

#include <stdatomic.h>

#include "core/evloop.h"
#include "virtio/virtio.h"

struct vq_kick {
	struct evloop *el;
	struct virtio_dev *vdev;
	int fd;		     /* eventfd: some bit of pending is set (-1 before init) */
	int watched;	     /* fd is on the loop */
	atomic_uint pending; /* bit q: queue q was notified and not processed yet */
};

/* Mark k unset (fd -1), so that vq_kick_destroy is safe before or after a failed init. */
void vq_kick_preinit(struct vq_kick *k);

/* Create the eventfd and watch it on el (which need not be running). Returns 0 or -errno, with
 * whatever was set up left for vq_kick_destroy. */
int vq_kick_init(struct vq_kick *k, struct evloop *el, struct virtio_dev *vdev)
    __attribute__((warn_unused_result));

/* Stop watching and close (the loop must be stopped, or its handler not running). */
void vq_kick_destroy(struct vq_kick *k);

/* Any thread: queue q was notified (ignored for q >= VIRTIO_MAX_QUEUES). */
void vq_kick_post(struct vq_kick *k, unsigned q);

/* Loop thread: process queue q now (an ioeventfd fired for it). */
void vq_kick_run(struct vq_kick *k, unsigned q);

/* Machine reset: forget the queues not processed yet. */
void vq_kick_clear(struct vq_kick *k);

/* eventfd helpers: add 1 to the counter (EAGAIN ignored: already non-zero, the reader will
 * run), and read it back to zero. */
void vq_efd_signal(int fd);
void vq_efd_drain(int fd);

#endif
