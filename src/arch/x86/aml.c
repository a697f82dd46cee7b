/* AML byte-code builder. Encodings follow the ACPI 6.x AML grammar (ch. 20) and the resource
 * data types (ch. 6.4); see aml.h for the interface. */
#include "arch/x86/aml.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define AML_INITIAL_CAP 256

void aml_init(struct aml_buf *b)
{
	memset(b, 0, sizeof(*b));
}

void aml_free(struct aml_buf *b)
{
	free(b->data);
	aml_init(b);
}

int aml_error(const struct aml_buf *b)
{
	return b->err;
}

static int aml_fail(struct aml_buf *b, int err)
{
	if (!b->err)
		b->err = err;
	return b->err;
}

static int aml_reserve(struct aml_buf *b, size_t extra)
{
	size_t need, cap;
	uint8_t *p;

	if (b->err)
		return b->err;
	if (__builtin_add_overflow(b->len, extra, &need))
		return aml_fail(b, -ENOMEM);
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : AML_INITIAL_CAP;
	while (cap < need) {
		if (__builtin_mul_overflow(cap, 2, &cap))
			return aml_fail(b, -ENOMEM);
	}
	p = realloc(b->data, cap);
	if (!p)
		return aml_fail(b, -ENOMEM);
	b->data = p;
	b->cap = cap;
	return 0;
}

int aml_bytes(struct aml_buf *b, const void *data, size_t len)
{
	if (aml_reserve(b, len))
		return b->err;
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	return 0;
}

int aml_byte(struct aml_buf *b, uint8_t v)
{
	return aml_bytes(b, &v, 1);
}

static int aml_le(struct aml_buf *b, uint64_t v, unsigned nbytes)
{
	uint8_t tmp[8];

	for (unsigned i = 0; i < nbytes; i++)
		tmp[i] = (uint8_t)(v >> (8 * i));
	return aml_bytes(b, tmp, nbytes);
}

int aml_pkglen_encode(uint8_t out[4], uint32_t value)
{
	unsigned follow;

	if (value > AML_PKGLEN_MAX)
		return -EINVAL;
	if (value <= 0x3f) {
		out[0] = (uint8_t)value;
		return 1;
	}
	if (value <= 0xfff)
		follow = 1;
	else if (value <= 0xfffff)
		follow = 2;
	else
		follow = 3;
	out[0] = (uint8_t)((follow << 6) | (value & 0xf));
	for (unsigned i = 0; i < follow; i++)
		out[1 + i] = (uint8_t)(value >> (4 + 8 * i));
	return (int)follow + 1;
}

unsigned aml_pkglen_size(size_t body)
{
	if (body > AML_PKGLEN_MAX)
		return 0;
	if (body + 1 <= 0x3f)
		return 1;
	if (body + 2 <= 0xfff)
		return 2;
	if (body + 3 <= 0xfffff)
		return 3;
	if (body + 4 <= AML_PKGLEN_MAX)
		return 4;
	return 0;
}

static int aml_lead_char(char c)
{
	return (c >= 'A' && c <= 'Z') || c == '_';
}

static int aml_name_char(char c)
{
	return aml_lead_char(c) || (c >= '0' && c <= '9');
}

int aml_namestring(struct aml_buf *b, const char *path)
{
	uint8_t segs[255][4];
	unsigned nsegs = 0;
	const char *p = path;

	if (b->err)
		return b->err;
	if (!path)
		return aml_fail(b, -EINVAL);
	if (*p == '\\') {
		aml_byte(b, AML_ROOT_CHAR);
		p++;
	} else {
		while (*p == '^') {
			aml_byte(b, AML_PARENT_PREFIX_CHAR);
			p++;
		}
	}
	while (*p) {
		unsigned n = 0;

		if (nsegs == 255)
			return aml_fail(b, -EINVAL);
		if (!aml_lead_char(*p))
			return aml_fail(b, -EINVAL);
		while (*p && *p != '.') {
			if (n == 4 || !aml_name_char(*p))
				return aml_fail(b, -EINVAL);
			segs[nsegs][n++] = (uint8_t)*p++;
		}
		while (n < 4)
			segs[nsegs][n++] = '_';
		nsegs++;
		if (*p == '.') {
			p++;
			if (!*p)
				return aml_fail(b, -EINVAL);
		}
	}
	if (nsegs == 0)
		return aml_byte(b, 0x00); /* NullName */
	if (nsegs == 2)
		aml_byte(b, AML_DUAL_NAME_PREFIX);
	else if (nsegs > 2) {
		aml_byte(b, AML_MULTI_NAME_PREFIX);
		aml_byte(b, (uint8_t)nsegs);
	}
	return aml_bytes(b, segs, (size_t)nsegs * 4);
}

