/* PVH direct boot (Xen's x86 HVM start of day, xen/include/public/arch-x86/hvm/start_info.h) as
 * QEMU and Firecracker do it for an uncompressed vmlinux or any ELF with a PVH note: load the
 * PT_LOAD segments at p_paddr and enter the XEN_ELFNOTE_PHYS32_ENTRY address in flat 32-bit mode
 * with EBX pointing at struct hvm_start_info (version 1, with the memory map).
 *
 * Layout: start_info at LAYOUT_BOOT_INFO, then the memory map, the module list and the module's
 * name string inside [LAYOUT_BOOT_INFO, LAYOUT_BOOT_INFO_END); command line at LAYOUT_CMDLINE;
 * the initrd (module 0) page-aligned at the top of low RAM, above the kernel. */
#include <errno.h>
#include <string.h>

#include "arch/x86/boot_priv.h"
#include "arch/x86/layout.h"

/* struct hvm_start_info (56 bytes in version 1). */
#define SI_MAGIC 0
#define SI_VERSION 4
#define SI_FLAGS 8
#define SI_NR_MODULES 12
#define SI_MODLIST_PADDR 16
#define SI_CMDLINE_PADDR 24
#define SI_RSDP_PADDR 32
#define SI_MEMMAP_PADDR 40
#define SI_MEMMAP_ENTRIES 48
#define SI_SIZE 56
#define SI_VERSION_MEMMAP 1

/* struct hvm_modlist_entry: paddr, size, cmdline_paddr, reserved (all 64-bit). */
#define MOD_SIZE 32
/* struct hvm_memmap_table_entry: addr, size (64-bit), type, reserved (32-bit). */
#define MEMMAP_ENTRY 24

static int pvh_write_memmap(struct boot_ctx *c, struct boot_area *area, uint64_t *gpa,
			    uint32_t *nr_out)
{
	uint8_t e[MEMMAP_ENTRY];
	unsigned nr = c->e820->nr < E820_MAX ? c->e820->nr : E820_MAX;
	int ret = boot_area_alloc(c, area, (uint64_t)nr * MEMMAP_ENTRY, 8, gpa, "PVH memory map");

	if (ret)
		return ret;
	for (unsigned i = 0; i < nr; i++) {
		const struct e820_entry *en = &c->e820->entries[i];
		memset(e, 0, sizeof(e));
		boot_put64(e, en->addr);
		boot_put64(e + 8, en->size);
		boot_put32(e + 16, en->type);
		ret = boot_write(c, *gpa + (uint64_t)i * MEMMAP_ENTRY, e, sizeof(e),
				 "PVH memory map");
		if (ret)
			return ret;
	}
	*nr_out = nr;
	return 0;
}

static int pvh_write_start_info(struct boot_ctx *c)
{
	struct boot_area area = {LAYOUT_BOOT_INFO, LAYOUT_BOOT_INFO_END};
	uint8_t si[SI_SIZE], mod[MOD_SIZE];
	uint64_t si_gpa, map_gpa, mod_gpa, str_gpa;
	uint32_t map_nr;
	int ret;

	memset(si, 0, sizeof(si));
	ret = boot_area_alloc(c, &area, SI_SIZE, 8, &si_gpa, "PVH start_info");
	if (!ret)
		ret = pvh_write_memmap(c, &area, &map_gpa, &map_nr);
	if (ret)
		return ret;
	if (c->in->initrd) {
		const char *s = c->in->initrd_name ? c->in->initrd_name : "";
		ret = boot_area_alloc(c, &area, MOD_SIZE, 8, &mod_gpa, "PVH module list");
		if (!ret)
			ret = boot_area_string(c, &area, s, &str_gpa, "initrd name");
		if (ret)
			return ret;
		memset(mod, 0, sizeof(mod));
		boot_put64(mod, c->out->initrd_gpa);
		boot_put64(mod + 8, c->out->initrd_size);
		boot_put64(mod + 16, str_gpa);
		ret = boot_write(c, mod_gpa, mod, sizeof(mod), "PVH module list");
		if (ret)
			return ret;
		boot_put32(si + SI_NR_MODULES, 1);
		boot_put64(si + SI_MODLIST_PADDR, mod_gpa);
	}
	boot_put32(si + SI_MAGIC, BOOT_PVH_MAGIC);
	boot_put32(si + SI_VERSION, SI_VERSION_MEMMAP);
	boot_put32(si + SI_FLAGS, 0);
	boot_put64(si + SI_CMDLINE_PADDR, c->out->cmdline_gpa);
	boot_put64(si + SI_RSDP_PADDR, c->in->rsdp_gpa);
	boot_put64(si + SI_MEMMAP_PADDR, map_gpa);
	boot_put32(si + SI_MEMMAP_ENTRIES, map_nr);
	return boot_write(c, si_gpa, si, sizeof(si), "PVH start_info");
}

int boot_pvh_load(struct boot_ctx *c, const struct boot_elf *elf, uint32_t entry)
{
	uint64_t lo, hi, phys;
	int ret;

	if (elf->machine != BOOT_EM_386 && elf->machine != BOOT_EM_X86_64)
		return boot_fail(c, -ENOEXEC, "kernel: PVH ELF machine %u is not x86",
				 elf->machine);
	ret = boot_elf_load(c, elf, &lo, &hi);
	if (ret)
		return ret;
	ret = boot_elf_entry_phys(c, elf, entry, &phys);
	if (ret)
		return ret;
	if (phys != entry)
		return boot_fail(c, -ENOEXEC,
				 "kernel: PVH entry 0x%x is not a physical address inside a loaded "
				 "segment",
				 entry);
	c->out->kernel_gpa = lo;
	c->out->kernel_end = hi;

	ret = boot_write_cmdline(c, NULL, LAYOUT_CMDLINE_MAX - 1);
	if (!ret)
		ret = boot_load_initrd(c, hi, c->low_ram_end, 1);
	if (!ret)
		ret = pvh_write_start_info(c);
	if (ret)
		return ret;
	return boot_enter32(c, entry, 0, (uint32_t)LAYOUT_BOOT_INFO);
}
