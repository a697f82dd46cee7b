/* libFuzzer harness: the emu CPU core (src/accel/emu) on hostile guest code. Two parts per input:
 *
 * 1. The decoder alone (emu_decode) on the code bytes, in 16-, 32- and 64-bit mode: a linear
 *    sweep plus every start offset in the first bytes, reading from the fuzz input itself (exactly
 *    sized, so ASan sees any read past avail). Checked: the result is a length 1..15 no larger
 *    than avail, EMU_DEC_MORE only when avail < 15, EMU_DEC_GP/UD with in->len <= 15; a decoded
 *    instruction decodes identically from an exactly sized copy of its bytes, and as
 *    EMU_DEC_MORE from one byte less.
 *
 * 2. An emu_cpu executing the bytes on a small machine: 1 MiB of RAM (256 separately allocated
 *    pages, so ASan also sees an access that runs off a guest page's host page), MMIO and port
 *    I/O everywhere else (reads return a hash of the address), GDT, TSS, IDT/IVT with a HLT
 *    handler per vector, and identity-mapping page tables (32-bit, PAE, 4-level) over the first
 *    2 MiB (4 MiB non-PAE). The run is bounded (at most about 1,100 instructions in up to four
 *    emu_run slices); between slices the harness may inject an interrupt or an NMI, flush the TLB,
 *    drop decoded code, or round-trip the state through emu_cpu_get_state/emu_cpu_set_state.
 *    Checked: emu_run returns a valid exit that matches cpu.exit.reason, EMU_EXIT_LIMIT comes
 *    exactly when the budget is used up and no more than the budget retires, an unimplemented
 *    instruction is at most 15 bytes, and get -> set -> get gives back the same state. One
 *    emu_cpu serves every input: emu_cpu_reset between inputs (the callbacks check sizes and
 *    that MMIO never names RAM).
 *
 * Input (little-endian):
 *   [0]      mode: bits 0-1 real mode / 16-bit protected / 32-bit protected / 64-bit long mode;
 *            bit 2 paging (32- and 16-bit protected; long mode always pages); bit 3 PAE (with
 *            bit 2); bit 4 CPL 3; bit 5 deliver exceptions through the IDT (else cpu.exc_exit:
 *            exceptions are exits); bit 6 large pages; bit 7 user pages not writable
 *   [1]      CR0 extras: WP NE MP EM TS AM CD NW (bit 0..7)
 *   [2]      CR4 extras: OSFXSR OSXMMEXCPT PGE PSE TSD DE PVI UMIP (bit 0..7)
 *   [3]      bit 0 EFER.NXE, bit 1 EFER.SCE, bit 2 NX on the data pages, bit 3 code page not
 *            user-accessible, bits 4-5 IOPL, bit 6 RFLAGS.DF, bit 7 RFLAGS.IF
 *   [4]      RFLAGS arithmetic bits (CF PF AF ZF SF TF OF from bits 0..6), bit 7 RFLAGS.AC
 *   [5]      between slices: bit 0 inject interrupt [6], bit 1 inject NMI, bit 2 state round
 *            trip, bit 3 TLB flush, bit 4 drop decoded code, bit 5 request stop; bits 6-7 slices-1
 *   [6]      interrupt vector (32..255 after folding)
 *   [7]      instruction budget: 64 + 4 * [7]
 *   [8..9]   code offset in its page (low 12 bits)
 *   [10..11] MMIO/PIO read seed
 *   [12..43] RAX..RDI (u32 each; RSP 0 means the default stack); R8-R15 derived from them
 *   [44..]   code bytes, placed at CODE + offset
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "accel/emu/cpu.h"
#include "accel/emu/decode.h"
#include "arch/x86/cpu_state.h"
#include "arch/x86/cpuid.h"
#include "fuzz_input.h"

#define HDR_SIZE 44
#define RAM_PAGES 256u /* 1 MiB at guest-physical 0 */
#define PAGE 4096u

