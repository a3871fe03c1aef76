/* SPDX-License-Identifier: BSD-3-Clause */
/* RFC 9293 state machine from crafted segments with an injected clock:
 * opens, closes, TIME-WAIT, resets with RFC 5961, ISNs, PAWS, wrap. */
#include <criterion/criterion.h>
#include <string.h>

#include "harness.h"

static struct harness H;
static struct harness *h = &H;

static void fini(void)
{
	h_fini(h);
}

static unsigned syn_opts(uint8_t *o, bool ts)
{
	unsigned n = o_mss(o, 1460);
	n += o_sackok(o + n);
	n += o_ws(o + n, 7);
	if (ts)
		n += o_ts(o + n, 1000, 0);
	return n;
}

static struct tcp_stack_stats stats(void)
{
	struct tcp_stack_stats s;
	tcp_stack_stats(h->st, &s);
	return s;
}

TestSuite(state, .fini = fini);

Test(state, passive_open_ipv4)
{
	h_init(h, NULL, TCP_AF_INET);
	uint8_t o[40];
	unsigned n = syn_opts(o, true);
	cr_assert_eq(tcp_listen(h->st, TCP_AF_INET, &h->local, 9, 0, 0), 0);
	h_send(h, 5000, 0, TH_SYN, 65535, o, n, NULL, 0);
	struct h_seg s;
	h_out(h, 0, &s);
	cr_assert_eq(s.flags, TH_SYN | TH_ACK);
	cr_assert_eq(s.ack, 5001);
	cr_assert(s.csum_ok);
	cr_assert(s.opt.has_mss && s.opt.mss == 1460);
	cr_assert(s.opt.sack_ok && s.opt.has_ts && s.opt.has_wscale);
	cr_assert_eq(s.opt.tsecr, 1000);
	cr_assert_eq(stats().half_open, 1);
	cr_assert_eq(h->nevents, 0, "no event before the handshake completes");
	uint32_t iss = s.seq;
	h_clear(h);
	uint8_t t[12];
	h_send(h, 5001, iss + 1, TH_ACK, 512, t, o_ts(t, 1001, s.opt.tsval), NULL, 0);
	cr_assert(h->events & TCP_EV_CONNECTED);
	cr_assert_eq(tcp_state(h->last_conn), TCP_ESTABLISHED);
	cr_assert_eq(stats().half_open, 0);
	cr_assert_eq(stats().established, 1);
	cr_assert_eq(h->last_conn->snd_wnd, 512u << 7, "window scaled after SYN");
	cr_assert_eq(h->nout, 0);
}

Test(state, passive_open_ipv6)
{
	h_init(h, NULL, TCP_AF_INET6);
	uint32_t iss;
	uint8_t o[40];
	struct tcp_conn *c = h_accept(h, 77, o, syn_opts(o, false), &iss);
	cr_assert_eq(tcp_state(c), TCP_ESTABLISHED);
	cr_assert_eq(c->snd_mss, 1440, "IPv6 MSS");
	cr_assert(!(c->flags & TF_TS));
}

Test(state, active_open)
{
	h_init(h, NULL, TCP_AF_INET);
	struct tcp_conn *c = tcp_connect(h->st, TCP_AF_INET, &h->local, h->lport,
					 &h->remote, h->rport, 0);
	cr_assert_not_null(c);
	cr_assert_eq(tcp_state(c), TCP_SYN_SENT);
	struct h_seg s;
	h_out(h, 0, &s);
	cr_assert_eq(s.flags, TH_SYN);
	cr_assert(s.csum_ok && s.opt.has_mss && s.opt.sack_ok && s.opt.has_ts &&
		  s.opt.has_wscale);
	uint32_t iss = s.seq;
	h_clear(h);
	h->now += 3000; /* 3 ms RTT */
	uint8_t o[40];
	h_send(h, 9000, iss + 1, TH_SYN | TH_ACK, 65535, o, syn_opts(o, true), NULL, 0);
	cr_assert_eq(tcp_state(c), TCP_ESTABLISHED);
	cr_assert(h->events & TCP_EV_CONNECTED);
	h_out(h, 0, &s);
	cr_assert_eq(s.flags, TH_ACK);
	cr_assert_eq(s.seq, iss + 1);
	cr_assert_eq(s.ack, 9001);
	struct tcp_conn_stats cs;
	tcp_conn_stats(c, &cs);
	cr_assert_eq(cs.srtt_us, 3000, "handshake RTT measured: %u", cs.srtt_us);
}

