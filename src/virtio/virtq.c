/* Split virtqueue, device side. See virtq.h for the rules and the locking. */
#include "virtio/virtq.h"
#include "core/log.h"

#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Offsets inside the three areas. */
#define AVAIL_FLAGS 0u
#define AVAIL_IDX 2u
#define AVAIL_RING 4u
#define USED_FLAGS 0u
#define USED_IDX 2u
#define USED_RING 4u
#define USED_ELEM_SIZE 8u

/* A descriptor after it has been copied out of guest memory. */
struct vdesc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

/* Single loads and stores of ring fields through host pointers whose alignment virtq_enable
 * checked. Atomic accesses are never split or repeated by the compiler: a guest field is read
 * exactly once, into the caller's local. */
static uint16_t ld16(const uint8_t *p)
{
	return le16toh(__atomic_load_n((const uint16_t *)p, __ATOMIC_RELAXED));
}

static void st16(uint8_t *p, uint16_t v)
{
	__atomic_store_n((uint16_t *)p, htole16(v), __ATOMIC_RELAXED);
}

static void st32(uint8_t *p, uint32_t v)
{
	__atomic_store_n((uint32_t *)p, htole32(v), __ATOMIC_RELAXED);
}

/* Copy one 16-byte descriptor (8-aligned) into *d. */
static void desc_load(const uint8_t *p, struct vdesc *d)
{
	uint64_t lo = le64toh(__atomic_load_n((const uint64_t *)p, __ATOMIC_RELAXED));
	uint64_t hi = le64toh(__atomic_load_n((const uint64_t *)(p + 8), __ATOMIC_RELAXED));

	d->addr = lo;
	d->len = (uint32_t)hi;
	d->flags = (uint16_t)(hi >> 32);
	d->next = (uint16_t)(hi >> 48);
}

static bool size_ok(uint32_t size, uint32_t max_size)
{
	return size && size <= max_size && !(size & (size - 1));
}

static uint64_t avail_bytes(uint32_t size)
{
	return AVAIL_RING + 2ull * size + 2; /* ring + used_event */
}

static uint64_t used_bytes(uint32_t size)
{
	return USED_RING + (uint64_t)USED_ELEM_SIZE * size + 2; /* ring + avail_event */
}

/* Mark [off, off+len) of the used ring dirty. off+len never exceeds used_bytes(size), which
 * virtq_enable found inside one RAM region, so the sum cannot overflow. */
static void used_dirty(struct virtq *vq, uint64_t off, uint64_t len)
{
	gmem_mark_dirty(vq->gm, vq->used_gpa + off, len);
}

/* Bytes from gpa to the end of the RAM region holding it, at most len; 0 when gpa is not RAM.
 * This only decides where a buffer is split: each piece is then checked again by gmem_ptr. */
static uint64_t gmem_contig(const struct gmem *gm, uint64_t gpa, uint64_t len)
{
	for (unsigned i = 0; i < gm->nr_regions; i++) {
		const struct gmem_region *r = &gm->regions[i];
		if (gpa < r->gpa || gpa - r->gpa >= r->size)
			continue;
		uint64_t room = r->size - (gpa - r->gpa);
		return len < room ? len : room;
	}
	return 0;
}

/* Mark the queue broken (the driver handed us something malformed) and return -EIO. */
static int __attribute__((format(printf, 2, 3))) virtq_fail(struct virtq *vq, const char *fmt, ...)
{
	char msg[160];
	va_list ap;

	vq->broken = true;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_rl(LOG_WARN, "virtq: queue broken: %s", msg);
	return -EIO;
}

int virtq_init(struct virtq *vq, struct gmem *gm, uint32_t max_size)
{
	memset(vq, 0, sizeof(*vq));
	if (max_size && !size_ok(max_size, VIRTQ_MAX_SIZE))
		return -EINVAL;
	vq->gm = gm;
	vq->max_size = max_size;
	if (max_size) {
		vq->itable = aligned_alloc(VIRTQ_DESC_ALIGN, VIRTQ_INDIRECT_MAX * VIRTQ_DESC_SIZE);
		if (!vq->itable)
			return -ENOMEM;
	}
	virtq_reset(vq);
	return 0;
}

void virtq_destroy(struct virtq *vq)
{
	free(vq->itable);
	vq->itable = NULL;
}

void virtq_disable(struct virtq *vq)
{
	vq->ready = false;
	vq->desc = vq->avail = vq->used = NULL;
	vq->last_avail_idx = 0;
	vq->used_idx = 0;
	vq->signalled_used = 0;
}

