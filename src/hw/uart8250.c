/* 16550A UART. See uart8250.h for the model and the locking rules. */
#include "hw/uart8250.h"
#include "core/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Register offsets. */
#define UART_RBR 0 /* read, DLAB=0 (THR on write; DLL when DLAB=1) */
#define UART_IER 1 /* DLM when DLAB=1 */
#define UART_IIR 2 /* FCR on write */
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_MSR 6
#define UART_SCR 7

#define IER_ERBFI 0x01 /* received data available */
#define IER_ETBEI 0x02 /* THR empty */
#define IER_ELSI 0x04  /* receiver line status */
#define IER_EDSSI 0x08 /* modem status */
#define IER_MASK 0x0f

#define IIR_NONE 0x01
#define IIR_MSI 0x00
#define IIR_THRI 0x02
#define IIR_RDI 0x04
#define IIR_RLSI 0x06
#define IIR_TIMEOUT 0x0c
#define IIR_FIFO_ON 0xc0

#define FCR_ENABLE 0x01
#define FCR_CLEAR_RX 0x02
#define FCR_CLEAR_TX 0x04
#define FCR_DMA 0x08
#define FCR_TRIGGER 0xc0
#define FCR_STORED (FCR_ENABLE | FCR_DMA | FCR_TRIGGER)

#define LCR_DLAB 0x80

#define MCR_DTR 0x01
#define MCR_RTS 0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10
#define MCR_MASK 0x1f

#define LSR_DR 0x01
#define LSR_OE 0x02
#define LSR_THRE 0x20
#define LSR_TEMT 0x40

#define MSR_DCTS 0x01
#define MSR_DDSR 0x02
#define MSR_TERI 0x04
#define MSR_DDCD 0x08
#define MSR_CTS 0x10
#define MSR_DSR 0x20
#define MSR_RI 0x40
#define MSR_DCD 0x80
/* Modem inputs when not in loopback: a connected, ready peer (as QEMU reports). */
#define MSR_IDLE (MSR_DCD | MSR_DSR | MSR_CTS)

struct uart8250 {
	pthread_mutex_t lock; /* protects everything below */
	struct irq_line irq;
	struct char_out tx;
	void (*rx_ready)(void *ctx);
	void *rx_ready_ctx;
	bool rx_blocked; /* receive() refused input since space last freed up */
	bool irq_level;	 /* what the line was last set to */

	uint8_t ier, lcr, mcr, lsr_errors, msr, scr, dll, dlm, fcr;
	bool thr_ipending;
	uint8_t rx_fifo[UART8250_FIFO_SIZE];
	unsigned rx_head, rx_count;
};

static bool uart_fifo_on(const struct uart8250 *u)
{
	return u->fcr & FCR_ENABLE;
}

static unsigned uart_rx_capacity(const struct uart8250 *u)
{
	return uart_fifo_on(u) ? UART8250_FIFO_SIZE : 1;
}

static unsigned uart_rx_trigger(const struct uart8250 *u)
{
	static const unsigned levels[4] = {1, 4, 8, 14};
	return levels[(u->fcr & FCR_TRIGGER) >> 6];
}

/* The highest-priority pending enabled interrupt, as the IIR identification bits. */
static uint8_t uart_iir_id(const struct uart8250 *u)
{
	if ((u->ier & IER_ELSI) && (u->lsr_errors & LSR_OE))
		return IIR_RLSI;
	if ((u->ier & IER_ERBFI) && u->rx_count) {
		if (!uart_fifo_on(u) || u->rx_count >= uart_rx_trigger(u))
			return IIR_RDI;
		return IIR_TIMEOUT;
	}
	if ((u->ier & IER_ETBEI) && u->thr_ipending)
		return IIR_THRI;
	if ((u->ier & IER_EDSSI) && (u->msr & 0x0f))
		return IIR_MSI;
	return IIR_NONE;
}

static void uart_update_irq(struct uart8250 *u)
{
	bool level = uart_iir_id(u) != IIR_NONE && (u->mcr & MCR_OUT2) && !(u->mcr & MCR_LOOP);
	if (level != u->irq_level) {
		u->irq_level = level;
		irq_line_set(&u->irq, level);
	}
}

