/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_cache_file.c - the log in a file: a restart continues at both ends
 * (near-duplicates too: the resemblance index is in the file), ends seeded
 * alike agree, and a file that is torn (not committed),
 * truncated, corrupt, locked or of other parameters is discarded with a
 * message and a new epoch, never trusted: whatever byte of a file is
 * flipped, the decoder outputs the right bytes or an error, never a wrong
 * byte. The ring is mapped without read-around, and verifying a cold file
 * reads it ahead all the same.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include "helpers.h"

#define CAP (2u << 20)
#define N (768u << 10)

static char dir[64];
static struct strait_dedupe_params P;
static uint8_t *A, *B; /* B: A with a few changes and more */

static void setup(void)
{
	/* tmpfs if there is one: these tests sync files many times */
	strcpy(dir, access("/dev/shm", W_OK) ? "/tmp/strait-cachefile-XXXXXX" :
		    "/dev/shm/strait-cachefile-XXXXXX");
	cr_assert(mkdtemp(dir));
	strait_dedupe_params_default(&P);
	P.capacity = CAP;
	P.min_chunk = 256;
	P.avg_chunk = 1024;
	P.max_chunk = 4096;
	A = malloc(N);
	B = malloc(N);
	fill_text(A, N / 2, 1);
	fill_random(A + N / 2, N / 2, 2);
	memcpy(B, A, N);
	for (size_t i = 0; i < N; i += N / 8)
		B[i] ^= 0x55;
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
	free(A);
	free(B);
}

TestSuite(cache_file, .init = setup, .fini = teardown);

static const char *path(const char *name)
{
	static char p[4][96];
	static int k;

	k = (k + 1) % 4;
	snprintf(p[k], sizeof(p[k]), "%s/%s", dir, name);
	return p[k];
}

/* One end: an encoder or a decoder on a cache file. */
struct end {
	struct strait_dedupe_cache_file *cf;
	enum strait_dedupe_cache_status st;
	char msg[256];
	void *mem;
	struct strait_dedupe_encoder *e;
	struct strait_dedupe_decoder *d;
};

static void end_open(struct end *x, const char *file, bool encoder)
{
	size_t n;
	int rc;

	memset(x, 0, sizeof(*x));
	rc = strait_dedupe_cache_file_open(file, &P, 0, &x->cf, &x->st, x->msg,
					   sizeof(x->msg));
	cr_assert_eq(rc, 0, "open %s: %d %s", file, rc, x->msg);
	n = encoder ? strait_dedupe_encoder_size_cached(&P) :
		      strait_dedupe_decoder_size_cached(&P);
	x->mem = malloc(n);
	if (encoder)
		x->e = strait_dedupe_encoder_init_cached(x->mem, n, &P, x->cf);
	else
		x->d = strait_dedupe_decoder_init_cached(x->mem, n, &P, x->cf);
	cr_assert(x->e || x->d);
}

static void end_close(struct end *x, bool commit)
{
	if (commit) {
		int rc = x->e ? strait_dedupe_encoder_commit(x->e) :
				strait_dedupe_decoder_commit(x->d);

		cr_assert_eq(rc, 0, "commit: %d", rc);
	}
	strait_dedupe_cache_file_close(x->cf);
	free(x->mem);
	memset(x, 0, sizeof(*x));
}

static void state_of(const char *file, struct strait_dedupe_state *s)
{
	struct strait_dedupe_cache_file *cf;
	enum strait_dedupe_cache_status st;
	char msg[256];

	cr_assert_eq(strait_dedupe_cache_file_open(file, NULL, STRAIT_DEDUPE_CACHE_READONLY,
						   &cf, &st, msg, sizeof(msg)), 0);
	cr_assert_eq(st, STRAIT_DEDUPE_CACHE_LOADED, "%s: %s", file, msg);
	cr_assert_eq(strait_dedupe_cache_file_info(cf, NULL, s, NULL), 0);
	strait_dedupe_cache_file_close(cf);
}

/* Encodes data as one flow into s (a header first if one is due). */
static void encode(struct strait_dedupe_encoder *e, const uint8_t *data,
		   size_t len, struct buf *s)
{
	struct codec c = { .p = P, .enc = e };
	struct strait_dedupe_flow *f = flow_new(&c, 0);

	enc(&c, f, data, len, STRAIT_DEDUPE_END, s);
	free(f);
}

