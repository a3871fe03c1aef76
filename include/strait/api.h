/* SPDX-License-Identifier: BSD-3-Clause */
/* The control API: JSON over HTTP (libmicrohttpd, jansson) and /metrics in
 * Prometheus' text format, on the sockets of [Control] Listen, every
 * request authenticated with `Authorization: Bearer TOKEN` (ctl/README.md).
 *
 *   GET  /v1/status          the appliance
 *   GET  /v1/tenants         every tenant, one summary each
 *   GET  /v1/tenants/NAME    one tenant: configuration and statistics
 *   POST /v1/reload          {"dry_run": true|false} -> added/removed/changed
 *   GET  /metrics            Prometheus text format 0.0.4
 *
 * The server runs in a thread of its own and knows the appliance only
 * through a backend (struct strait_api_backend) that straitd provides: the
 * running configuration, the appliance's counters, the per-tenant
 * statistics table (stats.h) and the reload. Nothing here waits for the
 * dataplane, and the dataplane never waits for it.
 */
#ifndef STRAIT_API_H
#define STRAIT_API_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strait/ctl.h"
#include "strait/stats.h"

enum strait_api_limits {
	STRAIT_API_BODY_MAX = 4096,        /* a request body; more: 413 */
	STRAIT_API_HEADERS_MAX = 16384,    /* request line and headers; more: 431 */
	STRAIT_API_CONNECTIONS_MAX = 64,   /* open at once, every socket */
	STRAIT_API_REQUEST_S = 10,         /* to send a whole request; slower: closed */
	STRAIT_API_IDLE_S = 10,            /* silence on a connection; longer: closed */
};

/* The two timeouts, seconds (tests shorten them); 0 = the default. */
struct strait_api_timeouts {
	unsigned request_s, idle_s;
};

/* The appliance as a whole (GET /v1/status, /metrics). */
struct strait_port_status {
	uint64_t rx_packets, rx_bytes, tx_packets, tx_bytes, dropped;
};

struct strait_status {
	char version[32];
	int64_t started_at;          /* Unix time, seconds */
	uint64_t uptime_ns;
	unsigned workers;            /* worker lcores (0: single-lcore mode) */
	uint64_t config_loaded_at;   /* Unix time of the configuration in force */
	uint64_t reloads, reloads_refused;
	struct {
		int64_t at;          /* Unix time; 0: no reload yet */
		bool ok;
		bool dry_run;
		char error[512];     /* "file:line: field: message" when refused */
	} last_reload;
	struct strait_port_status lan, wan;
	uint64_t flows_active;
	uint64_t flows_no_rule;      /* flows that matched no tenant (bridged) */
};

/* What a request is answered from: the running configuration, the
 * appliance, and stats[slot] for each of cfg's slots. */
struct strait_api_view {
	const struct strait_config *cfg;
	const struct strait_status *status;
	const struct strait_tenant_stats *stats; /* [cfg->n_tenants] */
};

/* ---- the running configuration (running.c) ----
 *
 * What the control thread and the API share: the configuration in force
 * (straitd's workers read theirs through their own publication: RCU), the
 * API's token, and the reload that replaces both. Reloads are serialized
 * (the API's and SIGHUP's); readers hold the configuration between get
 * and put (a reload's switch waits for them; keep it short). */

struct strait_running;

/* Applies next (placed, with the diff from cur) to the dataplane; called
 * with the reload serialized. Returns 0 (next becomes current; cur is
 * freed once apply returns: it must no longer be read by then), or a
 * negative errno with err filled (nothing changed). */
typedef int (*strait_apply_fn)(void *arg, const struct strait_config *cur,
			       const struct strait_config *next,
			       const struct strait_config_diff *diff, struct strait_error *err);

/* Takes first (from strait_config_new(), loaded with strait_config_load();
 * its token is read here when [Control] has one). Returns NULL with err
 * filled (first is freed). */
struct strait_running *strait_running_new(struct strait_config *first, struct strait_error *err);
void strait_running_free(struct strait_running *r);
const struct strait_config *strait_running_get(struct strait_running *r);
void strait_running_put(struct strait_running *r, const struct strait_config *cfg);
/* The token of the configuration in force ("" when none); copied. */
void strait_running_token(struct strait_running *r, char *out, size_t len);

/* The files again (the current appliance file's path): loaded, validated,
 * the token read, compared (strait_config_diff()); a dry run stops there;
 * otherwise apply() and the switch. 0 with *diff filled, or a negative
 * errno with err filled and nothing changed. A reload without
 * differences applies nothing. */
int strait_running_reload(struct strait_running *r, bool dry_run, strait_apply_fn apply,
			  void *arg, struct strait_config_diff *diff, struct strait_error *err);

/* The reloads so far, for struct strait_status. */
void strait_running_history(struct strait_running *r, struct strait_status *st);

/* ---- the server (api_server.c) ---- */

struct strait_api_backend {
	/* The configuration in force, the token and the reloads. */
	struct strait_running *running;
	/* Per-tenant statistics; NULL: none published (all zero). */
	const struct strait_stats_table *stats;
	void *arg;
	/* The appliance's counters (version, uptime, ports, flows); the
	 * reload history is filled in by the server. NULL: zeros. */
	void (*status)(void *arg, struct strait_status *out);
	/* A reload's apply (strait_running_reload()); NULL: nothing to do. */
	strait_apply_fn apply;
};

struct strait_api;

/* Opens every socket of the running configuration's [Control] (a Unix
 * socket's stale file is replaced; it is created mode 0600) and starts the
 * server's thread. Returns 0, or -errno with a one-line reason in why. */
int strait_api_start(const struct strait_api_backend *backend,
		     const struct strait_api_timeouts *timeouts, struct strait_api **out,
		     char *why, size_t why_len);
/* A reload as POST /v1/reload does it (SIGHUP's path): the files,
 * strait_running_reload() with the backend's apply, and the token of the
 * configuration now in force. Any thread; serialized with the API's. */
int strait_api_reload(struct strait_api *api, bool dry_run, struct strait_config_diff *diff,
		      struct strait_error *err);
/* Stops the thread, closes the sockets, removes Unix socket files. */
void strait_api_stop(struct strait_api *api);
/* The port a TCP socket got (Listen = 127.0.0.1:0 in tests), or 0. */
uint16_t strait_api_port(const struct strait_api *api, unsigned listen_index);

/* ---- rendering (api_json.c, api_metrics.c): pure functions of a view ---- */

json_t *strait_api_status_json(const struct strait_api_view *v);
json_t *strait_api_tenants_json(const struct strait_api_view *v);
json_t *strait_api_tenant_json(const struct strait_api_view *v, unsigned slot);
/* {"dry_run": b, "added": [names], "removed": [names], "changed":
 * [{"name", "fields": [...], "apply": [...]}], "appliance": [...]} */
json_t *strait_api_diff_json(const struct strait_config_diff *d, bool dry_run);
/* {"error": "file:line: field: msg", "file", "line", "field"} */
json_t *strait_api_error_json(const struct strait_error *err);
/* The Prometheus text exposition (format 0.0.4); malloc'd, *len its size.
 * NULL on ENOMEM. */
char *strait_api_metrics(const struct strait_api_view *v, size_t *len);

#endif
