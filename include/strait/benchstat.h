/* SPDX-License-Identifier: BSD-3-Clause */
/* Small helpers shared by the benchmark programs (bench/, strait-esp
 * bench): clocks in seconds and the median of a set of runs. Header-only,
 * no dependency beyond libc; not for the fast path. */
#ifndef STRAIT_BENCHSTAT_H
#define STRAIT_BENCHSTAT_H

#include <stdlib.h>
#include <time.h>

/* Seconds on clock c (CLOCK_MONOTONIC, CLOCK_THREAD_CPUTIME_ID, ...). */
static inline double bench_clock(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Median of v[0..n-1], n >= 1; sorts v in place. */
static inline double bench_median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), bench_cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#endif
