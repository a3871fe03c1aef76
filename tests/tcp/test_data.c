/* SPDX-License-Identifier: BSD-3-Clause */
/* Data transfer: receive queue, out-of-order queue and its bound, delayed
 * ACKs, the window from real free space, zero windows and probes; sending
 * with RTO (RFC 6298, Karn), fast retransmit, NewReno and SACK recovery,
 * back-pressure; and two engines back to back over a lossy, duplicating,
 * reordering wire with a fixed seed, byte-exact. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "wire.h"

static struct harness H;
static struct harness *h = &H;

static void fini(void)
{
	h_fini(h);
}

TestSuite(data, .fini = fini);

static uint8_t pattern(uint64_t i)
{
	return (uint8_t)(i * 2654435761u >> 13);
}

static void fill(uint8_t *b, uint64_t off, size_t n)
{
	for (size_t i = 0; i < n; i++)
		b[i] = pattern(off + i);
}

/* Established connection, peer ISN 1000, peer window `wnd` (scale 0 when
 * ws < 0), SACK and timestamps as asked. */
static struct tcp_conn *est(uint32_t *iss, bool sack, int ws)
{
	uint8_t o[40];
	unsigned n = o_mss(o, 1000);
	if (sack)
		n += o_sackok(o + n);
	if (ws >= 0)
		n += o_ws(o + n, (uint8_t)ws);
	return h_accept(h, 1000, o, n, iss);
}

static struct h_seg S;

/* A LAN-like path: 1 ms RTT measured (RACK's reordering window is
 * min_RTT / 4; a handshake in zero injected time would measure 1 us). */
static void lan_rtt(struct tcp_conn *c)
{
	c->srtt_us = c->min_rtt_us = 1000;
	c->rttvar_us = 500;
}

Test(data, in_order_delivery_and_delayed_ack)
{
	h_init(h, NULL, TCP_AF_INET);
	uint32_t iss;
	struct tcp_conn *c = est(&iss, false, 7);
	uint8_t d[3000];
	fill(d, 0, sizeof(d));
	/* the first segments are ACKed at once (the peer's slow start,
	 * as Linux does) */
	h_send(h, 1001, iss + 1, TH_ACK, 1000, NULL, 0, d, 1000);
	cr_assert_eq(h->nout, 1, "quick ACK at the start");
	h_clear(h);
	c->quickack = 0; /* the quick-ACK period is over */
	tcp_read(c, d, 1000);
	fill(d, 0, sizeof(d));
	h_send(h, 2001, iss + 1, TH_ACK, 1000, NULL, 0, d, 1000);
	cr_assert(h->events & TCP_EV_READABLE);
	cr_assert_eq(h->nout, 0, "then a lone full segment: ACK delayed");
	h_advance(h, 39999);
	cr_assert_eq(h->nout, 0);
	h_advance(h, 1);
	cr_assert_eq(h->nout, 1, "delayed ACK after 40 ms");
	h_out(h, 0, &S);
	cr_assert_eq(S.ack, 3001);
	h_clear(h);
	h_send(h, 3001, iss + 1, TH_ACK, 1000, NULL, 0, d + 1000, 1000);
	h_send(h, 4001, iss + 1, TH_ACK, 1000, NULL, 0, d + 2000, 1000);
	cr_assert_eq(h->nout, 1, "every second full segment ACKed at once");
	h_out(h, 0, &S);
	cr_assert_eq(S.ack, 5001);
	uint8_t got[3000];
	cr_assert_eq(tcp_read(c, got, sizeof(got)), 3000);
	cr_assert_eq(memcmp(got, d, 3000), 0);
}

