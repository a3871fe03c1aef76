/* SPDX-License-Identifier: BSD-3-Clause */
/* BBR-style congestion control (after BBR v1, Cardwell et al., ACM Queue
 * 2016), for a connection whose gate says so (tcp_gate.bbr: a tenant
 * channel with Transport = bbr). It models the path instead of reacting
 * to loss:
 *   - bottleneck bandwidth: the most delivered per round trip (bytes
 *     cumulatively ACKed plus SACKed over the round, divided by its
 *     length), max over the last BBR_BW_ROUNDS rounds;
 *   - propagation delay: the least RTT sample of the last 10 s;
 *   - it paces at gain x bandwidth and keeps at most 2 x bandwidth x
 *     min RTT in flight. Start-up grows as slow start does (pacing 2.89 x)
 *     until three rounds add less than 25 % to the bandwidth, drains the
 *     queue it made (pacing 1 / 2.89 until the flight is one BDP), then
 *     cycles 1.25, 0.75, 1 x 6 per min RTT: the 1.25 round probes for
 *     more bandwidth, the 0.75 one drains what that probe queued.
 * Random loss does not lower the model (a loss is not congestion);
 * queueing delay does: a bottleneck narrower than the gate's rate stops
 * the delivery rate from growing, so the window and pacing settle at the
 * bottleneck and its queue stays within about one BDP. Recovery keeps
 * PRR (tcp_prr.c) but towards the model's window, never half of it; an
 * RTO still restarts from one segment. Not built: PROBE_RTT (the 0.75
 * phase drains the queue often enough for the min RTT filter here) and
 * BBR's per-packet delivery-rate samples (a round's average instead). */
#include "tcp_internal.h"

#include <string.h>

enum { BBR_STARTUP, BBR_DRAIN, BBR_PROBE_BW };

#define BBR_UNIT 256u
#define BBR_HIGH_GAIN 739u          /* 2.885 x 256: start-up's pacing gain */
#define BBR_DRAIN_GAIN 89u          /* 256 / 2.885 */
#define BBR_CWND_GAIN 512u          /* 2 x: the window is two BDPs */
#define BBR_MIN_RTT_WIN_US 10000000u /* the min RTT filter's window */
#define BBR_FULL_ROUNDS 3           /* rounds without 25 % growth: the pipe is full */

static const uint16_t cycle_gain[BBR_CYCLE] = { 320, 192, 256, 256, 256, 256, 256, 256 };

/* The connection's model, NULL when it has none; another connection's
 * (the channel reconnected) is started anew. */
static struct tcp_bbr *model(const struct tcp_conn *c)
{
	const struct tcp_stack *st = c->st;
	struct tcp_bbr *b = st->gate && st->gate->bbr ? st->gate->bbr(st->gate_ctx, c) : NULL;
	if (b && b->owner != c) {
		memset(b, 0, sizeof(*b));
		b->owner = c;
	}
	return b;
}

bool tcp_bbr_on(const struct tcp_conn *c)
{
	return model(c) != NULL;
}

bool tcp_bbr_startup(const struct tcp_conn *c)
{
	const struct tcp_bbr *b = model(c);
	return b && b->mode == BBR_STARTUP;
}

/* Bytes per ms: the max of the round samples kept (kept per ms: 32 bits
 * hold 34 Tbit/s, and the connection stays small). */
static uint32_t bw_max(const struct tcp_bbr *b)
{
	uint32_t m = 0;
	for (unsigned i = 0; i < BBR_BW_ROUNDS; i++)
		if (b->bw[i] > m)
			m = b->bw[i];
	return m;
}

/* Bytes per second. */
static uint64_t bbr_bw(const struct tcp_bbr *b)
{
	return (uint64_t)bw_max(b) * 1000u;
}

static uint32_t bbr_min_rtt(const struct tcp_conn *c, const struct tcp_bbr *b)
{
	return b->min_rtt_us ? b->min_rtt_us : c->min_rtt_us;
}

/* gain/256 x the bandwidth-delay product; 0 without a model yet */
static uint32_t bbr_bdp(const struct tcp_conn *c, const struct tcp_bbr *b, uint32_t gain)
{
	uint64_t bw = bbr_bw(b);
	uint32_t rtt = bbr_min_rtt(c, b);
	if (!bw || !rtt)
		return 0;
	uint64_t d = bw * rtt / 1000000u * gain / BBR_UNIT;
	uint32_t cap = c->st->cfg.sndbuf * 2u;
	return d < cap ? (uint32_t)d : cap;
}

/* The window the model allows: 2 BDPs plus 3 segments (delayed and
 * stretched ACKs), at least 4 segments. */
static uint32_t target(const struct tcp_conn *c, const struct tcp_bbr *b)
{
	uint32_t d = bbr_bdp(c, b, BBR_CWND_GAIN);
	uint32_t w = d + 3 * c->snd_mss;
	return d && w > 4 * c->snd_mss ? w : 4 * c->snd_mss;
}

uint32_t tcp_bbr_target(const struct tcp_conn *c)
{
	const struct tcp_bbr *b = model(c);
	return b ? target(c, b) : 4 * c->snd_mss;
}

void tcp_bbr_rtt(struct tcp_conn *c, uint32_t r)
{
	struct tcp_bbr *b = model(c);
	if (!b)
		return;
	uint64_t now = c->st->now;
	if (!b->rd_rtt_us || r < b->rd_rtt_us)
		b->rd_rtt_us = r;
	if (!b->min_rtt_us || r <= b->min_rtt_us || now - b->min_rtt_t > BBR_MIN_RTT_WIN_US) {
		b->min_rtt_us = r;
		b->min_rtt_t = now;
	}
}

