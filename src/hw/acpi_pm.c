/* ACPI PM register block: PM1a event/control and the PM timer. See acpi_pm.h. */
#include "hw/acpi_pm.h"

#include <errno.h>
#include <string.h>

#include "arch/x86/layout.h"
#include "core/log.h"

#define PM_OFF_STS 0
#define PM_OFF_EN 2
#define PM_OFF_CNT 4
#define PM_OFF_TMR 8

#define PM1_STS_KNOWN (ACPI_PM1_STS_TMR | ACPI_PM1_STS_PWRBTN)
/* GBL_EN and RTC_EN are stored so the guest's OSPM sees them stick; vmon never raises the
 * matching events (no firmware shares the global lock, the RTC alarm is not wired to the SCI). */
#define PM1_EN_WRITABLE (ACPI_PM1_EN_TMR | ACPI_PM1_EN_GBL | ACPI_PM1_EN_PWRBTN | ACPI_PM1_EN_RTC)
#define PM1_CNT_STORED ACPI_PM1_CNT_SLP_TYP_MASK
#define NS_PER_S 1000000000ull

static uint64_t pm_now(struct acpi_pm *pm)
{
	return pm->clock.mono_ns ? pm->clock.mono_ns(pm->clock.ctx) : 0;
}

/* Ticks of the 3.579545 MHz timer in ns nanoseconds, without overflowing 64 bits. */
static uint64_t pm_ns_to_ticks(uint64_t ns)
{
	return ns / NS_PER_S * ACPI_PM_TMR_HZ + ns % NS_PER_S * ACPI_PM_TMR_HZ / NS_PER_S;
}

/* Called with lock held. */
static uint64_t pm_ticks(struct acpi_pm *pm)
{
	uint64_t now = pm_now(pm);
	uint64_t delta = now >= pm->tmr_base_ns ? now - pm->tmr_base_ns : 0;

	return pm->tmr_base_ticks + pm_ns_to_ticks(delta);
}

/* Latch TMR_STS when bit 31 of the counter has changed since the last look. Lock held. */
static uint64_t pm_poll_timer(struct acpi_pm *pm)
{
	uint64_t ticks = pm_ticks(pm);

	if ((ticks >> 31) != pm->tmr_seen) {
		pm->tmr_seen = ticks >> 31;
		pm->sts |= ACPI_PM1_STS_TMR;
	}
	return ticks;
}

/* Drive the SCI to match status & enable. Lock held. */
static void pm_update_sci(struct acpi_pm *pm)
{
	int level = (pm->sts & pm->en & PM1_STS_KNOWN) != 0;

	if (level != pm->sci_level) {
		pm->sci_level = level;
		irq_line_set(&pm->sci, level);
	}
}

static uint64_t pm_read(void *dev, uint64_t off, unsigned size)
{
	struct acpi_pm *pm = dev;
	uint8_t regs[ACPI_PM_LEN] = {0};
	uint64_t val = 0;
	uint32_t tmr;

	pthread_mutex_lock(&pm->lock);
	tmr = (uint32_t)pm_poll_timer(pm);
	pm_update_sci(pm);
	regs[PM_OFF_STS] = (uint8_t)pm->sts;
	regs[PM_OFF_STS + 1] = (uint8_t)(pm->sts >> 8);
	regs[PM_OFF_EN] = (uint8_t)pm->en;
	regs[PM_OFF_EN + 1] = (uint8_t)(pm->en >> 8);
	regs[PM_OFF_CNT] = (uint8_t)(pm->cnt | ACPI_PM1_CNT_SCI_EN);
	regs[PM_OFF_CNT + 1] = (uint8_t)(pm->cnt >> 8);
	pthread_mutex_unlock(&pm->lock);
	for (int i = 0; i < 4; i++)
		regs[PM_OFF_TMR + i] = (uint8_t)(tmr >> (8 * i));

	for (unsigned i = 0; i < size && off + i < ACPI_PM_LEN; i++)
		val |= (uint64_t)regs[off + i] << (8 * i);
	return val;
}

/* Byte i of a write at `off` lands in the 16-bit register at reg_off: accumulate value and mask. */
static void pm_collect(uint64_t off, unsigned i, uint8_t byte, unsigned reg_off, uint16_t *val,
		       uint16_t *mask)
{
	uint64_t at = off + i;

	if (at == reg_off || at == reg_off + 1u) {
		unsigned shift = 8 * (unsigned)(at - reg_off);

		*val |= (uint16_t)(byte << shift);
		*mask |= (uint16_t)(0xffu << shift);
	}
}

