/* SPDX-License-Identifier: BSD-3-Clause */
/* Limits: half-open and established per appliance and per tenant, the
 * connection table, SYN cookies, the tenant buffer budget, and 10,000
 * idle connections held with no buffer memory. */
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

TestSuite(limits, .fini = fini);

static struct tcp_stack_stats stats(void)
{
	struct tcp_stack_stats s;
	tcp_stack_stats(h->st, &s);
	return s;
}

static void age(unsigned seconds)
{
	for (unsigned i = 0; i < seconds; i++)
		h_advance(h, 1000000);
}

static void syn_from(uint16_t port, uint32_t isn)
{
	h->rport = port;
	h_send(h, isn, 0, TH_SYN, 65535, NULL, 0, NULL, 0);
}

Test(limits, half_open_per_appliance)
{
	struct tcp_config cfg = { .max_half_open = 2 };
	h_init(h, &cfg, TCP_AF_INET);
	cr_assert_eq(tcp_listen(h->st, TCP_AF_INET, NULL, 9, 0, 0), 0);
	syn_from(1001, 1);
	syn_from(1002, 1);
	syn_from(1003, 1);
	cr_assert_eq(h->nout, 2, "the third SYN is dropped silently");
	cr_assert_eq(stats().half_open, 2);
	cr_assert_eq(stats().limit_half_open, 1);
	/* a half-open that times out frees its slot */
	age(200);
	cr_assert_eq(stats().half_open, 0);
	cr_assert_eq(stats().conns, 0);
}

Test(limits, half_open_and_established_per_tenant)
{
	struct tcp_config cfg = { .tenant_max_half_open = 1, .tenant_max_established = 2 };
	h_init(h, &cfg, TCP_AF_INET);
	cr_assert_eq(tcp_listen(h->st, TCP_AF_INET, NULL, 9, 3, 0), 0);
	cr_assert_eq(tcp_listen(h->st, TCP_AF_INET, NULL, 10, 4, 0), 0);
	syn_from(1001, 1);
	syn_from(1002, 1);
	cr_assert_eq(h->nout, 1, "tenant 3: one pending open");
	h->lport = 10;
	syn_from(1001, 1);
	cr_assert_eq(h->nout, 2, "tenant 4 unaffected");
	struct tcp_tenant_stats t;
	tcp_tenant_stats(h->st, 3, &t);
	cr_assert_eq(t.half_open, 1);
	/* complete tenant 3's handshake, then fill its established quota */
	h->lport = 9;
	h_clear(h);
	uint32_t iss;
	struct tcp_conn *c;
	age(200); /* the pending ones give up */
	h_clear(h);
	h->rport = 2001;
	cr_assert_eq(tcp_listen(h->st, TCP_AF_INET, NULL, 9, 3, 0), -EADDRINUSE);
	h_send(h, 10, 0, TH_SYN, 65535, NULL, 0, NULL, 0);
	struct h_seg s;
	h_out(h, 0, &s);
	iss = s.seq;
	h_send(h, 11, iss + 1, TH_ACK, 65535, NULL, 0, NULL, 0);
	c = h->last_conn;
	cr_assert_eq(tcp_state(c), TCP_ESTABLISHED);
	h_clear(h);
	h->rport = 2002;
	h_send(h, 10, 0, TH_SYN, 65535, NULL, 0, NULL, 0);
	h_out(h, 0, &s);
	h_send(h, 11, s.seq + 1, TH_ACK, 65535, NULL, 0, NULL, 0);
	h_clear(h);
	h->rport = 2003;
	h_send(h, 10, 0, TH_SYN, 65535, NULL, 0, NULL, 0);
	cr_assert_eq(h->nout, 0, "tenant 3 at its established bound");
	tcp_tenant_stats(h->st, 3, &t);
	cr_assert_eq(t.established, 2);
	cr_assert_eq(stats().limit_established, 1);
}

Test(limits, connection_table_full)
{
	struct tcp_config cfg = { .max_conns = 2 };
	h_init(h, &cfg, TCP_AF_INET);
	cr_assert_not_null(tcp_connect(h->st, TCP_AF_INET, &h->local, 1, &h->remote, 80, 0));
	cr_assert_not_null(tcp_connect(h->st, TCP_AF_INET, &h->local, 2, &h->remote, 80, 0));
	errno = 0;
	cr_assert_null(tcp_connect(h->st, TCP_AF_INET, &h->local, 3, &h->remote, 80, 0));
	cr_assert_eq(errno, ENOSPC);
	errno = 0;
	cr_assert_null(tcp_connect(h->st, TCP_AF_INET, &h->local, 1, &h->remote, 80, 0));
	cr_assert_eq(errno, EADDRINUSE);
	cr_assert_null(tcp_connect(h->st, TCP_AF_INET, &h->local, 4, &h->remote, 80, 999));
	cr_assert_eq(errno, EINVAL, "unknown tenant");
}