/* The modem status bits (upper nibble of MSR) that MCR implies. */
static uint8_t uart_msr_status(uint8_t mcr)
{
	if (!(mcr & MCR_LOOP))
		return MSR_IDLE;
	return (uint8_t)(((mcr & MCR_DTR) ? MSR_DSR : 0) | ((mcr & MCR_RTS) ? MSR_CTS : 0) |
			 ((mcr & MCR_OUT1) ? MSR_RI : 0) | ((mcr & MCR_OUT2) ? MSR_DCD : 0));
}

/* Move the MSR status bits to what MCR implies, latching the delta bits. */
static void uart_update_msr(struct uart8250 *u)
{
	uint8_t old = u->msr, now = uart_msr_status(u->mcr), delta = 0;
	if ((old ^ now) & MSR_CTS)
		delta |= MSR_DCTS;
	if ((old ^ now) & MSR_DSR)
		delta |= MSR_DDSR;
	if ((old & MSR_RI) && !(now & MSR_RI))
		delta |= MSR_TERI;
	if ((old ^ now) & MSR_DCD)
		delta |= MSR_DDCD;
	u->msr = (uint8_t)(now | (old & 0x0f) | delta);
}

static void uart_rx_clear(struct uart8250 *u)
{
	u->rx_head = 0;
	u->rx_count = 0;
}

/* Space may have freed up: should the input thread be told? (The caller does it unlocked.) */
static bool uart_rx_notify(struct uart8250 *u)
{
	if (!u->rx_blocked || !u->rx_ready || (u->mcr & MCR_LOOP) ||
	    u->rx_count >= uart_rx_capacity(u))
		return false;
	u->rx_blocked = false;
	return true;
}

/* A byte arriving from the loopback path: overrun rules as the datasheet gives them. */
static void uart_rx_loop(struct uart8250 *u, uint8_t c)
{
	unsigned cap = uart_rx_capacity(u);
	if (u->rx_count < cap) {
		u->rx_fifo[(u->rx_head + u->rx_count) % UART8250_FIFO_SIZE] = c;
		u->rx_count++;
		return;
	}
	u->lsr_errors |= LSR_OE;
	if (!uart_fifo_on(u)) /* 16450 mode: the new character overwrites RBR */
		u->rx_fifo[u->rx_head] = c;
	/* FIFO mode: the character in the shift register is lost. */
}

static void uart_transmit(struct uart8250 *u, uint8_t c)
{
	u->thr_ipending = false;
	uart_update_irq(u);
	if (u->mcr & MCR_LOOP) {
		uart_rx_loop(u, c);
	} else if (u->tx.write) {
		ssize_t n = u->tx.write(u->tx.ctx, &c, 1);
		if (n != 1)
			log_rl(LOG_WARN, "uart8250: output dropped a byte (%zd)", n);
	}
	u->thr_ipending = true;
	uart_update_irq(u);
}

static uint8_t uart_read_reg(struct uart8250 *u, unsigned reg, bool *notify)
{
	uint8_t v = 0;

	switch (reg) {
	case UART_RBR:
		if (u->lcr & LCR_DLAB)
			return u->dll;
		if (u->rx_count) {
			v = u->rx_fifo[u->rx_head];
			u->rx_head = (u->rx_head + 1) % UART8250_FIFO_SIZE;
			u->rx_count--;
			*notify = uart_rx_notify(u);
		}
		return v;
	case UART_IER:
		return (u->lcr & LCR_DLAB) ? u->dlm : u->ier;
	case UART_IIR:
		v = uart_iir_id(u);
		if (v == IIR_THRI)
			u->thr_ipending = false;
		return (uint8_t)(v | (uart_fifo_on(u) ? IIR_FIFO_ON : 0));
	case UART_LCR:
		return u->lcr;
	case UART_MCR:
		return u->mcr;
	case UART_LSR:
		v = (uint8_t)(u->lsr_errors | LSR_THRE | LSR_TEMT | (u->rx_count ? LSR_DR : 0));
		u->lsr_errors = 0;
		return v;
	case UART_MSR:
		v = u->msr;
		u->msr &= 0xf0;
		return v;
	default:
		return u->scr;
	}
}

