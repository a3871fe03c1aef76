/* SPDX-License-Identifier: BSD-3-Clause */
/* The dataplane's own TCP engine (RFC 9293, 7323, 2018, 5961, 6528, 6298,
 * 5681/6582, 6675).
 *
 * One `struct tcp_stack` per worker lcore; nothing in it is shared, nothing
 * locks. The stack never touches a port or a clock itself: it takes
 *   - segments in through tcp_input() as rte_mbufs whose L3 header (IPv4 or
 *     IPv6) starts at m->l2_len bytes into the packet;
 *   - time through ops->now_us();
 *   - output through ops->output(), as mbufs whose data starts at the L3
 *     header (the caller prepends its own L2, or ESP);
 *   - application events through ops->event().
 * so the same engine serves the LAN ports, the tenant channel inside ESP and
 * unit tests that drive time by hand.
 *
 * Memory: the connection table is preallocated at tcp_stack_create(); data
 * lives in mbufs of the stack's mempool, bounded per connection (sndbuf,
 * rcvbuf, out-of-order bytes) and per tenant. No malloc per packet.
 *
 * Back-pressure: tcp_write() returns how many bytes it took; when it took
 * fewer than offered, TCP_EV_WRITABLE fires once room frees. tcp_read()
 * takes what the application can hold; bytes it leaves stay queued and the
 * advertised window shrinks to the real free space, down to zero.
 */
#ifndef STRAIT_DATAPLANE_TCP_H
#define STRAIT_DATAPLANE_TCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rte_mbuf;
struct rte_mempool;
struct tcp_stack;
struct tcp_conn;

/* Addresses in network byte order; IPv4 uses the first 4 bytes. */
struct tcp_addr {
	uint8_t b[16];
};

enum tcp_af { TCP_AF_INET = 4, TCP_AF_INET6 = 6 };

enum tcp_state {
	TCP_CLOSED = 0,
	TCP_LISTEN,
	TCP_SYN_SENT,
	TCP_SYN_RECEIVED,
	TCP_ESTABLISHED,
	TCP_FIN_WAIT_1,
	TCP_FIN_WAIT_2,
	TCP_CLOSE_WAIT,
	TCP_CLOSING,
	TCP_LAST_ACK,
	TCP_TIME_WAIT,
	TCP_NSTATES
};

/* Events, ORed into one call of ops->event(). */
enum tcp_event {
	TCP_EV_CONNECTED = 1u << 0, /* handshake done (active or passive) */
	TCP_EV_READABLE = 1u << 1,  /* new in-order bytes to tcp_read() */
	TCP_EV_WRITABLE = 1u << 2,  /* tcp_write() refused bytes earlier; room now */
	TCP_EV_PEER_FIN = 1u << 3,  /* peer closed its side; read returns 0 after data */
	TCP_EV_RESET = 1u << 4,     /* connection reset by peer (or refused) */
	TCP_EV_TIMEOUT = 1u << 5,   /* retransmissions exhausted */
	TCP_EV_CLOSED = 1u << 6,    /* fully closed; call tcp_close() to release */
	TCP_EV_PENDING = 1u << 7,   /* an intercepted SYN is held: decide with
				     * tcp_accept_pending()/tcp_refuse_pending() */
};

struct tcp_ops {
	uint64_t (*now_us)(void *ctx);
	/* Takes ownership of every mbuf, sent or not. Data starts at L3;
	 * m->l2_len is 0, l3_len/l4_len are set, and when TX offload is on,
	 * ol_flags asks the NIC for the checksums. m->hash.usr is the
	 * sending connection's tcp_conn_index() + 1, or 0 for a segment of
	 * no connection (a RST answering an unknown one, a cookie SYN-ACK):
	 * an output that keeps per-connection state (an L2 template) finds
	 * it there. */
	void (*output)(void *ctx, struct rte_mbuf **pkts, uint16_t n);
	/* Application events for a connection; may call tcp_* functions on
	 * this connection, including tcp_close(). */
	void (*event)(void *ctx, struct tcp_conn *c, uint32_t events);
};

