/* virtio-pci: the PCI function (IDs, BARs, capabilities), its config-space hooks, MSI-X and INTx,
 * reset and save/load. The BAR4 structures are in virtio_pci_regs.c. See virtio_pci.h. */
#include "core/log.h"
#include "virtio/virtio_pci_priv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define VNDR_CAP_LEN 16
#define VNDR_CAP20_LEN 20 /* NOTIFY_CFG and PCI_CFG carry one more dword */
#define MSIX_CAP_LEN 12

static uint32_t cfg_get(const uint8_t *c, unsigned reg, unsigned size)
{
	uint32_t v = 0;
	for (unsigned i = 0; i < size; i++)
		v |= (uint32_t)c[reg + i] << (8 * i);
	return v;
}

static void cfg_set(uint8_t *c, unsigned reg, unsigned size, uint32_t v)
{
	for (unsigned i = 0; i < size; i++)
		c[reg + i] = (uint8_t)(v >> (8 * i));
}

static bool overlaps(unsigned reg, unsigned size, unsigned start, unsigned len)
{
	return reg < start + len && reg + size > start;
}

void virtio_pci_update_intx(struct virtio_pci *p)
{
	bool on = p->isr && !p->msix_enabled && !p->intx_disabled;

	if (on == p->intx_on)
		return;
	p->intx_on = on;
	atomic_store(&p->intx_level, on);
	irq_line_set(&p->w.intx, on);
}

/* Send vector v, or mark it pending while masked. Lock held, MSI-X enabled. */
static void msix_notify(struct virtio_pci *p, unsigned v)
{
	const uint32_t *e;
	int ret;

	if (v >= p->nr_vectors)
		return; /* VIRTIO_MSI_NO_VECTOR */
	e = p->msix_table[v];
	if (p->msix_masked || (e[3] & PCI_MSIX_ENTRY_CTRL_MASKBIT)) {
		p->msix_pba |= 1u << v;
		return;
	}
	if (!p->bus_master)
		return; /* the function may not write memory: the message is lost */
	ret = p->w.msi.send(p->w.msi.ctx, v, (uint64_t)e[1] << 32 | e[0], e[2]);
	if (ret)
		log_rl(
		    LOG_WARN, "%s: MSI-X vector %u (address 0x%llx, data 0x%x) not delivered: %d",
		    p->vdev->name, v, (unsigned long long)((uint64_t)e[1] << 32 | e[0]), e[2], ret);
}

/* Send the pending vectors that are no longer masked. Lock held. */
static void msix_flush(struct virtio_pci *p)
{
	if (!p->msix_enabled || p->msix_masked)
		return;
	for (unsigned v = 0; v < p->nr_vectors; v++) {
		if (!(p->msix_pba & (1u << v)) ||
		    (p->msix_table[v][3] & PCI_MSIX_ENTRY_CTRL_MASKBIT))
			continue;
		p->msix_pba &= ~(1u << v);
		msix_notify(p, v);
	}
}

static void pci_interrupt(void *ctx, unsigned reason)
{
	struct virtio_pci *p = ctx;

	if (reason & VIRTIO_INT_CONFIG) {
		p->isr |= VIRTIO_INT_CONFIG;
		if (p->msix_enabled)
			msix_notify(p, p->config_vector);
	}
	if (reason & VIRTIO_INT_USED) {
		if (p->msix_enabled) {
			uint32_t sent = 0;
			for (unsigned q = 0; q < p->vdev->nr_queues; q++) {
				unsigned v = p->queue_vector[q];
				if (v < p->nr_vectors && !(sent & (1u << v))) {
					sent |= 1u << v;
					msix_notify(p, v);
				}
			}
		} else {
			p->isr |= VIRTIO_INT_USED;
		}
	}
	virtio_pci_update_intx(p);
}

static void pci_queue_interrupt(void *ctx, unsigned q)
{
	struct virtio_pci *p = ctx;

	if (p->msix_enabled) {
		if (q < VIRTIO_MAX_QUEUES)
			msix_notify(p, p->queue_vector[q]);
		return;
	}
	p->isr |= VIRTIO_INT_USED;
	virtio_pci_update_intx(p);
}

