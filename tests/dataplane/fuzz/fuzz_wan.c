/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer target: hostile UDP/4500 frames to the WAN address, through
 * what the worker runs on them before the channel stack: the frame parser,
 * local_classify(), wan_rx_classify() (outer IP/UDP, the non-ESP marker,
 * SPI and tenant), then, for a frame of our tenant, the tunnel's handshake
 * or ESP open with live SAs, and wan_inner_check() on what opens.
 *
 * Input: byte 0 picks the mode, the rest is
 *   mode 0 (even): a whole Ethernet frame, as received;
 *   mode 1 (odd):  an inner packet, sealed with the peer's live SA (so it
 *                  authenticates) and framed as the peer would send it: the
 *                  checks after the ICV see hostile authentic plaintext.
 * Every read runs in a buffer of exactly the frame's bytes (ASan sees any
 * overrun). Checks what must hold: results within the frame, a payload no
 * longer than the packet, the live SAs never replaced by a frame. */
#include <stdlib.h>
#include <string.h>

#include "local.h"
#include "pkt.h"
#include "strait/tunnel.h"
#include "wan_rx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { TENANT = 7, HEAD = 128, ROOM = 9216 };
static const uint64_t T0 = UINT64_C(1700000000) * 1000000000u;

static const struct local_addr wan = {
	.mac = { 2, 0, 0, 0, 2, 1 }, .has4 = true, .ip4 = { 198, 18, 1, 1 }, .plen4 = 24,
};
static struct strait_tenant_cfg tenant = {
	.id = TENANT,
	.inner_local = { .family = 4, .addr = { 169, 254, 7, 1 } },
	.inner_peer = { .family = 4, .addr = { 169, 254, 7, 2 } },
};
static struct strait_tunnel *us, *peer;
static uint32_t spi_in, spi_out;

static uint32_t pick_spi(void *arg)
{
	static uint32_t n;
	return wan_spi_make((unsigned)(uintptr_t)arg, TENANT, ++n);
}

static struct strait_tunnel *mk(uint32_t local, uint32_t other)
{
	struct strait_tunnel_config c = {
		.tenant_id = TENANT, .local_id = local, .peer_id = other,
		.choose_spi = pick_spi, .choose_spi_arg = (void *)(uintptr_t)(local - 1),
	};
	memset(c.psk, 0x5a, sizeof(c.psk));
	return strait_tunnel_create(&c, T0);
}

static void setup(void)
{
	uint8_t init[STRAIT_KX_MAX_LEN], resp[STRAIT_KX_MAX_LEN], conf[STRAIT_KX_MAX_LEN];
	size_t n;
	us = mk(1, 2);
	peer = mk(2, 1);
	if (!us || !peer || strait_tunnel_initiate(peer, T0, init, sizeof(init)) != STRAIT_KX_INIT_LEN ||
	    strait_tunnel_handshake(us, T0, init, STRAIT_KX_INIT_LEN, resp, sizeof(resp), &n) ||
	    strait_tunnel_handshake(peer, T0, resp, n, conf, sizeof(conf), &n) ||
	    strait_tunnel_handshake(us, T0, conf, n, init, sizeof(init), &n))
		abort();
	spi_in = strait_tunnel_spi_in(us);
	spi_out = strait_tunnel_spi_out(us);
}

/* The worker's path for one received frame of len bytes at f. */
static void receive(uint8_t *f, size_t len, size_t head, size_t tail, uint64_t now)
{
	struct pkt_info pi;
	if (pkt_parse(f, (uint32_t)len, &pi) != PKT_OK)
		return;
	if (local_classify(f, (uint32_t)len, &pi, &wan) != LOCAL_OTHER || pi.l4_proto != PROTO_UDP ||
	    pi.dport != STRAIT_ESP_UDP_PORT || pi.is_fragment)
		return;
	struct wan_rx rx;
	wan_rx_classify(f + pi.l2_len, len - pi.l2_len, head + pi.l2_len, tail, &rx);
	if (rx.kind == WAN_RX_ESP || rx.kind == WAN_RX_HANDSHAKE) {
		if (rx.pkt.data < f || rx.pkt.data + rx.pkt.len > f + len)
			abort();
	}
	if (rx.tenant_id != TENANT)
		return;
	if (rx.kind == WAN_RX_HANDSHAKE) {
		uint8_t reply[STRAIT_KX_MAX_LEN];
		size_t n;
		strait_tunnel_handshake(us, now, rx.pkt.data, rx.pkt.len, reply, sizeof(reply), &n);
		if (n > sizeof(reply))
			abort();
	} else if (rx.kind == WAN_RX_ESP) {
		uint8_t nh;
		if (strait_tunnel_open(us, &rx.pkt, &nh, now) != STRAIT_ESP_OK)
			return;
		size_t payload;
		if (wan_inner_check(rx.pkt.data, rx.pkt.len, nh, &tenant, &payload) == WAN_INNER_OK &&
		    payload > rx.pkt.len)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint64_t now = T0;
	if (!us)
		setup();
	if (size < 1 || size > 9000)
		return 0;
	uint8_t mode = data[0];
	data++;
	size--;
	now += 1000;
	if (!(mode & 1)) {
		uint8_t *f = malloc(size ? size : 1);
		memcpy(f, data, size);
		receive(f, size, 0, 0, now);
		free(f);
	} else {
		/* the peer seals the input as an inner packet and frames it */
		static uint8_t buf[HEAD + ROOM + 64];
		memcpy(buf + HEAD, data, size);
		struct strait_pkt p = { .data = buf + HEAD, .len = size, .head = HEAD,
					.tail = sizeof(buf) - HEAD - size };
		uint8_t nh = (mode & 2) ? STRAIT_ESP_NH_IPV6 : STRAIT_ESP_NH_IPV4;
		if (strait_tunnel_seal(peer, &p, nh, now) != STRAIT_ESP_OK)
			return 0;
		struct strait_esp_path path = { .family = 4, .sport = 4500, .dport = 4500,
						.src = { 198, 18, 1, 2 }, .dst = { 198, 18, 1, 1 } };
		if (!strait_esp_udp_encap(&path, &p, false))
			return 0;
		size_t len = p.len + 14;
		uint8_t *f = malloc(len);
		memcpy(f, wan.mac, 6);
		memcpy(f + 6, "\x02\0\0\0\x02\x02", 6);
		f[12] = 0x08;
		f[13] = 0x00;
		memcpy(f + 14, p.data, p.len);
		receive(f, len, 0, 0, now);
		free(f);
	}
	if (strait_tunnel_spi_in(us) != spi_in || strait_tunnel_spi_out(us) != spi_out)
		abort(); /* nothing a frame carries may replace the live SAs */
	return 0;
}
