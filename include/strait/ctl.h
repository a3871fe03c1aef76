/* SPDX-License-Identifier: BSD-3-Clause */
/* Strait configuration: the appliance file and one file per tenant.
 *
 * INI in the WireGuard style (see configs/ for commented examples), parsed
 * with libinih and validated field by field. Every error names the file,
 * the line and the field, so `straitd` and the control daemon can print it
 * as is:  "configs/tenants/acme.conf:12: [Interception] Ports: ...".
 *
 * The structures are plain values with fixed bounds (no pointers), so a
 * configuration can be copied, compared and handed to another thread as a
 * whole. Addresses are in network byte order; IPv4 uses the first 4 bytes.
 */
#ifndef STRAIT_CTL_H
#define STRAIT_CTL_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum strait_ctl_limits {
	STRAIT_NAME_MAX = 32,      /* names, including the NUL */
	STRAIT_DEVICE_MAX = 128,   /* DPDK device name or PCI address */
	STRAIT_MAX_TENANTS = 64,
	STRAIT_MAX_PREFIXES = 16,  /* per side (client, server) of a rule */
	STRAIT_MAX_PORT_RANGES = 16,
	STRAIT_MAX_WORKERS = 16,
	STRAIT_TENANT_ID_MAX = 65535, /* [Tenant] Id: 1..65535 */
	STRAIT_PSK_LEN = 32,          /* KeyFile: 32 bytes, base64 */
};

#define STRAIT_DEFAULT_CACHE_SIZE (1ull << 30) /* [Tenant] CacheSize */

struct strait_prefix {
	uint8_t family; /* 4 or 6 */
	uint8_t len;    /* prefix length in bits */
	uint8_t addr[16];
};

struct strait_addr {
	uint8_t family; /* 0 (unset), 4 or 6 */
	uint8_t addr[16];
};

struct strait_port_range {
	uint16_t lo, hi; /* inclusive, host order */
};

/* One side of the wire: the DPDK port and the appliance's own addresses on
 * it. Prefix lengths say which neighbours are on-link. */
struct strait_port_cfg {
	char device[STRAIT_DEVICE_MAX];
	uint16_t vlan;              /* VLAN of the own addresses, 0 = untagged */
	struct strait_prefix addr4; /* family 0 when unset */
	struct strait_prefix addr6;
	struct strait_addr gateway4; /* next hops resolved at start-up */
	struct strait_addr gateway6;
};

/* Test facility ([Test] TcpImpair, straitd --tcp-impair): the appliance's
 * own TCP drops, duplicates and reorders a share of the segments it
 * receives and sends, from a fixed seed. Off when every share is 0.
 * Shares in parts per million of segments. */
struct strait_tcp_impair {
	uint32_t drop_ppm, dup_ppm, reorder_ppm; /* sum <= 1000000 */
	uint64_t seed;
	bool rx, tx;                /* directions: received, sent */
};

struct strait_appliance_cfg {
	char name[STRAIT_NAME_MAX];
	unsigned workers;           /* worker lcores; 0 = single-lcore mode */
	uint32_t flow_table_size;   /* flows per worker, power of two */
	uint32_t flow_idle_timeout; /* seconds, established flows */
	uint32_t flow_closed_timeout; /* seconds, after FIN both ways or RST */
	uint32_t neigh_table_size;  /* IP -> MAC entries per worker, power of two */
	uint32_t burst;             /* packets per RX burst (1..64) */
	char tenant_dir[PATH_MAX];  /* resolved against the file's folder */
	struct strait_port_cfg lan, wan;
	/* [WAN] Rate: the WAN link's rate in bit/s, shared by the tenants'
	 * guarantees and what they borrow; 0 = not shaped as a whole (each
	 * tenant held to its Ceiling only). */
	uint64_t wan_rate_bps;
	unsigned wan_rate_line;
	struct strait_tcp_impair tcp_impair; /* [Test] TcpImpair */
};

enum strait_peer_down {
	STRAIT_PEER_DOWN_BYPASS = 0, /* bridge new flows unoptimized */
	STRAIT_PEER_DOWN_FAIL_CLOSED,
};

