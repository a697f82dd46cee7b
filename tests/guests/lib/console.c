/* COM1 output, printf-style formatting and the few string functions the guests use. */
#include "guest.h"

#define COM1 0x3f8

void serial_init(void)
{
	outb(COM1 + 1, 0x00); /* IER: no interrupts */
	outb(COM1 + 3, 0x80); /* LCR: DLAB */
	outb(COM1 + 0, 0x01); /* divisor 1: 115200 baud */
	outb(COM1 + 1, 0x00);
	outb(COM1 + 3, 0x03); /* 8N1 */
	outb(COM1 + 2, 0x07); /* FIFO on, cleared */
	outb(COM1 + 4, 0x03); /* DTR | RTS, OUT2 off (no IRQ) */
}

void serial_putc(char c)
{
	/* Poll LSR.THRE, bounded so that a UART model without LSR cannot hang the guest. */
	for (int i = 0; i < 100000 && !(inb(COM1 + 5) & 0x20); i++)
		cpu_relax();
	outb(COM1, (uint8_t)c);
}

/* One line at a time from any CPU: a spinning lock with a bounded wait (a CPU that panics while
 * holding it must still get its message out). */
static volatile uint32_t console_lock;

static void console_acquire(void)
{
	for (int i = 0; i < 10000000; i++) {
		uint32_t one = 1;
		asm volatile("xchgl %0, %1" : "+r"(one), "+m"(console_lock) : : "memory");
		if (!one)
			return;
		cpu_relax();
	}
}

static void console_release(void)
{
	barrier();
	console_lock = 0;
}

/* ---- formatting ---------------------------------------------------------------------------- */

struct sink {
	char *buf;   /* NULL: serial */
	size_t size; /* capacity of buf including the NUL */
	size_t len;  /* characters produced (may exceed size) */
};

static void sink_put(struct sink *s, char c)
{
	if (!s->buf)
		serial_putc(c);
	else if (s->len + 1 < s->size)
		s->buf[s->len] = c;
	s->len++;
}

static void put_num(struct sink *s, uint64_t v, unsigned base, bool upper, bool neg, int width,
		    bool zero, bool left)
{
	char tmp[24];
	int n = 0;
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	do {
		tmp[n++] = digits[v % base];
		v /= base;
	} while (v);
	int len = n + (neg ? 1 : 0);
	if (!left && !zero)
		for (; width > len; width--)
			sink_put(s, ' ');
	if (neg)
		sink_put(s, '-');
	if (!left && zero)
		for (; width > len; width--)
			sink_put(s, '0');
	while (n)
		sink_put(s, tmp[--n]);
	if (left)
		for (; width > len; width--)
			sink_put(s, ' ');
}

static void format(struct sink *s, const char *fmt, va_list ap)
{
	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			sink_put(s, *fmt);
			continue;
		}
		fmt++;
		bool zero = false, left = false;
		for (;; fmt++) {
			if (*fmt == '0')
				zero = true;
			else if (*fmt == '-')
				left = true;
			else
				break;
		}
		int width = 0;
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		int lng = 0;
		while (*fmt == 'l') {
			lng++;
			fmt++;
		}
		if (*fmt == 'z') {
			lng = 1;
			fmt++;
		}
		switch (*fmt) {
		case 'd':
		case 'i': {
			int64_t v = lng ? va_arg(ap, int64_t) : va_arg(ap, int);
			bool neg = v < 0;
			put_num(s, neg ? -(uint64_t)v : (uint64_t)v, 10, false, neg, width, zero, left);
			break;
		}
		case 'u':
		case 'x':
		case 'X': {
			uint64_t v = lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned);
			put_num(s, v, *fmt == 'u' ? 10 : 16, *fmt == 'X', false, width, zero, left);
			break;
		}
		case 'p':
			sink_put(s, '0');
			sink_put(s, 'x');
			put_num(s, (uint64_t)va_arg(ap, void *), 16, false, false, width, zero, left);
			break;
		case 'c':
			sink_put(s, (char)va_arg(ap, int));
			break;
		case 's': {
			const char *str = va_arg(ap, const char *);
			if (!str)
				str = "(null)";
			int len = (int)strlen(str);
			if (!left)
				for (; width > len; width--)
					sink_put(s, ' ');
			while (*str)
				sink_put(s, *str++);
			for (; width > len; width--)
				sink_put(s, ' ');
			break;
		}
		case '%':
			sink_put(s, '%');
			break;
		case '\0':
			return;
		default:
			sink_put(s, '%');
			sink_put(s, *fmt);
			break;
		}
	}
}

int vprintf(const char *fmt, va_list ap)
{
	struct sink s = { 0 };
	console_acquire();
	format(&s, fmt, ap);
	console_release();
	return (int)s.len;
}

int printf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vprintf(fmt, ap);
	va_end(ap);
	return n;
}

int vsnprintf(char *buf, size_t n, const char *fmt, va_list ap)
{
	struct sink s = { .buf = buf, .size = n };
	format(&s, fmt, ap);
	if (n)
		buf[s.len < n ? s.len : n - 1] = '\0';
	return (int)s.len;
}

int snprintf(char *buf, size_t n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = vsnprintf(buf, n, fmt, ap);
	va_end(ap);
	return r;
}

/* ---- strings ------------------------------------------------------------------------------- */

void *memset(void *d, int c, size_t n)
{
	void *ret = d;
	asm volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
	return ret;
}

void *memcpy(void *d, const void *s, size_t n)
{
	void *ret = d;
	asm volatile("rep movsb" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
	return ret;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const uint8_t *x = a, *y = b;
	for (size_t i = 0; i < n; i++)
		if (x[i] != y[i])
			return x[i] < y[i] ? -1 : 1;
	return 0;
}

size_t strlen(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}

size_t strnlen(const char *s, size_t max)
{
	size_t n = 0;
	while (n < max && s[n])
		n++;
	return n;
}

int strncmp(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (a[i] != b[i])
			return (uint8_t)a[i] < (uint8_t)b[i] ? -1 : 1;
		if (!a[i])
			return 0;
	}
	return 0;
}

int strcmp(const char *a, const char *b)
{
	return strncmp(a, b, (size_t)-1);
}

char *strstr(const char *h, const char *n)
{
	size_t ln = strlen(n);
	for (; *h; h++)
		if (!strncmp(h, n, ln))
			return (char *)h;
	return ln ? NULL : (char *)h;
}
