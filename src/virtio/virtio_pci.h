/* Virtio over PCI, modern (virtio 1.x, section 4.1): one PCI function on bus 0 of the PCI host
 * (hw/pci_host.h), vendor 0x1af4, device 0x1040 + device_id, revision 1, subsystem 0x1af4:0x1100,
 * interrupt pin INTA.
 *
 * BARs: BAR4 is a 64-bit memory BAR of VIRTIO_PCI_BAR_SIZE bytes with the virtio structures, one
 * per page: common configuration at VIRTIO_PCI_COMMON_OFF, ISR status at VIRTIO_PCI_ISR_OFF,
 * device configuration at VIRTIO_PCI_DEVICE_OFF (only when the device has some), notifications
 * at VIRTIO_PCI_NOTIFY_OFF (queue q at + 4 q: notify_off_multiplier 4, queue_notify_off q).
 * BAR1 is a 32-bit memory BAR of VIRTIO_PCI_MSIX_BAR_SIZE bytes with the MSI-X table (offset 0)
 * and pending-bit array (VIRTIO_PCI_MSIX_PBA_OFF). Capabilities, from 0x40: virtio COMMON_CFG,
 * NOTIFY_CFG, ISR_CFG, DEVICE_CFG (if any), PCI_CFG (the config-space window onto BAR4), then
 * MSI-X with nr_queues + 1 vectors.
 *
 * Common configuration fields take accesses of their natural width (64-bit fields also as two
 * 32-bit halves); other accesses read 0 and are ignored on write (logged, rate-limited). Reads of
 * read-only fields work at any width. queue_size reads 0 for a missing queue; queue_enable takes
 * only 1 (the driver must not write 0); queue_reset reads 0 (no VIRTIO_F_RING_RESET). A vector
 * write of a value >= the MSI-X table size stores VIRTIO_MSI_NO_VECTOR, which the driver reads
 * back. Notifications: a 2 or 4-byte write at the queue's notify address calls the notify callback
 * with the queue index (no lock held); the same callback runs for every ready queue when DRIVER_OK
 * is set. On kvm the machine registers an ioeventfd there instead (virtio_pci_notify_addr).
 *
 * Interrupts: with MSI-X enabled (and bus mastering on) a used buffer on queue q sends the queue's
 * vector, a configuration change the config vector, through the msi sink; a masked vector (entry
 * mask bit, or the function mask) sets its pending bit instead and is sent when unmasked;
 * VIRTIO_MSI_NO_VECTOR sends nothing. ISR bit 1 (config) is set either way; bit 0 (queue) only
 * without MSI-X. Without MSI-X the INTx line is high while ISR is non-zero and the command
 * register's INTx-disable bit is clear, and the status register's interrupt bit shows it. Reading
 * ISR returns and clears it.
 *
 * Locking: the transport's registers and MSI-X state are protected by the device lock
 * (virtio_dev.lock); its config space by the PCI host lock. The host's hooks run with the host
 * lock held and take the device lock (order: PCI host lock -> device lock -> interrupt
 * controller), so no caller may hold the device lock while calling into the host. The map
 * callback runs with the host lock held (it may change the MMIO bus). The msi sink and the INTx
 * line are called with the device lock held. */
#ifndef VMON_VIRTIO_VIRTIO_PCI_H
#define VMON_VIRTIO_VIRTIO_PCI_H

#include <stdint.h>

#include "core/bus.h"
#include "core/devif.h"
#include "hw/pci_host.h"
#include "virtio/virtio.h"

#define VIRTIO_PCI_VENDOR 0x1af4
#define VIRTIO_PCI_DEVICE_BASE 0x1040
#define VIRTIO_PCI_SUBSYS_ID 0x1100

