/* SPDX-License-Identifier: BSD-3-Clause */
/* Transport = rate (tcp_rate.c): a connection whose gate grants it a rate
 * (tcp_gate.min_rate) keeps its congestion window at that rate's
 * bandwidth-delay product x 1.25 from its first RTT sample on, through
 * recovery (PRR never takes it lower) and after an RTO; its in-flight
 * estimate with SACK is the RFC 6675 pipe, also outside recovery; it is
 * paced by the gate alone. With the injected clock and crafted ACKs,
 * then a deterministic simulation of the issue-14 setting: two engines
 * across a 100 Mbit/s, 50 ms, 0.5 %-lossy WAN (strait-wanem's regional
 * profile) behind a 100 Mbit/s gate, payload goodput over simulated
 * seconds (printed). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static struct harness H;
static struct harness *h = &H;
static struct h_seg S;

static void fini(void)
{
	h_fini(h);
}

TestSuite(rate, .fini = fini);

enum { MSS = 1000, RTT_US = 10000 };

/* A gate that lets everything through and grants min_rate. */
struct open_gate {
	uint64_t min_rate;
};

static bool og_may_send(void *ctx, struct tcp_conn *c)
{
	(void)ctx;
	(void)c;
	return true;
}

static void og_sent(void *ctx, struct tcp_conn *c, uint32_t len)
{
	(void)ctx;
	(void)c;
	(void)len;
}

static uint64_t og_min_rate(void *ctx, const struct tcp_conn *c)
{
	(void)c;
	return ((struct open_gate *)ctx)->min_rate;
}

static const struct tcp_gate open_gate = { og_may_send, og_sent, og_min_rate, NULL };
static struct open_gate G;

/* The floor for a granted rate on a 10 ms path: rate / 8 x 10 ms x 1.25. */
static uint32_t floor_of(uint64_t bps)
{
	return (uint32_t)(bps / 8 * RTT_US / 1000000 * 5 / 4);
}

/* Established with SACK (no timestamps), peer MSS 1000, window 64 KiB <<
 * 7, the gate granting bps; a 10 ms path measured (rtt false: no sample
 * yet). */
static struct tcp_conn *setup(uint32_t *iss, uint32_t flags, uint64_t bps, bool rtt)
{
	struct tcp_config cfg = { .flags = flags };
	h_init(h, &cfg, TCP_AF_INET);
	uint8_t o[40];
	unsigned n = o_mss(o, MSS);
	n += o_sackok(o + n);
	n += o_ws(o + n, 7);
	struct tcp_conn *c = h_accept(h, 1000, o, n, iss);
	cr_assert_not_null(c);
	c->srtt_us = c->min_rtt_us = rtt ? RTT_US : 0;
	c->rttvar_us = rtt ? RTT_US / 2 : 0;
	c->rto_us = 200000;
	G.min_rate = bps;
	tcp_stack_set_gate(h->st, &open_gate, &G);
	return c;
}

/* The peer's ACK: cumulative `cum` bytes, SACK blocks relative to the
 * first data byte. */
static void ack(uint32_t iss, uint32_t cum, const uint32_t (*rel)[2], unsigned n)
{
	h_ack_sack(h, 1001, iss, cum, rel, n);
}

/* Data segments sent since the last h_clear; *hi: the highest relative
 * end sequence among them. */
static unsigned data_segs(uint32_t iss, uint32_t *hi)
{
	unsigned k = 0;
	if (hi)
		*hi = 0;
	for (unsigned i = 0; i < h->nout; i++) {
		h_out(h, i, &S);
		if (!S.len)
			continue;
		k++;
		uint32_t e = S.seq + S.len - (iss + 1);
		if (hi && e > *hi)
			*hi = e;
	}
	return k;
}

static uint8_t data[400000];

/* From the first RTT sample on, the window is the granted rate's floor:
 * a fresh connection does not slow-start up to its grant. */
