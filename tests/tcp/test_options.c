/* SPDX-License-Identifier: BSD-3-Clause */
/* Option parsing: valid sets, and every hostile length rejected. */
#include <criterion/criterion.h>
#include <string.h>

#include "tcp_internal.h"

Test(options, syn_full_set)
{
	const uint8_t p[] = { 2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0,
			      1, 3, 3, 7 };
	struct tcp_opts o;
	cr_assert(tcp_parse_options(p, sizeof(p), true, &o));
	cr_assert(o.has_mss && o.mss == 1460);
	cr_assert(o.sack_ok);
	cr_assert(o.has_ts && o.tsval == 1 && o.tsecr == 0);
	cr_assert(o.has_wscale && o.wscale == 7);
}

Test(options, syn_only_options_ignored_without_syn)
{
	const uint8_t p[] = { 2, 4, 0x05, 0xb4, 1, 3, 3, 7, 4, 2, 0, 0 };
	struct tcp_opts o;
	cr_assert(tcp_parse_options(p, sizeof(p), false, &o));
	cr_assert(!o.has_mss && !o.has_wscale && !o.sack_ok);
}

Test(options, wscale_above_14_clamped)
{
	const uint8_t p[] = { 3, 3, 15, 0 };
	struct tcp_opts o;
	cr_assert(tcp_parse_options(p, sizeof(p), true, &o));
	cr_assert_eq(o.wscale, 14);
}

Test(options, sack_blocks)
{
	uint8_t p[2 + 2 + 32] = { 1, 1, 5, 34 };
	for (int i = 0; i < 32; i++)
		p[4 + i] = (uint8_t)i;
	struct tcp_opts o;
	cr_assert(tcp_parse_options(p, 36, false, &o));
	cr_assert_eq(o.nsack, 4);
	cr_assert_eq(o.sack[0][0], 0x00010203u);
	cr_assert_eq(o.sack[3][1], 0x1c1d1e1fu);
}

Test(options, eol_stops_parsing)
{
	const uint8_t p[] = { 0, 2, 1, 0 }; /* junk after EOL is ignored */
	struct tcp_opts o;
	cr_assert(tcp_parse_options(p, sizeof(p), true, &o));
	cr_assert(!o.has_mss);
}

Test(options, unknown_kind_skipped)
{
	const uint8_t p[] = { 30, 6, 1, 2, 3, 4, 2, 4, 0x02, 0x18 };
	struct tcp_opts o;
	cr_assert(tcp_parse_options(p, sizeof(p), true, &o));
	cr_assert_eq(o.mss, 536);
}

struct bad {
	int n;
	uint8_t len;
	uint8_t b[12];
};

/* Each of these makes the segment invalid: dropped and counted. */
static const struct bad bads[] = {
	{ 1, 1, { 2 } },                      /* no length byte */
	{ 2, 2, { 2, 0 } },                   /* length 0 */
	{ 3, 2, { 2, 1 } },                   /* length 1 */
	{ 4, 4, { 2, 5, 0, 0 } },             /* runs past the header */
	{ 5, 4, { 2, 3, 0, 0 } },             /* MSS of 3 bytes */
	{ 6, 4, { 3, 4, 1, 0 } },             /* window scale of 4 bytes */
	{ 7, 4, { 4, 3, 0, 0 } },             /* SACK-permitted of 3 bytes */
	{ 8, 10, { 5, 9, 0, 0, 0, 0, 0, 0, 0, 0 } }, /* SACK not 2 + 8n */
	{ 9, 4, { 5, 2, 0, 0 } },             /* SACK with no block */
	{ 10, 12, { 8, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 } }, /* TS of 12 */
	{ 11, 3, { 1, 1, 30 } },              /* unknown kind, no length */
	{ 12, 8, { 8, 10, 0, 0, 0, 0, 0, 0 } }, /* TS cut by the header end */
	{ 13, 2, { 255, 255 } },              /* huge length */
};

Test(options, hostile_lengths_rejected)
{
	for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		struct tcp_opts o;
		cr_expect(!tcp_parse_options(bads[i].b, bads[i].len, true, &o),
			  "case %d accepted", bads[i].n);
	}
}

/* Every byte string of up to 40 bytes either parses with sane results or
 * is rejected; never reads past the given length (ASan watches). */
Test(options, random_strings_stay_in_bounds)
{
	uint32_t x = 12345;
	for (int iter = 0; iter < 200000; iter++) {
		unsigned len = (x >> 3) % 41;
		uint8_t *p = malloc(len ? len : 1);
		for (unsigned i = 0; i < len; i++) {
			x = x * 1103515245u + 12345u;
			uint8_t v = (uint8_t)(x >> 16);
			p[i] = (i % 3 == 0) ? (uint8_t)(v % 10) : v % 16;
		}
		struct tcp_opts o;
		if (tcp_parse_options(p, len, iter & 1, &o)) {
			cr_assert_leq(o.nsack, 4);
			cr_assert_leq(o.wscale, 14);
		}
		free(p);
		x = x * 1103515245u + 12345u;
	}
}
