#include "core/evloop.h"
#include "core/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct evloop_handler {
	struct evloop_handler *next;
	int fd;
	evloop_fn fn;
	void *ctx;
	int dead; /* removed while a dispatch round may still hold a pointer */
};

/* The loop this thread runs, if any. Set by the loop thread itself: a handler can run before
 * pthread_create has returned el->thread to evloop_start. */
static _Thread_local const struct evloop *loop_self;

int evloop_init(struct evloop *el)
{
	memset(el, 0, sizeof(*el));
	el->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (el->epfd < 0)
		return -errno;
	el->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (el->stop_fd < 0) {
		int err = -errno;
		close(el->epfd);
		return err;
	}
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
	if (epoll_ctl(el->epfd, EPOLL_CTL_ADD, el->stop_fd, &ev) < 0) {
		int err = -errno;
		close(el->stop_fd);
		close(el->epfd);
		return err;
	}
	pthread_mutex_init(&el->lock, NULL);
	pthread_cond_init(&el->idle, NULL);
	return 0;
}

int evloop_add(struct evloop *el, int fd, uint32_t events, evloop_fn fn, void *ctx)
{
	struct evloop_handler *h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->fd = fd;
	h->fn = fn;
	h->ctx = ctx;
	pthread_mutex_lock(&el->lock);
	for (struct evloop_handler *o = el->handlers; o; o = o->next) {
		if (o->fd == fd && !o->dead) {
			pthread_mutex_unlock(&el->lock);
			free(h);
			return -EEXIST;
		}
	}
	struct epoll_event ev = {.events = events, .data.ptr = h};
	if (epoll_ctl(el->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int err = -errno;
		pthread_mutex_unlock(&el->lock);
		free(h);
		return err;
	}
	h->next = el->handlers;
	el->handlers = h;
	pthread_mutex_unlock(&el->lock);
	return 0;
}

/* Free handlers marked dead. Lock held; called by the loop thread between rounds, or when the
 * loop is not running. */
static void reap(struct evloop *el)
{
	struct evloop_handler **pp = &el->handlers;
	while (*pp) {
		struct evloop_handler *h = *pp;
		if (h->dead) {
			*pp = h->next;
			free(h);
		} else {
			pp = &h->next;
		}
	}
}

int evloop_del(struct evloop *el, int fd)
{
	int ret = -ENOENT;
	pthread_mutex_lock(&el->lock);
	for (struct evloop_handler *h = el->handlers; h; h = h->next) {
		if (h->fd == fd && !h->dead) {
			epoll_ctl(el->epfd, EPOLL_CTL_DEL, fd, NULL);
			h->dead = 1;
			ret = 0;
			break;
		}
	}
	/* From another thread, wait until the current round (which may be running the handler)
	 * ends; on the loop thread the round's own bookkeeping skips dead entries. */
	if (ret == 0 && loop_self != el)
		while (el->dispatching)
			pthread_cond_wait(&el->idle, &el->lock);
	/* Entries are freed only where no epoll result can still point at them: by the loop thread
	 * at the end of a round, or by anyone once the loop is not running. */
	if (!el->running)
		reap(el);
	pthread_mutex_unlock(&el->lock);
	return ret;
}

static void *evloop_thread(void *arg)
{
	struct evloop *el = arg;
	struct epoll_event evs[32];

	loop_self = el;
	for (;;) {
		int n = epoll_wait(el->epfd, evs, 32, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_err("evloop: epoll_wait: %s", strerror(errno));
			break;
		}
		int stop = 0;
		pthread_mutex_lock(&el->lock);
		el->dispatching = 1;
		pthread_mutex_unlock(&el->lock);
		for (int i = 0; i < n; i++) {
			struct evloop_handler *h = evs[i].data.ptr;
			if (!h) {
				stop = 1;
				continue;
			}
			/* dead is only set under lock; reading it here races benignly with a del
			 * from another thread, which then waits for this round to end. */
			pthread_mutex_lock(&el->lock);
			int dead = h->dead;
			pthread_mutex_unlock(&el->lock);
			if (!dead)
				h->fn(h->ctx, h->fd, evs[i].events);
		}
		pthread_mutex_lock(&el->lock);
		el->dispatching = 0;
		reap(el);
		pthread_cond_broadcast(&el->idle);
		pthread_mutex_unlock(&el->lock);
		if (stop)
			break;
	}
	return NULL;
}

int evloop_start(struct evloop *el)
{
	/* running before the thread exists: a del racing with the first round must not reap. */
	pthread_mutex_lock(&el->lock);
	el->running = 1;
	pthread_mutex_unlock(&el->lock);
	int err = pthread_create(&el->thread, NULL, evloop_thread, el);
	if (err) {
		pthread_mutex_lock(&el->lock);
		el->running = 0;
		pthread_mutex_unlock(&el->lock);
		return -err;
	}
	return 0;
}

void evloop_stop(struct evloop *el)
{
	if (!el->running)
		return;
	uint64_t one = 1;
	ssize_t w = write(el->stop_fd, &one, sizeof(one));
	(void)w;
	pthread_join(el->thread, NULL);
	el->running = 0;
	uint64_t v;
	ssize_t r = read(el->stop_fd, &v, sizeof(v));
	(void)r;
}

void evloop_destroy(struct evloop *el)
{
	evloop_stop(el);
	pthread_mutex_lock(&el->lock);
	for (struct evloop_handler *h = el->handlers; h; h = h->next)
		h->dead = 1;
	reap(el);
	pthread_mutex_unlock(&el->lock);
	close(el->stop_fd);
	close(el->epfd);
	pthread_mutex_destroy(&el->lock);
	pthread_cond_destroy(&el->idle);
}
