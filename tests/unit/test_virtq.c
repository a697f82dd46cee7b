/* Unit tests for the split virtqueue: chains, indirect tables, malformed input from a hostile
 * driver, notification suppression, save/load. Guest memory is fake: two adjacent regions
 * [0, 64K) and [64K, 128K), and one more at [1M, 1M+64K). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include <cmocka.h>

#include "virtq_builder.h"

#define QSIZE 16
#define DESC 0x1000
#define AVAIL 0x2000
#define USED 0x3000
#define ITABLE 0x4000
#define BUF 0x8000
#define REGION_B 0x10000ull
#define REGION_C 0x100000ull

struct fixture {
	struct gmem gm;
	struct virtq vq;
	struct vqb b;
	struct virtq_elem *e;
};

static int setup(void **state)
{
	struct fixture *fx = test_calloc(1, sizeof(*fx));
	assert_int_equal(fake_mem_add(&fx->gm, 0, 0x10000), 0);
	assert_int_equal(fake_mem_add(&fx->gm, REGION_B, 0x10000), 0);
	assert_int_equal(fake_mem_add(&fx->gm, REGION_C, 0x10000), 0);
	assert_int_equal(virtq_init(&fx->vq, &fx->gm, 256), 0);
	fx->e = test_malloc(sizeof(*fx->e));
	vqb_init(&fx->b, &fx->gm, QSIZE, DESC, AVAIL, USED);
	assert_int_equal(virtq_set_size(&fx->vq, QSIZE), 0);
	assert_int_equal(virtq_set_addrs(&fx->vq, DESC, AVAIL, USED), 0);
	assert_int_equal(virtq_enable(&fx->vq), 0);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	virtq_destroy(&fx->vq);
	fake_mem_destroy(&fx->gm);
	test_free(fx->e);
	test_free(fx);
	return 0;
}

/* Pop and expect -EIO with the queue broken, and the queue to stay broken. */
static void expect_broken(struct fixture *fx)
{
	assert_int_equal(virtq_pop(&fx->vq, fx->e), -EIO);
	assert_true(virtq_broken(&fx->vq));
	assert_int_equal(virtq_pop(&fx->vq, fx->e), -EIO);
	assert_int_equal(virtq_needs_notify(&fx->vq), 0);
}

static void test_enable_checks(void **state)
{
	struct fixture *fx = *state;
	struct virtq *vq = &fx->vq;

	/* Configuration cannot change while ready. */
	assert_int_equal(virtq_set_size(vq, 8), -EBUSY);
	assert_int_equal(virtq_set_addrs(vq, 0, 0, 0), -EBUSY);
	virtq_disable(vq);
	assert_false(vq->ready);

	static const uint32_t bad_sizes[] = {0, 3, 24, 512, 65536, 0xffffffff};
	for (unsigned i = 0; i < sizeof(bad_sizes) / sizeof(bad_sizes[0]); i++) {
		assert_int_equal(virtq_set_size(vq, bad_sizes[i]), -EINVAL);
		assert_int_equal(virtq_enable(vq), -EINVAL);
		assert_false(vq->ready);
	}
	assert_int_equal(virtq_set_size(vq, QSIZE), 0);

	static const uint64_t bad[][3] = {
	    {DESC + 8, AVAIL, USED}, /* descriptor table not 16-aligned */
	    {DESC, AVAIL + 1, USED}, /* avail ring not 2-aligned */
	    {DESC, AVAIL, USED + 2}, /* used ring not 4-aligned */
	    {0x30000, AVAIL, USED},  /* not RAM */
	    {DESC, 0x30000, USED},
	    {DESC, AVAIL, 0x30000},
	    {REGION_B - 0x80, AVAIL, USED},	      /* table spans two regions */
	    {DESC, AVAIL, REGION_C + 0x10000 - 0x40}, /* used ring runs off the end of RAM */
	    {0xfffffffffffffff0ull, AVAIL, USED},     /* wraps around */
	};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(virtq_set_addrs(vq, bad[i][0], bad[i][1], bad[i][2]), 0);
		assert_int_equal(virtq_enable(vq), -EINVAL);
		assert_false(vq->ready);
	}
	/* A queue that does not exist never enables; bad maximum sizes are refused. */
	struct virtq none;
	assert_int_equal(virtq_init(&none, &fx->gm, 0), 0);
	assert_int_equal(virtq_set_size(&none, 1), -EINVAL);
	assert_int_equal(virtq_enable(&none), -EINVAL);
	virtq_destroy(&none);
	assert_int_equal(virtq_init(&none, &fx->gm, 100), -EINVAL);
	assert_int_equal(virtq_init(&none, &fx->gm, 65536), -EINVAL);

	/* Not ready: pop finds nothing, push refuses. */
	assert_int_equal(virtq_pop(vq, fx->e), -EAGAIN);
	assert_int_equal(virtq_set_addrs(vq, DESC, AVAIL, USED), 0);
	assert_int_equal(virtq_enable(vq), 0);
	assert_int_equal(virtq_pop(vq, fx->e), -EAGAIN);
}

