/* MC146818 RTC + CMOS NVRAM. See cmos_rtc.h for the model and what is left out. */
#include "hw/cmos_rtc.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RTC_SECONDS 0x00
#define RTC_MINUTES 0x02
#define RTC_HOURS 0x04
#define RTC_DAY_OF_WEEK 0x06
#define RTC_DAY_OF_MONTH 0x07
#define RTC_MONTH 0x08
#define RTC_YEAR 0x09
#define RTC_REG_A 0x0a
#define RTC_REG_B 0x0b
#define RTC_REG_C 0x0c
#define RTC_REG_D 0x0d
#define RTC_CENTURY 0x32

#define REG_A_UIP 0x80
#define REG_A_DV 0x70
#define REG_A_DV_NORMAL 0x20
#define REG_A_RATE 0x0f
#define REG_B_SET 0x80
#define REG_B_PIE 0x40
#define REG_B_AIE 0x20
#define REG_B_UIE 0x10
#define REG_B_SQWE 0x08
#define REG_B_DM 0x04 /* binary, not BCD */
#define REG_B_24H 0x02
#define REG_C_IRQF 0x80
#define REG_C_PF 0x40
#define REG_C_UF 0x10
#define REG_D_VRT 0x80

#define NS_PER_S 1000000000ull
#define UIP_WINDOW_NS 244000ull
#define OFFSET_LIMIT (1ll << 40)

static const uint8_t rtc_time_regs[] = {
    RTC_SECONDS,      RTC_MINUTES, RTC_HOURS, RTC_DAY_OF_WEEK,
    RTC_DAY_OF_MONTH, RTC_MONTH,   RTC_YEAR,  RTC_CENTURY,
};

struct cmos_rtc {
	pthread_mutex_t lock; /* protects everything below except clk, which is constant */
	struct clock_src clk;
	uint8_t ram[CMOS_RTC_SIZE];
	uint8_t index;
	bool nmi_masked;
	int64_t offset_s;
	uint64_t last_c_ns; /* monotonic time of the last register C read */
};

static bool rtc_is_time_reg(unsigned idx)
{
	for (unsigned i = 0; i < sizeof(rtc_time_regs); i++)
		if (rtc_time_regs[i] == idx)
			return true;
	return false;
}

static uint64_t rtc_mono(const struct cmos_rtc *rtc)
{
	return rtc->clk.mono_ns ? rtc->clk.mono_ns(rtc->clk.ctx) : 0;
}

static int64_t rtc_wall(const struct cmos_rtc *rtc)
{
	return rtc->clk.wall_s ? rtc->clk.wall_s(rtc->clk.ctx) : 0;
}

static bool rtc_running(const struct cmos_rtc *rtc)
{
	return !(rtc->ram[RTC_REG_B] & REG_B_SET) &&
	       (rtc->ram[RTC_REG_A] & REG_A_DV) == REG_A_DV_NORMAL;
}

static uint8_t rtc_to_reg(uint8_t regb, unsigned v)
{
	v %= 100;
	return (regb & REG_B_DM) ? (uint8_t)v : (uint8_t)(((v / 10) << 4) | (v % 10));
}

static int rtc_from_reg(uint8_t regb, uint8_t v)
{
	return (regb & REG_B_DM) ? v : (v >> 4) * 10 + (v & 0x0f);
}

/* Fill the time slots of img[] with guest time t in the format regb selects. */
static void rtc_encode(uint8_t regb, int64_t t, uint8_t img[CMOS_RTC_SIZE])
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm))
		memset(&tm, 0, sizeof(tm));
	unsigned year = (unsigned)(tm.tm_year + 1900);
	unsigned hour = (unsigned)tm.tm_hour;
	img[RTC_SECONDS] = rtc_to_reg(regb, (unsigned)tm.tm_sec);
	img[RTC_MINUTES] = rtc_to_reg(regb, (unsigned)tm.tm_min);
	if (regb & REG_B_24H) {
		img[RTC_HOURS] = rtc_to_reg(regb, hour);
	} else {
		unsigned h12 = hour % 12 ? hour % 12 : 12;
		img[RTC_HOURS] = (uint8_t)(rtc_to_reg(regb, h12) | (hour >= 12 ? 0x80 : 0));
	}
	img[RTC_DAY_OF_WEEK] = rtc_to_reg(regb, (unsigned)tm.tm_wday + 1);
	img[RTC_DAY_OF_MONTH] = rtc_to_reg(regb, (unsigned)tm.tm_mday);
	img[RTC_MONTH] = rtc_to_reg(regb, (unsigned)tm.tm_mon + 1);
	img[RTC_YEAR] = rtc_to_reg(regb, year % 100);
	img[RTC_CENTURY] = rtc_to_reg(regb, year / 100);
}

