/* The PC machine: one explicit function wires every device onto the buses, builds the firmware
 * tables and loads the kernel. */
#ifndef VMON_CORE_MACHINE_H
#define VMON_CORE_MACHINE_H

#include <stddef.h>
#include <stdint.h>

struct vm;

/* Create the devices, e820, ACPI, fw_cfg entries, and load the kernel (sets vm->boot_state).
 * Prints one clear line and returns -errno on failure; machine_destroy cleans up either way. */
int machine_build(struct vm *vm) __attribute__((warn_unused_result));

/* Start / stop host-side I/O (the console input thread). */
int machine_start_io(struct vm *vm) __attribute__((warn_unused_result));
void machine_stop_io(struct vm *vm);

/* Put every device back in its power-on state (virtio devices too: virtio_dev_reset, the line
 * lowered). For an in-process reboot; the vCPUs must be stopped and machine_build must have
 * succeeded. Guest memory and the firmware tables are not rebuilt. */
void machine_reset(struct vm *vm);

struct virtio_balloon;

/* The --balloon device, or NULL. */
struct virtio_balloon *machine_balloon_dev(struct vm *vm);

/* Set the balloon target to `bytes` (the guest then inflates or deflates; the configuration
 * interrupt tells it). Returns 0, -ENODEV (no --balloon) or -EINVAL (more than the guest's RAM).
 * Safe from any thread (the control channel and the REST API call it on the event loop). */
int machine_balloon_set(struct vm *vm, uint64_t bytes) __attribute__((warn_unused_result));

struct virtio_balloon_info;
/* What the balloon knows (target, actual, counters, the guest's last statistics), and ask the
 * guest for fresh statistics. Returns 0 or -ENODEV. Any thread. */
int machine_balloon_info(struct vm *vm, struct virtio_balloon_info *info);

/* One command line of the --control channel (core/control.h; ctx is the struct vm): `balloon
 * SIZE`, `balloon-stats`; see core/machine_ctl.c. */
void machine_control_cmd(void *ctx, const char *line, char *reply, size_t cap);

/* Free everything machine_build made. Safe on a partly built machine. */
void machine_destroy(struct vm *vm);

#endif