static void test_simple_chain(void **state)
{
	struct fixture *fx = *state;
	struct vqb_seg segs[] = {{BUF, 16, 0}, {BUF + 0x100, 32, 0}, {BUF + 0x200, 64, 1}};
	uint32_t id, len;

	uint16_t head = vqb_add(&fx->b, segs, 3);
	assert_int_equal(virtq_pop(&fx->vq, fx->e), 0);
	assert_int_equal(fx->e->head, head);
	assert_int_equal(fx->e->nr_read, 2);
	assert_int_equal(fx->e->nr_write, 1);
	assert_int_equal(fx->e->read_len, 48);
	assert_int_equal(fx->e->write_len, 64);
	assert_ptr_equal(fx->e->iov[0].iov_base, fake_mem_ptr(&fx->gm, BUF));
	assert_int_equal(fx->e->iov[0].iov_len, 16);
	assert_ptr_equal(fx->e->iov[1].iov_base, fake_mem_ptr(&fx->gm, BUF + 0x100));
	assert_ptr_equal(fx->e->iov[2].iov_base, fake_mem_ptr(&fx->gm, BUF + 0x200));
	assert_int_equal(fx->e->gpa[2], BUF + 0x200);
	assert_int_equal(virtq_pop(&fx->vq, fx->e), -EAGAIN);

	memset(fx->e->iov[2].iov_base, 0xab, 10);
	assert_int_equal(virtq_push(&fx->vq, fx->e, 65), -EINVAL); /* more than the buffer */
	assert_int_equal(vqb_used_idx(&fx->b), 0);
	assert_int_equal(virtq_push(&fx->vq, fx->e, 10), 0);
	assert_int_equal(vqb_used_idx(&fx->b), 1);
	vqb_used_elem(&fx->b, 0, &id, &len);
	assert_int_equal(id, head);
	assert_int_equal(len, 10);
	assert_false(virtq_broken(&fx->vq));
}

static void test_ring_wraps(void **state)
{
	struct fixture *fx = *state;
	struct vqb_seg seg = {BUF, 8, 1};
	uint32_t id, len;

	/* Far more elements than slots, in bursts of up to the queue size. */
	for (unsigned round = 0; round < 20; round++) {
		unsigned n = 1 + round % QSIZE;
		for (unsigned i = 0; i < n; i++)
			vqb_add(&fx->b, &seg, 1);
		for (unsigned i = 0; i < n; i++) {
			assert_int_equal(virtq_pop(&fx->vq, fx->e), 0);
			assert_int_equal(virtq_push(&fx->vq, fx->e, i % 9), 0);
		}
		assert_int_equal(virtq_pop(&fx->vq, fx->e), -EAGAIN);
	}
	assert_int_equal(vqb_used_idx(&fx->b), fx->b.avail_idx);
	vqb_used_elem(&fx->b, (uint16_t)(fx->b.avail_idx - 1), &id, &len);
	assert_int_equal(len, (19 % QSIZE) % 9); /* last round: n = 4, i = 3 */
}

static void test_index_wraps_at_65536(void **state)
{
	struct fixture *fx = *state;
	struct virtq_state st;
	struct vqb_seg seg = {BUF, 8, 1};
	uint32_t id, len;

	/* Start the queue near the 16-bit wrap of the free-running indices. */
	virtq_save(&fx->vq, &st);
	st.last_avail_idx = st.used_idx = st.signalled_used = 65530;
	assert_int_equal(virtq_load(&fx->vq, &st), 0);
	vqb_set_avail_idx(&fx->b, 65530);
	gm_w16(&fx->gm, USED + 2, 65530);
	for (unsigned i = 0; i < 12; i++)
		vqb_add(&fx->b, &seg, 1);
	assert_int_equal(fx->b.avail_idx, 6);
	for (unsigned i = 0; i < 12; i++) {
		assert_int_equal(virtq_pop(&fx->vq, fx->e), 0);
		assert_int_equal(virtq_push(&fx->vq, fx->e, 1), 0);
	}
	assert_int_equal(virtq_pop(&fx->vq, fx->e), -EAGAIN);
	assert_int_equal(vqb_used_idx(&fx->b), 6);
	vqb_used_elem(&fx->b, 5, &id, &len);
	assert_int_equal(len, 1);
}

