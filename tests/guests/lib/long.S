/* Shared low-level code of every test guest, whatever its entry format:
 *   - the GDT (null, 64-bit code 0x08, data 0x10, 32-bit code 0x18),
 *   - static identity page tables for 0-4 GiB in 2 MiB pages (last GiB uncached: MMIO),
 *   - lm_enter32: 32-bit protected mode (paging off) -> long mode -> guest_start(),
 *   - start64: the common 64-bit tail (segments, stack, guest_start),
 *   - 256 interrupt stubs feeding intr_dispatch() with a struct intr_frame.
 */
#include "asm.h"

	.section .data.pagetables, "aw"
	.balign 4096
	.globl boot_pml4, boot_pdpt, boot_pd
boot_pml4:
	.quad boot_pdpt + 0x3
	.fill 511, 8, 0
boot_pdpt:
	.quad boot_pd + 0x0000 + 0x3
	.quad boot_pd + 0x1000 + 0x3
	.quad boot_pd + 0x2000 + 0x3
	.quad boot_pd + 0x3000 + 0x3
	.fill 508, 8, 0
boot_pd:
	.set pde, 0
	.rept 2048
	.if pde >= 1536
	.quad (pde << 21) | 0x83 | 0x18	/* 3-4 GiB: P|W|PS|PWT|PCD */
	.else
	.quad (pde << 21) | 0x83	/* P|W|PS */
	.endif
	.set pde, pde + 1
	.endr

	.section .data, "aw"
	.balign 16
	.globl boot_gdt, boot_gdt_desc
boot_gdt:
	.quad 0
	.quad 0x00af9b000000ffff	/* 0x08: 64-bit code, accessed */
	.quad 0x00cf93000000ffff	/* 0x10: flat data, accessed */
	.quad 0x00cf9b000000ffff	/* 0x18: flat 32-bit code, accessed */
boot_gdt_end:
	.balign 8
	.word 0, 0, 0
boot_gdt_desc:				/* limit at +0, base at +2 (a 32-bit lgdt reads 6 bytes) */
	.word boot_gdt_end - boot_gdt - 1
	.quad boot_gdt

	.section .bss
	.balign 4096
	.globl boot_stack_top
boot_stack:
	.skip BOOT_STACK_SIZE
boot_stack_top:

/* lm_enter32: EDI = boot protocol (enum boot_proto), ESI = boot info address or bad magic.
 * Entered in 32-bit protected mode with flat segments, paging off, any GDT, no stack. */
	.section .text.boot32, "ax"
	.code32
	.globl lm_enter32
lm_enter32:
	cli
	cld
	mov %edi, %ebp
	lgdt boot_gdt_desc
	ljmp $SEL_CODE32, $1f
1:	mov $SEL_DATA, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	mov %eax, %fs
	mov %eax, %gs
	/* zero .bss (stacks and other state live there; loaders need not clear it) */
	mov $__bss_start, %edi
	mov $__bss_end, %ecx
	sub %edi, %ecx
	shr $2, %ecx
	xor %eax, %eax
	rep stosl
	/* PAE, then CR3, then EFER.LME, then paging */
	mov %cr4, %eax
	or $0x20, %eax
	mov %eax, %cr4
	mov $boot_pml4, %eax
	mov %eax, %cr3
	mov $0xc0000080, %ecx
	rdmsr
	or $0x100, %eax
	wrmsr
	mov %cr0, %eax
	or $0x80000001, %eax
	mov %eax, %cr0
	mov %ebp, %edi
	ljmp $SEL_CODE64, $start64_from32

	.text
	.code64
start64_from32:
	mov %edi, %edi			/* upper halves are undefined after the mode switch */
	mov %esi, %esi
	/* fall through */

/* start64: EDI = boot protocol, RSI = boot info, long mode on the library's GDT and CR3. */
	.globl start64
start64:
	mov $SEL_DATA, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	mov %eax, %fs
	mov %eax, %gs
	mov $boot_stack_top, %rsp
	xor %ebp, %ebp
	call guest_start
1:	cli
	hlt
	jmp 1b

/* Interrupt stubs: vectors with a CPU error code (8, 10-14, 17, 21, 29, 30) push only the
 * vector; the others push a zero error code first. intr_stub_table holds their addresses. */
	.section .rodata.intr_stub_table, "a"
	.balign 8
	.globl intr_stub_table
intr_stub_table:
	.text
	.set vec, 0
	.rept 256
	.pushsection .rodata.intr_stub_table, "a"
	.quad 1f
	.popsection
	.balign 16
1:	.if (vec == 8) || ((vec >= 10) && (vec <= 14)) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
	.else
	pushq $0
	.endif
	pushq $vec
	jmp intr_common
	.set vec, vec + 1
	.endr

intr_common:
	cld
	push %rax
	push %rbx
	push %rcx
	push %rdx
	push %rsi
	push %rdi
	push %rbp
	push %r8
	push %r9
	push %r10
	push %r11
	push %r12
	push %r13
	push %r14
	push %r15
	mov %rsp, %rdi
	call intr_dispatch
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %r11
	pop %r10
	pop %r9
	pop %r8
	pop %rbp
	pop %rdi
	pop %rsi
	pop %rdx
	pop %rcx
	pop %rbx
	pop %rax
	add $16, %rsp			/* vector, error code */
	iretq

	.section .note.GNU-stack, "", @progbits
