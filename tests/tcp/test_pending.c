/* SPDX-License-Identifier: BSD-3-Clause */
/* Pending opens of intercepted flows (tcp_intercept): the client's SYN is
 * held without an answer until the application accepts (SYN-ACK as the
 * server) or refuses it (RST, silence, or an ICMP left to the caller);
 * bounded per tenant and per appliance, timed out, counted. Every mbuf is
 * back in the pool at the end of each test (h_fini). */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "harness.h"

static struct harness H;
static struct harness *h = &H;

static void fini(void)
{
	h_fini(h);
}

TestSuite(pending, .fini = fini);

static struct tcp_stack_stats stats(void)
{
	struct tcp_stack_stats s;
	tcp_stack_stats(h->st, &s);
	return s;
}

static struct tcp_tenant_stats tstats(uint16_t t)
{
	struct tcp_tenant_stats s;
	cr_assert_eq(tcp_tenant_stats(h->st, t, &s), 0);
	return s;
}

/* The engine impersonates a server that is not one of its addresses. */
static void setup(struct tcp_config *cfg, uint8_t af)
{
	h_init(h, cfg, af);
	if (af == TCP_AF_INET) {
		uint8_t srv[4] = { 198, 18, 200, 80 }, cli[4] = { 198, 18, 201, 7 };
		memcpy(h->local.b, srv, 4);
		memcpy(h->remote.b, cli, 4);
	} else {
		h->local.b[15] = 0x80;
	}
	h->lport = 443;
	h->rport = 50000;
}

static int intercept(uint32_t isn, uint8_t flags, const uint8_t *o, unsigned ol,
		     uint16_t tenant)
{
	struct rte_mbuf *m = h_craft(h, isn, 0, flags, 64240, o, ol, NULL, 0);
	return tcp_intercept(h->st, m, tenant);
}

static unsigned full_opts(uint8_t *p, uint32_t tsval)
{
	unsigned n = o_mss(p, 1400);
	n += o_ws(p + n, 7);
	n += o_sackok(p + n);
	n += o_ts(p + n, tsval, 0);
	return n;
}

/* A pending open with all options; returns its connection. */
static struct tcp_conn *pend(uint32_t isn, uint16_t tenant)
{
	uint8_t o[40];
	h_clear(h);
	cr_assert_eq(intercept(isn, TH_SYN, o, full_opts(o, 1000), tenant), 0);
	cr_assert(h->events & TCP_EV_PENDING);
	cr_assert_eq(h->nevents, 1);
	cr_assert_eq(h->nout, 0, "held: no SYN-ACK");
	struct tcp_conn *c = h->last_conn;
	cr_assert(tcp_is_pending(c));
	h_clear(h);
	return c;
}

