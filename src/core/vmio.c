/* virtio-mmio slots of the PC machine. See vmio.h for the notification and interrupt paths. */
#include "core/vmio.h"
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

struct vmio_slot;

/* One queue's ioeventfd. */
struct vmio_queue {
	struct vmio_slot *s;
	unsigned q;
	int fd; /* -1 when not in use */
};

struct vmio_slot {
	struct vm *vm;
	struct evloop *el;
	struct virtio_dev *vdev;
	struct virtio_mmio *mmio;
	unsigned n;
	uint64_t base;
	unsigned gsi;
	char name[24];
	int registered; /* on vm->mmio */

	struct vq_kick kick; /* queue notifies to the event loop (core/vqkick.h) */
	int nr_ioeventfd;    /* queues with an ioeventfd (0, or every queue) */
	struct vmio_queue q[VIRTIO_MAX_QUEUES];

	int irq_fd;	 /* irqfd, or -1: the line goes through accel->set_irq */
	int resample_fd; /* its resample eventfd */
	int resample_watched;
	atomic_int level; /* what the transport last set the line to */
};

static void vmio_on_ioeventfd(void *ctx, int fd, uint32_t events)
{
	struct vmio_queue *vq = ctx;

	vq_efd_drain(fd);
	vq_kick_run(&vq->s->kick, vq->q);
}

/* Transport callback (vCPU thread, or the DRIVER_OK kick; no lock held). */
static void vmio_notify(void *ctx, unsigned q)
{
	struct vmio_slot *s = ctx;

	vq_kick_post(&s->kick, q);
}

/* The transport's irq_line (device lock held). */
static void vmio_irq_set(void *ctx, unsigned gsi, int level)
{
	struct vmio_slot *s = ctx;

	atomic_store(&s->level, level ? 1 : 0);
	if (s->irq_fd >= 0) {
		if (level)
			vq_efd_signal(s->irq_fd);
		/* Lowering needs nothing: the backend lowers the line at EOI. */
		return;
	}
	s->vm->accel->set_irq(s->vm, gsi, level);
}

/* Loop thread: the guest EOIed the interrupt and the backend lowered the line; raise it again
 * while InterruptStatus is still non-zero (a level line that stayed high). */
static void vmio_on_resample(void *ctx, int fd, uint32_t events)
{
	struct vmio_slot *s = ctx;

	vq_efd_drain(fd);
	if (atomic_load(&s->level))
		vq_efd_signal(s->irq_fd);
}

static void vmio_irqfd_setup(struct vmio_slot *s)
{
	const struct accel_ops *a = s->vm->accel;
	int ret = -ENOTSUP;

	if (!a->irqfd)
		goto fallback;
	s->irq_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	s->resample_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->irq_fd < 0 || s->resample_fd < 0) {
		ret = -errno;
		goto fallback;
	}
	ret = a->irqfd(s->vm, s->gsi, s->irq_fd, s->resample_fd, 0);
	if (ret)
		goto fallback;
	ret = evloop_add(s->el, s->resample_fd, EPOLLIN, vmio_on_resample, s);
	if (ret) {
		a->irqfd(s->vm, s->gsi, s->irq_fd, s->resample_fd, 1);
		goto fallback;
	}
	s->resample_watched = 1;
	log_debug("%s: GSI %u through a resample irqfd", s->name, s->gsi);
	return;
fallback:
	if (s->irq_fd >= 0)
		close(s->irq_fd);
	if (s->resample_fd >= 0)
		close(s->resample_fd);
	s->irq_fd = s->resample_fd = -1;
	log_debug("%s: GSI %u through %s set_irq (no irqfd: %s)", s->name, s->gsi, a->name,
		  strerror(-ret));
}

static void vmio_ioeventfd_teardown(struct vmio_slot *s)
{
	uint64_t addr = s->base + virtio_mmio_notify_offset();

	for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++) {
		struct vmio_queue *vq = &s->q[i];
		if (vq->fd < 0)
			continue;
		evloop_del(s->el, vq->fd);
		if (i < (unsigned)s->nr_ioeventfd)
			s->vm->accel->ioeventfd(s->vm, addr, 4, i, vq->fd, 0, 1);
		close(vq->fd);
		vq->fd = -1;
	}
	s->nr_ioeventfd = 0;
}

