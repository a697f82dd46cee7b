/* Unit tests for the network back-end layer: the --net option parser (accepted forms, defaults,
 * every rejected form with its reason), and the libslirp back-end driven without a guest: an ARP
 * request for the gateway gets slirp's reply, and a connection to a host forward makes slirp
 * look for the guest (an ARP request for 10.0.2.15), through the private epoll set and
 * net_slirp_poll. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "backend/net.h"
#include "backend/net_slirp.h"

static void test_parse_user(void **state)
{
	struct net_opts o;
	char err[256];

	(void)state;
	assert_int_equal(net_parse_opts("user", &o, err, sizeof(err)), 0);
	assert_int_equal(o.kind, NET_USER);
	assert_false(o.has_mac);
	assert_int_equal(o.nr_hostfwd, 0);

	assert_int_equal(net_parse_opts("user,hostfwd=tcp::2222-:22,hostfwd=udp:0.0.0.0:5353-"
					"10.0.2.20:53,hostfwd=::8080-:80,mac=52:54:00:AB:cd:01",
					&o, err, sizeof(err)),
			 0);
	assert_int_equal(o.nr_hostfwd, 3);
	assert_false(o.hostfwd[0].udp);
	assert_int_equal(ntohl(o.hostfwd[0].host_addr.s_addr), INADDR_LOOPBACK);
	assert_int_equal(o.hostfwd[0].host_port, 2222);
	assert_int_equal(ntohl(o.hostfwd[0].guest_addr.s_addr), NET_SLIRP_GUEST_ADDR);
	assert_int_equal(o.hostfwd[0].guest_port, 22);
	assert_true(o.hostfwd[1].udp);
	assert_int_equal(o.hostfwd[1].host_addr.s_addr, 0);
	assert_int_equal(ntohl(o.hostfwd[1].guest_addr.s_addr), 0x0a000214);
	assert_int_equal(o.hostfwd[1].guest_port, 53);
	assert_false(o.hostfwd[2].udp);
	assert_int_equal(o.hostfwd[2].host_port, 8080);
	assert_true(o.has_mac);
	const uint8_t mac[6] = {0x52, 0x54, 0x00, 0xab, 0xcd, 0x01};
	assert_memory_equal(o.mac, mac, 6);
}

static void test_parse_tap(void **state)
{
	struct net_opts o;
	char err[256];

	(void)state;
	assert_int_equal(net_parse_opts("tap=tap0", &o, err, sizeof(err)), 0);
	assert_int_equal(o.kind, NET_TAP);
	assert_string_equal(o.ifname, "tap0");
	assert_int_equal(net_parse_opts("tap", &o, err, sizeof(err)), 0);
	assert_string_equal(o.ifname, "");
	assert_int_equal(
	    net_parse_opts("tap=vm-net_15,mac=02:00:00:00:00:01", &o, err, sizeof(err)), 0);
	assert_string_equal(o.ifname, "vm-net_15");
	assert_true(o.has_mac);
}

static void test_parse_rejects(void **state)
{
	static const struct {
		const char *s, *why;
	} bad[] = {
	    {"", "expected user"},
	    {"socket", "expected user or tap=IFNAME first"},
	    {"user=x", "expected user or tap=IFNAME first"},
	    {"mac=52:54:00:12:34:56", "expected user or tap"},
	    {"user,mac=52:54:00:12:34", "mac '52:54:00:12:34'"},
	    {"user,mac=01:54:00:12:34:56", "unicast"},
	    {"user,mac=52-54-00-12-34-56", "six hex pairs"},
	    {"user,mac=52:54:00:12:34:56,mac=52:54:00:12:34:57", "mac given twice"},
	    {"user,hostfwd=tcp::0-:22", "hostfwd 'tcp::0-:22'"},
	    {"user,hostfwd=tcp::65536-:22", "ports 1-65535"},
	    {"user,hostfwd=sctp::22-:22", "[tcp|udp]"},
	    {"user,hostfwd=tcp::22:22", "hostfwd"},
	    {"user,hostfwd=:8080-:80", "hostfwd"},
	    {"user,hostfwd=tcp::22-:x", "hostfwd"},
	    {"user,hostfwd=tcp:1.2.3:22-:22", "hostfwd"},
	    {"user,hostfwd=tcp::22-192.168.1.1:22", "guest in 10.0.2.0/24"},
	    {"user,foo=1", "unknown user option 'foo=1' (accepted: hostfwd=, mac=)"},
	    {"tap=tap0,hostfwd=tcp::1-:1", "unknown tap option"},
	    {"tap=averyveryverylongname", "longer than 15"},
	    {"tap=a/b", "bad tap interface name"},
	    {"user,", "trailing ','"},
	};
	struct net_opts o;
	char err[256];

	(void)state;
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		assert_int_equal(net_parse_opts(bad[i].s, &o, err, sizeof(err)), -EINVAL);
		if (!strstr(err, bad[i].why))
			fail_msg("'%s': reason '%s' lacks '%s'", bad[i].s, err, bad[i].why);
		assert_null(strchr(err, '\n'));
	}
	/* At most NET_MAX_HOSTFWD rules. */
	char many[1024] = "user";
	for (int i = 0; i <= NET_MAX_HOSTFWD; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many), ",hostfwd=tcp::%d-:1",
			 1000 + i);
	assert_int_equal(net_parse_opts(many, &o, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "at most"));
}

