/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * TCP reassembly of one direction of a captured connection.
 *
 * Sequence numbers become 64-bit stream offsets: offset 0 is the byte after
 * the SYN, or, in a capture that starts mid-stream, the first byte seen (and
 * bytes that arrive later from before it are counted, not delivered).
 * Bytes are handed to the caller exactly once, in order, as they become
 * contiguous. The rules:
 *
 * - Overlaps: first seen wins. A byte already delivered or held out of
 *   order is never replaced; when a later copy differs (held data, or the
 *   last REASM_HISTORY delivered bytes) that is an inconsistent overlap,
 *   counted with its bytes.
 * - Out-of-order data is held up to a byte limit and REASM_MAX_HELD
 *   segments per direction. Past either, the hole before the held data is
 *   given up as a gap (reason "ooo-limit") and the held data delivered.
 * - Gaps: a hole is declared missing (the capture lost those bytes) when the
 *   peer acknowledges bytes beyond it while later data is held ("ack"), by
 *   the limit above, or when the stream ends ("end") with data held, with
 *   a FIN beyond the last byte, or, without a FIN, with bytes beyond the
 *   last one that the peer acknowledged or that the sender's own bare ACKs
 *   show it had sent (their last sequence number left out: it may be the
 *   FIN's). A gap is reported with its offset and length and no byte is
 *   invented for it; bytes of it that arrive after the declaration are
 *   counted as late.
 * - SYN sets offset 0 (a second SYN with another ISN is counted and
 *   ignored: the flow table starts a new connection on it); FIN marks the
 *   end (data beyond it is counted and dropped); RST is the caller's.
 */
#ifndef STRAIT_PROFILE_REASM_H
#define STRAIT_PROFILE_REASM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	REASM_HISTORY = 64 << 10,  /* delivered bytes kept to check overlaps */
	REASM_MAX_HELD = 4096,     /* out-of-order segments held */
	REASM_SEG_COST = 64,       /* bytes a held segment counts beyond its data */
};

enum reasm_gap_reason { REASM_GAP_ACK, REASM_GAP_OOO_LIMIT, REASM_GAP_END };

struct reasm_sink {
	/* len contiguous bytes at stream offset off */
	void (*data)(void *ctx, uint64_t off, const uint8_t *p, size_t len);
	/* len bytes at off that the capture does not hold */
	void (*gap)(void *ctx, uint64_t off, uint64_t len, enum reasm_gap_reason why);
	void *ctx;
};

struct reasm_stats {
	uint64_t bytes;           /* delivered */
	uint64_t gaps, gap_bytes;
	uint64_t dup_bytes;       /* seen again (retransmitted), same or unchecked */
	uint64_t conflicts, conflict_bytes; /* overlaps whose bytes differ */
	uint64_t late_bytes;      /* bytes of a gap that arrived after it */
	uint64_t early_bytes;     /* mid-stream start: bytes before offset 0 */
	uint64_t beyond_fin_bytes;
	uint64_t ooo_segments;    /* segments held out of order */
	uint64_t ooo_limit_hits;  /* times the hold limit forced a gap */
	uint64_t ooo_peak;        /* most bytes held at once */
	uint64_t syn_mismatch;    /* SYNs with another ISN */
};

struct reasm_held;

struct reasm {
	bool started, syn, fin;
	uint32_t base;        /* sequence number of offset 0 */
	uint64_t next;        /* offset of the next byte to deliver */
	uint64_t fin_off;     /* offset of the FIN (= stream length) */
	uint64_t gap_start, gap_end; /* the last gap declared */
	uint64_t sent_end;    /* offset up to which the sender's bare ACKs or
			       * the peer's ACKs say bytes (or the FIN) went */
	struct reasm_held *held, *held_tail; /* sorted, disjoint */
	size_t held_cost, held_n, held_max;
	uint8_t *hist;        /* ring of the last REASM_HISTORY bytes delivered */
	struct reasm_stats st;
};

/* held_max: out-of-order bytes held at most (REASM_SEG_COST per segment
 * counts too). No allocation until data arrives. */
void reasm_init(struct reasm *r, size_t held_max);
/* Frees held data and the history; the stats stay. */
void reasm_free(struct reasm *r);

/* One segment of this direction (flags TCP_*; len payload bytes). Returns
 * false if no byte of it could be placed (before a start, a stray
 * segment), true otherwise. */
bool reasm_segment(struct reasm *r, uint32_t seq, uint8_t flags,
		   const uint8_t *p, size_t len, const struct reasm_sink *k);
/* The peer acknowledged sequence number ack. */
void reasm_ack(struct reasm *r, uint32_t ack, const struct reasm_sink *k);
/* The stream ended (FIN delivered, RST, end of capture): held data is
 * delivered behind gaps, and a FIN beyond the last byte leaves a gap. */
void reasm_finish(struct reasm *r, const struct reasm_sink *k);

/* True once the FIN has been reached: every byte up to it delivered. */
static inline bool reasm_done(const struct reasm *r)
{
	return r->fin && r->next >= r->fin_off;
}

#endif
