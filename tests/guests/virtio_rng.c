/* virtio_rng: a minimal virtio-mmio entropy driver. Finds the device in fw_cfg
 * "etc/vmon/virtio-mmio" (vmon run --rng), checks the transport's identity registers, negotiates
 * VIRTIO_F_VERSION_1, sets up one 8-entry split queue, and reads 64 bytes twice, each time waiting
 * for the used ring and for the level-triggered interrupt through the IOAPIC pin the file names
 * (the handler reads InterruptStatus and acknowledges it). The two reads must differ and no
 * interrupt may arrive once acknowledged. Ends with a device reset. */
#include "guest.h"

#define VEC_VIRTIO 0x40
#define QSIZE 8
#define REQ_LEN 64

#define MMIO_MAGIC 0x000
#define MMIO_VERSION 0x004
#define MMIO_DEVICE_ID 0x008
#define MMIO_VENDOR_ID 0x00c
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
#define MMIO_QUEUE_DESC_LOW 0x080
#define MMIO_QUEUE_DESC_HIGH 0x084
#define MMIO_QUEUE_DRIVER_LOW 0x090
#define MMIO_QUEUE_DRIVER_HIGH 0x094
#define MMIO_QUEUE_DEVICE_LOW 0x0a0
#define MMIO_QUEUE_DEVICE_HIGH 0x0a4

#define ST_ACK 1
#define ST_DRIVER 2
#define ST_DRIVER_OK 4
#define ST_FEATURES_OK 8
#define ST_NEEDS_RESET 0x40

struct vring_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

static struct vring_desc desc[QSIZE] __attribute__((aligned(16)));
static volatile struct {
	uint16_t flags, idx, ring[QSIZE], used_event;
} avail __attribute__((aligned(2)));
static volatile struct {
	uint16_t flags, idx;
	struct {
		uint32_t id, len;
	} ring[QSIZE];
	uint16_t avail_event;
} used __attribute__((aligned(4)));
static uint8_t buf[2][REQ_LEN];

static uint64_t base;
static volatile uint32_t irqs, last_isr, spurious;

static uint32_t rd(uint32_t off)
{
	return mmio_read32(base + off);
}

static void wr(uint32_t off, uint32_t v)
{
	mmio_write32(base + off, v);
}

static void virtio_handler(struct intr_frame *f)
{
	uint32_t isr = rd(MMIO_INTERRUPT_STATUS);
	if (isr) {
		last_isr = isr;
		wr(MMIO_INTERRUPT_ACK, isr);
		irqs++;
	} else {
		spurious++; /* nothing pending: not ours, or already handled */
	}
	lapic_eoi();
}

/* Find the first entropy device in the fw_cfg list; returns its GSI. */
static uint32_t find_rng(void)
{
	uint32_t size, hdr[2];
	uint16_t sel;

	TEST_ASSERT(!fwcfg_find_file("etc/vmon/virtio-mmio", &size, &sel),
		    "no fw_cfg file etc/vmon/virtio-mmio (run vmon with --rng)");
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
		test_note("virtio-mmio %u: base 0x%lx size 0x%x gsi %u device %u", i, e.base, e.size,
			  e.gsi, e.device_id);
		TEST_ASSERT(e.size >= 0x200 && e.gsi < 24, "entry %u: size 0x%x gsi %u", i, e.size,
			    e.gsi);
		if (e.device_id == 4 && !base) {
			base = e.base;
			return e.gsi;
		}
	}
	test_fail("no virtio-rng (device id 4) in etc/vmon/virtio-mmio");
}

