/* SPDX-License-Identifier: BSD-3-Clause */
/* dedupe_internal.h - state shared by the chunker, log, encoder, decoder. */
#ifndef STRAIT_DEDUPE_INTERNAL_H
#define STRAIT_DEDUPE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <strait/dedupe.h>

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

#define ALIGN_UP(x, a) (((x) + ((a) - 1)) & ~((size_t)(a) - 1))

/* ---- chunker.c ---- */

struct chunker_cfg {
	uint32_t min, normal, max;
	uint64_t mask_s;  /* before `normal`: more bits, cuts are rarer */
	uint64_t mask_l;  /* from `normal` on: fewer bits, cuts are likelier */
	uint64_t mask_r;  /* samples for resemblance: top bits of both masks */
};

/* Content-defined samples of a chunk (hash values where mask_r is zero):
 * the resemblance features (resemble.c) are made from them. */
#define CHUNK_SAMPLES 64

/* Scan state of a partial chunk, relative to the chunk's first byte. After
 * a cut, ns/samp describe the chunk just cut until the next scan starts. */
struct chunk_scan {
	uint32_t pos;     /* bytes already hashed (>= min once started) */
	uint32_t ns;      /* samples taken (the first CHUNK_SAMPLES kept) */
	uint64_t hash;
	uint32_t samp[CHUNK_SAMPLES];
};

void chunker_cfg_init(struct chunker_cfg *c,
		      const struct strait_dedupe_params *p);
/* Cut length in (0, avail], or 0 if no cut yet (state saved in *st).
 * final: the data ends at avail, cut there if nothing earlier. */
size_t chunker_find(const struct chunker_cfg *c, const uint8_t *p,
		    size_t avail, struct chunk_scan *st, bool final);

/* ---- log.c: the mirrored cache log ---- */

struct log_entry {
	uint64_t off;
	uint32_t len;
	uint32_t check;
};

struct dedupe_log {
	uint8_t *data;
	uint64_t cap;
	uint64_t head;        /* offset of the next insertion */
	uint64_t used;        /* bytes of live entries */
	struct log_entry *ent;
	uint64_t *fp;         /* per entry: XXH3-128 low 64 bits (cache file only) */
	uint64_t *unverified; /* bitmap: entries loaded from a file whose bytes
			       * were not yet checked (decoder, cache file only) */
	uint32_t max_ent;
	uint32_t tail;        /* index of the oldest live entry */
	uint32_t count;       /* live entries */
	uint32_t next;        /* index of the next insertion */
	uint64_t digest;      /* of the entries inserted this epoch; 0: none */
	struct strait_dedupe_cache_file *file; /* the file holding data/ent/fp, or NULL */
	bool file_dirty;      /* the file is marked as being written */
};

uint32_t log_max_entries(const struct strait_dedupe_params *p);
void log_init(struct dedupe_log *l, uint8_t *data, uint64_t cap,
	      struct log_entry *ent, uint32_t max_ent);
void log_clear(struct dedupe_log *l);
/* Appends an entry of len bytes (evicting what it must); returns its index.
 * The caller copies the bytes to l->data + l->ent[idx].off, then seals the
 * entry with their fingerprint. */
uint32_t log_insert(struct dedupe_log *l, uint32_t len);
bool log_consistent(const struct dedupe_log *l,
		    const struct strait_dedupe_params *p);

/* The digest of the log's state: a running hash of every entry inserted
 * since the epoch began (its length and 96 bits of its fingerprint), in
 * order. Eviction follows from the insertions and the parameters, so two
 * logs with the same parameters and digest hold the same entries. Never 0
 * once an entry is in (0 names the empty log of a new epoch). */
static inline uint64_t digest_step(uint64_t d, uint32_t len, uint32_t check,
				   uint64_t fp)
{
	d ^= fp + (((uint64_t)check << 32) | len) * 0xC2B2AE3D27D4EB4FULL;
	d = ((d << 31) | (d >> 33)) * 0x9E3779B185EBCA87ULL;
	return d ? d : 1;
}

