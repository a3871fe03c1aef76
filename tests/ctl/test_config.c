/* SPDX-License-Identifier: BSD-3-Clause */
/* The configuration parser: a numbered table of files, one line each, with
 * what each must give (accepted, or the line and field of its error). */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "strait/ctl.h"

#define APP_OK "[Appliance]\nName = a\nWorkers = 0\n[LAN]\nPort = net_pcap0\nAddress = 198.18.0.1/24\n[WAN]\nPort = net_pcap1\nAddress = 198.18.1.1/24\n"
#define TEN_HEAD "[Tenant]\nName = t\nId = 1\nKeyFile = t.key\nPeerDown = bypass\n"
#define TEN_RULE "[Interception]\nClientPrefix = 10.1.0.0/16\nServerPrefix = 10.2.0.0/16\nPorts = 873\n"
#define TEN_PEER "[Peer]\nEndpoint = 198.18.1.2\nInnerAddress = 169.254.0.1\nPeerInnerAddress = 169.254.0.2\n"
#define TEN_OK TEN_HEAD TEN_RULE TEN_PEER
#define TEN_PEER_U "[Peer]\nEndpoint = 198.18.1.2\nInnerAddress = 169.254.1.1\nPeerInnerAddress = 169.254.1.2\n"
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
	T(3, 'a', APP_OK "Bogus = 1\n", 10, "[WAN] Bogus"),
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
	T(19, 't', TEN_OK "[Bandwidth]\nGuaranteed = 2G\nCeiling = 1G\n", 14, "[Bandwidth] Guaranteed"),
	T(20, 't', TEN_OK "[Bandwidth]\nCeiling = fast\n", 15, "[Bandwidth] Ceiling"),
	T(21, 't', "[Tenant]\nName = t\nKeyFile = k\nPeerDown = maybe\n", 4, "[Tenant] PeerDown"),
	T(22, 't', "[Tenant]\nName = t\nId = 1\nPeerDown = bypass\n" TEN_RULE TEN_PEER, 1, "[Tenant] KeyFile"),
	T(23, 't', TEN_HEAD "[Interception]\nClientPrefix = 10.1.0.0/16\nPorts = 873\n" TEN_PEER, 6, "[Interception] ServerPrefix"),
	T(24, 't', TEN_HEAD "[Interception]\nClientPrefix = 10.1.0.1/16\n", 7, "[Interception] ClientPrefix"),
	T(25, 't', TEN_HEAD "[Interception]\nPorts = 80, 70000\n", 7, "[Interception] Ports"),
	T(26, 't', TEN_HEAD "[Interception]\nPorts = 90-80\n", 7, "[Interception] Ports"),
	T(27, 't', TEN_HEAD "[Interception]\nClientPrefix = 10.1.0.0/16, 2001:db8::/32\nServerPrefix = 10.2.0.0/16\nPorts = 1-65535\n" TEN_PEER, 0, NULL),
	T(28, 't', TEN_HEAD "[Interception]\nClientPrefix = 2001:db8::/32\nServerPrefix = 10.2.0.0/16\nPorts = 1\n" TEN_PEER, 6, "[Interception] ServerPrefix"),
	T(29, 't', TEN_HEAD TEN_RULE "[Peer]\nEndpoint = 198.18.1.2\nInnerAddress = 169.254.0.1\nPeerInnerAddress = 2001:db8::1\n", 10, "[Peer] PeerInnerAddress"),
	T(30, 't', TEN_HEAD TEN_RULE "[Peer]\nEndpoint = peer.example\n", 11, "[Peer] Endpoint"),
	T(31, 't', TEN_HEAD TEN_RULE "[Peer]\nEndpoint = [2001:db8::2]:4501\nInnerAddress = fd00::1\nPeerInnerAddress = fd00::2\n", 0, NULL),
	T(32, 't', TEN_HEAD TEN_RULE "[Peer]\nEndpoint = 198.18.1.2:0\n", 11, "[Peer] Endpoint"),
	T(33, 't', TEN_HEAD TEN_RULE "[Peer]\nEndpoint = 198.18.1.2\nInnerAddress = 169.254.0.1\nPeerInnerAddress = 169.254.0.1\n", 10, "[Peer] PeerInnerAddress"),
	T(34, 't', "[Tenant]\nName = bad name\n", 2, "[Tenant] Name"),
	T(35, 't', TEN_OK "[Bandwidth]\nPriority = 8\n", 15, "[Bandwidth] Priority"),
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
	T(59, 't', TEN_HEAD "[Interception]\nClientPrefix = 10.0.0.0/+8\n", 7, "[Interception] ClientPrefix"),
	T(60, 't', TEN_HEAD "[Interception]\nClientPrefix = 10.0.0.0/-0\n", 7, "[Interception] ClientPrefix"),
	T(61, 't', TEN_HEAD TEN_RULE "[Peer]\nEndpoint = ::ffff:198.18.1.2\n", 11, "[Peer] Endpoint"),
	T(62, 't', TEN_HEAD TEN_RULE "[Peer]\nEndpoint = [::ffff:198.18.1.2]:4500\n", 11, "[Peer] Endpoint"),
	T(63, 't', TEN_HEAD TEN_RULE "[Peer]\nEndpoint = 198.18.1.2:4501\nInnerAddress = 169.254.0.1\nPeerInnerAddress = 169.254.0.2\n", 0, NULL),
	T(64, 't', TEN_HEAD TEN_RULE "[Peer]\nEndpoint = 2001:2::2\nInnerAddress = 169.254.0.1\nPeerInnerAddress = 169.254.0.2\n", 0, NULL),
	/* a NUL byte in a line is an error at that line, not a silent cut */
	T(65, 'a', "[Appliance]\nName = a\0b\n", 2, ""),
	/* [Tenant] Id: 1..65535, required, once */
	T(66, 't', "[Tenant]\nName = t\nId = 0\n", 3, "[Tenant] Id"),
	T(67, 't', "[Tenant]\nName = t\nId = 65536\n", 3, "[Tenant] Id"),
	T(68, 't', "[Tenant]\nName = t\nId = one\n", 3, "[Tenant] Id"),
	T(69, 't', "[Tenant]\nName = t\nKeyFile = k\nPeerDown = bypass\n" TEN_RULE TEN_PEER, 1, "[Tenant] Id"),
	T(70, 't', "[Tenant]\nName = t\nId = 1\nId = 2\n", 4, "[Tenant] Id"),
	T(71, 't', "[Tenant]\nName = t\nId = 65535\nKeyFile = k\nPeerDown = bypass\n" TEN_RULE TEN_PEER, 0, NULL),
	/* [Peer] tunnel settings: durations and byte counts, bounded */
	T(72, 't', TEN_OK "PeerTimeout = 3s\n", 0, NULL),
	T(73, 't', TEN_OK "PeerTimeout = 500ms\nKeepaliveInterval = 100ms\nRekeyTime = 2s\nRekeyBytes = 1M\n", 0, NULL),
	T(74, 't', TEN_OK "PeerTimeout = 50ms\n", 14, "[Peer] PeerTimeout"),
	T(75, 't', TEN_OK "PeerTimeout = 10 parsecs\n", 14, "[Peer] PeerTimeout"),
	T(76, 't', TEN_OK "PeerTimeout = -3s\n", 14, "[Peer] PeerTimeout"),
	T(77, 't', TEN_OK "PeerTimeout = 3s\nPeerTimeout = 4s\n", 15, "[Peer] PeerTimeout"),
	T(78, 't', TEN_OK "PeerTimeout = 3s\nKeepaliveInterval = 3s\n", 15, "[Peer] KeepaliveInterval"),
	T(79, 't', TEN_OK "KeepaliveInterval = 20s\n", 14, "[Peer] KeepaliveInterval"), /* default timeout 10 s */
	T(80, 't', TEN_OK "KeepaliveInterval = 1ms\n", 14, "[Peer] KeepaliveInterval"),
	T(81, 't', TEN_OK "RekeyTime = 500ms\n", 14, "[Peer] RekeyTime"),
	T(82, 't', TEN_OK "RekeyTime = 2d\n", 14, "[Peer] RekeyTime"),
	T(83, 't', TEN_OK "RekeyTime = 1.5h\n", 0, NULL),
	T(84, 't', TEN_OK "RekeyBytes = 1k\n", 14, "[Peer] RekeyBytes"),
	T(85, 't', TEN_OK "RekeyBytes = 2P\n", 14, "[Peer] RekeyBytes"),
	T(86, 't', TEN_OK "RekeyBytes = lots\n", 14, "[Peer] RekeyBytes"),
	T(87, 't', TEN_OK "RekeyBytes = 64GiB\n", 0, NULL),
	T(88, 't', TEN_OK "Rekey = 1h\n", 14, "[Peer] Rekey"),
	/* CacheSize: binary suffixes, at least 1 MiB */
	T(89, 't', TEN_OK "[Tenant]\nCacheSize = 512M\n", 0, NULL),
	T(90, 't', TEN_HEAD "CacheSize = 512k\n", 6, "[Tenant] CacheSize"),
	T(91, 't', TEN_HEAD "CacheSize = lots\n", 6, "[Tenant] CacheSize"),
	/* a tenant's caches on disk: a path, once */
	T(92, 't', TEN_HEAD "CacheFile = caches/t\n" TEN_RULE TEN_PEER, 0, NULL),
	T(93, 't', TEN_HEAD "CacheFile =\n" TEN_RULE TEN_PEER, 6, "[Tenant] CacheFile"),
	T(94, 't', TEN_HEAD "CacheFile = a\nCacheFile = b\n" TEN_RULE TEN_PEER, 7, "[Tenant] CacheFile"),
	/* [Interception] Vlans: 0 (untagged) .. 4094, at most 16 */
	T(95, 't', TEN_HEAD TEN_RULE "Vlans = 0, 100, 4094\n" TEN_PEER, 0, NULL),
	T(96, 't', TEN_HEAD TEN_RULE "Vlans = 4095\n" TEN_PEER, 10, "[Interception] Vlans"),
	T(97, 't', TEN_HEAD TEN_RULE "Vlans = 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17\n" TEN_PEER, 10,
	  "[Interception] Vlans"),
	T(98, 't', TEN_HEAD TEN_RULE "Vlans = ten\n" TEN_PEER, 10, "[Interception] Vlans"),
	/* the WAN shaper: the link rate, bandwidth policy, transport */
	T(99, 'a', APP_OK "Rate = 100M\n", 0, NULL),
	T(100, 'a', APP_OK "Rate = fast\n", 10, "[WAN] Rate"),
	T(101, 'a', APP_OK "Rate = 0\n", 10, "[WAN] Rate"),
	T(102, 'a', APP_OK "Rate = 999\n", 10, "[WAN] Rate"),
	T(103, 'a', APP_OK "Rate = 1G\nRate = 2G\n", 11, "[WAN] Rate"),
	T(104, 'a', PORT_LAN "Rate = 1G\n" PORT_WAN, 5, "[LAN] Rate"),
	T(105, 't', TEN_OK "[Bandwidth]\nGuaranteed = 500\n", 15, "[Bandwidth] Guaranteed"),
	T(106, 't', TEN_OK "[Bandwidth]\nRpoTarget = 300s\nTransport = bbr\n", 0, NULL),
	T(107, 't', TEN_OK "[Bandwidth]\nRpoTarget = 0s\n", 15, "[Bandwidth] RpoTarget"),
	T(108, 't', TEN_OK "[Bandwidth]\nRpoTarget = 31d\n", 15, "[Bandwidth] RpoTarget"),
	T(109, 't', TEN_OK "[Bandwidth]\nRpoTarget = 300ms\n", 15, "[Bandwidth] RpoTarget"),
	T(110, 't', TEN_OK "[Bandwidth]\nRpoTarget = -5\n", 15, "[Bandwidth] RpoTarget"),
	T(111, 't', TEN_OK "[Bandwidth]\nRpoTarget = 15min\nTransport = CUBIC\n", 0, NULL),
	T(112, 't', TEN_OK "[Bandwidth]\nTransport = reno\n", 15, "[Bandwidth] Transport"),
	T(113, 't', TEN_OK "[Bandwidth]\nTransport = rate\nTransport = bbr\n", 16, "[Bandwidth] Transport"),
	/* [Appliance] OptimizedFlows: 16 .. 1048576 */
	T(114, 'a', "[Appliance]\nOptimizedFlows = 15\n", 2, "[Appliance] OptimizedFlows"),
	T(115, 'a', "[Appliance]\nOptimizedFlows = many\n", 2, "[Appliance] OptimizedFlows"),
	/* [Tenant] CacheWindow: a power of two, 2M .. CacheSize / 8 (at most
	 * 128M), checked against a CacheSize that comes after it */
	T(116, 't', TEN_HEAD "CacheWindow = 16M\n" TEN_RULE TEN_PEER, 0, NULL),
	T(117, 't', TEN_HEAD "CacheWindow = 3M\n" TEN_RULE TEN_PEER, 6, "[Tenant] CacheWindow"),
	T(118, 't', TEN_HEAD "CacheWindow = 1M\n" TEN_RULE TEN_PEER, 6, "[Tenant] CacheWindow"),
	T(119, 't', TEN_HEAD "CacheWindow = 8M\nCacheSize = 32M\n" TEN_RULE TEN_PEER, 6, "[Tenant] CacheWindow"),
	T(120, 't', TEN_HEAD "CacheWindow = 4M\nCacheSize = 32M\n" TEN_RULE TEN_PEER, 0, NULL),
	T(121, 't', TEN_HEAD "CacheSize = 4G\nCacheWindow = 256M\n" TEN_RULE TEN_PEER, 7, "[Tenant] CacheWindow"),
	T(122, 't', TEN_HEAD "CacheSize = 1M\nCacheWindow = 2M\n" TEN_RULE TEN_PEER, 0, NULL),
	T(123, 't', TEN_HEAD "CacheWindow = 4M\nCacheWindow = 4M\n" TEN_RULE TEN_PEER, 7, "[Tenant] CacheWindow"),
	T(124, 't', TEN_HEAD "CacheWindow = 0\n" TEN_RULE TEN_PEER, 6, "[Tenant] CacheWindow"),
	T(125, 't', TEN_HEAD "CacheWindow = lots\n" TEN_RULE TEN_PEER, 6, "[Tenant] CacheWindow"),
	/* a section header cut short is an error at its own line, not the
	 * previous section going on (its keys reported as unknown there) */
	T(126, 'a', "[Appliance]\nName = a\n[LAN\nPort = p\n[WAN]\nPort = q\n", 3, ""),
	T(127, 'a', "[Appliance]\nName = a\n  [LAN\n", 3, ""),
	T(128, 'a', "[Appliance]\nName = a\n[LAN ; x]\nPort = p\n", 3, ""), /* ']' in a comment */
	T(129, 'a', "[LAN] ; the LAN side\nPort = p\n[WAN]\nPort = q\n", 0, NULL),
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
		   "ServerPrefix = 10.2.5.0/24\nPorts = 873, 1521-1522\nVlans = 0, 100\n"
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
	cr_expect(t.n_vlans == 2 && t.vlans[0] == 0 && t.vlans[1] == 100);
	cr_expect_eq(t.peer_port, 4501);
	cr_expect_eq(t.guaranteed_bps, 1500000);
	cr_expect_eq(t.ceiling_bps, 2000000000ull);
	cr_expect_eq(t.peer_down, STRAIT_PEER_DOWN_BYPASS);
	cr_expect_eq(t.cache_size, STRAIT_DEFAULT_CACHE_SIZE);
	cr_expect_eq(t.cache_window, 0, "no CacheWindow: 0, the default");
	cr_expect_eq(strait_tenant_cache_window(&t), 128u << 20, "1G / 8");
	uint64_t size;
	cr_expect(strait_parse_bytes("2G", &size) && size == 2ull << 30);
	cr_expect(strait_parse_bytes("64KiB", &size) && size == 64 << 10);
	cr_expect(!strait_parse_bytes("12Q", &size) && !strait_parse_bytes("-1", &size));
	/* KeyFile is resolved against the file's folder; no CacheFile */
	cr_expect_str_eq(t.key_file, "/tmp/t.key");
	cr_expect_str_eq(t.cache_file, "");
	cr_expect_eq(t.rpo_target_ns, 0);
	cr_expect_eq(t.transport, STRAIT_TRANSPORT_RATE, "rate is the default");
	cr_expect_eq(t.guaranteed_line, 16);
	write_file(path, TEN_OK "[Bandwidth]\nRpoTarget = 1h\nTransport = cubic\n");
	cr_assert_eq(strait_tenant_load(path, &t, &err), 0);
	cr_expect_eq(t.rpo_target_ns, 3600000000000ull);
	cr_expect_eq(t.transport, STRAIT_TRANSPORT_CUBIC);
	cr_expect_str_eq(strait_transport_name(t.transport), "cubic");
	cr_expect_eq(t.guaranteed_line, 0);
	write_file(path, TEN_OK "[Bandwidth]\nRpoTarget = 300\n");
	cr_assert_eq(strait_tenant_load(path, &t, &err), 0);
	cr_expect_eq(t.rpo_target_ns, 300000000000ull, "a bare number is seconds");
	write_file(path, TEN_HEAD "CacheWindow = 4MiB\nCacheSize = 32M\n" TEN_RULE TEN_PEER);
	cr_assert_eq(strait_tenant_load(path, &t, &err), 0);
	cr_expect_eq(t.cache_window, 4u << 20);
	cr_expect_eq(strait_tenant_cache_window(&t), 4u << 20);
	/* the message says what this CacheSize allows */
	write_file(path, TEN_HEAD "CacheWindow = 8M\nCacheSize = 32M\n" TEN_RULE TEN_PEER);
	cr_assert_neq(strait_tenant_load(path, &t, &err), 0);
	cr_expect(strstr(err.msg, "8M") && strstr(err.msg, "4M"), "%s", err.msg);
	write_file(path, TEN_HEAD "CacheSize = 256M\n" TEN_RULE TEN_PEER);
	cr_assert_eq(strait_tenant_load(path, &t, &err), 0);
	cr_expect_eq(strait_tenant_cache_window(&t), 32u << 20, "256M / 8");
	unlink(path);
	static struct strait_appliance_cfg a;
	char app[] = "/tmp/dp-ctl-values-XXXXXX";
	fd = mkstemp(app);
	cr_assert(fd >= 0);
	close(fd);
	write_file(app, APP_OK "Rate = 2.5G\nRateBurst = 8ms\n");
	cr_assert_eq(strait_appliance_load(app, &a, &err), 0);
	cr_expect_eq(a.wan_rate_bps, 2500000000ull);
	cr_expect_eq(a.wan_rate_line, 10);
	cr_expect_eq(a.wan_burst_ns, 8000000ull);
	write_file(app, APP_OK);
	cr_assert_eq(strait_appliance_load(app, &a, &err), 0);
	cr_expect_eq(a.wan_rate_bps, 0, "no Rate: the link is not shaped as a whole");
	cr_expect_eq(a.wan_burst_ns, 0, "no RateBurst: the shaper's default (2 ms)");
	/* a burst outside 1 ms .. 100 ms, or no duration: refused at its line */
	static const char *bad_burst[] = { "RateBurst = 500us\n", "RateBurst = 1s\n", "RateBurst = fast\n" };
	for (size_t i = 0; i < sizeof(bad_burst) / sizeof(bad_burst[0]); i++) {
		char text[512];
		snprintf(text, sizeof(text), APP_OK "Rate = 1G\n%s", bad_burst[i]);
		write_file(app, text);
		cr_expect_neq(strait_appliance_load(app, &a, &err), 0, "%s accepted", bad_burst[i]);
		cr_expect_eq(err.line, 11, "%s: line %u", bad_burst[i], err.line);
	}
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
#define TEN_U "[Tenant]\nName = u\nId = 2\nKeyFile = u.key\nPeerDown = bypass\n" \
	"[Interception]\nClientPrefix = 10.1.0.0/16\nServerPrefix = 10.3.0.0/16\nPorts = 873\n" TEN_PEER_U
	write_file(path, TEN_U "[Bandwidth]\nPriority = 2\nGuaranteed = 40M\nCeiling = 1G\n");
	cr_assert_eq(strait_config_load(app, &cfg, &err), 0, "exactly the link: %s",
		     strait_error_str(&err, msg, sizeof(msg)));
	write_file(path, TEN_U "[Bandwidth]\nPriority = 2\nGuaranteed = 40.5M\n");
	cr_assert_neq(strait_config_load(app, &cfg, &err), 0);
	strait_error_str(&err, msg, sizeof(msg));
	cr_expect_str_eq(err.file, path, "%s", msg);
	cr_expect_eq(err.line, 16, "%s", msg);
	cr_expect_str_eq(err.field, "[Bandwidth] Guaranteed", "%s", msg);
	cr_expect(strstr(msg, "100500k") && strstr(msg, "Rate = 100M") && strstr(msg, "app.conf:10"), "%s", msg);
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
	write_file(path, "[Tenant]\nName = u\nId = 2\nKeyFile = u.key\nPeerDown = fail-closed\n"
		   "[Interception]\nClientPrefix = 10.1.0.0/16\nServerPrefix = 10.2.0.0/16\nPorts = 874-900\n" TEN_PEER_U);
	cr_assert_eq(strait_config_load(app, &cfg, &err), 0, "%s", strait_error_str(&err, msg, sizeof(msg)));
	cr_expect_eq(cfg.n_tenants, 2);
	cr_expect_str_eq(cfg.tenants[0].name, "t"); /* file name order */
	cr_expect_str_eq(cfg.tenants[1].name, "u");
	cr_expect_eq(cfg.tenants[1].peer_down, STRAIT_PEER_DOWN_FAIL_CLOSED);
	/* u claims 800-900, which holds t's 873, on the same prefixes: the
	 * narrowest range decides (t for 873), so it loads */
	write_file(path, "[Tenant]\nName = u\nId = 2\nKeyFile = u.key\nPeerDown = fail-closed\n"
		   "[Interception]\nClientPrefix = 10.1.0.0/16\nServerPrefix = 10.2.0.0/16\nPorts = 800-900\n" TEN_PEER_U);
	cr_expect_eq(strait_config_load(app, &cfg, &err), 0, "%s", strait_error_str(&err, msg, sizeof(msg)));
	/* a true tie: u claims 873 too (equally narrow), beside 874-900 */
	write_file(path, "[Tenant]\nName = u\nId = 2\nKeyFile = u.key\nPeerDown = fail-closed\n"
		   "[Interception]\nClientPrefix = 10.1.0.0/16\nServerPrefix = 10.2.0.0/16\nPorts = 874-900, 873\n" TEN_PEER_U);
	cr_assert_neq(strait_config_load(app, &cfg, &err), 0);
	cr_expect_str_eq(err.file, path);
	cr_expect_eq(err.line, 6);
	cr_expect(strstr(err.msg, "\"t\""), "%s", err.msg);
	/* u 860-880 overlaps t's 873 but is wider: t wins 873, loads */
	write_file(path, "[Tenant]\nName = u\nId = 2\nKeyFile = u.key\nPeerDown = fail-closed\n"
		   "[Interception]\nClientPrefix = 10.1.0.0/16\nServerPrefix = 10.2.0.0/16\nPorts = 860-880\n" TEN_PEER_U);
	cr_expect_eq(strait_config_load(app, &cfg, &err), 0, "%s", strait_error_str(&err, msg, sizeof(msg)));
	/* a more specific server prefix is not ambiguous: longest prefix wins */
	write_file(path, "[Tenant]\nName = u\nId = 2\nKeyFile = u.key\nPeerDown = fail-closed\n"
		   "[Interception]\nClientPrefix = 10.1.0.0/16\nServerPrefix = 10.2.5.0/24\nPorts = 800-900\n" TEN_PEER_U);
	cr_expect_eq(strait_config_load(app, &cfg, &err), 0);
	/* same name twice (Ids differ) */
	write_file(path, "[Tenant]\nName = t\nId = 2\nKeyFile = t.key\nPeerDown = bypass\n" TEN_RULE TEN_PEER_U);
	cr_expect_neq(strait_config_load(app, &cfg, &err), 0);
	cr_expect_str_eq(err.field, "[Tenant] Name");
	/* same Id twice: refused at the second file's Id line, naming the first */
	write_file(path, "[Tenant]\nName = u\nKeyFile = u.key\nPeerDown = fail-closed\nId = 1\n"
		   "[Interception]\nClientPrefix = 10.1.0.0/16\nServerPrefix = 10.2.0.0/16\nPorts = 874-900\n" TEN_PEER_U);
	cr_assert_neq(strait_config_load(app, &cfg, &err), 0);
	cr_expect_str_eq(err.file, path);
	cr_expect_eq(err.line, 5);
	cr_expect_str_eq(err.field, "[Tenant] Id");
	cr_expect(strstr(err.msg, "\"t\""), "%s", err.msg);
	/* the Id, not the file order, names a tenant */
	write_file(path, "[Tenant]\nName = u\nId = 700\nKeyFile = u.key\nPeerDown = fail-closed\n"
		   "[Interception]\nClientPrefix = 10.1.0.0/16\nServerPrefix = 10.2.0.0/16\nPorts = 874-900\n" TEN_PEER_U);
	cr_assert_eq(strait_config_load(app, &cfg, &err), 0, "%s", strait_error_str(&err, msg, sizeof(msg)));
	cr_expect_eq(cfg.tenants[0].id, 1);
	cr_expect_eq(cfg.tenants[1].id, 700);
	/* an IPv6 endpoint with no IPv6 address on the WAN port */
	write_file(path, "[Tenant]\nName = u\nId = 700\nKeyFile = u.key\nPeerDown = fail-closed\n"
		   "[Interception]\nClientPrefix = 10.1.0.0/16\nServerPrefix = 10.2.0.0/16\nPorts = 874-900\n"
		   "[Peer]\nEndpoint = [2001:2::2]:4500\nInnerAddress = 169.254.1.1\nPeerInnerAddress = 169.254.1.2\n");
	cr_assert_neq(strait_config_load(app, &cfg, &err), 0);
	cr_expect_str_eq(err.file, path);
	cr_expect_eq(err.line, 10);
	cr_expect_str_eq(err.field, "[Peer] Endpoint");
	cr_expect(strstr(err.msg, "IPv6"), "%s", err.msg);
	/* the same InnerAddress twice: refused at the second file's line */
	write_file(path, "[Tenant]\nName = u\nId = 700\nKeyFile = u.key\nPeerDown = fail-closed\n"
		   "[Interception]\nClientPrefix = 10.1.0.0/16\nServerPrefix = 10.2.0.0/16\nPorts = 874-900\n"
		   "[Peer]\nEndpoint = 198.18.1.3\nPeerInnerAddress = 169.254.9.9\nInnerAddress = 169.254.0.1\n");
	cr_assert_neq(strait_config_load(app, &cfg, &err), 0);
	cr_expect_str_eq(err.file, path);
	cr_expect_eq(err.line, 13);
	cr_expect_str_eq(err.field, "[Peer] InnerAddress");
	cr_expect(strstr(err.msg, "169.254.0.1"), "%s", err.msg);
	/* two tenants, one cache file: refused (caches are per tenant) */
	write_file(path, "[Tenant]\nName = u\nId = 700\nKeyFile = u.key\nPeerDown = bypass\nCacheFile = /srv/c\n"
		   "[Interception]\nClientPrefix = 10.1.0.0/16\nServerPrefix = 10.2.5.0/24\nPorts = 1\n" TEN_PEER_U);
	cr_expect_eq(strait_config_load(app, &cfg, &err), 0, "%s", strait_error_str(&err, msg, sizeof(msg)));
	cr_expect_str_eq(cfg.tenants[1].cache_file, "/srv/c");
	snprintf(msg, sizeof(msg), "%s/tenants/a.conf", dir);
	write_file(msg, TEN_HEAD "CacheFile = ../../srv/c\n" TEN_RULE TEN_PEER);
	cr_expect_eq(strait_config_load(app, &cfg, &err), 0); /* another path */
	write_file(msg, TEN_HEAD "CacheFile = /srv/c\n" TEN_RULE TEN_PEER);
	cr_expect_neq(strait_config_load(app, &cfg, &err), 0);
	cr_expect_str_eq(err.field, "[Tenant] CacheFile");
	write_file(msg, TEN_OK);
	/* TenantDir missing */
	write_file(app, APP_OK "[Appliance]\nTenantDir = nowhere\n");
	cr_expect_neq(strait_config_load(app, &cfg, &err), 0);
	cr_expect_str_eq(err.field, "[Appliance] TenantDir");
	/* the shipped examples load */
	cr_expect_eq(strait_config_load(EXAMPLES "/appliance.conf", &cfg, &err), 0, "%s",
		     strait_error_str(&err, msg, sizeof(msg)));
	cr_expect_eq(cfg.n_tenants, 2);
}

