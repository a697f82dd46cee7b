/* Unit tests for the ACPI tables: build into fake guest memory, then parse them back. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "arch/x86/acpi.h"
#include "arch/x86/aml.h"
#include "arch/x86/layout.h"
#include "core/gmem.h"

#define MEM_SIZE (2u << 20)

struct fixture {
	struct gmem gm;
	uint8_t *mem;
	struct acpi_config cfg;
};

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd64(const uint8_t *p)
{
	return rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->mem = calloc(1, MEM_SIZE);
	assert_non_null(f->mem);
	assert_int_equal(gmem_add_region(&f->gm, 0, MEM_SIZE, f->mem), 0);
	f->cfg.ncpus = 2;
	f->cfg.have_pci = 1;
	f->cfg.nr_virtio_mmio = 3;
	for (unsigned i = 0; i < 3; i++) {
		f->cfg.virtio_mmio[i].base = LAYOUT_VIRTIO_MMIO_START + i * LAYOUT_VIRTIO_MMIO_SLOT;
		f->cfg.virtio_mmio[i].size = LAYOUT_VIRTIO_MMIO_SLOT;
		f->cfg.virtio_mmio[i].gsi = GSI_VIRTIO_FIRST + i;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	gmem_destroy(&f->gm);
	free(f->mem);
	free(f);
	return 0;
}

/* A table at gpa: inside the ACPI window, checksum zero, expected signature. Returns it. */
static const uint8_t *table_at(struct fixture *f, uint64_t gpa, const char *sig)
{
	assert_true(gpa >= LAYOUT_ACPI_START && gpa < LAYOUT_ACPI_END);
	const uint8_t *t = f->mem + gpa;
	uint32_t len = rd32(t + 4);

	assert_memory_equal(t, sig, 4);
	assert_true(len >= ACPI_HEADER_LEN);
	assert_true(gpa + len <= LAYOUT_ACPI_END);
	assert_int_equal(acpi_checksum(t, len), 0);
	assert_memory_equal(t + 10, ACPI_OEM_ID, 6);
	assert_memory_equal(t + 16, ACPI_OEM_TABLE_ID, 8);
	assert_memory_equal(t + 28, ACPI_CREATOR_ID, 4);
	return t;
}

static const uint8_t *build(struct fixture *f)
{
	uint64_t rsdp = 0;

	assert_int_equal(acpi_build(&f->gm, &f->cfg, &rsdp), 0);
	assert_int_equal(rsdp, LAYOUT_ACPI_START);
	return f->mem + rsdp;
}

static const uint8_t *find_fadt(struct fixture *f)
{
	const uint8_t *rsdp = build(f);
	const uint8_t *xsdt = table_at(f, rd64(rsdp + 24), "XSDT");

	return table_at(f, rd64(xsdt + ACPI_HEADER_LEN), "FACP");
}

static const uint8_t *find_madt(struct fixture *f)
{
	const uint8_t *rsdp = build(f);
	const uint8_t *xsdt = table_at(f, rd64(rsdp + 24), "XSDT");

	return table_at(f, rd64(xsdt + ACPI_HEADER_LEN + 8), "APIC");
}

static int contains(const uint8_t *hay, size_t len, const void *needle, size_t nlen)
{
	int count = 0;

	for (size_t i = 0; i + nlen <= len; i++)
		count += memcmp(hay + i, needle, nlen) == 0;
	return count;
}

static void test_rsdp(void **state)
{
	struct fixture *f = *state;
	const uint8_t *rsdp = build(f);

	assert_memory_equal(rsdp, "RSD PTR ", 8);
	assert_int_equal(LAYOUT_ACPI_START % 16, 0);
	assert_int_equal(acpi_checksum(rsdp, 20), 0);
	assert_int_equal(acpi_checksum(rsdp, ACPI_RSDP_LEN), 0);
	assert_memory_equal(rsdp + 9, ACPI_OEM_ID, 6);
	assert_int_equal(rsdp[15], 2);
	assert_int_equal(rd32(rsdp + 20), ACPI_RSDP_LEN);
	table_at(f, rd32(rsdp + 16), "RSDT");
	table_at(f, rd64(rsdp + 24), "XSDT");
}

