/* Unit tests for the userspace IOAPIC, driven through its MMIO window (on a real MMIO bus) with a
 * fake deliver callback that records every message. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/bus.h"
#include "hw/irq/ioapic.h"

#define MAX_MSGS 32

struct msg {
	uint32_t dest;
	int logical;
	unsigned dm;
	uint8_t vector;
	int level;
};

struct fixture {
	struct bus mmio;
	struct ioapic io;
	unsigned n;
	struct msg msgs[MAX_MSGS];
	int eoi_in_callback; /* deliver calls ioapic_eoi for the vector (a LAPIC that EOIs at once)
			      */
};

static void fake_deliver(void *ctx, uint32_t dest, int logical, unsigned delivery_mode,
			 uint8_t vector, int trigger_level)
{
	struct fixture *f = ctx;

	if (f->n < MAX_MSGS)
		f->msgs[f->n] = (struct msg){dest, logical, delivery_mode, vector, trigger_level};
	f->n++;
	if (f->eoi_in_callback) {
		f->eoi_in_callback--;
		ioapic_eoi(&f->io, vector); /* must not deadlock: called without the lock */
	}
}

static const struct ioapic_ops fake_ops = {.deliver = fake_deliver};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(bus_init(&f->mmio, BUS_MMIO), 0);
	assert_int_equal(ioapic_init(&f->io, 2, &fake_ops, f), 0);
	assert_int_equal(bus_register(&f->mmio, IOAPIC_BASE_DEFAULT, IOAPIC_MMIO_LEN,
				      &ioapic_mmio_ops, &f->io, "ioapic"),
			 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	bus_destroy(&f->mmio);
	ioapic_destroy(&f->io);
	free(f);
	return 0;
}

static void wr(struct fixture *f, uint64_t off, uint32_t v)
{
	assert_int_equal(bus_write(&f->mmio, IOAPIC_BASE_DEFAULT + off, 4, v), 1);
}

static uint32_t rd(struct fixture *f, uint64_t off)
{
	uint64_t v = 0;

	assert_int_equal(bus_read(&f->mmio, IOAPIC_BASE_DEFAULT + off, 4, &v), 1);
	return (uint32_t)v;
}

static uint32_t reg_rd(struct fixture *f, uint32_t reg)
{
	wr(f, IOAPIC_IOREGSEL, reg);
	return rd(f, IOAPIC_IOWIN);
}

static void reg_wr(struct fixture *f, uint32_t reg, uint32_t v)
{
	wr(f, IOAPIC_IOREGSEL, reg);
	wr(f, IOAPIC_IOWIN, v);
}

/* Program pin's entry: high half first, then the low half (which may unmask). */
static void rte_set(struct fixture *f, unsigned pin, uint32_t lo, uint32_t hi)
{
	reg_wr(f, 0x11 + 2 * pin, hi);
	reg_wr(f, 0x10 + 2 * pin, lo);
}

static uint64_t rte_get(struct fixture *f, unsigned pin)
{
	return reg_rd(f, 0x10 + 2 * pin) | (uint64_t)reg_rd(f, 0x11 + 2 * pin) << 32;
}

static void test_id_version_arbitration(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(reg_rd(f, 0x00), 0x02000000);
	assert_int_equal(reg_rd(f, 0x01), 0x00170011);
	assert_int_equal(reg_rd(f, 0x02), 0x02000000);
	/* Only ID bits 27:24 are writable; version and arbitration are read-only. */
	reg_wr(f, 0x00, 0xfaffffff);
	assert_int_equal(reg_rd(f, 0x00), 0x0a000000);
	assert_int_equal(reg_rd(f, 0x02), 0x0a000000);
	reg_wr(f, 0x01, 0);
	reg_wr(f, 0x02, 0);
	assert_int_equal(reg_rd(f, 0x01), 0x00170011);
	assert_int_equal(reg_rd(f, 0x02), 0x0a000000);
	/* IOREGSEL keeps 8 bits and reads back. */
	wr(f, IOAPIC_IOREGSEL, 0x1234);
	assert_int_equal(rd(f, IOAPIC_IOREGSEL), 0x34);
	/* Unimplemented registers read all ones; other offsets read 0. */
	assert_int_equal(reg_rd(f, 0x03), 0xffffffff);
	assert_int_equal(reg_rd(f, 0x10 + 2 * IOAPIC_PINS), 0xffffffff);
	assert_int_equal(rd(f, 0x20), 0);
	/* Reset puts the initial ID back. */
	ioapic_reset(&f->io);
	assert_int_equal(reg_rd(f, 0x00), 0x02000000);
	assert_int_equal(f->n, 0);
}