/* Durations and byte counts: one line per case, exact (no floating point). */
Test(config, durations)
{
	static const struct { const char *s; bool ok; uint64_t v; } d[] = {
		{ "10s", true, 10000000000ull }, { "500ms", true, 500000000ull },
		{ "3s", true, 3000000000ull }, { "1.5s", true, 1500000000ull },
		{ "30", true, 30000000000ull }, { "250us", true, 250000ull },
		{ "7ns", true, 7 }, { "2m", true, 120000000000ull }, { "2min", true, 120000000000ull },
		{ "1h", true, 3600000000000ull }, { "1d", true, 86400000000000ull },
		{ "0.000000001s", true, 1 }, { "0.1ms", true, 100000 },
		{ "", false, 0 }, { "s", false, 0 }, { ".5s", false, 0 }, { "1.s", false, 0 },
		{ "-1s", false, 0 }, { "1 s", false, 0 }, { "1sec", false, 0 }, { "1.0000000001s", false, 0 },
		{ "18446744073709551615ns", true, UINT64_MAX }, { "18446744073709551616ns", false, 0 },
		{ "600y", false, 0 }, { "213503d", true, 213503ull * 86400000000000ull }, { "213504d", false, 0 },
	};
	for (size_t i = 0; i < sizeof(d) / sizeof(d[0]); i++) {
		uint64_t v = 0;
		bool ok = strait_parse_duration(d[i].s, &v);
		cr_expect_eq(ok, d[i].ok, "\"%s\": %d", d[i].s, ok);
		if (ok && d[i].ok)
			cr_expect_eq(v, d[i].v, "\"%s\": %llu", d[i].s, (unsigned long long)v);
	}
	static const struct { const char *s; bool ok; uint64_t v; } b[] = {
		{ "4096", true, 4096 }, { "64M", true, 64ull << 20 }, { "1T", true, 1ull << 40 },
		{ "1.5GiB", true, 3ull << 29 }, { "2k", true, 2048 }, { "1MB", true, 1ull << 20 },
		{ "1P", true, 1ull << 50 }, { "16383P", true, 16383ull << 50 }, { "16384P", false, 0 },
		{ "1X", false, 0 }, { "M", false, 0 }, { "1 M", false, 0 }, { "1iB", false, 0 },
	};
	for (size_t i = 0; i < sizeof(b) / sizeof(b[0]); i++) {
		uint64_t v = 0;
		bool ok = strait_parse_bytes(b[i].s, &v);
		cr_expect_eq(ok, b[i].ok, "\"%s\": %d", b[i].s, ok);
		if (ok && b[i].ok)
			cr_expect_eq(v, b[i].v, "\"%s\": %llu", b[i].s, (unsigned long long)v);
	}
}

