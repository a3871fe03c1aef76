/* SPDX-License-Identifier: BSD-3-Clause */
/* JSON answers of the control API (api.h), built with jansson from a view:
 * the running configuration, the appliance's status and the tenants'
 * statistics. Numbers in base units (bytes, seconds, bit/s for rates as
 * configured); a ratio with nothing to divide by is null. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "strait/api.h"

static json_t *addr_json(const struct strait_addr *a)
{
	char buf[INET6_ADDRSTRLEN];
	if (!a->family)
		return json_null();
	inet_ntop(a->family == 4 ? AF_INET : AF_INET6, a->addr, buf, sizeof(buf));
	return json_string(buf);
}

static json_t *prefixes_json(const struct strait_prefix *p, unsigned n)
{
	json_t *arr = json_array();
	for (unsigned i = 0; i < n; i++) {
		char a[INET6_ADDRSTRLEN], buf[INET6_ADDRSTRLEN + 8];
		inet_ntop(p[i].family == 4 ? AF_INET : AF_INET6, p[i].addr, a, sizeof(a));
		snprintf(buf, sizeof(buf), "%s/%u", a, p[i].len);
		json_array_append_new(arr, json_string(buf));
	}
	return arr;
}

static json_t *ports_json(const struct strait_tenant_cfg *t)
{
	json_t *arr = json_array();
	for (unsigned i = 0; i < t->n_ports; i++) {
		char buf[16];
		if (t->ports[i].lo == t->ports[i].hi)
			snprintf(buf, sizeof(buf), "%u", t->ports[i].lo);
		else
			snprintf(buf, sizeof(buf), "%u-%u", t->ports[i].lo, t->ports[i].hi);
		json_array_append_new(arr, json_string(buf));
	}
	return arr;
}

static json_t *endpoint_json(const struct strait_tenant_cfg *t)
{
	char a[INET6_ADDRSTRLEN], buf[INET6_ADDRSTRLEN + 16];
	if (!t->peer_endpoint.family)
		return json_null();
	bool v6 = t->peer_endpoint.family == 6;
	inet_ntop(v6 ? AF_INET6 : AF_INET, t->peer_endpoint.addr, a, sizeof(a));
	snprintf(buf, sizeof(buf), v6 ? "[%s]:%u" : "%s:%u", a, t->peer_port);
	return json_string(buf);
}

/* num / den, or null */
static json_t *ratio(double num, double den)
{
	return den > 0 ? json_real(num / den) : json_null();
}

static json_t *seconds(uint64_t ns)
{
	return json_real((double)ns / 1e9);
}

/* Data reduction: the share of the LAN bytes that did not cross the WAN
 * (negative when the channel's overhead exceeds what the codec saved). */
static json_t *reduction(const struct strait_tenant_stats *s)
{
	if (!s->lan_in_bytes)
		return json_null();
	return json_real(1.0 - (double)s->wan_out_bytes / (double)s->lan_in_bytes);
}

static json_t *lag_json(const struct strait_tenant_stats *s)
{
	return s->replication_lag_ns == UINT64_MAX ? json_null() : seconds(s->replication_lag_ns);
}

static json_t *flows_json(const struct strait_tenant_stats *s)
{
	json_t *o = json_object();
	for (unsigned i = 0; i < STRAIT_FLOW_STATE_COUNT; i++)
		json_object_set_new(o, strait_flow_state_name(i), json_integer((json_int_t)s->flows[i]));
	json_object_set_new(o, "total", json_integer((json_int_t)s->flows_total));
	return o;
}

static json_t *unoptimized_json(const struct strait_tenant_stats *s)
{
	json_t *o = json_object();
	for (unsigned i = 0; i < STRAIT_UNOPT_COUNT; i++)
		json_object_set_new(o, strait_unoptimized_name(i),
				    json_integer((json_int_t)s->unoptimized[i]));
	return o;
}

static json_t *channel_json(const struct strait_tenant_stats *s)
{
	return json_pack("{s:s, s:o, s:I, s:I, s:o}",
			 "state", strait_channel_state_name(s->channel_state),
			 "rtt_s", s->channel_rtt_ns ? seconds(s->channel_rtt_ns) : json_null(),
			 "segments", (json_int_t)s->channel_segments,
			 "retransmits", (json_int_t)s->channel_retransmits,
			 "loss", ratio((double)s->channel_retransmits, (double)s->channel_segments));
}

