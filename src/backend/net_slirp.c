/* libslirp back-end. See net_slirp.h for the event-loop integration and the locking. */
#include "backend/net_slirp.h"
#include "core/log.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <slirp/libslirp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define SLIRP_EVENTS_MAX 64

/* A frame queued for the guest. */
struct pkt {
	struct pkt *next;
	size_t len;
	uint8_t data[];
};

/* A slirp timer: either kind of slirp's timer API. */
struct stimer {
	struct stimer *next;
	SlirpTimerId id;   /* timer_new_opaque */
	void *cb_opaque;   /* its argument */
	SlirpTimerCb cb;   /* timer_new, or NULL */
	int64_t expire_ms; /* on slirp's clock (clock_get_ns / 1e6) */
	bool armed;
};

/* An fd in the private epoll set. */
struct sfd {
	int fd;
	uint32_t events; /* epoll events registered */
	unsigned gen;	 /* the fill round that last asked for it */
};

/* One add_poll entry of the last fill: index -> fd, what slirp asked, what came back. */
struct spoll {
	int fd;
	int events;
	int revents;
};

struct net_slirp {
	struct net_backend be; /* first: the ops recover the back-end from it */
	pthread_mutex_t lock;  /* see net_slirp.h */
	Slirp *slirp;
	struct evloop *el; /* epfd is watched there, or NULL */
	int epfd, tfd;
	struct sfd *fds;
	unsigned nfds, capfds, gen;
	struct spoll *polls;
	unsigned npolls, cappolls;
	struct stimer *timers;
	struct pkt *head, *tail;
	unsigned qlen;
	size_t qbytes;
	uint8_t txbuf[NET_MAX_FRAME];
};

/* libslirp is opened on first use (dlopen), not linked. It needs GLib, and a linked libslirp
 * makes every vmon process map, relocate and initialise both at start-up, with a network or
 * without: about 1 MiB of resident memory, and on nested KVM (bench/startup.py --nested) 144 ms
 * to the first serial byte against 87 ms without. It is opened while the machine is built,
 * before any sandbox would be entered. The calls go through this table. */
static struct {
	__typeof__(slirp_new) *new_;
	__typeof__(slirp_cleanup) *cleanup;
	__typeof__(slirp_add_hostfwd) *add_hostfwd;
	__typeof__(slirp_handle_timer) *handle_timer;
	__typeof__(slirp_input) *input;
	__typeof__(slirp_pollfds_fill) *pollfds_fill;
	__typeof__(slirp_pollfds_poll) *pollfds_poll;
	__typeof__(slirp_version_string) *version_string;
} sl;
static pthread_once_t sl_once = PTHREAD_ONCE_INIT;
static char sl_error[256];

#define NET_SLIRP_SONAME "libslirp.so.0"

static void sl_load(void)
{
	void *h = dlopen(NET_SLIRP_SONAME, RTLD_NOW | RTLD_LOCAL);
	const char *missing = NULL;

	if (!h) {
		snprintf(sl_error, sizeof(sl_error), "%s (install Debian's libslirp0)", dlerror());
		return;
	}
#define SL_SYM(field, name)                                                                        \
	do {                                                                                       \
		*(void **)&sl.field = dlsym(h, name);                                              \
		if (!sl.field && !missing)                                                         \
			missing = name;                                                            \
	} while (0)
	SL_SYM(new_, "slirp_new");
	SL_SYM(cleanup, "slirp_cleanup");
	SL_SYM(add_hostfwd, "slirp_add_hostfwd");
	SL_SYM(handle_timer, "slirp_handle_timer");
	SL_SYM(input, "slirp_input");
	SL_SYM(pollfds_fill, "slirp_pollfds_fill");
	SL_SYM(pollfds_poll, "slirp_pollfds_poll");
	SL_SYM(version_string, "slirp_version_string");
#undef SL_SYM
	if (missing) {
		snprintf(sl_error, sizeof(sl_error),
			 "%s has no %s (libslirp 4.7 or later is needed)", NET_SLIRP_SONAME,
			 missing);
		memset(&sl, 0, sizeof(sl));
		dlclose(h);
	}
}

/* 0 once libslirp's entry points are in sl; else -ENOTSUP with the reason in sl_error. */
static int sl_open(void)
{
	pthread_once(&sl_once, sl_load);
	return sl.new_ ? 0 : -ENOTSUP;
}

