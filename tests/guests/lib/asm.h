/* Constants shared by the assembly entry code (keep in sync with guest.h). */
#ifndef GUEST_ASM_H
#define GUEST_ASM_H

#define SEL_CODE64 0x08
#define SEL_DATA 0x10
#define SEL_CODE32 0x18

#define BOOT_BAD_MAGIC 0
#define BOOT_MULTIBOOT 1
#define BOOT_PVH 2
#define BOOT_BZIMAGE32 3
#define BOOT_BZIMAGE64 4

#define BOOT_STACK_SIZE 0x8000
#define AP_STACK_SHIFT 14 /* 16 KiB per AP */
#define MAX_CPUS 16
#define TRAMPOLINE_ADDR 0x8000

#define MULTIBOOT_MAGIC 0x1badb002
#define MULTIBOOT_BOOTLOADER_MAGIC 0x2badb002
#define PVH_START_MAGIC 0x336ec578

#endif