void virtq_reset(struct virtq *vq)
{
	virtq_disable(vq);
	vq->size = vq->max_size;
	vq->desc_gpa = vq->avail_gpa = vq->used_gpa = 0;
	vq->event_idx = false;
	vq->indirect = false;
	vq->broken = false;
}

int virtq_set_size(struct virtq *vq, uint32_t size)
{
	if (vq->ready)
		return -EBUSY;
	vq->size = size;
	return size_ok(size, vq->max_size) ? 0 : -EINVAL;
}

int virtq_set_addrs(struct virtq *vq, uint64_t desc_gpa, uint64_t avail_gpa, uint64_t used_gpa)
{
	if (vq->ready)
		return -EBUSY;
	vq->desc_gpa = desc_gpa;
	vq->avail_gpa = avail_gpa;
	vq->used_gpa = used_gpa;
	return 0;
}

void virtq_set_features(struct virtq *vq, bool event_idx, bool indirect)
{
	vq->event_idx = event_idx;
	vq->indirect = indirect;
}

void virtq_set_broken(struct virtq *vq)
{
	vq->broken = true;
}

/* Check size and areas; on success store the host mappings in *desc, *avail, *used. */
static int virtq_map_areas(const struct virtq *vq, uint32_t size, uint64_t desc_gpa,
			   uint64_t avail_gpa, uint64_t used_gpa, uint8_t **desc, uint8_t **avail,
			   uint8_t **used)
{
	if (!size_ok(size, vq->max_size))
		return -EINVAL;
	if (desc_gpa % VIRTQ_DESC_ALIGN || avail_gpa % VIRTQ_AVAIL_ALIGN ||
	    used_gpa % VIRTQ_USED_ALIGN)
		return -EINVAL;
	*desc = gmem_ptr(vq->gm, desc_gpa, (uint64_t)VIRTQ_DESC_SIZE * size, GMEM_READ);
	*avail = gmem_ptr(vq->gm, avail_gpa, avail_bytes(size), GMEM_READ);
	*used = gmem_ptr(vq->gm, used_gpa, used_bytes(size), GMEM_READ);
	if (!*desc || !*avail || !*used)
		return -EINVAL;
	/* The host mappings must be as aligned as the guest addresses for the atomic accesses; a
	 * region whose host address is not 16-aligned is a VMM bug, not a guest error. */
	if ((uintptr_t)*desc % 8 || (uintptr_t)*avail % 2 || (uintptr_t)*used % 4) {
		log_err("virtq: guest RAM mapping is misaligned");
		return -EINVAL;
	}
	return 0;
}

int virtq_enable(struct virtq *vq)
{
	uint8_t *desc, *avail, *used;
	int ret;

	if (vq->ready)
		return 0;
	ret = virtq_map_areas(vq, vq->size, vq->desc_gpa, vq->avail_gpa, vq->used_gpa, &desc,
			      &avail, &used);
	if (ret)
		return ret;
	virtq_disable(vq); /* indices to 0 */
	vq->desc = desc;
	vq->avail = avail;
	vq->used = used;
	vq->ready = true;
	return 0;
}

/* Append [gpa, gpa+len) to elem as one segment per RAM region it touches. */
static int virtq_map_buf(struct virtq *vq, struct virtq_elem *e, uint64_t gpa, uint32_t len,
			 bool wr)
{
	uint64_t end, left = len;

	if (e->read_len + e->write_len + len > VIRTQ_ELEM_MAX_LEN)
		return virtq_fail(vq, "element longer than %llu bytes",
				  (unsigned long long)VIRTQ_ELEM_MAX_LEN);
	if (__builtin_add_overflow(gpa, (uint64_t)len, &end))
		return virtq_fail(vq, "buffer 0x%llx+0x%x overflows", (unsigned long long)gpa, len);
	while (left) {
		unsigned n = e->nr_read + e->nr_write;
		if (n >= VIRTQ_ELEM_MAX_IOV)
			return virtq_fail(vq, "element has more than %u segments",
					  VIRTQ_ELEM_MAX_IOV);
		uint64_t chunk = gmem_contig(vq->gm, gpa, left);
		void *p = chunk ? gmem_ptr(vq->gm, gpa, chunk, wr ? GMEM_WRITE : GMEM_READ) : NULL;
		if (!p)
			return virtq_fail(vq, "buffer 0x%llx+0x%x is not RAM",
					  (unsigned long long)gpa, len);
		e->iov[n].iov_base = p;
		e->iov[n].iov_len = (size_t)chunk;
		e->gpa[n] = gpa;
		if (wr)
			e->nr_write++;
		else
			e->nr_read++;
		gpa += chunk; /* stays within the region that held gpa: no overflow */
		left -= chunk;
	}
	if (wr)
		e->write_len += len;
	else
		e->read_len += len;
	return 0;
}

