/* SPDX-License-Identifier: BSD-3-Clause */
/* A worker's output: frames buffered per port and sent in one burst per
 * loop iteration on the worker's own TX queue (dp_tx_frame), IP packets
 * given their Ethernet header toward a resolved next hop (dp_tx_l3), and
 * the ARP requests or neighbour solicitations for one not yet known. */
#include <errno.h>
#include <string.h>

#include <rte_branch_prediction.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "dp.h"

enum {
	RESOLVE_GAP_MS = 100,  /* ARP/NS requests from dp_tx_l3(), per port */
};

void dp_tx_flush(struct dp_worker *w, unsigned port)
{
	uint16_t n = w->ntx[port];
	if (!n)
		return;
	uint16_t sent = rte_eth_tx_burst(w->app->port_id[port], w->queue, w->txbuf[port], n);
	struct dp_port_stats *ps = &w->stats.port[port];
	for (uint16_t i = 0; i < sent; i++)
		ps->tx_bytes += w->txbuf[port][i]->pkt_len;
	ps->tx_pkts += sent;
	if (unlikely(sent < n)) {
		ps->drops[DROP_TX_FULL] += n - sent;
		rte_pktmbuf_free_bulk(&w->txbuf[port][sent], n - sent);
	}
	w->ntx[port] = 0;
}

void dp_tx_frame(struct dp_worker *w, unsigned port, struct rte_mbuf *m)
{
	if (unlikely(w->ntx[port] == DP_TXBUF))
		dp_tx_flush(w, port);
	w->txbuf[port][w->ntx[port]++] = m;
}

static void send_resolve(struct dp_worker *w, unsigned port, uint8_t family, const uint8_t *ip)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(w->app->pool);
	if (!m) {
		w->stats.port[port].drops[DROP_NO_MBUF]++;
		return;
	}
	uint8_t *f = rte_pktmbuf_mtod(m, uint8_t *);
	uint32_t cap = rte_pktmbuf_tailroom(m);
	const struct local_addr *la = &w->app->local[port];
	uint32_t len = family == 4 ? local_arp_request(f, cap, la, ip) : local_ns_request(f, cap, la, ip);
	if (!len) {
		rte_pktmbuf_free(m);
		return;
	}
	m->data_len = (uint16_t)len;
	m->pkt_len = len;
	w->stats.port[port].local_out++;
	dp_tx_frame(w, port, m);
}

/* Neighbour tables are per worker, and a frame that is not TCP (an ARP
 * reply, an NA) is learnt by the worker that received it: a next hop
 * another worker knows is copied into this one's table. The other table
 * is read while its worker may write it (as control.c reads them): the
 * entry is taken only if it still names the same address after its MAC
 * was copied (a MAC that changes at that moment may be copied torn; the
 * owner learns the right one from the next frame steered to it). Off the
 * fast path: only when this worker has no entry. */
static const struct neigh_entry *borrow(struct dp_worker *w, unsigned port, uint8_t family,
					const uint8_t *ip, uint16_t vlan)
{
	for (unsigned i = 0; i < w->app->n_workers; i++) {
		const struct neigh_entry *e = neigh_lookup(&w->app->workers[i].neigh[port],
							   family, ip, vlan);
		uint8_t mac[6];

		if (i == w->id || !e)
			continue;
		memcpy(mac, e->mac, 6);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (neigh_lookup(&w->app->workers[i].neigh[port], family, ip, vlan) != e)
			continue;
		neigh_learn(&w->neigh[port], family, ip, vlan, mac, w->now_ms);
		return neigh_lookup(&w->neigh[port], family, ip, vlan);
	}
	return NULL;
}

int dp_tx_l3(struct dp_worker *w, unsigned port, uint16_t vlan, uint8_t family,
	     const uint8_t *next_hop, struct rte_mbuf *m)
{
	/* off-link destinations go through the port's gateway */
	next_hop = local_next_hop(&w->app->local[port], family, next_hop);
	const struct neigh_entry *e = neigh_lookup(&w->neigh[port], family, next_hop, vlan);
	if (unlikely(!e) && w->app->n_workers > 1)
		e = borrow(w, port, family, next_hop, vlan);
	if (!e) {
		rte_pktmbuf_free(m);
		/* at most one request per port per RESOLVE_GAP_MS from here */
		if (w->now_ms - w->resolve_ms[port] >= RESOLVE_GAP_MS) {
			w->resolve_ms[port] = w->now_ms;
			send_resolve(w, port, family, next_hop);
		}
		return -EHOSTUNREACH;
	}
	uint16_t l2 = vlan ? 18 : 14;
	uint8_t *f = (uint8_t *)rte_pktmbuf_prepend(m, l2);
	if (!f) {
		rte_pktmbuf_free(m);
		return -ENOSPC;
	}
	memcpy(f, e->mac, 6);
	memcpy(f + 6, w->app->local[port].mac, 6);
	unsigned off = 12;
	if (vlan) {
		f[12] = ETYPE_VLAN >> 8; f[13] = ETYPE_VLAN & 0xff;
		f[14] = (uint8_t)(vlan >> 8); f[15] = (uint8_t)vlan;
		off = 16;
	}
	uint16_t et = family == 4 ? ETYPE_IP4 : ETYPE_IP6;
	f[off] = (uint8_t)(et >> 8);
	f[off + 1] = (uint8_t)et;
	m->l2_len = l2;
	dp_tx_frame(w, port, m);
	return 0;
}
