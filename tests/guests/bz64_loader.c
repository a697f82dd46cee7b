/* bz64_loader: a multiboot guest, linked at 16 MiB, that boots the bzImage given as its first
 * module through the Linux 64-bit boot protocol, with vmon's layout (src/arch/x86/layout.h):
 * GDT at 0x500 (code 0x10, data 0x18), boot_params at 0x7000, identity page tables at 0x9000
 * (2 MiB pages over 4 GiB), command line at 0x20000, protected-mode part at pref_address, entry
 * at load address + 0x200 in long mode with RSI = boot_params and interrupts off.
 * It lets QEMU check the 64-bit entry of boot_bzimage.bin, which QEMU itself never uses
 * (QEMU runs the real-mode setup). Its command line, minus the first word (QEMU puts the image
 * path there), becomes the bzImage's. */
#include "guest.h"

#define ZERO_PAGE 0x7000ul
#define GDT_ADDR 0x500ul
#define PML4_ADDR 0x9000ul
#define PDPT_ADDR 0xa000ul
#define PD_ADDR 0xb000ul
#define CMDLINE_ADDR 0x20000ul
#define SELF_BASE 0x1000000ul

static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static uint64_t rd64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

int main(const struct boot_info *bi)
{
	TEST_ASSERT(bi->initrd_size, "no module: pass the bzImage as the first multiboot module");
	const uint8_t *img = (const uint8_t *)bi->initrd_addr;
	uint64_t size = bi->initrd_size;
	TEST_ASSERT(size > 0x400 && !memcmp(img + 0x202, "HdrS", 4), "module is not a bzImage");
	uint16_t version = (uint16_t)(img[0x206] | img[0x207] << 8);
	uint16_t xlf = (uint16_t)(img[0x236] | img[0x237] << 8);
	TEST_ASSERT(version >= 0x020c && (xlf & 1), "bzImage protocol 0x%x, xloadflags 0x%x: no "
		    "64-bit entry", version, xlf);
	unsigned setup_sects = img[0x1f1] ? img[0x1f1] : 4;
	uint64_t pm_off = (setup_sects + 1) * 512ull, pm_size = size - pm_off;
	uint64_t load = rd64(img + 0x258), init_size = rd32(img + 0x260);
	TEST_ASSERT(load >= 0x100000 && load + init_size <= SELF_BASE && init_size >= pm_size,
		    "bad load range 0x%lx + 0x%lx (file part 0x%lx)", load, init_size, pm_size);

	/* Protected-mode part; the rest of init_size zeroed. */
	memset((void *)load, 0, init_size);
	memcpy((void *)load, img + pm_off, pm_size);

	/* boot_params: the setup header copied from the image, loader fields, e820. */
	uint8_t *bp = phys(ZERO_PAGE);
	memset(bp, 0, 4096);
	size_t hdr_end = 0x202 + img[0x201];
	memcpy(bp + 0x1f1, img + 0x1f1, hdr_end - 0x1f1);
	bp[0x210] = 0xff; /* type_of_loader: undefined */
	const char *cmd = bi->cmdline;
	while (*cmd && *cmd != ' ')
		cmd++;
	while (*cmd == ' ')
		cmd++;
	char *cl = phys(CMDLINE_ADDR);
	memcpy(cl, cmd, strlen(cmd) + 1);
	uint32_t clp = (uint32_t)CMDLINE_ADDR;
	memcpy(bp + 0x228, &clp, 4);
	uint8_t n = 0;
	for (uint32_t i = 0; i < bi->nr_mmap && i < BOOT_MMAP_MAX; i++, n++) {
		uint8_t *e = bp + 0x2d0 + 20 * i;
		memcpy(e, &bi->mmap[i].addr, 8);
		memcpy(e + 8, &bi->mmap[i].len, 8);
		memcpy(e + 16, &bi->mmap[i].type, 4);
	}
	bp[0x1e8] = n;

	/* GDT and page tables at vmon's addresses. */
	uint64_t *gdt = phys(GDT_ADDR);
	gdt[0] = 0;
	gdt[1] = 0;
	gdt[2] = 0x00af9b000000ffffull; /* 0x10: 64-bit code */
	gdt[3] = 0x00cf93000000ffffull; /* 0x18: data */
	uint64_t *pml4 = phys(PML4_ADDR), *pdpt = phys(PDPT_ADDR), *pd = phys(PD_ADDR);
	memset(pml4, 0, 4096);
	memset(pdpt, 0, 4096);
	pml4[0] = PDPT_ADDR | PTE_P | PTE_W;
	for (int i = 0; i < 4; i++)
		pdpt[i] = (PD_ADDR + 4096ull * i) | PTE_P | PTE_W;
	for (int i = 0; i < 2048; i++)
		pd[i] = ((uint64_t)i << 21) | PTE_P | PTE_W | PTE_PS;

	uint64_t entry = load + 0x200;
	test_note("bzImage protocol %x.%02x: %lu bytes at 0x%lx, entering 0x%lx with RSI 0x%lx",
		  version >> 8, version & 0xff, pm_size, load, entry, ZERO_PAGE);
	static struct desc_ptr gdtr;
	gdtr.limit = 4 * 8 - 1;
	gdtr.base = GDT_ADDR;
	asm volatile("cli\n\t"
		     "lgdt %0\n\t"
		     "mov %1, %%cr3\n\t"
		     "mov $0x18, %%eax\n\t"
		     "mov %%eax, %%ds\n\t"
		     "mov %%eax, %%es\n\t"
		     "mov %%eax, %%ss\n\t"
		     "pushq $0x10\n\t"
		     "pushq %2\n\t"
		     "lretq"
		     :
		     : "m"(gdtr), "r"(PML4_ADDR), "r"(entry), "S"(ZERO_PAGE)
		     : "rax", "memory");
	__builtin_unreachable();
}
