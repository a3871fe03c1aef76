/* SPDX-License-Identifier: BSD-3-Clause */
/* The WAN side's receive checks (wan_rx.h), without DPDK: the SPI layout,
 * what a UDP/4500 datagram is, and which opened inner packets may enter a
 * tenant's channel. Numbered tables, one case a line. Every check runs on
 * a buffer of exactly the packet's bytes (ASan sees any overrun). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "wan_rx.h"

Test(wan_rx, spi_layout)
{
	static const struct { unsigned worker; uint16_t id; uint32_t rnd, spi; } t[] = {
		{ 0, 1, 0, 0x00001000 },       /* the smallest SPI: never below 4096 */
		{ 0, 7, 0x123, 0x00007123 },
		{ 1, 300, 0xfff, 0x1012cfff },
		{ 15, 65535, 0xffffffff, 0xffffffff },
		{ 3, 2, 0x1001, 0x30002001 },  /* only the low 12 bits of rnd */
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		uint32_t spi = wan_spi_make(t[i].worker, t[i].id, t[i].rnd);
		cr_expect_eq(spi, t[i].spi, "case %zu: %#x", i + 1, spi);
		cr_expect_eq(wan_spi_worker(spi), t[i].worker, "case %zu", i + 1);
		cr_expect_eq(wan_spi_tenant(spi), t[i].id, "case %zu", i + 1);
		cr_expect_geq(spi, STRAIT_ESP_SPI_MIN);
	}
}

static const uint8_t A4[4] = { 198, 18, 1, 2 }, B4[4] = { 198, 18, 1, 1 };
static const uint8_t A6[16] = { 0x20, 0x01, 0, 2, 0, 0, 0, 1, [15] = 2 };
static const uint8_t B6[16] = { 0x20, 0x01, 0, 2, 0, 0, 0, 1, [15] = 1 };

/* An outer IPv4/IPv6 + UDP datagram carrying payload, built with the
 * tunnel's own encapsulation (the checksums right), in a buffer of
 * exactly its length. */
static uint8_t *datagram(int v6, const uint8_t *payload, size_t n, bool marker, size_t *len)
{
	static uint8_t buf[2048];
	memcpy(buf + 64, payload, n);
	struct strait_pkt p = { .data = buf + 64, .len = n, .head = 64, .tail = sizeof(buf) - 64 - n };
	struct strait_esp_path path = { .family = v6 ? 6 : 4, .sport = 4500, .dport = 4500 };
	memcpy(path.src, v6 ? A6 : A4, v6 ? 16 : 4);
	memcpy(path.dst, v6 ? B6 : B4, v6 ? 16 : 4);
	cr_assert(strait_esp_udp_encap(&path, &p, marker));
	uint8_t *d = malloc(p.len);
	memcpy(d, p.data, p.len);
	*len = p.len;
	return d;
}

