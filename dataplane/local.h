/* SPDX-License-Identifier: BSD-3-Clause */
/* The appliance's own addresses on a port: what is for us, and the answers
 * (ARP, IPv6 neighbour discovery, ICMP/ICMPv6 echo) built in place in the
 * received frame. Also the requests the appliance sends to resolve its next
 * hops. Pure C on byte buffers. */
#ifndef STRAIT_DATAPLANE_LOCAL_H
#define STRAIT_DATAPLANE_LOCAL_H

#include <stdbool.h>
#include <stdint.h>

#include "pkt.h"

struct local_addr {
	uint8_t mac[6];
	uint16_t vlan; /* own addresses live on this VLAN (0 = untagged) */
	bool has4, has6;
	uint8_t ip4[4];
	uint8_t ip6[16];
	uint8_t plen4, plen6;  /* the port's prefixes (Address = ip/len) */
	bool has_gw4, has_gw6; /* configured gateways: pinned neighbours */
	uint8_t gw4[4];
	uint8_t gw6[16];
};

/* Whether ip is inside the port's own prefix of its family (on-link). */
bool local_on_link(const struct local_addr *la, uint8_t family, const uint8_t *ip);
/* Whether ip is the port's configured gateway of its family. */
bool local_is_gateway(const struct local_addr *la, uint8_t family, const uint8_t *ip);
/* The next hop toward dst: dst when on-link or when the port has no
 * gateway of that family, else the gateway. */
const uint8_t *local_next_hop(const struct local_addr *la, uint8_t family, const uint8_t *dst);

enum local_verdict {
	LOCAL_NONE = 0,   /* not for the appliance: bridge it */
	LOCAL_ARP_REQ,    /* ARP request for our IPv4: answer */
	LOCAL_ECHO4,      /* ICMP echo request to us: answer */
	LOCAL_NS,         /* neighbour solicitation for our IPv6: answer */
	LOCAL_ECHO6,      /* ICMPv6 echo request to us: answer */
	LOCAL_CONSUME,    /* for us, nothing to send (ARP reply, NA, echo reply) */
	LOCAL_TCP,        /* TCP to us: the TCP engine's, dropped without one */
	LOCAL_OTHER,      /* to us, nothing handles it: dropped */
};

/* What a well-formed frame (pkt_parse() == PKT_OK) means for us; len is
 * the bytes readable at f (ICMP not wholly within them is LOCAL_OTHER). */
enum local_verdict local_classify(const uint8_t *f, uint32_t len, const struct pkt_info *pi,
				  const struct local_addr *la);

/* Rewrites the frame into the answer for verdicts ARP_REQ, ECHO4, NS and
 * ECHO6. Returns the answer's length (<= cap), or 0 when the request is
 * invalid (bad checksum, ND hop limit, ...) and must be dropped. */
uint32_t local_answer(uint8_t *f, uint32_t len, uint32_t cap, const struct pkt_info *pi,
		      const struct local_addr *la, enum local_verdict v);

/* Writes a broadcast ARP request / multicast NS for target on VLAN vlan
 * (0: untagged; the port's own is la->vlan, a tenant's may be another),
 * from the port's MAC and address; returns the frame length, 0 if cap is
 * too small or the port has no such address. */
uint32_t local_arp_request(uint8_t *f, uint32_t cap, const struct local_addr *la,
			   uint16_t vlan, const uint8_t *target4);
uint32_t local_ns_request(uint8_t *f, uint32_t cap, const struct local_addr *la,
			  uint16_t vlan, const uint8_t *target6);

#endif
