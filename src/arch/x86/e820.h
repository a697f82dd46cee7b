/* The BIOS e820 memory map of the vmon PC, built from the guest RAM regions and the fixed layout.
 * All three boot loaders hand it to the guest (zero page, multiboot mmap, PVH memmap). */
#ifndef VMON_ARCH_X86_E820_H
#define VMON_ARCH_X86_E820_H

#include <stdint.h>

#include "core/gmem.h"

#define E820_MAX 128 /* the zero page holds at most 128 entries */

/* Entry types as the ACPI spec and Linux number them. */
#define E820_RAM 1
#define E820_RESERVED 2
#define E820_ACPI 3
#define E820_NVS 4
#define E820_UNUSABLE 5

/* Smallest guest RAM vmon boots: the low boot area below 1 MiB plus 1 MiB for a kernel. */
#define E820_MIN_RAM (2ull << 20)

/* Size of the PCIe ECAM window reserved at LAYOUT_PCI_ECAM. */
#define E820_ECAM_SIZE (256ull << 20)

struct e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
};

struct e820_map {
	struct e820_entry entries[E820_MAX];
	unsigned nr;
};

/* Build the memory map of gm into out, sorted by address:
 *   RAM [0, LAYOUT_EBDA), reserved [LAYOUT_EBDA, 0xa0000), reserved [LAYOUT_BIOS_START, 1 MiB),
 *   RAM [1 MiB, end of region 0), every further gmem region as RAM, and the 256 MiB PCIe ECAM
 *   window at LAYOUT_PCI_ECAM as reserved.
 * Region 0 must start at guest-physical 0 and hold at least E820_MIN_RAM bytes; no RAM region may
 * overlap the ECAM window. Returns 0, or -EINVAL (with an error logged) when gm breaks those
 * rules; out is then left with nr = 0. */
int e820_build(const struct gmem *gm, struct e820_map *out) __attribute__((warn_unused_result));

/* End (exclusive) of the RAM entry of map that contains addr, or 0 when addr is not in RAM. The
 * loaders use e820_ram_end(map, LAYOUT_KERNEL) as "end of low RAM". */
uint64_t e820_ram_end(const struct e820_map *map, uint64_t addr);

/* 1 when [addr, addr+size) lies entirely inside one RAM entry of map (size 0: addr inside), else 0.
 * Overflow-safe. */
int e820_is_ram(const struct e820_map *map, uint64_t addr, uint64_t size);

#endif
