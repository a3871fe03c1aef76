/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cache_file.c - a direction's cache log in a file that survives restarts.
 *
 * The file is the log itself, mapped MAP_SHARED: the encoder or decoder
 * inserts into the mapping as it would into memory, and the kernel writes
 * the pages back. Two commit records at the head of the file say what the
 * rest holds. Layout (integers little-endian; the entry table is the log's
 * own in-memory form, so a file is only used on a little-endian host, which
 * the record's byte-order mark checks):
 *
 *   0       4 KiB  commit record, slot 0  \  the valid one with the higher
 *   4 KiB   4 KiB  commit record, slot 1  /  generation is current
 *   8 KiB          entry table: max_ent x {u64 offset, u32 length, u32 check}
 *                  fingerprints: max_ent x u64 (XXH3-128 low half; the
 *                  encoder rebuilds its index from them)
 *                  resemblance index: the encoder's (resemble.c), kept as
 *                  it is: hints only, never trusted (a slot names a live
 *                  entry or is ignored, a base is checked before use, and
 *                  a DELTA's result is checked on its own bytes); unused in
 *                  a decoder's file
 *   data_off       the ring: capacity bytes (2 MiB aligned)
 *
 * Commit record, the first 128 bytes of its slot:
 *    0  8  magic "STRDCACH"       8  4  format version (2)
 *   12  4  byte-order mark 0x01020304 as the host wrote it
 *   16  8  generation            24  4  state: 1 CLEAN, 2 WRITING
 *   28  4  min_chunk  32 4 avg_chunk  36 4 max_chunk  40 4 max_ent
 *   44  4  epoch                 48  8  capacity
 *   56  8  digest of the log's state (0: empty)
 *   64  8  head   72 8 used   80 4 tail   84 4 count   88 4 next
 *   92  4  reserved (0)
 *   96  8  XXH64 of the live entries (their table rows, then their
 *          fingerprints, oldest first)
 *  104 16  reserved (0)
 *  120  8  XXH64 of bytes 0..119
 *
 * Write ordering. A CLEAN record describes the table and ring exactly.
 * Before the first change to them after an open or a commit, a WRITING
 * record (generation + 1) goes to the other slot and is synced; only then
 * is the mapping written. A commit syncs the table and the ring (msync: the
 * kernel writes the dirty pages, most of them already on their way), then
 * writes a CLEAN record with the new state to the older slot and syncs it.
 * A crash at any point leaves either a CLEAN record that is true, a
 * WRITING record (the file is discarded: its ring may hold bytes the
 * entries do not describe), or a torn record (its checksum fails, and the
 * other slot is the previous record, which is either true or WRITING).
 * So two syncs of one page per run of changes, plus one sync of what
 * changed at each commit; what a crash loses is the whole cache (a new
 * epoch), never a byte of output: the decoder also checks every entry it
 * loaded against its bytes before it outputs them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include "dedupe_internal.h"

#define SLOT_SIZE 4096
#define REC_SIZE 128
#define TABLE_OFF (2 * SLOT_SIZE)
#define DATA_ALIGN (2u << 20)
#define PAGE 4096
#define FORMAT 2
#define BOM 0x01020304u

enum rec_state { REC_CLEAN = 1, REC_WRITING = 2 };

struct rec {
	uint64_t gen;
	uint32_t state;
	struct strait_dedupe_params p;
	uint32_t max_ent;
	uint32_t epoch;
	uint64_t digest, head, used, ent_sum;
	uint32_t tail, count, next;
};

struct strait_dedupe_cache_file {
	int fd;
	bool readonly;
	uint8_t *map;
	size_t size;
	size_t fp_off, rs_off, data_off;
	uint64_t cap;       /* the ring's size: fixed once mapped (read by the
			     * helper thread of prefault() and writeback()) */
	struct rec cur;     /* the current record (what the file holds) */
	int err;            /* a failed write (-errno), sticky */
	uint64_t ra_lo, ra_hi; /* ring bytes last asked to be read ahead */
};

/* ---- layout ---- */

static size_t page_up(uint64_t n)
{
	return (size_t)ALIGN_UP(n, PAGE);
}

static void layout(const struct strait_dedupe_params *p, size_t *fp_off,
		   size_t *rs_off, size_t *data_off, size_t *size)
{
	uint64_t n = log_max_entries(p);

	*fp_off = TABLE_OFF + page_up(n * sizeof(struct log_entry));
	*rs_off = *fp_off + page_up(n * sizeof(uint64_t));
	*data_off = ALIGN_UP(*rs_off + page_up(resemble_index_bytes(p)), DATA_ALIGN);
	*size = page_up(*data_off + p->capacity);
}

/* ---- records ---- */

static void rec_write(uint8_t *b, const struct rec *r)
{
	memset(b, 0, REC_SIZE);
	memcpy(b, "STRDCACH", 8);
	put_u32(b + 8, FORMAT);
	memcpy(b + 12, &(uint32_t){ BOM }, 4);
	put_u64(b + 16, r->gen);
	put_u32(b + 24, r->state);
	put_u32(b + 28, r->p.min_chunk);
	put_u32(b + 32, r->p.avg_chunk);
	put_u32(b + 36, r->p.max_chunk);
	put_u32(b + 40, r->max_ent);
	put_u32(b + 44, r->epoch);
	put_u64(b + 48, r->p.capacity);
	put_u64(b + 56, r->digest);
	put_u64(b + 64, r->head);
	put_u64(b + 72, r->used);
	put_u32(b + 80, r->tail);
	put_u32(b + 84, r->count);
	put_u32(b + 88, r->next);
	put_u64(b + 96, r->ent_sum);
	put_u64(b + 120, XXH64(b, 120, 0));
}

/* NULL if the record is whole and of this format, else why not. */
static const char *rec_read(const uint8_t *b, struct rec *r)
{
	uint32_t bom;

	if (memcmp(b, "STRDCACH", 8) != 0)
		return "no commit record";
	if (get_u64(b + 120) != XXH64(b, 120, 0))
		return "commit record fails its checksum (torn or corrupt)";
	if (get_u32(b + 8) != FORMAT)
		return "unknown cache file format version";
	memcpy(&bom, b + 12, 4);
	if (bom != BOM)
		return "written on a host of the other byte order";
	r->gen = get_u64(b + 16);
	r->state = get_u32(b + 24);
	memset(&r->p, 0, sizeof(r->p));
	r->p.min_chunk = get_u32(b + 28);
	r->p.avg_chunk = get_u32(b + 32);
	r->p.max_chunk = get_u32(b + 36);
	r->max_ent = get_u32(b + 40);
	r->epoch = get_u32(b + 44);
	r->p.capacity = get_u64(b + 48);
	r->digest = get_u64(b + 56);
	r->head = get_u64(b + 64);
	r->used = get_u64(b + 72);
	r->tail = get_u32(b + 80);
	r->count = get_u32(b + 84);
	r->next = get_u32(b + 88);
	r->ent_sum = get_u64(b + 96);
	if (r->state != REC_CLEAN && r->state != REC_WRITING)
		return "commit record has an unknown state";
	if (strait_dedupe_params_check(&r->p) ||
	    r->max_ent != log_max_entries(&r->p))
		return "commit record has impossible parameters";
	/* before anything reads the table with them */
	if (r->tail >= r->max_ent || r->next >= r->max_ent ||
	    r->count > r->max_ent ||
	    ((uint64_t)r->tail + r->count) % r->max_ent != r->next ||
	    r->head > r->p.capacity || r->used > r->p.capacity)
		return "commit record has an impossible log state";
	return NULL;
}

/* XXH64 of the live entries: table rows, then fingerprints, oldest first. */
static uint64_t entries_sum(const struct strait_dedupe_cache_file *cf, const struct rec *r)
{
	const struct log_entry *ent = (const void *)(cf->map + TABLE_OFF);
	const uint64_t *fp = (const void *)(cf->map + cf->fp_off);
	uint32_t first = r->count ? r->max_ent - r->tail : 0;
	XXH64_state_t st;

	if (first > r->count)
		first = r->count;
	XXH64_reset(&st, 0);
	XXH64_update(&st, ent + r->tail, (size_t)first * sizeof(*ent));
	XXH64_update(&st, ent, (size_t)(r->count - first) * sizeof(*ent));
	XXH64_update(&st, fp + r->tail, (size_t)first * sizeof(*fp));
	XXH64_update(&st, fp, (size_t)(r->count - first) * sizeof(*fp));
	return XXH64_digest(&st);
}

/* A log view of the file with the record's state (for checks and loads). */
static void log_of(struct strait_dedupe_cache_file *cf, const struct rec *r,
		   struct dedupe_log *l)
{
	log_init(l, cf->map + cf->data_off, r->p.capacity,
		 (struct log_entry *)(cf->map + TABLE_OFF), r->max_ent);
	l->fp = (uint64_t *)(cf->map + cf->fp_off);
	l->head = r->head;
	l->used = r->used;
	l->tail = r->tail;
	l->count = r->count;
	l->next = r->next;
	l->digest = r->digest;
}

static int sync_range(struct strait_dedupe_cache_file *cf, size_t off, size_t len)
{
	size_t a = off & ~(size_t)(PAGE - 1);

	if (msync(cf->map + a, len + (off - a), MS_SYNC))
		return -errno;
	return 0;
}

/* Writes r into its slot (generation parity) and syncs it. */
static int put_rec(struct strait_dedupe_cache_file *cf, const struct rec *r)
{
	size_t off = (size_t)(r->gen & 1) * SLOT_SIZE;

	rec_write(cf->map + off, r);
	return sync_range(cf, off, REC_SIZE);
}

/* ---- open ---- */

__attribute__((format(printf, 3, 4)))
static void note(char *msg, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!msg || !len)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, len, fmt, ap);
	va_end(ap);
}

