/* virtio_console: a minimal virtio-console driver (vmon run --console virtio, over either
 * transport: lib/virtio.c finds the device on virtio-mmio or virtio-pci). Negotiates
 * VIRTIO_F_VERSION_1 only (no MULTIPORT: port 0's receiveq0 and transmitq0), writes one byte line
 * through emerg_wr in config space, transmits "vmon-virtio-console: hello from the guest" and waits
 * for the used ring and the interrupt (tests/run-guests.sh checks the line reached vmon's stdout).
 * With "input=TEXT" on the command line (the runner then feeds TEXT to vmon's stdin) it also
 * receives TEXT through receiveq0, reposting its buffer until all of it has arrived. */
#include "virtio.h"

#define VIRTIO_ID_CONSOLE 3
#define VIRTIO_CONSOLE_F_EMERG_WRITE (1u << 2)
#define CFG_EMERG_WR 8
#define RXQ 0
#define TXQ 1

static const char hello[] = "vmon-virtio-console: hello from the guest\n";
static const char emerg[] = "vmon-virtio-console: emerg_wr\n";

static struct vdev dev;
static struct vq rxq, txq;
static char line[sizeof(hello)];
static uint8_t rxbuf[64];

static void post_rx(void)
{
	struct vbuf b = {rxbuf, sizeof(rxbuf), true};
	memset(rxbuf, 0, sizeof(rxbuf));
	vq_submit(&dev, &rxq, &b, 1);
}

int main(const struct boot_info *bi)
{
	char input[48], got[48];
	bool want_input = cmdline_str("input", input, sizeof(input)) != NULL;
	size_t ninput = want_input ? strlen(input) : 0, ngot = 0;

	virtio_find(&dev, VIRTIO_ID_CONSOLE);
	uint32_t features = virtio_negotiate(&dev, VIRTIO_CONSOLE_F_EMERG_WRITE);
	virtio_queue(&dev, &rxq, RXQ);
	virtio_queue(&dev, &txq, TXQ);
	virtio_driver_ok(&dev);

	if (features & VIRTIO_CONSOLE_F_EMERG_WRITE) {
		for (const char *p = emerg; *p; p++)
			mmio_write32(dev.devcfg + CFG_EMERG_WR, (uint8_t)*p);
	} else {
		test_note("no VIRTIO_CONSOLE_F_EMERG_WRITE: emerg_wr not tried");
	}

	if (want_input)
		post_rx();

	memcpy(line, hello, sizeof(hello) - 1);
	struct vbuf b = {line, sizeof(hello) - 1, false};
	uint32_t len = vq_request(&dev, &txq, &b, 1);
	TEST_EQ(len, 0, "transmit: used length (the device writes nothing)");
	TEST_EQ(txq.used.ring[0].id, 0, "transmit: used id");

	while (ngot < ninput) {
		len = vq_wait(&dev, &rxq, 10000);
		TEST_ASSERT(len >= 1 && len <= sizeof(rxbuf), "receive: used length %u", len);
		TEST_ASSERT(ngot + len <= ninput, "receive: %lu bytes, more than the %lu expected",
			    (unsigned long)(ngot + len), (unsigned long)ninput);
		memcpy(got + ngot, rxbuf, len);
		ngot += len;
		if (ngot < ninput)
			post_rx();
	}
	if (want_input) {
		got[ngot] = 0;
		TEST_ASSERT(!memcmp(got, input, ninput), "received '%s', expected '%s'", got,
			    input);
		test_note("received '%s' through receiveq0", got);
	}
	TEST_EQ(virtio_status(&dev) & 0x40, 0, "NEEDS_RESET");
	test_note("transmitted %u bytes, %u interrupts (%u with nothing pending) on GSI %u (%s)",
		  (unsigned)(sizeof(hello) - 1), dev.irqs, dev.spurious, dev.gsi,
		  dev.pci ? "virtio-pci" : "virtio-mmio");
	irq_disable();
	ioapic_mask(dev.gsi);
	virtio_reset(&dev);
	return 0;
}
