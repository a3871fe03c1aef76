/* SPDX-License-Identifier: BSD-3-Clause */
/* Congestion control and loss recovery: CUBIC (RFC 9438, the default) or
 * NewReno (RFC 5681, 6582) with appropriate byte counting (RFC 3465),
 * pacing at 2x (slow start) or 1.2x (avoidance) cwnd/rtt.
 *
 * With SACK, losses are found by RACK (RFC 8985): every transmission is
 * recorded with its send time (tcp_conn.xl[], one record per burst, at most
 * TCP_XMIT_LOG, oldest first); when an ACK delivers data, RACK.xmit_ts
 * becomes the send time of the latest-sent delivered segment, and anything
 * sent before it and still undelivered RACK.rtt + reo_wnd after its own
 * send time is lost, first transmissions and retransmissions alike (so a
 * lost retransmission costs a reordering window, not an RTO). Lost records
 * stay in the log, flagged, until retransmitted, and
 *   pipe = outstanding - SACKed - lost and not yet retransmitted.
 * Recovery sends what PRR (RFC 6937) allows: proportional to the data
 * delivered while the pipe is above ssthresh, then slow start up to it.
 *
 * Without SACK, three duplicate ACKs start recovery, the RFC 6582
 * partial-ACK rule retransmits one segment per partial ACK and every
 * duplicate ACK takes one segment out of the pipe. */
#include "tcp_internal.h"

#include <math.h>
#include <string.h>

#define CUBIC_C 0.4     /* segments / s^3 */
#define CUBIC_BETA 0.7

static bool cubic(const struct tcp_conn *c)
{
	return !(c->st->cfg.flags & TCP_CFG_NEWRENO);
}

void tcp_cc_init(struct tcp_conn *c)
{
	uint32_t mss = c->snd_mss;
	c->cwnd = TCP_INIT_CWND_SEGS * mss;
	c->ssthresh = UINT32_MAX / 2;
	c->recover = c->iss;
}

uint32_t tcp_flight(const struct tcp_conn *c)
{
	return c->snd_max - c->snd_una;
}

uint32_t tcp_pipe(const struct tcp_conn *c)
{
	if (c->flags & TF_SACK) {
		int64_t f = (int64_t)tcp_flight(c) - c->sacked_bytes - c->lost_bytes;
		return f < 0 ? 0 : (uint32_t)f;
	}
	uint32_t hi = SEQ_GT(c->sack_hi, c->snd_una) ? c->sack_hi : c->snd_una;
	int64_t p = (int64_t)(uint32_t)(c->snd_max - hi) + c->rexmit_inflight;
	if (!(c->flags & TF_SACK))
		p -= (int64_t)c->dupacks * c->snd_mss;
	return p < 0 ? 0 : (uint32_t)p;
}

static uint32_t cwnd_cap(const struct tcp_conn *c)
{
	return c->st->cfg.sndbuf * 2u;
}

/* RFC 9438 4.2-4.4: the window follows W(t) = C (t - K)^3 + W_max, at
 * least the Reno-friendly estimate, one RTT ahead. */
static void cubic_ack(struct tcp_conn *c, uint32_t acked)
{
	double mss = c->snd_mss, cw = c->cwnd;
	uint64_t now = c->st->now;
	if (!c->cubic_epoch_us) {
		c->cubic_epoch_us = now;
		if (c->cwnd < c->cubic_wmax) {
			double k = cbrt((c->cubic_wmax - cw) / mss / CUBIC_C);
			c->cubic_k_us = (uint32_t)(k * 1e6);
			c->cubic_origin = c->cubic_wmax;
		} else {
			c->cubic_k_us = 0;
			c->cubic_origin = c->cwnd;
		}
		c->cubic_west = cw;
		c->cubic_acc = 0;
	}
	double t = (double)(now - c->cubic_epoch_us + c->srtt_us) / 1e6;
	double d = t - c->cubic_k_us / 1e6;
	double target = c->cubic_origin + CUBIC_C * d * d * d * mss;
	if (target < cw)
		target = cw;
	if (target > 1.5 * cw)
		target = 1.5 * cw;
	c->cubic_west += 3.0 * (1 - CUBIC_BETA) / (1 + CUBIC_BETA) * acked * mss / cw;
	if (c->cubic_west > target) {
		c->cwnd = (uint32_t)c->cubic_west; /* Reno-friendly region */
		return;
	}
	c->cubic_acc += (target - cw) * acked / cw;
	if (c->cubic_acc >= 1.0) {
		uint32_t inc = (uint32_t)c->cubic_acc;
		c->cwnd += inc;
		c->cubic_acc -= inc;
	}
}

