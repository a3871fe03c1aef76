/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * strait/dedupe.h - deduplicating, compressing stream codec.
 *
 * One encoder and one decoder per direction of a tenant channel. Each holds
 * the direction's redundancy cache log and its zstd context in one
 * caller-provided workspace (size function + init into it, no allocation
 * afterwards). Flows are multiplexed over one direction: each flow has its
 * own chunker state (struct strait_dedupe_flow, also caller memory) and its
 * records carry the flow's id, so records of several flows interleave in one
 * stream. The decoder keeps no per-flow state.
 *
 * Pipeline (encoder), per flow:
 *
 *   bytes -> gear-hash CDC (FastCDC normalized) -> chunk (+ samples)
 *         -> XXH3-128 fingerprint -> index lookup -> memcmp with the log
 *            hit:  reference (consecutive hits collapse into one run)
 *            miss: insert into the log, and
 *              resembles a cached chunk (super-features, resemblance
 *              index) and the difference is small: DELTA against it
 *              otherwise: literal batch (<= 64 chunks, <= 256 KiB, all of
 *                  one kind) -> zstd stream flush, or raw when each
 *                  chunk's sampled byte entropy says it is incompressible
 *
 * The mirrored cache log
 * ----------------------
 * A ring of `capacity` bytes. Every committed chunk (every chunk of a
 * LITERAL record) is appended at the head in stream order; a chunk that does
 * not fit before the end of the ring starts again at offset 0 (the tail gap
 * stays unused). Entries whose bytes the new chunk overlaps are evicted,
 * oldest first; when the entry table is full (capacity / min_chunk + 128
 * entries) the oldest entry is evicted too. Both ends run the same rule on
 * the same records, so a chunk has the same serial number and offset at both
 * ends. Referenced chunks are NOT re-inserted (see README: measured).
 * Chunks are named by serial: the n-th inserted chunk of an epoch has serial
 * n; a reference carries the distance back from the next serial (1 = newest).
 * The decoder keeps, per entry, offset, length and a 32-bit check taken from
 * the chunk's XXH3-128 fingerprint (the high 64 bits, truncated); it has no
 * hash index. The encoder adds a hash index (8-way, one cache line per
 * bucket, {tag, entry} slots, 2 slots per avg_chunk of capacity; lossy: a
 * full bucket drops its oldest slot) and a resemblance index of the same
 * shape holding 6 features per chunk (bottom-k of its content-defined
 * samples, dedupe/resemble.c).
 *
 * Chunk boundaries, and so every reference, follow from the gear table in
 * dedupe/gear.h and the mask rule in dedupe/chunker.c: both are part of the
 * format (the golden stream in tests/dedupe/golden/ pins them).
 *
 * Wire format (version 2: version 1 plus DELTA records, the literal window
 * rule and the log state in the header). All integers little-endian;
 * "varint" is LEB128 (7 bits per byte, low first, at most 10 bytes, no
 * overlong encoding).
 *
 * Stream header, 48 bytes, first in every stream, after every epoch reset
 * and at every channel (re)start:
 *   0  4  magic "STRD"
 *   4  1  version (2)
 *   5  1  flags (0)
 *   6  1  zstd window log of the literal stream: log2(capacity) - 3,
 *          at least 21, at most 27 (2 MiB .. 128 MiB)
 *   7  1  reserved (0)
 *   8  4  min_chunk    12 4 avg_chunk    16 4 max_chunk
 *  20  4  epoch
 *  24  8  cache capacity in bytes
 *  32  8  digest of the log state the records after it start from (0: an
 *         empty log, i.e. a new epoch)
 *  40  4  reserved (0)
 *  44  4  XXH32 (seed 0) of bytes 0..43
 * Every header starts a new zstd frame. Digest 0 starts a new epoch: the
 * decoder empties its log. Any other digest continues a log (one kept in a
 * cache file across restarts): the decoder must hold exactly that (epoch,
 * digest), or it refuses the stream (STRAIT_DEDUPE_E_STATE) and the
 * encoder must start a new epoch.
 * The literal stream is one zstd frame per header (and a new frame when
 * the encoder's level changes, see strait_dedupe_encoder_set_rate), its
 * window 1/8 of the cache: above the minimum the encoder uses zstd's
 * long-distance matching in it.
 *
 * Records, each starting with a type byte:
 *   0x01 LITERAL_ZSTD, 0x02 LITERAL_RAW
 *        varint flow | varint skip | varint n (1..64) | n x varint length
 *        (1..max_chunk, sum <= 256 KiB) | u32 check | u32 payload_len |
 *        payload
 *        The n chunks are inserted into the log in order; check is the fold
 *        (below) of their 32-bit checks and is verified before any byte is
 *        output, so a corrupt literal is never emitted. ZSTD: payload is
 *        the next piece of the direction's single zstd frame, ending at a
 *        flush, and decompresses to exactly sum(length) bytes. RAW: payload
 *        is the bytes (payload_len == sum(length)).
 *   0x03 TENTATIVE_ZSTD, 0x04 TENTATIVE_RAW
 *        varint flow | varint length (1..max_chunk) | u32 check |
 *        u32 payload_len | payload. Bytes of a flow's partial chunk, sent
 *        because the caller flushed (or the flow's credit ended inside a
 *        chunk); output but NOT inserted into the log.
 *        check: the fold of the bytes' own 32-bit check.
 *   0x05 REFERENCE (a run of consecutive references)
 *        varint flow | varint skip | varint distance (1..entries) |
 *        varint count (1..distance) | u32 check
 *        Outputs chunks serial (next - distance) .. + count - 1. check is
 *        the fold of the entries' 32-bit checks: h = 0; for each entry
 *        h = (rotl32(h, 7) ^ check) * 0x9E3779B1.
 *   0x06 DELTA (one chunk made from a base in the log)
 *        varint flow | varint skip | varint distance (1..entries) |
 *        varint count (1..min(distance, 4)) | u32 base_check |
 *        varint length (1..max_chunk) | u32 check | varint ops_len
 *        (1..length) | ops
 *        The base is the concatenation of entries serial (next - distance)
 *        .. + count - 1, which must lie one after another in the log (no
 *        wrap between them); base_check is the fold of their checks, as
 *        in REFERENCE. ops make exactly `length` bytes from the base
 *        (format in dedupe/delta.c: inserted bytes and copies, every copy
 *        inside the base); check is the fold of the result's 32-bit check,
 *        verified before any byte is output. The result is then inserted
 *        into the log like a literal chunk and output from byte `skip`.
 *   0x53 ('S') a stream header (new epoch).
 * skip (LITERAL and REFERENCE) is the COMMIT of a flushed chunk: the first
 * `skip` bytes of the first chunk were already output by TENTATIVE records of
 * that flow, so the record inserts/names the whole chunk but outputs it from
 * byte `skip` (skip < length of the first chunk).
 *
 * The decoder treats its input as hostile: every field is range-checked,
 * references are checked against the live log and their check, literal
 * payloads must decompress to exactly their declared size. A record is fully
 * verified before any of its bytes are output. A cache file is not trusted
 * either: an entry loaded from one is checked against its bytes (its
 * XXH3-128) before it is first output. Errors are sticky until
 * strait_dedupe_decoder_reset().
 */
#ifndef STRAIT_DEDUPE_H
#define STRAIT_DEDUPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum strait_dedupe_limits {
	STRAIT_DEDUPE_VERSION = 2,
	STRAIT_DEDUPE_HEADER_SIZE = 48,
	STRAIT_DEDUPE_WINDOW_LOG_MIN = 21,      /* zstd window of literals: */
	STRAIT_DEDUPE_WINDOW_LOG_MAX = 27,      /* capacity / 8 in between */
	STRAIT_DEDUPE_MIN_CHUNK_LIMIT = 64,     /* smallest min_chunk */
	STRAIT_DEDUPE_MAX_CHUNK_LIMIT = 256 << 10, /* largest max_chunk */
	STRAIT_DEDUPE_BATCH_CHUNKS = 64,        /* chunks per LITERAL record */
	STRAIT_DEDUPE_BATCH_BYTES = 256 << 10,  /* bytes per LITERAL record */
	STRAIT_DEDUPE_MIN_CAPACITY = 1 << 20,
	STRAIT_DEDUPE_EXTRA_ENTRIES = 128,      /* entries beyond cap/min_chunk */
	STRAIT_DEDUPE_DELTA_BASE_ENTRIES = 4,   /* entries in a DELTA's base */
};

