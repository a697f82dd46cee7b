/* x86 boot loaders: put a kernel (and optionally an initrd) into guest memory the way a boot
 * loader would, and describe the vCPU state the guest starts in.
 *
 * Three formats, detected in QEMU's order:
 *   1. Linux bzImage (boot protocol >= 2.12 with a 64-bit entry point), entered in long mode;
 *   2. multiboot v1 (ELF32, or any file with the a.out kludge address fields), flat 32-bit;
 *   3. ELF32/ELF64 with a Xen PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY), flat 32-bit.
 *
 * Guest memory the loaders use (layout.h): boot GDT at LAYOUT_BOOT_GDT, multiboot info or PVH
 * start_info and their tables in [LAYOUT_BOOT_INFO, LAYOUT_BOOT_INFO_END), Linux zero page at
 * LAYOUT_ZERO_PAGE, identity page tables at LAYOUT_PML4/PDPT/PD, command line at LAYOUT_CMDLINE.
 * Kernel images must load at or above 1 MiB (LAYOUT_KERNEL): everything below is the loader's.
 * Every size and offset read from an image is treated as hostile. */
#ifndef VMON_ARCH_X86_BOOT_H
#define VMON_ARCH_X86_BOOT_H

#include <stddef.h>
#include <stdint.h>

#include "arch/x86/cpu_state.h"
#include "arch/x86/e820.h"
#include "core/gmem.h"

/* Boot GDT: 0 null, 1 null, 2 code (selector 0x10), 3 data (selector 0x18). */
#define BOOT_GDT_ENTRIES 4
#define BOOT_GDT_CODE32 0x00cf9a000000ffffull
#define BOOT_GDT_CODE64 0x00af9b000000ffffull
#define BOOT_GDT_DATA 0x00cf93000000ffffull

#define BOOT_MULTIBOOT_MAGIC 0x2BADB002u /* EAX at a multiboot entry */
#define BOOT_PVH_MAGIC 0x336ec578u	 /* hvm_start_info.magic */
#define BOOT_LOADER_NAME "vmon"

struct boot_input {
	const uint8_t *kernel;
	size_t kernel_len;
	const char *kernel_name; /* for messages and the multiboot command line; may be NULL */
	const uint8_t *initrd;	 /* NULL: no initrd (a non-NULL zero-length initrd is loaded) */
	size_t initrd_len;
	const char *initrd_name; /* multiboot/PVH module string; may be NULL */
	const char *cmdline;	 /* NULL is the empty command line */
	/* Appended (after a space) to the command line of bzImage and PVH kernels only, e.g. the
	 * machine's virtio_mmio.device= list; NULL or "" for none. Counts against the limit. */
	const char *linux_cmdline_extra;
	uint64_t rsdp_gpa; /* ACPI RSDP for the zero page / start_info, 0 when none */
};

enum boot_kind { BOOT_MULTIBOOT, BOOT_PVH, BOOT_BZIMAGE };

struct boot_result {
	enum boot_kind kind;
	struct x86_cpu_state bsp; /* entry state of the boot vCPU */
	uint64_t kernel_gpa;	  /* lowest guest address the kernel image occupies */
	uint64_t kernel_end;	  /* end (exclusive) of the kernel, bss and (bzImage) init_size */
	uint64_t initrd_gpa;	  /* 0 when no initrd */
	uint64_t initrd_size;
	uint64_t cmdline_gpa;
	uint32_t entry; /* guest-physical entry point */
};

/* Detect the format of in->kernel, load it (and in->initrd, in->cmdline) into gm, write the
 * boot-time structures, the boot GDT and, for bzImage, the identity page tables, and fill *out
 * (out->bsp is the complete entry state). e820 is the map the guest is given (e820_build).
 * On failure returns -EINVAL (bad arguments), -ENOEXEC (unknown or malformed image), -E2BIG
 * (command line or strings too long), -ENOMEM (image or initrd does not fit in guest RAM) and
 * writes one sentence into err (always NUL-terminated when errlen > 0), e.g.
 * "kernel: bzImage setup header truncated". Guest memory may be partly written then. */
int boot_load(struct gmem *gm, const struct e820_map *e820, const struct boot_input *in,
	      struct boot_result *out, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Read the whole file at path into a new malloc-ed buffer (*buf, *len; free() it). Accepts
 * regular files and pipes; fails with a sentence in err naming the path for a missing or
 * unreadable file (-errno of open/read), a directory (-EISDIR), a file over max bytes (-EFBIG),
 * an empty file (-EINVAL) or no memory (-ENOMEM). *buf is NULL on failure. */
int boot_read_file(const char *path, uint8_t **buf, size_t *len, size_t max, char *err,
		   size_t errlen) __attribute__((warn_unused_result));

/* A short name for kind ("multiboot", "pvh", "bzimage") for logs. */
const char *boot_kind_name(enum boot_kind kind);

#endif
