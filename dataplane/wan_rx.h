/* SPDX-License-Identifier: BSD-3-Clause */
/* The WAN side's receive checks, in plain C on byte buffers (no DPDK), so
 * that unit tests and the fuzzer run them as the worker does:
 *   - what a UDP/4500 datagram to the WAN address is (handshake, ESP, NAT
 *     keepalive, malformed) and which tenant and worker it is for;
 *   - the SPI layout that lets any worker find the owner of an ESP frame;
 *   - whether an opened inner packet may enter the tenant's channel.
 * Every length is checked before it is read. */
#ifndef STRAIT_DATAPLANE_WAN_RX_H
#define STRAIT_DATAPLANE_WAN_RX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strait/ctl.h"
#include "strait/tunnel.h"

/* Inbound SPIs (chosen by the receiver):
 *   bits 31..28  the owning worker (0..15)
 *   bits 27..12  the tenant Id (1..65535)
 *   bits 11..0   counting up from a random start, per tenant
 * so an SPI is never below 4096 (>= STRAIT_ESP_SPI_MIN), and the worker
 * that receives a frame knows the owner without any table. */
enum { WAN_SPI_RANDOM_BITS = 12 };

static inline uint32_t wan_spi_make(unsigned worker, uint16_t tenant_id, uint32_t rnd)
{
	return (uint32_t)worker << 28 | (uint32_t)tenant_id << WAN_SPI_RANDOM_BITS |
	       (rnd & ((1u << WAN_SPI_RANDOM_BITS) - 1));
}

static inline unsigned wan_spi_worker(uint32_t spi)
{
	return spi >> 28;
}

static inline uint16_t wan_spi_tenant(uint32_t spi)
{
	return (uint16_t)(spi >> WAN_SPI_RANDOM_BITS);
}

enum wan_rx_kind {
	WAN_RX_ESP,            /* pkt = the ESP packet; spi, tenant_id set */
	WAN_RX_HANDSHAKE,      /* pkt = the message (marker stripped); tenant_id set */
	WAN_RX_NAT_KEEPALIVE,  /* RFC 3948's one 0xff byte: dropped, counted */
	WAN_RX_NOT_OURS,       /* not UDP to 4500 (or a fragment): as before */
	WAN_RX_MALFORMED,      /* outer headers, lengths or checksum wrong */
};

struct wan_rx {
	enum wan_rx_kind kind;
	uint32_t spi;          /* ESP */
	uint32_t tenant_id;    /* ESP: from the SPI; handshake: the message's
				* field (either may name no tenant) */
	struct strait_pkt pkt; /* the UDP payload, as above */
	struct strait_esp_path from; /* outer addresses and ports as received */
};

/* Classifies an IP packet (l3 points at the IP header, len bytes, head and
 * tail bytes writable around it) addressed to the WAN address. */
void wan_rx_classify(uint8_t *l3, size_t len, size_t head, size_t tail, struct wan_rx *out);

enum wan_inner {
	WAN_INNER_OK = 0,      /* a TCP segment between the tenant's inner addresses */
	WAN_INNER_MALFORMED,   /* not one whole IPv4/IPv6 packet with a TCP header */
	WAN_INNER_ADDR,        /* another source or destination: not this tenant's */
};

/* Checks an opened inner packet (next header nh, len bytes) against the
 * tenant: IPv4 without options or fragments / IPv6 without extension
 * headers, protocol TCP with a whole header, source PeerInnerAddress,
 * destination InnerAddress. *payload is set to the TCP payload length. */
enum wan_inner wan_inner_check(const uint8_t *p, size_t len, uint8_t nh,
			       const struct strait_tenant_cfg *t, size_t *payload);

#endif
