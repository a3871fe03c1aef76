/* SPDX-License-Identifier: BSD-3-Clause */
/* The worker loop: RX a burst on each port, classify each frame, answer
 * what is ours, track TCP flows, bridge the rest in one TX burst.
 *
 *   rx_burst(LAN) -> parse -> malformed? --drop rule--> free (counted)
 *                     |         \--bridge rule--> fwd[]
 *                     +-> learn IP->MAC (port, VLAN)
 *                     +-> ours? ARP/ND/echo -> answer in place -> txbuf[LAN]
 *                     |         TCP, UDP, ... -> modules' local() (dp_hooks.h)
 *                     +-> TCP -> flow table (fate at SYN) -> modules' intercept()?
 *                     +-> ICMP error quoting an intercepted flow -> intercept()?
 *                     +-> fwd[] -> tx_burst(WAN) in one call
 *   then the same from WAN to LAN, then control frames, the modules' poll(),
 *   flush (tx.c).
 *
 * Nothing here allocates, locks, logs or makes a syscall, except the
 * idle back-off sleep once a worker has seen no work for a while. Each
 * iteration is timed (the TSC): a late one is counted (dp.h, dp_loop_stats).
 */
#include <errno.h>
#include <string.h>
#include <sys/prctl.h>

#include <rte_branch_prediction.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_pause.h>
#include <rte_prefetch.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include "classify.h"
#include "dp.h"
#include "icmp_error.h"
#include "relay_hook.h"
#include "shaper.h"

enum {
	/* Back-off, by time since the last frame: spin (with pause) for
	 * IDLE_SPIN_US, which covers the gaps inside a TCP transfer (a veth
	 * RTT is tens of microseconds) so a busy link never waits on a timer;
	 * then sleep IDLE_SLEEP_US at a time; after IDLE_LONG_MS, longer
	 * sleeps. Worst added latency: one sleep. */
	IDLE_SPIN_US = 500,
	IDLE_SLEEP_US = 20,
	IDLE_LONG_MS = 50,
	IDLE_SLEEP_LONG_US = 200,
	SWEEP_BUCKETS = 64,    /* flow buckets swept per millisecond: 512
				* flows/ms, 65536 flows every 128 ms */
};

static void on_expire(void *ctx, const struct flow *f)
{
	struct dp_worker *w = ctx;
	w->stats.flows.expired++;
	if (f->tenant != FLOW_BRIDGED && f->tenant < STRAIT_MAX_TENANTS)
		w->stats.tenant[f->tenant].active--;
}

