/* Copy-on-write overlays over a read-only raw base: vmon's own "vmoncow" format.
 *
 * Why not qcow2: the subset `qemu-img create -f qcow2 -b base.raw -F raw` produces still needs,
 * for writing, cluster allocation with refcount tables and blocks, two-level L1/L2 lookups with
 * a cache, copy-on-write of the unwritten part of each 64 KiB cluster from the base (a read
 * before the write), and a careful order of metadata writes for crash safety; all of that would
 * run asynchronously next to guest I/O. It would be several times this file and the larger part
 * of the device's risk. vmoncow needs no allocation at all: the overlay is a sparse file with
 * the same layout as the disk, so a guest write is one pwritev at a fixed offset, and the only
 * metadata is one bit per 512-byte sector, so no write ever needs a read of the base. What we
 * give up is interchange with QEMU tooling (`qemu-img convert` cannot read it); the data area is
 * a raw image of the written sectors, so a tool to merge an overlay into its base is a few lines.
 *
 * File layout (all integers little-endian):
 *   0     header, COW_HEADER bytes:
 *           0  magic "VMONCOW1"          8  u32 version (1)     12 u32 header size (4096)
 *           16 u64 disk size in bytes    24 u32 granule (512)   28 u32 flags (0)
 *           32 u64 bitmap offset (4096)  40 u64 bitmap length   48 u64 data offset
 *           56 base path at creation, NUL-terminated (informative only; base= decides)
 *   4096  bitmap: bit s (byte s / 8, bit s % 8) set when sector s is in the overlay; its length
 *         is ceil(sectors / 8) rounded up to COW_CHUNK bytes
 *   data  data offset (bitmap end rounded up to 1 MiB, so O_DIRECT stays aligned): sector s at
 *         data offset + 512 * s; the file is sparse and data offset + disk size long.
 * The disk size must equal the base's size. A missing or empty overlay file is created.
 *
 * Semantics: a read takes each run of sectors from the overlay or the base as the bitmap says; a
 * write goes to the overlay, and its bits are set when it completes; DISCARD and WRITE_ZEROES
 * deallocate (or zero) the overlay range and set its bits, so the range reads as zeros. The base
 * is never written.
 *
 * Crash consistency: the bitmap lives in memory and is written back by FLUSH (and at close). A
 * flush snapshots the bitmap chunks that changed, fdatasyncs the overlay (the data of every write
 * completed before the flush is then stable), writes the snapshot, and fdatasyncs again. So a
 * bit on disk never points at sectors whose data is not stable; writes not flushed may be lost
 * (read back from the base), as the guest expects of a volatile write cache. One flush runs at a
 * time; later ones wait for it, so snapshots reach the file in order. */
#include "backend/disk_priv.h"
#include "core/log.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define COW_MAGIC "VMONCOW1"
#define COW_VERSION 1u
#define COW_HEADER 4096u
#define COW_CHUNK 4096u
#define COW_DATA_ALIGN (1ull << 20)
#define COW_BITS_PER_CHUNK (8ull * COW_CHUNK)

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) / a * a;
}

static uint64_t cow_bitmap_len(uint64_t size)
{
	uint64_t sectors = size / DISK_SECTOR;
	uint64_t len = align_up((sectors + 7) / 8, COW_CHUNK);
	return len ? len : COW_CHUNK;
}

