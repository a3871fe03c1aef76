/* SPDX-License-Identifier: BSD-3-Clause */
/* The configuration parser: a numbered table of files, one line each, with
 * what each must give (accepted, or the line and field of its error). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "strait/ctl.h"

#define APP_OK "[Appliance]\nName = a\nWorkers = 0\n[LAN]\nPort = net_pcap0\nAddress = 198.18.0.1/24\n[WAN]\nPort = net_pcap1\n"
#define TEN_HEAD "[Tenant]\nName = t\nKeyFile = t.key\nPeerDown = bypass\n"
#define TEN_RULE "[Interception]\nClientPrefix = 10.1.0.0/16\nServerPrefix = 10.2.0.0/16\nPorts = 873\n"
#define TEN_PEER "[Peer]\nEndpoint = 198.18.1.2\nInnerAddress = 169.254.0.1\nPeerInnerAddress = 169.254.0.2\n"
#define TEN_OK TEN_HEAD TEN_RULE TEN_PEER
#define LONG197 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
#define LONG198 LONG197 "x"

struct tcase {
	int n;
	char kind;          /* 'a' appliance file, 't' tenant file */
	const char *text;
	size_t size;        /* sizeof(text) - 1: the text may hold NUL bytes */
	int line;           /* 0 = accepted; else the error's line */
	const char *field;  /* substring of the error's field */
};

#define T(n, kind, text, line, field) { n, kind, text, sizeof(text) - 1, line, field }