/* A refused tcp_connect() leaves the stack running: its clock moves, its
 * output is flushed and the connections it frees are reaped. (It used to
 * return on EADDRINUSE and ENOSPC from inside the stack, whose call depth
 * then stayed raised: the worker's whole TCP froze.) Connection a opens
 * from port 1, then one from port `port` is refused with `err`. */
static void refused_connect(struct tcp_config *cfg, uint16_t tenant, uint16_t port, int err)
{
	h_init(h, cfg, TCP_AF_INET);
	struct tcp_conn *a = tcp_connect(h->st, TCP_AF_INET, &h->local, 1, &h->remote, 80, tenant);
	cr_assert_not_null(a);
	errno = 0;
	cr_assert_null(tcp_connect(h->st, TCP_AF_INET, &h->local, port, &h->remote, 80, tenant));
	cr_assert_eq(errno, err);
	h_clear(h);
	h_advance(h, 1000000); /* a's SYN times out (rto_init_us, 1 s) */
	cr_assert_eq(h->nout, 1, "a's SYN is retransmitted after its RTO (clock stopped?)");
	uint32_t conns = stats().conns;
	tcp_abort(a);
	cr_assert_eq(stats().conns, conns - 1, "an aborted connection is reaped");
	h_clear(h);
	cr_assert_not_null(tcp_connect(h->st, TCP_AF_INET, &h->local, 7, &h->remote, 80, tenant));
	cr_assert_eq(h->nout, 1, "a new connection's SYN leaves at once (output not flushed?)");
}

Test(limits, connect_in_use_leaves_stack_running)
{
	refused_connect(NULL, 0, 1, EADDRINUSE);
}

Test(limits, connect_over_tenant_bound_leaves_stack_running)
{
	struct tcp_config cfg = { .tenant_max_half_open = 1 };
	refused_connect(&cfg, 3, 2, ENOSPC);
}

Test(limits, connect_table_full_leaves_stack_running)
{
	struct tcp_config cfg = { .max_conns = 1 };
	refused_connect(&cfg, 0, 2, ENOSPC);
}

Test(limits, syn_cookies_when_half_open_full)
{
	struct tcp_config cfg = { .max_half_open = 1 };
	h_init(h, &cfg, TCP_AF_INET);
	cr_assert_eq(tcp_listen(h->st, TCP_AF_INET, &h->local, 9, 0,
				TCP_LISTEN_SYNCOOKIES), 0);
	syn_from(1001, 500);
	h_clear(h);
	uint8_t o[4];
	syn_from(1002, 7000);
	h_send(h, 7000, 0, TH_SYN, 65535, o, o_mss(o, 1400), NULL, 0);
	cr_assert_eq(stats().syncookies_sent, 2);
	cr_assert_eq(stats().conns, 1, "no state for the cookie SYN");
	struct h_seg s;
	h_out(h, 1, &s);
	cr_assert_eq(s.flags, TH_SYN | TH_ACK);
	cr_assert_eq(s.ack, 7001);
	cr_assert(s.opt.has_mss && s.opt.mss == 1400);
	cr_assert(!s.opt.has_ts && !s.opt.has_wscale && !s.opt.sack_ok);
	cr_assert(s.csum_ok);
	uint32_t cookie = s.seq;
	h_clear(h);
	/* a forged cookie: RST, nothing created */
	h_send(h, 7001, cookie + 1 + 8, TH_ACK, 65535, NULL, 0, NULL, 0);
	cr_assert_eq(stats().syncookies_bad, 1);
	cr_assert_eq(stats().conns, 1);
	h_clear(h);
	/* the right one, with data: established at once, data delivered */
	h->now += 70000000; /* within the next cookie period */
	h_send(h, 7001, cookie + 1, TH_ACK | TH_PSH, 65535, NULL, 0, "ping", 4);
	cr_assert_eq(stats().syncookies_ok, 1);
	cr_assert(h->events & TCP_EV_CONNECTED);
	struct tcp_conn *c = h->last_conn;
	cr_assert_eq(tcp_state(c), TCP_ESTABLISHED);
	cr_assert_eq(c->snd_mss, 1400);
	char b[8];
	cr_assert_eq(tcp_read(c, b, 8), 4);
	cr_assert_eq(memcmp(b, "ping", 4), 0);
	cr_assert_eq(tcp_write(c, "pong", 4), 4);
	h_out(h, h->nout - 1, &s);
	cr_assert_eq(s.seq, cookie + 1);
	cr_assert_eq(memcmp(s.payload, "pong", 4), 0);
}

