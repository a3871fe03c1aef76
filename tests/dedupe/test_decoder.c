/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_decoder.c - hostile input: each case is a stream (a valid header and
 * a valid 300-byte literal, then the case's bytes) and the one error it must
 * produce. Every case also checks that the decoder wrote exactly the valid
 * prefix's 300 bytes: nothing from the bad record, nothing wrong. Each case
 * runs with the stream given whole and one byte at a time.
 */
#define ZSTD_STATIC_LINKING_ONLY
#include <xxhash.h>
#include <zstd.h>

#include "helpers.h"

#define CAP (1u << 20)
#define GOOD 300

static struct codec c;
static uint8_t good[GOOD];

static void setup(void)
{
	codec_open(&c, CAP, 256, 1024, 4096);
	for (int i = 0; i < GOOD; i++)
		good[i] = (uint8_t)('A' + i % 26);
}

static void teardown(void)
{
	codec_close(&c);
}

static void put_header_state(struct buf *b, uint64_t cap, uint8_t version,
			     bool bad_check, uint64_t digest)
{
	struct strait_dedupe_params p = c.p;
	uint8_t h[STRAIT_DEDUPE_HEADER_SIZE];

	p.capacity = cap;
	strait_dedupe_header_write(h, &p, &(struct strait_dedupe_state){ 1, digest });
	if (version != STRAIT_DEDUPE_VERSION) {
		h[4] = version;
		uint32_t x = XXH32(h, 44, 0);
		memcpy(h + 44, &x, 4);
	}
	if (bad_check)
		h[44] ^= 1;
	buf_put(b, h, sizeof(h));
}

static void put_header(struct buf *b, uint64_t cap, uint8_t version, bool bad_check)
{
	put_header_state(b, cap, version, bad_check, 0);
}

static uint32_t fold1(const void *p, size_t n)
{
	return (uint32_t)XXH3_128bits(p, n).high64 * 0x9E3779B1u;
}

static uint32_t good_check(void)
{
	return fold1(good, GOOD);
}

/* A valid LITERAL_RAW record of one chunk (n < 16384). */
static void put_raw(struct buf *b, const uint8_t *p, size_t n)
{
	uint8_t h[16];
	size_t k = 0;
	uint32_t x = fold1(p, n), pl = (uint32_t)n;

	h[k++] = 0x02;
	h[k++] = 0;
	h[k++] = 0;
	h[k++] = 1;
	if (n >= 128) {
		h[k++] = (uint8_t)(n | 0x80);
		h[k++] = (uint8_t)(n >> 7);
	} else {
		h[k++] = (uint8_t)n;
	}
	memcpy(h + k, &x, 4);
	memcpy(h + k + 4, &pl, 4);
	buf_put(b, h, k + 8);
	buf_put(b, p, n);
}

static void put_prefix(struct buf *b)
{
	put_header(b, CAP, STRAIT_DEDUPE_VERSION, false);
	put_raw(b, good, GOOD);
}

/* One flushed zstd piece of n bytes, as the encoder's first record makes. */
static size_t zpiece(size_t n, uint8_t *dst, size_t cap)
{
	ZSTD_CCtx *z = ZSTD_createCCtx();
	uint8_t src[1024];
	ZSTD_outBuffer ob = { dst, cap, 0 };
	ZSTD_inBuffer ib = { src, n, 0 };

	memset(src, 'z', sizeof(src));
	ZSTD_CCtx_setParameter(z, ZSTD_c_windowLog, STRAIT_DEDUPE_WINDOW_LOG_MIN);
	while (ZSTD_compressStream2(z, &ob, &ib, ZSTD_e_flush))
		;
	ZSTD_freeCCtx(z);
	return ob.pos;
}

/* A record with a zstd payload of `real` bytes declared as `declared`. */
static void put_zrec(struct buf *b, uint8_t type, size_t real, size_t declared)
{
	uint8_t pl[2048], h[20];
	size_t n = zpiece(real, pl, sizeof(pl)), k = 0;

	h[k++] = type;
	h[k++] = 0;                      /* flow */
	if (type == STRAIT_DEDUPE_REC_LITERAL_ZSTD) {
		h[k++] = 0;              /* skip */
		h[k++] = 1;              /* n */
	}
	if (declared >= 128) {
		h[k++] = (uint8_t)(declared | 0x80);
		h[k++] = (uint8_t)(declared >> 7);
	} else {
		h[k++] = (uint8_t)declared;
	}
	memset(h + k, 0, 4);   /* check: never reached, sizes fail first */
	k += 4;
	h[k++] = (uint8_t)n;
	h[k++] = (uint8_t)(n >> 8);
	h[k++] = 0;
	h[k++] = 0;
	buf_put(b, h, k);
	buf_put(b, pl, n);
}

static void put_ref(struct buf *b, uint8_t skip_lo, uint8_t skip_hi,
		    uint8_t dist, uint8_t count, uint32_t check)
{
	uint8_t r[] = { 0x05, 0, skip_lo, skip_hi, dist, count, 0, 0, 0, 0 };
	size_t k = skip_hi ? 10 : 9;

	if (!skip_hi) { /* one-byte skip: shift the rest left */
		memmove(r + 3, r + 4, 6);
	}
	memcpy(r + k - 4, &check, 4);
	buf_put(b, r, k);
}

enum build {
	B_BYTES, B_ZLIT_SHORT, B_ZLIT_LONG, B_REF_BADCHECK, B_REF_SKIP,
	B_HDR_PARAMS, B_HDR_CHECK, B_HDR_VERSION, B_REF_OK_THEN_BAD,
	B_HDR_OLD_VERSION, B_HDR_STATE,
};

struct tcase {
	int id;
	enum build build;
	int expect;
	size_t n;
	uint8_t bytes[24];
};

#define T(id, b, e, ...) { id, b, e, sizeof((uint8_t[]){ __VA_ARGS__ }), { __VA_ARGS__ } }

static const struct tcase cases[] = {
	T(1, B_BYTES, STRAIT_DEDUPE_E_TYPE, 0x07),                       /* unknown type */
	T(2, B_BYTES, STRAIT_DEDUPE_E_TYPE, 0x00),                       /* type 0 */
	T(3, B_BYTES, STRAIT_DEDUPE_E_VARINT, 0x02, 0x80, 0x00),         /* overlong flow */
	T(4, B_BYTES, STRAIT_DEDUPE_E_VARINT, 0x05, 0, 0xff, 0xff, 0xff, 0xff, 0xff,
	  0xff, 0xff, 0xff, 0xff, 0x7f),                                 /* 10-byte varint > 2^64 */
	T(5, B_BYTES, STRAIT_DEDUPE_E_RANGE, 0x05, 0x80, 0x80, 0x80, 0x80, 0x10), /* flow 2^32 */
	T(6, B_BYTES, STRAIT_DEDUPE_E_RANGE, 0x02, 0, 0, 0),             /* n = 0 */
	T(7, B_BYTES, STRAIT_DEDUPE_E_RANGE, 0x02, 0, 0, 65),            /* n = 65 */
	T(8, B_BYTES, STRAIT_DEDUPE_E_RANGE, 0x02, 0, 0, 1, 0),          /* length 0 */
	T(9, B_BYTES, STRAIT_DEDUPE_E_RANGE, 0x02, 0, 0, 1, 0x81, 0x20), /* length 4097 > max */
	T(10, B_BYTES, STRAIT_DEDUPE_E_RANGE, 0x02, 0, 5, 1, 5, 5, 0, 0, 0), /* skip = length */
	T(11, B_BYTES, STRAIT_DEDUPE_E_LENGTH, 0x02, 0, 0, 1, 5, 0, 0, 0, 0, 4, 0, 0, 0,
	  'a', 'b', 'c', 'd'),                                           /* raw 4 != 5 */
	T(12, B_BYTES, STRAIT_DEDUPE_E_RANGE, 0x01, 0, 0, 1, 5, 0, 0, 0, 0,
	  0xff, 0xff, 0xff, 0x7f),                                       /* huge payload */
	T(13, B_BYTES, STRAIT_DEDUPE_E_RANGE, 0x03, 0, 0),               /* tentative length 0 */
	T(14, B_BYTES, STRAIT_DEDUPE_E_REF, 0x05, 0, 0, 2, 1, 0, 0, 0, 0), /* distance 2 > 1 entry */
	T(15, B_BYTES, STRAIT_DEDUPE_E_RANGE, 0x05, 0, 0, 1, 2, 0, 0, 0, 0), /* count 2 > distance 1 */
	T(16, B_BYTES, STRAIT_DEDUPE_E_RANGE, 0x05, 0, 0, 0, 0, 0, 0, 0, 0), /* distance 0 */
	T(17, B_REF_BADCHECK, STRAIT_DEDUPE_E_CHECK),                    /* forged check */
	T(18, B_REF_SKIP, STRAIT_DEDUPE_E_RANGE),                        /* skip 300 >= chunk */
	T(19, B_BYTES, STRAIT_DEDUPE_E_RANGE, 0x05, 0, 0x80, 0x20, 1, 1, 0, 0, 0, 0), /* skip >= max */
	T(20, B_BYTES, STRAIT_DEDUPE_E_ZSTD, 0x01, 0, 0, 1, 5, 0, 0, 0, 0, 8, 0, 0, 0,
	  1, 2, 3, 4, 5, 6, 7, 8),                                       /* not zstd */
	T(21, B_ZLIT_SHORT, STRAIT_DEDUPE_E_LENGTH),                     /* zstd 100 for 200 */
	T(22, B_ZLIT_LONG, STRAIT_DEDUPE_E_LENGTH),                      /* zstd 200 for 100 */
	T(23, B_BYTES, STRAIT_DEDUPE_E_ZSTD, 0x03, 0, 5, 0, 0, 0, 0, 8, 0, 0, 0,
	  9, 9, 9, 9, 9, 9, 9, 9), /* tentative not zstd */
	T(24, B_BYTES, STRAIT_DEDUPE_E_TRUNCATED, 0x02, 0, 0, 1, 5, 0, 0, 0, 0,
	  5, 0, 0, 0, 'a'),                                              /* cut payload */
	T(25, B_BYTES, STRAIT_DEDUPE_E_TRUNCATED, 0x05, 0, 0),           /* cut header */
	T(26, B_HDR_PARAMS, STRAIT_DEDUPE_E_PARAMS),                     /* new epoch, other capacity */
	T(27, B_HDR_CHECK, STRAIT_DEDUPE_E_HEADER),                      /* header check */
	T(28, B_HDR_VERSION, STRAIT_DEDUPE_E_VERSION),                   /* a later version */
	T(29, B_REF_OK_THEN_BAD, STRAIT_DEDUPE_E_CHECK),                 /* run with one bad check */
	T(30, B_BYTES, STRAIT_DEDUPE_E_LENGTH, 0x04, 0, 3, 0, 0, 0, 0, 2, 0, 0, 0, 1, 2), /* raw tentative 2 != 3 */
	T(31, B_BYTES, STRAIT_DEDUPE_E_DIGEST, 0x02, 0, 0, 1, 3, 0, 0, 0, 0, 3, 0, 0, 0,
	  'a', 'b', 'c'),                                                /* literal bytes forged */
	T(32, B_BYTES, STRAIT_DEDUPE_E_DIGEST, 0x04, 0, 3, 0, 0, 0, 0, 3, 0, 0, 0,
	  'a', 'b', 'c'),                                                /* tentative bytes forged */
	T(33, B_HDR_OLD_VERSION, STRAIT_DEDUPE_E_VERSION),               /* version 1: no DELTA */
	T(34, B_HDR_STATE, STRAIT_DEDUPE_E_STATE),                       /* continues a log not ours */
};

static void build(const struct tcase *t, struct buf *b, size_t *want_out)
{
	put_prefix(b);
	*want_out = GOOD;
	switch (t->build) {
	case B_BYTES:
		buf_put(b, t->bytes, t->n);
		break;
	case B_ZLIT_SHORT:
		put_zrec(b, STRAIT_DEDUPE_REC_LITERAL_ZSTD, 100, 200);
		break;
	case B_ZLIT_LONG:
		put_zrec(b, STRAIT_DEDUPE_REC_LITERAL_ZSTD, 200, 100);
		break;
	case B_REF_BADCHECK:
		put_ref(b, 0, 0, 1, 1, good_check() ^ 0x100);
		break;
	case B_REF_SKIP:
		put_ref(b, 0xAC, 0x02, 1, 1, good_check());
		break;
	case B_HDR_PARAMS:
		put_header(b, 2 * CAP, STRAIT_DEDUPE_VERSION, false);
		break;
	case B_HDR_CHECK:
		put_header(b, CAP, STRAIT_DEDUPE_VERSION, true);
		break;
	case B_HDR_VERSION:
		put_header(b, CAP, STRAIT_DEDUPE_VERSION + 1, false);
		break;
	case B_HDR_OLD_VERSION:
		put_header(b, CAP, 1, false);
		break;
	case B_HDR_STATE:
		put_header_state(b, CAP, STRAIT_DEDUPE_VERSION, false, 0x5EED);
		break;
	case B_REF_OK_THEN_BAD:
		/* a good reference outputs; then a run of 2 whose fold is off */
		put_ref(b, 0, 0, 1, 1, good_check());
		*want_out = 2 * GOOD;
		put_raw(b, (const uint8_t *)"vwxyz", 5);
		*want_out += 5;
		put_ref(b, 0, 0, 2, 2, 12345);
		break;
	}
}

static size_t varint(uint8_t *p, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

/* A DELTA record: flow 0, the given fields, ops as they are. */
static void put_delta(struct buf *b, uint64_t skip, uint64_t dist,
		      uint64_t count, uint32_t base_check, uint64_t len,
		      uint32_t check, const uint8_t *ops, size_t n)
{
	uint8_t h[64];
	size_t k = 0;

	h[k++] = STRAIT_DEDUPE_REC_DELTA;
	h[k++] = 0;
	k += varint(h + k, skip);
	k += varint(h + k, dist);
	k += varint(h + k, count);
	memcpy(h + k, &base_check, 4);
	k += 4;
	k += varint(h + k, len);
	memcpy(h + k, &check, 4);
	k += 4;
	k += varint(h + k, n);
	buf_put(b, h, k);
	buf_put(b, ops, n);
}

struct dcase {
	int id;
	uint64_t skip, dist, count, len;
	bool forged_base;   /* base_check off by one bit */
	int expect;
	size_t n;
	uint8_t ops[16];
};

#define D(id, skip, dist, count, len, forged, e, ...) \
	{ id, skip, dist, count, len, forged, e, \
	  sizeof((uint8_t[]){ __VA_ARGS__ }), { __VA_ARGS__ } }

/* ops: lit_len, lit bytes, copy_len, zigzag adj (see dedupe/delta.c).
 * The result check is never right here: every case fails before it. */
static const struct dcase dcases[] = {
	D(35, 0, 2, 1, 10, false, STRAIT_DEDUPE_E_REF, 0, 10, 0),      /* base beyond the log */
	D(36, 0, 1, 0, 10, false, STRAIT_DEDUPE_E_RANGE, 0, 10, 0),    /* count 0 */
	D(37, 0, 1, 2, 10, false, STRAIT_DEDUPE_E_RANGE, 0, 10, 0),    /* count > distance */
	D(38, 0, 5, 5, 10, false, STRAIT_DEDUPE_E_RANGE, 0, 10, 0),    /* count > 4 entries */
	D(39, 0, 0, 1, 10, false, STRAIT_DEDUPE_E_RANGE, 0, 10, 0),    /* distance 0 */
	D(40, 0, 1, 1, 10, true, STRAIT_DEDUPE_E_CHECK, 0, 10, 0),     /* forged base check */
	D(41, 0, 1, 1, 0, false, STRAIT_DEDUPE_E_RANGE, 0),            /* length 0 */
	D(42, 0, 1, 1, 4097, false, STRAIT_DEDUPE_E_RANGE, 0, 10, 0),  /* length > max_chunk */
	D(43, 10, 1, 1, 10, false, STRAIT_DEDUPE_E_RANGE, 0, 10, 0),   /* skip = length */
	D(44, 0, 1, 1, 10, false, STRAIT_DEDUPE_E_RANGE),              /* no instructions */
	D(45, 0, 1, 1, 2, false, STRAIT_DEDUPE_E_RANGE, 0, 2, 0),      /* ops longer than result */
	D(46, 0, 1, 1, 301, false, STRAIT_DEDUPE_E_DELTA, 0, 0xAD, 2, 0), /* copy past the base */
	D(47, 0, 1, 1, 10, false, STRAIT_DEDUPE_E_DELTA, 0, 10, 1),    /* copy before the base */
	D(48, 0, 1, 1, 20, false, STRAIT_DEDUPE_E_DELTA, 0, 10, 0),    /* ends short */
	D(49, 0, 1, 1, 10, false, STRAIT_DEDUPE_E_DELTA, 0, 10, 0, 0), /* bytes after the end */
	D(50, 0, 1, 1, 10, false, STRAIT_DEDUPE_E_DELTA, 11, 'a', 'b', 'c'), /* insert > length */
	D(51, 0, 1, 1, 10, false, STRAIT_DEDUPE_E_DELTA, 1, 'a', 0),   /* copy 0 before the end */
	D(52, 0, 1, 1, 10, false, STRAIT_DEDUPE_E_DELTA, 0, 0),        /* an op adding nothing */
	D(53, 0, 1, 1, 20, false, STRAIT_DEDUPE_E_DELTA, 0, 20, 0xff, 0xff, 0xff, 0xff,
	  0xff, 0xff, 0xff, 0xff, 0xff, 0x01),                          /* adj -2^63 */
	D(54, 0, 1, 1, 20, false, STRAIT_DEDUPE_E_DELTA, 0, 20, 0xfe, 0xff, 0xff, 0xff,
	  0xff, 0xff, 0xff, 0xff, 0xff, 0x01),                          /* adj 2^63 - 1 */
	D(55, 0, 1, 1, 10, false, STRAIT_DEDUPE_E_DELTA, 0x80, 0x00),  /* overlong varint */
	D(56, 0, 1, 1, 300, false, STRAIT_DEDUPE_E_DIGEST, 0, 0xAC, 0x02, 0), /* result forged */
};

TestSuite(decoder, .init = setup, .fini = teardown);

Test(decoder, hostile_deltas)
{
	for (size_t i = 0; i < sizeof(dcases) / sizeof(dcases[0]); i++) {
		const struct dcase *t = &dcases[i];

		for (int piece = 0; piece < 2; piece++) {
			struct buf b = { 0 }, o = { 0 };
			int rc;

			strait_dedupe_decoder_reset(c.dec);
			put_prefix(&b);
			put_delta(&b, t->skip, t->dist, t->count,
				  good_check() ^ (t->forged_base ? 1 : 0), t->len,
				  12345, t->ops, t->n);
			rc = dec_stream(&c, b.p, b.len, piece ? 1 : b.len, 64, &o, 1);
			cr_expect_eq(rc, t->expect, "case %d (%s): got %d (%s), want %s",
				     t->id, piece ? "bytewise" : "whole", rc,
				     strait_dedupe_strerror(rc),
				     strait_dedupe_strerror(t->expect));
			cr_expect_eq(o.len, GOOD, "case %d: %zu bytes out", t->id, o.len);
			cr_expect(o.len < GOOD || !memcmp(o.p, good, GOOD),
				  "case %d: wrong bytes", t->id);
			/* a cut record is never applied */
			strait_dedupe_decoder_reset(c.dec);
			buf_free(&o);
			rc = dec_stream(&c, b.p, b.len - 1, piece ? 1 : b.len - 1, 64, &o, 1);
			if (t->expect != STRAIT_DEDUPE_E_RANGE)
				cr_expect_eq(rc, STRAIT_DEDUPE_E_TRUNCATED, "case %d cut: %d", t->id, rc);
			cr_expect_eq(o.len, GOOD, "case %d cut: %zu bytes out", t->id, o.len);
			buf_free(&b);
			buf_free(&o);
		}
	}
}

Test(decoder, delta_applies)
{
	/* 57: the base is two entries (the prefix's literal and "vwxyz"); the
	 * result keeps 100 bytes, inserts '#', copies the rest, then copies
	 * "xyz" from the second entry, skipping 2 flushed bytes */
	struct buf b = { 0 }, o = { 0 };
	uint8_t want[304], ops[16];
	size_t k = 0;

	memcpy(want, good, 100);
	want[100] = '#';
	memcpy(want + 101, good + 101, 199);
	memcpy(want + 300, "xyz", 3);
	k += varint(ops + k, 0);
	k += varint(ops + k, 100);
	k += varint(ops + k, 0);        /* copy 100 from 0 */
	k += varint(ops + k, 1);
	ops[k++] = '#';
	k += varint(ops + k, 199);
	k += varint(ops + k, 0);        /* insert '#', copy 199 in place */
	k += varint(ops + k, 0);
	k += varint(ops + k, 3);
	k += varint(ops + k, 2 << 1);   /* copy 3 from cursor + 2 */
	put_prefix(&b);
	put_raw(&b, (const uint8_t *)"vwxyz", 5);
	{
		uint32_t c1 = (uint32_t)XXH3_128bits(good, GOOD).high64;
		uint32_t c2 = (uint32_t)XXH3_128bits("vwxyz", 5).high64;
		uint32_t h = c1 * 0x9E3779B1u;

		h = (((h << 7) | (h >> 25)) ^ c2) * 0x9E3779B1u;
		put_delta(&b, 2, 2, 2, h, 303, fold1(want, 303), ops, k);
	}
	for (int piece = 0; piece < 2; piece++) {
		strait_dedupe_decoder_reset(c.dec);
		buf_free(&o);
		cr_assert_eq(dec_stream(&c, b.p, b.len, piece ? 1 : b.len, 7, &o, 1), 0);
		cr_assert_eq(o.len, GOOD + 5 + 301);
		cr_assert(!memcmp(o.p + GOOD + 5, want + 2, 301));
	}
	/* the result is in the log: a reference to it (distance 1) outputs it */
	{
		uint8_t r[10] = { 0x05, 0, 0, 1, 1 };
		uint32_t x = fold1(want, 303);

		memcpy(r + 5, &x, 4);
		buf_put(&b, r, 9);
		strait_dedupe_decoder_reset(c.dec);
		buf_free(&o);
		cr_assert_eq(dec_stream(&c, b.p, b.len, b.len, 64, &o, 1), 0);
		cr_assert_eq(o.len, GOOD + 5 + 301 + 303);
		cr_assert(!memcmp(o.p + GOOD + 5 + 301, want, 303));
	}
	buf_free(&b);
	buf_free(&o);
}

Test(decoder, delta_base_across_the_wrap)
{
	/* 58: two consecutive entries, one at the end of the ring and one at
	 * its start, are not one base: refused, whatever their check */
	struct buf b = { 0 }, o = { 0 };
	uint8_t *blk = malloc(4000);
	uint32_t c1, c2, h;
	size_t nblk = CAP / 4000 + 1;
	uint8_t ops[] = { 0, 10, 0 };

	put_header(&b, CAP, STRAIT_DEDUPE_VERSION, false);
	for (size_t i = 0; i < nblk; i++) {
		fill_random(blk, 4000, 100 + i);
		put_raw(&b, blk, 4000);
	}
	fill_random(blk, 4000, 100 + nblk - 2);
	c1 = (uint32_t)XXH3_128bits(blk, 4000).high64;
	fill_random(blk, 4000, 100 + nblk - 1);
	c2 = (uint32_t)XXH3_128bits(blk, 4000).high64;
	h = c1 * 0x9E3779B1u;
	h = (((h << 7) | (h >> 25)) ^ c2) * 0x9E3779B1u;
	put_delta(&b, 0, 2, 2, h, 10, 0, ops, sizeof(ops));
	cr_assert_eq(dec_stream(&c, b.p, b.len, b.len, 65536, &o, 1), STRAIT_DEDUPE_E_REF);
	cr_assert_eq(o.len, nblk * 4000);
	/* the same two as one-entry bases are fine (up to their own check) */
	buf_free(&o);
	b.len -= 1 + 1 + 1 + 1 + 1 + 4 + 1 + 4 + 1 + sizeof(ops);
	put_delta(&b, 0, 1, 1, c2 * 0x9E3779B1u, 10, fold1(blk, 10), ops, sizeof(ops));
	strait_dedupe_decoder_reset(c.dec);
	cr_assert_eq(dec_stream(&c, b.p, b.len, b.len, 65536, &o, 1), 0);
	cr_assert_eq(o.len, nblk * 4000 + 10);
	cr_assert(!memcmp(o.p + nblk * 4000, blk, 10));
	free(blk);
	buf_free(&b);
	buf_free(&o);
}

Test(decoder, hostile_table)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct tcase *t = &cases[i];

		for (int piece = 0; piece < 2; piece++) {
			struct buf b = { 0 }, o = { 0 };
			size_t want;
			int rc;

			strait_dedupe_decoder_reset(c.dec);
			build(t, &b, &want);
			rc = dec_stream(&c, b.p, b.len, piece ? 1 : b.len, 64, &o, 1);
			cr_expect_eq(rc, t->expect, "case %d (%s): got %d (%s), want %s",
				     t->id, piece ? "bytewise" : "whole", rc,
				     strait_dedupe_strerror(rc),
				     strait_dedupe_strerror(t->expect));
			cr_expect_eq(o.len, want, "case %d: %zu bytes out, want %zu",
				     t->id, o.len, want);
			cr_expect(o.len < GOOD || !memcmp(o.p, good, GOOD),
				  "case %d: wrong bytes", t->id);
			buf_free(&b);
			buf_free(&o);
		}
	}
}

