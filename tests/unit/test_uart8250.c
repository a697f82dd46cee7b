/* Unit tests for the 16550A UART, driven only through its bus ops and host-side API. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "hw/uart8250.h"

struct fake {
	int level;	  /* current IRQ line level */
	int rises, falls; /* transitions seen */
	unsigned gsi;
	uint8_t out[512];
	size_t out_len;
	int rx_ready_calls;
};

struct fixture {
	struct fake f;
	struct uart8250 *u;
};

static void fake_irq_set(void *ctx, unsigned gsi, int level)
{
	struct fake *f = ctx;
	f->gsi = gsi;
	if (level && !f->level)
		f->rises++;
	if (!level && f->level)
		f->falls++;
	f->level = level;
}

static ssize_t fake_write(void *ctx, const void *buf, size_t len)
{
	struct fake *f = ctx;
	assert_true(f->out_len + len <= sizeof(f->out));
	memcpy(f->out + f->out_len, buf, len);
	f->out_len += len;
	return (ssize_t)len;
}

static void fake_rx_ready(void *ctx)
{
	struct fake *f = ctx;
	f->rx_ready_calls++;
}

static int setup(void **state)
{
	struct fixture *fx = test_calloc(1, sizeof(*fx));
	struct irq_line irq = {fake_irq_set, &fx->f, 4};
	struct char_out tx = {fake_write, &fx->f};
	assert_int_equal(uart8250_create(irq, tx, &fx->u), 0);
	uart8250_set_rx_ready(fx->u, fake_rx_ready, &fx->f);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	uart8250_destroy(fx->u);
	test_free(fx);
	return 0;
}

static uint8_t rd(struct uart8250 *u, unsigned off)
{
	return (uint8_t)uart8250_ops.read(u, off, 1);
}

static void wr(struct uart8250 *u, unsigned off, uint8_t v)
{
	uart8250_ops.write(u, off, 1, v);
}

enum { RBR = 0, IER = 1, IIR = 2, FCR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7 };

static void test_reset_values(void **state)
{
	struct fixture *fx = *state;
	assert_int_equal(rd(fx->u, IER), 0);
	assert_int_equal(rd(fx->u, IIR), 0x01);
	assert_int_equal(rd(fx->u, LCR), 0);
	assert_int_equal(rd(fx->u, MCR), 0);
	assert_int_equal(rd(fx->u, LSR), 0x60);
	assert_int_equal(rd(fx->u, MSR), 0xb0);
	assert_int_equal(rd(fx->u, RBR), 0);
	assert_int_equal(fx->f.rises, 0);
	assert_int_equal(uart8250_rx_space(fx->u), 1);
}

static void test_transmit_and_registers(void **state)
{
	struct fixture *fx = *state;
	wr(fx->u, RBR, 'h');
	wr(fx->u, RBR, 'i');
	assert_int_equal(fx->f.out_len, 2);
	assert_memory_equal(fx->f.out, "hi", 2);

	wr(fx->u, SCR, 0x5a);
	assert_int_equal(rd(fx->u, SCR), 0x5a);
	/* Linux autoconfig: IER holds only its low nibble. */
	wr(fx->u, IER, 0xff);
	assert_int_equal(rd(fx->u, IER), 0x0f);
	wr(fx->u, IER, 0);
	assert_int_equal(rd(fx->u, IER), 0);

	/* Divisor latch behind DLAB. */
	wr(fx->u, LCR, 0x83);
	wr(fx->u, RBR, 0x01);
	wr(fx->u, IER, 0x02);
	assert_int_equal(rd(fx->u, RBR), 0x01);
	assert_int_equal(rd(fx->u, IER), 0x02);
	assert_int_equal(fx->f.out_len, 2); /* the DLL write did not transmit */
	wr(fx->u, LCR, 0x03);
	assert_int_equal(rd(fx->u, LCR), 0x03);
	assert_int_equal(rd(fx->u, IER), 0); /* IER untouched by the DLM write */
	wr(fx->u, RBR, '!');
	assert_int_equal(fx->f.out_len, 3);
	assert_int_equal(fx->f.out[2], '!');
	/* A wider access reaches the addressed byte register. */
	assert_int_equal(uart8250_ops.read(fx->u, LSR, 2) & 0xff, 0x60);
	/* LSR and MSR ignore writes. */
	wr(fx->u, LSR, 0);
	assert_int_equal(rd(fx->u, LSR), 0x60);
}

