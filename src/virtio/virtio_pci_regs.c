/* virtio-pci BAR4: the common configuration, ISR status, device configuration and notification
 * structures. See virtio_pci.h for the access rules. */
#include "core/log.h"
#include "virtio/virtio_pci_priv.h"

#include <errno.h>

/* Field offsets and widths of the common configuration. */
static const struct {
	uint8_t off, width;
} common_fields[] = {
    {VIRTIO_PCI_COMMON_DFSELECT, 4}, {VIRTIO_PCI_COMMON_DF, 4},
    {VIRTIO_PCI_COMMON_GFSELECT, 4}, {VIRTIO_PCI_COMMON_GF, 4},
    {VIRTIO_PCI_COMMON_MSIX, 2},     {VIRTIO_PCI_COMMON_NUMQ, 2},
    {VIRTIO_PCI_COMMON_STATUS, 1},   {VIRTIO_PCI_COMMON_CFGGENERATION, 1},
    {VIRTIO_PCI_COMMON_Q_SELECT, 2}, {VIRTIO_PCI_COMMON_Q_SIZE, 2},
    {VIRTIO_PCI_COMMON_Q_MSIX, 2},   {VIRTIO_PCI_COMMON_Q_ENABLE, 2},
    {VIRTIO_PCI_COMMON_Q_NOFF, 2},   {VIRTIO_PCI_COMMON_Q_DESC, 8},
    {VIRTIO_PCI_COMMON_Q_AVAIL, 8},  {VIRTIO_PCI_COMMON_Q_USED, 8},
    {VIRTIO_PCI_COMMON_Q_NDATA, 2},  {VIRTIO_PCI_COMMON_Q_RESET, 2},
};

/* The field containing byte off, or -1. */
static int common_field(uint64_t off)
{
	for (unsigned i = 0; i < sizeof(common_fields) / sizeof(common_fields[0]); i++)
		if (off >= common_fields[i].off &&
		    off < common_fields[i].off + common_fields[i].width)
			return (int)i;
	return -1;
}

/* Value of the field at fo. Lock held. */
static uint64_t common_get(struct virtio_pci *p, unsigned fo)
{
	struct virtio_dev *vdev = p->vdev;
	struct virtq *vq = virtio_dev_queue(vdev, p->queue_sel);
	bool qok = vq && p->queue_sel < vdev->nr_queues;

	switch (fo) {
	case VIRTIO_PCI_COMMON_DFSELECT:
		return p->device_features_sel;
	case VIRTIO_PCI_COMMON_DF:
		return virtio_dev_device_features_locked(vdev, p->device_features_sel);
	case VIRTIO_PCI_COMMON_GFSELECT:
		return p->driver_features_sel;
	case VIRTIO_PCI_COMMON_GF:
		return p->driver_features_sel < 2
			   ? (uint32_t)(vdev->driver_features >> (32 * p->driver_features_sel))
			   : 0;
	case VIRTIO_PCI_COMMON_MSIX:
		return p->config_vector;
	case VIRTIO_PCI_COMMON_NUMQ:
		return vdev->nr_queues;
	case VIRTIO_PCI_COMMON_STATUS:
		return vdev->status;
	case VIRTIO_PCI_COMMON_CFGGENERATION:
		return vdev->config_gen & 0xff;
	case VIRTIO_PCI_COMMON_Q_SELECT:
		return p->queue_sel;
	case VIRTIO_PCI_COMMON_Q_SIZE:
		return qok ? vq->size : 0;
	case VIRTIO_PCI_COMMON_Q_MSIX:
		return qok ? p->queue_vector[p->queue_sel] : VIRTIO_MSI_NO_VECTOR;
	case VIRTIO_PCI_COMMON_Q_ENABLE:
		return qok ? vq->ready : 0;
	case VIRTIO_PCI_COMMON_Q_NOFF:
		return qok ? p->queue_sel : 0;
	case VIRTIO_PCI_COMMON_Q_DESC:
		return qok ? vq->desc_gpa : 0;
	case VIRTIO_PCI_COMMON_Q_AVAIL:
		return qok ? vq->avail_gpa : 0;
	case VIRTIO_PCI_COMMON_Q_USED:
		return qok ? vq->used_gpa : 0;
	default:
		return 0; /* queue_notif_config_data, queue_reset */
	}
}

