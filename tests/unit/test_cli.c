#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "cli/args.h"

#define GiB (1ull << 30)

static char kernel_path[] = "/tmp/vmon-test-kernelXXXXXX";

static int setup(void **state)
{
	int fd = mkstemp(kernel_path);
	if (fd < 0)
		return -1;
	ssize_t n = write(fd, "x", 1);
	close(fd);
	return n == 1 ? 0 : -1;
}

static int teardown(void **state)
{
	unlink(kernel_path);
	return 0;
}

static int parse(struct vm_config *cfg, enum cli_cmd *cmd, char *err, int argc, ...)
{
	char *argv[32];
	va_list ap;
	va_start(ap, argc);
	for (int i = 0; i < argc; i++)
		argv[i] = va_arg(ap, char *);
	va_end(ap);
	argv[argc] = NULL;
	return cli_parse(argc, argv, cfg, cmd, 24 * GiB, err, 256);
}

static void test_sizes(void **state)
{
	uint64_t v;
	assert_int_equal(cli_parse_size("256M", &v), 0);
	assert_int_equal(v, 256ull << 20);
	assert_int_equal(cli_parse_size("2G", &v), 0);
	assert_int_equal(v, 2 * GiB);
	assert_int_equal(cli_parse_size("512KiB", &v), 0);
	assert_int_equal(v, 512ull << 10);
	assert_int_equal(cli_parse_size("4096", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(cli_parse_size("", &v), -EINVAL);
	assert_int_equal(cli_parse_size("-1G", &v), -EINVAL);
	assert_int_equal(cli_parse_size("12Q", &v), -EINVAL);
	assert_int_equal(cli_parse_size("1Gx", &v), -EINVAL);
	assert_int_equal(cli_parse_size("99999999999999T", &v), -ERANGE);
	assert_int_equal(cli_parse_size("99999999999999999999999", &v), -ERANGE);
}

static void test_run_defaults_and_options(void **state)
{
	struct vm_config cfg;
	enum cli_cmd cmd;
	char err[256];
	assert_int_equal(parse(&cfg, &cmd, err, 4, "vmon", "run", "--kernel", kernel_path), 0);
	assert_int_equal(cmd, CLI_RUN);
	assert_int_equal(cfg.mem_size, CLI_DEFAULT_MEM);
	assert_int_equal(cfg.ncpus, 1);
	assert_int_equal(cfg.accel, ACCEL_AUTO);
	assert_int_equal(cfg.serial, SERIAL_STDIO);
	assert_int_equal(parse(&cfg, &cmd, err, 15, "vmon", "run", "--kernel", kernel_path, "--mem",
			       "1G", "--cpus", "4", "--accel", "kvm", "--serial", "/tmp/out.log",
			       "--cmdline", "console=ttyS0", "--testdev"),
			 0);
	assert_int_equal(cfg.mem_size, GiB);
	assert_int_equal(cfg.ncpus, 4);
	assert_int_equal(cfg.accel, ACCEL_KVM);
	assert_int_equal(cfg.serial, SERIAL_FILE);
	assert_string_equal(cfg.serial_path, "/tmp/out.log");
	assert_string_equal(cfg.cmdline, "console=ttyS0");
	assert_int_equal(cfg.testdev, 1);
	assert_int_equal(cfg.rng, 0);
	assert_int_equal(cfg.console, CONSOLE_SERIAL);
	assert_int_equal(cfg.transport, VIRTIO_TRANSPORT_MMIO);
	assert_int_equal(parse(&cfg, &cmd, err, 9, "vmon", "run", "--kernel", kernel_path, "--rng",
			       "--console", "virtio", "--transport", "mmio"),
			 0);
	assert_int_equal(cfg.rng, 1);
	assert_int_equal(cfg.console, CONSOLE_VIRTIO);
	assert_int_equal(cfg.transport, VIRTIO_TRANSPORT_MMIO);
	assert_int_equal(
	    parse(&cfg, &cmd, err, 6, "vmon", "run", "--kernel", kernel_path, "--transport", "pci"),
	    0);
	assert_int_equal(cfg.transport, VIRTIO_TRANSPORT_PCI);
	assert_int_equal(parse(&cfg, &cmd, err, 6, "vmon", "run", "--kernel", kernel_path,
			       "--console", "serial"),
			 0);
	assert_int_equal(cfg.console, CONSOLE_SERIAL);
}

static void test_errors(void **state)
{
	struct vm_config cfg;
	enum cli_cmd cmd;
	char err[256];
	assert_int_equal(
	    parse(&cfg, &cmd, err, 6, "vmon", "run", "--kernel", kernel_path, "--cpus", "0"),
	    -EINVAL);
	assert_non_null(strstr(err, "--cpus 0"));
	assert_int_equal(
	    parse(&cfg, &cmd, err, 6, "vmon", "run", "--kernel", kernel_path, "--cpus", "65"),
	    -EINVAL);
	assert_int_equal(
	    parse(&cfg, &cmd, err, 6, "vmon", "run", "--kernel", kernel_path, "--cpus", "2x"),
	    -EINVAL);
	assert_int_equal(
	    parse(&cfg, &cmd, err, 6, "vmon", "run", "--kernel", kernel_path, "--mem", "1T"),
	    -EINVAL);
	assert_non_null(strstr(err, "more than the host"));
	assert_int_equal(
	    parse(&cfg, &cmd, err, 6, "vmon", "run", "--kernel", kernel_path, "--mem", "1M"),
	    -EINVAL);
	assert_int_equal(
	    parse(&cfg, &cmd, err, 6, "vmon", "run", "--kernel", kernel_path, "--mem", "lots"),
	    -EINVAL);
	assert_int_equal(
	    parse(&cfg, &cmd, err, 4, "vmon", "run", "--kernel", "/nonexistent/vmlinuz"), -EINVAL);
	assert_non_null(strstr(err, "No such file"));
	assert_int_equal(parse(&cfg, &cmd, err, 4, "vmon", "run", "--kernel", "/tmp"), -EINVAL);
	assert_non_null(strstr(err, "not a regular file"));
	assert_int_equal(parse(&cfg, &cmd, err, 2, "vmon", "run"), -EINVAL);
	assert_non_null(strstr(err, "--kernel is required"));
	assert_int_equal(
	    parse(&cfg, &cmd, err, 6, "vmon", "run", "--kernel", kernel_path, "--accel", "xen"),
	    -EINVAL);
	assert_int_equal(
	    parse(&cfg, &cmd, err, 5, "vmon", "run", "--kernel", kernel_path, "--bogus"), -EINVAL);
	assert_non_null(strstr(err, "unknown option"));
	assert_int_equal(
	    parse(&cfg, &cmd, err, 6, "vmon", "run", "--kernel", kernel_path, "--console", "hvc"),
	    -EINVAL);
	assert_non_null(strstr(err, "--console hvc: must be serial or virtio"));
	assert_int_equal(
	    parse(&cfg, &cmd, err, 6, "vmon", "run", "--kernel", kernel_path, "--transport", "isa"),
	    -EINVAL);
	assert_non_null(strstr(err, "--transport isa: must be mmio or pci"));
	assert_int_equal(
	    parse(&cfg, &cmd, err, 5, "vmon", "run", "--kernel", kernel_path, "--transport"),
	    -EINVAL);
	assert_non_null(strstr(err, "needs a value"));
	assert_int_equal(
	    parse(&cfg, &cmd, err, 6, "vmon", "run", "--kernel", kernel_path, "--rng", "yes"),
	    -EINVAL);
	assert_non_null(strstr(err, "unexpected argument 'yes'"));
	assert_int_equal(parse(&cfg, &cmd, err, 4, "vmon", "run", "--kernel", kernel_path), 0);
	assert_int_equal(parse(&cfg, &cmd, err, 3, "vmon", "run", "--kernel"), -EINVAL);
	assert_non_null(strstr(err, "needs a value"));
	assert_int_equal(parse(&cfg, &cmd, err, 2, "vmon", "fly"), -EINVAL);
	assert_int_equal(parse(&cfg, &cmd, err, 1, "vmon"), -EINVAL);
}

/* --disk: repeatable, kept in order as given; a malformed value or too many disks is a usage
 * error naming the option (the files are opened later, when the machine is built). */
static void test_disks(void **state)
{
	struct vm_config cfg;
	enum cli_cmd cmd;
	char err[256];
	assert_int_equal(parse(&cfg, &cmd, err, 8, "vmon", "run", "--kernel", kernel_path, "--disk",
			       "path=/a.img", "--disk", "path=/b.img,ro,serial=B2,cache=none"),
			 0);
	assert_int_equal(cfg.nr_disks, 2);
	assert_string_equal(cfg.disks[0], "path=/a.img");
	assert_string_equal(cfg.disks[1], "path=/b.img,ro,serial=B2,cache=none");
	assert_int_equal(parse(&cfg, &cmd, err, 4, "vmon", "run", "--kernel", kernel_path), 0);
	assert_int_equal(cfg.nr_disks, 0);

	static const char *const bad[][2] = {
	    {"ro", "path"},					/* no path */
	    {"path=/a,cache=fast", "cache"},			/* bad cache mode */
	    {"path=/a,ro,ro", "twice"},				/* repeated key */
	    {"path=/a,colour=red", "colour"},			/* unknown key */
	    {"", "empty"},					/* nothing at all */
	    {"path=/a,serial=012345678901234567890", "serial"}, /* 21 bytes */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse(&cfg, &cmd, err, 6, "vmon", "run", "--kernel", kernel_path,
				       "--disk", bad[i][0]),
				 -EINVAL);
		assert_non_null(strstr(err, "--disk"));
		if (!strstr(err, bad[i][1]))
			fail_msg("--disk '%s': '%s' does not mention %s", bad[i][0], err,
				 bad[i][1]);
	}

	char *argv[4 + 2 * (VM_MAX_DISKS + 1)] = {"vmon", "run", "--kernel", kernel_path};
	int argc = 4;
	for (int i = 0; i <= VM_MAX_DISKS; i++) {
		argv[argc++] = "--disk";
		argv[argc++] = "path=/a.img";
	}
	assert_int_equal(cli_parse(argc, argv, &cfg, &cmd, 24 * GiB, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "at most"));
}

/* --vsock: one device; cid from 3 to 2^32 - 2 and a socket path, both required. */
static void test_vsock(void **state)
{
	struct vm_config cfg;
	enum cli_cmd cmd;
	char err[256];
	assert_int_equal(parse(&cfg, &cmd, err, 6, "vmon", "run", "--kernel", kernel_path,
			       "--vsock", "uds=/tmp/v.sock,cid=3"),
			 0);
	assert_string_equal(cfg.vsock, "uds=/tmp/v.sock,cid=3");
	assert_int_equal(parse(&cfg, &cmd, err, 4, "vmon", "run", "--kernel", kernel_path), 0);
	assert_null(cfg.vsock);

	static const char *const bad[][2] = {
	    {"cid=2,uds=/a", "cid"},	      /* reserved for the host */
	    {"cid=4294967295,uds=/a", "cid"}, /* VMADDR_CID_ANY */
	    {"cid=-3,uds=/a", "cid"},	      /* not a number */
	    {"cid=3", "required"},	      /* no path */
	    {"cid=3,cid=4,uds=/a", "cid"},    /* repeated key */
	    {"cid=3,uds=/a,port=1", "port"},  /* unknown key */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse(&cfg, &cmd, err, 6, "vmon", "run", "--kernel", kernel_path,
				       "--vsock", bad[i][0]),
				 -EINVAL);
		if (!strstr(err, "--vsock") || !strstr(err, bad[i][1]))
			fail_msg("--vsock '%s': '%s' does not mention %s", bad[i][0], err,
				 bad[i][1]);
	}
	assert_int_equal(parse(&cfg, &cmd, err, 8, "vmon", "run", "--kernel", kernel_path,
			       "--vsock", "cid=3,uds=/a", "--vsock", "cid=4,uds=/b"),
			 -EINVAL);
}