/* [Bandwidth] Transport: the channel's congestion control. */
enum strait_transport {
	STRAIT_TRANSPORT_RATE = 0, /* paces at the rate the shaper grants, random
				    * loss is not congestion, backs off on rising
				    * queueing delay (the default) */
	STRAIT_TRANSPORT_BBR,      /* model-based: probes the path's bottleneck */
	STRAIT_TRANSPORT_CUBIC,    /* loss-based, as Linux's default */
};

struct strait_tenant_cfg {
	char name[STRAIT_NAME_MAX];
	char file[PATH_MAX];
	/* The tenant's number on the wire (handshakes, SPIs): the same in both
	 * appliances' files, unique per appliance. Not its position in the
	 * file list: adding a file renumbers nothing. */
	uint16_t id;
	/* Interception rule: a SYN from a client prefix to a server prefix on
	 * one of the ports (server side, host order). */
	struct strait_prefix client[STRAIT_MAX_PREFIXES];
	struct strait_prefix server[STRAIT_MAX_PREFIXES];
	struct strait_port_range ports[STRAIT_MAX_PORT_RANGES];
	unsigned n_client, n_server, n_ports;
	/* Peer appliance: its WAN endpoint (ESP in UDP) and the channel's
	 * inner addresses. */
	struct strait_addr peer_endpoint;
	uint16_t peer_port;         /* UDP, default 4500 */
	struct strait_addr inner_local, inner_peer;
	char key_file[PATH_MAX];    /* resolved against the file's folder */
	/* The pre-shared key, filled only by strait_tenant_load_key() (the
	 * rule loaders never read key files). Never logged; the dataplane
	 * wipes it with strait_tenant_wipe_key() once the tunnel holds it. */
	uint8_t psk[STRAIT_PSK_LEN];
	bool has_psk;
	unsigned id_line, key_line, inner_line; /* where Id, KeyFile and
						  * InnerAddress were given */
	/* The tunnel to the peer ([Peer]), nanoseconds and bytes. The peer is
	 * down once nothing authentic came from it for peer_timeout_ns;
	 * keepalives go out after keepalive_ns without sending (default a
	 * third of the timeout); each SA is renewed after rekey_ns or
	 * rekey_bytes, whichever comes first, and stops working a margin
	 * later (strait_tenant_hard_limits()). */
	uint64_t peer_timeout_ns, keepalive_ns, rekey_ns, rekey_bytes;
	/* The tenant's redundancy caches on disk (dedupe cache files, see
	 * dedupe/README.md): PATH.tx for what this appliance sends, PATH.rx
	 * for what it receives; resolved like KeyFile; "" = in memory only.
	 * Never shared with another tenant. */
	char cache_file[PATH_MAX - 3];
	/* Bandwidth policy on the WAN, bits per second; 0 = none/unlimited. */
	uint64_t guaranteed_bps, ceiling_bps;
	unsigned guaranteed_line;   /* for errors across files; 0 when unset */
	uint8_t priority;           /* 0 (highest) .. 7 */
	uint16_t weight;            /* share of spare capacity, 1..1000 */
	uint64_t rpo_target_ns;     /* RpoTarget; 0 = none */
	enum strait_transport transport;
	enum strait_peer_down peer_down;
	uint64_t cache_size;        /* bytes of each direction's cache log */
};

struct strait_config {
	struct strait_appliance_cfg appliance;
	struct strait_tenant_cfg tenants[STRAIT_MAX_TENANTS];
	unsigned n_tenants; /* sorted by file name (the index is no id:
			       * tenants are named by their Id) */
};

struct strait_error {
	char file[PATH_MAX];
	unsigned line;   /* 1-based; 0 when the error is about the whole file */
	char field[64];  /* "[Section] Key", or "" */
	char msg[256];
};

/* Each loader fills *out (zeroed first, defaults applied) and returns 0, or
 * returns -EINVAL (bad content), -ENOENT/-EACCES/... (file unreadable)
 * with *err filled. */
int strait_appliance_load(const char *path, struct strait_appliance_cfg *out,
			  struct strait_error *err);
