/* Unit tests for the machine's virtio-pci devices (core/vpci): BARs placed on the MMIO bus where
 * config writes put them, per-queue ioeventfds (fake) that follow BAR4, notifications reaching the
 * device on the event-loop thread through the MMIO path and through the eventfds, MSI-X messages
 * through accel->msi, INTx through set_irq, reset and tear-down. The backend is a fake accel_ops
 * that records what it is asked. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "arch/x86/layout.h"
#include "core/vm.h"
#include "core/vpci.h"
#include "virtio/virtio_rng.h"
#include "virtq_builder.h"

#define QSIZE 16
#define DESC 0x1000
#define AVAIL 0x2000
#define USED 0x3000
#define BUF 0x8000
#define SLOT 1
#define BDF PCI_BDF(0, SLOT, 0)
#define BAR4 0xc0000000ull
#define BAR1 0xc0004000ull

/* What the fake backend saw. One fixture at a time, so a file-scope recorder is enough. */
static struct {
	int have_fds;
	atomic_int level[IOAPIC_NR_PINS];
	int ioev_fd;
	uint64_t ioev_addr;
	unsigned ioev_assigned, ioev_deassigned;
	atomic_uint msis;
	_Atomic uint64_t msi_addr;
	atomic_uint msi_data;
	/* msi_irqfd: the one route (the test uses vector 0 only) */
	int route_fd;
	uint64_t route_addr;
	uint32_t route_data;
	unsigned routes_made, routes_changed, routes_removed;
} rec;

static void fake_set_irq(struct vm *vm, unsigned gsi, int level)
{
	assert_true(gsi < IOAPIC_NR_PINS);
	atomic_store(&rec.level[gsi], level);
}

static int fake_ioeventfd(struct vm *vm, uint64_t addr, unsigned len, uint64_t datamatch, int fd,
			  int is_pio, int deassign)
{
	if (!rec.have_fds)
		return -ENOTSUP;
	assert_int_equal(len, 2);
	assert_int_equal(is_pio, 0);
	assert_int_equal(datamatch, 0); /* the rng has one queue */
	if (deassign) {
		assert_int_equal(rec.ioev_addr, addr);
		assert_int_equal(rec.ioev_fd, fd);
		rec.ioev_deassigned++;
		rec.ioev_addr = 0;
	} else {
		rec.ioev_addr = addr;
		rec.ioev_fd = fd;
		rec.ioev_assigned++;
	}
	return 0;
}

static int fake_msi(struct vm *vm, uint64_t addr, uint32_t data)
{
	atomic_store(&rec.msi_addr, addr);
	atomic_store(&rec.msi_data, data);
	atomic_fetch_add(&rec.msis, 1);
	return 0;
}

/* Called with the device lock held, from the loop thread: the test thread only reads rec after
 * waiting for the effect. */
static int fake_msi_irqfd(struct vm *vm, int *route, int fd, uint64_t addr, uint32_t data,
			  int deassign)
{
	if (!rec.have_fds)
		return -ENOTSUP;
	if (deassign) {
		assert_int_equal(*route, 7);
		assert_int_equal(fd, rec.route_fd);
		rec.routes_removed++;
		*route = -1;
		return 0;
	}
	if (*route < 0) {
		*route = 7;
		rec.route_fd = fd;
		rec.routes_made++;
	} else {
		assert_int_equal(*route, 7);
		rec.routes_changed++;
	}
	rec.route_addr = addr;
	rec.route_data = data;
	return 0;
}

static const struct accel_ops fake_accel = {
    .name = "fake",
    .set_irq = fake_set_irq,
    .ioeventfd = fake_ioeventfd,
    .msi = fake_msi,
    .msi_irqfd = fake_msi_irqfd,
};

struct fixture {
	struct vm vm;
	struct evloop el;
	struct pci_host *host;
	struct virtio_rng *rng;
	struct vpci_dev *d;
	struct vqb b;
};

static ssize_t fill_source(void *ctx, void *buf, size_t len)
{
	memset(buf, 0xab, len);
	return (ssize_t)len;
}

static int setup_with(void **state, int have_fds)
{
	/* struct vm asks for 64-byte alignment, which test_calloc does not give. */
	size_t sz = (sizeof(struct fixture) + 63) & ~(size_t)63;
	struct fixture *fx = aligned_alloc(64, sz);

	assert_non_null(fx);
	memset(fx, 0, sizeof(*fx));
	memset(&rec, 0, sizeof(rec));
	rec.have_fds = have_fds;
	rec.ioev_fd = -1;
	fx->vm.accel = &fake_accel;
	assert_int_equal(bus_init(&fx->vm.mmio, BUS_MMIO), 0);
	assert_int_equal(fake_mem_add(&fx->vm.mem, 0, 0x100000), 0);
	assert_int_equal(evloop_init(&fx->el), 0);
	assert_int_equal(pci_host_create((struct exit_sink){NULL, NULL}, &fx->host), 0);
	assert_int_equal(virtio_rng_create(&fx->vm.mem, fill_source, NULL, &fx->rng), 0);
	assert_int_equal(
	    vpci_create(&fx->vm, &fx->el, fx->host, SLOT, virtio_rng_dev(fx->rng), &fx->d), 0);
	assert_int_equal(evloop_start(&fx->el), 0);
	vqb_init(&fx->b, &fx->vm.mem, QSIZE, DESC, AVAIL, USED);
	*state = fx;
	return 0;
}

