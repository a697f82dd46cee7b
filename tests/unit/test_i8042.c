/* Unit tests for the i8042 keyboard controller, driven through its two bus ops. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "hw/i8042.h"

struct fake {
	int level[16];
	int rises[16];
	int exits;
	enum vm_exit_kind exit_kind;
	int exit_code;
};

struct fixture {
	struct fake f;
	struct i8042 *k;
};

static void fake_irq_set(void *ctx, unsigned gsi, int level)
{
	struct fake *f = ctx;
	assert_true(gsi == 1 || gsi == 12);
	if (level && !f->level[gsi])
		f->rises[gsi]++;
	f->level[gsi] = level;
}

static void fake_exit(void *ctx, enum vm_exit_kind kind, int code)
{
	struct fake *f = ctx;
	f->exits++;
	f->exit_kind = kind;
	f->exit_code = code;
}

static int setup(void **state)
{
	struct fixture *fx = test_calloc(1, sizeof(*fx));
	struct irq_line kbd = {fake_irq_set, &fx->f, 1};
	struct irq_line aux = {fake_irq_set, &fx->f, 12};
	struct exit_sink ex = {fake_exit, &fx->f};
	assert_int_equal(i8042_create(kbd, aux, ex, &fx->k), 0);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	i8042_destroy(fx->k);
	test_free(fx);
	return 0;
}

static uint8_t status(struct i8042 *k)
{
	return (uint8_t)i8042_cmd_ops.read(k, 0, 1);
}

static void cmd(struct i8042 *k, uint8_t v)
{
	i8042_cmd_ops.write(k, 0, 1, v);
}

static void data_w(struct i8042 *k, uint8_t v)
{
	i8042_data_ops.write(k, 0, 1, v);
}

static uint8_t data_r(struct i8042 *k)
{
	return (uint8_t)i8042_data_ops.read(k, 0, 1);
}

/* Read one byte that must be waiting, checking whether it is aux data. */
static uint8_t expect_byte(struct i8042 *k, int aux)
{
	uint8_t s = status(k);
	assert_true(s & 0x01);
	assert_int_equal(!!(s & 0x20), aux);
	return data_r(k);
}

static void expect_empty(struct i8042 *k)
{
	assert_int_equal(status(k) & 0x21, 0);
}

static void test_power_on(void **state)
{
	struct fixture *fx = *state;
	uint8_t s = status(fx->k);
	assert_int_equal(s & 0x01, 0);	  /* nothing to read */
	assert_int_equal(s & 0x02, 0);	  /* input buffer always free */
	assert_int_equal(s & 0x04, 0x04); /* system flag */
	assert_int_equal(s & 0x10, 0x10); /* keyboard not inhibited (no keylock) */
	cmd(fx->k, 0x20);
	assert_int_equal(expect_byte(fx->k, 0), 0x07);
	expect_empty(fx->k);
	assert_int_equal(fx->f.exits, 0);
}

static void test_command_byte(void **state)
{
	struct fixture *fx = *state;
	cmd(fx->k, 0x60);
	assert_int_equal(status(fx->k) & 0x08, 0x08); /* last write was a command */
	data_w(fx->k, 0x61);
	assert_int_equal(status(fx->k) & 0x08, 0x00);
	cmd(fx->k, 0x20);
	assert_int_equal(expect_byte(fx->k, 0), 0x61);
	cmd(fx->k, 0x60);
	data_w(fx->k, 0x00); /* SYS flag follows the command byte */
	assert_int_equal(status(fx->k) & 0x04, 0);
	/* The rest of the internal RAM. */
	cmd(fx->k, 0x65);
	data_w(fx->k, 0x9c);
	cmd(fx->k, 0x25);
	assert_int_equal(expect_byte(fx->k, 0), 0x9c);
	/* A command aborts a pending data expectation: this byte goes to the keyboard. */
	cmd(fx->k, 0x60);
	cmd(fx->k, 0xae);
	data_w(fx->k, 0xf4);
	assert_int_equal(expect_byte(fx->k, 0), 0xfa);
	cmd(fx->k, 0x20);
	assert_int_equal(expect_byte(fx->k, 0), 0x00);
}

