/* Userspace I/O APIC for the emu CPU backend (Intel 82093AA datasheet; on kvm, KVM's in-kernel
 * IOAPIC is used instead). 24 input pins, each with a 64-bit redirection entry.
 *
 * Register window (IOAPIC_MMIO_LEN bytes at IOAPIC_BASE_DEFAULT): IOREGSEL at 0x00 (8 bits used),
 * IOWIN at 0x10 (the register IOREGSEL selects), EOI at 0x40 (a write of a vector acts as
 * ioapic_eoi). Accesses at other offsets read 0 and are ignored on write. Indirect registers:
 * 0x00 ID (bits 27:24 writable), 0x01 version 0x00170011 (read-only: 24 entries, version 0x11, as
 * KVM reports), 0x02 arbitration (reads the ID in bits 27:24), 0x10 + 2n / 0x11 + 2n the low and
 * high halves of entry n. Unimplemented registers read all ones (as KVM). Delivery Status (bit 12)
 * always reads 0 (a message is delivered synchronously) and Remote IRR (bit 14) is read-only; every
 * other bit of an entry is stored as written. The EOI register is modelled although version 0x11
 * parts do not have it; guests only use it when the version is 0x20 or more, so it is harmless.
 *
 * Inputs (ioapic_set_irq) are line levels (1 = asserted), kept in `irr`; the polarity bit 13 is
 * stored but not applied, as in KVM and QEMU. KVM's semantics:
 * - edge entries deliver on a 0->1 transition of the line while unmasked; a rising edge while
 *   masked is lost (82093AA: edge interrupts are not latched while masked);
 * - level entries deliver while the line is high, the entry unmasked and Remote IRR clear, and set
 *   Remote IRR; an EOI for the entry's vector clears Remote IRR and redelivers if the line is
 *   still high. A level line that is high while masked delivers when unmasked (KVM's behaviour);
 * - writing the low half of an entry with edge trigger clears Remote IRR (Linux relies on it);
 * - NMI, SMI, INIT and ExtINT entries are always treated as edge-triggered (82093AA) and are
 *   delivered with trigger_level 0.
 * The destination passed to deliver is bits 63:56 only; the extended destination ID (bits 55:49,
 * used only when KVM_FEATURE_MSI_EXT_DEST_ID is advertised) is not decoded.
 *
 * Locking: `lock` protects every field after it except ops and ctx, which are constant after
 * ioapic_init. It is a leaf lock: messages are collected under it and ops->deliver is called after
 * it is released, so deliver may call back into this IOAPIC (e.g. a LAPIC EOI broadcast) or into
 * other devices. */
#ifndef VMON_HW_IRQ_IOAPIC_H
#define VMON_HW_IRQ_IOAPIC_H

#include <pthread.h>
#include <stdint.h>

#include "core/bus.h"

#define IOAPIC_BASE_DEFAULT 0xfec00000ull
#define IOAPIC_MMIO_LEN 0x1000
#define IOAPIC_PINS 24

/* Register window offsets. */
#define IOAPIC_IOREGSEL 0x00
#define IOAPIC_IOWIN 0x10
#define IOAPIC_EOI 0x40

/* Redirection entry fields. */
#define IOAPIC_RTE_VECTOR 0xffull
#define IOAPIC_RTE_DELMODE_SHIFT 8
#define IOAPIC_RTE_DEST_LOGICAL (1ull << 11)
#define IOAPIC_RTE_DELIVS (1ull << 12)
#define IOAPIC_RTE_POLARITY_LOW (1ull << 13)
#define IOAPIC_RTE_REMOTE_IRR (1ull << 14)
#define IOAPIC_RTE_LEVEL (1ull << 15)
#define IOAPIC_RTE_MASKED (1ull << 16)
#define IOAPIC_RTE_DEST_SHIFT 56

struct ioapic_ops {
	/* Deliver an interrupt message from a redirection entry: dest = bits 63:56 (8-bit APIC
	 * ID or logical destination), logical = destination mode bit 11, delivery_mode = bits
	 * 10:8, vector = bits 7:0, trigger_level = bit 15 (0 for NMI/SMI/INIT/ExtINT). Called
	 * without the ioapic lock held, possibly from several threads at once. */
	void (*deliver)(void *ctx, uint32_t dest, int logical, unsigned delivery_mode,
			uint8_t vector, int trigger_level);
};

struct ioapic {
	pthread_mutex_t lock;
	const struct ioapic_ops *ops; /* constant */
	void *ctx;		      /* constant */
	uint8_t reset_id;	      /* the ID given to ioapic_init, restored by ioapic_reset */
	uint32_t ioregsel;	      /* 0..0xff */
	uint32_t id;		      /* 0..15 */
	uint32_t irr;		      /* bit n: input line n is high */
	uint64_t redirtbl[IOAPIC_PINS];
};

/* Saved state, with the field layout of KVM's struct kvm_ioapic_state. irr holds the input line
 * levels; base_address is always IOAPIC_BASE_DEFAULT; pad is 0. */
struct ioapic_state {
	uint64_t base_address;
	uint32_t ioregsel, id, irr, pad;
	uint64_t redirtbl[IOAPIC_PINS];
};

/* Initialise *io in its reset state with APIC ID id (0..15; higher bits are dropped) and the
 * delivery callbacks ops (may be NULL: messages are dropped) with ctx. Returns 0 or -errno from
 * pthread_mutex_init. */
int ioapic_init(struct ioapic *io, uint8_t id, const struct ioapic_ops *ops, void *ctx)
    __attribute__((warn_unused_result));

/* Release the resources of an initialised IOAPIC; it must no longer be on a bus. */
void ioapic_destroy(struct ioapic *io);

/* Machine reset: every entry masked (0x10000: edge, fixed, vector 0), IOREGSEL 0, ID back to the
 * one given to ioapic_init. The input line levels are kept (they belong to the devices). */
void ioapic_reset(struct ioapic *io);

/* Bus handlers for the register window; register with len IOAPIC_MMIO_LEN and dev = the ioapic. */
extern const struct bus_ops ioapic_mmio_ops;

/* Drive input pin (0..IOAPIC_PINS-1; others are ignored) to level (0 or non-zero), delivering as
 * described above. Thread-safe; may call ops->deliver before returning. */
void ioapic_set_irq(struct ioapic *io, unsigned pin, int level);

/* End of interrupt for vector (a LAPIC EOI broadcast, or the EOI register): clears Remote IRR of
 * every entry with that vector and Remote IRR set, redelivering each whose line is still high and
 * that is unmasked. Thread-safe; may call ops->deliver before returning. */
void ioapic_eoi(struct ioapic *io, uint8_t vector);

/* Copy the state into *s (pad and unused bits zeroed). */
void ioapic_save(struct ioapic *io, struct ioapic_state *s);

/* Replace the state with *s after checking it: base_address IOAPIC_BASE_DEFAULT, ioregsel below
 * 0x100, id below 16, irr within the 24 pins, pad 0, no entry with Delivery Status set, no edge
 * (or NMI/SMI/INIT/ExtINT) entry with Remote IRR set. Returns 0, or -EINVAL leaving the IOAPIC
 * unchanged. Level entries whose line is high, unmasked and with Remote IRR clear are delivered
 * after the load. */
int ioapic_load(struct ioapic *io, const struct ioapic_state *s)
    __attribute__((warn_unused_result));

#endif
