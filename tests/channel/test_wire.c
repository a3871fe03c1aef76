/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_wire.c - channel frames (dataplane/channel_wire.h).
 *
 * - golden: one frame of every type (DATA's records are opaque bytes here:
 *   the codec's golden stream pins them) must write to exactly the bytes
 *   of golden/stream.strc, and that file must parse back to the same
 *   frames. To change the format on purpose: bump CHAN_VERSION, then
 *   STRAIT_UPDATE_GOLDEN=1 build/tests/channel/test-channel --filter 'wire/golden'.
 * - hostile: a numbered table of broken frames, each with its error.
 * - every truncation of every golden frame asks for more bytes, never
 *   reads past the end (the frames are copied to exact-size buffers).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "channel_wire.h"

#define GOLDEN GOLDEN_DIR "/stream.strc"

static const uint8_t records[] = { 0x53, 0x54, 0x52, 0x44, 1, 2, 3, 4, 5 };

static const struct chan_frame golden_frames[] = {
	{ .type = CHAN_HELLO, .hello = { .version = CHAN_VERSION, .tenant = 7,
	  .epoch = 3, .codec_version = 1, .min_chunk = 1024, .avg_chunk = 2048,
	  .max_chunk = 16384, .capacity = 1ull << 30,
	  .tx_state = { 2, 0x0123456789abcdefull }, .rx_state = { 5, 0xa5a5a5a55a5a5a5aull } } },
	{ .type = CHAN_OPEN, .flow = 0x10, .open = { .af = 4, .nvlan = 1,
	  .syn_flags = CHAN_SYN_SACK | CHAN_SYN_TIMESTAMPS | CHAN_SYN_WSCALE,
	  .wscale = 7, .mss = 1460, .client_port = 40000, .server_port = 873,
	  .tpid = { 0x8100 }, .tci = { 0x0064 },
	  .dst_mac = { 2, 0, 0, 0, 0, 2 }, .src_mac = { 2, 0, 0, 0, 0, 1 },
	  .client = { 198, 18, 0, 10 }, .server = { 198, 18, 0, 20 },
	  .credit = 2u << 20 } },
	{ .type = CHAN_OPEN, .flow = 0x13, .open = { .af = 6, .nvlan = 2,
	  .mss = 1440, .client_port = 1, .server_port = 65535,
	  .tpid = { 0x88a8, 0x8100 }, .tci = { 0x0ffe, 0xe001 },
	  .dst_mac = { 2, 0, 0, 0, 0, 4 }, .src_mac = { 2, 0, 0, 0, 0, 3 },
	  .client = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 },
	  .server = { 0x20, 0x01, 0x0d, 0xb8, [15] = 2 }, .credit = 65536 } },
	{ .type = CHAN_OPENED, .flow = 0x10, .value = 2u << 20 },
	{ .type = CHAN_REFUSED, .flow = 0x12, .refused = { .reason = CHAN_REFUSE_RST } },
	{ .type = CHAN_REFUSED, .flow = 0x14, .refused = { .reason = CHAN_REFUSE_UNREACH,
	  .icmp_type = 3, .icmp_code = 3, .icmp_src = { 198, 18, 1, 1 } } },
	{ .type = CHAN_REFUSED, .flow = 0x16, .refused = { .reason = CHAN_REFUSE_UNREACH,
	  .icmp_type = 1, .icmp_code = 4, .icmp_src = { 0x20, 0x01, 0x0d, 0xb8, [15] = 9 } } },
	{ .type = CHAN_DATA, .flow = 0x10, .data = { .epoch = 3, .offset = 0,
	  .records = records, .len = sizeof(records) } },
	{ .type = CHAN_CREDIT, .flow = 0x10, .value = 0x123456789abcull },
	{ .type = CHAN_DECODED, .flow = 0x10, .value = 9 },
	{ .type = CHAN_CLOSE, .flow = 0x10, .close = { 9, 0xfedcba9876543210ull } },
	{ .type = CHAN_RESET, .flow = 0x13, .value = CHAN_RESET_DIGEST },
	{ .type = CHAN_RESYNC, .resync = { 4, 1010 } },
};

#define NFRAMES (sizeof(golden_frames) / sizeof(golden_frames[0]))

