/* Network back-ends: the host side of a virtio-net device (virtio/virtio_net.h), and the parser
 * of the --net option.
 *
 * A back-end moves whole Ethernet frames (no FCS) between the device and the host, each with the
 * offload fields of a virtio-net header (struct net_vhdr): `send` takes one frame from the guest,
 * `recv` hands out one frame for the guest. A back-end that can take and give partly checksummed
 * or segmentation-offloaded (GSO) frames says so in `offloads`; the device then offers the guest
 * the matching features and tells the back-end through set_offloads which kinds the guest accepts,
 * so that only those come out of recv (a frame queued before a change may still differ: the
 * device completes its checksum or drops it). Without offloads every header is zero. The
 * device pulls: when frames may be waiting, the back-end calls its rx_ready callback (on the
 * event-loop thread, with no lock held), and the device then calls `recv` until it returns
 * -EAGAIN or the guest has no receive buffers left. What the device does not take stays in the
 * back-end (the kernel's tap queue; slirp's bounded queue, which drops and counts beyond its
 * limit), so the guest not posting buffers never blocks the host side.
 *
 * Two back-ends: `user` (libslirp, backend/net_slirp.h: NAT, DHCP, DNS, host port forwards) and
 * `tap` (a Linux TAP interface, backend/net_tap.h).
 *
 * Threads and locking: send and recv are called with the virtio device lock held (lock order:
 * device lock -> back-end lock); they never call back into the device. The back-ends' own event
 * handlers run on the event loop and call rx_ready after dropping their lock. */
#ifndef VMON_BACKEND_NET_H
#define VMON_BACKEND_NET_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "core/evloop.h"

/* The largest frame either direction carries (an Ethernet header plus 64 KiB). */
#define NET_MAX_FRAME (65536u + 14u)
#define NET_MIN_FRAME 14u /* an Ethernet header */
#define NET_MAX_HOSTFWD 16
#define NET_IFNAMSIZ 16 /* IFNAMSIZ, with the NUL */

/* The offload part of struct virtio_net_hdr_v1, decoded (host byte order). */
struct net_vhdr {
	uint8_t flags;	  /* NET_HDR_F_* */
	uint8_t gso_type; /* NET_GSO_* */
	uint16_t hdr_len, gso_size, csum_start, csum_offset;
};
#define NET_HDR_F_NEEDS_CSUM 1u /* checksum from csum_start, stored at csum_start + csum_offset */
#define NET_HDR_F_DATA_VALID 2u /* the checksum was checked (receive only) */
#define NET_GSO_NONE 0u
#define NET_GSO_TCPV4 1u
#define NET_GSO_TCPV6 4u
#define NET_GSO_ECN 0x80u

/* Offload kinds (the values of Linux's TUN_F_*). */
#define NET_OFFLOAD_CSUM 1u /* partly checksummed frames (NEEDS_CSUM) */
#define NET_OFFLOAD_TSO4 2u /* TCP over IPv4 segmentation (needs CSUM) */
#define NET_OFFLOAD_TSO6 4u /* TCP over IPv6 segmentation (needs CSUM) */

struct net_backend;

struct net_backend_ops {
	/* Send one frame of the guest (iov[0..n), total bytes 1..NET_MAX_FRAME) with its offload
	 * header (NULL: a complete frame; non-NULL only with offloads, and the back-end or the host
	 * kernel checks it). Returns 0 or -errno (-EAGAIN: the host side is full; -EINVAL: the host
	 * refused the header; the caller drops the frame either way). */
	int (*send)(struct net_backend *be, const struct net_vhdr *hdr, const struct iovec *iov,
		    unsigned n);
	/* Move the next frame for the guest into buf (cap >= NET_MAX_FRAME bytes) and its offload
	 * header into *hdr. Returns its length (>= 1), -EAGAIN when none is waiting, or another
	 * -errno (logged by the caller). */
	ssize_t (*recv)(struct net_backend *be, struct net_vhdr *hdr, void *buf, size_t cap);
	/* Let recv hand out frames of the offload kinds in flags (a subset of `offloads`, 0: only
	 * complete frames). NULL when the back-end has no offloads. Returns 0 or -errno. */
	int (*set_offloads)(struct net_backend *be, unsigned flags);
	/* Stop watching, close and free everything. */
	void (*destroy)(struct net_backend *be);
};

struct net_backend {
	const struct net_backend_ops *ops;
	char desc[80];	   /* for logs: "tap tap0", "user 10.0.2.0/24" */
	unsigned offloads; /* NET_OFFLOAD_* the back-end can do both ways (0: none) */
	/* Called (event-loop thread, no lock held) when frames may be waiting. Set with
	 * net_backend_set_rx_ready. */
	void (*rx_ready)(void *ctx);
	void *rx_ctx;
	uint64_t dropped; /* frames for the guest the back-end dropped (its queue was full) */
};

/* Set the callback the back-end runs when frames may be waiting (fn NULL: none). Call it before
 * the event loop runs, or with it stopped. */
static inline void net_backend_set_rx_ready(struct net_backend *be, void (*fn)(void *), void *ctx)
{
	be->rx_ready = fn;
	be->rx_ctx = ctx;
}

/* Destroy be (NULL is fine). */
static inline void net_backend_destroy(struct net_backend *be)
{
	if (be)
		be->ops->destroy(be);
}

/* ---- the --net option ---- */

enum net_kind { NET_USER, NET_TAP };

/* One host port forward: connections to host_addr:host_port go to guest_addr:guest_port. */
struct net_hostfwd {
	bool udp;
	struct in_addr host_addr; /* default 127.0.0.1 */
	uint16_t host_port;
	struct in_addr guest_addr; /* default 10.0.2.15, the first DHCP address */
	uint16_t guest_port;
};

struct net_opts {
	enum net_kind kind;
	char ifname[NET_IFNAMSIZ]; /* tap: the interface; "" lets the kernel pick tapN */
	bool has_mac;
	uint8_t mac[6];
	unsigned nr_hostfwd;
	struct net_hostfwd hostfwd[NET_MAX_HOSTFWD];
};

/* Parse "user[,hostfwd=RULE]...[,mac=MAC]" or "tap[=IFNAME][,mac=MAC]" into *o. RULE is
 * [tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT (QEMU's syntax; tcp when the protocol is
 * empty; ports 1-65535, addresses dotted IPv4, the guest's inside 10.0.2.0/24); MAC is six
 * hex pairs separated by ':' and must be a unicast address. Keys other than hostfwd appear at
 * most once; hostfwd at most NET_MAX_HOSTFWD times, and only for user. Returns 0, or -EINVAL
 * with a one-line reason in err (o is then undefined). */
int net_parse_opts(const char *s, struct net_opts *o, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Create the back-end o asks for, its fds watched on el. Returns 0 and sets *out, or -errno
 * with a one-line reason in err (e.g. no permission to create a tap interface, a host port
 * already in use). */
int net_backend_create(const struct net_opts *o, struct evloop *el, struct net_backend **out,
		       char *err, size_t errlen) __attribute__((warn_unused_result));

#endif
