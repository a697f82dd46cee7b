/* The queue-notify path shared by the virtio transports' wiring. See vqkick.h. */
#include "core/vqkick.h"

#include <errno.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

void vq_efd_signal(int fd)
{
	(void)eventfd_write(fd, 1);
}

void vq_efd_drain(int fd)
{
	eventfd_t v;
	(void)eventfd_read(fd, &v);
}

void vq_kick_run(struct vq_kick *k, unsigned q)
{
	if (virtio_dev_notify(k->vdev, q)) {
		atomic_fetch_or(&k->pending, 1u << q);
		vq_efd_signal(k->fd);
	}
}

static void vq_kick_on_fd(void *ctx, int fd, uint32_t events)
{
	struct vq_kick *k = ctx;

	(void)events;
	vq_efd_drain(fd);
	unsigned bits = atomic_exchange(&k->pending, 0);
	for (unsigned q = 0; bits; q++, bits >>= 1)
		if (bits & 1)
			vq_kick_run(k, q);
}

void vq_kick_post(struct vq_kick *k, unsigned q)
{
	if (q >= VIRTIO_MAX_QUEUES)
		return;
	atomic_fetch_or(&k->pending, 1u << q);
	vq_efd_signal(k->fd);
}

void vq_kick_preinit(struct vq_kick *k)
{
	k->fd = -1;
	k->watched = 0;
	atomic_init(&k->pending, 0);
}

int vq_kick_init(struct vq_kick *k, struct evloop *el, struct virtio_dev *vdev)
{
	int ret;

	k->el = el;
	k->vdev = vdev;
	k->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (k->fd < 0)
		return -errno;
	if ((ret = evloop_add(el, k->fd, EPOLLIN, vq_kick_on_fd, k)))
		return ret;
	k->watched = 1;
	return 0;
}

void vq_kick_destroy(struct vq_kick *k)
{
	if (k->watched)
		evloop_del(k->el, k->fd);
	k->watched = 0;
	if (k->fd >= 0)
		close(k->fd);
	k->fd = -1;
}

void vq_kick_clear(struct vq_kick *k)
{
	atomic_store(&k->pending, 0);
}