/* Decodes s; returns the error (0) and the output in *o. */
static int decode(struct strait_dedupe_decoder *d, const struct buf *s,
		  struct buf *o)
{
	struct codec c = { .p = P, .dec = d };

	return dec_stream(&c, s->p, s->len, 65536, 65536, o, 1);
}

/* A pair of files after one committed stream (A): F (encoder), G
 * (decoder); s2: what F's encoder sends next (B, continuing the log). */
static void make_pair(struct buf *s2)
{
	struct end e, d;
	struct buf s1 = { 0 }, o = { 0 };

	end_open(&e, path("F"), true);
	cr_assert_eq(e.st, STRAIT_DEDUPE_CACHE_CREATED);
	encode(e.e, A, N, &s1);
	end_close(&e, true);
	end_open(&d, path("G"), false);
	cr_assert_eq(decode(d.d, &s1, &o), 0);
	cr_assert(o.len == N && !memcmp(o.p, A, N));
	end_close(&d, true);
	if (s2) {
		end_open(&e, path("F"), true);
		cr_assert_eq(e.st, STRAIT_DEDUPE_CACHE_LOADED, "%s", e.msg);
		encode(e.e, B, N, s2);
		end_close(&e, false); /* F stays as it was */
	}
	buf_free(&s1);
	buf_free(&o);
}

Test(cache_file, restart_continues_at_both_ends)
{
	struct strait_dedupe_state sf, sg;
	struct buf s2 = { 0 }, o = { 0 };
	struct end e, d;
	struct codec mem;

	make_pair(NULL);
	state_of(path("F"), &sf);
	state_of(path("G"), &sg);
	cr_assert(sf.digest != 0);
	cr_assert(sf.epoch == sg.epoch && sf.digest == sg.digest);
	/* second processes: the encoder references the first one's log */
	end_open(&e, path("F"), true);
	cr_assert_eq(e.st, STRAIT_DEDUPE_CACHE_LOADED, "%s", e.msg);
	encode(e.e, B, N, &s2);
	cr_assert_lt(s2.len, N / 10, "second stream %zu bytes", s2.len);
	end_close(&e, true);
	end_open(&d, path("G"), false);
	cr_assert_eq(d.st, STRAIT_DEDUPE_CACHE_LOADED, "%s", d.msg);
	cr_assert_eq(decode(d.d, &s2, &o), 0);
	cr_assert(o.len == N && !memcmp(o.p, B, N));
	end_close(&d, true);
	state_of(path("F"), &sf);
	state_of(path("G"), &sg);
	cr_assert(sf.epoch == sg.epoch && sf.digest == sg.digest);
	/* a decoder without that log refuses the stream, outputs nothing */
	codec_open(&mem, CAP, 256, 1024, 4096);
	o.len = 0;
	cr_assert_eq(dec_stream(&mem, s2.p, s2.len, 4096, 4096, &o, 1),
		     STRAIT_DEDUPE_E_STATE);
	cr_assert_eq(o.len, 0);
	codec_close(&mem);
	buf_free(&s2);
	buf_free(&o);
}

Test(cache_file, near_duplicates_after_a_restart)
{
	/* the resemblance index lives in the encoder's file: after a restart
	 * an edited copy of incompressible bytes the first process sent (an
	 * edit every 400 bytes) still goes out as DELTA records (the first
	 * DELTA's base can only come from that index) */
	struct strait_dedupe_cache_stats cs;
	struct buf s2 = { 0 }, o = { 0 };
	uint8_t *c = malloc(N / 2);
	struct end e, d;

	make_pair(NULL);
	memcpy(c, A + N / 2, N / 2);
	for (size_t i = 100; i < N / 2; i += 400)
		c[i] ^= 0x5A;
	end_open(&e, path("F"), true);
	cr_assert_eq(e.st, STRAIT_DEDUPE_CACHE_LOADED, "%s", e.msg);
	encode(e.e, c, N / 2, &s2);
	strait_dedupe_encoder_stats(e.e, &cs);
	cr_assert_gt(cs.deltas, 0);
	cr_assert_lt(s2.len, N / 2 / 4, "stream %zu bytes, %llu deltas", s2.len,
		     (unsigned long long)cs.deltas);
	end_close(&e, true);
	end_open(&d, path("G"), false);
	cr_assert_eq(d.st, STRAIT_DEDUPE_CACHE_LOADED, "%s", d.msg);
	cr_assert_eq(decode(d.d, &s2, &o), 0);
	cr_assert(o.len == N / 2 && !memcmp(o.p, c, N / 2));
	end_close(&d, true);
	buf_free(&s2);
	buf_free(&o);
	free(c);
}