static struct net_slirp *to_slirp(struct net_backend *be)
{
	return (struct net_slirp *)be;
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- slirp's callbacks (lock held: they run inside calls into slirp) ---- */

static ssize_t cb_send_packet(const void *buf, size_t len, void *opaque)
{
	struct net_slirp *s = opaque;
	struct pkt *p;

	if (len == 0 || len > NET_MAX_FRAME || s->qlen >= NET_SLIRP_QUEUE_FRAMES ||
	    s->qbytes + len > NET_SLIRP_QUEUE_BYTES || !(p = malloc(sizeof(*p) + len))) {
		s->be.dropped++;
		return (ssize_t)len; /* dropped like a full wire: TCP retransmits */
	}
	p->next = NULL;
	p->len = len;
	memcpy(p->data, buf, len);
	if (s->tail)
		s->tail->next = p;
	else
		s->head = p;
	s->tail = p;
	s->qlen++;
	s->qbytes += len;
	return (ssize_t)len;
}

static void cb_guest_error(const char *msg, void *opaque)
{
	log_rl(LOG_WARN, "slirp: guest error: %s", msg);
}

static int64_t cb_clock_get_ns(void *opaque)
{
	return now_ns();
}

static struct stimer *timer_alloc(struct net_slirp *s)
{
	struct stimer *t = calloc(1, sizeof(*t));

