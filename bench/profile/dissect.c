/* SPDX-License-Identifier: BSD-3-Clause */
#include "dissect.h"

#include <pcap/pcap.h>
#include <string.h>

enum {
	ETH_IPV4 = 0x0800, ETH_IPV6 = 0x86dd,
	ETH_VLAN = 0x8100, ETH_QINQ = 0x88a8, ETH_QINQ_OLD = 0x9100,
	MAX_TAGS = 8,          /* deeper tag stacks are malformed */
	MAX_EXT_HEADERS = 16,  /* IPv6 extension headers followed */
	IPPROTO_TCP_ = 6,
};

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int dissect_link_known(int dlt)
{
	switch (dlt) {
	case DLT_EN10MB: case DLT_LINUX_SLL: case DLT_LINUX_SLL2: case DLT_RAW:
	case DLT_IPV4: case DLT_IPV6: case DLT_NULL: case DLT_LOOP:
		return 1;
	default:
		return 0;
	}
}

const char *dissect_link_name(int dlt)
{
	const char *n = pcap_datalink_val_to_name(dlt);
	return n ? n : "unknown";
}

const char *dissect_result_name(enum dissect_result r)
{
	static const char *const names[DISSECT_N_RESULTS] = {
		"tcp", "not_ip", "not_tcp", "ip_fragment", "truncated", "malformed",
	};
	return (unsigned)r < DISSECT_N_RESULTS ? names[r] : "?";
}

static enum dissect_result tcp(const uint8_t *p, size_t n, size_t wire, struct segment *s)
{
	if (n < 20)
		return DISSECT_TRUNCATED;
	size_t off = (size_t)(p[12] >> 4) * 4;
	if (off < 20 || off > wire)
		return DISSECT_MALFORMED;
	if (off > n)
		return DISSECT_TRUNCATED;
	s->sport = rd16(p);
	s->dport = rd16(p + 2);
	s->seq = rd32(p + 4);
	s->ack = rd32(p + 8);
	s->flags = p[13];
	s->tcp = p;
	s->tcp_len = (uint32_t)n;
	s->payload = p + off;
	s->len = (uint32_t)(n - off);
	s->wire_len = (uint32_t)(wire - off);
	return DISSECT_TCP;
}

/* p: n captured bytes of an IP packet. */
static enum dissect_result ipv4(const uint8_t *p, size_t n, struct segment *s)
{
	if (n < 20)
		return DISSECT_TRUNCATED;
	if (p[0] >> 4 != 4)
		return DISSECT_MALFORMED;
	size_t ihl = (size_t)(p[0] & 15) * 4, tot = rd16(p + 2);
	if (tot == 0)
		tot = n; /* a TSO super-packet taken on the sender: length unset */
	if (ihl < 20 || tot < ihl)
		return DISSECT_MALFORMED;
	if (ihl > n)
		return DISSECT_TRUNCATED;
	if (tot > n && !s->cut)
		return DISSECT_MALFORMED; /* longer than the frame that carried it */
	s->family = 4;
	memset(s->src, 0, 16);
	memset(s->dst, 0, 16);
	memcpy(s->src, p + 12, 4);
	memcpy(s->dst, p + 16, 4);
	if (rd16(p + 6) & 0x3fff) /* MF or a fragment offset */
		return DISSECT_FRAGMENT;
	if (p[9] != IPPROTO_TCP_)
		return DISSECT_NOT_TCP;
	size_t have = n < tot ? n : tot; /* Ethernet pads short frames */
	return tcp(p + ihl, have - ihl, tot - ihl, s);
}

static enum dissect_result ipv6(const uint8_t *p, size_t n, struct segment *s)
{
	if (n < 40)
		return DISSECT_TRUNCATED;
	if (p[0] >> 4 != 6)
		return DISSECT_MALFORMED;
	size_t plen = rd16(p + 4);
	if (plen == 0)
		return DISSECT_MALFORMED; /* jumbogram (RFC 2675): not on a LAN */
	if (plen > n - 40 && !s->cut)
		return DISSECT_MALFORMED;
	s->family = 6;
	memcpy(s->src, p + 8, 16);
	memcpy(s->dst, p + 24, 16);
	uint8_t nh = p[6];
	size_t wire = plen, have = n - 40 < plen ? n - 40 : plen;
	const uint8_t *q = p + 40;
	for (int i = 0; i < MAX_EXT_HEADERS; i++) {
		size_t hl;
		switch (nh) {
		case IPPROTO_TCP_:
			return tcp(q, have, wire, s);
		case 0: case 43: case 60: /* hop-by-hop, routing, destination */
			if (have < 8)
				return wire < 8 ? DISSECT_MALFORMED : DISSECT_TRUNCATED;
			hl = ((size_t)q[1] + 1) * 8;
			break;
		case 51: /* AH: length in 4-byte units, minus 2 */
			if (have < 8)
				return wire < 8 ? DISSECT_MALFORMED : DISSECT_TRUNCATED;
			hl = ((size_t)q[1] + 2) * 4;
			break;
		case 44:
			return DISSECT_FRAGMENT;
		default: /* ESP, no next header, UDP, ICMPv6, ... */
			return DISSECT_NOT_TCP;
		}
		if (hl > wire)
			return DISSECT_MALFORMED;
		if (hl > have)
			return DISSECT_TRUNCATED;
		nh = q[0];
		q += hl;
		have -= hl;
		wire -= hl;
	}
	return DISSECT_MALFORMED;
}

