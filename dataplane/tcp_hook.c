/* SPDX-License-Identifier: BSD-3-Clause */
/* The TCP engine in straitd: dp_hooks for local TCP.
 *
 * Each worker gets its own stack on the application's mempool, with the
 * discard/echo/source services on the LAN addresses (IPv4 and IPv6).
 * Output goes back through dp_tx_l3() on the port that owns the source
 * address, toward the destination as next hop (the worker learnt its MAC
 * from the client's frames, or resolves it). The clock is the TSC in
 * microseconds. Local TCP stays on the worker that received it: all of a
 * connection's segments come from the client with one 4-tuple, so RX
 * hashing gives them one queue, and that worker answers.
 *
 * The test knob (tcp_impair.h), when configured, sits between the worker
 * and the stack on both sides: local_tcp() passes received segments
 * through it before tcp_input(), output() passes sent ones before
 * dp_tx_l3(), and the poll releases a held segment after its delay. Only
 * the appliance's own TCP goes through here: bridged traffic never does. */
#include "tcp_hook.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_branch_prediction.h>
#include <rte_cycles.h>
#include <rte_mbuf.h>
#include <rte_pause.h>

#include "dp.h"
#include "snap_seqlock.h"
#include "tcp.h"
#include "tcp_services.h"

struct tcp_hook {
	struct dp_worker *w;
	struct tcp_stack *st;
	struct tcp_services *sv;
	uint64_t tsc_hz;
	uint64_t snap_due_ms;
	bool impair_on;
	struct tcp_impair im;
	uint32_t seq;  /* odd while the worker writes snap */
	struct tcp_hook_snap snap;
};

static int hook_id = -1; /* ours in the worker's table (dp_hooks.h) */
/* Telemetry threads inside tcp_hook_snapshot(): a worker's context is
 * freed only once none is (worker_fini). */
static int readers;

/* Counters of stopped workers, for the exit statistics. Each slot is
 * written once by its worker as it stops, read by main after every worker
 * has returned. */
static struct {
	bool set;
	struct tcp_stack_stats stack;
	struct tcp_impair_stats impair;
} finals[STRAIT_MAX_WORKERS];

int tcp_hook_final(unsigned worker, struct tcp_stack_stats *stack,
		   struct tcp_impair_stats *impair)
{
	if (worker >= STRAIT_MAX_WORKERS || !finals[worker].set)
		return -ENOENT;
	*stack = finals[worker].stack;
	*impair = finals[worker].impair;
	return 0;
}

static uint64_t now_us(void *ctx)
{
	const struct tcp_hook *t = ctx;
	uint64_t c = rte_get_tsc_cycles();
	/* split to keep the product within 64 bits */
	return c / t->tsc_hz * 1000000u + c % t->tsc_hz * 1000000u / t->tsc_hz;
}

static unsigned port_of(const struct dp_app *app, uint8_t af, const uint8_t *src)
{
	const struct local_addr *w = &app->local[DP_WAN];
	if (af == 4 ? (w->has4 && !memcmp(w->ip4, src, 4)) : (w->has6 && !memcmp(w->ip6, src, 16)))
		return DP_WAN;
	return DP_LAN;
}

static void send_one(struct tcp_hook *t, struct rte_mbuf *m)
{
	const uint8_t *l3 = rte_pktmbuf_mtod(m, const uint8_t *);
	uint8_t af = (l3[0] >> 4) == 4 ? 4 : 6;
	const uint8_t *src = af == 4 ? l3 + 12 : l3 + 8;
	const uint8_t *dst = af == 4 ? l3 + 16 : l3 + 24;
	unsigned port = port_of(t->w->app, af, src);
	/* takes m in every case; an unresolved next hop is retried by
	 * TCP's own retransmission once the worker has resolved it */
	dp_tx_l3(t->w, port, t->w->app->local[port].vlan, af, dst, m);
}