void tcp_cc_ack(struct tcp_conn *c, uint32_t acked)
{
	uint32_t mss = c->snd_mss;
	if (c->cwnd < c->ssthresh) {
		/* slow start, L = 2 SMSS (RFC 3465) */
		c->cwnd += acked < 2 * mss ? acked : 2 * mss;
	} else if (cubic(c)) {
		cubic_ack(c, acked);
	} else {
		c->bytes_acked += acked;
		if (c->bytes_acked >= c->cwnd) {
			c->bytes_acked -= c->cwnd;
			c->cwnd += mss;
		}
	}
	if (c->cwnd > cwnd_cap(c))
		c->cwnd = cwnd_cap(c);
}

/* The new ssthresh on a congestion event: half the flight (NewReno) or
 * beta x cwnd with fast convergence (CUBIC, RFC 9438 4.6-4.7). */
static uint32_t reduce(struct tcp_conn *c)
{
	uint32_t h;
	if (cubic(c)) {
		uint32_t w = c->cwnd;
		if (w < c->cubic_wmax)
			c->cubic_wmax = (uint32_t)(w * (1.0 + CUBIC_BETA) / 2.0);
		else
			c->cubic_wmax = w;
		c->cubic_epoch_us = 0;
		uint32_t f = tcp_flight(c);
		h = (uint32_t)((f < w ? f : w) * CUBIC_BETA);
	} else {
		h = tcp_flight(c) / 2;
	}
	return h > 2u * c->snd_mss ? h : 2u * c->snd_mss;
}

void tcp_cc_enter_recovery(struct tcp_conn *c)
{
	c->flags |= TF_IN_RECOVERY;
	c->flags &= ~TF_RTT_TIMING;
	c->ssthresh = reduce(c);
	c->cwnd = c->ssthresh;
	c->recover = c->snd_max;
	c->rexmit_nxt = c->snd_una;
	c->rexmit_inflight = 0;
	c->bytes_acked = 0;
	c->stats.fast_recoveries++;
	if (c->flags & TF_SACK) {
		/* RFC 6937: cwnd follows PRR from here (tcp_rack_ack) */
		c->prr_delivered = 0;
		c->prr_out = 0;
		c->prr_recoverfs = tcp_flight(c);
		c->flags |= TF_PRR_FIRST;
		c->cwnd = tcp_pipe(c) + c->snd_mss;
		if (c->rack_reo_persist && !--c->rack_reo_persist)
			c->rack_reo_mult = 1; /* RFC 8985 6.2 step 4 */
	}
}

void tcp_cc_exit_recovery(struct tcp_conn *c)
{
	c->flags &= ~TF_IN_RECOVERY;
	/* RFC 6582 3.2 step 3, option 2: cwnd = ssthresh. Option 1 (flight +
	 * SMSS) would restart from one segment after a full ACK; pacing
	 * spreads the burst instead. */
	c->cwnd = c->ssthresh;
	c->rexmit_inflight = 0;
	c->dupacks = 0;
}

void tcp_cc_rto(struct tcp_conn *c)
{
	c->ssthresh = reduce(c);
	c->cwnd = c->snd_mss; /* loss window (RFC 5681 3.1) */
	c->bytes_acked = 0;
	c->flags &= ~TF_IN_RECOVERY;
	c->recover = c->snd_max;
	c->dupacks = 0;
	c->rexmit_inflight = 0;
	/* RFC 6675 5.1: the scoreboard may be stale after a timeout */
	c->nsb = 0;
	c->sacked_bytes = 0;
	c->sack_hi = c->snd_una;
	tcp_rack_reset(c);
}

static void lost_recount(struct tcp_conn *c);

