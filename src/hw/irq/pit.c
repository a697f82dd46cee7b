/* 8254 PIT and port 0x61. See pit.h for the model. */
#include "hw/irq/pit.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "hw/irq/irq_util.h"

#define RW_STATE_LSB 1
#define RW_STATE_MSB 2
#define RW_STATE_WORD0 3
#define RW_STATE_WORD1 4

#define CTRL_READBACK 3
#define RB_NO_COUNT 0x20
#define RB_NO_STATUS 0x10

#define PORT61_GATE2 0x01
#define PORT61_RW 0x0e
#define PORT61_REFRESH 0x10
#define PORT61_OUT2 0x20
#define REFRESH_HALF_PERIOD_NS 15085

#define ELAPSED_MAX (1ll << 62)

static int64_t pit_now(const struct pit *pit)
{
	uint64_t t = pit->clk.mono_ns ? pit->clk.mono_ns(pit->clk.ctx) : 0;
	return t > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)t;
}

static int64_t sub_sat(int64_t a, int64_t b)
{
	int64_t r;
	if (__builtin_sub_overflow(a, b, &r))
		return b < 0 ? INT64_MAX : INT64_MIN;
	return r;
}

static int64_t add_sat(int64_t a, int64_t b)
{
	int64_t r;
	if (__builtin_add_overflow(a, b, &r))
		return b > 0 ? INT64_MAX : INT64_MIN;
	return r;
}

/* The period of a written count of 0. */
static uint32_t modulus(const struct pit_channel *c)
{
	return c->bcd ? 10000 : 0x10000;
}

/* A low gate stops the count in modes 0, 2, 3 and 4. */
static bool suspended(const struct pit_channel *c)
{
	return !c->gate && c->mode != 1 && c->mode != 5;
}

/* Counting time since the load, in ns. */
static int64_t elapsed_ns(const struct pit_channel *c, int64_t now)
{
	int64_t t = suspended(c) ? c->hold_ns : now;
	int64_t e = sub_sat(t, c->load_ns);
	return e > 0 ? e : 0;
}

/* Clocks since the load. */
static uint64_t elapsed(const struct pit_channel *c, int64_t now)
{
	return irq_muldiv((uint64_t)elapsed_ns(c, now), PIT_FREQ_HZ, NSEC_PER_SEC);
}

/* The mono_ns at which `ticks` clocks have elapsed since the load (no suspension assumed). */
static uint64_t tick_time(const struct pit_channel *c, uint64_t ticks)
{
	uint64_t ns = irq_muldiv_up(ticks, NSEC_PER_SEC, PIT_FREQ_HZ);
	int64_t t = add_sat(c->load_ns, ns > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)ns);
	return t > 0 ? (uint64_t)t : 0;
}

static int get_out(const struct pit_channel *c, int64_t now)
{
	if (c->null_count)
		return c->mode != 0;
	uint64_t d = elapsed(c, now), n = c->count;
	switch (c->mode) {
	case 0:
	case 1:
		return d >= n;
	case 2:
		return !c->gate || n == 1 || d % n != n - 1;
	case 3:
		return !c->gate || d % n < (n + 1) / 2;
	default: /* 4, 5 */
		return d != n;
	}
}

/* The counting element, 0..modulus (the register shows it modulo 2^16, or 10^4 in BCD). */
static uint32_t get_count(const struct pit_channel *c, int64_t now)
{
	uint64_t d = elapsed(c, now), n = c->count, m = modulus(c);
	switch (c->mode) {
	case 2:
		return (uint32_t)(n - d % n);
	case 3:
		return (uint32_t)(n - (2 * (d % n)) % n);
	default: /* 0, 1, 4, 5: wrap through 0xffff (9999) after terminal count */
		return (uint32_t)((n + m - d % m) % m);
	}
}

static uint16_t to_bcd(uint32_t v)
{
	v %= 10000;
	return (uint16_t)((v / 1000) << 12 | (v / 100 % 10) << 8 | (v / 10 % 10) << 4 | v % 10);
}

static uint32_t from_bcd(uint16_t v)
{
	uint32_t r =
	    (v >> 12) * 1000u + ((v >> 8) & 0xf) * 100u + ((v >> 4) & 0xf) * 10u + (v & 0xf);
	return r % 10000;
}

/* The 16-bit register image of the count. */
static uint16_t count_reg(const struct pit_channel *c, int64_t now)
{
	uint32_t v = get_count(c, now);
	return c->bcd ? to_bcd(v) : (uint16_t)v;
}

