/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * UDP encapsulation of ESP (RFC 3948): outer IPv4/IPv6 + UDP to port 4500.
 * A UDP payload that starts with four zero bytes (the non-ESP marker) is a
 * key exchange message; a single 0xff byte is a NAT keepalive.
 */
#include <string.h>

#include "strait/tunnel.h"
#include "tunnel_internal.h"

enum { IPPROTO_UDP_ = 17, IPV4_DF = 0x4000 };

/* Ones' complement sum, folded at the end by csum_fold. */
static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t n)
{
	for (; n >= 2; p += 2, n -= 2)
		sum += get_be16(p);
	if (n)
		sum += (uint32_t)p[0] << 8;
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* RFC 8200 section 8.1: pseudo-header + UDP header + payload. */
static uint16_t udp6_csum(const uint8_t *ip6, const uint8_t *udp, size_t udp_len)
{
	uint32_t sum = 0;

	sum = csum_add(sum, ip6 + 8, 32);
	sum += (uint32_t)(udp_len >> 16) + (uint32_t)(udp_len & 0xffff);
	sum += IPPROTO_UDP_;
	sum = csum_add(sum, udp, udp_len);
	return csum_fold(sum);
}

static uint16_t udp4_csum(const uint8_t *ip4, const uint8_t *udp, size_t udp_len)
{
	uint32_t sum = 0;

	sum = csum_add(sum, ip4 + 12, 8);
	sum += (uint32_t)udp_len + IPPROTO_UDP_;
	sum = csum_add(sum, udp, udp_len);
	return csum_fold(sum);
}

bool strait_esp_udp_encap(struct strait_esp_path *path, struct strait_pkt *pkt, bool non_esp)
{
	size_t ip_len = path->family == 6 ? 40 : 20;
	size_t marker = non_esp ? STRAIT_ESP_NON_ESP_MARKER : 0;
	size_t udp_len = 8 + marker + pkt->len;
	uint8_t ttl = path->ttl ? path->ttl : 64;
	uint8_t *ip, *udp;
	uint16_t sum;

	if (path->family != 4 && path->family != 6)
		return false;
	if (pkt->head < ip_len + 8 + marker || udp_len > 65535 ||
	    (path->family == 4 && ip_len + udp_len > 65535))
		return false;
	ip = pkt->data - marker - 8 - ip_len;
	udp = ip + ip_len;
	memset(udp + 8, 0, marker);
	put_be16(udp, path->sport);
	put_be16(udp + 2, path->dport);
	put_be16(udp + 4, (uint16_t)udp_len);
	put_be16(udp + 6, 0);

	if (path->family == 4) {
		ip[0] = 0x45;
		ip[1] = 0;
		put_be16(ip + 2, (uint16_t)(ip_len + udp_len));
		put_be16(ip + 4, path->ip_id++);
		put_be16(ip + 6, IPV4_DF);
		ip[8] = ttl;
		ip[9] = IPPROTO_UDP_;
		put_be16(ip + 10, 0);
		memcpy(ip + 12, path->src, 4);
		memcpy(ip + 16, path->dst, 4);
		put_be16(ip + 10, csum_fold(csum_add(0, ip, 20)));
		/* UDP checksum stays 0 over IPv4 (RFC 3948 section 2.1). */
	} else {
		put_be32(ip, 6u << 28);
		put_be16(ip + 4, (uint16_t)udp_len);
		ip[6] = IPPROTO_UDP_;
		ip[7] = ttl;
		memcpy(ip + 8, path->src, 16);
		memcpy(ip + 24, path->dst, 16);
		sum = udp6_csum(ip, udp, udp_len);
		put_be16(udp + 6, sum ? sum : 0xffff);
	}
	pkt->head -= (size_t)(pkt->data - ip);
	pkt->len += (size_t)(pkt->data - ip);
	pkt->data = ip;
	return true;
}

enum strait_udp_kind strait_esp_udp_decap(struct strait_pkt *pkt, struct strait_esp_path *from)
{
	const uint8_t *ip = pkt->data, *udp;
	size_t len = pkt->len, ip_len, udp_len;
	uint8_t family;
	uint16_t sum;

	if (len < 1)
		return STRAIT_UDP_MALFORMED;
	family = ip[0] >> 4;
	if (family == 4) {
		if (len < 20)
			return STRAIT_UDP_MALFORMED;
		ip_len = (size_t)(ip[0] & 15) * 4;
		if (ip_len < 20 || get_be16(ip + 2) < ip_len || get_be16(ip + 2) > len ||
		    csum_fold(csum_add(0, ip, ip_len)) != 0)
			return STRAIT_UDP_MALFORMED;
		len = get_be16(ip + 2);
		if (ip[9] != IPPROTO_UDP_ || (get_be16(ip + 6) & 0x3fff))
			return STRAIT_UDP_NOT_OURS; /* other protocol or a fragment */
	} else if (family == 6) {
		if (len < 40 || (size_t)get_be16(ip + 4) + 40 > len)
			return STRAIT_UDP_MALFORMED;
		ip_len = 40;
		len = (size_t)get_be16(ip + 4) + 40;
		if (ip[6] != IPPROTO_UDP_)
			return STRAIT_UDP_NOT_OURS; /* extension headers: not ours */
	} else {
		return STRAIT_UDP_MALFORMED;
	}
	if (len < ip_len + 8)
		return STRAIT_UDP_MALFORMED;
	udp = ip + ip_len;
	udp_len = get_be16(udp + 4);
	if (udp_len < 8 || udp_len != len - ip_len)
		return STRAIT_UDP_MALFORMED;
	if (get_be16(udp + 2) != STRAIT_ESP_UDP_PORT)
		return STRAIT_UDP_NOT_OURS;
	sum = get_be16(udp + 6);
	if (family == 6 && (sum == 0 || udp6_csum(ip, udp, udp_len) != 0))
		return STRAIT_UDP_MALFORMED;
	if (family == 4 && sum != 0 && udp4_csum(ip, udp, udp_len) != 0)
		return STRAIT_UDP_MALFORMED;

	if (from) {
		memset(from, 0, sizeof(*from));
		from->family = family;
		from->sport = get_be16(udp);
		from->dport = get_be16(udp + 2);
		if (family == 4) {
			memcpy(from->src, ip + 12, 4);
			memcpy(from->dst, ip + 16, 4);
			from->ttl = ip[8];
		} else {
			memcpy(from->src, ip + 8, 16);
			memcpy(from->dst, ip + 24, 16);
			from->ttl = ip[7];
		}
	}
	pkt->head += ip_len + 8;
	pkt->tail += pkt->len - len;
	pkt->data += ip_len + 8;
	pkt->len = udp_len - 8;
	if (pkt->len == 1 && pkt->data[0] == 0xff)
		return STRAIT_UDP_KEEPALIVE;
	if (pkt->len >= STRAIT_ESP_NON_ESP_MARKER && get_be32(pkt->data) == 0) {
		pkt->data += STRAIT_ESP_NON_ESP_MARKER;
		pkt->head += STRAIT_ESP_NON_ESP_MARKER;
		pkt->len -= STRAIT_ESP_NON_ESP_MARKER;
		return STRAIT_UDP_HANDSHAKE;
	}
	if (pkt->len < STRAIT_ESP_HDR_LEN)
		return STRAIT_UDP_MALFORMED;
	return STRAIT_UDP_ESP;
}
