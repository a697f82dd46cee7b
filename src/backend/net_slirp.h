/* User-mode networking back-end for virtio-net: libslirp (a TCP/IP stack in user space that NATs
 * the guest's connections through ordinary host sockets; no privileges needed).
 *
 * The guest network is QEMU's: 10.0.2.0/24, the gateway (the host) 10.0.2.2, a DNS server at
 * 10.0.2.3 that forwards to the host's resolver, and a DHCP server handing out 10.0.2.15 first.
 * IPv6 is on as in QEMU (fec0::/64, router advertisements). Each hostfwd rule listens on the
 * host (default address 127.0.0.1, so a forwarded port is not reachable from other machines;
 * QEMU binds to all addresses) and connects into the guest.
 *
 * Event-loop integration (libslirp 4.7 has no per-fd registration callbacks that cover every
 * socket, so vmon uses slirp_pollfds_fill/slirp_pollfds_poll): the back-end keeps one private
 * epoll instance holding slirp's sockets and a timerfd, and the machine's event loop watches
 * just that epoll fd. After every call into slirp (a frame from the guest, or a round of socket
 * events) the back-end calls slirp_pollfds_fill and brings the private epoll set in line with it
 * (level-triggered EPOLL_CTL_MOD, or ADD when the fd is new or was closed and reused, and DEL for
 * the fds slirp no longer asks for); the timerfd is armed for the earlier of fill's timeout (TCP's
 * fast and slow timers) and the next slirp timer (timer_new_opaque / slirp_handle_timer). When
 * the epoll fd becomes readable, one non-blocking epoll_wait collects the events for
 * slirp_pollfds_poll.
 *
 * Frames for the guest (slirp's send_packet) go into a queue of at most NET_SLIRP_QUEUE_FRAMES
 * frames and NET_SLIRP_QUEUE_BYTES bytes; beyond that they are dropped and counted (TCP
 * retransmits). The device takes them with recv.
 *
 * Locking: `lock` protects the Slirp instance, the epoll bookkeeping and the queue; every call
 * into libslirp is made with it held (slirp's callbacks run inside those calls). Lock order:
 * virtio device lock -> this lock. rx_ready is called after it is dropped. */
#ifndef VMON_BACKEND_NET_SLIRP_H
#define VMON_BACKEND_NET_SLIRP_H

#include <stddef.h>

#include "backend/net.h"
#include "core/evloop.h"

#define NET_SLIRP_NETWORK 0x0a000200u /* 10.0.2.0, host byte order */
#define NET_SLIRP_NETMASK 0xffffff00u
#define NET_SLIRP_HOST_ADDR 0x0a000202u	 /* 10.0.2.2: the gateway */
#define NET_SLIRP_DNS_ADDR 0x0a000203u	 /* 10.0.2.3 */
#define NET_SLIRP_GUEST_ADDR 0x0a00020fu /* 10.0.2.15: the first DHCP address */
#define NET_SLIRP_QUEUE_FRAMES 256u
#define NET_SLIRP_QUEUE_BYTES (1024u * 1024)

/* Create the slirp stack with o's host forwards (o->kind must be NET_USER) and, when el is not
 * NULL, watch its epoll fd there (with NULL the caller calls net_slirp_poll). Returns 0 and sets
 * *out, or -errno with a one-line reason in err (e.g. "hostfwd tcp 127.0.0.1:8080: cannot listen
 * (port in use?)"). */
int net_slirp_create(const struct net_opts *o, struct evloop *el, struct net_backend **out,
		     char *err, size_t errlen) __attribute__((warn_unused_result));

/* One round: collect the ready sockets and expired timers, let slirp handle them, refill. Then
 * call rx_ready when frames are queued. The event-loop handler; tests call it directly. */
void net_slirp_poll(struct net_backend *be);

/* The private epoll fd (readable when net_slirp_poll has work), for tests. */
int net_slirp_fd(const struct net_backend *be);

#endif