static enum dissect_result ip(const uint8_t *p, size_t n, struct segment *s)
{
	if (n < 1)
		return DISSECT_TRUNCATED;
	if (p[0] >> 4 == 4)
		return ipv4(p, n, s);
	if (p[0] >> 4 == 6)
		return ipv6(p, n, s);
	return DISSECT_MALFORMED;
}

/* An EtherType, then the rest: VLAN tags are taken off first. */
static enum dissect_result ether(uint16_t type, const uint8_t *p, size_t n,
				 struct segment *s)
{
	for (int tags = 0; type == ETH_VLAN || type == ETH_QINQ || type == ETH_QINQ_OLD; tags++) {
		if (tags == MAX_TAGS)
			return DISSECT_MALFORMED;
		if (n < 4)
			return DISSECT_TRUNCATED;
		if (s->nvlan < DISSECT_MAX_VLANS)
			s->vlan[s->nvlan++] = rd16(p) & 0x0fff;
		type = rd16(p + 2);
		p += 4;
		n -= 4;
	}
	if (type == ETH_IPV4)
		return ipv4(p, n, s);
	if (type == ETH_IPV6)
		return ipv6(p, n, s);
	return DISSECT_NOT_IP;
}

enum dissect_result dissect(int dlt, const uint8_t *f, size_t n, size_t wirelen,
			    struct segment *s)
{
	s->nvlan = 0;
	s->cut = n < wirelen;
	switch (dlt) {
	case DLT_EN10MB:
		if (n < 14)
			return DISSECT_TRUNCATED;
		return ether(rd16(f + 12), f + 14, n - 14, s);
	case DLT_LINUX_SLL: /* 16 bytes, protocol last */
		if (n < 16)
			return DISSECT_TRUNCATED;
		return ether(rd16(f + 14), f + 16, n - 16, s);
	case DLT_LINUX_SLL2: /* 20 bytes, protocol first */
		if (n < 20)
			return DISSECT_TRUNCATED;
		return ether(rd16(f), f + 20, n - 20, s);
	case DLT_RAW: case DLT_IPV4: case DLT_IPV6:
		return ip(f, n, s);
	case DLT_NULL: case DLT_LOOP: { /* 4-byte AF_ value, either order */
		if (n < 4)
			return DISSECT_TRUNCATED;
		uint32_t af = (uint32_t)f[0] | (uint32_t)f[1] << 8 | (uint32_t)f[2] << 16 | (uint32_t)f[3] << 24;
		if (af > 0xffff)
			af = rd32(f);
		if (af == 2)
			return ipv4(f + 4, n - 4, s);
		if (af == 10 || af == 24 || af == 28 || af == 30)
			return ipv6(f + 4, n - 4, s);
		return DISSECT_NOT_IP;
	}
	default:
		return DISSECT_NOT_IP;
	}
}

/* Ones' complement sum of n bytes, 16 bits at a time, in a 64-bit
 * accumulator folded at the end. */
static uint64_t sum16(const uint8_t *p, size_t n, uint64_t acc)
{
	for (; n >= 2; p += 2, n -= 2)
		acc += (uint64_t)(p[0] << 8 | p[1]);
	if (n)
		acc += (uint64_t)p[0] << 8;
	return acc;
}

bool dissect_checksum_ok(const struct segment *s)
{
	if (s->cut || s->len < s->wire_len)
		return true;
	size_t alen = s->family == 4 ? 4 : 16;
	uint64_t acc = sum16(s->src, alen, 0);
	acc = sum16(s->dst, alen, acc);
	acc += 6 + (uint64_t)s->tcp_len;
	acc = sum16(s->tcp, s->tcp_len, acc);
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return acc == 0xffff;
}