Test(state, active_open_refused)
{
	h_init(h, NULL, TCP_AF_INET);
	struct tcp_conn *c = tcp_connect(h->st, TCP_AF_INET, &h->local, h->lport,
					 &h->remote, h->rport, 0);
	struct h_seg s;
	h_out(h, 0, &s);
	h_clear(h);
	/* RST with an unacceptable ACK: ignored (RFC 9293 3.10.7.3) */
	h_send(h, 0, s.seq + 5, TH_RST | TH_ACK, 0, NULL, 0, NULL, 0);
	cr_assert_eq(tcp_state(c), TCP_SYN_SENT);
	/* RST without ACK: ignored */
	h_send(h, 0, 0, TH_RST, 0, NULL, 0, NULL, 0);
	cr_assert_eq(tcp_state(c), TCP_SYN_SENT);
	h_send(h, 0, s.seq + 1, TH_RST | TH_ACK, 0, NULL, 0, NULL, 0);
	cr_assert(h->events & TCP_EV_RESET);
	cr_assert_eq(tcp_state(c), TCP_CLOSED);
	char b[4];
	cr_assert_eq(tcp_read(c, b, 4), -1);
	tcp_close(c);
	cr_assert_eq(stats().conns, 0);
}

Test(state, syn_sent_bad_ack_answered_with_rst)
{
	h_init(h, NULL, TCP_AF_INET);
	struct tcp_conn *c = tcp_connect(h->st, TCP_AF_INET, &h->local, h->lport,
					 &h->remote, h->rport, 0);
	struct h_seg s;
	h_out(h, 0, &s);
	h_clear(h);
	h_send(h, 100, s.seq + 1000, TH_SYN | TH_ACK, 100, NULL, 0, NULL, 0);
	h_out(h, 0, &s);
	cr_assert_eq(s.flags, TH_RST);
	cr_assert_eq(s.seq, s.seq);
	cr_assert_eq(tcp_state(c), TCP_SYN_SENT);
}

Test(state, syn_retransmitted_then_timeout)
{
	struct tcp_config cfg = { .syn_retries = 2 };
	h_init(h, &cfg, TCP_AF_INET);
	struct tcp_conn *c = tcp_connect(h->st, TCP_AF_INET, &h->local, h->lport,
					 &h->remote, h->rport, 0);
	h_clear(h);
	h_advance(h, 999999);
	cr_assert_eq(h->nout, 0, "no retransmission before the initial RTO (1 s)");
	h_advance(h, 1);
	cr_assert_eq(h->nout, 1, "SYN retransmitted at 1 s");
	h_advance(h, 2000000);
	cr_assert_eq(h->nout, 2, "then at +2 s (backoff)");
	h_advance(h, 4000000);
	cr_assert(h->events & TCP_EV_TIMEOUT);
	cr_assert_eq(tcp_state(c), TCP_CLOSED);
	tcp_close(c);
}

Test(state, simultaneous_open)
{
	h_init(h, NULL, TCP_AF_INET);
	struct tcp_conn *c = tcp_connect(h->st, TCP_AF_INET, &h->local, h->lport,
					 &h->remote, h->rport, 0);
	struct h_seg s;
	h_out(h, 0, &s);
	uint32_t iss = s.seq;
	h_clear(h);
	uint8_t o[40];
	h_send(h, 7000, 0, TH_SYN, 65535, o, syn_opts(o, false), NULL, 0);
	cr_assert_eq(tcp_state(c), TCP_SYN_RECEIVED);
	h_out(h, 0, &s);
	cr_assert_eq(s.flags, TH_SYN | TH_ACK);
	cr_assert_eq(s.seq, iss, "SYN-ACK repeats our ISN");
	cr_assert_eq(s.ack, 7001);
	h_clear(h);
	h_send(h, 7000, iss + 1, TH_SYN | TH_ACK, 65535, o, syn_opts(o, false), NULL, 0);
	cr_assert_eq(tcp_state(c), TCP_ESTABLISHED);
	cr_assert(h->events & TCP_EV_CONNECTED);
}

static struct tcp_conn *est(uint32_t *iss, bool ts)
{
	uint8_t o[40];
	return h_accept(h, 1000, o, syn_opts(o, ts), iss);
}