static void frame_eq(const struct chan_frame *a, const struct chan_frame *b, unsigned i)
{
	cr_assert_eq(a->type, b->type, "frame %u", i);
	cr_assert_eq(a->flow, b->flow, "frame %u", i);
	switch (a->type) {
	case CHAN_DATA:
		cr_assert_eq(a->data.epoch, b->data.epoch, "frame %u", i);
		cr_assert_eq(a->data.offset, b->data.offset, "frame %u", i);
		cr_assert_eq(a->data.len, b->data.len, "frame %u", i);
		cr_assert(!memcmp(a->data.records, b->data.records, a->data.len), "frame %u", i);
		break;
	case CHAN_HELLO:
		cr_assert(!memcmp(&a->hello, &b->hello, sizeof(a->hello)), "frame %u", i);
		break;
	case CHAN_OPEN:
		cr_assert(!memcmp(&a->open, &b->open, sizeof(a->open)), "frame %u", i);
		break;
	case CHAN_REFUSED:
		cr_assert(!memcmp(&a->refused, &b->refused, sizeof(a->refused)), "frame %u", i);
		break;
	case CHAN_CLOSE:
		cr_assert(!memcmp(&a->close, &b->close, sizeof(a->close)), "frame %u", i);
		break;
	case CHAN_RESYNC:
		cr_assert_eq(a->resync.epoch, b->resync.epoch, "frame %u", i);
		cr_assert_eq(a->resync.cause, b->resync.cause, "frame %u", i);
		break;
	default:
		cr_assert_eq(a->value, b->value, "frame %u", i);
	}
}

static size_t golden_write(uint8_t *out, size_t cap)
{
	size_t n = 0;

	for (unsigned i = 0; i < NFRAMES; i++) {
		size_t k = chan_frame_write(out + n, cap - n, &golden_frames[i]);

		cr_assert(k, "frame %u (%s) not written", i, chan_type_name(golden_frames[i].type));
		n += k;
	}
	return n;
}

Test(wire, golden)
{
	static uint8_t s[4096], file[4096];
	size_t n = golden_write(s, sizeof(s)), flen, pos = 0;
	FILE *fp;

	if (getenv("STRAIT_UPDATE_GOLDEN")) {
		fp = fopen(GOLDEN, "wb");
		cr_assert(fp && fwrite(s, 1, n, fp) == n && !fclose(fp));
	}
	fp = fopen(GOLDEN, "rb");
	cr_assert(fp, "missing %s", GOLDEN);
	flen = fread(file, 1, sizeof(file), fp);
	fclose(fp);
	/* the file parses to the frames, whatever our writer does */
	for (unsigned i = 0; i < NFRAMES; i++) {
		struct chan_frame f;
		long len = chan_frame_parse(file + pos, flen - pos, &f);

		cr_assert_gt(len, 0, "frame %u: %ld", i, len);
		frame_eq(&f, &golden_frames[i], i);
		pos += (size_t)len;
	}
	cr_assert_eq(pos, flen, "trailing bytes in %s", GOLDEN);
	/* and the writer still writes exactly it */
	cr_assert_eq(n, flen, "wrote %zu bytes, golden %zu", n, flen);
	cr_assert(!memcmp(s, file, n), "written stream differs from golden");
}

/* Every prefix of every frame, in a buffer of exactly that size, asks for
 * more; the whole frame parses to its length. */
Test(wire, truncations)
{
	static uint8_t s[4096];
	size_t n = golden_write(s, sizeof(s)), pos = 0;

	while (pos < n) {
		struct chan_frame f;
		long len = chan_frame_parse(s + pos, n - pos, &f);

		cr_assert_gt(len, 0);
		for (long k = 0; k < len; k++) {
			uint8_t *b = malloc(k ? (size_t)k : 1);

			memcpy(b, s + pos, (size_t)k);
			cr_assert_eq(chan_frame_parse(b, (size_t)k, &f), 0, "type %u cut at %ld",
				     s[pos], k);
			free(b);
		}
		pos += (size_t)len;
	}
}

/* Hostile frames: T(case, expected, bytes...). Each starts from a valid
 * frame with one thing broken. */
struct hostile {
	unsigned id;
	long want;
	size_t len;
	uint8_t b[128];
};

