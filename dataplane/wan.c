/* SPDX-License-Identifier: BSD-3-Clause */
/* The WAN module: per-tenant ESP tunnels on UDP/4500 of the WAN address,
 * and the channel stack whose segments they carry.
 *
 *   WAN port -> worker: UDP to the WAN address, port 4500 (local())
 *     -> wan_rx_classify: handshake (tenant Id) | ESP (SPI) | NAT keepalive | malformed
 *     -> not this worker's tenant? -> the owner's steer ring
 *     -> handshake: strait_tunnel_handshake -> reply behind the marker
 *        ESP: strait_tunnel_open -> dummy (keepalive) | inner packet
 *             -> wan_inner_check (this tenant's inner addresses, TCP)
 *             -> payload copied into the channel's RX pool -> channel stack
 *   channel stack output (gated by the shaper, wan_shaper.h) -> tenant by
 *     source address -> strait_tunnel_seal -> strait_esp_udp_encap
 *     -> charged to the tenant's class -> dp_tx_l3(WAN, Endpoint)
 *   poll: strait_tunnel_poll per tenant every millisecond: INITs,
 *     keepalives (dummy ESP), peer down (channel aborted) / up (channel
 *     connects); the channel stack's timers; telemetry snapshots.
 *
 * Per packet: no allocation but the channel's own mbufs, no lock, no
 * syscall, no log. Once per SA: one write() to the SA log, if asked. */
#include "wan.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <rte_branch_prediction.h>
#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_random.h>
#include <rte_ring.h>

#include "dp.h"
#include "snap_seqlock.h"
#include "strait/stats.h"
#include "wan_rx.h"
#include "wan_shaper.h"

enum {
	MSS_V4_OUTER = 1398,     /* inner IPv4 packet <= 1438: see README, "MSS" */
	MSS_V6_OUTER = 1378,     /* inner IPv4 packet <= 1418 */
	CHANNEL_BUF = 4u << 20,  /* sndbuf and rcvbuf per channel connection */
	POOL_CACHE = 256,
	SEG_MBUFS = 4095,        /* per worker: segments between the stack and the NIC */
};

struct wan_tenant {
	uint16_t index;                /* its slot in the configuration */
	uint16_t id;                   /* its Id: the tunnel's, for its life */
	struct strait_tunnel *tun;
	struct channel *ch;
	struct strait_esp_path path; /* outer header: our WAN address -> Endpoint */
	uint64_t esp_in_frames, esp_in_bytes, esp_out_frames, esp_out_bytes;
	uint64_t keepalives_in;
	uint64_t drops[WAN_TDROP_COUNT];
	uint32_t spi_next;             /* low bits of the next inbound SPI */
	/* A reload started the tunnel again (a key or a timer changed) at
	 * restarted_ns: the channel is kept while the new one comes up, and
	 * told the tunnel is down if it is not up within PeerTimeout. */
	bool restarting;
	uint64_t restarted_ns;
};

struct wan_worker {
	struct dp_worker *w;
	struct dp_app *app;
	unsigned id;
	/* The tenants this worker owns, by slot; every tenant's slot + 1 by
	 * its Id (handshakes and SPIs name the Id). Both change only with a
	 * reload's tenant events (wan_tenant_event()). */
	struct wan_tenant *t[STRAIT_MAX_TENANTS];
	uint16_t by_id[STRAIT_TENANT_ID_MAX + 1];
	struct channel_stack *cs;
	struct wan_shaper *shaper;     /* NULL: nothing to shape (shaper_sync()) */
	bool shaper_checked;           /* shaper_gen's configuration wants none */
	uint64_t shaper_gen;
	struct rte_mempool *queue_pool, *seg_pool, *rx_pool;
	uint64_t tsc_hz;
	uint64_t now_ns;               /* wall clock, refreshed per poll and burst */
	uint64_t scanned_ms, snap_due_ms;
	uint64_t drops[WAN_DROP_COUNT];
	uint32_t seq;                  /* odd while the worker writes snap */
	struct wan_snap snap;
};

/* Shared, read-only once the workers run. */
static struct {
	struct dp_app *app;
	int module;                    /* dp_hooks id */
	int sa_log_fd;                 /* -1: none */
	uint64_t sa_log_errors;        /* lines not written whole */
	uint64_t tsc0, real0_ns;       /* the TSC-to-realtime base */
	struct rte_mempool *pool[STRAIT_MAX_WORKERS][3]; /* queue, seg, rx */
	uint64_t test_req[STRAIT_MAX_TENANTS]; /* bytes << 2 | mode, set by telemetry,
						* taken by the owner */
} g = { .sa_log_fd = -1, .module = -1 };

/* Telemetry threads inside wan_snapshot(): a worker's context is freed
 * only once none is (wan_worker_fini). */
static int readers;

/* Written once by each worker as it stops; read by main after. */
static struct {
	bool set;
	struct wan_snap snap;
} finals[STRAIT_MAX_WORKERS];

