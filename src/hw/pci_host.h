/* PCI host bridge with configuration mechanism #1 at PORT_PCI_CONFIG (0xcf8-0xcff), bus 0 only.
 *
 * Ports: a 32-bit access at 0xcf8 is CONFIG_ADDRESS (bit 31 enable, bits 23-16 bus, 15-11 device,
 * 10-8 function, 7-2 register; the low two and the reserved bits 30-24 read back as 0). A byte at
 * 0xcf9 is the reset control register: bits 1 and 3 are stored, and a write with bits 2 and 1 set
 * (0x06, 0x0e) asks the exit_sink for VM_EXIT_RESET. Any other access to 0xcf8-0xcfb reads all
 * ones and is ignored on write, as on real hardware. 0xcfc-0xcff is the data window: 1, 2 and
 * 4-byte accesses reach register (CONFIG_ADDRESS & 0xfc) + (port - 0xcfc) of the selected function
 * when the enable bit is set; otherwise, and for functions that do not exist, reads return all ones
 * and writes are dropped.
 *
 * Devices embed a struct pci_device: 256 bytes of config space with a write mask and a
 * write-1-to-clear mask per byte, up to six BARs whose sizing works generically (the BAR's write
 * mask keeps its size bits read-only, so writing all ones reads back the size mask), and optional
 * hooks. When a BAR's effective address changes (BAR write, or memory/I-O decode toggled in the
 * command register), the host calls the device's bar_map hook with the old and new addresses
 * (PCI_BAR_UNMAPPED when not decoded); mapping it on a bus is the device's business. Device
 * 00:00.0 is the host bridge itself: 8086:29c0 (Q35 MCH-like), class 0x060000, header type 0.
 *
 * Lock: the host has one mutex protecting CONFIG_ADDRESS, the reset control register, the device
 * table and the config space of every registered device. Device hooks are called with it held and
 * must not call back into the host; bar_map may (un)register on the MMIO bus (lock order: pci host
 * -> MMIO bus). An MMIO-side caller (future ECAM) must therefore not call pci_host_config_write
 * while holding the MMIO bus lock if a BAR change could result. The exit_sink is called after the
 * mutex is released. */
#ifndef VMON_HW_PCI_HOST_H
#define VMON_HW_PCI_HOST_H

#include <stdbool.h>
#include <stdint.h>

#include "core/bus.h"
#include "core/devif.h"

#define PCI_HOST_LEN 8
#define PCI_CONFIG_SIZE 256
#define PCI_EXT_CONFIG_SIZE 4096 /* accepted by the helpers; bytes past 256 read 0 */
#define PCI_NUM_BARS 6
#define PCI_BAR_UNMAPPED (~0ull)

/* bdf as used by the helpers: bus << 8 | device << 3 | function. */
#define PCI_BDF(bus, dev, fn) ((uint16_t)(((bus) << 8) | ((dev) << 3) | (fn)))

#define PCI_VENDOR_ID 0x00
#define PCI_DEVICE_ID 0x02
#define PCI_COMMAND 0x04
#define PCI_STATUS 0x06
#define PCI_REVISION_ID 0x08
#define PCI_CLASS_PROG 0x09
#define PCI_CACHE_LINE_SIZE 0x0c
#define PCI_LATENCY_TIMER 0x0d
#define PCI_HEADER_TYPE 0x0e
#define PCI_BASE_ADDRESS_0 0x10
#define PCI_SUBSYSTEM_VENDOR_ID 0x2c
#define PCI_SUBSYSTEM_ID 0x2e
#define PCI_ROM_ADDRESS 0x30
#define PCI_CAPABILITY_LIST 0x34
#define PCI_INTERRUPT_LINE 0x3c
#define PCI_INTERRUPT_PIN 0x3d

#define PCI_COMMAND_IO 0x0001
#define PCI_COMMAND_MEMORY 0x0002
#define PCI_COMMAND_MASTER 0x0004
#define PCI_COMMAND_PARITY 0x0040
#define PCI_COMMAND_SERR 0x0100
#define PCI_COMMAND_INTX_DISABLE 0x0400
#define PCI_STATUS_INTERRUPT 0x0008
#define PCI_STATUS_CAP_LIST 0x0010
#define PCI_HEADER_TYPE_MULTI 0x80

enum pci_bar_type { PCI_BAR_NONE = 0, PCI_BAR_IO, PCI_BAR_MEM32, PCI_BAR_MEM64 };

struct pci_bar {
	enum pci_bar_type type; /* MEM64 uses this slot and the next (whose type stays NONE) */
	uint64_t size;
	uint64_t addr; /* where it is decoded now, or PCI_BAR_UNMAPPED; maintained by the host */
};

