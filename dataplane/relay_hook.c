/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * relay_hook.c - the relay as a straitd module (dp_hooks.h).
 *
 * Each worker has one TCP stack for the intercepted LAN connections of the
 * tenants it owns (configured tenant i is stack tenant i), and one relay
 * per owned tenant (relay.h), its workspace mapped once at start-up
 * (2 x CacheSize of codec log, the flows' rings; pages are touched as they
 * are used). The worker offers every frame of a tenant's flow:
 *
 *   SYN from the LAN, channel up     -> tcp_intercept (pending; OPEN)
 *   SYN, channel down: bypass        -> bridged for life (FLOW_F_BYPASS)
 *                      fail-closed   -> tcp_intercept, refused with RST
 *   SYN from the WAN                 -> bridged (not a client of ours)
 *   any other frame of the flow      -> tcp_intercept (its connection)
 *
 * L2: every connection keeps the Ethernet header of the frames that opened
 * it, by tcp_conn_index() (the engine names the connection of each segment
 * it sends in m->hash.usr): at the client's side the SYN's, MACs swapped,
 * VLAN tags as seen, on the port the SYN came in. At the server's side
 * nothing of L2 comes from the peer: the segments are routed (dp_tx_l3)
 * on the LAN port from this appliance's own MAC to the server's, as this
 * appliance learnt or resolved it (or the LAN gateway's), tagged with the
 * OPEN's checked VLAN id alone (relay_open_vlan()). Each entry keeps its
 * tuple too:
 * a segment whose tuple is not its entry's (a slot reused) is sent by the
 * routed path (dp_tx_l3) rather than with another connection's L2.
 *
 * Flow entries: an intercepted connection's flow is pinned (never expires)
 * while the relay holds it; at the server's side the relay makes the entry
 * before its SYN leaves, so the server's answers come here.
 */
#include "relay_hook.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <limits.h>
#include <string.h>
#include <sys/mman.h>

#include <rte_byteorder.h>
#include <rte_cycles.h>
#include <rte_mbuf.h>

#include "channel.h"
#include "dp.h"
#include "icmp_error.h"
#include "repl_lag.h"
#include "snap_seqlock.h"
#include "strait/stats.h"
#include "tcp.h"
#include "wan.h"

enum {
	TPL_HDR_MAX = 14 + 2 * 4, /* Ethernet and two VLAN tags */
	SYN_CONNS_SPARE = 1024,   /* connections past the flows: TIME-WAIT */
	CH_STAGE = 64 << 10,      /* channel bytes in and out per call */
};

/* A connection's L2 and the tuple it was made for. */
struct tpl {
	uint8_t valid, port, af, hlen; /* hlen 0: routed (the server's side) */
	uint16_t vlan;                 /* outer VLAN id: the flow key's */
	uint16_t lport, rport;
	uint8_t laddr[16], raddr[16];  /* as the stack sees it: local, remote */
	uint8_t hdr[TPL_HDR_MAX];
};

struct tenant {
	struct rh *rh;
	unsigned index;                /* its slot: its configuration is
					* tcfg(), the worker's of this loop */
	struct relay *relay;
	struct channel *ch;            /* the WAN module's, for this tenant */
	bool failed;                   /* the session broke: input discarded
					* until the channel reconnects */
	char failed_why[160];          /* as relay_hook_tenant.why: whole */
	uint8_t *out;                  /* CH_STAGE: made, not yet sent */
	uint32_t out_off, out_len;
	void *mem;
	size_t size;
	struct strait_dedupe_cache_file *cache[2]; /* CacheFile .tx, .rx */
	uint64_t bypassed, refused_down, wan_syn, vlan_bypassed, full;
	uint64_t icmp_in, icmp_ignored, icmp_out, icmp_no_mbuf, unresolved;
	struct repl_lag lag;           /* its replication lag (repl_lag.h) */
	uint64_t lag_ns;               /* the last sample's estimate */
};

struct rh {
	struct dp_worker *w;
	struct tcp_stack *st;
	uint64_t tsc_hz;
	struct tpl *tpl;               /* by tcp_conn_index() */
	uint32_t ntpl;
	struct tpl scratch;            /* the frame or OPEN being opened now */
	uint8_t *in;                   /* CH_STAGE: channel bytes read */
	struct flow *scratch_flow;     /* A: the SYN's flow entry */
	struct tenant *tenant[STRAIT_MAX_TENANTS];
	unsigned hi;                   /* 1 + the highest slot ever held */
	uint64_t snap_due_ms;
	uint32_t seq;                  /* odd while the worker writes snap */
	struct relay_hook_tenant snap[STRAIT_MAX_TENANTS];
};

static int hook_id = -1;
static int readers; /* telemetry threads inside relay_hook_tenant() */

static unsigned ch_tx(struct tenant *t);

static const struct strait_tenant_cfg *tcfg(const struct tenant *t)
{
	return &dp_worker_cfg(t->rh->w)->tenants[t->index];
}

unsigned relay_tenant_owner(const struct dp_app *app, unsigned i)
{
	return i % app->n_workers;
}

static uint64_t now_us(void *ctx)
{
	const struct rh *h = ctx;
	uint64_t c = rte_get_tsc_cycles();

	return c / h->tsc_hz * 1000000u + c % h->tsc_hz * 1000000u / h->tsc_hz;
}

/* ---- L2 templates ---- */

static void tpl_tuple(struct tpl *t, uint8_t af, const uint8_t *l, uint16_t lp,
		      const uint8_t *r, uint16_t rp)
{
	t->af = af;
	memset(t->laddr, 0, 16);
	memset(t->raddr, 0, 16);
	memcpy(t->laddr, l, af == 4 ? 4 : 16);
	memcpy(t->raddr, r, af == 4 ? 4 : 16);
	t->lport = lp;
	t->rport = rp;
}

static bool tpl_matches(const struct tpl *t, uint8_t af, const uint8_t *l, uint16_t lp,
			const uint8_t *r, uint16_t rp)
{
	unsigned n = af == 4 ? 4 : 16;

	return t->valid && t->af == af && t->lport == lp && t->rport == rp &&
	       !memcmp(t->laddr, l, n) && !memcmp(t->raddr, r, n);
}

/* The flow key of a template's connection; true when its local end is
 * side a of the key. */
static bool tpl_key(const struct tpl *t, struct flow_key *k)
{
	struct pkt_info pi = { .family = t->af, .vlan = t->vlan, .src = t->laddr,
			       .dst = t->raddr, .sport = t->lport, .dport = t->rport };

	return flow_key_make(&pi, k);
}

static void output(void *ctx, struct rte_mbuf **pkts, uint16_t n)
{
	struct rh *h = ctx;

	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		const uint8_t *l3 = rte_pktmbuf_mtod(m, const uint8_t *);
		uint8_t af = (l3[0] >> 4) == 4 ? 4 : 6;
		const uint8_t *src = af == 4 ? l3 + 12 : l3 + 8;
		const uint8_t *dst = af == 4 ? l3 + 16 : l3 + 24;
		const uint8_t *th = l3 + m->l3_len;
		uint16_t sp = (uint16_t)(th[0] << 8 | th[1]), dp = (uint16_t)(th[2] << 8 | th[3]);
		uint32_t tag = m->hash.usr;
		struct tpl *t = NULL;
		uint8_t *p;

		if (tag && tag <= h->ntpl) {
			t = &h->tpl[tag - 1];
			if (!tpl_matches(t, af, src, sp, dst, dp)) {
				/* the server's side: the SYN of the connection
				 * being opened now */
				if (tpl_matches(&h->scratch, af, src, sp, dst, dp))
					*t = h->scratch;
				else
					t = NULL;
			}
		}
		if (t && !t->hlen) {
			/* the server's side: from our MAC to the server's
			 * next hop, on the OPEN's VLAN */
			dp_tx_l3(h->w, DP_LAN, t->vlan, af, dst, m);
			continue;
		}
		if (!t || !(p = (uint8_t *)rte_pktmbuf_prepend(m, t->hlen))) {
			/* no connection's L2: routed, as the appliance's own */
			dp_tx_l3(h->w, DP_LAN, 0, af, dst, m);
			continue;
		}
		memcpy(p, t->hdr, t->hlen);
		m->l2_len = t->hlen;
		dp_tx_frame(h->w, t->port, m);
	}
}

