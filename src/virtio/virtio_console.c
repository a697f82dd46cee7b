/* Virtio console device. See virtio_console.h. */
#include "virtio/virtio_console.h"
#include "core/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct virtio_console {
	struct virtio_dev vdev; /* first: the ops recover the console from it */
	struct char_out out;
	void (*rx_ready)(void *ctx);
	void *rx_ready_ctx;
	struct virtq_elem elem; /* the request being handled; protected by vdev.lock */
};

static struct virtio_console *to_con(struct virtio_dev *vdev)
{
	return (struct virtio_console *)vdev;
}

static bool con_running(const struct virtio_dev *vdev)
{
	return (vdev->status & (VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_NEEDS_RESET)) ==
	       VIRTIO_STATUS_DRIVER_OK;
}

static void con_write(struct virtio_console *con, const void *buf, size_t len)
{
	if (len && con->out.write)
		(void)con->out.write(con->out.ctx, buf, len);
}

/* Transmit: readable segments to the output. Returns 1 when the budget ran out with requests
 * left. */
static int con_tx(struct virtio_console *con, struct virtq *vq)
{
	struct virtio_dev *vdev = &con->vdev;
	uint64_t budget = VIRTIO_CONSOLE_TX_BUDGET;
	struct virtq_elem *e = &con->elem;
	bool pushed = false;
	int more = 0;

	for (;;) {
		if (budget == 0) {
			more = 1;
			break;
		}
		if (virtq_pop(vq, e))
			break; /* -EAGAIN: drained; -EIO: broken, the core sets NEEDS_RESET */
		if (e->nr_write) {
			log_rl(LOG_WARN, "%s: transmit request with a device-writable buffer",
			       vdev->name);
			virtq_set_broken(vq);
			break;
		}
		for (unsigned i = 0; i < e->nr_read; i++)
			con_write(con, e->iov[i].iov_base, e->iov[i].iov_len);
		budget = e->read_len < budget ? budget - e->read_len : 0;
		if (virtq_push(vq, e, 0))
			break;
		pushed = true;
	}
	if (pushed)
		virtio_dev_signal_used(vdev, VIRTIO_CONSOLE_TXQ);
	return more;
}

static int con_queue_notify(struct virtio_dev *vdev, unsigned q)
{
	struct virtio_console *con = to_con(vdev);
	struct virtq *vq = virtio_dev_queue(vdev, q);

	if (!vq)
		return 0;
	if (q == VIRTIO_CONSOLE_TXQ)
		return con_tx(con, vq);
	/* Receive buffers were posted: let the host side offer what it holds. */
	if (con->rx_ready)
		con->rx_ready(con->rx_ready_ctx);
	return 0;
}

size_t virtio_console_receive(struct virtio_console *con, const uint8_t *buf, size_t len)
{
	struct virtio_dev *vdev = &con->vdev;
	struct virtq_elem *e = &con->elem;
	struct virtq *vq;
	size_t taken = 0;
	bool pushed = false;

	pthread_mutex_lock(&vdev->lock);
	vq = virtio_dev_queue(vdev, VIRTIO_CONSOLE_RXQ);
	if (!con_running(vdev) || !vq->ready || virtq_broken(vq))
		goto out;
	while (taken < len) {
		int ret = virtq_pop(vq, e);
		if (ret == -EIO)
			virtio_dev_set_needs_reset(vdev);
		if (ret)
			break;
		if (e->nr_read) {
			log_rl(LOG_WARN, "%s: receive request with a device-readable buffer",
			       vdev->name);
			virtq_set_broken(vq);
			virtio_dev_set_needs_reset(vdev);
			break;
		}
		uint32_t n = 0;
		for (unsigned i = 0; i < e->nr_write && taken < len; i++) {
			size_t seg = e->iov[i].iov_len;
			if (seg > len - taken)
				seg = len - taken;
			memcpy(e->iov[i].iov_base, buf + taken, seg);
			taken += seg;
			n += (uint32_t)seg;
		}
		if (virtq_push(vq, e, n)) {
			taken -= n; /* cannot happen for a popped element; never claim lost bytes */
			break;
		}
		pushed = true;
	}
	if (pushed)
		virtio_dev_signal_used(vdev, VIRTIO_CONSOLE_RXQ);
out:
	pthread_mutex_unlock(&vdev->lock);
	return taken;
}

void virtio_console_set_rx_ready(struct virtio_console *con, void (*fn)(void *ctx), void *ctx)
{
	pthread_mutex_lock(&con->vdev.lock);
	con->rx_ready = fn;
	con->rx_ready_ctx = ctx;
	pthread_mutex_unlock(&con->vdev.lock);
}

static uint32_t con_config_read(struct virtio_dev *vdev, uint32_t off, unsigned size)
{
	uint8_t cfg[VIRTIO_CONSOLE_CONFIG_LEN] = {0};
	uint32_t v = 0;

	cfg[VIRTIO_CONSOLE_CFG_MAX_NR_PORTS] = 1; /* little-endian 1 */
	memcpy(&v, cfg + off, size);		  /* the core checked off + size */
	return v;
}

static void con_config_write(struct virtio_dev *vdev, uint32_t off, unsigned size, uint32_t val)
{
	struct virtio_console *con = to_con(vdev);

	/* emerg_wr: a byte for the output, usable before the queues are set up. Only the write
	 * that starts at the field counts; the other fields are read-only. */
	if (off == VIRTIO_CONSOLE_CFG_EMERG_WR) {
		uint8_t c = (uint8_t)val;
		con_write(con, &c, 1);
	}
}

static int con_save(struct virtio_dev *vdev, void *buf, size_t cap)
{
	const uint32_t version = VIRTIO_CONSOLE_STATE_VERSION;

	if (cap < sizeof(version))
		return -ENOSPC;
	memcpy(buf, &version, sizeof(version));
	return (int)sizeof(version);
}

static int con_load(struct virtio_dev *vdev, const void *buf, size_t len)
{
	uint32_t version;

	if (len != sizeof(version))
		return -EINVAL;
	memcpy(&version, buf, sizeof(version));
	return version == VIRTIO_CONSOLE_STATE_VERSION ? 0 : -EINVAL;
}

static const struct virtio_dev_ops con_ops = {
    .queue_notify = con_queue_notify,
    .config_read = con_config_read,
    .config_write = con_config_write,
    .save = con_save,
    .load = con_load,
};

int virtio_console_create(struct gmem *gm, struct char_out out, struct virtio_console **con_out)
{
	const struct virtio_dev_config cfg = {
	    .name = "virtio-console",
	    .device_id = VIRTIO_ID_CONSOLE,
	    .features = VIRTIO_BIT(VIRTIO_CONSOLE_F_EMERG_WRITE),
	    .nr_queues = 2,
	    .queue_size = VIRTIO_CONSOLE_QUEUE_SIZE,
	    .config_len = VIRTIO_CONSOLE_CONFIG_LEN,
	};
	struct virtio_console *con;
	int ret;

	*con_out = NULL;
	con = calloc(1, sizeof(*con));
	if (!con)
		return -ENOMEM;
	ret = virtio_dev_init(&con->vdev, &cfg, &con_ops, gm);
	if (ret) {
		free(con);
		return ret;
	}
	con->out = out;
	*con_out = con;
	return 0;
}

void virtio_console_destroy(struct virtio_console *con)
{
	if (!con)
		return;
	virtio_dev_destroy(&con->vdev);
	free(con);
}

struct virtio_dev *virtio_console_dev(struct virtio_console *con)
{
	return &con->vdev;
}