Test(rate, floor_from_first_rtt_sample)
{
	uint32_t iss;
	const uint64_t bps = 40000000; /* floor 62,500 bytes */
	struct tcp_conn *c = setup(&iss, TCP_CFG_NO_PACING, bps, false);
	cr_assert_eq(tcp_write(c, data, 100 * MSS), 100 * MSS);
	cr_assert_eq(data_segs(iss, NULL), TCP_INIT_CWND_SEGS, "no RTT yet: the initial window");
	h_clear(h);
	h_advance(h, RTT_US);
	ack(iss, 2 * MSS, NULL, 0);
	cr_assert_eq(c->min_rtt_us, RTT_US);
	cr_expect_geq(c->cwnd, floor_of(bps), "cwnd %u after the first sample, floor %u",
		      c->cwnd, floor_of(bps));
	/* and the window is used: 8 segments out, so 54 more (62,000 bytes) */
	uint32_t hi;
	cr_expect_geq(data_segs(iss, &hi), floor_of(bps) / MSS - 8, "sent %u", data_segs(iss, NULL));
	/* without a grant: slow start, unchanged */
	h_fini(h);
	c = setup(&iss, TCP_CFG_NO_PACING, 0, false);
	tcp_write(c, data, 100 * MSS);
	h_clear(h);
	h_advance(h, RTT_US);
	ack(iss, 2 * MSS, NULL, 0);
	cr_expect_eq(c->cwnd, (TCP_INIT_CWND_SEGS + 2) * MSS, "CUBIC's slow start: %u", c->cwnd);
}

/* PRR (RFC 6937) takes the window towards ssthresh and, with the pipe
 * emptied by a burst of losses, slow-starts it back from there; in rate
 * mode it never goes below the floor: the repair and new data go out at
 * once, as the gate allows. */
Test(rate, floor_through_recovery)
{
	uint32_t iss;
	const uint64_t bps = 40000000;
	const uint32_t fl = floor_of(bps);
	struct tcp_conn *c = setup(&iss, TCP_CFG_NO_PACING, bps, true);
	c->cwnd = fl;
	cr_assert_eq(tcp_write(c, data, 300 * MSS), 300 * MSS);
	cr_assert_eq(data_segs(iss, NULL), fl / MSS);
	h_clear(h);
	h_advance(h, RTT_US);
	/* the first 20 segments lost, the other 42 delivered */
	const uint32_t b1[1][2] = { { 20 * MSS, 62 * MSS } };
	ack(iss, 0, b1, 1);
	cr_assert(c->flags & TF_IN_RECOVERY);
	cr_expect_geq(c->cwnd, fl, "cwnd %u in recovery, floor %u", c->cwnd, fl);
	uint32_t hi;
	unsigned n = data_segs(iss, &hi);
	/* 20 repairs and new data up to the floor: pipe = 62,500 - 500 */
	cr_expect_geq(n, fl / MSS, "%u segments after the loss", n);
	cr_expect_geq(tcp_pipe(c) + MSS, fl, "pipe %u", tcp_pipe(c));
	h_clear(h);
	/* repairs ACKed one at a time: each ACK keeps the floor */
	for (unsigned k = 1; k <= 19; k++) {
		h_advance(h, 100);
		ack(iss, k * MSS, b1, 1);
		cr_expect_geq(c->cwnd, fl, "ACK %u: cwnd %u", k, c->cwnd);
	}
	/* the reorder timer with nothing delivered (tcp_prr(c, 0)) */
	h_advance(h, RTT_US);
	cr_expect_geq(c->cwnd, fl, "after the timers: cwnd %u", c->cwnd);
}

/* After an RTO the window restarts at the floor, not at one segment. */
Test(rate, floor_after_rto)
{
	uint32_t iss;
	const uint64_t bps = 40000000;
	struct tcp_conn *c = setup(&iss, TCP_CFG_NO_PACING, bps, true);
	c->cwnd = floor_of(bps);
	tcp_write(c, data, 100 * MSS);
	h_clear(h);
	for (unsigned i = 0; i < 40; i++)
		h_advance(h, 50000); /* nothing ACKed: probes, then the RTO */
	cr_assert_geq(c->stats.rto_expiries, 1);
	cr_expect_geq(c->cwnd, floor_of(bps), "cwnd %u after the RTO", c->cwnd);
}

/* RFC 6675 pipe outside recovery: a recovery ends (SND.UNA passes its
 * recovery point) while a repair below SACKed data is still on its way.
 * Those SACKed bytes have left the network; counted as in flight they
 * would hold new data for a round trip (sent minus cumulatively ACKed is
 * 35 segments against a window of 20). */
