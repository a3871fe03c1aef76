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
#include "relay_hook.h"
#include "strait/api.h"
#include "tcp_hook.h"
#include "wan.h"

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

static const char *drop_name(enum dp_drop d)
{
	static const char *const names[DROP_COUNT] = {
		[DROP_MALFORMED] = "malformed",
		[DROP_MALFORMED_TO_US] = "malformed_to_us",
		[DROP_LOCAL_INVALID] = "local_invalid",
		[DROP_LOCAL_UNHANDLED] = "local_unhandled",
		[DROP_TX_FULL] = "tx_full",
		[DROP_NO_MBUF] = "no_mbuf",
	};
	return (unsigned)d < DROP_COUNT ? names[d] : "?";
}

/* Every counter as (name, value), shared by telemetry and JSON. */
struct counter {
	const char *name;
	uint64_t v;
};

/* A counter of a statistics struct: its name and where it lies (32 or 64
 * bits). Each group below is one table, read (and summed over workers)
 * by the same code. */
struct counter_def {
	const char *name;
	uint32_t off;
	uint8_t size;
};
#define CTR(type, name, field) \
	{ name, offsetof(type, field), sizeof(((type *)0)->field) }
#define CTR_F(type, field) CTR(type, #field, field) /* named for its field */

static uint64_t counter_get(const void *s, const struct counter_def *d)
{
	const uint8_t *p = (const uint8_t *)s + d->off;
	if (d->size == sizeof(uint32_t)) {
		uint32_t v;
		memcpy(&v, p, sizeof(v));
		return v;
	}
	uint64_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

/* Appends table[0..n) of each of the k structs at s, `stride` bytes apart,
 * summed, to c; returns the count appended. */
static unsigned counters(struct counter *c, const struct counter_def *table, unsigned n,
			 const void *s, unsigned k, size_t stride)
{
	for (unsigned i = 0; i < n; i++) {
		uint64_t v = 0;
		for (unsigned j = 0; j < k; j++)
			v += counter_get((const uint8_t *)s + j * stride, &table[i]);
		c[i] = (struct counter){ table[i].name, v };
	}
	return n;
}

#define P(name, field) CTR(struct dp_port_stats, name, field)
static const struct counter_def port_table[] = {
	P("rx_packets", rx_pkts), P("rx_bytes", rx_bytes),
	P("tx_packets", tx_pkts), P("tx_bytes", tx_bytes),
	P("bridged_packets", bridged_pkts), P("bridged_bytes", bridged_bytes),
	P("local_in", local_in), P("local_out", local_out),
	P("held", held), P("held_sent", held_sent), P("unresolved", unresolved),
	P("held_replaced", held_replaced), P("resolve_full", resolve_full),
};
#undef P

#define F(name, field) CTR(struct dp_stats, name, field)
static const struct counter_def flow_table[] = {
	F("created", flows.created), F("unseen_syn", flows.unseen_syn),
	F("table_full", flows.table_full), F("expired", flows.expired),
	F("reused", flows.reused), F("steered", flows.steered),
	F("steer_full", flows.steer_full), F("evicted", flows.evicted),
	F("no_rule", flows.no_rule),
};
#undef F

#define T(name, field) CTR(struct dp_tenant_stats, name, field)
static const struct counter_def tenant_table[] = {
	T("packets", pkts), T("bytes", bytes), T("flows", flows), T("active_flows", active),
	T("lan_rx_bytes", rx_bytes[DP_LAN]), T("wan_rx_bytes", rx_bytes[DP_WAN]),
	T("mid_stream", mid_stream),
};
#undef T

static unsigned port_counters(const struct dp_port_stats *p, struct counter *c)
{
	unsigned n = counters(c, port_table, RTE_DIM(port_table), p, 1, 0);
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
	const struct strait_config *cfg = dp_held_cfg(app);
	c[n++] = (struct counter){ "capacity", (uint64_t)cfg->appliance.flow_table_size * app->n_workers };
	return n + counters(c + n, flow_table, RTE_DIM(flow_table), s, 1, 0);
}

static unsigned tenant_counters(const struct dp_tenant_stats *t, struct counter *c)
{
	return counters(c, tenant_table, RTE_DIM(tenant_table), t, 1, 0);
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
	const struct strait_config *cfg = dp_held_cfg(a);
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
		rte_tel_data_add_dict_string(sub, "device", p == DP_LAN ? cfg->appliance.lan.device
									: cfg->appliance.wan.device);
		rte_tel_data_add_dict_container(d, p == DP_LAN ? "lan" : "wan", sub, 0);
	}
	return 0;
}

