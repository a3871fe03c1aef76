/* SPDX-License-Identifier: BSD-3-Clause */
/* Statistics: every worker's counters summed, shown through DPDK telemetry
 * (/strait/... commands, read with dpdk-telemetry.py) and, for tests, as a
 * JSON file at exit. Counters are written by their worker only; readers
 * here may see a burst half counted, never a torn 64-bit value. */
#include <arpa/inet.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_telemetry.h>

#include "dp.h"
#include "tcp_hook.h"

void dp_stats_sum(const struct dp_app *app, struct dp_stats *out)
{
	memset(out, 0, sizeof(*out));
	uint64_t *o = (uint64_t *)out;
	for (unsigned w = 0; w < app->n_workers; w++) {
		const uint64_t *s = (const uint64_t *)&app->workers[w].stats;
		for (size_t i = 0; i < sizeof(*out) / sizeof(uint64_t); i++)
			o[i] += __atomic_load_n(&s[i], __ATOMIC_RELAXED);
	}
}

/* Every counter as (group, name, value), shared by telemetry and JSON. */
struct counter {
	const char *name;
	uint64_t v;
};

static unsigned port_counters(const struct dp_port_stats *p, struct counter *c)
{
	unsigned n = 0;
	c[n++] = (struct counter){ "rx_packets", p->rx_pkts };
	c[n++] = (struct counter){ "rx_bytes", p->rx_bytes };
	c[n++] = (struct counter){ "tx_packets", p->tx_pkts };
	c[n++] = (struct counter){ "tx_bytes", p->tx_bytes };
	c[n++] = (struct counter){ "bridged_packets", p->bridged_pkts };
	c[n++] = (struct counter){ "bridged_bytes", p->bridged_bytes };
	c[n++] = (struct counter){ "local_in", p->local_in };
	c[n++] = (struct counter){ "local_out", p->local_out };
	uint64_t total = 0;
	for (int i = 0; i < DROP_COUNT; i++)
		total += p->drops[i];
	c[n++] = (struct counter){ "dropped", total };
	return n;
}

static unsigned flow_counters(const struct dp_app *app, const struct dp_stats *s,
			      struct counter *c)
{
	unsigned n = 0;
	c[n++] = (struct counter){ "active", s->flows_active };
	c[n++] = (struct counter){ "capacity", (uint64_t)app->cfg->appliance.flow_table_size * app->n_workers };
	c[n++] = (struct counter){ "created", s->flows.created };
	c[n++] = (struct counter){ "unseen_syn", s->flows.unseen_syn };
	c[n++] = (struct counter){ "table_full", s->flows.table_full };
	c[n++] = (struct counter){ "expired", s->flows.expired };
	c[n++] = (struct counter){ "reused", s->flows.reused };
	c[n++] = (struct counter){ "steered", s->flows.steered };
	c[n++] = (struct counter){ "steer_full", s->flows.steer_full };
	c[n++] = (struct counter){ "evicted", s->flows.evicted };
	return n;
}

static unsigned tenant_counters(const struct dp_tenant_stats *t, struct counter *c)
{
	unsigned n = 0;
	c[n++] = (struct counter){ "packets", t->pkts };
	c[n++] = (struct counter){ "bytes", t->bytes };
	c[n++] = (struct counter){ "flows", t->flows };
	c[n++] = (struct counter){ "active_flows", t->active };
	return n;
}

static void put(struct rte_tel_data *d, const struct counter *c, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		rte_tel_data_add_dict_u64(d, c[i].name, c[i].v);
}

static int port_index(const char *params)
{
	if (!params || !*params)
		return -1;
	if (!strcasecmp(params, "lan"))
		return DP_LAN;
	if (!strcasecmp(params, "wan"))
		return DP_WAN;
	return -2;
}

static int do_ports(const struct dp_app *a, const char *params, struct rte_tel_data *d)
{
	struct dp_stats s;
	struct counter c[16];
	dp_stats_sum(a, &s);
	int only = port_index(params);
	if (only == -2)
		return -1;
	rte_tel_data_start_dict(d);
	if (only >= 0) {
		put(d, c, port_counters(&s.port[only], c));
		return 0;
	}
	for (int p = 0; p < DP_NPORTS; p++) {
		struct rte_tel_data *sub = rte_tel_data_alloc();
		if (!sub)
			return -1;
		rte_tel_data_start_dict(sub);
		put(sub, c, port_counters(&s.port[p], c));
		rte_tel_data_add_dict_string(sub, "device", p == DP_LAN ? a->cfg->appliance.lan.device
									: a->cfg->appliance.wan.device);
		rte_tel_data_add_dict_container(d, p == DP_LAN ? "lan" : "wan", sub, 0);
	}
	return 0;
}

