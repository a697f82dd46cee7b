/* Host-side cost of virtio-blk requests, measured without a guest: the device is driven through
 * the virtio-mmio transport and a split virtqueue laid out in fake guest memory, against a temp
 * file (in the page cache after the first pass), the way a driver would: publish a batch of
 * requests, notify, wait for the completions (virtio_blk_drain), read the used ring.
 *
 * Prints, for each engine (io_uring, sync) and cache mode (writeback, none when the filesystem
 * takes O_DIRECT): ns per 4 KiB read request at queue depth 1 and 32 (random sectors), and MiB/s
 * for 64 KiB sequential reads and writes at queue depth 16.
 *
 * Build and run:  make build/bench/blk_host && build/bench/blk_host [-s SECONDS_PER_CASE]
 * The file is made in $TMPDIR (default /tmp): 64 MiB, removed at the end. */
#include <endian.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/gmem.h"
#include "core/log.h"
#include "virtio/virtio_blk.h"
#include "virtio/virtio_mmio.h"
#include "virtq_builder.h"

#define FILE_SIZE (64ull << 20)
#define MEM_SIZE (16ull << 20)
#define QSIZE 256u
#define DESC 0x0ull
#define AVAIL 0x1000ull
#define USED 0x2000ull
#define HDRS 0x4000ull	 /* 16 bytes per slot */
#define STATUS 0x5000ull /* 1 byte per slot */
#define DATA 0x100000ull /* 64 KiB per slot */
#define SLOTS 32u

struct bench {
	uint8_t *mem;
	struct gmem gm;
	struct virtio_blk *blk;
	struct virtio_mmio *m;
	struct vqb q; /* the driver's side of the queue */
	uint64_t rng;
};

static void irq_set(void *ctx, unsigned gsi, int level)
{
}

static void notify_cb(void *ctx, unsigned q)
{
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int setup(struct bench *b, const char *path, bool sync_io, enum disk_cache cache)
{
	struct virtio_blk_opts o = {.path = (char *)path, .sync_io = sync_io, .cache = cache};
	struct irq_line irq = {irq_set, NULL, 5};
	char err[256];

	memset(b->mem, 0, 0x6000);
	vqb_init(&b->q, &b->gm, QSIZE, DESC, AVAIL, USED);
	if (virtio_blk_create(&o, &b->gm, NULL, &b->blk, err, sizeof(err))) {
		fprintf(stderr, "blk_host: %s\n", err);
		return -1;
	}
	if (virtio_mmio_create(virtio_blk_dev(b->blk), irq, notify_cb, NULL, &b->m))
		return -1;
	mmio_negotiate(b->m, VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_F_EVENT_IDX));
	mmio_setup_queue(b->m, 0, &b->q);
	mmio_driver_ok(b->m);
	return 0;
}

static void teardown(struct bench *b)
{
	virtio_mmio_destroy(b->m);
	virtio_blk_destroy(b->blk);
}

/* Lay out request slot s: type, sector, len bytes of data. */
static void slot(struct bench *b, unsigned s, uint32_t type, uint64_t sector, uint32_t len)
{
	uint8_t h[16] = {0};
	uint32_t t = htole32(type);
	uint64_t sec = htole64(sector);
	bool in = type == VIRTIO_BLK_T_IN;

	memcpy(h, &t, 4);
	memcpy(h + 8, &sec, 8);
	memcpy(b->mem + HDRS + 16ull * s, h, 16);
	vqb_write_desc(&b->q, 3 * s, HDRS + 16ull * s, 16, VIRTQ_DESC_F_NEXT,
		       (uint16_t)(3 * s + 1));
	vqb_write_desc(&b->q, 3 * s + 1, DATA + 0x10000ull * s, len,
		       (uint16_t)(VIRTQ_DESC_F_NEXT | (in ? VIRTQ_DESC_F_WRITE : 0)),
		       (uint16_t)(3 * s + 2));
	vqb_write_desc(&b->q, 3 * s + 2, STATUS + s, 1, VIRTQ_DESC_F_WRITE, 0);
	vqb_put_head(&b->q, b->q.avail_idx++, (uint16_t)(3 * s));
}