/* ---- what the relay asks of the worker ---- */

/* B: the peer may open what this tenant's own rule intercepts
 * (relay_policy.h): every field of its OPEN is checked. */
static enum relay_refusal env_check_open(void *ctx, const struct chan_open *o)
{
	struct tenant *t = ctx;

	return relay_open_check(dp_worker_cfg(t->rh->w), t->index, o);
}

static void pin(struct rh *h, const struct flow_key *k, bool on)
{
	uint32_t hash = flow_key_hash(k);
	struct flow *f = flow_lookup(h->w->flows, k, hash, h->w->now_ms);

	if (f) {
		if (on)
			f->flags |= FLOW_F_PINNED;
		else
			f->flags &= (uint16_t)~FLOW_F_PINNED;
	}
}

/* B: the connection to the server is about to be opened: its template
 * (routed on the OPEN's checked VLAN id; the OPEN's MACs and tag bits are
 * not used) and its flow entry (pinned, the tenant's) before its SYN
 * leaves. */
static int env_originate(void *ctx, const struct chan_open *o)
{
	struct tenant *t = ctx;
	struct rh *h = t->rh;
	struct dp_worker *w = h->w;
	struct tpl *s = &h->scratch;
	struct flow_key k;
	uint32_t hash;
	struct flow *f;
	bool client_a;

	memset(s, 0, sizeof(*s));
	tpl_tuple(s, o->af, o->client, o->client_port, o->server, o->server_port);
	s->vlan = relay_open_vlan(o);
	s->port = DP_LAN;
	s->valid = 1;
	client_a = tpl_key(s, &k);
	hash = flow_key_hash(&k);
	f = flow_lookup(w->flows, &k, hash, w->now_ms);
	if (f && f->tenant != t->index && !flow_closed(f))
		return -EBUSY; /* the tuple is in use, not by this tenant */
	if (!f) {
		f = flow_insert(w->flows, &k, hash, w->now_ms);
		if (!f)
			return -ENOSPC;
		w->stats.flows.created++;
		w->stats.tenant[t->index].flows++;
		w->stats.tenant[t->index].active++;
	}
	f->tenant = (uint16_t)t->index;
	/* the client (the template's local end) is side a or b of the key */
	f->flags = FLOW_F_PINNED | (client_a ? 0 : FLOW_F_CLIENT_B);
	return 0;
}

