/* SPDX-License-Identifier: BSD-3-Clause */
/* The WAN shaper (see shaper.h for the semantics and the structures).
 *
 * One decision:
 *
 *   shaper_pick(now)
 *     wheel_advance(now)       fire the slots up to now: each class found
 *                              there is reclassified (red -> yellow/green,
 *                              yellow -> green, held -> sendable)
 *     link bucket conforms?    no: wait until it does
 *     ffs(level mask)          the first non-empty level: green prio 0..8,
 *                              then yellow prio 0 urgent, prio 0, prio 1 ...
 *     next set bit >= cursor   that level's round robin (two-level bitmap)
 *   shaper_sent(cls, len)
 *     charge link, ceiling, and the guarantee if green (32.32 ns per byte)
 *     deficit -= len; spent: += quantum, cursor moves past cls
 *     reclassify(cls)          its level bit, and its wheel slot when it
 *                              must wait for its ceiling or guarantee
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shaper.h"

enum {
	WORD_BITS = 64,
	MAP_WORDS = SHAPER_MAX_CLASSES / WORD_BITS, /* 64: one summary word */
	N_LEVELS = SHAPER_PRIOS * 3,                /* green, urgent, yellow per prio */
	NO_LEVEL = 0xff,
	NIL = 0xffff,                               /* wheel list end */
	FP_SHIFT = 32,                              /* ns per byte, 32.32 */
};

_Static_assert(SHAPER_MAX_CLASSES == MAP_WORDS * WORD_BITS, "one summary word");
_Static_assert(SHAPER_WHEEL_SLOTS == MAP_WORDS * WORD_BITS, "wheel map like a level's");
_Static_assert(N_LEVELS <= 32, "levels in a 32-bit mask");
_Static_assert((unsigned)SHAPER_MAX_CLASSES < (unsigned)NIL, "class index fits the wheel links");

/* A set of up to 4096 indices: find-first-set in two steps. */
struct bitmap {
	uint64_t summary;          /* bit w: words[w] != 0 */
	uint64_t words[MAP_WORDS];
};

/* A rate as a virtual finish time (GCRA). nspb == 0: no limit. */
struct bucket {
	uint64_t tat;   /* ns: when the bytes charged so far are paid for */
	uint32_t frac;  /* tat's fraction of a ns, 2^-32 */
	uint64_t nspb;  /* ns per byte, 32.32 */
	uint64_t tau;   /* burst tolerance, ns */
};

struct level {
	struct bitmap map;
	uint32_t cursor;  /* round robin: the class being served */
};

struct cls {
	struct bucket g, c;  /* guarantee (g.nspb == 0: none), ceiling */
	int64_t deficit[2];  /* DRR: as green, as yellow */
	uint32_t quantum;    /* bytes per round, >= mtu */
	uint8_t prio;
	uint8_t level;       /* NO_LEVEL when not sendable */
	uint8_t mode;        /* enum shaper_mode */
	bool active, urgent, has_g;
	uint16_t weight;
	uint16_t wnext, wprev;
	uint16_t wslot;      /* valid when on_wheel */
	bool on_wheel;
	uint64_t wake_at;    /* ns: when its wheel entry is due */
	uint64_t hold_until; /* shaper_defer() */
	uint64_t rpo_target, lag;
	uint64_t bytes, frames, green_bytes, borrowed_bytes, throttled, urgent_bytes;
};

struct shaper {
	uint32_t level_mask;             /* bit l: levels[l] not empty */
	int picked;                      /* class of the last pick */
	uint8_t picked_level;
	uint32_t mtu;
	unsigned n;
	uint64_t now;                    /* latest time seen */
	struct bucket link;
	uint64_t wheel_cur;              /* absolute slot: all before it fired */
	struct bitmap wheel_map;         /* occupied slots */
	uint16_t wheel_head[SHAPER_WHEEL_SLOTS];
	struct level levels[N_LEVELS];
	struct cls cls[];
};

/* ---- bitmaps ---- */

static inline void bm_set(struct bitmap *b, unsigned i)
{
	b->words[i / WORD_BITS] |= 1ull << (i % WORD_BITS);
	b->summary |= 1ull << (i / WORD_BITS);
}