static void test_self_tests_and_ports(void **state)
{
	struct fixture *fx = *state;
	cmd(fx->k, 0xaa);
	assert_int_equal(expect_byte(fx->k, 0), 0x55);
	cmd(fx->k, 0xab);
	assert_int_equal(expect_byte(fx->k, 0), 0x00);
	cmd(fx->k, 0xa9);
	assert_int_equal(expect_byte(fx->k, 0), 0x00);
	cmd(fx->k, 0xad);
	cmd(fx->k, 0xa7);
	cmd(fx->k, 0x20);
	assert_int_equal(expect_byte(fx->k, 0), 0x37);
	cmd(fx->k, 0xae);
	cmd(fx->k, 0x20);
	assert_int_equal(expect_byte(fx->k, 0), 0x27);
	cmd(fx->k, 0xa8);
	cmd(fx->k, 0x20);
	assert_int_equal(expect_byte(fx->k, 0), 0x07);
	cmd(fx->k, 0xd0);
	assert_int_equal(expect_byte(fx->k, 0), 0xcf);
	cmd(fx->k, 0xd1);
	data_w(fx->k, 0xdd); /* A20 off, reset line high: no reset */
	cmd(fx->k, 0xd0);
	assert_int_equal(expect_byte(fx->k, 0), 0xcd);
	assert_int_equal(fx->f.exits, 0);
	/* Unknown controller commands are ignored. */
	cmd(fx->k, 0xc7);
	expect_empty(fx->k);
}

static void test_keyboard_commands(void **state)
{
	struct fixture *fx = *state;
	static const struct {
		uint8_t out[2];
		unsigned nout;
		uint8_t in[3];
		unsigned nin;
	} cases[] = {
	    {{0xff}, 1, {0xfa, 0xaa}, 2},
	    {{0xf2}, 1, {0xfa, 0xab, 0x83}, 3},
	    {{0xed, 0x07}, 2, {0xfa, 0xfa}, 2},
	    {{0xf3, 0x2b}, 2, {0xfa, 0xfa}, 2},
	    {{0xf4}, 1, {0xfa}, 1},
	    {{0xf5}, 1, {0xfa}, 1},
	    {{0xf6}, 1, {0xfa}, 1},
	    {{0xee}, 1, {0xee}, 1},
	    {{0x01}, 1, {0xfe}, 1},
	    {{0xf0, 0x00}, 2, {0xfa, 0xfa, 0x02}, 3},
	    {{0xf0, 0x01}, 2, {0xfa, 0xfa}, 2},
	    {{0xf0, 0x00}, 2, {0xfa, 0xfa, 0x01}, 3},
	    {{0xf0, 0x09}, 2, {0xfa, 0xfe}, 2},
	};
	for (unsigned c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		for (unsigned i = 0; i < cases[c].nout; i++)
			data_w(fx->k, cases[c].out[i]);
		for (unsigned i = 0; i < cases[c].nin; i++)
			assert_int_equal(expect_byte(fx->k, 0), cases[c].in[i]);
		expect_empty(fx->k);
	}
	/* With translation on, the controller turns the ID's 0x83 into 0x41. */
	cmd(fx->k, 0x60);
	data_w(fx->k, 0x47);
	data_w(fx->k, 0xf2);
	assert_int_equal(expect_byte(fx->k, 0), 0xfa);
	assert_int_equal(expect_byte(fx->k, 0), 0xab);
	assert_int_equal(expect_byte(fx->k, 0), 0x41);
}

static void test_kbd_irq_edges(void **state)
{
	struct fixture *fx = *state;
	data_w(fx->k, 0xf2);
	assert_int_equal(fx->f.level[1], 1);
	assert_int_equal(fx->f.rises[1], 1);
	data_r(fx->k);
	data_r(fx->k);
	assert_int_equal(fx->f.rises[1], 3); /* one edge per byte */
	assert_int_equal(data_r(fx->k), 0x83);
	assert_int_equal(fx->f.level[1], 0);
	assert_int_equal(data_r(fx->k), 0x83); /* stale byte, no side effect */
	assert_int_equal(fx->f.rises[1], 3);
	assert_int_equal(fx->f.rises[12], 0);

	/* KBDINT clear: data arrives, no interrupt; setting it raises the line. */
	cmd(fx->k, 0x60);
	data_w(fx->k, 0x04);
	data_w(fx->k, 0xf4);
	assert_int_equal(status(fx->k) & 1, 1);
	assert_int_equal(fx->f.level[1], 0);
	cmd(fx->k, 0x60); /* enabling KBDINT with data waiting raises the line */
	data_w(fx->k, 0x05);
	assert_int_equal(fx->f.level[1], 1);
	assert_int_equal(data_r(fx->k), 0xfa);
	assert_int_equal(fx->f.level[1], 0);
}

static void test_disabled_kbd_holds_data(void **state)
{
	struct fixture *fx = *state;
	cmd(fx->k, 0xad);
	data_w(fx->k, 0xff);
	expect_empty(fx->k);
	cmd(fx->k, 0x20); /* controller replies still get through */
	assert_int_equal(expect_byte(fx->k, 0), 0x17);
	cmd(fx->k, 0xae);
	assert_int_equal(expect_byte(fx->k, 0), 0xfa);
	assert_int_equal(expect_byte(fx->k, 0), 0xaa);
	expect_empty(fx->k);
}

