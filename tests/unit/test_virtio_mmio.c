/* Unit tests for the virtio-mmio transport and the device core, driven through the registers as
 * Linux's virtio_mmio driver does, with the entropy device behind it, fake guest memory, a fake
 * IRQ line and a recorder for queue notifications. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "virtio/virtio_rng.h"
#include "virtq_builder.h"

#define QSIZE 16
#define DESC 0x1000
#define AVAIL 0x2000
#define USED 0x3000
#define BUF 0x8000
#define GSI 17

struct fake {
	int level, rises, falls;
	unsigned gsi;
	unsigned notifies[VIRTIO_MAX_QUEUES];
	unsigned nr_notifies;
	uint8_t next_byte;
};

struct fixture {
	struct fake f;
	struct gmem gm;
	struct virtio_rng *rng;
	struct virtio_dev *vdev;
	struct virtio_mmio *m;
	struct vqb b;
};

static void fake_irq_set(void *ctx, unsigned gsi, int level)
{
	struct fake *f = ctx;
	f->gsi = gsi;
	if (level && !f->level)
		f->rises++;
	if (!level && f->level)
		f->falls++;
	f->level = level;
}

static void fake_notify(void *ctx, unsigned q)
{
	struct fake *f = ctx;
	assert_true(q < VIRTIO_MAX_QUEUES);
	f->notifies[q]++;
	f->nr_notifies++;
}

static ssize_t fake_source(void *ctx, void *buf, size_t len)
{
	struct fake *f = ctx;
	uint8_t *p = buf;
	for (size_t i = 0; i < len; i++)
		p[i] = f->next_byte++;
	return (ssize_t)len;
}

static int setup(void **state)
{
	struct fixture *fx = test_calloc(1, sizeof(*fx));
	struct irq_line irq = {fake_irq_set, &fx->f, GSI};

	assert_int_equal(fake_mem_add(&fx->gm, 0, 0x100000), 0);
	assert_int_equal(virtio_rng_create(&fx->gm, fake_source, &fx->f, &fx->rng), 0);
	fx->vdev = virtio_rng_dev(fx->rng);
	assert_int_equal(virtio_mmio_create(fx->vdev, irq, fake_notify, &fx->f, &fx->m), 0);
	assert_ptr_equal(virtio_mmio_dev(fx->m), fx->vdev);
	vqb_init(&fx->b, &fx->gm, QSIZE, DESC, AVAIL, USED);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	virtio_mmio_destroy(fx->m);
	virtio_rng_destroy(fx->rng);
	fake_mem_destroy(&fx->gm);
	test_free(fx);
	return 0;
}

#define ALL_FEATURES VIRTIO_CORE_FEATURES

/* Bring the device to DRIVER_OK with queue 0 set up from fx->b. */
static void bring_up(struct fixture *fx, uint64_t features)
{
	uint32_t st = mmio_negotiate(fx->m, features);
	assert_true(st & VIRTIO_STATUS_FEATURES_OK);
	assert_int_equal(mmio_setup_queue(fx->m, 0, &fx->b), 1);
	mmio_driver_ok(fx->m);
}

