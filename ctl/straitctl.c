/* SPDX-License-Identifier: BSD-3-Clause */
/* straitctl: the command line on straitd's control API (ctl/README.md).
 *
 *   straitctl [-c FILE] [--url URL] [--token-file FILE] [--json] COMMAND
 *     show [TENANT]        the appliance and its tenants, as `wg show` does
 *     tenants              one line per tenant
 *     reload [--dry-run]   apply the configuration files (or show the diff)
 *     metrics              the Prometheus exposition
 *
 * Where straitd listens and its token come from the appliance file's
 * [Control] (default /etc/strait/appliance.conf); --url (http://HOST:PORT
 * or unix:PATH) and --token-file override them. HTTP through libcurl.
 * Exit codes (for scripts): see enum exit_code. Errors are one line on
 * stderr; with --json, an error answer's body is also printed on stdout.
 */
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "strait/ctl.h"

#define DEFAULT_CONFIG "/etc/strait/appliance.conf"

enum exit_code {
	EXIT_OK = 0,
	EXIT_ERROR = 1,        /* straitd answered an error, or another failure */
	EXIT_USAGE = 2,        /* bad command line */
	EXIT_UNREACHABLE = 3,  /* no answer from straitd */
	EXIT_AUTH = 4,         /* the token was refused, or cannot be read */
	EXIT_REFUSED = 5,      /* reload: the configuration was refused */
	EXIT_NOT_FOUND = 6,    /* show TENANT: no such tenant */
};

enum {
	ANSWER_MAX = 256 << 20, /* a /metrics of 1,024 tenants is a few MB */
	CONNECT_TIMEOUT_S = 5,
	TIMEOUT_S = 60,         /* a reload of 1,024 tenant files takes well under 1 s */
};

struct opts {
	const char *config, *url, *token_file;
	bool json, dry_run;
	char base[STRAIT_SOCKET_PATH_MAX + 64]; /* http://host:port, or http://localhost */
	char unix_path[STRAIT_SOCKET_PATH_MAX];
	char token[STRAIT_TOKEN_MAX + 1];
	char token_src[PATH_MAX];
};

static bool color;

static void die_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void die_msg(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("straitctl: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: straitctl [-c FILE] [--url URL] [--token-file FILE] [--json] COMMAND\n"
		"  show [TENANT]        the appliance and its tenants (or one tenant in full)\n"
		"  tenants              one line per tenant\n"
		"  reload [--dry-run]   apply the configuration files; --dry-run: the diff only\n"
		"  metrics              the Prometheus exposition (--json: one object per sample)\n"
		"Options:\n"
		"  -c, --config FILE    appliance file with [Control] (default " DEFAULT_CONFIG ")\n"
		"  --url URL            http://127.0.0.1:8470 or unix:/run/strait/api.sock\n"
		"  --token-file FILE    the API token (default: [Control] TokenFile)\n"
		"  --json               print straitd's JSON\n"
		"Exit: 0 ok, 1 error answer, 2 usage, 3 straitd unreachable, 4 token refused,\n"
		"      5 configuration refused, 6 no such tenant.\n");
}

/* ---- where and how to talk to straitd ---- */

static int set_url(struct opts *o, const char *url)
{
	if (!strncmp(url, "unix:", 5) || url[0] == '/') {
		const char *p = url[0] == '/' ? url : url + 5;
		if (!*p || strlen(p) >= sizeof(o->unix_path))
			return -1;
		snprintf(o->unix_path, sizeof(o->unix_path), "%s", p);
		snprintf(o->base, sizeof(o->base), "http://localhost");
		return 0;
	}
	if (strncmp(url, "http://", 7) || strlen(url) >= sizeof(o->base))
		return -1;
	snprintf(o->base, sizeof(o->base), "%s", url);
	size_t n = strlen(o->base);
	while (n > 7 && o->base[n - 1] == '/')
		o->base[--n] = '\0';
	return 0;
}

