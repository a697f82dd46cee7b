#include "core/bus.h"
#include "core/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int bus_init(struct bus *bus, enum bus_kind kind)
{
	memset(bus, 0, sizeof(*bus));
	bus->kind = kind;
	return -pthread_rwlock_init(&bus->lock, NULL);
}

void bus_destroy(struct bus *bus)
{
	free(bus->ranges);
	pthread_rwlock_destroy(&bus->lock);
	memset(bus, 0, sizeof(*bus));
}

int bus_register(struct bus *bus, uint64_t base, uint64_t len, const struct bus_ops *ops, void *dev,
		 const char *name)
{
	uint64_t end;
	int ret = 0;

	if (len == 0 || ops == NULL || __builtin_add_overflow(base, len - 1, &end))
		return -EINVAL;
	if (bus->kind == BUS_PIO && end > 0xffff)
		return -EINVAL;
	pthread_rwlock_wrlock(&bus->lock);
	unsigned pos = 0;
	while (pos < bus->nr && bus->ranges[pos].base < base)
		pos++;
	/* Neighbours: the one before must end before base, the one at pos must start after end. */
	if (pos > 0) {
		const struct bus_range *p = &bus->ranges[pos - 1];
		if (p->base + (p->len - 1) >= base) {
			ret = -EEXIST;
			goto out;
		}
	}
	if (pos < bus->nr && bus->ranges[pos].base <= end) {
		ret = -EEXIST;
		goto out;
	}
	if (bus->nr == bus->cap) {
		unsigned cap = bus->cap ? bus->cap * 2 : 16;
		struct bus_range *r = realloc(bus->ranges, cap * sizeof(*r));
		if (!r) {
			ret = -ENOMEM;
			goto out;
		}
		bus->ranges = r;
		bus->cap = cap;
	}
	memmove(&bus->ranges[pos + 1], &bus->ranges[pos], (bus->nr - pos) * sizeof(bus->ranges[0]));
	bus->ranges[pos] = (struct bus_range){base, len, ops, dev, name};
	bus->nr++;
out:
	pthread_rwlock_unlock(&bus->lock);
	return ret;
}

int bus_unregister(struct bus *bus, uint64_t base, void *dev)
{
	int ret = -ENOENT;
	pthread_rwlock_wrlock(&bus->lock);
	for (unsigned i = 0; i < bus->nr; i++) {
		if (bus->ranges[i].base == base && bus->ranges[i].dev == dev) {
			memmove(&bus->ranges[i], &bus->ranges[i + 1],
				(bus->nr - i - 1) * sizeof(bus->ranges[0]));
			bus->nr--;
			ret = 0;
			break;
		}
	}
	pthread_rwlock_unlock(&bus->lock);
	return ret;
}

/* Binary search for the range containing [addr, addr+size). Caller holds the lock. */
static const struct bus_range *bus_find(const struct bus *bus, uint64_t addr, unsigned size)
{
	unsigned lo = 0, hi = bus->nr;
	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		const struct bus_range *r = &bus->ranges[mid];
		if (addr < r->base)
			hi = mid;
		else if (addr - r->base >= r->len)
			lo = mid + 1;
		else
			return (size <= r->len && addr - r->base <= r->len - size) ? r : NULL;
	}
	return NULL;
}

static int size_ok(unsigned size)
{
	return size == 1 || size == 2 || size == 4 || size == 8;
}

int bus_read(struct bus *bus, uint64_t addr, unsigned size, uint64_t *val)
{
	const struct bus_range *r = NULL;
	pthread_rwlock_rdlock(&bus->lock);
	if (size_ok(size))
		r = bus_find(bus, addr, size);
	if (r)
		*val = r->ops->read ? r->ops->read(r->dev, addr - r->base, size) : 0;
	pthread_rwlock_unlock(&bus->lock);
	if (r) {
		if (size < 8)
			*val &= (1ull << (size * 8)) - 1;
		return 1;
	}
	if (bus->kind == BUS_PIO) {
		*val = size >= 8 ? ~0ull : (1ull << (size * 8)) - 1;
		log_rl(LOG_DEBUG, "unclaimed PIO read 0x%llx size %u", (unsigned long long)addr,
		       size);
	} else {
		*val = 0;
		log_rl(LOG_INFO, "unclaimed MMIO read 0x%llx size %u", (unsigned long long)addr,
		       size);
	}
	return 0;
}

int bus_write(struct bus *bus, uint64_t addr, unsigned size, uint64_t val)
{
	const struct bus_range *r = NULL;
	pthread_rwlock_rdlock(&bus->lock);
	if (size_ok(size))
		r = bus_find(bus, addr, size);
	if (r && r->ops->write) {
		if (size < 8)
			val &= (1ull << (size * 8)) - 1;
		r->ops->write(r->dev, addr - r->base, size, val);
	}
	pthread_rwlock_unlock(&bus->lock);
	if (!r)
		log_rl(bus->kind == BUS_PIO ? LOG_DEBUG : LOG_INFO,
		       "unclaimed %s write 0x%llx size %u", bus->kind == BUS_PIO ? "PIO" : "MMIO",
		       (unsigned long long)addr, size);
	return r != NULL;
}

int bus_read_bytes(struct bus *bus, uint64_t addr, void *data, unsigned size)
{
	uint64_t v = 0;
	int claimed = bus_read(bus, addr, size, &v);
	uint8_t *d = data;
	for (unsigned i = 0; i < size && i < 8; i++)
		d[i] = (uint8_t)(v >> (8 * i));
	return claimed;
}

int bus_write_bytes(struct bus *bus, uint64_t addr, const void *data, unsigned size)
{
	uint64_t v = 0;
	const uint8_t *d = data;
	for (unsigned i = 0; i < size && i < 8; i++)
		v |= (uint64_t)d[i] << (8 * i);
	return bus_write(bus, addr, size, v);
}
