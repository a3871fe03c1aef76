/* Congestion control and loss recovery: CUBIC (RFC 9438, the default) or
 * NewReno (RFC 5681, 6582) with appropriate byte counting (RFC 3465),
 * pacing at 2x (slow start) or 1.2x (avoidance) cwnd/rtt, and SACK-based
 * recovery after
 * RFC 6675, simplified in the FreeBSD manner: the SACK scoreboard keeps up
 * to TCP_SCOREBOARD disjoint ranges above SND.UNA, holes below the highest
 * SACKed byte are taken as lost, and
 *   pipe = (SND.MAX - highest SACKed) + bytes retransmitted in recovery.
 * Without SACK, the RFC 6582 partial-ACK rule retransmits one segment per
 * partial ACK and every duplicate ACK takes one segment out of the pipe. */
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
}

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
}

/* Merges the valid SACK blocks of one ACK into the sorted scoreboard.
 * A block is used only if it lies inside (SND.UNA, SND.MAX]: D-SACKs and
 * forged blocks are ignored. */
void tcp_sack_update(struct tcp_conn *c, const struct tcp_opts *o)
{
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
