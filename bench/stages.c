/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * strait-bench-stages - per-stage speed of the dedupe codec, in process.
 *
 *   strait-bench-stages [--cache MIB] [--chunk MIN:AVG:MAX] [--runs N] FILE...
 *
 * For each file (read into memory first), each run times, in this order:
 *   chunking      gear-hash CDC over the whole file (MB/s, cycles/byte)
 *   fingerprint   XXH3-128 of every chunk
 *   literal       zstd -3 streaming as the codec runs it (flush per 256 KiB)
 *   zstd3         baseline: zstd -3 streaming, one frame, 4 MiB inputs
 *   encode        the whole encoder, empty cache (the "full send")
 *   encode_dup    the same bytes again: every chunk a reference ("clone")
 *   lookup        fingerprint + index + memcmp of every chunk (all cached)
 *   decode        the whole decoder on encode's stream (output MB/s;
 *                 zero-copy segments, as the command writes them)
 *   zstd_d        baseline: zstd decompression of zstd3's frame
 * and prints JSON with the median of the runs (>= 5; codec and baseline
 * stages alternate within each run so machine noise hits both). Cycles
 * are TSC cycles per byte of thread CPU time (mb_s too is from CPU time, so
 * other processes on a shared machine do not bend it; wall_mb_s is beside
 * it); tsc_ghz is measured against CLOCK_MONOTONIC.
 * The encoder and decoder workspaces are allocated and touched once, as an
 * appliance does at start-up.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <x86intrin.h>

#define ZSTD_STATIC_LINKING_ONLY
#include <xxhash.h>
#include <zstd.h>

#include <strait/benchstat.h>
#include <strait/dedupe.h>

#define IO (4u << 20)
#define MAX_RUNS 31

enum stage { CHUNK, FP, LIT, ZSTD3, ENC, ENC_DUP, LOOKUP, DEC, ZSTD_D, NSTAGES };
static const char *names[NSTAGES] = {
	"chunking", "fingerprint", "literal", "zstd3", "encode", "encode_dup",
	"lookup", "decode", "zstd_d",
};

static double now(void)
{
	return bench_clock(CLOCK_MONOTONIC);
}

static double cpu_now(void)
{
	return bench_clock(CLOCK_THREAD_CPUTIME_ID);
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n);

	if (!p) {
		fprintf(stderr, "strait-bench-stages: out of memory (%zu bytes)\n", n);
		exit(1);
	}
	return p;
}

static uint8_t *load(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *p;
	long n;

	if (!f || fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET)) {
		fprintf(stderr, "strait-bench-stages: cannot read '%s': %s\n", path, strerror(errno));
		exit(1);
	}
	p = xmalloc((size_t)n + 1);
	if (fread(p, 1, (size_t)n, f) != (size_t)n) {
		fprintf(stderr, "strait-bench-stages: short read on '%s'\n", path);
		exit(1);
	}
	fclose(f);
	*len = (size_t)n;
	return p;
}

/* TSC ticks per second, measured against the monotonic clock over 50 ms. */
static double tsc_rate(void)
{
	double t0 = now();
	uint64_t c0 = __rdtsc();

	while (now() - t0 < 0.05)
		;
	return (double)(__rdtsc() - c0) / (now() - t0);
}

struct ctx {
	struct strait_dedupe_params p;
	struct strait_dedupe_encoder *e;
	struct strait_dedupe_decoder *d;
	struct strait_dedupe_flow *f;
	size_t fsize;
	ZSTD_CCtx *zc;
	ZSTD_DCtx *zd;
	uint8_t *out, *dout;
	size_t outcap;
	uint8_t *stream, *zframe;
	size_t stream_len, zframe_len, lit_len;
	uint32_t *cuts;
	size_t ncuts;
	volatile uint64_t sink;
};

static size_t encode_all(struct ctx *c, const uint8_t *data, size_t len,
			 uint8_t *dst)
{
	size_t at = 0, n = 0;

	strait_dedupe_flow_init(c->f, c->fsize, &c->p, 0);
	do {
		struct strait_dedupe_encode_result r;
		size_t k = len - at < IO ? len - at : IO;

		if (strait_dedupe_encode(c->e, c->f, data + at, k,
					 at + k == len ? STRAIT_DEDUPE_END : STRAIT_DEDUPE_CONTINUE,
					 UINT64_MAX, c->out, c->outcap, &r) || r.in_used != k) {
			fprintf(stderr, "strait-bench-stages: encode failed\n");
			exit(1);
		}
		if (dst)
			memcpy(dst + n, c->out, r.out_len);
		n += r.out_len;
		at += k;
	} while (at < len);
	return n;
}

