/* SPDX-License-Identifier: BSD-3-Clause */
/* Loss recovery timelines with the injected clock: RACK (RFC 8985) marks
 * a lost retransmission lost again without an RTO, its reorder timer
 * fires after min_RTT/4, reordering within that window costs nothing,
 * PRR (RFC 6937) spreads the reduced window over the recovery episode,
 * tail probes; and the receiving side: D-SACK for duplicates (RFC 2883),
 * SACK compression behind a hole, an immediate ACK when it fills, the
 * SACK blocks (RFC 2018 4) with thousands of segments queued. */
#include <criterion/criterion.h>
#include <string.h>
#include <time.h>

#include "harness.h"

static struct harness H;
static struct harness *h = &H;
static struct h_seg S;

static void fini(void)
{
	h_fini(h);
}

TestSuite(recovery, .fini = fini);

enum { MSS = 1000 };

/* Established with SACK (no timestamps), peer MSS 1000, window 64 KiB <<
 * 7; a LAN path with a measured RTT of 1 ms; no pacing, so what leaves is
 * what the windows allow. */
static struct tcp_conn *setup(uint32_t *iss)
{
	struct tcp_config cfg = { .flags = TCP_CFG_NO_PACING };
	h_init(h, &cfg, TCP_AF_INET);
	uint8_t o[40];
	unsigned n = o_mss(o, MSS);
	n += o_sackok(o + n);
	n += o_ws(o + n, 7);
	struct tcp_conn *c = h_accept(h, 1000, o, n, iss);
	cr_assert_not_null(c);
	c->srtt_us = c->min_rtt_us = 1000;
	c->rttvar_us = 500;
	c->rto_us = 200000;
	return c;
}

/* The peer's ACK: cumulative `ack` bytes, SACK blocks relative to the
 * first data byte. */
static void ack(uint32_t iss, uint32_t cum, const uint32_t (*rel)[2], unsigned n)
{
	h_ack_sack(h, 1001, iss, cum, rel, n);
}

/* Segments sent since the last h_clear, relative sequence of each. */
static unsigned sent(uint32_t iss, uint32_t *rel, unsigned max)
{
	unsigned n = 0;
	for (unsigned i = 0; i < h->nout && n < max; i++) {
		h_out(h, i, &S);
		if (S.len)
			rel[n++] = S.seq - (iss + 1);
	}
	return n;
}

static bool sent_seq(uint32_t iss, uint32_t rel)
{
	uint32_t r[256];
	unsigned n = sent(iss, r, 256);
	for (unsigned i = 0; i < n; i++)
		if (r[i] == rel)
			return true;
	return false;
}

static struct tcp_conn_stats stats(struct tcp_conn *c)
{
	struct tcp_conn_stats cs;
	tcp_conn_stats(c, &cs);
	return cs;
}

static uint8_t data[200000];

/* setup() with a window of win segments, n segments written: the window
 * leaves at once (no pacing). */
static struct tcp_conn *flight(uint32_t *iss, unsigned win, unsigned n)
{
	struct tcp_conn *c = setup(iss);
	c->cwnd = win * MSS;
	tcp_write(c, data, n * MSS);
	cr_assert_eq(h->nout, win < n ? win : n);
	return c;
}

/* RFC 8985 6.2: a retransmission is lost too when something sent after
 * it is delivered and the reordering window has passed: it goes again at
 * once, with no RTO (200 ms). */
Test(recovery, lost_retransmission_found_without_rto)
{
	uint32_t iss;
	struct tcp_conn *c = flight(&iss, 20, 60);
	h_clear(h);
	h_advance(h, 1000);
	/* segment 0 lost; 1..3 SACKed: three segments above it, no
	 * reordering seen, so reo_wnd = 0 and it is lost at once */
	const uint32_t b3[1][2] = { { 1 * MSS, 4 * MSS } };
	ack(iss, 0, b3, 1);
	cr_assert(c->flags & TF_IN_RECOVERY);
	cr_assert(sent_seq(iss, 0), "fast retransmit of segment 0");
	h_clear(h);
	/* the retransmission is lost as well; the rest of the flight
	 * arrives, PRR releases new data (sent after the retransmission) */
	for (unsigned k = 5; k <= 20; k++) {
		h_advance(h, 50);
		const uint32_t bk[1][2] = { { 1 * MSS, k * MSS } };
		ack(iss, 0, bk, 1);
	}
	cr_assert(!sent_seq(iss, 0), "not again while only older data is delivered");
	uint32_t r[64];
	unsigned n = sent(iss, r, 64);
	cr_assert_gt(n, 0);
	uint32_t first_new = r[0];
	cr_assert_geq(first_new, 20 * MSS, "new data went out during recovery");
	h_clear(h);
	/* one RTT later the new data is SACKed: sent after the
	 * retransmission, so the retransmission is lost */
	h_advance(h, 1000);
	const uint32_t bn[1][2] = { { 1 * MSS, first_new + MSS } };
	ack(iss, 0, bn, 1);
	cr_assert(sent_seq(iss, 0), "segment 0 sent a third time, no RTO");
	struct tcp_conn_stats cs = stats(c);
	cr_assert_eq(cs.rto_expiries, 0);
	cr_assert_geq(cs.rack_marks, 2);
	/* and it arrives: recovery ends */
	h_clear(h);
	h_advance(h, 1000);
	ack(iss, c->snd_max - (iss + 1), NULL, 0);
	cr_assert(!(c->flags & TF_IN_RECOVERY));
	cr_assert_eq(c->lost_bytes, 0);
}

