/* libFuzzer harness: the legacy devices of hw/ driven through the PIO and MMIO buses as a guest
 * would drive them, plus the host-side entry points (UART input, clocks, resets, PCI config
 * helpers, fw_cfg items) and every device's save/load with fuzzed state.
 *
 * Each run builds a fresh machine: uart8250, cmos_rtc, i8042, fw_cfg (a few items and files),
 * pci_host with the host bridge and two functions of a test device with I/O, MEM32 and MEM64
 * BARs (memory BARs are mapped on the MMIO bus by the device's bar_map hook, as a real device
 * would), acpi_pm, debug_exit and testdev (ucalls read a fake guest memory whose contents come
 * from the input). Interrupt lines, the exit sink, the clock and the character outputs are fakes.
 *
 * Input: a 12-byte header, then operations until the input ends (little-endian operands; the
 * opcode is the first byte modulo OP_COUNT; fuzz/gen_seeds.py writes the same encoding):
 *   header   ncpus-1 u8, RAM below 4G in MiB u16, RAM above 4G in GiB u8, wall-clock offset
 *            i32, monotonic start u32 (<< 16 ns)
 *   0 READ   sel u8, off u16, size u8                bus read of device `sel` (see dev_range)
 *   1 WRITE  sel u8, off u16, size u8, val u64       bus write
 *   2 RX     len u8, bytes                           uart8250_receive
 *   3 CLOCK  mono delta u32, shift u8, wall delta i32
 *   4 LOAD   dev u8, state bytes                     *_load of a fuzzed state struct
 *   5 ROUND  (none)                                  save -> fresh machine -> load -> save
 *   6 RESET  dev u8                                  *_reset, power button, rx_space
 *   7 PCICFG write u8, bdf u16, reg u16, size u8, val u32   pci_host_config_read/write
 *   8 POKE   region u8, off u16, len u8, bytes       write fake guest memory
 *   9 FWADD  kind u8, key u16, name len u8, name, data len u8, data   fw_cfg_add_bytes/_file
 *  10 UCALL  region u8, off u16, struct testdev_ucall (40 bytes)   write it and trigger it
 * Bus offsets run from 4 below a device's range to 4 past it, so unclaimed and straddling
 * accesses are covered; size byte: low 2 bits pick 1/2/4/8, 0xfc-0xff pick the invalid 0/3/5/16.
 *
 * Invariants checked (beyond ASan/UBSan): bus results are masked to the access size and
 * unclaimed PIO reads are all ones; a rejected *_load leaves the device unchanged; whatever a
 * device saves, a freshly created one loads, and saves back identically; bar_map reports each
 * BAR's previous address correctly; BAR handlers only see accesses inside the BAR; fw_cfg file
 * selectors are handed out in order; a ucall whose struct is in RAM gets status 1 or 2, and a
 * PRINT of RAM bytes outputs exactly "ucall: <bytes>\n". */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/layout.h"
#include "core/bus.h"
#include "core/devif.h"
#include "core/gmem.h"
#include "fuzz_input.h"
#include "hw/acpi_pm.h"
#include "hw/cmos_rtc.h"
#include "hw/debug_exit.h"
#include "hw/fw_cfg.h"
#include "hw/i8042.h"
#include "hw/pci_host.h"
#include "hw/testdev.h"
#include "hw/uart8250.h"

enum {
	OP_READ,
	OP_WRITE,
	OP_RX,
	OP_CLOCK,
	OP_LOAD,
	OP_ROUND,
	OP_RESET,
	OP_PCICFG,
	OP_POKE,
	OP_FWADD,
	OP_UCALL,
	OP_COUNT
};

/* Device selectors for READ/WRITE. */
enum {
	SEL_UART,
	SEL_RTC,
	SEL_KBD_DATA,
	SEL_KBD_CMD,
	SEL_FW_CFG,
	SEL_PCI,
	SEL_ACPI_PM,
	SEL_DEBUG_EXIT,
	SEL_TESTDEV_PIO,
	SEL_TESTDEV_MMIO,
	SEL_BAR0, /* function 0 BARs 0-5, then function 1 BAR 0 */
	SEL_COUNT = SEL_BAR0 + PCI_NUM_BARS + 1
};

/* Devices for LOAD and RESET. */
enum {
	DEV_UART,
	DEV_RTC,
	DEV_KBD,
	DEV_FW_CFG,
	DEV_PCI_HOST,
	DEV_PCI_FN0,
	DEV_PCI_FN1,
	DEV_ACPI_PM,
	DEV_DEBUG_EXIT,
	DEV_COUNT
};

#define PCI_SLOT 3
#define NR_FNS 2
#define FW_LOG_MAX 192
#define OUT_MAX (TESTDEV_PRINT_MAX + 64)

