/* Unit tests for virtio-blk copy-on-write overlays (backend/disk_cow.c, the vmoncow format) driven
 * through the device, and for the --disk option parser. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "blk_test_util.h"

#define BASE_SIZE (4ull << 20)
#define OVL_BITMAP_OFF 4096

struct mode {
	bool sync_io;
	enum disk_cache cache;
};

static const struct mode m_uring = {false, DISK_CACHE_WRITEBACK};
static const struct mode m_sync = {true, DISK_CACHE_WRITEBACK};
static const struct mode m_direct = {false, DISK_CACHE_NONE};
static const struct mode m_direct_sync = {true, DISK_CACHE_NONE};

static const struct mode *cur_mode;

static int setup(void **state)
{
	struct bt *t = bt_alloc();

	bt_write_file(t->base, BASE_SIZE, 1);
	t->o.path = t->path; /* the overlay: does not exist yet */
	t->o.base = t->base;
	t->o.sync_io = cur_mode->sync_io;
	t->o.cache = cur_mode->cache;
	assert_int_equal(bt_start(t, 0), 0);
	*state = t;
	return 0;
}

#define SETUP_MODE(name, m)                                                                        \
	static int setup_##name(void **state)                                                      \
	{                                                                                          \
		cur_mode = &m;                                                                     \
		return setup(state);                                                               \
	}
SETUP_MODE(uring, m_uring)
SETUP_MODE(sync, m_sync)
SETUP_MODE(direct, m_direct)
SETUP_MODE(direct_sync, m_direct_sync)

static int teardown(void **state)
{
	bt_free(*state);
	return 0;
}

static void expect_base_unchanged(struct bt *t)
{
	uint8_t *buf = malloc(BASE_SIZE);
	struct stat st;

	assert_int_equal(stat(t->base, &st), 0);
	assert_int_equal(st.st_size, BASE_SIZE);
	bt_read_file(t->base, 0, buf, BASE_SIZE);
	for (uint64_t i = 0; i < BASE_SIZE; i++)
		if (buf[i] != bt_pattern(i))
			fail_msg("base byte %llu changed", (unsigned long long)i);
	free(buf);
}

/* Read sectors [0, 64) in three odd-sized segments and check each byte: written sectors hold
 * their fill byte (fill(sector) != 0), the others the base pattern. */
static void expect_disk(struct bt *t, int (*fill)(uint64_t sector))
{
	struct vqb_seg in[] = {{BT_DATA + 1, 1000, 1},
			       {BT_DATA + 0x2001, 20000, 1},
			       {BT_DATA + 0x8001, 64 * 512 - 21000, 1}};
	uint8_t got[64 * 512];

	memset(fake_mem_ptr(&t->gm, BT_DATA), 0x11, 0x10000);
	assert_int_equal(bt_do(t, VIRTIO_BLK_T_IN, 0, in, 3), VIRTIO_BLK_S_OK);
	assert_int_equal(gmem_read(&t->gm, BT_DATA + 1, got, 1000), 0);
	assert_int_equal(gmem_read(&t->gm, BT_DATA + 0x2001, got + 1000, 20000), 0);
	assert_int_equal(gmem_read(&t->gm, BT_DATA + 0x8001, got + 21000, sizeof(got) - 21000), 0);
	for (uint64_t i = 0; i < sizeof(got); i++) {
		int f = fill(i / 512);
		uint8_t want = f >= 0 ? (uint8_t)f : bt_pattern(i);
		if (got[i] != want)
			fail_msg("disk byte %llu: %#x, expected %#x", (unsigned long long)i, got[i],
				 want);
	}
}

/* Sectors 8-15 hold 0x5a, sector 40 holds 0xa5, sectors 48-49 zero (WRITE_ZEROES). */
static int fill_written(uint64_t s)
{
	if (s >= 8 && s < 16)
		return 0x5a;
	if (s == 40)
		return 0xa5;
	if (s == 48 || s == 49)
		return 0;
	return -1;
}

