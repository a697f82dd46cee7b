/* 8259A PIC pair. See pic.h. */
#include "hw/irq/pic.h"

#include <errno.h>
#include <string.h>

#define PIC_MASTER 0
#define PIC_SLAVE 1
#define PIC_CASCADE_IRQ 2

static const uint8_t elcr_masks[2] = {0xf8, 0xde};

/* Priority (0 highest) of the highest request in mask, 8 when none. */
static int get_priority(const struct pic_chip_state *s, uint8_t mask)
{
	if (!mask)
		return 8;
	int prio = 0;
	while (!(mask & (1u << ((prio + s->priority_add) & 7))))
		prio++;
	return prio;
}

/* The IRQ (0-7) this chip would raise, or -1. */
static int chip_get_irq(const struct pic_chip_state *s, int is_master)
{
	int prio = get_priority(s, s->irr & ~s->imr);
	if (prio == 8)
		return -1;
	uint8_t mask = s->isr;
	if (s->special_mask)
		mask &= ~s->imr;
	if (s->special_fully_nested_mode && is_master)
		mask &= ~(1u << PIC_CASCADE_IRQ);
	int cur = get_priority(s, mask);
	return prio < cur ? (prio + s->priority_add) & 7 : -1;
}

static void chip_set_irq(struct pic_chip_state *s, unsigned irq, int level)
{
	uint8_t mask = (uint8_t)(1u << irq);
	if (s->elcr & mask) {
		if (level) {
			s->irr |= mask;
			s->last_irr |= mask;
		} else {
			s->irr &= ~mask;
			s->last_irr &= ~mask;
		}
	} else {
		if (level) {
			if (!(s->last_irr & mask))
				s->irr |= mask;
			s->last_irr |= mask;
		} else {
			s->last_irr &= ~mask;
		}
	}
}

static void chip_intack(struct pic_chip_state *s, int irq)
{
	if (s->auto_eoi) {
		if (s->rotate_on_auto_eoi)
			s->priority_add = (irq + 1) & 7;
	} else {
		s->isr |= (uint8_t)(1u << irq);
	}
	if (!(s->elcr & (1u << irq)))
		s->irr &= ~(1u << irq);
}

/* Recompute the cascade and the master output. Returns 1 when the INTR output changed. */
static int update(struct pic *p)
{
	struct pic_chip_state *m = &p->chip[PIC_MASTER];
	int slave = chip_get_irq(&p->chip[PIC_SLAVE], 0) >= 0;
	if (slave) {
		m->irr |= 1u << PIC_CASCADE_IRQ;
		m->last_irr |= 1u << PIC_CASCADE_IRQ;
	} else {
		m->irr &= ~(1u << PIC_CASCADE_IRQ);
		m->last_irr &= ~(1u << PIC_CASCADE_IRQ);
	}
	int out = chip_get_irq(m, 1) >= 0;
	if (out == p->last_intr)
		return 0;
	p->last_intr = out;
	return 1;
}

static void notify(struct pic *p, int changed, int level)
{
	if (changed && p->ops && p->ops->intr)
		p->ops->intr(p->ctx, level);
}

/* Unlock, then report an output change. */
static void unlock_notify(struct pic *p, int changed)
{
	int level = p->last_intr;
	pthread_mutex_unlock(&p->lock);
	notify(p, changed, level);
}

static void chip_init_reset(struct pic_chip_state *s)
{
	s->last_irr = 0;
	s->irr &= s->elcr;
	s->imr = 0;
	s->isr = 0;
	s->priority_add = 0;
	s->irq_base = 0;
	s->read_reg_select = 0;
	s->poll = 0;
	s->special_mask = 0;
	s->init_state = 0;
	s->auto_eoi = 0;
	s->rotate_on_auto_eoi = 0;
	s->special_fully_nested_mode = 0;
	s->init4 = 0;
}

