/* SPDX-License-Identifier: BSD-3-Clause */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "wire.h"

static uint8_t pattern(uint64_t i)
{
	return (uint8_t)(i * 2654435761u >> 13);
}

static void fill(uint8_t *b, uint64_t off, size_t n)
{
	for (size_t i = 0; i < n; i++)
		b[i] = pattern(off + i);
}

/* ---- two engines back to back over an unreliable wire ---- */

struct wire {
	struct tcp_stack *a, *b;
	struct rte_mempool *mp;
	uint64_t now;
	uint32_t rng;
	unsigned drop_pct, dup_pct, reorder_pct;
	struct rte_mbuf *q[2][8192]; /* in flight towards a (0) and b (1) */
	unsigned nq[2];
	struct rte_mbuf *held[2];     /* one segment held back to reorder */
	uint64_t dropped, duped, reordered;
};

static struct wire W;

static uint32_t rnd(struct wire *w)
{
	w->rng ^= w->rng << 13;
	w->rng ^= w->rng >> 17;
	w->rng ^= w->rng << 5;
	return w->rng;
}

static uint64_t w_now(void *ctx)
{
	return ((struct wire *)ctx)->now;
}

static void w_push(struct wire *w, int dir, struct rte_mbuf *m)
{
	if (w->nq[dir] < 8192)
		w->q[dir][w->nq[dir]++] = m;
	else
		rte_pktmbuf_free(m);
}

static void w_out(struct wire *w, int dir, struct rte_mbuf **p, uint16_t n)
{
	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = p[i];
		if (rnd(w) % 100 < w->drop_pct) {
			w->dropped++;
			rte_pktmbuf_free(m);
			continue;
		}
		if (rnd(w) % 100 < w->dup_pct) {
			struct rte_mbuf *c = rte_pktmbuf_copy(m, w->mp, 0, UINT32_MAX);
			if (c) {
				w->duped++;
				w_push(w, dir, c);
			}
		}
		if (!w->held[dir] && rnd(w) % 100 < w->reorder_pct) {
			w->held[dir] = m;
			w->reordered++;
			continue;
		}
		w_push(w, dir, m);
		if (w->held[dir]) {
			w_push(w, dir, w->held[dir]);
			w->held[dir] = NULL;
		}
	}
}

static void out_a(void *ctx, struct rte_mbuf **p, uint16_t n)
{
	w_out(ctx, 1, p, n);
}

static void out_b(void *ctx, struct rte_mbuf **p, uint16_t n)
{
	w_out(ctx, 0, p, n);
}

struct side {
	struct tcp_conn *c;
	uint64_t sent, rcvd, total;
	bool fin_seen, closed;
	uint8_t digest; /* running check */
	uint64_t bad;
};

static struct side SA, SB;

static void pump_write(struct side *s)
{
	static uint8_t buf[65536];
	while (s->c && s->sent < s->total) {
		size_t n = s->total - s->sent < sizeof(buf) ? s->total - s->sent : sizeof(buf);
		fill(buf, s->sent, n);
		long k = tcp_write(s->c, buf, n);
		if (k <= 0)
			break;
		s->sent += (uint64_t)k;
	}
	if (s->c && s->sent == s->total && !(s->c->flags & TF_FIN_QUEUED))
		tcp_shutdown(s->c);
}

static void pump_read(struct side *s)
{
	static uint8_t buf[65536];
	long k;
	while (s->c && (k = tcp_read(s->c, buf, sizeof(buf))) > 0) {
		for (long i = 0; i < k; i++)
			if (buf[i] != pattern(s->rcvd + (uint64_t)i))
				s->bad++;
		s->rcvd += (uint64_t)k;
	}
}

static void w_event(void *ctx, struct tcp_conn *c, uint32_t ev)
{
	struct side *s = tcp_user(c);
	if (!s) {
		s = &SB; /* the accepted side */
		s->c = c;
		tcp_set_user(c, s);
	}
	if (ev & TCP_EV_READABLE)
		pump_read(s);
	if (ev & (TCP_EV_WRITABLE | TCP_EV_CONNECTED))
		pump_write(s);
	if (ev & TCP_EV_PEER_FIN)
		s->fin_seen = true;
	if (ev & (TCP_EV_CLOSED | TCP_EV_RESET | TCP_EV_TIMEOUT)) {
		s->closed = true;
		if (ev & (TCP_EV_RESET | TCP_EV_TIMEOUT))
			s->bad++;
		tcp_close(c);
		s->c = NULL;
	}
}

