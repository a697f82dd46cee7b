/* Virtio over MMIO, version 2. See virtio_mmio.h for the register model and the locking. */
#include "virtio/virtio_mmio.h"
#include "core/log.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct virtio_mmio {
	struct virtio_dev *vdev;
	struct irq_line irq;
	virtio_mmio_notify_fn notify;
	void *notify_ctx;

	/* Protected by vdev->lock. */
	uint32_t isr; /* InterruptStatus: VIRTIO_INT_* */
	uint32_t device_features_sel;
	uint32_t driver_features_sel;
	uint32_t queue_sel;
	uint32_t shm_sel;
	bool irq_level; /* what the line was last set to */
};

/* Set the line from InterruptStatus. Lock held. */
static void mmio_update_irq(struct virtio_mmio *m)
{
	bool level = m->isr != 0;

	if (level != m->irq_level) {
		m->irq_level = level;
		irq_line_set(&m->irq, level);
	}
}

static void mmio_interrupt(void *ctx, unsigned reason)
{
	struct virtio_mmio *m = ctx;

	m->isr |= reason & (VIRTIO_INT_USED | VIRTIO_INT_CONFIG);
	mmio_update_irq(m);
}

static void mmio_transport_reset(void *ctx)
{
	struct virtio_mmio *m = ctx;

	m->isr = 0;
	m->device_features_sel = 0;
	m->driver_features_sel = 0;
	m->queue_sel = 0;
	m->shm_sel = 0;
	mmio_update_irq(m);
}

/* Replace the low or high half of a 64-bit address. */
static uint64_t set_half(uint64_t old, uint32_t val, bool high)
{
	if (high)
		return (old & 0xffffffffull) | ((uint64_t)val << 32);
	return (old & ~0xffffffffull) | val;
}

static uint32_t mmio_read_reg(struct virtio_mmio *m, uint64_t off)
{
	struct virtio_dev *vdev = m->vdev;
	struct virtq *vq = virtio_dev_queue(vdev, m->queue_sel);

	switch (off) {
	case VIRTIO_MMIO_MAGIC_VALUE:
		return VIRTIO_MMIO_MAGIC;
	case VIRTIO_MMIO_VERSION_REG:
		return VIRTIO_MMIO_VERSION;
	case VIRTIO_MMIO_DEVICE_ID:
		return vdev->device_id;
	case VIRTIO_MMIO_VENDOR_ID:
		return VIRTIO_MMIO_VENDOR;
	case VIRTIO_MMIO_DEVICE_FEATURES:
		return virtio_dev_device_features_locked(vdev, m->device_features_sel);
	case VIRTIO_MMIO_QUEUE_NUM_MAX:
		return vq ? vq->max_size : 0;
	case VIRTIO_MMIO_QUEUE_READY:
		return vq ? vq->ready : 0;
	case VIRTIO_MMIO_INTERRUPT_STATUS:
		return m->isr;
	case VIRTIO_MMIO_STATUS:
		return vdev->status;
	case VIRTIO_MMIO_SHM_LEN_LOW:
	case VIRTIO_MMIO_SHM_LEN_HIGH:
	case VIRTIO_MMIO_SHM_BASE_LOW:
	case VIRTIO_MMIO_SHM_BASE_HIGH:
		return 0xffffffffu; /* no shared memory regions */
	case VIRTIO_MMIO_CONFIG_GENERATION:
		return vdev->config_gen;
	default:
		return 0; /* write-only, reserved, QueueReset */
	}
}

