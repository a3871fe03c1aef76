/* SPDX-License-Identifier: BSD-3-Clause */
/* The WAN shaper on an injected clock: a simulated WAN TX loop asks it who
 * sends, sends one frame of that class, and counts bytes per class in 1 s
 * windows. Each test states the rates HTB semantics give and checks them
 * within what a burst (2 ms at the rate, plus a frame) can move. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "shaper.h"
#include "wan_shaper.h"

#define S 1000000000ull
#define MS 1000000ull
#define M 1000000ull
#define FRAME 1500u

/* A class's offered load: 0 = unlimited; else bit/s arriving into a
 * backlog the simulated sender drains. */
struct sim {
	struct shaper *s;
	unsigned n;
	uint64_t now;
	uint32_t frame[64];         /* frame size per class (default FRAME) */
	uint64_t offered[64];
	double backlog[64];         /* bytes */
	uint64_t bytes[64];         /* sent since sim_window() */
	uint64_t picks, idle_picks;
	uint64_t step_ns;           /* the TX loop's time per frame */
};

static struct shaper_class_cfg cc(uint64_t g, uint64_t c, uint8_t prio, uint16_t w)
{
	return (struct shaper_class_cfg){ .guaranteed_bps = g, .ceiling_bps = c,
					  .priority = prio, .weight = w };
}

static void sim_init(struct sim *m, uint64_t link, const struct shaper_class_cfg *k, unsigned n,
		     uint64_t t0)
{
	memset(m, 0, sizeof(*m));
	struct shaper_cfg cfg = { .link_bps = link, .mtu = FRAME, .n_classes = n, .classes = k };
	m->s = shaper_create(&cfg, t0);
	cr_assert_not_null(m->s);
	m->n = n;
	m->now = t0;
	m->step_ns = 100;
	for (unsigned i = 0; i < 64; i++)
		m->frame[i] = FRAME;
}

/* Unlimited demand from class i from now on. */
static void sim_flood(struct sim *m, unsigned i)
{
	m->offered[i] = 0;
	m->backlog[i] = 1e18;
	shaper_wake(m->s, i, m->now);
}

static void sim_offer(struct sim *m, unsigned i, uint64_t bps)
{
	m->offered[i] = bps;
	m->backlog[i] = 0;
}

/* Runs the TX loop until `until`. */
static void sim_run(struct sim *m, uint64_t until)
{
	uint64_t last = m->now;
	while (m->now < until) {
		uint64_t refill = UINT64_MAX;
		for (unsigned i = 0; i < m->n; i++) {
			if (!m->offered[i])
				continue;
			m->backlog[i] += (double)(m->now - last) * (double)m->offered[i] / 8e9;
			if (m->backlog[i] >= m->frame[i])
				shaper_wake(m->s, i, m->now);
			else {
				uint64_t t = m->now + (uint64_t)((m->frame[i] - m->backlog[i]) * 8e9 /
								 (double)m->offered[i]) + 1;
				if (t < refill)
					refill = t;
			}
		}
		last = m->now;
		uint64_t next;
		int c = shaper_pick(m->s, m->now, &next);
		m->picks++;
		if (c < 0) {
			m->idle_picks++;
			if (refill < next)
				next = refill;
			m->now = next < until ? next : until;
			continue;
		}
		cr_assert_lt((unsigned)c, m->n);
		if (m->backlog[c] < m->frame[c]) {
			shaper_sleep(m->s, (unsigned)c);
			continue;
		}
		shaper_sent(m->s, (unsigned)c, m->frame[c], m->now);
		m->backlog[c] -= m->frame[c];
		m->bytes[c] += m->frame[c];
		m->now += m->step_ns;
	}
}

/* Bit/s of class i over the last `dur` ns, and a new window. */
static double sim_rate(struct sim *m, unsigned i, uint64_t dur)
{
	return (double)m->bytes[i] * 8e9 / (double)dur;
}

static void sim_window(struct sim *m)
{
	memset(m->bytes, 0, sizeof(m->bytes));
}

static void sim_fini(struct sim *m)
{
	shaper_destroy(m->s);
}

#define WITHIN(v, lo, hi) cr_expect((v) >= (lo) && (v) <= (hi), "%s = %.0f not in %.0f..%.0f", #v, \
				    (double)(v), (double)(lo), (double)(hi))

/* ---- the accuracy cases ---- */