/* The device was reset (status 0): registers back, pending interrupts dropped. */
static void pci_transport_reset(void *ctx)
{
	struct virtio_pci *p = ctx;

	p->isr = 0;
	p->device_features_sel = 0;
	p->driver_features_sel = 0;
	p->queue_sel = 0;
	p->config_vector = VIRTIO_MSI_NO_VECTOR;
	for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++)
		p->queue_vector[i] = VIRTIO_MSI_NO_VECTOR;
	p->msix_pba = 0;
	virtio_pci_update_intx(p);
}

/* Refresh the cached command and MSI-X control bits from config space. Host lock held (the caller
 * is a host hook or holds it through pci_host_*); takes the device lock. */
static void pci_sync_flags(struct virtio_pci *p, const uint8_t *config)
{
	uint32_t cmd = cfg_get(config, PCI_COMMAND, 2);
	uint32_t ctl = cfg_get(config, p->msix_cap + 2, 2);

	pthread_mutex_lock(&p->vdev->lock);
	p->intx_disabled = cmd & PCI_COMMAND_INTX_DISABLE;
	p->bus_master = cmd & PCI_COMMAND_MASTER;
	p->msix_enabled = ctl & PCI_MSIX_FLAGS_ENABLE;
	p->msix_masked = ctl & PCI_MSIX_FLAGS_MASKALL;
	msix_flush(p);
	virtio_pci_update_intx(p);
	pthread_mutex_unlock(&p->vdev->lock);
}

/* The PCI_CFG window: cap.bar, cap.offset, cap.length. Returns false for an access the window
 * does not make (another BAR, a bad length or alignment, outside the BAR). */
static bool pci_cfg_window(const struct virtio_pci *p, uint32_t *off, unsigned *len)
{
	const uint8_t *c = p->pci.config + p->pci_cfg_cap;
	uint32_t o = cfg_get(c, 8, 4), l = cfg_get(c, 12, 4);

	if (c[4] != VIRTIO_PCI_BAR || (l != 1 && l != 2 && l != 4) || o % l ||
	    o > VIRTIO_PCI_BAR_SIZE - l)
		return false;
	*off = o;
	*len = l;
	return true;
}

static uint32_t pci_config_read_hook(struct pci_device *d, unsigned reg, unsigned size,
				     uint32_t val)
{
	struct virtio_pci *p = d->opaque;
	unsigned data = p->pci_cfg_cap + 16;
	uint32_t off;
	unsigned len;

	if (overlaps(reg, size, PCI_STATUS, 1) && atomic_load(&p->intx_level))
		val |= (uint32_t)PCI_STATUS_INTERRUPT << (8 * (PCI_STATUS - reg));
	if (overlaps(reg, size, data, 4) && pci_cfg_window(p, &off, &len)) {
		/* A read of pci_cfg_data reads the window into it first. */
		cfg_set(d->config, data, 4, (uint32_t)virtio_pci_bar_read(p, off, len));
		val = cfg_get(d->config, reg, size);
	}
	return val;
}

static void pci_config_write_hook(struct pci_device *d, unsigned reg, unsigned size, uint32_t val)
{
	struct virtio_pci *p = d->opaque;
	unsigned data = p->pci_cfg_cap + 16;
	uint32_t off;
	unsigned len;

	if (overlaps(reg, size, PCI_COMMAND, 2) || overlaps(reg, size, p->msix_cap + 2, 2))
		pci_sync_flags(p, d->config);
	if (overlaps(reg, size, data, 4) && pci_cfg_window(p, &off, &len))
		virtio_pci_bar_write(p, off, len, cfg_get(d->config, data, len));
}

/* The host reports a BAR move: pass it to the owner. */
static void pci_bar_map_hook(struct pci_device *d, unsigned bar, uint64_t old_addr,
			     uint64_t new_addr)
{
	struct virtio_pci *p = d->opaque;

	if (p->w.map)
		p->w.map(p->w.ctx, bar, old_addr, new_addr);
}

/* MSI-X table (16 bytes per vector) and PBA, 4-byte accesses (8-byte ones split). */
static uint32_t msix_read32(struct virtio_pci *p, uint64_t off)
{
	if (off < (uint64_t)p->nr_vectors * 16)
		return p->msix_table[off / 16][(off % 16) / 4];
	if (off == VIRTIO_PCI_MSIX_PBA_OFF)
		return p->msix_pba;
	return 0;
}

static void msix_write32(struct virtio_pci *p, uint64_t off, uint32_t val)
{
	if (off >= (uint64_t)p->nr_vectors * 16)
		return; /* PBA and the rest are read-only */
	unsigned word = (unsigned)(off % 16) / 4;
	p->msix_table[off / 16][word] = word == 3 ? val & PCI_MSIX_ENTRY_CTRL_MASKBIT : val;
	if (word == 3)
		msix_flush(p);
}