enum strait_dedupe_record {
	STRAIT_DEDUPE_REC_LITERAL_ZSTD = 0x01,
	STRAIT_DEDUPE_REC_LITERAL_RAW = 0x02,
	STRAIT_DEDUPE_REC_TENTATIVE_ZSTD = 0x03,
	STRAIT_DEDUPE_REC_TENTATIVE_RAW = 0x04,
	STRAIT_DEDUPE_REC_REFERENCE = 0x05,
	STRAIT_DEDUPE_REC_DELTA = 0x06,
	STRAIT_DEDUPE_REC_HEADER = 0x53,
};

/* Decoder errors (negative return values). Each names one cause. */
enum strait_dedupe_error {
	STRAIT_DEDUPE_E_TRUNCATED = -1001,  /* stream ended inside a record */
	STRAIT_DEDUPE_E_NO_HEADER = -1002,  /* records before a stream header */
	STRAIT_DEDUPE_E_HEADER = -1003,     /* bad magic, reserved bits or check */
	STRAIT_DEDUPE_E_VERSION = -1004,    /* unknown format version */
	STRAIT_DEDUPE_E_PARAMS = -1005,     /* header disagrees with our params */
	STRAIT_DEDUPE_E_TYPE = -1006,       /* unknown record type */
	STRAIT_DEDUPE_E_VARINT = -1007,     /* overlong or too long varint */
	STRAIT_DEDUPE_E_RANGE = -1008,      /* a field out of its range */
	STRAIT_DEDUPE_E_REF = -1009,        /* reference outside the live log */
	STRAIT_DEDUPE_E_CHECK = -1010,      /* reference check mismatch */
	STRAIT_DEDUPE_E_ZSTD = -1011,       /* corrupt compressed payload */
	STRAIT_DEDUPE_E_LENGTH = -1012,     /* payload size != declared size */
	STRAIT_DEDUPE_E_FAILED = -1013,     /* reserved: errors stay sticky by
					     * returning their first code */
	STRAIT_DEDUPE_E_DIGEST = -1014,     /* literal bytes fail their check */
	STRAIT_DEDUPE_E_DELTA = -1015,      /* malformed DELTA instructions */
	STRAIT_DEDUPE_E_STATE = -1016,      /* the stream continues a log state
					     * (epoch, digest) we do not hold */
	STRAIT_DEDUPE_E_CACHE = -1017,      /* bytes of the cache file's log fail
					     * their entry's check (corrupt file) */
};

