/* SPDX-License-Identifier: BSD-3-Clause */
/* The relay in straitd (dp_hooks.h): per worker, a TCP stack for the
 * tenants' intercepted LAN connections, the relay (relay.h) of every tenant
 * the worker owns, and the L2 of each connection. See dataplane/README.md,
 * "Optimized flows". */
#ifndef STRAIT_DATAPLANE_RELAY_HOOK_H
#define STRAIT_DATAPLANE_RELAY_HOOK_H

#include <stdint.h>

#include "relay.h"
#include "strait/ctl.h"

struct dp_app;
struct dp_worker;

/* Call from main() after configuration, before the workers start; 0 or
 * -ENOSPC (the module table is full). */
int relay_hook_register(void);

/* The worker that owns configured tenant i: its channel, caches and
 * intercepted flows live there. */
unsigned relay_tenant_owner(const struct dp_app *app, unsigned i);

/* Per tenant, as the owner worker last published it (every
 * RELAY_HOOK_SNAP_MS, under a sequence count, as tcp_hook.h does). */
enum { RELAY_HOOK_SNAP_MS = 100 };

struct relay_hook_tenant {
	uint8_t present;          /* this worker owns the tenant */
	uint8_t up;               /* the channel carries flows */
	struct relay_stats relay;
	uint64_t bypassed;        /* SYNs bridged unoptimized: PeerDown bypass */
	uint64_t refused_down;    /* SYNs refused: PeerDown fail-closed */
	uint64_t wan_syn;         /* SYNs that came from the WAN: bridged */
	uint64_t vlan_bypassed;   /* SYNs on a VLAN the tenant's Vlans do not
				   * allow: bridged */
	uint64_t full;            /* SYNs bridged: no room (OptimizedFlows, or
				   * the tenant's 256 flows) */
	uint64_t icmp_in;         /* B: ICMP unreachables that refused an open */
	uint64_t icmp_ignored;    /* B: other ICMP errors about our connections */
	uint64_t icmp_out;        /* A: ICMP unreachables sent to clients */
	uint64_t memory;          /* bytes of the tenant's fixed budget */
	char why[160];            /* why the channel carries no flows */
};

/* Copies tenant i's latest figures from its owner. 0, -ENOENT (no such
 * tenant or the worker has none), -EAGAIN (the worker kept writing). */
int relay_hook_tenant(const struct dp_app *app, unsigned i, struct relay_hook_tenant *out);

#endif
