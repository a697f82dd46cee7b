/* Shared pieces of the virtio-mmio device harnesses (fuzz_virtio_blk.c, fuzz_virtio_console.c):
 * guest RAM of two adjacent 64 KiB regions (buffers may cross between them), the POKE operation
 * that writes fuzz bytes anywhere in it but the used rings, and the invariants every device keeps:
 * each used entry names a head inside its queue, and NEEDS_RESET, once set, stays until a reset.
 * The queues themselves are driven with tests/unit/virtq_builder.h. Header-only (static inline). */
#ifndef VMON_FUZZ_VIRTIO_H
#define VMON_FUZZ_VIRTIO_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/gmem.h"
#include "fuzz_input.h"
#include "virtio/virtio.h"
#include "virtio/virtio_mmio.h"
#include "virtq_builder.h"

#define FZV_REGION 0x10000u	      /* each of the two RAM regions */
#define FZV_MEM_SIZE (2 * FZV_REGION) /* guest RAM: [0, FZV_MEM_SIZE); above is not RAM */
#define FZV_USED_AREA 0x1000u	      /* bytes kept free of POKEs from each used ring on */

/* Allocate the guest RAM (page aligned) and register it in gm as two regions; returns it. */
static inline uint8_t *fzv_mem_init(struct gmem *gm)
{
	uint8_t *mem = aligned_alloc(GMEM_PAGE_SIZE, FZV_MEM_SIZE);
	FZ_CHECK(mem, "memory");
	FZ_CHECK(gmem_add_region(gm, 0, FZV_REGION, mem) == 0, "region 0");
	FZ_CHECK(gmem_add_region(gm, FZV_REGION, FZV_REGION, mem + FZV_REGION) == 0, "region 1");
	return mem;
}

/* POKE: off u16, len u8, bytes; writes them at 2 * off unless that would touch the
 * FZV_USED_AREA bytes of a used ring of one of the nq queues (the harnesses never write a used
 * ring, so fzv_check_used sees only what the device wrote). */
static inline void fzv_poke(struct fz_in *in, uint8_t *mem, const struct vqb *qs, unsigned nq)
{
	uint32_t off = fz_u16(in) * 2u % FZV_MEM_SIZE;
	size_t n = fz_u8(in);
	uint8_t buf[256];

	if (n > FZV_MEM_SIZE - off)
		n = FZV_MEM_SIZE - off;
	fz_fill(in, buf, n);
	for (unsigned q = 0; q < nq; q++)
		if (off < qs[q].used + FZV_USED_AREA && off + n > qs[q].used)
			return;
	memcpy(mem + off, buf, n);
}

/* Every used entry the device wrote into queue q (numbered q in the message) names a head inside
 * the queue. */
static inline void fzv_check_used(struct vqb *q, unsigned qnum)
{
	uint16_t used = vqb_used_idx(q);

	for (uint16_t i = 0; i < q->size && i < used; i++) {
		uint32_t id, len;
		vqb_used_elem(q, i, &id, &len);
		FZ_CHECK(id < q->size, "queue %u used id %u", qnum, id);
	}
}

/* NEEDS_RESET, once set (*needs_reset), stays until the harness resets the device (and clears
 * *needs_reset); updates *needs_reset from the status register. */
static inline void fzv_check_needs_reset(struct virtio_mmio *m, bool *needs_reset)
{
	bool nr = mmio_rd(m, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET;
	FZ_CHECK(nr || !*needs_reset, "NEEDS_RESET cleared without a reset");
	*needs_reset = nr;
}

#endif