Test(pending, accept_then_data_both_ways)
{
	setup(NULL, TCP_AF_INET);
	struct tcp_conn *c = pend(1000, 3);
	/* the SYN's destination is the local side */
	uint8_t af;
	struct tcp_addr la, ra;
	uint16_t lp, rp;
	tcp_conn_tuple(c, &af, &la, &lp, &ra, &rp);
	cr_assert_eq(memcmp(la.b, h->local.b, 4), 0);
	cr_assert_eq(lp, 443);
	cr_assert_eq(memcmp(ra.b, h->remote.b, 4), 0);
	cr_assert_eq(rp, 50000);
	cr_assert_eq(tcp_conn_tenant(c), 3);
	struct tcp_syn_opts so;
	tcp_conn_syn_opts(c, &so);
	cr_assert(so.mss == 1400 && so.wscale == 7 && so.sack_ok && so.timestamps);
	cr_assert_eq(stats().pending, 1);
	cr_assert_eq(stats().half_open, 0, "pending opens are not half-open");
	cr_assert_eq(tstats(3).pending, 1);
	cr_assert_eq(tcp_state(c), TCP_SYN_RECEIVED);
	/* the server answered */
	h->now += 30000;
	cr_assert_eq(tcp_accept_pending(c), 0);
	cr_assert_eq(tcp_accept_pending(c), -EINVAL, "only once");
	cr_assert(!tcp_is_pending(c));
	cr_assert_eq(h->nout, 1);
	struct h_seg sa;
	h_out(h, 0, &sa); /* h_out checks src = the server, dst = the client */
	cr_assert_eq(sa.flags, TH_SYN | TH_ACK);
	cr_assert_eq(sa.sport, 443);
	cr_assert_eq(sa.dport, 50000);
	cr_assert_eq(sa.ack, 1001);
	cr_assert(sa.csum_ok);
	cr_assert(sa.opt.has_mss && sa.opt.mss == 1460);
	cr_assert(sa.opt.has_wscale && sa.opt.sack_ok && sa.opt.has_ts);
	cr_assert_eq(sa.opt.tsecr, 1000, "the SYN's TSval echoed");
	cr_assert_eq(c->snd_mss, 1400 - 12);
	h_clear(h);
	uint8_t o[12];
	h_send(h, 1001, sa.seq + 1, TH_ACK, 500, o, o_ts(o, 1001, sa.opt.tsval), NULL, 0);
	cr_assert(h->events & TCP_EV_CONNECTED);
	cr_assert_eq(tcp_state(c), TCP_ESTABLISHED);
	cr_assert_eq(c->snd_wnd, 500u << 7);
	cr_assert_eq(stats().pending, 0);
	cr_assert_eq(tstats(3).pending, 0);
	cr_assert_eq(tstats(3).established, 1);
	cr_assert_eq(stats().pending_accepted, 1);
	/* client -> server bytes */
	h_clear(h);
	h_send(h, 1001, sa.seq + 1, TH_ACK | TH_PSH, 500, o, o_ts(o, 1002, sa.opt.tsval),
	       "GET /", 5);
	cr_assert(h->events & TCP_EV_READABLE);
	char b[16];
	cr_assert_eq(tcp_read(c, b, sizeof(b)), 5);
	cr_assert_eq(memcmp(b, "GET /", 5), 0);
	/* server -> client bytes */
	h_clear(h);
	cr_assert_eq(tcp_write(c, "200 OK", 6), 6);
	struct h_seg d;
	h_out(h, h->nout - 1, &d);
	cr_assert_eq(d.seq, sa.seq + 1);
	cr_assert_eq(d.len, 6);
	cr_assert_eq(memcmp(d.payload, "200 OK", 6), 0);
	cr_assert_eq(d.ack, 1006);
	h_clear(h);
	tcp_abort(c);
}

Test(pending, early_server_data_waits_for_the_handshake)
{
	setup(NULL, TCP_AF_INET);
	struct tcp_conn *c = pend(1000, 1);
	cr_assert_eq(tcp_write(c, "banner\n", 7), 7, "queued while pending");
	cr_assert_eq(h->nout, 0);
	cr_assert_eq(tcp_accept_pending(c), 0);
	struct h_seg sa;
	h_out(h, 0, &sa);
	cr_assert_eq(h->nout, 1, "SYN-ACK only");
	h_clear(h);
	uint8_t o[12];
	h_send(h, 1001, sa.seq + 1, TH_ACK, 500, o, o_ts(o, 1001, sa.opt.tsval), NULL, 0);
	struct h_seg d;
	h_out(h, 0, &d);
	cr_assert_eq(d.seq, sa.seq + 1);
	cr_assert_eq(memcmp(d.payload, "banner\n", 7), 0);
}

