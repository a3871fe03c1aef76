/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * strait-dedupe - the codec as a command.
 *
 *   strait-dedupe encode [--cache SIZE] [--window SIZE] [--chunk MIN:AVG:MAX] [--stats FILE]
 *                        [--rate R] [--cache-file PATH [--peer EPOCH:DIGEST]] INPUT... > STREAM
 *   strait-dedupe decode [--cache SIZE] [--window SIZE] [--cache-file PATH] < STREAM > OUTPUT
 *   strait-dedupe seed --cache-file PATH [--cache SIZE] [--chunk ...] FILE...
 *   strait-dedupe info --cache-file PATH [--verify]
 *
 * encode sends the inputs one after another through one encoder and one
 * cache (input i is flow i, ended at its end of file), as a replication link
 * would carry them; decode writes their concatenation. With --cache-file the
 * log lives in that file and the next run continues it (each end has its
 * own file); seed fills a new cache from template files as encoding them
 * would, so two ends seeded alike hold the same cache; info prints a file's
 * state. --rate R gives the encoder the rate its output drains at (bit/s,
 * k/M/G as in the tenant files): the literal level follows it (up to zstd
 * 19), as on a WAN link of that rate. --window SIZE is the literal stream's
 * zstd window (a power of two, 2M up to 1/8 of the cache; default that
 * 1/8, at most 128M): its memory at each end, a budget per tenant. A
 * decoder with --window refuses a stream with a larger one. Errors: one line on stderr, exit
 * status 1 (2 for usage).
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
	fprintf(f, "usage: %s encode [--cache SIZE] [--window SIZE] [--stats FILE] [--chunk MIN:AVG:MAX]\n"
		   "                     [--rate R] [--cache-file PATH [--peer EPOCH:DIGEST]] INPUT... > STREAM\n"
		   "       %s decode [--cache SIZE] [--window SIZE] [--cache-file PATH] < STREAM > OUTPUT\n"
		   "       %s seed --cache-file PATH [--cache SIZE] [--chunk MIN:AVG:MAX] FILE...\n"
		   "       %s info --cache-file PATH [--verify]\n"
		   "SIZE: bytes with an optional suffix K, M, G (or KiB, MiB, GiB: same, binary)\n"
		   "--window: the literal stream's zstd window, a power of two from 2M to 1/8 of\n"
		   "the cache (the default; 128M at most): its memory at each end\n"
		   "R: the rate the stream drains at, bit/s with an optional suffix k, M, G (100M, 2.5G)\n"
		   "--peer: the state `info` prints for the other end's cache file; the log\n"
		   "continues if it is ours, else a new epoch starts\n",
		prog, prog, prog, prog);
}

/* One line on stderr, then exit with status (1: error, 2: usage). */
__attribute__((format(printf, 2, 0), noreturn))
static void vfail(int status, const char *fmt, va_list ap)
{
	fprintf(stderr, "%s: ", prog);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	exit(status);
}

__attribute__((format(printf, 1, 2), noreturn))
static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(1, fmt, ap);
}

__attribute__((format(printf, 1, 2), noreturn))
static void usage_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(2, fmt, ap);
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
	/* huge pages for the log: a fault per 2 MiB instead of per 4 KiB
	 * (measured: decoding the VM workload took 1.4 s of CPU instead of
	 * 2.0, encoding full.img 3.9 instead of 4.4, under load 15-18); the
	 * helper thread populates them ahead of the head */
	(void)madvise(p, n, MADV_HUGEPAGE);
	return p;
}

/*
 * A helper thread for the log's pages. Ahead of the head: an appliance maps
 * its cache log once at start-up; this command maps it per run, and the
 * first write to each fresh page costs a fault (in this VM ~2.5 us per
 * 4 KiB page in memory, ~8 us on a freshly allocated file: a quarter of a
 * full send's time), so the helper asks the kernel to populate the pages
 * for writing (no data written, so no race with the codec) up to AHEAD
 * bytes beyond the head, which the main thread posts after each call.
 * Behind the head (cache file only): it starts the write-back of what the
 * codec wrote (from BEHIND bytes back), so that those pages become clean and the
 * page cache can drop them: otherwise a log larger than the memory allowed
 * fills it with dirty pages (the kernel's own flushing starts at gigabytes)
 * and the process is killed. The codec runs on the main thread.
 */
