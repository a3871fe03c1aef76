/* SPDX-License-Identifier: BSD-3-Clause */
/* Local answers; see local.h. Every answer is built in the request's own
 * buffer: the request has been fully checked by pkt_parse() and here. */
#include <string.h>

#include "local.h"

enum {
	ARP_REQUEST = 1, ARP_REPLY = 2,
	ICMP_ECHO_REPLY = 0, ICMP_ECHO = 8,
	ICMP6_ECHO = 128, ICMP6_ECHO_REPLY = 129,
	ND_NS = 135, ND_NA = 136,
	ND_OPT_SLLA = 1, ND_OPT_TLLA = 2,
	ESP_UDP_PORT = 4500,
};

static inline void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t ntohl_(uint32_t v)
{
	const uint8_t *p = (const uint8_t *)&v;
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline bool mac_group(const uint8_t *mac)
{
	return mac[0] & 1;
}

/* An IPv4 source an echo may be answered to: not 0/8, loopback,
 * multicast/reserved/broadcast, ours or our subnet's broadcast. */
static bool src4_ok(const uint8_t *ip, const struct local_addr *la)
{
	if (ip[0] == 0 || ip[0] == 127 || ip[0] >= 224 || !memcmp(ip, la->ip4, 4))
		return false;
	if (la->plen4 < 31) {
		uint32_t a, me;
		memcpy(&a, ip, 4);
		memcpy(&me, la->ip4, 4);
		a = ntohl_(a);
		me = ntohl_(me);
		uint32_t host = 0xffffffffu >> la->plen4;
		if ((a & ~host) == (me & ~host) && (a & host) == host)
			return false;
	}
	return true;
}

/* An IPv6 source an echo may be answered to: not multicast, unspecified,
 * loopback or ours. */
static bool src6_ok(const uint8_t *ip, const struct local_addr *la)
{
	static const uint8_t zero[15];
	if (ip[0] == 0xff || !memcmp(ip, la->ip6, 16))
		return false;
	return memcmp(ip, zero, 15) || ip[15] > 1;
}

static bool prefix_match(const uint8_t *a, const uint8_t *b, unsigned plen)
{
	unsigned full = plen / 8, rest = plen % 8;
	if (memcmp(a, b, full))
		return false;
	if (!rest)
		return true;
	uint8_t mask = (uint8_t)(0xff00u >> rest);
	return ((a[full] ^ b[full]) & mask) == 0;
}

bool local_on_link(const struct local_addr *la, uint8_t family, const uint8_t *ip)
{
	if (family == 4)
		return la->has4 && prefix_match(ip, la->ip4, la->plen4);
	return la->has6 && prefix_match(ip, la->ip6, la->plen6);
}

bool local_is_gateway(const struct local_addr *la, uint8_t family, const uint8_t *ip)
{
	if (family == 4)
		return la->has_gw4 && !memcmp(ip, la->gw4, 4);
	return la->has_gw6 && !memcmp(ip, la->gw6, 16);
}

const uint8_t *local_next_hop(const struct local_addr *la, uint8_t family, const uint8_t *dst)
{
	if (local_on_link(la, family, dst))
		return dst;
	if (family == 4)
		return la->has_gw4 ? la->gw4 : dst;
	return la->has_gw6 ? la->gw6 : dst;
}

/* An ARP reply to our IPv4 or a neighbour advertisement to our IPv6. */
static bool answer_to_us(const uint8_t *f, const struct pkt_info *pi,
			 const struct local_addr *la, bool whole)
{
	if (pi->ethertype == ETYPE_ARP)
		return la->has4 && rd16(f + pi->l2_len + 6) == ARP_REPLY &&
		       !memcmp(f + pi->l2_len + 24, la->ip4, 4);
	return pi->family == 6 && la->has6 && whole && !pi->is_fragment &&
	       pi->l4_proto == PROTO_ICMP6 && pi->ip_len >= pi->l3_len + 24u &&
	       f[pi->l4_off] == ND_NA && !memcmp(pi->dst, la->ip6, 16);
}

enum local_verdict local_classify(const uint8_t *f, uint32_t len, const struct pkt_info *pi,
				  const struct local_addr *la)
{
	/* ICMP is answered only when the whole packet is in the len bytes at f
	 * (a frame chained over several segments is not) */
	bool whole = pi->l2_len + (uint32_t)pi->ip_len <= len;
	/* ours only with the tag stack exactly [vlan] (or none for 0): an
	 * outer tag carrying an inner one is another network. On another
	 * VLAN (a tenant's), only the answers to our own ARP requests and
	 * NSs there (dp_tx_l3()), sent to our MAC, are ours. */
	if (pi->n_tags > 1)
		return LOCAL_NONE;
	if (pi->vlan != la->vlan)
		return memcmp(f, la->mac, 6) || !answer_to_us(f, pi, la, whole) ? LOCAL_NONE
									 : LOCAL_CONSUME;
	if (pi->ethertype == ETYPE_ARP) {
		if (!la->has4)
			return LOCAL_NONE;
		const uint8_t *a = f + pi->l2_len;
		if (memcmp(a + 24, la->ip4, 4))
			return LOCAL_NONE;
		uint16_t op = rd16(a + 6);
		return op == ARP_REQUEST ? LOCAL_ARP_REQ : op == ARP_REPLY ? LOCAL_CONSUME : LOCAL_NONE;
	}
	if (pi->family == 4) {
		uint32_t dst, mine;
		memcpy(&dst, pi->dst, 4);
		memcpy(&mine, la->ip4, 4);
		if (!la->has4 || dst != mine)
			return LOCAL_NONE;
		if (pi->is_fragment || (pi->l4_proto == PROTO_ICMP && !whole))
			return LOCAL_OTHER; /* no reassembly: not for us to answer */
		if (pi->l4_proto == PROTO_ICMP && pi->ip_len >= pi->l3_len + 8u) {
			uint8_t type = f[pi->l4_off];
			if (type == ICMP_ECHO)
				return LOCAL_ECHO4;
			return type == ICMP_ECHO_REPLY ? LOCAL_CONSUME : LOCAL_OTHER;
		}
		return pi->l4_proto == PROTO_TCP ? LOCAL_TCP : LOCAL_OTHER;
	}
	if (pi->family == 6) {
		if (!la->has6)
			return LOCAL_NONE;
		bool to_us = !memcmp(pi->dst, la->ip6, 16);
		if (pi->l4_proto == PROTO_ICMP6 && !whole)
			return to_us ? LOCAL_OTHER : LOCAL_NONE;
		if (pi->l4_proto == PROTO_ICMP6 && pi->ip_len >= pi->l3_len + 8u && !pi->is_fragment) {
			const uint8_t *icmp = f + pi->l4_off;
			uint8_t type = icmp[0];
			if ((type == ND_NS || type == ND_NA) && pi->ip_len >= pi->l3_len + 24u &&
			    !memcmp(icmp + 8, la->ip6, 16)) {
				if (type == ND_NA)
					return LOCAL_CONSUME;
				/* an NS for us goes to us or to our solicited-node
				 * group; one to another host's address is not ours */
				const uint8_t snm[13] = { 0xff, 0x02, [11] = 1, [12] = 0xff };
				if (to_us || (!memcmp(pi->dst, snm, 13) &&
					      !memcmp(pi->dst + 13, la->ip6 + 13, 3)))
					return LOCAL_NS;
				return LOCAL_NONE;
			}
			if (!to_us)
				return LOCAL_NONE;
			if (type == ICMP6_ECHO)
				return LOCAL_ECHO6;
			return type == ICMP6_ECHO_REPLY || type == ND_NA ? LOCAL_CONSUME : LOCAL_OTHER;
		}
		if (!to_us)
			return LOCAL_NONE;
		if (pi->is_fragment)
			return LOCAL_OTHER;
		return pi->l4_proto == PROTO_TCP ? LOCAL_TCP : LOCAL_OTHER;
	}
	return LOCAL_NONE;
}

static void swap_macs(uint8_t *f, const uint8_t *mymac)
{
	memcpy(f, f + 6, 6);
	memcpy(f + 6, mymac, 6);
}

static uint32_t answer_arp(uint8_t *f, uint32_t len, const struct pkt_info *pi,
			   const struct local_addr *la)
{
	uint8_t *a = f + pi->l2_len;
	uint8_t sha[6], spa[4];
	/* never answer to a group address (a reflector) */
	if (mac_group(f + 6) || mac_group(a + 8))
		return 0;
	memcpy(sha, a + 8, 6);
	memcpy(spa, a + 14, 4);
	wr16(a + 6, ARP_REPLY);
	memcpy(a + 8, la->mac, 6);
	memcpy(a + 14, la->ip4, 4);
	memcpy(a + 18, sha, 6);
	memcpy(a + 24, spa, 4);
	memcpy(f, sha, 6);
	memcpy(f + 6, la->mac, 6);
	return len;
}

static uint32_t answer_echo4(uint8_t *f, uint32_t len, const struct pkt_info *pi,
			     const struct local_addr *la)
{
	uint8_t *ip = f + pi->l2_len, *icmp = f + pi->l4_off;
	uint32_t icmp_len = pi->ip_len - pi->l3_len;
	/* RFC 1122 3.2.2.6: not to a broadcast/multicast (or impossible) source */
	if (mac_group(f + 6) || !src4_ok(pi->src, la))
		return 0;
	if (csum_fold(csum_add(0, icmp, icmp_len)) != 0)
		return 0;
	swap_macs(f, la->mac);
	memcpy(ip + 16, ip + 12, 4);
	memcpy(ip + 12, la->ip4, 4);
	ip[8] = 64;
	wr16(ip + 10, 0);
	wr16(ip + 10, csum_fold(csum_add(0, ip, pi->l3_len)));
	icmp[0] = ICMP_ECHO_REPLY;
	icmp[1] = 0;
	wr16(icmp + 2, 0);
	wr16(icmp + 2, csum_fold(csum_add(0, icmp, icmp_len)));
	return len;
}

static uint32_t answer_echo6(uint8_t *f, uint32_t len, const struct pkt_info *pi,
			     const struct local_addr *la)
{
	uint8_t *ip = f + pi->l2_len, *icmp = f + pi->l4_off;
	uint32_t icmp_len = pi->ip_len - pi->l3_len;
	if (mac_group(f + 6) || !src6_ok(pi->src, la))
		return 0;
	if (pi->l3_len != 40 || csum_l4(6, pi->src, pi->dst, PROTO_ICMP6, icmp, icmp_len) != 0)
		return 0;
	swap_macs(f, la->mac);
	memcpy(ip + 24, ip + 8, 16);
	memcpy(ip + 8, la->ip6, 16);
	ip[7] = 64;
	icmp[0] = ICMP6_ECHO_REPLY;
	icmp[1] = 0;
	wr16(icmp + 2, 0);
	wr16(icmp + 2, csum_l4(6, ip + 8, ip + 24, PROTO_ICMP6, icmp, icmp_len));
	return len;
}

static uint32_t answer_ns(uint8_t *f, uint32_t len, uint32_t cap, const struct pkt_info *pi,
			  const struct local_addr *la)
{
	uint8_t *ip = f + pi->l2_len, *icmp = f + pi->l4_off;
	uint32_t icmp_len = pi->ip_len - pi->l3_len;
	/* RFC 4861 7.1.1: hop limit 255, code 0, valid checksum, options of
	 * non-zero length within the message. */
	if (pi->l3_len != 40 || ip[7] != 255 || icmp[1] != 0 ||
	    csum_l4(6, pi->src, pi->dst, PROTO_ICMP6, icmp, icmp_len) != 0)
		return 0;
	static const uint8_t unspec[16];
	bool dad = !memcmp(ip + 8, unspec, 16);
	const uint8_t *slla = NULL;
	for (uint32_t o = 24; o + 2 <= icmp_len;) {
		uint32_t olen = (uint32_t)icmp[o + 1] * 8;
		if (olen == 0 || o + olen > icmp_len)
			return 0;
		if (icmp[o] == ND_OPT_SLLA && olen >= 8)
			slla = icmp + o + 2;
		o += olen;
	}
	if (dad && slla)
		return 0; /* RFC 4861: no SLLA with an unspecified source */
	if (mac_group(f + 6) || (slla && mac_group(slla)) || pi->src[0] == 0xff)
		return 0; /* never answer to a group address */
	uint32_t out_len = pi->l2_len + 40u + 32u;
	if (out_len > cap)
		return 0;
	uint8_t dst_mac[6];
	memcpy(dst_mac, slla ? slla : f + 6, 6);
	uint8_t dst_ip[16];
	if (dad) { /* answer a duplicate-address probe to all-nodes */
		static const uint8_t all_nodes[16] = { 0xff, 0x02, [15] = 1 };
		memcpy(dst_ip, all_nodes, 16);
		static const uint8_t all_nodes_mac[6] = { 0x33, 0x33, 0, 0, 0, 1 };
		memcpy(dst_mac, all_nodes_mac, 6);
	} else {
		memcpy(dst_ip, ip + 8, 16);
	}
	memcpy(f, dst_mac, 6);
	memcpy(f + 6, la->mac, 6);
	ip[0] = 0x60; ip[1] = 0; ip[2] = 0; ip[3] = 0; /* version, class, label */
	wr16(ip + 4, 32);
	ip[6] = PROTO_ICMP6;
	ip[7] = 255;
	memcpy(ip + 8, la->ip6, 16);
	memcpy(ip + 24, dst_ip, 16);
	icmp[0] = ND_NA;
	icmp[1] = 0;
	wr16(icmp + 2, 0);
	icmp[4] = dad ? 0x20 : 0x60; /* S (not for DAD) and O */
	icmp[5] = icmp[6] = icmp[7] = 0;
	memcpy(icmp + 8, la->ip6, 16);
	icmp[24] = ND_OPT_TLLA;
	icmp[25] = 1;
	memcpy(icmp + 26, la->mac, 6);
	wr16(icmp + 2, csum_l4(6, ip + 8, ip + 24, PROTO_ICMP6, icmp, 32));
	(void)len;
	return out_len;
}

uint32_t local_answer(uint8_t *f, uint32_t len, uint32_t cap, const struct pkt_info *pi,
		      const struct local_addr *la, enum local_verdict v)
{
	switch (v) {
	case LOCAL_ARP_REQ:
		return answer_arp(f, len, pi, la);
	case LOCAL_ECHO4:
		return answer_echo4(f, len, pi, la);
	case LOCAL_ECHO6:
		return answer_echo6(f, len, pi, la);
	case LOCAL_NS:
		return answer_ns(f, len, cap, pi, la);
	default:
		return 0;
	}
}

static uint32_t put_l2(uint8_t *f, const uint8_t *dst, const struct local_addr *la,
		       uint16_t vlan, uint16_t etype)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, la->mac, 6);
	uint32_t off = 12;
	if (vlan) {
		wr16(f + 12, ETYPE_VLAN);
		wr16(f + 14, vlan);
		off = 16;
	}
	wr16(f + off, etype);
	return off + 2;
}

