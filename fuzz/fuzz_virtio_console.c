/* libFuzzer harness: the virtio console (src/virtio/virtio_console.c) driven as a hostile guest
 * would, through the virtio-mmio transport and two split virtqueues laid out in fake guest memory
 * from the input, with host input fed through virtio_console_receive.
 *
 * Guest RAM is two adjacent 64 KiB regions at 0 and 0x10000 (buffers may cross between them);
 * anything above 0x20000 is not RAM. Queue 0 (receiveq) lives at desc 0x0, avail 0x1000, used
 * 0x2000; queue 1 (transmitq) at desc 0x3000, avail 0x4000, used 0x5000; the indirect table the
 * inputs may point at is at 0x6000.
 *
 * Input: a 2-byte header, then operations until the input ends (little-endian operands; the
 * opcode is the first byte modulo OP_COUNT):
 *   header   flags u8 (1 no EVENT_IDX, 2 no INDIRECT_DESC, 4 the output fails), log2 of the
 *            queue size u8 (mod 8)
 *   0 POKE   off u16, len u8, bytes              guest memory at 2 * off (not the used rings)
 *   1 DESC   q u8, idx u8, addr u32, len u32, flags u8, next u8
 *                                                 one descriptor (q 2: the indirect table);
 *                                                 addr and len below 0x80000000 are taken mod
 *                                                 0x24000 so most land in RAM
 *   2 AVAIL  q u8, head u16                        publish head on queue q
 *   3 IDX    q u8, idx u16                         set queue q's avail idx as given
 *   4 NOTIFY q u8                                  virtio_dev_notify until no work is left
 *   5 RECV   len u8, bytes                         virtio_console_receive
 *   6 CONFIG off u8, size u8, write u8, val u32   configuration space access
 *   7 RESET                                       status 0, then both queues set up again
 *   8 ROUND                                       save, load into a fresh device, save
 *   9 MMIO   off u8, val u32                       a raw register write (4 * off)
 *
 * Invariants checked (beyond ASan/UBSan): receive takes at most what it is offered and, with no
 * device-writable room published, nothing; the output gets only bytes of guest memory (never
 * more per transmit notify than the budget plus one request); used entries name heads inside the
 * queue; a fresh device loads the saved state and saves it back identically; NEEDS_RESET stays
 * until a reset. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/gmem.h"
#include "fuzz_input.h"
#include "fuzz_virtio.h"
#include "virtio/virtio_console.h"
#include "virtio/virtio_mmio.h"
#include "virtq_builder.h"

enum {
	OP_POKE,
	OP_DESC,
	OP_AVAIL,
	OP_IDX,
	OP_NOTIFY,
	OP_RECV,
	OP_CONFIG,
	OP_RESET,
	OP_ROUND,
	OP_MMIO,
	OP_COUNT
};

#define ITABLE_GPA 0x6000u
#define MAX_OPS 256

static const uint64_t ring_gpa[2][3] = {{0x0, 0x1000, 0x2000}, {0x3000, 0x4000, 0x5000}};
static uint8_t *mem;
static struct gmem gm;

struct run {
	struct virtio_console *con;
	struct virtio_mmio *m;
	uint32_t qsize;
	uint64_t features;
	struct vqb q[2]; /* the driver's side of the two queues at ring_gpa */
	int out_fails;
	uint64_t out_bytes;
};

static void irq_set(void *ctx, unsigned gsi, int level)
{
}

static void notify_cb(void *ctx, unsigned q)
{
}

