/* Host side of virtio-vsock over Unix sockets. See vsock_uds.h. */
#include "backend/vsock_uds.h"
#include "core/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* A host client that has not sent its CONNECT line yet. */
struct uds_client {
	struct vsock_uds *u;
	int fd;
	char line[VSOCK_UDS_LINE_MAX];
	unsigned len;
};

struct vsock_uds {
	struct evloop *el;
	struct virtio_vsock *dev;
	char *path;
	int lfd;
	struct uds_client *pending[VSOCK_UDS_MAX_PENDING];
	unsigned npending;
};

static int uds_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int uds_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* Longest PATH: room for "_4294967295" and the NUL in sun_path. */
#define UDS_PATH_MAX (sizeof(((struct sockaddr_un *)0)->sun_path) - 12)

int vsock_uds_parse_opts(const char *s, struct vsock_uds_opts *o, char *err, size_t errlen)
{
	bool have_cid = false;
	const char *p = s;

	memset(o, 0, sizeof(*o));
	while (*p) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		if (n > 4 && !strncmp(p, "cid=", 4)) {
			char num[24], *e;
			if (have_cid || n - 4 >= sizeof(num))
				goto bad_cid;
			memcpy(num, p + 4, n - 4);
			num[n - 4] = 0;
			errno = 0;
			unsigned long long v = strtoull(num, &e, 10);
			if (errno || *e || num[0] == '-' || num[0] == '+' || v < 3 ||
			    v > 0xfffffffeull)
				goto bad_cid;
			o->cid = v;
			have_cid = true;
		} else if (n > 4 && !strncmp(p, "uds=", 4)) {
			if (o->uds) {
				vsock_uds_opts_free(o);
				return uds_fail(err, errlen, "uds= given twice");
			}
			if (n - 4 > UDS_PATH_MAX) {
				vsock_uds_opts_free(o);
				return uds_fail(err, errlen, "uds path longer than %zu bytes",
						(size_t)UDS_PATH_MAX);
			}
			o->uds = strndup(p + 4, n - 4);
			if (!o->uds)
				return uds_fail(err, errlen, "out of memory");
		} else {
			vsock_uds_opts_free(o);
			return uds_fail(err, errlen, "unknown key '%.*s' (use cid=N,uds=PATH)",
					(int)n, p);
		}
		p += n;
		if (*p == ',')
			p++;
	}
	if (!have_cid || !o->uds) {
		vsock_uds_opts_free(o);
		return uds_fail(err, errlen, "cid=N and uds=PATH are both required");
	}
	return 0;
bad_cid:
	vsock_uds_opts_free(o);
	return uds_fail(err, errlen, "cid must be given once, a number from 3 to 4294967294");
}

void vsock_uds_opts_free(struct vsock_uds_opts *o)
{
	free(o->uds);
	memset(o, 0, sizeof(*o));
}

static void client_drop(struct vsock_uds *u, struct uds_client *cl, bool close_fd)
{
	for (unsigned i = 0; i < u->npending; i++) {
		if (u->pending[i] == cl) {
			u->pending[i] = u->pending[--u->npending];
			break;
		}
	}
	evloop_del(u->el, cl->fd);
	if (close_fd)
		close(cl->fd);
	free(cl);
}

/* "CONNECT <port>" (the newline stripped): the port, or -1. */
static long long parse_connect(const char *line)
{
	char *end;

	if (strncmp(line, "CONNECT ", 8) || line[8] < '0' || line[8] > '9')
		return -1;
	errno = 0;
	unsigned long long v = strtoull(line + 8, &end, 10);
	if (errno || *end || v > UINT32_MAX)
		return -1;
	return (long long)v;
}

/* Read the client's line without taking anything past its newline (MSG_PEEK, then read
 * exactly). */