Test(state, active_close_through_time_wait)
{
	h_init(h, NULL, TCP_AF_INET);
	uint32_t iss;
	struct tcp_conn *c = est(&iss, false);
	cr_assert_eq(tcp_shutdown(c), 0);
	cr_assert_eq(tcp_state(c), TCP_FIN_WAIT_1);
	struct h_seg s;
	h_out(h, 0, &s);
	cr_assert_eq(s.flags, TH_FIN | TH_ACK);
	cr_assert_eq(s.seq, iss + 1);
	h_clear(h);
	h_send(h, 1001, iss + 2, TH_ACK, 1000, NULL, 0, NULL, 0);
	cr_assert_eq(tcp_state(c), TCP_FIN_WAIT_2);
	h_send(h, 1001, iss + 2, TH_FIN | TH_ACK, 1000, NULL, 0, NULL, 0);
	cr_assert_eq(tcp_state(c), TCP_TIME_WAIT);
	cr_assert(h->events & TCP_EV_PEER_FIN);
	h_out(h, 0, &s);
	cr_assert_eq(s.flags, TH_ACK);
	cr_assert_eq(s.ack, 1002);
	h_clear(h);
	/* a retransmitted FIN is ACKed again */
	h_advance(h, 30000000);
	h_send(h, 1001, iss + 2, TH_FIN | TH_ACK, 1000, NULL, 0, NULL, 0);
	h_out(h, 0, &s);
	cr_assert_eq(s.ack, 1002);
	tcp_close(c);
	cr_assert_eq(stats().conns, 1, "held in TIME-WAIT");
	h_advance(h, 59000000);
	cr_assert_eq(stats().conns, 1, "2 MSL restarted by the FIN");
	h_advance(h, 1000001);
	cr_assert_eq(stats().conns, 0, "freed after TIME-WAIT");
}

Test(state, passive_close)
{
	h_init(h, NULL, TCP_AF_INET6);
	uint32_t iss;
	struct tcp_conn *c = est(&iss, true);
	uint8_t t[12];
	h_send(h, 1001, iss + 1, TH_FIN | TH_ACK, 1000, t, o_ts(t, 2000, 0), NULL, 0);
	cr_assert_eq(tcp_state(c), TCP_CLOSE_WAIT);
	cr_assert(h->events & TCP_EV_PEER_FIN);
	cr_assert(tcp_peer_closed(c));
	struct h_seg s;
	h_out(h, 0, &s);
	cr_assert_eq(s.ack, 1002);
	h_clear(h);
	tcp_close(c); /* handle released */
	h_out(h, 0, &s);
	cr_assert_eq(s.flags, TH_FIN | TH_ACK);
	h_send(h, 1002, iss + 2, TH_ACK, 1000, t, o_ts(t, 2001, 0), NULL, 0);
	cr_assert_eq(stats().conns, 0, "LAST-ACK -> CLOSED frees");
}

Test(state, simultaneous_close)
{
	h_init(h, NULL, TCP_AF_INET);
	uint32_t iss;
	struct tcp_conn *c = est(&iss, false);
	tcp_shutdown(c);
	h_clear(h);
	/* the peer's FIN crosses ours: it does not ACK our FIN */
	h_send(h, 1001, iss + 1, TH_FIN | TH_ACK, 1000, NULL, 0, NULL, 0);
	cr_assert_eq(tcp_state(c), TCP_CLOSING);
	struct h_seg s;
	h_out(h, 0, &s);
	cr_assert_eq(s.ack, 1002);
	h_send(h, 1002, iss + 2, TH_ACK, 1000, NULL, 0, NULL, 0);
	cr_assert_eq(tcp_state(c), TCP_TIME_WAIT);
}

Test(state, fin_ack_together_in_fin_wait_1)
{
	h_init(h, NULL, TCP_AF_INET);
	uint32_t iss;
	struct tcp_conn *c = est(&iss, false);
	tcp_shutdown(c);
	h_send(h, 1001, iss + 2, TH_FIN | TH_ACK, 1000, NULL, 0, NULL, 0);
	cr_assert_eq(tcp_state(c), TCP_TIME_WAIT);
}

