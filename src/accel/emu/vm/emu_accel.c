/* emu backend, VM level: the accel_ops, the userspace IOAPIC/PIC/PIT, interrupt routing between
 * them and the per-vCPU LAPICs, and the CPUID table. See emu_accel.h for the locking. */
#include "accel/emu/vm/emu_accel.h"
#include "arch/x86/layout.h"
#include "core/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int emu_probe(char *why, size_t why_len)
{
	(void)why;
	(void)why_len;
	return 0; /* portable C: runs on every host */
}

void emu_route_msg(struct emu_vm *ev, struct lapic *src, uint32_t dest, int logical,
		   unsigned shorthand, unsigned delivery_mode, uint8_t vector, int trigger_level)
{
	struct vm *vm = ev->vm;
	struct emu_vcpu *lowest = NULL;
	unsigned lowest_prio = ~0u;

	for (unsigned i = 0; i < vm->ncpus; i++) {
		struct emu_vcpu *v = emu_vcpu_of(&vm->vcpus[i]);
		if (!v || !v->lapic_ready)
			continue;
		int hit;
		switch (shorthand) {
		case 1:
			hit = &v->lapic == src;
			break;
		case 2:
			hit = 1;
			break;
		case 3:
			hit = &v->lapic != src;
			break;
		default:
			hit = lapic_match_dest(&v->lapic, dest, logical);
		}
		if (!hit)
			continue;
		if (delivery_mode == APIC_DM_LOWEST && shorthand == 0) {
			unsigned p = lapic_priority(&v->lapic);
			if (p < lowest_prio) {
				lowest_prio = p;
				lowest = v;
			}
			continue;
		}
		lapic_deliver(&v->lapic, delivery_mode, vector, trigger_level);
	}
	if (lowest)
		lapic_deliver(&lowest->lapic, APIC_DM_FIXED, vector, trigger_level);
}

/* ---- device callbacks ---- */

static void lapic_send_ipi(void *ctx, struct lapic *src, uint32_t dest, int logical,
			   unsigned shorthand, unsigned delivery_mode, uint8_t vector, int level,
			   int trigger_level)
{
	struct emu_vm *ev = emu_vm_of(((struct emu_vcpu *)ctx)->vcpu->vm);
	/* INIT level de-assert is a no-op on every processor since the P4. */
	if (delivery_mode == APIC_DM_INIT && !level && trigger_level)
		return;
	emu_route_msg(ev, src, dest, logical, shorthand, delivery_mode, vector, trigger_level);
}

static void lapic_eoi_broadcast(void *ctx, uint8_t vector)
{
	struct emu_vm *ev = emu_vm_of(((struct emu_vcpu *)ctx)->vcpu->vm);
	ioapic_eoi(&ev->ioapic, vector);
}

static void lapic_kick(void *ctx)
{
	emu_vcpu_kick_one(ctx);
}

const struct lapic_ops emu_lapic_ops = {lapic_send_ipi, lapic_eoi_broadcast, lapic_kick};

static void ioapic_deliver(void *ctx, uint32_t dest, int logical, unsigned delivery_mode,
			   uint8_t vector, int trigger_level)
{
	emu_route_msg(ctx, NULL, dest, logical, 0, delivery_mode, vector, trigger_level);
}

static const struct ioapic_ops emu_ioapic_ops = {ioapic_deliver};

static void pic_intr(void *ctx, int level)
{
	struct emu_vm *ev = ctx;
	if (!level)
		return;
	/* The PIC's INTR reaches the BSP (LINT0 in virtual-wire mode); the vCPU polls it. */
	struct emu_vcpu *bsp = emu_vcpu_of(&ev->vm->vcpus[0]);
	if (bsp)
		emu_vcpu_kick_one(bsp);
}

static const struct pic_ops emu_pic_ops = {pic_intr};

