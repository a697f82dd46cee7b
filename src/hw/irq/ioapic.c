/* Userspace I/O APIC. See ioapic.h for the model. */
#include "hw/irq/ioapic.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#define IOAPIC_REG_ID 0x00
#define IOAPIC_REG_VER 0x01
#define IOAPIC_REG_ARB 0x02
#define IOAPIC_REG_REDIR 0x10
#define IOAPIC_REG_REDIR_END (IOAPIC_REG_REDIR + 2 * IOAPIC_PINS)
#define IOAPIC_VERSION (((IOAPIC_PINS - 1u) << 16) | 0x11u)

#define RTE_RO_BITS (IOAPIC_RTE_DELIVS | IOAPIC_RTE_REMOTE_IRR)

#define DM_SMI 2
#define DM_NMI 4
#define DM_INIT 5
#define DM_EXTINT 7

/* Messages collected under the lock and delivered after it is released. */
struct ioapic_msgs {
	unsigned n;
	uint64_t rte[IOAPIC_PINS];
};

static unsigned rte_delmode(uint64_t e)
{
	return (unsigned)(e >> IOAPIC_RTE_DELMODE_SHIFT) & 7;
}

/* Level-triggered in effect: NMI, SMI, INIT and ExtINT are always edge (82093AA). */
static bool rte_is_level(uint64_t e)
{
	unsigned dm = rte_delmode(e);

	if (dm == DM_SMI || dm == DM_NMI || dm == DM_INIT || dm == DM_EXTINT)
		return false;
	return (e & IOAPIC_RTE_LEVEL) != 0;
}

static void msgs_add(struct ioapic_msgs *m, uint64_t rte)
{
	if (m->n < IOAPIC_PINS)
		m->rte[m->n++] = rte;
}

static void msgs_send(const struct ioapic *io, const struct ioapic_msgs *m)
{
	if (!io->ops || !io->ops->deliver)
		return;
	for (unsigned i = 0; i < m->n; i++) {
		uint64_t e = m->rte[i];

		io->ops->deliver(io->ctx, (uint32_t)(e >> IOAPIC_RTE_DEST_SHIFT),
				 (e & IOAPIC_RTE_DEST_LOGICAL) != 0, rte_delmode(e),
				 (uint8_t)(e & IOAPIC_RTE_VECTOR), rte_is_level(e));
	}
}

/* A level entry whose line is high, unmasked and with Remote IRR clear delivers and sets Remote
 * IRR. Lock held. */
static void service_level(struct ioapic *io, unsigned pin, struct ioapic_msgs *m)
{
	uint64_t *e = &io->redirtbl[pin];

	if (!rte_is_level(*e) || (*e & (IOAPIC_RTE_MASKED | IOAPIC_RTE_REMOTE_IRR)))
		return;
	if (!(io->irr & (1u << pin)))
		return;
	*e |= IOAPIC_RTE_REMOTE_IRR;
	msgs_add(m, *e);
}