static int map_file(struct strait_dedupe_cache_file *cf)
{
	int prot = PROT_READ | (cf->readonly ? 0 : PROT_WRITE);
	void *m = mmap(NULL, cf->size, prot, MAP_SHARED, cf->fd, 0);

	if (m == MAP_FAILED)
		return -errno;
	cf->map = m;
	cf->ra_lo = cf->ra_hi = 0;
	/* No read-around on the ring's faults: by default each fault reads
	 * 128 KiB around its page, and the codec's faults are mostly not
	 * reads at all (the helper populating pages the codec is about to
	 * write) or single chunks anywhere in the ring. Measured with a log
	 * four times a 96 MiB cgroup (bench/cache-bench's fill): 36.9 GB read
	 * from disk for 1.14 GB in, 48.6 s; without read-around, with the
	 * codec's own readahead (cache_file_readahead), 3.2 GB, 16.2 s. */
	(void)madvise(cf->map + cf->data_off, cf->size - cf->data_off, MADV_RANDOM);
	return 0;
}

static void unmap_file(struct strait_dedupe_cache_file *cf)
{
	if (cf->map)
		munmap(cf->map, cf->size);
	cf->map = NULL;
}

/* Reads the records and judges the file. NULL if it holds a usable log
 * (cf mapped, cf->cur its record), else why not. *last: the newest whole
 * record (gen 0 if none), whose params and epoch a new cache keeps. */
