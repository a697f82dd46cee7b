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

#define ITABLE_GPA 0x3000u
#define HDR_GPA 0x4000u
#define STATUS_GPA 0x5000u
#define DATA_GPA 0x8000u
#define DISK_BYTES 0x10000u

static uint8_t *mem; /* FZV_MEM_SIZE bytes, page aligned: the two regions */
static struct gmem gm;
static char dir[64], img[96], basef[96];
static uint8_t pattern[DISK_BYTES];

struct run {
	struct fzv
	    v; /* the device is a struct virtio_blk; v.q[0] is the driver's side of queue 0 */
	struct virtio_blk_opts o;
};

static void *create(struct fzv *v, struct virtio_dev **vdev)
{
	struct virtio_blk *blk;
	char err[256];

	if (virtio_blk_create(&FZV_OUTER(v, struct run)->o, &gm, NULL, &blk, err, sizeof(err))) {
		fprintf(stderr, "fuzz: virtio_blk_create: %s\n", err);
		abort();
	}
	*vdev = virtio_blk_dev(blk);
	return blk;
}

static void destroy(void *blk)
{
	virtio_blk_destroy(blk);
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
static void op_req(struct fzv *v, struct fz_in *in)
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
	struct vqb *vq = &v->q[0];
	unsigned d = 0, q = v->qsize;

	if (nseg + 2 > q)
		return;
	memcpy(h, &type, 4);
	memcpy(h + 8, &sector, 8);
	memcpy(mem + HDR_GPA, h, 16);
	vqb_write_desc(vq, d, HDR_GPA, 16, VIRTQ_DESC_F_NEXT, (uint16_t)(d + 1));
	d++;
	if (type == VIRTIO_BLK_T_DISCARD || type == VIRTIO_BLK_T_WRITE_ZEROES) {
		uint32_t num = nsect, flags = type == VIRTIO_BLK_T_WRITE_ZEROES ? nseg & 1 : 0;
		memcpy(mem + DATA_GPA, &sector, 8);
		memcpy(mem + DATA_GPA + 8, &num, 4);
		memcpy(mem + DATA_GPA + 12, &flags, 4);
		vqb_write_desc(vq, d, DATA_GPA, 16, VIRTQ_DESC_F_NEXT, (uint16_t)(d + 1));
		d++;
	} else if (type != VIRTIO_BLK_T_FLUSH) {
		uint32_t total = type == VIRTIO_BLK_T_GET_ID ? 20 : nsect * 512;
		uint32_t per = total / nseg;
		for (unsigned i = 0; i < nseg; i++) {
			uint32_t len = i + 1 < nseg ? per : total - per * (nseg - 1);
			/* Odd addresses, and the last segment across the region boundary. */
			uint64_t a = i + 1 < nseg ? DATA_GPA + 0x1001ull * i : FZV_REGION - len / 2;
			vqb_write_desc(
			    vq, d, a, len,
			    (uint16_t)(VIRTQ_DESC_F_NEXT | (in_dir ? VIRTQ_DESC_F_WRITE : 0)),
			    (uint16_t)(d + 1));
			d++;
		}
	}
	vqb_write_desc(vq, d, STATUS_GPA, 1, swr ? VIRTQ_DESC_F_WRITE : 0, 0);
	mem[STATUS_GPA] = 0xee;
	vqb_publish(vq, 0);
}

static void own(struct fzv *v, unsigned op, struct fz_in *in)
{
	switch (op) {
	case OP_AVAIL:
		vqb_publish(&v->q[0], fz_u16(in));
		break;
	case OP_POLL:
		virtio_blk_poll(v->dev);
		break;
	case OP_DRAIN:
		FZ_CHECK(virtio_blk_drain(v->dev) == 0, "drain");
		break;
	case OP_REQ:
		op_req(v, in);
		break;
	case OP_ROUND: /* on a drained device (nothing in flight), then as the others */
		FZ_CHECK(virtio_blk_drain(v->dev) == 0, "drain");
		fzv_round(v);
		break;
	case OP_FLAGS: {
		uint16_t val = fz_u16(in);
		vqb_set_avail_flags(&v->q[0], val & 1);
		vqb_set_used_event(&v->q[0], val);
		break;
	}
	}
}

static const struct fzv_dev blk = {
    .nq = 1,
    .nops = OP_COUNT,
    .ops = {[OP_POKE] = FZV_POKE,
	    [OP_DESC] = FZV_DESC,
	    [OP_IDX] = FZV_IDX,
	    [OP_NOTIFY] = FZV_NOTIFY,
	    [OP_RESET] = FZV_RESET,
	    [OP_CONFIG] = FZV_CONFIG},
    .itable = ITABLE_GPA,
    .itable_len = 64,
    .move_to = DATA_GPA,
    .notify_rounds = 16,
    .config_len = 72,
    .create = create,
    .destroy = destroy,
    .own = own,
};

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
	uint32_t qsize = 1u << (fz_u8(&in) % 9);
	uint64_t features;

	fz_u8(&in);
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
			r.v.d = &blk;
			r.v.gm = &gm;
			fzv_make(&r.v, &r.v.dev, &r.v.m);
			fzv_end(&r.v);
			r.o.readonly = true;
		}
	} else {
		write_file(img, pattern, DISK_BYTES);
	}
	features = fzv_features(!(flags & 16), !(flags & 32)) | VIRTIO_BIT(VIRTIO_BLK_F_FLUSH) |
		   VIRTIO_BIT(VIRTIO_BLK_F_SEG_MAX);
	if (!r.o.readonly)
		features |=
		    VIRTIO_BIT(VIRTIO_BLK_F_DISCARD) | VIRTIO_BIT(VIRTIO_BLK_F_WRITE_ZEROES);
	fzv_start(&r.v, &blk, &gm, mem, qsize, features);
	fzv_run(&r.v, &in);
	FZ_CHECK(virtio_blk_drain(r.v.dev) == 0, "drain");
	{
		static struct virtio_mmio_state st;
		FZ_CHECK(virtio_mmio_save(r.v.m, &st) == 0, "save after the final drain failed");
	}
	fzv_end(&r.v);
	if (r.o.base)
		FZ_CHECK(file_is(basef, pattern, DISK_BYTES), "the overlay's base changed");
	else if (r.o.readonly)
		FZ_CHECK(file_is(img, pattern, DISK_BYTES), "a read-only image changed");
	return 0;
}
