/* Unit tests for the virtio network device over a fake back-end: identity and configuration
 * space, transmit (header skipped, segments across regions, short frames dropped), receive into
 * posted buffers without and with MRG_RXBUF (num_buffers, a frame over several buffers), a frame
 * held while there are no buffers and delivered once the driver posts them, malformed chains
 * (transmit with a writable buffer or a short header, a read-only or too short receive buffer)
 * -> DEVICE_NEEDS_RESET, nothing before DRIVER_OK, and a save/load round trip. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "virtio/virtio_net.h"
#include "virtq_builder.h"

#define QSIZE 16
#define RX_DESC 0x1000
#define RX_AVAIL 0x2000
#define RX_USED 0x3000
#define TX_DESC 0x4000
#define TX_AVAIL 0x5000
#define TX_USED 0x6000
#define BUF 0x10000
#define REGION_B 0x100000ull /* second region, adjacent to the first */
#define HDR VIRTIO_NET_HDR_LEN
#define MAXF 8

static const uint8_t test_mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x57};

/* The fake back-end: records sent frames, hands out queued ones. */
struct fake_be {
	struct net_backend be;
	uint8_t sent[MAXF][2048];
	size_t sent_len[MAXF];
	unsigned nsent;
	int send_error;
	uint8_t in[MAXF][4096];
	size_t in_len[MAXF];
	unsigned in_head, in_tail;
	unsigned recv_calls;
	int destroyed;
	struct net_vhdr sent_hdr[MAXF], in_hdr[MAXF];
	bool sent_has_hdr[MAXF];
	unsigned offload_calls, offloads_now;
};

static int fb_send(struct net_backend *be, const struct net_vhdr *hdr, const struct iovec *iov,
		   unsigned n)
{
	struct fake_be *f = (struct fake_be *)be;
	size_t len = 0;

	if (f->send_error)
		return f->send_error;
	assert_true(f->nsent < MAXF);
	f->sent_has_hdr[f->nsent] = hdr != NULL;
	if (hdr)
		f->sent_hdr[f->nsent] = *hdr;
	for (unsigned i = 0; i < n && len < sizeof(f->sent[0]); i++) {
		size_t k = iov[i].iov_len < sizeof(f->sent[0]) - len ? iov[i].iov_len
								     : sizeof(f->sent[0]) - len;
		memcpy(f->sent[f->nsent] + len, iov[i].iov_base, k);
		len += k;
	}
	f->sent_len[f->nsent++] = len;
	return 0;
}

static ssize_t fb_recv(struct net_backend *be, struct net_vhdr *hdr, void *buf, size_t cap)
{
	struct fake_be *f = (struct fake_be *)be;

	f->recv_calls++;
	if (f->in_head == f->in_tail)
		return -EAGAIN;
	*hdr = f->in_hdr[f->in_head % MAXF];
	size_t len = f->in_len[f->in_head % MAXF];
	assert_true(cap >= NET_MAX_FRAME);
	memcpy(buf, f->in[f->in_head % MAXF], len);
	f->in_head++;
	return (ssize_t)len;
}

static void fb_destroy(struct net_backend *be)
{
	((struct fake_be *)be)->destroyed++;
}

static int fb_set_offloads(struct net_backend *be, unsigned flags)
{
	struct fake_be *f = (struct fake_be *)be;

	assert_int_equal(flags & ~be->offloads, 0);
	f->offload_calls++;
	f->offloads_now = flags;
	return 0;
}

static const struct net_backend_ops fb_ops = {
    .send = fb_send, .recv = fb_recv, .set_offloads = fb_set_offloads, .destroy = fb_destroy};

/* Queue a frame of len bytes whose byte i is (seed + i). */
static void fb_push(struct fake_be *f, size_t len, uint8_t seed)
{
	assert_true(f->in_tail - f->in_head < MAXF && len <= sizeof(f->in[0]));
	for (size_t i = 0; i < len; i++)
		f->in[f->in_tail % MAXF][i] = (uint8_t)(seed + i);
	f->in_len[f->in_tail % MAXF] = len;
	memset(&f->in_hdr[f->in_tail % MAXF], 0, sizeof(f->in_hdr[0]));
	f->in_tail++;
}

