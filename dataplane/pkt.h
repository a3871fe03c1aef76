/* SPDX-License-Identifier: BSD-3-Clause */
/* Frame parsing: Ethernet (up to two VLAN tags), ARP, IPv4, IPv6 with its
 * extension chain, TCP. Pure C on a byte buffer, no DPDK: the worker calls
 * it on each received frame, the unit tests and the fuzzer on raw bytes.
 *
 * pkt_parse() never reads past `len`. It returns the first problem it finds
 * as a reason (enum pkt_malformed); the rule applied to each reason is
 * pkt_malformed_drops() (see dataplane/README.md, "Malformed frames").
 */
#ifndef STRAIT_DATAPLANE_PKT_H
#define STRAIT_DATAPLANE_PKT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	ETH_HLEN_ = 14,
	VLAN_HLEN_ = 4,
	ETYPE_IP4 = 0x0800,
	ETYPE_ARP = 0x0806,
	ETYPE_IP6 = 0x86dd,
	ETYPE_VLAN = 0x8100,
	ETYPE_QINQ = 0x88a8,
	PROTO_ICMP = 1,
	PROTO_TCP = 6,
	PROTO_UDP = 17,
	PROTO_ICMP6 = 58,
	TCP_FIN = 0x01, TCP_SYN = 0x02, TCP_RST = 0x04, TCP_PSH = 0x08,
	TCP_ACK = 0x10,
	PKT_MAX_EXT_HDRS = 8, /* IPv6 extension headers walked before giving up */
};

enum pkt_malformed {
	PKT_OK = 0,
	PKT_RUNT,        /* shorter than an Ethernet header: dropped */
	PKT_VLAN_TRUNC,  /* VLAN tag cut short: dropped */
	PKT_ARP_BAD,     /* ARP for IPv4 over Ethernet, truncated or odd sizes */
	PKT_IP4_HDR,     /* version, IHL or header cut by the frame */
	PKT_IP4_CSUM,    /* IPv4 header checksum */
	PKT_IP4_LEN,     /* total length below IHL or beyond the frame */
	PKT_IP6_HDR,     /* version, or fixed header cut by the frame */
	PKT_IP6_LEN,     /* payload length beyond the frame */
	PKT_IP6_EXT,     /* extension chain cut, misplaced or too long */
	PKT_TCP_TRUNC,   /* TCP header cut, or data offset out of range */
	PKT_MALFORMED_COUNT
};

/* Reasons dropped outright: there is no well-formed Ethernet frame to
 * forward. Every other reason is bridged unchanged (a bump in the wire is
 * not a firewall) but never classified into a flow nor answered locally. */
static inline bool pkt_malformed_drops(enum pkt_malformed m)
{
	return m == PKT_RUNT || m == PKT_VLAN_TRUNC;
}

const char *pkt_malformed_name(enum pkt_malformed m);

struct pkt_info {
	uint16_t vlan;      /* outer VLAN id, 0 = untagged */
	uint16_t vlan_inner; /* second tag's VLAN id (QinQ), 0 = none */
	uint8_t n_tags;     /* VLAN tags before the ethertype: 0, 1 or 2 */
	uint16_t l2_len;    /* Ethernet + tags */
	uint16_t ethertype; /* after the tags */
	uint8_t family;     /* 0 (not IP), 4 or 6 */
	uint8_t l4_proto;   /* 0 when there is no L4 header (later fragment) */
	uint16_t l3_len;    /* IP header including extension headers */
	uint16_t ip_len;    /* IP packet length claimed by the header */
	uint16_t l4_off;    /* frame offset of the L4 header */
	uint16_t l4_len;    /* TCP header length */
	uint16_t sport, dport; /* host order, TCP and UDP only */
	uint8_t tcp_flags;
	uint8_t is_fragment; /* any fragment (first or later) */
	const uint8_t *src, *dst; /* IP addresses inside the frame */
};

/* Fills *pi and returns PKT_OK, or the reason the frame is malformed
 * (*pi then holds what was parsed before the problem). */
enum pkt_malformed pkt_parse(const uint8_t *f, uint32_t len, struct pkt_info *pi);
/* The same for a frame of len bytes of which only the first seg are
 * contiguous at f (a chained mbuf): every header must lie within seg (one
 * that does not is malformed as if cut there), IP lengths are checked
 * against len. Only f[0, seg) is read. */
enum pkt_malformed pkt_parse_seg(const uint8_t *f, uint32_t seg, uint32_t len,
				 struct pkt_info *pi);

/* Internet checksum helpers (RFC 1071). */
uint32_t csum_add(uint32_t sum, const void *data, size_t len);
uint16_t csum_fold(uint32_t sum);
/* Checksum of an L4 segment with the IPv4/IPv6 pseudo-header. */
uint16_t csum_l4(uint8_t family, const uint8_t *src, const uint8_t *dst,
		 uint8_t proto, const void *l4, uint32_t l4_len);

#endif
