/* The PC machine: the one place that wires devices, firmware tables and the kernel together. */
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

/* Port 0x80 (POST codes, Linux's I/O delay): accepted and ignored, so it is not logged. */
static const struct bus_ops post_port_ops = {NULL, NULL};

static int reg(struct vm *vm, struct bus *bus, uint64_t base, uint64_t len,
	       const struct bus_ops *ops, void *dev, const char *name)
{
	int ret = bus_register(bus, base, len, ops, dev, name);
	if (ret)
		fprintf(stderr, "vmon: error: cannot register %s at 0x%llx: %s\n", name,
			(unsigned long long)base, strerror(-ret));
	return ret;
}

static int machine_serial(struct vm *vm, struct machine *m)
{
	m->serial_fd = -1;
	struct char_out out = {NULL, NULL};
	switch (vm->cfg.serial) {
	case SERIAL_STDIO:
		m->serial_out.fd = STDOUT_FILENO;
		out = (struct char_out){fd_out_write, &m->serial_out};
		break;
	case SERIAL_FILE:
		m->serial_fd =
		    open(vm->cfg.serial_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (m->serial_fd < 0) {
			int err = errno;
			fprintf(stderr, "vmon: error: --serial %s: %s\n", vm->cfg.serial_path,
				strerror(err));
			return -err;
		}
		m->serial_out.fd = m->serial_fd;
		out = (struct char_out){fd_out_write, &m->serial_out};
		break;
	case SERIAL_NONE:
		break;
	}
	int ret = uart8250_create(vm_irq_line(vm, GSI_COM1), out, &m->uart);
	if (ret)
		return ret;
	return reg(vm, &vm->pio, PORT_COM1, UART8250_LEN, &uart8250_ops, m->uart, "com1");
}

static int machine_legacy(struct vm *vm, struct machine *m)
{
	int ret;
	uint64_t low = gmem_low_ram_end(&vm->mem);
	struct cmos_rtc_mem cm = {
	    .ram_below_4g = low, .ram_above_4g = vm->mem.ram_size - low, .ncpus = vm->ncpus};
	if ((ret = cmos_rtc_create(clock_host, &cm, &m->rtc)) ||
	    (ret = reg(vm, &vm->pio, PORT_RTC, CMOS_RTC_LEN, &cmos_rtc_ops, m->rtc, "rtc")))
		return ret;
	if ((ret = i8042_create(vm_irq_line(vm, GSI_I8042_KBD), vm_irq_line(vm, GSI_I8042_AUX),
				vm_exit_sink(vm), &m->i8042)) ||
	    (ret = reg(vm, &vm->pio, PORT_I8042_DATA, 1, &i8042_data_ops, m->i8042, "i8042")) ||
	    (ret = reg(vm, &vm->pio, PORT_I8042_CMD, 1, &i8042_cmd_ops, m->i8042, "i8042-cmd")))
		return ret;
	if ((ret = debug_exit_create(vm_exit_sink(vm), &m->debug_exit)) ||
	    (ret = reg(vm, &vm->pio, PORT_DEBUG_EXIT, DEBUG_EXIT_LEN, &debug_exit_ops,
		       m->debug_exit, "debug-exit")))
		return ret;
	if ((ret = pci_host_create(vm_exit_sink(vm), &m->pci)) ||
	    (ret = reg(vm, &vm->pio, PORT_PCI_CONFIG, PCI_HOST_LEN, &pci_host_ops, m->pci, "pci")))
		return ret;
	if ((ret =
		 acpi_pm_init(&m->pm, vm_irq_line(vm, GSI_ACPI_SCI), vm_exit_sink(vm), clock_host)))
		return ret;
	m->pm_ready = 1;
	if ((ret = acpi_pm_attach(&m->pm, &vm->pio)))
		return ret;
	if ((ret = reg(vm, &vm->pio, 0x80, 1, &post_port_ops, NULL, "post")))
		return ret;
	if (vm->cfg.testdev) {
		m->testdev = malloc(sizeof(*m->testdev));
		if (!m->testdev)
			return -ENOMEM;
		m->testdev_out.fd = STDERR_FILENO;
		testdev_init(m->testdev, &vm->mem,
			     (struct char_out){fd_out_write, &m->testdev_out});
		if ((ret = reg(vm, &vm->pio, PORT_TESTDEV, TESTDEV_PIO_LEN, &testdev_pio_ops,
			       m->testdev, "testdev")) ||
		    (ret = reg(vm, &vm->mmio, LAYOUT_TESTDEV_MMIO, TESTDEV_MMIO_LEN,
			       &testdev_mmio_ops, m->testdev, "testdev-mmio")))
			return ret;
	}
	return 0;
}

/* --transport pci: vdev becomes PCI device nr_vpci + 1 on bus 0; the guest assigns its BARs. */
static int machine_add_vpci(struct vm *vm, struct machine *m, struct virtio_dev *vdev)
{
	unsigned n = m->nr_vpci + 1;
	int ret;

	if (m->nr_vpci >= LAYOUT_PCI_MAX_DEVICES) {
		fprintf(stderr, "vmon: error: at most %d virtio-pci devices\n",
			LAYOUT_PCI_MAX_DEVICES);
		return -ENOSPC;
	}
	ret = vpci_create(vm, &m->evloop, m->pci, n, vdev, &m->vpci[m->nr_vpci]);
	if (ret) {
		fprintf(stderr, "vmon: error: cannot add %s as PCI device 00:%02x.0: %s\n",
			vdev->name, n, strerror(-ret));
		return ret;
	}
	m->nr_vpci++;
	log_info("%s: virtio-pci at 00:%02x.0, INTx GSI %u, MSI-X through %s", vdev->name, n,
		 vpci_gsi(m->vpci[m->nr_vpci - 1]), vm->accel->name);
	return 0;
}

/* Attach vdev with the configured transport (every virtio device comes through here). */
static int machine_add_vmio(struct vm *vm, struct machine *m, struct virtio_dev *vdev)
{
	struct vmio_slot *s;
	int ret;

	if (vm->cfg.transport == VIRTIO_TRANSPORT_PCI)
		return machine_add_vpci(vm, m, vdev);
	if (m->nr_vmio >= LAYOUT_VIRTIO_MMIO_MAX) {
		fprintf(stderr, "vmon: error: at most %d virtio-mmio devices\n",
			LAYOUT_VIRTIO_MMIO_MAX);
		return -ENOSPC;
	}
	ret = vmio_create(vm, &m->evloop, m->nr_vmio, vdev, &s);
	if (ret) {
		fprintf(stderr, "vmon: error: cannot add %s as virtio-mmio device %u: %s\n",
			vdev->name, m->nr_vmio, strerror(-ret));
		return ret;
	}
	m->vmio[m->nr_vmio++] = s;
	size_t len = strlen(m->linux_extra);
	snprintf(m->linux_extra + len, sizeof(m->linux_extra) - len,
		 "%svirtio_mmio.device=%llu@0x%llx:%u", len ? " " : "",
		 (unsigned long long)vmio_size(s), (unsigned long long)vmio_base(s), vmio_gsi(s));
	log_info("%s: virtio-mmio at 0x%llx, GSI %u, notify %s, interrupt %s", vdev->name,
		 (unsigned long long)vmio_base(s), vmio_gsi(s),
		 vmio_uses_ioeventfd(s) ? "ioeventfd" : "MMIO exit",
		 vmio_uses_irqfd(s) ? "irqfd" : "set_irq");
	return 0;
}

/* One --disk: open the image and create its virtio-blk device (completions on the event loop). */
static int machine_disk(struct vm *vm, struct machine *m, const char *spec)
{
	struct virtio_blk_opts o;
	struct virtio_blk *blk;
	char err[256] = "";
	int ret = virtio_blk_parse_opts(spec, &o, err, sizeof(err));

	if (!ret)
		ret = virtio_blk_create(&o, &vm->mem, &m->evloop, &blk, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "vmon: error: --disk %s: %s\n", spec,
			err[0] ? err : strerror(-ret));
		virtio_blk_opts_free(&o);
		return ret;
	}
	m->disk[m->nr_disks++] = blk;
	log_info("disk %s: %llu sectors%s, %s I/O", o.path,
		 (unsigned long long)virtio_blk_capacity(blk), o.readonly ? ", read-only" : "",
		 virtio_blk_engine(blk));
	virtio_blk_opts_free(&o);
	return machine_add_vmio(vm, m, virtio_blk_dev(blk));
}

