/* libFuzzer harness: the virtio-pci transport (src/virtio/virtio_pci*.c) with a virtio console
 * (two queues, a device configuration) behind it, driven as a hostile guest would through the PCI
 * host's config mechanism (ports 0xcf8/0xcfc), BAR4 (common/ISR/device/notify), BAR1 (MSI-X table
 * and PBA) and the PCI_CFG window, with queues in fake guest memory.
 *
 * Guest RAM is one 64 KiB region at 0; queue q's rings are at desc 0x1000 + 0x3000 q, avail
 * + 0x1000, used + 0x2000. The function is device 1; BAR4 and BAR1 are placed on an MMIO bus by
 * the map callback wherever the input assigns them (usually through the SETUP op).
 *
 * Input: operations until the input ends (little-endian operands; opcode = first byte % OP_COUNT):
 *   0 CFGW  reg u8, size u8 (1 << n % 3), val u32   config write by bdf (pci_host_config_write)
 *   1 CFGR  reg u8, size u8                         config read
 *   2 BARW  off u16 (% 0x4000), size u8 (1 << n % 4), val u64   BAR4 write
 *   3 BARR  off u16, size u8                        BAR4 read
 *   4 MSIW  off u16 (% 0x1000), size u8, val u64    BAR1 write
 *   5 MSIR  off u16, size u8                        BAR1 read
 *   6 POKE  off u16, len u8, bytes                  guest memory (rings, buffers)
 *   7 NOTIFY q u8                                   virtio_dev_notify until no work is left
 *   8 SETUP flags u8                                BARs at 0xc0000000/0xc0004000, memory and bus
 *                                                   master on, MSI-X (flag 1) with vectors 0..2,
 *                                                   Linux's init sequence, both queues, DRIVER_OK
 *   9 ROUND                                         save, load into a fresh transport, save
 *  10 CHANGE                                        virtio_dev_config_changed
 *  11 PIO   port u8 (% 8), size u8, val u32, write u8   a raw 0xcf8-0xcff access
 *
 * Invariants checked (beyond ASan/UBSan): the INTx line is only high while MSI-X is off and INTx
 * is not disabled in the command register, and the status register's interrupt bit equals it;
 * a second ISR read right after one returns 0 and leaves the line low; MSI messages are sent only
 * while MSI-X is enabled and bus mastering is on; used entries name heads inside the queue; a fresh
 * transport loads the saved state and saves it back identically. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bus.h"
#include "core/gmem.h"
#include "fuzz_input.h"
#include "fuzz_virtio.h"
#include "virtio/virtio_console.h"
#include "virtio/virtio_pci.h"
#include "virtq_builder.h"

enum {
	OP_CFGW,
	OP_CFGR,
	OP_BARW,
	OP_BARR,
	OP_MSIW,
	OP_MSIR,
	OP_POKE,
	OP_NOTIFY,
	OP_SETUP,
	OP_ROUND,
	OP_CHANGE,
	OP_PIO,
	OP_COUNT
};

#define MEM_SIZE 0x10000u
#define QSIZE 16
#define MAX_OPS 256
#define SLOT 1
#define BDF PCI_BDF(0, SLOT, 0)
#define BAR4_AT 0xc0000000ull
#define BAR1_AT 0xc0004000ull

static uint8_t *mem;
static struct gmem gm;

/* One transport with its host and bus; heap-allocated so the callbacks' ctx stays valid. */
struct side {
	struct pci_host *host;
	struct virtio_console *con;
	struct virtio_pci *p;
	struct bus mmio;
	uint64_t at[2]; /* BAR4, BAR1 registered at, or PCI_BAR_UNMAPPED */
	int level;
	unsigned msis;
};

struct run {
	struct side *s;
	struct vqb q[2];
};

static uint64_t ring(unsigned q, unsigned which)
{
	return 0x1000 + 0x3000 * q + 0x1000 * which;
}

static void intx_set(void *ctx, unsigned gsi, int level)
{
	((struct side *)ctx)->level = level;
}

static int msi_send(void *ctx, unsigned vector, uint64_t addr, uint32_t data)
{
	((struct side *)ctx)->msis++;
	return 0;
}