enum tcp_cfg_flags {
	TCP_CFG_NO_TIMESTAMPS = 1u << 0,
	TCP_CFG_NO_SACK = 1u << 1,
	TCP_CFG_NO_WSCALE = 1u << 2,
	TCP_CFG_TX_CSUM_OFFLOAD = 1u << 3, /* ask the NIC to fill checksums */
	TCP_CFG_RX_CSUM_OFFLOAD = 1u << 4, /* trust RTE_MBUF_F_RX_L4_CKSUM_GOOD */
	TCP_CFG_NEWRENO = 1u << 5,         /* NewReno instead of CUBIC */
	TCP_CFG_NO_PACING = 1u << 6,       /* send at line rate within the windows */
	TCP_CFG_SYNCOOKIES_ALWAYS = 1u << 7, /* cookie listeners answer every SYN
					      * with a cookie (tests, floods) */
};

struct tcp_config {
	uint32_t max_conns;      /* table size, all states (default 16384) */
	uint32_t max_half_open;  /* SYN-RECEIVED per appliance (default 1024) */
	uint32_t max_established;/* synchronized states per appliance */
	uint16_t max_tenants;    /* tenant ids 0..max_tenants-1 (default 64) */
	uint32_t tenant_max_half_open;
	uint32_t tenant_max_established;
	uint64_t tenant_max_buffer; /* bytes queued in all of a tenant's flows */
	uint32_t sndbuf;         /* per connection (default 16 MiB: 1 Gbit/s x 100 ms + margin) */
	uint32_t rcvbuf;         /* per connection (default 16 MiB) */
	uint32_t ooo_max;        /* out-of-order bytes per connection (default rcvbuf) */
	uint16_t ooo_max_segs;   /* out-of-order segments per connection (default 1024) */
	uint16_t mss;            /* our MSS, IPv4 (IPv6 uses mss - 20); default 1460 */
	uint32_t delack_us;      /* default 40 ms */
	uint32_t rto_min_us;     /* default 200 ms */
	uint32_t rto_max_us;     /* default 60 s */
	uint32_t rto_init_us;    /* default 1 s */
	uint32_t time_wait_us;   /* 2 MSL, default 60 s */
	uint32_t challenge_ack_per_s; /* RFC 5961 budget per stack, default 1000 */
	uint8_t max_retries;     /* RTO expiries before giving up (default 15) */
	uint8_t syn_retries;     /* (default 6) */
	uint32_t flags;          /* enum tcp_cfg_flags */
	uint8_t secret[16];      /* ISN and SYN-cookie key; zero = random */
	/* Intercepted flows (tcp_intercept): SYNs held pending, per appliance
	 * (default max_half_open) and per tenant (default max_pending), and how
	 * long an undecided one is held (default 75 s). */
	uint32_t max_pending;
	uint32_t tenant_max_pending;
	uint32_t pending_timeout_us;
	/* Segments built for output (and freed once sent) come from this pool
	 * when set, else from the stack's: with a pool of their own, data
	 * queued for sending can never take the last mbuf a segment needs to
	 * carry it (every queue full, nothing sent, nothing acknowledged). */
	struct rte_mempool *seg_pool;
};

/* Fills defaults for every zero field. */
void tcp_config_defaults(struct tcp_config *cfg);

/* Setup: returns NULL and sets errno (EINVAL, ENOMEM). */
struct tcp_stack *tcp_stack_create(const struct tcp_config *cfg,
				   const struct tcp_ops *ops, void *ctx,
				   struct rte_mempool *mp);
/* Frees every connection and its mbufs without sending anything. */
void tcp_stack_destroy(struct tcp_stack *st);

/* SYN cookies (RFC 4987) keep no state per SYN: the ISN is a keyed hash of
 * the 4-tuple, the client's ISN, a 64 s time slot and a 3-bit MSS index;
 * when the SYN offers timestamps, its window scale and SACK-permitted ride
 * in the low 5 bits of our TSval (covered by the same hash) and come back
 * in the ACK's TSecr, so a cookie connection keeps them. Without
 * timestamps it runs without window scaling and SACK. */
enum tcp_listen_flags {
	TCP_LISTEN_SYNCOOKIES = 1u << 0, /* answer with cookies when half-open is full */
};

