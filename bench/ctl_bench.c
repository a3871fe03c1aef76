/* SPDX-License-Identifier: BSD-3-Clause */
/* strait-ctl-bench: the control plane at 1,024 tenants.
 *
 *   strait-ctl-bench [--tenants N] [--rounds R]
 *
 * Writes an appliance file and N tenant files in a temporary folder, then
 * in each round, alternating: loads and validates the whole set
 * (strait_config_load: parse, check each file, check every pair of tenants
 * for ties), and the baseline, the same files only read (open, read,
 * close: the I/O floor under any parser). Then the reload's diff with one
 * tenant changed, and the API's renderings (/metrics, /v1/tenants).
 * Then the API's latency: its server on 127.0.0.1 answering real HTTP
 * requests (a connection each, as curl and straitctl make them) for the
 * 1,024 tenants, each request alternating with the baseline, the same
 * request with a wrong token (HTTP and the token check only: the 401
 * every answer pays for).
 * Prints JSON: medians of R rounds, wall and CPU seconds. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "strait/api.h"
#include "strait/benchstat.h"

static char dir[64];

#define BENCH_TOKEN "0123456789abcdef0123456789abcdef"

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f)) {
		fprintf(stderr, "strait-ctl-bench: %s: %s\n", path, strerror(errno));
		exit(1);
	}
}

/* A tenant file as an operator writes one: every section, comments; and
 * its key (keys/tNNNN.key, mode 0600: a reload reads them). */
static void tenant(unsigned i, const char *ceiling)
{
	char path[128], text[2048];
	snprintf(path, sizeof(path), "%s/keys/t%04u.key", dir, i);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	static const char key[] = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\n";
	if (fd < 0 || write(fd, key, sizeof(key) - 1) != (ssize_t)sizeof(key) - 1 || close(fd)) {
		fprintf(stderr, "strait-ctl-bench: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/tenants/t%04u.conf", dir, i);
	snprintf(text, sizeof(text),
		 "# tenant %u: replication from site 1 to the DR cloud\n"
		 "[Tenant]\nName = t%04u\nId = %u\nKeyFile = ../keys/t%04u.key\nPeerDown = bypass\n\n"
		 "[Interception]\nClientPrefix = 10.%u.%u.0/24, 2001:db8:%x:%x::/64\n"
		 "ServerPrefix = 10.%u.%u.0/24\nPorts = 31031, 44046, 9443, 873\n\n"
		 "[Peer]\nEndpoint = 198.18.1.2\nInnerAddress = 169.254.%u.%u\nPeerInnerAddress = 169.255.%u.%u\n\n"
		 "[Bandwidth]\nGuaranteed = 1M\nCeiling = %s\nPriority = %u\nWeight = 100\n",
		 i, i, i + 1, i, i / 256, i % 256, i / 256, i % 256, 100 + i / 256, i % 256, i / 256, i % 256,
		 i / 256, i % 256, ceiling, i % 8);
	write_file(path, text);
}

/* The baseline: every file read whole, nothing parsed. */
static size_t read_all(unsigned n)
{
	char path[128], buf[4096];
	size_t bytes = 0;
	snprintf(path, sizeof(path), "%s/appliance.conf", dir);
	for (unsigned i = 0; i <= n; i++) {
		if (i)
			snprintf(path, sizeof(path), "%s/tenants/t%04u.conf", dir, i - 1);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		ssize_t k;
		while (fd >= 0 && (k = read(fd, buf, sizeof(buf))) > 0)
			bytes += (size_t)k;
		if (fd >= 0)
			close(fd);
	}
	return bytes;
}

/* One HTTP request on a new connection to 127.0.0.1:port, read to its
 * end; returns the seconds it took, or -1 (with *status) on failure. */
static double http(uint16_t port, const char *method, const char *path, const char *token,
		   const char *body, int *status)
{
	char req[1024], buf[65536];
	int n = snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: bench\r\n"
			 "Authorization: Bearer %s\r\nConnection: close\r\n"
			 "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
			 method, path, token, body ? strlen(body) : 0, body ? body : "");
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	double t0 = bench_clock(CLOCK_MONOTONIC);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	*status = 0;
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) || write(fd, req, (size_t)n) != n) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	char head[32] = "";
	size_t got = 0;
	ssize_t k;
	while ((k = read(fd, buf, sizeof(buf))) > 0)
		for (ssize_t i = 0; i < k && got + 1 < sizeof(head); i++)
			head[got++] = buf[i];
	double t = bench_clock(CLOCK_MONOTONIC) - t0;
	close(fd);
	if (sscanf(head, "HTTP/1.%*d %d", status) != 1)
		return -1;
	return t;
}

/* An endpoint's latency and its baseline's (the same request, a wrong
 * token: 401), alternating, median over every request. */
