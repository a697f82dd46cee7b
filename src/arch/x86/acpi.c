/* ACPI static tables: RSDP, XSDT, RSDT, FADT, FACS and MADT, laid out in one host image and copied
 * into the reserved ACPI window with gmem_write. The DSDT comes from acpi_dsdt.c. Field offsets
 * follow ACPI 6.x chapter 5.2. */
#include "arch/x86/acpi.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/layout.h"
#include "core/log.h"

#define ACPI_XSDT_ENTRIES 2 /* FADT, MADT */
#define ACPI_MADT_HEAD_LEN 44
#define ACPI_MADT_LAPIC_LEN 8
#define ACPI_MADT_IOAPIC_LEN 12
#define ACPI_MADT_ISO_LEN 10
#define ACPI_MADT_NMI_LEN 6

/* Generic Address Structure address spaces and access sizes. */
#define GAS_SYSTEM_IO 1
#define GAS_ACCESS_BYTE 1
#define GAS_ACCESS_WORD 2
#define GAS_ACCESS_DWORD 3

/* PM register block (hw/acpi_pm) as the FADT describes it. */
#define PM1_EVT_LEN 4
#define PM1_CNT_LEN 2
#define PM_TMR_LEN 4

/* Where each table sits, as offsets from the window start. */
struct acpi_layout {
	size_t rsdp, xsdt, rsdt, fadt, facs, madt, dsdt, total;
	size_t xsdt_len, rsdt_len, madt_len, dsdt_len;
};

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

uint8_t acpi_checksum(const void *data, size_t len)
{
	const uint8_t *p = data;
	uint8_t sum = 0;

	for (size_t i = 0; i < len; i++)
		sum = (uint8_t)(sum + p[i]);
	return sum;
}

void acpi_checksum_fix(uint8_t *table, size_t len, size_t csum_off)
{
	table[csum_off] = 0;
	table[csum_off] = (uint8_t)-acpi_checksum(table, len);
}

void acpi_header_init(uint8_t *p, const char *sig, uint32_t len, uint8_t rev)
{
	memcpy(p, sig, 4);
	put32(p + 4, len);
	p[8] = rev;
	p[9] = 0;
	memcpy(p + 10, ACPI_OEM_ID, 6);
	memcpy(p + 16, ACPI_OEM_TABLE_ID, 8);
	put32(p + 24, 1); /* OEM revision */
	memcpy(p + 28, ACPI_CREATOR_ID, 4);
	put32(p + 32, 1); /* creator revision */
}

static void acpi_gas(uint8_t *p, uint8_t space, uint8_t bits, uint8_t access, uint64_t addr)
{
	p[0] = space;
	p[1] = bits;
	p[2] = 0; /* bit offset */
	p[3] = access;
	put64(p + 4, addr);
}

static int acpi_config_check(const struct acpi_config *cfg)
{
	if (cfg->ncpus == 0 || cfg->ncpus > ACPI_MAX_CPUS)
		return -EINVAL;
	if (cfg->nr_virtio_mmio > ACPI_MAX_VIRTIO_MMIO)
		return -EINVAL;
	for (unsigned i = 0; i < cfg->nr_virtio_mmio; i++) {
		uint64_t base = cfg->virtio_mmio[i].base, size = cfg->virtio_mmio[i].size;

		if (size == 0 || base >= GMEM_HOLE_END || size > GMEM_HOLE_END - base)
			return -EINVAL;
		if (cfg->virtio_mmio[i].gsi >= IOAPIC_NR_PINS)
			return -EINVAL;
	}
	return 0;
}

/* Reserve len bytes at the next multiple of align (a power of two) below limit. */
static int acpi_place(size_t *cur, size_t len, size_t align, size_t limit, size_t *off)
{
	size_t start = (*cur + align - 1) & ~(align - 1), end;

	if (start < *cur || __builtin_add_overflow(start, len, &end) || end > limit)
		return -E2BIG;
	*off = start;
	*cur = end;
	return 0;
}

static int acpi_plan(const struct acpi_config *cfg, size_t dsdt_len, size_t limit,
		     struct acpi_layout *l)
{
	size_t cur = 0;

	l->xsdt_len = ACPI_HEADER_LEN + 8 * ACPI_XSDT_ENTRIES;
	l->rsdt_len = ACPI_HEADER_LEN + 4 * ACPI_XSDT_ENTRIES;
	l->madt_len = ACPI_MADT_HEAD_LEN + (size_t)cfg->ncpus * ACPI_MADT_LAPIC_LEN +
		      ACPI_MADT_IOAPIC_LEN + 2 * ACPI_MADT_ISO_LEN + ACPI_MADT_NMI_LEN;
	l->dsdt_len = dsdt_len;

