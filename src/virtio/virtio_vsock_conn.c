/* Virtio socket device: the connection table and the host sockets behind it. See virtio_vsock.h
 * for the protocol and the locking; every function here runs with the device lock held except
 * vsock_reap. */
#include "virtio/virtio_vsock_priv.h"
#include "core/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

static void conn_event(void *ctx, int fd, uint32_t events);

static struct vsock_conn *conn_by_fd(struct virtio_vsock *v, int fd)
{
	for (unsigned i = 0; i < v->nconns; i++)
		if (v->conns[i]->fd == fd)
			return v->conns[i];
	return NULL;
}

struct vsock_conn *vsock_conn_find(struct virtio_vsock *v, uint32_t guest_port, uint32_t host_port)
{
	for (unsigned i = 0; i < v->nconns; i++) {
		struct vsock_conn *c = v->conns[i];
		if (c->guest_port == guest_port && c->host_port == host_port)
			return c;
	}
	return NULL;
}

struct vsock_conn *vsock_conn_new(struct virtio_vsock *v, int fd, uint32_t guest_port,
				  uint32_t host_port, enum vsock_conn_state st)
{
	struct vsock_conn *c;

	if (v->nconns >= VIRTIO_VSOCK_MAX_CONNS)
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->fd = fd;
	c->guest_port = guest_port;
	c->host_port = host_port;
	c->state = st;
	c->rd_ready = true;
	if (v->el) {
		int ret =
		    evloop_add(v->el, fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, conn_event, v);
		if (ret) {
			log_rl(LOG_WARN, "%s: cannot watch a connection socket: %s", v->vdev.name,
			       strerror(-ret));
			free(c);
			return NULL;
		}
	}
	v->conns[v->nconns++] = c;
	return c;
}

void vsock_wake(struct virtio_vsock *v)
{
	if (v->wfd >= 0 && eventfd_write(v->wfd, 1) < 0)
		log_rl(LOG_WARN, "%s: eventfd_write: %s", v->vdev.name, strerror(errno));
}

void vsock_conn_remove(struct virtio_vsock *v, struct vsock_conn *c)
{
	for (unsigned i = 0; i < v->nconns; i++) {
		if (v->conns[i] != c)
			continue;
		v->conns[i] = v->conns[--v->nconns];
		c->next = v->zombies;
		v->zombies = c;
		vsock_wake(v);
		return;
	}
}

void vsock_queue_rst(struct virtio_vsock *v, uint64_t host_cid, uint32_t host_port,
		     uint32_t guest_port)
{
	if (v->rst_count == VSOCK_RST_RING) {
		log_rl(LOG_WARN, "%s: too many RSTs pending, one dropped", v->vdev.name);
		return;
	}
	v->rst[(v->rst_head + v->rst_count++) % VSOCK_RST_RING] =
	    (struct vsock_rst){host_cid, host_port, guest_port};
}

void vsock_conn_reset(struct virtio_vsock *v, struct vsock_conn *c)
{
	vsock_queue_rst(v, VIRTIO_VSOCK_HOST_CID, c->host_port, c->guest_port);
	vsock_conn_remove(v, c);
}

void vsock_conn_remove_all(struct virtio_vsock *v)
{
	while (v->nconns)
		vsock_conn_remove(v, v->conns[0]);
	v->rst_head = v->rst_count = 0;
}

void vsock_reap(struct virtio_vsock *v)
{
	struct vsock_conn *list;
	uint64_t cnt;

	pthread_mutex_lock(&v->vdev.lock);
	list = v->zombies;
	v->zombies = NULL;
	pthread_mutex_unlock(&v->vdev.lock);
	if (v->wfd >= 0 && eventfd_read(v->wfd, &cnt) < 0 && errno != EAGAIN)
		log_rl(LOG_WARN, "%s: eventfd_read: %s", v->vdev.name, strerror(errno));
	while (list) {
		struct vsock_conn *c = list;
		list = c->next;
		if (v->el)
			evloop_del(v->el, c->fd);
		close(c->fd);
		free(c->obuf);
		free(c);
	}
}

/* Send up to len bytes from iov with MSG_NOSIGNAL. Returns the bytes taken (0 when the socket is
 * full) or -errno. */
static ssize_t sock_send(int fd, struct iovec *iov, unsigned n)
{
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = n};
	ssize_t w;

	do
		w = sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (w < 0 && errno == EINTR);
	if (w < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
	return w;
}

static void conn_forwarded(struct vsock_conn *c, uint32_t n)
{
	c->fwd_cnt += n;
	if (c->fwd_cnt - c->fwd_cnt_sent >= VIRTIO_VSOCK_BUF_ALLOC / 2)
		c->pending |= PEND_CREDIT;
}

/* After the buffers emptied: a guest shutdown of its send side becomes a socket shutdown; a full
 * shutdown (close) becomes an RST and the end of the connection. Returns false when c is gone. */
static bool conn_apply_shutdown(struct virtio_vsock *v, struct vsock_conn *c)
{
	const uint32_t both = VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND;

	if (c->olen || c->glen > c->goff)
		return true;
	if ((c->peer_shutdown & both) == both) {
		vsock_conn_reset(v, c);
		return false;
	}
	if ((c->peer_shutdown & VIRTIO_VSOCK_SHUTDOWN_SEND) && !c->wr_shut) {
		c->wr_shut = true;
		if (shutdown(c->fd, SHUT_WR) < 0 && errno != ENOTCONN)
			log_rl(LOG_DEBUG, "%s: shutdown: %s", v->vdev.name, strerror(errno));
	}
	return true;
}

