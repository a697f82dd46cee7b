/* Virtio device core. See virtio.h for the status rules and the locking. */
#include "virtio/virtio.h"
#include "core/log.h"

#include <errno.h>
#include <string.h>

#define STATUS_DRIVER_BITS                                                                         \
	(VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_DRIVER_OK |              \
	 VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_FAILED)
#define STATUS_ALL_BITS (STATUS_DRIVER_BITS | VIRTIO_STATUS_NEEDS_RESET)

int virtio_dev_init(struct virtio_dev *vdev, const struct virtio_dev_config *cfg,
		    const struct virtio_dev_ops *ops, struct gmem *gm)
{
	int ret;

	memset(vdev, 0, sizeof(*vdev));
	if (!cfg->nr_queues || cfg->nr_queues > VIRTIO_MAX_QUEUES || !cfg->queue_size ||
	    cfg->config_len > VIRTIO_CONFIG_MAX || !ops || !ops->queue_notify)
		return -EINVAL;
	if (cfg->features & VIRTIO_CORE_FEATURES)
		return -EINVAL; /* the core owns these bits */
	for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++) {
		ret = virtq_init(&vdev->vq[i], gm, i < cfg->nr_queues ? cfg->queue_size : 0);
		if (ret)
			goto err_queues;
	}
	ret = pthread_mutex_init(&vdev->lock, NULL);
	if (ret) {
		ret = -ret;
		goto err_queues;
	}
	vdev->ops = ops;
	vdev->gm = gm;
	vdev->name = cfg->name ? cfg->name : "virtio";
	vdev->device_id = cfg->device_id;
	vdev->device_features = cfg->features | VIRTIO_CORE_FEATURES;
	vdev->config_len = cfg->config_len;
	vdev->nr_queues = cfg->nr_queues;
	return 0;

err_queues:
	for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++)
		virtq_destroy(&vdev->vq[i]);
	return ret;
}

void virtio_dev_destroy(struct virtio_dev *vdev)
{
	for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++)
		virtq_destroy(&vdev->vq[i]);
	pthread_mutex_destroy(&vdev->lock);
}

void virtio_dev_attach(struct virtio_dev *vdev, const struct virtio_transport *t)
{
	pthread_mutex_lock(&vdev->lock);
	vdev->transport = *t;
	pthread_mutex_unlock(&vdev->lock);
}

static void virtio_dev_interrupt(struct virtio_dev *vdev, unsigned reason)
{
	if (vdev->transport.interrupt)
		vdev->transport.interrupt(vdev->transport.ctx, reason);
}

void virtio_dev_reset_locked(struct virtio_dev *vdev)
{
	if (vdev->ops->reset)
		vdev->ops->reset(vdev);
	for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++)
		virtq_reset(&vdev->vq[i]);
	vdev->driver_features = 0;
	vdev->status = 0;
	if (vdev->transport.reset)
		vdev->transport.reset(vdev->transport.ctx);
}

void virtio_dev_reset(struct virtio_dev *vdev)
{
	pthread_mutex_lock(&vdev->lock);
	virtio_dev_reset_locked(vdev);
	pthread_mutex_unlock(&vdev->lock);
}

void virtio_dev_set_needs_reset(struct virtio_dev *vdev)
{
	if (vdev->status & VIRTIO_STATUS_NEEDS_RESET)
		return;
	log_rl(LOG_WARN, "%s: device needs reset", vdev->name);
	vdev->status |= VIRTIO_STATUS_NEEDS_RESET;
	if (vdev->status & VIRTIO_STATUS_DRIVER_OK)
		virtio_dev_interrupt(vdev, VIRTIO_INT_CONFIG);
}

void virtio_dev_config_changed(struct virtio_dev *vdev)
{
	vdev->config_gen++;
	if (vdev->status & VIRTIO_STATUS_DRIVER_OK)
		virtio_dev_interrupt(vdev, VIRTIO_INT_CONFIG);
}

/* A broken queue puts the device into the error state. */
static void virtio_dev_check_broken(struct virtio_dev *vdev)
{
	for (unsigned i = 0; i < vdev->nr_queues; i++)
		if (virtq_broken(&vdev->vq[i]))
			virtio_dev_set_needs_reset(vdev);
}

struct virtq *virtio_dev_queue(struct virtio_dev *vdev, unsigned q)
{
	return q < vdev->nr_queues ? &vdev->vq[q] : NULL;
}

