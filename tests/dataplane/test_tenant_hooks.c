/* SPDX-License-Identifier: BSD-3-Clause */
/* The two places a module (the tenant channel, issue #11) meets the
 * control plane (dp_hooks.h): tenant() hears every reload's news about a
 * tenant, and tenant_stats() adds what it knows of a tenant to the
 * worker's publication (stats_publish.c), which the API renders as JSON
 * and /metrics. A probe module stands where the channel will: what it
 * adds must come out of the statistics table and the renderings whole. No
 * EAL: the table only calls function pointers and the worker's clock is
 * set by hand. */
#include <criterion/criterion.h>
#include <string.h>

#include "dp.h"
#include "strait/api.h"
#include "strait/stats.h"

struct probe {
	char events[64];          /* kind letters in order: R, C, A */
	uint16_t slots[8];
	uint32_t apply[8];
	unsigned n_events, stats_calls;
};
static struct probe probes[2];
static char order[64];            /* module digit and kind letter, as heard */

static void *init_0(struct dp_worker *w) { (void)w; return &probes[0]; }
static void *init_1(struct dp_worker *w) { (void)w; return &probes[1]; }

static void tenant(void *ctx, const struct dp_tenant_event *ev)
{
	struct probe *p = ctx;
	if (p->n_events < 8) {
		p->slots[p->n_events] = ev->slot;
		p->apply[p->n_events] = ev->apply;
	}
	p->events[p->n_events++] = "RCA"[ev->kind];
	size_t n = strlen(order);
	order[n] = (char)('0' + (p - probes));
	order[n + 1] = "RCA"[ev->kind];
}

/* What the channel will add: its state, RTT, WAN bytes (ESP), the codec's
 * hits, flows it optimizes, and a reason a flow was not. */
static void channel_stats(void *ctx, unsigned slot, struct strait_tenant_stats *s)
{
	struct probe *p = ctx;
	p->stats_calls++;
	if (slot != 1)
		return;
	s->channel_state = STRAIT_CHANNEL_UP;
	s->channel_rtt_ns = 12500000;
	s->wan_out_bytes = 4000;
	s->cache_hits = 9;
	s->cache_misses = 1;
	s->flows[STRAIT_FLOW_OPTIMIZED] = 2;
	s->unoptimized[STRAIT_UNOPT_PEER_DOWN] = 3;
}

/* A second module after it adds to what the first wrote. */
static void more_stats(void *ctx, unsigned slot, struct strait_tenant_stats *s)
{
	struct probe *p = ctx;
	p->stats_calls++;
	if (slot == 1)
		s->queue_bytes += 777;
}

static struct dp_app app;
static struct dp_worker w;
static struct strait_config *cfg;

/* Two modules; three slots: acme, beta, and an empty one (its tenant
 * removed by an earlier reload). */
static void setup(void)
{
	struct dp_hooks a = { .name = "channel", .worker_init = init_0, .tenant = tenant,
			      .tenant_stats = channel_stats };
	struct dp_hooks b = { .name = "other", .worker_init = init_1, .tenant = tenant,
			      .tenant_stats = more_stats };
	cr_assert_eq(dp_hooks_register(&a), 0);
	cr_assert_eq(dp_hooks_register(&b), 1);
	cfg = strait_config_new();
	cr_assert_not_null(cfg);
	snprintf(cfg->appliance.name, sizeof(cfg->appliance.name), "test");
	cfg->n_tenants = 3;
	cfg->generation = 4;
	snprintf(cfg->tenants[0].name, sizeof(cfg->tenants[0].name), "acme");
	snprintf(cfg->tenants[1].name, sizeof(cfg->tenants[1].name), "beta");
	cfg->tenants[0].generation = 1;
	cfg->tenants[1].generation = 4;
	/* slot 2: empty */
	app.stats = strait_stats_table_new(1);
	cr_assert_not_null(app.stats);
	w.app = &app;
	w.id = 0;
	w.cfg = cfg;
	cr_assert_eq(dp_hooks_start(&w), 0);
}

static void teardown(void)
{
	dp_hooks_stop(&w);
	strait_stats_table_free(app.stats);
	strait_config_free(cfg);
}

TestSuite(tenant_hooks, .init = setup, .fini = teardown);

/* Added and changed in the order the modules registered, removed in
 * reverse: the relay lets go of the WAN module's channel before that one
 * frees it. */
