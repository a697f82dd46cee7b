/* Unit tests for the AML builder: PkgLength, names, integers, strings, EISA ids, the nested
 * constructs, and resource descriptors. Expected bytes were checked against iasl 20200925
 * (iasl -oa, which leaves constants unoptimised, except where noted). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "arch/x86/aml.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static void expect_bytes(const struct aml_buf *b, const uint8_t *want, size_t len)
{
	assert_int_equal(aml_error(b), 0);
	assert_int_equal(b->len, len);
	assert_memory_equal(b->data, want, len);
}

/* Decode a PkgLength at p; returns its value and stores the byte count in *n. */
static uint32_t pkglen_decode(const uint8_t *p, unsigned *n)
{
	unsigned follow = p[0] >> 6;
	uint32_t v;

	*n = follow + 1;
	if (follow == 0)
		return p[0] & 0x3f;
	v = p[0] & 0x0f;
	for (unsigned i = 0; i < follow; i++)
		v |= (uint32_t)p[1 + i] << (4 + 8 * i);
	return v;
}

static void test_pkglen_boundaries(void **state)
{
	static const struct {
		uint32_t value;
		int n;
		uint8_t bytes[4];
	} cases[] = {
	    {0, 1, {0x00}},
	    {63, 1, {0x3f}},
	    {64, 2, {0x40, 0x04}},
	    {4095, 2, {0x4f, 0xff}},
	    {4096, 3, {0x80, 0x00, 0x01}},
	    {0xfffff, 3, {0x8f, 0xff, 0xff}},
	    {0x100000, 4, {0xc0, 0x00, 0x00, 0x01}},
	    {AML_PKGLEN_MAX, 4, {0xcf, 0xff, 0xff, 0xff}},
	};
	uint8_t out[4];
	unsigned n;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		memset(out, 0xee, sizeof(out));
		assert_int_equal(aml_pkglen_encode(out, cases[i].value), cases[i].n);
		assert_memory_equal(out, cases[i].bytes, (size_t)cases[i].n);
		assert_int_equal(pkglen_decode(out, &n), cases[i].value);
		assert_int_equal(n, cases[i].n);
	}
	assert_int_equal(aml_pkglen_encode(out, AML_PKGLEN_MAX + 1), -EINVAL);
}

static void test_pkglen_size(void **state)
{
	(void)state;
	assert_int_equal(aml_pkglen_size(0), 1);
	assert_int_equal(aml_pkglen_size(62), 1);   /* 62 + 1 = 63 */
	assert_int_equal(aml_pkglen_size(63), 2);   /* 63 + 1 = 64 does not fit */
	assert_int_equal(aml_pkglen_size(4093), 2); /* 4093 + 2 = 4095 */
	assert_int_equal(aml_pkglen_size(4094), 3); /* 4094 + 2 = 4096 */
	assert_int_equal(aml_pkglen_size(0xfffff - 3), 3);
	assert_int_equal(aml_pkglen_size(0xfffff - 2), 4);
	assert_int_equal(aml_pkglen_size(AML_PKGLEN_MAX - 4), 4);
	assert_int_equal(aml_pkglen_size(AML_PKGLEN_MAX - 3), 0);
}

/* Scope("ABCD") with a body of `filler` raw bytes: the PkgLength must cover exactly the
 * PkgLength itself, the NameSeg and the filler. */
static void check_scope_body(size_t filler, unsigned want_n)
{
	struct aml_buf b;
	static uint8_t junk[5000];
	unsigned n;
	size_t mark;

	aml_init(&b);
	mark = aml_scope_begin(&b, "ABCD");
	aml_bytes(&b, junk, filler);
	assert_int_equal(aml_end(&b, mark), 0);
	assert_int_equal(b.data[0], AML_SCOPE_OP);
	assert_int_equal(pkglen_decode(b.data + 1, &n), b.len - 1);
	assert_int_equal(n, want_n);
	assert_memory_equal(b.data + 1 + n, "ABCD", 4);
	aml_free(&b);
}

static void test_scope_pkglen_boundaries(void **state)
{
	(void)state;
	check_scope_body(58, 1);   /* body 62 -> total 63 */
	check_scope_body(59, 2);   /* body 63 -> total 65 */
	check_scope_body(4089, 2); /* body 4093 -> total 4095 */
	check_scope_body(4090, 3); /* body 4094 -> total 4097 */
}

