/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * encoder.c - bytes of many flows -> records of one direction.
 *
 * Per chunk:  XXH3-128 -> bucket (low bits), tag (bits 32..63), check (high
 * 64 bits, truncated) -> one 64-byte bucket of 8 slots -> live entry with
 * the same check and length -> memcmp with the log -> reference, else
 * a new chunk. The index is lossy: a full bucket gives up its oldest slot.
 * A new chunk is tried as a DELTA (delta.c) against up to two bases in the
 * log, each a cached chunk with its neighbours: the chunk after the last
 * DELTA's base (a run of rewritten blocks or pages follows the order in
 * which the log holds their old versions), and the cached chunk its
 * resemblance features name (resemble.c), unless the first try already
 * came out small, or that chunk is within the literal stream's window and
 * both went through zstd (zstd finds those matches itself). The DELTA is
 * sent when it costs less than 7/8 of what the chunk would cost as a
 * literal (its size times the literal stream's recent compression ratio,
 * or its size if it looks incompressible); otherwise the chunk is a
 * literal. Consecutive literal chunks are batched into one record
 * (one zstd flush); consecutive references to consecutive entries into one
 * run. A batch or run is emitted before a record of another kind, so the
 * decoder sees insertions and references in exactly the order the encoder
 * made them.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <time.h>

#define ZSTD_STATIC_LINKING_ONLY
#include <xxhash.h>
#include <zstd.h>

#include "dedupe_internal.h"

#define SLOTS 8
#define EMPTY UINT32_MAX
/* Incompressibility test: up to ENTROPY_SAMPLES bytes per chunk, evenly
 * spaced. A chunk is raw when its order-0 entropy estimate is within
 * RAW_MARGIN bits of what uniformly random bytes give for that sample count
 * (the plug-in estimate is biased low by about 255 / (2 n ln 2) bits). */
#define ENTROPY_SAMPLES 1024
#define RAW_MARGIN 0.25
/* DELTA: record bytes besides the instructions (typical), and the
 * literal stream's compression ratio before any batch was compressed. */
#define DELTA_HEAD 20
#define RATIO_START 0.5
/* The drain-rate ladder (strait_dedupe_encoder_set_rate in dedupe.h). */
#define RAW_LEVEL INT_MIN
static const int ladder[] = { RAW_LEVEL, -7, -3, 1, 3, 6, 9, 12, 15, 19 };
#define LADDER_N ((int)(sizeof(ladder) / sizeof(ladder[0])))
#define DECIDE_BYTES (2u << 20)
#define STEP_UP 1.15
#define STEP_DOWN 0.87

struct slot {
	uint32_t tag;
	uint32_t idx;
};

struct strait_dedupe_flow {
	uint32_t id;
	uint32_t min, avg, max;
	uint32_t plen;            /* bytes of the partial chunk in buf */
	uint32_t tent;            /* of which already sent tentatively */
	struct chunk_scan scan;
	uint8_t buf[];
};

struct out {
	uint8_t *p;
	uint8_t *end;
};

struct strait_dedupe_encoder {
	struct strait_dedupe_params p;
	struct chunker_cfg cc;
	struct dedupe_log log;
	struct slot *index;
	uint64_t bucket_mask;
	struct resemble rs;
	struct delta_ws *dw;
	uint8_t *ops, *ops2;      /* max_chunk bytes each: DELTA instructions */
	uint32_t delta_next;      /* the entry after the last DELTA's base */
	uint64_t z_in, z_out;     /* recent literal bytes in and out of zstd */
	ZSTD_CCtx *zc;
	int zlevel;               /* level of the zstd frame being written */
	bool frame_open;          /* zstd has been given bytes in this frame */
	uint32_t frame_entries;   /* log insertions since the frame began
				   * (saturating): zstd's window holds
				   * nothing older */
	/* drain rate (0: fixed level) and the ladder step it chose */
	uint64_t rate;
	int step, top;
	uint64_t busy_ns, zstd_ns, win_in, win_out;
	uint32_t epoch;
	bool header_due;
	uint64_t index_bytes;
	struct strait_dedupe_cache_stats st;

	/* c * log2(c) for the entropy estimate */
	float clog[ENTROPY_SAMPLES + 1];

	/* pending literal batch: all raw or all through zstd */
	uint32_t batch_n, batch_bytes, batch_skip;
	bool batch_raw;
	uint32_t batch_idx[STRAIT_DEDUPE_BATCH_CHUNKS];
	/* pending run of references */
	uint32_t run_first, run_count, run_skip, run_check;
};

struct delta_pick {
	uint32_t like, lo, hi;    /* base: entries lo..hi around like */
	uint8_t *ops;
	size_t n;
};

struct layout {
	size_t ent, bits, index, rs, dw, ops, zstd, data, total;
	uint64_t buckets;
	size_t zsize;
};

static uint64_t pow2_ceil(uint64_t v)
{
	uint64_t r = 1;

	while (r < v)
		r <<= 1;
	return r;
}

static int level_top(const struct strait_dedupe_params *p)
{
	return p->level_max > p->level ? p->level_max : p->level;
}

/* The literal stream's parameters at a level: the window, and above the
 * smallest window zstd's long-distance matcher with its parameters set
 * (zstd's defaults for the window; set explicitly because libzstd 1.5.4's
 * size estimate divides by zero when they are left to it). */
