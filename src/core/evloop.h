/* The device event loop: one thread running epoll over file descriptors (eventfds for queue
 * notifications, backend sockets, timerfds). Device back-ends do their work here, not on vCPU
 * threads.
 *
 * Handlers run on the loop thread only. evloop_add/evloop_del may be called from any thread;
 * after evloop_del returns, the handler is not running and will not run again (del from the loop
 * thread itself is allowed, also from inside the handler being removed).
 * Lock: `lock` protects the handler table; it is never held while a handler runs. */
#ifndef VMON_CORE_EVLOOP_H
#define VMON_CORE_EVLOOP_H

#include <pthread.h>
#include <stdint.h>

/* Called with the epoll events (EPOLLIN, ...) that fired for fd. */
typedef void (*evloop_fn)(void *ctx, int fd, uint32_t events);

struct evloop_handler;

struct evloop {
	int epfd;
	int stop_fd; /* eventfd that ends the loop */
	pthread_t thread;
	int running;
	pthread_mutex_t lock;
	pthread_cond_t idle; /* signalled when the loop finishes a dispatch round */
	int dispatching;
	struct evloop_handler *handlers; /* list; freed entries are unlinked under lock */
};

/* Create an event loop (the thread starts with evloop_start). Returns 0 or -errno. */
int evloop_init(struct evloop *el) __attribute__((warn_unused_result));

/* Watch fd for events (EPOLLIN etc.) and call fn(ctx, fd, events) on the loop thread.
 * Returns 0 or -errno (-EEXIST when fd is already watched). */
int evloop_add(struct evloop *el, int fd, uint32_t events, evloop_fn fn, void *ctx)
    __attribute__((warn_unused_result));

/* Stop watching fd. Returns 0 or -ENOENT. */
int evloop_del(struct evloop *el, int fd);

/* Start / stop the loop thread. stop joins it. */
int evloop_start(struct evloop *el) __attribute__((warn_unused_result));
void evloop_stop(struct evloop *el);

/* Release everything (stops the thread first if running). */
void evloop_destroy(struct evloop *el);

#endif
