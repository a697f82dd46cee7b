/* Unit tests for the virtio entropy device: requests filled from a fake byte source through the
 * virtio-mmio transport, used lengths, limits, malformed requests and source failures. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "virtio/virtio_rng.h"
#include "virtq_builder.h"

#define QSIZE 32
#define DESC 0x1000
#define AVAIL 0x2000
#define USED 0x3000
#define ITABLE 0x4000
#define BUF 0x10000
#define REGION_B 0x200000ull /* second region, adjacent to the first */

struct fake {
	int level;
	unsigned notifies;
	uint8_t next_byte;
	size_t calls;
	size_t max_chunk;  /* 0: fill everything asked for */
	size_t fail_after; /* fail once this many bytes were given (0: never) */
	size_t given;
	int error; /* what a failure returns */
};

struct fixture {
	struct fake f;
	struct gmem gm;
	struct virtio_rng *rng;
	struct virtio_dev *vdev;
	struct virtio_mmio *m;
	struct vqb b;
};

static void fake_irq_set(void *ctx, unsigned gsi, int level)
{
	struct fake *f = ctx;
	f->level = level;
}

static void fake_notify(void *ctx, unsigned q)
{
	struct fake *f = ctx;
	f->notifies++;
}

/* Bytes 0, 1, 2, ... in order; optionally short reads and a failure after some bytes. */
static ssize_t fake_source(void *ctx, void *buf, size_t len)
{
	struct fake *f = ctx;
	uint8_t *p = buf;

	f->calls++;
	if (f->fail_after && f->given >= f->fail_after)
		return f->error;
	if (f->max_chunk && len > f->max_chunk)
		len = f->max_chunk;
	if (f->fail_after && len > f->fail_after - f->given)
		len = f->fail_after - f->given;
	for (size_t i = 0; i < len; i++)
		p[i] = f->next_byte++;
	f->given += len;
	return (ssize_t)len;
}

static int setup_with(void **state, virtio_rng_source_fn src)
{
	struct fixture *fx = test_calloc(1, sizeof(*fx));
	struct irq_line irq = {fake_irq_set, &fx->f, 16};

	assert_int_equal(fake_mem_add(&fx->gm, 0, REGION_B), 0);
	assert_int_equal(fake_mem_add(&fx->gm, REGION_B, 0x200000), 0);
	assert_int_equal(virtio_rng_create(&fx->gm, src, &fx->f, &fx->rng), 0);
	fx->vdev = virtio_rng_dev(fx->rng);
	assert_int_equal(virtio_mmio_create(fx->vdev, irq, fake_notify, &fx->f, &fx->m), 0);
	vqb_init(&fx->b, &fx->gm, QSIZE, DESC, AVAIL, USED);
	assert_true(mmio_negotiate(fx->m, VIRTIO_CORE_FEATURES) & VIRTIO_STATUS_FEATURES_OK);
	assert_int_equal(mmio_setup_queue(fx->m, 0, &fx->b), 1);
	mmio_driver_ok(fx->m);
	*state = fx;
	return 0;
}

static int setup(void **state)
{
	return setup_with(state, fake_source);
}

static int setup_getrandom(void **state)
{
	return setup_with(state, NULL);
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	virtio_mmio_destroy(fx->m);
	virtio_rng_destroy(fx->rng);
	fake_mem_destroy(&fx->gm);
	test_free(fx);
	return 0;
}

static uint32_t used_len(struct fixture *fx, uint16_t i, uint16_t head)
{
	uint32_t id, len;
	vqb_used_elem(&fx->b, i, &id, &len);
	assert_int_equal(id, head);
	return len;
}

/* Every byte of [gpa, gpa+len) continues the counter from *expect. */
static void expect_counter(struct fixture *fx, uint64_t gpa, size_t len, uint8_t *expect)
{
	uint8_t *p = fake_mem_ptr(&fx->gm, gpa);
	for (size_t i = 0; i < len; i++)
		assert_int_equal(p[i], (*expect)++);
}

static void test_single_request(void **state)
{
	struct fixture *fx = *state;
	struct vqb_seg seg = {BUF, 100, 1};
	uint8_t expect = 0;

	uint16_t head = vqb_add(&fx->b, &seg, 1);
	assert_int_equal(virtio_dev_notify(fx->vdev, 0), 0);
	assert_int_equal(vqb_used_idx(&fx->b), 1);
	assert_int_equal(used_len(fx, 0, head), 100);
	expect_counter(fx, BUF, 100, &expect);
	assert_int_equal(fake_mem_ptr(&fx->gm, BUF)[100], 0); /* nothing past the buffer */
	assert_int_equal(fx->f.level, 1);
	assert_int_equal(mmio_rd(fx->m, VIRTIO_MMIO_STATUS), 0x0f);
}

