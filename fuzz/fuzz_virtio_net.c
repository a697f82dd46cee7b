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
#define MAX_OPS 256
#define MAX_FRAMES 16

static const uint64_t ring_gpa[2][3] = {{0x0, 0x1000, 0x2000}, {0x3000, 0x4000, 0x5000}};
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
	struct fake_be fb;
	struct virtio_net *net;
	struct virtio_mmio *m;
	uint32_t qsize;
	uint64_t features;
	struct vqb q[2];
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

static void irq_set(void *ctx, unsigned gsi, int level)
{
}

static void notify_cb(void *ctx, unsigned q)
{
}

static void bring_up(struct run *r)
{
	mmio_wr(r->m, VIRTIO_MMIO_STATUS, 0);
	memset(mem, 0, 0x6000); /* the rings */
	for (unsigned q = 0; q < 2; q++)
		vqb_init(&r->q[q], &gm, r->qsize, ring_gpa[q][0], ring_gpa[q][1], ring_gpa[q][2]);
	mmio_negotiate(r->m, r->features);
	for (unsigned q = 0; q < 2; q++)
		mmio_setup_queue(r->m, q, &r->q[q]);
	mmio_driver_ok(r->m);
}

static void make_dev(struct run *r, struct virtio_net **net, struct virtio_mmio **m)
{
	FZ_CHECK(virtio_net_create(&gm, &r->fb.be, mac, NULL, net) == 0, "create");
	FZ_CHECK(virtio_mmio_create(virtio_net_dev(*net), (struct irq_line){irq_set, r, 5},
				    notify_cb, r, m) == 0,
		 "mmio");
}

static void check_used(struct run *r)
{
	for (unsigned q = 0; q < 2; q++) {
		uint16_t used = vqb_used_idx(&r->q[q]);
		for (uint16_t i = 0; i < r->qsize && i < used; i++) {
			uint32_t id, len;
			vqb_used_elem(&r->q[q], i, &id, &len);
			FZ_CHECK(id < r->qsize, "queue %u used id %u", q, id);
			FZ_CHECK(q == VIRTIO_NET_TXQ ? len == 0 : len >= 1, "queue %u used len %u",
				 q, len);
		}
	}
}

/* Receive accounting: every frame the device took from the back-end since it was created was
 * delivered, dropped (and counted), or is the one frame held. */
static void check_rx(struct run *r, unsigned base)
{
	struct virtio_net_stats st;
	bool holding;

	virtio_net_get_stats(r->net, &st, &holding);
	FZ_CHECK(r->fb.head - base == st.rx_frames + st.rx_dropped + (holding ? 1u : 0u),
		 "took %u frames, delivered %llu, dropped %llu, holding %d", r->fb.head - base,
		 (unsigned long long)st.rx_frames, (unsigned long long)st.rx_dropped, holding);
}

static void op_round(struct run *r)
{
	static struct virtio_mmio_state a, b;
	struct virtio_net *net2;
	struct virtio_mmio *m2;

	FZ_CHECK(virtio_mmio_save(r->m, &a) == 0, "save failed");
	make_dev(r, &net2, &m2);
	FZ_CHECK(virtio_mmio_load(m2, &a) == 0, "a fresh device refused the saved state");
	FZ_CHECK(virtio_mmio_save(m2, &b) == 0, "save of the loaded device");
	FZ_CHECK(!memcmp(&a, &b, sizeof(a)), "state differs after load");
	virtio_mmio_destroy(r->m);
	virtio_net_destroy(r->net); /* the fake back-end's destroy does nothing */
	r->net = net2;
	r->m = m2;
}