Test(config, peer_tunnel_values)
{
	struct strait_tenant_cfg t;
	struct strait_error err;
	char path[] = "/tmp/dp-ctl-peer-XXXXXX", msg[PATH_MAX + 512];
	int fd = mkstemp(path);
	cr_assert(fd >= 0);
	close(fd);
	write_file(path, TEN_OK);
	cr_assert_eq(strait_tenant_load(path, &t, &err), 0, "%s", strait_error_str(&err, msg, sizeof(msg)));
	cr_expect_eq(t.id, 1);
	cr_expect_eq(t.peer_timeout_ns, 10000000000ull);
	cr_expect_eq(t.keepalive_ns, 10000000000ull / 3); /* a third of the timeout */
	cr_expect_eq(t.rekey_ns, 3600000000000ull);
	cr_expect_eq(t.rekey_bytes, 1ull << 40);
	uint64_t hn, hb;
	strait_tenant_hard_limits(&t, &hn, &hb);
	cr_expect_eq(hn, 3960000000000ull);                   /* a tenth more */
	cr_expect_eq(hb, (1ull << 40) + (1ull << 40) / 10);
	cr_expect_not(t.has_psk); /* rules only: no key read */
	write_file(path, TEN_OK "PeerTimeout = 3s\nKeepaliveInterval = 250ms\nRekeyTime = 2s\nRekeyBytes = 4M\n");
	cr_assert_eq(strait_tenant_load(path, &t, &err), 0, "%s", strait_error_str(&err, msg, sizeof(msg)));
	cr_expect_eq(t.peer_timeout_ns, 3000000000ull);
	cr_expect_eq(t.keepalive_ns, 250000000ull);
	cr_expect_eq(t.rekey_ns, 2000000000ull);
	cr_expect_eq(t.rekey_bytes, 4ull << 20);
	strait_tenant_hard_limits(&t, &hn, &hb);
	cr_expect_eq(hn, 7000000000ull);                      /* at least 5 s more */
	cr_expect_eq(hb, (4ull << 20) + (64ull << 20));       /* at least 64 MiB more */
	unlink(path);
}