static size_t decode_all(struct ctx *c)
{
	size_t used = 0, total = 0;
	int rc;

	strait_dedupe_decoder_reset(c->d);
	do {
		struct strait_dedupe_decode_result r;
		struct strait_dedupe_segment sg[64];
		unsigned n;

		/* zero-copy, as strait-dedupe decode writes its output */
		rc = strait_dedupe_decode_segments(c->d, c->stream + used,
						   c->stream_len - used, IO, sg, 64,
						   &n, &r);
		if (rc < 0) {
			fprintf(stderr, "strait-bench-stages: decode failed: %s\n",
				strait_dedupe_strerror(rc));
			exit(1);
		}
		used += r.in_used;
		total += r.out_len;
	} while (rc == 1);
	return total;
}

/* Runs one stage once; returns CPU seconds, stores wall seconds in *wall,
 * adds TSC cycles to *cyc. */
static double run_stage(struct ctx *c, enum stage s, const uint8_t *data,
			size_t len, uint64_t *cyc, double *wall)
{
	double t0 = now(), u0 = cpu_now();
	uint64_t c0 = __rdtsc(), acc = 0;
	size_t at, i;

	switch (s) {
	case CHUNK:
		for (at = 0; at < len;)
			at += strait_dedupe_chunk_next(&c->p, data + at, len - at);
		break;
	case FP:
		for (i = 0, at = 0; i < c->ncuts; at += c->cuts[i++])
			acc += XXH3_128bits(data + at, c->cuts[i]).low64;
		break;
	case LOOKUP:
		for (i = 0, at = 0; i < c->ncuts; at += c->cuts[i++])
			acc += (uint64_t)strait_dedupe_encoder_probe(c->e, data + at, c->cuts[i]);
		if (acc != c->ncuts)
			fprintf(stderr, "strait-bench-stages: lookup: %llu of %zu cached\n",
				(unsigned long long)acc, c->ncuts);
		break;
	case LIT: {
		ZSTD_outBuffer ob = { c->zframe, ZSTD_compressBound(len) + 4096, 0 };

		ZSTD_CCtx_reset(c->zc, ZSTD_reset_session_only);
		ZSTD_CCtx_setParameter(c->zc, ZSTD_c_windowLog, 21);
		for (at = 0; at < len;) {
			size_t k = len - at < STRAIT_DEDUPE_BATCH_BYTES ? len - at : STRAIT_DEDUPE_BATCH_BYTES;
			ZSTD_inBuffer ib = { data + at, k, 0 };

			while (ZSTD_compressStream2(c->zc, &ob, &ib, ZSTD_e_flush))
				;
			at += k;
		}
		c->lit_len = ob.pos;
		break;
	}
	case ZSTD3: {
		ZSTD_outBuffer ob = { c->zframe, ZSTD_compressBound(len) + 4096, 0 };

		ZSTD_CCtx_reset(c->zc, ZSTD_reset_session_and_parameters);
		ZSTD_CCtx_setParameter(c->zc, ZSTD_c_compressionLevel, 3);
		for (at = 0; at < len;) {
			size_t k = len - at < IO ? len - at : IO;
			ZSTD_inBuffer ib = { data + at, k, 0 };
			ZSTD_EndDirective d = at + k == len ? ZSTD_e_end : ZSTD_e_continue;
			size_t rc;

			do
				rc = ZSTD_compressStream2(c->zc, &ob, &ib, d);
			while (d == ZSTD_e_end ? rc != 0 : ib.pos < ib.size);
			at += k;
		}
		c->zframe_len = ob.pos;
		break;
	}
	case ENC:
		strait_dedupe_encoder_reset(c->e, 1);
		c->stream_len = encode_all(c, data, len, c->stream);
		break;
	case ENC_DUP:
		acc = encode_all(c, data, len, NULL);
		break;
	case DEC:
		acc = decode_all(c);
		if (acc != len)
			fprintf(stderr, "strait-bench-stages: decode gave %llu bytes\n",
				(unsigned long long)acc);
		break;
	case ZSTD_D: {
		ZSTD_inBuffer ib = { c->zframe, c->zframe_len, 0 };

		ZSTD_DCtx_reset(c->zd, ZSTD_reset_session_only);
		while (ib.pos < ib.size) {
			ZSTD_outBuffer ob = { c->dout, IO, 0 };

			if (ZSTD_isError(ZSTD_decompressStream(c->zd, &ob, &ib)))
				break;
			acc += ob.pos;
		}
		break;
	}
	default:
		break;
	}
	c->sink += acc;
	*cyc += __rdtsc() - c0;
	*wall = now() - t0;
	return cpu_now() - u0;
}