/* A listener on (af, addr, port); addr all-zero matches any local address.
 * Returns 0, -EADDRINUSE, -ENOSPC or -EINVAL. Accepted connections are
 * announced with TCP_EV_CONNECTED; their tenant is the listener's. */
int tcp_listen(struct tcp_stack *st, enum tcp_af af, const struct tcp_addr *addr,
	       uint16_t port, uint16_t tenant, uint32_t flags);

/* The BBR-style model of one connection (tcp_bbr.c), kept by the gate's
 * owner for the connections it wants modelled (tcp_gate.bbr): the engine's
 * own state, not to be read or written outside it; zeroed, it starts a
 * new model. */
enum { BBR_BW_ROUNDS = 10, BBR_CYCLE = 8 };
struct tcp_bbr {
	uint32_t bw[BBR_BW_ROUNDS];  /* bytes per ms delivered, per round (ring) */
	uint32_t full_bw;            /* start-up: the bandwidth to beat by 25 % (B/ms) */
	uint64_t delivered;          /* bytes cumulatively ACKed */
	uint64_t rd_delivered, rd_t0; /* the round's start: delivered (+ SACKed), time */
	uint64_t min_rtt_t, cycle_t; /* when the min RTT was taken, the phase began */
	uint32_t rd_end;             /* the round ends when SND.UNA passes it */
	uint32_t round, min_rtt_us;
	uint32_t rd_rtt_us;          /* the least RTT sample of this round */
	uint32_t backoffs;           /* rounds a standing queue sent to the 0.75 phase */
	uint8_t mode, cycle, full_cnt;
	const struct tcp_conn *owner; /* the connection modelled; another: start anew */
};

/* The stack's output gate (the WAN shaper, dataplane/wan_shaper.c, through
 * the channel): before each data segment, new or resent, the engine asks
 * may_send(c); false leaves the bytes in the send queue (tcp_write() takes
 * no more once it is full: back-pressure, nothing dropped) until the
 * gate's owner calls tcp_kick(c). sent(c, len) follows each data segment
 * it let through. Handshakes, pure ACKs, FINs, RSTs and the one fast
 * retransmit on entering recovery are not gated (the owner charges them
 * as they leave). min_rate(c): the rate c is granted (bit/s, 0: none),
 * rate mode (tcp_rate.c): its congestion window never goes below that
 * rate's bandwidth-delay product (x 1.25, on the minimum RTT) from the
 * first RTT sample on, through recovery and after an RTO, it is compared
 * with the RFC 6675 pipe, and the engine does not pace it, so random loss
 * on a WAN does not slow it below its grant (as Riverbed's MX-TCP); the
 * gate paces it.
 * bbr(c) (may be NULL): the model's state when c models the path instead
 * of reacting to loss (tcp_bbr.c: paces at the bottleneck it measures,
 * backs off when the queueing delay rises, a random loss does not halve
 * it), NULL otherwise.
 * One per stack (nothing per connection); NULL removes it. */
struct tcp_gate {
	bool (*may_send)(void *ctx, struct tcp_conn *c);
	void (*sent)(void *ctx, struct tcp_conn *c, uint32_t len);
	uint64_t (*min_rate)(void *ctx, const struct tcp_conn *c);
	struct tcp_bbr *(*bbr)(void *ctx, const struct tcp_conn *c);
};
void tcp_stack_set_gate(struct tcp_stack *st, const struct tcp_gate *g, void *ctx);
/* Sends what the windows, pacing and the gate allow now. */
void tcp_kick(struct tcp_conn *c);

/* Per-connection event handler: a listener hands its own to every
 * connection it accepts, so services and the tenant channel can share one
 * stack. Connections without one report to ops->event. */
typedef void (*tcp_event_fn)(void *arg, struct tcp_conn *c, uint32_t events);
int tcp_listen_cb(struct tcp_stack *st, enum tcp_af af, const struct tcp_addr *addr,
		  uint16_t port, uint16_t tenant, uint32_t flags,
		  tcp_event_fn fn, void *arg);
