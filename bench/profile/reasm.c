/* SPDX-License-Identifier: BSD-3-Clause */
#include "reasm.h"

#include <stdlib.h>
#include <string.h>

#include "dissect.h"

/* A piece of out-of-order data. Pieces are disjoint and sorted. */
struct reasm_held {
	struct reasm_held *next;
	uint64_t off;
	uint32_t len;
	uint8_t data[];
};

static uint64_t min64(uint64_t a, uint64_t b) { return a < b ? a : b; }
static uint64_t max64(uint64_t a, uint64_t b) { return a > b ? a : b; }

void reasm_init(struct reasm *r, size_t held_max)
{
	memset(r, 0, sizeof(*r));
	r->held_max = held_max;
}

void reasm_free(struct reasm *r)
{
	for (struct reasm_held *h = r->held, *n; h; h = n) {
		n = h->next;
		free(h);
	}
	r->held = r->held_tail = NULL;
	r->held_cost = r->held_n = 0;
	free(r->hist);
	r->hist = NULL;
}

/* Stream offset of sequence number seq: within 2^31 of the next byte. */
static int64_t offset_of(const struct reasm *r, uint32_t seq)
{
	uint32_t cur = r->base + (uint32_t)r->next;
	return (int64_t)r->next + (int32_t)(seq - cur);
}

static void deliver(struct reasm *r, const uint8_t *p, size_t len,
		    const struct reasm_sink *k)
{
	if (!r->hist)
		r->hist = malloc(REASM_HISTORY); /* without it: overlaps unchecked */
	if (r->hist) {
		size_t at = (size_t)(r->next % REASM_HISTORY), keep = len, from = 0;
		if (keep > REASM_HISTORY) {
			from = keep - REASM_HISTORY;
			at = (size_t)((r->next + from) % REASM_HISTORY);
			keep = REASM_HISTORY;
		}
		size_t first = REASM_HISTORY - at < keep ? REASM_HISTORY - at : keep;
		memcpy(r->hist + at, p + from, first);
		memcpy(r->hist, p + from + first, keep - first);
	}
	k->data(k->ctx, r->next, p, len);
	r->next += len;
	r->st.bytes += len;
}

static void declare_gap(struct reasm *r, uint64_t len, enum reasm_gap_reason why,
			const struct reasm_sink *k)
{
	if (!len)
		return;
	k->gap(k->ctx, r->next, len, why);
	r->gap_start = r->next;
	r->next += len;
	r->gap_end = r->next;
	r->st.gaps++;
	r->st.gap_bytes += len;
}

/* Counts how many of n bytes differ. */
static uint64_t differing(const uint8_t *a, const uint8_t *b, size_t n)
{
	if (!memcmp(a, b, n))
		return 0;
	uint64_t d = 0;
	for (size_t i = 0; i < n; i++)
		d += a[i] != b[i];
	return d;
}

static void count_overlap(struct reasm *r, uint64_t diff)
{
	if (diff) {
		r->st.conflicts++;
		r->st.conflict_bytes += diff;
	}
}

/* Bytes [o, o + n) again, all below next: late (inside the last gap),
 * or a retransmission, checked against the history where it still is. */
static void again(struct reasm *r, uint64_t o, const uint8_t *p, uint64_t n)
{
	uint64_t end = o + n, late = 0;
	if (o < r->gap_end && end > r->gap_start)
		late = min64(end, r->gap_end) - max64(o, r->gap_start);
	r->st.late_bytes += late;
	r->st.dup_bytes += n - late;
	if (!r->hist)
		return;
	uint64_t valid = max64(r->gap_end, r->next > REASM_HISTORY ? r->next - REASM_HISTORY : 0);
	uint64_t diff = 0;
	for (uint64_t a = max64(o, valid); a < end;) {
		size_t at = (size_t)(a % REASM_HISTORY);
		size_t m = (size_t)min64(end - a, REASM_HISTORY - at);
		diff += differing(r->hist + at, p + (a - o), m);
		a += m;
	}
	count_overlap(r, diff);
}

static void drain(struct reasm *r, const struct reasm_sink *k)
{
	struct reasm_held *h;
	while ((h = r->held) && h->off == r->next) {
		r->held = h->next;
		if (!r->held)
			r->held_tail = NULL;
		r->held_cost -= h->len + REASM_SEG_COST;
		r->held_n--;
		deliver(r, h->data, h->len, k);
		free(h);
	}
}

/* Gives up the hole before the first held piece. */
static void skip_hole(struct reasm *r, enum reasm_gap_reason why,
		      const struct reasm_sink *k)
{
	declare_gap(r, r->held->off - r->next, why, k);
	drain(r, k);
}

static struct reasm_held *new_piece(struct reasm *r, uint64_t o, const uint8_t *p,
				    uint32_t n, struct reasm_held *next)
{
	struct reasm_held *h = malloc(sizeof(*h) + n);
	if (!h)
		return NULL;
	h->next = next;
	h->off = o;
	h->len = n;
	memcpy(h->data, p, n);
	if (!next)
		r->held_tail = h;
	r->held_cost += n + REASM_SEG_COST;
	r->held_n++;
	r->st.ooo_segments++;
	return h;
}