Test(state, time_wait_reused_by_higher_syn)
{
	h_init(h, NULL, TCP_AF_INET);
	uint32_t iss;
	struct tcp_conn *c = est(&iss, false);
	tcp_shutdown(c);
	h_send(h, 1001, iss + 2, TH_FIN | TH_ACK, 1000, NULL, 0, NULL, 0);
	cr_assert_eq(tcp_state(c), TCP_TIME_WAIT);
	tcp_close(c);
	h_clear(h);
	/* an old SYN (lower sequence) is answered as a SYN in TIME-WAIT */
	h_send(h, 500, 0, TH_SYN, 1000, NULL, 0, NULL, 0);
	cr_assert_eq(stats().conns, 1);
	h_clear(h);
	h_send(h, 100000, 0, TH_SYN, 1000, NULL, 0, NULL, 0);
	struct h_seg s;
	h_out(h, 0, &s);
	cr_assert_eq(s.flags, TH_SYN | TH_ACK);
	cr_assert_eq(s.ack, 100001);
	cr_assert_eq(stats().half_open, 1);
}

Test(state, rst_exact_resets_in_window_challenges_outside_ignored)
{
	h_init(h, NULL, TCP_AF_INET);
	uint32_t iss;
	struct tcp_conn *c = est(&iss, false);
	/* outside the window: silently dropped */
	h_send(h, 1001 + 10000000, 0, TH_RST, 0, NULL, 0, NULL, 0);
	cr_assert_eq(h->nout, 0);
	cr_assert_eq(tcp_state(c), TCP_ESTABLISHED);
	/* in the window but not RCV.NXT: challenge ACK (RFC 5961 3.2) */
	h_send(h, 1001 + 100, 0, TH_RST, 0, NULL, 0, NULL, 0);
	cr_assert_eq(tcp_state(c), TCP_ESTABLISHED);
	struct h_seg s;
	h_out(h, 0, &s);
	cr_assert_eq(s.flags, TH_ACK);
	cr_assert_eq(s.seq, iss + 1);
	cr_assert_eq(s.ack, 1001);
	h_clear(h);
	/* exactly RCV.NXT: reset */
	h_send(h, 1001, 0, TH_RST, 0, NULL, 0, NULL, 0);
	cr_assert(h->events & TCP_EV_RESET);
	cr_assert_eq(tcp_state(c), TCP_CLOSED);
	cr_assert_eq(h->nout, 0);
	struct tcp_tenant_stats ts;
	tcp_tenant_stats(h->st, 0, &ts);
	cr_assert_eq(ts.resets, 1);
	tcp_close(c);
}

Test(state, syn_in_established_gets_challenge_ack)
{
	h_init(h, NULL, TCP_AF_INET);
	uint32_t iss;
	struct tcp_conn *c = est(&iss, false);
	h_send(h, 1001 + 5, 0, TH_SYN, 1000, NULL, 0, NULL, 0);   /* in window */
	h_send(h, 1001 - 50000, 0, TH_SYN, 1000, NULL, 0, NULL, 0); /* outside */
	cr_assert_eq(tcp_state(c), TCP_ESTABLISHED, "no reset from a SYN");
	cr_assert_eq(h->nout, 2);
	struct h_seg s;
	h_out(h, 0, &s);
	cr_assert_eq(s.flags, TH_ACK);
	cr_assert_eq(s.ack, 1001);
	cr_assert_eq(stats().challenge_acks, 1);
}

Test(state, challenge_acks_rate_limited)
{
	struct tcp_config cfg = { .challenge_ack_per_s = 3 };
	h_init(h, &cfg, TCP_AF_INET);
	uint32_t iss;
	est(&iss, false);
	for (int i = 0; i < 5; i++)
		h_send(h, 1001 + 10 + (uint32_t)i, 0, TH_RST, 0, NULL, 0, NULL, 0);
	cr_assert_eq(h->nout, 3);
	cr_assert_eq(stats().challenge_ack_limited, 2);
	h_advance(h, 1000000);
	h_send(h, 1001 + 10, 0, TH_RST, 0, NULL, 0, NULL, 0);
	cr_assert_eq(h->nout, 4, "budget renewed after a second");
}

Test(state, ack_beyond_snd_nxt_challenged_and_dropped)
{
	h_init(h, NULL, TCP_AF_INET);
	uint32_t iss;
	struct tcp_conn *c = est(&iss, false);
	h_send(h, 1001, iss + 1 + 5000, TH_ACK, 1000, NULL, 0, "abc", 3);
	cr_assert_eq(tcp_readable(c), 0, "segment discarded (RFC 5961 5.2)");
	cr_assert_eq(h->nout, 1);
	cr_assert_eq(stats().challenge_acks, 1);
	/* too old: below SND.UNA - MAX.SND.WND */
	h_clear(h);
	h_send(h, 1001, iss + 1 - 0x10000000u, TH_ACK, 1000, NULL, 0, "abc", 3);
	cr_assert_eq(tcp_readable(c), 0);
	cr_assert_eq(h->nout, 1);
}

