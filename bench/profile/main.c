/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * strait-profile - what would Strait save on this traffic?
 *
 *   strait-profile [options] CAPTURE...
 *
 * Reads captures (pcap or pcapng, through libpcap) one after another as one
 * timeline, reassembles every selected TCP connection in both directions,
 * runs the real dedupe codec per tenant direction, and reports what Strait
 * would have sent. See bench/README.md, "strait-profile".
 */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <glob.h>
#include <math.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "strait/ctl.h"

#include "profile.h"
#include "report.h"

static const char *prog = "strait-profile";

enum {
	DEFAULT_OOO_LIMIT = 16 << 20,
	DEFAULT_FLUSH_MS = 10,
	READ_BUFFER = 1 << 20,
	PROGRESS_EVERY = 1 << 16,       /* packets between clock reads */
};
#define PROGRESS_SECONDS 2.0

static void usage(FILE *f)
{
	fprintf(f,
		"usage: %s [options] CAPTURE...\n"
		"  --tenants DIR       tenant files (DIR/*.conf): their interception rules select\n"
		"                      connections, one cache per tenant and direction\n"
		"  --ports LIST        without --tenants: server ports selected (873,5432,1521-1522);\n"
		"                      the selection shares one cache per direction (default: every port)\n"
		"  --cache SIZE        cache per tenant direction (default: the tenant's CacheSize, 1G)\n"
		"  --window SIZE       the literal stream's zstd window, a power of two from 2M to 1/8\n"
		"                      of the cache and 128M (default: the tenant's CacheWindow; with\n"
		"                      --cache or without --tenants, 1/8 of the cache, 128M at most)\n"
		"  --rpo SECONDS       also the WAN rate that keeps the replication lag under SECONDS\n"
		"  --json FILE         the report as JSON ('-': stdout, instead of the table)\n"
		"  --plot FILE.png     raw and Strait rate over time (gnuplot)\n"
		"  --dump-streams DIR  each reassembled direction into DIR, named by 5-tuple and direction\n"
		"  --no-codec          reassemble only (Strait bytes = raw bytes)\n"
		"  --ooo-limit SIZE    out-of-order bytes held per direction (default 16M)\n"
		"  --flush-ms MS       the appliance's flush interval, in capture time (default 10)\n"
		"  --verify-checksums  drop TCP segments whose checksum is wrong (off by default:\n"
		"                      a capture taken on a sender holds offloaded, unfinished ones)\n"
		"  --quiet             no table on stdout\n"
		"SIZE: bytes, or with K, M, G (binary)\n", prog);
}

__attribute__((noreturn))
static void bad_usage(const char *what, const char *val)
{
	fprintf(stderr, "%s: %s '%s' (see --help)\n", prog, what, val);
	exit(2);
}

static double wall(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static bool parse_ports(const char *s, struct profile *P)
{
	char buf[1024];
	if (strlen(s) >= sizeof(buf))
		return false;
	strcpy(buf, s);
	for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *end;
		unsigned long lo = strtoul(tok, &end, 10), hi = lo;
		if (end == tok || tok[0] == '-' || tok[0] == '+')
			return false;
		if (*end == '-') {
			char *e2;
			hi = strtoul(end + 1, &e2, 10);
			if (e2 == end + 1 || end[1] == '-' || end[1] == '+')
				return false;
			end = e2;
		}
		if (*end || lo < 1 || hi > 65535 || lo > hi || P->n_ports == PROFILE_MAX_PORT_RANGES)
			return false;
		P->ports[P->n_ports++] = (struct strait_port_range){ (uint16_t)lo, (uint16_t)hi };
	}
	return P->n_ports > 0;
}

/* Every .conf file in dir, in name order, through the configuration library. */
static struct strait_config *load_tenants(const char *dir)
{
	struct strait_config *cfg = calloc(1, sizeof(*cfg));
	char pat[4096];
	glob_t g;
	if (!cfg)
		errx(1, "out of memory");
	snprintf(pat, sizeof(pat), "%s/*.conf", dir);
	int rc = glob(pat, 0, NULL, &g);
	if (rc == GLOB_NOMATCH) {
		struct stat st;
		if (stat(dir, &st) || !S_ISDIR(st.st_mode))
			errx(1, "--tenants %s: not a directory", dir);
		errx(1, "--tenants %s: no tenant files (*.conf) in it", dir);
	}
	if (rc)
		errx(1, "--tenants %s: cannot list it", dir);
	if (g.gl_pathc > STRAIT_MAX_TENANTS)
		errx(1, "--tenants %s: more than %d tenant files", dir, STRAIT_MAX_TENANTS);
	for (size_t i = 0; i < g.gl_pathc; i++) {
		struct strait_error err;
		char msg[1024];
		struct strait_tenant_cfg *t = &cfg->tenants[cfg->n_tenants];
		if (strait_tenant_load(g.gl_pathv[i], t, &err))
			errx(1, "%s", strait_error_str(&err, msg, sizeof(msg)));
		for (unsigned j = 0; j < cfg->n_tenants; j++)
			if (!strcmp(cfg->tenants[j].name, t->name))
				errx(1, "%s: tenant name \"%s\" already used by %s", t->file, t->name,
				    cfg->tenants[j].file);
		cfg->n_tenants++;
	}
	globfree(&g);
	return cfg;
}