static int zstd_params(ZSTD_CCtx *z, ZSTD_CCtx_params *cp, int level,
		       unsigned wlog)
{
	const struct { ZSTD_cParameter k; int v; } kv[] = {
		{ ZSTD_c_compressionLevel, level },
		{ ZSTD_c_windowLog, (int)wlog },
		{ ZSTD_c_checksumFlag, 0 },
		{ ZSTD_c_contentSizeFlag, 0 },
		{ ZSTD_c_enableLongDistanceMatching,
		  wlog > STRAIT_DEDUPE_WINDOW_LOG_MIN },
		{ ZSTD_c_ldmHashLog, (int)wlog - 7 },
		{ ZSTD_c_ldmMinMatch, 64 },
		{ ZSTD_c_ldmBucketSizeLog, 3 },
		{ ZSTD_c_ldmHashRateLog, 7 },
	};

	for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++) {
		size_t rc = z ? ZSTD_CCtx_setParameter(z, kv[i].k, kv[i].v) :
			    ZSTD_CCtxParams_setParameter(cp, kv[i].k, kv[i].v);

		if (ZSTD_isError(rc))
			return -1;
	}
	return 0;
}

static size_t zstd_level_size(int level, unsigned wlog)
{
	ZSTD_CCtx_params *cp = ZSTD_createCCtxParams();
	size_t n = 0;

	if (cp && !zstd_params(NULL, cp, level, wlog))
		n = ZSTD_estimateCStreamSize_usingCCtxParams(cp);
	ZSTD_freeCCtxParams(cp);
	return n;
}

/* Large enough for every level the encoder may use (0 if zstd fails). */
static size_t zstd_size(const struct strait_dedupe_params *p)
{
	unsigned w = strait_dedupe_window_log(p);
	size_t n = zstd_level_size(p->level, w);

	for (int i = 1; i < LADDER_N && ladder[i] <= level_top(p); i++)
		if (zstd_level_size(ladder[i], w) > n)
			n = zstd_level_size(ladder[i], w);
	return n;
}

/* The workspace: the encoder, the entry table, the index, the resemblance
 * index, DELTA scratch, zstd, the log (with a cache file, the table, the
 * resemblance index and the log are the file's, and a bitmap marks the
 * entries loaded from it that are not yet checked). */
static bool layout_of(const struct strait_dedupe_params *p, bool cached,
		      struct layout *l)
{
	uint32_t max_ent;

	if (strait_dedupe_params_check(p))
		return false;
	max_ent = cached ? 0 : log_max_entries(p);
	l->buckets = pow2_ceil(p->capacity / p->avg_chunk / 4);
	if (l->buckets < 16)
		l->buckets = 16;
	l->zsize = zstd_size(p);
	if (!l->zsize)
		return false;
	l->ent = ALIGN_UP(sizeof(struct strait_dedupe_encoder), 64);
	l->bits = l->ent + ALIGN_UP((size_t)max_ent * sizeof(struct log_entry), 64);
	l->index = l->bits + (cached ? ALIGN_UP(((size_t)log_max_entries(p) + 63) /
						64 * 8, 64) : 0);
	l->rs = l->index + ALIGN_UP(l->buckets * SLOTS * sizeof(struct slot), 64);
	l->dw = l->rs + (cached ? 0 : ALIGN_UP(resemble_index_bytes(p), 64));
	l->ops = l->dw + ALIGN_UP(sizeof(struct delta_ws), 64);
	l->zstd = l->ops + 2 * ALIGN_UP(p->max_chunk, 64);
	l->data = l->zstd + ALIGN_UP(l->zsize, 64);
	l->total = l->data + (cached ? 0 : p->capacity);
	return true;
}

size_t strait_dedupe_encoder_size(const struct strait_dedupe_params *p)
{
	struct layout l;

	return layout_of(p, false, &l) ? l.total + 64 : 0;
}

size_t strait_dedupe_encoder_size_cached(const struct strait_dedupe_params *p)
{
	struct layout l;

	return layout_of(p, true, &l) ? l.total + 64 : 0;
}

static void index_clear(struct strait_dedupe_encoder *e)
{
	uint64_t i;

	for (i = 0; i <= e->bucket_mask; i++) {
		struct slot *b = &e->index[i * SLOTS];

		for (int s = 0; s < SLOTS; s++)
			b[s].idx = EMPTY, b[s].tag = 0;
	}
}

static bool zstd_setup(struct strait_dedupe_encoder *e)
{
	e->zlevel = e->p.level;
	e->frame_open = false;
	e->frame_entries = 0;
	return !ZSTD_isError(ZSTD_CCtx_reset(e->zc, ZSTD_reset_session_and_parameters)) &&
	       !zstd_params(e->zc, NULL, e->p.level, strait_dedupe_window_log(&e->p));
}

static void index_insert(struct strait_dedupe_encoder *e, struct slot *b,
			 uint32_t tag, uint32_t idx);

