#include "cli/args.h"
#include "backend/net.h"
#include "backend/vsock_uds.h"
#include "virtio/virtio_balloon.h"
#include "virtio/virtio_blk.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

const char cli_usage[] =
    "usage: vmon run --kernel KERNEL [options]\n"
    "       vmon --version | --help\n"
    "\n"
    "Run an x86 guest. KERNEL is a Linux bzImage, an ELF vmlinux with a PVH note, or a\n"
    "multiboot v1 kernel (ELF32 or a.out kludge).\n"
    "\n"
    "options for run:\n"
    "  --kernel FILE          guest kernel (required)\n"
    "  --initrd FILE          initial ramdisk (Linux) or first module (multiboot)\n"
    "  --cmdline STR          kernel command line\n"
    "  --mem SIZE             guest RAM, e.g. 256M, 2G (default 256M, minimum 8M)\n"
    "  --cpus N               number of vCPUs (default 1)\n"
    "  --accel kvm|emu|auto   CPU backend (default auto: kvm when the host CPU has VMX/SVM\n"
    "                         and /dev/kvm opens, else emu)\n"
    "  --serial stdio|none|FILE  where the COM1 UART goes (default stdio)\n"
    "  --testdev              add the vmon test device (ucall port, scratch PIO/MMIO)\n"
    "  --rng                  add a virtio-rng device (entropy from the host's getrandom)\n"
    "  --console serial|virtio  the terminal's device: the COM1 UART (default), or a\n"
    "                         virtio-console (guest /dev/hvc0) that then gets stdin; COM1\n"
    "                         output still follows --serial\n"
    "  --disk path=FILE[,ro][,serial=ID][,cache=none|writeback][,base=BASE]\n"
    "                         add a virtio-blk disk (repeatable, Linux: /dev/vda, vdb, ...):\n"
    "                         a raw image whose size is a multiple of 512, or with base= a\n"
    "                         vmoncow copy-on-write overlay (created when missing) over the\n"
    "                         raw image BASE; ro rejects writes; cache=none uses O_DIRECT\n"
    "  --net user[,hostfwd=[tcp|udp]:[HOSTADDR]:PORT-[GUESTADDR]:PORT]...[,mac=MAC]\n"
    "  --net tap[=IFNAME][,mac=MAC]\n"
    "                         add a virtio-net device (repeatable, up to 4; Linux: eth0, ...):\n"
    "                         user: libslirp NAT, guest 10.0.2.15 by DHCP, gateway 10.0.2.2,\n"
    "                         DNS 10.0.2.3; hostfwd forwards a host port (HOSTADDR default\n"
    "                         127.0.0.1) to the guest (default 10.0.2.15); tap: the TAP\n"
    "                         interface IFNAME (created when missing; needs CAP_NET_ADMIN);\n"
    "                         MAC default 52:54:00:12:34:56, +1 for each further --net\n"
    "  --vsock cid=N,uds=PATH add a virtio-vsock device for guest CID N (3 to 4294967294);\n"
    "                         host clients connect to the Unix socket PATH and send\n"
    "                         \"CONNECT <port>\\n\"; guest connections to host port P go to\n"
    "                         the Unix socket PATH_P\n"
    "  --balloon [size=SIZE][,stats=SECONDS][,reporting]\n"
    "                         add a virtio-balloon device: initial balloon SIZE (default 0),\n"
    "                         guest statistics every SECONDS (default 0: on request),\n"
    "                         free page reporting; change the size with --control\n"
    "  --control PATH         interim control channel: a Unix socket taking one command\n"
    "                         per line: \"balloon SIZE\" -> OK, \"balloon-stats\" -> key=value\n"
    "  --transport mmio|pci   how every virtio device attaches: virtio-mmio slots (default)\n"
    "                         or virtio-pci functions on the PCI host bridge (MSI-X)\n"
    "  -v, --verbose          more log output (repeat for debug)\n"
    "  -h, --help             this text\n"
    "\n"
    "On a terminal, stdin is put in raw mode; press Ctrl-A x to quit.\n"
    "Exit status: 0 when the guest powers off or resets; (V << 1) | 1 when it writes V to the\n"
    "debug-exit port 0xf4; 2 bad usage; 4 vmon error; 6 the guest crashed.\n";

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int cli_parse_size(const char *s, uint64_t *out)
{
	char *end;
	if (!s || !*s || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	if (end == s)
		return -EINVAL;
	unsigned shift = 0;
	switch (*end) {
	case 'k':
	case 'K':
		shift = 10;
		end++;
		break;
	case 'm':
	case 'M':
		shift = 20;
		end++;
		break;
	case 'g':
	case 'G':
		shift = 30;
		end++;
		break;
	case 't':
	case 'T':
		shift = 40;
		end++;
		break;
	default:
		break;
	}
	if (shift && (!strcasecmp(end, "iB") || !strcasecmp(end, "B")))
		end += strlen(end);
	if (*end)
		return -EINVAL;
	if (shift && v > (UINT64_MAX >> shift))
		return -ERANGE;
	*out = (uint64_t)v << shift;
	return 0;
}

static int check_file(const char *what, const char *path, char *err, size_t errlen)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return fail(err, errlen, "%s %s: %s", what, path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return fail(err, errlen, "%s %s: not a regular file", what, path);
	if (access(path, R_OK) < 0)
		return fail(err, errlen, "%s %s: %s", what, path, strerror(errno));
	return 0;
}

static void human_size(uint64_t v, char *buf, size_t len)
{
	if (v >= (1ull << 30))
		snprintf(buf, len, "%.1f GiB", (double)v / (1ull << 30));
	else
		snprintf(buf, len, "%llu MiB", (unsigned long long)(v >> 20));
}

enum {
	OPT_KERNEL = 256,
	OPT_INITRD,
	OPT_CMDLINE,
	OPT_MEM,
	OPT_CPUS,
	OPT_ACCEL,
	OPT_SERIAL,
	OPT_TESTDEV,
	OPT_RNG,
	OPT_CONSOLE,
	OPT_TRANSPORT,
	OPT_DISK,
	OPT_VSOCK,
	OPT_BALLOON,
	OPT_CONTROL,
	OPT_NET
};

static int parse_run(int argc, char **argv, struct vm_config *cfg, enum cli_cmd *cmd,
		     uint64_t host_ram, char *err, size_t errlen)
{
	static const struct option opts[] = {
	    {"kernel", required_argument, NULL, OPT_KERNEL},
	    {"initrd", required_argument, NULL, OPT_INITRD},
	    {"cmdline", required_argument, NULL, OPT_CMDLINE},
	    {"mem", required_argument, NULL, OPT_MEM},
	    {"cpus", required_argument, NULL, OPT_CPUS},
	    {"accel", required_argument, NULL, OPT_ACCEL},
	    {"serial", required_argument, NULL, OPT_SERIAL},
	    {"testdev", no_argument, NULL, OPT_TESTDEV},
	    {"rng", no_argument, NULL, OPT_RNG},
	    {"console", required_argument, NULL, OPT_CONSOLE},
	    {"transport", required_argument, NULL, OPT_TRANSPORT},
	    {"disk", required_argument, NULL, OPT_DISK},
	    {"vsock", required_argument, NULL, OPT_VSOCK},
	    {"balloon", optional_argument, NULL, OPT_BALLOON},
	    {"control", required_argument, NULL, OPT_CONTROL},
	    {"net", required_argument, NULL, OPT_NET},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int c, ret;
	char *end;

	optind = 0; /* 0, not 1: glibc and musl then also drop the scan position inside a grouped
		     * short option ("-hv") left over from an earlier call */
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":vh", opts, NULL)) != -1) {
		switch (c) {
		case OPT_KERNEL:
			cfg->kernel = optarg;
			break;
		case OPT_INITRD:
			cfg->initrd = optarg;
			break;
		case OPT_CMDLINE:
			cfg->cmdline = optarg;
			break;
		case OPT_MEM:
			ret = cli_parse_size(optarg, &cfg->mem_size);
			if (ret)
				return fail(err, errlen,
					    "--mem %s: not a size (use e.g. 256M or 2G)", optarg);
			break;
		case OPT_CPUS: {
			errno = 0;
			long n = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || n < 1 || n > VM_MAX_VCPUS)
				return fail(err, errlen, "--cpus %s: must be between 1 and %d",
					    optarg, VM_MAX_VCPUS);
			cfg->ncpus = (unsigned)n;
			break;
		}
		case OPT_ACCEL:
			if (!strcmp(optarg, "kvm"))
				cfg->accel = ACCEL_KVM;
			else if (!strcmp(optarg, "emu"))
				cfg->accel = ACCEL_EMU;
			else if (!strcmp(optarg, "auto"))
				cfg->accel = ACCEL_AUTO;
			else
				return fail(err, errlen, "--accel %s: must be kvm, emu or auto",
					    optarg);
			break;
		case OPT_SERIAL:
			if (!strcmp(optarg, "stdio")) {
				cfg->serial = SERIAL_STDIO;
			} else if (!strcmp(optarg, "none")) {
				cfg->serial = SERIAL_NONE;
			} else if (!*optarg) {
				return fail(err, errlen, "--serial: empty file name");
			} else {
				cfg->serial = SERIAL_FILE;
				cfg->serial_path = optarg;
			}
			break;
		case OPT_TESTDEV:
			cfg->testdev = 1;
			break;
		case OPT_RNG:
			cfg->rng = 1;
			break;
		case OPT_CONSOLE:
			if (!strcmp(optarg, "serial"))
				cfg->console = CONSOLE_SERIAL;
			else if (!strcmp(optarg, "virtio"))
				cfg->console = CONSOLE_VIRTIO;
			else
				return fail(err, errlen, "--console %s: must be serial or virtio",
					    optarg);
			break;
		case OPT_TRANSPORT:
			if (!strcmp(optarg, "mmio"))
				cfg->transport = VIRTIO_TRANSPORT_MMIO;
			else if (!strcmp(optarg, "pci"))
				cfg->transport = VIRTIO_TRANSPORT_PCI;
			else
				return fail(err, errlen, "--transport %s: must be mmio or pci",
					    optarg);
			break;
		case OPT_DISK: {
			struct virtio_blk_opts o;
			char why[160];
			if (cfg->nr_disks >= VM_MAX_DISKS)
				return fail(err, errlen, "--disk: at most %d disks", VM_MAX_DISKS);
			if (virtio_blk_parse_opts(optarg, &o, why, sizeof(why)))
				return fail(err, errlen, "--disk %s: %s", optarg, why);
			virtio_blk_opts_free(&o);
			cfg->disks[cfg->nr_disks++] = optarg;
			break;
		}
		case OPT_VSOCK: {
			struct vsock_uds_opts o;
			char why[160];
			if (cfg->vsock)
				return fail(err, errlen, "--vsock: only one vsock device");
			if (vsock_uds_parse_opts(optarg, &o, why, sizeof(why)))
				return fail(err, errlen, "--vsock %s: %s", optarg, why);
			vsock_uds_opts_free(&o);
			cfg->vsock = optarg;
			break;
		}
		case OPT_NET: {
			struct net_opts o;
			char why[200];
			if (cfg->nr_nets >= VM_MAX_NETS)
				return fail(err, errlen, "--net: at most %d network devices",
					    VM_MAX_NETS);
			if (net_parse_opts(optarg, &o, why, sizeof(why)))
				return fail(err, errlen, "--net %s: %s", optarg, why);
			cfg->nets[cfg->nr_nets++] = optarg;
			break;
		}
		case OPT_BALLOON: {
			struct virtio_balloon_opts o;
			char why[160];
			const char *a = optarg ? optarg : "";
			/* "--balloon size=128M" as well as "--balloon=size=128M" and "--balloon".
			 */
			if (!optarg && optind < argc && argv[optind][0] != '-' &&
			    !virtio_balloon_parse_opts(argv[optind], &o, why, sizeof(why)))
				a = argv[optind++];
			if (cfg->balloon)
				return fail(err, errlen, "--balloon: only one balloon device");
			if (virtio_balloon_parse_opts(a, &o, why, sizeof(why)))
				return fail(err, errlen, "--balloon %s: %s", a, why);
			cfg->balloon = a;
			break;
		}
		case OPT_CONTROL:
			if (!*optarg)
				return fail(err, errlen, "--control: empty socket path");
			cfg->control = optarg;
			break;
		case 'v':
			cfg->verbose++;
			break;
		case 'h':
			*cmd = CLI_RUN_HELP;
			return 0;
		case ':':
			return fail(err, errlen, "%s: needs a value", argv[optind - 1]);
		default:
			return fail(err, errlen, "%s: unknown option", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return fail(err, errlen, "unexpected argument '%s'", argv[optind]);
	if (!cfg->kernel)
		return fail(err, errlen, "--kernel is required (see vmon run --help)");
	if ((ret = check_file("--kernel", cfg->kernel, err, errlen)))
		return ret;
	if (cfg->initrd && (ret = check_file("--initrd", cfg->initrd, err, errlen)))
		return ret;
	if (cfg->mem_size < CLI_MIN_MEM)
		return fail(err, errlen, "--mem: at least 8M is needed");
	if (cfg->mem_size & 0xfff)
		return fail(err, errlen, "--mem: must be a multiple of 4K");
	if (host_ram && cfg->mem_size > host_ram) {
		char a[32], b[32];
		human_size(cfg->mem_size, a, sizeof(a));
		human_size(host_ram, b, sizeof(b));
		return fail(err, errlen, "--mem: %s is more than the host's %s of RAM", a, b);
	}
	*cmd = CLI_RUN;
	return 0;
}

int cli_parse(int argc, char **argv, struct vm_config *cfg, enum cli_cmd *cmd, uint64_t host_ram,
	      char *err, size_t errlen)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->mem_size = CLI_DEFAULT_MEM;
	cfg->ncpus = 1;
	cfg->accel = ACCEL_AUTO;
	cfg->serial = SERIAL_STDIO;
	cfg->console = CONSOLE_SERIAL;
	cfg->transport = VIRTIO_TRANSPORT_MMIO;
	if (errlen)
		err[0] = 0;
	if (argc < 2)
		return fail(err, errlen, "no command given (try vmon --help)");
	const char *a = argv[1];
	if (!strcmp(a, "--version") || !strcmp(a, "-V")) {
		*cmd = CLI_VERSION;
		return 0;
	}
	if (!strcmp(a, "--help") || !strcmp(a, "-h") || !strcmp(a, "help")) {
		*cmd = CLI_HELP;
		return 0;
	}
	if (strcmp(a, "run"))
		return fail(err, errlen, "unknown command '%s' (try vmon --help)", a);
	return parse_run(argc - 1, argv + 1, cfg, cmd, host_ram, err, errlen);
}