Test(cache_file, restart_negotiates_with_the_peer)
{
	struct strait_dedupe_state sf, peer = { 0, 0 };
	struct buf s2 = { 0 }, o = { 0 };
	struct end e, d;

	make_pair(NULL);
	state_of(path("F"), &sf);
	/* the peer holds our state: the log continues */
	end_open(&e, path("F"), true);
	cr_assert_eq(strait_dedupe_encoder_restart(e.e, &sf), 1);
	end_close(&e, false);
	/* the peer lost its cache: a new epoch, and it decodes */
	unlink(path("G"));
	end_open(&e, path("F"), true);
	cr_assert_eq(strait_dedupe_encoder_restart(e.e, &peer), 0);
	encode(e.e, B, N, &s2);
	cr_assert_gt(s2.len, N / 4);
	end_close(&e, true);
	state_of(path("F"), &peer);
	cr_assert_eq(peer.epoch, sf.epoch + 1);
	end_open(&d, path("G"), false);
	cr_assert_eq(d.st, STRAIT_DEDUPE_CACHE_CREATED);
	cr_assert_eq(decode(d.d, &s2, &o), 0);
	cr_assert(o.len == N && !memcmp(o.p, B, N));
	end_close(&d, true);
	state_of(path("G"), &sf);
	cr_assert(sf.epoch == peer.epoch && sf.digest == peer.digest);
	buf_free(&s2);
	buf_free(&o);
}

/* Seeding is encoding into a fresh epoch-1 log and dropping the output. */
static void seed(const char *file, const uint8_t *data, size_t len)
{
	struct end e;
	struct buf s = { 0 };

	end_open(&e, file, true);
	strait_dedupe_encoder_reset(e.e, 1);
	encode(e.e, data, len, &s);
	end_close(&e, true);
	buf_free(&s);
}

Test(cache_file, seeded_ends_agree)
{
	struct strait_dedupe_state s1, s2;
	struct buf s = { 0 }, o = { 0 };
	struct end e, d;

	seed(path("F"), A, N);
	seed(path("G"), B, N);  /* G held something else before */
	seed(path("G"), A, N);
	state_of(path("F"), &s1);
	state_of(path("G"), &s2);
	cr_assert(s1.epoch == 1 && s1.epoch == s2.epoch && s1.digest == s2.digest);
	/* the first replication after seeding is already deduplicated */
	end_open(&e, path("F"), true);
	encode(e.e, B, N, &s);
	cr_assert_lt(s.len, N / 10, "%zu bytes", s.len);
	end_close(&e, true);
	end_open(&d, path("G"), false);
	cr_assert_eq(decode(d.d, &s, &o), 0);
	cr_assert(o.len == N && !memcmp(o.p, B, N));
	end_close(&d, true);
	buf_free(&s);
	buf_free(&o);
}

Test(cache_file, uncommitted_changes_are_discarded)
{
	struct end e;
	struct buf s = { 0 };

	make_pair(NULL);
	/* opened and closed without a change: still good */
	end_open(&e, path("F"), true);
	end_close(&e, false);
	end_open(&e, path("F"), true);
	cr_assert_eq(e.st, STRAIT_DEDUPE_CACHE_LOADED, "%s", e.msg);
	/* changed, then stopped before a commit: a crash */
	encode(e.e, B, N, &s);
	end_close(&e, false);
	end_open(&e, path("F"), true);
	cr_assert_eq(e.st, STRAIT_DEDUPE_CACHE_DISCARDED);
	cr_assert(strstr(e.msg, "before it committed"), "%s", e.msg);
	end_close(&e, false);
	buf_free(&s);
}

Test(cache_file, one_process_at_a_time)
{
	struct strait_dedupe_cache_file *cf;
	enum strait_dedupe_cache_status st;
	char msg[256];
	struct end e;

	end_open(&e, path("F"), true);
	cr_assert_eq(strait_dedupe_cache_file_open(path("F"), &P, 0, &cf, &st, msg,
						   sizeof(msg)), -EBUSY);
	cr_assert(strstr(msg, "in use"), "%s", msg);
	end_close(&e, false);
}

