/* SPDX-License-Identifier: BSD-3-Clause */
/* strait-wanem's counters: the one-line summary (SIGUSR1) and the JSON
 * file written at exit (--stats-json). */
#ifndef WANEM_STATS_H
#define WANEM_STATS_H

#include <stdio.h>

#include "link.h"
#include "options.h"

/* One direction as reported. */
struct dir_report {
	const char *name;                /* "a2b", "b2a" */
	const char *from, *to;           /* interface names */
	const struct impair *im;
	const struct link_stats *st;
	uint64_t drop_oversize;          /* not passable: superframe, truncated, too large */
	uint64_t drop_tx;                /* refused by the outgoing interface */
	uint64_t drop_overrun;           /* the receive ring was full (the emulator fell behind) */
	uint64_t queued_frames;          /* in the queue or delay line now */
};

void stats_summary(FILE *f, const struct dir_report r[NDIR]);

/* Writes the JSON atomically (FILE.tmp, then rename). Returns 0 or -errno. */
int stats_write_json(const char *path, const struct options *o, uint64_t seed,
		     const struct dir_report r[NDIR], const char *end,
		     double elapsed_s, double cpu_s);

#endif
