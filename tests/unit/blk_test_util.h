/* Test helpers for virtio-blk: temporary image files, a device behind the virtio-mmio transport
 * over fake guest memory, and a driver side that lays requests (header, data, status) into the
 * queue and runs them to completion deterministically (notify, then virtio_blk_drain).
 * Header-only: every function is static inline. Needs cmocka.h included before it. */
#ifndef VMON_TESTS_BLK_TEST_UTIL_H
#define VMON_TESTS_BLK_TEST_UTIL_H

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "virtio/virtio_blk.h"
#include "virtq_builder.h"

#define BT_QSIZE 256
#define BT_DESC 0x1000
#define BT_AVAIL 0x2000
#define BT_USED 0x3000
#define BT_HDR 0x6000 /* 16 bytes per request slot, up to 128 slots */
#define BT_STATUS 0x7000
#define BT_DWZ 0x7800
#define BT_DATA 0x10000
#define BT_REGION_B 0x200000ull	 /* second region, adjacent */
#define BT_REGION_C 0x1000000ull /* third region, 16 MiB, for large requests */

struct bt_fake {
	int level;
	unsigned notifies;
};

struct bt {
	struct bt_fake f;
	struct gmem gm;
	char dir[64];
	char path[128];
	char base[128];
	struct virtio_blk_opts o;
	struct virtio_blk *blk;
	struct virtio_dev *vdev;
	struct virtio_mmio *m;
	struct vqb b;
	unsigned nreq; /* requests laid out since the last bt_run */
	char err[256];
};

static inline void bt_irq_set(void *ctx, unsigned gsi, int level)
{
	((struct bt_fake *)ctx)->level = level;
}

static inline void bt_notify(void *ctx, unsigned q)
{
	((struct bt_fake *)ctx)->notifies++;
}

/* Make dir and the image path inside it; the image gets size bytes of pattern(offset). */
static inline uint8_t bt_pattern(uint64_t off)
{
	return (uint8_t)(off * 7 + off / 512 + 1);
}

static inline void bt_write_file(const char *path, uint64_t size, int pattern)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	uint8_t buf[4096];

	assert_true(fd >= 0);
	for (uint64_t off = 0; off < size; off += sizeof(buf)) {
		size_t n = size - off < sizeof(buf) ? (size_t)(size - off) : sizeof(buf);
		for (size_t i = 0; i < n; i++)
			buf[i] = pattern ? bt_pattern(off + i) : 0;
		assert_int_equal(pwrite(fd, buf, n, (off_t)off), (ssize_t)n);
	}
	close(fd);
}

static inline void bt_read_file(const char *path, uint64_t off, void *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, buf, len, (off_t)off), (ssize_t)len);
	close(fd);
}

