/* Shared fixture of the virtio-pci transport tests (test_virtio_pci.c: function, capabilities,
 * BARs, common configuration, notifications; test_virtio_pci_irq.c: MSI-X, INTx, save/load, reset):
 * a real PCI host (config mechanism through pci_host_config_*), BARs assigned by config writes and
 * mapped on a test MMIO bus by the map callback, driven as Linux's virtio_pci_modern driver does,
 * with the entropy device (one queue) or the console (two queues and a device config) behind it,
 * fake guest memory, a fake INTx line, a recording MSI sink and a recorder for queue
 * notifications. */
#ifndef VMON_TEST_VIRTIO_PCI_FIXTURE_H
#define VMON_TEST_VIRTIO_PCI_FIXTURE_H

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "virtio/virtio_console.h"
#include "virtio/virtio_pci.h"
#include "virtio/virtio_rng.h"
#include "virtq_builder.h"

#define QSIZE 16
#define DESC 0x1000
#define AVAIL 0x2000
#define USED 0x3000
#define BUF 0x8000
#define SLOT 3
#define GSI 18
#define BAR4_ADDR 0xc0000000ull
#define BAR1_ADDR 0xc0004000ull
#define MSI_ADDR(n) (0xfee00000ull | (n) << 12)
#define BDF PCI_BDF(0, SLOT, 0)

struct msi_rec {
	uint64_t addr;
	uint32_t data;
	unsigned vector;
};

struct fake {
	int level, rises;
	unsigned notifies[VIRTIO_MAX_QUEUES];
	unsigned nr_notifies;
	struct msi_rec msi[64];
	unsigned nr_msi;
	unsigned maps;
	uint8_t next_byte;
};

struct fixture {
	struct fake f;
	struct gmem gm;
	struct bus mmio;
	struct pci_host *host;
	struct virtio_rng *rng;
	struct virtio_console *con;
	struct virtio_dev *vdev;
	struct virtio_pci *p;
	struct vqb b;
};

static inline void fake_irq_set(void *ctx, unsigned gsi, int level)
{
	struct fake *f = ctx;
	assert_int_equal(gsi, GSI);
	if (level && !f->level)
		f->rises++;
	f->level = level;
}

static inline void fake_notify(void *ctx, unsigned q)
{
	struct fixture *fx = ctx;
	assert_true(q < VIRTIO_MAX_QUEUES);
	fx->f.notifies[q]++;
	fx->f.nr_notifies++;
}

static inline int fake_msi(void *ctx, unsigned vector, uint64_t addr, uint32_t data)
{
	struct fake *f = ctx;
	assert_true(f->nr_msi < 64);
	f->msi[f->nr_msi++] = (struct msi_rec){addr, data, vector};
	return 0;
}

/* What core/vpci does: move the BAR's range on the bus. */
static inline void fake_map(void *ctx, unsigned bar, uint64_t old_addr, uint64_t new_addr)
{
	struct fixture *fx = ctx;
	const struct bus_ops *ops =
	    bar == VIRTIO_PCI_MSIX_BAR ? &virtio_pci_msix_ops : &virtio_pci_bar_ops;
	uint64_t len = bar == VIRTIO_PCI_MSIX_BAR ? VIRTIO_PCI_MSIX_BAR_SIZE : VIRTIO_PCI_BAR_SIZE;

	fx->f.maps++;
	if (old_addr != PCI_BAR_UNMAPPED)
		assert_int_equal(bus_unregister(&fx->mmio, old_addr, fx->p), 0);
	if (new_addr != PCI_BAR_UNMAPPED)
		assert_int_equal(bus_register(&fx->mmio, new_addr, len, ops, fx->p, "vpci"), 0);
}

static inline ssize_t fake_source(void *ctx, void *buf, size_t len)
{
	struct fake *f = ctx;
	uint8_t *p = buf;
	for (size_t i = 0; i < len; i++)
		p[i] = f->next_byte++;
	return (ssize_t)len;
}

