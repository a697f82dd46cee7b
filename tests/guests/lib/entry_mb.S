/* Multiboot v1 entry. The header must sit 4-byte aligned in the first 8 KiB of the image (the
 * linker script puts .multiboot first). Flags: page-align modules, provide memory info; no
 * a.out kludge, so loaders take the load layout and entry point from the ELF headers. The
 * loader enters mb_start32 in 32-bit protected mode, paging off, EAX = 0x2BADB002,
 * EBX = multiboot info. */
#include "asm.h"

#define MB_FLAGS 0x00000003

	.section .multiboot, "a"
	.balign 4
mb_header:
	.long MULTIBOOT_MAGIC
	.long MB_FLAGS
	.long -(MULTIBOOT_MAGIC + MB_FLAGS)

	.section .text.boot32, "ax"
	.code32
	.globl mb_start32
mb_start32:
	mov $BOOT_MULTIBOOT, %edi
	mov %ebx, %esi
	cmp $MULTIBOOT_BOOTLOADER_MAGIC, %eax
	je 1f
	mov $BOOT_BAD_MAGIC, %edi
	mov %eax, %esi
1:	jmp lm_enter32

	.section .note.GNU-stack, "", @progbits
