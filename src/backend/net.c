/* The --net option and back-end creation. See net.h. */
#include "backend/net.h"
#include "backend/net_slirp.h"
#include "backend/net_tap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int __attribute__((format(printf, 3, 4)))
net_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* "52:54:00:12:34:56": six hex pairs, unicast. */
static int parse_mac(const char *s, size_t len, uint8_t mac[6])
{
	if (len != 17)
		return -1;
	for (unsigned i = 0; i < 6; i++) {
		int hi = hexval(s[3 * i]), lo = hexval(s[3 * i + 1]);
		if (hi < 0 || lo < 0 || (i < 5 && s[3 * i + 2] != ':'))
			return -1;
		mac[i] = (uint8_t)(hi << 4 | lo);
	}
	return mac[0] & 1 ? -1 : 0; /* the group bit: not a station address */
}

/* A decimal port 1..65535 in [s, e). */
static int parse_port(const char *s, const char *e, uint16_t *port)
{
	unsigned long v = 0;

	if (s == e || e - s > 5)
		return -1;
	for (const char *p = s; p < e; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (unsigned long)(*p - '0');
	}
	if (v == 0 || v > 65535)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

/* An IPv4 address in [s, e), or def when empty. */
static int parse_addr(const char *s, const char *e, struct in_addr def, struct in_addr *a)
{
	char buf[INET_ADDRSTRLEN];

	if (s == e) {
		*a = def;
		return 0;
	}
	if ((size_t)(e - s) >= sizeof(buf))
		return -1;
	memcpy(buf, s, (size_t)(e - s));
	buf[e - s] = 0;
	return inet_pton(AF_INET, buf, a) == 1 ? 0 : -1;
}

/* [tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT in [s, s+len). */
static int parse_hostfwd(const char *s, size_t len, struct net_hostfwd *f)
{
	const char *end = s + len, *c1, *c2, *dash, *c3;
	struct in_addr loop = {htonl(INADDR_LOOPBACK)};
	struct in_addr guest = {htonl(NET_SLIRP_GUEST_ADDR)};

	c1 = memchr(s, ':', len);
	if (!c1)
		return -1;
	if (c1 - s == 3 && !memcmp(s, "udp", 3))
		f->udp = true;
	else if (c1 == s || (c1 - s == 3 && !memcmp(s, "tcp", 3)))
		f->udp = false;
	else
		return -1;
	c2 = memchr(c1 + 1, ':', (size_t)(end - c1 - 1));
	if (!c2)
		return -1;
	dash = memchr(c2 + 1, '-', (size_t)(end - c2 - 1));
	if (!dash)
		return -1;
	c3 = memchr(dash + 1, ':', (size_t)(end - dash - 1));
	if (!c3)
		return -1;
	if (parse_addr(c1 + 1, c2, loop, &f->host_addr) ||
	    parse_port(c2 + 1, dash, &f->host_port) ||
	    parse_addr(dash + 1, c3, guest, &f->guest_addr) ||
	    parse_port(c3 + 1, end, &f->guest_port))
		return -1;
	if ((ntohl(f->guest_addr.s_addr) & NET_SLIRP_NETMASK) != NET_SLIRP_NETWORK)
		return -1;
	return 0;
}

int net_parse_opts(const char *s, struct net_opts *o, char *err, size_t errlen)
{
	const char *p = s;
	bool first = true;

	memset(o, 0, sizeof(*o));
	if (!s || !*s)
		return net_fail(err, errlen, "expected user[,hostfwd=...][,mac=MAC] or tap=IFNAME");
	while (*p) {
		const char *comma = strchr(p, ','), *eq;
		size_t len = comma ? (size_t)(comma - p) : strlen(p), klen, vlen;
		const char *val;

		eq = memchr(p, '=', len);
		klen = eq ? (size_t)(eq - p) : len;
		val = eq ? eq + 1 : p + len;
		vlen = eq ? len - klen - 1 : 0;
		if (first) {
			if (klen == 4 && !memcmp(p, "user", 4) && !eq) {
				o->kind = NET_USER;
			} else if (klen == 3 && !memcmp(p, "tap", 3)) {
				o->kind = NET_TAP;
				if (vlen >= NET_IFNAMSIZ)
					return net_fail(
					    err, errlen,
					    "tap interface name '%.*s' is longer than %d "
					    "characters",
					    (int)vlen, val, NET_IFNAMSIZ - 1);
				memcpy(o->ifname, val, vlen);
				if (strchr(o->ifname, '/') || !strcmp(o->ifname, ".") ||
				    !strcmp(o->ifname, ".."))
					return net_fail(err, errlen, "bad tap interface name '%s'",
							o->ifname);
			} else {
				return net_fail(err, errlen,
						"'%.*s': expected user or tap=IFNAME first",
						(int)len, p);
			}
			first = false;
		} else if (klen == 3 && !memcmp(p, "mac", 3) && eq) {
			if (o->has_mac)
				return net_fail(err, errlen, "mac given twice");
			if (parse_mac(val, vlen, o->mac))
				return net_fail(err, errlen,
						"mac '%.*s': expected six hex pairs like "
						"52:54:00:12:34:56, unicast",
						(int)vlen, val);
			o->has_mac = true;
		} else if (klen == 7 && !memcmp(p, "hostfwd", 7) && eq && o->kind == NET_USER) {
			if (o->nr_hostfwd == NET_MAX_HOSTFWD)
				return net_fail(err, errlen, "at most %d hostfwd rules",
						NET_MAX_HOSTFWD);
			if (parse_hostfwd(val, vlen, &o->hostfwd[o->nr_hostfwd]))
				return net_fail(
				    err, errlen,
				    "hostfwd '%.*s': expected "
				    "[tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT "
				    "(ports 1-65535, guest in 10.0.2.0/24)",
				    (int)vlen, val);
			o->nr_hostfwd++;
		} else {
			return net_fail(err, errlen, "unknown %s option '%.*s' (accepted: %s)",
					o->kind == NET_USER ? "user" : "tap", (int)len, p,
					o->kind == NET_USER ? "hostfwd=, mac=" : "mac=");
		}
		p += len;
		if (*p == ',' && !*++p)
			return net_fail(err, errlen, "trailing ','");
	}
	return 0;
}

int net_backend_create(const struct net_opts *o, struct evloop *el, struct net_backend **out,
		       char *err, size_t errlen)
{
	*out = NULL;
	switch (o->kind) {
	case NET_USER:
		return net_slirp_create(o, el, out, err, errlen);
	case NET_TAP:
		return net_tap_open(o->ifname, el, out, err, errlen);
	}
	return net_fail(err, errlen, "unknown back-end");
}
