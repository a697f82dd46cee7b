/* fw_cfg, traditional PIO interface. See fw_cfg.h for the interface and locking. */
#include "hw/fw_cfg.h"
#include "core/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define FW_CFG_DIR_ENTRY_SIZE (4 + 2 + 2 + FW_CFG_MAX_FILE_NAME)

struct fw_cfg_item {
	bool present;
	uint32_t len;
	uint8_t *data;
};

struct fw_cfg_file {
	char name[FW_CFG_MAX_FILE_NAME];
	uint16_t select;
	uint32_t size;
};

/* lock protects everything after it. */
struct fw_cfg {
	pthread_mutex_t lock;
	struct fw_cfg_item items[2][FW_CFG_MAX_ENTRY]; /* [0] generic, [1] arch-local */
	struct fw_cfg_file files[FW_CFG_FILE_SLOTS];   /* sorted by name */
	unsigned nr_files;
	uint16_t selector;
	uint32_t offset;
};

/* The item a selector names, or NULL when none is present. */
static const struct fw_cfg_item *fw_cfg_lookup(const struct fw_cfg *fc, uint16_t selector)
{
	unsigned idx = selector & FW_CFG_ENTRY_MASK;
	const struct fw_cfg_item *it;

	if (idx >= FW_CFG_MAX_ENTRY)
		return NULL;
	it = &fc->items[(selector & FW_CFG_ARCH_LOCAL) ? 1 : 0][idx];
	return it->present ? it : NULL;
}

static uint64_t fw_cfg_bus_read(void *dev, uint64_t off, unsigned size)
{
	struct fw_cfg *fc = dev;
	uint8_t v = 0;

	(void)off;
	if (size != 1)
		return ~0ull;
	pthread_mutex_lock(&fc->lock);
	const struct fw_cfg_item *it = fw_cfg_lookup(fc, fc->selector);
	if (it && fc->offset < it->len)
		v = it->data[fc->offset++];
	pthread_mutex_unlock(&fc->lock);
	return v;
}

static void fw_cfg_bus_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct fw_cfg *fc = dev;

	if (size == 2 && off == 0) {
		pthread_mutex_lock(&fc->lock);
		fc->selector = (uint16_t)val;
		fc->offset = 0;
		pthread_mutex_unlock(&fc->lock);
	} else if (size == 1) {
		log_rl(LOG_DEBUG, "fw_cfg: data write ignored (write channel unsupported)");
	}
}

const struct bus_ops fw_cfg_ops = {fw_cfg_bus_read, fw_cfg_bus_write};

