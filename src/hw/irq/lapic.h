/* Userspace local APIC for the emu CPU backend (Intel SDM vol. 3, "Advanced Programmable Interrupt
 * Controller"): the xAPIC MMIO page, the x2APIC MSRs, IA32_APIC_BASE and IA32_TSC_DEADLINE, the
 * IRR/ISR/TMR priority logic, IPIs (routed by the owner through ops->send_ipi), and the LVT timer
 * (one-shot, periodic, TSC-deadline). On the kvm backend KVM's in-kernel LAPIC is used instead.
 *
 * Storage: the register page `regs` is the storage of truth and has exactly the layout of KVM's
 * struct kvm_lapic_state: register R (R < 0x400) is the 32-bit little-endian word at regs[R], so
 * ISR is at 0x100, TMR at 0x180, IRR at 0x200 (each a 256-bit bitmap in eight registers 16 bytes
 * apart; vector v is bit v % 32 of the register at base + (v / 32) * 16). The ID register holds
 * id << 24 in both modes (as KVM_GET_LAPIC returns it without KVM_CAP_X2APIC_API); the x2APIC ID
 * is the initial id given to lapic_init. In x2APIC mode LDR holds the derived logical id and ICR
 * high (0x310) the full 32-bit destination. PPR is kept current in the page; TMCCT is written into
 * it by lapic_save (as KVM does); APR is computed when read.
 *
 * Model: version 0x00050014 (six LVT entries: timer, thermal, performance, LINT0, LINT1, error; no
 * CMCI; EOI-broadcast suppression not advertised, so SVR bit 12 is reserved). The ID register is
 * writable in xAPIC mode. ESR is write-to-update: errors (illegal vector sent or received) collect
 * in an internal latch that an ESR write copies into the readable register, and raise the LVT
 * error interrupt when it is unmasked. A software-disabled APIC (SVR bit 8 clear) keeps every LVT
 * masked. The BSP's LINT0 resets to ExtINT, unmasked (KVM's LINT0_REENABLED behaviour, since there
 * is no firmware to set up virtual-wire mode). A periodic timer's period is at least
 * LAPIC_MIN_PERIOD_NS (KVM's default limit), so a tiny initial count cannot flood the vCPU.
 *
 * Left out: SMI is recorded as LAPIC_EV_SMI but has no SMM behind it; thermal and performance LVTs
 * are storage only; LINT0/LINT1 pin levels (only lapic_accepts_pic_intr); focus processor checking;
 * the ESR "illegal register address" bit; APR-based arbitration (lapic_priority gives PPR).
 *
 * Locking: `lock` protects every field except the constants set by lapic_init (clk, ops, ctx,
 * bus_hz, tsc_khz, init_id). It is a leaf lock: nothing else is locked while it is held, and the
 * ops callbacks are never called with it held (the effects of an access are collected, the lock
 * released, then the callbacks made), so a callback may call back into this or another LAPIC. The
 * clock is read with it held (mono_ns must not block or take locks). The timer does not run by
 * itself: the owner asks lapic_timer_deadline() and calls lapic_timer_tick() when it is due. */
#ifndef VMON_HW_IRQ_LAPIC_H
#define VMON_HW_IRQ_LAPIC_H

#include <pthread.h>
#include <stdint.h>

#include "core/bus.h"
#include "core/devif.h"

#define LAPIC_BASE_DEFAULT 0xfee00000ull
#define LAPIC_MMIO_LEN 0x1000

/* IA32_APIC_BASE bits. */
#define LAPIC_BASE_BSP (1ull << 8)
#define LAPIC_BASE_EXTD (1ull << 10) /* x2APIC mode */
#define LAPIC_BASE_EN (1ull << 11)   /* globally enabled */

/* The shortest period of a periodic timer, as KVM's min_timer_period_us. */
#define LAPIC_MIN_PERIOD_NS 200000ull

/* Delivery modes (ICR/LVT/IOAPIC encoding) */
enum {
	APIC_DM_FIXED = 0,
	APIC_DM_LOWEST = 1,
	APIC_DM_SMI = 2,
	APIC_DM_NMI = 4,
	APIC_DM_INIT = 5,
	APIC_DM_STARTUP = 6,
	APIC_DM_EXTINT = 7
};

struct lapic;

