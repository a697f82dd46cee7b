#include "core/gmem.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static uint64_t bitmap_words(uint64_t size)
{
	uint64_t pages = (size + GMEM_PAGE_SIZE - 1) >> GMEM_PAGE_SHIFT;
	return (pages + 63) / 64;
}

int gmem_add_region(struct gmem *gm, uint64_t gpa, uint64_t size, void *hva)
{
	uint64_t end;

	if (size == 0 || hva == NULL)
		return -EINVAL;
	if ((gpa | size) & (GMEM_PAGE_SIZE - 1))
		return -EINVAL;
	if (__builtin_add_overflow(gpa, size, &end))
		return -EINVAL;
	if (gm->nr_regions >= GMEM_MAX_REGIONS)
		return -ENOSPC;
	for (unsigned i = 0; i < gm->nr_regions; i++) {
		const struct gmem_region *r = &gm->regions[i];
		if (gpa < r->gpa + r->size && r->gpa < end)
			return -EEXIST;
	}
	_Atomic uint64_t *dirty = calloc(bitmap_words(size), sizeof(uint64_t));
	if (!dirty)
		return -ENOMEM;
	struct gmem_region *r = &gm->regions[gm->nr_regions++];
	r->gpa = gpa;
	r->size = size;
	r->hva = hva;
	r->dirty = dirty;
	gm->ram_size += size;
	return 0;
}

