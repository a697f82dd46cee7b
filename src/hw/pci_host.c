/* PCI host bridge, configuration mechanism #1, and the generic config-space and BAR logic of
 * struct pci_device. See pci_host.h for the model and the locking rules. */
#include "hw/pci_host.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define CONFIG_ADDR_ENABLE 0x80000000u
#define CONFIG_ADDR_MASK 0x80fffffcu
#define RCR_SYS_RST 0x02
#define RCR_RST_CPU 0x04
#define RCR_FULL_RST 0x08
#define RCR_STORED (RCR_SYS_RST | RCR_FULL_RST)

#define PCI_BAR_IO_SPACE 0x01
#define PCI_BAR_MEM_TYPE_64 0x04
#define PCI_BAR_MEM_PREFETCH 0x08
#define PCI_STATUS_W1C 0xf900 /* parity, target/master aborts, SERR, parity detected */
#define PCI_COMMAND_WRITABLE                                                                       \
	(PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_PARITY |           \
	 PCI_COMMAND_SERR | PCI_COMMAND_INTX_DISABLE)

struct pci_host {
	pthread_mutex_t lock; /* protects everything below and every registered config space */
	struct exit_sink reset;
	uint32_t config_addr;
	uint8_t rcr;
	struct pci_device *devs[256]; /* bus 0, by devfn */
	struct pci_device bridge;     /* 00:00.0 */
};

static uint32_t size_mask(unsigned size)
{
	return size >= 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
}

static uint32_t cfg_get(const uint8_t *c, unsigned reg, unsigned size)
{
	uint32_t v = 0;
	for (unsigned i = 0; i < size; i++)
		v |= (uint32_t)c[reg + i] << (8 * i);
	return v;
}

static void cfg_set(uint8_t *c, unsigned reg, unsigned size, uint32_t v)
{
	for (unsigned i = 0; i < size; i++)
		c[reg + i] = (uint8_t)(v >> (8 * i));
}

void pci_device_init(struct pci_device *d, uint16_t vendor, uint16_t device, uint32_t class_code,
		     uint8_t revision)
{
	memset(d, 0, sizeof(*d));
	cfg_set(d->config, PCI_VENDOR_ID, 2, vendor);
	cfg_set(d->config, PCI_DEVICE_ID, 2, device);
	d->config[PCI_REVISION_ID] = revision;
	cfg_set(d->config, PCI_CLASS_PROG, 3, class_code & 0xffffff);
	cfg_set(d->wmask, PCI_COMMAND, 2, PCI_COMMAND_WRITABLE);
	cfg_set(d->w1cmask, PCI_STATUS, 2, PCI_STATUS_W1C);
	d->wmask[PCI_CACHE_LINE_SIZE] = 0xff;
	d->wmask[PCI_LATENCY_TIMER] = 0xff;
	d->wmask[PCI_INTERRUPT_LINE] = 0xff;
	for (unsigned i = 0; i < PCI_NUM_BARS; i++)
		d->bars[i].addr = PCI_BAR_UNMAPPED;
}

int pci_device_init_bar(struct pci_device *d, unsigned bar, enum pci_bar_type type, uint64_t size,
			bool prefetchable)
{
	unsigned reg = PCI_BASE_ADDRESS_0 + 4 * bar;
	uint64_t min = type == PCI_BAR_IO ? 4 : 16, max;
	uint64_t mask = ~(size - 1) & ~0xfull;
	uint32_t bits;

	switch (type) {
	case PCI_BAR_IO:
		max = 0x10000;
		mask = ~(size - 1) & ~0x3ull;
		bits = PCI_BAR_IO_SPACE;
		break;
	case PCI_BAR_MEM32:
		max = 1ull << 31;
		bits = prefetchable ? PCI_BAR_MEM_PREFETCH : 0;
		break;
	case PCI_BAR_MEM64:
		max = 1ull << 63;
		bits = PCI_BAR_MEM_TYPE_64 | (prefetchable ? PCI_BAR_MEM_PREFETCH : 0);
		break;
	default:
		return -EINVAL;
	}
	if (bar >= PCI_NUM_BARS || (type == PCI_BAR_MEM64 && bar + 1 >= PCI_NUM_BARS))
		return -EINVAL;
	if (size < min || size > max || (size & (size - 1)))
		return -EINVAL;
	if (d->bars[bar].type != PCI_BAR_NONE ||
	    (bar > 0 && d->bars[bar - 1].type == PCI_BAR_MEM64))
		return -EBUSY;
	if (type == PCI_BAR_MEM64 && d->bars[bar + 1].type != PCI_BAR_NONE)
		return -EBUSY;
	cfg_set(d->config, reg, 4, bits);
	cfg_set(d->wmask, reg, 4, (uint32_t)mask);
	if (type == PCI_BAR_MEM64) {
		cfg_set(d->config, reg + 4, 4, 0);
		cfg_set(d->wmask, reg + 4, 4, (uint32_t)(mask >> 32));
	}
	d->bars[bar] = (struct pci_bar){type, size, PCI_BAR_UNMAPPED};
	return 0;
}