int main(int argc, char **argv)
{
	struct ctx c = { 0 };
	int runs = 5, first = 1;
	unsigned chunk[3] = { 0 };
	uint64_t cap_mib = 1024;
	double tsc_hz;
	size_t es, ds;
	void *emem, *dmem;

	while (first < argc && argv[first][0] == '-') {
		if (!strcmp(argv[first], "--runs") && first + 1 < argc)
			runs = atoi(argv[first + 1]);
		else if (!strcmp(argv[first], "--cache") && first + 1 < argc)
			cap_mib = strtoull(argv[first + 1], NULL, 10);
		else if (!strcmp(argv[first], "--chunk") && first + 1 < argc &&
			 sscanf(argv[first + 1], "%u:%u:%u", &chunk[0], &chunk[1], &chunk[2]) == 3)
			;
		else {
			fprintf(stderr, "usage: strait-bench-stages [--cache MIB] [--chunk MIN:AVG:MAX] [--runs N] FILE...\n");
			return 2;
		}
		first += 2;
	}
	if (first >= argc || runs < 1 || runs > MAX_RUNS) {
		fprintf(stderr, "usage: strait-bench-stages [--cache MIB] [--chunk MIN:AVG:MAX] [--runs N (1..31)] FILE...\n");
		return 2;
	}
	strait_dedupe_params_default(&c.p);
	c.p.capacity = cap_mib << 20;
	if (chunk[0]) {
		c.p.min_chunk = chunk[0];
		c.p.avg_chunk = chunk[1];
		c.p.max_chunk = chunk[2];
	}
	es = strait_dedupe_encoder_size(&c.p);
	ds = strait_dedupe_decoder_size(&c.p);
	if (!es) {
		fprintf(stderr, "strait-bench-stages: bad --cache\n");
		return 2;
	}
	emem = xmalloc(es);
	dmem = xmalloc(ds);
	memset(emem, 0, es); /* touched once, as at appliance start-up */
	memset(dmem, 0, ds);
	c.e = strait_dedupe_encoder_init(emem, es, &c.p, 1);
	c.d = strait_dedupe_decoder_init(dmem, ds, &c.p);
	c.fsize = strait_dedupe_flow_size(&c.p);
	c.f = xmalloc(c.fsize);
	c.zc = ZSTD_createCCtx();
	c.zd = ZSTD_createDCtx();
	c.outcap = strait_dedupe_encode_bound(c.e, IO);
	c.out = xmalloc(c.outcap);
	c.dout = xmalloc(IO);
	tsc_hz = tsc_rate();

	printf("{\"params\":{\"min_chunk\":%u,\"avg_chunk\":%u,\"max_chunk\":%u,\"cache\":%llu},"
	       "\"runs\":%d,\"files\":[",
	       c.p.min_chunk, c.p.avg_chunk, c.p.max_chunk,
	       (unsigned long long)c.p.capacity, runs);
	for (int fi = first; fi < argc; fi++) {
		size_t len, at;
		uint8_t *data = load(argv[fi], &len);
		double secs[NSTAGES][MAX_RUNS], wall[NSTAGES][MAX_RUNS];
		uint64_t cyc[NSTAGES] = { 0 };

		c.cuts = xmalloc(sizeof(*c.cuts) * (len / c.p.min_chunk + 2));
		for (c.ncuts = 0, at = 0; at < len; c.ncuts++) {
			c.cuts[c.ncuts] = (uint32_t)strait_dedupe_chunk_next(&c.p, data + at, len - at);
			at += c.cuts[c.ncuts];
		}
		c.stream = xmalloc(strait_dedupe_encode_bound(c.e, len));
		c.zframe = xmalloc(ZSTD_compressBound(len) + 4096);
		for (int r = 0; r < runs; r++)
			for (int s = 0; s < NSTAGES; s++)
				secs[s][r] = run_stage(&c, (enum stage)s, data, len,
						       &cyc[s], &wall[s][r]);

		printf("%s{\"path\":\"%s\",\"bytes\":%zu,\"chunks\":%zu,\"mean_chunk\":%.0f,"
		       "\"encoded_bytes\":%zu,\"literal_zstd_bytes\":%zu,\"zstd3_bytes\":%zu,\"stages\":{",
		       fi > first ? "," : "", argv[fi], len, c.ncuts,
		       (double)len / (double)c.ncuts, c.stream_len, c.lit_len, c.zframe_len);
		for (int s = 0; s < NSTAGES; s++) {
			double m = bench_median(secs[s], runs), w = bench_median(wall[s], runs);

			/* cycles: TSC ticks per byte of CPU time (not of time
			 * spent descheduled on a shared machine) */
			printf("%s\"%s\":{\"cpu_seconds\":%.4f,\"mb_s\":%.1f,\"cycles_per_byte\":%.3f,"
			       "\"wall_seconds\":%.4f,\"wall_mb_s\":%.1f",
			       s ? "," : "", names[s], m, (double)len / m / 1e6,
			       m * tsc_hz / (double)len, w, (double)len / w / 1e6);
			if (s == LOOKUP)
				printf(",\"ns_per_chunk\":%.1f", m * 1e9 / (double)c.ncuts);
			printf("}");
		}
		printf("}}");
		free(c.stream);
		free(c.zframe);
		free(c.cuts);
		free(data);
	}
	printf("],\"tsc_ghz\":%.3f,\"sink\":%llu}\n", tsc_hz / 1e9,
	       (unsigned long long)(c.sink & 1));
	ZSTD_freeCCtx(c.zc);
	ZSTD_freeDCtx(c.zd);
	free(c.out);
	free(c.dout);
	free(c.f);
	free(emem);
	free(dmem);
	return 0;
}