/* Key files: a numbered table of contents and modes, with what each gives.
 * Every refusal names the tenant file, its KeyFile line and the field,
 * never quotes the file, and leaves no key behind. */
#define KEY_B64 "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=" /* bytes 1..32 */
Test(config, key_files, .init = setup, .fini = teardown)
{
	static const struct {
		int n;
		const char *text;   /* NULL: no file; "/": a directory; "|": a FIFO */
		unsigned mode;
		const char *msg;    /* NULL: accepted */
	} k[] = {
		{ 1, KEY_B64 "\n", 0600, NULL },
		{ 2, KEY_B64, 0600, NULL },
		{ 3, KEY_B64 "\r\n\n  ", 0600, NULL },
		{ 4, KEY_B64 "\n", 0400, NULL },
		{ 5, KEY_B64 "\n", 0640, "mode 0640" },
		{ 6, KEY_B64 "\n", 0604, "mode 0604" },
		{ 7, KEY_B64 "\n", 0620, "mode 0620" },
		{ 8, "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA\n", 0600, "does not hold a key" },
		{ 9, "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA==\n", 0600, "does not hold a key" },
		{ 10, "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20\n", 0600, "does not hold a key" },
		{ 11, "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyB=\n", 0600, "does not hold a key" },
		{ 12, "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0e*yA=\n", 0600, "does not hold a key" },
		{ 13, KEY_B64 "\n" KEY_B64 "\n", 0600, "does not hold a key" },
		{ 14, " " KEY_B64 "\n", 0600, "does not hold a key" },
		{ 15, "", 0600, "does not hold a key" },
		{ 16, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n", 0600, "all-zero" },
		{ 17, NULL, 0, "cannot open" },
		{ 18, "/", 0700, "not a regular file" },
		{ 19, "|", 0600, "not a regular file" },
	};
	static const uint8_t want[32] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
					  17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32 };
	static const uint8_t zero[32];
	for (size_t i = 0; i < sizeof(k) / sizeof(k[0]); i++) {
		char ten[256], key[256], msg[PATH_MAX + 512];
		snprintf(key, sizeof(key), "%s/k%d.key", dir, k[i].n);
		snprintf(ten, sizeof(ten), "%s/t%d.conf", dir, k[i].n);
		char text[512];
		snprintf(text, sizeof(text), "[Tenant]\nName = t\nId = 9\nKeyFile = k%d.key\nPeerDown = bypass\n"
			 TEN_RULE TEN_PEER, k[i].n);
		write_file(ten, text);
		if (k[i].text && !strcmp(k[i].text, "/")) {
			cr_assert_eq(mkdir(key, k[i].mode), 0);
		} else if (k[i].text && !strcmp(k[i].text, "|")) {
			cr_assert_eq(mkfifo(key, k[i].mode), 0);
		} else if (k[i].text) {
			write_file(key, k[i].text);
			cr_assert_eq(chmod(key, k[i].mode), 0);
		}
		struct strait_tenant_cfg t;
		struct strait_error err;
		cr_assert_eq(strait_tenant_load(ten, &t, &err), 0, "case %d: %s", k[i].n,
			     strait_error_str(&err, msg, sizeof(msg)));
		memset(t.psk, 0xee, sizeof(t.psk)); /* a stale key must not survive a refusal */
		int r = strait_tenant_load_key(&t, &err);
		if (!k[i].msg) {
			cr_expect_eq(r, 0, "case %d: refused: %s", k[i].n, strait_error_str(&err, msg, sizeof(msg)));
			cr_expect(t.has_psk, "case %d", k[i].n);
			cr_expect_arr_eq(t.psk, want, 32, "case %d: wrong key bytes", k[i].n);
			strait_tenant_wipe_key(&t);
			cr_expect_arr_eq(t.psk, zero, 32, "case %d: not wiped", k[i].n);
			cr_expect_not(t.has_psk);
			continue;
		}
		strait_error_str(&err, msg, sizeof(msg));
		cr_expect_neq(r, 0, "case %d: accepted", k[i].n);
		cr_expect_str_eq(err.file, ten, "case %d: %s", k[i].n, msg);
		cr_expect_eq(err.line, 4, "case %d: %s", k[i].n, msg);
		cr_expect_str_eq(err.field, "[Tenant] KeyFile", "case %d: %s", k[i].n, msg);
		cr_expect(strstr(err.msg, k[i].msg), "case %d: \"%s\" lacks \"%s\"", k[i].n, msg, k[i].msg);
		cr_expect(strstr(err.msg, key), "case %d: does not name the key file: %s", k[i].n, msg);
		cr_expect_not(strstr(msg, "AQIDBAUG"), "case %d: quotes the key: %s", k[i].n, msg);
		cr_expect_not(t.has_psk, "case %d", k[i].n);
		cr_expect_arr_eq(t.psk, zero, 32, "case %d: key bytes left behind", k[i].n);
	}
	/* an unreadable key file returns its errno */
	struct strait_tenant_cfg t = { .key_line = 4 };
	struct strait_error err;
	snprintf(t.key_file, sizeof(t.key_file), "%s/nowhere.key", dir);
	cr_expect_eq(strait_tenant_load_key(&t, &err), -ENOENT);
}