static void reset_locked(struct pic *p)
{
	for (int i = 0; i < 2; i++) {
		struct pic_chip_state *s = &p->chip[i];
		s->elcr = 0;
		s->irr = 0;
		chip_init_reset(s);
		s->elcr_mask = elcr_masks[i];
	}
}

int pic_init(struct pic *p, const struct pic_ops *ops, void *ctx)
{
	memset(p, 0, sizeof(*p));
	int err = pthread_mutex_init(&p->lock, NULL);
	if (err)
		return -err;
	p->ops = ops;
	p->ctx = ctx;
	reset_locked(p);
	return 0;
}

void pic_destroy(struct pic *p)
{
	pthread_mutex_destroy(&p->lock);
}

void pic_reset(struct pic *p)
{
	pthread_mutex_lock(&p->lock);
	reset_locked(p);
	unlock_notify(p, update(p));
}

static void chip_write(struct pic_chip_state *s, uint64_t off, uint8_t val)
{
	if (off == 0) {
		if (val & 0x10) { /* ICW1 */
			chip_init_reset(s);
			s->init_state = 1;
			s->init4 = val & 1;
		} else if (val & 0x08) { /* OCW3 */
			if (val & 0x04)
				s->poll = 1;
			if (val & 0x02)
				s->read_reg_select = val & 1;
			if (val & 0x40)
				s->special_mask = (val >> 5) & 1;
		} else { /* OCW2 */
			int cmd = val >> 5, prio, irq;
			switch (cmd) {
			case 0:
			case 4:
				s->rotate_on_auto_eoi = (uint8_t)(cmd >> 2);
				break;
			case 1: /* non-specific EOI */
			case 5: /* rotate on non-specific EOI */
				prio = get_priority(s, s->isr);
				if (prio != 8) {
					irq = (prio + s->priority_add) & 7;
					s->isr &= ~(1u << irq);
					if (cmd == 5)
						s->priority_add = (irq + 1) & 7;
				}
				break;
			case 3: /* specific EOI */
				s->isr &= ~(1u << (val & 7));
				break;
			case 6: /* set priority */
				s->priority_add = (val + 1) & 7;
				break;
			case 7: /* rotate on specific EOI */
				irq = val & 7;
				s->isr &= ~(1u << irq);
				s->priority_add = (irq + 1) & 7;
				break;
			default:
				break;
			}
		}
		return;
	}
	switch (s->init_state) {
	case 0: /* OCW1 */
		s->imr = val;
		break;
	case 1: /* ICW2 */
		s->irq_base = val & 0xf8;
		s->init_state = 2;
		break;
	case 2: /* ICW3 */
		s->init_state = s->init4 ? 3 : 0;
		break;
	case 3: /* ICW4 */
		s->special_fully_nested_mode = (val >> 4) & 1;
		s->auto_eoi = (val >> 1) & 1;
		s->init_state = 0;
		break;
	default:
		s->init_state = 0;
		break;
	}
}

static uint8_t chip_poll(struct pic_chip_state *s, int is_master)
{
	int irq = chip_get_irq(s, is_master);
	if (irq < 0)
		return 0;
	chip_intack(s, irq);
	return (uint8_t)(irq | 0x80);
}

static uint64_t chip_read(struct pic *p, int which, uint64_t off)
{
	struct pic_chip_state *s = &p->chip[which];
	uint8_t v;
	pthread_mutex_lock(&p->lock);
	if (s->poll) {
		s->poll = 0;
		v = chip_poll(s, which == PIC_MASTER);
	} else if (off == 0) {
		v = s->read_reg_select ? s->isr : s->irr;
	} else {
		v = s->imr;
	}
	unlock_notify(p, update(p));
	return v;
}

static void chip_write_locked(struct pic *p, int which, uint64_t off, uint64_t val)
{
	pthread_mutex_lock(&p->lock);
	chip_write(&p->chip[which], off & 1, (uint8_t)val);
	unlock_notify(p, update(p));
}

static uint64_t master_read(void *dev, uint64_t off, unsigned size)
{
	return chip_read(dev, PIC_MASTER, off & 1);
}

