/* QEMU isa-debug-exit compatible device at PORT_DEBUG_EXIT.
 *
 * A write of value V (1, 2 or 4 bytes, anywhere in the DEBUG_EXIT_LEN ports so that both the
 * default iosize and iosize=4 users work) asks the exit_sink to stop the VM with VM_EXIT_DEBUG and
 * code V; vmon then exits with status (V << 1) | 1 (see core/exitcode.h). Reads return 0.
 *
 * Lock: none. The device has no mutable state: the exit_sink is set at creation and never
 * changes, so concurrent accesses from several vCPUs need no serialisation here (the sink itself
 * decides which request wins). */
#ifndef VMON_HW_DEBUG_EXIT_H
#define VMON_HW_DEBUG_EXIT_H

#include <stdint.h>

#include "core/bus.h"
#include "core/devif.h"

#define DEBUG_EXIT_LEN 4

struct debug_exit;

/* Saved state: the device has none; the field exists so every device saves the same way. */
struct debug_exit_state {
	uint32_t reserved; /* must be 0 */
};

extern const struct bus_ops debug_exit_ops;

/* Create the device reporting to sink (copied). Returns 0 and sets *out, or -ENOMEM. */
int debug_exit_create(struct exit_sink sink, struct debug_exit **out)
    __attribute__((warn_unused_result));

/* Free the device (it must no longer be registered on a bus). */
void debug_exit_destroy(struct debug_exit *d);

/* Nothing to reset, save or restore; load rejects a non-zero reserved field with -EINVAL. */
void debug_exit_reset(struct debug_exit *d);
void debug_exit_save(struct debug_exit *d, struct debug_exit_state *st);
int debug_exit_load(struct debug_exit *d, const struct debug_exit_state *st)
    __attribute__((warn_unused_result));

#endif
