/* What a device may call back into: its interrupt line, a VM-exit request, a clock, and a
 * character output. Devices hold these by value so unit tests can supply fakes. */
#ifndef VMON_CORE_DEVIF_H
#define VMON_CORE_DEVIF_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* One interrupt input (a GSI on the IOAPIC; 0-15 also reach the PIC). */
struct irq_line {
	void (*set)(void *ctx, unsigned gsi, int level);
	void *ctx;
	unsigned gsi;
};

static inline void irq_line_set(const struct irq_line *l, int level)
{
	if (l->set)
		l->set(l->ctx, l->gsi, level);
}

/* Why the VM stops. */
enum vm_exit_kind {
	VM_EXIT_NONE = 0,
	VM_EXIT_POWEROFF,    /* ACPI/PM power-off: exit status 0 */
	VM_EXIT_RESET,	     /* i8042 pulse, triple fault, reset port: exit status 0 */
	VM_EXIT_DEBUG,	     /* debug-exit port: exit status (code << 1) | 1 */
	VM_EXIT_GUEST_CRASH, /* the guest cannot continue (e.g. unemulatable state) */
	VM_EXIT_VMM_ERROR,   /* a host-side failure */
	VM_EXIT_USER,	     /* the user asked (Ctrl-A x, signal) */
};

struct exit_sink {
	void (*request)(void *ctx, enum vm_exit_kind kind, int code);
	void *ctx;
};

static inline void exit_sink_request(const struct exit_sink *e, enum vm_exit_kind kind, int code)
{
	if (e->request)
		e->request(e->ctx, kind, code);
}

/* Time sources: monotonic nanoseconds, and wall-clock seconds since the Unix epoch. */
struct clock_src {
	uint64_t (*mono_ns)(void *ctx);
	int64_t (*wall_s)(void *ctx);
	void *ctx;
};

/* The host clock (CLOCK_MONOTONIC, CLOCK_REALTIME). */
extern const struct clock_src clock_host;

/* A byte sink for device output (serial, console). write returns bytes taken or -errno. */
struct char_out {
	ssize_t (*write)(void *ctx, const void *buf, size_t len);
	void *ctx;
};

#endif
