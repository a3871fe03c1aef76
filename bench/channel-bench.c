/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * channel-bench - the channel multiplexer in process against the codec
 * alone, on the same bytes, in the same run.
 *
 *   channel-bench [--cache SIZE] [--runs N] [--room BYTES] FILE...
 *
 * Each FILE is a phase, sent as one flow through two muxes back to back
 * (A encodes, B decodes and delivers; CREDIT/DECODED go back), all phases
 * in one session so the cache carries from one to the next, as
 * `strait-dedupe encode FILE...` does with one encoder. The baseline is
 * exactly that: the library's encoder over the same files, one flow per
 * file. Runs alternate the two (the order flips every run); the JSON on
 * stdout has per phase the medians of the runs: bytes in, channel bytes
 * A->B (frames, records and control) and B->A (control), codec bytes,
 * their ratio, wall and CPU seconds. B's bytes are checked against the
 * file (XXH3) in every run; a mismatch exits 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <xxhash.h>

#include "channel_mux.h"

enum { MAX_PHASES = 16, MAX_RUNS = 15 };

struct phase {
	const char *path;
	const uint8_t *p;
	size_t len;
	uint64_t digest;
	double mux_s[MAX_RUNS], mux_cpu[MAX_RUNS], codec_s[MAX_RUNS], codec_cpu[MAX_RUNS];
	uint64_t wan_ab[MAX_RUNS], wan_ba[MAX_RUNS], records[MAX_RUNS], codec[MAX_RUNS];
};

static struct phase ph[MAX_PHASES];
static unsigned nph;

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static double cpu_s(void)
{
	struct rusage r;

	getrusage(RUSAGE_SELF, &r);
	return (double)r.ru_utime.tv_sec + (double)r.ru_utime.tv_usec * 1e-6 +
	       (double)r.ru_stime.tv_sec + (double)r.ru_stime.tv_usec * 1e-6;
}

static void die(const char *what)
{
	fprintf(stderr, "channel-bench: %s\n", what);
	exit(1);
}

static uint64_t parse_size(const char *s)
{
	char *end;
	double v = strtod(s, &end);

	switch (*end) {
	case 'K': case 'k': v *= 1024; break;
	case 'M': case 'm': v *= 1024 * 1024; break;
	case 'G': case 'g': v *= 1024.0 * 1024 * 1024; break;
	case 0: break;
	default: die("bad size");
	}
	return (uint64_t)v;
}

/* ---- the mux pair ---- */

struct side {
	struct chan_mux *m;
	void *mem;
};

static struct side A, B;
static XXH3_state_t *got;
static uint64_t got_len;
static bool got_fin;
static struct chan_flow *client;

static int cb_open(void *ctx, struct chan_flow *f, const struct chan_open *o)
{
	chan_flow_accept(f);
	return 0;
}

static size_t cb_deliver(void *ctx, struct chan_flow *f, const uint8_t *p, size_t n)
{
	XXH3_64bits_update(got, p, n);
	got_len += n;
	return n;
}

static void cb_fin(void *ctx, struct chan_flow *f)
{
	if (ctx == &B) {
		got_fin = true;
		chan_flow_fin(f); /* the server closes its side too */
	}
}

static void cb_reset(void *ctx, struct chan_flow *f, unsigned reason)
{
	die("a flow was reset");
}

static void cb_done(void *ctx, struct chan_flow *f)
{
	if (f == client)
		client = NULL;
}

static const struct chan_mux_ops ops = {
	.open = cb_open, .deliver = cb_deliver, .fin = cb_fin, .reset = cb_reset,
	.done = cb_done,
};

static void side_init(struct side *s, struct chan_mux_config *c, enum chan_role role)
{
	size_t n;

	c->role = role;
	n = chan_mux_size(c);
	if (!n)
		die("configuration refused");
	if (!s->mem) {
		s->mem = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (s->mem == MAP_FAILED)
			die("out of memory");
	}
	s->m = chan_mux_init(s->mem, n, c, &ops, s);
	if (!s->m)
		die("mux init");
}