#define AHEAD (32u << 20)  /* what is populated past the stream's end is */
#define STEP (8u << 20)    /* wasted: at most AHEAD + STEP */
/* a file's populated pages are dirty too: a few MiB either side */
#define AHEAD_FILE (4u << 20)
#define STEP_FILE (2u << 20)
#define BEHIND (2u << 20)
#define PAGE 4096u

struct prefault {
	struct strait_dedupe_cache_file *cf; /* the log's file, or NULL: */
	uint8_t *ws;                         /* the workspace, whose last */
	size_t ws_size;                      /* `cap` bytes are the log */
	uint64_t cap, start;                 /* start: the head at start */
	atomic_uint_fast64_t want;           /* bytes past start written */
	atomic_bool stop;
	pthread_t th;
	bool running;
	uint64_t head, past;                 /* main thread: last head seen */
};

/* Populates log offsets [off, off + n) (n <= cap - off). */
static int populate(struct prefault *pf, uint64_t off, uint64_t n)
{
	uintptr_t lo, hi, ws = (uintptr_t)pf->ws;

	if (pf->cf)
		return strait_dedupe_cache_file_prefault(pf->cf, off, n);
	/* the log starts within 64 bytes before ws_size - cap (alignment) */
	lo = ws + pf->ws_size - pf->cap + off - 64;
	hi = lo + n + 64;
	lo &= ~(uintptr_t)(PAGE - 1);
	hi = (hi + PAGE - 1) & ~(uintptr_t)(PAGE - 1);
	if (lo < ws)
		lo = ws;
	if (hi > ws + pf->ws_size)
		hi = ws + pf->ws_size;
	return madvise((void *)lo, hi - lo, MADV_POPULATE_WRITE) ? -errno : 0;
}

static void *prefault_main(void *arg)
{
	struct prefault *pf = arg;
	uint64_t done = 0, clean = 0, step = pf->cf ? STEP_FILE : STEP;
	bool can_populate = true;

	while (!atomic_load(&pf->stop)) {
		uint64_t past = atomic_load(&pf->want);
		uint64_t want = past + (pf->cf ? AHEAD_FILE : AHEAD);

		want = (want + step - 1) / step * step;
		if (want > pf->cap)
			want = pf->cap;
		if (pf->cf && past >= clean + step + BEHIND) {
			uint64_t n = past - BEHIND - clean;

			(void)strait_dedupe_cache_file_writeback(pf->cf, pf->start + clean, n);
			clean += n;
		} else if (can_populate && done < want) {
			uint64_t off = (pf->start + done) % pf->cap;
			uint64_t n = want - done < step ? want - done : step;

			if (n > pf->cap - off)
				n = pf->cap - off;
			/* not supported: faults happen inline */
			can_populate = populate(pf, off, n) == 0;
			done += n;
		} else {
			struct timespec ts = { 0, 1000000 };

			nanosleep(&ts, NULL);
		}
	}
	return NULL;
}

static void prefault_start(struct prefault *pf,
			   struct strait_dedupe_cache_file *cf, void *ws,
			   size_t ws_size, const struct strait_dedupe_cache_stats *s)
{
	memset(pf, 0, sizeof(*pf));
	pf->cf = cf;
	pf->ws = ws;
	pf->ws_size = ws_size;
	pf->cap = s->capacity;
	pf->start = pf->head = s->head;
	atomic_init(&pf->want, 0);
	atomic_init(&pf->stop, false);
	pf->running = pthread_create(&pf->th, NULL, prefault_main, pf) == 0;
}

/* After each codec call: how far the head went (wrapping at the end). */
static void prefault_progress(struct prefault *pf,
			      const struct strait_dedupe_cache_stats *s)
{
	pf->past += (s->head + pf->cap - pf->head) % pf->cap;
	pf->head = s->head;
	atomic_store(&pf->want, pf->past);
}

static void prefault_stop(struct prefault *pf)
{
	atomic_store(&pf->stop, true);
	if (pf->running)
		pthread_join(pf->th, NULL);
}

/* An input read in blocks with read(2) into one buffer. Not mapped: in this
 * VM the first touch of each mapped page costs more than the copy (reading
 * full.img took 0.5 s of CPU mapped, 0.2 s with read). */
struct input {
	int fd;
	const char *name;
	uint8_t *buf;
};