/* Allocate the fixture with its temp dir and guest memory (no device yet). */
static inline struct bt *bt_alloc(void)
{
	struct bt *t = test_calloc(1, sizeof(*t));
	const char *tmp = getenv("TMPDIR");

	snprintf(t->dir, sizeof(t->dir), "%s/vmon-blk.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->path, sizeof(t->path), "%s/disk.img", t->dir);
	snprintf(t->base, sizeof(t->base), "%s/base.img", t->dir);
	assert_int_equal(fake_mem_add(&t->gm, 0, BT_REGION_B), 0);
	assert_int_equal(fake_mem_add(&t->gm, BT_REGION_B, 0x200000), 0);
	assert_int_equal(fake_mem_add(&t->gm, BT_REGION_C, 0x1000000), 0);
	return t;
}

/* Create the device from t->o (path filled in by the caller), bring it up with `features`
 * (VIRTIO_CORE_FEATURES when 0) and set the queue. Returns virtio_blk_create's result. */
static inline int bt_start(struct bt *t, uint64_t features)
{
	struct irq_line irq = {bt_irq_set, &t->f, 16};
	int ret = virtio_blk_create(&t->o, &t->gm, NULL, &t->blk, t->err, sizeof(t->err));

	if (ret)
		return ret;
	t->vdev = virtio_blk_dev(t->blk);
	assert_int_equal(virtio_mmio_create(t->vdev, irq, bt_notify, &t->f, &t->m), 0);
	vqb_init(&t->b, &t->gm, BT_QSIZE, BT_DESC, BT_AVAIL, BT_USED);
	assert_true(mmio_negotiate(t->m, features ? features : VIRTIO_CORE_FEATURES) &
		    VIRTIO_STATUS_FEATURES_OK);
	assert_int_equal(mmio_setup_queue(t->m, 0, &t->b), 1);
	mmio_driver_ok(t->m);
	t->nreq = 0;
	return 0;
}

static inline void bt_stop(struct bt *t)
{
	if (t->m)
		virtio_mmio_destroy(t->m);
	virtio_blk_destroy(t->blk);
	t->m = NULL;
	t->blk = NULL;
	t->vdev = NULL;
}

static inline void bt_free(struct bt *t)
{
	char cmd[160];

	bt_stop(t);
	fake_mem_destroy(&t->gm);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", t->dir);
	t->o.path = t->o.base = t->o.serial = NULL; /* owned by the test */
	test_free(t);
}

/* Lay out a request: header (type, sector) in its slot, the data segments, a status byte
 * (pre-set to 0xee) and publish it. Returns the head. */
static inline uint16_t bt_req(struct bt *t, uint32_t type, uint64_t sector,
			      const struct vqb_seg *data, unsigned ndata)
{
	struct vqb_seg segs[16];
	uint64_t hdr = BT_HDR + 16ull * t->nreq, st = BT_STATUS + t->nreq;
	uint8_t h[16] = {0}, ee = 0xee;

	assert_true(ndata + 2 <= 16);
	memcpy(h, &type, 4);
	memcpy(h + 8, &sector, 8);
	assert_int_equal(gmem_write(&t->gm, hdr, h, 16), 0);
	assert_int_equal(gmem_write(&t->gm, st, &ee, 1), 0);
	segs[0] = (struct vqb_seg){hdr, 16, 0};
	for (unsigned i = 0; i < ndata; i++)
		segs[1 + i] = data[i];
	segs[1 + ndata] = (struct vqb_seg){st, 1, 1};
	t->nreq++;
	return vqb_add(&t->b, segs, ndata + 2);
}

/* Notify until the device has no more work, then wait for every completion. */
static inline void bt_run(struct bt *t)
{
	while (virtio_dev_notify(t->vdev, 0))
		;
	assert_int_equal(virtio_blk_drain(t->blk), 0);
}

/* Status byte of the i-th request laid out since the last bt_reset_slots. */
static inline uint8_t bt_status(struct bt *t, unsigned i)
{
	return fake_mem_ptr(&t->gm, BT_STATUS + i)[0];
}

static inline void bt_reset_slots(struct bt *t)
{
	t->nreq = 0;
}

/* One request, run to completion; returns its status byte. */
static inline uint8_t bt_do(struct bt *t, uint32_t type, uint64_t sector,
			    const struct vqb_seg *data, unsigned ndata)
{
	bt_reset_slots(t);
	bt_req(t, type, sector, data, ndata);
	bt_run(t);
	return bt_status(t, 0);
}

/* A DISCARD / WRITE_ZEROES segment at BT_DWZ (+16 * i). */
static inline struct vqb_seg bt_dwz(struct bt *t, unsigned i, uint64_t sector, uint32_t num,
				    uint32_t flags)
{
	uint8_t s[16];
	memcpy(s, &sector, 8);
	memcpy(s + 8, &num, 4);
	memcpy(s + 12, &flags, 4);
	assert_int_equal(gmem_write(&t->gm, BT_DWZ + 16ull * i, s, 16), 0);
	return (struct vqb_seg){BT_DWZ + 16ull * i, 16, 0};
}

static inline uint32_t bt_used_len(struct bt *t, uint16_t i)
{
	uint32_t id, len;
	vqb_used_elem(&t->b, i, &id, &len);
	return len;
}

static inline bool bt_needs_reset(struct bt *t)
{
	return mmio_rd(t->m, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET;
}

#endif