/* GSI routing as on a PC and as the kvm backend sets it up: ISA IRQ 0 (the PIT) reaches PIC
 * input 0 and IOAPIC pin 2; ISA IRQs 1-15 reach the PIC and the same IOAPIC pin; GSIs 16-23 reach
 * the IOAPIC only. */
static void emu_set_irq(struct vm *vm, unsigned gsi, int level)
{
	struct emu_vm *ev = emu_vm_of(vm);
	if (!ev)
		return;
	if (gsi < 16 && gsi != 2)
		pic_set_irq(&ev->pic, gsi, level);
	if (gsi == 0)
		ioapic_set_irq(&ev->ioapic, 2, level);
	else if (gsi < IOAPIC_PINS)
		ioapic_set_irq(&ev->ioapic, gsi, level);
}

/* ---- decoded-code coherence ---- */

void emu_code_page_set(struct emu_vm *ev, uint64_t page)
{
	uint64_t pg = page >> 12;
	if (pg < ev->code_pages_n)
		atomic_fetch_or(&ev->code_pages[pg / 64], 1ull << (pg % 64));
}

/* gmem write hook: a write by the VMM (device DMA, loaders) or a vCPU's first store to a page
 * through a new TLB entry. Pages some vCPU holds decoded code from are queued for invalidation
 * on every vCPU; their bit is cleared (a vCPU that decodes the page again sets it again). */
static void emu_write_hook(void *ctx, uint64_t gpa, uint64_t len)
{
	struct emu_vm *ev = ctx;
	if (!len)
		return;
	uint64_t first = gpa >> 12, last = (gpa + len - 1) >> 12;
	for (uint64_t pg = first; pg <= last && pg < ev->code_pages_n; pg++) {
		uint64_t bit = 1ull << (pg % 64);
		if (!(atomic_load_explicit(&ev->code_pages[pg / 64], memory_order_relaxed) & bit))
			continue;
		if (!(atomic_fetch_and(&ev->code_pages[pg / 64], ~bit) & bit))
			continue;
		for (unsigned i = 0; i < ev->vm->ncpus; i++) {
			struct emu_vcpu *v = emu_vcpu_of(&ev->vm->vcpus[i]);
			if (v)
				emu_vcpu_queue_inval(v, pg << 12);
		}
	}
}

static int emu_code_pages_init(struct emu_vm *ev)
{
	struct gmem *gm = &ev->vm->mem;
	uint64_t end = 0;
	for (unsigned i = 0; i < gm->nr_regions; i++)
		if (gm->regions[i].gpa + gm->regions[i].size > end)
			end = gm->regions[i].gpa + gm->regions[i].size;
	ev->code_pages_n = end >> 12;
	ev->code_pages = calloc((ev->code_pages_n + 63) / 64 + 1, sizeof(uint64_t));
	if (!ev->code_pages)
		return -ENOMEM;
	gmem_set_write_hook(gm, emu_write_hook, ev);
	return 0;
}

/* ---- VM life cycle ---- */

static int reg(struct vm *vm, struct bus *bus, uint64_t base, uint64_t len,
	       const struct bus_ops *ops, void *dev, const char *name)
{
	int ret = bus_register(bus, base, len, ops, dev, name);
	if (ret)
		log_err("emu: cannot register %s at 0x%llx: %s", name, (unsigned long long)base,
			strerror(-ret));
	return ret;
}

static void emu_vm_destroy(struct vm *vm)
{
	struct emu_vm *ev = emu_vm_of(vm);
	if (!ev)
		return;
	gmem_set_write_hook(&vm->mem, NULL, NULL);
	if (ev->pit_ready)
		pit_destroy(&ev->pit);
	if (ev->pic_ready)
		pic_destroy(&ev->pic);
	if (ev->ioapic_ready)
		ioapic_destroy(&ev->ioapic);
	free(ev->code_pages);
	free(ev);
	vm->accel_data = NULL;
}

