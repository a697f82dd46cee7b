/* Disk back-end I/O: sub-operations on the io_uring or synchronous engine (short transfers,
 * fallocate fallbacks), requests (validation, O_DIRECT bounce buffers, raw images), completion
 * delivery and draining. See disk.h; opening and closing are in disk_open.c, overlays in
 * disk_cow.c. */
#include "backend/disk_priv.h"
#include "core/log.h"

#include <errno.h>
#include <limits.h>
#include <linux/falloc.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- sub-operations ---- */

static bool iov_aligned(const struct iovec *iov, unsigned niov, unsigned align)
{
	for (unsigned i = 0; i < niov; i++)
		if ((uintptr_t)iov[i].iov_base % align || iov[i].iov_len % align)
			return false;
	return true;
}

int disk_pick_fd(const struct disk *d, const struct disk_file *f, uint64_t off, uint64_t len,
		 const struct iovec *iov, unsigned niov)
{
	if (f->dfd < 0 || off % d->align || len % d->align || !iov_aligned(iov, niov, d->align))
		return f->fd;
	return f->dfd;
}

/* Skip n bytes (less than s->len) of the transfer. */
static void sub_advance(struct disk_sub *s, uint64_t n)
{
	s->off += n;
	s->len -= n;
	while (s->niov && n >= s->iov[0].iov_len) {
		n -= s->iov[0].iov_len;
		s->iov++;
		s->niov--;
	}
	if (n) {
		s->iov[0].iov_base = (uint8_t *)s->iov[0].iov_base + n;
		s->iov[0].iov_len -= n;
	}
}

/* A fallocate the filesystem does not support: ZERO_RANGE becomes PUNCH_HOLE, that becomes
 * writing zeros, and a DISCARD succeeds doing nothing. Returns true when s was changed and must
 * run again; else *res is the final result. */
static bool falloc_retry(struct disk *d, struct disk_sub *s, int *res)
{
	if (s->kind != SUB_FALLOC || (*res != -EOPNOTSUPP && *res != -ENOSYS))
		return false;
	if (s->req->op == DISK_DISCARD) {
		*res = 0;
		return false;
	}
	if (s->mode & FALLOC_FL_ZERO_RANGE) {
		s->mode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
		return true;
	}
	if (!d->zeros)
		d->zeros = calloc(1, DISK_ZERO_CHUNK);
	if (!d->zeros) {
		*res = -ENOMEM;
		return false;
	}
	s->kind = SUB_ZERO;
	return true;
}

/* SUB_ZERO: the next piece of zeros to write. */
static void zero_iov(const struct disk *d, struct disk_sub *s)
{
	s->ziov.iov_base = d->zeros;
	s->ziov.iov_len = s->len < DISK_ZERO_CHUNK ? (size_t)s->len : DISK_ZERO_CHUNK;
	s->iov = &s->ziov;
	s->niov = 1;
}

static void sub_finish(struct disk *d, struct disk_sub *s, int res)
{
	struct disk_req *r = s->req;

	if (res < 0 && !r->res)
		r->res = res;
	if (--r->pending > 0)
		return;
	if (d->cow_on && !disk_cow_finish(d, r))
		return;
	disk_req_complete(d, r);
}

/* Run s to the end on this thread. */
static int sub_run_sync(struct disk *d, struct disk_sub *s)
{
	ssize_t n;
	int res;

	switch (s->kind) {
	case SUB_FSYNC:
		return fdatasync(s->fd) < 0 ? -errno : 0;
	case SUB_FALLOC:
		res = fallocate(s->fd, s->mode, (off_t)s->off, (off_t)s->len) < 0 ? -errno : 0;
		if (falloc_retry(d, s, &res))
			return sub_run_sync(d, s);
		return res;
	default:
		while (s->len) {
			if (s->kind == SUB_ZERO)
				zero_iov(d, s);
			int cnt = s->niov > IOV_MAX ? IOV_MAX : (int)s->niov;
			if (s->kind == SUB_READV)
				n = preadv(s->fd, s->iov, cnt, (off_t)s->off);
			else
				n = pwritev(s->fd, s->iov, cnt, (off_t)s->off);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return -errno;
			if (n == 0)
				return -EIO; /* end of file inside the range */
			if ((uint64_t)n >= s->len)
				break;
			if (s->kind == SUB_ZERO) {
				s->off += (uint64_t)n;
				s->len -= (uint64_t)n;
				continue;
			}
			sub_advance(s, (uint64_t)n);
		}
		return 0;
	}
}

