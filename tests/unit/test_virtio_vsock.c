/* Unit tests for the virtio socket device, driven as the Linux driver does through virtio-mmio
 * and fake queues, with socketpairs as the host sockets: guest- and host-initiated handshakes,
 * data both ways, credit limits in both directions, shutdown and close, RST for unknown ports and
 * malformed packets, chain errors (NEEDS_RESET), and save/load (connections reset, the
 * TRANSPORT_RESET event delivered). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "virtio/virtio_vsock.h"
#include "virtq_builder.h"

#define QSIZE 16
#define CID 5u
#define REFUSED_PORT 99u
#define RXB 0x10000ull /* rx buffers: head * 0x2000 */
#define RXB_LEN (4096u + VIRTIO_VSOCK_HDR_LEN)
#define TXH 0xa000ull	/* tx headers: head * 64 */
#define EVB 0xb000ull	/* event buffers: head * 16 */
#define TXP 0x100000ull /* tx payloads: head * 0x10000, in the second region */
#define REGION_B 0x100000ull

struct fixture {
	struct gmem gm;
	struct virtio_vsock *v;
	struct virtio_dev *vdev;
	struct virtio_mmio *m;
	struct vqb rx, tx, ev;
	uint16_t rx_seen, ev_seen;
	int peer[8]; /* host ends of the sockets the fake back-end handed out */
	unsigned npeer;
	uint32_t g_buf_alloc, g_fwd; /* the guest's credit fields */
	int small_sndbuf;
};

static void fake_irq_set(void *ctx, unsigned gsi, int level)
{
}

static void fake_notify(void *ctx, unsigned q)
{
}

static int fake_connect(void *ctx, uint32_t port)
{
	struct fixture *fx = ctx;
	int sv[2];

	if (port == REFUSED_PORT)
		return -ECONNREFUSED;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	if (fx->small_sndbuf) {
		int sz = 4096;
		setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
		setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	}
	fx->peer[fx->npeer++] = sv[1];
	return sv[0];
}

static size_t fake_established(void *ctx, uint32_t host_port, char *buf, size_t cap)
{
	return (size_t)snprintf(buf, cap, "OK %u\n", host_port);
}

static void rx_post(struct fixture *fx, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		uint16_t head = fx->rx.next_free;
		struct vqb_seg s = {RXB + 0x2000ull * head, RXB_LEN, 1};
		vqb_add(&fx->rx, &s, 1);
	}
	virtio_dev_notify(fx->vdev, VIRTIO_VSOCK_RXQ);
}

static int setup(void **state)
{
	struct fixture *fx = test_calloc(1, sizeof(*fx));
	struct virtio_vsock_backend be = {fake_connect, fake_established, fx};

	assert_int_equal(fake_mem_add(&fx->gm, 0, REGION_B), 0);
	assert_int_equal(fake_mem_add(&fx->gm, REGION_B, 0x100000), 0);
	assert_int_equal(virtio_vsock_create(&fx->gm, CID, NULL, &be, &fx->v), 0);
	fx->vdev = virtio_vsock_dev(fx->v);
	assert_int_equal(virtio_mmio_create(fx->vdev, (struct irq_line){fake_irq_set, fx, 16},
					    fake_notify, fx, &fx->m),
			 0);
	vqb_init(&fx->rx, &fx->gm, QSIZE, 0x1000, 0x2000, 0x3000);
	vqb_init(&fx->tx, &fx->gm, QSIZE, 0x4000, 0x5000, 0x6000);
	vqb_init(&fx->ev, &fx->gm, QSIZE, 0x7000, 0x8000, 0x9000);
	assert_true(mmio_negotiate(fx->m, VIRTIO_CORE_FEATURES) & VIRTIO_STATUS_FEATURES_OK);
	assert_int_equal(mmio_setup_queue(fx->m, VIRTIO_VSOCK_RXQ, &fx->rx), 1);
	assert_int_equal(mmio_setup_queue(fx->m, VIRTIO_VSOCK_TXQ, &fx->tx), 1);
	assert_int_equal(mmio_setup_queue(fx->m, VIRTIO_VSOCK_EVQ, &fx->ev), 1);
	mmio_driver_ok(fx->m);
	fx->g_buf_alloc = 65536;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	virtio_mmio_destroy(fx->m);
	virtio_vsock_destroy(fx->v);
	for (unsigned i = 0; i < fx->npeer; i++)
		close(fx->peer[i]);
	fake_mem_destroy(&fx->gm);
	test_free(fx);
	return 0;
}

