/* libFuzzer harness: the virtio balloon (src/virtio/virtio_balloon.c) driven as a hostile guest
 * would, through the virtio-mmio transport and four split virtqueues (inflate, deflate, stats,
 * free page reporting) laid out in fake guest memory from the input, with host-side target
 * changes and statistics requests.
 *
 * Guest RAM: two adjacent 64 KiB regions at 0 and 0x10000 (fuzz_virtio.h), page aligned and
 * anonymous, so discards really happen. Queue q (0..3) has desc 0x3000 * q, avail + 0x1000, used
 * + 0x2000; the indirect table is at 0xc000; PFNS writes its frame numbers at 0xd000.
 *
 * Input: a 2-byte header (flags u8: 1 no EVENT_IDX, 2 no INDIRECT_DESC; log2 queue size u8 mod 8),
 * then operations until the input ends (opcode = first byte mod OP_COUNT):
 *   0 POKE   off u16, len u8, bytes              guest memory (not the used rings)
 *   1 DESC   q u8 (4: indirect table), idx u8, addr u32, len u32, flags u8, next u8
 *   2 AVAIL  q u8, head u16                        publish head on queue q
 *   3 IDX    q u8, idx u16                         set queue q's avail idx
 *   4 NOTIFY q u8                                  virtio_dev_notify
 *   5 PFNS   q u8 (0 inflate, 1 deflate), n u8, then n u32 pfns (below 0x80000000 taken mod
 *            0x30, so most are RAM)               a plausible request, published and notified
 *   6 TARGET bytes u32                             virtio_balloon_set_target
 *   7 STATS                                       virtio_balloon_request_stats
 *   8 CONFIG off u8, size u8, write u8, val u32   configuration space access
 *   9 RESET                                       status 0, then the queues set up again
 *  10 ROUND                                       save, load into a fresh device, save
 *
 * Invariants (beyond ASan/UBSan): used entries name heads inside their queue; NEEDS_RESET stays
 * until a reset; num_pages never exceeds guest RAM; a fresh device loads the saved state and
 * saves it back identically; the inflate counter never goes down. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/gmem.h"
#include "fuzz_input.h"
#include "fuzz_virtio.h"
#include "virtio/virtio_balloon.h"
#include "virtio/virtio_mmio.h"
#include "virtq_builder.h"

enum {
	OP_POKE,
	OP_DESC,
	OP_AVAIL,
	OP_IDX,
	OP_NOTIFY,
	OP_PFNS,
	OP_TARGET,
	OP_STATS,
	OP_CONFIG,
	OP_RESET,
	OP_ROUND,
	OP_COUNT
};

#define NQ 4
#define ITABLE_GPA 0xc000u
/* Where DESC moves a buffer that would cover a used ring:
 * above the rings, the indirect table and the PFN page. */
#define MOVE_GPA 0xe000u
#define PFN_GPA 0xd000u

static uint8_t *mem;
static struct gmem gm;

struct run {
	struct fzv v; /* the device is a struct virtio_balloon */
	uint64_t inflated;
};

static void *create(struct fzv *v, struct virtio_dev **vdev)
{
	struct virtio_balloon_opts o = {.size = 0x4000, .reporting = true};
	struct virtio_balloon *b;

	FZ_CHECK(virtio_balloon_create(&gm, &o, NULL, &b) == 0, "create");
	*vdev = virtio_balloon_dev(b);
	return b;
}

static void destroy(void *b)
{
	virtio_balloon_destroy(b);
}

static void own(struct fzv *v, unsigned op, struct fz_in *in)
{
	switch (op) {
	case OP_PFNS: {
		unsigned q = fz_u8(in) & 1, n = fz_u8(in) % 64;
		for (unsigned i = 0; i < n; i++) {
			uint32_t pfn = fz_u32(in);
			if (pfn < 0x80000000u)
				pfn %= 0x30;
			gm_w32(&gm, PFN_GPA + 4 * i, pfn);
		}
		struct vqb_seg s = {PFN_GPA, 4 * n, 0};
		vqb_add(&v->q[q], &s, 1);
		virtio_dev_notify(fzv_vdev(v), q);
		break;
	}
	case OP_TARGET: {
		uint32_t bytes = fz_u32(in);
		int ret = virtio_balloon_set_target(v->dev, bytes);
		FZ_CHECK(ret == 0 || bytes > FZV_MEM_SIZE, "target %u refused", bytes);
		break;
	}
	case OP_STATS:
		(void)virtio_balloon_request_stats(v->dev);
		break;
	}
}

static void check(struct fzv *v)
{
	struct run *r = FZV_OUTER(v, struct run);
	struct virtio_balloon_info info;

	virtio_balloon_get_info(v->dev, &info);
	FZ_CHECK((uint64_t)info.target_pages << 12 <= FZV_MEM_SIZE, "target %u pages",
		 info.target_pages);
	FZ_CHECK(info.inflated >= r->inflated, "inflate counter went down");
	r->inflated = info.inflated;
}

static const struct fzv_dev balloon = {
    .nq = NQ,
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
    .notify_rounds = 1,
    .config_len = 12,
    .config_write = true,
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
	uint32_t qsize = 1u << (fz_u8(&in) % 8);

	fzv_start(&r.v, &balloon, &gm, mem, qsize,
		  fzv_features(!(flags & 1), !(flags & 2)) | VIRTIO_BIT(VIRTIO_BALLOON_F_STATS_VQ) |
		      VIRTIO_BIT(VIRTIO_BALLOON_F_PAGE_REPORTING));
	fzv_run(&r.v, &in);
	fzv_end(&r.v);
	return 0;
}