/* The n-th --net: its back-end (slirp or tap, fds on the event loop), then the device over it.
 * Without mac=, the MAC is 52:54:00:12:34:56 + n. */
static int machine_net(struct vm *vm, struct machine *m, unsigned n)
{
	const char *spec = vm->cfg.nets[n];
	uint8_t mac[6] = VIRTIO_NET_DEFAULT_MAC;
	struct net_backend *be = NULL;
	struct net_opts o;
	char err[256] = "";
	int ret = net_parse_opts(spec, &o, err, sizeof(err));

	if (!ret)
		ret = net_backend_create(&o, &m->evloop, &be, err, sizeof(err));
	if (!ret) {
		if (o.has_mac)
			memcpy(mac, o.mac, 6);
		else
			mac[5] = (uint8_t)(mac[5] + n);
		ret = virtio_net_create(&vm->mem, be, mac, &m->evloop, &m->net[m->nr_nets]);
		if (ret) {
			net_backend_destroy(be);
			snprintf(err, sizeof(err), "cannot create the device: %s", strerror(-ret));
		}
	}
	if (ret) {
		fprintf(stderr, "vmon: error: --net %s: %s\n", spec, err[0] ? err : strerror(-ret));
		return ret;
	}
	log_info("net %u: %s, MAC %02x:%02x:%02x:%02x:%02x:%02x", n, be->desc, mac[0], mac[1],
		 mac[2], mac[3], mac[4], mac[5]);
	return machine_add_vmio(vm, m, virtio_net_dev(m->net[m->nr_nets++]));
}