static const struct tcase cases[] = {
	T(1, 'a', APP_OK, 0, NULL),
	T(2, 'a', "[Appliance]\nName = a\n[LAN]\nPort = x\n", 0, "[WAN] Port"), /* no [WAN]: no line */
	T(3, 'a', APP_OK "Bogus = 1\n", 9, "[WAN] Bogus"),
	T(4, 'a', "[Appliance]\nWorkers = 99\n", 2, "[Appliance] Workers"),
	T(5, 'a', "[Appliance]\nFlowTableSize = 1000\n", 2, "[Appliance] FlowTableSize"),
	T(6, 'a', "[Appliance]\nName = a\nName = b\n", 3, "[Appliance] Name"),
	T(7, 'a', "[Appliance]\n[LAN]\nPort = p\nAddress = 198.18.0.1\n", 4, "[LAN] Address"),
	T(8, 'a', "[Appliance]\n[LAN]\nPort = p\nAddress = 198.18.0.300/24\n", 4, "[LAN] Address"),
	T(9, 'a', "[Appliance]\n[LAN]\nPort = p\nVlan = 4095\n", 4, "[LAN] Vlan"),
	T(10, 'a', "[LAN]\nPort = p\n[WAN]\nPort = p\n", 3, "[WAN] Port"),
	T(11, 'a', "[LAN]\nPort = p\nGateway = 198.18.0.254\n[WAN]\nPort = q\n", 1, "[LAN] Gateway"),
	T(12, 'a', "[Appliance]\nthis is not ini\n", 2, ""),
	T(13, 'a', "[Routing]\nX = 1\n", 2, "[Routing]"),
	T(14, 'a', "[LAN]\nPort = p\nAddress = 198.18.0.1/24\nAddress = 198.18.0.2/24\n[WAN]\nPort = q\n", 4, "[LAN] Address"),
	T(15, 'a', "[LAN]\nPort = p\nAddress = 2001:2::1/64\nGateway = 2001:2::fe\n[WAN]\nPort = q\n", 0, NULL),
	T(16, 'a', "[LAN]\nPort = p\n", 0, "[WAN] Port"),
	T(17, 't', TEN_OK, 0, NULL),
	T(18, 't', TEN_OK "[Bandwidth]\nGuaranteed = 100M\nCeiling = 1G\nPriority = 1\nWeight = 10\n", 0, NULL),
	T(19, 't', TEN_OK "[Bandwidth]\nGuaranteed = 2G\nCeiling = 1G\n", 13, "[Bandwidth] Guaranteed"),
	T(20, 't', TEN_OK "[Bandwidth]\nCeiling = fast\n", 14, "[Bandwidth] Ceiling"),
	T(21, 't', "[Tenant]\nName = t\nKeyFile = k\nPeerDown = maybe\n", 4, "[Tenant] PeerDown"),
	T(22, 't', "[Tenant]\nName = t\nPeerDown = bypass\n" TEN_RULE TEN_PEER, 1, "[Tenant] KeyFile"),
	T(23, 't', TEN_HEAD "[Interception]\nClientPrefix = 10.1.0.0/16\nPorts = 873\n" TEN_PEER, 5, "[Interception] ServerPrefix"),
	T(24, 't', TEN_HEAD "[Interception]\nClientPrefix = 10.1.0.1/16\n", 6, "[Interception] ClientPrefix"),
	T(25, 't', TEN_HEAD "[Interception]\nPorts = 80, 70000\n", 6, "[Interception] Ports"),
	T(26, 't', TEN_HEAD "[Interception]\nPorts = 90-80\n", 6, "[Interception] Ports"),
	T(27, 't', TEN_HEAD "[Interception]\nClientPrefix = 10.1.0.0/16, 2001:db8::/32\nServerPrefix = 10.2.0.0/16\nPorts = 1-65535\n" TEN_PEER, 0, NULL),
	T(28, 't', TEN_HEAD "[Interception]\nClientPrefix = 2001:db8::/32\nServerPrefix = 10.2.0.0/16\nPorts = 1\n" TEN_PEER, 5, "[Interception] ServerPrefix"),
	T(29, 't', TEN_HEAD TEN_RULE "[Peer]\nEndpoint = 198.18.1.2\nInnerAddress = 169.254.0.1\nPeerInnerAddress = 2001:db8::1\n", 9, "[Peer] PeerInnerAddress"),
	T(30, 't', TEN_HEAD TEN_RULE "[Peer]\nEndpoint = peer.example\n", 10, "[Peer] Endpoint"),
	T(31, 't', TEN_HEAD TEN_RULE "[Peer]\nEndpoint = [2001:db8::2]:4501\nInnerAddress = fd00::1\nPeerInnerAddress = fd00::2\n", 0, NULL),
	T(32, 't', TEN_HEAD TEN_RULE "[Peer]\nEndpoint = 198.18.1.2:0\n", 10, "[Peer] Endpoint"),
	T(33, 't', TEN_HEAD TEN_RULE "[Peer]\nEndpoint = 198.18.1.2\nInnerAddress = 169.254.0.1\nPeerInnerAddress = 169.254.0.1\n", 9, "[Peer] PeerInnerAddress"),
	T(34, 't', "[Tenant]\nName = bad name\n", 2, "[Tenant] Name"),
	T(35, 't', TEN_OK "[Bandwidth]\nPriority = 8\n", 14, "[Bandwidth] Priority"),
	T(36, 't', TEN_HEAD TEN_RULE "Ports = 873\n" TEN_PEER, 0, NULL), /* lists may repeat */
	/* a line longer than the reader's buffer is refused at its own line,
	 * not cut in two (the tail of a comment would become a setting) */
	T(37, 'a', "[Appliance]\nName = a\n#" LONG198 "Workers = 3\n", 3, ""),
	T(38, 'a', "[Appliance]\n# " LONG198 LONG198 "\nBogus = 1\n", 2, ""),
	/* exactly the longest line accepted, last line without a newline too */
	T(39, 'a', APP_OK "#" LONG197, 0, NULL),
	/* own addresses the appliance cannot use, gateways off the port's prefix */
#define PORT_LAN "[Appliance]\nName = a\n[LAN]\nPort = a\n"
#define PORT_WAN "[WAN]\nPort = b\n"
	T(40, 'a', PORT_LAN "Address = 255.255.255.255/32\n" PORT_WAN, 5, "[LAN] Address"),
	T(41, 'a', PORT_LAN "Address = 224.0.0.1/4\n" PORT_WAN, 5, "[LAN] Address"),
	T(42, 'a', PORT_LAN "Address = ff02::1/16\n" PORT_WAN, 5, "[LAN] Address"),
	T(43, 'a', PORT_LAN "Address = 198.18.0.0/24\n" PORT_WAN, 5, "[LAN] Address"),
	T(44, 'a', PORT_LAN "Address = 198.18.0.255/24\n" PORT_WAN, 5, "[LAN] Address"),
	T(45, 'a', PORT_LAN "Address = 127.0.0.1/8\n" PORT_WAN, 5, "[LAN] Address"),
	T(46, 'a', PORT_LAN "Address = 10.0.0.1/0\n" PORT_WAN, 5, "[LAN] Address"),
	T(47, 'a', PORT_LAN "Address = ::/64\n" PORT_WAN, 5, "[LAN] Address"),
	T(48, 'a', PORT_LAN "Address = ::1/128\n" PORT_WAN, 5, "[LAN] Address"),
	T(49, 'a', PORT_LAN "Address = 0.0.0.1/24\n" PORT_WAN, 5, "[LAN] Address"),
	T(50, 'a', PORT_LAN "Address = 198.18.0.1/24\nGateway = 10.9.9.9\n" PORT_WAN, 6, "[LAN] Gateway"),
	T(51, 'a', PORT_LAN "Gateway = 10.9.9.9\nAddress = 198.18.0.1/24\n" PORT_WAN, 5, "[LAN] Gateway"),
	T(52, 'a', PORT_LAN "Address = 198.18.0.1/24\nGateway = 198.18.0.1\n" PORT_WAN, 6, "[LAN] Gateway"),
	T(53, 'a', PORT_LAN "Address = 198.18.0.1/24\nGateway = 198.18.0.255\n" PORT_WAN, 6, "[LAN] Gateway"),
	T(54, 'a', PORT_LAN "Address = 2001:2::1/64\nGateway = 2001:3::1\n" PORT_WAN, 6, "[LAN] Gateway"),
	T(55, 'a', PORT_LAN "Address = 198.18.0.1/24\nGateway = 198.18.0.254\n" PORT_WAN, 0, NULL),
	T(56, 'a', PORT_LAN "Address = 2001:2::1/64\nGateway = fe80::1\n" PORT_WAN, 0, NULL), /* link-local router */
	T(57, 'a', PORT_LAN "Address = 198.18.0.1/31\nGateway = 198.18.0.0\n" PORT_WAN, 0, NULL), /* RFC 3021 */
	T(58, 'a', PORT_LAN "Address = 198.18.0.1/32\n" PORT_WAN, 0, NULL),
	/* prefix lengths are digits only; an IPv4-mapped endpoint is refused,
	 * not cut at its first colon */
	T(59, 't', TEN_HEAD "[Interception]\nClientPrefix = 10.0.0.0/+8\n", 6, "[Interception] ClientPrefix"),
	T(60, 't', TEN_HEAD "[Interception]\nClientPrefix = 10.0.0.0/-0\n", 6, "[Interception] ClientPrefix"),
	T(61, 't', TEN_HEAD TEN_RULE "[Peer]\nEndpoint = ::ffff:198.18.1.2\n", 10, "[Peer] Endpoint"),
	T(62, 't', TEN_HEAD TEN_RULE "[Peer]\nEndpoint = [::ffff:198.18.1.2]:4500\n", 10, "[Peer] Endpoint"),
	T(63, 't', TEN_HEAD TEN_RULE "[Peer]\nEndpoint = 198.18.1.2:4501\nInnerAddress = 169.254.0.1\nPeerInnerAddress = 169.254.0.2\n", 0, NULL),
	T(64, 't', TEN_HEAD TEN_RULE "[Peer]\nEndpoint = 2001:2::2\nInnerAddress = 169.254.0.1\nPeerInnerAddress = 169.254.0.2\n", 0, NULL),
	/* a NUL byte in a line is an error at that line, not a silent cut */
	T(65, 'a', "[Appliance]\nName = a\0b\n", 2, ""),
	/* the WAN shaper: the link rate, bandwidth policy, transport */
	T(66, 'a', APP_OK "Rate = 100M\n", 0, NULL),
	T(67, 'a', APP_OK "Rate = fast\n", 9, "[WAN] Rate"),
	T(68, 'a', APP_OK "Rate = 0\n", 9, "[WAN] Rate"),
	T(69, 'a', APP_OK "Rate = 999\n", 9, "[WAN] Rate"),
	T(70, 'a', APP_OK "Rate = 1G\nRate = 2G\n", 10, "[WAN] Rate"),
	T(71, 'a', PORT_LAN "Rate = 1G\n" PORT_WAN, 5, "[LAN] Rate"),
	T(72, 't', TEN_OK "[Bandwidth]\nGuaranteed = 500\n", 14, "[Bandwidth] Guaranteed"),
	T(73, 't', TEN_OK "[Bandwidth]\nRpoTarget = 300s\nTransport = bbr\n", 0, NULL),
	T(74, 't', TEN_OK "[Bandwidth]\nRpoTarget = 0s\n", 14, "[Bandwidth] RpoTarget"),
	T(75, 't', TEN_OK "[Bandwidth]\nRpoTarget = 31d\n", 14, "[Bandwidth] RpoTarget"),
	T(76, 't', TEN_OK "[Bandwidth]\nRpoTarget = 300ms\n", 14, "[Bandwidth] RpoTarget"),
	T(77, 't', TEN_OK "[Bandwidth]\nRpoTarget = -5\n", 14, "[Bandwidth] RpoTarget"),
	T(78, 't', TEN_OK "[Bandwidth]\nRpoTarget = 15min\nTransport = CUBIC\n", 0, NULL),
	T(79, 't', TEN_OK "[Bandwidth]\nTransport = reno\n", 14, "[Bandwidth] Transport"),
	T(80, 't', TEN_OK "[Bandwidth]\nTransport = rate\nTransport = bbr\n", 15, "[Bandwidth] Transport"),
};

