/* libFuzzer harness (shared pieces in fuzz_virtio.h): the virtio network device
 * (src/virtio/virtio_net.c) driven as a hostile guest would, through the virtio-mmio transport and
 * two split virtqueues laid out in fake guest memory from the input, with a fake back-end that
 * records what is sent and hands out frames the input queues.
 *
 * Guest RAM is two adjacent 64 KiB regions at 0 and 0x10000 (buffers may cross between them);
 * anything above 0x20000 is not RAM. Queue 0 (receiveq) lives at desc 0x0, avail 0x1000, used
 * 0x2000; queue 1 (transmitq) at desc 0x3000, avail 0x4000, used 0x5000; the indirect table the
 * inputs may point at is at 0x6000.
 *
 * Input: a 2-byte header, then operations until the input ends (little-endian operands; the
 * opcode is the first byte modulo OP_COUNT; fuzz/gen_net_seeds.py writes the same encoding):
 *   header   flags u8 (1 no EVENT_IDX, 2 no INDIRECT_DESC, 4 MRG_RXBUF, 8 the back-end refuses
 *            to send, 16 the back-end has checksum and TSO offloads, 32 the driver accepts
 *            them, 64 ... but not GUEST_CSUM), log2 of the queue size u8 (mod 8)
 *   0 POKE   off u16, len u8, bytes              guest memory at 2 * off (not the used rings)
 *   1 DESC   q u8, idx u8, addr u32, len u32, flags u8, next u8
 *                                                 one descriptor (q 2: the indirect table);
 *                                                 addr and len below 0x80000000 are taken mod
 *                                                 0x24000 so most land in RAM (moved when they
 *                                                 would overlap a used ring)
 *   2 AVAIL  q u8, head u16                        publish head on queue q
 *   3 IDX    q u8, idx u16                         set queue q's avail idx as given
 *   4 NOTIFY q u8                                  virtio_dev_notify until no work is left
 *   5 FRAME  len u16, seed u8                      queue a frame for the guest (len mod 4000,
 *                                                 byte i = seed + i) and call virtio_net_rx
 *   6 RX                                          virtio_net_rx
 *   7 CONFIG off u8, size u8, write u8, val u32   configuration space access
 *   8 RESET                                       status 0, then both queues set up again
 *   9 ROUND                                       save, load into a fresh device, save
 *  10 BUFS   n u8, len u16                         n receive buffers of len bytes (mod 3000)
 *                                                 chained from descriptor 0.. and published
 *  11 FRAMEH len u16, seed u8, flags u8, gso u8, csum_start u16, csum_offset u16
 *                                                 FRAME with an offload header
 *
 * Invariants checked (beyond ASan/UBSan): every frame sent lies in guest memory and is 14 to
 * NET_MAX_FRAME bytes, at most VIRTIO_NET_TX_BUDGET per notify; every frame the device took from
 * the back-end was delivered, dropped and counted, or is held (one at most); every used receive
 * entry holds data (the first of a frame at least the header; later ones, with MRG_RXBUF, may
 * hold only the rest) and every used transmit entry 0; used entries name heads
 * inside the queue; a fresh device loads the saved state and saves it back identically;
 * NEEDS_RESET stays until a reset. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/gmem.h"
#include "fuzz_input.h"
#include "fuzz_virtio.h"
#include "virtio/virtio_mmio.h"
#include "virtio/virtio_net.h"
#include "virtq_builder.h"

enum {
	OP_POKE,
	OP_DESC,
	OP_AVAIL,
	OP_IDX,
	OP_NOTIFY,
	OP_FRAME,
	OP_RX,
	OP_CONFIG,
	OP_RESET,
	OP_ROUND,
	OP_BUFS,
	OP_FRAMEH,
	OP_COUNT
};

#define MEM_SIZE FZV_MEM_SIZE
#define ITABLE_GPA 0x6000u
#define BUF_GPA 0x8000u
#define MAX_FRAMES 16

static const uint8_t mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
static uint8_t *mem;
static struct gmem gm;

struct fake_be {
	struct net_backend be;
	bool refuse;
	unsigned sent; /* frames sent during the current notify */
	uint16_t len[MAX_FRAMES];
	uint8_t seed[MAX_FRAMES];
	struct net_vhdr hdr[MAX_FRAMES];
	unsigned head, tail;
	uint8_t buf[4000];
};

struct run {
	struct fzv v; /* the device is a struct virtio_net */
	struct fake_be fb;
	unsigned base; /* frames taken before the device was created */
};

