/* SPDX-License-Identifier: BSD-3-Clause */
/* Congestion control: slow start and congestion avoidance with CUBIC
 * (RFC 9438, the default, tcp_cubic.c) or NewReno (RFC 5681, 6582) with
 * appropriate byte counting (RFC 3465); the window on entering and leaving
 * recovery and after an RTO; the flight, the pipe and the in-flight
 * estimate the window is compared with. Rate mode (tcp_rate.c) holds the
 * window at its floor wherever it is set here.
 *
 * With SACK, losses are found by RACK (tcp_rack.c) and recovery sends what
 * PRR allows (tcp_prr.c); the pipe is
 *   outstanding - SACKed - lost and not yet retransmitted.
 * Without SACK, three duplicate ACKs start recovery, the RFC 6582
 * partial-ACK rule retransmits one segment per partial ACK and every
 * duplicate ACK takes one segment out of the pipe. */
#include "tcp_internal.h"

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

/* RFC 6675 2 (SetPipe, with RACK deciding what is lost): bytes sent from
 * SND.UNA up to SND.NXT, less those SACKed and those deemed lost and not
 * resent. SND.NXT is SND.MAX except after an RTO: the sender went back to
 * SND.UNA, and what it sent before lies beyond SND.NXT, deemed lost (RFC
 * 6675 5.1) and resent from there; counted, it held a go-back repair of a
 * lost retransmission until a second RTO. */
uint32_t tcp_pipe(const struct tcp_conn *c)
{
	if (c->flags & TF_SACK) {
		int64_t f = (int64_t)(uint32_t)(c->snd_nxt - c->snd_una) -
			    tcp_sacked_in(c, c->snd_una, c->snd_nxt) - c->lost_bytes;
		return f < 0 ? 0 : (uint32_t)f;
	}
	uint32_t hi = SEQ_GT(c->sack_hi, c->snd_una) ? c->sack_hi : c->snd_una;
	int64_t p = (int64_t)(uint32_t)(c->snd_max - hi) + c->rexmit_inflight;
	if (!(c->flags & TF_SACK))
		p -= (int64_t)c->dupacks * c->snd_mss;
	return p < 0 ? 0 : (uint32_t)p;
}

/* What the window limits outside recovery: in rate mode with SACK the
 * pipe (tcp_pipe); otherwise, as the engine always did (and BBR's and
 * CUBIC's behaviour keeps), everything sent and not cumulatively
 * acknowledged. */
uint32_t tcp_cc_inflight(const struct tcp_conn *c)
{
	if ((c->flags & TF_SACK) && tcp_rate_on(c))
		return tcp_pipe(c);
	return c->snd_nxt - c->snd_una;
}

uint32_t tcp_cwnd_cap(const struct tcp_conn *c)
{
	return c->st->cfg.sndbuf * 2u;
}

void tcp_cc_ack(struct tcp_conn *c, uint32_t acked)
{
	uint32_t mss = c->snd_mss;
	bool bbr = tcp_bbr_on(c);
	if (bbr && !tcp_bbr_startup(c))
		return; /* the model sets the window (tcp_bbr_ack) */
	if (c->cwnd < c->ssthresh || bbr) {
		/* slow start, L = 2 SMSS (RFC 3465) */
		c->cwnd += acked < 2 * mss ? acked : 2 * mss;
	} else if (cubic(c)) {
		tcp_cubic_ack(c, acked);
	} else {
		c->bytes_acked += acked;
		if (c->bytes_acked >= c->cwnd) {
			c->bytes_acked -= c->cwnd;
			c->cwnd += mss;
		}
	}
	if (c->cwnd > tcp_cwnd_cap(c))
		c->cwnd = tcp_cwnd_cap(c);
}

/* The new ssthresh on a congestion event: half the flight (NewReno) or
 * beta x cwnd with fast convergence (CUBIC, RFC 9438 4.6-4.7), never
 * below the granted rate's floor (tcp_rate.c). */
static uint32_t reduce(struct tcp_conn *c)
{
	uint32_t h;
	if (tcp_bbr_on(c)) {
		/* a loss is not congestion: the model's window (in start-up,
		 * the window reached: no halving) */
		h = tcp_bbr_target(c);
		if (tcp_bbr_startup(c) && h < c->cwnd)
			h = c->cwnd;
		return h > 2u * c->snd_mss ? h : 2u * c->snd_mss;
	}
	if (cubic(c))
		h = tcp_cubic_reduce(c);
	else
		h = tcp_flight(c) / 2;
	uint32_t f = tcp_rate_floor(c);
	if (h < f)
		h = f;
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
	tcp_rate_hold(c);
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
	tcp_rate_hold(c);
}

void tcp_cc_rto(struct tcp_conn *c)
{
	c->ssthresh = reduce(c);
	/* loss window (RFC 5681 3.1); in rate mode the floor (below): an RTO
	 * on a lossy WAN (a lost retransmission) does not restart it from one
	 * segment below its grant, the gate paces what goes */
	c->cwnd = c->snd_mss;
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
	tcp_rate_hold(c);
}