int strait_tenant_load(const char *path, struct strait_tenant_cfg *out,
		       struct strait_error *err);
/* The appliance file, then every "*.conf" in its TenantDir (if set), in
 * name order; checks that no two tenants claim the same traffic with the
 * same specificity (the rule "longest prefix wins, then ports" must give
 * one answer), that no two share a name, an Id or an InnerAddress (the
 * tenant's end of its channel: the appliance's channel TCP tells tenants
 * apart by it), and that the guarantees fit in [WAN] Rate (refused at the
 * Guaranteed line of the tenant that overcommits it). */
int strait_config_load(const char *appliance_path, struct strait_config *out,
		       struct strait_error *err);

/* Key files. The loaders above read rules only, never a KeyFile (tools
 * such as the profiler work without keys); the appliance then reads the
 * keys with these. A key file holds 32 random bytes in base64 (44
 * characters, as `wg genkey` or `head -c 32 /dev/urandom | base64` print),
 * optionally followed by a newline; it must be a regular file that group
 * and others cannot access (mode 0600 or 0400). Errors point at the
 * tenant file's KeyFile line and never quote the file's content.
 * Returns 0, -EINVAL (bad content or mode) or -errno (unreadable). */
int strait_tenant_load_key(struct strait_tenant_cfg *t, struct strait_error *err);
/* Every tenant's key; on failure no key stays in memory. */
int strait_config_load_keys(struct strait_config *cfg, struct strait_error *err);
/* Wipes a loaded key (explicit_bzero: not optimised away). */
void strait_tenant_wipe_key(struct strait_tenant_cfg *t);
void strait_config_wipe_keys(struct strait_config *cfg);

/* Defaults of the [Peer] tunnel settings. */
#define STRAIT_PEER_TIMEOUT_NS_DEFAULT 10000000000ull       /* 10 s */
#define STRAIT_REKEY_NS_DEFAULT (3600ull * 1000000000ull)   /* 1 h */
#define STRAIT_REKEY_BYTES_DEFAULT (1ull << 40)             /* 1 TiB */

/* The hard lifetime of an SA from its rekey point: the old SA keeps
 * working this long after the rekey is due, so a handshake delayed by a
 * lost message or a busy peer loses nothing: a tenth more, and at least
 * 5 s (time) or 64 MiB (bytes). */
void strait_tenant_hard_limits(const struct strait_tenant_cfg *t, uint64_t *hard_ns,
			       uint64_t *hard_bytes);

/* "file:line: field: msg" (parts omitted when empty). */
const char *strait_error_str(const struct strait_error *err, char *buf, size_t len);

/* Small parsers, shared with the command line and the control daemon.
 * Return true on success. */
bool strait_parse_addr(const char *s, struct strait_addr *out);
bool strait_parse_prefix(const char *s, struct strait_prefix *out);
bool strait_prefix_contains(const struct strait_prefix *p, uint8_t family,
			    const uint8_t *addr);
/* "drop=1,dup=0.5,reorder=2,seed=7[,dir=rx|tx|both]" or "off": shares in
 * percent (0..100, up to 4 decimals, an optional '%'), together at most
 * 100; seed 0..2^64-1 (default 1); dir default both. On failure returns
 * false with the reason in why. */
bool strait_parse_tcp_impair(const char *s, struct strait_tcp_impair *out,
			     char *why, size_t why_len);
/* "100M", "1.5G", "800k", "0": bits per second. */
bool strait_parse_rate(const char *s, uint64_t *bps);
const char *strait_transport_name(enum strait_transport t);
/* A duration: a decimal number (up to 9 decimals) and a unit, ns, us,
 * ms, s, m (minutes), h or d; a bare number is seconds ("10s", "500ms",
 * "1.5s", "1h", "30"). At most 2^64-1 ns (584 years). */
bool strait_parse_duration(const char *s, uint64_t *ns);
/* A byte count: a decimal number and an optional K, M, G, T or P (powers
 * of 1024, "B" or "iB" may follow): "64M", "1T", "1.5GiB", "4096". */
bool strait_parse_bytes(const char *s, uint64_t *bytes);

#endif