static void sb_recount(struct tcp_conn *c)
{
	uint32_t sum = 0;
	c->sack_hi = c->snd_una;
	for (unsigned i = 0; i < c->nsb; i++) {
		sum += c->sb[i][1] - c->sb[i][0];
		if (SEQ_GT(c->sb[i][1], c->sack_hi))
			c->sack_hi = c->sb[i][1];
	}
	c->sacked_bytes = sum;
	lost_recount(c);
}

/* Merges the valid SACK blocks of one ACK into the sorted scoreboard.
 * A block is used only if it lies inside (SND.UNA, SND.MAX]: D-SACKs and
 * forged blocks are ignored. */
static uint32_t sacked_in(const struct tcp_conn *c, uint32_t s, uint32_t e);
static bool retrans_in(const struct tcp_conn *c, uint32_t s, uint32_t e);
static void rack_dsack(struct tcp_conn *c);

void tcp_sack_update(struct tcp_conn *c, const struct tcp_opts *o)
{
	if (o->nsack) {
		/* RFC 2883: a first block below SND.UNA or inside the second
		 * reports a duplicate; RFC 8985 6.2: a first block (the latest
		 * arrival) of new data below RACK.fack that was never
		 * retransmitted arrived out of order */
		uint32_t s0 = o->sack[0][0], e0 = o->sack[0][1];
		if (SEQ_LT(s0, e0) &&
		    (SEQ_LEQ(e0, c->snd_una) ||
		     (o->nsack > 1 && SEQ_GEQ(s0, o->sack[1][0]) && SEQ_LEQ(e0, o->sack[1][1]) &&
		      SEQ_LT(o->sack[1][0], o->sack[1][1])))) {
			if (SEQ_GEQ(s0, c->snd_una - c->max_snd_wnd))
				rack_dsack(c);
		} else if (SEQ_LT(s0, e0) && SEQ_GT(s0, c->snd_una) && SEQ_LEQ(e0, c->snd_max) &&
			   SEQ_LT(e0, c->rack_fack) && SEQ_LEQ(c->rack_fack, c->snd_max) &&
			   sacked_in(c, s0, e0) < e0 - s0 &&
			   !retrans_in(c, s0, e0)) {
			c->flags |= TF_RACK_REO;
		}
	}
	for (unsigned b = 0; b < o->nsack; b++) {
		uint32_t s = o->sack[b][0], e = o->sack[b][1];
		if (!SEQ_LT(s, e) || SEQ_LEQ(s, c->snd_una) || SEQ_GT(e, c->snd_max))
			continue;
		/* insert then merge neighbours */
		uint32_t tmp[TCP_SCOREBOARD + 1][2];
		unsigned n = 0, i = 0;
		bool placed = false;
		for (; i < c->nsb; i++) {
			if (!placed && SEQ_LT(s, c->sb[i][0])) {
				tmp[n][0] = s; tmp[n][1] = e; n++;
				placed = true;
			}
			tmp[n][0] = c->sb[i][0]; tmp[n][1] = c->sb[i][1]; n++;
		}
		if (!placed) {
			tmp[n][0] = s; tmp[n][1] = e; n++;
		}
		unsigned m = 0;
		for (i = 0; i < n; i++) {
			if (m && SEQ_LEQ(tmp[i][0], tmp[m - 1][1])) {
				if (SEQ_GT(tmp[i][1], tmp[m - 1][1]))
					tmp[m - 1][1] = tmp[i][1];
			} else {
				tmp[m][0] = tmp[i][0]; tmp[m][1] = tmp[i][1]; m++;
			}
		}
		if (m > TCP_SCOREBOARD)
			m = TCP_SCOREBOARD; /* forget the highest ranges */
		memcpy(c->sb, tmp, sizeof(c->sb[0]) * m);
		c->nsb = (uint8_t)m;
	}
	sb_recount(c);
}

void tcp_sack_prune(struct tcp_conn *c)
{
	unsigned n = 0;
	for (unsigned i = 0; i < c->nsb; i++) {
		if (SEQ_LEQ(c->sb[i][1], c->snd_una))
			continue;
		c->sb[n][0] = SEQ_LT(c->sb[i][0], c->snd_una) ? c->snd_una : c->sb[i][0];
		c->sb[n][1] = c->sb[i][1];
		n++;
	}
	c->nsb = (uint8_t)n;
	sb_recount(c);
}