/* --balloon: no value, "=opts" or the options as the next argument; --control PATH. */
static void test_balloon_control(void **state)
{
	struct vm_config cfg;
	enum cli_cmd cmd;
	char err[256];
	assert_int_equal(
	    parse(&cfg, &cmd, err, 5, "vmon", "run", "--kernel", kernel_path, "--balloon"), 0);
	assert_string_equal(cfg.balloon, "");
	assert_null(cfg.control);
	assert_int_equal(parse(&cfg, &cmd, err, 8, "vmon", "run", "--kernel", kernel_path,
			       "--balloon", "size=128M,stats=2", "--control", "/tmp/c.sock"),
			 0);
	assert_string_equal(cfg.balloon, "size=128M,stats=2");
	assert_string_equal(cfg.control, "/tmp/c.sock");
	assert_int_equal(parse(&cfg, &cmd, err, 5, "vmon", "run", "--kernel", kernel_path,
			       "--balloon=reporting"),
			 0);
	assert_string_equal(cfg.balloon, "reporting");
	assert_int_equal(parse(&cfg, &cmd, err, 4, "vmon", "run", "--kernel", kernel_path), 0);
	assert_null(cfg.balloon);
	/* Bad options, a stray argument, two balloons, an empty control path. */
	assert_int_equal(parse(&cfg, &cmd, err, 5, "vmon", "run", "--kernel", kernel_path,
			       "--balloon=size=lots"),
			 -EINVAL);
	assert_non_null(strstr(err, "--balloon"));
	assert_int_equal(parse(&cfg, &cmd, err, 6, "vmon", "run", "--kernel", kernel_path,
			       "--balloon", "colour=red"),
			 -EINVAL);
	assert_int_equal(parse(&cfg, &cmd, err, 6, "vmon", "run", "--kernel", kernel_path,
			       "--balloon", "--balloon"),
			 -EINVAL);
	assert_int_equal(
	    parse(&cfg, &cmd, err, 6, "vmon", "run", "--kernel", kernel_path, "--control", ""),
	    -EINVAL);
	assert_non_null(strstr(err, "--control"));
}

static void test_version_help(void **state)
{
	struct vm_config cfg;
	enum cli_cmd cmd;
	char err[256];
	assert_int_equal(parse(&cfg, &cmd, err, 2, "vmon", "--version"), 0);
	assert_int_equal(cmd, CLI_VERSION);
	assert_int_equal(parse(&cfg, &cmd, err, 2, "vmon", "--help"), 0);
	assert_int_equal(cmd, CLI_HELP);
	assert_int_equal(parse(&cfg, &cmd, err, 3, "vmon", "run", "--help"), 0);
	assert_int_equal(cmd, CLI_RUN_HELP);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sizes),	 cmocka_unit_test(test_run_defaults_and_options),
	    cmocka_unit_test(test_errors),	 cmocka_unit_test(test_disks),
	    cmocka_unit_test(test_vsock),	 cmocka_unit_test(test_balloon_control),
	    cmocka_unit_test(test_version_help),
	};
	return cmocka_run_group_tests_name("cli", tests, setup, teardown);
}