static inline int setup_common(struct fixture *fx)
{
	struct virtio_pci_wiring w = {
	    .intx = {fake_irq_set, &fx->f, GSI},
	    .msi = {fake_msi, &fx->f},
	    .notify = fake_notify,
	    .map = fake_map,
	    .ctx = fx,
	    .slot = SLOT,
	};
	assert_int_equal(pci_host_create((struct exit_sink){NULL, NULL}, &fx->host), 0);
	w.host = fx->host;
	assert_int_equal(virtio_pci_create(fx->vdev, &w, &fx->p), 0);
	assert_ptr_equal(virtio_pci_dev(fx->p), fx->vdev);
	vqb_init(&fx->b, &fx->gm, QSIZE, DESC, AVAIL, USED);
	return 0;
}

static inline int setup(void **state)
{
	struct fixture *fx = test_calloc(1, sizeof(*fx));

	assert_int_equal(fake_mem_add(&fx->gm, 0, 0x100000), 0);
	assert_int_equal(bus_init(&fx->mmio, BUS_MMIO), 0);
	assert_int_equal(virtio_rng_create(&fx->gm, fake_source, &fx->f, &fx->rng), 0);
	fx->vdev = virtio_rng_dev(fx->rng);
	*state = fx;
	return setup_common(fx);
}

static inline ssize_t sink_write(void *ctx, const void *buf, size_t len)
{
	return (ssize_t)len;
}

static inline int setup_console(void **state)
{
	struct fixture *fx = test_calloc(1, sizeof(*fx));

	assert_int_equal(fake_mem_add(&fx->gm, 0, 0x100000), 0);
	assert_int_equal(bus_init(&fx->mmio, BUS_MMIO), 0);
	assert_int_equal(
	    virtio_console_create(&fx->gm, (struct char_out){sink_write, NULL}, &fx->con), 0);
	fx->vdev = virtio_console_dev(fx->con);
	*state = fx;
	return setup_common(fx);
}

static inline int teardown(void **state)
{
	struct fixture *fx = *state;
	pci_host_destroy(fx->host);
	virtio_pci_destroy(fx->p);
	virtio_rng_destroy(fx->rng);
	virtio_console_destroy(fx->con);
	bus_destroy(&fx->mmio);
	fake_mem_destroy(&fx->gm);
	test_free(fx);
	return 0;
}

/* ---- config space and BAR helpers ---- */

static inline uint32_t cfg_rd(struct fixture *fx, unsigned reg, unsigned size)
{
	uint32_t v = 0;
	assert_int_equal(pci_host_config_read(fx->host, BDF, reg, size, &v), 0);
	return v;
}

static inline void cfg_wr(struct fixture *fx, unsigned reg, unsigned size, uint32_t v)
{
	assert_int_equal(pci_host_config_write(fx->host, BDF, reg, size, v), 0);
}

/* Capability offset of the first capability with id (and, for vendor caps, cfg_type). */
static inline unsigned find_cap(struct fixture *fx, uint8_t id, uint8_t type)
{
	unsigned pos = cfg_rd(fx, PCI_CAPABILITY_LIST, 1), n = 0;

	while (pos) {
		assert_true(pos >= 0x40 && pos < 256 && pos % 4 == 0);
		assert_true(++n < 48); /* the list ends */
		if (cfg_rd(fx, pos, 1) == id &&
		    (id != PCI_CAP_ID_VNDR || cfg_rd(fx, pos + 3, 1) == type))
			return pos;
		pos = cfg_rd(fx, pos + 1, 1);
	}
	return 0;
}