/* The ring of a cache file is mapped without read-around (VmFlags "rr" in
 * smaps): a log larger than memory must not read 128 KiB around every
 * fault (dedupe/README.md, "Reading a ring larger than memory"); the
 * records and tables before it keep the kernel's default. */
Test(cache_file, ring_mapped_without_read_around)
{
	char line[512], file[128];
	bool in_file = false, rr = false, plain = false;
	unsigned long lo, hi;
	struct end e;
	FILE *f;

	end_open(&e, path("R"), true);
	snprintf(file, sizeof(file), "%s", path("R"));
	f = fopen("/proc/self/smaps", "r");
	cr_assert(f);
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '/')) {
			in_file = strstr(line, file) != NULL;
		} else if (in_file && !strncmp(line, "VmFlags:", 8)) {
			if (strstr(line, " rr"))
				rr = true;
			else
				plain = true;
		}
	}
	fclose(f);
	end_close(&e, false);
	cr_assert(rr, "no mapping of %s without read-around", file);
	cr_assert(plain, "the records and tables of %s lost read-around too", file);
}

/* Bytes of path's file in the page cache. */
static size_t resident(const char *file)
{
	int fd = open(file, O_RDONLY);
	struct stat sb;
	size_t n = 0, pages;
	unsigned char *v;
	void *m;

	cr_assert(fd >= 0 && !fstat(fd, &sb));
	m = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_SHARED, fd, 0);
	cr_assert(m != MAP_FAILED);
	pages = ((size_t)sb.st_size + 4095) / 4096;
	v = malloc(pages);
	cr_assert(v && !mincore(m, (size_t)sb.st_size, v));
	for (size_t i = 0; i < pages; i++)
		n += (v[i] & 1) * 4096u;
	free(v);
	munmap(m, (size_t)sb.st_size);
	close(fd);
	return n;
}

/* `strait-dedupe info --verify` reads every live entry from the tail to the
 * head. On a ring mapped without read-around (above) a cold file was one
 * major fault per page; the pass asks for sequential read-ahead. On a disk
 * file system (the suite's directory is tmpfs, whose pages cannot be
 * dropped); skipped where the page cache keeps the file. */
Test(cache_file, verify_of_a_cold_file_reads_ahead)
{
	enum { BIG = 16u << 20 };
	char d[64] = "/var/tmp/strait-cold-XXXXXX", file[96];
	struct strait_dedupe_cache_file *cf;
	enum strait_dedupe_cache_status st;
	struct strait_dedupe_cache_stats cs;
	struct buf s = { 0 };
	struct rusage r0, r1;
	uint64_t bad = 1;
	uint8_t *data = malloc(BIG);
	char msg[256];
	struct end e;
	int fd;

	cr_assert(data && mkdtemp(d));
	snprintf(file, sizeof(file), "%s/F", d);
	P.capacity = 2 * BIG;
	fill_random(data, BIG, 9);
	end_open(&e, file, true);
	encode(e.e, data, BIG, &s);
	end_close(&e, true);
	fd = open(file, O_RDONLY);
	cr_assert(fd >= 0 && !fsync(fd));
	cr_assert(!posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED));
	close(fd);
	buf_free(&s);
	free(data);
	if (resident(file) > BIG / 8) {
		size_t n = resident(file);

		unlink(file);
		rmdir(d);
		cr_skip_test("%s stays in the page cache (%zu bytes)", d, n);
	}
	cr_assert_eq(strait_dedupe_cache_file_open(file, NULL, STRAIT_DEDUPE_CACHE_READONLY,
						   &cf, &st, msg, sizeof(msg)), 0, "%s", msg);
	cr_assert_eq(strait_dedupe_cache_file_info(cf, NULL, NULL, &cs), 0);
	cr_assert_geq(cs.used_bytes, BIG - BIG / 64);
	getrusage(RUSAGE_SELF, &r0);
	cr_assert_eq(strait_dedupe_cache_file_verify(cf, &bad), 0);
	getrusage(RUSAGE_SELF, &r1);
	strait_dedupe_cache_file_close(cf);
	unlink(file);
	rmdir(d);
	cr_assert_eq(bad, 0);
	/* 4,096 pages: one fault each without read-ahead, a few dozen with */
	cr_assert_lt(r1.ru_majflt - r0.ru_majflt, BIG / 4096 / 8,
		     "%ld major faults verifying %u cold bytes",
		     r1.ru_majflt - r0.ru_majflt, BIG);
}