static void setup_device(void)
{
	TEST_EQ(rd(MMIO_MAGIC), 0x74726976, "MagicValue");
	TEST_EQ(rd(MMIO_VERSION), 2, "Version");
	TEST_EQ(rd(MMIO_DEVICE_ID), 4, "DeviceID");
	TEST_EQ(rd(MMIO_VENDOR_ID), 0x4e4f4d56, "VendorID (\"VMON\")");

	wr(MMIO_STATUS, 0);
	TEST_EQ(rd(MMIO_STATUS), 0, "status after reset");
	wr(MMIO_STATUS, ST_ACK);
	wr(MMIO_STATUS, ST_ACK | ST_DRIVER);
	wr(MMIO_DEVICE_FEATURES_SEL, 1);
	TEST_ASSERT(rd(MMIO_DEVICE_FEATURES) & 1, "device does not offer VIRTIO_F_VERSION_1");
	wr(MMIO_DRIVER_FEATURES_SEL, 1);
	wr(MMIO_DRIVER_FEATURES, 1); /* VERSION_1 */
	wr(MMIO_DRIVER_FEATURES_SEL, 0);
	wr(MMIO_DRIVER_FEATURES, 0);
	wr(MMIO_STATUS, ST_ACK | ST_DRIVER | ST_FEATURES_OK);
	TEST_ASSERT(rd(MMIO_STATUS) & ST_FEATURES_OK, "FEATURES_OK refused (status 0x%x)",
		    rd(MMIO_STATUS));

	wr(MMIO_QUEUE_SEL, 0);
	TEST_ASSERT(rd(MMIO_QUEUE_READY) == 0, "queue 0 ready before set-up");
	uint32_t max = rd(MMIO_QUEUE_NUM_MAX);
	TEST_ASSERT(max >= QSIZE, "QueueNumMax %u", max);
	wr(MMIO_QUEUE_SEL, 1);
	TEST_EQ(rd(MMIO_QUEUE_NUM_MAX), 0, "QueueNumMax of the missing queue 1");
	wr(MMIO_QUEUE_SEL, 0);
	wr(MMIO_QUEUE_NUM, QSIZE);
	uint64_t d = (uint64_t)desc, a = (uint64_t)&avail, u = (uint64_t)&used;
	wr(MMIO_QUEUE_DESC_LOW, (uint32_t)d);
	wr(MMIO_QUEUE_DESC_HIGH, (uint32_t)(d >> 32));
	wr(MMIO_QUEUE_DRIVER_LOW, (uint32_t)a);
	wr(MMIO_QUEUE_DRIVER_HIGH, (uint32_t)(a >> 32));
	wr(MMIO_QUEUE_DEVICE_LOW, (uint32_t)u);
	wr(MMIO_QUEUE_DEVICE_HIGH, (uint32_t)(u >> 32));
	wr(MMIO_QUEUE_READY, 1);
	TEST_EQ(rd(MMIO_QUEUE_READY), 1, "QueueReady");
	wr(MMIO_STATUS, ST_ACK | ST_DRIVER | ST_FEATURES_OK | ST_DRIVER_OK);
	TEST_EQ(rd(MMIO_STATUS), ST_ACK | ST_DRIVER | ST_FEATURES_OK | ST_DRIVER_OK, "status");
}

/* Post buf[n] as one device-writable descriptor, notify, wait for it and for the interrupt. */
static void request(unsigned n)
{
	uint32_t irqs0 = irqs;
	uint16_t idx = avail.idx;

	memset(buf[n], 0, REQ_LEN);
	desc[n] = (struct vring_desc){(uint64_t)buf[n], REQ_LEN, 2 /* WRITE */, 0};
	avail.ring[idx % QSIZE] = (uint16_t)n;
	__sync_synchronize();
	avail.idx = (uint16_t)(idx + 1);
	__sync_synchronize();
	wr(MMIO_QUEUE_NOTIFY, 0);

	uint64_t deadline = tsc_deadline_ms(5000);
	while (used.idx != (uint16_t)(idx + 1)) {
		TEST_ASSERT(!tsc_expired(deadline), "request %u: used idx %u, expected %u", n,
			    used.idx, idx + 1);
		cpu_relax();
	}
	__sync_synchronize();
	TEST_EQ(used.ring[idx % QSIZE].id, n, "used id");
	TEST_EQ(used.ring[idx % QSIZE].len, REQ_LEN, "used len");
	while (irqs == irqs0) {
		TEST_ASSERT(!tsc_expired(deadline), "request %u: no interrupt (InterruptStatus 0x%x)",
			    n, rd(MMIO_INTERRUPT_STATUS));
		cpu_relax();
	}
	TEST_ASSERT(last_isr & 1, "interrupt without the used-buffer bit (0x%x)", last_isr);
	bool nonzero = false;
	for (unsigned i = 0; i < REQ_LEN; i++)
		nonzero |= buf[n][i] != 0;
	TEST_ASSERT(nonzero, "request %u: 64 zero bytes", n);
}

int main(const struct boot_info *bi)
{
	uint32_t gsi = find_rng();

	lapic_init();
	intr_set_handler(VEC_VIRTIO, virtio_handler);
	ioapic_route(gsi, VEC_VIRTIO, lapic_id(), IOAPIC_RTE_LEVEL);
	irq_enable();
	setup_device();
	request(0);
	request(1);
	TEST_ASSERT(memcmp(buf[0], buf[1], REQ_LEN), "two reads returned the same bytes");
	test_note("read 2 x %u bytes: %02x %02x %02x %02x ... / %02x %02x %02x %02x ...", REQ_LEN,
		  buf[0][0], buf[0][1], buf[0][2], buf[0][3], buf[1][0], buf[1][1], buf[1][2],
		  buf[1][3]);
	/* Acknowledged and EOIed: a level line that is low again raises nothing more. */
	uint32_t n = irqs;
	delay_us(20000);
	TEST_EQ(irqs, n, "interrupts after the acknowledge");
	TEST_EQ(rd(MMIO_INTERRUPT_STATUS), 0, "InterruptStatus after the acknowledge");
	test_note("%u interrupts on GSI %u (level, through the IOAPIC), %u with nothing pending", irqs,
		  gsi, spurious);

	irq_disable();
	ioapic_mask(gsi);
	wr(MMIO_STATUS, 0);
	TEST_EQ(rd(MMIO_STATUS), 0, "status after the final reset");
	wr(MMIO_QUEUE_SEL, 0);
	TEST_EQ(rd(MMIO_QUEUE_READY), 0, "QueueReady after reset");
	return 0;
}
