/* Shared helpers for the boot loader unit tests: a fake guest (calloc-ed RAM at gpa 0 plus its
 * e820 map) and little-endian accessors. Header-only (static inline) so that it does not become
 * a helper object linked into every unit test. */
#ifndef VMON_TESTS_BOOT_TEST_UTIL_H
#define VMON_TESTS_BOOT_TEST_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "arch/x86/boot.h"
#include "arch/x86/e820.h"
#include "arch/x86/layout.h"
#include "core/gmem.h"

#define TEST_RAM (64ull << 20)
#define MIB (1ull << 20)

struct fake_vm {
	struct gmem gm;
	uint8_t *ram;
	uint64_t ram_size;
	struct e820_map e820;
	struct boot_result res;
	char err[256];
};

/* Fake guest of size bytes at gpa 0, RAM pre-filled with 0xcc so that zeroing is visible. */
static inline struct fake_vm *fake_vm_new(uint64_t size)
{
	struct fake_vm *v = calloc(1, sizeof(*v));
	assert_non_null(v);
	v->ram = malloc(size);
	assert_non_null(v->ram);
	memset(v->ram, 0xcc, size);
	v->ram_size = size;
	assert_int_equal(gmem_add_region(&v->gm, 0, size, v->ram), 0);
	assert_int_equal(e820_build(&v->gm, &v->e820), 0);
	return v;
}

static inline void fake_vm_free(struct fake_vm *v)
{
	gmem_destroy(&v->gm); /* owns_mappings is 0: frees only the dirty bitmaps */
	free(v->ram);
	free(v);
}

/* Guest bytes at gpa (asserts the range is RAM). */
static inline const uint8_t *gp(struct fake_vm *v, uint64_t gpa, uint64_t len)
{
	const uint8_t *p = gmem_ptr(&v->gm, gpa, len, GMEM_READ);
	assert_non_null(p);
	return p;
}

static inline uint16_t ld16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t ld32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
	       ((uint32_t)p[3] << 24);
}

static inline uint64_t ld64(const uint8_t *p)
{
	return (uint64_t)ld32(p) | ((uint64_t)ld32(p + 4) << 32);
}

static inline void st16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void st32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline void st64(uint8_t *p, uint64_t v)
{
	st32(p, (uint32_t)v);
	st32(p + 4, (uint32_t)(v >> 32));
}

static inline uint32_t g32(struct fake_vm *v, uint64_t gpa)
{
	return ld32(gp(v, gpa, 4));
}

static inline uint64_t g64(struct fake_vm *v, uint64_t gpa)
{
	return ld64(gp(v, gpa, 8));
}

/* Fill buf with a recognisable pattern seeded by seed. */
static inline void fill_pattern(uint8_t *buf, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(i * 7 + seed + (i >> 8));
}

/* Run boot_load with kernel (and optional initrd / cmdline / Linux-only cmdline extra) on v. */
static inline int run_boot_extra(struct fake_vm *v, const uint8_t *k, size_t klen,
				 const uint8_t *initrd, size_t ilen, const char *cmdline,
				 const char *extra)
{
	struct boot_input in = {
	    .kernel = k,
	    .kernel_len = klen,
	    .kernel_name = "kernel.elf",
	    .initrd = initrd,
	    .initrd_len = ilen,
	    .initrd_name = "initrd.img",
	    .cmdline = cmdline,
	    .rsdp_gpa = LAYOUT_ACPI_START,
	    .linux_cmdline_extra = extra,
	};
	v->err[0] = '\0';
	return boot_load(&v->gm, &v->e820, &in, &v->res, v->err, sizeof(v->err));
}

static inline int run_boot(struct fake_vm *v, const uint8_t *k, size_t klen, const uint8_t *initrd,
			   size_t ilen, const char *cmdline)
{
	return run_boot_extra(v, k, klen, initrd, ilen, cmdline, NULL);
}

/* Assert that err contains needle. */
#define assert_err_has(v, needle)                                                                  \
	do {                                                                                       \
		if (!strstr((v)->err, (needle)))                                                   \
			fail_msg("error \"%s\" lacks \"%s\"", (v)->err, (needle));                 \
	} while (0)

/* Check the boot GDT at LAYOUT_BOOT_GDT with the given code descriptor. */
static inline void check_gdt(struct fake_vm *v, uint64_t code)
{
	assert_int_equal(g64(v, LAYOUT_BOOT_GDT), 0);
	assert_int_equal(g64(v, LAYOUT_BOOT_GDT + 8), 0);
	assert_int_equal(g64(v, LAYOUT_BOOT_GDT + 16), code);
	assert_int_equal(g64(v, LAYOUT_BOOT_GDT + 24), BOOT_GDT_DATA);
	assert_int_equal(v->res.bsp.gdt.base, LAYOUT_BOOT_GDT);
	assert_int_equal(v->res.bsp.gdt.limit, 31);
	assert_int_equal(v->res.bsp.seg[X86_CS].selector, 0x10);
	assert_int_equal(v->res.bsp.seg[X86_DS].selector, 0x18);
}

#endif
