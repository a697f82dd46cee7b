/* bench_loop: a compute loop with a known instruction count, for `make bench` (guest instructions
 * per second on vmon's emu and on QEMU TCG, same binary). The command line's n=N (default
 * 1,000,000) sets the iterations; each runs exactly BENCH_LOOP_INSNS instructions: a xorshift64
 * step, a load-add-store into a 64 KiB buffer at the index it gives, an add and the loop branch.
 * The result is printed (so the work cannot be skipped) and the guest passes. The benchmark
 * times two values of n and divides the difference in instructions by the difference in time,
 * so start-up and exit cost cancel out. */
#include "guest.h"

#define BENCH_LOOP_INSNS 16

static uint64_t buf[8192];

int main(const struct boot_info *bi)
{
	uint64_t n = cmdline_uint("n", 1000000);
	uint64_t x = 0x9e3779b97f4a7c15ull, acc = 0, sum = 0, cnt = n;

	if (!n)
		return 1;
	asm volatile("1:\n\t"
		     "mov %[x], %%rsi\n\t"
		     "shl $13, %%rsi\n\t"
		     "xor %%rsi, %[x]\n\t"
		     "mov %[x], %%rsi\n\t"
		     "shr $7, %%rsi\n\t"
		     "xor %%rsi, %[x]\n\t"
		     "mov %[x], %%rsi\n\t"
		     "shl $17, %%rsi\n\t"
		     "xor %%rsi, %[x]\n\t"
		     "mov %k[x], %%esi\n\t"
		     "and $0xfff8, %%esi\n\t"
		     "add (%[b], %%rsi), %[acc]\n\t"
		     "mov %[acc], (%[b], %%rsi)\n\t"
		     "add %[x], %[sum]\n\t"
		     "dec %[cnt]\n\t"
		     "jnz 1b"
		     : [x] "+r"(x), [acc] "+r"(acc), [sum] "+r"(sum), [cnt] "+r"(cnt)
		     : [b] "r"(buf)
		     : "rsi", "memory", "cc");
	test_note("%lu iterations x %d instructions, result 0x%lx", n, BENCH_LOOP_INSNS, acc ^ sum);
	return 0;
}