void disk_sub_start(struct disk *d, struct disk_sub *s)
{
	struct io_uring_sqe *sqe = NULL;

	if (d->uring_on) {
		sqe = io_uring_get_sqe(&d->ring);
		if (!sqe) {
			disk_kick(d);
			sqe = io_uring_get_sqe(&d->ring);
		}
	}
	if (!sqe) {
		sub_finish(d, s, sub_run_sync(d, s));
		return;
	}
	switch (s->kind) {
	case SUB_READV:
		io_uring_prep_readv(sqe, s->fd, s->iov, s->niov, s->off);
		break;
	case SUB_ZERO:
		zero_iov(d, s);
		io_uring_prep_writev(sqe, s->fd, s->iov, s->niov, s->off);
		break;
	case SUB_WRITEV:
		io_uring_prep_writev(sqe, s->fd, s->iov, s->niov, s->off);
		break;
	case SUB_FSYNC:
		io_uring_prep_fsync(sqe, s->fd, IORING_FSYNC_DATASYNC);
		break;
	default:
		io_uring_prep_fallocate(sqe, s->fd, s->mode, s->off, s->len);
		break;
	}
	io_uring_sqe_set_data(sqe, s);
	d->queued++;
}

/* A completion from the ring: continue short transfers, else finish the sub-operation. */
static void sub_result(struct disk *d, struct disk_sub *s, int res)
{
	if (res == -EAGAIN || res == -EINTR || falloc_retry(d, s, &res)) {
		disk_sub_start(d, s);
		return;
	}
	if (res < 0 || (s->kind != SUB_READV && s->kind != SUB_WRITEV && s->kind != SUB_ZERO)) {
		sub_finish(d, s, res < 0 ? res : 0);
		return;
	}
	if (res == 0 && s->len) {
		sub_finish(d, s, -EIO);
		return;
	}
	if ((uint64_t)res < s->len) {
		if (s->kind == SUB_ZERO) {
			s->off += (uint64_t)res;
			s->len -= (uint64_t)res;
		} else {
			sub_advance(s, (uint64_t)res);
		}
		disk_sub_start(d, s);
		return;
	}
	sub_finish(d, s, 0);
}

/* ---- requests ---- */

static void copy_to_iov(const struct iovec *iov, unsigned niov, const uint8_t *src, uint64_t len)
{
	for (unsigned i = 0; i < niov && len; i++) {
		size_t n = iov[i].iov_len < len ? iov[i].iov_len : (size_t)len;
		memcpy(iov[i].iov_base, src, n);
		src += n;
		len -= n;
	}
}

static void copy_from_iov(uint8_t *dst, const struct iovec *iov, unsigned niov, uint64_t len)
{
	for (unsigned i = 0; i < niov && len; i++) {
		size_t n = iov[i].iov_len < len ? iov[i].iov_len : (size_t)len;
		memcpy(dst, iov[i].iov_base, n);
		dst += n;
		len -= n;
	}
}

void disk_req_complete(struct disk *d, struct disk_req *r)
{
	if (r->bounce) {
		if (r->op == DISK_READ && !r->res)
			copy_to_iov(r->orig_iov, r->orig_niov, r->bounce, r->len);
		free(r->bounce);
		r->bounce = NULL;
		r->iov = r->orig_iov;
		r->niov = r->orig_niov;
	}
	free(r->subs);
	free(r->slices);
	r->subs = NULL;
	r->slices = NULL;
	r->next = NULL;
	*d->done_tail = r;
	d->done_tail = &r->next;
}

/* With O_DIRECT, an aligned range whose buffers are not aligned goes through a bounce buffer. */
static int maybe_bounce(struct disk *d, struct disk_req *r)
{
	size_t len;

	if (!d->direct || (r->op != DISK_READ && r->op != DISK_WRITE) || r->off % d->align ||
	    r->len % d->align || iov_aligned(r->iov, r->niov, d->align))
		return 0;
	len = (size_t)r->len;
	r->bounce = aligned_alloc(d->align, len);
	if (!r->bounce)
		return -ENOMEM;
	if (r->op == DISK_WRITE)
		copy_from_iov(r->bounce, r->iov, r->niov, r->len);
	r->orig_iov = r->iov;
	r->orig_niov = r->niov;
	r->bounce_iov.iov_base = r->bounce;
	r->bounce_iov.iov_len = len;
	r->iov = &r->bounce_iov;
	r->niov = 1;
	return 0;
}

