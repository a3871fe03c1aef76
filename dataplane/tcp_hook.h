/* SPDX-License-Identifier: BSD-3-Clause */
/* Wires the TCP engine into straitd's worker loop (dp_hooks.h): one
 * tcp_stack per worker, fed with the segments addressed to the appliance's
 * own addresses, serving the link-test services (tcp_services.h) there. */
#ifndef STRAIT_DATAPLANE_TCP_HOOK_H
#define STRAIT_DATAPLANE_TCP_HOOK_H

#include <stdint.h>

#include "strait/ctl.h"
#include "tcp.h"
#include "tcp_impair.h"

struct dp_worker;

/* Call from main() after configuration, before the workers start; returns
 * 0 or -ENOSPC (the module table is full). */
int tcp_hook_register(void);

/* Tenant ids in the worker's stack: 0 is the appliance's own services;
 * the configuration's tenant i is i + 1, so the stack has one slot more
 * than a configuration has tenants. */
enum {
	TCP_HOOK_TENANT_LOCAL = 0,
	TCP_HOOK_TENANTS = STRAIT_MAX_TENANTS + 1,
	TCP_HOOK_CONNS_MAX = 64,
};

/* The stack tenant of configured tenant i (0 <= i < STRAIT_MAX_TENANTS). */
static inline uint16_t tcp_hook_tenant(unsigned i)
{
	return (uint16_t)(i + 1);
}

/* Statistics for telemetry. The worker publishes a snapshot of its stack
 * between bursts, at most every TCP_HOOK_SNAP_MS, under a sequence count:
 * readers on other threads copy it and retry if the worker wrote
 * meanwhile, so they never see a half-written snapshot, and the worker
 * never waits (no lock, no allocation, no syscall). */
enum { TCP_HOOK_SNAP_MS = 100 };

struct tcp_hook_conn {
	uint8_t af, state;
	uint16_t tenant, lport, rport;
	uint32_t slot;       /* tcp_conn_index() */
	struct tcp_addr laddr, raddr;
	struct tcp_conn_stats s;
};

struct tcp_hook_snap {
	uint64_t at_ms;      /* worker clock when taken; 0: nothing published yet */
	struct tcp_stack_stats stack;
	uint32_t by_state[TCP_NSTATES];
	struct tcp_tenant_stats tenant[TCP_HOOK_TENANTS];
	uint32_t n_conns;    /* listed below: up to TCP_HOOK_CONNS_MAX, live ones
	                      * first, then TIME-WAIT, each by slot */
	struct tcp_hook_conn conn[TCP_HOOK_CONNS_MAX];
	struct tcp_impair_stats impair; /* all zero when the knob is off */
};

/* Copies worker w's latest snapshot (any thread). Returns 0, or -ENOENT
 * when the worker has no TCP stack, -EAGAIN when the worker kept writing
 * through every retry. */
int tcp_hook_snapshot(const struct dp_worker *w, struct tcp_hook_snap *out);

/* Worker `worker`'s counters as its stack was freed (straitd's exit
 * statistics, written after the workers stopped). Returns 0, or -ENOENT
 * when that worker had no stack or has not stopped. */
int tcp_hook_final(unsigned worker, struct tcp_stack_stats *stack,
		   struct tcp_impair_stats *impair);

#endif
