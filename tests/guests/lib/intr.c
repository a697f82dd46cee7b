/* IDT: 256 interrupt gates into the stubs of long.S, a handler table, and the default
 * behaviour (unexpected exception or interrupt = FAIL with the details). */
#include "guest.h"

struct idt_gate {
	uint16_t off_lo, sel;
	uint8_t ist, type;
	uint16_t off_mid;
	uint32_t off_hi, zero;
} __attribute__((packed));

extern const uint64_t intr_stub_table[256];
static struct idt_gate idt[256] __attribute__((aligned(16)));
static struct desc_ptr idt_desc;
static intr_handler_t handlers[256];

volatile struct exc_record exc_last;
volatile uint64_t exc_resume;

static const char *const exc_names[32] = {
	"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "CSO", "#TS",
	"#NP", "#SS", "#GP", "#PF", "15",  "#MF", "#AC", "#MC", "#XM", "#VE", "#CP",
};

void intr_load(void)
{
	asm volatile("lidt %0" : : "m"(idt_desc) : "memory");
}

void intr_init(void)
{
	for (int v = 0; v < 256; v++) {
		uint64_t a = intr_stub_table[v];
		idt[v] = (struct idt_gate){
			.off_lo = (uint16_t)a,
			.sel = SEL_CODE64,
			.ist = 0,
			.type = 0x8e, /* present, DPL 0, 64-bit interrupt gate */
			.off_mid = (uint16_t)(a >> 16),
			.off_hi = (uint32_t)(a >> 32),
		};
	}
	idt_desc.limit = sizeof(idt) - 1;
	idt_desc.base = (uint64_t)idt;
	intr_load();
}

void intr_set_handler(unsigned vec, intr_handler_t h)
{
	handlers[vec & 0xff] = h;
}

void intr_record_and_resume(struct intr_frame *f)
{
	exc_last.vector = f->vector;
	exc_last.error = f->error;
	exc_last.rip = f->rip;
	exc_last.cr2 = read_cr2();
	exc_last.count++;
	if (exc_resume) {
		f->rip = exc_resume;
		exc_resume = 0;
	} else {
		test_fail("exception %lu at rip 0x%lx with no resume address", f->vector, f->rip);
	}
}

void intr_dispatch(struct intr_frame *f);
void intr_dispatch(struct intr_frame *f)
{
	unsigned vec = (unsigned)f->vector;
	if (handlers[vec]) {
		handlers[vec](f);
		return;
	}
	if (vec < 32)
		test_fail("unexpected exception %s (vector %u) error 0x%lx at rip 0x%lx, cr2 0x%lx",
			  exc_names[vec] ? exc_names[vec] : "?", vec, f->error, f->rip, read_cr2());
	if (vec == VEC_SPURIOUS)
		return; /* LAPIC spurious interrupt: no EOI */
	test_fail("unexpected interrupt vector 0x%x at rip 0x%lx", vec, f->rip);
}
