/* Virtio network device, receive side: frames from the back-end into the posted buffers, with
 * or without MRG_RXBUF, and the offloads the back-end is told about. See virtio_net.h. */
#include "core/log.h"
#include "virtio/virtio_net_priv.h"

#include <endian.h>
#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>

/* The offloads the guest accepts on receive, as the back-end can give them; TSO only with
 * checksum offload (the spec makes GUEST_TSO* depend on GUEST_CSUM). */
unsigned vnet_wanted_offloads(const struct virtio_net *net)
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
void vnet_sync_offloads(struct virtio_net *net, unsigned want)
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

void vnet_rx_drop(struct virtio_net *net)
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
			vnet_rx_drop(net);
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
			vnet_rx_drop(net);
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
int vnet_rx_round(struct virtio_net *net)
{
	struct virtq *vq = virtio_dev_queue(&net->vdev, VIRTIO_NET_RXQ);
	bool pushed = false;
	int more = 0;

	if (!net_running(&net->vdev) || !vq->ready || virtq_broken(vq))
		return 0;
	vnet_sync_offloads(net, vnet_wanted_offloads(net));
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

void vnet_rx_locked(struct virtio_net *net)
{
	if (vnet_rx_round(net))
		net_kick(net);
}

int virtio_net_rx(struct virtio_net *net)
{
	int more;

	pthread_mutex_lock(&net->vdev.lock);
	more = vnet_rx_round(net);
	if (more)
		net_kick(net);
	pthread_mutex_unlock(&net->vdev.lock);
	return more;
}

void vnet_rx_ready(void *ctx)
{
	(void)virtio_net_rx(ctx);
}

void vnet_kick_event(void *ctx, int fd, uint32_t events)
{
	struct virtio_net *net = ctx;
	eventfd_t v;

	(void)eventfd_read(fd, &v);
	(void)virtio_net_rx(net);
}