Test(pending, refuse_rst)
{
	setup(NULL, TCP_AF_INET);
	struct tcp_conn *c = pend(0xffffffffu, 2);
	struct tcp_refused r;
	cr_assert_eq(tcp_refuse_pending(c, TCP_REFUSE_RST, &r), 0);
	cr_assert_eq(h->nout, 1);
	struct h_seg s;
	h_out(h, 0, &s);
	/* what the server would have sent: RST|ACK, seq 0, ack ISN + 1 */
	cr_assert_eq(s.flags, TH_RST | TH_ACK);
	cr_assert_eq(s.seq, 0);
	cr_assert_eq(s.ack, 0, "ISN + 1 wraps");
	cr_assert_eq(s.sport, 443);
	cr_assert_eq(s.dport, 50000);
	cr_assert(s.csum_ok);
	cr_assert_eq(r.client_isn, 0xffffffffu);
	cr_assert_eq(stats().conns, 0);
	cr_assert_eq(stats().pending, 0);
	cr_assert_eq(stats().pending_refused, 1);
	cr_assert_eq(stats().rst_out, 1);
	cr_assert_eq(tstats(2).pending, 0);
}

Test(pending, refuse_silent_then_a_new_syn_is_a_new_open)
{
	setup(NULL, TCP_AF_INET);
	struct tcp_conn *c = pend(1000, 1);
	cr_assert_eq(tcp_refuse_pending(c, (enum tcp_refuse)9, NULL), -EINVAL);
	cr_assert(tcp_is_pending(c), "a bad kind does nothing");
	cr_assert_eq(tcp_refuse_pending(c, TCP_REFUSE_SILENT, NULL), 0);
	cr_assert_eq(h->nout, 0, "not a word to the client");
	cr_assert_eq(stats().conns, 0);
	cr_assert_eq(stats().pending, 0);
	/* the client retries: the flow table may ask again */
	pend(1000, 1);
	cr_assert_eq(stats().pending_opens, 2);
}

Test(pending, refuse_unreachable_gives_the_quote)
{
	setup(NULL, TCP_AF_INET6);
	struct tcp_conn *c = pend(77, 1);
	struct tcp_refused r;
	cr_assert_eq(tcp_refuse_pending(c, TCP_REFUSE_UNREACH, &r), 0);
	cr_assert_eq(h->nout, 0, "the ICMP is the caller's");
	cr_assert_eq(r.af, TCP_AF_INET6);
	cr_assert_eq(memcmp(r.client.b, h->remote.b, 16), 0);
	cr_assert_eq(memcmp(r.server.b, h->local.b, 16), 0);
	cr_assert_eq(r.client_port, 50000);
	cr_assert_eq(r.server_port, 443);
	cr_assert_eq(r.client_isn, 77);
	cr_assert_eq(stats().conns, 0);
}

Test(pending, close_is_silent_abort_is_rst)
{
	setup(NULL, TCP_AF_INET);
	tcp_close(pend(1000, 1));
	cr_assert_eq(h->nout, 0);
	h->rport++;
	tcp_abort(pend(2000, 1));
	cr_assert_eq(h->nout, 1);
	struct h_seg s;
	h_out(h, 0, &s);
	cr_assert_eq(s.flags, TH_RST | TH_ACK);
	cr_assert_eq(s.ack, 2001);
	cr_assert_eq(stats().conns, 0);
	cr_assert_eq(stats().pending, 0);
}

static struct tcp_config timeout_cfg = { .pending_timeout_us = 5000000 };

Test(pending, undecided_times_out)
{
	setup(&timeout_cfg, TCP_AF_INET);
	struct tcp_conn *c = pend(1000, 4);
	cr_assert_leq(tcp_next_timer(h->st), h->now + 5000000);
	h_advance(h, 4999999);
	cr_assert_eq(h->nevents, 0);
	cr_assert(tcp_is_pending(c));
	h_advance(h, 1);
	cr_assert_eq(h->events, TCP_EV_TIMEOUT | TCP_EV_CLOSED);
	cr_assert_eq(h->last_conn, c);
	cr_assert_eq(h->nout, 0, "silence, as from a silent server");
	cr_assert_eq(tcp_state(c), TCP_CLOSED);
	cr_assert_eq(stats().pending, 0, "its slot is free");
	cr_assert_eq(stats().pending_timeouts, 1);
	cr_assert_eq(tstats(4).pending_timeouts, 1);
	cr_assert_eq(tcp_accept_pending(c), -EINVAL, "too late");
	tcp_close(c);
	cr_assert_eq(stats().conns, 0);
	cr_assert_eq(tcp_next_timer(h->st), UINT64_MAX);
}