static void vmio_ioeventfd_setup(struct vmio_slot *s)
{
	const struct accel_ops *a = s->vm->accel;
	uint64_t addr = s->base + virtio_mmio_notify_offset();
	int ret = -ENOTSUP;

	if (!a->ioeventfd)
		goto fallback;
	for (unsigned i = 0; i < s->vdev->nr_queues; i++) {
		struct vmio_queue *vq = &s->q[i];
		vq->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (vq->fd < 0) {
			ret = -errno;
			goto fallback;
		}
		ret = a->ioeventfd(s->vm, addr, 4, i, vq->fd, 0, 0);
		if (ret)
			goto fallback;
		s->nr_ioeventfd = (int)i + 1;
		ret = evloop_add(s->el, vq->fd, EPOLLIN, vmio_on_ioeventfd, vq);
		if (ret)
			goto fallback;
	}
	log_debug("%s: %u queue notifies through ioeventfd", s->name, s->vdev->nr_queues);
	return;
fallback:
	vmio_ioeventfd_teardown(s);
	log_debug("%s: queue notifies through MMIO exits (no ioeventfd: %s)", s->name,
		  strerror(-ret));
}

int vmio_create(struct vm *vm, struct evloop *el, unsigned n, struct virtio_dev *vdev,
		struct vmio_slot **out)
{
	struct vmio_slot *s;
	int ret;

	*out = NULL;
	if (n >= LAYOUT_VIRTIO_MMIO_MAX || !vdev)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->vm = vm;
	s->el = el;
	s->vdev = vdev;
	s->n = n;
	s->base = LAYOUT_VIRTIO_MMIO_START + n * LAYOUT_VIRTIO_MMIO_SLOT;
	s->gsi = GSI_VIRTIO_FIRST + n;
	s->irq_fd = s->resample_fd = -1;
	for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++)
		s->q[i] = (struct vmio_queue){s, i, -1};
	snprintf(s->name, sizeof(s->name), "virtio-mmio.%u", n);

	vq_kick_preinit(&s->kick);
	if ((ret = vq_kick_init(&s->kick, el, vdev)))
		goto fail;
	vmio_irqfd_setup(s);
	ret = virtio_mmio_create(vdev, (struct irq_line){vmio_irq_set, s, s->gsi}, vmio_notify, s,
				 &s->mmio);
	if (ret)
		goto fail;
	ret = bus_register(&vm->mmio, s->base, LAYOUT_VIRTIO_MMIO_SLOT, &virtio_mmio_ops, s->mmio,
			   s->name);
	if (ret)
		goto fail;
	s->registered = 1;
	vmio_ioeventfd_setup(s);
	*out = s;
	return 0;
fail:
	vmio_destroy(s);
	return ret;
}

void vmio_destroy(struct vmio_slot *s)
{
	if (!s)
		return;
	vmio_ioeventfd_teardown(s);
	if (s->registered)
		bus_unregister(&s->vm->mmio, s->base, s->mmio);
	virtio_mmio_destroy(s->mmio);
	if (s->resample_watched)
		evloop_del(s->el, s->resample_fd);
	if (s->irq_fd >= 0) {
		s->vm->accel->irqfd(s->vm, s->gsi, s->irq_fd, s->resample_fd, 1);
		close(s->irq_fd);
		close(s->resample_fd);
	}
	vq_kick_destroy(&s->kick);
	free(s);
}

void vmio_reset(struct vmio_slot *s)
{
	vq_kick_clear(&s->kick);
	virtio_mmio_reset(s->mmio);
}

uint64_t vmio_base(const struct vmio_slot *s)
{
	return s->base;
}

uint64_t vmio_size(const struct vmio_slot *s)
{
	return LAYOUT_VIRTIO_MMIO_SIZE;
}

unsigned vmio_gsi(const struct vmio_slot *s)
{
	return s->gsi;
}

struct virtio_mmio *vmio_transport(struct vmio_slot *s)
{
	return s->mmio;
}

int vmio_uses_ioeventfd(const struct vmio_slot *s)
{
	return s->nr_ioeventfd > 0;
}

int vmio_uses_irqfd(const struct vmio_slot *s)
{
	return s->irq_fd >= 0;
}
