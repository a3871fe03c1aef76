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
	STRAIT_MAX_TENANTS = 1024,
	STRAIT_MAX_PREFIXES = 16,  /* per side (client, server) of a rule */
	STRAIT_MAX_PORT_RANGES = 16,
	STRAIT_MAX_VLANS = 16,     /* [Interception] Vlans */
	STRAIT_MAX_WORKERS = 16,
	STRAIT_LISTEN_MAX = 4,     /* [Control] Listen: sockets of the API */
	STRAIT_SOCKET_PATH_MAX = 108, /* a Unix socket's path, with the NUL */
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

/* Where the control API listens ([Control] Listen): a TCP address and
 * port, or a Unix socket's path (family 0). */
struct strait_listen {
	uint8_t family;             /* 4, 6, or 0: Unix socket */
	uint8_t addr[16];
	uint16_t port;              /* host order */
	char path[STRAIT_SOCKET_PATH_MAX];
};

/* [Control]: the REST API (ctl/README.md). No Listen, no API. */
struct strait_control_cfg {
	struct strait_listen listen[STRAIT_LISTEN_MAX];
	unsigned n_listen;
	char token_file[PATH_MAX];  /* resolved against the file's folder */
	unsigned listen_line, token_line; /* where they were given (errors) */
};

struct strait_appliance_cfg {
	char name[STRAIT_NAME_MAX];
	unsigned workers;           /* worker lcores; 0 = single-lcore mode */
	uint32_t flow_table_size;   /* flows per worker, power of two */
	uint32_t optimized_flows;   /* connections each worker optimizes at once */
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
	/* [WAN] RateBurst: how long each shaper bucket may send back to back
	 * after a pause, 1 ms .. 100 ms; 0 = the default, 2 ms. */
	uint64_t wan_burst_ns;
	struct strait_tcp_impair tcp_impair; /* [Test] TcpImpair */
	struct strait_control_cfg control;
	char file[PATH_MAX];        /* the appliance file, as given */
};

enum strait_peer_down {
	STRAIT_PEER_DOWN_BYPASS = 0, /* bridge new flows unoptimized */
	STRAIT_PEER_DOWN_FAIL_CLOSED,
};

/* [Bandwidth] Transport: the channel's congestion control. */
enum strait_transport {
	STRAIT_TRANSPORT_RATE = 0, /* paced by the shaper at its Guaranteed rate,
				    * random loss is not congestion: the window
				    * never below that rate's BDP (the default;
				    * no back-off on queueing delay: bbr) */
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
	/* The VLANs the tenant's connections may use (0 = untagged), at
	 * either appliance: a SYN on another is not intercepted, a peer's
	 * OPEN for another is refused. None given (n_vlans 0): the LAN
	 * port's Vlan only. */
	uint16_t vlans[STRAIT_MAX_VLANS];
	unsigned n_vlans;
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
	/* Which key it is, without the key: set with it (SHA-256 of a label
	 * and the key, truncated), kept when the key is wiped, so that a
	 * reload tells a rotated key from the same one. All zero until a key
	 * was loaded. Never shown. */
	uint8_t key_id[16];
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
	/* [Tenant] CacheWindow: bytes of the codec's literal zstd window at
	 * each end (its memory): a power of two from 2 MiB up to
	 * strait_dedupe_window_max(cache_size); 0: that default, CacheSize / 8
	 * (2..128 MiB). */
	uint64_t cache_window;
	/* Not from the file: the configuration generation that put the tenant
	 * in its slot (strait_config_diff()); its statistics carry it. */
	uint64_t generation;
};