Test(pending, retransmitted_syn_absorbed)
{
	setup(NULL, TCP_AF_INET);
	struct tcp_conn *c = pend(1000, 1);
	uint8_t o[40];
	unsigned ol = full_opts(o, 1000);
	/* retries through tcp_intercept (the flow table) and tcp_input */
	h->now += 1000000;
	cr_assert_eq(intercept(1000, TH_SYN, o, ol, 1), 0);
	h->now += 2000000;
	h_send(h, 1000, 0, TH_SYN, 64240, o, ol, NULL, 0);
	h->now += 4000000;
	cr_assert_eq(intercept(1000, TH_SYN, o, ol, 1), 0);
	cr_assert_eq(h->nout, 0, "not answered");
	cr_assert_eq(h->nevents, 0, "not announced again");
	cr_assert_eq(stats().conns, 1, "not duplicated");
	cr_assert_eq(stats().pending_syn_absorbed, 3);
	/* a stray ACK or data: nothing to acknowledge yet, silence */
	h_send(h, 1001, 12345, TH_ACK, 100, NULL, 0, "x", 1);
	cr_assert_eq(h->nout, 0);
	cr_assert(tcp_is_pending(c));
	/* accepted: one SYN-ACK; a later retry of the SYN gets it again */
	cr_assert_eq(tcp_accept_pending(c), 0);
	cr_assert_eq(h->nout, 1);
	struct h_seg a, b;
	h_out(h, 0, &a);
	h_send(h, 1000, 0, TH_SYN, 64240, o, ol, NULL, 0);
	cr_assert_eq(h->nout, 2);
	h_out(h, 1, &b);
	cr_assert_eq(b.flags, TH_SYN | TH_ACK);
	cr_assert_eq(b.seq, a.seq);
}

Test(pending, client_rst_while_pending)
{
	setup(NULL, TCP_AF_INET);
	struct tcp_conn *c = pend(1000, 6);
	h_send(h, 1005, 0, TH_RST, 0, NULL, 0, NULL, 0);
	cr_assert(tcp_is_pending(c), "a RST off the client's sequence is ignored");
	cr_assert_eq(h->nevents, 0);
	h_send(h, 1001, 0, TH_RST, 0, NULL, 0, NULL, 0);
	cr_assert_eq(h->events, TCP_EV_RESET | TCP_EV_CLOSED);
	cr_assert_eq(h->nout, 0);
	cr_assert_eq(stats().pending, 0);
	cr_assert_eq(tstats(6).resets, 1);
	cr_assert_eq(tcp_refuse_pending(c, TCP_REFUSE_RST, NULL), -EINVAL);
	tcp_close(c);
	cr_assert_eq(stats().conns, 0);
}

Test(pending, accepted_then_client_rst_and_handshake_timeout)
{
	setup(NULL, TCP_AF_INET);
	struct tcp_conn *c = pend(1000, 1);
	cr_assert_eq(tcp_accept_pending(c), 0);
	h_clear(h);
	h_send(h, 1001, 0, TH_RST, 0, NULL, 0, NULL, 0);
	cr_assert_eq(h->events, TCP_EV_RESET | TCP_EV_CLOSED,
		     "the application hears of it (the far side must close)");
	tcp_close(c);
	/* the client never completes: SYN-ACK retries, then a timeout event */
	h->rport++;
	c = pend(5000, 1);
	cr_assert_eq(tcp_accept_pending(c), 0);
	h_clear(h);
	for (int i = 0; i < 200 && !(h->events & TCP_EV_CLOSED); i++)
		h_advance(h, 1000000);
	cr_assert(h->events & TCP_EV_TIMEOUT);
	cr_assert_eq(h->nout, 6, "syn_retries SYN-ACKs");
	cr_assert_eq(stats().pending, 0);
	tcp_close(c);
	cr_assert_eq(stats().conns, 0);
}

