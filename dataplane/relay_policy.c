/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * relay_policy.c - a peer's OPEN against this appliance's own copy of the
 * tenant's rule (relay_policy.h). The wire format's ranges (af, tag
 * count, TPIDs, unused tags zero, window scale, ports != 0, IPv4 in 4
 * bytes) are channel_wire.c's; this is what those well-formed fields may
 * mean here.
 */
#include "relay_policy.h"

#include <string.h>

#include "classify.h"

bool relay_vlan_allowed(const struct strait_config *cfg, unsigned tenant, unsigned ntags,
			const uint16_t *tpid, const uint16_t *tci)
{
	const struct strait_tenant_cfg *t = &cfg->tenants[tenant];
	uint16_t lan = cfg->appliance.lan.vlan;
	uint16_t vid;

	if (ntags > 1 || (ntags == 1 && tpid[0] != 0x8100))
		return false;
	vid = ntags ? tci[0] & 0xfff : 0;
	if (!t->n_vlans)
		return vid == lan;
	for (unsigned i = 0; i < t->n_vlans; i++)
		if (t->vlans[i] == vid)
			return true;
	return false;
}

static bool same(uint8_t af, const uint8_t *a, const struct strait_prefix *p)
{
	return p->family == af && !memcmp(a, p->addr, af == 4 ? 4 : 16);
}

static bool same_addr(uint8_t af, const uint8_t *a, const struct strait_addr *p)
{
	return p->family == af && !memcmp(a, p->addr, af == 4 ? 4 : 16);
}

/* a is the network or broadcast address of the IPv4 prefix p, or the
 * subnet-router anycast address (host bits zero, RFC 4291 2.6.1) of the
 * IPv6 prefix p. */
static bool subnet_edge(uint8_t af, const uint8_t *a, const struct strait_prefix *p)
{
	uint32_t x, net, mask;

	if (p->family != af || !strait_prefix_contains(p, af, a))
		return false;
	if (af == 6) {
		unsigned whole = p->len / 8, rest = p->len % 8;

		if (p->len >= 127 || (rest && (a[whole] & (0xff >> rest))))
			return false;
		for (unsigned i = whole + (rest ? 1 : 0); i < 16; i++)
			if (a[i])
				return false;
		return true;
	}
	if (p->len >= 31)
		return false;
	x = (uint32_t)a[0] << 24 | (uint32_t)a[1] << 16 | (uint32_t)a[2] << 8 | a[3];
	mask = p->len ? ~0u << (32 - p->len) : 0;
	net = x & mask;
	return x == net || x == (net | ~mask);
}

/* Address blocks no peer may make this appliance speak as or open a
 * connection to, from the special-purpose registries (RFC 6890 and its
 * updates; iana-ipv4/ipv6-special-registry) and the address architecture
 * (RFC 4291): what is not forwardable or not a host on a LAN (link-local,
 * loopback, documentation, protocol assignments, discard-only), and the
 * blocks that name another address inside them (IPv4-mapped,
 * -compatible and -translated, NAT64, 6to4, Teredo, SRv6 SIDs): a peer
 * must not reach through a translator or tunnel what the IPv4 checks and
 * the tenant's rule would refuse. Private (10/8, 172.16/12, 192.168/16,
 * fc00::/7), shared (100.64/10) and benchmarking (198.18/15, 2001:2::/48,
 * the one LAN block inside 2001::/23) blocks are ordinary LAN hosts.
 * Multicast, class E and broadcast are refused too. */
struct special {
	uint8_t len;
	uint8_t addr[16];
};

static const struct special special4[] = {
	{ 8, { 0 } },                  /* "this network" (RFC 791) */
	{ 8, { 127 } },                /* loopback (RFC 1122) */
	{ 16, { 169, 254 } },          /* link-local (RFC 3927) */
	{ 24, { 192, 0, 0 } },         /* IETF protocol assignments, DS-Lite,
					* NAT64 discovery (RFC 6890, 7335, 7050) */
	{ 24, { 192, 0, 2 } },         /* TEST-NET-1 (RFC 5737) */
	{ 24, { 192, 88, 99 } },       /* 6to4 relay anycast (RFC 7526) */
	{ 24, { 198, 51, 100 } },      /* TEST-NET-2 */
	{ 24, { 203, 0, 113 } },       /* TEST-NET-3 */
	{ 3, { 224 } },                /* multicast, class E, broadcast */
};

