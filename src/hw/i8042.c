/* i8042 keyboard controller with PS/2 keyboard and mouse. See i8042.h for the model. */
#include "hw/i8042.h"
#include "core/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define STS_OBF 0x01
#define STS_SYS 0x04
#define STS_CMD 0x08
#define STS_UNLOCKED 0x10
#define STS_AUX_OBF 0x20

#define CTR_KBDINT 0x01
#define CTR_AUXINT 0x02
#define CTR_SYS 0x04
#define CTR_KBDDIS 0x10
#define CTR_AUXDIS 0x20
#define CTR_XLATE 0x40
#define CTR_DEFAULT (CTR_KBDINT | CTR_AUXINT | CTR_SYS)

#define OUT_RESET 0x01 /* 1 = running, 0 = CPU held in reset */
#define OUT_A20 0x02
#define OUT_OBF 0x10
#define OUT_AUX_OBF 0x20
#define OUT_DEFAULT 0xcf

#define ACK 0xfa
#define RESEND 0xfe
#define BAT_OK 0xaa

struct i8042 {
	pthread_mutex_t lock; /* protects s and the cached line levels */
	struct irq_line kbd_irq, aux_irq;
	struct exit_sink reset;
	bool kbd_level, aux_level;
	struct i8042_state s; /* the register state, kept in its saved form */
};

/* Queues are arrays kept oldest first with zeroed tails, as the saved state has them. */
static void q_push(uint8_t *data, uint8_t *count, unsigned cap, uint8_t v)
{
	if (*count == cap) {
		log_rl(LOG_DEBUG, "i8042: output queue full, byte 0x%02x dropped", v);
		return;
	}
	data[(*count)++] = v;
}

static uint8_t q_pop(uint8_t *data, uint8_t *count)
{
	uint8_t v = data[0];
	memmove(data, data + 1, (size_t)*count - 1);
	data[--(*count)] = 0;
	return v;
}

static void ctrl_put(struct i8042 *k, uint8_t v, bool aux)
{
	struct i8042_state *s = &k->s;
	if (s->ctrl_count < I8042_CTRL_QUEUE_SIZE)
		s->ctrl_aux[s->ctrl_count] = aux;
	q_push(s->ctrl_data, &s->ctrl_count, I8042_CTRL_QUEUE_SIZE, v);
}

static uint8_t ctr(const struct i8042 *k)
{
	return k->s.ram[0];
}

static void i8042_update_irq(struct i8042 *k)
{
	bool kl = k->s.obf && !k->s.ob_aux && (ctr(k) & CTR_KBDINT);
	bool al = k->s.obf && k->s.ob_aux && (ctr(k) & CTR_AUXINT);
	if (kl != k->kbd_level) {
		k->kbd_level = kl;
		irq_line_set(&k->kbd_irq, kl);
	}
	if (al != k->aux_level) {
		k->aux_level = al;
		irq_line_set(&k->aux_irq, al);
	}
}

/* Load the output buffer from the queues when it is empty, then settle the IRQ lines. */
static void i8042_refill(struct i8042 *k)
{
	struct i8042_state *s = &k->s;
	if (!s->obf) {
		if (s->ctrl_count) {
			uint8_t n = s->ctrl_count;
			s->ob_aux = q_pop(s->ctrl_aux, &n);
			s->ob_data = q_pop(s->ctrl_data, &s->ctrl_count);
			s->obf = 1;
		} else if (s->kbd_count && !(ctr(k) & CTR_KBDDIS)) {
			s->ob_data = q_pop(s->kbd_data, &s->kbd_count);
			s->ob_aux = 0;
			s->obf = 1;
		} else if (s->aux_count && !(ctr(k) & CTR_AUXDIS)) {
			s->ob_data = q_pop(s->aux_data, &s->aux_count);
			s->ob_aux = 1;
			s->obf = 1;
		}
	}
	i8042_update_irq(k);
}

static void kbd_put(struct i8042 *k, uint8_t v)
{
	q_push(k->s.kbd_data, &k->s.kbd_count, I8042_QUEUE_SIZE, v);
}

static void aux_put(struct i8042 *k, uint8_t v)
{
	q_push(k->s.aux_data, &k->s.aux_count, I8042_QUEUE_SIZE, v);
}

static void kbd_defaults(struct i8042 *k)
{
	k->s.kbd_typematic = 0x2b; /* 10.9 cps, 500 ms */
	k->s.kbd_scan = 1;
}