#define VIRTIO_PCI_BAR 4 /* the virtio structures, 64-bit memory */
#define VIRTIO_PCI_BAR_SIZE 0x4000
#define VIRTIO_PCI_COMMON_OFF 0x0000
#define VIRTIO_PCI_COMMON_LEN 0x3c
#define VIRTIO_PCI_ISR_OFF 0x1000
#define VIRTIO_PCI_ISR_LEN 4
#define VIRTIO_PCI_DEVICE_OFF 0x2000
#define VIRTIO_PCI_NOTIFY_OFF 0x3000
#define VIRTIO_PCI_NOTIFY_MULT 4
#define VIRTIO_PCI_MSIX_BAR 1 /* MSI-X table and PBA, 32-bit memory */
#define VIRTIO_PCI_MSIX_BAR_SIZE 0x1000
#define VIRTIO_PCI_MSIX_PBA_OFF 0x800
#define VIRTIO_PCI_MAX_VECTORS (VIRTIO_MAX_QUEUES + 1)
#define VIRTIO_MSI_NO_VECTOR 0xffff

/* Capability layout. */
#define VIRTIO_PCI_CAP_FIRST 0x40
#define PCI_CAP_ID_VNDR 0x09
#define PCI_CAP_ID_MSIX 0x11
#define VIRTIO_PCI_CAP_COMMON_CFG 1
#define VIRTIO_PCI_CAP_NOTIFY_CFG 2
#define VIRTIO_PCI_CAP_ISR_CFG 3
#define VIRTIO_PCI_CAP_DEVICE_CFG 4
#define VIRTIO_PCI_CAP_PCI_CFG 5
#define PCI_MSIX_FLAGS_ENABLE 0x8000
#define PCI_MSIX_FLAGS_MASKALL 0x4000
#define PCI_MSIX_ENTRY_CTRL_MASKBIT 1u

/* Common configuration offsets (struct virtio_pci_common_cfg). */
#define VIRTIO_PCI_COMMON_DFSELECT 0x00
#define VIRTIO_PCI_COMMON_DF 0x04
#define VIRTIO_PCI_COMMON_GFSELECT 0x08
#define VIRTIO_PCI_COMMON_GF 0x0c
#define VIRTIO_PCI_COMMON_MSIX 0x10
#define VIRTIO_PCI_COMMON_NUMQ 0x12
#define VIRTIO_PCI_COMMON_STATUS 0x14
#define VIRTIO_PCI_COMMON_CFGGENERATION 0x15
#define VIRTIO_PCI_COMMON_Q_SELECT 0x16
#define VIRTIO_PCI_COMMON_Q_SIZE 0x18
#define VIRTIO_PCI_COMMON_Q_MSIX 0x1a
#define VIRTIO_PCI_COMMON_Q_ENABLE 0x1c
#define VIRTIO_PCI_COMMON_Q_NOFF 0x1e
#define VIRTIO_PCI_COMMON_Q_DESC 0x20
#define VIRTIO_PCI_COMMON_Q_AVAIL 0x28
#define VIRTIO_PCI_COMMON_Q_USED 0x30
#define VIRTIO_PCI_COMMON_Q_NDATA 0x38
#define VIRTIO_PCI_COMMON_Q_RESET 0x3a

struct virtio_pci;

/* Where MSI messages go (core/vpci on the machine, a recorder in tests): vector is the MSI-X
 * table entry the message comes from, for a sink that keeps per-vector state. Called with the
 * device lock held. Returns 0 or -errno. */
struct msi_sink {
	int (*send)(void *ctx, unsigned vector, uint64_t addr, uint32_t data);
	void *ctx;
};

/* Called (without locks) when the driver notifies queue `queue`. */
typedef void (*virtio_pci_notify_fn)(void *ctx, unsigned queue);

/* Called with the host lock held when BAR `bar` (VIRTIO_PCI_BAR or VIRTIO_PCI_MSIX_BAR) moves:
 * old_addr / new_addr are the decoded addresses or PCI_BAR_UNMAPPED. The owner (re)registers the
 * BAR on the MMIO bus with virtio_pci_bar_ops / virtio_pci_msix_ops and moves its ioeventfds. */
