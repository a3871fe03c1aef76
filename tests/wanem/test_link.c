// SPDX-License-Identifier: BSD-3-Clause
/* strait-wanem's per-direction pipeline (bench/wanem/link.c) on an injected
 * clock: serialization spacing, the queue's tail drop, delay, order under
 * jitter, reordering, duplication, seeded losses and Gilbert-Elliott bursts,
 * and the full delay line. */
#include <criterion/criterion.h>
#include <string.h>

#include "link.h"

#define MS 1000000ull
#define US 1000ull
#define T0 (1000 * MS)

static uint8_t frame[1514];

static struct link *mk(struct impair im, uint64_t seed)
{
	static struct link l[2];
	static int n;
	struct link *p = &l[n++ % 2];

	cr_assert_eq(link_init(p, &im, seed, 0, 1522, T0), 0);
	return p;
}

/* Takes out every frame due by t; returns how many, due times in out[]. */
static unsigned drain(struct link *l, uint64_t t, uint64_t *out, unsigned max)
{
	unsigned n = 0;
	uint32_t len;

	while (link_peek(l, t, &len)) {
		if (out && n < max)
			out[n] = link_next_due(l);
		link_pop(l);
		n++;
	}
	return n;
}

Test(link, serialization_spacing_counts_ethernet_overhead)
{
	struct link *l = mk((struct impair){ .rate_bps = 100000000, .queue_bytes = 1 << 20 }, 1);
	uint64_t due[10];

	for (int i = 0; i < 10; i++)
		link_input(l, frame, 1514, T0);
	cr_assert_eq(drain(l, T0 + 10 * MS, due, 10), 10);
	/* (1514 + 24) bytes at 100 Mbit/s: 123.04 us each */
	for (int i = 0; i < 10; i++)
		cr_assert_eq(due[i], T0 + (uint64_t)((i + 1) * 123040), "frame %d at %lu", i,
			     (unsigned long)(due[i] - T0));
	/* a 42-byte frame is padded to 60 on the wire: 84 bytes, 6.72 us */
	link_input(l, frame, 42, T0 + 20 * MS);
	cr_assert_eq(link_next_due(l), T0 + 20 * MS + 6720);
	link_free(l);
}

Test(link, queue_is_byte_limited_and_tail_drops)
{
	struct link *l = mk((struct impair){ .rate_bps = 100000000, .queue_bytes = 10 * 1538 }, 1);

	for (int i = 0; i < 20; i++)
		link_input(l, frame, 1514, T0);
	cr_assert_eq(l->st.drop_queue, 10);
	cr_assert_eq(l->st.queue_hwm_bytes, 10 * 1538);
	cr_assert_eq(link_backlog(l, T0), 10 * 1538);
	/* after one frame time, room for one more */
	link_input(l, frame, 1514, T0 + 123040);
	cr_assert_eq(l->st.drop_queue, 10);
	link_input(l, frame, 1514, T0 + 123040);
	cr_assert_eq(l->st.drop_queue, 11);
	cr_assert_eq(drain(l, T0 + 1000 * MS, NULL, 0), 11);
	link_free(l);
}

Test(link, delay_is_exact)
{
	struct link *l = mk((struct impair){ .delay_ns = 25 * MS }, 1);
	uint32_t len;

	link_input(l, frame, 100, T0 + 5);
	cr_assert_null(link_peek(l, T0 + 5 + 25 * MS - 1, &len));
	cr_assert_not_null(link_peek(l, T0 + 5 + 25 * MS, &len));
	cr_assert_eq(len, 100);
	link_free(l);
}

Test(link, rate_then_delay)
{
	struct link *l = mk((struct impair){ .delay_ns = 25 * MS, .rate_bps = 1000000000,
					     .queue_bytes = 1 << 20 }, 1);
	uint64_t due[2];

	link_input(l, frame, 1514, T0);
	link_input(l, frame, 1514, T0);
	cr_assert_eq(drain(l, T0 + 100 * MS, due, 2), 2);
	cr_assert_eq(due[0], T0 + 12304 + 25 * MS);
	cr_assert_eq(due[1], T0 + 2 * 12304 + 25 * MS);
	link_free(l);
}

Test(link, jitter_keeps_order)
{
	struct link *l = mk((struct impair){ .delay_ns = 10 * MS, .jitter_ns = 5 * MS }, 3);
	uint64_t due[2000];
	bool varied = false;

	for (int i = 0; i < 2000; i++)
		link_input(l, frame, 100, T0 + (uint64_t)i * 10 * US);
	cr_assert_eq(drain(l, T0 + 1000 * MS, due, 2000), 2000);
	cr_assert_eq(l->st.reordered, 0);
	for (int i = 1; i < 2000; i++) {
		cr_assert_geq(due[i], due[i - 1]);
		cr_assert_geq(due[i], T0 + (uint64_t)i * 10 * US + 5 * MS);
		cr_assert_leq(due[i], T0 + (uint64_t)i * 10 * US + 15 * MS);
		varied |= due[i] - (T0 + (uint64_t)i * 10 * US) != 10 * MS;
	}
	cr_assert(varied);
	link_free(l);
}