void tcp_set_handler(struct tcp_conn *c, tcp_event_fn fn, void *arg);
/* The handler a connection reports to (tcp_set_handler(), a listener's)
 * and its argument. */
tcp_event_fn tcp_conn_handler(const struct tcp_conn *c, void **arg);

/* Active open; ports in host order. Returns NULL with errno (EADDRINUSE,
 * ENOSPC for a table or tenant limit, ENOBUFS, EINVAL). */
struct tcp_conn *tcp_connect(struct tcp_stack *st, enum tcp_af af,
			     const struct tcp_addr *laddr, uint16_t lport,
			     const struct tcp_addr *raddr, uint16_t rport,
			     uint16_t tenant);
struct tcp_syn_opts;
/* The same, offering in the SYN what another host's SYN offered (an
 * appliance opening a connection as the client it stands in for): MSS
 * the smaller of offer->mss (when non-zero) and ours, window scaling,
 * SACK and timestamps only when offered (and not off in the stack's
 * config). The window scale shift is our own (it describes our buffer). */
struct tcp_conn *tcp_connect_offer(struct tcp_stack *st, enum tcp_af af,
				   const struct tcp_addr *laddr, uint16_t lport,
				   const struct tcp_addr *raddr, uint16_t rport,
				   uint16_t tenant, const struct tcp_syn_opts *offer);

/* Intercepted flows (DESIGN.md, data path step 2, "Terminate").
 *
 * The caller (the worker's flow table) hands over a SYN that is for no
 * listener of ours but for a flow it intercepts for `tenant`. The engine
 * holds it pending: no SYN-ACK goes out; the connection (local side = the
 * SYN's destination, i.e. the real server impersonated) is announced with
 * TCP_EV_PENDING to the tenant's handler (tcp_tenant_handler(), else
 * ops->event), which asks the peer appliance to open the real connection
 * and later decides with tcp_accept_pending() or tcp_refuse_pending().
 * The SYN's options (MSS, window scale, SACK-permitted, timestamps) are
 * kept for the SYN-ACK. Retransmitted SYNs of a pending open are absorbed
 * (neither answered nor duplicated); other segments for it are dropped
 * silently, except a RST at the client's ISN + 1, which ends it
 * (TCP_EV_RESET | TCP_EV_CLOSED). An open left undecided for
 * cfg.pending_timeout_us ends with TCP_EV_TIMEOUT | TCP_EV_CLOSED without a
 * word to the client. After any TCP_EV_CLOSED the handle stays valid until
 * tcp_close(). Intercepted opens count as `pending` (not half_open) until
 * the client's ACK completes the handshake, against cfg.max_pending and
 * cfg.tenant_max_pending: over either, the SYN is dropped and counted
 * (pending_limit_drops); no SYN cookies for intercepted flows.
 *
 * tcp_intercept() takes ownership of m (L3 at m->l2_len). A segment that
 * belongs to an existing connection is processed as tcp_input() would, so
 * the flow table may send all of an intercepted flow's segments here.
 * Returns 0 when the segment was taken (a new pending open, or processed),
 * -EINVAL (bad tenant, not a SYN for an unknown flow, no handler),
 * -EBADMSG (malformed, counted as in tcp_input), -ENOSPC (a pending or
 * connection bound: dropped and counted). */
int tcp_intercept(struct tcp_stack *st, struct rte_mbuf *m, uint16_t tenant);
/* Would tcp_intercept() take a new open for `tenant` now (within the
 * pending and connection bounds, a free table entry)? Counts nothing: the
 * caller may bridge the SYN instead of letting it be dropped. */
bool tcp_intercept_room(const struct tcp_stack *st, uint16_t tenant);
/* The handler of a tenant's intercepted connections (its channel); NULL
 * reverts to ops->event. Connections take it when their SYN arrives. */
int tcp_tenant_handler(struct tcp_stack *st, uint16_t tenant, tcp_event_fn fn,
		       void *arg);
/* The server answered: send the SYN-ACK (as the server, with the options
 * the SYN offered and ours allow); TCP_EV_CONNECTED follows the client's
 * ACK. Data written before then is sent once established. Returns 0, or
 * -EINVAL when c is not a pending open. */