static uint64_t msix_bus_read(void *dev, uint64_t off, unsigned size)
{
	struct virtio_pci *p = dev;
	uint64_t v = 0;

	if ((size != 4 && size != 8) || off % size)
		return 0;
	pthread_mutex_lock(&p->vdev->lock);
	v = msix_read32(p, off);
	if (size == 8)
		v |= (uint64_t)msix_read32(p, off + 4) << 32;
	pthread_mutex_unlock(&p->vdev->lock);
	return v;
}

static void msix_bus_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct virtio_pci *p = dev;

	if ((size != 4 && size != 8) || off % size) {
		log_rl(LOG_WARN, "%s: %u-byte MSI-X write at 0x%llx ignored", p->vdev->name, size,
		       (unsigned long long)off);
		return;
	}
	pthread_mutex_lock(&p->vdev->lock);
	msix_write32(p, off, (uint32_t)val);
	if (size == 8)
		msix_write32(p, off + 4, (uint32_t)(val >> 32));
	pthread_mutex_unlock(&p->vdev->lock);
}

const struct bus_ops virtio_pci_msix_ops = {msix_bus_read, msix_bus_write};

/* Append a virtio vendor capability at *pos; returns its offset. */
static unsigned add_vndr_cap(struct virtio_pci *p, unsigned *pos, unsigned *prev, uint8_t type,
			     unsigned len, uint32_t off, uint32_t length)
{
	uint8_t *c = p->pci.config;
	unsigned at = *pos;

	c[*prev] = (uint8_t)at;
	c[at] = PCI_CAP_ID_VNDR;
	c[at + 2] = (uint8_t)len;
	c[at + 3] = type;
	c[at + 4] = VIRTIO_PCI_BAR;
	cfg_set(c, at + 8, 4, off);
	cfg_set(c, at + 12, 4, length);
	*prev = at + 1;
	*pos = at + len;
	return at;
}

static uint32_t class_of(uint32_t device_id)
{
	switch (device_id) {
	case VIRTIO_ID_NET:
		return 0x020000; /* network controller, Ethernet */
	case VIRTIO_ID_BLOCK:
		return 0x010000; /* mass storage, SCSI (as QEMU) */
	case VIRTIO_ID_CONSOLE:
		return 0x078000; /* communication controller, other */
	default:
		return 0x00ff00; /* unclassified */
	}
}

static void pci_function_init(struct virtio_pci *p)
{
	struct pci_device *d = &p->pci;
	struct virtio_dev *vdev = p->vdev;
	unsigned pos = VIRTIO_PCI_CAP_FIRST, prev = PCI_CAPABILITY_LIST, at;
	uint8_t *c = d->config;

	pci_device_init(d, VIRTIO_PCI_VENDOR, (uint16_t)(VIRTIO_PCI_DEVICE_BASE + vdev->device_id),
			class_of(vdev->device_id), 1);
	cfg_set(c, PCI_SUBSYSTEM_VENDOR_ID, 2, VIRTIO_PCI_VENDOR);
	cfg_set(c, PCI_SUBSYSTEM_ID, 2, VIRTIO_PCI_SUBSYS_ID);
	cfg_set(c, PCI_STATUS, 2, PCI_STATUS_CAP_LIST);
	c[PCI_INTERRUPT_PIN] = 1; /* INTA */

	add_vndr_cap(p, &pos, &prev, VIRTIO_PCI_CAP_COMMON_CFG, VNDR_CAP_LEN, VIRTIO_PCI_COMMON_OFF,
		     VIRTIO_PCI_COMMON_LEN);
	at = add_vndr_cap(p, &pos, &prev, VIRTIO_PCI_CAP_NOTIFY_CFG, VNDR_CAP20_LEN,
			  VIRTIO_PCI_NOTIFY_OFF, vdev->nr_queues * VIRTIO_PCI_NOTIFY_MULT);
	cfg_set(c, at + 16, 4, VIRTIO_PCI_NOTIFY_MULT);
	add_vndr_cap(p, &pos, &prev, VIRTIO_PCI_CAP_ISR_CFG, VNDR_CAP_LEN, VIRTIO_PCI_ISR_OFF,
		     VIRTIO_PCI_ISR_LEN);
	if (vdev->config_len)
		add_vndr_cap(p, &pos, &prev, VIRTIO_PCI_CAP_DEVICE_CFG, VNDR_CAP_LEN,
			     VIRTIO_PCI_DEVICE_OFF, vdev->config_len);
	/* PCI_CFG: bar, offset, length and data are the driver's. */
	at = add_vndr_cap(p, &pos, &prev, VIRTIO_PCI_CAP_PCI_CFG, VNDR_CAP20_LEN, 0, 0);
	c[at + 4] = 0;
	memset(d->wmask + at + 4, 0xff, 1);
	memset(d->wmask + at + 8, 0xff, 12);
	p->pci_cfg_cap = at;

	/* MSI-X: table size nr_vectors, table at BAR1 + 0, PBA at BAR1 + VIRTIO_PCI_MSIX_PBA_OFF.
	 */
	at = pos;
	c[prev] = (uint8_t)at;
	c[at] = PCI_CAP_ID_MSIX;
	cfg_set(c, at + 2, 2, p->nr_vectors - 1);
	cfg_set(c, at + 4, 4, VIRTIO_PCI_MSIX_BAR);
	cfg_set(c, at + 8, 4, VIRTIO_PCI_MSIX_PBA_OFF | VIRTIO_PCI_MSIX_BAR);
	d->wmask[at + 3] = (PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL) >> 8;
	p->msix_cap = at;

	d->config_read = pci_config_read_hook;
	d->config_write = pci_config_write_hook;
	d->bar_map = pci_bar_map_hook;
	d->opaque = p;
}

