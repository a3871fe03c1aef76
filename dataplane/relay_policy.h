/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * relay_policy.h - what a peer appliance may ask of this one (DESIGN.md,
 * "Data path" step 2). The peer may be run by the customer: it is trusted
 * with nothing the tenant's own rule, in this appliance's files, does not
 * allow. An OPEN is checked field by field against that rule before any
 * frame leaves for the LAN. Plain C on the configuration (dp_core).
 */
#ifndef STRAIT_DATAPLANE_RELAY_POLICY_H
#define STRAIT_DATAPLANE_RELAY_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#include "channel_wire.h"
#include "strait/ctl.h"

/* Why an OPEN is refused (REFUSED policy to the peer, counted by reason). */
enum relay_refusal {
	RELAY_OPEN_OK = 0,
	RELAY_OPEN_RULE,     /* family, client, server or port outside the
			      * tenant's ClientPrefix/ServerPrefix/Ports (or
			      * another tenant's rule matches better) */
	RELAY_OPEN_VLAN,     /* a tag stack the tenant's Vlans do not allow */
	RELAY_OPEN_ADDR,     /* not a unicast host address we may speak as or
			      * to: a special-purpose block (link-local,
			      * loopback, documentation, NAT64, 6to4, ...:
			      * relay_policy.c), multicast, broadcast, the
			      * edges of our port's prefix (IPv4 network and
			      * broadcast, IPv6 subnet-router anycast), one of this
			      * appliance's own, client = server */
	RELAY_OPEN_OPTIONS,  /* SYN options: an MSS below RELAY_MSS_MIN */
	RELAY_OPEN_REASONS,
};

enum {
	/* The smallest MSS a peer may offer a server in our name (Linux's
	 * TCP_MIN_MSS): below it a peer could make the server and this
	 * appliance move a stream in tiny segments. */
	RELAY_MSS_MIN = 88,
};

/* a is in a special-purpose block (relay_policy.c: link-local, loopback,
 * documentation, NAT64, 6to4, Teredo, ...), multicast or broadcast: no
 * host a peer may name (as a client, a server, or the sender of an ICMP
 * error). */
bool relay_addr_special(uint8_t af, const uint8_t *a);

/* May the peer open o for configured tenant `tenant` (its index)? */
enum relay_refusal relay_open_check(const struct strait_config *cfg, unsigned tenant,
				    const struct chan_open *o);

/* The VLAN id a checked OPEN's connection is tagged with on the LAN (0:
 * untagged). Only the id comes from the peer, and only once
 * relay_vlan_allowed() found it in the tenant's Vlans: the 802.1p
 * priority and DEI bits are never the peer's, and an id of 0 (a priority
 * tag) means no tag. The MACs of an OPEN are not used at all: the
 * appliance sends as itself (relay_hook.c). */
static inline uint16_t relay_open_vlan(const struct chan_open *o)
{
	return o->nvlan ? o->tci[0] & 0xfff : 0;
}

/* May a connection of tenant `tenant` use this tag stack (ntags tags,
 * outer first: TPIDs and TCIs in host order)? One 802.1Q tag (TPID
 * 0x8100) whose VLAN id is in the tenant's Vlans, or none (or a priority
 * tag, VLAN id 0) when 0 is; without Vlans, the LAN port's Vlan is the
 * only one. A second tag (QinQ) is never allowed: the flow key names the
 * outer tag only. */
bool relay_vlan_allowed(const struct strait_config *cfg, unsigned tenant, unsigned ntags,
			const uint16_t *tpid, const uint16_t *tci);

#endif