static void test_all_tables(void **state)
{
	struct fixture *f = *state;
	const uint8_t *rsdp = build(f);
	const uint8_t *xsdt = table_at(f, rd64(rsdp + 24), "XSDT");
	const uint8_t *rsdt = table_at(f, rd32(rsdp + 16), "RSDT");
	static const char *const sigs[] = {"FACP", "APIC"};

	assert_int_equal(rd32(xsdt + 4), ACPI_HEADER_LEN + 2 * 8);
	assert_int_equal(rd32(rsdt + 4), ACPI_HEADER_LEN + 2 * 4);
	for (int i = 0; i < 2; i++) {
		uint64_t x = rd64(xsdt + ACPI_HEADER_LEN + 8 * i);

		assert_int_equal(x, rd32(rsdt + ACPI_HEADER_LEN + 4 * i));
		table_at(f, x, sigs[i]);
	}
	const uint8_t *fadt = table_at(f, rd64(xsdt + ACPI_HEADER_LEN), "FACP");
	table_at(f, rd64(fadt + 140), "DSDT");

	uint64_t facs = rd64(fadt + 132);
	assert_int_equal(facs % 64, 0);
	assert_true(facs >= LAYOUT_ACPI_START && facs + ACPI_FACS_LEN <= LAYOUT_ACPI_END);
	assert_memory_equal(f->mem + facs, "FACS", 4);
	assert_int_equal(rd32(f->mem + facs + 4), ACPI_FACS_LEN);
}

static void test_fadt_fields(void **state)
{
	struct fixture *f = *state;
	const uint8_t *fadt = find_fadt(f);
	uint32_t flags = rd32(fadt + 112);

	assert_int_equal(rd32(fadt + 4), ACPI_FADT_LEN);
	assert_int_equal(fadt[8], 6);
	assert_int_equal(rd32(fadt + 36), rd64(fadt + 132)); /* FACS, 32 and 64 bit */
	assert_int_equal(rd32(fadt + 40), rd64(fadt + 140)); /* DSDT, 32 and 64 bit */
	assert_int_equal(rd16(fadt + 46), GSI_ACPI_SCI);
	assert_int_equal(rd32(fadt + 48), 0); /* SMI_CMD */
	assert_int_equal(rd32(fadt + 56), 0x600);
	assert_int_equal(rd32(fadt + 64), 0x604);
	assert_int_equal(rd32(fadt + 76), 0x608);
	assert_int_equal(fadt[88], 4);
	assert_int_equal(fadt[89], 2);
	assert_int_equal(fadt[91], 4);
	assert_int_equal(rd16(fadt + 109), ACPI_BOOT_LEGACY_DEVICES | ACPI_BOOT_8042);
	assert_true(flags & ACPI_FADT_WBINVD);
	assert_true(flags & ACPI_FADT_PROC_C1);
	assert_true(flags & ACPI_FADT_SLP_BUTTON);
	assert_true(flags & ACPI_FADT_TMR_VAL_EXT);
	assert_true(flags & ACPI_FADT_RESET_REG_SUP);
	assert_false(flags & ACPI_FADT_PWR_BUTTON); /* the PM block has a fixed power button */
	assert_false(flags & ACPI_FADT_HW_REDUCED);
	/* RESET_REG: System I/O, 8 bits, byte access, 0xcf9; value 6. */
	assert_int_equal(fadt[116], 1);
	assert_int_equal(fadt[117], 8);
	assert_int_equal(fadt[119], 1);
	assert_int_equal(rd64(fadt + 120), 0xcf9);
	assert_int_equal(fadt[128], 0x06);
	/* X_PM1a_EVT_BLK, X_PM1a_CNT_BLK, X_PM_TMR_BLK. */
	assert_int_equal(fadt[148], 1);
	assert_int_equal(fadt[149], 32);
	assert_int_equal(rd64(fadt + 152), 0x600);
	assert_int_equal(fadt[172], 1);
	assert_int_equal(fadt[173], 16);
	assert_int_equal(rd64(fadt + 176), 0x604);
	assert_int_equal(fadt[208], 1);
	assert_int_equal(fadt[209], 32);
	assert_int_equal(rd64(fadt + 212), 0x608);
	/* No PM1b. */
	assert_int_equal(rd32(fadt + 60), 0);
	assert_int_equal(rd64(fadt + 164), 0);
}

