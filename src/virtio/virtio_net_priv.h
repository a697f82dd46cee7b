/* Internals of the virtio network device shared by virtio_net.c (transmit, device ops, creation)
 * and virtio_net_rx.c (receive: frames into the posted buffers, offload state). Everything here
 * is protected by the device lock. */
#ifndef VMON_VIRTIO_VIRTIO_NET_PRIV_H
#define VMON_VIRTIO_VIRTIO_NET_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include "virtio/virtio_net.h"

/* One receive buffer a frame is being written into, until the frame is complete: what
 * virtq_push needs to hand it back (head, written bytes, the segments written). */
struct rx_part {
	uint16_t head;
	uint32_t written;
	unsigned seg, nseg; /* in seg_iov / seg_gpa */
};

struct virtio_net {
	struct virtio_dev vdev; /* first: the ops recover the device from it */
	struct net_backend *be;
	struct evloop *el;
	int kick_fd; /* eventfd for receive work left over, watched in el; or -1 */
	uint8_t config[VIRTIO_NET_CONFIG_LEN];
	uint8_t mac[6];

	/* Protected by vdev.lock. */
	struct virtq_elem elem;
	struct iovec txiov[VIRTQ_ELEM_MAX_IOV];
	uint8_t *rxbuf;		  /* header + the held frame */
	size_t held;		  /* bytes of the held frame after the header; 0: none */
	struct net_vhdr held_hdr; /* its offload header, as the guest will see it */
	unsigned offloads;	  /* NET_OFFLOAD_* the back-end was last set to */
	struct rx_part parts[VIRTIO_NET_QUEUE_SIZE];
	struct iovec seg_iov[VIRTIO_NET_RX_SEGS];
	uint64_t seg_gpa[VIRTIO_NET_RX_SEGS];
	struct virtio_net_stats st;
};

static inline struct virtio_net *to_net(struct virtio_dev *vdev)
{
	return (struct virtio_net *)vdev;
}

static inline bool net_running(const struct virtio_dev *vdev)
{
	return (vdev->status & (VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_NEEDS_RESET)) ==
	       VIRTIO_STATUS_DRIVER_OK;
}

static inline bool has(const struct virtio_net *net, unsigned bit)
{
	return virtio_dev_has_feature(&net->vdev, bit);
}

/* The offloads the guest accepts on receive, as the back-end can give them. */
unsigned vnet_wanted_offloads(const struct virtio_net *net);

/* Tell the back-end want (NET_OFFLOAD_*) when it differs from what it was last told. */
void vnet_sync_offloads(struct virtio_net *net, unsigned want);

/* Drop the held frame (counted). */
void vnet_rx_drop(struct virtio_net *net);

/* Deliver frames until the back-end or the buffers run out or the budget; returns 1 when the
 * budget ran out. vnet_rx_locked also comes back through the eventfd then. */
int vnet_rx_round(struct virtio_net *net);
void vnet_rx_locked(struct virtio_net *net);

/* The back-end's rx_ready callback and the eventfd handler (they take the lock). */
void vnet_rx_ready(void *ctx);
void vnet_kick_event(void *ctx, int fd, uint32_t events);

#endif