void vsock_conn_flush_out(struct virtio_vsock *v, struct vsock_conn *c)
{
	while (c->glen > c->goff) {
		struct iovec iov = {c->greet + c->goff, c->glen - c->goff};
		ssize_t w = sock_send(c->fd, &iov, 1);
		if (w < 0)
			goto err;
		if (w == 0)
			return;
		c->goff += (uint32_t)w;
	}
	while (c->olen) {
		struct iovec iov[2];
		uint32_t first = VIRTIO_VSOCK_BUF_ALLOC - c->ohead;
		unsigned n = 1;
		if (first > c->olen)
			first = c->olen;
		iov[0] = (struct iovec){c->obuf + c->ohead, first};
		if (first < c->olen) {
			iov[1] = (struct iovec){c->obuf, c->olen - first};
			n = 2;
		}
		ssize_t w = sock_send(c->fd, iov, n);
		if (w < 0)
			goto err;
		if (w == 0)
			return;
		c->ohead = (c->ohead + (uint32_t)w) % VIRTIO_VSOCK_BUF_ALLOC;
		c->olen -= (uint32_t)w;
		conn_forwarded(c, (uint32_t)w);
	}
	conn_apply_shutdown(v, c);
	return;
err:
	vsock_conn_reset(v, c);
}

void vsock_conn_write(struct virtio_vsock *v, struct vsock_conn *c, const struct virtq_elem *e,
		      uint64_t off, uint32_t len)
{
	struct iovec iov[VIRTQ_ELEM_MAX_IOV];
	uint32_t done = 0;

	if (!len)
		return;
	if (!c->olen && c->glen == c->goff) {
		unsigned n = vsock_iov_slice(e, false, off, len, iov, VIRTQ_ELEM_MAX_IOV);
		ssize_t w = sock_send(c->fd, iov, n);
		if (w < 0) {
			vsock_conn_reset(v, c);
			return;
		}
		done = (uint32_t)w;
		conn_forwarded(c, done);
	}
	if (done == len)
		return;
	if (!c->obuf) {
		c->obuf = malloc(VIRTIO_VSOCK_BUF_ALLOC);
		if (!c->obuf) {
			log_rl(LOG_WARN, "%s: out of memory for a connection buffer", v->vdev.name);
			vsock_conn_reset(v, c);
			return;
		}
	}
	/* The caller checked olen + len <= VIRTIO_VSOCK_BUF_ALLOC. */
	while (done < len) {
		uint32_t tail = (c->ohead + c->olen) % VIRTIO_VSOCK_BUF_ALLOC;
		uint32_t room = VIRTIO_VSOCK_BUF_ALLOC - tail, n = len - done;
		if (n > room)
			n = room;
		if (vsock_iov_from(e, off + done, c->obuf + tail, n) != n)
			break; /* cannot happen: the caller checked len against the chain */
		c->olen += n;
		done += n;
	}
}

/* A connection socket fired (edge-triggered): note readability, write what is buffered, then
 * deliver what is now possible. */
static void conn_event(void *ctx, int fd, uint32_t events)
{
	struct virtio_vsock *v = ctx;
	struct vsock_conn *c;

	pthread_mutex_lock(&v->vdev.lock);
	c = conn_by_fd(v, fd);
	if (c) {
		if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
			c->rd_ready = true;
		if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
			vsock_conn_flush_out(v, c);
	}
	pthread_mutex_unlock(&v->vdev.lock);
	virtio_vsock_kick(v);
}

/* ---- iovec helpers over a popped element ---- */

unsigned vsock_iov_slice(const struct virtq_elem *e, bool write, uint64_t off, uint64_t len,
			 struct iovec *out, unsigned max)
{
	unsigned first = write ? e->nr_read : 0;
	unsigned end = write ? e->nr_read + e->nr_write : e->nr_read;
	unsigned n = 0;

	for (unsigned i = first; i < end && len && n < max; i++) {
		uint64_t seg = e->iov[i].iov_len;
		if (off >= seg) {
			off -= seg;
			continue;
		}
		uint64_t take = seg - off < len ? seg - off : len;
		out[n++] = (struct iovec){(uint8_t *)e->iov[i].iov_base + off, (size_t)take};
		len -= take;
		off = 0;
	}
	return n;
}

size_t vsock_iov_to(const struct virtq_elem *e, uint64_t off, const void *src, size_t len)
{
	struct iovec iov[VIRTQ_ELEM_MAX_IOV];
	unsigned n = vsock_iov_slice(e, true, off, len, iov, VIRTQ_ELEM_MAX_IOV);
	size_t done = 0;

	for (unsigned i = 0; i < n; i++) {
		memcpy(iov[i].iov_base, (const uint8_t *)src + done, iov[i].iov_len);
		done += iov[i].iov_len;
	}
	return done;
}

size_t vsock_iov_from(const struct virtq_elem *e, uint64_t off, void *dst, size_t len)
{
	struct iovec iov[VIRTQ_ELEM_MAX_IOV];
	unsigned n = vsock_iov_slice(e, false, off, len, iov, VIRTQ_ELEM_MAX_IOV);
	size_t done = 0;

	for (unsigned i = 0; i < n; i++) {
		memcpy((uint8_t *)dst + done, iov[i].iov_base, iov[i].iov_len);
		done += iov[i].iov_len;
	}
	return done;
}
