/* Disk back-end: opening images (raw files and block devices, overlays through disk_cow.c),
 * cache=none (O_DIRECT descriptors and their alignment probe), the engine set-up (io_uring with
 * its eventfd, or synchronous), closing, and the getters. See disk.h; the I/O paths are in
 * disk.c. */
#include "backend/disk_priv.h"
#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#define DISK_RING_ENTRIES 128u

void disk_set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* ---- files ---- */

int disk_file_size(int fd, const char *path, uint64_t *size, unsigned *phys, char *err,
		   size_t errlen)
{
	struct stat st;

	if (fstat(fd, &st) < 0) {
		int e = errno;
		disk_set_err(err, errlen, "%s: %s", path, strerror(e));
		return -e;
	}
	if (S_ISREG(st.st_mode)) {
		*size = (uint64_t)st.st_size;
	} else if (S_ISBLK(st.st_mode)) {
		if (ioctl(fd, BLKGETSIZE64, size) < 0) {
			int e = errno;
			disk_set_err(err, errlen, "%s: cannot get the device size: %s", path,
				     strerror(e));
			return -e;
		}
	} else {
		disk_set_err(err, errlen, "%s: not a regular file or block device", path);
		return -EINVAL;
	}
	if (*size % DISK_SECTOR) {
		disk_set_err(err, errlen,
			     "%s: size %llu bytes is not a multiple of %u (the sector size); "
			     "resize the image",
			     path, (unsigned long long)*size, DISK_SECTOR);
		return -EINVAL;
	}
	*phys = DISK_SECTOR;
	if (st.st_blksize >= 4096)
		*phys = 4096;
	return 0;
}

static int raw_open(struct disk *d, const struct disk_opts *o, char *err, size_t errlen)
{
	int fd = open(o->path, (o->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);

	if (fd < 0) {
		int e = errno;
		disk_set_err(err, errlen, "%s: %s%s", o->path, strerror(e),
			     !o->readonly && (e == EACCES || e == EROFS) ? " (use ro for read-only)"
									 : "");
		return -e;
	}
	d->img.fd = fd;
	return disk_file_size(fd, o->path, &d->size, &d->phys_block, err, errlen);
}

bool disk_probe_direct(struct disk *d, struct disk_file *f)
{
	uint8_t *buf = aligned_alloc(4096, 8192);
	bool ok = false;

	if (!buf)
		return false;
	/* 512 bytes at a 512-aligned (not 4096-aligned) address first, then a full 4 KiB. */
	if (pread(f->dfd, buf + 512, 512, 0) >= 0) {
		ok = true;
	} else if (errno == EINVAL && pread(f->dfd, buf, 4096, 0) >= 0) {
		d->align = 4096;
		ok = true;
	}
	free(buf);
	return ok;
}

/* cache=none: a second, O_DIRECT descriptor for each file; on any failure none at all. */
static void setup_direct(struct disk *d, const struct disk_opts *o)
{
	struct {
		struct disk_file *f;
		const char *path;
		int flags;
	} files[2] = {{&d->img, o->path, o->readonly ? O_RDONLY : O_RDWR},
		      {&d->cow.base, o->base, O_RDONLY}};
	unsigned n = d->cow_on ? 2 : 1;
	const char *why = NULL, *bad = NULL;

	for (unsigned i = 0; i < n && !why; i++) {
		files[i].f->dfd = open(files[i].path, files[i].flags | O_DIRECT | O_CLOEXEC);
		if (files[i].f->dfd < 0)
			why = strerror(errno);
		else if (!disk_probe_direct(d, files[i].f))
			why = "no aligned O_DIRECT read works";
		bad = files[i].path;
	}
	if (why) {
		log_warn("cache=none: %s does not support O_DIRECT (%s); using cache=writeback",
			 bad, why);
		for (unsigned i = 0; i < n; i++) {
			if (files[i].f->dfd >= 0)
				close(files[i].f->dfd);
			files[i].f->dfd = -1;
		}
		d->align = DISK_SECTOR;
		return;
	}
	d->direct = true;
}

static void setup_engine(struct disk *d, const struct disk_opts *o)
{
	int ret;

	if (o->sync_io) {
		log_info("disk %s: synchronous I/O (requested)", o->path);
		return;
	}
	ret = io_uring_queue_init(DISK_RING_ENTRIES, &d->ring, 0);
	if (ret < 0) {
		log_warn("disk %s: io_uring unavailable (%s); using synchronous I/O on the "
			 "event-loop thread",
			 o->path, strerror(-ret));
		return;
	}
	d->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ret = d->efd < 0 ? -errno : io_uring_register_eventfd(&d->ring, d->efd);
	if (ret < 0) {
		log_warn("disk %s: io_uring eventfd (%s); using synchronous I/O on the event-loop "
			 "thread",
			 o->path, strerror(-ret));
		if (d->efd >= 0)
			close(d->efd);
		d->efd = -1;
		io_uring_queue_exit(&d->ring);
		return;
	}
	d->uring_on = true;
}

int disk_open(const struct disk_opts *o, struct disk **out, char *err, size_t errlen)
{
	struct disk *d;
	int ret;

	*out = NULL;
	if (!o->path || !*o->path) {
		disk_set_err(err, errlen, "no image path");
		return -EINVAL;
	}
	d = calloc(1, sizeof(*d));
	if (!d) {
		disk_set_err(err, errlen, "out of memory");
		return -ENOMEM;
	}
	d->img.fd = d->img.dfd = d->cow.base.fd = d->cow.base.dfd = d->efd = -1;
	d->done_tail = &d->done_head;
	d->readonly = o->readonly;
	d->align = DISK_SECTOR;
	d->phys_block = DISK_SECTOR;
	ret = o->base ? disk_cow_open(d, o, err, errlen) : raw_open(d, o, err, errlen);
	if (ret) {
		disk_close(d);
		return ret;
	}
	if (o->cache == DISK_CACHE_NONE)
		setup_direct(d, o);
	setup_engine(d, o);
	*out = d;
	return 0;
}

void disk_close(struct disk *d)
{
	if (!d)
		return;
	disk_drain(d);
	if (d->cow_on && !d->readonly && disk_cow_sync(d))
		log_err("disk: could not write the overlay bitmap back");
	if (d->uring_on) {
		io_uring_unregister_eventfd(&d->ring);
		io_uring_queue_exit(&d->ring);
	}
	if (d->efd >= 0)
		close(d->efd);
	if (d->img.fd >= 0)
		close(d->img.fd);
	if (d->img.dfd >= 0)
		close(d->img.dfd);
	disk_cow_close(d);
	free(d->zeros);
	free(d);
}

uint64_t disk_size(const struct disk *d)
{
	return d->size;
}

unsigned disk_block_size(const struct disk *d)
{
	return d->direct ? d->align : DISK_SECTOR;
}

unsigned disk_phys_block_size(const struct disk *d)
{
	return d->phys_block > disk_block_size(d) ? d->phys_block : disk_block_size(d);
}

bool disk_readonly(const struct disk *d)
{
	return d->readonly;
}

const char *disk_engine(const struct disk *d)
{
	return d->uring_on ? "io_uring" : "sync";
}

int disk_event_fd(const struct disk *d)
{
	return d->uring_on ? d->efd : -1;
}

unsigned disk_inflight(const struct disk *d)
{
	return d->inflight;
}
