/* emu backend glue: the private state that connects the CPU emulator (cpu.h) to the machine model.
 *
 * VM level (emu_accel.c): the userspace interrupt controllers and timer (IOAPIC, PIC pair, PIT;
 * one LAPIC per vCPU), interrupt routing between them, the CPUID table, and the shared record of
 * guest-physical pages that hold decoded code (so that writes by the VMM or another vCPU drop
 * stale decoded blocks).
 * vCPU level (emu_vcpu.c): the run loop, memory/I/O callbacks onto core/gmem and core/bus, timers,
 * interrupt acceptance, HLT and wait-for-SIPI sleeping, and kicks.
 *
 * Locks (outermost first): ioapic/pic/pit each have their own mutex, then each lapic's mutex,
 * then emu_vcpu.wait_lock (protects kicked and the invalidation queue). The devices call their
 * callbacks without holding their own lock, so the order above is never inverted. */
#ifndef VMON_ACCEL_EMU_ACCEL_H
#define VMON_ACCEL_EMU_ACCEL_H

#include <pthread.h>
#include <stdatomic.h>

#include "accel/emu/cpu.h"
#include "arch/x86/cpuid.h"
#include "core/vm.h"
#include "hw/irq/ioapic.h"
#include "hw/irq/lapic.h"
#include "hw/irq/pic.h"
#include "hw/irq/pit.h"

/* TSC and LAPIC timer clock of emu vCPUs: 1 GHz, so TSC ticks are nanoseconds of host time. */
#define EMU_TSC_KHZ 1000000ull
#define EMU_APIC_BUS_HZ 1000000000ull

/* Guest instructions per emu_run slice: timers and kicks are looked at between slices. */
#define EMU_SLICE_INSNS 50000

#define EMU_INVAL_QUEUE 64

struct emu_vcpu {
	struct emu_cpu cpu;
	struct lapic lapic;
	struct vcpu *vcpu;
	struct cpuid_table cpuid;
	int lapic_ready;

	pthread_mutex_t wait_lock;
	pthread_cond_t wait_cond;
	int kicked; /* wait_lock: set by kicks, cleared by the vCPU thread before it looks */
	/* Guest-physical pages to drop from this vCPU's decode cache (wait_lock). An overflow
	 * drops the whole cache. */
	uint64_t inval[EMU_INVAL_QUEUE];
	unsigned n_inval;
	int inval_all;
	atomic_int inval_pending;

	int halted;    /* in HLT: waits for an interrupt it can take */
	int wait_sipi; /* an AP before its start-up IPI */
};

struct emu_vm {
	struct vm *vm;
	struct ioapic ioapic;
	struct pic pic;
	struct pit pit;
	int ioapic_ready, pic_ready, pit_ready;
	struct cpuid_table cpuid; /* what emu implements, before the per-vCPU policy */
	uint64_t tsc_base_ns;	  /* host time at TSC 0 */
	/* One bit per guest-physical page of RAM: some vCPU holds decoded code from it. Set by the
	 * vCPUs, read by the write notifier; bits are cleared only when the page is invalidated. */
	_Atomic uint64_t *code_pages;
	uint64_t code_pages_n; /* pages covered (from 0 to the end of the highest RAM region) */
};

static inline struct emu_vm *emu_vm_of(struct vm *vm)
{
	return vm->accel_data;
}

static inline struct emu_vcpu *emu_vcpu_of(struct vcpu *vcpu)
{
	return vcpu->accel;
}

/* Route an interrupt message to the LAPICs (IOAPIC redirection entries, MSIs, IPIs): shorthand 0
 * (destination), 1 (self: src), 2 (all), 3 (all but src). Lowest priority picks one target. */
void emu_route_msg(struct emu_vm *ev, struct lapic *src, uint32_t dest, int logical,
		   unsigned shorthand, unsigned delivery_mode, uint8_t vector, int trigger_level);

/* The LAPIC callbacks (ctx: the owning struct emu_vcpu). */
extern const struct lapic_ops emu_lapic_ops;

/* Wake the vCPU: it leaves emu_run at the next block boundary, or its HLT sleep. Any thread. */
void emu_vcpu_kick_one(struct emu_vcpu *ev);

/* Queue a guest-physical page for removal from ev's decode cache (applied by its thread before
 * it runs more code) and kick it. Any thread. */
void emu_vcpu_queue_inval(struct emu_vcpu *ev, uint64_t page);

/* Record that some vCPU decoded code from guest-physical page (emu_mem_ops.code_page). */
void emu_code_page_set(struct emu_vm *ev, uint64_t page);

/* The vCPU half of the accel_ops (emu_vcpu.c). */
int emu_vcpu_init(struct vcpu *vcpu);
void emu_vcpu_destroy(struct vcpu *vcpu);
int emu_vcpu_run(struct vcpu *vcpu);
void emu_vcpu_kick(struct vcpu *vcpu);
int emu_vcpu_set_state(struct vcpu *vcpu, const struct x86_cpu_state *st);
int emu_vcpu_get_state(struct vcpu *vcpu, struct x86_cpu_state *st);

#endif