	if (!t) {
		log_err("slirp: out of memory for a timer");
		return NULL;
	}
	t->next = s->timers;
	s->timers = t;
	return t;
}

static void *cb_timer_new(SlirpTimerCb cb, void *cb_opaque, void *opaque)
{
	struct stimer *t = timer_alloc(opaque);

	if (t) {
		t->cb = cb;
		t->cb_opaque = cb_opaque;
	}
	return t;
}

static void *cb_timer_new_opaque(SlirpTimerId id, void *cb_opaque, void *opaque)
{
	struct stimer *t = timer_alloc(opaque);

	if (t) {
		t->id = id;
		t->cb_opaque = cb_opaque;
	}
	return t;
}

static void cb_timer_free(void *timer, void *opaque)
{
	struct net_slirp *s = opaque;

	for (struct stimer **pp = &s->timers; *pp; pp = &(*pp)->next) {
		if (*pp == timer) {
			*pp = (*pp)->next;
			free(timer);
			return;
		}
	}
}

static void cb_timer_mod(void *timer, int64_t expire_ms, void *opaque)
{
	struct stimer *t = timer;

	if (t) {
		t->expire_ms = expire_ms;
		t->armed = true;
	}
}

static void cb_poll_fd(int fd, void *opaque)
{
	/* Every fd slirp wants watched comes through slirp_pollfds_fill. */
}

static void cb_notify(void *opaque)
{
	/* Only for guestfwd sockets, which vmon does not use; fill runs after every call anyway. */
}

static void cb_init_completed(Slirp *slirp, void *opaque)
{
}

static const SlirpCb slirp_cbs = {
    .send_packet = cb_send_packet,
    .guest_error = cb_guest_error,
    .clock_get_ns = cb_clock_get_ns,
    .timer_new = cb_timer_new,
    .timer_free = cb_timer_free,
    .timer_mod = cb_timer_mod,
    .register_poll_fd = cb_poll_fd,
    .unregister_poll_fd = cb_poll_fd,
    .notify = cb_notify,
    .init_completed = cb_init_completed,
    .timer_new_opaque = cb_timer_new_opaque,
};

/* ---- the private epoll set ---- */

static int cb_add_poll(int fd, int events, void *opaque)
{
	struct net_slirp *s = opaque;

	if (s->npolls == s->cappolls) {
		unsigned cap = s->cappolls ? 2 * s->cappolls : 16;
		struct spoll *p = realloc(s->polls, cap * sizeof(*p));
		if (!p) {
			log_rl(LOG_WARN, "slirp: out of memory for the poll set");
			return -1; /* get_revents answers 0 for it */
		}
		s->polls = p;
		s->cappolls = cap;
	}
	s->polls[s->npolls] = (struct spoll){fd, events, 0};
	return (int)s->npolls++;
}

static int cb_get_revents(int idx, void *opaque)
{
	struct net_slirp *s = opaque;

	return idx >= 0 && (unsigned)idx < s->npolls ? s->polls[idx].revents : 0;
}

static uint32_t to_epoll(int ev)
{
	return (ev & SLIRP_POLL_IN ? EPOLLIN : 0) | (ev & SLIRP_POLL_OUT ? EPOLLOUT : 0) |
	       (ev & SLIRP_POLL_PRI ? EPOLLPRI : 0);
}

static int from_epoll(uint32_t ev)
{
	return (ev & EPOLLIN ? SLIRP_POLL_IN : 0) | (ev & EPOLLOUT ? SLIRP_POLL_OUT : 0) |
	       (ev & EPOLLPRI ? SLIRP_POLL_PRI : 0) | (ev & EPOLLERR ? SLIRP_POLL_ERR : 0) |
	       (ev & EPOLLHUP ? SLIRP_POLL_HUP : 0);
}

static struct sfd *sfd_get(struct net_slirp *s, int fd)
{
	for (unsigned i = 0; i < s->nfds; i++)
		if (s->fds[i].fd == fd)
			return &s->fds[i];
	if (s->nfds == s->capfds) {
		unsigned cap = s->capfds ? 2 * s->capfds : 16;
		struct sfd *p = realloc(s->fds, cap * sizeof(*p));
		if (!p)
			return NULL;
		s->fds = p;
		s->capfds = cap;
	}
	s->fds[s->nfds] = (struct sfd){fd, 0, 0};
	return &s->fds[s->nfds++];
}

/* Register fd for ev. MOD every time, not only on change: slirp may have closed the fd (which
 * drops it from the epoll set) and got the same number for a new socket. */
static void sfd_apply(struct net_slirp *s, struct sfd *f, uint32_t ev)
{
	struct epoll_event e = {.events = ev, .data.fd = f->fd};

	if (epoll_ctl(s->epfd, EPOLL_CTL_MOD, f->fd, &e) < 0 &&
	    (errno != ENOENT || epoll_ctl(s->epfd, EPOLL_CTL_ADD, f->fd, &e) < 0))
		log_rl(LOG_WARN, "slirp: cannot watch fd %d: %s", f->fd, strerror(errno));
	f->events = ev;
}

/* Arm the timerfd for the earlier of timeout_ms (UINT32_MAX: none) and the next slirp timer. */
static void arm_timer(struct net_slirp *s, uint32_t timeout_ms)
{
	int64_t now_ms = now_ns() / 1000000,
		delay = timeout_ms == UINT32_MAX ? -1 : (int64_t)timeout_ms;
	struct itimerspec its = {{0, 0}, {0, 0}};

	for (struct stimer *t = s->timers; t; t = t->next) {
		if (!t->armed)
			continue;
		int64_t d = t->expire_ms > now_ms ? t->expire_ms - now_ms : 0;
		if (delay < 0 || d < delay)
			delay = d;
	}
	if (delay == 0)
		its.it_value.tv_nsec = 1000; /* due now: as soon as possible (0 would disarm) */
	else if (delay > 0) {
		its.it_value.tv_sec = delay / 1000;
		its.it_value.tv_nsec = (delay % 1000) * 1000000;
	}
	if (timerfd_settime(s->tfd, 0, &its, NULL) < 0)
		log_rl(LOG_WARN, "slirp: timerfd_settime: %s", strerror(errno));
}

/* After any call into slirp: ask it what to watch, sync the epoll set, arm the timer. */
static void slirp_refill(struct net_slirp *s)
{
	uint32_t timeout = UINT32_MAX;
	unsigned gen = ++s->gen;

	s->npolls = 0;
	sl.pollfds_fill(s->slirp, &timeout, cb_add_poll, s);
	for (unsigned i = 0; i < s->npolls; i++) {
		struct sfd *f = sfd_get(s, s->polls[i].fd);
		if (!f) {
			log_rl(LOG_WARN, "slirp: out of memory for the fd set");
			continue;
		}
		if (f->gen != gen)
			f->events = 0;
		f->gen = gen;
		f->events |= to_epoll(s->polls[i].events);
	}
	for (unsigned i = 0; i < s->nfds;) {
		struct sfd *f = &s->fds[i];
		if (f->gen == gen) {
			sfd_apply(s, f, f->events);
			i++;
			continue;
		}
		epoll_ctl(s->epfd, EPOLL_CTL_DEL, f->fd, NULL); /* may be closed already: fine */
		s->fds[i] = s->fds[--s->nfds];
	}
	arm_timer(s, timeout);
}

/* Fire the slirp timers that are due. A timer callback may free or re-arm timers (its own or
 * others): start over after each one. */
static void run_timers(struct net_slirp *s)
{
	int64_t now_ms = now_ns() / 1000000;

	for (unsigned guard = 0; guard < 64; guard++) {
		struct stimer *t = s->timers;
		while (t && !(t->armed && t->expire_ms <= now_ms))
			t = t->next;
		if (!t)
			return;
		t->armed = false;
		if (t->cb)
			t->cb(t->cb_opaque);
		else
			sl.handle_timer(s->slirp, t->id, t->cb_opaque);
	}
}

void net_slirp_poll(struct net_backend *be)
{
	struct net_slirp *s = to_slirp(be);
	struct epoll_event evs[SLIRP_EVENTS_MAX];
	bool have;
	int n;

	pthread_mutex_lock(&s->lock);
	n = epoll_wait(s->epfd, evs, SLIRP_EVENTS_MAX, 0);
	for (int i = 0; i < n; i++) {
		if (evs[i].data.fd == s->tfd) {
			uint64_t v;
			ssize_t r = read(s->tfd, &v, sizeof(v));
			(void)r;
			continue;
		}
		for (unsigned j = 0; j < s->npolls; j++)
			if (s->polls[j].fd == evs[i].data.fd)
				s->polls[j].revents = from_epoll(evs[i].events);
	}
	run_timers(s);
	sl.pollfds_poll(s->slirp, n < 0, cb_get_revents, s);
	slirp_refill(s);
	have = s->head != NULL;
	pthread_mutex_unlock(&s->lock);
	if (have && be->rx_ready)
		be->rx_ready(be->rx_ctx);
}

static void slirp_event(void *ctx, int fd, uint32_t events)
{
	net_slirp_poll(ctx);
}

int net_slirp_fd(const struct net_backend *be)
{
	return ((const struct net_slirp *)be)->epfd;
}

/* ---- the back-end ops ---- */

static int slirp_send(struct net_backend *be, const struct net_vhdr *hdr, const struct iovec *iov,
		      unsigned n)
{
	struct net_slirp *s = to_slirp(be);
	size_t len = 0;

	if (hdr && (hdr->flags || hdr->gso_type))
		return -EINVAL; /* no offloads were offered */
	pthread_mutex_lock(&s->lock);
	for (unsigned i = 0; i < n; i++) {
		if (iov[i].iov_len > NET_MAX_FRAME - len) {
			pthread_mutex_unlock(&s->lock);
			return -EMSGSIZE;
		}
		memcpy(s->txbuf + len, iov[i].iov_base, iov[i].iov_len);
		len += iov[i].iov_len;
	}
	sl.input(s->slirp, s->txbuf, (int)len);
	slirp_refill(s);
	pthread_mutex_unlock(&s->lock);
	return 0;
}

static ssize_t slirp_recv(struct net_backend *be, struct net_vhdr *hdr, void *buf, size_t cap)
{
	struct net_slirp *s = to_slirp(be);
	struct pkt *p;
	ssize_t len;

	pthread_mutex_lock(&s->lock);
	p = s->head;
	if (!p) {
		pthread_mutex_unlock(&s->lock);
		return -EAGAIN;
	}
	s->head = p->next;
	if (!s->head)
		s->tail = NULL;
	s->qlen--;
	s->qbytes -= p->len;
	pthread_mutex_unlock(&s->lock);
	memset(hdr, 0, sizeof(*hdr)); /* slirp's frames are complete */
	len = (ssize_t)(p->len < cap ? p->len : cap);
	memcpy(buf, p->data, (size_t)len);
	free(p);
	return len;
}

static void slirp_destroy(struct net_backend *be)
{
	struct net_slirp *s = to_slirp(be);

	if (s->el)
		evloop_del(s->el, s->epfd); /* not under the lock: the handler takes it */
	pthread_mutex_lock(&s->lock);
	if (s->slirp)
		sl.cleanup(s->slirp);
	while (s->timers)
		cb_timer_free(s->timers, s);
	while (s->head) {
		struct pkt *p = s->head;
		s->head = p->next;
		free(p);
	}
	pthread_mutex_unlock(&s->lock);
	if (s->tfd >= 0)
		close(s->tfd);
	if (s->epfd >= 0)
		close(s->epfd);
	free(s->fds);
	free(s->polls);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static const struct net_backend_ops slirp_ops = {
    .send = slirp_send,
    .recv = slirp_recv,
    .destroy = slirp_destroy,
};

static void __attribute__((format(printf, 3, 4)))
slirp_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
}

static struct in_addr ip4(uint32_t host_order)
{
	return (struct in_addr){htonl(host_order)};
}

static struct in6_addr ip6(uint8_t last)
{
	struct in6_addr a = {{{0xfe, 0xc0}}}; /* fec0::/64, QEMU's site-local prefix */

