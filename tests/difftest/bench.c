/* Micro benchmark of the emu interpreter: instructions per second on small loops (64-bit mode,
 * paging off, 64 KiB of RAM at guest-physical 0). Portable: runs on any host. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "accel/emu/cpu.h"

#define RAM_SIZE 0x10000u

static uint8_t *ram_ptr(void *ctx, uint64_t gpa, int write)
{
	(void)write;
	return gpa < RAM_SIZE ? (uint8_t *)ctx + gpa : NULL;
}

static uint64_t mmio_read(void *ctx, uint64_t gpa, unsigned size)
{
	(void)ctx, (void)gpa, (void)size;
	return 0;
}

static void mmio_write(void *ctx, uint64_t gpa, unsigned size, uint64_t val)
{
	(void)ctx, (void)gpa, (void)size, (void)val;
}

static uint32_t pio_in(void *ctx, uint16_t port, unsigned size)
{
	(void)ctx, (void)port, (void)size;
	return ~0u;
}

static void pio_out(void *ctx, uint16_t port, unsigned size, uint32_t val)
{
	(void)ctx, (void)port, (void)size, (void)val;
}

static const struct emu_mem_ops ops = {ram_ptr, mmio_read, mmio_write, pio_in, pio_out, NULL};

struct loop {
	const char *name;
	unsigned insns_per_iter;
	unsigned len;
	uint8_t code[64];
};

/* Each starts with mov ecx, N (b9 imm32, patched) and ends with hlt; the loop branch goes back to
 * the instruction after the mov. */
static const struct loop loops[] = {
    {"alu: add/xor/dec/jnz",
     4,
     17,
     {0xb9, 0, 0, 0, 0, 0x48, 0x01, 0xc8, 0x48, 0x31, 0xc2, 0x48, 0xff, 0xc9, 0x75, 0xf5, 0xf4}},
    {"mem: load/add/store/push/pop/dec/jnz", 7, 27, {0xb9, 0,	 0,    0,    0,	   0xbb, 0x00,
						     0x80, 0,	 0,    0x48, 0x8b, 0x03, 0x48,
						     0x01, 0xc8, 0x48, 0x89, 0x43, 0x08, 0x50,
						     0x5a, 0xff, 0xc9, 0x75, 0xf0, 0xf4}},
    {"call/ret/dec/jnz",
     4,
     15,
     {0xb9, 0, 0, 0, 0, 0xe8, 0x05, 0, 0, 0, 0xff, 0xc9, 0x75, 0xf7, 0xf4, 0xc3}},
    {"cmp/jcc/cmov/setcc", 6, 24, {0xb9, 0,    0,    0,	   0,	 0x48, 0x39, 0xc8,
				   0x72, 0x02, 0x31, 0xd2, 0x0f, 0x42, 0xd1, 0x0f,
				   0x94, 0xc0, 0xff, 0xc9, 0x75, 0xef, 0xf4}},
};

int main(int argc, char **argv)
{
	static struct emu_cpu cpu;
	uint32_t iters = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 0) : 20000000u;
	uint8_t *ram = aligned_alloc(4096, RAM_SIZE);

	if (!ram || emu_cpu_init(&cpu, &ops, ram))
		return 2;
	for (unsigned i = 0; i < sizeof(loops) / sizeof(loops[0]); i++) {
		const struct loop *l = &loops[i];
		struct x86_cpu_state st;
		struct timespec t0, t1;

		memset(ram, 0, RAM_SIZE);
		memcpy(ram + 0x1000, l->code, sizeof(l->code));
		memcpy(ram + 0x1001, &iters, 4);
		emu_invalidate_phys(&cpu, 0, RAM_SIZE);
		x86_state_long64(&st, 0x1000, 0, 0, 0);
		st.cr0 &= ~X86_CR0_PG;
		st.gpr[4] = 0xf000;
		emu_cpu_set_state(&cpu, &st);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		int r = emu_run(&cpu, 0);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		double s =
		    (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
		double n = (double)iters * l->insns_per_iter;
		printf("emu-bench: %-40s exit %d, %.0f Minsn in %.3f s: %.1f Minsn/s\n", l->name, r,
		       n / 1e6, s, n / s / 1e6);
	}
	emu_cpu_destroy(&cpu);
	free(ram);
	return 0;
}
