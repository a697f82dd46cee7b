/* hello: greeting and boot information. Built three times: as a multiboot image (hello), as a
 * PVH ELF (boot_pvh, -DEXPECT_PVH) and as a bzImage (boot_bzimage, -DEXPECT_BZIMAGE). The
 * command line must contain the word "hello=world" (the manifest passes it). With the word
 * "initrd=bzimage" the loader must also have passed an initrd / first module, and it must be
 * a bzImage (the manifest passes boot_bzimage.bin). */
#include "guest.h"

static __attribute__((unused)) void check_multiboot(const struct boot_info *bi)
{
	uint32_t flags = *(const uint32_t *)bi->raw_value;
	TEST_ASSERT(flags & (1u << 2), "multiboot info has no command line (flags 0x%x)", flags);
	TEST_ASSERT(flags & ((1u << 0) | (1u << 6)), "multiboot info has no memory info (flags 0x%x)",
		    flags);
}

static __attribute__((unused)) void check_pvh(const struct boot_info *bi)
{
	const uint32_t *si = (const uint32_t *)bi->raw_value;
	TEST_EQ(si[0], 0x336ec578, "hvm_start_info.magic");
	test_note("start_info at 0x%lx: version %u, flags 0x%x, %u modules, rsdp 0x%lx", bi->raw_value,
		  si[1], si[2], si[3], bi->rsdp);
	TEST_ASSERT(*(const uint64_t *)(si + 6), "hvm_start_info.cmdline_paddr is 0");
}

static __attribute__((unused)) void check_bzimage(const struct boot_info *bi)
{
	const uint8_t *bp = (const uint8_t *)bi->raw_value;
	TEST_ASSERT(!memcmp(bp + 0x202, "HdrS", 4), "boot_params has no \"HdrS\" at 0x202");
	uint16_t version = *(const uint16_t *)(bp + 0x206);
	uint32_t cmd_line_ptr = *(const uint32_t *)(bp + 0x228);
	test_note("boot_params at 0x%lx: protocol %x.%02x, loader 0x%x, cmd_line_ptr 0x%x, %u e820 "
		  "entries", bi->raw_value, version >> 8, version & 0xff, bp[0x210], cmd_line_ptr,
		  bp[0x1e8]);
	TEST_ASSERT(version >= 0x020f, "boot_params protocol version 0x%x < 0x20f", version);
	TEST_ASSERT(cmd_line_ptr, "boot_params.hdr.cmd_line_ptr is 0");
	TEST_ASSERT(bp[0x1e8] > 0, "boot_params.e820_entries is 0");
}

int main(const struct boot_info *bi)
{
	printf("vmon-test: %s: hello from a freestanding guest\n", test_name);
	test_note("boot protocol %s, info at 0x%lx", bi->proto_name, bi->raw_value);
	test_note("command line: \"%s\"", bi->cmdline);
	test_note("memory: %lu KiB in %u map entries", bi->mem_bytes >> 10, bi->nr_mmap);
	for (uint32_t i = 0; i < bi->nr_mmap && i < BOOT_MMAP_MAX; i++)
		test_note("  [%016lx-%016lx) type %u", bi->mmap[i].addr,
			  bi->mmap[i].addr + bi->mmap[i].len, bi->mmap[i].type);
	if (bi->initrd_size)
		test_note("initrd/module: 0x%lx, %lu bytes", bi->initrd_addr, bi->initrd_size);

#if defined(EXPECT_PVH)
	TEST_ASSERT(bi->proto == BOOT_PVH, "booted through %s, expected pvh", bi->proto_name);
	check_pvh(bi);
#elif defined(EXPECT_BZIMAGE)
	TEST_ASSERT(bi->proto == BOOT_BZIMAGE32 || bi->proto == BOOT_BZIMAGE64,
		    "booted through %s, expected a bzImage entry", bi->proto_name);
	check_bzimage(bi);
#else
	TEST_ASSERT(bi->proto == BOOT_MULTIBOOT, "booted through %s, expected multiboot",
		    bi->proto_name);
	check_multiboot(bi);
#endif
	TEST_ASSERT(bi->have_cmdline, "the loader passed no command line");
	TEST_ASSERT(cmdline_has("hello=world"), "command line lacks \"hello=world\": \"%s\"",
		    bi->cmdline);
	TEST_ASSERT(bi->mem_bytes >= (8ull << 20), "loader reported only %lu bytes of RAM",
		    bi->mem_bytes);
	if (cmdline_has("initrd=bzimage")) {
		TEST_ASSERT(bi->initrd_size >= 0x400, "initrd/module missing or short (%lu bytes)",
			    bi->initrd_size);
		const uint8_t *m = (const uint8_t *)bi->initrd_addr;
		TEST_ASSERT(!memcmp(m + 0x202, "HdrS", 4) && m[0x1fe] == 0x55 && m[0x1ff] == 0xaa,
			    "initrd/module at 0x%lx does not hold the expected bzImage", bi->initrd_addr);
		test_note("initrd/module holds the expected file");
	}
	return 0;
}