int gmem_init_ram(struct gmem *gm, uint64_t ram_size)
{
	memset(gm, 0, sizeof(*gm));
	if (ram_size == 0 || (ram_size & (GMEM_PAGE_SIZE - 1)))
		return -EINVAL;
	uint64_t low = ram_size < GMEM_HOLE_START ? ram_size : GMEM_HOLE_START;
	uint64_t high = ram_size - low;
	uint64_t high_end;
	if (__builtin_add_overflow(GMEM_HOLE_END, high, &high_end))
		return -EINVAL;
	gm->owns_mappings = 1;

	void *p = mmap(NULL, low, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return -ENOMEM;
	int ret = gmem_add_region(gm, 0, low, p);
	if (ret) {
		munmap(p, low);
		return ret;
	}
	if (high) {
		p = mmap(NULL, high, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (p == MAP_FAILED) {
			gmem_destroy(gm);
			return -ENOMEM;
		}
		ret = gmem_add_region(gm, GMEM_HOLE_END, high, p);
		if (ret) {
			munmap(p, high);
			gmem_destroy(gm);
			return ret;
		}
	}
	return 0;
}

void gmem_destroy(struct gmem *gm)
{
	for (unsigned i = 0; i < gm->nr_regions; i++) {
		struct gmem_region *r = &gm->regions[i];
		if (gm->owns_mappings)
			munmap(r->hva, r->size);
		free((void *)r->dirty);
	}
	memset(gm, 0, sizeof(*gm));
}

/* The region containing gpa, or NULL. */
static struct gmem_region *region_of(const struct gmem *gm, uint64_t gpa)
{
	for (unsigned i = 0; i < gm->nr_regions; i++) {
		const struct gmem_region *r = &gm->regions[i];
		if (gpa >= r->gpa && gpa - r->gpa < r->size)
			return (struct gmem_region *)r;
	}
	return NULL;
}

static void region_mark_dirty(struct gmem *gm, struct gmem_region *r, uint64_t off, uint64_t len)
{
	if (len == 0)
		return;
	if (gm->write_hook)
		gm->write_hook(gm->write_hook_ctx, r->gpa + off, len);
	uint64_t first = off >> GMEM_PAGE_SHIFT;
	uint64_t last = (off + len - 1) >> GMEM_PAGE_SHIFT;
	for (uint64_t pg = first; pg <= last; pg++)
		atomic_fetch_or(&r->dirty[pg / 64], 1ull << (pg % 64));
}

void *gmem_ptr(struct gmem *gm, uint64_t gpa, uint64_t len, int access)
{
	uint64_t end;
	if (__builtin_add_overflow(gpa, len, &end))
		return NULL;
	for (unsigned i = 0; i < gm->nr_regions; i++) {
		struct gmem_region *r = &gm->regions[i];
		if (gpa < r->gpa)
			continue;
		uint64_t off = gpa - r->gpa;
		if (off > r->size || len > r->size - off)
			continue;
		if (len == 0 && off == r->size && i + 1 < gm->nr_regions)
			continue; /* prefer the region that starts here */
		if (access & GMEM_WRITE)
			region_mark_dirty(gm, r, off, len);
		return r->hva + off;
	}
	return NULL;
}

int gmem_is_ram(const struct gmem *gm, uint64_t gpa, uint64_t len)
{
	uint64_t end;
	if (__builtin_add_overflow(gpa, len, &end))
		return 0;
	while (len) {
		const struct gmem_region *r = region_of(gm, gpa);
		if (!r)
			return 0;
		uint64_t avail = r->size - (gpa - r->gpa);
		uint64_t n = len < avail ? len : avail;
		gpa += n;
		len -= n;
	}
	return 1;
}

/* Walk [gpa, gpa+len) region by region; op 0 = read into buf, 1 = write from buf, 2 = fill. */
static int gmem_copy(struct gmem *gm, uint64_t gpa, void *buf, size_t len, int op, int c)
{
	if (!gmem_is_ram(gm, gpa, len))
		return -EFAULT;
	uint8_t *b = buf;
	while (len) {
		struct gmem_region *r = region_of(gm, gpa);
		uint64_t off = gpa - r->gpa;
		uint64_t avail = r->size - off;
		size_t n = len < avail ? len : (size_t)avail;
		if (op == 0) {
			memcpy(b, r->hva + off, n);
		} else {
			if (op == 1)
				memcpy(r->hva + off, b, n);
			else
				memset(r->hva + off, c, n);
			region_mark_dirty(gm, r, off, n);
		}
		if (b)
			b += n;
		gpa += n;
		len -= n;
	}
	return 0;
}

int gmem_read(struct gmem *gm, uint64_t gpa, void *dst, size_t len)
{
	return gmem_copy(gm, gpa, dst, len, 0, 0);
}

int gmem_write(struct gmem *gm, uint64_t gpa, const void *src, size_t len)
{
	return gmem_copy(gm, gpa, (void *)src, len, 1, 0);
}

int gmem_fill(struct gmem *gm, uint64_t gpa, int c, size_t len)
{
	return gmem_copy(gm, gpa, NULL, len, 2, c);
}

int gmem_discard(struct gmem *gm, uint64_t gpa, uint64_t len)
{
	if ((gpa | len) & (GMEM_PAGE_SIZE - 1))
		return -EINVAL;
	if (!gmem_is_ram(gm, gpa, len))
		return -EFAULT;
	while (len) {
		struct gmem_region *r = region_of(gm, gpa);
		uint64_t off = gpa - r->gpa;
		uint64_t avail = r->size - off;
		uint64_t n = len < avail ? len : avail;
		if (madvise(r->hva + off, n, MADV_DONTNEED) < 0)
			return -errno;
		region_mark_dirty(gm, r, off, n);
		gpa += n;
		len -= n;
	}
	return 0;
}

void gmem_mark_dirty(struct gmem *gm, uint64_t gpa, uint64_t len)
{
	while (len) {
		struct gmem_region *r = region_of(gm, gpa);
		if (!r)
			return;
		uint64_t off = gpa - r->gpa;
		uint64_t avail = r->size - off;
		uint64_t n = len < avail ? len : avail;
		region_mark_dirty(gm, r, off, n);
		gpa += n;
		len -= n;
	}
}

int gmem_test_and_clear_dirty(struct gmem *gm, uint64_t gpa)
{
	struct gmem_region *r = region_of(gm, gpa);
	if (!r)
		return 0;
	uint64_t pg = (gpa - r->gpa) >> GMEM_PAGE_SHIFT;
	uint64_t bit = 1ull << (pg % 64);
	return (atomic_fetch_and(&r->dirty[pg / 64], ~bit) & bit) != 0;
}

uint64_t gmem_low_ram_end(const struct gmem *gm)
{
	const struct gmem_region *r = region_of(gm, 0);
	return r ? r->size : 0;
}

void gmem_set_write_hook(struct gmem *gm, void (*hook)(void *ctx, uint64_t gpa, uint64_t len),
			 void *ctx)
{
	gm->write_hook_ctx = ctx;
	gm->write_hook = hook;
}