static void test_chain_of_queue_size(void **state)
{
	struct fixture *fx = *state;
	struct vqb_seg segs[QSIZE];

	for (unsigned i = 0; i < QSIZE; i++)
		segs[i] = (struct vqb_seg){BUF + 16 * i, 16, i >= 10};
	vqb_add(&fx->b, segs, QSIZE);
	assert_int_equal(virtq_pop(&fx->vq, fx->e), 0);
	assert_int_equal(fx->e->nr_read, 10);
	assert_int_equal(fx->e->nr_write, 6);
}

static void test_loops(void **state)
{
	struct fixture *fx = *state;

	/* 0 -> 1 -> 0 -> ... */
	vqb_write_desc(&fx->b, 0, BUF, 4, VIRTQ_DESC_F_NEXT, 1);
	vqb_write_desc(&fx->b, 1, BUF, 4, VIRTQ_DESC_F_NEXT, 0);
	vqb_publish(&fx->b, 0);
	expect_broken(fx);
}

static void test_self_loop_zero_length(void **state)
{
	struct fixture *fx = *state;

	/* A zero-length self loop must still be caught by the chain limit. */
	vqb_write_desc(&fx->b, 3, 0, 0, VIRTQ_DESC_F_NEXT, 3);
	vqb_publish(&fx->b, 3);
	expect_broken(fx);
}

static void test_head_and_next_out_of_range(void **state)
{
	struct fixture *fx = *state;

	vqb_publish(&fx->b, QSIZE);
	expect_broken(fx);
	virtq_reset(&fx->vq);
	assert_false(virtq_broken(&fx->vq));

	assert_int_equal(virtq_set_size(&fx->vq, QSIZE), 0);
	assert_int_equal(virtq_set_addrs(&fx->vq, DESC, AVAIL, USED), 0);
	assert_int_equal(virtq_enable(&fx->vq), 0);
	vqb_init(&fx->b, &fx->gm, QSIZE, DESC, AVAIL, USED);
	vqb_write_desc(&fx->b, 0, BUF, 4, VIRTQ_DESC_F_NEXT, 0xffff);
	vqb_publish(&fx->b, 0);
	expect_broken(fx);
}

static void test_bad_addresses(void **state)
{
	static const struct {
		uint64_t addr;
		uint32_t len;
	} bad[] = {
	    {0x30000, 16},		   /* not RAM */
	    {REGION_B + 0xfff0, 0x20},	   /* runs past the end of RAM */
	    {0xfffffffffffffff0ull, 0x20}, /* wraps around 2^64 */
	    {0xffffffffffffffffull, 1},	   /* last byte of the address space */
	    {GMEM_HOLE_START, 4},	   /* MMIO hole */
	};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct fixture *fx;
		setup((void **)&fx);
		struct vqb_seg seg = {bad[i].addr, bad[i].len, (int)(i & 1)};
		vqb_add(&fx->b, &seg, 1);
		expect_broken(fx);
		teardown((void **)&fx);
	}
	(void)state;
}

static void test_avail_idx_jump(void **state)
{
	struct fixture *fx = *state;
	struct vqb_seg seg = {BUF, 8, 1};

	/* Exactly the queue size ahead is fine. */
	for (unsigned i = 0; i < QSIZE; i++)
		vqb_add(&fx->b, &seg, 1);
	for (unsigned i = 0; i < QSIZE; i++)
		assert_int_equal(virtq_pop(&fx->vq, fx->e), 0);
	assert_int_equal(virtq_pop(&fx->vq, fx->e), -EAGAIN);
	/* One more than that is not. */
	vqb_set_avail_idx(&fx->b, (uint16_t)(fx->b.avail_idx + QSIZE + 1));
	expect_broken(fx);
}

static void test_avail_idx_backwards(void **state)
{
	struct fixture *fx = *state;
	struct vqb_seg seg = {BUF, 8, 1};

	vqb_add(&fx->b, &seg, 1);
	assert_int_equal(virtq_pop(&fx->vq, fx->e), 0);
	vqb_set_avail_idx(&fx->b, 0); /* "unexposes" a buffer: a jump of 65535 */
	expect_broken(fx);
}

