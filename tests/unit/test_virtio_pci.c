/* Unit tests for the virtio-pci transport: the PCI function and its capability list, BAR sizing
 * and mapping, the common configuration (queue set-up as Linux does it), notifications, the
 * PCI_CFG window and creation errors. Fixture: virtio_pci_fixture.h. */
#include "virtio_pci_fixture.h"

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
	    cmocka_unit_test_setup_teardown(test_pci_cfg_window, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_create_errors, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