const char *wan_drop_name(enum wan_drop d)
{
	static const char *const n[WAN_DROP_COUNT] = {
		[WAN_DROP_MALFORMED] = "malformed", [WAN_DROP_NAT_KEEPALIVE] = "nat_keepalive",
		[WAN_DROP_UNKNOWN_TENANT] = "unknown_tenant", [WAN_DROP_UNKNOWN_SPI] = "unknown_spi",
		[WAN_DROP_STEER_FULL] = "steer_full",
	};
	return (unsigned)d < WAN_DROP_COUNT ? n[d] : "?";
}

const char *wan_tenant_drop_name(enum wan_tenant_drop d)
{
	static const char *const n[WAN_TDROP_COUNT] = {
		[WAN_TDROP_INNER_MALFORMED] = "inner_malformed", [WAN_TDROP_INNER_ADDR] = "inner_addr",
		[WAN_TDROP_RX_NO_MBUF] = "rx_no_mbuf", [WAN_TDROP_TX_NO_MBUF] = "tx_no_mbuf",
		[WAN_TDROP_TX_NOROOM] = "tx_noroom",
	};
	return (unsigned)d < WAN_TDROP_COUNT ? n[d] : "?";
}

unsigned wan_tenant_owner(const struct dp_app *app, unsigned index)
{
	return index % app->n_workers;
}

/* ---- clocks ---- */

static uint64_t cycles_to(uint64_t c, uint64_t hz, uint64_t unit)
{
	return (uint64_t)((unsigned __int128)c * unit / hz);
}

/* Wall-clock nanoseconds without a syscall: the realtime taken at start
 * plus the TSC since (the handshake's timestamps must keep increasing
 * across restarts; between two, the TSC is monotonic). */
static uint64_t wall_ns(const struct wan_worker *ww)
{
	return g.real0_ns + cycles_to(rte_get_tsc_cycles() - g.tsc0, ww->tsc_hz, 1000000000u);
}

static uint64_t stack_now_us(void *ctx)
{
	const struct wan_worker *ww = ctx;
	return cycles_to(rte_get_tsc_cycles() - g.tsc0, ww->tsc_hz, 1000000u);
}

/* ---- mbufs <-> the tunnel's buffers ---- */

static struct strait_pkt pkt_at(struct rte_mbuf *m, uint16_t off)
{
	return (struct strait_pkt){
		.data = rte_pktmbuf_mtod_offset(m, uint8_t *, off),
		.len = (size_t)m->data_len - off,
		.head = (size_t)rte_pktmbuf_headroom(m) + off,
		.tail = rte_pktmbuf_tailroom(m),
	};
}

static void mbuf_from_pkt(struct rte_mbuf *m, const struct strait_pkt *p)
{
	m->data_off = (uint16_t)(p->data - (uint8_t *)m->buf_addr);
	m->data_len = (uint16_t)p->len;
	m->pkt_len = (uint32_t)p->len;
}

/* ---- output ---- */

static void send_outer(struct wan_worker *ww, struct wan_tenant *t, struct rte_mbuf *m,
		       struct strait_pkt *p, bool non_esp)
{
	if (unlikely(!strait_esp_udp_encap(&t->path, p, non_esp))) {
		t->drops[WAN_TDROP_TX_NOROOM]++;
		rte_pktmbuf_free(m);
		return;
	}
	mbuf_from_pkt(m, p);
	m->ol_flags = 0;
	if (ww->shaper) {
		bool tagged = ww->app->local[DP_WAN].vlan != 0;

		wan_shaper_charge(ww->shaper, t->index,
				  wan_wire_bytes((uint32_t)p->len, tagged), ww->now_ns);
	}
	if (!non_esp) {
		t->esp_out_frames++;
		t->esp_out_bytes += p->len;
	}
	/* takes m; an unresolved next hop costs this frame (TCP resends) */
	dp_tx_l3(ww->w, DP_WAN, ww->app->local[DP_WAN].vlan, t->path.family, t->path.dst, m);
}

static void send_kx(struct wan_worker *ww, struct wan_tenant *t, const uint8_t *msg, size_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(ww->seg_pool);
	if (unlikely(!m)) {
		t->drops[WAN_TDROP_TX_NO_MBUF]++;
		return;
	}
	struct strait_pkt p = pkt_at(m, 0);
	memcpy(p.data, msg, len);
	p.len = len;
	p.tail -= len;
	send_outer(ww, t, m, &p, true);
}

/* A keepalive: an ESP dummy packet (next header 59), empty. */
static void send_keepalive(struct wan_worker *ww, struct wan_tenant *t)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(ww->seg_pool);
	if (unlikely(!m)) {
		t->drops[WAN_TDROP_TX_NO_MBUF]++;
		return;
	}
	struct strait_pkt p = pkt_at(m, 0);
	if (strait_tunnel_seal(t->tun, &p, STRAIT_ESP_NH_DUMMY, ww->now_ns) != STRAIT_ESP_OK) {
		rte_pktmbuf_free(m); /* counted by the tunnel (esp_tx) */
		return;
	}
	send_outer(ww, t, m, &p, false);
}

