/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * decoder.c - records -> bytes, with hostile input in mind.
 *
 * A record is parsed and checked whole (from the caller's input when it is
 * all there, else from a staging copy) and applied: literals are inserted
 * into the log (decompressed straight into it), tentative bytes into a
 * scratch buffer, references checked against the live log, a delta's base
 * checked like a reference and its result built in the scratch buffer,
 * checked, and then inserted into the log like a literal. Only then is its
 * output made pending; pending output is copied to the caller's buffer in
 * pieces of any size, so one reference can expand to gigabytes through a
 * small buffer. Nothing is parsed while output is pending, so the entries
 * being output cannot be evicted under it.
 */
#include <errno.h>

#define ZSTD_STATIC_LINKING_ONLY
#include <xxhash.h>
#include <zstd.h>

#include "dedupe_internal.h"

/* Largest record header: type, flow, skip, n, 64 lengths, check,
 * payload_len. */
#define MAX_RECORD_HEAD (1 + 5 + 10 + 10 + STRAIT_DEDUPE_BATCH_CHUNKS * 10 + 8)
#define MAX_PAYLOAD ZSTD_COMPRESSBOUND(STRAIT_DEDUPE_BATCH_BYTES)
#define STAGE_SIZE (MAX_RECORD_HEAD + MAX_PAYLOAD)

enum out_kind { OUT_NONE, OUT_LOG, OUT_SCRATCH };

struct record {
	uint8_t type;
	uint32_t flow;
	uint64_t skip;
	uint32_t n;
	uint32_t lens[STRAIT_DEDUPE_BATCH_CHUNKS];
	uint64_t total;
	uint64_t dist, count;
	uint32_t base_check;      /* DELTA */
	uint32_t check;
	uint32_t plen;
	const uint8_t *payload;
};

struct strait_dedupe_decoder {
	struct strait_dedupe_params p;
	struct dedupe_log log;
	ZSTD_DCtx *zd;
	uint32_t epoch;
	bool have_header;
	int err;
	uint8_t *stage;
	size_t stage_len;
	uint8_t *scratch;
	struct strait_dedupe_cache_stats st;

	enum out_kind kind;
	uint32_t out_flow;
	uint32_t out_idx, out_left, out_off;   /* OUT_LOG */
	uint32_t scr_len;                      /* OUT_SCRATCH: out_off..scr_len */
	struct record rec;
};

/* The workspace: the decoder, the entry table, the staging copy, scratch,
 * zstd, the log. With a cache file the table and the log are the file's,
 * and a bitmap marks the entries loaded from it that are not yet checked. */
struct dlayout {
	size_t ent, bits, stage, scratch, zstd, data, total, zsize;
};

static bool dlayout_of(const struct strait_dedupe_params *p, bool cached,
		       struct dlayout *l)
{
	size_t n = log_max_entries(p);

	if (strait_dedupe_params_check(p))
		return false;
	l->zsize = ZSTD_estimateDStreamSize((size_t)1 << strait_dedupe_window_log(p));
	l->ent = ALIGN_UP(sizeof(struct strait_dedupe_decoder), 64);
	l->bits = l->ent + (cached ? 0 : ALIGN_UP(n * sizeof(struct log_entry), 64));
	l->stage = l->bits + (cached ? ALIGN_UP((n + 63) / 64 * 8, 64) : 0);
	l->scratch = l->stage + ALIGN_UP(STAGE_SIZE, 64);
	l->zstd = l->scratch + ALIGN_UP(p->max_chunk, 64);
	l->data = l->zstd + ALIGN_UP(l->zsize, 64);
	l->total = l->data + (cached ? 0 : p->capacity);
	return true;
}

size_t strait_dedupe_decoder_size(const struct strait_dedupe_params *p)
{
	struct dlayout l;

	return dlayout_of(p, false, &l) ? l.total + 64 : 0;
}

size_t strait_dedupe_decoder_size_cached(const struct strait_dedupe_params *p)
{
	struct dlayout l;

	return dlayout_of(p, true, &l) ? l.total + 64 : 0;
}