/* Tenant data: never opened through a symbolic link (the link's target is
 * untouched), never left readable by group or others. */
Test(cache_file, private_and_never_through_a_link)
{
	struct strait_dedupe_cache_file *cf;
	enum strait_dedupe_cache_status st;
	char msg[256];
	struct stat sb;
	struct end e;
	int fd;

	fd = open(path("target"), O_CREAT | O_WRONLY, 0644);
	cr_assert(fd >= 0);
	close(fd);
	cr_assert_eq(symlink(path("target"), path("link")), 0);
	cr_assert_eq(strait_dedupe_cache_file_open(path("link"), &P, 0, &cf, &st, msg,
						   sizeof(msg)), -ELOOP);
	cr_assert(strstr(msg, "symbolic link"), "%s", msg);
	cr_assert_eq(stat(path("target"), &sb), 0);
	cr_assert_eq(sb.st_size, 0, "the link's target was written");

	chmod(path("target"), 0644);
	end_open(&e, path("target"), true);
	cr_assert_eq(stat(path("target"), &sb), 0);
	cr_assert_eq(sb.st_mode & 0777, 0600, "mode %o", sb.st_mode & 0777);
	end_close(&e, false);

	cr_assert_eq(strait_dedupe_cache_file_open(dir, &P, 0, &cf, &st, msg, sizeof(msg)),
		     -EISDIR);
}

Test(cache_file, other_parameters_are_replaced)
{
	struct strait_dedupe_params q = P;
	struct strait_dedupe_cache_file *cf;
	enum strait_dedupe_cache_status st;
	char msg[256];

	make_pair(NULL);
	q.capacity = 2 * CAP;
	cr_assert_eq(strait_dedupe_cache_file_open(path("F"), &q, 0, &cf, &st, msg,
						   sizeof(msg)), 0);
	cr_assert_eq(st, STRAIT_DEDUPE_CACHE_DISCARDED);
	cr_assert(strstr(msg, "4194304-byte"), "%s", msg);
	strait_dedupe_cache_file_close(cf);
	/* NULL params: the file's */
	cr_assert_eq(strait_dedupe_cache_file_open(path("F"), NULL, 0, &cf, &st, msg,
						   sizeof(msg)), 0);
	cr_assert_eq(st, STRAIT_DEDUPE_CACHE_LOADED);
	strait_dedupe_cache_file_close(cf);
	cr_assert_eq(strait_dedupe_cache_file_open(path("none"), NULL, 0, &cf, &st, msg,
						   sizeof(msg)), -ENOENT);
}

static size_t file_size(const char *file)
{
	struct stat st;

	cr_assert_eq(stat(file, &st), 0);
	return (size_t)st.st_size;
}

static void copy_file(const char *from, const char *to)
{
	int a = open(from, O_RDONLY), b = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	size_t left = file_size(from);

	cr_assert(a >= 0 && b >= 0);
	while (left) {
		ssize_t n = copy_file_range(a, NULL, b, NULL, left, 0);

		cr_assert_gt(n, 0);
		left -= (size_t)n;
	}
	close(a);
	close(b);
}

/* A decoder on file G' (a damaged copy of G) given s2: it either refuses
 * the file (and then the stream: E_STATE) or outputs B exactly, or fails
 * with E_CACHE after a correct prefix; never a wrong byte. Returns the
 * open status. */
static enum strait_dedupe_cache_status try_decoder(const char *file,
						   const struct buf *s2, int *rc)
{
	enum strait_dedupe_cache_status st;
	struct buf o = { 0 };
	struct end d;

	end_open(&d, file, false);
	st = d.st;
	if (st != STRAIT_DEDUPE_CACHE_LOADED)
		cr_assert(d.msg[0], "no message");
	*rc = decode(d.d, s2, &o);
	cr_assert(o.len <= N && (!o.len || !memcmp(o.p, B, o.len)), "wrong bytes");
	if (*rc == 0)
		cr_assert_eq(o.len, N);
	else if (st == STRAIT_DEDUPE_CACHE_LOADED)
		cr_assert_eq(*rc, STRAIT_DEDUPE_E_CACHE, "rc %d", *rc);
	else
		cr_assert(*rc == STRAIT_DEDUPE_E_STATE && o.len == 0, "rc %d", *rc);
	end_close(&d, false);
	buf_free(&o);
	return st;
}

