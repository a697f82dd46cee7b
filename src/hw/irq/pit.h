/* Userspace 8254 PIT (ports 0x40-0x43) and the port 0x61 speaker/gate register, for the emu CPU
 * backend. Counts and OUT levels are computed from the time elapsed since the count was loaded
 * (QEMU's hw/timer/i8254_common.c is the reference). Channel 0 raises IRQ0 through out0 as a
 * pulse; the caller polls pit_deadline and calls pit_tick. Channel 0's gate is always 1; channel
 * 2's gate is port 0x61 bit 0. As in QEMU, a low gate does not suspend counting in modes 0 and 4;
 * a rising gate restarts counting in modes 1, 2, 3 and 5.
 *
 * Locking: `lock` protects the channels, the speaker bits and the deadline; out0 and clk are
 * constant. out0 is set after the lock is dropped. */
#ifndef VMON_HW_IRQ_PIT_H
#define VMON_HW_IRQ_PIT_H

#include <pthread.h>
#include <stdint.h>

#include "core/bus.h"
#include "core/devif.h"

#define PIT_FREQ 1193182ull

struct pit_channel_state {
	uint32_t count; /* 1..0x10000 */
	uint16_t latched_count;
	uint8_t count_latched, status_latched, status, read_state, write_state, write_latch,
	    rw_mode, mode, bcd, gate;
	int64_t count_load_time;
};

struct pit_state {
	struct pit_channel_state ch[3];
	uint32_t flags;
	uint8_t speaker;
};

struct pit {
	pthread_mutex_t lock;
	struct irq_line out0;
	struct clock_src clk;
	struct pit_channel_state ch[3]; /* count_load_time in absolute mono_ns */
	uint8_t speaker;		/* port 0x61 bit 1 (speaker data) */
	uint64_t deadline;		/* channel 0's next IRQ0, UINT64_MAX if none */
};

int pit_init(struct pit *pit, struct irq_line out0, const struct clock_src *clk);
void pit_destroy(struct pit *pit);
void pit_reset(struct pit *pit);

extern const struct bus_ops pit_ops;	     /* ports 0x40-0x43 (off 0-3), dev = struct pit* */
extern const struct bus_ops pit_speaker_ops; /* port 0x61 */

uint64_t pit_deadline(struct pit *pit);
void pit_tick(struct pit *pit, uint64_t now_ns);

/* count_load_time is saved relative to now. pit_load returns 0 or -EINVAL. */
void pit_save(struct pit *pit, struct pit_state *s);
int pit_load(struct pit *pit, const struct pit_state *s);

#endif