Test(shaper, ceiling_20M_unlimited_demand)
{
	struct shaper_class_cfg k[] = { cc(0, 20 * M, 0, 100) };
	struct sim m;
	sim_init(&m, 100 * M, k, 1, 0);
	sim_flood(&m, 0);
	for (int w = 0; w < 5; w++) {
		sim_window(&m);
		sim_run(&m, m.now + S);
		double r = sim_rate(&m, 0, S);
		/* the first window holds one burst more: 2 ms at 20M + a frame */
		WITHIN(r, 19.6e6, 20.2e6);
		if (w)
			WITHIN(r, 19.98e6, 20.02e6);
	}
	sim_fini(&m);
}

Test(shaper, weights_2_to_1_split_the_link)
{
	struct shaper_class_cfg k[] = { cc(0, 0, 2, 200), cc(0, 0, 2, 100) };
	struct sim m;
	sim_init(&m, 100 * M, k, 2, 0);
	sim_flood(&m, 0);
	sim_flood(&m, 1);
	for (int w = 0; w < 3; w++) {
		sim_window(&m);
		sim_run(&m, m.now + S);
		double a = sim_rate(&m, 0, S), b = sim_rate(&m, 1, S);
		WITHIN(a / b, 1.98, 2.02);
		WITHIN(a + b, 99.9e6, 100.3e6);
	}
	sim_fini(&m);
}

Test(shaper, guarantee_holds_under_a_saturating_higher_priority)
{
	/* A: priority 0, no guarantee, no ceiling: takes all it can borrow.
	 * B: priority 5, 30M guaranteed: gets it all the same. */
	struct shaper_class_cfg k[] = { cc(0, 0, 0, 100), cc(30 * M, 0, 5, 100) };
	struct sim m;
	sim_init(&m, 100 * M, k, 2, 0);
	sim_flood(&m, 0);
	sim_flood(&m, 1);
	for (int w = 0; w < 3; w++) {
		sim_window(&m);
		sim_run(&m, m.now + S);
		WITHIN(sim_rate(&m, 1, S), 29.9e6, 30.2e6);
		WITHIN(sim_rate(&m, 0, S), 69.8e6, 70.2e6);
	}
	struct shaper_class_stats st;
	shaper_class_stats(m.s, 1, &st);
	cr_expect_eq(st.borrowed_bytes, 0, "B never borrowed: the link had nothing spare for priority 5");
	sim_fini(&m);
}

Test(shaper, bridged_default_class_gets_the_rest)
{
	/* two tenants held by their ceilings, bridged traffic below them all */
	struct shaper_class_cfg k[] = { cc(0, 20 * M, 0, 100), cc(30 * M, 30 * M, 1, 100),
					cc(0, 0, SHAPER_PRIOS - 1, 1) };
	struct sim m;
	sim_init(&m, 100 * M, k, 3, 0);
	for (unsigned i = 0; i < 3; i++)
		sim_flood(&m, i);
	sim_run(&m, S);
	sim_window(&m);
	sim_run(&m, 2 * S);
	WITHIN(sim_rate(&m, 0, S), 19.98e6, 20.02e6);
	WITHIN(sim_rate(&m, 1, S), 29.98e6, 30.02e6);
	WITHIN(sim_rate(&m, 2, S), 49.9e6, 50.1e6);
	/* the tenants stop: bridged traffic takes the whole link */
	shaper_sleep(m.s, 0);
	shaper_sleep(m.s, 1);
	m.backlog[0] = m.backlog[1] = 0;
	m.offered[0] = m.offered[1] = 1; /* a trickle that never fills a frame */
	sim_window(&m);
	sim_run(&m, 3 * S);
	WITHIN(sim_rate(&m, 2, S), 99.8e6, 100.3e6);
	sim_fini(&m);
}

/* ---- the rest of HTB's rules ---- */

Test(shaper, spare_goes_to_the_higher_priority)
{
	struct shaper_class_cfg k[] = { cc(10 * M, 0, 1, 100), cc(10 * M, 0, 0, 100) };
	struct sim m;
	sim_init(&m, 100 * M, k, 2, 0);
	sim_flood(&m, 0);
	sim_flood(&m, 1);
	sim_run(&m, S);
	sim_window(&m);
	sim_run(&m, 2 * S);
	WITHIN(sim_rate(&m, 0, S), 9.98e6, 10.02e6);
	WITHIN(sim_rate(&m, 1, S), 89.9e6, 90.1e6);
	sim_fini(&m);
}

