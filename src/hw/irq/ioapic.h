/* Userspace 82093AA-style IOAPIC for the emu CPU backend: 24 pins, indirect register access
 * through IOREGSEL/IOWIN, and an EOI register at 0x40. Edge pins deliver on a rising edge when
 * unmasked; level pins deliver while high with Remote IRR clear and then set Remote IRR, which
 * an EOI (register or ioapic_eoi) clears, redelivering if the pin is still high.
 *
 * Locking: `lock` protects every field below it except ops/ctx, which are constant. The deliver
 * callback is called after the lock is dropped. */
#ifndef VMON_HW_IRQ_IOAPIC_H
#define VMON_HW_IRQ_IOAPIC_H

#include <pthread.h>
#include <stdint.h>

#include "core/bus.h"

#define IOAPIC_MMIO_LEN 0x1000
#define IOAPIC_PINS 24
#define IOAPIC_DEFAULT_BASE 0xfec00000ull

struct ioapic_ops {
	void (*deliver)(void *ctx, uint32_t dest, int logical, unsigned delivery_mode,
			uint8_t vector, int trigger_level);
};

struct ioapic {
	pthread_mutex_t lock;
	const struct ioapic_ops *ops;
	void *ctx;
	uint8_t reset_id;
	uint64_t base_address;
	uint32_t ioregsel;
	uint32_t id;  /* 4-bit APIC ID */
	uint32_t irr; /* current input level of each pin */
	uint64_t redirtbl[IOAPIC_PINS];
};

int ioapic_init(struct ioapic *io, uint8_t id, const struct ioapic_ops *ops, void *ctx);
void ioapic_destroy(struct ioapic *io);
/* All entries masked (0x10000), IOREGSEL 0, ID back to the one given to ioapic_init. */
void ioapic_reset(struct ioapic *io);

/* dev = struct ioapic*; IOREGSEL 0x00, IOWIN 0x10, EOI 0x40. */
extern const struct bus_ops ioapic_mmio_ops;

void ioapic_set_irq(struct ioapic *io, unsigned pin, int level);
void ioapic_eoi(struct ioapic *io, uint8_t vector);

struct ioapic_state {
	uint64_t base_address;
	uint32_t ioregsel, id, irr, pad;
	uint64_t redirtbl[IOAPIC_PINS];
};

void ioapic_save(struct ioapic *io, struct ioapic_state *s);
/* Returns 0 or -EINVAL. Level pins that are high and deliverable are redelivered. */
int ioapic_load(struct ioapic *io, const struct ioapic_state *s);

#endif
