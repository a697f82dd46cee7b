/* QEMU fw_cfg, legacy I/O interface: 16-bit selector at 0x510, 8-bit data at 0x511. */
#include "guest.h"

#define FW_CFG_PORT_SEL 0x510
#define FW_CFG_PORT_DATA 0x511

void fwcfg_select(uint16_t key)
{
	outw(FW_CFG_PORT_SEL, key);
}

void fwcfg_read_bytes(void *buf, size_t len)
{
	uint8_t *p = buf;
	for (size_t i = 0; i < len; i++)
		p[i] = inb(FW_CFG_PORT_DATA);
}

void fwcfg_read(uint16_t key, void *buf, size_t len)
{
	fwcfg_select(key);
	fwcfg_read_bytes(buf, len);
}

uint16_t fwcfg_read16(uint16_t key)
{
	uint16_t v;
	fwcfg_read(key, &v, sizeof(v));
	return v;
}

uint32_t fwcfg_read32(uint16_t key)
{
	uint32_t v;
	fwcfg_read(key, &v, sizeof(v));
	return v;
}

uint64_t fwcfg_read64(uint16_t key)
{
	uint64_t v;
	fwcfg_read(key, &v, sizeof(v));
	return v;
}

bool fwcfg_present(void)
{
	char sig[4];
	fwcfg_read(FW_CFG_SIGNATURE, sig, sizeof(sig));
	return !memcmp(sig, "QEMU", 4);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int fwcfg_find_file(const char *name, uint32_t *size, uint16_t *select)
{
	if (!fwcfg_present())
		return -1;
	uint8_t hdr[4];
	fwcfg_read(FW_CFG_FILE_DIR, hdr, sizeof(hdr));
	uint32_t count = be32(hdr);
	if (count > 4096)
		return -1;
	for (uint32_t i = 0; i < count; i++) {
		uint8_t e[64]; /* be32 size, be16 select, be16 reserved, char name[56] */
		fwcfg_read_bytes(e, sizeof(e));
		if (!strncmp((const char *)e + 8, name, 56)) {
			if (size)
				*size = be32(e);
			if (select)
				*select = (uint16_t)(e[4] << 8 | e[5]);
			return 0;
		}
	}
	return -1;
}
