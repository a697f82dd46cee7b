/* AP start-up: real-mode trampoline (copied to TRAMPOLINE_ADDR by smp.c, entered through a
 * STARTUP IPI with vector TRAMPOLINE_ADDR >> 12, so CS = 0x0800, IP = 0), 16-bit -> 32-bit
 * protected mode -> long mode on the BSP's page tables, then ap_start64 in the image, which
 * takes a per-CPU stack and calls ap_entry(index). */
#include "asm.h"

	.section .rodata.trampoline, "a"
	.code16
	.globl trampoline_start, trampoline_end, trampoline_gdt_desc
trampoline_start:
	cli
	cld
	mov %cs, %ax
	mov %ax, %ds
	lgdtl trampoline_gdt_desc - trampoline_start
	mov %cr0, %eax
	or $1, %eax
	mov %eax, %cr0
	ljmpl $SEL_CODE32, $(TRAMPOLINE_ADDR + tr32 - trampoline_start)
	.code32
tr32:
	mov $SEL_DATA, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	mov %cr4, %eax
	or $0x20, %eax			/* PAE */
	mov %eax, %cr4
	mov $boot_pml4, %eax
	mov %eax, %cr3
	mov $0xc0000080, %ecx		/* EFER.LME */
	rdmsr
	or $0x100, %eax
	wrmsr
	mov %cr0, %eax
	or $0x80000000, %eax		/* PG */
	mov %eax, %cr0
	ljmp $SEL_CODE64, $ap_start64
	.balign 8
trampoline_gdt_desc:			/* patched by smp.c with boot_gdt_desc's limit and base */
	.word 0
	.long 0
trampoline_end:

	.data
	.balign 4
ap_next_index:
	.long 1

	.bss
	.balign 4096
ap_stacks:
	.skip MAX_CPUS << AP_STACK_SHIFT

	.text
	.code64
ap_start64:
	mov $SEL_DATA, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	mov %eax, %fs
	mov %eax, %gs
	mov $1, %eax
	lock xaddl %eax, ap_next_index(%rip)
	cmp $MAX_CPUS, %eax
	jae 2f
	mov %eax, %edi
	lea 1(%rax), %rcx
	shl $AP_STACK_SHIFT, %rcx
	lea ap_stacks(%rip), %rsp
	add %rcx, %rsp
	xor %ebp, %ebp
	call ap_entry
2:	cli
	hlt
	jmp 2b

	.section .note.GNU-stack, "", @progbits
