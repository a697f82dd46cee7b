/* The --disk option string: path=FILE[,ro][,serial=ID][,cache=none|writeback][,base=BASE].
 * See virtio_blk_parse_opts in virtio_blk.h. */
#include "virtio/virtio_blk.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int __attribute__((format(printf, 3, 4)))
opt_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

void virtio_blk_opts_free(struct virtio_blk_opts *o)
{
	free(o->path);
	free(o->base);
	free(o->serial);
	memset(o, 0, sizeof(*o));
}

/* Store a copy of the value v (n bytes) of key into *dst, refusing repeats and empty values. */
static int opt_str(char **dst, const char *key, const char *v, size_t n, char *err, size_t errlen)
{
	if (*dst)
		return opt_err(err, errlen, "disk option '%s' given twice", key);
	if (!n)
		return opt_err(err, errlen, "disk option '%s' needs a value (%s=...)", key, key);
	*dst = strndup(v, n);
	if (!*dst)
		return opt_err(err, errlen, "out of memory");
	return 0;
}

static int opt_one(struct virtio_blk_opts *o, const char *item, size_t len, bool *seen_ro,
		   bool *seen_cache, char *err, size_t errlen)
{
	const char *eq = memchr(item, '=', len);
	size_t klen = eq ? (size_t)(eq - item) : len;
	const char *v = eq ? eq + 1 : NULL;
	size_t vlen = eq ? len - klen - 1 : 0;

	if (klen == 4 && !memcmp(item, "path", 4) && eq)
		return opt_str(&o->path, "path", v, vlen, err, errlen);
	if (klen == 4 && !memcmp(item, "base", 4) && eq)
		return opt_str(&o->base, "base", v, vlen, err, errlen);
	if (klen == 6 && !memcmp(item, "serial", 6) && eq) {
		if (vlen > VIRTIO_BLK_ID_BYTES)
			return opt_err(err, errlen, "disk serial is %zu bytes, at most %u allowed",
				       vlen, VIRTIO_BLK_ID_BYTES);
		for (size_t i = 0; i < vlen; i++)
			if (v[i] < 0x21 || v[i] > 0x7e)
				return opt_err(
				    err, errlen,
				    "disk serial must be printable ASCII without spaces");
		return opt_str(&o->serial, "serial", v, vlen, err, errlen);
	}
	if (klen == 2 && !memcmp(item, "ro", 2) && !eq) {
		if (*seen_ro)
			return opt_err(err, errlen, "disk option 'ro' given twice");
		*seen_ro = true;
		o->readonly = true;
		return 0;
	}
	if (klen == 5 && !memcmp(item, "cache", 5) && eq) {
		if (*seen_cache)
			return opt_err(err, errlen, "disk option 'cache' given twice");
		*seen_cache = true;
		if (vlen == 4 && !memcmp(v, "none", 4))
			o->cache = DISK_CACHE_NONE;
		else if (vlen == 9 && !memcmp(v, "writeback", 9))
			o->cache = DISK_CACHE_WRITEBACK;
		else
			return opt_err(err, errlen, "disk cache '%.*s': expected none or writeback",
				       (int)vlen, v);
		return 0;
	}
	if (klen == 2 && !memcmp(item, "ro", 2))
		return opt_err(err, errlen, "disk option 'ro' takes no value");
	return opt_err(err, errlen,
		       "unknown disk option '%.*s' (expected path=FILE, ro, serial=ID, "
		       "cache=none|writeback, base=BASE)",
		       (int)(len > 64 ? 64 : len), item);
}

int virtio_blk_parse_opts(const char *s, struct virtio_blk_opts *o, char *err, size_t errlen)
{
	bool seen_ro = false, seen_cache = false;
	int ret = 0;

	memset(o, 0, sizeof(*o));
	if (!s || !*s)
		return opt_err(err, errlen, "empty disk option (expected path=FILE[,...])");
	for (const char *p = s;;) {
		const char *c = strchr(p, ',');
		size_t len = c ? (size_t)(c - p) : strlen(p);
		if (!len)
			ret = opt_err(err, errlen, "empty item in disk option '%s'", s);
		else
			ret = opt_one(o, p, len, &seen_ro, &seen_cache, err, errlen);
		if (ret || !c)
			break;
		p = c + 1;
	}
	if (!ret && !o->path)
		ret = opt_err(err, errlen, "disk option needs path=FILE");
	if (ret)
		virtio_blk_opts_free(o);
	return ret;
}