Test(data, out_of_order_sack_and_reassembly)
{
	h_init(h, NULL, TCP_AF_INET);
	uint32_t iss;
	struct tcp_conn *c = est(&iss, true, 7);
	uint8_t d[5000];
	fill(d, 0, sizeof(d));
	/* segments 2 and 4 first: two SACK blocks, latest first */
	h_send(h, 2001, iss + 1, TH_ACK, 1000, NULL, 0, d + 1000, 1000);
	h_out(h, 0, &S);
	cr_assert_eq(S.ack, 1001, "duplicate ACK at once");
	cr_assert_eq(S.opt.nsack, 1);
	cr_assert_eq(S.opt.sack[0][0], 2001);
	cr_assert_eq(S.opt.sack[0][1], 3001);
	h_send(h, 4001, iss + 1, TH_ACK, 1000, NULL, 0, d + 3000, 1000);
	h_out(h, 1, &S);
	cr_assert_eq(S.opt.nsack, 2);
	cr_assert_eq(S.opt.sack[0][0], 4001);
	cr_assert_eq(S.opt.sack[1][0], 2001);
	/* segment 3 joins both blocks */
	h_send(h, 3001, iss + 1, TH_ACK, 1000, NULL, 0, d + 2000, 1000);
	h_out(h, 2, &S);
	cr_assert_eq(S.opt.nsack, 1);
	cr_assert_eq(S.opt.sack[0][0], 2001);
	cr_assert_eq(S.opt.sack[0][1], 5001);
	cr_assert_eq(tcp_readable(c), 0);
	/* a duplicate of segment 4: D-SACKed, and not counted as received */
	h_send(h, 4001, iss + 1, TH_ACK, 1000, NULL, 0, d + 3000, 1000);
	h_out(h, 3, &S);
	cr_assert_eq(S.ack, 1001);
	cr_assert_geq(S.opt.nsack, 1);
	cr_assert_eq(S.opt.sack[0][0], 4001, "D-SACK first (RFC 2883)");
	cr_assert_eq(S.opt.sack[0][1], 5001);
	/* an overlapping retransmission fills the hole */
	h_send(h, 1001, iss + 1, TH_ACK, 1000, NULL, 0, d, 1500);
	h_out(h, 4, &S);
	cr_assert_eq(S.ack, 5001, "hole filled: ACK at once");
	cr_assert_eq(S.opt.nsack, 0);
	cr_assert_eq(tcp_readable(c), 4000);
	uint8_t got[4000];
	cr_assert_eq(tcp_read(c, got, 4000), 4000);
	cr_assert_eq(memcmp(got, d, 4000), 0);
	struct tcp_conn_stats cs;
	tcp_conn_stats(c, &cs);
	cr_assert_eq(cs.ooo_bytes, 3000);
	cr_assert_eq(cs.bytes_in, 4000, "each byte counted once (%lu)", (unsigned long)cs.bytes_in);
	cr_assert_eq(cs.dup_bytes, 1500, "the duplicate segment and the overlap");
	cr_assert_eq(c->oooq.bytes, 0);
	struct tcp_tenant_stats ts;
	tcp_tenant_stats(h->st, 0, &ts);
	cr_assert_eq(ts.buffered, 0, "all accounted bytes released");
}

Test(data, out_of_order_fin_taken_when_the_hole_fills)
{
	h_init(h, NULL, TCP_AF_INET);
	uint32_t iss;
	struct tcp_conn *c = est(&iss, true, 7);
	uint8_t d[2000];
	fill(d, 0, sizeof(d));
	h_send(h, 2001, iss + 1, TH_ACK | TH_FIN, 1000, NULL, 0, d + 1000, 1000);
	cr_assert_eq(tcp_state(c), TCP_ESTABLISHED, "FIN beyond a hole: held");
	h_send(h, 1001, iss + 1, TH_ACK, 1000, NULL, 0, d, 1000);
	cr_assert_eq(tcp_state(c), TCP_CLOSE_WAIT);
	cr_assert(h->events & TCP_EV_PEER_FIN);
	h_out(h, h->nout - 1, &S);
	cr_assert_eq(S.ack, 3002, "data and FIN acknowledged");
	uint8_t got[2000];
	cr_assert_eq(tcp_read(c, got, sizeof(got)), 2000);
	cr_assert_eq(memcmp(got, d, 2000), 0);
}

