/* Linux bzImage loader: the x86 boot protocol (Documentation/arch/x86/boot.rst) with the 64-bit
 * entry point (protocol 2.12+, XLF_KERNEL_64). The protected-mode part goes to LAYOUT_KERNEL, the
 * zero page (struct boot_params) to LAYOUT_ZERO_PAGE, identity page tables for 0-4 GiB to
 * LAYOUT_PML4/PDPT/PD, and the vCPU enters startup_64 (load address + 0x200) in long mode with
 * RSI = zero page. The real-mode setup code is not loaded: nothing runs it. */
#include <errno.h>
#include <string.h>

#include "arch/x86/boot_priv.h"
#include "arch/x86/layout.h"

/* Setup header fields (offsets in the file and in the zero page alike). */
#define HDR_SETUP_SECTS 0x1f1
#define HDR_VID_MODE 0x1fa
#define HDR_JUMP 0x200
#define HDR_START 0x202 /* "HdrS"; the jump at 0x200 skips to 0x202 + byte at 0x201 */
#define HDR_VERSION 0x206
#define HDR_TYPE_OF_LOADER 0x210
#define HDR_LOADFLAGS 0x211
#define HDR_RAMDISK_IMAGE 0x218
#define HDR_RAMDISK_SIZE 0x21c
#define HDR_HEAP_END_PTR 0x224
#define HDR_CMD_LINE_PTR 0x228
#define HDR_INITRD_ADDR_MAX 0x22c
#define HDR_KERNEL_ALIGNMENT 0x230
#define HDR_RELOCATABLE 0x234
#define HDR_XLOADFLAGS 0x236
#define HDR_CMDLINE_SIZE 0x238
#define HDR_SETUP_DATA 0x250
#define HDR_PREF_ADDRESS 0x258
#define HDR_INIT_SIZE 0x260
#define HDR_NEEDED_END 0x264 /* through init_size */
#define HDR_MAX_END 0x290    /* the zero page's setup_header area ends here */

/* Zero page fields outside the setup header. */
#define ZP_ACPI_RSDP_ADDR 0x070
#define ZP_EXT_RAMDISK_IMAGE 0x0c0
#define ZP_EXT_RAMDISK_SIZE 0x0c4
#define ZP_EXT_CMD_LINE_PTR 0x0c8
#define ZP_E820_ENTRIES 0x1e8
#define ZP_E820_TABLE 0x2d0
#define ZP_E820_ENTRY 20
#define ZP_SIZE 4096

#define LOADED_HIGH 0x01
#define CAN_USE_HEAP 0x80
#define XLF_KERNEL_64 0x0001
#define PROTO_MIN 0x020c
#define PROTO_RSDP 0x020e
#define LOADER_UNDEFINED 0xff
#define HEAP_END 0xfe00
#define VID_MODE_NORMAL 0xffff
#define ENTRY64_OFFSET 0x200

#define PTE_P 0x1ull
#define PTE_RW 0x2ull
#define PTE_PS 0x80ull
#define PT_PD_PAGES 4

/* Where the kernel will run and how far it reaches: runtime start and init_size as the boot
 * protocol computes them, then the end of everything the kernel owns. */