static const char *judge(struct strait_dedupe_cache_file *cf, const struct stat *st,
			 const struct strait_dedupe_params *want,
			 struct rec *last, char *buf, size_t len)
{
	uint8_t b[2][REC_SIZE];
	struct rec r[2];
	const char *why[2];
	struct dedupe_log l;
	size_t fp_off, rs_off, data_off, size;
	int best = -1;

	last->gen = 0;
	for (int i = 0; i < 2; i++) {
		if (pread(cf->fd, b[i], REC_SIZE, i * SLOT_SIZE) != REC_SIZE)
			why[i] = "truncated (shorter than its commit records)";
		else
			why[i] = rec_read(b[i], &r[i]);
		if (!why[i] && (best < 0 || r[i].gen > r[best].gen))
			best = i;
	}
	if (best < 0)
		return why[0];
	*last = r[best];
	if ((r[best].gen & 1) != (uint64_t)best)
		return "commit record in the wrong slot";
	if (r[best].state != REC_CLEAN)
		return "its last writer stopped before it committed (crash or kill)";
	if (want && (want->capacity != r[best].p.capacity ||
		     want->min_chunk != r[best].p.min_chunk ||
		     want->avg_chunk != r[best].p.avg_chunk ||
		     want->max_chunk != r[best].p.max_chunk)) {
		note(buf, len, "holds a %llu-byte cache of chunks %u:%u:%u, not the %llu-byte %u:%u:%u wanted",
		     (unsigned long long)r[best].p.capacity, r[best].p.min_chunk,
		     r[best].p.avg_chunk, r[best].p.max_chunk,
		     (unsigned long long)want->capacity, want->min_chunk,
		     want->avg_chunk, want->max_chunk);
		return buf;
	}
	layout(&r[best].p, &fp_off, &rs_off, &data_off, &size);
	if ((uint64_t)st->st_size != size) {
		note(buf, len, "is %llu bytes, its parameters need %zu (truncated or extended)",
		     (unsigned long long)st->st_size, size);
		return buf;
	}
	cf->size = size;
	cf->fp_off = fp_off;
	cf->rs_off = rs_off;
	cf->data_off = data_off;
	cf->cap = r[best].p.capacity;
	cf->cur = r[best];
	if (map_file(cf))
		return "cannot be mapped";
	log_of(cf, &r[best], &l);
	if (entries_sum(cf, &r[best]) != r[best].ent_sum)
		return "its entry table fails its checksum";
	if (!log_consistent(&l, &r[best].p))
		return "its entry table is inconsistent";
	return NULL;
}

