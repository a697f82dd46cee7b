/* exit_triple: loads an IDT with limit 0 and executes ud2. The #UD vector is beyond the limit
 * (#GP), so is #GP's (#DF), and so is #DF's: a triple fault, which resets the machine. QEMU with
 * -no-reboot and vmon exit with status 0. (ud2 rather than int3: the in-kernel instruction
 * emulator of paravirtual KVM hosts such as kvm-pvm cannot emulate int3 in long mode.) */
#include "guest.h"

int main(const struct boot_info *bi)
{
	static const struct desc_ptr empty_idt = { .limit = 0, .base = 0 };
	test_note("loading an empty IDT and executing ud2 (triple fault)");
	irq_disable();
	asm volatile("lidt %0\n\tud2" : : "m"(empty_idt) : "memory");
	test_fail("still running after a triple fault");
}