Test(wan_rx, classify)
{
	uint8_t esp[40] = { 0x00, 0x00, 0x71, 0x23, 0, 0, 0, 1 };   /* SPI 0x7123: tenant 7 */
	uint8_t kx[STRAIT_KX_INIT_LEN] = { 1, 1, 0, 0, 0, 0, 0x01, 0x2c }; /* tenant 300 */
	uint8_t nat[1] = { 0xff };
	for (int v6 = 0; v6 < 2; v6++) {
		size_t len;
		struct wan_rx rx;
		/* 1. ESP: the SPI and its tenant */
		uint8_t *d = datagram(v6, esp, sizeof(esp), false, &len);
		wan_rx_classify(d, len, 0, 0, &rx);
		cr_expect_eq(rx.kind, WAN_RX_ESP, "v%d ESP", v6 ? 6 : 4);
		cr_expect_eq(rx.spi, 0x7123);
		cr_expect_eq(rx.tenant_id, 7);
		cr_expect_eq(rx.pkt.len, sizeof(esp));
		cr_expect_eq(rx.from.family, v6 ? 6 : 4);
		cr_expect_arr_eq(rx.from.src, v6 ? A6 : A4, v6 ? 16 : 4);
		/* 2. every truncation is malformed, never read beyond */
		for (size_t cut = 0; cut < len; cut++) {
			uint8_t *c = malloc(cut ? cut : 1);
			memcpy(c, d, cut);
			wan_rx_classify(c, cut, 0, 0, &rx);
			cr_expect(rx.kind == WAN_RX_MALFORMED || rx.kind == WAN_RX_NOT_OURS,
				  "v%d cut at %zu: kind %d", v6 ? 6 : 4, cut, rx.kind);
			free(c);
		}
		/* 3. a flipped payload byte: IPv6's checksum catches it */
		d[len - 1] ^= 1;
		wan_rx_classify(d, len, 0, 0, &rx);
		cr_expect_eq(rx.kind, v6 ? WAN_RX_MALFORMED : WAN_RX_ESP, "v%d flipped byte", v6 ? 6 : 4);
		free(d);
		/* 4. a handshake: the tenant Id of the message, before any check */
		d = datagram(v6, kx, sizeof(kx), true, &len);
		wan_rx_classify(d, len, 0, 0, &rx);
		cr_expect_eq(rx.kind, WAN_RX_HANDSHAKE);
		cr_expect_eq(rx.tenant_id, 300);
		cr_expect_eq(rx.pkt.len, sizeof(kx));
		free(d);
		/* 5. a handshake shorter than its header names no tenant */
		d = datagram(v6, kx, 3, true, &len);
		wan_rx_classify(d, len, 0, 0, &rx);
		cr_expect_eq(rx.kind, WAN_RX_HANDSHAKE);
		cr_expect_eq(rx.tenant_id, 0);
		free(d);
		/* 6. NAT keepalive */
		d = datagram(v6, nat, 1, false, &len);
		wan_rx_classify(d, len, 0, 0, &rx);
		cr_expect_eq(rx.kind, WAN_RX_NAT_KEEPALIVE);
		free(d);
		/* 7. another port: not ours */
		d = datagram(v6, esp, sizeof(esp), false, &len);
		uint8_t *udp = d + (v6 ? 40 : 20);
		udp[3] = 0x95; /* 4501 */
		if (!v6)
			udp[6] = udp[7] = 0;
		wan_rx_classify(d, len, 0, 0, &rx);
		cr_expect(rx.kind == WAN_RX_NOT_OURS || (v6 && rx.kind == WAN_RX_MALFORMED));
		free(d);
		/* 8. ESP shorter than its header */
		d = datagram(v6, esp, 7, false, &len);
		wan_rx_classify(d, len, 0, 0, &rx);
		cr_expect_eq(rx.kind, WAN_RX_MALFORMED);
		free(d);
	}
}

/* An inner packet: IPv4 or IPv6 + a TCP header of doff words + payload. */
static size_t inner(uint8_t *p, int v6, const uint8_t *src, const uint8_t *dst, uint8_t proto,
		    unsigned doff, size_t payload)
{
	size_t ip = v6 ? 40 : 20, len = ip + doff * 4 + payload;
	memset(p, 0, len);
	if (v6) {
		p[0] = 0x60;
		p[4] = (uint8_t)((len - 40) >> 8);
		p[5] = (uint8_t)(len - 40);
		p[6] = proto;
		memcpy(p + 8, src, 16);
		memcpy(p + 24, dst, 16);
	} else {
		p[0] = 0x45;
		p[2] = (uint8_t)(len >> 8);
		p[3] = (uint8_t)len;
		p[9] = proto;
		memcpy(p + 12, src, 4);
		memcpy(p + 16, dst, 4);
	}
	p[ip + 12] = (uint8_t)(doff << 4);
	return len;
}

