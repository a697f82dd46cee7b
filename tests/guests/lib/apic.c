/* LAPIC, IOAPIC, PIT channel 0 and 8259 PIC helpers. */
#include "guest.h"

#define MSR_APIC_BASE 0x1b

void delay_us(uint64_t us)
{
	uint64_t end = rdtsc() + us * (TSC_MAX_HZ / 1000000);
	while ((int64_t)(rdtsc() - end) < 0)
		cpu_relax();
}

/* ---- LAPIC --------------------------------------------------------------------------------- */

void lapic_init(void)
{
	uint64_t base = rdmsr(MSR_APIC_BASE);
	if (!(base & (1u << 11)) || (base & ~0xfffull) != LAPIC_BASE)
		wrmsr(MSR_APIC_BASE, LAPIC_BASE | (base & 0x100) | (1u << 11));
	lapic_write(LAPIC_SVR, 0x100 | VEC_SPURIOUS);
	lapic_write(LAPIC_TPR, 0);
	lapic_write(LAPIC_LVT_ERROR, LVT_MASKED | 0xfe);
}

int lapic_send_ipi(uint8_t dest, uint32_t icr_lo)
{
	lapic_write(LAPIC_ICR_HI, (uint32_t)dest << 24);
	lapic_write(LAPIC_ICR_LO, icr_lo);
	for (int i = 0; i < 1000000; i++) {
		if (!(lapic_read(LAPIC_ICR_LO) & ICR_BUSY))
			return 0;
		cpu_relax();
	}
	return -1;
}

static uint32_t divide_bits(unsigned divide)
{
	switch (divide) {
	case 1: return 0xb;
	case 2: return 0x0;
	case 4: return 0x1;
	case 8: return 0x2;
	case 16: return 0x3;
	case 32: return 0x8;
	case 64: return 0x9;
	default: return 0xa; /* 128 */
	}
}

void lapic_timer_start(uint8_t vector, uint32_t count, unsigned divide, bool periodic)
{
	lapic_write(LAPIC_TIMER_DIV, divide_bits(divide));
	lapic_write(LAPIC_LVT_TIMER, vector | (periodic ? LVT_TIMER_PERIODIC : 0));
	lapic_write(LAPIC_TIMER_INIT, count);
}

void lapic_timer_stop(void)
{
	lapic_write(LAPIC_LVT_TIMER, LVT_MASKED);
	lapic_write(LAPIC_TIMER_INIT, 0);
}

/* ---- IOAPIC -------------------------------------------------------------------------------- */

uint32_t ioapic_read(uint32_t reg)
{
	mmio_write32(IOAPIC_BASE, reg);
	return mmio_read32(IOAPIC_BASE + 0x10);
}

void ioapic_write(uint32_t reg, uint32_t v)
{
	mmio_write32(IOAPIC_BASE, reg);
	mmio_write32(IOAPIC_BASE + 0x10, v);
}

void ioapic_route(unsigned pin, uint8_t vector, uint8_t dest, uint32_t flags)
{
	ioapic_write(IOAPIC_REDIR(pin), IOAPIC_RTE_MASKED);
	ioapic_write(IOAPIC_REDIR(pin) + 1, (uint32_t)dest << 24);
	ioapic_write(IOAPIC_REDIR(pin), vector | flags); /* fixed, physical, unmasked */
}

void ioapic_mask(unsigned pin)
{
	ioapic_write(IOAPIC_REDIR(pin), ioapic_read(IOAPIC_REDIR(pin)) | IOAPIC_RTE_MASKED);
}

/* ---- PIT and PIC --------------------------------------------------------------------------- */

void pit_start_periodic(unsigned hz)
{
	uint32_t div = PIT_HZ / hz;
	if (div > 0xffff)
		div = 0; /* 0 means 65536 */
	outb(0x43, 0x34); /* channel 0, lobyte/hibyte, mode 2, binary */
	outb(0x40, (uint8_t)div);
	outb(0x40, (uint8_t)(div >> 8));
}

void pit_stop(void)
{
	outb(0x43, 0x30); /* channel 0, lobyte/hibyte, mode 0: one terminal count, then silent */
	outb(0x40, 0xff);
	outb(0x40, 0xff);
}

void pic_disable(void)
{
	outb(0x20, 0x11); /* ICW1: init, ICW4 needed */
	outb(0xa0, 0x11);
	outb(0x21, VEC_PIC_BASE);     /* ICW2: vector base */
	outb(0xa1, VEC_PIC_BASE + 8);
	outb(0x21, 0x04); /* ICW3: slave on IRQ2 */
	outb(0xa1, 0x02);
	outb(0x21, 0x01); /* ICW4: 8086 mode */
	outb(0xa1, 0x01);
	outb(0x21, 0xff); /* mask everything */
	outb(0xa1, 0xff);
}