/* Send one packet on the tx queue (header, then the payload as a second descriptor) and notify.
 * hdr_len / desc_len override the descriptor lengths when non-zero. */
static void tx_raw(struct fixture *fx, const struct virtio_vsock_hdr *h, const void *data,
		   uint32_t desc_len, uint32_t hdr_len)
{
	uint16_t head = fx->tx.next_free;
	uint8_t raw[VIRTIO_VSOCK_HDR_LEN];
	struct vqb_seg s[2] = {{TXH + 64ull * head, hdr_len ? hdr_len : VIRTIO_VSOCK_HDR_LEN, 0},
			       {TXP + 0x10000ull * head, desc_len, 0}};

	virtio_vsock_hdr_encode(h, raw);
	assert_int_equal(gmem_write(&fx->gm, s[0].addr, raw, sizeof(raw)), 0);
	if (desc_len && data)
		assert_int_equal(gmem_write(&fx->gm, s[1].addr, data, desc_len), 0);
	vqb_add(&fx->tx, s, desc_len ? 2 : 1);
	assert_int_equal(virtio_dev_notify(fx->vdev, VIRTIO_VSOCK_TXQ), 0);
}

static struct virtio_vsock_hdr ghdr(struct fixture *fx, uint32_t gport, uint32_t hport, uint16_t op,
				    uint32_t len)
{
	return (struct virtio_vsock_hdr){.src_cid = CID,
					 .dst_cid = VIRTIO_VSOCK_HOST_CID,
					 .src_port = gport,
					 .dst_port = hport,
					 .len = len,
					 .type = VIRTIO_VSOCK_TYPE_STREAM,
					 .op = op,
					 .buf_alloc = fx->g_buf_alloc,
					 .fwd_cnt = fx->g_fwd};
}

static void tx_pkt(struct fixture *fx, uint32_t gport, uint32_t hport, uint16_t op, uint32_t flags,
		   const void *data, uint32_t len)
{
	struct virtio_vsock_hdr h = ghdr(fx, gport, hport, op, len);
	h.flags = flags;
	tx_raw(fx, &h, data, len, 0);
}

/* The next packet the device put in the rx queue: 1 and its header (and payload), or 0. */
static int rx_get(struct fixture *fx, struct virtio_vsock_hdr *h, void *payload, uint32_t *plen)
{
	uint8_t raw[VIRTIO_VSOCK_HDR_LEN];
	uint32_t id, len;

	if (vqb_used_idx(&fx->rx) == fx->rx_seen)
		return 0;
	vqb_used_elem(&fx->rx, fx->rx_seen++, &id, &len);
	assert_true(len >= VIRTIO_VSOCK_HDR_LEN);
	assert_int_equal(gmem_read(&fx->gm, RXB + 0x2000ull * id, raw, sizeof(raw)), 0);
	virtio_vsock_hdr_decode(raw, h);
	assert_int_equal(h->len, len - VIRTIO_VSOCK_HDR_LEN);
	assert_int_equal(h->dst_cid, CID);
	assert_int_equal(h->type, VIRTIO_VSOCK_TYPE_STREAM);
	if (payload)
		assert_int_equal(gmem_read(&fx->gm, RXB + 0x2000ull * id + VIRTIO_VSOCK_HDR_LEN,
					   payload, h->len),
				 0);
	if (plen)
		*plen = h->len;
	return 1;
}

