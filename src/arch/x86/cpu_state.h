/* The one representation of an x86 vCPU's architectural state. Snapshots, migration and both CPU
 * backends use it: kvm converts to and from its ioctls, emu runs on it directly. */
#ifndef VMON_ARCH_X86_CPU_STATE_H
#define VMON_ARCH_X86_CPU_STATE_H

#include <stdint.h>

/* General-purpose registers in x86 encoding order. */
enum x86_gpr {
	X86_RAX,
	X86_RCX,
	X86_RDX,
	X86_RBX,
	X86_RSP,
	X86_RBP,
	X86_RSI,
	X86_RDI,
	X86_R8,
	X86_R9,
	X86_R10,
	X86_R11,
	X86_R12,
	X86_R13,
	X86_R14,
	X86_R15
};
/* Segment registers in encoding order. */
enum x86_sreg { X86_ES, X86_CS, X86_SS, X86_DS, X86_FS, X86_GS };

/* A segment register's hidden part, unpacked as KVM's struct kvm_segment. */
struct x86_segment {
	uint64_t base;
	uint32_t limit; /* byte granular (already scaled by G) */
	uint16_t selector;
	uint8_t type; /* 4-bit descriptor type */
	uint8_t present, dpl, db, s, l, g, avl;
	uint8_t unusable;
};

struct x86_dtable {
	uint64_t base;
	uint16_t limit;
};

#define X86_MAX_SAVED_MSRS 48
struct x86_msr {
	uint32_t index;
	uint64_t value;
};

/* Bits of x86_cpu_state.flags. */
#define X86_STATE_INT_SHADOW 1u /* interrupt shadow after STI / MOV SS */
#define X86_STATE_NMI_MASKED 2u

struct x86_cpu_state {
	uint64_t gpr[16];
	uint64_t rip, rflags;
	struct x86_segment seg[6];
	struct x86_segment tr, ldt;
	struct x86_dtable gdt, idt;
	uint64_t cr0, cr2, cr3, cr4, cr8;
	uint64_t efer, apic_base, xcr0;
	uint64_t dr[8]; /* DR0-3, unused 4-5, DR6, DR7 */
	uint64_t tsc;
	uint32_t flags;
	uint32_t mp_state; /* KVM_MP_STATE_* numbering */
	/* Pending event: vector+1 of an interrupt injected but not yet delivered (0: none). */
	uint32_t pending_irq;
	uint32_t nr_msrs;
	struct x86_msr msrs[X86_MAX_SAVED_MSRS];
	/* Legacy FXSAVE image (x87, MMX, SSE); XSAVE extended state follows when xsave_size > 512.
	 */
	uint8_t fxsave[512] __attribute__((aligned(16)));
	uint32_t xsave_size;
	uint8_t xsave[4096] __attribute__((aligned(64)));
	/* The local APIC register page, in the layout of KVM's struct kvm_lapic_state. */
	uint8_t lapic[1024];
};

/* CR0/CR4/EFER/RFLAGS bits used by loaders and backends. */
#define X86_CR0_PE (1ull << 0)
#define X86_CR0_MP (1ull << 1)
#define X86_CR0_EM (1ull << 2)
#define X86_CR0_TS (1ull << 3)
#define X86_CR0_ET (1ull << 4)
#define X86_CR0_NE (1ull << 5)
#define X86_CR0_WP (1ull << 16)
#define X86_CR0_AM (1ull << 18)
#define X86_CR0_NW (1ull << 29)
#define X86_CR0_CD (1ull << 30)
#define X86_CR0_PG (1ull << 31)
#define X86_CR4_PSE (1ull << 4)
#define X86_CR4_PAE (1ull << 5)
#define X86_CR4_PGE (1ull << 7)
#define X86_CR4_OSFXSR (1ull << 9)
#define X86_CR4_OSXMMEXCPT (1ull << 10)
#define X86_EFER_SCE (1ull << 0)
#define X86_EFER_LME (1ull << 8)
#define X86_EFER_LMA (1ull << 10)
#define X86_EFER_NXE (1ull << 11)
#define X86_RFLAGS_FIXED (1ull << 1)
#define X86_RFLAGS_IF (1ull << 9)

/* Power-on reset state (real mode, CS:IP = F000:FFF0 at 0xFFFFFFF0) as the SDM specifies. */
void x86_state_reset(struct x86_cpu_state *s);

/* Flat 32-bit protected mode, paging off, CS=0x10 DS..SS=0x18 (4 GiB, base 0), IF=0, entry at eip.
 * This is the state multiboot and PVH specify. GDT contents are the loader's job; gdt_base/limit
 * name where it placed them. */
void x86_state_flat32(struct x86_cpu_state *s, uint32_t eip, uint64_t gdt_base, uint16_t gdt_limit);

/* 64-bit long mode: CS=0x10 (L=1), DS..SS=0x18, paging on with cr3, PAE, LME|LMA, entry at rip. */
void x86_state_long64(struct x86_cpu_state *s, uint64_t rip, uint64_t cr3, uint64_t gdt_base,
		      uint16_t gdt_limit);

/* Set or look up a saved MSR. set returns 0 or -ENOSPC. get returns 1 when found. */
int x86_state_set_msr(struct x86_cpu_state *s, uint32_t index, uint64_t value);
int x86_state_get_msr(const struct x86_cpu_state *s, uint32_t index, uint64_t *value);

#endif