/* Turn the time slots of img[] into a new offset from host time. Day of week is ignored, as the
 * chip does not check it either. Out-of-range fields are normalised by timegm. */
static void rtc_set_from_image(struct cmos_rtc *rtc, uint8_t regb, const uint8_t img[CMOS_RTC_SIZE],
			       int64_t wall)
{
	struct tm tm = {0};
	uint8_t h = img[RTC_HOURS];

	tm.tm_sec = rtc_from_reg(regb, img[RTC_SECONDS]);
	tm.tm_min = rtc_from_reg(regb, img[RTC_MINUTES]);
	if (regb & REG_B_24H) {
		tm.tm_hour = rtc_from_reg(regb, h);
	} else {
		tm.tm_hour = rtc_from_reg(regb, h & 0x7f) % 12;
		if (h & 0x80)
			tm.tm_hour += 12;
	}
	tm.tm_mday = rtc_from_reg(regb, img[RTC_DAY_OF_MONTH]);
	tm.tm_mon = rtc_from_reg(regb, img[RTC_MONTH]) - 1;
	tm.tm_year =
	    rtc_from_reg(regb, img[RTC_CENTURY]) * 100 + rtc_from_reg(regb, img[RTC_YEAR]) - 1900;
	int64_t t = (int64_t)timegm(&tm);
	int64_t off = t - wall;
	if (off > -OFFSET_LIMIT && off < OFFSET_LIMIT)
		rtc->offset_s = off;
}

static uint8_t rtc_read_c(struct cmos_rtc *rtc)
{
	uint64_t now = rtc_mono(rtc), last = rtc->last_c_ns;
	uint8_t flags = 0, regb = rtc->ram[RTC_REG_B];
	unsigned rate = rtc->ram[RTC_REG_A] & REG_A_RATE;

	if (now < last)
		last = now;
	if (rtc_running(rtc) && now / NS_PER_S != last / NS_PER_S)
		flags |= REG_C_UF;
	if (rate && (rtc->ram[RTC_REG_A] & REG_A_DV) == REG_A_DV_NORMAL) {
		if (rate < 3)
			rate += 7; /* rates 1 and 2 repeat rates 8 and 9 */
		uint64_t period = (NS_PER_S << (rate - 1)) / 32768;
		if (now / period != last / period)
			flags |= REG_C_PF;
	}
	if ((flags & REG_C_UF && regb & REG_B_UIE) || (flags & REG_C_PF && regb & REG_B_PIE))
		flags |= REG_C_IRQF;
	rtc->last_c_ns = now;
	return flags;
}

static uint8_t rtc_read_data(struct cmos_rtc *rtc)
{
	unsigned idx = rtc->index;
	uint8_t img[CMOS_RTC_SIZE];

	switch (idx) {
	case RTC_REG_A: {
		uint8_t a = rtc->ram[RTC_REG_A];
		if (rtc_running(rtc) && rtc_mono(rtc) % NS_PER_S >= NS_PER_S - UIP_WINDOW_NS)
			a |= REG_A_UIP;
		return a;
	}
	case RTC_REG_C:
		return rtc_read_c(rtc);
	case RTC_REG_D:
		return REG_D_VRT;
	default:
		break;
	}
	if (rtc_is_time_reg(idx) && !(rtc->ram[RTC_REG_B] & REG_B_SET)) {
		rtc_encode(rtc->ram[RTC_REG_B], rtc_wall(rtc) + rtc->offset_s, img);
		return img[idx];
	}
	return rtc->ram[idx];
}

