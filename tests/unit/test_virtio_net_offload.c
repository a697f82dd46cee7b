/* Unit tests for the virtio network device's offloads over a fake back-end that has them:
 * the features offered, transmit headers passed through (or ignored without CSUM, or the frame
 * dropped for a GSO type not offered), receive headers passed to the guest, the back-end told
 * what the guest accepts and set back at a reset, partial checksums completed and GSO frames
 * dropped for a guest without offloads. */
#include "net_test_util.h"

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

/* A back-end with checksum offload only: no TSO is offered. A driver that takes GUEST_TSO4
 * without GUEST_CSUM (the spec forbids it) does not get TSO frames: the back-end stays at none. */
static void test_offload_subsets(void **state)
{
	struct fixture *fx = test_calloc(1, sizeof(*fx));

	(void)state;
	fx->fb.be.offloads = NET_OFFLOAD_CSUM;
	fixture_init(fx, 0, 0);
	mmio_wr(fx->m, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	uint32_t f = mmio_rd(fx->m, VIRTIO_MMIO_DEVICE_FEATURES);
	assert_true(f & 1u << VIRTIO_NET_F_CSUM && f & 1u << VIRTIO_NET_F_GUEST_CSUM);
	assert_false(f & (1u << VIRTIO_NET_F_HOST_TSO4 | 1u << VIRTIO_NET_F_GUEST_TSO4 |
			  1u << VIRTIO_NET_F_HOST_TSO6 | 1u << VIRTIO_NET_F_GUEST_TSO6));
	fixture_fini(fx);

	memset(fx, 0, sizeof(*fx));
	fx->fb.be.offloads = NET_OFFLOAD_CSUM | NET_OFFLOAD_TSO4;
	fixture_init(fx, 0, 0);
	assert_true(mmio_negotiate(fx->m, base_features(1) | VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO4)) &
		    VIRTIO_STATUS_FEATURES_OK);
	vqb_init(&fx->rx, &fx->gm, QSIZE, RX_DESC, RX_AVAIL, RX_USED);
	assert_int_equal(mmio_setup_queue(fx->m, VIRTIO_NET_RXQ, &fx->rx), 1);
	mmio_driver_ok(fx->m);
	assert_int_equal(virtio_dev_notify(fx->vdev, VIRTIO_NET_RXQ), 0);
	assert_int_equal(fx->fb.offload_calls, 0);
	assert_int_equal(fx->fb.offloads_now, 0);
	fixture_fini(fx);
	test_free(fx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_offloads),
	    cmocka_unit_test(test_offload_subsets),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