static void test_reset_masks_all(void **state)
{
	struct fixture *f = *state;

	for (unsigned pin = 0; pin < IOAPIC_PINS; pin++)
		assert_int_equal(rte_get(f, pin), 0x10000);
	rte_set(f, 3, 0x8031, 0x05000000);
	ioapic_reset(&f->io);
	assert_int_equal(rte_get(f, 3), 0x10000);
	/* Masked entries deliver nothing, edge or level. */
	ioapic_set_irq(&f->io, 3, 1);
	ioapic_set_irq(&f->io, 4, 1);
	assert_int_equal(f->n, 0);
}

static void test_redirection_halves(void **state)
{
	struct fixture *f = *state;

	/* Every pin's halves are independent; RO bits (delivery status 12, remote IRR 14) stay 0.
	 */
	for (unsigned pin = 0; pin < IOAPIC_PINS; pin++)
		rte_set(f, pin, 0xffffff00u | pin, 0xff000000u - (pin << 24));
	for (unsigned pin = 0; pin < IOAPIC_PINS; pin++) {
		uint64_t e = rte_get(f, pin);
		assert_int_equal(e & 0xffffffff, (0xffffff00u | pin) & ~0x5000u);
		assert_int_equal(e >> 32, 0xff000000u - (pin << 24));
	}
	/* Writing the low half keeps the high half and vice versa. */
	reg_wr(f, 0x10 + 2 * 7, 0x10041);
	assert_int_equal(rte_get(f, 7) >> 32, 0xff000000u - (7u << 24));
	reg_wr(f, 0x11 + 2 * 7, 0x01000000);
	assert_int_equal(rte_get(f, 7), 0x0100000000010041ull);
	assert_int_equal(f->n, 0);
}

static void test_edge_rising_only(void **state)
{
	struct fixture *f = *state;

	rte_set(f, 4, 0x0031, 0x03000000); /* edge, fixed, physical dest 3, vector 0x31 */
	ioapic_set_irq(&f->io, 4, 1);
	assert_int_equal(f->n, 1);
	assert_int_equal(f->msgs[0].dest, 3);
	assert_int_equal(f->msgs[0].logical, 0);
	assert_int_equal(f->msgs[0].dm, 0);
	assert_int_equal(f->msgs[0].vector, 0x31);
	assert_int_equal(f->msgs[0].level, 0);
	ioapic_set_irq(&f->io, 4, 1); /* still high: no edge */
	ioapic_set_irq(&f->io, 4, 0);
	assert_int_equal(f->n, 1);
	ioapic_set_irq(&f->io, 4, 1);
	assert_int_equal(f->n, 2);
	/* An edge entry never sets Remote IRR, and an EOI for it does nothing. */
	assert_int_equal(rte_get(f, 4) & IOAPIC_RTE_REMOTE_IRR, 0);
	ioapic_eoi(&f->io, 0x31);
	assert_int_equal(f->n, 2);
	/* Logical destination, lowest priority. */
	rte_set(f, 5, 0x0942, 0xf0000000);
	ioapic_set_irq(&f->io, 5, 1);
	assert_int_equal(f->n, 3);
	assert_int_equal(f->msgs[2].dest, 0xf0);
	assert_int_equal(f->msgs[2].logical, 1);
	assert_int_equal(f->msgs[2].dm, 1);
	assert_int_equal(f->msgs[2].vector, 0x42);
	/* Pins out of range are ignored. */
	ioapic_set_irq(&f->io, IOAPIC_PINS, 1);
	assert_int_equal(f->n, 3);
}

