/* bzImage-format entry ("boot protocol 2.15, 64-bit capable").
 *
 * File layout (see bz.ld): the real-mode part (.setup: boot sector + setup header + a small
 * 16-bit setup stub, setup_sects+1 sectors) followed by the protected-mode part, which is linked
 * at 0x100000 and starts with .text.head:
 *   pm offset 0x000  startup_32: 32-bit entry at code32_start (ESI = boot_params)
 *   pm offset 0x200  startup_64: 64-bit entry (64-bit boot protocol: long mode, identity paging,
 *                    RSI = boot_params)
 * A loader implementing the 64-bit boot protocol (vmon) enters startup_64 directly. QEMU runs the
 * real-mode setup instead (its linuxboot option ROM jumps to setup offset 0x200 with
 * CS = seg+0x20, DS = ES = SS = seg): the stub builds a boot_params page (setup header copy +
 * BIOS E820 map), enters 32-bit protected mode with the boot protocol's GDT (__BOOT_CS 0x10,
 * __BOOT_DS 0x18) and jumps to code32_start.
 */
#include "asm.h"

#define BP_OFF 0x1000		/* boot_params, relative to the real-mode segment */
#define SETUP_STACK 0xf000

	.section .setup, "ax"
	.code16
	/* Boot sector: never executed, left zero except for the header fields. */
	.org 0x1f1
	.byte __bz_setup_sects		/* 0x1f1 setup_sects */
	.word 0				/* 0x1f2 root_flags */
	.long __bz_syssize		/* 0x1f4 syssize (16-byte units) */
	.word 0				/* 0x1f8 ram_size */
	.word 0xffff			/* 0x1fa vid_mode: normal */
	.word 0				/* 0x1fc root_dev */
	.word 0xaa55			/* 0x1fe boot_flag */
	.org 0x200
	.byte 0xeb, setup_code - 1f	/* 0x200 jump */
1:	.ascii "HdrS"			/* 0x202 header */
	.word 0x020f			/* 0x206 version 2.15 */
	.long 0				/* 0x208 realmode_swtch */
	.word 0				/* 0x20c start_sys_seg */
	.word kernel_version_str - 0x200 /* 0x20e kernel_version */
	.byte 0				/* 0x210 type_of_loader */
	.byte 0x01			/* 0x211 loadflags: LOADED_HIGH */
	.word 0				/* 0x212 setup_move_size */
	.org 0x214
	.long 0x100000			/* 0x214 code32_start */
	.long 0				/* 0x218 ramdisk_image */
	.long 0				/* 0x21c ramdisk_size */
	.long 0				/* 0x220 bootsect_kludge */
	.word 0				/* 0x224 heap_end_ptr */
	.byte 0				/* 0x226 ext_loader_ver */
	.byte 0				/* 0x227 ext_loader_type */
	.org 0x228
	.long 0				/* 0x228 cmd_line_ptr */
	.long 0x37ffffff		/* 0x22c initrd_addr_max */
	.long 0x100000			/* 0x230 kernel_alignment */
	.byte 0				/* 0x234 relocatable_kernel */
	.byte 20			/* 0x235 min_alignment (log2) */
	.word 0x0001			/* 0x236 xloadflags: XLF_KERNEL_64 */
	.long 4095			/* 0x238 cmdline_size */
	.long 0				/* 0x23c hardware_subarch */
	.quad 0				/* 0x240 hardware_subarch_data */
	.long 0				/* 0x248 payload_offset */
	.long 0				/* 0x24c payload_length */
	.quad 0				/* 0x250 setup_data */
	.org 0x258
	.quad 0x100000			/* 0x258 pref_address */
	.long __bz_init_size		/* 0x260 init_size */
	.long 0				/* 0x264 handover_offset */
	.long 0				/* 0x268 kernel_info_offset */
hdr_end:
	.org 0x26c

setup_code:
	cli
	cld
	mov %ds, %ax			/* DS = the real-mode segment; make CS match it */
	mov %ax, %es
	mov %ax, %ss
	mov $SETUP_STACK, %sp
	pushw %ds
	pushw $2f
	lretw
2:	/* boot_params: zero a page, copy the setup header into it */
	mov $BP_OFF, %di
	xor %ax, %ax
	mov $2048, %cx
	rep stosw
	mov $0x1f1, %si
	mov $(BP_OFF + 0x1f1), %di
	mov $(hdr_end - 0x1f1), %cx
	rep movsb
	/* E820 map through the BIOS into boot_params.e820_table (0x2d0), count at 0x1e8 */
	xor %ebx, %ebx
	xor %bp, %bp
	mov $(BP_OFF + 0x2d0), %di
3:	mov $0xe820, %eax
	mov $0x534d4150, %edx		/* "SMAP" */
	mov $20, %ecx
	int $0x15
	jc 4f
	cmp $0x534d4150, %eax
	jne 4f
	inc %bp
	add $20, %di
	test %ebx, %ebx
	jz 4f
	cmp $128, %bp
	jb 3b
4:	mov %bp, %ax
	mov %al, BP_OFF + 0x1e8
	/* ESI = linear boot_params; patch the GDT base; protected mode; jump to code32_start */
	xor %eax, %eax
	mov %ds, %ax
	shl $4, %eax
	lea BP_OFF(%eax), %esi
	add $gdt16, %eax
	mov %eax, gdt16_desc + 2
	lgdtl gdt16_desc
	mov %cr0, %eax
	or $1, %eax
	mov %eax, %cr0
	mov $0x18, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	ljmpl $0x10, $0x100000

	.balign 8
gdt16:
	.quad 0
	.quad 0
	.quad 0x00cf9b000000ffff	/* 0x10 __BOOT_CS */
	.quad 0x00cf93000000ffff	/* 0x18 __BOOT_DS */
gdt16_end:
gdt16_desc:
	.word gdt16_end - gdt16 - 1
	.long 0
kernel_version_str:
	.asciz "vmon test guest"

/* Protected-mode part, offset 0 = 0x100000. */
	.section .text.head, "ax"
	.code32
	.globl startup_32
startup_32:
	mov $BOOT_BZIMAGE32, %edi	/* ESI = boot_params */
	jmp lm_enter32

	.org 0x200
	.code64
	.globl startup_64
startup_64:
	cli
	cld
	lgdt boot_gdt_desc(%rip)
	lea __bss_start(%rip), %rdi	/* RSI = boot_params survives: rep stos uses RDI/RCX/RAX */
	lea __bss_end(%rip), %rcx
	sub %rdi, %rcx
	shr $3, %rcx
	xor %eax, %eax
	rep stosq
	mov $boot_pml4, %eax
	mov %rax, %cr3
	mov $boot_stack_top, %rsp
	pushq $SEL_CODE64
	lea 1f(%rip), %rax
	pushq %rax
	lretq
1:	mov $BOOT_BZIMAGE64, %edi
	jmp start64

	.section .note.GNU-stack, "", @progbits
