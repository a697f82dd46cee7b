/* isa-debug-exit. See debug_exit.h. */
#include "hw/debug_exit.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct debug_exit {
	struct exit_sink sink; /* constant after creation: no lock needed */
};

static uint64_t debug_exit_read(void *dev, uint64_t off, unsigned size)
{
	(void)dev;
	(void)off;
	(void)size;
	return 0;
}

static void debug_exit_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct debug_exit *d = dev;

	(void)off;
	if (size != 1 && size != 2 && size != 4)
		return;
	/* The bus already truncated val to size bytes; the code is the guest's 32-bit value. */
	exit_sink_request(&d->sink, VM_EXIT_DEBUG, (int)(uint32_t)val);
}

const struct bus_ops debug_exit_ops = {debug_exit_read, debug_exit_write};

int debug_exit_create(struct exit_sink sink, struct debug_exit **out)
{
	struct debug_exit *d = calloc(1, sizeof(*d));

	*out = NULL;
	if (!d)
		return -ENOMEM;
	d->sink = sink;
	*out = d;
	return 0;
}

void debug_exit_destroy(struct debug_exit *d)
{
	free(d);
}

void debug_exit_reset(struct debug_exit *d)
{
	(void)d;
}

void debug_exit_save(struct debug_exit *d, struct debug_exit_state *st)
{
	(void)d;
	memset(st, 0, sizeof(*st));
}

int debug_exit_load(struct debug_exit *d, const struct debug_exit_state *st)
{
	(void)d;
	return st->reserved ? -EINVAL : 0;
}
