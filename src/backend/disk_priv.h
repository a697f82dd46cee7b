/* Internals shared by disk.c (files, engines, requests) and disk_cow.c (the overlay format). */
#ifndef VMON_BACKEND_DISK_PRIV_H
#define VMON_BACKEND_DISK_PRIV_H

#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>

#include "backend/disk.h"

enum { SUB_READV, SUB_WRITEV, SUB_FSYNC, SUB_FALLOC, SUB_ZERO };

#define DISK_ZERO_CHUNK (1u << 20) /* bytes of zeros written per operation (SUB_ZERO) */

/* One open image file: the buffered descriptor, and the O_DIRECT one with cache=none (else -1). */
struct disk_file {
	int fd;
	int dfd;
};

/* The copy-on-write state (disk_cow.c). */
struct disk_cow {
	struct disk_file base;
	uint64_t data_off;   /* where sector 0 lives in the overlay file */
	uint64_t bitmap_off; /* where the bitmap lives in the overlay file */
	uint64_t bitmap_len; /* bytes, a multiple of COW_CHUNK */
	uint8_t *bitmap;     /* bit s set: sector s is in the overlay */
	uint8_t *dirty;	     /* one byte per COW_CHUNK of bitmap not yet written back */
	size_t nchunks;
	bool flush_active;	     /* a flush is between its phases */
	struct disk_req *flush_head; /* flushes waiting for it, in order */
	struct disk_req **flush_tail;
};

struct disk {
	struct disk_file img; /* the raw image, or the overlay */
	bool cow_on;
	struct disk_cow cow;
	uint64_t size;
	bool readonly;
	bool direct;	/* cache=none is in effect */
	unsigned align; /* O_DIRECT alignment of offsets, lengths and memory */
	unsigned phys_block;

	bool uring_on;
	struct io_uring ring;
	int efd;
	unsigned queued; /* SQEs prepared but not submitted */

	uint8_t *zeros; /* DISK_ZERO_CHUNK zero bytes, allocated when first needed */

	unsigned inflight;	    /* requests whose done has not run */
	struct disk_req *done_head; /* finished, done not called yet */
	struct disk_req **done_tail;
};

/* Format a one-line reason into err (may be NULL). */
void disk_set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Size of an open regular file or block device (a multiple of DISK_SECTOR, else -EINVAL) and its
 * physical block size; -errno with a reason in err. */
int disk_file_size(int fd, const char *path, uint64_t *size, unsigned *phys, char *err,
		   size_t errlen);

/* Start one sub-operation of its request (r->pending counts it already). */
void disk_sub_start(struct disk *d, struct disk_sub *s);

/* The buffered or the O_DIRECT descriptor of f for an access of [off, off+len) through iov. */
int disk_pick_fd(const struct disk *d, const struct disk_file *f, uint64_t off, uint64_t len,
		 const struct iovec *iov, unsigned niov);

/* The request finished all its sub-operations (res in r->res): hand it to the done list. */
void disk_req_complete(struct disk *d, struct disk_req *r);

/* Probe O_DIRECT on f (opened by the caller) and set d->align; false when unusable. */
bool disk_probe_direct(struct disk *d, struct disk_file *f);

/* ---- disk_cow.c ---- */

/* Open (or create, when path is missing or empty and the disk is writable) the overlay o->path
 * over o->base into d: sets d->img, d->cow, d->size. Returns 0 or -errno with a reason in err. */
int disk_cow_open(struct disk *d, const struct disk_opts *o, char *err, size_t errlen);

/* Start r (already validated) on an overlay: returns 0 or -ENOMEM. */
int disk_cow_submit(struct disk *d, struct disk_req *r);

/* All sub-operations of r on an overlay are done: update the bitmap or run the next flush phase.
 * Returns true when r is finished. */
bool disk_cow_finish(struct disk *d, struct disk_req *r);

/* Write every dirty bitmap chunk back and fdatasync (close). Returns 0 or -errno. */
int disk_cow_sync(struct disk *d);

void disk_cow_close(struct disk *d);

#endif
