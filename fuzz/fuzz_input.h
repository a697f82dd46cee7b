/* Shared helpers for the libFuzzer harnesses in fuzz/ (see fuzz/README.md): a reader that takes
 * little-endian integers and byte runs off the front of the fuzz input, an invariant check that
 * aborts with a message (libFuzzer then saves the input as a crash), and the log level set up.
 *
 * Header-only (static inline), so a harness is one .c file. The reader never fails: past the end
 * of the input every integer reads as 0 and every byte run is short, so harnesses need no length
 * checks of their own and every input is meaningful. */
#ifndef VMON_FUZZ_INPUT_H
#define VMON_FUZZ_INPUT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

/* The libFuzzer entry points a harness defines (LLVMFuzzerInitialize is optional), declared here
 * for -Wmissing-prototypes. */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fz_in {
	const uint8_t *p;
	size_t n; /* bytes left */
};

static inline struct fz_in fz_init(const uint8_t *data, size_t size)
{
	struct fz_in in = {data, size};
	return in;
}

static inline size_t fz_left(const struct fz_in *in)
{
	return in->n;
}

static inline uint8_t fz_u8(struct fz_in *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

/* n (<= 8) bytes as a little-endian integer; missing bytes are 0. */
static inline uint64_t fz_uint(struct fz_in *in, unsigned n)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < n && i < 8; i++)
		v |= (uint64_t)fz_u8(in) << (8 * i);
	return v;
}

static inline uint16_t fz_u16(struct fz_in *in)
{
	return (uint16_t)fz_uint(in, 2);
}

static inline uint32_t fz_u32(struct fz_in *in)
{
	return (uint32_t)fz_uint(in, 4);
}

static inline uint64_t fz_u64(struct fz_in *in)
{
	return fz_uint(in, 8);
}

/* Up to n bytes in place; *got says how many there were. */
static inline const uint8_t *fz_bytes(struct fz_in *in, size_t n, size_t *got)
{
	const uint8_t *p = in->p;
	if (n > in->n)
		n = in->n;
	in->p += n;
	in->n -= n;
	*got = n;
	return p;
}

/* Copy n bytes into dst, zero-filling what the input lacks. */
static inline void fz_fill(struct fz_in *in, void *dst, size_t n)
{
	size_t got;
	const uint8_t *p = fz_bytes(in, n, &got);
	memcpy(dst, p, got);
	memset((uint8_t *)dst + got, 0, n - got);
}

/* The rest of the input. */
static inline const uint8_t *fz_rest(struct fz_in *in, size_t *got)
{
	return fz_bytes(in, in->n, got);
}

/* An invariant of the code under test does not hold: print why and abort. libFuzzer reports the
 * abort as a crash and saves the input. */
#define FZ_CHECK(cond, ...)                                                                        \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz: %s:%d: check failed: %s: ", __FILE__, __LINE__,    \
				#cond);                                                            \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* Harnesses keep vmon's log quiet (errors only) so that output does not dominate the run time.
 * VMON_FUZZ_LOG=0..3 (error, warn, info, debug) overrides, e.g. when reproducing a crash. */
static inline void fz_log_setup(void)
{
	const char *s = getenv("VMON_FUZZ_LOG");
	int lv = s ? atoi(s) : LOG_ERROR;
	if (lv < LOG_ERROR)
		lv = LOG_ERROR;
	if (lv > LOG_DEBUG)
		lv = LOG_DEBUG;
	log_set_level((enum log_level)lv);
}

#endif
