/* The PC machine: the one place that wires devices, firmware tables and the kernel together. */
#include "core/machine_priv.h"

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