static void test_zero_length_descriptors(void **state)
{
	struct fixture *fx = *state;
	/* Zero-length descriptors are accepted whatever their address, and add no segment. */
	struct vqb_seg segs[] = {{0xdead00000000ull, 0, 0},
				 {BUF, 4, 0},
				 {0x30000, 0, 1},
				 {BUF + 64, 8, 1},
				 {0xffffffffffffffffull, 0, 1}};

	uint16_t head = vqb_add(&fx->b, segs, 5);
	assert_int_equal(virtq_pop(&fx->vq, fx->e), 0);
	assert_int_equal(fx->e->head, head);
	assert_int_equal(fx->e->nr_read, 1);
	assert_int_equal(fx->e->nr_write, 1);
	assert_int_equal(fx->e->read_len, 4);
	assert_int_equal(fx->e->write_len, 8);
	assert_int_equal(virtq_push(&fx->vq, fx->e, 8), 0);

	/* An element made only of a zero-length descriptor. */
	struct vqb_seg empty = {0, 0, 1};
	vqb_add(&fx->b, &empty, 1);
	assert_int_equal(virtq_pop(&fx->vq, fx->e), 0);
	assert_int_equal(fx->e->nr_read + fx->e->nr_write, 0);
	assert_int_equal(virtq_push(&fx->vq, fx->e, 0), 0);
	assert_int_equal(virtq_push(&fx->vq, fx->e, 1), -EINVAL);
}

static void test_read_after_write(void **state)
{
	struct fixture *fx = *state;
	struct vqb_seg segs[] = {{BUF, 4, 0}, {BUF + 16, 4, 1}, {BUF + 32, 4, 0}};

	vqb_add(&fx->b, segs, 3);
	expect_broken(fx);
}

static void test_indirect(void **state)
{
	struct fixture *fx = *state;
	struct vqb_seg segs[] = {{BUF, 12, 0}, {BUF + 0x100, 100, 1}, {BUF + 0x400, 50, 1}};

	/* Not negotiated: broken. */
	vqb_publish(&fx->b, vqb_indirect(&fx->b, ITABLE, segs, 3));
	expect_broken(fx);

	virtq_reset(&fx->vq);
	virtq_set_features(&fx->vq, false, true);
	assert_int_equal(virtq_set_size(&fx->vq, QSIZE), 0);
	assert_int_equal(virtq_set_addrs(&fx->vq, DESC, AVAIL, USED), 0);
	assert_int_equal(virtq_enable(&fx->vq), 0);
	vqb_init(&fx->b, &fx->gm, QSIZE, DESC, AVAIL, USED);
	uint16_t head = vqb_indirect(&fx->b, ITABLE, segs, 3);
	vqb_publish(&fx->b, head);
	assert_int_equal(virtq_pop(&fx->vq, fx->e), 0);
	assert_int_equal(fx->e->head, head);
	assert_int_equal(fx->e->nr_read, 1);
	assert_int_equal(fx->e->nr_write, 2);
	assert_int_equal(fx->e->read_len, 12);
	assert_int_equal(fx->e->write_len, 150);
	assert_ptr_equal(fx->e->iov[2].iov_base, fake_mem_ptr(&fx->gm, BUF + 0x400));

	/* Normal descriptors followed by an indirect one (the device must handle it); the
	 * indirect descriptor's own WRITE flag is ignored. */
	struct vqb_seg first = {BUF + 0x800, 7, 0};
	head = vqb_chain(&fx->b, &first, 1);
	vqb_write_desc(&fx->b, head, BUF + 0x800, 7, VIRTQ_DESC_F_NEXT, (uint16_t)(head + 1));
	vqb_write_desc(&fx->b, (uint16_t)(head + 1), ITABLE, 48,
		       VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_WRITE, 0);
	vqb_publish(&fx->b, head);
	assert_int_equal(virtq_pop(&fx->vq, fx->e), 0);
	assert_int_equal(fx->e->nr_read, 2);
	assert_int_equal(fx->e->read_len, 19);
	assert_int_equal(fx->e->write_len, 150);

	/* An indirect table that is not 16-aligned and crosses into the next region is copied. */
	uint64_t odd = REGION_B - 24;
	head = vqb_indirect(&fx->b, odd, segs, 3);
	vqb_publish(&fx->b, head);
	assert_int_equal(virtq_pop(&fx->vq, fx->e), 0);
	assert_int_equal(fx->e->write_len, 150);
	assert_false(virtq_broken(&fx->vq));
}

/* A queue with indirect descriptors negotiated, for the malformed-table cases. */
static void indirect_case(uint16_t flags, uint32_t table_len, uint64_t table_gpa,
			  void (*prepare)(struct fixture *fx))
{
	struct fixture *fx;
	setup((void **)&fx);
	virtq_set_features(&fx->vq, false, true);
	struct vqb_seg segs[] = {{BUF, 4, 0}, {BUF + 16, 4, 1}};
	vqb_indirect(&fx->b, ITABLE, segs, 2);
	vqb_write_desc(&fx->b, 0, table_gpa, table_len, flags, 1);
	if (prepare)
		prepare(fx);
	vqb_publish(&fx->b, 0);
	expect_broken(fx);
	teardown((void **)&fx);
}

static void nest(struct fixture *fx)
{
	vqb_write_desc_at(&fx->gm, ITABLE, 1, ITABLE, 32, VIRTQ_DESC_F_INDIRECT, 0);
}