static void rtc_write_b(struct cmos_rtc *rtc, uint8_t val)
{
	uint8_t old = rtc->ram[RTC_REG_B];

	if (val & REG_B_SET)
		val &= (uint8_t)~REG_B_UIE;
	rtc->ram[RTC_REG_B] = val;
	if (!(old & REG_B_SET) && (val & REG_B_SET)) {
		/* Freeze: the image takes the current time, in the new format. */
		rtc_encode(val, rtc_wall(rtc) + rtc->offset_s, rtc->ram);
	} else if ((old & REG_B_SET) && !(val & REG_B_SET)) {
		rtc_set_from_image(rtc, val, rtc->ram, rtc_wall(rtc));
		for (unsigned i = 0; i < sizeof(rtc_time_regs); i++)
			rtc->ram[rtc_time_regs[i]] = 0;
	}
}

static void rtc_write_data(struct cmos_rtc *rtc, uint8_t val)
{
	unsigned idx = rtc->index;
	uint8_t img[CMOS_RTC_SIZE];
	uint8_t regb = rtc->ram[RTC_REG_B];

	switch (idx) {
	case RTC_REG_A:
		rtc->ram[RTC_REG_A] = val & (uint8_t)~REG_A_UIP;
		return;
	case RTC_REG_B:
		rtc_write_b(rtc, val);
		return;
	case RTC_REG_C:
	case RTC_REG_D:
		return; /* read-only */
	default:
		break;
	}
	if (!rtc_is_time_reg(idx)) {
		rtc->ram[idx] = val;
	} else if (regb & REG_B_SET) {
		rtc->ram[idx] = val;
	} else {
		int64_t wall = rtc_wall(rtc);
		rtc_encode(regb, wall + rtc->offset_s, img);
		img[idx] = val;
		rtc_set_from_image(rtc, regb, img, wall);
	}
}

static uint64_t rtc_bus_read(void *dev, uint64_t off, unsigned size)
{
	struct cmos_rtc *rtc = dev;
	uint64_t v = 0;

	pthread_mutex_lock(&rtc->lock);
	for (unsigned i = 0; i < size && off + i < CMOS_RTC_LEN; i++) {
		uint8_t b = off + i == 0 ? 0xff : rtc_read_data(rtc);
		v |= (uint64_t)b << (8 * i);
	}
	pthread_mutex_unlock(&rtc->lock);
	return v;
}

static void rtc_bus_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct cmos_rtc *rtc = dev;

	pthread_mutex_lock(&rtc->lock);
	for (unsigned i = 0; i < size && off + i < CMOS_RTC_LEN; i++) {
		uint8_t b = (uint8_t)(val >> (8 * i));
		if (off + i == 0) {
			rtc->index = b & 0x7f;
			rtc->nmi_masked = (b & 0x80) != 0;
		} else {
			rtc_write_data(rtc, b);
		}
	}
	pthread_mutex_unlock(&rtc->lock);
}

const struct bus_ops cmos_rtc_ops = {rtc_bus_read, rtc_bus_write};

static void rtc_put16(uint8_t *ram, unsigned idx, uint64_t v)
{
	ram[idx] = (uint8_t)v;
	ram[idx + 1] = (uint8_t)(v >> 8);
}

static void rtc_init_memory(uint8_t *ram, const struct cmos_rtc_mem *mem)
{
	const uint64_t mib = 1ull << 20;
	uint64_t low = mem->ram_below_4g, ext_end = low < 64 * mib ? low : 64 * mib;
	uint64_t v;

	ram[0x14] = 0x06; /* equipment: FPU, PS/2 mouse; no floppy; VGA */
	rtc_put16(ram, 0x15, 640);
	v = ext_end > mib ? (ext_end - mib) / 1024 : 0;
	v = v > 0xffff ? 0xffff : v;
	rtc_put16(ram, 0x17, v);
	rtc_put16(ram, 0x30, v);
	v = low > 16 * mib ? (low - 16 * mib) / 65536 : 0;
	rtc_put16(ram, 0x34, v > 0xffff ? 0xffff : v);
	v = mem->ram_above_4g / 65536;
	v = v > 0xffffff ? 0xffffff : v;
	ram[0x5b] = (uint8_t)v;
	ram[0x5c] = (uint8_t)(v >> 8);
	ram[0x5d] = (uint8_t)(v >> 16);
	ram[0x5f] = (uint8_t)(mem->ncpus - 1);
}