int dp_worker_init(struct dp_app *app, struct dp_worker *w, unsigned id)
{
	const struct strait_appliance_cfg *ac = &app->published_cfg->appliance;
	memset(w, 0, sizeof(*w));
	w->id = id;
	w->queue = (uint16_t)id;
	w->app = app;
	w->flows = flow_table_create(ac->flow_table_size, ac->flow_idle_timeout * 1000,
				     ac->flow_closed_timeout * 1000, on_expire, w);
	if (!w->flows)
		return -ENOMEM;
	for (int p = 0; p < DP_NPORTS; p++)
		if (neigh_init(&w->neigh[p], ac->neigh_table_size))
			return -ENOMEM;
	char name[32];
	snprintf(name, sizeof(name), "dp_ctrl_%u", id);
	w->ctrl = rte_ring_create(name, DP_CTRL_RING, SOCKET_ID_ANY,
				  RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (!w->ctrl)
		return -rte_errno;
	if (app->n_workers > 1)
		for (int p = 0; p < DP_NPORTS; p++) {
			snprintf(name, sizeof(name), "dp_steer_%u_%d", id, p);
			w->steer[p] = rte_ring_create(name, DP_STEER_RING, SOCKET_ID_ANY, RING_F_SC_DEQ);
			if (!w->steer[p])
				return -rte_errno;
		}
	return 0;
}

void dp_worker_fini(struct dp_worker *w)
{
	if (w->ctrl) {
		struct rte_mbuf *m;
		while (rte_ring_dequeue(w->ctrl, (void **)&m) == 0)
			rte_pktmbuf_free(m);
		rte_ring_free(w->ctrl);
		w->ctrl = NULL;
	}
	for (int p = 0; p < DP_NPORTS; p++) {
		if (!w->steer[p])
			continue;
		struct rte_mbuf *m;
		while (rte_ring_dequeue(w->steer[p], (void **)&m) == 0)
			rte_pktmbuf_free(m);
		rte_ring_free(w->steer[p]);
		w->steer[p] = NULL;
	}
	flow_table_destroy(w->flows);
	w->flows = NULL;
	for (int p = 0; p < DP_NPORTS; p++)
		neigh_free(&w->neigh[p]);
}

static inline bool mac_unicast(const uint8_t *mac)
{
	return !(mac[0] & 1);
}

/* on_link: the frame proves ip is on the link whatever its prefix (ARP,
 * neighbour discovery: never routed). */
static inline void learn_one(struct dp_worker *w, unsigned port, uint8_t family,
			     const uint8_t *ip, uint16_t vlan, const uint8_t *mac, bool on_link)
{
	typeof(w->last_learn[0]) *c = &w->last_learn[port];
	unsigned alen = family == 4 ? 4 : 16;
	if (c->ms == w->now_ms && c->family == family && c->vlan == vlan &&
	    !memcmp(c->ip, ip, alen) && !memcmp(c->mac, mac, 6))
		return;
	const struct local_addr *la = &w->app->local[port];
	/* Only neighbours on the port's own prefix, or proven on the link
	 * (on a tenant's VLAN, its hosts' answers to our requests): an
	 * off-link source comes with its router's MAC, and thousands of them
	 * would evict the gateway. The configured gateway (on-link or IPv6
	 * link-local) is learnt pinned. */
	bool gw = local_is_gateway(la, family, ip); /* may be IPv6 link-local */
	if (!gw && !on_link && !local_on_link(la, family, ip))
		return;
	neigh_learn_pin(&w->neigh[port], family, ip, vlan, mac, w->now_ms, gw);
	memcpy(c->ip, ip, alen);
	memcpy(c->mac, mac, 6);
	c->vlan = vlan;
	c->family = family;
	c->ms = w->now_ms;
}

/* An ICMPv6 neighbour solicitation or advertisement (hop limit 255) in the
 * len bytes at f. */
static inline bool nd_frame(const uint8_t *f, uint32_t len, const struct pkt_info *pi)
{
	return pi->l4_proto == PROTO_ICMP6 && !pi->is_fragment && pi->l4_off + 1u <= len &&
	       (f[pi->l4_off] == 135 || f[pi->l4_off] == 136) && f[pi->l2_len + 7] == 255;
}

static inline void learn(struct dp_worker *w, unsigned port, const uint8_t *f, uint32_t len,
			 const struct pkt_info *pi)
{
	const uint8_t *mac = f + 6;
	/* neighbours are keyed by one VLAN: QinQ frames are not learnt */
	if (!mac_unicast(mac) || pi->n_tags > 1)
		return;
	if (pi->family == 4) {
		const uint8_t *ip = pi->src;
		if (ip[0] == 0 || ip[0] >= 224)
			return;
		learn_one(w, port, 4, ip, pi->vlan, mac, false);
	} else if (pi->family == 6) {
		static const uint8_t zero[16];
		const uint8_t *ip = pi->src;
		if (ip[0] == 0xff || !memcmp(ip, zero, 16))
			return;
		learn_one(w, port, 6, ip, pi->vlan, mac, nd_frame(f, len, pi));
	} else if (pi->ethertype == ETYPE_ARP) {
		const uint8_t *spa = f + pi->l2_len + 14, *sha = f + pi->l2_len + 8;
		if (spa[0] == 0 || spa[0] >= 224 || !mac_unicast(sha))
			return;
		learn_one(w, port, 4, spa, pi->vlan, sha, true);
	}
}

/* Frames for the appliance itself. Always consumes m. */
static void handle_local(struct dp_worker *w, unsigned port, struct rte_mbuf *m,
			 const struct pkt_info *pi, enum local_verdict v)
{
	struct dp_port_stats *ps = &w->stats.port[port];
	ps->local_in++;
	switch (v) {
	case LOCAL_ARP_REQ:
	case LOCAL_ECHO4:
	case LOCAL_NS:
	case LOCAL_ECHO6: {
		uint8_t *f = rte_pktmbuf_mtod(m, uint8_t *);
		uint32_t cap = m->data_len + rte_pktmbuf_tailroom(m);
		uint32_t len = 0;
		if (likely(m->nb_segs == 1))
			len = local_answer(f, m->data_len, cap, pi, &w->app->local[port], v);
		if (unlikely(!len)) {
			ps->drops[DROP_LOCAL_INVALID]++;
			rte_pktmbuf_free(m);
			return;
		}
		m->data_len = (uint16_t)len;
		m->pkt_len = len;
		ps->local_out++;
		dp_tx_frame(w, port, m);
		return;
	}
	case LOCAL_CONSUME:
		rte_pktmbuf_free(m);
		return;
	default: /* LOCAL_TCP, LOCAL_OTHER: a module's, if one takes it */
		m->l2_len = pi->l2_len;
		m->l3_len = pi->l3_len;
		if (dp_hooks_local(w, m, pi, port))
			return;
		ps->drops[DROP_LOCAL_UNHANDLED]++;
		rte_pktmbuf_free(m);
		return;
	}
}

static inline uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline bool seq_near(uint32_t seq, uint32_t nxt)
{
	return seq - nxt <= FLOW_SEQ_WINDOW || nxt - seq <= FLOW_SEQ_WINDOW;
}

/* Sequence tracking: RST and FIN count only in window (seq near the
 * sender's next expected sequence number; a RST may instead acknowledge
 * exactly the other side's), so a blind spoofed RST can neither cut the
 * idle timeout nor let a SYN re-decide the flow. nxt[] advances only by
 * segments in window once known. */
static inline void track_seq(struct flow *f, const uint8_t *frame, const struct pkt_info *pi,
			     bool src_a)
{
	const uint8_t *t = frame + pi->l4_off;
	uint32_t seq = rd32(t + 4), ack = rd32(t + 8);
	unsigned x = src_a ? 0 : 1;
	uint16_t known_x = src_a ? FLOW_F_SEQ_A : FLOW_F_SEQ_B;
	uint16_t known_y = src_a ? FLOW_F_SEQ_B : FLOW_F_SEQ_A;
	uint8_t fl = pi->tcp_flags;
	bool in_win = (f->flags & known_x) && seq_near(seq, f->nxt[x]);
	if (fl & TCP_RST) {
		if (in_win || ((fl & TCP_ACK) && (f->flags & known_y) && ack == f->nxt[x ^ 1]))
			f->flags |= FLOW_F_RST;
		return;
	}
	if ((fl & TCP_FIN) && in_win)
		f->flags |= src_a ? FLOW_F_FIN_A : FLOW_F_FIN_B;
	uint32_t end = seq + (uint32_t)(pi->ip_len - pi->l3_len - pi->l4_len) +
		       !!(fl & TCP_SYN) + !!(fl & TCP_FIN);
	if (!(f->flags & known_x)) {
		f->nxt[x] = end;
		f->flags |= known_x;
	} else if (in_win && (int32_t)(end - f->nxt[x]) > 0) {
		f->nxt[x] = end;
	}
}

/* Flow bookkeeping for a well-formed TCP frame; returns its flow, or NULL
 * when the table has no room (the frame is then bridged untracked). A SYN
 * re-decides a flow only once it is closed by an in-window RST or FINs,
 * and never a flow whose SYN was not seen (that one waits for expiry). */
static inline struct flow *track(struct dp_worker *w, const uint8_t *frame,
				const struct pkt_info *pi, uint32_t bytes, unsigned in,
				const struct flow_key *kp, uint32_t h, bool src_a)
{
	const struct flow_key k = *kp;
	struct flow *f = flow_lookup(w->flows, &k, h, w->now_ms);
	bool syn = (pi->tcp_flags & (TCP_SYN | TCP_ACK | TCP_RST)) == TCP_SYN;
	struct dp_stats *st = &w->stats;
	if (unlikely(f && syn && flow_closed(f) && !(f->flags & FLOW_F_UNSEEN))) {
		/* A new connection on a closed flow's tuple: decide afresh. */
		on_expire(w, f);
		st->flows.expired--;
		st->flows.reused++;
		struct flow_key key = f->key;
		memset(f, 0, sizeof(*f));
		f->key = key;
		f->hash = h;
		goto decide;
	}
	if (likely(f))
		goto update;
	if (syn) {
		bool evicted;
		f = flow_insert_syn(w->flows, &k, h, w->now_ms, &evicted);
		st->flows.evicted += evicted;
	} else {
		f = flow_insert(w->flows, &k, h, w->now_ms);
	}
	if (unlikely(!f)) {
		st->flows.table_full++;
		return NULL;
	}
decide:
	st->flows.created++;
	if (syn) {
		f->tenant = classify_syn(w->cfg, pi->family, pi->src, pi->dst, pi->dport);
		f->flags = src_a ? 0 : FLOW_F_CLIENT_B;
		if (f->tenant != FLOW_BRIDGED) {
			st->tenant[f->tenant].flows++;
			st->tenant[f->tenant].active++;
		} else {
			st->flows.no_rule++;
		}
	} else {
		f->tenant = FLOW_BRIDGED;
		f->flags = FLOW_F_UNSEEN;
		st->flows.unseen_syn++;
		/* whose it would have been, to say why it is not optimized:
		 * either end may be the client */
		uint16_t t = classify_syn(w->cfg, pi->family, pi->src, pi->dst, pi->dport);
		if (t == FLOW_BRIDGED)
			t = classify_syn(w->cfg, pi->family, pi->dst, pi->src, pi->sport);
		if (t != FLOW_BRIDGED)
			st->tenant[t].mid_stream++;
	}
update:
	f->last_ms = w->now_ms;
	f->pkts++;
	f->bytes += bytes;
	track_seq(f, frame, pi, src_a);
	if (f->tenant != FLOW_BRIDGED) {
		st->tenant[f->tenant].pkts++;
		st->tenant[f->tenant].bytes += bytes;
		st->tenant[f->tenant].rx_bytes[in] += bytes;
	}
	return f;
}

/* The worker that owns a flow when there are several: its symmetric key
 * hash picks it, so both directions meet on one worker whatever queue the
 * NIC or the kernel (af_packet fanout is not symmetric) delivered them to. */
static inline unsigned flow_owner(uint32_t hash, unsigned n)
{
	return (unsigned)(((uint64_t)hash * n) >> 32);
}

/* The owner of a TCP frame's flow: a tenant's flows live on the tenant's
 * worker (its channel, caches and relay are there), whichever direction
 * the frame goes; other flows by their hash. A frame names the tenants
 * whose rule matches it as client -> server and as server -> client; the
 * lower of the two decides, so both directions agree. */
static unsigned tcp_owner(const struct dp_worker *w, const struct pkt_info *pi, uint32_t hash)
{
	const struct dp_app *app = w->app;
	const struct strait_config *cfg = w->cfg;

	if (cfg->n_tenants) {
		uint16_t fwd = classify_syn(cfg, pi->family, pi->src, pi->dst, pi->dport);
		uint16_t rev = classify_syn(cfg, pi->family, pi->dst, pi->src, pi->sport);
		uint16_t t = fwd < rev ? fwd : rev;

		if (t != FLOW_BRIDGED)
			return relay_tenant_owner(app, t);
	}
	return flow_owner(hash, app->n_workers);
}

/* An ICMP or ICMPv6 error quoting a TCP segment of an intercepted flow
 * (frame f, pi): to the owner of that flow, then to the modules (the
 * relay's: an unreachable answering the SYN of a connection it opened).
 * true when taken or steered; false to bridge it. */
static bool icmp_of_flow(struct dp_worker *w, unsigned in, struct rte_mbuf *m,
			 const uint8_t *f, const struct pkt_info *pi, bool steered)
{
	struct dp_app *app = w->app;
	uint32_t end = (uint32_t)pi->l2_len + pi->ip_len;
	struct icmp_quote q;
	struct flow_key k;

	if (end > m->data_len ||
	    !icmp_quote_tcp(pi->family, pi->src, f + pi->l4_off, end - pi->l4_off, &q))
		return false;
	struct pkt_info qi = { .family = pi->family, .vlan = pi->vlan, .src = q.src,
			       .dst = q.dst, .sport = q.sport, .dport = q.dport };
	flow_key_make(&qi, &k);
	uint32_t h = flow_key_hash(&k);
	if (app->n_workers > 1 && !steered) {
		unsigned owner = tcp_owner(w, &qi, h);
		if (owner != w->id) {
			if (rte_ring_mp_enqueue(app->workers[owner].steer[in], m))
				return false;
			w->stats.flows.steered++;
			return true;
		}
	}
	struct flow *fl = flow_lookup(w->flows, &k, h, w->now_ms);
	if (!fl || fl->tenant == FLOW_BRIDGED)
		return false;
	m->l2_len = pi->l2_len;
	m->l3_len = pi->l3_len;
	return dp_hooks_intercept(w, m, pi, fl, in);
}

/* Handles n frames received on port `in`: by this worker's RX (steered ==
 * false) or handed over by another worker that received them (steered ==
 * true: already counted, learnt and checked for local delivery). */
static void handle_burst(struct dp_worker *w, unsigned in, struct rte_mbuf **pkts, uint16_t n,
			 bool steered)
{
	struct dp_app *app = w->app;
	struct rte_mbuf *fwd[DP_BURST_MAX];
	unsigned out = in ^ 1;
	const struct local_addr *la = &app->local[in];
	bool have_local = la->has4 || la->has6;
	struct dp_stats *st = &w->stats;
	struct dp_port_stats *ps = &st->port[in];
	uint16_t nf = 0;
	uint64_t fwd_bytes = 0;
	unsigned nw = app->n_workers;

	/* Headers of the whole burst first (mtod reads them), then each
	 * frame's data one ahead. */
	for (uint16_t i = 0; i < n; i++)
		rte_prefetch0(pkts[i]);
	if (n)
		rte_prefetch0(rte_pktmbuf_mtod(pkts[0], void *));
	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		if (i + 1 < n)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 1], void *));
		const uint8_t *f = rte_pktmbuf_mtod(m, const uint8_t *);
		uint32_t len = m->data_len; /* first segment only: never read past it */
		struct pkt_info pi;
		enum pkt_malformed mf = pkt_parse_seg(f, len, m->pkt_len, &pi);
		if (steered)
			goto owner; /* learn here too: the owner answers */
		ps->rx_bytes += m->pkt_len;
		if (unlikely(mf != PKT_OK)) {
			st->malformed[mf]++;
			if (pkt_malformed_drops(mf)) {
				ps->drops[DROP_MALFORMED]++;
				rte_pktmbuf_free(m);
				continue;
			}
			if (!memcmp(f, la->mac, 6)) {
				ps->drops[DROP_MALFORMED_TO_US]++;
				rte_pktmbuf_free(m);
				continue;
			}
			goto bridge;
		}
