/* Freestanding support library for vmon test guests.
 *
 * A guest is one main .c file linked with this library and one entry object (multiboot, PVH or
 * bzImage). The entry code switches to 64-bit long mode with identity paging over 0-4 GiB, loads
 * the library's GDT, zeroes .bss, sets a stack and calls guest_start(), which initialises the
 * serial port, the IDT and the PICs, decodes the boot information and calls
 * `int main(const struct boot_info *)`. Returning 0 from main reports PASS, anything else FAIL.
 *
 * Reporting: lines "vmon-test: NAME: ..." on COM1; test_pass()/test_fail() print the verdict
 * and write 0 (pass) or 1 (fail) to the isa-debug-exit port 0xf4, which makes QEMU and vmon
 * exit with status 1 or 3. NAME comes from -DTEST_NAME when the main file is compiled.
 */
#ifndef GUEST_H
#define GUEST_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hw.h"

/* Pointer to a fixed guest-physical address (identity mapped). The empty asm hides the constant
 * from GCC, which otherwise warns about dereferencing small integer addresses. */
static inline void *phys(uint64_t addr)
{
	asm("" : "+r"(addr));
	return (void *)addr;
}

/* ---- boot information ---------------------------------------------------------------------- */

enum boot_proto {
	BOOT_BAD_MAGIC = 0, /* entry saw the wrong magic; boot_info.raw_value holds what it saw */
	BOOT_MULTIBOOT = 1, /* multiboot v1, 32-bit entry, EBX = multiboot info */
	BOOT_PVH = 2,       /* PVH, 32-bit entry, EBX = struct hvm_start_info */
	BOOT_BZIMAGE32 = 3, /* bzImage entered at code32_start (32-bit), ESI = boot_params */
	BOOT_BZIMAGE64 = 4, /* bzImage entered at startup_64 (64-bit boot protocol), RSI = boot_params */
};

#define BOOT_MMAP_MAX 32
struct boot_mmap_entry {
	uint64_t addr, len;
	uint32_t type; /* 1 = RAM, as in e820 */
};

struct boot_info {
	enum boot_proto proto;
	const char *proto_name;
	uint64_t raw_value;      /* multiboot info / start_info / boot_params address (or bad magic) */
	const char *cmdline;     /* copied into guest memory, never NULL */
	bool have_cmdline;       /* the boot protocol carried a command line */
	uint64_t mem_bytes;      /* RAM the loader reported (sum of type-1 map entries, or mem_upper) */
	uint64_t initrd_addr, initrd_size; /* first module / initrd, 0 if none */
	uint64_t rsdp;           /* ACPI RSDP address the loader passed (PVH), 0 if none */
	uint32_t nr_mmap;        /* memory map entries the loader reported */
	struct boot_mmap_entry mmap[BOOT_MMAP_MAX];
};

extern const struct boot_info *boot_info;
int main(const struct boot_info *bi);

/* Value of "key=value" in the command line as an unsigned integer (decimal or 0x hex);
 * returns def when the key is absent or malformed. */
uint64_t cmdline_uint(const char *key, uint64_t def);
/* Value of "key=value" copied into buf (at most n - 1 characters, NUL-terminated); returns buf,
 * or NULL when the key is absent. */
const char *cmdline_str(const char *key, char *buf, size_t n);
/* True when the command line contains the exact whitespace-separated word. */
bool cmdline_has(const char *word);

/* ---- test reporting ------------------------------------------------------------------------ */

extern const char test_name[];
#ifdef TEST_NAME
const char test_name[] = TEST_NAME;
#endif