static void expect_op(struct fixture *fx, uint16_t op, uint32_t gport, uint32_t hport)
{
	struct virtio_vsock_hdr h;

	assert_int_equal(rx_get(fx, &h, NULL, NULL), 1);
	assert_int_equal(h.op, op);
	assert_int_equal(h.src_cid, VIRTIO_VSOCK_HOST_CID);
	assert_int_equal(h.dst_port, gport);
	assert_int_equal(h.src_port, hport);
}

static void expect_nothing(struct fixture *fx)
{
	struct virtio_vsock_hdr h;
	assert_int_equal(rx_get(fx, &h, NULL, NULL), 0);
}

/* Guest connects to host port 1234 from 40000: RESPONSE, and the fake's socket is peer[0]. */
static void guest_open(struct fixture *fx)
{
	rx_post(fx, QSIZE);
	tx_pkt(fx, 40000, 1234, VIRTIO_VSOCK_OP_REQUEST, 0, NULL, 0);
	expect_op(fx, VIRTIO_VSOCK_OP_RESPONSE, 40000, 1234);
	assert_int_equal(fx->npeer, 1);
	assert_int_equal(virtio_vsock_nr_conns(fx->v), 1);
}

static void test_config(void **state)
{
	struct fixture *fx = *state;
	struct virtio_vsock *bad;

	assert_int_equal(mmio_rd(fx->m, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_VSOCK);
	assert_int_equal(virtio_mmio_ops.read(fx->m, VIRTIO_MMIO_CONFIG, 4), CID);
	assert_int_equal(virtio_mmio_ops.read(fx->m, VIRTIO_MMIO_CONFIG + 4, 4), 0);
	assert_int_equal(virtio_mmio_ops.read(fx->m, VIRTIO_MMIO_CONFIG, 1), CID);
	for (unsigned q = 0; q < 4; q++) {
		mmio_wr(fx->m, VIRTIO_MMIO_QUEUE_SEL, q);
		assert_int_equal(mmio_rd(fx->m, VIRTIO_MMIO_QUEUE_NUM_MAX),
				 q < 3 ? VIRTIO_VSOCK_QUEUE_SIZE : 0);
	}
	assert_int_equal(virtio_vsock_create(&fx->gm, 2, NULL, NULL, &bad), -EINVAL);
	assert_int_equal(virtio_vsock_create(&fx->gm, 1ull << 32, NULL, NULL, &bad), -EINVAL);
}

static void test_guest_connect_rw(void **state)
{
	struct fixture *fx = *state;
	struct virtio_vsock_hdr h;
	char buf[64];
	uint32_t len;

	guest_open(fx);
	tx_pkt(fx, 40000, 1234, VIRTIO_VSOCK_OP_RW, 0, "hello", 5);
	assert_int_equal(read(fx->peer[0], buf, sizeof(buf)), 5);
	assert_memory_equal(buf, "hello", 5);

	assert_int_equal(write(fx->peer[0], "world!", 6), 6);
	virtio_vsock_poll(fx->v);
	assert_int_equal(rx_get(fx, &h, buf, &len), 1);
	assert_int_equal(h.op, VIRTIO_VSOCK_OP_RW);
	assert_int_equal(len, 6);
	assert_memory_equal(buf, "world!", 6);
	assert_int_equal(h.buf_alloc, VIRTIO_VSOCK_BUF_ALLOC);
	assert_int_equal(h.fwd_cnt, 5); /* the 5 bytes the guest sent were forwarded */
	expect_nothing(fx);

	/* Refused and unknown ports get an RST; so do packets for no connection. */
	tx_pkt(fx, 40001, REFUSED_PORT, VIRTIO_VSOCK_OP_REQUEST, 0, NULL, 0);
	expect_op(fx, VIRTIO_VSOCK_OP_RST, 40001, REFUSED_PORT);
	tx_pkt(fx, 40002, 777, VIRTIO_VSOCK_OP_RW, 0, "x", 1);
	expect_op(fx, VIRTIO_VSOCK_OP_RST, 40002, 777);
	tx_pkt(fx, 40002, 777, VIRTIO_VSOCK_OP_RST, 0, NULL, 0); /* never answered */
	expect_nothing(fx);
	assert_int_equal(virtio_vsock_nr_conns(fx->v), 1);

	/* Guest RST closes the host socket. */
	tx_pkt(fx, 40000, 1234, VIRTIO_VSOCK_OP_RST, 0, NULL, 0);
	assert_int_equal(virtio_vsock_nr_conns(fx->v), 0);
	virtio_vsock_poll(fx->v);
	assert_int_equal(read(fx->peer[0], buf, sizeof(buf)), 0);
}

static void test_host_connect(void **state)
{
	struct fixture *fx = *state;
	struct virtio_vsock_hdr h;
	int sv[2], sv2[2];
	uint32_t port, port2, len;
	char buf[64];

	rx_post(fx, QSIZE);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	assert_int_equal(virtio_vsock_host_connect(fx->v, sv[0], 52, &port), 0);
	assert_true(port >= (1u << 30));
	expect_op(fx, VIRTIO_VSOCK_OP_REQUEST, 52, port);
	/* Data before the handshake finished is an error: RST, the socket closed. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv2), 0);
	assert_int_equal(virtio_vsock_host_connect(fx->v, sv2[0], 53, &port2), 0);
	assert_int_not_equal(port, port2);
	expect_op(fx, VIRTIO_VSOCK_OP_REQUEST, 53, port2);
	tx_pkt(fx, 53, port2, VIRTIO_VSOCK_OP_RW, 0, "early", 5);
	expect_op(fx, VIRTIO_VSOCK_OP_RST, 53, port2);
	virtio_vsock_poll(fx->v);
	assert_int_equal(read(sv2[1], buf, sizeof(buf)), 0);
	close(sv2[1]);

	/* RESPONSE: the greeting, then data both ways. */
	tx_pkt(fx, 52, port, VIRTIO_VSOCK_OP_RESPONSE, 0, NULL, 0);
	tx_pkt(fx, 52, port, VIRTIO_VSOCK_OP_RW, 0, "pong", 4);
	snprintf(buf, sizeof(buf), "OK %u\npong", port);
	char got[64] = {0};
	assert_int_equal(read(sv[1], got, sizeof(got)), (ssize_t)strlen(buf));
	assert_string_equal(got, buf);
	assert_int_equal(write(sv[1], "ping", 4), 4);
	virtio_vsock_poll(fx->v);
	assert_int_equal(rx_get(fx, &h, got, &len), 1);
	assert_int_equal(h.op, VIRTIO_VSOCK_OP_RW);
	assert_int_equal(len, 4);
	assert_memory_equal(got, "ping", 4);

	/* The host closes: SHUTDOWN(SEND); the guest closes too: RST, socket gone. */
	close(sv[1]);
	virtio_vsock_poll(fx->v);
	assert_int_equal(rx_get(fx, &h, NULL, NULL), 1);
	assert_int_equal(h.op, VIRTIO_VSOCK_OP_SHUTDOWN);
	assert_int_equal(h.flags, VIRTIO_VSOCK_SHUTDOWN_SEND);
	tx_pkt(fx, 52, port, VIRTIO_VSOCK_OP_SHUTDOWN, 3, NULL, 0);
	expect_op(fx, VIRTIO_VSOCK_OP_RST, 52, port);
	assert_int_equal(virtio_vsock_nr_conns(fx->v), 0);

	/* A guest RST refuses a host connection: the client sees end of file. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	assert_int_equal(virtio_vsock_host_connect(fx->v, sv[0], 54, &port), 0);
	expect_op(fx, VIRTIO_VSOCK_OP_REQUEST, 54, port);
	tx_pkt(fx, 54, port, VIRTIO_VSOCK_OP_RST, 0, NULL, 0);
	virtio_vsock_poll(fx->v);
	assert_int_equal(read(sv[1], buf, sizeof(buf)), 0);
	close(sv[1]);

	/* A guest that never answers: reset after the handshake timeout, not before. */
	struct timespec ts;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	assert_int_equal(virtio_vsock_host_connect(fx->v, sv[0], 55, &port), 0);
	expect_op(fx, VIRTIO_VSOCK_OP_REQUEST, 55, port);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t now = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	assert_int_equal(virtio_vsock_expire(fx->v, now + 1000000000u), 0);
	expect_nothing(fx);
	assert_int_equal(virtio_vsock_expire(fx->v, now + 3000000000u), 1);
	expect_op(fx, VIRTIO_VSOCK_OP_RST, 55, port);
	virtio_vsock_poll(fx->v);
	assert_int_equal(read(sv[1], buf, sizeof(buf)), 0);
	close(sv[1]);
	assert_int_equal(virtio_vsock_nr_conns(fx->v), 0);

	/* Not running: refused, fd not taken. */
	mmio_wr(fx->m, VIRTIO_MMIO_STATUS, 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	assert_int_equal(virtio_vsock_host_connect(fx->v, sv[0], 52, &port), -ENOTCONN);
	close(sv[0]);
	close(sv[1]);
}

static void test_credit_to_guest(void **state)
{
	struct fixture *fx = *state;
	struct virtio_vsock_hdr h;
	char data[100], got[100];
	uint32_t len;

	memset(data, 'a', sizeof(data));
	fx->g_buf_alloc = 10;
	guest_open(fx);
	assert_int_equal(write(fx->peer[0], data, sizeof(data)), (ssize_t)sizeof(data));
	virtio_vsock_poll(fx->v);
	assert_int_equal(rx_get(fx, &h, got, &len), 1);
	assert_int_equal(len, 10); /* the guest's whole credit, no more */
	virtio_vsock_poll(fx->v);
	expect_nothing(fx);
	/* The guest consumed 10 and says so: 10 more. */
	fx->g_fwd = 10;
	tx_pkt(fx, 40000, 1234, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0);
	assert_int_equal(rx_get(fx, &h, got, &len), 1);
	assert_int_equal(h.op, VIRTIO_VSOCK_OP_RW);
	assert_int_equal(len, 10);
	expect_nothing(fx);
	/* More credit than an rx buffer holds: packets are cut at the buffer size. */
	fx->g_buf_alloc = 1 << 20;
	fx->g_fwd = 20;
	char big[8192];
	memset(big, 'b', sizeof(big));
	assert_int_equal(write(fx->peer[0], big, sizeof(big)), (ssize_t)sizeof(big));
	tx_pkt(fx, 40000, 1234, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0);
	uint32_t total = 0;
	while (rx_get(fx, &h, NULL, &len)) {
		assert_true(len <= RXB_LEN - VIRTIO_VSOCK_HDR_LEN);
		total += len;
	}
	assert_int_equal(total, 80 + sizeof(big));
	/* CREDIT_REQUEST is answered with CREDIT_UPDATE. */
	tx_pkt(fx, 40000, 1234, VIRTIO_VSOCK_OP_CREDIT_REQUEST, 0, NULL, 0);
	expect_op(fx, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 40000, 1234);
}

static void test_credit_from_guest(void **state)
{
	struct fixture *fx = *state;
	static uint8_t chunk[VIRTIO_VSOCK_MAX_PKT], sink[VIRTIO_VSOCK_MAX_PKT];
	struct virtio_vsock_hdr h;
	uint32_t sent = 0;
	ssize_t n;

	fx->small_sndbuf = 1;
	guest_open(fx);
	for (unsigned i = 0; i < sizeof(chunk); i++)
		chunk[i] = (uint8_t)i;
	/* The host does not read: the device buffers up to its buf_alloc, then resets. */
	while (sent + sizeof(chunk) <= VIRTIO_VSOCK_BUF_ALLOC) {
		tx_pkt(fx, 40000, 1234, VIRTIO_VSOCK_OP_RW, 0, chunk, sizeof(chunk));
		sent += sizeof(chunk);
	}
	expect_nothing(fx);
	assert_int_equal(virtio_vsock_nr_conns(fx->v), 1);
	/* Read some: the device writes more and, past half its buffer, updates the credit. */
	uint32_t got = 0;
	for (int round = 0; round < 1000 && got < sent; round++) {
		while ((n = read(fx->peer[0], sink, sizeof(sink))) > 0) {
			for (ssize_t i = 0; i < n; i++)
				assert_int_equal(sink[i], (uint8_t)(got + i));
			got += (uint32_t)n;
		}
		virtio_vsock_poll(fx->v);
	}
	assert_int_equal(got, sent);
	/* One update once half the buffer was forwarded (the guest then knows it may send half a
	 * buffer more at least); not one per write. */
	assert_int_equal(rx_get(fx, &h, NULL, NULL), 1);
	assert_int_equal(h.op, VIRTIO_VSOCK_OP_CREDIT_UPDATE);
	assert_true(h.fwd_cnt >= VIRTIO_VSOCK_BUF_ALLOC / 2 && h.fwd_cnt <= sent);
	expect_nothing(fx);
	/* Asked for, it gives the full count. */
	tx_pkt(fx, 40000, 1234, VIRTIO_VSOCK_OP_CREDIT_REQUEST, 0, NULL, 0);
	assert_int_equal(rx_get(fx, &h, NULL, NULL), 1);
	assert_int_equal(h.op, VIRTIO_VSOCK_OP_CREDIT_UPDATE);
	assert_int_equal(h.fwd_cnt, sent);

	/* Beyond the credit (the host no longer reads): RST and the connection is gone. */
	for (unsigned i = 0; i <= VIRTIO_VSOCK_BUF_ALLOC / sizeof(chunk) + 1; i++)
		tx_pkt(fx, 40000, 1234, VIRTIO_VSOCK_OP_RW, 0, chunk, sizeof(chunk));
	expect_op(fx, VIRTIO_VSOCK_OP_RST, 40000, 1234);
	assert_int_equal(virtio_vsock_nr_conns(fx->v), 0);
}

static void test_shutdown(void **state)
{
	struct fixture *fx = *state;
	char buf[16];

	guest_open(fx);
	tx_pkt(fx, 40000, 1234, VIRTIO_VSOCK_OP_RW, 0, "bye", 3);
	tx_pkt(fx, 40000, 1234, VIRTIO_VSOCK_OP_SHUTDOWN, VIRTIO_VSOCK_SHUTDOWN_SEND, NULL, 0);
	assert_int_equal(read(fx->peer[0], buf, sizeof(buf)), 3);
	assert_int_equal(read(fx->peer[0], buf, sizeof(buf)), 0); /* write side shut */
	/* Data after SHUTDOWN(SEND) is a protocol error. */
	tx_pkt(fx, 40000, 1234, VIRTIO_VSOCK_OP_RW, 0, "more", 4);
	expect_op(fx, VIRTIO_VSOCK_OP_RST, 40000, 1234);
	assert_int_equal(virtio_vsock_nr_conns(fx->v), 0);
}

static void test_malformed(void **state)
{
	struct fixture *fx = *state;
	struct virtio_vsock_hdr h;

	guest_open(fx);
	/* len larger than the payload the descriptors hold: RST, connection reset. */
	h = ghdr(fx, 40000, 1234, VIRTIO_VSOCK_OP_RW, 100);
	tx_raw(fx, &h, "abc", 3, 0);
	expect_op(fx, VIRTIO_VSOCK_OP_RST, 40000, 1234);
	assert_int_equal(virtio_vsock_nr_conns(fx->v), 0);
	/* Wrong src_cid, a dst_cid other than the host, a datagram type, an unknown op. */
	h = ghdr(fx, 40010, 1234, VIRTIO_VSOCK_OP_REQUEST, 0);
	h.src_cid = CID + 1;
	tx_raw(fx, &h, NULL, 0, 0);
	expect_op(fx, VIRTIO_VSOCK_OP_RST, 40010, 1234);
	h = ghdr(fx, 40011, 1234, VIRTIO_VSOCK_OP_REQUEST, 0);
	h.dst_cid = 7;
	tx_raw(fx, &h, NULL, 0, 0);
	assert_int_equal(rx_get(fx, &h, NULL, NULL), 1);
	assert_int_equal(h.op, VIRTIO_VSOCK_OP_RST);
	assert_int_equal(h.src_cid, 7); /* from the CID the guest tried */
	assert_int_equal(h.dst_port, 40011);
	h = ghdr(fx, 40012, 1234, VIRTIO_VSOCK_OP_REQUEST, 0);
	h.type = 2;
	tx_raw(fx, &h, NULL, 0, 0);
	expect_op(fx, VIRTIO_VSOCK_OP_RST, 40012, 1234);
	tx_pkt(fx, 40013, 1234, 99, 0, NULL, 0);
	expect_op(fx, VIRTIO_VSOCK_OP_RST, 40013, 1234);
	assert_int_equal(virtio_vsock_nr_conns(fx->v), 0);
	assert_int_equal(fx->npeer, 1); /* none of them connected */
	assert_false(mmio_rd(fx->m, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET);

	/* A tx chain shorter than a header: NEEDS_RESET. */
	h = ghdr(fx, 40014, 1234, VIRTIO_VSOCK_OP_REQUEST, 0);
	tx_raw(fx, &h, NULL, 0, 20);
	assert_true(mmio_rd(fx->m, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
}

static void test_bad_rx_buffer(void **state)
{
	struct fixture *fx = *state;
	struct vqb_seg s = {RXB, 16, 1};

	vqb_add(&fx->rx, &s, 1);
	tx_pkt(fx, 40000, REFUSED_PORT, VIRTIO_VSOCK_OP_REQUEST, 0, NULL, 0);
	assert_true(mmio_rd(fx->m, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
	/* A reset brings it back. */
	mmio_wr(fx->m, VIRTIO_MMIO_STATUS, 0);
	assert_int_equal(mmio_rd(fx->m, VIRTIO_MMIO_STATUS), 0);
}

static void test_save_load(void **state)
{
	struct fixture *fx = *state;
	struct virtio_mmio_state *st = test_malloc(sizeof(*st));
	struct virtio_vsock *v2, *v3;
	struct virtio_mmio *m2, *m3;
	struct vqb_seg evs = {EVB, 4, 1};
	uint32_t id, len;
	char buf[8];

	guest_open(fx);
	vqb_add(&fx->ev, &evs, 1);
	assert_int_equal(virtio_dev_notify(fx->vdev, VIRTIO_VSOCK_EVQ), 0);
	assert_int_equal(vqb_used_idx(&fx->ev), 0); /* no event without a load */
	assert_int_equal(virtio_mmio_save(fx->m, st), 0);
	assert_int_equal(st->dev.dev_len, 16);

	/* A device with another CID refuses the state. */
	assert_int_equal(virtio_vsock_create(&fx->gm, CID + 1, NULL, NULL, &v3), 0);
	assert_int_equal(
	    virtio_mmio_create(virtio_vsock_dev(v3), (struct irq_line){0}, fake_notify, fx, &m3),
	    0);
	assert_int_equal(virtio_mmio_load(m3, st), -EINVAL);
	virtio_mmio_destroy(m3);
	virtio_vsock_destroy(v3);

	/* The same state loaded into the running device: its connection is reset (the host socket
	 * sees end of file) and the guest gets TRANSPORT_RESET at the next kick. */
	assert_int_equal(virtio_mmio_load(fx->m, st), 0);
	assert_int_equal(virtio_vsock_nr_conns(fx->v), 0);
	virtio_vsock_poll(fx->v);
	assert_int_equal(read(fx->peer[0], buf, sizeof(buf)), 0);
	virtio_vsock_kick(fx->v);
	assert_int_equal(vqb_used_idx(&fx->ev), 1);
	vqb_used_elem(&fx->ev, 0, &id, &len);
	assert_int_equal(len, 4);
	assert_int_equal(gm_r32(&fx->gm, EVB), VIRTIO_VSOCK_EVENT_TRANSPORT_RESET);

	/* Into a fresh device: the same, and the guest can connect again. */
	assert_int_equal(virtio_vsock_create(&fx->gm, CID, NULL, NULL, &v2), 0);
	assert_int_equal(
	    virtio_mmio_create(virtio_vsock_dev(v2), (struct irq_line){0}, fake_notify, fx, &m2),
	    0);
	assert_int_equal(virtio_mmio_load(m2, st), 0);
	gm_w16(&fx->gm, fx->ev.used + 2, 0); /* the ring as it was at the save */
	gm_w32(&fx->gm, EVB, 0xffffffff);
	virtio_vsock_kick(v2);
	assert_int_equal(vqb_used_idx(&fx->ev), 1);
	assert_int_equal(gm_r32(&fx->gm, EVB), VIRTIO_VSOCK_EVENT_TRANSPORT_RESET);
	virtio_mmio_destroy(m2);
	virtio_vsock_destroy(v2);
	test_free(st);
}

/* With an event loop: the handshake timer fires by itself and the loop reaps the socket. */
static void test_timer_on_loop(void **state)
{
	struct fixture *fx = *state;
	struct virtio_vsock_backend be = {fake_connect, fake_established, fx};
	struct virtio_vsock *v;
	struct virtio_mmio *m;
	struct evloop el;
	int sv[2];
	uint32_t port;
	char buf[8];

	assert_int_equal(evloop_init(&el), 0);
	assert_int_equal(virtio_vsock_create(&fx->gm, CID, &el, &be, &v), 0);
	assert_int_equal(
	    virtio_mmio_create(virtio_vsock_dev(v), (struct irq_line){0}, fake_notify, fx, &m), 0);
	assert_true(mmio_negotiate(m, VIRTIO_CORE_FEATURES) & VIRTIO_STATUS_FEATURES_OK);
	for (unsigned q = 0; q < 3; q++)
		assert_int_equal(mmio_setup_queue(m, q,
						  q == 0   ? &fx->rx
						  : q == 1 ? &fx->tx
							   : &fx->ev),
				 1);
	mmio_driver_ok(m);
	assert_int_equal(evloop_start(&el), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	assert_int_equal(virtio_vsock_host_connect(v, sv[0], 60, &port), 0);
	struct timeval tv = {5, 0};
	setsockopt(sv[1], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	fcntl(sv[1], F_SETFL, 0); /* blocking: wait for the close */
	assert_int_equal(read(sv[1], buf, sizeof(buf)), 0);
	assert_int_equal(virtio_vsock_nr_conns(v), 0);
	close(sv[1]);
	evloop_stop(&el);
	virtio_mmio_destroy(m);
	virtio_vsock_destroy(v);
	evloop_destroy(&el);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_config, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_guest_connect_rw, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_host_connect, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_credit_to_guest, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_credit_from_guest, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_shutdown, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_rx_buffer, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_save_load, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_timer_on_loop, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