/* Sets an inserted entry's check and fingerprint and folds it into the
 * digest: every insertion is sealed, in insertion order. */
static inline void log_seal(struct dedupe_log *l, uint32_t idx, uint32_t check,
			    uint64_t fp)
{
	l->ent[idx].check = check;
	if (l->fp)
		l->fp[idx] = fp;
	l->digest = digest_step(l->digest, l->ent[idx].len, check, fp);
}

/* cache_file.c: reading log bytes [off, off + len) soon (a reference or a DELTA base):
 * the ring is mapped without the kernel's read-around (a fault reads its
 * page only), so the codec says where it reads and the file starts reading
 * READAHEAD bytes from there, unless that was asked already. */
void cache_file_readahead(struct strait_dedupe_cache_file *cf, uint64_t off,
			  uint32_t len);

/* Log bytes [off, off + len) are about to be read: a log in a file reads
 * them in ahead (cache_file_readahead); in memory nothing to do. */
static inline void log_readahead(const struct dedupe_log *l, uint64_t off,
				 uint32_t len)
{
	if (unlikely(l->file != NULL))
		cache_file_readahead(l->file, off, len);
}

static inline bool log_unverified(const struct dedupe_log *l, uint32_t idx)
{
	return l->unverified && (l->unverified[idx / 64] >> (idx % 64) & 1);
}

/* Marks every live entry unverified (a log loaded from a file), in bits:
 * one per entry. */
void log_distrust(struct dedupe_log *l, uint64_t *bits);
/* Checks an unverified entry's bytes against its fingerprint (a log loaded
 * from a file is never trusted): true, and the entry is verified, or false
 * if they differ. */
bool log_verify(struct dedupe_log *l, uint32_t idx);

static inline uint32_t log_idx_back(const struct dedupe_log *l, uint64_t dist)
{
	/* dist in 1..count */
	return (uint32_t)((l->next + (uint64_t)l->max_ent - dist) % l->max_ent);
}

static inline uint32_t log_idx_add(const struct dedupe_log *l, uint32_t idx,
				   uint32_t n)
{
	return (uint32_t)(((uint64_t)idx + n) % l->max_ent);
}

/* Age of a live index: 0 = oldest. >= count means not live. */
static inline uint32_t log_age(const struct dedupe_log *l, uint32_t idx)
{
	return (uint32_t)((idx + (uint64_t)l->max_ent - l->tail) % l->max_ent);
}

static inline uint32_t check_fold(uint32_t h, uint32_t check)
{
	return (((h << 7) | (h >> 25)) ^ check) * 0x9E3779B1u;
}

/* ---- resemble.c: resemblance features and their index (encoder) ---- */

#define RESEMBLE_KEYS 6           /* features per chunk (bottom-k) */
#define RESEMBLE_MIN_KEYS 2       /* fewer samples: the chunk gets none */
#define RESEMBLE_SLOTS 8          /* per bucket (one cache line) */
#define RESEMBLE_SLOTS_PER_AVG 2  /* slots per avg_chunk of capacity */

struct resemble_slot {
	uint32_t tag;
	uint32_t idx;
};

struct resemble {
	struct resemble_slot *slot;
	uint64_t mask;            /* buckets - 1 */
};

/* The chunk's features from its samples; false if it has too few. */
bool resemble_features(const struct chunk_scan *st,
		       uint64_t key[RESEMBLE_KEYS]);
uint64_t resemble_buckets(const struct strait_dedupe_params *p);
size_t resemble_index_bytes(const struct strait_dedupe_params *p);
void resemble_init(struct resemble *r, struct resemble_slot *slots,
		   uint64_t buckets);
/* The same on slots that already hold an index (a cache file's). */
void resemble_attach(struct resemble *r, struct resemble_slot *slots,
		     uint64_t buckets);