/* Where BAR i decodes now, from the command register and the BAR value. */
static uint64_t pci_bar_decode(const struct pci_device *d, unsigned i)
{
	const struct pci_bar *b = &d->bars[i];
	uint32_t cmd = cfg_get(d->config, PCI_COMMAND, 2);
	uint32_t lo = cfg_get(d->config, PCI_BASE_ADDRESS_0 + 4 * i, 4);
	uint64_t addr, last;

	switch (b->type) {
	case PCI_BAR_IO:
		addr = lo & ~0x3u;
		if (!(cmd & PCI_COMMAND_IO) || addr == 0 || addr + b->size - 1 > 0xffff)
			return PCI_BAR_UNMAPPED; /* x86 I/O space ends at 0xffff */
		return addr;
	case PCI_BAR_MEM32:
		addr = lo & ~0xfu;
		if (!(cmd & PCI_COMMAND_MEMORY) || addr == 0 || addr + b->size - 1 >= 0xffffffffull)
			return PCI_BAR_UNMAPPED; /* includes the all-ones sizing value */
		return addr;
	case PCI_BAR_MEM64:
		addr = (lo & ~0xfull) |
		       (uint64_t)cfg_get(d->config, PCI_BASE_ADDRESS_0 + 4 * i + 4, 4) << 32;
		if (!(cmd & PCI_COMMAND_MEMORY) || addr == 0 ||
		    __builtin_add_overflow(addr, b->size - 1, &last) || last == ~0ull)
			return PCI_BAR_UNMAPPED;
		return addr;
	default:
		return PCI_BAR_UNMAPPED;
	}
}

static void pci_update_bars(struct pci_device *d)
{
	for (unsigned i = 0; i < PCI_NUM_BARS; i++) {
		if (d->bars[i].type == PCI_BAR_NONE)
			continue;
		uint64_t now = pci_bar_decode(d, i), old = d->bars[i].addr;
		if (now == old)
			continue;
		d->bars[i].addr = now;
		if (d->bar_map)
			d->bar_map(d, i, old, now);
	}
}

static uint32_t pci_dev_read(struct pci_device *d, unsigned reg, unsigned size)
{
	uint32_t v = reg < PCI_CONFIG_SIZE ? cfg_get(d->config, reg, size) : 0;
	if (d->config_read)
		v = d->config_read(d, reg, size, v);
	return v & size_mask(size);
}

static void pci_dev_write(struct pci_device *d, unsigned reg, unsigned size, uint32_t val)
{
	bool remap = false;

	if (reg < PCI_CONFIG_SIZE) {
		for (unsigned i = 0; i < size; i++) {
			unsigned r = reg + i;
			uint8_t b = (uint8_t)(val >> (8 * i));
			d->config[r] = (uint8_t)((d->config[r] & ~d->wmask[r]) | (b & d->wmask[r]));
			d->config[r] &= (uint8_t) ~(b & d->w1cmask[r]);
			if (r == PCI_COMMAND || r == PCI_COMMAND + 1 ||
			    (r >= PCI_BASE_ADDRESS_0 && r < PCI_BASE_ADDRESS_0 + 4 * PCI_NUM_BARS))
				remap = true;
		}
		if (remap)
			pci_update_bars(d);
	}
	if (d->config_write)
		d->config_write(d, reg, size, val);
}

