/* SPDX-License-Identifier: BSD-3-Clause */
/* Workers publish their tenants' statistics for the control API
 * (include/strait/stats.h): between bursts, a tenth of the slots every
 * STRAIT_STATS_PERIOD_MS / 10, so every tenant is published once per
 * period and no iteration copies 1,024 of them at once. Each publication
 * is the worker's own counters for the tenant, then what each module adds
 * (dp_hooks.h, tenant_stats()). No lock, no wait: the table's slots are
 * this worker's alone. */
#include <string.h>

#include "dp.h"
#include "strait/stats.h"

enum {
	STEPS = 10,                         /* per period */
	STEP_MS = STRAIT_STATS_PERIOD_MS / STEPS,
	PER_STEP = (STRAIT_MAX_TENANTS + STEPS - 1) / STEPS,
};

/* What the worker itself counts: the tenant's frames that no module took
 * went through unchanged (in from the LAN is out on the WAN, and back).
 * The relay adds its streams' bytes, the WAN module its ESP bytes. */
static void core_stats(const struct dp_worker *w, unsigned slot, uint64_t generation,
		       struct strait_tenant_stats *s)
{
	const struct dp_tenant_stats *t = &w->stats.tenant[slot];
	memset(s, 0, sizeof(*s));
	s->generation = generation;
	s->published_ns = w->now_ms * 1000000;
	s->lan_in_bytes = s->wan_out_bytes = t->bridged_bytes[DP_LAN];
	s->wan_in_bytes = s->lan_out_bytes = t->bridged_bytes[DP_WAN];
	s->flows[STRAIT_FLOW_BRIDGED] = t->active;
	s->flows_total = t->flows;
	s->unoptimized[STRAIT_UNOPT_MID_STREAM] = t->mid_stream;
}

unsigned dp_stats_publish(struct dp_worker *w)
{
	if (!w->app->stats || w->now_ms < w->stats_due_ms)
		return 0;
	w->stats_due_ms = w->now_ms + STEP_MS;
	const struct strait_config *cfg = w->cfg;
	unsigned first = w->stats_next, end = first + PER_STEP;
	if (end >= cfg->n_tenants) {
		end = cfg->n_tenants;
		w->stats_next = 0;
	} else {
		w->stats_next = end;
	}
	for (unsigned i = first; i < end; i++) {
		const struct strait_tenant_cfg *t = &cfg->tenants[i];
		if (!strait_tenant_present(t))
			continue;
		struct strait_tenant_stats s;
		core_stats(w, i, t->generation, &s);
		dp_hooks_tenant_stats(w, i, &s);
		strait_stats_publish(w->app->stats, w->id, i, &s);
	}
	return 0; /* bookkeeping, not work: the worker may still back off */
}
