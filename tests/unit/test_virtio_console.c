/* Unit tests for the virtio console: transmit requests to a recording char_out, host input into
 * receive buffers (partial fills, no buffers, back-pressure wake-ups), malformed requests, the
 * configuration space with emerg_wr, and a save/load round trip into a second device. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "virtio/virtio_console.h"
#include "virtq_builder.h"

#define QSIZE 16
#define RX_DESC 0x1000
#define RX_AVAIL 0x2000
#define RX_USED 0x3000
#define TX_DESC 0x4000
#define TX_AVAIL 0x5000
#define TX_USED 0x6000
#define BUF 0x10000
#define REGION_B 0x100000ull /* second region, adjacent to the first */

struct fake {
	int level;
	unsigned notifies[VIRTIO_MAX_QUEUES];
	unsigned rx_ready;
	char out[4096];
	size_t out_len;
	int out_error; /* the char_out fails with this when non-zero */
};

struct fixture {
	struct fake f;
	struct gmem gm;
	struct virtio_console *con;
	struct virtio_dev *vdev;
	struct virtio_mmio *m;
	struct vqb rx, tx;
};

static void fake_irq_set(void *ctx, unsigned gsi, int level)
{
	((struct fake *)ctx)->level = level;
}

static void fake_notify(void *ctx, unsigned q)
{
	((struct fake *)ctx)->notifies[q]++;
}

static ssize_t fake_write(void *ctx, const void *buf, size_t len)
{
	struct fake *f = ctx;

	if (f->out_error)
		return f->out_error;
	assert_true(f->out_len + len <= sizeof(f->out));
	memcpy(f->out + f->out_len, buf, len);
	f->out_len += len;
	return (ssize_t)len;
}

static void fake_rx_ready(void *ctx)
{
	((struct fake *)ctx)->rx_ready++;
}

static void fixture_init(struct fixture *fx, int driver_ok)
{
	struct irq_line irq = {fake_irq_set, &fx->f, 16};

	assert_int_equal(fake_mem_add(&fx->gm, 0, REGION_B), 0);
	assert_int_equal(fake_mem_add(&fx->gm, REGION_B, 0x100000), 0);
	assert_int_equal(
	    virtio_console_create(&fx->gm, (struct char_out){fake_write, &fx->f}, &fx->con), 0);
	fx->vdev = virtio_console_dev(fx->con);
	assert_int_equal(virtio_mmio_create(fx->vdev, irq, fake_notify, &fx->f, &fx->m), 0);
	virtio_console_set_rx_ready(fx->con, fake_rx_ready, &fx->f);
	vqb_init(&fx->rx, &fx->gm, QSIZE, RX_DESC, RX_AVAIL, RX_USED);
	vqb_init(&fx->tx, &fx->gm, QSIZE, TX_DESC, TX_AVAIL, TX_USED);
	if (!driver_ok)
		return;
	assert_true(mmio_negotiate(fx->m, VIRTIO_CORE_FEATURES) & VIRTIO_STATUS_FEATURES_OK);
	assert_int_equal(mmio_setup_queue(fx->m, VIRTIO_CONSOLE_RXQ, &fx->rx), 1);
	assert_int_equal(mmio_setup_queue(fx->m, VIRTIO_CONSOLE_TXQ, &fx->tx), 1);
	mmio_driver_ok(fx->m);
}

static void fixture_fini(struct fixture *fx)
{
	virtio_mmio_destroy(fx->m);
	virtio_console_destroy(fx->con);
	fake_mem_destroy(&fx->gm);
}

static int setup(void **state)
{
	struct fixture *fx = test_calloc(1, sizeof(*fx));

	fixture_init(fx, 1);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	fixture_fini(fx);
	test_free(fx);
	return 0;
}

static void put_bytes(struct fixture *fx, uint64_t gpa, const char *s)
{
	assert_int_equal(gmem_write(&fx->gm, gpa, s, strlen(s)), 0);
}

