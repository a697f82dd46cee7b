/* Levelled logging with file:line, and a rate-limited variant for anything a guest can trigger. */
#ifndef VMON_CORE_LOG_H
#define VMON_CORE_LOG_H

#include <stdatomic.h>
#include <stdint.h>

enum log_level { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

/* Set the most verbose level printed (default LOG_WARN). Called once at start-up, before threads.
 */
void log_set_level(enum log_level level);

/* 1 when messages of this level are printed. */
int log_enabled(enum log_level level);

/* Print one line to stderr: "vmon: LEVEL file:line: message". Thread-safe (one write(2) per line).
 */
void log_msg(enum log_level level, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Per-call-site rate limiter: at most LOG_RL_BURST lines, then one line per LOG_RL_INTERVAL_NS.
 * The state is a static per call site, the one deliberate exception to "no global mutable state":
 * it holds no VM state, only counters. Returns 1 when the caller may print. */
#define LOG_RL_BURST 10
#define LOG_RL_INTERVAL_NS 5000000000ull
struct log_rl {
	atomic_uint_fast64_t next_ns;
	atomic_uint count;
};
int log_rl_allow(struct log_rl *rl);

#define log_err(...) log_msg(LOG_ERROR, __FILE__, __LINE__, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __FILE__, __LINE__, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __FILE__, __LINE__, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __FILE__, __LINE__, __VA_ARGS__)

/* Rate-limited log for guest-triggerable events. */
#define log_rl(level, ...)                                                                         \
	do {                                                                                       \
		static struct log_rl rl__;                                                         \
		if (log_rl_allow(&rl__))                                                           \
			log_msg(level, __FILE__, __LINE__, __VA_ARGS__);                           \
	} while (0)

/* Print "vmon: error: ..." and exit with VMON_EXIT_VMM_ERROR. Only during start-up. */
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