Test(cache_file, truncated_at_many_lengths)
{
	struct buf s2 = { 0 };
	size_t size, lens[] = { 0, 1, 127, 4095, 4096, 8191, 8192, 12345,
				2u << 20, 0, 0, 0 };
	int rc;

	make_pair(&s2);
	size = file_size(path("G"));
	lens[9] = size - CAP;
	lens[10] = size - 4096;
	lens[11] = size - 1;
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		copy_file(path("G"), path("T"));
		cr_assert_eq(truncate(path("T"), (off_t)lens[i]), 0);
		cr_assert_neq(try_decoder(path("T"), &s2, &rc), STRAIT_DEDUPE_CACHE_LOADED,
			      "truncated to %zu: loaded", lens[i]);
		/* and it is now a new, empty cache of the right size */
		cr_assert_eq(file_size(path("T")), size);
	}
	buf_free(&s2);
}

static void flip(const char *file, size_t off)
{
	int fd = open(file, O_RDWR);
	uint8_t b;

	cr_assert(fd >= 0);
	cr_assert_eq(pread(fd, &b, 1, (off_t)off), 1);
	b ^= 0x5A;
	cr_assert_eq(pwrite(fd, &b, 1, (off_t)off), 1);
	close(fd);
}

Test(cache_file, flipped_bytes_never_give_a_wrong_byte)
{
	struct strait_dedupe_cache_file *cf;
	enum strait_dedupe_cache_status st;
	struct strait_dedupe_cache_stats cs;
	struct buf s2 = { 0 };
	size_t size, max_ent = CAP / 256 + 128, fp_off, data_off;
	unsigned loaded = 0, discarded = 0, cache_err = 0, tries = 0;
	uint64_t seedv = 42;
	char msg[256];
	int rc;

	make_pair(&s2);
	cr_assert_eq(strait_dedupe_cache_file_open(path("G"), NULL, STRAIT_DEDUPE_CACHE_READONLY,
						   &cf, &st, msg, sizeof(msg)), 0);
	strait_dedupe_cache_file_info(cf, NULL, NULL, &cs);
	strait_dedupe_cache_file_close(cf);
	size = file_size(path("G"));
	data_off = size - CAP;
	fp_off = 8192 + ((max_ent * 16 + 4095) & ~(size_t)4095);
	/* regions: {first, end, step, detected at open}; the live entries
	 * are the first `entries` (the ring has not wrapped) */
	const struct { size_t a, b, step; bool detected; } r[] = {
		{ 0, 128, 9, false },                  /* older record (WRITING) */
		{ 4096, 4096 + 128, 9, true },         /* current record */
		{ 8192, 8192 + cs.entries * 16, 317, true },  /* live rows */
		{ fp_off, fp_off + cs.entries * 8, 163, true }, /* their fingerprints */
		{ 2000, 2001, 1, false }, { 8192 + max_ent * 16 - 1, 8192 + max_ent * 16, 1, false },
		{ data_off, data_off + cs.used_bytes, 12011, false }, /* the log */
	};

	for (size_t k = 0; k < sizeof(r) / sizeof(r[0]) + 1; k++) {
		size_t a = k < 7 ? r[k].a : 0, b = k < 7 ? r[k].b : 40;

		for (size_t off = a; off < b; off += k < 7 ? r[k].step : 1, tries++) {
			size_t at = k < 7 ? off : xs64(&seedv) % size;

			copy_file(path("G"), path("T"));
			flip(path("T"), at);
			if (try_decoder(path("T"), &s2, &rc) == STRAIT_DEDUPE_CACHE_LOADED)
				loaded++;
			else
				discarded++;
			cache_err += rc == STRAIT_DEDUPE_E_CACHE;
			if (k < 7 && r[k].detected)
				cr_assert_eq(rc, STRAIT_DEDUPE_E_STATE, "flip at %zu not detected", at);
		}
	}
	cr_assert_gt(cache_err, 5, "flips in the log's bytes went unnoticed");
	cr_log_info("%u flips: %u files loaded, %u discarded, %u E_CACHE",
		    tries, loaded, discarded, cache_err);
	buf_free(&s2);
}

