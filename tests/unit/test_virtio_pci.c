/* Unit tests for the virtio-pci transport: a real PCI host (config mechanism through
 * pci_host_config_*), BARs assigned by config writes and mapped on a test MMIO bus by the map
 * callback, driven as Linux's virtio_pci_modern driver does, with the entropy device (one queue)
 * or the console (two queues and a device config) behind it, fake guest memory, a fake INTx line,
 * a recording MSI sink and a recorder for queue notifications. */
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

static void fake_irq_set(void *ctx, unsigned gsi, int level)
{
	struct fake *f = ctx;
	assert_int_equal(gsi, GSI);
	if (level && !f->level)
		f->rises++;
	f->level = level;
}

static void fake_notify(void *ctx, unsigned q)
{
	struct fixture *fx = ctx;
	assert_true(q < VIRTIO_MAX_QUEUES);
	fx->f.notifies[q]++;
	fx->f.nr_notifies++;
}

static int fake_msi(void *ctx, uint64_t addr, uint32_t data)
{
	struct fake *f = ctx;
	assert_true(f->nr_msi < 64);
	f->msi[f->nr_msi++] = (struct msi_rec){addr, data};
	return 0;
}

/* What core/vpci does: move the BAR's range on the bus. */
static void fake_map(void *ctx, unsigned bar, uint64_t old_addr, uint64_t new_addr)
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

static ssize_t fake_source(void *ctx, void *buf, size_t len)
{
	struct fake *f = ctx;
	uint8_t *p = buf;
	for (size_t i = 0; i < len; i++)
		p[i] = f->next_byte++;
	return (ssize_t)len;
}

static int setup_common(struct fixture *fx)
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

static int setup(void **state)
{
	struct fixture *fx = test_calloc(1, sizeof(*fx));

	assert_int_equal(fake_mem_add(&fx->gm, 0, 0x100000), 0);
	assert_int_equal(bus_init(&fx->mmio, BUS_MMIO), 0);
	assert_int_equal(virtio_rng_create(&fx->gm, fake_source, &fx->f, &fx->rng), 0);
	fx->vdev = virtio_rng_dev(fx->rng);
	*state = fx;
	return setup_common(fx);
}

static ssize_t sink_write(void *ctx, const void *buf, size_t len)
{
	return (ssize_t)len;
}

static int setup_console(void **state)
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

static int teardown(void **state)
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

static uint32_t cfg_rd(struct fixture *fx, unsigned reg, unsigned size)
{
	uint32_t v = 0;
	assert_int_equal(pci_host_config_read(fx->host, BDF, reg, size, &v), 0);
	return v;
}

static void cfg_wr(struct fixture *fx, unsigned reg, unsigned size, uint32_t v)
{
	assert_int_equal(pci_host_config_write(fx->host, BDF, reg, size, v), 0);
}