static void test_namestring(void **state)
{
	static const uint8_t sb[] = {'_', 'S', 'B', '_'};
	static const uint8_t root_dual[] = {0x5c, 0x2e, '_', 'S', 'B', '_', 'P', 'C', 'I', '0'};
	static const uint8_t multi[] = {0x5c, 0x2f, 3,	 '_', 'S', 'B', '_', 'P',
					'C',  'I',  '0', 'I', 'S', 'A', '_'};
	static const uint8_t parent[] = {0x5e, 0x5e, 'F', 'O', 'O', '_'};
	static const uint8_t root_only[] = {0x5c, 0x00};
	static const char *const bad[] = {"1ABC", "ABCDE", "abc", "A..B", "A.", "\\.A", "A-B"};
	struct aml_buf b;

	(void)state;
	aml_init(&b);
	aml_namestring(&b, "_SB");
	expect_bytes(&b, sb, sizeof(sb));
	aml_free(&b);
	aml_namestring(&b, "\\_SB.PCI0");
	expect_bytes(&b, root_dual, sizeof(root_dual));
	aml_free(&b);
	aml_namestring(&b, "\\_SB.PCI0.ISA");
	expect_bytes(&b, multi, sizeof(multi));
	aml_free(&b);
	aml_namestring(&b, "^^FOO");
	expect_bytes(&b, parent, sizeof(parent));
	aml_free(&b);
	aml_namestring(&b, "\\");
	expect_bytes(&b, root_only, sizeof(root_only));
	aml_free(&b);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		assert_int_equal(aml_namestring(&b, bad[i]), -EINVAL);
		aml_free(&b);
	}
}

