/* Unit tests for fw_cfg (traditional PIO interface), driven through its bus ops. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "hw/fw_cfg.h"

static int setup(void **state)
{
	struct fw_cfg *fc;
	assert_int_equal(fw_cfg_create(&fc), 0);
	*state = fc;
	return 0;
}

static int teardown(void **state)
{
	fw_cfg_destroy(*state);
	return 0;
}

static void sel(struct fw_cfg *fc, uint16_t key)
{
	fw_cfg_ops.write(fc, 0, 2, key);
}

static void read_n(struct fw_cfg *fc, uint8_t *buf, size_t n)
{
	for (size_t i = 0; i < n; i++)
		buf[i] = (uint8_t)fw_cfg_ops.read(fc, 1, 1);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void test_signature_and_id(void **state)
{
	struct fw_cfg *fc = *state;
	uint8_t buf[8];
	read_n(fc, buf, 6); /* key 0 is selected at creation */
	assert_memory_equal(buf, "QEMU\0\0", 6);
	sel(fc, FW_CFG_ID);
	read_n(fc, buf, 4);
	assert_memory_equal(buf, "\x01\0\0\0", 4);
	/* Reselecting restarts; an 8-bit read at 0x510 also reads data, as in QEMU. */
	sel(fc, FW_CFG_SIGNATURE);
	assert_int_equal(fw_cfg_ops.read(fc, 0, 1), 'Q');
	assert_int_equal(fw_cfg_ops.read(fc, 1, 1), 'E');
	/* Other sizes read all ones and do not advance. */
	assert_int_equal(fw_cfg_ops.read(fc, 0, 2) & 0xffff, 0xffff);
	assert_int_equal(fw_cfg_ops.read(fc, 1, 1), 'M');
	/* Empty directory. */
	sel(fc, FW_CFG_FILE_DIR);
	read_n(fc, buf, 5);
	assert_memory_equal(buf, "\0\0\0\0\0", 5);
}

static void test_integers_and_strings(void **state)
{
	struct fw_cfg *fc = *state;
	uint8_t buf[16];
	assert_int_equal(fw_cfg_add_u64(fc, FW_CFG_RAM_SIZE, 0x0123456789abcdefull), 0);
	assert_int_equal(fw_cfg_add_u16(fc, FW_CFG_NB_CPUS, 0x0304), 0);
	assert_int_equal(fw_cfg_add_u32(fc, FW_CFG_KERNEL_SIZE, 0xa1b2c3d4), 0);
	assert_int_equal(fw_cfg_add_string(fc, FW_CFG_CMDLINE_DATA, "console=ttyS0"), 0);
	assert_int_equal(fw_cfg_add_bytes(fc, FW_CFG_UUID, "0123456789abcdef", 16), 0);
	assert_int_equal(fw_cfg_add_bytes(fc, FW_CFG_NUMA, NULL, 0), 0);

	sel(fc, FW_CFG_RAM_SIZE);
	read_n(fc, buf, 9);
	assert_memory_equal(buf, "\xef\xcd\xab\x89\x67\x45\x23\x01\0", 9);
	sel(fc, FW_CFG_NB_CPUS);
	read_n(fc, buf, 3);
	assert_memory_equal(buf, "\x04\x03\0", 3);
	sel(fc, FW_CFG_KERNEL_SIZE);
	read_n(fc, buf, 4);
	assert_memory_equal(buf, "\xd4\xc3\xb2\xa1", 4);
	sel(fc, FW_CFG_CMDLINE_DATA);
	read_n(fc, buf, 15);
	assert_memory_equal(buf, "console=ttyS0\0\0", 15); /* NUL included, then zeros */
	sel(fc, FW_CFG_UUID);
	read_n(fc, buf, 16);
	assert_memory_equal(buf, "0123456789abcdef", 16);
	sel(fc, FW_CFG_NUMA);
	assert_int_equal(fw_cfg_ops.read(fc, 1, 1), 0);

	/* The copy is the fw_cfg's own. */
	char s[] = "abc";
	assert_int_equal(fw_cfg_add_string(fc, FW_CFG_BOOT_DEVICE, s), 0);
	s[0] = 'x';
	sel(fc, FW_CFG_BOOT_DEVICE);
	assert_int_equal(fw_cfg_ops.read(fc, 1, 1), 'a');
}