static const struct strait_tenant_stats *stats_of(const struct strait_api_view *v, unsigned slot)
{
	static const struct strait_tenant_stats zero;
	return v->stats ? &v->stats[slot] : &zero;
}

/* What /v1/tenants lists and /v1/tenants/NAME starts with. */
static json_t *summary(const struct strait_api_view *v, unsigned slot)
{
	const struct strait_tenant_cfg *t = &v->cfg->tenants[slot];
	const struct strait_tenant_stats *s = stats_of(v, slot);
	return json_pack("{s:s, s:I, s:{s:I, s:I}, s:{s:I, s:I}, s:o, s:o, s:o, s:I, s:o, s:o, s:b, s:o}",
			 "name", t->name,
			 "slot", (json_int_t)slot,
			 "lan", "in_bytes", (json_int_t)s->lan_in_bytes,
			 "out_bytes", (json_int_t)s->lan_out_bytes,
			 "wan", "in_bytes", (json_int_t)s->wan_in_bytes,
			 "out_bytes", (json_int_t)s->wan_out_bytes,
			 "data_reduction", reduction(s),
			 "cache_hit_rate", ratio((double)s->cache_hits,
						 (double)(s->cache_hits + s->cache_misses)),
			 "channel", channel_json(s),
			 "queue_bytes", (json_int_t)s->queue_bytes,
			 "replication_lag_s", lag_json(s),
			 "rpo_target_s", t->rpo_target_ns ? seconds(t->rpo_target_ns) : json_null(),
			 "rpo_urgent", (int)s->rpo_urgent,
			 "flows", flows_json(s));
}

json_t *strait_api_tenants_json(const struct strait_api_view *v)
{
	json_t *arr = json_array();
	for (unsigned i = 0; i < v->cfg->n_tenants; i++)
		if (strait_tenant_present(&v->cfg->tenants[i]))
			json_array_append_new(arr, summary(v, i));
	return json_pack("{s:o}", "tenants", arr);
}

json_t *strait_api_tenant_json(const struct strait_api_view *v, unsigned slot)
{
	const struct strait_tenant_cfg *t = &v->cfg->tenants[slot];
	const struct strait_tenant_stats *s = stats_of(v, slot);
	json_t *o = summary(v, slot);
	json_object_set_new(o, "file", json_string(t->file));
	json_object_set_new(o, "interception",
			    json_pack("{s:o, s:o, s:o}", "client_prefixes",
				      prefixes_json(t->client, t->n_client), "server_prefixes",
				      prefixes_json(t->server, t->n_server), "ports", ports_json(t)));
	json_object_set_new(o, "peer",
			    json_pack("{s:o, s:o, s:o, s:s}", "endpoint", endpoint_json(t),
				      "inner_address", addr_json(&t->inner_local),
				      "peer_inner_address", addr_json(&t->inner_peer),
				      "peer_down", t->peer_down == STRAIT_PEER_DOWN_BYPASS
							   ? "bypass" : "fail-closed"));
	json_object_set_new(o, "bandwidth",
			    json_pack("{s:I, s:I, s:i, s:i}", "guaranteed_bps",
				      (json_int_t)t->guaranteed_bps, "ceiling_bps",
				      (json_int_t)t->ceiling_bps, "priority", t->priority, "weight",
				      t->weight));
	json_object_set_new(o, "cache", json_pack("{s:I, s:I, s:I, s:I}", "size_bytes",
						  (json_int_t)t->cache_size, "window_bytes",
						  (json_int_t)strait_tenant_cache_window(t), "hits",
						  (json_int_t)s->cache_hits, "misses",
						  (json_int_t)s->cache_misses));
	json_object_set_new(o, "not_optimized", unoptimized_json(s));
	json_object_set_new(o, "generation", json_integer((json_int_t)t->generation));
	json_object_set_new(o, "stats_generation", json_integer((json_int_t)s->generation));
	return o;
}