static void test_thre_irq(void **state)
{
	struct fixture *fx = *state;
	wr(fx->u, MCR, 0x08); /* OUT2 */
	assert_int_equal(fx->f.rises, 0);
	wr(fx->u, IER, 0x02); /* enabling ETBEI with THR empty raises THRE at once */
	assert_int_equal(fx->f.level, 1);
	assert_int_equal(fx->f.gsi, 4);
	assert_int_equal(rd(fx->u, IIR), 0x02);
	assert_int_equal(fx->f.level, 0); /* the IIR read cleared it */
	assert_int_equal(rd(fx->u, IIR), 0x01);

	/* Linux's UART_BUG_THRE probe: toggling ETBEI re-asserts THRE. */
	wr(fx->u, IER, 0);
	wr(fx->u, IER, 0x02);
	assert_int_equal(fx->f.level, 1);
	assert_int_equal(rd(fx->u, IIR), 0x02);

	/* A THR write drops THRE and raises it again once the byte is out: one fresh edge. */
	int rises = fx->f.rises, falls = fx->f.falls;
	wr(fx->u, RBR, 'x');
	assert_int_equal(fx->f.level, 1);
	assert_int_equal(fx->f.rises, rises + 1);
	assert_int_equal(fx->f.falls, falls);
	rises = fx->f.rises;
	wr(fx->u, RBR, 'y'); /* line was high: goes low then high again */
	assert_int_equal(fx->f.falls, falls + 1);
	assert_int_equal(fx->f.rises, rises + 1);
	assert_int_equal(rd(fx->u, IIR), 0x02);
	assert_int_equal(fx->f.level, 0);
}

static void test_out2_gates_irq(void **state)
{
	struct fixture *fx = *state;
	wr(fx->u, IER, 0x02);
	assert_int_equal(fx->f.level, 0); /* pending, but OUT2 clear */
	wr(fx->u, MCR, 0x08);
	assert_int_equal(fx->f.level, 1);
	wr(fx->u, MCR, 0x00);
	assert_int_equal(fx->f.level, 0);
	assert_int_equal(rd(fx->u, IIR), 0x02); /* still pending inside the UART */
}

static void test_receive_no_fifo(void **state)
{
	struct fixture *fx = *state;
	const uint8_t in[3] = {'a', 'b', 'c'};
	wr(fx->u, MCR, 0x08);
	wr(fx->u, IER, 0x01);
	assert_int_equal(uart8250_receive(fx->u, in, 3), 1); /* FIFO disabled: one byte holds */
	assert_int_equal(uart8250_rx_space(fx->u), 0);
	assert_int_equal(fx->f.level, 1);
	assert_int_equal(rd(fx->u, LSR), 0x61);
	assert_int_equal(rd(fx->u, IIR), 0x04);
	assert_int_equal(fx->f.rx_ready_calls, 0);
	assert_int_equal(rd(fx->u, RBR), 'a');
	assert_int_equal(fx->f.level, 0);
	assert_int_equal(fx->f.rx_ready_calls, 1);
	assert_int_equal(rd(fx->u, LSR), 0x60);
	assert_int_equal(uart8250_receive(fx->u, in + 1, 2), 1);
	assert_int_equal(rd(fx->u, RBR), 'b');
	assert_int_equal(fx->f.rx_ready_calls, 2);
	/* No refusal since: no further callback. */
	assert_int_equal(uart8250_receive(fx->u, in + 2, 1), 1);
	assert_int_equal(rd(fx->u, RBR), 'c');
	assert_int_equal(fx->f.rx_ready_calls, 2);
}

