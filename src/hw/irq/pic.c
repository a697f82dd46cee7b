/* 8259A PIC pair and ELCR. See pic.h for the model. */
#include "hw/irq/pic.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#define PIC_MASTER 0
#define PIC_SLAVE 1
#define PIC_ELCR 2 /* the ELCR range, in the byte-wise access helpers */

#define ICW1_IC4 0x01
#define ICW1_SNGL 0x02
#define ICW1_INIT 0x10
#define ICW4_AEOI 0x02
#define ICW4_SFNM 0x10
#define OCW3_SEL 0x08
#define OCW3_RIS 0x01
#define OCW3_RR 0x02
#define OCW3_POLL 0x04
#define OCW3_SMM 0x20
#define OCW3_ESMM 0x40

static const uint8_t elcr_masks[2] = {PIC_ELCR_MASK_MASTER, PIC_ELCR_MASK_SLAVE};

/* Priority (0 = highest) of the highest-priority bit of mask, 8 when mask is 0. */
static int get_priority(const struct pic_chip_state *s, uint8_t mask)
{
	if (!mask)
		return 8;
	int prio = 0;
	while (!(mask & (1u << ((prio + s->priority_add) & 7))))
		prio++;
	return prio;
}

/* The input (0-7) this chip requests the CPU for, or -1. */
static int chip_get_irq(const struct pic_chip_state *s, bool master)
{
	int prio = get_priority(s, s->irr & ~s->imr);
	if (prio == 8)
		return -1;
	/* In special mask mode masked levels in service do not block; in special fully nested
	 * mode the slave's in-service IR2 does not block the slave's higher requests. */
	uint8_t in_service = s->isr;
	if (s->special_mask)
		in_service &= ~s->imr;
	if (s->special_fully_nested_mode && master)
		in_service &= ~(1u << PIC_CASCADE_IRQ);
	return prio < get_priority(s, in_service) ? (prio + s->priority_add) & 7 : -1;
}

static void chip_set_irq(struct pic_chip_state *s, unsigned irq, int level)
{
	uint8_t bit = (uint8_t)(1u << irq);

	if (s->elcr & bit) {
		if (level)
			s->irr |= bit;
		else
			s->irr &= (uint8_t)~bit;
	} else if (level && !(s->last_irr & bit)) {
		s->irr |= bit;
	}
	if (level)
		s->last_irr |= bit;
	else
		s->last_irr &= (uint8_t)~bit;
}

static void chip_intack(struct pic_chip_state *s, int irq)
{
	uint8_t bit = (uint8_t)(1u << irq);

	if (s->auto_eoi) {
		if (s->rotate_on_auto_eoi)
			s->priority_add = (uint8_t)((irq + 1) & 7);
	} else {
		s->isr |= bit;
	}
	if (!(s->elcr & bit))
		s->irr &= (uint8_t)~bit;
}

/* Recompute master IR2 from the slave's output, then the master's output. Lock held. */
static void update(struct pic *p)
{
	int slave_out = chip_get_irq(&p->chip[PIC_SLAVE], false) >= 0;

	chip_set_irq(&p->chip[PIC_MASTER], PIC_CASCADE_IRQ, slave_out);
	p->intr = chip_get_irq(&p->chip[PIC_MASTER], true) >= 0;
}

/* Update the output, release the lock, and report output changes (see pic.h). */
static void update_unlock(struct pic *p)
{
	update(p);
	if (!p->ops || !p->ops->intr) {
		p->reported = p->intr;
		pthread_mutex_unlock(&p->lock);
		return;
	}
	if (p->reporting) {
		pthread_mutex_unlock(&p->lock);
		return;
	}
	p->reporting = 1;
	while (p->reported != p->intr) {
		int level = p->intr;

		p->reported = level;
		pthread_mutex_unlock(&p->lock);
		p->ops->intr(p->ctx, level);
		pthread_mutex_lock(&p->lock);
	}
	p->reporting = 0;
	pthread_mutex_unlock(&p->lock);
}