static int setup_plain(void **state)
{
	return setup_with(state, 0);
}

static int setup_fds(void **state)
{
	return setup_with(state, 1);
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	evloop_stop(&fx->el);
	vpci_destroy(fx->d);
	assert_int_equal(rec.routes_removed, rec.routes_made); /* irqfd routes released */
	pci_host_destroy(fx->host);
	virtio_rng_destroy(fx->rng);
	evloop_destroy(&fx->el);
	bus_destroy(&fx->vm.mmio);
	fake_mem_destroy(&fx->vm.mem);
	free(fx);
	return 0;
}

static void cfg_wr(struct fixture *fx, unsigned reg, unsigned size, uint32_t v)
{
	assert_int_equal(pci_host_config_write(fx->host, BDF, reg, size, v), 0);
}

static unsigned msix_cap(struct fixture *fx)
{
	uint32_t pos = 0, id = 0;
	assert_int_equal(pci_host_config_read(fx->host, BDF, PCI_CAPABILITY_LIST, 1, &pos), 0);
	for (unsigned n = 0; pos && n < 48; n++) {
		assert_int_equal(pci_host_config_read(fx->host, BDF, pos, 1, &id), 0);
		if (id == PCI_CAP_ID_MSIX)
			return pos;
		assert_int_equal(pci_host_config_read(fx->host, BDF, pos + 1, 1, &pos), 0);
	}
	fail_msg("no MSI-X capability");
	return 0;
}

static uint64_t rd(struct fixture *fx, uint64_t addr, unsigned size)
{
	uint64_t v = 0;
	assert_int_equal(bus_read(&fx->vm.mmio, addr, size, &v), 1);
	return v;
}

static void wr(struct fixture *fx, uint64_t addr, unsigned size, uint64_t v)
{
	assert_int_equal(bus_write(&fx->vm.mmio, addr, size, v), 1);
}