static void uart_write_fcr(struct uart8250 *u, uint8_t val, bool *notify)
{
	if ((val ^ u->fcr) & FCR_ENABLE)
		uart_rx_clear(u);
	else if (val & FCR_CLEAR_RX)
		uart_rx_clear(u);
	/* The other bits only take when the FIFO enable bit is written as 1. */
	u->fcr = (val & FCR_ENABLE) ? (uint8_t)(val & FCR_STORED) : 0;
	*notify = uart_rx_notify(u);
}

static void uart_write_reg(struct uart8250 *u, unsigned reg, uint8_t val, bool *notify)
{
	uint8_t old;

	switch (reg) {
	case UART_RBR:
		if (u->lcr & LCR_DLAB)
			u->dll = val;
		else
			uart_transmit(u, val);
		break;
	case UART_IER:
		if (u->lcr & LCR_DLAB) {
			u->dlm = val;
			break;
		}
		old = u->ier;
		u->ier = val & IER_MASK;
		/* THR is always empty, so enabling ETBEI raises THRE at once. */
		if ((old ^ u->ier) & IER_ETBEI)
			u->thr_ipending = (u->ier & IER_ETBEI) != 0;
		break;
	case UART_IIR:
		uart_write_fcr(u, val, notify);
		break;
	case UART_LCR:
		u->lcr = val;
		break;
	case UART_MCR:
		u->mcr = val & MCR_MASK;
		uart_update_msr(u);
		*notify = uart_rx_notify(u);
		break;
	case UART_LSR:
	case UART_MSR:
		break; /* read-only (factory test writes are ignored) */
	default:
		u->scr = val;
		break;
	}
}

static uint64_t uart_bus_read(void *dev, uint64_t off, unsigned size)
{
	struct uart8250 *u = dev;
	bool notify = false;
	void (*cb)(void *ctx);
	void *ctx;

	(void)size; /* byte registers: a wider access reads the addressed one */
	pthread_mutex_lock(&u->lock);
	uint8_t v = uart_read_reg(u, (unsigned)off & 7, &notify);
	uart_update_irq(u);
	cb = u->rx_ready;
	ctx = u->rx_ready_ctx;
	pthread_mutex_unlock(&u->lock);
	if (notify && cb)
		cb(ctx);
	return v;
}

static void uart_bus_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct uart8250 *u = dev;
	bool notify = false;
	void (*cb)(void *ctx);
	void *ctx;

	(void)size;
	pthread_mutex_lock(&u->lock);
	uart_write_reg(u, (unsigned)off & 7, (uint8_t)val, &notify);
	uart_update_irq(u);
	cb = u->rx_ready;
	ctx = u->rx_ready_ctx;
	pthread_mutex_unlock(&u->lock);
	if (notify && cb)
		cb(ctx);
}

const struct bus_ops uart8250_ops = {uart_bus_read, uart_bus_write};

/* Power-on register values. Caller holds the lock (or owns the UART exclusively). */
static void uart_reset_locked(struct uart8250 *u)
{
	u->ier = 0;
	u->lcr = 0;
	u->mcr = 0;
	u->lsr_errors = 0;
	u->msr = MSR_IDLE;
	u->scr = 0;
	u->dll = 0x0c; /* 9600 baud */
	u->dlm = 0;
	u->fcr = 0;
	u->thr_ipending = false;
	uart_rx_clear(u);
	uart_update_irq(u);
}

int uart8250_create(struct irq_line irq, struct char_out tx, struct uart8250 **out)
{
	struct uart8250 *u = calloc(1, sizeof(*u));
	int ret;

	*out = NULL;
	if (!u)
		return -ENOMEM;
	ret = pthread_mutex_init(&u->lock, NULL);
	if (ret) {
		free(u);
		return -ret;
	}
	u->irq = irq;
	u->tx = tx;
	uart_reset_locked(u);
	*out = u;
	return 0;
}

void uart8250_destroy(struct uart8250 *u)
{
	if (!u)
		return;
	pthread_mutex_destroy(&u->lock);
	free(u);
}