Test(shaper, work_conserving_when_a_class_wants_less)
{
	struct shaper_class_cfg k[] = { cc(0, 0, 0, 100), cc(0, 0, 0, 100) };
	struct sim m;
	sim_init(&m, 100 * M, k, 2, 0);
	sim_offer(&m, 0, 10 * M);
	sim_flood(&m, 1);
	sim_run(&m, S);
	sim_window(&m);
	sim_run(&m, 2 * S);
	WITHIN(sim_rate(&m, 0, S), 9.9e6, 10.1e6);
	WITHIN(sim_rate(&m, 1, S), 89.8e6, 90.2e6);
	sim_fini(&m);
}

Test(shaper, link_never_exceeded_in_short_windows)
{
	struct shaper_class_cfg k[] = { cc(20 * M, 0, 0, 100), cc(0, 0, 3, 100), cc(0, 0, 3, 500),
					cc(0, 0, SHAPER_PRIOS - 1, 1) };
	struct sim m;
	sim_init(&m, 100 * M, k, 4, 0);
	for (unsigned i = 0; i < 4; i++)
		sim_flood(&m, i);
	/* 10 ms windows: at most 10 ms + the link's burst (2 ms) + a frame */
	for (int w = 0; w < 200; w++) {
		sim_window(&m);
		sim_run(&m, m.now + 10 * MS);
		uint64_t sum = 0;
		for (unsigned i = 0; i < 4; i++)
			sum += m.bytes[i];
		cr_assert_leq(sum, 100 * M / 8 * 12 / 1000 + FRAME, "window %d: %lu bytes", w, (unsigned long)sum);
	}
	sim_fini(&m);
}

Test(shaper, ceiling_burst_after_idle_is_bounded)
{
	struct shaper_class_cfg k[] = { cc(0, 20 * M, 0, 100) };
	struct sim m;
	sim_init(&m, 100 * M, k, 1, 0);
	sim_run(&m, 10 * S); /* idle: nothing is hoarded */
	sim_flood(&m, 0);
	sim_window(&m);
	sim_run(&m, m.now + 1 * MS);
	/* 1 ms at 20M (2500 B) + 2 ms of burst (5000 B) + one frame */
	cr_expect_leq(m.bytes[0], 2500 + 5000 + FRAME);
	cr_expect_geq(m.bytes[0], 2500 + 5000 - FRAME);
	sim_fini(&m);
}

/* A TX loop descheduled 5 ms in every 10 (a worker sharing its CPU):
 * with the default 2 ms burst the class loses the time beyond its burst
 * at every stall and sends 0.7 of its rate; with [WAN] RateBurst = 8ms
 * the bucket carries the stall over and the class keeps its rate, still
 * never above it over the second. */
static uint64_t stalled_loop_bytes(uint64_t burst_ns)
{
	struct shaper_class_cfg k[] = { cc(100 * M, 100 * M, 0, 1) };
	struct shaper_cfg cfg = { .link_bps = 100 * M, .mtu = FRAME, .burst_ns = burst_ns,
				  .n_classes = 1, .classes = k };
	struct sim m;
	sim_init(&m, 100 * M, k, 1, 0);
	cr_assert_eq(shaper_reconfigure(m.s, &cfg, 0), 0);
	sim_flood(&m, 0);
	sim_run(&m, 100 * MS);
	sim_window(&m);
	uint64_t t0 = m.now;
	for (int i = 0; i < 100; i++) {
		sim_run(&m, m.now + 5 * MS);
		m.now += 5 * MS; /* no pick: the loop waits for a CPU */
	}
	double secs = (double)(m.now - t0) / 1e9;
	uint64_t b = m.bytes[0];
	sim_fini(&m);
	return (uint64_t)((double)b / secs);
}

