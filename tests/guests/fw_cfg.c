/* fw_cfg: signature, ID, CPU count, RAM size, file directory, unknown keys.
 * The command line may carry "cpus=N" (the CPU count the VM was started with). */
#include "guest.h"

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static bool has_nul(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!p[i])
			return true;
	return false;
}

/* Reads the selected item's len bytes and then 8 more, which must read as 0 (the spec: past the
 * end of an item, reads return 0x00). */
static void check_read_past_end(uint16_t key, uint32_t len, const char *what)
{
	fwcfg_select(key);
	for (uint32_t i = 0; i < len; i++)
		inb(0x511);
	uint8_t tail[8];
	fwcfg_read_bytes(tail, sizeof(tail));
	for (unsigned i = 0; i < sizeof(tail); i++)
		TEST_ASSERT(tail[i] == 0, "%s: byte %u past the end reads 0x%x", what, i, tail[i]);
}

#define MAX_FILES 256
static struct {
	uint32_t size;
	uint16_t select;
	char name[57];
} files[MAX_FILES];

static void test_file_dir(void)
{
	uint8_t hdr[4];
	fwcfg_read(FW_CFG_FILE_DIR, hdr, sizeof(hdr));
	uint32_t count = be32(hdr);
	TEST_ASSERT(count <= MAX_FILES, "file directory claims %u files", count);
	for (uint32_t i = 0; i < count; i++) {
		uint8_t e[64];
		fwcfg_read_bytes(e, sizeof(e));
		files[i].size = be32(e);
		files[i].select = (uint16_t)(e[4] << 8 | e[5]);
		memcpy(files[i].name, e + 8, 56);
		files[i].name[56] = '\0';
		TEST_ASSERT(has_nul(e + 8, 56), "file %u: name is not NUL-terminated", i);
	}
	for (uint32_t i = 0; i < count; i++) {
		TEST_ASSERT(files[i].name[0], "file %u has an empty name", i);
		TEST_ASSERT(files[i].select >= FW_CFG_FILE_FIRST && files[i].select < 0x4000,
			    "file %s: bad selector 0x%x", files[i].name, files[i].select);
		for (uint32_t j = 0; j < i; j++) {
			TEST_ASSERT(files[i].select != files[j].select, "files %s and %s share selector 0x%x",
				    files[i].name, files[j].name, files[i].select);
			TEST_ASSERT(strcmp(files[i].name, files[j].name), "file %s listed twice",
				    files[i].name);
		}
	}
	test_note("file directory: %u files", count);
	for (uint32_t i = 0; i < count && i < 32; i++)
		test_note("  0x%04x %8u %s", files[i].select, files[i].size, files[i].name);

	/* Lookup by name agrees with the directory. */
	for (uint32_t i = 0; i < count; i++) {
		uint32_t size;
		uint16_t sel;
		TEST_ASSERT(!fwcfg_find_file(files[i].name, &size, &sel), "lookup of %s failed",
			    files[i].name);
		TEST_ASSERT(size == files[i].size && sel == files[i].select,
			    "lookup of %s: size %u select 0x%x", files[i].name, size, sel);
	}
	TEST_ASSERT(fwcfg_find_file("etc/vmon/no-such-file", NULL, NULL) == -1,
		    "lookup of a missing file succeeded");
	/* The smallest file reads as exactly its size, then zeros. */
	int small = -1;
	for (uint32_t i = 0; i < count; i++)
		if (files[i].size && files[i].size <= 4096 &&
		    (small < 0 || files[i].size < files[small].size))
			small = (int)i;
	if (small >= 0)
		check_read_past_end(files[small].select, files[small].size, files[small].name);
}

static void test_unknown_key(uint16_t key)
{
	uint8_t buf[16];
	memset(buf, 0x55, sizeof(buf));
	fwcfg_read(key, buf, sizeof(buf));
	for (unsigned i = 0; i < sizeof(buf); i++)
		TEST_ASSERT(buf[i] == 0, "unknown key 0x%x: byte %u reads 0x%x, expected 0", key, i,
			    buf[i]);
}

int main(const struct boot_info *bi)
{
	TEST_ASSERT(fwcfg_present(), "fw_cfg signature is not \"QEMU\"");
	uint32_t id = fwcfg_read32(FW_CFG_ID);
	TEST_ASSERT(id & 1, "fw_cfg ID 0x%x lacks the traditional interface bit", id);

	uint16_t ncpus = fwcfg_read16(FW_CFG_NB_CPUS);
	uint64_t want = cmdline_uint("cpus", 0);
	test_note("ID 0x%x, NB_CPUS %u (command line says %lu)", id, ncpus, want);
	TEST_ASSERT(ncpus >= 1, "NB_CPUS is 0");
	if (want)
		TEST_EQ(ncpus, want, "NB_CPUS vs cpus= on the command line");

	uint64_t ram = fwcfg_read64(FW_CFG_RAM_SIZE);
	test_note("RAM_SIZE %lu KiB, loader reported %lu KiB", ram >> 10, bi->mem_bytes >> 10);
	TEST_ASSERT(ram >= bi->mem_bytes, "RAM_SIZE 0x%lx below the loader's 0x%lx", ram,
		    bi->mem_bytes);
	TEST_ASSERT(bi->mem_bytes >= ram / 4 * 3, "loader's RAM 0x%lx far below RAM_SIZE 0x%lx",
		    bi->mem_bytes, ram);
	uint64_t ram_mb = cmdline_uint("ram_mb", 0);
	if (ram_mb)
		TEST_EQ(ram, ram_mb << 20, "RAM_SIZE vs ram_mb= on the command line");

	test_file_dir();
	/* 0x1f: unassigned between FILE_DIR (0x19) and the first file slot (0x20);
	 * 0x3fff: the top of the non-arch key space, far above any file slot. */
	test_unknown_key(0x1f);
	test_unknown_key(0x3fff);
	/* re-selecting resets the offset: the signature again; then zeros past its 4 bytes */
	TEST_ASSERT(fwcfg_present() && fwcfg_present(), "signature changed on re-select");
	check_read_past_end(FW_CFG_SIGNATURE, 4, "signature");
	return 0;
}
