/* Unit tests for the PCI host bridge (mechanism #1) and the generic pci_device logic. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/bus.h"
#include "hw/pci_host.h"

#define EN 0x80000000u

struct map_event {
	unsigned bar;
	uint64_t old_addr, new_addr;
};

struct fixture {
	struct pci_host *h;
	int exits;
	enum vm_exit_kind exit_kind;
	struct pci_device dev;
	struct map_event ev[32];
	unsigned nev;
	unsigned writes_seen;
	uint32_t last_write;
};

static void fake_exit(void *ctx, enum vm_exit_kind kind, int code)
{
	struct fixture *fx = ctx;
	assert_int_equal(code, 0);
	fx->exits++;
	fx->exit_kind = kind;
}

static void fake_bar_map(struct pci_device *d, unsigned bar, uint64_t old_addr, uint64_t new_addr)
{
	struct fixture *fx = d->opaque;
	assert_true(fx->nev < 32);
	fx->ev[fx->nev++] = (struct map_event){bar, old_addr, new_addr};
}

static uint32_t fake_config_read(struct pci_device *d, unsigned reg, unsigned size, uint32_t val)
{
	(void)d;
	(void)size;
	return reg == 0x40 ? 0xc0ffee11u : val;
}

static void fake_config_write(struct pci_device *d, unsigned reg, unsigned size, uint32_t val)
{
	struct fixture *fx = d->opaque;
	(void)size;
	if (reg >= 0x40) {
		fx->writes_seen++;
		fx->last_write = val;
	}
}

/* 00:03.0: I/O BAR0 (32 bytes), MEM32 BAR1 (4 KiB), MEM64 prefetchable BAR2-3 (8 GiB). */
static void make_dev(struct fixture *fx, struct pci_device *d)
{
	pci_device_init(d, 0x1af4, 0x1042, 0x018000, 1);
	assert_int_equal(pci_device_init_bar(d, 0, PCI_BAR_IO, 32, false), 0);
	assert_int_equal(pci_device_init_bar(d, 1, PCI_BAR_MEM32, 0x1000, false), 0);
	assert_int_equal(pci_device_init_bar(d, 2, PCI_BAR_MEM64, 8ull << 30, true), 0);
	d->config[PCI_INTERRUPT_PIN] = 1;
	d->wmask[0x44] = 0xff;
	d->config_read = fake_config_read;
	d->config_write = fake_config_write;
	d->bar_map = fake_bar_map;
	d->opaque = fx;
}

static int setup(void **state)
{
	struct fixture *fx = test_calloc(1, sizeof(*fx));
	struct exit_sink ex = {fake_exit, fx};
	assert_int_equal(pci_host_create(ex, &fx->h), 0);
	make_dev(fx, &fx->dev);
	assert_int_equal(pci_host_add_device(fx->h, 3, 0, &fx->dev), 0);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	pci_host_destroy(fx->h);
	test_free(fx);
	return 0;
}

static uint32_t pio_read(struct pci_host *h, unsigned port, unsigned size)
{
	return (uint32_t)pci_host_ops.read(h, port - 0xcf8, size);
}

static void pio_write(struct pci_host *h, unsigned port, unsigned size, uint32_t v)
{
	pci_host_ops.write(h, port - 0xcf8, size, v);
}

/* Mechanism #1 read of a config register through the ports. */
static uint32_t cfg_rd(struct pci_host *h, unsigned dev, unsigned fn, unsigned reg, unsigned size)
{
	pio_write(h, 0xcf8, 4, EN | dev << 11 | fn << 8 | (reg & 0xfc));
	return pio_read(h, 0xcfc + (reg & 3), size) & (size == 4 ? ~0u : (1u << 8 * size) - 1);
}

static void cfg_wr(struct pci_host *h, unsigned dev, unsigned fn, unsigned reg, unsigned size,
		   uint32_t v)
{
	pio_write(h, 0xcf8, 4, EN | dev << 11 | fn << 8 | (reg & 0xfc));
	pio_write(h, 0xcfc + (reg & 3), size, v);
}

