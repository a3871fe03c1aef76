/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pair.h - two channel muxes back to back in one process (A connected, B
 * accepted), joined by two byte pipes, with simulated local ends.
 *
 *   end (client) <-> mux A ==pipe a->b==> mux B <-> end (server)
 *                          <==pipe b->a==
 *
 * Each step: the local ends write what the raw rings take (and FIN when
 * their source is done), each mux fills its pipe up to `room` bytes (the
 * channel's send buffer), each pipe is handed to the other mux in pieces
 * of up to `piece` bytes, the sinks that are not stalled drain, and the
 * clock moves on by `tick_us`. A server end is created when B hears an
 * OPEN; B accepts it at once unless `refuse` says otherwise.
 */
#ifndef STRAIT_TEST_CHANNEL_PAIR_H
#define STRAIT_TEST_CHANNEL_PAIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "channel_mux.h"

enum { PAIR_ENDS = 512 };

struct buf {
	uint8_t *p;
	size_t len, cap;
};

void buf_put(struct buf *b, const void *p, size_t n);
void buf_free(struct buf *b);

struct end {
	struct pair *pr;
	int side;              /* 0: at A (client), 1: at B (server) */
	int peer;              /* index of the other end, -1 before OPEN */
	struct chan_flow *f;
	const uint8_t *src;    /* what this end sends */
	size_t src_len, src_off;
	bool fin_after;        /* FIN once src is all written */
	bool fin_sent;
	struct buf got;        /* what it received */
	size_t sink_cap;       /* max bytes taken per deliver (0: stalled) */
	bool got_fin, got_reset, opened, refused, done;
	unsigned reset_reason;
	struct chan_refused refusal;
	struct chan_open open; /* at B: the OPEN it was made for */
};

struct side {
	struct chan_mux *m;
	void *mem;
	size_t size;
	struct buf pipe_out;   /* bytes this side sent, not yet received */
};

struct pair {
	struct side s[2];
	struct end ends[PAIR_ENDS];
	unsigned nends;
	uint64_t now;
	size_t room, piece;
	uint32_t tick_us;
	int refuse;            /* B refuses OPENs with this reason (0: accept) */
	bool defer_accept;     /* B leaves OPENs pending */
	size_t server_sink_cap; /* sink_cap of the next server ends */
	const uint8_t *reply;  /* what each server end sends back */
	size_t reply_len;
	bool reply_fin;
	int rx_err[2];
	uint64_t max_undelivered, max_raw_held;
	struct buf *record[2]; /* when set: everything side i sent */
	uint8_t *out;          /* a step's tx buffer */
	size_t out_cap;
};

/* Sets up both muxes (cfg for each side; NULL: defaults with a 4 MiB
 * cache, 128 flows, 1 MiB raw and 512 KiB out windows) and starts their
 * session. */
void pair_init(struct pair *p, const struct chan_mux_config *a,
	       const struct chan_mux_config *b);
void pair_fini(struct pair *p);
/* One step; returns true while anything moved. */
bool pair_step(struct pair *p);
/* Steps until nothing moves or max steps. Returns the steps taken. */
unsigned pair_run(struct pair *p, unsigned max);
/* A client at A opens a flow sending src (FIN after when fin). Returns the
 * end's index. */
int pair_open(struct pair *p, const uint8_t *src, size_t len, bool fin);
/* The end at B that answers end i at A. */
struct end *pair_peer(struct pair *p, int i);
void fill_random(uint8_t *p, size_t n, uint64_t seed);

#endif
