/* Virtio memory balloon. See virtio_balloon.h. */
#include "virtio/virtio_balloon.h"
#include "core/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#define BALLOON_STATE_VERSION 1u
#define BALLOON_STAT_LEN 10u /* packed {le16 tag, le64 val} */

struct virtio_balloon {
	struct virtio_dev vdev; /* first: the ops recover the device from it */
	struct gmem *gm;
	struct evloop *el;
	int tfd; /* stats timer, or -1 */
	uint64_t ram_pages;
	uint32_t target, actual;
	uint64_t inflated, deflated, reported, stats_updates;
	bool stats_valid[VIRTIO_BALLOON_S_NR];
	uint64_t stats[VIRTIO_BALLOON_S_NR];
	/* The driver's stats buffer, held until the next request. After a load only its head is
	 * known (stats_elem is then a stand-in with no segments). */
	bool stats_held;
	struct virtq_elem elem, stats_elem;
};

/* Saved state, little-endian. */
struct balloon_state {
	uint32_t version, target, actual, stats_held;
	uint64_t inflated, deflated, reported, stats_updates;
	uint32_t stats_head, stats_valid; /* bit per tag */
	uint64_t stats[VIRTIO_BALLOON_S_NR];
};

static struct virtio_balloon *to_balloon(struct virtio_dev *vdev)
{
	return (struct virtio_balloon *)vdev;
}

