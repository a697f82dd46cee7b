/* PVH entry: an ELF note (name "Xen", type XEN_ELFNOTE_PHYS32_ENTRY = 18) holds the physical
 * address of pvh_start32, which the loader enters in 32-bit protected mode, paging off, with
 * EBX = struct hvm_start_info (magic 0x336ec578). The descriptor is 8 bytes like Linux's (a
 * reader taking 4 bytes gets the same value). PVH images carry no multiboot header. */
#include "asm.h"

	.section .note.Xen, "a"
	.balign 4
	.long 4				/* namesz */
	.long 8				/* descsz */
	.long 18			/* XEN_ELFNOTE_PHYS32_ENTRY */
	.asciz "Xen"
	.balign 4
	.quad pvh_start32
	.balign 4

	.section .text.boot32, "ax"
	.code32
	.globl pvh_start32
pvh_start32:
	mov $BOOT_PVH, %edi
	mov %ebx, %esi
	cmpl $PVH_START_MAGIC, (%ebx)
	je 1f
	mov $BOOT_BAD_MAGIC, %edi
	mov (%ebx), %esi
1:	jmp lm_enter32

	.section .note.GNU-stack, "", @progbits
