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
 * Prints JSON: medians of R rounds, wall and CPU seconds. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "strait/api.h"
#include "strait/benchstat.h"

static char dir[64];

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f)) {
		fprintf(stderr, "strait-ctl-bench: %s: %s\n", path, strerror(errno));
		exit(1);
	}
}

/* A tenant file as an operator writes one: every section, comments. */
static void tenant(unsigned i, const char *ceiling)
{
	char path[128], text[2048];
	snprintf(path, sizeof(path), "%s/tenants/t%04u.conf", dir, i);
	snprintf(text, sizeof(text),
		 "# tenant %u: replication from site 1 to the DR cloud\n"
		 "[Tenant]\nName = t%04u\nKeyFile = ../keys/t%04u.key\nPeerDown = bypass\n\n"
		 "[Interception]\nClientPrefix = 10.%u.%u.0/24, 2001:db8:%x:%x::/64\n"
		 "ServerPrefix = 10.%u.%u.0/24\nPorts = 31031, 44046, 9443, 873\n\n"
		 "[Peer]\nEndpoint = 198.18.1.2\nInnerAddress = 169.254.%u.%u\nPeerInnerAddress = 169.255.%u.%u\n\n"
		 "[Bandwidth]\nGuaranteed = 1M\nCeiling = %s\nPriority = %u\nWeight = 100\n",
		 i, i, i, i / 256, i % 256, i / 256, i % 256, 100 + i / 256, i % 256, i / 256, i % 256,
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
	snprintf(path, sizeof(path), "%s/appliance.conf", dir);
	write_file(path, "[Appliance]\nName = bench\nWorkers = 1\nTenantDir = tenants\n"
		   "[LAN]\nPort = net_pcap0\nAddress = 198.18.0.1/24\n"
		   "[WAN]\nPort = net_pcap1\nAddress = 198.18.1.1/24\n");
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
	printf("{\n  \"tenants\": %u,\n  \"rounds\": %u,\n  \"files_bytes\": %zu,\n"
	       "  \"config_bytes\": %zu,\n"
	       "  \"load_s\": %.4f,\n  \"load_cpu_s\": %.4f,\n"
	       "  \"baseline_read_only_s\": %.4f,\n  \"baseline_read_only_cpu_s\": %.4f,\n"
	       "  \"reload_load_and_diff_s\": %.4f,\n  \"diff_changed\": %u,\n"
	       "  \"metrics_render_s\": %.4f,\n  \"metrics_bytes\": %zu,\n"
	       "  \"tenants_json_render_s\": %.4f,\n  \"tenants_json_bytes\": %zu\n}\n",
	       n, rounds, bytes, sizeof(struct strait_config), bench_median(load_s, (int)rounds),
	       bench_median(load_cpu, (int)rounds), bench_median(read_s, (int)rounds),
	       bench_median(read_cpu, (int)rounds), reload_s, diff->n_changed,
	       bench_median(metrics_s, (int)rounds), metrics_len, bench_median(tenants_s, (int)rounds),
	       tenants_len);
	free(stats);
	free(diff);
	strait_config_free(cfg);
	strait_config_free(next);
	return 0;
}