Test(decoder, stream_starts)
{
	struct buf b = { 0 }, o = { 0 };

	/* 41: nothing at all */
	cr_assert_eq(dec_stream(&c, NULL, 0, 1, 64, &o, 1), STRAIT_DEDUPE_E_NO_HEADER);
	/* 42: a record before any header */
	strait_dedupe_decoder_reset(c.dec);
	cr_assert_eq(dec_stream(&c, (const uint8_t *)"\x02\0\0\1\1\1\0\0\0x", 10, 10, 64, &o, 1),
		     STRAIT_DEDUPE_E_NO_HEADER);
	/* 43: not our magic */
	strait_dedupe_decoder_reset(c.dec);
	put_header(&b, CAP, STRAIT_DEDUPE_VERSION, false);
	b.p[3] = 'X';
	cr_assert_eq(dec_stream(&c, b.p, b.len, b.len, 64, &o, 1), STRAIT_DEDUPE_E_HEADER);
	/* 44: cut inside the header */
	strait_dedupe_decoder_reset(c.dec);
	cr_assert_eq(dec_stream(&c, b.p, 20, 20, 64, &o, 1), STRAIT_DEDUPE_E_TRUNCATED);
	/* 45: a header alone is a valid empty stream */
	strait_dedupe_decoder_reset(c.dec);
	b.p[3] = 'D';
	cr_assert_eq(dec_stream(&c, b.p, b.len, 7, 64, &o, 1), 0);
	cr_assert_eq(o.len, 0);
	buf_free(&b);
}

