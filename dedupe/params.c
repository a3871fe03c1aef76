/* SPDX-License-Identifier: BSD-3-Clause */
/* params.c - codec parameters, the stream header, error strings. */
#include <errno.h>

#include <xxhash.h>

#include "dedupe_internal.h"

void strait_dedupe_params_default(struct strait_dedupe_params *p)
{
	/* measured on the replication workload: see README, section dedupe */
	p->min_chunk = 1024;
	p->avg_chunk = 2048;
	p->max_chunk = 16384;
	p->capacity = 1ULL << 30;
	p->level = 3;
	p->level_max = 0;
	p->window_log = 0;
}

int strait_dedupe_params_check(const struct strait_dedupe_params *p)
{
	if (p->avg_chunk == 0 || (p->avg_chunk & (p->avg_chunk - 1)))
		return -EINVAL;
	if (p->min_chunk < STRAIT_DEDUPE_MIN_CHUNK_LIMIT ||
	    p->min_chunk >= p->avg_chunk || p->max_chunk <= p->avg_chunk ||
	    p->max_chunk > STRAIT_DEDUPE_MAX_CHUNK_LIMIT)
		return -EINVAL;
	if (p->capacity < STRAIT_DEDUPE_MIN_CAPACITY ||
	    p->capacity < 4ULL * p->max_chunk ||
	    p->capacity / p->min_chunk > (1ULL << 31))
		return -EINVAL;
	if (p->window_log && (p->window_log < STRAIT_DEDUPE_WINDOW_LOG_MIN ||
			      p->window_log > strait_dedupe_window_log_max(p->capacity)))
		return -EINVAL;
	return 0;
}

void strait_dedupe_header_write(uint8_t out[STRAIT_DEDUPE_HEADER_SIZE],
				const struct strait_dedupe_params *p,
				const struct strait_dedupe_state *s)
{
	memcpy(out, "STRD", 4);
	out[4] = STRAIT_DEDUPE_VERSION;
	out[5] = 0;
	out[6] = (uint8_t)strait_dedupe_window_log(p);
	out[7] = 0;
	put_u32(out + 8, p->min_chunk);
	put_u32(out + 12, p->avg_chunk);
	put_u32(out + 16, p->max_chunk);
	put_u32(out + 20, s->epoch);
	put_u64(out + 24, p->capacity);
	put_u64(out + 32, s->digest);
	put_u32(out + 40, 0);
	put_u32(out + 44, XXH32(out, 44, 0));
}

int strait_dedupe_header_parse(const uint8_t *in, size_t len,
			       struct strait_dedupe_params *p,
			       struct strait_dedupe_state *s)
{
	if (len < STRAIT_DEDUPE_HEADER_SIZE)
		return STRAIT_DEDUPE_E_TRUNCATED;
	if (memcmp(in, "STRD", 4) != 0 ||
	    get_u32(in + 44) != XXH32(in, 44, 0))
		return STRAIT_DEDUPE_E_HEADER;
	if (in[4] != STRAIT_DEDUPE_VERSION)
		return STRAIT_DEDUPE_E_VERSION;
	if (in[5] != 0 || in[7] != 0 || get_u32(in + 40) != 0)
		return STRAIT_DEDUPE_E_HEADER;
	p->min_chunk = get_u32(in + 8);
	p->avg_chunk = get_u32(in + 12);
	p->max_chunk = get_u32(in + 16);
	p->capacity = get_u64(in + 24);
	p->level = 0;
	p->level_max = 0;
	p->window_log = in[6];
	s->epoch = get_u32(in + 20);
	s->digest = get_u64(in + 32);
	if (in[6] < STRAIT_DEDUPE_WINDOW_LOG_MIN)
		return STRAIT_DEDUPE_E_HEADER;
	if (strait_dedupe_params_check(p))
		return STRAIT_DEDUPE_E_PARAMS;
	return 0;
}

const char *strait_dedupe_strerror(int err)
{
	switch (err) {
	case 0: return "success";
	case STRAIT_DEDUPE_E_TRUNCATED: return "stream truncated inside a record";
	case STRAIT_DEDUPE_E_NO_HEADER: return "no stream header";
	case STRAIT_DEDUPE_E_HEADER: return "bad stream header";
	case STRAIT_DEDUPE_E_VERSION: return "unsupported format version";
	case STRAIT_DEDUPE_E_PARAMS: return "stream parameters do not match ours";
	case STRAIT_DEDUPE_E_TYPE: return "unknown record type";
	case STRAIT_DEDUPE_E_VARINT: return "malformed varint";
	case STRAIT_DEDUPE_E_RANGE: return "record field out of range";
	case STRAIT_DEDUPE_E_REF: return "reference outside the cache log";
	case STRAIT_DEDUPE_E_CHECK: return "reference check mismatch";
	case STRAIT_DEDUPE_E_ZSTD: return "corrupt compressed literal";
	case STRAIT_DEDUPE_E_LENGTH: return "literal size mismatch";
	case STRAIT_DEDUPE_E_FAILED: return "decoder failed earlier";
	case STRAIT_DEDUPE_E_DIGEST: return "literal check mismatch";
	case STRAIT_DEDUPE_E_DELTA: return "malformed delta";
	case STRAIT_DEDUPE_E_STATE: return "the stream continues a cache state this decoder does not hold";
	case STRAIT_DEDUPE_E_CACHE: return "cache log bytes fail their check (corrupt cache file)";
	case -ENOBUFS: return "output buffer too small";
	case -EINVAL: return "invalid argument";
	case -EIO: return "compressor error";
	default: return "unknown error";
	}
}
