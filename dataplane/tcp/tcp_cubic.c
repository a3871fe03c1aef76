/* SPDX-License-Identifier: BSD-3-Clause */
/* CUBIC (RFC 9438): the window's growth in congestion avoidance and its
 * reduction on a congestion event (tcp_cc.c chooses it unless
 * TCP_CFG_NEWRENO). */
#include "tcp_internal.h"

#include <math.h>

#define CUBIC_C 0.4     /* segments / s^3 */
#define CUBIC_BETA 0.7

/* RFC 9438 4.2-4.4: the window follows W(t) = C (t - K)^3 + W_max, at
 * least the Reno-friendly estimate, one RTT ahead. */
void tcp_cubic_ack(struct tcp_conn *c, uint32_t acked)
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

/* RFC 9438 4.6-4.7: beta x cwnd with fast convergence; returns the new
 * ssthresh before the floor of two segments (tcp_cc.c). */
uint32_t tcp_cubic_reduce(struct tcp_conn *c)
{
	uint32_t w = c->cwnd;
	if (w < c->cubic_wmax)
		c->cubic_wmax = (uint32_t)(w * (1.0 + CUBIC_BETA) / 2.0);
	else
		c->cubic_wmax = w;
	c->cubic_epoch_us = 0;
	uint32_t f = tcp_flight(c);
	return (uint32_t)((f < w ? f : w) * CUBIC_BETA);
}