static void kbd_write(struct i8042 *k, uint8_t v)
{
	static const uint8_t xlate_set[4] = {0, 0x43, 0x41, 0x3f};
	bool xlate = ctr(k) & CTR_XLATE;
	uint8_t cmd = k->s.kbd_cmd;

	if (cmd) {
		k->s.kbd_cmd = 0;
		if (cmd == 0xed) {
			k->s.kbd_leds = v & 7;
		} else if (cmd == 0xf3) {
			k->s.kbd_typematic = v & 0x7f;
		} else if (v == 0) { /* 0xf0 0x00: report the set */
			kbd_put(k, ACK);
			kbd_put(k, xlate ? xlate_set[k->s.kbd_set] : k->s.kbd_set);
			return;
		} else if (v <= 3) {
			k->s.kbd_set = v;
		} else {
			kbd_put(k, RESEND);
			return;
		}
		kbd_put(k, ACK);
		return;
	}
	switch (v) {
	case 0xed:
	case 0xf3:
	case 0xf0:
		k->s.kbd_cmd = v;
		kbd_put(k, ACK);
		break;
	case 0xee:
		kbd_put(k, 0xee);
		break;
	case 0xf2:
		kbd_put(k, ACK);
		kbd_put(k, 0xab);
		kbd_put(k, xlate ? 0x41 : 0x83);
		break;
	case 0xf4:
		k->s.kbd_scan = 1;
		kbd_put(k, ACK);
		break;
	case 0xf5:
		kbd_defaults(k);
		k->s.kbd_scan = 0;
		kbd_put(k, ACK);
		break;
	case 0xf6:
		kbd_defaults(k);
		kbd_put(k, ACK);
		break;
	case 0xff:
		kbd_defaults(k);
		k->s.kbd_leds = 0;
		k->s.kbd_set = 2;
		kbd_put(k, ACK);
		kbd_put(k, BAT_OK);
		break;
	default:
		kbd_put(k, RESEND);
		break;
	}
}

static void aux_defaults(struct i8042 *k)
{
	k->s.aux_rate = 100;
	k->s.aux_res = 2;
	k->s.aux_scaling = 0;
	k->s.aux_enabled = 0;
}

static void aux_write(struct i8042 *k, uint8_t v)
{
	uint8_t cmd = k->s.aux_cmd;

	if (cmd) {
		k->s.aux_cmd = 0;
		if (cmd == 0xe8 && v > 3) {
			aux_put(k, RESEND);
			return;
		}
		if (cmd == 0xe8)
			k->s.aux_res = v;
		else
			k->s.aux_rate = v;
		aux_put(k, ACK);
		return;
	}
	switch (v) {
	case 0xe6:
	case 0xe7:
		k->s.aux_scaling = v == 0xe7;
		aux_put(k, ACK);
		break;
	case 0xe8:
	case 0xf3:
		k->s.aux_cmd = v;
		aux_put(k, ACK);
		break;
	case 0xe9:
		aux_put(k, ACK);
		aux_put(k, (uint8_t)((k->s.aux_remote << 6) | (k->s.aux_enabled << 5) |
				     (k->s.aux_scaling << 4)));
		aux_put(k, k->s.aux_res);
		aux_put(k, k->s.aux_rate);
		break;
	case 0xea:
	case 0xf0:
		k->s.aux_remote = v == 0xf0;
		aux_put(k, ACK);
		break;
	case 0xeb:
		aux_put(k, ACK);
		aux_put(k, 0x08); /* no buttons, no movement */
		aux_put(k, 0);
		aux_put(k, 0);
		break;
	case 0xec:
	case 0xee: /* wrap mode is not modelled: acknowledge and stay in stream/remote mode */
		aux_put(k, ACK);
		break;
	case 0xf2:
		aux_put(k, ACK);
		aux_put(k, 0x00); /* standard PS/2 mouse */
		break;
	case 0xf4:
	case 0xf5:
		k->s.aux_enabled = v == 0xf4;
		aux_put(k, ACK);
		break;
	case 0xf6:
		aux_defaults(k);
		aux_put(k, ACK);
		break;
	case 0xff:
		aux_defaults(k);
		k->s.aux_remote = 0;
		aux_put(k, ACK);
		aux_put(k, BAT_OK);
		aux_put(k, 0x00);
		break;
	default:
		aux_put(k, RESEND);
		break;
	}
}

/* Output port value as the guest reads it (OBF bits track the output buffer). */
static uint8_t i8042_outport(const struct i8042 *k)
{
	uint8_t v = k->s.outport;
	if (k->s.obf)
		v |= k->s.ob_aux ? OUT_AUX_OBF : OUT_OBF;
	return v;
}