static int fill_none(uint64_t s)
{
	return -1;
}

static void write_some(struct bt *t)
{
	struct vqb_seg a = {BT_DATA + 0x20000, 4096, 0}, b = {BT_DATA + 0x30000, 512, 0}, z;

	memset(fake_mem_ptr(&t->gm, BT_DATA + 0x20000), 0x5a, 4096);
	memset(fake_mem_ptr(&t->gm, BT_DATA + 0x30000), 0xa5, 512);
	assert_int_equal(bt_do(t, VIRTIO_BLK_T_OUT, 8, &a, 1), VIRTIO_BLK_S_OK);
	assert_int_equal(bt_do(t, VIRTIO_BLK_T_OUT, 40, &b, 1), VIRTIO_BLK_S_OK);
	z = bt_dwz(t, 0, 48, 2, 0);
	assert_int_equal(bt_do(t, VIRTIO_BLK_T_WRITE_ZEROES, 0, &z, 1), VIRTIO_BLK_S_OK);
}

static uint8_t file_bitmap_byte(struct bt *t, unsigned i)
{
	uint8_t b;
	bt_read_file(t->path, OVL_BITMAP_OFF + i, &b, 1);
	return b;
}

static void test_overlay_rw(void **state)
{
	struct bt *t = *state;

	assert_int_equal(virtio_blk_capacity(t->blk), BASE_SIZE / 512);
	expect_disk(t, fill_none);
	write_some(t);
	expect_disk(t, fill_written);
	expect_base_unchanged(t);
	/* The bitmap reaches the file with FLUSH, not before. */
	assert_int_equal(file_bitmap_byte(t, 1), 0);
	assert_int_equal(bt_do(t, VIRTIO_BLK_T_FLUSH, 0, NULL, 0), VIRTIO_BLK_S_OK);
	assert_int_equal(file_bitmap_byte(t, 1), 0xff);
	assert_int_equal(file_bitmap_byte(t, 5), 0x01);
	assert_int_equal(file_bitmap_byte(t, 6), 0x03);
	/* Reopened, the overlay still has the writes. */
	bt_stop(t);
	assert_int_equal(bt_start(t, 0), 0);
	expect_disk(t, fill_written);
	expect_base_unchanged(t);
}

static void test_overlay_close_persists(void **state)
{
	struct bt *t = *state;

	write_some(t);
	bt_stop(t); /* no FLUSH: closing writes the bitmap back */
	assert_int_equal(bt_start(t, 0), 0);
	expect_disk(t, fill_written);
}

static int fill_tail(uint64_t s)
{
	return s >= 60 ? 0x77 : -1;
}

static void test_overlay_last_sectors(void **state)
{
	struct bt *t = *state;
	uint64_t cap = BASE_SIZE / 512;
	struct vqb_seg w = {BT_DATA + 0x20000, 2048, 0}, r = {BT_DATA + 0x28000, 4096, 1};
	uint8_t want[4096];

	memset(fake_mem_ptr(&t->gm, BT_DATA + 0x20000), 0x33, 2048);
	assert_int_equal(bt_do(t, VIRTIO_BLK_T_OUT, cap - 4, &w, 1), VIRTIO_BLK_S_OK);
	assert_int_equal(bt_do(t, VIRTIO_BLK_T_IN, cap - 8, &r, 1), VIRTIO_BLK_S_OK);
	for (unsigned i = 0; i < 4096; i++)
		want[i] = i < 2048 ? bt_pattern(BASE_SIZE - 4096 + i) : 0x33;
	assert_memory_equal(fake_mem_ptr(&t->gm, BT_DATA + 0x28000), want, 4096);
	assert_int_equal(bt_do(t, VIRTIO_BLK_T_OUT, cap - 3, &w, 1), VIRTIO_BLK_S_IOERR);
	/* A write in 4 segments of 512 at sector 60, then the multi-run read. */
	struct vqb_seg segs[4];
	for (unsigned i = 0; i < 4; i++)
		segs[i] = (struct vqb_seg){BT_DATA + 0x30000 + 0x1000 * i, 512, 0};
	for (unsigned i = 0; i < 4; i++)
		memset(fake_mem_ptr(&t->gm, BT_DATA + 0x30000 + 0x1000 * i), 0x77, 512);
	assert_int_equal(bt_do(t, VIRTIO_BLK_T_OUT, 60, segs, 4), VIRTIO_BLK_S_OK);
	expect_disk(t, fill_tail);
	expect_base_unchanged(t);
}