/* Replaces the file's content by an empty cache of params p (epoch kept
 * for the record), synced. */
static int recreate(struct strait_dedupe_cache_file *cf, const struct strait_dedupe_params *p,
		    uint32_t epoch)
{
	struct rec r = { .gen = 1, .state = REC_CLEAN, .p = *p, .epoch = epoch };
	int rc;

	unmap_file(cf);
	r.p.level = 0;
	r.max_ent = log_max_entries(p);
	layout(p, &cf->fp_off, &cf->rs_off, &cf->data_off, &cf->size);
	cf->cap = p->capacity;
	if (ftruncate(cf->fd, 0) || ftruncate(cf->fd, (off_t)cf->size))
		return -errno;
	/* reserve the blocks now: a full disk must fail here, not as a
	 * SIGBUS when the ring first touches a page */
	rc = posix_fallocate(cf->fd, 0, (off_t)cf->size);
	if (rc && rc != EOPNOTSUPP && rc != EINVAL)
		return -rc;
	if ((rc = map_file(cf)))
		return rc;
	cf->cur = r;
	r.ent_sum = entries_sum(cf, &r);
	cf->cur = r;
	if ((rc = put_rec(cf, &r)) || fsync(cf->fd))
		return rc ? rc : -errno;
	return 0;
}

int strait_dedupe_cache_file_open(const char *path,
				  const struct strait_dedupe_params *want,
				  unsigned flags,
				  struct strait_dedupe_cache_file **out,
				  enum strait_dedupe_cache_status *status,
				  char *msg, size_t msg_len)
{
	struct strait_dedupe_cache_file *cf;
	struct stat st;
	const char *why = NULL;
	char buf[160];
	struct rec last = { .gen = 0 };
	int rc;

	*out = NULL;
	note(msg, msg_len, "%s", "");
	if (want && strait_dedupe_params_check(want))
		return -EINVAL;
	cf = calloc(1, sizeof(*cf));
	if (!cf)
		return -ENOMEM;
	cf->readonly = flags & STRAIT_DEDUPE_CACHE_READONLY;
	/* the file holds tenant data: never through a symbolic link, and
	 * never left readable by others (a file made by hand is tightened) */
	cf->fd = open(path, cf->readonly ? O_RDONLY | O_CLOEXEC | O_NOFOLLOW :
		      O_RDWR | O_CLOEXEC | O_NOFOLLOW | (want ? O_CREAT : 0), 0600);
	if (cf->fd < 0) {
		rc = -errno;
		note(msg, msg_len, "cannot open: %s", errno == ELOOP ? "a symbolic link (refused)"
								   : strerror(errno));
		goto err_free;
	}
	if (flock(cf->fd, (cf->readonly ? LOCK_SH : LOCK_EX) | LOCK_NB)) {
		rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
		note(msg, msg_len, "in use by another process");
		goto err_close;
	}
	if (fstat(cf->fd, &st)) {
		rc = -errno;
		note(msg, msg_len, "cannot stat: %s", strerror(errno));
		goto err_close;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = -EINVAL;
		note(msg, msg_len, "not a regular file");
		goto err_close;
	}
	if (!cf->readonly && (st.st_mode & 077) && fchmod(cf->fd, 0600)) {
		rc = -errno;
		note(msg, msg_len, "cannot make it private (mode 0600): %s", strerror(errno));
		goto err_close;
	}
	if (st.st_size == 0 && !cf->readonly) {
		*status = STRAIT_DEDUPE_CACHE_CREATED;
	} else if (st.st_size == 0) {
		*status = STRAIT_DEDUPE_CACHE_DISCARDED;
		why = "empty";
	} else {
		why = judge(cf, &st, want, &last, buf, sizeof(buf));
		*status = why ? STRAIT_DEDUPE_CACHE_DISCARDED :
				STRAIT_DEDUPE_CACHE_LOADED;
	}
	if (why && cf->readonly) {
		unmap_file(cf);
		note(msg, msg_len, "unusable: %s", why);
	} else if (*status != STRAIT_DEDUPE_CACHE_LOADED) {
		/* a new cache keeps the params of the file's last record */
		if (!want && last.gen)
			want = &last.p;
		if (!want) {
			rc = -ENOENT;
			note(msg, msg_len, "%s, and no parameters to create a new cache",
			     why ? why : "no cache");
			goto err_unmap;
		}
		if ((rc = recreate(cf, want, last.epoch))) {
			note(msg, msg_len, "cannot create a %zu-byte cache: %s",
			     cf->size, strerror(-rc));
			goto err_unmap;
		}
		if (why)
			note(msg, msg_len, "discarded: %s; starting a new, empty cache", why);
		else
			note(msg, msg_len, "created a new, empty cache");
	} else {
		note(msg, msg_len, "loaded: epoch %u, digest %016llx, %u entries, %llu bytes",
		     cf->cur.epoch, (unsigned long long)cf->cur.digest,
		     cf->cur.count, (unsigned long long)cf->cur.used);
	}
	*out = cf;
	return 0;

err_unmap:
	unmap_file(cf);
err_close:
	close(cf->fd);
err_free:
	free(cf);
	return rc;
}

