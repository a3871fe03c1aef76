/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * strait-dedupe - the codec as a command.
 *
 *   strait-dedupe encode [--cache SIZE] [--stats FILE] [--rate R] INPUT... > STREAM
 *   strait-dedupe decode [--cache SIZE] < STREAM > OUTPUT
 *
 * encode sends the inputs one after another through one encoder and one
 * cache (input i is flow i, ended at its end of file), as a replication link
 * would carry them; decode writes their concatenation. --rate R gives the
 * encoder the rate its output drains at (bit/s, k/M/G as in the tenant
 * files): the literal level follows it (up to zstd 19), as on a WAN link
 * of that rate. Errors: one line on stderr, exit status 1 (2 for usage).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/uio.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <pthread.h>
#include <stdatomic.h>

#include <jansson.h>

#include <strait/ctl.h>
#include <strait/dedupe.h>

#define BLOCK (4u << 20)
#define SEGS 256

static const char *prog = "strait-dedupe";

static void usage(FILE *f)
{
	fprintf(f, "usage: %s encode [--cache SIZE] [--stats FILE] [--chunk MIN:AVG:MAX] [--rate R] INPUT... > STREAM\n"
		   "       %s decode [--cache SIZE] < STREAM > OUTPUT\n"
		   "SIZE: bytes with an optional suffix K, M, G (or KiB, MiB, GiB: same, binary)\n"
		   "R: the rate the stream drains at, bit/s with an optional suffix k, M, G (100M, 2.5G)\n",
		prog, prog);
}

