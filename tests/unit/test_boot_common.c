/* Boot dispatcher (detection, argument checks, error text) and boot_read_file. */
#include "boot_test_util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

static void test_boot_empty_and_unknown(void **state)
{
	struct fake_vm *v = fake_vm_new(TEST_RAM);
	static uint8_t junk[20000];

	assert_int_equal(run_boot(v, junk, 0, NULL, 0, NULL), -ENOEXEC);
	assert_string_equal(v->err, "kernel: image is empty");
	assert_int_equal(run_boot(v, NULL, 100, NULL, 0, NULL), -ENOEXEC);
	assert_int_equal(run_boot(v, junk, 1, NULL, 0, NULL), -ENOEXEC);
	assert_string_equal(v->err, "kernel: not a bzImage, multiboot or PVH ELF image");
	fill_pattern(junk, sizeof(junk), 1);
	assert_int_equal(run_boot(v, junk, sizeof(junk), NULL, 0, NULL), -ENOEXEC);
	assert_string_equal(v->err, "kernel: not a bzImage, multiboot or PVH ELF image");
	/* Only the boot flag: not enough for a bzImage. */
	memset(junk, 0, sizeof(junk));
	st16(junk + 0x1fe, 0xAA55);
	assert_int_equal(run_boot(v, junk, sizeof(junk), NULL, 0, NULL), -ENOEXEC);
	assert_string_equal(v->err, "kernel: not a bzImage, multiboot or PVH ELF image");
	/* An initrd length without data is a caller bug. */
	assert_int_equal(run_boot(v, junk, sizeof(junk), NULL, 10, NULL), -EINVAL);
	fake_vm_free(v);
}

static void test_boot_bad_args(void **state)
{
	struct fake_vm *v = fake_vm_new(TEST_RAM);
	uint8_t k[16] = {0};
	struct boot_input in = {.kernel = k, .kernel_len = sizeof(k)};
	char err[8];

	assert_int_equal(boot_load(NULL, &v->e820, &in, &v->res, v->err, sizeof(v->err)), -EINVAL);
	assert_int_equal(boot_load(&v->gm, NULL, &in, &v->res, v->err, sizeof(v->err)), -EINVAL);
	assert_int_equal(boot_load(&v->gm, &v->e820, NULL, &v->res, v->err, sizeof(v->err)),
			 -EINVAL);
	assert_int_equal(boot_load(&v->gm, &v->e820, &in, NULL, v->err, sizeof(v->err)), -EINVAL);
	/* No error buffer at all, and a tiny one (always NUL-terminated). */
	assert_int_equal(boot_load(&v->gm, &v->e820, &in, &v->res, NULL, 0), -ENOEXEC);
	memset(err, 'x', sizeof(err));
	assert_int_equal(boot_load(&v->gm, &v->e820, &in, &v->res, err, sizeof(err)), -ENOEXEC);
	assert_string_equal(err, "kernel:");

	/* A memory map without RAM at 1 MiB. */
	struct e820_map m = v->e820;
	m.nr = 3;
	assert_int_equal(boot_load(&v->gm, &m, &in, &v->res, v->err, sizeof(v->err)), -EINVAL);
	assert_err_has(v, "1 MiB");
	fake_vm_free(v);
}

static void test_boot_kind_name(void **state)
{
	assert_string_equal(boot_kind_name(BOOT_MULTIBOOT), "multiboot");
	assert_string_equal(boot_kind_name(BOOT_PVH), "pvh");
	assert_string_equal(boot_kind_name(BOOT_BZIMAGE), "bzimage");
	assert_string_equal(boot_kind_name((enum boot_kind)42), "unknown");
}

struct tmpdir {
	char path[64];
	char file[128];
};

static void tmp_setup(struct tmpdir *t)
{
	strcpy(t->path, "/tmp/vmon-boot-XXXXXX");
	assert_non_null(mkdtemp(t->path));
	snprintf(t->file, sizeof(t->file), "%s/f", t->path);
}

static void tmp_write(const char *path, const void *buf, size_t len)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static void tmp_cleanup(struct tmpdir *t)
{
	unlink(t->file);
	rmdir(t->path);
}

static void test_read_file_ok(void **state)
{
	struct tmpdir t;
	uint8_t *data = malloc(300000), *buf;
	size_t len;
	char err[256];

	tmp_setup(&t);
	fill_pattern(data, 300000, 3);
	tmp_write(t.file, data, 300000);
	assert_int_equal(boot_read_file(t.file, &buf, &len, 300000, err, sizeof(err)), 0);
	assert_int_equal(len, 300000);
	assert_memory_equal(buf, data, len);
	free(buf);

	/* One byte over the limit. */
	assert_int_equal(boot_read_file(t.file, &buf, &len, 299999, err, sizeof(err)), -EFBIG);
	assert_null(buf);
	assert_non_null(strstr(err, t.file));
	assert_non_null(strstr(err, "larger than the limit"));

	/* Empty. */
	tmp_write(t.file, data, 0);
	assert_int_equal(boot_read_file(t.file, &buf, &len, 100, err, sizeof(err)), -EINVAL);
	assert_null(buf);
	assert_non_null(strstr(err, "is empty"));
	tmp_cleanup(&t);
	free(data);
}

static void test_read_file_errors(void **state)
{
	struct tmpdir t;
	uint8_t *buf = (uint8_t *)1;
	size_t len = 1;
	char err[256];

	tmp_setup(&t);
	assert_int_equal(boot_read_file(t.file, &buf, &len, 100, err, sizeof(err)), -ENOENT);
	assert_null(buf);
	assert_int_equal(len, 0);
	assert_non_null(strstr(err, t.file));
	assert_non_null(strstr(err, "No such file"));

	assert_int_equal(boot_read_file(t.path, &buf, &len, 100, err, sizeof(err)), -EISDIR);
	assert_non_null(strstr(err, "is a directory"));
	tmp_cleanup(&t);
}

static void test_read_file_pipe(void **state)
{
	int fds[2];
	char path[64], err[256];
	uint8_t data[3000], *buf;
	size_t len;

	assert_int_equal(pipe(fds), 0);
	fill_pattern(data, sizeof(data), 8);
	assert_int_equal(write(fds[1], data, sizeof(data)), (ssize_t)sizeof(data));
	close(fds[1]);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fds[0]);
	assert_int_equal(boot_read_file(path, &buf, &len, 1 << 20, err, sizeof(err)), 0);
	assert_int_equal(len, sizeof(data));
	assert_memory_equal(buf, data, len);
	free(buf);
	close(fds[0]);

	/* A pipe longer than the limit: stops reading at the limit. */
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(write(fds[1], data, sizeof(data)), (ssize_t)sizeof(data));
	close(fds[1]);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fds[0]);
	assert_int_equal(boot_read_file(path, &buf, &len, 2999, err, sizeof(err)), -EFBIG);
	assert_null(buf);
	close(fds[0]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_boot_empty_and_unknown), cmocka_unit_test(test_boot_bad_args),
	    cmocka_unit_test(test_boot_kind_name),	   cmocka_unit_test(test_read_file_ok),
	    cmocka_unit_test(test_read_file_errors),	   cmocka_unit_test(test_read_file_pipe),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