/* The next range at or after `from` to retransmit in recovery. */
bool tcp_sack_next_hole(const struct tcp_conn *c, uint32_t from,
			uint32_t *start, uint32_t *len)
{
	uint32_t data_end = c->snd_una + c->sndq.bytes;
	uint32_t cur = SEQ_GT(from, c->snd_una) ? from : c->snd_una;
	if (!(c->flags & TF_SACK) || c->nsb == 0) {
		if (cur != c->snd_una || !SEQ_LT(cur, data_end))
			return false;
		uint32_t end = SEQ_LT(c->snd_max, data_end) ? c->snd_max : data_end;
		if (!SEQ_LT(cur, end))
			return false;
		*start = cur;
		*len = end - cur;
		return true;
	}
	for (unsigned i = 0; i < c->nsb; i++) {
		if (SEQ_LT(cur, c->sb[i][0])) {
			uint32_t end = SEQ_LT(c->sb[i][0], data_end) ? c->sb[i][0] : data_end;
			if (!SEQ_LT(cur, end))
				return false;
			*start = cur;
			*len = end - cur;
			return true;
		}
		if (SEQ_LT(cur, c->sb[i][1]))
			cur = c->sb[i][1];
	}
	return false;
}

/* Pacing: each segment books len / rate of the link, rate = cwnd / srtt
 * times 2 in slow start and 1.2 in congestion avoidance (as Linux does); a
 * flow that was idle may send 10 segments or TCP_PACE_BURST_US worth,
 * whichever is more, at once. Returns
 * true (and arms the pacing timer) when the next segment must wait. */
bool tcp_pace_wait(struct tcp_conn *c)
{
	if ((c->st->cfg.flags & TCP_CFG_NO_PACING) || !c->srtt_us)
		return false;
	if (c->st->now >= c->pace_next_us)
		return false;
	if (!c->t_pace || c->t_pace > c->pace_next_us) {
		c->t_pace = c->pace_next_us;
		tcp_timer_update(c);
	}
	return true;
}

void tcp_pace_sent(struct tcp_conn *c, uint32_t len)
{
	if ((c->st->cfg.flags & TCP_CFG_NO_PACING) || !c->srtt_us)
		return;
	double ratio = c->cwnd < c->ssthresh ? 2.0 : 1.2;
	/* SRTT can be inflated far beyond the path's RTT by the peer's
	 * delayed ACKs (one timed segment per RTT, 40 ms when it is the odd
	 * one out): pace on at most twice the minimum RTT seen, so pacing
	 * smooths bursts and the congestion window stays the limit */
	uint32_t rtt = c->srtt_us;
	if (c->min_rtt_us && rtt > 2 * c->min_rtt_us)
		rtt = 2 * c->min_rtt_us;
	double rate = (double)c->cwnd * ratio / rtt; /* bytes per us */
	uint64_t now = c->st->now;
	/* credit: TCP_PACE_BURST_US, and never less than 10 segments, so
	 * that small windows go out as the ACK clock allows */
	uint64_t burst = (uint64_t)(10.0 * c->snd_mss / rate);
	if (burst < TCP_PACE_BURST_US)
		burst = TCP_PACE_BURST_US;
	uint64_t floor = now > burst ? now - burst : 0;
	if (c->pace_next_us < floor)
		c->pace_next_us = floor;
	c->pace_frac += len / rate;
	uint64_t whole = (uint64_t)c->pace_frac;
	c->pace_next_us += whole;
	c->pace_frac -= (double)whole;
}

/* ---- RACK-TLP (RFC 8985) and PRR (RFC 6937), SACK connections ---- */

/* Send times are microseconds modulo 2^32: every comparison is between
 * times a few RTOs apart. */
static bool ts_after(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) > 0;
}

/* RACK_sent_after(t1, seq1, t2, seq2) of RFC 8985 6.2 */
static bool sent_after(uint32_t t1, uint32_t s1, uint32_t t2, uint32_t s2)
{
	return ts_after(t1, t2) || (t1 == t2 && SEQ_GT(s1, s2));
}