/* Holds [o, o + len), all above next: the parts no piece covers yet become
 * pieces (first seen wins), the covered parts are compared. */
static void hold(struct reasm *r, uint64_t o, const uint8_t *p, uint64_t len,
		 const struct reasm_sink *k)
{
	struct reasm_held **pp = &r->held;
	if (r->held_tail && o >= r->held_tail->off + r->held_tail->len)
		pp = &r->held_tail->next; /* the usual case: after the last piece */
	while (len) {
		struct reasm_held *h = *pp;
		if (!h || o + len <= h->off) {
			if (!(*pp = new_piece(r, o, p, (uint32_t)len, h)))
				*pp = h; /* out of memory: the bytes stay missing */
			break;
		}
		if (o < h->off) {
			uint64_t n = h->off - o;
			struct reasm_held *piece = new_piece(r, o, p, (uint32_t)n, h);
			if (piece) {
				*pp = piece;
				pp = &piece->next;
			}
			o += n;
			p += n;
			len -= n;
		}
		uint64_t hend = h->off + h->len;
		if (o < hend) {
			uint64_t n = min64(len, hend - o);
			r->st.dup_bytes += n;
			count_overlap(r, differing(h->data + (o - h->off), p, (size_t)n));
			o += n;
			p += n;
			len -= n;
		}
		pp = &h->next;
	}
	r->st.ooo_peak = max64(r->st.ooo_peak, r->held_cost);
	while (r->held && (r->held_cost > r->held_max || r->held_n > REASM_MAX_HELD)) {
		r->st.ooo_limit_hits++;
		skip_hole(r, REASM_GAP_OOO_LIMIT, k);
	}
	drain(r, k);
}

bool reasm_segment(struct reasm *r, uint32_t seq, uint8_t flags,
		   const uint8_t *p, size_t len, const struct reasm_sink *k)
{
	if (flags & TCP_SYN) {
		if (!r->started) {
			r->started = r->syn = true;
			r->base = seq + 1;
		} else if (seq + 1 != r->base) {
			r->st.syn_mismatch++;
			return false;
		}
		r->syn = true;
		seq++; /* data on a SYN (TCP Fast Open) follows it */
	}
	if (!r->started) {
		if (!len && !(flags & TCP_FIN))
			return false; /* a bare ACK says nothing of the stream */
		r->started = true;
		r->base = seq;
	}
	int64_t off = offset_of(r, seq);
	if ((flags & TCP_FIN) && !r->fin && off + (int64_t)len >= 0) {
		r->fin = true;
		r->fin_off = (uint64_t)(off + (int64_t)len);
	}
	if (!len) {
		if (!(flags & (TCP_SYN | TCP_FIN)) && off > 0 && (uint64_t)off > r->sent_end)
			r->sent_end = (uint64_t)off; /* a bare ACK: what its sender had sent */
		return true;
	}
	if (off < 0) { /* from before the first byte seen */
		uint64_t e = min64(len, (uint64_t)-off);
		r->st.early_bytes += e;
		p += e;
		len -= e;
		off = 0;
		if (!len)
			return true;
	}
	uint64_t o = (uint64_t)off;
	if (r->fin && o + len > r->fin_off) {
		uint64_t keep = o >= r->fin_off ? 0 : r->fin_off - o;
		r->st.beyond_fin_bytes += len - keep;
		len = keep;
	}
	if (o < r->next && len) {
		uint64_t n = min64(len, r->next - o);
		again(r, o, p, n);
		o += n;
		p += n;
		len -= n;
	}
	if (!len)
		return true;
	if (o == r->next && (!r->held || o + len <= r->held->off)) {
		deliver(r, p, len, k); /* in order, nothing held in the way */
		drain(r, k);
	} else {
		hold(r, o, p, len, k);
	}
	return true;
}

void reasm_ack(struct reasm *r, uint32_t ack, const struct reasm_sink *k)
{
	if (!r->started)
		return;
	int64_t off = offset_of(r, ack);
	if (off > 0 && (uint64_t)off > r->sent_end)
		r->sent_end = (uint64_t)off;
	while (r->held && off > (int64_t)r->next) {
		uint64_t upto = min64((uint64_t)off, r->held->off);
		declare_gap(r, upto - r->next, REASM_GAP_ACK, k);
		drain(r, k);
	}
}

void reasm_finish(struct reasm *r, const struct reasm_sink *k)
{
	while (r->held)
		skip_hole(r, REASM_GAP_END, k);
	if (r->fin && r->fin_off > r->next)
		declare_gap(r, r->fin_off - r->next, REASM_GAP_END, k);
	else if (!r->fin && r->sent_end > r->next + 1)
		declare_gap(r, r->sent_end - 1 - r->next, REASM_GAP_END, k);
}