static void check_madt(struct fixture *f, unsigned ncpus)
{
	f->cfg.ncpus = ncpus;
	const uint8_t *madt = find_madt(f);
	uint32_t len = rd32(madt + 4);
	unsigned lapics = 0, ioapics = 0, isos = 0, nmis = 0;
	size_t off = 44;

	assert_int_equal(rd32(madt + 36), LAYOUT_LAPIC);
	assert_int_equal(rd32(madt + 40) & ACPI_MADT_PCAT_COMPAT, ACPI_MADT_PCAT_COMPAT);
	while (off < len) {
		const uint8_t *e = madt + off;

		assert_true(e[1] >= 2 && off + e[1] <= len);
		switch (e[0]) {
		case ACPI_MADT_LAPIC:
			assert_int_equal(e[1], 8);
			assert_int_equal(e[2], lapics); /* processor UID in order */
			assert_int_equal(e[3], lapics); /* APIC id = index */
			assert_int_equal(rd32(e + 4), 1);
			lapics++;
			break;
		case ACPI_MADT_IOAPIC:
			assert_int_equal(e[1], 12);
			assert_int_equal(e[2], ncpus);
			assert_true(e[2] >= ncpus); /* no clash with a local APIC id */
			assert_int_equal(rd32(e + 4), LAYOUT_IOAPIC);
			assert_int_equal(rd32(e + 8), 0);
			ioapics++;
			break;
		case ACPI_MADT_ISO:
			assert_int_equal(e[1], 10);
			assert_int_equal(e[2], 0);
			if (e[3] == 0) {
				assert_int_equal(rd32(e + 4), GSI_PIT);
				assert_int_equal(rd16(e + 8), 0);
			} else {
				assert_int_equal(e[3], 9);
				assert_int_equal(rd32(e + 4), 9);
				assert_int_equal(rd16(e + 8), 0x000d);
			}
			isos++;
			break;
		case ACPI_MADT_LAPIC_NMI:
			assert_int_equal(e[1], 6);
			assert_int_equal(e[2], 0xff);
			assert_int_equal(e[5], 1);
			nmis++;
			break;
		default:
			fail_msg("unexpected MADT entry type %u", e[0]);
		}
		off += e[1];
	}
	assert_int_equal(off, len);
	assert_int_equal(lapics, ncpus);
	assert_int_equal(ioapics, 1);
	assert_int_equal(isos, 2);
	assert_int_equal(nmis, 1);
}

static void test_madt_1(void **state)
{
	check_madt(*state, 1);
}

static void test_madt_2(void **state)
{
	check_madt(*state, 2);
}

static void test_madt_8(void **state)
{
	check_madt(*state, 8);
}