Test(shaper, burst_carries_a_stalled_loop_over)
{
	uint64_t def = stalled_loop_bytes(0), wide = stalled_loop_bytes(8 * MS);
	cr_expect_leq(def, 100 * M / 8 * 75 / 100, "2 ms burst: %llu B/s", (unsigned long long)def);
	cr_expect_geq(def, 100 * M / 8 * 65 / 100, "2 ms burst: %llu B/s", (unsigned long long)def);
	cr_expect_geq(wide, 100 * M / 8 * 97 / 100, "8 ms burst: %llu B/s", (unsigned long long)wide);
	cr_expect_leq(wide, 100 * M / 8 * 101 / 100, "8 ms burst: %llu B/s", (unsigned long long)wide);
	struct shaper_cfg bad = { .link_bps = 100 * M, .mtu = FRAME,
				  .burst_ns = SHAPER_MAX_BURST_NS + 1, .n_classes = 1,
				  .classes = (struct shaper_class_cfg[]){ cc(0, 0, 0, 1) } };
	cr_expect_eq(shaper_check(&bad, NULL, 0), -EINVAL, "a burst above 100 ms");
}

Test(shaper, byte_fairness_with_unequal_frames)
{
	struct shaper_class_cfg k[] = { cc(0, 0, 0, 100), cc(0, 0, 0, 100) };
	struct sim m;
	sim_init(&m, 10 * M, k, 2, 0);
	m.frame[1] = 64;
	sim_flood(&m, 0);
	sim_flood(&m, 1);
	sim_run(&m, 2 * S);
	double a = (double)m.bytes[0], b = (double)m.bytes[1];
	WITHIN(a / b, 0.99, 1.01);
	sim_fini(&m);
}

Test(shaper, guarantee_equal_to_ceiling)
{
	/* Guaranteed = Ceiling = 100M on a 100M link beside bridged traffic:
	 * the tenant has all of it, and never borrows */
	struct shaper_class_cfg k[] = { cc(100 * M, 100 * M, 0, 100), cc(0, 0, SHAPER_PRIOS - 1, 1) };
	struct sim m;
	sim_init(&m, 100 * M, k, 2, 0);
	sim_flood(&m, 0);
	sim_flood(&m, 1);
	sim_run(&m, S);
	sim_window(&m);
	sim_run(&m, 2 * S);
	WITHIN(sim_rate(&m, 0, S), 99.7e6, 100.3e6);
	WITHIN(sim_rate(&m, 1, S), 0, 0.3e6);
	sim_fini(&m);
}

Test(shaper, unshaped_link_holds_each_ceiling)
{
	struct shaper_class_cfg k[] = { cc(0, 20 * M, 0, 100), cc(0, 0, 0, 100) };
	struct sim m;
	sim_init(&m, 0, k, 2, 0);
	m.step_ns = 12000; /* the wire: 1500 B at 1 Gbit/s */
	sim_flood(&m, 0);
	sim_flood(&m, 1);
	sim_run(&m, S);
	sim_window(&m);
	sim_run(&m, 2 * S);
	WITHIN(sim_rate(&m, 0, S), 19.98e6, 20.02e6);
	WITHIN(sim_rate(&m, 1, S), 975e6, 985e6);
	sim_fini(&m);
}

/* ---- changes in place ---- */

Test(shaper, live_rate_change_within_a_second)
{
	struct shaper_class_cfg k[] = { cc(0, 20 * M, 0, 100), cc(0, 0, 1, 100) };
	struct shaper_cfg cfg = { .link_bps = 100 * M, .mtu = FRAME, .n_classes = 2, .classes = k };
	struct sim m;
	sim_init(&m, 100 * M, k, 2, 0);
	sim_flood(&m, 0);
	sim_flood(&m, 1);
	sim_run(&m, 2 * S);
	struct shaper_class_stats before, after;
	shaper_class_stats(m.s, 0, &before);
	k[0].ceiling_bps = 50 * M;
	cr_assert_eq(shaper_reconfigure(m.s, &cfg, m.now), 0);
	shaper_class_stats(m.s, 0, &after);
	cr_expect_eq(after.bytes, before.bytes, "counters kept");
	cr_expect_eq(after.throttled, before.throttled);
	cr_expect_neq(after.mode, SHAPER_IDLE, "its demand kept");
	sim_window(&m);
	sim_run(&m, 3 * S);
	WITHIN(sim_rate(&m, 0, S), 49.9e6, 50.2e6);
	WITHIN(sim_rate(&m, 1, S), 49.8e6, 50.1e6);
	/* down: the debt at the old rate is small (a burst), 5M at once */
	k[0].ceiling_bps = 5 * M;
	cr_assert_eq(shaper_reconfigure(m.s, &cfg, m.now), 0);
	sim_window(&m);
	sim_run(&m, 4 * S);
	WITHIN(sim_rate(&m, 0, S), 4.9e6, 5.1e6);
	/* and the link itself */
	cfg.link_bps = 40 * M;
	cr_assert_eq(shaper_reconfigure(m.s, &cfg, m.now), 0);
	sim_window(&m);
	sim_run(&m, 5 * S);
	WITHIN(sim_rate(&m, 0, S) + sim_rate(&m, 1, S), 39.9e6, 40.2e6);
	sim_fini(&m);
}