/* RFC 8985 6.3: with fewer than three segments SACKed and no recovery,
 * reo_wnd = min_RTT / 4 (250 us here): the hole is retransmitted when the
 * reorder timer fires, not before. */
Test(recovery, reorder_timer_fires_after_reo_wnd)
{
	uint32_t iss;
	struct tcp_conn *c = setup(&iss);
	c->cwnd = 10 * MSS;
	tcp_write(c, data, 10 * MSS);
	h_clear(h);
	h_advance(h, 1000);
	const uint32_t b1[1][2] = { { 1 * MSS, 2 * MSS } };
	ack(iss, 0, b1, 1);
	cr_assert(!(c->flags & TF_IN_RECOVERY));
	cr_assert_eq(h->nout, 0, "within the reordering window: wait");
	cr_assert_neq(c->t_rack, 0, "reorder timer armed");
	cr_assert_eq(c->t_rack, h->now + 250);
	h_advance(h, 200);
	cr_assert_eq(h->nout, 0);
	h_advance(h, 60);
	cr_assert(c->flags & TF_IN_RECOVERY, "the timer marked segment 0 lost");
	cr_assert(sent_seq(iss, 0));
	cr_assert_eq(c->t_rack, 0);
	struct tcp_conn_stats cs = stats(c);
	cr_assert_eq(cs.rto_expiries, 0);
	cr_assert_eq(cs.rack_marks, 1);
}

/* Reordering within reo_wnd: segment 0 arrives late but before the
 * window closes; nothing is retransmitted, no reduction. */
Test(recovery, reordering_within_reo_wnd_is_not_loss)
{
	uint32_t iss;
	struct tcp_conn *c = setup(&iss);
	c->cwnd = 10 * MSS;
	uint32_t cw = c->cwnd;
	tcp_write(c, data, 10 * MSS);
	h_clear(h);
	h_advance(h, 1000);
	const uint32_t b1[1][2] = { { 1 * MSS, 3 * MSS } };
	ack(iss, 0, b1, 1);
	h_advance(h, 100);
	ack(iss, 3 * MSS, NULL, 0); /* segment 0 arrived, reordered */
	h_advance(h, 1000);
	struct tcp_conn_stats cs = stats(c);
	cr_assert_eq(cs.retrans_segs, 0, "no spurious retransmission");
	cr_assert_eq(cs.fast_recoveries, 0);
	cr_assert(!(c->flags & TF_IN_RECOVERY));
	cr_assert_geq(c->cwnd, cw, "no reduction");
	for (unsigned i = 0; i < h->nout; i++) {
		h_out(h, i, &S);
		cr_assert_geq(S.seq, iss + 1 + 10 * MSS, "only new data");
	}
}

/* RFC 6937: 20 segments out, segment 0 lost, the other 19 SACKed one by
 * one. ssthresh = 0.7 x 20 = 14 segments; while the pipe is above it PRR
 * sends ceil(delivered x 14 / flight) - out, about 0.7 segment per ACK,
 * never a burst; the episode ends at ssthresh. */
Test(recovery, prr_spreads_the_reduction_over_the_episode)
{
	uint32_t iss;
	struct tcp_conn *c = flight(&iss, 20, 100);
	h_clear(h);
	h_advance(h, 1000);
	unsigned total = 0, maxper = 0;
	for (unsigned k = 2; k <= 20; k++) {
		const uint32_t bk[1][2] = { { 1 * MSS, k * MSS } };
		ack(iss, 0, bk, 1);
		unsigned n = 0;
		for (unsigned i = 0; i < h->nout; i++) {
			h_out(h, i, &S);
			n += S.len ? 1 : 0;
		}
		if (k == 2 || k == 3) {
			/* below three SACKed: wait out reo_wnd; limited
			 * transmit (RFC 3042) sends one new segment */
			cr_assert_eq(n, 1, "ACK %u: %u segments", k, n);
			cr_assert(!(c->flags & TF_IN_RECOVERY));
			h_clear(h);
			continue;
		}
		if (k == 4) {
			cr_assert(c->flags & TF_IN_RECOVERY);
			cr_assert_eq(c->ssthresh, 14 * MSS);
			h_out(h, 0, &S);
			cr_assert_eq(S.seq, iss + 1, "the fast retransmit first");
		}
		total += n;
		if (n > maxper)
			maxper = n;
		h_clear(h);
	}
	/* 22 segments out when recovery began; delivered during the
	 * episode: ACKs 4..20 = 17 segments (the entering ACK counts)
	 * -> ceil(17 x 14 / 22) = 11 */
	cr_assert(total >= 10 && total <= 12, "PRR sent %u segments", total);
	cr_assert_leq(maxper, 2, "no burst: %u in one ACK", maxper);
	h_advance(h, 1000);
	ack(iss, c->snd_max - (iss + 1), NULL, 0);
	cr_assert(!(c->flags & TF_IN_RECOVERY));
	cr_assert_eq(c->cwnd, 14 * MSS, "recovery ends at ssthresh");
	cr_assert_eq(stats(c).rto_expiries, 0);
}

