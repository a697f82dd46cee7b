/* guest_start(): C entry after the long-mode switch. Decodes the boot protocol's information
 * into struct boot_info, then runs main(). Also the PASS/FAIL reporting and exit helpers. */
#include "guest.h"

void guest_start(uint32_t proto, uint64_t info) __attribute__((noreturn));
extern int testdev_state; /* testdev.c: -1 unknown, 0 absent, 1 present */

static struct boot_info bi;
const struct boot_info *boot_info = &bi;
static char cmdline_buf[4096];

static uint32_t rd32(uint64_t a)
{
	uint32_t v;
	memcpy(&v, (const void *)a, 4);
	return v;
}

static uint64_t rd64(uint64_t a)
{
	uint64_t v;
	memcpy(&v, (const void *)a, 8);
	return v;
}

static void copy_cmdline(uint64_t addr)
{
	if (!addr)
		return;
	const char *s = (const char *)addr;
	size_t n = strnlen(s, sizeof(cmdline_buf) - 1);
	memcpy(cmdline_buf, s, n);
	cmdline_buf[n] = '\0';
	bi.have_cmdline = true;
}

static void add_mmap(uint64_t addr, uint64_t len, uint32_t type)
{
	if (bi.nr_mmap < BOOT_MMAP_MAX)
		bi.mmap[bi.nr_mmap] = (struct boot_mmap_entry){ addr, len, type };
	bi.nr_mmap++;
	if (type == 1)
		bi.mem_bytes += len;
}

/* Multiboot v1 information structure. */
static void parse_multiboot(uint64_t mbi)
{
	uint32_t flags = rd32(mbi);
	if (flags & (1u << 2))
		copy_cmdline(rd32(mbi + 16));
	if ((flags & (1u << 3)) && rd32(mbi + 20) > 0) {
		uint64_t mod = rd32(mbi + 24);
		bi.initrd_addr = rd32(mod);
		bi.initrd_size = rd32(mod + 4) - rd32(mod);
	}
	if (flags & (1u << 6)) {
		uint64_t p = rd32(mbi + 48), end = p + rd32(mbi + 44);
		while (p + 24 <= end) {
			uint32_t size = rd32(p);
			add_mmap(rd64(p + 4), rd64(p + 12), rd32(p + 20));
			p += size + 4;
			if (size < 20)
				break;
		}
	}
	if (!bi.mem_bytes && (flags & 1u))
		bi.mem_bytes = ((uint64_t)rd32(mbi + 8) + 1024) * 1024;
}

/* struct hvm_start_info (Xen PVH). */
static void parse_pvh(uint64_t si)
{
	uint32_t version = rd32(si + 4);
	copy_cmdline(rd64(si + 24));
	bi.rsdp = rd64(si + 32);
	if (rd32(si + 12) > 0) {
		uint64_t mod = rd64(si + 16);
		bi.initrd_addr = rd64(mod);
		bi.initrd_size = rd64(mod + 8);
	}
	if (version >= 1) {
		uint64_t map = rd64(si + 40);
		uint32_t n = rd32(si + 48);
		for (uint32_t i = 0; i < n && map; i++)
			add_mmap(rd64(map + 24 * i), rd64(map + 24 * i + 8), rd32(map + 24 * i + 16));
	}
}

/* Linux boot_params (zero page). */
static void parse_bzimage(uint64_t bp)
{
	copy_cmdline(rd32(bp + 0x228) | ((uint64_t)rd32(bp + 0xc8) << 32));
	bi.initrd_addr = rd32(bp + 0x218) | ((uint64_t)rd32(bp + 0xc0) << 32);
	bi.initrd_size = rd32(bp + 0x21c) | ((uint64_t)rd32(bp + 0xc4) << 32);
	uint8_t n = *(const uint8_t *)(bp + 0x1e8);
	for (unsigned i = 0; i < n && i < 128; i++) {
		uint64_t e = bp + 0x2d0 + 20 * i;
		add_mmap(rd64(e), rd64(e + 8), rd32(e + 16));
	}
}

