/* SPDX-License-Identifier: BSD-3-Clause */
/* Private to the TCP engine (dataplane/tcp/) and its white-box tests
 * (tests/tcp/): everyone else uses tcp.h. */
#ifndef STRAIT_DATAPLANE_TCP_INTERNAL_H
#define STRAIT_DATAPLANE_TCP_INTERNAL_H

#ifndef STRAIT_TCP_INTERNAL
#error "tcp_internal.h is private to the TCP engine: include tcp.h (or use tcp_internal_dep in a white-box test)"
#endif

#include "tcp.h"

#include <rte_mbuf.h>

/* Every protocol limit in one place. */
enum tcp_limits {
	TCP_HDR_MIN = 20,
	TCP_HDR_MAX = 60,
	TCP_OPT_SPACE = 40,
	TCP_MSS_MIN = 536 - 20 * 0,  /* we never send smaller than 536 - options */
	TCP_MSS_FLOOR = 88,          /* peer MSS below this is raised to it */
	TCP_WSCALE_MAX = 14,         /* RFC 7323 2.3 */
	TCP_SACK_MAX_BLOCKS = 4,     /* in one received segment */
	TCP_SACK_SEND_BLOCKS = 3,    /* we send at most 3 (fits with timestamps) */
	TCP_SCOREBOARD = 16,         /* SACKed ranges remembered per connection */
	TCP_DUPTHRESH = 3,           /* RFC 5681, RFC 6675 */
	TCP_INIT_CWND_SEGS = 10,     /* RFC 6928 */
	TCP_PERSIST_MIN_US = 200000,
	TCP_PERSIST_MAX_US = 60000000,
	TCP_INVALID_ACK_MS = 500,     /* one reply per this to unacceptable pure ACKs */
	TCP_TX_BURST = 32,
	TCP_PAWS_IDLE_S = 24 * 24 * 3600, /* RFC 7323 5.5: 24 days */
	TCP_COOKIE_PERIOD_S = 64,     /* SYN cookie time slot */
	TCP_PACE_BURST_US = 250,      /* credit a paced flow may save up */
	TCP_PTO_MIN_US = 1000,        /* tail loss probe floor */
	TCP_PTO_ONE_SEG_US = 200000,  /* added when one segment is out (delayed ACK) */
	TCP_XMIT_LOG = 12,            /* send records per connection (RACK, RFC 8985) */
	TCP_QUICKACKS = 16,           /* segments ACKed at once after a hole is filled */
	TCP_SACK_COMPRESS = 16,       /* out-of-order segments of a burst one SACK covers */
};

#define SEQ_LT(a, b) ((int32_t)((uint32_t)(a) - (uint32_t)(b)) < 0)
#define SEQ_LEQ(a, b) ((int32_t)((uint32_t)(a) - (uint32_t)(b)) <= 0)
#define SEQ_GT(a, b) SEQ_LT(b, a)
#define SEQ_GEQ(a, b) SEQ_LEQ(b, a)
#define SEQ_MAX(a, b) (SEQ_GT(a, b) ? (a) : (b))
#define SEQ_MIN(a, b) (SEQ_LT(a, b) ? (a) : (b))

/* TCP header flags */
enum {
	TH_FIN = 0x01, TH_SYN = 0x02, TH_RST = 0x04, TH_PSH = 0x08,
	TH_ACK = 0x10, TH_URG = 0x20, TH_ECE = 0x40, TH_CWR = 0x80,
};