/* A lost ACK at the tail during recovery: the probe (the last segment
 * again, which a Linux receiver ACKs at once) comes at PTO = 2 SRTT, a
 * second one at twice that, and only then the RTO. */
Test(recovery, probes_in_recovery_then_rto)
{
	uint32_t iss;
	struct tcp_conn *c = setup(&iss);
	c->cwnd = 10 * MSS;
	tcp_write(c, data, 10 * MSS);
	h_clear(h);
	h_advance(h, 1000);
	const uint32_t b3[1][2] = { { 1 * MSS, 10 * MSS } };
	ack(iss, 0, b3, 1);
	cr_assert(c->flags & TF_IN_RECOVERY);
	cr_assert(sent_seq(iss, 0));
	h_clear(h);
	/* the ACK of the retransmission is lost: SRTT is about 1 ms, the
	 * probe timer runs from the flight's first transmission (1 ms ago) */
	uint64_t t0 = h->now, first = 0, second = 0;
	for (unsigned i = 0; i < 300 && !second; i++) {
		h_advance(h, 100);
		if (h->nout && !first) {
			first = h->now - t0;
			h_out(h, 0, &S);
			cr_assert_eq(S.seq, iss + 1 + 9 * MSS, "the last segment");
			h_clear(h);
		} else if (h->nout && first) {
			second = h->now - t0;
		}
	}
	cr_assert(first >= 900 && first <= 1100, "first probe at %lu us", (unsigned long)first);
	cr_assert(second >= first + 3800 && second <= first + 5200,
		  "second probe at %lu us", (unsigned long)second);
	struct tcp_conn_stats cs = stats(c);
	cr_assert_eq(cs.tail_probes, 2);
	cr_assert_eq(cs.rto_expiries, 0);
	h_clear(h);
	h_advance(h, 250000);
	cr_assert_eq(stats(c).rto_expiries, 1, "then the RTO");
}

/* RFC 2883: a duplicate segment is reported in the first SACK block of
 * the ACK it causes, once; below RCV.NXT and inside the out-of-order
 * queue alike. */
Test(recovery, dsack_for_duplicates)
{
	uint32_t iss;
	setup(&iss);
	uint8_t d[MSS];
	memset(d, 7, sizeof(d));
	h_send(h, 1001, iss + 1, TH_ACK, 65535, NULL, 0, d, MSS);
	h_clear(h);
	h_send(h, 1001, iss + 1, TH_ACK, 65535, NULL, 0, d, MSS); /* again */
	cr_assert_eq(h->nout, 1, "a duplicate is ACKed at once");
	h_out(h, 0, &S);
	cr_assert_eq(S.ack, 2001);
	cr_assert_eq(S.opt.nsack, 1);
	cr_assert_eq(S.opt.sack[0][0], 1001, "D-SACK of the duplicate");
	cr_assert_eq(S.opt.sack[0][1], 2001);
	h_clear(h);
	/* out of order, then the same segment again */
	h_send(h, 3001, iss + 1, TH_ACK, 65535, NULL, 0, d, MSS);
	h_out(h, 0, &S);
	cr_assert_eq(S.opt.nsack, 1, "no D-SACK the second time");
	cr_assert_eq(S.opt.sack[0][0], 3001);
	h_clear(h);
	h_send(h, 3001, iss + 1, TH_ACK, 65535, NULL, 0, d, MSS);
	cr_assert_eq(h->nout, 1);
	h_out(h, 0, &S);
	cr_assert_eq(S.opt.nsack, 2);
	cr_assert_eq(S.opt.sack[0][0], 3001, "D-SACK first");
	cr_assert_eq(S.opt.sack[0][1], 4001);
	cr_assert_eq(S.opt.sack[1][0], 3001, "then the block holding it");
	cr_assert_eq(S.opt.sack[1][1], 4001);
}