Test(pending, per_tenant_bound)
{
	struct tcp_config cfg = { .tenant_max_pending = 2, .max_pending = 10 };
	setup(&cfg, TCP_AF_INET);
	pend(1, 1);
	h->rport++;
	pend(1, 1);
	h->rport++;
	h_clear(h);
	/* the caller can know before: room says no, and counts nothing */
	cr_assert_not(tcp_intercept_room(h->st, 1));
	cr_assert(tcp_intercept_room(h->st, 2));
	cr_assert_not(tcp_intercept_room(h->st, 60000), "no such tenant");
	cr_assert_eq(tstats(1).pending_limit_drops, 0);
	cr_assert_eq(intercept(1, TH_SYN, NULL, 0, 1), -ENOSPC);
	cr_assert_eq(h->nout, 0, "dropped, no cookie");
	cr_assert_eq(h->nevents, 0);
	cr_assert_eq(tstats(1).pending_limit_drops, 1);
	cr_assert_eq(stats().pending_limit_drops, 1);
	cr_assert_eq(stats().syncookies_sent, 0);
	/* tenant 1 full does not block tenant 2 */
	pend(1, 2);
	cr_assert_eq(tstats(1).pending, 2);
	cr_assert_eq(tstats(2).pending, 1);
	cr_assert_eq(tstats(2).pending_limit_drops, 0);
	/* a decision frees a slot */
	h->rport = 50000;
	struct tcp_conn *c = tcp_lookup(h->st, &(struct tcp_seg){
		.af = TCP_AF_INET, .src = h->remote, .dst = h->local,
		.sport = 50000, .dport = 443 });
	cr_assert_not_null(c);
	cr_assert_eq(tcp_refuse_pending(c, TCP_REFUSE_SILENT, NULL), 0);
	h->rport = 50010;
	pend(1, 1);
	cr_assert_eq(tstats(1).pending, 2);
}

Test(pending, per_appliance_bound)
{
	struct tcp_config cfg = { .max_pending = 2 };
	setup(&cfg, TCP_AF_INET);
	pend(1, 1);
	h->rport++;
	pend(1, 2);
	h->rport++;
	cr_assert_not(tcp_intercept_room(h->st, 3));
	cr_assert_eq(intercept(1, TH_SYN, NULL, 0, 3), -ENOSPC);
	cr_assert_eq(stats().pending_limit_drops, 1);
	cr_assert_eq(tstats(3).pending_limit_drops, 1);
	cr_assert_eq(stats().pending, 2);
	cr_assert_eq(stats().conns, 2);
}

Test(pending, room_needs_a_free_table_entry)
{
	struct tcp_config cfg = { .max_conns = 2, .max_pending = 8 };
	setup(&cfg, TCP_AF_INET);
	cr_assert(tcp_intercept_room(h->st, 1));
	pend(1, 1);
	h->rport++;
	struct tcp_conn *c = pend(1, 2);
	h->rport++;
	cr_assert_not(tcp_intercept_room(h->st, 3), "the table is full");
	cr_assert_eq(intercept(1, TH_SYN, NULL, 0, 3), -ENOSPC);
	tcp_close(c);
	cr_assert_eq(stats().conns, 1);
	cr_assert(tcp_intercept_room(h->st, 3), "an entry freed");
}

Test(pending, room_within_the_tenants_connections)
{
	struct tcp_config cfg = { .tenant_max_established = 1 };
	setup(&cfg, TCP_AF_INET);
	pend(1, 1);
	h->rport++;
	cr_assert_not(tcp_intercept_room(h->st, 1), "the tenant's bound");
	cr_assert(tcp_intercept_room(h->st, 2));
}