static bool in_mem(const void *p, size_t len)
{
	const uint8_t *b = p;
	return b >= mem && len <= MEM_SIZE && b - mem <= (ptrdiff_t)(MEM_SIZE - len);
}

static int fb_send(struct net_backend *be, const struct net_vhdr *hdr, const struct iovec *iov,
		   unsigned n)
{
	struct fake_be *f = (struct fake_be *)be;
	size_t len = 0;

	FZ_CHECK(!hdr || be->offloads, "a header for a back-end without offloads");
	FZ_CHECK(!hdr || hdr->gso_type == NET_GSO_NONE || hdr->gso_type == NET_GSO_TCPV4 ||
		     hdr->gso_type == NET_GSO_TCPV6,
		 "gso type %u sent", hdr ? hdr->gso_type : 0);
	for (unsigned i = 0; i < n; i++) {
		FZ_CHECK(in_mem(iov[i].iov_base, iov[i].iov_len),
			 "sent bytes outside guest memory");
		len += iov[i].iov_len;
	}
	FZ_CHECK(len >= NET_MIN_FRAME && len <= NET_MAX_FRAME, "sent a frame of %zu bytes", len);
	f->sent++;
	return f->refuse ? -EAGAIN : 0;
}

static ssize_t fb_recv(struct net_backend *be, struct net_vhdr *hdr, void *buf, size_t cap)
{
	struct fake_be *f = (struct fake_be *)be;

	FZ_CHECK(cap >= NET_MAX_FRAME, "recv buffer of %zu bytes", cap);
	if (f->head == f->tail)
		return -EAGAIN;
	unsigned i = f->head++ % MAX_FRAMES;
	*hdr = f->hdr[i];
	for (unsigned j = 0; j < f->len[i]; j++)
		((uint8_t *)buf)[j] = (uint8_t)(f->seed[i] + j);
	return f->len[i];
}

static void fb_destroy(struct net_backend *be)
{
}

static int fb_set_offloads(struct net_backend *be, unsigned flags)
{
	FZ_CHECK(!(flags & ~be->offloads), "offloads 0x%x asked of 0x%x", flags, be->offloads);
	FZ_CHECK(!(flags & (NET_OFFLOAD_TSO4 | NET_OFFLOAD_TSO6)) || (flags & NET_OFFLOAD_CSUM),
		 "TSO without checksum offload");
	return 0;
}

static const struct net_backend_ops fb_ops = {
    .send = fb_send, .recv = fb_recv, .set_offloads = fb_set_offloads, .destroy = fb_destroy};

static void *create(struct fzv *v, struct virtio_dev **vdev)
{
	struct virtio_net *net;

	FZ_CHECK(virtio_net_create(&gm, &FZV_OUTER(v, struct run)->fb.be, mac, NULL, &net) == 0,
		 "create");
	*vdev = virtio_net_dev(net);
	return net;
}

static void destroy(void *net)
{
	virtio_net_destroy(net); /* the fake back-end's destroy does nothing */
}

static int notify(struct fzv *v, unsigned q)
{
	struct run *r = FZV_OUTER(v, struct run);

	r->fb.sent = 0;
	int more = virtio_dev_notify(fzv_vdev(v), q);
	FZ_CHECK(r->fb.sent <= VIRTIO_NET_TX_BUDGET, "%u frames in one notify", r->fb.sent);
	return more;
}

/* Every used receive entry holds data, every used transmit entry none. */
static void check_used_len(struct fzv *v)
{
	for (unsigned q = 0; q < 2; q++) {
		uint16_t used = vqb_used_idx(&v->q[q]);
		for (uint16_t i = 0; i < v->qsize && i < used; i++) {
			uint32_t id, len;
			vqb_used_elem(&v->q[q], i, &id, &len);
			FZ_CHECK(q == VIRTIO_NET_TXQ ? len == 0 : len >= 1, "queue %u used len %u",
				 q, len);
		}
	}
}

/* Receive accounting: every frame the device took from the back-end since it was created was
 * delivered, dropped (and counted), or is the one frame held. */
static void check_rx(struct run *r)
{
	struct virtio_net_stats st;
	bool holding;

	virtio_net_get_stats(r->v.dev, &st, &holding);
	FZ_CHECK(r->fb.head - r->base == st.rx_frames + st.rx_dropped + (holding ? 1u : 0u),
		 "took %u frames, delivered %llu, dropped %llu, holding %d", r->fb.head - r->base,
		 (unsigned long long)st.rx_frames, (unsigned long long)st.rx_dropped, holding);
}