/* Sets up everything but the log (log_init or cache_file_attach next). */
static struct strait_dedupe_decoder *
setup(void *mem, size_t size, const struct strait_dedupe_params *p,
      bool cached, uint8_t **base, struct dlayout *l)
{
	struct strait_dedupe_decoder *d;

	if (!mem || !dlayout_of(p, cached, l) || size < l->total + 64)
		return NULL;
	*base = (uint8_t *)ALIGN_UP((uintptr_t)mem, 64);
	d = (struct strait_dedupe_decoder *)*base;
	memset(d, 0, sizeof(*d));
	d->p = *p;
	d->stage = *base + l->stage;
	d->scratch = *base + l->scratch;
	d->zd = ZSTD_initStaticDCtx(*base + l->zstd, l->zsize);
	if (!d->zd || ZSTD_isError(ZSTD_DCtx_setParameter(d->zd,
			ZSTD_d_windowLogMax, (int)strait_dedupe_window_log(p))))
		return NULL;
	return d;
}

struct strait_dedupe_decoder *
strait_dedupe_decoder_init(void *mem, size_t size,
			   const struct strait_dedupe_params *p)
{
	struct strait_dedupe_decoder *d;
	struct dlayout l;
	uint8_t *base;

	if (!(d = setup(mem, size, p, false, &base, &l)))
		return NULL;
	log_init(&d->log, base + l.data, p->capacity,
		 (struct log_entry *)(base + l.ent), log_max_entries(p));
	return d;
}

struct strait_dedupe_decoder *
strait_dedupe_decoder_init_cached(void *mem, size_t size,
				  const struct strait_dedupe_params *p,
				  struct strait_dedupe_cache_file *cf)
{
	struct strait_dedupe_decoder *d;
	struct dlayout l;
	uint8_t *base;

	if (!(d = setup(mem, size, p, true, &base, &l)) ||
	    cache_file_attach(cf, p, &d->log, &d->epoch))
		return NULL;
	/* the loaded entries are checked against their bytes when first
	 * output: a file is never trusted */
	log_distrust(&d->log, (uint64_t *)(base + l.bits));
	return d;
}

void strait_dedupe_decoder_state(const struct strait_dedupe_decoder *d,
				 struct strait_dedupe_state *s)
{
	s->epoch = d->epoch;
	s->digest = d->log.digest;
}

int strait_dedupe_decoder_commit(struct strait_dedupe_decoder *d)
{
	if (!d->log.file)
		return -EINVAL;
	if (d->err)
		return -EIO; /* the log may hold part of a bad record */
	return cache_file_commit(d->log.file, &d->log, d->epoch);
}

void strait_dedupe_decoder_reset(struct strait_dedupe_decoder *d)
{
	log_clear(&d->log);
	ZSTD_DCtx_reset(d->zd, ZSTD_reset_session_only);
	d->have_header = false;
	d->err = 0;
	d->stage_len = 0;
	d->kind = OUT_NONE;
}

void strait_dedupe_decoder_stats(const struct strait_dedupe_decoder *d,
				 struct strait_dedupe_cache_stats *s)
{
	*s = d->st;
	s->capacity = d->p.capacity;
	s->used_bytes = d->log.used;
	s->head = d->log.head;
	s->entries = d->log.count;
	s->index_bytes = (uint64_t)d->log.max_ent * sizeof(struct log_entry);
}

int strait_dedupe_decode_finish(const struct strait_dedupe_decoder *d)
{
	if (d->err)
		return d->err;
	if (d->stage_len)
		return STRAIT_DEDUPE_E_TRUNCATED;
	if (d->kind != OUT_NONE)
		return 1;
	if (!d->have_header)
		return STRAIT_DEDUPE_E_NO_HEADER;
	return 0;
}

/* ---- parsing: structure and ranges only, no log state ---- */

#define VARINT(dst) do {                                   \
		int vr_ = get_varint(p, avail, &pos, &(dst)); \
		if (vr_ <= 0)                                  \
			return vr_;                            \
	} while (0)