static uint32_t used_len(struct vqb *b, uint16_t i, uint16_t head)
{
	uint32_t id, len;

	vqb_used_elem(b, i, &id, &len);
	assert_int_equal(id, head);
	return len;
}

static void test_identity_and_config(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(mmio_rd(fx->m, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_CONSOLE);
	mmio_wr(fx->m, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	assert_int_equal(mmio_rd(fx->m, VIRTIO_MMIO_DEVICE_FEATURES),
			 1u << VIRTIO_CONSOLE_F_EMERG_WRITE | 1u << VIRTIO_F_INDIRECT_DESC |
			     1u << VIRTIO_F_EVENT_IDX);
	/* Two queues, no third. */
	for (unsigned q = 0; q < 3; q++) {
		mmio_wr(fx->m, VIRTIO_MMIO_QUEUE_SEL, q);
		assert_int_equal(mmio_rd(fx->m, VIRTIO_MMIO_QUEUE_NUM_MAX),
				 q < 2 ? VIRTIO_CONSOLE_QUEUE_SIZE : 0);
	}
	/* cols, rows 0; max_nr_ports 1; emerg_wr reads 0; past the end reads 0. */
	uint64_t cfg = VIRTIO_MMIO_CONFIG;
	assert_int_equal(virtio_mmio_ops.read(fx->m, cfg + VIRTIO_CONSOLE_CFG_COLS, 2), 0);
	assert_int_equal(virtio_mmio_ops.read(fx->m, cfg + VIRTIO_CONSOLE_CFG_ROWS, 2), 0);
	assert_int_equal(virtio_mmio_ops.read(fx->m, cfg + VIRTIO_CONSOLE_CFG_MAX_NR_PORTS, 4), 1);
	assert_int_equal(virtio_mmio_ops.read(fx->m, cfg + VIRTIO_CONSOLE_CFG_MAX_NR_PORTS, 1), 1);
	assert_int_equal(virtio_mmio_ops.read(fx->m, cfg + VIRTIO_CONSOLE_CFG_EMERG_WR, 4), 0);
	assert_int_equal(virtio_mmio_ops.read(fx->m, cfg + VIRTIO_CONSOLE_CONFIG_LEN, 4), 0);
	assert_int_equal(virtio_mmio_ops.read(fx->m, cfg + 10, 4), 0); /* crosses the end */
	/* emerg_wr: the low byte goes out at once; writes elsewhere are ignored. */
	virtio_mmio_ops.write(fx->m, cfg + VIRTIO_CONSOLE_CFG_EMERG_WR, 4, 0x4121);
	virtio_mmio_ops.write(fx->m, cfg + VIRTIO_CONSOLE_CFG_EMERG_WR, 1, '!');
	virtio_mmio_ops.write(fx->m, cfg + VIRTIO_CONSOLE_CFG_COLS, 2, 80);
	assert_int_equal(fx->f.out_len, 2);
	assert_memory_equal(fx->f.out, "!!", 2);
	assert_int_equal(virtio_mmio_ops.read(fx->m, cfg + VIRTIO_CONSOLE_CFG_COLS, 2), 0);
}

static void test_transmit(void **state)
{
	struct fixture *fx = *state;
	struct vqb_seg one = {BUF, 6, 0};
	/* Three readable segments, one across the region boundary, one zero-length. */
	struct vqb_seg three[] = {{BUF + 0x100, 3, 0}, {REGION_B - 2, 5, 0}, {BUF + 0x200, 0, 0}};

	put_bytes(fx, BUF, "hello ");
	put_bytes(fx, BUF + 0x100, "vir");
	put_bytes(fx, REGION_B - 2, "tio\r\n");
	uint16_t h1 = vqb_add(&fx->tx, &one, 1);
	uint16_t h2 = vqb_add(&fx->tx, three, 3);
	assert_int_equal(virtio_dev_notify(fx->vdev, VIRTIO_CONSOLE_TXQ), 0);
	assert_int_equal(fx->f.out_len, 14);
	assert_memory_equal(fx->f.out, "hello virtio\r\n", 14);
	assert_int_equal(vqb_used_idx(&fx->tx), 2);
	assert_int_equal(used_len(&fx->tx, 0, h1), 0);
	assert_int_equal(used_len(&fx->tx, 1, h2), 0);
	assert_int_equal(fx->f.level, 1);
	assert_int_equal(mmio_rd(fx->m, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_INT_USED);
	mmio_wr(fx->m, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_INT_USED);
	assert_int_equal(fx->f.level, 0);

	/* An output error drops the bytes, the request still completes. */
	fx->f.out_error = -EPIPE;
	uint16_t h3 = vqb_add(&fx->tx, &one, 1);
	assert_int_equal(virtio_dev_notify(fx->vdev, VIRTIO_CONSOLE_TXQ), 0);
	assert_int_equal(used_len(&fx->tx, 2, h3), 0);
	assert_false(mmio_rd(fx->m, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
}

static void test_transmit_budget(void **state)
{
	struct fixture *fx = *state;
	/* Large requests with a counting output: the budget splits them over two calls. */
	const uint32_t len = VIRTIO_CONSOLE_TX_BUDGET / 2;
	struct vqb_seg seg = {BUF, len, 0};

	fx->f.out_error = -EAGAIN; /* count nothing, just complete */
	for (unsigned i = 0; i < 3; i++)
		vqb_add(&fx->tx, &seg, 1);
	assert_int_equal(virtio_dev_notify(fx->vdev, VIRTIO_CONSOLE_TXQ), 1);
	assert_int_equal(vqb_used_idx(&fx->tx), 2);
	assert_int_equal(virtio_dev_notify(fx->vdev, VIRTIO_CONSOLE_TXQ), 0);
	assert_int_equal(vqb_used_idx(&fx->tx), 3);
}

static void test_transmit_writable_is_malformed(void **state)
{
	struct fixture *fx = *state;
	struct vqb_seg bad[] = {{BUF, 4, 0}, {BUF + 0x100, 4, 1}};
	struct vqb_seg good = {BUF, 4, 0};

	put_bytes(fx, BUF, "abcd");
	vqb_add(&fx->tx, bad, 2);
	vqb_add(&fx->tx, &good, 1);
	assert_int_equal(virtio_dev_notify(fx->vdev, VIRTIO_CONSOLE_TXQ), 0);
	assert_int_equal(fx->f.out_len, 0);
	assert_int_equal(vqb_used_idx(&fx->tx), 0);
	assert_true(mmio_rd(fx->m, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
	assert_int_equal(mmio_rd(fx->m, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_INT_CONFIG);
	/* Nothing is received either until the driver resets the device. */
	struct vqb_seg rxb = {BUF + 0x1000, 16, 1};
	vqb_add(&fx->rx, &rxb, 1);
	assert_int_equal(virtio_console_receive(fx->con, (const uint8_t *)"x", 1), 0);
}

static void test_receive(void **state)
{
	struct fixture *fx = *state;
	struct vqb_seg a = {BUF, 4, 1};
	struct vqb_seg b[] = {{REGION_B - 3, 6, 1}, {BUF + 0x100, 10, 1}};
	const uint8_t msg[] = "0123456789abcdefghij"; /* 20 bytes */

	/* No buffer posted: nothing taken. */
	assert_int_equal(virtio_console_receive(fx->con, msg, 20), 0);
	assert_int_equal(fx->f.level, 0);

	/* The driver posts buffers and notifies: the host side hears about it. */
	uint16_t ha = vqb_add(&fx->rx, &a, 1);
	uint16_t hb = vqb_add(&fx->rx, b, 2);
	assert_int_equal(virtio_dev_notify(fx->vdev, VIRTIO_CONSOLE_RXQ), 0);
	assert_int_equal(fx->f.rx_ready, 1);

	/* 4 + 16 bytes of room: 20 bytes fill both; the rest of a longer input is left. */
	assert_int_equal(virtio_console_receive(fx->con, msg, 20), 20);
	assert_int_equal(vqb_used_idx(&fx->rx), 2);
	assert_int_equal(used_len(&fx->rx, 0, ha), 4);
	assert_int_equal(used_len(&fx->rx, 1, hb), 16);
	assert_memory_equal(fake_mem_ptr(&fx->gm, BUF), "0123", 4);
	assert_memory_equal(fake_mem_ptr(&fx->gm, REGION_B - 3), "456", 3);
	assert_memory_equal(fake_mem_ptr(&fx->gm, REGION_B), "789", 3);
	assert_memory_equal(fake_mem_ptr(&fx->gm, BUF + 0x100), "abcdefghij", 10);
	assert_int_equal(fx->f.level, 1);
	assert_int_equal(virtio_console_receive(fx->con, msg, 5), 0);

	/* A short input only partly fills a buffer; the used length says how much. */
	struct vqb_seg c = {BUF + 0x200, 64, 1};
	uint16_t hc = vqb_add(&fx->rx, &c, 1);
	assert_int_equal(virtio_console_receive(fx->con, (const uint8_t *)"ls\n", 3), 3);
	assert_int_equal(used_len(&fx->rx, 2, hc), 3);
	assert_int_equal(fake_mem_ptr(&fx->gm, BUF + 0x200)[3], 0);
}

static void test_receive_readable_is_malformed(void **state)
{
	struct fixture *fx = *state;
	struct vqb_seg bad = {BUF, 8, 0};

	vqb_add(&fx->rx, &bad, 1);
	assert_int_equal(virtio_console_receive(fx->con, (const uint8_t *)"abc", 3), 0);
	assert_int_equal(fake_mem_ptr(&fx->gm, BUF)[0], 0);
	assert_true(mmio_rd(fx->m, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
	assert_int_equal(fx->f.level, 1);
	/* A reset by the driver brings it back. */
	assert_true(mmio_negotiate(fx->m, VIRTIO_CORE_FEATURES) & VIRTIO_STATUS_FEATURES_OK);
	assert_int_equal(fx->f.level, 0);
	vqb_init(&fx->rx, &fx->gm, QSIZE, RX_DESC, RX_AVAIL, RX_USED);
	assert_int_equal(mmio_setup_queue(fx->m, VIRTIO_CONSOLE_RXQ, &fx->rx), 1);
	mmio_driver_ok(fx->m);
	struct vqb_seg good = {BUF, 8, 1};
	vqb_add(&fx->rx, &good, 1);
	assert_int_equal(virtio_console_receive(fx->con, (const uint8_t *)"abc", 3), 3);
}

static void test_not_before_driver_ok(void **state)
{
	struct fixture *fx = test_calloc(1, sizeof(*fx));
	struct vqb_seg rxb = {BUF, 8, 1};

	(void)state;
	fixture_init(fx, 0);
	assert_true(mmio_negotiate(fx->m, VIRTIO_CORE_FEATURES) & VIRTIO_STATUS_FEATURES_OK);
	assert_int_equal(mmio_setup_queue(fx->m, VIRTIO_CONSOLE_RXQ, &fx->rx), 1);
	vqb_add(&fx->rx, &rxb, 1);
	assert_int_equal(virtio_console_receive(fx->con, (const uint8_t *)"abc", 3), 0);
	mmio_driver_ok(fx->m);
	assert_int_equal(fx->f.notifies[VIRTIO_CONSOLE_RXQ], 1); /* the DRIVER_OK kick */
	assert_int_equal(virtio_console_receive(fx->con, (const uint8_t *)"abc", 3), 3);
	fixture_fini(fx);
	test_free(fx);
}

static void test_save_load(void **state)
{
	struct fixture *fx = *state;
	struct fixture *fx2 = test_calloc(1, sizeof(*fx2));
	struct virtio_mmio_state *st = test_malloc(sizeof(*st));
	struct virtio_mmio_state *st2 = test_malloc(sizeof(*st2));
	struct vqb_seg tx = {BUF, 3, 0};
	struct vqb_seg rx = {BUF + 0x100, 8, 1};

	/* Some traffic, then one receive buffer left posted and one transmit request pending. */
	put_bytes(fx, BUF, "one");
	vqb_add(&fx->tx, &tx, 1);
	assert_int_equal(virtio_dev_notify(fx->vdev, VIRTIO_CONSOLE_TXQ), 0);
	vqb_add(&fx->rx, &rx, 1);
	vqb_add(&fx->tx, &tx, 1);
	assert_int_equal(virtio_mmio_save(fx->m, st), 0);
	assert_int_equal(st->dev.dev_len, 4);

	/* Into a fresh device over the same guest memory (the saved queue addresses point there).
	 */
	assert_int_equal(
	    virtio_console_create(&fx->gm, (struct char_out){fake_write, &fx2->f}, &fx2->con), 0);
	fx2->vdev = virtio_console_dev(fx2->con);
	assert_int_equal(virtio_mmio_create(fx2->vdev, (struct irq_line){fake_irq_set, &fx2->f, 16},
					    fake_notify, &fx2->f, &fx2->m),
			 0);
	assert_int_equal(virtio_mmio_load(fx2->m, st), 0);
	assert_int_equal(virtio_mmio_save(fx2->m, st2), 0);
	assert_memory_equal(st, st2, sizeof(*st));
	assert_int_equal(fx2->f.level, 1); /* the saved InterruptStatus */

	/* The loaded device carries on where the first stopped. */
	put_bytes(fx, BUF, "two");
	assert_int_equal(virtio_dev_notify(fx2->vdev, VIRTIO_CONSOLE_TXQ), 0);
	assert_int_equal(fx2->f.out_len, 3);
	assert_memory_equal(fx2->f.out, "two", 3);
	assert_int_equal(vqb_used_idx(&fx->tx), 2);
	assert_int_equal(virtio_console_receive(fx2->con, (const uint8_t *)"in", 2), 2);
	assert_int_equal(vqb_used_idx(&fx->rx), 1);
	assert_memory_equal(fake_mem_ptr(&fx->gm, BUF + 0x100), "in", 2);

	/* A bad device version or length is refused and changes nothing. */
	uint32_t v = VIRTIO_CONSOLE_STATE_VERSION + 1;
	memcpy(st->dev.dev, &v, 4);
	assert_int_equal(virtio_mmio_load(fx2->m, st), -EINVAL);
	v = VIRTIO_CONSOLE_STATE_VERSION;
	memcpy(st->dev.dev, &v, 4);
	st->dev.dev_len = 8;
	assert_int_equal(virtio_mmio_load(fx2->m, st), -EINVAL);
	st->dev.dev_len = 4;
	st->dev.device_id = VIRTIO_ID_RNG;
	assert_int_equal(virtio_mmio_load(fx2->m, st), -EINVAL);
	assert_int_equal(virtio_mmio_save(fx2->m, st), 0);
	assert_int_equal(vqb_used_idx(&fx->tx), 2);
	assert_int_equal(st->dev.vq[VIRTIO_CONSOLE_TXQ].used_idx, 2);

	virtio_mmio_destroy(fx2->m);
	virtio_console_destroy(fx2->con);
	test_free(fx2);
	test_free(st);
	test_free(st2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_identity_and_config, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_transmit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_transmit_budget, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_transmit_writable_is_malformed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_receive, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_receive_readable_is_malformed, setup, teardown),
	    cmocka_unit_test(test_not_before_driver_ok),
	    cmocka_unit_test_setup_teardown(test_save_load, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
