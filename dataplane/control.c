/* SPDX-License-Identifier: BSD-3-Clause */
/* Control on the main lcore (every 10 ms; in single-lcore mode between
 * the worker's bursts): next-hop resolution for the configured gateways
 * and the idle exit of capture replays. It never transmits: frames go to
 * worker 0 through its control ring. */
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "dp.h"
#include "strait/api.h"

static void resolve_one(struct dp_app *app, unsigned port, const struct strait_addr *gw)
{
	if (!gw->family)
		return;
	uint16_t vlan = app->local[port].vlan;
	struct neigh_entry e;
	for (unsigned i = 0; i < app->n_workers; i++)
		if (neigh_read(&app->workers[i].neigh[port], gw->family, gw->addr, vlan, &e))
			return;
	struct rte_mbuf *m = rte_pktmbuf_alloc(app->pool);
	if (!m) {
		app->workers[0].stats.port[port].drops[DROP_NO_MBUF]++;
		return;
	}
	uint8_t *f = rte_pktmbuf_mtod(m, uint8_t *);
	uint32_t cap = rte_pktmbuf_tailroom(m);
	uint32_t len = gw->family == 4 ? local_arp_request(f, cap, &app->local[port], vlan, gw->addr)
				       : local_ns_request(f, cap, &app->local[port], vlan, gw->addr);
	if (!len) {
		rte_pktmbuf_free(m);
		return;
	}
	m->data_len = (uint16_t)len;
	m->pkt_len = len;
	m->port = (uint16_t)port; /* the worker reads the side from here */
	/* The main lcore never transmits: worker 0 sends it. */
	if (rte_ring_enqueue(app->workers[0].ctrl, m))
		rte_pktmbuf_free(m);
}

void dp_control_tick(struct dp_app *a)
{
	uint64_t now = dp_now_ms();
	if (now - a->last_resolve_ms >= 1000) {
		a->last_resolve_ms = now;
		/* the gateways take a restart to change, but the configuration
		 * holding them may be replaced by a reload: held meanwhile */
		const struct strait_config *cfg = strait_running_get(a->running);
		const struct strait_appliance_cfg *ac = &cfg->appliance;
		resolve_one(a, DP_LAN, &ac->lan.gateway4);
		resolve_one(a, DP_LAN, &ac->lan.gateway6);
		resolve_one(a, DP_WAN, &ac->wan.gateway4);
		resolve_one(a, DP_WAN, &ac->wan.gateway6);
		strait_running_put(a->running, cfg);
	}
	if (a->exit_idle_ms) {
		uint64_t last = 0;
		for (unsigned i = 0; i < a->n_workers; i++) {
			uint64_t l = __atomic_load_n(&a->workers[i].last_rx_ms, __ATOMIC_RELAXED);
			if (l > last)
				last = l;
		}
		if (last && now > last && now - last > a->exit_idle_ms)
			a->quit = 1;
	}
}
