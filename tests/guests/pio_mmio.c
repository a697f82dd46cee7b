/* pio_mmio: port I/O and MMIO round trips.
 *   - CMOS NVRAM bytes 0x38-0x3f through ports 0x70/0x71 (every PC model has them),
 *   - LAPIC TPR and timer initial-count registers (MMIO read back),
 *   - with the vmon test device: the 0xe0 scratch register at every width and byte offset,
 *     the 4 KiB MMIO scratch at every width, and ucalls (PRINT, SYNC) that come back status 1.
 *     "testdev=1" on the command line (the runner adds it on vmon) makes the device mandatory.
 */
#include "guest.h"

static uint8_t cmos_read(uint8_t idx)
{
	outb(0x70, idx);
	return inb(0x71);
}

static void cmos_write(uint8_t idx, uint8_t v)
{
	outb(0x70, idx);
	outb(0x71, v);
}

static void test_cmos(void)
{
	uint8_t saved[8];
	for (int i = 0; i < 8; i++)
		saved[i] = cmos_read(0x38 + i);
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < 8; i++)
			cmos_write(0x38 + i, (uint8_t)(0xa5 ^ (i * 0x11) ^ (round ? 0xff : 0)));
		for (int i = 0; i < 8; i++) {
			uint8_t want = (uint8_t)(0xa5 ^ (i * 0x11) ^ (round ? 0xff : 0));
			uint8_t got = cmos_read(0x38 + i);
			TEST_ASSERT(got == want, "CMOS 0x%x: read 0x%x after writing 0x%x", 0x38 + i, got,
				    want);
		}
	}
	for (int i = 0; i < 8; i++)
		cmos_write(0x38 + i, saved[i]);
	test_note("CMOS NVRAM 0x38-0x3f round trip ok");
}

static void test_lapic_mmio(void)
{
	uint32_t tpr = lapic_read(LAPIC_TPR);
	lapic_write(LAPIC_TPR, 0x20);
	TEST_EQ(lapic_read(LAPIC_TPR) & 0xff, 0x20, "LAPIC TPR read back");
	lapic_write(LAPIC_TPR, tpr);

	lapic_write(LAPIC_LVT_TIMER, LVT_MASKED | 0x30);
	lapic_write(LAPIC_TIMER_INIT, 0x12345678);
	TEST_EQ(lapic_read(LAPIC_TIMER_INIT), 0x12345678, "LAPIC timer initial count read back");
	TEST_ASSERT(lapic_read(LAPIC_TIMER_CUR) <= 0x12345678, "LAPIC current count above initial");
	lapic_write(LAPIC_TIMER_INIT, 0);
	TEST_EQ(lapic_read(LAPIC_TIMER_INIT), 0, "LAPIC timer initial count cleared");
	test_note("LAPIC MMIO (TPR, timer initial count) round trip ok, id %u, version 0x%x",
		  lapic_id(), lapic_read(LAPIC_VERSION));
}

static void test_scratch_pio(void)
{
	const uint16_t p = TESTDEV_PORT_SCRATCH;
	outl(p, 0x12345678);
	TEST_EQ(inl(p), 0x12345678, "scratch inl");
	TEST_EQ(inw(p), 0x5678, "scratch inw at +0");
	TEST_EQ(inw(p + 2), 0x1234, "scratch inw at +2");
	TEST_EQ(inb(p), 0x78, "scratch inb at +0");
	TEST_EQ(inb(p + 1), 0x56, "scratch inb at +1");
	TEST_EQ(inb(p + 2), 0x34, "scratch inb at +2");
	TEST_EQ(inb(p + 3), 0x12, "scratch inb at +3");
	outb(p + 1, 0xab);
	TEST_EQ(inl(p), 0x1234ab78, "scratch after outb at +1");
	outw(p + 2, 0xcdef);
	TEST_EQ(inl(p), 0xcdefab78, "scratch after outw at +2");
	outb(p + 3, 0x01);
	outb(p, 0x02);
	TEST_EQ(inl(p), 0x01efab02, "scratch after outb at +3 and +0");
	outw(p, 0xbeef);
	TEST_EQ(inl(p), 0x01efbeef, "scratch after outw at +0");
	outl(p, 0);
	TEST_EQ(inl(p), 0, "scratch cleared");
	test_note("testdev PIO scratch ok at widths 1, 2, 4");
}

static void test_scratch_mmio(void)
{
	const uint64_t b = TESTDEV_MMIO;
	const uint64_t offs[] = { 0, 8, 0x7f8, TESTDEV_MMIO_SIZE - 8 };
	for (unsigned i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		uint64_t a = b + offs[i];
		uint64_t v = 0x0123456789abcdefull ^ (offs[i] * 0x0101010101010101ull);
		mmio_write64(a, v);
		TEST_EQ(mmio_read64(a), v, "MMIO scratch read64");
		TEST_EQ(mmio_read32(a), (uint32_t)v, "MMIO scratch read32 low");
		TEST_EQ(mmio_read32(a + 4), (uint32_t)(v >> 32), "MMIO scratch read32 high");
		TEST_EQ(mmio_read16(a + 2), (uint16_t)(v >> 16), "MMIO scratch read16");
		TEST_EQ(mmio_read8(a + 7), (uint8_t)(v >> 56), "MMIO scratch read8");
		mmio_write32(a + 4, 0xdeadbeef);
		TEST_EQ(mmio_read64(a), (v & 0xffffffffull) | 0xdeadbeef00000000ull,
			"MMIO scratch after write32");
		mmio_write16(a, 0x4242);
		TEST_EQ(mmio_read32(a), ((uint32_t)v & 0xffff0000u) | 0x4242, "MMIO scratch after write16");
		mmio_write8(a + 1, 0x99);
		TEST_EQ(mmio_read16(a), 0x9942, "MMIO scratch after write8");
	}
	test_note("testdev MMIO scratch ok at widths 1, 2, 4, 8");
}

static void test_ucall(void)
{
	uint32_t st = ucall_print("vmon-test: pio_mmio: hello through ucall PRINT\n");
	TEST_EQ(st, 1, "ucall PRINT status");
	st = ucall(UCALL_SYNC, 0x5a5a, 0);
	TEST_EQ(st, 1, "ucall SYNC status");
	test_note("testdev ucall PRINT and SYNC ok");
}

int main(const struct boot_info *bi)
{
	test_cmos();
	test_lapic_mmio();
	if (cmdline_uint("testdev", 0))
		TEST_ASSERT(testdev_present(), "testdev=1 on the command line but fw_cfg has no "
			    "etc/vmon/testdev");
	if (!testdev_present()) {
		test_note("no fw_cfg file etc/vmon/testdev: skipping the test-device checks");
		return 0;
	}
	test_scratch_pio();
	test_scratch_mmio();
	test_ucall();
	return 0;
}