/* The appliance loads every key, and none stays when one is bad; the rule
 * loader alone works without key files (the profiler's case). */
Test(config, load_keys, .init = setup, .fini = teardown)
{
	static struct strait_config cfg;
	struct strait_error err;
	char path[256], app[256], msg[PATH_MAX + 512];
	snprintf(path, sizeof(path), "%s/tenants", dir);
	cr_assert_eq(mkdir(path, 0700), 0);
	snprintf(app, sizeof(app), "%s/app.conf", dir);
	write_file(app, APP_OK "[Appliance]\nTenantDir = tenants\n");
	snprintf(path, sizeof(path), "%s/tenants/a.conf", dir);
	write_file(path, "[Tenant]\nName = a\nId = 1\nKeyFile = a.key\nPeerDown = bypass\n" TEN_RULE TEN_PEER);
	snprintf(path, sizeof(path), "%s/tenants/b.conf", dir);
	write_file(path, "[Tenant]\nName = b\nId = 2\nKeyFile = b.key\nPeerDown = bypass\n"
		   "[Interception]\nClientPrefix = 10.3.0.0/16\nServerPrefix = 10.4.0.0/16\nPorts = 873\n" TEN_PEER_U);
	cr_assert_eq(strait_config_load(app, &cfg, &err), 0, "%s", strait_error_str(&err, msg, sizeof(msg)));
	cr_expect_eq(cfg.n_tenants, 2);
	snprintf(path, sizeof(path), "%s/tenants/a.key", dir);
	write_file(path, KEY_B64 "\n");
	cr_assert_eq(chmod(path, 0600), 0);
	snprintf(path, sizeof(path), "%s/tenants/b.key", dir);
	write_file(path, "not a key\n");
	cr_assert_eq(chmod(path, 0600), 0);
	cr_expect_neq(strait_config_load_keys(&cfg, &err), 0);
	cr_expect(strstr(err.file, "b.conf"), "%s", err.file);
	static const uint8_t zero[32];
	cr_expect_not(cfg.tenants[0].has_psk);
	cr_expect_arr_eq(cfg.tenants[0].psk, zero, 32, "a's key left behind after b failed");
	write_file(path, "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=\n");
	cr_expect_eq(strait_config_load_keys(&cfg, &err), 0, "%s", strait_error_str(&err, msg, sizeof(msg)));
	cr_expect(cfg.tenants[0].has_psk && cfg.tenants[1].has_psk);
	strait_config_wipe_keys(&cfg);
	cr_expect_not(cfg.tenants[1].has_psk);
	cr_expect_arr_eq(cfg.tenants[1].psk, zero, 32);
}
