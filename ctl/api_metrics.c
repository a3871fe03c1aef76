/* SPDX-License-Identifier: BSD-3-Clause */
/* GET /metrics: Prometheus' text exposition format 0.0.4 (api.h).
 *
 * Naming follows Prometheus' guide: a `strait_` prefix, base units (bytes,
 * seconds; rates as configured turn into bytes per second), counters end
 * in `_total`, one `tenant` label per tenant series. Every family is
 * written whole (HELP, TYPE, then all its samples) as the format requires;
 * `promtool check metrics` accepts the output (tests/ctl). */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strait/api.h"

struct out {
	char *buf;
	size_t len, cap;
	bool failed;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct out *o, const char *fmt, ...)
{
	if (o->failed)
		return;
	for (;;) {
		va_list ap;
		va_start(ap, fmt);
		int n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			o->failed = true;
			return;
		}
		if ((size_t)n < o->cap - o->len) {
			o->len += (size_t)n;
			return;
		}
		size_t cap = o->cap * 2 + (size_t)n;
		char *b = realloc(o->buf, cap);
		if (!b) {
			o->failed = true;
			return;
		}
		o->buf = b;
		o->cap = cap;
	}
}

static void family(struct out *o, const char *name, const char *type, const char *help)
{
	put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value: backslash, double quote and newline escaped. Tenant and
 * appliance names cannot hold them ([A-Za-z0-9._-]), paths could. */
static void label(struct out *o, const char *v)
{
	if (!strpbrk(v, "\\\"\n")) {
		put(o, "%s", v);
		return;
	}
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			put(o, "\\%c", *v);
		else if (*v == '\n')
			put(o, "\\n");
		else
			put(o, "%c", *v);
	}
}

/* A float sample as Go's strconv prints it enough for Prometheus: %.17g
 * round-trips; infinity is +Inf. */
static void real(struct out *o, double v)
{
	if (v == __builtin_inf())
		put(o, "+Inf\n");
	else
		put(o, "%.17g\n", v);
}

/* A tenant family: one series per tenant (and per value of its extra
 * label), an integer (u64) or a float (real) each. */
struct family {
	const char *name, *type, *help;
	const char *label;                    /* the extra label, or NULL */
	unsigned n_values;                    /* the extra label's values */
	const char *(*value)(unsigned i);     /* its i-th value */
	uint64_t (*u64)(const struct strait_tenant_cfg *t, const struct strait_tenant_stats *s,
			unsigned i);
	double (*real)(const struct strait_tenant_cfg *t, const struct strait_tenant_stats *s);
};

#define U64(fn, expr) \
	static uint64_t fn(const struct strait_tenant_cfg *t, const struct strait_tenant_stats *s, \
			   unsigned i) \
	{ \
		(void)t; \
		(void)i; \
		return (expr); \
	}
U64(lan_bytes, i ? s->lan_out_bytes : s->lan_in_bytes)
U64(wan_bytes, i ? s->wan_out_bytes : s->wan_in_bytes)
U64(cache_hits, s->cache_hits)
U64(cache_misses, s->cache_misses)
U64(channel_state_is, s->channel_state == i)
U64(segments, s->channel_segments)
U64(retransmits, s->channel_retransmits)
U64(queue, s->queue_bytes)
U64(flows, s->flows[i])
U64(flows_total, s->flows_total)
U64(rpo_urgent, s->rpo_urgent)
U64(unoptimized, s->unoptimized[i])
#undef U64

#define REAL(fn, expr) \
	static double fn(const struct strait_tenant_cfg *t, const struct strait_tenant_stats *s) \
	{ \
		(void)t; \
		(void)s; \
		return (expr); \
	}
REAL(rtt, (double)s->channel_rtt_ns / 1e9)
REAL(lag, s->replication_lag_ns == UINT64_MAX ? __builtin_inf() : (double)s->replication_lag_ns / 1e9)
REAL(guaranteed, (double)t->guaranteed_bps / 8)
REAL(ceiling, (double)t->ceiling_bps / 8)
REAL(rpo, (double)t->rpo_target_ns / 1e9)
#undef REAL

static const char *direction(unsigned i)
{
	return i ? "out" : "in";
}