Test(rate, pipe_outside_recovery)
{
	uint32_t iss;
	const uint64_t bps = 12800000; /* floor 20,000 bytes */
	struct tcp_conn *c = setup(&iss, TCP_CFG_NO_PACING, bps, true);
	c->cwnd = 20 * MSS;
	cr_assert_eq(tcp_write(c, data, 300 * MSS), 300 * MSS);
	cr_assert_eq(data_segs(iss, NULL), 20);
	h_clear(h);
	h_advance(h, RTT_US);
	/* segments 0 and 1 lost: recovery, recovery point 20 segments */
	const uint32_t b1[1][2] = { { 2 * MSS, 20 * MSS } };
	ack(iss, 0, b1, 1);
	cr_assert(c->flags & TF_IN_RECOVERY);
	uint32_t hi1;
	data_segs(iss, &hi1);
	cr_assert_gt(hi1, 20 * MSS, "new data in recovery");
	h_clear(h);
	h_advance(h, RTT_US);
	/* segment 0's repair arrives, segment 1's is lost again, and so is
	 * segment 20 (the first new one); the rest of the new data arrives */
	const uint32_t b2[2][2] = { { 21 * MSS, hi1 }, { 2 * MSS, 20 * MSS } };
	ack(iss, 1 * MSS, b2, 2);
	cr_assert(c->flags & TF_IN_RECOVERY);
	uint32_t hi2;
	data_segs(iss, &hi2);
	cr_assert_gt(hi2, hi1);
	h_clear(h);
	h_advance(h, RTT_US);
	/* segment 1's second repair fills everything below the recovery
	 * point: recovery ends with segment 20's repair (sent after it) on
	 * its way and [21, hi1) SACKed above it */
	const uint32_t b3[1][2] = { { 21 * MSS, hi1 } };
	ack(iss, 20 * MSS, b3, 1);
	cr_assert(!(c->flags & TF_IN_RECOVERY), "recovery over");
	cr_assert_eq(c->lost_bytes, 0, "nothing deemed lost");
	cr_assert_geq(c->sacked_bytes, 10 * MSS);
	uint32_t hi3;
	unsigned n = data_segs(iss, &hi3);
	cr_expect_geq(n, 1, "new data goes while the pipe is below the window");
	cr_expect_gt(tcp_pipe(c) + MSS, c->cwnd, "the window used: pipe %u, cwnd %u, flight %u",
		     tcp_pipe(c), c->cwnd, tcp_flight(c));
}

/* Paced by the gate alone: the engine sends the window the gate lets
 * through at once (the WAN shaper spaces it at the grant); CUBIC without
 * a grant keeps the engine's pacing. */
Test(rate, paced_by_the_gate_only)
{
	uint32_t iss;
	const uint64_t bps = 40000000;
	struct tcp_conn *c = setup(&iss, 0, bps, true);
	c->cwnd = floor_of(bps);
	tcp_write(c, data, 100 * MSS);
	cr_expect_eq(data_segs(iss, NULL), floor_of(bps) / MSS, "the window at once: %u",
		     data_segs(iss, NULL));
	h_fini(h);
	c = setup(&iss, 0, 0, true);
	c->cwnd = floor_of(bps);
	tcp_write(c, data, 100 * MSS);
	cr_expect_lt(data_segs(iss, NULL), floor_of(bps) / MSS / 2, "CUBIC paced: %u",
		     data_segs(iss, NULL));
}

/* ---- simulation: the channel on strait-wanem's regional profile ----
 *
 *   A (sender) --gate 100 Mbit/s--> [WAN 100 Mbit/s, queue 1 BDP,
 *   25 ms, 0.5 % loss] --> B (reader)   and the same WAN back for ACKs
 *
 * The gate is the shaper's token bucket (a tenant with Guaranteed =
 * Ceiling = 100M: 2 ms of burst, frames charged with their ESP/UDP/IP/
 * Ethernet overhead as they leave); time jumps from event to event
 * (arrivals, engine timers, the gate's next token). */

enum {
	SIM_MSS = 1398,          /* the channel's (dataplane/wan.c, IPv4 outer) */
	SIM_OUTER = 100,         /* outer Ethernet + IPv4 + UDP + ESP + ICV + trailer, and
				 * the wire (preamble, FCS, gap: wan_wire_bytes) */
	SIM_QCAP = 16384,
};