static void env_release(void *ctx, struct tcp_conn *c, const struct chan_open *o)
{
	struct tenant *t = ctx;
	struct rh *h = t->rh;
	struct flow_key k;

	if (c) {
		uint32_t i = tcp_conn_index(c);

		if (i >= h->ntpl || !h->tpl[i].valid)
			return;
		tpl_key(&h->tpl[i], &k);
	} else {
		struct tpl s = { 0 };

		tpl_tuple(&s, o->af, o->client, o->client_port, o->server, o->server_port);
		s.vlan = relay_open_vlan(o);
		tpl_key(&s, &k);
	}
	pin(h, &k, false);
}

/* A: the SYN being intercepted now is c's: its L2 becomes c's template,
 * and OPEN carries the SYN's (MACs, tags as seen). */
static bool env_syn_l2(void *ctx, struct tcp_conn *c, struct chan_open *o)
{
	struct tenant *t = ctx;
	struct rh *h = t->rh;
	struct tpl *s = &h->scratch;
	struct tcp_addr l, r;
	uint16_t lp, rp;
	uint8_t af;
	uint32_t i = tcp_conn_index(c);

	tcp_conn_tuple(c, &af, &l, &lp, &r, &rp);
	if (i >= h->ntpl || !tpl_matches(s, af, l.b, lp, r.b, rp))
		return false;
	h->tpl[i] = *s;
	/* the client's frames: dst is the server's side, src the client */
	memcpy(o->dst_mac, s->hdr + 6, 6);
	memcpy(o->src_mac, s->hdr, 6);
	o->nvlan = (uint8_t)((s->hlen - 14) / 4);
	for (unsigned k = 0; k < o->nvlan; k++) {
		const uint8_t *g = s->hdr + 12 + 4 * k;

		o->tpid[k] = (uint16_t)(g[0] << 8 | g[1]);
		o->tci[k] = (uint16_t)(g[2] << 8 | g[3]);
	}
	if (h->scratch_flow)
		h->scratch_flow->flags |= FLOW_F_PINNED;
	return true;
}

/* A: the server's side refused the client's SYN with an ICMP unreachable:
 * the client gets the same message, from the same address, quoting its
 * SYN, with the L2 of its SYN's template. */
static void env_unreachable(void *ctx, uint32_t conn, const struct tcp_refused *q,
			    const struct chan_refused *rf)
{
	struct tenant *t = ctx;
	struct rh *h = t->rh;
	unsigned alen = q->af == 4 ? 4 : 16;
	struct icmp_quote iq = { .family = q->af, .type = rf->icmp_type, .code = rf->icmp_code,
				 .sport = q->client_port, .dport = q->server_port,
				 .seq = q->client_isn };
	struct rte_mbuf *m;
	struct tpl *tp;
	uint8_t *p;
	size_t n;

	if (conn >= h->ntpl || relay_addr_special(q->af, rf->icmp_src))
		return; /* the peer named no sane sender: silence */
	tp = &h->tpl[conn];
	if (!tpl_matches(tp, q->af, q->server.b, q->server_port, q->client.b, q->client_port))
		return;
	memcpy(iq.from, rf->icmp_src, alen);
	memcpy(iq.src, q->client.b, alen);
	memcpy(iq.dst, q->server.b, alen);
	m = rte_pktmbuf_alloc(h->w->app->pool);
	if (!m) {
		t->icmp_no_mbuf++;
		return;
	}
	p = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)(tp->hlen + ICMP_ERROR_MAX));
	n = p ? icmp_unreach_write(p + tp->hlen, ICMP_ERROR_MAX, &iq) : 0;
	if (!n) {
		rte_pktmbuf_free(m);
		return;
	}
	memcpy(p, tp->hdr, tp->hlen);
	rte_pktmbuf_trim(m, (uint16_t)(ICMP_ERROR_MAX - n));
	m->l2_len = tp->hlen;
	t->icmp_out++;
	dp_tx_frame(h->w, tp->port, m);
}

static const struct relay_env env = {
	.check_open = env_check_open, .originate = env_originate, .release = env_release,
	.syn_l2 = env_syn_l2, .unreachable = env_unreachable,
};

/* ---- the worker's side ---- */

/* The template toward the client from its SYN (frame f, parsed pi): MACs
 * swapped, the tag bytes as seen, the port it came in. */
static void scratch_from_syn(struct rh *h, const uint8_t *f, const struct pkt_info *pi,
			     unsigned in_port)
{
	struct tpl *s = &h->scratch;

	memset(s, 0, sizeof(*s));
	tpl_tuple(s, pi->family, pi->dst, pi->dport, pi->src, pi->sport);
	memcpy(s->hdr, f + 6, 6);
	memcpy(s->hdr + 6, f, 6);
	memcpy(s->hdr + 12, f + 12, pi->l2_len - 12u);
	s->hlen = (uint8_t)pi->l2_len;
	s->vlan = pi->vlan;
	s->port = (uint8_t)in_port;
	s->valid = 1;
}