__attribute__((format(printf, 1, 2), noreturn))
static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static int parse_size(const char *s, uint64_t *out)
{
	static const struct { const char *sfx; unsigned shift; } sfx[] = {
		{ "", 0 }, { "K", 10 }, { "M", 20 }, { "G", 30 },
		{ "KiB", 10 }, { "MiB", 20 }, { "GiB", 30 },
	};
	char *end;
	unsigned long long v;

	if (!*s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		if (strcmp(end, sfx[i].sfx) == 0) {
			if (v > (UINT64_MAX >> sfx[i].shift))
				return -EINVAL;
			*out = (uint64_t)v << sfx[i].shift;
			return 0;
		}
	}
	return -EINVAL;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void write_all(const void *p_, size_t n)
{
	const uint8_t *p = p_;

	while (n) {
		ssize_t w = write(STDOUT_FILENO, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			die("cannot write the output: %s", strerror(errno));
		p += w;
		n -= (size_t)w;
	}
}

/* Writes decoder output segments (pointers into its log) with writev. */
static void write_segs(const struct strait_dedupe_segment *s, unsigned n)
{
	struct iovec iov[SEGS];
	unsigned i = 0;

	for (unsigned k = 0; k < n; k++) {
		iov[k].iov_base = (void *)s[k].p;
		iov[k].iov_len = s[k].len;
	}
	while (i < n) {
		ssize_t w = writev(STDOUT_FILENO, iov + i, (int)(n - i));

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			die("cannot write the output: %s", strerror(errno));
		while (i < n && (size_t)w >= iov[i].iov_len)
			w -= (ssize_t)iov[i++].iov_len;
		if (i < n) {
			iov[i].iov_base = (uint8_t *)iov[i].iov_base + w;
			iov[i].iov_len -= (size_t)w;
		}
	}
}

static void *big_alloc(size_t n)
{
	void *p = mmap(NULL, n, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		die("out of memory (%zu bytes)", n);
	return p;
}

/*
 * Pre-faulting the workspace. An appliance allocates its cache log once at
 * start-up; this command allocates it per run, and the first write to each
 * fresh page costs the kernel a fault and a page clear (measured here:
 * ~0.9 s per GB, a quarter of a full send's time). A helper thread asks the
 * kernel to populate the workspace (MADV_POPULATE_WRITE: no data written,
 * so no race with the codec) up to AHEAD bytes beyond the log's head (the
 * log is the workspace's tail and grows by the literal bytes inserted).
 * The codec itself runs on the main thread only.
 */
#define AHEAD (64u << 20)
#define STEP (16u << 20)

struct prefault {
	uint8_t *base;
	size_t size;
	atomic_size_t want;
	atomic_bool stop;
	pthread_t th;
	bool running;
};

static void *prefault_main(void *arg)
{
	struct prefault *pf = arg;
	size_t done = 0;

	while (done < pf->size && !atomic_load(&pf->stop)) {
		size_t want = atomic_load(&pf->want);

		if (want > pf->size)
			want = pf->size;
		if (done < want) {
			size_t n = want - done < STEP ? want - done : STEP;

			if (madvise(pf->base + done, n, MADV_POPULATE_WRITE))
				break; /* not supported: faults happen inline */
			done += n;
		} else {
			struct timespec ts = { 0, 1000000 };

			nanosleep(&ts, NULL);
		}
	}
	return NULL;
}

static void prefault_start(struct prefault *pf, void *base, size_t size,
			   uint64_t log_start)
{
	pf->base = base;
	pf->size = size;
	atomic_init(&pf->want, (size_t)(log_start + AHEAD));
	atomic_init(&pf->stop, false);
	pf->running = pthread_create(&pf->th, NULL, prefault_main, pf) == 0;
}

static void prefault_progress(struct prefault *pf, uint64_t used)
{
	atomic_store(&pf->want, (size_t)used + AHEAD);
}

static void prefault_stop(struct prefault *pf)
{
	atomic_store(&pf->stop, true);
	if (pf->running)
		pthread_join(pf->th, NULL);
}

/* An input read in blocks: mapped when it is a regular file (no copy),
 * read(2) into a buffer otherwise (pipes). */
struct input {
	int fd;
	const char *name;
	const uint8_t *map;
	uint64_t size, at;
	uint8_t *buf;
};

static void input_open(struct input *in, int fd, const char *name)
{
	struct stat st;

	memset(in, 0, sizeof(*in));
	in->fd = fd;
	in->name = name;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
		void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);

		if (m != MAP_FAILED) {
			(void)madvise(m, (size_t)st.st_size, MADV_SEQUENTIAL);
			in->map = m;
			in->size = (uint64_t)st.st_size;
			return;
		}
	}
	in->buf = malloc(BLOCK);
	if (!in->buf)
		die("out of memory");
}

/* Next block (up to BLOCK bytes; 0 at the end). */
static size_t input_next(struct input *in, const uint8_t **p)
{
	size_t n = 0;

	if (in->map) {
		n = in->size - in->at < BLOCK ? (size_t)(in->size - in->at) : BLOCK;
		*p = in->map + in->at;
		in->at += n;
		return n;
	}
	while (n < BLOCK) {
		ssize_t r = read(in->fd, in->buf + n, BLOCK - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			die("cannot read %s: %s", in->name, strerror(errno));
		if (r == 0)
			break;
		n += (size_t)r;
	}
	*p = in->buf;
	return n;
}

static void input_close(struct input *in)
{
	if (in->map)
		munmap((void *)in->map, in->size);
	free(in->buf);
	close(in->fd);
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n);

	if (!p)
		die("out of memory (%zu bytes)", n);
	return p;
}

/* Highest literal level a drain rate may choose in this command. */
#define RATE_LEVEL_MAX 19

struct opts {
	uint64_t cache;
	bool cache_set;
	uint64_t rate_bps;
	uint32_t chunk[3];
	const char *stats;
};

static int parse_opts(int argc, char **argv, struct opts *o, bool encode)
{
	static const struct option lo[] = {
		{ "cache", required_argument, NULL, 'c' },
		{ "stats", required_argument, NULL, 's' },
		{ "chunk", required_argument, NULL, 'k' },
		{ "rate", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+h", lo, NULL)) != -1) {
		switch (c) {
		case 'c':
			if (parse_size(optarg, &o->cache)) {
				fprintf(stderr, "%s: bad --cache size '%s' (want e.g. 512M, 1G, 1073741824)\n",
					prog, optarg);
				exit(2);
			}
			o->cache_set = true;
			break;
		case 's':
			if (!encode) {
				fprintf(stderr, "%s: --stats is for encode\n", prog);
				exit(2);
			}
			o->stats = optarg;
			break;
		case 'r':
			if (!encode || !strait_parse_rate(optarg, &o->rate_bps) ||
			    o->rate_bps < 8) {
				fprintf(stderr, "%s: --rate wants a rate in bit/s (800k, 100M, 2.5G), encode only\n",
					prog);
				exit(2);
			}
			break;
		case 'k': {
			uint64_t v[3];
			char *a = optarg, *b = strchr(a, ':'), *e = b ? strchr(b + 1, ':') : NULL;

			if (!encode || !b || !e) {
				fprintf(stderr, "%s: --chunk wants MIN:AVG:MAX (encode only)\n", prog);
				exit(2);
			}
			*b = *e = '\0';
			if (parse_size(a, &v[0]) || parse_size(b + 1, &v[1]) ||
			    parse_size(e + 1, &v[2]) || v[0] > UINT32_MAX ||
			    v[1] > UINT32_MAX || v[2] > UINT32_MAX) {
				fprintf(stderr, "%s: bad --chunk sizes\n", prog);
				exit(2);
			}
			for (int i = 0; i < 3; i++)
				o->chunk[i] = (uint32_t)v[i];
			break;
		}
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			exit(2);
		}
	}
	return optind;
}

static json_t *cache_json(const struct strait_dedupe_cache_stats *s)
{
	return json_pack("{s:I,s:I,s:I,s:I,s:f,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}",
			 "capacity", (json_int_t)s->capacity,
			 "used_bytes", (json_int_t)s->used_bytes,
			 "entries", (json_int_t)s->entries,
			 "index_bytes", (json_int_t)s->index_bytes,
			 "index_bytes_per_cached_byte",
			 (double)s->index_bytes / (double)s->capacity,
			 "hits", (json_int_t)s->hits,
			 "misses", (json_int_t)s->misses,
			 "literal_zstd_bytes", (json_int_t)s->literal_zstd,
			 "literal_raw_bytes", (json_int_t)s->literal_raw,
			 "tentative_bytes", (json_int_t)s->tentative,
			 "deltas", (json_int_t)s->deltas,
			 "delta_bytes", (json_int_t)s->delta_bytes,
			 "delta_record_bytes", (json_int_t)s->delta_out,
			 "delta_tries", (json_int_t)s->delta_tries);
}

static int cmd_encode(int argc, char **argv)
{
	struct strait_dedupe_params p;
	struct opts o = { 0 };
	int first = parse_opts(argc, argv, &o, true), n = argc - first;
	int *in;
	FILE *stats = NULL;
	struct strait_dedupe_encoder *e;
	struct strait_dedupe_flow *f;
	struct strait_dedupe_cache_stats cs;
	uint8_t *out;
	size_t outcap, fsize, esize;
	uint64_t total_in = 0, total_out = 0;
	json_t *inputs = json_array(), *root;
	struct prefault pf;
	double t0 = now(), secs;
	void *mem;

	if (n < 1) {
		fprintf(stderr, "%s: encode needs at least one INPUT\n", prog);
		exit(2);
	}
	strait_dedupe_params_default(&p);
	if (o.cache_set)
		p.capacity = o.cache;
	if (o.chunk[0]) {
		p.min_chunk = o.chunk[0];
		p.avg_chunk = o.chunk[1];
		p.max_chunk = o.chunk[2];
		if (strait_dedupe_params_check(&p))
			die("bad --chunk: want 64 <= MIN < AVG (a power of two) < MAX <= 256K");
	}
	if (strait_dedupe_params_check(&p))
		die("bad --cache %llu: must be at least %u bytes (1M) and 4 x the largest chunk",
		    (unsigned long long)p.capacity, STRAIT_DEDUPE_MIN_CAPACITY);
	if (o.rate_bps)
		p.level_max = RATE_LEVEL_MAX;
	in = xmalloc(sizeof(*in) * (size_t)n);
	for (int i = 0; i < n; i++) {
		in[i] = open(argv[first + i], O_RDONLY);
		if (in[i] < 0)
			die("cannot open '%s': %s", argv[first + i], strerror(errno));
	}
	if (o.stats && !(stats = fopen(o.stats, "w")))
		die("cannot open stats file '%s': %s", o.stats, strerror(errno));

	esize = strait_dedupe_encoder_size(&p);
	mem = big_alloc(esize);
	prefault_start(&pf, mem, esize, esize - p.capacity);
	e = strait_dedupe_encoder_init(mem, esize, &p, 1);
	if (!e)
		die("cannot set up the encoder");
	strait_dedupe_encoder_set_rate(e, o.rate_bps / 8);
	fsize = strait_dedupe_flow_size(&p);
	f = xmalloc(fsize);
	outcap = strait_dedupe_encode_bound(e, BLOCK);
	out = xmalloc(outcap);

	for (int i = 0; i < n; i++) {
		uint64_t bin = 0, bout = 0;
		double ti = now();
		struct input src;
		size_t got = 1;

		input_open(&src, in[i], argv[first + i]);
		strait_dedupe_flow_init(f, fsize, &p, (uint32_t)i);
		while (got) {
			struct strait_dedupe_encode_result r;
			const uint8_t *buf;
			int rc;

			got = input_next(&src, &buf);
			rc = strait_dedupe_encode(e, f, buf, got,
						  got ? STRAIT_DEDUPE_CONTINUE : STRAIT_DEDUPE_END,
						  UINT64_MAX, out, outcap, &r);
			if (rc || r.in_used != got)
				die("encoder failed on '%s': %s", argv[first + i],
				    strait_dedupe_strerror(rc));
			write_all(out, r.out_len);
			bin += got;
			bout += r.out_len;
			strait_dedupe_encoder_stats(e, &cs);
			prefault_progress(&pf, esize - p.capacity + cs.literal_zstd +
					  cs.literal_raw);
		}
		input_close(&src);
		total_in += bin;
		total_out += bout;
		strait_dedupe_encoder_stats(e, &cs);
		json_array_append_new(inputs, json_pack("{s:s,s:I,s:I,s:f,s:i}",
			"path", argv[first + i], "bytes_in", (json_int_t)bin,
			"bytes_out", (json_int_t)bout, "seconds", now() - ti,
			"level_end", cs.level));
	}
	prefault_stop(&pf);
	strait_dedupe_encoder_stats(e, &cs);
	secs = now() - t0;
	root = json_pack("{s:I,s:I,s:f,s:o,s:o,s:{s:I,s:I,s:I}}",
			 "bytes_in", (json_int_t)total_in,
			 "bytes_out", (json_int_t)total_out,
			 "seconds", secs, "inputs", inputs,
			 "cache", cache_json(&cs),
			 "chunk", "min", (json_int_t)p.min_chunk,
			 "avg", (json_int_t)p.avg_chunk,
			 "max", (json_int_t)p.max_chunk);
	if (o.rate_bps) {
		/* the link drains the stream at the rate while the encoder
		 * makes it: the pair takes the longer of the two times */
		double link = (double)total_out * 8 / (double)o.rate_bps;

		json_object_set_new(root, "rate", json_pack("{s:I,s:f,s:f,s:i,s:I}",
			"bits_per_s", (json_int_t)o.rate_bps, "link_seconds", link,
			"mb_per_s", (double)total_in / 1e6 / (secs > link ? secs : link),
			"level_end", cs.level, "level_changes", (json_int_t)cs.level_changes));
	}
	if (stats) {
		if (json_dumpf(root, stats, JSON_COMPACT) || fputc('\n', stats) == EOF ||
		    fclose(stats))
			die("cannot write stats file '%s'", o.stats);
	}
	json_decref(root);
	free(out);
	free(f);
	munmap(mem, esize);
	free(in);
	return 0;
}

static int cmd_decode(int argc, char **argv)
{
	struct strait_dedupe_params p, def;
	struct strait_dedupe_decoder *d;
	struct opts o = { 0 };
	int first = parse_opts(argc, argv, &o, false), rc;
	const uint8_t *buf;
	uint64_t at = 0;
	size_t len, dsize;
	uint32_t epoch;
	struct input src;
	struct prefault pf;
	struct strait_dedupe_cache_stats cs;
	void *mem;

	if (first != argc) {
		fprintf(stderr, "%s: decode reads the stream from stdin, takes no INPUT\n", prog);
		exit(2);
	}
	input_open(&src, STDIN_FILENO, "the stream");
	len = input_next(&src, &buf);
	if (len == 0)
		die("empty input: not a strait-dedupe stream");
	rc = strait_dedupe_header_parse(buf, len, &p, &epoch);
	if (rc)
		die("not a usable strait-dedupe stream: %s", strait_dedupe_strerror(rc));
	strait_dedupe_params_default(&def);
	if (!o.cache_set)
		o.cache = def.capacity;
	if (p.capacity != o.cache)
		die("the stream was encoded with a %llu-byte cache, this decoder has %llu (--cache must match)",
		    (unsigned long long)p.capacity, (unsigned long long)o.cache);
	p.level = def.level;
	dsize = strait_dedupe_decoder_size(&p);
	mem = big_alloc(dsize);
	prefault_start(&pf, mem, dsize, dsize - p.capacity);
	d = strait_dedupe_decoder_init(mem, dsize, &p);
	if (!d)
		die("cannot set up the decoder");

	for (;;) {
		size_t used = 0;

		do {
			struct strait_dedupe_decode_result r;
			struct strait_dedupe_segment segs[SEGS];
			unsigned nsegs;

			/* zero-copy: output is written from the decoder's log */
			rc = strait_dedupe_decode_segments(d, buf + used, len - used,
							   BLOCK, segs, SEGS, &nsegs, &r);
			if (rc < 0)
				die("corrupt stream near byte %llu: %s",
				    (unsigned long long)(at + used + r.in_used),
				    strait_dedupe_strerror(rc));
			write_segs(segs, nsegs);
			used += r.in_used;
			strait_dedupe_decoder_stats(d, &cs);
			prefault_progress(&pf, dsize - p.capacity + cs.literal_zstd +
					  cs.literal_raw);
		} while (rc == 1);
		at += len;
		len = input_next(&src, &buf);
		if (len == 0)
			break;
	}
	prefault_stop(&pf);
	rc = strait_dedupe_decode_finish(d);
	if (rc)
		die("corrupt stream: %s", strait_dedupe_strerror(rc));
	input_close(&src);
	munmap(mem, dsize);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "%s: missing command: encode or decode (see --help)\n", prog);
		return 2;
	}
	if (strcmp(argv[1], "encode") == 0)
		return cmd_encode(argc - 1, argv + 1);
	if (strcmp(argv[1], "decode") == 0)
		return cmd_decode(argc - 1, argv + 1);
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "%s: unknown command '%s' (want encode or decode)\n", prog, argv[1]);
	return 2;
}
