/* SPDX-License-Identifier: BSD-3-Clause */
/* The WAN module (dp_hooks.h, registered after the appliance's own TCP):
 * per-tenant ESP tunnels to the peer appliance on UDP/4500 of the WAN
 * address, and each tenant's channel inside (channel.h). See
 * dataplane/README.md, "WAN side".
 *
 * A tenant lives on one worker (wan_tenant_owner()): its tunnel, its SAs,
 * its channel. Frames for it that another worker receives reach it through
 * the owner's steer ring: ESP by the worker in the SPI, handshakes by the
 * tenant Id in the message. */
#ifndef STRAIT_DATAPLANE_WAN_H
#define STRAIT_DATAPLANE_WAN_H

#include <stdbool.h>
#include <stdint.h>

#include "channel.h"
#include "strait/ctl.h"
#include "wan_shaper.h"
#include "strait/tunnel.h"

struct dp_app;
struct dp_worker;
struct rte_tel_data;

/* Drops before a frame is a tenant's, per worker. */
enum wan_drop {
	WAN_DROP_MALFORMED = 0,   /* outer IP/UDP lengths or checksum, a chained mbuf */
	WAN_DROP_NAT_KEEPALIVE,   /* RFC 3948 NAT keepalive: not used between appliances */
	WAN_DROP_UNKNOWN_TENANT,  /* handshake for a tenant Id this appliance has not */
	WAN_DROP_UNKNOWN_SPI,     /* SPI names no worker or tenant of ours */
	WAN_DROP_STEER_FULL,      /* the owner's ring was full */
	WAN_DROP_COUNT
};
const char *wan_drop_name(enum wan_drop d);

/* Drops of a tenant's frames beyond the tunnel's own counters. */
enum wan_tenant_drop {
	WAN_TDROP_INNER_MALFORMED = 0, /* opened, but not one IP packet with a TCP header */
	WAN_TDROP_INNER_ADDR,     /* opened, but not between the tenant's inner addresses */
	WAN_TDROP_RX_NO_MBUF,     /* the channel's RX pool is empty (the peer resends) */
	WAN_TDROP_TX_NO_MBUF,     /* no mbuf for a handshake message or keepalive */
	WAN_TDROP_TX_NOROOM,      /* a segment without room for ESP and UDP */
	WAN_TDROP_COUNT
};
const char *wan_tenant_drop_name(enum wan_tenant_drop d);

struct wan_tenant_snap {
	uint16_t index;               /* in the configuration */
	bool up;                      /* strait_tunnel_peer_up() */
	uint32_t spi_in, spi_out;
	uint64_t last_rx_ms_ago;      /* UINT64_MAX: never */
	uint64_t esp_in_frames, esp_in_bytes, esp_out_frames, esp_out_bytes; /* outer UDP payload */
	uint64_t keepalives_in;
	uint64_t drops[WAN_TDROP_COUNT];
	struct strait_tunnel_stats tun;
	struct channel_stats ch;
	struct channel_test test;
	struct wan_shaper_snap shaper; /* .shaped false: not shaped */
};

/* Everything a worker's WAN module publishes (every WAN_SNAP_MS). */
enum { WAN_SNAP_MS = 200 };
struct wan_snap {
	uint64_t at_ms;               /* 0: nothing published yet */
	uint64_t drops[WAN_DROP_COUNT];
	struct tcp_stack_stats stack; /* the worker's channel stack */
	struct tcp_impair_stats impair; /* its test knob (zero when off) */
	uint32_t pool_free[3];        /* mbufs free in its queue, seg, rx pools */
	uint32_t pool_size[3];
	uint64_t nat_keepalives;
	struct wan_shaper_snap bridged; /* the shaper's default class */
	uint32_t n;                   /* tenants of this worker, below */
	struct wan_tenant_snap t[STRAIT_MAX_TENANTS];
};

/* Call from main() after the configuration (keys loaded) and before the
 * workers start. sa_log_path: NULL, or the --sa-log file (appended; created
 * mode 0600; refused if group or others may access it). Returns 0, or
 * -errno with a message on stderr. */
int wan_register(struct dp_app *app, const char *sa_log_path);
/* After the workers stopped: closes the SA log. */
void wan_unregister(void);

/* The worker that owns tenant `index` (configuration order). */
unsigned wan_tenant_owner(const struct dp_app *app, unsigned index);

/* Copies worker w's latest snapshot (any thread): 0, -ENOENT (no module
 * on that worker), -EAGAIN. */
int wan_snapshot(const struct dp_worker *w, struct wan_snap *out);
/* Worker `worker`'s last snapshot, taken as it stopped (exit statistics):
 * 0 or -ENOENT. */
int wan_final(unsigned worker, struct wan_snap *out);
/* Asks tenant `index`'s owner to run a test of the channel alone
 * (channel.h) with `bytes` bytes; the result shows in its snapshot.
 * 0 or -EINVAL. */
int wan_request_test(unsigned index, enum channel_test_mode mode, uint64_t bytes);

/* Telemetry commands (telemetry.c's table; wan_telemetry.c). */
int wan_tel_tunnel(const struct dp_app *a, const char *params, struct rte_tel_data *d);
int wan_tel_test(const struct dp_app *a, const char *params, struct rte_tel_data *d);

/* The channel of tenant `index` if worker w owns it (for the flow layer,
 * on w's lcore), else NULL. */
struct channel *wan_channel(struct dp_worker *w, unsigned index);
/* Tenant `index`'s estimated replication lag (its relay's, on w's lcore,
 * UINT64_MAX: bytes held and nothing drains), for the WAN shaper: near
 * its RpoTarget the tenant borrows spare capacity first. Nothing when w
 * does not own it or nothing is shaped. */
void wan_set_lag(struct dp_worker *w, unsigned index, uint64_t lag_ns);

#endif
