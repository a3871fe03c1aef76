/* SPDX-License-Identifier: BSD-3-Clause */
/* The control API's server on real sockets (TCP on loopback, a Unix
 * socket), its configuration from real files, statistics published into
 * the real table: every endpoint, a table of hostile requests with the
 * status each must get, slow clients, token rotation, a refused reload
 * that changes nothing, /metrics through promtool, 1,024 tenants. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "strait/api.h"
#include "tree.h"

static struct tree t;
static struct strait_running *run;
static struct strait_stats_table *stats;
static struct strait_api *api;
static uint16_t port;
static char sock_path[96];

static void status_cb(void *arg, struct strait_status *st)
{
	snprintf(st->version, sizeof(st->version), "test");
	st->workers = 1;
	st->started_at = 1700000000;
	st->uptime_ns = 3000000000ull;
	st->lan.rx_bytes = 1234;
	st->flows_no_rule = 5;
}

static void start(unsigned request_s, unsigned idle_s)
{
	struct strait_config *cfg = strait_config_new();
	struct strait_error err;
	char msg[PATH_MAX + 512], why[256];
	cr_assert(cfg);
	cr_assert_eq(strait_config_load(t.app, cfg, &err), 0, "%s", strait_error_str(&err, msg, sizeof(msg)));
	run = strait_running_new(cfg, &err);
	cr_assert(run, "%s", strait_error_str(&err, msg, sizeof(msg)));
	stats = strait_stats_table_new(2);
	cr_assert(stats);
	struct strait_api_backend be = { .running = run, .stats = stats, .status = status_cb };
	struct strait_api_timeouts to = { request_s, idle_s };
	cr_assert_eq(strait_api_start(&be, &to, &api, why, sizeof(why)), 0, "%s", why);
	port = strait_api_port(api, 0);
	cr_assert_neq(port, 0);
}

static void setup(void)
{
	tree_init(&t);
	snprintf(sock_path, sizeof(sock_path), "%s/api.sock", t.dir);
	char control[256];
	snprintf(control, sizeof(control), "Listen = 127.0.0.1:0\nListen = %s\nTokenFile = token\n", sock_path);
	tree_appliance(&t, NULL, control);
	tree_tenant(&t, "acme", 1, "[Bandwidth]\nGuaranteed = 200M\nCeiling = 1G\nRpoTarget = 5m\n");
	tree_tenant(&t, "globex", 2, NULL);
}

static void teardown(void)
{
	strait_api_stop(api);
	api = NULL;
	strait_running_free(run);
	run = NULL;
	strait_stats_table_free(stats);
	stats = NULL;
	tree_fini(&t);
}

/* ---- a raw HTTP client: sends bytes, reads the answer to the end ---- */

static int connect_tcp(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert(fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "%s", strerror(errno));
	struct timeval tv = { .tv_sec = 10 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

static int connect_unix(void)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
	cr_assert(fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "%s", strerror(errno));
	return fd;
}

struct answer {
	int status;
	char head[4096];
	char *body;
	size_t body_len;
	char *raw;
};

static void answer_free(struct answer *a)
{
	free(a->raw);
	memset(a, 0, sizeof(*a));
}

/* promtool (Debian's prometheus) accepts the exposition in a's body */
static bool promtool_accepts(const struct answer *a)
{
	char path[128], cmd[256];
	snprintf(path, sizeof(path), "%s/metrics.txt", t.dir);
	FILE *f = fopen(path, "w");
	if (!f)
		return false;
	fwrite(a->body, 1, a->body_len, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "promtool check metrics < %s", path);
	return system(cmd) == 0;
}

static void send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
		if (k <= 0)
			return; /* the server may close early (401, 413) */
		p += k;
		n -= (size_t)k;
	}
}

