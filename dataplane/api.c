/* SPDX-License-Identifier: BSD-3-Clause */
/* The control API inside straitd (ctl/README.md): ctl's server on the
 * sockets of [Control] Listen, in a thread of its own, answering from
 * straitd's running configuration, its counters and the per-tenant
 * statistics the workers publish; POST /v1/reload applies through
 * reload.c. The thread sleeps in epoll and never touches a port, a queue
 * or a worker's state: workers never wait for it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dp.h"
#include "strait/api.h"

#ifndef STRAIT_VERSION
#define STRAIT_VERSION "unknown"
#endif

static void status(void *arg, struct strait_status *st)
{
	const struct dp_app *app = arg;
	struct dp_stats *s = malloc(sizeof(*s)); /* ~60 KB: not on the stack */
	snprintf(st->version, sizeof(st->version), "%s", STRAIT_VERSION);
	st->started_at = app->started_at;
	st->uptime_ns = (dp_now_ms() - app->start_ms) * 1000000;
	st->workers = app->single ? 0 : app->n_workers;
	if (!s)
		return;
	dp_stats_sum(app, s);
	struct strait_port_status *ps[DP_NPORTS] = { &st->lan, &st->wan };
	for (int p = 0; p < DP_NPORTS; p++) {
		const struct dp_port_stats *x = &s->port[p];
		ps[p]->rx_packets = x->rx_pkts;
		ps[p]->rx_bytes = x->rx_bytes;
		ps[p]->tx_packets = x->tx_pkts;
		ps[p]->tx_bytes = x->tx_bytes;
		for (int d = 0; d < DROP_COUNT; d++)
			ps[p]->dropped += x->drops[d];
	}
	st->flows_active = s->flows_active;
	st->flows_no_rule = s->flows.no_rule;
	free(s);
}

int dp_api_start(struct dp_app *app)
{
	const struct strait_config *cfg = strait_running_get(app->running);
	unsigned n = cfg->appliance.control.n_listen;
	struct strait_control_cfg cc = cfg->appliance.control;
	strait_running_put(app->running, cfg);
	if (!n)
		return 0;
	struct strait_api_backend be = {
		.running = app->running,
		.stats = app->stats,
		.arg = app,
		.status = status,
		.apply = dp_reload_apply,
	};
	char why[512];
	int r = strait_api_start(&be, NULL, &app->api, why, sizeof(why));
	if (r) {
		fprintf(stderr, "straitd: [Control] Listen: %s\n", why);
		return r;
	}
	for (unsigned i = 0; i < n; i++) {
		struct strait_listen l = cc.listen[i];
		if (l.family)
			l.port = strait_api_port(app->api, i);
		char a[STRAIT_SOCKET_PATH_MAX + 8];
		fprintf(stderr, "straitd: control API on %s\n", strait_listen_str(&l, a, sizeof(a)));
	}
	return 0;
}

void dp_api_stop(struct dp_app *app)
{
	strait_api_stop(app->api);
	app->api = NULL;
}