static void raw_submit(struct disk *d, struct disk_req *r)
{
	struct disk_sub *s = &r->sub;

	memset(s, 0, sizeof(*s));
	s->req = r;
	s->fd = d->img.fd;
	s->off = r->off;
	s->len = r->len;
	switch (r->op) {
	case DISK_READ:
	case DISK_WRITE:
		s->kind = r->op == DISK_READ ? SUB_READV : SUB_WRITEV;
		s->iov = r->iov;
		s->niov = r->niov;
		s->fd = disk_pick_fd(d, &d->img, r->off, r->len, r->iov, r->niov);
		break;
	case DISK_FLUSH:
		s->kind = SUB_FSYNC;
		break;
	case DISK_DISCARD:
		s->kind = SUB_FALLOC;
		s->mode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
		break;
	case DISK_WRITE_ZEROES:
		s->kind = SUB_FALLOC;
		s->mode = r->unmap ? FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE
				   : FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE;
		break;
	}
	r->pending = 1;
	disk_sub_start(d, s);
}

int disk_submit(struct disk *d, struct disk_req *r)
{
	int ret;

	if (r->op > DISK_WRITE_ZEROES)
		return -EINVAL;
	if (r->op != DISK_FLUSH && (r->off % DISK_SECTOR || r->len % DISK_SECTOR ||
				    r->off > d->size || r->len > d->size - r->off))
		return -EINVAL;
	if ((r->op == DISK_READ || r->op == DISK_WRITE) &&
	    (r->niov > IOV_MAX || (!r->niov && r->len)))
		return -EINVAL;
	if (r->op != DISK_READ && r->op != DISK_FLUSH && d->readonly)
		return -EROFS;
	r->next = NULL;
	r->pending = 0;
	r->res = 0;
	r->phase = 0;
	r->bounce = NULL;
	r->subs = NULL;
	r->slices = NULL;
	r->snap = NULL;
	r->snap_idx = NULL;
	r->snap_n = 0;
	ret = maybe_bounce(d, r);
	if (ret)
		return ret;
	d->inflight++;
	if (r->op != DISK_FLUSH && r->len == 0) {
		disk_req_complete(d, r); /* nothing to transfer */
		return 0;
	}
	if (!d->cow_on) {
		raw_submit(d, r);
		return 0;
	}
	ret = disk_cow_submit(d, r);
	if (ret) {
		d->inflight--;
		if (r->bounce) {
			free(r->bounce);
			r->bounce = NULL;
			r->iov = r->orig_iov;
			r->niov = r->orig_niov;
		}
	}
	return ret;
}

void disk_kick(struct disk *d)
{
	int ret;

	if (!d->uring_on || !d->queued)
		return;
	ret = io_uring_submit(&d->ring);
	if (ret < 0) {
		log_rl(LOG_WARN, "disk: io_uring_submit: %s", strerror(-ret));
		return;
	}
	d->queued = (unsigned)ret >= d->queued ? 0 : d->queued - (unsigned)ret;
}

static void reap(struct disk *d)
{
	struct io_uring_cqe *cqe;

	while (io_uring_peek_cqe(&d->ring, &cqe) == 0) {
		struct disk_sub *s = io_uring_cqe_get_data(cqe);
		int res = cqe->res;
		io_uring_cqe_seen(&d->ring, cqe);
		if (s)
			sub_result(d, s, res);
	}
}

void disk_poll(struct disk *d)
{
	if (d->uring_on) {
		uint64_t v;
		ssize_t n = read(d->efd, &v, sizeof(v));
		(void)n; /* EAGAIN when nothing was signalled: the ring is read anyway */
		reap(d);
	}
	while (d->done_head) {
		struct disk_req *r = d->done_head;
		d->done_head = r->next;
		if (!d->done_head)
			d->done_tail = &d->done_head;
		d->inflight--;
		r->done(r, r->res);
	}
	disk_kick(d);
}

void disk_drain(struct disk *d)
{
	while (d->inflight) {
		disk_poll(d);
		if (!d->inflight || d->done_head)
			continue;
		if (!d->uring_on) {
			log_err("disk: %u requests in flight on the synchronous engine",
				d->inflight);
			return;
		}
		int ret = io_uring_submit_and_wait(&d->ring, 1);
		if (ret >= 0)
			d->queued = 0;
		else if (ret != -EINTR && ret != -EAGAIN && ret != -EBUSY)
			log_rl(LOG_WARN, "disk: io_uring wait: %s", strerror(-ret));
	}
}
