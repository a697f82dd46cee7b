/* Virtio block device. See virtio_blk.h for the requests, the limits and the locking. */
#include "virtio/virtio_blk.h"
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

#define BLK_HDR_LEN 16u
#define BLK_DWZ_LEN 16u /* struct virtio_blk_discard_write_zeroes */
#define BLK_STATE_VERSION 1u
#define BLK_STATE_LEN 16u

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

static void put16(uint8_t *p, uint16_t v)
{
	v = htole16(v);
	memcpy(p, &v, 2);
}

static void put32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, 4);
}

static void put64(uint8_t *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, 8);
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return le32toh(v);
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return le64toh(v);
}

/* Bytes [skip, skip+len) of the segments src[0..n) as iovecs in dst; returns how many. */
static unsigned iov_range(const struct iovec *src, unsigned n, uint64_t skip, uint64_t len,
			  struct iovec *dst)
{
	unsigned k = 0;

	for (unsigned i = 0; i < n && len; i++) {
		uint64_t l = src[i].iov_len;
		if (skip >= l) {
			skip -= l;
			continue;
		}
		uint64_t take = l - skip < len ? l - skip : len;
		dst[k].iov_base = (uint8_t *)src[i].iov_base + skip;
		dst[k].iov_len = (size_t)take;
		k++;
		len -= take;
		skip = 0;
	}
	return k;
}

/* Copy len bytes from offset skip of the segments src[0..n) (which hold them) into dst. */
static void iov_gather(const struct iovec *src, unsigned n, uint64_t skip, void *dst, size_t len)
{
	struct iovec tmp[BLK_HDR_LEN + BLK_DWZ_LEN];
	unsigned k = 0;
	uint8_t *p = dst;

	/* At most len segments can hold len bytes (zero-length segments are never created). */
	for (unsigned i = 0; i < n && len; i++) {
		uint64_t l = src[i].iov_len;
		if (skip >= l) {
			skip -= l;
			continue;
		}
		k = iov_range(src + i, n - i, skip, len, tmp);
		break;
	}
	for (unsigned i = 0; i < k; i++) {
		memcpy(p, tmp[i].iov_base, tmp[i].iov_len);
		p += tmp[i].iov_len;
	}
}

static void blk_release(struct virtio_blk *blk, struct blk_req *r)
{
	r->next_free = blk->free_list;
	blk->free_list = r;
	blk->busy--;
}

/* Write the status, return the element to the driver and free the slot. */
static void blk_complete(struct virtio_blk *blk, struct blk_req *r, uint8_t status,
			 uint32_t used_len)
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

static const char *blk_op_name(uint32_t type)
{
	switch (type) {
	case VIRTIO_BLK_T_IN:
		return "read";
	case VIRTIO_BLK_T_OUT:
		return "write";
	case VIRTIO_BLK_T_FLUSH:
		return "flush";
	case VIRTIO_BLK_T_DISCARD:
		return "discard";
	default:
		return "write-zeroes";
	}
}

static void blk_io_done(struct disk_req *dreq, int res)
{
	struct blk_req *r = (struct blk_req *)((char *)dreq - offsetof(struct blk_req, dreq));
	struct virtio_blk *blk = r->blk;

	if (blk->dropping) {
		blk_release(blk, r);
		return;
	}
	if (res)
		log_rl(LOG_WARN, "%s: %s at sector %llu failed: %s", blk->vdev.name,
		       blk_op_name(r->type), (unsigned long long)r->sector, strerror(-res));
	blk_complete(blk, r, res ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK, r->used_len);
}

/* [sector, sector + bytes / 512) lies inside the disk. */
static bool blk_range_ok(const struct virtio_blk *blk, uint64_t sector, uint64_t bytes)
{
	return sector <= blk->capacity && bytes / 512 <= blk->capacity - sector;
}

static int blk_submit(struct virtio_blk *blk, struct blk_req *r, enum disk_op op, uint64_t off,
		      uint64_t len, unsigned niov, bool unmap)
{
	r->dreq.op = op;
	r->dreq.off = off;
	r->dreq.len = len;
	r->dreq.iov = r->iov;
	r->dreq.niov = niov;
	r->dreq.unmap = unmap;
	r->dreq.done = blk_io_done;
	return disk_submit(blk->disk, &r->dreq);
}

/* DISCARD / WRITE_ZEROES with out_len bytes of segments after the header. Returns the status,
 * or VIRTIO_BLK_S_OK + 0x100 when the request was started. */
