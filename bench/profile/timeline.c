/* SPDX-License-Identifier: BSD-3-Clause */
#include "timeline.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { PER_SECOND = 10 }; /* buckets in 1 s */

int tl_add(struct timeline *tl, double t, uint64_t bytes)
{
	if (!(t >= 0))
		t = 0;
	size_t i = t / TL_BUCKET >= TL_MAX_BUCKETS - 1 ? TL_MAX_BUCKETS - 1 : (size_t)(t / TL_BUCKET);
	if (i >= tl->cap) {
		size_t cap = tl->cap ? tl->cap : 1024;
		while (cap <= i)
			cap *= 2;
		uint64_t *b = realloc(tl->b, cap * sizeof(*b));
		if (!b)
			return -1;
		memset(b + tl->cap, 0, (cap - tl->cap) * sizeof(*b));
		tl->b = b;
		tl->cap = cap;
	}
	tl->b[i] += bytes;
	if (i >= tl->n)
		tl->n = i + 1;
	return 0;
}

void tl_free(struct timeline *tl)
{
	free(tl->b);
	memset(tl, 0, sizeof(*tl));
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

size_t tl_per_second(const struct timeline *tl, double *out, size_t n)
{
	for (size_t s = 0; s < n; s++) {
		uint64_t sum = 0;
		for (size_t i = s * PER_SECOND; i < (s + 1) * PER_SECOND && i < tl->n; i++)
			sum += tl->b[i];
		out[s] = (double)sum * 8;
	}
	return n;
}

void tl_rates(const struct timeline *tl, double seconds, struct tl_rates *r)
{
	memset(r, 0, sizeof(*r));
	size_t have = (tl->n + PER_SECOND - 1) / PER_SECOND;
	size_t n = seconds < TL_MAX_BUCKETS / PER_SECOND ? (size_t)ceil(seconds) : have;
	if (n < have)
		n = have;
	if (!n)
		return;
	double *s = malloc(n * sizeof(*s));
	if (!s)
		return;
	tl_per_second(tl, s, n);
	double sum = 0;
	for (size_t i = 0; i < n; i++)
		sum += s[i];
	qsort(s, n, sizeof(*s), cmp_double);
	r->peak_bps = s[n - 1];
	/* nearest rank */
	size_t rank = (size_t)ceil(0.95 * (double)n);
	r->p95_bps = s[rank ? rank - 1 : 0];
	r->mean_bps = sum / (double)n;
	free(s);
}

double tl_max_lag(const struct timeline *tl, double bps)
{
	double rate = bps / 8, backlog = 0, lag = 0;
	for (size_t i = 0; i < tl->n; i++) {
		backlog += (double)tl->b[i];
		if (backlog > 0) {
			if (rate <= 0)
				return INFINITY;
			lag = fmax(lag, backlog / rate);
		}
		backlog = fmax(0, backlog - rate * TL_BUCKET);
	}
	return lag;
}

double tl_rpo_bps(const struct timeline *tl, double rpo)
{
	uint64_t most = 0;
	for (size_t i = 0; i < tl->n; i++)
		if (tl->b[i] > most)
			most = tl->b[i];
	if (!most)
		return 0;
	/* Rate hi drains each bucket before the next and waits at most rpo. */
	double lo = 0, hi = (double)most * 8 / fmin(rpo, TL_BUCKET);
	for (int i = 0; i < 64 && hi - lo > 1e-6 * hi; i++) {
		double mid = (lo + hi) / 2;
		if (tl_max_lag(tl, mid) <= rpo)
			hi = mid;
		else
			lo = mid;
	}
	return hi;
}
