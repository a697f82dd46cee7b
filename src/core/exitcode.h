/* Process exit codes of vmon. Guest-chosen codes follow QEMU's isa-debug-exit rule:
 * a value V written to port 0xf4 makes vmon exit with (V << 1) | 1, which is always odd.
 * vmon's own outcomes use even codes so they never collide with a debug-exit code. */
#ifndef VMON_CORE_EXITCODE_H
#define VMON_CORE_EXITCODE_H

#define VMON_EXIT_OK 0		/* guest powered off or reset cleanly */
#define VMON_EXIT_USAGE 2	/* bad command line */
#define VMON_EXIT_VMM_ERROR 4	/* vmon failed (could not start, internal or host error) */
#define VMON_EXIT_GUEST_CRASH 6 /* guest stopped in a way that is not a clean power-off */

#endif