static unsigned blk_dwz(struct virtio_blk *blk, struct blk_req *r, uint64_t out_len)
{
	struct virtq_elem *e = &r->elem;
	uint8_t seg[BLK_DWZ_LEN];
	bool wz = r->type == VIRTIO_BLK_T_WRITE_ZEROES;

	if (out_len == 0 || out_len % BLK_DWZ_LEN)
		return VIRTIO_BLK_S_IOERR;
	if (out_len > BLK_DWZ_LEN)
		return VIRTIO_BLK_S_UNSUPP; /* max_discard_seg = max_write_zeroes_seg = 1 */
	iov_gather(e->iov, e->nr_read, BLK_HDR_LEN, seg, sizeof(seg));
	uint64_t sector = get64(seg);
	uint32_t num = get32(seg + 8), flags = get32(seg + 12);
	r->sector = sector;
	if (flags & ~VIRTIO_BLK_WZ_FLAG_UNMAP || (!wz && flags))
		return VIRTIO_BLK_S_UNSUPP;
	if (num > VIRTIO_BLK_MAX_DISCARD_SECTORS || !blk_range_ok(blk, sector, (uint64_t)num * 512))
		return VIRTIO_BLK_S_IOERR;
	if (blk->readonly)
		return VIRTIO_BLK_S_IOERR;
	if (num == 0)
		return VIRTIO_BLK_S_OK;
	if (blk_submit(blk, r, wz ? DISK_WRITE_ZEROES : DISK_DISCARD, sector * 512,
		       (uint64_t)num * 512, 0, flags & VIRTIO_BLK_WZ_FLAG_UNMAP))
		return VIRTIO_BLK_S_IOERR;
	return 0x100;
}

/* IN / OUT of len bytes. Returns a status, or 0x100 when started. */
static unsigned blk_rw(struct virtio_blk *blk, struct blk_req *r, uint64_t len)
{
	struct virtq_elem *e = &r->elem;
	bool in = r->type == VIRTIO_BLK_T_IN;
	unsigned niov;

	if (len % 512 || len > VIRTIO_BLK_MAX_REQ_BYTES || !blk_range_ok(blk, r->sector, len))
		return VIRTIO_BLK_S_IOERR;
	if (!in && blk->readonly)
		return VIRTIO_BLK_S_IOERR;
	if (len == 0)
		return VIRTIO_BLK_S_OK;
	if (in)
		niov = iov_range(e->iov + e->nr_read, e->nr_write, 0, len, r->iov);
	else
		niov = iov_range(e->iov, e->nr_read, BLK_HDR_LEN, len, r->iov);
	r->used_len = in ? (uint32_t)(len + 1) : 1;
	if (blk_submit(blk, r, in ? DISK_READ : DISK_WRITE, r->sector * 512, len, niov, false))
		return VIRTIO_BLK_S_IOERR;
	return 0x100;
}

/* Check the layout of a popped request and start it or answer it. Returns false when the
 * request is malformed: the queue is then broken and the slot freed. */
static bool blk_start(struct virtio_blk *blk, struct virtq *vq, struct blk_req *r)
{
	struct virtq_elem *e = &r->elem;
	uint8_t hdr[BLK_HDR_LEN];
	uint64_t out_len, in_len;
	unsigned st;
	const char *why = NULL;

	if (e->read_len < BLK_HDR_LEN)
		why = "header not device-readable";
	else if (e->write_len < 1)
		why = "no device-writable status byte";
	if (why)
		goto bad;
	iov_gather(e->iov, e->nr_read, 0, hdr, sizeof(hdr));
	r->type = get32(hdr);
	r->sector = get64(hdr + 8);
	const struct iovec *last = &e->iov[e->nr_read + e->nr_write - 1];
	r->status = (uint8_t *)last->iov_base + last->iov_len - 1;
	r->used_len = 1;
	out_len = e->read_len - BLK_HDR_LEN;
	in_len = e->write_len - 1;

	switch (r->type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_GET_ID:
		if (out_len) {
			why = "device-readable data in a request that reads";
			goto bad;
		}
		if (r->type == VIRTIO_BLK_T_IN) {
			st = blk_rw(blk, r, in_len);
			break;
		}
		uint64_t n = in_len < VIRTIO_BLK_ID_BYTES ? in_len : VIRTIO_BLK_ID_BYTES;
		const char *src = blk->serial;
		unsigned k = iov_range(e->iov + e->nr_read, e->nr_write, 0, n, r->iov);
		for (unsigned i = 0; i < k; i++) {
			memcpy(r->iov[i].iov_base, src, r->iov[i].iov_len);
			src += r->iov[i].iov_len;
		}
		r->used_len = (uint32_t)n + 1;
		st = VIRTIO_BLK_S_OK;
		break;
	case VIRTIO_BLK_T_OUT:
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		if (in_len) {
			why = "device-writable data in a request that writes";
			goto bad;
		}
		st = r->type == VIRTIO_BLK_T_OUT ? blk_rw(blk, r, out_len)
						 : blk_dwz(blk, r, out_len);
		break;
	case VIRTIO_BLK_T_FLUSH:
		st = VIRTIO_BLK_S_OK;
		if (!blk->readonly)
			st = blk_submit(blk, r, DISK_FLUSH, 0, 0, 0, false) ? VIRTIO_BLK_S_IOERR
									    : 0x100;
		break;
	default:
		st = VIRTIO_BLK_S_UNSUPP;
		break;
	}
	if (st != 0x100)
		blk_complete(blk, r, (uint8_t)st, r->used_len);
	return true;

bad:
	log_rl(LOG_WARN, "%s: malformed request (%s): %llu readable, %llu writable bytes",
	       blk->vdev.name, why, (unsigned long long)e->read_len,
	       (unsigned long long)e->write_len);
	virtq_set_broken(vq);
	blk_release(blk, r);
	return false;
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