Test(state, unacceptable_segment_gets_ack)
{
	h_init(h, NULL, TCP_AF_INET);
	uint32_t iss;
	struct tcp_conn *c = est(&iss, false);
	h_send(h, 1001 - 100, iss + 1, TH_ACK, 1000, NULL, 0, "old", 3);
	struct h_seg s;
	h_out(h, 0, &s);
	cr_assert_eq(s.ack, 1001);
	cr_assert_eq(tcp_readable(c), 0);
	cr_assert_eq(stats().dropped_seq, 1);
}

/* After an RTO snd_nxt goes back to snd_una; a pure ACK still carries the
 * next new sequence number (snd_max), as BSD does: the peer may hold every
 * byte already, and an ACK with an old sequence number is unacceptable to
 * it (its reply, unacceptable to us when we are in the same state, is the
 * ACK war of two ends whose RTOs fired at once on a stalled host). */
Test(state, pure_ack_after_rto_carries_snd_max)
{
	h_init(h, NULL, TCP_AF_INET);
	uint32_t iss;
	struct tcp_conn *c = est(&iss, false);
	static uint8_t buf[4000];
	cr_assert_eq(tcp_write(c, buf, sizeof(buf)), (long)sizeof(buf));
	h_advance(h, 0); /* sent */
	cr_assert_eq(c->snd_max, iss + 1 + (uint32_t)sizeof(buf));
	/* a tail loss probe first, then the RTO: go back to snd_una */
	for (int i = 0; i < 10 && c->snd_nxt == c->snd_max; i++)
		h_advance(h, 500000);
	cr_assert_neq(c->snd_nxt, c->snd_max, "rolled back: una %u nxt %u max %u rto %u cwnd %u", c->snd_una - iss, c->snd_nxt - iss, c->snd_max - iss, c->rto_us, c->cwnd);
	h_clear(h);
	/* out of order: answered at once with a pure duplicate ACK */
	h_send(h, 1001 + 100, iss + 1, TH_ACK, 1000, NULL, 0, "abc", 3);
	cr_assert_eq(h->nout, 1);
	struct h_seg s;
	h_out(h, 0, &s);
	cr_assert_eq(s.len, 0);
	cr_assert_eq(s.seq, iss + 1 + (uint32_t)sizeof(buf), "seq %u, snd_max %u",
		     s.seq - iss, (uint32_t)sizeof(buf) + 1);
	cr_assert_eq(s.ack, 1001);
}

/* A zero-window probe moves snd_max one byte past the peer's window; a
 * pure ACK then carries the window's right edge, which a receiver with a
 * zero window accepts (RCV.NXT), not snd_max. */
Test(state, pure_ack_within_zero_window)
{
	h_init(h, NULL, TCP_AF_INET);
	uint32_t iss;
	struct tcp_conn *c = est(&iss, false);
	static uint8_t buf[3000];
	/* all of it acknowledged with a zero window: the probe byte follows */
	cr_assert_eq(tcp_write(c, buf, 1000), 1000);
	h_advance(h, 0);
	h_send(h, 1001, iss + 1001, TH_ACK, 0, NULL, 0, NULL, 0);
	cr_assert_eq(tcp_write(c, buf, sizeof(buf)), (long)sizeof(buf));
	h_advance(h, 1000000);
	cr_assert_eq(c->snd_max, iss + 1002, "one probe byte beyond the window");
	h_clear(h);
	h_send(h, 1001 + 100, iss + 1001, TH_ACK, 0, NULL, 0, "abc", 3);
	struct h_seg s;
	h_out(h, 0, &s);
	cr_assert_eq(s.len, 0);
	cr_assert_eq(s.seq, iss + 1001, "the right edge of a zero window");
}

/* An unacceptable segment without data is answered once per 500 ms per
 * connection (Linux: tcp_invalid_ratelimit); data always is (the peer's
 * recovery needs its duplicate ACKs and D-SACKs). Two ends that each find
 * the other's pure ACKs unacceptable no longer ACK each other at line rate. */