int cmos_rtc_create(struct clock_src clk, const struct cmos_rtc_mem *mem, struct cmos_rtc **out)
{
	struct cmos_rtc *rtc;
	int ret;

	*out = NULL;
	if (!mem || mem->ncpus < 1 || mem->ncpus > 256 || mem->ram_below_4g > (1ull << 32))
		return -EINVAL;
	rtc = calloc(1, sizeof(*rtc));
	if (!rtc)
		return -ENOMEM;
	ret = pthread_mutex_init(&rtc->lock, NULL);
	if (ret) {
		free(rtc);
		return -ret;
	}
	rtc->clk = clk;
	rtc->ram[RTC_REG_A] = 0x26; /* 32.768 kHz time base, 1024 Hz rate */
	rtc->ram[RTC_REG_B] = REG_B_24H;
	rtc->ram[RTC_REG_D] = REG_D_VRT;
	rtc_init_memory(rtc->ram, mem);
	rtc->last_c_ns = rtc_mono(rtc);
	*out = rtc;
	return 0;
}

void cmos_rtc_destroy(struct cmos_rtc *rtc)
{
	if (!rtc)
		return;
	pthread_mutex_destroy(&rtc->lock);
	free(rtc);
}

void cmos_rtc_reset(struct cmos_rtc *rtc)
{
	pthread_mutex_lock(&rtc->lock);
	rtc->ram[RTC_REG_B] &= (uint8_t) ~(REG_B_PIE | REG_B_AIE | REG_B_UIE | REG_B_SQWE);
	rtc->last_c_ns = rtc_mono(rtc);
	pthread_mutex_unlock(&rtc->lock);
}

int cmos_rtc_nmi_masked(struct cmos_rtc *rtc)
{
	pthread_mutex_lock(&rtc->lock);
	int v = rtc->nmi_masked;
	pthread_mutex_unlock(&rtc->lock);
	return v;
}

void cmos_rtc_save(struct cmos_rtc *rtc, struct cmos_rtc_state *st)
{
	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&rtc->lock);
	memcpy(st->ram, rtc->ram, sizeof(st->ram));
	st->index = rtc->index;
	st->nmi_masked = rtc->nmi_masked;
	st->offset_s = rtc->offset_s;
	pthread_mutex_unlock(&rtc->lock);
}

static int rtc_state_check(const struct cmos_rtc_state *st)
{
	uint8_t regb = st->ram[RTC_REG_B];

	if (st->index >= CMOS_RTC_SIZE || st->nmi_masked > 1)
		return -EINVAL;
	for (unsigned i = 0; i < sizeof(st->reserved); i++)
		if (st->reserved[i])
			return -EINVAL;
	if (st->offset_s <= -OFFSET_LIMIT || st->offset_s >= OFFSET_LIMIT)
		return -EINVAL;
	if (st->ram[RTC_REG_A] & REG_A_UIP || st->ram[RTC_REG_C] || st->ram[RTC_REG_D] != REG_D_VRT)
		return -EINVAL;
	if ((regb & REG_B_SET) && (regb & REG_B_UIE))
		return -EINVAL;
	if (!(regb & REG_B_SET))
		for (unsigned i = 0; i < sizeof(rtc_time_regs); i++)
			if (st->ram[rtc_time_regs[i]])
				return -EINVAL;
	return 0;
}

int cmos_rtc_load(struct cmos_rtc *rtc, const struct cmos_rtc_state *st)
{
	int ret = rtc_state_check(st);
	if (ret)
		return ret;
	pthread_mutex_lock(&rtc->lock);
	memcpy(rtc->ram, st->ram, sizeof(rtc->ram));
	rtc->index = st->index;
	rtc->nmi_masked = st->nmi_masked;
	rtc->offset_s = st->offset_s;
	rtc->last_c_ns = rtc_mono(rtc);
	pthread_mutex_unlock(&rtc->lock);
	return 0;
}