struct strait_config {
	struct strait_appliance_cfg appliance;
	struct strait_tenant_cfg tenants[STRAIT_MAX_TENANTS];
	/* Sorted by file name when loaded. The index is the tenant's slot,
	 * not its number on the wire (tenants are named by their Id). */
	unsigned n_tenants;
	/* 1 when loaded; each reload that applies adds 1. After a reload a
	 * tenant keeps its index (its slot): a removed tenant leaves an empty
	 * slot (name[0] == '\0', no rule) below n_tenants, which a later
	 * reload may give to a new tenant. Code that walks the tenants skips
	 * empty slots (strait_tenant_present()). */
	uint64_t generation;
};

static inline bool strait_tenant_present(const struct strait_tenant_cfg *t)
{
	return t->name[0] != '\0';
}

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
/* A struct strait_config is large (1,024 tenants): never on a stack.
 * Zeroed; NULL on ENOMEM. */
struct strait_config *strait_config_new(void);
void strait_config_free(struct strait_config *cfg);

/* ---- reload: what differs between two configurations (config_diff.c) ----
 *
 * As `wg syncconf`: the new set is loaded and validated whole, then
 * compared with the running one tenant by tenant (by name); only what
 * differs is applied, and how each difference applies is fixed here. */

/* How a change is applied (bits). */
enum strait_apply {
	STRAIT_APPLY_NONE = 0,       /* nothing to do (a comment, a file's name) */
	STRAIT_APPLY_RULE = 1 << 0,  /* interception: new flows only */
	STRAIT_APPLY_RATE = 1 << 1,  /* bandwidth: the shaper, in place */
	STRAIT_APPLY_REKEY = 1 << 2, /* the key (the KeyFile's content): the
				      * tenant's tunnel starts again with it;
				      * the channel's TCP resends what the
				      * handshake's moments lost */
	STRAIT_APPLY_POLICY = 1 << 3, /* PeerDown: new flows only */
	STRAIT_APPLY_TUNNEL = 1 << 4, /* Endpoint, [Peer] timers: the tenant's
				       * tunnel starts again (a handshake), its
				       * channel and flows go on */
	STRAIT_APPLY_RESTART = 1 << 5, /* the tenant's tunnel, channel and relay
					* start again (Id, inner addresses): its
					* optimized flows are reset, other
					* tenants untouched */
	STRAIT_APPLY_CACHE = 1 << 6, /* CacheSize, CacheWindow, CacheFile: the
				      * tenant's relay and its channel's
				      * session start again with the new
				      * cache (a new epoch at both ends): its
				      * optimized flows are reset */
	STRAIT_APPLY_COUNT = 7
};

/* The tenant fields compared, one bit each (strait_field_name()). */
enum strait_tenant_field {
	STRAIT_FIELD_FILE = 0,
	STRAIT_FIELD_KEY_FILE,
	STRAIT_FIELD_PEER_DOWN,
	STRAIT_FIELD_CLIENT_PREFIX,
	STRAIT_FIELD_SERVER_PREFIX,
	STRAIT_FIELD_PORTS,
	STRAIT_FIELD_ENDPOINT,
	STRAIT_FIELD_INNER,
	STRAIT_FIELD_PEER_INNER,
	STRAIT_FIELD_GUARANTEED,
	STRAIT_FIELD_CEILING,
	STRAIT_FIELD_PRIORITY,
	STRAIT_FIELD_WEIGHT,
	STRAIT_FIELD_CACHE_SIZE,
	STRAIT_FIELD_ID,
	STRAIT_FIELD_KEY,          /* the KeyFile's content (key_id) */
	STRAIT_FIELD_PEER_TIMEOUT,
	STRAIT_FIELD_KEEPALIVE,
	STRAIT_FIELD_REKEY_TIME,
	STRAIT_FIELD_REKEY_BYTES,
	STRAIT_FIELD_CACHE_FILE,
	STRAIT_FIELD_VLANS,
	STRAIT_FIELD_RPO_TARGET,
	STRAIT_FIELD_TRANSPORT,
	STRAIT_FIELD_CACHE_WINDOW,
	STRAIT_FIELD_COUNT
};

