/* SPDX-License-Identifier: BSD-3-Clause */
/* straitd: the Strait appliance.
 *
 *   straitd [EAL options] -- -c appliance.conf [--check] [--stats-json FILE]
 *           [--exit-idle-ms N] [--mbufs N] [--tcp-impair SPEC]
 *           [--sa-log FILE] [--channel-mbufs N]
 *
 * Order of start-up: configuration first (a bad file exits 1 with its
 * error before EAL or any port is touched), then EAL, ports, workers.
 * SIGINT/SIGTERM stop the workers after their current burst; they flush
 * what they hold, the ports are stopped and closed, and straitd exits 0.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_random.h>
#include <rte_ring.h>

#include "dp.h"
#include "relay_hook.h"
#include "strait/api.h"
#include "tcp_hook.h"
#include "wan.h"

enum { RX_DESC = 1024, TX_DESC = 1024, MBUF_CACHE = 256 };

static struct dp_app app;
static bool port_found[DP_NPORTS];

static void on_signal(int sig)
{
	(void)sig;
	app.quit = 1;
}

static void on_sighup(int sig)
{
	(void)sig;
	dp_reload_signal(); /* the reload thread does the work (reload.c) */
}

static void usage(FILE *f)
{
	fprintf(f, "usage: straitd [EAL options] -- -c appliance.conf [--check]\n"
		   "               [--stats-json FILE] [--exit-idle-ms N] [--mbufs N]\n"
		   "               [--tcp-impair SPEC] [--sa-log FILE] [--channel-mbufs N]\n"
		   "               [--corrupt-records N]\n"
		   "  -c, --config FILE   appliance configuration (see configs/)\n"
		   "  --check             validate the configuration and exit\n"
		   "  --stats-json FILE   write every counter as JSON on exit\n"
		   "  --exit-idle-ms N    stop after N ms without a received frame (tests)\n"
		   "  --mbufs N           mbufs in the pool (default 16383)\n"
		   "  --tcp-impair SPEC   test only: the appliance's own TCP drops, duplicates\n"
		   "                      and reorders a share of the segments it receives and\n"
		   "                      sends: drop=P,dup=P,reorder=P,seed=N[,dir=rx|tx|both]\n"
		   "                      (P percent, e.g. drop=1,dup=1,reorder=2,seed=7), or\n"
		   "                      off; overrides [Test] TcpImpair\n"
		   "  --sa-log FILE       append each SA as it is installed, one line in\n"
		   "                      Wireshark's esp_sa UAT format (holds keys: the file\n"
		   "                      is created mode 0600; see dataplane/README.md)\n"
		   "  --channel-mbufs N   mbufs of each worker's tenant channels, for their\n"
		   "                      send queues and again for received data (default 8191)\n"
		   "  --corrupt-records N test only: each tenant's decoder fails the check of\n"
		   "                      the first N DATA frames it receives (as a wrong\n"
		   "                      byte would): RESYNC must recover\n");
}

/* The knob's effective settings, loud: a test facility left on in
 * production would look like a lossy link. */
static void log_impair(const struct strait_tcp_impair *ti)
{
	fprintf(stderr, "straitd: WARNING: TCP impairment ON (test facility): the appliance's own "
			"TCP drops %u.%04u%%, duplicates %u.%04u%%, reorders %u.%04u%% of the "
			"segments it %s, seed %llu; bridged traffic is not touched\n",
		ti->drop_ppm / 10000, ti->drop_ppm % 10000, ti->dup_ppm / 10000, ti->dup_ppm % 10000,
		ti->reorder_ppm / 10000, ti->reorder_ppm % 10000,
		ti->rx && ti->tx ? "receives and sends" : ti->rx ? "receives" : "sends",
		(unsigned long long)ti->seed);
}

/* Symmetric Toeplitz key (0x6d5a repeated): both directions of a flow hash
 * to the same queue, so one worker sees all of it. */
static uint8_t sym_rss_key[40] = {
	0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
	0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
	0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
	0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
};

