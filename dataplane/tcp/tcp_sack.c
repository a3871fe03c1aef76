/* SPDX-License-Identifier: BSD-3-Clause */
/* The SACK scoreboard (RFC 2018, 6675): the ranges the peer holds above
 * SND.UNA, merged from each ACK's blocks, the holes to retransmit, and
 * the D-SACK and reordering signals for RACK. */
#include "tcp_internal.h"

#include <string.h>

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
	tcp_lost_recount(c);
}

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
				tcp_rack_dsack(c);
		} else if (SEQ_LT(s0, e0) && SEQ_GT(s0, c->snd_una) && SEQ_LEQ(e0, c->snd_max) &&
			   SEQ_LT(e0, c->rack_fack) && SEQ_LEQ(c->rack_fack, c->snd_max) &&
			   tcp_sacked_in(c, s0, e0) < e0 - s0 &&
			   !tcp_retrans_in(c, s0, e0)) {
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

/* Bytes of [s, e) held by the peer according to the scoreboard. */
uint32_t tcp_sacked_in(const struct tcp_conn *c, uint32_t s, uint32_t e)
{
	uint32_t n = 0;
	for (unsigned i = 0; i < c->nsb; i++) {
		uint32_t a = SEQ_MAX(s, c->sb[i][0]), b = SEQ_MIN(e, c->sb[i][1]);
		if (SEQ_LT(a, b))
			n += b - a;
	}
	return n;
}
