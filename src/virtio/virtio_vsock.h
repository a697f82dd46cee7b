/* Virtio socket device (virtio 1.x, section 5.10; device ID 19): stream sockets between the guest
 * (its CID from the configuration space) and the host (CID 2), each connection backed on the host
 * by a non-blocking stream socket (backend/vsock_uds.h supplies them, as Firecracker does).
 *
 * Queues: 0 rx (device to driver), 1 tx (driver to device), 2 event. No device feature bits (the
 * stream type only; no SEQPACKET). Configuration space: guest_cid, le64, read-only.
 *
 * Every packet is a 44-byte little-endian header (struct virtio_vsock_hdr: src_cid, dst_cid,
 * src_port, dst_port, len, type, op, flags, buf_alloc, fwd_cnt) followed by len payload bytes.
 * Connections are keyed by (guest port, host port).
 *
 * Credit (flow control) in both directions: every packet the device sends carries its buf_alloc
 * (VIRTIO_VSOCK_BUF_ALLOC bytes per connection) and fwd_cnt (bytes of guest data written to the
 * host socket). Guest data the host socket does not take at once waits in a per-connection buffer
 * of buf_alloc bytes; a guest that sends beyond the credit it was given gets an RST. Host data is
 * read from the socket only up to the guest's advertised credit (peer buf_alloc - (tx_cnt - peer
 * fwd_cnt)) and the size of the posted receive buffer, at most VIRTIO_VSOCK_MAX_PKT per packet.
 * A CREDIT_UPDATE goes to the guest after half of buf_alloc was forwarded since the last one the
 * guest saw, and in answer to CREDIT_REQUEST.
 *
 * Connections:
 *   guest-initiated  REQUEST to CID 2 port P: the back-end's connect(P) gives a socket -> RESPONSE,
 *                    or fails -> RST.
 *   host-initiated   virtio_vsock_host_connect hands a socket over: REQUEST to the guest's port;
 *                    its RESPONSE establishes the connection and the back-end's established()
 *                    greeting (e.g. "OK <hostport>\n") is written to the socket ahead of any data;
 *                    an RST closes the socket.
 *   shutdown         a guest SHUTDOWN with SEND shuts the socket's write side once the buffered
 *                    bytes are written; with both SEND and RCV (close) the buffer is flushed, then
 *                    the socket closed and an RST sent. End of file on the socket sends SHUTDOWN
 *                    SEND to the guest. A socket error (ECONNRESET, EPIPE) resets the connection.
 *   RST from guest   the socket is closed.
 * Packets for no connection (other than REQUEST and RST) are answered with RST; so are packets
 * with a wrong src_cid, a dst_cid other than 2, a type other than STREAM, an unknown op, a len
 * larger than the payload the descriptors hold or than VIRTIO_VSOCK_MAX_PKT, and RW outside an
 * established connection or beyond the credit (the connection, if any, is reset). A tx chain
 * whose readable part is shorter than the header, or that has writable segments, and an rx
 * buffer with readable segments or room for less than a header, are chain errors: the queue
 * breaks and the device sets DEVICE_NEEDS_RESET (virtio.h). Nothing a guest sends crashes vmon.
 *
 * At most VIRTIO_VSOCK_MAX_CONNS connections exist; a REQUEST beyond that gets an RST. A
 * host-initiated connection the guest has not answered within VIRTIO_VSOCK_CONNECT_TIMEOUT_MS is
 * reset (RST to the guest, the host socket closed), as Firecracker does.
 *
 * Reset closes every connection (the host sockets see end of file). Save writes the CID only:
 * connections are not saved (as Firecracker does). Load checks the CID, closes the target's
 * connections, and arms a VIRTIO_VSOCK_EVENT_TRANSPORT_RESET event, delivered on the event queue
 * at the next notification of any queue (virtio_vsock_kick after a load), so the guest drops its
 * connections too.
 *
 * Threads and locking: everything is protected by the virtio device lock (virtio.h). Queue work
 * runs on the event-loop thread (virtio_dev_notify); the sockets are watched edge-triggered on
 * the same loop (el given at creation) and serviced there. Reset and load may run on any thread:
 * sockets closed then are only queued, and the loop thread removes and closes them (a socket is
 * never closed while the loop watches it). The back-end callbacks are called with the lock held
 * and must not call into the device. */
#ifndef VMON_VIRTIO_VIRTIO_VSOCK_H
#define VMON_VIRTIO_VIRTIO_VSOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/evloop.h"
#include "core/gmem.h"
#include "virtio/virtio.h"

#define VIRTIO_VSOCK_RXQ 0
#define VIRTIO_VSOCK_TXQ 1
#define VIRTIO_VSOCK_EVQ 2
#define VIRTIO_VSOCK_QUEUE_SIZE 256
#define VIRTIO_VSOCK_CONFIG_LEN 8

#define VIRTIO_VSOCK_HOST_CID 2u
#define VIRTIO_VSOCK_HDR_LEN 44u
#define VIRTIO_VSOCK_TYPE_STREAM 1u