/* Fake guest memory for testdev: two adjacent regions (copies split), one ending at 4 GiB and
 * one ending near the top of the 64-bit space. */
static const struct {
	uint64_t gpa, size;
} mem_regions[] = {
    {0x0, 0x4000},
    {0x4000, 0x4000},
    {0xffffe000ull, 0x2000},
    {0xffffffffffffd000ull, 0x2000},
};
#define NR_REGIONS (sizeof(mem_regions) / sizeof(mem_regions[0]))
#define NR_UCALL_REGIONS 3 /* those a 32-bit ucall address can reach */
static uint8_t mem_buf[NR_REGIONS][0x4000] __attribute__((aligned(4096)));
static struct gmem guest_mem;

struct fake_clock {
	uint64_t mono;
	int64_t wall;
};

/* Everything the devices call back into. */
struct sinks {
	int irq[IOAPIC_NR_PINS];
	unsigned exits;
	enum vm_exit_kind exit_kind;
	int exit_code;
	uint64_t tx_sum;
	size_t out_len; /* last testdev output */
	char out[OUT_MAX];
	unsigned rx_ready;
};

struct fw_add {
	int is_file;
	uint16_t key;
	char name[64];
	const uint8_t *data;
	size_t len;
};

struct machine {
	struct bus pio, mmio;
	bool on_bus; /* registered on pio/mmio (the fresh machine of a round trip is not) */
	struct fake_clock *clock;
	struct sinks *sinks;
	struct uart8250 *uart;
	struct cmos_rtc *rtc;
	struct i8042 *kbd;
	struct fw_cfg *fw;
	unsigned nr_files;
	struct pci_host *pci;
	struct pci_device fn[NR_FNS];
	uint64_t bar_last[NR_FNS][PCI_NUM_BARS]; /* address bar_map last reported */
	bool bar_on_bus[NR_FNS][PCI_NUM_BARS];
	struct acpi_pm pm;
	struct debug_exit *dbg;
	struct testdev td;
};

struct bar_ctx {
	struct machine *m;
	unsigned fn, bar;
};
static struct bar_ctx bar_ctx[NR_FNS][PCI_NUM_BARS]; /* for the machine on the buses */

/* ---- fakes ---- */

static uint64_t clk_mono(void *ctx)
{
	return ((struct fake_clock *)ctx)->mono;
}

static int64_t clk_wall(void *ctx)
{
	return ((struct fake_clock *)ctx)->wall;
}

static void irq_set(void *ctx, unsigned gsi, int level)
{
	struct sinks *s = ctx;
	FZ_CHECK(gsi < IOAPIC_NR_PINS, "gsi %u", gsi);
	FZ_CHECK(level == 0 || level == 1, "gsi %u level %d", gsi, level);
	s->irq[gsi] = level;
}

static void exit_req(void *ctx, enum vm_exit_kind kind, int code)
{
	struct sinks *s = ctx;
	FZ_CHECK(kind == VM_EXIT_POWEROFF || kind == VM_EXIT_RESET || kind == VM_EXIT_DEBUG,
		 "exit kind %d", (int)kind);
	FZ_CHECK(kind == VM_EXIT_DEBUG || code == 0, "exit %d code %d", (int)kind, code);
	s->exits++;
	s->exit_kind = kind;
	s->exit_code = code;
}

static ssize_t uart_out(void *ctx, const void *buf, size_t len)
{
	struct sinks *s = ctx;
	const uint8_t *b = buf;
	for (size_t i = 0; i < len; i++) /* touch every byte: ASan checks the buffer */
		s->tx_sum += b[i];
	return (ssize_t)len;
}

static ssize_t td_out(void *ctx, const void *buf, size_t len)
{
	struct sinks *s = ctx;
	FZ_CHECK(len <= OUT_MAX, "testdev output of %zu bytes", len);
	memcpy(s->out, buf, len);
	s->out_len = len;
	return (ssize_t)len;
}

static void rx_ready(void *ctx)
{
	((struct sinks *)ctx)->rx_ready++;
}

/* A PCI BAR's MMIO handler: accesses must lie inside the BAR. */
static uint64_t bar_read(void *dev, uint64_t off, unsigned size)
{
	struct bar_ctx *b = dev;
	uint64_t bar_size = b->m->fn[b->fn].bars[b->bar].size;
	FZ_CHECK(off < bar_size && size <= bar_size - off, "BAR access 0x%llx+%u of %llu",
		 (unsigned long long)off, size, (unsigned long long)bar_size);
	return off * 0x0101010101010101ull;
}

static void bar_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	(void)val;
	(void)bar_read(dev, off, size);
}

static const struct bus_ops bar_ops = {bar_read, bar_write};