/* Store a copy of data in items[table][idx]. Caller holds the lock and checked idx. */
static int fw_cfg_store(struct fw_cfg *fc, unsigned table, unsigned idx, const void *data,
			size_t len)
{
	struct fw_cfg_item *it = &fc->items[table][idx];
	uint8_t *copy = malloc(len ? len : 1);

	if (!copy)
		return -ENOMEM;
	if (len)
		memcpy(copy, data, len);
	free(it->data);
	it->data = copy;
	it->len = (uint32_t)len;
	it->present = true;
	return 0;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Rebuild the FILE_DIR item from files[]. Caller holds the lock. */
static int fw_cfg_build_dir(struct fw_cfg *fc)
{
	size_t len = 4 + (size_t)fc->nr_files * FW_CFG_DIR_ENTRY_SIZE;
	uint8_t *dir = calloc(1, len);
	int ret;

	if (!dir)
		return -ENOMEM;
	put_be32(dir, fc->nr_files);
	for (unsigned i = 0; i < fc->nr_files; i++) {
		uint8_t *e = dir + 4 + (size_t)i * FW_CFG_DIR_ENTRY_SIZE;
		put_be32(e, fc->files[i].size);
		e[4] = (uint8_t)(fc->files[i].select >> 8);
		e[5] = (uint8_t)fc->files[i].select;
		memcpy(e + 8, fc->files[i].name, FW_CFG_MAX_FILE_NAME);
	}
	ret = fw_cfg_store(fc, 0, FW_CFG_FILE_DIR, dir, len);
	free(dir);
	return ret;
}

int fw_cfg_create(struct fw_cfg **out)
{
	static const uint8_t id[4] = {1, 0, 0, 0}; /* traditional interface, no DMA */
	struct fw_cfg *fc = calloc(1, sizeof(*fc));
	int ret;

	*out = NULL;
	if (!fc)
		return -ENOMEM;
	ret = -pthread_mutex_init(&fc->lock, NULL);
	if (ret) {
		free(fc);
		return ret;
	}
	ret = fw_cfg_store(fc, 0, FW_CFG_SIGNATURE, "QEMU", 4);
	if (!ret)
		ret = fw_cfg_store(fc, 0, FW_CFG_ID, id, sizeof(id));
	if (!ret)
		ret = fw_cfg_build_dir(fc);
	if (ret) {
		fw_cfg_destroy(fc);
		return ret;
	}
	*out = fc;
	return 0;
}

void fw_cfg_destroy(struct fw_cfg *fc)
{
	if (!fc)
		return;
	for (unsigned t = 0; t < 2; t++)
		for (unsigned i = 0; i < FW_CFG_MAX_ENTRY; i++)
			free(fc->items[t][i].data);
	pthread_mutex_destroy(&fc->lock);
	free(fc);
}

void fw_cfg_reset(struct fw_cfg *fc)
{
	pthread_mutex_lock(&fc->lock);
	fc->selector = 0;
	fc->offset = 0;
	pthread_mutex_unlock(&fc->lock);
}

int fw_cfg_add_bytes(struct fw_cfg *fc, uint16_t key, const void *data, size_t len)
{
	unsigned idx = key & FW_CFG_ENTRY_MASK, table = (key & FW_CFG_ARCH_LOCAL) ? 1 : 0;
	int ret;

	if ((key & FW_CFG_WRITE_CHANNEL) || idx >= FW_CFG_MAX_ENTRY || len > UINT32_MAX ||
	    (len && !data))
		return -EINVAL;
	if (table == 0 && (idx == FW_CFG_FILE_DIR || idx >= FW_CFG_FILE_FIRST))
		return -EINVAL;
	pthread_mutex_lock(&fc->lock);
	if (fc->items[table][idx].present)
		ret = -EEXIST;
	else
		ret = fw_cfg_store(fc, table, idx, data, len);
	pthread_mutex_unlock(&fc->lock);
	return ret;
}

int fw_cfg_add_u16(struct fw_cfg *fc, uint16_t key, uint16_t v)
{
	uint8_t b[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
	return fw_cfg_add_bytes(fc, key, b, sizeof(b));
}

int fw_cfg_add_u32(struct fw_cfg *fc, uint16_t key, uint32_t v)
{
	uint8_t b[4];
	for (unsigned i = 0; i < 4; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	return fw_cfg_add_bytes(fc, key, b, sizeof(b));
}

int fw_cfg_add_u64(struct fw_cfg *fc, uint16_t key, uint64_t v)
{
	uint8_t b[8];
	for (unsigned i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	return fw_cfg_add_bytes(fc, key, b, sizeof(b));
}

int fw_cfg_add_string(struct fw_cfg *fc, uint16_t key, const char *s)
{
	if (!s)
		return -EINVAL;
	return fw_cfg_add_bytes(fc, key, s, strlen(s) + 1);
}

int fw_cfg_add_file(struct fw_cfg *fc, const char *name, const void *data, size_t len)
{
	size_t nlen = name ? strnlen(name, FW_CFG_MAX_FILE_NAME) : 0;
	unsigned pos = 0;
	uint16_t select;
	int ret;

	if (nlen == 0 || len > UINT32_MAX || (len && !data))
		return -EINVAL;
	if (nlen >= FW_CFG_MAX_FILE_NAME)
		return -ENAMETOOLONG;
	pthread_mutex_lock(&fc->lock);
	while (pos < fc->nr_files && strcmp(fc->files[pos].name, name) < 0)
		pos++;
	if (pos < fc->nr_files && strcmp(fc->files[pos].name, name) == 0) {
		ret = -EEXIST;
		goto out;
	}
	if (fc->nr_files == FW_CFG_FILE_SLOTS) {
		ret = -ENOSPC;
		goto out;
	}
	select = (uint16_t)(FW_CFG_FILE_FIRST + fc->nr_files);
	ret = fw_cfg_store(fc, 0, select, data, len);
	if (ret)
		goto out;
	memmove(&fc->files[pos + 1], &fc->files[pos], (fc->nr_files - pos) * sizeof(fc->files[0]));
	memset(&fc->files[pos], 0, sizeof(fc->files[pos]));
	memcpy(fc->files[pos].name, name, nlen);
	fc->files[pos].select = select;
	fc->files[pos].size = (uint32_t)len;
	fc->nr_files++;
	ret = fw_cfg_build_dir(fc);
	if (ret) { /* undo: the directory must describe exactly the present files */
		fc->nr_files--;
		memmove(&fc->files[pos], &fc->files[pos + 1],
			(fc->nr_files - pos) * sizeof(fc->files[0]));
		free(fc->items[0][select].data);
		fc->items[0][select] = (struct fw_cfg_item){0};
		goto out;
	}
	ret = select;
out:
	pthread_mutex_unlock(&fc->lock);
	return ret;
}

void fw_cfg_save(struct fw_cfg *fc, struct fw_cfg_state *st)
{
	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&fc->lock);
	st->selector = fc->selector;
	st->offset = fc->offset;
	pthread_mutex_unlock(&fc->lock);
}

int fw_cfg_load(struct fw_cfg *fc, const struct fw_cfg_state *st)
{
	int ret = 0;

	if (st->reserved)
		return -EINVAL;
	pthread_mutex_lock(&fc->lock);
	const struct fw_cfg_item *it = fw_cfg_lookup(fc, st->selector);
	if (st->offset > (it ? it->len : 0)) {
		ret = -EINVAL;
	} else {
		fc->selector = st->selector;
		fc->offset = st->offset;
	}
	pthread_mutex_unlock(&fc->lock);
	return ret;
}
