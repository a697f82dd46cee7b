/* --balloon option string. See virtio_balloon.h. */
#include "virtio/virtio_balloon.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int opt_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int opt_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* "128M", "1G", "65536" (bytes), binary units. */
static int parse_size(const char *s, size_t n, uint64_t *out)
{
	char buf[32], *end;
	unsigned shift = 0;

	if (!n || n >= sizeof(buf) || s[0] < '0' || s[0] > '9')
		return -EINVAL;
	memcpy(buf, s, n);
	buf[n] = 0;
	errno = 0;
	unsigned long long v = strtoull(buf, &end, 10);
	if (errno)
		return -EINVAL;
	switch (*end) {
	case 'k':
	case 'K':
		shift = 10;
		break;
	case 'm':
	case 'M':
		shift = 20;
		break;
	case 'g':
	case 'G':
		shift = 30;
		break;
	case 0:
		break;
	default:
		return -EINVAL;
	}
	if (shift && end[1])
		return -EINVAL;
	if (shift && v > (UINT64_MAX >> shift))
		return -EINVAL;
	*out = (uint64_t)v << shift;
	return 0;
}

int virtio_balloon_parse_opts(const char *s, struct virtio_balloon_opts *o, char *err,
			      size_t errlen)
{
	bool have_size = false, have_stats = false;

	memset(o, 0, sizeof(*o));
	while (s && *s) {
		const char *end = strchr(s, ',');
		size_t n = end ? (size_t)(end - s) : strlen(s);
		if (n > 5 && !strncmp(s, "size=", 5)) {
			if (have_size || parse_size(s + 5, n - 5, &o->size))
				return opt_fail(err, errlen,
						"size must be given once, e.g. size=128M");
			have_size = true;
		} else if (n > 6 && !strncmp(s, "stats=", 6)) {
			uint64_t v;
			if (have_stats || strspn(s + 6, "0123456789") != n - 6 ||
			    parse_size(s + 6, n - 6, &v) || v > 3600)
				return opt_fail(err, errlen,
						"stats must be given once, 0 to 3600 seconds");
			o->stats_secs = (unsigned)v;
			have_stats = true;
		} else if (n == 9 && !strncmp(s, "reporting", 9)) {
			if (o->reporting)
				return opt_fail(err, errlen, "reporting given twice");
			o->reporting = true;
		} else {
			return opt_fail(
			    err, errlen,
			    "unknown key '%.*s' (use size=SIZE, stats=SECONDS, reporting)", (int)n,
			    s);
		}
		s += n;
		if (*s == ',')
			s++;
	}
	return 0;
}