static void bar_map(struct pci_device *d, unsigned bar, uint64_t old_addr, uint64_t new_addr)
{
	struct machine *m = d->opaque;
	unsigned fn = (unsigned)(d - m->fn);

	FZ_CHECK(fn < NR_FNS && bar < PCI_NUM_BARS, "bar_map fn %u bar %u", fn, bar);
	FZ_CHECK(old_addr == m->bar_last[fn][bar], "bar_map fn %u bar %u: old 0x%llx, last 0x%llx",
		 fn, bar, (unsigned long long)old_addr, (unsigned long long)m->bar_last[fn][bar]);
	FZ_CHECK(old_addr != new_addr, "bar_map without a change");
	m->bar_last[fn][bar] = new_addr;
	if (!m->on_bus || d->bars[bar].type == PCI_BAR_IO)
		return; /* I/O BARs would go on the PIO bus, which is calling us: not allowed */
	struct bar_ctx *ctx = &bar_ctx[fn][bar];
	if (m->bar_on_bus[fn][bar]) {
		FZ_CHECK(bus_unregister(&m->mmio, old_addr, ctx) == 0, "BAR unregister");
		m->bar_on_bus[fn][bar] = false;
	}
	if (new_addr != PCI_BAR_UNMAPPED)
		m->bar_on_bus[fn][bar] =
		    bus_register(&m->mmio, new_addr, d->bars[bar].size, &bar_ops, ctx, "bar") == 0;
}

static uint32_t fn_config_read(struct pci_device *d, unsigned reg, unsigned size, uint32_t val)
{
	(void)d;
	(void)size;
	return reg == 0x40 ? 0xc0ffee11u : val;
}

static void fn_config_write(struct pci_device *d, unsigned reg, unsigned size, uint32_t val)
{
	(void)d;
	(void)reg;
	(void)size;
	(void)val;
}

/* ---- machine ---- */

#define CHECK0(expr) FZ_CHECK((expr) == 0, "%s", #expr)

static void make_fn(struct machine *m, unsigned i)
{
	struct pci_device *d = &m->fn[i];

	pci_device_init(d, 0x1af4, (uint16_t)(0x1040 + i), 0x018000, 1);
	if (i == 0) {
		CHECK0(pci_device_init_bar(d, 0, PCI_BAR_IO, 32, false));
		CHECK0(pci_device_init_bar(d, 1, PCI_BAR_MEM32, 0x1000, false));
		CHECK0(pci_device_init_bar(d, 2, PCI_BAR_MEM64, 0x4000, true));
		CHECK0(pci_device_init_bar(d, 4, PCI_BAR_MEM32, 16, false));
		CHECK0(pci_device_init_bar(d, 5, PCI_BAR_IO, 0x10000, false));
	} else {
		CHECK0(pci_device_init_bar(d, 0, PCI_BAR_MEM64, 1ull << 40, true));
	}
	d->config[PCI_INTERRUPT_PIN] = 1;
	d->wmask[0x44] = 0xff;
	d->config_read = fn_config_read;
	d->config_write = fn_config_write;
	d->bar_map = bar_map;
	d->opaque = m;
	for (unsigned b = 0; b < PCI_NUM_BARS; b++) {
		m->bar_last[i][b] = PCI_BAR_UNMAPPED;
		m->bar_on_bus[i][b] = false;
	}
	CHECK0(pci_host_add_device(m->pci, PCI_SLOT, i * 2, d));
}

static int fw_add(struct machine *m, const struct fw_add *a)
{
	if (a->is_file)
		return fw_cfg_add_file(m->fw, a->name, a->data, a->len);
	return fw_cfg_add_bytes(m->fw, a->key, a->data, a->len);
}

/* The fixed fw_cfg contents, then the items the input added (replayed for a fresh machine). */
static void make_fw_cfg(struct machine *m, const struct cmos_rtc_mem *mem, const struct fw_add *log,
			unsigned nlog)
{
	static const uint8_t testdev_file[4] = {1, 0, 0, 0};
	static const char long_name[] = "opt/org.vmon/a-file-name-of-fifty-five-characters-xxxxx";
	static const uint8_t arch[8] = {1, 2, 3, 4, 5, 6, 7, 8};

	CHECK0(fw_cfg_create(&m->fw));
	CHECK0(fw_cfg_add_u64(m->fw, FW_CFG_RAM_SIZE, mem->ram_below_4g + mem->ram_above_4g));
	CHECK0(fw_cfg_add_u16(m->fw, FW_CFG_NB_CPUS, (uint16_t)mem->ncpus));
	CHECK0(fw_cfg_add_u32(m->fw, FW_CFG_NOGRAPHIC, 1));
	CHECK0(fw_cfg_add_string(m->fw, FW_CFG_KERNEL_CMDLINE, "console=ttyS0 panic=-1"));
	CHECK0(fw_cfg_add_bytes(m->fw, FW_CFG_ARCH_LOCAL | 0, arch, sizeof(arch)));
	FZ_CHECK(fw_cfg_add_file(m->fw, "etc/vmon/testdev", testdev_file, 4) == FW_CFG_FILE_FIRST,
		 "first file selector");
	FZ_CHECK(fw_cfg_add_file(m->fw, "bootorder", NULL, 0) == FW_CFG_FILE_FIRST + 1,
		 "second file selector");
	FZ_CHECK(fw_cfg_add_file(m->fw, long_name, arch, 3) == FW_CFG_FILE_FIRST + 2,
		 "third file selector");
	m->nr_files = 3;
	for (unsigned i = 0; i < nlog; i++) {
		int ret = fw_add(m, &log[i]);
		FZ_CHECK(ret >= 0, "replaying fw_cfg item %u: %d", i, ret);
		if (log[i].is_file)
			m->nr_files++;
	}
}

