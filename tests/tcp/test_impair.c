/* SPDX-License-Identifier: BSD-3-Clause */
/* straitd's TCP test knob (dataplane/tcp_impair.c) and its specification
 * parser (strait_parse_tcp_impair, ctl/config.c). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include <rte_mbuf.h>

#include "harness.h"
#include "strait/ctl.h"
#include "tcp_impair.h"

enum { POOL = 2047, N = 100000 };

static struct rte_mempool *mp;

static void setup(void)
{
	h_eal();
	static int pools;
	char name[32];
	snprintf(name, sizeof(name), "imp%d", pools++);
	/* no per-lcore cache: the available count is exact */
	mp = rte_pktmbuf_pool_create(name, POOL, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	cr_assert_not_null(mp);
}

static void teardown(void)
{
	cr_assert_eq(rte_mempool_avail_count(mp), POOL, "every mbuf back in the pool");
	rte_mempool_free(mp);
}

TestSuite(impair, .init = setup, .fini = teardown);

/* A segment tagged with its number in the first 4 bytes. */
static struct rte_mbuf *seg(uint32_t id)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(mp);
	cr_assert_not_null(m);
	uint8_t *p = rte_pktmbuf_mtod(m, uint8_t *);
	m->data_len = 60;
	m->pkt_len = 60;
	memset(p, 0xab, 60);
	memcpy(p, &id, 4);
	m->l2_len = 14;
	m->l3_len = 20;
	m->ol_flags = RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_TCP_CKSUM;
	return m;
}

static uint32_t id_of(const struct rte_mbuf *m)
{
	uint32_t id;
	memcpy(&id, rte_pktmbuf_mtod(m, const void *), 4);
	return id;
}

/* Runs n segments through one direction; records what came out (ids, in
 * order, into log if given) and frees it. Returns how many came out. */
static uint32_t run(struct tcp_impair *im, enum tcp_impair_dir dir, uint32_t n,
		    uint32_t *log, uint64_t now)
{
	uint32_t k = 0;
	for (uint32_t i = 0; i < n; i++) {
		struct rte_mbuf *out[TCP_IMPAIR_OUT_MAX];
		unsigned c = tcp_impair_pass(im, dir, seg(i), now, out);
		cr_assert_leq(c, TCP_IMPAIR_OUT_MAX);
		for (unsigned j = 0; j < c; j++) {
			if (log)
				log[k] = id_of(out[j]);
			k++;
			rte_pktmbuf_free(out[j]);
		}
	}
	return k;
}

static const struct tcp_impair_cfg lossy = {
	.drop_ppm = 10000, .dup_ppm = 10000, .reorder_ppm = 20000, .seed = 7, .rx = true, .tx = true,
};

Test(impair, off_passes_every_segment_untouched)
{
	struct tcp_impair im;
	struct tcp_impair_cfg off = { .seed = 7, .rx = true, .tx = true };
	cr_assert_not(tcp_impair_enabled(&off));
	tcp_impair_init(&im, &off, 0, mp);
	static uint32_t log[1000];
	cr_assert_eq(run(&im, TCP_IMPAIR_RX, 1000, log, 0), 1000);
	for (uint32_t i = 0; i < 1000; i++)
		cr_assert_eq(log[i], i);
	struct tcp_impair_cfg tx_only = lossy;
	tx_only.rx = false;
	tcp_impair_init(&im, &tx_only, 0, mp);
	cr_assert_eq(run(&im, TCP_IMPAIR_RX, 1000, log, 0), 1000, "a direction not asked for is not touched");
	cr_assert_eq(im.stats.dropped[TCP_IMPAIR_RX] + im.stats.dup[TCP_IMPAIR_RX], 0);
}

Test(impair, shares_match_the_configuration)
{
	struct tcp_impair im;
	tcp_impair_init(&im, &lossy, 0, mp);
	uint32_t out = run(&im, TCP_IMPAIR_TX, N, NULL, 0);
	tcp_impair_flush(&im);
	const struct tcp_impair_stats *s = &im.stats;
	/* 1 %, 1 %, 2 % of 100000: within 10 % of expectation (the draws are
	 * fixed by the seed, so this cannot flake) */
	cr_assert(s->dropped[TCP_IMPAIR_TX] > 900 && s->dropped[TCP_IMPAIR_TX] < 1100, "%lu", (unsigned long)s->dropped[1]);
	cr_assert(s->dup[TCP_IMPAIR_TX] > 900 && s->dup[TCP_IMPAIR_TX] < 1100);
	cr_assert(s->reordered[TCP_IMPAIR_TX] > 1800 && s->reordered[TCP_IMPAIR_TX] < 2200);
	cr_assert_eq(s->dropped[TCP_IMPAIR_RX] + s->dup[TCP_IMPAIR_RX] + s->reordered[TCP_IMPAIR_RX], 0);
	cr_assert_eq(s->held, 0);
	/* every segment accounted: out = in - dropped + duplicated - (held
	 * at the end, freed by flush: 0 or 1) */
	uint64_t expect = N - s->dropped[1] + s->dup[1];
	cr_assert(out == expect || out + 1 == expect, "out %u expect %lu", out, (unsigned long)expect);
}

