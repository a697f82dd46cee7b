/* 8254 PIT. See pit.h. */
#include "hw/irq/pit.h"

#include <errno.h>
#include <string.h>

#include "hw/irq/irq_util.h"

#define RW_STATE_LSB 1
#define RW_STATE_MSB 2
#define RW_STATE_WORD0 3
#define RW_STATE_WORD1 4

#define REFRESH_PERIOD_NS 15085ull

static uint64_t now_ns(struct pit *pit)
{
	return pit->clk.mono_ns ? pit->clk.mono_ns(pit->clk.ctx) : 0;
}

/* PIT clocks elapsed since the count was loaded. */
static uint64_t elapsed(const struct pit_channel_state *c, uint64_t now)
{
	int64_t d = (int64_t)now - c->count_load_time;
	return d > 0 ? irq_muldiv((uint64_t)d, PIT_FREQ, NSEC_PER_SEC) : 0;
}

/* mono_ns at which `ticks` clocks have elapsed since the load. */
static uint64_t tick_time(const struct pit_channel_state *c, uint64_t ticks)
{
	uint64_t ns = irq_muldiv_up(ticks, NSEC_PER_SEC, PIT_FREQ);
	if (c->count_load_time >= 0)
		return irq_add_sat((uint64_t)c->count_load_time, ns);
	uint64_t back = (uint64_t) - (c->count_load_time + 1) + 1; /* load time is before 0 */
	return ns > back ? ns - back : 0;
}

static uint32_t get_count(const struct pit_channel_state *c, uint64_t now)
{
	uint64_t d = elapsed(c, now);
	switch (c->mode) {
	case 0:
	case 1:
	case 4:
	case 5:
		return (uint32_t)((c->count - d) & 0xffff);
	case 3:
		return (uint32_t)(c->count - ((2 * d) % c->count));
	default:
		return (uint32_t)(c->count - (d % c->count));
	}
}

static int get_out(const struct pit_channel_state *c, uint64_t now)
{
	uint64_t d = elapsed(c, now);
	switch (c->mode) {
	default:
	case 0:
		return d >= c->count;
	case 1:
		return d < c->count;
	case 2:
		return (d % c->count) == 0 && d != 0;
	case 3:
		return (d % c->count) < ((c->count + 1) >> 1);
	case 4:
	case 5:
		return d == c->count;
	}
}

/* Channel 0's next IRQ at or after now: rising OUT edges at count clocks (one-shot modes) or at
 * every multiple of count (modes 2 and 3), phase-locked to the load time. */
static void arm(struct pit *pit, uint64_t now)
{
	const struct pit_channel_state *c = &pit->ch[0];
	uint64_t d = elapsed(c, now);
	if (c->mode == 2 || c->mode == 3) {
		uint64_t k = d / c->count + 1;
		pit->deadline = tick_time(c, k * c->count);
	} else if (d < c->count) {
		pit->deadline = tick_time(c, c->count);
	} else {
		pit->deadline = UINT64_MAX;
	}
}

static void load_count(struct pit *pit, int ch, uint32_t val, uint64_t now)
{
	struct pit_channel_state *c = &pit->ch[ch];
	c->count = val ? val : 0x10000;
	c->count_load_time = (int64_t)now;
	if (ch == 0)
		arm(pit, now);
}

static void latch_count(struct pit_channel_state *c, uint64_t now)
{
	if (!c->count_latched) {
		c->latched_count = (uint16_t)get_count(c, now);
		c->count_latched = c->rw_mode;
	}
}

static void set_gate(struct pit_channel_state *c, int val, uint64_t now)
{
	switch (c->mode) {
	case 1:
	case 2:
	case 3:
	case 5:
		if (c->gate < val)
			c->count_load_time = (int64_t)now;
		break;
	default:
		break;
	}
	c->gate = (uint8_t)val;
}