static void machine_init(struct machine *m, bool on_bus, struct fake_clock *clk, struct sinks *s,
			 const struct cmos_rtc_mem *mem, const struct fw_add *log, unsigned nlog)
{
	struct clock_src cs = {clk_mono, clk_wall, clk};
	struct exit_sink ex = {exit_req, s};
	struct irq_line irq = {irq_set, s, 0};

	memset(m, 0, sizeof(*m));
	m->on_bus = on_bus;
	m->clock = clk;
	m->sinks = s;
	irq.gsi = GSI_COM1;
	CHECK0(uart8250_create(irq, (struct char_out){uart_out, s}, &m->uart));
	uart8250_set_rx_ready(m->uart, rx_ready, s);
	CHECK0(cmos_rtc_create(cs, mem, &m->rtc));
	struct irq_line kbd = {irq_set, s, GSI_I8042_KBD}, aux = {irq_set, s, GSI_I8042_AUX};
	CHECK0(i8042_create(kbd, aux, ex, &m->kbd));
	make_fw_cfg(m, mem, log, nlog);
	CHECK0(pci_host_create(ex, &m->pci));
	for (unsigned i = 0; i < NR_FNS; i++)
		make_fn(m, i);
	irq.gsi = GSI_ACPI_SCI;
	CHECK0(acpi_pm_init(&m->pm, irq, ex, cs));
	CHECK0(debug_exit_create(ex, &m->dbg));
	testdev_init(&m->td, &guest_mem, (struct char_out){td_out, s});
	if (!on_bus)
		return;

	CHECK0(bus_init(&m->pio, BUS_PIO));
	CHECK0(bus_init(&m->mmio, BUS_MMIO));
	CHECK0(bus_register(&m->pio, PORT_COM1, UART8250_LEN, &uart8250_ops, m->uart, "com1"));
	CHECK0(bus_register(&m->pio, PORT_RTC, CMOS_RTC_LEN, &cmos_rtc_ops, m->rtc, "rtc"));
	CHECK0(bus_register(&m->pio, PORT_I8042_DATA, I8042_DATA_LEN, &i8042_data_ops, m->kbd,
			    "i8042"));
	CHECK0(bus_register(&m->pio, PORT_I8042_CMD, I8042_CMD_LEN, &i8042_cmd_ops, m->kbd,
			    "i8042"));
	CHECK0(bus_register(&m->pio, PORT_FW_CFG, FW_CFG_LEN, &fw_cfg_ops, m->fw, "fw_cfg"));
	CHECK0(bus_register(&m->pio, PORT_PCI_CONFIG, PCI_HOST_LEN, &pci_host_ops, m->pci, "pci"));
	CHECK0(acpi_pm_attach(&m->pm, &m->pio));
	CHECK0(bus_register(&m->pio, PORT_DEBUG_EXIT, DEBUG_EXIT_LEN, &debug_exit_ops, m->dbg,
			    "debug-exit"));
	CHECK0(bus_register(&m->pio, PORT_TESTDEV, TESTDEV_PIO_LEN, &testdev_pio_ops, &m->td,
			    "testdev"));
	CHECK0(bus_register(&m->mmio, LAYOUT_TESTDEV_MMIO, TESTDEV_MMIO_LEN, &testdev_mmio_ops,
			    &m->td, "testdev"));
	for (unsigned f = 0; f < NR_FNS; f++)
		for (unsigned b = 0; b < PCI_NUM_BARS; b++)
			bar_ctx[f][b] = (struct bar_ctx){m, f, b};
}

static void machine_destroy(struct machine *m)
{
	if (m->on_bus) {
		bus_destroy(&m->pio);
		bus_destroy(&m->mmio);
	}
	uart8250_destroy(m->uart);
	cmos_rtc_destroy(m->rtc);
	i8042_destroy(m->kbd);
	fw_cfg_destroy(m->fw);
	pci_host_destroy(m->pci);
	acpi_pm_destroy(&m->pm);
	debug_exit_destroy(m->dbg);
	testdev_destroy(&m->td);
}