static char dir[] = "/tmp/dp-ctl-test-XXXXXX";

static void setup(void)
{
	cr_assert(mkdtemp(dir));
}

static void teardown(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	cr_assert(f);
	fputs(text, f);
	fclose(f);
}

/* The same for a text that may hold NUL bytes (n bytes). */
static void write_bytes(const char *path, const char *text, size_t n)
{
	FILE *f = fopen(path, "w");
	cr_assert(f);
	cr_assert_eq(fwrite(text, 1, n, f), n);
	fclose(f);
}

Test(config, table, .init = setup, .fini = teardown)
{
	static struct strait_tenant_cfg tc;
	static struct strait_appliance_cfg ac;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct tcase *c = &cases[i];
		char path[256], msg[PATH_MAX + 512];
		snprintf(path, sizeof(path), "%s/case%d.conf", dir, c->n);
		write_bytes(path, c->text, c->size);
		struct strait_error err;
		int r = c->kind == 'a' ? strait_appliance_load(path, &ac, &err)
				       : strait_tenant_load(path, &tc, &err);
		if (!c->line && !c->field) {
			cr_expect_eq(r, 0, "case %d: refused: %s", c->n, strait_error_str(&err, msg, sizeof(msg)));
			continue;
		}
		cr_expect_neq(r, 0, "case %d: accepted, expected an error", c->n);
		if (!r)
			continue;
		strait_error_str(&err, msg, sizeof(msg));
		cr_expect_str_eq(err.file, path, "case %d: %s", c->n, msg);
		if (c->line)
			cr_expect_eq(err.line, (unsigned)c->line, "case %d: line %u, expected %d: %s",
				     c->n, err.line, c->line, msg);
		cr_expect(strstr(err.field, c->field), "case %d: field \"%s\", expected \"%s\": %s",
			  c->n, err.field, c->field, msg);
		cr_expect(strstr(msg, path), "case %d: message lacks the file: %s", c->n, msg);
	}
}