owner:
		/* Neighbour tables are per worker: the worker that owns a flow
		 * or a local connection must know the sender's MAC itself. */
		learn(w, in, f, len, &pi);
		if (have_local) {
			enum local_verdict v = local_classify(f, len, &pi, la);
			if (v == LOCAL_TCP && nw > 1 && !steered) {
				/* A connection to the appliance lives in one
				 * worker's TCP stack, so its segments go to that
				 * worker like a bridged flow's: the RX queue is no
				 * guide (Linux re-randomises skb->hash, which
				 * af_packet fanout follows, on an RTO). */
				struct flow_key k;
				flow_key_make(&pi, &k);
				unsigned owner = flow_owner(flow_key_hash(&k), nw);
				if (owner != w->id) {
					if (likely(rte_ring_mp_enqueue(app->workers[owner].steer[in], m) == 0)) {
						st->flows.steered++;
					} else {
						/* the peer retransmits; never the wrong stack */
						st->flows.steer_full++;
						ps->drops[DROP_LOCAL_UNHANDLED]++;
						rte_pktmbuf_free(m);
					}
					continue;
				}
			}
			if (v != LOCAL_NONE) {
				handle_local(w, in, m, &pi, v);
				continue;
			}
		}
		if (pi.l4_proto == PROTO_TCP && !pi.is_fragment) {
			struct flow_key k;
			bool src_a = flow_key_make(&pi, &k);
			uint32_t h = flow_key_hash(&k);
			if (nw > 1 && !steered) {
				unsigned owner = tcp_owner(w, &pi, h);
				if (owner != w->id) {
					if (likely(rte_ring_mp_enqueue(app->workers[owner].steer[in], m) == 0)) {
						st->flows.steered++;
						continue;
					}
					/* owner's ring full: bridge it untracked */
					st->flows.steer_full++;
					goto bridge;
				}
			}
			struct flow *fl = track(w, f, &pi, m->pkt_len, in, &k, h, src_a);
			if (fl && fl->tenant != FLOW_BRIDGED) {
				m->l2_len = pi.l2_len;
				m->l3_len = pi.l3_len;
				if (dp_hooks_intercept(w, m, &pi, fl, in))
					continue;
				st->tenant[fl->tenant].bridged_bytes[in] += m->pkt_len;
			}
		} else if (unlikely(pi.l4_proto == PROTO_ICMP || pi.l4_proto == PROTO_ICMP6) &&
			   !pi.is_fragment && w->cfg->n_tenants) {
			if (icmp_of_flow(w, in, m, f, &pi, steered))
				continue;
		}
