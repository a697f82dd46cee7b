/* The PC machine's private state, shared by machine.c (legacy devices, firmware tables, kernel,
 * lifecycle) and machine_virtio.c (the virtio devices and their transports). */
#ifndef VMON_CORE_MACHINE_PRIV_H
#define VMON_CORE_MACHINE_PRIV_H

#include "core/machine.h"
#include "arch/x86/acpi.h"
#include "arch/x86/boot.h"
#include "arch/x86/e820.h"
#include "arch/x86/layout.h"
#include "core/console.h"
#include "core/log.h"
#include "core/vm.h"
#include "core/vmio.h"
#include "core/vpci.h"
#include "hw/acpi_pm.h"
#include "hw/cmos_rtc.h"
#include "hw/debug_exit.h"
#include "hw/fw_cfg.h"
#include "hw/i8042.h"
#include "hw/pci_host.h"
#include "hw/testdev.h"
#include "hw/uart8250.h"
#include "virtio/virtio_blk.h"
#include "virtio/virtio_console.h"
#include "virtio/virtio_rng.h"
#include "virtio/virtio_net.h"
#include "virtio/virtio_vsock.h"
#include "backend/vsock_uds.h"
#include "core/control.h"
#include "virtio/virtio_balloon.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct machine {
	struct fd_out serial_out;
	int serial_fd; /* an opened --serial FILE, else -1 */
	struct uart8250 *uart;
	struct cmos_rtc *rtc;
	struct i8042 *i8042;
	struct fw_cfg *fw_cfg;
	struct debug_exit *debug_exit;
	struct pci_host *pci;
	struct acpi_pm pm;
	int pm_ready;
	struct testdev *testdev;
	struct fd_out testdev_out;
	struct console_io *console;
	struct evloop evloop; /* device back-ends and the console run here */
	int evloop_ready;
	struct e820_map e820;
	/* virtio-mmio devices, slot i at vmio[i] (core/vmio.h) */
	struct vmio_slot *vmio[LAYOUT_VIRTIO_MMIO_MAX];
	unsigned nr_vmio;
	/* virtio-pci devices (--transport pci), PCI device i + 1 at vpci[i] (core/vpci.h) */
	struct vpci_dev *vpci[LAYOUT_PCI_MAX_DEVICES];
	unsigned nr_vpci;
	struct virtio_rng *rng;
	struct virtio_blk *disk[VM_MAX_DISKS];
	unsigned nr_disks;
	struct virtio_console *vcon;
	struct virtio_net *net[VM_MAX_NETS];
	unsigned nr_nets;
	struct virtio_vsock *vsock;
	struct vsock_uds *vsock_uds;
	struct virtio_balloon *balloon;
	struct control *control; /* --control PATH */
	struct fd_out vcon_out;
	char linux_extra[LAYOUT_VIRTIO_MMIO_MAX * 48]; /* virtio_mmio.device=... for Linux */
};

/* The virtio devices the configuration asks for, created and attached to their transport
 * (machine_virtio.c); on failure prints one line and returns -errno. */
int machine_virtio(struct vm *vm, struct machine *m) __attribute__((warn_unused_result));

/* The fw_cfg file etc/vmon/virtio-mmio listing the virtio-mmio slots (machine_virtio.c). */
int machine_fw_cfg_vmio(struct machine *m) __attribute__((warn_unused_result));

#endif
