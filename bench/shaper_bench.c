/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * strait-bench-shaper - the WAN shaper's cost per decision, and the cost of
 * sharing one link among workers.
 *
 *   strait-bench-shaper [--runs N] [--decisions N] [--tenants 1,64,1024]
 *                       [--frames N] [--no-workers]
 *
 * decisions: for each tenant count, a shaper with that many tenants (one
 *   in three guaranteed, one in five held by a ceiling below its fair
 *   share, priorities 0..3, weights 1..1000 from a fixed seed) plus the
 *   bridged class, every class with unlimited demand, on a 10 Gbit/s link.
 *   A simulated WAN TX loop makes one decision per 1500-byte frame
 *   (shaper_pick + shaper_sent) and moves its clock by the frame's time
 *   on the link, so classes keep turning green, yellow and red and the
 *   wheel keeps turning, as at line rate. Tenant counts alternate within
 *   each run; the median of the runs is printed (thread CPU time per
 *   decision, and wall time beside it).
 *
 * workers: the two ways to share one link among two workers, each owning
 *   half of 1,024 tenants, at full speed (no link limit; the figure is the
 *   CPU each frame costs at the scheduling point):
 *   tx_lcore       one shaper on a third thread (the WAN TX lcore); the
 *                  workers hand it frames through per-tenant single-
 *                  producer rings (32 frames), which it empties up to 8
 *                  at a time into a stash of its own, and wake it through
 *                  a ring per worker when a tenant's ring turns non-empty;
 *   shared_bucket  a shaper per worker for its own tenants, the link rate
 *                  kept in one shared atomic bucket every frame charges
 *                  (its priorities and guarantees cannot see the other
 *                  worker's tenants: the semantics this gives up).
 *   Frames are 8-byte descriptors: the cost of moving real mbufs between
 *   cores comes on top of the tx_lcore figure.
 *
 * JSON on stdout.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <strait/benchstat.h>

#include "shaper.h"

#define MAX_RUNS 31
#define MAX_COUNTS 8
#define FRAME 1500u
#define LINK_BPS 10000000000ull

static void die(const char *what)
{
	fprintf(stderr, "strait-bench-shaper: %s\n", what);
	exit(1);
}

static uint64_t rng(uint64_t *x)
{
	/* xorshift64*: the same classes on every run */
	*x ^= *x >> 12;
	*x ^= *x << 25;
	*x ^= *x >> 27;
	return *x * 2685821657736338717ull;
}

/* n tenants and the bridged class (the last). */
static struct shaper_class_cfg *make_classes(unsigned n, uint64_t link)
{
	struct shaper_class_cfg *k = calloc(n + 1, sizeof(*k));
	if (!k)
		die("out of memory");
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	unsigned n_g = (n + 2) / 3;
	for (unsigned i = 0; i < n; i++) {
		k[i].priority = (uint8_t)(i % 4);
		k[i].weight = (uint16_t)(1 + rng(&seed) % SHAPER_MAX_WEIGHT);
		if (i % 3 == 0)
			k[i].guaranteed_bps = link / 2 / n_g;
		if (i % 5 == 1)
			k[i].ceiling_bps = link / n / 2 > SHAPER_MIN_RATE ? link / n / 2 : SHAPER_MIN_RATE;
		if (k[i].ceiling_bps && k[i].guaranteed_bps > k[i].ceiling_bps)
			k[i].guaranteed_bps = k[i].ceiling_bps;
		if (i % 7 == 3)
			k[i].rpo_target_ns = 300000000000ull;
	}
	k[n].priority = SHAPER_PRIOS - 1;
	k[n].weight = 1;
	return k;
}

/* ---- decisions ---- */

struct decision_run {
	double cpu_ns, wall_ns;   /* per decision */
	double idle_frac;         /* picks that found nothing sendable */
	double link_util;         /* bytes sent / link capacity over the run */
	double throttled_per_k;   /* red transitions per 1000 decisions */
	double borrowed_frac;
};

static void run_decisions(unsigned n, uint64_t decisions, struct decision_run *out)
{
	struct shaper_class_cfg *k = make_classes(n, LINK_BPS);
	struct shaper_cfg cfg = { .link_bps = LINK_BPS, .mtu = FRAME, .n_classes = n + 1, .classes = k };
	struct shaper *s = shaper_create(&cfg, 0);
	if (!s)
		die("shaper_create failed");
	for (unsigned i = 0; i <= n; i++)
		shaper_wake(s, i, 0);
	const uint64_t frame_ns = FRAME * 8ull * 1000000000ull / LINK_BPS;
	uint64_t now = 0, next, idle = 0, sent = 0;
	/* warm up: one second of link time */
	while (now < 1000000000ull) {
		int c = shaper_pick(s, now, &next);
		if (c < 0) {
			now = next;
			continue;
		}
		shaper_sent(s, (unsigned)c, FRAME, now);
		now += frame_ns;
	}
	/* every lag moves: a tenant with a target turns urgent now and then */
	uint64_t t_start = now;
	double w0 = bench_clock(CLOCK_MONOTONIC), c0 = bench_clock(CLOCK_THREAD_CPUTIME_ID);
	for (uint64_t d = 0; d < decisions; d++) {
		int c = shaper_pick(s, now, &next);
		if (c < 0) {
			idle++;
			now = next;
			continue;
		}
		shaper_sent(s, (unsigned)c, FRAME, now);
		sent++;
		now += frame_ns;
		if ((d & 4095) == 0)
			shaper_set_lag(s, (unsigned)(d >> 12) % n, (d >> 12) % 2 ? 250000000000ull : 0, now);
	}
	double c1 = bench_clock(CLOCK_THREAD_CPUTIME_ID), w1 = bench_clock(CLOCK_MONOTONIC);
	uint64_t throttled = 0, borrowed = 0, bytes = 0;
	for (unsigned i = 0; i <= n; i++) {
		struct shaper_class_stats st;
		shaper_class_stats(s, i, &st);
		throttled += st.throttled;
		borrowed += st.borrowed_bytes;
		bytes += st.bytes;
	}
	out->cpu_ns = (c1 - c0) * 1e9 / (double)decisions;
	out->wall_ns = (w1 - w0) * 1e9 / (double)decisions;
	out->idle_frac = (double)idle / (double)decisions;
	out->link_util = (double)sent * FRAME * 8 / ((double)(now - t_start) * LINK_BPS / 1e9);
	out->throttled_per_k = (double)throttled * 1000 / (double)(sent + idle);
	out->borrowed_frac = (double)borrowed / (double)bytes;
	shaper_destroy(s);
	free(k);
}

/* ---- two workers, one link ---- */

enum { W_TENANTS = 1024, WORKERS = 2, RING = 32, BATCH = 32, STASH = 8 };

struct spsc {
	_Alignas(64) _Atomic uint32_t head; /* producer */
	_Alignas(64) _Atomic uint32_t tail; /* consumer */
	uint32_t slot[RING];
};

struct wake_ring {
	_Alignas(64) _Atomic uint32_t head;
	_Alignas(64) _Atomic uint32_t tail;
	uint32_t slot[W_TENANTS]; /* each tenant at most once (asleep flag) */
};

/* The TX lcore's own few frames of a tenant, taken from its ring at once. */
struct stash {
	uint32_t v[STASH];
	uint8_t n, i;
};

struct wshared {
	struct spsc q[W_TENANTS];
	struct stash stash[W_TENANTS];
	_Atomic uint8_t asleep[W_TENANTS];
	struct wake_ring wake[WORKERS];
	_Atomic bool stop;
	_Alignas(64) _Atomic uint64_t link_tat; /* shared_bucket */
	double cpu[WORKERS];
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static bool spsc_push(struct spsc *q, uint32_t v)
{
	uint32_t h = atomic_load_explicit(&q->head, memory_order_relaxed);
	if (h - atomic_load_explicit(&q->tail, memory_order_acquire) == RING)
		return false;
	q->slot[h % RING] = v;
	atomic_store_explicit(&q->head, h + 1, memory_order_release);
	return true;
}

/* Up to max frames at once: one exchange of the ring's cache lines for
 * several frames. */
static unsigned spsc_pop_burst(struct spsc *q, uint32_t *v, unsigned max)
{
	uint32_t t = atomic_load_explicit(&q->tail, memory_order_relaxed);
	uint32_t n = atomic_load_explicit(&q->head, memory_order_acquire) - t;
	if (n > max)
		n = max;
	for (uint32_t i = 0; i < n; i++)
		v[i] = q->slot[(t + i) % RING];
	atomic_store_explicit(&q->tail, t + n, memory_order_release);
	return n;
}

static void wake_push(struct wake_ring *r, uint32_t v)
{
	uint32_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
	r->slot[h % W_TENANTS] = v; /* never full: each tenant at most once */
	atomic_store_explicit(&r->head, h + 1, memory_order_release);
}

static bool wake_pop(struct wake_ring *r, uint32_t *v)
{
	uint32_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
	if (t == atomic_load_explicit(&r->head, memory_order_acquire))
		return false;
	*v = r->slot[t % W_TENANTS];
	atomic_store_explicit(&r->tail, t + 1, memory_order_release);
	return true;
}

struct warg {
	struct wshared *sh;
	unsigned id;
	uint64_t frames;
};

/* tx_lcore, the workers: keep their tenants' rings full. */
static void *producer(void *p)
{
	struct warg *a = p;
	struct wshared *sh = a->sh;
	unsigned lo = a->id * (W_TENANTS / WORKERS), hi = lo + W_TENANTS / WORKERS;
	uint64_t n = 0;
	while (!atomic_load_explicit(&sh->stop, memory_order_relaxed)) {
		for (unsigned t = lo; t < hi; t++) {
			while (spsc_push(&sh->q[t], FRAME))
				n++;
			if (atomic_load_explicit(&sh->asleep[t], memory_order_relaxed) &&
			    atomic_exchange(&sh->asleep[t], 0))
				wake_push(&sh->wake[a->id], t);
		}
	}
	a->frames = n;
	return NULL;
}

/* tx_lcore, the scheduling point: one shaper for every tenant. */
static uint64_t tx_lcore(struct wshared *sh, const struct shaper_cfg *cfg, uint64_t frames,
			 double *cpu)
{
	struct shaper *s = shaper_create(cfg, now_ns());
	if (!s)
		die("shaper_create failed");
	for (unsigned t = 0; t < W_TENANTS; t++)
		atomic_store(&sh->asleep[t], 1);
	uint64_t sent = 0, now = now_ns(), next;
	double c0 = bench_clock(CLOCK_THREAD_CPUTIME_ID);
	while (sent < frames) {
		uint32_t t;
		for (unsigned w = 0; w < WORKERS; w++)
			while (wake_pop(&sh->wake[w], &t))
				shaper_wake(s, t, now);
		now = now_ns(); /* once per burst, as a poll loop reads its clock */
		for (unsigned b = 0; b < BATCH; b++) {
			int c = shaper_pick(s, now, &next);
			if (c < 0)
				break;
			struct stash *st = &sh->stash[c];
			if (st->i == st->n) {
				st->i = 0;
				st->n = (uint8_t)spsc_pop_burst(&sh->q[c], st->v, STASH);
				if (!st->n) {
					/* asleep first, then look again: a push in
					 * between is seen here or wakes us */
					atomic_store(&sh->asleep[c], 1);
					st->n = (uint8_t)spsc_pop_burst(&sh->q[c], st->v, STASH);
					if (!st->n) {
						shaper_sleep(s, (unsigned)c);
						continue;
					}
					atomic_store(&sh->asleep[c], 0);
				}
			}
			shaper_sent(s, (unsigned)c, st->v[st->i++], now);
			sent++;
		}
	}
	*cpu = bench_clock(CLOCK_THREAD_CPUTIME_ID) - c0;
	shaper_destroy(s);
	return sent;
}

/* shared_bucket: a worker's own shaper, the link in one atomic. */
static void *bucket_worker(void *p)
{
	struct warg *a = p;
	struct wshared *sh = a->sh;
	unsigned n = W_TENANTS / WORKERS;
	struct shaper_class_cfg *k = make_classes(n, LINK_BPS / WORKERS);
	struct shaper_cfg cfg = { .link_bps = 0, .mtu = FRAME, .n_classes = n, .classes = k };
	struct shaper *s = shaper_create(&cfg, now_ns());
	if (!s)
		die("shaper_create failed");
	for (unsigned i = 0; i < n; i++)
		shaper_wake(s, i, 0);
	/* the shared link at 1 Pbit/s: every frame pays the atomic, none waits */
	const uint64_t cost = 1; /* ns per frame at 1.2 Pbit/s */
	uint64_t sent = 0, next;
	double c0 = bench_clock(CLOCK_THREAD_CPUTIME_ID);
	while (sent < a->frames) {
		uint64_t now = now_ns();
		for (unsigned b = 0; b < BATCH; b++) {
			int c = shaper_pick(s, now, &next);
			if (c < 0)
				break;
			uint64_t tat = atomic_load_explicit(&sh->link_tat, memory_order_relaxed);
			uint64_t nt;
			do {
				nt = (tat > now ? tat : now) + cost;
			} while (!atomic_compare_exchange_weak(&sh->link_tat, &tat, nt));
			shaper_sent(s, (unsigned)c, FRAME, now);
			sent++;
		}
	}
	sh->cpu[a->id] = bench_clock(CLOCK_THREAD_CPUTIME_ID) - c0;
	shaper_destroy(s);
	free(k);
	return NULL;
}

struct worker_run {
	double tx_ns_per_frame;      /* CPU of the TX lcore per frame */
	double tx_mpps;
	double bucket_ns_per_frame;  /* CPU of a worker per frame */
	double bucket_mpps;
};

static void run_workers(uint64_t frames, struct worker_run *out)
{
	struct wshared *sh = aligned_alloc(64, (sizeof(*sh) + 63) / 64 * 64);
	if (!sh)
		die("out of memory");
	/* tx_lcore: 1,024 tenants on one shaper, no link limit */
	memset(sh, 0, sizeof(*sh));
	struct shaper_class_cfg *k = make_classes(W_TENANTS - 1, LINK_BPS);
	for (unsigned i = 0; i < W_TENANTS; i++)
		k[i].ceiling_bps = k[i].guaranteed_bps = 0;
	struct shaper_cfg cfg = { .link_bps = 0, .mtu = FRAME, .n_classes = W_TENANTS, .classes = k };
	pthread_t th[WORKERS];
	struct warg args[WORKERS];
	for (unsigned w = 0; w < WORKERS; w++) {
		args[w] = (struct warg){ .sh = sh, .id = w };
		if (pthread_create(&th[w], NULL, producer, &args[w]))
			die("pthread_create");
	}
	double t0 = bench_clock(CLOCK_MONOTONIC), cpu;
	uint64_t sent = tx_lcore(sh, &cfg, frames, &cpu);
	double t1 = bench_clock(CLOCK_MONOTONIC);
	atomic_store(&sh->stop, true);
	for (unsigned w = 0; w < WORKERS; w++)
		pthread_join(th[w], NULL);
	out->tx_ns_per_frame = cpu * 1e9 / (double)sent;
	out->tx_mpps = (double)sent / (t1 - t0) / 1e6;
	free(k);
	/* shared_bucket */
	memset(sh, 0, sizeof(*sh));
	t0 = bench_clock(CLOCK_MONOTONIC);
	for (unsigned w = 0; w < WORKERS; w++) {
		args[w] = (struct warg){ .sh = sh, .id = w, .frames = frames / WORKERS };
		if (pthread_create(&th[w], NULL, bucket_worker, &args[w]))
			die("pthread_create");
	}
	for (unsigned w = 0; w < WORKERS; w++)
		pthread_join(th[w], NULL);
	t1 = bench_clock(CLOCK_MONOTONIC);
	out->bucket_ns_per_frame = (sh->cpu[0] + sh->cpu[1]) * 1e9 / (double)frames;
	out->bucket_mpps = (double)frames / (t1 - t0) / 1e6;
	free(sh);
}

/* ---- main ---- */

static double med(double *v, int n)
{
	double c[MAX_RUNS];
	memcpy(c, v, (size_t)n * sizeof(*v));
	return bench_median(c, n);
}

int main(int argc, char **argv)
{
	int runs = 5;
	uint64_t decisions = 5000000, frames = 4000000;
	unsigned counts[MAX_COUNTS] = { 1, 64, 1024 }, n_counts = 3;
	bool workers = true;
	static const struct option opts[] = {
		{ "runs", required_argument, NULL, 'r' },
		{ "decisions", required_argument, NULL, 'd' },
		{ "tenants", required_argument, NULL, 't' },
		{ "frames", required_argument, NULL, 'f' },
		{ "no-workers", no_argument, NULL, 'W' },
		{ 0 },
	};
	int o;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'r':
			runs = atoi(optarg);
			if (runs < 1 || runs > MAX_RUNS)
				die("--runs: 1..31");
			break;
		case 'd':
			decisions = strtoull(optarg, NULL, 10);
			if (!decisions)
				die("--decisions: a positive count");
			break;
		case 'f':
			frames = strtoull(optarg, NULL, 10);
			if (!frames)
				die("--frames: a positive count");
			break;
		case 't': {
			n_counts = 0;
			for (char *tok = strtok(optarg, ","); tok; tok = strtok(NULL, ",")) {
				long v = atol(tok);
				if (v < 1 || v >= SHAPER_MAX_CLASSES || n_counts == MAX_COUNTS)
					die("--tenants: up to 8 counts of 1..4095");
				counts[n_counts++] = (unsigned)v;
			}
			break;
		}
		case 'W':
			workers = false;
			break;
		default:
			fprintf(stderr, "usage: strait-bench-shaper [--runs N] [--decisions N] "
				"[--tenants 1,64,1024] [--frames N] [--no-workers]\n");
			return 2;
		}
	}
	static struct decision_run d[MAX_COUNTS][MAX_RUNS];
	static struct worker_run wr[MAX_RUNS];
	for (int r = 0; r < runs; r++) {
		for (unsigned i = 0; i < n_counts; i++)
			run_decisions(counts[i], decisions, &d[i][r]);
		if (workers)
			run_workers(frames, &wr[r]);
	}
	printf("{\n  \"bench\": \"shaper\",\n  \"runs\": %d,\n  \"decisions_per_run\": %llu,\n"
	       "  \"link_bps\": %llu,\n  \"frame_bytes\": %u,\n  \"decision\": [\n",
	       runs, (unsigned long long)decisions, LINK_BPS, FRAME);
	for (unsigned i = 0; i < n_counts; i++) {
		double v[6][MAX_RUNS];
		for (int r = 0; r < runs; r++) {
			v[0][r] = d[i][r].cpu_ns;
			v[1][r] = d[i][r].wall_ns;
			v[2][r] = d[i][r].idle_frac;
			v[3][r] = d[i][r].link_util;
			v[4][r] = d[i][r].throttled_per_k;
			v[5][r] = d[i][r].borrowed_frac;
		}
		printf("    { \"tenants\": %u, \"ns_per_decision\": %.1f, \"wall_ns_per_decision\": %.1f, "
		       "\"idle_picks\": %.4f, \"link_utilisation\": %.4f, \"throttled_per_1000\": %.2f, "
		       "\"borrowed_share\": %.3f, \"ns_per_decision_runs\": [",
		       counts[i], med(v[0], runs), med(v[1], runs), med(v[2], runs), med(v[3], runs),
		       med(v[4], runs), med(v[5], runs));
		for (int r = 0; r < runs; r++)
			printf("%s%.1f", r ? ", " : "", d[i][r].cpu_ns);
		printf("] }%s\n", i + 1 < n_counts ? "," : "");
	}
	printf("  ]");
	if (workers) {
		double v[4][MAX_RUNS];
		for (int r = 0; r < runs; r++) {
			v[0][r] = wr[r].tx_ns_per_frame;
			v[1][r] = wr[r].tx_mpps;
			v[2][r] = wr[r].bucket_ns_per_frame;
			v[3][r] = wr[r].bucket_mpps;
		}
		printf(",\n  \"workers\": { \"workers\": %d, \"tenants\": %d, \"frames_per_run\": %llu,\n"
		       "    \"tx_lcore\": { \"ns_per_frame\": %.1f, \"mpps\": %.2f },\n"
		       "    \"shared_bucket\": { \"ns_per_frame\": %.1f, \"mpps\": %.2f } }",
		       WORKERS, W_TENANTS, (unsigned long long)frames, med(v[0], runs), med(v[1], runs),
		       med(v[2], runs), med(v[3], runs));
	}
	FILE *la = fopen("/proc/loadavg", "r");
	char load[64] = "";
	if (la) {
		if (!fgets(load, sizeof(load), la))
			load[0] = '\0';
		fclose(la);
		load[strcspn(load, "\n")] = '\0';
	}
	printf(",\n  \"loadavg\": \"%s\"\n}\n", load);
	return 0;
}