/* The first [Control] Listen; a wildcard address is reached on loopback. */
static void url_from_listen(struct opts *o, const struct strait_listen *l)
{
	static const uint8_t any[16];
	if (!l->family) {
		snprintf(o->unix_path, sizeof(o->unix_path), "%s", l->path);
		snprintf(o->base, sizeof(o->base), "http://localhost");
		return;
	}
	struct strait_listen t = *l;
	if (!memcmp(t.addr, any, t.family == 4 ? 4 : 16)) {
		memset(t.addr, 0, sizeof(t.addr));
		if (t.family == 4)
			t.addr[0] = 127, t.addr[3] = 1;
		else
			t.addr[15] = 1;
	}
	char a[STRAIT_SOCKET_PATH_MAX + 8];
	snprintf(o->base, sizeof(o->base), "http://%s", strait_listen_str(&t, a, sizeof(a)));
}

static int setup(struct opts *o)
{
	char buf[1024];
	struct strait_error err;
	if (o->url && set_url(o, o->url)) {
		die_msg("--url %s: expected http://HOST:PORT or unix:PATH", o->url);
		return EXIT_USAGE;
	}
	if (!o->url || !o->token_file) {
		static struct strait_appliance_cfg a; /* large: not on the stack */
		int r = strait_appliance_load(o->config, &a, &err);
		if (r) {
			die_msg("%s", strait_error_str(&err, buf, sizeof(buf)));
			return EXIT_ERROR;
		}
		if (!a.control.n_listen) {
			die_msg("%s: no [Control] Listen: the control API is off (or give --url and --token-file)",
				o->config);
			return EXIT_ERROR;
		}
		if (!o->url)
			url_from_listen(o, &a.control.listen[0]);
		if (!o->token_file) {
			snprintf(o->token_src, sizeof(o->token_src), "%s", a.control.token_file);
			if (strait_token_load(&a, o->token, sizeof(o->token), &err)) {
				die_msg("%s", strait_error_str(&err, buf, sizeof(buf)));
				return EXIT_AUTH;
			}
		}
	}
	if (o->token_file) {
		snprintf(o->token_src, sizeof(o->token_src), "%s", o->token_file);
		if (strait_token_read(o->token_file, o->token, sizeof(o->token), &err)) {
			die_msg("%s", strait_error_str(&err, buf, sizeof(buf)));
			return EXIT_AUTH;
		}
	}
	return EXIT_OK;
}

struct answer {
	long status;
	char *body;
	size_t len;
	bool too_big;
};

static size_t collect(char *p, size_t size, size_t n, void *arg)
{
	struct answer *a = arg;
	size_t k = size * n;
	if (a->len + k > ANSWER_MAX) {
		a->too_big = true;
		return 0;
	}
	char *b = realloc(a->body, a->len + k + 1);
	if (!b)
		return 0;
	memcpy(b + a->len, p, k);
	a->body = b;
	a->len += k;
	b[a->len] = '\0';
	return k;
}

static const char *where(const struct opts *o)
{
	return o->unix_path[0] ? o->unix_path : o->base;
}

/* One request; on failure prints the one-line error and returns its exit
 * code (the answer's body kept for --json). */
static int request(const struct opts *o, const char *method, const char *path, const char *body,
		   struct answer *a)
{
	memset(a, 0, sizeof(*a));
	CURL *c = curl_easy_init();
	if (!c) {
		die_msg("cannot start libcurl");
		return EXIT_ERROR;
	}
	char url[sizeof(o->base) + 256], auth[STRAIT_TOKEN_MAX + 32];
	snprintf(url, sizeof(url), "%s%s", o->base, path);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", o->token);
	struct curl_slist *h = curl_slist_append(NULL, auth);
	h = curl_slist_append(h, "Accept: application/json");
	if (body)
		h = curl_slist_append(h, "Content-Type: application/json");
	char errbuf[CURL_ERROR_SIZE] = "";
	curl_easy_setopt(c, CURLOPT_URL, url);
	if (o->unix_path[0])
		curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, o->unix_path);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (body)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, a);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)CONNECT_TIMEOUT_S);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)TIMEOUT_S);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	CURLcode r = curl_easy_perform(c);
	long os_errno = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &a->status);
	curl_easy_getinfo(c, CURLINFO_OS_ERRNO, &os_errno);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	explicit_bzero(auth, sizeof(auth));
	if (r != CURLE_OK) {
		if (a->too_big)
			die_msg("%s%s: the answer is larger than %d MiB", where(o), path, ANSWER_MAX >> 20);
		else if (o->unix_path[0] && r == CURLE_COULDNT_CONNECT)
			/* libcurl names the URL's host and port 80, not the socket */
			die_msg("cannot reach straitd at %s: %s", o->unix_path,
				os_errno == ECONNREFUSED ? "no one listens on that socket (is straitd "
							   "running with [Control] Listen = it?)" :
				os_errno == ENOENT ? "no such socket (is straitd running with "
						     "[Control] Listen = it?)" :
				os_errno ? strerror((int)os_errno) : curl_easy_strerror(r));
		else
			die_msg("cannot reach straitd at %s: %s", where(o), errbuf[0] ? errbuf : curl_easy_strerror(r));
		return a->too_big ? EXIT_ERROR : EXIT_UNREACHABLE;
	}
	if (a->status == 200)
		return EXIT_OK;
	json_t *e = a->body ? json_loads(a->body, 0, NULL) : NULL;
	const char *msg = json_string_value(json_object_get(e, "error"));
	if (a->status == 401)
		die_msg("straitd at %s refused the token from %s", where(o), o->token_src);
	else
		die_msg("%s", msg ? msg : "unexpected answer");
	json_decref(e);
	return a->status == 401 ? EXIT_AUTH
	       : a->status == 422 ? EXIT_REFUSED
	       : a->status == 404 ? EXIT_NOT_FOUND : EXIT_ERROR;
}