/* Bytes of [s, e) held by the peer according to the scoreboard. */
static uint32_t sacked_in(const struct tcp_conn *c, uint32_t s, uint32_t e)
{
	uint32_t n = 0;
	for (unsigned i = 0; i < c->nsb; i++) {
		uint32_t a = SEQ_MAX(s, c->sb[i][0]), b = SEQ_MIN(e, c->sb[i][1]);
		if (SEQ_LT(a, b))
			n += b - a;
	}
	return n;
}

static bool retrans_in(const struct tcp_conn *c, uint32_t s, uint32_t e)
{
	for (unsigned i = 0; i < c->nxl; i++)
		if ((c->xl[i].flags & XR_RETRANS) && SEQ_LT(c->xl[i].seq, e) &&
		    SEQ_LT(s, c->xl[i].seq + c->xl[i].len))
			return true;
	return false;
}

static void lost_recount(struct tcp_conn *c)
{
	uint32_t n = 0;
	for (unsigned i = 0; i < c->nxl; i++) {
		const struct tcp_xmit *x = &c->xl[i];
		if (x->flags & XR_LOST)
			n += x->len - sacked_in(c, x->seq, x->seq + x->len);
	}
	c->lost_bytes = n;
}

/* The first byte range the peer does not hold in a record marked lost,
 * lowest sequence first: the next retransmission (RFC 6675 NextSeg rule
 * 1, with RACK deciding what is lost). */
bool tcp_lost_next(const struct tcp_conn *c, uint32_t *start, uint32_t *len)
{
	bool found = false;
	for (unsigned i = 0; i < c->nxl; i++) {
		const struct tcp_xmit *x = &c->xl[i];
		if (!(x->flags & XR_LOST))
			continue;
		uint32_t cur = x->seq, end = x->seq + x->len;
		for (unsigned j = 0; j < c->nsb && SEQ_LT(cur, end); j++) {
			if (SEQ_LEQ(c->sb[j][1], cur))
				continue;
			if (SEQ_LEQ(c->sb[j][0], cur)) {
				cur = c->sb[j][1];
				continue;
			}
			if (SEQ_LT(c->sb[j][0], end))
				end = c->sb[j][0];
			break;
		}
		if (SEQ_LT(cur, end) && (!found || SEQ_LT(cur, *start))) {
			*start = cur;
			*len = end - cur;
			found = true;
		}
	}
	return found;
}

static void xl_remove(struct tcp_conn *c, unsigned i)
{
	memmove(&c->xl[i], &c->xl[i + 1], sizeof(c->xl[0]) * (c->nxl - i - 1));
	c->nxl--;
}

/* [start, start + len) was retransmitted: it leaves its lost record (what
 * lies before it in the record is SACKed, see tcp_lost_next). */
void tcp_lost_sent(struct tcp_conn *c, uint32_t start, uint32_t len)
{
	for (unsigned i = 0; i < c->nxl; i++) {
		struct tcp_xmit *x = &c->xl[i];
		if (!(x->flags & XR_LOST) || SEQ_LT(start, x->seq) ||
		    SEQ_GEQ(start, x->seq + x->len))
			continue;
		uint32_t end = x->seq + x->len;
		if (SEQ_GEQ(start + len, end)) {
			xl_remove(c, i);
		} else {
			x->seq = start + len;
			x->len = end - x->seq;
		}
		break;
	}
	lost_recount(c);
	if (c->flags & TF_IN_RECOVERY) {
		c->prr_out += len;
		c->flags &= ~TF_PRR_FIRST;
	}
}

static void xl_room(struct tcp_conn *c);

/* Records a transmission. A burst (same clock reading, contiguous, same
 * kind) extends the last record (see xl_room when the log is full). */
void tcp_rack_sent(struct tcp_conn *c, uint32_t seq, uint32_t len, bool rexmit)
{
	if (!(c->flags & TF_SACK) || !len)
		return;
	uint32_t t = (uint32_t)c->st->now;
	uint16_t fl = rexmit ? XR_RETRANS : 0;
	if (c->nxl) {
		struct tcp_xmit *l = &c->xl[c->nxl - 1];
		if (l->seq + l->len == seq && l->ts == t && l->flags == fl &&
		    l->len + len <= TCP_XMIT_MAXLEN) {
			l->len = l->len + len;
			return;
		}
	}
	xl_room(c);
	struct tcp_xmit *x = &c->xl[c->nxl++];
	x->seq = seq;
	x->len = len;
	x->ts = t;
	x->flags = fl;
}