/* Walk the chain starting at head into e. Every descriptor is copied once into d. */
static int virtq_walk(struct virtq *vq, uint16_t head, struct virtq_elem *e)
{
	const uint8_t *table = vq->desc;
	uint32_t tsize = vq->size, count = 0, i = head;
	bool in_indirect = false, seen_write = false;
	struct vdesc d;
	int ret;

	e->head = head;
	e->nr_read = e->nr_write = 0;
	e->read_len = e->write_len = 0;
	if (head >= vq->size)
		return virtq_fail(vq, "head %u past queue size %u", head, vq->size);
	for (;;) {
		if (count++ >= tsize)
			return virtq_fail(vq, "chain longer than its table (%u): loop", tsize);
		desc_load(table + (size_t)i * VIRTQ_DESC_SIZE, &d);
		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			if (in_indirect)
				return virtq_fail(vq, "nested indirect descriptor");
			if (!vq->indirect)
				return virtq_fail(vq, "indirect descriptor not negotiated");
			if (d.flags & VIRTQ_DESC_F_NEXT)
				return virtq_fail(vq, "indirect descriptor with NEXT");
			if (d.len == 0 || d.len % VIRTQ_DESC_SIZE ||
			    d.len / VIRTQ_DESC_SIZE > VIRTQ_INDIRECT_MAX)
				return virtq_fail(vq, "bad indirect table length %u", d.len);
			if (gmem_read(vq->gm, d.addr, vq->itable, d.len))
				return virtq_fail(vq, "indirect table 0x%llx+0x%x is not RAM",
						  (unsigned long long)d.addr, d.len);
			table = vq->itable;
			tsize = d.len / VIRTQ_DESC_SIZE;
			count = 0;
			i = 0;
			in_indirect = true;
			continue;
		}
		bool wr = d.flags & VIRTQ_DESC_F_WRITE;
		if (wr)
			seen_write = true;
		else if (seen_write)
			return virtq_fail(vq, "device-readable descriptor after a writable one");
		if (d.len) {
			ret = virtq_map_buf(vq, e, d.addr, d.len, wr);
			if (ret)
				return ret;
		}
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 0;
		if (d.next >= tsize)
			return virtq_fail(vq, "next %u past table size %u", d.next, tsize);
		i = d.next;
	}
}

int virtq_pop(struct virtq *vq, struct virtq_elem *elem)
{
	uint16_t avail_idx, pending, head;
	int ret;

	if (vq->broken)
		return -EIO;
	if (!vq->ready)
		return -EAGAIN;
	avail_idx = ld16(vq->avail + AVAIL_IDX);
	pending = (uint16_t)(avail_idx - vq->last_avail_idx);
	if (pending > vq->size)
		return virtq_fail(vq, "avail idx %u is %u ahead of %u (size %u)", avail_idx,
				  pending, vq->last_avail_idx, vq->size);
	if (pending == 0)
		return -EAGAIN;
	/* Read the ring entry and the descriptors only after the idx that published them. */
	atomic_thread_fence(memory_order_acquire);
	head = ld16(vq->avail + AVAIL_RING + 2u * (vq->last_avail_idx & (vq->size - 1)));
	ret = virtq_walk(vq, head, elem);
	if (ret)
		return ret;
	vq->last_avail_idx++;
	if (vq->event_idx) {
		uint64_t off = USED_RING + (uint64_t)USED_ELEM_SIZE * vq->size;
		st16(vq->used + off, vq->last_avail_idx);
		used_dirty(vq, off, 2);
		/* avail_event must be visible before the next read of avail idx. */
		atomic_thread_fence(memory_order_seq_cst);
	}
	return 0;
}