/* ---- printing ---- */

#define BOLD(s) (color ? "\x1b[1m" s "\x1b[0m" : s)

static const char *bytes_str(json_int_t b, char *buf, size_t len)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB", "PiB" };
	if (b < 1024) {
		snprintf(buf, len, "%" JSON_INTEGER_FORMAT " B", b);
		return buf;
	}
	double v = (double)b;
	unsigned u = 0;
	for (v /= 1024; v >= 1024 && u < 4; v /= 1024)
		u++;
	snprintf(buf, len, "%.2f %s", v, units[u]);
	return buf;
}

static const char *rate_str(json_int_t bps, char *buf, size_t len)
{
	if (bps >= 1000000000 && bps % 1000000 == 0)
		snprintf(buf, len, "%g Gbit/s", (double)bps / 1e9);
	else if (bps >= 1000000)
		snprintf(buf, len, "%g Mbit/s", (double)bps / 1e6);
	else if (bps >= 1000)
		snprintf(buf, len, "%g kbit/s", (double)bps / 1e3);
	else
		snprintf(buf, len, "%" JSON_INTEGER_FORMAT " bit/s", bps);
	return buf;
}

static const char *duration_str(double s, char *buf, size_t len)
{
	if (s < 1)
		snprintf(buf, len, "%.1f ms", s * 1000);
	else if (s < 120)
		snprintf(buf, len, "%.1f s", s);
	else {
		uint64_t t = (uint64_t)s;
		uint64_t d = t / 86400, h = t / 3600 % 24, m = t / 60 % 60;
		if (d)
			snprintf(buf, len, "%" PRIu64 " d %" PRIu64 " h", d, h);
		else if (h)
			snprintf(buf, len, "%" PRIu64 " h %" PRIu64 " min", h, m);
		else
			snprintf(buf, len, "%" PRIu64 " min %" PRIu64 " s", m, t % 60);
	}
	return buf;
}

/* o["a"]["b"]["c"] for "a.b.c", or NULL */
static json_t *get(json_t *o, const char *path)
{
	char buf[128];
	snprintf(buf, sizeof(buf), "%s", path);
	json_t *v = o;
	for (char *save = NULL, *k = strtok_r(buf, ".", &save); k && v; k = strtok_r(NULL, ".", &save))
		v = json_object_get(v, k);
	return v;
}

static json_int_t num(json_t *o, const char *path)
{
	json_t *v = get(o, path);
	return json_is_integer(v) ? json_integer_value(v) : 0;
}

static const char *str(json_t *o, const char *path)
{
	const char *s = json_string_value(get(o, path));
	return s ? s : "?";
}

static void print_list(json_t *arr, const char *sep)
{
	size_t i;
	json_t *v;
	json_array_foreach(arr, i, v)
		printf("%s%s", i ? sep : "", json_string_value(v) ? json_string_value(v) : "?");
	if (!json_array_size(arr))
		printf("(none)");
}

