/* The smallest multiboot guest: writes "vmon-bench\n" to COM1 and exits through the debug-exit
 * port with 0 (status 1). Used by `make bench` to time VMM start-up rather than guest code.
 * Built as a 32-bit ELF, so QEMU's multiboot loader takes it unchanged. */
	.code32
	.section .text
	.align 4
mb_header:
	.long 0x1BADB002
	.long 0x00000003
	.long -(0x1BADB002 + 0x00000003)

	.globl _start
_start:
	mov $msg, %esi
	mov $0x3f8, %dx
1:	lodsb
	test %al, %al
	jz 2f
	outb %al, %dx
	jmp 1b
2:	mov $0xf4, %dx
	xor %eax, %eax
	outl %eax, %dx
3:	hlt
	jmp 3b

	.section .rodata
msg:	.asciz "vmon-bench\n"