int virtq_push(struct virtq *vq, const struct virtq_elem *elem, uint32_t written)
{
	uint64_t left = written, off;

	if (vq->broken || !vq->ready)
		return -EIO;
	if (elem->head >= vq->size || written > elem->write_len ||
	    elem->nr_read + elem->nr_write > VIRTQ_ELEM_MAX_IOV)
		return -EINVAL;
	for (unsigned i = elem->nr_read; i < elem->nr_read + elem->nr_write && left; i++) {
		uint64_t n = elem->iov[i].iov_len < left ? elem->iov[i].iov_len : left;
		gmem_mark_dirty(vq->gm, elem->gpa[i], n);
		left -= n;
	}
	off = USED_RING + (uint64_t)USED_ELEM_SIZE * (vq->used_idx & (vq->size - 1));
	st32(vq->used + off, elem->head);
	st32(vq->used + off + 4, written);
	used_dirty(vq, off, USED_ELEM_SIZE);
	vq->used_idx++;
	/* The entry (and the data written into the buffers) before the idx that publishes it. */
	__atomic_store_n((uint16_t *)(vq->used + USED_IDX), htole16(vq->used_idx),
			 __ATOMIC_RELEASE);
	used_dirty(vq, USED_IDX, 2);
	return 0;
}

void virtq_unpop(struct virtq *vq, unsigned n)
{
	uint16_t inflight = (uint16_t)(vq->last_avail_idx - vq->used_idx);

	if (n > inflight)
		n = inflight;
	vq->last_avail_idx = (uint16_t)(vq->last_avail_idx - n);
}

int virtq_needs_notify(struct virtq *vq)
{
	uint16_t old = vq->signalled_used, now = vq->used_idx, event;

	if (!vq->ready || old == now)
		return 0; /* a broken queue still signals what it pushed before */
	vq->signalled_used = now;
	/* The new used idx must be visible before the driver's suppression fields are read. */
	atomic_thread_fence(memory_order_seq_cst);
	if (!vq->event_idx)
		return !(ld16(vq->avail + AVAIL_FLAGS) & VIRTQ_AVAIL_F_NO_INTERRUPT);
	event = ld16(vq->avail + AVAIL_RING + 2u * vq->size);
	return (uint16_t)(now - event - 1) < (uint16_t)(now - old);
}

void virtq_save(const struct virtq *vq, struct virtq_state *st)
{
	memset(st, 0, sizeof(*st));
	st->desc_gpa = vq->desc_gpa;
	st->avail_gpa = vq->avail_gpa;
	st->used_gpa = vq->used_gpa;
	st->size = vq->size;
	st->flags = (vq->ready ? VIRTQ_STATE_READY : 0) | (vq->broken ? VIRTQ_STATE_BROKEN : 0) |
		    (vq->event_idx ? VIRTQ_STATE_EVENT_IDX : 0) |
		    (vq->indirect ? VIRTQ_STATE_INDIRECT : 0);
	st->last_avail_idx = vq->last_avail_idx;
	st->used_idx = vq->used_idx;
	st->signalled_used = vq->signalled_used;
}

int virtq_check_state(const struct virtq *vq, const struct virtq_state *st)
{
	uint8_t *desc, *avail, *used;

	if (st->flags & ~VIRTQ_STATE_FLAGS || st->reserved)
		return -EINVAL;
	if (!vq->max_size) {
		/* A queue that does not exist never leaves its reset state. */
		if (st->flags || st->size || st->desc_gpa || st->avail_gpa || st->used_gpa ||
		    st->last_avail_idx || st->used_idx || st->signalled_used)
			return -EINVAL;
		return 0;
	}
	if (!(st->flags & VIRTQ_STATE_READY))
		/* A disabled queue has its indices at 0; size is the raw QueueNum value. */
		return st->last_avail_idx || st->used_idx || st->signalled_used ? -EINVAL : 0;
	if ((uint16_t)(st->last_avail_idx - st->used_idx) > st->size)
		return -EINVAL;
	return virtq_map_areas(vq, st->size, st->desc_gpa, st->avail_gpa, st->used_gpa, &desc,
			       &avail, &used);
}

int virtq_load(struct virtq *vq, const struct virtq_state *st)
{
	int ret = virtq_check_state(vq, st);

	if (ret)
		return ret;
	virtq_disable(vq);
	vq->size = st->size;
	vq->desc_gpa = st->desc_gpa;
	vq->avail_gpa = st->avail_gpa;
	vq->used_gpa = st->used_gpa;
	vq->event_idx = st->flags & VIRTQ_STATE_EVENT_IDX;
	vq->indirect = st->flags & VIRTQ_STATE_INDIRECT;
	vq->broken = st->flags & VIRTQ_STATE_BROKEN;
	if (st->flags & VIRTQ_STATE_READY) {
		ret = virtq_enable(vq);
		if (ret)
			return ret;
		vq->last_avail_idx = st->last_avail_idx;
		vq->used_idx = st->used_idx;
		vq->signalled_used = st->signalled_used;
	}
	return 0;
}