#define T(n, want, ...) { n, want, sizeof((uint8_t[]){ __VA_ARGS__ }), { __VA_ARGS__ } }
#define Z4 0, 0, 0, 0
#define Z8 Z4, Z4
#define Z16 Z8, Z8

static const struct hostile table[] = {
	T(1, CHAN_E_TYPE, 0, 16, 0, 0),                       /* type 0 */
	T(2, CHAN_E_TYPE, 11, 16, 0, 0),                      /* type past RESYNC */
	T(3, CHAN_E_TYPE, 0xff, 0, 0, 0),
	T(4, CHAN_E_LENGTH, CHAN_CREDIT, 15, 0, 0),           /* short body */
	T(5, CHAN_E_LENGTH, CHAN_CREDIT, 17, 0, 0),           /* long body */
	T(6, CHAN_E_LENGTH, CHAN_DATA, 16, 0, 0),             /* DATA without records */
	T(7, CHAN_E_LENGTH, CHAN_DATA, 0x11, 0x00, 0x10),     /* 1 MiB + 17: one over */
	T(8, CHAN_E_LENGTH, CHAN_HELLO, 0xff, 0xff, 0xff),    /* 16 MiB HELLO, at once */
	T(9, CHAN_E_MAGIC, CHAN_HELLO, 64, 0, 0, 'S', 'T', 'R', 'D', 2, 0, Z16, Z16, 0, 0, Z16, Z8),
	/* version 1: a HELLO without the log states (an older peer) */
	T(10, CHAN_E_VERSION, CHAN_HELLO, 64, 0, 0, 'S', 'T', 'R', 'C', 1, 0, Z16, Z16, 0, 0, Z16, Z8),
	T(11, CHAN_E_RESERVED, CHAN_HELLO, 64, 0, 0, 'S', 'T', 'R', 'C', 2, 0, 0, 1, Z16, Z16, Z16, Z8),
	/* a literal window log the codec does not run (0: the default, 21..27) */
	T(39, CHAN_E_FIELD, CHAN_HELLO, 64, 0, 0, 'S', 'T', 'R', 'C', 2, 0, 1, 0, Z16, Z16, Z16, Z8),
	T(40, CHAN_E_FIELD, CHAN_HELLO, 64, 0, 0, 'S', 'T', 'R', 'C', 2, 0, 20, 0, Z16, Z16, Z16, Z8),
	T(41, CHAN_E_FIELD, CHAN_HELLO, 64, 0, 0, 'S', 'T', 'R', 'C', 2, 0, 28, 0, Z16, Z16, Z16, Z8),
	T(12, CHAN_E_RESERVED, CHAN_CREDIT, 16, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, Z8),
	T(13, CHAN_E_RESERVED, CHAN_DECODED, 16, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x80, Z8),
	T(14, CHAN_E_RESERVED, CHAN_OPENED, 16, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, Z8),
	T(15, CHAN_E_RESERVED, CHAN_CLOSE, 24, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, Z16),
	T(16, CHAN_E_RESERVED, CHAN_RESET, 8, 0, 0, 1, 0, 0, 0, 1, 0, 0, 1),
	T(17, CHAN_E_FIELD, CHAN_RESET, 8, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0),   /* reason 0 */
	T(18, CHAN_E_FIELD, CHAN_RESET, 8, 0, 0, 1, 0, 0, 0, 6, 0, 0, 0),   /* reason 6 */
	T(19, CHAN_E_RESERVED, CHAN_RESYNC, 8, 0, 0, 2, 0, 0, 0, 0xf2, 3, 1, 0),
	T(20, CHAN_E_FIELD, CHAN_REFUSED, 24, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, Z16), /* reason 0 */
	T(21, CHAN_E_FIELD, CHAN_REFUSED, 24, 0, 0, 1, 0, 0, 0, 6, 0, 0, 0, Z16), /* reason 6 */
	T(22, CHAN_E_FIELD, CHAN_REFUSED, 24, 0, 0, 1, 0, 0, 0, 1, 3, 3, 0, Z16), /* ICMP with RST */
	T(23, CHAN_E_FIELD, CHAN_REFUSED, 24, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, Z16), /* UNREACH type 0 */
	T(24, CHAN_E_FIELD, CHAN_REFUSED, 24, 0, 0, 1, 0, 0, 0, 2, 3, 16, 0, Z16),/* code 16 */
	T(25, CHAN_E_FIELD, CHAN_REFUSED, 24, 0, 0, 1, 0, 0, 0, 2, 1, 8, 0, Z16), /* ICMPv6 code 8 */
	T(26, CHAN_E_RESERVED, CHAN_REFUSED, 24, 0, 0, 1, 0, 0, 0, 1, 0, 0, 1, Z16),
	/* an ICMP source with a refusal that is not an ICMP */
	T(37, CHAN_E_FIELD, CHAN_REFUSED, 24, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 198, 0, 0, 1, Z4, Z8),
	/* an IPv4 ICMP's source with bytes past its 4 */
	T(38, CHAN_E_FIELD, CHAN_REFUSED, 24, 0, 0, 1, 0, 0, 0, 2, 3, 1, 0, 198, 18, 1, 1, 1, Z8, 0, 0, 0),
	/* OPEN: 0 flow | 4 af | 5 nvlan | 6 syn | 7 wscale | 8 mss | 10 cport
	 * | 12 sport | 14 rsv | 16 tpid[2] | 20 tci[2] | 24 macs | 36 addrs */
#define OPEN_HEAD(af, nv, syn, ws, rsv) CHAN_OPEN, 76, 0, 0, 1, 0, 0, 0, af, nv, syn, ws, \
	0xb4, 0x05, 0x40, 0x9c, 0x69, 0x03, rsv, 0
	T(27, CHAN_E_FIELD, OPEN_HEAD(5, 0, 0, 0, 0), Z16, Z16, Z16, Z16, Z8, Z4, Z4),  /* af 5 */
	T(28, CHAN_E_FIELD, OPEN_HEAD(4, 3, 0, 0, 0), Z16, Z16, Z16, Z16, Z8, Z4, Z4),  /* 3 VLANs */
	T(29, CHAN_E_FIELD, OPEN_HEAD(4, 0, 8, 0, 0), Z16, Z16, Z16, Z16, Z8, Z4, Z4),  /* SYN bit 3 */
	T(30, CHAN_E_FIELD, OPEN_HEAD(4, 0, 4, 15, 0), Z16, Z16, Z16, Z16, Z8, Z4, Z4), /* wscale 15 */
	T(31, CHAN_E_FIELD, OPEN_HEAD(4, 0, 0, 3, 0), Z16, Z16, Z16, Z16, Z8, Z4, Z4),  /* wscale w/o flag */
	T(32, CHAN_E_RESERVED, OPEN_HEAD(4, 0, 0, 0, 1), Z16, Z16, Z16, Z16, Z8, Z4, Z4),
	T(33, CHAN_E_FIELD, OPEN_HEAD(4, 1, 0, 0, 0), Z16, Z16, Z16, Z16, Z8, Z4, Z4),  /* TPID 0 */
	T(34, CHAN_E_FIELD, OPEN_HEAD(4, 0, 0, 0, 0), 0, 0, 0, 0, 1, 0, 0, 0, Z8, /* TCI, no tag */
	  Z16, Z16, Z16, Z8),
	T(35, CHAN_E_FIELD, OPEN_HEAD(4, 0, 0, 0, 0), Z4, Z4, Z4, Z4, Z4, /* v4 client with bits past 4 */
	  198, 18, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, Z16, Z8),
	T(36, CHAN_E_FIELD, CHAN_OPEN, 76, 0, 0, 1, 0, 0, 0, 4, 0, 0, 0, 0xb4, 5, 0, 0, 0x69, 3, /* port 0 */
	  0, 0, Z16, Z16, Z16, Z16, Z8),
};