/* B: an ICMP unreachable (frame m, pi) quoting the SYN of a connection
 * we originate (flow f): it refuses the open, and the client at A gets
 * the same. Any other ICMP error about a terminated connection is taken
 * and dropped (its sequence numbers are ours, not the far host's); one
 * about a bridged flow goes on. */
static bool icmp_error(struct rh *h, struct tenant *t, struct rte_mbuf *m,
		       const struct pkt_info *pi, const struct flow *f)
{
	const uint8_t *fr = rte_pktmbuf_mtod(m, const uint8_t *);
	struct icmp_quote q;
	struct tcp_addr l, r;
	struct tcp_conn *c;
	unsigned alen = pi->family == 4 ? 4 : 16;
	size_t end = (size_t)pi->l2_len + pi->ip_len;

	if (f->flags & FLOW_F_BYPASS || !t || !t->relay || end > m->data_len ||
	    !icmp_quote_tcp(pi->family, pi->src, fr + pi->l4_off, end - pi->l4_off, &q))
		return false;
	memset(&l, 0, sizeof(l));
	memset(&r, 0, sizeof(r));
	memcpy(l.b, q.src, alen);
	memcpy(r.b, q.dst, alen);
	c = tcp_find_conn(h->st, pi->family == 4 ? TCP_AF_INET : TCP_AF_INET6, &l, q.sport, &r,
			  q.dport);
	if (!c)
		return false; /* not ours: bridged, as the flow's other frames */
	if (q.seq == tcp_conn_iss(c) && relay_unreachable(t->relay, c, q.type, q.code, pi->src))
		t->icmp_in++;
	else
		t->icmp_ignored++;
	rte_pktmbuf_free(m);
	return true;
}

/* B: the SYN toward a server (m: its IP packet, dp_tx_l3() held it) found
 * no next hop: neither the server (or the LAN gateway) answered ARP/NS.
 * The open is refused as a router would: ICMP host (address)
 * unreachable, from this appliance's LAN address, which A sends to the
 * client. A later segment of an open connection is only dropped (TCP's
 * business, as a lost frame). */
static bool unresolved(void *ctx, struct rte_mbuf *m, unsigned port)
{
	struct rh *h = ctx;
	const struct local_addr *la = &h->w->app->local[port];
	const uint8_t *l3 = rte_pktmbuf_mtod(m, const uint8_t *);
	uint8_t af = (l3[0] >> 4) == 4 ? 4 : 6;
	unsigned alen = af == 4 ? 4 : 16;
	const uint8_t *th = l3 + m->l3_len;
	struct tcp_addr l, r;
	struct tcp_conn *c;
	struct tenant *t;
	uint16_t i;

	if (port != DP_LAN || !h->st || m->data_len < m->l3_len + 4u)
		return false;
	memset(&l, 0, sizeof(l));
	memset(&r, 0, sizeof(r));
	memcpy(l.b, af == 4 ? l3 + 12 : l3 + 8, alen);
	memcpy(r.b, af == 4 ? l3 + 16 : l3 + 24, alen);
	c = tcp_find_conn(h->st, af == 4 ? TCP_AF_INET : TCP_AF_INET6, &l,
			  (uint16_t)(th[0] << 8 | th[1]), &r, (uint16_t)(th[2] << 8 | th[3]));
	if (!c)
		return false;
	i = tcp_conn_tenant(c);
	t = i < STRAIT_MAX_TENANTS ? h->tenant[i] : NULL;
	if (!t || !t->relay ||
	    !relay_unreachable(t->relay, c, af == 4 ? 3 : 1, af == 4 ? 1 : 3,
			       af == 4 ? la->ip4 : la->ip6))
		return false;
	t->unresolved++;
	rte_pktmbuf_free(m);
	return true;
}

/* A: the tenant's Vlans allow the SYN's tag stack (the same rule as the
 * peer's relay_open_check()). */
static bool syn_vlan_allowed(const struct rh *h, const struct tenant *t,
			     const struct rte_mbuf *m, const struct pkt_info *pi)
{
	const uint8_t *g = rte_pktmbuf_mtod(m, const uint8_t *) + 12;
	uint16_t tpid[CHAN_MAX_VLANS + 1], tci[CHAN_MAX_VLANS + 1];
	unsigned n = (pi->l2_len - 14u) / 4;

	if (n > CHAN_MAX_VLANS + 1)
		return false;
	for (unsigned k = 0; k < n; k++, g += 4) {
		tpid[k] = (uint16_t)(g[0] << 8 | g[1]);
		tci[k] = (uint16_t)(g[2] << 8 | g[3]);
	}
	return relay_vlan_allowed(dp_worker_cfg(h->w), t->index, n, tpid, tci);
}

static bool intercept(void *ctx, struct rte_mbuf *m, const struct pkt_info *pi,
		      struct flow *f, unsigned in_port)
{
	struct rh *h = ctx;
	struct tenant *t = f->tenant < STRAIT_MAX_TENANTS ? h->tenant[f->tenant] : NULL;
	bool syn = (pi->tcp_flags & (TCP_SYN | TCP_ACK | TCP_RST)) == TCP_SYN;