static void test_config_address(void **state)
{
	struct fixture *fx = *state;
	pio_write(fx->h, 0xcf8, 4, 0xffffffff);
	assert_int_equal(pio_read(fx->h, 0xcf8, 4), 0x80fffffc);
	pio_write(fx->h, 0xcf8, 4, EN | 0x1803);
	assert_int_equal(pio_read(fx->h, 0xcf8, 4), EN | 0x1800);
	/* Narrow accesses to 0xcf8-0xcfb: all ones / ignored (0xcf9 bytes excepted). */
	assert_int_equal(pio_read(fx->h, 0xcf8, 1) & 0xff, 0xff);
	assert_int_equal(pio_read(fx->h, 0xcfa, 2) & 0xffff, 0xffff);
	pio_write(fx->h, 0xcf8, 2, 0);
	pio_write(fx->h, 0xcfa, 1, 0);
	assert_int_equal(pio_read(fx->h, 0xcf8, 4), EN | 0x1800);
	assert_int_equal(pci_host_ops.read(fx->h, 2, 4) & 0xffffffff, 0xffffffff); /* straddles */
}

static void test_host_bridge(void **state)
{
	struct fixture *fx = *state;
	assert_int_equal(cfg_rd(fx->h, 0, 0, 0x00, 4), 0x29c08086);
	assert_int_equal(cfg_rd(fx->h, 0, 0, 0x08, 4) >> 8, 0x060000);
	assert_int_equal(cfg_rd(fx->h, 0, 0, 0x0e, 1), 0x00);
	assert_int_equal(cfg_rd(fx->h, 0, 0, 0x02, 2), 0x29c0);
	assert_int_equal(cfg_rd(fx->h, 0, 0, 0x01, 1), 0x80);
	assert_int_equal(cfg_rd(fx->h, 0, 0, 0x03, 1), 0x29);
	cfg_wr(fx->h, 0, 0, 0x00, 4, 0); /* IDs are read-only */
	assert_int_equal(cfg_rd(fx->h, 0, 0, 0x00, 4), 0x29c08086);
	cfg_wr(fx->h, 0, 0, 0x04, 2, 0xffff);
	assert_int_equal(cfg_rd(fx->h, 0, 0, 0x04, 2), 0x0547);
	cfg_wr(fx->h, 0, 0, 0x3c, 1, 0x0b);
	assert_int_equal(cfg_rd(fx->h, 0, 0, 0x3c, 1), 0x0b);
}

static void test_absent_and_disabled(void **state)
{
	struct fixture *fx = *state;
	assert_int_equal(cfg_rd(fx->h, 1, 0, 0, 4), 0xffffffff);
	assert_int_equal(cfg_rd(fx->h, 3, 1, 0, 4), 0xffffffff);
	assert_int_equal(cfg_rd(fx->h, 31, 7, 0, 2), 0xffff);
	pio_write(fx->h, 0xcf8, 4, EN | 1 << 16); /* bus 1 */
	assert_int_equal(pio_read(fx->h, 0xcfc, 4), 0xffffffff);
	pio_write(fx->h, 0xcf8, 4, 0x1800); /* enable bit clear */
	assert_int_equal(pio_read(fx->h, 0xcfc, 4), 0xffffffff);
	pio_write(fx->h, 0xcfc, 4, 0); /* dropped */
	assert_int_equal(cfg_rd(fx->h, 3, 0, 0, 4), 0x10421af4);
	cfg_wr(fx->h, 5, 0, 0x04, 2, 7); /* writes to nothing are harmless */
}