/* Sets up everything but the log (log_init or cache_file_attach next). */
static struct strait_dedupe_encoder *
setup(void *mem, size_t size, const struct strait_dedupe_params *p,
      bool cached, uint8_t **base, struct layout *l)
{
	struct strait_dedupe_encoder *e;

	if (!mem || !layout_of(p, cached, l) || size < l->total + 64)
		return NULL;
	*base = (uint8_t *)ALIGN_UP((uintptr_t)mem, 64);
	e = (struct strait_dedupe_encoder *)*base;
	memset(e, 0, sizeof(*e));
	e->p = *p;
	chunker_cfg_init(&e->cc, p);
	e->index = (struct slot *)(*base + l->index);
	e->bucket_mask = l->buckets - 1;
	e->index_bytes = (uint64_t)log_max_entries(p) * sizeof(struct log_entry) +
			 l->buckets * SLOTS * sizeof(struct slot) +
			 resemble_index_bytes(p);
	index_clear(e);
	if (!cached)
		resemble_init(&e->rs, (struct resemble_slot *)(*base + l->rs),
			      resemble_buckets(p));
	e->dw = (struct delta_ws *)(*base + l->dw);
	memset(e->dw, 0, sizeof(*e->dw));
	e->ops = *base + l->ops;
	e->ops2 = e->ops + ALIGN_UP(p->max_chunk, 64);
	e->delta_next = EMPTY;
	e->zc = ZSTD_initStaticCCtx(*base + l->zstd, l->zsize);
	if (!e->zc || !zstd_setup(e))
		return NULL;
	for (int c = 1; c <= ENTROPY_SAMPLES; c++)
		e->clog[c] = (float)(c * log2(c));
	for (e->top = 0; e->top + 1 < LADDER_N &&
			 ladder[e->top + 1] <= level_top(p); e->top++)
		;
	strait_dedupe_encoder_set_rate(e, 0);
	e->header_due = true;
	return e;
}

struct strait_dedupe_encoder *
strait_dedupe_encoder_init(void *mem, size_t size,
			   const struct strait_dedupe_params *p,
			   uint32_t epoch)
{
	struct strait_dedupe_encoder *e;
	struct layout l;
	uint8_t *base;

	if (!(e = setup(mem, size, p, false, &base, &l)))
		return NULL;
	log_init(&e->log, base + l.data, p->capacity,
		 (struct log_entry *)(base + l.ent), log_max_entries(p));
	e->epoch = epoch;
	return e;
}

struct strait_dedupe_encoder *
strait_dedupe_encoder_init_cached(void *mem, size_t size,
				  const struct strait_dedupe_params *p,
				  struct strait_dedupe_cache_file *cf)
{
	struct strait_dedupe_encoder *e;
	struct layout l;
	uint8_t *base;
	uint32_t idx;

	if (!(e = setup(mem, size, p, true, &base, &l)) ||
	    cache_file_attach(cf, p, &e->log, &e->epoch))
		return NULL;
	/* the resemblance index is the file's (hints, checked where used);
	 * the exact index again, from the fingerprints, oldest entry first */
	if (e->log.count)
		resemble_attach(&e->rs, cache_file_resemble(cf), resemble_buckets(p));
	else
		resemble_init(&e->rs, cache_file_resemble(cf), resemble_buckets(p));
	log_distrust(&e->log, (uint64_t *)(base + l.bits));
	idx = e->log.tail;
	for (uint32_t i = 0; i < e->log.count; i++) {
		uint64_t fp = e->log.fp[idx];

		index_insert(e, &e->index[(fp & e->bucket_mask) * SLOTS],
			     (uint32_t)(fp >> 32), idx);
		idx = log_idx_add(&e->log, idx, 1);
	}
	/* an empty log is a new epoch */
	if (!e->log.digest)
		e->epoch++;
	return e;
}

void strait_dedupe_encoder_state(const struct strait_dedupe_encoder *e,
				 struct strait_dedupe_state *s)
{
	s->epoch = e->epoch;
	s->digest = e->log.digest;
}

int strait_dedupe_encoder_restart(struct strait_dedupe_encoder *e,
				  const struct strait_dedupe_state *peer)
{
	if (e->log.digest && peer->epoch == e->epoch &&
	    peer->digest == e->log.digest) {
		ZSTD_CCtx_reset(e->zc, ZSTD_reset_session_only);
		e->frame_open = false;
		e->frame_entries = 0;
		e->header_due = true;
		return 1;
	}
	strait_dedupe_encoder_reset(e, (peer->epoch > e->epoch ?
					peer->epoch : e->epoch) + 1);
	return 0;
}

int strait_dedupe_encoder_commit(struct strait_dedupe_encoder *e)
{
	if (!e->log.file)
		return -EINVAL;
	return cache_file_commit(e->log.file, &e->log, e->epoch);
}

void strait_dedupe_encoder_reset(struct strait_dedupe_encoder *e,
				 uint32_t epoch)
{
	log_clear(&e->log);
	index_clear(e);
	resemble_clear(&e->rs);
	e->delta_next = EMPTY;
	ZSTD_CCtx_reset(e->zc, ZSTD_reset_session_only);
	e->frame_open = false;
	e->frame_entries = 0;
	e->epoch = epoch;
	e->header_due = true;
	e->batch_n = 0;
	e->run_count = 0;
}

size_t strait_dedupe_flow_size(const struct strait_dedupe_params *p)
{
	if (strait_dedupe_params_check(p))
		return 0;
	return sizeof(struct strait_dedupe_flow) + p->max_chunk;
}