static void iloop(struct fixture *fx)
{
	vqb_write_desc_at(&fx->gm, ITABLE, 1, BUF, 4, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 1);
}

static void inext_range(struct fixture *fx)
{
	vqb_write_desc_at(&fx->gm, ITABLE, 1, BUF, 4, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 2);
}

static void test_indirect_malformed(void **state)
{
	(void)state;
	indirect_case(VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, 32, ITABLE, NULL);
	indirect_case(VIRTQ_DESC_F_INDIRECT, 0, ITABLE, NULL);
	indirect_case(VIRTQ_DESC_F_INDIRECT, 24, ITABLE, NULL);
	indirect_case(VIRTQ_DESC_F_INDIRECT, 16 * (VIRTQ_INDIRECT_MAX + 1), ITABLE, NULL);
	indirect_case(VIRTQ_DESC_F_INDIRECT, 0xfffffff0u, ITABLE, NULL);
	indirect_case(VIRTQ_DESC_F_INDIRECT, 32, 0x30000, NULL);	   /* not RAM */
	indirect_case(VIRTQ_DESC_F_INDIRECT, 32, REGION_C + 0xfff0, NULL); /* runs off RAM */
	indirect_case(VIRTQ_DESC_F_INDIRECT, 32, ITABLE, nest);		   /* nested indirect */
	indirect_case(VIRTQ_DESC_F_INDIRECT, 32, ITABLE, iloop);       /* loop inside the table */
	indirect_case(VIRTQ_DESC_F_INDIRECT, 32, ITABLE, inext_range); /* next past the table */
}

static void test_region_split(void **state)
{
	struct fixture *fx = *state;
	/* Buffers that cross from region A into the adjacent region B become two segments. */
	struct vqb_seg segs[] = {{REGION_B - 0x100, 0x300, 0}, {REGION_B - 4, 8, 1}};

	vqb_add(&fx->b, segs, 2);
	assert_int_equal(virtq_pop(&fx->vq, fx->e), 0);
	assert_int_equal(fx->e->nr_read, 2);
	assert_int_equal(fx->e->nr_write, 2);
	assert_int_equal(fx->e->read_len, 0x300);
	assert_int_equal(fx->e->write_len, 8);
	assert_ptr_equal(fx->e->iov[0].iov_base, fake_mem_ptr(&fx->gm, REGION_B - 0x100));
	assert_int_equal(fx->e->iov[0].iov_len, 0x100);
	assert_ptr_equal(fx->e->iov[1].iov_base, fake_mem_ptr(&fx->gm, REGION_B));
	assert_int_equal(fx->e->iov[1].iov_len, 0x200);
	assert_int_equal(fx->e->gpa[1], REGION_B);
	assert_int_equal(fx->e->iov[2].iov_len, 4);
	assert_int_equal(fx->e->iov[3].iov_len, 4);
	assert_ptr_equal(fx->e->iov[3].iov_base, fake_mem_ptr(&fx->gm, REGION_B));

	/* Pushing marks the written bytes (in both regions) and the used ring dirty. */
	gmem_test_and_clear_dirty(&fx->gm, REGION_B - 4);
	gmem_test_and_clear_dirty(&fx->gm, REGION_B);
	gmem_test_and_clear_dirty(&fx->gm, USED);
	assert_int_equal(virtq_push(&fx->vq, fx->e, 6), 0);
	assert_int_equal(gmem_test_and_clear_dirty(&fx->gm, REGION_B - 4), 1);
	assert_int_equal(gmem_test_and_clear_dirty(&fx->gm, REGION_B), 1);
	assert_int_equal(gmem_test_and_clear_dirty(&fx->gm, USED), 1);
}

static void test_too_many_segments(void **state)
{
	struct fixture *fx = *state;

	virtq_set_features(&fx->vq, false, true);
	/* VIRTQ_INDIRECT_MAX entries that each cross a region boundary: twice the segment cap. */
	for (unsigned i = 0; i < VIRTQ_INDIRECT_MAX; i++)
		vqb_write_desc_at(&fx->gm, REGION_C, i, REGION_B - 1, 2, VIRTQ_DESC_F_NEXT,
				  (uint16_t)(i + 1));
	vqb_write_desc_at(&fx->gm, REGION_C, VIRTQ_INDIRECT_MAX - 1, REGION_B - 1, 2, 0, 0);
	vqb_write_desc(&fx->b, 0, REGION_C, 16 * VIRTQ_INDIRECT_MAX, VIRTQ_DESC_F_INDIRECT, 0);
	vqb_publish(&fx->b, 0);
	expect_broken(fx);
}

