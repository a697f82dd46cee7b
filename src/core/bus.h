/* PIO and MMIO buses. Devices register (base, len, ops, dev); handlers get the offset from base.
 * The bus rejects zero-length, overflowing and overlapping ranges. An unclaimed PIO read returns
 * all ones, an unclaimed MMIO read returns zeros; both are logged rate-limited.
 *
 * Locking: `lock` (a rwlock) protects the range table. Dispatch takes it for reading; register and
 * unregister take it for writing. A handler must not register or unregister on the bus that is
 * calling it (PCI BAR changes run from the PIO bus and change the MMIO bus, which is allowed).
 * Handlers are called with the bus lock held for reading and serialise on their own device lock. */
#ifndef VMON_CORE_BUS_H
#define VMON_CORE_BUS_H

#include <pthread.h>
#include <stdint.h>

struct bus_ops {
	/* size is 1, 2, 4 or 8; the result's low `size` bytes are used. */
	uint64_t (*read)(void *dev, uint64_t off, unsigned size);
	void (*write)(void *dev, uint64_t off, unsigned size, uint64_t val);
};

struct bus_range {
	uint64_t base;
	uint64_t len;
	const struct bus_ops *ops;
	void *dev;
	const char *name;
};

enum bus_kind { BUS_PIO, BUS_MMIO };

struct bus {
	enum bus_kind kind;
	pthread_rwlock_t lock;
	struct bus_range *ranges; /* sorted by base, non-overlapping */
	unsigned nr, cap;
};

/* Initialise an empty bus. Returns 0 or -errno. */
int bus_init(struct bus *bus, enum bus_kind kind) __attribute__((warn_unused_result));
void bus_destroy(struct bus *bus);

/* Claim [base, base+len) for dev. -EINVAL for len 0, overflow, or a PIO range past 0xffff;
 * -EEXIST when it overlaps an existing range; -ENOMEM. name must outlive the registration. */
int bus_register(struct bus *bus, uint64_t base, uint64_t len, const struct bus_ops *ops, void *dev,
		 const char *name) __attribute__((warn_unused_result));

/* Release the range registered at exactly `base` for `dev`. Returns 0 or -ENOENT. */
int bus_unregister(struct bus *bus, uint64_t base, void *dev);

/* Dispatch an access of `size` (1, 2, 4, 8) bytes. An access is delivered to the range containing
 * addr when it fits inside it entirely; otherwise it is unclaimed. Returns 1 when a device claimed
 * the access, 0 when not (then *val is all ones for PIO, zero for MMIO). */
int bus_read(struct bus *bus, uint64_t addr, unsigned size, uint64_t *val);
int bus_write(struct bus *bus, uint64_t addr, unsigned size, uint64_t val);

/* Byte-buffer forms used by the vCPU loops (data is little-endian, as the guest sees it). */
int bus_read_bytes(struct bus *bus, uint64_t addr, void *data, unsigned size);
int bus_write_bytes(struct bus *bus, uint64_t addr, const void *data, unsigned size);

#endif
