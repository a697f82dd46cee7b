/* Virtio socket device: the device-to-driver side, the event queue and the rx queue (what to
 * send next, and filling the guest's buffers). See virtio_vsock.h. */
#include "virtio/virtio_vsock_priv.h"
#include "core/log.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

void virtio_vsock_hdr_encode(const struct virtio_vsock_hdr *h, uint8_t out[VIRTIO_VSOCK_HDR_LEN])
{
	vsock_put_le(out, h->src_cid, 8);
	vsock_put_le(out + 8, h->dst_cid, 8);
	vsock_put_le(out + 16, h->src_port, 4);
	vsock_put_le(out + 20, h->dst_port, 4);
	vsock_put_le(out + 24, h->len, 4);
	vsock_put_le(out + 28, h->type, 2);
	vsock_put_le(out + 30, h->op, 2);
	vsock_put_le(out + 32, h->flags, 4);
	vsock_put_le(out + 36, h->buf_alloc, 4);
	vsock_put_le(out + 40, h->fwd_cnt, 4);
}

void virtio_vsock_hdr_decode(const uint8_t in[VIRTIO_VSOCK_HDR_LEN], struct virtio_vsock_hdr *h)
{
	h->src_cid = vsock_get_le(in, 8);
	h->dst_cid = vsock_get_le(in + 8, 8);
	h->src_port = (uint32_t)vsock_get_le(in + 16, 4);
	h->dst_port = (uint32_t)vsock_get_le(in + 20, 4);
	h->len = (uint32_t)vsock_get_le(in + 24, 4);
	h->type = (uint16_t)vsock_get_le(in + 28, 2);
	h->op = (uint16_t)vsock_get_le(in + 30, 2);
	h->flags = (uint32_t)vsock_get_le(in + 32, 4);
	h->buf_alloc = (uint32_t)vsock_get_le(in + 36, 4);
	h->fwd_cnt = (uint32_t)vsock_get_le(in + 40, 4);
}

void vsock_chain_error(struct virtio_vsock *v, struct virtq *vq, const char *what)
{
	log_rl(LOG_WARN, "%s: %s", v->vdev.name, what);
	virtq_set_broken(vq);
	virtio_dev_set_needs_reset(&v->vdev);
}

/* ---- device to driver: the event queue and the rx queue ---- */

static void event_flush(struct virtio_vsock *v)
{
	struct virtq *vq = virtio_dev_queue(&v->vdev, VIRTIO_VSOCK_EVQ);
	struct virtq_elem *e = &v->ev_elem;
	uint8_t id[4] = {0};

	if (!v->event_pending || !vsock_running(v) || !vsock_queue_usable(vq))
		return;
	int ret = virtq_pop(vq, e);
	if (ret == -EIO)
		virtio_dev_set_needs_reset(&v->vdev);
	if (ret)
		return;
	if (e->nr_read || e->write_len < sizeof(id)) {
		vsock_chain_error(v, vq, "event buffer not a writable le32");
		return;
	}
	vsock_put_le(id, VIRTIO_VSOCK_EVENT_TRANSPORT_RESET, 4);
	vsock_iov_to(e, 0, id, sizeof(id));
	if (virtq_push(vq, e, sizeof(id)) == 0) {
		v->event_pending = false;
		virtio_dev_signal_used(&v->vdev, VIRTIO_VSOCK_EVQ);
	}
}

/* What the next rx packet is. */
enum pick_kind { PICK_NONE, PICK_RST, PICK_CTRL, PICK_RW };
struct pick {
	enum pick_kind kind;
	struct vsock_conn *c;
	unsigned idx;  /* c's index in the table */
	unsigned pend; /* PICK_CTRL: the PEND_* bit */
};

/* Does c have data to read? Peeks one byte; end of file queues SHUTDOWN, an error resets c.
 * Returns 1 (data), 0 (nothing now), -1 (c is gone). */
static int conn_peek(struct virtio_vsock *v, struct vsock_conn *c)
{
	uint8_t b;
	ssize_t n;

	if (c->state != CONN_ESTABLISHED || c->host_eof || !c->rd_ready ||
	    (c->peer_shutdown & VIRTIO_VSOCK_SHUTDOWN_RCV) || !vsock_peer_free(c))
		return 0;
	do
		n = recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n > 0)
		return 1;
	if (n == 0) {
		c->host_eof = true;
		c->pending |= PEND_SHUTDOWN;
		return 0;
	}
	if (errno == EAGAIN || errno == EWOULDBLOCK) {
		c->rd_ready = false;
		return 0;
	}
	vsock_conn_reset(v, c);
	return -1;
}

static bool pick_next(struct virtio_vsock *v, struct pick *p)
{
	static const unsigned order[] = {PEND_REQUEST, PEND_RESPONSE, PEND_CREDIT, PEND_SHUTDOWN};

	if (v->rst_count) {
		*p = (struct pick){.kind = PICK_RST};
		return true;
	}
	for (unsigned k = 0; k < v->nconns;) {
		unsigned i = (v->rr + k) % v->nconns;
		struct vsock_conn *c = v->conns[i];
		for (unsigned j = 0; j < sizeof(order) / sizeof(order[0]); j++) {
			/* Data first, SHUTDOWN after it; a credit update rides on data anyway. */
			if ((c->pending & order[j]) && order[j] != PEND_SHUTDOWN &&
			    order[j] != PEND_CREDIT) {
				*p = (struct pick){PICK_CTRL, c, i, order[j]};
				return true;
			}
		}
		int r = conn_peek(v, c);
		if (r < 0) {
			if (v->rst_count) {
				*p = (struct pick){.kind = PICK_RST};
				return true;
			}
			continue; /* the table changed at i: look at i again */
		}
		if (r > 0) {
			*p = (struct pick){PICK_RW, c, i, 0};
			return true;
		}
		for (unsigned j = 0; j < sizeof(order) / sizeof(order[0]); j++) {
			if (c->pending & order[j]) {
				*p = (struct pick){PICK_CTRL, c, i, order[j]};
				return true;
			}
		}
		k++;
	}
	return false;
}