/* A command-port write. Returns true when it asks for a machine reset. */
static bool i8042_command(struct i8042 *k, uint8_t cmd)
{
	k->s.last_cmd = 1;
	k->s.pending_cmd = 0;
	if (cmd >= 0x20 && cmd <= 0x3f) {
		ctrl_put(k, k->s.ram[cmd & 0x1f], false);
		return false;
	}
	if (cmd >= 0xf0)
		return !(cmd & 1);
	switch (cmd) {
	case 0xa7:
		k->s.ram[0] |= CTR_AUXDIS;
		break;
	case 0xa8:
		k->s.ram[0] &= (uint8_t)~CTR_AUXDIS;
		break;
	case 0xa9:
	case 0xab:
		ctrl_put(k, 0x00, false); /* interface test passed */
		break;
	case 0xaa:
		ctrl_put(k, 0x55, false);
		break;
	case 0xad:
		k->s.ram[0] |= CTR_KBDDIS;
		break;
	case 0xae:
		k->s.ram[0] &= (uint8_t)~CTR_KBDDIS;
		break;
	case 0xd0:
		ctrl_put(k, i8042_outport(k), false);
		break;
	case 0xd1:
	case 0xd2:
	case 0xd3:
	case 0xd4:
		k->s.pending_cmd = cmd;
		break;
	default:
		if (cmd >= 0x60 && cmd <= 0x7f)
			k->s.pending_cmd = cmd;
		else
			log_rl(LOG_DEBUG, "i8042: unknown controller command 0x%02x", cmd);
		break;
	}
	return false;
}

/* A data-port write. Returns true when it asks for a machine reset. */
static bool i8042_data(struct i8042 *k, uint8_t v)
{
	uint8_t cmd = k->s.pending_cmd;

	k->s.last_cmd = 0;
	k->s.pending_cmd = 0;
	switch (cmd) {
	case 0:
		kbd_write(k, v);
		break;
	case 0xd1:
		k->s.outport = (uint8_t)(v & ~(OUT_OBF | OUT_AUX_OBF));
		if (!(v & OUT_RESET)) {
			k->s.outport |= OUT_RESET; /* the reset completes; we come back running */
			return true;
		}
		break;
	case 0xd2:
	case 0xd3:
		ctrl_put(k, v, cmd == 0xd3);
		break;
	case 0xd4:
		aux_write(k, v);
		break;
	default: /* 0x60-0x7f: internal RAM */
		k->s.ram[cmd & 0x1f] = v;
		break;
	}
	return false;
}

static uint8_t i8042_status(const struct i8042 *k)
{
	uint8_t s = STS_UNLOCKED;
	if (k->s.obf)
		s |= k->s.ob_aux ? (STS_OBF | STS_AUX_OBF) : STS_OBF;
	if (ctr(k) & CTR_SYS)
		s |= STS_SYS;
	if (k->s.last_cmd)
		s |= STS_CMD;
	return s;
}

static uint64_t i8042_data_read(void *dev, uint64_t off, unsigned size)
{
	struct i8042 *k = dev;
	uint8_t v;

	(void)off;
	(void)size;
	pthread_mutex_lock(&k->lock);
	v = k->s.ob_data; /* with OBF clear, the stale byte is read again */
	if (k->s.obf) {
		k->s.obf = 0;
		k->s.ob_aux = 0;
		i8042_update_irq(k); /* drop the line: the next byte makes a new edge */
		i8042_refill(k);
	}
	pthread_mutex_unlock(&k->lock);
	return v;
}

static void i8042_data_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct i8042 *k = dev;

	(void)off;
	(void)size;
	pthread_mutex_lock(&k->lock);
	bool reset = i8042_data(k, (uint8_t)val);
	i8042_refill(k);
	pthread_mutex_unlock(&k->lock);
	if (reset)
		exit_sink_request(&k->reset, VM_EXIT_RESET, 0);
}

static uint64_t i8042_cmd_read(void *dev, uint64_t off, unsigned size)
{
	struct i8042 *k = dev;

	(void)off;
	(void)size;
	pthread_mutex_lock(&k->lock);
	uint8_t v = i8042_status(k);
	pthread_mutex_unlock(&k->lock);
	return v;
}