static int do_flows(const struct dp_app *a, const char *params, struct rte_tel_data *d)
{
	struct dp_stats s;
	struct counter c[16];
	dp_stats_sum(a, &s);
	rte_tel_data_start_dict(d);
	put(d, c, flow_counters(a, &s, c));
	return 0;
}

static int do_drops(const struct dp_app *a, const char *params, struct rte_tel_data *d)
{
	struct dp_stats s;
	dp_stats_sum(a, &s);
	int only = port_index(params);
	if (only == -2)
		return -1;
	rte_tel_data_start_dict(d);
	for (int i = 0; i < DROP_COUNT; i++)
		rte_tel_data_add_dict_u64(d, dp_drop_name(i),
					  only >= 0 ? s.port[only].drops[i]
						    : s.port[DP_LAN].drops[i] + s.port[DP_WAN].drops[i]);
	return 0;
}

static int do_malformed(const struct dp_app *a, const char *params, struct rte_tel_data *d)
{
	struct dp_stats s;
	dp_stats_sum(a, &s);
	rte_tel_data_start_dict(d);
	for (int i = 1; i < PKT_MALFORMED_COUNT; i++)
		rte_tel_data_add_dict_u64(d, pkt_malformed_name(i), s.malformed[i]);
	return 0;
}

static int do_tenants(const struct dp_app *a, const char *params, struct rte_tel_data *d)
{
	rte_tel_data_start_array(d, RTE_TEL_STRING_VAL);
	for (unsigned t = 0; t < a->cfg->n_tenants; t++)
		rte_tel_data_add_array_string(d, a->cfg->tenants[t].name);
	return 0;
}

static int do_tenant(const struct dp_app *a, const char *params, struct rte_tel_data *d)
{
	const struct strait_config *cfg = a->cfg;
	if (!params || !*params)
		return -1;
	for (unsigned t = 0; t < cfg->n_tenants; t++) {
		if (strcmp(cfg->tenants[t].name, params))
			continue;
		struct dp_stats s;
		struct counter c[8];
		dp_stats_sum(a, &s);
		rte_tel_data_start_dict(d);
		rte_tel_data_add_dict_string(d, "name", cfg->tenants[t].name);
		put(d, c, tenant_counters(&s.tenant[t], c));
		rte_tel_data_add_dict_string(d, "peer_down", cfg->tenants[t].peer_down ==
					     STRAIT_PEER_DOWN_BYPASS ? "bypass" : "fail-closed");
		return 0;
	}
	return -1;
}

static void fmt_neigh(const struct neigh_entry *e, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];
	inet_ntop(e->family == 4 ? AF_INET : AF_INET6, e->ip, ip, sizeof(ip));
	snprintf(buf, len, "%s vlan %u %02x:%02x:%02x:%02x:%02x:%02x", ip, e->vlan,
		 e->mac[0], e->mac[1], e->mac[2], e->mac[3], e->mac[4], e->mac[5]);
}

/* One port's learnt neighbours (worker 0's view first, then what other
 * workers learnt that it did not). Bounded by the telemetry array size. */
static int do_neighbours(const struct dp_app *a, const char *params, struct rte_tel_data *d)
{
	int p = port_index(params);
	if (p < 0)
		return -1;
	rte_tel_data_start_array(d, RTE_TEL_STRING_VAL);
	unsigned shown = 0;
	for (unsigned w = 0; w < a->n_workers; w++) {
		const struct neigh_table *t = &a->workers[w].neigh[p];
		uint32_t n = (t->mask + 1) * NEIGH_WAYS;
		for (uint32_t i = 0; i < n && shown < RTE_TEL_MAX_ARRAY_ENTRIES; i++) {
			struct neigh_entry e = t->e[i];
			if (!__atomic_load_n(&t->e[i].valid, __ATOMIC_ACQUIRE))
				continue;
			bool dup = false;
			for (unsigned v = 0; v < w && !dup; v++)
				dup = neigh_lookup(&a->workers[v].neigh[p], e.family, e.ip, e.vlan) != NULL;
			if (dup)
				continue;
			char buf[96];
			fmt_neigh(&e, buf, sizeof(buf));
			rte_tel_data_add_array_string(d, buf);
			shown++;
		}
	}
	return 0;
}