static void test_dsdt_contents(void **state)
{
	struct fixture *f = *state;
	const uint8_t *fadt = find_fadt(f);
	const uint8_t *dsdt = table_at(f, rd64(fadt + 140), "DSDT");
	uint32_t len = rd32(dsdt + 4);
	static const char *const hids[] = {"PNP0A08", "PNP0A03", "PNP0501",
					   "PNP0B00", "PNP0303", "PNP0C02"};
	uint8_t enc[5] = {AML_DWORD_PREFIX};
	uint32_t v;

	assert_int_equal(dsdt[8], 2);
	assert_int_equal(dsdt[ACPI_HEADER_LEN], AML_SCOPE_OP);
	for (size_t i = 0; i < sizeof(hids) / sizeof(hids[0]); i++) {
		assert_int_equal(aml_eisaid_value(hids[i], &v), 0);
		memcpy(enc + 1, &v, 4);
		assert_int_equal(contains(dsdt, len, enc, 5), 1);
	}
	assert_int_equal(contains(dsdt, len, "\x0dLNRO0005", 10), 3);
	assert_int_equal(contains(dsdt, len,
				  "\x0d"
				  "ACPI0007",
				  10),
			 2);
	assert_int_equal(contains(dsdt, len, "VR00", 4), 1);
	assert_int_equal(contains(dsdt, len, "VR02", 4), 1);
	assert_int_equal(contains(dsdt, len, "COM1\x08_HID", 9), 1);

	/* \_S5 at the end of the table: Name(_S5_, Package(4) {5, 5, 0, 0}). */
	static const uint8_t s5[] = {0x08, '_',	 'S',  '5',  '_',  0x12, 0x08,
				     0x04, 0x0a, 0x05, 0x0a, 0x05, 0x00, 0x00};
	assert_memory_equal(dsdt + len - sizeof(s5), s5, sizeof(s5));
}

static void test_dsdt_virtio_crs(void **state)
{
	struct fixture *f = *state;
	const uint8_t *fadt = find_fadt(f);
	const uint8_t *dsdt = table_at(f, rd64(fadt + 140), "DSDT");
	uint32_t len = rd32(dsdt + 4);

	for (unsigned i = 0; i < f->cfg.nr_virtio_mmio; i++) {
		uint8_t mem[12] = {AML_RES_MEM32_FIXED, 9, 0, 1};
		uint8_t irq[9] = {AML_RES_EXT_IRQ, 6, 0, AML_INT_CONSUMER, 1};
		uint32_t base = (uint32_t)f->cfg.virtio_mmio[i].base;
		uint32_t size = (uint32_t)f->cfg.virtio_mmio[i].size;
		uint32_t gsi = f->cfg.virtio_mmio[i].gsi;

		memcpy(mem + 4, &base, 4);
		memcpy(mem + 8, &size, 4);
		memcpy(irq + 5, &gsi, 4);
		assert_int_equal(contains(dsdt, len, mem, sizeof(mem)), 1);
		assert_int_equal(contains(dsdt, len, irq, sizeof(irq)), 1);
	}
	/* The PCI window of the host bridge. */
	static const uint8_t win[] = {0x00, 0x00, 0x00, 0xc0, 0xff, 0xff, 0xff, 0xcf};
	assert_int_equal(contains(dsdt, len, win, sizeof(win)), 1);
}

/* The machine's own virtio-mmio layout (layout.h, core/vmio): every slot announced as a
 * LNRO0005 device with its _UID, a 0x200-byte Memory32Fixed window and a level, active-high,
 * exclusive Interrupt on its own GSI; the windows stay clear of the PCI window, the ECAM window
 * and the IOAPIC/LAPIC area. */
