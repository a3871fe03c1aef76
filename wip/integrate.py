#!/usr/bin/env python3
# Applies the WAN module's glue to a dataplane/ tree (layout's shape):
# main.c options and registration, dp.h, meson.build, telemetry.c table.
import os
import shutil
import sys

root = sys.argv[1]
wip = os.path.dirname(os.path.abspath(__file__))
dp = os.path.join(root, "dataplane")


def edit(path, pairs):
    p = os.path.join(dp, path)
    s = open(p).read()
    for old, new in pairs:
        if old not in s:
            sys.exit("%s: not found:\n%s" % (path, old))
        s = s.replace(old, new, 1)
    open(p, "w").write(s)


for f in ("channel.c", "channel.h", "wan.c", "wan.h", "wan_rx.c", "wan_rx.h", "wan_telemetry.c"):
    shutil.copy(os.path.join(wip, f), os.path.join(dp, f))

edit("dp.h", [(
    """	bool tx_csum[DP_NPORTS], rx_csum[DP_NPORTS];
};""",
    """	bool tx_csum[DP_NPORTS], rx_csum[DP_NPORTS];
	unsigned channel_mbufs;    /* per worker, each of the channel's two pools */
};""")])

edit("meson.build", [
    ("""  'classify.c', 'flow.c', 'local.c', 'neigh.c', 'pkt.c',
  include_directories: inc, dependencies: [strait_ctl_dep])""",
     """  'classify.c', 'flow.c', 'local.c', 'neigh.c', 'pkt.c', 'wan_rx.c',
  include_directories: inc, dependencies: [strait_ctl_dep, tunnel_dep])"""),
    ("""  dependencies: [strait_ctl_dep])""", """  dependencies: [strait_ctl_dep, tunnel_dep])"""),
    ("""  'control.c', 'hooks.c', 'main.c', 'tcp_hook.c', 'telemetry.c', 'tx.c',
  'worker.c',""",
     """  'channel.c', 'control.c', 'hooks.c', 'main.c', 'tcp_hook.c', 'telemetry.c',
  'tx.c', 'wan.c', 'wan_telemetry.c', 'worker.c',"""),
])

edit("telemetry.c", [
    ("""	{ "/strait/tcp/conns", do_tcp_conns,
	  "Open TCP connections (first 24): tuple, state, RTT, cwnd, counters" },""",
     """	{ "/strait/tcp/conns", do_tcp_conns,
	  "Open TCP connections (first 24): tuple, state, RTT, cwnd, counters" },
	{ "/strait/tunnel", wan_tel_tunnel, "WAN tunnels: totals and each tenant's state; "
	  "parameter: a tenant name for its tunnel, handshakes, ESP, drops, channel, test" },
	{ "/strait/tunnel/test", wan_tel_test, "Tests the channel alone: "
	  "parameters TENANT,discard|echo|source,BYTES (result in /strait/tunnel,TENANT)" },"""),
    ('#include "dp.h"\n', '#include "dp.h"\n#include "wan.h"\n'),
])

edit("main.c", [
    (""" *           [--exit-idle-ms N] [--mbufs N] [--tcp-impair SPEC]""",
     """ *           [--exit-idle-ms N] [--mbufs N] [--tcp-impair SPEC]
 *           [--sa-log FILE] [--channel-mbufs N]"""),
    ("""		{ "tcp-impair", required_argument, NULL, 't' },""",
     """		{ "tcp-impair", required_argument, NULL, 't' },
		{ "sa-log", required_argument, NULL, 'a' },
		{ "channel-mbufs", required_argument, NULL, 'b' },"""),
    ("""		case 't': impair = optarg; break;""",
     """		case 't': impair = optarg; break;
		case 'a': sa_log = optarg; break;
		case 'b': app.channel_mbufs = (unsigned)strtoul(optarg, NULL, 10); break;"""),
    ("""	const char *config = NULL, *stats_json = NULL, *impair = NULL;""",
     """	const char *config = NULL, *stats_json = NULL, *impair = NULL, *sa_log = NULL;"""),
    ("""	if (strait_config_load(config, &cfg, &err)) {
		char buf[PATH_MAX + 512];
		fprintf(stderr, "straitd: %s\\n", strait_error_str(&err, buf, sizeof(buf)));
		return 1;
	}""",
     """	if (strait_config_load(config, &cfg, &err) || strait_config_load_keys(&cfg, &err)) {
		char buf[PATH_MAX + 512];
		fprintf(stderr, "straitd: %s\\n", strait_error_str(&err, buf, sizeof(buf)));
		return 1;
	}
	if (!app.channel_mbufs)
		app.channel_mbufs = 8191;"""),
    ("""	if (check) {
		if (impair_on)
			log_impair(ti);""",
     """	if (check) {
		strait_config_wipe_keys(&cfg);
		if (impair_on)
			log_impair(ti);"""),
    ("""		fprintf(stderr, "straitd: the TCP module could not be hooked in\\n");
		goto err_ports;
	}""",
     """		fprintf(stderr, "straitd: the TCP module could not be hooked in\\n");
		goto err_ports;
	}
	if (wan_register(&app, sa_log)) /* tunnels and channels: the second module */
		goto err_ports;"""),
    ('#include "tcp_hook.h"\n', '#include "tcp_hook.h"\n#include "wan.h"\n'),
    ('''		   "                      off; overrides [Test] TcpImpair\\n");''',
     '''		   "                      off; overrides [Test] TcpImpair\\n"
		   "  --sa-log FILE       append each SA as it is installed, one line in\\n"
		   "                      Wireshark's esp_sa UAT format (holds keys: the file\\n"
		   "                      is created mode 0600; see dataplane/README.md)\\n"
		   "  --channel-mbufs N   mbufs in each of a worker's two channel pools\\n"
		   "                      (default 8191)\\n");'''),
    ('''		   "               [--tcp-impair SPEC]\\n"''',
     '''		   "               [--tcp-impair SPEC] [--sa-log FILE] [--channel-mbufs N]\\n"'''),
    ('''	for (unsigned i = 0; i < app.n_workers; i++)
		dp_worker_fini(&app.workers[i]);
	rte_free(app.workers);''',
     '''	for (unsigned i = 0; i < app.n_workers; i++)
		dp_worker_fini(&app.workers[i]);
	rte_free(app.workers);
	wan_unregister(); /* after the ports: their queues held the channel's mbufs */'''),
    ('''err_eal:
	rte_eal_cleanup();''',
     '''err_eal:
	rte_eal_cleanup();
	strait_config_wipe_keys(&cfg); /* each tunnel wiped its tenant's already */'''),
])
print("integrated into", dp)