static void test_level_remote_irr(void **state)
{
	struct fixture *f = *state;

	rte_set(f, 9, 0x8040, 0x01000000); /* level, vector 0x40 */
	ioapic_set_irq(&f->io, 9, 1);
	assert_int_equal(f->n, 1);
	assert_int_equal(f->msgs[0].level, 1);
	assert_int_equal(f->msgs[0].vector, 0x40);
	assert_true(rte_get(f, 9) & IOAPIC_RTE_REMOTE_IRR);
	/* Remote IRR holds further deliveries. */
	ioapic_set_irq(&f->io, 9, 0);
	ioapic_set_irq(&f->io, 9, 1);
	assert_int_equal(f->n, 1);
	/* An EOI for another vector does nothing. */
	ioapic_eoi(&f->io, 0x41);
	assert_int_equal(f->n, 1);
	/* EOI while the line is still high redelivers. */
	ioapic_eoi(&f->io, 0x40);
	assert_int_equal(f->n, 2);
	assert_int_equal(f->msgs[1].vector, 0x40);
	assert_true(rte_get(f, 9) & IOAPIC_RTE_REMOTE_IRR);
	/* EOI after the line dropped just clears Remote IRR. */
	ioapic_set_irq(&f->io, 9, 0);
	ioapic_eoi(&f->io, 0x40);
	assert_int_equal(f->n, 2);
	assert_false(rte_get(f, 9) & IOAPIC_RTE_REMOTE_IRR);
	/* Remote IRR is read-only: a low-half write keeps it. */
	ioapic_set_irq(&f->io, 9, 1);
	assert_int_equal(f->n, 3);
	reg_wr(f, 0x10 + 2 * 9, 0x8040);
	assert_true(rte_get(f, 9) & IOAPIC_RTE_REMOTE_IRR);
	assert_int_equal(f->n, 3);
	/* Switching the entry to edge clears it (Linux's trick for old IOAPICs). */
	reg_wr(f, 0x10 + 2 * 9, 0x0040);
	assert_false(rte_get(f, 9) & IOAPIC_RTE_REMOTE_IRR);
	assert_int_equal(f->n, 3);
	/* Back to level with the line high: delivered again at once. */
	reg_wr(f, 0x10 + 2 * 9, 0x8040);
	assert_int_equal(f->n, 4);
}

static void test_masked_pins(void **state)
{
	struct fixture *f = *state;

	/* Edge: a rising edge while masked is lost, unmasking does not replay it. */
	rte_set(f, 1, 0x10031, 0);
	ioapic_set_irq(&f->io, 1, 1);
	reg_wr(f, 0x10 + 2 * 1, 0x0031);
	assert_int_equal(f->n, 0);
	ioapic_set_irq(&f->io, 1, 0);
	ioapic_set_irq(&f->io, 1, 1);
	assert_int_equal(f->n, 1);
	/* Level: a high line is delivered when unmasked (KVM behaviour). */
	rte_set(f, 10, 0x18050, 0);
	ioapic_set_irq(&f->io, 10, 1);
	assert_int_equal(f->n, 1);
	reg_wr(f, 0x10 + 2 * 10, 0x8050);
	assert_int_equal(f->n, 2);
	assert_int_equal(f->msgs[1].vector, 0x50);
	/* ... but not when it dropped while masked. */
	rte_set(f, 11, 0x18051, 0);
	ioapic_set_irq(&f->io, 11, 1);
	ioapic_set_irq(&f->io, 11, 0);
	reg_wr(f, 0x10 + 2 * 11, 0x8051);
	assert_int_equal(f->n, 2);
	/* EOI of a masked level entry clears Remote IRR without delivering. */
	reg_wr(f, 0x10 + 2 * 10, 0x18050);
	ioapic_eoi(&f->io, 0x50);
	assert_int_equal(f->n, 2);
	assert_false(rte_get(f, 10) & IOAPIC_RTE_REMOTE_IRR);
}

static void test_eoi_register(void **state)
{
	struct fixture *f = *state;

	rte_set(f, 16, 0x8061, 0);
	rte_set(f, 17, 0x8061, 0); /* two pins sharing a vector */
	ioapic_set_irq(&f->io, 16, 1);
	ioapic_set_irq(&f->io, 17, 1);
	assert_int_equal(f->n, 2);
	ioapic_set_irq(&f->io, 17, 0);
	wr(f, IOAPIC_EOI, 0x61);
	assert_int_equal(f->n, 3); /* only pin 16 is still high */
	assert_true(rte_get(f, 16) & IOAPIC_RTE_REMOTE_IRR);
	assert_false(rte_get(f, 17) & IOAPIC_RTE_REMOTE_IRR);
}

static void test_nmi_extint_are_edge(void **state)
{
	struct fixture *f = *state;

	rte_set(f, 0, 0x8700, 0); /* ExtINT programmed as level */
	rte_set(f, 2, 0x8400, 0); /* NMI programmed as level */
	ioapic_set_irq(&f->io, 0, 1);
	ioapic_set_irq(&f->io, 2, 1);
	assert_int_equal(f->n, 2);
	assert_int_equal(f->msgs[0].dm, 7);
	assert_int_equal(f->msgs[0].level, 0);
	assert_int_equal(f->msgs[1].dm, 4);
	assert_int_equal(f->msgs[1].level, 0);
	assert_false(rte_get(f, 0) & IOAPIC_RTE_REMOTE_IRR);
	ioapic_set_irq(&f->io, 2, 1);
	assert_int_equal(f->n, 2);
}