Test(data, out_of_order_bytes_bounded)
{
	struct tcp_config cfg = { .ooo_max = 2500 };
	h_init(h, &cfg, TCP_AF_INET);
	uint32_t iss;
	struct tcp_conn *c = est(&iss, true, 7);
	uint8_t d[1000] = { 0 };
	h_send(h, 2001, iss + 1, TH_ACK, 1000, NULL, 0, d, 1000);
	h_send(h, 4001, iss + 1, TH_ACK, 1000, NULL, 0, d, 1000);
	h_send(h, 6001, iss + 1, TH_ACK, 1000, NULL, 0, d, 1000); /* over the bound */
	cr_assert_eq(c->oooq.bytes, 2000);
	h_out(h, 2, &S);
	cr_assert_eq(S.opt.sack[0][0], 4001, "the refused segment is not SACKed");
}

Test(data, window_from_free_space_and_update)
{
	struct tcp_config cfg = { .rcvbuf = 8000 };
	h_init(h, &cfg, TCP_AF_INET);
	uint32_t iss;
	struct tcp_conn *c = est(&iss, false, 0);
	cr_assert_eq(c->rcv_wscale, 0);
	uint8_t d[1000] = { 0 };
	uint32_t seq = 1001;
	for (int i = 0; i < 8; i++, seq += 1000)
		h_send(h, seq, iss + 1, TH_ACK, 1000, NULL, 0, d, 1000);
	h_out(h, h->nout - 1, &S);
	cr_assert_eq(S.ack, 9001);
	cr_assert_eq(S.wnd, 0, "nothing read: window closed (%u)", S.wnd);
	h_clear(h);
	/* beyond the window: not accepted, ACKed */
	h_send(h, seq, iss + 1, TH_ACK, 1000, NULL, 0, d, 1000);
	cr_assert_eq(tcp_readable(c), 8000);
	h_out(h, 0, &S);
	cr_assert_eq(S.ack, 9001);
	h_clear(h);
	/* a zero-window probe of one byte: ACKed, not taken */
	h_send(h, seq, iss + 1, TH_ACK, 1000, NULL, 0, d, 1);
	cr_assert_eq(tcp_readable(c), 8000);
	h_out(h, 0, &S);
	cr_assert_eq(S.wnd, 0);
	h_clear(h);
	uint8_t got[8000];
	cr_assert_eq(tcp_read(c, got, 500), 500);
	cr_assert_eq(h->nout, 0, "no update for less than one MSS (SWS avoidance)");
	cr_assert_eq(tcp_read(c, got, 3000), 3000);
	cr_assert_eq(h->nout, 1, "window update once it moves usefully");
	h_out(h, 0, &S);
	cr_assert_eq(S.wnd, 3500);
}

Test(data, send_segments_within_cwnd)
{
	h_init(h, NULL, TCP_AF_INET);
	uint32_t iss;
	struct tcp_conn *c = est(&iss, false, 7);
	static uint8_t d[30000];
	fill(d, 0, sizeof(d));
	cr_assert_eq(tcp_write(c, d, sizeof(d)), (long)sizeof(d));
	cr_assert_eq(h->nout, 10, "initial window of 10 segments");
	for (unsigned i = 0; i < 10; i++) {
		h_out(h, i, &S);
		cr_assert_eq(S.seq, iss + 1 + 1000 * i);
		cr_assert_eq(S.len, 1000, "MSS from the peer's option");
		cr_assert(S.csum_ok);
		cr_assert_eq(memcmp(S.payload, d + 1000 * i, 1000), 0);
	}
	h_clear(h);
	h_send(h, 1001, iss + 1 + 2000, TH_ACK, 1000, NULL, 0, NULL, 0);
	cr_assert_eq(h->nout, 4, "slow start: 2 acked segments open 4");
}

