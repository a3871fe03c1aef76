/* SPDX-License-Identifier: BSD-3-Clause */
/* One captured frame down to its TCP segment: link layer (Ethernet with
 * 802.1Q/802.1ad tags, Linux cooked SLL and SLL2, raw IPv4/IPv6, BSD
 * loopback), IPv4 and IPv6 with extension headers, TCP. Every length is
 * checked against the bytes captured before it is used; nothing is
 * copied: the segment points into the frame. */
#ifndef STRAIT_PROFILE_DISSECT_H
#define STRAIT_PROFILE_DISSECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	TCP_FIN = 0x01, TCP_SYN = 0x02, TCP_RST = 0x04, TCP_PSH = 0x08,
	TCP_ACK = 0x10,
	DISSECT_MAX_VLANS = 2,   /* tags reported; deeper stacks are parsed */
};

enum dissect_result {
	DISSECT_TCP = 0,
	DISSECT_NOT_IP,      /* ARP, LLDP, ... */
	DISSECT_NOT_TCP,     /* UDP, ICMP, ESP, ... */
	DISSECT_FRAGMENT,    /* an IPv4 or IPv6 fragment: not reassembled */
	DISSECT_TRUNCATED,   /* the capture cut the headers short */
	DISSECT_MALFORMED,   /* a header that cannot be (bad version, lengths) */
	DISSECT_N_RESULTS
};

struct segment {
	uint8_t family;          /* 4 or 6 */
	uint8_t flags;           /* TCP_* */
	uint8_t nvlan;
	uint8_t cut;             /* the capture kept less than the frame */
	uint16_t vlan[DISSECT_MAX_VLANS];
	uint8_t src[16], dst[16];
	uint16_t sport, dport;   /* host order */
	uint32_t seq, ack;       /* host order */
	const uint8_t *payload;  /* captured payload bytes, inside the frame */
	uint32_t len;            /* captured payload bytes */
	uint32_t wire_len;       /* payload bytes the IP header announces */
	const uint8_t *tcp;      /* the TCP header, tcp_len bytes with payload */
	uint32_t tcp_len;
};

/* Link types by their DLT_ value as libpcap reports them. Returns false
 * for a link type this dissector does not know. */
int dissect_link_known(int dlt);
const char *dissect_link_name(int dlt);

/* Dissects one frame of `caplen` captured bytes of its `wirelen`. An IP
 * length beyond the bytes captured is the snap length's doing when
 * caplen < wirelen (the segment's len < wire_len), malformed otherwise. */
enum dissect_result dissect(int dlt, const uint8_t *frame, size_t caplen,
			    size_t wirelen, struct segment *s);

const char *dissect_result_name(enum dissect_result r);

/* True when the TCP checksum (RFC 793 / RFC 8200 pseudo-header) is right,
 * or cannot be checked (the capture cut the segment). */
bool dissect_checksum_ok(const struct segment *s);

#endif
