/* Virtio block device. See virtio_blk.h for the requests, the limits and the locking. */
#include "virtio/virtio_blk_priv.h"
#include "core/log.h"

#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

#define BLK_STATE_VERSION 1u
#define BLK_STATE_LEN 16u

static void __attribute__((format(printf, 3, 4)))
blk_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static struct virtio_blk *to_blk(struct virtio_dev *vdev)
{
	return (struct virtio_blk *)vdev;
}

void blk_release(struct virtio_blk *blk, struct blk_req *r)
{
	r->next_free = blk->free_list;
	blk->free_list = r;
	blk->busy--;
}

void blk_complete(struct virtio_blk *blk, struct blk_req *r, uint8_t status, uint32_t used_len)
{
	struct virtq *vq = virtio_dev_queue(&blk->vdev, 0);

	*r->status = status;
	if (virtq_push(vq, &r->elem, used_len) == 0)
		blk->pushed = true; /* -EIO: the queue broke meanwhile; the driver resets anyway */
	blk_release(blk, r);
}

static void blk_signal(struct virtio_blk *blk)
{
	if (blk->pushed) {
		blk->pushed = false;
		virtio_dev_signal_used(&blk->vdev, 0);
	}
}

static bool blk_running(struct virtio_blk *blk, struct virtq *vq)
{
	return vq && vq->ready && !virtq_broken(vq) &&
	       (blk->vdev.status & (VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_NEEDS_RESET)) ==
		   VIRTIO_STATUS_DRIVER_OK;
}

/* A free slot, or a new one while fewer than VIRTIO_BLK_MAX_INFLIGHT exist (each is ~40 KiB, so
 * a device touches memory only for the depth it is driven at). NULL when none can be had. */
static struct blk_req *blk_get_slot(struct virtio_blk *blk)
{
	struct blk_req *r = blk->free_list;

	if (r) {
		blk->free_list = r->next_free;
	} else {
		if (blk->nslots == VIRTIO_BLK_MAX_INFLIGHT)
			return NULL;
		r = malloc(sizeof(*r));
		if (!r) {
			log_rl(LOG_WARN, "%s: out of memory for a request", blk->vdev.name);
			return NULL;
		}
		r->blk = blk;
		blk->slots[blk->nslots++] = r;
	}
	blk->busy++;
	return r;
}

static bool blk_has_slot(const struct virtio_blk *blk)
{
	return blk->free_list || blk->nslots < VIRTIO_BLK_MAX_INFLIGHT;
}

/* Pop and start requests while there are free slots. Returns true when it stopped because
 * every slot is busy (requests may be left in the queue). */
static bool blk_process(struct virtio_blk *blk)
{
	struct virtq *vq = virtio_dev_queue(&blk->vdev, 0);

	while (blk_running(blk, vq)) {
		struct blk_req *r = blk_get_slot(blk);
		if (!r)
			return true;
		if (virtq_pop(vq, &r->elem)) {
			blk_release(blk, r);
			break; /* -EAGAIN: empty; -EIO: broken */
		}
		if (!blk_start(blk, vq, r))
			break;
	}
	return false;
}

static int blk_queue_notify(struct virtio_dev *vdev, unsigned q)
{
	struct virtio_blk *blk = to_blk(vdev);
	bool full = blk_process(blk);

	disk_kick(blk->disk);
	disk_poll(blk->disk);
	blk_signal(blk);
	blk->blocked = false;
	if (!full)
		return 0;
	if (blk_has_slot(blk))
		return 1;    /* completions freed slots already: come back soon */
	blk->blocked = true; /* the completion handler resumes the queue */
	return 0;
}

/* A broken queue found outside virtio_dev_notify becomes NEEDS_RESET here. */
static void blk_check_broken(struct virtio_blk *blk)
{
	struct virtq *vq = virtio_dev_queue(&blk->vdev, 0);

	if (vq && virtq_broken(vq))
		virtio_dev_set_needs_reset(&blk->vdev);
}

