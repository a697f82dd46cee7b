/* The virtio-net unit tests' shared pieces: guest memory layout, a fake back-end that records
 * sent frames and hands out queued ones (with offload headers and an offload setting), and a
 * fixture with the device behind a virtio-mmio transport and the two queues. Header-only. */
#ifndef VMON_TESTS_NET_TEST_UTIL_H
#define VMON_TESTS_NET_TEST_UTIL_H

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
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

static inline int fb_send(struct net_backend *be, const struct net_vhdr *hdr,
			  const struct iovec *iov, unsigned n)
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

static inline ssize_t fb_recv(struct net_backend *be, struct net_vhdr *hdr, void *buf, size_t cap)
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

static inline void fb_destroy(struct net_backend *be)
{
	((struct fake_be *)be)->destroyed++;
}

static inline int fb_set_offloads(struct net_backend *be, unsigned flags)
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
static inline void fb_push(struct fake_be *f, size_t len, uint8_t seed)
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

static inline void fake_irq_set(void *ctx, unsigned gsi, int level)
{
	((struct fixture *)ctx)->level = level;
}

static inline void fake_notify(void *ctx, unsigned q)
{
}

static inline uint64_t base_features(int mrg)
{
	return VIRTIO_CORE_FEATURES | VIRTIO_BIT(VIRTIO_NET_F_MAC) |
	       VIRTIO_BIT(VIRTIO_NET_F_STATUS) | (mrg ? VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF) : 0);
}

static inline void bring_up(struct fixture *fx, int mrg)
{
	assert_true(mmio_negotiate(fx->m, base_features(mrg)) & VIRTIO_STATUS_FEATURES_OK);
	vqb_init(&fx->rx, &fx->gm, QSIZE, RX_DESC, RX_AVAIL, RX_USED);
	vqb_init(&fx->tx, &fx->gm, QSIZE, TX_DESC, TX_AVAIL, TX_USED);
	assert_int_equal(mmio_setup_queue(fx->m, VIRTIO_NET_RXQ, &fx->rx), 1);
	assert_int_equal(mmio_setup_queue(fx->m, VIRTIO_NET_TXQ, &fx->tx), 1);
	mmio_driver_ok(fx->m);
}

static inline void make_dev(struct fixture *fx, struct gmem *gm)
{
	struct irq_line irq = {fake_irq_set, fx, 16};

	fx->fb.be.ops = &fb_ops;
	assert_int_equal(virtio_net_create(gm, &fx->fb.be, test_mac, NULL, &fx->net), 0);
	fx->vdev = virtio_net_dev(fx->net);
	assert_int_equal(virtio_mmio_create(fx->vdev, irq, fake_notify, fx, &fx->m), 0);
}

static inline void fixture_init(struct fixture *fx, int driver_ok, int mrg)
{
	assert_int_equal(fake_mem_add(&fx->gm, 0, REGION_B), 0);
	assert_int_equal(fake_mem_add(&fx->gm, REGION_B, 0x100000), 0);
	make_dev(fx, &fx->gm);
	if (driver_ok)
		bring_up(fx, mrg);
}

static inline void fixture_fini(struct fixture *fx)
{
	virtio_mmio_destroy(fx->m);
	virtio_net_destroy(fx->net);
	assert_int_equal(fx->fb.destroyed, 1);
	fake_mem_destroy(&fx->gm);
}

static inline uint32_t used_len(struct vqb *b, uint16_t i, uint16_t head)
{
	uint32_t id, len;

	vqb_used_elem(b, i, &id, &len);
	assert_int_equal(id, head);
	return len;
}

static inline int needs_reset(struct fixture *fx)
{
	return (mmio_rd(fx->m, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET) != 0;
}

/* Check guest bytes at gpa against the frame pattern (seed + i) from frame offset off. */
static inline void check_pattern(struct fixture *fx, uint64_t gpa, size_t off, size_t len,
				 uint8_t seed)
{
	uint8_t p[4096];

	assert_true(len <= sizeof(p));
	assert_int_equal(gmem_read(&fx->gm, gpa, p, len), 0); /* may cross regions */
	for (size_t i = 0; i < len; i++)
		assert_int_equal(p[i], (uint8_t)(seed + off + i));
}

#endif