struct pci_device {
	uint8_t config[PCI_CONFIG_SIZE];
	uint8_t wmask[PCI_CONFIG_SIZE];	  /* bits the guest may write */
	uint8_t w1cmask[PCI_CONFIG_SIZE]; /* bits a guest write of 1 clears (status errors) */
	struct pci_bar bars[PCI_NUM_BARS];
	/* Optional hooks, called with the host lock held. config_read gets the value the generic
	 * read produced and returns what the guest sees; config_write runs after the generic write
	 * (and any BAR remapping) took effect; bar_map reports a BAR's decoded address change. */
	uint32_t (*config_read)(struct pci_device *d, unsigned reg, unsigned size, uint32_t val);
	void (*config_write)(struct pci_device *d, unsigned reg, unsigned size, uint32_t val);
	void (*bar_map)(struct pci_device *d, unsigned bar, uint64_t old_addr, uint64_t new_addr);
	void *opaque;  /* for the owner */
	uint8_t devfn; /* set by pci_host_add_device */
	bool registered;
};

struct pci_host;

/* Saved host state: CONFIG_ADDRESS, the reset control register and the host bridge's config. */
struct pci_host_state {
	uint32_t config_addr;
	uint8_t rcr;
	uint8_t reserved[3];
	uint8_t bridge_config[PCI_CONFIG_SIZE];
};

extern const struct bus_ops pci_host_ops;

/* Reset *d to a function with the given IDs, class code (base << 16 | sub << 8 | prog-if) and
 * revision: header type 0, no BARs, no hooks; the guest may write the command register's IO,
 * memory, master, parity, SERR and INTx-disable bits, cache line size, latency timer and interrupt
 * line, and clear the status error bits by writing 1. Set hooks, capabilities and the interrupt
 * pin afterwards, before pci_host_add_device. */
void pci_device_init(struct pci_device *d, uint16_t vendor, uint16_t device, uint32_t class_code,
		     uint8_t revision);

/* Declare BAR `bar` of `size` bytes (a power of two: I/O 4..64 KiB, memory 16 bytes..2 GiB for
 * MEM32, 16 bytes..2^63 for MEM64, which also takes bar + 1). Sets the type bits and the write
 * mask that makes sizing work. Returns 0, -EINVAL for a bad size, type or index, -EBUSY when the
 * slot (or the next, for MEM64) is already used. Call before pci_host_add_device. */
int pci_device_init_bar(struct pci_device *d, unsigned bar, enum pci_bar_type type, uint64_t size,
			bool prefetchable) __attribute__((warn_unused_result));

/* Create a host with the host bridge at 00:00.0, asking reset for VM_EXIT_RESET on a 0xcf9 reset.
 * Returns 0 and sets *out, or -ENOMEM / -errno. */
int pci_host_create(struct exit_sink reset, struct pci_host **out)
    __attribute__((warn_unused_result));

/* Free the host (not the devices, which belong to their owners). */
void pci_host_destroy(struct pci_host *h);

/* Machine reset: CONFIG_ADDRESS and the reset control register to 0, and in every function's
 * standard header (0x04-0x3f) the guest-writable and write-1-to-clear bits cleared, which
 * disables decoding (bar_map reports the unmapping). Device-specific registers from 0x40 are the
 * owner's to reset. */
void pci_host_reset(struct pci_host *h);

/* Register d at bus 0, device dev (0-31), function fn (0-7). Marks function 0 multi-function when
 * the slot has several functions. d must stay valid until the host is destroyed. Returns 0,
 * -EINVAL for a bad slot or an already registered d, -EEXIST when the slot is taken. */
int pci_host_add_device(struct pci_host *h, unsigned dev, unsigned fn, struct pci_device *d)
    __attribute__((warn_unused_result));

/* Config-space access by bdf, for unit tests and ECAM. size is 1, 2 or 4 and [reg, reg+size) must
 * lie within one dword below PCI_EXT_CONFIG_SIZE (-EINVAL otherwise). Registers from 256 read 0
 * and ignore writes. Returns 0, or -ENODEV for a function that does not exist (reads then give all
 * ones of size). */
int pci_host_config_read(struct pci_host *h, uint16_t bdf, unsigned reg, unsigned size,
			 uint32_t *val);
int pci_host_config_write(struct pci_host *h, uint16_t bdf, unsigned reg, unsigned size,
			  uint32_t val);

/* Copy the host state (including the host bridge's config space) into *st. */
void pci_host_save(struct pci_host *h, struct pci_host_state *st);

/* Restore the host state after checking it: CONFIG_ADDRESS without reserved bits, the reset
 * control register with only bits 1 and 3, reserved bytes zero, and the bridge config as
 * pci_host_load_device checks it. Returns 0 or -EINVAL (unchanged). */
int pci_host_load(struct pci_host *h, const struct pci_host_state *st)
    __attribute__((warn_unused_result));

/* Copy registered device d's config space into cfg. */
void pci_host_save_device(struct pci_host *h, struct pci_device *d, uint8_t cfg[PCI_CONFIG_SIZE]);

/* Restore d's config space from cfg: every read-only bit (neither writable nor write-1-to-clear,
 * apart from the status register's interrupt bit) must equal d's current value, so an image from a
 * different device or with BAR type bits changed is rejected with -EINVAL. Then BAR mappings are
 * recomputed (bar_map called for changes). Returns 0, -ENOENT when d is not registered on h,
 * -EINVAL. */
int pci_host_load_device(struct pci_host *h, struct pci_device *d,
			 const uint8_t cfg[PCI_CONFIG_SIZE]) __attribute__((warn_unused_result));

#endif
