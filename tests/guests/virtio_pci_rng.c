/* virtio_pci_rng: a minimal virtio-pci (modern) entropy driver, with no firmware to help. Scans
 * bus 0 through ports 0xcf8/0xcfc for 1af4:1044 (vmon run --rng --transport pci), walks its
 * capability list for the virtio COMMON/NOTIFY/ISR structures and MSI-X, sizes and assigns BAR4
 * (64-bit) and BAR1 itself at 0xc0000000 / 0xc0004000, enables memory decoding and bus mastering,
 * negotiates VIRTIO_F_VERSION_1 and sets up one 8-entry split queue, then reads 64 bytes:
 *   1. with MSI-X, queue vector 0 -> LAPIC vector 0x41 (the handler counts, no ISR read);
 *   2. with entry 0 masked: the buffer is used but no interrupt arrives and the PBA bit is set;
 *      unmasking delivers it and clears the bit;
 *   3. with MSI-X off: the level-triggered INTx line through the IOAPIC pin the DSDT's _PRT gives
 *      device d (GSI 16 + (d - 1) % 8, INTA); the handler reads ISR, which clears it.
 * The reads must differ, and no interrupt may arrive once handled. Ends with a device reset. */
#include "guest.h"

#define VEC_MSIX 0x41
#define VEC_INTX 0x42
#define QSIZE 8
#define REQ_LEN 64
#define BAR4_ADDR 0xc0000000ull
#define BAR1_ADDR 0xc0004000ull

/* Common configuration offsets. */
#define C_DFSELECT 0x00
#define C_DF 0x04
#define C_GFSELECT 0x08
#define C_GF 0x0c
#define C_MSIX 0x10
#define C_NUMQ 0x12
#define C_STATUS 0x14
#define C_Q_SELECT 0x16
#define C_Q_SIZE 0x18
#define C_Q_MSIX 0x1a
#define C_Q_ENABLE 0x1c
#define C_Q_NOFF 0x1e
#define C_Q_DESC 0x20
#define C_Q_AVAIL 0x28
#define C_Q_USED 0x30

#define ST_ACK 1
#define ST_DRIVER 2
#define ST_DRIVER_OK 4
#define ST_FEATURES_OK 8

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
static uint8_t buf[3][REQ_LEN];

static unsigned dev;
static uint64_t common, notify, isr;
static unsigned msix_cap;
static volatile uint32_t msi_irqs, intx_irqs, last_isr, spurious;

static uint32_t cfg_rd(unsigned reg)
{
	outl(0xcf8, 0x80000000u | dev << 11 | (reg & 0xfc));
	return inl(0xcfc) >> (8 * (reg & 3));
}

static void cfg_wr32(unsigned reg, uint32_t v)
{
	outl(0xcf8, 0x80000000u | dev << 11 | (reg & 0xfc));
	outl(0xcfc, v);
}

static void cfg_wr16(unsigned reg, uint16_t v)
{
	outl(0xcf8, 0x80000000u | dev << 11 | (reg & 0xfc));
	outw(0xcfc + (reg & 2), v);
}

static void msi_handler(struct intr_frame *f)
{
	msi_irqs++;
	lapic_eoi();
}

static void intx_handler(struct intr_frame *f)
{
	uint8_t v = mmio_read8(isr); /* read-to-clear, lowers the line */
	if (v) {
		last_isr = v;
		intx_irqs++;
	} else {
		spurious++;
	}
	lapic_eoi();
}

/* Find 1af4:1044 on bus 0. */
static void find_device(void)
{
	for (dev = 0; dev < 32; dev++) {
		uint32_t id = cfg_rd(0);
		if ((id & 0xffff) == 0xffff)
			continue;
		test_note("00:%02x.0: %04x:%04x class %06x", dev, id & 0xffff, id >> 16,
			  cfg_rd(8) >> 8);
		if (id == (0x1044u << 16 | 0x1af4))
			return;
	}
	test_fail("no virtio-rng PCI function (1af4:1044) on bus 0 (run vmon with --rng "
		  "--transport pci)");
}