Test(data, rto_backoff_and_karn)
{
	h_init(h, NULL, TCP_AF_INET);
	uint32_t iss;
	struct tcp_conn *c = est(&iss, false, 7);
	/* one RTT sample of 10 ms first */
	tcp_write(c, "x", 1);
	h_clear(h);
	h->now += 10000;
	h_send(h, 1001, iss + 2, TH_ACK, 1000, NULL, 0, NULL, 0);
	struct tcp_conn_stats cs;
	tcp_conn_stats(c, &cs);
	uint32_t srtt = cs.srtt_us;
	cr_assert_gt(srtt, 1000, "sample taken: %u", srtt);
	cr_assert_eq(cs.rto_us, 200000, "RTO floor of 200 ms");
	tcp_write(c, "yz", 2);
	h_clear(h);
	h_advance(h, 199999);
	cr_assert_eq(h->nout, 0);
	h_advance(h, 1);
	cr_assert_eq(h->nout, 1, "retransmitted at 200 ms");
	h_out(h, 0, &S);
	cr_assert_eq(S.seq, iss + 2);
	cr_assert_eq(S.len, 2);
	h_advance(h, 399999);
	cr_assert_eq(h->nout, 1);
	h_advance(h, 1);
	cr_assert_eq(h->nout, 2, "backoff: next at +400 ms");
	cr_assert_eq(c->cwnd, c->snd_mss, "loss window");
	h->now += 50000;
	h_send(h, 1001, iss + 4, TH_ACK, 1000, NULL, 0, NULL, 0);
	tcp_conn_stats(c, &cs);
	cr_assert_eq(cs.srtt_us, srtt, "Karn: no sample from a retransmitted segment");
	cr_assert_eq(cs.rto_expiries, 2);
	cr_assert_eq(c->t_rto, 0, "all acknowledged: timer off");
}

Test(data, retries_exhausted_reset)
{
	struct tcp_config cfg = { .max_retries = 3 };
	h_init(h, &cfg, TCP_AF_INET);
	uint32_t iss;
	struct tcp_conn *c = est(&iss, false, 7);
	tcp_write(c, "abc", 3);
	for (int i = 0; i < 10 && tcp_state(c) != TCP_CLOSED; i++)
		h_advance(h, 60000000);
	cr_assert(h->events & TCP_EV_TIMEOUT);
	cr_assert_eq(tcp_state(c), TCP_CLOSED);
	h_out(h, h->nout - 1, &S);
	cr_assert(S.flags & TH_RST);
	tcp_close(c);
}

static void dupack(uint32_t iss, uint32_t ack, const uint32_t (*b)[2], unsigned n)
{
	uint8_t o[40];
	unsigned ol = n ? o_sack(o, b, n) : 0;
	h_send(h, 1001, iss + 1 + ack, TH_ACK, 65535, o, ol, NULL, 0);
}

Test(data, newreno_fast_retransmit_and_partial_ack)
{
	struct tcp_config cfg = { .flags = TCP_CFG_NEWRENO };
	h_init(h, &cfg, TCP_AF_INET);
	uint32_t iss;
	struct tcp_conn *c = est(&iss, false, 7);
	static uint8_t d[10000];
	fill(d, 0, sizeof(d));
	tcp_write(c, d, sizeof(d));
	cr_assert_eq(h->nout, 10);
	h_clear(h);
	/* segment 0 and 3 lost: ACKs for 1, 2 are duplicates of 0 */
	dupack(iss, 0, NULL, 0);
	dupack(iss, 0, NULL, 0);
	cr_assert_eq(h->nout, 0);
	dupack(iss, 0, NULL, 0);
	cr_assert(c->flags & TF_IN_RECOVERY);
	cr_assert_eq(h->nout, 1, "fast retransmit on the third duplicate");
	h_out(h, 0, &S);
	cr_assert_eq(S.seq, iss + 1);
	cr_assert_eq(S.len, 1000);
	cr_assert_eq(memcmp(S.payload, d, 1000), 0);
	cr_assert_eq(c->ssthresh, 5000);
	h_clear(h);
	/* partial ACK up to the second hole: retransmit it at once */
	dupack(iss, 3000, NULL, 0);
	cr_assert(c->flags & TF_IN_RECOVERY);
	h_out(h, 0, &S);
	cr_assert_eq(S.seq, iss + 1 + 3000);
	h_clear(h);
	dupack(iss, 10000, NULL, 0);
	cr_assert(!(c->flags & TF_IN_RECOVERY), "full ACK ends recovery");
	cr_assert_leq(c->cwnd, 5000);
	struct tcp_conn_stats cs;
	tcp_conn_stats(c, &cs);
	cr_assert_eq(cs.fast_recoveries, 1);
	cr_assert_eq(cs.retrans_segs, 2);
}