int tcp_accept_pending(struct tcp_conn *c);
enum tcp_refuse {
	TCP_REFUSE_RST = 1,     /* the server reset: the client gets RST|ACK */
	TCP_REFUSE_SILENT = 2,  /* the server was silent: nothing is sent */
	TCP_REFUSE_UNREACH = 3, /* an ICMP unreachable came back: nothing is
				 * sent by the engine; the caller sends the
				 * ICMP quoting *out (the SYN as received) */
};
/* What an ICMP error toward the client needs to quote (RFC 792: the IP
 * header and the first 8 bytes of the TCP header; Linux matches the quoted
 * ports, and checks the quoted sequence number against its SYN). */
struct tcp_refused {
	uint8_t af;
	struct tcp_addr client, server; /* the SYN's source and destination */
	uint16_t client_port, server_port;
	uint32_t client_isn;           /* the SYN's sequence number */
};
/* Refuses a pending open and releases the handle (it is invalid after a
 * return of 0). out may be NULL. Returns 0, or -EINVAL (c not pending,
 * how unknown: nothing done). tcp_abort() on a pending open is
 * TCP_REFUSE_RST, tcp_close() is TCP_REFUSE_SILENT. */
int tcp_refuse_pending(struct tcp_conn *c, enum tcp_refuse how,
		       struct tcp_refused *out);
bool tcp_is_pending(const struct tcp_conn *c);
/* The options of the SYN that opened c (passive or intercepted): what the
 * peer appliance may offer to the real server. */
struct tcp_syn_opts {
	uint16_t mss;          /* 0 when the SYN had none */
	int8_t wscale;         /* -1 when the SYN had none */
	bool sack_ok, timestamps;
};
void tcp_conn_syn_opts(const struct tcp_conn *c, struct tcp_syn_opts *out);

/* Processes a burst of received segments. Takes ownership of every mbuf:
 * payload is kept in the connection's queues or freed. Returns how many
 * were accepted (the rest were invalid or unmatched, counted, and answered
 * with RST where RFC 9293 says so). */
uint16_t tcp_input(struct tcp_stack *st, struct rte_mbuf **pkts, uint16_t n);

/* Runs expired timers (retransmission, delayed ACK, persist, TIME-WAIT).
 * Call it from the poll loop; it is cheap when nothing is due. */
void tcp_poll(struct tcp_stack *st);
/* The earliest armed deadline (ops->now_us() time), UINT64_MAX if none:
 * how long a poll loop may sleep without delaying a timer. */
uint64_t tcp_next_timer(const struct tcp_stack *st);

/* Queues up to len bytes; returns how many were taken (0 when the send
 * buffer, the tenant budget or the mempool is full: wait for
 * TCP_EV_WRITABLE), or -1 with errno EPIPE/ENOTCONN when sending is over. */
long tcp_write(struct tcp_conn *c, const void *buf, size_t len);
/* Copies up to len in-order bytes out; returns the count, 0 when nothing is
 * queued (check tcp_peer_closed()), -1 with errno ECONNRESET on a reset. */
long tcp_read(struct tcp_conn *c, void *buf, size_t len);
/* Copies up to len in-order bytes without taking them; tcp_consume()
 * takes n <= tcp_readable() bytes (and may send a window update). Used to
 * forward data only as far as the next hop accepts it. */
size_t tcp_peek(const struct tcp_conn *c, void *buf, size_t len);
void tcp_consume(struct tcp_conn *c, size_t n);
size_t tcp_readable(const struct tcp_conn *c);
size_t tcp_writable(const struct tcp_conn *c);
/* Bytes written that the peer has not acknowledged yet (queued or in
 * flight): 0 once it holds everything written. */
size_t tcp_unacked(const struct tcp_conn *c);
/* Of those, the bytes not sent yet (held by the windows, pacing or the
 * gate). */
size_t tcp_unsent(const struct tcp_conn *c);
bool tcp_peer_closed(const struct tcp_conn *c);

