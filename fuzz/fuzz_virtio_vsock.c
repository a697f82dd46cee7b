/* libFuzzer harness: the virtio socket device (src/virtio/virtio_vsock*.c) driven as a hostile
 * guest would, through the virtio-mmio transport and three split virtqueues laid out in fake guest
 * memory from the input, with socketpairs as the host sockets (a fake back-end: guest connections
 * to even ports succeed, to odd ports are refused) and host-initiated connections and host socket
 * traffic from the input too.
 *
 * Guest RAM: two adjacent 64 KiB regions at 0 and 0x10000 (fuzz_virtio.h). Queues: rx at desc
 * 0x0, avail 0x1000, used 0x2000; tx 0x3000/0x4000/0x5000; event 0x6000/0x7000/0x8000; the
 * indirect table at 0x9000; PKT headers at 0xa000, payloads at 0xb000; RXBUF buffers from 0x10000.
 *
 * Input: a 2-byte header (flags u8: 1 no EVENT_IDX, 2 no INDIRECT_DESC; log2 queue size u8 mod 8),
 * then operations until the input ends (opcode = first byte mod OP_COUNT):
 *   0 POKE   off u16, len u8, bytes              guest memory (not the used rings)
 *   1 DESC   q u8 (3: indirect table), idx u8, addr u32, len u32, flags u8, next u8
 *   2 AVAIL  q u8, head u16                        publish head on queue q
 *   3 IDX    q u8, idx u16                         set queue q's avail idx
 *   4 NOTIFY q u8                                  virtio_dev_notify until no work is left
 *   5 PKT    op u8, gport u8, hport u8, len u16, flags u8, buf_alloc u32, fwd_cnt u32, mangle u8,
 *            dlen u16                              a plausible tx packet (header + payload of
 *                                                 dlen bytes; mangle: 1 src_cid, 2 dst_cid,
 *                                                 4 type, 8 header split over two descriptors),
 *                                                 published and notified
 *   6 RXBUF  n u8                                  post n plausible rx buffers (2 KiB each)
 *   7 HCONN  port u8                               a host-initiated connection (socketpair)
 *   8 HIO    peer u8, what u8, n u16               on a host end: write n bytes, read all,
 *                                                 shut its write side, or close it
 *   9 POLL                                        virtio_vsock_poll
 *  10 RESET                                       status 0, then the queues set up again
 *  11 ROUND                                       save, load into a fresh device, save
 *  12 KICK                                        virtio_vsock_kick
 *
 * Invariants (beyond ASan/UBSan): used entries name heads inside their queue; NEEDS_RESET stays
 * until a reset; at most VIRTIO_VSOCK_MAX_CONNS connections; a fresh device loads the saved state
 * and saves it back identically; no file descriptor is leaked (checked at the end of each run). */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/gmem.h"
#include "fuzz_input.h"
#include "fuzz_virtio.h"
#include "virtio/virtio_mmio.h"
#include "virtio/virtio_vsock.h"
#include "virtq_builder.h"

enum {
	OP_POKE,
	OP_DESC,
	OP_AVAIL,
	OP_IDX,
	OP_NOTIFY,
	OP_PKT,
	OP_RXBUF,
	OP_HCONN,
	OP_HIO,
	OP_POLL,
	OP_RESET,
	OP_ROUND,
	OP_KICK,
	OP_COUNT
};

#define CID 3u
#define ITABLE_GPA 0x9000u
/* Where DESC moves a buffer that would cover a used ring:
 * above the three queues' rings and the indirect table. */
#define MOVE_GPA 0xa000u
#define PKT_HDR 0xa000u
#define PKT_DATA 0xb000u
#define RXBUF_GPA 0x10000u
#define RXBUF_LEN 0x800u
#define MAX_PEERS 16

static uint8_t *mem;
static struct gmem gm;

struct run {
	struct fzv v; /* the device is a struct virtio_vsock */
	int peer[MAX_PEERS];
	unsigned npeer;
};

static int pair(struct run *r)
{
	int sv[2];

	if (r->npeer == MAX_PEERS ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv))
		return -EMFILE;
	int sz = 4096;
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	r->peer[r->npeer++] = sv[1];
	return sv[0];
}

static int fake_connect(void *ctx, uint32_t port)
{
	return port & 1 ? -ECONNREFUSED : pair(ctx);
}

static size_t fake_established(void *ctx, uint32_t host_port, char *buf, size_t cap)
{
	return (size_t)snprintf(buf, cap, "OK %u\n", host_port);
}

static void *create(struct fzv *v, struct virtio_dev **vdev)
{
	struct virtio_vsock_backend be = {fake_connect, fake_established, FZV_OUTER(v, struct run)};
	struct virtio_vsock *vs;

	FZ_CHECK(virtio_vsock_create(&gm, CID, NULL, &be, &vs) == 0, "create");
	*vdev = virtio_vsock_dev(vs);
	return vs;
}

static void destroy(void *vs)
{
	virtio_vsock_destroy(vs);
}