static void test_dsdt_virtio_layout(void **state)
{
	struct fixture *f = *state;
	uint8_t *dsdt;
	size_t len;

	f->cfg.nr_virtio_mmio = LAYOUT_VIRTIO_MMIO_MAX;
	for (unsigned i = 0; i < LAYOUT_VIRTIO_MMIO_MAX; i++) {
		f->cfg.virtio_mmio[i].base = LAYOUT_VIRTIO_MMIO_START + i * LAYOUT_VIRTIO_MMIO_SLOT;
		f->cfg.virtio_mmio[i].size = LAYOUT_VIRTIO_MMIO_SIZE;
		f->cfg.virtio_mmio[i].gsi = GSI_VIRTIO_FIRST + i;
	}
	assert_int_equal(acpi_build_dsdt(&f->cfg, &dsdt, &len), 0);
	assert_int_equal(contains(dsdt, len, "\x0dLNRO0005", 10), LAYOUT_VIRTIO_MMIO_MAX);
	for (unsigned i = 0; i < LAYOUT_VIRTIO_MMIO_MAX; i++) {
		uint64_t base = f->cfg.virtio_mmio[i].base;
		uint32_t b32 = (uint32_t)base, size = LAYOUT_VIRTIO_MMIO_SIZE,
			 gsi = GSI_VIRTIO_FIRST + i;
		/* Device (VRnn) { Name (_HID, "LNRO0005"), Name (_UID, i), ... } */
		char name[5];
		snprintf(name, sizeof(name), "VR%02X", i);
		const uint8_t *dev = NULL;
		for (size_t j = 0; j + 4 <= len && !dev; j++)
			if (!memcmp(dsdt + j, name, 4))
				dev = dsdt + j;
		assert_non_null(dev);
		static const uint8_t hid[] = {AML_NAME_OP, '_', 'H', 'I', 'D', AML_STRING_PREFIX,
					      'L',	   'N', 'R', 'O', '0', '0',
					      '0',	   '5', 0};
		assert_memory_equal(dev + 4, hid, sizeof(hid));
		const uint8_t *uid = dev + 4 + sizeof(hid);
		assert_memory_equal(uid, "\x08_UID", 5);
		if (i == 0)
			assert_int_equal(uid[5], AML_ZERO_OP);
		else if (i == 1)
			assert_int_equal(uid[5], AML_ONE_OP);
		else
			assert_true(uid[5] == AML_BYTE_PREFIX && uid[6] == i);
		uint8_t mem[12] = {AML_RES_MEM32_FIXED, 9, 0, 1};
		memcpy(mem + 4, &b32, 4);
		memcpy(mem + 8, &size, 4);
		assert_int_equal(contains(dsdt, len, mem, sizeof(mem)), 1);
		/* Flags 0x01: consumer; level, active high, exclusive are the zero bits. */
		uint8_t irq[9] = {AML_RES_EXT_IRQ, 6, 0, 0x01, 1};
		memcpy(irq + 5, &gsi, 4);
		assert_int_equal(contains(dsdt, len, irq, sizeof(irq)), 1);
		assert_true(base >= LAYOUT_PCI_MMIO_END &&
			    base + LAYOUT_VIRTIO_MMIO_SLOT <= LAYOUT_PCI_ECAM);
		assert_true(base >= GMEM_HOLE_START);
		assert_true(gsi < IOAPIC_NR_PINS && gsi != GSI_ACPI_SCI);
	}
	assert_true(LAYOUT_VIRTIO_MMIO_START + LAYOUT_VIRTIO_MMIO_MAX * LAYOUT_VIRTIO_MMIO_SLOT <=
		    LAYOUT_PCI_ECAM);
	assert_true(LAYOUT_VIRTIO_MMIO_SIZE <= LAYOUT_VIRTIO_MMIO_SLOT);
	assert_int_equal(GSI_VIRTIO_FIRST + LAYOUT_VIRTIO_MMIO_MAX, IOAPIC_NR_PINS);
	free(dsdt);
}

/* PCI0's _PRT: INTA-D of devices 1-8 go to GSI_PCI_INTX, as Package () { dev << 16 | 0xffff,
 * pin, 0, gsi } entries (PackageOp, PkgLength, NumElements 4, DWord, pin, Zero, Byte gsi). */
