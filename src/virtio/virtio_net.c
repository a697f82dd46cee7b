/* Virtio network device. See virtio_net.h for the queues, the rules and the locking. */
#include "virtio/virtio_net.h"
#include "core/log.h"

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* One receive buffer a frame is being written into, until the frame is complete: what
 * virtq_push needs to hand it back (head, written bytes, the segments written). */
struct rx_part {
	uint16_t head;
	uint32_t written;
	unsigned seg, nseg; /* in seg_iov / seg_gpa */
};

struct virtio_net {
	struct virtio_dev vdev; /* first: the ops recover the device from it */
	struct net_backend *be;
	struct evloop *el;
	int kick_fd; /* eventfd for receive work left over, watched in el; or -1 */
	uint8_t config[VIRTIO_NET_CONFIG_LEN];
	uint8_t mac[6];

	/* Protected by vdev.lock. */
	struct virtq_elem elem;
	struct iovec txiov[VIRTQ_ELEM_MAX_IOV];
	uint8_t *rxbuf;		  /* header + the held frame */
	size_t held;		  /* bytes of the held frame after the header; 0: none */
	struct net_vhdr held_hdr; /* its offload header, as the guest will see it */
	unsigned offloads;	  /* NET_OFFLOAD_* the back-end was last set to */
	struct rx_part parts[VIRTIO_NET_QUEUE_SIZE];
	struct iovec seg_iov[VIRTIO_NET_RX_SEGS];
	uint64_t seg_gpa[VIRTIO_NET_RX_SEGS];
	struct virtio_net_stats st;
};

static struct virtio_net *to_net(struct virtio_dev *vdev)
{
	return (struct virtio_net *)vdev;
}

static bool net_running(const struct virtio_dev *vdev)
{
	return (vdev->status & (VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_NEEDS_RESET)) ==
	       VIRTIO_STATUS_DRIVER_OK;
}

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

static void net_rx_locked(struct virtio_net *net);

static bool has(const struct virtio_net *net, unsigned bit)
{
	return virtio_dev_has_feature(&net->vdev, bit);
}

/* The offloads the guest accepts on receive, as the back-end can give them; TSO only with
 * checksum offload (the spec makes GUEST_TSO* depend on GUEST_CSUM). */
static unsigned net_wanted_offloads(const struct virtio_net *net)
{
	unsigned w = 0;

	if (has(net, VIRTIO_NET_F_GUEST_CSUM)) {
		w = NET_OFFLOAD_CSUM;
		if (has(net, VIRTIO_NET_F_GUEST_TSO4))
			w |= NET_OFFLOAD_TSO4;
		if (has(net, VIRTIO_NET_F_GUEST_TSO6))
			w |= NET_OFFLOAD_TSO6;
	}
	return w & net->be->offloads;
}

/* Tell the back-end when what the guest accepts changed (after a feature negotiation or a
 * reset). Lock held. */
static void net_sync_offloads(struct virtio_net *net, unsigned want)
{
	int ret;

	if (want == net->offloads || !net->be->ops->set_offloads)
		return;
	ret = net->be->ops->set_offloads(net->be, want);
	if (ret) {
		log_rl(LOG_WARN, "%s: %s: cannot set offloads 0x%x: %s", net->vdev.name,
		       net->be->desc, want, strerror(-ret));
		return; /* frames that still come with offloads are completed or dropped */
	}
	net->offloads = want;
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
	net_rx_locked(net); /* the back-end may have answered already */
	return more;
}

/* ---- receive ---- */

/* Copy src[0..len) into the writable segments of e from its start, recording the segments used
 * in the pool from *seg on. Returns the bytes copied, or 0 when the pool is full. */
static uint32_t rx_fill(struct virtio_net *net, const struct virtq_elem *e, const uint8_t *src,
			size_t len, unsigned *seg)
{
	uint32_t done = 0;

	for (unsigned i = e->nr_read; i < e->nr_read + e->nr_write && done < len; i++) {
		size_t n = e->iov[i].iov_len;
		if (*seg == VIRTIO_NET_RX_SEGS)
			return 0;
		if (n > len - done)
			n = len - done;
		memcpy(e->iov[i].iov_base, src + done, n);
		net->seg_iov[*seg] = (struct iovec){e->iov[i].iov_base, n};
		net->seg_gpa[*seg] = e->gpa[i];
		(*seg)++;
		done += (uint32_t)n;
	}
	return done;
}