bridge:
		fwd_bytes += m->pkt_len;
		fwd[nf++] = m;
	}
	if (!steered)
		ps->rx_pkts += n;
	if (nf) {
		/* Answers already queued for `out` go first so frames keep order. */
		dp_tx_flush(w, out);
		uint16_t sent = rte_eth_tx_burst(app->port_id[out], w->queue, fwd, nf);
		struct dp_port_stats *os = &st->port[out];
		if (unlikely(sent < nf)) {
			for (uint16_t i = sent; i < nf; i++)
				fwd_bytes -= fwd[i]->pkt_len;
			os->drops[DROP_TX_FULL] += nf - sent;
			rte_pktmbuf_free_bulk(&fwd[sent], nf - sent);
		}
		ps->bridged_pkts += sent;
		ps->bridged_bytes += fwd_bytes;
		os->tx_pkts += sent;
		os->tx_bytes += fwd_bytes;
	}
}

static unsigned rx_port(struct dp_worker *w, unsigned in)
{
	struct rte_mbuf *pkts[DP_BURST_MAX];
	uint16_t n = rte_eth_rx_burst(w->app->port_id[in], w->queue, pkts, (uint16_t)w->app->burst);
	if (!n)
		return 0;
	w->last_rx_ms = w->now_ms;
	handle_burst(w, in, pkts, n, false);
	return n;
}