/* Walk the capabilities: the virtio structures (all in BAR4) and MSI-X. */
static void find_caps(uint32_t *mult)
{
	unsigned n = 0;

	TEST_ASSERT(cfg_rd(6) & 0x10, "status without the capability list bit");
	for (unsigned pos = cfg_rd(0x34) & 0xff; pos; pos = cfg_rd(pos + 1) & 0xff) {
		TEST_ASSERT(pos >= 0x40 && n++ < 48, "capability pointer 0x%x", pos);
		uint8_t id = cfg_rd(pos) & 0xff;
		if (id == 0x11) {
			msix_cap = pos;
			continue;
		}
		if (id != 0x09)
			continue;
		uint8_t type = cfg_rd(pos + 3) & 0xff, bar = cfg_rd(pos + 4) & 0xff;
		uint32_t off = cfg_rd(pos + 8);
		if (type >= 1 && type <= 4)
			TEST_ASSERT(bar == 4, "virtio capability type %u in BAR%u", type, bar);
		if (type == 1)
			common = BAR4_ADDR + off;
		else if (type == 2) {
			notify = BAR4_ADDR + off;
			*mult = cfg_rd(pos + 16);
		} else if (type == 3)
			isr = BAR4_ADDR + off;
	}
	TEST_ASSERT(common && notify && isr && msix_cap, "capabilities missing");
	TEST_EQ(cfg_rd(msix_cap + 4), 1, "MSI-X table: BAR1 offset 0");
}

static void assign_bars(void)
{
	cfg_wr32(0x20, 0xffffffff);
	cfg_wr32(0x24, 0xffffffff);
	uint64_t mask = (cfg_rd(0x20) & ~0xfull) | (uint64_t)cfg_rd(0x24) << 32;
	TEST_EQ(cfg_rd(0x20) & 0xf, 0x4, "BAR4 type (64-bit memory)");
	uint64_t size = ~mask + 1;
	TEST_ASSERT(size >= 0x4000 && !(size & (size - 1)), "BAR4 size 0x%llx", (unsigned long long)size);
	cfg_wr32(0x20, (uint32_t)BAR4_ADDR);
	cfg_wr32(0x24, (uint32_t)(BAR4_ADDR >> 32));
	cfg_wr32(0x14, 0xffffffff);
	TEST_EQ(cfg_rd(0x14), 0xfffff000, "BAR1 sizing (4 KiB, 32-bit memory)");
	cfg_wr32(0x14, (uint32_t)BAR1_ADDR);
	cfg_wr16(0x04, 0x0006); /* memory, bus master */
}

static void setup_device(uint32_t mult)
{
	mmio_write8(common + C_STATUS, 0);
	TEST_EQ(mmio_read8(common + C_STATUS), 0, "status after reset");
	mmio_write8(common + C_STATUS, ST_ACK);
	mmio_write8(common + C_STATUS, ST_ACK | ST_DRIVER);
	mmio_write32(common + C_DFSELECT, 1);
	TEST_ASSERT(mmio_read32(common + C_DF) & 1, "no VIRTIO_F_VERSION_1");
	mmio_write32(common + C_GFSELECT, 1);
	mmio_write32(common + C_GF, 1);
	mmio_write32(common + C_GFSELECT, 0);
	mmio_write32(common + C_GF, 0);
	mmio_write8(common + C_STATUS, ST_ACK | ST_DRIVER | ST_FEATURES_OK);
	TEST_ASSERT(mmio_read8(common + C_STATUS) & ST_FEATURES_OK, "FEATURES_OK refused");
	TEST_EQ(mmio_read16(common + C_NUMQ), 1, "num_queues");
	mmio_write16(common + C_MSIX, 5); /* no such vector */
	TEST_EQ(mmio_read16(common + C_MSIX), 0xffff, "config vector 5 reads NO_VECTOR");
	mmio_write16(common + C_MSIX, 1);
	TEST_EQ(mmio_read16(common + C_MSIX), 1, "config vector");
	mmio_write16(common + C_Q_SELECT, 0);
	TEST_ASSERT(mmio_read16(common + C_Q_SIZE) >= QSIZE, "queue size %u",
		    mmio_read16(common + C_Q_SIZE));
	mmio_write16(common + C_Q_SIZE, QSIZE);
	mmio_write16(common + C_Q_MSIX, 0);
	TEST_EQ(mmio_read16(common + C_Q_MSIX), 0, "queue vector");
	mmio_write64(common + C_Q_DESC, (uint64_t)desc);
	mmio_write64(common + C_Q_AVAIL, (uint64_t)&avail);
	mmio_write64(common + C_Q_USED, (uint64_t)&used);
	mmio_write16(common + C_Q_ENABLE, 1);
	TEST_EQ(mmio_read16(common + C_Q_ENABLE), 1, "queue_enable");
	notify += (uint64_t)mmio_read16(common + C_Q_NOFF) * mult;
	mmio_write8(common + C_STATUS, ST_ACK | ST_DRIVER | ST_FEATURES_OK | ST_DRIVER_OK);
	TEST_EQ(mmio_read8(common + C_STATUS), 0xf, "status");
}

