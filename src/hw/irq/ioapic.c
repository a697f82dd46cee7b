/* Userspace IOAPIC. See ioapic.h. */
#include "hw/irq/ioapic.h"

#include <errno.h>
#include <string.h>

#define IOAPIC_REG_ID 0x00
#define IOAPIC_REG_VER 0x01
#define IOAPIC_REG_ARB 0x02
#define IOAPIC_REG_REDIR 0x10
#define IOAPIC_VERSION 0x00170011u

#define IOAPIC_OFF_SEL 0x00
#define IOAPIC_OFF_WIN 0x10
#define IOAPIC_OFF_EOI 0x40

#define RTE_VECTOR 0xffull
#define RTE_DELMODE_SHIFT 8
#define RTE_DEST_LOGICAL (1ull << 11)
#define RTE_DELIVS (1ull << 12)
#define RTE_REMOTE_IRR (1ull << 14)
#define RTE_TRIGGER_LEVEL (1ull << 15)
#define RTE_MASKED (1ull << 16)
#define RTE_RO_BITS (RTE_DELIVS | RTE_REMOTE_IRR)
#define RTE_DEST_SHIFT 56

struct pending {
	unsigned n;
	uint64_t rte[IOAPIC_PINS];
};

static void queue(struct pending *p, uint64_t rte)
{
	if (p->n < IOAPIC_PINS)
		p->rte[p->n++] = rte;
}

static void flush(struct ioapic *io, const struct pending *p)
{
	for (unsigned i = 0; i < p->n; i++) {
		uint64_t e = p->rte[i];
		if (io->ops && io->ops->deliver)
			io->ops->deliver(io->ctx, (uint32_t)(e >> RTE_DEST_SHIFT),
					 !!(e & RTE_DEST_LOGICAL),
					 (unsigned)((e >> RTE_DELMODE_SHIFT) & 7),
					 (uint8_t)(e & RTE_VECTOR), !!(e & RTE_TRIGGER_LEVEL));
	}
}

/* A level pin that is high, unmasked and has Remote IRR clear delivers and sets Remote IRR. */
static void service_level(struct ioapic *io, unsigned pin, struct pending *p)
{
	uint64_t *e = &io->redirtbl[pin];
	if (!(*e & RTE_TRIGGER_LEVEL) || (*e & RTE_MASKED) || (*e & RTE_REMOTE_IRR))
		return;
	if (!(io->irr & (1u << pin)))
		return;
	*e |= RTE_REMOTE_IRR;
	queue(p, *e);
}

static void reset_locked(struct ioapic *io)
{
	io->base_address = IOAPIC_DEFAULT_BASE;
	io->ioregsel = 0;
	io->id = io->reset_id & 0x0f;
	for (unsigned i = 0; i < IOAPIC_PINS; i++)
		io->redirtbl[i] = RTE_MASKED;
}

int ioapic_init(struct ioapic *io, uint8_t id, const struct ioapic_ops *ops, void *ctx)
{
	memset(io, 0, sizeof(*io));
	int err = pthread_mutex_init(&io->lock, NULL);
	if (err)
		return -err;
	io->ops = ops;
	io->ctx = ctx;
	io->reset_id = id;
	reset_locked(io);
	return 0;
}

void ioapic_destroy(struct ioapic *io)
{
	pthread_mutex_destroy(&io->lock);
}

void ioapic_reset(struct ioapic *io)
{
	pthread_mutex_lock(&io->lock);
	reset_locked(io);
	pthread_mutex_unlock(&io->lock);
}

static uint32_t reg_read(struct ioapic *io)
{
	uint32_t sel = io->ioregsel & 0xff;
	switch (sel) {
	case IOAPIC_REG_ID:
	case IOAPIC_REG_ARB:
		return (io->id & 0x0f) << 24;
	case IOAPIC_REG_VER:
		return IOAPIC_VERSION;
	default:
		if (sel >= IOAPIC_REG_REDIR && sel < IOAPIC_REG_REDIR + 2 * IOAPIC_PINS) {
			unsigned pin = (sel - IOAPIC_REG_REDIR) / 2;
			uint64_t e = io->redirtbl[pin];
			return (sel & 1) ? (uint32_t)(e >> 32) : (uint32_t)e;
		}
		return 0xffffffffu;
	}
}