/* --vsock: the Unix-socket host side, then the device over it. */
static int machine_vsock(struct vm *vm, struct machine *m)
{
	struct vsock_uds_opts o;
	char err[256] = "";
	int ret = vsock_uds_parse_opts(vm->cfg.vsock, &o, err, sizeof(err));

	if (!ret)
		ret = vsock_uds_create(o.uds, &m->evloop, &m->vsock_uds, err, sizeof(err));
	if (!ret) {
		struct virtio_vsock_backend be = vsock_uds_backend(m->vsock_uds);
		ret = virtio_vsock_create(&vm->mem, o.cid, &m->evloop, &be, &m->vsock);
	}
	if (ret) {
		fprintf(stderr, "vmon: error: --vsock %s: %s\n", vm->cfg.vsock,
			err[0] ? err : strerror(-ret));
		vsock_uds_opts_free(&o);
		return ret;
	}
	vsock_uds_attach(m->vsock_uds, m->vsock);
	log_info("vsock: guest CID %llu, host socket %s", (unsigned long long)o.cid, o.uds);
	vsock_uds_opts_free(&o);
	return machine_add_vmio(vm, m, virtio_vsock_dev(m->vsock));
}

/* --balloon, and the --control channel (its commands: core/machine_ctl.c). */
static int machine_balloon(struct vm *vm, struct machine *m)
{
	struct virtio_balloon_opts o;
	char err[256] = "";
	int ret = virtio_balloon_parse_opts(vm->cfg.balloon, &o, err, sizeof(err));

	if (!ret && (ret = virtio_balloon_create(&vm->mem, &o, &m->evloop, &m->balloon)))
		snprintf(err, sizeof(err), "%s",
			 ret == -EINVAL ? "size beyond the guest's RAM" : "");
	if (ret) {
		fprintf(stderr, "vmon: error: --balloon %s: %s\n", vm->cfg.balloon,
			err[0] ? err : strerror(-ret));
		return ret;
	}
	return machine_add_vmio(vm, m, virtio_balloon_dev(m->balloon));
}

static int machine_control(struct vm *vm, struct machine *m)
{
	char err[256] = "";
	int ret = control_create(vm->cfg.control, &m->evloop, machine_control_cmd, vm, &m->control,
				 err, sizeof(err));
	if (ret)
		fprintf(stderr, "vmon: error: --control %s: %s\n", vm->cfg.control, err);
	return ret;
}

struct virtio_balloon *machine_balloon_dev(struct vm *vm)
{
	return vm->machine ? vm->machine->balloon : NULL;
}

/* The virtio devices the configuration asks for, in a fixed slot order: console, rng, disks (in
 * command-line order), network devices (likewise), vsock, balloon. */
