/* Host side of virtio-vsock over Unix sockets, as Firecracker does it (`--vsock cid=N,uds=PATH`).
 *
 * Host-initiated: vmon listens on PATH (a Unix stream socket, created at start; a stale socket
 * file is replaced, any other file is an error). A host client connects and sends one line
 * "CONNECT <port>\n" (decimal port, at most VSOCK_UDS_LINE_MAX bytes with the newline); vmon sends
 * a REQUEST to that guest port, and when the guest accepts it answers "OK <hostport>\n", hostport
 * being the local port vmon assigned to the connection; then bytes flow both ways. A malformed
 * line, a guest RST or a device that is not running closes the client's socket. Bytes the client
 * sends after its line wait in the socket until the connection is established.
 *
 * Guest-initiated: a guest connection to CID 2 port P becomes a connect() to the Unix socket
 * "PATH_P"; if that fails (no such socket, nobody listening, backlog full) the guest gets RST.
 *
 * Threads: everything runs on the event-loop thread given at creation; the listener and the
 * clients still sending their CONNECT line are watched there, and need no lock. */
#ifndef VMON_BACKEND_VSOCK_UDS_H
#define VMON_BACKEND_VSOCK_UDS_H

#include <stddef.h>
#include <stdint.h>

#include "core/evloop.h"
#include "virtio/virtio_vsock.h"

#define VSOCK_UDS_LINE_MAX 32u
#define VSOCK_UDS_MAX_PENDING 64u /* clients that have not sent their line yet */

struct vsock_uds_opts {
	uint64_t cid;
	char *uds; /* PATH */
};

/* Parse "cid=N,uds=PATH" (both required, any order, each once; N from 3 to 0xfffffffe; PATH not
 * empty, short enough for a Unix socket address with a "_4294967295" suffix) into *o (o->uds
 * allocated; free with vsock_uds_opts_free). Returns 0 or -EINVAL with a one-line reason in err. */
int vsock_uds_parse_opts(const char *s, struct vsock_uds_opts *o, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Free the strings of *o and zero it. */
void vsock_uds_opts_free(struct vsock_uds_opts *o);

struct vsock_uds;

/* Create the back-end for the socket path `path` on loop el. The device is attached later
 * (vsock_uds_attach) because it needs the back-end's callbacks first: vsock_uds_backend fills
 * them. Returns 0 and sets *out, or -errno with a reason in err (bind/listen failures). */
int vsock_uds_create(const char *path, struct evloop *el, struct vsock_uds **out, char *err,
		     size_t errlen) __attribute__((warn_unused_result));

/* The callbacks to give virtio_vsock_create. */
struct virtio_vsock_backend vsock_uds_backend(struct vsock_uds *u);

/* Start accepting host clients into device v. */
void vsock_uds_attach(struct vsock_uds *u, struct virtio_vsock *v);

/* Stop listening, close pending clients, unlink PATH, free. The loop must be stopped (or not
 * running this back-end's handlers). Safe with NULL. */
void vsock_uds_destroy(struct vsock_uds *u);

#endif