void virtio_blk_poll(struct virtio_blk *blk)
{
	struct virtq *vq = virtio_dev_queue(&blk->vdev, 0);

	pthread_mutex_lock(&blk->vdev.lock);
	disk_poll(blk->disk);
	for (unsigned round = 0; round < 4 && blk->blocked && blk_has_slot(blk); round++) {
		blk->blocked = false;
		if (!blk_running(blk, vq))
			break;
		blk->blocked = blk_process(blk);
		disk_kick(blk->disk);
		disk_poll(blk->disk);
	}
	if (blk->blocked && blk_has_slot(blk) && blk->efd >= 0) {
		/* Still more to do: come back after the other handlers had a turn. */
		if (eventfd_write(blk->efd, 1) < 0)
			log_rl(LOG_WARN, "%s: eventfd_write failed", blk->vdev.name);
	}
	blk_check_broken(blk);
	blk_signal(blk);
	pthread_mutex_unlock(&blk->vdev.lock);
}

static void blk_event(void *ctx, int fd, uint32_t events)
{
	virtio_blk_poll(ctx);
}

int virtio_blk_drain(struct virtio_blk *blk)
{
	struct virtq *vq = virtio_dev_queue(&blk->vdev, 0);
	bool full;

	pthread_mutex_lock(&blk->vdev.lock);
	do {
		full = blk_running(blk, vq) && blk_process(blk);
		disk_kick(blk->disk);
		disk_drain(blk->disk);
	} while (full);
	blk->blocked = false;
	blk_check_broken(blk);
	blk_signal(blk);
	pthread_mutex_unlock(&blk->vdev.lock);
	return 0;
}

static void blk_reset(struct virtio_dev *vdev)
{
	struct virtio_blk *blk = to_blk(vdev);

	/* Requests in flight still write into guest memory: wait for them, drop the results. */
	blk->dropping = true;
	disk_drain(blk->disk);
	blk->dropping = false;
	blk->blocked = false;
	blk->pushed = false;
}

static uint32_t blk_config_read(struct virtio_dev *vdev, uint32_t off, unsigned size)
{
	struct virtio_blk *blk = to_blk(vdev);
	uint32_t v = 0;

	memcpy(&v, blk->config + off, size); /* the core checked off + size <= config_len */
	return le32toh(v);
}

/* Device state beyond the core: only a check that the same disk is attached. Nothing may be in
 * flight (virtio_blk_drain first). */
static int blk_save(struct virtio_dev *vdev, void *buf, size_t cap)
{
	struct virtio_blk *blk = to_blk(vdev);
	uint8_t *p = buf;

	if (blk->busy || disk_inflight(blk->disk))
		return -EBUSY;
	if (cap < BLK_STATE_LEN)
		return -ENOSPC;
	memset(p, 0, BLK_STATE_LEN);
	put32(p, BLK_STATE_VERSION);
	put64(p + 8, blk->capacity);
	return BLK_STATE_LEN;
}

static int blk_load(struct virtio_dev *vdev, const void *buf, size_t len)
{
	struct virtio_blk *blk = to_blk(vdev);
	const uint8_t *p = buf;

	if (len != BLK_STATE_LEN || get32(p) != BLK_STATE_VERSION || get32(p + 4) ||
	    get64(p + 8) != blk->capacity || blk->busy)
		return -EINVAL;
	blk->blocked = false;
	blk->pushed = false;
	return 0;
}

static const struct virtio_dev_ops blk_ops = {
    .reset = blk_reset,
    .queue_notify = blk_queue_notify,
    .config_read = blk_config_read,
    .save = blk_save,
    .load = blk_load,
};

static void blk_build_config(struct virtio_blk *blk)
{
	uint8_t *c = blk->config;
	unsigned bs = disk_block_size(blk->disk), phys = disk_phys_block_size(blk->disk);
	uint8_t exp = 0;

	while ((bs << exp) < phys)
		exp++;
	memset(c, 0, sizeof(blk->config));
	put64(c + VIRTIO_BLK_CFG_CAPACITY, blk->capacity);
	put32(c + VIRTIO_BLK_CFG_SIZE_MAX, VIRTIO_BLK_SIZE_MAX);
	put32(c + VIRTIO_BLK_CFG_SEG_MAX, VIRTIO_BLK_SEG_MAX);
	put32(c + VIRTIO_BLK_CFG_BLK_SIZE, bs);
	c[VIRTIO_BLK_CFG_PHYS_EXP] = exp;
	put16(c + VIRTIO_BLK_CFG_MIN_IO, (uint16_t)(1u << exp));
	put32(c + VIRTIO_BLK_CFG_MAX_DISCARD_SECTORS, VIRTIO_BLK_MAX_DISCARD_SECTORS);
	put32(c + VIRTIO_BLK_CFG_MAX_DISCARD_SEG, 1);
	put32(c + VIRTIO_BLK_CFG_DISCARD_ALIGN, phys / 512);
	put32(c + VIRTIO_BLK_CFG_MAX_WZ_SECTORS, VIRTIO_BLK_MAX_DISCARD_SECTORS);
	put32(c + VIRTIO_BLK_CFG_MAX_WZ_SEG, 1);
	c[VIRTIO_BLK_CFG_WZ_MAY_UNMAP] = 1;
}