static void test_integers(void **state)
{
	static const struct {
		uint64_t v;
		size_t len;
		uint8_t bytes[9];
	} cases[] = {
	    {0, 1, {0x00}},
	    {1, 1, {0x01}},
	    {2, 2, {0x0a, 0x02}},
	    {0xff, 2, {0x0a, 0xff}},
	    {0x100, 3, {0x0b, 0x00, 0x01}},
	    {0xffff, 3, {0x0b, 0xff, 0xff}},
	    {0x10000, 5, {0x0c, 0x00, 0x00, 0x01, 0x00}},
	    {0xffffffffull, 5, {0x0c, 0xff, 0xff, 0xff, 0xff}},
	    {0x100000000ull, 9, {0x0e, 0, 0, 0, 0, 1, 0, 0, 0}},
	    {UINT64_MAX - 1, 9, {0x0e, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
	    {UINT64_MAX, 1, {0xff}},
	};
	struct aml_buf b;

	(void)state;
	aml_init(&b);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		aml_integer(&b, cases[i].v);
		expect_bytes(&b, cases[i].bytes, cases[i].len);
		aml_free(&b);
	}
}

static void test_string_and_eisaid(void **state)
{
	static const uint8_t str[] = {0x0d, 'L', 'N', 'R', 'O', '0', '0', '0', '5', 0};
	static const uint8_t com[] = {0x0c, 0x41, 0xd0, 0x05, 0x01};
	struct aml_buf b;
	uint32_t v;

	(void)state;
	aml_init(&b);
	aml_string(&b, "LNRO0005");
	expect_bytes(&b, str, sizeof(str));
	aml_free(&b);
	assert_int_equal(aml_string(&b, "caf\xc3\xa9"), -EINVAL);
	aml_free(&b);

	assert_int_equal(aml_eisaid_value("PNP0A03", &v), 0);
	assert_int_equal(v, 0x030ad041);
	assert_int_equal(aml_eisaid_value("PNP0A08", &v), 0);
	assert_int_equal(v, 0x080ad041);
	assert_int_equal(aml_eisaid_value("PNP0B00", &v), 0);
	assert_int_equal(v, 0x000bd041);
	aml_eisaid(&b, "PNP0501");
	expect_bytes(&b, com, sizeof(com));
	aml_free(&b);
	assert_int_equal(aml_eisaid_value("PNP050", &v), -EINVAL);
	assert_int_equal(aml_eisaid_value("pnp0501", &v), -EINVAL);
	assert_int_equal(aml_eisaid_value("PNP05G1", &v), -EINVAL);
	assert_int_equal(aml_eisaid(&b, "PNP05011"), -EINVAL);
	aml_free(&b);
}

static void test_method_name_package(void **state)
{
	/* Method (_STA, 0, NotSerialized) { Return (0x0F) } */
	static const uint8_t sta[] = {0x14, 0x09, '_', 'S', 'T', 'A', 0x00, 0xa4, 0x0a, 0x0f};
	/* Method (MTH1, 2, Serialized) { Return (Package () { One, 0x02 }) } */
	static const uint8_t mth[] = {0x14, 0x0d, 'M',	'T',  'H',  '1',  0x0a,
				      0xa4, 0x12, 0x05, 0x02, 0x01, 0x0a, 0x02};
	/* Name (_S5, Package () { 5, 5, 0, 0 }) */
	static const uint8_t s5[] = {0x08, '_',	 'S',  '5',  '_',  0x12, 0x08,
				     0x04, 0x0a, 0x05, 0x0a, 0x05, 0x00, 0x00};
	struct aml_buf b;
	size_t m, p;

	(void)state;
	aml_init(&b);
	m = aml_method_begin(&b, "_STA", 0, 0);
	aml_return_integer(&b, 0x0f);
	aml_end(&b, m);
	expect_bytes(&b, sta, sizeof(sta));
	aml_free(&b);

	m = aml_method_begin(&b, "MTH1", 2, 1);
	aml_return(&b);
	p = aml_package_begin(&b, 2);
	aml_integer(&b, 1);
	aml_integer(&b, 2);
	aml_end(&b, p);
	aml_end(&b, m);
	expect_bytes(&b, mth, sizeof(mth));
	aml_free(&b);

	aml_name(&b, "_S5");
	p = aml_package_begin(&b, 4);
	aml_integer(&b, 5);
	aml_integer(&b, 5);
	aml_integer(&b, 0);
	aml_integer(&b, 0);
	aml_end(&b, p);
	expect_bytes(&b, s5, sizeof(s5));
	aml_free(&b);

	aml_method_begin(&b, "BAD", 8, 0);
	assert_int_equal(aml_error(&b), -EINVAL);
	aml_free(&b);
	aml_package_begin(&b, 256);
	assert_int_equal(aml_error(&b), -EINVAL);
	aml_free(&b);
}

static void test_device_and_names(void **state)
{
	/* Device (COM1) { Name (_HID, EisaId ("PNP0501")) Name (_UID, One) } */
	static const uint8_t dev[] = {0x5b, 0x82, 0x15, 'C', 'O',  'M',	 '1',  0x08,
				      '_',  'H',  'I',	'D', 0x0c, 0x41, 0xd0, 0x05,
				      0x01, 0x08, '_',	'U', 'I',  'D',	 0x01};
	static const uint8_t buf[] = {0x08, 'B', 'U', 'F', '_', 0x11, 0x06, 0x0a, 0x03, 1, 2, 3};
	static const uint8_t data[] = {1, 2, 3};
	struct aml_buf b;
	size_t d;

	(void)state;
	aml_init(&b);
	d = aml_device_begin(&b, "COM1");
	aml_name_eisaid(&b, "_HID", "PNP0501");
	aml_name_integer(&b, "_UID", 1);
	aml_end(&b, d);
	expect_bytes(&b, dev, sizeof(dev));
	aml_free(&b);

	aml_name_buffer(&b, "BUF", data, sizeof(data));
	expect_bytes(&b, buf, sizeof(buf));
	aml_free(&b);
}

static void test_nested_large(void **state)
{
	static uint8_t junk[5000];
	struct aml_buf b;
	size_t s, d;
	unsigned n1, n2;

	(void)state;
	aml_init(&b);
	s = aml_scope_begin(&b, "\\_SB");
	d = aml_device_begin(&b, "BIG");
	aml_bytes(&b, junk, sizeof(junk));
	aml_end(&b, d);
	aml_name_integer(&b, "TAIL", 0x1234);
	aml_end(&b, s);
	assert_int_equal(aml_error(&b), 0);
	/* Scope: 10 PkgLength(3) 5C "_SB_" 5B 82 PkgLength(3) "BIG_" junk Name(TAIL). */
	assert_int_equal(pkglen_decode(b.data + 1, &n1), b.len - 1);
	assert_int_equal(n1, 3);
	assert_int_equal(b.data[1 + n1], 0x5c);
	const uint8_t *dev = b.data + 1 + n1 + 5;
	assert_int_equal(dev[0], 0x5b);
	assert_int_equal(dev[1], 0x82);
	uint32_t dev_len = pkglen_decode(dev + 2, &n2);
	assert_int_equal(n2, 3);
	assert_int_equal(dev_len, n2 + 4 + sizeof(junk));
	assert_memory_equal(dev + 2 + n2, "BIG_", 4);
	assert_memory_equal(b.data + b.len - 8, "\x08TAIL\x0b\x34\x12", 8);
	aml_free(&b);
}

/* Compare the bytes appended since `from` with a string literal (which may contain NULs). */
#define EXPECT_FROM(rb, from, lit)                                                                 \
	do {                                                                                       \
		assert_int_equal((rb)->len - (from), sizeof(lit) - 1);                             \
		assert_memory_equal((rb)->data + (from), lit, sizeof(lit) - 1);                    \
	} while (0)

static void test_resources(void **state)
{
	static const uint32_t gsis[] = {5, 7};
	struct aml_buf rb;
	size_t at;
	uint8_t sum = 0;

	(void)state;
	aml_init(&rb);
	/* IO (Decode16, 0x3F8, 0x3F8, 0x01, 0x08) */
	at = rb.len;
	aml_res_io(&rb, 0x3f8, 0x3f8, 1, 8);
	EXPECT_FROM(&rb, at, "\x47\x01\xf8\x03\xf8\x03\x01\x08");
	/* IRQNoFlags () {4} */
	at = rb.len;
	aml_res_irq_noflags(&rb, 4);
	EXPECT_FROM(&rb, at, "\x22\x10\x00");
	/* Memory32Fixed (ReadWrite, 0xD0000000, 0x1000) */
	at = rb.len;
	aml_res_mem32_fixed(&rb, 1, 0xd0000000u, 0x1000);
	EXPECT_FROM(&rb, at, "\x86\x09\x00\x01\x00\x00\x00\xd0\x00\x10\x00\x00");
	/* Interrupt (ResourceConsumer, Edge, ActiveLow, Shared) { 5, 7 } */
	at = rb.len;
	aml_res_interrupt(
	    &rb, AML_INT_CONSUMER | AML_INT_EDGE | AML_INT_ACTIVE_LOW | AML_INT_SHARED, gsis, 2);
	EXPECT_FROM(&rb, at, "\x89\x0a\x00\x0f\x02\x05\x00\x00\x00\x07\x00\x00\x00");
	/* WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode, 0, 0, 0xFF, 0, 0x100) */
	at = rb.len;
	aml_res_word_bus(&rb, 0, 0xff);
	EXPECT_FROM(&rb, at,
		    "\x88\x0d\x00\x02\x0c\x00"
		    "\x00\x00\x00\x00\xff\x00\x00\x00\x00\x01");
	/* DWordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange,
	 *          0, 0xD00, 0xFFFF, 0, 0xF300) */
	at = rb.len;
	aml_res_dword_io(&rb, 0xd00, 0xffff);
	EXPECT_FROM(&rb, at,
		    "\x87\x17\x00\x01\x0c\x03"
		    "\x00\x00\x00\x00\x00\x0d\x00\x00\xff\xff\x00\x00"
		    "\x00\x00\x00\x00\x00\xf3\x00\x00");
	/* DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, Cacheable, ReadOnly,
	 *              0, 0xC0000000, 0xCFFFFFFF, 0, 0x10000000) */
	at = rb.len;
	aml_res_dword_mem(&rb, AML_MEM_CACHEABLE, 0, 0xc0000000u, 0xcfffffffu);
	EXPECT_FROM(&rb, at,
		    "\x87\x17\x00\x00\x0c\x02"
		    "\x00\x00\x00\x00\x00\x00\x00\xc0\xff\xff\xff\xcf"
		    "\x00\x00\x00\x00\x00\x00\x00\x10");
	/* QWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, Prefetchable, ReadWrite,
	 *              0, 0x100000000, 0x1FFFFFFFF, 0, 0x100000000) */
	at = rb.len;
	aml_res_qword_mem(&rb, AML_MEM_PREFETCHABLE, 1, 0x100000000ull, 0x1ffffffffull);
	EXPECT_FROM(&rb, at,
		    "\x8a\x2b\x00\x00\x0c\x07"
		    "\x00\x00\x00\x00\x00\x00\x00\x00"
		    "\x00\x00\x00\x00\x01\x00\x00\x00"
		    "\xff\xff\xff\xff\x01\x00\x00\x00"
		    "\x00\x00\x00\x00\x00\x00\x00\x00"
		    "\x00\x00\x00\x00\x01\x00\x00\x00");
	/* EndTag with a checksum that makes the template sum to zero. */
	at = rb.len;
	assert_int_equal(aml_res_end(&rb), 0);
	assert_int_equal(rb.len, at + 2);
	assert_int_equal(rb.data[at], AML_RES_END_TAG);
	for (size_t i = 0; i < rb.len; i++)
		sum = (uint8_t)(sum + rb.data[i]);
	assert_int_equal(sum, 0);
	aml_free(&rb);
}

static void test_resource_errors(void **state)
{
	static const uint32_t gsi = 16;
	struct aml_buf rb;

	(void)state;
	aml_init(&rb);
	assert_int_equal(aml_res_irq_noflags(&rb, 16), -EINVAL);
	aml_free(&rb);
	assert_int_equal(aml_res_interrupt(&rb, AML_INT_CONSUMER, &gsi, 0), -EINVAL);
	aml_free(&rb);
	assert_int_equal(aml_res_interrupt(&rb, 0x20, &gsi, 1), -EINVAL);
	aml_free(&rb);
	assert_int_equal(aml_res_io(&rb, 0x100, 0xff, 1, 1), -EINVAL);
	aml_free(&rb);
	assert_int_equal(aml_res_mem32_fixed(&rb, 1, 0xfffff000u, 0x2000), -EINVAL);
	aml_free(&rb);
	assert_int_equal(aml_res_mem32_fixed(&rb, 1, 0x1000, 0), -EINVAL);
	aml_free(&rb);
	assert_int_equal(aml_res_dword_io(&rb, 0, 0xffffffffu), -EINVAL); /* length 2^32 */
	aml_free(&rb);
	assert_int_equal(aml_res_qword_mem(&rb, AML_MEM_NONCACHEABLE, 1, 0, UINT64_MAX), -EINVAL);
	aml_free(&rb);
	assert_int_equal(aml_res_dword_mem(&rb, AML_MEM_NONCACHEABLE, 1, 2, 1), -EINVAL);
	aml_free(&rb);
}

static void test_sticky_error(void **state)
{
	struct aml_buf b;

	(void)state;
	aml_init(&b);
	aml_integer(&b, 7);
	assert_int_equal(aml_namestring(&b, "bad"), -EINVAL);
	size_t len = b.len;
	assert_int_equal(aml_integer(&b, 9), -EINVAL);
	assert_int_equal(aml_name_string(&b, "_HID", "X"), -EINVAL);
	assert_int_equal(b.len, len);
	assert_int_equal(aml_end(&b, 0), -EINVAL);
	aml_free(&b);
	assert_int_equal(aml_error(&b), 0);
	aml_free(&b);

	/* A mark past the end is rejected. */
	aml_integer(&b, 7);
	assert_int_equal(aml_end(&b, 100), -EINVAL);
	aml_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pkglen_boundaries),
	    cmocka_unit_test(test_pkglen_size),
	    cmocka_unit_test(test_scope_pkglen_boundaries),
	    cmocka_unit_test(test_namestring),
	    cmocka_unit_test(test_integers),
	    cmocka_unit_test(test_string_and_eisaid),
	    cmocka_unit_test(test_method_name_package),
	    cmocka_unit_test(test_device_and_names),
	    cmocka_unit_test(test_nested_large),
	    cmocka_unit_test(test_resources),
	    cmocka_unit_test(test_resource_errors),
	    cmocka_unit_test(test_sticky_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