struct lapic_ops {
	/* An IPI written to the ICR (xAPIC ICR_LOW write, or x2APIC MSR 0x830). The system routes
	 * it: shorthand 0 none, 1 self, 2 all incl self, 3 all excl self; dest is the 8-bit (xAPIC)
	 * or 32-bit (x2APIC) destination field; logical = destination mode bit. level/trigger are
	 * the ICR bits. A fixed or lowest-priority IPI with a vector below 16 is not sent (ESR send
	 * illegal vector). Called without the lapic lock held. */
	void (*send_ipi)(void *ctx, struct lapic *src, uint32_t dest, int logical,
			 unsigned shorthand, unsigned delivery_mode, uint8_t vector, int level,
			 int trigger_level);
	/* EOI of a level-triggered vector (ISR bit set and TMR bit set) when broadcast is not
	 * suppressed: the IOAPIC clears Remote IRR for it. Called without the lapic lock held. */
	void (*eoi_broadcast)(void *ctx, uint8_t vector);
	/* Something became pending (IRR, NMI, INIT, SIPI) or a pending vector became deliverable
	 * (a TPR write lowered PPR below it): wake/kick the vCPU that owns this LAPIC.
	 * May be called from any thread, without the lapic lock held. */
	void (*kick)(void *ctx);
};

struct lapic {
	/* Protects everything below `constants` (see the file comment); a leaf lock. */
	pthread_mutex_t lock;

	uint8_t regs[1024];	    /* KVM kvm_lapic_state layout: the storage of truth */
	uint64_t apic_base;	    /* IA32_APIC_BASE */
	uint64_t tsc_deadline;	    /* IA32_TSC_DEADLINE in TSC ticks; 0 = disarmed */
	uint64_t timer_deadline_ns; /* absolute mono_ns of the next fire, UINT64_MAX if none */
	uint64_t timer_period_ns;   /* one-shot/periodic: length of the running count */
	uint32_t timer_div;	    /* divisor of the running count (1..128) */
	uint32_t esr_latch;	    /* errors since the last ESR write */
	uint32_t events;	    /* LAPIC_EV_* */
	uint8_t sipi_vector;	    /* vector of the pending SIPI */
	uint64_t tsc0_ns;	    /* mono_ns at which the guest TSC reads 0 */

	/* constants, set by lapic_init */
	struct clock_src clk;
	const struct lapic_ops *ops;
	void *ctx;
	uint64_t bus_hz;
	uint64_t tsc_khz;
	uint32_t init_id; /* initial APIC id = x2APIC id */
	int bsp;
};

/* Initialise for APIC id `id` (bsp=1 sets the BSP bit in IA32_APIC_BASE). The timer counts at
 * bus_hz (1 GHz like KVM in the emu glue); TSC-deadline mode converts TSC ticks to time with
 * tsc_khz, taking TSC 0 at mono_ns 0 until lapic_set_tsc_base says otherwise. *clk is copied; ops
 * and ctx must outlive the LAPIC. Power-on state per SDM (see lapic_reset). Returns 0, or -EINVAL
 * for a NULL clk/ops, zero rates, bus_hz or tsc_khz above 2^33 Hz / 2^33 kHz, or id >= 0xff (the
 * xAPIC broadcast id; ids must fit the 8-bit xAPIC ID register); -errno from pthread. */
int lapic_init(struct lapic *l, uint32_t id, int bsp, const struct clock_src *clk, uint64_t bus_hz,
	       uint64_t tsc_khz, const struct lapic_ops *ops, void *ctx)
    __attribute__((warn_unused_result));

/* Release the lock. The LAPIC must no longer be used. */
void lapic_destroy(struct lapic *l);

/* Reset. power_on=1: everything to the SDM power-up state (IA32_APIC_BASE = 0xfee00000 | EN |
 * BSP-if-bsp, ID = initial id, IRR/ISR/TMR/ICR/LDR/TPR/ESR/TDCR/counts 0, DFR all ones, SVR 0xff,
 * LVTs masked except the BSP's LINT0 (ExtINT), timer and TSC deadline disarmed, no pending
 * events). power_on=0 (INIT): the same but IA32_APIC_BASE (including x2APIC mode) and the ID are
 * kept, in x2APIC mode LDR is the derived logical id, and pending events are kept (an INIT/SIPI
 * pair that arrived while the vCPU handled the INIT must not be lost). */
void lapic_reset(struct lapic *l, int power_on);

/* Tell the TSC-deadline timer that the guest TSC reads 0 at mono_ns `tsc0_ns` (the owner's RDTSC
 * is (mono_ns - tsc0_ns) * tsc_khz / 10^6). Rearms a running TSC deadline. Default 0. */
void lapic_set_tsc_base(struct lapic *l, uint64_t tsc0_ns);