/* Assign BAR4 and BAR1 and enable memory decoding and bus mastering, as Linux does. */
static inline void assign_bars(struct fixture *fx)
{
	cfg_wr(fx, PCI_BASE_ADDRESS_0 + 4 * VIRTIO_PCI_BAR, 4, (uint32_t)BAR4_ADDR);
	cfg_wr(fx, PCI_BASE_ADDRESS_0 + 4 * VIRTIO_PCI_BAR + 4, 4, (uint32_t)(BAR4_ADDR >> 32));
	cfg_wr(fx, PCI_BASE_ADDRESS_0 + 4 * VIRTIO_PCI_MSIX_BAR, 4, (uint32_t)BAR1_ADDR);
	cfg_wr(fx, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
}

static inline uint64_t rd(struct fixture *fx, uint64_t off, unsigned size)
{
	uint64_t v = ~0ull;
	assert_int_equal(bus_read(&fx->mmio, BAR4_ADDR + off, size, &v), 1);
	return v;
}

static inline void wr(struct fixture *fx, uint64_t off, unsigned size, uint64_t v)
{
	assert_int_equal(bus_write(&fx->mmio, BAR4_ADDR + off, size, v), 1);
}

static inline void msix_wr(struct fixture *fx, uint64_t off, uint32_t v)
{
	assert_int_equal(bus_write(&fx->mmio, BAR1_ADDR + off, 4, v), 1);
}

static inline uint32_t msix_rd(struct fixture *fx, uint64_t off)
{
	uint64_t v = ~0ull;
	assert_int_equal(bus_read(&fx->mmio, BAR1_ADDR + off, 4, &v), 1);
	return (uint32_t)v;
}

/* Linux's order: reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK, queue 0, DRIVER_OK. */
static inline void bring_up(struct fixture *fx)
{
	wr(fx, VIRTIO_PCI_COMMON_STATUS, 1, 0);
	wr(fx, VIRTIO_PCI_COMMON_STATUS, 1, VIRTIO_STATUS_ACKNOWLEDGE);
	wr(fx, VIRTIO_PCI_COMMON_STATUS, 1, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	wr(fx, VIRTIO_PCI_COMMON_GFSELECT, 4, 1);
	wr(fx, VIRTIO_PCI_COMMON_GF, 4, 1); /* VERSION_1 */
	wr(fx, VIRTIO_PCI_COMMON_STATUS, 1, 3 | VIRTIO_STATUS_FEATURES_OK);
	assert_int_equal(rd(fx, VIRTIO_PCI_COMMON_STATUS, 1), 3 | VIRTIO_STATUS_FEATURES_OK);
	wr(fx, VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
	assert_int_equal(rd(fx, VIRTIO_PCI_COMMON_Q_SIZE, 2), VIRTIO_RNG_QUEUE_SIZE);
	wr(fx, VIRTIO_PCI_COMMON_Q_SIZE, 2, QSIZE);
	wr(fx, VIRTIO_PCI_COMMON_Q_DESC, 4, DESC);
	wr(fx, VIRTIO_PCI_COMMON_Q_DESC + 4, 4, 0);
	wr(fx, VIRTIO_PCI_COMMON_Q_AVAIL, 4, AVAIL);
	wr(fx, VIRTIO_PCI_COMMON_Q_AVAIL + 4, 4, 0);
	wr(fx, VIRTIO_PCI_COMMON_Q_USED, 8, USED); /* a 64-bit write works too */
	wr(fx, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
	assert_int_equal(rd(fx, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 1);
	wr(fx, VIRTIO_PCI_COMMON_STATUS, 1, 0xb | VIRTIO_STATUS_DRIVER_OK);
}

/* Program MSI-X vector v to send to APIC id v with vector 0x40 + v, unmasked. */
static inline void msix_program(struct fixture *fx, unsigned v)
{
	msix_wr(fx, 16 * v, (uint32_t)MSI_ADDR(v));
	msix_wr(fx, 16 * v + 4, 0);
	msix_wr(fx, 16 * v + 8, 0x40 + v);
	msix_wr(fx, 16 * v + 12, 0);
}

static inline void msix_enable(struct fixture *fx, int on, int maskall)
{
	unsigned cap = find_cap(fx, PCI_CAP_ID_MSIX, 0);
	cfg_wr(fx, cap + 2, 2,
	       (on ? PCI_MSIX_FLAGS_ENABLE : 0) | (maskall ? PCI_MSIX_FLAGS_MASKALL : 0));
}

/* Add one writable buffer and run the queue as the event loop would. */
static inline void request(struct fixture *fx)
{
	struct vqb_seg seg = {BUF, 64, 1};
	vqb_add(&fx->b, &seg, 1);
	wr(fx, VIRTIO_PCI_NOTIFY_OFF, 2, 0);
	assert_int_equal(virtio_dev_notify(fx->vdev, 0), 0);
}

#endif
