/* Command-line parsing for `vmon run` (and --version/--help). Kept out of main.c so unit tests can
 * drive it. */
#ifndef VMON_CLI_ARGS_H
#define VMON_CLI_ARGS_H

#include <stddef.h>
#include <stdint.h>

#include "core/vm.h"

enum cli_cmd { CLI_RUN, CLI_VERSION, CLI_HELP, CLI_RUN_HELP };

#define CLI_MIN_MEM (8ull << 20)
#define CLI_DEFAULT_MEM (256ull << 20)

/* Parse a size such as "256M", "1G", "65536", "512K" (binary units, optional "iB"/"B").
 * Returns 0 or -EINVAL (syntax) / -ERANGE (overflow). */
int cli_parse_size(const char *s, uint64_t *out) __attribute__((warn_unused_result));

/* Parse argv into cfg and the command. host_ram is the host's physical memory in bytes (the
 * upper bound for --mem; 0 disables that check). On error returns -EINVAL with one sentence in
 * err ("--cpus 0: must be between 1 and 64"). Files named by --kernel/--initrd must be readable
 * regular files. */
int cli_parse(int argc, char **argv, struct vm_config *cfg, enum cli_cmd *cmd, uint64_t host_ram,
	      char *err, size_t errlen) __attribute__((warn_unused_result));

/* The usage text for `vmon run --help` and `vmon --help`. */
extern const char cli_usage[];

#endif
