/* Host side of a virtual disk: a raw image file (or block device), or a copy-on-write overlay over
 * a read-only raw base (disk_cow.c, format described there), with asynchronous I/O through
 * io_uring and a synchronous fallback.
 *
 * Requests (struct disk_req) are owned by the caller and describe one operation on a byte range
 * of the virtual disk: READ/WRITE through an iovec array (host pointers, e.g. into guest memory
 * as mapped by the virtqueue code), FLUSH, DISCARD or WRITE_ZEROES. disk_submit queues the
 * operation; its `done` callback runs later, from disk_poll or disk_drain, never from inside
 * disk_submit. Operations are handed to the kernel by disk_kick (and at the end of disk_poll), so
 * a caller that submits several requests pays one io_uring_enter for all of them.
 *
 * Engines: io_uring (IORING_OP_READV/WRITEV, FSYNC with IORING_FSYNC_DATASYNC, FALLOCATE) with an
 * eventfd registered through io_uring_register_eventfd, which the owner watches in its event loop
 * (disk_event_fd) and answers with disk_poll. When io_uring cannot be set up (old kernel, seccomp,
 * RLIMIT_MEMLOCK) or opts.sync_io is set, every operation runs synchronously (preadv/pwritev,
 * fdatasync, fallocate) inside disk_submit's caller thread, and completes at the next disk_poll;
 * disk_event_fd is then -1. FLUSH is fdatasync; DISCARD is fallocate(PUNCH_HOLE|KEEP_SIZE);
 * WRITE_ZEROES is PUNCH_HOLE|KEEP_SIZE when unmap is allowed, else ZERO_RANGE. Where the
 * filesystem lacks them (EOPNOTSUPP: tmpfs has no ZERO_RANGE), WRITE_ZEROES falls back to
 * PUNCH_HOLE and then to writing zeros, and DISCARD (only a hint) succeeds without effect.
 *
 * cache=none opens the images with O_DIRECT as well (a second descriptor; the buffered one stays
 * for accesses that are not aligned). The alignment O_DIRECT wants is probed at open (512 or 4096
 * bytes). A request whose offset and length are aligned but whose buffers are not goes through an
 * aligned bounce buffer; one whose offset or length is not aligned uses the buffered descriptor.
 * A filesystem that refuses O_DIRECT (open fails with EINVAL, or no probe read works) falls back
 * to cache=writeback with a warning.
 *
 * Short transfers are continued; a read that hits end of file before the range ends fails with
 * -EIO. Host errors complete the request with -errno; they never abort.
 *
 * Locking: a disk has no lock. Its owner serialises every call (virtio-blk calls everything with
 * its device lock held); the calls may come from different threads. */
#ifndef VMON_BACKEND_DISK_H
#define VMON_BACKEND_DISK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define DISK_SECTOR 512u

enum disk_cache { DISK_CACHE_WRITEBACK = 0, DISK_CACHE_NONE = 1 };

struct disk_opts {
	const char *path; /* the image, or the overlay when base is set */
	const char *base; /* NULL, or the raw base image of a copy-on-write overlay (read-only) */
	bool readonly;	  /* open read-only; writes are refused with -EROFS */
	enum disk_cache cache;
	bool sync_io; /* do not try io_uring (tests, benchmarks) */
};

enum disk_op { DISK_READ, DISK_WRITE, DISK_FLUSH, DISK_DISCARD, DISK_WRITE_ZEROES };

struct disk;
struct disk_req;

/* One operation handed to the kernel (or run synchronously). Private to the disk code. */
struct disk_sub {
	struct disk_req *req;
	uint8_t kind; /* SUB_* in disk_priv.h */
	int fd;
	int mode; /* fallocate mode */
	uint64_t off, len;
	struct iovec *iov;
	unsigned niov;
	struct iovec ziov; /* writing zeros where fallocate is not supported */
};

struct disk_req {
	/* Filled in by the caller. off and len are bytes, multiples of DISK_SECTOR, inside the
	 * disk (not looked at for FLUSH). The iov array (niov entries, READ/WRITE) must stay valid
	 * until done runs; the disk may modify the array (not what it points at, for WRITE). */
	enum disk_op op;
	uint64_t off, len;
	struct iovec *iov;
	unsigned niov;
	bool unmap;				   /* WRITE_ZEROES: the range may be deallocated */
	void (*done)(struct disk_req *r, int res); /* res: 0 or -errno */

	/* Private. */
	struct disk_req *next;
	int pending; /* sub-operations not completed */
	int res;
	unsigned phase; /* overlay flush state */
	void *bounce;	/* O_DIRECT bounce buffer, len bytes */
	struct iovec bounce_iov;
	struct iovec *orig_iov; /* the caller's iovecs while bouncing */
	unsigned orig_niov;
	struct disk_sub sub;   /* the single sub-operation of most requests */
	struct disk_sub *subs; /* allocated when one request needs several (overlay reads) */
	struct iovec *slices;  /* iovec pieces of those */
	void *snap;	       /* overlay flush: snapshot of the bitmap chunks being written */
	uint32_t *snap_idx;
	size_t snap_n;
};

/* Open the image described by o. On failure returns -errno and writes a one-line reason (for the
 * user) into err: a missing file, a size that is not a multiple of 512 bytes, a file that is
 * neither a regular file nor a block device, a bad or mismatched overlay. */
int disk_open(const struct disk_opts *o, struct disk **out, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Wait for every request in flight (completing them), write an overlay's bitmap back, close. */
void disk_close(struct disk *d);

/* Size of the virtual disk in bytes (a multiple of DISK_SECTOR). */
uint64_t disk_size(const struct disk *d);

/* The logical block size the image prefers (DISK_SECTOR, or the O_DIRECT alignment with
 * cache=none) and the physical block size (for the topology the guest sees). */
unsigned disk_block_size(const struct disk *d);
unsigned disk_phys_block_size(const struct disk *d);

bool disk_readonly(const struct disk *d);

/* "io_uring" or "sync". */
const char *disk_engine(const struct disk *d);

/* The eventfd that becomes readable when completions are ready (io_uring), or -1 (sync engine). */
int disk_event_fd(const struct disk *d);

/* Queue r. Returns 0 (r->done will run from disk_poll or disk_drain), or -EINVAL for a range
 * outside the disk or not sector-aligned, -EROFS for a write to a read-only disk, -ENOMEM; done
 * is then not called and nothing was started. */
int disk_submit(struct disk *d, struct disk_req *r) __attribute__((warn_unused_result));

/* Hand queued operations to the kernel. */
void disk_kick(struct disk *d);

/* Reap what completed without waiting (reading the eventfd first), run the done callbacks of the
 * requests that finished, then kick. Callbacks may submit new requests. */
void disk_poll(struct disk *d);

/* Wait until no request is in flight, running every done callback. */
void disk_drain(struct disk *d);

/* Requests submitted whose done callback has not run yet. */
unsigned disk_inflight(const struct disk *d);

#endif
