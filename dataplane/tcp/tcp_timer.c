/* SPDX-License-Identifier: BSD-3-Clause */
/* Timers: retransmission (RFC 6298 with Karn's rule through timing only
 * segments sent once, or timestamps), tail loss probe and RACK reorder
 * timer (RFC 8985), delayed ACK, zero-window persist,
 * TIME-WAIT and the FIN-WAIT-2 timeout. Each connection keeps absolute
 * deadlines; tcp_poll() walks the connections with an armed timer. */
#include "tcp_internal.h"

/* RFC 6298 2.2/2.3, alpha 1/8, beta 1/4, G = 1 us, RTO >= rto_min. */
void tcp_rtt_sample(struct tcp_conn *c, uint32_t r)
{
	const struct tcp_config *cfg = &c->st->cfg;
	if (r == 0)
		r = 1;
	if (!c->min_rtt_us || r < c->min_rtt_us)
		c->min_rtt_us = r;
	tcp_bbr_rtt(c, r);
	if (!c->srtt_us) {
		c->srtt_us = r;
		c->rttvar_us = r / 2;
	} else {
		uint32_t d = c->srtt_us > r ? c->srtt_us - r : r - c->srtt_us;
		c->rttvar_us = c->rttvar_us - c->rttvar_us / 4 + d / 4;
		c->srtt_us = c->srtt_us - c->srtt_us / 8 + r / 8;
	}
	uint64_t rto = (uint64_t)c->srtt_us + 4ull * (c->rttvar_us ? c->rttvar_us : 1);
	if (rto < cfg->rto_min_us)
		rto = cfg->rto_min_us;
	if (rto > cfg->rto_max_us)
		rto = cfg->rto_max_us;
	c->rto_us = (uint32_t)rto;
	tcp_rate_hold(c); /* rate mode: the floor from the first sample on */
}

/* A tail loss probe (RFC 8985 7) fires before the RTO when SACK is on:
 * one segment sent at PTO = 2 SRTT lets SACK recovery repair a lost tail
 * instead of a timeout. Unlike RFC 8985 7.2 (c), probes are sent during
 * recovery too, and a second one after twice the PTO if the first got no
 * answer: with 1 % of ACKs lost and a receiver that ACKs a window at
 * once, a lost ACK otherwise stalls recovery until the RTO (200 ms).
 * Not during the go-back after an RTO (SND.NXT below SND.MAX): the probe,
 * the last segment, lies beyond SND.NXT, which the pipe no longer counts
 * (tcp_pipe), and go-back sends it again in turn; RACK repairs the
 * go-back's own losses. */
static bool tlp_ok(const struct tcp_conn *c)
{
	return (c->flags & TF_SACK) && c->srtt_us && c->snd_nxt == c->snd_max &&
	       !c->retries && c->state >= TCP_ESTABLISHED && c->state != TCP_FIN_WAIT_2 &&
	       c->state != TCP_TIME_WAIT;
}

static uint64_t pto(const struct tcp_conn *c)
{
	uint64_t p = 2ull * c->srtt_us;
	if (c->snd_max - c->snd_una <= c->snd_mss)
		p += TCP_PTO_ONE_SEG_US;
	return p < TCP_PTO_MIN_US ? TCP_PTO_MIN_US : p;
}

/* The RACK reorder timer shares the t_rto slot: t_rto is the earlier of
 * the reorder deadline (t_rack) and the RTO or probe deadline (t_rto_real). */
static void set_rto(struct tcp_conn *c, uint64_t due)
{
	c->t_rto_real = due;
	c->t_rto = c->t_rack && c->t_rack < due ? c->t_rack : due;
	tcp_timer_update(c);
}

void tcp_rack_timer(struct tcp_conn *c, uint64_t due)
{
	if (c->t_rack == due)
		return;
	uint64_t real = c->t_rack && c->t_rto == c->t_rack ? c->t_rto_real : c->t_rto;
	c->t_rto_real = real;
	c->t_rack = due;
	c->t_rto = due && (!real || due < real) ? due : real;
	tcp_timer_update(c);
}