static void test_callback_reenters(void **state)
{
	struct fixture *f = *state;

	/* The callback EOIs at once while the line stays high: each EOI redelivers once. */
	rte_set(f, 12, 0x8070, 0);
	f->eoi_in_callback = 3;
	ioapic_set_irq(&f->io, 12, 1);
	assert_int_equal(f->n, 4);
	assert_true(rte_get(f, 12) & IOAPIC_RTE_REMOTE_IRR);
}

static void test_save_load(void **state)
{
	struct fixture *f = *state;
	struct ioapic_state s, s2;
	struct ioapic other;

	reg_wr(f, 0x00, 0x05000000);
	rte_set(f, 3, 0x0033, 0x01000000);
	rte_set(f, 9, 0x8040, 0x02000000);
	rte_set(f, 10, 0x18041, 0x02000000);
	ioapic_set_irq(&f->io, 9, 1);
	ioapic_set_irq(&f->io, 10, 1);
	assert_int_equal(f->n, 1);
	wr(f, IOAPIC_IOREGSEL, 0x15);
	ioapic_save(&f->io, &s);
	assert_int_equal(s.base_address, IOAPIC_BASE_DEFAULT);
	assert_int_equal(s.id, 5);
	assert_int_equal(s.ioregsel, 0x15);
	assert_int_equal(s.irr, (1u << 9) | (1u << 10));
	assert_int_equal(s.pad, 0);
	assert_int_equal(s.redirtbl[3], 0x0100000000000033ull);
	assert_int_equal(s.redirtbl[9], 0x020000000000c040ull);

	assert_int_equal(ioapic_init(&other, 0, NULL, NULL), 0);
	assert_int_equal(ioapic_load(&other, &s), 0);
	ioapic_save(&other, &s2);
	assert_memory_equal(&s, &s2, sizeof(s));
	ioapic_destroy(&other);

	/* Loading into the live IOAPIC: pin 9 waits for its EOI, pin 10 stays masked. */
	ioapic_reset(&f->io);
	assert_int_equal(ioapic_load(&f->io, &s), 0);
	assert_int_equal(f->n, 1);
	ioapic_eoi(&f->io, 0x40);
	assert_int_equal(f->n, 2);
	/* A level line pending with Remote IRR clear is delivered by the load. */
	s.redirtbl[9] &= ~IOAPIC_RTE_REMOTE_IRR;
	assert_int_equal(ioapic_load(&f->io, &s), 0);
	assert_int_equal(f->n, 3);
	assert_int_equal(f->msgs[2].vector, 0x40);
	assert_int_equal(f->msgs[2].dest, 2);
}

static void test_load_rejects(void **state)
{
	struct fixture *f = *state;
	struct ioapic_state good, bad;

	rte_set(f, 9, 0x8040, 0);
	ioapic_save(&f->io, &good);
	struct {
		int what;
	} cases[] = {{0}, {1}, {2}, {3}, {4}, {5}, {6}};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bad = good;
		switch (cases[i].what) {
		case 0:
			bad.id = 16;
			break;
		case 1:
			bad.irr = 1u << IOAPIC_PINS;
			break;
		case 2:
			bad.ioregsel = 0x100;
			break;
		case 3:
			bad.base_address = 0xfec01000;
			break;
		case 4:
			bad.pad = 1;
			break;
		case 5:
			bad.redirtbl[4] |= IOAPIC_RTE_DELIVS;
			break;
		case 6:
			bad.redirtbl[4] |= IOAPIC_RTE_REMOTE_IRR; /* edge entry */
			break;
		}
		assert_int_equal(ioapic_load(&f->io, &bad), -EINVAL);
	}
	/* Nothing changed. */
	ioapic_save(&f->io, &bad);
	assert_memory_equal(&good, &bad, sizeof(good));
	/* Remote IRR on a level entry is fine. */
	bad.redirtbl[9] |= IOAPIC_RTE_REMOTE_IRR;
	assert_int_equal(ioapic_load(&f->io, &bad), 0);
	assert_int_equal(f->n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_id_version_arbitration, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reset_masks_all, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_redirection_halves, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_edge_rising_only, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_level_remote_irr, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_masked_pins, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_eoi_register, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_nmi_extint_are_edge, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_callback_reenters, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_save_load, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_load_rejects, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