Test(shaper, priority_and_weight_change_in_place)
{
	struct shaper_class_cfg k[] = { cc(0, 0, 0, 100), cc(0, 0, 1, 100) };
	struct shaper_cfg cfg = { .link_bps = 100 * M, .mtu = FRAME, .n_classes = 2, .classes = k };
	struct sim m;
	sim_init(&m, 100 * M, k, 2, 0);
	sim_flood(&m, 0);
	sim_flood(&m, 1);
	sim_run(&m, S);
	cr_expect_lt(m.bytes[1], FRAME * 4, "priority 1 starved by priority 0");
	k[1].priority = 0;
	k[1].weight = 300;
	cr_assert_eq(shaper_reconfigure(m.s, &cfg, m.now), 0);
	sim_window(&m);
	sim_run(&m, 2 * S);
	WITHIN(sim_rate(&m, 1, S) / sim_rate(&m, 0, S), 2.97, 3.03);
	sim_fini(&m);
}

Test(shaper, guarantees_above_the_link_refused)
{
	struct shaper_class_cfg k[] = { cc(60 * M, 0, 0, 100), cc(50 * M, 0, 1, 100) };
	struct shaper_cfg cfg = { .link_bps = 100 * M, .mtu = FRAME, .n_classes = 2, .classes = k };
	char why[128];
	cr_expect_eq(shaper_check(&cfg, why, sizeof(why)), -EINVAL);
	cr_expect(strstr(why, "exceed the link rate"), "%s", why);
	errno = 0;
	cr_expect_null(shaper_create(&cfg, 0));
	cr_expect_eq(errno, EINVAL);
	/* a live change that would overcommit is refused and changes nothing */
	k[1].guaranteed_bps = 40 * M;
	struct sim m;
	sim_init(&m, 100 * M, k, 2, 0);
	sim_flood(&m, 0);
	sim_flood(&m, 1);
	k[1].guaranteed_bps = 50 * M;
	cr_expect_eq(shaper_reconfigure(m.s, &cfg, 0), -EINVAL);
	k[1].guaranteed_bps = 40 * M;
	sim_run(&m, S);
	WITHIN(sim_rate(&m, 0, S), 59.8e6, 60.3e6);
	/* other refusals, one line each */
	static const struct { int n; struct shaper_class_cfg k; uint64_t link; uint32_t mtu; } bad[] = {
		{ 1, { .ceiling_bps = 10 * M, .guaranteed_bps = 20 * M, .weight = 1 }, 100 * M, FRAME },
		{ 2, { .priority = SHAPER_PRIOS, .weight = 1 }, 100 * M, FRAME },
		{ 3, { .weight = 0 }, 100 * M, FRAME },
		{ 4, { .weight = SHAPER_MAX_WEIGHT + 1 }, 100 * M, FRAME },
		{ 5, { .ceiling_bps = 999, .weight = 1 }, 100 * M, FRAME },
		{ 6, { .weight = 1 }, 999, FRAME },
		{ 7, { .weight = 1 }, 100 * M, 63 },
		{ 8, { .guaranteed_bps = 101 * M, .weight = 1 }, 100 * M, FRAME },
	};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct shaper_cfg b = { .link_bps = bad[i].link, .mtu = bad[i].mtu, .n_classes = 1,
					.classes = &bad[i].k };
		cr_expect_eq(shaper_check(&b, NULL, 0), -EINVAL, "case %d", bad[i].n);
	}
	struct shaper_cfg none = { .link_bps = M, .mtu = FRAME, .n_classes = 0, .classes = k };
	cr_expect_eq(shaper_check(&none, NULL, 0), -EINVAL);
	sim_fini(&m);
}

/* ---- RPO ---- */

