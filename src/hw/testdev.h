/* vmon test device (enabled with --testdev): lets test guests check PIO and MMIO round trips and
 * make "ucalls" that the VMM services by reading and writing guest memory.
 *   PIO  PORT_TESTDEV+0 (4 bytes): scratch register; reads return the last write, per byte.
 *   PIO  PORT_TESTDEV+4 (4 bytes): ucall; a 32-bit write is the guest-physical address of
 *        struct testdev_ucall. vmon services it and writes status = 1 (done) or 2 (rejected).
 *   MMIO LAYOUT_TESTDEV_MMIO (4 KiB): scratch memory, any 1/2/4/8-byte access reads back.
 * Guests detect it through the fw_cfg file "etc/vmon/testdev". */
#ifndef VMON_HW_TESTDEV_H
#define VMON_HW_TESTDEV_H

#include <pthread.h>
#include <stdint.h>

#include "core/bus.h"
#include "core/devif.h"
#include "core/gmem.h"

#define TESTDEV_PIO_LEN 8
#define TESTDEV_MMIO_LEN 0x1000
#define TESTDEV_PRINT_MAX 4096

enum testdev_cmd { UCALL_PRINT = 1, UCALL_SYNC = 2, UCALL_DONE = 3, UCALL_ABORT = 4 };

struct testdev_ucall {
	uint32_t cmd;
	uint32_t status;
	uint64_t args[4];
};

/* Lock: `lock` protects scratch, mem and the ucall counter. */
struct testdev {
	pthread_mutex_t lock;
	struct gmem *gm;
	struct char_out out; /* where PRINT text and SYNC/DONE/ABORT lines go */
	uint32_t scratch;
	uint64_t nr_ucalls;
	uint8_t mem[TESTDEV_MMIO_LEN];
};

extern const struct bus_ops testdev_pio_ops;
extern const struct bus_ops testdev_mmio_ops;

/* Initialise a test device that services ucalls through gm and reports to out. */
void testdev_init(struct testdev *td, struct gmem *gm, struct char_out out);
void testdev_destroy(struct testdev *td);

#endif
