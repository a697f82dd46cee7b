/* exit_reset: pulses the reset line through the i8042 (command 0xfe on port 0x64). QEMU with
 * -no-reboot and vmon exit with status 0. Still running after a generous wait is a failure. */
#include "guest.h"

int main(const struct boot_info *bi)
{
	test_note("pulsing reset through the i8042");
	outb(0x64, 0xfe);
	delay_us(2000000);
	test_fail("still running 2 s after the i8042 reset command");
}
