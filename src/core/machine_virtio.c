/* The PC machine's virtio devices: each one the configuration asks for, created over guest memory
 * and the event loop, and attached to the chosen transport (virtio-mmio slot or PCI device). */
#include "core/machine_priv.h"

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
int machine_virtio(struct vm *vm, struct machine *m)
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
int machine_fw_cfg_vmio(struct machine *m)
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
