/* The DSDT of the vmon PC machine, written with the AML builder. In ASL it reads:
 *
 *   DefinitionBlock ("", "DSDT", 2, "VMON  ", "VMONPC  ", 1) {
 *     Scope (\_SB) {
 *       Device (PCI0) { _HID PNP0A08, _CID PNP0A03, _UID 0, _SEG 0, _BBN 0,     (have_pci only)
 *                       _CRS { bus 0-ff, IO cf8/8, I/O 0-cf7 and d00-ffff, PCI MMIO window },
 *                       _PRT { INTA-D of devices 1-8 to GSI_PCI_INTX (layout.h) } }
 *       Device (COM1) { _HID PNP0501, _UID 1, _STA 0xf, _CRS { IO 3f8/8, IRQNoFlags {4} } }
 *       Device (RTC_) { _HID PNP0B00, _STA 0xf, _CRS { IO 70/2, IRQNoFlags {8} } }
 *       Device (KBD_) { _HID PNP0303, _STA 0xf, _CRS { IO 60/1, IO 64/1, IRQNoFlags {1} } }
 *       Device (PMIO) { _HID PNP0C02, _UID 1, _CRS { IO 600/12 } }
 *       Device (Cnnn) { _HID "ACPI0007", _UID n }                                (per vCPU)
 *       Device (VRnn) { _HID "LNRO0005", _UID n,                                 (per virtio-mmio)
 *                       _CRS { Memory32Fixed (RW, base, size),
 *                              Interrupt (Consumer, Level, ActiveHigh, Exclusive) { gsi } } }
 *     }
 *     Name (_S5, Package () { 5, 5, 0, 0 })
 *   }
 */
#include "arch/x86/acpi.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "arch/x86/aml.h"
#include "arch/x86/layout.h"

#define ACPI_DSDT_REVISION 2 /* 64-bit integers */
#define ACPI_PM_LEN 12
#define STA_PRESENT_ENABLED_SHOWN_OK 0x0f

/* Name(_CRS, <template in rb>) after closing the template; rb is freed. */
static void dsdt_crs(struct aml_buf *b, struct aml_buf *rb)
{
	aml_res_end(rb);
	if (aml_error(rb)) {
		if (!b->err)
			b->err = aml_error(rb);
	} else {
		aml_name_buffer(b, "_CRS", rb->data, rb->len);
	}
	aml_free(rb);
}

/* Method (_STA, 0, NotSerialized) { Return (0x0F) } */
static void dsdt_sta(struct aml_buf *b)
{
	size_t m = aml_method_begin(b, "_STA", 0, 0);

	aml_return_integer(b, STA_PRESENT_ENABLED_SHOWN_OK);
	aml_end(b, m);
}

/* Name (_PRT, Package () { Package () { dev << 16 | 0xffff, pin, 0, GSI }, ... }) for devices
 * 1..LAYOUT_PCI_MAX_DEVICES: a source of 0 means the last field is a GSI (level, active low for
 * Linux; the IOAPICs here ignore polarity, as KVM's and QEMU's do). */
static void dsdt_prt(struct aml_buf *b)
{
	size_t prt;

	aml_name(b, "_PRT");
	prt = aml_package_begin(b, LAYOUT_PCI_MAX_DEVICES * 4);
	for (unsigned d = 1; d <= LAYOUT_PCI_MAX_DEVICES; d++) {
		for (unsigned pin = 0; pin < 4; pin++) {
			size_t e = aml_package_begin(b, 4);
			aml_integer(b, (uint64_t)d << 16 | 0xffff);
			aml_integer(b, pin);
			aml_integer(b, 0);
			aml_integer(b, GSI_PCI_INTX(d, pin));
			aml_end(b, e);
		}
	}
	aml_end(b, prt);
}

static void dsdt_pci0(struct aml_buf *b)
{
	struct aml_buf rb;
	size_t dev = aml_device_begin(b, "PCI0");

	aml_name_eisaid(b, "_HID", "PNP0A08");
	aml_name_eisaid(b, "_CID", "PNP0A03");
	aml_name_integer(b, "_UID", 0);
	aml_name_integer(b, "_SEG", 0);
	aml_name_integer(b, "_BBN", 0);
	aml_init(&rb);
	aml_res_word_bus(&rb, 0x00, 0xff);
	aml_res_io(&rb, PORT_PCI_CONFIG, PORT_PCI_CONFIG, 1, 8);
	aml_res_dword_io(&rb, 0x0000, PORT_PCI_CONFIG - 1);
	aml_res_dword_io(&rb, 0x0d00, 0xffff);
	aml_res_dword_mem(&rb, AML_MEM_NONCACHEABLE, 1, (uint32_t)LAYOUT_PCI_MMIO_START,
			  (uint32_t)(LAYOUT_PCI_MMIO_END - 1));
	dsdt_crs(b, &rb);
	dsdt_prt(b);
	aml_end(b, dev);
}