/* Frees one slot in a full log: a record merges into the next one of its
 * kind in time order that continues it in sequence (retransmissions of
 * other ranges may lie between them: new data interleaved with repairs),
 * the pair closest in time first; the merged record keeps the later time
 * and the later place (losses in the older part are then found a little
 * later, never earlier). Failing that the oldest record not marked lost is
 * forgotten (the RTO still covers it). */
static void xl_room(struct tcp_conn *c)
{
	if (c->nxl < TCP_XMIT_LOG)
		return;
	unsigned best = TCP_XMIT_LOG, bestj = 0;
	uint32_t bestd = UINT32_MAX;
	for (unsigned i = 0; i + 1 < c->nxl; i++) {
		const struct tcp_xmit *a = &c->xl[i];
		for (unsigned j = i + 1; j < c->nxl; j++) {
			const struct tcp_xmit *b = &c->xl[j];
			if (b->flags != a->flags)
				continue;
			if (a->seq + a->len == b->seq && a->len + b->len <= TCP_XMIT_MAXLEN &&
			    b->ts - a->ts < bestd) {
				bestd = b->ts - a->ts;
				best = i;
				bestj = j;
			}
			break; /* only the next record of the same kind */
		}
	}
	if (best < TCP_XMIT_LOG) {
		c->xl[bestj].len = c->xl[best].len + c->xl[bestj].len;
		c->xl[bestj].seq = c->xl[best].seq;
		xl_remove(c, best);
		return;
	}
	unsigned i = 0;
	while (i + 1 < c->nxl && (c->xl[i].flags & XR_LOST))
		i++;
	xl_remove(c, i);
	lost_recount(c);
}

void tcp_rack_reset(struct tcp_conn *c)
{
	c->nxl = 0;
	c->lost_bytes = 0;
	tcp_rack_timer(c, 0);
}

/* RFC 8985 6.2 step 4 (D-SACK): a spurious retransmission widens the
 * reordering window by min_RTT/4, at most once per round trip, for the
 * next 16 recoveries. */
static void rack_dsack(struct tcp_conn *c)
{
	c->flags |= TF_RACK_REO;
	c->stats.dsacks_in++;
	if (SEQ_LT(c->snd_una, c->rack_dsack_seq) && SEQ_LEQ(c->rack_dsack_seq, c->snd_max))
		return;
	if (c->rack_reo_mult < 255)
		c->rack_reo_mult = (uint8_t)((c->rack_reo_mult ? c->rack_reo_mult : 1) + 1);
	c->rack_reo_persist = 16;
	c->rack_dsack_seq = c->snd_max;
}

/* RFC 8985 6.2 step 2: the latest-sent segment among [s, e), which this
 * ACK delivered, updates RACK.xmit_ts, RACK.end_seq and RACK.rtt. Returns
 * the smallest RTT of a delivered segment sent once (or UINT32_MAX). */
static uint32_t rack_deliver(struct tcp_conn *c, uint32_t s, uint32_t e,
			     const struct tcp_opts *o, uint32_t fack)
{
	uint32_t now = (uint32_t)c->st->now;
	uint32_t sample = UINT32_MAX;
	for (unsigned i = 0; i < c->nxl; i++) {
		const struct tcp_xmit *x = &c->xl[i];
		uint32_t a = SEQ_MAX(s, x->seq), b = SEQ_MIN(e, x->seq + x->len);
		if (!SEQ_LT(a, b))
			continue;
		uint32_t rtt = now - x->ts;
		if (x->flags & XR_RETRANS) {
			/* RFC 8985 6.2 step 2: the ACK may be for the original;
			 * a sample below min_RTT, or an echoed timestamp older
			 * than the retransmission, shows it is */
			if (rtt < c->min_rtt_us)
				continue;
			uint32_t sent_ms = (uint32_t)((c->st->now - rtt) / 1000);
			if ((c->flags & TF_TS) && o->has_ts && o->tsecr &&
			    (int32_t)(o->tsecr - sent_ms) < 0)
				continue;
		} else if (rtt < sample && !(x->flags & XR_LOST) && SEQ_GT(b, fack)) {
			sample = rtt; /* data beyond all delivered before: sent once, news */
		}
		if (!(c->flags & TF_RACK_VALID) || sent_after(x->ts, b, c->rack_xmit_ts, c->rack_end_seq)) {
			c->rack_xmit_ts = x->ts;
			c->rack_end_seq = b;
			c->rack_rtt_us = rtt;
			c->flags |= TF_RACK_VALID;
		}
	}
	if (SEQ_GT(e, c->rack_fack))
		c->rack_fack = e;
	return sample;
}