typedef void (*virtio_pci_map_fn)(void *ctx, unsigned bar, uint64_t old_addr, uint64_t new_addr);

struct virtio_pci_wiring {
	struct pci_host *host;
	unsigned slot; /* PCI device number on bus 0 (1..31), function 0 */
	struct irq_line intx;
	struct msi_sink msi;
	virtio_pci_notify_fn notify;
	virtio_pci_map_fn map; /* may be NULL */
	void *ctx;	       /* for notify and map */
};

/* Saved transport state: the function's config space, the registers and the MSI-X table/PBA,
 * with the device core's. */
struct virtio_pci_state {
	uint8_t pci_config[PCI_CONFIG_SIZE];
	uint32_t isr;
	uint32_t device_features_sel;
	uint32_t driver_features_sel;
	uint32_t queue_sel;
	uint16_t config_vector;
	uint16_t queue_vector[VIRTIO_MAX_QUEUES];
	uint16_t reserved;
	uint32_t msix_table[VIRTIO_PCI_MAX_VECTORS][4];
	uint32_t msix_pba;
	uint32_t reserved2;
	struct virtio_dev_state dev;
};

/* Bus handlers: BAR4 (register with len VIRTIO_PCI_BAR_SIZE) and BAR1 (VIRTIO_PCI_MSIX_BAR_SIZE),
 * dev = the virtio_pci. */
extern const struct bus_ops virtio_pci_bar_ops;
extern const struct bus_ops virtio_pci_msix_ops;

/* Create the transport for vdev (initialised, not attached to another transport) and register its
 * function at w->slot on w->host. The BARs start unassigned (the guest programs them). Lowers the
 * INTx line. Returns 0 and sets *out, or -EINVAL (no notify callback or msi sink), -ENOMEM, or
 * -EEXIST / -EINVAL from pci_host_add_device. */
int virtio_pci_create(struct virtio_dev *vdev, const struct virtio_pci_wiring *w,
		      struct virtio_pci **out) __attribute__((warn_unused_result));

/* Free the transport (not the device). Its BARs must no longer be on a bus and the host must not
 * be used for this function any more (destroy the host first, or do not access the slot). */
void virtio_pci_destroy(struct virtio_pci *p);

/* The device behind the transport, and its PCI function. */
struct virtio_dev *virtio_pci_dev(struct virtio_pci *p);
struct pci_device *virtio_pci_function(struct virtio_pci *p);

/* Machine reset (after pci_host_reset, which disables decoding): reset the device and the
 * transport registers, mask every MSI-X entry and clear its message and pending bit, clear the
 * MSI-X control and the PCI_CFG window registers, lower the line. Takes the host lock. */
void virtio_pci_reset(struct virtio_pci *p);

/* Offset of queue q's notify address from BAR4's base (a 2-byte write of q there notifies). */
uint64_t virtio_pci_notify_addr(unsigned q);

/* Save the transport, config space and device state into *st. Must not be called with the host
 * or device lock held. Returns 0 or -errno (from the device). */
int virtio_pci_save(struct virtio_pci *p, struct virtio_pci_state *st)
    __attribute__((warn_unused_result));

/* Replace the state with *st after checking it: vectors below the table size or NO_VECTOR, known
 * ISR bits (only with DRIVER_OK), pending bits within the table, reserved fields zero, the config
 * space as pci_host_load_device checks it (BARs are remapped through the map callback), and the
 * device core (virtio_dev_load_locked). Sets the INTx line from the loaded state and sends the
 * pending vectors that are not masked.
 * Returns 0, or -EINVAL leaving everything unchanged. Same locking rule as save. */
int virtio_pci_load(struct virtio_pci *p, const struct virtio_pci_state *st)
    __attribute__((warn_unused_result));

#endif