static void client_event(void *ctx, int fd, uint32_t events)
{
	struct uds_client *cl = ctx;
	struct vsock_uds *u = cl->u;
	char buf[VSOCK_UDS_LINE_MAX];
	size_t room = sizeof(cl->line) - cl->len;
	ssize_t n = recv(fd, buf, room, MSG_PEEK | MSG_DONTWAIT);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0)
		return client_drop(u, cl, true);
	char *nl = memchr(buf, '\n', (size_t)n);
	size_t take = nl ? (size_t)(nl - buf) + 1 : (size_t)n;
	if (recv(fd, cl->line + cl->len, take, MSG_DONTWAIT) != (ssize_t)take)
		return client_drop(u, cl, true);
	cl->len += (unsigned)take;
	if (!nl) {
		if (cl->len == sizeof(cl->line))
			client_drop(u, cl, true); /* no newline within the limit */
		return;
	}
	cl->line[cl->len - 1] = 0;
	if (cl->len >= 2 && cl->line[cl->len - 2] == '\r')
		cl->line[cl->len - 2] = 0;
	long long port = parse_connect(cl->line);
	uint32_t host_port;
	int ret = -EINVAL;
	/* The device watches fd itself from here on: stop watching it first (same fd). */
	client_drop(u, cl, false);
	if (port >= 0 && u->dev)
		ret = virtio_vsock_host_connect(u->dev, fd, (uint32_t)port, &host_port);
	if (ret) {
		log_rl(LOG_DEBUG, "vsock: host client for port %lld refused: %s", port,
		       strerror(-ret));
		close(fd);
	}
}

static void listen_event(void *ctx, int fd, uint32_t events)
{
	struct vsock_uds *u = ctx;

	for (;;) {
		int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				log_rl(LOG_WARN, "vsock: accept on %s: %s", u->path,
				       strerror(errno));
			return;
		}
		struct uds_client *cl = NULL;
		if (u->npending < VSOCK_UDS_MAX_PENDING)
			cl = calloc(1, sizeof(*cl));
		if (!cl) {
			close(cfd);
			continue;
		}
		cl->u = u;
		cl->fd = cfd;
		if (evloop_add(u->el, cfd, EPOLLIN | EPOLLRDHUP, client_event, cl)) {
			close(cfd);
			free(cl);
			continue;
		}
		u->pending[u->npending++] = cl;
	}
}

/* Callbacks for the device (device lock held, loop thread). */
static int uds_connect(void *ctx, uint32_t port)
{
	struct vsock_uds *u = ctx;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	if ((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_%u", u->path, port) >=
	    sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

static size_t uds_established(void *ctx, uint32_t host_port, char *buf, size_t cap)
{
	int n = snprintf(buf, cap, "OK %u\n", host_port);
	return n < 0 || (size_t)n >= cap ? 0 : (size_t)n;
}

struct virtio_vsock_backend vsock_uds_backend(struct vsock_uds *u)
{
	return (struct virtio_vsock_backend){uds_connect, uds_established, u};
}

int vsock_uds_create(const char *path, struct evloop *el, struct vsock_uds **out, char *err,
		     size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct vsock_uds *u;
	struct stat st;
	int ret;

	*out = NULL;
	if (strlen(path) > UDS_PATH_MAX)
		return uds_fail(err, errlen, "%s: path too long", path);
	u = calloc(1, sizeof(*u));
	if (!u || !(u->path = strdup(path))) {
		free(u);
		uds_fail(err, errlen, "out of memory");
		return -ENOMEM;
	}
	u->el = el;
	u->lfd = -1;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			ret = uds_fail(err, errlen, "%s exists and is not a socket", path);
			goto fail;
		}
		unlink(path); /* a stale socket from an earlier run */
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	u->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (u->lfd < 0 || bind(u->lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(u->lfd, 64) < 0) {
		ret = -errno;
		uds_fail(err, errlen, "cannot listen on %s: %s", path, strerror(errno));
		goto fail;
	}
	ret = evloop_add(el, u->lfd, EPOLLIN, listen_event, u);
	if (ret) {
		uds_fail(err, errlen, "cannot watch %s: %s", path, strerror(-ret));
		unlink(path);
		goto fail;
	}
	*out = u;
	return 0;
fail:
	if (u->lfd >= 0)
		close(u->lfd);
	free(u->path);
	free(u);
	return ret;
}

void vsock_uds_attach(struct vsock_uds *u, struct virtio_vsock *v)
{
	u->dev = v;
}

void vsock_uds_destroy(struct vsock_uds *u)
{
	if (!u)
		return;
	while (u->npending)
		client_drop(u, u->pending[0], true);
	evloop_del(u->el, u->lfd);
	close(u->lfd);
	unlink(u->path);
	free(u->path);
	free(u);
}