/* Channel 0's next rising OUT edge after now. */
static void arm(struct pit *pit, int64_t now)
{
	const struct pit_channel *c = &pit->ch[0];
	uint64_t d, n = c->count, edge;

	pit->deadline = UINT64_MAX;
	if (c->null_count || suspended(c))
		return;
	d = elapsed(c, now);
	switch (c->mode) {
	case 0:
	case 1:
		if (d >= n)
			return;
		edge = n;
		break;
	case 2:
	case 3:
		edge = (d / n + 1) * n;
		break;
	default: /* 4, 5 */
		if (d > n)
			return;
		edge = n + 1;
		break;
	}
	pit->deadline = tick_time(c, edge);
}

static void load_count(struct pit *pit, int ch, uint16_t raw, int64_t now)
{
	struct pit_channel *c = &pit->ch[ch];
	uint32_t v = c->bcd ? from_bcd(raw) : raw;

	c->count = v ? v : modulus(c);
	c->load_ns = now;
	c->hold_ns = now;
	c->null_count = 0;
	if (ch == 0)
		arm(pit, now);
}

static void latch_count(struct pit_channel *c, int64_t now)
{
	if (c->count_latched)
		return; /* the first latch holds until read */
	c->latched_count = count_reg(c, now);
	c->count_latched = c->rw_mode;
}

static void latch_status(struct pit_channel *c, int64_t now)
{
	if (c->status_latched)
		return;
	c->status = (uint8_t)(get_out(c, now) << 7 | c->null_count << 6 | c->rw_mode << 4 |
			      c->mode << 1 | c->bcd);
	c->status_latched = 1;
}

static void set_gate(struct pit_channel *c, int val, int64_t now)
{
	val = val != 0;
	if (c->gate == val)
		return;
	if (!val) {
		c->hold_ns = now; /* the count stops here, unless in mode 1 or 5 */
	} else if (c->mode == 0 || c->mode == 4) {
		c->load_ns = add_sat(c->load_ns, sub_sat(now, c->hold_ns)); /* resume */
	} else {
		c->load_ns = now; /* trigger: restart the period */
		c->hold_ns = now;
	}
	c->gate = (uint8_t)val;
}

static void write_control(struct pit *pit, uint8_t val, int64_t now)
{
	int ch = val >> 6;

	if (ch == CTRL_READBACK) {
		for (int i = 0; i < 3; i++) {
			if (!(val & (2 << i)))
				continue;
			if (!(val & RB_NO_COUNT))
				latch_count(&pit->ch[i], now);
			if (!(val & RB_NO_STATUS))
				latch_status(&pit->ch[i], now);
		}
		return;
	}
	struct pit_channel *c = &pit->ch[ch];
	unsigned access = (val >> 4) & 3;
	if (!access) {
		latch_count(c, now);
		return;
	}
	/* Keep the elapsed counting time continuous across the mode change. */
	int64_t e = elapsed_ns(c, now);
	c->rw_mode = (uint8_t)access;
	c->read_state = (uint8_t)access;
	c->write_state = (uint8_t)access;
	c->mode = (val >> 1) & 7;
	if (c->mode > 5)
		c->mode -= 4;
	c->bcd = val & 1;
	c->count_latched = 0;
	c->status_latched = 0;
	c->null_count = 1;
	c->load_ns = sub_sat(now, e);
	c->hold_ns = now;
	if (ch == 0)
		arm(pit, now);
}

static void data_write(struct pit *pit, int ch, uint8_t val, int64_t now)
{
	struct pit_channel *c = &pit->ch[ch];

	switch (c->write_state) {
	case RW_STATE_MSB:
		load_count(pit, ch, (uint16_t)(val << 8), now);
		break;
	case RW_STATE_WORD0:
		c->write_latch = val;
		c->write_state = RW_STATE_WORD1;
		if (c->mode == 0) { /* the first byte stops the count, OUT goes low */
			c->null_count = 1;
			if (ch == 0)
				arm(pit, now);
		}
		break;
	case RW_STATE_WORD1:
		c->write_state = RW_STATE_WORD0;
		load_count(pit, ch, (uint16_t)(c->write_latch | val << 8), now);
		break;
	default: /* RW_STATE_LSB */
		load_count(pit, ch, val, now);
		break;
	}
}

