/* The commands of the interim control channel (core/control.h), on the machine-level functions
 * (core/machine.h) that the REST API will call too:
 *   balloon SIZE     set the balloon target (SIZE as --mem: 200M, 1G, bytes)  -> "OK"
 *   balloon-stats    one line of key=value: target_mib, actual_mib, target_pages, actual_pages,
 *                    inflated_pages, deflated_pages, reported_pages, stats_updates and the
 *                    guest's statistics it reported (swap_in, swap_out, major_faults,
 *                    minor_faults, free_memory, total_memory, available_memory, disk_caches,
 *                    hugetlb_allocations, hugetlb_failures; bytes or counts as the spec says)
 *   anything else    "ERR <reason>" */
#include "core/machine.h"
#include "virtio/virtio_balloon.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char *const stat_names[VIRTIO_BALLOON_S_NR] = {
    [VIRTIO_BALLOON_S_SWAP_IN] = "swap_in",
    [VIRTIO_BALLOON_S_SWAP_OUT] = "swap_out",
    [VIRTIO_BALLOON_S_MAJFLT] = "major_faults",
    [VIRTIO_BALLOON_S_MINFLT] = "minor_faults",
    [VIRTIO_BALLOON_S_MEMFREE] = "free_memory",
    [VIRTIO_BALLOON_S_MEMTOT] = "total_memory",
    [VIRTIO_BALLOON_S_AVAIL] = "available_memory",
    [VIRTIO_BALLOON_S_CACHES] = "disk_caches",
    [VIRTIO_BALLOON_S_HTLB_PGALLOC] = "hugetlb_allocations",
    [VIRTIO_BALLOON_S_HTLB_PGFAIL] = "hugetlb_failures",
};

static void cmd_balloon(struct vm *vm, const char *arg, char *reply, size_t cap)
{
	struct virtio_balloon_opts o;
	char spec[64], why[128];

	if (snprintf(spec, sizeof(spec), "size=%s", arg) >= (int)sizeof(spec) || strchr(arg, ',') ||
	    virtio_balloon_parse_opts(spec, &o, why, sizeof(why))) {
		snprintf(reply, cap, "ERR balloon: '%s' is not a size (e.g. 200M)", arg);
		return;
	}
	int ret = machine_balloon_set(vm, o.size);
	if (ret == -ENODEV)
		snprintf(reply, cap, "ERR no balloon device (start vmon with --balloon)");
	else if (ret)
		snprintf(reply, cap, "ERR balloon: %s is more than the guest's RAM", arg);
	else
		snprintf(reply, cap, "OK");
}

static void cmd_stats(struct vm *vm, char *reply, size_t cap)
{
	struct virtio_balloon_info in;
	size_t len;

	if (machine_balloon_info(vm, &in)) {
		snprintf(reply, cap, "ERR no balloon device (start vmon with --balloon)");
		return;
	}
	len = (size_t)snprintf(reply, cap,
			       "target_mib=%u actual_mib=%u target_pages=%u actual_pages=%u "
			       "inflated_pages=%llu deflated_pages=%llu reported_pages=%llu "
			       "stats_updates=%llu",
			       in.target_pages >> 8, in.actual_pages >> 8, in.target_pages,
			       in.actual_pages, (unsigned long long)in.inflated,
			       (unsigned long long)in.deflated, (unsigned long long)in.reported,
			       (unsigned long long)in.stats_updates);
	for (unsigned i = 0; i < VIRTIO_BALLOON_S_NR && len < cap; i++)
		if (in.stats_valid[i])
			len += (size_t)snprintf(reply + len, cap - len, " %s=%llu", stat_names[i],
						(unsigned long long)in.stats[i]);
}

void machine_control_cmd(void *ctx, const char *line, char *reply, size_t cap)
{
	struct vm *vm = ctx;

	if (!strncmp(line, "balloon ", 8))
		cmd_balloon(vm, line + 8, reply, cap);
	else if (!strcmp(line, "balloon-stats"))
		cmd_stats(vm, reply, cap);
	else
		snprintf(reply, cap, "ERR unknown command (balloon SIZE, balloon-stats)");
}

int machine_balloon_set(struct vm *vm, uint64_t bytes)
{
	struct virtio_balloon *b = machine_balloon_dev(vm);

	return b ? virtio_balloon_set_target(b, bytes) : -ENODEV;
}

int machine_balloon_info(struct vm *vm, struct virtio_balloon_info *info)
{
	struct virtio_balloon *b = machine_balloon_dev(vm);

	if (!b)
		return -ENODEV;
	virtio_balloon_get_info(b, info);
	(void)virtio_balloon_request_stats(b); /* fresh values for the next call */
	return 0;
}
