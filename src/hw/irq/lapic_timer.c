/* The local APIC's LVT timer: one-shot and periodic counts at bus_hz / divisor, and the
 * TSC-deadline mode. Nothing counts down: a running count is an absolute deadline in mono_ns and
 * the current count is computed from the clock. The owner polls lapic_timer_deadline() and calls
 * lapic_timer_tick() when it is due. See lapic.h for the behaviour and the lock. */
#include "hw/irq/irq_util.h"
#include "hw/irq/lapic_priv.h"

/* a * mul / div, saturating at UINT64_MAX (irq_muldiv's precondition mul * div < 2^64 holds for
 * the rates lapic_init accepts). */
static uint64_t muldiv_sat(uint64_t a, uint64_t mul, uint64_t div)
{
	uint64_t hi, lo = ((a % div) * mul) / div;
	if (__builtin_mul_overflow(a / div, mul, &hi) || __builtin_add_overflow(hi, lo, &hi))
		return UINT64_MAX;
	return hi;
}

static uint64_t now_ns(struct lapic *l)
{
	return l->clk.mono_ns(l->clk.ctx);
}

static unsigned timer_mode(struct lapic *l)
{
	return APIC_LVT_TIMER_MODE(lapic_get(l, APIC_REG_LVT_TIMER));
}

/* Length of a count of `count` bus clocks at divisor `div`, at least 1 ns; a periodic period is
 * at least LAPIC_MIN_PERIOD_NS. */
static uint64_t count_ns(struct lapic *l, uint32_t count, uint32_t div, int periodic)
{
	uint64_t ns = irq_muldiv_up((uint64_t)count * div, NSEC_PER_SEC, l->bus_hz);
	if (periodic && ns < LAPIC_MIN_PERIOD_NS)
		ns = LAPIC_MIN_PERIOD_NS;
	return ns ? ns : 1;
}

/* mono_ns at which the guest TSC reads `tsc`. */
static uint64_t tsc_to_ns(struct lapic *l, uint64_t tsc)
{
	return irq_add_sat(l->tsc0_ns, muldiv_sat(tsc, 1000000, l->tsc_khz));
}

void lapic_timer_stop_locked(struct lapic *l)
{
	l->timer_deadline_ns = UINT64_MAX;
	l->timer_period_ns = 0;
	l->tsc_deadline = 0;
}

/* Start a count of the initial count register from `start`. */
static void start_count(struct lapic *l, uint64_t start)
{
	uint32_t tmict = lapic_get(l, APIC_REG_TMICT);
	if (!tmict) {
		lapic_timer_stop_locked(l);
		return;
	}
	l->timer_div = lapic_tdcr_divisor(lapic_get(l, APIC_REG_TDCR));
	l->timer_period_ns = count_ns(l, tmict, l->timer_div, timer_mode(l) == APIC_TIMER_PERIODIC);
	l->timer_deadline_ns = irq_add_sat(start, l->timer_period_ns);
}

void lapic_timer_lvt_write_locked(struct lapic *l, uint32_t val)
{
	int was_tsc = timer_mode(l) == APIC_TIMER_TSCDEADLINE;
	int is_tsc = APIC_LVT_TIMER_MODE(val) == APIC_TIMER_TSCDEADLINE;
	lapic_set(l, APIC_REG_LVT_TIMER, val);
	if (was_tsc != is_tsc) {
		lapic_timer_stop_locked(l);
		lapic_set(l, APIC_REG_TMICT, 0);
	}
}

void lapic_timer_tmict_write_locked(struct lapic *l, uint32_t val)
{
	if (timer_mode(l) == APIC_TIMER_TSCDEADLINE)
		return;
	lapic_set(l, APIC_REG_TMICT, val);
	start_count(l, now_ns(l));
}

uint32_t lapic_timer_tmcct_locked(struct lapic *l)
{
	uint32_t tmict = lapic_get(l, APIC_REG_TMICT);
	if (timer_mode(l) == APIC_TIMER_TSCDEADLINE || !tmict || l->timer_deadline_ns == UINT64_MAX)
		return 0;
	uint64_t now = now_ns(l), left;
	if (now < l->timer_deadline_ns)
		left = l->timer_deadline_ns - now;
	else if (timer_mode(l) == APIC_TIMER_PERIODIC)
		left = l->timer_period_ns - (now - l->timer_deadline_ns) % l->timer_period_ns;
	else
		return 0; /* expired, not yet ticked */
	uint64_t count = irq_muldiv(left, l->bus_hz, NSEC_PER_SEC) / l->timer_div;
	return count < tmict ? (uint32_t)count : tmict;
}

