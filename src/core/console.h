/* The terminal side of the guest console: reads stdin on the event-loop thread (raw mode when it
 * is a TTY, restored on stop), handles the Ctrl-A escape (Ctrl-A x quits, Ctrl-A Ctrl-A sends
 * Ctrl-A), and feeds bytes to a device through `deliver`.
 *
 * Back-pressure: when the device takes fewer bytes than offered, the console stops reading stdin
 * and keeps the rest; the device calls console_rx_ready() (from any thread) once it has room,
 * which resumes delivery on the loop thread. Nothing typed is lost.
 * Lock: none; all state is touched on the loop thread except wake_fd, an eventfd. */
#ifndef VMON_CORE_CONSOLE_H
#define VMON_CORE_CONSOLE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/devif.h"
#include "core/evloop.h"

struct console_io;

/* Returns how many of len bytes the device accepted (0 when its buffer is full). */
typedef size_t (*console_deliver_fn)(void *ctx, const uint8_t *buf, size_t len);

/* Start reading in_fd on el. The escape is active only when in_fd is a TTY.
 * Returns 0 or -errno. */
int console_start(struct console_io **out, struct evloop *el, int in_fd, console_deliver_fn deliver,
		  void *ctx, struct exit_sink exit) __attribute__((warn_unused_result));

/* The device has room again (callable from any thread; ctx is the struct console_io). */
void console_rx_ready(void *ctx);

/* Stop reading and restore the terminal. The event loop must be stopped, or the caller must
 * otherwise ensure no handler runs concurrently. Safe to call with NULL. */
void console_stop(struct console_io *c);

/* A char_out that writes to fd (retrying partial writes and EINTR; errors are dropped after one
 * rate-limited log line so a closed pipe never stops the guest). */
struct fd_out {
	int fd;
};
ssize_t fd_out_write(void *ctx, const void *buf, size_t len);

#endif