static void test_dsdt_pci_prt(void **state)
{
	struct fixture *f = *state;
	uint8_t *dsdt;
	size_t len;

	f->cfg.have_pci = 1;
	assert_int_equal(acpi_build_dsdt(&f->cfg, &dsdt, &len), 0);
	assert_int_equal(contains(dsdt, len, "_PRT", 4), 1);
	/* Device 1 INTA -> GSI 16 (pin Zero). */
	const uint8_t d1a[] = {0x12, 0x0b, 4, 0x0c, 0xff, 0xff, 1, 0, 0x00, 0x00, 0x0a, 16};
	assert_int_equal(contains(dsdt, len, d1a, sizeof(d1a)), 1);
	assert_int_equal(GSI_PCI_INTX(1, 0), 16);
	/* Device 8 INTD -> GSI 18 (swizzled). */
	const uint8_t d8d[] = {0x12, 0x0c, 4, 0x0c, 0xff, 0xff, 8, 0, 0x0a, 3, 0x00, 0x0a, 18};
	assert_int_equal(contains(dsdt, len, d8d, sizeof(d8d)), 1);
	assert_int_equal(GSI_PCI_INTX(8, 3), 18);
	/* Every slot's INTA has its own GSI among the IOAPIC-only pins. */
	for (unsigned d = 1; d <= LAYOUT_PCI_MAX_DEVICES; d++) {
		assert_true(GSI_PCI_INTX(d, 0) >= 16 && GSI_PCI_INTX(d, 0) < IOAPIC_NR_PINS);
		for (unsigned e = 1; e < d; e++)
			assert_int_not_equal(GSI_PCI_INTX(d, 0), GSI_PCI_INTX(e, 0));
	}
	free(dsdt);
}

static void test_dsdt_without_pci(void **state)
{
	struct fixture *f = *state;
	uint8_t *dsdt;
	size_t len;
	uint32_t v;

	f->cfg.have_pci = 0;
	f->cfg.nr_virtio_mmio = 0;
	assert_int_equal(acpi_build_dsdt(&f->cfg, &dsdt, &len), 0);
	assert_int_equal(acpi_checksum(dsdt, len), 0);
	assert_int_equal(contains(dsdt, len, "PCI0", 4), 0);
	assert_int_equal(contains(dsdt, len, "LNRO0005", 8), 0);
	assert_int_equal(aml_eisaid_value("PNP0501", &v), 0);
	assert_int_equal(contains(dsdt, len, &v, 4), 1);
	free(dsdt);
}

static void test_window_rewritten(void **state)
{
	struct fixture *f = *state;
	uint64_t rsdp;

	memset(f->mem + LAYOUT_ACPI_START, 0xaa, LAYOUT_ACPI_END - LAYOUT_ACPI_START);
	f->mem[LAYOUT_ACPI_START - 1] = 0x55;
	f->mem[LAYOUT_ACPI_END] = 0x55;
	assert_int_equal(acpi_build(&f->gm, &f->cfg, &rsdp), 0);
	assert_int_equal(f->mem[LAYOUT_ACPI_END - 1], 0);
	assert_int_equal(f->mem[LAYOUT_ACPI_START - 1], 0x55);
	assert_int_equal(f->mem[LAYOUT_ACPI_END], 0x55);
	assert_true(gmem_test_and_clear_dirty(&f->gm, LAYOUT_ACPI_START));
}

static void test_max_config_fits(void **state)
{
	struct fixture *f = *state;

	f->cfg.ncpus = ACPI_MAX_CPUS;
	f->cfg.nr_virtio_mmio = ACPI_MAX_VIRTIO_MMIO;
	for (unsigned i = 0; i < ACPI_MAX_VIRTIO_MMIO; i++) {
		f->cfg.virtio_mmio[i].base = LAYOUT_VIRTIO_MMIO_START + i * LAYOUT_VIRTIO_MMIO_SLOT;
		f->cfg.virtio_mmio[i].size = LAYOUT_VIRTIO_MMIO_SLOT;
		f->cfg.virtio_mmio[i].gsi = (GSI_VIRTIO_FIRST + i) % IOAPIC_NR_PINS;
	}
	check_madt(f, ACPI_MAX_CPUS);
	const uint8_t *fadt = find_fadt(f);
	const uint8_t *dsdt = table_at(f, rd64(fadt + 140), "DSDT");
	assert_int_equal(contains(dsdt, rd32(dsdt + 4), "VR1F", 4), 1);
	assert_int_equal(contains(dsdt, rd32(dsdt + 4), "C0FE", 4), 1);
}