/* Only regular files, and not huge ones: a FIFO or a device would hang
 * the reader (or feed it forever). */
Test(config, not_regular, .init = setup, .fini = teardown)
{
	static struct strait_appliance_cfg ac;
	static struct strait_config cfg;
	struct strait_error err;
	char path[256], msg[PATH_MAX + 512];
	cr_expect_neq(strait_appliance_load("/dev/zero", &ac, &err), 0);
	cr_expect(strstr(err.msg, "not a regular file"), "%s", strait_error_str(&err, msg, sizeof(msg)));
	snprintf(path, sizeof(path), "%s/tenants", dir);
	cr_assert_eq(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/tenants/x.conf", dir);
	cr_assert_eq(mkfifo(path, 0600), 0);
	char app[256];
	snprintf(app, sizeof(app), "%s/app.conf", dir);
	write_file(app, APP_OK "[Appliance]\nTenantDir = tenants\n");
	cr_expect_neq(strait_config_load(app, &cfg, &err), 0);
	cr_expect_str_eq(err.file, path);
	cr_expect(strstr(err.msg, "not a regular file"), "%s", strait_error_str(&err, msg, sizeof(msg)));
	/* a file over the size cap */
	snprintf(path, sizeof(path), "%s/big.conf", dir);
	FILE *f = fopen(path, "w");
	cr_assert(f);
	for (int i = 0; i < 40000; i++)
		fputs("# a comment line that fills the file up\n", f);
	fclose(f);
	cr_expect_neq(strait_appliance_load(path, &ac, &err), 0);
	cr_expect(strstr(err.msg, "larger than"), "%s", strait_error_str(&err, msg, sizeof(msg)));
}

Test(config, values)
{
	struct strait_tenant_cfg t;
	struct strait_error err;
	char path[] = "/tmp/dp-ctl-values-XXXXXX";
	int fd = mkstemp(path);
	cr_assert(fd >= 0);
	close(fd);
	write_file(path, TEN_HEAD "[Interception]\nClientPrefix = 10.1.0.0/16, 2001:db8:1::/48\n"
		   "ServerPrefix = 10.2.5.0/24\nPorts = 873, 1521-1522\n"
		   "[Peer]\nEndpoint = 198.18.1.2:4501\nInnerAddress = 169.254.0.1\nPeerInnerAddress = 169.254.0.2\n"
		   "[Bandwidth]\nGuaranteed = 1.5M\nCeiling = 2G\n");
	cr_assert_eq(strait_tenant_load(path, &t, &err), 0);
	unlink(path);
	cr_expect_str_eq(t.name, "t");
	cr_expect_eq(t.n_client, 2);
	cr_expect_eq(t.client[1].family, 6);
	cr_expect_eq(t.client[1].len, 48);
	cr_expect_eq(t.server[0].len, 24);
	cr_expect_eq(t.n_ports, 2);
	cr_expect_eq(t.ports[1].lo, 1521);
	cr_expect_eq(t.ports[1].hi, 1522);
	cr_expect_eq(t.peer_port, 4501);
	cr_expect_eq(t.guaranteed_bps, 1500000);
	cr_expect_eq(t.ceiling_bps, 2000000000ull);
	cr_expect_eq(t.peer_down, STRAIT_PEER_DOWN_BYPASS);
	/* KeyFile is resolved against the file's folder */
	cr_expect_str_eq(t.key_file, "/tmp/t.key");
	cr_expect_eq(t.rpo_target_ns, 0);
	cr_expect_eq(t.transport, STRAIT_TRANSPORT_RATE, "rate is the default");
	cr_expect_eq(t.guaranteed_line, 14);
	write_file(path, TEN_OK "[Bandwidth]\nRpoTarget = 1h\nTransport = cubic\n");
	cr_assert_eq(strait_tenant_load(path, &t, &err), 0);
	cr_expect_eq(t.rpo_target_ns, 3600000000000ull);
	cr_expect_eq(t.transport, STRAIT_TRANSPORT_CUBIC);
	cr_expect_str_eq(strait_transport_name(t.transport), "cubic");
	cr_expect_eq(t.guaranteed_line, 0);
	write_file(path, TEN_OK "[Bandwidth]\nRpoTarget = 300\n");
	cr_assert_eq(strait_tenant_load(path, &t, &err), 0);
	cr_expect_eq(t.rpo_target_ns, 300000000000ull, "a bare number is seconds");
	unlink(path);
	static struct strait_appliance_cfg a;
	char app[] = "/tmp/dp-ctl-values-XXXXXX";
	fd = mkstemp(app);
	cr_assert(fd >= 0);
	close(fd);
	write_file(app, APP_OK "Rate = 2.5G\n");
	cr_assert_eq(strait_appliance_load(app, &a, &err), 0);
	cr_expect_eq(a.wan_rate_bps, 2500000000ull);
	cr_expect_eq(a.wan_rate_line, 9);
	write_file(app, APP_OK);
	cr_assert_eq(strait_appliance_load(app, &a, &err), 0);
	cr_expect_eq(a.wan_rate_bps, 0, "no Rate: the link is not shaped as a whole");
	unlink(app);
}

/* The guarantees share [WAN] Rate: the tenant that overcommits it is
 * refused at its Guaranteed line, naming the appliance's Rate line. */
Test(config, guarantees_within_the_link, .init = setup, .fini = teardown)
{
	static struct strait_config cfg;
	struct strait_error err;
	char path[256], app[256], msg[PATH_MAX + 512];
	snprintf(path, sizeof(path), "%s/tenants", dir);
	cr_assert_eq(mkdir(path, 0700), 0);
	snprintf(app, sizeof(app), "%s/app.conf", dir);
	write_file(app, APP_OK "Rate = 100M\n[Appliance]\nTenantDir = tenants\n");
	snprintf(path, sizeof(path), "%s/tenants/a.conf", dir);
	write_file(path, TEN_OK "[Bandwidth]\nGuaranteed = 60M\n");
	snprintf(path, sizeof(path), "%s/tenants/b.conf", dir);
#define TEN_U "[Tenant]\nName = u\nKeyFile = u.key\nPeerDown = bypass\n" \
	"[Interception]\nClientPrefix = 10.1.0.0/16\nServerPrefix = 10.3.0.0/16\nPorts = 873\n" TEN_PEER
	write_file(path, TEN_U "[Bandwidth]\nPriority = 2\nGuaranteed = 40M\nCeiling = 1G\n");
	cr_assert_eq(strait_config_load(app, &cfg, &err), 0, "exactly the link: %s",
		     strait_error_str(&err, msg, sizeof(msg)));
	write_file(path, TEN_U "[Bandwidth]\nPriority = 2\nGuaranteed = 40.5M\n");
	cr_assert_neq(strait_config_load(app, &cfg, &err), 0);
	strait_error_str(&err, msg, sizeof(msg));
	cr_expect_str_eq(err.file, path, "%s", msg);
	cr_expect_eq(err.line, 15, "%s", msg);
	cr_expect_str_eq(err.field, "[Bandwidth] Guaranteed", "%s", msg);
	cr_expect(strstr(msg, "100500k") && strstr(msg, "Rate = 100M") && strstr(msg, "app.conf:9"), "%s", msg);
	/* without Rate the link is not shaped as a whole: nothing to exceed */
	write_file(app, APP_OK "[Appliance]\nTenantDir = tenants\n");
	cr_expect_eq(strait_config_load(app, &cfg, &err), 0, "%s", strait_error_str(&err, msg, sizeof(msg)));
#undef TEN_U
}

Test(config, tenant_dir_and_ambiguity, .init = setup, .fini = teardown)
{
	static struct strait_config cfg;
	struct strait_error err;
	char path[256], app[256], msg[PATH_MAX + 512];
	snprintf(path, sizeof(path), "%s/tenants", dir);
	cr_assert_eq(mkdir(path, 0700), 0);
	snprintf(app, sizeof(app), "%s/app.conf", dir);
	write_file(app, APP_OK "[Appliance]\nTenantDir = tenants\n");
	snprintf(path, sizeof(path), "%s/tenants/a.conf", dir);
	write_file(path, TEN_OK);
	snprintf(path, sizeof(path), "%s/tenants/b.conf", dir);
	write_file(path, "[Tenant]\nName = u\nKeyFile = u.key\nPeerDown = fail-closed\n"
		   "[Interception]\nClientPrefix = 10.1.0.0/16\nServerPrefix = 10.2.0.0/16\nPorts = 874-900\n" TEN_PEER);
	cr_assert_eq(strait_config_load(app, &cfg, &err), 0, "%s", strait_error_str(&err, msg, sizeof(msg)));
	cr_expect_eq(cfg.n_tenants, 2);
	cr_expect_str_eq(cfg.tenants[0].name, "t"); /* file name order */
	cr_expect_str_eq(cfg.tenants[1].name, "u");
	cr_expect_eq(cfg.tenants[1].peer_down, STRAIT_PEER_DOWN_FAIL_CLOSED);
	/* u claims 800-900, which holds t's 873, on the same prefixes: the
	 * narrowest range decides (t for 873), so it loads */
	write_file(path, "[Tenant]\nName = u\nKeyFile = u.key\nPeerDown = fail-closed\n"
		   "[Interception]\nClientPrefix = 10.1.0.0/16\nServerPrefix = 10.2.0.0/16\nPorts = 800-900\n" TEN_PEER);
	cr_expect_eq(strait_config_load(app, &cfg, &err), 0, "%s", strait_error_str(&err, msg, sizeof(msg)));
	/* a true tie: u claims 873 too (equally narrow), beside 874-900 */
	write_file(path, "[Tenant]\nName = u\nKeyFile = u.key\nPeerDown = fail-closed\n"
		   "[Interception]\nClientPrefix = 10.1.0.0/16\nServerPrefix = 10.2.0.0/16\nPorts = 874-900, 873\n" TEN_PEER);
	cr_assert_neq(strait_config_load(app, &cfg, &err), 0);
	cr_expect_str_eq(err.file, path);
	cr_expect_eq(err.line, 5);
	cr_expect(strstr(err.msg, "\"t\""), "%s", err.msg);
	/* u 860-880 overlaps t's 873 but is wider: t wins 873, loads */
	write_file(path, "[Tenant]\nName = u\nKeyFile = u.key\nPeerDown = fail-closed\n"
		   "[Interception]\nClientPrefix = 10.1.0.0/16\nServerPrefix = 10.2.0.0/16\nPorts = 860-880\n" TEN_PEER);
	cr_expect_eq(strait_config_load(app, &cfg, &err), 0, "%s", strait_error_str(&err, msg, sizeof(msg)));
	/* a more specific server prefix is not ambiguous: longest prefix wins */
	write_file(path, "[Tenant]\nName = u\nKeyFile = u.key\nPeerDown = fail-closed\n"
		   "[Interception]\nClientPrefix = 10.1.0.0/16\nServerPrefix = 10.2.5.0/24\nPorts = 800-900\n" TEN_PEER);
	cr_expect_eq(strait_config_load(app, &cfg, &err), 0);
	/* same name twice */
	write_file(path, TEN_OK);
	cr_expect_neq(strait_config_load(app, &cfg, &err), 0);
	cr_expect_str_eq(err.field, "[Tenant] Name");
	/* TenantDir missing */
	write_file(app, APP_OK "[Appliance]\nTenantDir = nowhere\n");
	cr_expect_neq(strait_config_load(app, &cfg, &err), 0);
	cr_expect_str_eq(err.field, "[Appliance] TenantDir");
	/* the shipped examples load */
	cr_expect_eq(strait_config_load(EXAMPLES "/appliance.conf", &cfg, &err), 0, "%s",
		     strait_error_str(&err, msg, sizeof(msg)));
	cr_expect_eq(cfg.n_tenants, 2);
}