static int emu_vm_init(struct vm *vm)
{
	struct emu_vm *ev = calloc(1, sizeof(*ev));
	int ret;

	if (!ev)
		return -ENOMEM;
	ev->vm = vm;
	vm->accel_data = ev;
	ev->tsc_base_ns = clock_host.mono_ns(clock_host.ctx);
	emu_cpuid_table(&ev->cpuid, (uint32_t)EMU_TSC_KHZ);
	if ((ret = emu_code_pages_init(ev)))
		goto fail;

	if ((ret = ioapic_init(&ev->ioapic, 0, &emu_ioapic_ops, ev)))
		goto fail;
	ev->ioapic_ready = 1;
	if ((ret = pic_init(&ev->pic, &emu_pic_ops, ev)))
		goto fail;
	ev->pic_ready = 1;
	if ((ret = pit_init(&ev->pit, vm_irq_line(vm, 0), &clock_host)))
		goto fail;
	ev->pit_ready = 1;
	if ((ret = reg(vm, &vm->mmio, LAYOUT_IOAPIC, IOAPIC_MMIO_LEN, &ioapic_mmio_ops, &ev->ioapic,
		       "ioapic")) ||
	    (ret = reg(vm, &vm->pio, 0x20, 2, &pic_master_ops, &ev->pic, "pic-master")) ||
	    (ret = reg(vm, &vm->pio, 0xa0, 2, &pic_slave_ops, &ev->pic, "pic-slave")) ||
	    (ret = reg(vm, &vm->pio, 0x4d0, 2, &pic_elcr_ops, &ev->pic, "pic-elcr")) ||
	    (ret = reg(vm, &vm->pio, 0x40, 4, &pit_ops, &ev->pit, "pit")) ||
	    (ret = reg(vm, &vm->pio, 0x61, 1, &pit_speaker_ops, &ev->pit, "pit-speaker")))
		goto fail;
	return 0;
fail:
	emu_vm_destroy(vm);
	return ret;
}

/* No kernel boundary to bypass: a QueueNotify write runs the transport's handler on the vCPU
 * thread, which posts to the event loop (core/vmio.c), and set_irq from the event loop is a direct
 * call into the userspace IOAPIC. So both return -ENOTSUP and callers use those paths. */
static int emu_ioeventfd(struct vm *vm, uint64_t addr, unsigned len, uint64_t datamatch, int fd,
			 int is_pio, int deassign)
{
	return -ENOTSUP;
}

static int emu_irqfd(struct vm *vm, unsigned gsi, int fd, int resample_fd, int deassign)
{
	return -ENOTSUP;
}

/* An MSI is an interrupt message like an IOAPIC entry's: destination in address bits 19:12,
 * logical destination mode in bit 2; vector, delivery mode and trigger mode in the data. */
static int emu_msi(struct vm *vm, uint64_t addr, uint32_t data)
{
	if ((addr & ACCEL_MSI_ADDR_MASK) != ACCEL_MSI_ADDR_BASE)
		return -EINVAL;
	emu_route_msg(emu_vm_of(vm), NULL, (uint32_t)(addr >> 12) & 0xff, (addr >> 2) & 1, 0,
		      (data >> 8) & 7, (uint8_t)data, (data >> 15) & 1);
	return 0;
}

static const struct accel_ops emu_ops = {
    .name = "emu",
    .probe = emu_probe,
    .vm_init = emu_vm_init,
    .vm_destroy = emu_vm_destroy,
    .vcpu_init = emu_vcpu_init,
    .vcpu_destroy = emu_vcpu_destroy,
    .vcpu_set_state = emu_vcpu_set_state,
    .vcpu_get_state = emu_vcpu_get_state,
    .vcpu_run = emu_vcpu_run,
    .vcpu_kick = emu_vcpu_kick,
    .set_irq = emu_set_irq,
    .ioeventfd = emu_ioeventfd,
    .irqfd = emu_irqfd,
    .msi = emu_msi,
};

const struct accel_ops *const accel_emu_ops = &emu_ops;