/* Both ports are looked up before either is configured: a wrong WAN name
 * must not leave the LAN port started (and promiscuous). */
static int port_lookup(unsigned idx, const struct strait_port_cfg *pc)
{
	uint16_t pid;
	if (rte_eth_dev_get_port_by_name(pc->device, &pid)) {
		fprintf(stderr, "straitd: [%s] Port %s: no such DPDK port (check the EAL --vdev/-a options)\n",
			idx == DP_LAN ? "LAN" : "WAN", pc->device);
		return -ENODEV;
	}
	app.port_id[idx] = pid;
	return 0;
}

static int port_setup(unsigned idx, const struct strait_port_cfg *pc)
{
	const char *side = idx == DP_LAN ? "LAN" : "WAN";
	uint16_t pid = app.port_id[idx];
	port_found[idx] = true;
	struct rte_eth_dev_info info;
	int r = rte_eth_dev_info_get(pid, &info);
	if (r)
		return r;
	uint16_t nq = (uint16_t)app.n_workers;
	if (nq > info.max_rx_queues || nq > info.max_tx_queues) {
		fprintf(stderr, "straitd: [%s] Port %s: %u queues needed, the device has %u rx/%u tx\n",
			side, pc->device, nq, info.max_rx_queues, info.max_tx_queues);
		return -EINVAL;
	}
	struct rte_eth_conf conf;
	memset(&conf, 0, sizeof(conf));
	if (nq > 1 && info.flow_type_rss_offloads) {
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf.rx_adv_conf.rss_conf.rss_key = sym_rss_key;
		conf.rx_adv_conf.rss_conf.rss_key_len = sizeof(sym_rss_key);
		conf.rx_adv_conf.rss_conf.rss_hf = info.flow_type_rss_offloads &
			(RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP);
	}
	/* Checksum offloads for the appliance's own TCP, when the device has
	 * them (IPv4 header and TCP both, or none): bridged frames carry no
	 * offload request and are sent as they came. */
	const uint64_t csum = RTE_ETH_TX_OFFLOAD_IPV4_CKSUM | RTE_ETH_TX_OFFLOAD_TCP_CKSUM;
	if ((info.tx_offload_capa & csum) == csum) {
		conf.txmode.offloads |= csum;
		app.tx_csum[idx] = true;
	}
	const uint64_t rx_csum = RTE_ETH_RX_OFFLOAD_IPV4_CKSUM | RTE_ETH_RX_OFFLOAD_TCP_CKSUM;
	if ((info.rx_offload_capa & rx_csum) == rx_csum) {
		conf.rxmode.offloads |= rx_csum;
		app.rx_csum[idx] = true;
	}
	/* No MBUF_FAST_FREE: modules hooked in (the TCP engine) send mbufs
	 * from their own pools and with references held for retransmission. */
	r = rte_eth_dev_configure(pid, nq, nq, &conf);
	if (r)
		goto err;
	uint16_t nrx = RX_DESC, ntx = TX_DESC;
	r = rte_eth_dev_adjust_nb_rx_tx_desc(pid, &nrx, &ntx);
	if (r)
		goto err;
	int socket = rte_eth_dev_socket_id(pid);
	for (uint16_t q = 0; q < nq; q++) {
		r = rte_eth_rx_queue_setup(pid, q, nrx, socket < 0 ? 0 : (unsigned)socket, NULL, app.pool);
		if (r)
			goto err;
		r = rte_eth_tx_queue_setup(pid, q, ntx, socket < 0 ? 0 : (unsigned)socket, NULL);
		if (r)
			goto err;
	}
	struct rte_ether_addr mac;
	r = rte_eth_macaddr_get(pid, &mac);
	if (r)
		goto err;
	struct local_addr *la = &app.local[idx];
	memcpy(la->mac, mac.addr_bytes, 6);
	la->vlan = pc->vlan;
	if (pc->addr4.family) {
		la->has4 = true;
		memcpy(la->ip4, pc->addr4.addr, 4);
		la->plen4 = pc->addr4.len;
	}
	if (pc->addr6.family) {
		la->has6 = true;
		memcpy(la->ip6, pc->addr6.addr, 16);
		la->plen6 = pc->addr6.len;
	}
	la->has_gw4 = pc->gateway4.family == 4;
	memcpy(la->gw4, pc->gateway4.addr, 4);
	la->has_gw6 = pc->gateway6.family == 6;
	memcpy(la->gw6, pc->gateway6.addr, 16);
	r = rte_eth_dev_start(pid);
	if (r)
		goto err;
	/* A bump in the wire sees every frame; some vdevs have no promiscuous
	 * switch (net_pcap) and see everything anyway. */
	rte_eth_promiscuous_enable(pid);
	return 0;
err:
	fprintf(stderr, "straitd: [%s] Port %s: setup failed: %s\n", side, pc->device, strerror(-r));
	return r;
}