static void print_tenant(json_t *t, bool full)
{
	char b1[32], b2[32];
	printf("%s: %s\n", BOLD("tenant"), str(t, "name"));
	json_t *rtt = get(t, "channel.rtt_s"), *loss = get(t, "channel.loss");
	printf("  %s: %s", BOLD("channel"), str(t, "channel.state"));
	if (json_is_number(rtt))
		printf(", rtt %s", duration_str(json_number_value(rtt), b1, sizeof(b1)));
	if (json_is_number(loss))
		printf(", loss %.2f %%", json_number_value(loss) * 100);
	printf("\n");
	printf("  %s: %s in, %s out\n", BOLD("lan"), bytes_str(num(t, "lan.in_bytes"), b1, sizeof(b1)),
	       bytes_str(num(t, "lan.out_bytes"), b2, sizeof(b2)));
	printf("  %s: %s out, %s in\n", BOLD("wan"), bytes_str(num(t, "wan.out_bytes"), b1, sizeof(b1)),
	       bytes_str(num(t, "wan.in_bytes"), b2, sizeof(b2)));
	json_t *red = get(t, "data_reduction"), *hit = get(t, "cache_hit_rate");
	if (json_is_number(red) || json_is_number(hit)) {
		printf("  %s:", BOLD("reduction"));
		if (json_is_number(red))
			printf(" %.1f %%", json_number_value(red) * 100);
		if (json_is_number(hit))
			printf("%s cache hit rate %.1f %%", json_is_number(red) ? "," : "",
			       json_number_value(hit) * 100);
		printf("\n");
	}
	json_t *lag = get(t, "replication_lag_s"), *rpo = get(t, "rpo_target_s");
	char b3[32];
	printf("  %s: %s, replication lag %s%s%s%s\n", BOLD("queue"),
	       bytes_str(num(t, "queue_bytes"), b1, sizeof(b1)),
	       json_is_number(lag) ? duration_str(json_number_value(lag), b2, sizeof(b2))
	       : num(t, "queue_bytes") ? "stalled" : "none",
	       json_is_number(rpo) ? " (RpoTarget " : "",
	       json_is_number(rpo) ? duration_str(json_number_value(rpo), b3, sizeof(b3)) : "",
	       !json_is_number(rpo) ? "" : json_is_true(get(t, "rpo_urgent")) ? ", borrowing first)"
	       : ")");
	printf("  %s: %" JSON_INTEGER_FORMAT " optimized, %" JSON_INTEGER_FORMAT " opening, %"
	       JSON_INTEGER_FORMAT " closing, %" JSON_INTEGER_FORMAT " bridged; %" JSON_INTEGER_FORMAT
	       " in all\n", BOLD("flows"), num(t, "flows.optimized"), num(t, "flows.opening"),
	       num(t, "flows.closing"), num(t, "flows.bridged"), num(t, "flows.total"));
	if (!full)
		return;
	json_t *not = get(t, "not_optimized");
	const char *key;
	json_t *v;
	bool any = false;
	json_object_foreach(not, key, v) {
		if (!json_integer_value(v))
			continue;
		printf("%s%" JSON_INTEGER_FORMAT " %s", any ? ", " : "  " "not optimized: ",
		       json_integer_value(v), key);
		any = true;
	}
	if (any)
		printf("\n");
	printf("  %s: ", BOLD("intercepts"));
	print_list(get(t, "interception.client_prefixes"), ", ");
	printf(" -> ");
	print_list(get(t, "interception.server_prefixes"), ", ");
	printf(" ports ");
	print_list(get(t, "interception.ports"), ", ");
	printf("\n");
	printf("  %s: %s, inner %s -> %s, peer down: %s\n", BOLD("peer"), str(t, "peer.endpoint"),
	       str(t, "peer.inner_address"), str(t, "peer.peer_inner_address"), str(t, "peer.peer_down"));
	json_int_t g = num(t, "bandwidth.guaranteed_bps"), ceil = num(t, "bandwidth.ceiling_bps");
	printf("  %s: guaranteed %s, ceiling %s, priority %" JSON_INTEGER_FORMAT ", weight %"
	       JSON_INTEGER_FORMAT "\n", BOLD("bandwidth"), g ? rate_str(g, b1, sizeof(b1)) : "none",
	       ceil ? rate_str(ceil, b2, sizeof(b2)) : "link rate", num(t, "bandwidth.priority"),
	       num(t, "bandwidth.weight"));
	printf("  %s: %s per direction (window %s), %" JSON_INTEGER_FORMAT " hits, %"
	       JSON_INTEGER_FORMAT " misses\n", BOLD("cache"),
	       bytes_str(num(t, "cache.size_bytes"), b1, sizeof(b1)),
	       bytes_str(num(t, "cache.window_bytes"), b2, sizeof(b2)), num(t, "cache.hits"),
	       num(t, "cache.misses"));
	printf("  %s: %s\n", BOLD("file"), str(t, "file"));
}

