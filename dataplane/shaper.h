/* SPDX-License-Identifier: BSD-3-Clause */
/* The WAN shaper: who may send next on the WAN link, and when.
 *
 * Plain C, no DPDK, no allocation after shaper_create(), time passed in by
 * the caller (ns, any monotonic origin). It holds no packets: it is asked
 * which class (a tenant's channel, or the bridged traffic) sends next, the
 * caller sends one frame of that class and reports its length. A class over
 * its rate is simply not picked, so its sender stops (back-pressure to the
 * channel's send buffer, then to the LAN-side TCP windows) and nothing is
 * dropped here (Carousel's "back-pressure instead of drops").
 *
 * Semantics (Linux HTB's, under Silver Peak's names), on a two-level tree:
 * the link, and one class per tenant plus the default class for bridged
 * traffic.
 *   - The link never sends faster than its rate (plus a burst).
 *   - A class never sends faster than its Ceiling (0 = the link rate).
 *   - While a class is within its Guaranteed rate it is "green" and is
 *     served before any class that borrows: greens by Priority (0 first),
 *     then by deficit round robin on Weight within a priority.
 *   - Past its guarantee, below its ceiling, a class is "yellow": it
 *     borrows what the link has spare, by Priority first, then within a
 *     priority the classes whose replication lag nears their RpoTarget
 *     ("urgent"), then the others, each set by DRR on Weight. As in HTB, a
 *     borrowed byte is charged to the ceiling and the link, not to the
 *     class's own guarantee.
 *   - Past its ceiling a class is "red" and waits on the timing wheel for
 *     the time its ceiling allows the next byte.
 * Bursts are sized in time: each bucket tolerates SHAPER_BURST_NS at its
 * own rate (about 2 ms at the ceiling), and at least one full frame.
 *
 * Rates are kept as virtual finish times (GCRA: a bucket at rate r holds
 * tat; a frame of len bytes conforms when tat <= now + burst and advances
 * tat = max(tat, now) + len * 8 / r), in 32.32 fixed-point ns per byte, so
 * one decision costs a few multiplications.
 *
 * O(1) per decision, whatever the number of classes:
 *   - a 32-bit mask of non-empty levels (green by priority, then yellow by
 *     priority, urgent before the rest) gives the level by find-first-set;
 *   - each level is a two-level bitmap of its classes (64 words of 64 bits
 *     under one summary word) walked round robin from a cursor, with a
 *     deficit per class and a quantum of at least one frame per visit;
 *   - a timing wheel (SHAPER_WHEEL_SLOTS slots of SHAPER_SLOT_NS, an
 *     occupancy bitmap of the same shape) holds the classes waiting for
 *     their ceiling, their guarantee (to turn green again) or their own
 *     pacing (shaper_defer()); a wait past the horizon is parked in the
 *     last slot and re-armed when that slot comes round.
 *
 * Not thread-safe: one scheduling point owns a shaper (dataplane/README.md
 * "Shaping" says which lcore and why).
 */
#ifndef STRAIT_DATAPLANE_SHAPER_H
#define STRAIT_DATAPLANE_SHAPER_H

#include <stdbool.h>
#include <stdint.h>

enum shaper_limits {
	SHAPER_MAX_CLASSES = 4096,       /* 64 words x 64 bits under one summary */
	SHAPER_PRIOS = 9,                /* 0..7 tenants, 8 below them all (bridged) */
	SHAPER_MAX_WEIGHT = 1000,
	SHAPER_MIN_RATE = 1000,          /* bit/s: below, 32.32 ns per byte overflows */
	SHAPER_MAX_FRAME = 65535,        /* bytes charged for one frame */
	SHAPER_WHEEL_SLOTS = 4096,
	SHAPER_SLOT_SHIFT = 14,          /* 16.4 us per slot, horizon 67 ms */
};
#define SHAPER_MAX_RATE 1000000000000000ull /* 1 Pbit/s, ctl's parser bound */
#define SHAPER_SLOT_NS (1ull << SHAPER_SLOT_SHIFT)
#define SHAPER_BURST_NS 2000000ull    /* default burst: 2 ms at each bucket's rate */
#define SHAPER_MAX_BURST_NS 100000000ull /* [WAN] Burst's bound: 100 ms */
#define SHAPER_NO_CLASS (-1)

struct shaper_class_cfg {
	uint64_t guaranteed_bps; /* 0: none (always borrows) */
	uint64_t ceiling_bps;    /* 0 or above the link: the link rate */
	uint8_t priority;        /* 0 (highest) .. SHAPER_PRIOS - 1 */
	uint16_t weight;         /* 1 .. SHAPER_MAX_WEIGHT */
	uint64_t rpo_target_ns;  /* 0: none (never urgent) */
};