struct strait_tenant_change {
	char name[STRAIT_NAME_MAX];
	unsigned slot;     /* in the new configuration; removed: in the old */
	uint32_t fields;   /* changed: 1 << enum strait_tenant_field */
	uint32_t apply;    /* changed: enum strait_apply bits */
};

enum { STRAIT_INPLACE_APPLIANCE_KEYS = 5 };

struct strait_config_diff {
	unsigned n_added, n_removed, n_changed;
	struct strait_tenant_change added[STRAIT_MAX_TENANTS];
	struct strait_tenant_change removed[STRAIT_MAX_TENANTS];
	struct strait_tenant_change changed[STRAIT_MAX_TENANTS];
	/* appliance keys that changed and apply in place: "[Appliance] Name",
	 * "[Appliance] TenantDir", "[Control] TokenFile", "[WAN] Rate",
	 * "[WAN] RateBurst" (config_diff.c checks the count at build time) */
	const char *appliance[STRAIT_INPLACE_APPLIANCE_KEYS];
	unsigned n_appliance;
};

/* Compares the running configuration `cur` with `next` (freshly loaded and
 * valid) and places next's tenants in slots: a tenant of cur keeps its
 * slot; a new one takes an empty slot that cur did not just free (its
 * flows may still be draining), else the next index. next->generation is
 * cur's + 1; a tenant keeps its generation, a new one gets next's.
 * Returns 0, or -EINVAL with err naming the file, line and field of a
 * change that cannot be applied while running (ports, workers, table
 * sizes, listening sockets: they take a restart), or -E2BIG when no slot
 * is left. On error nothing in cur changes (next is scratch). */
int strait_config_diff(const struct strait_config *cur, struct strait_config *next,
		       struct strait_config_diff *diff, struct strait_error *err);
bool strait_config_diff_empty(const struct strait_config_diff *diff);

/* "[Bandwidth] Ceiling", ...; "rule", "rate", "rekey", "policy", "tunnel",
 * "restart", "cache". */
const char *strait_field_name(unsigned field);
const char *strait_apply_name(unsigned bit_index);
/* The apply bits a change of field takes. */
uint32_t strait_field_apply(unsigned field);

/* The API's token ([Control] TokenFile, token.c): one line of 16 to 512
 * visible ASCII characters (`openssl rand -hex 32`), in a regular file
 * that group and others cannot read. Fills out (NUL-terminated) and
 * returns 0, or -errno / -EINVAL with err naming the appliance file's
 * TokenFile line; the token is never quoted. */
enum { STRAIT_TOKEN_MIN = 16, STRAIT_TOKEN_MAX = 512 };
int strait_token_load(const struct strait_appliance_cfg *a, char *out, size_t len,
		      struct strait_error *err);
/* The same for a file named on a command line (err names that file). */
int strait_token_read(const char *path, char *out, size_t len, struct strait_error *err);

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
/* Wipes a loaded key (explicit_bzero: not optimised away); key_id stays. */
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

/* The literal window a tenant's codec runs with, in bytes: its
 * CacheWindow, or the default for its CacheSize. */
uint64_t strait_tenant_cache_window(const struct strait_tenant_cfg *t);

/* "file:line: field: msg" (parts omitted when empty). */
const char *strait_error_str(const struct strait_error *err, char *buf, size_t len);
/* Fills err (file, line, field "[Section] Key" or "", the message) and
 * returns rc, for errors found outside a file's parsing. */
int strait_error_set(struct strait_error *err, int rc, const char *file, unsigned line,
		     const char *field, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

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
/* "127.0.0.1:8470", "[::1]:8470", or a Unix socket path ("/run/strait.sock");
 * a relative path is taken as is. */
bool strait_parse_listen(const char *s, struct strait_listen *out);
/* "127.0.0.1:8470", "[::1]:8470" or the path. */
const char *strait_listen_str(const struct strait_listen *l, char *buf, size_t len);

#endif