/* Connection flags */
enum {
	TF_APP_CLOSED = 1u << 0,   /* application released its handle */
	TF_ACK_NOW = 1u << 1,      /* send an ACK at the next output */
	TF_DELACK = 1u << 2,       /* an ACK is owed (delayed) */
	TF_FIN_QUEUED = 1u << 3,   /* application asked for FIN */
	TF_FIN_SENT = 1u << 4,
	TF_RCVD_FIN = 1u << 5,
	TF_TS = 1u << 6,           /* timestamps negotiated */
	TF_SACK = 1u << 7,         /* SACK negotiated */
	TF_WSCALE = 1u << 8,       /* window scaling negotiated */
	TF_WANT_WRITABLE = 1u << 9,/* a write was refused: send TCP_EV_WRITABLE */
	TF_IN_RECOVERY = 1u << 10,
	TF_RESET = 1u << 11,       /* reset seen: reads fail */
	TF_PASSIVE = 1u << 12,     /* came from a listener */
	TF_LISTENER = 1u << 13,
	TF_SYNCOOKIES = 1u << 14,  /* listener answers with cookies when full */
	TF_IN_TABLE = 1u << 15,
	TF_RTT_TIMING = 1u << 16,  /* rtt_seq is being timed (no timestamps) */
	TF_COUNTED_HALF = 1u << 17,
	TF_COUNTED_EST = 1u << 18,
	TF_NOTIFIED_CONN = 1u << 19,
	TF_TIMEDOUT = 1u << 20,
	TF_PERSIST = 1u << 21,     /* zero-window probing */
	TF_DEAD = 1u << 22,        /* freed; reaped when the engine call returns */
	TF_PROBE = 1u << 23,       /* t_rto is a tail loss probe (RFC 8985 7) */
	TF_PROBED = 1u << 24,      /* a probe went out; tlp_high marks its end */
	TF_OOO_FIN = 1u << 25,     /* a FIN arrived out of order at ooo_fin */
	TF_INTERCEPT = 1u << 26,   /* an intercepted flow's open: counts as pending */
	TF_PENDING = 1u << 27,     /* its SYN is held: no SYN-ACK until accepted */
	TF_RACK_REO = 1u << 28,    /* RACK.reordering_seen (RFC 8985 6.2) */
	TF_PRR_FIRST = 1u << 29,   /* recovery just began: one segment goes regardless */
	TF_RACK_VALID = 1u << 30,  /* RACK.xmit_ts is set (a segment was delivered) */
	TF_STARVED = 1u << 31,     /* on st->starved: tcp_poll() checks its room */
	TF_PROBE2 = 1u << 31,      /* the second probe is armed or went out */
};

/* One send record: [seq, seq + len) went out at ts (us, modulo 2^32) as
 * one burst, in time order in tcp_conn.xl[] (RFC 8985 needs each
 * segment's transmit time; a burst shares one clock reading). A record
 * RACK marked lost stays, flagged, until retransmitted or SACKed. */
/* XR_MERGED: two records joined by xl_room (tcp_rack.c): its time is its
 * later part's, so only its last byte gives an RTT sample */
enum { XR_RETRANS = 1u << 0, XR_LOST = 1u << 1, XR_MERGED = 1u << 2 };
#define TCP_XMIT_MAXLEN ((1u << 24) - 1) /* bytes one record covers */
struct tcp_xmit {
	uint32_t seq;
	uint32_t ts;
	uint32_t len : 24; /* a merged record may cover a whole window */
	uint32_t flags : 8;
};

/* Parsed TCP options of one segment. */
struct tcp_opts {
	uint16_t mss;
	uint8_t wscale;
	uint8_t nsack;
	bool has_mss, has_wscale, has_ts, sack_ok;
	uint32_t tsval, tsecr;
	uint32_t sack[TCP_SACK_MAX_BLOCKS][2];
};

/* A validated segment, in host order. */
struct tcp_seg {
	uint32_t seq, ack;
	uint16_t wnd;
	uint8_t flags;
	uint32_t len;      /* payload bytes */
	uint32_t payload_off; /* from the start of the mbuf data */
	struct tcp_opts opt;
	uint8_t af;
	struct tcp_addr src, dst;
	uint16_t sport, dport;
};

/* A FIFO of mbufs linked through m->next; each holds payload bytes only
 * (data_off at the first byte), pkt_len of the head is not used. */
struct mbuf_q {
	struct rte_mbuf *head, *tail;
	uint32_t bytes;
	uint32_t segs;
	/* Copy cursor: sending walks the send queue from where the last copy
	 * began, not from its head (a 16 MiB queue is ~8000 mbufs). head_pos
	 * and cur_pos count bytes since the queue was created. */
	uint64_t head_pos, cur_pos;
	struct rte_mbuf *cur;
};

struct tcp_tenant {
	uint32_t half_open, established;
	uint64_t buffered;
	uint64_t retrans_segs, resets, ooo_bytes;
	uint32_t pending;       /* intercepted opens not yet established */
	uint64_t pending_limit_drops, pending_timeouts;
	tcp_event_fn handler;   /* for intercepted connections (the channel) */
	void *handler_arg;
};