static void check(struct fzv *v)
{
	check_used_len(v);
	check_rx(FZV_OUTER(v, struct run));
}

/* n receive buffers of len bytes each over BUF_GPA.., chained one per buffer. */
static void op_bufs(struct fzv *v, unsigned n, uint32_t len)
{
	for (unsigned i = 0; i < n && i < v->qsize; i++) {
		uint64_t a = BUF_GPA + (uint64_t)i * len % (MEM_SIZE - BUF_GPA - 3000);
		struct vqb_seg s = {a, len, 1};
		v->q[0].next_free = (uint16_t)i;
		uint16_t head = vqb_chain(&v->q[0], &s, 1);
		uint16_t idx = gm_r16(&gm, v->q[0].avail + 2);
		vqb_put_head(&v->q[0], idx, head);
		vqb_set_avail_idx(&v->q[0], (uint16_t)(idx + 1));
	}
}

static void own(struct fzv *v, unsigned op, struct fz_in *in)
{
	struct run *r = FZV_OUTER(v, struct run);

	switch (op) {
	case OP_FRAME:
	case OP_FRAMEH: {
		uint16_t len = fz_u16(in) % 4000;
		uint8_t seed = fz_u8(in);
		struct net_vhdr h = {0};
		if (op == OP_FRAMEH) {
			h.flags = fz_u8(in);
			h.gso_type = fz_u8(in);
			h.csum_start = fz_u16(in);
			h.csum_offset = fz_u16(in);
		}
		if (r->fb.tail - r->fb.head < MAX_FRAMES && len) {
			r->fb.len[r->fb.tail % MAX_FRAMES] = len;
			r->fb.seed[r->fb.tail % MAX_FRAMES] = seed;
			r->fb.hdr[r->fb.tail % MAX_FRAMES] = h;
			r->fb.tail++;
		}
		(void)virtio_net_rx(v->dev);
		break;
	}
	case OP_RX:
		(void)virtio_net_rx(v->dev);
		break;
	case OP_ROUND:
		fzv_round(v);
		r->base = r->fb.head; /* a held frame is not part of the state */
		break;
	case OP_BUFS: {
		unsigned n = fz_u8(in) % 17;
		uint32_t len = fz_u16(in) % 3000;
		op_bufs(v, n, len);
		break;
	}
	}
}

static const struct fzv_dev net = {
    .nq = 2,
    .nops = OP_COUNT,
    .ops = {[OP_POKE] = FZV_POKE,
	    [OP_DESC] = FZV_DESC,
	    [OP_AVAIL] = FZV_AVAIL,
	    [OP_IDX] = FZV_IDX,
	    [OP_NOTIFY] = FZV_NOTIFY,
	    [OP_CONFIG] = FZV_CONFIG,
	    [OP_RESET] = FZV_RESET},
    .itable = ITABLE_GPA,
    .itable_len = 0x1000 / 16,
    .move_to = BUF_GPA,
    .notify_rounds = 64,
    .config_len = 16,
    .config_write = true,
    .create = create,
    .destroy = destroy,
    .own = own,
    .notify = notify,
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
	static struct run r;
	uint8_t flags = fz_u8(&in);
	uint64_t features;

	memset(&r, 0, sizeof(r));
	r.fb.be.ops = &fb_ops;
	r.fb.refuse = flags & 8;
	if (flags & 16)
		r.fb.be.offloads = NET_OFFLOAD_CSUM | NET_OFFLOAD_TSO4 | NET_OFFLOAD_TSO6;
	uint32_t qsize = 1u << (fz_u8(&in) % 8);
	features = fzv_features(!(flags & 1), !(flags & 2)) | VIRTIO_BIT(VIRTIO_NET_F_MAC) |
		   (flags & 4 ? VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF) : 0);
	if ((flags & 48) == 48)
		features |= VIRTIO_BIT(VIRTIO_NET_F_CSUM) | VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO4) |
			    VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO6) |
			    VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO4) |
			    VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO6) |
			    (flags & 64 ? 0 : VIRTIO_BIT(VIRTIO_NET_F_GUEST_CSUM));
	fzv_start(&r.v, &net, &gm, mem, qsize, features);
	fzv_run(&r.v, &in);
	fzv_end(&r.v);
	return 0;
}