/* Returns a static string for an error code (negative errno too). */
const char *strait_dedupe_strerror(int err);

struct strait_dedupe_params {
	uint32_t min_chunk;  /* >= 64, < avg_chunk */
	uint32_t avg_chunk;  /* power of two */
	uint32_t max_chunk;  /* > avg_chunk, <= 256 KiB */
	uint64_t capacity;   /* cache log bytes, >= 1 MiB, >= 4 * max_chunk */
	int level;           /* zstd level of literals (not on the wire) */
	int level_max;       /* highest level a drain rate may choose (sizes
			      * the workspace); 0: `level` */
	uint32_t window_log; /* log2 of the literal stream's zstd window (its
			      * memory at each end): 0, 1/8 of capacity (2 to
			      * 128 MiB), or STRAIT_DEDUPE_WINDOW_LOG_MIN up
			      * to that (a memory budget per tenant). The
			      * encoder's goes in the stream header; a decoder
			      * refuses a stream with a larger window than its
			      * own (STRAIT_DEDUPE_E_PARAMS). */
};

/* Fills the defaults (see README: chosen by measurement). */
void strait_dedupe_params_default(struct strait_dedupe_params *p);
/* 0 if usable, -EINVAL otherwise. */
int strait_dedupe_params_check(const struct strait_dedupe_params *p);
/* The largest literal window of a cache of `capacity` bytes, also its
 * default, as log2: 1/8 of capacity, STRAIT_DEDUPE_WINDOW_LOG_MIN to _MAX
 * (measured: see README; a capacity too small for a cache, 0 included,
 * gives the smallest). Inline so that the configuration can check a
 * tenant's CacheWindow by the codec's rule without linking the codec. */
