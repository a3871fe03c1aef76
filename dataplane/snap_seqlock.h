/* SPDX-License-Identifier: BSD-3-Clause */
/* A worker's statistics snapshot, published under a sequence lock: the
 * worker is the only writer and never waits; a telemetry thread copies
 * the snapshot and retries if a write overlapped. Used by the modules
 * (tcp_hook.c, wan.c) to publish what telemetry reads. */
#ifndef STRAIT_DATAPLANE_SNAP_SEQLOCK_H
#define STRAIT_DATAPLANE_SNAP_SEQLOCK_H

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <rte_cycles.h>

/* The writer, around its update of the snapshot. */
static inline void snap_write_begin(uint32_t *seq)
{
	__atomic_store_n(seq, *seq + 1, __ATOMIC_RELAXED); /* odd: writing */
	__atomic_thread_fence(__ATOMIC_RELEASE);
}

static inline void snap_write_end(uint32_t *seq)
{
	__atomic_store_n(seq, *seq + 1, __ATOMIC_RELEASE);
}

/* A reader (a telemetry thread, never a worker): copies size bytes of src
 * written under seq. A copy takes microseconds and a worker writes every
 * 100-200 ms, but a write may walk a whole connection table (a
 * millisecond or more in a sanitizer build on a busy machine): wait it out
 * asleep, for up to about 200 ms. 0, or -EAGAIN. */
static inline int snap_read(const uint32_t *seq, void *dst, const void *src, size_t size)
{
	for (int tries = 0; tries < 2000; tries++) {
		uint32_t s0 = __atomic_load_n(seq, __ATOMIC_ACQUIRE);
		if (s0 & 1) {
			rte_delay_us_sleep(100);
			continue;
		}
		memcpy(dst, src, size);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(seq, __ATOMIC_RELAXED) == s0)
			return 0;
	}
	return -EAGAIN;
}

#endif
