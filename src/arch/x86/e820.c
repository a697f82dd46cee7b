/* The e820 memory map: fixed low-memory holes from layout.h plus one RAM entry per gmem region. */
#include "arch/x86/e820.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "arch/x86/layout.h"
#include "core/log.h"

#define E820_VGA_START 0xa0000ull

static int e820_add(struct e820_map *m, uint64_t addr, uint64_t size, uint32_t type)
{
	if (size == 0)
		return 0;
	if (m->nr >= E820_MAX)
		return -ENOSPC;
	m->entries[m->nr++] = (struct e820_entry){.addr = addr, .size = size, .type = type};
	return 0;
}

/* Insertion sort by address: the map is small and mostly sorted already. */
static void e820_sort(struct e820_map *m)
{
	for (unsigned i = 1; i < m->nr; i++) {
		struct e820_entry e = m->entries[i];
		unsigned j = i;
		while (j > 0 && m->entries[j - 1].addr > e.addr) {
			m->entries[j] = m->entries[j - 1];
			j--;
		}
		m->entries[j] = e;
	}
}

static const struct gmem_region *e820_region0(const struct gmem *gm)
{
	for (unsigned i = 0; i < gm->nr_regions; i++) {
		if (gm->regions[i].gpa == 0)
			return &gm->regions[i];
	}
	return NULL;
}

int e820_build(const struct gmem *gm, struct e820_map *out)
{
	const uint64_t ecam_end = LAYOUT_PCI_ECAM + E820_ECAM_SIZE;
	const struct gmem_region *r0;
	int ret = 0;

	memset(out, 0, sizeof(*out));
	r0 = e820_region0(gm);
	if (!r0) {
		log_err("e820: guest RAM must start at address 0");
		return -EINVAL;
	}
	if (r0->size < E820_MIN_RAM) {
		log_err("e820: %" PRIu64 " KiB of low guest RAM is below the minimum of %llu KiB",
			r0->size >> 10, E820_MIN_RAM >> 10);
		return -EINVAL;
	}
	for (unsigned i = 0; i < gm->nr_regions; i++) {
		const struct gmem_region *r = &gm->regions[i];
		/* gmem_add_region guarantees gpa + size does not overflow. */
		if (r->gpa < ecam_end && LAYOUT_PCI_ECAM < r->gpa + r->size) {
			log_err("e820: RAM at 0x%" PRIx64 "-0x%" PRIx64
				" overlaps the PCIe ECAM window",
				r->gpa, r->gpa + r->size - 1);
			return -EINVAL;
		}
	}

	ret |= e820_add(out, 0, LAYOUT_EBDA, E820_RAM);
	ret |= e820_add(out, LAYOUT_EBDA, E820_VGA_START - LAYOUT_EBDA, E820_RESERVED);
	ret |= e820_add(out, LAYOUT_BIOS_START, LAYOUT_BIOS_END - LAYOUT_BIOS_START, E820_RESERVED);
	ret |= e820_add(out, LAYOUT_KERNEL, r0->size - LAYOUT_KERNEL, E820_RAM);
	for (unsigned i = 0; i < gm->nr_regions; i++) {
		const struct gmem_region *r = &gm->regions[i];
		if (r != r0)
			ret |= e820_add(out, r->gpa, r->size, E820_RAM);
	}
	ret |= e820_add(out, LAYOUT_PCI_ECAM, E820_ECAM_SIZE, E820_RESERVED);
	if (ret) {
		/* Unreachable with GMEM_MAX_REGIONS regions, kept for when either limit changes. */
		log_err("e820: more than %d memory map entries", E820_MAX);
		out->nr = 0;
		return -EINVAL;
	}
	e820_sort(out);
	return 0;
}

uint64_t e820_ram_end(const struct e820_map *map, uint64_t addr)
{
	for (unsigned i = 0; i < map->nr && i < E820_MAX; i++) {
		const struct e820_entry *e = &map->entries[i];
		if (e->type == E820_RAM && addr >= e->addr && addr - e->addr < e->size)
			return e->addr + e->size;
	}
	return 0;
}

int e820_is_ram(const struct e820_map *map, uint64_t addr, uint64_t size)
{
	uint64_t end;

	if (__builtin_add_overflow(addr, size, &end))
		return 0;
	for (unsigned i = 0; i < map->nr && i < E820_MAX; i++) {
		const struct e820_entry *e = &map->entries[i];
		if (e->type != E820_RAM || addr < e->addr)
			continue;
		uint64_t off = addr - e->addr;
		if (off < e->size && size <= e->size - off)
			return 1;
	}
	return 0;
}
