/* Minimal virtio driver core for test guests. See virtio.h. */
#include "virtio.h"

#define MMIO_MAGIC 0x000
#define MMIO_VERSION 0x004
#define MMIO_DEVICE_ID 0x008
#define MMIO_DEVICE_FEATURES 0x010
#define MMIO_DEVICE_FEATURES_SEL 0x014
#define MMIO_DRIVER_FEATURES 0x020
#define MMIO_DRIVER_FEATURES_SEL 0x024
#define MMIO_QUEUE_SEL 0x030
#define MMIO_QUEUE_NUM_MAX 0x034
#define MMIO_QUEUE_NUM 0x038
#define MMIO_QUEUE_READY 0x044
#define MMIO_QUEUE_NOTIFY 0x050
#define MMIO_INTERRUPT_STATUS 0x060
#define MMIO_INTERRUPT_ACK 0x064
#define MMIO_STATUS 0x070
#define MMIO_QUEUE_DESC 0x080
#define MMIO_QUEUE_DRIVER 0x090
#define MMIO_QUEUE_DEVICE 0x0a0
#define MMIO_CONFIG 0x100

/* PCI common configuration. */
#define C_DFSELECT 0x00
#define C_DF 0x04
#define C_GFSELECT 0x08
#define C_GF 0x0c
#define C_STATUS 0x14
#define C_Q_SELECT 0x16
#define C_Q_SIZE 0x18
#define C_Q_ENABLE 0x1c
#define C_Q_NOFF 0x1e
#define C_Q_DESC 0x20
#define C_Q_AVAIL 0x28
#define C_Q_USED 0x30

#define ST_ACK 1
#define ST_DRIVER 2
#define ST_DRIVER_OK 4
#define ST_FEATURES_OK 8

static struct vdev *the_dev;

static uint32_t pci_rd(unsigned dev, unsigned reg)
{
	outl(0xcf8, 0x80000000u | dev << 11 | (reg & 0xfc));
	return inl(0xcfc) >> (8 * (reg & 3));
}

static void pci_wr32(unsigned dev, unsigned reg, uint32_t v)
{
	outl(0xcf8, 0x80000000u | dev << 11 | (reg & 0xfc));
	outl(0xcfc, v);
}

static void pci_wr16(unsigned dev, unsigned reg, uint16_t v)
{
	outl(0xcf8, 0x80000000u | dev << 11 | (reg & 0xfc));
	outw(0xcfc + (reg & 2), v);
}

/* 64-bit register as two 32-bit halves (virtio-mmio's LOW/HIGH pairs). */
static void mmio_write64_split(uint64_t a, uint64_t v)
{
	mmio_write32(a, (uint32_t)v);
	mmio_write32(a + 4, (uint32_t)(v >> 32));
}

static void virtio_handler(struct intr_frame *f)
{
	struct vdev *d = the_dev;
	uint32_t isr;

	if (d->pci) {
		isr = mmio_read8(d->isr); /* read-to-clear lowers the line */
	} else {
		isr = mmio_read32(d->base + MMIO_INTERRUPT_STATUS);
		if (isr)
			mmio_write32(d->base + MMIO_INTERRUPT_ACK, isr);
	}
	if (isr)
		d->irqs++;
	else
		d->spurious++;
	lapic_eoi();
}

