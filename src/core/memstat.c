#include "core/memstat.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int is_guest_mapping(const struct gmem *gm, uint64_t start, uint64_t end)
{
	for (unsigned i = 0; i < gm->nr_regions; i++) {
		uint64_t hva = (uintptr_t)gm->regions[i].hva;
		if (start >= hva && end <= hva + gm->regions[i].size)
			return 1;
	}
	return 0;
}

int memstat_read(const struct gmem *gm, struct memstat *out)
{
	char line[512];
	int guest = 0;
	FILE *f = fopen("/proc/self/smaps", "r");

	memset(out, 0, sizeof(*out));
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		uint64_t start, end, kib;
		if (sscanf(line, "%" SCNx64 "-%" SCNx64 " ", &start, &end) == 2 &&
		    strchr(line, ' ')) {
			guest = is_guest_mapping(gm, start, end);
			continue;
		}
		if (sscanf(line, "Rss: %" SCNu64 " kB", &kib) == 1) {
			out->rss_kib += kib;
			if (guest)
				out->guest_kib += kib;
		}
	}
	fclose(f);
	f = fopen("/proc/self/status", "r");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmHWM: %" SCNu64 " kB", &out->peak_rss_kib) == 1)
			break;
	fclose(f);
	return 0;
}