static void print_status(json_t *s)
{
	char b1[32], b2[32];
	printf("%s: %s\n", BOLD("appliance"), str(s, "appliance"));
	printf("  %s: %s\n", BOLD("version"), str(s, "version"));
	printf("  %s: %s\n", BOLD("uptime"), duration_str(json_number_value(get(s, "uptime_s")), b1, sizeof(b1)));
	json_int_t w = num(s, "workers");
	if (w)
		printf("  %s: %" JSON_INTEGER_FORMAT "\n", BOLD("workers"), w);
	else
		printf("  %s: single-lcore mode\n", BOLD("workers"));
	printf("  %s: %s, generation %" JSON_INTEGER_FORMAT ", %" JSON_INTEGER_FORMAT " tenant(s)\n",
	       BOLD("configuration"), str(s, "config.file"), num(s, "config.generation"), num(s, "tenants"));
	json_t *last = get(s, "config.last_reload");
	if (json_is_object(last)) {
		time_t at = (time_t)num(last, "at");
		char when[64];
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", localtime(&at));
		if (json_is_true(get(last, "ok")))
			printf("  %s: %s, %s\n", BOLD("last reload"), when,
			       json_is_true(get(last, "dry_run")) ? "dry run" : "applied");
		else
			printf("  %s: %s, refused: %s\n", BOLD("last reload"), when, str(last, "error"));
	}
	printf("  %s: ", BOLD("listening"));
	print_list(get(s, "listen"), ", ");
	printf("\n");
	const char *ports[2] = { "lan", "wan" };
	for (int p = 0; p < 2; p++) {
		char k1[32], k2[32], k3[32];
		snprintf(k1, sizeof(k1), "ports.%s.rx_bytes", ports[p]);
		snprintf(k2, sizeof(k2), "ports.%s.tx_bytes", ports[p]);
		snprintf(k3, sizeof(k3), "ports.%s.dropped", ports[p]);
		printf("  %s: %s received, %s sent, %" JSON_INTEGER_FORMAT " dropped\n",
		       p ? BOLD("wan") : BOLD("lan"), bytes_str(num(s, k1), b1, sizeof(b1)),
		       bytes_str(num(s, k2), b2, sizeof(b2)), num(s, k3));
	}
	printf("  %s: %" JSON_INTEGER_FORMAT " active, %" JSON_INTEGER_FORMAT " matched no rule\n",
	       BOLD("flows"), num(s, "flows.active"), num(s, "flows.no_rule"));
}

static void print_json(json_t *o)
{
	char *s = json_dumps(o, JSON_INDENT(2));
	if (s)
		printf("%s\n", s);
	free(s);
}

/* The answer as JSON, or NULL after printing why. */
static json_t *parse(const struct opts *o, const struct answer *a, const char *path)
{
	json_error_t e;
	json_t *j = a->body ? json_loadb(a->body, a->len, 0, &e) : NULL;
	if (!j)
		die_msg("%s%s: the answer is not JSON", where(o), path);
	return j;
}

/* An error answer's body on stdout, for scripts (--json). */
static int fail(const struct opts *o, struct answer *a, int code)
{
	if (o->json && a->body && a->status >= 400)
		fputs(a->body, stdout);
	free(a->body);
	return code;
}

/* One request whose answer is JSON: 0 with *out, or the exit code (the
 * one-line error printed). */
static int call_json(const struct opts *o, const char *method, const char *path,
		     const char *body, json_t **out)
{
	struct answer a;
	int r = request(o, method, path, body, &a);
	if (r)
		return fail(o, &a, r);
	*out = parse(o, &a, path);
	free(a.body);
	return *out ? EXIT_OK : EXIT_ERROR;
}