void strait_dedupe_cache_file_close(struct strait_dedupe_cache_file *cf)
{
	if (!cf)
		return;
	unmap_file(cf);
	close(cf->fd);
	free(cf);
}

int strait_dedupe_cache_file_info(const struct strait_dedupe_cache_file *f,
				  struct strait_dedupe_params *p,
				  struct strait_dedupe_state *s,
				  struct strait_dedupe_cache_stats *st)
{
	const struct strait_dedupe_cache_file *cf = f;

	if (!cf->map)
		return -ENODATA;
	if (p)
		*p = cf->cur.p;
	if (s) {
		s->epoch = cf->cur.epoch;
		s->digest = cf->cur.digest;
	}
	if (st) {
		memset(st, 0, sizeof(*st));
		st->capacity = cf->cur.p.capacity;
		st->used_bytes = cf->cur.used;
		st->entries = cf->cur.count;
		st->index_bytes = (uint64_t)(cf->data_off - TABLE_OFF);
	}
	return 0;
}

int strait_dedupe_cache_file_verify(const struct strait_dedupe_cache_file *f,
				    uint64_t *bad_entries)
{
	struct strait_dedupe_cache_file *cf = (struct strait_dedupe_cache_file *)f;
	struct dedupe_log l;
	uint32_t idx;
	uint64_t bad = 0;

	if (!cf->map)
		return -ENODATA;
	log_of(cf, &cf->cur, &l);
	/* one pass from the tail to the head: the kernel's sequential
	 * read-ahead for it, not the codec's MADV_RANDOM (a cold 200 MiB ring:
	 * 0.19 s and 26 major faults, against 3.4 s and 51,201, one a page) */
	(void)madvise(cf->map + cf->data_off, cf->size - cf->data_off, MADV_SEQUENTIAL);
	idx = l.tail;
	for (uint32_t i = 0; i < l.count; i++, idx = log_idx_add(&l, idx, 1)) {
		const struct log_entry *e = &l.ent[idx];
		XXH128_hash_t h = XXH3_128bits(l.data + e->off, e->len);

		if ((uint32_t)h.high64 != e->check || h.low64 != l.fp[idx])
			bad++;
	}
	(void)madvise(cf->map + cf->data_off, cf->size - cf->data_off, MADV_RANDOM);
	if (bad_entries)
		*bad_entries = bad;
	return bad ? -EBADMSG : 0;
}

/* Calls fn on the file range of each part of ring [off, off + len) (two
 * parts when it wraps); 0 or fn's error. */
static int each_part(const struct strait_dedupe_cache_file *cf, uint64_t off,
		     uint64_t len, int (*fn)(const struct strait_dedupe_cache_file *,
					     size_t, size_t))
{
	int rc;

	if (!cf->map || cf->readonly)
		return -EINVAL;
	if (len > cf->cap)
		len = cf->cap;
	off %= cf->cap;
	while (len) {
		uint64_t n = len < cf->cap - off ? len : cf->cap - off;

		if ((rc = fn(cf, cf->data_off + off, n)))
			return rc;
		len -= n;
		off = 0;
	}
	return 0;
}