static void reset_locked(struct ioapic *io)
{
	io->ioregsel = 0;
	io->id = io->reset_id & 0x0fu;
	for (unsigned i = 0; i < IOAPIC_PINS; i++)
		io->redirtbl[i] = IOAPIC_RTE_MASKED;
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

static uint32_t reg_read(const struct ioapic *io)
{
	uint32_t sel = io->ioregsel;

	switch (sel) {
	case IOAPIC_REG_ID:
	case IOAPIC_REG_ARB:
		return io->id << 24;
	case IOAPIC_REG_VER:
		return IOAPIC_VERSION;
	default:
		break;
	}
	if (sel < IOAPIC_REG_REDIR || sel >= IOAPIC_REG_REDIR_END)
		return 0xffffffffu;
	uint64_t e = io->redirtbl[(sel - IOAPIC_REG_REDIR) / 2];
	return (sel & 1) ? (uint32_t)(e >> 32) : (uint32_t)e;
}

static void reg_write(struct ioapic *io, uint32_t val, struct ioapic_msgs *m)
{
	uint32_t sel = io->ioregsel;

	if (sel == IOAPIC_REG_ID) {
		io->id = (val >> 24) & 0x0fu;
		return;
	}
	if (sel < IOAPIC_REG_REDIR || sel >= IOAPIC_REG_REDIR_END)
		return; /* version, arbitration and unimplemented registers are read-only */
	unsigned pin = (sel - IOAPIC_REG_REDIR) / 2;
	uint64_t *e = &io->redirtbl[pin];
	if (sel & 1) {
		*e = (*e & 0xffffffffull) | ((uint64_t)val << 32);
		return;
	}
	uint64_t nv = (*e & ~0xffffffffull) | (*e & RTE_RO_BITS) | (val & ~(uint32_t)RTE_RO_BITS);
	if (!rte_is_level(nv))
		nv &= ~IOAPIC_RTE_REMOTE_IRR;
	*e = nv;
	/* An unmasked (or newly level) entry whose line is high delivers now. */
	service_level(io, pin, m);
}

static void eoi_locked(struct ioapic *io, uint8_t vector, struct ioapic_msgs *m)
{
	for (unsigned i = 0; i < IOAPIC_PINS; i++) {
		uint64_t *e = &io->redirtbl[i];

		if ((*e & IOAPIC_RTE_VECTOR) != vector || !(*e & IOAPIC_RTE_REMOTE_IRR))
			continue;
		*e &= ~IOAPIC_RTE_REMOTE_IRR;
		service_level(io, i, m);
	}
}

static uint64_t ioapic_mmio_read(void *dev, uint64_t off, unsigned size)
{
	struct ioapic *io = dev;
	uint64_t v = 0;

	pthread_mutex_lock(&io->lock);
	if (off == IOAPIC_IOREGSEL)
		v = io->ioregsel;
	else if (off == IOAPIC_IOWIN)
		v = reg_read(io);
	pthread_mutex_unlock(&io->lock);
	return v;
}

static void ioapic_mmio_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct ioapic *io = dev;
	struct ioapic_msgs m = {0};

	pthread_mutex_lock(&io->lock);
	if (off == IOAPIC_IOREGSEL)
		io->ioregsel = (uint32_t)val & 0xffu;
	else if (off == IOAPIC_IOWIN)
		reg_write(io, (uint32_t)val, &m);
	else if (off == IOAPIC_EOI)
		eoi_locked(io, (uint8_t)val, &m);
	pthread_mutex_unlock(&io->lock);
	msgs_send(io, &m);
}

const struct bus_ops ioapic_mmio_ops = {
    .read = ioapic_mmio_read,
    .write = ioapic_mmio_write,
};

void ioapic_set_irq(struct ioapic *io, unsigned pin, int level)
{
	struct ioapic_msgs m = {0};

	if (pin >= IOAPIC_PINS)
		return;
	uint32_t bit = 1u << pin;
	pthread_mutex_lock(&io->lock);
	bool was_high = (io->irr & bit) != 0;
	uint64_t e = io->redirtbl[pin];
	if (level)
		io->irr |= bit;
	else
		io->irr &= ~bit;
	if (rte_is_level(e))
		service_level(io, pin, &m);
	else if (level && !was_high && !(e & IOAPIC_RTE_MASKED))
		msgs_add(&m, e);
	pthread_mutex_unlock(&io->lock);
	msgs_send(io, &m);
}

void ioapic_eoi(struct ioapic *io, uint8_t vector)
{
	struct ioapic_msgs m = {0};

	pthread_mutex_lock(&io->lock);
	eoi_locked(io, vector, &m);
	pthread_mutex_unlock(&io->lock);
	msgs_send(io, &m);
}

void ioapic_save(struct ioapic *io, struct ioapic_state *s)
{
	memset(s, 0, sizeof(*s));
	s->base_address = IOAPIC_BASE_DEFAULT;
	pthread_mutex_lock(&io->lock);
	s->ioregsel = io->ioregsel;
	s->id = io->id;
	s->irr = io->irr;
	memcpy(s->redirtbl, io->redirtbl, sizeof(s->redirtbl));
	pthread_mutex_unlock(&io->lock);
}

int ioapic_load(struct ioapic *io, const struct ioapic_state *s)
{
	struct ioapic_msgs m = {0};

	if (s->base_address != IOAPIC_BASE_DEFAULT || s->ioregsel > 0xff || s->id > 0x0f ||
	    (s->irr >> IOAPIC_PINS) || s->pad)
		return -EINVAL;
	for (unsigned i = 0; i < IOAPIC_PINS; i++) {
		uint64_t e = s->redirtbl[i];

		if (e & IOAPIC_RTE_DELIVS)
			return -EINVAL;
		if ((e & IOAPIC_RTE_REMOTE_IRR) && !rte_is_level(e))
			return -EINVAL;
	}
	pthread_mutex_lock(&io->lock);
	io->ioregsel = s->ioregsel;
	io->id = s->id;
	io->irr = s->irr;
	memcpy(io->redirtbl, s->redirtbl, sizeof(io->redirtbl));
	for (unsigned i = 0; i < IOAPIC_PINS; i++)
		service_level(io, i, &m);
	pthread_mutex_unlock(&io->lock);
	msgs_send(io, &m);
	return 0;
}