static void test_overlay_discard(void **state)
{
	struct bt *t = *state;
	struct vqb_seg d = bt_dwz(t, 0, 0, 8, 0);

	assert_int_equal(bt_do(t, VIRTIO_BLK_T_DISCARD, 0, &d, 1), VIRTIO_BLK_S_OK);
	struct vqb_seg r = {BT_DATA, 4096, 1};
	memset(fake_mem_ptr(&t->gm, BT_DATA), 0x11, 4096);
	assert_int_equal(bt_do(t, VIRTIO_BLK_T_IN, 0, &r, 1), VIRTIO_BLK_S_OK);
	for (unsigned i = 0; i < 4096; i++)
		assert_int_equal(fake_mem_ptr(&t->gm, BT_DATA)[i], 0);
	expect_base_unchanged(t);
}

static void test_overlay_errors(void **state)
{
	struct bt *t = *state;
	struct virtio_blk *blk = NULL;
	struct virtio_blk_opts o = {.path = t->path, .base = t->dir};
	char other[160], odd[160];

	/* The base must be a regular file or block device of whole sectors. */
	assert_true(virtio_blk_create(&o, &t->gm, NULL, &blk, t->err, sizeof(t->err)) < 0);
	snprintf(odd, sizeof(odd), "%s/odd.img", t->dir);
	bt_write_file(odd, 1000, 1);
	o.base = odd;
	assert_int_equal(virtio_blk_create(&o, &t->gm, NULL, &blk, t->err, sizeof(t->err)),
			 -EINVAL);
	assert_non_null(strstr(t->err, "not a multiple of 512"));
	/* An overlay made for another base size. */
	snprintf(other, sizeof(other), "%s/other.img", t->dir);
	bt_write_file(other, BASE_SIZE / 2, 1);
	o.base = other;
	bt_stop(t);
	assert_int_equal(virtio_blk_create(&o, &t->gm, NULL, &blk, t->err, sizeof(t->err)),
			 -EINVAL);
	assert_non_null(strstr(t->err, "overlay is for a"));
	/* A raw file is not an overlay; the base cannot be its own overlay. */
	o.path = other;
	o.base = t->base;
	assert_int_equal(virtio_blk_create(&o, &t->gm, NULL, &blk, t->err, sizeof(t->err)),
			 -EINVAL);
	assert_non_null(strstr(t->err, "not a vmon overlay"));
	o.path = t->base;
	assert_int_equal(virtio_blk_create(&o, &t->gm, NULL, &blk, t->err, sizeof(t->err)),
			 -EINVAL);
	assert_non_null(strstr(t->err, "same file"));
	/* A missing overlay cannot be created read-only; a missing base is reported. */
	snprintf(other, sizeof(other), "%s/new.ovl", t->dir);
	o.path = other;
	o.readonly = true;
	assert_true(virtio_blk_create(&o, &t->gm, NULL, &blk, t->err, sizeof(t->err)) < 0);
	o.readonly = false;
	o.base = "/nonexistent/base.img";
	assert_int_equal(virtio_blk_create(&o, &t->gm, NULL, &blk, t->err, sizeof(t->err)),
			 -ENOENT);
	assert_non_null(strstr(t->err, "/nonexistent/base.img"));
	assert_null(blk);
	/* The original overlay opens read-only and refuses writes. */
	o.path = t->path;
	o.base = t->base;
	o.readonly = true;
	t->o = o;
	assert_int_equal(bt_start(t, 0), 0);
	struct vqb_seg w = {BT_DATA, 512, 0};
	assert_int_equal(bt_do(t, VIRTIO_BLK_T_OUT, 0, &w, 1), VIRTIO_BLK_S_IOERR);
	expect_disk(t, fill_none);
}