static inline unsigned strait_dedupe_window_log_max(uint64_t capacity)
{
	int w = capacity ? 63 - __builtin_clzll(capacity) - 3 : 0;

	return w < STRAIT_DEDUPE_WINDOW_LOG_MIN ? STRAIT_DEDUPE_WINDOW_LOG_MIN :
	       w > STRAIT_DEDUPE_WINDOW_LOG_MAX ? STRAIT_DEDUPE_WINDOW_LOG_MAX : (unsigned)w;
}

/* The same in bytes: 2 MiB to 128 MiB. */
static inline uint64_t strait_dedupe_window_max(uint64_t capacity)
{
	return 1ull << strait_dedupe_window_log_max(capacity);
}

/* The literal window a codec of p runs with, as log2: its budget
 * (window_log), or for 0 the default, which is also the largest. */
static inline unsigned strait_dedupe_window_log(const struct strait_dedupe_params *p)
{
	return p->window_log ? p->window_log : strait_dedupe_window_log_max(p->capacity);
}

/* A log's state, as the stream header and a cache file carry it: the
 * epoch and a digest of the entries inserted in it (0: empty). Two logs
 * with the same params and state hold the same entries. */
struct strait_dedupe_state {
	uint32_t epoch;
	uint64_t digest;
};

/* Writes a stream header (STRAIT_DEDUPE_HEADER_SIZE bytes). */
void strait_dedupe_header_write(uint8_t out[STRAIT_DEDUPE_HEADER_SIZE],
				const struct strait_dedupe_params *p,
				const struct strait_dedupe_state *s);
/* Parses a stream header into *p (level left 0) and *s. 0 or an error. */
int strait_dedupe_header_parse(const uint8_t *in, size_t len,
			       struct strait_dedupe_params *p,
			       struct strait_dedupe_state *s);

/* ---- Encoder (one per direction) ---- */

struct strait_dedupe_encoder;
struct strait_dedupe_flow;

/* Workspace bytes for an encoder with these params (0 if invalid). */
size_t strait_dedupe_encoder_size(const struct strait_dedupe_params *p);
/* Builds an encoder in mem (8-byte aligned, >= encoder_size bytes, owned by
 * the caller and untouched by the library outside these calls). Never
 * allocates. NULL if the params are invalid or size is too small. */
struct strait_dedupe_encoder *
strait_dedupe_encoder_init(void *mem, size_t size,
			   const struct strait_dedupe_params *p,
			   uint32_t epoch);
/* Epoch reset: empties the log, starts a new zstd frame; the next encode
 * call emits a header with the new epoch first. Flow states must be
 * re-initialised by the caller (their partial chunks belong to the old
 * epoch); the caller resends from its raw bytes. */
void strait_dedupe_encoder_reset(struct strait_dedupe_encoder *e,
				 uint32_t epoch);
/* The log's state: what the next stream header carries. */
void strait_dedupe_encoder_state(const struct strait_dedupe_encoder *e,
				 struct strait_dedupe_state *s);
/* Channel (re)start: given the state the peer's decoder reports, the next
 * encode call starts with a header that continues the log if the peer
 * holds our state, or else starts a new epoch (epoch + 1, empty log).
 * Either way a new zstd frame begins, and flows must be re-initialised as
 * after a reset. Returns 1 if the log continues, 0 for a new epoch. */
int strait_dedupe_encoder_restart(struct strait_dedupe_encoder *e,
				  const struct strait_dedupe_state *peer);

/* Per-flow chunker state: bytes and init. The flow is bound to encoders
 * with the same chunk params. */
size_t strait_dedupe_flow_size(const struct strait_dedupe_params *p);
struct strait_dedupe_flow *strait_dedupe_flow_init(void *mem, size_t size,
						   const struct strait_dedupe_params *p,
						   uint32_t flow_id);
/* Bytes held in the flow's partial chunk (not yet committed). */
size_t strait_dedupe_flow_pending(const struct strait_dedupe_flow *f);

enum strait_dedupe_mode {
	STRAIT_DEDUPE_CONTINUE = 0, /* keep a partial chunk for later */
	STRAIT_DEDUPE_FLUSH = 1,    /* also send the partial chunk, tentative */
	STRAIT_DEDUPE_END = 2,      /* end of flow: the rest is a last chunk */
};