Test(tenant_hooks, every_module_hears_each_event_in_order)
{
	const struct dp_tenant_event ev[] = {
		{ .kind = DP_TENANT_REMOVED, .slot = 5, .cfg = cfg },
		{ .kind = DP_TENANT_CHANGED, .slot = 1, .apply = STRAIT_APPLY_RATE | STRAIT_APPLY_REKEY,
		  .cfg = cfg },
		{ .kind = DP_TENANT_ADDED, .slot = 2, .cfg = cfg },
	};
	for (unsigned i = 0; i < 3; i++)
		dp_hooks_tenant(&w, &ev[i]);
	for (unsigned k = 0; k < 2; k++) {
		cr_assert_str_eq(probes[k].events, "RCA", "module %u: removed, changed, added", k);
		cr_assert_eq(probes[k].slots[0], 5);
		cr_assert_eq(probes[k].slots[1], 1);
		cr_assert_eq(probes[k].apply[1], STRAIT_APPLY_RATE | STRAIT_APPLY_REKEY,
			     "the change says how it applies (the shaper's rate, a rekey)");
		cr_assert_eq(probes[k].slots[2], 2);
	}
	cr_assert_str_eq(order, "1R0R0C1C0A1A", "removed: the later module first");
}

Test(tenant_hooks, what_a_module_adds_reaches_the_table_json_and_metrics)
{
	w.stats.tenant[1].rx_bytes[DP_LAN] = 150000;
	w.stats.tenant[1].bridged_bytes[DP_LAN] = 100000; /* the worker's own: what it bridged */
	w.stats.tenant[1].flows = 6;
	w.now_ms = 1000;
	dp_stats_publish(&w);
	cr_assert_eq(probes[0].stats_calls, 2, "asked for the present slots only (acme, beta)");
	cr_assert_eq(probes[1].stats_calls, 2);
	w.now_ms += 1;
	dp_stats_publish(&w);
	cr_assert_eq(probes[0].stats_calls, 2, "not again before the next step is due");

	struct strait_tenant_stats s[3];
	for (unsigned i = 0; i < 3; i++)
		strait_stats_read(app.stats, i, cfg->tenants[i].generation, &s[i]);
	cr_assert_eq(s[1].generation, 4);
	cr_assert_eq(s[1].lan_in_bytes, 100000, "the worker's own LAN count: its bridged frames");
	cr_assert_eq(s[1].wan_out_bytes, 4000, "the channel's WAN bytes replace the bridged count");
	cr_assert_eq(s[1].channel_state, STRAIT_CHANNEL_UP);
	cr_assert_eq(s[1].channel_rtt_ns, 12500000);
	cr_assert_eq(s[1].queue_bytes, 777, "the second module adds after the first");
	cr_assert_eq(s[1].flows_total, 6);
	cr_assert_eq(s[0].channel_state, STRAIT_CHANNEL_NONE, "acme's slot untouched by beta's");
	cr_assert_eq(s[2].generation, 0, "the empty slot never published");

	struct strait_status st = { .started_at = 1 };
	struct strait_api_view v = { .cfg = cfg, .status = &st, .stats = s };
	json_t *j = strait_api_tenant_json(&v, 1);
	cr_assert_not_null(j);
	char *text = json_dumps(j, JSON_COMPACT);
	cr_assert_not_null(strstr(text, "\"state\":\"up\""), "%s", text);
	cr_assert_not_null(strstr(text, "\"peer_down\":3"), "%s", text);
	free(text);
	json_decref(j);

	size_t len;
	char *m = strait_api_metrics(&v, &len);
	cr_assert_not_null(m);
	const char *want[] = {
		"strait_tenant_channel_state{tenant=\"beta\",state=\"up\"} 1\n",
		"strait_tenant_channel_rtt_seconds{tenant=\"beta\"} 0.0125", /* %.17g */
		"strait_tenant_wan_bytes_total{tenant=\"beta\",direction=\"out\"} 4000\n",
		"strait_tenant_cache_hits_total{tenant=\"beta\"} 9\n",
		"strait_tenant_queue_bytes{tenant=\"beta\"} 777\n",
		"strait_tenant_flows{tenant=\"beta\",state=\"optimized\"} 2\n",
		"strait_tenant_flows_unoptimized_total{tenant=\"beta\",reason=\"peer_down\"} 3\n",
		"strait_tenant_channel_state{tenant=\"acme\",state=\"none\"} 1\n",
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		cr_assert_not_null(strstr(m, want[i]), "/metrics lacks %s", want[i]);
	free(m);
}