struct fixture {
	struct fake_be fb;
	int level;
	struct gmem gm;
	struct virtio_net *net;
	struct virtio_dev *vdev;
	struct virtio_mmio *m;
	struct vqb rx, tx;
};

static void fake_irq_set(void *ctx, unsigned gsi, int level)
{
	((struct fixture *)ctx)->level = level;
}

static void fake_notify(void *ctx, unsigned q)
{
}

static uint64_t base_features(int mrg)
{
	return VIRTIO_CORE_FEATURES | VIRTIO_BIT(VIRTIO_NET_F_MAC) |
	       VIRTIO_BIT(VIRTIO_NET_F_STATUS) | (mrg ? VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF) : 0);
}

static void bring_up(struct fixture *fx, int mrg)
{
	assert_true(mmio_negotiate(fx->m, base_features(mrg)) & VIRTIO_STATUS_FEATURES_OK);
	vqb_init(&fx->rx, &fx->gm, QSIZE, RX_DESC, RX_AVAIL, RX_USED);
	vqb_init(&fx->tx, &fx->gm, QSIZE, TX_DESC, TX_AVAIL, TX_USED);
	assert_int_equal(mmio_setup_queue(fx->m, VIRTIO_NET_RXQ, &fx->rx), 1);
	assert_int_equal(mmio_setup_queue(fx->m, VIRTIO_NET_TXQ, &fx->tx), 1);
	mmio_driver_ok(fx->m);
}

static void make_dev(struct fixture *fx, struct gmem *gm)
{
	struct irq_line irq = {fake_irq_set, fx, 16};

	fx->fb.be.ops = &fb_ops;
	assert_int_equal(virtio_net_create(gm, &fx->fb.be, test_mac, NULL, &fx->net), 0);
	fx->vdev = virtio_net_dev(fx->net);
	assert_int_equal(virtio_mmio_create(fx->vdev, irq, fake_notify, fx, &fx->m), 0);
}

static void fixture_init(struct fixture *fx, int driver_ok, int mrg)
{
	assert_int_equal(fake_mem_add(&fx->gm, 0, REGION_B), 0);
	assert_int_equal(fake_mem_add(&fx->gm, REGION_B, 0x100000), 0);
	make_dev(fx, &fx->gm);
	if (driver_ok)
		bring_up(fx, mrg);
}

static void fixture_fini(struct fixture *fx)
{
	virtio_mmio_destroy(fx->m);
	virtio_net_destroy(fx->net);
	assert_int_equal(fx->fb.destroyed, 1);
	fake_mem_destroy(&fx->gm);
}

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

static uint32_t used_len(struct vqb *b, uint16_t i, uint16_t head)
{
	uint32_t id, len;

	vqb_used_elem(b, i, &id, &len);
	assert_int_equal(id, head);
	return len;
}