static void test_max_segments_ok(void **state)
{
	struct fixture *fx = *state;

	virtq_set_features(&fx->vq, false, true);
	for (unsigned i = 0; i < VIRTQ_INDIRECT_MAX; i++)
		vqb_write_desc_at(&fx->gm, REGION_C, i, BUF + i, 1,
				  i + 1 < VIRTQ_INDIRECT_MAX ? VIRTQ_DESC_F_NEXT : 0,
				  (uint16_t)(i + 1));
	vqb_write_desc(&fx->b, 0, REGION_C, 16 * VIRTQ_INDIRECT_MAX, VIRTQ_DESC_F_INDIRECT, 0);
	vqb_publish(&fx->b, 0);
	assert_int_equal(virtq_pop(&fx->vq, fx->e), 0);
	assert_int_equal(fx->e->nr_read, VIRTQ_ELEM_MAX_IOV);
}

static void test_total_length_limit(void **state)
{
	struct gmem gm;
	struct virtq vq;
	struct virtq_elem *e = test_malloc(sizeof(*e));
	struct vqb b;
	(void)state;

	/* 3 GiB of (untouched, MAP_NORESERVE) RAM: two 2.75 GiB buffers exceed 4 GiB. */
	assert_int_equal(gmem_init_ram(&gm, 3ull << 30), 0);
	assert_int_equal(virtq_init(&vq, &gm, 16), 0);
	vqb_init(&b, &gm, 16, DESC, AVAIL, USED);
	assert_int_equal(virtq_set_addrs(&vq, DESC, AVAIL, USED), 0);
	assert_int_equal(virtq_enable(&vq), 0);
	struct vqb_seg ok[] = {{0x10000000, 0xb0000000u, 0}, {0x10000000, 0x50000000u, 1}};
	vqb_add(&b, ok, 2); /* exactly 4 GiB: accepted */
	assert_int_equal(virtq_pop(&vq, e), 0);
	assert_int_equal(e->read_len + e->write_len, 1ull << 32);
	struct vqb_seg big[] = {{0x10000000, 0xb0000000u, 0}, {0x10000000, 0xb0000000u, 1}};
	vqb_add(&b, big, 2);
	assert_int_equal(virtq_pop(&vq, e), -EIO);
	assert_true(virtq_broken(&vq));
	virtq_destroy(&vq);
	gmem_destroy(&gm);
	test_free(e);
}

static void test_garbage_rings(void **state)
{
	struct fixture *fx = *state;
	uint64_t seed = 0x9e3779b97f4a7c15ull;

	/* Random bytes everywhere the device looks: it must only ever pop, refuse or break. */
	for (unsigned round = 0; round < 300; round++) {
		uint8_t *mem = fake_mem_ptr(&fx->gm, 0);
		for (unsigned i = DESC; i < USED + 0x100; i++) {
			seed = seed * 6364136223846793005ull + 1442695040888963407ull;
			mem[i] = (uint8_t)(seed >> 56);
		}
		virtq_reset(&fx->vq);
		virtq_set_features(&fx->vq, round & 1, round & 2);
		assert_int_equal(virtq_set_size(&fx->vq, QSIZE), 0);
		assert_int_equal(virtq_set_addrs(&fx->vq, DESC, AVAIL, USED), 0);
		assert_int_equal(virtq_enable(&fx->vq), 0);
		for (unsigned n = 0; n < 2 * QSIZE; n++) {
			int ret = virtq_pop(&fx->vq, fx->e);
			assert_true(ret == 0 || ret == -EAGAIN || ret == -EIO);
			if (ret)
				break;
			assert_true(fx->e->nr_read + fx->e->nr_write <= VIRTQ_ELEM_MAX_IOV);
			assert_int_equal(virtq_push(&fx->vq, fx->e, 0), 0);
			(void)virtq_needs_notify(&fx->vq);
		}
	}
}

static void test_notify_no_event_idx(void **state)
{
	struct fixture *fx = *state;
	struct vqb_seg seg = {BUF, 8, 1};

	assert_int_equal(virtq_needs_notify(&fx->vq), 0); /* nothing pushed */
	vqb_add(&fx->b, &seg, 1);
	assert_int_equal(virtq_pop(&fx->vq, fx->e), 0);
	assert_int_equal(virtq_push(&fx->vq, fx->e, 8), 0);
	assert_int_equal(virtq_needs_notify(&fx->vq), 1);
	assert_int_equal(virtq_needs_notify(&fx->vq), 0); /* already signalled */

	vqb_set_avail_flags(&fx->b, VIRTQ_AVAIL_F_NO_INTERRUPT);
	vqb_add(&fx->b, &seg, 1);
	assert_int_equal(virtq_pop(&fx->vq, fx->e), 0);
	assert_int_equal(virtq_push(&fx->vq, fx->e, 8), 0);
	assert_int_equal(virtq_needs_notify(&fx->vq), 0);
	/* used_event is ignored without VIRTIO_F_EVENT_IDX, and avail_event is not written. */
	vqb_set_avail_flags(&fx->b, 0);
	vqb_set_used_event(&fx->b, 100);
	vqb_add(&fx->b, &seg, 1);
	assert_int_equal(virtq_pop(&fx->vq, fx->e), 0);
	assert_int_equal(virtq_push(&fx->vq, fx->e, 8), 0);
	assert_int_equal(virtq_needs_notify(&fx->vq), 1);
	assert_int_equal(vqb_avail_event(&fx->b), 0);
}