static void test_reset_control(void **state)
{
	struct fixture *fx = *state;
	pio_write(fx->h, 0xcf9, 1, 0x02); /* Linux writes SYS_RST first */
	assert_int_equal(fx->exits, 0);
	assert_int_equal(pio_read(fx->h, 0xcf9, 1), 0x02);
	pio_write(fx->h, 0xcf9, 1, 0x04); /* RST_CPU without SYS_RST: not a reset here */
	assert_int_equal(fx->exits, 0);
	assert_int_equal(pio_read(fx->h, 0xcf9, 1), 0x00);
	pio_write(fx->h, 0xcf9, 1, 0x06);
	assert_int_equal(fx->exits, 1);
	assert_int_equal(fx->exit_kind, VM_EXIT_RESET);
	assert_int_equal(pio_read(fx->h, 0xcf9, 1), 0x02); /* RST_CPU self-clears */
	pio_write(fx->h, 0xcf9, 1, 0x0e);
	assert_int_equal(fx->exits, 2);
	assert_int_equal(pio_read(fx->h, 0xcf9, 1), 0x0a);
	pio_write(fx->h, 0xcf8, 4, 0x06); /* a dword at 0xcf8 is CONFIG_ADDRESS, not RCR */
	assert_int_equal(fx->exits, 2);
}

static void test_data_window_offsets(void **state)
{
	struct fixture *fx = *state;
	pio_write(fx->h, 0xcf8, 4, EN | 3 << 11 | 0x00);
	assert_int_equal(pio_read(fx->h, 0xcfc, 4), 0x10421af4);
	assert_int_equal(pio_read(fx->h, 0xcfd, 1) & 0xff, 0x1a);
	assert_int_equal(pio_read(fx->h, 0xcfe, 2) & 0xffff, 0x1042);
	assert_int_equal(pio_read(fx->h, 0xcfd, 2) & 0xffff, 0x421a);
	assert_int_equal(pio_read(fx->h, 0xcff, 1) & 0xff, 0x10);
	pio_write(fx->h, 0xcf8, 4, EN | 3 << 11 | 0x3c);
	pio_write(fx->h, 0xcfc, 1, 0x0a);
	assert_int_equal(pio_read(fx->h, 0xcfc, 4), 0x010a);
	pio_write(fx->h, 0xcf8, 4, EN | 3 << 11 | 0x08);
	assert_int_equal(pio_read(fx->h, 0xcfc, 4), 0x01800001);
	/* An access spilling past the window's dword (not deliverable by the bus) is refused. */
	pio_write(fx->h, 0xcf8, 4, EN | 3 << 11 | 0xfc);
	assert_int_equal(pci_host_ops.read(fx->h, 6, 4) & 0xffffffff, 0xffffffff);
	pci_host_ops.write(fx->h, 7, 2, 0);
}

static void test_bar_sizing(void **state)
{
	struct fixture *fx = *state;
	assert_int_equal(cfg_rd(fx->h, 3, 0, 0x10, 4), 0x00000001);
	assert_int_equal(cfg_rd(fx->h, 3, 0, 0x18, 4), 0x0000000c);
	for (unsigned r = 0x10; r < 0x28; r += 4)
		cfg_wr(fx->h, 3, 0, r, 4, 0xffffffff);
	assert_int_equal(cfg_rd(fx->h, 3, 0, 0x10, 4), 0xffffffe1);
	assert_int_equal(cfg_rd(fx->h, 3, 0, 0x14, 4), 0xfffff000);
	assert_int_equal(cfg_rd(fx->h, 3, 0, 0x18, 4), 0x0000000c); /* 8 GiB: no low size bits */
	assert_int_equal(cfg_rd(fx->h, 3, 0, 0x1c, 4), 0xfffffffe);
	assert_int_equal(cfg_rd(fx->h, 3, 0, 0x20, 4), 0); /* unimplemented BARs */
	assert_int_equal(cfg_rd(fx->h, 3, 0, 0x24, 4), 0);
	assert_int_equal(cfg_rd(fx->h, 3, 0, 0x30, 4), 0); /* no expansion ROM */
	assert_int_equal(fx->nev, 0);			   /* decoding is off */
}

