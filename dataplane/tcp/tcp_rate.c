/* SPDX-License-Identifier: BSD-3-Clause */
/* Rate mode: a connection whose gate grants it a rate (tcp_gate.min_rate:
 * a tenant channel with Transport = rate) and does not model the path
 * (tcp_gate.bbr). Random loss is not congestion there (as Riverbed's
 * MX-TCP): the gate (the WAN shaper) paces the connection at its grant
 * and the engine only keeps enough in flight to fill it:
 *   - the congestion window never goes below the floor, the grant's
 *     bandwidth-delay product x 1.25 on the minimum RTT: from the first
 *     RTT sample on, through recovery (PRR, tcp_prr.c, never takes it
 *     lower) and after an RTO (tcp_cc.c);
 *   - with SACK the window is compared with the RFC 6675 pipe also
 *     outside recovery (tcp_cc_inflight(), tcp_cc.c): after a recovery,
 *     SACKed bytes above a repair still on its way have left the network;
 *   - no pacing of the engine's own (tcp_pacing.c): cwnd/srtt pacing
 *     undercut the grant whenever the RTT rose or PRR lowered the window.
 * Above the floor CUBIC still grows the window (tcp_cc_ack). */
#include "tcp_internal.h"

/* The rate c is granted, bit/s; 0 outside rate mode. */
static uint64_t granted(const struct tcp_conn *c)
{
	const struct tcp_stack *st = c->st;
	if (!st->gate || !st->gate->min_rate || tcp_bbr_on(c))
		return 0;
	return st->gate->min_rate(st->gate_ctx, c);
}

bool tcp_rate_on(const struct tcp_conn *c)
{
	return granted(c) != 0;
}

/* The grant's bandwidth-delay product, x 1.25, on the minimum RTT seen
 * (SRTT before the first minimum); 0 outside rate mode or without an RTT. */
uint32_t tcp_rate_floor(const struct tcp_conn *c)
{
	uint32_t rtt = c->min_rtt_us ? c->min_rtt_us : c->srtt_us;
	uint64_t bps = rtt ? granted(c) : 0;
	if (!bps)
		return 0;
	unsigned __int128 f = (unsigned __int128)(bps / 8) * rtt / 1000000u * 5 / 4;
	return f < tcp_cwnd_cap(c) ? (uint32_t)f : tcp_cwnd_cap(c);
}

/* Raises the window to the floor; called wherever the window is set
 * lower or the floor may rise (an RTT sample, a new grant). */
void tcp_rate_hold(struct tcp_conn *c)
{
	uint32_t f = tcp_rate_floor(c);
	if (c->cwnd < f)
		c->cwnd = f;
}