struct strait_dedupe_encode_result {
	size_t in_used;    /* input bytes consumed */
	size_t out_len;    /* record bytes written */
	uint64_t decoded;  /* bytes these records decode to (for credit) */
};

/* Upper bound of out_len for one encode call given in_len input bytes. */
size_t strait_dedupe_encode_bound(const struct strait_dedupe_encoder *e,
				  size_t in_len);

/* Encodes up to in_len bytes of flow f. Records decode to at most `budget`
 * bytes (the flow's credit; UINT64_MAX for no limit): runs end at the last
 * chunk that fits, and a chunk larger than the credit left is held in the
 * flow and sent tentatively up to the credit (committed later), so any
 * budget >= 1 makes progress. Input beyond the budget is left unconsumed
 * (r->in_used < in_len); the mode applies only once all input is used.
 * A chunk held back for lack of credit counts as used input: with FLUSH or
 * END, call again with the same mode (and 0 more bytes) while
 * strait_dedupe_flow_pending(f) is non-zero and credit allows.
 * out_cap must be >= strait_dedupe_encode_bound(e, in_len). Input and
 * output are the caller's; the flow copies at most one partial chunk.
 * Returns 0; -ENOBUFS (out_cap too small, nothing done); -EINVAL (the flow
 * was made for other chunk params, nothing done); -EIO (zstd failed inside
 * a literal record: out_len counts a partial record and the log already
 * holds the batch, so the caller must reset the encoder to a new epoch). */
int strait_dedupe_encode(struct strait_dedupe_encoder *e,
			 struct strait_dedupe_flow *f, const void *in,
			 size_t in_len, enum strait_dedupe_mode mode,
			 uint64_t budget, void *out, size_t out_cap,
			 struct strait_dedupe_encode_result *r);

/* Adaptive literal level. The caller tells the encoder how fast its output
 * drains (the WAN's rate for this direction, bytes per second); the
 * encoder then times its own work (CLOCK_MONOTONIC around each encode
 * call) and, every 2 MiB of input, compares the rate at which it produces
 * output with the drain rate: faster by 15% or more, it moves one step up
 * the ladder (more CPU, fewer bytes: the link is the bottleneck); slower
 * by 15% or more, one step down (the encoder is the bottleneck). Ladder:
 * raw (no compression), zstd -7, -3, 1, 3, 6, 9, 12, 15, 19, up to
 * level_max. A step between zstd levels ends the literal stream's zstd
 * frame and starts the next at the new level (the decoder follows without
 * being told). 0 (the default) keeps params.level and reads no clock. */
void strait_dedupe_encoder_set_rate(struct strait_dedupe_encoder *e,
				    uint64_t bytes_per_second);

struct strait_dedupe_cache_stats {
	uint64_t capacity;
	uint64_t used_bytes;     /* bytes of live entries */
	uint64_t head;           /* offset in the log of the next insertion */
	uint64_t entries;        /* live entries */
	uint64_t index_bytes;    /* entry table + hash index */
	uint64_t hits;           /* chunks sent as references */
	uint64_t misses;         /* chunks sent as literals */
	uint64_t literal_raw;    /* literal bytes sent raw (incompressible) */
	uint64_t literal_zstd;   /* literal bytes sent through zstd */
	uint64_t tentative;      /* bytes sent tentatively */
	uint64_t deltas;         /* chunks sent as DELTA */
	uint64_t delta_bytes;    /* their bytes (decoded) */
	uint64_t delta_out;      /* DELTA record bytes */
	uint64_t delta_tries;    /* chunks a DELTA was computed for */
	int level;               /* literal level now (INT_MIN: raw) */
	uint64_t level_changes;  /* steps taken by the drain rate */
};
void strait_dedupe_encoder_stats(const struct strait_dedupe_encoder *e,
				 struct strait_dedupe_cache_stats *s);

/* ---- Decoder (one per direction) ---- */

struct strait_dedupe_decoder;

size_t strait_dedupe_decoder_size(const struct strait_dedupe_params *p);
/* Same ownership rules as the encoder. Expects a stream header first. */
struct strait_dedupe_decoder *
strait_dedupe_decoder_init(void *mem, size_t size,
			   const struct strait_dedupe_params *p);