static void reg_write(struct ioapic *io, uint32_t val, struct pending *p)
{
	uint32_t sel = io->ioregsel & 0xff;
	if (sel == IOAPIC_REG_ID) {
		io->id = (val >> 24) & 0x0f;
		return;
	}
	if (sel < IOAPIC_REG_REDIR || sel >= IOAPIC_REG_REDIR + 2 * IOAPIC_PINS)
		return;
	unsigned pin = (sel - IOAPIC_REG_REDIR) / 2;
	uint64_t *e = &io->redirtbl[pin];
	if (sel & 1) {
		*e = (*e & 0xffffffffull) | ((uint64_t)val << 32);
		return;
	}
	uint64_t nv = (*e & ~0xffffffffull) | (*e & RTE_RO_BITS) | (val & ~(uint32_t)RTE_RO_BITS);
	if (!(nv & RTE_TRIGGER_LEVEL))
		nv &= ~RTE_REMOTE_IRR;
	*e = nv;
	service_level(io, pin, p);
}

static void eoi_locked(struct ioapic *io, uint8_t vector, struct pending *p)
{
	for (unsigned i = 0; i < IOAPIC_PINS; i++) {
		uint64_t *e = &io->redirtbl[i];
		if ((*e & RTE_VECTOR) != vector || !(*e & RTE_TRIGGER_LEVEL))
			continue;
		*e &= ~RTE_REMOTE_IRR;
		service_level(io, i, p);
	}
}

static uint64_t ioapic_mmio_read(void *dev, uint64_t off, unsigned size)
{
	struct ioapic *io = dev;
	uint64_t v = 0;
	pthread_mutex_lock(&io->lock);
	if (off == IOAPIC_OFF_SEL)
		v = io->ioregsel;
	else if (off == IOAPIC_OFF_WIN)
		v = reg_read(io);
	pthread_mutex_unlock(&io->lock);
	return v;
}

static void ioapic_mmio_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct ioapic *io = dev;
	struct pending p = {0};
	pthread_mutex_lock(&io->lock);
	if (off == IOAPIC_OFF_SEL)
		io->ioregsel = (uint32_t)val & 0xff;
	else if (off == IOAPIC_OFF_WIN)
		reg_write(io, (uint32_t)val, &p);
	else if (off == IOAPIC_OFF_EOI)
		eoi_locked(io, (uint8_t)val, &p);
	pthread_mutex_unlock(&io->lock);
	flush(io, &p);
}

const struct bus_ops ioapic_mmio_ops = {
    .read = ioapic_mmio_read,
    .write = ioapic_mmio_write,
};

void ioapic_set_irq(struct ioapic *io, unsigned pin, int level)
{
	if (pin >= IOAPIC_PINS)
		return;
	struct pending p = {0};
	uint32_t mask = 1u << pin;
	pthread_mutex_lock(&io->lock);
	uint32_t old = io->irr & mask;
	uint64_t e = io->redirtbl[pin];
	if (level)
		io->irr |= mask;
	else
		io->irr &= ~mask;
	if (e & RTE_TRIGGER_LEVEL) {
		service_level(io, pin, &p);
	} else if (level && !old && !(e & RTE_MASKED)) {
		queue(&p, e);
	}
	pthread_mutex_unlock(&io->lock);
	flush(io, &p);
}

void ioapic_eoi(struct ioapic *io, uint8_t vector)
{
	struct pending p = {0};
	pthread_mutex_lock(&io->lock);
	eoi_locked(io, vector, &p);
	pthread_mutex_unlock(&io->lock);
	flush(io, &p);
}

void ioapic_save(struct ioapic *io, struct ioapic_state *s)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_lock(&io->lock);
	s->base_address = io->base_address;
	s->ioregsel = io->ioregsel;
	s->id = io->id;
	s->irr = io->irr;
	memcpy(s->redirtbl, io->redirtbl, sizeof(s->redirtbl));
	pthread_mutex_unlock(&io->lock);
}

int ioapic_load(struct ioapic *io, const struct ioapic_state *s)
{
	if (s->id > 0x0f || s->ioregsel > 0xff || (s->irr >> IOAPIC_PINS))
		return -EINVAL;
	struct pending p = {0};
	pthread_mutex_lock(&io->lock);
	io->base_address = s->base_address;
	io->ioregsel = s->ioregsel;
	io->id = s->id;
	io->irr = s->irr;
	memcpy(io->redirtbl, s->redirtbl, sizeof(io->redirtbl));
	for (unsigned i = 0; i < IOAPIC_PINS; i++)
		service_level(io, i, &p);
	pthread_mutex_unlock(&io->lock);
	flush(io, &p);
	return 0;
}