static bool find_mmio(struct vdev *d)
{
	uint32_t size, hdr[2];
	uint16_t sel;

	if (fwcfg_find_file("etc/vmon/virtio-mmio", &size, &sel))
		return false;
	fwcfg_select(sel);
	fwcfg_read_bytes(hdr, sizeof(hdr));
	TEST_EQ(hdr[0], 1, "etc/vmon/virtio-mmio version");
	TEST_EQ(size, 8 + 24 * hdr[1], "etc/vmon/virtio-mmio size");
	for (uint32_t i = 0; i < hdr[1]; i++) {
		struct __attribute__((packed)) {
			uint64_t base;
			uint32_t size, gsi, device_id, reserved;
		} e;
		fwcfg_read_bytes(&e, sizeof(e));
		if (e.device_id != d->device_id)
			continue;
		TEST_ASSERT(e.size >= 0x200 && e.gsi < 24, "virtio-mmio %u: size 0x%x gsi %u", i,
			    e.size, e.gsi);
		d->base = e.base;
		d->devcfg = e.base + MMIO_CONFIG;
		d->gsi = e.gsi;
		test_note("virtio-mmio slot %u: device %u at 0x%lx, GSI %u", i, e.device_id, e.base,
			  e.gsi);
		TEST_EQ(mmio_read32(d->base + MMIO_MAGIC), 0x74726976, "MagicValue");
		TEST_EQ(mmio_read32(d->base + MMIO_VERSION), 2, "Version");
		TEST_EQ(mmio_read32(d->base + MMIO_DEVICE_ID), d->device_id, "DeviceID");
		return true;
	}
	return false;
}

static bool find_pci(struct vdev *d)
{
	unsigned dev;

	for (dev = 0; dev < 32; dev++)
		if (pci_rd(dev, 0) == ((0x1040u + d->device_id) << 16 | 0x1af4))
			break;
	if (dev == 32)
		return false;
	d->pci = true;
	d->pci_dev = dev;
	/* The virtio structures (all in BAR4 on vmon). */
	TEST_ASSERT(pci_rd(dev, 6) & 0x10, "status without the capability list bit");
	unsigned n = 0;
	for (unsigned pos = pci_rd(dev, 0x34) & 0xff; pos; pos = pci_rd(dev, pos + 1) & 0xff) {
		TEST_ASSERT(pos >= 0x40 && n++ < 48, "capability pointer 0x%x", pos);
		if ((pci_rd(dev, pos) & 0xff) != 0x09)
			continue;
		uint8_t type = pci_rd(dev, pos + 3) & 0xff, bar = pci_rd(dev, pos + 4) & 0xff;
		uint64_t addr = VIRTIO_PCI_BAR4 + pci_rd(dev, pos + 8);
		if (type < 1 || type > 4)
			continue;
		TEST_ASSERT(bar == 4, "virtio capability type %u in BAR%u", type, bar);
		if (type == 1) {
			d->base = addr;
		} else if (type == 2) {
			d->notify = addr;
			d->notify_mult = pci_rd(dev, pos + 16);
		} else if (type == 3) {
			d->isr = addr;
		} else {
			d->devcfg = addr;
		}
	}
	TEST_ASSERT(d->base && d->notify && d->isr && d->devcfg, "virtio capabilities missing");
	/* BAR4: 64-bit memory; MSI-X stays off, so the function interrupts through INTA. */
	pci_wr32(dev, 0x20, 0xffffffff);
	pci_wr32(dev, 0x24, 0xffffffff);
	TEST_EQ(pci_rd(dev, 0x20) & 0xf, 0x4, "BAR4 type (64-bit memory)");
	pci_wr32(dev, 0x20, (uint32_t)VIRTIO_PCI_BAR4);
	pci_wr32(dev, 0x24, (uint32_t)(VIRTIO_PCI_BAR4 >> 32));
	pci_wr16(dev, 0x04, 0x0006); /* memory, bus master */
	TEST_EQ(pci_rd(dev, 0x3d) & 0xff, 1, "interrupt pin (INTA)");
	d->gsi = 16 + (dev - 1) % 8; /* the DSDT's _PRT */
	test_note("virtio-pci 00:%02x.0: device %u, BAR4 0x%llx, INTA on GSI %u", dev, d->device_id,
		  VIRTIO_PCI_BAR4, d->gsi);
	return true;
}

static void set_status(struct vdev *d, uint8_t s)
{
	if (d->pci)
		mmio_write8(d->base + C_STATUS, s);
	else
		mmio_write32(d->base + MMIO_STATUS, s);
}

