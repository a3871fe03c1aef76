/* SPDX-License-Identifier: BSD-3-Clause */
/* Proportional rate reduction (RFC 6937) for SACK connections in
 * recovery: what may be sent is proportional to the data delivered while
 * the pipe is above ssthresh, then slow start up to it; in rate mode
 * never below the granted rate's floor (tcp_rate.c). */
#include "tcp_internal.h"

/* RFC 6937 3, with SSRB: the congestion window for this ACK is the pipe
 * plus what may be sent now. */
void tcp_prr(struct tcp_conn *c, uint32_t delivered)
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
	tcp_rate_hold(c); /* rate mode: never below the grant's floor */
}