Test(data, sack_recovery_retransmits_only_holes)
{
	h_init(h, NULL, TCP_AF_INET);
	uint32_t iss;
	struct tcp_conn *c = est(&iss, true, 7);
	lan_rtt(c);
	static uint8_t d[10000];
	fill(d, 0, sizeof(d));
	tcp_write(c, d, sizeof(d));
	h_clear(h);
	h_advance(h, 1000); /* the ACKs come one RTT later */
	uint32_t b = iss + 1;
	/* segments 0 and 2 lost; 1, 3, 4, 5 arrive */
	uint32_t blk[2][2] = { { b + 3000, b + 4000 }, { b + 1000, b + 2000 } };
	dupack(iss, 0, blk, 1);
	cr_assert(!(c->flags & TF_IN_RECOVERY), "1 SMSS SACKed: not yet");
	blk[0][1] = b + 5000;
	dupack(iss, 0, blk, 2);
	cr_assert(c->flags & TF_IN_RECOVERY, "3 SMSS SACKed (RFC 6675 IsLost)");
	cr_assert_geq(h->nout, 1);
	h_out(h, 0, &S);
	cr_assert_eq(S.seq, b);
	for (unsigned i = 1; i < h->nout; i++) {
		h_out(h, i, &S);
		cr_assert(!(S.seq >= b + 1000 && S.seq < b + 2000), "SACKed data resent");
		cr_assert(!(S.seq >= b + 3000 && S.seq < b + 6000), "SACKed data resent");
	}
	bool hole2 = false;
	for (unsigned round = 0; round < 4 && !hole2; round++) {
		for (unsigned i = 0; i < h->nout; i++) {
			h_out(h, i, &S);
			if (S.seq == b + 2000)
				hole2 = true;
		}
		if (!hole2) {
			h_clear(h);
			blk[0][1] = b + 7000 + 1000 * round;
			dupack(iss, 0, blk, 2);
		}
	}
	cr_assert(hole2, "second hole retransmitted");
	h_clear(h);
	dupack(iss, 10000, NULL, 0);
	cr_assert_eq(c->snd_una, b + 10000, "una %u max %u recover %u", c->snd_una - b, c->snd_max - b, c->recover - b);
	cr_assert(!(c->flags & TF_IN_RECOVERY));
	cr_assert_eq(c->nsb, 0);
}

Test(data, limited_transmit_on_first_dupacks)
{
	h_init(h, NULL, TCP_AF_INET);
	uint32_t iss;
	struct tcp_conn *c = est(&iss, true, 7);
	lan_rtt(c);
	static uint8_t d[20000];
	tcp_write(c, d, sizeof(d));
	cr_assert_eq(h->nout, 10);
	h_clear(h);
	h_advance(h, 1000); /* the ACKs come one RTT later */
	uint32_t b = iss + 1;
	uint32_t blk[1][2] = { { b + 1000, b + 2000 } };
	dupack(iss, 0, blk, 1);
	cr_assert_eq(h->nout, 1, "first duplicate: one new segment");
	h_out(h, 0, &S);
	cr_assert_eq(S.seq, b + 10000);
	blk[0][1] = b + 3000;
	h_send(h, 1001, b, TH_ACK, 65000, NULL, 0, NULL, 0); /* window moved: not a dup */
	cr_assert_eq(h->nout, 1);
	uint8_t o[40];
	h_send(h, 1001, b, TH_ACK, 64000, o, o_sack(o, blk, 1), NULL, 0);
	cr_assert_eq(c->dupacks, 2, "new SACK info counts even with a moved window");
	cr_assert_eq(h->nout, 2, "second duplicate: another");
	cr_assert(!(c->flags & TF_IN_RECOVERY));
}