/* The telemetry thread may run a command while main() shuts down: each
 * command counts itself in (tel_busy) before it loads dp_app, once, into
 * a local; dp_telemetry_quiesce() clears dp_app and waits until no
 * command is inside before the workers are freed. */
static int tel_busy;

static const struct dp_app *tel_enter(void)
{
	__atomic_add_fetch(&tel_busy, 1, __ATOMIC_SEQ_CST);
	return __atomic_load_n(&dp_app, __ATOMIC_SEQ_CST);
}

static void tel_leave(void)
{
	__atomic_sub_fetch(&tel_busy, 1, __ATOMIC_SEQ_CST);
}

void dp_telemetry_barrier(void)
{
	/* a command is a few microseconds; bounded wait (10 s) all the same */
	for (int i = 0; i < 100000 && __atomic_load_n(&tel_busy, __ATOMIC_SEQ_CST); i++)
		usleep(100);
}

void dp_telemetry_quiesce(void)
{
	__atomic_store_n(&dp_app, NULL, __ATOMIC_SEQ_CST);
	dp_telemetry_barrier();
}

static int cmd_ports(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	const struct dp_app *a = tel_enter();
	int r = a ? do_ports(a, params, d) : -1;
	tel_leave();
	return r;
}

static int cmd_flows(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	const struct dp_app *a = tel_enter();
	int r = a ? do_flows(a, params, d) : -1;
	tel_leave();
	return r;
}

static int cmd_drops(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	const struct dp_app *a = tel_enter();
	int r = a ? do_drops(a, params, d) : -1;
	tel_leave();
	return r;
}

static int cmd_malformed(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	const struct dp_app *a = tel_enter();
	int r = a ? do_malformed(a, params, d) : -1;
	tel_leave();
	return r;
}

static int cmd_tenants(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	const struct dp_app *a = tel_enter();
	int r = a ? do_tenants(a, params, d) : -1;
	tel_leave();
	return r;
}

static int cmd_tenant(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	const struct dp_app *a = tel_enter();
	int r = a ? do_tenant(a, params, d) : -1;
	tel_leave();
	return r;
}

static int cmd_neighbours(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	const struct dp_app *a = tel_enter();
	int r = a ? do_neighbours(a, params, d) : -1;
	tel_leave();
	return r;
}

/* ---- TCP engine (issue 5): /strait/tcp, /strait/tcp/tenant, /strait/tcp/conns ----
 * Read from each worker's published snapshot (tcp_hook.h), at most
 * TCP_HOOK_SNAP_MS old, never from the worker's live state. */

/* Every worker's snapshot; NULL when none (no TCP stack yet). */
static struct tcp_hook_snap *tcp_snaps(const struct dp_app *a, unsigned *n)
{
	struct tcp_hook_snap *s = calloc(a->n_workers, sizeof(*s));
	if (!s)
		return NULL;
	*n = 0;
	for (unsigned w = 0; w < a->n_workers; w++)
		if (!tcp_hook_snapshot(&a->workers[w], &s[*n]))
			(*n)++;
	return s;
}

enum { TCP_TEL_COUNTERS = 96 }; /* room for every /strait/tcp counter */