/* Pop and push one element, then ask whether to notify. */
static int cycle(struct fixture *fx)
{
	struct vqb_seg seg = {BUF, 8, 1};
	vqb_add(&fx->b, &seg, 1);
	assert_int_equal(virtq_pop(&fx->vq, fx->e), 0);
	assert_int_equal(virtq_push(&fx->vq, fx->e, 8), 0);
	return virtq_needs_notify(&fx->vq);
}

static void test_notify_event_idx(void **state)
{
	struct fixture *fx = *state;
	struct vqb_seg seg = {BUF, 8, 1};

	virtq_set_features(&fx->vq, true, false);
	/* The NO_INTERRUPT flag is ignored with event idx. */
	vqb_set_avail_flags(&fx->b, VIRTQ_AVAIL_F_NO_INTERRUPT);
	vqb_set_used_event(&fx->b, 0);
	assert_int_equal(cycle(fx), 1); /* used idx 0 -> 1 crosses used_event 0 */
	assert_int_equal(vqb_avail_event(&fx->b), 1);
	assert_int_equal(cycle(fx), 0); /* 1 -> 2: used_event 0 already passed */
	vqb_set_used_event(&fx->b, 4);
	assert_int_equal(cycle(fx), 0); /* 2 -> 3 */
	assert_int_equal(cycle(fx), 0); /* 3 -> 4 */
	assert_int_equal(cycle(fx), 1); /* 4 -> 5 writes entry 4 */
	assert_int_equal(vqb_avail_event(&fx->b), 5);

	/* Several pushes before one check: notify when the batch crossed used_event. */
	vqb_set_used_event(&fx->b, 6);
	for (unsigned i = 0; i < 3; i++)
		vqb_add(&fx->b, &seg, 1);
	for (unsigned i = 0; i < 3; i++) {
		assert_int_equal(virtq_pop(&fx->vq, fx->e), 0);
		assert_int_equal(virtq_push(&fx->vq, fx->e, 8), 0);
	}
	assert_int_equal(virtq_needs_notify(&fx->vq), 1); /* 5 -> 8 passes 6 */
	vqb_set_used_event(&fx->b, 7);			  /* behind: no notification */
	assert_int_equal(cycle(fx), 0);
}

static void test_notify_event_idx_wrap(void **state)
{
	struct fixture *fx = *state;
	struct virtq_state st;

	virtq_set_features(&fx->vq, true, false);
	virtq_save(&fx->vq, &st);
	st.last_avail_idx = st.used_idx = st.signalled_used = 65534;
	assert_int_equal(virtq_load(&fx->vq, &st), 0);
	vqb_set_avail_idx(&fx->b, 65534);
	vqb_set_used_event(&fx->b, 0);	   /* wants entry 0, i.e. after the wrap */
	assert_int_equal(cycle(fx), 0);	   /* 65534 -> 65535 */
	assert_int_equal(cycle(fx), 0);	   /* 65535 -> 0 */
	assert_int_equal(cycle(fx), 1);	   /* 0 -> 1 writes entry 0 */
	vqb_set_used_event(&fx->b, 65535); /* far behind after wrap: no */
	assert_int_equal(cycle(fx), 0);
	assert_int_equal(vqb_avail_event(&fx->b), 2);
}

