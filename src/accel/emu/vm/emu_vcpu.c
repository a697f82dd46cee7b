/* emu backend, vCPU level: the emulator's memory, I/O and system callbacks on core/gmem, core/bus
 * and the vCPU's LAPIC; the run loop (timers, interrupt acceptance, HLT and wait-for-SIPI
 * sleeps, INIT/SIPI, exits); kicks. See emu_accel.h for the locking. */
#include "accel/emu/vm/emu_accel.h"
#include "core/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

/* ---- memory and I/O callbacks ---- */

static uint8_t *cb_ram_ptr(void *ctx, uint64_t gpa, int write)
{
	struct emu_vcpu *v = ctx;
	struct gmem *gm = &v->vcpu->vm->mem;
	uint64_t page = gpa & ~(GMEM_PAGE_SIZE - 1);
	uint8_t *p = gmem_ptr(gm, page, GMEM_PAGE_SIZE, write ? GMEM_RW : GMEM_READ);
	/* GMEM_RW marks the page dirty (and runs the VMM's write hook, which drops the page's
	 * decoded code on the other vCPUs). */
	return p ? p + (gpa - page) : NULL;
}

/* The xAPIC page of this vCPU's own LAPIC, when enabled in xAPIC mode (bit 11 set, bit 10
 * clear), shadows whatever else the bus has there, as on real processors. */
static int lapic_hit(struct emu_vcpu *v, uint64_t gpa, uint64_t *off)
{
	uint64_t base = lapic_apic_base(&v->lapic);
	if ((base & 0xc00) != 0x800)
		return 0;
	base &= ~0xfffull & ((1ull << 52) - 1);
	if (gpa < base || gpa - base >= LAPIC_MMIO_LEN)
		return 0;
	*off = gpa - base;
	return 1;
}

static uint64_t cb_mmio_read(void *ctx, uint64_t gpa, unsigned size)
{
	struct emu_vcpu *v = ctx;
	uint64_t off, val = 0;
	if (lapic_hit(v, gpa, &off))
		return lapic_mmio_ops.read(&v->lapic, off, size);
	bus_read(&v->vcpu->vm->mmio, gpa, size, &val);
	return val;
}

static void cb_mmio_write(void *ctx, uint64_t gpa, unsigned size, uint64_t val)
{
	struct emu_vcpu *v = ctx;
	uint64_t off;
	if (lapic_hit(v, gpa, &off)) {
		lapic_mmio_ops.write(&v->lapic, off, size, val);
		return;
	}
	bus_write(&v->vcpu->vm->mmio, gpa, size, val);
}

static uint32_t cb_pio_in(void *ctx, uint16_t port, unsigned size)
{
	struct emu_vcpu *v = ctx;
	uint64_t val = ~0ull;
	bus_read(&v->vcpu->vm->pio, port, size, &val);
	return (uint32_t)val;
}

static void cb_pio_out(void *ctx, uint16_t port, unsigned size, uint32_t val)
{
	struct emu_vcpu *v = ctx;
	bus_write(&v->vcpu->vm->pio, port, size, val);
}

static void cb_code_page(void *ctx, uint64_t page)
{
	struct emu_vcpu *v = ctx;
	emu_code_page_set(emu_vm_of(v->vcpu->vm), page);
}

static const struct emu_mem_ops emu_vcpu_mem_ops = {cb_ram_ptr, cb_mmio_read, cb_mmio_write,
						    cb_pio_in,	cb_pio_out,   cb_code_page};

/* ---- system callbacks ---- */

static void cb_cpuid(void *ctx, uint32_t regs[4])
{
	struct emu_vcpu *v = ctx;
	uint32_t leaf = regs[0];

	cpuid_query(&v->cpuid, regs);
	/* APIC present only while enabled in IA32_APIC_BASE. */
	if (leaf == 1 && !(lapic_apic_base(&v->lapic) & (1ull << 11)))
		regs[3] &= ~(1u << 9);
}

static uint64_t cb_rdtsc(void *ctx)
{
	struct emu_vcpu *v = ctx;
	struct emu_vm *ev = emu_vm_of(v->vcpu->vm);
	/* EMU_TSC_KHZ is 1 GHz: one tick per nanosecond, the same on every vCPU. */
	return clock_host.mono_ns(clock_host.ctx) - ev->tsc_base_ns;
}

static int is_lapic_msr(uint32_t msr)
{
	return msr == 0x1b || msr == 0x6e0 || (msr >= 0x800 && msr <= 0x8ff);
}

static int cb_rdmsr(void *ctx, uint32_t msr, uint64_t *val)
{
	struct emu_vcpu *v = ctx;
	if (is_lapic_msr(msr))
		return lapic_msr_read(&v->lapic, msr, val);
	log_rl(LOG_DEBUG, "emu: vCPU %u rdmsr 0x%x: #GP", v->vcpu->id, msr);
	return -1;
}