uint32_t local_arp_request(uint8_t *f, uint32_t cap, const struct local_addr *la,
			   uint16_t vlan, const uint8_t *target4)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	if (cap < 64 || !la->has4)
		return 0;
	memset(f, 0, 64);
	uint8_t *a = f + put_l2(f, bcast, la, vlan, ETYPE_ARP);
	wr16(a, 1);
	wr16(a + 2, ETYPE_IP4);
	a[4] = 6;
	a[5] = 4;
	wr16(a + 6, ARP_REQUEST);
	memcpy(a + 8, la->mac, 6);
	memcpy(a + 14, la->ip4, 4);
	memcpy(a + 24, target4, 4);
	uint32_t len = (uint32_t)(a + 28 - f);
	return len < 60 ? 60 : len;
}

uint32_t local_ns_request(uint8_t *f, uint32_t cap, const struct local_addr *la,
			  uint16_t vlan, const uint8_t *target6)
{
	if (cap < 18 + 40 + 32 || !la->has6)
		return 0;
	const uint8_t mac[6] = { 0x33, 0x33, 0xff, target6[13], target6[14], target6[15] };
	uint8_t *ip = f + put_l2(f, mac, la, vlan, ETYPE_IP6);
	uint8_t *icmp = ip + 40;
	memset(ip, 0, 72);
	ip[0] = 0x60;
	wr16(ip + 4, 32);
	ip[6] = PROTO_ICMP6;
	ip[7] = 255;
	memcpy(ip + 8, la->ip6, 16);
	const uint8_t snm[16] = { 0xff, 0x02, [11] = 1, [12] = 0xff,
				  [13] = target6[13], [14] = target6[14], [15] = target6[15] };
	memcpy(ip + 24, snm, 16);
	icmp[0] = ND_NS;
	memcpy(icmp + 8, target6, 16);
	icmp[24] = ND_OPT_SLLA;
	icmp[25] = 1;
	memcpy(icmp + 26, la->mac, 6);
	wr16(icmp + 2, csum_l4(6, ip + 8, ip + 24, PROTO_ICMP6, icmp, 32));
	return (uint32_t)(icmp + 32 - f);
}