/* The channel stack's output: each segment sealed for its tenant. */
static void esp_output(void *ctx, struct rte_mbuf **pkts, uint16_t n)
{
	struct wan_worker *ww = ctx;
	ww->now_ns = wall_ns(ww);
	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		const uint8_t *l3 = rte_pktmbuf_mtod(m, const uint8_t *);
		uint8_t af = (l3[0] >> 4) == 4 ? 4 : 6;
		struct channel *ch = channel_find(ww->cs, af, af == 4 ? l3 + 12 : l3 + 8);
		if (unlikely(!ch || m->nb_segs != 1)) {
			rte_pktmbuf_free(m); /* cannot happen: only tenants' addresses are bound */
			continue;
		}
		struct wan_tenant *t = channel_owner(ch);
		struct strait_pkt p = pkt_at(m, 0);
		if (strait_tunnel_seal(t->tun, &p, af == 4 ? STRAIT_ESP_NH_IPV4 : STRAIT_ESP_NH_IPV6,
				       ww->now_ns) != STRAIT_ESP_OK) {
			rte_pktmbuf_free(m); /* no SA yet, expired: counted in esp_tx */
			continue;
		}
		send_outer(ww, t, m, &p, false);
	}
}

/* ---- input ---- */

static void tenant_events(struct wan_worker *ww, struct wan_tenant *t);

static void on_handshake(struct wan_worker *ww, struct wan_tenant *t, struct rte_mbuf *m,
			 const struct wan_rx *rx)
{
	uint8_t reply[STRAIT_KX_MAX_LEN];
	size_t n = 0;
	strait_tunnel_handshake(t->tun, ww->now_ns, rx->pkt.data, rx->pkt.len, reply,
				sizeof(reply), &n); /* counted by outcome in kx_rx */
	rte_pktmbuf_free(m);
	/* the reply goes to the configured Endpoint, never to the source of
	 * the frame: no reflection toward a spoofed address */
	if (n)
		send_kx(ww, t, reply, n);
	tenant_events(ww, t); /* a CONFIRM or RESP may have brought it up */
}

static void on_esp(struct wan_worker *ww, struct wan_tenant *t, struct rte_mbuf *m, struct wan_rx *rx)
{
	uint8_t nh;
	size_t outer = rx->pkt.len;
	enum strait_esp_status s = strait_tunnel_open(t->tun, &rx->pkt, &nh, ww->now_ns);
	if (s != STRAIT_ESP_OK) {
		/* counted by reason in the tunnel's esp_rx */
		if (s == STRAIT_ESP_DUMMY) {
			t->keepalives_in++;
			if (!strait_tunnel_peer_up(t->tun))
				tenant_events(ww, t);
		}
		rte_pktmbuf_free(m);
		return;
	}
	t->esp_in_frames++;
	t->esp_in_bytes += outer;
	size_t payload;
	const struct strait_tenant_cfg *tc = &dp_worker_cfg(ww->w)->tenants[t->index];
	enum wan_inner r = wan_inner_check(rx->pkt.data, rx->pkt.len, nh, tc, &payload);
	if (unlikely(r != WAN_INNER_OK)) {
		t->drops[r == WAN_INNER_ADDR ? WAN_TDROP_INNER_ADDR : WAN_TDROP_INNER_MALFORMED]++;
		rte_pktmbuf_free(m);
		return;
	}
	if (payload) {
		/* Data the channel will hold lives in the channel's own pool,
		 * never in the NIC's: a slow reader cannot starve the receive
		 * path. Pure ACKs are freed at once and need no copy. */
		struct rte_mbuf *c = rte_pktmbuf_alloc(ww->rx_pool);
		if (unlikely(!c || rte_pktmbuf_tailroom(c) < rx->pkt.len)) {
			t->drops[WAN_TDROP_RX_NO_MBUF]++;
			rte_pktmbuf_free(c);
			rte_pktmbuf_free(m);
			return;
		}
		memcpy(rte_pktmbuf_mtod(c, uint8_t *), rx->pkt.data, rx->pkt.len);
		c->data_len = (uint16_t)rx->pkt.len;
		c->pkt_len = (uint32_t)rx->pkt.len;
		rte_pktmbuf_free(m);
		m = c;
	} else {
		mbuf_from_pkt(m, &rx->pkt);
	}
	m->ol_flags = 0;          /* the NIC's checksum verdicts were for the outer packet */
	m->l2_len = 0;
	m->l3_len = nh == STRAIT_ESP_NH_IPV4 ? 20 : 40;
	channel_input(ww->cs, m);
}

static bool steer(struct wan_worker *ww, unsigned owner, struct rte_mbuf *m)
{
	struct dp_worker *o = &ww->app->workers[owner];
	if (unlikely(!o->steer[DP_WAN] || rte_ring_mp_enqueue(o->steer[DP_WAN], m))) {
		ww->drops[WAN_DROP_STEER_FULL]++;
		rte_pktmbuf_free(m);
	}
	return true;
}

static struct wan_tenant *mine(struct wan_worker *ww, uint32_t tenant_id)
{
	if (tenant_id == 0 || tenant_id > STRAIT_TENANT_ID_MAX || !ww->by_id[tenant_id])
		return NULL;
	return ww->t[ww->by_id[tenant_id] - 1];
}