/* --json: the answer as it came. Takes the reference. */
static int print_done(json_t *j)
{
	print_json(j);
	json_decref(j);
	return EXIT_OK;
}

/* ---- commands ---- */

static int cmd_show(const struct opts *o, const char *tenant)
{
	json_t *s, *t;
	int r;
	if (tenant) {
		char path[128];
		if (strlen(tenant) >= STRAIT_NAME_MAX || strchr(tenant, '/')) {
			die_msg("no such tenant: %s", tenant);
			return EXIT_NOT_FOUND;
		}
		snprintf(path, sizeof(path), "/v1/tenants/%s", tenant);
		if ((r = call_json(o, "GET", path, NULL, &t)))
			return r;
		if (o->json)
			return print_done(t);
		print_tenant(t, true);
		json_decref(t);
		return EXIT_OK;
	}
	if ((r = call_json(o, "GET", "/v1/status", NULL, &s)))
		return r;
	if ((r = call_json(o, "GET", "/v1/tenants", NULL, &t))) {
		json_decref(s);
		return r;
	}
	if (o->json) {
		json_t *both = json_pack("{s:O, s:O}", "status", s, "tenants", json_object_get(t, "tenants"));
		json_decref(s);
		json_decref(t);
		return print_done(both);
	}
	print_status(s);
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(t, "tenants"), i, v) {
		printf("\n");
		print_tenant(v, false);
	}
	json_decref(s);
	json_decref(t);
	return EXIT_OK;
}

static int cmd_tenants(const struct opts *o)
{
	json_t *t;
	int r = call_json(o, "GET", "/v1/tenants", NULL, &t);
	if (r)
		return r;
	if (o->json)
		return print_done(t);
	printf("%-31s %-10s %10s %12s %12s %9s %12s %10s %7s\n", "TENANT", "CHANNEL", "RTT", "LAN IN",
	       "WAN OUT", "REDUCTION", "QUEUE", "LAG", "FLOWS");
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(t, "tenants"), i, v) {
		char b1[32], b2[32], b3[32], rtt[32] = "-", red[32] = "-", lag[32] = "-";
		json_t *x = get(v, "channel.rtt_s");
		if (json_is_number(x))
			duration_str(json_number_value(x), rtt, sizeof(rtt));
		if (json_is_number(x = get(v, "data_reduction")))
			snprintf(red, sizeof(red), "%.1f %%", json_number_value(x) * 100);
		if (json_is_number(x = get(v, "replication_lag_s")))
			duration_str(json_number_value(x), lag, sizeof(lag));
		else if (num(v, "queue_bytes"))
			snprintf(lag, sizeof(lag), "stalled");
		printf("%-31s %-10s %10s %12s %12s %9s %12s %10s %7" JSON_INTEGER_FORMAT "\n",
		       str(v, "name"), str(v, "channel.state"), rtt,
		       bytes_str(num(v, "lan.in_bytes"), b1, sizeof(b1)),
		       bytes_str(num(v, "wan.out_bytes"), b2, sizeof(b2)), red,
		       bytes_str(num(v, "queue_bytes"), b3, sizeof(b3)), lag,
		       num(v, "flows.optimized") + num(v, "flows.opening") + num(v, "flows.closing") +
			       num(v, "flows.bridged"));
	}
	json_decref(t);
	return EXIT_OK;
}

static int cmd_reload(const struct opts *o)
{
	json_t *d;
	int r = call_json(o, "POST", "/v1/reload",
			  o->dry_run ? "{\"dry_run\": true}" : "{\"dry_run\": false}", &d);
	if (r)
		return r;
	if (o->json)
		return print_done(d);
	bool any = false;
	if (o->dry_run)
		printf("dry run: nothing applied\n");
	static const char *const lists[] = { "added", "removed" };
	for (int l = 0; l < 2; l++) {
		json_t *arr = json_object_get(d, lists[l]);
		if (!json_array_size(arr))
			continue;
		printf("%s: ", lists[l]);
		print_list(arr, ", ");
		printf("\n");
		any = true;
	}
	size_t i;
	json_t *c;
	json_array_foreach(json_object_get(d, "changed"), i, c) {
		printf("changed: %s (", str(c, "name"));
		print_list(json_object_get(c, "fields"), ", ");
		printf("; applied as: ");
		print_list(json_object_get(c, "apply"), ", ");
		printf(")\n");
		any = true;
	}
	json_t *app = json_object_get(d, "appliance");
	if (json_array_size(app)) {
		printf("appliance: ");
		print_list(app, ", ");
		printf("\n");
		any = true;
	}
	if (!any)
		printf("no changes\n");
	json_decref(d);
	return EXIT_OK;
}