/* Epoch reset (also clears a sticky error): empties the log, drops a
 * partial record and pending output; expects a stream header next. */
void strait_dedupe_decoder_reset(struct strait_dedupe_decoder *d);
/* The log's state, to report to the encoder at channel start. */
void strait_dedupe_decoder_state(const struct strait_dedupe_decoder *d,
				 struct strait_dedupe_state *s);

struct strait_dedupe_decode_result {
	size_t in_used;   /* input bytes consumed (always all, unless out full) */
	size_t out_len;   /* bytes written to out, all of flow `flow` */
	uint32_t flow;    /* the flow whose bytes are in out (if out_len > 0) */
	uint32_t epoch;   /* epoch of the stream being decoded */
};

/* Decodes records from in into out. One call outputs bytes of one flow
 * only; it stops when out is full, when the next bytes belong to another
 * flow, or when the input is used up. A reference may expand far beyond
 * out_cap: decoding resumes mid-record on the next call. A partial record at
 * the end of in is kept (copied) and completed by later calls.
 * Returns 1 if it stopped with output pending or input unconsumed (call
 * again, with the rest of the input), 0 if all input is consumed and no
 * output is pending, or a negative strait_dedupe_error (sticky). On an
 * error, r->out_len bytes decoded from earlier, verified records are still
 * in out (and good); nothing of the failed record is. */
int strait_dedupe_decode(struct strait_dedupe_decoder *d, const void *in,
			 size_t in_len, void *out, size_t out_cap,
			 struct strait_dedupe_decode_result *r);
/* Zero-copy variant: instead of copying, points segs[0..*nsegs) at up to
 * max_bytes of output of one record (one flow) held in the decoder's
 * memory, valid until the next call on d; the output counts as delivered.
 * Same return values; r->out_len is the bytes the segments hold. */
struct strait_dedupe_segment {
	const uint8_t *p;
	size_t len;
};
int strait_dedupe_decode_segments(struct strait_dedupe_decoder *d,
				  const void *in, size_t in_len,
				  size_t max_bytes,
				  struct strait_dedupe_segment *segs,
				  unsigned max_segs, unsigned *nsegs,
				  struct strait_dedupe_decode_result *r);

/* At end of stream: 0 if it ended on a record boundary with nothing
 * pending, 1 if output is still pending (call decode), otherwise
 * STRAIT_DEDUPE_E_TRUNCATED, STRAIT_DEDUPE_E_NO_HEADER or the sticky error. */
int strait_dedupe_decode_finish(const struct strait_dedupe_decoder *d);

void strait_dedupe_decoder_stats(const struct strait_dedupe_decoder *d,
				 struct strait_dedupe_cache_stats *s);

/* ---- Cache file: a direction's log that survives restarts ----
 *
 * The log ring and its entry table live in a file (on an SSD), mapped
 * shared: a restarted encoder or decoder continues with the log the last
 * one committed, and the log can be larger than memory (the page cache
 * holds its hot part; the encoder's hash index stays in the workspace and
 * is rebuilt from the file's fingerprints). Format and write ordering:
 * dedupe/cache_file.c and README. A file that is torn (its writer stopped
 * between commits), truncated or corrupt fails its checks and is replaced
 * by an empty cache, with a message: it is never trusted, and the decoder
 * checks each entry it loaded against its bytes before outputting them.
 * One process at a time holds a file (flock).
 */
struct strait_dedupe_cache_file;

enum strait_dedupe_cache_status {
	STRAIT_DEDUPE_CACHE_CREATED = 0,   /* no file (or empty): a new cache */
	STRAIT_DEDUPE_CACHE_LOADED = 1,    /* the file's committed log */
	STRAIT_DEDUPE_CACHE_DISCARDED = 2, /* unusable (the message says why):
					    * an empty cache in its place */
};

enum strait_dedupe_cache_flags {
	/* only look: no creating, no replacing (status says what an open
	 * for writing would do) */
	STRAIT_DEDUPE_CACHE_READONLY = 1,
};