struct strait_dedupe_flow *strait_dedupe_flow_init(void *mem, size_t size,
						   const struct strait_dedupe_params *p,
						   uint32_t flow_id)
{
	struct strait_dedupe_flow *f = mem;

	if (!mem || ((uintptr_t)mem & 7) || !strait_dedupe_flow_size(p) ||
	    size < strait_dedupe_flow_size(p))
		return NULL;
	memset(f, 0, sizeof(*f));
	f->id = flow_id;
	f->min = p->min_chunk;
	f->avg = p->avg_chunk;
	f->max = p->max_chunk;
	return f;
}

size_t strait_dedupe_flow_pending(const struct strait_dedupe_flow *f)
{
	return f->plen;
}

size_t strait_dedupe_encode_bound(const struct strait_dedupe_encoder *e,
				  size_t in_len)
{
	size_t total = in_len + e->p.max_chunk;

	return 1024 + STRAIT_DEDUPE_HEADER_SIZE + total + total / 128 +
	       (total / e->p.min_chunk + 4) * 128;
}

void strait_dedupe_encoder_stats(const struct strait_dedupe_encoder *e,
				 struct strait_dedupe_cache_stats *s)
{
	*s = e->st;
	s->level = e->rate ? ladder[e->step] : e->p.level;
	s->capacity = e->p.capacity;
	s->used_bytes = e->log.used;
	s->head = e->log.head;
	s->entries = e->log.count;
	s->index_bytes = e->index_bytes;
}

/* ---- emission ---- */

static void emit_run(struct strait_dedupe_encoder *e, uint32_t flow,
		     struct out *o)
{
	uint8_t *p = o->p;
	uint32_t dist = (uint32_t)((e->log.next + (uint64_t)e->log.max_ent -
				    e->run_first) % e->log.max_ent);

	if (dist == 0)
		dist = e->log.max_ent;
	*p++ = STRAIT_DEDUPE_REC_REFERENCE;
	p += put_varint(p, flow);
	p += put_varint(p, e->run_skip);
	p += put_varint(p, dist);
	p += put_varint(p, e->run_count);
	put_u32(p, e->run_check);
	o->p = p + 4;
	e->run_count = 0;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The level the literal stream should be written at now. */
static int want_level(const struct strait_dedupe_encoder *e)
{
	return e->rate ? ladder[e->step] : e->p.level;
}

/* Compresses parts into o as one flushed piece of the zstd frame. When the
 * drain rate changed the level, the frame ends first and the piece starts
 * a new frame at the new level (a frame's level is fixed in zstd). */
static int compress_parts(struct strait_dedupe_encoder *e,
			  const uint8_t *const *parts, const uint32_t *lens,
			  unsigned n, struct out *o)
{
	ZSTD_outBuffer ob = { o->p, (size_t)(o->end - o->p), 0 };
	int level = want_level(e);
	uint64_t t0 = e->rate ? now_ns() : 0;
	unsigned i;

	if (level != e->zlevel) {
		ZSTD_inBuffer none = { NULL, 0, 0 };
		size_t rc;

		while (e->frame_open) {
			rc = ZSTD_compressStream2(e->zc, &ob, &none, ZSTD_e_end);
			if (ZSTD_isError(rc) || ob.pos == ob.size)
				return -EIO;
			e->frame_open = rc != 0;
		}
		if (ZSTD_isError(ZSTD_CCtx_reset(e->zc, ZSTD_reset_session_only)) ||
		    ZSTD_isError(ZSTD_CCtx_setParameter(e->zc, ZSTD_c_compressionLevel,
							level)))
			return -EIO;
		e->zlevel = level;
		e->frame_entries = 0;
	}
	e->frame_open = true;

	for (i = 0; i < n; i++) {
		ZSTD_inBuffer ib = { parts[i], lens[i], 0 };
		ZSTD_EndDirective d = i + 1 == n ? ZSTD_e_flush : ZSTD_e_continue;
		size_t rc;

		do {
			rc = ZSTD_compressStream2(e->zc, &ob, &ib, d);
			if (ZSTD_isError(rc) || ob.pos == ob.size)
				return -EIO;
		} while (d == ZSTD_e_flush ? rc != 0 : ib.pos < ib.size);
	}
	o->p += ob.pos;
	if (e->rate)
		e->zstd_ns += now_ns() - t0;
	return 0;
}

/* True if the bytes look incompressible (already compressed or encrypted):
 * then zstd would spend its time for nothing. */
static bool incompressible(const struct strait_dedupe_encoder *e,
			   const uint8_t *p, uint32_t len)
{
	/* four histograms, so that a run of one byte value (zeros in a page)
	 * does not make each increment wait for the one before */
	uint16_t hist[4][256];
	uint32_t step = len / ENTROPY_SAMPLES + 1, n = 0, i = 0;
	float sum = 0, h, random;

	if (want_level(e) == RAW_LEVEL)
		return true; /* the drain rate says: no compression */
	memset(hist, 0, sizeof(hist));
	for (; i + 3 * step < len; i += 4 * step, n += 4) {
		hist[0][p[i]]++;
		hist[1][p[i + step]]++;
		hist[2][p[i + 2 * step]]++;
		hist[3][p[i + 3 * step]]++;
	}
	for (; i < len; i += step, n++)
		hist[0][p[i]]++;
	if (n < 64)
		return false;
	for (int b = 0; b < 256; b++)
		sum += e->clog[hist[0][b] + hist[1][b] + hist[2][b] + hist[3][b]];
	h = (e->clog[n] - sum) / (float)n;
	random = 8.0f - 255.0f / (2.0f * (float)n * 0.6931472f);
	return h > random - RAW_MARGIN;
}

/* Writes check, payload_len and payload (raw or zstd) for parts; adds 1 to
 * *type for raw (each *_RAW type follows its *_ZSTD type). */
static int emit_payload(struct strait_dedupe_encoder *e,
			const uint8_t *const *parts, const uint32_t *lens,
			unsigned n, uint32_t bytes, uint32_t check, bool raw,
			uint8_t *type, struct out *o)
{
	uint8_t *plen;
	unsigned i;

	put_u32(o->p, check);
	plen = o->p + 4;
	o->p += 8;
	if (raw) {
		*type += 1; /* *_RAW follows *_ZSTD */
		for (i = 0; i < n; i++) {
			memcpy(o->p, parts[i], lens[i]);
			o->p += lens[i];
		}
		e->st.literal_raw += bytes;
	} else {
		uint8_t *at = o->p;

		if (compress_parts(e, parts, lens, n, o))
			return -EIO;
		e->st.literal_zstd += bytes;
		e->z_in += bytes;
		e->z_out += (uint64_t)(o->p - at);
		if (e->z_in > (16u << 20)) {
			e->z_in >>= 1;
			e->z_out >>= 1;
		}
	}
	put_u32(plen, (uint32_t)(o->p - plen - 4));
	return 0;
}

static int emit_batch(struct strait_dedupe_encoder *e, uint32_t flow,
		      struct out *o)
{
	const uint8_t *parts[STRAIT_DEDUPE_BATCH_CHUNKS];
	uint32_t lens[STRAIT_DEDUPE_BATCH_CHUNKS];
	uint8_t *type = o->p;
	uint32_t check = 0;
	unsigned i;