static void test_keys(void **state)
{
	struct fw_cfg *fc = *state;
	uint8_t buf[4];

	/* Unknown keys, generic or arch-local, read zeros. */
	sel(fc, FW_CFG_MAX_CPUS);
	read_n(fc, buf, 4);
	assert_memory_equal(buf, "\0\0\0\0", 4);
	sel(fc, 0x8003);
	assert_int_equal(fw_cfg_ops.read(fc, 1, 1), 0);
	sel(fc, 0x3fff);
	assert_int_equal(fw_cfg_ops.read(fc, 1, 1), 0);

	assert_int_equal(fw_cfg_add_u32(fc, FW_CFG_ARCH_LOCAL | 3, 0x11223344), 0);
	assert_int_equal(fw_cfg_add_u16(fc, 3, 0x5566), 0);
	sel(fc, 0x8003);
	assert_int_equal(fw_cfg_ops.read(fc, 1, 1), 0x44);
	sel(fc, 0x0003);
	assert_int_equal(fw_cfg_ops.read(fc, 1, 1), 0x66);
	/* The write bit does not change which item is selected. */
	sel(fc, FW_CFG_WRITE_CHANNEL | 0x8003);
	assert_int_equal(fw_cfg_ops.read(fc, 1, 1), 0x44);
	/* Data writes are ignored, and an 8-bit write to 0x510 is not a select. */
	fw_cfg_ops.write(fc, 1, 1, 0xee);
	fw_cfg_ops.write(fc, 0, 1, 0x00);
	assert_int_equal(fw_cfg_ops.read(fc, 1, 1), 0x33);

	assert_int_equal(fw_cfg_add_u16(fc, 3, 1), -EEXIST);
	assert_int_equal(fw_cfg_add_u16(fc, FW_CFG_SIGNATURE, 1), -EEXIST);
	assert_int_equal(fw_cfg_add_u16(fc, FW_CFG_FILE_DIR, 1), -EINVAL);
	assert_int_equal(fw_cfg_add_u16(fc, FW_CFG_FILE_FIRST, 1), -EINVAL);
	assert_int_equal(fw_cfg_add_u16(fc, FW_CFG_WRITE_CHANNEL | 5, 1), -EINVAL);
	assert_int_equal(fw_cfg_add_u16(fc, FW_CFG_MAX_ENTRY, 1), -EINVAL);
	assert_int_equal(fw_cfg_add_u16(fc, FW_CFG_ARCH_LOCAL | FW_CFG_MAX_ENTRY, 1), -EINVAL);
	assert_int_equal(fw_cfg_add_bytes(fc, 6, NULL, 4), -EINVAL);
	assert_int_equal(fw_cfg_add_string(fc, 6, NULL), -EINVAL);
	/* Arch-local keys may use the whole index range. */
	assert_int_equal(fw_cfg_add_u16(fc, FW_CFG_ARCH_LOCAL | FW_CFG_FILE_DIR, 7), 0);
}

static void test_files(void **state)
{
	struct fw_cfg *fc = *state;
	uint8_t dir[4 + 3 * 64], buf[8];

	assert_int_equal(fw_cfg_add_file(fc, "etc/b", "bbbb", 4), 0x20);
	assert_int_equal(fw_cfg_add_file(fc, "etc/a", "aa", 2), 0x21);
	assert_int_equal(fw_cfg_add_file(fc, "opt/z", "zzzzzz", 6), 0x22);
	assert_int_equal(fw_cfg_add_file(fc, "etc/a", "x", 1), -EEXIST);
	assert_int_equal(fw_cfg_add_file(fc, "", "x", 1), -EINVAL);
	assert_int_equal(fw_cfg_add_file(fc, NULL, "x", 1), -EINVAL);

	sel(fc, FW_CFG_FILE_DIR);
	read_n(fc, dir, sizeof(dir));
	assert_int_equal(be32(dir), 3);
	static const struct {
		const char *name;
		uint32_t size;
		uint16_t select;
	} want[] = {{"etc/a", 2, 0x21}, {"etc/b", 4, 0x20}, {"opt/z", 6, 0x22}};
	for (unsigned i = 0; i < 3; i++) {
		const uint8_t *e = dir + 4 + 64 * i;
		assert_int_equal(be32(e), want[i].size);
		assert_int_equal((e[4] << 8) | e[5], want[i].select);
		assert_int_equal(e[6] | e[7], 0);
		assert_string_equal((const char *)e + 8, want[i].name);
		for (unsigned j = 8 + (unsigned)strlen(want[i].name); j < 64; j++)
			assert_int_equal(e[j], 0);
	}
	sel(fc, 0x21);
	read_n(fc, buf, 3);
	assert_memory_equal(buf, "aa\0", 3);
	sel(fc, 0x22);
	read_n(fc, buf, 6);
	assert_memory_equal(buf, "zzzzzz", 6);
}