void run_pair(uint8_t af, uint64_t a_to_b, uint64_t b_to_a, unsigned drop,
	      unsigned dup, unsigned reorder, uint32_t seed, struct pair_result *res)
{
	h_eal();
	struct wire *w = &W;
	memset(w, 0, sizeof(*w));
	memset(&SA, 0, sizeof(SA));
	memset(&SB, 0, sizeof(SB));
	w->mp = rte_pktmbuf_pool_create("wire", 16383, 256, 0,
					RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	cr_assert_not_null(w->mp);
	w->rng = seed;
	w->drop_pct = drop;
	w->dup_pct = dup;
	w->reorder_pct = reorder;
	w->now = 1000000;
	struct tcp_config cfg = { .sndbuf = 256 << 10, .rcvbuf = 256 << 10 };
	memset(cfg.secret, 1, 16);
	static const struct tcp_ops oa = { w_now, out_a, w_event };
	static const struct tcp_ops ob = { w_now, out_b, w_event };
	w->a = tcp_stack_create(&cfg, &oa, w, w->mp);
	w->b = tcp_stack_create(&cfg, &ob, w, w->mp);
	struct tcp_addr la = { { 198, 18, 128, 10 } }, lb = { { 198, 18, 128, 11 } };
	if (af == TCP_AF_INET6) {
		memset(&la, 0, sizeof(la));
		memset(&lb, 0, sizeof(lb));
		la.b[0] = lb.b[0] = 0x20;
		la.b[1] = lb.b[1] = 0x01;
		la.b[3] = lb.b[3] = 2;
		la.b[6] = lb.b[6] = 1;
		la.b[15] = 10;
		lb.b[15] = 11;
	}
	cr_assert_eq(tcp_listen(w->b, af, &lb, 7, 0, 0), 0);
	SA.total = a_to_b;
	SB.total = b_to_a;
	SA.c = tcp_connect(w->a, af, &la, 33000, &lb, 7, 0);
	cr_assert_not_null(SA.c);
	tcp_set_user(SA.c, &SA);
	uint64_t steps = 0;
	while (!(SA.closed && SB.closed) && steps < 20000000) {
		steps++;
		bool idle = true;
		for (int dir = 0; dir < 2; dir++) {
			unsigned n = w->nq[dir];
			if (!n)
				continue;
			idle = false;
			struct rte_mbuf *batch[8192];
			memcpy(batch, w->q[dir], n * sizeof(batch[0]));
			w->nq[dir] = 0;
			for (unsigned i = 0; i < n; i += 32) {
				uint16_t k = (uint16_t)(n - i < 32 ? n - i : 32);
				tcp_input(dir ? w->b : w->a, batch + i, k);
			}
		}
		pump_read(&SA);
		pump_read(&SB);
		pump_write(&SA);
		pump_write(&SB);
		w->now += idle ? 5000 : 100; /* 100 us per exchange, skip ahead when idle */
		if (idle) {
			for (int dir = 0; dir < 2; dir++)
				if (w->held[dir]) {
					w_push(w, dir, w->held[dir]);
					w->held[dir] = NULL;
				}
		}
		tcp_poll(w->a);
		tcp_poll(w->b);
	}
	if (getenv("TCP_DEBUG")) {
		struct tcp_stack_stats x, y;
		tcp_stack_stats(w->a, &x);
		tcp_stack_stats(w->b, &y);
		fprintf(stderr, "A %s sent %lu B %s sent %lu | a in %lu out %lu nocon %lu seq %lu | b in %lu out %lu nocon %lu seq %lu hdr %lu csum %lu\n",
			SA.c ? tcp_state_name(tcp_state(SA.c)) : "-", (unsigned long)SA.sent,
			SB.c ? tcp_state_name(tcp_state(SB.c)) : "-", (unsigned long)SB.sent,
			(unsigned long)x.segs_in, (unsigned long)x.segs_out, (unsigned long)x.no_conn, (unsigned long)x.dropped_seq,
			(unsigned long)y.segs_in, (unsigned long)y.segs_out, (unsigned long)y.no_conn, (unsigned long)y.dropped_seq, (unsigned long)y.bad_hdr, (unsigned long)y.bad_csum);
	}
	if (res) {
		struct tcp_stack_stats x, y;
		tcp_stack_stats(w->a, &x);
		tcp_stack_stats(w->b, &y);
		res->steps = steps;
		res->dropped = w->dropped;
		res->duped = w->duped;
		res->reordered = w->reordered;
		res->sim_seconds = w->now / 1e6;
		res->retrans_a = x.retrans_segs;
		res->retrans_b = y.retrans_segs;
	}
	cr_log_info("wire: steps %lu dropped %lu duped %lu reordered %lu, simulated %.1f s",
		    (unsigned long)steps, (unsigned long)w->dropped,
		    (unsigned long)w->duped, (unsigned long)w->reordered, w->now / 1e6);
	cr_assert(SA.closed && SB.closed, "both sides closed (steps %lu, a %lu/%lu b %lu/%lu)",
		  (unsigned long)steps, (unsigned long)SB.rcvd, (unsigned long)a_to_b,
		  (unsigned long)SA.rcvd, (unsigned long)b_to_a);
	cr_assert_eq(SB.rcvd, a_to_b);
	cr_assert_eq(SA.rcvd, b_to_a);
	cr_assert_eq(SA.bad + SB.bad, 0, "byte-exact, no reset");
	cr_assert(SA.fin_seen && SB.fin_seen);
	if (drop)
		cr_assert_gt(w->dropped, 0);
	/* TIME-WAIT ends, everything returns to the pool */
	w->now += 120000000;
	tcp_poll(w->a);
	tcp_poll(w->b);
	struct tcp_stack_stats sa, sb;
	tcp_stack_stats(w->a, &sa);
	tcp_stack_stats(w->b, &sb);
	cr_assert_eq(sa.conns + sb.conns, 0);
	for (int dir = 0; dir < 2; dir++) {
		for (unsigned i = 0; i < w->nq[dir]; i++)
			rte_pktmbuf_free(w->q[dir][i]);
		if (w->held[dir])
			rte_pktmbuf_free(w->held[dir]);
	}
	tcp_stack_destroy(w->a);
	tcp_stack_destroy(w->b);
	cr_assert_eq(rte_mempool_in_use_count(w->mp), 0);
	rte_mempool_free(w->mp);
}

