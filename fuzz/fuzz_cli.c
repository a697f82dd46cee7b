/* libFuzzer harness: cli_parse() and cli_parse_size() (cli/args.c) on arbitrary command lines.
 *
 * Input: the arguments after argv[0] ("vmon"), separated by NUL bytes (at most MAX_ARGS; a
 * trailing NUL is not an extra empty argument). Each argument is its own exact-size heap block so
 * that ASan sees any read past its end, as is argv itself (with the argv[argc] == NULL a real
 * main gets). host_ram is fixed at 16 GiB. --kernel and --initrd are checked with stat(); the
 * seeds use /proc/self/exe as a readable regular file.
 *
 * Checked: the return is 0 or -EINVAL with a sentence in err; a successful run command has a
 * kernel, 1-64 vCPUs and a memory size within [CLI_MIN_MEM, host_ram] in 4 KiB units, and the
 * strings it returns lie inside the argument strings; and parsing is a function of argv alone:
 * a second parse of a fresh copy gives the same answer (cli_parse resets getopt's state, which
 * lives in libc and survives between calls). */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "fuzz_input.h"

#define MAX_ARGS 64
#define HOST_RAM (16ull << 30)
#define ERR_LEN 256

struct argv_copy {
	int argc;
	char **argv;
	char *orig[MAX_ARGS + 2]; /* getopt_long permutes argv: remember the blocks to free */
};

/* Split data into a fresh argv; returns false when there are too many arguments. */
static bool argv_build(struct argv_copy *a, const uint8_t *data, size_t size)
{
	size_t start = 0;

	memset(a->orig, 0, sizeof(a->orig));
	a->argc = 0;
	a->argv = calloc(MAX_ARGS + 2, sizeof(char *));
	FZ_CHECK(a->argv != NULL, "out of memory");
	a->argv[a->argc] = a->orig[a->argc] = strdup("vmon");
	FZ_CHECK(a->argv[a->argc++] != NULL, "out of memory");
	for (size_t i = 0; size && i <= size; i++) {
		if (i < size && data[i] != '\0')
			continue;
		if (i == size && start == size)
			break; /* the input ended with a NUL */
		if (a->argc > MAX_ARGS)
			return false;
		char *s = malloc(i - start + 1);
		FZ_CHECK(s != NULL, "out of memory");
		memcpy(s, data + start, i - start);
		s[i - start] = '\0';
		a->argv[a->argc] = a->orig[a->argc] = s;
		a->argc++;
		start = i + 1;
	}
	return true;
}

static void argv_free(struct argv_copy *a)
{
	for (int i = 0; i < a->argc; i++)
		free(a->orig[i]);
	free(a->argv);
	a->argv = NULL;
}

/* s is NULL or points into one of the argument strings. */
static bool in_args(const struct argv_copy *a, const char *s)
{
	if (!s)
		return true;
	for (int i = 0; i < a->argc; i++) {
		size_t len = strlen(a->orig[i]);
		if (s >= a->orig[i] && s <= a->orig[i] + len)
			return true;
	}
	return false;
}

/* An owned copy of a result string (NULL stays NULL). */
static char *dup_or_null(const char *s)
{
	char *d = s ? strdup(s) : NULL;
	FZ_CHECK(!s || d, "out of memory");
	return d;
}

struct outcome {
	int ret;
	enum cli_cmd cmd;
	struct vm_config cfg; /* string fields are owned copies */
	char err[ERR_LEN];
};

static void outcome_free(struct outcome *o)
{
	free((char *)o->cfg.kernel);
	free((char *)o->cfg.initrd);
	free((char *)o->cfg.cmdline);
	free((char *)o->cfg.serial_path);
}