/* ---- the slirp back-end ---- */

static const uint8_t guest_mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};

struct rx_count {
	unsigned calls;
};

static void count_rx(void *ctx)
{
	((struct rx_count *)ctx)->calls++;
}

/* An ARP request (or reply) frame: sender mac/ip, target ip. */
static size_t arp_frame(uint8_t *f, uint16_t op, const uint8_t *smac, uint32_t sip, uint32_t tip)
{
	static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	uint32_t s = htonl(sip), t = htonl(tip);

	memset(f, 0, 60);
	memcpy(f, bcast, 6);
	memcpy(f + 6, smac, 6);
	f[12] = 0x08, f[13] = 0x06;		    /* ARP */
	f[14] = 0, f[15] = 1, f[16] = 8, f[17] = 0; /* Ethernet, IPv4 */
	f[18] = 6, f[19] = 4, f[20] = 0, f[21] = (uint8_t)op;
	memcpy(f + 22, smac, 6);
	memcpy(f + 28, &s, 4);
	memcpy(f + 38, &t, 4);
	return 60;
}

/* Poll the back-end until recv gives a frame of EtherType ARP with opcode op, or give up. */
static ssize_t wait_arp(struct net_backend *be, uint8_t *buf, unsigned op)
{
	struct net_vhdr h;

	for (int i = 0; i < 200; i++) {
		ssize_t n = be->ops->recv(be, &h, buf, NET_MAX_FRAME);
		if (n >= 42 && buf[12] == 0x08 && buf[13] == 0x06 && buf[21] == op)
			return n;
		if (n == -EAGAIN) {
			struct pollfd p = {net_slirp_fd(be), POLLIN, 0};
			(void)poll(&p, 1, 20);
			net_slirp_poll(be);
		}
	}
	return -ETIMEDOUT;
}