static int machine_virtio(struct vm *vm, struct machine *m)
{
	int ret;

	if (vm->cfg.console == CONSOLE_VIRTIO) {
		m->vcon_out.fd = STDOUT_FILENO;
		ret = virtio_console_create(&vm->mem, (struct char_out){fd_out_write, &m->vcon_out},
					    &m->vcon);
		if (ret || (ret = machine_add_vmio(vm, m, virtio_console_dev(m->vcon))))
			return ret;
	}
	if (vm->cfg.rng) {
		ret = virtio_rng_create(&vm->mem, NULL, NULL, &m->rng);
		if (ret || (ret = machine_add_vmio(vm, m, virtio_rng_dev(m->rng))))
			return ret;
	}
	for (unsigned i = 0; i < vm->cfg.nr_disks; i++)
		if ((ret = machine_disk(vm, m, vm->cfg.disks[i])))
			return ret;
	for (unsigned i = 0; i < vm->cfg.nr_nets; i++)
		if ((ret = machine_net(vm, m, i)))
			return ret;
	if (vm->cfg.vsock && (ret = machine_vsock(vm, m)))
		return ret;
	if (vm->cfg.balloon && (ret = machine_balloon(vm, m)))
		return ret;
	return vm->cfg.control ? machine_control(vm, m) : 0;
}

/* etc/vmon/virtio-mmio: le32 version (1), le32 count, then per device { le64 base, le32 size,
 * le32 gsi, le32 device_id, le32 reserved (0) }, in slot order. */
static int machine_fw_cfg_vmio(struct machine *m)
{
	uint8_t buf[8 + LAYOUT_VIRTIO_MMIO_MAX * 24] = {0};
	uint32_t hdr[2] = {1, m->nr_vmio};

	memcpy(buf, hdr, sizeof(hdr));
	for (unsigned i = 0; i < m->nr_vmio; i++) {
		uint8_t *e = buf + 8 + 24 * i;
		uint64_t base = vmio_base(m->vmio[i]);
		uint32_t f[3] = {(uint32_t)vmio_size(m->vmio[i]), vmio_gsi(m->vmio[i]),
				 virtio_mmio_dev(vmio_transport(m->vmio[i]))->device_id};
		memcpy(e, &base, 8);
		memcpy(e + 8, f, sizeof(f));
	}
	int ret = fw_cfg_add_file(m->fw_cfg, "etc/vmon/virtio-mmio", buf, 8 + 24 * m->nr_vmio);
	return ret < 0 ? ret : 0;
}

/* fw_cfg: QEMU's standard items plus the files vmon publishes. */
static int machine_fw_cfg(struct vm *vm, struct machine *m, const struct boot_result *br)
{
	int ret;
	if ((ret = fw_cfg_create(&m->fw_cfg)))
		return ret;
	/* The command line the kernel got: the Linux formats also got the virtio list. */
	const char *user = vm->cfg.cmdline ? vm->cfg.cmdline : "";
	const char *extra = br->kind != BOOT_MULTIBOOT ? m->linux_extra : "";
	char cmdline[LAYOUT_CMDLINE_MAX];
	snprintf(cmdline, sizeof(cmdline), "%s%s%s", user, *user && *extra ? " " : "", extra);
	size_t clen = strlen(cmdline) + 1;
	if ((ret = fw_cfg_add_u64(m->fw_cfg, FW_CFG_RAM_SIZE, vm->mem.ram_size)) ||
	    (ret = fw_cfg_add_u16(m->fw_cfg, FW_CFG_NB_CPUS, (uint16_t)vm->ncpus)) ||
	    (ret = fw_cfg_add_u16(m->fw_cfg, FW_CFG_MAX_CPUS, (uint16_t)vm->ncpus)) ||
	    (ret = fw_cfg_add_u16(m->fw_cfg, FW_CFG_NOGRAPHIC, 1)) ||
	    (ret = fw_cfg_add_u32(m->fw_cfg, FW_CFG_KERNEL_ADDR, (uint32_t)br->kernel_gpa)) ||
	    (ret = fw_cfg_add_u32(m->fw_cfg, FW_CFG_KERNEL_SIZE,
				  (uint32_t)(br->kernel_end - br->kernel_gpa))) ||
	    (ret = fw_cfg_add_u32(m->fw_cfg, FW_CFG_KERNEL_ENTRY, br->entry)) ||
	    (ret = fw_cfg_add_u32(m->fw_cfg, FW_CFG_INITRD_ADDR, (uint32_t)br->initrd_gpa)) ||
	    (ret = fw_cfg_add_u32(m->fw_cfg, FW_CFG_INITRD_SIZE, (uint32_t)br->initrd_size)) ||
	    (ret = fw_cfg_add_u32(m->fw_cfg, FW_CFG_CMDLINE_ADDR, (uint32_t)br->cmdline_gpa)) ||
	    (ret = fw_cfg_add_u32(m->fw_cfg, FW_CFG_CMDLINE_SIZE, (uint32_t)clen)) ||
	    (ret = fw_cfg_add_bytes(m->fw_cfg, FW_CFG_CMDLINE_DATA, cmdline, clen)))
		return ret;
	/* etc/e820 in QEMU's format: packed {le64 address, le64 length, le32 type}. */
	uint8_t e820[E820_MAX * 20];
	for (unsigned i = 0; i < m->e820.nr; i++) {
		const struct e820_entry *e = &m->e820.entries[i];
		memcpy(e820 + 20 * i, &e->addr, 8);
		memcpy(e820 + 20 * i + 8, &e->size, 8);
		memcpy(e820 + 20 * i + 16, &e->type, 4);
	}
	if ((ret = fw_cfg_add_file(m->fw_cfg, "etc/e820", e820, 20 * m->e820.nr)) < 0)
		return ret;
	if (vm->cfg.testdev) {
		const uint32_t version = 1;
		if ((ret = fw_cfg_add_file(m->fw_cfg, "etc/vmon/testdev", &version, 4)) < 0)
			return ret;
	}
	if ((ret = machine_fw_cfg_vmio(m)))
		return ret;
	return reg(vm, &vm->pio, PORT_FW_CFG, FW_CFG_LEN, &fw_cfg_ops, m->fw_cfg, "fw_cfg");
}

