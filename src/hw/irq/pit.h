/* Userspace 8254 PIT (ports 0x40-0x43) and the PC's port 0x61 (speaker / channel 2 gate), for
 * the emu CPU backend (on kvm, KVM's in-kernel PIT is used). Nothing ticks: a channel's count and
 * OUT level are computed from the PIT clocks (PIT_FREQ_HZ) elapsed since its count was loaded,
 * as in QEMU's hw/timer/i8254_common.c, and channel 0's next rising OUT edge is offered to the
 * owner as a deadline (pit_deadline / pit_tick).
 *
 * Programming: the control word selects a channel, its access (lobyte, hibyte, lobyte then
 * hibyte), mode 0-5 (6 and 7 alias 2 and 3) and BCD; it resets the channel's latches and leaves
 * it waiting for a count ("null count": OUT low in mode 0, high otherwise; channel 0 raises no
 * IRQ). Access 00 is the counter latch command; channel 3 is the read-back command (latch count
 * and/or status of any channels; the status byte is OUT << 7 | null count << 6 | access << 4 |
 * mode << 1 | BCD, and is read before a latched count). A written count of 0 means 65536 (10000
 * in BCD); counts and reads follow the BCD bit. The count is loaded (and counting restarts) when
 * its last byte is written; in mode 0 the first byte of a two-byte count stops the count (OUT
 * low) until the second arrives. A latched count is frozen until fully read; unlatched two-byte
 * reads alternate low and high byte of the live count.
 *
 * Modes, with d = clocks since the count N was loaded (one clock earlier than the datasheet's
 * timing, as QEMU): 0 OUT high from d = N; 1 OUT low until d = N, counting from the load or a
 * rising gate (the datasheet waits for a gate trigger; QEMU starts at the load); 2 OUT low only
 * where the count is 1 (d mod N = N - 1), rising at each multiple of N; 3 OUT high for the first
 * (N + 1) / 2 clocks of each period of N, rising at each multiple of N, count decrements by 2;
 * 4 and 5 OUT low for the one clock at d = N, rising at N + 1. In modes 0, 1, 4 and 5 the count
 * wraps through 0xffff after terminal count. A new count restarts the period at once in every
 * mode (as QEMU; the datasheet defers it to the end of the period in modes 2 and 3).
 *
 * Gates: channels 0 and 1 are always enabled. Channel 2's gate is port 0x61 bit 0: low suspends
 * counting in modes 0, 2, 3 and 4 (and forces OUT high in 2 and 3); a rising gate resumes modes 0
 * and 4 and restarts modes 1, 2, 3 and 5.
 *
 * Port 0x61: bit 0 gate 2 and bits 1-3 (speaker data, parity and channel check enables) read
 * back as written; bit 4 is the refresh request, toggling every 15.085 us of the clock; bit 5 is
 * OUT2 (read-only); bits 6-7 read 0. No sound is produced.
 *
 * Channel 0's output raises IRQ 0: pit_tick sends a pulse (irq_line_set 1 then 0) at each rising
 * OUT edge: once in modes 0, 1, 4 and 5, every N clocks in modes 2 and 3. The deadline of a
 * periodic mode is the next edge after the time passed to pit_tick, so periods missed by a late
 * tick are dropped (one IRQ, phase kept locked to the load time) rather than replayed.
 *
 * Locking: `lock` protects the channels, port61 and deadline; out0 and clk are constant after
 * pit_init. It is a leaf lock; the clock is read with it held (mono_ns must not block or take
 * locks) and out0 is only set after it is released. */
#ifndef VMON_HW_IRQ_PIT_H
#define VMON_HW_IRQ_PIT_H

#include <pthread.h>
#include <stdint.h>

#include "core/bus.h"
#include "core/devif.h"

#define PIT_FREQ_HZ 1193182ull
#define PIT_PORT_BASE 0x40
#define PIT_PORT_LEN 4
#define PIT_SPEAKER_PORT 0x61
#define PIT_SPEAKER_LEN 1

/* pit_state.flags. HPET_LEGACY and SPEAKER_VALID have KVM's values (KVM_PIT_FLAGS_*); vmon adds
 * the null-count flag of each channel (control word written, count not yet loaded). */
#define PIT_FLAG_HPET_LEGACY 0x1u /* never set, rejected by pit_load (there is no HPET) */
#define PIT_FLAG_SPEAKER_VALID 0x2u
#define PIT_FLAG_NULL_COUNT(ch) (0x100u << (ch))

