// SPDX-License-Identifier: BSD-3-Clause
/* One direction of the emulated WAN (see link.h for the pipeline). */
#include "link.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

/* ---- PRNG: xoshiro256** seeded by splitmix64 (Blackman & Vigna) ---- */

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static inline uint64_t next_u64(uint64_t s[4])
{
	uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return r;
}

/* Uniform in [0, 1). */
static inline double next_unit(uint64_t s[4])
{
	return (double)(next_u64(s) >> 11) * 0x1.0p-53;
}

/* ---- memory ---- */

static uint64_t pow2_at_least(uint64_t v)
{
	uint64_t p = 1;

	while (p < v)
		p <<= 1;
	return p;
}

static void *map(uint64_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

enum {
	ALIGN = 16,              /* frame bytes stored <= wire bytes at 16 */
	MIN_STORED = 48,         /* an aligned frame of 33..48 bytes */
	UNLIMITED_RATE_GBPS = 10,
};
#define MIN_BUF (4ull << 20)
#define MAX_BUF_UNLIMITED (128ull << 20)

/* Frames in the queue plus the delay line: at most queue_bytes waiting, and
 * rate x (delay + jitter) in the delay line (each frame's stored size is at
 * most its wire size); with no rate, as if 10 Gbit/s, at most 128 MiB. */
static uint64_t buffer_bytes(const struct impair *im, uint32_t max_frame)
{
	double hold_s = (double)(im->delay_ns + im->jitter_ns) / 1e9;
	double bytes;

	if (im->rate_bps) {
		bytes = (double)im->queue_bytes + (double)im->rate_bps * hold_s / 8;
	} else {
		bytes = UNLIMITED_RATE_GBPS * 1e9 * hold_s / 8;
		if (bytes > MAX_BUF_UNLIMITED)
			bytes = MAX_BUF_UNLIMITED;
	}
	bytes += 64.0 * max_frame;   /* wrap waste, a frame being received */
	if (bytes < MIN_BUF)
		bytes = MIN_BUF;
	return pow2_at_least((uint64_t)bytes);
}

int link_init(struct link *l, const struct impair *im, uint64_t seed, int dir,
	      uint32_t max_frame, uint64_t now_ns)
{
	uint64_t sm = seed ^ (dir ? 0xb2ab2ab2ab2ab2a0ull : 0xa2ba2ba2ba2ba2b0ull);

	memset(l, 0, sizeof(*l));
	l->im = *im;
	for (int i = 0; i < 4; i++)
		l->rng[i] = splitmix64(&sm);
	if (im->loss_burst > 0) {
		/* Simple Gilbert model: every frame in the bad state is lost,
		 * none in the good one. Bad runs last 1/r frames on average and
		 * the stationary loss is p / (p + r). */
		l->ge_r = 1.0 / im->loss_burst;
		l->ge_p = im->loss * l->ge_r / (1.0 - im->loss);
	}
	l->epoch_ns = now_ns;

	l->buf_size = buffer_bytes(im, max_frame);
	l->nslots = (uint32_t)pow2_at_least(l->buf_size / MIN_STORED);
	l->buf = map(l->buf_size);
	l->slots = map((uint64_t)l->nslots * sizeof(*l->slots));
	l->heap = map((uint64_t)l->nslots * sizeof(*l->heap));
	if (!l->buf || !l->slots || !l->heap) {
		link_free(l);
		return -ENOMEM;
	}
	return 0;
}

void link_free(struct link *l)
{
	if (l->buf)
		munmap(l->buf, l->buf_size);
	if (l->slots)
		munmap(l->slots, (uint64_t)l->nslots * sizeof(*l->slots));
	if (l->heap)
		munmap(l->heap, (uint64_t)l->nslots * sizeof(*l->heap));
	l->buf = NULL;
	l->slots = NULL;
	l->heap = NULL;
}

uint64_t link_capacity(const struct link *l, uint32_t *nslots)
{
	*nslots = l->nslots;
	return l->buf_size;
}

/* ---- the delay line: a binary heap of slot indices by (due, seq) ---- */

static inline bool earlier(const struct link *l, uint32_t a, uint32_t b)
{
	const struct link_slot *x = &l->slots[a], *y = &l->slots[b];

	return x->due_ns < y->due_ns || (x->due_ns == y->due_ns && x->seq < y->seq);
}

static void heap_push(struct link *l, uint32_t idx)
{
	uint32_t i = l->heap_n++;

	while (i > 0) {
		uint32_t parent = (i - 1) / 2;

		if (!earlier(l, idx, l->heap[parent]))
			break;
		l->heap[i] = l->heap[parent];
		i = parent;
	}
	l->heap[i] = idx;
}

static void heap_pop(struct link *l)
{
	uint32_t last = l->heap[--l->heap_n], i = 0, n = l->heap_n;

	for (;;) {
		uint32_t c = 2 * i + 1;

		if (c >= n)
			break;
		if (c + 1 < n && earlier(l, l->heap[c + 1], l->heap[c]))
			c++;
		if (!earlier(l, l->heap[c], last))
			break;
		l->heap[i] = l->heap[c];
		i = c;
	}
	if (n)
		l->heap[i] = last;
}

/* ---- the byte ring: frames stored in arrival order, released in any ---- */

static struct link_slot *store(struct link *l, const uint8_t *data, uint32_t len)
{
	uint64_t need = (len + ALIGN - 1) & ~(uint64_t)(ALIGN - 1);
	uint64_t mask = l->buf_size - 1, pos = l->head;
	struct link_slot *s;

	if (l->slot_head - l->slot_tail == l->nslots)
		return NULL;
	if ((pos & mask) + need > l->buf_size)
		pos += l->buf_size - (pos & mask);   /* no frame wraps around */
	if (pos + need - l->tail > l->buf_size)
		return NULL;
	memcpy(l->buf + (pos & mask), data, len);
	l->head = pos + need;
	s = &l->slots[l->slot_head & (l->nslots - 1)];
	s->off = pos;
	s->len = len;
	s->released = 0;
	l->slot_head++;
	return s;
}

static void release(struct link *l, uint32_t idx)
{
	uint32_t mask = l->nslots - 1;

	l->slots[idx].released = 1;
	while (l->slot_tail != l->slot_head && l->slots[l->slot_tail & mask].released)
		l->slot_tail++;
	l->tail = l->slot_tail == l->slot_head ? l->head : l->slots[l->slot_tail & mask].off;
}

/* ---- the pipeline ---- */

uint64_t link_backlog(const struct link *l, uint64_t now_ns)
{
	uint64_t now_ps = (now_ns - l->epoch_ns) * 1000;

	if (!l->im.rate_bps || l->free_ps <= now_ps)
		return 0;
	return (uint64_t)((double)(l->free_ps - now_ps) * (double)l->im.rate_bps / 8e12);
}

static bool lost(struct link *l, double u)
{
	if (l->im.loss_burst > 0) {
		/* one draw decides the transition; the state decides the loss */
		if (l->ge_bad)
			l->ge_bad = !(u < l->ge_r);
		else
			l->ge_bad = u < l->ge_p;
		return l->ge_bad;
	}
	return u < l->im.loss;
}

/* One copy through the rate limiter and into the delay line. */
static void enqueue(struct link *l, const uint8_t *data, uint32_t len,
		    uint64_t now_ns, bool skip_delay, double u_jitter)
{
	uint64_t leave_ns = now_ns, free_ps = 0, backlog = 0, wire = 0, due;
	struct link_slot *s;

	if (l->im.rate_bps) {
		uint64_t now_ps = (now_ns - l->epoch_ns) * 1000;

		wire = wire_bytes(len);
		backlog = link_backlog(l, now_ns);
		if (backlog + wire > l->im.queue_bytes) {
			l->st.drop_queue++;
			return;
		}
		free_ps = (l->free_ps > now_ps ? l->free_ps : now_ps) +
			  wire * 8000000000000ull / l->im.rate_bps;
		leave_ns = l->epoch_ns + (free_ps + 999) / 1000;
	}
	due = leave_ns;
	if (!skip_delay) {
		int64_t d = (int64_t)l->im.delay_ns;

		if (l->im.jitter_ns)
			d += (int64_t)((u_jitter * 2 - 1) * (double)l->im.jitter_ns);
		if (d > 0)
			due += (uint64_t)d;
	}
	if (l->im.reorder == 0 && due < l->last_due_ns)
		due = l->last_due_ns;   /* jitter keeps order */
	s = store(l, data, len);
	if (!s) {
		l->st.drop_full++;
		return;
	}
	if (l->im.rate_bps) {
		l->free_ps = free_ps;
		if (backlog + wire > l->st.queue_hwm_bytes)
			l->st.queue_hwm_bytes = backlog + wire;
	}
	if (due > l->last_due_ns)
		l->last_due_ns = due;
	s->due_ns = due;
	s->seq = l->seq_in++;
	heap_push(l, (uint32_t)(s - l->slots));
}

void link_input(struct link *l, const uint8_t *data, uint32_t len, uint64_t now_ns)
{
	double u_loss = next_unit(l->rng), u_dup = next_unit(l->rng);
	double u_reorder = next_unit(l->rng), u_jitter = next_unit(l->rng);
	bool skip_delay = u_reorder < l->im.reorder;

	l->st.rx_frames++;
	l->st.rx_bytes += len;
	if (lost(l, u_loss)) {
		l->st.drop_loss++;
		return;
	}
	enqueue(l, data, len, now_ns, skip_delay, u_jitter);
	if (u_dup < l->im.dup) {
		l->st.duplicated++;
		enqueue(l, data, len, now_ns, skip_delay, u_jitter);
	}
}

const uint8_t *link_peek(const struct link *l, uint64_t until_ns, uint32_t *len)
{
	const struct link_slot *s;

	if (!l->heap_n)
		return NULL;
	s = &l->slots[l->heap[0]];
	if (s->due_ns > until_ns)
		return NULL;
	*len = s->len;
	return l->buf + (s->off & (l->buf_size - 1));
}

void link_pop(struct link *l)
{
	uint32_t idx = l->heap[0];
	struct link_slot *s = &l->slots[idx];

	if (s->seq < l->seq_out_max)
		l->st.reordered++;
	else
		l->seq_out_max = s->seq;
	l->st.tx_frames++;
	l->st.tx_bytes += s->len;
	heap_pop(l);
	release(l, idx);
}