/* Reads to EOF; status 0 when the server closed without an answer. */
static void read_answer(int fd, struct answer *a)
{
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap + 1);
	cr_assert(buf);
	ssize_t k;
	while ((k = recv(fd, buf + len, cap - len, 0)) > 0) {
		len += (size_t)k;
		if (len == cap) {
			cap *= 2;
			buf = realloc(buf, cap + 1);
			cr_assert(buf);
		}
	}
	buf[len] = '\0';
	close(fd);
	memset(a, 0, sizeof(*a));
	a->raw = buf;
	if (sscanf(buf, "HTTP/1.1 %d", &a->status) != 1)
		a->status = 0;
	char *end = strstr(buf, "\r\n\r\n");
	if (end) {
		size_t h = (size_t)(end - buf);
		memcpy(a->head, buf, h < sizeof(a->head) - 1 ? h : sizeof(a->head) - 1);
		a->body = end + 4;
		a->body_len = len - (size_t)(a->body - buf);
	}
}

static void http(int fd, const char *req, size_t len, struct answer *a)
{
	send_all(fd, req, len);
	read_answer(fd, a);
}

/* method path with the token (or `auth` as the whole header line, "" for
 * none) and an optional JSON body. */
static void call(const char *method, const char *path, const char *auth, const char *body,
		 struct answer *a)
{
	char req[8192];
	int n = snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n%s%s%s",
			 method, path, auth ? auth : "Authorization: Bearer " TREE_TOKEN,
			 auth && !*auth ? "" : "\r\n", body ? "" : "\r\n");
	if (body)
		n += snprintf(req + n, sizeof(req) - (size_t)n, "Content-Length: %zu\r\n\r\n%s",
			      strlen(body), body);
	http(connect_tcp(), req, (size_t)n, a);
}

static json_t *json_of(const struct answer *a)
{
	json_error_t e;
	json_t *j = a->body ? json_loadb(a->body, a->body_len, 0, &e) : NULL;
	cr_assert(j, "not JSON (%s): %s", a->body ? e.text : "no body", a->raw);
	return j;
}

/* ---- the hostile table ---- */

#define TOK "Authorization: Bearer " TREE_TOKEN "\r\n"
#define REQ(m, p, h) m " " p " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" h

struct hcase {
	int n;
	const char *req;    /* whole request; NULL: built by the test (big ones) */
	int status;
	const char *in_head, *in_body; /* substrings the answer must hold */
};