static uint8_t *wire;
static size_t room;

static uint64_t now_us(void)
{
	return (uint64_t)(now_s() * 1e6);
}

/* Moves frames both ways once; returns the bytes moved. */
static size_t exchange(void)
{
	size_t n = chan_mux_tx(A.m, wire, room, now_us()), k;

	if (chan_mux_rx(B.m, wire, n))
		die(chan_mux_why(B.m));
	k = chan_mux_tx(B.m, wire, room, now_us());
	if (chan_mux_rx(A.m, wire, k))
		die(chan_mux_why(A.m));
	return n + k;
}

static void run_mux(struct chan_mux_config *cfg, unsigned run)
{
	struct chan_open o = { .af = 4, .client_port = 1, .server_port = 2 };

	side_init(&A, cfg, CHAN_ROLE_CONNECT);
	side_init(&B, cfg, CHAN_ROLE_ACCEPT);
	chan_mux_start(A.m, now_us());
	chan_mux_start(B.m, now_us());
	while (!chan_mux_up(A.m) || !chan_mux_up(B.m))
		exchange();
	for (unsigned i = 0; i < nph; i++) {
		struct phase *p = &ph[i];
		struct chan_mux_stats a0, b0, a1, b1;
		double t0 = now_s(), c0 = cpu_s();
		size_t off = 0;
		bool fin = false;

		chan_mux_stats(A.m, &a0);
		chan_mux_stats(B.m, &b0);
		XXH3_64bits_reset(got);
		got_len = 0;
		got_fin = false;
		client = chan_flow_open(A.m, &o, NULL);
		if (!client)
			die("open");
		while (client) {
			while (off < p->len && client && chan_flow_room(client)) {
				size_t k = p->len - off < (64u << 10) ? p->len - off : 64u << 10;

				off += chan_flow_write(client, p->p + off, k);
			}
			if (off == p->len && !fin && client) {
				chan_flow_fin(client);
				fin = true;
			}
			exchange();
		}
		p->mux_s[run] = now_s() - t0;
		p->mux_cpu[run] = cpu_s() - c0;
		chan_mux_stats(A.m, &a1);
		chan_mux_stats(B.m, &b1);
		p->wan_ab[run] = a1.wan_out - a0.wan_out;
		p->wan_ba[run] = b1.wan_out - b0.wan_out;
		p->records[run] = a1.records_out - a0.records_out;
		if (!got_fin || got_len != p->len || XXH3_64bits_digest(got) != p->digest)
			die("the bytes B delivered differ from the file");
	}
	chan_mux_reset(A.m);
	chan_mux_reset(B.m);
}

/* ---- the baseline: the codec alone ---- */