/* Add one 64-byte writable request and run the queue as the event loop would. */
static void request(struct fixture *fx, uint64_t addr, uint32_t len)
{
	struct vqb_seg seg = {addr, len, 1};
	vqb_add(&fx->b, &seg, 1);
	mmio_wr(fx->m, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	assert_int_equal(virtio_dev_notify(fx->vdev, 0), 0);
}

static void test_identity(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(mmio_rd(fx->m, VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
	assert_int_equal(mmio_rd(fx->m, VIRTIO_MMIO_VERSION_REG), 2);
	assert_int_equal(mmio_rd(fx->m, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_RNG);
	assert_int_equal(mmio_rd(fx->m, VIRTIO_MMIO_VENDOR_ID), VIRTIO_MMIO_VENDOR);
	assert_int_equal(mmio_rd(fx->m, VIRTIO_MMIO_STATUS), 0);
	assert_int_equal(mmio_rd(fx->m, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	assert_int_equal(mmio_rd(fx->m, VIRTIO_MMIO_CONFIG_GENERATION), 0);
	assert_int_equal(mmio_rd(fx->m, VIRTIO_MMIO_QUEUE_NUM_MAX), VIRTIO_RNG_QUEUE_SIZE);
	assert_int_equal(mmio_rd(fx->m, VIRTIO_MMIO_QUEUE_READY), 0);
	mmio_wr(fx->m, VIRTIO_MMIO_QUEUE_SEL, 1); /* the rng has one queue */
	assert_int_equal(mmio_rd(fx->m, VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
	assert_int_equal(mmio_rd(fx->m, VIRTIO_MMIO_QUEUE_READY), 0);
	mmio_wr(fx->m, VIRTIO_MMIO_QUEUE_READY, 1);
	assert_int_equal(mmio_rd(fx->m, VIRTIO_MMIO_QUEUE_READY), 0);
	mmio_wr(fx->m, VIRTIO_MMIO_SHM_SEL, 0);
	assert_int_equal(mmio_rd(fx->m, VIRTIO_MMIO_SHM_LEN_LOW), 0xffffffff);
	assert_int_equal(mmio_rd(fx->m, VIRTIO_MMIO_SHM_LEN_HIGH), 0xffffffff);
	assert_int_equal(mmio_rd(fx->m, VIRTIO_MMIO_SHM_BASE_LOW), 0xffffffff);
	assert_int_equal(mmio_rd(fx->m, VIRTIO_MMIO_SHM_BASE_HIGH), 0xffffffff);
	assert_int_equal(mmio_rd(fx->m, VIRTIO_MMIO_QUEUE_RESET), 0);
	/* Write-only registers read 0; read-only ones ignore writes. */
	assert_int_equal(mmio_rd(fx->m, VIRTIO_MMIO_QUEUE_DESC_LOW), 0);
	assert_int_equal(mmio_rd(fx->m, VIRTIO_MMIO_QUEUE_NOTIFY), 0);
	mmio_wr(fx->m, VIRTIO_MMIO_MAGIC_VALUE, 0);
	mmio_wr(fx->m, VIRTIO_MMIO_DEVICE_ID, 9);
	assert_int_equal(mmio_rd(fx->m, VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
	assert_int_equal(mmio_rd(fx->m, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_RNG);
	assert_int_equal(virtio_mmio_notify_offset(), 0x50);
	assert_int_equal(fx->f.level, 0);
	assert_int_equal(fx->f.nr_notifies, 0);
}

static void test_access_sizes(void **state)
{
	struct fixture *fx = *state;

	/* Registers: only aligned 32-bit accesses. */
	assert_int_equal(virtio_mmio_ops.read(fx->m, VIRTIO_MMIO_MAGIC_VALUE, 2), 0);
	assert_int_equal(virtio_mmio_ops.read(fx->m, VIRTIO_MMIO_MAGIC_VALUE, 1), 0);
	assert_int_equal(virtio_mmio_ops.read(fx->m, VIRTIO_MMIO_MAGIC_VALUE, 8), 0);
	assert_int_equal(virtio_mmio_ops.read(fx->m, VIRTIO_MMIO_MAGIC_VALUE + 2, 4), 0);
	virtio_mmio_ops.write(fx->m, VIRTIO_MMIO_STATUS, 1, VIRTIO_STATUS_ACKNOWLEDGE);
	virtio_mmio_ops.write(fx->m, VIRTIO_MMIO_STATUS, 8, VIRTIO_STATUS_ACKNOWLEDGE);
	virtio_mmio_ops.write(fx->m, VIRTIO_MMIO_STATUS + 1, 4, VIRTIO_STATUS_ACKNOWLEDGE);
	assert_int_equal(mmio_rd(fx->m, VIRTIO_MMIO_STATUS), 0);
	/* Config space: the rng has none, so every size reads 0 and writes go nowhere. */
	for (unsigned size = 1; size <= 8; size *= 2) {
		assert_int_equal(virtio_mmio_ops.read(fx->m, VIRTIO_MMIO_CONFIG, size), 0);
		virtio_mmio_ops.write(fx->m, VIRTIO_MMIO_CONFIG, size, 0xff);
	}
	assert_int_equal(virtio_mmio_ops.read(fx->m, 0xffc, 4), 0);
	assert_int_equal(mmio_rd(fx->m, VIRTIO_MMIO_STATUS), 0);
}

static void test_linux_init_sequence(void **state)
{
	struct fixture *fx = *state;
	uint32_t id, len;

	/* virtio_mmio probe: magic, version, device id, then reset and ACKNOWLEDGE | DRIVER. */
	assert_int_equal(mmio_rd(fx->m, VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
	assert_int_equal(mmio_rd(fx->m, VIRTIO_MMIO_VERSION_REG), 2);
	assert_int_equal(mmio_rd(fx->m, VIRTIO_MMIO_DEVICE_ID), 4);
	mmio_wr(fx->m, VIRTIO_MMIO_STATUS, 0);
	mmio_wr(fx->m, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
	mmio_wr(fx->m, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	assert_int_equal(mmio_rd(fx->m, VIRTIO_MMIO_STATUS), 3);

	/* Device features in two halves. */
	mmio_wr(fx->m, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	uint64_t f = (uint64_t)mmio_rd(fx->m, VIRTIO_MMIO_DEVICE_FEATURES) << 32;
	mmio_wr(fx->m, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	f |= mmio_rd(fx->m, VIRTIO_MMIO_DEVICE_FEATURES);
	assert_int_equal(f, VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC) |
				VIRTIO_BIT(VIRTIO_F_EVENT_IDX));
	mmio_wr(fx->m, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 2);
	assert_int_equal(mmio_rd(fx->m, VIRTIO_MMIO_DEVICE_FEATURES), 0);

	/* Driver features in two halves, FEATURES_OK, read back. */
	mmio_wr(fx->m, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	mmio_wr(fx->m, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(f >> 32));
	mmio_wr(fx->m, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	mmio_wr(fx->m, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)f);
	mmio_wr(fx->m, VIRTIO_MMIO_STATUS, 3 | VIRTIO_STATUS_FEATURES_OK);
	assert_int_equal(mmio_rd(fx->m, VIRTIO_MMIO_STATUS), 3 | VIRTIO_STATUS_FEATURES_OK);
	assert_int_equal(fx->vdev->driver_features, f);

	/* Queue setup (vm_setup_vq). */
	mmio_wr(fx->m, VIRTIO_MMIO_QUEUE_SEL, 0);
	assert_int_equal(mmio_rd(fx->m, VIRTIO_MMIO_QUEUE_READY), 0);
	assert_int_equal(mmio_rd(fx->m, VIRTIO_MMIO_QUEUE_NUM_MAX), 256);
	assert_int_equal(mmio_setup_queue(fx->m, 0, &fx->b), 1);
	assert_true(fx->vdev->vq[0].event_idx);
	assert_true(fx->vdev->vq[0].indirect);

	/* DRIVER_OK kicks the ready queue once, in case buffers were added before. */
	mmio_driver_ok(fx->m);
	assert_int_equal(mmio_rd(fx->m, VIRTIO_MMIO_STATUS), 0x0f);
	assert_int_equal(fx->f.notifies[0], 1);

	/* A request: QueueNotify reaches the callback, the event loop runs the queue. */
	struct vqb_seg seg = {BUF, 64, 1};
	uint16_t head = vqb_add(&fx->b, &seg, 1);
	mmio_wr(fx->m, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	assert_int_equal(fx->f.notifies[0], 2);
	assert_int_equal(fx->f.level, 0); /* nothing happens before the event loop runs */
	assert_int_equal(virtio_dev_notify(fx->vdev, 0), 0);
	assert_int_equal(vqb_used_idx(&fx->b), 1);
	vqb_used_elem(&fx->b, 0, &id, &len);
	assert_int_equal(id, head);
	assert_int_equal(len, 64);
	assert_int_equal(fake_mem_ptr(&fx->gm, BUF)[0], 0);
	assert_int_equal(fake_mem_ptr(&fx->gm, BUF)[63], 63);

	/* Used-buffer interrupt: status bit 0, line high on GSI until acknowledged. */
	assert_int_equal(mmio_rd(fx->m, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_INT_USED);
	assert_int_equal(fx->f.level, 1);
	assert_int_equal(fx->f.gsi, GSI);
	mmio_wr(fx->m, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_INT_CONFIG); /* wrong bit: stays */
	assert_int_equal(fx->f.level, 1);
	mmio_wr(fx->m, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_INT_USED);
	assert_int_equal(mmio_rd(fx->m, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	assert_int_equal(fx->f.level, 0);
	assert_int_equal(fx->f.rises, 1);

	/* A second request with event idx: used_event 1 asks for this one. */
	vqb_set_used_event(&fx->b, 1);
	request(fx, BUF + 0x100, 16);
	assert_int_equal(fx->f.level, 1);
	mmio_wr(fx->m, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_INT_USED);
	/* ...and used_event 1 again: the third request does not interrupt. */
	request(fx, BUF + 0x200, 16);
	assert_int_equal(vqb_used_idx(&fx->b), 3);
	assert_int_equal(fx->f.level, 0);
	assert_int_equal(vqb_avail_event(&fx->b), 3);

	/* Notifications for queues the device does not have are dropped. */
	unsigned before = fx->f.nr_notifies;
	mmio_wr(fx->m, VIRTIO_MMIO_QUEUE_NOTIFY, 1);
	mmio_wr(fx->m, VIRTIO_MMIO_QUEUE_NOTIFY, 0x10000);
	assert_int_equal(fx->f.nr_notifies, before);
	assert_int_equal(virtio_dev_notify(fx->vdev, 7), 0);
	assert_int_equal(virtio_dev_notify(fx->vdev, 100), 0);
}

static void test_feature_negotiation(void **state)
{
	struct fixture *fx = *state;

	/* A feature the device did not offer: FEATURES_OK is not set. */
	uint32_t st = mmio_negotiate(fx->m, VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(5));
	assert_false(st & VIRTIO_STATUS_FEATURES_OK);
	assert_true(st & VIRTIO_STATUS_DRIVER);
	/* DRIVER_OK without FEATURES_OK is not set either. */
	mmio_wr(fx->m, VIRTIO_MMIO_STATUS, st | VIRTIO_STATUS_DRIVER_OK);
	assert_false(mmio_rd(fx->m, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DRIVER_OK);

	/* A legacy driver (no VERSION_1) is refused. */
	st = mmio_negotiate(fx->m, VIRTIO_BIT(VIRTIO_F_EVENT_IDX));
	assert_false(st & VIRTIO_STATUS_FEATURES_OK);
	/* Bits in words past the second are ignored. */
	mmio_wr(fx->m, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 2);
	mmio_wr(fx->m, VIRTIO_MMIO_DRIVER_FEATURES, 0xffffffff);

	/* VERSION_1 alone is enough; no ring features then. */
	st = mmio_negotiate(fx->m, VIRTIO_BIT(VIRTIO_F_VERSION_1));
	assert_true(st & VIRTIO_STATUS_FEATURES_OK);
	assert_int_equal(mmio_setup_queue(fx->m, 0, &fx->b), 1);
	assert_false(fx->vdev->vq[0].event_idx);
	assert_false(fx->vdev->vq[0].indirect);
	/* After FEATURES_OK the driver features are frozen. */
	mmio_wr(fx->m, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	mmio_wr(fx->m, VIRTIO_MMIO_DRIVER_FEATURES, VIRTIO_BIT(VIRTIO_F_EVENT_IDX));
	assert_int_equal(fx->vdev->driver_features, VIRTIO_BIT(VIRTIO_F_VERSION_1));
	/* The driver cannot clear status bits. */
	mmio_wr(fx->m, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
	assert_int_equal(mmio_rd(fx->m, VIRTIO_MMIO_STATUS), 0x0b);
	/* Nor set NEEDS_RESET itself. */
	mmio_wr(fx->m, VIRTIO_MMIO_STATUS, 0x0b | VIRTIO_STATUS_NEEDS_RESET);
	assert_int_equal(mmio_rd(fx->m, VIRTIO_MMIO_STATUS), 0x0b);
	/* Before DRIVER_OK, notifications process nothing. */
	struct vqb_seg seg = {BUF, 8, 1};
	vqb_add(&fx->b, &seg, 1);
	assert_int_equal(virtio_dev_notify(fx->vdev, 0), 0);
	assert_int_equal(vqb_used_idx(&fx->b), 0);
	mmio_driver_ok(fx->m);
	assert_int_equal(fx->f.notifies[0], 1);
	assert_int_equal(virtio_dev_notify(fx->vdev, 0), 0);
	assert_int_equal(vqb_used_idx(&fx->b), 1);
	/* FAILED sticks but does not reset anything. */
	mmio_wr(fx->m, VIRTIO_MMIO_STATUS, 0x0f | VIRTIO_STATUS_FAILED);
	assert_int_equal(mmio_rd(fx->m, VIRTIO_MMIO_STATUS), 0x8f);
}

static void test_queue_config_while_ready(void **state)
{
	struct fixture *fx = *state;

	bring_up(fx, ALL_FEATURES);
	/* QueueNum and the addresses cannot change while the queue is ready. */
	mmio_wr(fx->m, VIRTIO_MMIO_QUEUE_NUM, 8);
	mmio_wr(fx->m, VIRTIO_MMIO_QUEUE_DESC_LOW, 0x5000);
	mmio_wr(fx->m, VIRTIO_MMIO_QUEUE_DRIVER_LOW, 0x5000);
	mmio_wr(fx->m, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, 1);
	assert_int_equal(fx->vdev->vq[0].size, QSIZE);
	assert_int_equal(fx->vdev->vq[0].desc_gpa, DESC);
	assert_int_equal(fx->vdev->vq[0].avail_gpa, AVAIL);
	assert_int_equal(fx->vdev->vq[0].used_gpa, USED);
	mmio_wr(fx->m, VIRTIO_MMIO_QUEUE_READY, 2); /* not 0 or 1: ignored */
	assert_int_equal(mmio_rd(fx->m, VIRTIO_MMIO_QUEUE_READY), 1);
	/* Disabling and re-enabling with new values works. */
	mmio_wr(fx->m, VIRTIO_MMIO_QUEUE_READY, 0);
	assert_int_equal(mmio_rd(fx->m, VIRTIO_MMIO_QUEUE_READY), 0);
	mmio_wr(fx->m, VIRTIO_MMIO_QUEUE_NUM, 8);
	mmio_wr(fx->m, VIRTIO_MMIO_QUEUE_DEVICE_LOW, 0x5000);
	mmio_wr(fx->m, VIRTIO_MMIO_QUEUE_READY, 1);
	assert_int_equal(mmio_rd(fx->m, VIRTIO_MMIO_QUEUE_READY), 1);
	assert_int_equal(fx->vdev->vq[0].size, 8);
	assert_int_equal(fx->vdev->vq[0].used_gpa, 0x5000);
	assert_int_equal(mmio_rd(fx->m, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET, 0);
}

static void test_bad_queue_setup(void **state)
{
	struct fixture *fx = *state;

	assert_true(mmio_negotiate(fx->m, ALL_FEATURES) & VIRTIO_STATUS_FEATURES_OK);
	/* A used ring outside RAM: the queue stays disabled and the device needs a reset, without
	 * an interrupt (no DRIVER_OK yet). */
	struct vqb bad = fx->b;
	bad.used = 0x40000000;
	assert_int_equal(mmio_setup_queue(fx->m, 0, &bad), 0);
	assert_true(mmio_rd(fx->m, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
	assert_int_equal(mmio_rd(fx->m, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	assert_int_equal(fx->f.level, 0);
	/* A size that is not a power of two, after a reset. */
	assert_true(mmio_negotiate(fx->m, ALL_FEATURES) & VIRTIO_STATUS_FEATURES_OK);
	bad = fx->b;
	bad.size = 12;
	assert_int_equal(mmio_setup_queue(fx->m, 0, &bad), 0);
	assert_true(mmio_rd(fx->m, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
	/* A size above QueueNumMax. */
	assert_true(mmio_negotiate(fx->m, ALL_FEATURES) & VIRTIO_STATUS_FEATURES_OK);
	bad.size = 512;
	assert_int_equal(mmio_setup_queue(fx->m, 0, &bad), 0);
	assert_true(mmio_rd(fx->m, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
}

/* Everything a reset must release. */
static void expect_reset_state(struct fixture *fx)
{
	assert_int_equal(mmio_rd(fx->m, VIRTIO_MMIO_STATUS), 0);
	assert_int_equal(mmio_rd(fx->m, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	assert_int_equal(fx->f.level, 0);
	assert_int_equal(fx->vdev->driver_features, 0);
	mmio_wr(fx->m, VIRTIO_MMIO_QUEUE_SEL, 0);
	assert_int_equal(mmio_rd(fx->m, VIRTIO_MMIO_QUEUE_READY), 0);
	assert_int_equal(fx->vdev->vq[0].size, VIRTIO_RNG_QUEUE_SIZE);
	assert_int_equal(fx->vdev->vq[0].desc_gpa, 0);
	assert_int_equal(fx->vdev->vq[0].last_avail_idx, 0);
	assert_int_equal(fx->vdev->vq[0].used_idx, 0);
	assert_false(fx->vdev->vq[0].event_idx);
	assert_false(virtq_broken(&fx->vdev->vq[0]));
}

static void test_needs_reset_on_malformed_chain(void **state)
{
	struct fixture *fx = *state;

	bring_up(fx, ALL_FEATURES);
	/* A descriptor loop. */
	vqb_write_desc(&fx->b, 0, BUF, 8, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 0);
	vqb_publish(&fx->b, 0);
	mmio_wr(fx->m, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	assert_int_equal(virtio_dev_notify(fx->vdev, 0), 0);
	assert_int_equal(mmio_rd(fx->m, VIRTIO_MMIO_STATUS), 0x0f | VIRTIO_STATUS_NEEDS_RESET);
	assert_int_equal(mmio_rd(fx->m, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_INT_CONFIG);
	assert_int_equal(fx->f.level, 1);
	assert_int_equal(vqb_used_idx(&fx->b), 0);
	/* Acknowledge; further notifications do nothing and raise nothing. */
	mmio_wr(fx->m, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_INT_CONFIG);
	assert_int_equal(fx->f.level, 0);
	struct vqb_seg seg = {BUF, 8, 1};
	vqb_add(&fx->b, &seg, 1);
	assert_int_equal(virtio_dev_notify(fx->vdev, 0), 0);
	assert_int_equal(fx->f.level, 0);
	assert_int_equal(vqb_used_idx(&fx->b), 0);
	/* The driver resets: everything is released and the device works again. */
	mmio_wr(fx->m, VIRTIO_MMIO_STATUS, 0);
	expect_reset_state(fx);
	vqb_init(&fx->b, &fx->gm, QSIZE, DESC, AVAIL, USED);
	bring_up(fx, ALL_FEATURES);
	request(fx, BUF, 8);
	assert_int_equal(vqb_used_idx(&fx->b), 1);
	assert_int_equal(fx->f.level, 1);
}

static void test_machine_reset(void **state)
{
	struct fixture *fx = *state;

	bring_up(fx, ALL_FEATURES);
	request(fx, BUF, 8);
	assert_int_equal(fx->f.level, 1);
	mmio_wr(fx->m, VIRTIO_MMIO_QUEUE_SEL, 3);
	virtio_mmio_reset(fx->m);
	expect_reset_state(fx);
}

static void test_save_load(void **state)
{
	struct fixture *fx = *state;
	struct virtio_mmio_state *st = test_malloc(sizeof(*st));
	struct virtio_mmio_state *st2 = test_malloc(sizeof(*st2));
	struct virtio_mmio_state *bad = test_malloc(sizeof(*bad));
	struct fixture fx2 = {0};
	struct irq_line irq = {fake_irq_set, &fx2.f, GSI};
	uint32_t id, len;

	bring_up(fx, ALL_FEATURES);
	request(fx, BUF, 8); /* interrupt pending */
	struct vqb_seg seg = {BUF + 0x100, 32, 1};
	uint16_t head = vqb_add(&fx->b, &seg, 1); /* available, not yet processed */
	assert_int_equal(virtio_mmio_save(fx->m, st), 0);
	assert_int_equal(st->interrupt_status, VIRTIO_INT_USED);
	assert_int_equal(st->dev.status, 0x0f);

	/* A second device over the same memory takes the state and continues. */
	assert_int_equal(virtio_rng_create(&fx->gm, fake_source, &fx2.f, &fx2.rng), 0);
	fx2.vdev = virtio_rng_dev(fx2.rng);
	assert_int_equal(virtio_mmio_create(fx2.vdev, irq, fake_notify, &fx2.f, &fx2.m), 0);
	assert_int_equal(virtio_mmio_load(fx2.m, st), 0);
	assert_int_equal(fx2.f.level, 1);
	assert_int_equal(mmio_rd(fx2.m, VIRTIO_MMIO_STATUS), 0x0f);
	assert_int_equal(virtio_mmio_save(fx2.m, st2), 0);
	assert_memory_equal(st, st2, sizeof(*st));
	mmio_wr(fx2.m, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_INT_USED);
	assert_int_equal(virtio_dev_notify(fx2.vdev, 0), 0);
	assert_int_equal(vqb_used_idx(&fx->b), 2);
	vqb_used_elem(&fx->b, 1, &id, &len);
	assert_int_equal(id, head);
	assert_int_equal(len, 32);

	/* Rejected states change nothing. */
	assert_int_equal(virtio_mmio_save(fx2.m, st2), 0);
#define REJECT(mod)                                                                                \
	do {                                                                                       \
		memcpy(bad, st2, sizeof(*bad));                                                    \
		mod;                                                                               \
		assert_int_equal(virtio_mmio_load(fx2.m, bad), -EINVAL);                           \
		assert_int_equal(virtio_mmio_save(fx2.m, st), 0);                                  \
		assert_memory_equal(st, st2, sizeof(*st));                                         \
	} while (0)
	REJECT(bad->interrupt_status = 4);
	REJECT(bad->reserved = 1);
	REJECT(bad->dev.device_id = VIRTIO_ID_BLOCK);
	REJECT(bad->dev.nr_queues = 2);
	REJECT(bad->dev.device_features |= 1);
	REJECT(bad->dev.driver_features |= VIRTIO_BIT(3)); /* not offered */
	REJECT(bad->dev.driver_features &= ~VIRTIO_BIT(VIRTIO_F_VERSION_1));
	REJECT(bad->dev.status |= 0x30);
	REJECT(bad->dev.status &= ~VIRTIO_STATUS_FEATURES_OK);	   /* DRIVER_OK without it */
	REJECT(bad->interrupt_status = 1; bad->dev.status = 0x0b); /* interrupt, no DRIVER_OK */
	REJECT(bad->dev.vq[0].flags |= VIRTQ_STATE_BROKEN);	   /* broken without NEEDS_RESET */
	REJECT(bad->dev.vq[0].flags &= ~VIRTQ_STATE_EVENT_IDX);	   /* ring features mismatch */
	REJECT(bad->dev.vq[0].used_gpa = 0x40000000);
	REJECT(bad->dev.vq[0].size = 3);
	REJECT(bad->dev.vq[1].size = 8); /* a queue the device does not have */
	REJECT(bad->dev.dev_len = 1);	 /* the rng has no state of its own */
	REJECT(bad->dev.dev_len = VIRTIO_DEV_STATE_MAX + 1);
#undef REJECT
	/* Before FEATURES_OK the driver may have written features the device does not offer (they
	 * are refused only at FEATURES_OK): such a state saves and loads back. */
	mmio_wr(fx2.m, VIRTIO_MMIO_STATUS, 0);
	mmio_wr(fx2.m, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	mmio_wr(fx2.m, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	mmio_wr(fx2.m, VIRTIO_MMIO_DRIVER_FEATURES, 0xe5e54f21);
	assert_int_equal(virtio_mmio_save(fx2.m, bad), 0);
	assert_int_equal(virtio_mmio_load(fx2.m, bad), 0);
	assert_int_equal(virtio_mmio_load(fx2.m, st2), 0);
	/* A broken queue with NEEDS_RESET is a valid state. */
	memcpy(bad, st2, sizeof(*bad));
	bad->dev.vq[0].flags |= VIRTQ_STATE_BROKEN;
	bad->dev.status |= VIRTIO_STATUS_NEEDS_RESET;
	assert_int_equal(virtio_mmio_load(fx2.m, bad), 0);
	assert_int_equal(mmio_rd(fx2.m, VIRTIO_MMIO_STATUS), 0x4f);

	virtio_mmio_destroy(fx2.m);
	virtio_rng_destroy(fx2.rng);
	test_free(st);
	test_free(st2);
	test_free(bad);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_identity, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_access_sizes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_linux_init_sequence, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_feature_negotiation, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_queue_config_while_ready, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_queue_setup, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_needs_reset_on_malformed_chain, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_machine_reset, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_save_load, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