struct latency {
	const char *name, *method, *path, *body;
	int status;     /* the answer it must get */
	unsigned reps;  /* per round */
	double *s, *base;
	unsigned n;
};

static int measure(uint16_t port, const char *token, struct latency *l)
{
	int st;
	for (unsigned i = 0; i < l->reps; i++) {
		double t = http(port, l->method, l->path, "wrong-token-wrong-token", l->body, &st);
		if (t < 0 || st != 401)
			goto err_status;
		l->base[l->n] = t;
		t = http(port, l->method, l->path, token, l->body, &st);
		if (t < 0 || st != l->status)
			goto err_status;
		l->s[l->n++] = t;
	}
	return 0;
err_status:
	fprintf(stderr, "strait-ctl-bench: %s %s: status %d\n", l->method, l->path, st);
	return -1;
}

static void cleanup(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd))
		fprintf(stderr, "strait-ctl-bench: could not remove %s\n", dir);
}

int main(int argc, char **argv)
{
	unsigned n = STRAIT_MAX_TENANTS, rounds = 5;
	static const struct option longopts[] = {
		{ "tenants", required_argument, NULL, 't' },
		{ "rounds", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (ch == 't')
			n = (unsigned)atoi(optarg);
		else if (ch == 'r')
			rounds = (unsigned)atoi(optarg);
		else {
			fprintf(stderr, "usage: strait-ctl-bench [--tenants N] [--rounds R]\n");
			return 2;
		}
	}
	if (n > STRAIT_MAX_TENANTS || rounds < 1 || rounds > 99) {
		fprintf(stderr, "strait-ctl-bench: 0..%d tenants, 1..99 rounds\n", STRAIT_MAX_TENANTS);
		return 2;
	}
	snprintf(dir, sizeof(dir), "/tmp/strait-ctl-bench-XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	atexit(cleanup);
	char path[128];
	snprintf(path, sizeof(path), "%s/tenants", dir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/keys", dir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/appliance.conf", dir);
	write_file(path, "[Appliance]\nName = bench\nWorkers = 1\nTenantDir = tenants\n"
		   "[LAN]\nPort = net_pcap0\nAddress = 198.18.0.1/24\n"
		   "[WAN]\nPort = net_pcap1\nAddress = 198.18.1.1/24\n"
		   "[Control]\nListen = 127.0.0.1:0\nTokenFile = token\n");
	char token_path[128];
	snprintf(token_path, sizeof(token_path), "%s/token", dir);
	int tfd = open(token_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (tfd < 0 || write(tfd, BENCH_TOKEN "\n", sizeof(BENCH_TOKEN)) != sizeof(BENCH_TOKEN) ||
	    close(tfd)) {
		perror(token_path);
		return 1;
	}
	for (unsigned i = 0; i < n; i++)
		tenant(i, "100M");

	struct strait_config *cfg = strait_config_new(), *next = strait_config_new();
	struct strait_config_diff *diff = malloc(sizeof(*diff));
	if (!cfg || !next || !diff) {
		fprintf(stderr, "strait-ctl-bench: out of memory\n");
		return 1;
	}
	double load_s[99], load_cpu[99], read_s[99], read_cpu[99];
	struct strait_error err;
	char msg[PATH_MAX + 512];
	size_t bytes = 0;
	for (unsigned r = 0; r < rounds; r++) {
		double t0 = bench_clock(CLOCK_MONOTONIC), c0 = bench_clock(CLOCK_PROCESS_CPUTIME_ID);
		if (strait_config_load(path, cfg, &err)) {
			fprintf(stderr, "strait-ctl-bench: %s\n", strait_error_str(&err, msg, sizeof(msg)));
			return 1;
		}
		load_s[r] = bench_clock(CLOCK_MONOTONIC) - t0;
		load_cpu[r] = bench_clock(CLOCK_PROCESS_CPUTIME_ID) - c0;
		t0 = bench_clock(CLOCK_MONOTONIC), c0 = bench_clock(CLOCK_PROCESS_CPUTIME_ID);
		bytes = read_all(n);
		read_s[r] = bench_clock(CLOCK_MONOTONIC) - t0;
		read_cpu[r] = bench_clock(CLOCK_PROCESS_CPUTIME_ID) - c0;
	}
	/* a reload with one tenant's rate changed */
	if (n)
		tenant(n / 2, "200M");
	double t0 = bench_clock(CLOCK_MONOTONIC);
	if (strait_config_load(path, next, &err) || strait_config_diff(cfg, next, diff, &err)) {
		fprintf(stderr, "strait-ctl-bench: %s\n", strait_error_str(&err, msg, sizeof(msg)));
		return 1;
	}
	double reload_s = bench_clock(CLOCK_MONOTONIC) - t0;
	/* the API's answers for every tenant */
	struct strait_status st = { .version = "bench" };
	struct strait_tenant_stats *stats = calloc(next->n_tenants + 1, sizeof(*stats));
	struct strait_api_view v = { .cfg = next, .status = &st, .stats = stats };
	double metrics_s[99], tenants_s[99];
	size_t metrics_len = 0, tenants_len = 0;
	for (unsigned r = 0; r < rounds; r++) {
		t0 = bench_clock(CLOCK_MONOTONIC);
		char *m = strait_api_metrics(&v, &metrics_len);
		metrics_s[r] = bench_clock(CLOCK_MONOTONIC) - t0;
		free(m);
		t0 = bench_clock(CLOCK_MONOTONIC);
		json_t *j = strait_api_tenants_json(&v);
		char *s = json_dumps(j, JSON_INDENT(2));
		tenants_s[r] = bench_clock(CLOCK_MONOTONIC) - t0;
		tenants_len = s ? strlen(s) : 0;
		free(s);
		json_decref(j);
	}
	/* the API's latency, on real sockets */
	struct strait_config *first = strait_config_new();
	if (!first || strait_config_load(path, first, &err)) {
		fprintf(stderr, "strait-ctl-bench: %s\n", strait_error_str(&err, msg, sizeof(msg)));
		return 1;
	}
	struct strait_running *run = strait_running_new(first, &err);
	struct strait_stats_table *table = strait_stats_table_new(1);
	struct strait_api_backend be = { .running = run, .stats = table };
	struct strait_api *api = NULL;
	char why[256] = "out of memory";
	if (!run || !table || strait_api_start(&be, NULL, &api, why, sizeof(why))) {
		fprintf(stderr, "strait-ctl-bench: the API: %s\n", why);
		return 1;
	}
	uint16_t port = strait_api_port(api, 0);
	char one[64];
	snprintf(one, sizeof(one), "/v1/tenants/t%04u", n / 2);
#define LAT(n_, m_, p_, b_, st_, r_) \
	{ .name = n_, .method = m_, .path = p_, .body = b_, .status = st_, .reps = r_ }
	struct latency lat[] = {
		LAT("status", "GET", "/v1/status", NULL, 200, 20),
		LAT("tenant", "GET", one, NULL, n ? 200 : 404, 20),
		LAT("tenants", "GET", "/v1/tenants", NULL, 200, 3),
		LAT("metrics", "GET", "/metrics", NULL, 200, 3),
		LAT("reload_dry_run", "POST", "/v1/reload", "{\"dry_run\": true}", 200, 1),
	};
#undef LAT
	enum { N_LAT = sizeof(lat) / sizeof(lat[0]) };
	for (unsigned i = 0; i < N_LAT; i++) {
		lat[i].s = calloc(rounds * lat[i].reps, sizeof(double));
		lat[i].base = calloc(rounds * lat[i].reps, sizeof(double));
		if (!lat[i].s || !lat[i].base)
			return 1;
	}
	for (unsigned r = 0; r < rounds; r++)
		for (unsigned i = 0; i < N_LAT; i++)
			if (measure(port, BENCH_TOKEN, &lat[i]))
				return 1;
	strait_api_stop(api);
	strait_stats_table_free(table);
	strait_running_free(run);

	printf("{\n  \"tenants\": %u,\n  \"rounds\": %u,\n  \"files_bytes\": %zu,\n"
	       "  \"config_bytes\": %zu,\n"
	       "  \"load_s\": %.4f,\n  \"load_cpu_s\": %.4f,\n"
	       "  \"baseline_read_only_s\": %.4f,\n  \"baseline_read_only_cpu_s\": %.4f,\n"
	       "  \"reload_load_and_diff_s\": %.4f,\n  \"diff_changed\": %u,\n"
	       "  \"metrics_render_s\": %.4f,\n  \"metrics_bytes\": %zu,\n"
	       "  \"tenants_json_render_s\": %.4f,\n  \"tenants_json_bytes\": %zu,\n"
	       "  \"api_latency_s\": {\n",
	       n, rounds, bytes, sizeof(struct strait_config), bench_median(load_s, (int)rounds),
	       bench_median(load_cpu, (int)rounds), bench_median(read_s, (int)rounds),
	       bench_median(read_cpu, (int)rounds), reload_s, diff->n_changed,
	       bench_median(metrics_s, (int)rounds), metrics_len, bench_median(tenants_s, (int)rounds),
	       tenants_len);
	for (unsigned i = 0; i < N_LAT; i++) {
		printf("    \"%s\": { \"requests\": %u, \"median_s\": %.6f, \"baseline_401_s\": %.6f }%s\n",
		       lat[i].name, lat[i].n, bench_median(lat[i].s, (int)lat[i].n),
		       bench_median(lat[i].base, (int)lat[i].n), i + 1 < N_LAT ? "," : "");
		free(lat[i].s);
		free(lat[i].base);
	}
	printf("  }\n}\n");
	free(stats);
	free(diff);
	strait_config_free(cfg);
	strait_config_free(next);
	return 0;
}