/* One channel, in struct kvm_pit_channel_state's fields (sizes as given; this is vmon's own
 * layout, not KVM's ABI). count is the period in clocks, 1..65536 (1..10000 with bcd);
 * latched_count the latched 16-bit register image; read_state/write_state/count_latched use
 * KVM's RW_STATE values (1 lobyte, 2 hibyte, 3 word first byte, 4 word second byte); rw_mode is
 * 1..3; count_load_time is the counting time elapsed since the load in ns (host independent). */
struct pit_channel_state {
	uint32_t count;
	uint16_t latched_count;
	uint8_t count_latched, status_latched, status, read_state, write_state, write_latch,
	    rw_mode, mode, bcd, gate;
	int64_t count_load_time;
};

/* Saved state. speaker is port 0x61 bits 0-3 (bit 0 equals ch[2].gate). */
struct pit_state {
	struct pit_channel_state ch[3];
	uint32_t flags;
	uint8_t speaker;
};

/* Live channel state: the saved fields plus absolute times. */
struct pit_channel {
	uint32_t count;
	uint16_t latched_count;
	uint8_t count_latched, status_latched, status, read_state, write_state, write_latch,
	    rw_mode, mode, bcd, gate;
	uint8_t null_count; /* control word written, waiting for the count */
	int64_t load_ns;    /* mono_ns of the load, moved forward by time spent suspended */
	int64_t hold_ns;    /* while suspended by a low gate: mono_ns the count stopped at */
};

struct pit {
	pthread_mutex_t lock;
	struct irq_line out0; /* constant */
	struct clock_src clk; /* constant */
	struct pit_channel ch[3];
	uint8_t port61;	   /* port 0x61 bits 1-3 as written */
	uint64_t deadline; /* channel 0's next rising OUT edge, UINT64_MAX if none */
};

/* Initialise *pit in its reset state: out0 (copied) is channel 0's output (ISA IRQ 0; the owner
 * routes it to PIC input 0 and IOAPIC pin 2), clk (copied) gives mono_ns. Returns 0 or -errno
 * from pthread_mutex_init. */
int pit_init(struct pit *pit, struct irq_line out0, const struct clock_src *clk)
    __attribute__((warn_unused_result));

/* Release the resources of an initialised PIT; it must no longer be on a bus. */
void pit_destroy(struct pit *pit);

/* Machine reset, as a BIOS leaves the PIT: every channel in mode 3, lobyte/hibyte access, count
 * 65536, loaded now (channel 0 raises IRQ 0 at 18.2 Hz); channel 2's gate low and port 0x61 0. */
void pit_reset(struct pit *pit);

/* Bus handlers: pit_ops for ports 0x40-0x43 (len PIT_PORT_LEN; wider accesses are split into
 * byte accesses of consecutive ports; reading 0x43 returns 0, as KVM and QEMU), pit_speaker_ops
 * for port 0x61 (len PIT_SPEAKER_LEN). dev = the pit for both. */
extern const struct bus_ops pit_ops;
extern const struct bus_ops pit_speaker_ops;

/* The absolute mono_ns at which channel 0's OUT next rises (an IRQ 0 pulse is due), or
 * UINT64_MAX when none is pending. Changes whenever the guest reprograms channel 0. */
uint64_t pit_deadline(struct pit *pit);

/* Timer callback: when now_ns has reached the deadline, send an IRQ 0 pulse (after releasing the
 * lock) and set the next deadline (the next edge after now_ns, or none). Does nothing otherwise;
 * may be called at any time with any now_ns. */
void pit_tick(struct pit *pit, uint64_t now_ns);

/* Copy the state into *s, with count_load_time as the counting time elapsed before now. flags
 * gets PIT_FLAG_SPEAKER_VALID and the channels' PIT_FLAG_NULL_COUNT bits. */
void pit_save(struct pit *pit, struct pit_state *s);

/* Replace the state with *s, re-basing count_load_time on the clock's now, after checking it:
 * mode 0..5, bcd and gate 0 or 1 (gate 1 for channels 0 and 1), count within 1..65536 (1..10000
 * with bcd), rw_mode 1..3 with read/write states and count_latched consistent with it,
 * status_latched 0 or 1, count_load_time within 0..2^62, only known flags (not HPET_LEGACY), and
 * with SPEAKER_VALID a speaker byte within bits 0-3 whose bit 0 equals channel 2's gate (without
 * it, port 0x61 bits 1-3 become 0). Returns 0, or -EINVAL leaving the PIT unchanged. */
int pit_load(struct pit *pit, const struct pit_state *s) __attribute__((warn_unused_result));

#endif
