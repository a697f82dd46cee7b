/* virtio-pci devices of the PC machine. See vpci.h for the notification and interrupt paths. */
#include "core/vpci.h"
#include "arch/x86/layout.h"
#include "core/log.h"
#include "core/vm.h"
#include "core/vqkick.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct vpci_dev;

/* One queue's ioeventfd. */
struct vpci_queue {
	struct vpci_dev *d;
	unsigned q;
	int fd; /* -1 when not in use */
	int watched;
};

/* One MSI-X vector's eventfd bound to its message (accel->msi_irqfd). Device lock. */
struct vpci_vector {
	int fd; /* -1 until first used */
	int route;
	uint64_t addr;
	uint32_t data;
};

struct vpci_dev {
	struct vm *vm;
	struct evloop *el;
	struct pci_host *host;
	struct virtio_dev *vdev;
	struct virtio_pci *pci;
	unsigned n;
	unsigned gsi;
	char name[24];
	char msix_name[32];

	struct vq_kick kick; /* queue notifies to the event loop (core/vqkick.h) */
	struct vpci_queue q[VIRTIO_MAX_QUEUES];

	/* Under the PCI host lock (bar_map hook) or before the function is registered. */
	uint64_t bar_addr;  /* BAR4 registered on vm->mmio here, or PCI_BAR_UNMAPPED */
	uint64_t msix_addr; /* BAR1 likewise */
	uint64_t ioev_addr; /* BAR4 base the ioeventfds are assigned at, or PCI_BAR_UNMAPPED */
	int ioev_off;	    /* the backend refused an ioeventfd: use the MMIO path from now on */
	atomic_int ioev_used;

	/* MSI-X through irqfds (device lock, as the msi sink is called with it). */
	struct vpci_vector vec[VIRTIO_PCI_MAX_VECTORS];
	int msi_irqfd_off; /* the backend has none or refused one: accel->msi from now on */
	atomic_int msi_irqfd_used;
};

static void vpci_on_ioeventfd(void *ctx, int fd, uint32_t events)
{
	struct vpci_queue *vq = ctx;

	vq_efd_drain(fd);
	vq_kick_run(&vq->d->kick, vq->q);
}

/* Transport callback (vCPU thread, or the DRIVER_OK kick; no device lock held). */
static void vpci_notify(void *ctx, unsigned q)
{
	struct vpci_dev *d = ctx;

	vq_kick_post(&d->kick, q);
}