/* Behind a hole: the first out-of-order segment is ACKed at once (a new
 * hole), segments that only extend the latest block share one SACK per
 * input burst (at most TCP_SACK_COMPRESS), the repair is ACKed at once. */
Test(recovery, sack_compression_behind_a_hole)
{
	uint32_t iss;
	struct tcp_conn *c = setup(&iss);
	uint8_t d[MSS];
	memset(d, 1, sizeof(d));
	h_send(h, 2001, iss + 1, TH_ACK, 65535, NULL, 0, d, MSS); /* hole at 1001 */
	cr_assert_eq(h->nout, 1, "a new hole: ACK at once");
	h_clear(h);
	for (uint32_t s = 3001; s < 3001 + 5 * MSS; s += MSS)
		h_send(h, s, iss + 1, TH_ACK, 65535, NULL, 0, d, MSS);
	cr_assert_eq(h->nout, 0, "extending the block: compressed");
	cr_assert_eq(c->t_delack, h->now, "at the next timer poll");
	h_advance(h, 0);
	cr_assert_eq(h->nout, 1, "one SACK for the burst");
	h_out(h, 0, &S);
	cr_assert_eq(S.ack, 1001);
	cr_assert_eq(S.opt.sack[0][0], 2001);
	cr_assert_eq(S.opt.sack[0][1], 8001);
	h_clear(h);
	/* a long burst: one ACK per TCP_SACK_COMPRESS segments */
	uint32_t s = 8001;
	for (unsigned i = 0; i < 2 * TCP_SACK_COMPRESS; i++, s += MSS)
		h_send(h, s, iss + 1, TH_ACK, 65535, NULL, 0, d, MSS);
	cr_assert_eq(h->nout, 2, "%u ACKs", h->nout);
	h_advance(h, 1000);
	h_clear(h);
	/* the repair */
	h_send(h, 1001, iss + 1, TH_ACK, 65535, NULL, 0, d, MSS);
	cr_assert_eq(h->nout, 1, "the hole filled: ACK at once");
	h_out(h, 0, &S);
	cr_assert_eq(S.ack, s);
	cr_assert_eq(S.opt.nsack, 0);
	cr_assert_eq(c->quickack, TCP_QUICKACKS);
}

/* RFC 8985 7.2: the probe timer is scheduled on sending. With one segment
 * out a probe would wait 2 SRTT + 200 ms (the receiver's delayed ACK), no
 * better than the RTO; when the flight grows it becomes 2 SRTT. */
Test(recovery, probe_timer_once_the_flight_grows)
{
	uint32_t iss;
	struct tcp_conn *c = flight(&iss, 10, 1);
	cr_assert(!(c->flags & TF_PROBE), "one segment: the RTO");
	cr_assert_eq(c->t_rto, h->now + c->rto_us);
	h_advance(h, 100);
	tcp_write(c, data, 5 * MSS);
	cr_assert_eq(h->nout, 6);
	cr_assert(c->flags & TF_PROBE, "six segments: a probe timer");
	cr_assert_eq(c->t_rto, h->now + 2 * c->srtt_us);
	h_clear(h);
	h_advance(h, 2 * c->srtt_us);
	cr_assert_eq(h->nout, 1);
	h_out(h, 0, &S);
	cr_assert_eq(S.seq, iss + 1 + 5 * MSS, "the last segment again");
	cr_assert_eq(stats(c).rto_expiries, 0);
}

/* RTT samples in microseconds from the send records, whatever the ISN:
 * RACK.fack starts at 0, which may lie "ahead" of SND.UNA. */
Test(recovery, rtt_samples_from_send_records_any_isn)
{
	uint32_t iss;
	struct tcp_conn *c = setup(&iss);
	c->rack_fack = c->snd_una + 0x40000000u; /* 0 seen from the far side */
	c->cwnd = 10 * MSS;
	tcp_write(c, data, 4 * MSS);
	h_advance(h, 300);
	ack(iss, 2 * MSS, NULL, 0);
	cr_assert_lt(c->srtt_us, 1000, "a 300 us sample moved SRTT: %u", c->srtt_us);
	cr_assert_eq(c->min_rtt_us, 300);
	cr_assert_eq(c->rack_fack, iss + 1 + 2 * MSS);
}

/* RFC 2018 4 with a long out-of-order queue (a 4 MiB window behind a hole
 * holds thousands of segments): the first block is the run holding the
 * latest segment, the others the most recently reported; and finding that
 * run costs one walk of the queue at most (the search restarted from
 * every segment of the runs before it: quadratic, half the receiver's CPU
 * under 1 % loss, so the sender's retransmissions waited in the port's
 * ring for milliseconds and went again). */