	*type = STRAIT_DEDUPE_REC_LITERAL_ZSTD;
	o->p++;
	o->p += put_varint(o->p, flow);
	o->p += put_varint(o->p, e->batch_skip);
	o->p += put_varint(o->p, e->batch_n);
	for (i = 0; i < e->batch_n; i++) {
		const struct log_entry *ent = &e->log.ent[e->batch_idx[i]];

		parts[i] = e->log.data + ent->off;
		lens[i] = ent->len;
		check = check_fold(check, ent->check);
		o->p += put_varint(o->p, ent->len);
	}
	i = e->batch_n;
	e->batch_n = 0;
	return emit_payload(e, parts, lens, i, e->batch_bytes, check,
			    e->batch_raw, type, o);
}

static int emit_pending(struct strait_dedupe_encoder *e, uint32_t flow,
			struct out *o)
{
	if (e->run_count)
		emit_run(e, flow, o);
	if (e->batch_n)
		return emit_batch(e, flow, o);
	return 0;
}

static int emit_tentative(struct strait_dedupe_encoder *e,
			  struct strait_dedupe_flow *f, uint32_t len,
			  struct out *o)
{
	const uint8_t *part = f->buf + f->tent;
	uint8_t *type = o->p;

	*type = STRAIT_DEDUPE_REC_TENTATIVE_ZSTD;
	o->p++;
	o->p += put_varint(o->p, f->id);
	o->p += put_varint(o->p, len);
	e->st.tentative += len;
	f->tent += len;
	return emit_payload(e, &part, &len, 1, len,
			    check_fold(0, (uint32_t)XXH3_128bits(part, len).high64),
			    incompressible(e, part, len), type, o);
}

/* ---- per chunk ---- */

static uint32_t lookup(const struct strait_dedupe_encoder *e,
		       const struct slot *b, uint32_t tag, uint32_t check,
		       const uint8_t *chunk, uint32_t len)
{
	for (int s = 0; s < SLOTS; s++) {
		uint32_t idx = b[s].idx;
		const struct log_entry *ent;

		if (b[s].tag != tag || idx == EMPTY ||
		    log_age(&e->log, idx) >= e->log.count)
			continue;
		ent = &e->log.ent[idx];
		if (ent->check != check || ent->len != len)
			continue;
		log_readahead(&e->log, ent->off, len);
		if (memcmp(e->log.data + ent->off, chunk, len) == 0)
			return idx;
	}
	return EMPTY;
}

int strait_dedupe_encoder_probe(const struct strait_dedupe_encoder *e,
				const uint8_t *chunk, size_t len)
{
	XXH128_hash_t fp = XXH3_128bits(chunk, len);
	const struct slot *b = &e->index[(fp.low64 & e->bucket_mask) * SLOTS];

	return lookup(e, b, (uint32_t)(fp.low64 >> 32), (uint32_t)fp.high64,
		      chunk, (uint32_t)len) != EMPTY;
}

static void index_insert(struct strait_dedupe_encoder *e, struct slot *b,
			 uint32_t tag, uint32_t idx)
{
	int victim = 0;
	uint32_t oldest = UINT32_MAX;

	for (int s = 0; s < SLOTS; s++) {
		uint32_t age;

		if (b[s].idx == EMPTY ||
		    (age = log_age(&e->log, b[s].idx)) >= e->log.count) {
			victim = s;
			break;
		}
		if (age < oldest)
			oldest = age, victim = s;
	}
	b[victim].tag = tag;
	b[victim].idx = idx;
}

/* Entries [*lo, *hi] around idx that lie one after another in the log: a
 * DELTA base of up to STRAIT_DEDUPE_DELTA_BASE_ENTRIES entries (one before
 * idx, the rest after, as the log holds what followed the base chunk). */
static uint64_t delta_base(const struct dedupe_log *l, uint32_t idx,
			   uint32_t *lo, uint32_t *hi)
{
	const struct log_entry *ent = l->ent;
	uint32_t age = log_age(l, idx), n = 1;
	uint64_t bytes = ent[idx].len;

	*lo = *hi = idx;
	if (age > 0) {
		uint32_t p = log_idx_add(l, idx, l->max_ent - 1);

		if (ent[p].off + ent[p].len == ent[idx].off &&
		    bytes + ent[p].len <= DELTA_BASE_MAX) {
			*lo = p;
			bytes += ent[p].len;
			n++;
		}
	}
	while (n < STRAIT_DEDUPE_DELTA_BASE_ENTRIES && age + 1 < l->count) {
		uint32_t q = log_idx_add(l, *hi, 1);

		if (ent[*hi].off + ent[*hi].len != ent[q].off ||
		    bytes + ent[q].len > DELTA_BASE_MAX)
			break;
		*hi = q;
		bytes += ent[q].len;
		age++;
		n++;
	}
	return bytes;
}

/* The DELTA of a chunk against the base around entry `like` into buf:
 * its length, or 0 if it would take cap bytes or more. */
static size_t delta_try(struct strait_dedupe_encoder *e, const uint8_t *chunk,
			uint32_t len, uint32_t like, size_t cap, uint8_t *buf,
			struct delta_pick *d)
{
	uint64_t blen = delta_base(&e->log, like, &d->lo, &d->hi);

