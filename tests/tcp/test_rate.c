/* SPDX-License-Identifier: BSD-3-Clause */
/* Transport = rate (tcp_rate.c): a connection whose gate grants it a rate
 * (tcp_gate.min_rate) keeps its congestion window at that rate's
 * bandwidth-delay product x 1.25 from its first RTT sample on, through
 * recovery (PRR never takes it lower) and after an RTO; its in-flight
 * estimate with SACK is the RFC 6675 pipe, also outside recovery; it is
 * paced by the gate alone. With the injected clock and crafted ACKs. */
#include <criterion/criterion.h>
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
	uint32_t b = iss + 1, blk[4][2];
	for (unsigned i = 0; i < n; i++) {
		blk[i][0] = b + rel[i][0];
		blk[i][1] = b + rel[i][1];
	}
	uint8_t o[40];
	unsigned ol = n ? o_sack(o, (const uint32_t (*)[2])blk, n) : 0;
	h_send(h, 1001, b + cum, TH_ACK, 65535, o, ol, NULL, 0);
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