void resemble_clear(struct resemble *r);
void resemble_insert(struct resemble *r, const struct dedupe_log *l,
		     const uint64_t key[RESEMBLE_KEYS], uint32_t idx);
/* The live entry most similar to a chunk with these features, or
 * UINT32_MAX. */
uint32_t resemble_lookup(const struct resemble *r, const struct dedupe_log *l,
			 const uint64_t key[RESEMBLE_KEYS]);

/* ---- delta.c: DELTA instructions ---- */

#define DELTA_HASH_LOG 13
#define DELTA_BASE_MAX 65535      /* largest base the encoder tries */

struct delta_ws {
	uint32_t tab[1u << DELTA_HASH_LOG];
	uint32_t gen;
};

/* Instructions making t[0..tlen) from base[0..blen) into out, or 0 if they
 * would take cap bytes or more (or the base is too large). */
size_t delta_encode(struct delta_ws *w, const uint8_t *base, size_t blen,
		    const uint8_t *t, size_t tlen, uint8_t *out, size_t cap);
/* Runs the instructions: exactly len bytes into dst, or
 * STRAIT_DEDUPE_E_DELTA. Hostile input: every length and copy is checked. */
int delta_decode(const uint8_t *base, size_t blen, const uint8_t *ops,
		 size_t olen, uint8_t *dst, size_t len);

/* ---- cache_file.c: the log in a file ---- */

/* Points l at the file's log in its committed state; *epoch is the file's.
 * -EINVAL if the file is read-only, unusable or of other params. */
int cache_file_attach(struct strait_dedupe_cache_file *cf,
		      const struct strait_dedupe_params *p,
		      struct dedupe_log *l, uint32_t *epoch);
/* Before the first change after an attach or commit (log_insert calls it):
 * the file is marked as being written, durably, so that a crash leaves a
 * file that is discarded, never trusted. A failure is kept and returned by
 * the next commit. */
void cache_file_mark_dirty(struct strait_dedupe_cache_file *cf);
/* The file's resemblance index (resemble_index_bytes() of its params): the
 * encoder's, kept across restarts as hints (never trusted). */
struct resemble_slot *cache_file_resemble(struct strait_dedupe_cache_file *cf);
/* Syncs what changed and records l's state as the file's (CLEAN). */
int cache_file_commit(struct strait_dedupe_cache_file *cf,
		      struct dedupe_log *l, uint32_t epoch);

/* ---- wire helpers ---- */

/* LEB128 from p[*pos..avail): 1 (and *pos advanced), 0 if it needs more
 * bytes, or STRAIT_DEDUPE_E_VARINT (overlong, or beyond 64 bits). */
static inline int get_varint(const uint8_t *p, size_t avail, size_t *pos,
			     uint64_t *v)
{
	uint64_t r = 0;
	size_t i;

	for (i = 0; i < 10; i++) {
		uint8_t b;

		if (*pos + i >= avail)
			return 0;
		b = p[*pos + i];
		if (i == 9 && b > 1)
			return STRAIT_DEDUPE_E_VARINT;
		r |= (uint64_t)(b & 0x7f) << (7 * i);
		if (!(b & 0x80)) {
			if (b == 0 && i > 0)
				return STRAIT_DEDUPE_E_VARINT; /* overlong */
			*pos += i + 1;
			*v = r;
			return 1;
		}
	}
	return STRAIT_DEDUPE_E_VARINT;
}

static inline size_t put_varint(uint8_t *p, uint64_t v)
{
	size_t n = 0;
	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

static inline void put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static inline uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static inline void put_u64(uint8_t *p, uint64_t v)
{
	put_u32(p, (uint32_t)v);
	put_u32(p + 4, (uint32_t)(v >> 32));
}

static inline uint64_t get_u64(const uint8_t *p)
{
	return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

#endif
