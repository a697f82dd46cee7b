/* Port and MMIO accessors, control registers, and the PC interrupt hardware (LAPIC, IOAPIC,
 * PIT, 8259 PIC) as the vmon machine and QEMU's pc machine lay them out. */
#ifndef GUEST_HW_H
#define GUEST_HW_H

#include <stdbool.h>
#include <stdint.h>

/* ---- port I/O ------------------------------------------------------------------------------ */

static inline void outb(uint16_t port, uint8_t v)
{
	asm volatile("outb %0, %1" : : "a"(v), "Nd"(port) : "memory");
}
static inline void outw(uint16_t port, uint16_t v)
{
	asm volatile("outw %0, %1" : : "a"(v), "Nd"(port) : "memory");
}
static inline void outl(uint16_t port, uint32_t v)
{
	asm volatile("outl %0, %1" : : "a"(v), "Nd"(port) : "memory");
}
static inline uint8_t inb(uint16_t port)
{
	uint8_t v;
	asm volatile("inb %1, %0" : "=a"(v) : "Nd"(port) : "memory");
	return v;
}
static inline uint16_t inw(uint16_t port)
{
	uint16_t v;
	asm volatile("inw %1, %0" : "=a"(v) : "Nd"(port) : "memory");
	return v;
}
static inline uint32_t inl(uint16_t port)
{
	uint32_t v;
	asm volatile("inl %1, %0" : "=a"(v) : "Nd"(port) : "memory");
	return v;
}

/* ---- MMIO (explicit widths: each is exactly one access of that size) ----------------------- */

static inline void mmio_write8(uint64_t a, uint8_t v)
{
	asm volatile("movb %1, %0" : "=m"(*(volatile uint8_t *)a) : "q"(v) : "memory");
}
static inline void mmio_write16(uint64_t a, uint16_t v)
{
	asm volatile("movw %1, %0" : "=m"(*(volatile uint16_t *)a) : "r"(v) : "memory");
}
static inline void mmio_write32(uint64_t a, uint32_t v)
{
	asm volatile("movl %1, %0" : "=m"(*(volatile uint32_t *)a) : "r"(v) : "memory");
}
static inline void mmio_write64(uint64_t a, uint64_t v)
{
	asm volatile("movq %1, %0" : "=m"(*(volatile uint64_t *)a) : "r"(v) : "memory");
}
static inline uint8_t mmio_read8(uint64_t a)
{
	uint8_t v;
	asm volatile("movb %1, %0" : "=q"(v) : "m"(*(volatile uint8_t *)a) : "memory");
	return v;
}
static inline uint16_t mmio_read16(uint64_t a)
{
	uint16_t v;
	asm volatile("movw %1, %0" : "=r"(v) : "m"(*(volatile uint16_t *)a) : "memory");
	return v;
}
static inline uint32_t mmio_read32(uint64_t a)
{
	uint32_t v;
	asm volatile("movl %1, %0" : "=r"(v) : "m"(*(volatile uint32_t *)a) : "memory");
	return v;
}
static inline uint64_t mmio_read64(uint64_t a)
{
	uint64_t v;
	asm volatile("movq %1, %0" : "=r"(v) : "m"(*(volatile uint64_t *)a) : "memory");
	return v;
}

/* ---- CPU ----------------------------------------------------------------------------------- */

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;
	asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}
static inline uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;
	asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return ((uint64_t)hi << 32) | lo;
}
static inline void wrmsr(uint32_t msr, uint64_t v)
{
	asm volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)) : "memory");
}
static inline void cpuid(uint32_t leaf, uint32_t sub, uint32_t *a, uint32_t *b, uint32_t *c,
			 uint32_t *d)
{
	asm volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(sub));
}
static inline uint64_t read_cr0(void)
{
	uint64_t v;
	asm volatile("mov %%cr0, %0" : "=r"(v));
	return v;
}
static inline void write_cr0(uint64_t v)
{
	asm volatile("mov %0, %%cr0" : : "r"(v) : "memory");
}
static inline uint64_t read_cr2(void)
{
	uint64_t v;
	asm volatile("mov %%cr2, %0" : "=r"(v));
	return v;
}
static inline uint64_t read_cr3(void)
{
	uint64_t v;
	asm volatile("mov %%cr3, %0" : "=r"(v));
	return v;
}
static inline void write_cr3(uint64_t v)
{
	asm volatile("mov %0, %%cr3" : : "r"(v) : "memory");
}
static inline void invlpg(uint64_t va)
{
	asm volatile("invlpg (%0)" : : "r"(va) : "memory");
}
static inline void irq_enable(void)
{
	asm volatile("sti" : : : "memory");
}
static inline void irq_disable(void)
{
	asm volatile("cli" : : : "memory");
}
static inline void cpu_relax(void)
{
	asm volatile("pause" : : : "memory");
}
/* sti; hlt as one pair: an interrupt pending at sti is taken in the hlt, never lost. */
static inline void safe_halt(void)
{
	asm volatile("sti; hlt" : : : "memory");
}
static inline void barrier(void)
{
	asm volatile("" : : : "memory");
}
/* LOCK XADD: atomically adds v to *p, returns the old value. */
static inline uint32_t atomic_xadd32(volatile uint32_t *p, uint32_t v)
{
	asm volatile("lock xaddl %0, %1" : "+r"(v), "+m"(*p) : : "memory");
	return v;
}
static inline uint32_t atomic_read32(volatile uint32_t *p)
{
	return *p;
}