int aml_integer(struct aml_buf *b, uint64_t v)
{
	if (v == 0)
		return aml_byte(b, AML_ZERO_OP);
	if (v == 1)
		return aml_byte(b, AML_ONE_OP);
	if (v == UINT64_MAX)
		return aml_byte(b, AML_ONES_OP);
	if (v <= 0xff) {
		aml_byte(b, AML_BYTE_PREFIX);
		return aml_le(b, v, 1);
	}
	if (v <= 0xffff) {
		aml_byte(b, AML_WORD_PREFIX);
		return aml_le(b, v, 2);
	}
	if (v <= 0xffffffffull) {
		aml_byte(b, AML_DWORD_PREFIX);
		return aml_le(b, v, 4);
	}
	aml_byte(b, AML_QWORD_PREFIX);
	return aml_le(b, v, 8);
}

int aml_string(struct aml_buf *b, const char *s)
{
	if (!s)
		return aml_fail(b, -EINVAL);
	for (const char *p = s; *p; p++) {
		if ((unsigned char)*p > 0x7f)
			return aml_fail(b, -EINVAL);
	}
	aml_byte(b, AML_STRING_PREFIX);
	return aml_bytes(b, s, strlen(s) + 1);
}

static int aml_hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int aml_eisaid_value(const char *id, uint32_t *out)
{
	uint32_t v = 0;

	if (!id || strlen(id) != 7)
		return -EINVAL;
	/* Three 5-bit letters ('A' = 1) then four hex digits, stored big-endian in the DWord. */
	for (int i = 0; i < 3; i++) {
		if (id[i] < 'A' || id[i] > 'Z')
			return -EINVAL;
		v = (v << 5) | (uint32_t)(id[i] - 'A' + 1);
	}
	for (int i = 3; i < 7; i++) {
		int d = aml_hex_digit(id[i]);

		if (d < 0)
			return -EINVAL;
		v = (v << 4) | (uint32_t)d;
	}
	*out = __builtin_bswap32(v);
	return 0;
}

int aml_eisaid(struct aml_buf *b, const char *id)
{
	uint32_t v;

	if (aml_eisaid_value(id, &v))
		return aml_fail(b, -EINVAL);
	aml_byte(b, AML_DWORD_PREFIX); /* always a DWord, as iasl emits EISAID() */
	return aml_le(b, v, 4);
}

int aml_end(struct aml_buf *b, size_t mark)
{
	uint8_t enc[4];
	size_t body;
	unsigned n;

	if (b->err)
		return b->err;
	if (mark > b->len)
		return aml_fail(b, -EINVAL);
	body = b->len - mark;
	n = aml_pkglen_size(body);
	if (n == 0)
		return aml_fail(b, -E2BIG);
	if (aml_pkglen_encode(enc, (uint32_t)(body + n)) != (int)n)
		return aml_fail(b, -E2BIG);
	if (aml_reserve(b, n))
		return b->err;
	memmove(b->data + mark + n, b->data + mark, body);
	memcpy(b->data + mark, enc, n);
	b->len += n;
	return 0;
}

int aml_buffer(struct aml_buf *b, const void *data, size_t len)
{
	size_t mark;

	aml_byte(b, AML_BUFFER_OP);
	mark = b->len;
	aml_integer(b, len);
	aml_bytes(b, data, len);
	return aml_end(b, mark);
}

int aml_name(struct aml_buf *b, const char *name)
{
	aml_byte(b, AML_NAME_OP);
	return aml_namestring(b, name);
}

int aml_name_integer(struct aml_buf *b, const char *name, uint64_t v)
{
	aml_name(b, name);
	return aml_integer(b, v);
}

int aml_name_string(struct aml_buf *b, const char *name, const char *s)
{
	aml_name(b, name);
	return aml_string(b, s);
}

int aml_name_eisaid(struct aml_buf *b, const char *name, const char *id)
{
	aml_name(b, name);
	return aml_eisaid(b, id);
}

int aml_name_buffer(struct aml_buf *b, const char *name, const void *data, size_t len)
{
	aml_name(b, name);
	return aml_buffer(b, data, len);
}

size_t aml_scope_begin(struct aml_buf *b, const char *path)
{
	size_t mark;

	aml_byte(b, AML_SCOPE_OP);
	mark = b->len;
	aml_namestring(b, path);
	return mark;
}

size_t aml_device_begin(struct aml_buf *b, const char *name)
{
	size_t mark;

	aml_byte(b, AML_EXT_OP_PREFIX);
	aml_byte(b, AML_DEVICE_OP);
	mark = b->len;
	aml_namestring(b, name);
	return mark;
}

size_t aml_method_begin(struct aml_buf *b, const char *name, unsigned nargs, int serialized)
{
	size_t mark;

	if (nargs > 7)
		aml_fail(b, -EINVAL);
	aml_byte(b, AML_METHOD_OP);
	mark = b->len;
	aml_namestring(b, name);
	/* MethodFlags: bits 0-2 ArgCount, bit 3 SerializeFlag, bits 4-7 SyncLevel (0). */
	aml_byte(b, (uint8_t)((nargs & 7) | (serialized ? 0x08 : 0)));
	return mark;
}

