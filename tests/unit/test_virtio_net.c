/* Unit tests for the virtio network device over a fake back-end: identity and configuration
 * space, transmit (header skipped, segments across regions, short frames dropped), receive into
 * posted buffers without and with MRG_RXBUF (num_buffers, a frame over several buffers), a frame
 * held while there are no buffers and delivered once the driver posts them, malformed chains
 * (transmit with a writable buffer or a short header, a read-only or too short receive buffer)
 * -> DEVICE_NEEDS_RESET, nothing before DRIVER_OK, and a save/load round trip. The offloads are
 * in test_virtio_net_offload.c. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "net_test_util.h"

static int setup_plain(void **state)
{
	struct fixture *fx = test_calloc(1, sizeof(*fx));

	fixture_init(fx, 1, 0);
	*state = fx;
	return 0;
}

static int setup_mrg(void **state)
{
	struct fixture *fx = test_calloc(1, sizeof(*fx));

	fixture_init(fx, 1, 1);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	fixture_fini(fx);
	test_free(fx);
	return 0;
}

static void test_identity_and_config(void **state)
{
	struct fixture *fx = *state;
	uint64_t cfg = VIRTIO_MMIO_CONFIG;

	assert_int_equal(mmio_rd(fx->m, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_NET);
	mmio_wr(fx->m, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	assert_int_equal(mmio_rd(fx->m, VIRTIO_MMIO_DEVICE_FEATURES),
			 1u << VIRTIO_NET_F_MTU | 1u << VIRTIO_NET_F_MAC |
			     1u << VIRTIO_NET_F_MRG_RXBUF | 1u << VIRTIO_NET_F_STATUS |
			     1u << VIRTIO_F_INDIRECT_DESC | 1u << VIRTIO_F_EVENT_IDX);
	for (unsigned q = 0; q < 3; q++) {
		mmio_wr(fx->m, VIRTIO_MMIO_QUEUE_SEL, q);
		assert_int_equal(mmio_rd(fx->m, VIRTIO_MMIO_QUEUE_NUM_MAX),
				 q < 2 ? VIRTIO_NET_QUEUE_SIZE : 0);
	}
	for (unsigned i = 0; i < 6; i++)
		assert_int_equal(virtio_mmio_ops.read(fx->m, cfg + i, 1), test_mac[i]);
	assert_int_equal(virtio_mmio_ops.read(fx->m, cfg, 4), 0x12005452);
	assert_int_equal(virtio_mmio_ops.read(fx->m, cfg + VIRTIO_NET_CFG_STATUS, 2),
			 VIRTIO_NET_S_LINK_UP);
	assert_int_equal(virtio_mmio_ops.read(fx->m, cfg + VIRTIO_NET_CFG_MAX_VQ_PAIRS, 2), 1);
	assert_int_equal(virtio_mmio_ops.read(fx->m, cfg + VIRTIO_NET_CFG_MTU, 2), 1500);
	assert_int_equal(virtio_mmio_ops.read(fx->m, cfg + VIRTIO_NET_CONFIG_LEN, 4), 0);
	/* Read-only: a write changes nothing. */
	virtio_mmio_ops.write(fx->m, cfg, 1, 0xff);
	assert_int_equal(virtio_mmio_ops.read(fx->m, cfg, 1), 0x52);
}