static void reset_locked(struct pit *pit, uint64_t now)
{
	memset(pit->ch, 0, sizeof(pit->ch));
	for (int i = 0; i < 3; i++) {
		struct pit_channel_state *c = &pit->ch[i];
		c->mode = 3;
		c->gate = i != 2;
		c->count = 0x10000;
		c->count_load_time = (int64_t)now;
	}
	pit->speaker = 0;
	load_count(pit, 0, 0, now);
}

int pit_init(struct pit *pit, struct irq_line out0, const struct clock_src *clk)
{
	memset(pit, 0, sizeof(*pit));
	int err = pthread_mutex_init(&pit->lock, NULL);
	if (err)
		return -err;
	pit->out0 = out0;
	pit->clk = *clk;
	reset_locked(pit, now_ns(pit));
	return 0;
}

void pit_destroy(struct pit *pit)
{
	pthread_mutex_destroy(&pit->lock);
}

void pit_reset(struct pit *pit)
{
	pthread_mutex_lock(&pit->lock);
	reset_locked(pit, now_ns(pit));
	pthread_mutex_unlock(&pit->lock);
}

static void write_control(struct pit *pit, uint8_t val, uint64_t now)
{
	int ch = val >> 6;
	if (ch == 3) { /* read-back */
		for (int i = 0; i < 3; i++) {
			struct pit_channel_state *c = &pit->ch[i];
			if (!(val & (2 << i)))
				continue;
			if (!(val & 0x20))
				latch_count(c, now);
			if (!(val & 0x10) && !c->status_latched) {
				c->status = (uint8_t)((get_out(c, now) << 7) | (c->rw_mode << 4) |
						      (c->mode << 1) | c->bcd);
				c->status_latched = 1;
			}
		}
		return;
	}
	struct pit_channel_state *c = &pit->ch[ch];
	int access = (val >> 4) & 3;
	if (access == 0) {
		latch_count(c, now);
		return;
	}
	c->rw_mode = (uint8_t)access;
	c->read_state = (uint8_t)access;
	c->write_state = (uint8_t)access;
	c->mode = (val >> 1) & 7;
	if (c->mode >= 6)
		c->mode -= 4;
	c->bcd = val & 1;
	c->count_latched = 0;
	/* The counter waits for a new count. */
	if (ch == 0)
		pit->deadline = UINT64_MAX;
}

static void pit_write(void *dev, uint64_t off, unsigned size, uint64_t v)
{
	struct pit *pit = dev;
	uint8_t val = (uint8_t)v;
	pthread_mutex_lock(&pit->lock);
	uint64_t now = now_ns(pit);
	off &= 3;
	if (off == 3) {
		write_control(pit, val, now);
	} else {
		struct pit_channel_state *c = &pit->ch[off];
		switch (c->write_state) {
		default:
		case RW_STATE_LSB:
			load_count(pit, (int)off, val, now);
			break;
		case RW_STATE_MSB:
			load_count(pit, (int)off, (uint32_t)val << 8, now);
			break;
		case RW_STATE_WORD0:
			c->write_latch = val;
			c->write_state = RW_STATE_WORD1;
			break;
		case RW_STATE_WORD1:
			load_count(pit, (int)off, c->write_latch | ((uint32_t)val << 8), now);
			c->write_state = RW_STATE_WORD0;
			break;
		}
	}
	pthread_mutex_unlock(&pit->lock);
}