static void test_segments_and_regions(void **state)
{
	struct fixture *fx = *state;
	/* Three writable buffers, the middle one across the region boundary, one indirect. */
	struct vqb_seg segs[] = {{BUF, 10, 1}, {REGION_B - 5, 20, 1}, {BUF + 0x1000, 7, 1}};
	uint8_t expect = 0;

	uint16_t head = vqb_add(&fx->b, segs, 3);
	assert_int_equal(virtio_dev_notify(fx->vdev, 0), 0);
	assert_int_equal(used_len(fx, 0, head), 37);
	expect_counter(fx, BUF, 10, &expect);
	expect_counter(fx, REGION_B - 5, 5, &expect);
	expect_counter(fx, REGION_B, 15, &expect);
	expect_counter(fx, BUF + 0x1000, 7, &expect);

	head = vqb_indirect(&fx->b, ITABLE, segs, 2);
	vqb_publish(&fx->b, head);
	assert_int_equal(virtio_dev_notify(fx->vdev, 0), 0);
	assert_int_equal(used_len(fx, 1, head), 30);
	expect_counter(fx, BUF, 10, &expect);
}

static void test_request_size_limit(void **state)
{
	struct fixture *fx = *state;
	/* 200 KiB asked for, in two buffers: only the first VIRTIO_RNG_MAX_REQ bytes are given. */
	struct vqb_seg segs[] = {{BUF, 0x8000, 1}, {BUF + 0x8000, 0x28000, 1}};
	uint8_t expect = 0;

	uint16_t head = vqb_add(&fx->b, segs, 2);
	assert_int_equal(virtio_dev_notify(fx->vdev, 0), 0);
	assert_int_equal(used_len(fx, 0, head), VIRTIO_RNG_MAX_REQ);
	expect_counter(fx, BUF, VIRTIO_RNG_MAX_REQ, &expect);
	assert_int_equal(fake_mem_ptr(&fx->gm, BUF)[VIRTIO_RNG_MAX_REQ], 0);
}

static void test_budget_per_notify(void **state)
{
	struct fixture *fx = *state;
	const unsigned per_call = VIRTIO_RNG_BUDGET / VIRTIO_RNG_MAX_REQ;
	const unsigned n = per_call + 4;

	for (unsigned i = 0; i < n; i++) {
		struct vqb_seg seg = {BUF + (uint64_t)i * VIRTIO_RNG_MAX_REQ, VIRTIO_RNG_MAX_REQ,
				      1};
		vqb_add(&fx->b, &seg, 1);
	}
	assert_int_equal(virtio_dev_notify(fx->vdev, 0), 1); /* more work left */
	assert_int_equal(vqb_used_idx(&fx->b), per_call);
	assert_int_equal(fx->f.level, 1);
	assert_int_equal(virtio_dev_notify(fx->vdev, 0), 0);
	assert_int_equal(vqb_used_idx(&fx->b), n);
	for (unsigned i = 0; i < n; i++)
		assert_int_equal(used_len(fx, (uint16_t)i, (uint16_t)i), VIRTIO_RNG_MAX_REQ);
}

static void test_readable_buffer_is_malformed(void **state)
{
	struct fixture *fx = *state;
	struct vqb_seg good = {BUF, 8, 1};
	struct vqb_seg bad[] = {{BUF + 0x100, 8, 0}, {BUF + 0x200, 8, 1}};

	vqb_add(&fx->b, &good, 1);
	vqb_add(&fx->b, bad, 2);
	vqb_add(&fx->b, &good, 1);
	assert_int_equal(virtio_dev_notify(fx->vdev, 0), 0);
	/* The first request was served; the malformed one broke the queue and nothing after it
	 * was touched. */
	assert_int_equal(vqb_used_idx(&fx->b), 1);
	assert_int_equal(fake_mem_ptr(&fx->gm, BUF + 0x200)[1], 0);
	assert_int_equal(mmio_rd(fx->m, VIRTIO_MMIO_STATUS), 0x0f | VIRTIO_STATUS_NEEDS_RESET);
	assert_int_equal(mmio_rd(fx->m, VIRTIO_MMIO_INTERRUPT_STATUS),
			 VIRTIO_INT_USED | VIRTIO_INT_CONFIG);
	assert_int_equal(virtio_dev_notify(fx->vdev, 0), 0);
	assert_int_equal(vqb_used_idx(&fx->b), 1);
}

