/* libFuzzer harness: the virtio block device (src/virtio/virtio_blk.c) and its disk back-end
 * (src/backend/: raw images, vmoncow overlays, io_uring and synchronous engines, O_DIRECT bounce
 * buffers) driven as a hostile guest would, through the virtio-mmio transport and a split
 * virtqueue laid out in fake guest memory from the input.
 *
 * Each run creates a fresh device over a 64 KiB disk file in a scratch directory (refilled with a
 * fixed pattern every run; tmpfs under /dev/shm when there is one, so that FLUSH costs nothing),
 * optionally as an overlay over a 64 KiB base, read-only, with cache=none and/or io_uring.
 * Guest RAM is two adjacent 64 KiB regions at 0 and 0x10000 (buffers may cross between them);
 * anything above 0x20000 is not RAM. The queue lives at desc 0x0, avail 0x1000, used 0x2000.
 *
 * Input: a 3-byte header, then operations until the input ends (little-endian operands; the
 * opcode is the first byte modulo OP_COUNT; fuzz/gen_blk_seeds.py writes the same encoding):
 *   header   flags u8 (1 read-only, 2 overlay, 4 io_uring, 8 cache=none, 16 no EVENT_IDX,
 *            32 no INDIRECT_DESC), log2 of the queue size u8 (mod 9), spare u8
 *   0 POKE   off u16, len u8, bytes              guest memory at 2 * off (not the used ring)
 *   1 DESC   table u8 (0: queue, 1: indirect table at 0x3000), idx u8, addr u32, len u32,
 *            flags u8, next u8                    one descriptor; addr >= 0x80000000 and len
 *                                                 >= 0x80000000 are used as given, smaller ones
 *                                                 mod 0x24000 so most land in RAM (moved when
 *                                                 they would overlap the used ring)
 *   2 AVAIL  head u16                              publish head (ring slot, then idx + 1)
 *   3 IDX    idx u16                               set avail idx as given
 *   4 NOTIFY                                      virtio_dev_notify until it reports no work
 *   5 POLL                                        virtio_blk_poll
 *   6 DRAIN                                       virtio_blk_drain
 *   7 REQ    type u8, sector u16, nsect u8, nseg u8, status writable u8
 *            a plausible request: header at 0x4000, nseg data segments over 0x8000.., status
 *            byte at 0x5000; chained in the queue from descriptor 0 and published
 *   8 RESET                                       status 0, then the queue set up again
 *   9 ROUND                                       drain, save, load into a fresh device, save
 *  10 CONFIG off u8, size u8                      config space read through the transport
 *  11 FLAGS  flags u16                             avail flags, used_event
 *
 * Invariants checked (beyond ASan/UBSan): after a drain the device saves (nothing in flight) and
 * a fresh device on the same disk loads that state and saves it back identically; the base of an
 * overlay, and the image of a read-only disk, are byte-for-byte unchanged at the end; each used
 * entry names a head inside the queue (POKE and the mapped DESC buffers never reach the used
 * ring); NEEDS_RESET, once set,
 * stays until a reset. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/gmem.h"
#include "fuzz_input.h"
#include "fuzz_virtio.h"
#include "virtio/virtio_blk.h"
#include "virtio/virtio_mmio.h"
#include "virtq_builder.h"

enum {
	OP_POKE,
	OP_DESC,
	OP_AVAIL,
	OP_IDX,
	OP_NOTIFY,
	OP_POLL,
	OP_DRAIN,
	OP_REQ,
	OP_RESET,
	OP_ROUND,
	OP_CONFIG,
	OP_FLAGS,
	OP_COUNT
};

#define DESC_GPA 0x0u
#define AVAIL_GPA 0x1000u
#define USED_GPA 0x2000u
#define ITABLE_GPA 0x3000u
#define HDR_GPA 0x4000u
#define STATUS_GPA 0x5000u
#define DATA_GPA 0x8000u
#define DISK_BYTES 0x10000u
#define MAX_OPS 256

static uint8_t *mem; /* FZV_MEM_SIZE bytes, page aligned: the two regions */
static struct gmem gm;
static char dir[64], img[96], basef[96];
static uint8_t pattern[DISK_BYTES];