Test(data, forged_sack_blocks_ignored)
{
	h_init(h, NULL, TCP_AF_INET);
	uint32_t iss;
	struct tcp_conn *c = est(&iss, true, 7);
	static uint8_t d[5000];
	tcp_write(c, d, sizeof(d));
	uint32_t b = iss + 1;
	uint32_t blk[3][2] = { { b + 4000, b + 90000 },  /* beyond SND.MAX */
			       { b - 500, b },           /* below SND.UNA (D-SACK) */
			       { b + 3000, b + 2000 } }; /* reversed */
	dupack(iss, 0, blk, 3);
	cr_assert_eq(c->nsb, 0);
	cr_assert_eq(c->sacked_bytes, 0);
}

Test(data, zero_window_probe_and_reopen)
{
	h_init(h, NULL, TCP_AF_INET);
	uint32_t iss;
	struct tcp_conn *c = est(&iss, false, 0);
	h_send(h, 1001, iss + 1, TH_ACK, 0, NULL, 0, NULL, 0); /* window closes */
	h_clear(h);
	tcp_write(c, "hello", 5);
	cr_assert_eq(h->nout, 0, "nothing fits a zero window");
	cr_assert(c->t_persist);
	/* the handshake RTT was ~0: RTO and the first probe at 200 ms */
	h_advance(h, 200000);
	cr_assert_eq(h->nout, 1, "a probe");
	h_out(h, 0, &S);
	cr_assert_eq(S.len, 1);
	cr_assert_eq(S.seq, iss + 1);
	h_clear(h);
	h_advance(h, 399999);
	cr_assert_eq(h->nout, 0, "probes back off");
	h_advance(h, 1);
	cr_assert_eq(h->nout, 1);
	h_clear(h);
	h_send(h, 1001, iss + 1, TH_ACK, 100, NULL, 0, NULL, 0); /* reopens */
	cr_assert_eq(h->nout, 1);
	h_out(h, 0, &S);
	cr_assert_eq(S.len, 5);
	cr_assert_eq(memcmp(S.payload, "hello", 5), 0);
	cr_assert_eq(c->t_persist, 0);
}

static unsigned writable_events;
static void count_writable(struct harness *hh, struct tcp_conn *c, uint32_t ev)
{
	if (ev & TCP_EV_WRITABLE)
		writable_events++;
}

Test(data, write_back_pressure)
{
	struct tcp_config cfg = { .sndbuf = 8000 };
	h_init(h, &cfg, TCP_AF_INET);
	uint32_t iss;
	struct tcp_conn *c = est(&iss, false, 7);
	h->on_event = count_writable;
	writable_events = 0;
	static uint8_t d[20000];
	cr_assert_eq(tcp_write(c, d, sizeof(d)), 8000, "takes what fits");
	cr_assert_eq(tcp_write(c, d, 1), 0, "then nothing");
	cr_assert_eq(tcp_writable(c), 0);
	h_send(h, 1001, iss + 1 + 1000, TH_ACK, 1000, NULL, 0, NULL, 0);
	cr_assert_eq(writable_events, 0, "not for a sliver of room");
	h_send(h, 1001, iss + 1 + 4000, TH_ACK, 1000, NULL, 0, NULL, 0);
	cr_assert_eq(writable_events, 1, "room again: one event");
	cr_assert_eq(tcp_writable(c), 4000);
}