static void pm_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct acpi_pm *pm = dev;
	uint16_t sts_v = 0, sts_m = 0, en_v = 0, en_m = 0, cnt_v = 0, cnt_m = 0;
	int sleep = 0, poweroff = 0;
	unsigned slp_typ = 0;

	for (unsigned i = 0; i < size && off + i < ACPI_PM_LEN; i++) {
		uint8_t byte = (uint8_t)(val >> (8 * i));

		pm_collect(off, i, byte, PM_OFF_STS, &sts_v, &sts_m);
		pm_collect(off, i, byte, PM_OFF_EN, &en_v, &en_m);
		pm_collect(off, i, byte, PM_OFF_CNT, &cnt_v, &cnt_m);
	}

	pthread_mutex_lock(&pm->lock);
	pm_poll_timer(pm);
	pm->sts &= (uint16_t) ~(sts_v & sts_m);
	pm->en = (uint16_t)((pm->en & ~en_m) | (en_v & en_m & PM1_EN_WRITABLE));
	if (cnt_m) {
		uint16_t cnt = (uint16_t)((pm->cnt & ~cnt_m) | (cnt_v & cnt_m));

		sleep = (cnt & ACPI_PM1_CNT_SLP_EN) != 0;
		slp_typ = (cnt & ACPI_PM1_CNT_SLP_TYP_MASK) >> ACPI_PM1_CNT_SLP_TYP_SHIFT;
		pm->cnt = cnt & PM1_CNT_STORED;
	}
	pm_update_sci(pm);
	pthread_mutex_unlock(&pm->lock);

	if (sleep) {
		if (slp_typ == ACPI_PM_SLP_TYP_S5)
			poweroff = 1;
		else
			log_rl(LOG_WARN, "acpi-pm: sleep type %u not supported, ignored", slp_typ);
	}
	if (poweroff) {
		log_info("acpi-pm: guest requested soft-off (S5)");
		exit_sink_request(&pm->exit, VM_EXIT_POWEROFF, 0);
	}
}

static const struct bus_ops acpi_pm_ops = {
    .read = pm_read,
    .write = pm_write,
};

int acpi_pm_init(struct acpi_pm *pm, struct irq_line sci, struct exit_sink exit,
		 struct clock_src clock)
{
	int ret;

	memset(pm, 0, sizeof(*pm));
	ret = pthread_mutex_init(&pm->lock, NULL);
	if (ret)
		return -ret;
	pm->sci = sci;
	pm->exit = exit;
	pm->clock = clock;
	pm->tmr_base_ns = pm_now(pm);
	return 0;
}

void acpi_pm_destroy(struct acpi_pm *pm)
{
	pthread_mutex_destroy(&pm->lock);
}

int acpi_pm_attach(struct acpi_pm *pm, struct bus *pio)
{
	return bus_register(pio, PORT_ACPI_PM, ACPI_PM_LEN, &acpi_pm_ops, pm, "acpi-pm");
}

void acpi_pm_reset(struct acpi_pm *pm)
{
	pthread_mutex_lock(&pm->lock);
	pm->sts = 0;
	pm->en = 0;
	pm->cnt = 0;
	pm->tmr_seen = pm_ticks(pm) >> 31;
	pm->sci_level = 0;
	irq_line_set(&pm->sci, 0);
	pthread_mutex_unlock(&pm->lock);
}

int acpi_pm_power_button(struct acpi_pm *pm)
{
	int enabled;

	pthread_mutex_lock(&pm->lock);
	pm_poll_timer(pm);
	pm->sts |= ACPI_PM1_STS_PWRBTN;
	enabled = (pm->en & ACPI_PM1_EN_PWRBTN) != 0;
	pm_update_sci(pm);
	pthread_mutex_unlock(&pm->lock);
	return enabled ? 0 : -EAGAIN;
}

void acpi_pm_save(struct acpi_pm *pm, struct acpi_pm_state *st)
{
	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&pm->lock);
	st->tmr_ticks = pm_poll_timer(pm);
	st->version = ACPI_PM_STATE_VERSION;
	st->sts = pm->sts;
	st->en = pm->en;
	st->cnt = pm->cnt;
	pthread_mutex_unlock(&pm->lock);
}

int acpi_pm_load(struct acpi_pm *pm, const struct acpi_pm_state *st)
{
	uint16_t sts = st->sts, en = st->en, cnt = st->cnt;

	if (st->version != ACPI_PM_STATE_VERSION)
		return -EINVAL;
	if ((sts & ~PM1_STS_KNOWN) || (en & ~PM1_EN_WRITABLE) ||
	    (cnt & ~(PM1_CNT_STORED | ACPI_PM1_CNT_SCI_EN)))
		return -EINVAL;

	pthread_mutex_lock(&pm->lock);
	pm->sts = sts;
	pm->en = en;
	pm->cnt = cnt & PM1_CNT_STORED;
	pm->tmr_base_ns = pm_now(pm);
	pm->tmr_base_ticks = st->tmr_ticks;
	pm->tmr_seen = st->tmr_ticks >> 31;
	pm_update_sci(pm);
	pthread_mutex_unlock(&pm->lock);
	return 0;
}