static void conn_hdr(const struct virtio_vsock *v, struct vsock_conn *c, uint16_t op,
		     struct virtio_vsock_hdr *h)
{
	*h = (struct virtio_vsock_hdr){
	    .src_cid = VIRTIO_VSOCK_HOST_CID,
	    .dst_cid = v->cid,
	    .src_port = c->host_port,
	    .dst_port = c->guest_port,
	    .type = VIRTIO_VSOCK_TYPE_STREAM,
	    .op = op,
	    .buf_alloc = VIRTIO_VSOCK_BUF_ALLOC,
	    .fwd_cnt = c->fwd_cnt,
	};
	c->fwd_cnt_sent = c->fwd_cnt;
	c->pending &= ~PEND_CREDIT;
}

/* Fill the popped rx element e with the picked packet. Returns the used length. */
static uint32_t emit(struct virtio_vsock *v, const struct pick *p, struct virtq_elem *e)
{
	uint8_t raw[VIRTIO_VSOCK_HDR_LEN];
	struct virtio_vsock_hdr h;
	struct vsock_conn *c = p->c;
	uint32_t payload = 0;

	if (p->kind == PICK_RST) {
		const struct vsock_rst *r = &v->rst[v->rst_head];
		h = (struct virtio_vsock_hdr){.src_cid = r->host_cid,
					      .dst_cid = v->cid,
					      .src_port = r->host_port,
					      .dst_port = r->guest_port,
					      .type = VIRTIO_VSOCK_TYPE_STREAM,
					      .op = VIRTIO_VSOCK_OP_RST};
		v->rst_head = (v->rst_head + 1) % VSOCK_RST_RING;
		v->rst_count--;
	} else if (p->kind == PICK_CTRL) {
		static const uint16_t ops[] = {[PEND_REQUEST] = VIRTIO_VSOCK_OP_REQUEST,
					       [PEND_RESPONSE] = VIRTIO_VSOCK_OP_RESPONSE,
					       [PEND_SHUTDOWN] = VIRTIO_VSOCK_OP_SHUTDOWN,
					       [PEND_CREDIT] = VIRTIO_VSOCK_OP_CREDIT_UPDATE};
		c->pending &= ~p->pend;
		conn_hdr(v, c, ops[p->pend], &h);
		if (p->pend == PEND_SHUTDOWN)
			h.flags = VIRTIO_VSOCK_SHUTDOWN_SEND;
	} else {
		struct iovec iov[VIRTQ_ELEM_MAX_IOV];
		uint64_t room = e->write_len - VIRTIO_VSOCK_HDR_LEN;
		uint32_t want = vsock_peer_free(c);
		ssize_t n;
		if (want > VIRTIO_VSOCK_MAX_PKT)
			want = VIRTIO_VSOCK_MAX_PKT;
		if (want > room)
			want = (uint32_t)room;
		unsigned niov =
		    vsock_iov_slice(e, true, VIRTIO_VSOCK_HDR_LEN, want, iov, VIRTQ_ELEM_MAX_IOV);
		do
			n = want ? readv(c->fd, iov, (int)niov) : 0;
		while (n < 0 && errno == EINTR);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			c->rd_ready = false;
			return 0; /* an empty buffer: the driver drops it and posts another */
		}
		if (n < 0) {
			conn_hdr(v, c, VIRTIO_VSOCK_OP_RST, &h);
			vsock_conn_remove(v, c);
		} else if (n == 0) {
			c->host_eof = true;
			conn_hdr(v, c, VIRTIO_VSOCK_OP_SHUTDOWN, &h);
			h.flags = VIRTIO_VSOCK_SHUTDOWN_SEND;
		} else {
			payload = (uint32_t)n;
			c->tx_cnt += payload;
			conn_hdr(v, c, VIRTIO_VSOCK_OP_RW, &h);
			h.len = payload;
		}
	}
	virtio_vsock_hdr_encode(&h, raw);
	vsock_iov_to(e, 0, raw, sizeof(raw));
	return VIRTIO_VSOCK_HDR_LEN + payload;
}

/* Deliver pending packets into the posted rx buffers. */
void vsock_rx_flush(struct virtio_vsock *v)
{
	struct virtq *vq = virtio_dev_queue(&v->vdev, VIRTIO_VSOCK_RXQ);
	struct virtq_elem *e = &v->rx_elem;
	bool pushed = false;
	struct pick p;

	event_flush(v);
	for (unsigned n = 0; n < VIRTIO_VSOCK_RX_BUDGET; n++) {
		if (!vsock_running(v) || !vsock_queue_usable(vq) || !pick_next(v, &p))
			break;
		int ret = virtq_pop(vq, e);
		if (ret == -EIO)
			virtio_dev_set_needs_reset(&v->vdev);
		if (ret)
			break;
		if (e->nr_read || e->write_len < VIRTIO_VSOCK_HDR_LEN) {
			vsock_chain_error(v, vq,
					  "rx buffer with readable part or shorter than a header");
			break;
		}
		uint32_t len = emit(v, &p, e);
		if (p.kind != PICK_RST && v->nconns)
			v->rr = (p.idx + 1) % v->nconns;
		if (virtq_push(vq, e, len))
			break;
		pushed = true;
	}
	if (pushed)
		virtio_dev_signal_used(&v->vdev, VIRTIO_VSOCK_RXQ);
}