uint8_t virtio_status(struct vdev *d)
{
	return d->pci ? mmio_read8(d->base + C_STATUS)
		      : (uint8_t)mmio_read32(d->base + MMIO_STATUS);
}

void virtio_find(struct vdev *d, uint32_t device_id)
{
	memset(d, 0, sizeof(*d));
	d->device_id = device_id;
	if (!find_mmio(d) && !find_pci(d))
		test_fail(
		    "no virtio device %u on virtio-mmio (fw_cfg etc/vmon/virtio-mmio) or on PCI "
		    "bus 0",
		    device_id);
	the_dev = d;
	lapic_init();
	intr_set_handler(VIRTIO_VEC, virtio_handler);
	ioapic_route(d->gsi, VIRTIO_VEC, lapic_id(), IOAPIC_RTE_LEVEL);
	irq_enable();
	virtio_reset(d);
}

void virtio_reset(struct vdev *d)
{
	set_status(d, 0);
	TEST_EQ(virtio_status(d), 0, "status after reset");
}

uint32_t virtio_negotiate(struct vdev *d, uint32_t want)
{
	uint32_t lo, hi;

	set_status(d, ST_ACK);
	set_status(d, ST_ACK | ST_DRIVER);
	if (d->pci) {
		mmio_write32(d->base + C_DFSELECT, 0);
		lo = mmio_read32(d->base + C_DF);
		mmio_write32(d->base + C_DFSELECT, 1);
		hi = mmio_read32(d->base + C_DF);
		mmio_write32(d->base + C_GFSELECT, 1);
		mmio_write32(d->base + C_GF, 1);
		mmio_write32(d->base + C_GFSELECT, 0);
		mmio_write32(d->base + C_GF, lo & want);
	} else {
		mmio_write32(d->base + MMIO_DEVICE_FEATURES_SEL, 0);
		lo = mmio_read32(d->base + MMIO_DEVICE_FEATURES);
		mmio_write32(d->base + MMIO_DEVICE_FEATURES_SEL, 1);
		hi = mmio_read32(d->base + MMIO_DEVICE_FEATURES);
		mmio_write32(d->base + MMIO_DRIVER_FEATURES_SEL, 1);
		mmio_write32(d->base + MMIO_DRIVER_FEATURES, 1);
		mmio_write32(d->base + MMIO_DRIVER_FEATURES_SEL, 0);
		mmio_write32(d->base + MMIO_DRIVER_FEATURES, lo & want);
	}
	TEST_ASSERT(hi & 1, "device does not offer VIRTIO_F_VERSION_1");
	set_status(d, ST_ACK | ST_DRIVER | ST_FEATURES_OK);
	TEST_ASSERT(virtio_status(d) & ST_FEATURES_OK, "FEATURES_OK refused (status 0x%x)",
		    virtio_status(d));
	return lo;
}

void virtio_queue(struct vdev *d, struct vq *q, unsigned index)
{
	uint64_t desc = (uint64_t)q->desc, avail = (uint64_t)&q->avail, used = (uint64_t)&q->used;

	memset(q, 0, sizeof(*q));
	q->index = index;
	if (d->pci) {
		mmio_write16(d->base + C_Q_SELECT, (uint16_t)index);
		uint16_t max = mmio_read16(d->base + C_Q_SIZE);
		TEST_ASSERT(max >= VIRTIO_QSIZE, "queue %u: size %u", index, max);
		mmio_write16(d->base + C_Q_SIZE, VIRTIO_QSIZE);
		mmio_write64(d->base + C_Q_DESC, desc);
		mmio_write64(d->base + C_Q_AVAIL, avail);
		mmio_write64(d->base + C_Q_USED, used);
		mmio_write16(d->base + C_Q_ENABLE, 1);
		TEST_EQ(mmio_read16(d->base + C_Q_ENABLE), 1, "queue_enable");
		q->notify = d->notify + (uint64_t)mmio_read16(d->base + C_Q_NOFF) * d->notify_mult;
	} else {
		mmio_write32(d->base + MMIO_QUEUE_SEL, index);
		TEST_EQ(mmio_read32(d->base + MMIO_QUEUE_READY), 0, "QueueReady before set-up");
		uint32_t max = mmio_read32(d->base + MMIO_QUEUE_NUM_MAX);
		TEST_ASSERT(max >= VIRTIO_QSIZE, "queue %u: QueueNumMax %u", index, max);
		mmio_write32(d->base + MMIO_QUEUE_NUM, VIRTIO_QSIZE);
		mmio_write64_split(d->base + MMIO_QUEUE_DESC, desc);
		mmio_write64_split(d->base + MMIO_QUEUE_DRIVER, avail);
		mmio_write64_split(d->base + MMIO_QUEUE_DEVICE, used);
		mmio_write32(d->base + MMIO_QUEUE_READY, 1);
		TEST_EQ(mmio_read32(d->base + MMIO_QUEUE_READY), 1, "QueueReady");
		q->notify = d->base + MMIO_QUEUE_NOTIFY;
	}
}

