/* Internals of the virtio-pci transport shared by virtio_pci.c (function, capabilities, MSI-X,
 * save/load) and virtio_pci_regs.c (the BAR4 structures). */
#ifndef VMON_VIRTIO_VIRTIO_PCI_PRIV_H
#define VMON_VIRTIO_VIRTIO_PCI_PRIV_H

#include <stdatomic.h>
#include <stdbool.h>

#include "virtio/virtio_pci.h"

struct virtio_pci {
	struct pci_device pci; /* config space: PCI host lock */
	struct virtio_dev *vdev;
	struct virtio_pci_wiring w;
	unsigned nr_vectors;   /* nr_queues + 1 */
	unsigned pci_cfg_cap;  /* config offset of the PCI_CFG capability */
	unsigned msix_cap;     /* config offset of the MSI-X capability */
	atomic_int intx_level; /* for the status register's interrupt bit (read under host lock) */

	/* Protected by vdev->lock. */
	uint32_t isr;
	uint32_t device_features_sel;
	uint32_t driver_features_sel;
	uint32_t queue_sel;
	uint16_t config_vector;
	uint16_t queue_vector[VIRTIO_MAX_QUEUES];
	uint32_t msix_table[VIRTIO_PCI_MAX_VECTORS][4]; /* addr lo, addr hi, data, control */
	uint32_t msix_pba;
	/* Copies of config-space bits, refreshed by the config_write hook (both locks held). */
	bool msix_enabled;
	bool msix_masked; /* function mask */
	bool intx_disabled;
	bool bus_master;
	bool intx_on; /* what the INTx line was last set to */
};

/* Set the INTx line from ISR and the cached command/MSI-X bits. Device lock held. */
void virtio_pci_update_intx(struct virtio_pci *p);

/* BAR4 accesses (take the device lock; the DRIVER_OK kick runs after it is released). */
uint64_t virtio_pci_bar_read(struct virtio_pci *p, uint64_t off, unsigned size);
void virtio_pci_bar_write(struct virtio_pci *p, uint64_t off, unsigned size, uint64_t val);

#endif