static bool wan_local(void *ctx, struct rte_mbuf *m, const struct pkt_info *pi, unsigned in_port)
{
	struct wan_worker *ww = ctx;
	if (in_port != DP_WAN || pi->l4_proto != PROTO_UDP || pi->dport != STRAIT_ESP_UDP_PORT ||
	    pi->is_fragment)
		return false; /* as before: no module, local_unhandled */
	if (unlikely(m->nb_segs != 1)) {
		ww->drops[WAN_DROP_MALFORMED]++; /* no ESP frame of ours is chained */
		rte_pktmbuf_free(m);
		return true;
	}
	struct wan_rx rx;
	struct strait_pkt l3 = pkt_at(m, m->l2_len);
	wan_rx_classify(l3.data, l3.len, l3.head, l3.tail, &rx);
	ww->now_ns = wall_ns(ww);
	struct wan_tenant *t;
	switch (rx.kind) {
	case WAN_RX_ESP: {
		unsigned owner = wan_spi_worker(rx.spi);
		if (owner >= ww->app->n_workers)
			break;
		if (owner != ww->id)
			return steer(ww, owner, m);
		t = mine(ww, rx.tenant_id);
		if (!t)
			break;
		on_esp(ww, t, m, &rx);
		return true;
	}
	case WAN_RX_HANDSHAKE: {
		uint32_t id = rx.tenant_id;
		if (!id || id > STRAIT_TENANT_ID_MAX || !ww->by_id[id]) {
			ww->drops[WAN_DROP_UNKNOWN_TENANT]++;
			rte_pktmbuf_free(m);
			return true;
		}
		unsigned owner = wan_tenant_owner(ww->app, ww->by_id[id] - 1u);
		if (owner != ww->id)
			return steer(ww, owner, m);
		t = mine(ww, id);
		if (!t) { /* a reload's events are on their way */
			ww->drops[WAN_DROP_UNKNOWN_TENANT]++;
			rte_pktmbuf_free(m);
			return true;
		}
		on_handshake(ww, t, m, &rx);
		return true;
	}
	case WAN_RX_NAT_KEEPALIVE:
		ww->drops[WAN_DROP_NAT_KEEPALIVE]++;
		rte_pktmbuf_free(m);
		return true;
	case WAN_RX_NOT_OURS:
		return false;
	default:
		ww->drops[WAN_DROP_MALFORMED]++;
		rte_pktmbuf_free(m);
		return true;
	}
	ww->drops[WAN_DROP_UNKNOWN_SPI]++;
	rte_pktmbuf_free(m);
	return true;
}

/* ---- timers ---- */

static void tenant_events(struct wan_worker *ww, struct wan_tenant *t)
{
	uint8_t out[STRAIT_KX_MAX_LEN];
	size_t n;
	unsigned ev = strait_tunnel_poll(t->tun, ww->now_ns, out, sizeof(out), &n);
	if (t->restarting && !(ev & STRAIT_TUNNEL_EV_UP) &&
	    ww->now_ns - t->restarted_ns >
		    dp_worker_cfg(ww->w)->tenants[t->index].peer_timeout_ns) {
		/* the restarted tunnel did not come up (the peer has not the
		 * new key yet): as a peer timeout */
		t->restarting = false;
		channel_tunnel(t->ch, false);
	}
	if (ev & STRAIT_TUNNEL_EV_UP)
		t->restarting = false;
	if (ev & STRAIT_TUNNEL_EV_DOWN)
		channel_tunnel(t->ch, false);
	if (ev & STRAIT_TUNNEL_EV_INIT)
		send_kx(ww, t, out, n);
	if (ev & STRAIT_TUNNEL_EV_UP)
		channel_tunnel(t->ch, true);
	if (ev & STRAIT_TUNNEL_EV_KEEPALIVE)
		send_keepalive(ww, t);
}

static void snap_tenant(const struct wan_worker *ww, const struct wan_tenant *t,
			struct wan_tenant_snap *s)
{
	s->index = t->index;
	s->up = strait_tunnel_peer_up(t->tun);
	s->spi_in = strait_tunnel_spi_in(t->tun);
	s->spi_out = strait_tunnel_spi_out(t->tun);
	uint64_t last = strait_tunnel_last_rx(t->tun);
	s->last_rx_ms_ago = last ? (ww->now_ns - last) / 1000000u : UINT64_MAX;
	s->esp_in_frames = t->esp_in_frames;
	s->esp_in_bytes = t->esp_in_bytes;
	s->esp_out_frames = t->esp_out_frames;
	s->esp_out_bytes = t->esp_out_bytes;
	s->keepalives_in = t->keepalives_in;
	memcpy(s->drops, t->drops, sizeof(s->drops));
	s->tun = *strait_tunnel_stats(t->tun);
	channel_stats(t->ch, &s->ch);
	channel_test_result(t->ch, &s->test);
	if (ww->shaper)
		wan_shaper_stats(ww->shaper, t->index, ww->now_ns, &s->shaper);
}