/* Guest-physical layout. */
#define PML4 0x1000u   /* also the non-PAE page directory */
#define PDPT 0x2000u   /* 4-level PDPT; the PAE PDPT lives at PDPT + 0x800 */
#define PD 0x3000u     /* 2 MiB worth of PDEs (entry 0: PT0; entry 1: 1-2 MiB) */
#define PT0 0x4000u    /* 512 PTEs over 0-2 MiB */
#define PT32 0x8000u   /* 1024 4-byte PTEs over 0-4 MiB (2 pages) */
#define GDT 0x5000u
#define IDT 0x6000u
#define TSS 0x7000u
#define HANDLERS 0xa000u /* vector v: HLT at HANDLERS + 16 * v */
#define CODE 0x10000u
#define STACK 0x20000u
#define RSP0 0x3f000u

#define PTE_P 0x1ull
#define PTE_W 0x2ull
#define PTE_U 0x4ull
#define PTE_PS 0x80ull
#define PTE_NX (1ull << 63)

/* GDT selectors. */
#define SEL_CODE32 0x08
#define SEL_CODE64 0x10
#define SEL_DATA 0x18
#define SEL_UDATA 0x20
#define SEL_UCODE64 0x28
#define SEL_TSS 0x30 /* 16 bytes in 64-bit mode */
#define SEL_UCODE32 0x40
#define SEL_CODE16 0x48
#define SEL_DATA16 0x50
#define SEL_UCODE16 0x58
#define SEL_UDATA16 0x60
#define GDT_LIMIT 0x6f

static const uint64_t gdt_init[] = {
    0,
    0x00cf9b000000ffffull, /* 0x08 code32 */
    0x00af9b000000ffffull, /* 0x10 code64 */
    0x00cf93000000ffffull, /* 0x18 data */
    0x00cff3000000ffffull, /* 0x20 data, DPL 3 */
    0x00affb000000ffffull, /* 0x28 code64, DPL 3 */
    0,			   /* 0x30 TSS (filled in) */
    0,			   /* 0x38 TSS high half in 64-bit mode */
    0x00cffb000000ffffull, /* 0x40 code32, DPL 3 */
    0x00009b010000ffffull, /* 0x48 code16 at 0x10000 */
    0x000093010000ffffull, /* 0x50 data16 at 0x10000 */
    0x0000fb010000ffffull, /* 0x58 code16 at 0x10000, DPL 3 */
    0x0000f3010000ffffull, /* 0x60 data16 at 0x10000, DPL 3 */
    0,
};

struct machine {
	uint8_t *page[RAM_PAGES];
	uint8_t dirty[RAM_PAGES]; /* handed out for writing since the last reset */
	uint16_t seed;
	struct emu_cpu cpu;
};

static struct machine m;
static struct cpuid_table cpuid_tab;

static uint8_t *ram_ptr(void *ctx, uint64_t gpa, int write)
{
	struct machine *mc = ctx;
	uint64_t pn = gpa / PAGE;
	if (pn >= RAM_PAGES)
		return NULL;
	if (write)
		mc->dirty[pn] = 1;
	return mc->page[pn] + (gpa % PAGE);
}

static uint64_t mix(uint64_t x)
{
	x ^= x >> 31;
	x *= 0x9e3779b97f4a7c15ull;
	x ^= x >> 29;
	return x;
}

static uint64_t mmio_read(void *ctx, uint64_t gpa, unsigned size)
{
	struct machine *mc = ctx;
	FZ_CHECK(size == 1 || size == 2 || size == 4 || size == 8, "mmio read size %u", size);
	FZ_CHECK(gpa / PAGE >= RAM_PAGES, "mmio read of RAM 0x%llx", (unsigned long long)gpa);
	uint64_t v = mix(gpa ^ ((uint64_t)mc->seed << 48));
	return size == 8 ? v : v & ((1ull << (8 * size)) - 1);
}

static void mmio_write(void *ctx, uint64_t gpa, unsigned size, uint64_t val)
{
	FZ_CHECK(size == 1 || size == 2 || size == 4 || size == 8, "mmio write size %u", size);
	FZ_CHECK(gpa / PAGE >= RAM_PAGES, "mmio write to RAM 0x%llx", (unsigned long long)gpa);
	FZ_CHECK(size == 8 || !(val >> (8 * size)), "mmio write value 0x%llx wider than %u",
		 (unsigned long long)val, size);
	(void)ctx;
}

