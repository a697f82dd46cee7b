/* Shared pieces of the virtio device harnesses (fuzz_virtio_*.c): guest RAM of two adjacent
 * 64 KiB regions (buffers may cross between them), the POKE operation that writes fuzz bytes
 * anywhere in it but the used rings, and the invariants every device keeps: each used entry names
 * a head inside its queue, and NEEDS_RESET, once set, stays until a reset.
 *
 * For the virtio-mmio harnesses also the whole run (struct fzv, fzv_start, fzv_run, fzv_end): the
 * device and its transport, the queues (queue q at desc 0x3000 * q, avail + 0x1000, used
 * + 0x2000), bring-up, the operations they share (POKE, DESC, AVAIL, IDX, NOTIFY, CONFIG, RESET,
 * ROUND; each harness numbers them in its own input format through struct fzv_dev) and the checks
 * after every operation. The queues themselves are driven with tests/unit/virtq_builder.h.
 * Header-only (static inline). */
#ifndef VMON_FUZZ_VIRTIO_H
#define VMON_FUZZ_VIRTIO_H

#include <stdbool.h>
#include <stddef.h>
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

/* LLVMFuzzerInitialize's part: the log (fz_log_setup) and the guest RAM (fzv_mem_init). */
static inline uint8_t *fzv_init(struct gmem *gm)
{
	fz_log_setup();
	return fzv_mem_init(gm);
}

/* POKE into the size bytes at mem: off u16, len u8, bytes; writes them at scale * off (mod size)
 * unless that would touch the FZV_USED_AREA bytes of a used ring of one of the nq queues (the
 * harnesses never write a used ring, so fzv_check_used sees only what the device wrote). */
static inline void fzv_poke_mem(struct fz_in *in, uint8_t *mem, uint32_t size, unsigned scale,
				const struct vqb *qs, unsigned nq)
{
	uint32_t off = fz_u16(in) * scale % size;
	size_t n = fz_u8(in);
	uint8_t buf[256];

	if (n > size - off)
		n = size - off;
	fz_fill(in, buf, n);
	for (unsigned q = 0; q < nq; q++)
		if (off < qs[q].used + FZV_USED_AREA && off + n > qs[q].used)
			return;
	memcpy(mem + off, buf, n);
}

/* POKE into the FZV_MEM_SIZE bytes of fzv_mem_init's RAM, at 2 * off. */
static inline void fzv_poke(struct fz_in *in, uint8_t *mem, const struct vqb *qs, unsigned nq)
{
	fzv_poke_mem(in, mem, FZV_MEM_SIZE, 2, qs, nq);
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

/* virtio_dev_notify until it reports no work left, at most rounds times. */
static inline void fzv_notify_until_idle(struct virtio_dev *dev, unsigned q, unsigned rounds)
{
	for (unsigned k = 0; k < rounds && virtio_dev_notify(dev, q); k++)
		;
}

/* The features every harness offers: VERSION_1, and EVENT_IDX and INDIRECT_DESC if asked. */
static inline uint64_t fzv_features(bool event_idx, bool indirect)
{
	return VIRTIO_BIT(VIRTIO_F_VERSION_1) | (event_idx ? VIRTIO_BIT(VIRTIO_F_EVENT_IDX) : 0) |
	       (indirect ? VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC) : 0);
}

/* ---- a virtio-mmio harness's run ---- */

#define FZV_MAX_QUEUES 4
#define FZV_MAX_OPS 256 /* operations per input at the most */
#define FZV_MAX_OPCODES 16
#define FZV_QUEUE_SPAN 0x3000u /* queue q's rings: desc, avail, used at FZV_QUEUE_SPAN * q.. */
#define FZV_ADDR_MOD 0x24000u  /* DESC: addr and len below 0x80000000 are taken mod this */
#define FZV_MOVE_AREA 0x1000u  /* DESC: a buffer moved off a used ring lands in this many bytes */

/* The shared operations a harness's opcodes map to (struct fzv_dev.ops); FZV_OWN: its own. */
enum fzv_op {
	FZV_OWN,
	FZV_POKE,   /* off u16, len u8, bytes: fzv_poke */
	FZV_DESC,   /* q u8 (mod nq + 1; nq: the indirect table), idx u8, addr u32, len u32, flags
		     * u8, next u8 */
	FZV_AVAIL,  /* q u8, head u16: publish head after the avail idx in guest memory */
	FZV_IDX,    /* q u8, idx u16: set the avail idx */
	FZV_NOTIFY, /* q u8: notify until no work is left (at most notify_rounds times) */
	FZV_CONFIG, /* off u8, size u8 (1 << n % 3)[, write u8, val u32]: config space access */
	FZV_RESET,  /* status 0, then the queues set up again */
	FZV_ROUND,  /* save, load into a fresh device and transport, save; continue on those */
};

struct fzv;