static unsigned tcp_stack_counters(const struct tcp_hook_snap *s, unsigned n,
				   struct counter *c)
{
	struct tcp_stack_stats t = { 0 };
	struct tcp_impair_stats im = { 0 };
	uint64_t by_state[TCP_NSTATES] = { 0 };
	for (unsigned w = 0; w < n; w++) {
		const uint64_t *ia = (const uint64_t *)&s[w].impair;
		for (size_t i = 0; i < sizeof(im) / sizeof(uint64_t); i++)
			((uint64_t *)&im)[i] += ia[i];
		const uint64_t *a = (const uint64_t *)&s[w].stack;
		uint64_t *o = (uint64_t *)&t;
		size_t n64 = offsetof(struct tcp_stack_stats, conns) / sizeof(uint64_t);
		for (size_t i = 0; i < n64; i++)
			o[i] += a[i];
		t.conns += s[w].stack.conns;
		t.half_open += s[w].stack.half_open;
		t.established += s[w].stack.established;
		t.pending += s[w].stack.pending;
		t.pending_opens += s[w].stack.pending_opens;
		t.pending_accepted += s[w].stack.pending_accepted;
		t.pending_refused += s[w].stack.pending_refused;
		t.pending_limit_drops += s[w].stack.pending_limit_drops;
		t.pending_timeouts += s[w].stack.pending_timeouts;
		t.pending_syn_absorbed += s[w].stack.pending_syn_absorbed;
		for (int i = 0; i < TCP_NSTATES; i++)
			by_state[i] += s[w].by_state[i];
	}
	unsigned k = 0;
	c[k++] = (struct counter){ "workers", n };
	c[k++] = (struct counter){ "conns", t.conns };
	c[k++] = (struct counter){ "half_open", t.half_open };
	c[k++] = (struct counter){ "established", t.established };
	/* telemetry names take no '-': our own spelling of the states */
	static const char *const state_key[TCP_NSTATES] = {
		[TCP_SYN_SENT] = "syn_sent", [TCP_SYN_RECEIVED] = "syn_received",
		[TCP_ESTABLISHED] = "state_established", [TCP_FIN_WAIT_1] = "fin_wait_1",
		[TCP_FIN_WAIT_2] = "fin_wait_2", [TCP_CLOSE_WAIT] = "close_wait",
		[TCP_CLOSING] = "closing", [TCP_LAST_ACK] = "last_ack",
		[TCP_TIME_WAIT] = "time_wait",
	};
	for (int i = TCP_SYN_SENT; i < TCP_NSTATES; i++)
		c[k++] = (struct counter){ state_key[i], by_state[i] };
	c[k++] = (struct counter){ "segs_in", t.segs_in };
	c[k++] = (struct counter){ "segs_out", t.segs_out };
	c[k++] = (struct counter){ "rst_in", t.rst_in };
	c[k++] = (struct counter){ "rst_out", t.rst_out };
	c[k++] = (struct counter){ "retrans_segs", t.retrans_segs };
	c[k++] = (struct counter){ "rto_expiries", t.rto_expiries };
	c[k++] = (struct counter){ "challenge_acks", t.challenge_acks };
	c[k++] = (struct counter){ "challenge_ack_limited", t.challenge_ack_limited };
	c[k++] = (struct counter){ "syncookies_sent", t.syncookies_sent };
	c[k++] = (struct counter){ "syncookies_ok", t.syncookies_ok };
	c[k++] = (struct counter){ "syncookies_bad", t.syncookies_bad };
	c[k++] = (struct counter){ "drop_bad_csum", t.bad_csum };
	c[k++] = (struct counter){ "drop_bad_hdr", t.bad_hdr };
	c[k++] = (struct counter){ "drop_bad_opts", t.bad_opts };
	c[k++] = (struct counter){ "drop_no_conn", t.no_conn };
	c[k++] = (struct counter){ "drop_seq", t.dropped_seq };
	c[k++] = (struct counter){ "drop_paws", t.paws_drops };
	c[k++] = (struct counter){ "limit_half_open", t.limit_half_open };
	c[k++] = (struct counter){ "limit_established", t.limit_established };
	c[k++] = (struct counter){ "limit_table", t.limit_table };
	c[k++] = (struct counter){ "nombuf", t.nombuf };
	/* intercepted flows (tcp_intercept): SYNs held until the far side answers */
	c[k++] = (struct counter){ "pending", t.pending };
	c[k++] = (struct counter){ "pending_opens", t.pending_opens };
	c[k++] = (struct counter){ "pending_accepted", t.pending_accepted };
	c[k++] = (struct counter){ "pending_refused", t.pending_refused };
	c[k++] = (struct counter){ "pending_limit_drops", t.pending_limit_drops };
	c[k++] = (struct counter){ "pending_timeouts", t.pending_timeouts };
	c[k++] = (struct counter){ "pending_syn_absorbed", t.pending_syn_absorbed };
	/* the test knob (tcp_impair.h): all 0 when it is off */
	c[k++] = (struct counter){ "impair_dropped_rx", im.dropped[TCP_IMPAIR_RX] };
	c[k++] = (struct counter){ "impair_dropped_tx", im.dropped[TCP_IMPAIR_TX] };
	c[k++] = (struct counter){ "impair_dup_rx", im.dup[TCP_IMPAIR_RX] };
	c[k++] = (struct counter){ "impair_dup_tx", im.dup[TCP_IMPAIR_TX] };
	c[k++] = (struct counter){ "impair_reordered_rx", im.reordered[TCP_IMPAIR_RX] };
	c[k++] = (struct counter){ "impair_reordered_tx", im.reordered[TCP_IMPAIR_TX] };
	c[k++] = (struct counter){ "impair_dup_nombuf", im.dup_nombuf };
	c[k++] = (struct counter){ "impair_held", im.held };
	return k;
}