static void test_bar_mapping(void **state)
{
	struct fixture *fx = *state;
	cfg_wr(fx->h, 3, 0, 0x10, 4, 0xc040);
	cfg_wr(fx->h, 3, 0, 0x14, 4, 0xc0001000);
	cfg_wr(fx->h, 3, 0, 0x18, 4, 0);
	cfg_wr(fx->h, 3, 0, 0x1c, 4, 0x4);
	assert_int_equal(fx->nev, 0);
	cfg_wr(fx->h, 3, 0, 0x04, 2, PCI_COMMAND_IO | PCI_COMMAND_MEMORY);
	assert_int_equal(fx->nev, 3);
	assert_int_equal(fx->ev[0].bar, 0);
	assert_true(fx->ev[0].old_addr == PCI_BAR_UNMAPPED);
	assert_int_equal(fx->ev[0].new_addr, 0xc040);
	assert_int_equal(fx->ev[1].new_addr, 0xc0001000);
	assert_int_equal(fx->ev[2].bar, 2);
	assert_int_equal(fx->ev[2].new_addr, 0x400000000ull);
	assert_int_equal(fx->dev.bars[1].addr, 0xc0001000);

	/* Sizing with decode on: the BAR unmaps while it holds the mask, then comes back. */
	cfg_wr(fx->h, 3, 0, 0x14, 4, 0xffffffff);
	assert_int_equal(fx->nev, 4);
	assert_true(fx->ev[3].new_addr == PCI_BAR_UNMAPPED);
	cfg_wr(fx->h, 3, 0, 0x14, 4, 0xc0002000);
	assert_int_equal(fx->nev, 5);
	assert_true(fx->ev[4].old_addr == PCI_BAR_UNMAPPED);
	assert_int_equal(fx->ev[4].new_addr, 0xc0002000);
	/* Moving a mapped BAR reports old and new. */
	cfg_wr(fx->h, 3, 0, 0x14, 4, 0xc0003000);
	assert_int_equal(fx->ev[5].old_addr, 0xc0002000);
	assert_int_equal(fx->ev[5].new_addr, 0xc0003000);
	/* An I/O BAR past 0xffff does not decode. */
	cfg_wr(fx->h, 3, 0, 0x10, 4, 0x10000);
	assert_int_equal(fx->ev[6].bar, 0);
	assert_true(fx->ev[6].new_addr == PCI_BAR_UNMAPPED);
	/* Memory decode off unmaps the memory BARs only. */
	cfg_wr(fx->h, 3, 0, 0x10, 4, 0xc040);
	unsigned n = fx->nev;
	cfg_wr(fx->h, 3, 0, 0x04, 2, PCI_COMMAND_IO);
	assert_int_equal(fx->nev, n + 2);
	assert_int_equal(fx->ev[n].bar, 1);
	assert_int_equal(fx->ev[n + 1].bar, 2);
	assert_int_equal(fx->dev.bars[0].addr, 0xc040);
	/* Machine reset: decoding off, BARs cleared. */
	pci_host_reset(fx->h);
	assert_int_equal(pio_read(fx->h, 0xcf8, 4), 0);
	assert_true(fx->dev.bars[0].addr == PCI_BAR_UNMAPPED);
	assert_int_equal(cfg_rd(fx->h, 3, 0, 0x10, 4), 1);
	assert_int_equal(cfg_rd(fx->h, 3, 0, 0x04, 2), 0);
}

/* A device whose BAR0 (MEM32, 4 KiB) the bar_map hook places on an MMIO bus, as core/vpci does. */
struct bus_dev {
	struct pci_device pci;
	struct bus *mmio;
	uint32_t reg;
	int map_errors;
	uint64_t at; /* where it is registered, or PCI_BAR_UNMAPPED */
};

static uint64_t bus_dev_read(void *dev, uint64_t off, unsigned size)
{
	struct bus_dev *b = dev;
	return off == 0 ? b->reg : 0x1000 + off;
}

static void bus_dev_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct bus_dev *b = dev;
	if (off == 0)
		b->reg = (uint32_t)val;
}

static const struct bus_ops bus_dev_ops = {bus_dev_read, bus_dev_write};