Test(wire, hostile)
{
	for (unsigned i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		const struct hostile *h = &table[i];
		uint8_t *b = malloc(h->len);
		struct chan_frame f;
		long rc;

		memcpy(b, h->b, h->len);
		rc = chan_frame_parse(b, h->len, &f);
		cr_expect_eq(rc, h->want, "case %u: %ld (%s), want %ld (%s)", h->id, rc,
			     chan_wire_strerror((int)rc), h->want, chan_wire_strerror((int)h->want));
		free(b);
	}
}

/* The writer refuses what the parser would refuse. */
Test(wire, writer_refuses)
{
	uint8_t b[128];
	struct chan_frame f = golden_frames[1];

	f.open.af = 5;
	cr_assert_eq(chan_frame_write(b, sizeof(b), &f), 0);
	f = golden_frames[1];
	f.open.wscale = 15;
	cr_assert_eq(chan_frame_write(b, sizeof(b), &f), 0);
	f = golden_frames[4];
	f.refused.icmp_type = 3;
	cr_assert_eq(chan_frame_write(b, sizeof(b), &f), 0);
	f = golden_frames[11];
	f.value = 0;
	cr_assert_eq(chan_frame_write(b, sizeof(b), &f), 0);
	f = golden_frames[7];
	f.data.len = 0;
	cr_assert_eq(chan_frame_write(b, sizeof(b), &f), 0);
	f = golden_frames[1];
	cr_assert_eq(chan_frame_write(b, CHAN_HEADER_SIZE + CHAN_OPEN_SIZE - 1, &f), 0);
	cr_assert_eq(chan_frame_write(b, CHAN_HEADER_SIZE + CHAN_OPEN_SIZE, &f),
		     CHAN_HEADER_SIZE + CHAN_OPEN_SIZE);
	cr_assert_str_eq(chan_type_name(CHAN_RESYNC), "RESYNC");
	cr_assert_str_eq(chan_type_name(0), "?");
	cr_assert_str_eq(chan_refuse_name(CHAN_REFUSE_POLICY), "policy");
	cr_assert_str_eq(chan_reset_name(CHAN_RESET_DIGEST), "digest");
}

