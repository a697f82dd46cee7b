/* The interim control channel: a line-per-command Unix socket. See control.h. */
#include "core/control.h"
#include "core/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

struct control_client {
	struct control *c;
	int fd;
	char line[CONTROL_LINE_MAX];
	unsigned len;
};

struct control {
	struct evloop *el;
	control_cmd_fn fn;
	void *ctx;
	char *path;
	int lfd;
	struct control_client *clients[CONTROL_MAX_CLIENTS];
	unsigned nclients;
};

static void client_close(struct control *c, struct control_client *cl)
{
	for (unsigned i = 0; i < c->nclients; i++) {
		if (c->clients[i] == cl) {
			c->clients[i] = c->clients[--c->nclients];
			break;
		}
	}
	evloop_del(c->el, cl->fd);
	close(cl->fd);
	free(cl);
}

/* Send one reply line; false when the client must go (error, or its buffer is full). */
static bool client_reply(struct control_client *cl, const char *reply)
{
	char buf[CONTROL_LINE_MAX * 4];
	int n = snprintf(buf, sizeof(buf), "%s\n", reply);

	if (n < 0 || (size_t)n >= sizeof(buf))
		n = snprintf(buf, sizeof(buf), "ERR reply too long\n");
	return send(cl->fd, buf, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) == n;
}

static void client_event(void *ctx, int fd, uint32_t events)
{
	struct control_client *cl = ctx;
	struct control *c = cl->c;
	char buf[CONTROL_LINE_MAX];

	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0)
			return client_close(c, cl);
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] != '\n') {
				if (cl->len == sizeof(cl->line) - 1) {
					client_reply(cl, "ERR line too long");
					return client_close(c, cl);
				}
				cl->line[cl->len++] = buf[i];
				continue;
			}
			if (cl->len && cl->line[cl->len - 1] == '\r')
				cl->len--;
			cl->line[cl->len] = 0;
			cl->len = 0;
			char reply[CONTROL_LINE_MAX * 3] = "";
			c->fn(c->ctx, cl->line, reply, sizeof(reply));
			if (!client_reply(cl, reply))
				return client_close(c, cl);
		}
	}
}

static void listen_event(void *ctx, int fd, uint32_t events)
{
	struct control *c = ctx;

	for (;;) {
		int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				log_rl(LOG_WARN, "control: accept on %s: %s", c->path,
				       strerror(errno));
			return;
		}
		struct control_client *cl = NULL;
		if (c->nclients < CONTROL_MAX_CLIENTS)
			cl = calloc(1, sizeof(*cl));
		if (!cl) {
			close(cfd);
			continue;
		}
		cl->c = c;
		cl->fd = cfd;
		if (evloop_add(c->el, cfd, EPOLLIN | EPOLLRDHUP, client_event, cl)) {
			close(cfd);
			free(cl);
			continue;
		}
		c->clients[c->nclients++] = cl;
	}
}

static int ctl_fail(char *err, size_t errlen, int ret, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int ctl_fail(char *err, size_t errlen, int ret, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return ret;
}

int control_create(const char *path, struct evloop *el, control_cmd_fn fn, void *ctx,
		   struct control **out, char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct control *c;
	struct stat st;
	int ret;

	*out = NULL;
	if (!*path || strlen(path) >= sizeof(sa.sun_path))
		return ctl_fail(err, errlen, -EINVAL, "%s: empty or too long for a socket", path);
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return ctl_fail(err, errlen, -EEXIST, "%s exists and is not a socket",
					path);
		unlink(path); /* a stale socket from an earlier run */
	}
	c = calloc(1, sizeof(*c));
	if (!c || !(c->path = strdup(path))) {
		free(c);
		return ctl_fail(err, errlen, -ENOMEM, "out of memory");
	}
	c->el = el;
	c->fn = fn;
	c->ctx = ctx;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	c->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->lfd < 0 || bind(c->lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(c->lfd, 16) < 0) {
		ret =
		    ctl_fail(err, errlen, -errno, "cannot listen on %s: %s", path, strerror(errno));
		goto fail;
	}
	ret = evloop_add(el, c->lfd, EPOLLIN, listen_event, c);
	if (ret) {
		ctl_fail(err, errlen, ret, "cannot watch %s: %s", path, strerror(-ret));
		unlink(path);
		goto fail;
	}
	*out = c;
	return 0;
fail:
	if (c->lfd >= 0)
		close(c->lfd);
	free(c->path);
	free(c);
	return ret;
}

void control_destroy(struct control *c)
{
	if (!c)
		return;
	while (c->nclients)
		client_close(c, c->clients[0]);
	evloop_del(c->el, c->lfd);
	close(c->lfd);
	unlink(c->path);
	free(c->path);
	free(c);
}
