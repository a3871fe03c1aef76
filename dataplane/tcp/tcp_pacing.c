/* SPDX-License-Identifier: BSD-3-Clause */
/* Pacing at 2x (slow start) or 1.2x (congestion avoidance) cwnd/rtt, and
 * the stack's output gate (tcp_stack_set_gate(): the WAN shaper's). In
 * rate mode (tcp_rate.c) the gate alone paces: at the grant. */
#include "tcp_internal.h"

/* Not in rate mode: there cwnd/srtt pacing undercut the grant whenever
 * the RTT rose or PRR lowered the window, and the gate spaces segments
 * at the grant anyway. */
static bool paced(const struct tcp_conn *c)
{
	return !(c->st->cfg.flags & TCP_CFG_NO_PACING) && c->srtt_us && !tcp_rate_on(c);
}

/* Pacing: each segment books len / rate of the link, rate = cwnd / srtt
 * times 2 in slow start and 1.2 in congestion avoidance (as Linux does); a
 * flow that was idle may send 10 segments or TCP_PACE_BURST_US worth,
 * whichever is more, at once. Returns
 * true (and arms the pacing timer) when the next segment must wait. */
bool tcp_pace_wait(struct tcp_conn *c)
{
	if (!paced(c))
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
	if (c->st->gate)
		c->st->gate->sent(c->st->gate_ctx, c, len);
	if (!paced(c))
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
	if (tcp_bbr_on(c) && tcp_bbr_pacing_rate(c) > 0)
		rate = tcp_bbr_pacing_rate(c); /* the model's gain x bandwidth */
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

/* True when the gate holds the next data segment (its owner kicks). */
bool tcp_gate_held(struct tcp_conn *c)
{
	return c->st->gate && !c->st->gate->may_send(c->st->gate_ctx, c);
}

void tcp_stack_set_gate(struct tcp_stack *st, const struct tcp_gate *g, void *ctx)
{
	st->gate = g;
	st->gate_ctx = ctx;
}

tcp_event_fn tcp_conn_handler(const struct tcp_conn *c, void **arg)
{
	*arg = c->handler_arg;
	return c->handler;
}

void tcp_kick(struct tcp_conn *c)
{
	TCP_SCOPE(c->st);
	tcp_output(c);
}