void test_exit(uint32_t code) __attribute__((noreturn)); /* outl(0xf4, code), then halt */
void test_pass(void) __attribute__((noreturn));
void test_fail(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
void test_note(const char *fmt, ...) __attribute__((format(printf, 1, 2))); /* "vmon-test: NAME: ..." */

#define TEST_ASSERT(cond, ...)                                                             \
	do {                                                                               \
		if (!(cond))                                                               \
			test_fail(__VA_ARGS__);                                            \
	} while (0)
#define TEST_EQ(a, b, what)                                                                \
	do {                                                                               \
		uint64_t a_ = (uint64_t)(a), b_ = (uint64_t)(b);                           \
		if (a_ != b_)                                                              \
			test_fail("%s: got 0x%lx, expected 0x%lx", what, a_, b_);          \
	} while (0)

/* ---- console ------------------------------------------------------------------------------- */

void serial_init(void);
void serial_putc(char c);
int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int vprintf(const char *fmt, va_list ap);
int snprintf(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int vsnprintf(char *buf, size_t n, const char *fmt, va_list ap);

/* ---- small libc subset --------------------------------------------------------------------- */

void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
size_t strnlen(const char *s, size_t max);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
char *strstr(const char *h, const char *n);

/* ---- time ---------------------------------------------------------------------------------- */

/* There is no calibrated clock: deadlines assume a TSC of at most TSC_MAX_HZ, so a timeout of
 * N ms lasts at least N ms of real time on hosts up to 4 GHz (and proportionally longer on
 * slower TSCs). Use them as generous upper bounds, not as measurements. */
#define TSC_MAX_HZ 4000000000ull
static inline uint64_t tsc_deadline_ms(uint64_t ms)
{
	return rdtsc() + ms * (TSC_MAX_HZ / 1000);
}
static inline bool tsc_expired(uint64_t deadline)
{
	return (int64_t)(rdtsc() - deadline) >= 0;
}
void delay_us(uint64_t us); /* spins at least us microseconds on a TSC up to 4 GHz */

/* ---- interrupts ---------------------------------------------------------------------------- */

struct intr_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error;
	uint64_t rip, cs, rflags, rsp, ss; /* pushed by the CPU */
};

typedef void (*intr_handler_t)(struct intr_frame *f);

#define VEC_DE 0
#define VEC_BP 3
#define VEC_UD 6
#define VEC_DF 8
#define VEC_GP 13
#define VEC_PF 14
#define VEC_PIC_BASE 0x20 /* the 8259s are remapped to 0x20-0x2f and masked */
#define VEC_SPURIOUS 0xff /* LAPIC spurious vector */

void intr_init(void); /* build and load the IDT (BSP) */
void intr_load(void); /* load the already built IDT (APs) */
void intr_set_handler(unsigned vec, intr_handler_t h);
/* Last exception seen by intr_record_and_resume (the handler tests use). */
struct exc_record {
	uint64_t vector, error, rip, cr2;
	uint64_t count;
};
extern volatile struct exc_record exc_last;
/* RIP the fixup handler resumes at; set by the faulting test code right before the fault. */
extern volatile uint64_t exc_resume;
/* Handler that records vector/error/RIP/CR2 into exc_last and resumes at exc_resume. */
void intr_record_and_resume(struct intr_frame *f);

/* ---- descriptors and paging (lib/long.S) --------------------------------------------------- */

#define SEL_CODE64 0x08
#define SEL_DATA 0x10
#define SEL_CODE32 0x18

extern uint64_t boot_pml4[512], boot_pdpt[512], boot_pd[4][512]; /* identity map 0-4 GiB */
extern uint64_t boot_gdt[];
extern struct __attribute__((packed)) desc_ptr {
	uint16_t limit;
	uint64_t base;
} boot_gdt_desc;

#define PTE_P 0x1ull
#define PTE_W 0x2ull
#define PTE_PWT 0x8ull
#define PTE_PCD 0x10ull
#define PTE_PS 0x80ull

/* ---- SMP (lib/smp.c, lib/trampoline.S) ----------------------------------------------------- */

#define MAX_CPUS 16
#define TRAMPOLINE_ADDR 0x8000 /* real-mode AP entry; SIPI vector 0x08 */

/* ACPI MADT lookup: fills ids[] with the APIC ids of enabled CPUs (BSP included), returns the
 * count, or -1 when no RSDP/MADT is found. */
int acpi_cpu_apic_ids(uint8_t *ids, int max);

/* Bring up the AP with the given APIC id through INIT-SIPI-SIPI; it runs fn(index) on its own
 * stack with the library's GDT, IDT and page tables and its LAPIC software-enabled. index counts
 * APs in start order from 1. Returns 0 once the AP has entered fn, -1 on timeout. */
int smp_start_ap(uint8_t apic_id, void (*fn)(int index), uint64_t timeout_ms);
int smp_cpu_index(void); /* 0 on the BSP, the AP's index on an AP */

/* ---- fw_cfg (lib/fwcfg.c) ------------------------------------------------------------------ */

#define FW_CFG_SIGNATURE 0x00
#define FW_CFG_ID 0x01
#define FW_CFG_UUID 0x02
#define FW_CFG_RAM_SIZE 0x03
#define FW_CFG_NB_CPUS 0x05
#define FW_CFG_MAX_CPUS 0x0f
#define FW_CFG_FILE_DIR 0x19
#define FW_CFG_FILE_FIRST 0x20

bool fwcfg_present(void); /* signature reads "QEMU" */
void fwcfg_select(uint16_t key);
void fwcfg_read_bytes(void *buf, size_t len); /* from the current item */
void fwcfg_read(uint16_t key, void *buf, size_t len);
uint16_t fwcfg_read16(uint16_t key);
uint32_t fwcfg_read32(uint16_t key);
uint64_t fwcfg_read64(uint16_t key);
/* Look a file up in FW_CFG_FILE_DIR; returns 0 and fills size/select, or -1. */
int fwcfg_find_file(const char *name, uint32_t *size, uint16_t *select);

/* ---- vmon test device (lib/testdev.c) ------------------------------------------------------ */

#define TESTDEV_PORT_SCRATCH 0xe0
#define TESTDEV_PORT_UCALL 0xe4
#define TESTDEV_MMIO 0xfebf0000ull
#define TESTDEV_MMIO_SIZE 0x1000

enum ucall_cmd { UCALL_PRINT = 1, UCALL_SYNC = 2, UCALL_DONE = 3, UCALL_ABORT = 4 };
struct ucall {
	uint32_t cmd;
	uint32_t status; /* vmon writes 1 when it has handled the call */
	uint64_t args[4];
};

/* True when fw_cfg has the file "etc/vmon/testdev" (vmon --testdev). Looked up once. */
bool testdev_present(void);
/* Issue a ucall (32-bit write of the struct's address to port 0xe4); returns its status. */
uint32_t ucall(uint32_t cmd, uint64_t a0, uint64_t a1);
uint32_t ucall_print(const char *s);

#endif