void tcp_arm_rto(struct tcp_conn *c)
{
	c->flags &= ~TF_PROBE;
	if (tlp_ok(c)) {
		uint64_t p = pto(c);
		if (p < c->rto_us) {
			c->flags |= TF_PROBE;
			c->flags &= ~TF_PROBE2;
			set_rto(c, c->st->now + p);
			return;
		}
	}
	set_rto(c, c->st->now + c->rto_us);
}

/* After data went out (RFC 8985 7.2: the PTO is scheduled on sending):
 * an RTO armed while one segment was in flight (PTO = 2 SRTT + 200 ms,
 * no better than the RTO) becomes a probe timer once the flight grew. */
void tcp_arm_sent(struct tcp_conn *c)
{
	if (!c->t_rto) {
		tcp_arm_rto(c);
		return;
	}
	if ((c->flags & (TF_PROBE | TF_PROBED)) || !tlp_ok(c))
		return;
	uint64_t due = c->t_rack && c->t_rto == c->t_rack ? c->t_rto_real : c->t_rto;
	uint64_t p = pto(c);
	if (p < c->rto_us && c->st->now + p < due) {
		c->flags |= TF_PROBE;
		c->flags &= ~TF_PROBE2;
		set_rto(c, c->st->now + p);
	}
}

static void probe(struct tcp_conn *c)
{
	struct tcp_stack *st = c->st;
	c->flags &= ~TF_PROBE;
	c->stats.tail_probes++;
	uint32_t end_data = c->snd_una + c->sndq.bytes;
	uint32_t room = c->snd_wnd > c->snd_nxt - c->snd_una ? c->snd_wnd - (c->snd_nxt - c->snd_una) : 0;
	/* RFC 8985 7.3 prefers new data. A Linux receiver holds the ACK of
	 * an in-order segment up to 40 ms, and the usual tail "loss" here is
	 * a lost ACK: the last segment again is a duplicate it ACKs at once
	 * (with a D-SACK), or, if the tail was lost, out of order and SACKed
	 * at once. So with SACK the probe is always the last segment. */
	if (SEQ_LT(c->snd_nxt, end_data) && room &&
	    (!(c->flags & TF_SACK) || c->snd_max == c->snd_una)) {
		/* new data if the window allows: one segment */
		uint32_t len = end_data - c->snd_nxt;
		if (len > tcp_data_mss(c))
			len = tcp_data_mss(c);
		if (len > room)
			len = room;
		tcp_send_segment(c, c->snd_nxt, len, TH_ACK);
		tcp_rack_sent(c, c->snd_nxt, len, false);
		c->stats.bytes_out += len;
		c->snd_nxt += len;
		if (SEQ_GT(c->snd_nxt, c->snd_max))
			c->snd_max = c->snd_nxt;
	} else {
		/* else the last segment again */
		uint32_t hi = SEQ_LT(c->snd_max, end_data) ? c->snd_max : end_data;
		uint32_t mss = tcp_data_mss(c);
		uint32_t lo = hi - c->snd_una > mss ? hi - mss : c->snd_una;
		if (SEQ_LT(lo, hi)) {
			tcp_send_segment(c, lo, hi - lo, TH_ACK);
			tcp_rack_sent(c, lo, hi - lo, true);
			tcp_count_retrans(c, hi - lo);
			c->flags &= ~TF_RTT_TIMING;
		}
	}
	c->flags |= TF_PROBED;
	c->tlp_high = c->snd_max;
	uint64_t p2 = 2 * pto(c);
	if ((c->flags & TF_SACK) && !(c->flags & TF_PROBE2) && p2 < c->rto_us) {
		c->flags |= TF_PROBE | TF_PROBE2; /* one more, then the RTO */
		set_rto(c, st->now + p2);
		return;
	}
	set_rto(c, st->now + c->rto_us); /* the real timeout from here */
}

void tcp_enter_time_wait(struct tcp_conn *c)
{
	tcp_set_state(c, TCP_TIME_WAIT);
	c->t_rto = c->t_persist = 0;
	c->t_tw = c->st->now + c->st->cfg.time_wait_us;
	tcp_timer_update(c);
}