static void output(void *ctx, struct rte_mbuf **pkts, uint16_t n)
{
	struct tcp_hook *t = ctx;
	if (likely(!t->impair_on)) {
		for (uint16_t i = 0; i < n; i++)
			send_one(t, pkts[i]);
		return;
	}
	uint64_t now = now_us(t);
	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *out[TCP_IMPAIR_OUT_MAX];
		unsigned k = tcp_impair_pass(&t->im, TCP_IMPAIR_TX, pkts[i], now, out);
		for (unsigned j = 0; j < k; j++)
			send_one(t, out[j]);
	}
}

static void *worker_init(struct dp_worker *w)
{
	struct tcp_hook *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->w = w;
	t->tsc_hz = rte_get_tsc_hz();
	struct tcp_config cfg = { .max_conns = 16384, .max_tenants = TCP_HOOK_TENANTS,
				  .sndbuf = 4u << 20, .rcvbuf = 4u << 20 };
	/* a segment may leave by either port: offload only when both can */
	if (w->app->tx_csum[DP_LAN] && w->app->tx_csum[DP_WAN])
		cfg.flags |= TCP_CFG_TX_CSUM_OFFLOAD;
	if (w->app->rx_csum[DP_LAN] && w->app->rx_csum[DP_WAN])
		cfg.flags |= TCP_CFG_RX_CSUM_OFFLOAD;
	static const struct tcp_ops ops = { now_us, output, NULL };
	t->impair_on = tcp_impair_enabled(&w->app->impair);
	tcp_impair_init(&t->im, &w->app->impair, w->id, w->app->pool);
	t->st = tcp_stack_create(&cfg, &ops, t, w->app->pool);
	if (!t->st)
		goto err_hook;
	const struct local_addr *lan = &w->app->local[DP_LAN];
	struct tcp_addr a = { { 0 } };
	if (lan->has4) {
		memcpy(a.b, lan->ip4, 4);
		t->sv = tcp_services_attach(t->st, TCP_AF_INET, &a, TCP_HOOK_TENANT_LOCAL, cfg.max_conns);
	}
	if (lan->has6) {
		memcpy(a.b, lan->ip6, 16);
		if (!t->sv)
			t->sv = tcp_services_attach(t->st, TCP_AF_INET6, &a, TCP_HOOK_TENANT_LOCAL, cfg.max_conns);
		else if (tcp_services_listen(t->sv, TCP_AF_INET6, &a, TCP_HOOK_TENANT_LOCAL))
			goto err_stack;
	}
	if ((lan->has4 || lan->has6) && !t->sv)
		goto err_stack;
	return t;

err_stack:
	tcp_services_free(t->sv);
	tcp_stack_destroy(t->st);
err_hook:
	free(t);
	return NULL;
}

static void worker_fini(struct dp_worker *w, void *ctx)
{
	struct tcp_hook *t = ctx;
	if (!t)
		return;
	/* dp_hooks_ctx() gives NULL for w from now: wait out the telemetry
	 * readers that loaded t before (a copy is microseconds; bounded all
	 * the same, 10 s) */
	for (int i = 0; i < 100000 && __atomic_load_n(&readers, __ATOMIC_SEQ_CST); i++)
		rte_delay_us_sleep(100);
	tcp_impair_flush(&t->im); /* held segments: every mbuf back in the pool */
	if (w->id < STRAIT_MAX_WORKERS) {
		tcp_stack_stats(t->st, &finals[w->id].stack);
		finals[w->id].impair = t->im.stats;
		finals[w->id].set = true;
	}
	tcp_stack_destroy(t->st);
	tcp_services_free(t->sv);
	free(t);
}

/* TCP segments to the appliance's addresses; anything else to them is
 * another module's. */
static bool local(void *ctx, struct rte_mbuf *m, const struct pkt_info *pi,
		  unsigned in_port)
{
	struct tcp_hook *t = ctx;
	(void)in_port;
	if (pi->l4_proto != PROTO_TCP || pi->is_fragment)
		return false;
	if (likely(!t->impair_on)) {
		tcp_input(t->st, &m, 1); /* m->l2_len is the L3 offset, VLAN included */
		return true;
	}
	struct rte_mbuf *out[TCP_IMPAIR_OUT_MAX];
	unsigned k = tcp_impair_pass(&t->im, TCP_IMPAIR_RX, m, now_us(t), out);
	if (k)
		tcp_input(t->st, out, (uint16_t)k);
	return true;
}