static void test_slirp_arp(void **state)
{
	static uint8_t buf[NET_MAX_FRAME];
	struct net_opts o;
	struct net_backend *be;
	struct rx_count rc = {0};
	char err[256];
	uint8_t f[60];
	struct net_vhdr h = {.flags = 0xff};

	(void)state;
	assert_int_equal(net_parse_opts("user", &o, err, sizeof(err)), 0);
	assert_int_equal(net_slirp_create(&o, NULL, &be, err, sizeof(err)), 0);
	assert_non_null(strstr(be->desc, "user 10.0.2.0/24"));
	net_backend_set_rx_ready(be, count_rx, &rc);
	assert_int_equal(be->ops->recv(be, &h, buf, NET_MAX_FRAME), -EAGAIN);

	/* Who has 10.0.2.2? Tell 10.0.2.15: slirp answers during send. */
	struct iovec iov = {f,
			    arp_frame(f, 1, guest_mac, NET_SLIRP_GUEST_ADDR, NET_SLIRP_HOST_ADDR)};
	struct net_vhdr csum = {.flags = NET_HDR_F_NEEDS_CSUM};
	assert_int_equal(be->ops->send(be, &csum, &iov, 1), -EINVAL); /* no offloads */
	assert_int_equal(be->offloads, 0);
	assert_null(be->ops->set_offloads);
	assert_int_equal(be->ops->send(be, NULL, &iov, 1), 0);
	ssize_t n = wait_arp(be, buf, 2);
	assert_true(n >= 42);
	assert_memory_equal(buf, guest_mac, 6); /* to the guest */
	uint32_t sip;
	memcpy(&sip, buf + 28, 4);
	assert_int_equal(ntohl(sip), NET_SLIRP_HOST_ADDR);
	assert_memory_equal(buf + 32, guest_mac, 6);
	h.flags = 0xff;
	assert_int_equal(be->ops->recv(be, &h, buf, NET_MAX_FRAME), -EAGAIN);
	assert_int_equal(be->ops->send(be, NULL, &iov, 1), 0);
	assert_true(be->ops->recv(be, &h, buf, NET_MAX_FRAME) >= 42);
	assert_int_equal(h.flags, 0); /* complete frames, zero headers */
	assert_int_equal(h.gso_type, 0);
	net_backend_destroy(be);
}

static void test_slirp_hostfwd(void **state)
{
	static uint8_t buf[NET_MAX_FRAME];
	struct net_opts o;
	struct net_backend *be, *be2;
	struct rx_count rc = {0};
	char spec[128], err[256];
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t alen = sizeof(a);
	int probe, port, c;

	(void)state;
	/* A free port: bind to 0, read it back, close. */
	probe = socket(AF_INET, SOCK_STREAM, 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(probe, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(probe, (struct sockaddr *)&a, &alen), 0);
	port = ntohs(a.sin_port);
	close(probe);

	snprintf(spec, sizeof(spec), "user,hostfwd=tcp::%d-:8080", port);
	assert_int_equal(net_parse_opts(spec, &o, err, sizeof(err)), 0);
	assert_int_equal(net_slirp_create(&o, NULL, &be, err, sizeof(err)), 0);
	net_backend_set_rx_ready(be, count_rx, &rc);
	/* The same port again cannot be forwarded: a one-line reason. */
	assert_int_equal(net_slirp_create(&o, NULL, &be2, err, sizeof(err)), -EADDRINUSE);
	assert_non_null(strstr(err, "cannot listen"));
	assert_null(be2);

	/* A host connection: slirp accepts it and looks for the guest, which it does not know. */
	c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	a.sin_port = htons((uint16_t)port);
	int r = connect(c, (struct sockaddr *)&a, sizeof(a));
	assert_true(r == 0 || errno == EINPROGRESS);
	ssize_t n = wait_arp(be, buf, 1);
	assert_true(n >= 42);
	uint32_t tip;
	memcpy(&tip, buf + 38, 4);
	assert_int_equal(ntohl(tip), NET_SLIRP_GUEST_ADDR);
	assert_true(rc.calls >= 1); /* net_slirp_poll announced the frame */
	close(c);
	net_backend_destroy(be);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_user),	  cmocka_unit_test(test_parse_tap),
	    cmocka_unit_test(test_parse_rejects), cmocka_unit_test(test_slirp_arp),
	    cmocka_unit_test(test_slirp_hostfwd),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