static uint64_t get_le(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static void chain_error(struct virtio_balloon *b, struct virtq *vq, const char *what)
{
	log_rl(LOG_WARN, "%s: %s", b->vdev.name, what);
	virtq_set_broken(vq);
}

/* Discard [first, first + n) pages. */
static void discard_run(struct virtio_balloon *b, uint64_t first, uint64_t n)
{
	int ret =
	    gmem_discard(b->gm, first << VIRTIO_BALLOON_PAGE_SHIFT, n << VIRTIO_BALLOON_PAGE_SHIFT);
	if (ret)
		log_rl(LOG_WARN, "%s: cannot discard pfn 0x%llx+%llu: %s", b->vdev.name,
		       (unsigned long long)first, (unsigned long long)n, strerror(-ret));
}

/* The pfns of one inflate or deflate request; inflate discards them, runs coalesced. */
static void handle_pfns(struct virtio_balloon *b, const struct virtq_elem *e, bool inflate)
{
	uint64_t run_first = 0, run_n = 0;
	uint8_t carry[4];
	unsigned have = 0;

	for (unsigned i = 0; i < e->nr_read; i++) {
		const uint8_t *p = e->iov[i].iov_base;
		for (size_t k = 0; k < e->iov[i].iov_len; k++) {
			carry[have++] = p[k];
			if (have < 4)
				continue;
			have = 0;
			uint64_t pfn = get_le(carry, 4);
			if (!inflate) {
				b->deflated++;
				continue;
			}
			b->inflated++;
			if (run_n && pfn == run_first + run_n) {
				run_n++;
				continue;
			}
			if (run_n)
				discard_run(b, run_first, run_n);
			run_first = pfn;
			run_n = 1;
		}
	}
	if (run_n)
		discard_run(b, run_first, run_n);
	if (have)
		log_rl(LOG_DEBUG, "%s: %u trailing bytes ignored", b->vdev.name, have);
}

/* Free page reporting: whole pages inside the writable segments are discarded. */
static void handle_report(struct virtio_balloon *b, const struct virtq_elem *e)
{
	for (unsigned i = e->nr_read; i < e->nr_read + e->nr_write; i++) {
		uint64_t start = e->gpa[i], end = start + e->iov[i].iov_len; /* no overflow: RAM */
		uint64_t first = (start + GMEM_PAGE_SIZE - 1) >> GMEM_PAGE_SHIFT;
		uint64_t last = end >> GMEM_PAGE_SHIFT;
		if (last > first) {
			discard_run(b, first, last - first);
			b->reported += last - first;
		}
	}
}

static void handle_stats(struct virtio_balloon *b, const struct virtq_elem *e)
{
	uint8_t ent[BALLOON_STAT_LEN];
	unsigned have = 0;

	for (unsigned i = 0; i < e->nr_read; i++) {
		const uint8_t *p = e->iov[i].iov_base;
		for (size_t k = 0; k < e->iov[i].iov_len; k++) {
			ent[have++] = p[k];
			if (have < BALLOON_STAT_LEN)
				continue;
			have = 0;
			unsigned tag = (unsigned)get_le(ent, 2);
			if (tag < VIRTIO_BALLOON_S_NR) {
				b->stats[tag] = get_le(ent + 2, 8);
				b->stats_valid[tag] = true;
			}
		}
	}
	b->stats_updates++;
}

static int balloon_queue_notify(struct virtio_dev *vdev, unsigned q)
{
	struct virtio_balloon *b = to_balloon(vdev);
	struct virtq *vq = virtio_dev_queue(vdev, q);
	bool pushed = false;

	for (unsigned n = 0; vq && n < VIRTIO_BALLOON_QUEUE_SIZE; n++) {
		if (q == VIRTIO_BALLOON_STATSQ && b->stats_held)
			break; /* one buffer at a time; the driver never posts two */
		if (virtq_pop(vq, &b->elem))
			break; /* -EAGAIN: drained; -EIO: broken, the core sets NEEDS_RESET */
		bool report = q == VIRTIO_BALLOON_REPORTQ;
		if (report ? b->elem.nr_read != 0 : b->elem.nr_write != 0) {
			chain_error(b, vq, "request with a segment in the wrong direction");
			break;
		}
		if (q == VIRTIO_BALLOON_STATSQ) {
			handle_stats(b, &b->elem);
			b->stats_elem = b->elem; /* held: returned at the next request */
			b->stats_held = true;
			continue;
		}
		if (report)
			handle_report(b, &b->elem);
		else
			handle_pfns(b, &b->elem, q == VIRTIO_BALLOON_INFLATEQ);
		if (virtq_push(vq, &b->elem, 0))
			break;
		pushed = true;
	}
	if (pushed)
		virtio_dev_signal_used(vdev, q);
	return 0;
}

static bool balloon_running(const struct virtio_balloon *b)
{
	return (b->vdev.status & (VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_NEEDS_RESET)) ==
	       VIRTIO_STATUS_DRIVER_OK;
}

int virtio_balloon_request_stats(struct virtio_balloon *b)
{
	struct virtq *vq = virtio_dev_queue(&b->vdev, VIRTIO_BALLOON_STATSQ);
	int ret = -EAGAIN;

	pthread_mutex_lock(&b->vdev.lock);
	if (b->stats_held && balloon_running(b) && vq->ready && !virtq_broken(vq)) {
		b->stats_held = false;
		ret = virtq_push(vq, &b->stats_elem, 0);
		if (ret == 0)
			virtio_dev_signal_used(&b->vdev, VIRTIO_BALLOON_STATSQ);
		else
			virtio_dev_set_needs_reset(&b->vdev); /* a loaded head beyond the queue */
	}
	pthread_mutex_unlock(&b->vdev.lock);
	return ret;
}

int virtio_balloon_set_target(struct virtio_balloon *b, uint64_t bytes)
{
	uint64_t pages = bytes >> VIRTIO_BALLOON_PAGE_SHIFT;

	if (pages > b->ram_pages)
		return -EINVAL;
	pthread_mutex_lock(&b->vdev.lock);
	b->target = (uint32_t)pages;
	virtio_dev_config_changed(&b->vdev);
	pthread_mutex_unlock(&b->vdev.lock);
	return 0;
}

void virtio_balloon_get_info(struct virtio_balloon *b, struct virtio_balloon_info *info)
{
	pthread_mutex_lock(&b->vdev.lock);
	*info = (struct virtio_balloon_info){
	    .target_pages = b->target,
	    .actual_pages = b->actual,
	    .inflated = b->inflated,
	    .deflated = b->deflated,
	    .reported = b->reported,
	    .stats_updates = b->stats_updates,
	};
	memcpy(info->stats_valid, b->stats_valid, sizeof(b->stats_valid));
	memcpy(info->stats, b->stats, sizeof(b->stats));
	pthread_mutex_unlock(&b->vdev.lock);
}

static void balloon_reset(struct virtio_dev *vdev)
{
	struct virtio_balloon *b = to_balloon(vdev);

	/* The driver forgot its pages; the host's target stays. */
	b->actual = 0;
	b->stats_held = false;
}

static uint32_t balloon_config_read(struct virtio_dev *vdev, uint32_t off, unsigned size)
{
	struct virtio_balloon *b = to_balloon(vdev);
	uint32_t cfg[2] = {b->target, b->actual};
	uint8_t raw[VIRTIO_BALLOON_CONFIG_LEN];
	uint32_t v = 0;

	for (unsigned i = 0; i < sizeof(raw); i++)
		raw[i] = (uint8_t)(cfg[i / 4] >> (8 * (i % 4)));
	for (unsigned i = 0; i < size; i++) /* the core checked off + size */
		v |= (uint32_t)raw[off + i] << (8 * i);
	return v;
}

static void balloon_config_write(struct virtio_dev *vdev, uint32_t off, unsigned size, uint32_t val)
{
	struct virtio_balloon *b = to_balloon(vdev);

	/* Only actual is writable; a write may cover part of it. */
	for (unsigned i = 0; i < size; i++) {
		unsigned byte = off + i;
		if (byte < VIRTIO_BALLOON_CFG_ACTUAL)
			continue;
		unsigned sh = 8 * (byte - VIRTIO_BALLOON_CFG_ACTUAL);
		b->actual = (b->actual & ~(0xffu << sh)) | (((val >> (8 * i)) & 0xffu) << sh);
	}
}

static int balloon_save(struct virtio_dev *vdev, void *buf, size_t cap)
{
	struct virtio_balloon *b = to_balloon(vdev);
	struct balloon_state st = {
	    .version = BALLOON_STATE_VERSION,
	    .target = b->target,
	    .actual = b->actual,
	    .stats_held = b->stats_held,
	    .inflated = b->inflated,
	    .deflated = b->deflated,
	    .reported = b->reported,
	    .stats_updates = b->stats_updates,
	    .stats_head = b->stats_held ? b->stats_elem.head : 0,
	};

	if (cap < sizeof(st))
		return -ENOSPC;
	for (unsigned i = 0; i < VIRTIO_BALLOON_S_NR; i++) {
		st.stats[i] = b->stats[i];
		st.stats_valid |= (uint32_t)b->stats_valid[i] << i;
	}
	memcpy(buf, &st, sizeof(st)); /* vmon's hosts are little-endian (x86-64, aarch64) */
	return (int)sizeof(st);
}

static int balloon_load(struct virtio_dev *vdev, const void *buf, size_t len)
{
	struct virtio_balloon *b = to_balloon(vdev);
	struct balloon_state st;

	if (len != sizeof(st))
		return -EINVAL;
	memcpy(&st, buf, sizeof(st));
	if (st.version != BALLOON_STATE_VERSION || st.target > b->ram_pages || st.stats_held > 1 ||
	    st.stats_head >= VIRTIO_BALLOON_QUEUE_SIZE || (!st.stats_held && st.stats_head) ||
	    st.stats_valid >> VIRTIO_BALLOON_S_NR)
		return -EINVAL;
	b->target = st.target;
	b->actual = st.actual;
	b->inflated = st.inflated;
	b->deflated = st.deflated;
	b->reported = st.reported;
	b->stats_updates = st.stats_updates;
	for (unsigned i = 0; i < VIRTIO_BALLOON_S_NR; i++) {
		b->stats[i] = st.stats[i];
		b->stats_valid[i] = (st.stats_valid >> i) & 1;
	}
	b->stats_held = st.stats_held;
	b->stats_elem.head = (uint16_t)st.stats_head;
	b->stats_elem.nr_read = b->stats_elem.nr_write = 0;
	b->stats_elem.read_len = b->stats_elem.write_len = 0;
	return 0;
}

static const struct virtio_dev_ops balloon_ops = {
    .reset = balloon_reset,
    .queue_notify = balloon_queue_notify,
    .config_read = balloon_config_read,
    .config_write = balloon_config_write,
    .save = balloon_save,
    .load = balloon_load,
};

static void stats_timer(void *ctx, int fd, uint32_t events)
{
	uint64_t n;

	if (read(fd, &n, sizeof(n)) != sizeof(n))
		return;
	(void)virtio_balloon_request_stats(ctx);
}

int virtio_balloon_create(struct gmem *gm, const struct virtio_balloon_opts *o, struct evloop *el,
			  struct virtio_balloon **out)
{
	struct virtio_dev_config cfg = {
	    .name = "virtio-balloon",
	    .device_id = VIRTIO_ID_BALLOON,
	    .features = VIRTIO_BIT(VIRTIO_BALLOON_F_STATS_VQ),
	    .nr_queues = 3,
	    .queue_size = VIRTIO_BALLOON_QUEUE_SIZE,
	    .config_len = VIRTIO_BALLOON_CONFIG_LEN,
	};
	struct virtio_balloon *b;
	int ret;

	*out = NULL;
	if (o->reporting) {
		cfg.features |= VIRTIO_BIT(VIRTIO_BALLOON_F_PAGE_REPORTING);
		cfg.nr_queues = 4;
	}
	if ((o->size >> VIRTIO_BALLOON_PAGE_SHIFT) > (gm->ram_size >> VIRTIO_BALLOON_PAGE_SHIFT))
		return -EINVAL;
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	ret = virtio_dev_init(&b->vdev, &cfg, &balloon_ops, gm);
	if (ret) {
		free(b);
		return ret;
	}
	b->gm = gm;
	b->tfd = -1;
	b->ram_pages = gm->ram_size >> VIRTIO_BALLOON_PAGE_SHIFT;
	b->target = (uint32_t)(o->size >> VIRTIO_BALLOON_PAGE_SHIFT);
	if (el && o->stats_secs) {
		struct itimerspec its = {{o->stats_secs, 0}, {o->stats_secs, 0}};
		b->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
		if (b->tfd < 0 || timerfd_settime(b->tfd, 0, &its, NULL) < 0 ||
		    (ret = evloop_add(el, b->tfd, EPOLLIN, stats_timer, b)) != 0) {
			ret = ret ? ret : -errno;
			if (b->tfd >= 0)
				close(b->tfd);
			virtio_dev_destroy(&b->vdev);
			free(b);
			return ret;
		}
		b->el = el;
	}
	*out = b;
	return 0;
}

void virtio_balloon_destroy(struct virtio_balloon *b)
{
	if (!b)
		return;
	if (b->el)
		evloop_del(b->el, b->tfd);
	if (b->tfd >= 0)
		close(b->tfd);
	virtio_dev_destroy(&b->vdev);
	free(b);
}

struct virtio_dev *virtio_balloon_dev(struct virtio_balloon *b)
{
	return &b->vdev;
}