/* Returns the record length (>0), 0 if more bytes are needed, or <0. */
static long parse(const struct strait_dedupe_decoder *d, const uint8_t *p,
		  size_t avail, struct record *r)
{
	size_t pos = 1;
	uint64_t v;

	if (!avail)
		return 0;
	r->type = p[0];
	if (r->type == STRAIT_DEDUPE_REC_HEADER)
		return avail >= STRAIT_DEDUPE_HEADER_SIZE ?
		       STRAIT_DEDUPE_HEADER_SIZE : 0;
	if (!d->have_header)
		return STRAIT_DEDUPE_E_NO_HEADER;
	if (r->type < STRAIT_DEDUPE_REC_LITERAL_ZSTD ||
	    r->type > STRAIT_DEDUPE_REC_DELTA)
		return STRAIT_DEDUPE_E_TYPE;
	VARINT(v);
	if (v > UINT32_MAX)
		return STRAIT_DEDUPE_E_RANGE;
	r->flow = (uint32_t)v;

	switch (r->type) {
	case STRAIT_DEDUPE_REC_REFERENCE:
		VARINT(r->skip);
		VARINT(r->dist);
		VARINT(r->count);
		if (r->skip >= d->p.max_chunk || r->count == 0 ||
		    r->dist == 0 || r->count > r->dist)
			return STRAIT_DEDUPE_E_RANGE;
		if (avail - pos < 4)
			return 0;
		r->check = get_u32(p + pos);
		return (long)(pos + 4);
	case STRAIT_DEDUPE_REC_DELTA:
		VARINT(r->skip);
		VARINT(r->dist);
		VARINT(r->count);
		if (r->count == 0 || r->dist == 0 || r->count > r->dist ||
		    r->count > STRAIT_DEDUPE_DELTA_BASE_ENTRIES)
			return STRAIT_DEDUPE_E_RANGE;
		if (avail - pos < 4)
			return 0;
		r->base_check = get_u32(p + pos);
		pos += 4;
		VARINT(v);
		if (v == 0 || v > d->p.max_chunk || r->skip >= v)
			return STRAIT_DEDUPE_E_RANGE;
		r->n = 1;
		r->lens[0] = (uint32_t)v;
		r->total = v;
		if (avail - pos < 4)
			return 0;
		r->check = get_u32(p + pos);
		pos += 4;
		VARINT(v);
		if (v == 0 || v > r->total)
			return STRAIT_DEDUPE_E_RANGE;
		r->plen = (uint32_t)v;
		if (avail - pos < r->plen)
			return 0;
		r->payload = p + pos;
		return (long)(pos + r->plen);
	case STRAIT_DEDUPE_REC_LITERAL_ZSTD:
	case STRAIT_DEDUPE_REC_LITERAL_RAW:
		VARINT(r->skip);
		VARINT(v);
		if (v == 0 || v > STRAIT_DEDUPE_BATCH_CHUNKS)
			return STRAIT_DEDUPE_E_RANGE;
		r->n = (uint32_t)v;
		r->total = 0;
		for (uint32_t i = 0; i < r->n; i++) {
			VARINT(v);
			if (v == 0 || v > d->p.max_chunk)
				return STRAIT_DEDUPE_E_RANGE;
			r->lens[i] = (uint32_t)v;
			r->total += v;
		}
		if (r->total > STRAIT_DEDUPE_BATCH_BYTES ||
		    r->skip >= r->lens[0])
			return STRAIT_DEDUPE_E_RANGE;
		break;
	default: /* TENTATIVE */
		VARINT(v);
		if (v == 0 || v > d->p.max_chunk)
			return STRAIT_DEDUPE_E_RANGE;
		r->n = 1;
		r->lens[0] = (uint32_t)v;
		r->total = v;
		r->skip = 0;
		break;
	}
	if (avail - pos < 8)
		return 0;
	r->check = get_u32(p + pos);
	r->plen = get_u32(p + pos + 4);
	pos += 8;
	if (r->plen > MAX_PAYLOAD)
		return STRAIT_DEDUPE_E_RANGE;
	if ((r->type == STRAIT_DEDUPE_REC_LITERAL_RAW ||
	     r->type == STRAIT_DEDUPE_REC_TENTATIVE_RAW) && r->plen != r->total)
		return STRAIT_DEDUPE_E_LENGTH;
	if (avail - pos < r->plen)
		return 0;
	r->payload = p + pos;
	return (long)(pos + r->plen);
}