struct tcp_conn {
	/* identity */
	uint8_t af;
	uint8_t state;
	uint16_t tenant;
	uint16_t lport, rport; /* host order */
	struct tcp_addr laddr, raddr;
	uint32_t flags;
	uint32_t hnext; /* hash chain (index + 1, 0 = end) */
	uint32_t idx;
	struct tcp_conn *tnext, *tprev; /* on the timer list when any timer is armed */
	struct tcp_conn *znext;         /* on the reap list when dead */
	struct tcp_stack *st;
	void *user;
	tcp_event_fn handler;
	void *handler_arg;

	/* send sequence space */
	uint32_t iss, snd_una, snd_nxt, snd_max;
	uint32_t snd_wnd, max_snd_wnd;
	uint32_t snd_wl1, snd_wl2;
	uint16_t snd_mss;
	uint8_t snd_wscale, rcv_wscale;

	/* receive sequence space */
	uint32_t irs, rcv_nxt;
	uint32_t rcv_adv; /* right edge of the window we advertised */
	uint32_t ooo_fin; /* sequence of a FIN held until the data before it arrives */
	uint32_t segs_unacked; /* full segments since our last ACK */

	/* timestamps (RFC 7323) */
	uint32_t ts_recent;
	uint32_t invalid_ack_ms; /* when an unacceptable pure ACK was last answered (ms | 1; 0: never) */
	uint64_t ts_recent_us; /* when ts_recent was set */
	uint32_t last_ack_sent;

	/* RTT and retransmission (RFC 6298) */
	uint32_t srtt_us, rttvar_us, rto_us, min_rtt_us;
	uint32_t rtt_seq; uint64_t rtt_start_us;
	uint8_t retries;
	uint8_t persist_shift;
	uint16_t syn_mss;  /* the SYN's options, as offered (tcp_conn_syn_opts): */

	/* congestion control (RFC 5681, 6582, 6675) */
	uint32_t cwnd, ssthresh;
	uint32_t bytes_acked; /* congestion avoidance byte counting */
	uint32_t dupacks;
	uint32_t recover;    /* snd_max when recovery started */
	uint32_t rexmit_nxt; /* next hole byte to retransmit in recovery */
	uint32_t rexmit_inflight; /* retransmitted bytes still above snd_una */
	uint32_t sack_hi;    /* highest SACKed sequence (FACK) */
	uint32_t tlp_high;   /* SND.MAX when the last tail probe went out */
	uint32_t sacked_bytes;
	uint8_t nsb;
	uint32_t sb[TCP_SCOREBOARD][2]; /* sorted, disjoint SACKed ranges above snd_una */

	/* RACK-TLP (RFC 8985) and PRR (RFC 6937), for SACK connections */
	uint32_t rack_xmit_ts;   /* RACK.xmit_ts: sent time of the latest-sent delivered segment */
	uint32_t rack_end_seq;   /* RACK.end_seq */
	uint32_t rack_rtt_us;    /* RACK.rtt */
	uint32_t rack_fack;      /* RACK.fack: highest delivered sequence */
	uint32_t rack_dsack_seq; /* SND.MAX at the last reo_wnd_mult increase */
	uint8_t rack_reo_mult;   /* RACK.reo_wnd_mult (D-SACK driven) */
	uint8_t rack_reo_persist;/* recoveries left before reo_wnd_mult resets */
	uint8_t nxl;
	uint8_t quickack;        /* receiver: segments still to ACK at once */
	uint32_t lost_bytes;     /* marked lost, not SACKed, not resent: out of the pipe */
	uint32_t prr_delivered, prr_out, prr_recoverfs;
	uint64_t t_rack;         /* reorder timer; t_rto holds the earlier of both */
	uint64_t t_rto_real;     /* RTO or probe deadline while t_rack is earlier */
	struct tcp_xmit xl[TCP_XMIT_LOG];

	/* timers: absolute times in us, 0 = off */
	uint64_t t_rto, t_delack, t_persist, t_tw, t_pace;

	/* CUBIC (RFC 9438) and pacing */
	uint64_t cubic_epoch_us;  /* start of the current growth epoch, 0 = none */
	uint32_t cubic_wmax;      /* bytes, window before the last reduction */
	uint32_t cubic_origin;    /* bytes, plateau of the current curve */
	uint32_t cubic_k_us;      /* time to reach the plateau */
	double cubic_west;        /* Reno-friendly estimate, bytes */
	double cubic_acc;         /* fractional growth not yet applied, bytes */
	uint64_t pace_next_us;    /* earliest time for the next paced segment */
	double pace_frac;         /* sub-microsecond remainder */