void guest_start(uint32_t proto, uint64_t info)
{
	serial_init();
	intr_init();
	pic_disable();
	bi.proto = (enum boot_proto)proto;
	bi.raw_value = info;
	bi.cmdline = cmdline_buf;
	switch (proto) {
	case BOOT_MULTIBOOT:
		bi.proto_name = "multiboot";
		parse_multiboot(info);
		break;
	case BOOT_PVH:
		bi.proto_name = "pvh";
		parse_pvh(info);
		break;
	case BOOT_BZIMAGE32:
		bi.proto_name = "bzimage-32";
		parse_bzimage(info);
		break;
	case BOOT_BZIMAGE64:
		bi.proto_name = "bzimage-64";
		parse_bzimage(info);
		break;
	default:
		bi.proto_name = "bad-magic";
		test_fail("entry saw a bad boot magic or protocol (proto %u, value 0x%lx)", proto,
			  info);
	}
	int rc = main(&bi);
	if (rc)
		test_fail("main returned %d", rc);
	test_pass();
}

/* ---- command line -------------------------------------------------------------------------- */

static const char *cmdline_find(const char *word, bool prefix)
{
	size_t n = strlen(word);
	const char *s = bi.cmdline;
	while (s && *s) {
		while (*s == ' ')
			s++;
		const char *e = s;
		while (*e && *e != ' ')
			e++;
		if ((size_t)(e - s) >= n && !strncmp(s, word, n) && (prefix || (size_t)(e - s) == n))
			return s + n;
		s = e;
	}
	return NULL;
}

bool cmdline_has(const char *word)
{
	return cmdline_find(word, false) != NULL;
}

const char *cmdline_str(const char *key, char *buf, size_t n)
{
	char k[64];
	snprintf(k, sizeof(k), "%s=", key);
	const char *v = cmdline_find(k, true);
	if (!v || !n)
		return NULL;
	size_t i = 0;
	while (v[i] && v[i] != ' ' && i + 1 < n) {
		buf[i] = v[i];
		i++;
	}
	buf[i] = 0;
	return buf;
}

uint64_t cmdline_uint(const char *key, uint64_t def)
{
	char k[64];
	snprintf(k, sizeof(k), "%s=", key);
	const char *v = cmdline_find(k, true);
	if (!v)
		return def;
	unsigned base = 10;
	if (v[0] == '0' && (v[1] == 'x' || v[1] == 'X')) {
		base = 16;
		v += 2;
	}
	uint64_t r = 0;
	int digits = 0;
	for (;; v++, digits++) {
		unsigned d;
		if (*v >= '0' && *v <= '9')
			d = *v - '0';
		else if (base == 16 && *v >= 'a' && *v <= 'f')
			d = *v - 'a' + 10;
		else if (base == 16 && *v >= 'A' && *v <= 'F')
			d = *v - 'A' + 10;
		else
			break;
		r = r * base + d;
	}
	if (!digits || (*v && *v != ' '))
		return def;
	return r;
}

/* ---- reporting ----------------------------------------------------------------------------- */

void test_exit(uint32_t code)
{
	outl(0xf4, code);
	for (;;)
		asm volatile("cli; hlt");
}

void test_note(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	printf("vmon-test: %s: %s\n", test_name, buf);
}

void test_pass(void)
{
	printf("vmon-test: %s: PASS\n", test_name);
	if (testdev_state == 1)
		ucall(UCALL_DONE, 0, 0);
	test_exit(0);
}

void test_fail(const char *fmt, ...)
{
	static char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	printf("vmon-test: %s: FAIL: %s\n", test_name, buf);
	if (testdev_state == 1)
		ucall(UCALL_ABORT, (uint64_t)buf, strlen(buf));
	test_exit(1);
}
