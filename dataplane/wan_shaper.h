/* SPDX-License-Identifier: BSD-3-Clause */
/* The WAN shaper on the WAN TX path (DESIGN.md, data path step 6): each
 * worker's tenants share [WAN] Rate by their [Bandwidth] through one
 * shaper (shaper.h) per worker, bridged traffic in its default class.
 *
 *   channel TCP (and its goodput test) -> tcp_gate.may_send()
 *     permit? send one segment : wake the tenant's class, hold the bytes
 *   wan_shaper_run() (every loop): shaper_pick() -> permit -> channel_kick()
 *   every frame leaving for a tenant (data, ACKs, handshakes, keepalives)
 *     -> wan_shaper_charge(); bridged LAN -> WAN bytes -> the default class
 *
 * What the shaper holds stays in the channel's send queue: tcp_write()
 * takes no more once it is full, the relay stops encoding (its per-flow
 * credit and the channel's room), and the LAN-side windows close. Nothing
 * is dropped here and no queue of its own grows.
 *
 * Several workers: a tenant lives on one worker, so each worker's shaper
 * holds its own tenants; the link is one atomic bucket all workers charge
 * (see dataplane/README.md, "Shaping", for why not a WAN TX lcore). A
 * tenant within its guarantee never waits for that bucket (the guarantees
 * fit in the link, ctl checks it); a borrowing one does.
 *
 * Reloads (dataplane/reload.c): a tenant's class is its slot's; it starts
 * afresh when a tenant starts in that slot (wan_shaper_attach), goes idle
 * when it stops, and keeps its state across a restarted tunnel (the
 * channel is kept too). A new configuration (a rate, a weight, a priority,
 * a transport, [WAN] Rate) is applied in place by wan_shaper_sync().
 *
 * Per frame: no allocation, no lock (one atomic add-and-compare with
 * several workers), no syscall. */
#ifndef STRAIT_DATAPLANE_WAN_SHAPER_H
#define STRAIT_DATAPLANE_WAN_SHAPER_H

#include <stdbool.h>
#include <stdint.h>

#include "shaper.h"
#include "strait/ctl.h"

struct channel;
struct wan_shaper;

/* Per tenant, for telemetry (wan_snap). */
struct wan_shaper_snap {
	bool shaped;                 /* false: no shaper on this appliance */
	struct shaper_class_stats cls;
	uint64_t rate_bps;           /* charged on the WAN, over the last full second */
	uint64_t held_bytes;         /* written to the channel, not sent yet */
	uint64_t over_bytes;         /* bridged: sent beyond the link's room, not charged */
	uint64_t guaranteed_bps, ceiling_bps; /* as applied (0: none / the link) */
	uint64_t at_ns;              /* wall clock of these figures (rates from bytes) */
};

/* What a frame carrying an L3 packet of l3_len bytes costs on an Ethernet
 * link, [WAN] Rate's unit: its 14-byte header, padding to 60 bytes, then
 * preamble and SFD (8), FCS (4) and the inter-frame gap (12), as a
 * 100 Mbit/s Ethernet hand-off carries it and as strait-wanem counts it.
 * Charged with 14 bytes only, a 100M grant overran a 100M link by 1.6 %
 * (full frames), and the excess queued and was dropped at the link. A
 * frame sent on a VLAN ([WAN] Vlan) carries a 4-byte 802.1Q tag too. */
enum { WAN_ETH_HDR = 14, WAN_ETH_MIN_FRAME = 60, WAN_ETH_WIRE_EXTRA = 24,
       WAN_ETH_VLAN_TAG = 4 };

static inline uint32_t wan_wire_bytes(uint32_t l3_len, bool vlan)
{
	uint32_t frame = l3_len + WAN_ETH_HDR + (vlan ? WAN_ETH_VLAN_TAG : 0);
	return (frame < WAN_ETH_MIN_FRAME ? WAN_ETH_MIN_FRAME : frame) + WAN_ETH_WIRE_EXTRA;
}

/* The bridged traffic's class: after every tenant slot's. */
enum { WAN_SHAPER_BRIDGED = STRAIT_MAX_TENANTS };

/* Whether this configuration shapes anything: a [WAN] Rate, or a tenant
 * with a Guaranteed or Ceiling rate. */
bool wan_shaper_wanted(const struct strait_config *cfg);

/* A worker's shaper: one class per tenant slot (its class id is its slot,
 * idle until a tenant of this worker is attached to it), plus the default
 * class for bridged traffic. Its policy comes from wan_shaper_sync().
 * NULL with errno on failure. */
struct wan_shaper *wan_shaper_create(unsigned n_workers, uint64_t now_ns);
/* Frees s; touches no channel (the worker's stack may be gone). */
void wan_shaper_destroy(struct wan_shaper *s);
/* Tenant start: slot's class starts afresh (no debt, no counters) and
 * gates its channel; its policy is applied at the next sync. */
void wan_shaper_attach(struct wan_shaper *s, unsigned slot, struct channel *ch);
/* Tenant stop: slot's class goes idle, its channel is no longer gated. */
void wan_shaper_detach(struct wan_shaper *s, unsigned slot);
/* Applies cfg (the worker's published configuration) in place when it is
 * a new one (its generation) or a tenant came or went since the last
 * sync: [WAN] Rate, each attached tenant's [Bandwidth], the channels'
 * minimum rates (Transport = rate). Every class keeps its state (debts,
 * deficit, demand, counters): a rate change resets nothing. O(1) when
 * nothing changed; O(slots) once per reload. */
void wan_shaper_sync(struct wan_shaper *s, const struct strait_config *cfg, uint64_t now_ns);
/* A frame of slot's tenant left for the WAN: len bytes on the wire. */
void wan_shaper_charge(struct wan_shaper *s, unsigned slot, uint32_t len, uint64_t now_ns);
/* The worker's bridged LAN -> WAN bytes on the wire so far (a counter:
 * the frames' bytes plus WAN_ETH_WIRE_EXTRA per frame): the growth since
 * the last call is charged to the default class. */
void wan_shaper_bridged(struct wan_shaper *s, uint64_t total_bytes, uint64_t now_ns);
/* slot's replication lag, its relay's estimate (wan_set_lag()): near
 * its RpoTarget it borrows first within its priority (shaper_set_lag()).
 * Ignored for a slot with no tenant of this worker. */
void wan_shaper_set_lag(struct wan_shaper *s, unsigned slot, uint64_t lag_ns, uint64_t now_ns);
/* Whether slot's class borrows first now (its lag near its RpoTarget). */
bool wan_shaper_urgent(const struct wan_shaper *s, unsigned slot);
/* Lets the tenants send what the shaper grants now. Returns nonzero when
 * a class may send again within 200 us (the worker must not sleep). */
unsigned wan_shaper_run(struct wan_shaper *s, uint64_t now_ns);
/* slot == WAN_SHAPER_BRIDGED: the bridged class. */
void wan_shaper_stats(struct wan_shaper *s, unsigned slot, uint64_t now_ns,
		      struct wan_shaper_snap *out);

#endif