static const struct family tenant_families[] = {
	{ "strait_tenant_lan_bytes_total", "counter",
	  "Bytes of the tenant's intercepted streams on the LAN: in from the local ends, out to them.",
	  "direction", 2, direction, lan_bytes, NULL },
	{ "strait_tenant_wan_bytes_total", "counter",
	  "Bytes of the tenant's channel on the WAN (ESP, outer headers included).",
	  "direction", 2, direction, wan_bytes, NULL },
	{ "strait_tenant_cache_hits_total", "counter", "Chunks found in the redundancy cache.",
	  NULL, 0, NULL, cache_hits, NULL },
	{ "strait_tenant_cache_misses_total", "counter", "Chunks sent as new bytes.",
	  NULL, 0, NULL, cache_misses, NULL },
	{ "strait_tenant_channel_state", "gauge", "1 for the channel's state, 0 for the others.",
	  "state", STRAIT_CHANNEL_STATE_COUNT, strait_channel_state_name, channel_state_is, NULL },
	{ "strait_tenant_channel_rtt_seconds", "gauge",
	  "The channel's smoothed round-trip time (0: no sample).", NULL, 0, NULL, NULL, rtt },
	{ "strait_tenant_channel_segments_total", "counter", "TCP segments sent on the channel.",
	  NULL, 0, NULL, segments, NULL },
	{ "strait_tenant_channel_retransmits_total", "counter",
	  "Channel segments sent again (loss: their rate over the segments').",
	  NULL, 0, NULL, retransmits, NULL },
	{ "strait_tenant_queue_bytes", "gauge",
	  "Bytes accepted from the LAN, not yet acknowledged by the peer.", NULL, 0, NULL, queue, NULL },
	{ "strait_tenant_replication_lag_seconds", "gauge",
	  "Estimated replication lag: the queue over its drain rate, or the backlog's age (+Inf: nothing drains).",
	  NULL, 0, NULL, NULL, lag },
	{ "strait_tenant_rpo_target_seconds", "gauge",
	  "[Bandwidth] RpoTarget, to compare the replication lag with (0: none).",
	  NULL, 0, NULL, NULL, rpo },
	{ "strait_tenant_rpo_urgent", "gauge",
	  "1 while the replication lag nears RpoTarget: the tenant borrows spare WAN capacity first.",
	  NULL, 0, NULL, rpo_urgent, NULL },
	{ "strait_tenant_guaranteed_bytes_per_second", "gauge", "[Bandwidth] Guaranteed (0: none).",
	  NULL, 0, NULL, NULL, guaranteed },
	{ "strait_tenant_ceiling_bytes_per_second", "gauge", "[Bandwidth] Ceiling (0: the link rate).",
	  NULL, 0, NULL, NULL, ceiling },
	{ "strait_tenant_flows", "gauge", "The tenant's flows now, by state.",
	  "state", STRAIT_FLOW_STATE_COUNT, strait_flow_state_name, flows, NULL },
	{ "strait_tenant_flows_total", "counter", "The tenant's flows since it was configured.",
	  NULL, 0, NULL, flows_total, NULL },
	{ "strait_tenant_flows_unoptimized_total", "counter",
	  "The tenant's flows that were not optimized, by reason.",
	  "reason", STRAIT_UNOPT_COUNT, strait_unoptimized_name, unoptimized, NULL },
};

static void tenant_family(struct out *o, const struct strait_api_view *v, const struct family *f)
{
	static const struct strait_tenant_stats zero;
	family(o, f->name, f->type, f->help);
	for (unsigned k = 0; k < v->cfg->n_tenants; k++) {
		const struct strait_tenant_cfg *t = &v->cfg->tenants[k];
		if (!strait_tenant_present(t))
			continue;
		const struct strait_tenant_stats *s = v->stats ? &v->stats[k] : &zero;
		for (unsigned i = 0; i < (f->n_values ? f->n_values : 1); i++) {
			put(o, "%s{tenant=\"", f->name);
			label(o, t->name);
			if (f->label)
				put(o, "\",%s=\"%s", f->label, f->value(i));
			put(o, "\"} ");
			if (f->u64)
				put(o, "%" PRIu64 "\n", f->u64(t, s, i));
			else
				real(o, f->real(t, s));
		}
	}
}

