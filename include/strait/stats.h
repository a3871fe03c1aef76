/* SPDX-License-Identifier: BSD-3-Clause */
/* Per-tenant statistics: what the dataplane publishes and the control API
 * reads (REST, /metrics, straitctl).
 *
 * One slot per (worker, tenant slot), each written by one worker only and
 * read by the control thread without locks: the writer never waits (a
 * sequence counter, odd while it writes; the reader copies and retries if
 * the counter moved). A worker fills a struct strait_tenant_stats from its
 * own counters and publishes it every STRAIT_STATS_PERIOD_MS or so, between
 * bursts; nothing is published per packet. A tenant's slot index is its
 * index in struct strait_config (stable across reloads, ctl.h).
 *
 * Units are base units: bytes, nanoseconds. Counters only grow while the
 * slot keeps its tenant; `generation` changes when the slot is given to
 * another tenant (reload), so a reader can tell a reset from a wrap.
 * No DPDK here: the table is plain memory shared by threads of straitd.
 */
#ifndef STRAIT_STATS_H
#define STRAIT_STATS_H

#include <stdbool.h>
#include <stdint.h>

#include "strait/ctl.h"

enum {
	STRAIT_STATS_PERIOD_MS = 100, /* how often a worker publishes */
};

/* The tenant channel (TCP inside ESP to the peer appliance). */
enum strait_channel_state {
	STRAIT_CHANNEL_NONE = 0,   /* this dataplane builds no channel */
	STRAIT_CHANNEL_DOWN,       /* no SA, or the peer timed out */
	STRAIT_CHANNEL_CONNECTING, /* handshake or channel TCP opening */
	STRAIT_CHANNEL_UP,
	STRAIT_CHANNEL_STATE_COUNT
};

/* A tenant's flows now (gauges). */
enum strait_flow_state {
	STRAIT_FLOW_OPENING = 0, /* SYN held, waiting for the far server */
	STRAIT_FLOW_OPTIMIZED,   /* carried over the channel */
	STRAIT_FLOW_CLOSING,     /* FIN or CLOSE exchanged, bytes draining */
	STRAIT_FLOW_BRIDGED,     /* the tenant's, passed unoptimized */
	STRAIT_FLOW_STATE_COUNT
};

/* Why a flow of the tenant was not optimized (counters, one per flow). A
 * flow that matches no tenant's rule is no tenant's: the appliance counts
 * it (struct strait_status, flows_no_rule). */
enum strait_unoptimized {
	STRAIT_UNOPT_MID_STREAM = 0, /* its SYN was not seen (open before start
				      * or before the rule) */
	STRAIT_UNOPT_PEER_DOWN,      /* the peer or the channel was down */
	STRAIT_UNOPT_EPOCH_RESET,    /* reset when the cache epoch restarted */
	STRAIT_UNOPT_BYPASS,         /* bypassed (PeerDown = bypass, no room) */
	STRAIT_UNOPT_REFUSED,        /* refused by the peer appliance */
	STRAIT_UNOPT_COUNT
};

struct strait_tenant_stats {
	uint64_t generation;     /* of the slot's tenant; 0 = never published */
	uint64_t published_ns;   /* the worker's clock at publication */
	/* LAN: bytes of the tenant's intercepted streams, from the local ends
	 * (in) and delivered to them (out) */
	uint64_t lan_in_bytes, lan_out_bytes;
	/* WAN: the tenant's channel as it crossed the WAN (ESP, outer bytes) */
	uint64_t wan_in_bytes, wan_out_bytes;
	/* the codec: chunks found in the cache, or sent as new */
	uint64_t cache_hits, cache_misses;
	/* the channel */
	uint32_t channel_state;      /* enum strait_channel_state */
	uint64_t channel_rtt_ns;     /* smoothed; 0 = no sample */
	uint64_t channel_segments;   /* TCP segments sent on the channel */
	uint64_t channel_retransmits;
	uint64_t queue_bytes;        /* accepted, not yet acknowledged by the peer */
	uint64_t replication_lag_ns; /* the larger of the queue over the drain
				      * rate and the backlog's age (dataplane/
				      * repl_lag.h); UINT64_MAX:
				      * bytes queued and nothing drains */
	bool rpo_urgent;             /* the lag nears RpoTarget: the WAN shaper
				      * lends it spare capacity first */
	uint64_t flows[STRAIT_FLOW_STATE_COUNT];
	uint64_t flows_total;        /* flows of the tenant since the slot's start */
	uint64_t unoptimized[STRAIT_UNOPT_COUNT];
};

struct strait_stats_table;

/* Room for workers x STRAIT_MAX_TENANTS slots, all zero (generation 0).
 * NULL on ENOMEM. */
struct strait_stats_table *strait_stats_table_new(unsigned workers);
void strait_stats_table_free(struct strait_stats_table *t);
unsigned strait_stats_workers(const struct strait_stats_table *t);

/* Writer: worker `worker`, the only writer of its slots. Never waits. */
void strait_stats_publish(struct strait_stats_table *t, unsigned worker, unsigned tenant,
			  const struct strait_tenant_stats *s);

/* Reader (any thread): one worker's slot, a consistent copy. Returns false
 * (out zeroed) when the writer kept it busy for every retry. */
bool strait_stats_read_slot(const struct strait_stats_table *t, unsigned worker,
			    unsigned tenant, struct strait_tenant_stats *out);
/* The tenant over every worker: counters and additive gauges (flows,
 * queue) summed; the channel's state and RTT from the worker that holds
 * the channel (the highest state); the lag the largest. Slots whose
 * generation differs from `generation` (another tenant's, or a stale
 * publication) are left out; generation 0 takes any. */
void strait_stats_read(const struct strait_stats_table *t, unsigned tenant,
		       uint64_t generation, struct strait_tenant_stats *out);

/* "none", "down", "connecting", "up"; "flows" states "opening", ...;
 * reasons "mid_stream", "peer_down", "epoch_reset", "bypass", "refused". */
const char *strait_channel_state_name(unsigned state);
const char *strait_flow_state_name(unsigned state);
const char *strait_unoptimized_name(unsigned reason);

#endif
