/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * relay.h - one tenant's intercepted connections on the worker that owns
 * the tenant, each joined to a flow of the tenant's channel (DESIGN.md,
 * "Data path" steps 2 and 7).
 *
 *   site 1: client ==TCP== [A: LAN stack, pending SYN]  -- OPEN -->
 *   site 2:               [B: LAN stack, originated] ==TCP== server
 *
 * At A (the client's side) the LAN stack holds the client's SYN
 * (tcp_intercept, TCP_EV_PENDING); the relay sends OPEN with the SYN's
 * addresses, ports, VLANs, L2 and options, and completes the handshake on
 * OPENED (tcp_accept_pending) or refuses it as the server did (REFUSED:
 * RST, the same ICMP unreachable, or silence). At B it checks the OPEN
 * against the tenant's own rule (env->check_open), makes the connection's
 * frames its own (env->originate, before the SYN leaves) and opens it to
 * the server as the client (same addresses and ports, the client's SYN
 * options); the server's answer becomes OPENED or REFUSED.
 *
 * Then bytes: the LAN connection's receive queue is read into the flow's
 * raw ring as far as it has room (the window toward the sender closes
 * otherwise), decoded bytes are written to the LAN connection as far as
 * its send buffer takes them (the rest waits in the flow's out ring, and
 * the peer's credit stops). A FIN becomes the flow's end after every byte
 * before it; the peer's end becomes a FIN (tcp_shutdown) after every byte
 * was delivered. A RST, a timeout or a flow reset resets the other side.
 *
 * No allocation after relay_create(); everything runs on the owning
 * worker.
 */
#ifndef STRAIT_DATAPLANE_RELAY_H
#define STRAIT_DATAPLANE_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "channel_mux.h"
#include "relay_policy.h"
#include "tcp.h"

struct relay;

/* What the relay asks of the worker that holds it. */
struct relay_env {
	/* B: the peer asks to open o. May it (relay_open_check(): the
	 * tenant's ServerPrefix, ClientPrefix, Ports, Vlans; sane addresses,
	 * MACs and options)? RELAY_OPEN_OK, or why not (refused as policy,
	 * counted by reason). */
	enum relay_refusal (*check_open)(void *ctx, const struct chan_open *o);
	/* B: o is about to be opened: from now on its frames are this
	 * relay's (the worker's flow table), sent with o's L2 (MACs, VLANs).
	 * 0, or -errno (refused as busy). */
	int (*originate)(void *ctx, const struct chan_open *o);
	/* Both: the relay is done with connection c (closed, reset, or its
	 * open refused), or, with c NULL, with what originate(o) set up for
	 * an open that failed: the flow entry may go. */
	void (*release)(void *ctx, struct tcp_conn *c, const struct chan_open *o);
	/* A: the L2 of the SYN that c's pending open was made from (MACs,
	 * VLANs) into o; false if unknown (the open is refused, silently). */
	bool (*syn_l2)(void *ctx, struct tcp_conn *c, struct chan_open *o);
	/* A: the server's side answered the client's SYN with an ICMP
	 * unreachable (rf: type, code, who sent it): send the same to the
	 * client, quoting its SYN (q), with the L2 of connection `conn`
	 * (tcp_conn_index(), already refused). */
	void (*unreachable)(void *ctx, uint32_t conn, const struct tcp_refused *q,
			    const struct chan_refused *rf);
};

struct relay_config {
	struct chan_mux_config mux;
	uint16_t stack_tenant;   /* the tenant's id in the LAN stack */
	bool down_rst;           /* a SYN while the channel is down gets a RST
				  * (PeerDown = fail-closed); else silence */
};

/* Builds the relay in mem (relay_size() bytes, 64-byte aligned; the
 * codec logs are most of it) and registers it as the tenant's handler of
 * intercepted connections in lan. NULL if the config is unusable. */
size_t relay_size(const struct relay_config *cfg);
struct relay *relay_create(void *mem, size_t size, const struct relay_config *cfg,
			   struct tcp_stack *lan, const struct relay_env *env, void *ctx);
/* Resets every connection (channel gone) and unregisters. */
void relay_destroy(struct relay *r);
/* The tenant's cache files take the logs' current state (chan_mux_commit()). */
int relay_cache_commit(struct relay *r);
/* A reload changed PeerDown: cfg->down_rst from now on. */
void relay_set_down_rst(struct relay *r, bool on);

/* ---- the channel (the TCP inside ESP) ---- */

/* It connected: a session begins (HELLO). */
void relay_channel_up(struct relay *r, uint64_t now_us);
/* It went away: every flow and its LAN connections are reset. */
void relay_channel_down(struct relay *r);
/* Bytes it received. 0, or a session error (the caller closes the
 * channel: chan_mux_strerror(), relay_why()). */
int relay_channel_rx(struct relay *r, const uint8_t *p, size_t n);
/* Up to cap bytes to send now (the channel's room); must all be sent. */
size_t relay_channel_tx(struct relay *r, uint8_t *out, size_t cap, uint64_t now_us);
bool relay_channel_pending(const struct relay *r);
uint64_t relay_next_timer(const struct relay *r);
/* Flows may open (both HELLOs agree). */
bool relay_up(const struct relay *r);
const char *relay_why(const struct relay *r);

/* ---- the LAN ---- */

/* B: an ICMP unreachable (type, code, from `from`: 4 or 16 bytes as c's
 * family) came back for the SYN of c, an originated connection: the
 * open is refused and the peer's client gets the same. false when c is
 * not an open of ours waiting for its answer (nothing done). */
bool relay_unreachable(struct relay *r, struct tcp_conn *c, uint8_t type, uint8_t code,
		       const uint8_t *from);
/* A: the channel is down and PeerDown is fail-closed: the pending open c
 * is refused with a RST. */
void relay_refuse(struct relay *r, struct tcp_conn *c);

struct relay_stats {
	struct chan_mux_stats mux;
	uint64_t intercepted;     /* pending opens handed to the channel */
	uint64_t open_failed;     /* no flow for a pending open (full, down) */
	uint64_t originated;      /* connections opened toward servers */
	uint64_t origin_failed;   /* tcp_connect() refused */
	uint64_t lan_resets;      /* LAN connections reset by the relay */
	uint64_t unreachable;     /* B: opens refused by an ICMP unreachable */
	uint64_t refused[RELAY_OPEN_REASONS]; /* B: peer OPENs refused by
					       * check_open(), by reason */
};
void relay_stats(const struct relay *r, struct relay_stats *s);
struct chan_mux *relay_mux(struct relay *r);

#endif
