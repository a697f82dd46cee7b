/* i8042 PS/2 keyboard controller with a PS/2 keyboard and mouse behind it, enough for firmware
 * and Linux's i8042/atkbd/psmouse drivers to probe cleanly, and for the guest to reset the machine.
 *
 * Two port ranges: PORT_I8042_DATA (0x60, i8042_data_ops, I8042_DATA_LEN) and PORT_I8042_CMD
 * (0x64, i8042_cmd_ops, I8042_CMD_LEN), both registered with the same i8042 as dev.
 *
 * Controller: status register (OBF, SYS, CMD/DATA, keyboard unlocked, AUX OBF; IBF is never set
 * because input is processed at once), the 32-byte internal RAM whose byte 0 is the command byte
 * (0x20-0x3f read, 0x60-0x7f write), self test 0xaa -> 0x55, interface tests 0xab/0xa9 -> 0x00,
 * 0xad/0xae and 0xa7/0xa8 disable/enable the keyboard and aux interfaces, 0xd0/0xd1 read/write the
 * output port (writing bit 0 clear resets the machine), 0xd2/0xd3 put the next data byte in the
 * output buffer as keyboard/aux data, 0xd4 sends it to the mouse, and 0xf0-0xff pulse output-port
 * bits (low-nibble bit 0 clear is a reset pulse; 0xfe is the usual one). A reset calls the
 * exit_sink with VM_EXIT_RESET, 0. Unknown controller commands are ignored.
 *
 * Keyboard (data-port writes): 0xff reset -> fa aa; 0xf2 identify -> fa ab 83 (ab 41 while the
 * command byte selects translation, as the controller translates it); 0xed, 0xf3 and 0xf0 take an
 * argument byte, each byte acknowledged (0xf0 0x00 also reports the scan code set); 0xee echo;
 * 0xf4/0xf5/0xf6 -> fa; anything else -> fe (resend). Mouse (via 0xd4): fa for every known command,
 * 0xff -> fa aa 00, 0xf2 -> fa 00, 0xe9 -> fa + 3 status bytes, 0xeb -> fa + one empty packet,
 * 0xe8/0xf3 take an argument; unknown commands -> fe so drivers probing for vendor extensions
 * fail fast instead of timing out. No host keyboard or mouse input is modelled yet.
 *
 * Output: replies queue per source (controller, keyboard, mouse) and move one at a time into the
 * output buffer: controller replies first, then keyboard data unless the keyboard interface is
 * disabled, then mouse data unless the aux interface is disabled. IRQ 1 (kbd line) is high while
 * the buffer holds non-aux data and the command byte enables the keyboard interrupt; IRQ 12 (aux
 * line) likewise for aux data. Reading the data port lowers the line before loading the next byte,
 * so each byte is a fresh edge.
 *
 * Lock: each i8042 has a mutex protecting all its state. The irq_line callbacks are called with it
 * held (order: i8042 -> irq chip); the exit_sink is called after it is released. */
#ifndef VMON_HW_I8042_H
#define VMON_HW_I8042_H

#include <stdint.h>

#include "core/bus.h"
#include "core/devif.h"

#define I8042_DATA_LEN 1
#define I8042_CMD_LEN 1
#define I8042_QUEUE_SIZE 16 /* keyboard and mouse reply queues */
#define I8042_CTRL_QUEUE_SIZE 4

struct i8042;

/* Saved state. Queues are stored oldest first; slots past the count are zero. */
struct i8042_state {
	uint8_t ram[32];     /* ram[0] is the command byte */
	uint8_t outport;     /* output port without its OBF bits (4, 5); bit 0 set */
	uint8_t last_cmd;    /* 1 when the last write went to the command port */
	uint8_t pending_cmd; /* controller command waiting for its data byte, or 0 */
	uint8_t obf, ob_data, ob_aux;
	uint8_t ctrl_count, ctrl_data[I8042_CTRL_QUEUE_SIZE], ctrl_aux[I8042_CTRL_QUEUE_SIZE];
	uint8_t kbd_count, kbd_data[I8042_QUEUE_SIZE];
	uint8_t aux_count, aux_data[I8042_QUEUE_SIZE];
	/* keyboard: command waiting for an argument (0xed, 0xf3, 0xf0 or 0), scanning, LEDs,
	 * typematic byte, scan code set (1-3) */
	uint8_t kbd_cmd, kbd_scan, kbd_leds, kbd_typematic, kbd_set;
	/* mouse: command waiting for an argument (0xe8, 0xf3 or 0), data reporting, sample rate,
	 * resolution (0-3), 2:1 scaling, remote mode */
	uint8_t aux_cmd, aux_enabled, aux_rate, aux_res, aux_scaling, aux_remote;
};

extern const struct bus_ops i8042_data_ops;
extern const struct bus_ops i8042_cmd_ops;

/* Create a controller in its power-on state (command byte 0x07: both interrupts enabled, system
 * flag set, no translation) raising kbd_irq and aux_irq and asking reset to reset the machine.
 * All three are copied. Returns 0 and sets *out, or -ENOMEM / -errno. */
int i8042_create(struct irq_line kbd_irq, struct irq_line aux_irq, struct exit_sink reset,
		 struct i8042 **out) __attribute__((warn_unused_result));

/* Free the controller (it must no longer be registered on a bus). */
void i8042_destroy(struct i8042 *k);

/* Return to the power-on state: queues emptied, both IRQ lines lowered. */
void i8042_reset(struct i8042 *k);

/* Copy the state into *st. */
void i8042_save(struct i8042 *k, struct i8042_state *st);

/* Replace the state with *st after checking every field (flags 0/1, pending commands among those
 * that take an argument, queue counts within capacity with zero tails, output port bit 0 set and
 * OBF bits clear, scan code set 1-3, resolution 0-3, LED and typematic reserved bits clear).
 * Recomputes both IRQ lines. Returns 0 or -EINVAL (unchanged). */
int i8042_load(struct i8042 *k, const struct i8042_state *st) __attribute__((warn_unused_result));

#endif