static void test_receive_fifo(void **state)
{
	struct fixture *fx = *state;
	uint8_t in[20];
	for (unsigned i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(0x30 + i);
	wr(fx->u, FCR, 0xc1); /* FIFO on, trigger 14 */
	assert_int_equal(rd(fx->u, IIR), 0xc1);
	wr(fx->u, MCR, 0x08);
	wr(fx->u, IER, 0x01);
	assert_int_equal(uart8250_rx_space(fx->u), 16);
	assert_int_equal(uart8250_receive(fx->u, in, 20), 16); /* overflow: only 16 taken */
	assert_int_equal(uart8250_rx_space(fx->u), 0);
	assert_int_equal(uart8250_receive(fx->u, in + 16, 4), 0);
	assert_int_equal(rd(fx->u, IIR), 0xc4); /* at or above the trigger level */
	assert_int_equal(fx->f.level, 1);
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(rd(fx->u, RBR), 0x30 + i);
	assert_int_equal(fx->f.rx_ready_calls, 1); /* once, on the first byte of space */
	assert_int_equal(rd(fx->u, IIR), 0xcc);	   /* below trigger: character timeout */
	assert_int_equal(fx->f.level, 1);
	for (unsigned i = 3; i < 16; i++)
		assert_int_equal(rd(fx->u, RBR), 0x30 + i);
	assert_int_equal(rd(fx->u, LSR), 0x60);
	assert_int_equal(rd(fx->u, IIR), 0xc1);
	assert_int_equal(fx->f.level, 0);
	assert_int_equal(uart8250_receive(fx->u, in + 16, 4), 4);
	/* FCR clear-receiver empties the FIFO. */
	wr(fx->u, FCR, 0xc3);
	assert_int_equal(rd(fx->u, LSR), 0x60);
	assert_int_equal(uart8250_rx_space(fx->u), 16);
	/* Disabling the FIFO drops IIR's FIFO bits and the capacity to one byte. */
	wr(fx->u, FCR, 0x00);
	assert_int_equal(rd(fx->u, IIR), 0x01);
	assert_int_equal(uart8250_rx_space(fx->u), 1);
}

static void test_loopback(void **state)
{
	struct fixture *fx = *state;
	const uint8_t c = 'z';
	wr(fx->u, MCR, 0x1a); /* LOOP | OUT2 | RTS: Linux's autoconfig probe */
	assert_int_equal(rd(fx->u, MSR) & 0xf0, 0x90);
	wr(fx->u, MCR, 0x1f);
	assert_int_equal(rd(fx->u, MSR), 0xf2); /* DSR, RI appeared: DDSR; RI rising is no TERI */
	wr(fx->u, MCR, 0x1b);
	assert_int_equal(rd(fx->u, MSR), 0xb4);		     /* RI fell: TERI */
	assert_int_equal(uart8250_receive(fx->u, &c, 1), 0); /* receiver disconnected */
	assert_int_equal(uart8250_rx_space(fx->u), 0);

	wr(fx->u, IER, 0x01);
	wr(fx->u, RBR, 'L');
	assert_int_equal(fx->f.out_len, 0);
	assert_int_equal(rd(fx->u, LSR), 0x61);
	assert_int_equal(rd(fx->u, IIR), 0x04);
	assert_int_equal(fx->f.level, 0); /* OUT2 pin forced inactive in loopback */
	assert_int_equal(rd(fx->u, RBR), 'L');

	wr(fx->u, MCR, 0x0b); /* leave loopback: modem inputs idle again, input accepted */
	assert_int_equal(rd(fx->u, MSR) & 0xf0, 0xb0);
	assert_int_equal(fx->f.rx_ready_calls, 1); /* the refused receive() may retry */
	assert_int_equal(uart8250_receive(fx->u, &c, 1), 1);
	assert_int_equal(fx->f.level, 1);
}

static void test_loopback_overrun(void **state)
{
	struct fixture *fx = *state;
	wr(fx->u, FCR, 0x01);
	wr(fx->u, MCR, 0x10);
	for (unsigned i = 0; i < 20; i++)
		wr(fx->u, RBR, (uint8_t)i);
	wr(fx->u, IER, 0x05);			/* ELSI | ERBFI */
	assert_int_equal(rd(fx->u, IIR), 0xc6); /* line status outranks data */
	assert_int_equal(rd(fx->u, LSR), 0x63); /* OE | DR | THRE | TEMT */
	assert_int_equal(rd(fx->u, LSR), 0x61); /* OE cleared by the read */
	assert_int_equal(rd(fx->u, IIR), 0xc4);
	unsigned n = 0;
	while (rd(fx->u, LSR) & 1) {
		assert_int_equal(rd(fx->u, RBR), n); /* the first 16 survived */
		n++;
	}
	assert_int_equal(n, 16);

	/* 16450 mode: an overrun replaces the held character. */
	wr(fx->u, FCR, 0x00);
	wr(fx->u, RBR, 0xaa);
	wr(fx->u, RBR, 0xbb);
	assert_int_equal(rd(fx->u, LSR), 0x63);
	assert_int_equal(rd(fx->u, RBR), 0xbb);
}

static void test_priority_and_msi(void **state)
{
	struct fixture *fx = *state;
	wr(fx->u, FCR, 0x01);
	wr(fx->u, MCR, 0x10);
	for (unsigned i = 0; i < 17; i++)
		wr(fx->u, RBR, 'p');
	wr(fx->u, MCR, 0x13); /* still loopback; DTR/RTS up: modem deltas */
	wr(fx->u, IER, 0x0f);
	assert_int_equal(rd(fx->u, IIR), 0xc6);
	rd(fx->u, LSR);
	assert_int_equal(rd(fx->u, IIR), 0xc4);
	while (rd(fx->u, LSR) & 1)
		rd(fx->u, RBR);
	assert_int_equal(rd(fx->u, IIR), 0xc2); /* THRE; the read clears it */
	assert_int_equal(rd(fx->u, IIR), 0xc0); /* modem status */
	assert_int_equal(rd(fx->u, MSR), 0x3b); /* deltas accumulate until read */
	assert_int_equal(rd(fx->u, IIR), 0xc1);
}

static void test_save_load(void **state)
{
	struct fixture *fx = *state;
	const uint8_t in[5] = {1, 2, 3, 4, 5};
	struct uart8250_state st, st2;
	struct fake f2 = {0};
	struct irq_line irq = {fake_irq_set, &f2, 4};
	struct char_out tx = {fake_write, &f2};
	struct uart8250 *u2;

	wr(fx->u, FCR, 0x81);
	wr(fx->u, LCR, 0x80);
	wr(fx->u, RBR, 0x30);
	wr(fx->u, IER, 0x00);
	wr(fx->u, LCR, 0x1b);
	wr(fx->u, SCR, 0x77);
	wr(fx->u, MCR, 0x0b);
	wr(fx->u, IER, 0x03);
	assert_int_equal(uart8250_receive(fx->u, in, 5), 5);
	assert_int_equal(rd(fx->u, RBR), 1); /* FIFO head moves off slot 0 */
	uart8250_save(fx->u, &st);
	assert_int_equal(st.rx_count, 4);

	assert_int_equal(uart8250_create(irq, tx, &u2), 0);
	assert_int_equal(uart8250_load(u2, &st), 0);
	assert_int_equal(f2.level, 1); /* line recomputed on load */
	uart8250_save(u2, &st2);
	assert_memory_equal(&st, &st2, sizeof(st));
	assert_int_equal(rd(u2, LCR), 0x1b);
	assert_int_equal(rd(u2, SCR), 0x77);
	assert_int_equal(rd(u2, IIR), 0xcc);
	for (unsigned i = 2; i <= 5; i++)
		assert_int_equal(rd(u2, RBR), i);
	wr(u2, LCR, 0x9b);
	assert_int_equal(rd(u2, RBR), 0x30);
	uart8250_destroy(u2);
}

static void test_load_rejects(void **state)
{
	struct fixture *fx = *state;
	struct uart8250_state good, bad, after;

	wr(fx->u, SCR, 0x42);
	uart8250_save(fx->u, &good);
	assert_int_equal(uart8250_load(fx->u, &good), 0);
#define REJECT(stmt)                                                                               \
	do {                                                                                       \
		bad = good;                                                                        \
		stmt;                                                                              \
		assert_int_equal(uart8250_load(fx->u, &bad), -EINVAL);                             \
	} while (0)
	REJECT(bad.ier = 0x10);
	REJECT(bad.mcr = 0x20);
	REJECT(bad.lsr_errors = 0x01);
	REJECT(bad.fcr = 0x80);	  /* trigger bits without FIFO enable */
	REJECT(bad.fcr = 0x03);	  /* self-clearing bit stored */
	REJECT(bad.rx_count = 2); /* FIFO off holds one byte */
	REJECT(bad.fcr = 0x01; bad.rx_count = 17);
	REJECT(bad.msr = 0x00);			/* status bits must match MCR */
	REJECT(bad.mcr = 0x10; bad.msr = 0xb0); /* loopback with DTR/RTS/OUT low: 0x00 */
	REJECT(bad.thr_ipending = 2);
	REJECT(bad.rx_fifo[5] = 1); /* garbage past the count */
#undef REJECT
	uart8250_save(fx->u, &after);
	assert_memory_equal(&good, &after, sizeof(good));
	assert_int_equal(rd(fx->u, SCR), 0x42);
}

static void test_reset(void **state)
{
	struct fixture *fx = *state;
	const uint8_t c = 9;
	wr(fx->u, MCR, 0x08);
	wr(fx->u, IER, 0x01);
	assert_int_equal(uart8250_receive(fx->u, &c, 1), 1);
	assert_int_equal(fx->f.level, 1);
	uart8250_reset(fx->u);
	assert_int_equal(fx->f.level, 0);
	assert_int_equal(rd(fx->u, LSR), 0x60);
	assert_int_equal(rd(fx->u, IER), 0);
	assert_int_equal(rd(fx->u, MCR), 0);
}

#define STRESS_BYTES 20000

struct reader {
	struct uart8250 *u;
	unsigned got, bad;
};

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	while (r->got < STRESS_BYTES) {
		if (!(rd(r->u, LSR) & 1)) {
			sched_yield();
			continue;
		}
		if (rd(r->u, RBR) != (uint8_t)(r->got * 7))
			r->bad++;
		r->got++;
	}
	return NULL;
}