static void assign(struct fixture *fx, uint64_t bar4)
{
	cfg_wr(fx, PCI_BASE_ADDRESS_0 + 4 * VIRTIO_PCI_BAR, 4, (uint32_t)bar4);
	cfg_wr(fx, PCI_BASE_ADDRESS_0 + 4 * VIRTIO_PCI_BAR + 4, 4, (uint32_t)(bar4 >> 32));
	cfg_wr(fx, PCI_BASE_ADDRESS_0 + 4 * VIRTIO_PCI_MSIX_BAR, 4, (uint32_t)BAR1);
	cfg_wr(fx, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
}

/* The guest's side: features, queue 0 from fx->b with vector 0, DRIVER_OK. */
static void driver_up(struct fixture *fx, uint64_t bar4)
{
	wr(fx, bar4 + VIRTIO_PCI_COMMON_STATUS, 1, 0);
	wr(fx, bar4 + VIRTIO_PCI_COMMON_STATUS, 1, 3);
	wr(fx, bar4 + VIRTIO_PCI_COMMON_GFSELECT, 4, 1);
	wr(fx, bar4 + VIRTIO_PCI_COMMON_GF, 4, 1);
	wr(fx, bar4 + VIRTIO_PCI_COMMON_STATUS, 1, 0xb);
	wr(fx, bar4 + VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
	wr(fx, bar4 + VIRTIO_PCI_COMMON_Q_SIZE, 2, QSIZE);
	wr(fx, bar4 + VIRTIO_PCI_COMMON_Q_MSIX, 2, 0);
	wr(fx, bar4 + VIRTIO_PCI_COMMON_Q_DESC, 8, DESC);
	wr(fx, bar4 + VIRTIO_PCI_COMMON_Q_AVAIL, 8, AVAIL);
	wr(fx, bar4 + VIRTIO_PCI_COMMON_Q_USED, 8, USED);
	wr(fx, bar4 + VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
	wr(fx, bar4 + VIRTIO_PCI_COMMON_STATUS, 1, 0xf);
}

static void sleep_ms(int ms)
{
	struct timespec ts = {0, ms * 1000000L};
	nanosleep(&ts, NULL);
}

/* Wait (up to 2 s) until the used index reaches want. */
static void wait_used(struct fixture *fx, uint16_t want)
{
	for (int i = 0; i < 2000 && vqb_used_idx(&fx->b) != want; i++)
		sleep_ms(1);
	assert_int_equal(vqb_used_idx(&fx->b), want);
}

static void add_buffer(struct fixture *fx)
{
	struct vqb_seg seg = {BUF, 32, 1};
	vqb_add(&fx->b, &seg, 1);
}

static void test_placement_and_mmio_path(void **state)
{
	struct fixture *fx = *state;
	uint64_t v;

	assert_int_equal(vpci_slot(fx->d), SLOT);
	assert_int_equal(vpci_gsi(fx->d), GSI_PCI_INTX(SLOT, 0));
	assert_true(vpci_bar_addr(fx->d) == PCI_BAR_UNMAPPED);
	assert_int_equal(bus_read(&fx->vm.mmio, BAR4, 4, &v), 0);
	assign(fx, BAR4);
	assert_int_equal(vpci_bar_addr(fx->d), BAR4);
	assert_int_equal(rd(fx, BAR4 + VIRTIO_PCI_COMMON_NUMQ, 2), 1);
	assert_int_equal(rd(fx, BAR1 + 12, 4), PCI_MSIX_ENTRY_CTRL_MASKBIT);
	assert_int_equal(vpci_uses_ioeventfd(fx->d), 0);

	/* INTx (MSI-X off): the notify write runs the queue on the loop, the line goes up. */
	driver_up(fx, BAR4);
	add_buffer(fx);
	wr(fx, BAR4 + virtio_pci_notify_addr(0), 2, 0);
	wait_used(fx, 1);
	for (int i = 0; i < 2000 && !atomic_load(&rec.level[vpci_gsi(fx->d)]); i++)
		sleep_ms(1);
	assert_int_equal(atomic_load(&rec.level[vpci_gsi(fx->d)]), 1);
	assert_int_equal(rd(fx, BAR4 + VIRTIO_PCI_ISR_OFF, 1), VIRTIO_INT_USED);
	assert_int_equal(atomic_load(&rec.level[vpci_gsi(fx->d)]), 0);
	assert_int_equal(atomic_load(&rec.msis), 0);

	/* MSI-X on, without irqfd routes: the message goes through accel->msi. */
	wr(fx, BAR1 + 0, 4, 0xfee01000);
	wr(fx, BAR1 + 8, 4, 0x61);
	wr(fx, BAR1 + 12, 4, 0);
	cfg_wr(fx, msix_cap(fx) + 2, 2, PCI_MSIX_FLAGS_ENABLE);
	add_buffer(fx);
	wr(fx, BAR4 + virtio_pci_notify_addr(0), 2, 0);
	wait_used(fx, 2);
	for (int i = 0; i < 2000 && !atomic_load(&rec.msis); i++)
		sleep_ms(1);
	assert_int_equal(atomic_load(&rec.msis), 1);
	assert_int_equal(atomic_load(&rec.msi_addr), 0xfee01000);
	assert_int_equal(atomic_load(&rec.msi_data), 0x61);
	assert_int_equal(vpci_uses_msi_irqfd(fx->d), 0);
	/* A message outside the interrupt window goes nowhere. */
	wr(fx, BAR1 + 0, 4, 0x1000);
	add_buffer(fx);
	wr(fx, BAR4 + virtio_pci_notify_addr(0), 2, 0);
	wait_used(fx, 3);
	sleep_ms(20);
	assert_int_equal(atomic_load(&rec.msis), 1);

	/* Moving BAR4: the old range is gone. */
	cfg_wr(fx, PCI_BASE_ADDRESS_0 + 4 * VIRTIO_PCI_BAR, 4, (uint32_t)BAR4 + 0x8000);
	assert_int_equal(bus_read(&fx->vm.mmio, BAR4, 4, &v), 0);
	assert_int_equal(rd(fx, BAR4 + 0x8000 + VIRTIO_PCI_COMMON_NUMQ, 2), 1);
	/* Reset: decoding off, the device back to status 0. */
	pci_host_reset(fx->host);
	vpci_reset(fx->d);
	assert_true(vpci_bar_addr(fx->d) == PCI_BAR_UNMAPPED);
	assert_int_equal(virtio_rng_dev(fx->rng)->status, 0);
}

static void test_ioeventfd_and_msix(void **state)
{
	struct fixture *fx = *state;

	assign(fx, BAR4);
	assert_int_equal(rec.ioev_assigned, 1);
	assert_int_equal(rec.ioev_addr, BAR4 + VIRTIO_PCI_NOTIFY_OFF);
	assert_int_equal(vpci_uses_ioeventfd(fx->d), 1);
	/* MSI-X: vector 0 to APIC 2, vector 0x51. */
	wr(fx, BAR1 + 0, 4, 0xfee02000);
	wr(fx, BAR1 + 8, 4, 0x51);
	wr(fx, BAR1 + 12, 4, 0);
	cfg_wr(fx, msix_cap(fx) + 2, 2, PCI_MSIX_FLAGS_ENABLE);
	driver_up(fx, BAR4);
	wait_used(fx, 0);

	/* The "kernel" signals the queue's eventfd: the loop runs the queue and the MSI goes out
	 * through an irqfd route bound to vector 0's message (accel->msi is not called). */
	add_buffer(fx);
	uint64_t one = 1, cnt = 0;
	assert_int_equal(write(rec.ioev_fd, &one, sizeof(one)), (ssize_t)sizeof(one));
	wait_used(fx, 1);
	for (int i = 0; i < 2000 && !vpci_uses_msi_irqfd(fx->d); i++)
		sleep_ms(1);
	assert_int_equal(vpci_uses_msi_irqfd(fx->d), 1);
	assert_int_equal(rec.routes_made, 1);
	assert_int_equal(rec.route_addr, 0xfee02000);
	assert_int_equal(rec.route_data, 0x51);
	assert_int_equal(read(rec.route_fd, &cnt, sizeof(cnt)), (ssize_t)sizeof(cnt));
	assert_int_equal(cnt, 1);
	assert_int_equal(atomic_load(&rec.msis), 0);
	assert_int_equal(atomic_load(&rec.level[vpci_gsi(fx->d)]), 0);
	/* A new message for the vector rebinds the route; the same one does not. */
	wr(fx, BAR1 + 8, 4, 0x52);
	add_buffer(fx);
	wr(fx, BAR4 + virtio_pci_notify_addr(0), 2, 0); /* also works without the eventfd */
	wait_used(fx, 2);
	for (int i = 0; i < 2000 && read(rec.route_fd, &cnt, sizeof(cnt)) != sizeof(cnt); i++)
		sleep_ms(1);
	assert_int_equal(rec.routes_changed, 1);
	assert_int_equal(rec.route_data, 0x52);
	add_buffer(fx);
	assert_int_equal(write(rec.ioev_fd, &one, sizeof(one)), (ssize_t)sizeof(one));
	wait_used(fx, 3);
	for (int i = 0; i < 2000 && read(rec.route_fd, &cnt, sizeof(cnt)) != sizeof(cnt); i++)
		sleep_ms(1);
	assert_int_equal(rec.routes_changed, 1);
	assert_int_equal(rec.routes_made, 1);
	assert_int_equal(atomic_load(&rec.msis), 0);

	/* Moving BAR4 moves the ioeventfd; disabling decoding removes it. */
	cfg_wr(fx, PCI_BASE_ADDRESS_0 + 4 * VIRTIO_PCI_BAR + 4, 4, 1);
	assert_int_equal(rec.ioev_deassigned, 1);
	assert_int_equal(rec.ioev_assigned, 2);
	assert_int_equal(rec.ioev_addr, 0x100000000ull + BAR4 + VIRTIO_PCI_NOTIFY_OFF);
	cfg_wr(fx, PCI_COMMAND, 2, 0);
	assert_int_equal(rec.ioev_deassigned, 2);
	assert_int_equal(vpci_uses_ioeventfd(fx->d), 0);
	assert_true(vpci_bar_addr(fx->d) == PCI_BAR_UNMAPPED);
}

static void test_create_errors(void **state)
{
	struct fixture *fx = *state;
	struct vpci_dev *d;
	struct virtio_rng *rng2;

	assert_int_equal(virtio_rng_create(&fx->vm.mem, fill_source, NULL, &rng2), 0);
	assert_int_equal(vpci_create(&fx->vm, &fx->el, fx->host, 0, virtio_rng_dev(rng2), &d),
			 -EINVAL);
	assert_int_equal(vpci_create(&fx->vm, &fx->el, fx->host, LAYOUT_PCI_MAX_DEVICES + 1,
				     virtio_rng_dev(rng2), &d),
			 -EINVAL);
	assert_int_equal(vpci_create(&fx->vm, &fx->el, fx->host, SLOT, virtio_rng_dev(rng2), &d),
			 -EEXIST);
	assert_null(d);
	assert_int_equal(
	    vpci_create(&fx->vm, &fx->el, fx->host, SLOT + 1, virtio_rng_dev(rng2), &d), 0);
	vpci_destroy(d);
	virtio_rng_destroy(rng2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_placement_and_mmio_path, setup_plain, teardown),
	    cmocka_unit_test_setup_teardown(test_ioeventfd_and_msix, setup_fds, teardown),
	    cmocka_unit_test_setup_teardown(test_create_errors, setup_plain, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