/* ---- bus accesses ---- */

static unsigned access_size(uint8_t b)
{
	static const unsigned good[4] = {1, 2, 4, 8}, bad[4] = {0, 3, 5, 16};
	return b >= 0xfc ? bad[b & 3] : good[b & 3];
}

/* The bus and range of selector sel. */
static struct bus *dev_range(struct machine *m, unsigned sel, uint64_t *base, uint64_t *len)
{
	static const struct {
		uint64_t base, len;
	} pio[] = {
	    [SEL_UART] = {PORT_COM1, UART8250_LEN},
	    [SEL_RTC] = {PORT_RTC, CMOS_RTC_LEN},
	    [SEL_KBD_DATA] = {PORT_I8042_DATA, I8042_DATA_LEN},
	    [SEL_KBD_CMD] = {PORT_I8042_CMD, I8042_CMD_LEN},
	    [SEL_FW_CFG] = {PORT_FW_CFG, FW_CFG_LEN},
	    [SEL_PCI] = {PORT_PCI_CONFIG, PCI_HOST_LEN},
	    [SEL_ACPI_PM] = {PORT_ACPI_PM, ACPI_PM_LEN},
	    [SEL_DEBUG_EXIT] = {PORT_DEBUG_EXIT, DEBUG_EXIT_LEN},
	    [SEL_TESTDEV_PIO] = {PORT_TESTDEV, TESTDEV_PIO_LEN},
	};

	if (sel < SEL_TESTDEV_MMIO) {
		*base = pio[sel].base;
		*len = pio[sel].len;
		return &m->pio;
	}
	if (sel == SEL_TESTDEV_MMIO) {
		*base = LAYOUT_TESTDEV_MMIO;
		*len = TESTDEV_MMIO_LEN;
		return &m->mmio;
	}
	unsigned fn = sel - SEL_BAR0 < PCI_NUM_BARS ? 0 : 1;
	unsigned bar = fn ? 0 : sel - SEL_BAR0;
	const struct pci_bar *b = &m->fn[fn].bars[bar];
	*base = b->addr == PCI_BAR_UNMAPPED ? 0 : b->addr;
	*len = b->size ? b->size : 16;
	return b->type == PCI_BAR_IO ? &m->pio : &m->mmio;
}

static void op_access(struct machine *m, struct fz_in *in, bool write)
{
	uint64_t base, len, val = 0;
	unsigned sel = fz_u8(in) % SEL_COUNT;
	uint16_t off = fz_u16(in);
	unsigned size = access_size(fz_u8(in));
	struct bus *bus = dev_range(m, sel, &base, &len);
	uint64_t span = len + 8 < len ? len : len + 8;
	uint64_t addr = base + off % span - 4; /* wraps harmlessly below 0 */
	bool ok_size = size == 1 || size == 2 || size == 4 || size == 8;

	if (write) {
		val = fz_u64(in);
		int r = bus_write(bus, addr, size, val);
		FZ_CHECK(r == 0 || ok_size, "write of size %u claimed", size);
		return;
	}
	int r = bus_read(bus, addr, size, &val);
	FZ_CHECK(r == 0 || ok_size, "read of size %u claimed", size);
	if (r && size < 8)
		FZ_CHECK(val >> (8 * size) == 0, "read of size %u gave 0x%llx", size,
			 (unsigned long long)val);
	if (!r && bus->kind == BUS_PIO)
		FZ_CHECK(val == (size >= 8 ? ~0ull : (1ull << (8 * size)) - 1),
			 "unclaimed PIO read gave 0x%llx", (unsigned long long)val);
	if (!r && bus->kind == BUS_MMIO)
		FZ_CHECK(val == 0, "unclaimed MMIO read gave 0x%llx", (unsigned long long)val);
}

/* ---- save/load ---- */

struct all_state {
	struct uart8250_state uart;
	struct cmos_rtc_state rtc;
	struct i8042_state kbd;
	struct fw_cfg_state fw;
	struct pci_host_state pci;
	uint8_t fn[NR_FNS][PCI_CONFIG_SIZE];
	struct acpi_pm_state pm;
	struct debug_exit_state dbg;
};

static void save_all(struct machine *m, struct all_state *st)
{
	memset(st, 0, sizeof(*st));
	uart8250_save(m->uart, &st->uart);
	cmos_rtc_save(m->rtc, &st->rtc);
	i8042_save(m->kbd, &st->kbd);
	fw_cfg_save(m->fw, &st->fw);
	pci_host_save(m->pci, &st->pci);
	for (unsigned i = 0; i < NR_FNS; i++)
		pci_host_save_device(m->pci, &m->fn[i], st->fn[i]);
	acpi_pm_save(&m->pm, &st->pm);
	debug_exit_save(m->dbg, &st->dbg);
}