/* An input thread feeding while a vCPU thread drains: nothing lost, duplicated or reordered. */
static void test_concurrent_rx(void **state)
{
	struct fixture *fx = *state;
	static uint8_t data[STRESS_BYTES];
	struct reader r = {fx->u, 0, 0};
	pthread_t t;
	size_t sent = 0;

	for (unsigned i = 0; i < STRESS_BYTES; i++)
		data[i] = (uint8_t)(i * 7);
	wr(fx->u, FCR, 0x01);
	assert_int_equal(pthread_create(&t, NULL, reader_main, &r), 0);
	while (sent < STRESS_BYTES) {
		int n = uart8250_receive(fx->u, data + sent, STRESS_BYTES - sent);
		assert_true(n >= 0 && n <= UART8250_FIFO_SIZE);
		sent += (size_t)n;
		if (n == 0)
			sched_yield();
	}
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(r.got, STRESS_BYTES);
	assert_int_equal(r.bad, 0);
	assert_true(fx->f.rx_ready_calls > 0);
	assert_int_equal(rd(fx->u, LSR), 0x60);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_reset_values, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_transmit_and_registers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_thre_irq, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_out2_gates_irq, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_receive_no_fifo, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_receive_fifo, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_loopback, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_loopback_overrun, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_priority_and_msi, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_save_load, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_load_rejects, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reset, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_concurrent_rx, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
