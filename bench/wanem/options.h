/* SPDX-License-Identifier: BSD-3-Clause */
/* strait-wanem's command line: the impairments of each direction, the
 * named profiles, and how explicit options override a profile. */
#ifndef WANEM_OPTIONS_H
#define WANEM_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>

enum { DIR_A2B, DIR_B2A, NDIR };

/* One direction's impairments, resolved (no "unset" values left). */
struct impair {
	uint64_t delay_ns;      /* one-way delay */
	uint64_t jitter_ns;     /* uniform in [-jitter, +jitter] */
	double loss;            /* probability 0..1 */
	double loss_burst;      /* mean burst length (Gilbert-Elliott); 0: random */
	double dup;             /* probability 0..1 */
	double reorder;         /* probability 0..1 */
	uint64_t rate_bps;      /* 0: unlimited */
	uint64_t queue_bytes;   /* wire bytes; 0 with no rate */
};

struct options {
	const char *ifname[NDIR];  /* IF_A, IF_B */
	const char *profile;       /* NULL: none */
	const char *stats_json;    /* NULL: none */
	uint64_t seed;
	bool seed_given;
	struct impair dir[NDIR];
};

/* Parses argv into o. Returns 0, 1 for --help (usage printed), or -1 after
 * printing one line to stderr naming the bad option (the caller exits 2). */
int options_parse(struct options *o, int argc, char **argv);

/* Ethernet wire overhead counted per frame by the rate: preamble and SFD 8,
 * FCS 4, inter-frame gap 12; frames shorter than 60 bytes (without FCS) are
 * padded to 60 first. */
enum { WIRE_OVERHEAD = 24, WIRE_MIN_FRAME = 60 };

static inline uint32_t wire_bytes(uint32_t frame_len)
{
	return (frame_len < WIRE_MIN_FRAME ? WIRE_MIN_FRAME : frame_len) + WIRE_OVERHEAD;
}

#endif