/* Send through the vector's irqfd, binding it to the message first when it is new or changed. */
static int vpci_msi_irqfd(struct vpci_dev *d, struct vpci_vector *e, uint64_t addr, uint32_t data)
{
	int ret = 0;

	if (e->fd < 0 && (e->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
		return -errno;
	if (e->route < 0 || e->addr != addr || e->data != data) {
		ret = d->vm->accel->msi_irqfd(d->vm, &e->route, e->fd, addr, data, 0);
		if (ret)
			return ret;
		log_debug("%s: MSI-X vector %u (0x%llx/0x%x) through irqfd route %d", d->name,
			  (unsigned)(e - d->vec), (unsigned long long)addr, data, e->route);
	}
	e->addr = addr;
	e->data = data;
	atomic_store(&d->msi_irqfd_used, 1);
	vq_efd_signal(e->fd);
	return 0;
}

/* The transport's msi sink (device lock held). */
static int vpci_msi(void *ctx, unsigned vector, uint64_t addr, uint32_t data)
{
	struct vpci_dev *d = ctx;
	const struct accel_ops *a = d->vm->accel;

	if ((addr & ACCEL_MSI_ADDR_MASK) != ACCEL_MSI_ADDR_BASE)
		return -EINVAL; /* not an interrupt message: the write goes nowhere */
	if (a->msi_irqfd && !d->msi_irqfd_off && vector < VIRTIO_PCI_MAX_VECTORS) {
		int ret = vpci_msi_irqfd(d, &d->vec[vector], addr, data);
		if (!ret)
			return 0;
		d->msi_irqfd_off = 1;
		log_debug("%s: MSI-X through %s msi (no irqfd route: %s)", d->name, a->name,
			  strerror(-ret));
	}
	if (!a->msi)
		return -ENOTSUP;
	return a->msi(d->vm, addr, data);
}

static void vpci_intx_set(void *ctx, unsigned gsi, int level)
{
	struct vpci_dev *d = ctx;

	d->vm->accel->set_irq(d->vm, gsi, level);
}

/* Deassign the ioeventfds at d->ioev_addr. Host lock held (or no guest running). */
static void vpci_ioev_unassign(struct vpci_dev *d, unsigned upto)
{
	for (unsigned i = 0; i < upto; i++)
		d->vm->accel->ioeventfd(d->vm, d->ioev_addr + virtio_pci_notify_addr(i), 2, i,
					d->q[i].fd, 0, 1);
	d->ioev_addr = PCI_BAR_UNMAPPED;
	atomic_store(&d->ioev_used, 0);
}

static void vpci_ioev_assign(struct vpci_dev *d, uint64_t base)
{
	const struct accel_ops *a = d->vm->accel;
	int ret = 0;

	if (d->ioev_off || d->q[0].fd < 0)
		return;
	d->ioev_addr = base;
	for (unsigned i = 0; i < d->vdev->nr_queues; i++) {
		ret = a->ioeventfd(d->vm, base + virtio_pci_notify_addr(i), 2, i, d->q[i].fd, 0, 0);
		if (ret) {
			vpci_ioev_unassign(d, i);
			d->ioev_off = 1;
			log_debug("%s: queue notifies through MMIO exits (no ioeventfd: %s)",
				  d->name, strerror(-ret));
			return;
		}
	}
	atomic_store(&d->ioev_used, 1);
	log_debug("%s: %u queue notifies through ioeventfd at 0x%llx", d->name, d->vdev->nr_queues,
		  (unsigned long long)(base + virtio_pci_notify_addr(0)));
}

/* The host's bar_map hook, through the transport (host lock held). */
static void vpci_map(void *ctx, unsigned bar, uint64_t old_addr, uint64_t new_addr)
{
	struct vpci_dev *d = ctx;
	int is_msix = bar == VIRTIO_PCI_MSIX_BAR;
	uint64_t *cur = is_msix ? &d->msix_addr : &d->bar_addr;
	uint64_t len = is_msix ? VIRTIO_PCI_MSIX_BAR_SIZE : VIRTIO_PCI_BAR_SIZE;
	const struct bus_ops *ops = is_msix ? &virtio_pci_msix_ops : &virtio_pci_bar_ops;
	const char *name = is_msix ? d->msix_name : d->name;

	if (bar != VIRTIO_PCI_BAR && !is_msix)
		return;
	if (!is_msix && d->ioev_addr != PCI_BAR_UNMAPPED)
		vpci_ioev_unassign(d, d->vdev->nr_queues);
	if (*cur != PCI_BAR_UNMAPPED) {
		bus_unregister(&d->vm->mmio, *cur, d->pci);
		*cur = PCI_BAR_UNMAPPED;
	}
	if (new_addr == PCI_BAR_UNMAPPED)
		return;
	int ret = bus_register(&d->vm->mmio, new_addr, len, ops, d->pci, name);
	if (ret) {
		log_rl(LOG_WARN, "%s: BAR%u at 0x%llx not mapped: %s", d->name, bar,
		       (unsigned long long)new_addr, strerror(-ret));
		return;
	}
	*cur = new_addr;
	log_debug("%s: BAR%u at 0x%llx", d->name, bar, (unsigned long long)new_addr);
	if (!is_msix)
		vpci_ioev_assign(d, new_addr);
}

static int vpci_queues_setup(struct vpci_dev *d)
{
	int ret;

	if (!d->vm->accel->ioeventfd)
		return 0;
	for (unsigned i = 0; i < d->vdev->nr_queues; i++) {
		struct vpci_queue *vq = &d->q[i];
		vq->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (vq->fd < 0)
			return -errno;
		if ((ret = evloop_add(d->el, vq->fd, EPOLLIN, vpci_on_ioeventfd, vq)))
			return ret;
		vq->watched = 1;
	}
	return 0;
}

int vpci_create(struct vm *vm, struct evloop *el, struct pci_host *host, unsigned n,
		struct virtio_dev *vdev, struct vpci_dev **out)
{
	struct vpci_dev *d;
	int ret;

	*out = NULL;
	if (n < 1 || n > LAYOUT_PCI_MAX_DEVICES || !vdev)
		return -EINVAL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->vm = vm;
	d->el = el;
	d->host = host;
	d->vdev = vdev;
	d->n = n;
	d->gsi = GSI_PCI_INTX(n, 0);
	d->bar_addr = d->msix_addr = d->ioev_addr = PCI_BAR_UNMAPPED;
	for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++)
		d->q[i] = (struct vpci_queue){d, i, -1, 0};
	for (unsigned i = 0; i < VIRTIO_PCI_MAX_VECTORS; i++)
		d->vec[i] = (struct vpci_vector){-1, -1, 0, 0};
	snprintf(d->name, sizeof(d->name), "virtio-pci.%u", n);
	snprintf(d->msix_name, sizeof(d->msix_name), "virtio-pci.%u-msix", n);

	vq_kick_preinit(&d->kick);
	if ((ret = vq_kick_init(&d->kick, el, vdev)))
		goto fail;
	if ((ret = vpci_queues_setup(d)))
		goto fail;
	struct virtio_pci_wiring w = {
	    .host = host,
	    .slot = n,
	    .intx = {vpci_intx_set, d, d->gsi},
	    .msi = {vpci_msi, d},
	    .notify = vpci_notify,
	    .map = vpci_map,
	    .ctx = d,
	};
	if ((ret = virtio_pci_create(vdev, &w, &d->pci)))
		goto fail;
	*out = d;
	return 0;
fail:
	vpci_destroy(d);
	return ret;
}

void vpci_destroy(struct vpci_dev *d)
{
	if (!d)
		return;
	if (d->ioev_addr != PCI_BAR_UNMAPPED)
		vpci_ioev_unassign(d, d->vdev->nr_queues);
	if (d->bar_addr != PCI_BAR_UNMAPPED)
		bus_unregister(&d->vm->mmio, d->bar_addr, d->pci);
	if (d->msix_addr != PCI_BAR_UNMAPPED)
		bus_unregister(&d->vm->mmio, d->msix_addr, d->pci);
	virtio_pci_destroy(d->pci);
	for (unsigned i = 0; i < VIRTIO_PCI_MAX_VECTORS; i++) {
		struct vpci_vector *e = &d->vec[i];
		if (e->route >= 0)
			d->vm->accel->msi_irqfd(d->vm, &e->route, e->fd, 0, 0, 1);
		if (e->fd >= 0)
			close(e->fd);
	}
	for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++) {
		if (d->q[i].watched)
			evloop_del(d->el, d->q[i].fd);
		if (d->q[i].fd >= 0)
			close(d->q[i].fd);
	}
	vq_kick_destroy(&d->kick);
	free(d);
}

void vpci_reset(struct vpci_dev *d)
{
	vq_kick_clear(&d->kick);
	virtio_pci_reset(d->pci);
}

unsigned vpci_slot(const struct vpci_dev *d)
{
	return d->n;
}

unsigned vpci_gsi(const struct vpci_dev *d)
{
	return d->gsi;
}

struct virtio_pci *vpci_transport(struct vpci_dev *d)
{
	return d->pci;
}

uint64_t vpci_bar_addr(const struct vpci_dev *d)
{
	return d->bar_addr;
}

int vpci_uses_ioeventfd(const struct vpci_dev *d)
{
	return atomic_load(&d->ioev_used);
}

int vpci_uses_msi_irqfd(const struct vpci_dev *d)
{
	return atomic_load(&d->msi_irqfd_used);
}