static int do_tcp(const struct dp_app *a, const char *params, struct rte_tel_data *d)
{
	unsigned n;
	struct tcp_hook_snap *s = tcp_snaps(a, &n);
	if (!s)
		return -1;
	struct counter c[TCP_TEL_COUNTERS];
	rte_tel_data_start_dict(d);
	put(d, c, tcp_stack_counters(s, n, c));
	free(s);
	return 0;
}

/* NAME is a configured tenant, or "local" for the appliance's own services. */
static int do_tcp_tenant(const struct dp_app *a, const char *params, struct rte_tel_data *d)
{
	if (!params || !*params)
		return -1;
	const struct strait_config *cfg = a->cfg;
	int id = -1;
	if (!strcmp(params, "local"))
		id = TCP_HOOK_TENANT_LOCAL;
	for (unsigned t = 0; t < cfg->n_tenants && id < 0; t++)
		if (!strcmp(cfg->tenants[t].name, params))
			id = tcp_hook_tenant(t);
	if (id < 0 || id >= TCP_HOOK_TENANTS)
		return -1;
	unsigned n;
	struct tcp_hook_snap *s = tcp_snaps(a, &n);
	if (!s)
		return -1;
	struct tcp_tenant_stats t = { 0 };
	for (unsigned w = 0; w < n; w++) {
		const struct tcp_tenant_stats *x = &s[w].tenant[id];
		t.half_open += x->half_open;
		t.established += x->established;
		t.buffered += x->buffered;
		t.retrans_segs += x->retrans_segs;
		t.resets += x->resets;
		t.ooo_bytes += x->ooo_bytes;
		t.pending += x->pending;
		t.pending_limit_drops += x->pending_limit_drops;
		t.pending_timeouts += x->pending_timeouts;
	}
	free(s);
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_string(d, "name", params);
	rte_tel_data_add_dict_u64(d, "half_open", t.half_open);
	rte_tel_data_add_dict_u64(d, "established", t.established);
	rte_tel_data_add_dict_u64(d, "buffered", t.buffered);
	rte_tel_data_add_dict_u64(d, "retrans_segs", t.retrans_segs);
	rte_tel_data_add_dict_u64(d, "resets", t.resets);
	rte_tel_data_add_dict_u64(d, "ooo_bytes", t.ooo_bytes);
	rte_tel_data_add_dict_u64(d, "pending", t.pending);
	rte_tel_data_add_dict_u64(d, "pending_limit_drops", t.pending_limit_drops);
	rte_tel_data_add_dict_u64(d, "pending_timeouts", t.pending_timeouts);
	return 0;
}

static void put_tcp_conn(struct rte_tel_data *d, const struct tcp_hook_conn *e, unsigned w)
{
	char l[INET6_ADDRSTRLEN], r[INET6_ADDRSTRLEN];
	int af = e->af == 4 ? AF_INET : AF_INET6;
	inet_ntop(af, e->laddr.b, l, sizeof(l));
	inet_ntop(af, e->raddr.b, r, sizeof(r));
	const struct tcp_conn_stats *s = &e->s;
	rte_tel_data_add_dict_string(d, "local", l);
	rte_tel_data_add_dict_u64(d, "lport", e->lport);
	rte_tel_data_add_dict_string(d, "remote", r);
	rte_tel_data_add_dict_u64(d, "rport", e->rport);
	rte_tel_data_add_dict_string(d, "state", tcp_state_name(e->state));
	rte_tel_data_add_dict_u64(d, "worker", w);
	rte_tel_data_add_dict_u64(d, "tenant", e->tenant);
	const struct counter c[] = {
		{ "srtt_us", s->srtt_us }, { "rttvar_us", s->rttvar_us }, { "rto_us", s->rto_us },
		{ "cwnd", s->cwnd }, { "snd_wnd", s->snd_wnd }, { "rcv_wnd", s->rcv_wnd },
		{ "bytes_in", s->bytes_in }, { "bytes_out", s->bytes_out },
		{ "segs_in", s->segs_in }, { "segs_out", s->segs_out },
		{ "retrans_segs", s->retrans_segs }, { "rto_expiries", s->rto_expiries },
		{ "ooo_bytes", s->ooo_bytes }, { "challenge_acks", s->challenge_acks },
	};
	put(d, c, sizeof(c) / sizeof(c[0]));
}