Test(impair, same_seed_same_decisions_other_worker_others)
{
	static uint32_t a[N + N / 10], b[N + N / 10], c[N + N / 10];
	struct tcp_impair im;
	tcp_impair_init(&im, &lossy, 3, mp);
	uint32_t na = run(&im, TCP_IMPAIR_RX, N, a, 0);
	tcp_impair_flush(&im);
	tcp_impair_init(&im, &lossy, 3, mp);
	uint32_t nb = run(&im, TCP_IMPAIR_RX, N, b, 0);
	tcp_impair_flush(&im);
	cr_assert_eq(na, nb);
	cr_assert_eq(memcmp(a, b, na * sizeof(a[0])), 0, "deterministic for a seed and a packet order");
	tcp_impair_init(&im, &lossy, 4, mp);
	uint32_t nc = run(&im, TCP_IMPAIR_RX, N, c, 0);
	tcp_impair_flush(&im);
	cr_assert(nc != na || memcmp(a, c, na * sizeof(a[0])), "the worker id is mixed into the seed");
	struct tcp_impair_cfg other = lossy;
	other.seed = 8;
	tcp_impair_init(&im, &other, 3, mp);
	nc = run(&im, TCP_IMPAIR_RX, N, c, 0);
	tcp_impair_flush(&im);
	cr_assert(nc != na || memcmp(a, c, na * sizeof(a[0])), "another seed, other decisions");
}

Test(impair, reorder_swaps_with_the_next_segment_and_duplicates_are_copies)
{
	struct tcp_impair im;
	struct tcp_impair_cfg cfg = { .reorder_ppm = 1000000, .seed = 1, .rx = true, .tx = true };
	tcp_impair_init(&im, &cfg, 0, mp);
	struct rte_mbuf *out[TCP_IMPAIR_OUT_MAX];
	/* every draw says reorder: 0 held, then 1 passes with 0 behind it
	 * (a second hold is refused: one per direction), 2 held, ... */
	cr_assert_eq(tcp_impair_pass(&im, TCP_IMPAIR_TX, seg(0), 0, out), 0);
	cr_assert_eq(im.stats.held, 1);
	unsigned n = tcp_impair_pass(&im, TCP_IMPAIR_TX, seg(1), 0, out);
	cr_assert_eq(n, 2);
	cr_assert_eq(id_of(out[0]), 1);
	cr_assert_eq(id_of(out[1]), 0);
	rte_pktmbuf_free(out[0]);
	rte_pktmbuf_free(out[1]);
	cr_assert_eq(tcp_impair_pass(&im, TCP_IMPAIR_TX, seg(2), 100, out), 0);
	/* the other direction has its own slot */
	cr_assert_eq(tcp_impair_pass(&im, TCP_IMPAIR_RX, seg(3), 100, out), 0);
	cr_assert_eq(im.stats.held, 2);
	cr_assert_eq(tcp_impair_next(&im), 100 + TCP_IMPAIR_HOLD_US);
	cr_assert_null(tcp_impair_due(&im, TCP_IMPAIR_TX, 100 + TCP_IMPAIR_HOLD_US - 1), "not before its delay");
	struct rte_mbuf *m = tcp_impair_due(&im, TCP_IMPAIR_TX, 100 + TCP_IMPAIR_HOLD_US);
	cr_assert_not_null(m, "released after its delay with no segment behind it");
	cr_assert_eq(id_of(m), 2);
	rte_pktmbuf_free(m);
	cr_assert_eq(im.stats.held, 1);
	tcp_impair_flush(&im); /* the RX one: freed at shutdown */
	cr_assert_eq(im.stats.held, 0);
	cr_assert_eq(tcp_impair_next(&im), UINT64_MAX);

	struct tcp_impair_cfg dup = { .dup_ppm = 1000000, .seed = 1, .rx = true, .tx = true };
	tcp_impair_init(&im, &dup, 0, mp);
	n = tcp_impair_pass(&im, TCP_IMPAIR_RX, seg(9), 0, out);
	cr_assert_eq(n, 2);
	cr_assert_neq(out[0], out[1], "a copy, not the same mbuf twice");
	cr_assert_eq(out[1]->pkt_len, 60);
	cr_assert_eq(memcmp(rte_pktmbuf_mtod(out[0], void *), rte_pktmbuf_mtod(out[1], void *), 60), 0);
	cr_assert_eq(out[1]->l2_len, 14);
	cr_assert_eq(out[1]->l3_len, 20);
	cr_assert_eq(out[1]->ol_flags, out[0]->ol_flags);
	rte_pktmbuf_free(out[0]);
	rte_pktmbuf_free(out[1]);
}

