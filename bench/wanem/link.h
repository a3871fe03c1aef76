/* SPDX-License-Identifier: BSD-3-Clause */
/* One direction of the emulated WAN, as a pure function of the frames put
 * in and the clock given (no sockets, no clock of its own: unit-tested with
 * an injected time).
 *
 *   frame in -> loss (random or Gilbert-Elliott) -> dup
 *            -> rate limiter: a FIFO of at most queue_bytes (wire bytes not
 *               yet serialized; tail drop beyond) draining at rate_bps, each
 *               frame costing its Ethernet wire size (options.h)
 *            -> delay line: due = end of serialization + delay + jitter,
 *               never before an earlier frame's due unless reordering is on;
 *               a --reorder frame skips the delay
 *            -> out in order of due (then arrival)
 *
 * Every decision comes from a per-direction PRNG that draws the same four
 * numbers for every frame, so the same seed gives the same decisions for
 * the same frames whatever the outcome. Frames are copied into a buffer
 * preallocated for the queue plus the delay line at the rate; when it is
 * full the frame is dropped and counted ("full"), never grown. */
#ifndef WANEM_LINK_H
#define WANEM_LINK_H

#include <stdbool.h>
#include <stdint.h>

#include "options.h"

struct link_stats {
	uint64_t rx_frames, rx_bytes;   /* frames put in */
	uint64_t tx_frames, tx_bytes;   /* frames taken out */
	uint64_t drop_loss, drop_queue, drop_full;
	uint64_t duplicated, reordered;
	uint64_t queue_hwm_bytes;       /* highest rate-queue occupancy (wire bytes) */
};

struct link_slot {
	uint64_t due_ns;
	uint64_t seq;
	uint64_t off;        /* position in the byte ring (not wrapped) */
	uint32_t len;
	uint32_t released;
};

struct link {
	struct impair im;
	uint64_t rng[4];
	bool ge_bad;                     /* Gilbert-Elliott state */
	double ge_p, ge_r;               /* P(good->bad), P(bad->good) per frame */

	uint64_t epoch_ns;
	uint64_t free_ps;                /* serializer busy until (ps since epoch) */
	uint64_t last_due_ns;            /* order keeping */
	uint64_t seq_in, seq_out_max;

	uint8_t *buf;                    /* byte ring */
	uint64_t buf_size, head, tail;   /* size a power of two; positions grow */
	struct link_slot *slots;         /* in arrival order */
	uint32_t nslots, slot_head, slot_tail;
	uint32_t *heap;                  /* slot indices by (due, seq) */
	uint32_t heap_n;

	struct link_stats st;
};

/* Sizes and maps the buffers for im (max_frame: the largest frame that will
 * be put in). Returns 0 or -errno. */
int link_init(struct link *l, const struct impair *im, uint64_t seed, int dir,
	      uint32_t max_frame, uint64_t now_ns);
void link_free(struct link *l);

/* Bytes of frame memory and frame slots that link_init mapped. */
uint64_t link_capacity(const struct link *l, uint32_t *nslots);

/* Puts one frame in at now_ns (copied; the caller keeps data). */
void link_input(struct link *l, const uint8_t *data, uint32_t len, uint64_t now_ns);

/* Due time of the next frame out, UINT64_MAX if none. */
static inline uint64_t link_next_due(const struct link *l)
{
	return l->heap_n ? l->slots[l->heap[0]].due_ns : UINT64_MAX;
}

/* The next frame out if it is due at or before until_ns, else NULL. The
 * pointer stays valid until link_pop(). */
const uint8_t *link_peek(const struct link *l, uint64_t until_ns, uint32_t *len);
void link_pop(struct link *l);

/* The rate queue's occupancy at now_ns, in wire bytes. */
uint64_t link_backlog(const struct link *l, uint64_t now_ns);

#endif
