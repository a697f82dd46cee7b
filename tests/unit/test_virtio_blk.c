/* Unit tests for the virtio block device over a temp-file disk: reads and writes (io_uring and
 * the synchronous engine, O_DIRECT with unaligned buffers), FLUSH, GET_ID, DISCARD and
 * WRITE_ZEROES, read-only disks, bounds, malformed chains, the in-flight limit, reset, the event
 * loop path, configuration space and save/load. Overlays and the option parser are in
 * test_virtio_blk_cow.c. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "blk_test_util.h"

#define DISK_SIZE (4ull << 20)

static int setup_mode(void **state, bool sync_io, enum disk_cache cache, bool ro)
{
	struct bt *t = bt_alloc();

	bt_write_file(t->path, DISK_SIZE, 1);
	t->o.path = t->path;
	t->o.serial = "vmon-serial-0001";
	t->o.sync_io = sync_io;
	t->o.cache = cache;
	t->o.readonly = ro;
	assert_int_equal(bt_start(t, 0), 0);
	*state = t;
	return 0;
}

static int setup(void **state)
{
	return setup_mode(state, false, DISK_CACHE_WRITEBACK, false);
}

static int setup_sync(void **state)
{
	return setup_mode(state, true, DISK_CACHE_WRITEBACK, false);
}

static int setup_direct(void **state)
{
	return setup_mode(state, false, DISK_CACHE_NONE, false);
}

static int setup_ro(void **state)
{
	return setup_mode(state, false, DISK_CACHE_WRITEBACK, true);
}

/* The image on tmpfs, which has PUNCH_HOLE but no ZERO_RANGE (the fallback path). */
static int setup_shm(void **state)
{
	struct stat st;
	const char *old = getenv("TMPDIR");
	char *saved = old ? strdup(old) : NULL;
	int ret;

	if (stat("/dev/shm", &st) || !S_ISDIR(st.st_mode))
		return setup(state);
	setenv("TMPDIR", "/dev/shm", 1);
	ret = setup(state);
	if (saved)
		setenv("TMPDIR", saved, 1);
	else
		unsetenv("TMPDIR");
	free(saved);
	return ret;
}

static int teardown(void **state)
{
	bt_free(*state);
	return 0;
}

/* The file still holds the original pattern in [off, off+len). */
static void expect_file_pattern(struct bt *t, uint64_t off, size_t len)
{
	uint8_t *buf = malloc(len);
	bt_read_file(t->path, off, buf, len);
	for (size_t i = 0; i < len; i++)
		if (buf[i] != bt_pattern(off + i))
			fail_msg("file byte %llu changed", (unsigned long long)(off + i));
	free(buf);
}

