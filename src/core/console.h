/* The terminal side of the guest console: reads stdin (raw mode when it is a TTY, restored on
 * stop), handles the Ctrl-A escape (Ctrl-A x quits, Ctrl-A Ctrl-A sends Ctrl-A), and feeds bytes
 * to a device through `deliver`, retrying while the device's receive buffer is full.
 *
 * Threads: one input thread, started by console_start and joined by console_stop. `deliver` is
 * called on that thread; the device serialises it with its own lock. */
#ifndef VMON_CORE_CONSOLE_H
#define VMON_CORE_CONSOLE_H

#include <stddef.h>
#include <stdint.h>

#include "core/devif.h"

struct console_io;

/* Returns how many of len bytes the device accepted (0 when its buffer is full). */
typedef size_t (*console_deliver_fn)(void *ctx, const uint8_t *buf, size_t len);

/* Start reading in_fd. The escape is active only when in_fd is a TTY. Returns 0 or -errno. */
int console_start(struct console_io **out, int in_fd, console_deliver_fn deliver, void *ctx,
		  struct exit_sink exit) __attribute__((warn_unused_result));

/* Stop the input thread and restore the terminal. Safe to call with NULL. */
void console_stop(struct console_io *c);

/* A char_out that writes to fd (retrying partial writes and EINTR; errors are dropped after one
 * rate-limited log line so a closed pipe never stops the guest). */
struct fd_out {
	int fd;
};
ssize_t fd_out_write(void *ctx, const void *buf, size_t len);

#endif