static void test_malformed_chain(void **state)
{
	struct fixture *fx = *state;

	/* A buffer outside RAM: broken queue, NEEDS_RESET, config interrupt. */
	struct vqb_seg seg = {0x7fff0000, 8, 1};
	vqb_add(&fx->b, &seg, 1);
	assert_int_equal(virtio_dev_notify(fx->vdev, 0), 0);
	assert_int_equal(vqb_used_idx(&fx->b), 0);
	assert_true(mmio_rd(fx->m, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
	assert_int_equal(mmio_rd(fx->m, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_INT_CONFIG);
	assert_int_equal(fx->f.level, 1);
	assert_int_equal(fx->f.calls, 0);
}

static void test_zero_length_request(void **state)
{
	struct fixture *fx = *state;
	struct vqb_seg seg = {BUF, 0, 1};

	uint16_t head = vqb_add(&fx->b, &seg, 1);
	assert_int_equal(virtio_dev_notify(fx->vdev, 0), 0);
	assert_int_equal(used_len(fx, 0, head), 0);
	assert_int_equal(fx->f.calls, 0);
	assert_false(mmio_rd(fx->m, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
}

static void test_short_reads(void **state)
{
	struct fixture *fx = *state;
	struct vqb_seg seg = {BUF, 1000, 1};
	uint8_t expect = 0;

	fx->f.max_chunk = 7; /* the source gives at most 7 bytes per call */
	uint16_t head = vqb_add(&fx->b, &seg, 1);
	assert_int_equal(virtio_dev_notify(fx->vdev, 0), 0);
	assert_int_equal(used_len(fx, 0, head), 1000);
	expect_counter(fx, BUF, 1000, &expect);
	assert_int_equal(fx->f.calls, (1000 + 6) / 7);
}

static void test_source_failure(void **state)
{
	struct fixture *fx = *state;
	struct vqb_seg segs[] = {{BUF, 40, 1}, {BUF + 0x100, 40, 1}};

	/* The source fails after 50 bytes: the request returns with those 50. */
	fx->f.fail_after = 50;
	fx->f.error = -EIO;
	uint16_t head = vqb_add(&fx->b, segs, 2);
	assert_int_equal(virtio_dev_notify(fx->vdev, 0), 0);
	assert_int_equal(used_len(fx, 0, head), 50);
	/* Failing from the start: used length 0, and the device keeps working. */
	fx->f.error = -EAGAIN;
	head = vqb_add(&fx->b, segs, 1);
	assert_int_equal(virtio_dev_notify(fx->vdev, 0), 0);
	assert_int_equal(used_len(fx, 1, head), 0);
	/* The source recovers; then one that claims more than it was asked for counts as failed. */
	fx->f.fail_after = 0;
	fx->f.max_chunk = 0;
	fx->f.error = 0;
	fx->f.given = 0;
	head = vqb_add(&fx->b, segs, 1);
	assert_int_equal(virtio_dev_notify(fx->vdev, 0), 0);
	assert_int_equal(used_len(fx, 2, head), 40);
	fx->f.fail_after = 1;
	fx->f.given = 1;
	fx->f.error = 100000;
	head = vqb_add(&fx->b, segs, 1);
	assert_int_equal(virtio_dev_notify(fx->vdev, 0), 0);
	assert_int_equal(used_len(fx, 3, head), 0);
	assert_false(mmio_rd(fx->m, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
}

static void test_not_before_driver_ok(void **state)
{
	struct fixture *fx = *state;
	struct vqb_seg seg = {BUF, 16, 1};

	/* Reset and set the queue up again, but stop before DRIVER_OK. */
	assert_true(mmio_negotiate(fx->m, VIRTIO_CORE_FEATURES) & VIRTIO_STATUS_FEATURES_OK);
	vqb_init(&fx->b, &fx->gm, QSIZE, DESC, AVAIL, USED);
	assert_int_equal(mmio_setup_queue(fx->m, 0, &fx->b), 1);
	vqb_add(&fx->b, &seg, 1);
	assert_int_equal(virtio_dev_notify(fx->vdev, 0), 0);
	assert_int_equal(vqb_used_idx(&fx->b), 0);
	assert_int_equal(fx->f.calls, 0);
	unsigned kicks = fx->f.notifies;
	mmio_driver_ok(fx->m);
	assert_int_equal(fx->f.notifies, kicks + 1); /* the pending buffer gets a kick */
	assert_int_equal(virtio_dev_notify(fx->vdev, 0), 0);
	assert_int_equal(vqb_used_idx(&fx->b), 1);
}

static void test_getrandom_source(void **state)
{
	struct fixture *fx = *state;
	struct vqb_seg seg = {BUF, 4096, 1};
	unsigned zeros = 0;

	uint16_t head = vqb_add(&fx->b, &seg, 1);
	assert_int_equal(virtio_dev_notify(fx->vdev, 0), 0);
	assert_int_equal(used_len(fx, 0, head), 4096);
	for (unsigned i = 0; i < 4096; i++)
		zeros += fake_mem_ptr(&fx->gm, BUF)[i] == 0;
	assert_true(zeros < 100); /* about 16 expected from random bytes */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_single_request, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_segments_and_regions, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_request_size_limit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_budget_per_notify, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_readable_buffer_is_malformed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_malformed_chain, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_zero_length_request, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_short_reads, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_source_failure, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_not_before_driver_ok, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_getrandom_source, setup_getrandom, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
