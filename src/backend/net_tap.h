/* TAP back-end for virtio-net: a Linux TAP interface through /dev/net/tun.
 *
 * The interface is opened with IFF_TAP | IFF_NO_PI | IFF_VNET_HDR and a 12-byte virtio-net header
 * (TUNSETVNETHDRSZ, struct virtio_net_hdr_v1), non-blocking and close-on-exec. An existing
 * interface of that name is attached to (a persistent one made by `ip tuntap add`, for
 * instance); otherwise the kernel creates it, and with an empty name picks tapN itself. Both
 * need CAP_NET_ADMIN (or a persistent interface owned by the user). At open the back-end probes
 * which offloads the kernel takes (TUNSETOFFLOAD with checksum + TSO4 + TSO6, else checksum
 * alone) and then turns them off: frames come out complete until the device asks for the kinds
 * its guest accepts (set_offloads). The vnet header of each frame is passed through both ways.
 *
 * Sending writes the header (zero for a complete frame) and the frame (-EAGAIN when the kernel
 * queue is full, -EINVAL when the kernel refuses the header: the caller drops the frame). The fd
 * is watched edge-triggered on the event loop: each new frame calls rx_ready, and the device
 * reads until -EAGAIN or until the guest has no buffers (the rest waits in the kernel's queue
 * until the guest posts buffers and the device reads again). */
#ifndef VMON_BACKEND_NET_TAP_H
#define VMON_BACKEND_NET_TAP_H

#include <stddef.h>

#include "backend/net.h"
#include "core/evloop.h"

/* Open or create the TAP interface ifname ("" lets the kernel choose) and, when el is not NULL,
 * watch it there. Returns 0 and sets *out (its desc names the interface), or -errno with a
 * one-line reason in err. */
int net_tap_open(const char *ifname, struct evloop *el, struct net_backend **out, char *err,
		 size_t errlen) __attribute__((warn_unused_result));

/* The interface's name (as the kernel set it). */
const char *net_tap_ifname(const struct net_backend *be);

#endif
