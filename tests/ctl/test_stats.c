/* SPDX-License-Identifier: BSD-3-Clause */
/* The per-tenant statistics table: a reader never sees a torn publication
 * while workers publish as fast as they can, and the sum over workers. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "strait/stats.h"

/* Every counter of a publication holds the same value v: a torn copy
 * would mix two values. */
static void fill(struct strait_tenant_stats *s, uint64_t v)
{
	uint64_t *p = (uint64_t *)s;
	for (size_t i = 0; i < sizeof(*s) / sizeof(uint64_t); i++)
		p[i] = v;
}

static bool uniform(const struct strait_tenant_stats *s)
{
	const uint64_t *p = (const uint64_t *)s;
	for (size_t i = 1; i < sizeof(*s) / sizeof(uint64_t); i++)
		if (p[i] != p[0])
			return false;
	return true;
}

struct writer {
	struct strait_stats_table *t;
	unsigned worker;
	volatile bool stop;
	uint64_t published;
};

static void *writer(void *arg)
{
	struct writer *w = arg;
	struct strait_tenant_stats s;
	for (uint64_t v = 1; !w->stop; v++) {
		fill(&s, v);
		strait_stats_publish(w->t, w->worker, 5, &s);
		w->published = v;
	}
	return NULL;
}

static uint64_t ms_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

Test(stats, no_torn_reads)
{
	_Static_assert(sizeof(struct strait_tenant_stats) % sizeof(uint64_t) == 0, "fill() assumes words");
	struct strait_stats_table *t = strait_stats_table_new(2);
	cr_assert(t);
	struct writer w[2] = { { .t = t, .worker = 0 }, { .t = t, .worker = 1 } };
	pthread_t th[2];
	for (int i = 0; i < 2; i++)
		cr_assert_eq(pthread_create(&th[i], NULL, writer, &w[i]), 0);
	uint64_t reads = 0, last = 0, end = ms_now() + 300;
	bool monotonic = true;
	while (ms_now() < end) {
		struct strait_tenant_stats s;
		if (!strait_stats_read_slot(t, 0, 5, &s))
			continue; /* the writer kept it busy: allowed, never torn */
		cr_assert(uniform(&s), "torn read after %lu reads", (unsigned long)reads);
		monotonic &= s.generation >= last;
		last = s.generation;
		reads++;
	}
	for (int i = 0; i < 2; i++) {
		w[i].stop = true;
		pthread_join(th[i], NULL);
	}
	cr_expect(monotonic);
	cr_expect_gt(reads, 100);
	cr_expect_gt(w[0].published, 100);
	strait_stats_table_free(t);
}

Test(stats, sum_over_workers)
{
	struct strait_stats_table *t = strait_stats_table_new(3);
	cr_assert(t);
	struct strait_tenant_stats a = { .generation = 7, .lan_in_bytes = 100, .cache_hits = 3,
					 .channel_state = STRAIT_CHANNEL_DOWN, .queue_bytes = 10,
					 .replication_lag_ns = 5, .flows = { 1, 2, 3, 4 } };
	struct strait_tenant_stats b = { .generation = 7, .lan_in_bytes = 50, .cache_hits = 1,
					 .channel_state = STRAIT_CHANNEL_UP, .channel_rtt_ns = 20000000,
					 .queue_bytes = 5, .replication_lag_ns = 9, .rpo_urgent = true,
					 .unoptimized = { 0, 2 } };
	/* a stale publication of the slot's previous tenant */
	struct strait_tenant_stats old = { .generation = 6, .lan_in_bytes = 1000000 };
	strait_stats_publish(t, 0, 9, &a);
	strait_stats_publish(t, 1, 9, &b);
	strait_stats_publish(t, 2, 9, &old);
	struct strait_tenant_stats s;
	strait_stats_read(t, 9, 7, &s);
	cr_expect_eq(s.generation, 7);
	cr_expect_eq(s.lan_in_bytes, 150);
	cr_expect_eq(s.cache_hits, 4);
	cr_expect_eq(s.channel_state, STRAIT_CHANNEL_UP);
	cr_expect_eq(s.channel_rtt_ns, 20000000);
	cr_expect_eq(s.queue_bytes, 15);
	cr_expect_eq(s.replication_lag_ns, 9);
	cr_expect(s.rpo_urgent); /* any worker's */
	cr_expect_eq(s.flows[STRAIT_FLOW_BRIDGED], 4);
	cr_expect_eq(s.unoptimized[STRAIT_UNOPT_PEER_DOWN], 2);
	strait_stats_read(t, 9, 0, &s); /* any generation */
	cr_expect_eq(s.lan_in_bytes, 1000150);
	strait_stats_read(t, 10, 7, &s); /* never published */
	cr_expect_eq(s.generation, 0);
	cr_expect_eq(s.lan_in_bytes, 0);
	/* out of range: nothing, no crash */
	cr_expect_not(strait_stats_read_slot(t, 3, 9, &s));
	cr_expect_not(strait_stats_read_slot(t, 0, STRAIT_MAX_TENANTS, &s));
	strait_stats_publish(t, 3, 9, &a);
	cr_expect_null(strait_stats_table_new(0));
	cr_expect_null(strait_stats_table_new(STRAIT_MAX_WORKERS + 1));
	strait_stats_table_free(t);
}

Test(stats, names)
{
	cr_expect_str_eq(strait_channel_state_name(STRAIT_CHANNEL_UP), "up");
	cr_expect_str_eq(strait_flow_state_name(STRAIT_FLOW_OPTIMIZED), "optimized");
	cr_expect_str_eq(strait_unoptimized_name(STRAIT_UNOPT_REFUSED), "refused");
	cr_expect_str_eq(strait_unoptimized_name(99), "unknown");
}
