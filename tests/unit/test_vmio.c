/* Unit tests for the machine's virtio-mmio slots (core/vmio): placement on the MMIO bus, queue
 * notifications reaching the device on the event-loop thread through the MMIO path and through
 * (fake) ioeventfds, the level-triggered line through set_irq and through a (fake) resample irqfd,
 * reset and tear-down. The backend is a fake accel_ops that records what it is asked. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "arch/x86/layout.h"
#include "core/vm.h"
#include "core/vmio.h"
#include "virtio/virtio_rng.h"
#include "virtq_builder.h"

#define QSIZE 16
#define DESC 0x1000
#define AVAIL 0x2000
#define USED 0x3000
#define BUF 0x8000

/* What the fake backend saw. One fixture at a time, so a file-scope recorder is enough. */
static struct {
	int have_fds; /* ioeventfd and irqfd succeed */
	int level[IOAPIC_NR_PINS];
	unsigned set_irq_calls;
	int ioev_fd[VIRTIO_MAX_QUEUES];
	uint64_t ioev_addr;
	unsigned ioev_assigned, ioev_deassigned;
	int irq_fd, resample_fd;
	unsigned irqfd_gsi, irqfd_assigned, irqfd_deassigned;
} rec;

static void fake_set_irq(struct vm *vm, unsigned gsi, int level)
{
	assert_true(gsi < IOAPIC_NR_PINS);
	rec.level[gsi] = level;
	rec.set_irq_calls++;
}

static int fake_ioeventfd(struct vm *vm, uint64_t addr, unsigned len, uint64_t datamatch, int fd,
			  int is_pio, int deassign)
{
	if (!rec.have_fds)
		return -ENOTSUP;
	assert_int_equal(len, 4);
	assert_int_equal(is_pio, 0);
	assert_true(datamatch < VIRTIO_MAX_QUEUES);
	rec.ioev_addr = addr;
	if (deassign) {
		assert_int_equal(rec.ioev_fd[datamatch], fd);
		rec.ioev_deassigned++;
	} else {
		rec.ioev_fd[datamatch] = fd;
		rec.ioev_assigned++;
	}
	return 0;
}

static int fake_irqfd(struct vm *vm, unsigned gsi, int fd, int resample_fd, int deassign)
{
	if (!rec.have_fds)
		return -ENOTSUP;
	if (deassign) {
		assert_int_equal(rec.irq_fd, fd);
		rec.irqfd_deassigned++;
		return 0;
	}
	rec.irq_fd = fd;
	rec.resample_fd = resample_fd;
	rec.irqfd_gsi = gsi;
	rec.irqfd_assigned++;
	return 0;
}

static const struct accel_ops fake_accel = {
    .name = "fake",
    .set_irq = fake_set_irq,
    .ioeventfd = fake_ioeventfd,
    .irqfd = fake_irqfd,
};

struct fixture {
	struct vm vm;
	struct evloop el;
	struct virtio_rng *rng;
	struct vmio_slot *s;
	struct vqb b;
};

static ssize_t zero_source(void *ctx, void *buf, size_t len)
{
	memset(buf, 0xab, len);
	return (ssize_t)len;
}

static int setup_with(void **state, int have_fds, unsigned slot)
{
	/* struct vm asks for 64-byte alignment, which test_calloc does not give. */
	size_t sz = (sizeof(struct fixture) + 63) & ~(size_t)63;
	struct fixture *fx = aligned_alloc(64, sz);

	assert_non_null(fx);
	memset(fx, 0, sizeof(*fx));
	memset(&rec, 0, sizeof(rec));
	rec.have_fds = have_fds;
	rec.irq_fd = rec.resample_fd = -1;
	fx->vm.accel = &fake_accel;
	assert_int_equal(bus_init(&fx->vm.mmio, BUS_MMIO), 0);
	assert_int_equal(fake_mem_add(&fx->vm.mem, 0, 0x100000), 0);
	assert_int_equal(evloop_init(&fx->el), 0);
	assert_int_equal(virtio_rng_create(&fx->vm.mem, zero_source, NULL, &fx->rng), 0);
	assert_int_equal(vmio_create(&fx->vm, &fx->el, slot, virtio_rng_dev(fx->rng), &fx->s), 0);
	assert_int_equal(evloop_start(&fx->el), 0);
	vqb_init(&fx->b, &fx->vm.mem, QSIZE, DESC, AVAIL, USED);
	*state = fx;
	return 0;
}

