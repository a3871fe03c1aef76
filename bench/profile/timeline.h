/* SPDX-License-Identifier: BSD-3-Clause */
/* Bytes over the capture's time, in 100 ms buckets: the rates a WAN would
 * need (peak and 95th percentile over 1 s), the smallest rate that keeps
 * the replication lag under an RPO, and how long a WAN of a given rate
 * takes to carry the bytes. */
#ifndef STRAIT_PROFILE_TIMELINE_H
#define STRAIT_PROFILE_TIMELINE_H

#include <stddef.h>
#include <stdint.h>

#define TL_BUCKET 0.1                 /* seconds */
enum { TL_MAX_BUCKETS = 1 << 22 };   /* 4.8 days; later bytes go in the last */

struct timeline {
	uint64_t *b;  /* bytes per bucket */
	size_t n;     /* buckets in use */
	size_t cap;
};

/* Adds bytes at time t seconds after the capture's start. Returns -1 when
 * out of memory (the bytes are then not on the timeline). */
int tl_add(struct timeline *tl, double t, uint64_t bytes);
void tl_free(struct timeline *tl);

struct tl_rates {
	double peak_bps, p95_bps, mean_bps; /* over 1 s windows */
};
/* Rates over the first `seconds` of the capture (whole seconds, rounded
 * up). */
void tl_rates(const struct timeline *tl, double seconds, struct tl_rates *r);

/* The smallest rate (bit/s) at which a FIFO drained continuously keeps every
 * byte's wait under rpo seconds. Bytes of a bucket count as arriving at its
 * start (conservative by up to one bucket). 0 when there are no bytes. */
double tl_rpo_bps(const struct timeline *tl, double rpo);

/* The longest wait of a byte when the bytes are drained at bps. */
double tl_max_lag(const struct timeline *tl, double bps);

/* Bytes per bucket summed over 1 s windows, as bit/s, into out[0..n). */
size_t tl_per_second(const struct timeline *tl, double *out, size_t n);

#endif