static const struct special special6[] = {
	{ 96, { 0 } },                           /* unspecified, loopback,
						  * IPv4-compatible (RFC 4291) */
	{ 96, { [10] = 0xff, 0xff } },           /* IPv4-mapped */
	{ 96, { [8] = 0xff, 0xff } },            /* IPv4-translated (RFC 2765) */
	{ 96, { 0, 0x64, 0xff, 0x9b } },         /* NAT64 (RFC 6052) */
	{ 48, { 0, 0x64, 0xff, 0x9b, 0, 1 } },   /* local-use NAT64 (RFC 8215) */
	{ 64, { 1, 0 } },                        /* discard-only (RFC 6666) */
	{ 64, { 1, 0, 0, 0, 0, 0, 0, 1 } },      /* dummy prefix (RFC 9780) */
	{ 23, { 0x20, 0x01, 0, 0 } },            /* IETF protocol assignments
						  * (RFC 2928): Teredo, ORCHID,
						  * DRIP, AMT, AS112, ... but
						  * 2001:2::/48 (ordinary6) */
	{ 32, { 0x20, 0x01, 0x0d, 0xb8 } },      /* documentation (RFC 3849) */
	{ 16, { 0x20, 0x02 } },                  /* 6to4 (RFC 3056) */
	{ 20, { 0x3f, 0xff } },                  /* documentation (RFC 9637) */
	{ 16, { 0x5f, 0x00 } },                  /* SRv6 SIDs (RFC 9602) */
	{ 10, { 0xfe, 0x80 } },                  /* link-local (RFC 4291) */
	{ 10, { 0xfe, 0xc0 } },                  /* site-local, deprecated (RFC 3879) */
	{ 8, { 0xff } },                         /* multicast */
};

/* Inside a block above, and yet LAN hosts. */
static const struct special ordinary6[] = {
	{ 48, { 0x20, 0x01, 0, 2 } },            /* benchmarking (RFC 5180) */
};

static bool in_block(const uint8_t *a, const struct special *b)
{
	unsigned whole = b->len / 8, rest = b->len % 8;

	if (memcmp(a, b->addr, whole))
		return false;
	return !rest || !((a[whole] ^ b->addr[whole]) & (0xff00 >> rest));
}

bool relay_addr_special(uint8_t af, const uint8_t *a)
{
	const struct special *t = af == 4 ? special4 : special6;
	size_t n = af == 4 ? sizeof(special4) / sizeof(special4[0])
			   : sizeof(special6) / sizeof(special6[0]);

	if (af == 6)
		for (size_t i = 0; i < sizeof(ordinary6) / sizeof(ordinary6[0]); i++)
			if (in_block(a, &ordinary6[i]))
				return false;
	for (size_t i = 0; i < n; i++)
		if (in_block(a, &t[i]))
			return true;
	return false;
}

/* A unicast host that is not this appliance. */
static bool host_ok(const struct strait_config *cfg, uint8_t af, const uint8_t *a)
{
	const struct strait_appliance_cfg *ap = &cfg->appliance;

	if (relay_addr_special(af, a))
		return false;
	if (af == 4 ? subnet_edge(4, a, &ap->lan.addr4) || subnet_edge(4, a, &ap->wan.addr4)
		    : subnet_edge(6, a, &ap->lan.addr6) || subnet_edge(6, a, &ap->wan.addr6))
		return false;
	if (same(af, a, &ap->lan.addr4) || same(af, a, &ap->lan.addr6) ||
	    same(af, a, &ap->wan.addr4) || same(af, a, &ap->wan.addr6))
		return false;
	for (unsigned i = 0; i < cfg->n_tenants; i++)
		if (same_addr(af, a, &cfg->tenants[i].inner_local) ||
		    same_addr(af, a, &cfg->tenants[i].inner_peer))
			return false;
	return true;
}

enum relay_refusal relay_open_check(const struct strait_config *cfg, unsigned tenant,
				    const struct chan_open *o)
{
	if (tenant >= cfg->n_tenants)
		return RELAY_OPEN_RULE;
	if (!relay_vlan_allowed(cfg, tenant, o->nvlan, o->tpid, o->tci))
		return RELAY_OPEN_VLAN;
	if (!host_ok(cfg, o->af, o->client) || !host_ok(cfg, o->af, o->server) ||
	    !memcmp(o->client, o->server, 16))
		return RELAY_OPEN_ADDR;
	if (o->mss && o->mss < RELAY_MSS_MIN)
		return RELAY_OPEN_OPTIONS;
	if (classify_syn(cfg, o->af, o->client, o->server, o->server_port) != tenant)
		return RELAY_OPEN_RULE;
	return RELAY_OPEN_OK;
}
