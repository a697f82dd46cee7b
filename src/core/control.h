/* The interim control channel (`--control PATH`): a Unix stream socket on the event loop that takes
 * one command per line and answers each with one line. The commands themselves are the caller's
 * (core/machine_ctl.c: `balloon SIZE`, `balloon-stats`); this is only the socket and the framing.
 *
 * PATH is created at start (a stale socket file is replaced, any other file is an error) and
 * removed at exit. Up to CONTROL_MAX_CLIENTS clients at once (more are closed at once); a line is
 * at most CONTROL_LINE_MAX bytes with its newline ("\r\n" also ends one), else the client gets
 * "ERR line too long" and is closed. The reply is written without blocking; a client that does not
 * read its replies is closed when its socket buffer is full.
 *
 * Threads: everything runs on the event loop's thread, including the command callback. */
#ifndef VMON_CORE_CONTROL_H
#define VMON_CORE_CONTROL_H

#include <stddef.h>

#include "core/evloop.h"

#define CONTROL_LINE_MAX 256u
#define CONTROL_MAX_CLIENTS 16u

/* Handle one command line (no newline, NUL-terminated): write the reply line (no newline) into
 * reply (cap bytes, NUL-terminated). */
typedef void (*control_cmd_fn)(void *ctx, const char *line, char *reply, size_t cap);

struct control;

/* Listen on path and watch it on el; fn(ctx, ...) handles each line. Returns 0 and sets *out, or
 * -errno with a one-line reason in err. */
int control_create(const char *path, struct evloop *el, control_cmd_fn fn, void *ctx,
		   struct control **out, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Close the clients and the socket, remove path, free. The loop must be stopped (or not running
 * this channel's handlers). Safe with NULL. */
void control_destroy(struct control *c);

#endif
