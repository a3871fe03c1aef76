/* SPDX-License-Identifier: BSD-3-Clause */
/* A worker's output: frames buffered per port and sent in one burst per
 * loop iteration on the worker's own TX queue (dp_tx_frame), IP packets
 * given their Ethernet header toward a resolved next hop (dp_tx_l3), and
 * for a next hop not yet known: the packet held (the latest one per next
 * hop) while ARP requests or neighbour solicitations go out on its VLAN
 * every DP_RESOLVE_GAP_MS, sent when the answer is learnt, handed to the
 * modules as unreachable after DP_RESOLVE_TRIES (dp_tx_resolve_poll). */
#include <errno.h>
#include <string.h>

#include <rte_branch_prediction.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "dp.h"

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

static void send_request(struct dp_worker *w, unsigned port, const struct dp_resolve *r)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(w->app->pool);
	if (!m) {
		w->stats.port[port].drops[DROP_NO_MBUF]++;
		return;
	}
	uint8_t *f = rte_pktmbuf_mtod(m, uint8_t *);
	uint32_t cap = rte_pktmbuf_tailroom(m);
	const struct local_addr *la = &w->app->local[port];
	uint32_t len = r->family == 4 ? local_arp_request(f, cap, la, r->vlan, r->ip)
				      : local_ns_request(f, cap, la, r->vlan, r->ip);
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
 * another worker knows is copied into this one's table, marked borrowed
 * (neigh_read(): a consistent copy, never a torn MAC). A borrowed entry
 * is trusted for NEIGH_BORROW_MS, then copied again (or resolved again):
 * a wrong one does not live on; a frame this worker learns replaces it. */
static const struct neigh_entry *borrow(struct dp_worker *w, unsigned port, uint8_t family,
					const uint8_t *ip, uint16_t vlan)
{
	for (unsigned i = 0; i < w->app->n_workers; i++) {
		struct neigh_entry e;

		if (i == w->id || !neigh_read(&w->app->workers[i].neigh[port], family, ip, vlan, &e) ||
		    e.borrowed)
			continue;
		neigh_learn_borrowed(&w->neigh[port], family, ip, vlan, e.mac, w->now_ms);
		return neigh_lookup(&w->neigh[port], family, ip, vlan);
	}
	return NULL;
}

/* ip's entry in this worker's table, or a fresh copy of another's. */
static const struct neigh_entry *neighbour(struct dp_worker *w, unsigned port, uint8_t family,
					   const uint8_t *ip, uint16_t vlan)
{
	const struct neigh_entry *e = neigh_lookup(&w->neigh[port], family, ip, vlan);
	if (likely(e && !e->borrowed))
		return e;
	if (w->app->n_workers == 1)
		return e;
	if (e && w->now_ms - e->seen_ms < NEIGH_BORROW_MS)
		return e;
	const struct neigh_entry *b = borrow(w, port, family, ip, vlan);
	return b ? b : NULL; /* a stale borrowed entry is not used */
}