/* Every MSI-X entry masked with a zero message, nothing pending. Lock held. */
static void msix_reset(struct virtio_pci *p)
{
	memset(p->msix_table, 0, sizeof(p->msix_table));
	for (unsigned v = 0; v < VIRTIO_PCI_MAX_VECTORS; v++)
		p->msix_table[v][3] = PCI_MSIX_ENTRY_CTRL_MASKBIT;
	p->msix_pba = 0;
}

int virtio_pci_create(struct virtio_dev *vdev, const struct virtio_pci_wiring *w,
		      struct virtio_pci **out)
{
	struct virtio_transport t = {0};
	struct virtio_pci *p;
	int ret;

	*out = NULL;
	if (!w->notify || !w->msi.send || !w->host)
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->vdev = vdev;
	p->w = *w;
	p->nr_vectors = vdev->nr_queues + 1;
	pci_function_init(p);
	if ((ret = pci_device_init_bar(&p->pci, VIRTIO_PCI_BAR, PCI_BAR_MEM64, VIRTIO_PCI_BAR_SIZE,
				       false)) ||
	    (ret = pci_device_init_bar(&p->pci, VIRTIO_PCI_MSIX_BAR, PCI_BAR_MEM32,
				       VIRTIO_PCI_MSIX_BAR_SIZE, false))) {
		free(p);
		return ret;
	}
	msix_reset(p);
	t.interrupt = pci_interrupt;
	t.queue_interrupt = pci_queue_interrupt;
	t.reset = pci_transport_reset;
	t.ctx = p;
	virtio_dev_attach(vdev, &t);
	pthread_mutex_lock(&vdev->lock);
	pci_transport_reset(p);
	pthread_mutex_unlock(&vdev->lock);
	irq_line_set(&p->w.intx, 0);
	ret = pci_host_add_device(w->host, w->slot, 0, &p->pci);
	if (ret) {
		virtio_pci_destroy(p);
		return ret;
	}
	*out = p;
	return 0;
}

void virtio_pci_destroy(struct virtio_pci *p)
{
	struct virtio_transport none = {0};

	if (!p)
		return;
	virtio_dev_attach(p->vdev, &none);
	free(p);
}

struct virtio_dev *virtio_pci_dev(struct virtio_pci *p)
{
	return p->vdev;
}

struct pci_device *virtio_pci_function(struct virtio_pci *p)
{
	return &p->pci;
}

