/* Virtio console device (virtio 1.x, section 5.3; device ID 3): one port, no multiport.
 *
 * Queue 0 is the port's receiveq (host to guest), queue 1 its transmitq (guest to host). Offered
 * features: VIRTIO_CONSOLE_F_EMERG_WRITE only (no F_SIZE, no F_MULTIPORT). Configuration space
 * (12 bytes): cols and rows (16 bits each, read 0), max_nr_ports (32 bits, reads 1) and emerg_wr
 * (32 bits, reads 0; a write of 1, 2 or 4 bytes sends its low byte to the output at once).
 *
 * Transmit: each request must be device-readable buffers only; their bytes go to the char_out in
 * order and the request is returned with used length 0. A request with a device-writable segment
 * is malformed: the queue breaks and the device sets DEVICE_NEEDS_RESET (virtio.h). One notify
 * writes at most VIRTIO_CONSOLE_TX_BUDGET bytes; the rest is left for another call. An output
 * error drops the bytes (the char_out logs it): the guest never sees a host I/O error.
 *
 * Receive: virtio_console_receive copies host input into the writable segments of the receive
 * requests the driver posted (a request with a device-readable segment is malformed, as above),
 * one request after another, returning each with the bytes it got; it takes only what fits, so
 * the caller keeps the rest. When the driver posts receive buffers (a receiveq notify), the
 * rx_ready callback tells the host side to offer its held bytes again. Nothing is received before
 * DRIVER_OK or while the device needs a reset.
 *
 * Saved state: the core's (queues, features, status) plus a 4-byte version of the device's own
 * (it has no other guest-visible state: held input belongs to the host side).
 *
 * Locking: everything is protected by the virtio device lock (virtio.h). The char_out and the
 * rx_ready callback are called with it held and must not call back into the device. */
#ifndef VMON_VIRTIO_VIRTIO_CONSOLE_H
#define VMON_VIRTIO_VIRTIO_CONSOLE_H

#include <stddef.h>
#include <stdint.h>

#include "core/devif.h"
#include "core/gmem.h"
#include "virtio/virtio.h"

#define VIRTIO_CONSOLE_F_SIZE 0
#define VIRTIO_CONSOLE_F_MULTIPORT 1
#define VIRTIO_CONSOLE_F_EMERG_WRITE 2

#define VIRTIO_CONSOLE_RXQ 0
#define VIRTIO_CONSOLE_TXQ 1
#define VIRTIO_CONSOLE_QUEUE_SIZE 128
#define VIRTIO_CONSOLE_CONFIG_LEN 12
#define VIRTIO_CONSOLE_CFG_COLS 0
#define VIRTIO_CONSOLE_CFG_ROWS 2
#define VIRTIO_CONSOLE_CFG_MAX_NR_PORTS 4
#define VIRTIO_CONSOLE_CFG_EMERG_WR 8
#define VIRTIO_CONSOLE_TX_BUDGET (256u * 1024) /* bytes written per notify */
#define VIRTIO_CONSOLE_STATE_VERSION 1u

struct virtio_console;

/* Create a console over guest memory gm whose output goes to out. Returns 0 and sets *con, or
 * -ENOMEM / -errno. */
int virtio_console_create(struct gmem *gm, struct char_out out, struct virtio_console **con)
    __attribute__((warn_unused_result));

/* Free the device. Its transport must have been destroyed first. Safe with NULL. */
void virtio_console_destroy(struct virtio_console *con);

/* The virtio device, for the transport and virtio_dev_notify. */
struct virtio_dev *virtio_console_dev(struct virtio_console *con);

/* Host input: put up to len bytes into the posted receive buffers and raise the used interrupt
 * if the driver wants one. Returns the bytes taken (0 when no buffer is posted or the device is
 * not running). Takes the device lock; any thread (the event loop in vmon). */
size_t virtio_console_receive(struct virtio_console *con, const uint8_t *buf, size_t len);

/* Set the callback run (device lock held) when the driver posts receive buffers; fn NULL clears
 * it. Takes the device lock. */
void virtio_console_set_rx_ready(struct virtio_console *con, void (*fn)(void *ctx), void *ctx);

#endif