static uint64_t pit_read(void *dev, uint64_t off, unsigned size)
{
	struct pit *pit = dev;
	uint32_t ret;
	off &= 3;
	if (off == 3)
		return 0xff; /* the control word register is write-only */
	pthread_mutex_lock(&pit->lock);
	uint64_t now = now_ns(pit);
	struct pit_channel_state *c = &pit->ch[off];
	if (c->status_latched) {
		c->status_latched = 0;
		ret = c->status;
	} else if (c->count_latched) {
		switch (c->count_latched) {
		default:
		case RW_STATE_LSB:
			ret = c->latched_count & 0xff;
			c->count_latched = 0;
			break;
		case RW_STATE_MSB:
			ret = c->latched_count >> 8;
			c->count_latched = 0;
			break;
		case RW_STATE_WORD0:
			ret = c->latched_count & 0xff;
			c->count_latched = RW_STATE_MSB;
			break;
		}
	} else {
		uint32_t count = get_count(c, now);
		switch (c->read_state) {
		default:
		case RW_STATE_LSB:
			ret = count & 0xff;
			break;
		case RW_STATE_MSB:
			ret = (count >> 8) & 0xff;
			break;
		case RW_STATE_WORD0:
			ret = count & 0xff;
			c->read_state = RW_STATE_WORD1;
			break;
		case RW_STATE_WORD1:
			ret = (count >> 8) & 0xff;
			c->read_state = RW_STATE_WORD0;
			break;
		}
	}
	pthread_mutex_unlock(&pit->lock);
	return ret;
}

const struct bus_ops pit_ops = {.read = pit_read, .write = pit_write};

static uint64_t speaker_read(void *dev, uint64_t off, unsigned size)
{
	struct pit *pit = dev;
	pthread_mutex_lock(&pit->lock);
	uint64_t now = now_ns(pit);
	const struct pit_channel_state *c = &pit->ch[2];
	uint64_t v = (uint64_t)(c->gate & 1) | ((uint64_t)(pit->speaker & 1) << 1) |
		     (((now / REFRESH_PERIOD_NS) & 1) << 4) | ((uint64_t)get_out(c, now) << 5);
	pthread_mutex_unlock(&pit->lock);
	return v;
}

static void speaker_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct pit *pit = dev;
	pthread_mutex_lock(&pit->lock);
	pit->speaker = (val >> 1) & 1;
	set_gate(&pit->ch[2], val & 1, now_ns(pit));
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

void pit_tick(struct pit *pit, uint64_t now)
{
	int fire = 0;
	pthread_mutex_lock(&pit->lock);
	if (pit->deadline != UINT64_MAX && now >= pit->deadline) {
		fire = 1;
		const struct pit_channel_state *c = &pit->ch[0];
		if (c->mode == 2 || c->mode == 3)
			arm(pit, now);
		else
			pit->deadline = UINT64_MAX;
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
	uint64_t now = now_ns(pit);
	memcpy(s->ch, pit->ch, sizeof(s->ch));
	for (int i = 0; i < 3; i++)
		s->ch[i].count_load_time = pit->ch[i].count_load_time - (int64_t)now;
	s->speaker = (uint8_t)((pit->ch[2].gate & 1) | ((pit->speaker & 1) << 1));
	pthread_mutex_unlock(&pit->lock);
}

int pit_load(struct pit *pit, const struct pit_state *s)
{
	for (int i = 0; i < 3; i++) {
		const struct pit_channel_state *c = &s->ch[i];
		if (c->count < 1 || c->count > 0x10000 || c->mode > 5 || c->rw_mode > 3 ||
		    c->read_state > RW_STATE_WORD1 || c->write_state > RW_STATE_WORD1 ||
		    c->count_latched > RW_STATE_WORD0 || c->status_latched > 1 || c->bcd > 1 ||
		    c->gate > 1)
			return -EINVAL;
	}
	if (s->speaker & ~3u)
		return -EINVAL;
	pthread_mutex_lock(&pit->lock);
	uint64_t now = now_ns(pit);
	memcpy(pit->ch, s->ch, sizeof(pit->ch));
	for (int i = 0; i < 3; i++)
		pit->ch[i].count_load_time = (int64_t)now + s->ch[i].count_load_time;
	pit->ch[0].gate = 1;
	pit->ch[2].gate = s->speaker & 1;
	pit->speaker = (s->speaker >> 1) & 1;
	arm(pit, now);
	pthread_mutex_unlock(&pit->lock);
	return 0;
}