/* Returns true when the write set DRIVER_OK (the caller then kicks the ready queues). */
static bool mmio_write_reg(struct virtio_mmio *m, uint64_t off, uint32_t val)
{
	struct virtio_dev *vdev = m->vdev;
	struct virtq *vq = virtio_dev_queue(vdev, m->queue_sel);
	bool high = off & 4;
	int ret = 0;

	switch (off) {
	case VIRTIO_MMIO_DEVICE_FEATURES_SEL:
		m->device_features_sel = val;
		break;
	case VIRTIO_MMIO_DRIVER_FEATURES:
		virtio_dev_set_driver_features_locked(vdev, m->driver_features_sel, val);
		break;
	case VIRTIO_MMIO_DRIVER_FEATURES_SEL:
		m->driver_features_sel = val;
		break;
	case VIRTIO_MMIO_QUEUE_SEL:
		m->queue_sel = val;
		break;
	case VIRTIO_MMIO_QUEUE_NUM:
		if (vq)
			ret = virtq_set_size(vq, val);
		break;
	case VIRTIO_MMIO_QUEUE_READY:
		if (vq && val <= 1)
			ret = virtio_dev_queue_ready_locked(vdev, m->queue_sel, val);
		else
			ret = -EINVAL;
		break;
	case VIRTIO_MMIO_INTERRUPT_ACK:
		m->isr &= ~val;
		mmio_update_irq(m);
		break;
	case VIRTIO_MMIO_STATUS:
		return virtio_dev_set_status_locked(vdev, (uint8_t)val);
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
		if (vq)
			ret = virtq_set_addrs(vq, set_half(vq->desc_gpa, val, high), vq->avail_gpa,
					      vq->used_gpa);
		break;
	case VIRTIO_MMIO_QUEUE_DRIVER_LOW:
	case VIRTIO_MMIO_QUEUE_DRIVER_HIGH:
		if (vq)
			ret = virtq_set_addrs(vq, vq->desc_gpa, set_half(vq->avail_gpa, val, high),
					      vq->used_gpa);
		break;
	case VIRTIO_MMIO_QUEUE_DEVICE_LOW:
	case VIRTIO_MMIO_QUEUE_DEVICE_HIGH:
		if (vq)
			ret = virtq_set_addrs(vq, vq->desc_gpa, vq->avail_gpa,
					      set_half(vq->used_gpa, val, high));
		break;
	case VIRTIO_MMIO_SHM_SEL:
		m->shm_sel = val;
		break;
	default:
		log_rl(LOG_DEBUG, "%s: write 0x%x to read-only or reserved register 0x%llx",
		       vdev->name, val, (unsigned long long)off);
		break;
	}
	if (ret)
		log_rl(LOG_WARN, "%s: register 0x%llx: value 0x%x refused for queue %u (%d)",
		       vdev->name, (unsigned long long)off, val, m->queue_sel, ret);
	return false;
}

static uint64_t mmio_bus_read(void *dev, uint64_t off, unsigned size)
{
	struct virtio_mmio *m = dev;
	uint32_t v;

	if (off >= VIRTIO_MMIO_CONFIG) {
		if (size > 4)
			return 0;
		pthread_mutex_lock(&m->vdev->lock);
		v = virtio_dev_config_read_locked(m->vdev, (uint32_t)(off - VIRTIO_MMIO_CONFIG),
						  size);
		pthread_mutex_unlock(&m->vdev->lock);
		return v;
	}
	if (size != 4 || off % 4) {
		log_rl(LOG_WARN, "%s: %u-byte read at 0x%llx ignored", m->vdev->name, size,
		       (unsigned long long)off);
		return 0;
	}
	pthread_mutex_lock(&m->vdev->lock);
	v = mmio_read_reg(m, off);
	pthread_mutex_unlock(&m->vdev->lock);
	return v;
}