static int bz_kernel_extent(struct boot_ctx *c, const uint8_t *k, uint64_t payload, uint64_t *end)
{
	uint64_t pref = boot_le64(k + HDR_PREF_ADDRESS),
		 align = boot_le32(k + HDR_KERNEL_ALIGNMENT);
	uint64_t init_size = boot_le32(k + HDR_INIT_SIZE), runtime, need;

	if (k[HDR_RELOCATABLE]) {
		if (align == 0 || (align & (align - 1)))
			return boot_fail(
			    c, -ENOEXEC,
			    "kernel: bzImage kernel_alignment 0x%llx is not a power of 2",
			    (unsigned long long)align);
		runtime = boot_align_up(pref > LAYOUT_KERNEL ? pref : LAYOUT_KERNEL, align);
		if (runtime == 0)
			return boot_fail(c, -ENOEXEC, "kernel: bzImage pref_address overflows");
	} else {
		runtime = pref ? pref : LAYOUT_KERNEL;
		if (runtime < LAYOUT_KERNEL)
			return boot_fail(
			    c, -ENOEXEC,
			    "kernel: bzImage runs at 0x%llx, inside the boot area below "
			    "1 MiB",
			    (unsigned long long)runtime);
	}
	if (__builtin_add_overflow(runtime, init_size, &need))
		return boot_fail(c, -ENOEXEC, "kernel: bzImage init_size overflows");
	*end = LAYOUT_KERNEL + payload > need ? LAYOUT_KERNEL + payload : need;
	if (*end > c->low_ram_end || !gmem_is_ram(c->gm, LAYOUT_KERNEL, *end - LAYOUT_KERNEL))
		return boot_fail(c, -ENOMEM,
				 "kernel: bzImage needs RAM up to 0x%llx (init_size %llu KiB at "
				 "0x%llx) but low RAM ends at 0x%llx",
				 (unsigned long long)*end, (unsigned long long)(init_size >> 10),
				 (unsigned long long)runtime, (unsigned long long)c->low_ram_end);
	return 0;
}

/* Identity-map 0-4 GiB with 2 MiB pages: PML4[0] -> PDPT[0..3] -> 4 page directories. */
static int bz_write_page_tables(struct boot_ctx *c)
{
	uint8_t page[4096];
	int ret;

	memset(page, 0, sizeof(page));
	boot_put64(page, LAYOUT_PDPT | PTE_P | PTE_RW);
	ret = boot_write(c, LAYOUT_PML4, page, sizeof(page), "page tables");
	if (ret)
		return ret;
	memset(page, 0, sizeof(page));
	for (unsigned i = 0; i < PT_PD_PAGES; i++)
		boot_put64(page + 8 * i, (LAYOUT_PD + 4096ull * i) | PTE_P | PTE_RW);
	ret = boot_write(c, LAYOUT_PDPT, page, sizeof(page), "page tables");
	for (unsigned pd = 0; pd < PT_PD_PAGES && !ret; pd++) {
		for (unsigned i = 0; i < 512; i++) {
			uint64_t addr = ((uint64_t)pd * 512 + i) << 21;
			boot_put64(page + 8 * i, addr | PTE_P | PTE_RW | PTE_PS);
		}
		ret = boot_write(c, LAYOUT_PD + 4096ull * pd, page, sizeof(page), "page tables");
	}
	return ret;
}

/* Fill the zero page from the file's setup header and what we loaded. */
static void bz_fill_zero_page(struct boot_ctx *c, uint8_t *zp, const uint8_t *k, size_t hdr_end)
{
	uint16_t version = boot_le16(k + HDR_VERSION);
	unsigned nr = c->e820->nr < E820_MAX ? c->e820->nr : E820_MAX;

	memset(zp, 0, ZP_SIZE);
	memcpy(zp + HDR_SETUP_SECTS, k + HDR_SETUP_SECTS, hdr_end - HDR_SETUP_SECTS);
	boot_put16(zp + HDR_VID_MODE, VID_MODE_NORMAL);
	zp[HDR_TYPE_OF_LOADER] = LOADER_UNDEFINED;
	zp[HDR_LOADFLAGS] |= CAN_USE_HEAP;
	boot_put16(zp + HDR_HEAP_END_PTR, HEAP_END);
	boot_put32(zp + HDR_CMD_LINE_PTR, (uint32_t)c->out->cmdline_gpa);
	boot_put32(zp + ZP_EXT_CMD_LINE_PTR, (uint32_t)(c->out->cmdline_gpa >> 32));
	boot_put32(zp + HDR_RAMDISK_IMAGE, (uint32_t)c->out->initrd_gpa);
	boot_put32(zp + ZP_EXT_RAMDISK_IMAGE, (uint32_t)(c->out->initrd_gpa >> 32));
	boot_put32(zp + HDR_RAMDISK_SIZE, (uint32_t)c->out->initrd_size);
	boot_put32(zp + ZP_EXT_RAMDISK_SIZE, (uint32_t)(c->out->initrd_size >> 32));
	boot_put64(zp + HDR_SETUP_DATA, 0); /* we pass no setup_data list */
	if (version >= PROTO_RSDP)
		boot_put64(zp + ZP_ACPI_RSDP_ADDR, c->in->rsdp_gpa);
	zp[ZP_E820_ENTRIES] = (uint8_t)nr;
	for (unsigned i = 0; i < nr; i++) {
		uint8_t *e = zp + ZP_E820_TABLE + ZP_E820_ENTRY * i;
		boot_put64(e, c->e820->entries[i].addr);
		boot_put64(e + 8, c->e820->entries[i].size);
		boot_put32(e + 16, c->e820->entries[i].type);
	}
}

