/* Unit tests for the isa-debug-exit compatible device. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "hw/debug_exit.h"

struct fake {
	int calls;
	enum vm_exit_kind kind;
	int code;
};

static void fake_exit(void *ctx, enum vm_exit_kind kind, int code)
{
	struct fake *f = ctx;
	f->calls++;
	f->kind = kind;
	f->code = code;
}

static void test_write_sizes(void **state)
{
	struct fake f = {0};
	struct exit_sink sink = {fake_exit, &f};
	struct debug_exit *d;

	(void)state;
	assert_int_equal(debug_exit_create(sink, &d), 0);
	debug_exit_ops.write(d, 0, 1, 0x01);
	assert_int_equal(f.calls, 1);
	assert_int_equal(f.kind, VM_EXIT_DEBUG);
	assert_int_equal(f.code, 1);
	debug_exit_ops.write(d, 0, 2, 0x1234);
	assert_int_equal(f.calls, 2);
	assert_int_equal(f.code, 0x1234);
	debug_exit_ops.write(d, 0, 4, 0x31); /* iosize=4 users */
	assert_int_equal(f.calls, 3);
	assert_int_equal(f.code, 0x31);
	debug_exit_ops.write(d, 2, 1, 0); /* any port of the range, value 0 included */
	assert_int_equal(f.calls, 4);
	assert_int_equal(f.code, 0);
	debug_exit_ops.write(d, 0, 4, 0xffffffffu);
	assert_int_equal((unsigned)f.code, 0xffffffffu);
	debug_exit_ops.write(d, 0, 8, 1); /* not an I/O port size: ignored */
	assert_int_equal(f.calls, 5);
	assert_int_equal(debug_exit_ops.read(d, 0, 4), 0);
	assert_int_equal(debug_exit_ops.read(d, 3, 1), 0);
	assert_int_equal(f.calls, 5);
	debug_exit_destroy(d);
}

static void test_through_bus(void **state)
{
	struct fake f = {0};
	struct exit_sink sink = {fake_exit, &f};
	struct debug_exit *d;
	struct bus pio;
	uint64_t v;

	(void)state;
	assert_int_equal(debug_exit_create(sink, &d), 0);
	assert_int_equal(bus_init(&pio, BUS_PIO), 0);
	assert_int_equal(bus_register(&pio, 0xf4, DEBUG_EXIT_LEN, &debug_exit_ops, d, "debug-exit"),
			 0);
	assert_int_equal(bus_write(&pio, 0xf4, 4, 0x10), 1);
	assert_int_equal(f.code, 0x10);
	assert_int_equal(bus_write(&pio, 0xf5, 2, 0x2a), 1);
	assert_int_equal(f.code, 0x2a);
	assert_int_equal(bus_read(&pio, 0xf4, 1, &v), 1);
	assert_int_equal(v, 0);
	assert_int_equal(f.calls, 2);
	bus_destroy(&pio);
	debug_exit_destroy(d);
}

static void test_state(void **state)
{
	struct exit_sink sink = {0};
	struct debug_exit *d;
	struct debug_exit_state st = {7};

	(void)state;
	assert_int_equal(debug_exit_create(sink, &d), 0);
	debug_exit_ops.write(d, 0, 1, 3); /* no sink: nothing happens, no crash */
	debug_exit_save(d, &st);
	assert_int_equal(st.reserved, 0);
	assert_int_equal(debug_exit_load(d, &st), 0);
	st.reserved = 1;
	assert_int_equal(debug_exit_load(d, &st), -EINVAL);
	debug_exit_reset(d);
	debug_exit_destroy(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_write_sizes),
	    cmocka_unit_test(test_through_bus),
	    cmocka_unit_test(test_state),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