Test(state, ack_war_damped)
{
	h_init(h, NULL, TCP_AF_INET);
	uint32_t iss;
	est(&iss, true);
	uint8_t t[12];
	h_clear(h);
	for (int i = 0; i < 10; i++)
		h_send(h, 1001 - 100, iss + 1, TH_ACK, 1000, NULL, 0, NULL, 0);
	cr_assert_eq(h->nout, 1, "one ACK for ten unacceptable pure ACKs: %u", h->nout);
	cr_assert_eq(stats().invalid_ack_limited, 9);
	/* PAWS: the same budget */
	h_send(h, 1001, iss + 1, TH_ACK, 1000, t, o_ts(t, 5000, 0), NULL, 0);
	for (int i = 0; i < 5; i++)
		h_send(h, 1001, iss + 1, TH_ACK, 1000, t, o_ts(t, 4000, 0), NULL, 0);
	cr_assert_eq(h->nout, 1);
	cr_assert_eq(stats().invalid_ack_limited, 14);
	h_clear(h);
	for (int i = 0; i < 3; i++)
		h_send(h, 1001 - 100, iss + 1, TH_ACK, 1000, t, o_ts(t, 5000, 0), "old", 3);
	cr_assert_eq(h->nout, 3, "duplicate data: every one ACKed");
	h_advance(h, 500000);
	h_clear(h);
	h_send(h, 1001 - 100, iss + 1, TH_ACK, 1000, NULL, 0, NULL, 0);
	cr_assert_eq(h->nout, 1, "the budget renewed after 500 ms");
}

/* The same with a clock past 2^31 ms (a TSC counting from a boot 25 days
 * ago): a new connection answers its first unacceptable pure ACK (a Linux
 * keepalive or zero-window probe, at SND.UNA - 1). */
Test(state, ack_war_damped_any_clock)
{
	h_init(h, NULL, TCP_AF_INET);
	h->now = 3000000000000ull; /* 3e9 ms */
	uint32_t iss;
	est(&iss, false);
	h_clear(h);
	for (int i = 0; i < 3; i++)
		h_send(h, 1001 - 1, iss + 1, TH_ACK, 1000, NULL, 0, NULL, 0);
	cr_assert_eq(h->nout, 1, "the first one answered: %u", h->nout);
	h_advance(h, 500000);
	h_clear(h);
	h_send(h, 1001 - 1, iss + 1, TH_ACK, 1000, NULL, 0, NULL, 0);
	cr_assert_eq(h->nout, 1, "and again after 500 ms");
}

Test(state, closed_port_gets_rst)
{
	h_init(h, NULL, TCP_AF_INET);
	h_send(h, 1234, 0, TH_SYN, 1000, NULL, 0, NULL, 0);
	struct h_seg s;
	h_out(h, 0, &s);
	cr_assert_eq(s.flags, TH_RST | TH_ACK);
	cr_assert_eq(s.seq, 0);
	cr_assert_eq(s.ack, 1235);
	cr_assert(s.csum_ok);
	h_clear(h);
	h_send(h, 1234, 99999, TH_ACK, 1000, NULL, 0, "xx", 2);
	h_out(h, 0, &s);
	cr_assert_eq(s.flags, TH_RST);
	cr_assert_eq(s.seq, 99999);
	h_clear(h);
	h_send(h, 1234, 99999, TH_RST | TH_ACK, 1000, NULL, 0, NULL, 0);
	cr_assert_eq(h->nout, 0, "never answer a RST");
}

Test(state, bad_checksum_dropped)
{
	h_init(h, NULL, TCP_AF_INET);
	cr_assert_eq(tcp_listen(h->st, TCP_AF_INET, NULL, 9, 0, 0), 0);
	struct rte_mbuf *m = h_craft(h, 1, 0, TH_SYN, 100, NULL, 0, NULL, 0);
	rte_pktmbuf_mtod(m, uint8_t *)[14 + 20 + 16] ^= 1; /* tcp checksum */
	cr_assert_eq(tcp_input(h->st, &m, 1), 0);
	cr_assert_eq(h->nout, 0);
	cr_assert_eq(stats().bad_csum, 1);
	m = h_craft(h, 1, 0, TH_SYN, 100, NULL, 0, NULL, 0);
	rte_pktmbuf_mtod(m, uint8_t *)[14 + 10] ^= 1; /* ip checksum */
	cr_assert_eq(tcp_input(h->st, &m, 1), 0);
	cr_assert_eq(stats().bad_csum, 2);
}

