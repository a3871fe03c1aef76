/* SPDX-License-Identifier: BSD-3-Clause */
/* The connections of a capture: one entry per TCP connection, found from
 * either direction, in a chained hash table that grows. A connection's
 * two directions are c2s (client to server) and s2c. */
#ifndef STRAIT_PROFILE_FLOWS_H
#define STRAIT_PROFILE_FLOWS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "dissect.h"
#include "reasm.h"

struct strait_dedupe_flow;

enum { C2S = 0, S2C = 1 };
enum flow_end { FLOW_OPEN, FLOW_FIN, FLOW_RST };

struct gap_rec {
	uint64_t off, len;
	uint8_t why;       /* enum reasm_gap_reason */
};

/* One direction of a connection, and what the codec made of it. */
struct flow_dir {
	struct flow *flow;
	uint8_t dir;                    /* C2S or S2C */
	struct reasm r;
	/* codec */
	struct strait_dedupe_flow *cf;  /* chunker of the current run */
	uint32_t runs;                  /* runs of contiguous bytes (gaps split) */
	uint8_t *stage;                 /* bytes waiting for the encoder */
	uint32_t staged;
	double stage_t, last_t;         /* first staged byte, last byte */
	bool partial;                   /* the chunker holds unflushed bytes */
	struct flow_dir *act_prev, *act_next; /* on the timer list */
	bool active;
	uint64_t codec_bytes, frames, hits, misses;
	/* gaps, the first GAPS_LISTED of them */
	struct gap_rec *gaps;
	uint32_t n_gaps;
	FILE *dump;
};

struct flow {
	struct flow *hnext, *next;  /* hash chain; every flow, in order seen */
	uint32_t id;                /* 1, 2, ... in order seen */
	uint8_t family;
	uint8_t caddr[16], saddr[16];
	uint16_t cport, sport;      /* client and server ports */
	uint8_t nvlan;
	uint16_t vlan[DISSECT_MAX_VLANS];
	int group;                  /* estimate group, -1 = not selected */
	bool syn, midstream, in_table;
	enum flow_end end;
	double t_first, t_last;
	uint64_t packets;
	struct flow_dir d[2];
};

struct flow_table {
	struct flow **b;
	uint32_t mask, n;           /* buckets - 1, flows in the table */
	struct flow *first, *last;  /* every flow ever made */
	uint32_t count;
};

void flows_init(struct flow_table *t);
void flows_free(struct flow_table *t);
/* The live flow of this segment's 5-tuple, and which direction the segment
 * is (*dir), or NULL. */
struct flow *flows_find(struct flow_table *t, const struct segment *s, int *dir);
/* A new flow for s: client is s's source when client_is_src. NULL when out
 * of memory. */
struct flow *flows_add(struct flow_table *t, const struct segment *s,
		       bool client_is_src);
/* Takes f out of the table (it stays on the list): the 5-tuple is free for
 * a new connection. */
void flows_retire(struct flow_table *t, struct flow *f);

#endif
