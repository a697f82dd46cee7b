/* A small AML byte-code builder: enough of the ACPI Machine Language grammar (ACPI 6.x, ch. 20)
 * to describe a fixed PC machine in a DSDT, plus resource template descriptors (ch. 6.4).
 *
 * Code is appended to a growable struct aml_buf. Every function records the first failure in the
 * buffer's sticky `err` (later calls then do nothing), so a caller can emit a whole table and check
 * aml_error() once. Constructs with a PkgLength (Scope, Device, Method, Package) are opened with a
 * *_begin call that returns a mark and closed with aml_end(mark); the PkgLength is sized (1-4
 * bytes) when the construct is closed. Nesting is by the caller's order of aml_end calls.
 *
 * Resource templates are built in their own struct aml_buf with the aml_res_* helpers, closed with
 * aml_res_end (EndTag + checksum), and placed in the AML with aml_buffer / aml_name_buffer.
 *
 * Not thread-safe: one buffer belongs to one builder. */
#ifndef VMON_ARCH_X86_AML_H
#define VMON_ARCH_X86_AML_H

#include <stddef.h>
#include <stdint.h>

/* AML opcodes used by the builder (ACPI 6.x, 20.3). */
#define AML_ZERO_OP 0x00
#define AML_ONE_OP 0x01
#define AML_NAME_OP 0x08
#define AML_BYTE_PREFIX 0x0a
#define AML_WORD_PREFIX 0x0b
#define AML_DWORD_PREFIX 0x0c
#define AML_STRING_PREFIX 0x0d
#define AML_QWORD_PREFIX 0x0e
#define AML_SCOPE_OP 0x10
#define AML_BUFFER_OP 0x11
#define AML_PACKAGE_OP 0x12
#define AML_METHOD_OP 0x14
#define AML_DUAL_NAME_PREFIX 0x2e
#define AML_MULTI_NAME_PREFIX 0x2f
#define AML_EXT_OP_PREFIX 0x5b
#define AML_DEVICE_OP 0x82 /* after AML_EXT_OP_PREFIX */
#define AML_ROOT_CHAR 0x5c
#define AML_PARENT_PREFIX_CHAR 0x5e
#define AML_RETURN_OP 0xa4
#define AML_ONES_OP 0xff

/* Largest value a PkgLength can encode (28 bits). */
#define AML_PKGLEN_MAX 0x0fffffffu

/* Resource descriptor tags (ACPI 6.x, 6.4.2 small and 6.4.3 large items). */
#define AML_RES_IRQ_NOFLAGS 0x22 /* IRQ descriptor, length 2 */
#define AML_RES_IO 0x47		 /* I/O port descriptor, length 7 */
#define AML_RES_END_TAG 0x79	 /* End tag, length 1 */
#define AML_RES_MEM32_FIXED 0x86 /* 32-bit fixed memory range */
#define AML_RES_DWORD_ADDR 0x87	 /* DWord address space */
#define AML_RES_WORD_ADDR 0x88	 /* Word address space */
#define AML_RES_EXT_IRQ 0x89	 /* Extended interrupt */
#define AML_RES_QWORD_ADDR 0x8a	 /* QWord address space */

/* Extended interrupt descriptor flags (Interrupt() macro). Level, active-high, exclusive and
 * producer are the zero values. */
#define AML_INT_CONSUMER 0x01
#define AML_INT_EDGE 0x02
#define AML_INT_ACTIVE_LOW 0x04
#define AML_INT_SHARED 0x08
#define AML_INT_WAKE 0x10

/* Memory attributes for the address space descriptors (_MEM field, shifted into place). */
enum aml_mem_cache {
	AML_MEM_NONCACHEABLE = 0,
	AML_MEM_CACHEABLE = 1,
	AML_MEM_WRITE_COMBINING = 2,
	AML_MEM_PREFETCHABLE = 3,
};

struct aml_buf {
	uint8_t *data;
	size_t len;
	size_t cap;
	int err; /* 0, or the first -errno; sticky */
};

/* Buffer life cycle. aml_init makes an empty buffer (no allocation yet); aml_free releases the
 * storage and leaves an empty buffer. aml_error returns the sticky error (0 or -errno). */
void aml_init(struct aml_buf *b);
void aml_free(struct aml_buf *b);
int aml_error(const struct aml_buf *b);

/* Append raw bytes. Returns the sticky error (0 or -ENOMEM / an earlier error). */
int aml_bytes(struct aml_buf *b, const void *data, size_t len);
int aml_byte(struct aml_buf *b, uint8_t v);

/* Encode a PkgLength whose value (the length of the construct counting the PkgLength bytes
 * themselves) is `value`, into out[0..3]. Returns the number of bytes used (1-4), or -EINVAL when
 * value > AML_PKGLEN_MAX. One byte holds 0-63; longer forms put the low nibble in the lead byte. */
int aml_pkglen_encode(uint8_t out[4], uint32_t value);