static void test_save_load(void **state)
{
	struct fixture *fx = *state;
	struct vqb_seg seg = {BUF, 8, 1};
	struct virtq_state st, st2, bad;
	struct virtq vq2;
	uint32_t id, len;

	virtq_set_features(&fx->vq, true, true);
	for (unsigned i = 0; i < 5; i++)
		assert_int_equal(cycle(fx), i == 0);
	vqb_add(&fx->b, &seg, 1); /* one buffer available, not yet popped */
	virtq_save(&fx->vq, &st);
	assert_int_equal(st.size, QSIZE);
	assert_int_equal(st.last_avail_idx, 5);
	assert_int_equal(st.used_idx, 5);
	assert_int_equal(st.flags,
			 VIRTQ_STATE_READY | VIRTQ_STATE_EVENT_IDX | VIRTQ_STATE_INDIRECT);

	/* Restore into a fresh queue: it continues where the first one stopped. */
	assert_int_equal(virtq_init(&vq2, &fx->gm, 256), 0);
	assert_int_equal(virtq_load(&vq2, &st), 0);
	virtq_save(&vq2, &st2);
	assert_memory_equal(&st, &st2, sizeof(st));
	assert_int_equal(virtq_pop(&vq2, fx->e), 0);
	assert_int_equal(virtq_push(&vq2, fx->e, 3), 0);
	vqb_used_elem(&fx->b, 5, &id, &len);
	assert_int_equal(len, 3);
	assert_int_equal(vqb_used_idx(&fx->b), 6);

	/* Rejected states leave the queue unchanged. */
	virtq_save(&vq2, &st2);
#define REJECT(mod)                                                                                \
	do {                                                                                       \
		bad = st2;                                                                         \
		mod;                                                                               \
		assert_int_equal(virtq_load(&vq2, &bad), -EINVAL);                                 \
		virtq_save(&vq2, &st);                                                             \
		assert_memory_equal(&st, &st2, sizeof(st));                                        \
	} while (0)
	REJECT(bad.flags |= 0x100);
	REJECT(bad.reserved = 1);
	REJECT(bad.size = 12);
	REJECT(bad.size = 512); /* above the maximum */
	REJECT(bad.size = 0);
	REJECT(bad.desc_gpa = DESC + 8);
	REJECT(bad.avail_gpa = AVAIL + 1);
	REJECT(bad.used_gpa = USED + 2);
	REJECT(bad.used_gpa = 0x30000);
	REJECT(bad.desc_gpa = REGION_B - 0x80);
	REJECT(bad.last_avail_idx = (uint16_t)(bad.used_idx + QSIZE + 1));
	REJECT(bad.flags &= ~VIRTQ_STATE_READY); /* disabled with indices != 0 */
#undef REJECT
	/* A disabled queue's state carries the raw QueueNum value, whatever it is. */
	bad = st2;
	bad.flags = 0;
	bad.size = 12;
	bad.last_avail_idx = bad.used_idx = bad.signalled_used = 0;
	assert_int_equal(virtq_load(&vq2, &bad), 0);
	assert_false(vq2.ready);
	assert_int_equal(virtq_enable(&vq2), -EINVAL);
	virtq_destroy(&vq2);

	/* A queue that does not exist accepts only the all-zero state. */
	assert_int_equal(virtq_init(&vq2, &fx->gm, 0), 0);
	memset(&bad, 0, sizeof(bad));
	assert_int_equal(virtq_load(&vq2, &bad), 0);
	bad.size = 1;
	assert_int_equal(virtq_load(&vq2, &bad), -EINVAL);
	virtq_destroy(&vq2);
}

static void test_broken_queue_loads(void **state)
{
	struct fixture *fx = *state;
	struct virtq_state st;

	vqb_publish(&fx->b, QSIZE + 3);
	expect_broken(fx);
	virtq_save(&fx->vq, &st);
	assert_true(st.flags & VIRTQ_STATE_BROKEN);
	virtq_reset(&fx->vq);
	assert_int_equal(virtq_load(&fx->vq, &st), 0);
	assert_int_equal(virtq_pop(&fx->vq, fx->e), -EIO);
}

static void test_disable_restarts_indices(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(cycle(fx), 1);
	virtq_disable(&fx->vq);
	assert_int_equal(fx->vq.last_avail_idx, 0);
	assert_int_equal(fx->vq.used_idx, 0);
	vqb_init(&fx->b, &fx->gm, QSIZE, DESC, AVAIL, USED);
	assert_int_equal(virtq_enable(&fx->vq), 0);
	assert_int_equal(cycle(fx), 1);
	assert_int_equal(vqb_used_idx(&fx->b), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_enable_checks, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_simple_chain, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ring_wraps, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_index_wraps_at_65536, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_chain_of_queue_size, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_loops, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_self_loop_zero_length, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_head_and_next_out_of_range, setup, teardown),
	    cmocka_unit_test(test_bad_addresses),
	    cmocka_unit_test_setup_teardown(test_avail_idx_jump, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_avail_idx_backwards, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_zero_length_descriptors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_read_after_write, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_indirect, setup, teardown),
	    cmocka_unit_test(test_indirect_malformed),
	    cmocka_unit_test_setup_teardown(test_region_split, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_too_many_segments, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_max_segments_ok, setup, teardown),
	    cmocka_unit_test(test_total_length_limit),
	    cmocka_unit_test_setup_teardown(test_garbage_rings, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_notify_no_event_idx, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_notify_event_idx, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_notify_event_idx_wrap, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_save_load, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_broken_queue_loads, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_disable_restarts_indices, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