struct sim_pkt {
	struct rte_mbuf *m;
	uint64_t at;
};

struct sim_link {
	struct sim_pkt q[SIM_QCAP];
	unsigned head, n;
	uint64_t busy_until;     /* the serializer's next free time (us, x 1000: ns) */
	uint64_t sent, lost, tail_drops;
};

struct sim {
	struct tcp_stack *a, *b;
	struct tcp_conn *ca, *cb;
	struct rte_mempool *mp;
	uint64_t now;            /* us */
	uint64_t rng;
	struct sim_link l[2];    /* 0: A -> B, 1: B -> A */
	uint64_t link_bps, delay_us, loss_ppm, qlimit;
	/* the gate */
	uint64_t gate_bps;
	double tokens;           /* bytes */
	uint64_t tokens_t;
	bool kick;
	uint64_t read;
	uint64_t charged;        /* frame bytes A sent into the WAN */
};

static struct sim SIM;

static uint64_t splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t sim_now(void *ctx)
{
	return ((struct sim *)ctx)->now;
}

static void link_put(struct sim *s, int dir, struct rte_mbuf *m)
{
	struct sim_link *l = &s->l[dir];
	uint64_t bytes = rte_pktmbuf_pkt_len(m) + SIM_OUTER;
	uint64_t now_ns = s->now * 1000;
	if (l->busy_until < now_ns)
		l->busy_until = now_ns;
	/* netem: loss on entry, tail drop past the queue limit */
	if (splitmix(&s->rng) % 1000000 < s->loss_ppm) {
		l->lost++;
		rte_pktmbuf_free(m);
		return;
	}
	if ((l->busy_until - now_ns) * s->link_bps / 8000000000ull > s->qlimit || l->n == SIM_QCAP) {
		l->tail_drops++;
		rte_pktmbuf_free(m);
		return;
	}
	l->busy_until += bytes * 8000000000ull / s->link_bps;
	l->q[(l->head + l->n++) % SIM_QCAP] = (struct sim_pkt){ m, l->busy_until / 1000 + s->delay_us };
	l->sent++;
}

static void gate_fill(struct sim *s)
{
	double burst = (double)s->gate_bps / 8 * 0.002;
	s->tokens += (double)(s->now - s->tokens_t) * s->gate_bps / 8e6;
	if (s->tokens > burst)
		s->tokens = burst;
	s->tokens_t = s->now;
}

static void out_a(void *ctx, struct rte_mbuf **p, uint16_t n)
{
	struct sim *s = ctx;
	for (uint16_t i = 0; i < n; i++) {
		if (s->gate_bps) {
			gate_fill(s);
			s->tokens -= rte_pktmbuf_pkt_len(p[i]) + SIM_OUTER;
		}
		s->charged += rte_pktmbuf_pkt_len(p[i]) + SIM_OUTER;
		link_put(s, 0, p[i]);
	}
}

static void out_b(void *ctx, struct rte_mbuf **p, uint16_t n)
{
	for (uint16_t i = 0; i < n; i++)
		link_put(ctx, 1, p[i]);
}

static void sim_event(void *ctx, struct tcp_conn *c, uint32_t ev)
{
	struct sim *s = ctx;
	if ((ev & TCP_EV_CONNECTED) && c != s->ca)
		s->cb = c;
}

static bool sg_may_send(void *ctx, struct tcp_conn *c)
{
	(void)c;
	struct sim *s = ctx;
	gate_fill(s);
	if (s->tokens > 0)
		return true;
	s->kick = true;
	return false;
}

static void sg_sent(void *ctx, struct tcp_conn *c, uint32_t len)
{
	(void)ctx;
	(void)c;
	(void)len; /* charged as it leaves (out_a), headers included */
}

static uint64_t sg_min_rate(void *ctx, const struct tcp_conn *c)
{
	(void)c;
	return ((struct sim *)ctx)->gate_bps;
}

static const struct tcp_gate sim_gate = { sg_may_send, sg_sent, sg_min_rate, NULL };

struct sim_result {
	double goodput_mbps;     /* payload read by B over the measured window */
	double wan_mbps;         /* frames A sent, headers and repairs included */
	uint64_t below_floor;    /* steps with the window under the grant's floor */
	uint64_t rto, recoveries, retrans, lost, tail_drops;
};

