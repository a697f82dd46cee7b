/* timer: LAPIC timer (periodic ticks arrive, stop stops them, one-shot fires exactly once) and
 * PIT channel 0 delivered through IOAPIC pin 2 (ISA IRQ 0 per the MADT override). Every wait is
 * bounded, so a backend that never delivers fails instead of hanging. */
#include "guest.h"

#define VEC_LAPIC 0x30
#define VEC_PIT 0x31
#define PIT_PIN 2

static volatile uint32_t lapic_ticks, pit_ticks;
static volatile uint64_t tick_tsc[8];

static void lapic_handler(struct intr_frame *f)
{
	uint32_t n = lapic_ticks;
	if (n < 8)
		tick_tsc[n] = rdtsc();
	lapic_ticks = n + 1;
	lapic_eoi();
}

static void pit_handler(struct intr_frame *f)
{
	pit_ticks++;
	lapic_eoi();
}

static bool wait_ticks(volatile uint32_t *p, uint32_t want, uint64_t ms)
{
	uint64_t deadline = tsc_deadline_ms(ms);
	while (*p < want) {
		if (tsc_expired(deadline))
			return false;
		cpu_relax();
	}
	return true;
}

static void spin_tsc(uint64_t ticks)
{
	uint64_t end = rdtsc() + ticks;
	while ((int64_t)(rdtsc() - end) < 0)
		cpu_relax();
}

static void test_lapic_timer(void)
{
	/* Periodic: divide 16, count 100000 (1.6 ms with QEMU's and KVM's 1 GHz APIC clock). */
	lapic_ticks = 0;
	lapic_timer_start(VEC_LAPIC, 100000, 16, true);
	uint32_t c1 = lapic_read(LAPIC_TIMER_CUR);
	if (!wait_ticks(&lapic_ticks, 6, 5000))
		test_fail("LAPIC periodic timer: %u ticks in the time allowed, expected 6", lapic_ticks);
	uint32_t c2 = lapic_read(LAPIC_TIMER_CUR);
	TEST_ASSERT(c1 <= 100000 && c2 <= 100000, "LAPIC current count above initial (%u, %u)", c1,
		    c2);
	lapic_timer_stop();
	uint64_t period = (tick_tsc[5] - tick_tsc[1]) / 4;
	TEST_ASSERT(period > 0, "LAPIC periodic ticks arrived with no TSC progress");
	uint32_t n = lapic_ticks;
	spin_tsc(period * 10);
	TEST_ASSERT(lapic_ticks <= n + 1, "LAPIC timer still ticking after stop (%u -> %u)", n,
		    lapic_ticks);
	test_note("LAPIC periodic: %u ticks, ~%lu TSC cycles apart; stop ok", n, period);

	/* One-shot: exactly one tick, then the current count stays 0. */
	lapic_ticks = 0;
	lapic_timer_start(VEC_LAPIC, 100000, 16, false);
	if (!wait_ticks(&lapic_ticks, 1, 5000))
		test_fail("LAPIC one-shot timer never fired");
	spin_tsc(period * 10);
	TEST_EQ(lapic_ticks, 1, "LAPIC one-shot interrupts");
	TEST_EQ(lapic_read(LAPIC_TIMER_CUR), 0, "LAPIC current count after the one-shot expired");
	lapic_timer_stop();
	test_note("LAPIC one-shot fired once");
}

static void test_pit_ioapic(uint8_t bsp)
{
	uint32_t ver = ioapic_read(IOAPIC_REG_VER);
	uint32_t max_redir = (ver >> 16) & 0xff;
	TEST_ASSERT(max_redir >= 23, "IOAPIC version 0x%x: only %u pins", ver, max_redir + 1);
	pit_ticks = 0;
	ioapic_route(PIT_PIN, VEC_PIT, bsp, 0); /* edge, active high */
	pit_start_periodic(1000);
	if (!wait_ticks(&pit_ticks, 5, 5000))
		test_fail("PIT through IOAPIC pin %d: %u interrupts in the time allowed, expected 5",
			  PIT_PIN, pit_ticks);
	ioapic_mask(PIT_PIN);
	pit_stop();
	test_note("PIT channel 0 through IOAPIC pin %d: %u interrupts (IOAPIC version 0x%x)",
		  PIT_PIN, pit_ticks, ver);
}

int main(const struct boot_info *bi)
{
	lapic_init();
	intr_set_handler(VEC_LAPIC, lapic_handler);
	intr_set_handler(VEC_PIT, pit_handler);
	irq_enable();
	test_lapic_timer();
	test_pit_ioapic(lapic_id());
	irq_disable();
	return 0;
}