static void test_file_limits(void **state)
{
	struct fw_cfg *fc = *state;
	char name[64];

	memset(name, 'n', sizeof(name));
	name[FW_CFG_MAX_FILE_NAME] = 0; /* 56 characters: too long */
	assert_int_equal(fw_cfg_add_file(fc, name, "x", 1), -ENAMETOOLONG);
	name[FW_CFG_MAX_FILE_NAME - 1] = 0; /* 55: fits */
	assert_int_equal(fw_cfg_add_file(fc, name, "x", 1), FW_CFG_FILE_FIRST);
	for (unsigned i = 1; i < FW_CFG_FILE_SLOTS; i++) {
		snprintf(name, sizeof(name), "f%02u", FW_CFG_FILE_SLOTS - i);
		assert_int_equal(fw_cfg_add_file(fc, name, &i, sizeof(i)), FW_CFG_FILE_FIRST + i);
	}
	assert_int_equal(fw_cfg_add_file(fc, "late", "x", 1), -ENOSPC);
	/* The directory is sorted: "f01" first, the long "nnn..." name last. */
	uint8_t e[8 + 8];
	sel(fc, FW_CFG_FILE_DIR);
	read_n(fc, e, 4);
	assert_int_equal(be32(e), FW_CFG_FILE_SLOTS);
	read_n(fc, e, sizeof(e));
	assert_int_equal((e[4] << 8) | e[5], FW_CFG_FILE_FIRST + FW_CFG_FILE_SLOTS - 1);
	assert_memory_equal(e + 8, "f01", 4);
}

static void test_save_load(void **state)
{
	struct fw_cfg *fc = *state, *fc2;
	struct fw_cfg_state st, st2;
	uint8_t buf[4];

	assert_int_equal(fw_cfg_add_file(fc, "etc/x", "123456", 6), 0x20);
	sel(fc, 0x20);
	read_n(fc, buf, 2);
	fw_cfg_save(fc, &st);
	assert_int_equal(st.selector, 0x20);
	assert_int_equal(st.offset, 2);

	assert_int_equal(fw_cfg_create(&fc2), 0);
	assert_int_equal(fw_cfg_add_file(fc2, "etc/x", "123456", 6), 0x20);
	assert_int_equal(fw_cfg_load(fc2, &st), 0);
	fw_cfg_save(fc2, &st2);
	assert_memory_equal(&st, &st2, sizeof(st));
	read_n(fc2, buf, 4);
	assert_memory_equal(buf, "3456", 4);

	/* Malformed: offset past the end, offset into an unknown key, reserved bits. */
	struct fw_cfg_state bad = {0x20, 0, 7};
	assert_int_equal(fw_cfg_load(fc2, &bad), -EINVAL);
	bad = (struct fw_cfg_state){0x21, 0, 1};
	assert_int_equal(fw_cfg_load(fc2, &bad), -EINVAL);
	bad = (struct fw_cfg_state){0x20, 1, 0};
	assert_int_equal(fw_cfg_load(fc2, &bad), -EINVAL);
	fw_cfg_save(fc2, &st2);
	assert_int_equal(st2.selector, 0x20);
	assert_int_equal(st2.offset, 6); /* unchanged by the rejected loads */
	/* At the end and on an unknown key with offset 0 are fine. */
	bad = (struct fw_cfg_state){0x20, 0, 6};
	assert_int_equal(fw_cfg_load(fc2, &bad), 0);
	bad = (struct fw_cfg_state){0x8123, 0, 0};
	assert_int_equal(fw_cfg_load(fc2, &bad), 0);

	fw_cfg_reset(fc2);
	assert_int_equal(fw_cfg_ops.read(fc2, 1, 1), 'Q');
	fw_cfg_destroy(fc2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_signature_and_id, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_integers_and_strings, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_keys, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_files, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_file_limits, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_save_load, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