Test(impair, a_dry_pool_skips_the_duplicate_and_counts_it)
{
	struct tcp_impair im;
	struct tcp_impair_cfg dup = { .dup_ppm = 1000000, .seed = 1, .rx = true, .tx = true };
	tcp_impair_init(&im, &dup, 0, mp);
	static struct rte_mbuf *all[POOL];
	unsigned k = 0;
	while (k < POOL && (all[k] = rte_pktmbuf_alloc(mp)))
		k++;
	rte_pktmbuf_free(all[--k]); /* one left: the segment itself */
	struct rte_mbuf *out[TCP_IMPAIR_OUT_MAX];
	cr_assert_eq(tcp_impair_pass(&im, TCP_IMPAIR_TX, seg(1), 0, out), 1);
	cr_assert_eq(im.stats.dup_nombuf, 1);
	rte_pktmbuf_free(out[0]);
	rte_pktmbuf_free_bulk(all, k);
}

Test(impair, all_dropped_at_100_percent)
{
	struct tcp_impair im;
	struct tcp_impair_cfg cfg = { .drop_ppm = 1000000, .seed = 1, .rx = true };
	tcp_impair_init(&im, &cfg, 0, mp);
	cr_assert_eq(run(&im, TCP_IMPAIR_RX, 1000, NULL, 0), 0);
	cr_assert_eq(im.stats.dropped[TCP_IMPAIR_RX], 1000);
	cr_assert_eq(run(&im, TCP_IMPAIR_TX, 1000, NULL, 0), 1000, "tx not asked for");
}

/* The specification parser: one line per case. */
struct pcase {
	const char *in;
	bool ok;
	uint32_t drop, dup, reorder;
	uint64_t seed;
	bool rx, tx;
	const char *why; /* part of the error */
};

#define OK(s, d, u, r, sd, x, t) { s, true, d, u, r, sd, x, t, NULL }
#define BAD(s, w) { s, false, 0, 0, 0, 0, 0, 0, w }

static const struct pcase pcases[] = {
	OK("drop=1,dup=1,reorder=2,seed=7", 10000, 10000, 20000, 7, true, true),
	OK("drop=1", 10000, 0, 0, 1, true, true),
	OK("drop=0.5%, reorder=0.0001", 5000, 0, 1, 1, true, true),
	OK("DROP=100,dir=rx", 1000000, 0, 0, 1, true, false),
	OK("dup=2.25,dir=tx", 0, 22500, 0, 1, false, true),
	OK("drop=50,dup=25,reorder=25", 500000, 250000, 250000, 1, true, true),
	OK("seed=18446744073709551615,drop=1", 10000, 0, 0, UINT64_MAX, true, true),
	OK("off", 0, 0, 0, 1, true, true),
	OK("drop=0", 0, 0, 0, 1, true, true),
	OK(" drop = 1 , dup= 2 ", 10000, 20000, 0, 1, true, true),
	BAD("", "empty"),
	BAD("drop=101", "not a percentage"),
	BAD("drop=100.0001", "not a percentage"),
	BAD("drop=1.23456", "up to 4 decimals"),
	BAD("drop=.5", "not a percentage"),
	BAD("drop=1.", "not a percentage"),
	BAD("drop=-1", "not a percentage"),
	BAD("drop=1%%", "not a percentage"),
	BAD("drop=1 2", "not a percentage"),
	BAD(" , ", "is not key=value"),
	BAD("drop=1e1", "not a percentage"),
	BAD("drop=60,dup=41", "more than 100%"),
	BAD("loss=1", "unknown item \"loss\""),
	BAD("drop", "is not key=value"),
	BAD("drop=1,drop=1", "drop given twice"),
	BAD("seed=-1", "seed \"-1\""),
	BAD("seed=18446744073709551616", "seed"),
	BAD("seed=7x", "seed"),
	BAD("dir=sideways", "dir \"sideways\""),
};

Test(impair_spec, table)
{
	for (size_t i = 0; i < sizeof(pcases) / sizeof(pcases[0]); i++) {
		const struct pcase *c = &pcases[i];
		struct strait_tcp_impair t = { .drop_ppm = 99 };
		char why[160];
		bool ok = strait_parse_tcp_impair(c->in, &t, why, sizeof(why));
		cr_assert_eq(ok, c->ok, "case %zu \"%s\": %s", i, c->in, why);
		if (!ok) {
			cr_assert(strstr(why, c->why), "case %zu \"%s\": \"%s\" lacks \"%s\"", i, c->in, why, c->why);
			cr_assert_eq(t.drop_ppm, 99, "case %zu: a failure leaves the output alone", i);
			continue;
		}
		cr_assert_eq(t.drop_ppm, c->drop, "case %zu", i);
		cr_assert_eq(t.dup_ppm, c->dup, "case %zu", i);
		cr_assert_eq(t.reorder_ppm, c->reorder, "case %zu", i);
		cr_assert_eq(t.seed, c->seed, "case %zu", i);
		cr_assert_eq(t.rx, c->rx, "case %zu", i);
		cr_assert_eq(t.tx, c->tx, "case %zu", i);
	}
}