struct run {
	struct virtio_blk_opts o;
	struct virtio_blk *blk;
	struct virtio_mmio *m;
	uint32_t qsize;
	uint64_t features;
	struct vqb q; /* the driver's side of queue 0 (its avail idx shadow) */
	int irq;
};

static void irq_set(void *ctx, unsigned gsi, int level)
{
	((struct run *)ctx)->irq = level;
}

static void notify_cb(void *ctx, unsigned q)
{
}

/* Bring the device up: features, queue 0, DRIVER_OK. */
static void bring_up(struct run *r)
{
	mmio_wr(r->m, VIRTIO_MMIO_STATUS, 0);
	memset(mem, 0, 0x3000); /* the rings */
	vqb_init(&r->q, &gm, r->qsize, DESC_GPA, AVAIL_GPA, USED_GPA);
	mmio_negotiate(r->m, r->features);
	mmio_setup_queue(r->m, 0, &r->q);
	mmio_driver_ok(r->m);
}

static int make_dev(struct run *r, struct virtio_blk **blk, struct virtio_mmio **m)
{
	struct irq_line irq = {irq_set, r, 5};
	char err[256];

	if (virtio_blk_create(&r->o, &gm, NULL, blk, err, sizeof(err))) {
		fprintf(stderr, "fuzz: virtio_blk_create: %s\n", err);
		abort();
	}
	FZ_CHECK(virtio_mmio_create(virtio_blk_dev(*blk), irq, notify_cb, r, m) == 0, "mmio");
	return 0;
}

static void write_file(const char *path, const uint8_t *buf, size_t len)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	FZ_CHECK(fd >= 0 && pwrite(fd, buf, len, 0) == (ssize_t)len, "cannot write %s", path);
	close(fd);
}

static bool file_is(const char *path, const uint8_t *buf, size_t len)
{
	static uint8_t tmp[DISK_BYTES + 1];
	int fd = open(path, O_RDONLY);
	ssize_t n = fd >= 0 ? pread(fd, tmp, sizeof(tmp), 0) : -1;
	if (fd >= 0)
		close(fd);
	return n == (ssize_t)len && !memcmp(tmp, buf, len);
}

/* A plausible request from the descriptors 0.. of the queue. */
static void op_req(struct run *r, struct fz_in *in)
{
	static const uint32_t types[] = {VIRTIO_BLK_T_IN,
					 VIRTIO_BLK_T_OUT,
					 VIRTIO_BLK_T_FLUSH,
					 VIRTIO_BLK_T_GET_ID,
					 VIRTIO_BLK_T_DISCARD,
					 VIRTIO_BLK_T_WRITE_ZEROES,
					 77};
	uint32_t type = types[fz_u8(in) % 7];
	uint64_t sector = fz_u16(in) % 200;
	uint32_t nsect = fz_u8(in) % 40, nseg = fz_u8(in) % 4 + 1, swr = fz_u8(in) & 1;
	bool in_dir = type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID;
	uint8_t h[16] = {0};
	unsigned d = 0, q = r->qsize;

	if (nseg + 2 > q)
		return;
	memcpy(h, &type, 4);
	memcpy(h + 8, &sector, 8);
	memcpy(mem + HDR_GPA, h, 16);
	vqb_write_desc(&r->q, d, HDR_GPA, 16, VIRTQ_DESC_F_NEXT, (uint16_t)(d + 1));
	d++;
	if (type == VIRTIO_BLK_T_DISCARD || type == VIRTIO_BLK_T_WRITE_ZEROES) {
		uint32_t num = nsect, flags = type == VIRTIO_BLK_T_WRITE_ZEROES ? nseg & 1 : 0;
		memcpy(mem + DATA_GPA, &sector, 8);
		memcpy(mem + DATA_GPA + 8, &num, 4);
		memcpy(mem + DATA_GPA + 12, &flags, 4);
		vqb_write_desc(&r->q, d, DATA_GPA, 16, VIRTQ_DESC_F_NEXT, (uint16_t)(d + 1));
		d++;
	} else if (type != VIRTIO_BLK_T_FLUSH) {
		uint32_t total = type == VIRTIO_BLK_T_GET_ID ? 20 : nsect * 512;
		uint32_t per = total / nseg;
		for (unsigned i = 0; i < nseg; i++) {
			uint32_t len = i + 1 < nseg ? per : total - per * (nseg - 1);
			/* Odd addresses, and the last segment across the region boundary. */
			uint64_t a = i + 1 < nseg ? DATA_GPA + 0x1001ull * i : FZV_REGION - len / 2;
			vqb_write_desc(
			    &r->q, d, a, len,
			    (uint16_t)(VIRTQ_DESC_F_NEXT | (in_dir ? VIRTQ_DESC_F_WRITE : 0)),
			    (uint16_t)(d + 1));
			d++;
		}
	}
	vqb_write_desc(&r->q, d, STATUS_GPA, 1, swr ? VIRTQ_DESC_F_WRITE : 0, 0);
	mem[STATUS_GPA] = 0xee;
	vqb_publish(&r->q, 0);
}

