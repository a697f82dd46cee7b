/* Internals of the virtio socket device shared by virtio_vsock.c (tx, packets, host entry points,
 * configuration, reset, save/load), virtio_vsock_rx.c (event and rx queues) and
 * virtio_vsock_conn.c (the connection table and the host
 * sockets behind it). Everything here is protected by the device lock. */
#ifndef VMON_VIRTIO_VIRTIO_VSOCK_PRIV_H
#define VMON_VIRTIO_VIRTIO_VSOCK_PRIV_H

#include "virtio/virtio_vsock.h"

/* Control packets a connection owes the guest. */
#define PEND_REQUEST 1u
#define PEND_RESPONSE 2u
#define PEND_SHUTDOWN 4u /* SHUTDOWN with SEND: the host socket reached end of file */
#define PEND_CREDIT 8u

#define VSOCK_RST_RING 64u
#define VSOCK_GREET_MAX 32u

enum vsock_conn_state {
	CONN_CONNECTING,  /* host-initiated, waiting for the guest's RESPONSE */
	CONN_ESTABLISHED, /* data flows */
};

struct vsock_conn {
	struct vsock_conn *next; /* on the zombie list, once removed */
	uint32_t guest_port, host_port;
	int fd;
	enum vsock_conn_state state;
	uint64_t connect_ns; /* CONNECTING: when the REQUEST was queued (CLOCK_MONOTONIC) */
	unsigned pending;    /* PEND_* */
	/* The guest's receive credit, from the last packet it sent, and what we sent it. */
	uint32_t peer_buf_alloc, peer_fwd_cnt, tx_cnt;
	/* Guest data: forwarded to the socket, and the count the guest last saw. */
	uint32_t fwd_cnt, fwd_cnt_sent;
	uint32_t peer_shutdown; /* VIRTIO_VSOCK_SHUTDOWN_* the guest sent */
	bool host_eof;		/* the socket gave end of file */
	bool wr_shut;		/* shutdown(SHUT_WR) done */
	bool rd_ready;		/* the socket may have data (edge-triggered watch) */
	/* Guest data the socket did not take yet: a ring of VIRTIO_VSOCK_BUF_ALLOC bytes. */
	uint8_t *obuf;
	uint32_t ohead, olen;
	/* The back-end's greeting, written before any data. */
	char greet[VSOCK_GREET_MAX];
	uint32_t glen, goff;
};

struct vsock_rst {
	uint64_t host_cid;
	uint32_t host_port, guest_port;
};

struct virtio_vsock {
	struct virtio_dev vdev; /* first: the ops recover the device from it */
	uint64_t cid;
	struct evloop *el;
	int wfd; /* eventfd: closed sockets to reap; watched in el, or -1 */
	int tfd; /* timerfd: handshake timeouts; watched in el, or -1 */
	bool timer_armed;
	struct virtio_vsock_backend be;

	struct vsock_conn *conns[VIRTIO_VSOCK_MAX_CONNS];
	unsigned nconns;
	unsigned rr; /* round-robin start of the next rx scan */
	struct vsock_conn *zombies;
	uint32_t next_port;

	struct vsock_rst rst[VSOCK_RST_RING];
	unsigned rst_head, rst_count;
	bool event_pending; /* TRANSPORT_RESET owed to the guest */

	struct virtq_elem rx_elem, tx_elem, ev_elem;
};

/* ---- virtio_vsock_conn.c ---- */

/* The connection for (guest_port, host_port), or NULL. */
struct vsock_conn *vsock_conn_find(struct virtio_vsock *v, uint32_t guest_port, uint32_t host_port);

/* A new connection over fd in state st, watched in the event loop. NULL (nothing taken) when the
 * table is full or on host errors. */
struct vsock_conn *vsock_conn_new(struct virtio_vsock *v, int fd, uint32_t guest_port,
				  uint32_t host_port, enum vsock_conn_state st);

/* Drop c from the table; its socket is closed when reaped (vsock_reap). No packet is sent. */
void vsock_conn_remove(struct virtio_vsock *v, struct vsock_conn *c);

/* Send an RST for c and remove it. */
void vsock_conn_reset(struct virtio_vsock *v, struct vsock_conn *c);

/* Remove every connection (reset, load, destroy). */
void vsock_conn_remove_all(struct virtio_vsock *v);

/* Queue an RST to the guest's guest_port from host_cid:host_port (dropped when the ring is full).
 */
void vsock_queue_rst(struct virtio_vsock *v, uint64_t host_cid, uint32_t host_port,
		     uint32_t guest_port);

/* Guest data for c: the payload bytes [off, off + len) of the readable part of e. The caller
 * checked the credit. Writes what the socket takes, buffers the rest. */
void vsock_conn_write(struct virtio_vsock *v, struct vsock_conn *c, const struct virtq_elem *e,
		      uint64_t off, uint32_t len);

/* Write buffered bytes (greeting, then guest data) to the socket; then apply a pending shutdown
 * or close. May reset c (socket errors) or remove it (closed). */
void vsock_conn_flush_out(struct virtio_vsock *v, struct vsock_conn *c);

/* The guest's credit left for c. */
static inline uint32_t vsock_peer_free(const struct vsock_conn *c)
{
	uint32_t inflight = c->tx_cnt - c->peer_fwd_cnt;
	return inflight >= c->peer_buf_alloc ? 0 : c->peer_buf_alloc - inflight;
}

/* Close the sockets of removed connections: evloop_del, close, free. Takes the lock itself to
 * detach the list (call it WITHOUT the lock held, on the loop thread or with the loop stopped). */
void vsock_reap(struct virtio_vsock *v);

/* Wake the loop thread to reap (eventfd); no-op without a loop. */
void vsock_wake(struct virtio_vsock *v);

/* Copy len bytes from src into the writable part of e at byte offset off (of that part), and
 * out of the readable part into dst. Return the bytes copied. */
size_t vsock_iov_to(const struct virtq_elem *e, uint64_t off, const void *src, size_t len);
size_t vsock_iov_from(const struct virtq_elem *e, uint64_t off, void *dst, size_t len);

/* Build in out[] (at most max entries) the iovecs of bytes [off, off + len) of e's readable
 * (write = false) or writable part. Returns the number of entries. */
unsigned vsock_iov_slice(const struct virtq_elem *e, bool write, uint64_t off, uint64_t len,
			 struct iovec *out, unsigned max);

/* ---- shared helpers ---- */

static inline void vsock_put_le(uint8_t *p, uint64_t v, unsigned bytes)
{
	for (unsigned i = 0; i < bytes; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint64_t vsock_get_le(const uint8_t *p, unsigned bytes)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < bytes; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* DRIVER_OK set and NEEDS_RESET clear. */
static inline bool vsock_running(const struct virtio_vsock *v)
{
	return (v->vdev.status & (VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_NEEDS_RESET)) ==
	       VIRTIO_STATUS_DRIVER_OK;
}

static inline bool vsock_queue_usable(struct virtq *vq)
{
	return vq && vq->ready && !virtq_broken(vq);
}

/* A chain error on vq: break it and enter NEEDS_RESET. */
void vsock_chain_error(struct virtio_vsock *v, struct virtq *vq, const char *what);

/* ---- virtio_vsock_rx.c ---- */

/* Deliver what is pending into the guest: the TRANSPORT_RESET event, then RSTs, control packets
 * and data from the sockets into the posted rx buffers (round robin over the connections, at most
 * VIRTIO_VSOCK_RX_BUDGET packets). Does nothing unless the device runs. */
void vsock_rx_flush(struct virtio_vsock *v);

#endif