/* A dict of open connections, keyed wW_cN (worker, table slot), each a
 * dict; at most TCP_CONNS_SHOWN in all: the telemetry reply is bounded
 * (16 KiB), and DPDK 22.11 nests dicts in dicts, not in arrays. */
enum { TCP_CONNS_SHOWN = 24 };

static int do_tcp_conns(const struct dp_app *a, const char *params, struct rte_tel_data *d)
{
	unsigned n;
	struct tcp_hook_snap *s = tcp_snaps(a, &n);
	if (!s)
		return -1;
	rte_tel_data_start_dict(d);
	unsigned shown = 0;
	/* live connections of every worker first, then TIME-WAIT */
	for (int tw = 0; tw < 2; tw++)
	for (unsigned w = 0; w < n; w++)
		for (uint32_t i = 0; i < s[w].n_conns && shown < TCP_CONNS_SHOWN; i++) {
			if ((s[w].conn[i].state == TCP_TIME_WAIT) != tw)
				continue;
			struct rte_tel_data *sub = rte_tel_data_alloc();
			if (!sub)
				break;
			rte_tel_data_start_dict(sub);
			put_tcp_conn(sub, &s[w].conn[i], w);
			char key[32];
			snprintf(key, sizeof(key), "w%u_c%u", w, s[w].conn[i].slot);
			if (rte_tel_data_add_dict_container(d, key, sub, 0))
				rte_tel_data_free(sub);
			shown++;
		}
	free(s);
	return 0;
}

static int cmd_tcp(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	const struct dp_app *a = tel_enter();
	int r = a ? do_tcp(a, params, d) : -1;
	tel_leave();
	return r;
}

static int cmd_tcp_tenant(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	const struct dp_app *a = tel_enter();
	int r = a ? do_tcp_tenant(a, params, d) : -1;
	tel_leave();
	return r;
}

static int cmd_tcp_conns(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	const struct dp_app *a = tel_enter();
	int r = a ? do_tcp_conns(a, params, d) : -1;
	tel_leave();
	return r;
}

static int dp_telemetry_register_tcp(void)
{
	int r = 0;
	r |= rte_telemetry_register_cmd("/strait/tcp", cmd_tcp,
		"TCP, all workers: conns by state, segments, resets, retransmits, RTOs, "
		"challenge ACKs, SYN cookies, drops");
	r |= rte_telemetry_register_cmd("/strait/tcp/tenant", cmd_tcp_tenant,
		"TCP counters of one tenant. Parameter: tenant name, or local");
	r |= rte_telemetry_register_cmd("/strait/tcp/conns", cmd_tcp_conns,
		"Open TCP connections (first 24): tuple, state, RTT, cwnd, counters");
	return r;
}
/* ---- end TCP engine ---- */

int dp_telemetry_register(void)
{
	int r = 0;
	r |= rte_telemetry_register_cmd("/strait/ports", cmd_ports,
		"Per-port counters. Parameters: none, or lan|wan");
	r |= rte_telemetry_register_cmd("/strait/flows", cmd_flows,
		"Flow table: active, capacity, created, unseen_syn, table_full, expired, reused, steered, steer_full, evicted");
	r |= rte_telemetry_register_cmd("/strait/drops", cmd_drops,
		"Frames dropped, by reason. Parameters: none (both ports), or lan|wan");
	r |= rte_telemetry_register_cmd("/strait/malformed", cmd_malformed,
		"Malformed frames, by reason (runt and vlan_truncated dropped, others bridged)");
	r |= rte_telemetry_register_cmd("/strait/tenants", cmd_tenants,
		"Tenant names");
	r |= rte_telemetry_register_cmd("/strait/tenant", cmd_tenant,
		"One tenant's counters. Parameter: tenant name");
	r |= rte_telemetry_register_cmd("/strait/neighbours", cmd_neighbours,
		"IP -> MAC learnt on a port. Parameter: lan|wan");
	r |= dp_telemetry_register_tcp();
	return r ? -1 : 0;
}