static void test_e2big(void **state)
{
	struct fixture *f = *state;
	uint64_t rsdp = 0;

	memset(f->mem + LAYOUT_ACPI_START, 0xaa, 4096);
	f->cfg.nr_virtio_mmio = ACPI_MAX_VIRTIO_MMIO;
	for (unsigned i = 0; i < ACPI_MAX_VIRTIO_MMIO; i++) {
		f->cfg.virtio_mmio[i].base = LAYOUT_VIRTIO_MMIO_START + i * LAYOUT_VIRTIO_MMIO_SLOT;
		f->cfg.virtio_mmio[i].size = LAYOUT_VIRTIO_MMIO_SLOT;
		f->cfg.virtio_mmio[i].gsi = GSI_VIRTIO_FIRST;
	}
	/* 32 devices do not fit a 2 KiB window; nothing is written. */
	assert_int_equal(
	    acpi_build_at(&f->gm, &f->cfg, LAYOUT_ACPI_START, LAYOUT_ACPI_START + 2048, &rsdp),
	    -E2BIG);
	assert_int_equal(rsdp, 0);
	assert_int_equal(f->mem[LAYOUT_ACPI_START], 0xaa);
	/* An absurd device count is refused before anything is built. */
	f->cfg.nr_virtio_mmio = 100000;
	assert_int_equal(acpi_build(&f->gm, &f->cfg, &rsdp), -EINVAL);
	assert_int_equal(f->mem[LAYOUT_ACPI_START], 0xaa);
}

static void test_bad_config(void **state)
{
	struct fixture *f = *state;
	uint64_t rsdp;

	f->cfg.ncpus = 0;
	assert_int_equal(acpi_build(&f->gm, &f->cfg, &rsdp), -EINVAL);
	f->cfg.ncpus = ACPI_MAX_CPUS + 1;
	assert_int_equal(acpi_build(&f->gm, &f->cfg, &rsdp), -EINVAL);
	f->cfg.ncpus = 1;
	f->cfg.virtio_mmio[1].gsi = IOAPIC_NR_PINS;
	assert_int_equal(acpi_build(&f->gm, &f->cfg, &rsdp), -EINVAL);
	f->cfg.virtio_mmio[1].gsi = GSI_VIRTIO_FIRST;
	f->cfg.virtio_mmio[1].base = GMEM_HOLE_END;
	assert_int_equal(acpi_build(&f->gm, &f->cfg, &rsdp), -EINVAL);
	f->cfg.virtio_mmio[1].base = GMEM_HOLE_END - 0x1000;
	f->cfg.virtio_mmio[1].size = 0x2000;
	assert_int_equal(acpi_build(&f->gm, &f->cfg, &rsdp), -EINVAL);
	f->cfg.virtio_mmio[1].size = 0;
	assert_int_equal(acpi_build(&f->gm, &f->cfg, &rsdp), -EINVAL);
	f->cfg.virtio_mmio[1].size = 0x1000;
	/* Misaligned window, and a window that is not guest RAM. */
	assert_int_equal(
	    acpi_build_at(&f->gm, &f->cfg, LAYOUT_ACPI_START + 4, LAYOUT_ACPI_END, &rsdp), -EINVAL);
	assert_int_equal(acpi_build_at(&f->gm, &f->cfg, MEM_SIZE, MEM_SIZE + 0x20000, &rsdp),
			 -EFAULT);
	assert_int_equal(acpi_build(&f->gm, &f->cfg, &rsdp), 0);
}

static void test_checksum_fix(void **state)
{
	uint8_t t[40];

	(void)state;
	for (int i = 0; i < 40; i++)
		t[i] = (uint8_t)(i * 7);
	acpi_checksum_fix(t, sizeof(t), 9);
	assert_int_equal(acpi_checksum(t, sizeof(t)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_rsdp, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_all_tables, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fadt_fields, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_madt_1, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_madt_2, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_madt_8, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dsdt_contents, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dsdt_virtio_crs, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dsdt_virtio_layout, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dsdt_pci_prt, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dsdt_without_pci, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_window_rewritten, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_max_config_fits, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_e2big, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_config, setup, teardown),
	    cmocka_unit_test(test_checksum_fix),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