/* Write the header (already in rxbuf) again through the first part's segments, now with the
 * final num_buffers. The first part holds at least the header (checked when it was taken). */
static void rx_write_hdr(struct virtio_net *net, const struct rx_part *p)
{
	size_t done = 0;

	for (unsigned i = p->seg; done < VIRTIO_NET_HDR_LEN; i++) {
		size_t n = net->seg_iov[i].iov_len;
		if (n > VIRTIO_NET_HDR_LEN - done)
			n = VIRTIO_NET_HDR_LEN - done;
		memcpy(net->seg_iov[i].iov_base, net->rxbuf + done, n);
		done += n;
	}
}

static void put16(uint8_t *p, uint16_t v)
{
	v = htole16(v);
	memcpy(p, &v, 2);
}

/* struct virtio_net_hdr_v1 without num_buffers (written when the frame is complete). */
static void rx_put_hdr(uint8_t *p, const struct net_vhdr *h)
{
	p[0] = h->flags;
	p[1] = h->gso_type;
	put16(p + 2, h->hdr_len);
	put16(p + 4, h->gso_size);
	put16(p + 6, h->csum_start);
	put16(p + 8, h->csum_offset);
	put16(p + VIRTIO_NET_HDR_NUM_BUFFERS, 0);
}

/* The 16-bit ones' complement sum of [p, p+len), folded. */
static uint16_t csum_fold(const uint8_t *p, size_t len)
{
	uint64_t sum = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* Make the frame just received (len bytes at rxbuf + header, offload header *h) fit what the
 * guest negotiated: a partial checksum is completed here when the guest takes only complete
 * frames; a segmentation-offloaded frame the guest did not ask for is dropped (false). */
static bool rx_fixup(struct virtio_net *net, struct net_vhdr *h, size_t len)
{
	uint8_t *f = net->rxbuf + VIRTIO_NET_HDR_LEN;
	bool csum = has(net, VIRTIO_NET_F_GUEST_CSUM);

	switch (h->gso_type) {
	case NET_GSO_NONE:
		break;
	case NET_GSO_TCPV4:
		if (!csum || !has(net, VIRTIO_NET_F_GUEST_TSO4))
			return false;
		break;
	case NET_GSO_TCPV6:
		if (!csum || !has(net, VIRTIO_NET_F_GUEST_TSO6))
			return false;
		break;
	default: /* UDP, ECN: never enabled */
		return false;
	}
	if (csum) {
		h->flags &= NET_HDR_F_NEEDS_CSUM | NET_HDR_F_DATA_VALID;
		return true;
	}
	if (h->flags & NET_HDR_F_NEEDS_CSUM) {
		size_t start = h->csum_start, off = h->csum_offset;
		if (start >= len || off > len - start || len - start - off < 2)
			return false;
		uint16_t c = (uint16_t)~csum_fold(f + start, len - start);
		f[start + off] = (uint8_t)(c >> 8);
		f[start + off + 1] = (uint8_t)c;
	}
	memset(h, 0, sizeof(*h));
	return true;
}

static void rx_drop(struct virtio_net *net)
{
	net->st.rx_dropped++;
	net->held = 0;
}

/* Deliver the held frame. Returns 0 when it was delivered or dropped, -ENOBUFS when the driver
 * must post more buffers first (the frame stays held), -EIO when the queue broke. */
static int rx_frame(struct virtio_net *net, struct virtq *vq)
{
	bool mrg = virtio_dev_has_feature(&net->vdev, VIRTIO_NET_F_MRG_RXBUF);
	size_t total = VIRTIO_NET_HDR_LEN + net->held, done = 0;
	unsigned nparts = 0, seg = 0, max = mrg ? vq->size : 1;
	struct virtq_elem *e = &net->elem;
	uint16_t nb;
	int ret;

	rx_put_hdr(net->rxbuf, &net->held_hdr);
	while (done < total) {
		if (nparts == max) {
			/* Without MRG_RXBUF the buffer is too small; with it the whole ring is. */
			virtq_unpop(vq, nparts);
			rx_drop(net);
			return 0;
		}
		ret = virtq_pop(vq, e);
		if (ret == -EAGAIN) {
			virtq_unpop(vq, nparts);
			return -ENOBUFS;
		}
		if (ret)
			return -EIO;
		if (e->nr_read || e->write_len < VIRTIO_NET_HDR_LEN) {
			log_rl(LOG_WARN, "%s: receive buffer %s", net->vdev.name,
			       e->nr_read ? "with a device-readable part"
					  : "shorter than the header");
			virtq_set_broken(vq);
			return -EIO;
		}
		struct rx_part *p = &net->parts[nparts++];
		p->head = e->head;
		p->seg = seg;
		p->written = rx_fill(net, e, net->rxbuf + done, total - done, &seg);
		p->nseg = seg - p->seg;
		if (!p->written) { /* more segments than the pool: a guest of tiny buffers */
			virtq_unpop(vq, nparts);
			rx_drop(net);
			return 0;
		}
		done += p->written;
	}
	nb = htole16((uint16_t)nparts);
	memcpy(net->rxbuf + VIRTIO_NET_HDR_NUM_BUFFERS, &nb, 2);
	rx_write_hdr(net, &net->parts[0]);
	for (unsigned i = 0; i < nparts; i++) {
		const struct rx_part *p = &net->parts[i];
		e->head = p->head;
		e->nr_read = 0;
		e->nr_write = p->nseg;
		e->read_len = 0;
		e->write_len = p->written;
		memcpy(e->iov, net->seg_iov + p->seg, p->nseg * sizeof(e->iov[0]));
		memcpy(e->gpa, net->seg_gpa + p->seg, p->nseg * sizeof(e->gpa[0]));
		if (virtq_push(vq, e, p->written))
			return -EIO;
	}
	net->st.rx_frames++;
	net->st.rx_bytes += net->held;
	net->held = 0;
	return 0;
}

static void net_kick(struct virtio_net *net)
{
	if (net->kick_fd >= 0 && eventfd_write(net->kick_fd, 1) < 0)
		log_rl(LOG_WARN, "%s: eventfd_write failed", net->vdev.name);
}

/* Deliver frames until the back-end or the buffers run out (or the budget). Lock held. Returns
 * 1 when the budget ran out. */
static int net_rx_round(struct virtio_net *net)
{
	struct virtq *vq = virtio_dev_queue(&net->vdev, VIRTIO_NET_RXQ);
	bool pushed = false;
	int more = 0;

	if (!net_running(&net->vdev) || !vq->ready || virtq_broken(vq))
		return 0;
	net_sync_offloads(net, net_wanted_offloads(net));
	for (unsigned n = 0;; n++) {
		if (n == VIRTIO_NET_RX_BUDGET) {
			more = 1;
			break;
		}
		if (!net->held) {
			ssize_t r =
			    net->be->ops->recv(net->be, &net->held_hdr,
					       net->rxbuf + VIRTIO_NET_HDR_LEN, NET_MAX_FRAME);
			if (r == -EAGAIN)
				break;
			if (r <= 0) {
				log_rl(LOG_WARN, "%s: %s: receive failed: %s", net->vdev.name,
				       net->be->desc, strerror(r ? (int)-r : EIO));
				break;
			}
			if (!rx_fixup(net, &net->held_hdr, (size_t)r)) {
				net->st.rx_dropped++;
				continue;
			}
			net->held = (size_t)r;
		}
		if (rx_frame(net, vq))
			break; /* -ENOBUFS: wait for buffers; -EIO: broken */
		pushed = true;
	}
	if (pushed)
		virtio_dev_signal_used(&net->vdev, VIRTIO_NET_RXQ);
	if (virtq_broken(vq))
		virtio_dev_set_needs_reset(&net->vdev);
	return more;
}

static void net_rx_locked(struct virtio_net *net)
{
	if (net_rx_round(net))
		net_kick(net);
}

int virtio_net_rx(struct virtio_net *net)
{
	int more;

	pthread_mutex_lock(&net->vdev.lock);
	more = net_rx_round(net);
	if (more)
		net_kick(net);
	pthread_mutex_unlock(&net->vdev.lock);
	return more;
}

static void net_rx_ready(void *ctx)
{
	(void)virtio_net_rx(ctx);
}

static void net_kick_event(void *ctx, int fd, uint32_t events)
{
	struct virtio_net *net = ctx;
	eventfd_t v;

	(void)eventfd_read(fd, &v);
	(void)virtio_net_rx(net);
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
	return net_rx_round(net); /* buffers were posted */
}

static void net_reset(struct virtio_dev *vdev)
{
	struct virtio_net *net = to_net(vdev);

	if (net->held)
		rx_drop(net);
	net_sync_offloads(net, 0); /* the next driver may take complete frames only */
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
		ret = evloop_add(el, net->kick_fd, EPOLLIN, net_kick_event, net);
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
	net_backend_set_rx_ready(be, net_rx_ready, net);
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