Test(data, fin_after_queued_data)
{
	h_init(h, NULL, TCP_AF_INET);
	uint32_t iss;
	struct tcp_conn *c = est(&iss, false, 7);
	h_send(h, 1001, iss + 1, TH_ACK, 0, NULL, 0, NULL, 0);
	tcp_write(c, "abcdef", 6);
	tcp_close(c);
	h_clear(h);
	h_send(h, 1001, iss + 1, TH_ACK, 1000, NULL, 0, NULL, 0);
	h_out(h, 0, &S);
	cr_assert_eq(S.len, 6);
	cr_assert_eq(S.flags & TH_FIN, TH_FIN, "FIN rides on the last segment");
	h_send(h, 1001, iss + 8, TH_ACK | TH_FIN, 1000, NULL, 0, NULL, 0);
	struct tcp_stack_stats s;
	tcp_stack_stats(h->st, &s);
	cr_assert_eq(s.conns, 1, "TIME-WAIT");
}

TestSuite(pair);

Test(pair, one_byte_each_way)
{
	run_pair(TCP_AF_INET, 1, 1, 0, 0, 0, 1, NULL);
}

Test(pair, one_mib_clean_ipv6)
{
	run_pair(TCP_AF_INET6, 1 << 20, 1 << 20, 0, 0, 0, 2, NULL);
}

Test(pair, one_mib_with_drop_dup_reorder)
{
	run_pair(TCP_AF_INET, 1 << 20, 1 << 19, 2, 1, 3, 12345, NULL);
}

Test(pair, heavy_loss)
{
	run_pair(TCP_AF_INET, 256 << 10, 256 << 10, 10, 2, 5, 777, NULL);
}

/* CUBIC's curve (RFC 9438) driven directly: a 100-segment window, one loss,
 * then ACKs spread evenly over 100 ms RTTs. */
Test(data, cubic_reduction_and_curve)
{
	h_init(h, NULL, TCP_AF_INET);
	uint32_t iss;
	struct tcp_conn *c = est(&iss, false, 7);
	uint32_t mss = c->snd_mss;
	c->cwnd = 100 * mss;
	c->ssthresh = 50 * mss; /* in congestion avoidance */
	c->srtt_us = 100000;
	c->snd_max = c->snd_una + 100 * mss;
	tcp_cc_enter_recovery(c);
	cr_assert_eq(c->ssthresh, 70 * mss, "beta 0.7");
	cr_assert_eq(c->cubic_wmax, 100 * mss);
	tcp_cc_exit_recovery(c);
	cr_assert_eq(c->cwnd, 70 * mss);
	c->snd_max = c->snd_una;
	/* K = cbrt(30 / 0.4) = 4.217 s */
	uint32_t at_half = 0, at_k = 0, at_2k = 0;
	for (unsigned ms = 1; ms <= 9000; ms++) {
		h->now += 1000;
		c->st->now = h->now;
		tcp_cc_ack(c, c->cwnd / 100);
		if (ms == 2100)
			at_half = c->cwnd;
		if (ms == 4117) /* K - one RTT: the target looks one RTT ahead */
			at_k = c->cwnd;
		if (ms == 8434)
			at_2k = c->cwnd;
	}
	cr_assert_eq(c->cubic_k_us / 1000, 4217, "K %u ms", c->cubic_k_us / 1000);
	cr_assert(at_half > 85 * mss && at_half < 100 * mss, "concave: %u", at_half / mss);
	cr_assert(at_k >= 98 * mss && at_k <= 102 * mss, "plateau at W_max: %u", at_k / mss);
	cr_assert(at_2k > 120 * mss, "convex beyond W_max: %u", at_2k / mss);
	/* fast convergence: a loss below the last W_max lowers it further */
	uint32_t w = 90 * mss;
	c->cwnd = w;
	c->cubic_wmax = 100 * mss;
	c->snd_max = c->snd_una + w;
	tcp_cc_enter_recovery(c);
	cr_assert_eq(c->cubic_wmax, (uint32_t)(w * 0.85));
}

