/* Unit tests for the virtio balloon, driven through virtio-mmio and fake queues over real
 * anonymous guest memory (gmem_init_ram): configuration (target, actual, the config interrupt),
 * inflate discarding pages (zero and not resident afterwards, neighbours kept, frames outside RAM
 * skipped), deflate, requests in the wrong direction (NEEDS_RESET), statistics held and returned
 * on request, free page reporting, option parsing and save/load. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include <cmocka.h>

#include "virtio/virtio_balloon.h"
#include "virtq_builder.h"

#define QSIZE 16
#define RAM (4ull << 20)
#define REQ 0x20000ull /* request buffers */
#define PAGES 0x100    /* pfn of the pages the tests balloon */

struct fixture {
	struct gmem gm;
	struct virtio_balloon *b;
	struct virtio_dev *vdev;
	struct virtio_mmio *m;
	struct vqb q[4];
	int level;
};

static void fake_irq_set(void *ctx, unsigned gsi, int level)
{
	((struct fixture *)ctx)->level = level;
}

static void fake_notify(void *ctx, unsigned q)
{
}

static void fixture_init(struct fixture *fx, bool reporting)
{
	struct virtio_balloon_opts o = {.size = 1 << 20, .reporting = reporting};
	unsigned nq = reporting ? 4 : 3;

	assert_int_equal(gmem_init_ram(&fx->gm, RAM), 0);
	assert_int_equal(virtio_balloon_create(&fx->gm, &o, NULL, &fx->b), 0);
	fx->vdev = virtio_balloon_dev(fx->b);
	assert_int_equal(virtio_mmio_create(fx->vdev, (struct irq_line){fake_irq_set, fx, 16},
					    fake_notify, fx, &fx->m),
			 0);
	for (unsigned q = 0; q < nq; q++)
		vqb_init(&fx->q[q], &fx->gm, QSIZE, 0x1000ull * (1 + 3 * q),
			 0x1000ull * (2 + 3 * q), 0x1000ull * (3 + 3 * q));
	uint64_t feat = VIRTIO_CORE_FEATURES | VIRTIO_BIT(VIRTIO_BALLOON_F_STATS_VQ) |
			(reporting ? VIRTIO_BIT(VIRTIO_BALLOON_F_PAGE_REPORTING) : 0);
	assert_true(mmio_negotiate(fx->m, feat) & VIRTIO_STATUS_FEATURES_OK);
	for (unsigned q = 0; q < nq; q++)
		assert_int_equal(mmio_setup_queue(fx->m, q, &fx->q[q]), 1);
	mmio_driver_ok(fx->m);
}

static int setup(void **state)
{
	struct fixture *fx = test_calloc(1, sizeof(*fx));
	fixture_init(fx, false);
	*state = fx;
	return 0;
}

static int setup_reporting(void **state)
{
	struct fixture *fx = test_calloc(1, sizeof(*fx));
	fixture_init(fx, true);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	virtio_mmio_destroy(fx->m);
	virtio_balloon_destroy(fx->b);
	gmem_destroy(&fx->gm);
	test_free(fx);
	return 0;
}

static uint32_t cfg_rd(struct fixture *fx, uint32_t off)
{
	return (uint32_t)virtio_mmio_ops.read(fx->m, VIRTIO_MMIO_CONFIG + off, 4);
}

/* Send n pfns on queue q as one readable buffer; returns the used length the device gave. */
static uint32_t send_pfns(struct fixture *fx, unsigned q, const uint32_t *pfns, unsigned n)
{
	struct vqb_seg s = {REQ, 4 * n, 0};
	uint32_t id, len;
	uint16_t before = vqb_used_idx(&fx->q[q]);

	for (unsigned i = 0; i < n; i++)
		gm_w32(&fx->gm, REQ + 4 * i, pfns[i]);
	uint16_t head = vqb_add(&fx->q[q], &s, 1);
	assert_int_equal(virtio_dev_notify(fx->vdev, q), 0);
	assert_int_equal(vqb_used_idx(&fx->q[q]), (uint16_t)(before + 1));
	vqb_used_elem(&fx->q[q], before, &id, &len);
	assert_int_equal(id, head);
	return len;
}

static uint8_t *page(struct fixture *fx, uint64_t pfn)
{
	return gmem_ptr(&fx->gm, pfn << 12, 4096, GMEM_READ);
}