static ssize_t out_write(void *ctx, const void *buf, size_t len)
{
	struct run *r = ctx;

	const uint8_t *p = buf;
	FZ_CHECK((p >= mem && p + len <= mem + FZV_MEM_SIZE) || len == 1 /* emerg_wr */,
		 "output of %zu bytes from outside guest memory", len);
	if (r->out_fails)
		return -5;
	r->out_bytes += len;
	return (ssize_t)len;
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

static void make_dev(struct run *r, struct virtio_console **con, struct virtio_mmio **m)
{
	FZ_CHECK(virtio_console_create(&gm, (struct char_out){out_write, r}, con) == 0, "create");
	FZ_CHECK(virtio_mmio_create(virtio_console_dev(*con), (struct irq_line){irq_set, r, 5},
				    notify_cb, r, m) == 0,
		 "mmio");
}

static void op_round(struct run *r)
{
	static struct virtio_mmio_state a, b;
	struct virtio_console *con2;
	struct virtio_mmio *m2;

	FZ_CHECK(virtio_mmio_save(r->m, &a) == 0, "save failed");
	make_dev(r, &con2, &m2);
	FZ_CHECK(virtio_mmio_load(m2, &a) == 0, "a fresh device refused the saved state");
	FZ_CHECK(virtio_mmio_save(m2, &b) == 0, "save of the loaded device");
	FZ_CHECK(!memcmp(&a, &b, sizeof(a)), "state differs after load");
	virtio_mmio_destroy(r->m);
	virtio_console_destroy(r->con);
	r->con = con2;
	r->m = m2;
}

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
	struct run r = {0};
	uint8_t flags = fz_u8(&in);
	unsigned ops = 0;
	bool needs_reset = false;

	r.qsize = 1u << (fz_u8(&in) % 8);
	r.out_fails = flags & 4;
	r.features = VIRTIO_BIT(VIRTIO_F_VERSION_1) |
		     (flags & 1 ? 0 : VIRTIO_BIT(VIRTIO_F_EVENT_IDX)) |
		     (flags & 2 ? 0 : VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC)) |
		     VIRTIO_BIT(VIRTIO_CONSOLE_F_EMERG_WRITE);
	memset(mem, 0, FZV_MEM_SIZE);
	make_dev(&r, &r.con, &r.m);
	bring_up(&r);
	while (fz_left(&in) && ops++ < MAX_OPS) {
		switch (fz_u8(&in) % OP_COUNT) {
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
			uint64_t table = q == 2 ? ITABLE_GPA : ring_gpa[q][0];
			if (q < 2)
				idx %= r.qsize;
			else
				idx %= 0x1000 / 16;
			vqb_write_desc_at(&gm, table, idx, addr, len, fl, next);
			break;
		}
		case OP_AVAIL: {
			unsigned q = fz_u8(&in) & 1;
			/* From the idx in guest memory (a POKE may have changed it). */
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
				uint64_t before = r.out_bytes;
				int more = virtio_dev_notify(virtio_console_dev(r.con), q);
				/* The budget, plus the request that crossed it (at most every
				 * segment mapping all of RAM). */
				FZ_CHECK(r.out_bytes - before <=
					     VIRTIO_CONSOLE_TX_BUDGET +
						 (uint64_t)VIRTQ_ELEM_MAX_IOV * FZV_MEM_SIZE,
					 "%llu bytes out in one notify",
					 (unsigned long long)(r.out_bytes - before));
				FZ_CHECK(!more || q == VIRTIO_CONSOLE_TXQ, "receiveq left work");
				if (!more)
					break;
			}
			break;
		}
		case OP_RECV: {
			size_t n = fz_u8(&in), got;
			const uint8_t *p = fz_bytes(&in, n, &got);
			size_t taken = virtio_console_receive(r.con, p, got);
			FZ_CHECK(taken <= got, "receive took %zu of %zu bytes", taken, got);
			break;
		}
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
			break;
		case OP_MMIO: {
			uint32_t off = (fz_u8(&in) % 0x40) * 4;
			uint32_t val = fz_u32(&in);
			mmio_wr(r.m, off, val);
			if (off == VIRTIO_MMIO_STATUS &&
			    (uint8_t)val == 0) /* the low byte is the status */
				needs_reset = false;
			break;
		}
		}
		for (unsigned q = 0; q < 2; q++)
			fzv_check_used(&r.q[q], q);
		fzv_check_needs_reset(r.m, &needs_reset);
	}
	virtio_mmio_destroy(r.m);
	virtio_console_destroy(r.con);
	return 0;
}
