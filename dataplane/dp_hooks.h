/* SPDX-License-Identifier: BSD-3-Clause */
/* How a module (the TCP engine, later the tunnel channel) plugs into the
 * worker loop. See dataplane/README.md, "Hooking a module in".
 *
 * The worker owns the ports. A module registers one struct dp_hooks before
 * the workers start (dp_hooks_register(), from main() after configuration);
 * each worker then calls worker_init() once on its own lcore and keeps the
 * returned context, so module state is per worker and lock-free. Within a
 * burst, the worker calls:
 *   - intercept() for each well-formed TCP frame of a flow whose fate is a
 *     tenant (decided at its SYN, see flow.h);
 *   - local_tcp() for each TCP segment addressed to the appliance's own
 *     addresses;
 *   - poll() once per loop iteration, for timers.
 * The module sends with dp_tx_frame() (a whole L2 frame) or dp_tx_l3() (an
 * IP packet: the worker adds Ethernet and VLAN for the next hop). Both are
 * buffered and flushed at the end of the loop iteration, on the worker's
 * own TX queue; neither blocks or allocates.
 */
#ifndef STRAIT_DATAPLANE_DP_HOOKS_H
#define STRAIT_DATAPLANE_DP_HOOKS_H

#include <stdbool.h>
#include <stdint.h>

struct rte_mbuf;
struct dp_worker;
struct flow;
struct pkt_info;

struct dp_hooks {
	/* On the worker's lcore before its first burst; NULL return is an
	 * error that stops start-up. */
	void *(*worker_init)(struct dp_worker *w);
	void (*worker_fini)(struct dp_worker *w, void *ctx);
	/* A frame of an intercepted flow, received on port in_port (DP_LAN or
	 * DP_WAN). m->l2_len and m->l3_len are set. Return true to take
	 * ownership of m; false and the worker bridges it as before. */
	bool (*intercept)(void *ctx, struct rte_mbuf *m, const struct pkt_info *pi,
			  struct flow *f, unsigned in_port);
	/* A TCP segment to the appliance's own address on in_port; always
	 * takes ownership of m (m->l2_len, m->l3_len set). */
	void (*local_tcp)(void *ctx, struct rte_mbuf *m, const struct pkt_info *pi,
			  unsigned in_port);
	/* Timers; returns how much work it did (0 lets the worker back off). */
	unsigned (*poll)(void *ctx, uint64_t now_ms);
};

/* Registers the hooks (copied); call before the workers start. */
void dp_hooks_register(const struct dp_hooks *h);

/* Queues a whole frame for port (DP_LAN/DP_WAN); takes ownership of m in
 * every case (a frame that finds the queue full is freed and counted). */
void dp_tx_frame(struct dp_worker *w, unsigned port, struct rte_mbuf *m);

/* Queues an IP packet (data starts at the IP header) for port: prepends
 * Ethernet (and the port's VLAN tag, if `vlan`) toward next_hop, resolved
 * from what the worker learnt. Takes ownership of m. Returns 0, or
 * -EHOSTUNREACH when next_hop is unknown (m is freed, an ARP request or
 * neighbour solicitation goes out instead), or -ENOSPC without headroom. */
int dp_tx_l3(struct dp_worker *w, unsigned port, uint16_t vlan, uint8_t family,
	     const uint8_t *next_hop, struct rte_mbuf *m);

/* The worker's clock: milliseconds, monotonic, read once per burst. */
uint64_t dp_worker_now_ms(const struct dp_worker *w);

#endif