static void sim_deliver(struct sim *s, int dir)
{
	struct sim_link *l = &s->l[dir];
	struct rte_mbuf *batch[32];
	while (l->n && l->q[l->head].at <= s->now) {
		unsigned k = 0;
		while (l->n && l->q[l->head].at <= s->now && k < 32) {
			batch[k++] = l->q[l->head].m;
			l->head = (l->head + 1) % SIM_QCAP;
			l->n--;
		}
		tcp_input(dir ? s->a : s->b, batch, (uint16_t)k);
	}
}

/* Runs the channel for warm + secs simulated seconds; goodput over the
 * last secs. gate_bps 0: no gate, no grant (CUBIC). */
static void simulate(uint64_t gate_bps, uint64_t seed, unsigned warm, unsigned secs,
		     struct sim_result *r)
{
	h_eal();
	struct sim *s = &SIM;
	memset(s, 0, sizeof(*s));
	memset(r, 0, sizeof(*r));
	s->mp = rte_pktmbuf_pool_create("sim", 16383, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
					SOCKET_ID_ANY);
	cr_assert_not_null(s->mp);
	s->rng = seed;
	s->link_bps = 100000000;
	s->delay_us = 25000;
	s->loss_ppm = 5000;
	s->qlimit = s->link_bps / 8 * 2 * s->delay_us / 1000000; /* one BDP */
	s->gate_bps = gate_bps;
	s->now = 1000000;
	s->tokens_t = s->now;
	struct tcp_config cfg = { .mss = SIM_MSS, .sndbuf = 4u << 20, .rcvbuf = 4u << 20 };
	memset(cfg.secret, 3, 16);
	static const struct tcp_ops oa = { sim_now, out_a, sim_event };
	static const struct tcp_ops ob = { sim_now, out_b, sim_event };
	s->a = tcp_stack_create(&cfg, &oa, s, s->mp);
	s->b = tcp_stack_create(&cfg, &ob, s, s->mp);
	cr_assert(s->a && s->b);
	if (gate_bps)
		tcp_stack_set_gate(s->a, &sim_gate, s);
	struct tcp_addr la = { { 169, 254, 40, 1 } }, lb = { { 169, 254, 40, 2 } };
	cr_assert_eq(tcp_listen(s->b, TCP_AF_INET, &lb, 7, 0, 0), 0);
	s->ca = tcp_connect(s->a, TCP_AF_INET, &la, 40000, &lb, 7, 0);
	cr_assert_not_null(s->ca);
	static uint8_t buf[65536];
	uint64_t t0 = s->now + warm * 1000000ull, t1 = t0 + secs * 1000000ull;
	uint64_t read0 = 0, charged0 = 0;
	bool measuring = false;
	while (s->now < t1) {
		sim_deliver(s, 0);
		sim_deliver(s, 1);
		if (s->cb) {
			long k;
			while ((k = tcp_read(s->cb, buf, sizeof(buf))) > 0)
				s->read += (uint64_t)k;
		}
		if (tcp_state(s->ca) == TCP_ESTABLISHED)
			while (tcp_write(s->ca, buf, sizeof(buf)) > 0)
				;
		if (s->kick) {
			gate_fill(s);
			if (s->tokens > 0) {
				s->kick = false;
				tcp_kick(s->ca);
			}
		}
		tcp_poll(s->a);
		tcp_poll(s->b);
		if (!measuring && s->now >= t0) {
			measuring = true;
			read0 = s->read;
			charged0 = s->charged;
		}
		/* the window against the grant's floor (1.25 x BDP on the
		 * minimum RTT, at most twice the send buffer), once measured */
		if (gate_bps && s->ca->min_rtt_us && tcp_state(s->ca) == TCP_ESTABLISHED) {
			uint64_t fl = gate_bps / 8 * s->ca->min_rtt_us / 1000000 * 5 / 4;
			if (fl > 2ull * cfg.sndbuf)
				fl = 2ull * cfg.sndbuf;
			r->below_floor += s->ca->cwnd < fl;
		}
		/* the next event */
		uint64_t next = t1;
		for (int d = 0; d < 2; d++)
			if (s->l[d].n && s->l[d].q[s->l[d].head].at < next)
				next = s->l[d].q[s->l[d].head].at;
		uint64_t ta = tcp_next_timer(s->a), tb = tcp_next_timer(s->b);
		next = ta < next ? ta : next;
		next = tb < next ? tb : next;
		if (s->kick) {
			uint64_t tk = s->now + (uint64_t)(-s->tokens * 8e6 / s->gate_bps) + 1;
			next = tk < next ? tk : next;
		}
		if (!measuring && t0 < next)
			next = t0;
		s->now = next > s->now ? next : s->now + 1;
	}
	struct tcp_conn_stats cs;
	tcp_conn_stats(s->ca, &cs);
	r->goodput_mbps = (double)(s->read - read0) * 8 / secs / 1e6;
	r->wan_mbps = (double)(s->charged - charged0) * 8 / secs / 1e6;
	r->rto = cs.rto_expiries;
	r->recoveries = cs.fast_recoveries;
	r->retrans = cs.retrans_segs;
	r->lost = s->l[0].lost + s->l[1].lost;
	r->tail_drops = s->l[0].tail_drops + s->l[1].tail_drops;
	for (int d = 0; d < 2; d++)
		while (s->l[d].n) {
			rte_pktmbuf_free(s->l[d].q[s->l[d].head].m);
			s->l[d].head = (s->l[d].head + 1) % SIM_QCAP;
			s->l[d].n--;
		}
	tcp_stack_destroy(s->a);
	tcp_stack_destroy(s->b);
	cr_assert_eq(rte_mempool_in_use_count(s->mp), 0);
	rte_mempool_free(s->mp);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Issue 14: >= 85 Mbit/s of payload (about 90 fits: 1386 payload bytes
 * per 1514-byte frame is 91.5 % of 100 Mbit/s) across 5 seeds, median,
 * no RTO; printed on stdout with CUBIC's for comparison. */
Test(rate, regional_goodput, .timeout = 300)
{
	enum { RUNS = 5, WARM = 2, SECS = 10 };
	double g[RUNS], wan_min = 1e9;
	uint64_t rto = 0, below = 0;
	for (unsigned i = 0; i < RUNS; i++) {
		struct sim_result r;
		simulate(100000000, 14 + i, WARM, SECS, &r);
		g[i] = r.goodput_mbps;
		rto += r.rto;
		below += r.below_floor;
		wan_min = r.wan_mbps < wan_min ? r.wan_mbps : wan_min;
		printf("rate-sim: Transport = rate, seed %u: %.1f Mbit/s payload over %u simulated s, "
		       "%.1f on the WAN (recoveries %lu, retransmitted %lu, RTO %lu; WAN lost %lu, "
		       "tail-dropped %lu; steps with cwnd below the floor %lu)\n",
		       14 + i, r.goodput_mbps, SECS, r.wan_mbps, (unsigned long)r.recoveries,
		       (unsigned long)r.retrans, (unsigned long)r.rto, (unsigned long)r.lost,
		       (unsigned long)r.tail_drops, (unsigned long)r.below_floor);
	}
	struct sim_result rc;
	simulate(0, 14, WARM, SECS, &rc);
	printf("rate-sim: CUBIC (no grant), seed 14: %.1f Mbit/s (recoveries %lu, RTO %lu)\n",
	       rc.goodput_mbps, (unsigned long)rc.recoveries, (unsigned long)rc.rto);
	qsort(g, RUNS, sizeof(g[0]), cmp_double);
	printf("rate-sim: median %.1f Mbit/s (min %.1f, max %.1f), RTOs %lu\n", g[RUNS / 2], g[0],
	       g[RUNS - 1], (unsigned long)rto);
	fflush(stdout);
	cr_expect_geq(g[RUNS / 2], 85.0, "median goodput %.1f Mbit/s", g[RUNS / 2]);
	/* what the link carries (91.5), and what B held in its 4 MiB receive
	 * buffer at the window's start, delivered in it (3.4) */
	cr_expect_leq(g[RUNS - 1], 95.0, "above what the link carries: %.1f", g[RUNS - 1]);
	cr_expect_eq(rto, 0, "no RTO");
	/* it sends at the grant: the gate's 100 Mbit/s of frames, less the
	 * odd idle gap, and its window never under the floor */
	cr_expect_geq(wan_min, 97.0, "WAN rate %.1f Mbit/s", wan_min);
	cr_expect_eq(below, 0, "steps with cwnd below the floor: %lu", (unsigned long)below);
}
