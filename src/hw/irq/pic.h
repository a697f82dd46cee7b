/* Userspace 8259A PIC pair (master at 0x20, slave at 0xa0 cascaded on IRQ2) plus the ELCR at
 * 0x4d0-0x4d1, for the emu CPU backend. QEMU's hw/intc/i8259.c is the behavioural reference; the
 * slave's INT output drives master IRQ2 as a level. Single (non-cascaded) mode is not modelled.
 *
 * Locking: `lock` protects chip state and last_intr; ops/ctx are constant. The intr callback is
 * called after the lock is dropped, only when the master's INTR output changes. */
#ifndef VMON_HW_IRQ_PIC_H
#define VMON_HW_IRQ_PIC_H

#include <pthread.h>
#include <stdint.h>

#include "core/bus.h"

struct pic_ops {
	void (*intr)(void *ctx, int level); /* master INTR output changed */
};

struct pic_chip_state {
	uint8_t last_irr, irr, imr, isr, priority_add, irq_base, read_reg_select, poll,
	    special_mask, init_state, auto_eoi, rotate_on_auto_eoi, special_fully_nested_mode,
	    init4, elcr, elcr_mask;
};

struct pic {
	pthread_mutex_t lock;
	const struct pic_ops *ops;
	void *ctx;
	struct pic_chip_state chip[2]; /* 0 master, 1 slave */
	int last_intr;
};

int pic_init(struct pic *p, const struct pic_ops *ops, void *ctx);
void pic_destroy(struct pic *p);
void pic_reset(struct pic *p);

/* Ports 0x20-21, 0xa0-a1, 0x4d0-4d1; dev = struct pic*. */
extern const struct bus_ops pic_master_ops, pic_slave_ops, pic_elcr_ops;

void pic_set_irq(struct pic *p, unsigned irq, int level); /* irq 0-15 */
int pic_has_intr(struct pic *p);
/* INTA: vector of the highest-priority request; spurious gives irq_base + 7. */
uint8_t pic_read_irq(struct pic *p);

void pic_save(struct pic *p, struct pic_chip_state s[2]);
/* Returns 0 or -EINVAL. */
int pic_load(struct pic *p, const struct pic_chip_state s[2]);

#endif