int main(int argc, char **argv)
{
	/* A SIGHUP before the reload path is ready must not kill straitd
	 * (its default action): ignored until the handler is installed. */
	signal(SIGHUP, SIG_IGN);
	/* Our options follow "--"; EAL's come first. */
	int sep = argc;
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--")) {
			sep = i;
			break;
		}
	const char *config = NULL, *stats_json = NULL, *impair = NULL, *sa_log = NULL;
	bool check = false;
	unsigned long mbufs = 16383;
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check", no_argument, NULL, 'k' },
		{ "stats-json", required_argument, NULL, 's' },
		{ "exit-idle-ms", required_argument, NULL, 'i' },
		{ "mbufs", required_argument, NULL, 'm' },
		{ "tcp-impair", required_argument, NULL, 't' },
		{ "sa-log", required_argument, NULL, 'a' },
		{ "channel-mbufs", required_argument, NULL, 'b' },
		{ "corrupt-records", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	if (sep == argc) { /* no "--": straitd's own options given among EAL's? */
		for (int i = 1; i < argc; i++) {
			if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
				usage(stdout);
				return 0;
			}
			if (!strcmp(argv[i], "-c") || !strncmp(argv[i], "--config", 8) ||
			    !strcmp(argv[i], "--check")) {
				fprintf(stderr, "straitd: %s: straitd's own options go after \"--\", "
						"EAL's before it: straitd [EAL options] -- -c FILE\n",
					argv[i]);
				return 2;
			}
		}
	}
	static char name[] = "straitd";
	int app_argc = argc - sep;
	char **app_argv = argv + sep; /* app_argv[0] is "--", in getopt's name's place */
	char *sep_arg = sep < argc ? app_argv[0] : NULL;
	if (sep_arg)
		app_argv[0] = name; /* its messages say "straitd: ...", not "--: ..." */
	optind = 1;
	int o;
	while (app_argc > 1 && (o = getopt_long(app_argc, app_argv, "c:h", opts, NULL)) != -1) {
		switch (o) {
		case 'c': config = optarg; break;
		case 'k': check = true; break;
		case 's': stats_json = optarg; break;
		case 'i': app.exit_idle_ms = strtoull(optarg, NULL, 10); break;
		case 'm': mbufs = strtoul(optarg, NULL, 10); break;
		case 't': impair = optarg; break;
		case 'a': sa_log = optarg; break;
		case 'b': app.channel_mbufs = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'r': app.corrupt_records = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (sep_arg)
		app_argv[0] = sep_arg;
	if (!config) {
		usage(stderr);
		return 2;
	}
	struct strait_config *cfg = strait_config_new(); /* ~9 MB: never on a stack */
	struct strait_error err;
	char ebuf[PATH_MAX + 512];
	if (!cfg) {
		fprintf(stderr, "straitd: out of memory\n");
		return 1;
	}
	if (strait_config_load(config, cfg, &err) || strait_config_load_keys(cfg, &err)) {
		fprintf(stderr, "straitd: %s\n", strait_error_str(&err, ebuf, sizeof(ebuf)));
		strait_config_free(cfg);
		return 1;
	}
	if (!app.channel_mbufs)
		app.channel_mbufs = 8191;
	/* --tcp-impair overrides the file without changing the configuration
	 * (a reload compares the file with the file) */
	struct strait_tcp_impair impair_cfg = cfg->appliance.tcp_impair, *ti = &impair_cfg;
	if (impair) {
		char why[160];
		if (!strait_parse_tcp_impair(impair, ti, why, sizeof(why))) {
			fprintf(stderr, "straitd: --tcp-impair: %s\n", why);
			strait_config_free(cfg);
			return 2;
		}
	}
	bool impair_on = (ti->rx || ti->tx) && (ti->drop_ppm || ti->dup_ppm || ti->reorder_ppm);
	if (check) {
		if (impair_on)
			log_impair(ti);
		printf("%s: appliance %s, LAN %s, WAN %s, %u tenant(s), %u worker(s)\n", config,
		       cfg->appliance.name, cfg->appliance.lan.device, cfg->appliance.wan.device,
		       cfg->n_tenants, cfg->appliance.workers);
		strait_config_free(cfg);
		return 0;
	}
	/* the configuration in force belongs to `running` from here (reloads
	 * replace it); the API's token is read now: a bad one stops here */
	app.running = strait_running_new(cfg, &err);
	if (!app.running) {
		fprintf(stderr, "straitd: %s\n", strait_error_str(&err, ebuf, sizeof(ebuf)));
		return 1;
	}
	app.published_cfg = cfg;
	app.burst = cfg->appliance.burst;
	app.started_at = (int64_t)time(NULL);

	optind = 1; /* getopt state is shared with EAL's parser */
	int r = rte_eal_init(sep, argv);
	if (r < 0) {
		fprintf(stderr, "straitd: EAL init failed: %s\n", rte_strerror(rte_errno));
		strait_running_free(app.running);
		return 1;
	}
	int rc = 1;
	app.single = cfg->appliance.workers == 0;
	app.n_workers = app.single ? 1 : cfg->appliance.workers;
	if (!app.single && rte_lcore_count() < app.n_workers + 1) {
		fprintf(stderr, "straitd: %u worker(s) need %u lcores (EAL -l), have %u; "
				"or set Workers = 0 for single-lcore mode\n",
			app.n_workers, app.n_workers + 1, rte_lcore_count());
		goto err_eal;
	}
	app.pool = rte_pktmbuf_pool_create("strait_mbufs", (unsigned)mbufs, MBUF_CACHE, 0,
					   RTE_MBUF_DEFAULT_BUF_SIZE, (int)rte_socket_id());
	if (!app.pool) {
		fprintf(stderr, "straitd: mbuf pool: %s\n", rte_strerror(rte_errno));
		goto err_eal;
	}
	flow_hash_seed(rte_rand()); /* bucket placement not predictable from outside */
	app.workers = rte_zmalloc("strait_workers", sizeof(struct dp_worker) * app.n_workers,
				  RTE_CACHE_LINE_SIZE);
	if (!app.workers)
		goto err_pool;
	for (unsigned i = 0; i < app.n_workers; i++)
		if (dp_worker_init(&app, &app.workers[i], i)) {
			fprintf(stderr, "straitd: worker %u: out of memory\n", i);
			goto err_workers;
		}
	if (dp_reload_init(&app) || !(app.stats = strait_stats_table_new(app.n_workers))) {
		fprintf(stderr, "straitd: reload and statistics: out of memory\n");
		goto err_workers;
	}
	if (port_lookup(DP_LAN, &cfg->appliance.lan) || port_lookup(DP_WAN, &cfg->appliance.wan) ||
	    port_setup(DP_LAN, &cfg->appliance.lan) || port_setup(DP_WAN, &cfg->appliance.wan))
		goto err_ports;
	if (app.corrupt_records)
		fprintf(stderr, "straitd: WARNING: --corrupt-records %u (test facility): each tenant's "
				"decoder fails its first %u checks\n", app.corrupt_records, app.corrupt_records);
	if (impair_on) {
		log_impair(ti);
		app.impair = (struct tcp_impair_cfg){ ti->drop_ppm, ti->dup_ppm, ti->reorder_ppm,
						      ti->seed, ti->rx, ti->tx };
	}
	if (tcp_hook_register()) { /* the TCP engine and its services on local TCP */
		fprintf(stderr, "straitd: the TCP module could not be hooked in\n");
		goto err_ports;
	}
	if (wan_register(&app, sa_log)) /* tunnels and channels: the second module */
		goto err_ports;
	if (relay_hook_register()) { /* intercepted flows, on the channels: after wan */
		fprintf(stderr, "straitd: the relay module could not be hooked in\n");
		goto err_ports;
	}

	/* signals, then the API and the telemetry commands, once everything
	 * is set up (seconds under ASan): tests wait for the commands, then
	 * may signal */
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = on_sighup;
	sigaction(SIGHUP, &sa, NULL);
	app.start_ms = dp_now_ms();
	if (dp_api_start(&app))
		goto err_ports;
	if (dp_telemetry_register(&app))
		fprintf(stderr, "straitd: telemetry commands not registered\n");

	fprintf(stderr, "straitd: %s up: LAN %s, WAN %s, %u tenant(s), %s\n", cfg->appliance.name,
		cfg->appliance.lan.device, cfg->appliance.wan.device, cfg->n_tenants,
		app.single ? "single-lcore mode" : "worker lcores");
	fprintf(stderr, "straitd: TCP checksums: tx %s, rx %s\n",
		app.tx_csum[DP_LAN] && app.tx_csum[DP_WAN] ? "NIC offload" : "software",
		app.rx_csum[DP_LAN] && app.rx_csum[DP_WAN] ? "NIC verdicts trusted" : "software");

	if (app.single) {
		dp_worker_run(&app.workers[0], dp_control_tick);
	} else {
		unsigned lcore, i = 0;
		RTE_LCORE_FOREACH_WORKER(lcore) {
			if (i == app.n_workers)
				break;
			if (rte_eal_remote_launch(dp_worker_main, &app.workers[i], lcore)) {
				fprintf(stderr, "straitd: worker %u could not start on lcore %u: "
						"stopping\n", i, lcore);
				break;
			}
			i++;
		}
		/* a worker never launched reads nothing: a reload must not
		 * wait for it */
		for (unsigned k = i; k < app.n_workers; k++) {
			dp_worker_gone(&app.workers[k]);
			app.quit = 1;
		}
		/* Control: wakes every 10 ms, does what is due, sleeps again. */
		while (!app.quit) {
			dp_control_tick(&app);
			usleep(DP_BETWEEN_MS * 1000);
		}
		rte_eal_mp_wait_lcore();
	}
	rc = 0;
	if (stats_json && dp_stats_write_json(&app, stats_json)) {
		fprintf(stderr, "straitd: cannot write %s\n", stats_json);
		rc = 1;
	}
err_ports:
	dp_api_stop(&app); /* no request reads the workers or the table after */
	for (int p = 0; p < DP_NPORTS; p++) {
		if (!port_found[p])
			continue;
		rte_eth_dev_stop(app.port_id[p]);
		rte_eth_dev_close(app.port_id[p]);
	}
err_workers:
	dp_reload_fini(&app);
	/* telemetry commands stop reading the workers from here */
	dp_telemetry_quiesce();
	for (unsigned i = 0; i < app.n_workers; i++)
		dp_worker_fini(&app.workers[i]);
	rte_free(app.workers);
	wan_unregister(); /* after the ports: their queues held the channel's mbufs */
err_pool:
	rte_mempool_free(app.pool);
err_eal:
	rte_eal_cleanup();
	strait_stats_table_free(app.stats);
	strait_running_free(app.running); /* its configurations' keys wiped */
	if (!rc)
		fprintf(stderr, "straitd: stopped\n");
	return rc;
}