static void master_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	chip_write_locked(dev, PIC_MASTER, off, val);
}

static uint64_t slave_read(void *dev, uint64_t off, unsigned size)
{
	return chip_read(dev, PIC_SLAVE, off & 1);
}

static void slave_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	chip_write_locked(dev, PIC_SLAVE, off, val);
}

static uint64_t elcr_read(void *dev, uint64_t off, unsigned size)
{
	struct pic *p = dev;
	pthread_mutex_lock(&p->lock);
	uint64_t v = p->chip[off & 1].elcr;
	if (size >= 2 && !(off & 1))
		v |= (uint64_t)p->chip[1].elcr << 8;
	pthread_mutex_unlock(&p->lock);
	return v;
}

static void elcr_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct pic *p = dev;
	pthread_mutex_lock(&p->lock);
	struct pic_chip_state *s = &p->chip[off & 1];
	s->elcr = (uint8_t)val & s->elcr_mask;
	if (size >= 2 && !(off & 1))
		p->chip[1].elcr = (uint8_t)(val >> 8) & p->chip[1].elcr_mask;
	unlock_notify(p, update(p));
}

const struct bus_ops pic_master_ops = {.read = master_read, .write = master_write};
const struct bus_ops pic_slave_ops = {.read = slave_read, .write = slave_write};
const struct bus_ops pic_elcr_ops = {.read = elcr_read, .write = elcr_write};

void pic_set_irq(struct pic *p, unsigned irq, int level)
{
	if (irq >= 16)
		return;
	pthread_mutex_lock(&p->lock);
	chip_set_irq(&p->chip[irq >> 3], irq & 7, level);
	unlock_notify(p, update(p));
}

int pic_has_intr(struct pic *p)
{
	pthread_mutex_lock(&p->lock);
	int changed = update(p);
	int r = chip_get_irq(&p->chip[PIC_MASTER], 1) >= 0;
	unlock_notify(p, changed);
	return r;
}

uint8_t pic_read_irq(struct pic *p)
{
	struct pic_chip_state *m = &p->chip[PIC_MASTER], *sl = &p->chip[PIC_SLAVE];
	uint8_t vec;
	pthread_mutex_lock(&p->lock);
	update(p);
	int irq = chip_get_irq(m, 1);
	if (irq >= 0) {
		if (irq == PIC_CASCADE_IRQ) {
			int irq2 = chip_get_irq(sl, 0);
			if (irq2 >= 0)
				chip_intack(sl, irq2);
			else
				irq2 = 7;
			vec = (uint8_t)(sl->irq_base + irq2);
		} else {
			vec = (uint8_t)(m->irq_base + irq);
		}
		chip_intack(m, irq);
	} else {
		vec = (uint8_t)(m->irq_base + 7);
	}
	unlock_notify(p, update(p));
	return vec;
}

void pic_save(struct pic *p, struct pic_chip_state s[2])
{
	pthread_mutex_lock(&p->lock);
	memcpy(s, p->chip, sizeof(p->chip));
	pthread_mutex_unlock(&p->lock);
}

int pic_load(struct pic *p, const struct pic_chip_state s[2])
{
	for (int i = 0; i < 2; i++) {
		const struct pic_chip_state *c = &s[i];
		if (c->priority_add > 7 || c->init_state > 3 || c->elcr_mask != elcr_masks[i] ||
		    (c->elcr & ~c->elcr_mask) || (c->irq_base & 7) || c->read_reg_select > 1 ||
		    c->poll > 1 || c->special_mask > 1 || c->auto_eoi > 1 ||
		    c->rotate_on_auto_eoi > 1 || c->special_fully_nested_mode > 1 || c->init4 > 1)
			return -EINVAL;
	}
	pthread_mutex_lock(&p->lock);
	memcpy(p->chip, s, sizeof(p->chip));
	unlock_notify(p, update(p));
	return 0;
}
