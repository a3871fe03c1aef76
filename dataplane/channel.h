/* SPDX-License-Identifier: BSD-3-Clause */
/* The tenant channel (DESIGN.md, data path step 4): one TCP connection per
 * tenant between its InnerAddress and PeerInnerAddress, carried in the
 * tenant's ESP tunnel.
 *
 * Each worker has one channel stack (a tcp_stack of its own, not the LAN
 * one) for the channels of the tenants it owns; its output is sealed in
 * ESP by the WAN module (wan.c), its input is what that module opened.
 * The side whose InnerAddress is lower connects to the peer's, port
 * CHANNEL_PORT (a new ephemeral port each attempt); the other listens and
 * keeps the newest connection of a tenant. The stack also serves the
 * link-test services (discard, echo, source; tcp_services.h) on every
 * inner address, and runs the goodput test (channel_test_start()).
 *
 * The API for the layer that fills the channel (issue 11), all on the
 * owning worker, none of it blocking:
 *   channel_set_user()  connected / disconnected / readable / writable
 *   channel_send()      takes what fits; 0 means wait for writable()
 *   channel_peek(), channel_consume(), channel_readable()
 * A channel without a user discards what it receives. */
#ifndef STRAIT_DATAPLANE_CHANNEL_H
#define STRAIT_DATAPLANE_CHANNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tcp.h"
#include "tcp_impair.h"

struct rte_mbuf;
struct rte_mempool;
struct channel;
struct channel_stack;

enum {
	CHANNEL_PORT = 7400,   /* the listening side's TCP port, inside the tunnel */
};

enum channel_state {
	CHANNEL_DOWN = 0,      /* the tunnel is down */
	CHANNEL_CONNECTING,    /* the tunnel is up, no connection yet */
	CHANNEL_UP,            /* connected */
};

/* Why a channel went down (channel_user.disconnected). */
enum channel_why {
	CHANNEL_WHY_TUNNEL_DOWN = 0, /* the peer timed out: connection aborted */
	CHANNEL_WHY_RESET,           /* the peer reset the connection */
	CHANNEL_WHY_TIMEOUT,         /* retransmissions exhausted */
	CHANNEL_WHY_CLOSED,          /* the peer closed it (FIN) */
	CHANNEL_WHY_REPLACED,        /* the peer opened a newer one (a restart) */
	CHANNEL_WHY_RESTART,         /* a reload restarted the tenant's session here */
	CHANNEL_WHY_COUNT
};

const char *channel_state_name(enum channel_state s);
const char *channel_why_name(enum channel_why w);

struct channel_user {
	void (*connected)(void *arg, struct channel *ch);
	void (*disconnected)(void *arg, struct channel *ch, enum channel_why why);
	void (*readable)(void *arg, struct channel *ch);
	void (*writable)(void *arg, struct channel *ch);
};

struct channel_config {
	uint32_t max_channels;       /* tenants on this worker */
	uint16_t mss;                /* IPv4 inner; IPv6 inner uses mss - 20 */
	uint32_t sndbuf, rcvbuf;     /* per connection */
	struct rte_mempool *pool;    /* the engine's: send queues */
	struct rte_mempool *seg_pool; /* segments built for output (sealed, sent, freed) */
	const struct tcp_ops *ops;   /* clock and output (the ESP path) */
	void *ctx;
	/* the test knob (tcp_impair.h) between the stack and the ESP path, both
	 * ways; NULL or not enabled: off. worker seeds it. */
	const struct tcp_impair_cfg *impair;
	unsigned worker;
};

/* NULL with errno on failure. */
struct channel_stack *channel_stack_create(const struct channel_config *cfg);
void channel_stack_destroy(struct channel_stack *cs);
const struct tcp_stack *channel_stack_tcp(const struct channel_stack *cs);
/* The test knob's counters (all zero when it is off). */
void channel_stack_impair_stats(const struct channel_stack *cs, struct tcp_impair_stats *out);

/* A tenant's channel: inner addresses (af 4 or 6, network order) and an
 * owner pointer for the caller (channel_owner()). NULL when full. */
struct channel *channel_add(struct channel_stack *cs, uint8_t af, const uint8_t *local,
			    const uint8_t *peer, void *owner);
/* A reload removed the tenant: its connection is aborted (no callback:
 * the user is dropped first) and the entry may serve another channel. */
void channel_remove(struct channel *ch);
/* A reload changed what the tenant's session is made of (its cache): the
 * connection is aborted, disconnected(RESTART) is called, and the
 * connector connects again as after a failure (the peer hears a reset). */
void channel_restart(struct channel *ch);
/* The channel whose InnerAddress is addr, or NULL. */
struct channel *channel_find(const struct channel_stack *cs, uint8_t af, const uint8_t *addr);
void *channel_owner(const struct channel *ch);