/* Publish what slot() laid out, notify, wait; returns false on a failed request. */
static bool run(struct bench *b, unsigned n)
{
	vqb_set_avail_idx(&b->q, b->q.avail_idx);
	while (virtio_dev_notify(virtio_blk_dev(b->blk), 0))
		;
	virtio_blk_drain(b->blk);
	if (vqb_used_idx(&b->q) != b->q.avail_idx)
		return false;
	for (unsigned s = 0; s < n; s++)
		if (b->mem[STATUS + s] != VIRTIO_BLK_S_OK)
			return false;
	return true;
}

static uint64_t rnd(struct bench *b)
{
	b->rng ^= b->rng << 13;
	b->rng ^= b->rng >> 7;
	b->rng ^= b->rng << 17;
	return b->rng;
}

/* ns per request for 4 KiB random reads at queue depth qd. */
static double bench_4k(struct bench *b, unsigned qd, double secs)
{
	uint64_t reqs = 0;
	double t0 = now(), t;

	do {
		for (unsigned s = 0; s < qd; s++)
			slot(b, s, VIRTIO_BLK_T_IN, rnd(b) % (FILE_SIZE / 4096) * 8, 4096);
		if (!run(b, qd))
			return -1;
		reqs += qd;
		t = now();
	} while (t - t0 < secs);
	return (t - t0) * 1e9 / (double)reqs;
}

/* MiB/s for 64 KiB sequential requests at queue depth 16. */
static double bench_seq(struct bench *b, uint32_t type, double secs)
{
	uint64_t bytes = 0, sector = 0;
	double t0 = now(), t;

	do {
		for (unsigned s = 0; s < 16; s++) {
			slot(b, s, type, sector, 65536);
			sector = (sector + 128) % (FILE_SIZE / 512);
		}
		if (!run(b, 16))
			return -1;
		bytes += 16ull * 65536;
		t = now();
	} while (t - t0 < secs);
	return (double)bytes / (1 << 20) / (t - t0);
}

int main(int argc, char **argv)
{
	struct bench b = {.rng = 0x9e3779b97f4a7c15ull};
	const char *tmp = getenv("TMPDIR");
	char path[256];
	double secs = 1.0;
	int fd;

	if (argc == 3 && !strcmp(argv[1], "-s"))
		secs = atof(argv[2]);
	else if (argc != 1) {
		fprintf(stderr, "usage: %s [-s SECONDS_PER_CASE]\n", argv[0]);
		return 2;
	}
	log_set_level(LOG_ERROR);
	snprintf(path, sizeof(path), "%s/vmon-blk-bench.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	fd = mkstemp(path);
	if (fd < 0) {
		perror("mkstemp");
		return 1;
	}
	b.mem = aligned_alloc(4096, MEM_SIZE);
	if (!b.mem || gmem_add_region(&b.gm, 0, MEM_SIZE, b.mem))
		return 1;
	memset(b.mem, 0x5a, MEM_SIZE);
	for (uint64_t off = 0; off < FILE_SIZE; off += 1 << 20)
		if (pwrite(fd, b.mem, 1 << 20, (off_t)off) != 1 << 20) {
			perror("pwrite");
			return 1;
		}
	fsync(fd);
	close(fd);

	printf("virtio-blk host-side cost, %s (64 MiB file, page cache), %.1f s per case\n", path,
	       secs);
	printf("%-10s %-10s %14s %14s %14s %14s\n", "engine", "cache", "4K QD1 ns/req",
	       "4K QD32 ns/req", "64K rd MiB/s", "64K wr MiB/s");
	for (int e = 0; e < 2; e++) {
		for (int c = 0; c < 2; c++) {
			if (setup(&b, path, e == 1, c ? DISK_CACHE_NONE : DISK_CACHE_WRITEBACK))
				return 1;
			const char *eng = virtio_blk_engine(b.blk);
			double qd1 = bench_4k(&b, 1, secs), qd32 = bench_4k(&b, 32, secs);
			double rdm = bench_seq(&b, VIRTIO_BLK_T_IN, secs);
			double wrm = bench_seq(&b, VIRTIO_BLK_T_OUT, secs);
			printf("%-10s %-10s %14.0f %14.0f %14.0f %14.0f\n", eng,
			       c ? "none" : "writeback", qd1, qd32, rdm, wrm);
			teardown(&b);
		}
	}
	unlink(path);
	gmem_destroy(&b.gm);
	free(b.mem);
	return 0;
}