static void test_aux_commands(void **state)
{
	struct fixture *fx = *state;
	cmd(fx->k, 0xd4);
	data_w(fx->k, 0xff);
	assert_int_equal(fx->f.level[12], 1);
	assert_int_equal(fx->f.level[1], 0);
	assert_int_equal(expect_byte(fx->k, 1), 0xfa);
	assert_int_equal(expect_byte(fx->k, 1), 0xaa);
	assert_int_equal(expect_byte(fx->k, 1), 0x00);
	assert_int_equal(fx->f.rises[12], 3);
	assert_int_equal(fx->f.level[12], 0);
	expect_empty(fx->k);

	static const uint8_t seq[] = {0xf2, 0xf3, 200, 0xe8, 3, 0xe7, 0xf4, 0xe9, 0xe1, 0xe8, 9};
	static const uint8_t want[] = {0xfa, 0x00, 0xfa, 0xfa, 0xfa, 0xfa, 0xfa, 0xfa,
				       0xfa, 0x30, 3,	 200,  0xfe, 0xfa, 0xfe};
	for (unsigned i = 0; i < sizeof(seq); i++) {
		cmd(fx->k, 0xd4);
		data_w(fx->k, seq[i]);
	}
	for (unsigned i = 0; i < sizeof(want); i++)
		assert_int_equal(expect_byte(fx->k, 1), want[i]);
	expect_empty(fx->k);

	/* Aux data waits while the aux interface is disabled. */
	cmd(fx->k, 0xa7);
	cmd(fx->k, 0xd4);
	data_w(fx->k, 0xf5);
	expect_empty(fx->k);
	cmd(fx->k, 0xa8);
	assert_int_equal(expect_byte(fx->k, 1), 0xfa);
}

static void test_write_output_buffer(void **state)
{
	struct fixture *fx = *state;
	cmd(fx->k, 0xd2);
	data_w(fx->k, 0x1c);
	assert_int_equal(fx->f.level[1], 1);
	assert_int_equal(expect_byte(fx->k, 0), 0x1c);
	cmd(fx->k, 0xd3);
	data_w(fx->k, 0x5a);
	assert_int_equal(fx->f.level[12], 1);
	assert_int_equal(fx->f.level[1], 0);
	assert_int_equal(expect_byte(fx->k, 1), 0x5a);
	assert_int_equal(fx->f.level[12], 0);
}

/* The sequence Linux's i8042 driver runs at probe: flush, stable CTR read, CTR write, aux
 * loopback test, aux disable/enable bit test, MUX detection (must fail: not a MUX). */
static void test_linux_probe(void **state)
{
	struct fixture *fx = *state;
	uint8_t c1, c2;
	for (unsigned i = 0; i < 16 && (status(fx->k) & 1); i++)
		data_r(fx->k);
	cmd(fx->k, 0x20);
	c1 = expect_byte(fx->k, 0);
	cmd(fx->k, 0x20);
	c2 = expect_byte(fx->k, 0);
	assert_int_equal(c1, c2);
	assert_true(status(fx->k) & 0x10);
	cmd(fx->k, 0x60);
	data_w(fx->k, (uint8_t)((c1 | 0x10) & ~0x01));
	cmd(fx->k, 0xd3);
	data_w(fx->k, 0x5a);
	assert_int_equal(expect_byte(fx->k, 1), 0x5a);
	cmd(fx->k, 0xa7);
	cmd(fx->k, 0x20);
	assert_true(expect_byte(fx->k, 0) & 0x20);
	cmd(fx->k, 0xa8);
	cmd(fx->k, 0x20);
	assert_false(expect_byte(fx->k, 0) & 0x20);
	static const uint8_t mux[] = {0xf0, 0x56, 0xa4};
	for (unsigned i = 0; i < 3; i++) {
		cmd(fx->k, 0xd3);
		data_w(fx->k, mux[i]);
		assert_int_equal(expect_byte(fx->k, 1), mux[i]); /* echo: no MUX version */
	}
	assert_int_equal(fx->f.exits, 0);
}

static void test_reset_requests(void **state)
{
	struct fixture *fx = *state;
	cmd(fx->k, 0xff); /* pulse nothing */
	cmd(fx->k, 0xfd); /* bit 0 not pulsed */
	assert_int_equal(fx->f.exits, 0);
	cmd(fx->k, 0xfe);
	assert_int_equal(fx->f.exits, 1);
	assert_int_equal(fx->f.exit_kind, VM_EXIT_RESET);
	assert_int_equal(fx->f.exit_code, 0);
	cmd(fx->k, 0xf0);
	assert_int_equal(fx->f.exits, 2);
	cmd(fx->k, 0xd1);
	data_w(fx->k, 0xfe);
	assert_int_equal(fx->f.exits, 3);
	assert_int_equal(fx->f.exit_kind, VM_EXIT_RESET);
	cmd(fx->k, 0xd1);
	data_w(fx->k, 0xff);
	assert_int_equal(fx->f.exits, 3);
}

