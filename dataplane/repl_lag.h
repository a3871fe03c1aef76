/* SPDX-License-Identifier: BSD-3-Clause */
/* A tenant's estimated replication lag: how far the far site is behind
 * what the tenant's sources have handed to Strait, in time. What the WAN
 * shaper compares with RpoTarget (shaper_set_lag()), and what telemetry,
 * REST (`replication_lag_s`) and /metrics show.
 *
 * The larger of two figures, each a lower bound of the true lag:
 *   - the queue: bytes accepted from the LAN and not yet confirmed decoded
 *     by the peer (raw_held), over the rate the peer confirms them (about
 *     a second's average): the time the newest accepted byte needs to be
 *     across at the current rate (UINT64_MAX: bytes held, nothing drains);
 *   - the backlog's age: how long the tenant's sources have been held
 *     back without a break (in every 100 ms sample, a flow whose local end
 *     offered more than its raw ring took: chan_mux_stats.held_flows).
 *     Then their TCP windows close and what they still have to send
 *     waits in them, where no appliance sees it: the queue alone would
 *     stay at its bound (4 MiB a flow over the rate: seconds) however
 *     long the backlog lasts, so a target of minutes would never be
 *     neared.
 * A source that sends below what the tenant gets is never held: its lag
 * is the queue's, a fraction of a second.
 *
 * Plain C, no state beyond this struct, O(1) per call, time passed in. */
#ifndef STRAIT_DATAPLANE_REPL_LAG_H
#define STRAIT_DATAPLANE_REPL_LAG_H

#include <stdbool.h>
#include <stdint.h>

struct repl_lag {
	uint64_t since_ns; /* the current backlog began (0: none) */
	uint64_t last_ns;  /* the previous sample (0: none yet) */
};

/* A sample (every RELAY_HOOK_SNAP_MS): queue_ns is the queue over its
 * drain rate, held whether a source is held back now. Returns the
 * estimate. A sample with none held ends the backlog. */
static inline uint64_t repl_lag_sample(struct repl_lag *l, uint64_t now_ns, uint64_t queue_ns,
				       bool held)
{
	if (!held)
		l->since_ns = 0;
	else if (!l->since_ns) /* it began within the last interval */
		l->since_ns = l->last_ns && l->last_ns < now_ns ? l->last_ns : now_ns;
	l->last_ns = now_ns;
	uint64_t backlog = l->since_ns ? now_ns - l->since_ns : 0;
	return queue_ns > backlog ? queue_ns : backlog;
}

#endif
