/* SPDX-License-Identifier: BSD-3-Clause */
/* How modules plug into the worker loop: the appliance's own TCP
 * (tcp_hook.c) today, the tenant channel next. See dataplane/README.md,
 * "Modules".
 *
 * The worker owns the ports. Modules register before the workers start
 * (dp_hooks_register(), from main() after configuration), at most
 * DP_HOOKS_MAX, and the worker asks them in the order they registered.
 * Each worker calls every module's worker_init() once on its own lcore and
 * keeps the returned context, so module state is per worker and lock-free.
 * Within a burst, the worker offers:
 *   - intercept(): each well-formed TCP frame of a flow whose fate is a
 *     tenant (decided at its SYN, see flow.h). The first module that
 *     returns true takes it; a frame no module takes is bridged. Also
 *     each ICMP/ICMPv6 destination unreachable that quotes a TCP segment
 *     of such a flow (pi->l4_proto ICMP or ICMPv6; icmp_error.h).
 *   - local(): each frame to the appliance's own address on a port that
 *     the worker does not answer itself (TCP, UDP, other protocols: not
 *     ARP, neighbour discovery or echo). The first module that returns true
 *     takes it (the TCP module takes TCP segments; a channel would take
 *     UDP/4500 to the WAN address); a frame no module takes is dropped and
 *     counted (local_unhandled).
 *   - poll(): every module, once per loop iteration, for its timers.
 * Modules send with dp_tx_frame() (a whole L2 frame) or dp_tx_l3() (an IP
 * packet: the worker adds Ethernet and VLAN for the next hop), both in
 * tx.c. Both are buffered and flushed at the end of the loop iteration, on
 * the worker's own TX queue; neither blocks or allocates.
 */
#ifndef STRAIT_DATAPLANE_DP_HOOKS_H
#define STRAIT_DATAPLANE_DP_HOOKS_H

#include <stdbool.h>
#include <stdint.h>

struct rte_mbuf;
struct dp_worker;
struct flow;
struct pkt_info;

enum { DP_HOOKS_MAX = 4 };

struct strait_config;
struct strait_tenant_stats;

/* A reload's news about one tenant slot, handed to every worker between
 * its bursts (reload.c), after the new configuration is published: every
 * removal, then every change, then every addition. A change that restarts
 * the tenant (STRAIT_APPLY_RESTART: a new Id or inner address) comes as
 * REMOVED with the old configuration, then ADDED with the new, both with
 * apply = STRAIT_APPLY_RESTART. */
enum dp_tenant_event_kind {
	DP_TENANT_REMOVED = 0, /* its flows are bridged once modules are told */
	DP_TENANT_CHANGED,     /* apply: enum strait_apply bits (ctl.h) */
	DP_TENANT_ADDED,
};

struct dp_tenant_event {
	uint16_t kind;   /* enum dp_tenant_event_kind */
	uint16_t slot;   /* the tenant's index in the configuration */
	uint32_t apply;  /* CHANGED: how (rule, rate, rekey, policy, tunnel, restart) */
	/* The configuration the event is about, valid while it is handled:
	 * the old one for REMOVED, the new one (already the worker's) else. */
	const struct strait_config *cfg;
};