static void test_config_and_features(void **state)
{
	struct bt *t = *state;
	uint32_t lo, hi;

	assert_int_equal(virtio_blk_capacity(t->blk), DISK_SIZE / 512);
	assert_int_equal(mmio_rd(t->m, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_BLOCK);
	mmio_wr(t->m, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	lo = mmio_rd(t->m, VIRTIO_MMIO_DEVICE_FEATURES);
	mmio_wr(t->m, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	hi = mmio_rd(t->m, VIRTIO_MMIO_DEVICE_FEATURES);
	assert_true(lo & (1u << VIRTIO_BLK_F_SEG_MAX));
	assert_true(lo & (1u << VIRTIO_BLK_F_SIZE_MAX));
	assert_true(lo & (1u << VIRTIO_BLK_F_BLK_SIZE));
	assert_true(lo & (1u << VIRTIO_BLK_F_FLUSH));
	assert_true(lo & (1u << VIRTIO_BLK_F_DISCARD));
	assert_true(lo & (1u << VIRTIO_BLK_F_WRITE_ZEROES));
	assert_false(lo & (1u << VIRTIO_BLK_F_RO));
	assert_true(hi & 1); /* VERSION_1 */
	uint64_t cap = mmio_rd(t->m, VIRTIO_MMIO_CONFIG + VIRTIO_BLK_CFG_CAPACITY) |
		       (uint64_t)mmio_rd(t->m, VIRTIO_MMIO_CONFIG + 4) << 32;
	assert_int_equal(cap, DISK_SIZE / 512);
	assert_int_equal(mmio_rd(t->m, VIRTIO_MMIO_CONFIG + VIRTIO_BLK_CFG_SEG_MAX),
			 VIRTIO_BLK_SEG_MAX);
	assert_int_equal(mmio_rd(t->m, VIRTIO_MMIO_CONFIG + VIRTIO_BLK_CFG_SIZE_MAX),
			 VIRTIO_BLK_SIZE_MAX);
	assert_int_equal(mmio_rd(t->m, VIRTIO_MMIO_CONFIG + VIRTIO_BLK_CFG_BLK_SIZE), 512);
	assert_int_equal(mmio_rd(t->m, VIRTIO_MMIO_CONFIG + VIRTIO_BLK_CFG_MAX_DISCARD_SEG), 1);
	assert_int_equal(mmio_rd(t->m, VIRTIO_MMIO_CONFIG + VIRTIO_BLK_CFG_MAX_WZ_SECTORS),
			 VIRTIO_BLK_MAX_DISCARD_SECTORS);
	assert_int_equal(mmio_rd(t->m, VIRTIO_MMIO_CONFIG + VIRTIO_BLK_CFG_WZ_MAY_UNMAP) & 0xff, 1);
}

/* Write 8 KiB in three segments (one across a region boundary), read it back. */
static void rw_roundtrip(struct bt *t, uint64_t src, uint64_t dst)
{
	struct vqb_seg out[] = {
	    {src, 1024, 0}, {BT_REGION_B - 512, 4096, 0}, {src + 8192, 3072, 0}};
	struct vqb_seg in[] = {{dst, 5000, 1}, {dst + 0x8000, 3192, 1}};
	uint8_t data[8192], file[8192], back[8192];

	for (unsigned i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 13 + 5);
	assert_int_equal(gmem_write(&t->gm, src, data, 1024), 0);
	assert_int_equal(gmem_write(&t->gm, BT_REGION_B - 512, data + 1024, 4096), 0);
	assert_int_equal(gmem_write(&t->gm, src + 8192, data + 5120, 3072), 0);
	assert_int_equal(bt_do(t, VIRTIO_BLK_T_OUT, 3, out, 3), VIRTIO_BLK_S_OK);
	assert_int_equal(bt_used_len(t, 0), 1);
	bt_read_file(t->path, 3 * 512, file, sizeof(file));
	assert_memory_equal(file, data, sizeof(data));
	expect_file_pattern(t, 0, 3 * 512);
	expect_file_pattern(t, 3 * 512 + 8192, 4096);

	assert_int_equal(bt_do(t, VIRTIO_BLK_T_IN, 3, in, 2), VIRTIO_BLK_S_OK);
	assert_int_equal(bt_used_len(t, 1), 8193);
	assert_int_equal(gmem_read(&t->gm, dst, back, 5000), 0);
	assert_int_equal(gmem_read(&t->gm, dst + 0x8000, back + 5000, 3192), 0);
	assert_memory_equal(back, data, sizeof(data));
	assert_int_equal(vqb_used_idx(&t->b), 2);
	assert_int_equal(t->f.level, 1);
	assert_false(bt_needs_reset(t));
}

static void test_rw_roundtrip(void **state)
{
	rw_roundtrip(*state, BT_DATA, BT_DATA + 0x40000);
}

static void test_rw_unaligned_buffers(void **state)
{
	/* Buffers at odd addresses: with cache=none they go through the bounce buffer. */
	rw_roundtrip(*state, BT_DATA + 3, BT_DATA + 0x40000 + 1);
}

static void test_status_in_data_descriptor(void **state)
{
	struct bt *t = *state;
	/* IN whose last writable descriptor holds both the data tail and the status byte. */
	struct vqb_seg segs[] = {{BT_HDR, 16, 0}, {BT_DATA, 513, 1}};
	uint8_t h[16] = {0}, back[512], file[512];

	assert_int_equal(gmem_write(&t->gm, BT_HDR, h, 16), 0); /* IN, sector 0 */
	vqb_add(&t->b, segs, 2);
	bt_run(t);
	assert_int_equal(bt_used_len(t, 0), 513);
	assert_int_equal(fake_mem_ptr(&t->gm, BT_DATA)[512], VIRTIO_BLK_S_OK);
	assert_int_equal(gmem_read(&t->gm, BT_DATA, back, 512), 0);
	bt_read_file(t->path, 0, file, 512);
	assert_memory_equal(back, file, 512);
}

static void test_flush(void **state)
{
	struct bt *t = *state;

	assert_int_equal(bt_do(t, VIRTIO_BLK_T_FLUSH, 0, NULL, 0), VIRTIO_BLK_S_OK);
	assert_int_equal(bt_used_len(t, 0), 1);
}

static void test_get_id(void **state)
{
	struct bt *t = *state;
	struct vqb_seg id = {BT_DATA, 20, 1}, shortbuf = {BT_DATA + 0x100, 8, 1};
	uint8_t expect[20] = "vmon-serial-0001";

	memset(fake_mem_ptr(&t->gm, BT_DATA), 0x55, 0x200);
	assert_int_equal(bt_do(t, VIRTIO_BLK_T_GET_ID, 0, &id, 1), VIRTIO_BLK_S_OK);
	assert_memory_equal(fake_mem_ptr(&t->gm, BT_DATA), expect, 20);
	assert_int_equal(bt_used_len(t, 0), 21);
	assert_int_equal(bt_do(t, VIRTIO_BLK_T_GET_ID, 0, &shortbuf, 1), VIRTIO_BLK_S_OK);
	assert_memory_equal(fake_mem_ptr(&t->gm, BT_DATA + 0x100), expect, 8);
	assert_int_equal(fake_mem_ptr(&t->gm, BT_DATA + 0x108)[0], 0x55);
	assert_int_equal(bt_used_len(t, 1), 9);
}

static bool range_is_hole(const char *path, off_t off, off_t len)
{
	int fd = open(path, O_RDONLY);
	off_t data = lseek(fd, off, SEEK_DATA);
	close(fd);
	return data < 0 || data >= off + len;
}

static bool range_is_zero(struct bt *t, uint64_t off, size_t len)
{
	uint8_t *buf = malloc(len);
	bool zero = true;
	bt_read_file(t->path, off, buf, len);
	for (size_t i = 0; i < len; i++)
		zero &= buf[i] == 0;
	free(buf);
	return zero;
}

static void test_discard_write_zeroes(void **state)
{
	struct bt *t = *state;
	struct vqb_seg seg;

	assert_false(range_is_hole(t->path, 0, 1 << 20));
	/* DISCARD 256 KiB at 1 MiB: a hole. */
	seg = bt_dwz(t, 0, 2048, 512, 0);
	assert_int_equal(bt_do(t, VIRTIO_BLK_T_DISCARD, 0, &seg, 1), VIRTIO_BLK_S_OK);
	assert_true(range_is_hole(t->path, 1 << 20, 256 << 10));
	assert_true(range_is_zero(t, 1 << 20, 256 << 10));
	expect_file_pattern(t, (1 << 20) - 4096, 4096);
	expect_file_pattern(t, (1 << 20) + (256 << 10), 4096);
	/* WRITE_ZEROES with unmap: a hole; without: zeros (ZERO_RANGE). */
	seg = bt_dwz(t, 0, 0, 128, VIRTIO_BLK_WZ_FLAG_UNMAP);
	assert_int_equal(bt_do(t, VIRTIO_BLK_T_WRITE_ZEROES, 0, &seg, 1), VIRTIO_BLK_S_OK);
	assert_true(range_is_hole(t->path, 0, 64 << 10));
	seg = bt_dwz(t, 0, 4096, 16, 0);
	assert_int_equal(bt_do(t, VIRTIO_BLK_T_WRITE_ZEROES, 0, &seg, 1), VIRTIO_BLK_S_OK);
	assert_true(range_is_zero(t, 4096 * 512, 16 * 512));
	expect_file_pattern(t, 4112 * 512, 512);

	/* Refused: unmap on DISCARD, unknown flags, two segments (UNSUPP); outside the disk, too
	 * many sectors, a partial segment (IOERR). Nothing changes. */
	seg = bt_dwz(t, 0, 8000, 8, VIRTIO_BLK_WZ_FLAG_UNMAP);
	assert_int_equal(bt_do(t, VIRTIO_BLK_T_DISCARD, 0, &seg, 1), VIRTIO_BLK_S_UNSUPP);
	seg = bt_dwz(t, 0, 8000, 8, 2);
	assert_int_equal(bt_do(t, VIRTIO_BLK_T_WRITE_ZEROES, 0, &seg, 1), VIRTIO_BLK_S_UNSUPP);
	bt_dwz(t, 0, 8000, 8, 0);
	bt_dwz(t, 1, 8016, 8, 0);
	struct vqb_seg two = {BT_DWZ, 32, 0};
	assert_int_equal(bt_do(t, VIRTIO_BLK_T_DISCARD, 0, &two, 1), VIRTIO_BLK_S_UNSUPP);
	seg = bt_dwz(t, 0, DISK_SIZE / 512 - 4, 8, 0);
	assert_int_equal(bt_do(t, VIRTIO_BLK_T_DISCARD, 0, &seg, 1), VIRTIO_BLK_S_IOERR);
	seg = bt_dwz(t, 0, UINT64_MAX - 2, 8, 0);
	assert_int_equal(bt_do(t, VIRTIO_BLK_T_WRITE_ZEROES, 0, &seg, 1), VIRTIO_BLK_S_IOERR);
	seg = bt_dwz(t, 0, 0, VIRTIO_BLK_MAX_DISCARD_SECTORS + 1, 0);
	assert_int_equal(bt_do(t, VIRTIO_BLK_T_DISCARD, 0, &seg, 1), VIRTIO_BLK_S_IOERR);
	struct vqb_seg part = {BT_DWZ, 12, 0};
	assert_int_equal(bt_do(t, VIRTIO_BLK_T_DISCARD, 0, &part, 1), VIRTIO_BLK_S_IOERR);
	expect_file_pattern(t, 8000 * 512, 24 * 512);
	expect_file_pattern(t, DISK_SIZE - 4096, 4096);
	assert_false(bt_needs_reset(t));
}

static void test_readonly(void **state)
{
	struct bt *t = *state;
	struct vqb_seg out = {BT_DATA, 512, 0}, in = {BT_DATA, 512, 1}, seg;
	uint8_t file[512];

	mmio_wr(t->m, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	uint32_t f = mmio_rd(t->m, VIRTIO_MMIO_DEVICE_FEATURES);
	assert_true(f & (1u << VIRTIO_BLK_F_RO));
	assert_false(f & (1u << VIRTIO_BLK_F_DISCARD));
	assert_false(f & (1u << VIRTIO_BLK_F_WRITE_ZEROES));
	memset(fake_mem_ptr(&t->gm, BT_DATA), 0xaa, 512);
	assert_int_equal(bt_do(t, VIRTIO_BLK_T_OUT, 0, &out, 1), VIRTIO_BLK_S_IOERR);
	seg = bt_dwz(t, 0, 0, 8, 0);
	assert_int_equal(bt_do(t, VIRTIO_BLK_T_DISCARD, 0, &seg, 1), VIRTIO_BLK_S_IOERR);
	assert_int_equal(bt_do(t, VIRTIO_BLK_T_WRITE_ZEROES, 0, &seg, 1), VIRTIO_BLK_S_IOERR);
	assert_int_equal(bt_do(t, VIRTIO_BLK_T_FLUSH, 0, NULL, 0), VIRTIO_BLK_S_OK);
	expect_file_pattern(t, 0, 8192);
	assert_int_equal(bt_do(t, VIRTIO_BLK_T_IN, 0, &in, 1), VIRTIO_BLK_S_OK);
	bt_read_file(t->path, 0, file, 512);
	assert_memory_equal(fake_mem_ptr(&t->gm, BT_DATA), file, 512);
}

static void test_bounds(void **state)
{
	struct bt *t = *state;
	uint64_t cap = DISK_SIZE / 512;
	struct vqb_seg two = {BT_DATA, 1024, 1}, odd = {BT_DATA, 700, 1}, w = {BT_DATA, 1024, 0};
	struct vqb_seg big[] = {{BT_REGION_C, 0x800000, 1}, {BT_REGION_C + 0x800000, 512, 1}};

	assert_int_equal(bt_do(t, VIRTIO_BLK_T_IN, cap - 2, &two, 1), VIRTIO_BLK_S_OK);
	assert_int_equal(bt_do(t, VIRTIO_BLK_T_IN, cap - 1, &two, 1), VIRTIO_BLK_S_IOERR);
	assert_int_equal(bt_do(t, VIRTIO_BLK_T_OUT, cap - 1, &w, 1), VIRTIO_BLK_S_IOERR);
	assert_int_equal(bt_do(t, VIRTIO_BLK_T_IN, cap, &two, 1), VIRTIO_BLK_S_IOERR);
	assert_int_equal(bt_do(t, VIRTIO_BLK_T_OUT, UINT64_MAX, &w, 1), VIRTIO_BLK_S_IOERR);
	assert_int_equal(bt_do(t, VIRTIO_BLK_T_OUT, UINT64_MAX / 512 + 1, &w, 1),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(bt_do(t, VIRTIO_BLK_T_IN, 0, &odd, 1), VIRTIO_BLK_S_IOERR);
	assert_int_equal(bt_do(t, VIRTIO_BLK_T_IN, 0, big, 2), VIRTIO_BLK_S_IOERR);
	assert_int_equal(bt_do(t, VIRTIO_BLK_T_IN, cap, NULL, 0), VIRTIO_BLK_S_OK); /* 0 bytes */
	assert_int_equal(bt_do(t, 0x1234, 0, &w, 1), VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(bt_do(t, 10 /* GET_LIFETIME */, 0, &two, 1), VIRTIO_BLK_S_UNSUPP);
	expect_file_pattern(t, DISK_SIZE - 4096, 4096);
	assert_false(bt_needs_reset(t));
}

/* Publish the chain segs, run, expect NEEDS_RESET, nothing used, nothing written. */
static void expect_malformed(struct bt *t, const struct vqb_seg *segs, unsigned n)
{
	vqb_add(&t->b, segs, n);
	bt_run(t);
	assert_true(bt_needs_reset(t));
	assert_int_equal(vqb_used_idx(&t->b), 0);
	assert_int_equal(mmio_rd(t->m, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_INT_CONFIG);
	assert_int_equal(fake_mem_ptr(&t->gm, BT_STATUS)[0], 0xee);
	expect_file_pattern(t, 0, 64 << 10);
	/* Nothing more is processed until a reset; then the device works again. */
	bt_run(t);
	assert_int_equal(vqb_used_idx(&t->b), 0);
	vqb_init(&t->b, &t->gm, BT_QSIZE, BT_DESC, BT_AVAIL, BT_USED);
	assert_true(mmio_negotiate(t->m, VIRTIO_CORE_FEATURES) & VIRTIO_STATUS_FEATURES_OK);
	assert_int_equal(mmio_setup_queue(t->m, 0, &t->b), 1);
	mmio_driver_ok(t->m);
	assert_false(bt_needs_reset(t));
	struct vqb_seg in = {BT_DATA + 0x8000, 512, 1};
	assert_int_equal(bt_do(t, VIRTIO_BLK_T_IN, 0, &in, 1), VIRTIO_BLK_S_OK);
}

/* A header for an OUT (or IN) of sector 0 at BT_HDR, status pre-set. */
static void put_hdr(struct bt *t, uint32_t type)
{
	uint8_t h[16] = {0}, ee = 0xee;
	memcpy(h, &type, 4);
	assert_int_equal(gmem_write(&t->gm, BT_HDR, h, 16), 0);
	assert_int_equal(gmem_write(&t->gm, BT_STATUS, &ee, 1), 0);
	memset(fake_mem_ptr(&t->gm, BT_DATA), 0xaa, 4096);
}

static void test_malformed_no_status(void **state)
{
	struct bt *t = *state;
	struct vqb_seg segs[] = {{BT_HDR, 16, 0}, {BT_DATA, 512, 0}};
	put_hdr(t, VIRTIO_BLK_T_OUT);
	expect_malformed(t, segs, 2);
}

static void test_malformed_status_readonly(void **state)
{
	struct bt *t = *state;
	struct vqb_seg segs[] = {{BT_HDR, 16, 0}, {BT_DATA, 512, 0}, {BT_STATUS, 1, 0}};
	put_hdr(t, VIRTIO_BLK_T_OUT);
	expect_malformed(t, segs, 3);
}

static void test_malformed_short_header(void **state)
{
	struct bt *t = *state;
	struct vqb_seg segs[] = {{BT_HDR, 8, 0}, {BT_STATUS, 1, 1}};
	put_hdr(t, VIRTIO_BLK_T_FLUSH);
	expect_malformed(t, segs, 2);
}

static void test_malformed_writable_header(void **state)
{
	struct bt *t = *state;
	struct vqb_seg segs[] = {{BT_HDR, 16, 1}, {BT_DATA, 512, 1}, {BT_STATUS, 1, 1}};
	put_hdr(t, VIRTIO_BLK_T_IN);
	expect_malformed(t, segs, 3);
}

static void test_malformed_out_with_writable_data(void **state)
{
	struct bt *t = *state;
	struct vqb_seg segs[] = {{BT_HDR, 16, 0}, {BT_DATA, 512, 1}, {BT_STATUS, 1, 1}};
	put_hdr(t, VIRTIO_BLK_T_OUT);
	expect_malformed(t, segs, 3);
}

static void test_malformed_in_with_readable_data(void **state)
{
	struct bt *t = *state;
	struct vqb_seg segs[] = {{BT_HDR, 16, 0}, {BT_DATA, 512, 0}, {BT_STATUS, 1, 1}};
	put_hdr(t, VIRTIO_BLK_T_IN);
	expect_malformed(t, segs, 3);
}

static void test_malformed_length_overflow(void **state)
{
	struct bt *t = *state;
	struct vqb_seg segs[] = {
	    {BT_HDR, 16, 0}, {0xfffffffffffff000ull, 0x2000, 0}, {BT_STATUS, 1, 1}};
	put_hdr(t, VIRTIO_BLK_T_OUT);
	expect_malformed(t, segs, 3);
}

static void test_malformed_after_good(void **state)
{
	struct bt *t = *state;
	struct vqb_seg in = {BT_DATA + 0x1000, 512, 1};
	struct vqb_seg bad[] = {{BT_HDR + 16, 16, 0}, {BT_DATA, 512, 0}};

	bt_req(t, VIRTIO_BLK_T_IN, 0, &in, 1);
	uint8_t h[16] = {VIRTIO_BLK_T_OUT};
	assert_int_equal(gmem_write(&t->gm, BT_HDR + 16, h, 16), 0);
	memset(fake_mem_ptr(&t->gm, BT_DATA), 0xaa, 512);
	vqb_add(&t->b, bad, 2);
	bt_run(t);
	/* The good one was started, but the queue broke before it completed: it is not returned
	 * (the driver must reset the device anyway). */
	assert_int_equal(vqb_used_idx(&t->b), 0);
	assert_true(bt_needs_reset(t));
	expect_file_pattern(t, 0, 4096);
}

/* More requests than slots: all complete, the limit is never exceeded. */
static void test_many_requests(void **state)
{
	struct bt *t = *state;
	const unsigned n = BT_QSIZE / 3; /* 3 descriptors each */

	for (unsigned i = 0; i < n; i++) {
		struct vqb_seg in = {BT_DATA + 4096ull * i, 4096, 1};
		bt_req(t, VIRTIO_BLK_T_IN, 8ull * i, &in, 1);
	}
	bt_run(t);
	assert_int_equal(vqb_used_idx(&t->b), n);
	for (unsigned i = 0; i < n; i++)
		assert_int_equal(bt_status(t, i), VIRTIO_BLK_S_OK);
	uint8_t file[4096];
	bt_read_file(t->path, 4096ull * (n - 1), file, sizeof(file));
	assert_memory_equal(fake_mem_ptr(&t->gm, BT_DATA + 4096ull * (n - 1)), file, 4096);
}

static void test_sync_budget(void **state)
{
	struct bt *t = *state;
	const unsigned n = BT_QSIZE / 2; /* 2 descriptors each: more than the slots */

	for (unsigned i = 0; i < n; i++)
		bt_req(t, VIRTIO_BLK_T_FLUSH, 0, NULL, 0);
	assert_true(n > VIRTIO_BLK_MAX_INFLIGHT);
	assert_int_equal(virtio_dev_notify(t->vdev, 0), 1); /* more work */
	assert_int_equal(vqb_used_idx(&t->b), VIRTIO_BLK_MAX_INFLIGHT);
	virtio_dev_notify(t->vdev, 0); /* may report more work when the slots ran out exactly */
	assert_int_equal(vqb_used_idx(&t->b), n);
	assert_int_equal(virtio_dev_notify(t->vdev, 0), 0);
}

static void test_reset_in_flight(void **state)
{
	struct bt *t = *state;

	for (unsigned i = 0; i < 8; i++) {
		struct vqb_seg in = {BT_DATA + 0x10000ull * i, 0x10000, 1};
		bt_req(t, VIRTIO_BLK_T_IN, 128ull * i, &in, 1);
	}
	virtio_dev_notify(t->vdev, 0);
	mmio_wr(t->m, VIRTIO_MMIO_STATUS, 0); /* waits for what is in flight, drops it */
	assert_int_equal(mmio_rd(t->m, VIRTIO_MMIO_STATUS), 0);
	vqb_init(&t->b, &t->gm, BT_QSIZE, BT_DESC, BT_AVAIL, BT_USED);
	assert_true(mmio_negotiate(t->m, VIRTIO_CORE_FEATURES) & VIRTIO_STATUS_FEATURES_OK);
	assert_int_equal(mmio_setup_queue(t->m, 0, &t->b), 1);
	mmio_driver_ok(t->m);
	test_many_requests(state);
}

static void test_event_loop(void **state)
{
	struct bt *t = *state;
	struct evloop el;
	struct irq_line irq = {bt_irq_set, &t->f, 16};
	struct vqb_seg in = {BT_DATA, 4096, 1};

	/* A second device on the same file, with completions handled by a running event loop. */
	bt_stop(t);
	assert_int_equal(evloop_init(&el), 0);
	assert_int_equal(evloop_start(&el), 0);
	assert_int_equal(virtio_blk_create(&t->o, &t->gm, &el, &t->blk, t->err, sizeof(t->err)), 0);
	t->vdev = virtio_blk_dev(t->blk);
	assert_int_equal(virtio_mmio_create(t->vdev, irq, bt_notify, &t->f, &t->m), 0);
	vqb_init(&t->b, &t->gm, BT_QSIZE, BT_DESC, BT_AVAIL, BT_USED);
	assert_true(mmio_negotiate(t->m, VIRTIO_CORE_FEATURES) & VIRTIO_STATUS_FEATURES_OK);
	assert_int_equal(mmio_setup_queue(t->m, 0, &t->b), 1);
	mmio_driver_ok(t->m);
	bt_reset_slots(t);
	bt_req(t, VIRTIO_BLK_T_IN, 16, &in, 1);
	virtio_dev_notify(t->vdev, 0);
	for (int i = 0; i < 2000 && vqb_used_idx(&t->b) == 0; i++) {
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
	assert_int_equal(vqb_used_idx(&t->b), 1);
	assert_int_equal(bt_status(t, 0), VIRTIO_BLK_S_OK);
	bt_stop(t);
	evloop_destroy(&el);
}

static void test_save_load(void **state)
{
	struct bt *t = *state;
	struct virtio_mmio_state *st = test_malloc(sizeof(*st));
	struct vqb_seg in = {BT_DATA, 512, 1};
	struct irq_line irq = {bt_irq_set, &t->f, 16};
	struct virtio_blk *blk2;
	struct virtio_mmio *m2;

	assert_int_equal(bt_do(t, VIRTIO_BLK_T_IN, 1, &in, 1), VIRTIO_BLK_S_OK);
	assert_int_equal(virtio_mmio_save(t->m, st), 0);
	assert_int_equal(st->dev.dev_len, 16);
	/* A fresh device on the same disk loads it and carries on where the first left off. */
	assert_int_equal(virtio_blk_create(&t->o, &t->gm, NULL, &blk2, t->err, sizeof(t->err)), 0);
	assert_int_equal(virtio_mmio_create(virtio_blk_dev(blk2), irq, bt_notify, &t->f, &m2), 0);
	assert_int_equal(virtio_mmio_load(m2, st), 0);
	bt_stop(t);
	t->blk = blk2;
	t->m = m2;
	t->vdev = virtio_blk_dev(blk2);
	assert_int_equal(bt_do(t, VIRTIO_BLK_T_IN, 2, &in, 1), VIRTIO_BLK_S_OK);
	assert_int_equal(vqb_used_idx(&t->b), 2);
	/* A device on a disk of another size refuses the state; so does a damaged one. */
	bt_write_file(t->base, DISK_SIZE / 2, 0);
	struct virtio_blk_opts o2 = {.path = t->base};
	assert_int_equal(virtio_blk_create(&o2, &t->gm, NULL, &blk2, t->err, sizeof(t->err)), 0);
	assert_int_equal(virtio_mmio_create(virtio_blk_dev(blk2), irq, bt_notify, &t->f, &m2), 0);
	assert_int_equal(virtio_mmio_load(m2, st), -EINVAL);
	st->dev.dev[8] ^= 1;
	assert_int_equal(virtio_mmio_load(t->m, st), -EINVAL);
	st->dev.dev[8] ^= 1;
	st->dev.dev_len = 12;
	assert_int_equal(virtio_mmio_load(t->m, st), -EINVAL);
	virtio_mmio_destroy(m2);
	virtio_blk_destroy(blk2);
	test_free(st);
}

static void test_create_errors(void **state)
{
	struct bt *t = *state;
	struct virtio_blk_opts o = {.path = t->base};
	struct virtio_blk *blk = NULL;

	bt_write_file(t->base, 1000, 1);
	assert_int_equal(virtio_blk_create(&o, &t->gm, NULL, &blk, t->err, sizeof(t->err)),
			 -EINVAL);
	assert_null(blk);
	assert_non_null(strstr(t->err, "not a multiple of 512"));
	o.path = "/nonexistent/vmon.img";
	assert_int_equal(virtio_blk_create(&o, &t->gm, NULL, &blk, t->err, sizeof(t->err)),
			 -ENOENT);
	assert_non_null(strstr(t->err, "/nonexistent/vmon.img"));
	o.path = "/dev/null";
	o.readonly = true;
	assert_int_equal(virtio_blk_create(&o, &t->gm, NULL, &blk, t->err, sizeof(t->err)),
			 -EINVAL);
	o.readonly = false;
	assert_non_null(strstr(t->err, "not a regular file or block device"));
	o.path = t->path;
	o.serial = "012345678901234567890";
	assert_int_equal(virtio_blk_create(&o, &t->gm, NULL, &blk, t->err, sizeof(t->err)),
			 -EINVAL);
	assert_non_null(strstr(t->err, "serial"));
}

#define T(fn, s) cmocka_unit_test_setup_teardown(fn, s, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_config_and_features, setup),
	    T(test_rw_roundtrip, setup),
	    T(test_rw_roundtrip, setup_sync),
	    T(test_rw_roundtrip, setup_direct),
	    T(test_rw_unaligned_buffers, setup_direct),
	    T(test_rw_unaligned_buffers, setup),
	    T(test_status_in_data_descriptor, setup),
	    T(test_flush, setup),
	    T(test_flush, setup_sync),
	    T(test_get_id, setup),
	    T(test_discard_write_zeroes, setup),
	    T(test_discard_write_zeroes, setup_sync),
	    T(test_discard_write_zeroes, setup_shm),
	    T(test_readonly, setup_ro),
	    T(test_bounds, setup),
	    T(test_malformed_no_status, setup),
	    T(test_malformed_status_readonly, setup),
	    T(test_malformed_short_header, setup),
	    T(test_malformed_writable_header, setup),
	    T(test_malformed_out_with_writable_data, setup),
	    T(test_malformed_in_with_readable_data, setup),
	    T(test_malformed_length_overflow, setup),
	    T(test_malformed_after_good, setup),
	    T(test_many_requests, setup),
	    T(test_many_requests, setup_sync),
	    T(test_many_requests, setup_direct),
	    T(test_sync_budget, setup_sync),
	    T(test_reset_in_flight, setup),
	    T(test_event_loop, setup),
	    T(test_save_load, setup),
	    T(test_create_errors, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