/* A worker's loop (dp_loop_stats): its lcore, iterations, the late ones
 * and the time beyond the threshold they took. */
static unsigned worker_counters(const struct dp_worker *w, struct counter *c)
{
	const struct dp_loop_stats *l = &w->loop;
	unsigned n = 0;
	c[n++] = (struct counter){ "lcore", w->lcore };
	c[n++] = (struct counter){ "loops", __atomic_load_n(&l->loops, __ATOMIC_RELAXED) };
	c[n++] = (struct counter){ "late", __atomic_load_n(&l->late, __ATOMIC_RELAXED) };
	c[n++] = (struct counter){ "late_ms", __atomic_load_n(&l->late_ns, __ATOMIC_RELAXED) / 1000000 };
	c[n++] = (struct counter){ "max_gap_us", __atomic_load_n(&l->max_gap_ns, __ATOMIC_RELAXED) / 1000 };
	c[n++] = (struct counter){ "late_after_us",
				   __atomic_load_n(&l->late_after_ns, __ATOMIC_RELAXED) / 1000 };
	return n;
}

static int do_workers(const struct dp_app *a, const char *params, struct rte_tel_data *d)
{
	struct counter c[8];
	rte_tel_data_start_dict(d);
	for (unsigned w = 0; w < a->n_workers; w++) {
		struct rte_tel_data *sub = rte_tel_data_alloc();
		char key[16];
		if (!sub)
			return -1;
		rte_tel_data_start_dict(sub);
		put(sub, c, worker_counters(&a->workers[w], c));
		snprintf(key, sizeof(key), "%u", w);
		rte_tel_data_add_dict_container(d, key, sub, 0);
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
		rte_tel_data_add_dict_u64(d, drop_name(i),
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
	const struct strait_config *cfg = dp_held_cfg(a);
	rte_tel_data_start_array(d, RTE_TEL_STRING_VAL);
	/* at most RTE_TEL_MAX_ARRAY_ENTRIES (512): the control API lists all */
	for (unsigned t = 0; t < cfg->n_tenants; t++)
		if (strait_tenant_present(&cfg->tenants[t]) &&
		    rte_tel_data_add_array_string(d, cfg->tenants[t].name))
			break;
	return 0;
}

static int do_tenant(const struct dp_app *a, const char *params, struct rte_tel_data *d)
{
	const struct strait_config *cfg = dp_held_cfg(a);
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
			struct neigh_entry e = t->e[i], other;
			if (!__atomic_load_n(&t->e[i].valid, __ATOMIC_ACQUIRE) ||
			    !neigh_read(t, e.family, e.ip, e.vlan, &e))
				continue;
			bool dup = false;
			for (unsigned v = 0; v < w && !dup; v++)
				dup = neigh_read(&a->workers[v].neigh[p], e.family, e.ip, e.vlan, &other);
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

/* /strait/tcp, /strait/tcp/tenant, /strait/tcp/conns: read from each
 * worker's published snapshot (tcp_hook.h), at most TCP_HOOK_SNAP_MS old,
 * never from the worker's live state. */

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

/* Every /strait/tcp counter but "workers", summed over the workers'
 * snapshots: the stack's, connections by state (telemetry names take no
 * '-': our own spelling of the states), intercepted opens (tcp_intercept:
 * SYNs held until the far side answers) and the test knob's (tcp_impair.h,
 * all 0 when it is off). */
#define ST(f) CTR(struct tcp_hook_snap, #f, stack.f) /* the stack's, same name */
#define DROP(name, f) CTR(struct tcp_hook_snap, "drop_" name, stack.f)
#define STATE(name, st) CTR(struct tcp_hook_snap, name, by_state[st])
#define IMPAIR(name, f) CTR(struct tcp_hook_snap, "impair_" name, impair.f)
static const struct counter_def tcp_table[] = {
	ST(conns), ST(half_open), ST(established),
	STATE("syn_sent", TCP_SYN_SENT), STATE("syn_received", TCP_SYN_RECEIVED),
	STATE("state_established", TCP_ESTABLISHED), STATE("fin_wait_1", TCP_FIN_WAIT_1),
	STATE("fin_wait_2", TCP_FIN_WAIT_2), STATE("close_wait", TCP_CLOSE_WAIT),
	STATE("closing", TCP_CLOSING), STATE("last_ack", TCP_LAST_ACK),
	STATE("time_wait", TCP_TIME_WAIT),
	ST(segs_in), ST(segs_out), ST(rst_in), ST(rst_out), ST(retrans_segs), ST(rto_expiries),
	ST(challenge_acks), ST(challenge_ack_limited), ST(invalid_ack_limited),
	ST(syncookies_sent), ST(syncookies_ok), ST(syncookies_bad),
	DROP("bad_csum", bad_csum), DROP("bad_hdr", bad_hdr), DROP("bad_opts", bad_opts),
	DROP("no_conn", no_conn), DROP("seq", dropped_seq), DROP("paws", paws_drops),
	ST(limit_half_open), ST(limit_established), ST(limit_table), ST(nombuf),
	ST(pending), ST(pending_opens), ST(pending_accepted), ST(pending_refused),
	ST(pending_limit_drops), ST(pending_timeouts), ST(pending_syn_absorbed),
	IMPAIR("dropped_rx", dropped[TCP_IMPAIR_RX]), IMPAIR("dropped_tx", dropped[TCP_IMPAIR_TX]),
	IMPAIR("dup_rx", dup[TCP_IMPAIR_RX]), IMPAIR("dup_tx", dup[TCP_IMPAIR_TX]),
	IMPAIR("reordered_rx", reordered[TCP_IMPAIR_RX]),
	IMPAIR("reordered_tx", reordered[TCP_IMPAIR_TX]),
	IMPAIR("dup_nombuf", dup_nombuf), IMPAIR("held", held),
};
#undef ST
#undef DROP
#undef STATE
#undef IMPAIR

#define T(f) CTR_F(struct tcp_tenant_stats, f)
static const struct counter_def tcp_tenant_table[] = {
	T(half_open), T(established), T(buffered), T(retrans_segs), T(resets), T(ooo_bytes),
	T(pending), T(pending_limit_drops), T(pending_timeouts),
};
#undef T

/* one connection's (/strait/tcp/conns) */
#define C(f) CTR_F(struct tcp_conn_stats, f)
static const struct counter_def tcp_conn_table[] = {
	C(srtt_us), C(rttvar_us), C(rto_us), C(cwnd), C(snd_wnd), C(rcv_wnd), C(bytes_in),
	C(bytes_out), C(segs_in), C(segs_out), C(retrans_segs), C(rto_expiries), C(ooo_bytes),
	C(challenge_acks),
};
#undef C

enum { TCP_TEL_COUNTERS = RTE_DIM(tcp_table) + 1 }; /* with "workers" */

static unsigned tcp_stack_counters(const struct tcp_hook_snap *s, unsigned n,
				   struct counter *c)
{
	c[0] = (struct counter){ "workers", n };
	return 1 + counters(c + 1, tcp_table, RTE_DIM(tcp_table), s, n, sizeof(*s));
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
	const struct strait_config *cfg = dp_held_cfg(a);
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
	struct counter c[RTE_DIM(tcp_tenant_table)];
	unsigned k = counters(c, tcp_tenant_table, RTE_DIM(tcp_tenant_table), &s[0].tenant[id],
			      n, sizeof(*s));
	free(s);
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_string(d, "name", params);
	put(d, c, k);
	return 0;
}

static void put_tcp_conn(struct rte_tel_data *d, const struct tcp_hook_conn *e, unsigned w)
{
	char l[INET6_ADDRSTRLEN], r[INET6_ADDRSTRLEN];
	int af = e->af == 4 ? AF_INET : AF_INET6;
	inet_ntop(af, e->laddr.b, l, sizeof(l));
	inet_ntop(af, e->raddr.b, r, sizeof(r));
	rte_tel_data_add_dict_string(d, "local", l);
	rte_tel_data_add_dict_u64(d, "lport", e->lport);
	rte_tel_data_add_dict_string(d, "remote", r);
	rte_tel_data_add_dict_u64(d, "rport", e->rport);
	rte_tel_data_add_dict_string(d, "state", tcp_state_name(e->state));
	rte_tel_data_add_dict_u64(d, "worker", w);
	rte_tel_data_add_dict_u64(d, "tenant", e->tenant);
	struct counter c[RTE_DIM(tcp_conn_table)];
	put(d, c, counters(c, tcp_conn_table, RTE_DIM(tcp_conn_table), &e->s, 1, 0));
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

/* The telemetry thread may run a command while main() shuts down: each
 * command counts itself in (busy) before it loads tel_app, once, into a
 * local; dp_telemetry_quiesce() clears tel_app and waits until no command
 * is inside before the workers are freed. */
static struct dp_app *tel_app;
static int busy;

/* The relay (relay_hook.h): one tenant's optimized flows, from its owner
 * worker's snapshot. */
#define R(name, field) CTR(struct relay_hook_tenant, name, field)
static const struct counter_def relay_table[] = {
	R("intercepted", relay.intercepted), R("originated", relay.originated),
	R("open_failed", relay.open_failed), R("active", relay.mux.active),
	R("done", relay.mux.done), R("bypassed", bypassed),
	R("refused_down", refused_down), R("refused_by_peer", relay.mux.refused_in),
	R("refused_for_peer", relay.mux.refused_out),
	R("refused_policy", relay.mux.refused_policy),
	R("refused_rule", relay.refused[RELAY_OPEN_RULE]),
	R("refused_vlan", relay.refused[RELAY_OPEN_VLAN]),
	R("refused_addr", relay.refused[RELAY_OPEN_ADDR]),
	R("refused_options", relay.refused[RELAY_OPEN_OPTIONS]),
	R("refused_malformed", relay.mux.refused_malformed),
	R("vlan_bypassed", vlan_bypassed),
	R("full", full),
	R("resets_in", relay.mux.resets_in), R("resets_out", relay.mux.resets_out),
	R("wan_syn", wan_syn), R("unreachable_in", icmp_in), R("unreachable_out", icmp_out),
	R("icmp_ignored", icmp_ignored), R("unresolved", unresolved),
	R("lan_bytes_in", relay.mux.lan_in), R("lan_bytes_out", relay.mux.lan_out),
	R("wan_bytes_out", relay.mux.wan_out), R("wan_bytes_in", relay.mux.wan_in),
	R("records_out", relay.mux.records_out), R("encoded_bytes", relay.mux.encoded_bytes),
	R("cache_hits", relay.mux.cache_hits), R("cache_misses", relay.mux.cache_misses),
	R("credit_stalls", relay.mux.credit_stalls), R("room_stalls", relay.mux.room_stalls),
	R("resyncs_asked", relay.mux.resyncs_asked), R("resyncs_done", relay.mux.resyncs_done),
	R("resent_bytes", relay.mux.resent_bytes), R("decode_errors", relay.mux.decode_errors),
	R("flow_errors", relay.mux.flow_errors), R("digest_errors", relay.mux.digest_errors),
	R("stale_frames", relay.mux.stale_frames), R("flushes", relay.mux.flushes),
	R("raw_held", relay.mux.raw_held), R("acked", relay.mux.acked),
	R("held_flows", relay.mux.held_flows),
	R("drain_bps", relay.mux.drain_bps), R("epoch_tx", relay.mux.epoch_tx),
	R("epoch_rx", relay.mux.epoch_rx), R("continued_tx", relay.mux.continued_tx),
	R("continued_rx", relay.mux.continued_rx), R("memory", memory),
};
#undef R

static void put_relay(struct rte_tel_data *d, const struct relay_hook_tenant *r)
{
	struct counter c[RTE_DIM(relay_table)];
	const struct chan_mux_stats *m = &r->relay.mux;
	char ratio[32];

	rte_tel_data_add_dict_string(d, "channel", r->up ? "up" : "down");
	rte_tel_data_add_dict_string(d, "why", r->why);
	put(d, c, counters(c, relay_table, RTE_DIM(relay_table), r, 1, 0));
	rte_tel_data_add_dict_u64(d, "bytes_saved", m->encoded_bytes > m->records_out
				  ? m->encoded_bytes - m->records_out : 0);
	/* LAN bytes in over channel bytes out, as "12.34x" */
	snprintf(ratio, sizeof(ratio), "%.2fx", m->wan_out ? (double)m->lan_in / (double)m->wan_out : 0.0);
	rte_tel_data_add_dict_string(d, "reduction", ratio);
	if (r->lag_ns == UINT64_MAX)
		rte_tel_data_add_dict_string(d, "lag_ms", "stalled");
	else
		rte_tel_data_add_dict_u64(d, "lag_ms", r->lag_ns / 1000000);
}

/* Parameter: a tenant name (its counters), or none (every tenant's). */
static int do_relay(const struct dp_app *a, const char *params, struct rte_tel_data *d)
{
	const struct strait_config *cfg = dp_held_cfg(a);
	struct relay_hook_tenant r;

	rte_tel_data_start_dict(d);
	for (unsigned t = 0; t < cfg->n_tenants; t++) {
		if (!strait_tenant_present(&cfg->tenants[t]) ||
		    (params && *params && strcmp(params, cfg->tenants[t].name)))
			continue;
		if (relay_hook_tenant(a, t, &r))
			continue;
		if (params && *params) {
			rte_tel_data_add_dict_string(d, "name", params);
			put_relay(d, &r);
			return 0;
		}
		struct rte_tel_data *sub = rte_tel_data_alloc();
		if (!sub)
			return -1;
		rte_tel_data_start_dict(sub);
		put_relay(sub, &r);
		rte_tel_data_add_dict_container(d, cfg->tenants[t].name, sub, 0);
	}
	return params && *params ? -1 : 0;
}

typedef int (*command_fn)(const struct dp_app *a, const char *params, struct rte_tel_data *d);

static const struct {
	const char *path;
	command_fn fn;
	const char *help;
} commands[] = {
	{ "/strait/ports", do_ports, "Per-port counters. Parameters: none, or lan|wan" },
	{ "/strait/workers", do_workers, "Each worker's loop: lcore, loops, late (a gap over "
	  "late_after_us, the WAN burst), late_ms, max_gap_us" },
	{ "/strait/flows", do_flows, "Flow table: active, capacity, created, unseen_syn, "
	  "table_full, expired, reused, steered, steer_full, evicted, no_rule" },
	{ "/strait/drops", do_drops,
	  "Frames dropped, by reason. Parameters: none (both ports), or lan|wan" },
	{ "/strait/malformed", do_malformed,
	  "Malformed frames, by reason (runt and vlan_truncated dropped, others bridged)" },
	{ "/strait/tenants", do_tenants, "Tenant names" },
	{ "/strait/tenant", do_tenant, "One tenant's counters. Parameter: tenant name" },
	{ "/strait/neighbours", do_neighbours, "IP -> MAC learnt on a port. Parameter: lan|wan" },
	{ "/strait/tcp", do_tcp, "TCP, all workers: conns by state, segments, resets, "
	  "retransmits, RTOs, challenge ACKs, SYN cookies, drops" },
	{ "/strait/tcp/tenant", do_tcp_tenant,
	  "TCP counters of one tenant. Parameter: tenant name, or local" },
	{ "/strait/tcp/conns", do_tcp_conns,
	  "Open TCP connections (first 24): tuple, state, RTT, cwnd, counters" },
	{ "/strait/relay", do_relay, "Optimized flows per tenant: channel, flows, bytes, "
	  "reduction, cache, credit, resyncs, lag. Parameter: none, or a tenant name" },
	{ "/strait/tunnel", wan_tel_tunnel, "WAN tunnels: totals and each tenant's state; "
	  "parameter: a tenant name for its tunnel, handshakes, ESP, drops, channel, test" },
	{ "/strait/tunnel/test", wan_tel_test, "Tests the channel alone: "
	  "parameters TENANT,discard|echo|source,BYTES (result in /strait/tunnel,TENANT)" },
};

/* Every command's callback: finds its entry by the command's name. */
static int run_command(const char *cmd, const char *params, struct rte_tel_data *d)
{
	for (size_t i = 0; i < RTE_DIM(commands); i++) {
		if (strcmp(cmd, commands[i].path))
			continue;
		__atomic_add_fetch(&busy, 1, __ATOMIC_SEQ_CST);
		const struct dp_app *a = __atomic_load_n(&tel_app, __ATOMIC_SEQ_CST);
		/* a reload frees the configuration it replaced only once no
		 * command holds the one in force (either may be published then) */
		const struct strait_config *held = a ? strait_running_get(a->running) : NULL;
		int r = a ? commands[i].fn(a, params, d) : -1;
		if (held)
			strait_running_put(a->running, held);
		__atomic_sub_fetch(&busy, 1, __ATOMIC_SEQ_CST);
		return r;
	}
	return -1;
}

int dp_telemetry_register(struct dp_app *app)
{
	__atomic_store_n(&tel_app, app, __ATOMIC_SEQ_CST);
	int r = 0;
	for (size_t i = 0; i < RTE_DIM(commands); i++)
		r |= rte_telemetry_register_cmd(commands[i].path, run_command, commands[i].help);
	return r ? -1 : 0;
}

void dp_telemetry_quiesce(void)
{
	__atomic_store_n(&tel_app, NULL, __ATOMIC_SEQ_CST);
	/* a command is a few microseconds; bounded wait (10 s) all the same */
	for (int i = 0; i < 100000 && __atomic_load_n(&busy, __ATOMIC_SEQ_CST); i++)
		usleep(100);
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
	fprintf(f, "  \"workers\": {\n");
	for (unsigned w = 0; w < app->n_workers && app->workers; w++) {
		char key[16];
		snprintf(key, sizeof(key), "%u", w);
		fputs("  ", f);
		json_group(f, key, c, worker_counters(&app->workers[w], c), w + 1 == app->n_workers);
	}
	fprintf(f, "  },\n");
	unsigned n = 0;
	for (int i = 0; i < DROP_COUNT; i++)
		c[n++] = (struct counter){ drop_name(i), s.port[DP_LAN].drops[i] + s.port[DP_WAN].drops[i] };
	json_group(f, "drops", c, n, false);
	for (int p = 0; p < DP_NPORTS; p++) {
		n = 0;
		for (int i = 0; i < DROP_COUNT; i++)
			c[n++] = (struct counter){ drop_name(i), s.port[p].drops[i] };
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
	const struct strait_config *cfg = app->published_cfg; /* the workers have stopped */
	unsigned last = cfg->n_tenants;
	while (last && !strait_tenant_present(&cfg->tenants[last - 1]))
		last--;
	for (unsigned t = 0; t < last; t++) {
		if (!strait_tenant_present(&cfg->tenants[t]))
			continue;
		fputs("  ", f);
		json_group(f, cfg->tenants[t].name, c, tenant_counters(&s.tenant[t], c), t + 1 == last);
	}
	fprintf(f, "  }\n}\n");
	return fclose(f) ? -1 : 0;
}
