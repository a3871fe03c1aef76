/* SPDX-License-Identifier: BSD-3-Clause */
/* A flow's byte ring, addressed by absolute stream offset: a power-of-two
 * buffer holding the bytes [lo, hi) of one direction of a flow, where lo and
 * hi are kept by the owner (raw bytes: from DECODED to accepted; decoded
 * bytes: from delivered to decoded). Offset o lives at o & (size - 1). */
#ifndef STRAIT_DATAPLANE_CHANNEL_RING_H
#define STRAIT_DATAPLANE_CHANNEL_RING_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct chan_ring {
	uint8_t *buf;
	uint32_t size; /* power of two */
};

/* The contiguous bytes from offset o, at most n of them. */
static inline const uint8_t *chan_ring_span(const struct chan_ring *r, uint64_t o,
					    size_t *n)
{
	size_t at = (size_t)(o & (r->size - 1)), run = r->size - at;

	if (*n > run)
		*n = run;
	return r->buf + at;
}

/* Copies n bytes (n <= size) in at offset o. */
static inline void chan_ring_put(struct chan_ring *r, uint64_t o, const void *p, size_t n)
{
	size_t at = (size_t)(o & (r->size - 1)), run = r->size - at;

	if (run > n)
		run = n;
	memcpy(r->buf + at, p, run);
	memcpy(r->buf, (const uint8_t *)p + run, n - run);
}

#endif
