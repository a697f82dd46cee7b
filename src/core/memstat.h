/* Resident-memory accounting of the vmon process: how much is guest RAM and how much is vmon's
 * own (code, heap, stacks, kvm_run pages). Used by `-v` at exit and by the benchmarks. */
#ifndef VMON_CORE_MEMSTAT_H
#define VMON_CORE_MEMSTAT_H

#include <stdint.h>

#include "core/gmem.h"

struct memstat {
	uint64_t rss_kib;      /* all resident memory */
	uint64_t guest_kib;    /* resident pages of guest RAM mappings */
	uint64_t peak_rss_kib; /* VmHWM */
};

/* Read /proc/self/smaps and /proc/self/status. Returns 0 or -errno. */
int memstat_read(const struct gmem *gm, struct memstat *out) __attribute__((warn_unused_result));

#endif