static void bus_dev_map(struct pci_device *d, unsigned bar, uint64_t old_addr, uint64_t new_addr)
{
	struct bus_dev *b = d->opaque;
	if (b->at != PCI_BAR_UNMAPPED)
		assert_int_equal(bus_unregister(b->mmio, b->at, b), 0);
	b->at = PCI_BAR_UNMAPPED;
	if (new_addr == PCI_BAR_UNMAPPED)
		return;
	if (bus_register(b->mmio, new_addr, 0x1000, &bus_dev_ops, b, "bus-dev"))
		b->map_errors++;
	else
		b->at = new_addr;
}

static void bus_dev_init(struct bus_dev *b, struct bus *mmio, uint16_t id)
{
	memset(b, 0, sizeof(*b));
	pci_device_init(&b->pci, 0x1af4, id, 0x00ff00, 1);
	assert_int_equal(pci_device_init_bar(&b->pci, 0, PCI_BAR_MEM32, 0x1000, false), 0);
	b->pci.bar_map = bus_dev_map;
	b->pci.opaque = b;
	b->mmio = mmio;
	b->at = PCI_BAR_UNMAPPED;
}

/* Linux's enumeration through the PIO bus: find the functions of bus 0, size every BAR, assign
 * addresses, enable decoding; the BARs then answer on the MMIO bus, move with the BAR register,
 * and an overlapping assignment is refused by the bus (the BAR stays unclaimed). */
static void test_enumeration_and_bus_registration(void **state)
{
	struct fixture *fx = *state;
	struct bus pio, mmio;
	struct bus_dev a, b;
	uint64_t v;
	unsigned found = 0;

	assert_int_equal(bus_init(&pio, BUS_PIO), 0);
	assert_int_equal(bus_init(&mmio, BUS_MMIO), 0);
	assert_int_equal(bus_register(&pio, 0xcf8, PCI_HOST_LEN, &pci_host_ops, fx->h, "pci"), 0);
	bus_dev_init(&a, &mmio, 0x1044);
	bus_dev_init(&b, &mmio, 0x1043);
	assert_int_equal(pci_host_add_device(fx->h, 1, 0, &a.pci), 0);
	assert_int_equal(pci_host_add_device(fx->h, 2, 0, &b.pci), 0);

	for (unsigned dev = 0; dev < 32; dev++) {
		assert_int_equal(bus_write(&pio, 0xcf8, 4, EN | dev << 11), 1);
		assert_int_equal(bus_read(&pio, 0xcfc, 4, &v), 1);
		if ((v & 0xffff) == 0xffff)
			continue;
		found |= 1u << dev;
		/* BAR0 sizing: save, write all ones, read the mask, restore. */
		assert_int_equal(bus_write(&pio, 0xcf8, 4, EN | dev << 11 | 0x10), 1);
		assert_int_equal(bus_read(&pio, 0xcfc, 4, &v), 1);
		uint32_t saved = (uint32_t)v;
		assert_int_equal(bus_write(&pio, 0xcfc, 4, 0xffffffff), 1);
		assert_int_equal(bus_read(&pio, 0xcfc, 4, &v), 1);
		if (dev == 1 || dev == 2)
			assert_int_equal(v, 0xfffff000);
		assert_int_equal(bus_write(&pio, 0xcfc, 4, saved), 1);
	}
	assert_int_equal(found, 1u << 0 | 1u << 1 | 1u << 2 | 1u << 3);

	/* Assign 0xc0000000 and 0xc0001000, then enable memory decoding. */
	cfg_wr(fx->h, 1, 0, 0x10, 4, 0xc0000000);
	cfg_wr(fx->h, 2, 0, 0x10, 4, 0xc0001000);
	assert_int_equal(bus_read(&mmio, 0xc0000000, 4, &v), 0);
	cfg_wr(fx->h, 1, 0, 0x04, 2, PCI_COMMAND_MEMORY);
	cfg_wr(fx->h, 2, 0, 0x04, 2, PCI_COMMAND_MEMORY);
	assert_int_equal(bus_write(&mmio, 0xc0000000, 4, 0x11), 1);
	assert_int_equal(bus_write(&mmio, 0xc0001000, 4, 0x22), 1);
	assert_int_equal(a.reg, 0x11);
	assert_int_equal(b.reg, 0x22);
	assert_int_equal(bus_read(&mmio, 0xc0001008, 4, &v), 1);
	assert_int_equal(v, 0x1008);
	/* Move a: the old range is free, the new one reaches a. */
	cfg_wr(fx->h, 1, 0, 0x10, 4, 0xc0008000);
	assert_int_equal(bus_read(&mmio, 0xc0000000, 4, &v), 0);
	assert_int_equal(bus_read(&mmio, 0xc0008000, 4, &v), 1);
	assert_int_equal(v, 0x11);
	/* Move a over b: the bus refuses, b keeps its range. */
	cfg_wr(fx->h, 1, 0, 0x10, 4, 0xc0001000);
	assert_int_equal(a.map_errors, 1);
	assert_int_equal(bus_read(&mmio, 0xc0001000, 4, &v), 1);
	assert_int_equal(v, 0x22);
	/* Reset unmaps both. */
	cfg_wr(fx->h, 1, 0, 0x10, 4, 0xc0008000);
	pci_host_reset(fx->h);
	assert_int_equal(bus_read(&mmio, 0xc0008000, 4, &v), 0);
	assert_int_equal(bus_read(&mmio, 0xc0001000, 4, &v), 0);
	bus_destroy(&mmio);
	bus_destroy(&pio);
}