/* n receive buffers of len bytes each over BUF_GPA.., chained one per buffer. */
static void op_bufs(struct run *r, unsigned n, uint32_t len)
{
	for (unsigned i = 0; i < n && i < r->qsize; i++) {
		uint64_t a = BUF_GPA + (uint64_t)i * len % (MEM_SIZE - BUF_GPA - 3000);
		struct vqb_seg s = {a, len, 1};
		r->q[0].next_free = (uint16_t)i;
		uint16_t head = vqb_chain(&r->q[0], &s, 1);
		uint16_t idx = gm_r16(&gm, ring_gpa[0][1] + 2);
		vqb_put_head(&r->q[0], idx, head);
		vqb_set_avail_idx(&r->q[0], (uint16_t)(idx + 1));
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_log_setup();
	mem = fzv_mem_init(&gm);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_in in = fz_init(data, size);
	static struct run r;
	uint8_t flags = fz_u8(&in);
	unsigned ops = 0, base = 0;
	bool needs_reset = false;

	memset(&r, 0, sizeof(r));
	r.fb.be.ops = &fb_ops;
	r.fb.refuse = flags & 8;
	if (flags & 16)
		r.fb.be.offloads = NET_OFFLOAD_CSUM | NET_OFFLOAD_TSO4 | NET_OFFLOAD_TSO6;
	r.qsize = 1u << (fz_u8(&in) % 8);
	r.features = VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_NET_F_MAC) |
		     (flags & 1 ? 0 : VIRTIO_BIT(VIRTIO_F_EVENT_IDX)) |
		     (flags & 2 ? 0 : VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC)) |
		     (flags & 4 ? VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF) : 0);
	if ((flags & 48) == 48)
		r.features |= VIRTIO_BIT(VIRTIO_NET_F_CSUM) | VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO4) |
			      VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO6) |
			      VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO4) |
			      VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO6) |
			      (flags & 64 ? 0 : VIRTIO_BIT(VIRTIO_NET_F_GUEST_CSUM));
	memset(mem, 0, MEM_SIZE);
	make_dev(&r, &r.net, &r.m);
	bring_up(&r);
	while (fz_left(&in) && ops++ < MAX_OPS) {
		unsigned op = fz_u8(&in) % OP_COUNT;
		switch (op) {
		case OP_POKE:
			fzv_poke(&in, mem, r.q, 2);
			break;
		case OP_DESC: {
			unsigned q = fz_u8(&in) % 3, idx = fz_u8(&in);
			uint64_t addr = fz_u32(&in);
			uint32_t len = fz_u32(&in);
			uint16_t fl = fz_u8(&in) & 7, next = fz_u8(&in);
			if (addr < 0x80000000u)
				addr %= 0x24000u;
			if (len < 0x80000000u)
				len %= 0x24000u;
			/* Keep buffers out of the used rings, so check_used sees only the device's
			 * entries. */
			for (unsigned k = 0; k < 2; k++)
				if (addr < 0x80000000u && len < 0x80000000u &&
				    addr < ring_gpa[k][2] + 0x1000 && addr + len > ring_gpa[k][2])
					addr = BUF_GPA + addr % 0x1000;
			uint64_t table = q == 2 ? ITABLE_GPA : ring_gpa[q][0];
			idx = q < 2 ? idx % r.qsize : idx % (0x1000 / 16);
			vqb_write_desc_at(&gm, table, idx, addr, len, fl, next);
			break;
		}
		case OP_AVAIL: {
			unsigned q = fz_u8(&in) & 1;
			uint16_t head = fz_u16(&in), idx = gm_r16(&gm, ring_gpa[q][1] + 2);
			vqb_put_head(&r.q[q], idx, head);
			vqb_set_avail_idx(&r.q[q], (uint16_t)(idx + 1));
			break;
		}
		case OP_IDX: {
			unsigned q = fz_u8(&in) & 1;
			vqb_set_avail_idx(&r.q[q], fz_u16(&in));
			break;
		}
		case OP_NOTIFY: {
			unsigned q = fz_u8(&in) & 1;
			for (unsigned rounds = 0; rounds < 64; rounds++) {
				r.fb.sent = 0;
				int more = virtio_dev_notify(virtio_net_dev(r.net), q);
				FZ_CHECK(r.fb.sent <= VIRTIO_NET_TX_BUDGET,
					 "%u frames in one notify", r.fb.sent);
				if (!more)
					break;
			}
			break;
		}
		case OP_FRAME:
		case OP_FRAMEH: {
			uint16_t len = fz_u16(&in) % 4000;
			uint8_t seed = fz_u8(&in);
			struct net_vhdr h = {0};
			if (op == OP_FRAMEH) {
				h.flags = fz_u8(&in);
				h.gso_type = fz_u8(&in);
				h.csum_start = fz_u16(&in);
				h.csum_offset = fz_u16(&in);
			}
			if (r.fb.tail - r.fb.head < MAX_FRAMES && len) {
				r.fb.len[r.fb.tail % MAX_FRAMES] = len;
				r.fb.seed[r.fb.tail % MAX_FRAMES] = seed;
				r.fb.hdr[r.fb.tail % MAX_FRAMES] = h;
				r.fb.tail++;
			}
			(void)virtio_net_rx(r.net);
			break;
		}
		case OP_RX:
			(void)virtio_net_rx(r.net);
			break;
		case OP_CONFIG: {
			uint32_t off = fz_u8(&in) % 16, sz = 1u << (fz_u8(&in) % 3);
			int w = fz_u8(&in) & 1;
			uint32_t val = fz_u32(&in);
			if (w)
				virtio_mmio_ops.write(r.m, VIRTIO_MMIO_CONFIG + off, sz, val);
			else
				(void)virtio_mmio_ops.read(r.m, VIRTIO_MMIO_CONFIG + off, sz);
			break;
		}
		case OP_RESET:
			bring_up(&r);
			needs_reset = false;
			break;
		case OP_ROUND:
			op_round(&r);
			base = r.fb.head; /* a held frame is not part of the state */
			break;
		case OP_BUFS: {
			unsigned n = fz_u8(&in) % 17;
			uint32_t len = fz_u16(&in) % 3000;
			op_bufs(&r, n, len);
			break;
		}
		}
		check_used(&r);
		check_rx(&r, base);
		fzv_check_needs_reset(r.m, &needs_reset);
	}
	virtio_mmio_destroy(r.m);
	virtio_net_destroy(r.net);
	return 0;
}