/* Bytes per microsecond to pace at (0: not modelled yet, the default
 * pacing applies). */
double tcp_bbr_pacing_rate(const struct tcp_conn *c)
{
	const struct tcp_bbr *b = model(c);
	uint64_t bw = b ? bbr_bw(b) : 0;
	if (!bw)
		return 0;
	uint32_t g = b->mode == BBR_STARTUP ? BBR_HIGH_GAIN
		     : b->mode == BBR_DRAIN ? BBR_DRAIN_GAIN
					  : cycle_gain[b->cycle];
	return (double)bw * g / BBR_UNIT / 1e6;
}

/* A round trip ended (SND.UNA passed the round's mark): its delivery
 * rate, the start-up's end, the probing cycle. */
static void round_end(struct tcp_conn *c, struct tcp_bbr *b, uint64_t now)
{
	uint64_t delivered = b->delivered + c->sacked_bytes;
	uint64_t dt = now - b->rd_t0;
	uint32_t rtt = bbr_min_rtt(c, b);
	/* a round is at least 3/4 of the min RTT: a "round" with nothing in
	 * flight ends at the next ACK, microseconds later, and its rate would
	 * be anything */
	if (b->rd_t0 && rtt && dt < (uint64_t)rtt * 3 / 4 && delivered >= b->rd_delivered)
		return;
	if (b->rd_t0 && dt && delivered > b->rd_delivered) {
		uint64_t s = (delivered - b->rd_delivered) * 1000u / dt;
		if (s > UINT32_MAX)
			s = UINT32_MAX;
		/* a round the sender had nothing more to send for (the channel
		 * idle or waiting on its flows) is only news when higher */
		bool app_limited = c->sndq.bytes <= tcp_flight(c);
		uint32_t max = bw_max(b);
		b->round++;
		b->bw[b->round % BBR_BW_ROUNDS] = app_limited && s < max ? max : (uint32_t)s;
		if (b->mode == BBR_STARTUP && !app_limited) {
			uint32_t m = bw_max(b);
			if (m >= b->full_bw + b->full_bw / 4) {
				b->full_bw = m;
				b->full_cnt = 0;
			} else if (++b->full_cnt >= BBR_FULL_ROUNDS) {
				b->mode = BBR_DRAIN;
			}
		}
	}
	/* Queueing delay: when even the least RTT of a whole round stood a
	 * quarter above the path's (plus 1 ms), a queue persisted through it
	 * (the WAN is congested, or the model's bandwidth is above the
	 * bottleneck): the next phase is the 0.75 one, which drains it,
	 * instead of probing for more. */
	if (b->mode == BBR_PROBE_BW && rtt && b->rd_rtt_us > rtt + rtt / 4 + 1000 &&
	    b->cycle != 1) {
		b->cycle = 1;
		b->cycle_t = now;
		b->backoffs++;
	}
	b->rd_rtt_us = 0;
	/* (a scoreboard forgotten after an RTO lowers delivered: a new
	 * round starts from there, with no sample) */
	b->rd_delivered = delivered;
	b->rd_t0 = now;
	b->rd_end = c->snd_max;
}

void tcp_bbr_ack(struct tcp_conn *c, uint32_t acked)
{
	struct tcp_bbr *b = model(c);
	if (!b)
		return;
	uint64_t now = c->st->now;
	b->delivered += acked;
	if (!b->rd_t0 || SEQ_GEQ(c->snd_una, b->rd_end))
		round_end(c, b, now);
	uint32_t bdp = bbr_bdp(c, b, BBR_UNIT);
	if (b->mode == BBR_DRAIN && bdp && tcp_flight(c) <= bdp) {
		b->mode = BBR_PROBE_BW;
		b->cycle = 2; /* start at gain 1: the queue was just drained */
		b->cycle_t = now;
	} else if (b->mode == BBR_PROBE_BW && now - b->cycle_t >= bbr_min_rtt(c, b)) {
		/* one min RTT per phase; the 0.75 phase ends early once the
		 * flight is down to one BDP */
		b->cycle = (uint8_t)((b->cycle + 1) % BBR_CYCLE);
		b->cycle_t = now;
	} else if (b->mode == BBR_PROBE_BW && b->cycle == 1 && bdp && tcp_flight(c) <= bdp) {
		b->cycle = 2;
		b->cycle_t = now;
	}
	if (b->mode == BBR_STARTUP) {
		/* slow start grows the window (tcp_cc_ack), loss leaves it; at
		 * most 2.89 BDPs of the bandwidth measured so far (BBR's
		 * start-up cwnd gain), so a narrow bottleneck's queue takes at
		 * most about two BDPs while the pipe fills */
		uint32_t hi = bbr_bdp(c, b, BBR_HIGH_GAIN), cap = hi + 3 * c->snd_mss;
		if (hi && c->cwnd > cap && cap > TCP_INIT_CWND_SEGS * c->snd_mss)
			c->cwnd = cap;
		return;
	}
	/* the model's window: PRR moves towards it in recovery (ssthresh),
	 * otherwise it is the window */
	uint32_t w = target(c, b);
	c->ssthresh = w;
	if (!(c->flags & TF_IN_RECOVERY))
		c->cwnd = w;
}