Test(limits, syn_cookie_expires)
{
	struct tcp_config cfg = { .max_half_open = 1 };
	h_init(h, &cfg, TCP_AF_INET);
	cr_assert_eq(tcp_listen(h->st, TCP_AF_INET, NULL, 9, 0, TCP_LISTEN_SYNCOOKIES), 0);
	syn_from(1001, 500);
	h_clear(h);
	syn_from(1002, 7000);
	struct h_seg s;
	h_out(h, 0, &s);
	h->now += 3 * 64 * 1000000ull;
	h_send(h, 7001, s.seq + 1, TH_ACK, 65535, NULL, 0, NULL, 0);
	cr_assert_eq(stats().syncookies_bad, 1, "two periods later: refused");
}

Test(limits, tenant_buffer_budget)
{
	struct tcp_config cfg = { .tenant_max_buffer = 5000 };
	h_init(h, &cfg, TCP_AF_INET);
	struct tcp_conn *a = tcp_connect(h->st, TCP_AF_INET, &h->local, 1, &h->remote, 80, 2);
	struct tcp_conn *b = tcp_connect(h->st, TCP_AF_INET, &h->local, 2, &h->remote, 80, 2);
	struct tcp_conn *o = tcp_connect(h->st, TCP_AF_INET, &h->local, 3, &h->remote, 80, 5);
	static uint8_t d[8000];
	cr_assert_eq(tcp_write(a, d, 3000), 3000);
	cr_assert_eq(tcp_write(b, d, 3000), 2000, "the tenant's budget is shared");
	cr_assert_eq(tcp_write(b, d, 1), 0);
	cr_assert_eq(tcp_write(o, d, 8000), 5000, "other tenants unaffected");
	struct tcp_tenant_stats t;
	tcp_tenant_stats(h->st, 2, &t);
	cr_assert_eq(t.buffered, 5000);
	tcp_abort(a);
	tcp_tenant_stats(h->st, 2, &t);
	cr_assert_eq(t.buffered, 2000, "released with the connection");
}

Test(limits, ten_thousand_idle_connections)
{
	struct tcp_config cfg = { .max_conns = 10240, .max_half_open = 10240 };
	h_init(h, &cfg, TCP_AF_INET);
	cr_assert_eq(tcp_listen(h->st, TCP_AF_INET, NULL, 9, 0, 0), 0);
	for (unsigned i = 0; i < 10000; i++) {
		h->rport = (uint16_t)(10000 + i);
		h_send(h, 100, 0, TH_SYN, 65535, NULL, 0, NULL, 0);
		struct h_seg s;
		h_out(h, 0, &s);
		h_send(h, 101, s.seq + 1, TH_ACK, 65535, NULL, 0, NULL, 0);
		h_clear(h);
	}
	cr_assert_eq(stats().established, 10000);
	cr_assert_eq(rte_mempool_in_use_count(h->mp), 0, "idle: no mbuf held");
	size_t per = sizeof(struct tcp_conn) + sizeof(uint32_t) * 2; /* entry + bucket */
	cr_log_info("bytes per idle connection: %zu", per);
	cr_assert_leq(per, 1024);
	/* the table still finds every one of them */
	h->rport = 10000 + 4321;
	h_send(h, 101, 0, TH_RST, 0, NULL, 0, NULL, 0);
	cr_assert_eq(stats().established, 9999);
}

/* With tcp_config.seg_pool, segments built for output come from a pool of
 * their own: data queued for sending may take every mbuf of the stack's
 * pool (queues of other connections) and still go out. Without it the
 * segment finds no mbuf, nothing is sent, nothing acknowledged: the
 * tenant channel froze under load this way. */