static int send_l2(struct dp_worker *w, unsigned port, uint16_t vlan, uint8_t family,
		   const uint8_t *mac, struct rte_mbuf *m)
{
	uint16_t l2 = vlan ? 18 : 14;
	uint8_t *f = (uint8_t *)rte_pktmbuf_prepend(m, l2);
	if (!f) {
		rte_pktmbuf_free(m);
		return -ENOSPC;
	}
	memcpy(f, mac, 6);
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

/* m waits for next hop ip (copied first: ip may point into m). */
static int hold(struct dp_worker *w, unsigned port, uint16_t vlan, uint8_t family,
		const uint8_t *ip, struct rte_mbuf *m)
{
	struct dp_port_stats *ps = &w->stats.port[port];
	struct dp_resolve *r = NULL, *free_slot = NULL;
	unsigned alen = family == 4 ? 4 : 16;

	if (unlikely(w->resolve_off)) {
		rte_pktmbuf_free(m);
		return -EHOSTUNREACH;
	}
	for (unsigned i = 0; i < DP_RESOLVE_MAX; i++) {
		struct dp_resolve *x = &w->resolve[port][i];
		if (!x->family) {
			if (!free_slot)
				free_slot = x;
		} else if (x->family == family && x->vlan == vlan && !memcmp(x->ip, ip, alen)) {
			r = x;
			break;
		}
	}
	if (!r) {
		if (!free_slot) {
			ps->resolve_full++;
			rte_pktmbuf_free(m);
			return -EHOSTUNREACH;
		}
		r = free_slot;
		memset(r->ip, 0, sizeof(r->ip));
		memcpy(r->ip, ip, alen);
		r->vlan = vlan;
		r->family = family;
		r->tries = 1;
		r->next_ms = w->now_ms + DP_RESOLVE_GAP_MS;
		r->held = NULL;
		w->n_resolve[port]++;
		send_request(w, port, r);
	}
	if (r->held) {
		ps->held_replaced++;
		rte_pktmbuf_free(r->held);
	}
	r->held = m;
	ps->held++;
	return -EHOSTUNREACH;
}

int dp_tx_l3(struct dp_worker *w, unsigned port, uint16_t vlan, uint8_t family,
	     const uint8_t *dst, struct rte_mbuf *m)
{
	const struct local_addr *la = &w->app->local[port];
	/* off-link destinations go through the port's gateway, on its own
	 * VLAN; on a tenant's other VLAN the destination is on the link */
	const uint8_t *nh = vlan == la->vlan ? local_next_hop(la, family, dst) : dst;
	const struct neigh_entry *e = neighbour(w, port, family, nh, vlan);
	if (unlikely(!e))
		return hold(w, port, vlan, family, nh, m);
	return send_l2(w, port, vlan, family, e->mac, m);
}

static void resolve_end(struct dp_worker *w, unsigned port, struct dp_resolve *r)
{
	r->family = 0;
	r->held = NULL;
	w->n_resolve[port]--;
}

unsigned dp_tx_resolve_poll(struct dp_worker *w)
{
	unsigned work = 0;

	for (unsigned port = 0; port < DP_NPORTS; port++) {
		struct dp_port_stats *ps = &w->stats.port[port];

		for (unsigned i = 0; i < DP_RESOLVE_MAX && w->n_resolve[port]; i++) {
			struct dp_resolve *r = &w->resolve[port][i];
			if (!r->family)
				continue;
			const struct neigh_entry *e = neighbour(w, port, r->family, r->ip, r->vlan);
			struct rte_mbuf *m = r->held;
			if (e) {
				if (m && !send_l2(w, port, r->vlan, r->family, e->mac, m))
					ps->held_sent++;
				resolve_end(w, port, r);
				work++;
			} else if ((int64_t)(w->now_ms - r->next_ms) >= 0) {
				if (r->tries < DP_RESOLVE_TRIES) {
					r->tries++;
					r->next_ms = w->now_ms + DP_RESOLVE_GAP_MS;
					send_request(w, port, r);
				} else {
					/* no answer: unreachable (the module may
					 * say so to whoever sent it) */
					resolve_end(w, port, r);
					if (m) {
						ps->unresolved++;
						if (!dp_hooks_unresolved(w, m, port))
							rte_pktmbuf_free(m);
					}
				}
				work++;
			}
		}
	}
	return work;
}

void dp_tx_resolve_fini(struct dp_worker *w)
{
	for (unsigned port = 0; port < DP_NPORTS; port++)
		for (unsigned i = 0; i < DP_RESOLVE_MAX; i++) {
			struct dp_resolve *r = &w->resolve[port][i];
			if (r->family && r->held)
				rte_pktmbuf_free(r->held);
			r->family = 0;
			r->held = NULL;
		}
	memset(w->n_resolve, 0, sizeof(w->n_resolve));
	w->resolve_off = true;
}
