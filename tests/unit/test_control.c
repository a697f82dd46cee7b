/* Unit tests for the control channel (core/control.c) on a running event loop: one reply line
 * per command line (also several lines in one write, and a line split over writes, "\r\n"),
 * over-long lines refused and the client closed, a stale socket file replaced, a regular file at
 * the path refused, the path removed at the end; and the machine's command set
 * (machine_control_cmd) without a balloon. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/control.h"
#include "core/machine.h"
#include "core/vm.h"

static void echo_cmd(void *ctx, const char *line, char *reply, size_t cap)
{
	(*(int *)ctx)++;
	snprintf(reply, cap, "got[%s]", line);
}

static int dial(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct timeval tv = {5, 0};
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/* Read until n newlines arrived (or end of file); returns the bytes, NUL-terminated. */
static char *read_lines(int fd, int n, char *buf, size_t cap)
{
	size_t len = 0;
	int seen = 0;

	while (seen < n && len + 1 < cap) {
		ssize_t r = read(fd, buf + len, 1);
		if (r <= 0)
			break;
		seen += buf[len] == '\n';
		len++;
	}
	buf[len] = 0;
	return buf;
}

static void test_lines(void **state)
{
	char dir[] = "/tmp/vmon-ctl-XXXXXX", path[64], buf[512];
	struct evloop el;
	struct control *c;
	int calls = 0;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/c.sock", dir);
	assert_int_equal(evloop_init(&el), 0);
	assert_int_equal(control_create(path, &el, echo_cmd, &calls, &c, buf, sizeof(buf)), 0);
	assert_int_equal(evloop_start(&el), 0);

	int fd = dial(path);
	assert_int_equal(write(fd, "one\ntwo\r\nth", 11), 11);
	usleep(20000);
	assert_int_equal(write(fd, "ree\n", 4), 4);
	assert_string_equal(read_lines(fd, 3, buf, sizeof(buf)),
			    "got[one]\ngot[two]\ngot[three]\n");
	assert_int_equal(write(fd, "\n", 1), 1); /* an empty line is a command too */
	assert_string_equal(read_lines(fd, 1, buf, sizeof(buf)), "got[]\n");

	/* A second client at the same time. */
	int fd2 = dial(path);
	assert_int_equal(write(fd2, "x\n", 2), 2);
	assert_string_equal(read_lines(fd2, 1, buf, sizeof(buf)), "got[x]\n");

	/* A line longer than the limit: ERR and the client is closed. */
	char big[CONTROL_LINE_MAX + 8];
	memset(big, 'a', sizeof(big));
	assert_int_equal(write(fd, big, sizeof(big)), (ssize_t)sizeof(big));
	assert_string_equal(read_lines(fd, 2, buf, sizeof(buf)), "ERR line too long\n");
	close(fd);
	close(fd2);
	assert_int_equal(calls, 5);

	evloop_stop(&el);
	control_destroy(c);
	struct stat st;
	assert_int_equal(stat(path, &st), -1); /* removed */

	/* A stale socket is replaced; a regular file is refused and left alone. */
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(s);
	assert_int_equal(control_create(path, &el, echo_cmd, &calls, &c, buf, sizeof(buf)), 0);
	control_destroy(c);
	int f = open(path, O_CREAT | O_WRONLY, 0600);
	close(f);
	assert_int_equal(control_create(path, &el, echo_cmd, &calls, &c, buf, sizeof(buf)),
			 -EEXIST);
	assert_non_null(strstr(buf, "not a socket"));
	assert_int_equal(stat(path, &st), 0);
	unlink(path);
	rmdir(dir);
	evloop_destroy(&el);
}

static void test_machine_commands(void **state)
{
	struct vm vm;
	char reply[512];

	memset(&vm, 0, sizeof(vm)); /* no machine, so no balloon */
	machine_control_cmd(&vm, "balloon 128M", reply, sizeof(reply));
	assert_non_null(strstr(reply, "ERR no balloon"));
	machine_control_cmd(&vm, "balloon-stats", reply, sizeof(reply));
	assert_non_null(strstr(reply, "ERR no balloon"));
	machine_control_cmd(&vm, "balloon 12Q", reply, sizeof(reply));
	assert_non_null(strstr(reply, "ERR balloon"));
	machine_control_cmd(&vm, "balloon 1M,stats=3", reply, sizeof(reply));
	assert_non_null(strstr(reply, "ERR balloon"));
	machine_control_cmd(&vm, "reboot", reply, sizeof(reply));
	assert_non_null(strstr(reply, "ERR unknown command"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_lines),
	    cmocka_unit_test(test_machine_commands),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