static uint32_t pio_in(void *ctx, uint16_t port, unsigned size)
{
	struct machine *mc = ctx;
	FZ_CHECK(size == 1 || size == 2 || size == 4, "pio in size %u", size);
	uint32_t v = (uint32_t)mix(port ^ ((uint64_t)mc->seed << 32));
	return size == 4 ? v : v & ((1u << (8 * size)) - 1);
}

static void pio_out(void *ctx, uint16_t port, unsigned size, uint32_t val)
{
	FZ_CHECK(size == 1 || size == 2 || size == 4, "pio out size %u", size);
	FZ_CHECK(size == 4 || !(val >> (8 * size)), "pio out value 0x%x wider than %u", val, size);
	(void)ctx, (void)port;
}

static void code_page(void *ctx, uint64_t page)
{
	FZ_CHECK(!(page & (PAGE - 1)), "code_page 0x%llx not page aligned", (unsigned long long)page);
	(void)ctx;
}

static const struct emu_mem_ops mem_ops = {ram_ptr, mmio_read, mmio_write,
					   pio_in,  pio_out,   code_page};

static void sys_cpuid(void *ctx, uint32_t regs[4])
{
	(void)ctx;
	cpuid_query(&cpuid_tab, regs);
}

/* The VMM's MSRs (LAPIC base, TSC deadline, x2APIC) succeed; anything else #GPs. */
static int sys_rdmsr(void *ctx, uint32_t msr, uint64_t *val)
{
	(void)ctx;
	*val = mix(msr);
	return msr == 0x1b || msr == 0x6e0 || (msr >= 0x800 && msr <= 0x8ff) ? 0 : -1;
}

static int sys_wrmsr(void *ctx, uint32_t msr, uint64_t val)
{
	(void)ctx, (void)val;
	return msr == 0x1b || msr == 0x6e0 || (msr >= 0x800 && msr <= 0x8ff) ? 0 : -1;
}

static int sys_rdrand(void *ctx, uint64_t *val)
{
	struct machine *mc = ctx;
	*val = mix(mc->seed);
	return mc->seed & 1 ? -1 : 0;
}

static const struct emu_sys_ops sys_ops = {
    .cpuid = sys_cpuid, .rdmsr = sys_rdmsr, .wrmsr = sys_wrmsr, .rdrand = sys_rdrand};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	fz_log_setup();
	for (unsigned i = 0; i < RAM_PAGES; i++) {
		m.page[i] = calloc(1, PAGE);
		if (!m.page[i])
			abort();
	}
	/* One emu_cpu for the whole run, reset per input (emu_cpu_reset: a fresh one would
	 * allocate and clear the decode cache's 10 MiB each time). */
	if (emu_cpu_init(&m.cpu, &mem_ops, &m))
		abort();
	emu_cpu_set_sys_ops(&m.cpu, &sys_ops);
	emu_cpuid_table(&cpuid_tab, 1000000);
	if (cpuid_policy_apply(&cpuid_tab, 0, 1, 0))
		abort();
	return 0;
}

/* ---- part 1: the decoder ---- */