static bool resident(struct fixture *fx, uint64_t pfn)
{
	unsigned char v;
	assert_int_equal(mincore(page(fx, pfn), 4096, &v), 0);
	return v & 1;
}

static void test_config(void **state)
{
	struct fixture *fx = *state;
	struct virtio_balloon *b2;
	struct virtio_balloon_opts big = {.size = RAM + 4096};

	assert_int_equal(mmio_rd(fx->m, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_BALLOON);
	mmio_wr(fx->m, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	assert_true(mmio_rd(fx->m, VIRTIO_MMIO_DEVICE_FEATURES) &
		    (1u << VIRTIO_BALLOON_F_STATS_VQ));
	assert_false(mmio_rd(fx->m, VIRTIO_MMIO_DEVICE_FEATURES) &
		     (1u << VIRTIO_BALLOON_F_PAGE_REPORTING));
	assert_int_equal(cfg_rd(fx, VIRTIO_BALLOON_CFG_NUM_PAGES), 256); /* 1 MiB */
	assert_int_equal(cfg_rd(fx, VIRTIO_BALLOON_CFG_ACTUAL), 0);
	/* The driver writes actual (also in parts); num_pages is the device's. */
	virtio_mmio_ops.write(fx->m, VIRTIO_MMIO_CONFIG + VIRTIO_BALLOON_CFG_ACTUAL, 4, 0x1234);
	virtio_mmio_ops.write(fx->m, VIRTIO_MMIO_CONFIG + VIRTIO_BALLOON_CFG_ACTUAL + 1, 1, 0x56);
	virtio_mmio_ops.write(fx->m, VIRTIO_MMIO_CONFIG + VIRTIO_BALLOON_CFG_NUM_PAGES, 4, 7);
	assert_int_equal(cfg_rd(fx, VIRTIO_BALLOON_CFG_ACTUAL), 0x5634);
	assert_int_equal(cfg_rd(fx, VIRTIO_BALLOON_CFG_NUM_PAGES), 256);
	/* A new target: the configuration interrupt and generation. */
	uint32_t gen = mmio_rd(fx->m, VIRTIO_MMIO_CONFIG_GENERATION);
	assert_int_equal(fx->level, 0);
	assert_int_equal(virtio_balloon_set_target(fx->b, 2ull << 20), 0);
	assert_int_equal(cfg_rd(fx, VIRTIO_BALLOON_CFG_NUM_PAGES), 512);
	assert_int_equal(fx->level, 1);
	assert_int_equal(mmio_rd(fx->m, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_INT_CONFIG);
	assert_int_not_equal(mmio_rd(fx->m, VIRTIO_MMIO_CONFIG_GENERATION), gen);
	assert_int_equal(virtio_balloon_set_target(fx->b, RAM + 4096), -EINVAL);
	assert_int_equal(cfg_rd(fx, VIRTIO_BALLOON_CFG_NUM_PAGES), 512);
	assert_int_equal(virtio_balloon_create(&fx->gm, &big, NULL, &b2), -EINVAL);
	/* A reset forgets actual, not the target. */
	mmio_wr(fx->m, VIRTIO_MMIO_STATUS, 0);
	assert_int_equal(cfg_rd(fx, VIRTIO_BALLOON_CFG_ACTUAL), 0);
	assert_int_equal(cfg_rd(fx, VIRTIO_BALLOON_CFG_NUM_PAGES), 512);
}

static void test_inflate_deflate(void **state)
{
	struct fixture *fx = *state;
	struct virtio_balloon_info info;
	/* A run of four, a single page, a frame past RAM, one in the 32-bit hole, a duplicate. */
	const uint32_t pfns[] = {PAGES,	    PAGES + 1, PAGES + 2, PAGES + 3,
				 PAGES + 6, 0xfffff,   0xc0000,	  PAGES + 6};

	for (unsigned i = 0; i < 8; i++)
		memset(page(fx, PAGES + i), 0x5a, 4096);
	assert_int_equal(send_pfns(fx, VIRTIO_BALLOON_INFLATEQ, pfns, 8), 0);
	for (unsigned i = 0; i < 8; i++) {
		bool gone = i < 4 || i == 6;
		assert_int_equal(resident(fx, PAGES + i), !gone);
		assert_int_equal(page(fx, PAGES + i)[100], gone ? 0 : 0x5a);
	}
	virtio_balloon_get_info(fx->b, &info);
	assert_int_equal(info.inflated, 8);
	assert_false(mmio_rd(fx->m, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET);

	/* Deflate: bookkeeping; the pages are usable (and zero) again. */
	assert_int_equal(send_pfns(fx, VIRTIO_BALLOON_DEFLATEQ, pfns, 4), 0);
	virtio_balloon_get_info(fx->b, &info);
	assert_int_equal(info.deflated, 4);
	assert_int_equal(page(fx, PAGES)[0], 0);

	/* Trailing bytes that are not a whole pfn are ignored. */
	struct vqb_seg odd = {REQ, 6, 0};
	gm_w32(&fx->gm, REQ, PAGES + 7);
	vqb_add(&fx->q[0], &odd, 1);
	assert_int_equal(virtio_dev_notify(fx->vdev, 0), 0);
	assert_int_equal(page(fx, PAGES + 7)[0], 0);
	virtio_balloon_get_info(fx->b, &info);
	assert_int_equal(info.inflated, 9);

	/* A writable segment in an inflate request is a chain error. */
	struct vqb_seg w = {REQ, 8, 1};
	vqb_add(&fx->q[0], &w, 1);
	assert_int_equal(virtio_dev_notify(fx->vdev, 0), 0);
	assert_true(mmio_rd(fx->m, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
}

static void put_stat(struct fixture *fx, uint64_t gpa, uint16_t tag, uint64_t val)
{
	uint8_t e[10];
	for (int i = 0; i < 2; i++)
		e[i] = (uint8_t)(tag >> (8 * i));
	for (int i = 0; i < 8; i++)
		e[2 + i] = (uint8_t)(val >> (8 * i));
	assert_int_equal(gmem_write(&fx->gm, gpa, e, sizeof(e)), 0);
}

static void test_stats(void **state)
{
	struct fixture *fx = *state;
	struct virtio_balloon_info info;
	struct vqb *q = &fx->q[VIRTIO_BALLOON_STATSQ];
	struct vqb_seg s = {REQ, 30, 0};

	assert_int_equal(virtio_balloon_request_stats(fx->b), -EAGAIN); /* nothing posted */
	put_stat(fx, REQ, VIRTIO_BALLOON_S_MEMFREE, 123 << 20);
	put_stat(fx, REQ + 10, 77, 1); /* unknown tag: ignored */
	put_stat(fx, REQ + 20, VIRTIO_BALLOON_S_MEMTOT, 456 << 20);
	uint16_t head = vqb_add(q, &s, 1);
	assert_int_equal(virtio_dev_notify(fx->vdev, VIRTIO_BALLOON_STATSQ), 0);
	virtio_balloon_get_info(fx->b, &info);
	assert_int_equal(info.stats_updates, 1);
	assert_true(info.stats_valid[VIRTIO_BALLOON_S_MEMFREE]);
	assert_int_equal(info.stats[VIRTIO_BALLOON_S_MEMFREE], 123 << 20);
	assert_int_equal(info.stats[VIRTIO_BALLOON_S_MEMTOT], 456 << 20);
	assert_false(info.stats_valid[VIRTIO_BALLOON_S_SWAP_IN]);
	assert_int_equal(vqb_used_idx(q), 0); /* held */

	/* A request hands the buffer back; the driver refills it. */
	assert_int_equal(virtio_balloon_request_stats(fx->b), 0);
	assert_int_equal(virtio_balloon_request_stats(fx->b), -EAGAIN);
	assert_int_equal(vqb_used_idx(q), 1);
	uint32_t id, len;
	vqb_used_elem(q, 0, &id, &len);
	assert_int_equal(id, head);
	assert_int_equal(len, 0);
	put_stat(fx, REQ, VIRTIO_BALLOON_S_MEMFREE, 100 << 20);
	vqb_add(q, &s, 1);
	assert_int_equal(virtio_dev_notify(fx->vdev, VIRTIO_BALLOON_STATSQ), 0);
	virtio_balloon_get_info(fx->b, &info);
	assert_int_equal(info.stats_updates, 2);
	assert_int_equal(info.stats[VIRTIO_BALLOON_S_MEMFREE], 100 << 20);

	/* Save with the buffer held; a fresh device loads it, returns the held head on request. */
	struct virtio_mmio_state *st = test_malloc(sizeof(*st)), *st2 = test_malloc(sizeof(*st2));
	struct virtio_balloon *b2;
	struct virtio_mmio *m2;
	struct virtio_balloon_opts o = {0};
	assert_int_equal(virtio_mmio_save(fx->m, st), 0);
	assert_int_equal(virtio_balloon_create(&fx->gm, &o, NULL, &b2), 0);
	assert_int_equal(
	    virtio_mmio_create(virtio_balloon_dev(b2), (struct irq_line){0}, fake_notify, fx, &m2),
	    0);
	assert_int_equal(virtio_mmio_load(m2, st), 0);
	assert_int_equal(virtio_mmio_save(m2, st2), 0);
	assert_memory_equal(st, st2, sizeof(*st));
	virtio_balloon_get_info(b2, &info);
	assert_int_equal(info.target_pages, 256);
	assert_int_equal(info.stats[VIRTIO_BALLOON_S_MEMFREE], 100 << 20);
	assert_int_equal(virtio_balloon_request_stats(b2), 0);
	assert_int_equal(vqb_used_idx(q), 2);
	vqb_used_elem(q, 1, &id, &len);
	assert_int_equal(id, (uint16_t)(head + 1));
	/* Refused: a bad version, a target beyond RAM, a head beyond the queue. */
	uint32_t *w = (uint32_t *)st->dev.dev;
	w[0] = 2;
	assert_int_equal(virtio_mmio_load(m2, st), -EINVAL);
	w[0] = 1;
	w[1] = (uint32_t)(RAM >> 12) + 1;
	assert_int_equal(virtio_mmio_load(m2, st), -EINVAL);
	w[1] = 0;
	w[12] = VIRTIO_BALLOON_QUEUE_SIZE; /* stats_head, after 4 u32 and 4 u64 */
	assert_int_equal(virtio_mmio_load(m2, st), -EINVAL);
	virtio_mmio_destroy(m2);
	virtio_balloon_destroy(b2);
	test_free(st);
	test_free(st2);
}

static void test_reporting(void **state)
{
	struct fixture *fx = *state;
	struct virtio_balloon_info info;
	struct vqb *q = &fx->q[VIRTIO_BALLOON_REPORTQ];
	/* 3 pages, and a buffer that holds no whole page. */
	struct vqb_seg s[2] = {{PAGES << 12, 3 * 4096, 1}, {(PAGES + 8ull) << 12 | 8, 4000, 1}};

	mmio_wr(fx->m, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	assert_true(mmio_rd(fx->m, VIRTIO_MMIO_DEVICE_FEATURES) &
		    (1u << VIRTIO_BALLOON_F_PAGE_REPORTING));
	for (unsigned i = 0; i < 9; i++)
		memset(page(fx, PAGES + i), 0x77, 4096);
	vqb_add(q, s, 2);
	assert_int_equal(virtio_dev_notify(fx->vdev, VIRTIO_BALLOON_REPORTQ), 0);
	assert_int_equal(vqb_used_idx(q), 1);
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(page(fx, PAGES + i)[7], 0);
	assert_int_equal(page(fx, PAGES + 3)[7], 0x77);
	assert_int_equal(page(fx, PAGES + 8)[100], 0x77);
	virtio_balloon_get_info(fx->b, &info);
	assert_int_equal(info.reported, 3);
	/* A readable segment in a report is a chain error. */
	struct vqb_seg r = {REQ, 4096, 0};
	vqb_add(q, &r, 1);
	assert_int_equal(virtio_dev_notify(fx->vdev, VIRTIO_BALLOON_REPORTQ), 0);
	assert_true(mmio_rd(fx->m, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
}

static void test_opts(void **state)
{
	struct virtio_balloon_opts o;
	char err[128];

	assert_int_equal(virtio_balloon_parse_opts("", &o, err, sizeof(err)), 0);
	assert_int_equal(o.size, 0);
	assert_int_equal(
	    virtio_balloon_parse_opts("size=128M,stats=5,reporting", &o, err, sizeof(err)), 0);
	assert_int_equal(o.size, 128ull << 20);
	assert_int_equal(o.stats_secs, 5);
	assert_true(o.reporting);
	static const char *const bad[] = {
	    "size=",	       "size=12X",   "stats=4000",	   "stats=1K",
	    "size=1M,size=2M", "colour=red", "reporting,reporting"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(virtio_balloon_parse_opts(bad[i], &o, err, sizeof(err)), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_config, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_inflate_deflate, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stats, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reporting, setup_reporting, teardown),
	    cmocka_unit_test(test_opts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