	if (pi->l4_proto != PROTO_TCP)
		return icmp_error(h, t, m, pi, f);
	if (unlikely(f->flags & FLOW_F_BYPASS))
		return false;
	if (!t) {
		/* another worker owns the tenant (not steered here yet) */
		f->flags |= FLOW_F_BYPASS;
		return false;
	}
	if (syn) {
		if (in_port != DP_LAN) {
			f->flags |= FLOW_F_BYPASS;
			t->wan_syn++;
			return false;
		}
		if (!syn_vlan_allowed(h, t, m, pi)) {
			/* the peer would refuse it: bridged, not broken */
			f->flags |= FLOW_F_BYPASS;
			t->vlan_bypassed++;
			return false;
		}
		if (!t->relay || !relay_up(t->relay)) {
			if (tcfg(t)->peer_down == STRAIT_PEER_DOWN_BYPASS) {
				f->flags |= FLOW_F_BYPASS;
				t->bypassed++;
				return false;
			}
			t->refused_down++;
		} else if (!(f->flags & FLOW_F_PINNED) && !tcp_intercept_room(h->st, (uint16_t)t->index)) {
			/* OptimizedFlows, or the tenant's channel, is full:
			 * bridged unoptimized rather than left unanswered */
			f->flags |= FLOW_F_BYPASS;
			t->full++;
			return false;
		}
		scratch_from_syn(h, rte_pktmbuf_mtod(m, const uint8_t *), pi, in_port);
		h->scratch_flow = f;
	}
	tcp_intercept(h->st, m, (uint16_t)t->index);
	h->scratch_flow = NULL;
	return true;
}

static void set_tenant(struct rh *h, unsigned i, struct tenant *t)
{
	h->tenant[i] = t;
	if (t && i >= h->hi)
		h->hi = i + 1;
}

/* The worker publishes its tenants' figures (snap_seqlock.h), and gives
 * the WAN shaper each tenant's replication lag. */
static void publish(struct rh *h)
{
	uint64_t now_ns = now_us(h) * 1000;

	snap_write_begin(&h->seq);
	for (unsigned i = 0; i < STRAIT_MAX_TENANTS; i++) {
		struct tenant *t = h->tenant[i];
		struct relay_hook_tenant *s = &h->snap[i];

		s->present = t != NULL;
		if (!t)
			continue;
		s->up = t->relay && relay_up(t->relay);
		if (t->relay)
			relay_stats(t->relay, &s->relay);
		/* the WAN shaper lends spare capacity first to a tenant whose
		 * lag nears its RpoTarget (dataplane/README.md, "Shaping") */
		t->lag_ns = !t->relay ? 0
			    : repl_lag_sample(&t->lag, now_ns, s->relay.mux.lag_us == UINT64_MAX
						? UINT64_MAX : s->relay.mux.lag_us * 1000,
					      s->relay.mux.held_flows > 0);
		s->lag_ns = t->lag_ns;
		wan_set_lag(h->w, i, t->lag_ns);
		s->bypassed = t->bypassed;
		s->refused_down = t->refused_down;
		s->wan_syn = t->wan_syn;
		s->vlan_bypassed = t->vlan_bypassed;
		s->full = t->full;
		s->icmp_in = t->icmp_in;
		s->icmp_ignored = t->icmp_ignored;
		s->unresolved = t->unresolved;
		s->icmp_out = t->icmp_out;
		s->memory = t->size;
		snprintf(s->why, sizeof(s->why), "%s",
			 s->up ? "" : t->failed ? t->failed_why
			 : t->relay && *relay_why(t->relay) ? relay_why(t->relay)
			 : "the channel is down");
	}
	snap_write_end(&h->seq);
}

int relay_hook_tenant(const struct dp_app *app, unsigned i, struct relay_hook_tenant *out)
{
	int rc = -EAGAIN;

	if (i >= STRAIT_MAX_TENANTS || hook_id < 0)
		return -ENOENT;
	__atomic_fetch_add(&readers, 1, __ATOMIC_SEQ_CST);
	const struct rh *h = dp_hooks_ctx(&app->workers[relay_tenant_owner(app, i)], hook_id);
	if (!h) {
		rc = -ENOENT;
		goto out;
	}
	rc = snap_read(&h->seq, out, &h->snap[i], sizeof(*out));
	if (!rc && !out->present)
		rc = -ENOENT;
out:
	__atomic_fetch_sub(&readers, 1, __ATOMIC_SEQ_CST);
	return rc;
}

static unsigned timers(void *ctx, uint64_t now_ms)
{
	struct rh *h = ctx;
	unsigned work = 0;
	uint64_t due;

	tcp_poll(h->st);
	/* every loop: only the slots this worker may hold, up to the highest
	 * it held (walking all 1,024 was a third of a worker's time) */
	for (unsigned i = h->w->id; i < h->hi; i += h->w->app->n_workers) {
		struct tenant *t = h->tenant[i];

		if (t && t->relay && (t->out_off < t->out_len || relay_channel_pending(t->relay)))
			work += ch_tx(t);
		if (t && t->relay && relay_next_timer(t->relay) <= now_us(h) + 200)
			work++;
	}
	if (now_ms >= h->snap_due_ms) {
		publish(h);
		h->snap_due_ms = now_ms + RELAY_HOOK_SNAP_MS;
	}
	/* keep the worker awake while a timer is due within 200 us */
	due = tcp_next_timer(h->st);
	return work + (due != UINT64_MAX && due <= now_us(h) + 200);
}