/* A legacy ISA device with fixed I/O ranges (len 0 ends the list) and one edge IRQ. */
static void dsdt_isa_dev(struct aml_buf *b, const char *name, const char *hid, int uid,
			 const uint16_t io[][2], unsigned irq)
{
	struct aml_buf rb;
	size_t dev = aml_device_begin(b, name);

	aml_name_eisaid(b, "_HID", hid);
	if (uid >= 0)
		aml_name_integer(b, "_UID", (uint64_t)uid);
	dsdt_sta(b);
	aml_init(&rb);
	for (unsigned i = 0; io[i][1]; i++)
		aml_res_io(&rb, io[i][0], io[i][0], 1, (uint8_t)io[i][1]);
	aml_res_irq_noflags(&rb, irq);
	dsdt_crs(b, &rb);
	aml_end(b, dev);
}

static void dsdt_legacy(struct aml_buf *b)
{
	static const uint16_t com1_io[][2] = {{PORT_COM1, 8}, {0, 0}};
	static const uint16_t rtc_io[][2] = {{PORT_RTC, 2}, {0, 0}};
	static const uint16_t kbd_io[][2] = {{PORT_I8042_DATA, 1}, {PORT_I8042_CMD, 1}, {0, 0}};
	struct aml_buf rb;
	size_t dev;

	dsdt_isa_dev(b, "COM1", "PNP0501", 1, com1_io, GSI_COM1);
	dsdt_isa_dev(b, "RTC", "PNP0B00", -1, rtc_io, GSI_RTC);
	dsdt_isa_dev(b, "KBD", "PNP0303", -1, kbd_io, GSI_I8042_KBD);

	/* The PM register block, reserved as a motherboard resource. */
	dev = aml_device_begin(b, "PMIO");
	aml_name_eisaid(b, "_HID", "PNP0C02");
	aml_name_integer(b, "_UID", 1);
	aml_init(&rb);
	aml_res_io(&rb, PORT_ACPI_PM, PORT_ACPI_PM, 1, ACPI_PM_LEN);
	dsdt_crs(b, &rb);
	aml_end(b, dev);
}

static void dsdt_cpus(struct aml_buf *b, unsigned ncpus)
{
	char name[8];

	for (unsigned i = 0; i < ncpus; i++) {
		snprintf(name, sizeof(name), "C%03X", i & 0xfff);
		size_t dev = aml_device_begin(b, name);

		aml_name_string(b, "_HID", "ACPI0007");
		aml_name_integer(b, "_UID", i);
		aml_end(b, dev);
	}
}

static void dsdt_virtio(struct aml_buf *b, const struct acpi_config *cfg)
{
	char name[8];

	for (unsigned i = 0; i < cfg->nr_virtio_mmio; i++) {
		uint32_t gsi = cfg->virtio_mmio[i].gsi;
		struct aml_buf rb;
		size_t dev;

		snprintf(name, sizeof(name), "VR%02X", i & 0xff);
		dev = aml_device_begin(b, name);
		aml_name_string(b, "_HID", "LNRO0005");
		aml_name_integer(b, "_UID", i);
		aml_init(&rb);
		aml_res_mem32_fixed(&rb, 1, (uint32_t)cfg->virtio_mmio[i].base,
				    (uint32_t)cfg->virtio_mmio[i].size);
		aml_res_interrupt(&rb, AML_INT_CONSUMER, &gsi, 1);
		dsdt_crs(b, &rb);
		aml_end(b, dev);
	}
}

/* Name (_S5, Package () { SLP_TYPa, SLP_TYPb, 0, 0 }) */
static void dsdt_s5(struct aml_buf *b)
{
	size_t pkg;

	aml_name(b, "_S5");
	pkg = aml_package_begin(b, 4);
	aml_integer(b, ACPI_SLP_TYP_S5);
	aml_integer(b, ACPI_SLP_TYP_S5);
	aml_integer(b, 0);
	aml_integer(b, 0);
	aml_end(b, pkg);
}

int acpi_build_dsdt(const struct acpi_config *cfg, uint8_t **out, size_t *out_len)
{
	static const uint8_t zero_header[ACPI_HEADER_LEN];
	struct aml_buf b;
	size_t sb;
	int ret;

	if (cfg->ncpus == 0 || cfg->ncpus > ACPI_MAX_CPUS ||
	    cfg->nr_virtio_mmio > ACPI_MAX_VIRTIO_MMIO)
		return -EINVAL;
	aml_init(&b);
	aml_bytes(&b, zero_header, sizeof(zero_header));
	sb = aml_scope_begin(&b, "\\_SB");
	if (cfg->have_pci)
		dsdt_pci0(&b);
	dsdt_legacy(&b);
	dsdt_cpus(&b, cfg->ncpus);
	dsdt_virtio(&b, cfg);
	aml_end(&b, sb);
	dsdt_s5(&b);

	ret = aml_error(&b);
	if (!ret && b.len > UINT32_MAX)
		ret = -E2BIG;
	if (ret) {
		aml_free(&b);
		return ret;
	}
	acpi_header_init(b.data, "DSDT", (uint32_t)b.len, ACPI_DSDT_REVISION);
	acpi_checksum_fix(b.data, b.len, 9);
	*out = b.data;
	*out_len = b.len;
	return 0;
}