/* The function CONFIG_ADDRESS selects for a data-window access, or NULL. Caller holds the lock. */
static struct pci_device *pci_selected(struct pci_host *h)
{
	uint32_t a = h->config_addr;
	if (!(a & CONFIG_ADDR_ENABLE) || ((a >> 16) & 0xff) != 0)
		return NULL;
	return h->devs[(a >> 8) & 0xff];
}

static uint64_t pci_host_bus_read(void *dev, uint64_t off, unsigned size)
{
	struct pci_host *h = dev;
	uint64_t v = ~0ull;

	pthread_mutex_lock(&h->lock);
	if (off == 0 && size == 4) {
		v = h->config_addr;
	} else if (off == 1 && size == 1) {
		v = h->rcr;
	} else if (off >= 4 && off - 4 + size <= 4) {
		struct pci_device *d = pci_selected(h);
		if (d)
			v = pci_dev_read(d, (h->config_addr & 0xfc) + (unsigned)(off - 4), size);
	}
	pthread_mutex_unlock(&h->lock);
	return v;
}

static void pci_host_bus_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct pci_host *h = dev;
	bool reset = false;

	pthread_mutex_lock(&h->lock);
	if (off == 0 && size == 4) {
		h->config_addr = (uint32_t)val & CONFIG_ADDR_MASK;
	} else if (off == 1 && size == 1) {
		h->rcr = (uint8_t)val & RCR_STORED;
		reset = (val & (RCR_RST_CPU | RCR_SYS_RST)) == (RCR_RST_CPU | RCR_SYS_RST);
	} else if (off >= 4 && off - 4 + size <= 4) {
		struct pci_device *d = pci_selected(h);
		if (d)
			pci_dev_write(d, (h->config_addr & 0xfc) + (unsigned)(off - 4), size,
				      (uint32_t)val);
	}
	pthread_mutex_unlock(&h->lock);
	if (reset)
		exit_sink_request(&h->reset, VM_EXIT_RESET, 0);
}

const struct bus_ops pci_host_ops = {pci_host_bus_read, pci_host_bus_write};

int pci_host_create(struct exit_sink reset, struct pci_host **out)
{
	struct pci_host *h = calloc(1, sizeof(*h));
	int ret;

	*out = NULL;
	if (!h)
		return -ENOMEM;
	ret = pthread_mutex_init(&h->lock, NULL);
	if (ret) {
		free(h);
		return -ret;
	}
	h->reset = reset;
	pci_device_init(&h->bridge, 0x8086, 0x29c0, 0x060000, 0);
	h->bridge.registered = true;
	h->devs[0] = &h->bridge;
	*out = h;
	return 0;
}

void pci_host_destroy(struct pci_host *h)
{
	if (!h)
		return;
	pthread_mutex_destroy(&h->lock);
	free(h);
}

void pci_host_reset(struct pci_host *h)
{
	pthread_mutex_lock(&h->lock);
	h->config_addr = 0;
	h->rcr = 0;
	for (unsigned i = 0; i < 256; i++) {
		struct pci_device *d = h->devs[i];
		if (!d)
			continue;
		for (unsigned r = PCI_COMMAND; r < 0x40; r++)
			d->config[r] &= (uint8_t) ~(d->wmask[r] | d->w1cmask[r]);
		pci_update_bars(d);
	}
	pthread_mutex_unlock(&h->lock);
}

int pci_host_add_device(struct pci_host *h, unsigned dev, unsigned fn, struct pci_device *d)
{
	int ret = 0;

	if (dev > 31 || fn > 7 || !d)
		return -EINVAL;
	unsigned devfn = dev << 3 | fn;
	pthread_mutex_lock(&h->lock);
	if (d->registered) {
		ret = -EINVAL;
	} else if (h->devs[devfn]) {
		ret = -EEXIST;
	} else {
		d->devfn = (uint8_t)devfn;
		d->registered = true;
		h->devs[devfn] = d;
		struct pci_device *f0 = h->devs[dev << 3];
		for (unsigned f = 1; f0 && f < 8; f++)
			if (h->devs[dev << 3 | f])
				f0->config[PCI_HEADER_TYPE] |= PCI_HEADER_TYPE_MULTI;
	}
	pthread_mutex_unlock(&h->lock);
	return ret;
}