/* ---- applying a parsed record ---- */

/* Fills dst[0..len) from the zstd payload; exact sizes or an error. */
static int inflate(struct strait_dedupe_decoder *d, ZSTD_inBuffer *ib,
		   uint8_t *dst, size_t len)
{
	ZSTD_outBuffer ob = { dst, len, 0 };

	while (ob.pos < ob.size) {
		size_t in0 = ib->pos, out0 = ob.pos;
		size_t rc = ZSTD_decompressStream(d->zd, &ob, ib);

		if (ZSTD_isError(rc))
			return STRAIT_DEDUPE_E_ZSTD;
		if (ib->pos == in0 && ob.pos == out0)
			return STRAIT_DEDUPE_E_LENGTH; /* payload too short */
	}
	return 0;
}

/* After the last byte: the payload must be used up and hold nothing more. */
static int inflate_end(struct strait_dedupe_decoder *d, ZSTD_inBuffer *ib)
{
	uint8_t extra;
	ZSTD_outBuffer ob = { &extra, 1, 0 };

	for (;;) {
		size_t in0 = ib->pos;
		size_t rc = ZSTD_decompressStream(d->zd, &ob, ib);

		if (ZSTD_isError(rc))
			return STRAIT_DEDUPE_E_ZSTD;
		if (ob.pos)
			return STRAIT_DEDUPE_E_LENGTH; /* payload too long */
		if (ib->pos == ib->size)
			return 0;
		if (ib->pos == in0)
			return STRAIT_DEDUPE_E_ZSTD;
	}
}

/* Digest 0: a new epoch, empty the log. Else the stream continues a log,
 * which must be ours. */
static int apply_header(struct strait_dedupe_decoder *d, const uint8_t *p)
{
	struct strait_dedupe_params hp;
	struct strait_dedupe_state s;
	int rc = strait_dedupe_header_parse(p, STRAIT_DEDUPE_HEADER_SIZE, &hp,
					    &s);

	if (rc)
		return rc;
	if (hp.min_chunk != d->p.min_chunk || hp.avg_chunk != d->p.avg_chunk ||
	    hp.max_chunk != d->p.max_chunk || hp.capacity != d->p.capacity ||
	    hp.window_log > strait_dedupe_window_log(&d->p))
		return STRAIT_DEDUPE_E_PARAMS;
	if (s.digest && (s.digest != d->log.digest || s.epoch != d->epoch))
		return STRAIT_DEDUPE_E_STATE;
	if (!s.digest)
		log_clear(&d->log);
	ZSTD_DCtx_reset(d->zd, ZSTD_reset_session_only);
	d->epoch = s.epoch;
	d->have_header = true;
	return 0;
}

/* The base of a REFERENCE or DELTA: entries serial (next - dist) .. +
 * count - 1, live and matching the record's fold of their checks. */
static int base_of(struct strait_dedupe_decoder *d, const struct record *r,
		   uint32_t check, uint32_t *first)
{
	uint32_t h = 0, idx;

	if (r->dist > d->log.count)
		return STRAIT_DEDUPE_E_REF;
	*first = idx = log_idx_back(&d->log, r->dist);
	for (uint64_t i = 0; i < r->count; i++) {
		h = check_fold(h, d->log.ent[idx].check);
		idx = log_idx_add(&d->log, idx, 1);
	}
	if (h != check)
		return STRAIT_DEDUPE_E_CHECK;
	idx = *first;
	for (uint64_t i = 0; i < r->count; i++) {
		log_readahead(&d->log, d->log.ent[idx].off, d->log.ent[idx].len);
		if (unlikely(log_unverified(&d->log, idx)) &&
		    !log_verify(&d->log, idx))
			return STRAIT_DEDUPE_E_CACHE;
		idx = log_idx_add(&d->log, idx, 1);
	}
	return 0;
}