static void op_round(struct run *r)
{
	static struct virtio_mmio_state a, b;
	struct virtio_blk *blk2;
	struct virtio_mmio *m2;

	FZ_CHECK(virtio_blk_drain(r->blk) == 0, "drain");
	FZ_CHECK(virtio_mmio_save(r->m, &a) == 0, "save after drain failed");
	make_dev(r, &blk2, &m2);
	FZ_CHECK(virtio_mmio_load(m2, &a) == 0, "a fresh device refused the saved state");
	FZ_CHECK(virtio_mmio_save(m2, &b) == 0, "save of the loaded device");
	FZ_CHECK(!memcmp(&a, &b, sizeof(a)), "state differs after load");
	/* Continue on the new device (the old one is gone, as after a restore). */
	virtio_mmio_destroy(r->m);
	virtio_blk_destroy(r->blk);
	r->blk = blk2;
	r->m = m2;
}

/* The scratch directory goes when the fuzzer exits normally. */
static void cleanup(void)
{
	unlink(img);
	unlink(basef);
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct stat st;
	const char *tmp = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) ? "/dev/shm" : "/tmp";

	(void)argc;
	(void)argv;
	fz_log_setup();
	snprintf(dir, sizeof(dir), "%s/vmon-fuzz-blk.XXXXXX", tmp);
	FZ_CHECK(mkdtemp(dir), "mkdtemp");
	snprintf(img, sizeof(img), "%s/disk.img", dir);
	snprintf(basef, sizeof(basef), "%s/base.img", dir);
	atexit(cleanup);
	for (unsigned i = 0; i < DISK_BYTES; i++)
		pattern[i] = (uint8_t)(i * 7 + i / 512 + 1);
	mem = fzv_mem_init(&gm);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_in in = fz_init(data, size);
	struct run r = {0};
	uint8_t flags = fz_u8(&in);
	unsigned ops = 0;
	bool needs_reset = false;

	r.qsize = 1u << (fz_u8(&in) % 9);
	fz_u8(&in);
	memset(mem, 0, FZV_MEM_SIZE);
	r.o.path = img;
	r.o.readonly = flags & 1;
	r.o.sync_io = !(flags & 4);
	r.o.cache = flags & 8 ? DISK_CACHE_NONE : DISK_CACHE_WRITEBACK;
	r.o.serial = "fuzz-serial";
	if (flags & 2) {
		r.o.base = basef;
		write_file(basef, pattern, DISK_BYTES);
		unlink(img);
		if (r.o.readonly) { /* a read-only overlay must exist: make one first */
			r.o.readonly = false;
			make_dev(&r, &r.blk, &r.m);
			virtio_mmio_destroy(r.m);
			virtio_blk_destroy(r.blk);
			r.o.readonly = true;
		}
	} else {
		write_file(img, pattern, DISK_BYTES);
	}
	r.features = VIRTIO_BIT(VIRTIO_F_VERSION_1) |
		     (flags & 16 ? 0 : VIRTIO_BIT(VIRTIO_F_EVENT_IDX)) |
		     (flags & 32 ? 0 : VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC)) |
		     VIRTIO_BIT(VIRTIO_BLK_F_FLUSH) | VIRTIO_BIT(VIRTIO_BLK_F_SEG_MAX);
	if (!r.o.readonly)
		r.features |=
		    VIRTIO_BIT(VIRTIO_BLK_F_DISCARD) | VIRTIO_BIT(VIRTIO_BLK_F_WRITE_ZEROES);
	make_dev(&r, &r.blk, &r.m);
	bring_up(&r);

	while (fz_left(&in) && ops++ < MAX_OPS) {
		switch (fz_u8(&in) % OP_COUNT) {
		case OP_POKE:
			fzv_poke(&in, mem, &r.q, 1);
			break;
		case OP_DESC: {
			uint64_t table = fz_u8(&in) & 1 ? ITABLE_GPA : DESC_GPA;
			unsigned idx = fz_u8(&in) % (table == DESC_GPA ? r.qsize : 64);
			uint32_t addr = fz_u32(&in), len = fz_u32(&in);
			uint16_t fl = fz_u8(&in) & 7, next = fz_u8(&in);
			if (addr < 0x80000000u)
				addr %= 0x24000u;
			if (len < 0x80000000u)
				len %= 0x24000u;
			/* Keep buffers out of the used ring, so fzv_check_used sees only the
			 * device's entries (a buffer there is legal, it just makes the ring
			 * garbage). */
			if (addr < 0x80000000u && len < 0x80000000u && addr < USED_GPA + 0x1000 &&
			    (uint64_t)addr + len > USED_GPA)
				addr = DATA_GPA + addr % 0x1000;
			vqb_write_desc_at(&gm, table, idx, addr, len, fl, next);
			break;
		}
		case OP_AVAIL:
			vqb_publish(&r.q, fz_u16(&in));
			break;
		case OP_IDX:
			vqb_set_avail_idx(&r.q, fz_u16(&in));
			break;
		case OP_NOTIFY:
			for (int i = 0; i < 16 && virtio_dev_notify(virtio_blk_dev(r.blk), 0); i++)
				;
			break;
		case OP_POLL:
			virtio_blk_poll(r.blk);
			break;
		case OP_DRAIN:
			FZ_CHECK(virtio_blk_drain(r.blk) == 0, "drain");
			break;
		case OP_REQ:
			op_req(&r, &in);
			break;
		case OP_RESET:
			bring_up(&r);
			needs_reset = false;
			break;
		case OP_ROUND:
			op_round(&r);
			break;
		case OP_CONFIG: {
			uint32_t off = fz_u8(&in) % 72;
			unsigned sz = 1u << (fz_u8(&in) % 3);
			(void)virtio_mmio_ops.read(r.m, VIRTIO_MMIO_CONFIG + off, sz);
			break;
		}
		case OP_FLAGS: {
			uint16_t v = fz_u16(&in);
			vqb_set_avail_flags(&r.q, v & 1);
			vqb_set_used_event(&r.q, v);
			break;
		}
		}
		fzv_check_needs_reset(r.m, &needs_reset);
		fzv_check_used(&r.q, 0);
	}
	FZ_CHECK(virtio_blk_drain(r.blk) == 0, "drain");
	{
		static struct virtio_mmio_state st;
		FZ_CHECK(virtio_mmio_save(r.m, &st) == 0, "save after the final drain failed");
	}
	virtio_mmio_destroy(r.m);
	virtio_blk_destroy(r.blk);
	if (r.o.base)
		FZ_CHECK(file_is(basef, pattern, DISK_BYTES), "the overlay's base changed");
	else if (r.o.readonly)
		FZ_CHECK(file_is(img, pattern, DISK_BYTES), "a read-only image changed");
	return 0;
}