	/* queues */
	struct mbuf_q sndq;  /* bytes from snd_una (excluding SYN/FIN) */
	struct mbuf_q rcvq;  /* in-order bytes not yet read */
	struct mbuf_q oooq;  /* sorted by sequence; seq kept in m->udata64 style via dynfield */
	uint32_t rcv_dsack[2]; /* a duplicate range to report (RFC 2883), 0/0 none */
	uint8_t nrsb;
	int8_t syn_wscale;  /* (the rest of the SYN's options, in the padding) */
	bool syn_sack_ok, syn_ts;
	uint32_t rsb[TCP_SACK_SEND_BLOCKS][2]; /* blocks we report, most recent first */

	struct tcp_conn_stats stats;
};

struct tcp_listener {
	uint8_t af;
	bool used;
	uint16_t port, tenant;
	uint32_t flags;
	struct tcp_addr addr;
	tcp_event_fn fn;
	void *arg;
};

enum { TCP_MAX_LISTENERS = 16 };

struct tcp_stack {
	const struct tcp_gate *gate; /* tcp_stack_set_gate(), NULL: none */
	void *gate_ctx;
	struct tcp_config cfg;
	struct tcp_ops ops;
	void *ctx;
	struct rte_mempool *mp;
	struct tcp_conn *conns;     /* cfg.max_conns */
	uint32_t *buckets;          /* index + 1 */
	uint32_t nbuckets;          /* power of two */
	uint32_t free_head;         /* free list through hnext, index + 1 */
	struct tcp_conn *timers;    /* connections with an armed timer */
	uint64_t next_due;          /* no timer expires before this (0: unknown) */
	struct tcp_tenant *tenants;
	struct tcp_listener listeners[TCP_MAX_LISTENERS];
	uint64_t now;               /* cached ops->now_us() for this call */
	unsigned depth;             /* nesting of engine calls (events call back in) */
	struct tcp_conn *zombies;   /* freed during this call, reaped on return */
	/* Connections a write refused (TF_STARVED), by index: the room they
	 * wait for may come from other connections (the tenant's budget, the
	 * pool), which sends them no ACK; tcp_poll() looks every millisecond. */
	uint32_t *starved;
	uint32_t n_starved, starved_cap;
	uint64_t starved_due;
	uint64_t ca_window_start;
	uint32_t ca_count;          /* challenge ACKs in the current second */
	uint64_t hash_key[2];
	uint64_t isn_key[2];
	uint64_t cookie_key[2];
	uint16_t ntx;
	struct rte_mbuf *tx[TCP_TX_BURST];
	struct tcp_stack_stats stats;
	uint32_t half_open, established, nconns;
	uint32_t pending;           /* intercepted opens not yet established */
};

/* Sequence number of a segment held in the out-of-order queue. */
static inline uint32_t *mbuf_seq(struct rte_mbuf *m)
{
	return (uint32_t *)&m->hash.usr;
}

/* tcp_stack.c: the call scope. Every public entry point that works on a
 * stack opens one with TCP_SCOPE(st) (a declaration, at the top of a
 * block). It enters the stack there and leaves it when the block ends, by
 * whichever return (the cleanup attribute of GCC and Clang), so no path can
 * leave the stack entered: a stack left entered stops its clock, never
 * flushes its output and never reaps its dead connections. Scopes nest
 * (events call back in): the clock is read once at the outermost, and
 * connections freed meanwhile are only marked dead and reaped when the
 * outermost ends, so no caller up the stack holds a dangling pointer. */
struct tcp_scope {
	struct tcp_stack *st;
};
struct tcp_scope tcp_scope_enter(struct tcp_stack *st);
void tcp_scope_leave(struct tcp_scope *s);
#define TCP_SCOPE(st) \
	struct tcp_scope tcp_scope_ __attribute__((cleanup(tcp_scope_leave), unused)) = \
		tcp_scope_enter(st)

/* tcp_seq.c */
bool tcp_seq_acceptable(uint32_t rcv_nxt, uint32_t rcv_wnd, uint32_t seq,
			uint32_t len);
uint64_t tcp_siphash(const uint64_t key[2], const void *data, size_t len);
uint32_t tcp_isn(struct tcp_stack *st, const struct tcp_conn *c);