/* Releases a reordered segment held past its delay; returns true while
 * one is still held (the worker must not sleep on it). */
static bool impair_poll(struct tcp_hook *t)
{
	uint64_t now = now_us(t);
	struct rte_mbuf *m = tcp_impair_due(&t->im, TCP_IMPAIR_RX, now);
	if (m)
		tcp_input(t->st, &m, 1);
	m = tcp_impair_due(&t->im, TCP_IMPAIR_TX, now);
	if (m)
		send_one(t, m);
	return tcp_impair_next(&t->im) != UINT64_MAX;
}

/* The worker's snapshot for telemetry (snap_seqlock.h). */
static void publish(struct tcp_hook *t, uint64_t now_ms)
{
	struct tcp_hook_snap *s = &t->snap;
	snap_write_begin(&t->seq);
	s->at_ms = now_ms ? now_ms : 1;
	tcp_stack_stats(t->st, &s->stack);
	memset(s->by_state, 0, sizeof(s->by_state));
	for (uint16_t i = 0; i < TCP_HOOK_TENANTS; i++)
		if (tcp_tenant_stats(t->st, i, &s->tenant[i]))
			memset(&s->tenant[i], 0, sizeof(s->tenant[i]));
	uint32_t n = 0, max = tcp_stack_max_conns(t->st);
	for (uint32_t i = 0; i < max; i++) {
		const struct tcp_conn *c = tcp_conn_at(t->st, i);
		if (c)
			s->by_state[tcp_state(c)]++;
	}
	/* listed: live connections first, then TIME-WAIT, by slot (thousands
	 * of TIME-WAITs after a burst of closes must not hide the live ones) */
	for (int tw = 0; tw < 2 && n < TCP_HOOK_CONNS_MAX; tw++)
		for (uint32_t i = 0; i < max && n < TCP_HOOK_CONNS_MAX; i++) {
			const struct tcp_conn *c = tcp_conn_at(t->st, i);
			if (!c || (tcp_state(c) == TCP_TIME_WAIT) != tw)
				continue;
			struct tcp_hook_conn *e = &s->conn[n++];
			tcp_conn_tuple(c, &e->af, &e->laddr, &e->lport, &e->raddr, &e->rport);
			e->state = (uint8_t)tcp_state(c);
			e->tenant = tcp_conn_tenant(c);
			e->slot = i;
			tcp_conn_stats(c, &e->s);
		}
	s->n_conns = n;
	s->impair = t->im.stats;
	snap_write_end(&t->seq);
}

int tcp_hook_snapshot(const struct dp_worker *w, struct tcp_hook_snap *out)
{
	__atomic_add_fetch(&readers, 1, __ATOMIC_SEQ_CST);
	const struct tcp_hook *t = dp_hooks_ctx(w, hook_id);
	int r = t ? snap_read(&t->seq, out, &t->snap, sizeof(*out)) : -ENOENT;
	__atomic_sub_fetch(&readers, 1, __ATOMIC_SEQ_CST);
	return r;
}

static unsigned timers(void *ctx, uint64_t now_ms)
{
	struct tcp_hook *t = ctx;
	bool held = t->impair_on && impair_poll(t);
	tcp_poll(t->st);
	if (t->sv)
		tcp_services_poll(t->sv);
	if (now_ms >= t->snap_due_ms) {
		publish(t, now_ms);
		t->snap_due_ms = now_ms + TCP_HOOK_SNAP_MS;
	}
	/* keep the worker awake while a timer (pacing, delayed ACK) is due
	 * within 200 us: its idle sleep would delay it */
	uint64_t due = tcp_next_timer(t->st);
	return held || (due != UINT64_MAX && due <= now_us(t) + 200);
}

int tcp_hook_register(void)
{
	static const struct dp_hooks hooks = {
		.name = "tcp",
		.worker_init = worker_init,
		.worker_fini = worker_fini,
		.local = local,
		.poll = timers,
	};
	hook_id = dp_hooks_register(&hooks);
	return hook_id < 0 ? hook_id : 0;
}