Test(wan_rx, inner_check)
{
	struct strait_tenant_cfg t4 = {
		.inner_local = { .family = 4, .addr = { 169, 254, 7, 1 } },
		.inner_peer = { .family = 4, .addr = { 169, 254, 7, 2 } },
	};
	struct strait_tenant_cfg t6 = {
		.inner_local = { .family = 6, .addr = { 0xfd, 0, 3, 0, [15] = 2 } },
		.inner_peer = { .family = 6, .addr = { 0xfd, 0, 3, 0, [15] = 1 } },
	};
	const uint8_t *l4 = t4.inner_local.addr, *p4 = t4.inner_peer.addr;
	const uint8_t *l6 = t6.inner_local.addr, *p6 = t6.inner_peer.addr;
	static const uint8_t other[16] = { 169, 254, 8, 2 };
	static const struct {
		int n, v6;
		int src;           /* 0 the tenant's peer, 1 another, 2 the tenant's own */
		int dst;           /* 0 the tenant's own, 1 another */
		uint8_t proto;
		unsigned doff;
		size_t payload;
		int cut;           /* bytes cut from the end after building */
		int tweak;         /* 1: IPv4 options (IHL 6); 2: IPv4 fragment; 3: next header 6 for v4 */
		enum wan_inner want;
		size_t want_payload;
	} c[] = {
		{ 1, 0, 0, 0, 6, 5, 100, 0, 0, WAN_INNER_OK, 100 },
		{ 2, 0, 0, 0, 6, 8, 0, 0, 0, WAN_INNER_OK, 0 },       /* timestamps, no data */
		{ 3, 1, 0, 0, 6, 5, 1000, 0, 0, WAN_INNER_OK, 1000 },
		{ 4, 0, 1, 0, 6, 5, 10, 0, 0, WAN_INNER_ADDR, 0 },     /* another source */
		{ 5, 0, 0, 1, 6, 5, 10, 0, 0, WAN_INNER_ADDR, 0 },     /* another tenant's address */
		{ 6, 0, 2, 0, 6, 5, 10, 0, 0, WAN_INNER_ADDR, 0 },     /* from our own address */
		{ 7, 1, 1, 0, 6, 5, 10, 0, 0, WAN_INNER_ADDR, 0 },
		{ 8, 0, 0, 0, 17, 5, 10, 0, 0, WAN_INNER_MALFORMED, 0 }, /* UDP */
		{ 9, 1, 0, 0, 17, 5, 10, 0, 0, WAN_INNER_MALFORMED, 0 },
		{ 10, 0, 0, 0, 6, 4, 10, 0, 0, WAN_INNER_MALFORMED, 0 },  /* doff below 5 */
		{ 11, 0, 0, 0, 6, 15, 0, 0, 0, WAN_INNER_OK, 0 },         /* 60-byte header, whole */
		{ 12, 0, 0, 0, 6, 15, 0, 1, 0, WAN_INNER_MALFORMED, 0 },  /* header beyond the packet */
		{ 13, 0, 0, 0, 6, 5, 0, 1, 0, WAN_INNER_MALFORMED, 0 },   /* 39 bytes */
		{ 14, 1, 0, 0, 6, 5, 0, 1, 0, WAN_INNER_MALFORMED, 0 },
		{ 15, 0, 0, 0, 6, 5, 10, 0, 1, WAN_INNER_MALFORMED, 0 },  /* IPv4 options */
		{ 16, 0, 0, 0, 6, 5, 10, 0, 2, WAN_INNER_MALFORMED, 0 },  /* a fragment */
		{ 17, 0, 0, 0, 6, 5, 10, 0, 3, WAN_INNER_MALFORMED, 0 },  /* next header 6 */
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		uint8_t b[2048];
		int v6 = c[i].v6;
		const uint8_t *src = c[i].src == 0 ? (v6 ? p6 : p4) : c[i].src == 1 ? other : (v6 ? l6 : l4);
		const uint8_t *dst = c[i].dst == 0 ? (v6 ? l6 : l4) : other;
		size_t len = inner(b, v6, src, dst, c[i].proto, c[i].doff, c[i].payload) - (size_t)c[i].cut;
		uint8_t nh = v6 ? STRAIT_ESP_NH_IPV6 : STRAIT_ESP_NH_IPV4;
		if (c[i].tweak == 1)
			b[0] = 0x46;
		if (c[i].tweak == 2)
			b[6] = 0x20; /* more fragments */
		if (c[i].tweak == 3)
			nh = 6;
		uint8_t *p = malloc(len);
		memcpy(p, b, len);
		size_t payload = 99999;
		enum wan_inner r = wan_inner_check(p, len, nh, v6 ? &t6 : &t4, &payload);
		cr_expect_eq(r, c[i].want, "case %d: %d", c[i].n, r);
		if (r == WAN_INNER_OK)
			cr_expect_eq(payload, c[i].want_payload, "case %d: payload %zu", c[i].n, payload);
		free(p);
	}
	/* a tenant of the other family refuses it */
	uint8_t b[100];
	size_t payload;
	size_t len = inner(b, 0, p4, l4, 6, 5, 0);
	cr_expect_eq(wan_inner_check(b, len, STRAIT_ESP_NH_IPV4, &t6, &payload), WAN_INNER_ADDR);
}