size_t aml_package_begin(struct aml_buf *b, unsigned nelems)
{
	size_t mark;

	if (nelems > 255)
		aml_fail(b, -EINVAL);
	aml_byte(b, AML_PACKAGE_OP);
	mark = b->len;
	aml_byte(b, (uint8_t)nelems);
	return mark;
}

int aml_return(struct aml_buf *b)
{
	return aml_byte(b, AML_RETURN_OP);
}

int aml_return_integer(struct aml_buf *b, uint64_t v)
{
	aml_return(b);
	return aml_integer(b, v);
}

int aml_res_io(struct aml_buf *rb, uint16_t min, uint16_t max, uint8_t align, uint8_t len)
{
	if (max < min)
		return aml_fail(rb, -EINVAL);
	aml_byte(rb, AML_RES_IO);
	aml_byte(rb, 0x01); /* Information: 16-bit decode */
	aml_le(rb, min, 2);
	aml_le(rb, max, 2);
	aml_byte(rb, align);
	return aml_byte(rb, len);
}

int aml_res_irq_noflags(struct aml_buf *rb, unsigned irq)
{
	if (irq > 15)
		return aml_fail(rb, -EINVAL);
	aml_byte(rb, AML_RES_IRQ_NOFLAGS);
	return aml_le(rb, 1u << irq, 2);
}

int aml_res_mem32_fixed(struct aml_buf *rb, int writable, uint32_t base, uint32_t size)
{
	uint32_t last;

	if (size == 0 || __builtin_add_overflow(base, size - 1, &last))
		return aml_fail(rb, -EINVAL);
	aml_byte(rb, AML_RES_MEM32_FIXED);
	aml_le(rb, 9, 2);
	aml_byte(rb, writable ? 0x01 : 0x00);
	aml_le(rb, base, 4);
	return aml_le(rb, size, 4);
}

int aml_res_interrupt(struct aml_buf *rb, unsigned flags, const uint32_t *gsis, unsigned n)
{
	if (n == 0 || n > 255 || (flags & ~0x1fu))
		return aml_fail(rb, -EINVAL);
	aml_byte(rb, AML_RES_EXT_IRQ);
	aml_le(rb, 2 + 4 * n, 2);
	aml_byte(rb, (uint8_t)flags);
	aml_byte(rb, (uint8_t)n);
	for (unsigned i = 0; i < n; i++)
		aml_le(rb, gsis[i], 4);
	return rb->err;
}

/* Address space descriptor: tag, length, resource type, general flags, type-specific flags, then
 * granularity, minimum, maximum, translation offset and length, each `width` bytes. */
static int aml_res_addr(struct aml_buf *rb, uint8_t tag, unsigned width, uint8_t type,
			uint8_t tflags, uint64_t min, uint64_t max)
{
	uint64_t len = max - min + 1;

	if (max < min || len == 0)
		return aml_fail(rb, -EINVAL);
	if (width < 8 && len > (1ull << (8 * width)) - 1)
		return aml_fail(rb, -EINVAL);
	aml_byte(rb, tag);
	aml_le(rb, 3 + 5 * width, 2);
	aml_byte(rb, type);
	/* General flags: producer (bit 0 clear), PosDecode, MinFixed (bit 2), MaxFixed (bit 3). */
	aml_byte(rb, 0x0c);
	aml_byte(rb, tflags);
	aml_le(rb, 0, width);
	aml_le(rb, min, width);
	aml_le(rb, max, width);
	aml_le(rb, 0, width);
	return aml_le(rb, len, width);
}

static uint8_t aml_mem_flags(enum aml_mem_cache cache, int writable)
{
	return (uint8_t)(((unsigned)cache & 3) << 1 | (writable ? 1 : 0));
}

int aml_res_word_bus(struct aml_buf *rb, uint16_t min, uint16_t max)
{
	return aml_res_addr(rb, AML_RES_WORD_ADDR, 2, 2, 0, min, max);
}

int aml_res_dword_io(struct aml_buf *rb, uint32_t min, uint32_t max)
{
	return aml_res_addr(rb, AML_RES_DWORD_ADDR, 4, 1, 0x03 /* EntireRange */, min, max);
}

int aml_res_dword_mem(struct aml_buf *rb, enum aml_mem_cache cache, int writable, uint32_t min,
		      uint32_t max)
{
	return aml_res_addr(rb, AML_RES_DWORD_ADDR, 4, 0, aml_mem_flags(cache, writable), min, max);
}

int aml_res_qword_mem(struct aml_buf *rb, enum aml_mem_cache cache, int writable, uint64_t min,
		      uint64_t max)
{
	return aml_res_addr(rb, AML_RES_QWORD_ADDR, 8, 0, aml_mem_flags(cache, writable), min, max);
}

int aml_res_end(struct aml_buf *rb)
{
	uint8_t sum = 0;

	if (aml_byte(rb, AML_RES_END_TAG))
		return rb->err;
	for (size_t i = 0; i < rb->len; i++)
		sum = (uint8_t)(sum + rb->data[i]);
	return aml_byte(rb, (uint8_t)-sum);
}