static int populate(const struct strait_dedupe_cache_file *cf, size_t at, size_t n)
{
	size_t a = at & ~(size_t)(PAGE - 1);

	return madvise(cf->map + a, page_up(at + n) - a, MADV_POPULATE_WRITE) ? -errno : 0;
}

static int write_back(const struct strait_dedupe_cache_file *cf, size_t at, size_t n)
{
	return sync_file_range(cf->fd, (off64_t)at, (off64_t)n, SYNC_FILE_RANGE_WRITE) ?
	       -errno : 0;
}

int strait_dedupe_cache_file_prefault(const struct strait_dedupe_cache_file *cf,
				      uint64_t off, uint64_t len)
{
	return each_part(cf, off, len, populate);
}

/* A run of references reads one entry after another: 128 KiB ahead (the
 * kernel's read-around size) is asked when a read leaves the last window
 * or enters its second half, so the next window is read while this one is
 * used. Measured on the cache-bench "again" step (clone.img sent again
 * from a log on disk, in a 96 MiB cgroup): see bench/README.md. */
#define READAHEAD (128u << 10)

void cache_file_readahead(struct strait_dedupe_cache_file *cf, uint64_t off,
			  uint32_t len)
{
	uint64_t lo = off & ~(uint64_t)(PAGE - 1), hi = off + len + READAHEAD;

	if (off >= cf->ra_lo && off + len + READAHEAD / 2 <= cf->ra_hi)
		return;
	if (hi > cf->cap)
		hi = cf->cap;
	hi = page_up(hi);
	(void)madvise(cf->map + cf->data_off + lo, hi - lo, MADV_WILLNEED);
	cf->ra_lo = lo;
	cf->ra_hi = hi;
}

int strait_dedupe_cache_file_writeback(const struct strait_dedupe_cache_file *cf,
				       uint64_t off, uint64_t len)
{
	int rc = each_part(cf, off, len, write_back);

	/* the entry table, fingerprints and resemblance index change in step
	 * with the ring */
	return rc ? rc : write_back(cf, TABLE_OFF, cf->data_off - TABLE_OFF);
}

/* ---- the encoder's and decoder's side ---- */

int cache_file_attach(struct strait_dedupe_cache_file *cf,
		      const struct strait_dedupe_params *p,
		      struct dedupe_log *l, uint32_t *epoch)
{
	if (cf->readonly || !cf->map || cf->cur.p.capacity != p->capacity ||
	    cf->cur.p.min_chunk != p->min_chunk ||
	    cf->cur.p.avg_chunk != p->avg_chunk ||
	    cf->cur.p.max_chunk != p->max_chunk)
		return -EINVAL;
	log_of(cf, &cf->cur, l);
	l->file = cf;
	l->file_dirty = false;
	*epoch = cf->cur.epoch;
	return 0;
}

struct resemble_slot *cache_file_resemble(struct strait_dedupe_cache_file *cf)
{
	return (struct resemble_slot *)(cf->map + cf->rs_off);
}

void cache_file_mark_dirty(struct strait_dedupe_cache_file *cf)
{
	struct rec r = cf->cur;
	int rc;

	if (cf->err)
		return;
	r.gen++;
	r.state = REC_WRITING;
	rc = put_rec(cf, &r);
	if (rc) {
		/* the record may or may not be on disk: do not let the old
		 * CLEAN one stand either */
		memset(cf->map, 0, TABLE_OFF);
		(void)msync(cf->map, TABLE_OFF, MS_SYNC);
		cf->err = rc;
		return;
	}
	cf->cur = r;
}

int cache_file_commit(struct strait_dedupe_cache_file *cf, struct dedupe_log *l,
		      uint32_t epoch)
{
	struct rec r = cf->cur;
	int rc;

	if (cf->err)
		return cf->err;
	if (l->file_dirty && (rc = sync_range(cf, TABLE_OFF, cf->size - TABLE_OFF)))
		return cf->err = rc;
	r.gen++;
	r.state = REC_CLEAN;
	r.epoch = epoch;
	r.digest = l->digest;
	r.head = l->head;
	r.used = l->used;
	r.tail = l->tail;
	r.count = l->count;
	r.next = l->next;
	r.ent_sum = entries_sum(cf, &r);
	if ((rc = put_rec(cf, &r)))
		return cf->err = rc;
	cf->cur = r;
	l->file_dirty = false;
	return 0;
}
