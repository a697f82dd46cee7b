/* struct vm: everything one virtual machine owns, and its life cycle. No globals: devices, vCPUs
 * and backends hang off this struct. */
#ifndef VMON_CORE_VM_H
#define VMON_CORE_VM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "accel/accel.h"
#include "arch/x86/cpu_state.h"
#include "core/bus.h"
#include "core/devif.h"
#include "core/gmem.h"

#define VM_MAX_VCPUS 64
#define VM_MAX_DISKS 8 /* --disk options (each takes a virtio slot) */
#define VM_MAX_NETS 4  /* --net options (each takes a virtio slot) */

enum serial_mode { SERIAL_STDIO, SERIAL_NONE, SERIAL_FILE };
enum accel_kind { ACCEL_AUTO, ACCEL_KVM, ACCEL_EMU };
/* Where the terminal (stdin and the console output) goes: the 8250 (default) or a virtio-console
 * device; the 8250 exists either way (its output follows --serial). */
enum console_kind { CONSOLE_SERIAL, CONSOLE_VIRTIO };
/* How every virtio device attaches: virtio-mmio slots (default) or virtio-pci functions. */
enum virtio_transport_kind { VIRTIO_TRANSPORT_MMIO, VIRTIO_TRANSPORT_PCI };

struct vm_config {
	const char *kernel;
	const char *initrd;
	const char *cmdline;
	uint64_t mem_size;
	unsigned ncpus;
	enum accel_kind accel;
	enum serial_mode serial;
	const char *serial_path;
	int verbose;
	int testdev; /* add the test device (hw/testdev.h) */
	int rng;     /* add a virtio-rng device */
	enum console_kind console;
	enum virtio_transport_kind transport;
	/* --disk option strings, checked by the CLI (virtio_blk_parse_opts), in order */
	const char *disks[VM_MAX_DISKS];
	unsigned nr_disks;
	/* --net option strings, checked by the CLI (net_parse_opts), in order */
	const char *nets[VM_MAX_NETS];
	unsigned nr_nets;
	/* --vsock cid=N,uds=PATH, checked by the CLI (vsock_uds_parse_opts), or NULL */
	const char *vsock;
	/* --balloon options ("" for the defaults; virtio_balloon_parse_opts), or NULL */
	const char *balloon;
	const char *control; /* --control PATH, or NULL */
};

struct vcpu {
	struct vm *vm;
	unsigned id;
	pthread_t thread;
	void *accel; /* backend-private */
	int run_result;
};

struct machine;

struct vm {
	struct vm_config cfg;
	struct gmem mem;
	struct bus pio;
	struct bus mmio;
	const struct accel_ops *accel;
	void *accel_data;
	unsigned ncpus;
	struct vcpu vcpus[VM_MAX_VCPUS];
	struct x86_cpu_state boot_state; /* BSP entry state from the loader */

	/* Exit request: the first request wins. exit_lock protects exit_kind/exit_code. */
	pthread_mutex_t exit_lock;
	atomic_int exit_requested;
	enum vm_exit_kind exit_kind;
	int exit_code;
	int exit_efd;		    /* eventfd signalled on the first exit request */
	atomic_int threads_started; /* vCPU threads exist and may be kicked */
	int accel_ready;	    /* accel->vm_init succeeded */

	/* The PC machine's devices and I/O plumbing (core/machine.c). */
	struct machine *machine;
};

/* Build the machine described by cfg: memory, buses, backend, devices, kernel, tables, vCPUs.
 * On failure prints one clear line and returns -errno (-ENODEV: the requested backend is not
 * available on this host or in this build); *out is left NULL. */
int vm_create(const struct vm_config *cfg, struct vm **out) __attribute__((warn_unused_result));

/* Start the vCPU threads and the console, wait for the VM to stop, join everything.
 * Returns the process exit status the VM's ending maps to (see core/exitcode.h). */
int vm_run(struct vm *vm);

/* Tear down everything vm_create built. */
void vm_destroy(struct vm *vm);

/* Ask the VM to stop (first call wins) and kick every vCPU. Safe from any thread. */
void vm_request_exit(struct vm *vm, enum vm_exit_kind kind, int code);

/* An exit_sink that calls vm_request_exit, and an irq_line for gsi, for wiring devices. */
struct exit_sink vm_exit_sink(struct vm *vm);
struct irq_line vm_irq_line(struct vm *vm, unsigned gsi);

/* Map an exit kind and code to the process exit status. */
int vm_exit_status(enum vm_exit_kind kind, int code);

#endif
