/* QEMU's fw_cfg firmware configuration interface, traditional (PIO, no DMA) form, at PORT_FW_CFG.
 *
 * Port 0x510 takes a 16-bit write of the selector; port 0x511 is the data port: each 8-bit read
 * returns the next byte of the selected item (zero past its end or for an unknown key), and
 * selecting again restarts at offset 0. As in QEMU's combined I/O region, an 8-bit read at either
 * port reads data and an 8-bit write at either port is a data write, which is ignored (the write
 * channel is not supported). Other access sizes read all ones and are ignored on write.
 *
 * Keys (selector bits 0-13) are numbered as in QEMU; bit 14 marks a write and is ignored for
 * selection; bit 15 selects the architecture-local table, whose keys read as unknown unless added.
 * SIGNATURE ("QEMU"), ID (1: traditional interface only) and FILE_DIR are present from creation;
 * everything else is added by the machine. Files get selectors from FW_CFG_FILE_FIRST in the order
 * they are added (a selector never changes once returned); the FILE_DIR item lists them sorted by
 * name, as QEMU does: be32 count, then per file { be32 size, be16 select, be16 reserved,
 * char name[56] }.
 *
 * Lock: each fw_cfg has a mutex protecting the item tables, the file directory, the selector and
 * the offset; items may be added while the guest runs. No callback is made. */
#ifndef VMON_HW_FW_CFG_H
#define VMON_HW_FW_CFG_H

#include <stddef.h>
#include <stdint.h>

#include "core/bus.h"

#define FW_CFG_LEN 2

#define FW_CFG_SIGNATURE 0x00
#define FW_CFG_ID 0x01
#define FW_CFG_UUID 0x02
#define FW_CFG_RAM_SIZE 0x03
#define FW_CFG_NOGRAPHIC 0x04
#define FW_CFG_NB_CPUS 0x05
#define FW_CFG_MACHINE_ID 0x06
#define FW_CFG_KERNEL_ADDR 0x07
#define FW_CFG_KERNEL_SIZE 0x08
#define FW_CFG_KERNEL_CMDLINE 0x09
#define FW_CFG_INITRD_ADDR 0x0a
#define FW_CFG_INITRD_SIZE 0x0b
#define FW_CFG_BOOT_DEVICE 0x0c
#define FW_CFG_NUMA 0x0d
#define FW_CFG_BOOT_MENU 0x0e
#define FW_CFG_MAX_CPUS 0x0f
#define FW_CFG_KERNEL_ENTRY 0x10
#define FW_CFG_KERNEL_DATA 0x11
#define FW_CFG_INITRD_DATA 0x12
#define FW_CFG_CMDLINE_ADDR 0x13
#define FW_CFG_CMDLINE_SIZE 0x14
#define FW_CFG_CMDLINE_DATA 0x15
#define FW_CFG_SETUP_ADDR 0x16
#define FW_CFG_SETUP_SIZE 0x17
#define FW_CFG_SETUP_DATA 0x18
#define FW_CFG_FILE_DIR 0x19
#define FW_CFG_FILE_FIRST 0x20
#define FW_CFG_FILE_SLOTS 0x20
#define FW_CFG_MAX_ENTRY (FW_CFG_FILE_FIRST + FW_CFG_FILE_SLOTS)

#define FW_CFG_WRITE_CHANNEL 0x4000
#define FW_CFG_ARCH_LOCAL 0x8000
#define FW_CFG_ENTRY_MASK 0x3fff

#define FW_CFG_MAX_FILE_NAME 56 /* including the terminating NUL */

struct fw_cfg;

/* Saved state: the selector as last written and the read offset within that item. */
struct fw_cfg_state {
	uint16_t selector;
	uint16_t reserved;
	uint32_t offset;
};

extern const struct bus_ops fw_cfg_ops;

/* Create an fw_cfg with SIGNATURE, ID and an empty FILE_DIR, selector 0. Returns 0 and sets *out,
 * or -ENOMEM / -errno. */
int fw_cfg_create(struct fw_cfg **out) __attribute__((warn_unused_result));

/* Free the fw_cfg and every item (it must no longer be registered on a bus). */
void fw_cfg_destroy(struct fw_cfg *fc);

/* Select key 0 again, as at power-on. Items stay. */
void fw_cfg_reset(struct fw_cfg *fc);

/* Add item `key` (optionally with FW_CFG_ARCH_LOCAL) holding a copy of data[0..len). Returns 0,
 * -EINVAL for a key with the write bit, at or above FW_CFG_MAX_ENTRY, FILE_DIR or in the file
 * range (use fw_cfg_add_file), or len above UINT32_MAX; -EEXIST when the key is already present;
 * -ENOMEM. */
int fw_cfg_add_bytes(struct fw_cfg *fc, uint16_t key, const void *data, size_t len)
    __attribute__((warn_unused_result));

/* fw_cfg_add_bytes of a little-endian integer. */
int fw_cfg_add_u16(struct fw_cfg *fc, uint16_t key, uint16_t v) __attribute__((warn_unused_result));
int fw_cfg_add_u32(struct fw_cfg *fc, uint16_t key, uint32_t v) __attribute__((warn_unused_result));
int fw_cfg_add_u64(struct fw_cfg *fc, uint16_t key, uint64_t v) __attribute__((warn_unused_result));

/* fw_cfg_add_bytes of s including its terminating NUL (as QEMU does). */
int fw_cfg_add_string(struct fw_cfg *fc, uint16_t key, const char *s)
    __attribute__((warn_unused_result));

/* Add a named file holding a copy of data[0..len) and list it in FILE_DIR. Returns its selector
 * (FW_CFG_FILE_FIRST + n, fixed for the life of the fw_cfg), -EINVAL for an empty name or len
 * above UINT32_MAX, -ENAMETOOLONG for a name of FW_CFG_MAX_FILE_NAME characters or more, -EEXIST
 * for a name already present, -ENOSPC when all FW_CFG_FILE_SLOTS are used, -ENOMEM. */
int fw_cfg_add_file(struct fw_cfg *fc, const char *name, const void *data, size_t len)
    __attribute__((warn_unused_result));

/* Copy the selector and offset into *st. */
void fw_cfg_save(struct fw_cfg *fc, struct fw_cfg_state *st);

/* Restore the selector and offset. The items themselves are not part of the state: the machine
 * re-creates them identically before loading. Rejects a non-zero reserved field and an offset
 * beyond the end of the selected item (any non-zero offset for an unknown key) with -EINVAL,
 * leaving the state unchanged. Returns 0 or -EINVAL. */
int fw_cfg_load(struct fw_cfg *fc, const struct fw_cfg_state *st)
    __attribute__((warn_unused_result));

#endif
