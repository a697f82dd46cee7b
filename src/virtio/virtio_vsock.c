/* Virtio socket device: the driver-to-device side (tx queue, packet handling), the host entry
 * points, reset, configuration and save/load. See virtio_vsock.h. */
#include "virtio/virtio_vsock_priv.h"
#include "core/log.h"

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define VSOCK_STATE_VERSION 1u
#define VSOCK_STATE_LEN 16u
#define VSOCK_FIRST_HOST_PORT (1u << 30)

static struct virtio_vsock *to_vsock(struct virtio_dev *vdev)
{
	return (struct virtio_vsock *)vdev;
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
		if (!vsock_queue_usable(vq) || virtq_pop(vq, e))
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
	vsock_rx_flush(v);
	return more;
}

/* ---- host side entry points ---- */

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Arm the handshake timer for the earliest CONNECTING deadline, if any. Lock held. */
static void timer_arm(struct virtio_vsock *v, uint64_t now)
{
	const uint64_t timeout = VIRTIO_VSOCK_CONNECT_TIMEOUT_MS * 1000000ull;
	uint64_t first = UINT64_MAX;

	if (v->tfd < 0 || v->timer_armed)
		return;
	for (unsigned i = 0; i < v->nconns; i++)
		if (v->conns[i]->state == CONN_CONNECTING && v->conns[i]->connect_ns < first)
			first = v->conns[i]->connect_ns;
	if (first == UINT64_MAX)
		return;
	uint64_t wait = first + timeout > now ? first + timeout - now : 0;
	wait += 10000000u; /* 10 ms late rather than early */
	struct itimerspec its = {
	    .it_value = {(time_t)(wait / 1000000000u), (long)(wait % 1000000000u)}};
	if (timerfd_settime(v->tfd, 0, &its, NULL) == 0)
		v->timer_armed = true;
}

static unsigned expire_locked(struct virtio_vsock *v, uint64_t now)
{
	const uint64_t timeout = VIRTIO_VSOCK_CONNECT_TIMEOUT_MS * 1000000ull;
	unsigned n = 0;

	for (unsigned i = v->nconns; i-- > 0;) {
		struct vsock_conn *c = v->conns[i];
		if (c->state == CONN_CONNECTING && now - c->connect_ns >= timeout) {
			log_rl(LOG_DEBUG, "%s: guest port %u did not answer in time", v->vdev.name,
			       c->guest_port);
			vsock_conn_reset(v, c);
			n++;
		}
	}
	vsock_rx_flush(v);
	timer_arm(v, now);
	return n;
}

unsigned virtio_vsock_expire(struct virtio_vsock *v, uint64_t now_ns)
{
	pthread_mutex_lock(&v->vdev.lock);
	unsigned n = expire_locked(v, now_ns);
	pthread_mutex_unlock(&v->vdev.lock);
	return n;
}

static void timer_event(void *ctx, int fd, uint32_t events)
{
	struct virtio_vsock *v = ctx;
	uint64_t ticks;

	if (read(fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		log_rl(LOG_WARN, "%s: timerfd read: %s", v->vdev.name, strerror(errno));
	pthread_mutex_lock(&v->vdev.lock);
	v->timer_armed = false;
	expire_locked(v, mono_ns());
	pthread_mutex_unlock(&v->vdev.lock);
	vsock_reap(v);
}

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
	c->connect_ns = mono_ns();
	*host_port = c->host_port;
	vsock_rx_flush(v);
	timer_arm(v, c->connect_ns);
out:
	pthread_mutex_unlock(&v->vdev.lock);
	return ret;
}

void virtio_vsock_kick(struct virtio_vsock *v)
{
	pthread_mutex_lock(&v->vdev.lock);
	vsock_rx_flush(v);
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
	vsock_rx_flush(v);
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

	vsock_put_le(cfg, to_vsock(vdev)->cid, 8);
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
	vsock_put_le(p, VSOCK_STATE_VERSION, 4);
	vsock_put_le(p + 8, to_vsock(vdev)->cid, 8);
	return VSOCK_STATE_LEN;
}

static int vsock_load(struct virtio_dev *vdev, const void *buf, size_t len)
{
	struct virtio_vsock *v = to_vsock(vdev);
	const uint8_t *p = buf;

	if (len != VSOCK_STATE_LEN || vsock_get_le(p, 4) != VSOCK_STATE_VERSION ||
	    vsock_get_le(p + 4, 4) || vsock_get_le(p + 8, 8) != v->cid)
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
	v->tfd = -1;
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
		v->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
		if (v->tfd < 0 || (ret = evloop_add(el, v->tfd, EPOLLIN, timer_event, v))) {
			ret = ret ? ret : -errno;
			if (v->tfd >= 0)
				close(v->tfd);
			evloop_del(el, v->wfd);
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
	if (v->el) {
		evloop_del(v->el, v->wfd);
		evloop_del(v->el, v->tfd);
	}
	if (v->wfd >= 0)
		close(v->wfd);
	if (v->tfd >= 0)
		close(v->tfd);
	virtio_dev_destroy(&v->vdev);
	free(v);
}

struct virtio_dev *virtio_vsock_dev(struct virtio_vsock *v)
{
	return &v->vdev;
}