static uint64_t cow_data_off(uint64_t bitmap_len)
{
	return align_up(COW_HEADER + bitmap_len, COW_DATA_ALIGN);
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

/* Full pread/pwrite; -errno, or -EIO at end of file. */
static int pio(int fd, void *buf, size_t len, uint64_t off, bool wr)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = wr ? pwrite(fd, p, len, (off_t)off) : pread(fd, p, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

static int cow_create(struct disk *d, const struct disk_opts *o, char *err, size_t errlen)
{
	uint8_t hdr[COW_HEADER] = {0};
	uint64_t blen = cow_bitmap_len(d->size), doff = cow_data_off(blen);
	int ret;

	memcpy(hdr, COW_MAGIC, 8);
	put32(hdr + 8, COW_VERSION);
	put32(hdr + 12, COW_HEADER);
	put64(hdr + 16, d->size);
	put32(hdr + 24, DISK_SECTOR);
	put64(hdr + 32, COW_HEADER);
	put64(hdr + 40, blen);
	put64(hdr + 48, doff);
	strncpy((char *)hdr + 56, o->base, COW_HEADER - 57);
	if (ftruncate(d->img.fd, (off_t)(doff + d->size)) < 0)
		ret = -errno;
	else
		ret = pio(d->img.fd, hdr, sizeof(hdr), 0, true);
	if (!ret && fdatasync(d->img.fd) < 0)
		ret = -errno;
	if (ret)
		disk_set_err(err, errlen, "%s: cannot create the overlay: %s", o->path,
			     strerror(-ret));
	else
		log_info("disk: created overlay %s over %s", o->path, o->base);
	return ret;
}

static int cow_check_header(struct disk *d, const struct disk_opts *o, uint64_t file_len, char *err,
			    size_t errlen)
{
	struct disk_cow *c = &d->cow;
	uint8_t hdr[COW_HEADER];
	uint64_t size;
	int ret = file_len < COW_HEADER ? -EIO : pio(d->img.fd, hdr, sizeof(hdr), 0, false);

	if (ret || memcmp(hdr, COW_MAGIC, 8)) {
		disk_set_err(err, errlen, "%s: not a vmon overlay (no %s header)", o->path,
			     COW_MAGIC);
		return -EINVAL;
	}
	if (get32(hdr + 8) != COW_VERSION || get32(hdr + 12) != COW_HEADER ||
	    get32(hdr + 24) != DISK_SECTOR || get32(hdr + 28) != 0) {
		disk_set_err(err, errlen, "%s: unsupported overlay version %u", o->path,
			     get32(hdr + 8));
		return -EINVAL;
	}
	size = get64(hdr + 16);
	if (size != d->size) {
		disk_set_err(err, errlen, "%s: overlay is for a %llu-byte base, %s has %llu bytes",
			     o->path, (unsigned long long)size, o->base,
			     (unsigned long long)d->size);
		return -EINVAL;
	}
	c->bitmap_off = get64(hdr + 32);
	c->bitmap_len = get64(hdr + 40);
	c->data_off = get64(hdr + 48);
	if (c->bitmap_off != COW_HEADER || c->bitmap_len != cow_bitmap_len(size) ||
	    c->data_off != cow_data_off(c->bitmap_len)) {
		disk_set_err(err, errlen, "%s: corrupt overlay header (bitmap/data offsets)",
			     o->path);
		return -EINVAL;
	}
	if (file_len < c->data_off + size) {
		if (o->readonly || ftruncate(d->img.fd, (off_t)(c->data_off + size)) < 0) {
			disk_set_err(err, errlen, "%s: overlay is truncated", o->path);
			return -EINVAL;
		}
	}
	return 0;
}

int disk_cow_open(struct disk *d, const struct disk_opts *o, char *err, size_t errlen)
{
	struct disk_cow *c = &d->cow;
	struct stat bst, ost;
	unsigned phys;
	int ret;

	c->flush_tail = &c->flush_head;
	c->base.fd = open(o->base, O_RDONLY | O_CLOEXEC);
	if (c->base.fd < 0) {
		ret = -errno;
		disk_set_err(err, errlen, "base %s: %s", o->base, strerror(-ret));
		return ret;
	}
	ret = disk_file_size(c->base.fd, o->base, &d->size, &d->phys_block, err, errlen);
	if (ret)
		return ret;
	d->img.fd =
	    open(o->path, o->readonly ? O_RDONLY | O_CLOEXEC : O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (d->img.fd < 0) {
		ret = -errno;
		disk_set_err(err, errlen, "%s: %s", o->path, strerror(-ret));
		return ret;
	}
	if (fstat(c->base.fd, &bst) < 0 || fstat(d->img.fd, &ost) < 0) {
		ret = -errno;
		disk_set_err(err, errlen, "%s: %s", o->path, strerror(-ret));
		return ret;
	}
	if (bst.st_dev == ost.st_dev && bst.st_ino == ost.st_ino) {
		disk_set_err(err, errlen, "%s: the overlay and its base are the same file",
			     o->path);
		return -EINVAL;
	}
	if (!S_ISREG(ost.st_mode)) {
		disk_set_err(err, errlen, "%s: an overlay must be a regular file", o->path);
		return -EINVAL;
	}
	if (ost.st_size == 0) {
		if (o->readonly) {
			disk_set_err(err, errlen, "%s: empty overlay opened read-only", o->path);
			return -EINVAL;
		}
		ret = cow_create(d, o, err, errlen);
		if (ret)
			return ret;
		ost.st_size = (off_t)(cow_data_off(cow_bitmap_len(d->size)) + d->size);
	}
	ret = cow_check_header(d, o, (uint64_t)ost.st_size, err, errlen);
	if (ret)
		return ret;
	c->nchunks = c->bitmap_len / COW_CHUNK;
	c->bitmap = malloc(c->bitmap_len);
	c->dirty = calloc(c->nchunks, 1);
	if (!c->bitmap || !c->dirty) {
		disk_set_err(err, errlen, "%s: out of memory for the bitmap", o->path);
		return -ENOMEM;
	}
	ret = pio(d->img.fd, c->bitmap, c->bitmap_len, c->bitmap_off, false);
	if (ret) {
		disk_set_err(err, errlen, "%s: cannot read the bitmap: %s", o->path,
			     strerror(-ret));
		return ret;
	}
	phys = ost.st_blksize >= 4096 ? 4096 : DISK_SECTOR;
	if (phys > d->phys_block)
		d->phys_block = phys;
	d->cow_on = true;
	return 0;
}

void disk_cow_close(struct disk *d)
{
	struct disk_cow *c = &d->cow;

	if (c->base.fd >= 0)
		close(c->base.fd);
	if (c->base.dfd >= 0)
		close(c->base.dfd);
	free(c->bitmap);
	free(c->dirty);
	c->bitmap = c->dirty = NULL;
}

static bool cow_bit(const struct disk_cow *c, uint64_t s)
{
	return c->bitmap[s / 8] >> (s % 8) & 1;
}

/* Sectors from s (at most n) with the same bit as s. */
static uint64_t cow_run(const struct disk_cow *c, uint64_t s, uint64_t n)
{
	bool b = cow_bit(c, s);
	uint8_t whole = b ? 0xff : 0;
	uint64_t i = 1;

	while (i < n) {
		uint64_t t = s + i;
		if (t % 8 == 0 && n - i >= 8 && c->bitmap[t / 8] == whole) {
			i += 8;
			continue;
		}
		if (cow_bit(c, t) != b)
			break;
		i++;
	}
	return i;
}

static void cow_set_bits(struct disk_cow *c, uint64_t off, uint64_t len)
{
	uint64_t s = off / DISK_SECTOR, e = (off + len) / DISK_SECTOR;

	for (uint64_t t = s; t < e; t++)
		c->bitmap[t / 8] |= (uint8_t)(1u << (t % 8));
	if (e > s)
		for (uint64_t k = s / COW_BITS_PER_CHUNK; k <= (e - 1) / COW_BITS_PER_CHUNK; k++)
			c->dirty[k] = 1;
}

/* Cut len bytes starting at *pos (segment *seg, offset *segoff) out of iov into out. */
static unsigned iov_cut(const struct iovec *iov, unsigned niov, unsigned *seg, size_t *segoff,
			uint64_t len, struct iovec *out)
{
	unsigned n = 0;

	while (len && *seg < niov) {
		size_t avail = iov[*seg].iov_len - *segoff;
		size_t take = avail < len ? avail : (size_t)len;
		out[n].iov_base = (uint8_t *)iov[*seg].iov_base + *segoff;
		out[n].iov_len = take;
		n++;
		len -= take;
		*segoff += take;
		if (*segoff == iov[*seg].iov_len) {
			(*seg)++;
			*segoff = 0;
		}
	}
	return n;
}

static void sub_init(struct disk_sub *s, struct disk_req *r, int kind, int fd, uint64_t off,
		     uint64_t len)
{
	memset(s, 0, sizeof(*s));
	s->req = r;
	s->kind = (uint8_t)kind;
	s->fd = fd;
	s->off = off;
	s->len = len;
}

static int cow_read(struct disk *d, struct disk_req *r)
{
	struct disk_cow *c = &d->cow;
	uint64_t s0 = r->off / DISK_SECTOR, n = r->len / DISK_SECTOR, runs = 0;
	unsigned seg = 0, used = 0;
	size_t segoff = 0;

	for (uint64_t i = 0; i < n; runs++)
		i += cow_run(c, s0 + i, n - i);
	if (runs == 1) {
		bool b = cow_bit(c, s0);
		struct disk_file *f = b ? &d->img : &c->base;
		uint64_t off = (b ? c->data_off : 0) + r->off;
		sub_init(&r->sub, r, SUB_READV, disk_pick_fd(d, f, off, r->len, r->iov, r->niov),
			 off, r->len);
		r->sub.iov = r->iov;
		r->sub.niov = r->niov;
		r->pending = 1;
		disk_sub_start(d, &r->sub);
		return 0;
	}
	r->subs = calloc(runs, sizeof(*r->subs));
	r->slices = calloc(r->niov + runs, sizeof(*r->slices));
	if (!r->subs || !r->slices) {
		free(r->subs);
		free(r->slices);
		r->subs = NULL;
		r->slices = NULL;
		return -ENOMEM;
	}
	uint64_t i = 0;
	for (uint64_t k = 0; k < runs; k++) {
		uint64_t m = cow_run(c, s0 + i, n - i), len = m * DISK_SECTOR;
		bool b = cow_bit(c, s0 + i);
		struct disk_file *f = b ? &d->img : &c->base;
		uint64_t off = (b ? c->data_off : 0) + (s0 + i) * DISK_SECTOR;
		struct iovec *iov = r->slices + used;
		unsigned cnt = iov_cut(r->iov, r->niov, &seg, &segoff, len, iov);
		used += cnt;
		sub_init(&r->subs[k], r, SUB_READV, disk_pick_fd(d, f, off, len, iov, cnt), off,
			 len);
		r->subs[k].iov = iov;
		r->subs[k].niov = cnt;
		i += m;
	}
	r->pending = (int)runs;
	for (uint64_t k = 0; k < runs; k++)
		disk_sub_start(d, &r->subs[k]);
	return 0;
}

/* Put the snapshot's chunks back on the dirty list (the flush failed). */
static void cow_redirty(struct disk_cow *c, struct disk_req *r)
{
	for (size_t i = 0; i < r->snap_n; i++)
		c->dirty[r->snap_idx[i]] = 1;
}

static void cow_free_snap(struct disk_req *r)
{
	free(r->snap);
	free(r->snap_idx);
	r->snap = NULL;
	r->snap_idx = NULL;
	r->snap_n = 0;
}

/* Phase 1 of a flush: snapshot the dirty chunks, fdatasync the data. */
static int cow_flush_start(struct disk *d, struct disk_req *r)
{
	struct disk_cow *c = &d->cow;
	size_t k = 0;

	for (size_t i = 0; i < c->nchunks; i++)
		k += c->dirty[i];
	if (k) {
		r->snap = malloc(k * COW_CHUNK);
		r->snap_idx = malloc(k * sizeof(*r->snap_idx));
		if (!r->snap || !r->snap_idx) {
			cow_free_snap(r);
			return -ENOMEM;
		}
		for (size_t i = 0; i < c->nchunks; i++) {
			if (!c->dirty[i])
				continue;
			memcpy((uint8_t *)r->snap + r->snap_n * COW_CHUNK,
			       c->bitmap + i * COW_CHUNK, COW_CHUNK);
			r->snap_idx[r->snap_n++] = (uint32_t)i;
			c->dirty[i] = 0;
		}
	}
	c->flush_active = true;
	r->phase = 1;
	sub_init(&r->sub, r, SUB_FSYNC, d->img.fd, 0, 0);
	r->pending = 1;
	disk_sub_start(d, &r->sub);
	return 0;
}

/* The active flush is over: start the next waiting one. */
static void cow_flush_next(struct disk *d)
{
	struct disk_cow *c = &d->cow;

	c->flush_active = false;
	while (!c->flush_active && c->flush_head) {
		struct disk_req *r = c->flush_head;
		c->flush_head = r->next;
		if (!c->flush_head)
			c->flush_tail = &c->flush_head;
		r->next = NULL;
		int ret = cow_flush_start(d, r);
		if (ret) {
			r->res = ret;
			disk_req_complete(d, r);
		}
	}
}

int disk_cow_submit(struct disk *d, struct disk_req *r)
{
	struct disk_cow *c = &d->cow;
	uint64_t off = c->data_off + r->off;
	struct disk_sub *s = &r->sub;

	switch (r->op) {
	case DISK_READ:
		return cow_read(d, r);
	case DISK_WRITE:
		sub_init(s, r, SUB_WRITEV, disk_pick_fd(d, &d->img, off, r->len, r->iov, r->niov),
			 off, r->len);
		s->iov = r->iov;
		s->niov = r->niov;
		break;
	case DISK_DISCARD:
	case DISK_WRITE_ZEROES:
		sub_init(s, r, SUB_FALLOC, d->img.fd, off, r->len);
		s->mode = r->op == DISK_WRITE_ZEROES && !r->unmap
			      ? FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE
			      : FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
		break;
	case DISK_FLUSH:
		if (c->flush_active) {
			r->next = NULL;
			*c->flush_tail = r;
			c->flush_tail = &r->next;
			return 0;
		}
		return cow_flush_start(d, r);
	}
	r->pending = 1;
	disk_sub_start(d, s);
	return 0;
}

/* Phase 1 done: write the snapshot, then fdatasync again (phase 2). Returns true when done. */
static bool cow_flush_phase(struct disk *d, struct disk_req *r)
{
	struct disk_cow *c = &d->cow;

	if (r->phase == 1 && !r->res && r->snap_n) {
		for (size_t i = 0; i < r->snap_n && !r->res; i++)
			r->res = pio(d->img.fd, (uint8_t *)r->snap + i * COW_CHUNK, COW_CHUNK,
				     c->bitmap_off + (uint64_t)r->snap_idx[i] * COW_CHUNK, true);
		if (!r->res) {
			r->phase = 2;
			sub_init(&r->sub, r, SUB_FSYNC, d->img.fd, 0, 0);
			r->pending = 1;
			disk_sub_start(d, &r->sub);
			return false;
		}
	}
	if (r->res)
		cow_redirty(c, r);
	cow_free_snap(r);
	cow_flush_next(d);
	return true;
}

bool disk_cow_finish(struct disk *d, struct disk_req *r)
{
	switch (r->op) {
	case DISK_WRITE:
	case DISK_DISCARD:
	case DISK_WRITE_ZEROES:
		if (!r->res)
			cow_set_bits(&d->cow, r->off, r->len);
		return true;
	case DISK_FLUSH:
		return cow_flush_phase(d, r);
	default:
		return true;
	}
}

int disk_cow_sync(struct disk *d)
{
	struct disk_cow *c = &d->cow;
	int ret = 0;

	if (fdatasync(d->img.fd) < 0)
		return -errno;
	for (size_t i = 0; i < c->nchunks && !ret; i++) {
		if (!c->dirty[i])
			continue;
		ret = pio(d->img.fd, c->bitmap + i * COW_CHUNK, COW_CHUNK,
			  c->bitmap_off + i * COW_CHUNK, true);
		if (!ret)
			c->dirty[i] = 0;
	}
	if (!ret && fdatasync(d->img.fd) < 0)
		ret = -errno;
	return ret;
}