static void backoff(struct tcp_conn *c)
{
	uint64_t r = (uint64_t)c->rto_us * 2;
	c->rto_us = r > c->st->cfg.rto_max_us ? c->st->cfg.rto_max_us : (uint32_t)r;
}

static void rto_expired(struct tcp_conn *c)
{
	struct tcp_stack *st = c->st;
	c->flags &= ~TF_RTT_TIMING; /* Karn: no sample from a retransmission */
	c->retries++;
	st->stats.rto_expiries++;
	c->stats.rto_expiries++;
	if (c->state == TCP_SYN_SENT || c->state == TCP_SYN_RECEIVED) {
		if (c->retries > st->cfg.syn_retries) {
			if (c->state == TCP_SYN_RECEIVED && (c->flags & TF_PASSIVE))
				tcp_conn_free(st, c);
			else
				tcp_conn_reset(c, TCP_EV_TIMEOUT);
			return;
		}
		backoff(c);
		/* RFC 6298 5.7: after a lost SYN, start data at 3 s */
		tcp_send_segment(c, c->iss, 0,
				 c->state == TCP_SYN_SENT ? TH_SYN : TH_SYN | TH_ACK);
		c->stats.retrans_segs++;
		tcp_arm_rto(c);
		return;
	}
	if (c->retries > st->cfg.max_retries) {
		tcp_send_segment(c, tcp_ack_seq(c), 0, TH_RST | TH_ACK);
		st->stats.rst_out++;
		c->flags |= TF_TIMEDOUT;
		tcp_conn_reset(c, TCP_EV_TIMEOUT);
		return;
	}
	backoff(c);
	tcp_cc_rto(c);
	c->snd_nxt = c->snd_una; /* go back: resend from the first unacknowledged */
	if (c->flags & TF_FIN_SENT && c->sndq.bytes == 0 && c->snd_max != c->snd_una)
		c->flags &= ~TF_FIN_SENT;
	c->t_rto = 0;
	tcp_output(c);
	if (!c->t_rto)
		tcp_arm_rto(c);
}

static void persist_expired(struct tcp_conn *c)
{
	struct tcp_stack *st = c->st;
	c->t_persist = 0;
	if (c->snd_wnd == 0 && c->sndq.bytes > 0) {
		/* one byte beyond the window: the ACK tells the window */
		tcp_send_segment(c, c->snd_una, 1, TH_ACK);
		if (SEQ_LT(c->snd_max, c->snd_una + 1))
			c->snd_max = c->snd_una + 1;
		if (c->persist_shift < 16)
			c->persist_shift++;
		uint64_t iv = (uint64_t)(c->rto_us < TCP_PERSIST_MIN_US ? TCP_PERSIST_MIN_US
								  : c->rto_us) << c->persist_shift;
		if (iv > TCP_PERSIST_MAX_US)
			iv = TCP_PERSIST_MAX_US;
		c->t_persist = st->now + iv;
	} else {
		c->flags &= ~TF_PERSIST;
		tcp_output(c);
	}
	tcp_timer_update(c);
}

void tcp_timers_run(struct tcp_conn *c)
{
	uint64_t now = c->st->now;
	if (c->t_tw && now >= c->t_tw) {
		c->t_tw = 0;
		if (c->state == TCP_TIME_WAIT || c->state == TCP_FIN_WAIT_2) {
			tcp_conn_closed(c);
			return;
		}
	}
	if (c->t_rack && now >= c->t_rack) {
		/* RACK reorder timer (RFC 8985 6.3) */
		if (c->t_rto == c->t_rack)
			c->t_rto = c->t_rto_real;
		c->t_rack = 0;
		tcp_timer_update(c);
		tcp_rack_timeout(c);
		if (c->flags & TF_DEAD || c->state == TCP_CLOSED)
			return;
	}
	if (c->t_rto && now >= c->t_rto && (c->flags & TF_PROBE)) {
		probe(c);
	} else if (c->t_rto && now >= c->t_rto) {
		c->t_rto = 0;
		rto_expired(c);
		if (c->flags & TF_DEAD || c->state == TCP_CLOSED)
			return;
	}
	if (c->t_persist && now >= c->t_persist)
		persist_expired(c);
	if (c->t_pace && now >= c->t_pace) {
		c->t_pace = 0;
		tcp_output(c);
	}
	if (c->t_delack && now >= c->t_delack) {
		c->t_delack = 0;
		if (c->flags & TF_DELACK)
			tcp_send_ack(c);
	}
	tcp_timer_update(c);
}