static void progress(const char *path, pcap_t *pc, uint64_t size, double started,
		     const struct profile *P, bool done)
{
	long at = done ? (long)size : ftell(pcap_file(pc));
	double secs = wall() - started;
	fprintf(stderr, "%s: %s: %.0f of %.0f MB (%.0f%%), %.0f MB/s, %u connections\n",
		prog, path, at / 1e6, size / 1e6, size ? 100.0 * at / size : 100.0,
		secs > 0 ? at / 1e6 / secs : 0, P->ft.count);
}

static void read_capture(struct profile *P, struct capture_info *ci, bool verify)
{
	char errbuf[PCAP_ERRBUF_SIZE] = "";
	struct stat st;
	FILE *f = fopen(ci->path, "rb");
	if (!f || fstat(fileno(f), &st)) {
		snprintf(ci->error, sizeof(ci->error), "cannot open: %s", strerror(errno));
		if (f)
			fclose(f);
		return;
	}
	setvbuf(f, NULL, _IOFBF, READ_BUFFER);
	pcap_t *pc = pcap_fopen_offline_with_tstamp_precision(f, PCAP_TSTAMP_PRECISION_NANO, errbuf);
	if (!pc) {
		snprintf(ci->error, sizeof(ci->error), "not a capture libpcap can read (pcap or pcapng): %s", errbuf);
		fclose(f);
		return;
	}
	int dlt = pcap_datalink(pc);
	ci->link = dissect_link_name(dlt);
	if (!dissect_link_known(dlt)) {
		snprintf(ci->error, sizeof(ci->error), "link type %s (%d) is not supported (Ethernet, Linux cooked SLL/SLL2, raw IP, BSD loopback are)",
			 ci->link, dlt);
		pcap_close(pc);
		return;
	}
	double started = wall(), last = started;
	bool shown = false;
	for (;;) {
		struct pcap_pkthdr *h;
		const u_char *data;
		int rc = pcap_next_ex(pc, &h, &data);
		if (rc == PCAP_ERROR_BREAK)
			break; /* end of file */
		if (rc != 1) {
			snprintf(ci->error, sizeof(ci->error), "after packet %llu: %s",
				 (unsigned long long)ci->packets, pcap_geterr(pc));
			break;
		}
		double t = (double)h->ts.tv_sec + (double)h->ts.tv_usec * 1e-9;
		struct segment s;
		enum dissect_result r = dissect(dlt, data, h->caplen, h->len, &s);
		ci->packets++;
		ci->bytes += h->len;
		profile_frame(P, t, h->len, r);
		if (r == DISSECT_TCP && verify && !dissect_checksum_ok(&s))
			P->c.bad_checksum++;
		else if (r == DISSECT_TCP)
			profile_segment(P, &s);
		if (P->err[0] || P->est.err[0])
			break;
		if (!(ci->packets % PROGRESS_EVERY)) {
			double now = wall();
			if (now - last >= PROGRESS_SECONDS) {
				progress(ci->path, pc, (uint64_t)st.st_size, started, P, false);
				last = now;
				shown = true;
			}
		}
	}
	if (shown)
		progress(ci->path, pc, (uint64_t)st.st_size, started, P, true);
	pcap_close(pc);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "tenants", required_argument, NULL, 't' },
		{ "ports", required_argument, NULL, 'p' },
		{ "cache", required_argument, NULL, 'c' },
		{ "window", required_argument, NULL, 'w' },
		{ "rpo", required_argument, NULL, 'r' },
		{ "json", required_argument, NULL, 'j' },
		{ "plot", required_argument, NULL, 'g' },
		{ "dump-streams", required_argument, NULL, 'd' },
		{ "no-codec", no_argument, NULL, 'n' },
		{ "ooo-limit", required_argument, NULL, 'o' },
		{ "flush-ms", required_argument, NULL, 'f' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verify-checksums", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static struct profile P;
	const char *tenant_dir = NULL, *json = NULL, *plot = NULL, *dump = NULL, *ports = NULL;
	uint64_t cache = 0, window = 0, ooo = DEFAULT_OOO_LIMIT;
	double rpo = 0, flush_ms = DEFAULT_FLUSH_MS;
	bool codec = true, quiet = false, verify = false;
	int c;
	char *end;

	profile_init(&P);
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 't': tenant_dir = optarg; break;
		case 'p':
			if (!parse_ports(optarg, &P))
				bad_usage("bad --ports list (want ports and ranges: 873,5432,1521-1522)", optarg);
			ports = optarg;
			break;
		case 'c':
			if (!strait_parse_bytes(optarg, &cache) || cache < (1u << 20))
				bad_usage("bad --cache size (at least 1M: 512M, 2G)", optarg);
			break;
		case 'w':
			if (!strait_parse_bytes(optarg, &window) || window < (1u << 21) ||
			    (window & (window - 1)))
				bad_usage("bad --window (a power of two from 2M: 2M, 8M, 32M)", optarg);
			break;
		case 'r':
			rpo = strtod(optarg, &end);
			if (end == optarg || *end || !(rpo > 0) || !isfinite(rpo))
				bad_usage("bad --rpo (seconds, > 0)", optarg);
			break;
		case 'j': json = optarg; break;
		case 'g': plot = optarg; break;
		case 'd': dump = optarg; break;
		case 'n': codec = false; break;
		case 'o':
			if (!strait_parse_bytes(optarg, &ooo) || ooo < 65536)
				bad_usage("bad --ooo-limit (at least 64K)", optarg);
			break;
		case 'f':
			flush_ms = strtod(optarg, &end);
			if (end == optarg || *end || !(flush_ms >= 0) || flush_ms > 60000)
				bad_usage("bad --flush-ms (0..60000)", optarg);
			break;
		case 'q': quiet = true; break;
		case 'v': verify = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind == argc) {
		fprintf(stderr, "%s: no capture given (see --help)\n", prog);
		return 2;
	}
	if (tenant_dir && P.n_ports) {
		fprintf(stderr, "%s: --ports selects without --tenants; the tenants' rules already name their ports\n", prog);
		return 2;
	}
	/* before the capture is read, not after: the plot's file can be made */
	if (plot) { /* a file given is not emptied before the plot replaces it */
		int fd = open(plot, O_WRONLY | O_CREAT | O_EXCL, 0644);
		if (fd >= 0) {
			close(fd);
			unlink(plot);
		} else if (errno != EEXIST || (fd = open(plot, O_WRONLY)) < 0) {
			errx(1, "--plot %s: %s", plot, strerror(errno));
		} else {
			close(fd);
		}
	}
	if (dump && mkdir(dump, 0755) && errno != EEXIST)
		errx(1, "--dump-streams %s: %s", dump, strerror(errno));

	est_init(&P.est, codec, flush_ms / 1e3);
	struct strait_config *tenants = NULL;
	char cache_note[128];
	if (tenant_dir) {
		tenants = load_tenants(tenant_dir);
		for (unsigned i = 0; i < tenants->n_tenants; i++) {
			const struct strait_tenant_cfg *t = &tenants->tenants[i];
			/* --cache replaces the tenant's cache, window included */
			uint64_t w = window ? window : cache ? 0 : t->cache_window;
			if (est_add_group(&P.est, t->name, (int)i, cache ? cache : t->cache_size, w))
				errx(1, "%s: the codec refuses this cache and window (%s): the cache "
					"at least 1M and 4 x its largest chunk, the window at most "
					"1/8 of the cache and 128M", t->file,
				     cache || window ? "with --cache or --window" : "CacheSize, CacheWindow");
		}
		P.tenants = tenants;
		snprintf(cache_note, sizeof(cache_note), "%s, %s", cache ? "--cache" : "each tenant's CacheSize",
			 window ? "--window" : cache ? "the default window" : "each tenant's CacheWindow");
	} else {
		char name[64];
		snprintf(name, sizeof(name), "ports %s", ports ? ports : "all");
		if (est_add_group(&P.est, name, -1, cache, window))
			errx(1, "the codec refuses this cache and window: the cache at least 1M "
				"and 4 x its largest chunk, the window at most 1/8 of the cache and 128M");
		snprintf(cache_note, sizeof(cache_note), "%s, %s", cache ? "--cache" : "default",
			 window ? "--window" : "the default window");
	}
	P.ooo_limit = ooo;
	P.dump_dir = dump;

	unsigned n_caps = (unsigned)(argc - optind);
	struct capture_info *caps = calloc(n_caps, sizeof(*caps));
	if (!caps)
		errx(1, "out of memory");
	int status = 0;
	for (unsigned i = 0; i < n_caps; i++) {
		caps[i].path = argv[optind + i];
		read_capture(&P, &caps[i], verify);
		if (caps[i].error[0]) {
			fprintf(stderr, "%s: %s: %s\n", prog, caps[i].path, caps[i].error);
			status = 1;
		}
		if (P.err[0] || P.est.err[0])
			break;
	}
	profile_finish(&P);
	if (P.err[0] || P.est.err[0])
		errx(1, "%s", P.err[0] ? P.err : P.est.err);

	struct report_in in = { &P, caps, n_caps, rpo, cache_note };
	if (!quiet && !(json && !strcmp(json, "-")))
		report_table(stdout, &in);
	if (json && report_json(json, &in))
		status = 1;
	if (plot && report_plot(plot, &in))
		status = 1;
	profile_free(&P);
	est_free(&P.est);
	free(tenants);
	free(caps);
	return status;
}
