/* vmon entry point: parse the command line, build the VM, run it, map its ending to an exit
 * status. */
#include "cli/args.h"
#include "core/exitcode.h"
#include "core/log.h"
#include "core/vm.h"

#include <errno.h>
#include <stdio.h>
#include <unistd.h>

static uint64_t host_ram_bytes(void)
{
	long pages = sysconf(_SC_PHYS_PAGES);
	long psz = sysconf(_SC_PAGESIZE);
	return (pages > 0 && psz > 0) ? (uint64_t)pages * (uint64_t)psz : 0;
}

int main(int argc, char **argv)
{
	struct vm_config cfg;
	enum cli_cmd cmd;
	char err[256];
	struct vm *vm = NULL;

	if (cli_parse(argc, argv, &cfg, &cmd, host_ram_bytes(), err, sizeof(err))) {
		fprintf(stderr, "vmon: error: %s\n", err);
		return VMON_EXIT_USAGE;
	}
	switch (cmd) {
	case CLI_VERSION:
		printf("vmon %s (%s)\n", VMON_VERSION, VMON_GIT_REV);
		return 0;
	case CLI_HELP:
	case CLI_RUN_HELP:
		fputs(cli_usage, stdout);
		return 0;
	case CLI_RUN:
		break;
	}
	log_set_level(cfg.verbose >= 2 ? LOG_DEBUG : cfg.verbose ? LOG_INFO : LOG_WARN);
	int ret = vm_create(&cfg, &vm);
	if (ret)
		return ret == -ENODEV ? VMON_EXIT_USAGE : VMON_EXIT_VMM_ERROR;
	int status = vm_run(vm);
	vm_destroy(vm);
	return status;
}