static int needs_reset(struct fixture *fx)
{
	return (mmio_rd(fx->m, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET) != 0;
}

/* Check guest bytes at gpa against the frame pattern (seed + i) from frame offset off. */
static void check_pattern(struct fixture *fx, uint64_t gpa, size_t off, size_t len, uint8_t seed)
{
	uint8_t p[4096];

	assert_true(len <= sizeof(p));
	assert_int_equal(gmem_read(&fx->gm, gpa, p, len), 0); /* may cross regions */
	for (size_t i = 0; i < len; i++)
		assert_int_equal(p[i], (uint8_t)(seed + off + i));
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

/* Ones' complement sum of [p, p+len), folded (0xffff over a correctly checksummed range). */
static uint16_t sum16(const uint8_t *p, size_t len)
{
	uint32_t sum = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* A guest header in guest memory at gpa. */
static void put_hdr(struct fixture *fx, uint64_t gpa, uint8_t flags, uint8_t gso, uint16_t hlen,
		    uint16_t gsize, uint16_t cstart, uint16_t coff)
{
	uint8_t h[HDR] = {flags, gso};
	uint16_t v[4] = {htole16(hlen), htole16(gsize), htole16(cstart), htole16(coff)};

	memcpy(h + 2, v, sizeof(v));
	assert_int_equal(gmem_write(&fx->gm, gpa, h, HDR), 0);
}

/* A back-end with checksum and TSO offloads: the device offers them, passes headers through
 * both ways while they are negotiated, and tells the back-end what the guest accepts; a guest
 * without them gets complete frames (checksum filled in here) and no GSO frames. */
static void test_offloads(void **state)
{
	struct fixture *fx = test_calloc(1, sizeof(*fx));
	const uint64_t offl =
	    VIRTIO_BIT(VIRTIO_NET_F_CSUM) | VIRTIO_BIT(VIRTIO_NET_F_GUEST_CSUM) |
	    VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO4) | VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO4) |
	    VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO6) | VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO6);
	struct virtio_net_stats st;

	(void)state;
	fx->fb.be.offloads = NET_OFFLOAD_CSUM | NET_OFFLOAD_TSO4 | NET_OFFLOAD_TSO6;
	fixture_init(fx, 0, 0);
	mmio_wr(fx->m, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	assert_int_equal(mmio_rd(fx->m, VIRTIO_MMIO_DEVICE_FEATURES) & (uint32_t)offl,
			 (uint32_t)offl);

	/* Negotiated: the back-end is told at the first receive round (the DRIVER_OK kick). */
	assert_true(mmio_negotiate(fx->m, base_features(1) | offl) & VIRTIO_STATUS_FEATURES_OK);
	vqb_init(&fx->rx, &fx->gm, QSIZE, RX_DESC, RX_AVAIL, RX_USED);
	vqb_init(&fx->tx, &fx->gm, QSIZE, TX_DESC, TX_AVAIL, TX_USED);
	assert_int_equal(mmio_setup_queue(fx->m, VIRTIO_NET_RXQ, &fx->rx), 1);
	assert_int_equal(mmio_setup_queue(fx->m, VIRTIO_NET_TXQ, &fx->tx), 1);
	mmio_driver_ok(fx->m);
	assert_int_equal(virtio_dev_notify(fx->vdev, VIRTIO_NET_RXQ), 0);
	assert_int_equal(fx->fb.offloads_now,
			 NET_OFFLOAD_CSUM | NET_OFFLOAD_TSO4 | NET_OFFLOAD_TSO6);

	/* Transmit: a TSO header (split over two segments) goes through; a zero one is NULL; UDP
	 * segmentation (not offered) is dropped. */
	put_hdr(fx, BUF, NET_HDR_F_NEEDS_CSUM, NET_GSO_TCPV4, 54, 1448, 34, 16);
	struct vqb_seg t1[] = {{BUF, 5, 0}, {BUF + 5, 7, 0}, {BUF + 0x100, 3000, 0}};
	put_hdr(fx, BUF + 0x2000, 0, 0, 0, 0, 0, 0);
	struct vqb_seg t2[] = {{BUF + 0x2000, HDR, 0}, {BUF + 0x100, 60, 0}};
	put_hdr(fx, BUF + 0x3000, NET_HDR_F_NEEDS_CSUM, 3 /* UDP */, 42, 1000, 34, 6);
	struct vqb_seg t3[] = {{BUF + 0x3000, HDR, 0}, {BUF + 0x100, 2000, 0}};
	vqb_add(&fx->tx, t1, 3);
	vqb_add(&fx->tx, t2, 2);
	vqb_add(&fx->tx, t3, 2);
	fx->fb.in_tail = fx->fb.in_head; /* nothing to receive */
	memset(fx->fb.sent, 0, sizeof(fx->fb.sent));
	assert_int_equal(virtio_dev_notify(fx->vdev, VIRTIO_NET_TXQ), 0);
	assert_int_equal(vqb_used_idx(&fx->tx), 3);
	assert_int_equal(fx->fb.nsent, 2);
	assert_true(fx->fb.sent_has_hdr[0]);
	const struct net_vhdr *h = &fx->fb.sent_hdr[0];
	assert_int_equal(h->flags, NET_HDR_F_NEEDS_CSUM);
	assert_int_equal(h->gso_type, NET_GSO_TCPV4);
	assert_int_equal(h->hdr_len, 54);
	assert_int_equal(h->gso_size, 1448);
	assert_int_equal(h->csum_start, 34);
	assert_int_equal(h->csum_offset, 16);
	assert_int_equal(fx->fb.sent_len[0], 2048); /* the fake records the first 2 KiB */
	assert_false(fx->fb.sent_has_hdr[1]);
	virtio_net_get_stats(fx->net, &st, NULL);
	assert_int_equal(st.tx_dropped, 1);

	/* Receive: the back-end's header reaches the guest as it is, num_buffers added. */
	struct vqb_seg big = {BUF + 0x10000, 8192, 1};
	vqb_add(&fx->rx, &big, 1);
	fb_push(&fx->fb, 4000, 0x11);
	fx->fb.in_hdr[(fx->fb.in_tail - 1) % MAXF] =
	    (struct net_vhdr){NET_HDR_F_NEEDS_CSUM, NET_GSO_TCPV6, 74, 1428, 54, 16};
	assert_int_equal(virtio_net_rx(fx->net), 0);
	const uint8_t want[HDR] = {1, NET_GSO_TCPV6, 74, 0, 0x94, 0x05, 54, 0, 16, 0, 1, 0};
	assert_memory_equal(fake_mem_ptr(&fx->gm, BUF + 0x10000), want, HDR);
	check_pattern(fx, BUF + 0x10000 + HDR, 0, 4000, 0x11);

	/* A driver without offloads: the back-end is set back to none at the reset; a partly
	 * checksummed frame still queued is completed, a GSO one dropped. */
	bring_up(fx, 0);
	assert_int_equal(fx->fb.offloads_now, 0);
	struct vqb_seg r1 = {BUF, 2048, 1}, r2 = {BUF + 0x1000, 2048, 1};
	uint16_t h1 = vqb_add(&fx->rx, &r1, 1);
	vqb_add(&fx->rx, &r2, 1);
	fb_push(&fx->fb, 3000, 0x22); /* GSO: dropped */
	fx->fb.in_hdr[(fx->fb.in_tail - 1) % MAXF] =
	    (struct net_vhdr){NET_HDR_F_NEEDS_CSUM, NET_GSO_TCPV4, 54, 1448, 34, 16};
	fb_push(&fx->fb, 101, 0x33); /* an odd length; checksum from 14, stored at 14 + 6 */
	fx->fb.in[(fx->fb.in_tail - 1) % MAXF][20] = 0; /* the seed there (pseudo header): 0 */
	fx->fb.in[(fx->fb.in_tail - 1) % MAXF][21] = 0;
	fx->fb.in_hdr[(fx->fb.in_tail - 1) % MAXF] =
	    (struct net_vhdr){NET_HDR_F_NEEDS_CSUM, NET_GSO_NONE, 0, 0, 14, 6};
	assert_int_equal(virtio_net_rx(fx->net), 0);
	assert_int_equal(vqb_used_idx(&fx->rx), 1);
	assert_int_equal(used_len(&fx->rx, 0, h1), HDR + 101);
	const uint8_t *g = fake_mem_ptr(&fx->gm, BUF);
	for (unsigned i = 0; i < HDR; i++)
		assert_int_equal(g[i], i == VIRTIO_NET_HDR_NUM_BUFFERS ? 1 : 0);
	assert_int_equal(sum16(g + HDR + 14, 101 - 14), 0xffff);
	check_pattern(fx, BUF + HDR, 0, 20, 0x33);
	virtio_net_get_stats(fx->net, &st, NULL);
	assert_int_equal(st.rx_dropped, 1);

	/* Without CSUM the transmit header is ignored: a complete frame. */
	put_hdr(fx, BUF + 0x2000, NET_HDR_F_NEEDS_CSUM, NET_GSO_TCPV4, 54, 1448, 34, 16);
	vqb_add(&fx->tx, t2, 2);
	fx->fb.nsent = 0;
	assert_int_equal(virtio_dev_notify(fx->vdev, VIRTIO_NET_TXQ), 0);
	assert_int_equal(fx->fb.nsent, 1);
	assert_false(fx->fb.sent_has_hdr[0]);
	fixture_fini(fx);
	test_free(fx);
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
	    cmocka_unit_test(test_offloads),
	    cmocka_unit_test(test_create_checks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