static unsigned rx_steered(struct dp_worker *w, unsigned in)
{
	if (!w->steer[in])
		return 0;
	struct rte_mbuf *pkts[DP_BURST_MAX];
	unsigned n = rte_ring_sc_dequeue_burst(w->steer[in], (void **)pkts, w->app->burst, NULL);
	if (n)
		handle_burst(w, in, pkts, (uint16_t)n, true);
	return n;
}

static unsigned drain_ctrl(struct dp_worker *w)
{
	struct rte_mbuf *m[16];
	unsigned n = rte_ring_dequeue_burst(w->ctrl, (void **)m, 16, NULL);
	for (unsigned i = 0; i < n; i++) {
		unsigned port = m[i]->port;
		m[i]->port = w->app->port_id[port];
		w->stats.port[port].local_out++;
		dp_tx_frame(w, port, m[i]);
	}
	return n;
}

unsigned dp_worker_poll(struct dp_worker *w)
{
	struct dp_app *app = w->app;
	w->now_ms = dp_now_ms();
	/* the configuration for this iteration (reload.c): a reload that
	 * publishes another waits for the quiescent state at the end */
	w->cfg = __atomic_load_n(&app->published_cfg, __ATOMIC_ACQUIRE);
	if (unlikely(w->cfg->generation != w->late_gen)) { /* a reload: [WAN] RateBurst */
		uint64_t ns = w->cfg->appliance.wan_burst_ns ? w->cfg->appliance.wan_burst_ns
							     : SHAPER_BURST_NS;
		w->late_gen = w->cfg->generation;
		w->late_after = (uint64_t)((unsigned __int128)ns * rte_get_tsc_hz() / 1000000000u);
		__atomic_store_n(&w->loop.late_after_ns, ns, __ATOMIC_RELAXED);
	}
	unsigned work = w->events ? dp_worker_events(w) : 0;
	work += rx_port(w, DP_LAN) + rx_port(w, DP_WAN);
	work += rx_steered(w, DP_LAN) + rx_steered(w, DP_WAN);
	work += drain_ctrl(w);
	work += dp_hooks_poll(w);
	if (w->n_resolve[DP_LAN] | w->n_resolve[DP_WAN])
		work += dp_tx_resolve_poll(w);
	dp_tx_flush(w, DP_LAN);
	dp_tx_flush(w, DP_WAN);
	if (w->now_ms != w->swept_ms) {
		w->swept_ms = w->now_ms;
		flow_table_sweep(w->flows, w->now_ms, SWEEP_BUCKETS);
		w->stats.flows_active = flow_table_used(w->flows);
	}
	dp_stats_publish(w);
	if (app->qsbr)
		rte_rcu_qsbr_quiescent(app->qsbr, w->id);
	return work;
}