/* What a harness tells the shared run about its device and input format (a static const). */
struct fzv_dev {
	unsigned nq;		      /* queues (at most FZV_MAX_QUEUES); with 1 no q u8 is read */
	unsigned nops;		      /* opcodes: the opcode byte is taken mod nops */
	uint8_t ops[FZV_MAX_OPCODES]; /* its opcode -> enum fzv_op */
	uint64_t itable;	      /* DESC: the indirect table's address... */
	unsigned itable_len;	      /* ...and its entries */
	uint64_t move_to; /* DESC: a buffer that overlaps a used ring moves to move_to + addr %
			   * FZV_MOVE_AREA (0: it stays) */
	unsigned notify_rounds;
	unsigned config_len; /* CONFIG: offsets mod config_len... */
	bool config_write;   /* ...with a write u8 and val u32 (else reads only) */
	/* Create the device over v->gm (aborting on failure) and its virtio_dev; destroy it. */
	void *(*create)(struct fzv *v, struct virtio_dev **vdev);
	void (*destroy)(void *dev);
	void (*own)(struct fzv *v, unsigned op, struct fz_in *in); /* FZV_OWN opcodes */
	/* NOTIFY's one round, with its checks (NULL: virtio_dev_notify); returns "more work". */
	int (*notify)(struct fzv *v, unsigned q);
	void (*check)(struct fzv *v); /* after each operation and the shared checks (or NULL) */
};

/* A run; a harness embeds it (as member v) in its own state, see FZV_OUTER. */
struct fzv {
	const struct fzv_dev *d;
	struct gmem *gm;
	uint8_t *mem; /* from fzv_mem_init */
	void *dev;    /* the device (the harness's type) */
	struct virtio_mmio *m;
	uint32_t qsize;
	uint64_t features;
	struct vqb q[FZV_MAX_QUEUES]; /* the driver's side of the queues */
	bool needs_reset;
	int irq; /* the interrupt line */
};

/* The harness's state of type `type` that holds the struct fzv *vp as its member v. */
#define FZV_OUTER(vp, type) ((type *)(void *)((char *)(vp)-offsetof(type, v)))

static inline uint64_t fzv_ring(unsigned q, unsigned which)
{
	return FZV_QUEUE_SPAN * q + 0x1000u * which;
}

static inline void fzv_irq_set(void *ctx, unsigned gsi, int level)
{
	(void)gsi;
	((struct fzv *)ctx)->irq = level;
}

static inline void fzv_notify_cb(void *ctx, unsigned q)
{
	(void)ctx;
	(void)q;
}

/* A fresh device and virtio-mmio transport over it. */
static inline void fzv_make(struct fzv *v, void **dev, struct virtio_mmio **m)
{
	struct virtio_dev *vdev;

	*dev = v->d->create(v, &vdev);
	FZ_CHECK(virtio_mmio_create(vdev, (struct irq_line){fzv_irq_set, v, 5}, fzv_notify_cb, v,
				    m) == 0,
		 "mmio");
}

static inline void fzv_unmake(struct fzv *v, void *dev, struct virtio_mmio *m)
{
	virtio_mmio_destroy(m);
	v->d->destroy(dev);
}

static inline struct virtio_dev *fzv_vdev(struct fzv *v)
{
	return virtio_mmio_dev(v->m);
}

/* Bring the device up as a driver would: status 0, the rings cleared and laid out, features,
 * the queues, DRIVER_OK. */
static inline void fzv_bring_up(struct fzv *v)
{
	unsigned nq = v->d->nq;

	mmio_wr(v->m, VIRTIO_MMIO_STATUS, 0);
	memset(v->mem, 0, FZV_QUEUE_SPAN * nq); /* the rings */
	for (unsigned q = 0; q < nq; q++)
		vqb_init(&v->q[q], v->gm, v->qsize, fzv_ring(q, 0), fzv_ring(q, 1), fzv_ring(q, 2));
	mmio_negotiate(v->m, v->features);
	for (unsigned q = 0; q < nq; q++)
		mmio_setup_queue(v->m, q, &v->q[q]);
	mmio_driver_ok(v->m);
}

/* Start a run: guest RAM cleared, a fresh device and transport, brought up. */
static inline void fzv_start(struct fzv *v, const struct fzv_dev *d, struct gmem *gm, uint8_t *mem,
			     uint32_t qsize, uint64_t features)
{
	FZ_CHECK(d->nq <= FZV_MAX_QUEUES && d->nops <= FZV_MAX_OPCODES, "fzv_dev too large");
	v->d = d;
	v->gm = gm;
	v->mem = mem;
	v->qsize = qsize;
	v->features = features;
	v->needs_reset = false;
	memset(mem, 0, FZV_MEM_SIZE);
	fzv_make(v, &v->dev, &v->m);
	fzv_bring_up(v);
}

static inline void fzv_end(struct fzv *v)
{
	fzv_unmake(v, v->dev, v->m);
}

/* The queue an operation names: q u8 mod nq (nothing read with one queue). */
static inline unsigned fzv_pick_queue(struct fzv *v, struct fz_in *in)
{
	return v->d->nq > 1 ? fz_u8(in) % v->d->nq : 0;
}