/* Load device dev of st into m; returns the load's result. */
static int load_one(struct machine *m, unsigned dev, const struct all_state *st)
{
	switch (dev) {
	case DEV_UART:
		return uart8250_load(m->uart, &st->uart);
	case DEV_RTC:
		return cmos_rtc_load(m->rtc, &st->rtc);
	case DEV_KBD:
		return i8042_load(m->kbd, &st->kbd);
	case DEV_FW_CFG:
		return fw_cfg_load(m->fw, &st->fw);
	case DEV_PCI_HOST:
		return pci_host_load(m->pci, &st->pci);
	case DEV_PCI_FN0:
	case DEV_PCI_FN1:
		return pci_host_load_device(m->pci, &m->fn[dev - DEV_PCI_FN0],
					    st->fn[dev - DEV_PCI_FN0]);
	case DEV_ACPI_PM:
		return acpi_pm_load(&m->pm, &st->pm);
	default:
		return debug_exit_load(m->dbg, &st->dbg);
	}
}

static const char *const dev_names[DEV_COUNT] = {
    "uart8250", "cmos_rtc", "i8042", "fw_cfg", "pci_host", "pci fn0", "pci fn1", "acpi_pm",
    "debug_exit"};

/* Compare the part of two saved states that belongs to dev. */
static int state_cmp(unsigned dev, const struct all_state *a, const struct all_state *b)
{
	switch (dev) {
	case DEV_UART:
		return memcmp(&a->uart, &b->uart, sizeof(a->uart));
	case DEV_RTC:
		return memcmp(&a->rtc, &b->rtc, sizeof(a->rtc));
	case DEV_KBD:
		return memcmp(&a->kbd, &b->kbd, sizeof(a->kbd));
	case DEV_FW_CFG:
		return memcmp(&a->fw, &b->fw, sizeof(a->fw));
	case DEV_PCI_HOST:
		return memcmp(&a->pci, &b->pci, sizeof(a->pci));
	case DEV_PCI_FN0:
	case DEV_PCI_FN1:
		return memcmp(a->fn[dev - DEV_PCI_FN0], b->fn[dev - DEV_PCI_FN0], PCI_CONFIG_SIZE);
	case DEV_ACPI_PM:
		return memcmp(&a->pm, &b->pm, sizeof(a->pm));
	default:
		return memcmp(&a->dbg, &b->dbg, sizeof(a->dbg));
	}
}

/* What m saves, a fresh machine loads and saves back unchanged. */
static void round_trip(struct machine *m, const struct cmos_rtc_mem *mem, const struct fw_add *log,
		       unsigned nlog)
{
	struct machine *fresh = malloc(sizeof(*fresh));
	struct all_state *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));
	struct sinks *s = malloc(sizeof(*s));

	FZ_CHECK(fresh && a && b && s, "out of memory");
	memset(s, 0, sizeof(*s));
	machine_init(fresh, false, m->clock, s, mem, log, nlog);
	save_all(m, a);
	for (unsigned d = 0; d < DEV_COUNT; d++) {
		int ret = load_one(fresh, d, a);
		FZ_CHECK(ret == 0, "%s: a fresh device rejects a saved state (%d)", dev_names[d],
			 ret);
	}
	save_all(fresh, b);
	for (unsigned d = 0; d < DEV_COUNT; d++)
		FZ_CHECK(state_cmp(d, a, b) == 0, "%s: state differs after save/load",
			 dev_names[d]);
	machine_destroy(fresh);
	free(fresh);
	free(a);
	free(b);
	free(s);
}

/* Load a fuzzed state into one device; a rejected state must leave the device unchanged. */
static void op_load(struct machine *m, struct fz_in *in)
{
	unsigned dev = fz_u8(in) % DEV_COUNT;
	struct all_state *st = malloc(sizeof(*st)), *before = malloc(sizeof(*before));
	struct all_state *after = malloc(sizeof(*after));

	FZ_CHECK(st && before && after, "out of memory");
	memset(st, 0, sizeof(*st));
	switch (dev) {
	case DEV_UART:
		fz_fill(in, &st->uart, sizeof(st->uart));
		break;
	case DEV_RTC:
		fz_fill(in, &st->rtc, sizeof(st->rtc));
		break;
	case DEV_KBD:
		fz_fill(in, &st->kbd, sizeof(st->kbd));
		break;
	case DEV_FW_CFG:
		fz_fill(in, &st->fw, sizeof(st->fw));
		break;
	case DEV_PCI_HOST:
		fz_fill(in, &st->pci, sizeof(st->pci));
		break;
	case DEV_PCI_FN0:
	case DEV_PCI_FN1:
		/* Mostly the device's own image with fuzzed bytes patched in, or nothing would
		 * ever pass the read-only check. */
		pci_host_save_device(m->pci, &m->fn[dev - DEV_PCI_FN0], st->fn[dev - DEV_PCI_FN0]);
		for (unsigned n = fz_u8(in) % 16; n; n--) {
			uint8_t reg = fz_u8(in);
			st->fn[dev - DEV_PCI_FN0][reg] = fz_u8(in);
		}
		break;
	case DEV_ACPI_PM:
		fz_fill(in, &st->pm, sizeof(st->pm));
		break;
	default:
		fz_fill(in, &st->dbg, sizeof(st->dbg));
		break;
	}
	save_all(m, before);
	int ret = load_one(m, dev, st);
	if (ret) {
		FZ_CHECK(ret == -EINVAL, "%s load: error %d", dev_names[dev], ret);
		save_all(m, after);
		FZ_CHECK(state_cmp(dev, before, after) == 0, "%s: a rejected load changed the state",
			 dev_names[dev]);
	}
	free(st);
	free(before);
	free(after);
}