static inline void bm_clear(struct bitmap *b, unsigned i)
{
	unsigned w = i / WORD_BITS;
	b->words[w] &= ~(1ull << (i % WORD_BITS));
	if (!b->words[w])
		b->summary &= ~(1ull << w);
}

/* The first set index at or after `from` (circularly), or -1 if empty. */
static inline int bm_next(const struct bitmap *b, unsigned from)
{
	if (!b->summary)
		return -1;
	unsigned w = (from / WORD_BITS) % MAP_WORDS;
	uint64_t m = b->words[w] & (~0ull << (from % WORD_BITS));
	if (from < SHAPER_MAX_CLASSES && m)
		return (int)(w * WORD_BITS + (unsigned)__builtin_ctzll(m));
	uint64_t later = from < SHAPER_MAX_CLASSES && w + 1 < MAP_WORDS
			 ? b->summary & (~0ull << (w + 1)) : 0;
	w = (unsigned)__builtin_ctzll(later ? later : b->summary);
	return (int)(w * WORD_BITS + (unsigned)__builtin_ctzll(b->words[w]));
}

/* ---- buckets ---- */

static uint64_t rate_nspb(uint64_t bps)
{
	if (!bps)
		return 0;
	/* 8e9 ns per byte at 1 bit/s, times 2^32: 128 bits */
	return (uint64_t)(((unsigned __int128)8000000000ull << FP_SHIFT) / bps);
}

static void bucket_set(struct bucket *b, uint64_t bps, uint32_t mtu, uint64_t burst_ns)
{
	b->nspb = rate_nspb(bps);
	uint64_t frame = (uint64_t)(((unsigned __int128)mtu * b->nspb) >> FP_SHIFT);
	b->tau = frame > burst_ns ? frame : burst_ns;
}

static inline bool bucket_ok(const struct bucket *b, uint64_t now)
{
	return b->tat <= now + b->tau;
}

/* When the bucket conforms again (the first ns it does). */
static inline uint64_t bucket_eligible(const struct bucket *b)
{
	return b->tat > b->tau ? b->tat - b->tau : 0;
}

static inline void bucket_charge(struct bucket *b, uint32_t len, uint64_t now)
{
	if (!b->nspb)
		return;
	if (b->tat < now) {
		b->tat = now;
		b->frac = 0;
	}
	unsigned __int128 cost = (unsigned __int128)len * b->nspb + b->frac;
	b->tat += (uint64_t)(cost >> FP_SHIFT);
	b->frac = (uint32_t)cost;
}

/* ---- the timing wheel ---- */

static void wheel_unlink(struct shaper *s, unsigned i)
{
	struct cls *c = &s->cls[i];
	if (!c->on_wheel)
		return;
	if (c->wprev != NIL)
		s->cls[c->wprev].wnext = c->wnext;
	else if ((s->wheel_head[c->wslot] = c->wnext) == NIL)
		bm_clear(&s->wheel_map, c->wslot);
	if (c->wnext != NIL)
		s->cls[c->wnext].wprev = c->wprev;
	c->on_wheel = false;
}

/* Arms class i for time t: the slot that starts at or after t (never
 * early), at most the horizon away (then it is re-armed when due). */
static void wheel_arm(struct shaper *s, unsigned i, uint64_t t)
{
	struct cls *c = &s->cls[i];
	uint64_t abs = (t + SHAPER_SLOT_NS - 1) >> SHAPER_SLOT_SHIFT;
	if (abs < s->wheel_cur)
		abs = s->wheel_cur;
	if (abs - s->wheel_cur >= SHAPER_WHEEL_SLOTS)
		abs = s->wheel_cur + SHAPER_WHEEL_SLOTS - 1;
	uint16_t slot = (uint16_t)(abs % SHAPER_WHEEL_SLOTS);
	if (c->on_wheel && c->wslot == slot && c->wake_at == t)
		return;
	wheel_unlink(s, i);
	c->wake_at = t;
	c->wslot = slot;
	c->wprev = NIL;
	c->wnext = s->wheel_head[slot];
	if (c->wnext != NIL)
		s->cls[c->wnext].wprev = (uint16_t)i;
	else
		bm_set(&s->wheel_map, slot);
	s->wheel_head[slot] = (uint16_t)i;
	c->on_wheel = true;
}

