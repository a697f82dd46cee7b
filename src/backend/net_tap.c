/* TAP back-end. See net_tap.h. */
#include "backend/net_tap.h"
#include "core/log.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define TAP_HDR_LEN 12 /* struct virtio_net_hdr_v1 */
#define TAP_IOV_MAX 64 /* longer frames are copied into one buffer first */

struct net_tap {
	struct net_backend be; /* first: the ops recover the tap from it */
	int fd;
	struct evloop *el; /* the fd is watched there, or NULL */
	char ifname[IFNAMSIZ];
	uint8_t *linear; /* NET_MAX_FRAME bytes, for frames of more than TAP_IOV_MAX pieces */
};

static struct net_tap *to_tap(struct net_backend *be)
{
	return (struct net_tap *)be;
}

static int __attribute__((format(printf, 3, 4)))
tap_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return 0;
}

/* struct virtio_net_hdr_v1, little-endian, num_buffers 0 (the tap has TUNSETVNETHDRSZ 12 and
 * the kernel's default little-endian vnet headers). */
static void hdr_encode(uint8_t *p, const struct net_vhdr *h)
{
	uint16_t v[5] = {htole16(h->hdr_len), htole16(h->gso_size), htole16(h->csum_start),
			 htole16(h->csum_offset), 0};

	p[0] = h->flags;
	p[1] = h->gso_type;
	memcpy(p + 2, v, sizeof(v));
}

static void hdr_decode(const uint8_t *p, struct net_vhdr *h)
{
	uint16_t v[4];

	memcpy(v, p + 2, sizeof(v));
	h->flags = p[0];
	h->gso_type = p[1];
	h->hdr_len = le16toh(v[0]);
	h->gso_size = le16toh(v[1]);
	h->csum_start = le16toh(v[2]);
	h->csum_offset = le16toh(v[3]);
}

static int tap_send(struct net_backend *be, const struct net_vhdr *hdr, const struct iovec *iov,
		    unsigned n)
{
	struct net_tap *t = to_tap(be);
	uint8_t h[TAP_HDR_LEN] = {0};
	struct iovec v[TAP_IOV_MAX + 1];
	unsigned cnt;
	ssize_t w;

	if (hdr)
		hdr_encode(h, hdr);
	v[0] = (struct iovec){h, TAP_HDR_LEN};
	if (n <= TAP_IOV_MAX) {
		memcpy(v + 1, iov, n * sizeof(*iov));
		cnt = n + 1;
	} else {
		size_t len = 0;
		for (unsigned i = 0; i < n; i++) {
			if (iov[i].iov_len > NET_MAX_FRAME - len)
				return -EMSGSIZE;
			memcpy(t->linear + len, iov[i].iov_base, iov[i].iov_len);
			len += iov[i].iov_len;
		}
		v[1] = (struct iovec){t->linear, len};
		cnt = 2;
	}
	do
		w = writev(t->fd, v, (int)cnt);
	while (w < 0 && errno == EINTR);
	return w < 0 ? -errno : 0;
}

static ssize_t tap_recv(struct net_backend *be, struct net_vhdr *hdr, void *buf, size_t cap)
{
	struct net_tap *t = to_tap(be);
	uint8_t h[TAP_HDR_LEN];
	struct iovec v[2] = {{h, sizeof(h)}, {buf, cap}};

	for (;;) {
		ssize_t r = readv(t->fd, v, 2);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return errno == EWOULDBLOCK ? -EAGAIN : -errno;
		if (r < TAP_HDR_LEN + (ssize_t)NET_MIN_FRAME) {
			be->dropped++;
			continue;
		}
		hdr_decode(h, hdr);
		return r - TAP_HDR_LEN;
	}
}

static unsigned tun_flags(unsigned offloads)
{
	return (offloads & NET_OFFLOAD_CSUM ? TUN_F_CSUM : 0) |
	       (offloads & NET_OFFLOAD_TSO4 ? TUN_F_TSO4 : 0) |
	       (offloads & NET_OFFLOAD_TSO6 ? TUN_F_TSO6 : 0);
}

