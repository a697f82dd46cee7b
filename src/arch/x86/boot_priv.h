/* Internal interface shared by the x86 boot loaders (boot*.c). Not for use outside arch/x86. */
#ifndef VMON_ARCH_X86_BOOT_PRIV_H
#define VMON_ARCH_X86_BOOT_PRIV_H

#include <stddef.h>
#include <stdint.h>

#include "arch/x86/boot.h"

#define BOOT_PAGE 4096ull
#define BOOT_MIB (1ull << 20)

/* One load in progress. low_ram_end is the end of the e820 RAM entry holding LAYOUT_KERNEL. */
struct boot_ctx {
	struct gmem *gm;
	const struct e820_map *e820;
	const struct boot_input *in;
	struct boot_result *out;
	char *err;
	size_t errlen;
	uint64_t low_ram_end;
};

/* A bump allocator over a fixed guest range, for the boot-info tables and their strings. */
struct boot_area {
	uint64_t next;
	uint64_t end;
};

/* Little-endian field access on host buffers (the caller has checked the bounds). */
static inline uint16_t boot_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t boot_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
	       ((uint32_t)p[3] << 24);
}

static inline uint64_t boot_le64(const uint8_t *p)
{
	return (uint64_t)boot_le32(p) | ((uint64_t)boot_le32(p + 4) << 32);
}

static inline void boot_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void boot_put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline void boot_put64(uint8_t *p, uint64_t v)
{
	boot_put32(p, (uint32_t)v);
	boot_put32(p + 4, (uint32_t)(v >> 32));
}

/* Round v up to a multiple of the power of two a; 0 on overflow (callers treat 0 as failure). */
static inline uint64_t boot_align_up(uint64_t v, uint64_t a)
{
	uint64_t r;
	if (__builtin_add_overflow(v, a - 1, &r))
		return 0;
	return r & ~(a - 1);
}

/* Format one sentence into c->err and return ret. */
int boot_fail(struct boot_ctx *c, int ret, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Copy len bytes to guest gpa. Returns 0, or -ENOMEM with c->err naming what when the range is
 * not guest RAM. */
int boot_write(struct boot_ctx *c, uint64_t gpa, const void *src, size_t len, const char *what)
    __attribute__((warn_unused_result));

/* Take len bytes aligned to align (a power of two) from area. Returns 0 with *gpa set, or
 * -E2BIG with c->err naming what. */
int boot_area_alloc(struct boot_ctx *c, struct boot_area *area, uint64_t len, uint64_t align,
		    uint64_t *gpa, const char *what) __attribute__((warn_unused_result));

/* Allocate strlen(s)+1 bytes from area and write s there; *gpa gets the address. */
int boot_area_string(struct boot_ctx *c, struct boot_area *area, const char *s, uint64_t *gpa,
		     const char *what) __attribute__((warn_unused_result));

/* Write the command line at LAYOUT_CMDLINE: "prefix cmdline" when prefix is non-NULL (multiboot
 * passes the kernel name first, as QEMU and GRUB do), else cmdline; for the Linux formats
 * (out->kind not BOOT_MULTIBOOT) in->linux_cmdline_extra follows, after a space. max is the longest
 * string accepted, not counting the NUL (capped at LAYOUT_CMDLINE_MAX - 1). Sets out->cmdline_gpa.
 * Returns 0 or -E2BIG. */
int boot_write_cmdline(struct boot_ctx *c, const char *prefix, uint64_t max)
    __attribute__((warn_unused_result));

/* Load in->initrd (when given) page-aligned into [lo, hi): at the top when top is 1, else at the
 * bottom. Sets out->initrd_gpa/initrd_size. Returns 0, or -ENOMEM when it does not fit. */
int boot_load_initrd(struct boot_ctx *c, uint64_t lo, uint64_t hi, int top)
    __attribute__((warn_unused_result));

/* Write the boot GDT (32-bit code descriptor) and set out->bsp to flat 32-bit protected mode at
 * entry with EAX = eax, EBX = ebx. */
int boot_enter32(struct boot_ctx *c, uint32_t entry, uint32_t eax, uint32_t ebx)
    __attribute__((warn_unused_result));

/* Write the boot GDT (64-bit code descriptor) and set out->bsp to long mode at rip, paging with
 * cr3 = LAYOUT_PML4, RSI = rsi. */
int boot_enter64(struct boot_ctx *c, uint64_t rip, uint64_t rsi)
    __attribute__((warn_unused_result));

/* ELF images (boot_elf.c). */
struct boot_elf {
	int is64;
	uint16_t machine;
	uint64_t entry;
	uint64_t phoff;
	uint16_t phnum;
	uint16_t phentsize;
};

struct boot_phdr {
	uint32_t type;
	uint64_t offset, vaddr, paddr, filesz, memsz;
};

#define BOOT_PT_LOAD 1
#define BOOT_PT_NOTE 4
#define BOOT_EM_386 3
#define BOOT_EM_X86_64 62

/* 1 when buf starts with the ELF magic. */
int boot_elf_is_elf(const uint8_t *buf, size_t len);

/* Parse and validate the ELF header of in->kernel (little-endian, executable, program header
 * table inside the file). Returns 0 or -ENOEXEC with c->err set. */
int boot_elf_parse(struct boot_ctx *c, struct boot_elf *elf) __attribute__((warn_unused_result));

/* Read program header i (i < elf->phnum; the table was bounds-checked by boot_elf_parse). */
void boot_elf_phdr(const struct boot_ctx *c, const struct boot_elf *elf, unsigned i,
		   struct boot_phdr *ph);

/* Load every PT_LOAD segment at its p_paddr, zeroing memsz - filesz. Each must lie inside the
 * file and inside guest RAM at or above LAYOUT_KERNEL. Sets *lo and *hi to the lowest start and the
 * highest end. Returns 0, -ENOEXEC (malformed) or -ENOMEM (not in RAM), c->err set. */
int boot_elf_load(struct boot_ctx *c, const struct boot_elf *elf, uint64_t *lo, uint64_t *hi)
    __attribute__((warn_unused_result));

/* Translate an entry point to a physical address: unchanged when it lies inside a PT_LOAD
 * segment's [paddr, paddr+memsz), else mapped through the segment whose [vaddr, vaddr+memsz)
 * holds it. Returns 0 or -ENOEXEC when it lies in no segment. */
int boot_elf_entry_phys(struct boot_ctx *c, const struct boot_elf *elf, uint64_t entry,
			uint64_t *phys) __attribute__((warn_unused_result));

/* Look for the Xen PHYS32_ENTRY note in the PT_NOTE segments. Returns 1 with *entry set, 0 when
 * there is none, -ENOEXEC (c->err set) for a malformed note. */
int boot_elf_find_pvh(struct boot_ctx *c, const struct boot_elf *elf, uint32_t *entry)
    __attribute__((warn_unused_result));

/* The loaders. hdr_off is the file offset of the multiboot header. */
int boot_bzimage_load(struct boot_ctx *c) __attribute__((warn_unused_result));
int boot_multiboot_load(struct boot_ctx *c, size_t hdr_off) __attribute__((warn_unused_result));
int boot_pvh_load(struct boot_ctx *c, const struct boot_elf *elf, uint32_t entry)
    __attribute__((warn_unused_result));

/* Offset of the first valid multiboot v1 header (magic and checksum) in the first 8192 bytes, or
 * -1. *bad_csum gets the offset of a magic with a bad checksum (or -1), for the error message. */
long boot_multiboot_find(const uint8_t *buf, size_t len, long *bad_csum);

#endif