static int machine_load_kernel(struct vm *vm, struct machine *m, uint64_t rsdp,
			       struct boot_result *br)
{
	char err[256] = "";
	uint8_t *kernel = NULL, *initrd = NULL;
	size_t klen = 0, ilen = 0;
	int ret =
	    boot_read_file(vm->cfg.kernel, &kernel, &klen, vm->mem.ram_size, err, sizeof(err));
	if (!ret && vm->cfg.initrd)
		ret = boot_read_file(vm->cfg.initrd, &initrd, &ilen, vm->mem.ram_size, err,
				     sizeof(err));
	if (!ret) {
		struct boot_input in = {.kernel = kernel,
					.kernel_len = klen,
					.kernel_name = vm->cfg.kernel,
					.initrd = initrd,
					.initrd_len = ilen,
					.initrd_name = vm->cfg.initrd,
					.cmdline = vm->cfg.cmdline,
					.rsdp_gpa = rsdp,
					.linux_cmdline_extra = m->linux_extra};
		ret = boot_load(&vm->mem, &m->e820, &in, br, err, sizeof(err));
	}
	if (ret)
		fprintf(stderr, "vmon: error: %s\n", err[0] ? err : strerror(-ret));
	else
		log_info("loaded %s kernel, entry 0x%x", boot_kind_name(br->kind), br->entry);
	free(kernel);
	free(initrd);
	return ret;
}

int machine_build(struct vm *vm)
{
	struct machine *m = calloc(1, sizeof(*m));
	struct boot_result br;
	uint64_t rsdp = 0;
	int ret;

	if (!m)
		return -ENOMEM;
	vm->machine = m;
	m->serial_fd = -1;
	if ((ret = evloop_init(&m->evloop)))
		return ret;
	m->evloop_ready = 1;
	if ((ret = machine_serial(vm, m)) || (ret = machine_legacy(vm, m)) ||
	    (ret = machine_virtio(vm, m)))
		return ret;
	ret = e820_build(&vm->mem, &m->e820);
	if (ret) {
		fprintf(stderr, "vmon: error: cannot build the e820 map: %s\n", strerror(-ret));
		return ret;
	}
	struct acpi_config acfg = {.ncpus = vm->ncpus, .have_pci = 1};
	for (unsigned i = 0; i < m->nr_vmio; i++) {
		acfg.virtio_mmio[i].base = vmio_base(m->vmio[i]);
		acfg.virtio_mmio[i].size = vmio_size(m->vmio[i]);
		acfg.virtio_mmio[i].gsi = vmio_gsi(m->vmio[i]);
	}
	acfg.nr_virtio_mmio = m->nr_vmio;
	ret = acpi_build(&vm->mem, &acfg, &rsdp);
	if (ret) {
		fprintf(stderr, "vmon: error: cannot build the ACPI tables: %s\n", strerror(-ret));
		return ret;
	}
	if ((ret = machine_load_kernel(vm, m, rsdp, &br)))
		return ret;
	vm->boot_state = br.bsp;
	return machine_fw_cfg(vm, m, &br);
}

