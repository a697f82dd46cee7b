/* exit_debug: writes 0x2a to the isa-debug-exit port; QEMU and vmon exit with (0x2a << 1) | 1 =
 * 85. Reaching the code after the write is a failure. */
#include "guest.h"

int main(const struct boot_info *bi)
{
	test_note("writing 0x2a to port 0xf4");
	outl(0xf4, 0x2a);
	delay_us(100000);
	test_fail("still running after the debug-exit write");
}
