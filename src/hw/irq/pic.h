/* Userspace 8259A PIC pair for the emu CPU backend (on kvm, KVM's in-kernel PIC is used): the
 * master at ports 0x20-0x21, the slave at 0xa0-0xa1 cascaded on master IRQ 2, and the PIIX ELCR
 * (edge/level control) at 0x4d0 (master) and 0x4d1 (slave). QEMU's hw/intc/i8259.c and KVM's
 * arch/x86/kvm/i8259.c are the behavioural references; the state has KVM's struct kvm_pic_state
 * layout.
 *
 * Programming: ICW1 (port A, bit 4 set) starts the init sequence: IMR, ISR, edge IRR bits,
 * rotation, special mask, AEOI, SFNM and the register select are cleared, IRQ 7 gets the lowest
 * priority. ICW2 gives irq_base (bits 7:3), ICW3 is accepted and ignored (the cascade is fixed),
 * and is skipped when ICW1 selects single mode (SNGL); ICW4 (when ICW1 bit 0 asks for it) sets
 * AEOI (bit 1) and special fully nested mode (bit 4). OCW1 (port B outside init) is the IMR.
 * OCW2: non-specific EOI, specific EOI, rotate on (non-)specific EOI, set/clear rotate in AEOI,
 * set priority. OCW3: read IRR or ISR on the next port A read, poll (the next read of either port
 * acknowledges the highest request as an INTA would and returns 0x80 | level, or 0 when none),
 * special mask mode. Port B reads the IMR.
 *
 * Inputs: an ELCR bit selects level (IRR follows the line) or edge (a 0->1 transition sets IRR,
 * which INTA clears). ELCR bits outside elcr_mask (0xf8 master: IRQ 0-2 are edge; 0xde slave:
 * IRQ 8 and 13 are edge) are read-only zero. The slave's INT output is the level of master IR2,
 * which is edge-triggered: a slave request withdrawn before INTA leaves it latched, and INTA then
 * gives the slave's spurious vector (irq_base + 7) with master ISR bit 2 set, as on the chip and
 * in KVM and QEMU.
 * Left out, as in QEMU and KVM: ICW1's LTIM (level mode for every input; the ELCR is used
 * instead), the 8080 (non-8086) INTA format, buffered mode, and the single mode's effect beyond
 * the init sequence. The single-mode flag of an init sequence in progress is not part of the saved
 * state.
 *
 * Locking: `lock` protects every field after ops and ctx (which are constant after pic_init). It
 * is a leaf lock and ops->intr is never called with it held. Output changes are reported in order
 * by a single thread at a time: a thread that changes INTR while another thread is in the
 * callback leaves the report to that thread, so the last level reported always equals the
 * output, and the callback may call back into the PIC (pic_read_irq, pic_has_intr, ...). */
#ifndef VMON_HW_IRQ_PIC_H
#define VMON_HW_IRQ_PIC_H

#include <pthread.h>
#include <stdint.h>

#include "core/bus.h"

#define PIC_MASTER_BASE 0x20
#define PIC_SLAVE_BASE 0xa0
#define PIC_ELCR_BASE 0x4d0
#define PIC_PORT_LEN 2 /* each of the three ranges */
#define PIC_CASCADE_IRQ 2
#define PIC_ELCR_MASK_MASTER 0xf8
#define PIC_ELCR_MASK_SLAVE 0xde

struct pic_ops {
	/* The master's INTR output (to the CPU, or LAPIC LINT0) changed to level. Called without
	 * the pic lock held; see the header comment for ordering. */
	void (*intr)(void *ctx, int level);
};

/* One chip, with the field order and sizes of KVM's struct kvm_pic_state. last_irr holds the
 * input line levels (for edge detection); irr the requests; elcr_mask is a constant. */
struct pic_chip_state {
	uint8_t last_irr, irr, imr, isr, priority_add, irq_base, read_reg_select, poll,
	    special_mask, init_state, auto_eoi, rotate_on_auto_eoi, special_fully_nested_mode,
	    init4, elcr, elcr_mask;
};

struct pic {
	pthread_mutex_t lock;
	const struct pic_ops *ops;     /* constant */
	void *ctx;		       /* constant */
	struct pic_chip_state chip[2]; /* [0] master, [1] slave */
	uint8_t single[2];	       /* ICW1 SNGL of the init sequence in progress */
	int intr;		       /* master INTR output */
	int reported;		       /* level last passed to ops->intr (0 initially) */
	int reporting;		       /* a thread is running ops->intr */
};

/* Initialise *p in its reset state with the output callback ops (may be NULL) and ctx. Returns 0
 * or -errno from pthread_mutex_init. */
int pic_init(struct pic *p, const struct pic_ops *ops, void *ctx)
    __attribute__((warn_unused_result));

/* Release the resources of an initialised PIC; it must no longer be on a bus. */
void pic_destroy(struct pic *p);

/* Machine reset: both chips as after ICW1 with irq_base 0, and the ELCR cleared (every input
 * edge-triggered). May report INTR going low. */
void pic_reset(struct pic *p);

/* Bus handlers, each for a range of PIC_PORT_LEN ports with dev = the pic: master command/data
 * (0x20-0x21), slave (0xa0-0xa1), ELCR (0x4d0-0x4d1). Wider accesses are split into byte
 * accesses of consecutive ports. */
extern const struct bus_ops pic_master_ops, pic_slave_ops, pic_elcr_ops;

/* Drive input irq (0-15; 8-15 are the slave's inputs) to level (0 or non-zero). IRQ 2 is the
 * cascade input, driven by the slave only: setting it, or an irq above 15, is ignored. Thread-
 * safe; may call ops->intr before returning. */
void pic_set_irq(struct pic *p, unsigned irq, int level);

/* The master's INTR output: 1 when an unmasked request has priority over every interrupt in
 * service. */
int pic_has_intr(struct pic *p);

/* Interrupt acknowledge: returns the vector of the highest-priority request, cascading through the
 * slave when it is master IRQ 2, setting ISR (unless AEOI, which may rotate instead) and clearing
 * edge-triggered IRR bits. With no request it returns the spurious vector irq_base + 7 of the
 * master (or of the slave, when the slave's request went away) without setting ISR. */
uint8_t pic_read_irq(struct pic *p);

/* Copy both chips' state into s[0] (master) and s[1] (slave). */
void pic_save(struct pic *p, struct pic_chip_state s[2]);

/* Replace the state with s[0..1] after checking each chip: priority_add 0..7, irq_base a multiple
 * of 8, init_state 0..3, the flags 0 or 1, elcr_mask the constant above and elcr within it. Returns
 * 0, or -EINVAL leaving the PIC unchanged. Master IR2 is recomputed from the slave, and the INTR
 * output is reported if it changed. */
int pic_load(struct pic *p, const struct pic_chip_state s[2]) __attribute__((warn_unused_result));

#endif