/* ---- a class's state ---- */

static uint8_t level_of(const struct cls *c, enum shaper_mode m)
{
	if (m == SHAPER_GREEN)
		return c->prio;
	if (m == SHAPER_YELLOW)
		return (uint8_t)(SHAPER_PRIOS + 2 * c->prio + !c->urgent);
	return NO_LEVEL;
}

static void level_move(struct shaper *s, unsigned i, uint8_t to)
{
	struct cls *c = &s->cls[i];
	if (c->level == to)
		return;
	if (c->level != NO_LEVEL) {
		struct level *l = &s->levels[c->level];
		bm_clear(&l->map, i);
		if (!l->map.summary)
			s->level_mask &= ~(1u << c->level);
	}
	if (to != NO_LEVEL) {
		bm_set(&s->levels[to].map, i);
		s->level_mask |= 1u << to;
	}
	c->level = to;
}

/* Where class i stands at `now`: its level bit and its wheel entry. */
static void reclassify(struct shaper *s, unsigned i, uint64_t now)
{
	struct cls *c = &s->cls[i];
	enum shaper_mode m;
	uint64_t wake = 0;
	if (!c->active) {
		m = SHAPER_IDLE;
	} else if (c->hold_until > now) {
		m = SHAPER_HELD;
		wake = c->hold_until;
	} else if (!bucket_ok(&c->c, now)) {
		m = SHAPER_RED;
		wake = bucket_eligible(&c->c);
		if (c->mode != SHAPER_RED)
			c->throttled++;
	} else if (c->has_g && bucket_ok(&c->g, now)) {
		m = SHAPER_GREEN;
	} else {
		m = SHAPER_YELLOW;
		if (c->has_g) /* back to green when the guarantee allows */
			wake = bucket_eligible(&c->g);
	}
	c->mode = (uint8_t)m;
	level_move(s, i, level_of(c, m));
	if (wake)
		wheel_arm(s, i, wake);
	else
		wheel_unlink(s, i);
}

/* Fires every slot up to now. A slot holds classes due in it and classes
 * parked at the horizon; reclassify() re-arms those still waiting. */
static void wheel_advance(struct shaper *s, uint64_t now)
{
	uint64_t now_slot = now >> SHAPER_SLOT_SHIFT;
	while (s->wheel_cur <= now_slot) {
		unsigned from = (unsigned)(s->wheel_cur % SHAPER_WHEEL_SLOTS);
		int slot = bm_next(&s->wheel_map, from);
		if (slot < 0)
			break;
		uint64_t abs = s->wheel_cur + (((unsigned)slot - from) % SHAPER_WHEEL_SLOTS);
		if (abs > now_slot)
			break;
		/* detach the slot's list: re-arming may put a class back in it */
		uint16_t i = s->wheel_head[slot];
		s->wheel_head[slot] = NIL;
		bm_clear(&s->wheel_map, (unsigned)slot);
		s->wheel_cur = abs + 1;
		while (i != NIL) {
			struct cls *c = &s->cls[i];
			uint16_t next = c->wnext;
			c->on_wheel = false;
			reclassify(s, i, now);
			i = next;
		}
	}
	if (s->wheel_cur <= now_slot)
		s->wheel_cur = now_slot + 1;
}

/* The earliest time the wheel may change something; UINT64_MAX if empty. */
static uint64_t wheel_next(const struct shaper *s)
{
	unsigned from = (unsigned)(s->wheel_cur % SHAPER_WHEEL_SLOTS);
	int slot = bm_next(&s->wheel_map, from);
	if (slot < 0)
		return UINT64_MAX;
	uint64_t abs = s->wheel_cur + (((unsigned)slot - from) % SHAPER_WHEEL_SLOTS);
	return abs << SHAPER_SLOT_SHIFT;
}

