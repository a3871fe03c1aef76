/* SPDX-License-Identifier: BSD-3-Clause */
/* ICMP and ICMPv6 destination unreachable for TCP: read at the appliance
 * that opened the real connection (the server's side answered its SYN
 * with one), written at the appliance that holds the client's SYN (the
 * client gets the same). Plain C on byte buffers. */
#ifndef STRAIT_DATAPLANE_ICMP_ERROR_H
#define STRAIT_DATAPLANE_ICMP_ERROR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	ICMP4_UNREACH = 3,   /* codes 0..15 */
	ICMP6_UNREACH = 1,   /* codes 0..7 */
	ICMP_ERROR_MAX = 40 + 8 + 40 + 8, /* IPv6 + ICMPv6 + quoted IPv6 + 8 */
};

/* What a destination unreachable says about a TCP segment it quotes. */
struct icmp_quote {
	uint8_t family, type, code;
	uint8_t from[16];          /* the ICMP's source (who says so) */
	uint8_t src[16], dst[16];  /* the quoted segment's addresses */
	uint16_t sport, dport;     /* and ports, host order */
	uint32_t seq;
};

/* An ICMP (family 4) or ICMPv6 (6) message at l4[0..len) inside an IP
 * packet from `from`: true when it is a destination unreachable quoting
 * an IP header and at least 8 bytes of a TCP segment (fills *q). Reads
 * nothing past len. */
bool icmp_quote_tcp(uint8_t family, const uint8_t *from, const uint8_t *l4, size_t len,
		    struct icmp_quote *q);

/* Writes an IP packet (IPv4 + ICMP or IPv6 + ICMPv6) carrying q's
 * destination unreachable from q->from to q->src, quoting the TCP segment
 * q describes (its SYN: sequence q->seq, no options). Returns the length,
 * or 0 when cap is too small or the type/code is not an unreachable of the
 * family. */
size_t icmp_unreach_write(uint8_t *out, size_t cap, const struct icmp_quote *q);

#endif