static void test_save_load(void **state)
{
	struct fixture *fx = *state;
	struct fake f2 = {0};
	struct irq_line kbd = {fake_irq_set, &f2, 1};
	struct irq_line aux = {fake_irq_set, &f2, 12};
	struct exit_sink ex = {fake_exit, &f2};
	struct i8042_state st, st2;
	struct i8042 *k2;

	cmd(fx->k, 0xad);
	data_w(fx->k, 0xf2); /* held in the keyboard queue */
	cmd(fx->k, 0xd4);
	data_w(fx->k, 0xe8); /* mouse waits for its argument */
	cmd(fx->k, 0xd1);    /* controller waits for its data byte */
	i8042_save(fx->k, &st);
	assert_int_equal(st.obf, 1);
	assert_int_equal(st.ob_aux, 1);
	assert_int_equal(st.kbd_count, 3);
	assert_int_equal(st.pending_cmd, 0xd1);

	assert_int_equal(i8042_create(kbd, aux, ex, &k2), 0);
	assert_int_equal(i8042_load(k2, &st), 0);
	assert_int_equal(f2.level[12], 1); /* line recomputed */
	i8042_save(k2, &st2);
	assert_memory_equal(&st, &st2, sizeof(st));
	data_w(k2, 0xdf); /* completes the pending 0xd1 */
	cmd(k2, 0xd0);
	assert_int_equal(expect_byte(k2, 1), 0xfa); /* the ACK of 0xe8 was first */
	assert_int_equal(expect_byte(k2, 0), 0xef); /* 0xcf | AUX OBF; written OBF bits drop */
	cmd(k2, 0xd4);
	data_w(k2, 0x01); /* the resolution argument */
	assert_int_equal(expect_byte(k2, 1), 0xfa);
	cmd(k2, 0xae);
	assert_int_equal(expect_byte(k2, 0), 0xfa);
	assert_int_equal(expect_byte(k2, 0), 0xab);
	assert_int_equal(expect_byte(k2, 0), 0x83);
	i8042_destroy(k2);
}

static void test_load_rejects(void **state)
{
	struct fixture *fx = *state;
	struct i8042_state good, bad, after;

	cmd(fx->k, 0x20);
	i8042_save(fx->k, &good);
#define REJECT(stmt)                                                                               \
	do {                                                                                       \
		bad = good;                                                                        \
		stmt;                                                                              \
		assert_int_equal(i8042_load(fx->k, &bad), -EINVAL);                                \
	} while (0)
	REJECT(bad.last_cmd = 2);
	REJECT(bad.obf = 2);
	REJECT(bad.obf = 0; bad.ob_aux = 1);
	REJECT(bad.pending_cmd = 0xaa);
	REJECT(bad.outport = 0xce);
	REJECT(bad.outport = 0xdf);
	REJECT(bad.ctrl_count = I8042_CTRL_QUEUE_SIZE + 1);
	REJECT(bad.kbd_count = I8042_QUEUE_SIZE + 1);
	REJECT(bad.aux_count = 200);
	REJECT(bad.kbd_data[3] = 0xfa);
	REJECT(bad.ctrl_count = 1; bad.ctrl_aux[0] = 2);
	REJECT(bad.kbd_cmd = 0xf2);
	REJECT(bad.kbd_set = 0);
	REJECT(bad.kbd_set = 4);
	REJECT(bad.kbd_leds = 8);
	REJECT(bad.kbd_typematic = 0x80);
	REJECT(bad.aux_cmd = 0xff);
	REJECT(bad.aux_res = 4);
	REJECT(bad.aux_scaling = 2);
#undef REJECT
	i8042_save(fx->k, &after);
	assert_memory_equal(&good, &after, sizeof(good));
	assert_int_equal(expect_byte(fx->k, 0), 0x07);
}

static void test_reset(void **state)
{
	struct fixture *fx = *state;
	cmd(fx->k, 0xd3);
	data_w(fx->k, 0x11);
	cmd(fx->k, 0x60);
	assert_int_equal(fx->f.level[12], 1);
	i8042_reset(fx->k);
	assert_int_equal(fx->f.level[12], 0);
	expect_empty(fx->k);
	data_w(fx->k, 0xee); /* no pending 0x60: goes to the keyboard */
	assert_int_equal(expect_byte(fx->k, 0), 0xee);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_power_on, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_command_byte, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_self_tests_and_ports, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_keyboard_commands, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_kbd_irq_edges, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_disabled_kbd_holds_data, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_aux_commands, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_write_output_buffer, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_linux_probe, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reset_requests, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_save_load, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_load_rejects, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reset, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