static void run_codec(const struct strait_dedupe_params *prm, void *mem, size_t size,
		      void *fmem, size_t fsize, uint8_t *out, size_t outcap, unsigned run)
{
	struct strait_dedupe_encoder *e = strait_dedupe_encoder_init(mem, size, prm, 1);

	if (!e)
		die("encoder init");
	for (unsigned i = 0; i < nph; i++) {
		struct phase *p = &ph[i];
		struct strait_dedupe_flow *f = strait_dedupe_flow_init(fmem, fsize, prm, i);
		double t0 = now_s(), c0 = cpu_s();
		uint64_t bytes = 0;
		size_t off = 0;

		do {
			struct strait_dedupe_encode_result r;
			size_t k = p->len - off < (1u << 20) ? p->len - off : 1u << 20;
			enum strait_dedupe_mode mode = off + k == p->len ? STRAIT_DEDUPE_END
									  : STRAIT_DEDUPE_CONTINUE;

			if (strait_dedupe_encode(e, f, p->p + off, k, mode, UINT64_MAX, out,
						 outcap, &r))
				die("encode");
			bytes += r.out_len;
			off += r.in_used;
		} while (off < p->len);
		p->codec_s[run] = now_s() - t0;
		p->codec_cpu[run] = cpu_s() - c0;
		p->codec[run] = bytes;
	}
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double med(const double *v, unsigned n)
{
	double t[MAX_RUNS];

	memcpy(t, v, n * sizeof(*t));
	qsort(t, n, sizeof(*t), cmp_d);
	return n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
}

static double medu(const uint64_t *v, unsigned n)
{
	double t[MAX_RUNS];

	for (unsigned i = 0; i < n; i++)
		t[i] = (double)v[i];
	return med(t, n);
}

int main(int argc, char **argv)
{
	struct chan_mux_config cfg = { .max_flows = 4 };
	uint64_t cache = 1ull << 30;
	unsigned runs = 5;
	size_t esize, fsize, outcap;
	void *emem, *fmem;
	uint8_t *out;
	int i;

	room = 4u << 20;
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--cache") && i + 1 < argc)
			cache = parse_size(argv[++i]);
		else if (!strcmp(argv[i], "--runs") && i + 1 < argc)
			runs = (unsigned)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--room") && i + 1 < argc)
			room = parse_size(argv[++i]);
		else
			die("usage: channel-bench [--cache SIZE] [--runs N] [--room BYTES] FILE...");
	}
	if (i == argc || runs < 1 || runs > MAX_RUNS || room < (64u << 10))
		die("usage: channel-bench [--cache SIZE] [--runs N] [--room BYTES] FILE...");
	for (; i < argc && nph < MAX_PHASES; i++) {
		struct phase *p = &ph[nph++];
		struct stat st;
		int fd = open(argv[i], O_RDONLY);

		if (fd < 0 || fstat(fd, &st) || !st.st_size)
			die(argv[i]);
		p->path = argv[i];
		p->len = (size_t)st.st_size;
		p->p = mmap(NULL, p->len, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
		if (p->p == MAP_FAILED)
			die(argv[i]);
		close(fd);
		p->digest = XXH3_64bits(p->p, p->len);
	}
	cfg.codec.capacity = cache;
	chan_mux_config_defaults(&cfg);
	got = XXH3_createState();
	wire = malloc(room);
	esize = strait_dedupe_encoder_size(&cfg.codec);
	fsize = strait_dedupe_flow_size(&cfg.codec);
	emem = mmap(NULL, esize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	fmem = malloc(fsize);
	outcap = strait_dedupe_encode_bound(strait_dedupe_encoder_init(emem, esize, &cfg.codec, 1),
					    1u << 20);
	out = malloc(outcap);
	if (!got || !wire || emem == MAP_FAILED || !fmem || !out)
		die("out of memory");
	for (unsigned r = 0; r < runs; r++) {
		if (r % 2) {
			run_codec(&cfg.codec, emem, esize, fmem, fsize, out, outcap, r);
			run_mux(&cfg, r);
		} else {
			run_mux(&cfg, r);
			run_codec(&cfg.codec, emem, esize, fmem, fsize, out, outcap, r);
		}
	}
	printf("{\"cache\": %llu, \"runs\": %u, \"room\": %zu, \"phases\": [",
	       (unsigned long long)cache, runs, room);
	for (unsigned k = 0; k < nph; k++) {
		struct phase *p = &ph[k];
		double ab = medu(p->wan_ab, runs), codec = medu(p->codec, runs);

		printf("%s\n  {\"file\": \"%s\", \"bytes_in\": %zu, \"channel_a_to_b\": %.0f, "
		       "\"channel_b_to_a\": %.0f, \"records\": %.0f, \"codec_bytes\": %.0f, "
		       "\"channel_over_codec\": %.5f, \"mux_seconds\": %.3f, \"mux_cpu\": %.3f, "
		       "\"codec_seconds\": %.3f, \"codec_cpu\": %.3f}",
		       k ? "," : "", p->path, p->len, ab, medu(p->wan_ba, runs),
		       medu(p->records, runs), codec, ab / codec, med(p->mux_s, runs),
		       med(p->mux_cpu, runs), med(p->codec_s, runs), med(p->codec_cpu, runs));
	}
	printf("\n]}\n");
	return 0;
}