static void notify_cb(void *ctx, unsigned q)
{
	FZ_CHECK(q < 2, "notify for queue %u", q);
}

static void map_cb(void *ctx, unsigned bar, uint64_t old_addr, uint64_t new_addr)
{
	struct side *r = ctx;
	unsigned i = bar == VIRTIO_PCI_MSIX_BAR;
	uint64_t len = i ? VIRTIO_PCI_MSIX_BAR_SIZE : VIRTIO_PCI_BAR_SIZE;

	FZ_CHECK(bar == VIRTIO_PCI_BAR || bar == VIRTIO_PCI_MSIX_BAR, "map of BAR%u", bar);
	if (r->at[i] != PCI_BAR_UNMAPPED)
		FZ_CHECK(bus_unregister(&r->mmio, r->at[i], r->p) == 0, "unregister");
	r->at[i] = PCI_BAR_UNMAPPED;
	if (new_addr != PCI_BAR_UNMAPPED &&
	    !bus_register(&r->mmio, new_addr, len, i ? &virtio_pci_msix_ops : &virtio_pci_bar_ops,
			  r->p, "vpci"))
		r->at[i] = new_addr;
}

static struct side *make(void)
{
	struct side *r = calloc(1, sizeof(*r));
	FZ_CHECK(r && bus_init(&r->mmio, BUS_MMIO) == 0, "side");
	struct virtio_pci_wiring w = {
	    .slot = SLOT,
	    .intx = {intx_set, r, 16},
	    .msi = {msi_send, r},
	    .notify = notify_cb,
	    .map = map_cb,
	    .ctx = r,
	};
	FZ_CHECK(pci_host_create((struct exit_sink){NULL, NULL}, &r->host) == 0, "host");
	FZ_CHECK(virtio_console_create(&gm, (struct char_out){NULL, NULL}, &r->con) == 0, "con");
	w.host = r->host;
	r->at[0] = r->at[1] = PCI_BAR_UNMAPPED;
	FZ_CHECK(virtio_pci_create(virtio_console_dev(r->con), &w, &r->p) == 0, "pci");
	return r;
}

static void unmake(struct side *r)
{
	for (unsigned i = 0; i < 2; i++)
		if (r->at[i] != PCI_BAR_UNMAPPED)
			bus_unregister(&r->mmio, r->at[i], r->p);
	pci_host_destroy(r->host);
	virtio_pci_destroy(r->p);
	virtio_console_destroy(r->con);
	bus_destroy(&r->mmio);
	free(r);
}

static uint32_t cfg_rd(struct side *r, unsigned reg, unsigned size)
{
	uint32_t v = 0;
	(void)pci_host_config_read(r->host, BDF, reg, size, &v);
	return v;
}

static void cfg_wr(struct side *r, unsigned reg, unsigned size, uint32_t v)
{
	(void)pci_host_config_write(r->host, BDF, reg, size, v);
}

static unsigned msix_cap(struct side *r)
{
	for (unsigned pos = cfg_rd(r, PCI_CAPABILITY_LIST, 1), n = 0; pos && n < 48; n++) {
		if (cfg_rd(r, pos, 1) == PCI_CAP_ID_MSIX)
			return pos;
		pos = cfg_rd(r, pos + 1, 1);
	}
	FZ_CHECK(0, "no MSI-X capability");
	return 0;
}

static void bar_wr(struct side *r, uint64_t off, unsigned size, uint64_t v)
{
	virtio_pci_bar_ops.write(r->p, off, size, v);
}