static inline void fzv_op_desc(struct fzv *v, struct fz_in *in)
{
	const struct fzv_dev *d = v->d;
	unsigned q = fz_u8(in) % (d->nq + 1), idx = fz_u8(in);
	uint64_t addr = fz_u32(in);
	uint32_t len = fz_u32(in);
	uint16_t fl = fz_u8(in) & 7, next = fz_u8(in);

	if (addr < 0x80000000u)
		addr %= FZV_ADDR_MOD;
	if (len < 0x80000000u)
		len %= FZV_ADDR_MOD;
	/* Keep buffers out of the used rings, so fzv_check_used sees only the device's entries (a
	 * buffer there is legal, it just makes the ring garbage). */
	for (unsigned k = 0; d->move_to && k < d->nq; k++)
		if (addr < 0x80000000u && len < 0x80000000u &&
		    addr < v->q[k].used + FZV_MOVE_AREA && addr + len > v->q[k].used)
			addr = d->move_to + addr % FZV_MOVE_AREA;
	uint64_t table = q == d->nq ? d->itable : v->q[q].desc;
	idx %= q == d->nq ? d->itable_len : v->qsize;
	vqb_write_desc_at(v->gm, table, idx, addr, len, fl, next);
}

static inline void fzv_op_avail(struct fzv *v, struct fz_in *in)
{
	struct vqb *q = &v->q[fzv_pick_queue(v, in)];
	/* From the idx in guest memory (a POKE may have changed it). */
	uint16_t head = fz_u16(in), idx = gm_r16(v->gm, q->avail + 2);

	vqb_put_head(q, idx, head);
	vqb_set_avail_idx(q, (uint16_t)(idx + 1));
}

static inline void fzv_op_notify(struct fzv *v, struct fz_in *in)
{
	unsigned q = fzv_pick_queue(v, in);

	if (!v->d->notify) {
		fzv_notify_until_idle(fzv_vdev(v), q, v->d->notify_rounds);
		return;
	}
	for (unsigned k = 0; k < v->d->notify_rounds && v->d->notify(v, q); k++)
		;
}

static inline void fzv_op_config(struct fzv *v, struct fz_in *in)
{
	uint32_t off = fz_u8(in) % v->d->config_len, sz = 1u << (fz_u8(in) % 3);

	if (v->d->config_write) {
		int w = fz_u8(in) & 1;
		uint32_t val = fz_u32(in);
		if (w) {
			virtio_mmio_ops.write(v->m, VIRTIO_MMIO_CONFIG + off, sz, val);
			return;
		}
	}
	(void)virtio_mmio_ops.read(v->m, VIRTIO_MMIO_CONFIG + off, sz);
}

/* ROUND: a fresh device and transport load what this one saved and save it back identically;
 * the run continues on them (the old ones are gone, as after a restore). */
static inline void fzv_round(struct fzv *v)
{
	static struct virtio_mmio_state a, b;
	struct virtio_mmio *m2;
	void *dev2;

	FZ_CHECK(virtio_mmio_save(v->m, &a) == 0, "save failed");
	fzv_make(v, &dev2, &m2);
	FZ_CHECK(virtio_mmio_load(m2, &a) == 0, "a fresh device refused the saved state");
	FZ_CHECK(virtio_mmio_save(m2, &b) == 0, "save of the loaded device");
	FZ_CHECK(!memcmp(&a, &b, sizeof(a)), "state differs after load");
	fzv_unmake(v, v->dev, v->m);
	v->dev = dev2;
	v->m = m2;
}

/* The operations until the input ends (or FZV_MAX_OPS), each followed by the checks: used
 * entries inside their queue, NEEDS_RESET until a reset, then the harness's own. */
static inline void fzv_run(struct fzv *v, struct fz_in *in)
{
	const struct fzv_dev *d = v->d;
	unsigned ops = 0;

	while (fz_left(in) && ops++ < FZV_MAX_OPS) {
		unsigned op = fz_u8(in) % d->nops;
		switch (d->ops[op]) {
		case FZV_POKE:
			fzv_poke(in, v->mem, v->q, d->nq);
			break;
		case FZV_DESC:
			fzv_op_desc(v, in);
			break;
		case FZV_AVAIL:
			fzv_op_avail(v, in);
			break;
		case FZV_IDX: {
			struct vqb *q = &v->q[fzv_pick_queue(v, in)];
			vqb_set_avail_idx(q, fz_u16(in));
			break;
		}
		case FZV_NOTIFY:
			fzv_op_notify(v, in);
			break;
		case FZV_CONFIG:
			fzv_op_config(v, in);
			break;
		case FZV_RESET:
			fzv_bring_up(v);
			v->needs_reset = false;
			break;
		case FZV_ROUND:
			fzv_round(v);
			break;
		default:
			d->own(v, op, in);
			break;
		}
		for (unsigned q = 0; q < d->nq; q++)
			fzv_check_used(&v->q[q], q);
		fzv_check_needs_reset(v->m, &v->needs_reset);
		if (d->check)
			d->check(v);
	}
}

#endif
