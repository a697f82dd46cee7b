/* Virtio network device: transmit, the device ops, creation. See virtio_net.h for the queues, the
 * rules and the locking; the receive side is in virtio_net_rx.c. */
#include "core/log.h"
#include "virtio/virtio_net_priv.h"

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* ---- transmit ---- */

/* The frame of a transmit request: its readable segments after the first hdr bytes. */
static unsigned tx_frame_iov(struct virtio_net *net, const struct virtq_elem *e)
{
	size_t skip = VIRTIO_NET_HDR_LEN;
	unsigned n = 0;

	for (unsigned i = 0; i < e->nr_read; i++) {
		size_t len = e->iov[i].iov_len;
		if (skip >= len) {
			skip -= len;
			continue;
		}
		net->txiov[n].iov_base = (uint8_t *)e->iov[i].iov_base + skip;
		net->txiov[n].iov_len = len - skip;
		skip = 0;
		n++;
	}
	return n;
}

/* The guest's header of a transmit request (its first VIRTIO_NET_HDR_LEN readable bytes, which
 * may span segments), as the back-end should get it: NULL for a complete frame. Returns false
 * when the frame must be dropped (segmentation the device did not offer). */
static bool tx_header(struct virtio_net *net, const struct virtq_elem *e, struct net_vhdr *h,
		      const struct net_vhdr **out)
{
	uint8_t b[VIRTIO_NET_HDR_LEN];
	size_t done = 0;
	uint16_t v[4];

	*out = NULL;
	if (!has(net, VIRTIO_NET_F_CSUM))
		return true; /* the header means nothing: a complete frame */
	for (unsigned i = 0; i < e->nr_read && done < sizeof(b); i++) {
		size_t n =
		    e->iov[i].iov_len < sizeof(b) - done ? e->iov[i].iov_len : sizeof(b) - done;
		memcpy(b + done, e->iov[i].iov_base, n); /* copied once, then checked */
		done += n;
	}
	memcpy(v, b + 2, sizeof(v));
	h->flags = b[0] & NET_HDR_F_NEEDS_CSUM;
	h->gso_type = b[1];
	h->hdr_len = le16toh(v[0]);
	h->gso_size = le16toh(v[1]);
	h->csum_start = le16toh(v[2]);
	h->csum_offset = le16toh(v[3]);
	switch (h->gso_type) {
	case NET_GSO_NONE:
		break;
	case NET_GSO_TCPV4:
		if (!has(net, VIRTIO_NET_F_HOST_TSO4))
			return false;
		break;
	case NET_GSO_TCPV6:
		if (!has(net, VIRTIO_NET_F_HOST_TSO6))
			return false;
		break;
	default: /* UDP, ECN: not offered */
		return false;
	}
	if (h->flags || h->gso_type)
		*out = h;
	return true;
}

static int net_tx(struct virtio_net *net, struct virtq *vq)
{
	struct virtq_elem *e = &net->elem;
	bool pushed = false;
	int more = 0;

	for (unsigned n = 0;; n++) {
		if (n == VIRTIO_NET_TX_BUDGET) {
			more = 1;
			break;
		}
		if (virtq_pop(vq, e))
			break; /* -EAGAIN: drained; -EIO: broken, the core sets NEEDS_RESET */
		if (e->nr_write || e->read_len < VIRTIO_NET_HDR_LEN) {
			log_rl(LOG_WARN, "%s: transmit request with %s", net->vdev.name,
			       e->nr_write ? "a device-writable buffer" : "a short header");
			virtq_set_broken(vq);
			break;
		}
		uint64_t len = e->read_len - VIRTIO_NET_HDR_LEN;
		struct net_vhdr h;
		const struct net_vhdr *hp;
		if (len < NET_MIN_FRAME || len > NET_MAX_FRAME || !tx_header(net, e, &h, &hp) ||
		    net->be->ops->send(net->be, hp, net->txiov, tx_frame_iov(net, e))) {
			net->st.tx_dropped++;
		} else {
			net->st.tx_frames++;
			net->st.tx_bytes += len;
		}
		if (virtq_push(vq, e, 0))
			break;
		pushed = true;
	}
	if (pushed)
		virtio_dev_signal_used(&net->vdev, VIRTIO_NET_TXQ);
	vnet_rx_locked(net); /* the back-end may have answered already */
	return more;
}

/* ---- device ops ---- */

static int net_queue_notify(struct virtio_dev *vdev, unsigned q)
{
	struct virtio_net *net = to_net(vdev);
	struct virtq *vq = virtio_dev_queue(vdev, q);

	if (!vq)
		return 0;
	if (q == VIRTIO_NET_TXQ)
		return net_tx(net, vq);
	return vnet_rx_round(net); /* buffers were posted */
}

static void net_reset(struct virtio_dev *vdev)
{
	struct virtio_net *net = to_net(vdev);

	if (net->held)
		vnet_rx_drop(net);
	vnet_sync_offloads(net, 0); /* the next driver may take complete frames only */
}

static uint32_t net_config_read(struct virtio_dev *vdev, uint32_t off, unsigned size)
{
	struct virtio_net *net = to_net(vdev);
	uint32_t v = 0;

	memcpy(&v, net->config + off, size); /* the core checked off + size <= config_len */
	return le32toh(v);
}

static void put32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, 4);
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return le32toh(v);
}