void dp_worker_drain(struct dp_worker *w)
{
	drain_ctrl(w);
	dp_tx_flush(w, DP_LAN);
	dp_tx_flush(w, DP_WAN);
}

/* Returns the sleep asked for, in cycles (0: a pause). */
static inline uint64_t backoff(uint64_t idle_cycles, uint64_t hz)
{
	if (idle_cycles < hz / 1000000 * IDLE_SPIN_US) {
		rte_pause();
		return 0;
	}
	unsigned us = idle_cycles < hz / 1000 * IDLE_LONG_MS ? IDLE_SLEEP_US : IDLE_SLEEP_LONG_US;
	rte_delay_us_sleep(us);
	return hz / 1000000 * us;
}

/* An iteration came round gap cycles after the last (its sleep aside),
 * more than the threshold: counted for telemetry. Off the common path. */
static void __rte_noinline loop_late(struct dp_worker *w, uint64_t gap, uint64_t late_after,
				     uint64_t hz)
{
	uint64_t ns = (uint64_t)((unsigned __int128)gap * 1000000000u / hz);
	uint64_t over = (uint64_t)((unsigned __int128)(gap - late_after) * 1000000000u / hz);

	__atomic_store_n(&w->loop.late, w->loop.late + 1, __ATOMIC_RELAXED);
	__atomic_store_n(&w->loop.late_ns, w->loop.late_ns + over, __ATOMIC_RELAXED);
	if (ns > w->loop.max_gap_ns)
		__atomic_store_n(&w->loop.max_gap_ns, ns, __ATOMIC_RELAXED);
}

