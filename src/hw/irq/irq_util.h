/* Small helpers shared by the interrupt controllers and timers: bit scans over the 256-bit vector
 * bitmaps, and overflow-free scaling between clock domains (ns, PIT clocks, TSC ticks). */
#ifndef VMON_HW_IRQ_IRQ_UTIL_H
#define VMON_HW_IRQ_IRQ_UTIL_H

#include <stdint.h>

#define NSEC_PER_SEC 1000000000ull

/* a * mul / div without 128-bit arithmetic. Exact (floor) as long as mul * div < 2^64, which holds
 * for every pair used here (ns and clock rates below 2^33 Hz). */
static inline uint64_t irq_muldiv(uint64_t a, uint64_t mul, uint64_t div)
{
	return (a / div) * mul + ((a % div) * mul) / div;
}

/* As irq_muldiv, rounded up. */
static inline uint64_t irq_muldiv_up(uint64_t a, uint64_t mul, uint64_t div)
{
	uint64_t q = irq_muldiv(a, mul, div);
	return ((a % div) * mul) % div ? q + 1 : q;
}

/* Index of the most significant set bit of a non-zero 32-bit value. */
static inline int irq_fls32(uint32_t v)
{
	return 31 - __builtin_clz(v);
}

/* Saturating a + b. */
static inline uint64_t irq_add_sat(uint64_t a, uint64_t b)
{
	uint64_t r;
	return __builtin_add_overflow(a, b, &r) ? UINT64_MAX : r;
}

#endif
