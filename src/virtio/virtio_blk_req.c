/* Virtio block requests: the layout checks (header, status byte, data direction), decoding each
 * type and starting it on the disk back-end, and the completion callback. See virtio_blk.h for
 * what each request does and which layouts are malformed. */
#include "virtio/virtio_blk_priv.h"
#include "core/log.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

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

bool blk_start(struct virtio_blk *blk, struct virtq *vq, struct blk_req *r)
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