Test(shaper, rpo_urgent_borrows_first_within_its_priority)
{
	/* C (priority 0) takes 40M; A and B (priority 1, 10M guaranteed each)
	 * share the 40M spare equally, until A's lag nears its target */
	struct shaper_class_cfg k[] = { cc(10 * M, 0, 1, 100), cc(10 * M, 0, 1, 100),
					cc(10 * M, 40 * M, 0, 100) };
	k[0].rpo_target_ns = 300 * S;
	struct sim m;
	sim_init(&m, 100 * M, k, 3, 0);
	for (unsigned i = 0; i < 3; i++)
		sim_flood(&m, i);
	sim_run(&m, S);
	sim_window(&m);
	sim_run(&m, 2 * S);
	WITHIN(sim_rate(&m, 0, S), 29.8e6, 30.2e6);
	WITHIN(sim_rate(&m, 1, S), 29.8e6, 30.2e6);
	/* 3/4 of the target: urgent */
	shaper_set_lag(m.s, 0, 225 * S, m.now);
	sim_window(&m);
	sim_run(&m, 3 * S);
	WITHIN(sim_rate(&m, 0, S), 49.8e6, 50.2e6);
	WITHIN(sim_rate(&m, 1, S), 9.98e6, 10.02e6);
	WITHIN(sim_rate(&m, 2, S), 39.9e6, 40.1e6);
	struct shaper_class_stats st;
	shaper_class_stats(m.s, 0, &st);
	cr_expect(st.urgent);
	cr_expect_eq(st.lag_ns, 225 * S);
	cr_expect_eq(st.rpo_target_ns, 300 * S);
	cr_expect_gt(st.urgent_bytes, 0);
	/* 0.6: still urgent (hysteresis); 0.4: back to equal shares */
	shaper_set_lag(m.s, 0, 180 * S, m.now);
	shaper_class_stats(m.s, 0, &st);
	cr_expect(st.urgent);
	shaper_set_lag(m.s, 0, 120 * S, m.now);
	sim_window(&m);
	sim_run(&m, 4 * S);
	WITHIN(sim_rate(&m, 0, S), 29.8e6, 30.2e6);
	/* B without a target never becomes urgent */
	shaper_set_lag(m.s, 1, 1000 * S, m.now);
	shaper_class_stats(m.s, 1, &st);
	cr_expect(!st.urgent);
	sim_fini(&m);
}

Test(shaper, rpo_urgent_does_not_pass_a_higher_priority)
{
	struct shaper_class_cfg k[] = { cc(10 * M, 0, 1, 100), cc(0, 0, 0, 100) };
	k[0].rpo_target_ns = 10 * S;
	struct sim m;
	sim_init(&m, 100 * M, k, 2, 0);
	sim_flood(&m, 0);
	sim_flood(&m, 1);
	shaper_set_lag(m.s, 0, 20 * S, 0);
	sim_run(&m, S);
	sim_window(&m);
	sim_run(&m, 2 * S);
	WITHIN(sim_rate(&m, 0, S), 9.98e6, 10.02e6);
	WITHIN(sim_rate(&m, 1, S), 89.9e6, 90.1e6);
	sim_fini(&m);
}

Test(shaper, rpo_urgent_keeps_its_ceiling_and_the_others_guarantees)
{
	/* A (target, ceiling 60M) and B (guaranteed 20M) of one priority on
	 * 100M: urgent, A takes the spare up to its ceiling, never B's 20M;
	 * what A may not take goes to B */
	struct shaper_class_cfg k[] = { cc(0, 60 * M, 1, 1), cc(20 * M, 0, 1, 1) };
	k[0].rpo_target_ns = 2 * S;
	struct sim m;
	sim_init(&m, 100 * M, k, 2, 0);
	sim_flood(&m, 0);
	sim_flood(&m, 1);
	/* a stalled lag (bytes held, nothing drains) counts as past the target */
	shaper_set_lag(m.s, 0, UINT64_MAX, 0);
	sim_run(&m, S);
	sim_window(&m);
	sim_run(&m, 2 * S);
	WITHIN(sim_rate(&m, 0, S), 59.8e6, 60.2e6);
	WITHIN(sim_rate(&m, 1, S), 39.8e6, 40.2e6);
	struct shaper_class_stats st;
	shaper_class_stats(m.s, 0, &st);
	cr_expect(st.urgent);
	/* the target removed by a reload: no longer urgent, equal shares of
	 * the 80M spare above B's guarantee (A 40M, B 20M + 40M) */
	k[0].rpo_target_ns = 0;
	struct shaper_cfg cfg = { .link_bps = 100 * M, .mtu = FRAME, .n_classes = 2, .classes = k };
	cr_assert_eq(shaper_reconfigure(m.s, &cfg, m.now), 0);
	shaper_class_stats(m.s, 0, &st);
	cr_expect(!st.urgent);
	sim_run(&m, 3 * S);
	sim_window(&m);
	sim_run(&m, 4 * S);
	WITHIN(sim_rate(&m, 0, S), 39.8e6, 40.2e6);
	WITHIN(sim_rate(&m, 1, S), 59.8e6, 60.2e6);
	sim_fini(&m);
}

