/* Virtio socket device: queues, packets, configuration, reset and save/load. See virtio_vsock.h. */
#include "virtio/virtio_vsock_priv.h"
#include "core/log.h"

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define VSOCK_STATE_VERSION 1u
#define VSOCK_STATE_LEN 16u
#define VSOCK_FIRST_HOST_PORT (1u << 30)

static struct virtio_vsock *to_vsock(struct virtio_dev *vdev)
{
	return (struct virtio_vsock *)vdev;
}

static void put_le(uint8_t *p, uint64_t v, unsigned bytes)
{
	for (unsigned i = 0; i < bytes; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, unsigned bytes)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < bytes; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

void virtio_vsock_hdr_encode(const struct virtio_vsock_hdr *h, uint8_t out[VIRTIO_VSOCK_HDR_LEN])
{
	put_le(out, h->src_cid, 8);
	put_le(out + 8, h->dst_cid, 8);
	put_le(out + 16, h->src_port, 4);
	put_le(out + 20, h->dst_port, 4);
	put_le(out + 24, h->len, 4);
	put_le(out + 28, h->type, 2);
	put_le(out + 30, h->op, 2);
	put_le(out + 32, h->flags, 4);
	put_le(out + 36, h->buf_alloc, 4);
	put_le(out + 40, h->fwd_cnt, 4);
}

void virtio_vsock_hdr_decode(const uint8_t in[VIRTIO_VSOCK_HDR_LEN], struct virtio_vsock_hdr *h)
{
	h->src_cid = get_le(in, 8);
	h->dst_cid = get_le(in + 8, 8);
	h->src_port = (uint32_t)get_le(in + 16, 4);
	h->dst_port = (uint32_t)get_le(in + 20, 4);
	h->len = (uint32_t)get_le(in + 24, 4);
	h->type = (uint16_t)get_le(in + 28, 2);
	h->op = (uint16_t)get_le(in + 30, 2);
	h->flags = (uint32_t)get_le(in + 32, 4);
	h->buf_alloc = (uint32_t)get_le(in + 36, 4);
	h->fwd_cnt = (uint32_t)get_le(in + 40, 4);
}

static bool vsock_running(const struct virtio_vsock *v)
{
	return (v->vdev.status & (VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_NEEDS_RESET)) ==
	       VIRTIO_STATUS_DRIVER_OK;
}

static bool queue_usable(struct virtq *vq)
{
	return vq && vq->ready && !virtq_broken(vq);
}

/* A chain error on queue q: break it and enter NEEDS_RESET. */
static void vsock_chain_error(struct virtio_vsock *v, struct virtq *vq, const char *what)
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

	if (!v->event_pending || !vsock_running(v) || !queue_usable(vq))
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
	put_le(id, VIRTIO_VSOCK_EVENT_TRANSPORT_RESET, 4);
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
static void rx_flush(struct virtio_vsock *v)
{
	struct virtq *vq = virtio_dev_queue(&v->vdev, VIRTIO_VSOCK_RXQ);
	struct virtq_elem *e = &v->rx_elem;
	bool pushed = false;
	struct pick p;

	event_flush(v);
	for (unsigned n = 0; n < VIRTIO_VSOCK_RX_BUDGET; n++) {
		if (!vsock_running(v) || !queue_usable(vq) || !pick_next(v, &p))
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

/* ---- driver to device: the tx queue ---- */

static void guest_connect(struct virtio_vsock *v, const struct virtio_vsock_hdr *h)
{
	struct vsock_conn *c;
	int fd = -ENOSYS;

	if (v->nconns < VIRTIO_VSOCK_MAX_CONNS && v->be.connect)
		fd = v->be.connect(v->be.ctx, h->dst_port);
	if (fd < 0) {
		log_rl(LOG_DEBUG, "%s: guest connect to port %u refused: %s", v->vdev.name,
		       h->dst_port, strerror(-fd));
		vsock_queue_rst(v, h->dst_cid, h->dst_port, h->src_port);
		return;
	}
	c = vsock_conn_new(v, fd, h->src_port, h->dst_port, CONN_ESTABLISHED);
	if (!c) {
		close(fd);
		vsock_queue_rst(v, h->dst_cid, h->dst_port, h->src_port);
		return;
	}
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	c->pending |= PEND_RESPONSE;
}

/* Reply RST to a packet (never to an RST) and reset the connection it names, if any. */
static void reject(struct virtio_vsock *v, const struct virtio_vsock_hdr *h, struct vsock_conn *c,
		   const char *why)
{
	log_rl(LOG_DEBUG, "%s: rejecting op %u from port %u to %u: %s", v->vdev.name, h->op,
	       h->src_port, h->dst_port, why);
	if (c)
		vsock_conn_remove(v, c);
	if (h->op != VIRTIO_VSOCK_OP_RST)
		vsock_queue_rst(v, h->dst_cid, h->dst_port, h->src_port);
}

static void handle_pkt(struct virtio_vsock *v, const struct virtio_vsock_hdr *h,
		       const struct virtq_elem *e)
{
	struct vsock_conn *c = vsock_conn_find(v, h->src_port, h->dst_port);
	const uint32_t both = VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND;

	if (h->len > e->read_len - VIRTIO_VSOCK_HDR_LEN || h->len > VIRTIO_VSOCK_MAX_PKT)
		return reject(v, h, c, "len beyond the payload");
	if (h->src_cid != v->cid)
		return reject(v, h, c, "wrong src_cid");
	if (h->dst_cid != VIRTIO_VSOCK_HOST_CID)
		return reject(v, h, c, "dst_cid is not the host");
	if (h->type != VIRTIO_VSOCK_TYPE_STREAM)
		return reject(v, h, c, "not a stream packet");
	if (h->op == VIRTIO_VSOCK_OP_REQUEST) {
		if (c)
			return reject(v, h, c, "REQUEST on an open connection");
		return guest_connect(v, h);
	}
	if (!c) {
		if (h->op != VIRTIO_VSOCK_OP_RST)
			reject(v, h, NULL, "no such connection");
		return;
	}
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	switch (h->op) {
	case VIRTIO_VSOCK_OP_RESPONSE:
		if (c->state != CONN_CONNECTING || (c->pending & PEND_REQUEST))
			return reject(v, h, c, "unexpected RESPONSE");
		c->state = CONN_ESTABLISHED;
		if (v->be.established)
			c->glen = (uint32_t)v->be.established(v->be.ctx, c->host_port, c->greet,
							      sizeof(c->greet));
		if (c->glen > sizeof(c->greet))
			c->glen = sizeof(c->greet);
		vsock_conn_flush_out(v, c);
		return;
	case VIRTIO_VSOCK_OP_RST:
		vsock_conn_remove(v, c);
		return;
	case VIRTIO_VSOCK_OP_SHUTDOWN:
		c->peer_shutdown |= h->flags & both;
		vsock_conn_flush_out(v, c);
		return;
	case VIRTIO_VSOCK_OP_RW:
		if (c->state != CONN_ESTABLISHED || (c->peer_shutdown & VIRTIO_VSOCK_SHUTDOWN_SEND))
			return reject(v, h, c, "RW outside an open connection");
		if (c->olen + h->len > VIRTIO_VSOCK_BUF_ALLOC)
			return reject(v, h, c, "RW beyond the credit");
		vsock_conn_write(v, c, e, VIRTIO_VSOCK_HDR_LEN, h->len);
		return;
	case VIRTIO_VSOCK_OP_CREDIT_UPDATE:
		return;
	case VIRTIO_VSOCK_OP_CREDIT_REQUEST:
		c->pending |= PEND_CREDIT;
		return;
	default:
		return reject(v, h, c, "unknown op");
	}
}

static int tx_process(struct virtio_vsock *v)
{
	struct virtq *vq = virtio_dev_queue(&v->vdev, VIRTIO_VSOCK_TXQ);
	struct virtq_elem *e = &v->tx_elem;
	uint8_t raw[VIRTIO_VSOCK_HDR_LEN];
	struct virtio_vsock_hdr h;
	bool pushed = false;
	int more = 0;

	for (unsigned n = 0;; n++) {
		if (n == VIRTIO_VSOCK_TX_BUDGET) {
			more = 1;
			break;
		}
		if (!queue_usable(vq) || virtq_pop(vq, e))
			break; /* -EAGAIN: drained; -EIO: broken, the core sets NEEDS_RESET */
		if (e->nr_write || e->read_len < VIRTIO_VSOCK_HDR_LEN) {
			vsock_chain_error(v, vq, "tx packet shorter than a header or writable");
			break;
		}
		vsock_iov_from(e, 0, raw, sizeof(raw));
		virtio_vsock_hdr_decode(raw, &h);
		handle_pkt(v, &h, e);
		if (virtq_push(vq, e, 0))
			break;
		pushed = true;
	}
	if (pushed)
		virtio_dev_signal_used(&v->vdev, VIRTIO_VSOCK_TXQ);
	return more;
}

static int vsock_queue_notify(struct virtio_dev *vdev, unsigned q)
{
	struct virtio_vsock *v = to_vsock(vdev);
	int more = 0;

	if (q == VIRTIO_VSOCK_TXQ)
		more = tx_process(v);
	rx_flush(v);
	return more;
}

/* ---- host side entry points ---- */

int virtio_vsock_host_connect(struct virtio_vsock *v, int fd, uint32_t guest_port,
			      uint32_t *host_port)
{
	struct vsock_conn *c;
	int ret = 0;

	pthread_mutex_lock(&v->vdev.lock);
	if (!vsock_running(v)) {
		ret = -ENOTCONN;
		goto out;
	}
	if (v->nconns >= VIRTIO_VSOCK_MAX_CONNS) {
		ret = -ENOSPC;
		goto out;
	}
	/* Ports from 2^30 up, wrapping; at most VIRTIO_VSOCK_MAX_CONNS are taken. */
	for (;; v->next_port++) {
		if (v->next_port < VSOCK_FIRST_HOST_PORT)
			v->next_port = VSOCK_FIRST_HOST_PORT;
		if (!vsock_conn_find(v, guest_port, v->next_port))
			break;
	}
	c = vsock_conn_new(v, fd, guest_port, v->next_port, CONN_CONNECTING);
	if (!c) {
		ret = -ENOMEM;
		goto out;
	}
	v->next_port++;
	c->pending |= PEND_REQUEST;
	*host_port = c->host_port;
	rx_flush(v);
out:
	pthread_mutex_unlock(&v->vdev.lock);
	return ret;
}

void virtio_vsock_kick(struct virtio_vsock *v)
{
	pthread_mutex_lock(&v->vdev.lock);
	rx_flush(v);
	pthread_mutex_unlock(&v->vdev.lock);
}

void virtio_vsock_poll(struct virtio_vsock *v)
{
	pthread_mutex_lock(&v->vdev.lock);
	for (unsigned i = v->nconns; i-- > 0;) {
		struct vsock_conn *c = v->conns[i];
		c->rd_ready = true;
		vsock_conn_flush_out(v, c); /* may remove c: the scan runs downwards */
	}
	rx_flush(v);
	pthread_mutex_unlock(&v->vdev.lock);
	vsock_reap(v);
}

unsigned virtio_vsock_nr_conns(struct virtio_vsock *v)
{
	pthread_mutex_lock(&v->vdev.lock);
	unsigned n = v->nconns;
	pthread_mutex_unlock(&v->vdev.lock);
	return n;
}

static void wake_event(void *ctx, int fd, uint32_t events)
{
	vsock_reap(ctx);
}

/* ---- reset, configuration, save/load ---- */

static void vsock_reset(struct virtio_dev *vdev)
{
	struct virtio_vsock *v = to_vsock(vdev);

	vsock_conn_remove_all(v);
	v->event_pending = false;
}

static uint32_t vsock_config_read(struct virtio_dev *vdev, uint32_t off, unsigned size)
{
	uint8_t cfg[VIRTIO_VSOCK_CONFIG_LEN];
	uint32_t v = 0;

	put_le(cfg, to_vsock(vdev)->cid, 8);
	for (unsigned i = 0; i < size; i++) /* the core checked off + size */
		v |= (uint32_t)cfg[off + i] << (8 * i);
	return v;
}

static int vsock_save(struct virtio_dev *vdev, void *buf, size_t cap)
{
	uint8_t *p = buf;

	if (cap < VSOCK_STATE_LEN)
		return -ENOSPC;
	memset(p, 0, VSOCK_STATE_LEN);
	put_le(p, VSOCK_STATE_VERSION, 4);
	put_le(p + 8, to_vsock(vdev)->cid, 8);
	return VSOCK_STATE_LEN;
}

static int vsock_load(struct virtio_dev *vdev, const void *buf, size_t len)
{
	struct virtio_vsock *v = to_vsock(vdev);
	const uint8_t *p = buf;

	if (len != VSOCK_STATE_LEN || get_le(p, 4) != VSOCK_STATE_VERSION || get_le(p + 4, 4) ||
	    get_le(p + 8, 8) != v->cid)
		return -EINVAL;
	/* Connections do not survive a snapshot: the guest learns through the event queue. */
	vsock_conn_remove_all(v);
	v->event_pending = true;
	return 0;
}

static const struct virtio_dev_ops vsock_ops = {
    .reset = vsock_reset,
    .queue_notify = vsock_queue_notify,
    .config_read = vsock_config_read,
    .save = vsock_save,
    .load = vsock_load,
};

int virtio_vsock_create(struct gmem *gm, uint64_t cid, struct evloop *el,
			const struct virtio_vsock_backend *be, struct virtio_vsock **out)
{
	const struct virtio_dev_config cfg = {
	    .name = "virtio-vsock",
	    .device_id = VIRTIO_ID_VSOCK,
	    .nr_queues = 3,
	    .queue_size = VIRTIO_VSOCK_QUEUE_SIZE,
	    .config_len = VIRTIO_VSOCK_CONFIG_LEN,
	};
	struct virtio_vsock *v;
	int ret;

	*out = NULL;
	if (cid < 3 || cid > 0xfffffffeull)
		return -EINVAL;
	v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	ret = virtio_dev_init(&v->vdev, &cfg, &vsock_ops, gm);
	if (ret) {
		free(v);
		return ret;
	}
	v->cid = cid;
	v->wfd = -1;
	v->next_port = VSOCK_FIRST_HOST_PORT;
	if (be)
		v->be = *be;
	if (el) {
		v->wfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (v->wfd < 0) {
			ret = -errno;
			goto err;
		}
		ret = evloop_add(el, v->wfd, EPOLLIN, wake_event, v);
		if (ret) {
			close(v->wfd);
			goto err;
		}
		v->el = el;
	}
	*out = v;
	return 0;
err:
	virtio_dev_destroy(&v->vdev);
	free(v);
	return ret;
}

void virtio_vsock_destroy(struct virtio_vsock *v)
{
	if (!v)
		return;
	pthread_mutex_lock(&v->vdev.lock);
	vsock_conn_remove_all(v);
	pthread_mutex_unlock(&v->vdev.lock);
	vsock_reap(v);
	if (v->el)
		evloop_del(v->el, v->wfd);
	if (v->wfd >= 0)
		close(v->wfd);
	virtio_dev_destroy(&v->vdev);
	free(v);
}

struct virtio_dev *virtio_vsock_dev(struct virtio_vsock *v)
{
	return &v->vdev;
}