static void mmio_bus_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct virtio_mmio *m = dev;
	struct virtio_dev *vdev = m->vdev;
	uint32_t ready = 0;
	bool kick;

	if (off >= VIRTIO_MMIO_CONFIG) {
		if (size > 4)
			return;
		pthread_mutex_lock(&vdev->lock);
		virtio_dev_config_write_locked(vdev, (uint32_t)(off - VIRTIO_MMIO_CONFIG), size,
					       (uint32_t)val);
		pthread_mutex_unlock(&vdev->lock);
		return;
	}
	if (size != 4 || off % 4) {
		log_rl(LOG_WARN, "%s: %u-byte write at 0x%llx ignored", vdev->name, size,
		       (unsigned long long)off);
		return;
	}
	if (off == VIRTIO_MMIO_QUEUE_NOTIFY) {
		/* No lock: nr_queues never changes and the device is not touched here. */
		if ((uint32_t)val < vdev->nr_queues)
			m->notify(m->notify_ctx, (unsigned)val);
		else
			log_rl(LOG_WARN, "%s: notify for missing queue %u", vdev->name,
			       (unsigned)val);
		return;
	}
	pthread_mutex_lock(&vdev->lock);
	kick = mmio_write_reg(m, off, (uint32_t)val);
	if (kick)
		for (unsigned i = 0; i < vdev->nr_queues; i++)
			if (vdev->vq[i].ready)
				ready |= 1u << i;
	pthread_mutex_unlock(&vdev->lock);
	for (unsigned i = 0; ready; i++, ready >>= 1)
		if (ready & 1)
			m->notify(m->notify_ctx, i);
}

const struct bus_ops virtio_mmio_ops = {mmio_bus_read, mmio_bus_write};

int virtio_mmio_create(struct virtio_dev *vdev, struct irq_line irq, virtio_mmio_notify_fn notify,
		       void *notify_ctx, struct virtio_mmio **out)
{
	struct virtio_mmio *m;
	struct virtio_transport t = {0};

	*out = NULL;
	if (!notify)
		return -EINVAL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->vdev = vdev;
	m->irq = irq;
	m->notify = notify;
	m->notify_ctx = notify_ctx;
	t.interrupt = mmio_interrupt;
	t.reset = mmio_transport_reset;
	t.ctx = m;
	virtio_dev_attach(vdev, &t);
	irq_line_set(&m->irq, 0);
	*out = m;
	return 0;
}

void virtio_mmio_destroy(struct virtio_mmio *m)
{
	struct virtio_transport none = {0};

	if (!m)
		return;
	virtio_dev_attach(m->vdev, &none);
	free(m);
}

struct virtio_dev *virtio_mmio_dev(struct virtio_mmio *m)
{
	return m->vdev;
}

void virtio_mmio_reset(struct virtio_mmio *m)
{
	virtio_dev_reset(m->vdev);
}

uint64_t virtio_mmio_notify_offset(void)
{
	return VIRTIO_MMIO_QUEUE_NOTIFY;
}

int virtio_mmio_save(struct virtio_mmio *m, struct virtio_mmio_state *st)
{
	int ret;

	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&m->vdev->lock);
	st->interrupt_status = m->isr;
	st->device_features_sel = m->device_features_sel;
	st->driver_features_sel = m->driver_features_sel;
	st->queue_sel = m->queue_sel;
	st->shm_sel = m->shm_sel;
	ret = virtio_dev_save_locked(m->vdev, &st->dev);
	pthread_mutex_unlock(&m->vdev->lock);
	return ret;
}

int virtio_mmio_load(struct virtio_mmio *m, const struct virtio_mmio_state *st)
{
	int ret;

	if (st->interrupt_status & ~(VIRTIO_INT_USED | VIRTIO_INT_CONFIG) || st->reserved)
		return -EINVAL;
	if (st->interrupt_status && !(st->dev.status & VIRTIO_STATUS_DRIVER_OK))
		return -EINVAL;
	pthread_mutex_lock(&m->vdev->lock);
	ret = virtio_dev_load_locked(m->vdev, &st->dev);
	if (!ret) {
		m->isr = st->interrupt_status;
		m->device_features_sel = st->device_features_sel;
		m->driver_features_sel = st->driver_features_sel;
		m->queue_sel = st->queue_sel;
		m->shm_sel = st->shm_sel;
		mmio_update_irq(m);
	}
	pthread_mutex_unlock(&m->vdev->lock);
	return ret;
}