/* ---- other operations ---- */

static void op_clock(struct fake_clock *c, struct fz_in *in)
{
	uint64_t d = (uint64_t)fz_u32(in) << (fz_u8(in) % 20);
	int64_t w = (int32_t)fz_u32(in);

	c->mono = c->mono + d < (1ull << 62) ? c->mono + d : c->mono; /* monotonic, no wrap */
	if (c->wall + w > -(1ll << 31) && c->wall + w < (1ll << 34))
		c->wall += w; /* host wall clock: may step, stays in a sane range */
}

static void op_reset(struct machine *m, struct fz_in *in)
{
	switch (fz_u8(in) % 9) {
	case 0:
		uart8250_reset(m->uart);
		break;
	case 1:
		cmos_rtc_reset(m->rtc);
		break;
	case 2:
		i8042_reset(m->kbd);
		break;
	case 3:
		fw_cfg_reset(m->fw);
		break;
	case 4:
		pci_host_reset(m->pci);
		break;
	case 5:
		acpi_pm_reset(&m->pm);
		break;
	case 6: {
		int ret = acpi_pm_power_button(&m->pm);
		FZ_CHECK(ret == 0 || ret == -EAGAIN, "power button: %d", ret);
		break;
	}
	case 7: {
		size_t n = uart8250_rx_space(m->uart);
		FZ_CHECK(n <= UART8250_FIFO_SIZE, "rx space %zu", n);
		(void)cmos_rtc_nmi_masked(m->rtc);
		break;
	}
	default:
		debug_exit_reset(m->dbg);
		break;
	}
}

static void op_rx(struct machine *m, struct fz_in *in)
{
	size_t want = fz_u8(in) % 33, got;
	const uint8_t *p = fz_bytes(in, want, &got);
	int n = uart8250_receive(m->uart, p, got);
	FZ_CHECK(n >= 0 && (size_t)n <= got, "uart8250_receive took %d of %zu", n, got);
}

static void op_pcicfg(struct machine *m, struct fz_in *in)
{
	bool write = fz_u8(in) & 1;
	uint16_t bdf = fz_u16(in);
	unsigned reg = fz_u16(in) % (PCI_EXT_CONFIG_SIZE + 8);
	unsigned size = access_size(fz_u8(in));
	uint32_t val = fz_u32(in), got = 0;
	int ret;

	if (write) {
		ret = pci_host_config_write(m->pci, bdf, reg, size, val);
	} else {
		ret = pci_host_config_read(m->pci, bdf, reg, size, &got);
		if (ret != -EINVAL && size < 4)
			FZ_CHECK(got >> (8 * size) == 0, "config read of size %u gave 0x%x", size,
				 got);
	}
	FZ_CHECK(ret == 0 || ret == -EINVAL || ret == -ENODEV, "config access: %d", ret);
}

static void op_poke(struct fz_in *in)
{
	unsigned r = fz_u8(in) % NR_REGIONS;
	size_t off = fz_u16(in) % mem_regions[r].size, got;
	const uint8_t *p = fz_bytes(in, fz_u8(in), &got);

	if (got > mem_regions[r].size - off)
		got = mem_regions[r].size - off;
	memcpy(mem_buf[r] + off, p, got);
}

static void op_fwadd(struct machine *m, struct fz_in *in, struct fw_add *log, unsigned *nlog)
{
	struct fw_add a;
	size_t got;
	const uint8_t *p;

	memset(&a, 0, sizeof(a));
	a.is_file = fz_u8(in) & 1;
	a.key = fz_u16(in);
	p = fz_bytes(in, fz_u8(in) % sizeof(a.name), &got);
	memcpy(a.name, p, got); /* NUL-terminated: a.name is one byte longer than the longest */
	a.data = fz_bytes(in, fz_u8(in), &a.len);
	if (a.len == 0 && (fz_u8(in) & 1))
		a.data = NULL;
	if (*nlog == FW_LOG_MAX)
		return;
	int ret = fw_add(m, &a);
	if (a.is_file) {
		FZ_CHECK(ret == (int)(FW_CFG_FILE_FIRST + m->nr_files) || ret == -EINVAL ||
			     ret == -ENAMETOOLONG || ret == -EEXIST || ret == -ENOSPC,
			 "fw_cfg_add_file: %d with %u files", ret, m->nr_files);
		if (ret >= 0)
			m->nr_files++;
	} else {
		FZ_CHECK(ret == 0 || ret == -EINVAL || ret == -EEXIST, "fw_cfg_add_bytes: %d",
			 ret);
	}
	if (ret >= 0)
		log[(*nlog)++] = a;
}