/* Capability offset of the first capability with id (and, for vendor caps, cfg_type). */
static unsigned find_cap(struct fixture *fx, uint8_t id, uint8_t type)
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
static void assign_bars(struct fixture *fx)
{
	cfg_wr(fx, PCI_BASE_ADDRESS_0 + 4 * VIRTIO_PCI_BAR, 4, (uint32_t)BAR4_ADDR);
	cfg_wr(fx, PCI_BASE_ADDRESS_0 + 4 * VIRTIO_PCI_BAR + 4, 4, (uint32_t)(BAR4_ADDR >> 32));
	cfg_wr(fx, PCI_BASE_ADDRESS_0 + 4 * VIRTIO_PCI_MSIX_BAR, 4, (uint32_t)BAR1_ADDR);
	cfg_wr(fx, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
}

static uint64_t rd(struct fixture *fx, uint64_t off, unsigned size)
{
	uint64_t v = ~0ull;
	assert_int_equal(bus_read(&fx->mmio, BAR4_ADDR + off, size, &v), 1);
	return v;
}

static void wr(struct fixture *fx, uint64_t off, unsigned size, uint64_t v)
{
	assert_int_equal(bus_write(&fx->mmio, BAR4_ADDR + off, size, v), 1);
}

static void msix_wr(struct fixture *fx, uint64_t off, uint32_t v)
{
	assert_int_equal(bus_write(&fx->mmio, BAR1_ADDR + off, 4, v), 1);
}

static uint32_t msix_rd(struct fixture *fx, uint64_t off)
{
	uint64_t v = ~0ull;
	assert_int_equal(bus_read(&fx->mmio, BAR1_ADDR + off, 4, &v), 1);
	return (uint32_t)v;
}

/* Linux's order: reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK, queue 0, DRIVER_OK. */
static void bring_up(struct fixture *fx)
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
static void msix_program(struct fixture *fx, unsigned v)
{
	msix_wr(fx, 16 * v, (uint32_t)MSI_ADDR(v));
	msix_wr(fx, 16 * v + 4, 0);
	msix_wr(fx, 16 * v + 8, 0x40 + v);
	msix_wr(fx, 16 * v + 12, 0);
}

static void msix_enable(struct fixture *fx, int on, int maskall)
{
	unsigned cap = find_cap(fx, PCI_CAP_ID_MSIX, 0);
	cfg_wr(fx, cap + 2, 2,
	       (on ? PCI_MSIX_FLAGS_ENABLE : 0) | (maskall ? PCI_MSIX_FLAGS_MASKALL : 0));
}

/* Add one writable buffer and run the queue as the event loop would. */
static void request(struct fixture *fx)
{
	struct vqb_seg seg = {BUF, 64, 1};
	vqb_add(&fx->b, &seg, 1);
	wr(fx, VIRTIO_PCI_NOTIFY_OFF, 2, 0);
	assert_int_equal(virtio_dev_notify(fx->vdev, 0), 0);
}

/* ---- tests ---- */

static void test_identity_and_caps(void **state)
{
	struct fixture *fx = *state;
	struct {
		uint8_t type;
		uint32_t off, len;
	} want[] = {
	    {VIRTIO_PCI_CAP_COMMON_CFG, VIRTIO_PCI_COMMON_OFF, VIRTIO_PCI_COMMON_LEN},
	    {VIRTIO_PCI_CAP_NOTIFY_CFG, VIRTIO_PCI_NOTIFY_OFF, 4},
	    {VIRTIO_PCI_CAP_ISR_CFG, VIRTIO_PCI_ISR_OFF, VIRTIO_PCI_ISR_LEN},
	};

	assert_int_equal(cfg_rd(fx, PCI_VENDOR_ID, 2), 0x1af4);
	assert_int_equal(cfg_rd(fx, PCI_DEVICE_ID, 2), 0x1040 + VIRTIO_ID_RNG);
	assert_int_equal(cfg_rd(fx, PCI_REVISION_ID, 1), 1);
	assert_int_equal(cfg_rd(fx, PCI_SUBSYSTEM_VENDOR_ID, 2), 0x1af4);
	assert_int_equal(cfg_rd(fx, PCI_SUBSYSTEM_ID, 2), 0x1100);
	assert_int_equal(cfg_rd(fx, PCI_REVISION_ID, 4) >> 8, 0x00ff00);
	assert_int_equal(cfg_rd(fx, PCI_HEADER_TYPE, 1), 0);
	assert_true(cfg_rd(fx, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST);
	assert_int_equal(cfg_rd(fx, PCI_INTERRUPT_PIN, 1), 1);
	for (unsigned i = 0; i < 3; i++) {
		unsigned c = find_cap(fx, PCI_CAP_ID_VNDR, want[i].type);
		assert_true(c);
		assert_int_equal(cfg_rd(fx, c + 4, 1), VIRTIO_PCI_BAR);
		assert_int_equal(cfg_rd(fx, c + 8, 4), want[i].off);
		assert_int_equal(cfg_rd(fx, c + 12, 4), want[i].len);
		/* Read-only: a write changes nothing. */
		cfg_wr(fx, c + 8, 4, 0x1234);
		assert_int_equal(cfg_rd(fx, c + 8, 4), want[i].off);
	}
	unsigned n = find_cap(fx, PCI_CAP_ID_VNDR, VIRTIO_PCI_CAP_NOTIFY_CFG);
	assert_int_equal(cfg_rd(fx, n + 2, 1), 20);
	assert_int_equal(cfg_rd(fx, n + 16, 4), 4); /* notify_off_multiplier */
	/* The rng has no device configuration, so no DEVICE_CFG capability. */
	assert_int_equal(find_cap(fx, PCI_CAP_ID_VNDR, VIRTIO_PCI_CAP_DEVICE_CFG), 0);
	assert_true(find_cap(fx, PCI_CAP_ID_VNDR, VIRTIO_PCI_CAP_PCI_CFG));
	unsigned m = find_cap(fx, PCI_CAP_ID_MSIX, 0);
	assert_true(m);
	assert_int_equal(cfg_rd(fx, m + 2, 2), 1); /* 2 vectors: queue 0 and config */
	assert_int_equal(cfg_rd(fx, m + 4, 4), VIRTIO_PCI_MSIX_BAR);
	assert_int_equal(cfg_rd(fx, m + 8, 4), VIRTIO_PCI_MSIX_PBA_OFF | VIRTIO_PCI_MSIX_BAR);
	/* Only the enable and function-mask bits are writable. */
	cfg_wr(fx, m + 2, 2, 0xffff);
	assert_int_equal(cfg_rd(fx, m + 2, 2), 0xc001);
	assert_int_equal(virtio_pci_notify_addr(2), VIRTIO_PCI_NOTIFY_OFF + 8);
}

static void test_console_caps(void **state)
{
	struct fixture *fx = *state;
	unsigned c = find_cap(fx, PCI_CAP_ID_VNDR, VIRTIO_PCI_CAP_DEVICE_CFG);

	assert_int_equal(cfg_rd(fx, PCI_DEVICE_ID, 2), 0x1040 + VIRTIO_ID_CONSOLE);
	assert_int_equal(cfg_rd(fx, PCI_REVISION_ID, 4) >> 8, 0x078000);
	assert_true(c);
	assert_int_equal(cfg_rd(fx, c + 8, 4), VIRTIO_PCI_DEVICE_OFF);
	assert_int_equal(cfg_rd(fx, c + 12, 4), fx->vdev->config_len);
	c = find_cap(fx, PCI_CAP_ID_VNDR, VIRTIO_PCI_CAP_NOTIFY_CFG);
	assert_int_equal(cfg_rd(fx, c + 12, 4), 4 * fx->vdev->nr_queues);
	c = find_cap(fx, PCI_CAP_ID_MSIX, 0);
	assert_int_equal(cfg_rd(fx, c + 2, 2) & 0x7ff, fx->vdev->nr_queues);
	assign_bars(fx);
	assert_int_equal(rd(fx, VIRTIO_PCI_COMMON_NUMQ, 2), fx->vdev->nr_queues);
	/* The device configuration reads what the device core reads. */
	for (unsigned off = 0; off < fx->vdev->config_len; off++) {
		pthread_mutex_lock(&fx->vdev->lock);
		uint32_t want = virtio_dev_config_read_locked(fx->vdev, off, 1);
		pthread_mutex_unlock(&fx->vdev->lock);
		assert_int_equal(rd(fx, VIRTIO_PCI_DEVICE_OFF + off, 1), want);
	}
}

static void test_bar_sizing_and_mapping(void **state)
{
	struct fixture *fx = *state;
	unsigned b4 = PCI_BASE_ADDRESS_0 + 4 * VIRTIO_PCI_BAR;
	unsigned b1 = PCI_BASE_ADDRESS_0 + 4 * VIRTIO_PCI_MSIX_BAR;
	uint64_t v;

	/* Sizing: all ones reads back the size mask with the type bits. */
	assert_int_equal(cfg_rd(fx, b4, 4), 0x4); /* 64-bit memory */
	cfg_wr(fx, b4, 4, 0xffffffff);
	cfg_wr(fx, b4 + 4, 4, 0xffffffff);
	assert_int_equal(cfg_rd(fx, b4, 4), (uint32_t) ~(VIRTIO_PCI_BAR_SIZE - 1) | 0x4);
	assert_int_equal(cfg_rd(fx, b4 + 4, 4), 0xffffffff);
	cfg_wr(fx, b1, 4, 0xffffffff);
	assert_int_equal(cfg_rd(fx, b1, 4), (uint32_t) ~(VIRTIO_PCI_MSIX_BAR_SIZE - 1));
	for (unsigned i = 0; i < 6; i++)
		if (i != VIRTIO_PCI_BAR && i != VIRTIO_PCI_BAR + 1 && i != VIRTIO_PCI_MSIX_BAR) {
			cfg_wr(fx, PCI_BASE_ADDRESS_0 + 4 * i, 4, 0xffffffff);
			assert_int_equal(cfg_rd(fx, PCI_BASE_ADDRESS_0 + 4 * i, 4), 0);
		}
	/* Addresses without memory decoding: nothing on the bus. */
	cfg_wr(fx, b4, 4, (uint32_t)BAR4_ADDR);
	cfg_wr(fx, b4 + 4, 4, 0);
	cfg_wr(fx, b1, 4, (uint32_t)BAR1_ADDR);
	assert_int_equal(fx->f.maps, 0);
	assert_int_equal(bus_read(&fx->mmio, BAR4_ADDR, 4, &v), 0);
	/* Memory decoding on: both BARs appear. */
	cfg_wr(fx, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	assert_int_equal(fx->f.maps, 2);
	assert_int_equal(rd(fx, VIRTIO_PCI_COMMON_NUMQ, 2), 1);
	assert_int_equal(msix_rd(fx, 12), PCI_MSIX_ENTRY_CTRL_MASKBIT);
	/* Moving BAR4 above 4 GiB: the old range is gone, the new one answers. */
	cfg_wr(fx, b4 + 4, 4, 1);
	assert_int_equal(bus_read(&fx->mmio, BAR4_ADDR + VIRTIO_PCI_COMMON_NUMQ, 2, &v), 0);
	assert_int_equal(
	    bus_read(&fx->mmio, 0x100000000ull + BAR4_ADDR + VIRTIO_PCI_COMMON_NUMQ, 2, &v), 1);
	assert_int_equal(v, 1);
	cfg_wr(fx, b4 + 4, 4, 0);
	assert_int_equal(rd(fx, VIRTIO_PCI_COMMON_NUMQ, 2), 1);
	/* Decoding off: unmapped. */
	cfg_wr(fx, PCI_COMMAND, 2, 0);
	assert_int_equal(bus_read(&fx->mmio, BAR4_ADDR, 4, &v), 0);
	assert_int_equal(bus_read(&fx->mmio, BAR1_ADDR, 4, &v), 0);
}

static void test_common_cfg_queue_setup(void **state)
{
	struct fixture *fx = *state;
	struct virtq *vq = virtio_dev_queue(fx->vdev, 0);

	assign_bars(fx);
	/* Device features through the select register. */
	wr(fx, VIRTIO_PCI_COMMON_DFSELECT, 4, 1);
	uint64_t f = rd(fx, VIRTIO_PCI_COMMON_DF, 4) << 32;
	wr(fx, VIRTIO_PCI_COMMON_DFSELECT, 4, 0);
	f |= rd(fx, VIRTIO_PCI_COMMON_DF, 4);
	assert_int_equal(f, VIRTIO_CORE_FEATURES);
	assert_int_equal(rd(fx, VIRTIO_PCI_COMMON_NUMQ, 2), 1);
	assert_int_equal(rd(fx, VIRTIO_PCI_COMMON_CFGGENERATION, 1), 0);
	bring_up(fx);
	assert_true(vq->ready);
	assert_int_equal(vq->size, QSIZE);
	assert_int_equal(vq->desc_gpa, DESC);
	assert_int_equal(vq->avail_gpa, AVAIL);
	assert_int_equal(vq->used_gpa, USED);
	assert_int_equal(rd(fx, VIRTIO_PCI_COMMON_Q_DESC, 4), DESC);
	assert_int_equal(rd(fx, VIRTIO_PCI_COMMON_Q_AVAIL, 8), AVAIL);
	assert_int_equal(rd(fx, VIRTIO_PCI_COMMON_Q_USED + 4, 4), 0);
	assert_int_equal(rd(fx, VIRTIO_PCI_COMMON_Q_NOFF, 2), 0);
	assert_int_equal(rd(fx, VIRTIO_PCI_COMMON_GF, 4), 1);
	assert_int_equal(rd(fx, VIRTIO_PCI_COMMON_STATUS, 1), 0xf);
	/* While enabled the addresses cannot change. */
	wr(fx, VIRTIO_PCI_COMMON_Q_DESC, 4, 0x5000);
	assert_int_equal(vq->desc_gpa, DESC);
	/* queue_enable takes only 1. */
	wr(fx, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 0);
	assert_true(vq->ready);
	/* A missing queue: size 0, vector NO_VECTOR, writes ignored. */
	wr(fx, VIRTIO_PCI_COMMON_Q_SELECT, 2, 1);
	assert_int_equal(rd(fx, VIRTIO_PCI_COMMON_Q_SIZE, 2), 0);
	assert_int_equal(rd(fx, VIRTIO_PCI_COMMON_Q_MSIX, 2), VIRTIO_MSI_NO_VECTOR);
	wr(fx, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
	assert_int_equal(rd(fx, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0);
	/* Read-only fields, reserved fields, wrong widths. */
	wr(fx, VIRTIO_PCI_COMMON_NUMQ, 2, 7);
	assert_int_equal(rd(fx, VIRTIO_PCI_COMMON_NUMQ, 2), 1);
	assert_int_equal(rd(fx, VIRTIO_PCI_COMMON_Q_RESET, 2), 0);
	assert_int_equal(rd(fx, 0x100, 4), 0);
	wr(fx, VIRTIO_PCI_COMMON_STATUS, 4, 0); /* status is 8 bits wide: ignored */
	assert_int_equal(rd(fx, VIRTIO_PCI_COMMON_STATUS, 1), 0xf);
	/* Reading 4 bytes across num_queues and the status reads both. */
	assert_int_equal(rd(fx, VIRTIO_PCI_COMMON_NUMQ, 4), 0x0f0001);
	/* Reset: status 0 clears everything, vectors back to NO_VECTOR. */
	wr(fx, VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
	wr(fx, VIRTIO_PCI_COMMON_Q_MSIX, 2, 0);
	assert_int_equal(rd(fx, VIRTIO_PCI_COMMON_Q_MSIX, 2), 0);
	wr(fx, VIRTIO_PCI_COMMON_STATUS, 1, 0);
	assert_int_equal(rd(fx, VIRTIO_PCI_COMMON_STATUS, 1), 0);
	assert_false(vq->ready);
	assert_int_equal(rd(fx, VIRTIO_PCI_COMMON_Q_MSIX, 2), VIRTIO_MSI_NO_VECTOR);
	assert_int_equal(rd(fx, VIRTIO_PCI_COMMON_MSIX, 2), VIRTIO_MSI_NO_VECTOR);
}

static void test_notify(void **state)
{
	struct fixture *fx = *state;

	assign_bars(fx);
	/* Buffers made available before DRIVER_OK are kicked when it is set. */
	bring_up(fx);
	assert_int_equal(fx->f.notifies[0], 1);
	wr(fx, VIRTIO_PCI_NOTIFY_OFF, 2, 0);
	assert_int_equal(fx->f.notifies[0], 2);
	wr(fx, VIRTIO_PCI_NOTIFY_OFF, 4, 0);
	assert_int_equal(fx->f.notifies[0], 3);
	/* Queue 1 does not exist; odd sizes and misaligned writes are ignored. */
	wr(fx, VIRTIO_PCI_NOTIFY_OFF + 4, 2, 1);
	wr(fx, VIRTIO_PCI_NOTIFY_OFF, 1, 0);
	wr(fx, VIRTIO_PCI_NOTIFY_OFF + 2, 2, 0);
	assert_int_equal(fx->f.nr_notifies, 3);
	/* The notify region reads 0. */
	assert_int_equal(rd(fx, VIRTIO_PCI_NOTIFY_OFF, 2), 0);
}

static void test_msix_vectors_and_masking(void **state)
{
	struct fixture *fx = *state;

	assign_bars(fx);
	msix_program(fx, 0);
	msix_program(fx, 1);
	msix_enable(fx, 1, 0);
	bring_up(fx);
	/* Vectors: out-of-range writes read back NO_VECTOR. */
	wr(fx, VIRTIO_PCI_COMMON_MSIX, 2, 2);
	assert_int_equal(rd(fx, VIRTIO_PCI_COMMON_MSIX, 2), VIRTIO_MSI_NO_VECTOR);
	wr(fx, VIRTIO_PCI_COMMON_MSIX, 2, 1);
	assert_int_equal(rd(fx, VIRTIO_PCI_COMMON_MSIX, 2), 1);
	wr(fx, VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
	wr(fx, VIRTIO_PCI_COMMON_Q_MSIX, 2, 0);
	assert_int_equal(rd(fx, VIRTIO_PCI_COMMON_Q_MSIX, 2), 0);

	/* A used buffer sends vector 0's message; no ISR bit, no INTx. */
	request(fx);
	assert_int_equal(fx->f.nr_msi, 1);
	assert_int_equal(fx->f.msi[0].addr, MSI_ADDR(0));
	assert_int_equal(fx->f.msi[0].data, 0x40);
	assert_int_equal(fx->f.level, 0);
	/* A configuration change sends vector 1. */
	pthread_mutex_lock(&fx->vdev->lock);
	virtio_dev_config_changed(fx->vdev);
	pthread_mutex_unlock(&fx->vdev->lock);
	assert_int_equal(fx->f.nr_msi, 2);
	assert_int_equal(fx->f.msi[1].addr, MSI_ADDR(1));
	assert_int_equal(fx->f.msi[1].data, 0x41);

	/* Entry mask: the message waits in the PBA and goes out at unmask. */
	msix_wr(fx, 12, PCI_MSIX_ENTRY_CTRL_MASKBIT);
	request(fx);
	assert_int_equal(fx->f.nr_msi, 2);
	assert_int_equal(msix_rd(fx, VIRTIO_PCI_MSIX_PBA_OFF), 1);
	msix_wr(fx, 12, 0);
	assert_int_equal(fx->f.nr_msi, 3);
	assert_int_equal(fx->f.msi[2].data, 0x40);
	assert_int_equal(msix_rd(fx, VIRTIO_PCI_MSIX_PBA_OFF), 0);
	/* The PBA is read-only. */
	msix_wr(fx, VIRTIO_PCI_MSIX_PBA_OFF, 3);
	assert_int_equal(msix_rd(fx, VIRTIO_PCI_MSIX_PBA_OFF), 0);

	/* Function mask likewise; a vector re-programmed while pending sends the new message. */
	msix_enable(fx, 1, 1);
	request(fx);
	assert_int_equal(fx->f.nr_msi, 3);
	assert_int_equal(msix_rd(fx, VIRTIO_PCI_MSIX_PBA_OFF), 1);
	msix_wr(fx, 8, 0x55);
	msix_enable(fx, 1, 0);
	assert_int_equal(fx->f.nr_msi, 4);
	assert_int_equal(fx->f.msi[3].data, 0x55);

	/* NO_VECTOR: nothing is sent. */
	wr(fx, VIRTIO_PCI_COMMON_Q_MSIX, 2, VIRTIO_MSI_NO_VECTOR);
	request(fx);
	assert_int_equal(fx->f.nr_msi, 4);
	assert_int_equal(msix_rd(fx, VIRTIO_PCI_MSIX_PBA_OFF), 0);

	/* Bus mastering off: the function cannot send. */
	wr(fx, VIRTIO_PCI_COMMON_Q_MSIX, 2, 0);
	cfg_wr(fx, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	request(fx);
	assert_int_equal(fx->f.nr_msi, 4);
	cfg_wr(fx, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	request(fx);
	assert_int_equal(fx->f.nr_msi, 5);
	/* Bad table accesses are ignored. */
	assert_int_equal(bus_write(&fx->mmio, BAR1_ADDR + 1, 4, 0), 1);
	assert_int_equal(bus_write(&fx->mmio, BAR1_ADDR, 2, 0), 1);
	assert_int_equal(msix_rd(fx, 8), 0x55);
	assert_int_equal(msix_rd(fx, 16 * 5), 0); /* past the table */
}

static void test_intx_and_isr(void **state)
{
	struct fixture *fx = *state;

	assign_bars(fx);
	bring_up(fx);
	assert_int_equal(fx->f.level, 0);
	request(fx);
	assert_int_equal(fx->f.level, 1);
	assert_true(cfg_rd(fx, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT);
	assert_true(cfg_rd(fx, PCI_COMMAND, 4) & (PCI_STATUS_INTERRUPT << 16));
	/* Reading ISR returns the reason and clears it, lowering the line. */
	assert_int_equal(rd(fx, VIRTIO_PCI_ISR_OFF, 1), VIRTIO_INT_USED);
	assert_int_equal(fx->f.level, 0);
	assert_false(cfg_rd(fx, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT);
	assert_int_equal(rd(fx, VIRTIO_PCI_ISR_OFF, 1), 0);
	/* A configuration change sets bit 1. */
	pthread_mutex_lock(&fx->vdev->lock);
	virtio_dev_config_changed(fx->vdev);
	pthread_mutex_unlock(&fx->vdev->lock);
	assert_int_equal(fx->f.level, 1);
	/* INTx disable lowers the line while ISR stays set; enabling raises it again. */
	cfg_wr(fx, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_INTX_DISABLE);
	assert_int_equal(fx->f.level, 0);
	cfg_wr(fx, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	assert_int_equal(fx->f.level, 1);
	/* Enabling MSI-X takes the line down too. */
	msix_enable(fx, 1, 0);
	assert_int_equal(fx->f.level, 0);
	msix_enable(fx, 0, 0);
	assert_int_equal(fx->f.level, 1);
	assert_int_equal(rd(fx, VIRTIO_PCI_ISR_OFF, 4), VIRTIO_INT_CONFIG);
	assert_int_equal(fx->f.level, 0);
	assert_int_equal(fx->f.nr_msi, 0);
}

static void test_pci_cfg_window(void **state)
{
	struct fixture *fx = *state;
	unsigned c = find_cap(fx, PCI_CAP_ID_VNDR, VIRTIO_PCI_CAP_PCI_CFG);

	/* The window works without any BAR assigned. */
	cfg_wr(fx, c + 4, 1, VIRTIO_PCI_BAR);
	cfg_wr(fx, c + 8, 4, VIRTIO_PCI_COMMON_NUMQ);
	cfg_wr(fx, c + 12, 4, 2);
	assert_int_equal(cfg_rd(fx, c + 16, 4) & 0xffff, 1);
	/* Write device_feature_select = 1 through it, then read device_feature. */
	cfg_wr(fx, c + 8, 4, VIRTIO_PCI_COMMON_DFSELECT);
	cfg_wr(fx, c + 12, 4, 4);
	cfg_wr(fx, c + 16, 4, 1);
	cfg_wr(fx, c + 8, 4, VIRTIO_PCI_COMMON_DF);
	assert_int_equal(cfg_rd(fx, c + 16, 4), VIRTIO_CORE_FEATURES >> 32);
	/* Bad windows do nothing: misaligned, bad length, other BAR, past the end. */
	cfg_wr(fx, c + 8, 4, VIRTIO_PCI_COMMON_DFSELECT + 2);
	cfg_wr(fx, c + 16, 4, 0);
	cfg_wr(fx, c + 12, 4, 3);
	cfg_wr(fx, c + 16, 4, 0);
	cfg_wr(fx, c + 4, 1, 0);
	cfg_wr(fx, c + 12, 4, 4);
	cfg_wr(fx, c + 8, 4, VIRTIO_PCI_COMMON_DFSELECT);
	cfg_wr(fx, c + 16, 4, 0);
	cfg_wr(fx, c + 4, 1, VIRTIO_PCI_BAR);
	cfg_wr(fx, c + 8, 4, VIRTIO_PCI_BAR_SIZE - 2);
	cfg_wr(fx, c + 16, 4, 0);
	assign_bars(fx);
	assert_int_equal(rd(fx, VIRTIO_PCI_COMMON_DFSELECT, 4), 1);
	/* A notify through the window reaches the notify callback. */
	cfg_wr(fx, c + 8, 4, VIRTIO_PCI_NOTIFY_OFF);
	cfg_wr(fx, c + 12, 4, 2);
	cfg_wr(fx, c + 16, 2, 0);
	assert_int_equal(fx->f.notifies[0], 1);
}

static void test_save_load(void **state)
{
	struct fixture *fx = *state;
	struct virtio_pci_state st, bad;
	unsigned m;

	assign_bars(fx);
	msix_program(fx, 0);
	msix_enable(fx, 1, 0);
	bring_up(fx);
	wr(fx, VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
	wr(fx, VIRTIO_PCI_COMMON_Q_MSIX, 2, 0);
	wr(fx, VIRTIO_PCI_COMMON_MSIX, 2, 1);
	msix_wr(fx, 16 + 12, PCI_MSIX_ENTRY_CTRL_MASKBIT);
	pthread_mutex_lock(&fx->vdev->lock);
	virtio_dev_config_changed(fx->vdev); /* vector 1 masked: pending */
	pthread_mutex_unlock(&fx->vdev->lock);
	request(fx);
	assert_int_equal(fx->f.nr_msi, 1);
	assert_int_equal(virtio_pci_save(fx->p, &st), 0);
	assert_int_equal(st.msix_pba, 2);
	assert_int_equal(st.queue_vector[0], 0);
	assert_int_equal(st.config_vector, 1);

	/* Wreck everything, then load. */
	pci_host_reset(fx->host);
	virtio_pci_reset(fx->p);
	assert_int_equal(bus_read(&fx->mmio, BAR4_ADDR, 4, &(uint64_t){0}), 0);
	assert_int_equal(virtio_pci_load(fx->p, &st), 0);
	assert_int_equal(rd(fx, VIRTIO_PCI_COMMON_STATUS, 1), 0xf);
	assert_int_equal(rd(fx, VIRTIO_PCI_COMMON_Q_MSIX, 2), 0);
	assert_int_equal(rd(fx, VIRTIO_PCI_COMMON_MSIX, 2), 1);
	assert_int_equal(msix_rd(fx, 0), (uint32_t)MSI_ADDR(0));
	assert_int_equal(msix_rd(fx, VIRTIO_PCI_MSIX_PBA_OFF), 2);
	m = find_cap(fx, PCI_CAP_ID_MSIX, 0);
	assert_int_equal(cfg_rd(fx, m + 2, 2), PCI_MSIX_FLAGS_ENABLE | 1);
	/* The loaded device works: the next buffer sends vector 0 (cached MSI-X state restored). */
	request(fx);
	assert_int_equal(fx->f.nr_msi, 2);
	assert_int_equal(fx->f.msi[1].data, 0x40);
	/* A second save equals the first apart from the queue progress. */
	struct virtio_pci_state st2;
	assert_int_equal(virtio_pci_save(fx->p, &st2), 0);
	assert_memory_equal(st2.pci_config, st.pci_config, PCI_CONFIG_SIZE);
	assert_memory_equal(st2.msix_table, st.msix_table, sizeof(st.msix_table));

	/* Rejected: each leaves the transport as it was. */
	bad = st;
	bad.config_vector = 2;
	assert_int_equal(virtio_pci_load(fx->p, &bad), -EINVAL);
	bad = st;
	bad.queue_vector[1] = 0; /* the rng has no queue 1 */
	assert_int_equal(virtio_pci_load(fx->p, &bad), -EINVAL);
	bad = st;
	bad.msix_pba = 4;
	assert_int_equal(virtio_pci_load(fx->p, &bad), -EINVAL);
	bad = st;
	bad.msix_table[0][3] = 2;
	assert_int_equal(virtio_pci_load(fx->p, &bad), -EINVAL);
	bad = st;
	bad.msix_table[5][0] = 1;
	assert_int_equal(virtio_pci_load(fx->p, &bad), -EINVAL);
	bad = st;
	bad.isr = 4;
	assert_int_equal(virtio_pci_load(fx->p, &bad), -EINVAL);
	bad = st;
	bad.pci_config[PCI_DEVICE_ID] ^= 1; /* another device */
	assert_int_equal(virtio_pci_load(fx->p, &bad), -EINVAL);
	bad = st;
	bad.dev.device_id = VIRTIO_ID_NET; /* the core refuses: config space put back */
	bad.pci_config[PCI_BASE_ADDRESS_0 + 4 * VIRTIO_PCI_BAR + 4] = 1;
	assert_int_equal(virtio_pci_load(fx->p, &bad), -EINVAL);
	assert_int_equal(rd(fx, VIRTIO_PCI_COMMON_MSIX, 2), 1);
	assert_int_equal(msix_rd(fx, VIRTIO_PCI_MSIX_PBA_OFF), 2);
}

static void test_reset(void **state)
{
	struct fixture *fx = *state;

	assign_bars(fx);
	msix_program(fx, 0);
	msix_enable(fx, 1, 0);
	bring_up(fx);
	pci_host_reset(fx->host);
	virtio_pci_reset(fx->p);
	assert_int_equal(fx->vdev->status, 0);
	assert_int_equal(cfg_rd(fx, PCI_COMMAND, 2), 0);
	assign_bars(fx);
	/* MSI-X entries masked and cleared, MSI-X off, vectors NO_VECTOR. */
	assert_int_equal(msix_rd(fx, 0), 0);
	assert_int_equal(msix_rd(fx, 12), PCI_MSIX_ENTRY_CTRL_MASKBIT);
	assert_int_equal(cfg_rd(fx, find_cap(fx, PCI_CAP_ID_MSIX, 0) + 2, 2), 1);
	assert_int_equal(rd(fx, VIRTIO_PCI_COMMON_MSIX, 2), VIRTIO_MSI_NO_VECTOR);
	/* Works again with INTx. */
	bring_up(fx);
	request(fx);
	assert_int_equal(fx->f.level, 1);
	assert_int_equal(fx->f.nr_msi, 0);
}

static void test_create_errors(void **state)
{
	struct fixture *fx = *state;
	struct virtio_pci *p2;
	struct virtio_rng *rng2;
	struct virtio_pci_wiring w = {.host = fx->host,
				      .slot = SLOT,
				      .msi = {fake_msi, &fx->f},
				      .notify = fake_notify,
				      .ctx = fx};

	assert_int_equal(virtio_rng_create(&fx->gm, fake_source, &fx->f, &rng2), 0);
	assert_int_equal(virtio_pci_create(virtio_rng_dev(rng2), &w, &p2), -EEXIST);
	assert_null(p2);
	w.slot = 32;
	assert_int_equal(virtio_pci_create(virtio_rng_dev(rng2), &w, &p2), -EINVAL);
	w.slot = SLOT + 1;
	w.msi.send = NULL;
	assert_int_equal(virtio_pci_create(virtio_rng_dev(rng2), &w, &p2), -EINVAL);
	virtio_rng_destroy(rng2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_identity_and_caps, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_console_caps, setup_console, teardown),
	    cmocka_unit_test_setup_teardown(test_bar_sizing_and_mapping, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_common_cfg_queue_setup, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_notify, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_msix_vectors_and_masking, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_intx_and_isr, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pci_cfg_window, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_save_load, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reset, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_create_errors, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