/* xAPIC MMIO: offsets 0..0xfff within the 4 KiB page; 4-byte accesses to 16-byte aligned
 * registers. Other reads return the containing register's bytes (bytes 4..15 of a slot read 0);
 * writes other than 4-byte aligned ones are ignored. Offsets of absent registers read 0 and
 * ignore writes. Accesses while the APIC is not in xAPIC mode read 0 and are ignored.
 * dev = struct lapic *. */
extern const struct bus_ops lapic_mmio_ops;

/* IA32_APIC_BASE (0x1b), x2APIC MSRs 0x800-0x8ff (only when x2APIC is enabled, else #GP), and
 * IA32_TSC_DEADLINE (0x6e0; reads 0 and ignores writes unless the LVT timer is in TSC-deadline
 * mode). Return 0, or -1 for #GP: reserved bits (IA32_APIC_BASE bits 0-7, 9, 52-63; bits 63:32 of
 * every x2APIC register but the ICR; non-zero writes to x2APIC EOI and ESR; SELF IPI bits 31:8),
 * invalid IA32_APIC_BASE states or transitions (EXTD without EN; disabled -> x2APIC; x2APIC ->
 * xAPIC), writes to read-only registers (ID, version, PPR, LDR, ISR, TMR, IRR, current count),
 * reads of write-only ones (EOI, SELF IPI), nonexistent registers (APR, RRD, DFR, CMCI, ICR high,
 * unassigned numbers), any x2APIC MSR while not in x2APIC mode, and MSRs not listed here.
 * Clearing EN resets the register state to power-on values (keeping the written IA32_APIC_BASE);
 * entering x2APIC mode sets the ID to the initial id and LDR to the derived logical id. */
int lapic_msr_read(struct lapic *l, uint32_t msr, uint64_t *val);
int lapic_msr_write(struct lapic *l, uint32_t msr, uint64_t val);

/* The task-priority register (bits 7:0) for the CPU's CR8 (SDM vol. 3 "Task Priority in IA-32e
 * Mode": CR8[3:0] is TPR[7:4]; a MOV to CR8 writes TPR[7:4] and clears TPR[3:0], so the caller
 * passes cr8 << 4). Unlike the MMIO page and the x2APIC MSR these work in every APIC mode, as
 * CR8 does (the register page keeps the value; a global disable resets it like the other
 * registers). lapic_set_tpr recomputes PPR and calls ops->kick when that makes a pending vector
 * deliverable, as TPR writes through the MMIO page or MSR 0x808 do. */
uint8_t lapic_get_tpr(struct lapic *l);
void lapic_set_tpr(struct lapic *l, uint8_t tpr);

/* Current IA32_APIC_BASE value (the owner needs the MMIO base and the enable/x2APIC bits). */
uint64_t lapic_apic_base(struct lapic *l);

/* Accept an interrupt message (from an IPI, the IOAPIC, or LINT pins): FIXED/LOWEST set IRR (and
 * set the TMR bit when trigger_level, clear it otherwise); NMI/INIT/SIPI/SMI/EXTINT set pending
 * events (INIT cancels a pending SIPI; SIPI records the vector). A software-disabled LAPIC (SVR
 * bit 8 clear) or a globally disabled one still accepts NMI/INIT/SIPI/SMI/EXTINT but drops FIXED
 * and LOWEST; a FIXED/LOWEST vector below 16 is dropped with ESR "receive illegal vector".
 * Reserved delivery mode 3 is dropped. Thread-safe; calls ops->kick when something became
 * pending. */
void lapic_deliver(struct lapic *l, unsigned delivery_mode, uint8_t vector, int trigger_level);

/* Destination match (SDM 10.6.2), 1 or 0. Never matches while globally disabled. Physical: dest
 * equals the APIC id, or is a broadcast (0xff in xAPIC mode, 0xffffffff in both modes). Logical:
 * 0xffffffff (and 0xff in xAPIC mode) is a broadcast; xAPIC flat model (DFR 0xf...) matches when
 * dest & LDR[31:24] is non-zero, cluster model (DFR 0x0...) when dest[7:4] == LDR[31:28] and
 * dest[3:0] & LDR[27:24] is non-zero; x2APIC: dest[31:16] equals LDR[31:16] and dest[15:0] &
 * LDR[15:0] is non-zero. */
int lapic_match_dest(struct lapic *l, uint32_t dest, int logical);

/* For lowest-priority arbitration: the current processor priority (PPR, 0..255). */
unsigned lapic_priority(struct lapic *l);

/* The APIC id in the current mode: the xAPIC ID register's bits 31:24, or the x2APIC id. */
uint32_t lapic_id(struct lapic *l);