static void json_group(FILE *f, const char *name, const struct counter *c, unsigned n,
		       bool last)
{
	fprintf(f, "  \"%s\": {", name);
	for (unsigned i = 0; i < n; i++)
		fprintf(f, "%s\"%s\": %llu", i ? ", " : "", c[i].name, (unsigned long long)c[i].v);
	fprintf(f, "}%s\n", last ? "" : ",");
}

int dp_stats_write_json(const struct dp_app *app, const char *path)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	struct dp_stats s;
	struct counter c[PKT_MALFORMED_COUNT + DROP_COUNT + 16];
	dp_stats_sum(app, &s);
	fprintf(f, "{\n");
	for (int p = 0; p < DP_NPORTS; p++) {
		const uint8_t *m = app->local[p].mac;
		fprintf(f, "  \"%s_mac\": \"%02x:%02x:%02x:%02x:%02x:%02x\",\n", p ? "wan" : "lan",
			m[0], m[1], m[2], m[3], m[4], m[5]);
	}
	/* learnt neighbours, every worker's (tests read them) */
	for (int p = 0; p < DP_NPORTS; p++) {
		fprintf(f, "  \"%s_neighbours\": [", p ? "wan" : "lan");
		bool first = true;
		for (unsigned w = 0; w < app->n_workers && app->workers; w++) {
			const struct neigh_table *t = &app->workers[w].neigh[p];
			for (uint32_t i = 0; t->e && i < (t->mask + 1) * NEIGH_WAYS; i++) {
				if (!t->e[i].valid)
					continue;
				char buf[96];
				fmt_neigh(&t->e[i], buf, sizeof(buf));
				fprintf(f, "%s\"%s\"", first ? "" : ", ", buf);
				first = false;
			}
		}
		fprintf(f, "],\n");
	}
	json_group(f, "lan", c, port_counters(&s.port[DP_LAN], c), false);
	json_group(f, "wan", c, port_counters(&s.port[DP_WAN], c), false);
	json_group(f, "flows", c, flow_counters(app, &s, c), false);
	unsigned n = 0;
	for (int i = 0; i < DROP_COUNT; i++)
		c[n++] = (struct counter){ dp_drop_name(i), s.port[DP_LAN].drops[i] + s.port[DP_WAN].drops[i] };
	json_group(f, "drops", c, n, false);
	for (int p = 0; p < DP_NPORTS; p++) {
		n = 0;
		for (int i = 0; i < DROP_COUNT; i++)
			c[n++] = (struct counter){ dp_drop_name(i), s.port[p].drops[i] };
		json_group(f, p ? "wan_drops" : "lan_drops", c, n, false);
	}
	n = 0;
	for (int i = 1; i < PKT_MALFORMED_COUNT; i++)
		c[n++] = (struct counter){ pkt_malformed_name(i), s.malformed[i] };
	json_group(f, "malformed", c, n, false);
	/* TCP: each worker's counters as its stack stopped (by_state and the
	 * connection list are not kept: every connection is gone by then) */
	struct tcp_hook_snap *ts = calloc(app->n_workers, sizeof(*ts));
	if (ts) {
		unsigned nt = 0;
		for (unsigned w = 0; w < app->n_workers; w++)
			if (!tcp_hook_final(w, &ts[nt].stack, &ts[nt].impair))
				nt++;
		struct counter tc[TCP_TEL_COUNTERS];
		json_group(f, "tcp", tc, tcp_stack_counters(ts, nt, tc), false);
		free(ts);
	}
	fprintf(f, "  \"tenants\": {\n");
	for (unsigned t = 0; t < app->cfg->n_tenants; t++) {
		fputs("  ", f);
		json_group(f, app->cfg->tenants[t].name, c, tenant_counters(&s.tenant[t], c), t + 1 == app->cfg->n_tenants);
	}
	fprintf(f, "  }\n}\n");
	return fclose(f) ? -1 : 0;
}