static bool virtio_dev_running(const struct virtio_dev *vdev)
{
	return (vdev->status & (VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_NEEDS_RESET)) ==
	       VIRTIO_STATUS_DRIVER_OK;
}

int virtio_dev_notify(struct virtio_dev *vdev, unsigned q)
{
	struct virtq *vq;
	int more = 0;

	pthread_mutex_lock(&vdev->lock);
	vq = virtio_dev_queue(vdev, q);
	if (vq && vq->ready && !virtq_broken(vq) && virtio_dev_running(vdev)) {
		more = vdev->ops->queue_notify(vdev, q) > 0;
		virtio_dev_check_broken(vdev);
		if (!virtio_dev_running(vdev))
			more = 0;
	}
	pthread_mutex_unlock(&vdev->lock);
	return more;
}

void virtio_dev_signal_used(struct virtio_dev *vdev, unsigned q)
{
	struct virtq *vq = virtio_dev_queue(vdev, q);

	if (!vq || !virtq_needs_notify(vq))
		return;
	if (vdev->transport.queue_interrupt)
		vdev->transport.queue_interrupt(vdev->transport.ctx, q);
	else
		virtio_dev_interrupt(vdev, VIRTIO_INT_USED);
}

uint32_t virtio_dev_device_features_locked(const struct virtio_dev *vdev, uint32_t sel)
{
	return sel < 2 ? (uint32_t)(vdev->device_features >> (32 * sel)) : 0;
}

void virtio_dev_set_driver_features_locked(struct virtio_dev *vdev, uint32_t sel, uint32_t val)
{
	if (vdev->status & VIRTIO_STATUS_FEATURES_OK) {
		log_rl(LOG_WARN, "%s: driver features written after FEATURES_OK", vdev->name);
		return;
	}
	if (sel > 1)
		return;
	vdev->driver_features &= ~(0xffffffffull << (32 * sel));
	vdev->driver_features |= (uint64_t)val << (32 * sel);
}

/* Features the device can run with: a subset of the offered ones, and not legacy. */
static bool features_ok(uint64_t offered, uint64_t accepted)
{
	return !(accepted & ~offered) && (accepted & VIRTIO_BIT(VIRTIO_F_VERSION_1));
}

static void virtio_dev_apply_ring_features(struct virtio_dev *vdev)
{
	bool event_idx = virtio_dev_has_feature(vdev, VIRTIO_F_EVENT_IDX);
	bool indirect = virtio_dev_has_feature(vdev, VIRTIO_F_INDIRECT_DESC);

	for (unsigned i = 0; i < vdev->nr_queues; i++)
		virtq_set_features(&vdev->vq[i], event_idx, indirect);
}

bool virtio_dev_set_status_locked(struct virtio_dev *vdev, uint8_t val)
{
	uint8_t old = vdev->status, now;

	if (val == 0) {
		virtio_dev_reset_locked(vdev);
		return false;
	}
	if (old & ~val & STATUS_DRIVER_BITS)
		log_rl(LOG_WARN, "%s: driver cleared status bits 0x%x (ignored)", vdev->name,
		       old & ~val & STATUS_DRIVER_BITS);
	now = (uint8_t)(old | (val & STATUS_DRIVER_BITS));
	if ((now & ~old & VIRTIO_STATUS_FEATURES_OK) &&
	    !features_ok(vdev->device_features, vdev->driver_features)) {
		log_rl(LOG_WARN, "%s: refusing driver features 0x%llx (offered 0x%llx)", vdev->name,
		       (unsigned long long)vdev->driver_features,
		       (unsigned long long)vdev->device_features);
		now &= (uint8_t)~VIRTIO_STATUS_FEATURES_OK;
	}
	if (!(now & VIRTIO_STATUS_FEATURES_OK))
		now &= (uint8_t)~VIRTIO_STATUS_DRIVER_OK;
	vdev->status = now;
	if (now & ~old & VIRTIO_STATUS_FEATURES_OK)
		virtio_dev_apply_ring_features(vdev);
	return (now & ~old & VIRTIO_STATUS_DRIVER_OK) != 0;
}