	const struct {
		size_t len, align, *off;
	} order[] = {
	    {ACPI_RSDP_LEN, 16, &l->rsdp}, {l->xsdt_len, 16, &l->xsdt},
	    {l->rsdt_len, 16, &l->rsdt},   {ACPI_FADT_LEN, 16, &l->fadt},
	    {ACPI_FACS_LEN, 64, &l->facs}, {l->madt_len, 16, &l->madt},
	    {l->dsdt_len, 16, &l->dsdt},
	};
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		int ret = acpi_place(&cur, order[i].len, order[i].align, limit, order[i].off);

		if (ret)
			return ret;
	}
	l->total = cur;
	return 0;
}

static void acpi_write_rsdp(uint8_t *img, const struct acpi_layout *l, uint64_t base)
{
	uint8_t *p = img + l->rsdp;

	memcpy(p, "RSD PTR ", 8);
	memcpy(p + 9, ACPI_OEM_ID, 6);
	p[15] = 2; /* revision: ACPI 2.0+ with XSDT */
	put32(p + 16, (uint32_t)(base + l->rsdt));
	put32(p + 20, ACPI_RSDP_LEN);
	put64(p + 24, base + l->xsdt);
	acpi_checksum_fix(p, 20, 8);
	acpi_checksum_fix(p, ACPI_RSDP_LEN, 32);
}

static void acpi_write_sdts(uint8_t *img, const struct acpi_layout *l, uint64_t base)
{
	const size_t entries[ACPI_XSDT_ENTRIES] = {l->fadt, l->madt};
	uint8_t *x = img + l->xsdt, *r = img + l->rsdt;

	acpi_header_init(x, "XSDT", (uint32_t)l->xsdt_len, 1);
	acpi_header_init(r, "RSDT", (uint32_t)l->rsdt_len, 1);
	for (int i = 0; i < ACPI_XSDT_ENTRIES; i++) {
		put64(x + ACPI_HEADER_LEN + 8 * i, base + entries[i]);
		put32(r + ACPI_HEADER_LEN + 4 * i, (uint32_t)(base + entries[i]));
	}
	acpi_checksum_fix(x, l->xsdt_len, 9);
	acpi_checksum_fix(r, l->rsdt_len, 9);
}

static void acpi_write_fadt(uint8_t *img, const struct acpi_layout *l, uint64_t base)
{
	uint8_t *p = img + l->fadt;
	uint64_t facs = base + l->facs, dsdt = base + l->dsdt;

	acpi_header_init(p, "FACP", ACPI_FADT_LEN, 6);
	put32(p + 36, (uint32_t)facs);	 /* FIRMWARE_CTRL */
	put32(p + 40, (uint32_t)dsdt);	 /* DSDT */
	p[45] = 0;			 /* Preferred_PM_Profile: unspecified */
	put16(p + 46, GSI_ACPI_SCI);	 /* SCI_INT */
	put32(p + 48, 0);		 /* SMI_CMD 0: always in ACPI mode */
	put32(p + 56, PORT_ACPI_PM);	 /* PM1a_EVT_BLK */
	put32(p + 64, PORT_ACPI_PM + 4); /* PM1a_CNT_BLK */
	put32(p + 76, PORT_ACPI_PM + 8); /* PM_TMR_BLK */
	p[88] = PM1_EVT_LEN;
	p[89] = PM1_CNT_LEN;
	p[91] = PM_TMR_LEN;
	put16(p + 96, 0x0fff); /* P_LVL2_LAT > 100: no C2 */
	put16(p + 98, 0x0fff); /* P_LVL3_LAT > 1000: no C3 */
	p[108] = 0;	       /* CENTURY: no CMOS century register advertised */
	put16(p + 109, ACPI_BOOT_LEGACY_DEVICES | ACPI_BOOT_8042);
	put32(p + 112, ACPI_FADT_WBINVD | ACPI_FADT_PROC_C1 | ACPI_FADT_SLP_BUTTON |
			   ACPI_FADT_FIX_RTC | ACPI_FADT_TMR_VAL_EXT | ACPI_FADT_RESET_REG_SUP);
	acpi_gas(p + 116, GAS_SYSTEM_IO, 8, GAS_ACCESS_BYTE, ACPI_RESET_PORT); /* RESET_REG */
	p[128] = ACPI_RESET_VALUE;
	p[131] = 0;	      /* FADT minor version */
	put64(p + 132, facs); /* X_FIRMWARE_CTRL */
	put64(p + 140, dsdt); /* X_DSDT */
	acpi_gas(p + 148, GAS_SYSTEM_IO, 8 * PM1_EVT_LEN, GAS_ACCESS_WORD, PORT_ACPI_PM);
	acpi_gas(p + 172, GAS_SYSTEM_IO, 8 * PM1_CNT_LEN, GAS_ACCESS_WORD, PORT_ACPI_PM + 4);
	acpi_gas(p + 208, GAS_SYSTEM_IO, 8 * PM_TMR_LEN, GAS_ACCESS_DWORD, PORT_ACPI_PM + 8);
	acpi_checksum_fix(p, ACPI_FADT_LEN, 9);
}