static size_t console_to_uart(void *ctx, const uint8_t *buf, size_t len)
{
	int n = uart8250_receive(ctx, buf, len);
	return n > 0 ? (size_t)n : 0;
}

static size_t console_to_vcon(void *ctx, const uint8_t *buf, size_t len)
{
	return virtio_console_receive(ctx, buf, len);
}

int machine_start_io(struct vm *vm)
{
	struct machine *m = vm->machine;
	int ret;
	if (vm->cfg.console == CONSOLE_VIRTIO) {
		/* The terminal's input goes to the virtio console (the 8250 gets none). */
		ret = console_start(&m->console, &m->evloop, STDIN_FILENO, console_to_vcon, m->vcon,
				    vm_exit_sink(vm));
		if (ret) {
			log_err("cannot start the console: %s", strerror(-ret));
			return ret;
		}
		virtio_console_set_rx_ready(m->vcon, console_rx_ready, m->console);
	} else if (vm->cfg.serial == SERIAL_STDIO) {
		ret = console_start(&m->console, &m->evloop, STDIN_FILENO, console_to_uart, m->uart,
				    vm_exit_sink(vm));
		if (ret) {
			log_err("cannot start the console: %s", strerror(-ret));
			return ret;
		}
		uart8250_set_rx_ready(m->uart, console_rx_ready, m->console);
	}
	ret = evloop_start(&m->evloop);
	if (ret)
		log_err("cannot start the event loop: %s", strerror(-ret));
	return ret;
}

void machine_stop_io(struct vm *vm)
{
	struct machine *m = vm->machine;
	if (!m || !m->evloop_ready)
		return;
	evloop_stop(&m->evloop);
	if (m->uart)
		uart8250_set_rx_ready(m->uart, NULL, NULL);
	if (m->vcon)
		virtio_console_set_rx_ready(m->vcon, NULL, NULL);
	console_stop(m->console);
	m->console = NULL;
}

void machine_reset(struct vm *vm)
{
	struct machine *m = vm->machine;

	if (!m)
		return;
	uart8250_reset(m->uart);
	cmos_rtc_reset(m->rtc);
	i8042_reset(m->i8042);
	debug_exit_reset(m->debug_exit);
	pci_host_reset(m->pci);
	acpi_pm_reset(&m->pm);
	fw_cfg_reset(m->fw_cfg);
	for (unsigned i = 0; i < m->nr_vmio; i++)
		vmio_reset(m->vmio[i]);
	for (unsigned i = 0; i < m->nr_vpci; i++)
		vpci_reset(m->vpci[i]);
}

void machine_destroy(struct vm *vm)
{
	struct machine *m = vm->machine;
	if (!m)
		return;
	machine_stop_io(vm);
	for (unsigned i = 0; i < m->nr_vmio; i++)
		vmio_destroy(m->vmio[i]);
	for (unsigned i = 0; i < m->nr_vpci; i++)
		vpci_destroy(m->vpci[i]);
	virtio_console_destroy(m->vcon);
	virtio_rng_destroy(m->rng);
	for (unsigned i = 0; i < m->nr_disks; i++)
		virtio_blk_destroy(m->disk[i]);
	for (unsigned i = 0; i < m->nr_nets; i++)
		virtio_net_destroy(m->net[i]); /* and its back-end */
	vsock_uds_destroy(m->vsock_uds);
	virtio_vsock_destroy(m->vsock);
	control_destroy(m->control);
	virtio_balloon_destroy(m->balloon);
	if (m->evloop_ready)
		evloop_destroy(&m->evloop);
	if (m->testdev) {
		testdev_destroy(m->testdev);
		free(m->testdev);
	}
	if (m->pm_ready)
		acpi_pm_destroy(&m->pm);
	if (m->fw_cfg)
		fw_cfg_destroy(m->fw_cfg);
	if (m->pci)
		pci_host_destroy(m->pci);
	if (m->debug_exit)
		debug_exit_destroy(m->debug_exit);
	if (m->i8042)
		i8042_destroy(m->i8042);
	if (m->rtc)
		cmos_rtc_destroy(m->rtc);
	if (m->uart)
		uart8250_destroy(m->uart);
	if (m->serial_fd >= 0)
		close(m->serial_fd);
	free(m);
	vm->machine = NULL;
}