static json_t *port_json(const struct strait_port_status *p)
{
	return json_pack("{s:I, s:I, s:I, s:I, s:I}", "rx_packets", (json_int_t)p->rx_packets,
			 "rx_bytes", (json_int_t)p->rx_bytes, "tx_packets", (json_int_t)p->tx_packets,
			 "tx_bytes", (json_int_t)p->tx_bytes, "dropped", (json_int_t)p->dropped);
}

json_t *strait_api_status_json(const struct strait_api_view *v)
{
	const struct strait_status *st = v->status;
	const struct strait_config *cfg = v->cfg;
	char listen[STRAIT_LISTEN_MAX][STRAIT_SOCKET_PATH_MAX + 8];
	json_t *sockets = json_array();
	for (unsigned i = 0; i < cfg->appliance.control.n_listen; i++)
		json_array_append_new(sockets, json_string(strait_listen_str(
			&cfg->appliance.control.listen[i], listen[i], sizeof(listen[i]))));
	unsigned tenants = 0;
	for (unsigned i = 0; i < cfg->n_tenants; i++)
		tenants += strait_tenant_present(&cfg->tenants[i]);
	json_t *last = json_null();
	if (st->last_reload.at)
		last = json_pack("{s:I, s:b, s:b, s:o}", "at", (json_int_t)st->last_reload.at,
				 "ok", st->last_reload.ok, "dry_run", st->last_reload.dry_run, "error",
				 st->last_reload.ok ? json_null() : json_string(st->last_reload.error));
	return json_pack("{s:s, s:s, s:I, s:o, s:i, s:i, s:{s:s, s:I, s:I, s:I, s:I, s:o}, "
			 "s:o, s:{s:o, s:o}, s:{s:I, s:I}}",
			 "appliance", cfg->appliance.name,
			 "version", st->version,
			 "started_at", (json_int_t)st->started_at,
			 "uptime_s", seconds(st->uptime_ns),
			 "workers", (int)st->workers,
			 "tenants", (int)tenants,
			 "config", "file", cfg->appliance.file,
			 "generation", (json_int_t)cfg->generation,
			 "loaded_at", (json_int_t)st->config_loaded_at,
			 "reloads", (json_int_t)st->reloads,
			 "reloads_refused", (json_int_t)st->reloads_refused,
			 "last_reload", last,
			 "listen", sockets,
			 "ports", "lan", port_json(&st->lan), "wan", port_json(&st->wan),
			 "flows", "active", (json_int_t)st->flows_active,
			 "no_rule", (json_int_t)st->flows_no_rule);
}

static json_t *names_json(const struct strait_tenant_change *c, unsigned n)
{
	json_t *arr = json_array();
	for (unsigned i = 0; i < n; i++)
		json_array_append_new(arr, json_string(c[i].name));
	return arr;
}

json_t *strait_api_diff_json(const struct strait_config_diff *d, bool dry_run)
{
	json_t *changed = json_array();
	for (unsigned i = 0; i < d->n_changed; i++) {
		const struct strait_tenant_change *c = &d->changed[i];
		json_t *fields = json_array(), *apply = json_array();
		for (unsigned f = 0; f < STRAIT_FIELD_COUNT; f++)
			if (c->fields & (1u << f))
				json_array_append_new(fields, json_string(strait_field_name(f)));
		for (unsigned a = 0; a < STRAIT_APPLY_COUNT; a++)
			if (c->apply & (1u << a))
				json_array_append_new(apply, json_string(strait_apply_name(a)));
		json_array_append_new(changed, json_pack("{s:s, s:o, s:o}", "name", c->name,
							 "fields", fields, "apply", apply));
	}
	json_t *appliance = json_array();
	for (unsigned i = 0; i < d->n_appliance; i++)
		json_array_append_new(appliance, json_string(d->appliance[i]));
	return json_pack("{s:b, s:o, s:o, s:o, s:o}", "dry_run", dry_run,
			 "added", names_json(d->added, d->n_added),
			 "removed", names_json(d->removed, d->n_removed),
			 "changed", changed, "appliance", appliance);
}

json_t *strait_api_error_json(const struct strait_error *err)
{
	char buf[sizeof(err->file) + sizeof(err->field) + sizeof(err->msg) + 32];
	return json_pack("{s:s, s:s, s:i, s:s}", "error", strait_error_str(err, buf, sizeof(buf)),
			 "file", err->file, "line", (int)err->line, "field", err->field);
}
