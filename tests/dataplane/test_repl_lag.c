/* SPDX-License-Identifier: BSD-3-Clause */
/* The replication lag estimate (dataplane/repl_lag.h): one sample every
 * 100 ms, as the relay module takes them; a numbered table of cases. */
#include <criterion/criterion.h>

#include "repl_lag.h"

#define MS 1000000ull
#define NOQ 0ull

/* one sample: a source held back now or not, the queue
 * over the drain rate, the estimate wanted */
struct step {
	int n;
	bool held;
	uint64_t queue_ns;
	uint64_t want_ns;
};

Test(repl_lag, table)
{
	static const struct step steps[] = {
		{ 1, false, NOQ, 0 },              /* idle */
		{ 2, false, 300 * MS, 300 * MS },  /* a queue draining: its time */
		{ 3, true, 200 * MS, 200 * MS },   /* held since 2 (100 ms): the queue is larger */
		{ 4, true, 200 * MS, 200 * MS },   /* 200 ms of backlog */
		{ 5, true, 200 * MS, 300 * MS },   /* the backlog's age now larger */
		{ 6, true, 200 * MS, 400 * MS },
		{ 7, true, UINT64_MAX, UINT64_MAX }, /* nothing drains */
		{ 8, true, 100 * MS, 600 * MS },
		{ 9, false, 100 * MS, 100 * MS },  /* a sample without: the backlog ended */
		{ 10, true, NOQ, 100 * MS },       /* a new one, from 9 */
		{ 11, false, NOQ, 0 },
	};
	struct repl_lag l = { 0 };
	uint64_t now = 1000 * MS;
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		const struct step *s = &steps[i];
		uint64_t got = repl_lag_sample(&l, now, s->queue_ns, s->held);
		cr_expect_eq(got, s->want_ns, "case %d: %llu ns, want %llu", s->n,
			     (unsigned long long)got, (unsigned long long)s->want_ns);
		now += 100 * MS;
	}
}

Test(repl_lag, a_backlog_of_minutes)
{
	/* 5 minutes held without a break, a bounded queue (4 MiB at 10
	 * Mbit/s: 3.4 s): the estimate is the backlog's age */
	struct repl_lag l = { 0 };
	uint64_t now = 0, got = 0;
	for (unsigned i = 1; i <= 3000; i++) {
		now += 100 * MS;
		got = repl_lag_sample(&l, now, 3400 * MS, true);
	}
	cr_expect_eq(got, 2999 * 100 * MS);
}
