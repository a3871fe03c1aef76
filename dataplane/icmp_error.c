/* SPDX-License-Identifier: BSD-3-Clause */
/* ICMP/ICMPv6 destination unreachable for TCP (icmp_error.h): RFC 792 and
 * RFC 4443 3.1. The quote is the offending packet's IP header and the
 * first 8 bytes of its TCP header (ports and sequence number), what both
 * Linux and the BSDs match an error against. */
#include "icmp_error.h"

#include <string.h>

#include "pkt.h"

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

bool icmp_quote_tcp(uint8_t family, const uint8_t *from, const uint8_t *l4, size_t len,
		    struct icmp_quote *q)
{
	const uint8_t *ip = l4 + 8, *th;
	size_t iplen = len >= 8 ? len - 8 : 0, hl;

	if (len < 8)
		return false;
	memset(q, 0, sizeof(*q));
	q->family = family;
	q->type = l4[0];
	q->code = l4[1];
	if (family == 4) {
		if (q->type != ICMP4_UNREACH || q->code > 15 || iplen < 20 || (ip[0] >> 4) != 4)
			return false;
		hl = (size_t)(ip[0] & 15) * 4;
		if (hl < 20 || iplen < hl + 8 || ip[9] != PROTO_TCP)
			return false;
		memcpy(q->from, from, 4);
		memcpy(q->src, ip + 12, 4);
		memcpy(q->dst, ip + 16, 4);
	} else {
		hl = 40;
		if (q->type != ICMP6_UNREACH || q->code > 7 || iplen < hl + 8 ||
		    (ip[0] >> 4) != 6 || ip[6] != PROTO_TCP)
			return false;
		memcpy(q->from, from, 16);
		memcpy(q->src, ip + 8, 16);
		memcpy(q->dst, ip + 24, 16);
	}
	th = ip + hl;
	q->sport = get16(th);
	q->dport = get16(th + 2);
	q->seq = (uint32_t)get16(th + 4) << 16 | get16(th + 6);
	return true;
}

size_t icmp_unreach_write(uint8_t *out, size_t cap, const struct icmp_quote *q)
{
	bool v4 = q->family == 4;
	size_t ih = v4 ? 20 : 40, total = ih + 8 + ih + 8;
	uint8_t *icmp = out + ih, *quote = icmp + 8, *th = quote + ih;

	if (cap < total || (v4 ? q->type != ICMP4_UNREACH || q->code > 15
			       : q->type != ICMP6_UNREACH || q->code > 7))
		return 0;
	memset(out, 0, total);
	/* the quoted SYN: IP header, then ports and sequence number */
	if (v4) {
		quote[0] = 0x45;
		put16(quote + 2, 40);
		quote[8] = 64;
		quote[9] = PROTO_TCP;
		memcpy(quote + 12, q->src, 4);
		memcpy(quote + 16, q->dst, 4);
		put16(quote + 10, csum_fold(csum_add(0, quote, 20)));
	} else {
		quote[0] = 0x60;
		put16(quote + 4, 20);
		quote[6] = PROTO_TCP;
		quote[7] = 64;
		memcpy(quote + 8, q->src, 16);
		memcpy(quote + 24, q->dst, 16);
	}
	put16(th, q->sport);
	put16(th + 2, q->dport);
	put32(th + 4, q->seq);
	icmp[0] = q->type;
	icmp[1] = q->code;
	/* the packet carrying it, from who said so to the client */
	if (v4) {
		out[0] = 0x45;
		put16(out + 2, (uint16_t)total);
		out[8] = 64;
		out[9] = PROTO_ICMP;
		memcpy(out + 12, q->from, 4);
		memcpy(out + 16, q->src, 4);
		put16(out + 10, csum_fold(csum_add(0, out, 20)));
		put16(icmp + 2, csum_fold(csum_add(0, icmp, total - ih)));
	} else {
		out[0] = 0x60;
		put16(out + 4, (uint16_t)(total - ih));
		out[6] = PROTO_ICMP6;
		out[7] = 64;
		memcpy(out + 8, q->from, 16);
		memcpy(out + 24, q->src, 16);
		put16(icmp + 2, csum_l4(6, q->from, q->src, PROTO_ICMP6, icmp,
					(uint32_t)(total - ih)));
	}
	return total;
}
