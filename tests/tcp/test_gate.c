/* SPDX-License-Identifier: BSD-3-Clause */
/* The stack's output gate (tcp_stack_set_gate(), the WAN shaper's hold on
 * a channel):
 * a closed gate keeps data in the send queue (tcp_write() stops taking it
 * once the buffer is full, nothing is dropped), ACKs still go out,
 * tcp_kick() sends what the gate lets through, one sent() per data
 * segment, FIN after the data. */
#include <criterion/criterion.h>
#include <string.h>

#include "harness.h"

static struct harness H;
static struct harness *h = &H;

static void fini(void)
{
	h_fini(h);
}

TestSuite(gate, .fini = fini);

struct test_gate {
	int permits;       /* data segments it lets through */
	unsigned asked, sent;
	uint32_t bytes;
	uint64_t min_rate;
};

static bool may_send(void *ctx, struct tcp_conn *c)
{
	(void)c;
	struct test_gate *g = ctx;
	g->asked++;
	return g->permits > 0;
}

static void sent(void *ctx, struct tcp_conn *c, uint32_t len)
{
	(void)c;
	struct test_gate *g = ctx;
	g->permits--;
	g->sent++;
	g->bytes += len;
}

static uint64_t min_rate(void *ctx, const struct tcp_conn *c)
{
	(void)c;
	return ((struct test_gate *)ctx)->min_rate;
}

static const struct tcp_gate gate = { may_send, sent, min_rate, NULL };

static struct h_seg S;

/* Established, the peer's MSS 1000, window 1000 << 7. */
static struct tcp_conn *est(uint32_t *iss)
{
	uint8_t o[40];
	unsigned n = o_mss(o, 1000);
	n += o_ws(o + n, 7);
	struct tcp_conn *c = h_accept(h, 1000, o, n, iss);
	h_send(h, 1001, *iss + 1, TH_ACK, 1000, NULL, 0, NULL, 0);
	h_clear(h);
	return c;
}

static unsigned data_segments(void)
{
	unsigned k = 0;
	for (unsigned i = 0; i < h->nout; i++) {
		h_out(h, i, &S);
		k += S.len > 0;
	}
	return k;
}

Test(gate, holds_until_kicked)
{
	h_init(h, NULL, TCP_AF_INET);
	uint32_t iss;
	struct tcp_conn *c = est(&iss);
	struct test_gate g = { 0 };
	tcp_stack_set_gate(h->st, &gate, &g);
	static uint8_t d[5000];
	memset(d, 'x', sizeof(d));
	cr_assert_eq(tcp_write(c, d, sizeof(d)), 5000, "the send queue takes it");
	cr_assert_eq(h->nout, 0, "a closed gate: nothing sent");
	cr_assert_geq(g.asked, 1);
	cr_assert_eq(tcp_unsent(c), 5000);
	g.permits = 1;
	tcp_kick(c);
	cr_assert_eq(data_segments(), 1, "one permit, one segment");
	h_out(h, 0, &S);
	cr_assert_eq(S.len, 1000);
	cr_assert_eq(g.sent, 1);
	cr_assert_eq(g.bytes, 1000);
	cr_assert_eq(tcp_unsent(c), 4000);
	cr_assert_eq(tcp_unacked(c), 5000);
	h_clear(h);
	/* the peer's ACK frees the segment; the gate still holds the rest */
	h_send(h, 1001, iss + 1 + 1000, TH_ACK, 1000, NULL, 0, NULL, 0);
	cr_assert_eq(data_segments(), 0);
	cr_assert_eq(tcp_unacked(c), 4000);
	/* data from the peer is ACKed whatever the gate says */
	uint8_t in[100] = { 0 };
	h_send(h, 1001, iss + 1 + 1000, TH_ACK, 1000, NULL, 0, in, sizeof(in));
	cr_assert_eq(h->nout, 1, "an ACK");
	h_out(h, 0, &S);
	cr_assert_eq(S.len, 0);
	cr_assert_eq(S.ack, 1101);
	h_clear(h);
	/* FIN waits behind the held data, then follows it */
	tcp_shutdown(c);
	cr_assert_eq(h->nout, 0);
	g.permits = 100;
	tcp_kick(c);
	cr_assert_eq(data_segments(), 4);
	h_out(h, h->nout - 1, &S);
	cr_assert(S.flags & TH_FIN, "FIN after the last byte");
	cr_assert_eq(tcp_unsent(c), 0);
}

Test(gate, full_queue_back_pressure)
{
	struct tcp_config cfg = { .sndbuf = 8000 };
	h_init(h, &cfg, TCP_AF_INET);
	uint32_t iss;
	struct tcp_conn *c = est(&iss);
	struct test_gate g = { 0 };
	tcp_stack_set_gate(h->st, &gate, &g);
	static uint8_t d[20000];
	cr_assert_eq(tcp_write(c, d, sizeof(d)), 8000, "takes what fits");
	cr_assert_eq(tcp_write(c, d, 1), 0, "then nothing: the writer waits");
	cr_assert_eq(h->nout, 0);
	/* time passes: no retransmission timer for data never sent */
	h_advance(h, 5000000);
	cr_assert_eq(data_segments(), 0);
	cr_assert_eq(tcp_unsent(c), 8000, "held, not dropped");
	/* the gate removed: everything the window allows goes */
	tcp_stack_set_gate(h->st, NULL, NULL);
	tcp_kick(c);
	cr_assert_eq(data_segments(), 8);
	cr_assert_eq(tcp_unsent(c), 0);
}

/* tcp_gate.min_rate: a loss (here a retransmission timeout) leaves the
 * slow-start threshold at the granted rate's BDP x 1.25 at least, where
 * CUBIC alone would cut it to a few segments. */
static uint32_t ssthresh_after_rto(uint64_t min_rate_bps)
{
	h_init(h, NULL, TCP_AF_INET);
	uint32_t iss;
	struct tcp_conn *c = est(&iss);
	c->srtt_us = c->min_rtt_us = 10000;
	c->rttvar_us = 5000;
	static struct test_gate g;
	g = (struct test_gate){ .permits = 1 << 30, .min_rate = min_rate_bps };
	tcp_stack_set_gate(h->st, &gate, &g);
	static uint8_t d[10000];
	cr_assert_eq(tcp_write(c, d, sizeof(d)), (long)sizeof(d));
	cr_assert_eq(data_segments(), 10);
	h_advance(h, 2000000); /* nothing acknowledged: the RTO fires */
	cr_assert_geq(c->stats.rto_expiries, 1);
	uint32_t t = c->ssthresh;
	h_fini(h);
	return t;
}

Test(gate, min_rate_floor)
{
	/* 80 Mbit/s x 10 ms x 1.25 = 125000 bytes */
	cr_expect_geq(ssthresh_after_rto(80000000), 125000);
	cr_expect_lt(ssthresh_after_rto(0), 20000, "CUBIC alone: a few segments");
}
