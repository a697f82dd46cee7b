/* ELF32/ELF64 parsing for the multiboot and PVH loaders: header and program header validation,
 * PT_LOAD loading at p_paddr, and the Xen PVH entry note. Every file-supplied offset and size is
 * checked with overflow-safe arithmetic before use. */
#include <errno.h>
#include <string.h>

#include "arch/x86/boot_priv.h"
#include "arch/x86/layout.h"

#define EI_CLASS 4
#define EI_DATA 5
#define EI_VERSION 6
#define ELFCLASS32 1
#define ELFCLASS64 2
#define ELFDATA2LSB 1
#define ET_EXEC 2
#define EHDR32_SIZE 52
#define EHDR64_SIZE 64
#define PHDR32_SIZE 32
#define PHDR64_SIZE 56

#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define NOTE_HDR_SIZE 12

int boot_elf_is_elf(const uint8_t *buf, size_t len)
{
	return len >= 4 && buf[0] == 0x7f && buf[1] == 'E' && buf[2] == 'L' && buf[3] == 'F';
}

int boot_elf_parse(struct boot_ctx *c, struct boot_elf *elf)
{
	const uint8_t *k = c->in->kernel;
	size_t len = c->in->kernel_len;
	uint64_t table, end;

	memset(elf, 0, sizeof(*elf));
	if (len < EI_VERSION + 1 || !boot_elf_is_elf(k, len))
		return boot_fail(c, -ENOEXEC, "kernel: ELF header truncated");
	if (k[EI_CLASS] != ELFCLASS32 && k[EI_CLASS] != ELFCLASS64)
		return boot_fail(c, -ENOEXEC, "kernel: unknown ELF class %u", k[EI_CLASS]);
	if (k[EI_DATA] != ELFDATA2LSB || k[EI_VERSION] != 1)
		return boot_fail(c, -ENOEXEC, "kernel: ELF image is not little-endian version 1");
	elf->is64 = k[EI_CLASS] == ELFCLASS64;
	if (len < (elf->is64 ? EHDR64_SIZE : EHDR32_SIZE))
		return boot_fail(c, -ENOEXEC, "kernel: ELF header truncated");
	if (boot_le16(k + 16) != ET_EXEC)
		return boot_fail(c, -ENOEXEC, "kernel: ELF image is not an executable (e_type %u)",
				 boot_le16(k + 16));
	elf->machine = boot_le16(k + 18);
	if (elf->is64) {
		elf->entry = boot_le64(k + 24);
		elf->phoff = boot_le64(k + 32);
		elf->phentsize = boot_le16(k + 54);
		elf->phnum = boot_le16(k + 56);
	} else {
		elf->entry = boot_le32(k + 24);
		elf->phoff = boot_le32(k + 28);
		elf->phentsize = boot_le16(k + 42);
		elf->phnum = boot_le16(k + 44);
	}
	if (elf->phnum == 0)
		return boot_fail(c, -ENOEXEC, "kernel: ELF image has no program headers");
	if (elf->phentsize < (elf->is64 ? PHDR64_SIZE : PHDR32_SIZE))
		return boot_fail(c, -ENOEXEC, "kernel: ELF program header size %u is too small",
				 elf->phentsize);
	table = (uint64_t)elf->phnum * elf->phentsize; /* both 16-bit: cannot overflow */
	if (__builtin_add_overflow(elf->phoff, table, &end) || end > len)
		return boot_fail(c, -ENOEXEC,
				 "kernel: ELF program headers (%u x %u at 0x%llx) lie past the end "
				 "of the file",
				 elf->phnum, elf->phentsize, (unsigned long long)elf->phoff);
	return 0;
}

void boot_elf_phdr(const struct boot_ctx *c, const struct boot_elf *elf, unsigned i,
		   struct boot_phdr *ph)
{
	const uint8_t *p = c->in->kernel + elf->phoff + (uint64_t)i * elf->phentsize;

	ph->type = boot_le32(p);
	if (elf->is64) {
		ph->offset = boot_le64(p + 8);
		ph->vaddr = boot_le64(p + 16);
		ph->paddr = boot_le64(p + 24);
		ph->filesz = boot_le64(p + 32);
		ph->memsz = boot_le64(p + 40);
	} else {
		ph->offset = boot_le32(p + 4);
		ph->vaddr = boot_le32(p + 8);
		ph->paddr = boot_le32(p + 12);
		ph->filesz = boot_le32(p + 16);
		ph->memsz = boot_le32(p + 20);
	}
}

/* Validate one PT_LOAD segment against the file and guest RAM. */
static int boot_elf_check_seg(struct boot_ctx *c, unsigned i, const struct boot_phdr *ph)
{
	uint64_t fend, mend;

	if (ph->filesz > ph->memsz)
		return boot_fail(c, -ENOEXEC, "kernel: ELF segment %u has p_filesz > p_memsz", i);
	if (__builtin_add_overflow(ph->offset, ph->filesz, &fend) || fend > c->in->kernel_len)
		return boot_fail(c, -ENOEXEC,
				 "kernel: ELF segment %u lies past the end of the file", i);
	if (__builtin_add_overflow(ph->paddr, ph->memsz, &mend))
		return boot_fail(c, -ENOEXEC,
				 "kernel: ELF segment %u wraps around the address space", i);
	if (ph->paddr < LAYOUT_KERNEL)
		return boot_fail(
		    c, -ENOEXEC,
		    "kernel: ELF segment %u at 0x%llx overlaps the boot area below 1 MiB", i,
		    (unsigned long long)ph->paddr);
	if (!gmem_is_ram(c->gm, ph->paddr, ph->memsz))
		return boot_fail(c, -ENOMEM,
				 "kernel: ELF segment %u (0x%llx-0x%llx) is outside guest RAM "
				 "(%llu MiB)",
				 i, (unsigned long long)ph->paddr, (unsigned long long)mend - 1,
				 (unsigned long long)(c->gm->ram_size / BOOT_MIB));
	return 0;
}