static void input_open(struct input *in, int fd, const char *name)
{
	in->fd = fd;
	in->name = name;
	in->buf = malloc(BLOCK);
	if (!in->buf)
		die("out of memory");
}

/* Next block (up to BLOCK bytes; 0 at the end). */
static size_t input_next(struct input *in, const uint8_t **p)
{
	size_t n = 0;

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

enum cmd { ENCODE, DECODE, SEED, INFO };

struct opts {
	enum cmd cmd;
	uint64_t cache, window;
	bool cache_set, peer_set, verify, chunk_set;
	uint64_t rate_bps;
	uint32_t chunk[3];
	const char *stats, *cache_file;
	struct strait_dedupe_state peer;
};

/* "EPOCH:DIGEST" (decimal, 16 hex digits), as `info` prints it. */
static int parse_state(const char *s, struct strait_dedupe_state *st)
{
	char *end;
	unsigned long long e, d;

	errno = 0;
	e = strtoull(s, &end, 10);
	if (errno || end == s || *end != ':' || e > UINT32_MAX || *s == '-')
		return -EINVAL;
	s = end + 1;
	d = strtoull(s, &end, 16);
	if (errno || end - s != 16 || *end)
		return -EINVAL;
	st->epoch = (uint32_t)e;
	st->digest = d;
	return 0;
}

static const char *state_str(const struct strait_dedupe_state *s, char buf[32])
{
	snprintf(buf, 32, "%u:%016llx", s->epoch, (unsigned long long)s->digest);
	return buf;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "cache", required_argument, NULL, 'c' },
		{ "stats", required_argument, NULL, 's' },
		{ "chunk", required_argument, NULL, 'k' },
		{ "cache-file", required_argument, NULL, 'f' },
		{ "peer", required_argument, NULL, 'p' },
		{ "verify", no_argument, NULL, 'v' },
		{ "rate", required_argument, NULL, 'r' },
		{ "window", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	/* which command takes which option */
	static const char *const takes[] = {
		[ENCODE] = "cskfprw", [DECODE] = "cfw", [SEED] = "ckf", [INFO] = "fv",
	};
	static const char *const names[] = {
		[ENCODE] = "encode", [DECODE] = "decode", [SEED] = "seed", [INFO] = "info",
	};
	int c, li;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+h", lo, &li)) != -1) {
		if (c != 'h' && c != '?' && !strchr(takes[o->cmd], c))
			usage_error("--%s is not an option of %s", lo[li].name,
				    names[o->cmd]);
		switch (c) {
		case 'c':
			if (parse_size(optarg, &o->cache))
				usage_error("bad --cache size '%s' (want e.g. 512M, 1G, 1073741824)",
					    optarg);
			o->cache_set = true;
			break;
		case 's':
			o->stats = optarg;
			break;
		case 'w':
			if (parse_size(optarg, &o->window) || o->window < (1u << 21) ||
			    (o->window & (o->window - 1)))
				usage_error("bad --window '%s' (want a power of two from 2M: 2M, 8M, 32M)",
					    optarg);
			break;
		case 'k': {
			uint64_t v[3];
			char *a = optarg, *b = strchr(a, ':'), *e = b ? strchr(b + 1, ':') : NULL;

			if (!b || !e)
				usage_error("--chunk wants MIN:AVG:MAX");
			*b = *e = '\0';
			if (parse_size(a, &v[0]) || parse_size(b + 1, &v[1]) ||
			    parse_size(e + 1, &v[2]) || v[0] > UINT32_MAX ||
			    v[1] > UINT32_MAX || v[2] > UINT32_MAX)
				usage_error("bad --chunk sizes");
			for (int i = 0; i < 3; i++)
				o->chunk[i] = (uint32_t)v[i];
			o->chunk_set = true;
			break;
		}
		case 'f':
			o->cache_file = optarg;
			break;
		case 'p':
			if (parse_state(optarg, &o->peer))
				usage_error("bad --peer '%s' (want EPOCH:DIGEST as `%s info` prints it, e.g. 3:00c0ffee00c0ffee)",
					    optarg, prog);
			o->peer_set = true;
			break;
		case 'v':
			o->verify = true;
			break;
		case 'r':
			if (!strait_parse_rate(optarg, &o->rate_bps) || o->rate_bps < 8)
				usage_error("--rate wants a rate in bit/s (800k, 100M, 2.5G)");
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			exit(2);
		}
	}
	if ((o->cmd == SEED || o->cmd == INFO) && !o->cache_file)
		usage_error("%s needs --cache-file PATH", names[o->cmd]);
	if (o->peer_set && !o->cache_file)
		usage_error("--peer is for an encoder with a --cache-file");
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

static void write_json(json_t *root, const char *path)
{
	FILE *f = path ? fopen(path, "w") : stdout;

	if (!f)
		die("cannot open stats file '%s': %s", path, strerror(errno));
	if (json_dumpf(root, f, JSON_COMPACT) || fputc('\n', f) == EOF ||
	    (path ? fclose(f) : fflush(f)))
		die("cannot write %s", path ? path : "the output");
	json_decref(root);
}

/* Highest literal level a drain rate may choose in this command. */
#define RATE_LEVEL_MAX 19

/* Sets p's window from --window (none: the default for its capacity). */
static void window_params(const struct opts *o, struct strait_dedupe_params *p)
{
	p->window_log = o->window ? (uint32_t)__builtin_ctzll(o->window) : 0;
	if (strait_dedupe_params_check(p))
		die("bad --window %llu: at most 1/8 of the cache (%llu bytes; 128M at most)",
		    (unsigned long long)o->window,
		    (unsigned long long)strait_dedupe_window_max(p->capacity));
}

/* The encoder's params: defaults, then --cache and --chunk. */
static void encoder_params(const struct opts *o, struct strait_dedupe_params *p)
{
	strait_dedupe_params_default(p);
	if (o->cache_set)
		p->capacity = o->cache;
	if (o->chunk_set) {
		p->min_chunk = o->chunk[0];
		p->avg_chunk = o->chunk[1];
		p->max_chunk = o->chunk[2];
		if (strait_dedupe_params_check(p))
			die("bad --chunk: want 64 <= MIN < AVG (a power of two) < MAX <= 256K");
	}
	if (strait_dedupe_params_check(p))
		die("bad --cache %llu: must be at least %u bytes (1M) and 4 x the largest chunk",
		    (unsigned long long)p->capacity, STRAIT_DEDUPE_MIN_CAPACITY);
}

static const char *const status_name[] = {
	[STRAIT_DEDUPE_CACHE_CREATED] = "created",
	[STRAIT_DEDUPE_CACHE_LOADED] = "loaded",
	[STRAIT_DEDUPE_CACHE_DISCARDED] = "discarded",
};

/* A cache file opened for an encoder or decoder. */
struct cache {
	struct strait_dedupe_cache_file *cf;
	enum strait_dedupe_cache_status status;
	char msg[256];
};

/* Opens path with params want, or NULL: the file's (false if it has
 * none: no file, or not even a whole commit record). Says on stderr when
 * a file is discarded; dies on other failures. */
static bool cache_open(struct cache *c, const char *path,
		       const struct strait_dedupe_params *want)
{
	int rc = strait_dedupe_cache_file_open(path, want, 0, &c->cf, &c->status,
					       c->msg, sizeof(c->msg));

	if (rc == -ENOENT && !want)
		return false;
	if (rc)
		die("cache file %s: %s", path, c->msg);
	if (c->status == STRAIT_DEDUPE_CACHE_DISCARDED)
		fprintf(stderr, "%s: cache file %s: %s\n", prog, path, c->msg);
	return true;
}

/* For encode and seed: the file's own params unless --cache or --chunk
 * say otherwise (a file of other params is then replaced). */
static void cache_open_encoder(struct cache *c, const struct opts *o,
			       struct strait_dedupe_params *p)
{
	int level = p->level, level_max = p->level_max;

	if (!o->cache_set && !o->chunk_set && cache_open(c, o->cache_file, NULL))
		strait_dedupe_cache_file_info(c->cf, p, NULL, NULL);
	else
		cache_open(c, o->cache_file, p);
	p->level = level;
	p->level_max = level_max;
	window_params(o, p); /* for the file's capacity */
}

static json_t *cache_file_json(const struct cache *c, const char *path,
			       const struct strait_dedupe_state *start,
			       const struct strait_dedupe_state *end)
{
	char a[32], b[32];

	return json_pack("{s:s,s:s,s:s,s:s,s:s}", "path", path,
			 "status", status_name[c->status], "message", c->msg,
			 "start", state_str(start, a), "end", state_str(end, b));
}

static int cmd_encode(int argc, char **argv, struct opts *o)
{
	struct strait_dedupe_params p;
	int first = parse_opts(argc, argv, o), n = argc - first;
	int *in;
	struct strait_dedupe_encoder *e;
	struct strait_dedupe_flow *f;
	struct strait_dedupe_cache_stats cs;
	struct strait_dedupe_state start, end;
	struct cache cache = { 0 };
	uint8_t *out;
	size_t outcap, fsize, esize;
	uint64_t total_in = 0, total_out = 0;
	json_t *inputs = json_array(), *root;
	struct prefault pf;
	double t0 = now(), secs;
	bool continued = false;
	void *mem;

	if (n < 1)
		usage_error("%s needs at least one INPUT", o->cmd == SEED ? "seed" : "encode");
	encoder_params(o, &p);
	window_params(o, &p);
	if (o->cmd == SEED)
		p.level = 1; /* the log does not depend on it; the output is dropped */
	if (o->rate_bps)
		p.level_max = RATE_LEVEL_MAX;
	in = xmalloc(sizeof(*in) * (size_t)n);
	for (int i = 0; i < n; i++) {
		in[i] = open(argv[first + i], O_RDONLY);
		if (in[i] < 0)
			die("cannot open '%s': %s", argv[first + i], strerror(errno));
	}
	if (o->stats) {
		FILE *t = fopen(o->stats, "a");

		if (!t)
			die("cannot open stats file '%s': %s", o->stats, strerror(errno));
		fclose(t);
	}
	if (o->cache_file) {
		cache_open_encoder(&cache, o, &p);
		esize = strait_dedupe_encoder_size_cached(&p);
		mem = big_alloc(esize);
		e = strait_dedupe_encoder_init_cached(mem, esize, &p, cache.cf);
	} else {
		esize = strait_dedupe_encoder_size(&p);
		mem = big_alloc(esize);
		e = strait_dedupe_encoder_init(mem, esize, &p, 1);
	}
	if (!e)
		die("cannot set up the encoder");
	strait_dedupe_encoder_set_rate(e, o->rate_bps / 8);
	strait_dedupe_encoder_state(e, &start);
	if (o->cmd == SEED)
		strait_dedupe_encoder_reset(e, 1); /* a seeded cache starts at epoch 1 */
	else if (o->peer_set)
		continued = strait_dedupe_encoder_restart(e, &o->peer);
	else
		continued = start.digest != 0;
	strait_dedupe_encoder_stats(e, &cs);
	prefault_start(&pf, cache.cf, mem, esize, &cs);
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
			if (o->cmd == ENCODE)
				write_all(out, r.out_len);
			bin += got;
			bout += r.out_len;
			strait_dedupe_encoder_stats(e, &cs);
			prefault_progress(&pf, &cs);
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
	strait_dedupe_encoder_state(e, &end);
	secs = now() - t0;
	if (cache.cf) {
		/* after the whole stream is out: the decoder commits at its end */
		int rc = strait_dedupe_encoder_commit(e);

		if (rc)
			die("cache file %s: cannot commit: %s", o->cache_file, strerror(-rc));
		strait_dedupe_cache_file_close(cache.cf);
	}
	root = json_pack("{s:I,s:I,s:f,s:o,s:o,s:{s:I,s:I,s:I}}",
			 "bytes_in", (json_int_t)total_in,
			 "bytes_out", (json_int_t)total_out,
			 "seconds", secs, "inputs", inputs,
			 "cache", cache_json(&cs),
			 "chunk", "min", (json_int_t)p.min_chunk,
			 "avg", (json_int_t)p.avg_chunk,
			 "max", (json_int_t)p.max_chunk);
	if (o->rate_bps) {
		/* the link drains the stream at the rate while the encoder
		 * makes it: the pair takes the longer of the two times */
		double link = (double)total_out * 8 / (double)o->rate_bps;

		json_object_set_new(root, "rate", json_pack("{s:I,s:f,s:f,s:i,s:I}",
			"bits_per_s", (json_int_t)o->rate_bps, "link_seconds", link,
			"mb_per_s", (double)total_in / 1e6 / (secs > link ? secs : link),
			"level_end", cs.level, "level_changes", (json_int_t)cs.level_changes));
	}
	if (cache.cf) {
		json_t *cfj = cache_file_json(&cache, o->cache_file, &start, &end);

		json_object_set_new(cfj, "continued", json_boolean(continued));
		json_object_set_new(root, "cache_file", cfj);
	}
	if (o->cmd == SEED) {
		char b[32];

		json_object_del(root, "bytes_out");
		json_object_set_new(root, "state", json_string(state_str(&end, b)));
		write_json(root, NULL);
	} else if (o->stats) {
		write_json(root, o->stats);
	} else {
		json_decref(root);
	}
	free(out);
	free(f);
	munmap(mem, esize);
	free(in);
	return 0;
}

/* The decoder's capacity is its own (--cache, else its cache file's, else
 * the default), never the stream's: a stream must not size our memory. */
static void decoder_cache(const struct opts *o, const struct strait_dedupe_params *hp,
			  struct cache *c, struct strait_dedupe_params *p)
{
	struct strait_dedupe_params mine;
	uint64_t cap;

	strait_dedupe_params_default(&mine);
	cap = o->cache_set ? o->cache : mine.capacity;
	if (o->cache_file && cache_open(c, o->cache_file, NULL)) {
		strait_dedupe_cache_file_info(c->cf, &mine, NULL, NULL);
		if (!o->cache_set)
			cap = mine.capacity;
	}
	if (hp->capacity != cap)
		die("the stream was encoded with a %llu-byte cache, this decoder has %llu (%s must match)",
		    (unsigned long long)hp->capacity, (unsigned long long)cap,
		    o->cache_set || !c->cf ? "--cache" : "its cache file's");
	*p = *hp;
	p->level = mine.level;
	if (o->window) {
		window_params(o, p);
		if (hp->window_log > p->window_log)
			die("the stream's literal window is %llu bytes, this decoder's --window %llu",
			    1ull << hp->window_log, (unsigned long long)o->window);
	}
	if (!o->cache_file)
		return;
	if (c->cf && (mine.min_chunk != p->min_chunk || mine.avg_chunk != p->avg_chunk ||
		      mine.max_chunk != p->max_chunk)) {
		strait_dedupe_cache_file_close(c->cf);
		c->cf = NULL;
	}
	if (!c->cf)
		cache_open(c, o->cache_file, p);
}

static int cmd_decode(int argc, char **argv, struct opts *o)
{
	struct strait_dedupe_params p, hp;
	struct strait_dedupe_decoder *d;
	struct strait_dedupe_state hs;
	struct cache cache = { 0 };
	int first = parse_opts(argc, argv, o), rc;
	const uint8_t *buf;
	uint64_t at = 0;
	size_t len, dsize;
	struct input src;
	struct prefault pf;
	struct strait_dedupe_cache_stats cs;
	void *mem;

	if (first != argc)
		usage_error("decode reads the stream from stdin, takes no INPUT");
	input_open(&src, STDIN_FILENO, "the stream");
	len = input_next(&src, &buf);
	if (len == 0)
		die("empty input: not a strait-dedupe stream");
	rc = strait_dedupe_header_parse(buf, len, &hp, &hs);
	if (rc)
		die("not a usable strait-dedupe stream: %s", strait_dedupe_strerror(rc));
	decoder_cache(o, &hp, &cache, &p);
	if (cache.cf) {
		dsize = strait_dedupe_decoder_size_cached(&p);
		mem = big_alloc(dsize);
		d = strait_dedupe_decoder_init_cached(mem, dsize, &p, cache.cf);
	} else {
		dsize = strait_dedupe_decoder_size(&p);
		mem = big_alloc(dsize);
		d = strait_dedupe_decoder_init(mem, dsize, &p);
	}
	if (!d)
		die("cannot set up the decoder");
	strait_dedupe_decoder_stats(d, &cs);
	prefault_start(&pf, cache.cf, mem, dsize, &cs);

	for (;;) {
		size_t used = 0;

		do {
			struct strait_dedupe_decode_result r;
			struct strait_dedupe_segment segs[SEGS];
			unsigned nsegs;

			/* zero-copy: output is written from the decoder's log */
			rc = strait_dedupe_decode_segments(d, buf + used, len - used,
							   BLOCK, segs, SEGS, &nsegs, &r);
			if (rc == STRAIT_DEDUPE_E_STATE) {
				struct strait_dedupe_state mine;
				char a[32], b[32];

				strait_dedupe_decoder_state(d, &mine);
				die("the stream continues cache state %s, this decoder holds %s%s%s: encode with --peer %s to start a new epoch",
				    state_str(&hs, a), state_str(&mine, b),
				    cache.cf ? " in " : "", cache.cf ? o->cache_file : "",
				    b);
			}
			if (rc < 0)
				die("corrupt stream near byte %llu: %s",
				    (unsigned long long)(at + used + r.in_used),
				    strait_dedupe_strerror(rc));
			write_segs(segs, nsegs);
			used += r.in_used;
			strait_dedupe_decoder_stats(d, &cs);
			prefault_progress(&pf, &cs);
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
	if (cache.cf) {
		rc = strait_dedupe_decoder_commit(d);
		if (rc)
			die("cache file %s: cannot commit: %s", o->cache_file, strerror(-rc));
		strait_dedupe_cache_file_close(cache.cf);
	}
	input_close(&src);
	munmap(mem, dsize);
	return 0;
}

static int cmd_info(int argc, char **argv, struct opts *o)
{
	struct strait_dedupe_cache_file *cf;
	enum strait_dedupe_cache_status st;
	struct strait_dedupe_params p;
	struct strait_dedupe_state s;
	struct strait_dedupe_cache_stats cs;
	char msg[256], b[32];
	json_t *root;
	uint64_t bad = 0;
	int rc;

	if (parse_opts(argc, argv, o) != argc)
		usage_error("info takes no INPUT");
	rc = strait_dedupe_cache_file_open(o->cache_file, NULL, STRAIT_DEDUPE_CACHE_READONLY,
					   &cf, &st, msg, sizeof(msg));
	if (rc)
		die("cache file %s: %s", o->cache_file, msg);
	root = json_pack("{s:s,s:b,s:s}", "path", o->cache_file,
			 "usable", st == STRAIT_DEDUPE_CACHE_LOADED, "message", msg);
	if (st == STRAIT_DEDUPE_CACHE_LOADED) {
		strait_dedupe_cache_file_info(cf, &p, &s, &cs);
		state_str(&s, b);
		json_object_update_new(root, json_pack(
			"{s:s,s:I,s:s,s:I,s:{s:I,s:I,s:I},s:I,s:I}",
			"state", b, "epoch", (json_int_t)s.epoch,
			"digest", b + strcspn(b, ":") + 1,
			"capacity", (json_int_t)p.capacity,
			"chunk", "min", (json_int_t)p.min_chunk,
			"avg", (json_int_t)p.avg_chunk, "max", (json_int_t)p.max_chunk,
			"entries", (json_int_t)cs.entries,
			"used_bytes", (json_int_t)cs.used_bytes));
		if (o->verify) {
			rc = strait_dedupe_cache_file_verify(cf, &bad);
			json_object_set_new(root, "bad_entries", json_integer((json_int_t)bad));
		}
	}
	strait_dedupe_cache_file_close(cf);
	write_json(root, NULL);
	if (bad)
		die("cache file %s: %llu entries fail their check", o->cache_file,
		    (unsigned long long)bad);
	/* a health check: a file no encoder or decoder would load fails it */
	if (o->verify && st != STRAIT_DEDUPE_CACHE_LOADED)
		die("cache file %s: %s", o->cache_file, msg);
	return 0;
}

int main(int argc, char **argv)
{
	static const char *const cmds[] = {
		[ENCODE] = "encode", [DECODE] = "decode", [SEED] = "seed", [INFO] = "info",
	};
	struct opts o = { 0 };

	if (argc < 2)
		usage_error("missing command: encode, decode, seed or info (see --help)");
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		usage(stdout);
		return 0;
	}
	for (o.cmd = ENCODE; o.cmd <= INFO; o.cmd++) {
		if (strcmp(argv[1], cmds[o.cmd]) != 0)
			continue;
		switch (o.cmd) {
		case ENCODE:
		case SEED:
			return cmd_encode(argc - 1, argv + 1, &o);
		case DECODE:
			return cmd_decode(argc - 1, argv + 1, &o);
		case INFO:
			return cmd_info(argc - 1, argv + 1, &o);
		}
	}
	usage_error("unknown command '%s' (want encode, decode, seed or info)", argv[1]);
}