static uint8_t data_read(struct pit_channel *c, int64_t now)
{
	uint8_t ret;

	if (c->status_latched) {
		c->status_latched = 0;
		return c->status;
	}
	if (c->count_latched) {
		switch (c->count_latched) {
		case RW_STATE_MSB:
			ret = (uint8_t)(c->latched_count >> 8);
			c->count_latched = 0;
			break;
		case RW_STATE_WORD0:
			ret = (uint8_t)c->latched_count;
			c->count_latched = RW_STATE_MSB;
			break;
		default: /* RW_STATE_LSB */
			ret = (uint8_t)c->latched_count;
			c->count_latched = 0;
			break;
		}
		return ret;
	}
	uint16_t count = count_reg(c, now);
	switch (c->read_state) {
	case RW_STATE_MSB:
		return (uint8_t)(count >> 8);
	case RW_STATE_WORD0:
		c->read_state = RW_STATE_WORD1;
		return (uint8_t)count;
	case RW_STATE_WORD1:
		c->read_state = RW_STATE_WORD0;
		return (uint8_t)(count >> 8);
	default: /* RW_STATE_LSB */
		return (uint8_t)count;
	}
}

static void reset_locked(struct pit *pit, int64_t now)
{
	memset(pit->ch, 0, sizeof(pit->ch));
	for (int i = 0; i < 3; i++) {
		struct pit_channel *c = &pit->ch[i];

		c->mode = 3;
		c->rw_mode = 3;
		c->read_state = RW_STATE_WORD0;
		c->write_state = RW_STATE_WORD0;
		c->gate = i != 2;
		c->count = 0x10000;
		c->load_ns = now;
		c->hold_ns = now;
	}
	pit->port61 = 0;
	arm(pit, now);
}

int pit_init(struct pit *pit, struct irq_line out0, const struct clock_src *clk)
{
	memset(pit, 0, sizeof(*pit));
	int err = pthread_mutex_init(&pit->lock, NULL);
	if (err)
		return -err;
	pit->out0 = out0;
	pit->clk = *clk;
	reset_locked(pit, pit_now(pit));
	return 0;
}

void pit_destroy(struct pit *pit)
{
	pthread_mutex_destroy(&pit->lock);
}

void pit_reset(struct pit *pit)
{
	pthread_mutex_lock(&pit->lock);
	reset_locked(pit, pit_now(pit));
	pthread_mutex_unlock(&pit->lock);
}

static void pit_port_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct pit *pit = dev;

	pthread_mutex_lock(&pit->lock);
	int64_t now = pit_now(pit);
	for (unsigned i = 0; i < size && off + i < PIT_PORT_LEN; i++) {
		unsigned port = (unsigned)(off + i);
		uint8_t b = (uint8_t)(val >> (8 * i));
		if (port == 3)
			write_control(pit, b, now);
		else
			data_write(pit, (int)port, b, now);
	}
	pthread_mutex_unlock(&pit->lock);
}

static uint64_t pit_port_read(void *dev, uint64_t off, unsigned size)
{
	struct pit *pit = dev;
	uint64_t v = 0;

	pthread_mutex_lock(&pit->lock);
	int64_t now = pit_now(pit);
	for (unsigned i = 0; i < size && off + i < PIT_PORT_LEN; i++) {
		unsigned port = (unsigned)(off + i);
		if (port < 3)
			v |= (uint64_t)data_read(&pit->ch[port], now) << (8 * i);
	}
	pthread_mutex_unlock(&pit->lock);
	return v;
}

const struct bus_ops pit_ops = {.read = pit_port_read, .write = pit_port_write};

static uint64_t speaker_read(void *dev, uint64_t off, unsigned size)
{
	struct pit *pit = dev;

	pthread_mutex_lock(&pit->lock);
	int64_t now = pit_now(pit);
	const struct pit_channel *c = &pit->ch[2];
	uint8_t v = (uint8_t)((c->gate ? PORT61_GATE2 : 0) | pit->port61);
	if ((now / REFRESH_HALF_PERIOD_NS) & 1)
		v |= PORT61_REFRESH;
	if (get_out(c, now))
		v |= PORT61_OUT2;
	pthread_mutex_unlock(&pit->lock);
	return v;
}

static void speaker_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct pit *pit = dev;

	pthread_mutex_lock(&pit->lock);
	pit->port61 = (uint8_t)val & PORT61_RW;
	set_gate(&pit->ch[2], (val & PORT61_GATE2) != 0, pit_now(pit));
	pthread_mutex_unlock(&pit->lock);
}

const struct bus_ops pit_speaker_ops = {.read = speaker_read, .write = speaker_write};

uint64_t pit_deadline(struct pit *pit)
{
	pthread_mutex_lock(&pit->lock);
	uint64_t d = pit->deadline;
	pthread_mutex_unlock(&pit->lock);
	return d;
}