static int setup_plain(void **state)
{
	return setup_with(state, 0, 2);
}

static int setup_fds(void **state)
{
	return setup_with(state, 1, 0);
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	evloop_stop(&fx->el);
	vmio_destroy(fx->s);
	virtio_rng_destroy(fx->rng);
	evloop_destroy(&fx->el);
	bus_destroy(&fx->vm.mmio);
	fake_mem_destroy(&fx->vm.mem);
	free(fx);
	return 0;
}

static uint32_t bus_rd(struct fixture *fx, uint64_t off)
{
	uint64_t v = 0;
	assert_int_equal(bus_read(&fx->vm.mmio, vmio_base(fx->s) + off, 4, &v), 1);
	return (uint32_t)v;
}

static void bus_wr(struct fixture *fx, uint64_t off, uint32_t v)
{
	assert_int_equal(bus_write(&fx->vm.mmio, vmio_base(fx->s) + off, 4, v), 1);
}

/* Bring the device up through the bus as the guest would. */
static void driver_up(struct fixture *fx)
{
	struct virtio_mmio *m = vmio_transport(fx->s);

	assert_int_equal(bus_rd(fx, VIRTIO_MMIO_MAGIC_VALUE), VIRTIO_MMIO_MAGIC);
	assert_int_equal(bus_rd(fx, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_RNG);
	assert_true(mmio_negotiate(m, VIRTIO_CORE_FEATURES) & VIRTIO_STATUS_FEATURES_OK);
	assert_int_equal(mmio_setup_queue(m, 0, &fx->b), 1);
	mmio_driver_ok(m);
}

/* Wait (up to 2 s) until the used index reaches want. */
static void wait_used(struct fixture *fx, uint16_t want)
{
	for (int i = 0; i < 2000 && vqb_used_idx(&fx->b) != want; i++) {
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
	assert_int_equal(vqb_used_idx(&fx->b), want);
}

/* Wait (up to 2 s) until eventfd fd has been signalled; returns its counter. */
static uint64_t wait_efd(int fd)
{
	for (int i = 0; i < 2000; i++) {
		uint64_t v;
		if (read(fd, &v, sizeof(v)) == (ssize_t)sizeof(v))
			return v;
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
	return 0;
}

static void test_placement(void **state)
{
	struct fixture *fx = *state;
	struct vmio_slot *other;

	assert_int_equal(vmio_base(fx->s), LAYOUT_VIRTIO_MMIO_START + 2 * LAYOUT_VIRTIO_MMIO_SLOT);
	assert_int_equal(vmio_size(fx->s), LAYOUT_VIRTIO_MMIO_SIZE);
	assert_int_equal(vmio_gsi(fx->s), GSI_VIRTIO_FIRST + 2);
	assert_false(vmio_uses_ioeventfd(fx->s));
	assert_false(vmio_uses_irqfd(fx->s));
	/* The whole 4 KiB slot is claimed; the next slot is not. */
	uint64_t v = 1;
	assert_int_equal(bus_read(&fx->vm.mmio, vmio_base(fx->s) + 0xffc, 4, &v), 1);
	assert_int_equal(v, 0);
	assert_int_equal(bus_read(&fx->vm.mmio, vmio_base(fx->s) + 0x1000, 4, &v), 0);
	/* The transport lowered the line at creation. */
	assert_int_equal(rec.set_irq_calls, 1);
	assert_int_equal(rec.level[GSI_VIRTIO_FIRST + 2], 0);
	/* Bad slot numbers and a taken slot are refused. */
	assert_int_equal(
	    vmio_create(&fx->vm, &fx->el, LAYOUT_VIRTIO_MMIO_MAX, virtio_rng_dev(fx->rng), &other),
	    -EINVAL);
	assert_null(other);
	struct virtio_rng *rng2;
	assert_int_equal(virtio_rng_create(&fx->vm.mem, NULL, NULL, &rng2), 0);
	assert_int_equal(vmio_create(&fx->vm, &fx->el, 2, virtio_rng_dev(rng2), &other), -EEXIST);
	assert_int_equal(vmio_create(&fx->vm, &fx->el, 3, virtio_rng_dev(rng2), &other), 0);
	assert_int_equal(vmio_base(other), vmio_base(fx->s) + LAYOUT_VIRTIO_MMIO_SLOT);
	vmio_destroy(other);
	virtio_rng_destroy(rng2);
	vmio_destroy(NULL);
}

static void test_mmio_notify_and_set_irq(void **state)
{
	struct fixture *fx = *state;
	struct vqb_seg seg = {BUF, 32, 1};
	unsigned gsi = vmio_gsi(fx->s);

	driver_up(fx);
	vqb_add(&fx->b, &seg, 1);
	bus_wr(fx, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	wait_used(fx, 1);
	assert_int_equal(fake_mem_ptr(&fx->vm.mem, BUF)[31], 0xab);
	assert_int_equal(rec.level[gsi], 1);
	assert_int_equal(bus_rd(fx, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_INT_USED);
	bus_wr(fx, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_INT_USED);
	assert_int_equal(rec.level[gsi], 0);
	/* A buffer made available before DRIVER_OK is served by the DRIVER_OK kick. */
	assert_true(mmio_negotiate(vmio_transport(fx->s), VIRTIO_CORE_FEATURES) &
		    VIRTIO_STATUS_FEATURES_OK);
	vqb_init(&fx->b, &fx->vm.mem, QSIZE, DESC, AVAIL, USED);
	assert_int_equal(mmio_setup_queue(vmio_transport(fx->s), 0, &fx->b), 1);
	vqb_add(&fx->b, &seg, 1);
	mmio_driver_ok(vmio_transport(fx->s));
	wait_used(fx, 1);
	assert_int_equal(rec.level[gsi], 1);
	/* Machine reset: device back to status 0, line down. */
	vmio_reset(fx->s);
	assert_int_equal(bus_rd(fx, VIRTIO_MMIO_STATUS), 0);
	assert_int_equal(bus_rd(fx, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	assert_int_equal(rec.level[gsi], 0);
}

static void test_ioeventfd_and_irqfd(void **state)
{
	struct fixture *fx = *state;
	struct vqb_seg seg = {BUF, 16, 1};
	uint64_t one = 1;

	assert_true(vmio_uses_ioeventfd(fx->s));
	assert_true(vmio_uses_irqfd(fx->s));
	assert_int_equal(rec.ioev_assigned, 1); /* one queue */
	assert_int_equal(rec.ioev_addr, LAYOUT_VIRTIO_MMIO_START + VIRTIO_MMIO_QUEUE_NOTIFY);
	assert_int_equal(rec.irqfd_assigned, 1);
	assert_int_equal(rec.irqfd_gsi, GSI_VIRTIO_FIRST);
	assert_int_equal(rec.set_irq_calls, 0); /* never set_irq with an irqfd */

	driver_up(fx);
	vqb_add(&fx->b, &seg, 1);
	/* The "kernel" signals the queue's ioeventfd instead of an MMIO exit. */
	assert_int_equal(write(rec.ioev_fd[0], &one, 8), 8);
	wait_used(fx, 1);
	assert_true(wait_efd(rec.irq_fd) >= 1); /* the line was raised through the irqfd */
	/* EOI with InterruptStatus still set: the resample raises it again. */
	assert_int_equal(write(rec.resample_fd, &one, 8), 8);
	assert_true(wait_efd(rec.irq_fd) >= 1);
	/* After the ACK an EOI leaves it down. */
	bus_wr(fx, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_INT_USED);
	assert_int_equal(write(rec.resample_fd, &one, 8), 8);
	struct timespec ts = {0, 50000000};
	nanosleep(&ts, NULL);
	uint64_t v;
	assert_int_equal(read(rec.irq_fd, &v, 8), -1);
	/* An MMIO write of QueueNotify (the backend did not catch it) still works. */
	vqb_add(&fx->b, &seg, 1);
	bus_wr(fx, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	wait_used(fx, 2);
	assert_int_equal(rec.set_irq_calls, 0);

	evloop_stop(&fx->el);
	vmio_destroy(fx->s);
	fx->s = NULL;
	assert_int_equal(rec.ioev_deassigned, 1);
	assert_int_equal(rec.irqfd_deassigned, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_placement, setup_plain, teardown),
	    cmocka_unit_test_setup_teardown(test_mmio_notify_and_set_irq, setup_plain, teardown),
	    cmocka_unit_test_setup_teardown(test_ioeventfd_and_irqfd, setup_fds, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