static void decode_check(const uint8_t *p, unsigned avail, unsigned mode)
{
	struct emu_insn in, again;

	memset(&in, 0, sizeof(in));
	int r = emu_decode(p, avail, mode, &in);
	FZ_CHECK(r == EMU_DEC_MORE || r == EMU_DEC_GP || r == EMU_DEC_UD || (r >= 1 && r <= 15),
		 "decode returned %d", r);
	if (r == EMU_DEC_MORE) {
		FZ_CHECK(avail < 15, "EMU_DEC_MORE with %u bytes available", avail);
		return;
	}
	if (r < 0) {
		FZ_CHECK(in.len <= 15, "invalid encoding consumed %u bytes", in.len);
		return;
	}
	FZ_CHECK((unsigned)r <= avail, "decoded %d bytes of %u", r, avail);
	FZ_CHECK(in.len == r, "in.len %u, returned %d", in.len, r);
	/* The same bytes alone decode the same; one byte fewer is not enough. */
	uint8_t *copy = malloc((size_t)r);
	if (!copy)
		abort();
	memcpy(copy, p, (size_t)r);
	memset(&again, 0, sizeof(again));
	int r2 = emu_decode(copy, (unsigned)r, mode, &again);
	FZ_CHECK(r2 == r && !memcmp(&in, &again, sizeof(in)),
		 "mode %u: %d bytes decode differently alone (%d)", mode, r, r2);
	int r3 = emu_decode(copy, (unsigned)r - 1, mode, &again);
	FZ_CHECK(r3 == EMU_DEC_MORE, "mode %u: %d-byte instruction decoded from %d bytes as %d", mode,
		 r, r - 1, r3);
	free(copy);
}

static void fuzz_decoder(const uint8_t *code, size_t len)
{
	for (unsigned mode = EMU_MODE_16; mode <= EMU_MODE_64; mode++) {
		size_t off = 0;
		while (off < len) {
			struct emu_insn in;
			unsigned avail = (unsigned)(len - off);
			decode_check(code + off, avail, mode);
			int r = emu_decode(code + off, avail, mode, &in);
			off += r > 0 ? (size_t)r : (r == EMU_DEC_MORE ? avail : (in.len ? in.len : 1u));
		}
		for (size_t o = 1; o < len && o < 16; o++)
			decode_check(code + o, (unsigned)(len - o), mode);
	}
}

/* ---- part 2: execution ---- */

static void put64(uint64_t gpa, uint64_t v)
{
	memcpy(m.page[gpa / PAGE] + gpa % PAGE, &v, 8);
	m.dirty[gpa / PAGE] = 1;
}

static void put32(uint64_t gpa, uint32_t v)
{
	memcpy(m.page[gpa / PAGE] + gpa % PAGE, &v, 4);
	m.dirty[gpa / PAGE] = 1;
}

static void put_bytes(uint64_t gpa, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t a = gpa + i;
		m.page[a / PAGE][a % PAGE] = p[i];
		m.dirty[a / PAGE] = 1;
	}
}

/* The hidden part of a segment register loaded from GDT descriptor sel. */
static struct x86_segment seg_from_gdt(uint16_t sel, unsigned rpl)
{
	uint64_t d = gdt_init[sel >> 3];
	struct x86_segment s = {0};
	s.base = ((d >> 16) & 0xffffff) | (((d >> 56) & 0xff) << 24);
	s.limit = (uint32_t)((d & 0xffff) | (((d >> 48) & 0xf) << 16));
	s.g = (d >> 55) & 1;
	if (s.g)
		s.limit = (s.limit << 12) | 0xfff;
	s.selector = (uint16_t)(sel | rpl);
	s.type = (d >> 40) & 0xf;
	s.s = (d >> 44) & 1;
	s.dpl = (d >> 45) & 3;
	s.present = (d >> 47) & 1;
	s.avl = (d >> 52) & 1;
	s.l = (d >> 53) & 1;
	s.db = (d >> 54) & 1;
	return s;
}

static void reset_ram(void)
{
	for (unsigned i = 0; i < RAM_PAGES; i++) {
		if (m.dirty[i]) {
			memset(m.page[i], 0, PAGE);
			m.dirty[i] = 0;
		}
	}
}

