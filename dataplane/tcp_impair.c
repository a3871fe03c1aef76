/* SPDX-License-Identifier: BSD-3-Clause */
/* The drop/duplicate/reorder knob on the appliance's own TCP (tcp_impair.h). */
#include "tcp_impair.h"

#include <string.h>

#include <rte_mbuf.h>

bool tcp_impair_enabled(const struct tcp_impair_cfg *cfg)
{
	return (cfg->rx || cfg->tx) && (cfg->drop_ppm || cfg->dup_ppm || cfg->reorder_ppm);
}

static uint64_t splitmix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

void tcp_impair_init(struct tcp_impair *im, const struct tcp_impair_cfg *cfg,
		     unsigned worker, struct rte_mempool *mp)
{
	memset(im, 0, sizeof(*im));
	im->mp = mp;
	uint64_t sum = (uint64_t)cfg->drop_ppm + cfg->dup_ppm + cfg->reorder_ppm;
	if (!tcp_impair_enabled(cfg) || sum > TCP_IMPAIR_PPM)
		return;
	im->drop = cfg->drop_ppm;
	im->dup_end = im->drop + cfg->dup_ppm;
	im->reorder_end = im->dup_end + cfg->reorder_ppm;
	im->on[TCP_IMPAIR_RX] = cfg->rx;
	im->on[TCP_IMPAIR_TX] = cfg->tx;
	for (unsigned d = 0; d < TCP_IMPAIR_NDIRS; d++) {
		/* one stream per worker and direction: RX decisions depend on
		 * the RX order only, whatever the engine sends meanwhile */
		uint64_t s = splitmix64(cfg->seed ^ splitmix64((uint64_t)worker << 1 | d));
		im->rng[d] = s ? s : 1; /* xorshift state must not be 0 */
	}
}

/* xorshift64*, scaled to [0, TCP_IMPAIR_PPM) */
static uint32_t draw(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	uint32_t r = (uint32_t)((x * 0x2545f4914f6cdd1dull) >> 32);
	return (uint32_t)(((uint64_t)r * TCP_IMPAIR_PPM) >> 32);
}

unsigned tcp_impair_pass(struct tcp_impair *im, enum tcp_impair_dir dir,
			 struct rte_mbuf *m, uint64_t now_us,
			 struct rte_mbuf *out[TCP_IMPAIR_OUT_MAX])
{
	if (!im->on[dir]) {
		out[0] = m;
		return 1;
	}
	unsigned n = 0;
	uint32_t r = draw(&im->rng[dir]);
	if (r < im->drop) {
		im->stats.dropped[dir]++;
		rte_pktmbuf_free(m);
	} else if (r < im->dup_end) {
		out[n++] = m;
		struct rte_mbuf *c = rte_pktmbuf_copy(m, im->mp, 0, UINT32_MAX);
		if (c) {
			/* the copy has l2_len/l3_len; offload flags as the original */
			c->ol_flags = m->ol_flags & ~(RTE_MBUF_F_INDIRECT | RTE_MBUF_F_EXTERNAL);
			out[n++] = c;
			im->stats.dup[dir]++;
		} else {
			im->stats.dup_nombuf++;
		}
	} else if (r < im->reorder_end && !im->held[dir]) {
		im->held[dir] = m;
		im->held_us[dir] = now_us;
		im->stats.reordered[dir]++;
		im->stats.held++;
		return 0; /* goes out behind the next segment */
	} else {
		out[n++] = m;
	}
	if (im->held[dir]) {
		out[n++] = im->held[dir];
		im->held[dir] = NULL;
		im->stats.held--;
	}
	return n;
}

struct rte_mbuf *tcp_impair_due(struct tcp_impair *im, enum tcp_impair_dir dir,
				uint64_t now_us)
{
	struct rte_mbuf *m = im->held[dir];
	if (!m || now_us - im->held_us[dir] < TCP_IMPAIR_HOLD_US)
		return NULL;
	im->held[dir] = NULL;
	im->stats.held--;
	return m;
}

uint64_t tcp_impair_next(const struct tcp_impair *im)
{
	uint64_t t = UINT64_MAX;
	for (unsigned d = 0; d < TCP_IMPAIR_NDIRS; d++)
		if (im->held[d] && im->held_us[d] + TCP_IMPAIR_HOLD_US < t)
			t = im->held_us[d] + TCP_IMPAIR_HOLD_US;
	return t;
}

void tcp_impair_flush(struct tcp_impair *im)
{
	for (unsigned d = 0; d < TCP_IMPAIR_NDIRS; d++) {
		if (!im->held[d])
			continue;
		rte_pktmbuf_free(im->held[d]);
		im->held[d] = NULL;
		im->stats.held--;
	}
}
