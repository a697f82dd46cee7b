/* MC146818 real-time clock and 128 bytes of CMOS NVRAM at PORT_RTC (0x70 index, 0x71 data).
 *
 * Port 0x70 (write): bits 0-6 select the register, bit 7 masks NMI (recorded, see
 * cmos_rtc_nmi_masked). Port 0x70 reads 0xff. Port 0x71 reads and writes the selected register.
 * A 16-bit write to 0x70 is an index write followed by a data write of the high byte.
 *
 * The time registers (0x00 seconds, 0x02 minutes, 0x04 hours, 0x06 day of week, 0x07 day of
 * month, 0x08 month, 0x09 year, 0x32 century) are computed at each read from the clock's wall
 * time (UTC) plus a guest offset, in the format register B selects (BCD or binary, 12-hour with
 * bit 7 = PM, or 24-hour). Setting register B's SET bit freezes them: reads return the frozen
 * image and guest writes change it; clearing SET turns the image into a new offset from host time.
 * A write while SET is clear changes the time at once (as QEMU does). The offset persists across
 * reset and is part of the saved state.
 *
 * Register A: UIP (bit 7) is emulated as set during the last 244 us of each second of the
 * monotonic clock while the clock runs (SET clear, divider bits 010); the divider and rate bits
 * are stored. Register B is stored (writing SET clears UIE, per the datasheet). Register C reads
 * and clears the flags: UF when an update cycle (each monotonic second boundary) has completed
 * since the previous read, PF when a period of the rate in register A has elapsed, IRQF when one
 * of those is also enabled in register B. Register D reads 0x80 (valid RAM and time).
 *
 * Left out: the RTC interrupt (IRQ 8) is never raised, and the alarm flag AF never sets; guests
 * that poll register C see UF/PF as described. Divider settings other than 010 do not stop time.
 *
 * Lock: each RTC has a mutex protecting the NVRAM, index, NMI mask, offset and the reg C
 * reference time. No callback is made with it held except the clock's (which must not block). */
#ifndef VMON_HW_CMOS_RTC_H
#define VMON_HW_CMOS_RTC_H

#include <stdint.h>

#include "core/bus.h"
#include "core/devif.h"

#define CMOS_RTC_LEN 2
#define CMOS_RTC_SIZE 128

struct cmos_rtc;

/* What the firmware-visible memory and CPU bytes report (SeaBIOS conventions). */
struct cmos_rtc_mem {
	uint64_t ram_below_4g; /* bytes of RAM from 0 up to the 32-bit hole */
	uint64_t ram_above_4g; /* bytes of RAM from 4 GiB */
	unsigned ncpus;	       /* 1..256 */
};

/* Saved state. ram[] holds every stored register: NVRAM, alarms, registers A (without UIP) and B,
 * and the frozen time image while register B's SET bit is set (the time slots are zero
 * otherwise); ram[0x0c] is 0 and ram[0x0d] is 0x80. */
struct cmos_rtc_state {
	uint8_t ram[CMOS_RTC_SIZE];
	uint8_t index;	    /* 0..127 */
	uint8_t nmi_masked; /* 0 or 1 */
	uint8_t reserved[6];
	int64_t offset_s; /* guest time minus host wall time, seconds */
};

/* Bus handlers for ports 0x70-0x71; register with len CMOS_RTC_LEN and the rtc as dev. */
extern const struct bus_ops cmos_rtc_ops;

/* Create an RTC reading time from clk (copied) with the memory-size bytes (0x15-0x18, 0x30-0x31,
 * 0x34-0x35, 0x5b-0x5d), the equipment byte (0x14: FPU, PS/2 mouse) and the CPU count byte
 * (0x5f = ncpus - 1) set from *mem. Guest time starts equal to host wall time. Returns 0 and sets
 * *out, -EINVAL for ncpus outside 1..256 or ram_below_4g above 4 GiB, -ENOMEM. */
int cmos_rtc_create(struct clock_src clk, const struct cmos_rtc_mem *mem, struct cmos_rtc **out)
    __attribute__((warn_unused_result));

/* Free the RTC (it must no longer be registered on a bus). */
void cmos_rtc_destroy(struct cmos_rtc *rtc);

/* Machine reset: clears PIE, AIE, UIE and SQWE in register B and the register C flags. The NVRAM
 * and the guest time offset are battery-backed and survive. */
void cmos_rtc_reset(struct cmos_rtc *rtc);

/* 1 when the guest last wrote port 0x70 with bit 7 set (NMI masked), else 0. */
int cmos_rtc_nmi_masked(struct cmos_rtc *rtc);

/* Copy the state into *st. */
void cmos_rtc_save(struct cmos_rtc *rtc, struct cmos_rtc_state *st);

/* Replace the state with *st after checking every field: index and NMI flag in range, register A
 * without UIP, register C zero, register D 0x80, UIE clear while SET is set, time slots zero while
 * SET is clear, reserved bytes zero, |offset_s| below 2^40. Returns 0 or -EINVAL (unchanged). */
int cmos_rtc_load(struct cmos_rtc *rtc, const struct cmos_rtc_state *st)
    __attribute__((warn_unused_result));

#endif
