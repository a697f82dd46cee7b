/* Unit tests for the virtio-pci transport's interrupts and state: MSI-X vectors, entry and
 * function masking with the pending bits, bus mastering, INTx with ISR read-to-clear and the
 * INTx-disable bit, save/load round trips with rejected states, machine reset. Fixture:
 * virtio_pci_fixture.h. */
#include "virtio_pci_fixture.h"

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
	assert_int_equal(fx->f.msi[0].vector, 0);
	assert_int_equal(fx->f.level, 0);
	/* A configuration change sends vector 1. */
	pthread_mutex_lock(&fx->vdev->lock);
	virtio_dev_config_changed(fx->vdev);
	pthread_mutex_unlock(&fx->vdev->lock);
	assert_int_equal(fx->f.nr_msi, 2);
	assert_int_equal(fx->f.msi[1].addr, MSI_ADDR(1));
	assert_int_equal(fx->f.msi[1].data, 0x41);
	assert_int_equal(fx->f.msi[1].vector, 1);

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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_msix_vectors_and_masking, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_intx_and_isr, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_save_load, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reset, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