int virtio_dev_queue_ready_locked(struct virtio_dev *vdev, unsigned q, bool ready)
{
	struct virtq *vq = virtio_dev_queue(vdev, q);

	if (!vq)
		return -EINVAL;
	if (!ready) {
		virtq_disable(vq);
		return 0;
	}
	if (virtq_enable(vq)) {
		log_rl(LOG_WARN, "%s: queue %u: bad size %u or areas 0x%llx 0x%llx 0x%llx",
		       vdev->name, q, vq->size, (unsigned long long)vq->desc_gpa,
		       (unsigned long long)vq->avail_gpa, (unsigned long long)vq->used_gpa);
		virtio_dev_set_needs_reset(vdev);
		return -EINVAL;
	}
	return 0;
}

uint32_t virtio_dev_config_read_locked(struct virtio_dev *vdev, uint32_t off, unsigned size)
{
	if ((size != 1 && size != 2 && size != 4) || off > vdev->config_len ||
	    size > vdev->config_len - off || !vdev->ops->config_read)
		return 0;
	return vdev->ops->config_read(vdev, off, size);
}

void virtio_dev_config_write_locked(struct virtio_dev *vdev, uint32_t off, unsigned size,
				    uint32_t val)
{
	if ((size != 1 && size != 2 && size != 4) || off > vdev->config_len ||
	    size > vdev->config_len - off || !vdev->ops->config_write)
		return;
	vdev->ops->config_write(vdev, off, size, val);
}

int virtio_dev_save_locked(struct virtio_dev *vdev, struct virtio_dev_state *st)
{
	memset(st, 0, sizeof(*st));
	st->device_id = vdev->device_id;
	st->nr_queues = vdev->nr_queues;
	st->device_features = vdev->device_features;
	st->driver_features = vdev->driver_features;
	st->status = vdev->status;
	st->config_gen = vdev->config_gen;
	for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++)
		virtq_save(&vdev->vq[i], &st->vq[i]);
	if (vdev->ops->save) {
		int n = vdev->ops->save(vdev, st->dev, sizeof(st->dev));
		if (n < 0)
			return n;
		if ((size_t)n > sizeof(st->dev))
			return -EOVERFLOW;
		st->dev_len = (uint32_t)n;
	}
	return 0;
}

static int virtio_dev_check_state(struct virtio_dev *vdev, const struct virtio_dev_state *st)
{
	bool fok = st->status & VIRTIO_STATUS_FEATURES_OK;
	bool event_idx = fok && (st->driver_features & VIRTIO_BIT(VIRTIO_F_EVENT_IDX));
	bool indirect = fok && (st->driver_features & VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC));

	if (st->device_id != vdev->device_id || st->nr_queues != vdev->nr_queues ||
	    st->device_features != vdev->device_features || st->reserved)
		return -EINVAL;
	if (st->status & ~STATUS_ALL_BITS || st->dev_len > sizeof(st->dev))
		return -EINVAL;
	/* Before FEATURES_OK the driver may have written any 64 bits (they are only checked when it
	 * sets FEATURES_OK), so only a negotiated set is checked. */
	if (fok && !features_ok(st->device_features, st->driver_features))
		return -EINVAL;
	if ((st->status & VIRTIO_STATUS_DRIVER_OK) && !fok)
		return -EINVAL;
	for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++) {
		const struct virtq_state *q = &st->vq[i];
		if (virtq_check_state(&vdev->vq[i], q))
			return -EINVAL;
		if (i < vdev->nr_queues && (!(q->flags & VIRTQ_STATE_EVENT_IDX) != !event_idx ||
					    !(q->flags & VIRTQ_STATE_INDIRECT) != !indirect))
			return -EINVAL;
		if ((q->flags & VIRTQ_STATE_BROKEN) && !(st->status & VIRTIO_STATUS_NEEDS_RESET))
			return -EINVAL;
	}
	return 0;
}

int virtio_dev_load_locked(struct virtio_dev *vdev, const struct virtio_dev_state *st)
{
	int ret = virtio_dev_check_state(vdev, st);

	if (ret)
		return ret;
	if (vdev->ops->load)
		ret = vdev->ops->load(vdev, st->dev, st->dev_len);
	else if (st->dev_len)
		ret = -EINVAL;
	if (ret)
		return -EINVAL;
	for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++)
		if (virtq_load(&vdev->vq[i], &st->vq[i]))
			return -EINVAL; /* cannot happen: checked above */
	vdev->driver_features = st->driver_features;
	vdev->status = (uint8_t)st->status;
	vdev->config_gen = st->config_gen;
	return 0;
}