/* The worker's snapshot for telemetry (snap_seqlock.h). */
static void publish(struct wan_worker *ww, uint64_t now_ms)
{
	struct wan_snap *s = &ww->snap;
	snap_write_begin(&ww->seq);
	s->at_ms = now_ms ? now_ms : 1;
	memcpy(s->drops, ww->drops, sizeof(s->drops));
	tcp_stack_stats(channel_stack_tcp(ww->cs), &s->stack);
	channel_stack_impair_stats(ww->cs, &s->impair);
	struct rte_mempool *pools[3] = { ww->queue_pool, ww->seg_pool, ww->rx_pool };
	for (int k = 0; k < 3; k++) {
		s->pool_free[k] = rte_mempool_avail_count(pools[k]);
		s->pool_size[k] = pools[k]->size;
	}
	s->n = 0;
	for (unsigned i = ww->id; i < STRAIT_MAX_TENANTS; i += ww->app->n_workers)
		if (ww->t[i])
			snap_tenant(ww, ww->t[i], &s->t[s->n++]);
	if (ww->shaper)
		wan_shaper_stats(ww->shaper, WAN_SHAPER_BRIDGED, ww->now_ns, &s->bridged);
	snap_write_end(&ww->seq);
}

/* The WAN shaper as the worker's published configuration wants it:
 * created when a configuration first shapes something (at start, or a
 * reload's), with this worker's tenants attached; then kept (a later
 * configuration that shapes nothing leaves every class unlimited) and
 * synced with each new configuration. -ENOMEM when it cannot be created
 * (at start: the worker does not start; at a reload: nothing is shaped
 * until the next one). */
static int shaper_sync(struct wan_worker *ww)
{
	const struct strait_config *cfg = dp_worker_cfg(ww->w);
	if (!ww->shaper) {
		if (ww->shaper_checked && ww->shaper_gen == cfg->generation)
			return 0;
		ww->shaper_checked = true;
		ww->shaper_gen = cfg->generation;
		if (!wan_shaper_wanted(cfg))
			return 0;
		ww->shaper = wan_shaper_create(ww->app->n_workers, ww->now_ns);
		if (!ww->shaper) {
			fprintf(stderr, "straitd: worker %u: WAN shaper: out of memory, nothing "
					"shaped\n", ww->id);
			return -ENOMEM;
		}
		for (unsigned i = ww->id; i < STRAIT_MAX_TENANTS; i += ww->app->n_workers)
			if (ww->t[i])
				wan_shaper_attach(ww->shaper, i, ww->t[i]->ch);
	}
	wan_shaper_sync(ww->shaper, cfg, ww->now_ns);
	return 0;
}

static unsigned wan_poll(void *ctx, uint64_t now_ms)
{
	struct wan_worker *ww = ctx;
	unsigned work = channel_poll(ww->cs);
	ww->now_ns = wall_ns(ww);
	shaper_sync(ww); /* O(1) unless a reload came */
	if (ww->shaper) {
		const struct dp_port_stats *lan = &ww->w->stats.port[DP_LAN];
		/* on the wire: each bridged frame's preamble, FCS and gap too */
		wan_shaper_bridged(ww->shaper, lan->bridged_bytes + WAN_ETH_WIRE_EXTRA * lan->bridged_pkts,
				   ww->now_ns);
		work += wan_shaper_run(ww->shaper, ww->now_ns);
	}
	if (now_ms != ww->scanned_ms) {
		/* per-tenant timers have millisecond needs at most */
		ww->scanned_ms = now_ms;
		ww->now_ns = wall_ns(ww);
		for (unsigned i = ww->id; i < STRAIT_MAX_TENANTS; i += ww->app->n_workers) {
			struct wan_tenant *t = ww->t[i];
			if (!t)
				continue;
			tenant_events(ww, t);
			uint64_t req = __atomic_exchange_n(&g.test_req[t->index], 0, __ATOMIC_ACQ_REL);
			if (req)
				channel_test_start(t->ch, (enum channel_test_mode)(req & 3), req >> 2);
		}
	}
	if (now_ms >= ww->snap_due_ms) {
		publish(ww, now_ms);
		ww->snap_due_ms = now_ms + WAN_SNAP_MS;
	}
	return work;
}

/* ---- SA log ---- */

static void sa_log_write(void *arg, const char *line)
{
	(void)arg;
	char buf[STRAIT_SA_LOG_LINE_MAX + 1];
	size_t n = strlen(line);
	memcpy(buf, line, n);
	buf[n++] = '\n';
	/* O_APPEND: one write per line, whole, whatever worker writes */
	if (write(g.sa_log_fd, buf, n) != (ssize_t)n)
		__atomic_fetch_add(&g.sa_log_errors, 1, __ATOMIC_RELAXED); /* the tunnel goes on */
	explicit_bzero(buf, sizeof(buf));
}

/* ---- per worker ---- */

/* The low bits count up from a random start: an SPI comes back only
 * after 4096 SAs of the tenant (a capture's SA log names each SA once,
 * and a late frame of an old SA never meets a new one of the same SPI). */
static uint32_t choose_spi(void *arg)
{
	struct wan_tenant *t = arg;
	unsigned worker = wan_tenant_owner(g.app, t->index);
	return wan_spi_make(worker, t->id, t->spi_next++);
}