Test(state, malformed_headers_dropped)
{
	h_init(h, NULL, TCP_AF_INET);
	cr_assert_eq(tcp_listen(h->st, TCP_AF_INET, NULL, 9, 0, 0), 0);
	/* data offset below 5 */
	struct rte_mbuf *m = h_craft(h, 1, 0, TH_SYN, 100, NULL, 0, NULL, 0);
	uint8_t *p = rte_pktmbuf_mtod(m, uint8_t *) + 14;
	p[20 + 12] = 0x40;
	cr_assert_eq(tcp_input(h->st, &m, 1), 0);
	/* data offset beyond the segment */
	m = h_craft(h, 1, 0, TH_SYN, 100, NULL, 0, NULL, 0);
	p = rte_pktmbuf_mtod(m, uint8_t *) + 14;
	p[20 + 12] = 0xf0;
	cr_assert_eq(tcp_input(h->st, &m, 1), 0);
	/* IP total length beyond the frame */
	m = h_craft(h, 1, 0, TH_SYN, 100, NULL, 0, NULL, 0);
	p = rte_pktmbuf_mtod(m, uint8_t *) + 14;
	p[2] = 0x10;
	cr_assert_eq(tcp_input(h->st, &m, 1), 0);
	/* truncated frame */
	m = h_craft(h, 1, 0, TH_SYN, 100, NULL, 0, NULL, 0);
	rte_pktmbuf_trim(m, 25);
	cr_assert_eq(tcp_input(h->st, &m, 1), 0);
	/* a hostile option length */
	uint8_t bad[4] = { 2, 9, 0, 0 };
	m = h_craft(h, 1, 0, TH_SYN, 100, bad, 4, NULL, 0);
	cr_assert_eq(tcp_input(h->st, &m, 1), 0);
	cr_assert_eq(h->nout, 0);
	struct tcp_stack_stats s = stats();
	cr_assert_eq(s.bad_hdr + s.bad_csum, 4);
	cr_assert_eq(s.bad_opts, 1);
}

Test(state, isn_keyed_and_clocked)
{
	h_init(h, NULL, TCP_AF_INET);
	struct tcp_conn *a = tcp_connect(h->st, TCP_AF_INET, &h->local, 1000,
					 &h->remote, 80, 0);
	struct tcp_conn *b = tcp_connect(h->st, TCP_AF_INET, &h->local, 1001,
					 &h->remote, 80, 0);
	cr_assert_neq(a->iss - b->iss, 0u);
	uint32_t isa = a->iss;
	tcp_abort(a);
	h->now += 4000;
	a = tcp_connect(h->st, TCP_AF_INET, &h->local, 1000, &h->remote, 80, 0);
	cr_assert_eq(a->iss - isa, 1000u, "M advances every 4 us (RFC 6528)");
}

Test(state, paws_rejects_old_timestamps)
{
	h_init(h, NULL, TCP_AF_INET);
	uint32_t iss;
	struct tcp_conn *c = est(&iss, true);
	uint8_t t[12];
	h_send(h, 1001, iss + 1, TH_ACK, 1000, t, o_ts(t, 5000, 0), "a", 1);
	cr_assert_eq(tcp_readable(c), 1);
	h_clear(h);
	h_send(h, 1002, iss + 1, TH_ACK, 1000, t, o_ts(t, 4000, 0), "b", 1);
	cr_assert_eq(tcp_readable(c), 1, "old TSval: dropped");
	cr_assert_eq(stats().paws_drops, 1);
	struct h_seg s;
	h_out(h, 0, &s);
	cr_assert_eq(s.ack, 1002, "and ACKed");
	cr_assert_eq(s.opt.tsecr, 5000);
	/* a RST is never PAWS-checked */
	h_send(h, 1002, 0, TH_RST, 0, t, o_ts(t, 4000, 0), NULL, 0);
	cr_assert_eq(tcp_state(c), TCP_CLOSED);
}

