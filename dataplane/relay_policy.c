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

/* a is the network or broadcast address of the IPv4 prefix p. */
static bool subnet_edge(const uint8_t *a, const struct strait_prefix *p)
{
	uint32_t x, net, mask;

	if (p->family != 4 || p->len >= 31 || !strait_prefix_contains(p, 4, a))
		return false;
	x = (uint32_t)a[0] << 24 | (uint32_t)a[1] << 16 | (uint32_t)a[2] << 8 | a[3];
	mask = p->len ? ~0u << (32 - p->len) : 0;
	net = x & mask;
	return x == net || x == (net | ~mask);
}

/* A unicast host that is not this appliance. */
static bool host_ok(const struct strait_config *cfg, uint8_t af, const uint8_t *a)
{
	static const uint8_t zero[16];
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	const struct strait_appliance_cfg *ap = &cfg->appliance;

	if (af == 4) {
		if (a[0] == 0 || a[0] == 127 || a[0] >= 224)
			return false; /* this network, loopback, multicast, class E, broadcast */
		if (subnet_edge(a, &ap->lan.addr4) || subnet_edge(a, &ap->wan.addr4))
			return false;
	} else {
		if (!memcmp(a, zero, 16) || a[0] == 0xff ||
		    (!memcmp(a, zero, 15) && a[15] == 1) || !memcmp(a, mapped, 12) ||
		    !memcmp(a, zero, 12))
			return false; /* unspecified, multicast, loopback, mapped, compatible */
	}
	if (same(af, a, &ap->lan.addr4) || same(af, a, &ap->lan.addr6) ||
	    same(af, a, &ap->wan.addr4) || same(af, a, &ap->wan.addr6))
		return false;
	for (unsigned i = 0; i < cfg->n_tenants; i++)
		if (same_addr(af, a, &cfg->tenants[i].inner_local) ||
		    same_addr(af, a, &cfg->tenants[i].inner_peer))
			return false;
	return true;
}

static bool mac_ok(const uint8_t *m)
{
	static const uint8_t zero[6];

	return !(m[0] & 1) && memcmp(m, zero, 6);
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
	if (!mac_ok(o->src_mac) || !mac_ok(o->dst_mac))
		return RELAY_OPEN_MAC;
	if (o->mss && o->mss < RELAY_MSS_MIN)
		return RELAY_OPEN_OPTIONS;
	if (classify_syn(cfg, o->af, o->client, o->server, o->server_port) != tenant)
		return RELAY_OPEN_RULE;
	return RELAY_OPEN_OK;
}