Test(decoder, errors_are_sticky_until_reset)
{
	struct buf b = { 0 }, o = { 0 };
	struct strait_dedupe_decode_result r;
	uint8_t out[64];

	put_prefix(&b);
	buf_put(&b, (uint8_t[]){ 0x09 }, 1);
	cr_assert_eq(dec_stream(&c, b.p, b.len, b.len, 64, &o, 1), STRAIT_DEDUPE_E_TYPE);
	cr_assert_eq(strait_dedupe_decode(c.dec, b.p, STRAIT_DEDUPE_HEADER_SIZE, out, 64, &r),
		     STRAIT_DEDUPE_E_TYPE);
	cr_assert_eq(r.out_len, 0);
	cr_assert_eq(strait_dedupe_decode_finish(c.dec), STRAIT_DEDUPE_E_TYPE);
	strait_dedupe_decoder_reset(c.dec);
	o.len = 0;
	cr_assert_eq(dec_stream(&c, b.p, b.len - 1, 5, 64, &o, 1), 0);
	cr_assert_eq(o.len, GOOD);
	buf_free(&b);
	buf_free(&o);
}

Test(decoder, reference_expands_through_tiny_buffer)
{
	/* a run over the whole log, decoded 3 bytes at a time, resumes
	 * mid-record and mid-chunk */
	struct buf b = { 0 }, o = { 0 };
	struct strait_dedupe_flow *f = flow_new(&c, 9);
	size_t n = 200000;
	uint8_t *d = malloc(n);
	struct buf o10[10] = { 0 };

	fill_random(d, n, 3);
	enc(&c, f, d, n, STRAIT_DEDUPE_END, &b);
	enc(&c, f, d, n, STRAIT_DEDUPE_END, &b);
	cr_assert_eq(dec_stream(&c, b.p, b.len, b.len, 3, o10, 10), 0);
	cr_assert_eq(o10[9].len, 2 * n);
	cr_assert(!memcmp(o10[9].p + n, d, n));
	buf_free(&o10[9]);
	buf_free(&b);
	buf_free(&o);
	free(d);
	free(f);
}