static uint64_t common_read(struct virtio_pci *p, uint64_t off, unsigned size)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < size; i++) {
		int f = common_field(off + i);
		if (f < 0)
			continue;
		unsigned fo = common_fields[f].off;
		uint64_t fv = common_get(p, fo);
		v |= ((fv >> (8 * (off + i - fo))) & 0xff) << (8 * i);
	}
	return v;
}

static uint16_t vector_check(const struct virtio_pci *p, uint32_t v)
{
	return v < p->nr_vectors ? (uint16_t)v : VIRTIO_MSI_NO_VECTOR;
}

/* Replace bytes [shift/8, shift/8 + size) of a 64-bit address. */
static uint64_t set_part(uint64_t old, uint64_t val, unsigned shift, unsigned size)
{
	uint64_t mask = size >= 8 ? ~0ull : ((1ull << (8 * size)) - 1) << shift;
	return (old & ~mask) | ((val << shift) & mask);
}

/* A write of the whole field fo (or, for 64-bit fields, one half). Returns true when it set
 * DRIVER_OK. Lock held. */
static bool common_write(struct virtio_pci *p, unsigned fo, unsigned shift, unsigned size,
			 uint64_t val)
{
	struct virtio_dev *vdev = p->vdev;
	struct virtq *vq = virtio_dev_queue(vdev, p->queue_sel);
	bool qok = vq && p->queue_sel < vdev->nr_queues;
	uint32_t v32 = (uint32_t)val;
	int ret = 0;

	switch (fo) {
	case VIRTIO_PCI_COMMON_DFSELECT:
		p->device_features_sel = v32;
		break;
	case VIRTIO_PCI_COMMON_GFSELECT:
		p->driver_features_sel = v32;
		break;
	case VIRTIO_PCI_COMMON_GF:
		virtio_dev_set_driver_features_locked(vdev, p->driver_features_sel, v32);
		break;
	case VIRTIO_PCI_COMMON_MSIX:
		p->config_vector = vector_check(p, v32);
		break;
	case VIRTIO_PCI_COMMON_STATUS:
		return virtio_dev_set_status_locked(vdev, (uint8_t)val);
	case VIRTIO_PCI_COMMON_Q_SELECT:
		p->queue_sel = v32 & 0xffff;
		break;
	case VIRTIO_PCI_COMMON_Q_SIZE:
		if (qok)
			ret = virtq_set_size(vq, v32);
		break;
	case VIRTIO_PCI_COMMON_Q_MSIX:
		if (qok)
			p->queue_vector[p->queue_sel] = vector_check(p, v32);
		break;
	case VIRTIO_PCI_COMMON_Q_ENABLE:
		if (qok && v32 == 1)
			ret = virtio_dev_queue_ready_locked(vdev, p->queue_sel, true);
		else
			ret = -EINVAL;
		break;
	case VIRTIO_PCI_COMMON_Q_DESC:
		if (qok)
			ret = virtq_set_addrs(vq, set_part(vq->desc_gpa, val, shift, size),
					      vq->avail_gpa, vq->used_gpa);
		break;
	case VIRTIO_PCI_COMMON_Q_AVAIL:
		if (qok)
			ret = virtq_set_addrs(vq, vq->desc_gpa,
					      set_part(vq->avail_gpa, val, shift, size),
					      vq->used_gpa);
		break;
	case VIRTIO_PCI_COMMON_Q_USED:
		if (qok)
			ret = virtq_set_addrs(vq, vq->desc_gpa, vq->avail_gpa,
					      set_part(vq->used_gpa, val, shift, size));
		break;
	default:
		log_rl(LOG_DEBUG, "%s: write 0x%llx to read-only common field 0x%x", vdev->name,
		       (unsigned long long)val, fo);
		break;
	}
	if (ret)
		log_rl(LOG_WARN, "%s: common field 0x%x: value 0x%llx refused for queue %u (%d)",
		       vdev->name, fo, (unsigned long long)val, p->queue_sel, ret);
	return false;
}