/* Page tables identity-mapping 0-2 MiB (4 MiB without PAE). */
static void build_paging(int pae_or_long, int large, int ro_user, int nx_data, int code_super)
{
	const uint64_t ubit = PTE_U;
	uint64_t wbit = ro_user ? 0 : PTE_W;
	uint64_t top = PTE_P | PTE_W | PTE_U;

	if (pae_or_long) {
		put64(PML4, PDPT | top);
		put64(PDPT, PD | top);
		for (unsigned i = 0; i < 4; i++) /* PAE PDPT (no W/U bits allowed) */
			put64(PDPT + 0x800 + 8 * i, i ? 0 : (PD | PTE_P));
		if (large) {
			put64(PD, 0 | PTE_P | wbit | ubit | PTE_PS);
		} else {
			put64(PD, PT0 | top);
			for (uint64_t i = 0; i < 512; i++) {
				uint64_t pte = (i << 12) | PTE_P | wbit | ubit;
				if (i >= 0x10 && i < 0x12 && code_super)
					pte &= ~PTE_U;
				if (nx_data && (i < 0x10 || i >= 0x12))
					pte |= PTE_NX;
				put64(PT0 + 8 * i, pte);
			}
		}
		put64(PD + 8, (2ull << 20) | PTE_P | PTE_W | ubit | PTE_PS | (nx_data ? PTE_NX : 0));
		return;
	}
	/* 32-bit: PDE 0 -> PT32 (or a 4 MiB page with PSE). */
	if (large) {
		put32(PML4, (uint32_t)(PTE_P | wbit | ubit | PTE_PS));
		return;
	}
	put32(PML4, (uint32_t)(PT32 | top));
	for (uint32_t i = 0; i < 1024; i++) {
		uint32_t pte = (i << 12) | (uint32_t)(PTE_P | wbit | ubit);
		if (i >= 0x10 && i < 0x12 && code_super)
			pte &= ~(uint32_t)PTE_U;
		put32(PT32 + 4 * i, pte);
	}
}

static void build_tables(unsigned kind)
{
	for (unsigned i = 0; i < sizeof(gdt_init) / 8; i++)
		put64(GDT + 8 * i, gdt_init[i]);
	/* TSS descriptor (busy), 16 bytes in long mode; TSS with RSP0/ESP0 and an I/O bitmap base
	 * past the limit (no bitmap). */
	put64(GDT + SEL_TSS, 0x0000000000000067ull | ((uint64_t)TSS << 16) | (0x8bull << 40));
	put64(GDT + SEL_TSS + 8, 0);
	if (kind == 3) {
		put64(TSS + 4, RSP0);
	} else {
		put32(TSS + 4, RSP0);	 /* ESP0 */
		put32(TSS + 8, SEL_DATA); /* SS0 */
	}
	put32(TSS + 0x64, 0x0068u << 16);
	for (unsigned v = 0; v < 256; v++) {
		uint64_t h = HANDLERS + 16 * v;
		uint8_t hlt = 0xf4;
		put_bytes(h, &hlt, 1);
		unsigned dpl = v == 3 || v == 4 || v == 0x80 ? 3 : 0;
		if (kind == 3) {
			put64(IDT + 16 * v, (h & 0xffff) | ((uint64_t)SEL_CODE64 << 16) |
						(0xeull << 40) | ((uint64_t)dpl << 45) | (1ull << 47) |
						((h >> 16) << 48));
			put64(IDT + 16 * v + 8, 0);
		} else if (kind == 0) {
			put32(4 * v, (uint32_t)h); /* IVT: 0000:handler */
		} else {
			put64(IDT + 8 * v, (h & 0xffff) | ((uint64_t)SEL_CODE32 << 16) |
					       (0xeull << 40) | ((uint64_t)dpl << 45) | (1ull << 47) |
					       ((h >> 16) << 48));
		}
	}
}

static void check_run(int r, uint64_t budget, uint64_t retired)
{
	struct emu_cpu *c = &m.cpu;
	FZ_CHECK(r > EMU_EXIT_NONE && r <= EMU_EXIT_TRIPLE_FAULT, "emu_run returned %d", r);
	FZ_CHECK((uint32_t)r == c->exit.reason, "returned %d, exit.reason %u", r, c->exit.reason);
	if (r == EMU_EXIT_UNIMPL)
		FZ_CHECK(c->exit.len <= 15, "unimplemented instruction of %u bytes", c->exit.len);
	FZ_CHECK(retired <= budget, "%llu instructions retired on a budget of %llu",
		 (unsigned long long)retired, (unsigned long long)budget);
	if (r == EMU_EXIT_LIMIT)
		FZ_CHECK(retired == budget, "EMU_EXIT_LIMIT after %llu of %llu instructions",
			 (unsigned long long)retired, (unsigned long long)budget);
	if (c->mode != EMU_MODE_64)
		FZ_CHECK(c->st.rip <= 0xffffffffu, "rip 0x%llx outside long mode",
			 (unsigned long long)c->st.rip);
}