uint64_t lapic_timer_tscdl_read_locked(struct lapic *l)
{
	return timer_mode(l) == APIC_TIMER_TSCDEADLINE ? l->tsc_deadline : 0;
}

void lapic_timer_tscdl_write_locked(struct lapic *l, uint64_t val)
{
	if (timer_mode(l) != APIC_TIMER_TSCDEADLINE)
		return;
	l->tsc_deadline = val;
	l->timer_deadline_ns = val ? tsc_to_ns(l, val) : UINT64_MAX;
}

uint64_t lapic_timer_save_locked(struct lapic *l)
{
	if (l->timer_deadline_ns == UINT64_MAX)
		return 0;
	uint64_t now = now_ns(l);
	return now < l->timer_deadline_ns ? l->timer_deadline_ns - now : 1;
}

void lapic_timer_load_locked(struct lapic *l, uint64_t ns_left, uint32_t tmcct)
{
	uint64_t now = now_ns(l);
	l->timer_deadline_ns = UINT64_MAX;
	l->timer_period_ns = 0;
	l->timer_div = lapic_tdcr_divisor(lapic_get(l, APIC_REG_TDCR));
	if (timer_mode(l) == APIC_TIMER_TSCDEADLINE) {
		if (!l->tsc_deadline)
			return;
		l->timer_deadline_ns =
		    ns_left ? irq_add_sat(now, ns_left) : tsc_to_ns(l, l->tsc_deadline);
		return;
	}
	l->tsc_deadline = 0;
	uint32_t tmict = lapic_get(l, APIC_REG_TMICT);
	if (!tmict)
		return;
	int periodic = timer_mode(l) == APIC_TIMER_PERIODIC;
	l->timer_period_ns = count_ns(l, tmict, l->timer_div, periodic);
	if (!ns_left) {
		if (tmcct)
			ns_left = count_ns(l, tmcct, l->timer_div, 0);
		else if (periodic)
			ns_left = 1; /* a periodic count is always running */
		else
			return; /* one-shot that has expired */
	}
	if (ns_left > l->timer_period_ns)
		ns_left = l->timer_period_ns;
	l->timer_deadline_ns = irq_add_sat(now, ns_left);
}

void lapic_set_tsc_base(struct lapic *l, uint64_t tsc0_ns)
{
	pthread_mutex_lock(&l->lock);
	l->tsc0_ns = tsc0_ns;
	if (timer_mode(l) == APIC_TIMER_TSCDEADLINE && l->tsc_deadline)
		l->timer_deadline_ns = tsc_to_ns(l, l->tsc_deadline);
	pthread_mutex_unlock(&l->lock);
}

uint64_t lapic_timer_deadline(struct lapic *l)
{
	pthread_mutex_lock(&l->lock);
	uint64_t dl = l->timer_deadline_ns;
	pthread_mutex_unlock(&l->lock);
	return dl;
}

void lapic_timer_tick(struct lapic *l, uint64_t now)
{
	struct lapic_out out = {0};

	pthread_mutex_lock(&l->lock);
	if (l->timer_deadline_ns == UINT64_MAX || now < l->timer_deadline_ns) {
		pthread_mutex_unlock(&l->lock);
		return;
	}
	uint32_t lvt = lapic_get(l, APIC_REG_LVT_TIMER);
	if (!(lvt & APIC_LVT_MASKED))
		lapic_accept_fixed_locked(l, (uint8_t)(lvt & APIC_LVT_VECTOR), 0, &out);
	unsigned mode = APIC_LVT_TIMER_MODE(lvt);
	uint32_t tmict = lapic_get(l, APIC_REG_TMICT);
	if (mode == APIC_TIMER_PERIODIC && tmict) {
		/* Reload from the previous deadline (no drift), with the divisor now configured. */
		uint64_t prev = l->timer_deadline_ns;
		l->timer_div = lapic_tdcr_divisor(lapic_get(l, APIC_REG_TDCR));
		l->timer_period_ns = count_ns(l, tmict, l->timer_div, 1);
		uint64_t next = irq_add_sat(prev, l->timer_period_ns);
		if (next <= now) {
			/* Far behind: skip the missed periods (their interrupts coalesce). */
			uint64_t missed = (now - next) / l->timer_period_ns + 1;
			next = irq_add_sat(next, muldiv_sat(missed, l->timer_period_ns, 1));
		}
		l->timer_deadline_ns = next;
	} else {
		l->timer_deadline_ns = UINT64_MAX;
		if (mode == APIC_TIMER_TSCDEADLINE)
			l->tsc_deadline = 0;
	}
	pthread_mutex_unlock(&l->lock);
	if (out.kick && l->ops->kick)
		l->ops->kick(l->ctx);
}