/* ICW1's reset of one chip (QEMU's pic_init_reset; the ELCR is kept). */
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
		s->elcr_mask = elcr_masks[i];
		chip_init_reset(s);
		p->single[i] = 0;
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
	update(p);
	p->reported = p->intr;
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
	update_unlock(p);
}

static void write_ocw2(struct pic_chip_state *s, uint8_t val)
{
	int prio, irq;

	switch (val >> 5) {
	case 0: /* clear rotate in AEOI mode */
	case 4: /* set rotate in AEOI mode */
		s->rotate_on_auto_eoi = (uint8_t)(val >> 7);
		break;
	case 1: /* non-specific EOI */
	case 5: /* rotate on non-specific EOI */
		prio = get_priority(s, s->isr);
		if (prio == 8)
			break;
		irq = (prio + s->priority_add) & 7;
		s->isr &= (uint8_t) ~(1u << irq);
		if (val & 0x80)
			s->priority_add = (uint8_t)((irq + 1) & 7);
		break;
	case 3: /* specific EOI */
		s->isr &= (uint8_t) ~(1u << (val & 7));
		break;
	case 6: /* set priority: level val & 7 becomes the lowest */
		s->priority_add = (uint8_t)((val + 1) & 7);
		break;
	case 7: /* rotate on specific EOI */
		irq = val & 7;
		s->isr &= (uint8_t) ~(1u << irq);
		s->priority_add = (uint8_t)((irq + 1) & 7);
		break;
	default: /* 2: no operation */
		break;
	}
}

static void chip_write(struct pic *p, int which, unsigned port, uint8_t val)
{
	struct pic_chip_state *s = &p->chip[which];

	if (port == 0) {
		if (val & ICW1_INIT) {
			chip_init_reset(s);
			s->init_state = 1;
			s->init4 = val & ICW1_IC4;
			p->single[which] = (val & ICW1_SNGL) != 0;
		} else if (val & OCW3_SEL) {
			if (val & OCW3_POLL)
				s->poll = 1;
			if (val & OCW3_RR)
				s->read_reg_select = val & OCW3_RIS;
			if (val & OCW3_ESMM)
				s->special_mask = (val & OCW3_SMM) != 0;
		} else {
			write_ocw2(s, val);
		}
		return;
	}
	switch (s->init_state) {
	case 1: /* ICW2 */
		s->irq_base = val & 0xf8;
		if (p->single[which])
			s->init_state = s->init4 ? 3 : 0;
		else
			s->init_state = 2;
		break;
	case 2: /* ICW3: the cascade wiring is fixed */
		s->init_state = s->init4 ? 3 : 0;
		break;
	case 3: /* ICW4 */
		s->special_fully_nested_mode = (val & ICW4_SFNM) != 0;
		s->auto_eoi = (val & ICW4_AEOI) != 0;
		s->init_state = 0;
		break;
	default: /* OCW1 */
		s->imr = val;
		break;
	}
}

static uint8_t chip_read(struct pic *p, int which, unsigned port)
{
	struct pic_chip_state *s = &p->chip[which];

	if (s->poll) {
		s->poll = 0;
		int irq = chip_get_irq(s, which == PIC_MASTER);
		if (irq < 0)
			return 0;
		chip_intack(s, irq);
		return (uint8_t)(0x80 | irq);
	}
	if (port == 0)
		return s->read_reg_select ? s->isr : s->irr;
	return s->imr;
}

/* Byte-wise access of [off, off + size) within a 2-port range. */
static uint64_t pic_range_read(struct pic *p, int which, uint64_t off, unsigned size)
{
	uint64_t v = 0;

	pthread_mutex_lock(&p->lock);
	for (unsigned i = 0; i < size && off + i < PIC_PORT_LEN; i++) {
		unsigned port = (unsigned)(off + i);
		uint8_t b = which < 2 ? chip_read(p, which, port) : p->chip[port].elcr;
		v |= (uint64_t)b << (8 * i);
	}
	update_unlock(p);
	return v;
}