static const struct hcase hcases[] = {
	{ 1, REQ("GET", "/v1/status", "\r\n"), 401, "WWW-Authenticate: Bearer", "\"error\"" },
	{ 2, REQ("GET", "/v1/status", "Authorization: Bearer wrong\r\n\r\n"), 401, NULL, "unauthorized" },
	{ 3, REQ("GET", "/v1/status", "Authorization: bearer " TREE_TOKEN "\r\n\r\n"), 200, NULL, "\"appliance\"" },
	{ 4, REQ("GET", "/v1/status", "Authorization: Basic " TREE_TOKEN "\r\n\r\n"), 401, NULL, NULL },
	{ 5, REQ("GET", "/v1/status", "Authorization: Bearer 0123456789abcdef0123456789abcde\r\n\r\n"), 401, NULL, NULL },
	{ 6, REQ("GET", "/v1/status", "Authorization: Bearer " TREE_TOKEN "0\r\n\r\n"), 401, NULL, NULL },
	{ 7, REQ("GET", "/v1/status", "Authorization: Bearer\r\n\r\n"), 401, NULL, NULL },
	/* unknown paths and methods: the token first, so nothing is told
	 * to a client without one */
	{ 8, REQ("GET", "/v1/nope", "\r\n"), 401, NULL, NULL },
	{ 9, REQ("GET", "/v1/nope", TOK "\r\n"), 404, NULL, "no such endpoint" },
	{ 10, REQ("GET", "/v1/tenants/", TOK "\r\n"), 404, NULL, NULL },
	{ 11, REQ("GET", "/v1/tenants/acme/x", TOK "\r\n"), 404, NULL, NULL },
	{ 12, REQ("GET", "/v1/tenants/zzz", TOK "\r\n"), 404, NULL, "no such tenant: zzz" },
	{ 13, REQ("GET", "/v1/tenants/%ff%fe%22", TOK "\r\n"), 404, NULL, "no such tenant (names" },
	{ 14, REQ("GET", "/v1/status/", TOK "\r\n"), 404, NULL, NULL },
	{ 15, REQ("GET", "/V1/STATUS", TOK "\r\n"), 404, NULL, NULL },
	{ 16, REQ("DELETE", "/v1/status", TOK "\r\n"), 405, "Allow: GET, HEAD", NULL },
	{ 17, REQ("GET", "/v1/reload", TOK "\r\n"), 405, "Allow: POST", NULL },
	{ 18, REQ("POST", "/v1/status", TOK "Content-Length: 0\r\n\r\n"), 405, NULL, NULL },
	{ 19, REQ("PUT", "/metrics", TOK "Content-Length: 2\r\n\r\n{}"), 405, NULL, NULL },
	/* reload bodies */
	{ 20, REQ("POST", "/v1/reload", TOK "Content-Length: 8\r\n\r\nnot json"), 400, NULL, "not JSON" },
	{ 21, REQ("POST", "/v1/reload", TOK "Content-Length: 3\r\n\r\n[1]"), 400, NULL, "must be an object" },
	{ 22, REQ("POST", "/v1/reload", TOK "Content-Length: 17\r\n\r\n{\"dry_run\":\"yes\"}"), 400, NULL, "true or false" },
	{ 23, REQ("POST", "/v1/reload", TOK "Content-Length: 23\r\n\r\n{\"dry_run\":true,\"x\":1}\n"), 400, NULL, "unknown key" },
	{ 24, REQ("POST", "/v1/reload", TOK "Content-Length: 32\r\n\r\n{\"dry_run\":true,\"dry_run\":false}"), 400, NULL, "not JSON" },
	{ 25, REQ("POST", "/v1/reload", TOK "Content-Length: 4\r\n\r\n{\"\xff\""), 400, NULL, "not JSON" },
	{ 26, REQ("POST", "/v1/reload", TOK "Content-Length: 14\r\n\r\n{\"dry_run\":tru"), 400, NULL, "not JSON" },
	{ 27, REQ("POST", "/v1/reload", TOK "Content-Length: 16\r\n\r\n{\"dry_run\":true}"), 200, NULL, "\"added\"" },
	{ 28, REQ("POST", "/v1/reload", TOK "Content-Length: 100000\r\n\r\n{}"), 413, NULL, "larger than" },
	{ 29, REQ("POST", "/v1/reload", TOK "Transfer-Encoding: chunked\r\n\r\n"
		  "10\r\n{\"dry_run\":true}\r\n0\r\n\r\n"), 200, NULL, "\"dry_run\": true" },
	{ 30, NULL, 413, NULL, "larger than" },   /* chunked, past the limit */
	{ 31, NULL, 400, NULL, "must be an object" }, /* 2,000 nested arrays */
	{ 32, NULL, 0, NULL, NULL },              /* 20 KiB of headers: 4xx or closed */
	{ 33, NULL, 0, NULL, NULL },              /* a 20 KiB path */
	{ 34, "HELLO\r\n\r\n", 0, NULL, NULL },
	{ 35, "GET /v1/status HTTP/1.1\r\nConnection: close\r\n" TOK "\r\n", 400, NULL, NULL }, /* no Host */
	{ 36, REQ("HEAD", "/v1/status", TOK "\r\n"), 200, "application/json", NULL },
	{ 37, REQ("GET", "/metrics", TOK "\r\n"), 200, "text/plain; version=0.0.4", "strait_tenant_lan_bytes_total" },
	/* no token and a large body: answered at once, the body never read */
	{ 38, REQ("POST", "/v1/reload", "Content-Length: 100000000\r\n\r\n{}"), 401, NULL, NULL },
	{ 39, REQ("GET", "/v1/tenants?x=1", TOK "\r\n"), 200, NULL, "acme" },
	{ 40, REQ("GET", "/v1/tenants/acme", TOK "\r\n"), 200, NULL, "\"guaranteed_bps\": 200000000" },
};