/* RPO: urgent from 3/4 of the target, no longer below 1/2 (hysteresis:
 * a lag hovering at the threshold does not flip the class every frame). */
static bool urgent_now(const struct cls *c)
{
	if (!c->rpo_target)
		return false;
	if (c->lag >= c->rpo_target / 4 * 3)
		return true;
	if (c->lag < c->rpo_target / 2)
		return false;
	return c->urgent;
}

/* ---- configuration ---- */

static int fail(char *why, unsigned len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(char *why, unsigned len, const char *fmt, ...)
{
	if (why && len) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(why, len, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static bool rate_ok(uint64_t bps)
{
	return !bps || (bps >= SHAPER_MIN_RATE && bps <= SHAPER_MAX_RATE);
}

int shaper_check(const struct shaper_cfg *cfg, char *why, unsigned why_len)
{
	if (!cfg->n_classes || cfg->n_classes > SHAPER_MAX_CLASSES || !cfg->classes)
		return fail(why, why_len, "%u classes: 1..%u", cfg->n_classes, SHAPER_MAX_CLASSES);
	if (cfg->mtu < 64 || cfg->mtu > SHAPER_MAX_FRAME)
		return fail(why, why_len, "frame size %u: 64..%u", cfg->mtu, SHAPER_MAX_FRAME);
	if (cfg->burst_ns > SHAPER_MAX_BURST_NS)
		return fail(why, why_len, "burst %llu ns: at most %llu",
			    (unsigned long long)cfg->burst_ns, SHAPER_MAX_BURST_NS);
	if (!rate_ok(cfg->link_bps))
		return fail(why, why_len, "link rate %llu bit/s: %u..%llu",
			    (unsigned long long)cfg->link_bps, SHAPER_MIN_RATE, SHAPER_MAX_RATE);
	unsigned __int128 sum = 0;
	for (unsigned i = 0; i < cfg->n_classes; i++) {
		const struct shaper_class_cfg *c = &cfg->classes[i];
		if (!rate_ok(c->guaranteed_bps) || !rate_ok(c->ceiling_bps))
			return fail(why, why_len, "class %u: a rate outside %u..%llu bit/s", i,
				    SHAPER_MIN_RATE, SHAPER_MAX_RATE);
		if (c->priority >= SHAPER_PRIOS)
			return fail(why, why_len, "class %u: priority %u above %u", i, c->priority, SHAPER_PRIOS - 1);
		if (!c->weight || c->weight > SHAPER_MAX_WEIGHT)
			return fail(why, why_len, "class %u: weight %u not 1..%u", i, c->weight, SHAPER_MAX_WEIGHT);
		if (c->ceiling_bps && c->guaranteed_bps > c->ceiling_bps)
			return fail(why, why_len, "class %u: guarantee above its ceiling", i);
		sum += c->guaranteed_bps;
	}
	if (cfg->link_bps && sum > cfg->link_bps)
		return fail(why, why_len, "the guarantees (%llu bit/s) exceed the link rate (%llu bit/s)",
			    (unsigned long long)sum, (unsigned long long)cfg->link_bps);
	return 0;
}

/* Rates, priority, weight, target of every class; state untouched. */
static void apply(struct shaper *s, const struct shaper_cfg *cfg, uint64_t now)
{
	uint16_t wmin[SHAPER_PRIOS];
	for (unsigned p = 0; p < SHAPER_PRIOS; p++)
		wmin[p] = SHAPER_MAX_WEIGHT;
	for (unsigned i = 0; i < s->n; i++) {
		const struct shaper_class_cfg *k = &cfg->classes[i];
		if (k->weight < wmin[k->priority])
			wmin[k->priority] = k->weight;
	}
	uint64_t burst = cfg->burst_ns ? cfg->burst_ns : SHAPER_BURST_NS;
	s->mtu = cfg->mtu;
	bucket_set(&s->link, cfg->link_bps, cfg->mtu, burst);
	for (unsigned i = 0; i < s->n; i++) {
		const struct shaper_class_cfg *k = &cfg->classes[i];
		struct cls *c = &s->cls[i];
		uint64_t ceil = k->ceiling_bps;
		if (!ceil || (cfg->link_bps && ceil > cfg->link_bps))
			ceil = cfg->link_bps;
		bucket_set(&c->c, ceil, cfg->mtu, burst);
		bucket_set(&c->g, k->guaranteed_bps, cfg->mtu, burst);
		c->has_g = k->guaranteed_bps != 0;
		/* a quantum of at least one frame: every visit sends (O(1)) */
		c->quantum = (uint32_t)((uint64_t)cfg->mtu * k->weight / wmin[k->priority]);
		for (unsigned d = 0; d < 2; d++)
			if (c->deficit[d] > c->quantum)
				c->deficit[d] = c->quantum;
		c->prio = k->priority;
		c->weight = k->weight;
		c->rpo_target = k->rpo_target_ns;
		c->urgent = urgent_now(c);
		/* a level computed from the old priority is left for the new one */
		uint8_t lv = c->level;
		c->level = NO_LEVEL;
		if (lv != NO_LEVEL) {
			struct level *l = &s->levels[lv];
			bm_clear(&l->map, i);
			if (!l->map.summary)
				s->level_mask &= ~(1u << lv);
		}
		reclassify(s, i, now);
	}
}

struct shaper *shaper_create(const struct shaper_cfg *cfg, uint64_t now)
{
	if (shaper_check(cfg, NULL, 0)) {
		errno = EINVAL;
		return NULL;
	}
	size_t size = sizeof(struct shaper) + cfg->n_classes * sizeof(struct cls);
	struct shaper *s = aligned_alloc(64, (size + 63) / 64 * 64);
	if (!s) {
		errno = ENOMEM;
		return NULL;
	}
	memset(s, 0, size);
	s->n = cfg->n_classes;
	s->now = now;
	s->picked = SHAPER_NO_CLASS;
	s->wheel_cur = now >> SHAPER_SLOT_SHIFT;
	for (unsigned i = 0; i < SHAPER_WHEEL_SLOTS; i++)
		s->wheel_head[i] = NIL;
	for (unsigned i = 0; i < s->n; i++) {
		s->cls[i].level = NO_LEVEL;
		s->cls[i].wnext = s->cls[i].wprev = NIL;
	}
	apply(s, cfg, now);
	return s;
}

void shaper_destroy(struct shaper *s)
{
	free(s);
}

int shaper_reconfigure(struct shaper *s, const struct shaper_cfg *cfg, uint64_t now)
{
	if (cfg->n_classes != s->n || shaper_check(cfg, NULL, 0))
		return -EINVAL;
	if (now > s->now)
		s->now = now;
	s->picked = SHAPER_NO_CLASS;
	apply(s, cfg, s->now);
	return 0;
}

void shaper_class_reset(struct shaper *s, unsigned cls)
{
	struct cls *c = &s->cls[cls];
	c->active = false;
	c->hold_until = 0;
	reclassify(s, cls, s->now); /* off its level and the wheel */
	c->g.tat = c->c.tat = 0;
	c->g.frac = c->c.frac = 0;
	c->deficit[0] = c->deficit[1] = 0;
	c->lag = 0;
	c->urgent = false;
	c->mode = SHAPER_IDLE;
	c->bytes = c->frames = c->green_bytes = c->borrowed_bytes = 0;
	c->throttled = c->urgent_bytes = 0;
	if (s->picked == (int)cls)
		s->picked = SHAPER_NO_CLASS;
}

/* ---- demand and decisions ---- */

void shaper_wake(struct shaper *s, unsigned cls, uint64_t now)
{
	struct cls *c = &s->cls[cls];
	if (c->active)
		return;
	if (now > s->now)
		s->now = now;
	c->active = true;
	c->hold_until = 0;
	c->deficit[0] = c->deficit[1] = c->quantum;
	reclassify(s, cls, s->now);
}

void shaper_sleep(struct shaper *s, unsigned cls)
{
	struct cls *c = &s->cls[cls];
	c->active = false;
	c->hold_until = 0;
	reclassify(s, cls, s->now);
}

void shaper_defer(struct shaper *s, unsigned cls, uint64_t until)
{
	struct cls *c = &s->cls[cls];
	if (!c->active)
		return;
	c->hold_until = until;
	reclassify(s, cls, s->now);
}

int shaper_pick(struct shaper *s, uint64_t now, uint64_t *next_ns)
{
	if (now > s->now)
		s->now = now;
	now = s->now;
	wheel_advance(s, now);
	if (!bucket_ok(&s->link, now)) {
		*next_ns = bucket_eligible(&s->link);
		s->picked = SHAPER_NO_CLASS;
		return SHAPER_NO_CLASS;
	}
	if (!s->level_mask) {
		*next_ns = wheel_next(s);
		s->picked = SHAPER_NO_CLASS;
		return SHAPER_NO_CLASS;
	}
	unsigned lv = (unsigned)__builtin_ctz(s->level_mask);
	struct level *l = &s->levels[lv];
	int i = bm_next(&l->map, l->cursor);
	l->cursor = (uint32_t)i;
	s->picked = i;
	s->picked_level = (uint8_t)lv;
	return i;
}

void shaper_sent(struct shaper *s, unsigned cls, uint32_t len, uint64_t now)
{
	struct cls *c = &s->cls[cls];
	if (now > s->now)
		s->now = now;
	now = s->now;
	/* green: within the guarantee (the class's mode, or for a frame sent
	 * without a pick, its guarantee's bucket now) */
	bool green = c->has_g && bucket_ok(&c->g, now) && bucket_ok(&c->c, now);
	bucket_charge(&s->link, len, now);
	bucket_charge(&c->c, len, now);
	if (green)
		bucket_charge(&c->g, len, now);
	c->bytes += len;
	c->frames++;
	if (green) {
		c->green_bytes += len;
	} else {
		c->borrowed_bytes += len;
		if (c->urgent)
			c->urgent_bytes += len;
	}
	if ((int)cls == s->picked && c->level == s->picked_level) {
		int64_t *d = &c->deficit[s->picked_level >= SHAPER_PRIOS];
		*d -= len;
		if (*d <= 0) {
			*d += c->quantum;
			s->levels[s->picked_level].cursor = (cls + 1) % SHAPER_MAX_CLASSES;
		}
	}
	s->picked = SHAPER_NO_CLASS;
	if (c->active)
		reclassify(s, cls, now);
}

void shaper_set_lag(struct shaper *s, unsigned cls, uint64_t lag_ns, uint64_t now)
{
	struct cls *c = &s->cls[cls];
	if (now > s->now)
		s->now = now;
	c->lag = lag_ns;
	bool urgent = urgent_now(c);
	if (urgent == c->urgent)
		return;
	c->urgent = urgent;
	if (c->mode == SHAPER_YELLOW)
		level_move(s, cls, level_of(c, SHAPER_YELLOW));
}

void shaper_class_stats(const struct shaper *s, unsigned cls, struct shaper_class_stats *out)
{
	const struct cls *c = &s->cls[cls];
	*out = (struct shaper_class_stats){
		.bytes = c->bytes, .frames = c->frames,
		.green_bytes = c->green_bytes, .borrowed_bytes = c->borrowed_bytes,
		.throttled = c->throttled, .urgent_bytes = c->urgent_bytes,
		.lag_ns = c->lag, .rpo_target_ns = c->rpo_target,
		.mode = (enum shaper_mode)c->mode, .urgent = c->urgent,
	};
}

bool shaper_link_ok(const struct shaper *s, uint64_t now)
{
	return bucket_ok(&s->link, now);
}

enum shaper_mode shaper_class_mode(const struct shaper *s, unsigned cls)
{
	return (enum shaper_mode)s->cls[cls].mode;
}

unsigned shaper_n_classes(const struct shaper *s)
{
	return s->n;
}

const char *shaper_mode_name(enum shaper_mode m)
{
	static const char *const names[] = { "idle", "green", "yellow", "red", "held" };
	return (unsigned)m < sizeof(names) / sizeof(names[0]) ? names[m] : "?";
}