/* ---- the tenant's channel (channel.h): the relay's bytes ----
 *
 *   connected    -> the relay (built the first time), a session (HELLO)
 *   readable     -> peek, relay_channel_rx, consume
 *   writable, every loop while the relay has frames -> relay_channel_tx
 *                   into the tenant's stage, channel_send what it takes
 *   disconnected -> every flow reset at both ends; new SYNs meet PeerDown
 *
 * A session error (a peer breaking the framing or the HELLO rules) resets
 * the flows; the channel's bytes are discarded until it reconnects. */

static struct relay *tenant_relay(struct tenant *t);

/* Sends what the relay has for the channel, as far as it takes it. */
static unsigned ch_tx(struct tenant *t)
{
	unsigned work = 0;

	if (!t->relay || t->failed || channel_state(t->ch) != CHANNEL_UP)
		return 0;
	for (;;) {
		if (t->out_off == t->out_len) {
			size_t room = channel_writable(t->ch);

			t->out_off = t->out_len = 0;
			if (!room)
				break;
			t->out_len = (uint32_t)relay_channel_tx(t->relay, t->out,
								room < CH_STAGE ? room : CH_STAGE,
								now_us(t->rh));
			if (!t->out_len)
				break;
		}
		long k = channel_send(t->ch, t->out + t->out_off, t->out_len - t->out_off);
		if (k <= 0)
			break;
		t->out_off += (uint32_t)k;
		work++;
	}
	return work;
}

static void ch_fail(struct tenant *t, int err)
{
	snprintf(t->failed_why, sizeof(t->failed_why), "session error: %s (%s)",
		 chan_mux_strerror(err), relay_why(t->relay));
	fprintf(stderr, "straitd: tenant %s: channel %s\n", tcfg(t)->name, t->failed_why);
	t->failed = true;
	relay_channel_down(t->relay);
}

static void ch_readable(void *arg, struct channel *ch)
{
	struct tenant *t = arg;
	uint8_t *b = t->rh->in;
	size_t n;

	while ((n = channel_peek(ch, b, CH_STAGE)) > 0) {
		int rc = t->relay && !t->failed ? relay_channel_rx(t->relay, b, n) : 0;

		channel_consume(ch, n);
		if (rc)
			ch_fail(t, rc);
	}
	ch_tx(t);
}

static void ch_writable(void *arg, struct channel *ch)
{
	ch_tx(arg);
}

static void ch_connected(void *arg, struct channel *ch)
{
	struct tenant *t = arg;

	t->failed = false;
	t->out_off = t->out_len = 0;
	if (!tenant_relay(t))
		return;
	relay_channel_up(t->relay, now_us(t->rh));
	ch_tx(t);
}

static void ch_disconnected(void *arg, struct channel *ch, enum channel_why why)
{
	struct tenant *t = arg;

	t->out_off = t->out_len = 0;
	if (t->relay && !t->failed)
		relay_channel_down(t->relay);
	t->failed = false;
}

static const struct channel_user ch_user = {
	.connected = ch_connected, .disconnected = ch_disconnected,
	.readable = ch_readable, .writable = ch_writable,
};

/* ---- start and stop ---- */

static void tenant_free(struct tenant *t)
{
	if (!t)
		return;
	if (t->ch)
		channel_set_user(t->ch, NULL, NULL);
	if (t->relay) {
		if ((t->cache[0] || t->cache[1]) && relay_cache_commit(t->relay))
			fprintf(stderr, "straitd: tenant %s: its cache files could not be "
					"committed: the next start begins a new epoch\n", tcfg(t)->name);
		relay_destroy(t->relay); /* its connections reset */
	} else {
		tcp_tenant_handler(t->rh->st, (uint16_t)t->index, NULL, NULL);
	}
	free(t->out);
	if (t->mem)
		munmap(t->mem, t->size);
	for (int i = 0; i < 2; i++)
		if (t->cache[i])
			strait_dedupe_cache_file_close(t->cache[i]);
	free(t);
}

/* CacheFile: the tenant's two logs on disk (PATH.tx its encoder's,
 * PATH.rx its decoder's), opened at the tenant's start with its codec's
 * params (a file of others is replaced). A torn or corrupt file is
 * replaced by an empty one, with a message; a file that cannot be opened
 * leaves that log in memory. */
static void tenant_open_caches(struct tenant *t, const struct strait_dedupe_params *p)
{
	const struct strait_tenant_cfg *tc = tcfg(t);
	static const char *const ext[2] = { "tx", "rx" };

	for (int i = 0; i < 2 && tc->cache_file[0]; i++) {
		enum strait_dedupe_cache_status st;
		char path[PATH_MAX], msg[256];
		int rc;

		snprintf(path, sizeof(path), "%s.%s", tc->cache_file, ext[i]);
		rc = strait_dedupe_cache_file_open(path, p, 0, &t->cache[i], &st, msg, sizeof(msg));
		if (rc) {
			t->cache[i] = NULL;
			fprintf(stderr, "straitd: tenant %s: cache file %s: %s: this log stays "
					"in memory\n", tc->name, path, msg);
		} else {
			fprintf(stderr, "straitd: tenant %s: cache file %s: %s\n", tc->name, path, msg);
		}
	}
}

