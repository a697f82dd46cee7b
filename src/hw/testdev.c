#include "hw/testdev.h"
#include "core/log.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

void testdev_init(struct testdev *td, struct gmem *gm, struct char_out out)
{
	memset(td, 0, sizeof(*td));
	pthread_mutex_init(&td->lock, NULL);
	td->gm = gm;
	td->out = out;
}

void testdev_destroy(struct testdev *td)
{
	pthread_mutex_destroy(&td->lock);
}

static void td_emit(struct testdev *td, const char *s, size_t len)
{
	if (td->out.write)
		(void)td->out.write(td->out.ctx, s, len);
}

/* Service one ucall at gpa. Every guest field is copied out once, then validated. */
static void td_ucall(struct testdev *td, uint64_t gpa)
{
	struct testdev_ucall uc;
	uint32_t status = 2;
	char line[TESTDEV_PRINT_MAX + 64];

	if (gmem_read(td->gm, gpa, &uc, sizeof(uc))) {
		log_rl(LOG_WARN, "testdev: ucall struct at 0x%" PRIx64 " is not RAM", gpa);
		return;
	}
	td->nr_ucalls++;
	switch (uc.cmd) {
	case UCALL_PRINT: {
		uint64_t len = uc.args[1];
		if (len > TESTDEV_PRINT_MAX)
			break;
		int n = snprintf(line, sizeof(line), "ucall: ");
		if (gmem_read(td->gm, uc.args[0], line + n, len))
			break;
		line[n + len] = '\n';
		td_emit(td, line, (size_t)n + len + 1);
		status = 1;
		break;
	}
	case UCALL_SYNC:
	case UCALL_DONE:
	case UCALL_ABORT: {
		static const char *const names[] = {"", "", "sync", "done", "abort"};
		int n = snprintf(line, sizeof(line), "ucall: %s %" PRIu64 "\n", names[uc.cmd],
				 uc.args[0]);
		td_emit(td, line, (size_t)n);
		status = 1;
		break;
	}
	default:
		log_rl(LOG_WARN, "testdev: unknown ucall %u", uc.cmd);
	}
	uint64_t status_gpa;
	if (!__builtin_add_overflow(gpa, offsetof(struct testdev_ucall, status), &status_gpa) &&
	    gmem_write(td->gm, status_gpa, &status, sizeof(status)))
		log_rl(LOG_WARN, "testdev: cannot write ucall status");
}

static uint64_t td_pio_read(void *dev, uint64_t off, unsigned size)
{
	struct testdev *td = dev;
	uint64_t v = 0;
	pthread_mutex_lock(&td->lock);
	if (off < 4)
		v = (uint64_t)td->scratch >> (8 * off);
	else
		v = (uint32_t)td->nr_ucalls;
	pthread_mutex_unlock(&td->lock);
	return v;
}

static void td_pio_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct testdev *td = dev;
	pthread_mutex_lock(&td->lock);
	if (off < 4) {
		for (unsigned i = 0; i < size && off + i < 4; i++) {
			unsigned sh = 8 * (unsigned)(off + i);
			td->scratch = (td->scratch & ~(0xffu << sh)) |
				      ((uint32_t)((val >> (8 * i)) & 0xff) << sh);
		}
	} else if (off == 4 && size == 4) {
		td_ucall(td, val);
	}
	pthread_mutex_unlock(&td->lock);
}

static uint64_t td_mmio_read(void *dev, uint64_t off, unsigned size)
{
	struct testdev *td = dev;
	uint64_t v = 0;
	pthread_mutex_lock(&td->lock);
	for (unsigned i = 0; i < size; i++)
		v |= (uint64_t)td->mem[off + i] << (8 * i);
	pthread_mutex_unlock(&td->lock);
	return v;
}

static void td_mmio_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct testdev *td = dev;
	pthread_mutex_lock(&td->lock);
	for (unsigned i = 0; i < size; i++)
		td->mem[off + i] = (uint8_t)(val >> (8 * i));
	pthread_mutex_unlock(&td->lock);
}

const struct bus_ops testdev_pio_ops = {td_pio_read, td_pio_write};
const struct bus_ops testdev_mmio_ops = {td_mmio_read, td_mmio_write};