enum {
	VIRTIO_VSOCK_OP_INVALID = 0,
	VIRTIO_VSOCK_OP_REQUEST = 1,
	VIRTIO_VSOCK_OP_RESPONSE = 2,
	VIRTIO_VSOCK_OP_RST = 3,
	VIRTIO_VSOCK_OP_SHUTDOWN = 4,
	VIRTIO_VSOCK_OP_RW = 5,
	VIRTIO_VSOCK_OP_CREDIT_UPDATE = 6,
	VIRTIO_VSOCK_OP_CREDIT_REQUEST = 7,
};
#define VIRTIO_VSOCK_SHUTDOWN_RCV 1u
#define VIRTIO_VSOCK_SHUTDOWN_SEND 2u
#define VIRTIO_VSOCK_EVENT_TRANSPORT_RESET 0u

#define VIRTIO_VSOCK_BUF_ALLOC (256u * 1024) /* host-side buffer per connection */
#define VIRTIO_VSOCK_MAX_PKT (64u * 1024)    /* payload bytes per packet, both ways */
#define VIRTIO_VSOCK_MAX_CONNS 256u
#define VIRTIO_VSOCK_TX_BUDGET 256u /* tx packets per notification */
#define VIRTIO_VSOCK_RX_BUDGET 256u /* rx packets per flush */
#define VIRTIO_VSOCK_CONNECT_TIMEOUT_MS 2000u

/* A packet header, host-endian. */
struct virtio_vsock_hdr {
	uint64_t src_cid, dst_cid;
	uint32_t src_port, dst_port;
	uint32_t len;
	uint16_t type, op;
	uint32_t flags;
	uint32_t buf_alloc, fwd_cnt;
};

/* Encode / decode the 44-byte wire form. */
void virtio_vsock_hdr_encode(const struct virtio_vsock_hdr *h, uint8_t out[VIRTIO_VSOCK_HDR_LEN]);
void virtio_vsock_hdr_decode(const uint8_t in[VIRTIO_VSOCK_HDR_LEN], struct virtio_vsock_hdr *h);

/* The host side. Both callbacks run with the device lock held on the thread that handles the
 * packet (the event loop) and must not call into the device. */
struct virtio_vsock_backend {
	/* The guest connects to host port `port`: return a connected non-blocking stream socket
	 * (the device owns it from then on) or -errno (the guest gets an RST). */
	int (*connect)(void *ctx, uint32_t port);
	/* A host-initiated connection on `host_port` was accepted by the guest: write up to cap
	 * bytes of greeting into buf and return their number (0 for none). May be NULL. */
	size_t (*established)(void *ctx, uint32_t host_port, char *buf, size_t cap);
	void *ctx;
};

struct virtio_vsock;

/* Create a socket device for guest CID cid (3 .. 0xfffffffe) over guest memory gm. When el is
 * not NULL, connection sockets and an internal eventfd are watched there; with NULL the caller
 * calls virtio_vsock_poll (tests). Returns 0 and sets *out, or -EINVAL (bad cid), -ENOMEM,
 * -errno. */
int virtio_vsock_create(struct gmem *gm, uint64_t cid, struct evloop *el,
			const struct virtio_vsock_backend *be, struct virtio_vsock **out)
    __attribute__((warn_unused_result));

/* Close every connection and free the device. The transport must be gone and the event loop
 * stopped (or not running handlers of this device). Safe with NULL. */
void virtio_vsock_destroy(struct virtio_vsock *v);

/* The virtio device, for the transport and virtio_dev_notify. */
struct virtio_dev *virtio_vsock_dev(struct virtio_vsock *v);

/* Host-initiated connection: take ownership of the connected non-blocking stream socket fd and
 * send a REQUEST to the guest's port. Sets *host_port to the local port assigned. Returns 0, or
 * -ENOTCONN (the driver is not running), -ENOSPC (too many connections), -errno; on error fd is
 * NOT taken (the caller closes it). Takes the device lock; any thread. */
int virtio_vsock_host_connect(struct virtio_vsock *v, int fd, uint32_t guest_port,
			      uint32_t *host_port) __attribute__((warn_unused_result));

/* Service every connection socket (read what credit and rx buffers allow, write buffered data,
 * notice end of file and errors), reap closed sockets, deliver pending packets. The event loop
 * does this by itself; tests without a loop call it. Takes the device lock. */
void virtio_vsock_poll(struct virtio_vsock *v);

/* Deliver what is pending (the transport-reset event after a load, control packets) as a queue
 * notification would. Takes the device lock. */
void virtio_vsock_kick(struct virtio_vsock *v);

/* Reset the host-initiated connections whose handshake started more than
 * VIRTIO_VSOCK_CONNECT_TIMEOUT_MS before now_ns (CLOCK_MONOTONIC nanoseconds). With an event loop
 * a timerfd calls it when one may be due; tests call it with their own clock. Takes the device
 * lock; returns the number reset. */
unsigned virtio_vsock_expire(struct virtio_vsock *v, uint64_t now_ns);

/* Number of open connections (for tests and logs). Takes the device lock. */
unsigned virtio_vsock_nr_conns(struct virtio_vsock *v);

#endif
