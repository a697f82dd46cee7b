/* 16550A UART, as the PC's COM1 (PORT_COM1, 8 registers, IRQ 4).
 *
 * Transmission is synchronous: a THR write hands the byte to char_out at once, so THR and the
 * transmitter are always empty when the guest looks (LSR.THRE and LSR.TEMT read 1). Reception
 * goes through a 16-byte FIFO (1 byte when the guest has the FIFO disabled) filled by the host
 * through uart8250_receive(), which takes only what fits: input is back-pressured, never dropped.
 * Overrun (LSR.OE) therefore only happens in loopback mode, where THR writes feed the receiver.
 *
 * Interrupts follow the datasheet priority: receiver line status, received data available (with
 * the character timeout approximated: data below the FIFO trigger level reports a timeout at
 * once, since no character time ever elapses here), THR empty, modem status. The IRQ output is a
 * level: high while an enabled interrupt is pending and MCR.OUT2 is set, as the PC gates it; in
 * loopback mode the OUT2 pin is forced inactive so the line stays low (as on real hardware). A
 * THR write drops the THRE interrupt and raises it again when the byte has gone, so the line
 * shows the low-to-high edge the (edge-triggered) ISA interrupt controller needs.
 *
 * Lock: each UART has a mutex protecting all its registers and the FIFO. It is taken by the bus
 * handlers (vCPU threads) and by uart8250_receive/uart8250_rx_space (the input thread). The
 * irq_line and char_out callbacks are called with it held (lock order: uart -> irq chip, uart ->
 * output sink); the rx-ready callback is called without it. */
#ifndef VMON_HW_UART8250_H
#define VMON_HW_UART8250_H

#include <stddef.h>
#include <stdint.h>

#include "core/bus.h"
#include "core/devif.h"

#define UART8250_LEN 8
#define UART8250_FIFO_SIZE 16

struct uart8250;

/* Register state for snapshots. rx_fifo[0..rx_count) is the receive FIFO, oldest first. */
struct uart8250_state {
	uint8_t ier;
	uint8_t lcr;
	uint8_t mcr;
	uint8_t lsr_errors; /* sticky LSR error bits (only OE is ever set) */
	uint8_t msr;
	uint8_t scr;
	uint8_t dll;
	uint8_t dlm;
	uint8_t fcr; /* FIFO enable, DMA mode and trigger bits as last programmed */
	uint8_t thr_ipending;
	uint8_t rx_count;
	uint8_t rx_fifo[UART8250_FIFO_SIZE];
};

/* Bus handlers for the 8 registers; register with len UART8250_LEN and the uart as dev. */
extern const struct bus_ops uart8250_ops;

/* Create a UART in its reset state that raises irq and writes transmitted bytes to tx. Both are
 * copied. Returns 0 and sets *out, or -ENOMEM / -errno from mutex creation. */
int uart8250_create(struct irq_line irq, struct char_out tx, struct uart8250 **out)
    __attribute__((warn_unused_result));

/* Free the UART. It must no longer be registered on a bus nor used by the input thread. */
void uart8250_destroy(struct uart8250 *u);

/* Return to the power-on state: registers reset, FIFO emptied, IRQ line lowered. */
void uart8250_reset(struct uart8250 *u);

/* Set (or clear, with cb NULL) the function called when receive space frees up after
 * uart8250_receive() could not take everything it was offered (or found no room). It is called
 * from a vCPU thread without the UART lock held, at most once per refusal; it should only wake
 * the input thread, which then calls uart8250_receive() again. */
void uart8250_set_rx_ready(struct uart8250 *u, void (*cb)(void *ctx), void *ctx);

/* Offer len bytes of host input to the receiver. Returns how many were accepted (0..len), the
 * first ones of buf; the rest must be offered again later (see uart8250_set_rx_ready). Nothing is
 * accepted in loopback mode, where the receiver is disconnected from the line. */
int uart8250_receive(struct uart8250 *u, const uint8_t *buf, size_t len);

/* How many bytes uart8250_receive() would accept right now. */
size_t uart8250_rx_space(struct uart8250 *u);

/* Copy the register state into *st. */
void uart8250_save(struct uart8250 *u, struct uart8250_state *st);

/* Replace the register state with *st after checking every field (reserved bits clear, FIFO count
 * within the capacity the FCR implies, MSR status bits consistent with MCR). Recomputes the IRQ
 * line. Returns 0, or -EINVAL leaving the UART unchanged. */
int uart8250_load(struct uart8250 *u, const struct uart8250_state *st)
    __attribute__((warn_unused_result));

#endif