/* tcp_options.c */
bool tcp_parse_options(const uint8_t *p, unsigned len, bool syn,
		       struct tcp_opts *o);
/* The payload a data segment sent now may carry: snd_mss less the SACK
 * blocks the segment will carry (so no segment exceeds the path MTU). */
uint32_t tcp_data_mss(const struct tcp_conn *c);
unsigned tcp_build_options(const struct tcp_conn *c, uint8_t flags,
			   uint8_t *p);

/* tcp_table.c */
bool tcp_addr_eq(uint8_t af, const struct tcp_addr *a, const struct tcp_addr *b);
struct tcp_conn *tcp_find(struct tcp_stack *st, uint8_t af,
			  const struct tcp_addr *l, uint16_t lport,
			  const struct tcp_addr *r, uint16_t rport);
struct tcp_conn *tcp_lookup(struct tcp_stack *st, const struct tcp_seg *s);
struct tcp_conn *tcp_conn_alloc(struct tcp_stack *st, uint8_t af,
				const struct tcp_addr *laddr, uint16_t lport,
				const struct tcp_addr *raddr, uint16_t rport,
				uint16_t tenant);
void tcp_conn_free(struct tcp_stack *st, struct tcp_conn *c);
void tcp_conn_reap(struct tcp_stack *st, struct tcp_conn *c); /* a dead one */
uint8_t tcp_our_wscale(const struct tcp_stack *st);
void tcp_set_state(struct tcp_conn *c, uint8_t state);
bool tcp_may_open(struct tcp_stack *st, uint16_t tenant, bool half);
bool tcp_tenant_buffer_ok(struct tcp_conn *c, uint32_t add);
void tcp_account(struct tcp_conn *c, int64_t delta);
void tcp_notify(struct tcp_conn *c, uint32_t ev);
void tcp_conn_reset(struct tcp_conn *c, uint32_t ev); /* to CLOSED */

/* tcp_mbufq.c */
void mq_push(struct mbuf_q *q, struct rte_mbuf *m);
void mq_free(struct mbuf_q *q);
uint32_t mq_drop_front(struct mbuf_q *q, uint32_t n);
uint32_t mq_copy(struct mbuf_q *q, uint32_t off, void *dst, uint32_t n);

/* tcp_listen.c */
const struct tcp_listener *tcp_find_listener(struct tcp_stack *st,
					     const struct tcp_seg *s);

/* tcp_input.c */
bool tcp_parse(struct tcp_stack *st, struct rte_mbuf *m, struct tcp_seg *s);
void tcp_negotiate(struct tcp_conn *c, const struct tcp_seg *s);
void tcp_established(struct tcp_conn *c);
void tcp_conn_closed(struct tcp_conn *c); /* orderly end: notify or free */
bool tcp_time_wait_reuse(struct tcp_conn *c, const struct tcp_seg *s);
bool tcp_conn_input(struct tcp_stack *st, struct tcp_conn *c,
		    struct rte_mbuf *m, struct tcp_seg *s);

/* tcp_syncookie.c (the MSS table and TSval pieces, for tests too) */
unsigned tcp_cookie_mss_index(uint16_t mss);
uint16_t tcp_cookie_mss(unsigned idx);
uint32_t tcp_cookie_tsval(uint32_t now_ms, uint8_t bits);
void tcp_cookie_send(struct tcp_stack *st, const struct tcp_seg *s);
struct tcp_conn *tcp_cookie_open(struct tcp_stack *st,
				 const struct tcp_listener *l,
				 const struct tcp_seg *s);

/* tcp_pending.c */
bool tcp_may_pend(struct tcp_stack *st, uint16_t tenant);
void tcp_pending_input(struct tcp_conn *c, struct rte_mbuf *m, const struct tcp_seg *s);
void tcp_pending_expired(struct tcp_conn *c);

/* tcp_output.c */
void tcp_output(struct tcp_conn *c);
/* a retransmitted segment of `bytes` payload, in the connection's, the
 * stack's and the tenant's counters */
void tcp_count_retrans(struct tcp_conn *c, uint32_t bytes);
uint32_t tcp_ack_seq(const struct tcp_conn *c);
void tcp_send_ack(struct tcp_conn *c);
void tcp_fast_retransmit(struct tcp_conn *c);
void tcp_send_segment(struct tcp_conn *c, uint32_t seq, uint32_t len,
		      uint8_t flags);