/* Bit mask of the ready queues. Lock held. */
static uint32_t ready_queues(struct virtio_dev *vdev)
{
	uint32_t ready = 0;

	for (unsigned i = 0; i < vdev->nr_queues; i++)
		if (vdev->vq[i].ready)
			ready |= 1u << i;
	return ready;
}

uint64_t virtio_pci_bar_read(struct virtio_pci *p, uint64_t off, unsigned size)
{
	struct virtio_dev *vdev = p->vdev;
	uint64_t v = 0;

	if (size > 8 || off >= VIRTIO_PCI_BAR_SIZE || off + size > VIRTIO_PCI_BAR_SIZE)
		return 0;
	pthread_mutex_lock(&vdev->lock);
	if (off < VIRTIO_PCI_COMMON_OFF + VIRTIO_PCI_COMMON_LEN) {
		v = common_read(p, off - VIRTIO_PCI_COMMON_OFF, size);
	} else if (off == VIRTIO_PCI_ISR_OFF) {
		v = p->isr;
		p->isr = 0; /* read-to-clear */
		virtio_pci_update_intx(p);
	} else if (off >= VIRTIO_PCI_DEVICE_OFF && off < VIRTIO_PCI_NOTIFY_OFF && size <= 4) {
		v = virtio_dev_config_read_locked(vdev, (uint32_t)(off - VIRTIO_PCI_DEVICE_OFF),
						  size);
	}
	pthread_mutex_unlock(&vdev->lock);
	return v;
}

void virtio_pci_bar_write(struct virtio_pci *p, uint64_t off, unsigned size, uint64_t val)
{
	struct virtio_dev *vdev = p->vdev;
	uint32_t ready = 0;

	if (size > 8 || off >= VIRTIO_PCI_BAR_SIZE || off + size > VIRTIO_PCI_BAR_SIZE)
		return;
	if (off >= VIRTIO_PCI_NOTIFY_OFF) {
		uint64_t q = (off - VIRTIO_PCI_NOTIFY_OFF) / VIRTIO_PCI_NOTIFY_MULT;
		/* No lock: nr_queues never changes and the device is not touched here. */
		if (off % VIRTIO_PCI_NOTIFY_MULT == 0 && (size == 2 || size == 4) &&
		    q < vdev->nr_queues)
			p->w.notify(p->w.ctx, (unsigned)q);
		else
			log_rl(LOG_WARN, "%s: %u-byte notify at 0x%llx ignored", vdev->name, size,
			       (unsigned long long)off);
		return;
	}
	pthread_mutex_lock(&vdev->lock);
	if (off < VIRTIO_PCI_COMMON_OFF + VIRTIO_PCI_COMMON_LEN) {
		int f = common_field(off);
		unsigned fo = f < 0 ? 0 : common_fields[f].off,
			 w = f < 0 ? 0 : common_fields[f].width;
		unsigned shift = (unsigned)(off - fo) * 8;
		if (f >= 0 && ((off == fo && size == w) || (w == 8 && size == 4 && off % 4 == 0))) {
			if (common_write(p, fo, shift, size, val))
				ready = ready_queues(vdev);
		} else {
			log_rl(LOG_WARN, "%s: %u-byte common write at 0x%llx ignored", vdev->name,
			       size, (unsigned long long)off);
		}
	} else if (off >= VIRTIO_PCI_DEVICE_OFF && off < VIRTIO_PCI_NOTIFY_OFF && size <= 4) {
		virtio_dev_config_write_locked(vdev, (uint32_t)(off - VIRTIO_PCI_DEVICE_OFF), size,
					       (uint32_t)val);
	}
	pthread_mutex_unlock(&vdev->lock);
	for (unsigned i = 0; ready; i++, ready >>= 1)
		if (ready & 1)
			p->w.notify(p->w.ctx, i);
}

static uint64_t bar_bus_read(void *dev, uint64_t off, unsigned size)
{
	return virtio_pci_bar_read(dev, off, size);
}

static void bar_bus_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	virtio_pci_bar_write(dev, off, size, val);
}

const struct bus_ops virtio_pci_bar_ops = {bar_bus_read, bar_bus_write};

uint64_t virtio_pci_notify_addr(unsigned q)
{
	return VIRTIO_PCI_NOTIFY_OFF + (uint64_t)q * VIRTIO_PCI_NOTIFY_MULT;
}