static void test_masks_and_hooks(void **state)
{
	struct fixture *fx = *state;
	uint32_t v;
	fx->dev.config[PCI_STATUS + 1] = 0x20; /* received master abort latched */
	fx->dev.config[PCI_STATUS] = PCI_STATUS_CAP_LIST;
	cfg_wr(fx->h, 3, 0, 0x06, 2, 0x0000); /* writing 0 clears nothing */
	assert_int_equal(cfg_rd(fx->h, 3, 0, 0x06, 2), 0x2010);
	cfg_wr(fx->h, 3, 0, 0x06, 2, 0xffff); /* W1C clears the error, not CAP_LIST */
	assert_int_equal(cfg_rd(fx->h, 3, 0, 0x06, 2), 0x0010);
	cfg_wr(fx->h, 3, 0, 0x3d, 1, 4); /* interrupt pin is read-only */
	assert_int_equal(cfg_rd(fx->h, 3, 0, 0x3d, 1), 1);
	/* Hooks: a read override and a write observer. */
	assert_int_equal(cfg_rd(fx->h, 3, 0, 0x40, 4), 0xc0ffee11);
	assert_int_equal(cfg_rd(fx->h, 3, 0, 0x40, 2), 0xee11);
	cfg_wr(fx->h, 3, 0, 0x44, 4, 0x12345678);
	assert_int_equal(fx->writes_seen, 1);
	assert_int_equal(fx->last_write, 0x12345678);
	assert_int_equal(cfg_rd(fx->h, 3, 0, 0x44, 4), 0x78); /* only byte 0x44 is writable */
	/* The helpers reach the same state; extended space reads 0. */
	assert_int_equal(pci_host_config_read(fx->h, PCI_BDF(0, 3, 0), 0x44, 1, &v), 0);
	assert_int_equal(v, 0x78);
	assert_int_equal(pci_host_config_read(fx->h, PCI_BDF(0, 3, 0), 0x100, 4, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(pci_host_config_write(fx->h, PCI_BDF(0, 3, 0), 0x3c, 1, 0x1ff), 0);
	assert_int_equal(cfg_rd(fx->h, 3, 0, 0x3c, 2), 0x01ff);
	assert_int_equal(pci_host_config_read(fx->h, PCI_BDF(0, 4, 0), 0, 4, &v), -ENODEV);
	assert_int_equal(v, 0xffffffff);
	assert_int_equal(pci_host_config_read(fx->h, PCI_BDF(1, 0, 0), 0, 2, &v), -ENODEV);
	assert_int_equal(v, 0xffff);
	assert_int_equal(pci_host_config_write(fx->h, PCI_BDF(0, 4, 0), 0, 4, 0), -ENODEV);
	assert_int_equal(pci_host_config_read(fx->h, 0, 3, 2, &v), -EINVAL); /* crosses a dword */
	assert_int_equal(pci_host_config_read(fx->h, 0, 0, 3, &v), -EINVAL);
	assert_int_equal(pci_host_config_read(fx->h, 0, 4096, 1, &v), -EINVAL);
	assert_int_equal(pci_host_config_write(fx->h, 0, 2, 4, 0), -EINVAL);
}

static void test_add_device_and_bars(void **state)
{
	struct fixture *fx = *state;
	struct pci_device a, b, c;

	pci_device_init(&a, 0x1234, 0x0001, 0x020000, 0);
	pci_device_init(&b, 0x1234, 0x0002, 0x020000, 0);
	pci_device_init(&c, 0x1234, 0x0003, 0x020000, 0);
	assert_int_equal(pci_host_add_device(fx->h, 32, 0, &a), -EINVAL);
	assert_int_equal(pci_host_add_device(fx->h, 0, 8, &a), -EINVAL);
	assert_int_equal(pci_host_add_device(fx->h, 0, 0, &a), -EEXIST); /* host bridge */
	assert_int_equal(pci_host_add_device(fx->h, 3, 0, &a), -EEXIST);
	assert_int_equal(pci_host_add_device(fx->h, 4, 1, &a), 0);
	assert_int_equal(pci_host_add_device(fx->h, 4, 2, &a), -EINVAL); /* already registered */
	assert_int_equal(cfg_rd(fx->h, 4, 1, 0, 4), 0x00011234);
	assert_int_equal(pci_host_add_device(fx->h, 4, 0, &b), 0);
	assert_int_equal(cfg_rd(fx->h, 4, 0, 0x0e, 1), 0x80); /* multi-function */
	assert_int_equal(cfg_rd(fx->h, 4, 1, 0x0e, 1), 0x00);
	assert_int_equal(pci_host_add_device(fx->h, 5, 0, &c), 0);
	assert_int_equal(cfg_rd(fx->h, 5, 0, 0x0e, 1), 0x00);

	/* BAR declaration rules. */
	struct pci_device d;
	pci_device_init(&d, 1, 2, 0, 0);
	assert_int_equal(pci_device_init_bar(&d, 6, PCI_BAR_IO, 4, false), -EINVAL);
	assert_int_equal(pci_device_init_bar(&d, 5, PCI_BAR_MEM64, 16, false), -EINVAL);
	assert_int_equal(pci_device_init_bar(&d, 0, PCI_BAR_IO, 2, false), -EINVAL);
	assert_int_equal(pci_device_init_bar(&d, 0, PCI_BAR_MEM32, 0x3000, false), -EINVAL);
	assert_int_equal(pci_device_init_bar(&d, 0, PCI_BAR_MEM32, 1ull << 32, false), -EINVAL);
	assert_int_equal(pci_device_init_bar(&d, 0, PCI_BAR_NONE, 16, false), -EINVAL);
	assert_int_equal(pci_device_init_bar(&d, 1, PCI_BAR_MEM64, 1ull << 20, false), 0);
	assert_int_equal(pci_device_init_bar(&d, 2, PCI_BAR_IO, 16, false), -EBUSY);
	assert_int_equal(pci_device_init_bar(&d, 1, PCI_BAR_IO, 16, false), -EBUSY);
	assert_int_equal(pci_device_init_bar(&d, 0, PCI_BAR_MEM64, 16, false), -EBUSY);
	assert_int_equal(pci_device_init_bar(&d, 3, PCI_BAR_MEM32, 16, true), 0);
	assert_int_equal(d.config[0x1c], 0x08);
}

static void test_save_load(void **state)
{
	struct fixture *fx = *state;
	struct pci_host_state st, st2;
	uint8_t cfg[PCI_CONFIG_SIZE], cfg2[PCI_CONFIG_SIZE];
	struct fixture fx2 = {0};
	struct exit_sink ex = {fake_exit, &fx2};

	cfg_wr(fx->h, 0, 0, 0x04, 2, PCI_COMMAND_MASTER);
	cfg_wr(fx->h, 3, 0, 0x14, 4, 0xc0004000);
	cfg_wr(fx->h, 3, 0, 0x04, 2, PCI_COMMAND_MEMORY);
	cfg_wr(fx->h, 3, 0, 0x44, 1, 0x5a);
	pio_write(fx->h, 0xcf9, 1, 0x08);
	pio_write(fx->h, 0xcf8, 4, EN | 3 << 11 | 0x14);
	pci_host_save(fx->h, &st);
	pci_host_save_device(fx->h, &fx->dev, cfg);

	assert_int_equal(pci_host_create(ex, &fx2.h), 0);
	make_dev(&fx2, &fx2.dev);
	assert_int_equal(pci_host_load_device(fx2.h, &fx2.dev, cfg), -ENOENT); /* not added yet */
	assert_int_equal(pci_host_add_device(fx2.h, 3, 0, &fx2.dev), 0);
	assert_int_equal(pci_host_load(fx2.h, &st), 0);
	assert_int_equal(pci_host_load_device(fx2.h, &fx2.dev, cfg), 0);
	assert_int_equal(fx2.nev, 1); /* the memory BAR got mapped */
	assert_int_equal(fx2.ev[0].bar, 1);
	assert_int_equal(fx2.ev[0].new_addr, 0xc0004000);
	pci_host_save(fx2.h, &st2);
	assert_memory_equal(&st, &st2, sizeof(st));
	pci_host_save_device(fx2.h, &fx2.dev, cfg2);
	assert_memory_equal(cfg, cfg2, sizeof(cfg));
	assert_int_equal(pio_read(fx2.h, 0xcfc, 4), 0xc0004000); /* CONFIG_ADDRESS restored */
	assert_int_equal(pio_read(fx2.h, 0xcf9, 1), 0x08);
	assert_int_equal(cfg_rd(fx2.h, 0, 0, 0x04, 2), PCI_COMMAND_MASTER);

	/* Malformed images are refused and change nothing. */
	struct pci_host_state bad = st;
	bad.config_addr |= 1;
	assert_int_equal(pci_host_load(fx2.h, &bad), -EINVAL);
	bad = st;
	bad.rcr = 0x04;
	assert_int_equal(pci_host_load(fx2.h, &bad), -EINVAL);
	bad = st;
	bad.reserved[1] = 1;
	assert_int_equal(pci_host_load(fx2.h, &bad), -EINVAL);
	bad = st;
	bad.bridge_config[PCI_DEVICE_ID] ^= 1; /* a different device */
	assert_int_equal(pci_host_load(fx2.h, &bad), -EINVAL);
	uint8_t badcfg[PCI_CONFIG_SIZE];
	memcpy(badcfg, cfg, sizeof(badcfg));
	badcfg[0x18] &= (uint8_t)~0x04; /* BAR2 type bits changed */
	assert_int_equal(pci_host_load_device(fx2.h, &fx2.dev, badcfg), -EINVAL);
	memcpy(badcfg, cfg, sizeof(badcfg));
	badcfg[0x45] = 1; /* read-only device register */
	assert_int_equal(pci_host_load_device(fx2.h, &fx2.dev, badcfg), -EINVAL);
	memcpy(badcfg, cfg, sizeof(badcfg));
	badcfg[PCI_STATUS] |= PCI_STATUS_INTERRUPT; /* dynamic bit: accepted */
	assert_int_equal(pci_host_load_device(fx2.h, &fx2.dev, badcfg), 0);
	pci_host_save(fx2.h, &st2);
	assert_int_equal(st2.rcr, st.rcr);
	assert_memory_equal(st.bridge_config, st2.bridge_config, PCI_CONFIG_SIZE);
	pci_host_destroy(fx2.h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_config_address, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_host_bridge, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_absent_and_disabled, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reset_control, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_data_window_offsets, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bar_sizing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bar_mapping, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_enumeration_and_bus_registration, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_masks_and_hooks, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_add_device_and_bars, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_save_load, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