static void i8042_cmd_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct i8042 *k = dev;

	(void)off;
	(void)size;
	pthread_mutex_lock(&k->lock);
	bool reset = i8042_command(k, (uint8_t)val);
	i8042_refill(k);
	pthread_mutex_unlock(&k->lock);
	if (reset)
		exit_sink_request(&k->reset, VM_EXIT_RESET, 0);
}

const struct bus_ops i8042_data_ops = {i8042_data_read, i8042_data_write};
const struct bus_ops i8042_cmd_ops = {i8042_cmd_read, i8042_cmd_write};

static void i8042_reset_locked(struct i8042 *k)
{
	memset(&k->s, 0, sizeof(k->s));
	k->s.ram[0] = CTR_DEFAULT;
	k->s.outport = OUT_DEFAULT;
	k->s.last_cmd = 1;
	k->s.kbd_set = 2;
	kbd_defaults(k);
	aux_defaults(k);
	i8042_update_irq(k);
}

int i8042_create(struct irq_line kbd_irq, struct irq_line aux_irq, struct exit_sink reset,
		 struct i8042 **out)
{
	struct i8042 *k = calloc(1, sizeof(*k));
	int ret;

	*out = NULL;
	if (!k)
		return -ENOMEM;
	ret = pthread_mutex_init(&k->lock, NULL);
	if (ret) {
		free(k);
		return -ret;
	}
	k->kbd_irq = kbd_irq;
	k->aux_irq = aux_irq;
	k->reset = reset;
	i8042_reset_locked(k);
	*out = k;
	return 0;
}

void i8042_destroy(struct i8042 *k)
{
	if (!k)
		return;
	pthread_mutex_destroy(&k->lock);
	free(k);
}

void i8042_reset(struct i8042 *k)
{
	pthread_mutex_lock(&k->lock);
	i8042_reset_locked(k);
	pthread_mutex_unlock(&k->lock);
}

void i8042_save(struct i8042 *k, struct i8042_state *st)
{
	pthread_mutex_lock(&k->lock);
	*st = k->s;
	pthread_mutex_unlock(&k->lock);
}

static bool tail_zero(const uint8_t *a, unsigned from, unsigned n)
{
	for (unsigned i = from; i < n; i++)
		if (a[i])
			return false;
	return true;
}

static int i8042_state_check(const struct i8042_state *st)
{
	uint8_t p = st->pending_cmd;

	if (st->last_cmd > 1 || st->obf > 1 || st->ob_aux > 1 || (st->ob_aux && !st->obf))
		return -EINVAL;
	if (p && !(p >= 0x60 && p <= 0x7f) && !(p >= 0xd1 && p <= 0xd4))
		return -EINVAL;
	if (!(st->outport & OUT_RESET) || (st->outport & (OUT_OBF | OUT_AUX_OBF)))
		return -EINVAL;
	if (st->ctrl_count > I8042_CTRL_QUEUE_SIZE || st->kbd_count > I8042_QUEUE_SIZE ||
	    st->aux_count > I8042_QUEUE_SIZE)
		return -EINVAL;
	if (!tail_zero(st->ctrl_data, st->ctrl_count, I8042_CTRL_QUEUE_SIZE) ||
	    !tail_zero(st->ctrl_aux, st->ctrl_count, I8042_CTRL_QUEUE_SIZE) ||
	    !tail_zero(st->kbd_data, st->kbd_count, I8042_QUEUE_SIZE) ||
	    !tail_zero(st->aux_data, st->aux_count, I8042_QUEUE_SIZE))
		return -EINVAL;
	for (unsigned i = 0; i < st->ctrl_count; i++)
		if (st->ctrl_aux[i] > 1)
			return -EINVAL;
	if ((st->kbd_cmd && st->kbd_cmd != 0xed && st->kbd_cmd != 0xf3 && st->kbd_cmd != 0xf0) ||
	    st->kbd_scan > 1 || st->kbd_leds > 7 || st->kbd_typematic > 0x7f || st->kbd_set < 1 ||
	    st->kbd_set > 3)
		return -EINVAL;
	if ((st->aux_cmd && st->aux_cmd != 0xe8 && st->aux_cmd != 0xf3) || st->aux_enabled > 1 ||
	    st->aux_res > 3 || st->aux_scaling > 1 || st->aux_remote > 1)
		return -EINVAL;
	return 0;
}

int i8042_load(struct i8042 *k, const struct i8042_state *st)
{
	int ret = i8042_state_check(st);
	if (ret)
		return ret;
	pthread_mutex_lock(&k->lock);
	k->s = *st;
	i8042_refill(k);
	pthread_mutex_unlock(&k->lock);
	return 0;
}