static int cb_wrmsr(void *ctx, uint32_t msr, uint64_t val)
{
	struct emu_vcpu *v = ctx;
	if (is_lapic_msr(msr))
		return lapic_msr_write(&v->lapic, msr, val);
	log_rl(LOG_DEBUG, "emu: vCPU %u wrmsr 0x%x <- 0x%llx: #GP", v->vcpu->id, msr,
	       (unsigned long long)val);
	return -1;
}

static int cb_rdrand(void *ctx, uint64_t *val)
{
	(void)ctx;
	return getrandom(val, sizeof(*val), GRND_NONBLOCK) == (ssize_t)sizeof(*val) ? 0 : -1;
}

/* CR8 is this vCPU's TPR[7:4]. A write that unmasks a pending vector kicks the vCPU (lapic.h), so
 * emu_run stops at the end of the block (MOV to CR8 ends it) and the run loop injects. */
static uint8_t cb_get_tpr(void *ctx)
{
	struct emu_vcpu *v = ctx;
	return lapic_get_tpr(&v->lapic);
}

static void cb_set_tpr(void *ctx, uint8_t tpr)
{
	struct emu_vcpu *v = ctx;
	lapic_set_tpr(&v->lapic, tpr);
}

static const struct emu_sys_ops emu_vcpu_sys_ops = {
    .cpuid = cb_cpuid,
    .rdtsc = cb_rdtsc,
    .rdmsr = cb_rdmsr,
    .wrmsr = cb_wrmsr,
    .rdrand = cb_rdrand,
    .get_tpr = cb_get_tpr,
    .set_tpr = cb_set_tpr,
};

/* ---- kicks and sleeping ---- */

void emu_vcpu_kick_one(struct emu_vcpu *v)
{
	pthread_mutex_lock(&v->wait_lock);
	v->kicked = 1;
	pthread_cond_signal(&v->wait_cond);
	pthread_mutex_unlock(&v->wait_lock);
	emu_request_stop(&v->cpu);
}

void emu_vcpu_kick(struct vcpu *vcpu)
{
	struct emu_vcpu *v = emu_vcpu_of(vcpu);
	if (v)
		emu_vcpu_kick_one(v);
}

void emu_vcpu_queue_inval(struct emu_vcpu *v, uint64_t page)
{
	pthread_mutex_lock(&v->wait_lock);
	if (v->n_inval < EMU_INVAL_QUEUE)
		v->inval[v->n_inval++] = page;
	else
		v->inval_all = 1;
	atomic_store(&v->inval_pending, 1);
	pthread_mutex_unlock(&v->wait_lock);
	emu_vcpu_kick_one(v);
}

static void apply_invalidations(struct emu_vcpu *v)
{
	if (!atomic_load(&v->inval_pending))
		return;
	pthread_mutex_lock(&v->wait_lock);
	if (v->inval_all)
		emu_invalidate_phys(&v->cpu, 0, ~0ull);
	else
		for (unsigned i = 0; i < v->n_inval; i++)
			emu_invalidate_phys(&v->cpu, v->inval[i], GMEM_PAGE_SIZE);
	v->n_inval = 0;
	v->inval_all = 0;
	atomic_store(&v->inval_pending, 0);
	pthread_mutex_unlock(&v->wait_lock);
}