	e->st.delta_tries++;
	d->like = like;
	d->ops = buf;
	d->n = 0;
	log_readahead(&e->log, e->log.ent[d->lo].off, (uint32_t)blen);
	/* a base loaded from a cache file is checked before use: the decoder
	 * holds the right bytes, or refuses the base itself */
	for (uint32_t i = d->lo;; i = log_idx_add(&e->log, i, 1)) {
		if (unlikely(log_unverified(&e->log, i)) && !log_verify(&e->log, i))
			return 0;
		if (i == d->hi)
			break;
	}
	d->n = delta_encode(e->dw, e->log.data + e->log.ent[d->lo].off, blen,
			    chunk, len, buf, cap);
	return d->n;
}

/* Emits the DELTA record d (after what is pending) and inserts the chunk. */
static int delta_emit(struct strait_dedupe_encoder *e, uint32_t flow,
		      const uint8_t *chunk, uint32_t len, uint32_t skip,
		      XXH128_hash_t fp, const struct delta_pick *d,
		      struct out *o)
{
	uint32_t check = (uint32_t)fp.high64;
	const struct log_entry *ent = e->log.ent;
	uint32_t count, dist, base_check = 0, idx;
	uint8_t *p;
	int rc;

	if (e->run_count)
		emit_run(e, flow, o);
	if (e->batch_n && (rc = emit_batch(e, flow, o)))
		return rc;
	count = (uint32_t)((d->hi + (uint64_t)e->log.max_ent - d->lo) %
			   e->log.max_ent) + 1;
	dist = (uint32_t)((e->log.next + (uint64_t)e->log.max_ent - d->lo) %
			  e->log.max_ent);
	if (dist == 0)
		dist = e->log.max_ent;
	for (uint32_t i = 0, j = d->lo; i < count;
	     i++, j = log_idx_add(&e->log, j, 1))
		base_check = check_fold(base_check, ent[j].check);
	p = o->p;
	*p++ = STRAIT_DEDUPE_REC_DELTA;
	p += put_varint(p, flow);
	p += put_varint(p, skip);
	p += put_varint(p, dist);
	p += put_varint(p, count);
	put_u32(p, base_check);
	p += 4;
	p += put_varint(p, len);
	put_u32(p, check_fold(0, check));
	p += 4;
	p += put_varint(p, d->n);
	memcpy(p, d->ops, d->n);
	p += d->n;
	e->st.deltas++;
	e->st.delta_bytes += len - skip;
	e->st.delta_out += (uint64_t)(p - o->p);
	o->p = p;
	idx = log_insert(&e->log, len);
	memcpy(e->log.data + e->log.ent[idx].off, chunk, len);
	log_seal(&e->log, idx, check, fp.low64);
	if (e->frame_entries < UINT32_MAX)
		e->frame_entries++;
	return 0;
}

/* True if the entry lies within the literal stream's window of the log's
 * head: zstd's own matches reach it (when both went through zstd), so a
 * DELTA against it would mostly pay for what zstd finds anyway (measured:
 * without this rule the full send grew by 0.6 MB). */
static bool recent(const struct strait_dedupe_encoder *e, uint32_t idx)
{
	uint64_t off = e->log.ent[idx].off, head = e->log.head;
	uint64_t back = head >= off ? head - off : head + e->log.cap - off;

	/* inserted before the frame began (a log loaded from a cache file, a
	 * level step): not in zstd's window, whatever its distance */
	if (e->log.count - 1 - log_age(&e->log, idx) >= e->frame_entries)
		return false;
	return back <= (1ull << strait_dedupe_window_log(&e->p));
}

/* Sends the chunk as a DELTA if one costs less than 7/8 of a literal: 1
 * if sent (and inserted into the log), 0 if not, <0 an error. Two bases
 * are tried: the entry after the last DELTA's base (writes that follow
 * each other in the log usually rewrite what followed each other there:
 * locality), and the most similar entry by super-features; the second
 * only if the first's DELTA is not already small. */
static int try_delta(struct strait_dedupe_encoder *e, uint32_t flow,
		     const uint8_t *chunk, uint32_t len, uint32_t skip,
		     XXH128_hash_t fp, bool raw, uint32_t like, struct out *o)
{
	double ratio = e->z_in ? (double)e->z_out / (double)e->z_in : RATIO_START;
	double literal = raw ? len : len * ratio;
	uint32_t next = e->delta_next;
	struct delta_pick a, b, *best = NULL;
	size_t cap;
	int rc;

	if (literal * 7 / 8 <= DELTA_HEAD + 8)
		return 0;
	cap = (size_t)(literal * 7 / 8) - DELTA_HEAD;
	if (cap > len - 1)
		cap = len - 1; /* ops_len < length: the decoder's rule */
	if (next == EMPTY || log_age(&e->log, next) >= e->log.count)
		next = EMPTY;
	if (next != EMPTY && delta_try(e, chunk, len, next, cap, e->ops, &a)) {
		best = &a;
		cap = a.n;
	}
	if (like != EMPTY && like != next && (!best || best->n * 32 > len) &&
	    (best || raw || !recent(e, like)) &&
	    delta_try(e, chunk, len, like, cap, e->ops2, &b))
		best = &b;
	if (!best) {
		e->delta_next = EMPTY; /* the run of similar chunks ended */
		return 0;
	}
	if ((rc = delta_emit(e, flow, chunk, len, skip, fp, best, o)))
		return rc;
	e->delta_next = log_idx_add(&e->log, best->like, 1);
	return 1;
}

static int process_chunk(struct strait_dedupe_encoder *e, uint32_t flow,
			 const struct chunk_scan *sc, const uint8_t *chunk,
			 uint32_t len, uint32_t skip, struct out *o)
{
	XXH128_hash_t fp = XXH3_128bits(chunk, len);
	uint32_t check = (uint32_t)fp.high64;
	uint32_t tag = (uint32_t)(fp.low64 >> 32);
	struct slot *b = &e->index[(fp.low64 & e->bucket_mask) * SLOTS];
	uint32_t idx = lookup(e, b, tag, check, chunk, len), like = EMPTY;
	uint64_t key[RESEMBLE_KEYS];
	bool raw, have_keys;
	int rc;

	if (idx != EMPTY) {
		e->st.hits++;
		if (e->batch_n && (rc = emit_batch(e, flow, o)))
			return rc;
		if (e->run_count && !skip &&
		    idx == log_idx_add(&e->log, e->run_first, e->run_count)) {
			e->run_count++;
			e->run_check = check_fold(e->run_check, check);
			return 0;
		}
		if (e->run_count)
			emit_run(e, flow, o);
		e->run_first = idx;
		e->run_count = 1;
		e->run_skip = skip;
		e->run_check = check_fold(0, check);
		return 0;
	}
	raw = incompressible(e, chunk, len);
	have_keys = resemble_features(sc, key);
	if (have_keys)
		like = resemble_lookup(&e->rs, &e->log, key);
	if (like != EMPTY || e->delta_next != EMPTY) {
		rc = try_delta(e, flow, chunk, len, skip, fp, raw, like, o);
		if (rc < 0)
			return rc;
		if (rc) {
			idx = log_idx_add(&e->log, e->log.next, e->log.max_ent - 1);
			index_insert(e, b, tag, idx);
			resemble_insert(&e->rs, &e->log, key, idx);
			return 0;
		}
	}
	e->st.misses++;
	if (e->run_count)
		emit_run(e, flow, o);
	/* a batch is all raw or all zstd: a change of kind ends it */
	if (e->batch_n && (e->batch_n == STRAIT_DEDUPE_BATCH_CHUNKS ||
			   e->batch_bytes + len > STRAIT_DEDUPE_BATCH_BYTES ||
			   skip || raw != e->batch_raw) &&
	    (rc = emit_batch(e, flow, o)))
		return rc;
	idx = log_insert(&e->log, len);
	memcpy(e->log.data + e->log.ent[idx].off, chunk, len);
	log_seal(&e->log, idx, check, fp.low64);
	if (e->frame_entries < UINT32_MAX)
		e->frame_entries++;
	index_insert(e, b, tag, idx);
	if (have_keys)
		resemble_insert(&e->rs, &e->log, key, idx);
	if (!e->batch_n) {
		e->batch_skip = skip;
		e->batch_bytes = 0;
		e->batch_raw = raw;
	}
	e->batch_idx[e->batch_n++] = idx;
	e->batch_bytes += len;
	return 0;
}

void strait_dedupe_encoder_set_rate(struct strait_dedupe_encoder *e,
				    uint64_t bytes_per_second)
{
	if (!e->rate || !bytes_per_second)
		for (e->step = e->top; e->step > 0 && ladder[e->step] > e->p.level;
		     e->step--)
			;
	e->rate = bytes_per_second;
	e->busy_ns = e->zstd_ns = e->win_in = e->win_out = 0;
}

/* Every DECIDE_BYTES of input: one ladder step towards the level at which
 * the encoder makes output as fast as it drains. Down only when zstd took
 * a tenth of the time or more: output that is small because the input
 * deduplicated says nothing about the level. */
static void follow_rate(struct strait_dedupe_encoder *e, uint64_t t0,
			size_t in, size_t out)
{
	double made;

	e->busy_ns += now_ns() - t0;
	e->win_in += in;
	e->win_out += out;
	if (e->win_in < DECIDE_BYTES || !e->busy_ns)
		return;
	made = (double)e->win_out * 1e9 / (double)e->busy_ns;
	if (made > (double)e->rate * STEP_UP && e->step < e->top) {
		e->step++;
		e->st.level_changes++;
	} else if (made < (double)e->rate * STEP_DOWN && e->step > 0 &&
		   e->zstd_ns * 10 >= e->busy_ns) {
		e->step--;
		e->st.level_changes++;
	}
	e->busy_ns = e->zstd_ns = e->win_in = e->win_out = 0;
}

int strait_dedupe_encode(struct strait_dedupe_encoder *e,
			 struct strait_dedupe_flow *f, const void *in_,
			 size_t in_len, enum strait_dedupe_mode mode,
			 uint64_t budget, void *out, size_t out_cap,
			 struct strait_dedupe_encode_result *r)
{
	const uint8_t *in = in_;
	struct out o = { out, (uint8_t *)out + out_cap };
	uint64_t decoded = 0, t0 = e->rate ? now_ns() : 0;
	size_t pos = 0;
	bool split = false;
	int rc = 0;

