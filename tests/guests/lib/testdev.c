/* vmon test device (vmon --testdev): present when fw_cfg has "etc/vmon/testdev".
 *   PIO 0xe0: 32-bit scratch register, byte-addressable at 0xe0-0xe3.
 *   PIO 0xe4: ucall doorbell; a 32-bit write of the guest-physical address of a struct ucall.
 *   MMIO 0xfebf0000: 4 KiB scratch memory. */
#include "guest.h"

int testdev_state = -1;

bool testdev_present(void)
{
	if (testdev_state < 0)
		testdev_state = fwcfg_find_file("etc/vmon/testdev", NULL, NULL) == 0;
	return testdev_state == 1;
}

uint32_t ucall(uint32_t cmd, uint64_t a0, uint64_t a1)
{
	static volatile struct ucall uc __attribute__((aligned(64)));
	uc.cmd = cmd;
	uc.status = 0;
	uc.args[0] = a0;
	uc.args[1] = a1;
	uc.args[2] = 0;
	uc.args[3] = 0;
	outl(TESTDEV_PORT_UCALL, (uint32_t)(uint64_t)&uc);
	return uc.status;
}

uint32_t ucall_print(const char *s)
{
	size_t n = strlen(s);
	return ucall(UCALL_PRINT, (uint64_t)s, n > 4096 ? 4096 : n);
}