static void relay_config_of(const struct tenant *t, struct relay_config *rc)
{
	memset(rc, 0, sizeof(*rc));
	const struct strait_tenant_cfg *tc = tcfg(t);

	rc->stack_tenant = (uint16_t)t->index;
	rc->down_rst = tc->peer_down == STRAIT_PEER_DOWN_FAIL_CLOSED;
	rc->mux.tenant = tc->id;
	rc->mux.codec.capacity = tc->cache_size;
	/* a power of two (ctl checked it); 0: the default for capacity */
	rc->mux.codec.window_log = tc->cache_window ? (uint32_t)__builtin_ctzll(tc->cache_window) : 0;
	chan_mux_config_defaults(&rc->mux);
	rc->mux.cache_tx = t->cache[0];
	rc->mux.cache_rx = t->cache[1];
}

/* Until its channel first connects, a tenant has no relay: its SYNs meet
 * PeerDown (fail-closed: this handler refuses them with a RST). */
static void refuse_event(void *arg, struct tcp_conn *c, uint32_t ev)
{
	if (ev & TCP_EV_PENDING)
		tcp_refuse_pending(c, TCP_REFUSE_RST, NULL);
	else if (ev & TCP_EV_CLOSED)
		tcp_close(c);
}

/* The tenant's relay, built in its reserved workspace the first time the
 * channel connects (the codec's tables are written then: a tenant whose
 * peer never answers costs no memory). */
static struct relay *tenant_relay(struct tenant *t)
{
	struct relay_config rc;

	if (!t->relay) {
		struct channel_stats cs;

		relay_config_of(t, &rc);
		channel_stats(t->ch, &cs);
		rc.mux.role = cs.connector ? CHAN_ROLE_CONNECT : CHAN_ROLE_ACCEPT;
		t->relay = relay_create(t->mem, t->size, &rc, t->rh->st, &env, t);
		if (t->relay && t->rh->w->app->corrupt_records)
			chan_mux_inject_check_failure(relay_mux(t->relay), t->rh->w->app->corrupt_records);
	}
	return t->relay;
}

