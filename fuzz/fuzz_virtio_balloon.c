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
#define PFN_GPA 0xd000u
#define MAX_OPS 256

static uint8_t *mem;
static struct gmem gm;

struct run {
	struct virtio_balloon *b;
	struct virtio_mmio *m;
	uint32_t qsize;
	uint64_t features;
	struct vqb q[NQ];
};

static void irq_set(void *ctx, unsigned gsi, int level)
{
}

static void notify_cb(void *ctx, unsigned q)
{
}

static void bring_up(struct run *r)
{
	mmio_wr(r->m, VIRTIO_MMIO_STATUS, 0);
	memset(mem, 0, 0xc000); /* the rings */
	for (unsigned q = 0; q < NQ; q++)
		vqb_init(&r->q[q], &gm, r->qsize, 0x3000u * q, 0x3000u * q + 0x1000,
			 0x3000u * q + 0x2000);
	mmio_negotiate(r->m, r->features);
	for (unsigned q = 0; q < NQ; q++)
		mmio_setup_queue(r->m, q, &r->q[q]);
	mmio_driver_ok(r->m);
}

static void make_dev(struct run *r, struct virtio_balloon **b, struct virtio_mmio **m)
{
	struct virtio_balloon_opts o = {.size = 0x4000, .reporting = true};

	FZ_CHECK(virtio_balloon_create(&gm, &o, NULL, b) == 0, "create");
	FZ_CHECK(virtio_mmio_create(virtio_balloon_dev(*b), (struct irq_line){irq_set, r, 5},
				    notify_cb, r, m) == 0,
		 "mmio");
}

static void op_round(struct run *r)
{
	static struct virtio_mmio_state a, b;
	struct virtio_balloon *b2;
	struct virtio_mmio *m2;

	FZ_CHECK(virtio_mmio_save(r->m, &a) == 0, "save failed");
	make_dev(r, &b2, &m2);
	FZ_CHECK(virtio_mmio_load(m2, &a) == 0, "a fresh device refused the saved state");
	FZ_CHECK(virtio_mmio_save(m2, &b) == 0, "save of the loaded device");
	FZ_CHECK(!memcmp(&a, &b, sizeof(a)), "state differs after load");
	virtio_mmio_destroy(r->m);
	virtio_balloon_destroy(r->b);
	r->b = b2;
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
	uint64_t inflated = 0;

	r.qsize = 1u << (fz_u8(&in) % 8);
	r.features =
	    VIRTIO_BIT(VIRTIO_F_VERSION_1) | (flags & 1 ? 0 : VIRTIO_BIT(VIRTIO_F_EVENT_IDX)) |
	    (flags & 2 ? 0 : VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC)) |
	    VIRTIO_BIT(VIRTIO_BALLOON_F_STATS_VQ) | VIRTIO_BIT(VIRTIO_BALLOON_F_PAGE_REPORTING);
	memset(mem, 0, FZV_MEM_SIZE);
	make_dev(&r, &r.b, &r.m);
	bring_up(&r);
	while (fz_left(&in) && ops++ < MAX_OPS) {
		struct virtio_dev *vdev = virtio_balloon_dev(r.b);
		switch (fz_u8(&in) % OP_COUNT) {
		case OP_POKE:
			fzv_poke(&in, mem, r.q, NQ);
			break;
		case OP_DESC: {
			unsigned q = fz_u8(&in) % (NQ + 1), idx = fz_u8(&in);
			uint64_t addr = fz_u32(&in);
			uint32_t len = fz_u32(&in);
			uint16_t fl = fz_u8(&in) & 7, next = fz_u8(&in);
			if (addr < 0x80000000u)
				addr %= 0x24000u;
			if (len < 0x80000000u)
				len %= 0x24000u;
			uint64_t table = q == NQ ? ITABLE_GPA : r.q[q].desc;
			idx %= q == NQ ? 0x1000 / 16 : r.qsize;
			vqb_write_desc_at(&gm, table, idx, addr, len, fl, next);
			break;
		}
		case OP_AVAIL: {
			unsigned q = fz_u8(&in) % NQ;
			uint16_t head = fz_u16(&in), idx = gm_r16(&gm, r.q[q].avail + 2);
			vqb_put_head(&r.q[q], idx, head);
			vqb_set_avail_idx(&r.q[q], (uint16_t)(idx + 1));
			break;
		}
		case OP_IDX: {
			unsigned q = fz_u8(&in) % NQ;
			vqb_set_avail_idx(&r.q[q], fz_u16(&in));
			break;
		}
		case OP_NOTIFY:
			virtio_dev_notify(vdev, fz_u8(&in) % NQ);
			break;
		case OP_PFNS: {
			unsigned q = fz_u8(&in) & 1, n = fz_u8(&in) % 64;
			for (unsigned i = 0; i < n; i++) {
				uint32_t pfn = fz_u32(&in);
				if (pfn < 0x80000000u)
					pfn %= 0x30;
				gm_w32(&gm, PFN_GPA + 4 * i, pfn);
			}
			struct vqb_seg s = {PFN_GPA, 4 * n, 0};
			vqb_add(&r.q[q], &s, 1);
			virtio_dev_notify(vdev, q);
			break;
		}
		case OP_TARGET: {
			uint32_t bytes = fz_u32(&in);
			int ret = virtio_balloon_set_target(r.b, bytes);
			FZ_CHECK(ret == 0 || bytes > FZV_MEM_SIZE, "target %u refused", bytes);
			break;
		}
		case OP_STATS:
			(void)virtio_balloon_request_stats(r.b);
			break;
		case OP_CONFIG: {
			uint32_t off = fz_u8(&in) % 12, sz = 1u << (fz_u8(&in) % 3);
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
		}
		struct virtio_balloon_info info;
		virtio_balloon_get_info(r.b, &info);
		FZ_CHECK((uint64_t)info.target_pages << 12 <= FZV_MEM_SIZE, "target %u pages",
			 info.target_pages);
		FZ_CHECK(info.inflated >= inflated, "inflate counter went down");
		inflated = info.inflated;
		for (unsigned q = 0; q < NQ; q++)
			fzv_check_used(&r.q[q], q);
		fzv_check_needs_reset(r.m, &needs_reset);
	}
	virtio_mmio_destroy(r.m);
	virtio_balloon_destroy(r.b);
	return 0;
}