void virtio_driver_ok(struct vdev *d)
{
	uint8_t s = ST_ACK | ST_DRIVER | ST_FEATURES_OK | ST_DRIVER_OK;
	set_status(d, s);
	TEST_EQ(virtio_status(d), s, "status after DRIVER_OK");
}

uint32_t virtio_cfg_read32(struct vdev *d, unsigned off)
{
	return mmio_read32(d->devcfg + off);
}

uint64_t virtio_cfg_read64(struct vdev *d, unsigned off)
{
	/* Two 32-bit reads; the fields read this way (capacity) do not change while the guest
	 * runs, so the generation counter need not be checked. */
	return virtio_cfg_read32(d, off) | (uint64_t)virtio_cfg_read32(d, off + 4) << 32;
}

void vq_submit(struct vdev *d, struct vq *q, const struct vbuf *b, unsigned n)
{
	uint16_t idx = q->avail.idx;

	TEST_ASSERT(n >= 1 && n <= VIRTIO_QSIZE, "chain of %u buffers", n);
	for (unsigned i = 0; i < n; i++)
		q->desc[i] = (struct vring_desc){(uint64_t)b[i].addr, b[i].len,
						 (uint16_t)((b[i].write ? VRING_DESC_F_WRITE : 0) |
							    (i + 1 < n ? VRING_DESC_F_NEXT : 0)),
						 (uint16_t)(i + 1 < n ? i + 1 : 0)};
	q->avail.ring[idx % VIRTIO_QSIZE] = 0;
	q->irqs0 = d->irqs;
	__sync_synchronize();
	q->avail.idx = (uint16_t)(idx + 1);
	__sync_synchronize();
	if (d->pci)
		mmio_write16(q->notify, (uint16_t)q->index);
	else
		mmio_write32(q->notify, q->index);
}

uint32_t vq_wait(struct vdev *d, struct vq *q, uint64_t ms)
{
	uint64_t deadline = tsc_deadline_ms(ms);
	uint16_t want = (uint16_t)(q->last_used + 1);

	while (q->used.idx != want) {
		TEST_ASSERT(!tsc_expired(deadline), "queue %u: used idx %u, expected %u", q->index,
			    q->used.idx, want);
		cpu_relax();
	}
	__sync_synchronize();
	uint32_t id = q->used.ring[q->last_used % VIRTIO_QSIZE].id;
	uint32_t len = q->used.ring[q->last_used % VIRTIO_QSIZE].len;
	q->last_used = want;
	TEST_EQ(id, 0, "used id (the chain's head)");
	while (d->irqs == q->irqs0) {
		TEST_ASSERT(!tsc_expired(deadline), "queue %u: used buffer but no interrupt",
			    q->index);
		cpu_relax();
	}
	return len;
}

uint32_t vq_request(struct vdev *d, struct vq *q, const struct vbuf *b, unsigned n)
{
	vq_submit(d, q, b, n);
	return vq_wait(d, q, 5000);
}