static void pic_range_write(struct pic *p, int which, uint64_t off, unsigned size, uint64_t val)
{
	pthread_mutex_lock(&p->lock);
	for (unsigned i = 0; i < size && off + i < PIC_PORT_LEN; i++) {
		unsigned port = (unsigned)(off + i);
		uint8_t b = (uint8_t)(val >> (8 * i));
		if (which < 2) {
			chip_write(p, which, port, b);
		} else {
			struct pic_chip_state *s = &p->chip[port];
			s->elcr = b & s->elcr_mask;
		}
	}
	update_unlock(p);
}

static uint64_t master_read(void *dev, uint64_t off, unsigned size)
{
	return pic_range_read(dev, PIC_MASTER, off, size);
}

static void master_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	pic_range_write(dev, PIC_MASTER, off, size, val);
}

static uint64_t slave_read(void *dev, uint64_t off, unsigned size)
{
	return pic_range_read(dev, PIC_SLAVE, off, size);
}

static void slave_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	pic_range_write(dev, PIC_SLAVE, off, size, val);
}

static uint64_t elcr_read(void *dev, uint64_t off, unsigned size)
{
	return pic_range_read(dev, PIC_ELCR, off, size);
}

static void elcr_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	pic_range_write(dev, PIC_ELCR, off, size, val);
}

const struct bus_ops pic_master_ops = {.read = master_read, .write = master_write};
const struct bus_ops pic_slave_ops = {.read = slave_read, .write = slave_write};
const struct bus_ops pic_elcr_ops = {.read = elcr_read, .write = elcr_write};

void pic_set_irq(struct pic *p, unsigned irq, int level)
{
	if (irq >= 16 || irq == PIC_CASCADE_IRQ)
		return;
	pthread_mutex_lock(&p->lock);
	chip_set_irq(&p->chip[irq >> 3], irq & 7, level != 0);
	update_unlock(p);
}

int pic_has_intr(struct pic *p)
{
	pthread_mutex_lock(&p->lock);
	int r = p->intr;
	pthread_mutex_unlock(&p->lock);
	return r;
}

uint8_t pic_read_irq(struct pic *p)
{
	struct pic_chip_state *m = &p->chip[PIC_MASTER], *sl = &p->chip[PIC_SLAVE];
	uint8_t vec;

	pthread_mutex_lock(&p->lock);
	int irq = chip_get_irq(m, true);
	if (irq < 0) {
		vec = (uint8_t)(m->irq_base + 7); /* spurious on the master */
	} else if (irq == PIC_CASCADE_IRQ) {
		int irq2 = chip_get_irq(sl, false);
		if (irq2 >= 0)
			chip_intack(sl, irq2);
		else
			irq2 = 7; /* spurious on the slave */
		vec = (uint8_t)(sl->irq_base + irq2);
		chip_intack(m, irq);
	} else {
		vec = (uint8_t)(m->irq_base + irq);
		chip_intack(m, irq);
	}
	update_unlock(p);
	return vec;
}

void pic_save(struct pic *p, struct pic_chip_state s[2])
{
	pthread_mutex_lock(&p->lock);
	memcpy(s, p->chip, sizeof(p->chip));
	pthread_mutex_unlock(&p->lock);
}

static bool chip_state_valid(const struct pic_chip_state *c, int which)
{
	const uint8_t flags[] = {c->read_reg_select,
				 c->poll,
				 c->special_mask,
				 c->auto_eoi,
				 c->rotate_on_auto_eoi,
				 c->special_fully_nested_mode,
				 c->init4};

	for (size_t i = 0; i < sizeof(flags); i++)
		if (flags[i] > 1)
			return false;
	return c->priority_add <= 7 && !(c->irq_base & 7) && c->init_state <= 3 &&
	       c->elcr_mask == elcr_masks[which] && !(c->elcr & ~c->elcr_mask);
}

int pic_load(struct pic *p, const struct pic_chip_state s[2])
{
	if (!chip_state_valid(&s[0], PIC_MASTER) || !chip_state_valid(&s[1], PIC_SLAVE))
		return -EINVAL;
	pthread_mutex_lock(&p->lock);
	memcpy(p->chip, s, sizeof(p->chip));
	p->single[0] = p->single[1] = 0;
	update_unlock(p);
	return 0;
}