/* DELTA: the result in scratch, checked, then inserted into the log. */
static int apply_delta(struct strait_dedupe_decoder *d, struct record *r,
		       uint32_t *idx)
{
	const struct log_entry *ent = d->log.ent;
	XXH128_hash_t h;
	uint32_t first, j;
	uint64_t blen;
	int rc = base_of(d, r, r->base_check, &first);

	if (rc)
		return rc;
	/* the base entries must follow each other in the log */
	blen = ent[first].len;
	j = first;
	for (uint64_t i = 1; i < r->count; i++) {
		uint32_t q = log_idx_add(&d->log, j, 1);

		if (ent[j].off + ent[j].len != ent[q].off)
			return STRAIT_DEDUPE_E_REF;
		blen += ent[q].len;
		j = q;
	}
	rc = delta_decode(d->log.data + ent[first].off, blen, r->payload,
			  r->plen, d->scratch, r->total);
	if (rc)
		return rc;
	h = XXH3_128bits(d->scratch, r->total);
	if (check_fold(0, (uint32_t)h.high64) != r->check)
		return STRAIT_DEDUPE_E_DIGEST;
	*idx = log_insert(&d->log, r->lens[0]);
	memcpy(d->log.data + d->log.ent[*idx].off, d->scratch, r->total);
	log_seal(&d->log, *idx, (uint32_t)h.high64, h.low64);
	d->st.deltas++;
	d->st.delta_bytes += r->total - r->skip;
	return 0;
}

static int apply(struct strait_dedupe_decoder *d, const uint8_t *p,
		 struct record *r)
{
	ZSTD_inBuffer ib = { r->payload, r->plen, 0 };
	bool raw = r->type == STRAIT_DEDUPE_REC_LITERAL_RAW ||
		   r->type == STRAIT_DEDUPE_REC_TENTATIVE_RAW;
	uint32_t i, idx = 0, first = 0, h = 0;
	int rc;

	switch (r->type) {
	case STRAIT_DEDUPE_REC_HEADER:
		return apply_header(d, p);
	case STRAIT_DEDUPE_REC_REFERENCE:
		if ((rc = base_of(d, r, r->check, &first)))
			return rc;
		if (r->skip >= d->log.ent[first].len)
			return STRAIT_DEDUPE_E_RANGE;
		d->st.hits += r->count;
		d->kind = OUT_LOG;
		d->out_idx = first;
		d->out_left = (uint32_t)r->count;
		break;
	case STRAIT_DEDUPE_REC_DELTA:
		if ((rc = apply_delta(d, r, &first)))
			return rc;
		d->kind = OUT_LOG;
		d->out_idx = first;
		d->out_left = 1;
		break;
	case STRAIT_DEDUPE_REC_TENTATIVE_ZSTD:
	case STRAIT_DEDUPE_REC_TENTATIVE_RAW:
		if (raw) {
			memcpy(d->scratch, r->payload, r->total);
		} else if ((rc = inflate(d, &ib, d->scratch, r->total)) ||
			   (rc = inflate_end(d, &ib))) {
			return rc;
		}
		if (check_fold(0, (uint32_t)XXH3_128bits(d->scratch,
				r->total).high64) != r->check)
			return STRAIT_DEDUPE_E_DIGEST;
		d->st.tentative += r->total;
		d->kind = OUT_SCRATCH;
		d->scr_len = (uint32_t)r->total;
		break;
	default: /* LITERAL */
		for (i = 0; i < r->n; i++) {
			struct log_entry *ent;
			XXH128_hash_t fp;
			uint8_t *dst;

			idx = log_insert(&d->log, r->lens[i]);
			ent = &d->log.ent[idx];
			dst = d->log.data + ent->off;
			if (i == 0)
				first = idx;
			if (raw) {
				memcpy(dst, r->payload + ib.pos, r->lens[i]);
				ib.pos += r->lens[i];
			} else if ((rc = inflate(d, &ib, dst, r->lens[i]))) {
				return rc;
			}
			fp = XXH3_128bits(dst, r->lens[i]);
			log_seal(&d->log, idx, (uint32_t)fp.high64, fp.low64);
			h = check_fold(h, ent->check);
		}
		if (!raw && (rc = inflate_end(d, &ib)))
			return rc;
		if (h != r->check)
			return STRAIT_DEDUPE_E_DIGEST;
		if (raw)
			d->st.literal_raw += r->total;
		else
			d->st.literal_zstd += r->total;
		d->st.misses += r->n;
		d->kind = OUT_LOG;
		d->out_idx = first;
		d->out_left = r->n;
		break;
	}
	d->out_flow = r->flow;
	d->out_off = (uint32_t)r->skip;
	return 0;
}

