/* SPDX-License-Identifier: BSD-3-Clause */
/* ICMP/ICMPv6 destination unreachable for TCP (dataplane/icmp_error.c):
 * what one appliance writes for its client parses back to what the other
 * read from its server's side, checksums hold, every truncation and every
 * other kind of message is refused. */
#include <criterion/criterion.h>
#include <string.h>

#include "icmp_error.h"
#include "pkt.h"

static const struct icmp_quote q4 = {
	.family = 4, .type = 3, .code = 3, .from = { 198, 18, 1, 1 },
	.src = { 198, 18, 0, 10 }, .dst = { 198, 18, 1, 1 }, .sport = 40000, .dport = 873,
	.seq = 0x12345678,
};
static const struct icmp_quote q6 = {
	.family = 6, .type = 1, .code = 4, .from = { 0x20, 0x01, 0x0d, 0xb8, [15] = 0xfe },
	.src = { 0x20, 0x01, 0x0d, 0xb8, [15] = 0x10 }, .dst = { 0x20, 0x01, 0x0d, 0xb8, [15] = 0x20 },
	.sport = 1, .dport = 65535, .seq = 0xfedcba98,
};

static void round_trip(const struct icmp_quote *q)
{
	uint8_t p[ICMP_ERROR_MAX];
	size_t n = icmp_unreach_write(p, sizeof(p), q), ih = q->family == 4 ? 20 : 40;
	struct icmp_quote r;

	cr_assert_gt(n, 0);
	cr_assert_eq(n, q->family == 4 ? 56 : 96);
	if (q->family == 4) {
		cr_assert_eq(csum_fold(csum_add(0, p, 20)), 0, "IPv4 header checksum");
		cr_assert_eq(csum_fold(csum_add(0, p + 20, n - 20)), 0, "ICMP checksum");
		cr_assert_eq(csum_fold(csum_add(0, p + 28, 20)), 0, "quoted header checksum");
		cr_assert_eq(p[9], PROTO_ICMP);
		cr_assert(!memcmp(p + 12, q->from, 4) && !memcmp(p + 16, q->src, 4));
	} else {
		cr_assert_eq(csum_l4(6, p + 8, p + 24, PROTO_ICMP6, p + 40, (uint32_t)(n - 40)), 0,
			     "ICMPv6 checksum");
		cr_assert_eq(p[6], PROTO_ICMP6);
		cr_assert(!memcmp(p + 8, q->from, 16) && !memcmp(p + 24, q->src, 16));
	}
	cr_assert(icmp_quote_tcp(q->family, q->from, p + ih, n - ih, &r));
	cr_assert(!memcmp(&r, q, sizeof(r)), "parsed back differently");
	/* every truncation of the message is refused, read within bounds */
	for (size_t k = 0; k < n - ih; k++) {
		uint8_t *b = malloc(k ? k : 1);

		memcpy(b, p + ih, k);
		cr_assert(!icmp_quote_tcp(q->family, q->from, b, k, &r), "cut at %zu", k);
		free(b);
	}
	cr_assert_eq(icmp_unreach_write(p, n - 1, q), 0, "no room");
}

Test(icmp, round_trip_v4)
{
	round_trip(&q4);
}

Test(icmp, round_trip_v6)
{
	round_trip(&q6);
}

/* T(case, family, byte offset in the message, new value): each one breaks
 * a written message in one place and must be refused. */
Test(icmp, refused)
{
	static const struct { unsigned id; uint8_t fam; unsigned off; uint8_t v; } t[] = {
		{ 1, 4, 0, 0 },     /* echo reply, not an unreachable */
		{ 2, 4, 0, 11 },    /* time exceeded */
		{ 3, 4, 1, 16 },    /* code past 15 */
		{ 4, 4, 8, 0x65 },  /* quoted IHL 5 -> version 6 */
		{ 5, 4, 8, 0x44 },  /* quoted IHL 4 */
		{ 6, 4, 17, 17 },   /* quoted protocol UDP */
		{ 7, 4, 8, 0x4f },  /* IHL 15: the TCP bytes are not all there */
		{ 8, 6, 0, 3 },     /* time exceeded (v6) */
		{ 9, 6, 1, 8 },     /* code past 7 */
		{ 10, 6, 14, 17 },  /* quoted next header UDP */
		{ 11, 6, 8, 0x40 }, /* quoted version 4 */
	};
	for (unsigned i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		const struct icmp_quote *q = t[i].fam == 4 ? &q4 : &q6;
		uint8_t p[ICMP_ERROR_MAX];
		size_t n = icmp_unreach_write(p, sizeof(p), q), ih = t[i].fam == 4 ? 20 : 40;
		struct icmp_quote r;

		p[ih + t[i].off] = t[i].v;
		cr_expect(!icmp_quote_tcp(t[i].fam, q->from, p + ih, n - ih, &r), "case %u", t[i].id);
	}
	struct icmp_quote bad = q4;
	uint8_t p[ICMP_ERROR_MAX];

	bad.type = 1;
	cr_assert_eq(icmp_unreach_write(p, sizeof(p), &bad), 0, "ICMPv6's type in IPv4");
	bad = q6;
	bad.code = 9;
	cr_assert_eq(icmp_unreach_write(p, sizeof(p), &bad), 0);
}