/* RFC 8985 6.2 step 4 */
static uint32_t reo_wnd(const struct tcp_conn *c)
{
	if (!(c->flags & TF_RACK_REO)) {
		if (c->flags & TF_IN_RECOVERY)
			return 0;
		if (c->sacked_bytes >= (uint32_t)TCP_DUPTHRESH * c->snd_mss)
			return 0;
	}
	uint64_t w = (uint64_t)(c->rack_reo_mult ? c->rack_reo_mult : 1) * c->min_rtt_us / 4;
	if (c->srtt_us && w > c->srtt_us)
		w = c->srtt_us;
	return (uint32_t)w;
}

/* RFC 8985 6.2 step 5: every record sent before RACK.xmit_ts and still
 * not delivered RACK.rtt + reo_wnd after it went out is lost; the latest
 * deadline of the others arms the reorder timer (6.3). Returns true if
 * any was marked. */
static bool rack_detect(struct tcp_conn *c)
{
	if (!(c->flags & TF_RACK_VALID))
		return false;
	uint32_t now = (uint32_t)c->st->now;
	uint32_t reo = reo_wnd(c);
	uint32_t wait = 0;
	bool marked = false;
	for (unsigned i = 0; i < c->nxl;) {
		struct tcp_xmit *x = &c->xl[i];
		uint32_t end = x->seq + x->len;
		if (sacked_in(c, x->seq, end) == x->len) {
			xl_remove(c, i); /* all delivered */
			continue;
		}
		/* a burst shares one send time: its segments below
		 * RACK.end_seq count as sent before (the sequence tie-break) */
		bool same = x->ts == c->rack_xmit_ts && SEQ_GT(c->rack_end_seq, x->seq);
		bool part = same && SEQ_LT(c->rack_end_seq, end);
		if ((x->flags & XR_LOST) ||
		    (!same && !sent_after(c->rack_xmit_ts, c->rack_end_seq, x->ts, end))) {
			i++;
			continue;
		}
		int64_t rem = (int64_t)(int32_t)(x->ts - now) + c->rack_rtt_us + reo;
		if (rem <= 0) {
			if (part) {
				/* split: [seq, RACK.end_seq) lost, the rest not */
				unsigned n0 = c->nxl;
				xl_room(c);
				if (c->nxl < n0 && i > 0)
					i--; /* a record before i went */
				x = &c->xl[i];
				if (x->seq + x->len != end || !SEQ_LT(c->rack_end_seq, end) ||
				    SEQ_LEQ(c->rack_end_seq, x->seq)) {
					i++; /* it moved or merged: decide next time */
					continue;
				}
				memmove(&c->xl[i + 1], &c->xl[i], sizeof(c->xl[0]) * (c->nxl - i));
				c->nxl++;
				x->len = c->rack_end_seq - x->seq;
				c->xl[i + 1].seq = c->rack_end_seq;
				c->xl[i + 1].len = end - c->rack_end_seq;
			}
			x->flags |= XR_LOST;
			marked = true;
		} else if ((uint32_t)rem > wait) {
			wait = (uint32_t)rem;
		}
		i++;
	}
	lost_recount(c);
	if (marked)
		c->stats.rack_marks++;
	tcp_rack_timer(c, wait ? c->st->now + wait : 0);
	return marked;
}