static char *big_request(int n, size_t *len)
{
	size_t cap = 1 << 20;
	char *r = malloc(cap);
	cr_assert(r);
	size_t k = 0;
	switch (n) {
	case 30: /* chunks of 1 KiB until 8 KiB */
		k = (size_t)snprintf(r, cap, REQ("POST", "/v1/reload", TOK "Transfer-Encoding: chunked\r\n\r\n"));
		for (int i = 0; i < 8; i++) {
			k += (size_t)snprintf(r + k, cap - k, "400\r\n");
			memset(r + k, ' ', 1024);
			k += 1024;
			k += (size_t)snprintf(r + k, cap - k, "\r\n");
		}
		k += (size_t)snprintf(r + k, cap - k, "0\r\n\r\n");
		break;
	case 31:
		k = (size_t)snprintf(r, cap, REQ("POST", "/v1/reload", TOK "Content-Length: 4000\r\n\r\n"));
		memset(r + k, '[', 2000);
		memset(r + k + 2000, ']', 2000);
		k += 4000;
		break;
	case 32:
		k = (size_t)snprintf(r, cap, REQ("GET", "/v1/status", TOK));
		for (int i = 0; i < 200; i++)
			k += (size_t)snprintf(r + k, cap - k, "X-Filler-%d: %0100d\r\n", i, 0);
		k += (size_t)snprintf(r + k, cap - k, "\r\n");
		break;
	case 33:
		k = (size_t)snprintf(r, cap, "GET /v1/");
		memset(r + k, 'a', 20480);
		k += 20480;
		k += (size_t)snprintf(r + k, cap - k, " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" TOK "\r\n");
		break;
	}
	*len = k;
	return r;
}

Test(api, hostile, .init = setup, .fini = teardown)
{
	tree_tenant(&t, "acme", 1, "[Bandwidth]\nGuaranteed = 200M\nCeiling = 1G\n");
	start(0, 0);
	for (size_t i = 0; i < sizeof(hcases) / sizeof(hcases[0]); i++) {
		const struct hcase *c = &hcases[i];
		struct answer a;
		size_t len;
		char *req = c->req ? NULL : big_request(c->n, &len);
		http(connect_tcp(), req ? req : c->req, req ? len : strlen(c->req), &a);
		free(req);
		if (c->status)
			cr_expect_eq(a.status, c->status, "case %d: %d: %.300s", c->n, a.status, a.raw);
		else
			cr_expect(a.status == 0 || (a.status >= 400 && a.status < 500),
				  "case %d: %d", c->n, a.status);
		if (c->status && c->status != 400 && a.status >= 400)
			cr_expect(strstr(a.head, "application/json"), "case %d: not JSON: %s", c->n, a.head);
		if (c->in_head)
			cr_expect(strstr(a.head, c->in_head), "case %d: head lacks %s: %s", c->n, c->in_head, a.head);
		if (c->in_body)
			cr_expect(a.body && strstr(a.body, c->in_body), "case %d: body lacks %s: %.300s",
				  c->n, c->in_body, a.body ? a.body : "");
		/* every error of the API is {"error": "..."}; libmicrohttpd's own
		 * (a request it cannot parse: 400, 414, 431) are its HTML page */
		if (a.status >= 400 && a.body && a.body_len && strstr(a.head, "application/json")) {
			json_t *j = json_of(&a);
			cr_expect(json_is_string(json_object_get(j, "error")), "case %d: %s", c->n, a.body);
			json_decref(j);
		}
		answer_free(&a);
	}
	/* the server still answers */
	struct answer a;
	call("GET", "/v1/status", NULL, NULL, &a);
	cr_expect_eq(a.status, 200);
	answer_free(&a);
}