/* Opens the cache file at path, creating it (mode 0600) if needed. want:
 * the params to use (a file of other params is replaced), or NULL to take
 * the file's (then -ENOENT if it is missing or unusable). Sets *status and
 * writes one line about it to msg. Returns 0, or -errno if the file cannot
 * be opened, locked (-EBUSY), created or mapped (msg says why). Setup
 * only: it allocates, maps and syncs. */
int strait_dedupe_cache_file_open(const char *path,
				  const struct strait_dedupe_params *want,
				  unsigned flags,
				  struct strait_dedupe_cache_file **out,
				  enum strait_dedupe_cache_status *status,
				  char *msg, size_t msg_len);
/* The committed params, state and sizes (capacity, used_bytes, entries).
 * -ENODATA for a read-only open of an unusable file. Each may be NULL. */
int strait_dedupe_cache_file_info(const struct strait_dedupe_cache_file *cf,
				  struct strait_dedupe_params *p,
				  struct strait_dedupe_state *s,
				  struct strait_dedupe_cache_stats *st);
/* Reads every live entry's bytes and checks them against its fingerprint:
 * 0, or -EBADMSG with *bad_entries set. */
int strait_dedupe_cache_file_verify(const struct strait_dedupe_cache_file *cf,
				    uint64_t *bad_entries);
/* Asks the kernel to populate the ring's pages [off, off + len) (offsets
 * in the log, wrapping at its end) for writing, without writing them: a
 * helper thread calls it ahead of the log's head (stats.head) so that the
 * codec does not stop on the first touch of each page. 0 or -errno. */
int strait_dedupe_cache_file_prefault(const struct strait_dedupe_cache_file *cf,
				      uint64_t off, uint64_t len);
/* Starts writing back the ring's pages [off, off + len) (wrapping) and
 * the entry table's, without waiting: a helper thread calls it behind the
 * head, so that pages the codec wrote become clean (the page cache can
 * drop them: a log larger than memory) and a commit has little left to
 * sync. 0 or -errno. */
int strait_dedupe_cache_file_writeback(const struct strait_dedupe_cache_file *cf,
				       uint64_t off, uint64_t len);
/* Unmaps and closes, without committing. */
void strait_dedupe_cache_file_close(struct strait_dedupe_cache_file *cf);

/* Workspace and init of an encoder or decoder whose log is the cache
 * file's (the workspace holds the rest: index, zstd, buffers). p must
 * have the file's chunk params and capacity (NULL otherwise). It continues
 * the file's state (strait_dedupe_*_state). The file must stay open while
 * the encoder or decoder is used, and serves one of them only. */
size_t strait_dedupe_encoder_size_cached(const struct strait_dedupe_params *p);
struct strait_dedupe_encoder *
strait_dedupe_encoder_init_cached(void *mem, size_t size,
				  const struct strait_dedupe_params *p,
				  struct strait_dedupe_cache_file *cf);
size_t strait_dedupe_decoder_size_cached(const struct strait_dedupe_params *p);
struct strait_dedupe_decoder *
strait_dedupe_decoder_init_cached(void *mem, size_t size,
				  const struct strait_dedupe_params *p,
				  struct strait_dedupe_cache_file *cf);
/* Makes the log's current state the file's: syncs the changed pages, then
 * the commit record. Call it where both ends are at the same point of the
 * stream (the end of a stream; a quiet channel): a restart continues from
 * the last commit. 0, -EINVAL without a file, or -errno of a failed write
 * (also of an earlier one: the file is then discarded at the next open). */
int strait_dedupe_encoder_commit(struct strait_dedupe_encoder *e);
int strait_dedupe_decoder_commit(struct strait_dedupe_decoder *d);

/* ---- Stages, exposed for tests and the stage benchmark ---- */

/* 1 if the encoder's cache holds this exact chunk (fingerprint, index
 * lookup, byte comparison: what the encoder does per chunk), else 0. */
int strait_dedupe_encoder_probe(const struct strait_dedupe_encoder *e,
				const uint8_t *chunk, size_t len);

/* Length of the next chunk of p[0..len) as the encoder would cut it when
 * len bytes are all there is (a last chunk is cut at len). */
size_t strait_dedupe_chunk_next(const struct strait_dedupe_params *p,
				const uint8_t *data, size_t len);

#ifdef __cplusplus
}
#endif
#endif