Test(recovery, sack_blocks_with_a_long_queue)
{
	uint32_t iss;
	struct tcp_conn *c = setup(&iss);
	enum { RUN = 2000, HOLES = 200 };
	uint8_t d[MSS];
	memset(d, 2, sizeof(d));
	/* hole at 1001, then RUN segments in one run from 2001 */
	uint32_t s = 2001;
	for (unsigned i = 0; i < RUN; i++, s += MSS) {
		h_send(h, s, iss + 1, TH_ACK, 65535, NULL, 0, d, MSS);
		h_clear(h);
	}
	cr_assert_eq(c->oooq.segs, RUN);
	/* a second run behind a second hole, then new holes one by one */
	uint32_t run2 = s + MSS;
	s = run2;
	for (unsigned i = 0; i < 4; i++, s += MSS)
		h_send(h, s, iss + 1, TH_ACK, 65535, NULL, 0, d, MSS);
	h_clear(h);
	struct timespec t0, t1;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
	uint32_t last = 0;
	for (unsigned i = 0; i < HOLES; i++) {
		s += MSS; /* a new hole before each */
		last = s;
		h_send(h, s, iss + 1, TH_ACK, 65535, NULL, 0, d, MSS);
		s += MSS;
		h_clear(h);
	}
	/* repairs in the middle: the hole after the first run, then the
	 * first of the new holes */
	h_send(h, run2 - MSS, iss + 1, TH_ACK, 65535, NULL, 0, d, MSS);
	cr_assert_eq(h->nout, 1, "a repair: ACK at once");
	h_out(h, 0, &S);
	cr_assert_eq(S.ack, 1001);
	cr_assert_eq(S.opt.nsack, 3);
	cr_assert_eq(S.opt.sack[0][0], 2001, "the repaired run first");
	cr_assert_eq(S.opt.sack[0][1], run2 + 4 * MSS);
	cr_assert_eq(S.opt.sack[1][0], last, "then the latest: %u", S.opt.sack[1][0]);
	cr_assert_eq(S.opt.sack[1][1], last + MSS);
	cr_assert_eq(S.opt.sack[2][0], last - 2 * MSS);
	h_clear(h);
	h_send(h, run2 + 4 * MSS, iss + 1, TH_ACK, 65535, NULL, 0, d, MSS);
	h_out(h, 0, &S);
	cr_assert_eq(S.opt.sack[0][0], 2001);
	cr_assert_eq(S.opt.sack[0][1], run2 + 6 * MSS, "grew by the repair and the next");
	cr_assert_eq(S.opt.sack[1][0], last);
	cr_assert_eq(S.opt.sack[2][0], last - 2 * MSS);
	h_clear(h);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	/* one walk per new hole is 2000 steps; the quadratic search was
	 * 2000^2 / 2 per hole: seconds, even in a release build */
	cr_assert_lt(secs, 0.25, "%u new holes behind %u segments took %.3f s CPU", HOLES,
		     RUN, secs);
	/* the hole at 1001 fills: everything up to the second new hole */
	h_send(h, 1001, iss + 1, TH_ACK, 65535, NULL, 0, d, MSS);
	h_out(h, 0, &S);
	cr_assert_eq(S.ack, run2 + 6 * MSS);
	cr_assert_eq(S.opt.sack[0][0], last);
}

/* The send log holds a few records; a flight of 900 segments in 30
 * bursts (each its own clock reading) still fits, merged, so a loss in
 * the oldest burst is found by RACK when later data is SACKed: retransmitted
 * at once, no RTO. (Records of 64 KiB at most could not cover such a
 * flight: the oldest were forgotten and the loss waited 200 ms.) */
Test(recovery, loss_in_a_large_flight_found_without_rto)
{
	uint32_t iss;
	struct tcp_conn *c = setup(&iss);
	c->cwnd = 2000 * MSS;
	for (unsigned b = 0; b < 30; b++) {
		cr_assert_eq(tcp_write(c, data, 30 * MSS), 30 * MSS);
		h_clear(h);
		h_advance(h, 20);
	}
	cr_assert_eq(c->snd_max - (iss + 1), 900u * MSS, "the whole flight went out");
	h_advance(h, 1000);
	/* segment 0 lost, everything after it SACKed */
	const uint32_t all[1][2] = { { 1 * MSS, 900 * MSS } };
	ack(iss, 0, all, 1);
	cr_assert(sent_seq(iss, 0), "segment 0 retransmitted on this ACK");
	cr_assert_eq(stats(c).rto_expiries, 0);
	h_clear(h);
	h_advance(h, 1000);
	ack(iss, 900 * MSS, NULL, 0);
	cr_assert(!(c->flags & TF_IN_RECOVERY));
}

/* Retransmissions interleaved with new data in time: the new-data
 * records still merge across them when the log is full, so a hole in the
 * oldest new data is still found. */