/* An opened inner segment of one of this stack's tenants (checked by the
 * caller: TCP between the tenant's inner addresses); L3 at m->l2_len.
 * Takes m. */
void channel_input(struct channel_stack *cs, struct rte_mbuf *m);
/* The tenant's tunnel came up (the connector connects) or went down (the
 * connection is aborted: disconnected(TUNNEL_DOWN)). */
void channel_tunnel(struct channel *ch, bool up);
/* Timers, reconnects, the goodput test; returns nonzero while a timer is
 * due within 200 us (the worker must not sleep). */
unsigned channel_poll(struct channel_stack *cs);

/* ---- the API of the layer that fills the channel (issue 11) ---- */
void channel_set_user(struct channel *ch, const struct channel_user *u, void *arg);
enum channel_state channel_state(const struct channel *ch);
/* Queues up to len bytes; returns how many were taken (0: full, wait for
 * writable()), -1 when the channel is not up. */
long channel_send(struct channel *ch, const void *buf, size_t len);
size_t channel_writable(const struct channel *ch);
size_t channel_readable(const struct channel *ch);
size_t channel_peek(const struct channel *ch, void *buf, size_t len);
void channel_consume(struct channel *ch, size_t n);

/* The output gate of the channel's connection and of its goodput test
 * (the WAN shaper's, dataplane/wan_shaper.c; the stack's tcp_gate asks
 * it), kept across reconnects: may_send() before each data segment, sent()
 * after; channel_kick() sends what the gate now lets through. */
struct channel_gate {
	bool (*may_send)(void *arg);
	void (*sent)(void *arg, uint32_t len);
};
void channel_set_gate(struct channel *ch, const struct channel_gate *g, void *arg);
void channel_kick(struct channel *ch);
/* The rate the shaper guarantees the channel (tcp_gate.min_rate: random
 * loss does not take its window below it), kept across reconnects. */
void channel_set_min_rate(struct channel *ch, uint64_t bps);
/* Transport = bbr: the channel's TCP models the path (tcp_gate.bbr,
 * tcp_bbr.c) instead of reacting to loss; kept across reconnects. */
void channel_set_bbr(struct channel *ch, bool on);
/* Bytes written to the channel (and its test) not sent yet. */
size_t channel_unsent(const struct channel *ch);

/* ---- statistics (on the owning worker) ---- */
struct channel_stats {
	uint8_t state;               /* enum channel_state */
	bool connector;              /* this side connects */
	uint64_t connects;           /* connections established */
	uint64_t down[CHANNEL_WHY_COUNT];
	uint64_t bytes_in, bytes_out, retrans_segs; /* over every connection */
	uint32_t srtt_us, min_rtt_us, cwnd;         /* the current connection */
	uint64_t discarded;          /* received with no user */
};
void channel_stats(const struct channel *ch, struct channel_stats *out);

/* ---- the channel alone: goodput and byte-exact tests ----
 * A connection on the channel stack to one of the peer's link-test
 * services on its InnerAddress, through the same tunnel as the channel:
 *   DISCARD (port 9)  writes `bytes` bytes and closes: goodput one way;
 *   ECHO (port 7)     writes the source pattern (tcp_source_byte(i)) and
 *                     checks every byte that comes back: both ways;
 *   SOURCE (port 19)  asks for `bytes` bytes and checks the pattern.
 * The time runs from the connection's establishment to the peer's FIN
 * (each service sends it once it has read, or sent, every byte). One test
 * per channel at a time. */
enum channel_test_mode { CHANNEL_TEST_DISCARD = 0, CHANNEL_TEST_ECHO, CHANNEL_TEST_SOURCE };
enum channel_test_state { CHANNEL_TEST_IDLE = 0, CHANNEL_TEST_RUNNING, CHANNEL_TEST_DONE,
			  CHANNEL_TEST_FAILED };
struct channel_test {
	uint8_t mode, state;         /* enum channel_test_mode, _state */
	uint32_t runs;               /* tests started on this channel */
	uint64_t bytes, sent, received;
	uint64_t mismatches;         /* bytes received that differ from the pattern */
	uint64_t ns;                 /* DONE: connection established -> peer's FIN */
	/* its connection (live while RUNNING, at the end after it) */
	uint64_t retrans_segs, fast_recoveries, rto_expiries;
	uint32_t srtt_us, min_rtt_us, cwnd, ssthresh, snd_wnd;
};
const char *channel_test_mode_name(enum channel_test_mode m);
const char *channel_test_state_name(enum channel_test_state s);
/* Returns 0, -EBUSY (a test runs), -ENOTCONN (the tunnel is down),
 * -EINVAL (mode). */
int channel_test_start(struct channel *ch, enum channel_test_mode mode, uint64_t bytes);
void channel_test_result(const struct channel *ch, struct channel_test *out);

#endif
