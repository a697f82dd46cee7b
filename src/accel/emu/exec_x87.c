/* emu: x87 FPU (work in progress). */
#include "accel/emu/emu_priv.h"

void emu_exec_x87(struct emu_cpu *c, const struct emu_insn *in)
{
	(void)in;
	emu_exit_now(c, EMU_EXIT_UNIMPL);
}