/* Copies pending output; returns bytes written. */
static size_t drain(struct strait_dedupe_decoder *d, uint8_t *out, size_t cap)
{
	size_t done = 0;

	if (d->kind == OUT_SCRATCH) {
		size_t n = d->scr_len - d->out_off;

		if (n > cap)
			n = cap;
		memcpy(out, d->scratch + d->out_off, n);
		d->out_off += (uint32_t)n;
		if (d->out_off == d->scr_len)
			d->kind = OUT_NONE;
		return n;
	}
	while (d->kind == OUT_LOG && done < cap) {
		const struct log_entry *ent = &d->log.ent[d->out_idx];
		size_t n = ent->len - d->out_off;

		if (n > cap - done)
			n = cap - done;
		memcpy(out + done, d->log.data + ent->off + d->out_off, n);
		done += n;
		d->out_off += (uint32_t)n;
		if (d->out_off == ent->len) {
			d->out_off = 0;
			d->out_idx = log_idx_add(&d->log, d->out_idx, 1);
			if (--d->out_left == 0)
				d->kind = OUT_NONE;
		}
	}
	return done;
}

static int fail(struct strait_dedupe_decoder *d,
		struct strait_dedupe_decode_result *r, size_t pos, int rc)
{
	/* a corrupt cache file is never loaded again */
	if (rc == STRAIT_DEDUPE_E_CACHE && !d->log.file_dirty) {
		cache_file_mark_dirty(d->log.file);
		d->log.file_dirty = true;
	}
	r->in_used = pos;
	d->err = rc;
	d->kind = OUT_NONE;
	d->stage_len = 0;
	return rc;
}

/* Parses and applies the next record from the staging copy or from in:
 * 1 applied (output may be pending), 0 all input taken and more needed,
 * <0 an error. */
static int next_record(struct strait_dedupe_decoder *d, const uint8_t *in,
		       size_t in_len, size_t *posp)
{
	size_t pos = *posp;
	long len;
	int rc;

	if (d->stage_len) {
		size_t take = STAGE_SIZE - d->stage_len;

		if (take > in_len - pos)
			take = in_len - pos;
		memcpy(d->stage + d->stage_len, in + pos, take);
		d->stage_len += take;
		pos += take;
		*posp = pos;
		len = parse(d, d->stage, d->stage_len, &d->rec);
		if (len < 0)
			return (int)len;
		if (len == 0)
			return d->stage_len == STAGE_SIZE ? STRAIT_DEDUPE_E_RANGE : 0;
		pos -= d->stage_len - (size_t)len; /* give back */
		*posp = pos;
		d->stage_len = 0;
		rc = apply(d, d->stage, &d->rec);
	} else {
		if (pos == in_len)
			return 0;
		len = parse(d, in + pos, in_len - pos, &d->rec);
		if (len < 0)
			return (int)len;
		if (len == 0) {
			memcpy(d->stage, in + pos, in_len - pos);
			d->stage_len = in_len - pos;
			*posp = in_len;
			return 0;
		}
		rc = apply(d, in + pos, &d->rec);
		*posp = pos + (size_t)len;
	}
	return rc ? rc : 1;
}