static int net_save(struct virtio_dev *vdev, void *buf, size_t cap)
{
	struct virtio_net *net = to_net(vdev);
	uint8_t *p = buf;

	if (cap < VIRTIO_NET_STATE_LEN)
		return -ENOSPC;
	memset(p, 0, VIRTIO_NET_STATE_LEN);
	put32(p, VIRTIO_NET_STATE_VERSION);
	memcpy(p + 4, net->mac, 6);
	return VIRTIO_NET_STATE_LEN;
}

static int net_load(struct virtio_dev *vdev, const void *buf, size_t len)
{
	struct virtio_net *net = to_net(vdev);
	static const uint8_t zero[6];
	const uint8_t *p = buf;

	if (len != VIRTIO_NET_STATE_LEN || get32(p) != VIRTIO_NET_STATE_VERSION ||
	    memcmp(p + 4, net->mac, 6) || memcmp(p + 10, zero, 6))
		return -EINVAL;
	net->held = 0; /* host-side data of the old device, not part of the state */
	return 0;
}

static const struct virtio_dev_ops net_ops = {
    .reset = net_reset,
    .queue_notify = net_queue_notify,
    .config_read = net_config_read,
    .save = net_save,
    .load = net_load,
};

int virtio_net_create(struct gmem *gm, struct net_backend *be, const uint8_t mac[6],
		      struct evloop *el, struct virtio_net **out)
{
	struct virtio_dev_config cfg = {
	    .name = "virtio-net",
	    .device_id = VIRTIO_ID_NET,
	    .features = VIRTIO_BIT(VIRTIO_NET_F_MAC) | VIRTIO_BIT(VIRTIO_NET_F_STATUS) |
			VIRTIO_BIT(VIRTIO_NET_F_MTU) | VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF),
	    .nr_queues = 2,
	    .queue_size = VIRTIO_NET_QUEUE_SIZE,
	    .config_len = VIRTIO_NET_CONFIG_LEN,
	};
	struct virtio_net *net;
	int ret;

	*out = NULL;
	if (!be || (mac[0] & 1))
		return -EINVAL;
	if (be->offloads & NET_OFFLOAD_CSUM)
		cfg.features |= VIRTIO_BIT(VIRTIO_NET_F_CSUM) | VIRTIO_BIT(VIRTIO_NET_F_GUEST_CSUM);
	if ((be->offloads & NET_OFFLOAD_CSUM) && (be->offloads & NET_OFFLOAD_TSO4))
		cfg.features |=
		    VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO4) | VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO4);
	if ((be->offloads & NET_OFFLOAD_CSUM) && (be->offloads & NET_OFFLOAD_TSO6))
		cfg.features |=
		    VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO6) | VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO6);
	net = calloc(1, sizeof(*net));
	if (!net)
		return -ENOMEM;
	net->kick_fd = -1;
	net->rxbuf = malloc(VIRTIO_NET_HDR_LEN + NET_MAX_FRAME);
	if (!net->rxbuf) {
		ret = -ENOMEM;
		goto err_free;
	}
	ret = virtio_dev_init(&net->vdev, &cfg, &net_ops, gm);
	if (ret)
		goto err_free;
	if (el) {
		net->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (net->kick_fd < 0) {
			ret = -errno;
			goto err_dev;
		}
		ret = evloop_add(el, net->kick_fd, EPOLLIN, vnet_kick_event, net);
		if (ret) {
			close(net->kick_fd);
			goto err_dev;
		}
		net->el = el;
	}
	memcpy(net->mac, mac, 6);
	memcpy(net->config + VIRTIO_NET_CFG_MAC, mac, 6);
	net->config[VIRTIO_NET_CFG_STATUS] = VIRTIO_NET_S_LINK_UP;
	net->config[VIRTIO_NET_CFG_MAX_VQ_PAIRS] = 1;
	net->config[VIRTIO_NET_CFG_MTU] = VIRTIO_NET_MTU & 0xff;
	net->config[VIRTIO_NET_CFG_MTU + 1] = VIRTIO_NET_MTU >> 8;
	net->be = be;
	net_backend_set_rx_ready(be, vnet_rx_ready, net);
	*out = net;
	return 0;

err_dev:
	virtio_dev_destroy(&net->vdev);
err_free:
	free(net->rxbuf);
	free(net);
	return ret;
}

void virtio_net_destroy(struct virtio_net *net)
{
	if (!net)
		return;
	log_info("%s (%s): received %llu frames (%llu bytes, %llu dropped here, %llu by the "
		 "back-end), sent %llu frames (%llu bytes, %llu dropped)",
		 net->vdev.name, net->be->desc, (unsigned long long)net->st.rx_frames,
		 (unsigned long long)net->st.rx_bytes, (unsigned long long)net->st.rx_dropped,
		 (unsigned long long)net->be->dropped, (unsigned long long)net->st.tx_frames,
		 (unsigned long long)net->st.tx_bytes, (unsigned long long)net->st.tx_dropped);
	if (net->el)
		evloop_del(net->el, net->kick_fd);
	if (net->kick_fd >= 0)
		close(net->kick_fd);
	net_backend_destroy(net->be);
	virtio_dev_destroy(&net->vdev);
	free(net->rxbuf);
	free(net);
}

struct virtio_dev *virtio_net_dev(struct virtio_net *net)
{
	return &net->vdev;
}

void virtio_net_get_stats(struct virtio_net *net, struct virtio_net_stats *st, bool *holding)
{
	pthread_mutex_lock(&net->vdev.lock);
	*st = net->st;
	if (holding)
		*holding = net->held != 0;
	pthread_mutex_unlock(&net->vdev.lock);
}
