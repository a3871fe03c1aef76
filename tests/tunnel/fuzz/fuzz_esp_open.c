/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for everything tunnel/ parses from the wire. The first
 * byte picks the path:
 *   0: an outer IPv4/IPv6 frame -> UDP/4500 decap -> ESP open (or, behind
 *      the non-ESP marker, a handshake message)
 *   1: the rest is an inner payload, sealed with a fuzzer-chosen next
 *      header and opened again: the trailer and inner-packet checks see
 *      authentic frames, which raw bytes never reach past the ICV
 *   2: a handshake message to a tunnel that has an initiation pending
 * Invariant checked: OK from open means the caller gets back exactly what
 * was sealed.
 */
#include <stdlib.h>
#include <string.h>

#include "strait/tunnel.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { HEAD = STRAIT_ESP_HEADROOM, CAP = 65536 + 2 * HEAD };

static struct strait_esp_sa *sa_in, *sa_out;
static struct strait_tunnel *tun;
static uint8_t buf[CAP];

static void setup(void)
{
	struct strait_esp_sa_config c = {.spi = 0x1000};
	for (int i = 0; i < STRAIT_ESP_KEYMAT_LEN; i++)
		c.keymat[i] = (uint8_t)i;
	c.dir = STRAIT_ESP_INBOUND;
	sa_in = strait_esp_sa_create(&c);
	c.dir = STRAIT_ESP_OUTBOUND;
	sa_out = strait_esp_sa_create(&c);
	struct strait_tunnel_config t = {.tenant_id = 7, .local_id = 1, .peer_id = 2};
	memset(t.psk, 0x5a, sizeof(t.psk));
	tun = strait_tunnel_create(&t, 1);
	uint8_t init[STRAIT_KX_MAX_LEN];
	if (!sa_in || !sa_out || !tun || strait_tunnel_initiate(tun, 1, init, sizeof(init)) < 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t nh = 0, reply[STRAIT_KX_MAX_LEN];
	size_t n, rn;

	if (!sa_in)
		setup();
	if (size < 1 || size - 1 > 65535)
		return 0;
	n = size - 1;
	memcpy(buf + HEAD, data + 1, n);
	struct strait_pkt p = {.data = buf + HEAD, .len = n, .head = HEAD, .tail = CAP - HEAD - n};

	switch (data[0] % 3) {
	case 0: {
		struct strait_esp_path from;
		enum strait_udp_kind k = strait_esp_udp_decap(&p, &from);
		if (k == STRAIT_UDP_ESP)
			(void)strait_esp_open(sa_in, &p, &nh, 0);
		else if (k == STRAIT_UDP_HANDSHAKE)
			(void)strait_tunnel_handshake(tun, 2, p.data, p.len, reply, sizeof(reply), &rn);
		break;
	}
	case 1: {
		uint8_t want = n ? data[1] : 4;
		static uint8_t copy[65536];
		if (n < 1)
			return 0;
		/* the first byte is the next header; the packet is the rest */
		p.data++;
		p.head++;
		p.len--;
		memcpy(copy, p.data, p.len);
		size_t len = p.len;
		if (strait_esp_seal(sa_out, &p, want, 0) != STRAIT_ESP_OK)
			abort();
		if (strait_esp_open(sa_in, &p, &nh, 0) == STRAIT_ESP_OK &&
		    (nh != want || p.len != len || memcmp(p.data, copy, len)))
			abort();
		break;
	}
	default:
		(void)strait_tunnel_handshake(tun, 2, p.data, p.len, reply, sizeof(reply), &rn);
		break;
	}
	return 0;
}