/* Sleep until kicked, the VM stops, or mono_ns reaches deadline (UINT64_MAX: no deadline). */
static void vcpu_sleep(struct emu_vcpu *v, uint64_t deadline)
{
	struct vm *vm = v->vcpu->vm;
	pthread_mutex_lock(&v->wait_lock);
	while (!v->kicked && !atomic_load(&vm->exit_requested)) {
		if (deadline == UINT64_MAX) {
			pthread_cond_wait(&v->wait_cond, &v->wait_lock);
			continue;
		}
		if (clock_host.mono_ns(clock_host.ctx) >= deadline)
			break;
		struct timespec ts = {(time_t)(deadline / 1000000000ull),
				      (long)(deadline % 1000000000ull)};
		if (pthread_cond_timedwait(&v->wait_cond, &v->wait_lock, &ts) == ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&v->wait_lock);
}

/* ---- life cycle ---- */

int emu_vcpu_init(struct vcpu *vcpu)
{
	struct emu_vm *ev = emu_vm_of(vcpu->vm);
	struct emu_vcpu *v = calloc(1, sizeof(*v));
	pthread_condattr_t ca;
	int ret;

	if (!v)
		return -ENOMEM;
	v->vcpu = vcpu;
	pthread_mutex_init(&v->wait_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&v->wait_cond, &ca);
	pthread_condattr_destroy(&ca);
	vcpu->accel = v;
	if ((ret = emu_cpu_init(&v->cpu, &emu_vcpu_mem_ops, v)))
		goto fail;
	emu_cpu_set_sys_ops(&v->cpu, &emu_vcpu_sys_ops);
	v->cpuid = ev->cpuid;
	if ((ret = cpuid_policy_apply(&v->cpuid, vcpu->id, vcpu->vm->ncpus, 0)))
		goto fail;
	if ((ret = lapic_init(&v->lapic, vcpu->id, vcpu->id == 0, &clock_host, EMU_APIC_BUS_HZ,
			      EMU_TSC_KHZ, &emu_lapic_ops, v)))
		goto fail;
	v->lapic_ready = 1;
	lapic_set_tsc_base(&v->lapic, ev->tsc_base_ns);
	/* APs wait for INIT/SIPI; the BSP gets the loader's state from vcpu_set_state. */
	v->wait_sipi = vcpu->id != 0;
	return 0;
fail:
	emu_vcpu_destroy(vcpu);
	return ret < 0 ? ret : -ENOMEM;
}

void emu_vcpu_destroy(struct vcpu *vcpu)
{
	struct emu_vcpu *v = emu_vcpu_of(vcpu);
	if (!v)
		return;
	if (v->lapic_ready)
		lapic_destroy(&v->lapic);
	emu_cpu_destroy(&v->cpu);
	pthread_cond_destroy(&v->wait_cond);
	pthread_mutex_destroy(&v->wait_lock);
	free(v);
	vcpu->accel = NULL;
}

int emu_vcpu_set_state(struct vcpu *vcpu, const struct x86_cpu_state *st)
{
	struct emu_vcpu *v = emu_vcpu_of(vcpu);
	emu_cpu_set_state(&v->cpu, st);
	v->wait_sipi = 0;
	v->halted = 0;
	return 0;
}

int emu_vcpu_get_state(struct vcpu *vcpu, struct x86_cpu_state *st)
{
	struct emu_vcpu *v = emu_vcpu_of(vcpu);
	emu_cpu_get_state(&v->cpu, st);
	struct lapic_state ls;
	lapic_save(&v->lapic, &ls);
	memcpy(st->lapic, ls.regs, sizeof(st->lapic));
	st->apic_base = ls.apic_base;
	return 0;
}

/* ---- the run loop ---- */

/* INIT: the processor resets (keeping its APIC id) and waits for a start-up IPI. */
static void vcpu_do_init(struct emu_vcpu *v)
{
	struct x86_cpu_state st;
	memset(&st, 0, sizeof(st));
	x86_state_reset(&st);
	emu_cpu_set_state(&v->cpu, &st);
	lapic_reset(&v->lapic, 0);
	v->wait_sipi = 1;
	v->halted = 0;
}

/* SIPI: real mode at vector << 12. */
static void vcpu_do_sipi(struct emu_vcpu *v, uint8_t vector)
{
	struct x86_cpu_state st;
	emu_cpu_get_state(&v->cpu, &st);
	st.seg[X86_CS].selector = (uint16_t)(vector << 8);
	st.seg[X86_CS].base = (uint64_t)vector << 12;
	st.rip = 0;
	emu_cpu_set_state(&v->cpu, &st);
	v->wait_sipi = 0;
	v->halted = 0;
}

/* Take NMI/INIT/SIPI/ExtINT events from the LAPIC. Returns 1 when an ExtINT is pending. */
static int vcpu_events(struct emu_vcpu *v, int extint)
{
	uint8_t sipi = 0;
	unsigned ev = lapic_take_events(&v->lapic, &sipi);
	if (ev & LAPIC_EV_INIT)
		vcpu_do_init(v);
	if ((ev & LAPIC_EV_SIPI) && v->wait_sipi)
		vcpu_do_sipi(v, sipi);
	if ((ev & LAPIC_EV_NMI) && !v->wait_sipi) {
		emu_cpu_inject_nmi(&v->cpu);
		v->halted = 0;
	}
	return extint || (ev & LAPIC_EV_EXTINT);
}

/* Offer the highest-priority interrupt to the CPU if it can take one now. Returns 1 when an
 * interrupt was injected (or one was already waiting for delivery). */
/* The PIC has an interrupt for this vCPU: an ExtINT IPI was delivered (*extint), or it is the
 * BSP and its LAPIC accepts the PIC's output (LINT0 in ExtINT mode, or disabled). */
static int vcpu_pic_pending(struct emu_vcpu *v, const int *extint)
{
	struct emu_vm *ev = emu_vm_of(v->vcpu->vm);
	return (*extint || (v->vcpu->id == 0 && lapic_accepts_pic_intr(&v->lapic))) &&
	       pic_has_intr(&ev->pic);
}

static int vcpu_accept_irq(struct emu_vcpu *v, int *extint)
{
	struct emu_vm *ev = emu_vm_of(v->vcpu->vm);
	if (v->cpu.st.pending_irq)
		return 1;
	int vec = lapic_pending_vector(&v->lapic);
	if (!emu_cpu_interrupt_window(&v->cpu)) {
		/* Something to inject once IF is set: stop the run there rather than at the end
		 * of the slice. */
		if (vec >= 0 || vcpu_pic_pending(v, extint))
			emu_cpu_request_interrupt_window(&v->cpu);
		return 0;
	}
	if (vec >= 0) {
		lapic_ack(&v->lapic, (uint8_t)vec);
		emu_cpu_inject_interrupt(&v->cpu, (uint8_t)vec);
		return 1;
	}
	if (vcpu_pic_pending(v, extint)) {
		*extint = 0;
		emu_cpu_inject_interrupt(&v->cpu, pic_read_irq(&ev->pic));
		return 1;
	}
	return 0;
}

/* Run due timers; returns the next deadline this vCPU must wake for. */
static uint64_t vcpu_timers(struct emu_vcpu *v)
{
	struct emu_vm *ev = emu_vm_of(v->vcpu->vm);
	uint64_t now = clock_host.mono_ns(clock_host.ctx);
	uint64_t dl = lapic_timer_deadline(&v->lapic);
	if (dl <= now) {
		lapic_timer_tick(&v->lapic, now);
		dl = lapic_timer_deadline(&v->lapic);
	}
	if (v->vcpu->id == 0) {
		uint64_t p = pit_deadline(&ev->pit);
		if (p <= now) {
			pit_tick(&ev->pit, now);
			p = pit_deadline(&ev->pit);
		}
		if (p < dl)
			dl = p;
	}
	return dl;
}

static void report_stop(struct emu_vcpu *v, const char *what)
{
	struct emu_cpu *c = &v->cpu;
	char bytes[64] = "";
	for (unsigned i = 0; i < c->exit.len && i < 15; i++)
		snprintf(bytes + 3 * i, sizeof(bytes) - 3 * i, " %02x", c->exit.bytes[i]);
	log_err("emu: vCPU %u: %s at rip 0x%llx (cs 0x%x cpl %u)%s%s", v->vcpu->id, what,
		(unsigned long long)c->st.rip, c->st.seg[X86_CS].selector, c->cpl,
		bytes[0] ? ", bytes" : "", bytes);
}

int emu_vcpu_run(struct vcpu *vcpu)
{
	struct emu_vcpu *v = emu_vcpu_of(vcpu);
	struct vm *vm = vcpu->vm;
	int extint = 0;

	for (;;) {
		if (atomic_load(&vm->exit_requested))
			break;
		pthread_mutex_lock(&v->wait_lock);
		v->kicked = 0;
		pthread_mutex_unlock(&v->wait_lock);
		apply_invalidations(v);
		if (lapic_has_work(&v->lapic))
			extint = vcpu_events(v, extint);
		uint64_t deadline = vcpu_timers(v);
		if (v->wait_sipi) {
			vcpu_sleep(v, vcpu->id == 0 ? deadline : UINT64_MAX);
			continue;
		}
		int injected = vcpu_accept_irq(v, &extint);
		if (v->halted) {
			if (!injected && !v->cpu.nmi_pending) {
				vcpu_sleep(v, deadline);
				continue;
			}
			v->halted = 0;
		}
		int r = emu_run(&v->cpu, EMU_SLICE_INSNS);
		switch (r) {
		case EMU_EXIT_LIMIT:
		case EMU_EXIT_STOP:
		case EMU_EXIT_NONE:
			break;
		case EMU_EXIT_HLT:
			v->halted = 1;
			break;
		case EMU_EXIT_TRIPLE_FAULT:
			log_info("emu: vCPU %u triple fault: resetting (exit)", vcpu->id);
			vm_request_exit(vm, VM_EXIT_RESET, 0);
			return 0;
		case EMU_EXIT_UNIMPL:
			report_stop(v, "unimplemented instruction");
			vm_request_exit(vm, VM_EXIT_GUEST_CRASH, 0);
			return 0;
		default:
			report_stop(v, "unexpected emulator exit");
			vm_request_exit(vm, VM_EXIT_GUEST_CRASH, 0);
			return 0;
		}
	}
	/* For benchmarks (bench/linux_emu.py reads it with -v): the guest instructions retired. */
	log_info("emu: vCPU %u retired %llu instructions", vcpu->id,
		 (unsigned long long)v->cpu.icount);
	return 0;
}