Test(recovery, records_merge_across_interleaved_retransmissions)
{
	uint32_t iss;
	struct tcp_conn *c = setup(&iss);
	c->cwnd = 400 * MSS;
	for (unsigned b = 0; b < 20; b++) {
		tcp_write(c, data, 10 * MSS);
		h_clear(h);
		/* a repair of something older between every two bursts: the
		 * log sees N R N R N ... */
		if (b)
			tcp_rack_sent(c, iss + 1 + (b - 1) * 10 * MSS + 5 * MSS, MSS, true);
		h_advance(h, 20);
	}
	cr_assert_leq(c->nxl, TCP_XMIT_LOG);
	bool covers0 = false;
	for (unsigned i = 0; i < c->nxl; i++)
		if (!(c->xl[i].flags & XR_RETRANS) && c->xl[i].seq == iss + 1)
			covers0 = true;
	cr_assert(covers0, "the oldest new data is still in a record");
	h_advance(h, 1000);
	const uint32_t all[1][2] = { { 1 * MSS, 200 * MSS } };
	ack(iss, 0, all, 1);
	cr_assert(sent_seq(iss, 0), "segment 0 retransmitted on this ACK");
	cr_assert_eq(stats(c).rto_expiries, 0);
}

/* Repairs of holes a window apart (the gaps between them SACKed) fill
 * the log with records that do not continue one another: joined over the
 * SACKed gaps, none is forgotten. The repair at SND.UNA, lost again, is
 * found when later repairs arrive and goes again at once; forgotten, it
 * waited for the RTO while the peer's window filled behind it (a
 * rate-mode channel on a lossy WAN, tests/tcp/test_rate.c). */
Test(recovery, repairs_joined_over_sacked_gaps)
{
	uint32_t iss;
	struct tcp_conn *c = setup(&iss);
	c->cwnd = 400 * MSS;
	cr_assert_eq(tcp_write(c, data, 200 * MSS), 200 * MSS);
	h_clear(h);
	h_advance(h, 1000);
	/* holes at segments 0, 10, ..., 150: 16 of them, everything else
	 * SACKed, 4 blocks an ACK */
	for (unsigned a = 0; a < 4; a++) {
		uint32_t b[4][2];
		for (unsigned k = 0; k < 4; k++) {
			unsigned i = a * 4 + k;
			b[k][0] = (i * 10 + 1) * MSS;
			b[k][1] = (i == 15 ? 200 : i * 10 + 10) * MSS;
		}
		ack(iss, 0, (const uint32_t (*)[2])b, 4);
	}
	cr_assert_eq(c->sacked_bytes, 184 * MSS);
	unsigned repairs = 0;
	for (unsigned i = 0; i <= 150; i += 10)
		repairs += sent_seq(iss, i * MSS);
	cr_assert_eq(repairs, 16, "every hole repaired: %u of 16", repairs);
	cr_assert_leq(c->nxl, TCP_XMIT_LOG);
	bool covers0 = false;
	for (unsigned i = 0; i < c->nxl; i++)
		if ((c->xl[i].flags & XR_RETRANS) && c->xl[i].seq == iss + 1)
			covers0 = true;
	cr_assert(covers0, "the repair at SND.UNA is still in a record");
	h_clear(h);
	h_advance(h, 1000);
	/* every repair but segment 0's arrives */
	for (unsigned a = 0; a < 4; a++) {
		uint32_t b[4][2];
		for (unsigned k = 0; k < 4; k++) {
			unsigned i = a * 4 + k;
			b[k][0] = (i ? i * 10 : 1) * MSS;
			b[k][1] = (i == 15 ? 200 : i * 10 + 10) * MSS;
		}
		ack(iss, 0, (const uint32_t (*)[2])b, 4);
	}
	cr_assert(sent_seq(iss, 0), "segment 0's repair lost: resent at once");
	cr_assert_eq(stats(c).rto_expiries, 0);
}

/* A record merged by a full log keeps its later send time: a SACK of its
 * older part (or a block the peer repeats over a gap it was joined
 * across) must not date RACK.xmit_ts to that time, or every record sent
 * before it is marked lost at once although none of its later bytes
 * arrived. */
Test(recovery, merged_record_older_part_dates_nothing)
{
	uint32_t iss;
	struct tcp_conn *c = setup(&iss);
	c->cwnd = 400 * MSS;
	cr_assert_eq(tcp_write(c, data, 10 * MSS), 10 * MSS); /* t0 */
	h_advance(h, 2000);
	cr_assert_eq(tcp_write(c, data, 20 * MSS), 20 * MSS); /* t0 + 2 ms */
	struct tcp_xmit *m = NULL;
	for (unsigned i = 0; i < c->nxl; i++)
		if (c->xl[i].seq == iss + 1 + 10 * MSS)
			m = &c->xl[i];
	cr_assert_not_null(m);
	cr_assert_eq(m->len, 20 * MSS);
	m->flags |= XR_MERGED; /* as if joined: only its last byte is dated */
	h_advance(h, 1500);
	h_clear(h);
	const uint32_t older[1][2] = { { 10 * MSS, 12 * MSS } };
	ack(iss, 0, older, 1);
	ack(iss, 0, older, 1); /* repeated */
	cr_assert_not(sent_seq(iss, 0), "segment 0, sent 2 ms before, marked lost by a SACK "
		      "of a merged record's older part");
	cr_assert_eq(c->lost_bytes, 0);
}