/* ---- local APIC (xAPIC MMIO) --------------------------------------------------------------- */

#define LAPIC_BASE 0xfee00000ull
#define LAPIC_ID 0x20
#define LAPIC_VERSION 0x30
#define LAPIC_TPR 0x80
#define LAPIC_EOI 0xb0
#define LAPIC_SVR 0xf0
#define LAPIC_ESR 0x280
#define LAPIC_ICR_LO 0x300
#define LAPIC_ICR_HI 0x310
#define LAPIC_LVT_TIMER 0x320
#define LAPIC_LVT_LINT0 0x350
#define LAPIC_LVT_LINT1 0x360
#define LAPIC_LVT_ERROR 0x370
#define LAPIC_TIMER_INIT 0x380
#define LAPIC_TIMER_CUR 0x390
#define LAPIC_TIMER_DIV 0x3e0

#define LVT_MASKED (1u << 16)
#define LVT_TIMER_PERIODIC (1u << 17)

#define ICR_FIXED 0x000u
#define ICR_INIT 0x500u
#define ICR_STARTUP 0x600u
#define ICR_BUSY (1u << 12)
#define ICR_ASSERT (1u << 14)
#define ICR_LEVEL (1u << 15)

static inline uint32_t lapic_read(uint32_t reg)
{
	return mmio_read32(LAPIC_BASE + reg);
}
static inline void lapic_write(uint32_t reg, uint32_t v)
{
	mmio_write32(LAPIC_BASE + reg, v);
}
static inline uint8_t lapic_id(void)
{
	return lapic_read(LAPIC_ID) >> 24;
}
static inline void lapic_eoi(void)
{
	lapic_write(LAPIC_EOI, 0);
}
/* Enables the LAPIC (APIC_BASE MSR and SVR, spurious vector 0xff), TPR 0, LVT error masked. */
void lapic_init(void);
/* Writes ICR (destination in physical mode) and waits for the delivery-status bit to clear;
 * returns -1 if it stays busy. */
int lapic_send_ipi(uint8_t dest, uint32_t icr_lo);
/* divide: 1, 2, 4, ..., 128. */
void lapic_timer_start(uint8_t vector, uint32_t count, unsigned divide, bool periodic);
void lapic_timer_stop(void);

/* ---- IOAPIC -------------------------------------------------------------------------------- */

#define IOAPIC_BASE 0xfec00000ull
#define IOAPIC_REG_ID 0x00
#define IOAPIC_REG_VER 0x01
#define IOAPIC_REDIR(pin) (0x10 + 2 * (pin))
#define IOAPIC_RTE_MASKED (1u << 16)
#define IOAPIC_RTE_LEVEL (1u << 15)
#define IOAPIC_RTE_ACTIVE_LOW (1u << 13)

uint32_t ioapic_read(uint32_t reg);
void ioapic_write(uint32_t reg, uint32_t v);
/* Routes pin to vector, fixed delivery, physical destination dest; flags are RTE bits
 * (IOAPIC_RTE_LEVEL, IOAPIC_RTE_ACTIVE_LOW). Unmasks the pin. */
void ioapic_route(unsigned pin, uint8_t vector, uint8_t dest, uint32_t flags);
void ioapic_mask(unsigned pin);

/* ---- PIT and PIC --------------------------------------------------------------------------- */

#define PIT_HZ 1193182u
/* Channel 0, mode 2 (rate generator) at about hz interrupts per second. */
void pit_start_periodic(unsigned hz);
/* Channel 0, mode 0 with the maximum count: effectively stops periodic interrupts. */
void pit_stop(void);
/* Remap both 8259s to vectors 0x20-0x2f and mask every line. */
void pic_disable(void);

#endif
