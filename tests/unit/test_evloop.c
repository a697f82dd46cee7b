#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdatomic.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/evloop.h"

struct counter {
	atomic_int hits;
	struct evloop *el;
	int del_self;
};

static void on_event(void *ctx, int fd, uint32_t events)
{
	struct counter *c = ctx;
	uint64_t v;
	if (read(fd, &v, sizeof(v)) == sizeof(v))
		atomic_fetch_add(&c->hits, (int)v);
	if (c->del_self)
		evloop_del(c->el, fd);
}

static void wait_hits(struct counter *c, int want)
{
	for (int i = 0; i < 2000 && atomic_load(&c->hits) < want; i++) {
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
}

static void test_dispatch_and_del(void **state)
{
	struct evloop el;
	struct counter a = {0}, b = {0};
	assert_int_equal(evloop_init(&el), 0);
	int fa = eventfd(0, EFD_NONBLOCK), fb = eventfd(0, EFD_NONBLOCK);
	assert_int_equal(evloop_add(&el, fa, EPOLLIN, on_event, &a), 0);
	assert_int_equal(evloop_add(&el, fa, EPOLLIN, on_event, &a), -EEXIST);
	assert_int_equal(evloop_add(&el, fb, EPOLLIN, on_event, &b), 0);
	assert_int_equal(evloop_start(&el), 0);
	uint64_t three = 3, five = 5;
	assert_int_equal(write(fa, &three, 8), 8);
	assert_int_equal(write(fb, &five, 8), 8);
	wait_hits(&a, 3);
	wait_hits(&b, 5);
	assert_int_equal(atomic_load(&a.hits), 3);
	assert_int_equal(atomic_load(&b.hits), 5);
	/* After del returns, the handler never runs again. */
	assert_int_equal(evloop_del(&el, fa), 0);
	assert_int_equal(evloop_del(&el, fa), -ENOENT);
	assert_int_equal(write(fa, &three, 8), 8);
	assert_int_equal(write(fb, &five, 8), 8);
	wait_hits(&b, 10);
	assert_int_equal(atomic_load(&b.hits), 10);
	assert_int_equal(atomic_load(&a.hits), 3);
	evloop_destroy(&el);
	close(fa);
	close(fb);
}

static void test_del_from_handler(void **state)
{
	struct evloop el;
	struct counter c = {.el = &el, .del_self = 1};
	assert_int_equal(evloop_init(&el), 0);
	int fd = eventfd(0, EFD_NONBLOCK);
	assert_int_equal(evloop_add(&el, fd, EPOLLIN, on_event, &c), 0);
	assert_int_equal(evloop_start(&el), 0);
	uint64_t one = 1;
	assert_int_equal(write(fd, &one, 8), 8);
	wait_hits(&c, 1);
	assert_int_equal(write(fd, &one, 8), 8);
	struct timespec ts = {0, 20000000};
	nanosleep(&ts, NULL);
	assert_int_equal(atomic_load(&c.hits), 1);
	evloop_stop(&el);
	evloop_destroy(&el);
	close(fd);
}

/* A descriptor ready before the loop starts: the first round can run its handler before
 * evloop_start has returned, and a del from that handler must not wait for its own round. */
static void test_del_from_handler_at_start(void **state)
{
	for (int i = 0; i < 50; i++) {
		struct evloop el;
		struct counter c = {.el = &el, .del_self = 1};
		assert_int_equal(evloop_init(&el), 0);
		int fd = eventfd(0, EFD_NONBLOCK);
		uint64_t one = 1;
		assert_int_equal(write(fd, &one, 8), 8);
		assert_int_equal(evloop_add(&el, fd, EPOLLIN, on_event, &c), 0);
		assert_int_equal(evloop_start(&el), 0);
		wait_hits(&c, 1);
		assert_int_equal(atomic_load(&c.hits), 1);
		evloop_stop(&el);
		evloop_destroy(&el);
		close(fd);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_dispatch_and_del),
	    cmocka_unit_test(test_del_from_handler),
	    cmocka_unit_test(test_del_from_handler_at_start),
	};
	return cmocka_run_group_tests_name("evloop", tests, NULL, NULL);
}
