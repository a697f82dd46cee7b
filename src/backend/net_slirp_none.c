/* net_slirp.h for builds without libslirp: the fully static vmon (Debian ships no static
 * libslirp), linked in place of net_slirp.c. `--net user` then fails with a clear reason; tap
 * works. Not part of libvmon.a (the Makefile leaves it out). */
#include "backend/net_slirp.h"

#include <errno.h>
#include <stdio.h>

int net_slirp_create(const struct net_opts *o, struct evloop *el, struct net_backend **out,
		     char *err, size_t errlen)
{
	*out = NULL;
	if (err && errlen)
		snprintf(err, errlen,
			 "this vmon was built without libslirp (static build): "
			 "--net user is not available, --net tap is");
	return -ENOTSUP;
}

void net_slirp_poll(struct net_backend *be)
{
}

int net_slirp_fd(const struct net_backend *be)
{
	return -1;
}
