#include "core/log.h"
#include "core/exitcode.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static _Atomic int log_level_cur = LOG_WARN;

void log_set_level(enum log_level level)
{
	log_level_cur = level;
}

int log_enabled(enum log_level level)
{
	return (int)level <= log_level_cur;
}

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void log_msg(enum log_level level, const char *file, int line, const char *fmt, ...)
{
	char buf[512];
	int n;
	va_list ap;

	if ((int)level > log_level_cur)
		return;
	const char *base = strrchr(file, '/');
	base = base ? base + 1 : file;
	n = snprintf(buf, sizeof(buf), "vmon: %s %s:%d: ", level_names[level], base, line);
	if (n < 0)
		return;
	va_start(ap, fmt);
	int m = vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
	va_end(ap);
	if (m < 0)
		return;
	size_t len = strlen(buf);
	if (len > sizeof(buf) - 2)
		len = sizeof(buf) - 2;
	buf[len++] = '\n';
	ssize_t w = write(STDERR_FILENO, buf, len);
	(void)w;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int log_rl_allow(struct log_rl *rl)
{
	unsigned c = atomic_fetch_add(&rl->count, 1);
	if (c < LOG_RL_BURST)
		return 1;
	uint64_t t = now_ns();
	uint64_t next = atomic_load(&rl->next_ns);
	if (t >= next &&
	    atomic_compare_exchange_strong(&rl->next_ns, &next, t + LOG_RL_INTERVAL_NS))
		return 1;
	return 0;
}

void die(const char *fmt, ...)
{
	va_list ap;
	fputs("vmon: error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(VMON_EXIT_VMM_ERROR);
}