Test(link, reorder_sends_some_ahead)
{
	struct link *l = mk((struct impair){ .delay_ns = 10 * MS, .reorder = 0.1 }, 3);

	for (int i = 0; i < 10000; i++)
		link_input(l, frame, 100, T0 + (uint64_t)i * 100 * US);
	drain(l, T0 + 10000 * MS, NULL, 0);
	/* a frame sent ahead overtakes the ~100 frames still in the delay line */
	cr_assert_gt(l->st.reordered, 5000);
	cr_assert_eq(l->st.tx_frames, 10000);
	link_free(l);
}

Test(link, dup_sends_twice)
{
	struct link *l = mk((struct impair){ .delay_ns = 1 * MS, .dup = 1.0 }, 3);

	for (int i = 0; i < 100; i++)
		link_input(l, frame, 100, T0 + (uint64_t)i * US);
	cr_assert_eq(drain(l, T0 + 1000 * MS, NULL, 0), 200);
	cr_assert_eq(l->st.duplicated, 100);
	cr_assert_eq(l->st.reordered, 0);
	link_free(l);
}

/* Frame i's fate under seed s as a bit string. */
static void losses(struct impair im, uint64_t seed, uint8_t *lost, unsigned n)
{
	struct link *l = mk(im, seed);

	for (unsigned i = 0; i < n; i++) {
		uint64_t before = l->st.drop_loss;

		link_input(l, frame, 64, T0 + i);
		lost[i] = l->st.drop_loss != before;
		drain(l, T0 + i, NULL, 0);
	}
	link_free(l);
}

Test(link, same_seed_same_drops)
{
	static uint8_t a[100000], b[100000], c[100000];
	struct impair im = { .loss = 0.01, .dup = 0.01, .jitter_ns = 0 };

	losses(im, 42, a, 100000);
	losses(im, 42, b, 100000);
	losses(im, 43, c, 100000);
	cr_assert(memcmp(a, b, sizeof(a)) == 0);
	cr_assert(memcmp(a, c, sizeof(a)) != 0);
	/* the decisions do not depend on the other impairments */
	im.dup = 0.5;
	im.reorder = 0.3;
	losses(im, 42, c, 100000);
	cr_assert(memcmp(a, c, sizeof(a)) == 0);
}

Test(link, random_loss_rate)
{
	static uint8_t lost[1000000];
	unsigned n = 0;

	losses((struct impair){ .loss = 0.01 }, 7, lost, 1000000);
	for (unsigned i = 0; i < 1000000; i++)
		n += lost[i];
	/* Binomial(1e6, 0.01): 10000 +- 99.5; +-4 sigma */
	cr_assert(n > 9600 && n < 10400, "%u lost", n);
}

Test(link, gilbert_elliott_bursts)
{
	static uint8_t lost[2000000];
	unsigned n = 0, bursts = 0;

	losses((struct impair){ .loss = 0.01, .loss_burst = 4 }, 7, lost, 2000000);
	for (unsigned i = 0; i < 2000000; i++) {
		n += lost[i];
		bursts += lost[i] && (i == 0 || !lost[i - 1]);
	}
	cr_assert(n > 18000 && n < 22000, "%u lost", n);
	/* ~5000 bursts of geometric length, mean 4 (sd 3.5): +-4 sigma ~ 0.2 */
	cr_assert((double)n / bursts > 3.8 && (double)n / bursts < 4.2, "mean burst %f",
		  (double)n / bursts);
}

Test(link, full_delay_line_drops_and_recovers)
{
	struct link *l = mk((struct impair){ .delay_ns = 1000 * MS }, 1);
	uint32_t nslots;
	uint64_t cap = link_capacity(l, &nslots), i;

	for (i = 0; i < 2 * cap / 1514; i++)
		link_input(l, frame, 1514, T0 + i);
	cr_assert_gt(l->st.drop_full, 0);
	cr_assert_leq((l->st.rx_frames - l->st.drop_full) * 1520, cap);
	cr_assert_eq(drain(l, T0 + 2000 * MS, NULL, 0), l->st.rx_frames - l->st.drop_full);
	/* the space comes back */
	uint64_t full = l->st.drop_full;
	for (i = 0; i < 100; i++)
		link_input(l, frame, 1514, T0 + 3000 * MS);
	cr_assert_eq(l->st.drop_full, full);
	link_free(l);
}
