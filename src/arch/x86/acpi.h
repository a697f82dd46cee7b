/* ACPI tables for the vmon PC machine: RSDP, XSDT, RSDT, FADT, FACS, MADT and a DSDT in AML.
 *
 * The tables describe the fixed machine of arch/x86/layout.h: legacy devices (COM1, RTC, i8042),
 * the ACPI PM register block of hw/acpi_pm (PORT_ACPI_PM, SCI on GSI_ACPI_SCI), the reset
 * register at 0xcf9, one IOAPIC, one local APIC per vCPU, an optional PCI host bridge, and the
 * virtio-mmio devices the caller lists. They are written into [LAYOUT_ACPI_START,
 * LAYOUT_ACPI_END), which the e820 map reports as reserved; the RSDP comes first, so a guest that
 * scans the BIOS area finds it. */
#ifndef VMON_ARCH_X86_ACPI_H
#define VMON_ARCH_X86_ACPI_H

#include <stddef.h>
#include <stdint.h>

#include "core/gmem.h"

#define ACPI_MAX_VIRTIO_MMIO 32
#define ACPI_MAX_CPUS 255 /* xAPIC ids are 8 bits; 0xff is the broadcast id */

#define ACPI_OEM_ID "VMON  "
#define ACPI_OEM_TABLE_ID "VMONPC  "
#define ACPI_CREATOR_ID "VMON"

#define ACPI_HEADER_LEN 36
#define ACPI_RSDP_LEN 36
#define ACPI_FADT_LEN 276 /* revision 6 */
#define ACPI_FACS_LEN 64

/* FADT fixed feature flags used (ACPI 6.x, table 5.10). */
#define ACPI_FADT_WBINVD (1u << 0)
#define ACPI_FADT_PROC_C1 (1u << 2)
#define ACPI_FADT_PWR_BUTTON (1u << 4) /* set: no fixed-feature power button */
#define ACPI_FADT_SLP_BUTTON (1u << 5) /* set: no fixed-feature sleep button */
#define ACPI_FADT_FIX_RTC (1u << 6)
#define ACPI_FADT_TMR_VAL_EXT (1u << 8)
#define ACPI_FADT_RESET_REG_SUP (1u << 10)
#define ACPI_FADT_HW_REDUCED (1u << 20)

/* IA-PC boot architecture flags. */
#define ACPI_BOOT_LEGACY_DEVICES (1u << 0)
#define ACPI_BOOT_8042 (1u << 1)

/* MADT entry types. */
#define ACPI_MADT_LAPIC 0
#define ACPI_MADT_IOAPIC 1
#define ACPI_MADT_ISO 2
#define ACPI_MADT_LAPIC_NMI 4
#define ACPI_MADT_PCAT_COMPAT 1u

/* The reset register value written to port 0xcf9 (full reset, as the PIIX/ICH RCR). */
#define ACPI_RESET_PORT 0xcf9
#define ACPI_RESET_VALUE 0x06

/* SLP_TYP value the DSDT's \_S5 object gives for soft-off (hw/acpi_pm acts on it). */
#define ACPI_SLP_TYP_S5 5

struct acpi_config {
	unsigned ncpus; /* 1..ACPI_MAX_CPUS; CPU i has APIC id i and ACPI processor UID i */
	struct {
		uint64_t base, size; /* MMIO window, below 4 GiB */
		unsigned gsi;	     /* level-triggered, active-high interrupt */
	} virtio_mmio[ACPI_MAX_VIRTIO_MMIO];
	unsigned nr_virtio_mmio;
	int have_pci; /* describe \_SB.PCI0, the host bridge at 0xcf8 */
};

/* The IOAPIC id the MADT gives for this configuration: ncpus, the first id after the local APICs,
 * so that it never clashes with a CPU. A userspace IOAPIC should report the same id. */
static inline unsigned acpi_ioapic_id(const struct acpi_config *cfg)
{
	return cfg->ncpus;
}

/* Build all tables into [LAYOUT_ACPI_START, LAYOUT_ACPI_END) of guest memory (the whole window is
 * rewritten; bytes after the tables are zero). Stores the RSDP's guest-physical address (always
 * LAYOUT_ACPI_START) in *rsdp_gpa. Returns 0, -EINVAL for a bad configuration (ncpus 0 or too
 * many, too many virtio devices, a device window not below 4 GiB, a GSI past the IOAPIC),
 * -E2BIG when the tables do not fit the window, -EFAULT when the window is not guest RAM, or
 * -ENOMEM. On failure guest memory is unchanged. */
int acpi_build(struct gmem *gm, const struct acpi_config *cfg, uint64_t *rsdp_gpa)
    __attribute__((warn_unused_result));

/* acpi_build into an arbitrary window [start, end) (start 16-byte aligned). acpi_build is this
 * with the LAYOUT_ACPI_* window; tests use it to exercise -E2BIG. Same contract otherwise. */
int acpi_build_at(struct gmem *gm, const struct acpi_config *cfg, uint64_t start, uint64_t end,
		  uint64_t *rsdp_gpa) __attribute__((warn_unused_result));

/* Byte sum of len bytes (mod 256). A valid table sums to zero. */
uint8_t acpi_checksum(const void *data, size_t len);

/* Set the byte at table[csum_off] so that the first len bytes of table sum to zero. */
void acpi_checksum_fix(uint8_t *table, size_t len, size_t csum_off);

/* Fill the 36-byte standard description header at hdr: signature sig (4 chars), length, revision,
 * the vmon OEM/creator ids, and a zero checksum (offset 9) for acpi_checksum_fix to set once the
 * body is written. */
void acpi_header_init(uint8_t *hdr, const char *sig, uint32_t len, uint8_t rev);

/* Build the DSDT (header + AML) for cfg into a newly allocated buffer (*out, *out_len; free()
 * it). Used by acpi_build; exported for tests and table dumps. Returns 0, -EINVAL or -ENOMEM. */
int acpi_build_dsdt(const struct acpi_config *cfg, uint8_t **out, size_t *out_len)
    __attribute__((warn_unused_result));

#endif