int strait_dedupe_decode(struct strait_dedupe_decoder *d, const void *in_,
			 size_t in_len, void *out_, size_t out_cap,
			 struct strait_dedupe_decode_result *r)
{
	const uint8_t *in = in_;
	uint8_t *out = out_;
	size_t pos = 0;
	int rc;

	memset(r, 0, sizeof(*r));
	r->epoch = d->epoch;
	if (d->err)
		return d->err;
	for (;;) {
		if (d->kind != OUT_NONE) {
			if (r->out_len && d->out_flow != r->flow)
				break;
			r->flow = d->out_flow;
			r->out_len += drain(d, out + r->out_len,
					    out_cap - r->out_len);
			if (d->kind != OUT_NONE)
				break; /* out is full */
			continue;
		}
		rc = next_record(d, in, in_len, &pos);
		if (rc < 0)
			return fail(d, r, pos, rc);
		if (rc == 0)
			break;
		r->epoch = d->epoch;
	}
	r->in_used = pos;
	return (pos < in_len || d->kind != OUT_NONE) ? 1 : 0;
}

/* Points segs at pending output (merging neighbours in memory). */
static size_t expose(struct strait_dedupe_decoder *d,
		     struct strait_dedupe_segment *segs, unsigned max_segs,
		     size_t max_bytes, unsigned *nsegs)
{
	size_t done = 0;
	unsigned n = 0;

	if (d->kind == OUT_SCRATCH && max_segs && max_bytes) {
		size_t k = d->scr_len - d->out_off;

		if (k > max_bytes)
			k = max_bytes;
		segs[n].p = d->scratch + d->out_off;
		segs[n++].len = k;
		done = k;
		d->out_off += (uint32_t)k;
		if (d->out_off == d->scr_len)
			d->kind = OUT_NONE;
	}
	while (d->kind == OUT_LOG && done < max_bytes) {
		const struct log_entry *ent = &d->log.ent[d->out_idx];
		const uint8_t *p = d->log.data + ent->off + d->out_off;
		size_t k = ent->len - d->out_off;

		if (k > max_bytes - done)
			k = max_bytes - done;
		if (n && segs[n - 1].p + segs[n - 1].len == p) {
			segs[n - 1].len += k;
		} else {
			if (n == max_segs)
				break;
			segs[n].p = p;
			segs[n++].len = k;
		}
		done += k;
		d->out_off += (uint32_t)k;
		if (d->out_off == ent->len) {
			d->out_off = 0;
			d->out_idx = log_idx_add(&d->log, d->out_idx, 1);
			if (--d->out_left == 0)
				d->kind = OUT_NONE;
		}
	}
	*nsegs = n;
	return done;
}

int strait_dedupe_decode_segments(struct strait_dedupe_decoder *d,
				  const void *in_, size_t in_len,
				  size_t max_bytes,
				  struct strait_dedupe_segment *segs,
				  unsigned max_segs, unsigned *nsegs,
				  struct strait_dedupe_decode_result *r)
{
	const uint8_t *in = in_;
	size_t pos = 0;
	int rc;

	memset(r, 0, sizeof(*r));
	*nsegs = 0;
	r->epoch = d->epoch;
	if (d->err)
		return d->err;
	while (d->kind == OUT_NONE) {
		rc = next_record(d, in, in_len, &pos);
		if (rc < 0)
			return fail(d, r, pos, rc);
		r->epoch = d->epoch;
		if (rc == 0) {
			r->in_used = pos;
			return 0;
		}
	}
	r->flow = d->out_flow;
	r->out_len = expose(d, segs, max_segs, max_bytes, nsegs);
	r->in_used = pos;
	return (pos < in_len || d->kind != OUT_NONE) ? 1 : 0;
}