/* Sends FIN after queued data; the connection stays readable. */
int tcp_shutdown(struct tcp_conn *c);
/* Releases the application's handle: graceful close (FIN), or RST if
 * unread data remains, as Linux does. The engine frees the connection when
 * it reaches CLOSED (after TIME-WAIT). The handle is invalid afterwards. */
void tcp_close(struct tcp_conn *c);
/* Sends RST and releases the handle. */
void tcp_abort(struct tcp_conn *c);

/* The connection of a tuple (local, remote; ports in host order), or NULL:
 * for an ICMP error that quotes one of ours. */
struct tcp_conn *tcp_find_conn(struct tcp_stack *st, enum tcp_af af,
			       const struct tcp_addr *laddr, uint16_t lport,
			       const struct tcp_addr *raddr, uint16_t rport);
/* Our initial sequence number (an ICMP error about our SYN quotes it). */
uint32_t tcp_conn_iss(const struct tcp_conn *c);

enum tcp_state tcp_state(const struct tcp_conn *c);
uint32_t tcp_conn_index(const struct tcp_conn *c); /* 0..max_conns-1 */
void tcp_conn_tuple(const struct tcp_conn *c, uint8_t *af, struct tcp_addr *laddr,
		    uint16_t *lport, struct tcp_addr *raddr, uint16_t *rport);
const char *tcp_state_name(enum tcp_state s);
void tcp_set_user(struct tcp_conn *c, void *user);
void *tcp_user(const struct tcp_conn *c);

struct tcp_conn_stats {
	uint64_t bytes_in, bytes_out;      /* payload, first transmissions */
	uint64_t segs_in, segs_out;
	uint64_t retrans_segs, retrans_bytes;
	uint64_t rto_expiries, fast_recoveries, tail_probes;
	uint64_t ooo_bytes;                 /* bytes that arrived out of order */
	uint64_t dup_bytes;                 /* already-received bytes */
	uint64_t challenge_acks;
	uint64_t rack_marks, dsacks_in; /* RACK loss marks, D-SACKs received */
	uint32_t srtt_us, rttvar_us, rto_us, min_rtt_us;
	uint32_t cwnd, ssthresh, snd_wnd, rcv_wnd;
};
void tcp_conn_stats(const struct tcp_conn *c, struct tcp_conn_stats *out);

struct tcp_stack_stats {
	uint64_t segs_in, segs_out, rst_in, rst_out;
	uint64_t bad_csum, bad_hdr, bad_opts, no_conn, dropped_seq, paws_drops;
	uint64_t challenge_acks, challenge_ack_limited;
	uint64_t invalid_ack_limited; /* unacceptable pure ACKs left unanswered */
	uint64_t syncookies_sent, syncookies_ok, syncookies_bad;
	uint64_t limit_half_open, limit_established, limit_table, nombuf;
	uint64_t retrans_segs, rto_expiries;
	uint32_t conns, half_open, established;
	/* intercepted opens (tcp_intercept) */
	uint32_t pending;            /* not yet established */
	uint64_t pending_opens, pending_accepted, pending_refused;
	uint64_t pending_limit_drops, pending_timeouts, pending_syn_absorbed;
};
void tcp_stack_stats(const struct tcp_stack *st, struct tcp_stack_stats *out);

struct tcp_tenant_stats {
	uint32_t half_open, established;
	uint64_t buffered; /* bytes in send, receive and out-of-order queues */
	uint64_t retrans_segs, resets, ooo_bytes;
	uint32_t pending;            /* intercepted opens not yet established */
	uint64_t pending_limit_drops, pending_timeouts;
};
int tcp_tenant_stats(const struct tcp_stack *st, uint16_t tenant,
		     struct tcp_tenant_stats *out);

/* For statistics, on the stack's own thread: the connection in table slot
 * idx (0..tcp_stack_max_conns()-1), or NULL when the slot is free.
 * tcp_conn_tenant() is the tenant a connection counts against. */
uint32_t tcp_stack_max_conns(const struct tcp_stack *st);
uint16_t tcp_stack_max_tenants(const struct tcp_stack *st);
const struct tcp_conn *tcp_conn_at(const struct tcp_stack *st, uint32_t idx);
uint16_t tcp_conn_tenant(const struct tcp_conn *c);

#endif