static void test_transmit(void **state)
{
	struct fixture *fx = *state;
	uint8_t frame[80];

	for (unsigned i = 0; i < sizeof(frame); i++)
		frame[i] = (uint8_t)(0xa0 + i);
	/* Request 1: header alone, then the frame in one buffer. */
	assert_int_equal(gmem_fill(&fx->gm, BUF, 0x77, HDR), 0); /* header fields are ignored */
	assert_int_equal(gmem_write(&fx->gm, BUF + 0x100, frame, 60), 0);
	struct vqb_seg r1[] = {{BUF, HDR, 0}, {BUF + 0x100, 60, 0}};
	/* Request 2: 8 header bytes, then 4 header bytes + frame across the region boundary. */
	assert_int_equal(gmem_write(&fx->gm, REGION_B - 30, frame, 80), 0);
	struct vqb_seg r2[] = {{BUF + 0x200, 8, 0}, {REGION_B - 34, 84, 0}};
	uint16_t h1 = vqb_add(&fx->tx, r1, 2);
	uint16_t h2 = vqb_add(&fx->tx, r2, 2);
	assert_int_equal(virtio_dev_notify(fx->vdev, VIRTIO_NET_TXQ), 0);
	assert_int_equal(fx->fb.nsent, 2);
	assert_int_equal(fx->fb.sent_len[0], 60);
	assert_memory_equal(fx->fb.sent[0], frame, 60);
	assert_int_equal(fx->fb.sent_len[1], 80);
	assert_memory_equal(fx->fb.sent[1], frame, 80);
	assert_int_equal(vqb_used_idx(&fx->tx), 2);
	assert_int_equal(used_len(&fx->tx, 0, h1), 0);
	assert_int_equal(used_len(&fx->tx, 1, h2), 0);
	assert_int_equal(fx->level, 1);
	assert_int_equal(mmio_rd(fx->m, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_INT_USED);

	/* Shorter than an Ethernet header, or refused by the back-end: dropped, still completed. */
	struct vqb_seg tiny = {BUF, HDR + 5, 0};
	uint16_t h3 = vqb_add(&fx->tx, &tiny, 1);
	fx->fb.send_error = -EAGAIN;
	uint16_t h4 = vqb_add(&fx->tx, r1, 2);
	assert_int_equal(virtio_dev_notify(fx->vdev, VIRTIO_NET_TXQ), 0);
	assert_int_equal(fx->fb.nsent, 2);
	assert_int_equal(used_len(&fx->tx, 2, h3), 0);
	assert_int_equal(used_len(&fx->tx, 3, h4), 0);
	struct virtio_net_stats st;
	virtio_net_get_stats(fx->net, &st, NULL);
	assert_int_equal(st.tx_frames, 2);
	assert_int_equal(st.tx_bytes, 140);
	assert_int_equal(st.tx_dropped, 2);
	assert_false(needs_reset(fx));
}

static void test_transmit_writable_is_malformed(void **state)
{
	struct fixture *fx = *state;
	struct vqb_seg bad[] = {{BUF, HDR + 60, 0}, {BUF + 0x100, 4, 1}};

	vqb_add(&fx->tx, bad, 2);
	assert_int_equal(virtio_dev_notify(fx->vdev, VIRTIO_NET_TXQ), 0);
	assert_int_equal(fx->fb.nsent, 0);
	assert_int_equal(vqb_used_idx(&fx->tx), 0);
	assert_true(needs_reset(fx));
	assert_int_equal(mmio_rd(fx->m, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_INT_CONFIG);
}

static void test_transmit_short_header_is_malformed(void **state)
{
	struct fixture *fx = *state;
	struct vqb_seg bad = {BUF, HDR - 2, 0};

	vqb_add(&fx->tx, &bad, 1);
	assert_int_equal(virtio_dev_notify(fx->vdev, VIRTIO_NET_TXQ), 0);
	assert_int_equal(fx->fb.nsent, 0);
	assert_true(needs_reset(fx));
	/* Nothing is received either until the driver resets the device. */
	struct vqb_seg rxb = {BUF + 0x1000, 2048, 1};
	vqb_add(&fx->rx, &rxb, 1);
	fb_push(&fx->fb, 60, 1);
	assert_int_equal(virtio_net_rx(fx->net), 0);
	assert_int_equal(vqb_used_idx(&fx->rx), 0);
}

static void test_receive_plain(void **state)
{
	struct fixture *fx = *state;
	struct vqb_seg a = {BUF, HDR + 1514, 1};
	/* A buffer in two pieces, the first across the region boundary. */
	struct vqb_seg b[] = {{REGION_B - 20, 40, 1}, {BUF + 0x1000, 2000, 1}};

	uint16_t ha = vqb_add(&fx->rx, &a, 1);
	uint16_t hb = vqb_add(&fx->rx, b, 2);
	fb_push(&fx->fb, 60, 0x10);
	fb_push(&fx->fb, 1000, 0x20);
	fx->fb.recv_calls = 0;
	assert_int_equal(virtio_net_rx(fx->net), 0);
	assert_int_equal(vqb_used_idx(&fx->rx), 2);
	assert_int_equal(used_len(&fx->rx, 0, ha), HDR + 60);
	assert_int_equal(used_len(&fx->rx, 1, hb), HDR + 1000);
	/* The header: flags 0, GSO_NONE, num_buffers 1. */
	const uint8_t *h = fake_mem_ptr(&fx->gm, BUF);
	for (unsigned i = 0; i < HDR; i++)
		assert_int_equal(h[i], i == VIRTIO_NET_HDR_NUM_BUFFERS ? 1 : 0);
	check_pattern(fx, BUF + HDR, 0, 60, 0x10);
	assert_int_equal(gm_r16(&fx->gm, REGION_B - 20 + VIRTIO_NET_HDR_NUM_BUFFERS), 1);
	check_pattern(fx, REGION_B - 20 + HDR, 0, 28, 0x20);
	check_pattern(fx, BUF + 0x1000, 28, 972, 0x20);
	assert_int_equal(fx->level, 1);
	assert_int_equal(fx->fb.recv_calls, 3); /* two frames, then -EAGAIN */

	/* Without MRG_RXBUF a frame larger than the buffer is dropped and the buffer reused. */
	struct vqb_seg small = {BUF + 0x2000, HDR + 100, 1};
	uint16_t hs = vqb_add(&fx->rx, &small, 1);
	fb_push(&fx->fb, 200, 0x30);
	fb_push(&fx->fb, 100, 0x40);
	assert_int_equal(virtio_net_rx(fx->net), 0);
	assert_int_equal(vqb_used_idx(&fx->rx), 3);
	assert_int_equal(used_len(&fx->rx, 2, hs), HDR + 100);
	check_pattern(fx, BUF + 0x2000 + HDR, 0, 100, 0x40);
	struct virtio_net_stats st;
	virtio_net_get_stats(fx->net, &st, NULL);
	assert_int_equal(st.rx_frames, 3);
	assert_int_equal(st.rx_bytes, 1160);
	assert_int_equal(st.rx_dropped, 1);
}

static void test_receive_mergeable(void **state)
{
	struct fixture *fx = *state;
	struct vqb_seg bufs[3] = {{BUF, 64, 1}, {BUF + 0x100, 64, 1}, {BUF + 0x200, 64, 1}};
	uint16_t heads[3];

	for (unsigned i = 0; i < 3; i++)
		heads[i] = vqb_add(&fx->rx, &bufs[i], 1);
	fb_push(&fx->fb, 150, 0x50); /* 12 + 150 = 162 bytes: 64 + 64 + 34 */
	assert_int_equal(virtio_net_rx(fx->net), 0);
	assert_int_equal(vqb_used_idx(&fx->rx), 3);
	assert_int_equal(used_len(&fx->rx, 0, heads[0]), 64);
	assert_int_equal(used_len(&fx->rx, 1, heads[1]), 64);
	assert_int_equal(used_len(&fx->rx, 2, heads[2]), 34);
	assert_int_equal(gm_r16(&fx->gm, BUF + VIRTIO_NET_HDR_NUM_BUFFERS), 3);
	check_pattern(fx, BUF + HDR, 0, 52, 0x50);
	check_pattern(fx, BUF + 0x100, 52, 64, 0x50);
	check_pattern(fx, BUF + 0x200, 116, 34, 0x50);

	/* A small frame takes one buffer, num_buffers 1. */
	struct vqb_seg big = {BUF + 0x1000, 1536, 1};
	uint16_t hb = vqb_add(&fx->rx, &big, 1);
	fb_push(&fx->fb, 60, 0x60);
	assert_int_equal(virtio_net_rx(fx->net), 0);
	assert_int_equal(used_len(&fx->rx, 3, hb), HDR + 60);
	assert_int_equal(gm_r16(&fx->gm, BUF + 0x1000 + VIRTIO_NET_HDR_NUM_BUFFERS), 1);
}

/* No buffers: the frame is held, the back-end not drained further; buffers posted later (the
 * receive queue notify) get it. With MRG_RXBUF, too few buffers are given back untouched. */
static void test_receive_no_buffers(void **state)
{
	struct fixture *fx = *state;
	bool holding;
	struct virtio_net_stats st;

	fb_push(&fx->fb, 150, 0x70);
	fb_push(&fx->fb, 60, 0x80);
	fx->fb.recv_calls = 0;
	assert_int_equal(virtio_net_rx(fx->net), 0);
	assert_int_equal(fx->fb.recv_calls, 1);
	virtio_net_get_stats(fx->net, &st, &holding);
	assert_true(holding);
	assert_int_equal(st.rx_dropped, 0);
	assert_int_equal(fx->level, 0);

	/* One 64-byte buffer is not enough for 162 bytes: nothing is used. */
	struct vqb_seg b0 = {BUF, 64, 1}, b1 = {BUF + 0x100, 128, 1}, b2 = {BUF + 0x200, 2048, 1};
	uint16_t h0 = vqb_add(&fx->rx, &b0, 1);
	assert_int_equal(virtio_dev_notify(fx->vdev, VIRTIO_NET_RXQ), 0);
	assert_int_equal(vqb_used_idx(&fx->rx), 0);
	assert_int_equal(fx->fb.recv_calls, 1);
	/* avail_event still asks for a notify when the next buffer is added. */
	assert_int_equal(vqb_avail_event(&fx->rx), 1);

	/* Two more: the held frame takes the first two, the next frame the third. */
	uint16_t h1 = vqb_add(&fx->rx, &b1, 1);
	uint16_t h2 = vqb_add(&fx->rx, &b2, 1);
	assert_int_equal(virtio_dev_notify(fx->vdev, VIRTIO_NET_RXQ), 0);
	assert_int_equal(vqb_used_idx(&fx->rx), 3);
	assert_int_equal(used_len(&fx->rx, 0, h0), 64);
	assert_int_equal(used_len(&fx->rx, 1, h1), 98);
	assert_int_equal(used_len(&fx->rx, 2, h2), HDR + 60);
	assert_int_equal(gm_r16(&fx->gm, BUF + VIRTIO_NET_HDR_NUM_BUFFERS), 2);
	check_pattern(fx, BUF + HDR, 0, 52, 0x70);
	check_pattern(fx, BUF + 0x100, 52, 98, 0x70);
	check_pattern(fx, BUF + 0x200 + HDR, 0, 60, 0x80);
	virtio_net_get_stats(fx->net, &st, &holding);
	assert_false(holding);
	assert_int_equal(st.rx_frames, 2);
	assert_int_equal(st.rx_dropped, 0);
	assert_int_equal(fx->level, 1);
}

static void test_receive_readonly_is_malformed(void **state)
{
	struct fixture *fx = *state;
	struct vqb_seg bad = {BUF, 2048, 0};

	vqb_add(&fx->rx, &bad, 1);
	fb_push(&fx->fb, 60, 1);
	assert_int_equal(virtio_net_rx(fx->net), 0);
	assert_int_equal(fake_mem_ptr(&fx->gm, BUF)[0], 0);
	assert_int_equal(vqb_used_idx(&fx->rx), 0);
	assert_true(needs_reset(fx));
	assert_int_equal(fx->level, 1);
	/* A reset by the driver brings it back; the frame was dropped with the reset. */
	bring_up(fx, 0);
	assert_int_equal(fx->level, 0);
	struct vqb_seg good = {BUF, 2048, 1};
	uint16_t h = vqb_add(&fx->rx, &good, 1);
	fb_push(&fx->fb, 70, 2);
	assert_int_equal(virtio_dev_notify(fx->vdev, VIRTIO_NET_RXQ), 0);
	assert_int_equal(used_len(&fx->rx, 0, h), HDR + 70);
	check_pattern(fx, BUF + HDR, 0, 70, 2);
}

static void test_receive_short_buffer_is_malformed(void **state)
{
	struct fixture *fx = *state;
	struct vqb_seg bad = {BUF, HDR - 4, 1};

	vqb_add(&fx->rx, &bad, 1);
	fb_push(&fx->fb, 60, 1);
	assert_int_equal(virtio_net_rx(fx->net), 0);
	assert_int_equal(vqb_used_idx(&fx->rx), 0);
	assert_true(needs_reset(fx));
}

static void test_not_before_driver_ok(void **state)
{
	struct fixture *fx = test_calloc(1, sizeof(*fx));
	struct vqb_seg rxb = {BUF, 2048, 1};

	(void)state;
	fixture_init(fx, 0, 0);
	assert_true(mmio_negotiate(fx->m, base_features(0)) & VIRTIO_STATUS_FEATURES_OK);
	vqb_init(&fx->rx, &fx->gm, QSIZE, RX_DESC, RX_AVAIL, RX_USED);
	assert_int_equal(mmio_setup_queue(fx->m, VIRTIO_NET_RXQ, &fx->rx), 1);
	vqb_add(&fx->rx, &rxb, 1);
	fb_push(&fx->fb, 60, 3);
	assert_int_equal(virtio_net_rx(fx->net), 0);
	assert_int_equal(fx->fb.recv_calls, 0); /* left in the back-end */
	mmio_driver_ok(fx->m);
	/* The DRIVER_OK kick reaches the device as a receive queue notify. */
	assert_int_equal(virtio_dev_notify(fx->vdev, VIRTIO_NET_RXQ), 0);
	assert_int_equal(vqb_used_idx(&fx->rx), 1);
	fixture_fini(fx);
	test_free(fx);
}

static void test_save_load(void **state)
{
	struct fixture *fx = *state;
	struct fixture *fx2 = test_calloc(1, sizeof(*fx2));
	struct virtio_mmio_state *st = test_malloc(sizeof(*st));
	struct virtio_mmio_state *st2 = test_malloc(sizeof(*st2));
	struct vqb_seg tx[] = {{BUF, HDR, 0}, {BUF + 0x100, 60, 0}};
	struct vqb_seg rx = {BUF + 0x1000, 2048, 1};

	/* Some traffic, then one receive buffer posted and one transmit request pending. */
	vqb_add(&fx->tx, tx, 2);
	assert_int_equal(virtio_dev_notify(fx->vdev, VIRTIO_NET_TXQ), 0);
	vqb_add(&fx->rx, &rx, 1);
	vqb_add(&fx->tx, tx, 2);
	assert_int_equal(virtio_mmio_save(fx->m, st), 0);
	assert_int_equal(st->dev.dev_len, VIRTIO_NET_STATE_LEN);

	/* Into a fresh device over the same guest memory. */
	make_dev(fx2, &fx->gm);
	assert_int_equal(virtio_mmio_load(fx2->m, st), 0);
	assert_int_equal(virtio_mmio_save(fx2->m, st2), 0);
	assert_memory_equal(st, st2, sizeof(*st));
	assert_int_equal(fx2->level, 1); /* the saved InterruptStatus */

	/* The loaded device carries on where the first stopped. */
	assert_int_equal(virtio_dev_notify(fx2->vdev, VIRTIO_NET_TXQ), 0);
	assert_int_equal(fx2->fb.nsent, 1);
	assert_int_equal(vqb_used_idx(&fx->tx), 2);
	fb_push(&fx2->fb, 60, 9);
	assert_int_equal(virtio_net_rx(fx2->net), 0);
	assert_int_equal(vqb_used_idx(&fx->rx), 1);
	check_pattern(fx, BUF + 0x1000 + HDR, 0, 60, 9);

	/* A bad version, length or a different MAC is refused and changes nothing. */
	st->dev.dev[0]++;
	assert_int_equal(virtio_mmio_load(fx2->m, st), -EINVAL);
	st->dev.dev[0]--;
	st->dev.dev[9] ^= 1; /* the last MAC byte */
	assert_int_equal(virtio_mmio_load(fx2->m, st), -EINVAL);
	st->dev.dev[9] ^= 1;
	st->dev.dev_len = 12;
	assert_int_equal(virtio_mmio_load(fx2->m, st), -EINVAL);
	st->dev.dev_len = VIRTIO_NET_STATE_LEN;
	st->dev.device_id = VIRTIO_ID_BLOCK;
	assert_int_equal(virtio_mmio_load(fx2->m, st), -EINVAL);
	assert_int_equal(virtio_mmio_save(fx2->m, st), 0);
	assert_int_equal(st->dev.vq[VIRTIO_NET_TXQ].used_idx, 2);
	assert_int_equal(st->dev.vq[VIRTIO_NET_RXQ].used_idx, 1);

	virtio_mmio_destroy(fx2->m);
	virtio_net_destroy(fx2->net);
	test_free(fx2);
	test_free(st);
	test_free(st2);
}

static void test_create_checks(void **state)
{
	struct gmem gm = {0};
	struct fake_be fb = {.be.ops = &fb_ops};
	const uint8_t multicast[6] = {0x01, 0, 0x5e, 0, 0, 1};
	struct virtio_net *net;

	(void)state;
	assert_int_equal(virtio_net_create(&gm, &fb.be, multicast, NULL, &net), -EINVAL);
	assert_null(net);
	assert_int_equal(virtio_net_create(&gm, NULL, test_mac, NULL, &net), -EINVAL);
	assert_int_equal(fb.destroyed, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_identity_and_config, setup_plain, teardown),
	    cmocka_unit_test_setup_teardown(test_transmit, setup_plain, teardown),
	    cmocka_unit_test_setup_teardown(test_transmit_writable_is_malformed, setup_plain,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_transmit_short_header_is_malformed, setup_plain,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_receive_plain, setup_plain, teardown),
	    cmocka_unit_test_setup_teardown(test_receive_mergeable, setup_mrg, teardown),
	    cmocka_unit_test_setup_teardown(test_receive_no_buffers, setup_mrg, teardown),
	    cmocka_unit_test_setup_teardown(test_receive_readonly_is_malformed, setup_plain,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_receive_short_buffer_is_malformed, setup_mrg,
					    teardown),
	    cmocka_unit_test(test_not_before_driver_ok),
	    cmocka_unit_test_setup_teardown(test_save_load, setup_plain, teardown),
	    cmocka_unit_test(test_create_checks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