static void acpi_write_facs(uint8_t *img, const struct acpi_layout *l)
{
	uint8_t *p = img + l->facs;

	memcpy(p, "FACS", 4);
	put32(p + 4, ACPI_FACS_LEN);
	p[32] = 2; /* version */
}

static void acpi_write_madt(uint8_t *img, const struct acpi_layout *l,
			    const struct acpi_config *cfg)
{
	uint8_t *p = img + l->madt, *e;

	acpi_header_init(p, "APIC", (uint32_t)l->madt_len, 4);
	put32(p + 36, (uint32_t)LAYOUT_LAPIC);
	put32(p + 40, ACPI_MADT_PCAT_COMPAT);
	e = p + ACPI_MADT_HEAD_LEN;
	for (unsigned i = 0; i < cfg->ncpus; i++, e += ACPI_MADT_LAPIC_LEN) {
		e[0] = ACPI_MADT_LAPIC;
		e[1] = ACPI_MADT_LAPIC_LEN;
		e[2] = (uint8_t)i; /* ACPI processor UID */
		e[3] = (uint8_t)i; /* APIC id */
		put32(e + 4, 1);   /* enabled */
	}
	e[0] = ACPI_MADT_IOAPIC;
	e[1] = ACPI_MADT_IOAPIC_LEN;
	e[2] = (uint8_t)acpi_ioapic_id(cfg);
	put32(e + 4, (uint32_t)LAYOUT_IOAPIC);
	put32(e + 8, 0); /* GSI base */
	e += ACPI_MADT_IOAPIC_LEN;
	/* ISA IRQ 0 (PIT) on GSI 2, bus conformant polarity and trigger. */
	e[0] = ACPI_MADT_ISO;
	e[1] = ACPI_MADT_ISO_LEN;
	e[3] = 0;
	put32(e + 4, GSI_PIT);
	put16(e + 8, 0);
	e += ACPI_MADT_ISO_LEN;
	/* ISA IRQ 9 (SCI) level-triggered, active high. */
	e[0] = ACPI_MADT_ISO;
	e[1] = ACPI_MADT_ISO_LEN;
	e[3] = GSI_ACPI_SCI;
	put32(e + 4, GSI_ACPI_SCI);
	put16(e + 8, 0x000d);
	e += ACPI_MADT_ISO_LEN;
	/* NMI on LINT1 of every processor. */
	e[0] = ACPI_MADT_LAPIC_NMI;
	e[1] = ACPI_MADT_NMI_LEN;
	e[2] = 0xff;
	put16(e + 3, 0);
	e[5] = 1;
	acpi_checksum_fix(p, l->madt_len, 9);
}

int acpi_build_at(struct gmem *gm, const struct acpi_config *cfg, uint64_t start, uint64_t end,
		  uint64_t *rsdp_gpa)
{
	struct acpi_layout l;
	uint8_t *dsdt = NULL, *img = NULL;
	size_t dsdt_len = 0;
	int ret;

	if ((start & 15) || end <= start || end > GMEM_HOLE_END)
		return -EINVAL;
	ret = acpi_config_check(cfg);
	if (ret)
		return ret;
	ret = acpi_build_dsdt(cfg, &dsdt, &dsdt_len);
	if (ret)
		return ret;
	ret = acpi_plan(cfg, dsdt_len, end - start, &l);
	if (ret)
		goto out;
	if (!gmem_is_ram(gm, start, end - start)) {
		ret = -EFAULT;
		goto out;
	}
	img = calloc(1, l.total);
	if (!img) {
		ret = -ENOMEM;
		goto out;
	}
	memcpy(img + l.dsdt, dsdt, dsdt_len);
	acpi_write_facs(img, &l);
	acpi_write_madt(img, &l, cfg);
	acpi_write_fadt(img, &l, start);
	acpi_write_sdts(img, &l, start);
	acpi_write_rsdp(img, &l, start);

	ret = gmem_write(gm, start, img, l.total);
	if (!ret)
		ret = gmem_fill(gm, start + l.total, 0, end - start - l.total);
	if (ret)
		goto out;
	log_debug("acpi: %zu bytes of tables at 0x%llx (%u cpus, %u virtio-mmio, pci %d)", l.total,
		  (unsigned long long)start, cfg->ncpus, cfg->nr_virtio_mmio, cfg->have_pci);
	*rsdp_gpa = start + l.rsdp;
out:
	free(img);
	free(dsdt);
	return ret;
}

int acpi_build(struct gmem *gm, const struct acpi_config *cfg, uint64_t *rsdp_gpa)
{
	return acpi_build_at(gm, cfg, LAYOUT_ACPI_START, LAYOUT_ACPI_END, rsdp_gpa);
}