static void rack_losses(struct tcp_conn *c)
{
	if (!rack_detect(c) || !c->lost_bytes)
		return;
	/* one reduction per window (RFC 6675 5, RFC 5681 4.3): not again for
	 * losses sent before the current episode, nor after an RTO */
	if (!(c->flags & TF_IN_RECOVERY) && SEQ_GEQ(c->snd_una, c->recover))
		tcp_cc_enter_recovery(c);
}

/* RFC 6937 3, with SSRB: the congestion window for this ACK is the pipe
 * plus what may be sent now. */
static void prr(struct tcp_conn *c, uint32_t delivered)
{
	uint32_t mss = c->snd_mss;
	c->prr_delivered += delivered;
	uint32_t pipe = tcp_pipe(c);
	int64_t sndcnt;
	if (pipe > c->ssthresh) {
		uint64_t fs = c->prr_recoverfs ? c->prr_recoverfs : 1;
		sndcnt = (int64_t)(((uint64_t)c->prr_delivered * c->ssthresh + fs - 1) / fs) -
			 c->prr_out;
	} else {
		int64_t lim = (int64_t)c->prr_delivered - c->prr_out;
		if (lim < (int64_t)delivered)
			lim = delivered;
		lim += mss;
		sndcnt = (int64_t)c->ssthresh - pipe;
		if (sndcnt > lim)
			sndcnt = lim;
	}
	if (sndcnt < 0)
		sndcnt = 0;
	if ((c->flags & TF_PRR_FIRST) && sndcnt < mss)
		sndcnt = mss; /* the fast retransmit goes regardless */
	c->cwnd = pipe + (uint32_t)sndcnt;
}

/* After an ACK's SACK blocks and cumulative point are applied: RACK's
 * delivery update, loss detection, and PRR's window for recovery.
 * delivered = bytes newly acknowledged or SACKed by this ACK. */
void tcp_rack_ack(struct tcp_conn *c, const struct tcp_opts *o, uint32_t old_una,
		  uint32_t delivered)
{
	if (!(c->flags & TF_SACK))
		return;
	/* RACK.fack lies in [SND.UNA, SND.MAX] (it starts at 0, anywhere
	 * relative to the ISN) */
	if (SEQ_LT(c->rack_fack, old_una) || SEQ_GT(c->rack_fack, c->snd_max))
		c->rack_fack = old_una;
	uint32_t sample = UINT32_MAX, fack = c->rack_fack;
	if (SEQ_GT(c->snd_una, old_una))
		sample = rack_deliver(c, old_una, c->snd_una, o, fack);
	for (unsigned b = 0; b < o->nsack; b++) {
		uint32_t s = o->sack[b][0], e = o->sack[b][1];
		if (SEQ_LT(s, e) && SEQ_GT(s, c->snd_una) && SEQ_LEQ(e, c->snd_max)) {
			uint32_t r = rack_deliver(c, s, e, o, fack);
			if (b == 0 && r < sample)
				sample = r; /* the others are old news (RFC 2018 4) */
		}
	}
	/* a microsecond RTT sample from a segment sent once (Karn), the
	 * latest sent: the one least delayed by the peer's ACK policy */
	if (sample != UINT32_MAX)
		tcp_rtt_sample(c, sample);
	/* records below SND.UNA are done */
	unsigned n = 0;
	for (unsigned i = 0; i < c->nxl; i++) {
		struct tcp_xmit x = c->xl[i];
		uint32_t end = x.seq + x.len;
		if (SEQ_LEQ(end, c->snd_una))
			continue;
		if (SEQ_LT(x.seq, c->snd_una)) {
			x.seq = c->snd_una;
			x.len = end - x.seq;
		}
		c->xl[n++] = x;
	}
	c->nxl = (uint8_t)n;
	if (c->snd_una == c->snd_max) {
		tcp_rack_reset(c);
		return;
	}
	rack_losses(c);
	if (c->flags & TF_IN_RECOVERY)
		prr(c, delivered);
}

/* The reorder timer fired (RFC 8985 6.3). */
void tcp_rack_timeout(struct tcp_conn *c)
{
	rack_losses(c);
	if (c->flags & TF_IN_RECOVERY)
		prr(c, 0);
	tcp_output(c);
}