static struct tenant *tenant_new(struct rh *h, unsigned i)
{
	const struct strait_tenant_cfg *tc = &dp_worker_cfg(h->w)->tenants[i];
	struct relay_config rc;
	struct tenant *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->rh = h;
	t->index = i;
	relay_config_of(t, &rc);
	tenant_open_caches(t, &rc.mux.codec);
	relay_config_of(t, &rc);
	t->size = relay_size(&rc);
	if (!t->size) {
		fprintf(stderr, "straitd: tenant %s: CacheSize %llu is not usable\n", tc->name,
			(unsigned long long)tc->cache_size);
		goto err;
	}
	/* the fixed budget (codec logs, rings): reserved here, pages
	 * touched as they are used */
	t->mem = mmap(NULL, t->size, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (t->mem == MAP_FAILED) {
		t->mem = NULL;
		goto err;
	}
	if (tcp_tenant_handler(h->st, (uint16_t)i, refuse_event, t))
		goto err;
	t->out = malloc(CH_STAGE);
	t->ch = wan_channel(h->w, i);
	if (!t->out || !t->ch)
		goto err;
	channel_set_user(t->ch, &ch_user, t);
	return t;
err:
	tenant_free(t);
	return NULL;
}

static void *worker_init(struct dp_worker *w)
{
	const struct strait_config *cfg = dp_worker_cfg(w);
	struct rh *h = calloc(1, sizeof(*h));
	struct tcp_config tc = { .max_tenants = STRAIT_MAX_TENANTS, .sndbuf = 1u << 20,
				 .rcvbuf = 1u << 20 };
	static const struct tcp_ops ops = { now_us, output, NULL };

	if (!h)
		return NULL;
	h->w = w;
	h->tsc_hz = rte_get_tsc_hz();
	/* sized at start for [Appliance] OptimizedFlows, whichever tenants a
	 * reload adds later; a tenant at most as many as its channel carries */
	tc.max_established = cfg->appliance.optimized_flows;
	tc.tenant_max_established = CHAN_MUX_DEFAULT_FLOWS;
	tc.max_conns = tc.max_established + SYN_CONNS_SPARE;
	if (w->app->tx_csum[DP_LAN] && w->app->tx_csum[DP_WAN])
		tc.flags |= TCP_CFG_TX_CSUM_OFFLOAD;
	if (w->app->rx_csum[DP_LAN] && w->app->rx_csum[DP_WAN])
		tc.flags |= TCP_CFG_RX_CSUM_OFFLOAD;
	h->st = tcp_stack_create(&tc, &ops, h, w->app->pool);
	if (!h->st)
		goto err;
	h->ntpl = tc.max_conns;
	h->tpl = calloc(h->ntpl, sizeof(*h->tpl));
	h->in = malloc(CH_STAGE);
	if (!h->tpl || !h->in)
		goto err;
	for (unsigned i = 0; i < cfg->n_tenants; i++) {
		if (!strait_tenant_present(&cfg->tenants[i]) || relay_tenant_owner(w->app, i) != w->id)
			continue;
		set_tenant(h, i, tenant_new(h, i));
		if (!h->tenant[i])
			goto err;
	}
	publish(h);
	return h;
err:
	for (unsigned i = 0; i < STRAIT_MAX_TENANTS; i++)
		tenant_free(h->tenant[i]);
	if (h->st)
		tcp_stack_destroy(h->st);
	free(h->tpl);
	free(h->in);
	free(h);
	return NULL;
}

static void worker_fini(struct dp_worker *w, void *ctx)
{
	struct rh *h = ctx;

	if (!h)
		return;
	for (int i = 0; i < 100000 && __atomic_load_n(&readers, __ATOMIC_SEQ_CST); i++)
		rte_delay_us_sleep(100);
	for (unsigned i = 0; i < STRAIT_MAX_TENANTS; i++)
		tenant_free(h->tenant[i]);
	tcp_stack_destroy(h->st);
	free(h->tpl);
	free(h->in);
	free(h);
}

/* What the relay adds to tenant slot's statistics (dp_hooks.h; the
 * worker's own are its bridged frames): its streams' bytes, the codec's
 * cache, its flows (optimized ones are not bridged), its queue and lag,
 * and why SYNs were not optimized. */
static void tenant_stats(void *ctx, unsigned slot, struct strait_tenant_stats *s)
{
	const struct rh *h = ctx;
	const struct tenant *t = slot < STRAIT_MAX_TENANTS ? h->tenant[slot] : NULL;
	struct relay_stats r;
	uint64_t opt;

	if (!t)
		return;
	s->unoptimized[STRAIT_UNOPT_BYPASS] += t->bypassed + t->full;
	s->unoptimized[STRAIT_UNOPT_PEER_DOWN] += t->refused_down;
	if (!t->relay)
		return;
	relay_stats(t->relay, &r);
	s->unoptimized[STRAIT_UNOPT_REFUSED] += r.mux.refused_in;
	s->lan_in_bytes += r.mux.lan_in;
	s->lan_out_bytes += r.mux.lan_out;
	s->cache_hits += r.mux.cache_hits;
	s->cache_misses += r.mux.cache_misses;
	opt = r.mux.active;
	s->flows[STRAIT_FLOW_OPTIMIZED] += opt;
	s->flows[STRAIT_FLOW_BRIDGED] -= opt < s->flows[STRAIT_FLOW_BRIDGED]
						 ? opt : s->flows[STRAIT_FLOW_BRIDGED];
	s->queue_bytes += r.mux.raw_held;
	s->replication_lag_ns = t->lag_ns;
}

/* A reload's news about tenant ev->slot (dp_hooks.h), on every worker;
 * the owner acts. Removed (before the WAN module lets its channel go):
 * the relay resets the tenant's connections and its workspace is
 * unmapped. Added (after the WAN module made its channel): as at start.
 * Changed: PeerDown is read from the configuration at each SYN, and given
 * to the relay for a SYN while the channel is down; a new CacheSize or
 * CacheFile builds the relay again (its connections reset) and starts
 * the channel's session again, so that both ends begin a new epoch with
 * the new cache. A change of Id or inner addresses arrives as removed,
 * then added. */
static void tenant_event(void *ctx, const struct dp_tenant_event *ev)
{
	struct rh *h = ctx;
	unsigned i = ev->slot;
	struct tenant *t = h->tenant[i];

	if (relay_tenant_owner(h->w->app, i) != h->w->id)
		return;
	switch (ev->kind) {
	case DP_TENANT_REMOVED:
		h->tenant[i] = NULL;
		tenant_free(t);
		break;
	case DP_TENANT_ADDED:
		if (t)
			break; /* started already: a reload published the
				* configuration before this worker's first load */
		set_tenant(h, i, tenant_new(h, i));
		if (!h->tenant[i])
			fprintf(stderr, "straitd: tenant %s: its relay could not start: its flows "
					"are bridged\n", ev->cfg->tenants[i].name);
		break;
	case DP_TENANT_CHANGED:
		if (!t)
			break;
		if (ev->apply & STRAIT_APPLY_CACHE) {
			struct channel *ch = t->ch;

			h->tenant[i] = NULL;
			tenant_free(t);
			set_tenant(h, i, tenant_new(h, i));
			if (!h->tenant[i])
				fprintf(stderr, "straitd: tenant %s: its relay could not start again "
						"with the new cache: its flows are bridged\n",
					ev->cfg->tenants[i].name);
			channel_restart(ch);
		} else if ((ev->apply & STRAIT_APPLY_POLICY) && t->relay) {
			relay_set_down_rst(t->relay, tcfg(t)->peer_down ==
							     STRAIT_PEER_DOWN_FAIL_CLOSED);
		}
		break;
	}
}

int relay_hook_register(void)
{
	static const struct dp_hooks hooks = {
		.name = "relay",
		.worker_init = worker_init,
		.worker_fini = worker_fini,
		.intercept = intercept,
		.poll = timers,
		.tenant = tenant_event,
		.tenant_stats = tenant_stats,
		.unresolved = unresolved,
	};
	hook_id = dp_hooks_register(&hooks);
	return hook_id < 0 ? hook_id : 0;
}