/* Number of PkgLength bytes needed to wrap `body` bytes (1-4), or 0 when it cannot be encoded. */
unsigned aml_pkglen_size(size_t body);

/* Append a NameString: an optional leading '\' or '^' prefixes, then 0-n NameSegs separated by
 * '.'. Segments shorter than four characters are padded with '_' (as iasl does). A segment must
 * start with A-Z or '_' and continue with A-Z, 0-9 or '_'. -EINVAL on a malformed path. */
int aml_namestring(struct aml_buf *b, const char *path);

/* Append an integer constant in its shortest form: Zero, One, Ones (all bits set), or a
 * Byte/Word/DWord/QWord prefixed constant chosen by value. */
int aml_integer(struct aml_buf *b, uint64_t v);

/* Append a String constant (StringPrefix, ASCII 0x01-0x7f, NUL). -EINVAL on other bytes. */
int aml_string(struct aml_buf *b, const char *s);

/* Compress a 7-character EISA id ("PNP0501": three letters A-Z, four hex digits) into the 32-bit
 * value EISAID() produces. Returns 0 or -EINVAL. aml_eisaid appends it as a DWord constant. */
int aml_eisaid_value(const char *id, uint32_t *out);
int aml_eisaid(struct aml_buf *b, const char *id);

/* Append a Buffer object holding `len` bytes of data (BufferOp PkgLength BufferSize ByteList). */
int aml_buffer(struct aml_buf *b, const void *data, size_t len);

/* Append NameOp + NameString; the caller appends the data object next. The aml_name_* helpers
 * emit a whole Name(...) with an integer, string, EISA id or buffer value. */
int aml_name(struct aml_buf *b, const char *name);
int aml_name_integer(struct aml_buf *b, const char *name, uint64_t v);
int aml_name_string(struct aml_buf *b, const char *name, const char *s);
int aml_name_eisaid(struct aml_buf *b, const char *name, const char *id);
int aml_name_buffer(struct aml_buf *b, const char *name, const void *data, size_t len);

/* Open a construct; the return value is a mark for aml_end. The body follows in the buffer.
 * Scope(path), Device(name), Method(name, nargs 0-7, Serialized or NotSerialized), and
 * Package(nelems <= 255) whose nelems elements the caller appends. */
size_t aml_scope_begin(struct aml_buf *b, const char *path);
size_t aml_device_begin(struct aml_buf *b, const char *name);
size_t aml_method_begin(struct aml_buf *b, const char *name, unsigned nargs, int serialized);
size_t aml_package_begin(struct aml_buf *b, unsigned nelems);

/* Close the construct opened at `mark`: insert its PkgLength, sized for the body written since.
 * Constructs must be closed innermost first. Returns the sticky error (-E2BIG for a body a
 * PkgLength cannot describe, -EINVAL for a bad mark). */
int aml_end(struct aml_buf *b, size_t mark);

/* Append ReturnOp; the caller appends the returned term. aml_return_integer is Return(v). */
int aml_return(struct aml_buf *b);
int aml_return_integer(struct aml_buf *b, uint64_t v);

/* Resource descriptors, appended to a resource template buffer.
 * aml_res_io: IO(Decode16, min, max, align, len).
 * aml_res_irq_noflags: IRQNoFlags() {irq}, irq 0-15 (edge, active high, exclusive).
 * aml_res_mem32_fixed: Memory32Fixed(ReadWrite or ReadOnly, base, size).
 * aml_res_interrupt: Interrupt(...) {gsis[0..n-1]}, flags from AML_INT_*, 1 <= n <= 255.
 * aml_res_word_bus, aml_res_dword_io, aml_res_dword_mem, aml_res_qword_mem: address space
 *   descriptors as a host bridge produces them (ResourceProducer, PosDecode, MinFixed, MaxFixed,
 *   granularity 0, translation 0, length max - min + 1); DWordIO covers EntireRange.
 * Each returns the sticky error; -EINVAL for an empty or unencodable range. */
int aml_res_io(struct aml_buf *rb, uint16_t min, uint16_t max, uint8_t align, uint8_t len);
int aml_res_irq_noflags(struct aml_buf *rb, unsigned irq);
int aml_res_mem32_fixed(struct aml_buf *rb, int writable, uint32_t base, uint32_t size);
int aml_res_interrupt(struct aml_buf *rb, unsigned flags, const uint32_t *gsis, unsigned n);
int aml_res_word_bus(struct aml_buf *rb, uint16_t min, uint16_t max);
int aml_res_dword_io(struct aml_buf *rb, uint32_t min, uint32_t max);
int aml_res_dword_mem(struct aml_buf *rb, enum aml_mem_cache cache, int writable, uint32_t min,
		      uint32_t max);
int aml_res_qword_mem(struct aml_buf *rb, enum aml_mem_cache cache, int writable, uint64_t min,
		      uint64_t max);

/* Close a resource template: append the End tag and a checksum byte that makes the byte sum of
 * the whole template zero. */
int aml_res_end(struct aml_buf *rb);

#endif