Test(pending, own_services_unaffected)
{
	/* pending opens do not eat the half-open budget of our listeners */
	struct tcp_config cfg = { .max_half_open = 1, .max_pending = 8 };
	setup(&cfg, TCP_AF_INET);
	pend(1, 1);
	h->rport++;
	pend(1, 1);
	cr_assert_eq(stats().pending, 2);
	cr_assert_eq(tcp_listen(h->st, TCP_AF_INET, NULL, 9, 0, 0), 0);
	h->lport = 9;
	h_send(h, 1, 0, TH_SYN, 65535, NULL, 0, NULL, 0);
	cr_assert_eq(h->nout, 1, "SYN-ACK from the listener");
	cr_assert_eq(stats().half_open, 1);
}

struct chan {
	unsigned n;
	uint32_t ev;
	bool accept_now;
	struct tcp_conn *c;
};

static void chan_event(void *arg, struct tcp_conn *c, uint32_t ev)
{
	struct chan *ch = arg;
	ch->n++;
	ch->ev |= ev;
	ch->c = c;
	if ((ev & TCP_EV_PENDING) && ch->accept_now)
		cr_assert_eq(tcp_accept_pending(c), 0);
}

Test(pending, tenant_handler_and_decision_inside_the_event)
{
	setup(NULL, TCP_AF_INET);
	struct chan ch = { .accept_now = true };
	cr_assert_eq(tcp_tenant_handler(h->st, 5, chan_event, &ch), 0);
	cr_assert_eq(tcp_tenant_handler(h->st, 9999, chan_event, &ch), -EINVAL);
	cr_assert_eq(intercept(1000, TH_SYN, NULL, 0, 5), 0);
	cr_assert_eq(ch.ev, TCP_EV_PENDING);
	cr_assert_eq(h->nevents, 0, "not to ops->event");
	cr_assert_eq(h->nout, 1, "accepted inside the event: SYN-ACK");
	struct h_seg sa;
	h_out(h, 0, &sa);
	cr_assert(!sa.opt.has_ts && !sa.opt.has_wscale && !sa.opt.sack_ok,
		  "the SYN offered none");
	cr_assert_eq(sa.opt.mss, 1460, "ours");
	cr_assert_eq(ch.c->snd_mss, 536, "the SYN had no MSS option");
	h_send(h, 1001, sa.seq + 1, TH_ACK, 100, NULL, 0, NULL, 0);
	cr_assert(ch.ev & TCP_EV_CONNECTED);
	/* tenant 6 has no handler: ops->event */
	h->rport++;
	pend(7, 6);
}

Test(pending, bad_calls)
{
	setup(NULL, TCP_AF_INET);
	cr_assert_eq(intercept(1, TH_SYN, NULL, 0, 9999), -EINVAL, "unknown tenant");
	h_clear(h);
	cr_assert_eq(intercept(1, TH_ACK, NULL, 0, 1), -EINVAL, "not a SYN");
	cr_assert_eq(h->nout, 1, "an unknown flow's ACK gets RST, as in tcp_input");
	h_clear(h);
	struct rte_mbuf *m = h_craft(h, 1, 0, TH_SYN, 100, NULL, 0, NULL, 0);
	rte_pktmbuf_mtod_offset(m, uint8_t *, 14 + 20 + 16)[0] ^= 1; /* checksum */
	cr_assert_eq(tcp_intercept(h->st, m, 1), -EBADMSG);
	cr_assert_eq(stats().bad_csum, 1);
	/* a listener's connection is not pending */
	struct tcp_conn *c = tcp_connect(h->st, TCP_AF_INET, &h->local, 1, &h->remote, 2, 0);
	cr_assert_eq(tcp_accept_pending(c), -EINVAL);
	cr_assert_eq(tcp_refuse_pending(c, TCP_REFUSE_RST, NULL), -EINVAL);
	tcp_abort(c);
	cr_assert_eq(stats().conns, 0);
	cr_assert_eq(stats().pending, 0);
}