Test(shaper, rpo_two_urgent_share_by_weight)
{
	/* both past their targets: urgency orders them against the others of
	 * their priority only; between themselves, DRR on weight (2:1), and
	 * the third, within its target, gets only its guarantee */
	struct shaper_class_cfg k[] = { cc(0, 0, 1, 2), cc(0, 0, 1, 1), cc(10 * M, 0, 1, 1) };
	k[0].rpo_target_ns = k[1].rpo_target_ns = 10 * S;
	struct sim m;
	sim_init(&m, 100 * M, k, 3, 0);
	for (unsigned i = 0; i < 3; i++)
		sim_flood(&m, i);
	shaper_set_lag(m.s, 0, 9 * S, 0);
	shaper_set_lag(m.s, 1, 8 * S, 0);
	sim_run(&m, S);
	sim_window(&m);
	sim_run(&m, 2 * S);
	WITHIN(sim_rate(&m, 0, S), 59.4e6, 60.6e6);
	WITHIN(sim_rate(&m, 1, S), 29.7e6, 30.3e6);
	WITHIN(sim_rate(&m, 2, S), 9.98e6, 10.02e6);
	sim_fini(&m);
}

/* ---- the wheel and the clock ---- */

Test(shaper, defer_holds_a_class_until_its_time)
{
	struct shaper_class_cfg k[] = { cc(0, 0, 0, 100), cc(0, 0, 0, 100) };
	struct sim m;
	sim_init(&m, 100 * M, k, 2, 0);
	shaper_wake(m.s, 0, 0);
	uint64_t next;
	cr_assert_eq(shaper_pick(m.s, 0, &next), 0);
	shaper_defer(m.s, 0, 5 * MS);
	struct shaper_class_stats st;
	shaper_class_stats(m.s, 0, &st);
	cr_expect_eq(st.mode, SHAPER_HELD);
	cr_expect_eq(shaper_pick(m.s, 1 * MS, &next), SHAPER_NO_CLASS);
	cr_expect_geq(next, 5 * MS);
	cr_expect_lt(next, 5 * MS + SHAPER_SLOT_NS);
	shaper_wake(m.s, 1, 1 * MS);
	cr_expect_eq(shaper_pick(m.s, 1 * MS, &next), 1);
	shaper_sleep(m.s, 1);
	cr_expect_eq(shaper_pick(m.s, next, &next), 0);
	/* nothing at all: no deadline */
	shaper_sleep(m.s, 0);
	cr_expect_eq(shaper_pick(m.s, 6 * MS, &next), SHAPER_NO_CLASS);
	cr_expect_eq(next, UINT64_MAX);
	sim_fini(&m);
}

Test(shaper, slow_ceiling_beyond_the_wheel_horizon)
{
	/* 8 kbit/s: a frame every 1.5 s, 22 horizons of 67 ms apart */
	struct shaper_class_cfg k[] = { cc(0, 8000, 0, 100), cc(0, 0, 1, 100) };
	struct sim m;
	sim_init(&m, 100 * M, k, 2, 0);
	sim_flood(&m, 0);
	sim_offer(&m, 1, 1 * M); /* keeps the loop and the wheel turning */
	sim_run(&m, 30 * S);
	/* 30 s at 1000 B/s, + the burst (one frame: 1.5 s at the rate) */
	WITHIN(m.bytes[0], 30000 - FRAME, 30000 + 2 * FRAME);
	WITHIN(sim_rate(&m, 1, 30 * S), 0.99e6, 1.01e6);
	sim_fini(&m);
}

