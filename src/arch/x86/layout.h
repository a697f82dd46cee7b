/* Guest-physical layout of the vmon PC machine. One place for every fixed address. */
#ifndef VMON_ARCH_X86_LAYOUT_H
#define VMON_ARCH_X86_LAYOUT_H

/* Low memory used by the boot loaders (all below 1 MiB, reported as RAM in e820 except where
 * marked reserved). */
#define LAYOUT_BOOT_GDT 0x500ull   /* boot GDT: null, null, code 0x10, data 0x18 */
#define LAYOUT_BOOT_INFO 0x1000ull /* multiboot info / PVH start_info and their tables */
#define LAYOUT_BOOT_INFO_END 0x7000ull
#define LAYOUT_ZERO_PAGE 0x7000ull /* Linux boot_params */
#define LAYOUT_PML4 0x9000ull	   /* identity page tables for 64-bit entry */
#define LAYOUT_PDPT 0xa000ull
#define LAYOUT_PD 0xb000ull	  /* 4 pages: 0xb000-0xefff, 2 MiB pages over 4 GiB */
#define LAYOUT_CMDLINE 0x20000ull /* kernel command line */
#define LAYOUT_CMDLINE_MAX 0x10000ull
#define LAYOUT_EBDA 0x9fc00ull	     /* reserved from here to 0xa0000 */
#define LAYOUT_BIOS_START 0xe0000ull /* reserved: ACPI tables live here */
#define LAYOUT_BIOS_END 0x100000ull
#define LAYOUT_ACPI_START 0xe0000ull /* RSDP first (16-byte aligned), then the tables */
#define LAYOUT_ACPI_END 0x100000ull
#define LAYOUT_KERNEL 0x100000ull /* bzImage protected-mode code, a.out multiboot default */

/* MMIO in the 32-bit hole [GMEM_HOLE_START, 4 GiB). */
#define LAYOUT_PCI_MMIO_START 0xc0000000ull /* PCI 32-bit MMIO window */
#define LAYOUT_PCI_MMIO_END 0xd0000000ull
/* virtio-mmio: slot n at START + n * SLOT (4 KiB apart, page-aligned), of which the first
 * LAYOUT_VIRTIO_MMIO_SIZE bytes (registers 0x000-0x0ff, configuration space 0x100-0x1ff) are what
 * ACPI and virtio_mmio.device= announce. The range lies in the 32-bit hole between the PCI window
 * and the ECAM window, outside every e820 entry and outside PCI0's _CRS. Slot n raises GSI
 * GSI_VIRTIO_FIRST + n (IOAPIC-only pins 16-23, level-triggered, active high), so at most
 * LAYOUT_VIRTIO_MMIO_MAX devices. */
#define LAYOUT_VIRTIO_MMIO_START 0xd0000000ull
#define LAYOUT_VIRTIO_MMIO_SLOT 0x1000ull
#define LAYOUT_VIRTIO_MMIO_SIZE 0x200ull
#define LAYOUT_VIRTIO_MMIO_MAX 8
/* PCI devices (--transport pci): bus 0, device n for n = 1..LAYOUT_PCI_MAX_DEVICES, BARs assigned
 * by the guest inside [LAYOUT_PCI_MMIO_START, LAYOUT_PCI_MMIO_END) (PCI0's _CRS). */
#define LAYOUT_PCI_MAX_DEVICES 8
#define LAYOUT_PCI_ECAM 0xe0000000ull /* reserved for PCIe ECAM (256 MiB) */
#define LAYOUT_IOAPIC 0xfec00000ull
#define LAYOUT_TESTDEV_MMIO 0xfebf0000ull /* test device scratch MMIO (4 KiB), --testdev only */
#define LAYOUT_LAPIC 0xfee00000ull

/* Legacy I/O ports. */
#define PORT_I8042_DATA 0x60
#define PORT_I8042_CMD 0x64
#define PORT_RTC 0x70
#define PORT_TESTDEV 0xe0 /* 16 ports, --testdev only */
#define PORT_DEBUG_EXIT 0xf4
#define PORT_COM1 0x3f8
#define PORT_FW_CFG 0x510
#define PORT_ACPI_PM 0x600    /* PM1a_EVT 0x600 (4), PM1a_CNT 0x604 (2), PM_TMR 0x608 (4) */
#define PORT_PCI_CONFIG 0xcf8 /* 0xcf8 address, 0xcf9 reset control, 0xcfc-0xcff data */

/* Interrupt wiring (GSIs). ISA IRQ 0 (PIT) arrives on IOAPIC pin 2, as on a PC and in QEMU;
 * the MADT carries the matching interrupt source override. */
#define GSI_PIT 2
#define GSI_I8042_KBD 1
#define GSI_COM1 4
#define GSI_RTC 8
#define GSI_ACPI_SCI 9
#define GSI_I8042_AUX 12
#define GSI_VIRTIO_FIRST 16 /* virtio-mmio slot n uses GSI 16+n, n < LAYOUT_VIRTIO_MMIO_MAX */
/* PCI INTx (the DSDT's _PRT): device d, pin p (0 = INTA) raises GSI_PCI_INTX(d, p), on the pins
 * virtio-mmio would use (a machine has one virtio transport), level-triggered; a PCI device
 * uses INTA, so devices 1-8 have a GSI each. */
#define GSI_PCI_FIRST 16
#define GSI_PCI_INTX(dev, pin) (GSI_PCI_FIRST + ((dev) + (pin)-1u) % 8u)
#define IOAPIC_NR_PINS 24

#endif