struct dp_hooks {
	const char *name;
	/* On the worker's lcore before its first burst; NULL return is an
	 * error that stops start-up. */
	void *(*worker_init)(struct dp_worker *w);
	/* As the worker stops, after its last burst, modules in reverse
	 * order. By then dp_hooks_ctx() gives NULL for this worker: a module
	 * whose context other threads read (telemetry) waits here for the
	 * readers that loaded it before. */
	void (*worker_fini)(struct dp_worker *w, void *ctx);
	/* A frame of an intercepted flow, received on port in_port (DP_LAN or
	 * DP_WAN). m->l2_len and m->l3_len are set. Return true to take
	 * ownership of m; false and the worker offers it to the next module,
	 * or bridges it as before. */
	bool (*intercept)(void *ctx, struct rte_mbuf *m, const struct pkt_info *pi,
			  struct flow *f, unsigned in_port);
	/* A frame to the appliance's own address on in_port (m->l2_len,
	 * m->l3_len set; pi->l4_proto, ports and fragment flag tell what it
	 * is). Return true to take ownership of m; false and the worker offers
	 * it to the next module, or drops it (local_unhandled). */
	bool (*local)(void *ctx, struct rte_mbuf *m, const struct pkt_info *pi,
		      unsigned in_port);
	/* Timers; returns how much work it did (0 lets the worker back off). */
	unsigned (*poll)(void *ctx, uint64_t now_ms);
	/* A reload added, removed or changed a tenant (every worker is told;
	 * a module acts on the tenants it holds; removals reach the modules
	 * in reverse order). A rate change goes to the shaper in place, a key
	 * or timer change starts the tenant's tunnel again, a rule change
	 * needs nothing (new flows only), a cache change starts the relay's
	 * session again. */
	void (*tenant)(void *ctx, const struct dp_tenant_event *ev);
	/* Adds what the module knows of tenant slot `slot` to s before the
	 * worker publishes it (stats_publish.c): the channel's state, RTT,
	 * bytes on the WAN, optimized flows, why flows were not optimized. */
	void (*tenant_stats)(void *ctx, unsigned slot, struct strait_tenant_stats *s);
	/* A packet dp_tx_l3() held for a next hop that never answered on
	 * `port` (data at its IP header, m->hash.usr as the module left it).
	 * Return true to take ownership of m; false and the next module is
	 * offered it, or it is freed. */
	bool (*unresolved)(void *ctx, struct rte_mbuf *m, unsigned port);
};

/* Appends a module (copied) to the table; call before the workers start.
 * Returns the module's id (>= 0), for dp_hooks_ctx(), or -ENOSPC. */
int dp_hooks_register(const struct dp_hooks *h);

/* Module id's context on worker w, from any thread: NULL before its
 * worker_init() returned and from its stop on. */
void *dp_hooks_ctx(const struct dp_worker *w, int id);

/* Queues a whole frame for port (DP_LAN/DP_WAN); takes ownership of m in
 * every case (a frame that finds the queue full is freed and counted). */
void dp_tx_frame(struct dp_worker *w, unsigned port, struct rte_mbuf *m);

/* Queues an IP packet (data starts at the IP header) for port: prepends
 * Ethernet (and a VLAN tag, if `vlan`) toward its next hop, resolved from
 * what the workers learnt. On the port's own VLAN the next hop is dst
 * when it is inside the port's prefix (or the port has no gateway), else
 * the port's gateway; on any other VLAN (a tenant's) it is dst itself:
 * no gateway is known there. Takes ownership of m. Returns 0 when queued;
 * -EHOSTUNREACH when the next hop is not known yet: m is held (the latest
 * one per next hop; an earlier one is freed) while ARP requests or
 * neighbour solicitations go out on that VLAN, and sent once it answers;
 * with no answer after DP_RESOLVE_TRIES, the modules' unresolved() is
 * offered m; -ENOSPC without headroom (m freed). */
int dp_tx_l3(struct dp_worker *w, unsigned port, uint16_t vlan, uint8_t family,
	     const uint8_t *dst, struct rte_mbuf *m);

/* The worker's clock: milliseconds, monotonic, read once per burst. */
uint64_t dp_worker_now_ms(const struct dp_worker *w);

/* The worker's side of the table (worker.c). */
int dp_hooks_start(struct dp_worker *w);  /* every worker_init(); -1 on failure */
void dp_hooks_stop(struct dp_worker *w);  /* every worker_fini() */
bool dp_hooks_intercept(struct dp_worker *w, struct rte_mbuf *m, const struct pkt_info *pi,
			struct flow *f, unsigned in_port);
bool dp_hooks_local(struct dp_worker *w, struct rte_mbuf *m, const struct pkt_info *pi,
		    unsigned in_port);
unsigned dp_hooks_poll(struct dp_worker *w);
void dp_hooks_tenant(struct dp_worker *w, const struct dp_tenant_event *ev);
void dp_hooks_tenant_stats(struct dp_worker *w, unsigned slot, struct strait_tenant_stats *s);
bool dp_hooks_unresolved(struct dp_worker *w, struct rte_mbuf *m, unsigned port);

/* The configuration the worker reads in this loop iteration (reload.c):
 * valid until the iteration ends; a reload may replace it after. */
const struct strait_config *dp_worker_cfg(const struct dp_worker *w);

#endif
