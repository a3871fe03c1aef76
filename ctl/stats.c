/* SPDX-License-Identifier: BSD-3-Clause */
/* The per-tenant statistics table: one seqlock'd slot per (worker, tenant),
 * one writer each, lock-free readers (include/strait/stats.h). */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "strait/stats.h"

enum {
	READ_TRIES = 1000, /* a publication copies a few hundred bytes */
};

struct stats_slot {
	uint32_t seq; /* odd while the worker writes */
	struct strait_tenant_stats s;
} __attribute__((aligned(64)));

struct strait_stats_table {
	unsigned workers;
	struct stats_slot slot[]; /* [worker * STRAIT_MAX_TENANTS + tenant] */
};

struct strait_stats_table *strait_stats_table_new(unsigned workers)
{
	if (!workers || workers > STRAIT_MAX_WORKERS)
		return NULL;
	size_t n = (size_t)workers * STRAIT_MAX_TENANTS;
	struct strait_stats_table *t = aligned_alloc(64, sizeof(*t) + n * sizeof(t->slot[0]));
	if (!t)
		return NULL;
	memset(t, 0, sizeof(*t) + n * sizeof(t->slot[0]));
	t->workers = workers;
	return t;
}

void strait_stats_table_free(struct strait_stats_table *t)
{
	free(t);
}

unsigned strait_stats_workers(const struct strait_stats_table *t)
{
	return t->workers;
}

static struct stats_slot *slot_of(const struct strait_stats_table *t, unsigned worker,
				  unsigned tenant)
{
	if (worker >= t->workers || tenant >= STRAIT_MAX_TENANTS)
		return NULL;
	return (struct stats_slot *)&t->slot[(size_t)worker * STRAIT_MAX_TENANTS + tenant];
}

/* Seqlock writer (Boehm, "Can seqlocks get along with programming language
 * memory models?"): odd, release fence, the data, even with release. */
void strait_stats_publish(struct strait_stats_table *t, unsigned worker, unsigned tenant,
			  const struct strait_tenant_stats *s)
{
	struct stats_slot *sl = slot_of(t, worker, tenant);
	if (!sl)
		return;
	uint32_t seq = __atomic_load_n(&sl->seq, __ATOMIC_RELAXED);
	__atomic_store_n(&sl->seq, seq + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	memcpy(&sl->s, s, sizeof(*s));
	__atomic_store_n(&sl->seq, seq + 2, __ATOMIC_RELEASE);
}

bool strait_stats_read_slot(const struct strait_stats_table *t, unsigned worker,
			    unsigned tenant, struct strait_tenant_stats *out)
{
	const struct stats_slot *sl = slot_of(t, worker, tenant);
	if (sl) {
		for (int tries = 0; tries < READ_TRIES; tries++) {
			uint32_t s0 = __atomic_load_n(&sl->seq, __ATOMIC_ACQUIRE);
			if (!(s0 & 1)) {
				memcpy(out, &sl->s, sizeof(*out));
				__atomic_thread_fence(__ATOMIC_ACQUIRE);
				if (__atomic_load_n(&sl->seq, __ATOMIC_RELAXED) == s0)
					return true;
			}
			sched_yield(); /* the control thread: let the worker finish */
		}
	}
	memset(out, 0, sizeof(*out));
	return false;
}

void strait_stats_read(const struct strait_stats_table *t, unsigned tenant,
		       uint64_t generation, struct strait_tenant_stats *out)
{
	memset(out, 0, sizeof(*out));
	for (unsigned w = 0; w < t->workers; w++) {
		struct strait_tenant_stats s;
		if (!strait_stats_read_slot(t, w, tenant, &s) || !s.generation ||
		    (generation && s.generation != generation))
			continue;
		out->generation = s.generation;
		if (s.published_ns > out->published_ns)
			out->published_ns = s.published_ns;
		out->lan_in_bytes += s.lan_in_bytes;
		out->lan_out_bytes += s.lan_out_bytes;
		out->wan_in_bytes += s.wan_in_bytes;
		out->wan_out_bytes += s.wan_out_bytes;
		out->cache_hits += s.cache_hits;
		out->cache_misses += s.cache_misses;
		if (s.channel_state > out->channel_state) {
			out->channel_state = s.channel_state;
			out->channel_rtt_ns = s.channel_rtt_ns;
		}
		out->channel_segments += s.channel_segments;
		out->channel_retransmits += s.channel_retransmits;
		out->queue_bytes += s.queue_bytes;
		if (s.replication_lag_ns > out->replication_lag_ns)
			out->replication_lag_ns = s.replication_lag_ns;
		out->rpo_urgent |= s.rpo_urgent;
		for (unsigned i = 0; i < STRAIT_FLOW_STATE_COUNT; i++)
			out->flows[i] += s.flows[i];
		out->flows_total += s.flows_total;
		for (unsigned i = 0; i < STRAIT_UNOPT_COUNT; i++)
			out->unoptimized[i] += s.unoptimized[i];
	}
}

const char *strait_channel_state_name(unsigned state)
{
	static const char *const names[] = { "none", "down", "connecting", "up" };
	return state < STRAIT_CHANNEL_STATE_COUNT ? names[state] : "unknown";
}

const char *strait_flow_state_name(unsigned state)
{
	static const char *const names[] = { "opening", "optimized", "closing", "bridged" };
	return state < STRAIT_FLOW_STATE_COUNT ? names[state] : "unknown";
}

const char *strait_unoptimized_name(unsigned reason)
{
	static const char *const names[] = { "mid_stream", "peer_down", "epoch_reset", "bypass",
					     "refused" };
	return reason < STRAIT_UNOPT_COUNT ? names[reason] : "unknown";
}