static bool str_eq(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

static void parse(const uint8_t *data, size_t size, struct outcome *o)
{
	struct argv_copy a;

	memset(o, 0, sizeof(*o));
	if (!argv_build(&a, data, size)) {
		o->ret = 1; /* too many arguments: not parsed */
		argv_free(&a);
		return;
	}
	memset(o->err, 0x5a, sizeof(o->err));
	o->ret = cli_parse(a.argc, a.argv, &o->cfg, &o->cmd, HOST_RAM, o->err, sizeof(o->err));
	FZ_CHECK(memchr(o->err, '\0', sizeof(o->err)) != NULL, "err is not NUL-terminated");
	if (o->ret) {
		FZ_CHECK(o->ret == -EINVAL, "cli_parse returned %d", o->ret);
		FZ_CHECK(o->err[0] != '\0', "error without a message");
	} else {
		FZ_CHECK(o->cmd == CLI_RUN || o->cmd == CLI_VERSION || o->cmd == CLI_HELP ||
			     o->cmd == CLI_RUN_HELP,
			 "command %d", (int)o->cmd);
	}
	if (o->ret == 0 && o->cmd == CLI_RUN) {
		const struct vm_config *c = &o->cfg;
		FZ_CHECK(c->kernel != NULL, "run without a kernel");
		FZ_CHECK(c->ncpus >= 1 && c->ncpus <= VM_MAX_VCPUS, "ncpus %u", c->ncpus);
		FZ_CHECK(c->mem_size >= CLI_MIN_MEM && c->mem_size <= HOST_RAM &&
			     (c->mem_size & 0xfff) == 0,
			 "mem_size %llu", (unsigned long long)c->mem_size);
		FZ_CHECK(c->accel == ACCEL_AUTO || c->accel == ACCEL_KVM || c->accel == ACCEL_EMU,
			 "accel %d", (int)c->accel);
		FZ_CHECK(c->serial != SERIAL_FILE || (c->serial_path && *c->serial_path),
			 "serial file without a name");
	}
	FZ_CHECK(in_args(&a, o->cfg.kernel) && in_args(&a, o->cfg.initrd) &&
		     in_args(&a, o->cfg.cmdline) && in_args(&a, o->cfg.serial_path),
		 "a result string does not point into argv");
	o->cfg.kernel = dup_or_null(o->cfg.kernel);
	o->cfg.initrd = dup_or_null(o->cfg.initrd);
	o->cfg.cmdline = dup_or_null(o->cfg.cmdline);
	o->cfg.serial_path = dup_or_null(o->cfg.serial_path);

	for (int i = 1; i < a.argc; i++) {
		uint64_t v = 0;
		int r = cli_parse_size(a.orig[i], &v);
		FZ_CHECK(r == 0 || r == -EINVAL || r == -ERANGE, "cli_parse_size: %d", r);
	}
	argv_free(&a);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_log_setup();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct outcome a, b;

	parse(data, size, &a);
	parse(data, size, &b);
	FZ_CHECK(a.ret == b.ret && a.cmd == b.cmd && strcmp(a.err, b.err) == 0,
		 "second parse differs: ret %d/%d, cmd %d/%d, err \"%s\" / \"%s\"", a.ret, b.ret,
		 (int)a.cmd, (int)b.cmd, a.err, b.err);
	if (a.ret == 0 && a.cmd == CLI_RUN) {
		FZ_CHECK(str_eq(a.cfg.kernel, b.cfg.kernel) && str_eq(a.cfg.initrd, b.cfg.initrd) &&
			     str_eq(a.cfg.cmdline, b.cfg.cmdline) &&
			     str_eq(a.cfg.serial_path, b.cfg.serial_path) &&
			     a.cfg.mem_size == b.cfg.mem_size && a.cfg.ncpus == b.cfg.ncpus &&
			     a.cfg.accel == b.cfg.accel && a.cfg.serial == b.cfg.serial &&
			     a.cfg.verbose == b.cfg.verbose && a.cfg.testdev == b.cfg.testdev,
			 "second parse gives a different configuration");
	}
	outcome_free(&a);
	outcome_free(&b);
	return 0;
}