Test(shaper, any_clock_origin)
{
	/* a realtime-based clock (ns since 1970) */
	uint64_t t0 = 1767225600ull * S;
	struct shaper_class_cfg k[] = { cc(0, 20 * M, 0, 100), cc(30 * M, 0, 1, 200) };
	struct sim m;
	sim_init(&m, 100 * M, k, 2, t0);
	sim_flood(&m, 0);
	sim_flood(&m, 1);
	sim_run(&m, t0 + S);
	sim_window(&m);
	sim_run(&m, t0 + 2 * S);
	WITHIN(sim_rate(&m, 0, S), 19.98e6, 20.02e6);
	WITHIN(sim_rate(&m, 1, S), 79.8e6, 80.2e6);
	sim_fini(&m);
}

Test(shaper, thousand_classes_fair_shares)
{
	/* 1024 classes on 1 Gbit/s, one in four with 100k guaranteed: each
	 * gets its guarantee plus an equal share of the rest, as HTB gives:
	 * (1G - 256 x 100k) / 1024 = 951.6k (118.9 kB/s), 1051.6k (131.4 kB/s) */
	enum { N = 1024 };
	static struct shaper_class_cfg k[N];
	static uint64_t bytes[N];
	for (unsigned i = 0; i < N; i++)
		k[i] = cc(i % 4 == 0 ? 100000 : 0, 0, 3, 100);
	struct shaper_cfg cfg = { .link_bps = 1000 * M, .mtu = FRAME, .n_classes = N, .classes = k };
	struct shaper *s = shaper_create(&cfg, 0);
	cr_assert_not_null(s);
	for (unsigned i = 0; i < N; i++)
		shaper_wake(s, i, 0);
	uint64_t now = 0, next;
	while (now < 2 * S) {
		if (now >= S && now < S + 100)
			memset(bytes, 0, sizeof(bytes)); /* the second second */
		int c = shaper_pick(s, now, &next);
		if (c < 0) {
			now = next;
			continue;
		}
		shaper_sent(s, (unsigned)c, FRAME, now);
		bytes[c] += FRAME;
		now += 100;
	}
	unsigned bad = 0;
	for (unsigned i = 0; i < N; i++) {
		double want = i % 4 == 0 ? 131450 : 118950;
		bad += bytes[i] < want - 2 * FRAME || bytes[i] > want + 2 * FRAME;
		cr_expect(bytes[i] >= want - 2 * FRAME && bytes[i] <= want + 2 * FRAME,
			  "class %u: %lu bytes, want %.0f", i, (unsigned long)bytes[i], want);
		if (bad > 4)
			break;
	}
	struct shaper_class_stats st;
	shaper_class_stats(s, 0, &st);
	cr_expect_gt(st.green_bytes, 0);
	cr_expect_gt(st.borrowed_bytes, 0);
	shaper_destroy(s);
}

Test(shaper, stats_and_names)
{
	struct shaper_class_cfg k[] = { cc(10 * M, 20 * M, 0, 100) };
	struct sim m;
	sim_init(&m, 100 * M, k, 1, 0);
	struct shaper_class_stats st;
	shaper_class_stats(m.s, 0, &st);
	cr_expect_eq(st.mode, SHAPER_IDLE);
	sim_flood(&m, 0);
	sim_run(&m, S);
	shaper_class_stats(m.s, 0, &st);
	cr_expect_eq(st.bytes, st.green_bytes + st.borrowed_bytes);
	WITHIN((double)st.green_bytes, 10e6 / 8 - 2 * FRAME, 10e6 / 8 * 1.003 + FRAME);
	cr_expect_gt(st.throttled, 0);
	cr_expect_eq(st.frames, st.bytes / FRAME);
	cr_expect_eq(shaper_n_classes(m.s), 1);
	cr_expect_str_eq(shaper_mode_name(SHAPER_RED), "red");
	cr_expect_str_eq(shaper_mode_name((enum shaper_mode)99), "?");
	sim_fini(&m);
}

/* What [WAN] Rate charges per frame: the Ethernet header, padding to 60,
 * preamble + SFD, FCS and the gap; an 802.1Q tag on a [WAN] Vlan. */
Test(shaper, wire_bytes_of_a_frame)
{
	cr_assert_eq(wan_wire_bytes(1500, false), 1538);
	cr_assert_eq(wan_wire_bytes(1500, true), 1542);
	cr_assert_eq(wan_wire_bytes(20, false), 84);   /* padded to 60 */
	cr_assert_eq(wan_wire_bytes(20, true), 84);
	cr_assert_eq(wan_wire_bytes(44, true), 86);    /* 62 bytes: no padding */
}