Test(data, pacing_spreads_a_window_over_the_rtt)
{
	h_init(h, NULL, TCP_AF_INET);
	uint32_t iss;
	struct tcp_conn *c = est(&iss, false, 7);
	c->srtt_us = 10000;
	c->min_rtt_us = 10000;
	c->rttvar_us = 1000;
	c->cwnd = 40000;
	static uint8_t d[60000];
	tcp_write(c, d, sizeof(d));
	/* slow start, 40 segments of 1000: 2 x 40000 / 10 ms = 8 bytes/us,
	 * one segment per 125 us after a credit of 10 segments */
	cr_assert(h->nout >= 10 && h->nout <= 11, "burst credit: %u", h->nout);
	cr_assert(c->t_pace);
	unsigned first = h->nout;
	for (unsigned us = 0; us < 1000; us += 25)
		h_advance(h, 25);
	cr_assert(h->nout - first >= 7 && h->nout - first <= 9, "8 per ms: %u",
		  h->nout - first);
	for (unsigned us = 0; us < 10000; us += 25)
		h_advance(h, 25);
	cr_assert_eq(h->nout, 40, "then the congestion window limits");
	struct tcp_config cfg2 = { .flags = TCP_CFG_NO_PACING };
	h_fini(h);
	h_init(h, &cfg2, TCP_AF_INET);
	c = est(&iss, false, 7);
	c->srtt_us = 10000;
	c->cwnd = 40000;
	tcp_write(c, d, sizeof(d));
	cr_assert_eq(h->nout, 40, "without pacing, the window goes at once");
}

Test(data, tail_loss_probe_before_rto)
{
	h_init(h, NULL, TCP_AF_INET);
	uint32_t iss;
	struct tcp_conn *c = est(&iss, true, 7);
	c->srtt_us = 1000;
	c->rttvar_us = 500;
	c->rto_us = 200000;
	static uint8_t d[5000];
	fill(d, 0, sizeof(d));
	tcp_write(c, d, sizeof(d));
	cr_assert_eq(h->nout, 5);
	h_clear(h);
	/* the first two arrive; the tail (3 segments) is lost */
	h_send(h, 1001, iss + 1 + 2000, TH_ACK, 65535, NULL, 0, NULL, 0);
	cr_assert(c->flags & TF_PROBE);
	/* SRTT is about 1 ms (the ACK added a sample): PTO = 2 SRTT */
	h_advance(h, 1000);
	cr_assert_eq(h->nout, 0, "not before 1 ms");
	for (int i = 0; i < 10 && !h->nout; i++)
		h_advance(h, 100);
	cr_assert_eq(h->nout, 1, "probe by 2 ms");
	h_out(h, 0, &S);
	cr_assert_eq(S.seq, iss + 1 + 4000, "the last segment again");
	cr_assert_eq(S.len, 1000);
	struct tcp_conn_stats cs;
	tcp_conn_stats(c, &cs);
	cr_assert_eq(cs.tail_probes, 1);
	cr_assert_eq(cs.rto_expiries, 0);
	/* its SACK starts recovery for the rest */
	h_clear(h);
	uint32_t b = iss + 1;
	uint32_t blk[1][2] = { { b + 4000, b + 5000 } };
	uint8_t o[40];
	h_send(h, 1001, b + 2000, TH_ACK, 65535, o, o_sack(o, blk, 1), NULL, 0);
	/* RFC 8985: what was sent before the probe's data is lost once the
	 * reordering window (min_RTT / 4) has passed */
	for (int i = 0; i < 10 && !(c->flags & TF_IN_RECOVERY); i++)
		h_advance(h, 100);
	cr_assert(c->flags & TF_IN_RECOVERY, "a probe's SACK is enough");
	cr_assert_geq(h->nout, 1);
	h_out(h, 0, &S);
	cr_assert_eq(S.seq, b + 2000, "the first lost segment goes first");
	tcp_conn_stats(c, &cs);
	cr_assert_eq(cs.rto_expiries, 0);
}
