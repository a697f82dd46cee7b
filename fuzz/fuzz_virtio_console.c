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
/* Where DESC moves a buffer that would cover a used ring:
 * above the two queues' rings and the indirect table. */
#define MOVE_GPA 0x7000u

static uint8_t *mem;
static struct gmem gm;

struct run {
	struct fzv v; /* the device is a struct virtio_console */
	int out_fails;
	uint64_t out_bytes;
};

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

static void *create(struct fzv *v, struct virtio_dev **vdev)
{
	struct virtio_console *con;

	FZ_CHECK(virtio_console_create(&gm, (struct char_out){out_write, FZV_OUTER(v, struct run)},
				       &con) == 0,
		 "create");
	*vdev = virtio_console_dev(con);
	return con;
}

static void destroy(void *con)
{
	virtio_console_destroy(con);
}

static int notify(struct fzv *v, unsigned q)
{
	struct run *r = FZV_OUTER(v, struct run);
	uint64_t before = r->out_bytes;
	int more = virtio_dev_notify(fzv_vdev(v), q);

	/* The budget, plus the request that crossed it (at most every segment mapping all of
	 * RAM). */
	FZ_CHECK(r->out_bytes - before <=
		     VIRTIO_CONSOLE_TX_BUDGET + (uint64_t)VIRTQ_ELEM_MAX_IOV * FZV_MEM_SIZE,
		 "%llu bytes out in one notify", (unsigned long long)(r->out_bytes - before));
	FZ_CHECK(!more || q == VIRTIO_CONSOLE_TXQ, "receiveq left work");
	return more;
}

static void own(struct fzv *v, unsigned op, struct fz_in *in)
{
	switch (op) {
	case OP_RECV: {
		size_t n = fz_u8(in), got;
		const uint8_t *p = fz_bytes(in, n, &got);
		size_t taken = virtio_console_receive(v->dev, p, got);
		FZ_CHECK(taken <= got, "receive took %zu of %zu bytes", taken, got);
		break;
	}
	case OP_MMIO: {
		uint32_t off = (fz_u8(in) % 0x40) * 4;
		uint32_t val = fz_u32(in);
		mmio_wr(v->m, off, val);
		if (off == VIRTIO_MMIO_STATUS && (uint8_t)val == 0) /* the low byte is the status */
			v->needs_reset = false;
		break;
	}
	}
}

static const struct fzv_dev console = {
    .nq = 2,
    .nops = OP_COUNT,
    .ops = {[OP_POKE] = FZV_POKE,
	    [OP_DESC] = FZV_DESC,
	    [OP_AVAIL] = FZV_AVAIL,
	    [OP_IDX] = FZV_IDX,
	    [OP_NOTIFY] = FZV_NOTIFY,
	    [OP_CONFIG] = FZV_CONFIG,
	    [OP_RESET] = FZV_RESET,
	    [OP_ROUND] = FZV_ROUND},
    .itable = ITABLE_GPA,
    .move_to = MOVE_GPA,
    .itable_len = 0x1000 / 16,
    .notify_rounds = 64,
    .config_len = 16,
    .config_write = true,
    .create = create,
    .destroy = destroy,
    .own = own,
    .notify = notify,
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
	uint32_t qsize = 1u << (fz_u8(&in) % 8);

	r.out_fails = flags & 4;
	fzv_start(&r.v, &console, &gm, mem, qsize,
		  fzv_features(!(flags & 1), !(flags & 2)) |
		      VIRTIO_BIT(VIRTIO_CONSOLE_F_EMERG_WRITE));
	fzv_run(&r.v, &in);
	fzv_end(&r.v);
	return 0;
}