static void setup(struct run *run, uint8_t flags)
{
	struct side *r = run->s;

	cfg_wr(r, PCI_BASE_ADDRESS_0 + 4 * VIRTIO_PCI_BAR, 4, (uint32_t)BAR4_AT);
	cfg_wr(r, PCI_BASE_ADDRESS_0 + 4 * VIRTIO_PCI_BAR + 4, 4, 0);
	cfg_wr(r, PCI_BASE_ADDRESS_0 + 4 * VIRTIO_PCI_MSIX_BAR, 4, (uint32_t)BAR1_AT);
	cfg_wr(r, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	for (unsigned v = 0; v < 3; v++) {
		virtio_pci_msix_ops.write(r->p, 16 * v, 4, 0xfee00000u);
		virtio_pci_msix_ops.write(r->p, 16 * v + 8, 4, 0x30 + v);
		virtio_pci_msix_ops.write(r->p, 16 * v + 12, 4, 0);
	}
	cfg_wr(r, msix_cap(r) + 2, 2, flags & 1 ? PCI_MSIX_FLAGS_ENABLE : 0);
	bar_wr(r, VIRTIO_PCI_COMMON_STATUS, 1, 0);
	memset(mem, 0, 0x7000);
	bar_wr(r, VIRTIO_PCI_COMMON_STATUS, 1, 3);
	bar_wr(r, VIRTIO_PCI_COMMON_GFSELECT, 4, 1);
	bar_wr(r, VIRTIO_PCI_COMMON_GF, 4, 1);
	bar_wr(r, VIRTIO_PCI_COMMON_GFSELECT, 4, 0);
	bar_wr(r, VIRTIO_PCI_COMMON_GF, 4, flags & 2 ? 1u << VIRTIO_F_EVENT_IDX : 0);
	bar_wr(r, VIRTIO_PCI_COMMON_STATUS, 1, 0xb);
	bar_wr(r, VIRTIO_PCI_COMMON_MSIX, 2, 2);
	for (unsigned q = 0; q < 2; q++) {
		vqb_init(&run->q[q], &gm, QSIZE, ring(q, 0), ring(q, 1), ring(q, 2));
		bar_wr(r, VIRTIO_PCI_COMMON_Q_SELECT, 2, q);
		bar_wr(r, VIRTIO_PCI_COMMON_Q_SIZE, 2, QSIZE);
		bar_wr(r, VIRTIO_PCI_COMMON_Q_MSIX, 2, q);
		bar_wr(r, VIRTIO_PCI_COMMON_Q_DESC, 8, ring(q, 0));
		bar_wr(r, VIRTIO_PCI_COMMON_Q_AVAIL, 8, ring(q, 1));
		bar_wr(r, VIRTIO_PCI_COMMON_Q_USED, 8, ring(q, 2));
		bar_wr(r, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
	}
	bar_wr(r, VIRTIO_PCI_COMMON_STATUS, 1, 0xf);
}

static void round_trip(struct run *run)
{
	static struct virtio_pci_state a, b;
	struct side *r = run->s, *r2 = make();

	FZ_CHECK(virtio_pci_save(r->p, &a) == 0, "save failed");
	FZ_CHECK(virtio_pci_load(r2->p, &a) == 0, "a fresh transport refused the saved state");
	FZ_CHECK(virtio_pci_save(r2->p, &b) == 0, "save of the loaded transport");
	FZ_CHECK(!memcmp(&a, &b, sizeof(a)), "state differs after load");
	FZ_CHECK(r2->level == r->level, "INTx %d after load, %d before", r2->level, r->level);
	r2->msis = r->msis;
	unmake(r);
	run->s = r2;
}

/* The INTx line and the status bit agree with the config space. */
static void check_intx(struct side *r)
{
	uint32_t cmd = cfg_rd(r, PCI_COMMAND, 4);
	uint32_t ctl = cfg_rd(r, msix_cap(r) + 2, 2);
	bool status = (cmd >> 16) & PCI_STATUS_INTERRUPT;

	FZ_CHECK(!r->level || !((ctl & PCI_MSIX_FLAGS_ENABLE) || (cmd & PCI_COMMAND_INTX_DISABLE)),
		 "INTx high with MSI-X control 0x%x, command 0x%x", ctl, cmd & 0xffff);
	FZ_CHECK(status == (r->level != 0), "status interrupt bit %d, line %d", status, r->level);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_log_setup();
	mem = aligned_alloc(GMEM_PAGE_SIZE, MEM_SIZE);
	FZ_CHECK(mem, "memory");
	FZ_CHECK(gmem_add_region(&gm, 0, MEM_SIZE, mem) == 0, "region");
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_in in = fz_init(data, size);
	struct run r = {0};
	unsigned ops = 0;

	memset(mem, 0, MEM_SIZE);
	r.s = make();
	for (unsigned q = 0; q < 2; q++)
		vqb_init(&r.q[q], &gm, QSIZE, ring(q, 0), ring(q, 1), ring(q, 2));
	while (fz_left(&in) && ops++ < MAX_OPS) {
		unsigned op = fz_u8(&in) % OP_COUNT, msis = r.s->msis;
		uint32_t cmd = cfg_rd(r.s, PCI_COMMAND, 2), ctl = cfg_rd(r.s, msix_cap(r.s) + 2, 2);
		switch (op) {
		case OP_CFGW: {
			unsigned reg = fz_u8(&in), sz = 1u << (fz_u8(&in) % 3);
			cfg_wr(r.s, reg, sz, fz_u32(&in));
			break;
		}
		case OP_CFGR: {
			unsigned reg = fz_u8(&in), sz = 1u << (fz_u8(&in) % 3);
			(void)cfg_rd(r.s, reg, sz);
			break;
		}
		case OP_BARW: {
			uint64_t off = fz_u16(&in) % VIRTIO_PCI_BAR_SIZE;
			unsigned sz = 1u << (fz_u8(&in) % 4);
			bar_wr(r.s, off, sz, fz_u64(&in));
			break;
		}
		case OP_BARR: {
			uint64_t off = fz_u16(&in) % VIRTIO_PCI_BAR_SIZE;
			unsigned sz = 1u << (fz_u8(&in) % 4);
			bool isr = off == VIRTIO_PCI_ISR_OFF;
			(void)virtio_pci_bar_ops.read(r.s->p, off, sz);
			if (isr) {
				FZ_CHECK(virtio_pci_bar_ops.read(r.s->p, off, 1) == 0,
					 "ISR not cleared");
				FZ_CHECK(!r.s->level, "INTx high after the ISR read");
			}
			break;
		}
		case OP_MSIW: {
			uint64_t off = fz_u16(&in) % VIRTIO_PCI_MSIX_BAR_SIZE;
			unsigned sz = 1u << (fz_u8(&in) % 4);
			virtio_pci_msix_ops.write(r.s->p, off, sz, fz_u64(&in));
			break;
		}
		case OP_MSIR: {
			uint64_t off = fz_u16(&in) % VIRTIO_PCI_MSIX_BAR_SIZE;
			(void)virtio_pci_msix_ops.read(r.s->p, off, 1u << (fz_u8(&in) % 4));
			break;
		}
		case OP_POKE:
			fzv_poke_mem(&in, mem, MEM_SIZE, 1, r.q, 2);
			break;
		case OP_NOTIFY:
			fzv_notify_until_idle(virtio_console_dev(r.s->con), fz_u8(&in) & 1, 64);
			break;
		case OP_SETUP:
			setup(&r, fz_u8(&in));
			break;
		case OP_ROUND:
			round_trip(&r);
			break;
		case OP_CHANGE: {
			struct virtio_dev *vdev = virtio_console_dev(r.s->con);
			pthread_mutex_lock(&vdev->lock);
			virtio_dev_config_changed(vdev);
			pthread_mutex_unlock(&vdev->lock);
			break;
		}
		case OP_PIO: {
			unsigned port = fz_u8(&in) % 8, sz = 1u << (fz_u8(&in) % 3);
			uint32_t val = fz_u32(&in);
			if (fz_u8(&in) & 1)
				pci_host_ops.write(r.s->host, port, sz, val);
			else
				(void)pci_host_ops.read(r.s->host, port, sz);
			break;
		}
		}
		/* Messages only while MSI-X was on and the function could master, before or after.
		 */
		uint32_t cmd2 = cfg_rd(r.s, PCI_COMMAND, 2),
			 ctl2 = cfg_rd(r.s, msix_cap(r.s) + 2, 2);
		FZ_CHECK(r.s->msis == msis || (((cmd | cmd2) & PCI_COMMAND_MASTER) &&
					       ((ctl | ctl2) & PCI_MSIX_FLAGS_ENABLE)),
			 "MSI sent with command 0x%x/0x%x, MSI-X control 0x%x/0x%x", cmd, cmd2, ctl,
			 ctl2);
		check_intx(r.s);
		for (unsigned q = 0; q < 2; q++)
			fzv_check_used(&r.q[q], q);
	}
	unmake(r.s);
	return 0;
}