static int pci_access_check(unsigned reg, unsigned size)
{
	if ((size != 1 && size != 2 && size != 4) || reg >= PCI_EXT_CONFIG_SIZE ||
	    (reg & 3) + size > 4)
		return -EINVAL;
	return 0;
}

int pci_host_config_read(struct pci_host *h, uint16_t bdf, unsigned reg, unsigned size,
			 uint32_t *val)
{
	int ret = pci_access_check(reg, size);
	if (ret)
		return ret;
	pthread_mutex_lock(&h->lock);
	struct pci_device *d = (bdf >> 8) ? NULL : h->devs[bdf & 0xff];
	if (d) {
		*val = pci_dev_read(d, reg, size);
	} else {
		*val = size_mask(size);
		ret = -ENODEV;
	}
	pthread_mutex_unlock(&h->lock);
	return ret;
}

int pci_host_config_write(struct pci_host *h, uint16_t bdf, unsigned reg, unsigned size,
			  uint32_t val)
{
	int ret = pci_access_check(reg, size);
	if (ret)
		return ret;
	pthread_mutex_lock(&h->lock);
	struct pci_device *d = (bdf >> 8) ? NULL : h->devs[bdf & 0xff];
	if (d)
		pci_dev_write(d, reg, size, val & size_mask(size));
	else
		ret = -ENODEV;
	pthread_mutex_unlock(&h->lock);
	return ret;
}

void pci_host_save_device(struct pci_host *h, struct pci_device *d, uint8_t cfg[PCI_CONFIG_SIZE])
{
	pthread_mutex_lock(&h->lock);
	memcpy(cfg, d->config, PCI_CONFIG_SIZE);
	pthread_mutex_unlock(&h->lock);
}

/* Every read-only bit of cfg must match d. Caller holds the lock. */
static int pci_config_check(const struct pci_device *d, const uint8_t *cfg)
{
	for (unsigned r = 0; r < PCI_CONFIG_SIZE; r++) {
		uint8_t ro = (uint8_t) ~(d->wmask[r] | d->w1cmask[r]);
		if (r == PCI_STATUS)
			ro &= (uint8_t)~PCI_STATUS_INTERRUPT;
		if ((cfg[r] ^ d->config[r]) & ro)
			return -EINVAL;
	}
	return 0;
}

int pci_host_load_device(struct pci_host *h, struct pci_device *d,
			 const uint8_t cfg[PCI_CONFIG_SIZE])
{
	int ret;

	pthread_mutex_lock(&h->lock);
	if (!d->registered || h->devs[d->devfn] != d) {
		ret = -ENOENT;
	} else {
		ret = pci_config_check(d, cfg);
		if (!ret) {
			memcpy(d->config, cfg, PCI_CONFIG_SIZE);
			pci_update_bars(d);
		}
	}
	pthread_mutex_unlock(&h->lock);
	return ret;
}

void pci_host_save(struct pci_host *h, struct pci_host_state *st)
{
	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&h->lock);
	st->config_addr = h->config_addr;
	st->rcr = h->rcr;
	memcpy(st->bridge_config, h->bridge.config, PCI_CONFIG_SIZE);
	pthread_mutex_unlock(&h->lock);
}

int pci_host_load(struct pci_host *h, const struct pci_host_state *st)
{
	int ret;

	if ((st->config_addr & ~CONFIG_ADDR_MASK) || (st->rcr & ~RCR_STORED) || st->reserved[0] ||
	    st->reserved[1] || st->reserved[2])
		return -EINVAL;
	pthread_mutex_lock(&h->lock);
	ret = pci_config_check(&h->bridge, st->bridge_config);
	if (!ret) {
		h->config_addr = st->config_addr;
		h->rcr = st->rcr;
		memcpy(h->bridge.config, st->bridge_config, PCI_CONFIG_SIZE);
	}
	pthread_mutex_unlock(&h->lock);
	return ret;
}
