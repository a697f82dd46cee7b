/* Application-processor bring-up (INIT-SIPI-SIPI) and ACPI MADT lookup of APIC ids. */
#include "guest.h"

extern const uint8_t trampoline_start[], trampoline_end[], trampoline_gdt_desc[];
void ap_entry(int index);

static void (*volatile ap_fn)(int index);
static volatile uint32_t ap_started;
static volatile int8_t apic_to_index[256];

int smp_cpu_index(void)
{
	return apic_to_index[lapic_id()];
}

void ap_entry(int index)
{
	intr_load();
	lapic_init();
	apic_to_index[lapic_id()] = (int8_t)index;
	void (*fn)(int) = ap_fn;
	atomic_xadd32(&ap_started, 1);
	fn(index);
	for (;;)
		safe_halt();
}

static void trampoline_install(void)
{
	uint8_t *dst = phys(TRAMPOLINE_ADDR);
	size_t len = (size_t)(trampoline_end - trampoline_start);
	memcpy(dst, trampoline_start, len);
	uint8_t *desc = dst + (trampoline_gdt_desc - trampoline_start);
	uint32_t base = (uint32_t)boot_gdt_desc.base;
	memcpy(desc, &boot_gdt_desc.limit, 2);
	memcpy(desc + 2, &base, 4);
}

int smp_start_ap(uint8_t apic_id, void (*fn)(int index), uint64_t timeout_ms)
{
	static bool installed;
	if (!installed) {
		trampoline_install();
		installed = true;
	}
	ap_fn = fn;
	uint32_t before = ap_started;
	/* INIT assert, INIT de-assert, two STARTUPs: the sequence Linux uses. */
	if (lapic_send_ipi(apic_id, ICR_INIT | ICR_ASSERT | ICR_LEVEL))
		return -1;
	delay_us(10000);
	if (lapic_send_ipi(apic_id, ICR_INIT | ICR_LEVEL))
		return -1;
	for (int i = 0; i < 2; i++) {
		delay_us(200);
		if (lapic_send_ipi(apic_id, ICR_STARTUP | (TRAMPOLINE_ADDR >> 12)))
			return -1;
	}
	uint64_t deadline = tsc_deadline_ms(timeout_ms);
	while (ap_started == before) {
		if (tsc_expired(deadline))
			return -1;
		cpu_relax();
	}
	return 0;
}

/* ---- ACPI ---------------------------------------------------------------------------------- */

static uint32_t rd32(uint64_t a)
{
	uint32_t v;
	memcpy(&v, (const void *)a, 4);
	return v;
}

static uint64_t rd64(uint64_t a)
{
	uint64_t v;
	memcpy(&v, (const void *)a, 8);
	return v;
}

static bool checksum_ok(uint64_t a, size_t n)
{
	uint8_t s = 0;
	for (size_t i = 0; i < n; i++)
		s += *(const uint8_t *)(a + i);
	return s == 0;
}

static uint64_t scan_rsdp(uint64_t start, uint64_t end)
{
	for (uint64_t a = start; a + 20 <= end; a += 16)
		if (!memcmp((const void *)a, "RSD PTR ", 8) && checksum_ok(a, 20))
			return a;
	return 0;
}

static uint64_t find_rsdp(void)
{
	if (boot_info->rsdp)
		return boot_info->rsdp;
	uint64_t ebda = (uint64_t)(*(volatile uint16_t *)phys(0x40e)) << 4;
	uint64_t r = 0;
	if (ebda >= 0x80000 && ebda < 0xa0000)
		r = scan_rsdp(ebda, ebda + 1024);
	return r ? r : scan_rsdp(0xe0000, 0x100000);
}

int acpi_cpu_apic_ids(uint8_t *ids, int max)
{
	uint64_t rsdp = find_rsdp();
	if (!rsdp)
		return -1;
	uint64_t sdt;
	unsigned esz;
	if (*(const uint8_t *)(rsdp + 15) >= 2 && rd64(rsdp + 24)) {
		sdt = rd64(rsdp + 24);
		esz = 8;
	} else {
		sdt = rd32(rsdp + 16);
		esz = 4;
	}
	if (!sdt)
		return -1;
	uint32_t len = rd32(sdt + 4);
	uint64_t madt = 0;
	for (uint32_t off = 36; off + esz <= len; off += esz) {
		uint64_t t = esz == 8 ? rd64(sdt + off) : rd32(sdt + off);
		if (t && !memcmp((const void *)t, "APIC", 4)) {
			madt = t;
			break;
		}
	}
	if (!madt)
		return -1;
	int n = 0;
	uint64_t end = madt + rd32(madt + 4);
	for (uint64_t p = madt + 44; p + 2 <= end;) {
		uint8_t type = *(const uint8_t *)p, l = *(const uint8_t *)(p + 1);
		if (l < 2)
			break;
		if (type == 0 && l >= 8 && (rd32(p + 4) & 1) && n < max)
			ids[n++] = *(const uint8_t *)(p + 3);
		p += l;
	}
	return n;
}