/* The exposition as JSON: [{"name", "labels": {...}, "value"}] (a value
 * that JSON cannot hold, +Inf or NaN, is null). */
static json_t *metrics_json(char *text)
{
	json_t *arr = json_array();
	for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '#' || !line[0])
			continue;
		char *sp = strrchr(line, ' ');
		if (!sp)
			continue;
		*sp = '\0';
		double v = strtod(sp + 1, NULL);
		json_t *labels = json_object();
		char *brace = strchr(line, '{');
		if (brace) {
			*brace = '\0';
			char *p = brace + 1;
			while (*p && *p != '}') {
				char *eq = strchr(p, '=');
				if (!eq || eq[1] != '"')
					break;
				*eq = '\0';
				char val[512];
				size_t n = 0;
				char *q = eq + 2;
				for (; *q && *q != '"' && n < sizeof(val) - 1; q++) {
					if (*q == '\\' && q[1])
						q++;
					val[n++] = *q == 'n' && q[-1] == '\\' ? '\n' : *q;
				}
				val[n] = '\0';
				json_object_set_new(labels, p, json_string(val));
				p = *q ? q + 1 : q;
				if (*p == ',')
					p++;
			}
		}
		json_array_append_new(arr, json_pack("{s:s, s:o, s:o}", "name", line, "labels", labels,
						     "value", isfinite(v) ? json_real(v) : json_null()));
	}
	return arr;
}

static int cmd_metrics(const struct opts *o)
{
	struct answer a;
	int r = request(o, "GET", "/metrics", NULL, &a);
	if (r)
		return fail(o, &a, r);
	if (o->json) {
		json_t *j = metrics_json(a.body ? a.body : (char[]){ "" });
		print_json(j);
		json_decref(j);
	} else if (a.body) {
		fwrite(a.body, 1, a.len, stdout);
	}
	free(a.body);
	return EXIT_OK;
}

int main(int argc, char **argv)
{
	static struct opts o;
	o.config = DEFAULT_CONFIG;
	enum { OPT_URL = 256, OPT_TOKEN, OPT_JSON, OPT_DRY };
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "url", required_argument, NULL, OPT_URL },
		{ "token-file", required_argument, NULL, OPT_TOKEN },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "dry-run", no_argument, NULL, OPT_DRY },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;
	while ((ch = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': o.config = optarg; break;
		case OPT_URL: o.url = optarg; break;
		case OPT_TOKEN: o.token_file = optarg; break;
		case OPT_JSON: o.json = true; break;
		case OPT_DRY: o.dry_run = true; break;
		case 'h': usage(stdout); return EXIT_OK;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	const char *cmd = argv[optind++];
	int nargs = argc - optind;
	bool known = (!strcmp(cmd, "show") && nargs <= 1) ||
		     ((!strcmp(cmd, "tenants") || !strcmp(cmd, "reload") || !strcmp(cmd, "metrics")) && !nargs);
	if (!known || (o.dry_run && strcmp(cmd, "reload"))) {
		if (known)
			die_msg("--dry-run is for reload only");
		else
			die_msg("unknown command or arguments: %s", cmd);
		usage(stderr);
		return EXIT_USAGE;
	}
	color = !o.json && isatty(STDOUT_FILENO) && !getenv("NO_COLOR");
	int r = setup(&o);
	if (r)
		return r;
	if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
		die_msg("cannot start libcurl");
		return EXIT_ERROR;
	}
	if (!strcmp(cmd, "show"))
		r = cmd_show(&o, nargs ? argv[optind] : NULL);
	else if (!strcmp(cmd, "tenants"))
		r = cmd_tenants(&o);
	else if (!strcmp(cmd, "reload"))
		r = cmd_reload(&o);
	else
		r = cmd_metrics(&o);
	explicit_bzero(o.token, sizeof(o.token));
	curl_global_cleanup();
	return r;
}
