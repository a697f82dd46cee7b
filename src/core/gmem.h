/* Guest physical memory. Only this module does arithmetic on guest-physical addresses.
 *
 * Guest RAM is a small set of non-overlapping regions, each backed by one host mapping. Every
 * access is bounds-checked with overflow-safe arithmetic; copies split across regions. Every write
 * made by the VMM marks the touched pages dirty in a per-region bitmap (KVM's dirty log only sees
 * vCPU writes).
 *
 * Thread safety: the region table is fixed before vCPUs start; the dirty bitmaps are updated with
 * atomic OR and may be used from any thread. */
#ifndef VMON_CORE_GMEM_H
#define VMON_CORE_GMEM_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define GMEM_MAX_REGIONS 8
#define GMEM_PAGE_SHIFT 12
#define GMEM_PAGE_SIZE (1ull << GMEM_PAGE_SHIFT)

/* Start and end of the 32-bit hole kept free of RAM for MMIO (LAPIC, IOAPIC, PCI, virtio-mmio). */
#define GMEM_HOLE_START 0xC0000000ull
#define GMEM_HOLE_END 0x100000000ull

enum gmem_access { GMEM_READ = 1, GMEM_WRITE = 2, GMEM_RW = 3 };

struct gmem_region {
	uint64_t gpa;
	uint64_t size;
	uint8_t *hva;
	_Atomic uint64_t *dirty; /* one bit per 4 KiB page */
};

struct gmem {
	struct gmem_region regions[GMEM_MAX_REGIONS];
	unsigned nr_regions;
	uint64_t ram_size; /* total bytes of RAM over all regions */
	int owns_mappings; /* 1 when gmem_init_ram mmap-ed the memory itself */
	/* Called for every range marked dirty (see gmem_set_write_hook). */
	void (*write_hook)(void *ctx, uint64_t gpa, uint64_t len);
	void *write_hook_ctx;
};

/* Lay out ram_size bytes of anonymous memory (MAP_NORESERVE) as the PC does: one region from 0 up
 * to GMEM_HOLE_START, the remainder from 4 GiB. ram_size must be a non-zero multiple of 4 KiB.
 * Returns 0 or -errno (-EINVAL for a bad size, -ENOMEM when the host refuses the mapping). */
int gmem_init_ram(struct gmem *gm, uint64_t ram_size) __attribute__((warn_unused_result));

/* Add a caller-owned region (used by tests with fake memory, and later by snapshot restore).
 * Rejects zero size, overflow, overlap with an existing region, misalignment (4 KiB), and a full
 * table. Returns 0 or -errno. */
int gmem_add_region(struct gmem *gm, uint64_t gpa, uint64_t size, void *hva)
    __attribute__((warn_unused_result));

/* Release the regions (unmapping memory gmem_init_ram created) and the dirty bitmaps. */
void gmem_destroy(struct gmem *gm);

/* A host pointer to [gpa, gpa+len) when that range lies inside one RAM region, else NULL.
 * len 0 is allowed and checks only that gpa is inside (or at the end of) a region.
 * With GMEM_WRITE in access, the pages are marked dirty: the caller is about to write them. */
void *gmem_ptr(struct gmem *gm, uint64_t gpa, uint64_t len, int access);

/* Copy between guest memory and a host buffer, splitting at region boundaries.
 * Returns 0, or -EFAULT when any byte of the range is not RAM (nothing is copied then). */
int gmem_read(struct gmem *gm, uint64_t gpa, void *dst, size_t len)
    __attribute__((warn_unused_result));
int gmem_write(struct gmem *gm, uint64_t gpa, const void *src, size_t len)
    __attribute__((warn_unused_result));

/* Fill [gpa, gpa+len) with byte c. Returns 0 or -EFAULT as gmem_write. */
int gmem_fill(struct gmem *gm, uint64_t gpa, int c, size_t len) __attribute__((warn_unused_result));

/* Give the host memory behind [gpa, gpa+len) back (madvise MADV_DONTNEED): for anonymous private
 * memory, which is what gmem_init_ram maps, the pages read as zero afterwards and cost no host
 * memory until touched again. gpa and len must be multiples of GMEM_PAGE_SIZE and the range RAM
 * (it may span regions). The pages are marked dirty (their contents changed). Returns 0, -EINVAL
 * (misaligned), -EFAULT (not RAM; nothing discarded) or -errno from madvise. */
int gmem_discard(struct gmem *gm, uint64_t gpa, uint64_t len) __attribute__((warn_unused_result));

/* 1 when the whole range [gpa, gpa+len) is RAM (possibly spanning regions), else 0. */
int gmem_is_ram(const struct gmem *gm, uint64_t gpa, uint64_t len);

/* Mark [gpa, gpa+len) dirty (for writes made through a pointer obtained earlier). */
void gmem_mark_dirty(struct gmem *gm, uint64_t gpa, uint64_t len);

/* Test and clear the dirty bit of the page containing gpa. Returns 1 if it was dirty. */
int gmem_test_and_clear_dirty(struct gmem *gm, uint64_t gpa);

/* Install hook, called (from any thread) with every guest-physical range that is marked dirty:
 * by gmem_write/gmem_fill after the copy, by gmem_ptr with GMEM_WRITE before the caller writes,
 * and by gmem_mark_dirty. The emu backend uses it to drop decoded code the VMM overwrites. Set it
 * before other threads use gm; NULL removes it. */
void gmem_set_write_hook(struct gmem *gm, void (*hook)(void *ctx, uint64_t gpa, uint64_t len),
			 void *ctx);

/* Guest-physical end of RAM below 4 GiB (the size of region 0). */
uint64_t gmem_low_ram_end(const struct gmem *gm);

#endif