/* The tenant's tunnel from its configuration tc: at start, and again when
 * a reload changes its key or its timers (the SPIs go on counting). The
 * key is copied into the tunnel, then wiped from the configuration: the
 * only bytes of it a worker writes (the owner, once; nothing else reads
 * them). `resumed` on a reload's restart: the peer still holds our pair
 * and the channel goes on, so the new tunnel must not claim INITIAL_CONTACT.
 * NULL with errno. */
static struct strait_tunnel *tunnel_new(const struct wan_worker *ww, struct wan_tenant *t,
					const struct strait_tenant_cfg *tc, bool resumed)
{
	const struct local_addr *la = &ww->app->local[DP_WAN];
	uint8_t fam = tc->peer_endpoint.family;
	t->path = (struct strait_esp_path){ .family = fam, .sport = STRAIT_ESP_UDP_PORT,
					    .dport = tc->peer_port };
	memcpy(t->path.src, fam == 4 ? la->ip4 : la->ip6, fam == 4 ? 4 : 16);
	memcpy(t->path.dst, tc->peer_endpoint.addr, 16);
	uint8_t ia = tc->inner_local.family;
	bool lower = memcmp(tc->inner_local.addr, tc->inner_peer.addr, ia == 4 ? 4 : 16) < 0;
	uint64_t hard_ns, hard_bytes;
	strait_tenant_hard_limits(tc, &hard_ns, &hard_bytes);
	struct strait_tunnel_config c = {
		.tenant_id = tc->id,
		/* node ids by inner address: the lower one wins a tie-break
		 * and connects the channel */
		.local_id = lower ? 1 : 2,
		.peer_id = lower ? 2 : 1,
		.soft = { .bytes = tc->rekey_bytes, .seconds = (tc->rekey_ns + 999999999u) / 1000000000u },
		.hard = { .bytes = hard_bytes, .seconds = (hard_ns + 999999999u) / 1000000000u },
		.choose_spi = choose_spi,
		.choose_spi_arg = t,
		.sa_log = { .fn = g.sa_log_fd >= 0 ? sa_log_write : NULL, .family = fam },
		.peer_timeout_ns = tc->peer_timeout_ns,
		.keepalive_ns = tc->keepalive_ns,
		.resumed = resumed,
	};
	memcpy(c.sa_log.local, t->path.src, 16);
	memcpy(c.sa_log.peer, t->path.dst, 16);
	memcpy(c.psk, tc->psk, sizeof(c.psk));
	struct strait_tunnel *tun = strait_tunnel_create(&c, ww->now_ns);
	explicit_bzero(c.psk, sizeof(c.psk));
	strait_tenant_wipe_key((struct strait_tenant_cfg *)tc);
	return tun;
}

static void tenant_stop(struct wan_worker *ww, unsigned slot)
{
	struct wan_tenant *t = ww->t[slot];
	if (!t)
		return;
	ww->t[slot] = NULL;
	if (ww->shaper)
		wan_shaper_detach(ww->shaper, slot); /* before its channel goes */
	if (t->ch)
		channel_remove(t->ch); /* its user, the relay, let go of it first */
	strait_tunnel_free(t->tun); /* keys wiped */
	free(t);
}

/* A tenant of this worker: its tunnel and its channel. */
static int tenant_start(struct wan_worker *ww, const struct strait_config *cfg, unsigned slot)
{
	const struct strait_tenant_cfg *tc = &cfg->tenants[slot];
	struct wan_tenant *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->index = (uint16_t)slot;
	t->id = tc->id;
	t->spi_next = (uint32_t)rte_rand();
	ww->t[slot] = t;
	t->tun = tunnel_new(ww, t, tc, false);
	if (!t->tun) {
		int rc = -errno;
		tenant_stop(ww, slot);
		return rc;
	}
	t->ch = channel_add(ww->cs, tc->inner_local.family, tc->inner_local.addr,
			    tc->inner_peer.addr, t);
	if (!t->ch) {
		tenant_stop(ww, slot);
		return -ENOMEM;
	}
	channel_set_bbr(t->ch, tc->transport == STRAIT_TRANSPORT_BBR);
	if (ww->shaper) /* a fresh class; its policy at the next sync */
		wan_shaper_attach(ww->shaper, slot, t->ch);
	return 0;
}

/* A reload changed the tenant's key or its tunnel's settings (Endpoint,
 * timers): a new tunnel, a new handshake. The channel's connection is
 * kept: its TCP resends what the handshake's moments lost. */
static void tunnel_restart(struct wan_worker *ww, struct wan_tenant *t,
			   const struct strait_tenant_cfg *tc)
{
	struct strait_esp_path path = t->path;
	struct strait_tunnel *tun = tunnel_new(ww, t, tc, true);
	if (!tun) {
		t->path = path;
		fprintf(stderr, "straitd: tenant %s: the tunnel could not start again (%s): the "
				"old one goes on\n", tc->name, strerror(errno));
		return;
	}
	strait_tunnel_free(t->tun);
	t->tun = tun;
	t->restarting = true;
	t->restarted_ns = ww->now_ns;
}

/* A reload's news (dp_hooks.h): every worker keeps its Id map; the owner
 * starts, stops or restarts the tenant's tunnel. A change of Id or inner
 * addresses reaches the modules as removed, then added (reload.c). */