static void appliance(struct out *o, const struct strait_api_view *v)
{
	const struct strait_status *st = v->status;
	const struct strait_config *cfg = v->cfg;
	unsigned tenants = 0;
	for (unsigned i = 0; i < cfg->n_tenants; i++)
		tenants += strait_tenant_present(&cfg->tenants[i]);
	family(o, "strait_build_info", "gauge", "Always 1: the version and the appliance's name.");
	put(o, "strait_build_info{version=\"");
	label(o, st->version);
	put(o, "\",appliance=\"");
	label(o, cfg->appliance.name);
	put(o, "\"} 1\n");
	family(o, "strait_start_time_seconds", "gauge", "When straitd started (Unix time).");
	put(o, "strait_start_time_seconds %" PRId64 "\n", st->started_at);
	family(o, "strait_tenants", "gauge", "Tenants configured.");
	put(o, "strait_tenants %u\n", tenants);
	family(o, "strait_config_generation", "gauge", "Configurations applied since start (1: the first).");
	put(o, "strait_config_generation %" PRIu64 "\n", cfg->generation);
	family(o, "strait_config_loaded_timestamp_seconds", "gauge",
	       "When the configuration in force was applied (Unix time).");
	put(o, "strait_config_loaded_timestamp_seconds %" PRIu64 "\n", st->config_loaded_at);
	family(o, "strait_config_reloads_total", "counter", "Reloads asked (API or SIGHUP), by result.");
	put(o, "strait_config_reloads_total{result=\"applied\"} %" PRIu64 "\n",
	    st->reloads - st->reloads_refused);
	put(o, "strait_config_reloads_total{result=\"refused\"} %" PRIu64 "\n", st->reloads_refused);
	family(o, "strait_config_last_reload_success", "gauge",
	       "1 if the last reload was applied (or none was asked), 0 if it was refused.");
	put(o, "strait_config_last_reload_success %d\n", !st->last_reload.at || st->last_reload.ok);
	static const struct {
		const char *name, *help;
		size_t off;
	} ports[] = {
		{ "strait_port_received_packets_total", "Frames received on the port.",
		  offsetof(struct strait_port_status, rx_packets) },
		{ "strait_port_received_bytes_total", "Bytes received on the port.",
		  offsetof(struct strait_port_status, rx_bytes) },
		{ "strait_port_sent_packets_total", "Frames sent on the port.",
		  offsetof(struct strait_port_status, tx_packets) },
		{ "strait_port_sent_bytes_total", "Bytes sent on the port.",
		  offsetof(struct strait_port_status, tx_bytes) },
		{ "strait_port_dropped_packets_total", "Frames dropped (every reason).",
		  offsetof(struct strait_port_status, dropped) },
	};
	for (size_t i = 0; i < sizeof(ports) / sizeof(ports[0]); i++) {
		family(o, ports[i].name, "counter", ports[i].help);
		for (int p = 0; p < 2; p++) {
			const struct strait_port_status *ps = p ? &st->wan : &st->lan;
			uint64_t x;
			memcpy(&x, (const char *)ps + ports[i].off, sizeof(x));
			put(o, "%s{port=\"%s\"} %" PRIu64 "\n", ports[i].name, p ? "wan" : "lan", x);
		}
	}
	family(o, "strait_flows_active", "gauge", "TCP flows tracked now.");
	put(o, "strait_flows_active %" PRIu64 "\n", st->flows_active);
	family(o, "strait_flows_no_rule_total", "counter",
	       "TCP flows that matched no tenant's rule (bridged).");
	put(o, "strait_flows_no_rule_total %" PRIu64 "\n", st->flows_no_rule);
}

char *strait_api_metrics(const struct strait_api_view *v, size_t *len)
{
	struct out o = { .cap = 65536 };
	o.buf = malloc(o.cap);
	if (!o.buf)
		return NULL;
	o.buf[0] = '\0';
	appliance(&o, v);
	for (size_t i = 0; i < sizeof(tenant_families) / sizeof(tenant_families[0]); i++)
		tenant_family(&o, v, &tenant_families[i]);
	if (o.failed) {
		free(o.buf);
		return NULL;
	}
	*len = o.len;
	return o.buf;
}