static int tap_set_offloads(struct net_backend *be, unsigned flags)
{
	struct net_tap *t = to_tap(be);

	if (flags & ~be->offloads)
		return -EINVAL;
	return ioctl(t->fd, TUNSETOFFLOAD, (unsigned long)tun_flags(flags)) < 0 ? -errno : 0;
}

static void tap_event(void *ctx, int fd, uint32_t events)
{
	struct net_tap *t = ctx;

	if (t->be.rx_ready)
		t->be.rx_ready(t->be.rx_ctx);
}

static void tap_destroy(struct net_backend *be)
{
	struct net_tap *t = to_tap(be);

	if (t->el)
		evloop_del(t->el, t->fd);
	if (t->fd >= 0)
		close(t->fd);
	free(t->linear);
	free(t);
}

static const struct net_backend_ops tap_ops = {
    .send = tap_send,
    .recv = tap_recv,
    .set_offloads = tap_set_offloads,
    .destroy = tap_destroy,
};

int net_tap_open(const char *ifname, struct evloop *el, struct net_backend **out, char *err,
		 size_t errlen)
{
	struct net_tap *t;
	struct ifreq ifr;
	unsigned features = 0;
	int hdrsz = TAP_HDR_LEN, ret;

	*out = NULL;
	if (strlen(ifname) >= IFNAMSIZ) {
		tap_fail(err, errlen, "tap interface name '%s' is too long", ifname);
		return -EINVAL;
	}
	t = calloc(1, sizeof(*t));
	if (!t || !(t->linear = malloc(NET_MAX_FRAME))) {
		free(t);
		tap_fail(err, errlen, "out of memory");
		return -ENOMEM;
	}
	t->be.ops = &tap_ops;
	t->fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (t->fd < 0) {
		ret = -errno;
		tap_fail(err, errlen, "cannot open /dev/net/tun: %s", strerror(-ret));
		goto fail;
	}
	if (ioctl(t->fd, TUNGETFEATURES, &features) == 0 && !(features & IFF_VNET_HDR)) {
		ret = -ENOTSUP;
		tap_fail(err, errlen, "this kernel's tun driver has no IFF_VNET_HDR");
		goto fail;
	}
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	memcpy(ifr.ifr_name, ifname, strlen(ifname));
	if (ioctl(t->fd, TUNSETIFF, &ifr) < 0) {
		ret = -errno;
		tap_fail(err, errlen, "cannot attach to tap interface '%s': %s%s", ifname,
			 strerror(-ret),
			 ret == -EPERM ? " (needs CAP_NET_ADMIN, or a persistent tap owned by this "
					 "user)"
				       : "");
		goto fail;
	}
	memcpy(t->ifname, ifr.ifr_name, IFNAMSIZ);
	t->ifname[IFNAMSIZ - 1] = 0;
	/* What the kernel can offload: all of checksum, TSO4 and TSO6, or checksum alone. */
	static const unsigned probe[] = {NET_OFFLOAD_CSUM | NET_OFFLOAD_TSO4 | NET_OFFLOAD_TSO6,
					 NET_OFFLOAD_CSUM};
	for (unsigned i = 0; i < 2 && !t->be.offloads; i++)
		if (ioctl(t->fd, TUNSETOFFLOAD, (unsigned long)tun_flags(probe[i])) == 0)
			t->be.offloads = probe[i];
	if (ioctl(t->fd, TUNSETVNETHDRSZ, &hdrsz) < 0 || ioctl(t->fd, TUNSETOFFLOAD, 0ul) < 0) {
		ret = -errno;
		tap_fail(err, errlen, "tap %s: cannot set the vnet header size or offloads: %s",
			 t->ifname, strerror(-ret));
		goto fail;
	}
	snprintf(t->be.desc, sizeof(t->be.desc), "tap %s", t->ifname);
	if (el) {
		ret = evloop_add(el, t->fd, EPOLLIN | EPOLLET, tap_event, t);
		if (ret) {
			tap_fail(err, errlen, "tap %s: cannot watch the fd: %s", t->ifname,
				 strerror(-ret));
			goto fail;
		}
		t->el = el;
	}
	*out = &t->be;
	return 0;
fail:
	tap_destroy(&t->be);
	return ret;
}

const char *net_tap_ifname(const struct net_backend *be)
{
	return ((const struct net_tap *)be)->ifname;
}
