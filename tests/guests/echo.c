/* echo: serial input round trip. Prints "ready", then echoes every byte it receives on COM1
 * (polling LSR.DR) until it sees Ctrl-D (0x04), then reports how many bytes it echoed and a
 * checksum, and passes. Used by the integration tests for the console (pipes and TTYs). */
#include "guest.h"
#include "hw.h"

#define COM1 0x3f8

static int serial_getc(void)
{
	while (!(inb(COM1 + 5) & 0x01))
		cpu_relax();
	return inb(COM1);
}

int main(const struct boot_info *bi)
{
	uint32_t count = 0, sum = 0;
	(void)bi;
	test_note("ready");
	for (;;) {
		int c = serial_getc();
		if (c == 0x04)
			break;
		serial_putc((char)c);
		count++;
		sum = sum * 31 + (uint32_t)c;
	}
	test_note("received %u bytes, checksum %08x", count, sum);
	return 0;
}
