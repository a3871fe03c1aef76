/* SPDX-License-Identifier: BSD-3-Clause */
/* RACK-TLP loss detection (RFC 8985), for SACK connections: every
 * transmission is recorded with its send time (tcp_conn.xl[], one record
 * per burst, at most TCP_XMIT_LOG, oldest first); when an ACK delivers
 * data, RACK.xmit_ts becomes the send time of the latest-sent delivered
 * segment, and anything sent before it and still undelivered RACK.rtt +
 * reo_wnd after its own send time is lost, first transmissions and
 * retransmissions alike (so a lost retransmission costs a reordering
 * window, not an RTO). Lost records stay in the log, flagged, until
 * retransmitted. The tail loss probes are in tcp_timer.c. */
#include "tcp_internal.h"

#include <string.h>

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

bool tcp_retrans_in(const struct tcp_conn *c, uint32_t s, uint32_t e)
{
	for (unsigned i = 0; i < c->nxl; i++)
		if ((c->xl[i].flags & XR_RETRANS) && SEQ_LT(c->xl[i].seq, e) &&
		    SEQ_LT(s, c->xl[i].seq + c->xl[i].len))
			return true;
	return false;
}

void tcp_lost_recount(struct tcp_conn *c)
{
	uint32_t n = 0;
	for (unsigned i = 0; i < c->nxl; i++) {
		const struct tcp_xmit *x = &c->xl[i];
		if (x->flags & XR_LOST)
			n += x->len - tcp_sacked_in(c, x->seq, x->seq + x->len);
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
	tcp_lost_recount(c);
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
		if (l->seq + l->len == seq && l->ts == t && (l->flags & ~XR_MERGED) == fl &&
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

/* b continues a in sequence: at once, or past bytes the peer holds (the
 * joined record then covers them, and SACKed bytes are never marked lost
 * nor resent: repairs of holes a window apart, new data around records
 * already removed as delivered). */
static bool continues(const struct tcp_conn *c, const struct tcp_xmit *a,
		      const struct tcp_xmit *b)
{
	uint32_t end = a->seq + a->len;
	if (end == b->seq)
		return true;
	return SEQ_LT(end, b->seq) && tcp_sacked_in(c, end, b->seq) == b->seq - end;
}

/* Frees one slot in a full log: a record merges into the next one of its
 * kind in time order that continues it in sequence (retransmissions of
 * other ranges may lie between them: new data interleaved with repairs),
 * the pair closest in time first; the merged record keeps the later time
 * and the later place (losses in the older part are then found a little
 * later, never earlier: only the delivery of its last byte advances
 * RACK.xmit_ts, rack_deliver). Failing that the oldest record not marked lost is
 * forgotten: only the RTO covers what of it is not SACKed (a forgotten
 * repair at SND.UNA, lost again, stalled a rate-mode channel's full window
 * until its RTO before gaps the peer holds could be joined over). */
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
			if ((b->flags & ~XR_MERGED) != (a->flags & ~XR_MERGED))
				continue;
			uint32_t len = b->seq + b->len - a->seq;
			if (continues(c, a, b) && len <= TCP_XMIT_MAXLEN && b->ts - a->ts < bestd) {
				bestd = b->ts - a->ts;
				best = i;
				bestj = j;
			}
			break; /* only the next record of the same kind */
		}
	}
	if (best < TCP_XMIT_LOG) {
		c->xl[bestj].len = c->xl[bestj].seq + c->xl[bestj].len - c->xl[best].seq;
		c->xl[bestj].seq = c->xl[best].seq;
		c->xl[bestj].flags |= XR_MERGED;
		xl_remove(c, best);
		return;
	}
	unsigned i = 0;
	while (i + 1 < c->nxl && (c->xl[i].flags & XR_LOST))
		i++;
	xl_remove(c, i);
	tcp_lost_recount(c);
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
void tcp_rack_dsack(struct tcp_conn *c)
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
		} else if (rtt < sample && !(x->flags & XR_LOST) && SEQ_GT(b, fack) &&
			   (!(x->flags & XR_MERGED) || b == x->seq + x->len) &&
			   !tcp_retrans_in(c, a, b)) {
			/* data beyond all delivered before: sent once, news; of a
			 * merged record the last byte, the one sent at x->ts (a
			 * record merged by xl_room keeps the later time: its older part
			 * would give a sample short by the gap, which took the
			 * channel's min_RTT to 33 ms on a 50 ms path); none of it
			 * resent (a resent tail's ACK is not the original's) */
			sample = rtt;
		}
		/* of a merged record only its last byte was sent at x->ts: an
		 * older part delivered (or a SACK block repeated over a gap it
		 * was joined across) must not date RACK.xmit_ts to the later
		 * time, or every record sent before it would be marked lost
		 * at once */
		if ((x->flags & XR_MERGED) && b != x->seq + x->len)
			continue;
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
		if (tcp_sacked_in(c, x->seq, end) == x->len) {
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
	tcp_lost_recount(c);
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
		tcp_prr(c, delivered);
}

/* The reorder timer fired (RFC 8985 6.3). */
void tcp_rack_timeout(struct tcp_conn *c)
{
	rack_losses(c);
	if (c->flags & TF_IN_RECOVERY)
		tcp_prr(c, 0);
	tcp_output(c);
}