Test(limits, segments_from_their_own_pool)
{
	h_eal();
	struct rte_mempool *seg = rte_pktmbuf_pool_create("tseg", 255, 0, 0,
							  RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	cr_assert_not_null(seg);
	struct tcp_config cfg = { .seg_pool = seg };
	h_init(h, &cfg, TCP_AF_INET);
	uint8_t o[4];
	uint32_t iss;
	struct tcp_conn *c = h_accept(h, 1000, o, o_mss(o, 1000), &iss);
	/* the stack's pool held elsewhere but for 4 mbufs: room for queued data */
	static struct rte_mbuf *held[4096];
	unsigned n = 0;
	while (rte_mempool_avail_count(h->mp) > 4 && n < 4096)
		held[n++] = rte_pktmbuf_alloc(h->mp);
	/* takes what fits in the 4 mbufs left: none remains for a segment */
	static uint8_t d[16384];
	long k = tcp_write(c, d, sizeof(d));
	cr_assert_gt(k, 6000, "queued in the 4 mbufs left");
	cr_assert_eq(rte_mempool_avail_count(h->mp), 0);
	uint32_t sent = 0;
	for (unsigned i = 0; i < h->nout; i++) {
		struct h_seg s;
		h_out(h, i, &s);
		cr_assert_eq(h->out[i]->pool, seg, "segment %u from the segment pool", i);
		sent += s.len;
	}
	cr_assert_eq(sent, (uint32_t)k, "every byte queued was sent (%u of %ld)", sent, k);
	h_clear(h);
	for (unsigned i = 0; i < n; i++)
		rte_pktmbuf_free(held[i]);
	h_fini(h);
	rte_mempool_free(seg);
}

/* A second connection of the listener on port 9, from the peer's `port`
 * (MSS 1000, no options), established. */
static struct tcp_conn *accept_more(uint16_t port, uint32_t *iss)
{
	uint8_t o[4];
	h->rport = port;
	h_send(h, 5000, 0, TH_SYN, 65535, o, o_mss(o, 1000), NULL, 0);
	struct h_seg s;
	h_out(h, 0, &s);
	*iss = s.seq;
	h_clear(h);
	h_send(h, 5001, s.seq + 1, TH_ACK, 65535, NULL, 0, NULL, 0);
	cr_assert(h->events & TCP_EV_CONNECTED);
	struct tcp_conn *c = h->last_conn;
	h_clear(h);
	return c;
}

static struct tcp_conn *starved_conn;
static unsigned starved_woken;

static void count_writable(struct harness *hh, struct tcp_conn *c, uint32_t ev)
{
	(void)hh;
	if (c == starved_conn && (ev & TCP_EV_WRITABLE))
		starved_woken++;
}

/* A write refused for the tenant's budget (room other connections hold)
 * gets TCP_EV_WRITABLE once that room frees, though no ACK of its own
 * ever comes: b has nothing in flight. Without tcp_poll()'s look at the
 * starved writers b waited forever (the channel's test stalled so). */
Test(limits, writer_refused_by_the_budget_is_woken)
{
	struct tcp_config cfg = { .sndbuf = 16384, .tenant_max_buffer = 20000 };
	h_init(h, &cfg, TCP_AF_INET);
	uint8_t o[4];
	uint32_t ia, ib;
	struct tcp_conn *a = h_accept(h, 1000, o, o_mss(o, 1000), &ia);
	struct tcp_conn *b = accept_more(40001, &ib);
	static uint8_t d[16384];
	cr_assert_eq(tcp_write(a, d, sizeof(d)), 16384);
	cr_assert_eq(tcp_write(b, d, sizeof(d)), 20000 - 16384, "the rest of the budget");
	cr_assert_eq(tcp_writable(b), 0);
	starved_conn = b;
	starved_woken = 0;
	h->on_event = count_writable;
	/* the peer acknowledges what a sent (its initial window): the tenant's
	 * budget has room again, b hears nothing from the wire */
	uint32_t acked = 0;
	h->rport = 40000;
	for (unsigned i = 0; i < h->nout; i++) {
		struct h_seg s;
		h_out(h, i, &s);
		if (s.dport == 40000)
			acked += s.len;
	}
	cr_assert_gt(acked, 4096);
	h_clear(h);
	h_send(h, 1001, ia + 1 + acked, TH_ACK, 65535, NULL, 0, NULL, 0);
	cr_assert_geq(tcp_writable(b), 4096);
	for (int ms = 0; ms < 5 && !starved_woken; ms++)
		h_advance(h, 1000);
	cr_assert_eq(starved_woken, 1, "b told writable within 5 ms");
	h->on_event = NULL;
}