Test(state, sequence_wrap_around)
{
	h_init(h, NULL, TCP_AF_INET);
	uint32_t iss;
	uint8_t o[40];
	struct tcp_conn *c = h_accept(h, 0xfffffff0u, o, syn_opts(o, false), &iss);
	uint8_t data[64];
	for (int i = 0; i < 64; i++)
		data[i] = (uint8_t)i;
	h_send(h, 0xfffffff1u, iss + 1, TH_ACK | TH_PSH, 1000, NULL, 0, data, 32);
	h_send(h, 0x00000011u, iss + 1, TH_ACK | TH_PSH, 1000, NULL, 0, data + 32, 32);
	cr_assert_eq(tcp_readable(c), 64);
	uint8_t got[64];
	cr_assert_eq(tcp_read(c, got, 64), 64);
	cr_assert_eq(memcmp(got, data, 64), 0);
	cr_assert_eq(c->rcv_nxt, 0x31u);
}

Test(state, abort_sends_rst)
{
	h_init(h, NULL, TCP_AF_INET);
	uint32_t iss;
	struct tcp_conn *c = est(&iss, false);
	tcp_abort(c);
	struct h_seg s;
	h_out(h, 0, &s);
	cr_assert_eq(s.flags & TH_RST, TH_RST);
	cr_assert_eq(s.seq, iss + 1);
	cr_assert_eq(stats().conns, 0);
}

Test(state, close_with_unread_data_resets)
{
	h_init(h, NULL, TCP_AF_INET);
	uint32_t iss;
	struct tcp_conn *c = est(&iss, false);
	h_send(h, 1001, iss + 1, TH_ACK, 1000, NULL, 0, "unread", 6);
	h_clear(h);
	tcp_close(c);
	struct h_seg s;
	h_out(h, 0, &s);
	cr_assert_eq(s.flags & TH_RST, TH_RST);
	cr_assert_eq(stats().conns, 0);
}

/* Random segments (flags, sequence and ACK near and far from the window,
 * options of random kinds and lengths, payloads) into a listener and an
 * established connection: nothing crashes (ASan/UBSan watch), every mbuf
 * comes back (h_fini checks the pool). */
Test(state, random_segments_survive)
{
	struct tcp_config cfg = { .max_conns = 64 };
	h_init(h, &cfg, TCP_AF_INET);
	uint32_t iss;
	struct tcp_conn *c = est(&iss, true);
	(void)c;
	uint32_t x = 2463534242u;
#define R() (x ^= x << 13, x ^= x >> 17, x ^= x << 5, x)
	uint8_t opts[40], data[1500];
	for (int i = 0; i < 50000; i++) {
		uint32_t r = R();
		uint32_t seq = (r & 1) ? 1001 + (R() % 200000) - 100000 : R();
		uint32_t ack = (r & 2) ? iss + 1 + (R() % 2000) - 1000 : R();
		uint8_t flags = (uint8_t)R();
		unsigned ol = (R() % 11) * 4;
		for (unsigned k = 0; k < ol; k++)
			opts[k] = (uint8_t)((k % 2) ? R() % 12 : R() % 9);
		uint32_t len = R() % 4 ? 0 : R() % sizeof(data);
		memset(data, (int)r, len);
		h->rport = (r & 4) ? 40000 : (uint16_t)(1024 + R() % 8);
		h_send(h, seq, ack, flags, (uint16_t)R(), opts, ol, data, len);
		if (h->nout > 1000)
			h_clear(h);
		if (!(i % 1000))
			h_advance(h, R() % 3000000);
	}
#undef R
	h_clear(h);
}

/* The slot walk that telemetry snapshots use: listeners are not
 * connections, an accepted connection is in its slot with its tenant, and
 * the slot is free again once the connection is gone. */
Test(state, slot_walk_for_statistics)
{
	h_init(h, NULL, TCP_AF_INET);
	uint32_t iss;
	uint8_t o[40];
	struct tcp_conn *c = h_accept(h, 77, o, syn_opts(o, false), &iss);
	uint32_t found = 0, slot = UINT32_MAX;
	for (uint32_t i = 0; i < tcp_stack_max_conns(h->st); i++) {
		const struct tcp_conn *x = tcp_conn_at(h->st, i);
		if (!x || (x->flags & TF_LISTENER))
			continue;
		found++;
		slot = i;
	}
	cr_assert_eq(found, 1);
	cr_assert_eq(slot, tcp_conn_index(c));
	cr_assert_eq(tcp_conn_tenant(c), 0);
	cr_assert_null(tcp_conn_at(h->st, tcp_stack_max_conns(h->st)), "past the table");
	tcp_abort(c);
	cr_assert_null(tcp_conn_at(h->st, slot), "aborted: slot free");
}