/* Post buf[n], notify, wait for the used ring; then wait for *counter to move (unless !want). */
static void request(unsigned n, volatile uint32_t *counter, bool want)
{
	uint32_t c0 = *counter;
	uint16_t idx = avail.idx;

	memset(buf[n], 0, REQ_LEN);
	desc[n] = (struct vring_desc){(uint64_t)buf[n], REQ_LEN, 2 /* WRITE */, 0};
	avail.ring[idx % QSIZE] = (uint16_t)n;
	__sync_synchronize();
	avail.idx = (uint16_t)(idx + 1);
	__sync_synchronize();
	mmio_write16(notify, 0);

	uint64_t deadline = tsc_deadline_ms(5000);
	while (used.idx != (uint16_t)(idx + 1)) {
		TEST_ASSERT(!tsc_expired(deadline), "request %u: used idx %u", n, used.idx);
		cpu_relax();
	}
	__sync_synchronize();
	TEST_EQ(used.ring[idx % QSIZE].id, n, "used id");
	TEST_EQ(used.ring[idx % QSIZE].len, REQ_LEN, "used len");
	if (want) {
		while (*counter == c0) {
			TEST_ASSERT(!tsc_expired(deadline), "request %u: no interrupt", n);
			cpu_relax();
		}
	} else {
		delay_us(20000);
		TEST_EQ(*counter, c0, "interrupt while masked");
	}
	bool nonzero = false;
	for (unsigned i = 0; i < REQ_LEN; i++)
		nonzero |= buf[n][i] != 0;
	TEST_ASSERT(nonzero, "request %u: 64 zero bytes", n);
}

int main(const struct boot_info *bi)
{
	uint32_t mult = 0;

	find_device();
	find_caps(&mult);
	TEST_EQ(mult, 4, "notify_off_multiplier");
	assign_bars();
	unsigned gsi = 16 + (dev - 1) % 8, pin = cfg_rd(0x3d) & 0xff;
	TEST_EQ(pin, 1, "interrupt pin (INTA)");

	lapic_init();
	intr_set_handler(VEC_MSIX, msi_handler);
	intr_set_handler(VEC_INTX, intx_handler);
	/* MSI-X entry 0: the queue, to this CPU; entry 1 (config) masked. */
	uint64_t t = BAR1_ADDR;
	mmio_write32(t + 0, 0xfee00000u | (uint32_t)lapic_id() << 12);
	mmio_write32(t + 4, 0);
	mmio_write32(t + 8, VEC_MSIX);
	mmio_write32(t + 12, 0);
	cfg_wr16(msix_cap + 2, 0x8000); /* enable */
	irq_enable();
	setup_device(mult);

	request(0, &msi_irqs, true);
	/* Masked: used, no message, pending bit; unmasking sends it. */
	mmio_write32(t + 12, 1);
	request(1, &msi_irqs, false);
	TEST_EQ(mmio_read32(BAR1_ADDR + 0x800) & 1, 1, "PBA bit 0 while masked");
	uint32_t m = msi_irqs;
	mmio_write32(t + 12, 0);
	uint64_t deadline = tsc_deadline_ms(5000);
	while (msi_irqs == m)
		TEST_ASSERT(!tsc_expired(deadline), "no interrupt after unmasking");
	TEST_EQ(mmio_read32(BAR1_ADDR + 0x800), 0, "PBA after unmasking");
	TEST_ASSERT(memcmp(buf[0], buf[1], REQ_LEN), "two reads returned the same bytes");

	/* INTx: MSI-X off, the level line through the IOAPIC. */
	cfg_wr16(msix_cap + 2, 0);
	ioapic_route(gsi, VEC_INTX, lapic_id(), IOAPIC_RTE_LEVEL);
	request(2, &intx_irqs, true);
	TEST_ASSERT(last_isr & 1, "ISR 0x%x without the queue bit", last_isr);
	TEST_ASSERT(memcmp(buf[1], buf[2], REQ_LEN), "third read equals the second");
	uint32_t n = intx_irqs + msi_irqs;
	delay_us(20000);
	TEST_EQ(intx_irqs + msi_irqs, n, "interrupts after handling");
	TEST_EQ(mmio_read8(isr), 0, "ISR after the handler");
	TEST_EQ(cfg_rd(6) & 0x8, 0, "status interrupt bit after the handler");
	test_note("device 00:%02x.0, BAR4 0x%llx: %u MSI-X and %u INTx interrupts (GSI %u), %u "
		  "spurious",
		  dev, BAR4_ADDR, msi_irqs, intx_irqs, gsi, spurious);

	irq_disable();
	ioapic_mask(gsi);
	mmio_write8(common + C_STATUS, 0);
	TEST_EQ(mmio_read8(common + C_STATUS), 0, "status after the final reset");
	TEST_EQ(mmio_read16(common + C_MSIX), 0xffff, "config vector after reset");
	return 0;
}
