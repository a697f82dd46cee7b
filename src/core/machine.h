/* The PC machine: one explicit function wires every device onto the buses, builds the firmware
 * tables and loads the kernel. */
#ifndef VMON_CORE_MACHINE_H
#define VMON_CORE_MACHINE_H

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

/* Free everything machine_build made. Safe on a partly built machine. */
void machine_destroy(struct vm *vm);

#endif