static void wan_tenant_event(void *ctx, const struct dp_tenant_event *ev)
{
	struct wan_worker *ww = ctx;
	const struct strait_tenant_cfg *tc = &ev->cfg->tenants[ev->slot];
	bool owner = wan_tenant_owner(ww->app, ev->slot) == ww->id;
	ww->now_ns = wall_ns(ww);
	switch (ev->kind) {
	case DP_TENANT_REMOVED:
		if (ww->by_id[tc->id] == ev->slot + 1u)
			ww->by_id[tc->id] = 0;
		if (owner)
			tenant_stop(ww, ev->slot);
		return;
	case DP_TENANT_ADDED:
		ww->by_id[tc->id] = (uint16_t)(ev->slot + 1);
		/* a taken slot: started already, from a configuration that a
		 * reload published before this worker's first load */
		if (owner && !ww->t[ev->slot] && tenant_start(ww, ev->cfg, ev->slot))
			fprintf(stderr, "straitd: tenant %s: its tunnel and channel could not start "
					"(out of memory): its flows are bridged\n", tc->name);
		return;
	case DP_TENANT_CHANGED:
		if (owner && ww->t[ev->slot] &&
		    (ev->apply & (STRAIT_APPLY_REKEY | STRAIT_APPLY_TUNNEL)))
			tunnel_restart(ww, ww->t[ev->slot], tc);
		return;
	}
}

/* What the WAN module adds to tenant slot's statistics (dp_hooks.h): its
 * ESP bytes on the WAN, and the channel: state, RTT, retransmissions. */
static void wan_tenant_stats(void *ctx, unsigned slot, struct strait_tenant_stats *s)
{
	const struct wan_worker *ww = ctx;
	const struct wan_tenant *t = slot < STRAIT_MAX_TENANTS ? ww->t[slot] : NULL;
	if (!t)
		return;
	struct channel_stats c;
	channel_stats(t->ch, &c);
	s->wan_in_bytes += t->esp_in_bytes;
	s->wan_out_bytes += t->esp_out_bytes;
	s->channel_state = !strait_tunnel_peer_up(t->tun) ? STRAIT_CHANNEL_DOWN
			   : c.state == CHANNEL_UP ? STRAIT_CHANNEL_UP : STRAIT_CHANNEL_CONNECTING;
	s->channel_rtt_ns = (uint64_t)c.srtt_us * 1000u;
	s->channel_retransmits = c.retrans_segs;
	s->rpo_urgent = ww->shaper && wan_shaper_urgent(ww->shaper, slot);
}

static void *wan_worker_init(struct dp_worker *w)
{
	struct dp_app *app = w->app;
	const struct strait_config *cfg = dp_worker_cfg(w);
	struct wan_worker *ww = calloc(1, sizeof(*ww));
	if (!ww)
		return NULL;
	ww->w = w;
	ww->app = app;
	ww->id = w->id;
	ww->tsc_hz = rte_get_tsc_hz();
	ww->now_ns = wall_ns(ww);
	ww->queue_pool = g.pool[w->id][0];
	ww->seg_pool = g.pool[w->id][1];
	ww->rx_pool = g.pool[w->id][2];
	static const struct tcp_ops ops = { stack_now_us, esp_output, NULL };
	struct channel_config cc = {
		/* room for every slot this worker may own: a reload adds tenants */
		.max_channels = (STRAIT_MAX_TENANTS + app->n_workers - 1) / app->n_workers,
		/* one MSS per stack: the smaller when a tenant may have an IPv6
		 * outer header (the WAN port has an IPv6 address) */
		.mss = cfg->appliance.wan.addr6.family ? MSS_V6_OUTER : MSS_V4_OUTER,
		.sndbuf = CHANNEL_BUF,
		.rcvbuf = CHANNEL_BUF,
		.pool = ww->queue_pool,
		.seg_pool = ww->seg_pool,
		.ops = &ops,
		.ctx = ww,
		.impair = &app->impair,
		.worker = w->id,
	};
	ww->cs = channel_stack_create(&cc);
	if (!ww->cs)
		goto err;
	for (unsigned i = 0; i < cfg->n_tenants; i++) {
		if (!strait_tenant_present(&cfg->tenants[i]))
			continue;
		ww->by_id[cfg->tenants[i].id] = (uint16_t)(i + 1);
		if (wan_tenant_owner(app, i) == w->id && tenant_start(ww, cfg, i))
			goto err;
	}
	if (shaper_sync(ww))
		goto err;
	return ww;
err:
	fprintf(stderr, "straitd: worker %u: WAN module: cannot set up its tenants\n", w->id);
	for (unsigned i = 0; i < STRAIT_MAX_TENANTS; i++)
		tenant_stop(ww, i);
	channel_stack_destroy(ww->cs);
	wan_shaper_destroy(ww->shaper);
	free(ww);
	return NULL;
}