void uart8250_reset(struct uart8250 *u)
{
	pthread_mutex_lock(&u->lock);
	uart_reset_locked(u);
	pthread_mutex_unlock(&u->lock);
}

void uart8250_set_rx_ready(struct uart8250 *u, void (*cb)(void *ctx), void *ctx)
{
	pthread_mutex_lock(&u->lock);
	u->rx_ready = cb;
	u->rx_ready_ctx = ctx;
	pthread_mutex_unlock(&u->lock);
}

static size_t uart_rx_space_locked(const struct uart8250 *u)
{
	if (u->mcr & MCR_LOOP)
		return 0;
	return uart_rx_capacity(u) - u->rx_count;
}

int uart8250_receive(struct uart8250 *u, const uint8_t *buf, size_t len)
{
	size_t n;

	pthread_mutex_lock(&u->lock);
	n = uart_rx_space_locked(u);
	if (n > len)
		n = len;
	for (size_t i = 0; i < n; i++) {
		u->rx_fifo[(u->rx_head + u->rx_count) % UART8250_FIFO_SIZE] = buf[i];
		u->rx_count++;
	}
	if (n < len)
		u->rx_blocked = true;
	uart_update_irq(u);
	pthread_mutex_unlock(&u->lock);
	return (int)n;
}

size_t uart8250_rx_space(struct uart8250 *u)
{
	size_t n;

	pthread_mutex_lock(&u->lock);
	n = uart_rx_space_locked(u);
	if (n == 0)
		u->rx_blocked = true; /* the caller will wait for the rx-ready callback */
	pthread_mutex_unlock(&u->lock);
	return n;
}

void uart8250_save(struct uart8250 *u, struct uart8250_state *st)
{
	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&u->lock);
	st->ier = u->ier;
	st->lcr = u->lcr;
	st->mcr = u->mcr;
	st->lsr_errors = u->lsr_errors;
	st->msr = u->msr;
	st->scr = u->scr;
	st->dll = u->dll;
	st->dlm = u->dlm;
	st->fcr = u->fcr;
	st->thr_ipending = u->thr_ipending;
	st->rx_count = (uint8_t)u->rx_count;
	for (unsigned i = 0; i < u->rx_count; i++)
		st->rx_fifo[i] = u->rx_fifo[(u->rx_head + i) % UART8250_FIFO_SIZE];
	pthread_mutex_unlock(&u->lock);
}

static int uart_state_check(const struct uart8250_state *st)
{
	unsigned cap = (st->fcr & FCR_ENABLE) ? UART8250_FIFO_SIZE : 1;

	if (st->ier & ~IER_MASK || st->mcr & ~MCR_MASK || st->lsr_errors & ~LSR_OE)
		return -EINVAL;
	if (st->fcr & ~FCR_STORED || (st->fcr && !(st->fcr & FCR_ENABLE)))
		return -EINVAL;
	if ((st->msr & 0xf0) != uart_msr_status(st->mcr))
		return -EINVAL;
	if (st->thr_ipending > 1)
		return -EINVAL;
	if (st->rx_count > cap)
		return -EINVAL;
	for (unsigned i = st->rx_count; i < UART8250_FIFO_SIZE; i++)
		if (st->rx_fifo[i])
			return -EINVAL; /* unused FIFO slots must be zero */
	return 0;
}

int uart8250_load(struct uart8250 *u, const struct uart8250_state *st)
{
	int ret = uart_state_check(st);
	if (ret)
		return ret;
	pthread_mutex_lock(&u->lock);
	u->ier = st->ier;
	u->lcr = st->lcr;
	u->mcr = st->mcr;
	u->lsr_errors = st->lsr_errors;
	u->msr = st->msr;
	u->scr = st->scr;
	u->dll = st->dll;
	u->dlm = st->dlm;
	u->fcr = st->fcr;
	u->thr_ipending = st->thr_ipending;
	u->rx_head = 0;
	u->rx_count = st->rx_count;
	memcpy(u->rx_fifo, st->rx_fifo, sizeof(u->rx_fifo));
	u->rx_blocked = true; /* let a waiting input thread retry */
	uart_update_irq(u);
	pthread_mutex_unlock(&u->lock);
	return 0;
}
