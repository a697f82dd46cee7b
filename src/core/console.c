#include "core/console.h"
#include "core/log.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <termios.h>
#include <unistd.h>

#define CTRL_A 0x01

struct console_io {
	struct evloop *el;
	int in_fd;
	int in_watched; /* in_fd is registered with the loop */
	int is_tty;
	int tty_fd; /* the terminal whose settings are restored on stop */
	struct termios saved;
	int wake_fd;
	console_deliver_fn deliver;
	void *ctx;
	struct exit_sink exit;
	int escape; /* the previous byte was Ctrl-A */
	uint8_t pending[256];
	size_t npending, pos;
};

ssize_t fd_out_write(void *ctx, const void *buf, size_t len)
{
	struct fd_out *o = ctx;
	const uint8_t *p = buf;
	size_t left = len;
	while (left) {
		ssize_t n = write(o->fd, p, left);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				struct pollfd pfd = {.fd = o->fd, .events = POLLOUT};
				poll(&pfd, 1, 100);
				continue;
			}
			log_rl(LOG_WARN, "console output: %s", strerror(errno));
			return -errno;
		}
		p += n;
		left -= (size_t)n;
	}
	return (ssize_t)len;
}

/* Apply the escape handling to raw input; writes what goes to the guest into out. */
static size_t console_filter(struct console_io *c, const uint8_t *in, size_t n, uint8_t *out)
{
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t b = in[i];
		if (!c->is_tty) {
			out[m++] = b;
			continue;
		}
		if (c->escape) {
			c->escape = 0;
			if (b == 'x' || b == 'X') {
				exit_sink_request(&c->exit, VM_EXIT_USER, 0);
				return m;
			}
			if (b == CTRL_A)
				out[m++] = CTRL_A;
			continue; /* unknown escapes are swallowed */
		}
		if (b == CTRL_A)
			c->escape = 1;
		else
			out[m++] = b;
	}
	return m;
}

static void console_on_input(void *ctx, int fd, uint32_t events);

/* Offer pending bytes; stop or resume watching stdin accordingly. Loop thread only. */
static void console_flush(struct console_io *c)
{
	if (c->pos < c->npending)
		c->pos += c->deliver(c->ctx, c->pending + c->pos, c->npending - c->pos);
	int want = c->pos >= c->npending;
	if (want && !c->in_watched && c->in_fd >= 0) {
		if (evloop_add(c->el, c->in_fd, EPOLLIN, console_on_input, c) == 0)
			c->in_watched = 1;
	} else if (!want && c->in_watched) {
		evloop_del(c->el, c->in_fd);
		c->in_watched = 0;
	}
}

static void console_on_input(void *ctx, int fd, uint32_t events)
{
	struct console_io *c = ctx;
	uint8_t raw[sizeof(c->pending)];
	ssize_t n = read(fd, raw, sizeof(raw));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		/* EOF or error: the guest keeps running without input. */
		evloop_del(c->el, fd);
		c->in_watched = 0;
		c->in_fd = -1;
		return;
	}
	c->npending = console_filter(c, raw, (size_t)n, c->pending);
	c->pos = 0;
	console_flush(c);
}

static void console_on_wake(void *ctx, int fd, uint32_t events)
{
	struct console_io *c = ctx;
	uint64_t v;
	ssize_t r = read(fd, &v, sizeof(v));
	(void)r;
	console_flush(c);
}

void console_rx_ready(void *ctx)
{
	struct console_io *c = ctx;
	uint64_t one = 1;
	ssize_t w = write(c->wake_fd, &one, sizeof(one));
	(void)w;
}

int console_start(struct console_io **out, struct evloop *el, int in_fd, console_deliver_fn deliver,
		  void *ctx, struct exit_sink exit)
{
	struct console_io *c = calloc(1, sizeof(*c));
	int ret;

	if (!c)
		return -ENOMEM;
	c->el = el;
	c->in_fd = in_fd;
	c->deliver = deliver;
	c->ctx = ctx;
	c->exit = exit;
	c->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (c->wake_fd < 0) {
		ret = -errno;
		free(c);
		return ret;
	}
	if (isatty(in_fd) && tcgetattr(in_fd, &c->saved) == 0) {
		struct termios raw = c->saved;
		cfmakeraw(&raw);
		raw.c_oflag |= OPOST | ONLCR; /* keep output newline translation readable */
		if (tcsetattr(in_fd, TCSANOW, &raw) == 0) {
			c->is_tty = 1;
			c->tty_fd = in_fd;
		}
	}
	ret = evloop_add(el, c->wake_fd, EPOLLIN, console_on_wake, c);
	if (!ret) {
		ret = evloop_add(el, in_fd, EPOLLIN, console_on_input, c);
		/* /dev/null and regular files cannot be polled: no input then. */
		if (ret == -EPERM) {
			c->in_fd = -1;
			ret = 0;
		} else if (!ret) {
			c->in_watched = 1;
		}
	}
	if (ret) {
		evloop_del(el, c->wake_fd);
		if (c->is_tty)
			tcsetattr(in_fd, TCSANOW, &c->saved);
		close(c->wake_fd);
		free(c);
		return ret;
	}
	*out = c;
	return 0;
}

void console_stop(struct console_io *c)
{
	if (!c)
		return;
	if (c->in_watched)
		evloop_del(c->el, c->in_fd);
	evloop_del(c->el, c->wake_fd);
	if (c->is_tty)
		tcsetattr(c->tty_fd, TCSANOW, &c->saved);
	close(c->wake_fd);
	free(c);
}