static void op_ucall(struct machine *m, struct fz_in *in)
{
	unsigned r = fz_u8(in) % NR_UCALL_REGIONS;
	uint64_t gpa = mem_regions[r].gpa + fz_u16(in) % mem_regions[r].size;
	struct testdev_ucall uc;
	char expect[OUT_MAX];
	size_t expect_len = 0;

	fz_fill(in, &uc, sizeof(uc));
	if (gmem_write(&guest_mem, gpa, &uc, sizeof(uc)))
		memset(&uc, 0, sizeof(uc)); /* partly outside RAM: the device will refuse it */
	bool in_ram = gmem_is_ram(&guest_mem, gpa, sizeof(uc));
	bool print = in_ram && uc.cmd == UCALL_PRINT && uc.args[1] <= TESTDEV_PRINT_MAX &&
		     gmem_is_ram(&guest_mem, uc.args[0], uc.args[1]);
	if (print) {
		memcpy(expect, "ucall: ", 7);
		FZ_CHECK(gmem_read(&guest_mem, uc.args[0], expect + 7, uc.args[1]) == 0, "print");
		expect[7 + uc.args[1]] = '\n';
		expect_len = 8 + uc.args[1];
	}
	m->sinks->out_len = 0;
	FZ_CHECK(bus_write(&m->pio, PORT_TESTDEV + 4, 4, gpa) == 1, "ucall port unclaimed");
	if (!in_ram)
		return;
	uint32_t status;
	FZ_CHECK(gmem_read(&guest_mem, gpa + 4, &status, 4) == 0, "status");
	FZ_CHECK(status == 1 || status == 2, "ucall status %u", status);
	if (print) {
		FZ_CHECK(status == 1, "valid PRINT rejected");
		FZ_CHECK(m->sinks->out_len == expect_len &&
			     memcmp(m->sinks->out, expect, expect_len) == 0,
			 "PRINT output differs (%zu bytes, expected %zu)", m->sinks->out_len,
			 expect_len);
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_log_setup();
	for (unsigned i = 0; i < NR_REGIONS; i++)
		CHECK0(gmem_add_region(&guest_mem, mem_regions[i].gpa, mem_regions[i].size,
				       mem_buf[i]));
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct machine m;
	static struct sinks sinks;
	static struct fw_add log[FW_LOG_MAX];
	struct fz_in in = fz_init(data, size);
	struct fake_clock clk;
	struct cmos_rtc_mem mem;
	unsigned nlog = 0;

	mem.ncpus = 1u + fz_u8(&in);
	mem.ram_below_4g = ((uint64_t)fz_u16(&in) % 4097) << 20;
	mem.ram_above_4g = (uint64_t)fz_u8(&in) << 30;
	clk.wall = 1700000000ll + (int32_t)fz_u32(&in);
	clk.mono = (uint64_t)fz_u32(&in) << 16;

	for (unsigned i = 0; i < NR_REGIONS; i++)
		memset(mem_buf[i], 0, mem_regions[i].size);
	memset(&sinks, 0, sizeof(sinks));
	machine_init(&m, true, &clk, &sinks, &mem, NULL, 0);

	while (fz_left(&in)) {
		switch (fz_u8(&in) % OP_COUNT) {
		case OP_READ:
			op_access(&m, &in, false);
			break;
		case OP_WRITE:
			op_access(&m, &in, true);
			break;
		case OP_RX:
			op_rx(&m, &in);
			break;
		case OP_CLOCK:
			op_clock(&clk, &in);
			break;
		case OP_LOAD:
			op_load(&m, &in);
			break;
		case OP_ROUND:
			round_trip(&m, &mem, log, nlog);
			break;
		case OP_RESET:
			op_reset(&m, &in);
			break;
		case OP_PCICFG:
			op_pcicfg(&m, &in);
			break;
		case OP_POKE:
			op_poke(&in);
			break;
		case OP_FWADD:
			op_fwadd(&m, &in, log, &nlog);
			break;
		default:
			op_ucall(&m, &in);
			break;
		}
	}
	round_trip(&m, &mem, log, nlog);
	machine_destroy(&m);
	return 0;
}