static void op_pkt(struct fzv *v, struct fz_in *in)
{
	struct virtio_vsock_hdr h = {.src_cid = CID, .dst_cid = VIRTIO_VSOCK_HOST_CID};
	uint8_t raw[VIRTIO_VSOCK_HDR_LEN];
	struct vqb_seg s[3];
	unsigned n = 0;

	h.op = fz_u8(in) % 9;
	h.src_port = fz_u8(in) % 4;
	h.dst_port = fz_u8(in) % 8;
	h.len = fz_u16(in);
	h.flags = fz_u8(in);
	h.buf_alloc = fz_u32(in);
	h.fwd_cnt = fz_u32(in);
	h.type = VIRTIO_VSOCK_TYPE_STREAM;
	uint8_t mangle = fz_u8(in);
	uint32_t dlen = fz_u16(in) % 0x4000u;
	if (mangle & 1)
		h.src_cid = CID + 1;
	if (mangle & 2)
		h.dst_cid = 1;
	if (mangle & 4)
		h.type = 2;
	virtio_vsock_hdr_encode(&h, raw);
	memcpy(mem + PKT_HDR, raw, sizeof(raw));
	if (mangle & 8) {
		s[n++] = (struct vqb_seg){PKT_HDR, 20, 0};
		s[n++] = (struct vqb_seg){PKT_HDR + 20, VIRTIO_VSOCK_HDR_LEN - 20, 0};
	} else {
		s[n++] = (struct vqb_seg){PKT_HDR, VIRTIO_VSOCK_HDR_LEN, 0};
	}
	if (dlen)
		s[n++] = (struct vqb_seg){PKT_DATA, dlen, 0};
	if (n > v->qsize)
		return;
	vqb_add(&v->q[VIRTIO_VSOCK_TXQ], s, n);
	fzv_notify_until_idle(fzv_vdev(v), 1, 64);
}

static void op_hio(struct run *r, struct fz_in *in)
{
	unsigned i = fz_u8(in), what = fz_u8(in) % 4, n = fz_u16(in) % 0x8000u;
	static uint8_t buf[0x8000];

	if (!r->npeer)
		return;
	i %= r->npeer;
	int fd = r->peer[i];
	switch (what) {
	case 0:
		memset(buf, 'h', n);
		(void)!send(fd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		break;
	case 1:
		while (read(fd, buf, sizeof(buf)) > 0)
			;
		break;
	case 2:
		shutdown(fd, SHUT_WR);
		break;
	case 3:
		close(fd);
		r->peer[i] = r->peer[--r->npeer];
		break;
	}
}

static void own(struct fzv *v, unsigned op, struct fz_in *in)
{
	struct run *r = FZV_OUTER(v, struct run);

	switch (op) {
	case OP_PKT:
		op_pkt(v, in);
		break;
	case OP_RXBUF: {
		unsigned n = fz_u8(in) % 33;
		for (unsigned i = 0; i < n; i++) {
			struct vqb_seg s = {RXBUF_GPA + RXBUF_LEN * (i % 32), RXBUF_LEN, 1};
			vqb_add(&v->q[VIRTIO_VSOCK_RXQ], &s, 1);
		}
		virtio_dev_notify(fzv_vdev(v), VIRTIO_VSOCK_RXQ);
		break;
	}
	case OP_HCONN: {
		uint32_t port = fz_u8(in), hp;
		int fd = pair(r);
		if (fd >= 0 && virtio_vsock_host_connect(v->dev, fd, port, &hp))
			close(fd);
		break;
	}
	case OP_HIO:
		op_hio(r, in);
		break;
	case OP_POLL:
		virtio_vsock_poll(v->dev);
		break;
	case OP_KICK:
		virtio_vsock_kick(v->dev);
		break;
	}
}

static void check(struct fzv *v)
{
	FZ_CHECK(virtio_vsock_nr_conns(v->dev) <= VIRTIO_VSOCK_MAX_CONNS, "too many conns");
}

static const struct fzv_dev vsock = {
    .nq = 3,
    .nops = OP_COUNT,
    .ops = {[OP_POKE] = FZV_POKE,
	    [OP_DESC] = FZV_DESC,
	    [OP_AVAIL] = FZV_AVAIL,
	    [OP_IDX] = FZV_IDX,
	    [OP_NOTIFY] = FZV_NOTIFY,
	    [OP_RESET] = FZV_RESET,
	    [OP_ROUND] = FZV_ROUND},
    .itable = ITABLE_GPA,
    .move_to = MOVE_GPA,
    .itable_len = 0x1000 / 16,
    .notify_rounds = 64,
    .create = create,
    .destroy = destroy,
    .own = own,
    .check = check,
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	mem = fzv_init(&gm);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_in in = fz_init(data, size);
	struct run r = {0};
	uint8_t flags = fz_u8(&in);
	int fd_mark = fcntl(0, F_DUPFD_CLOEXEC, 0);

	close(fd_mark);
	uint32_t qsize = 1u << (fz_u8(&in) % 8);
	fzv_start(&r.v, &vsock, &gm, mem, qsize, fzv_features(!(flags & 1), !(flags & 2)));
	fzv_run(&r.v, &in);
	fzv_end(&r.v);
	for (unsigned i = 0; i < r.npeer; i++)
		close(r.peer[i]);
	int after = fcntl(0, F_DUPFD_CLOEXEC, 0);
	close(after);
	FZ_CHECK(after == fd_mark, "file descriptors leaked (lowest free %d, was %d)", after,
		 fd_mark);
	return 0;
}