int boot_elf_load(struct boot_ctx *c, const struct boot_elf *elf, uint64_t *lo, uint64_t *hi)
{
	struct boot_phdr ph;
	int ret, loaded = 0;

	*lo = UINT64_MAX;
	*hi = 0;
	for (unsigned i = 0; i < elf->phnum; i++) {
		boot_elf_phdr(c, elf, i, &ph);
		if (ph.type != BOOT_PT_LOAD || ph.memsz == 0)
			continue;
		ret = boot_elf_check_seg(c, i, &ph);
		if (ret)
			return ret;
		ret =
		    boot_write(c, ph.paddr, c->in->kernel + ph.offset, (size_t)ph.filesz, "kernel");
		if (ret)
			return ret;
		if (gmem_fill(c->gm, ph.paddr + ph.filesz, 0, (size_t)(ph.memsz - ph.filesz)))
			return boot_fail(c, -ENOMEM, "kernel: cannot clear the bss of segment %u",
					 i);
		if (ph.paddr < *lo)
			*lo = ph.paddr;
		if (ph.paddr + ph.memsz > *hi)
			*hi = ph.paddr + ph.memsz;
		loaded++;
	}
	if (!loaded)
		return boot_fail(c, -ENOEXEC, "kernel: ELF image has no loadable segments");
	return 0;
}

int boot_elf_entry_phys(struct boot_ctx *c, const struct boot_elf *elf, uint64_t entry,
			uint64_t *phys)
{
	struct boot_phdr ph;

	for (unsigned i = 0; i < elf->phnum; i++) {
		boot_elf_phdr(c, elf, i, &ph);
		if (ph.type == BOOT_PT_LOAD && entry >= ph.paddr && entry - ph.paddr < ph.memsz) {
			*phys = entry;
			return 0;
		}
	}
	for (unsigned i = 0; i < elf->phnum; i++) {
		boot_elf_phdr(c, elf, i, &ph);
		if (ph.type == BOOT_PT_LOAD && entry >= ph.vaddr && entry - ph.vaddr < ph.memsz) {
			/* Below paddr + memsz, which boot_elf_load checked. */
			*phys = ph.paddr + (entry - ph.vaddr);
			return 0;
		}
	}
	return boot_fail(c, -ENOEXEC, "kernel: entry point 0x%llx is not inside a loaded segment",
			 (unsigned long long)entry);
}

/* Scan one note segment's bytes [0, size) for the PVH entry note. */
static int boot_elf_scan_notes(struct boot_ctx *c, const uint8_t *p, uint64_t size, uint32_t *entry)
{
	uint64_t off = 0;

	while (size - off >= NOTE_HDR_SIZE) {
		uint32_t namesz = boot_le32(p + off), descsz = boot_le32(p + off + 4);
		uint32_t type = boot_le32(p + off + 8);
		/* 32-bit sizes rounded up in 64-bit arithmetic cannot overflow. */
		uint64_t name_pad = ((uint64_t)namesz + 3) & ~3ull;
		uint64_t desc_pad = ((uint64_t)descsz + 3) & ~3ull;
		const uint8_t *name, *desc;

		off += NOTE_HDR_SIZE;
		if (name_pad > size - off || desc_pad > size - off - name_pad)
			return boot_fail(c, -ENOEXEC,
					 "kernel: ELF note (name %u, desc %u bytes) overruns its "
					 "segment",
					 namesz, descsz);
		name = p + off;
		desc = name + name_pad;
		off += name_pad + desc_pad;
		if (namesz != 4 || memcmp(name, "Xen", 4) != 0 || type != XEN_ELFNOTE_PHYS32_ENTRY)
			continue;
		uint64_t v;
		if (descsz == 4)
			v = boot_le32(desc);
		else if (descsz == 8)
			v = boot_le64(desc);
		else
			return boot_fail(
			    c, -ENOEXEC,
			    "kernel: PVH entry note has a %u-byte value (expected 4 or 8)", descsz);
		if (v > UINT32_MAX)
			return boot_fail(c, -ENOEXEC,
					 "kernel: PVH entry point 0x%llx is above 4 GiB",
					 (unsigned long long)v);
		*entry = (uint32_t)v;
		return 1;
	}
	return 0;
}

int boot_elf_find_pvh(struct boot_ctx *c, const struct boot_elf *elf, uint32_t *entry)
{
	struct boot_phdr ph;
	uint64_t end;

	for (unsigned i = 0; i < elf->phnum; i++) {
		boot_elf_phdr(c, elf, i, &ph);
		if (ph.type != BOOT_PT_NOTE)
			continue;
		if (__builtin_add_overflow(ph.offset, ph.filesz, &end) || end > c->in->kernel_len)
			return boot_fail(
			    c, -ENOEXEC,
			    "kernel: ELF note segment %u lies past the end of the file", i);
		int ret = boot_elf_scan_notes(c, c->in->kernel + ph.offset, ph.filesz, entry);
		if (ret)
			return ret;
	}
	return 0;
}