	a.s6_addr[15] = last;
	return a;
}

int net_slirp_create(const struct net_opts *o, struct evloop *el, struct net_backend **out,
		     char *err, size_t errlen)
{
	SlirpConfig cfg = {
	    .version = 4,
	    .in_enabled = true,
	    .vnetwork = ip4(NET_SLIRP_NETWORK),
	    .vnetmask = ip4(NET_SLIRP_NETMASK),
	    .vhost = ip4(NET_SLIRP_HOST_ADDR),
	    .in6_enabled = true,
	    .vprefix_addr6 = ip6(0),
	    .vprefix_len = 64,
	    .vhost6 = ip6(2),
	    .vdhcp_start = ip4(NET_SLIRP_GUEST_ADDR),
	    .vnameserver = ip4(NET_SLIRP_DNS_ADDR),
	    .vnameserver6 = ip6(3),
	};
	struct epoll_event ev = {.events = EPOLLIN};
	struct net_slirp *s;
	int ret;

	*out = NULL;
	ret = sl_open();
	if (ret) {
		slirp_err(err, errlen, "--net user needs %s: %s", NET_SLIRP_SONAME, sl_error);
		return ret;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		slirp_err(err, errlen, "out of memory");
		return -ENOMEM;
	}
	s->be.ops = &slirp_ops;
	s->epfd = s->tfd = -1;
	pthread_mutex_init(&s->lock, NULL);
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	s->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	ev.data.fd = s->tfd;
	if (s->epfd < 0 || s->tfd < 0 || epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->tfd, &ev) < 0) {
		ret = -errno;
		slirp_err(err, errlen, "cannot create the slirp poll set: %s", strerror(-ret));
		goto fail;
	}
	pthread_mutex_lock(&s->lock);
	s->slirp = sl.new_(&cfg, &slirp_cbs, s);
	pthread_mutex_unlock(&s->lock);
	if (!s->slirp) {
		ret = -ENOMEM;
		slirp_err(err, errlen, "cannot create the slirp stack");
		goto fail;
	}
	for (unsigned i = 0; i < o->nr_hostfwd; i++) {
		const struct net_hostfwd *f = &o->hostfwd[i];
		char ha[INET_ADDRSTRLEN], ga[INET_ADDRSTRLEN];
		pthread_mutex_lock(&s->lock);
		ret = sl.add_hostfwd(s->slirp, f->udp, f->host_addr, f->host_port, f->guest_addr,
				     f->guest_port);
		pthread_mutex_unlock(&s->lock);
		if (ret < 0) {
			inet_ntop(AF_INET, &f->host_addr, ha, sizeof(ha));
			inet_ntop(AF_INET, &f->guest_addr, ga, sizeof(ga));
			slirp_err(err, errlen,
				  "hostfwd %s %s:%u-%s:%u: cannot listen (port in use?)",
				  f->udp ? "udp" : "tcp", ha, f->host_port, ga, f->guest_port);
			ret = -EADDRINUSE;
			goto fail;
		}
	}
	pthread_mutex_lock(&s->lock);
	slirp_refill(s);
	pthread_mutex_unlock(&s->lock);
	snprintf(s->be.desc, sizeof(s->be.desc), "user 10.0.2.0/24 (libslirp %s), %u hostfwd",
		 sl.version_string(), o->nr_hostfwd);
	if (el) {
		ret = evloop_add(el, s->epfd, EPOLLIN, slirp_event, s);
		if (ret) {
			slirp_err(err, errlen, "cannot watch the slirp poll set: %s",
				  strerror(-ret));
			goto fail;
		}
		s->el = el;
	}
	*out = &s->be;
	return 0;
fail:
	slirp_destroy(&s->be);
	return ret;
}