/* HELLO byte 6: the sender's literal window log (0: the default, as the
 * golden HELLO writes it; the reserved byte it was), byte 7 reserved. */
Test(wire, hello_window_log)
{
	static const uint8_t ok[] = { 0, STRAIT_DEDUPE_WINDOW_LOG_MIN, 24, STRAIT_DEDUPE_WINDOW_LOG_MAX };
	uint8_t b[CHAN_HEADER_SIZE + CHAN_HELLO_SIZE];
	struct chan_frame f = golden_frames[0], g;

	for (size_t i = 0; i < sizeof(ok); i++) {
		f.hello.window_log = ok[i];
		cr_assert_eq(chan_frame_write(b, sizeof(b), &f), sizeof(b));
		cr_assert_eq(b[CHAN_HEADER_SIZE + 6], ok[i]);
		cr_assert_eq(b[CHAN_HEADER_SIZE + 7], 0);
		memset(&g, 0xa5, sizeof(g));
		cr_assert_eq(chan_frame_parse(b, sizeof(b), &g), (long)sizeof(b));
		cr_assert_eq(g.hello.window_log, ok[i]);
		cr_assert_eq(g.hello.capacity, f.hello.capacity);
	}
	/* the writer refuses what the parser would */
	f.hello.window_log = STRAIT_DEDUPE_WINDOW_LOG_MIN - 1;
	cr_assert_eq(chan_frame_write(b, sizeof(b), &f), 0);
	f.hello.window_log = STRAIT_DEDUPE_WINDOW_LOG_MAX + 1;
	cr_assert_eq(chan_frame_write(b, sizeof(b), &f), 0);
}

/* A DATA frame of the largest size parses; its records point into the
 * buffer. */
Test(wire, data_limit)
{
	size_t n = CHAN_FRAME_MAX;
	uint8_t *b = calloc(1, n);
	struct chan_frame f;

	chan_data_head_write(b, 5, 9, 1ull << 40, CHAN_RECORDS_MAX);
	cr_assert_eq(chan_frame_parse(b, n, &f), (long)n);
	cr_assert_eq(f.flow, 5);
	cr_assert_eq(f.data.epoch, 9);
	cr_assert_eq(f.data.offset, 1ull << 40);
	cr_assert_eq(f.data.len, CHAN_RECORDS_MAX);
	cr_assert_eq(f.data.records, b + CHAN_HEADER_SIZE + CHAN_DATA_HEAD);
	cr_assert_eq(chan_frame_parse(b, n - 1, &f), 0);
	free(b);
}