static void wan_worker_fini(struct dp_worker *w, void *ctx)
{
	struct wan_worker *ww = ctx;
	/* dp_hooks_ctx() gives NULL for w from now: wait out the readers that
	 * loaded ww before (a copy is microseconds; bounded all the same) */
	for (int i = 0; i < 100000 && __atomic_load_n(&readers, __ATOMIC_SEQ_CST); i++)
		rte_delay_us_sleep(100);
	ww->now_ns = wall_ns(ww);
	if (w->id < STRAIT_MAX_WORKERS) {
		publish(ww, dp_worker_now_ms(w));
		finals[w->id].snap = ww->snap;
		finals[w->id].set = true;
	}
	channel_stack_destroy(ww->cs);
	wan_shaper_destroy(ww->shaper);
	for (unsigned i = 0; i < STRAIT_MAX_TENANTS; i++)
		if (ww->t[i]) {
			strait_tunnel_free(ww->t[i]->tun); /* keys wiped */
			free(ww->t[i]);
		}
	free(ww);
}

/* ---- registration and telemetry access ---- */

static int open_sa_log(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		fprintf(stderr, "straitd: --sa-log %s: %s\n", path, strerror(errno));
		return -errno;
	}
	struct stat st;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || (st.st_mode & 077)) {
		fprintf(stderr, "straitd: --sa-log %s: must be a regular file that group and others "
				"cannot access (it receives keys; chmod 600)\n", path);
		close(fd);
		return -EACCES;
	}
	return fd;
}

int wan_register(struct dp_app *app, const char *sa_log_path)
{
	g.app = app;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	g.tsc0 = rte_get_tsc_cycles();
	g.real0_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	if (sa_log_path) {
		int fd = open_sa_log(sa_log_path);
		if (fd < 0)
			return fd;
		g.sa_log_fd = fd;
	}
	/* each worker's channel pools: send queues, segments in flight (the
	 * NIC's TX ring may hold a queue's worth), received data */
	static const char *const kind[3] = { "queue", "seg", "rx" };
	for (unsigned i = 0; i < app->n_workers; i++)
		for (int k = 0; k < 3; k++) {
			char name[32];
			snprintf(name, sizeof(name), "wan_%s_%u", kind[k], i);
			g.pool[i][k] = rte_pktmbuf_pool_create(name, k == 1 ? SEG_MBUFS : app->channel_mbufs,
							       POOL_CACHE, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
							       (int)rte_socket_id());
			if (!g.pool[i][k]) {
				fprintf(stderr, "straitd: channel mbuf pools for worker %u: %s\n", i,
					rte_strerror(rte_errno));
				return -ENOMEM;
			}
		}
	static const struct dp_hooks hooks = {
		.name = "wan",
		.worker_init = wan_worker_init,
		.worker_fini = wan_worker_fini,
		.local = wan_local,
		.poll = wan_poll,
		.tenant = wan_tenant_event,
		.tenant_stats = wan_tenant_stats,
	};
	g.module = dp_hooks_register(&hooks);
	return g.module < 0 ? g.module : 0;
}

void wan_unregister(void)
{
	if (g.sa_log_fd >= 0)
		close(g.sa_log_fd);
	g.sa_log_fd = -1;
	for (unsigned i = 0; i < STRAIT_MAX_WORKERS; i++)
		for (int k = 0; k < 3; k++) {
			rte_mempool_free(g.pool[i][k]);
			g.pool[i][k] = NULL;
		}
}

int wan_snapshot(const struct dp_worker *w, struct wan_snap *out)
{
	__atomic_add_fetch(&readers, 1, __ATOMIC_SEQ_CST);
	const struct wan_worker *ww = dp_hooks_ctx(w, g.module);
	int r = ww ? snap_read(&ww->seq, out, &ww->snap, sizeof(*out)) : -ENOENT;
	if (!r && !out->at_ms)
		r = -EAGAIN; /* nothing published yet */
	__atomic_sub_fetch(&readers, 1, __ATOMIC_SEQ_CST);
	return r;
}

int wan_final(unsigned worker, struct wan_snap *out)
{
	if (worker >= STRAIT_MAX_WORKERS || !finals[worker].set)
		return -ENOENT;
	*out = finals[worker].snap;
	return 0;
}

int wan_request_test(unsigned index, enum channel_test_mode mode, uint64_t bytes)
{
	if (!g.app || index >= STRAIT_MAX_TENANTS || !bytes || bytes >> 62 ||
	    (unsigned)mode > CHANNEL_TEST_SOURCE)
		return -EINVAL;
	__atomic_store_n(&g.test_req[index], bytes << 2 | mode, __ATOMIC_RELEASE);
	return 0;
}

struct channel *wan_channel(struct dp_worker *w, unsigned index)
{
	struct wan_worker *ww = dp_hooks_ctx(w, g.module);
	if (!ww || index >= STRAIT_MAX_TENANTS || !ww->t[index])
		return NULL;
	return ww->t[index]->ch;
}

void wan_set_lag(struct dp_worker *w, unsigned index, uint64_t lag_ns)
{
	struct wan_worker *ww = dp_hooks_ctx(w, g.module);
	if (ww && ww->shaper && index < STRAIT_MAX_TENANTS && ww->t[index])
		wan_shaper_set_lag(ww->shaper, index, lag_ns, ww->now_ns);
}