	memset(r, 0, sizeof(*r));
	if (out_cap < strait_dedupe_encode_bound(e, in_len))
		return -ENOBUFS;
	if (f->max != e->p.max_chunk || f->min != e->p.min_chunk ||
	    f->avg != e->p.avg_chunk)
		return -EINVAL;
	if (e->header_due) {
		struct strait_dedupe_state st;

		strait_dedupe_encoder_state(e, &st);
		strait_dedupe_header_write(o.p, &e->p, &st);
		o.p += STRAIT_DEDUPE_HEADER_SIZE;
		e->header_due = false;
	}
	e->batch_n = 0;
	e->run_count = 0;

	for (;;) {
		const uint8_t *chunk;
		size_t cut;
		uint32_t skip = 0;

		if (f->plen) {
			/* the partial chunk grows in the flow's buffer */
			size_t take = f->max - f->plen;
			bool final;

			if (take > in_len - pos)
				take = in_len - pos;
			if (take)
				memcpy(f->buf + f->plen, in + pos, take);
			final = mode == STRAIT_DEDUPE_END && pos + take == in_len;
			cut = chunker_find(&e->cc, f->buf, f->plen + take,
					   &f->scan, final);
			if (!cut) {
				f->plen += (uint32_t)take;
				pos += take;
				break;
			}
			if (decoded + cut - f->tent > budget) {
				/* hold the whole chunk; send what fits, tentatively */
				pos += cut - f->plen;
				f->plen = (uint32_t)cut;
				split = true;
				break;
			}
			if (cut == f->tent) {
				/* all of it went out tentatively (a flush, then
				 * END with nothing more): there is nothing left to
				 * output, so no commit; neither log inserts it */
				pos += cut - f->plen;
				f->plen = 0;
				f->tent = 0;
				continue;
			}
			skip = f->tent;
			pos += cut - f->plen;
			chunk = f->buf;
			f->plen = 0;
			f->tent = 0;
		} else {
			if (pos == in_len)
				break;
			cut = chunker_find(&e->cc, in + pos, in_len - pos,
					   &f->scan, mode == STRAIT_DEDUPE_END);
			if (!cut) {
				memcpy(f->buf, in + pos, in_len - pos);
				f->plen = (uint32_t)(in_len - pos);
				pos = in_len;
				break;
			}
			if (decoded + cut > budget) {
				memcpy(f->buf, in + pos, cut);
				f->plen = (uint32_t)cut;
				pos += cut;
				split = true;
				break;
			}
			chunk = in + pos;
			pos += cut;
		}
		rc = process_chunk(e, f->id, &f->scan, chunk, (uint32_t)cut,
				   skip, &o);
		if (rc)
			goto out;
		decoded += cut - skip;
	}
	rc = emit_pending(e, f->id, &o);
	if (rc)
		goto out;
	/* A partial chunk goes out tentatively when the caller flushes, or when
	 * the next chunk is larger than the credit left (so any budget >= 1
	 * makes progress); its commit later skips what was sent. */
	if ((split || (mode == STRAIT_DEDUPE_FLUSH && pos == in_len)) &&
	    f->plen > f->tent && decoded < budget) {
		uint64_t len = f->plen - f->tent;

		if (len > budget - decoded)
			len = budget - decoded;
		rc = emit_tentative(e, f, (uint32_t)len, &o);
		decoded += len;
	}
out:
	r->in_used = pos;
	r->out_len = (size_t)(o.p - (uint8_t *)out);
	r->decoded = decoded;
	if (e->rate)
		follow_rate(e, t0, pos, r->out_len);
	return rc;
}
