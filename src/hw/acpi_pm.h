/* ACPI PM register block (fixed hardware of a non-HW-reduced platform), at PORT_ACPI_PM:
 *
 *   +0  PM1a_EVT status  16-bit, write-1-to-clear: TMR_STS (bit 0), PWRBTN_STS (bit 8)
 *   +2  PM1a_EVT enable  16-bit: TMR_EN (bit 0), PWRBTN_EN (bit 8); other bits read as 0
 *   +4  PM1a_CNT         16-bit: SCI_EN (bit 0) always reads 1; SLP_TYP (bits 10-12);
 *                        writing SLP_EN (bit 13, reads 0) with SLP_TYP 5 powers the VM off
 *   +8  PM_TMR           32-bit read-only counter at 3.579545 MHz (FADT TMR_VAL_EXT)
 *
 * The SCI is level-triggered: it is asserted while any status bit is set whose enable bit is set.
 * TMR_STS is set when bit 31 of the counter changes; it is noticed when the guest accesses the
 * block (no host timer fires for it). The FADT of arch/x86/acpi describes exactly this block.
 *
 * Locking: `lock` protects every field below it. It is taken by the bus handlers (vCPU threads)
 * and by acpi_pm_power_button (any thread). The SCI irq_line is driven with `lock` held, so the
 * interrupt controller's lock nests inside it; the exit sink is called after `lock` is dropped. */
#ifndef VMON_HW_ACPI_PM_H
#define VMON_HW_ACPI_PM_H

#include <pthread.h>
#include <stdint.h>

#include "core/bus.h"
#include "core/devif.h"

#define ACPI_PM_LEN 12
#define ACPI_PM_TMR_HZ 3579545ull

#define ACPI_PM1_STS_TMR (1u << 0)
#define ACPI_PM1_STS_PWRBTN (1u << 8)
#define ACPI_PM1_EN_TMR (1u << 0)
#define ACPI_PM1_EN_GBL (1u << 5)
#define ACPI_PM1_EN_PWRBTN (1u << 8)
#define ACPI_PM1_EN_RTC (1u << 10)
#define ACPI_PM1_CNT_SCI_EN (1u << 0)
#define ACPI_PM1_CNT_SLP_TYP_SHIFT 10
#define ACPI_PM1_CNT_SLP_TYP_MASK (7u << ACPI_PM1_CNT_SLP_TYP_SHIFT)
#define ACPI_PM1_CNT_SLP_EN (1u << 13)

/* SLP_TYP meaning soft-off (S5); matches the DSDT's \_S5 package. */
#define ACPI_PM_SLP_TYP_S5 5

struct acpi_pm {
	pthread_mutex_t lock;
	uint16_t sts;	      /* PM1a status */
	uint16_t en;	      /* PM1a enable */
	uint16_t cnt;	      /* PM1a control, stored bits only (SLP_TYP) */
	int sci_level;	      /* level last driven on `sci` */
	uint64_t tmr_base_ns; /* clock reading at which the counter was tmr_base_ticks */
	uint64_t tmr_base_ticks;
	uint64_t tmr_seen; /* counter >> 31 when TMR_STS was last evaluated */
	struct irq_line sci;
	struct exit_sink exit;
	struct clock_src clock;
};

/* Saved state, version ACPI_PM_STATE_VERSION. tmr_ticks is the 64-bit count the timer has
 * reached; the guest-visible counter is its low 32 bits. */
#define ACPI_PM_STATE_VERSION 1
struct acpi_pm_state {
	uint32_t version;
	uint16_t sts, en, cnt, reserved;
	uint64_t tmr_ticks;
};

/* Initialise pm in its reset state with the SCI line, exit sink and clock it will use (held by
 * value). The timer starts at 0 at the current clock reading. Returns 0 or -errno (mutex). */
int acpi_pm_init(struct acpi_pm *pm, struct irq_line sci, struct exit_sink exit,
		 struct clock_src clock) __attribute__((warn_unused_result));

/* Release what acpi_pm_init set up. The caller unregisters the bus range first (or destroys the
 * bus). */
void acpi_pm_destroy(struct acpi_pm *pm);

/* Register the block on the PIO bus at [PORT_ACPI_PM, PORT_ACPI_PM + ACPI_PM_LEN).
 * Returns 0 or the bus_register error. */
int acpi_pm_attach(struct acpi_pm *pm, struct bus *pio) __attribute__((warn_unused_result));

/* Machine reset: status, enable and control cleared, SCI lowered. The timer keeps counting. */
void acpi_pm_reset(struct acpi_pm *pm);

/* Press the power button: latch PWRBTN_STS and, if the guest enabled PWRBTN_EN, assert the SCI
 * so an ACPI OS shuts down gracefully. Returns 0 when the event was delivered, -EAGAIN when the
 * guest has not enabled it (the status stays latched and fires once it does). */
int acpi_pm_power_button(struct acpi_pm *pm);

/* Copy the registers and the timer count into *st. */
void acpi_pm_save(struct acpi_pm *pm, struct acpi_pm_state *st);

/* Restore from *st after validating it: -EINVAL for a wrong version, unknown status or enable
 * bits, control bits other than SLP_TYP/SCI_EN, or SLP_EN set; pm is unchanged then. The timer
 * continues from the saved count; the SCI is driven to match the restored registers. */
int acpi_pm_load(struct acpi_pm *pm, const struct acpi_pm_state *st)
    __attribute__((warn_unused_result));

#endif