void virtio_pci_reset(struct virtio_pci *p)
{
	uint16_t bdf = PCI_BDF(0, p->w.slot, 0);
	unsigned c = p->pci_cfg_cap;

	virtio_dev_reset(p->vdev);
	pthread_mutex_lock(&p->vdev->lock);
	msix_reset(p);
	pthread_mutex_unlock(&p->vdev->lock);
	/* Registers from 0x40 are ours to reset: MSI-X off and unmasked (which also refreshes the
	 * cached command bits the host reset cleared), the PCI_CFG window cleared (its BAR first,
	 * so that clearing the data makes no access). */
	if (pci_host_config_write(p->w.host, bdf, p->msix_cap + 2, 2, 0) ||
	    pci_host_config_write(p->w.host, bdf, c + 4, 1, 0))
		log_err("%s: PCI function not registered", p->vdev->name);
	for (unsigned r = c + 8; r < c + VNDR_CAP20_LEN; r += 4)
		(void)pci_host_config_write(p->w.host, bdf, r, 4, 0);
}

int virtio_pci_save(struct virtio_pci *p, struct virtio_pci_state *st)
{
	int ret;

	memset(st, 0, sizeof(*st));
	pci_host_save_device(p->w.host, &p->pci, st->pci_config);
	pthread_mutex_lock(&p->vdev->lock);
	st->isr = p->isr;
	st->device_features_sel = p->device_features_sel;
	st->driver_features_sel = p->driver_features_sel;
	st->queue_sel = p->queue_sel;
	st->config_vector = p->config_vector;
	memcpy(st->queue_vector, p->queue_vector, sizeof(st->queue_vector));
	memcpy(st->msix_table, p->msix_table, sizeof(st->msix_table));
	st->msix_pba = p->msix_pba;
	ret = virtio_dev_save_locked(p->vdev, &st->dev);
	pthread_mutex_unlock(&p->vdev->lock);
	return ret;
}

static int pci_state_check(const struct virtio_pci *p, const struct virtio_pci_state *st)
{
	if (st->isr & ~(VIRTIO_INT_USED | VIRTIO_INT_CONFIG) || st->reserved || st->reserved2)
		return -EINVAL;
	if (st->isr && !(st->dev.status & VIRTIO_STATUS_DRIVER_OK))
		return -EINVAL;
	if (st->config_vector >= p->nr_vectors && st->config_vector != VIRTIO_MSI_NO_VECTOR)
		return -EINVAL;
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		if (st->queue_vector[q] != VIRTIO_MSI_NO_VECTOR &&
		    (st->queue_vector[q] >= p->nr_vectors || q >= p->vdev->nr_queues))
			return -EINVAL;
	if (st->msix_pba >> p->nr_vectors)
		return -EINVAL;
	for (unsigned v = 0; v < VIRTIO_PCI_MAX_VECTORS; v++) {
		if (st->msix_table[v][3] & ~PCI_MSIX_ENTRY_CTRL_MASKBIT)
			return -EINVAL;
		if (v >= p->nr_vectors && (st->msix_table[v][0] || st->msix_table[v][1] ||
					   st->msix_table[v][2] || !st->msix_table[v][3]))
			return -EINVAL;
	}
	return 0;
}

int virtio_pci_load(struct virtio_pci *p, const struct virtio_pci_state *st)
{
	uint8_t old[PCI_CONFIG_SIZE];
	int ret = pci_state_check(p, st);

	if (ret)
		return ret;
	pci_host_save_device(p->w.host, &p->pci, old);
	ret = pci_host_load_device(p->w.host, &p->pci, st->pci_config);
	if (ret)
		return ret;
	pthread_mutex_lock(&p->vdev->lock);
	ret = virtio_dev_load_locked(p->vdev, &st->dev);
	if (!ret) {
		p->isr = st->isr;
		p->device_features_sel = st->device_features_sel;
		p->driver_features_sel = st->driver_features_sel;
		p->queue_sel = st->queue_sel;
		p->config_vector = st->config_vector;
		memcpy(p->queue_vector, st->queue_vector, sizeof(p->queue_vector));
		memcpy(p->msix_table, st->msix_table, sizeof(p->msix_table));
		p->msix_pba = st->msix_pba;
	}
	pthread_mutex_unlock(&p->vdev->lock);
	if (ret) {
		/* Put the config space back (it was valid, so it loads). */
		if (pci_host_load_device(p->w.host, &p->pci, old))
			log_err("%s: cannot restore the PCI config space", p->vdev->name);
		return ret;
	}
	/* Refresh the cached bits and the line: a config write of the MSI-X control to itself. */
	return pci_host_config_write(p->w.host, PCI_BDF(0, p->w.slot, 0), p->msix_cap + 2, 2,
				     cfg_get(st->pci_config, p->msix_cap + 2, 2));
}