int boot_bzimage_load(struct boot_ctx *c)
{
	const uint8_t *k = c->in->kernel;
	size_t len = c->in->kernel_len, hdr_end;
	uint8_t zp[ZP_SIZE];
	uint64_t setup_size, payload, kend = 0, initrd_hi;
	uint16_t version;
	unsigned sects;
	int ret;

	if (len < HDR_VERSION + 2)
		return boot_fail(c, -ENOEXEC, "kernel: bzImage setup header truncated");
	version = boot_le16(k + HDR_VERSION);
	if (version < PROTO_MIN)
		return boot_fail(c, -ENOEXEC,
				 "kernel: bzImage boot protocol %u.%02u is too old (2.12 or later "
				 "is needed for the 64-bit entry)",
				 version >> 8, version & 0xff);
	hdr_end = HDR_START + (size_t)k[HDR_JUMP + 1];
	if (hdr_end < HDR_NEEDED_END || hdr_end > len)
		return boot_fail(c, -ENOEXEC, "kernel: bzImage setup header truncated");
	if (hdr_end > HDR_MAX_END)
		hdr_end = HDR_MAX_END;
	if (!(boot_le16(k + HDR_XLOADFLAGS) & XLF_KERNEL_64))
		return boot_fail(
		    c, -ENOEXEC,
		    "kernel: bzImage has no 64-bit entry point (XLF_KERNEL_64 not set)");
	if (!(k[HDR_LOADFLAGS] & LOADED_HIGH))
		return boot_fail(c, -ENOEXEC, "kernel: zImage (not loaded high) is not supported");
	sects = k[HDR_SETUP_SECTS] ? k[HDR_SETUP_SECTS] : 4;
	setup_size = (sects + 1) * 512ull;
	if (setup_size >= len)
		return boot_fail(
		    c, -ENOEXEC,
		    "kernel: bzImage truncated: %zu bytes, but the setup code alone is "
		    "%llu",
		    len, (unsigned long long)setup_size);
	payload = len - setup_size;
	ret = bz_kernel_extent(c, k, payload, &kend);
	if (ret)
		return ret;
	ret = boot_write(c, LAYOUT_KERNEL, k + setup_size, (size_t)payload, "kernel");
	if (ret)
		return ret;
	c->out->kernel_gpa = LAYOUT_KERNEL;
	c->out->kernel_end = kend;

	ret = boot_write_cmdline(c, NULL, boot_le32(k + HDR_CMDLINE_SIZE));
	if (ret)
		return ret;
	initrd_hi = (uint64_t)boot_le32(k + HDR_INITRD_ADDR_MAX) + 1;
	ret = boot_load_initrd(c, kend, initrd_hi, 1);
	if (ret)
		return ret;
	bz_fill_zero_page(c, zp, k, hdr_end);
	ret = boot_write(c, LAYOUT_ZERO_PAGE, zp, sizeof(zp), "zero page");
	if (!ret)
		ret = bz_write_page_tables(c);
	if (ret)
		return ret;
	return boot_enter64(c, LAYOUT_KERNEL + ENTRY64_OFFSET, LAYOUT_ZERO_PAGE);
}