static void state_round_trip(void)
{
	static struct x86_cpu_state a, b;
	emu_cpu_get_state(&m.cpu, &a);
	emu_cpu_set_state(&m.cpu, &a);
	emu_cpu_get_state(&m.cpu, &b);
	FZ_CHECK(!memcmp(&a, &b, sizeof(a)), "state changed by a get/set round trip");
}

static void fuzz_exec(const uint8_t *hdr, const uint8_t *code, size_t len)
{
	static struct x86_cpu_state st;
	unsigned kind = hdr[0] & 3, user = (hdr[0] >> 4) & 1 && kind != 0;
	int paging = kind == 3 || (kind != 0 && (hdr[0] & 4));
	int pae = kind == 3 || (paging && (hdr[0] & 8));
	uint32_t regs[8];
	uint64_t off;

	memcpy(regs, hdr + 12, sizeof(regs));
	off = (hdr[8] | (uint64_t)hdr[9] << 8) & 0xfff;
	m.seed = (uint16_t)(hdr[10] | hdr[11] << 8);

	reset_ram();
	build_tables(kind);
	if (paging)
		build_paging(pae, hdr[0] & 0x40, hdr[0] & 0x80, hdr[3] & 4, hdr[3] & 8);
	put_bytes(CODE + off, code, len);

	emu_cpu_reset(&m.cpu);
	m.cpu.exc_exit = !(hdr[0] & 0x20);

	switch (kind) {
	case 0: /* real mode, CS = DS = ES = SS = 0x1000 */
		x86_state_reset(&st);
		for (int i = 0; i < 6; i++) {
			st.seg[i].selector = i < X86_FS ? 0x1000 : 0;
			st.seg[i].base = i < X86_FS ? 0x10000 : 0;
		}
		st.rip = off;
		st.gpr[X86_RSP] = 0xfff0;
		st.cr0 &= ~(X86_CR0_CD | X86_CR0_NW);
		st.idt.base = 0;
		st.idt.limit = 0x3ff;
		break;
	case 1: /* 16-bit protected mode, segments based at 0x10000 */
		x86_state_flat32(&st, (uint32_t)off, GDT, GDT_LIMIT);
		st.seg[X86_CS] = seg_from_gdt(user ? SEL_UCODE16 : SEL_CODE16, user ? 3 : 0);
		for (int i = 0; i < 6; i++)
			if (i != X86_CS)
				st.seg[i] = seg_from_gdt(user ? SEL_UDATA16 : SEL_DATA16, user ? 3 : 0);
		st.gpr[X86_RSP] = 0xfff0;
		break;
	case 2: /* flat 32-bit */
		x86_state_flat32(&st, (uint32_t)(CODE + off), GDT, GDT_LIMIT);
		if (user) {
			st.seg[X86_CS] = seg_from_gdt(SEL_UCODE32, 3);
			for (int i = 0; i < 6; i++)
				if (i != X86_CS)
					st.seg[i] = seg_from_gdt(SEL_UDATA, 3);
		}
		st.gpr[X86_RSP] = STACK;
		break;
	default: /* 64-bit */
		x86_state_long64(&st, CODE + off, PML4, GDT, GDT_LIMIT);
		if (user) {
			st.seg[X86_CS] = seg_from_gdt(SEL_UCODE64, 3);
			st.seg[X86_SS] = seg_from_gdt(SEL_UDATA, 3);
		}
		st.gpr[X86_RSP] = STACK;
		break;
	}
	if (kind != 0) {
		st.idt.base = IDT;
		st.idt.limit = kind == 3 ? 256 * 16 - 1 : 256 * 8 - 1;
		st.tr = (struct x86_segment){.base = TSS,
					     .limit = 0x67,
					     .selector = SEL_TSS,
					     .type = 11,
					     .present = 1};
	}
	if (paging && kind != 3) {
		st.cr0 |= X86_CR0_PG;
		st.cr3 = pae ? PDPT + 0x800 : PML4;
		if (pae)
			st.cr4 |= X86_CR4_PAE;
	}
	static const uint64_t cr0_bits[8] = {X86_CR0_WP, X86_CR0_NE, X86_CR0_MP, X86_CR0_EM,
					     X86_CR0_TS, X86_CR0_AM, X86_CR0_CD, X86_CR0_NW};
	static const uint64_t cr4_bits[8] = {X86_CR4_OSFXSR, X86_CR4_OSXMMEXCPT,
					     X86_CR4_PGE,    X86_CR4_PSE,
					     1ull << 2 /* TSD */, 1ull << 3 /* DE */,
					     1ull << 1 /* PVI */, 1ull << 11 /* UMIP */};
	for (int i = 0; i < 8; i++) {
		if (hdr[1] & (1u << i))
			st.cr0 |= cr0_bits[i];
		if (hdr[2] & (1u << i))
			st.cr4 |= cr4_bits[i];
	}
	if (kind == 0)
		st.cr0 &= ~X86_CR0_WP; /* nothing to protect; keeps the reset-state shape */
	if (hdr[3] & 1)
		st.efer |= X86_EFER_NXE;
	if (hdr[3] & 2)
		st.efer |= X86_EFER_SCE;
	st.rflags |= ((uint64_t)(hdr[3] >> 4) & 3) << 12; /* IOPL */
	if (hdr[3] & 0x40)
		st.rflags |= 1u << 10; /* DF */
	if (hdr[3] & 0x80)
		st.rflags |= X86_RFLAGS_IF;
	static const uint64_t fl_bits[8] = {1, 4, 0x10, 0x40, 0x80, 0x100, 0x800, 1u << 18};
	for (int i = 0; i < 8; i++)
		if (hdr[4] & (1u << i))
			st.rflags |= fl_bits[i];
	for (int i = 0; i < 8; i++) {
		if (i == X86_RSP && !regs[i])
			continue;
		st.gpr[i] = regs[i];
		st.gpr[i + 8] = (uint64_t)regs[i] << 32 | (regs[(i + 1) & 7] & 0xffff);
	}
	emu_cpu_set_state(&m.cpu, &st);

	unsigned slices = 1 + (hdr[5] >> 6), evt = hdr[5];
	uint64_t budget = 64 + 4ull * hdr[7], per = budget / slices;
	for (unsigned s = 0; s < slices; s++) {
		if (s > 0) {
			if ((evt & 1) && emu_cpu_interrupt_window(&m.cpu))
				emu_cpu_inject_interrupt(&m.cpu, (uint8_t)(32 + hdr[6] % 224));
			if (evt & 2)
				emu_cpu_inject_nmi(&m.cpu);
			if (evt & 4)
				state_round_trip();
			if (evt & 8)
				emu_tlb_flush(&m.cpu);
			if (evt & 16)
				emu_invalidate_phys(&m.cpu, CODE, 2 * PAGE);
			if (evt & 32)
				emu_request_stop(&m.cpu);
		}
		uint64_t before = m.cpu.icount;
		int r = emu_run(&m.cpu, per);
		check_run(r, per, m.cpu.icount - before);
		if (r != EMU_EXIT_LIMIT && r != EMU_EXIT_HLT && r != EMU_EXIT_STOP)
			break;
	}
	if (evt & 4)
		state_round_trip();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t hdr[HDR_SIZE];
	struct fz_in in = fz_init(data, size);
	size_t len;

	fz_fill(&in, hdr, sizeof(hdr));
	const uint8_t *code = fz_rest(&in, &len);
	if (len > 2 * PAGE)
		len = 2 * PAGE;
	fuzz_decoder(code, len);
	fuzz_exec(hdr, code, len);
	return 0;
}
