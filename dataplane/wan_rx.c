/* SPDX-License-Identifier: BSD-3-Clause */
#include "wan_rx.h"

#include <string.h>

static inline uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

void wan_rx_classify(uint8_t *l3, size_t len, size_t head, size_t tail, struct wan_rx *out)
{
	memset(out, 0, sizeof(*out));
	out->pkt = (struct strait_pkt){ .data = l3, .len = len, .head = head, .tail = tail };
	switch (strait_esp_udp_decap(&out->pkt, &out->from)) {
	case STRAIT_UDP_ESP:
		out->kind = WAN_RX_ESP;
		out->spi = strait_esp_peek_spi(out->pkt.data, out->pkt.len);
		out->tenant_id = wan_spi_tenant(out->spi);
		return;
	case STRAIT_UDP_HANDSHAKE:
		out->kind = WAN_RX_HANDSHAKE;
		out->tenant_id = strait_kx_peek_tenant(out->pkt.data, out->pkt.len);
		return;
	case STRAIT_UDP_KEEPALIVE:
		out->kind = WAN_RX_NAT_KEEPALIVE;
		return;
	case STRAIT_UDP_NOT_OURS:
		out->kind = WAN_RX_NOT_OURS;
		return;
	default:
		out->kind = WAN_RX_MALFORMED;
		return;
	}
}

enum wan_inner wan_inner_check(const uint8_t *p, size_t len, uint8_t nh,
			       const struct strait_tenant_cfg *t, size_t *payload)
{
	const uint8_t *src, *dst, *tcp;
	size_t ip_len, alen;

	*payload = 0;
	if (nh == STRAIT_ESP_NH_IPV4) {
		/* strait_esp_open checked version, IHL and total length */
		if (len < 20 || (p[0] & 15) != 5 || (be16(p + 6) & 0x3fff) || p[9] != 6)
			return WAN_INNER_MALFORMED;
		ip_len = 20;
		src = p + 12;
		dst = p + 16;
		alen = 4;
		if (t->inner_local.family != 4)
			return WAN_INNER_ADDR;
	} else if (nh == STRAIT_ESP_NH_IPV6) {
		if (len < 40 || p[6] != 6)
			return WAN_INNER_MALFORMED;
		ip_len = 40;
		src = p + 8;
		dst = p + 24;
		alen = 16;
		if (t->inner_local.family != 6)
			return WAN_INNER_ADDR;
	} else {
		return WAN_INNER_MALFORMED;
	}
	if (len < ip_len + 20)
		return WAN_INNER_MALFORMED;
	tcp = p + ip_len;
	size_t doff = (size_t)(tcp[12] >> 4) * 4;
	if (doff < 20 || ip_len + doff > len)
		return WAN_INNER_MALFORMED;
	if (memcmp(src, t->inner_peer.addr, alen) || memcmp(dst, t->inner_local.addr, alen))
		return WAN_INNER_ADDR;
	*payload = len - ip_len - doff;
	return WAN_INNER_OK;
}
