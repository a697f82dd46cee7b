/* libFuzzer harness: the virtio entropy device (src/virtio/virtio_rng.c) driven as a hostile guest
 * would, through the virtio-mmio transport and its one split virtqueue laid out in fake guest
 * memory from the input, with an entropy source that can fail or return short reads.
 *
 * Guest RAM: two adjacent 64 KiB regions at 0 and 0x10000 (fuzz_virtio.h). The queue has desc
 * 0x0, avail 0x1000, used 0x2000; the indirect table is at 0xc000. A buffer that would cover the
 * used ring is moved to 0x4000 + (addr mod the move area): the device would rightly fill it with
 * random bytes, and the used-ring check would then read those as ids.
 *
 * Input: a 2-byte header (flags u8: 1 no EVENT_IDX, 2 no INDIRECT_DESC; log2 queue size u8 mod 8),
 * then operations until the input ends (opcode = first byte mod OP_COUNT):
 *   0 POKE   off u16, len u8, bytes              guest memory (not the used ring)
 *   1 DESC   t u8 (odd: the indirect table), idx u8, addr u32, len u32, flags u8, next u8
 *   2 AVAIL  head u16                              publish head
 *   3 IDX    idx u16                               set the avail idx
 *   4 NOTIFY                                       virtio_dev_notify
 *   5 SOURCE mode u8                               the source from now on: 0 full reads,
 *                                                  1 short reads (1..7 bytes), 2 -EIO
 *   6 CONFIG off u8, size u8                       configuration space read (it has none)
 *   7 RESET                                        status 0, then the queue set up again
 *   8 ROUND                                        save, load into a fresh device, save
 *
 * Invariants (beyond ASan/UBSan): used entries name heads inside the queue; NEEDS_RESET stays
 * until a reset; a fresh device loads the saved state and saves it back identically; the source
 * is never asked for more than VIRTIO_RNG_MAX_REQ bytes at once. */
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
#include "virtio/virtio_rng.h"
#include "virtq_builder.h"

enum {
	OP_POKE,
	OP_DESC,
	OP_AVAIL,
	OP_IDX,
	OP_NOTIFY,
	OP_SOURCE,
	OP_CONFIG,
	OP_RESET,
	OP_ROUND,
	OP_COUNT
};

#define ITABLE_GPA 0xc000u
#define DATA_GPA 0x4000u /* where DESC moves a buffer that would cover the used ring */

static uint8_t *mem;
static struct gmem gm;
static unsigned source_mode; /* for the current input only (reset at its start) */
static uint8_t source_byte;

static ssize_t source(void *ctx, void *buf, size_t len)
{
	(void)ctx;
	FZ_CHECK(len >= 1 && len <= VIRTIO_RNG_MAX_REQ, "source asked for %zu bytes", len);
	if (source_mode == 2)
		return -EIO;
	if (source_mode == 1 && len > 1)
		len = 1 + source_byte % 7 < len ? 1 + source_byte % 7 : len;
	/* Zeros: a guest may point a buffer at its own used ring, and the device then rightly fills
	 * it; zeros there still read as valid ids to the used-ring check. */
	memset(buf, 0, len);
	source_byte++;
	return (ssize_t)len;
}

static void *create(struct fzv *v, struct virtio_dev **vdev)
{
	struct virtio_rng *rng;
	(void)v;
	FZ_CHECK(virtio_rng_create(&gm, source, NULL, &rng) == 0, "create");
	*vdev = virtio_rng_dev(rng);
	return rng;
}

static void destroy(void *rng)
{
	virtio_rng_destroy(rng);
}

static void own(struct fzv *v, unsigned op, struct fz_in *in)
{
	(void)v;
	if (op == OP_SOURCE)
		source_mode = fz_u8(in) % 3;
}

static const struct fzv_dev rng_dev = {
    .nq = 1,
    .nops = OP_COUNT,
    .ops = {[OP_POKE] = FZV_POKE,
	    [OP_DESC] = FZV_DESC,
	    [OP_AVAIL] = FZV_AVAIL,
	    [OP_IDX] = FZV_IDX,
	    [OP_NOTIFY] = FZV_NOTIFY,
	    [OP_SOURCE] = FZV_OWN,
	    [OP_CONFIG] = FZV_CONFIG,
	    [OP_RESET] = FZV_RESET,
	    [OP_ROUND] = FZV_ROUND},
    .itable = ITABLE_GPA,
    .itable_len = 0x1000 / 16,
    .move_to = DATA_GPA,
    .notify_rounds = 1,
    .config_len = 4,
    .config_write = false,
    .create = create,
    .destroy = destroy,
    .own = own,
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
	struct fzv v = {0};
	uint8_t flags = fz_u8(&in);
	uint32_t qsize = 1u << (fz_u8(&in) % 8);

	source_mode = 0;
	source_byte = 0;
	fzv_start(&v, &rng_dev, &gm, mem, qsize, fzv_features(!(flags & 1), !(flags & 2)));
	fzv_run(&v, &in);
	fzv_end(&v);
	return 0;
}