/* A data segment that carries SACK blocks (a hole in what we receive) is
 * shorter by their length, as Linux's tcp_current_mss(): MSS is a bound
 * on payload plus options beyond the fixed ones, so that a segment never
 * exceeds the path MTU (inside the ESP tunnel, a fragment). */
Test(recovery, sack_blocks_shorten_data_segments)
{
	uint32_t iss;
	struct tcp_conn *c = setup(&iss);
	static uint8_t d[4000];
	h_send(h, 2001, iss + 1, TH_ACK, 65535, NULL, 0, d, 500); /* 1001..2000 missing */
	cr_assert_eq(h->nout, 1);
	h_out(h, 0, &S);
	cr_assert_eq(S.opt.nsack, 1, "the hole is reported");
	h_clear(h);
	cr_assert_eq(tcp_write(c, d, sizeof(d)), (long)sizeof(d));
	uint32_t sent = 0;
	for (unsigned i = 0; i < h->nout; i++) {
		h_out(h, i, &S);
		if (!S.len)
			continue;
		cr_assert_eq(S.opt.nsack, 1, "segment %u carries the SACK block", i);
		cr_assert_leq(S.len + 12, MSS, "segment %u: %u bytes + 12 of SACK > MSS", i, S.len);
		sent += S.len;
	}
	cr_assert_eq(sent, sizeof(d), "every byte sent in the initial window");
}

/* ---- two engines back to back ---- */

static struct harness H2;

/* Hands the first `keep` segments `from` sent to `to` and drops the rest;
 * returns how many there were. */
static unsigned wire_n(struct harness *from, struct harness *to, unsigned keep)
{
	unsigned n = from->nout;
	for (unsigned i = 0; i < n; i++) {
		struct rte_mbuf *m = from->out[i];
		if (i >= keep || !rte_pktmbuf_prepend(m, 14)) {
			rte_pktmbuf_free(m);
			continue;
		}
		memset(rte_pktmbuf_mtod(m, uint8_t *), 0xee, 14);
		m->l2_len = 14;
		tcp_input(to->st, &m, 1);
	}
	from->nout = 0;
	return n;
}

static unsigned wire(struct harness *from, struct harness *to, bool drop)
{
	return wire_n(from, to, drop ? 0 : from->nout);
}

static void on_readable(struct harness *x, struct tcp_conn *c, uint32_t ev)
{
	(void)x;
	if (ev & TCP_EV_READABLE)
		tcp_consume(c, tcp_readable(c));
}

/* Both ends send; the data arrives but the ACKs of both are lost while the
 * host stalls, so both RTOs fire at once and both go back to snd_una. Each
 * end's pure ACKs then carried a sequence number the other had already
 * received (unacceptable: RFC 9293 3.10.7.4), each answered the other's at
 * once, and neither ever read the other's ACK field: an ACK war at line
 * rate that no timer ended (the CI failure of wan-e2e-tunnel: 4 million
 * pure ACKs in two minutes, the transfer stalled). Now the ends recover
 * with a handful of segments. */