/* A client that trickles its request is closed after request_s, a silent
 * one after idle_s; other clients are answered meanwhile. */
Test(api, slow_clients, .init = setup, .fini = teardown)
{
	start(1, 1);
	int trickle = connect_tcp(), silent = connect_tcp(), unix_silent = connect_unix();
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	const char *req = REQ("GET", "/v1/status", TOK "\r\n");
	bool closed = false;
	for (size_t i = 0; i < strlen(req) && !closed; i++) {
		closed = send(trickle, req + i, 1, MSG_NOSIGNAL) != 1;
		struct pollfd p = { .fd = trickle, .events = POLLIN };
		if (poll(&p, 1, 300) == 1) {
			char b;
			closed = recv(trickle, &b, 1, 0) <= 0;
		}
		if (i == 3) { /* meanwhile, an ordinary request */
			struct answer a;
			call("GET", "/v1/tenants", NULL, NULL, &a);
			cr_expect_eq(a.status, 200);
			answer_free(&a);
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	cr_expect(closed, "a trickling client was never closed");
	cr_expect_lt(s, 4.0, "closed after %.1f s", s);
	struct answer a;
	read_answer(silent, &a); /* EOF within the idle timeout (10 s SO_RCVTIMEO) */
	cr_expect_eq(a.status, 0);
	answer_free(&a);
	read_answer(unix_silent, &a);
	cr_expect_eq(a.status, 0);
	answer_free(&a);
	call("GET", "/v1/status", NULL, NULL, &a);
	cr_expect_eq(a.status, 200);
	answer_free(&a);
}

Test(api, endpoints, .init = setup, .fini = teardown)
{
	start(0, 0);
	/* statistics as a worker publishes them: acme (slot 0) on two workers */
	struct strait_tenant_stats s = { .generation = 1, .lan_in_bytes = 1000000, .lan_out_bytes = 500,
					 .wan_out_bytes = 100000, .cache_hits = 9, .cache_misses = 1,
					 .channel_state = STRAIT_CHANNEL_UP, .channel_rtt_ns = 25000000,
					 .channel_segments = 1000, .channel_retransmits = 5,
					 .queue_bytes = 4096, .replication_lag_ns = 1500000000ull,
					 .flows = { 1, 7, 0, 2 }, .flows_total = 12,
					 .unoptimized = { 1, 0, 0, 0, 1 } };
	strait_stats_publish(stats, 0, 0, &s);
	s.lan_in_bytes = 1;
	s.rpo_urgent = true; /* on one worker: the tenant's */
	s.flows[STRAIT_FLOW_OPTIMIZED] = 1;
	strait_stats_publish(stats, 1, 0, &s);

	struct answer a;
	call("GET", "/v1/status", NULL, NULL, &a);
	cr_assert_eq(a.status, 200, "%s", a.raw);
	cr_expect(strstr(a.head, "Content-Type: application/json"), "%s", a.head);
	json_t *j = json_of(&a);
	cr_expect_str_eq(json_string_value(json_object_get(j, "appliance")), "test");
	cr_expect_eq(json_integer_value(json_object_get(j, "tenants")), 2);
	cr_expect_eq(json_integer_value(json_object_get(json_object_get(j, "config"), "generation")), 1);
	cr_expect_eq(json_array_size(json_object_get(j, "listen")), 2);
	cr_expect_eq(json_integer_value(json_object_get(json_object_get(json_object_get(j, "ports"), "lan"), "rx_bytes")), 1234);
	json_decref(j);
	answer_free(&a);

	call("GET", "/v1/tenants", NULL, NULL, &a);
	cr_assert_eq(a.status, 200);
	j = json_of(&a);
	json_t *arr = json_object_get(j, "tenants");
	cr_assert_eq(json_array_size(arr), 2);
	json_t *acme = json_array_get(arr, 0);
	cr_expect_str_eq(json_string_value(json_object_get(acme, "name")), "acme");
	cr_expect_eq(json_integer_value(json_object_get(json_object_get(acme, "lan"), "in_bytes")), 1000001);
	cr_expect_eq(json_integer_value(json_object_get(json_object_get(acme, "flows"), "optimized")), 8);
	cr_expect_str_eq(json_string_value(json_object_get(json_object_get(acme, "channel"), "state")), "up");
	cr_expect_float_eq(json_real_value(json_object_get(acme, "cache_hit_rate")), 0.9, 1e-9);
	cr_expect_float_eq(json_real_value(json_object_get(acme, "replication_lag_s")), 1.5, 1e-9);
	cr_expect_float_eq(json_real_value(json_object_get(acme, "rpo_target_s")), 300, 1e-9);
	cr_expect(json_is_true(json_object_get(acme, "rpo_urgent")));
	/* globex: nothing published: zeros, ratios null */
	json_t *globex = json_array_get(arr, 1);
	cr_expect(json_is_null(json_object_get(globex, "data_reduction")));
	cr_expect(json_is_null(json_object_get(globex, "rpo_target_s")), "globex has no RpoTarget");
	cr_expect_str_eq(json_string_value(json_object_get(json_object_get(globex, "channel"), "state")), "none");
	json_decref(j);
	answer_free(&a);

	call("GET", "/v1/tenants/acme", NULL, NULL, &a);
	cr_assert_eq(a.status, 200);
	j = json_of(&a);
	json_t *ports = json_object_get(json_object_get(j, "interception"), "ports");
	cr_expect_str_eq(json_string_value(json_array_get(ports, 0)), "874");
	cr_expect_str_eq(json_string_value(json_object_get(json_object_get(j, "peer"), "endpoint")), "198.18.1.2:4500");
	cr_expect_eq(json_integer_value(json_object_get(json_object_get(j, "not_optimized"), "refused")), 2);
	cr_expect_float_eq(json_real_value(json_object_get(json_object_get(j, "channel"), "loss")), 0.005, 1e-9);
	json_decref(j);
	answer_free(&a);

	/* the same through the Unix socket */
	const char *req = REQ("GET", "/v1/tenants/globex", TOK "\r\n");
	http(connect_unix(), req, strlen(req), &a);
	cr_expect_eq(a.status, 200, "%s", a.raw);
	answer_free(&a);
	struct stat st;
	cr_assert_eq(stat(sock_path, &st), 0);
	cr_expect_eq(st.st_mode & 0777, 0600, "socket mode %o", st.st_mode & 0777);

	call("GET", "/metrics", NULL, NULL, &a);
	cr_assert_eq(a.status, 200);
	cr_expect(strstr(a.body, "strait_tenant_lan_bytes_total{tenant=\"acme\",direction=\"in\"} 1000001\n"));
	cr_expect(strstr(a.body, "strait_tenant_channel_rtt_seconds{tenant=\"acme\"} 0.025"));
	cr_expect(strstr(a.body, "strait_tenant_flows{tenant=\"acme\",state=\"optimized\"} 8\n"));
	cr_expect(strstr(a.body, "strait_tenant_ceiling_bytes_per_second{tenant=\"acme\"} 125000000\n"));
	cr_expect(strstr(a.body, "strait_tenant_rpo_target_seconds{tenant=\"acme\"} 300\n"));
	cr_expect(strstr(a.body, "strait_tenant_rpo_urgent{tenant=\"acme\"} 1\n"));
	cr_expect(strstr(a.body, "strait_tenant_rpo_urgent{tenant=\"globex\"} 0\n"));
	cr_expect(strstr(a.body, "strait_flows_no_rule_total 5\n"));
	cr_expect(promtool_accepts(&a), "promtool refused /metrics");
	answer_free(&a);
}

/* A reload: the diff, applied; a broken tenant file refused with its file
 * and line, nothing changed; a new token takes effect with the reload. */
Test(api, reload, .init = setup, .fini = teardown)
{
	start(0, 0);
	struct answer a;
	tree_tenant(&t, "initech", 3, NULL);
	tree_tenant(&t, "acme", 1, "[Bandwidth]\nGuaranteed = 200M\nCeiling = 2G\nRpoTarget = 5m\n");
	call("POST", "/v1/reload", NULL, "{\"dry_run\": true}", &a);
	cr_assert_eq(a.status, 200, "%s", a.raw);
	json_t *j = json_of(&a);
	cr_expect_str_eq(json_string_value(json_array_get(json_object_get(j, "added"), 0)), "initech");
	json_t *ch = json_array_get(json_object_get(j, "changed"), 0);
	cr_expect_str_eq(json_string_value(json_object_get(ch, "name")), "acme");
	cr_expect_str_eq(json_string_value(json_array_get(json_object_get(ch, "fields"), 0)), "[Bandwidth] Ceiling");
	cr_expect_str_eq(json_string_value(json_array_get(json_object_get(ch, "apply"), 0)), "rate");
	json_decref(j);
	answer_free(&a);
	/* a dry run applied nothing */
	call("GET", "/v1/tenants/initech", NULL, NULL, &a);
	cr_expect_eq(a.status, 404);
	answer_free(&a);

	/* a broken file: 422 naming it and its line; nothing changes */
	char broken[256];
	snprintf(broken, sizeof(broken), "%s/tenants/broken.conf", t.dir);
	tree_write(broken, "[Tenant]\nName = broken\nId = 99\nKeyFile = k\nPeerDown = bypass\n[Interception]\nPorts = 99999\n");
	call("POST", "/v1/reload", NULL, "{\"dry_run\": false}", &a);
	cr_expect_eq(a.status, 422, "%s", a.raw);
	j = json_of(&a);
	cr_expect_str_eq(json_string_value(json_object_get(j, "file")), broken);
	cr_expect_eq(json_integer_value(json_object_get(j, "line")), 7);
	cr_expect_str_eq(json_string_value(json_object_get(j, "field")), "[Interception] Ports");
	cr_expect(strstr(json_string_value(json_object_get(j, "error")), "broken.conf:7:"));
	json_decref(j);
	answer_free(&a);
	call("GET", "/v1/status", NULL, NULL, &a);
	j = json_of(&a);
	json_t *cfg = json_object_get(j, "config");
	cr_expect_eq(json_integer_value(json_object_get(cfg, "generation")), 1);
	cr_expect_eq(json_integer_value(json_object_get(cfg, "reloads_refused")), 1);
	cr_expect(json_is_false(json_object_get(json_object_get(cfg, "last_reload"), "ok")));
	json_decref(j);
	answer_free(&a);
	call("GET", "/v1/tenants/initech", NULL, NULL, &a);
	cr_expect_eq(a.status, 404);
	answer_free(&a);

	/* fixed, and a new token: applied */
	unlink(broken);
	char tok[128];
	snprintf(tok, sizeof(tok), "%s/token", t.dir);
	tree_write(tok, "fedcba9876543210fedcba9876543210\n");
	call("POST", "/v1/reload", NULL, "{}", &a);
	cr_expect_eq(a.status, 200, "%s", a.raw);
	answer_free(&a);
	call("GET", "/v1/tenants/initech", NULL, NULL, &a);
	cr_expect_eq(a.status, 401);
	answer_free(&a);
	call("GET", "/v1/tenants/initech", "Authorization: Bearer fedcba9876543210fedcba9876543210", NULL, &a);
	cr_expect_eq(a.status, 200, "%s", a.raw);
	j = json_of(&a);
	cr_expect_eq(json_integer_value(json_object_get(j, "slot")), 2);
	cr_expect_eq(json_integer_value(json_object_get(j, "generation")), 2);
	json_decref(j);
	answer_free(&a);
	/* a token file readable by others is refused, the old token stays */
	chmod(tok, 0644);
	call("POST", "/v1/reload", "Authorization: Bearer fedcba9876543210fedcba9876543210", "{}", &a);
	cr_expect_eq(a.status, 422, "%s", a.raw);
	cr_expect(strstr(a.body, "[Control] TokenFile"), "%s", a.body);
	answer_free(&a);
}

/* 1,024 tenants: loaded, listed, every one in /metrics, promtool agrees. */
Test(api, tenants1024, .init = setup, .fini = teardown, .timeout = 120)
{
	char name[32];
	for (unsigned i = 0; i < STRAIT_MAX_TENANTS - 2; i++) {
		snprintf(name, sizeof(name), "t%04u", i);
		tree_tenant(&t, name, 10 + i, NULL);
	}
	start(0, 0);
	struct answer a;
	call("GET", "/v1/tenants", NULL, NULL, &a);
	cr_assert_eq(a.status, 200);
	json_t *j = json_of(&a);
	cr_expect_eq(json_array_size(json_object_get(j, "tenants")), STRAIT_MAX_TENANTS);
	json_decref(j);
	answer_free(&a);
	call("GET", "/metrics", NULL, NULL, &a);
	cr_assert_eq(a.status, 200);
	cr_expect(strstr(a.body, "strait_tenants 1024\n"));
	cr_expect(strstr(a.body, "strait_tenant_queue_bytes{tenant=\"t1021\"} 0\n"));
	cr_expect(promtool_accepts(&a), "promtool refused /metrics at 1,024 tenants");
	answer_free(&a);
	/* one more is refused, naming the folder */
	tree_tenant(&t, "toomany", 5000, NULL);
	call("POST", "/v1/reload", NULL, "{\"dry_run\": true}", &a);
	cr_expect_eq(a.status, 422, "%s", a.raw);
	cr_expect(strstr(a.body, "more than 1024 tenant files"), "%s", a.body);
	answer_free(&a);
}

/* Sockets that cannot be had: a clear reason, nothing left behind. */
Test(api, sockets, .init = setup, .fini = teardown)
{
	start(0, 0);
	struct strait_error err;
	char why[256], control[256];
	/* the same Unix socket, still served: refused */
	struct strait_config *cfg = strait_config_new();
	cr_assert_eq(strait_config_load(t.app, cfg, &err), 0);
	struct strait_running *r2 = strait_running_new(cfg, &err);
	cr_assert(r2);
	struct strait_api_backend be = { .running = r2 };
	struct strait_api *api2;
	cr_expect_neq(strait_api_start(&be, NULL, &api2, why, sizeof(why)), 0);
	cr_expect(strstr(why, "another process is listening there"), "%s", why);
	strait_running_free(r2);
	/* a TCP port in use */
	snprintf(control, sizeof(control), "Listen = 127.0.0.1:%u\nTokenFile = token\n", port);
	tree_appliance(&t, NULL, control);
	cfg = strait_config_new();
	cr_assert_eq(strait_config_load(t.app, cfg, &err), 0);
	r2 = strait_running_new(cfg, &err);
	be.running = r2;
	cr_expect_eq(strait_api_start(&be, NULL, &api2, why, sizeof(why)), -EADDRINUSE);
	cr_expect(strstr(why, "cannot listen on 127.0.0.1:"), "%s", why);
	strait_running_free(r2);
	/* stopping removes the socket file */
	strait_api_stop(api);
	api = NULL;
	struct stat st;
	cr_expect_neq(stat(sock_path, &st), 0);
}