/* ---- the option parser ---- */

static void test_parse_ok(void **state)
{
	struct virtio_blk_opts o;
	char err[200];

	assert_int_equal(virtio_blk_parse_opts("path=/x/disk.img", &o, err, sizeof(err)), 0);
	assert_string_equal(o.path, "/x/disk.img");
	assert_null(o.base);
	assert_null(o.serial);
	assert_false(o.readonly);
	assert_int_equal(o.cache, DISK_CACHE_WRITEBACK);
	virtio_blk_opts_free(&o);
	assert_int_equal(virtio_blk_parse_opts("serial=ABC-123,ro,cache=none,path=a.img,base=b.raw",
					       &o, err, sizeof(err)),
			 0);
	assert_string_equal(o.path, "a.img");
	assert_string_equal(o.base, "b.raw");
	assert_string_equal(o.serial, "ABC-123");
	assert_true(o.readonly);
	assert_int_equal(o.cache, DISK_CACHE_NONE);
	virtio_blk_opts_free(&o);
	assert_int_equal(virtio_blk_parse_opts("path=a,cache=writeback,serial=01234567890123456789",
					       &o, err, sizeof(err)),
			 0);
	assert_int_equal(o.cache, DISK_CACHE_WRITEBACK);
	virtio_blk_opts_free(&o);
}

static void expect_parse_error(const char *s, const char *msg)
{
	struct virtio_blk_opts o;
	char err[200] = "";

	assert_int_equal(virtio_blk_parse_opts(s, &o, err, sizeof(err)), -EINVAL);
	if (!strstr(err, msg))
		fail_msg("'%s': error '%s' does not mention '%s'", s ? s : "(null)", err, msg);
	assert_null(o.path);
	assert_null(o.base);
	assert_null(o.serial);
}

static void test_parse_errors(void **state)
{
	expect_parse_error(NULL, "empty");
	expect_parse_error("", "empty");
	expect_parse_error("ro", "needs path=FILE");
	expect_parse_error("path=", "needs a value");
	expect_parse_error("path=a,path=b", "given twice");
	expect_parse_error("path=a,ro,ro", "given twice");
	expect_parse_error("path=a,ro=on", "takes no value");
	expect_parse_error("path=a,cache=unsafe", "expected none or writeback");
	expect_parse_error("path=a,cache=none,cache=none", "given twice");
	expect_parse_error("path=a,serial=012345678901234567890", "at most 20");
	expect_parse_error("path=a,serial=a b", "printable");
	expect_parse_error("path=a,,ro", "empty item");
	expect_parse_error("path=a,", "empty item");
	expect_parse_error("path=a,format=qcow2", "unknown disk option 'format=qcow2'");
	expect_parse_error("path=a,base=", "needs a value");
	expect_parse_error("file=a", "unknown disk option");
}

#define T(fn, s) cmocka_unit_test_setup_teardown(fn, s, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_overlay_rw, setup_uring),
	    T(test_overlay_rw, setup_sync),
	    T(test_overlay_rw, setup_direct),
	    T(test_overlay_rw, setup_direct_sync),
	    T(test_overlay_close_persists, setup_uring),
	    T(test_overlay_last_sectors, setup_uring),
	    T(test_overlay_last_sectors, setup_direct),
	    T(test_overlay_discard, setup_uring),
	    T(test_overlay_errors, setup_uring),
	    cmocka_unit_test(test_parse_ok),
	    cmocka_unit_test(test_parse_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