Test(recovery, simultaneous_spurious_rtos_no_ack_war)
{
	struct tcp_config cfg = { .flags = TCP_CFG_NO_PACING };
	struct harness *a = h, *b = &H2;
	h_init(a, &cfg, TCP_AF_INET);
	h_init(b, &cfg, TCP_AF_INET);
	b->local = a->remote;
	b->remote = a->local;
	a->on_event = b->on_event = on_readable;
	cr_assert_eq(tcp_listen(b->st, TCP_AF_INET, &b->local, 9, 0, 0), 0);
	struct tcp_conn *ca = tcp_connect(a->st, TCP_AF_INET, &a->local, 40000,
					  &a->remote, 9, 0);
	cr_assert_not_null(ca);
	for (int i = 0; i < 4; i++) {
		wire(a, b, false);
		wire(b, a, false);
	}
	struct tcp_conn *cb = b->last_conn;
	cr_assert_eq(tcp_state(ca), TCP_ESTABLISHED);
	cr_assert_eq(tcp_state(cb), TCP_ESTABLISHED);

	static uint8_t bytes[8000];
	cr_assert_eq(tcp_write(ca, bytes, sizeof(bytes)), (long)sizeof(bytes));
	cr_assert_eq(tcp_write(cb, bytes, sizeof(bytes)), (long)sizeof(bytes));
	h_advance(a, 0);
	h_advance(b, 0);
	/* the data arrives; the ACKs it draws are lost */
	unsigned nb = b->nout;
	cr_assert_geq(nb, 6);
	wire(a, b, false);
	wire_n(b, a, nb); /* B's data, not its ACKs of A's */
	wire(a, b, true);
	cr_assert(ca->rcv_nxt == cb->snd_max && cb->rcv_nxt == ca->snd_max, "all of it arrived");
	h_advance(a, 200000);
	h_advance(b, 200000);
	wire(a, b, true);
	wire(b, a, true);
	/* both RTOs (tail probes first), their ACKs lost too */
	for (int i = 0; i < 20 && (ca->snd_nxt == ca->snd_max || cb->snd_nxt == cb->snd_max); i++) {
		a->now += 500000;
		b->now += 500000;
		tcp_poll(a->st);
		tcp_poll(b->st);
		wire(a, b, true);
		wire(b, a, true);
	}
	cr_assert_neq(ca->snd_nxt, ca->snd_max, "A went back to snd_una");
	cr_assert_neq(cb->snd_nxt, cb->snd_max, "B went back to snd_una");

	/* the host runs again: 2 s of 1 ms steps, every segment delivered */
	unsigned segs = 0;
	for (int step = 0; step < 2000; step++) {
		for (int round = 0; round < 50; round++) {
			unsigned n = wire(a, b, false) + wire(b, a, false);
			segs += n;
			if (!n)
				break;
		}
		if (ca->snd_una == ca->snd_max && cb->snd_una == cb->snd_max)
			break;
		h_advance(a, 1000);
		h_advance(b, 1000);
	}
	cr_assert_eq(ca->snd_una, ca->snd_max, "A's data acknowledged");
	cr_assert_eq(cb->snd_una, cb->snd_max, "B's data acknowledged");
	cr_assert_leq(segs, 60, "%u segments to recover", segs);
	h_fini(b);
}

/* After an RTO the sender goes back to SND.UNA; what it sent before lies
 * beyond SND.NXT, deemed lost (RFC 6675 5.1), and is no longer in the
 * network. A go-back retransmission lost again (RACK: something sent
 * after it is SACKed) is repaired at once, not after a second RTO: the
 * pipe must not count the pre-RTO flight beyond SND.NXT. */
/* A flight of 20 segments wholly lost (probes, then the RTO), and the
 * go-back retransmission of segment 0 acknowledged; h_clear()ed before
 * that ACK. */
static struct tcp_conn *going_back(uint32_t *iss)
{
	struct tcp_conn *c = flight(iss, 20, 20);
	for (unsigned i = 0; i < 400 && !stats(c).rto_expiries; i++)
		h_advance(h, 1000);
	cr_assert_eq(stats(c).rto_expiries, 1);
	h_clear(h);
	h_advance(h, 1000);
	ack(*iss, 1 * MSS, NULL, 0);
	return c;
}

Test(recovery, go_back_repair_after_an_rto_without_a_second_rto)
{
	uint32_t iss;
	struct tcp_conn *c = going_back(&iss);
	uint32_t r[64];
	unsigned n = sent(iss, r, 64);
	cr_assert_geq(n, 2, "slow start after the RTO: %u segments", n);
	cr_assert_eq(r[0], 1 * MSS);
	uint32_t last = r[n - 1];
	h_clear(h);
	/* segment 1's retransmission is lost, the ones after it arrive */
	h_advance(h, 1000);
	const uint32_t b[1][2] = { { 2 * MSS, last + MSS } };
	ack(iss, 1 * MSS, b, 1);
	for (unsigned i = 0; i < 20 && !sent_seq(iss, 1 * MSS); i++)
		h_advance(h, 100); /* RACK's reordering window */
	cr_assert(sent_seq(iss, 1 * MSS), "segment 1 repaired without an RTO");
	cr_assert_eq(stats(c).rto_expiries, 1);
}

/* RFC 8985 7.2: no tail loss probe in loss recovery. After an RTO the
 * go-back is recovery: a probe would resend the last segment of the
 * pre-RTO flight, beyond SND.NXT, which the pipe no longer counts (the
 * test above) and go-back sends again in turn. With the go-back's first
 * retransmission acknowledged (no backoff left) and nothing else, the
 * next event is the RTO, not a probe of the tail. */
Test(recovery, no_tail_probe_during_the_go_back_after_an_rto)
{
	uint32_t iss;
	struct tcp_conn *c = going_back(&iss);
	cr_assert(SEQ_LT(c->snd_nxt, c->snd_max), "going back");
	uint64_t probes = stats(c).tail_probes;
	h_clear(h);
	for (unsigned i = 0; i < 2000 && stats(c).rto_expiries < 2; i++)
		h_advance(h, 1000);
	cr_assert_eq(stats(c).rto_expiries, 2);
	cr_assert_eq(stats(c).tail_probes, probes, "a probe during the go-back");
	cr_assert(!sent_seq(iss, 19 * MSS), "the pre-RTO tail resent beyond SND.NXT");
}