Test(cache_file, a_corrupt_log_is_not_loaded_again)
{
	struct buf s2 = { 0 };
	struct end d;
	int rc;

	make_pair(&s2);
	copy_file(path("G"), path("T"));
	flip(path("T"), file_size(path("T")) - CAP + 50000); /* a chunk B reuses */
	cr_assert_eq(try_decoder(path("T"), &s2, &rc), STRAIT_DEDUPE_CACHE_LOADED);
	cr_assert_eq(rc, STRAIT_DEDUPE_E_CACHE);
	end_open(&d, path("T"), false);
	cr_assert_eq(d.st, STRAIT_DEDUPE_CACHE_DISCARDED, "%s", d.msg);
	end_close(&d, false);
	buf_free(&s2);
}

/* Rewrites record slot `slot` of file with fn applied to the table first,
 * recomputing the record's checksums, as a writer with a bug would. */
static void forge(const char *file, int slot, void (*fn)(uint8_t *table, uint32_t tail))
{
	int fd = open(file, O_RDWR);
	uint8_t r[128], *t;
	uint32_t max_ent, tail, count;
	XXH64_state_t st;
	uint64_t v;

	cr_assert(fd >= 0);
	cr_assert_eq(pread(fd, r, 128, slot * 4096), 128);
	memcpy(&max_ent, r + 40, 4);
	memcpy(&tail, r + 80, 4);
	memcpy(&count, r + 84, 4);
	cr_assert(tail + count <= max_ent, "test wants an unwrapped table");
	t = malloc((size_t)max_ent * 24);
	cr_assert_eq(pread(fd, t, (size_t)max_ent * 16, 8192), (ssize_t)max_ent * 16);
	fn(t, tail);
	cr_assert_eq(pwrite(fd, t, (size_t)max_ent * 16, 8192), (ssize_t)max_ent * 16);
	/* the fingerprints follow the table, page aligned */
	cr_assert_eq(pread(fd, t + (size_t)max_ent * 16, (size_t)max_ent * 8,
			   8192 + (((size_t)max_ent * 16 + 4095) & ~(size_t)4095)),
		     (ssize_t)max_ent * 8);
	XXH64_reset(&st, 0);
	XXH64_update(&st, t + (size_t)tail * 16, (size_t)count * 16);
	XXH64_update(&st, t + (size_t)max_ent * 16 + (size_t)tail * 8, (size_t)count * 8);
	v = XXH64_digest(&st);
	memcpy(r + 96, &v, 8);
	v = XXH64(r, 120, 0);
	memcpy(r + 120, &v, 8);
	cr_assert_eq(pwrite(fd, r, 128, slot * 4096), 128);
	close(fd);
	free(t);
}

static void overlap(uint8_t *t, uint32_t tail)
{
	t[(tail + 1) * 16] -= 1; /* the second entry starts inside the first */
}

static void out_of_ring(uint8_t *t, uint32_t tail)
{
	t[tail * 16 + 5] = 0x40; /* offset 2^40 */
}

Test(cache_file, inconsistent_table_is_discarded)
{
	struct buf s2 = { 0 };
	int rc;

	make_pair(&s2);
	copy_file(path("G"), path("T"));
	forge(path("T"), 1, overlap);
	cr_assert_eq(try_decoder(path("T"), &s2, &rc), STRAIT_DEDUPE_CACHE_DISCARDED);
	copy_file(path("G"), path("T"));
	forge(path("T"), 1, out_of_ring);
	cr_assert_eq(try_decoder(path("T"), &s2, &rc), STRAIT_DEDUPE_CACHE_DISCARDED);
	buf_free(&s2);
}

Test(cache_file, encoder_file_damage_still_decodes)
{
	/* whatever happens to the encoder's file, what it sends decodes */
	struct buf s2 = { 0 }, o = { 0 };
	struct end e, d;
	size_t size;
	uint64_t seedv = 7;

	make_pair(NULL);
	size = file_size(path("F"));
	for (int i = 0; i < 30; i++) {
		size_t off = i < 15 ? (size_t)i * 577 : xs64(&seedv) % size;

		copy_file(path("F"), path("T"));
		copy_file(path("G"), path("U"));
		flip(path("T"), off);
		end_open(&e, path("T"), true);
		s2.len = 0;
		encode(e.e, B, N, &s2);
		end_close(&e, true);
		end_open(&d, path("U"), false);
		o.len = 0;
		cr_assert_eq(decode(d.d, &s2, &o), 0, "flip at %zu", off);
		cr_assert(o.len == N && !memcmp(o.p, B, N), "flip at %zu", off);
		end_close(&d, true);
	}
	buf_free(&s2);
	buf_free(&o);
}