void tcp_send_rst_reply(struct tcp_stack *st, const struct tcp_seg *s);
/* ts: the TSval to send (with the options in its low bits), or -1 for no
 * timestamps; wscale: ours, or -1 for none. */
void tcp_send_synack_cookie(struct tcp_stack *st, const struct tcp_seg *s,
			    uint32_t isn, uint16_t mss, int64_t ts, bool sack,
			    int wscale);
void tcp_flush(struct tcp_stack *st);
uint32_t tcp_rcv_window(const struct tcp_conn *c);
bool tcp_challenge_ack(struct tcp_conn *c);

/* tcp_timer.c */
void tcp_rtt_sample(struct tcp_conn *c, uint32_t rtt_us);
void tcp_arm_rto(struct tcp_conn *c);
void tcp_arm_sent(struct tcp_conn *c);
void tcp_rack_timer(struct tcp_conn *c, uint64_t due); /* 0 stops */
void tcp_timers_run(struct tcp_conn *c);
void tcp_enter_time_wait(struct tcp_conn *c);
void tcp_timer_update(struct tcp_conn *c);
void tcp_timer_unlink(struct tcp_stack *st, struct tcp_conn *c);

/* tcp_cc.c */
void tcp_cc_init(struct tcp_conn *c);
void tcp_cc_ack(struct tcp_conn *c, uint32_t acked);
void tcp_cc_enter_recovery(struct tcp_conn *c);
void tcp_cc_exit_recovery(struct tcp_conn *c);
void tcp_cc_rto(struct tcp_conn *c);
uint32_t tcp_cwnd_cap(const struct tcp_conn *c);
uint32_t tcp_flight(const struct tcp_conn *c);
uint32_t tcp_pipe(const struct tcp_conn *c);
uint32_t tcp_cc_inflight(const struct tcp_conn *c); /* what the window limits */

/* tcp_rate.c (Transport = rate: a granted rate, no model) */
bool tcp_rate_on(const struct tcp_conn *c);
uint32_t tcp_rate_floor(const struct tcp_conn *c);
void tcp_rate_hold(struct tcp_conn *c);

/* tcp_bbr.c */
bool tcp_bbr_on(const struct tcp_conn *c);
void tcp_bbr_ack(struct tcp_conn *c, uint32_t acked);
void tcp_bbr_rtt(struct tcp_conn *c, uint32_t r);
uint32_t tcp_bbr_target(const struct tcp_conn *c);
double tcp_bbr_pacing_rate(const struct tcp_conn *c);
bool tcp_bbr_startup(const struct tcp_conn *c);

/* tcp_cubic.c */
void tcp_cubic_ack(struct tcp_conn *c, uint32_t acked);
uint32_t tcp_cubic_reduce(struct tcp_conn *c);

/* tcp_pacing.c */
bool tcp_pace_wait(struct tcp_conn *c);
void tcp_pace_sent(struct tcp_conn *c, uint32_t len);
bool tcp_gate_held(struct tcp_conn *c);

/* tcp_sack.c */
void tcp_sack_update(struct tcp_conn *c, const struct tcp_opts *o);
void tcp_sack_prune(struct tcp_conn *c);
bool tcp_sack_next_hole(const struct tcp_conn *c, uint32_t from,
			uint32_t *start, uint32_t *len);
uint32_t tcp_sacked_in(const struct tcp_conn *c, uint32_t s, uint32_t e);

/* tcp_rack.c (SACK connections) */
void tcp_rack_sent(struct tcp_conn *c, uint32_t seq, uint32_t len, bool rexmit);
void tcp_rack_ack(struct tcp_conn *c, const struct tcp_opts *o, uint32_t old_una,
		  uint32_t delivered);
void tcp_rack_timeout(struct tcp_conn *c);
void tcp_rack_reset(struct tcp_conn *c);
void tcp_rack_dsack(struct tcp_conn *c);
bool tcp_lost_next(const struct tcp_conn *c, uint32_t *start, uint32_t *len);
void tcp_lost_sent(struct tcp_conn *c, uint32_t start, uint32_t len);
void tcp_lost_recount(struct tcp_conn *c);
bool tcp_retrans_in(const struct tcp_conn *c, uint32_t s, uint32_t e);

/* tcp_prr.c */
void tcp_prr(struct tcp_conn *c, uint32_t delivered);

#endif