int virtio_blk_create(const struct virtio_blk_opts *o, struct gmem *gm, struct evloop *el,
		      struct virtio_blk **out, char *err, size_t errlen)
{
	const struct disk_opts dopts = {
	    .path = o->path,
	    .base = o->base,
	    .readonly = o->readonly,
	    .cache = o->cache,
	    .sync_io = o->sync_io,
	};
	struct virtio_dev_config cfg = {
	    .name = "virtio-blk",
	    .device_id = VIRTIO_ID_BLOCK,
	    .nr_queues = 1,
	    .queue_size = VIRTIO_BLK_QUEUE_SIZE,
	    .config_len = VIRTIO_BLK_CONFIG_LEN,
	};
	struct virtio_blk *blk;
	size_t slen = o->serial ? strlen(o->serial) : 0;
	int ret;

	*out = NULL;
	if (slen > VIRTIO_BLK_ID_BYTES) {
		blk_err(err, errlen, "serial '%s' is longer than %u bytes", o->serial,
			VIRTIO_BLK_ID_BYTES);
		return -EINVAL;
	}
	blk = calloc(1, sizeof(*blk));
	if (!blk) {
		blk_err(err, errlen, "out of memory");
		return -ENOMEM;
	}
	blk->efd = -1;
	ret = disk_open(&dopts, &blk->disk, err, errlen);
	if (ret)
		goto err_free;
	blk->readonly = disk_readonly(blk->disk);
	blk->capacity = disk_size(blk->disk) / 512;
	if (slen)
		memcpy(blk->serial, o->serial, slen);
	cfg.features = VIRTIO_BIT(VIRTIO_BLK_F_SIZE_MAX) | VIRTIO_BIT(VIRTIO_BLK_F_SEG_MAX) |
		       VIRTIO_BIT(VIRTIO_BLK_F_BLK_SIZE) | VIRTIO_BIT(VIRTIO_BLK_F_FLUSH) |
		       VIRTIO_BIT(VIRTIO_BLK_F_TOPOLOGY);
	cfg.features |= blk->readonly ? VIRTIO_BIT(VIRTIO_BLK_F_RO)
				      : VIRTIO_BIT(VIRTIO_BLK_F_DISCARD) |
					    VIRTIO_BIT(VIRTIO_BLK_F_WRITE_ZEROES);
	ret = virtio_dev_init(&blk->vdev, &cfg, &blk_ops, gm);
	if (ret) {
		blk_err(err, errlen, "cannot create the device: %s", strerror(-ret));
		goto err_disk;
	}
	blk_build_config(blk);
	if (el && disk_event_fd(blk->disk) >= 0) {
		ret = evloop_add(el, disk_event_fd(blk->disk), EPOLLIN, blk_event, blk);
		if (ret) {
			blk_err(err, errlen, "cannot watch the completion eventfd: %s",
				strerror(-ret));
			virtio_dev_destroy(&blk->vdev);
			goto err_disk;
		}
		blk->el = el;
		blk->efd = disk_event_fd(blk->disk);
	}
	*out = blk;
	return 0;

err_disk:
	disk_close(blk->disk);
err_free:
	free(blk);
	return ret;
}

void virtio_blk_destroy(struct virtio_blk *blk)
{
	if (!blk)
		return;
	if (blk->el && blk->efd >= 0)
		evloop_del(blk->el, blk->efd); /* not under the lock: the handler takes it */
	pthread_mutex_lock(&blk->vdev.lock);
	blk->dropping = true;
	disk_close(blk->disk);
	pthread_mutex_unlock(&blk->vdev.lock);
	virtio_dev_destroy(&blk->vdev);
	for (unsigned i = 0; i < blk->nslots; i++)
		free(blk->slots[i]);
	free(blk);
}

struct virtio_dev *virtio_blk_dev(struct virtio_blk *blk)
{
	return &blk->vdev;
}

uint64_t virtio_blk_capacity(const struct virtio_blk *blk)
{
	return blk->capacity;
}

const char *virtio_blk_engine(const struct virtio_blk *blk)
{
	return disk_engine(blk->disk);
}