struct shaper_cfg {
	uint64_t link_bps;       /* 0: the link is not shaped as a whole */
	uint32_t mtu;            /* largest frame charged (DRR quantum unit) */
	uint64_t burst_ns;       /* each bucket's burst, in time; 0: SHAPER_BURST_NS */
	unsigned n_classes;      /* 1 .. SHAPER_MAX_CLASSES */
	const struct shaper_class_cfg *classes; /* n_classes of them */
};

enum shaper_mode {
	SHAPER_IDLE = 0,   /* nothing to send */
	SHAPER_GREEN,      /* within its guarantee */
	SHAPER_YELLOW,     /* borrowing, below its ceiling */
	SHAPER_RED,        /* at its ceiling: on the wheel */
	SHAPER_HELD,       /* held by its own pacing (shaper_defer) */
};

struct shaper_class_stats {
	uint64_t bytes, frames;     /* charged */
	uint64_t green_bytes;       /* sent within the guarantee */
	uint64_t borrowed_bytes;    /* sent as yellow */
	uint64_t throttled;         /* times it went red */
	uint64_t urgent_bytes;      /* borrowed while urgent */
	uint64_t lag_ns;            /* last shaper_set_lag() */
	uint64_t rpo_target_ns;
	enum shaper_mode mode;
	bool urgent;
};

struct shaper;

/* Checks cfg (rates, priorities, weights, the guarantees' sum against the
 * link): returns 0 or -EINVAL and, when why is not NULL, a reason. */
int shaper_check(const struct shaper_cfg *cfg, char *why, unsigned why_len);
/* Setup: every class idle. NULL with errno EINVAL (shaper_check) or
 * ENOMEM. */
struct shaper *shaper_create(const struct shaper_cfg *cfg, uint64_t now);
void shaper_destroy(struct shaper *s);

/* A new configuration in place (a rate change, a weight, a priority, a
 * target, the link rate): every class keeps its state (its buckets' debts,
 * its deficit, its demand, its counters); the same number of classes.
 * Returns 0, or -EINVAL with nothing changed. */
int shaper_reconfigure(struct shaper *s, const struct shaper_cfg *cfg, uint64_t now);

/* The class starts afresh, idle (a new tenant in its slot): no debt in its
 * buckets, no deficit, no lag, counters at zero; its configuration kept. */
void shaper_class_reset(struct shaper *s, unsigned cls);

/* Demand: a class has something to send (cheap when it already has), or
 * has nothing (its sender found nothing when picked). */
void shaper_wake(struct shaper *s, unsigned cls, uint64_t now);
void shaper_sleep(struct shaper *s, unsigned cls);
/* The class has something but its own pacing holds it until `until`. */
void shaper_defer(struct shaper *s, unsigned cls, uint64_t until);

/* The decision: the class that sends next, or SHAPER_NO_CLASS with
 * *next_ns set to the earliest time a class may become sendable
 * (UINT64_MAX: no class has demand). The caller sends one frame of that
 * class and calls shaper_sent(), or shaper_sleep()/shaper_defer() when the
 * class has nothing it may send. */
int shaper_pick(struct shaper *s, uint64_t now, uint64_t *next_ns);
/* Charges len bytes (one frame) to cls: the link, its ceiling and, when it
 * is green, its guarantee. Also for frames sent without a pick (a pure ACK
 * of the channel, a frame of the appliance's own): the charge is taken all
 * the same, and a class that was not picked keeps its place. */
void shaper_sent(struct shaper *s, unsigned cls, uint32_t len, uint64_t now);

/* RPO: the class's estimated replication lag. At 3/4 of its RpoTarget it
 * becomes urgent (borrows before the others of its priority), below 1/2
 * it is no longer. */
void shaper_set_lag(struct shaper *s, unsigned cls, uint64_t lag_ns, uint64_t now);

void shaper_class_stats(const struct shaper *s, unsigned cls, struct shaper_class_stats *out);
unsigned shaper_n_classes(const struct shaper *s);
/* Whether the link (its own bucket) may take a frame now. */
bool shaper_link_ok(const struct shaper *s, uint64_t now);
/* The class's mode now (what its last reclassification said). */
enum shaper_mode shaper_class_mode(const struct shaper *s, unsigned cls);
const char *shaper_mode_name(enum shaper_mode m);

#endif
