/* Virtio entropy device. See virtio_rng.h. */
#include "virtio/virtio_rng.h"
#include "core/log.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/random.h>

struct virtio_rng {
	struct virtio_dev vdev; /* first: the ops recover the rng from it */
	virtio_rng_source_fn src;
	void *src_ctx;
	struct virtq_elem elem; /* the request being filled; protected by vdev.lock */
};

static ssize_t rng_getrandom(void *ctx, void *buf, size_t len)
{
	ssize_t n = getrandom(buf, len, 0);
	return n < 0 ? -errno : n;
}

static struct virtio_rng *to_rng(struct virtio_dev *vdev)
{
	return (struct virtio_rng *)vdev;
}

/* Fill up to `limit` bytes of the writable segments of e. Returns the bytes written. */
static uint32_t rng_fill(struct virtio_rng *rng, struct virtq_elem *e, uint32_t limit)
{
	uint32_t done = 0;

	for (unsigned i = e->nr_read; i < e->nr_read + e->nr_write && done < limit; i++) {
		uint8_t *p = e->iov[i].iov_base;
		size_t len = e->iov[i].iov_len, off = 0;
		if (len > limit - done)
			len = limit - done;
		while (off < len) {
			ssize_t n = rng->src(rng->src_ctx, p + off, len - off);
			if (n == -EINTR)
				continue;
			if (n <= 0 || (size_t)n > len - off) {
				log_rl(LOG_WARN, "%s: entropy source failed (%zd)", rng->vdev.name,
				       n);
				return done + (uint32_t)off;
			}
			off += (size_t)n;
		}
		done += (uint32_t)len;
	}
	return done;
}

static int rng_queue_notify(struct virtio_dev *vdev, unsigned q)
{
	struct virtio_rng *rng = to_rng(vdev);
	struct virtq *vq = virtio_dev_queue(vdev, q);
	uint64_t budget = VIRTIO_RNG_BUDGET;
	bool pushed = false;
	int ret, more = 0;

	while (vq) {
		if (budget == 0) {
			more = 1;
			break;
		}
		ret = virtq_pop(vq, &rng->elem);
		if (ret)
			break; /* -EAGAIN: drained; -EIO: broken, the core sets NEEDS_RESET */
		if (rng->elem.nr_read) {
			log_rl(LOG_WARN, "%s: request with a device-readable buffer", vdev->name);
			virtq_set_broken(vq);
			break;
		}
		uint32_t limit =
		    VIRTIO_RNG_MAX_REQ < budget ? VIRTIO_RNG_MAX_REQ : (uint32_t)budget;
		uint32_t n = rng_fill(rng, &rng->elem, limit);
		budget -= limit;
		if (virtq_push(vq, &rng->elem, n))
			break;
		pushed = true;
	}
	if (pushed)
		virtio_dev_signal_used(vdev, q);
	return more;
}

static const struct virtio_dev_ops rng_ops = {
    .queue_notify = rng_queue_notify,
};

int virtio_rng_create(struct gmem *gm, virtio_rng_source_fn src, void *src_ctx,
		      struct virtio_rng **out)
{
	const struct virtio_dev_config cfg = {
	    .name = "virtio-rng",
	    .device_id = VIRTIO_ID_RNG,
	    .nr_queues = 1,
	    .queue_size = VIRTIO_RNG_QUEUE_SIZE,
	};
	struct virtio_rng *rng;
	int ret;

	*out = NULL;
	rng = calloc(1, sizeof(*rng));
	if (!rng)
		return -ENOMEM;
	ret = virtio_dev_init(&rng->vdev, &cfg, &rng_ops, gm);
	if (ret) {
		free(rng);
		return ret;
	}
	rng->src = src ? src : rng_getrandom;
	rng->src_ctx = src_ctx;
	*out = rng;
	return 0;
}

void virtio_rng_destroy(struct virtio_rng *rng)
{
	if (!rng)
		return;
	virtio_dev_destroy(&rng->vdev);
	free(rng);
}

struct virtio_dev *virtio_rng_dev(struct virtio_rng *rng)
{
	return &rng->vdev;
}
