/* smp: start every AP with INIT-SIPI-SIPI, hammer a shared counter with LOCK XADD from all CPUs,
 * then ping each AP with a fixed IPI; the AP's handler acknowledges in memory and with an IPI
 * back to the BSP. The CPU count comes from fw_cfg NB_CPUS, cross-checked against the MADT and
 * against "cpus=N" on the command line when present. */
#include "guest.h"

#define ITERS 200000
#define VEC_PING 0x40
#define VEC_PONG 0x41

static volatile uint32_t counter;
static volatile uint32_t go, done;
static volatile uint8_t reported_apic[MAX_CPUS];
static volatile uint32_t ping_count[MAX_CPUS];
static volatile uint32_t pong_count;
static uint8_t bsp_apic;

static void add_many(void)
{
	for (int i = 0; i < ITERS; i++)
		atomic_xadd32(&counter, 1);
}

static void ping_handler(struct intr_frame *f)
{
	int idx = smp_cpu_index();
	if (idx <= 0 || idx >= MAX_CPUS)
		test_fail("ping IPI arrived on CPU index %d (APIC id %u)", idx, lapic_id());
	ping_count[idx]++;
	lapic_send_ipi(bsp_apic, ICR_FIXED | VEC_PONG);
	lapic_eoi();
}

static void pong_handler(struct intr_frame *f)
{
	if (lapic_id() != bsp_apic)
		test_fail("pong IPI arrived on APIC id %u, not the BSP", lapic_id());
	atomic_xadd32(&pong_count, 1);
	lapic_eoi();
}

static void ap_main(int idx)
{
	reported_apic[idx] = lapic_id();
	irq_enable();
	while (!go)
		cpu_relax();
	add_many();
	atomic_xadd32(&done, 1);
}

static bool wait_until(volatile uint32_t *p, uint32_t want, uint64_t ms)
{
	uint64_t deadline = tsc_deadline_ms(ms);
	while (*p < want) {
		if (tsc_expired(deadline))
			return false;
		cpu_relax();
	}
	return true;
}

int main(const struct boot_info *bi)
{
	lapic_init();
	bsp_apic = lapic_id();
	intr_set_handler(VEC_PING, ping_handler);
	intr_set_handler(VEC_PONG, pong_handler);

	TEST_ASSERT(fwcfg_present(), "no fw_cfg: cannot learn the CPU count");
	int ncpus = fwcfg_read16(FW_CFG_NB_CPUS);
	uint64_t want = cmdline_uint("cpus", 0);
	TEST_ASSERT(ncpus >= 1 && ncpus <= MAX_CPUS, "fw_cfg NB_CPUS %d out of range", ncpus);
	if (want)
		TEST_EQ(ncpus, want, "fw_cfg NB_CPUS vs cpus= on the command line");

	uint8_t ids[MAX_CPUS];
	int n = acpi_cpu_apic_ids(ids, MAX_CPUS);
	if (n < 0) {
		test_note("no ACPI MADT found: assuming APIC ids 0..%d", ncpus - 1);
		for (int i = 0; i < ncpus; i++)
			ids[i] = (uint8_t)i;
		n = ncpus;
	}
	TEST_EQ(n, ncpus, "enabled CPUs in the MADT vs fw_cfg NB_CPUS");
	bool bsp_listed = false;
	for (int i = 0; i < n; i++)
		bsp_listed |= ids[i] == bsp_apic;
	TEST_ASSERT(bsp_listed, "BSP APIC id %u is not in the MADT", bsp_apic);
	test_note("%d CPUs, BSP APIC id %u", ncpus, bsp_apic);

	/* Start the APs one at a time. */
	uint8_t ap_apic[MAX_CPUS];
	int naps = 0;
	for (int i = 0; i < n; i++) {
		if (ids[i] == bsp_apic)
			continue;
		if (smp_start_ap(ids[i], ap_main, 5000))
			test_fail("AP with APIC id %u did not start", ids[i]);
		ap_apic[++naps] = ids[i];
		test_note("AP %d (APIC id %u) is running", naps, ids[i]);
	}

	/* Every CPU adds ITERS to the counter concurrently. */
	go = 1;
	add_many();
	if (!wait_until(&done, (uint32_t)naps, 20000))
		test_fail("only %u of %d APs finished counting", done, naps);
	TEST_EQ(counter, (uint64_t)ncpus * ITERS, "shared counter after LOCK XADD from all CPUs");
	for (int i = 1; i <= naps; i++)
		TEST_ASSERT(reported_apic[i] == ap_apic[i], "AP %d reports APIC id %u, started as %u",
			    i, reported_apic[i], ap_apic[i]);
	test_note("counter %u = %d CPUs x %d increments", counter, ncpus, ITERS);

	/* Fixed IPI to each AP; each answers with an IPI back to the BSP. */
	irq_enable();
	for (int i = 1; i <= naps; i++) {
		if (lapic_send_ipi(ap_apic[i], ICR_FIXED | VEC_PING))
			test_fail("ICR stayed busy sending to APIC id %u", ap_apic[i]);
		if (!wait_until(&ping_count[i], 1, 2000))
			test_fail("AP %d (APIC id %u) did not take the fixed IPI", i, ap_apic[i]);
		if (!wait_until(&pong_count, (uint32_t)i, 2000))
			test_fail("no IPI back from AP %d (APIC id %u)", i, ap_apic[i]);
	}
	irq_disable();
	for (int i = 1; i <= naps; i++)
		TEST_EQ(ping_count[i], 1, "IPIs taken by an AP");
	TEST_EQ(pong_count, naps, "IPIs back to the BSP");
	test_note("all %d APs answered their IPI", naps);
	return 0;
}
