/* Virtio network device (virtio 1.x, section 5.1; device ID 1): one receive queue (0) and one
 * transmit queue (1) over a host back-end (backend/net.h: libslirp or TAP). No multiqueue, no
 * control queue.
 *
 * Features offered: MAC, STATUS, MTU and MRG_RXBUF (plus the core's VERSION_1, INDIRECT_DESC,
 * EVENT_IDX), and when the back-end has offloads (the tap) CSUM and GUEST_CSUM, HOST_TSO4/6 and
 * GUEST_TSO4/6 as far as it can do them. Configuration space (12 bytes, read-only): mac[6], status
 * (le16, LINK_UP), max_virtqueue_pairs (le16, 1), mtu (le16, VIRTIO_NET_MTU). Every frame is
 * preceded by the 12-byte struct virtio_net_hdr_v1 (VERSION_1 is always negotiated).
 *
 * Transmit: a request is device-readable buffers only: the header and the frame, which goes to
 * the back-end as it is. With CSUM negotiated the header's NEEDS_CSUM and GSO fields go along
 * (the host kernel checks them; a GSO type that was not negotiated drops the frame); without it
 * the header is ignored. A request with a device-writable buffer or fewer than 12 readable bytes is
 * malformed: the queue breaks and the device sets DEVICE_NEEDS_RESET (virtio.h). A frame shorter
 * than an Ethernet header or longer than NET_MAX_FRAME, or one the back-end refuses (e.g. the tap
 * queue is full), is dropped and counted; the request still completes (used length 0). One notify
 * sends at most VIRTIO_NET_TX_BUDGET frames and reports more work. After transmitting, the device
 * delivers what the back-end has for the guest (slirp answers ARP and DHCP at once).
 *
 * Receive: the back-end is told which offloads the guest accepts (GUEST_CSUM, GUEST_TSO4/6;
 * none after a reset) at the next receive round. A frame's header goes to the guest as the
 * back-end gave it when GUEST_CSUM is negotiated; otherwise a partial checksum is completed here
 * and the header is zero. A GSO frame the guest did not accept is dropped and counted.
 * Frames come from the back-end (it calls rx_ready; the driver posting buffers and
 * DRIVER_OK also start delivery) into the posted buffers, which must be device-writable only and
 * at least 12 bytes long (else malformed, as above). Without MRG_RXBUF a frame takes one buffer;
 * one that does not fit is dropped and counted, and the buffer reused. With MRG_RXBUF a frame
 * spreads over as many buffers as it needs and the header's num_buffers says how many; buffers
 * are returned only when the whole frame is in them. When the driver has not posted enough
 * buffers, the frame is held (one frame, in the device; the rest waits in the back-end) and the
 * buffers taken so far are given back to the ring (virtq_unpop), to be used when the driver adds
 * more: nothing is dropped while the guest is merely slow. A frame larger than the whole ring
 * can hold is dropped. Nothing is received before DRIVER_OK or while the device needs a reset.
 * One call delivers at most VIRTIO_NET_RX_BUDGET frames; with an event loop the device then
 * comes back through its own eventfd.
 *
 * Saved state: the core's plus 16 bytes (version, the MAC; load requires the same MAC). A frame
 * held for want of buffers is host-side data and is not saved (a lost frame; TCP retransmits).
 * Reset drops it.
 *
 * Threads and locking: everything is protected by the virtio device lock (virtio.h), which is
 * held around every call into the back-end (lock order: device -> back-end). virtio_net_rx and
 * the eventfd handler take it; the back-end calls rx_ready without any lock held. */
#ifndef VMON_VIRTIO_VIRTIO_NET_H
#define VMON_VIRTIO_VIRTIO_NET_H

#include <stdbool.h>
#include <stdint.h>

#include "backend/net.h"
#include "core/evloop.h"
#include "core/gmem.h"
#include "virtio/virtio.h"

/* Feature bits (section 5.1.3). */
#define VIRTIO_NET_F_CSUM 0
#define VIRTIO_NET_F_GUEST_CSUM 1
#define VIRTIO_NET_F_MTU 3
#define VIRTIO_NET_F_MAC 5
#define VIRTIO_NET_F_GUEST_TSO4 7
#define VIRTIO_NET_F_GUEST_TSO6 8
#define VIRTIO_NET_F_HOST_TSO4 11
#define VIRTIO_NET_F_HOST_TSO6 12
#define VIRTIO_NET_F_MRG_RXBUF 15
#define VIRTIO_NET_F_STATUS 16
#define VIRTIO_NET_F_CTRL_VQ 17
#define VIRTIO_NET_F_MQ 22

#define VIRTIO_NET_S_LINK_UP 1u

#define VIRTIO_NET_RXQ 0
#define VIRTIO_NET_TXQ 1
#define VIRTIO_NET_QUEUE_SIZE 256
#define VIRTIO_NET_HDR_LEN 12 /* struct virtio_net_hdr_v1 */
#define VIRTIO_NET_HDR_NUM_BUFFERS 10
#define VIRTIO_NET_MTU 1500

/* Configuration space offsets (struct virtio_net_config). */
#define VIRTIO_NET_CFG_MAC 0
#define VIRTIO_NET_CFG_STATUS 6
#define VIRTIO_NET_CFG_MAX_VQ_PAIRS 8
#define VIRTIO_NET_CFG_MTU 10
#define VIRTIO_NET_CONFIG_LEN 12

#define VIRTIO_NET_TX_BUDGET 256u /* frames per transmit notify */
#define VIRTIO_NET_RX_BUDGET 256u /* frames per receive round */
#define VIRTIO_NET_RX_SEGS 1024u  /* buffer segments one received frame may use */
#define VIRTIO_NET_STATE_VERSION 1u
#define VIRTIO_NET_STATE_LEN 16u

/* The default MAC of the first device: 52:54:00:12:34:56 (QEMU's); the n-th adds n to the last
 * byte. */
#define VIRTIO_NET_DEFAULT_MAC                                                                     \
	{                                                                                          \
		0x52, 0x54, 0x00, 0x12, 0x34, 0x56                                                 \
	}

struct virtio_net_stats {
	uint64_t tx_frames, tx_bytes, tx_dropped;
	uint64_t rx_frames, rx_bytes, rx_dropped;
};

struct virtio_net;

/* Create a network device over guest memory gm with MAC mac, taking frames from and giving them
 * to be. The device owns be from then on (it is destroyed with the device; on failure it stays
 * the caller's). When el is not NULL, the device's eventfd (receive work left over from a round)
 * is watched there. Sets be's rx_ready callback. Returns 0 and sets *out, or -ENOMEM / -errno. */
int virtio_net_create(struct gmem *gm, struct net_backend *be, const uint8_t mac[6],
		      struct evloop *el, struct virtio_net **out)
    __attribute__((warn_unused_result));

/* Destroy the device and its back-end. The transport must be gone and the event loop stopped. */
void virtio_net_destroy(struct virtio_net *net);

/* The virtio device, for the transport and virtio_dev_notify. */
struct virtio_dev *virtio_net_dev(struct virtio_net *net);

/* Deliver what the back-end has into the posted receive buffers (as described above) and raise
 * the used interrupt if the driver wants one. Takes the device lock; the back-end's rx_ready.
 * Returns 1 when the budget ran out with frames and buffers left, else 0. */
int virtio_net_rx(struct virtio_net *net);

/* The counters, and whether a frame is held for want of buffers. Takes the device lock. */
void virtio_net_get_stats(struct virtio_net *net, struct virtio_net_stats *st, bool *holding);

#endif