/* The vCPU thread asks: the highest-priority IRR vector that can be delivered now (its priority
 * class, bits 7:4, above PPR's), or -1 (also while globally disabled). */
int lapic_pending_vector(struct lapic *l);

/* The CPU takes `vector`: clear its IRR bit, set its ISR bit, update PPR. No effect when the
 * vector's IRR bit is not set. */
void lapic_ack(struct lapic *l, uint8_t vector);

/* Pending non-vectored events, taken (cleared) atomically: LAPIC_EV_NMI, LAPIC_EV_INIT,
 * LAPIC_EV_SIPI (then *sipi_vector = the page number), LAPIC_EV_EXTINT (the PIC must supply the
 * vector), LAPIC_EV_SMI (no SMM: owners may ignore it). sipi_vector may be NULL. */
enum {
	LAPIC_EV_NMI = 1,
	LAPIC_EV_INIT = 2,
	LAPIC_EV_SIPI = 4,
	LAPIC_EV_EXTINT = 8,
	LAPIC_EV_SMI = 16
};
unsigned lapic_take_events(struct lapic *l, uint8_t *sipi_vector);

/* 1 when the PIC's INTR output reaches the CPU through this LAPIC: LAPIC globally disabled in
 * IA32_APIC_BASE, or LVT LINT0 unmasked with delivery mode ExtINT (virtual wire); else 0. */
int lapic_accepts_pic_intr(struct lapic *l);

/* 1 when anything is pending (a deliverable IRR vector, or events), else 0. */
int lapic_has_work(struct lapic *l);

/* Timer: one-shot, periodic, TSC-deadline (LVT timer bits 18:17; the reserved mode 3 counts as
 * one-shot). Writing the initial count (0 disarms) starts a count of initial * divisor bus clocks
 * (periodic: at least LAPIC_MIN_PERIOD_NS); the current count is computed from the clock. A
 * divide-configuration write applies from the next count (initial-count write or periodic
 * reload). Switching the LVT timer into or out of TSC-deadline mode disarms the timer and clears
 * the initial count and TSC deadline; one-shot <-> periodic switches take effect at expiry. In
 * TSC-deadline mode initial-count writes are ignored and the current count reads 0; writing 0 to
 * IA32_TSC_DEADLINE disarms, a deadline in the past fires at the next tick.
 *
 * lapic_timer_deadline returns the absolute mono_ns when the timer next fires, UINT64_MAX when not
 * armed (a masked timer still has a deadline: it reloads or disarms there). */
uint64_t lapic_timer_deadline(struct lapic *l);

/* Fire the timer if now_ns >= its deadline: set the LVT vector in IRR (edge) unless masked;
 * periodic re-arms from the previous deadline without drift, skipping to the first deadline after
 * now_ns when periods were missed (one interrupt for them); one-shot disarms (current count 0);
 * TSC-deadline disarms and clears IA32_TSC_DEADLINE. Calls ops->kick when an interrupt became
 * pending. */
void lapic_timer_tick(struct lapic *l, uint64_t now_ns);

/* State in KVM's layout so it moves between backends: regs is exactly struct kvm_lapic_state's
 * 1 KiB register page (TMCCT and PPR filled in), plus apic_base and tsc_deadline (IA32_TSC_DEADLINE
 * in TSC ticks), plus timer_ns_left: ns until the timer fires, 0 when it is not armed (an armed
 * timer that is already due saves 1). events/sipi_vector are the pending LAPIC_EV_* events. */
struct lapic_state {
	uint8_t regs[1024];
	uint64_t apic_base;
	uint64_t tsc_deadline;
	uint64_t timer_ns_left;
	uint32_t events;
	uint8_t sipi_vector;
};

/* Copy the state into *s (fully written, padding zeroed). The ESR latch is not saved. */
void lapic_save(struct lapic *l, struct lapic_state *s);

/* Replace the state with *s. Returns -EINVAL, leaving the LAPIC unchanged, for IA32_APIC_BASE
 * with reserved bits or EXTD without EN, ID bits 23:0 set, or unknown event bits. Everything else
 * is sanitised as a guest write would be: reserved register bits are cleared, vectors 0-15 are
 * dropped from IRR/ISR/TMR, version and PPR are recomputed, LVTs are masked while software
 * disabled, x2APIC mode takes the initial id and the derived LDR. The timer resumes with
 * timer_ns_left (clamped to its period); when that is 0 and a count or deadline is programmed,
 * with the TMCCT in regs (as KVM saves it) or the TSC deadline against the current TSC. */
int lapic_load(struct lapic *l, const struct lapic_state *s) __attribute__((warn_unused_result));

#endif