void tcp_timer_unlink(struct tcp_stack *st, struct tcp_conn *c)
{
	if (c->tprev)
		c->tprev->tnext = c->tnext;
	else if (st->timers == c)
		st->timers = c->tnext;
	else
		return;
	if (c->tnext)
		c->tnext->tprev = c->tprev;
	c->tnext = c->tprev = NULL;
}

static uint64_t conn_due(const struct tcp_conn *c)
{
	uint64_t d = UINT64_MAX;
	const uint64_t t[] = { c->t_rto, c->t_delack, c->t_persist, c->t_tw, c->t_pace };
	for (unsigned i = 0; i < 5; i++)
		if (t[i] && t[i] < d)
			d = t[i];
	return d;
}

void tcp_timer_update(struct tcp_conn *c)
{
	struct tcp_stack *st = c->st;
	bool armed = c->t_rto || c->t_delack || c->t_persist || c->t_tw || c->t_pace;
	if (armed) {
		uint64_t d = conn_due(c);
		if (d < st->next_due)
			st->next_due = d;
	}
	bool linked = c->tprev || st->timers == c;
	if (armed && !linked) {
		c->tnext = st->timers;
		c->tprev = NULL;
		if (st->timers)
			st->timers->tprev = c;
		st->timers = c;
	} else if (!armed && linked) {
		tcp_timer_unlink(st, c);
	}
}

uint64_t tcp_next_timer(const struct tcp_stack *st)
{
	return st->timers ? st->next_due : UINT64_MAX;
}

/* Walks the connections with an armed timer, but only when the earliest
 * deadline has come: between deadlines a poll costs one comparison. */
/* Writers refused for want of room that their own ACKs may never bring
 * (the tenant's budget or the pool, held by other connections): told
 * TCP_EV_WRITABLE once a quarter of a send buffer (at most 64 KiB) fits
 * and the pool has mbufs again. Entries appended by the events go after
 * the ones being looked at. */
static void wake_starved(struct tcp_stack *st)
{
	uint32_t n = st->n_starved, kept = 0;
	uint64_t want = st->cfg.sndbuf / 4 < 65536 ? st->cfg.sndbuf / 4 : 65536;
	bool pool = rte_mempool_avail_count(st->mp) >= 64;
	for (uint32_t i = 0; i < n; i++) {
		struct tcp_conn *c = &st->conns[st->starved[i]];
		if (!(c->flags & TF_STARVED))
			continue; /* freed (flags cleared) or listed twice */
		if (!(c->flags & TF_WANT_WRITABLE) || (c->flags & TF_DEAD)) {
			c->flags &= ~TF_STARVED;
			continue;
		}
		if (pool && tcp_writable(c) >= want) {
			c->flags &= ~(TF_STARVED | TF_WANT_WRITABLE);
			tcp_notify(c, TCP_EV_WRITABLE);
			continue;
		}
		st->starved[kept++] = st->starved[i];
	}
	uint32_t added = st->n_starved - n;
	memmove(&st->starved[kept], &st->starved[n], added * sizeof(*st->starved));
	st->n_starved = kept + added;
}

void tcp_poll(struct tcp_stack *st)
{
	TCP_SCOPE(st);
	if (st->n_starved && st->now >= st->starved_due) {
		st->starved_due = st->now + 1000;
		wake_starved(st);
	}
	if (st->now >= st->next_due) {
		st->next_due = UINT64_MAX;
		struct tcp_conn *c = st->timers;
		while (c) {
			struct tcp_conn *next = c->tnext;
			if ((c->flags & TF_PENDING) && c->t_tw && st->now >= c->t_tw)
				tcp_pending_expired(c);
			else
				tcp_timers_run(c);
			if (!(c->flags & TF_DEAD)) {
				uint64_t d = conn_due(c);
				if (d < st->next_due)
					st->next_due = d;
			}
			c = next;
		}
	}
}
