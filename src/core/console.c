#include "core/console.h"
#include "core/log.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <termios.h>
#include <unistd.h>

#define CTRL_A 0x01

struct console_io {
	int in_fd;
	int is_tty;
	struct termios saved;
	int wake_fd;
	pthread_t thread;
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
				struct pollfd pfd = { .fd = o->fd, .events = POLLOUT };
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

static void *console_thread(void *arg)
{
	struct console_io *c = arg;
	int in_open = 1;

	for (;;) {
		struct pollfd pfd[2] = { { .fd = c->wake_fd, .events = POLLIN },
					 { .fd = c->in_fd, .events = POLLIN } };
		int have_pending = c->pos < c->npending;
		/* While the device is full, poll only for wake-up and retry every millisecond. */
		int nfds = (in_open && !have_pending) ? 2 : 1;
		int r = poll(pfd, (nfds_t)nfds, have_pending ? 1 : -1);
		if (r < 0 && errno != EINTR)
			break;
		if (pfd[0].revents)
			break;
		if (nfds == 2 && pfd[1].revents) {
			uint8_t raw[sizeof(c->pending)];
			ssize_t n = read(c->in_fd, raw, sizeof(raw));
			if (n <= 0) {
				if (n < 0 && (errno == EINTR || errno == EAGAIN))
					continue;
				in_open = 0; /* EOF: the guest keeps running without input */
				continue;
			}
			c->npending = console_filter(c, raw, (size_t)n, c->pending);
			c->pos = 0;
		}
		if (c->pos < c->npending)
			c->pos += c->deliver(c->ctx, c->pending + c->pos, c->npending - c->pos);
	}
	return NULL;
}

int console_start(struct console_io **out, int in_fd, console_deliver_fn deliver, void *ctx,
		  struct exit_sink exit)
{
	struct console_io *c = calloc(1, sizeof(*c));
	int ret;

	if (!c)
		return -ENOMEM;
	c->in_fd = in_fd;
	c->deliver = deliver;
	c->ctx = ctx;
	c->exit = exit;
	c->wake_fd = eventfd(0, EFD_CLOEXEC);
	if (c->wake_fd < 0) {
		ret = -errno;
		free(c);
		return ret;
	}
	if (isatty(in_fd) && tcgetattr(in_fd, &c->saved) == 0) {
		struct termios raw = c->saved;
		cfmakeraw(&raw);
		raw.c_oflag |= OPOST | ONLCR; /* keep output newline translation readable */
		if (tcsetattr(in_fd, TCSANOW, &raw) == 0)
			c->is_tty = 1;
	}
	ret = -pthread_create(&c->thread, NULL, console_thread, c);
	if (ret) {
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
	uint64_t one = 1;
	ssize_t w = write(c->wake_fd, &one, sizeof(one));
	(void)w;
	pthread_join(c->thread, NULL);
	if (c->is_tty)
		tcsetattr(c->in_fd, TCSANOW, &c->saved);
	close(c->wake_fd);
	free(c);
}