void pit_tick(struct pit *pit, uint64_t now_ns)
{
	bool fire = false;

	pthread_mutex_lock(&pit->lock);
	if (pit->deadline != UINT64_MAX && now_ns >= pit->deadline) {
		fire = true;
		arm(pit, now_ns > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)now_ns);
	}
	pthread_mutex_unlock(&pit->lock);
	if (fire) {
		irq_line_set(&pit->out0, 1);
		irq_line_set(&pit->out0, 0);
	}
}

void pit_save(struct pit *pit, struct pit_state *s)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_lock(&pit->lock);
	int64_t now = pit_now(pit);
	s->flags = PIT_FLAG_SPEAKER_VALID;
	for (int i = 0; i < 3; i++) {
		const struct pit_channel *c = &pit->ch[i];
		struct pit_channel_state *o = &s->ch[i];

		o->count = c->count;
		o->latched_count = c->latched_count;
		o->count_latched = c->count_latched;
		o->status_latched = c->status_latched;
		o->status = c->status;
		o->read_state = c->read_state;
		o->write_state = c->write_state;
		o->write_latch = c->write_latch;
		o->rw_mode = c->rw_mode;
		o->mode = c->mode;
		o->bcd = c->bcd;
		o->gate = c->gate;
		o->count_load_time = elapsed_ns(c, now);
		if (c->null_count)
			s->flags |= PIT_FLAG_NULL_COUNT(i);
	}
	s->speaker = (uint8_t)((pit->ch[2].gate ? PORT61_GATE2 : 0) | pit->port61);
	pthread_mutex_unlock(&pit->lock);
}

/* A read or write state reachable with access mode rw. */
static bool rw_state_ok(uint8_t rw, uint8_t st)
{
	return rw == RW_STATE_WORD0 ? (st == RW_STATE_WORD0 || st == RW_STATE_WORD1) : st == rw;
}

static bool channel_state_ok(const struct pit_channel_state *c, int i)
{
	if (c->mode > 5 || c->bcd > 1 || c->gate > 1 || (i != 2 && !c->gate))
		return false;
	if (c->count < 1 || c->count > (c->bcd ? 10000u : 0x10000u))
		return false;
	if (c->rw_mode < 1 || c->rw_mode > 3 || !rw_state_ok(c->rw_mode, c->read_state) ||
	    !rw_state_ok(c->rw_mode, c->write_state))
		return false;
	if (c->count_latched && c->count_latched != c->rw_mode &&
	    !(c->rw_mode == RW_STATE_WORD0 && c->count_latched == RW_STATE_MSB))
		return false;
	return c->status_latched <= 1 && c->count_load_time >= 0 &&
	       c->count_load_time <= ELAPSED_MAX;
}

int pit_load(struct pit *pit, const struct pit_state *s)
{
	const uint32_t known = PIT_FLAG_SPEAKER_VALID | PIT_FLAG_NULL_COUNT(0) |
			       PIT_FLAG_NULL_COUNT(1) | PIT_FLAG_NULL_COUNT(2);

	if (s->flags & ~known)
		return -EINVAL;
	for (int i = 0; i < 3; i++)
		if (!channel_state_ok(&s->ch[i], i))
			return -EINVAL;
	if ((s->flags & PIT_FLAG_SPEAKER_VALID) && ((s->speaker & ~(PORT61_GATE2 | PORT61_RW)) ||
						    (s->speaker & PORT61_GATE2) != s->ch[2].gate))
		return -EINVAL;
	pthread_mutex_lock(&pit->lock);
	int64_t now = pit_now(pit);
	for (int i = 0; i < 3; i++) {
		const struct pit_channel_state *o = &s->ch[i];
		struct pit_channel *c = &pit->ch[i];

		c->count = o->count;
		c->latched_count = o->latched_count;
		c->count_latched = o->count_latched;
		c->status_latched = o->status_latched;
		c->status = o->status;
		c->read_state = o->read_state;
		c->write_state = o->write_state;
		c->write_latch = o->write_latch;
		c->rw_mode = o->rw_mode;
		c->mode = o->mode;
		c->bcd = o->bcd;
		c->gate = o->gate;
		c->null_count = (s->flags & PIT_FLAG_NULL_COUNT(i)) != 0;
		c->load_ns = sub_sat(now, o->count_load_time);
		c->hold_ns = now;
	}
	pit->port61 = (s->flags & PIT_FLAG_SPEAKER_VALID) ? (s->speaker & PORT61_RW) : 0;
	arm(pit, now);
	pthread_mutex_unlock(&pit->lock);
	return 0;
}
