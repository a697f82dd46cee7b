/* virtio_blk: a minimal virtio-blk driver (vmon run --disk, over either transport: lib/virtio.c
 * finds the device on virtio-mmio or virtio-pci). Negotiates VIRTIO_F_VERSION_1 and FLUSH, checks
 * the capacity in config space against "sectors=N", reads sector 0 and checks the pattern the
 * runner wrote (byte i = 7 * i + 1), writes a pattern to sector 1 and reads it back, issues FLUSH
 * and GET_ID (compared with "serial=ID"), reads the last sector, and checks that a read at the
 * capacity and one that crosses it get VIRTIO_BLK_S_IOERR and an unknown type VIRTIO_BLK_S_UNSUPP.
 * Every request waits for the used ring and the interrupt. Ends with a device reset. */
#include "virtio.h"

#define VIRTIO_ID_BLOCK 2
#define VIRTIO_BLK_F_FLUSH (1u << 9)

#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_T_OUT 1
#define VIRTIO_BLK_T_FLUSH 4
#define VIRTIO_BLK_T_GET_ID 8
#define VIRTIO_BLK_S_OK 0
#define VIRTIO_BLK_S_IOERR 1
#define VIRTIO_BLK_S_UNSUPP 2
#define VIRTIO_BLK_ID_BYTES 20

/* The text sector 1 starts with after the test; tests/run-guests.sh looks for it in the image. */
#define SECTOR1_TEXT "vmon-virtio-blk: sector 1 written by the guest"

static struct vdev dev;
static struct vq q;
static struct {
	uint32_t type, reserved;
	uint64_t sector;
} hdr;
static volatile uint8_t status;
static uint8_t data[2 * 512] __attribute__((aligned(512)));
static uint8_t wbuf[512] __attribute__((aligned(512)));

/* One request: header, optional data (device-writable for IN/GET_ID), status. Returns the status;
 * *used gets the used length. */
static uint8_t blk_req(uint32_t type, uint64_t sector, void *buf, uint32_t len, uint32_t *used)
{
	struct vbuf b[3];
	unsigned n = 0;
	bool in = type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID;

	hdr.type = type;
	hdr.reserved = 0;
	hdr.sector = sector;
	status = 0xff;
	b[n++] = (struct vbuf){&hdr, sizeof(hdr), false};
	if (len)
		b[n++] = (struct vbuf){buf, len, in};
	b[n++] = (struct vbuf){(void *)&status, 1, true};
	uint32_t l = vq_request(&dev, &q, b, n);
	if (used)
		*used = l;
	return status;
}

static uint8_t pattern0(unsigned i)
{
	return (uint8_t)(7 * i + 1);
}

int main(const struct boot_info *bi)
{
	char serial[VIRTIO_BLK_ID_BYTES + 1], id[VIRTIO_BLK_ID_BYTES + 1];
	uint64_t sectors = cmdline_uint("sectors", 0);
	uint32_t used;
	uint8_t st;

	TEST_ASSERT(sectors >= 4, "no sectors=N (N >= 4) on the command line");
	TEST_ASSERT(cmdline_str("serial", serial, sizeof(serial)),
		    "no serial=ID on the command line");

	virtio_find(&dev, VIRTIO_ID_BLOCK);
	uint32_t features = virtio_negotiate(&dev, VIRTIO_BLK_F_FLUSH);
	TEST_ASSERT(features & VIRTIO_BLK_F_FLUSH, "no VIRTIO_BLK_F_FLUSH (features 0x%x)",
		    features);
	uint64_t capacity = virtio_cfg_read64(&dev, 0);
	TEST_EQ(capacity, sectors, "capacity (config space, 512-byte sectors)");
	virtio_queue(&dev, &q, 0);
	virtio_driver_ok(&dev);

	/* Sector 0: the runner's pattern. */
	memset(data, 0, sizeof(data));
	st = blk_req(VIRTIO_BLK_T_IN, 0, data, 512, &used);
	TEST_EQ(st, VIRTIO_BLK_S_OK, "read sector 0: status");
	TEST_EQ(used, 513, "read sector 0: used length (data and status)");
	for (unsigned i = 0; i < 512; i++)
		TEST_ASSERT(data[i] == pattern0(i), "sector 0 byte %u: 0x%02x, expected 0x%02x", i,
			    data[i], pattern0(i));

	/* Sector 1: write, read back (with sector 0 in the same request). */
	memset(wbuf, 0, sizeof(wbuf));
	memcpy(wbuf, SECTOR1_TEXT, sizeof(SECTOR1_TEXT) - 1);
	for (unsigned i = 64; i < 512; i++)
		wbuf[i] = (uint8_t)(i * 13 + 5);
	st = blk_req(VIRTIO_BLK_T_OUT, 1, wbuf, 512, &used);
	TEST_EQ(st, VIRTIO_BLK_S_OK, "write sector 1: status");
	memset(data, 0, sizeof(data));
	st = blk_req(VIRTIO_BLK_T_IN, 0, data, 1024, &used);
	TEST_EQ(st, VIRTIO_BLK_S_OK, "read sectors 0-1: status");
	TEST_EQ(used, 1025, "read sectors 0-1: used length");
	TEST_EQ(data[511], pattern0(511), "read sectors 0-1: sector 0's last byte");
	TEST_ASSERT(!memcmp(data + 512, wbuf, 512), "sector 1 reads back differently");

	st = blk_req(VIRTIO_BLK_T_FLUSH, 0, NULL, 0, NULL);
	TEST_EQ(st, VIRTIO_BLK_S_OK, "flush: status");

	memset(id, 0x55, sizeof(id));
	st = blk_req(VIRTIO_BLK_T_GET_ID, 0, id, VIRTIO_BLK_ID_BYTES, &used);
	TEST_EQ(st, VIRTIO_BLK_S_OK, "get id: status");
	TEST_EQ(used, VIRTIO_BLK_ID_BYTES + 1, "get id: used length");
	id[VIRTIO_BLK_ID_BYTES] = 0; /* a 20-character serial has no NUL */
	TEST_ASSERT(!strcmp(id, serial), "get id: '%s', expected '%s'", id, serial);

	/* The last sector is inside the disk, the capacity and a read crossing it are not. */
	st = blk_req(VIRTIO_BLK_T_IN, capacity - 1, data, 512, NULL);
	TEST_EQ(st, VIRTIO_BLK_S_OK, "read of the last sector: status");
	st = blk_req(VIRTIO_BLK_T_IN, capacity, data, 512, NULL);
	TEST_EQ(st, VIRTIO_BLK_S_IOERR, "read at the capacity: status");
	st = blk_req(VIRTIO_BLK_T_IN, capacity - 1, data, 1024, NULL);
	TEST_EQ(st, VIRTIO_BLK_S_IOERR, "read across the capacity: status");
	st = blk_req(0x7f, 0, NULL, 0, NULL);
	TEST_EQ(st, VIRTIO_BLK_S_UNSUPP, "unknown request type: status");
	TEST_EQ(virtio_status(&dev) & 0x40, 0, "NEEDS_RESET after the error requests");

	test_note("capacity %lu sectors, serial '%s', %u interrupts (%u with nothing pending) on "
		  "GSI %u (%s)",
		  capacity, id, dev.irqs, dev.spurious, dev.gsi,
		  dev.pci ? "virtio-pci" : "virtio-mmio");
	irq_disable();
	ioapic_mask(dev.gsi);
	virtio_reset(&dev);
	return 0;
}