int dp_worker_run(struct dp_worker *w, void (*between)(struct dp_app *app))
{
	struct dp_app *app = w->app;
	w->lcore = rte_lcore_id();
	/* online before the first load: a reload that publishes another
	 * configuration waits from here until this worker's first quiescent
	 * state, so the one its modules start from stays alive */
	if (app->qsbr)
		dp_worker_rcu_online(w);
	w->cfg = __atomic_load_n(&app->published_cfg, __ATOMIC_ACQUIRE);
	if (dp_hooks_start(w)) {
		app->quit = 1;
		if (app->qsbr)
			dp_worker_rcu_offline(w);
		dp_worker_gone(w);
		return -1;
	}
	w->last_rx_ms = dp_now_ms();
	/* Short sleeps must stay short: the default 50 us timer slack would
	 * more than triple a 20 us sleep. Once, at start. */
	prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
	const uint64_t hz = rte_get_tsc_hz();
	uint64_t last_work = rte_get_tsc_cycles(), last = last_work, slept = 0;
	uint64_t next_between = 0;
	w->late_gen = UINT64_MAX; /* the first poll sets the threshold */
	while (!app->quit) {
		unsigned work = dp_worker_poll(w);
		if (between && w->now_ms >= next_between) {
			between(app); /* single-lcore mode: control, between bursts */
			next_between = w->now_ms + DP_BETWEEN_MS;
		}
		uint64_t now = rte_get_tsc_cycles();
		/* w->cfg is not read here: past the poll's quiescent state a
		 * reload may have freed it */
		uint64_t gap = now - last > slept ? now - last - slept : 0;
		if (unlikely(gap > w->late_after))
			loop_late(w, gap, w->late_after, hz);
		__atomic_store_n(&w->loop.loops, w->loop.loops + 1, __ATOMIC_RELAXED);
		last = now;
		slept = 0;
		if (work)
			last_work = now;
		else
			slept = backoff(now - last_work, hz);
	}
	/* held packets go before the modules (and their pools) do; from
	 * here nothing more is held */
	dp_tx_resolve_fini(w);
	dp_worker_drain(w);
	if (app->qsbr)
		dp_worker_rcu_offline(w);
	dp_hooks_stop(w);
	dp_worker_gone(w);
	return 0;
}

int dp_worker_main(void *arg)
{
	return dp_worker_run(arg, NULL);
}