Test(pending, no_handler_at_all)
{
	setup(NULL, TCP_AF_INET);
	h->st->ops.event = NULL;
	cr_assert_eq(intercept(1, TH_SYN, NULL, 0, 1), -EINVAL, "nobody would decide");
	cr_assert_eq(stats().conns, 0);
}

/* The other appliance opens the real connection as the client: its SYN
 * offers what the client's did (tcp_connect_offer), MSS no larger than
 * ours, our own window scale shift. */
Test(pending, connect_offer_copies_the_clients_options)
{
	struct tcp_config cfg = { .mss = 1460 };
	setup(&cfg, TCP_AF_INET);
	static const struct {
		struct tcp_syn_opts offer;
		uint16_t mss;
		bool ws, sack, ts;
	} cases[] = {
		{ { 1400, 7, true, true }, 1400, true, true, true },
		{ { 0, -1, false, false }, 1460, false, false, false },
		{ { 9000, 2, false, true }, 1460, true, false, true },
		{ { 536, -1, true, false }, 536, false, true, false },
	};
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		h_clear(h);
		struct tcp_conn *c = tcp_connect_offer(h->st, TCP_AF_INET, &h->local,
						       (uint16_t)(h->lport + i), &h->remote,
						       h->rport, 0, &cases[i].offer);
		cr_assert(c, "case %u", i);
		cr_assert_eq(h->nout, 1);
		struct h_seg s;
		h_out(h, 0, &s);
		cr_assert_eq(s.flags, TH_SYN, "case %u", i);
		cr_assert(s.opt.has_mss && s.opt.mss == cases[i].mss, "case %u: mss %u", i, s.opt.mss);
		cr_assert_eq(s.opt.has_wscale, cases[i].ws, "case %u", i);
		cr_assert_eq(s.opt.sack_ok, cases[i].sack, "case %u", i);
		cr_assert_eq(s.opt.has_ts, cases[i].ts, "case %u", i);
		/* a retransmitted SYN offers the same */
		h_clear(h);
		h_advance(h, 1100000);
		cr_assert_geq(h->nout, 1);
		h_out(h, 0, &s);
		cr_assert_eq(s.opt.sack_ok, cases[i].sack, "case %u", i);
		cr_assert_eq(s.opt.has_ts, cases[i].ts, "case %u", i);
		tcp_abort(c);
	}
	errno = 0;
	cr_assert_null(tcp_connect_offer(h->st, TCP_AF_INET, &h->local, 1, &h->remote, 2, 0, NULL));
	cr_assert_eq(errno, EINVAL);
	/* a plain connect offers the stack's full set */
	h_clear(h);
	struct tcp_conn *c = tcp_connect(h->st, TCP_AF_INET, &h->local, 9, &h->remote, 9, 0);
	struct h_seg s;
	h_out(h, 0, &s);
	cr_assert(s.opt.has_mss && s.opt.mss == 1460 && s.opt.has_wscale && s.opt.sack_ok &&
		  s.opt.has_ts);
	tcp_abort(c);
}

/* Every segment a connection sends carries its index + 1 in
 * m->hash.usr (an output keeps per-connection L2 there); a RST for no
 * connection carries 0. */
Test(pending, output_names_its_connection)
{
	setup(NULL, TCP_AF_INET);
	struct tcp_conn *c = pend(1000, 0);
	cr_assert_eq(tcp_accept_pending(c), 0);
	cr_assert_eq(h->nout, 1);
	cr_assert_eq(h->out[0]->hash.usr, tcp_conn_index(c) + 1);
	h_clear(h);
	/* an ACK for nothing the engine knows: a RST of no connection */
	h->rport = 50001;
	h_send(h, 5, 5, TH_ACK, 1000, NULL, 0, NULL, 0);
	cr_assert_eq(h->nout, 1);
	struct h_seg s;
	h_out(h, 0, &s);
	cr_assert(s.flags & TH_RST);
	cr_assert_eq(h->out[0]->hash.usr, 0);
	h_clear(h);
	tcp_abort(c);
}
