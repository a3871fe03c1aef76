/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_relay.c - the relay (dataplane/relay.c) end to end in one process,
 * on four TCP engine stacks and an injected clock:
 *
 *   client stack --segments--> A's LAN stack (tcp_intercept) [relay A]
 *                                                   | channel bytes (mux)
 *   server stack <--segments-- B's LAN stack (tcp_connect)   [relay B]
 *
 * The client opens 198.18.0.1:40000 -> 198.18.1.1:873; A holds its SYN and
 * sends OPEN; B checks it against its copy of the tenant's rule (the real
 * relay_open_check(): 198.18.0.0/24 -> 198.18.1.0/24 port 873, untagged,
 * B's LAN address 198.18.1.254/24) and opens the connection
 * to the server as the client; the server's answer decides the client's
 * handshake. Segments move whole between stacks (no loss here: the engine
 * has its own tests for that); every mbuf is back in the pool at the end.
 */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "channel_wire.h"
#include "icmp_error.h"
#include "relay.h"
#include "tcp.h"
#include "test_eal.h"

enum { TENANT = 1, QMAX = 65536, PORT = 873, CPORT = 40000, NAPPS = 256 };

struct queue {
	struct rte_mbuf *m[QMAX];
	unsigned n;
};

struct app {                 /* a Linux-like end: client or server */
	struct tcp_conn *c;
	const uint8_t *src;
	size_t len, off;
	bool close_after, closed, connected, got_fin, got_reset;
	size_t abort_after;      /* server: RST after this many bytes in */
	bool stopped;            /* reads nothing */
	uint8_t *got;
	size_t got_len, got_cap;
};

struct world {
	struct rte_mempool *mp;
	uint64_t now;
	struct tcp_stack *client, *a, *b, *server;
	struct queue to_a, to_client, to_b, to_server;
	struct relay *ra, *rb;
	void *ma, *mb;
	struct app cli, srv;          /* connection 0 */
	struct app clis[NAPPS], srvs[NAPPS]; /* connection i > 0 */
	bool server_silent;      /* segments to the server vanish */
	bool no_listener;
	unsigned released_a, released_b, unreach;
	/* B's flow entries as relay_hook.c pins them, by connection i
	 * (client port CPORT + i): pinned by originate(), unpinned by
	 * release(); releases of an entry not pinned */
	bool pinned_b[NAPPS];
	unsigned unpinned_twice;
	struct tcp_refused unreach_q;
	struct chan_refused unreach_rf;
	bool keep_server_syn;     /* with server_silent: keep B's SYN here */
	uint8_t refused_to_a[64];  /* REFUSED reasons B sent, by flow id / 2 */
	struct rte_mbuf *server_syn;
	uint8_t *wire;
};

static struct world W;

static uint64_t clock_us(void *ctx)
{
	return W.now;
}

static void push(struct queue *q, struct rte_mbuf **p, uint16_t n)
{
	for (uint16_t i = 0; i < n; i++) {
		if (q->n < QMAX)
			q->m[q->n++] = p[i];
		else
			rte_pktmbuf_free(p[i]);
	}
}

static void out_client(void *ctx, struct rte_mbuf **p, uint16_t n) { push(&W.to_a, p, n); }
static void out_a(void *ctx, struct rte_mbuf **p, uint16_t n) { push(&W.to_client, p, n); }
static void out_b(void *ctx, struct rte_mbuf **p, uint16_t n) { push(&W.to_server, p, n); }
static void out_server(void *ctx, struct rte_mbuf **p, uint16_t n) { push(&W.to_b, p, n); }

/* ---- the Linux-like ends ---- */

static void app_pump(struct app *e)
{
	while (e->c && e->off < e->len) {
		long k = tcp_write(e->c, e->src + e->off, e->len - e->off);

		if (k <= 0)
			break;
		e->off += (size_t)k;
	}
	if (e->c && e->off == e->len && e->close_after && !e->closed) {
		tcp_shutdown(e->c);
		e->closed = true;
	}
}

static void app_read(struct app *e)
{
	uint8_t buf[16384];
	long k;

	if (e->stopped)
		return;
	while (e->c && (k = tcp_read(e->c, buf, sizeof(buf))) > 0) {
		if (e->got_len + (size_t)k > e->got_cap) {
			e->got_cap = (e->got_len + (size_t)k) * 2;
			e->got = realloc(e->got, e->got_cap);
		}
		memcpy(e->got + e->got_len, buf, (size_t)k);
		e->got_len += (size_t)k;
		if (e->abort_after && e->got_len >= e->abort_after) {
			tcp_abort(e->c);
			e->c = NULL;
			return;
		}
	}
}

static void app_event(struct app *e, struct tcp_conn *c, uint32_t ev)
{
	if (ev & TCP_EV_CONNECTED) {
		e->c = c;
		e->connected = true;
	}
	if (ev & TCP_EV_RESET)
		e->got_reset = true;
	if (ev & (TCP_EV_READABLE | TCP_EV_PEER_FIN))
		app_read(e);
	if (e->c && (ev & TCP_EV_PEER_FIN))
		e->got_fin = true;
	if (e->c && (ev & (TCP_EV_CONNECTED | TCP_EV_WRITABLE)))
		app_pump(e);
	if (ev & TCP_EV_CLOSED) {
		if (e->c == c)
			e->c = NULL;
		tcp_close(c);
	}
}

/* The end of connection i: client port CPORT + i. */
static struct app *app_of(struct tcp_conn *c, bool server)
{
	struct tcp_addr l, r;
	uint16_t lp, rp;
	uint8_t af;
	unsigned i;

	tcp_conn_tuple(c, &af, &l, &lp, &r, &rp);
	i = (unsigned)(server ? rp : lp) - CPORT;
	cr_assert_lt(i, NAPPS);
	if (!i)
		return server ? &W.srv : &W.cli;
	return server ? &W.srvs[i] : &W.clis[i];
}

static void ev_client(void *ctx, struct tcp_conn *c, uint32_t ev) { app_event(app_of(c, false), c, ev); }
static void ev_server(void *ctx, struct tcp_conn *c, uint32_t ev) { app_event(app_of(c, true), c, ev); }

/* ---- what the relays ask of their worker ---- */

/* B's copy of the tenant's rule and of its own addresses (a whole config
 * is 13.5 MB: filled in place, never on the stack). */
static void rule_cfg(struct strait_config *c)
{
	struct strait_tenant_cfg *t = &c->tenants[0];

	c->n_tenants = 1;
	c->appliance.lan.addr4 = (struct strait_prefix){ 4, 24, { 198, 18, 1, 254 } };
	c->appliance.wan.addr4 = (struct strait_prefix){ 4, 24, { 198, 19, 0, 1 } };
	t->client[0] = (struct strait_prefix){ 4, 24, { 198, 18, 0, 0 } };
	t->server[0] = (struct strait_prefix){ 4, 24, { 198, 18, 1, 0 } };
	t->n_client = t->n_server = 1;
	t->ports[0] = (struct strait_port_range){ PORT, PORT };
	t->n_ports = 1;
	t->inner_local = (struct strait_addr){ 4, { 169, 254, 0, 2 } };
	t->inner_peer = (struct strait_addr){ 4, { 169, 254, 0, 1 } };
}

static enum relay_refusal check_open(void *ctx, const struct chan_open *o)
{
	static struct strait_config cfg;

	if (!cfg.n_tenants)
		rule_cfg(&cfg);
	return relay_open_check(&cfg, 0, o);
}

static int originate(void *ctx, const struct chan_open *o)
{
	unsigned i = (unsigned)o->client_port - CPORT;

	cr_assert_lt(i, NAPPS);
	W.pinned_b[i] = true;
	return 0;
}

static void release(void *ctx, struct tcp_conn *c, const struct chan_open *o)
{
	struct tcp_addr l, r;
	uint16_t lp = 0, rp;
	uint8_t af;
	unsigned i;

	if (ctx == &W.ra) {
		W.released_a++;
		return;
	}
	W.released_b++;
	if (c)
		tcp_conn_tuple(c, &af, &l, &lp, &r, &rp);
	i = (unsigned)(c ? lp : o->client_port) - CPORT;
	cr_assert_lt(i, NAPPS);
	W.unpinned_twice += !W.pinned_b[i];
	W.pinned_b[i] = false;
}

static bool syn_l2(void *ctx, struct tcp_conn *c, struct chan_open *o)
{
	static const uint8_t cmac[6] = { 2, 0, 0, 0, 0, 1 }, smac[6] = { 2, 0, 0, 0, 0, 2 };

	memcpy(o->src_mac, cmac, 6);
	memcpy(o->dst_mac, smac, 6);
	return true;
}

static void unreachable(void *ctx, uint32_t conn, const struct tcp_refused *q,
			const struct chan_refused *rf)
{
	W.unreach++;
	W.unreach_q = *q;
	W.unreach_rf = *rf;
}

static const struct relay_env env = {
	.check_open = check_open, .originate = originate, .release = release,
	.syn_l2 = syn_l2, .unreachable = unreachable,
};

static struct tcp_stack *stack(void (*out)(void *, struct rte_mbuf **, uint16_t),
			       void (*ev)(void *, struct tcp_conn *, uint32_t))
{
	struct tcp_config cfg = { .max_conns = 1024, .max_tenants = 4, .sndbuf = 256u << 10,
				  .rcvbuf = 256u << 10 };
	struct tcp_ops ops = { clock_us, out, ev };
	struct tcp_stack *st;

	cfg.secret[0] = 1;
	st = tcp_stack_create(&cfg, &ops, NULL, W.mp);
	cr_assert(st);
	return st;
}

static void ev_none(void *ctx, struct tcp_conn *c, uint32_t ev)
{
}

static struct relay *relay_new(struct tcp_stack *lan, enum chan_role role, void **mem,
			       void *ctx)
{
	struct relay_config cfg = { .stack_tenant = TENANT };
	size_t n;
	struct relay *r;

	cfg.mux.codec.capacity = 4u << 20;
	cfg.mux.max_flows = NAPPS;
	cfg.mux.raw_window = 128u << 10;
	cfg.mux.out_window = 64u << 10;
	cfg.mux.role = role;
	chan_mux_config_defaults(&cfg.mux);
	n = relay_size(&cfg);
	*mem = aligned_alloc(64, (n + 63) & ~(size_t)63);
	r = relay_create(*mem, n, &cfg, lan, &env, ctx);
	cr_assert(r);
	return r;
}

static bool step(void);

/* Notes the REFUSED frames in B's bytes toward A (whole frames). */
static void tap_refused(const uint8_t *p, size_t n)
{
	struct chan_frame f;
	long k;

	while (n && (k = chan_frame_parse(p, n, &f)) > 0) {
		if (f.type == CHAN_REFUSED && f.flow / 2 < sizeof(W.refused_to_a))
			W.refused_to_a[f.flow / 2] = f.refused.reason;
		p += k;
		n -= (size_t)k;
	}
}

static void setup(void)
{
	static bool eal;
	static int pools;
	char name[16];

	if (!eal) {
		cr_assert_geq(test_eal_init("relay", 160), 0);
		eal = true;
	}
	memset(&W, 0, sizeof(W));
	snprintf(name, sizeof(name), "rl%d", pools++);
	W.mp = rte_pktmbuf_pool_create(name, 32767, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
				       SOCKET_ID_ANY);
	cr_assert(W.mp);
	W.now = 1000000;
	W.client = stack(out_client, ev_client);
	W.a = stack(out_a, ev_none);
	W.b = stack(out_b, ev_none);
	W.server = stack(out_server, ev_server);
	W.ra = relay_new(W.a, CHAN_ROLE_CONNECT, &W.ma, &W.ra);
	W.rb = relay_new(W.b, CHAN_ROLE_ACCEPT, &W.mb, &W.rb);
	W.wire = malloc(1u << 20);
	relay_channel_up(W.ra, W.now);
	relay_channel_up(W.rb, W.now);
	for (int i = 0; i < 3; i++)
		step();
	cr_assert(relay_up(W.ra) && relay_up(W.rb));
}

static void teardown(void)
{
	struct queue *qs[] = { &W.to_a, &W.to_client, &W.to_b, &W.to_server };

	relay_destroy(W.ra);
	relay_destroy(W.rb);
	for (unsigned i = 0; i < 4; i++)
		for (unsigned k = 0; k < qs[i]->n; k++)
			rte_pktmbuf_free(qs[i]->m[k]);
	rte_pktmbuf_free(W.server_syn);
	tcp_stack_destroy(W.client);
	tcp_stack_destroy(W.a);
	tcp_stack_destroy(W.b);
	tcp_stack_destroy(W.server);
	cr_assert_eq(rte_mempool_in_use_count(W.mp), 0, "mbufs leaked: %u",
		     rte_mempool_in_use_count(W.mp));
	rte_mempool_free(W.mp);
	free(W.ma);
	free(W.mb);
	free(W.wire);
	free(W.cli.got);
	free(W.srv.got);
	for (unsigned i = 0; i < NAPPS; i++) {
		free(W.clis[i].got);
		free(W.srvs[i].got);
	}
}

/* Moves everything queued one hop; returns true when anything moved. */
static bool step(void)
{
	struct queue q;
	bool moved = false;
	size_t n;

#define DRAIN(queue, body)                                   \
	q = W.queue;                                         \
	W.queue.n = 0;                                       \
	moved |= q.n > 0;                                    \
	for (unsigned i = 0; i < q.n; i++) {                 \
		struct rte_mbuf *m = q.m[i];                 \
		body;                                        \
	}
	DRAIN(to_a, tcp_intercept(W.a, m, TENANT));
	DRAIN(to_client, tcp_input(W.client, &m, 1));
	DRAIN(to_b, tcp_intercept(W.b, m, TENANT));
	DRAIN(to_server, if (W.keep_server_syn && !W.server_syn) W.server_syn = m;
	      else if (W.server_silent) rte_pktmbuf_free(m); else tcp_input(W.server, &m, 1));
#undef DRAIN
	n = relay_channel_tx(W.ra, W.wire, 1u << 20, W.now);
	cr_assert_eq(relay_channel_rx(W.rb, W.wire, n), 0);
	moved |= n > 0;
	n = relay_channel_tx(W.rb, W.wire, 1u << 20, W.now);
	tap_refused(W.wire, n);
	cr_assert_eq(relay_channel_rx(W.ra, W.wire, n), 0);
	moved |= n > 0;
	W.now += 50;
	tcp_poll(W.client);
	tcp_poll(W.a);
	tcp_poll(W.b);
	tcp_poll(W.server);
	return moved;
}

static void run(unsigned max_steps)
{
	unsigned idle = 0;

	for (unsigned i = 0; i < max_steps && idle < 100; i++)
		idle = step() ? 0 : idle + 1;
}

/* Jumps the clock through timers (retransmissions, pending timeouts). */
static void run_time(uint64_t us)
{
	uint64_t end = W.now + us;

	while (W.now < end) {
		if (!step())
			W.now += 10000;
	}
}

static void client_open_i(unsigned i, uint16_t port)
{
	struct tcp_addr c = { { 198, 18, 0, 1 } }, s = { { 198, 18, 1, 1 } };

	cr_assert(tcp_connect(W.client, TCP_AF_INET, &c, (uint16_t)(CPORT + i), &s, port, 0));
}

static void client_open(uint16_t port)
{
	client_open_i(0, port);
}

static void server_listen(void)
{
	struct tcp_addr s = { { 198, 18, 1, 1 } };

	cr_assert_eq(tcp_listen(W.server, TCP_AF_INET, &s, PORT, 0, 0), 0);
}

static uint8_t *bytes(size_t n, uint32_t seed)
{
	uint8_t *p = malloc(n);

	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (uint8_t)(seed >> 16);
	}
	return p;
}

TestSuite(relay, .init = setup, .fini = teardown);

/* 1 MiB each way, closes from both sides: byte-exact, everything released. */
Test(relay, mib_each_way)
{
	size_t n = 1u << 20;
	uint8_t *up = bytes(n, 1), *down = bytes(n, 2);
	struct relay_stats a, b;

	server_listen();
	W.cli = (struct app){ .src = up, .len = n, .close_after = true };
	W.srv = (struct app){ .src = down, .len = n, .close_after = true };
	client_open(PORT);
	run(200000);
	cr_assert(W.cli.connected && W.srv.connected);
	cr_assert_eq(W.srv.got_len, n);
	cr_assert(!memcmp(W.srv.got, up, n));
	cr_assert_eq(W.cli.got_len, n);
	cr_assert(!memcmp(W.cli.got, down, n));
	cr_assert(W.cli.got_fin && W.srv.got_fin);
	cr_assert(!W.cli.got_reset && !W.srv.got_reset);
	relay_stats(W.ra, &a);
	relay_stats(W.rb, &b);
	cr_assert_eq(a.intercepted, 1);
	cr_assert_eq(b.originated, 1);
	cr_assert_eq(a.mux.done, 1);
	cr_assert_eq(b.mux.done, 1);
	cr_assert_eq(a.mux.active + b.mux.active, 0);
	cr_assert_eq(W.released_a, 1);
	cr_assert_eq(W.released_b, 1);
	free(up);
	free(down);
}

/* The client closes its side first; the server still sends, then closes:
 * the half-close is relayed after every byte before it. */
Test(relay, half_close)
{
	uint8_t *up = bytes(5000, 3), *down = bytes(300000, 4);

	server_listen();
	W.cli = (struct app){ .src = up, .len = 5000, .close_after = true };
	W.srv = (struct app){ .src = down, .len = 0 };
	client_open(PORT);
	run(100000);
	cr_assert_eq(W.srv.got_len, 5000);
	cr_assert(W.srv.got_fin, "the client's FIN reached the server");
	cr_assert(!W.cli.got_fin);
	/* the server answers after the client's FIN, then closes */
	W.srv.len = 300000;
	W.srv.close_after = true;
	app_pump(&W.srv);
	run(100000);
	cr_assert_eq(W.cli.got_len, 300000);
	cr_assert(!memcmp(W.cli.got, down, 300000));
	cr_assert(W.cli.got_fin);
	free(up);
	free(down);
}

/* An OPEN outside B's rule: refused by policy, the client gets a RST. */
Test(relay, outside_rule_refused)
{
	struct relay_stats b;

	server_listen();
	client_open(PORT + 1);
	run(10000);
	cr_assert(W.cli.got_reset);
	cr_assert(!W.cli.connected);
	relay_stats(W.rb, &b);
	cr_assert_eq(b.mux.refused_policy, 1);
	cr_assert_eq(b.originated, 0);
}

/* A peer's OPEN (flow id, case n): a well-formed one for 198.18.0.1:port
 * -> 198.18.1.1:873, untagged, then case n's change. Cases up to
 * HOSTILE_RULES change fields the wire allows and B's rule does not (the
 * reason B counts is want[n]); later ones break the wire's ranges in a
 * whole frame (raw bytes: the writer would refuse them). */
enum { HOSTILE_RULES = 19, HOSTILE_CASES = 30, MALFORMED = 99 };

static size_t hostile_open(unsigned n, uint32_t id, uint8_t *b)
{
	static const uint8_t cmac[6] = { 2, 0, 0, 0, 0, 1 }, smac[6] = { 2, 0, 0, 0, 0, 2 };
	struct chan_frame fr = { .type = CHAN_OPEN, .flow = id };
	struct chan_open *o = &fr.open;
	uint8_t *body = b + CHAN_HEADER_SIZE;
	size_t len;

	o->af = 4;
	o->mss = 1460;
	o->client_port = (uint16_t)(CPORT + 100 + n);
	o->server_port = PORT;
	memcpy(o->client, (uint8_t[]){ 198, 18, 0, 1 }, 4);
	memcpy(o->server, (uint8_t[]){ 198, 18, 1, 1 }, 4);
	memcpy(o->src_mac, cmac, 6);
	memcpy(o->dst_mac, smac, 6);
	o->credit = 65536;
	switch (n) {
	case 1: o->nvlan = 1; o->tpid[0] = 0x8100; o->tci[0] = 100; break; /* VLAN 100 */
	case 2: o->nvlan = 1; o->tpid[0] = 0x8100; o->tci[0] = 0x2000 | 4094; break;
	case 3: o->nvlan = 2; o->tpid[0] = 0x88a8; o->tci[0] = 200; /* QinQ */
		o->tpid[1] = 0x8100; o->tci[1] = 300; break;
	case 4: o->nvlan = 2; o->tpid[0] = 0x8100; o->tpid[1] = 0x8100; break; /* 0 in 0 */
	case 5: o->nvlan = 1; o->tpid[0] = 0x88a8; break; /* an S-tag alone */
	case 6: o->server[2] = 2; break;                    /* outside ServerPrefix */
	case 7: o->client[2] = 5; break;                    /* outside ClientPrefix */
	case 8: o->server_port = PORT + 1; break;           /* not in Ports */
	case 9: o->af = 6; memset(o->client, 0, 16); memset(o->server, 0, 16); /* family */
		o->client[0] = 0x20; o->client[15] = 1; o->server[0] = 0x20; o->server[15] = 2; break;
	case 10: o->server[3] = 254; break;                 /* B's own LAN address */
	case 11: o->server[3] = 255; break;                 /* the LAN's broadcast */
	case 12: o->server[3] = 0; break;                   /* the LAN's network */
	case 13: memcpy(o->client, (uint8_t[]){ 127, 0, 0, 1 }, 4); break;
	case 14: memcpy(o->server, (uint8_t[]){ 224, 0, 0, 1 }, 4); break;
	case 15: memcpy(o->client, (uint8_t[]){ 169, 254, 0, 2 }, 4); break; /* our inner */
	case 16: memcpy(o->server, (uint8_t[]){ 169, 254, 1, 1 }, 4); break; /* link-local */
	case 17: memcpy(o->client, (uint8_t[]){ 192, 0, 2, 1 }, 4); break; /* TEST-NET-1 */
	case 18: o->mss = 40; break;                        /* tiny MSS */
	case 19: o->mss = 1; break;
	}
	len = chan_frame_write(b, 1024, &fr);
	cr_assert_eq(len, CHAN_HEADER_SIZE + CHAN_OPEN_SIZE, "case %u", n);
	switch (n) { /* body offsets: channel_wire.h */
	case 20: body[4] = 5; break;                        /* af 5 */
	case 21: body[5] = 3; break;                        /* 3 tags */
	case 22: body[6] = 8; break;                        /* SYN flag bit 3 */
	case 23: body[6] = CHAN_SYN_WSCALE; body[7] = 15; break;
	case 24: body[7] = 3; break;                        /* wscale, no flag */
	case 25: body[14] = 1; break;                       /* reserved */
	case 26: body[5] = 1; body[16] = 0x12; body[17] = 0x34; break; /* TPID */
	case 27: body[20] = 7; break;                       /* TCI of no tag */
	case 28: body[36 + 15] = 1; break;                  /* IPv4 past 4 bytes */
	case 29: body[10] = body[11] = 0; break;            /* client port 0 */
	case 30: body[12] = body[13] = 0; break;            /* server port 0 */
	}
	return len;
}

/* Hostile OPENs into B while a flow runs: each is refused (REFUSED policy
 * to the peer) and counted by reason; nothing reaches the server's LAN
 * for them; the running flow, the session and the channel are not
 * disturbed. */
Test(relay, hostile_opens_refused)
{
	static const int want[HOSTILE_RULES + 1] = {
		[1 ... 5] = RELAY_OPEN_VLAN, [6 ... 9] = RELAY_OPEN_RULE,
		[10 ... 17] = RELAY_OPEN_ADDR,
		[18 ... 19] = RELAY_OPEN_OPTIONS,
	};
	size_t n = 1u << 20;
	uint8_t *up = bytes(n, 11), frame[1024];
	unsigned count[RELAY_OPEN_REASONS] = { 0 };
	struct relay_stats b;

	server_listen();
	W.cli = (struct app){ .src = up, .len = n, .close_after = true };
	client_open(PORT);
	for (unsigned i = 0; i < 1000 && !W.srv.got_len; i++)
		step();
	cr_assert(W.cli.connected && W.srv.connected, "the flow is open");
	cr_assert_lt(W.srv.got_len, n, "and still running");
	for (unsigned i = 1; i <= HOSTILE_CASES; i++) {
		size_t len = hostile_open(i, i << 1 | CHAN_ROLE_CONNECT, frame);

		cr_assert_eq(relay_channel_rx(W.rb, frame, len), 0, "case %u broke the session", i);
		count[i <= HOSTILE_RULES ? want[i] : 0]++;
	}
	run(200000);
	for (unsigned i = 1; i <= HOSTILE_CASES; i++) {
		cr_expect_eq(W.refused_to_a[i], CHAN_REFUSE_POLICY, "case %u: REFUSED %u", i,
			     W.refused_to_a[i]);
		cr_expect(!W.srvs[100 + i].connected, "case %u reached the server", i);
	}
	relay_stats(W.rb, &b);
	for (unsigned r = 1; r < RELAY_OPEN_REASONS; r++)
		cr_expect_eq(b.refused[r], count[r], "reason %u: %lu, want %u", r,
			     (unsigned long)b.refused[r], count[r]);
	cr_expect_eq(b.mux.refused_malformed, HOSTILE_CASES - HOSTILE_RULES);
	cr_expect_eq(b.mux.refused_policy, HOSTILE_CASES);
	cr_expect_eq(b.originated, 1);
	/* the running flow: byte-exact, closed cleanly, the session up */
	cr_assert_eq(W.srv.got_len, n);
	cr_assert(!memcmp(W.srv.got, up, n));
	cr_assert(W.srv.got_fin && !W.srv.got_reset && !W.cli.got_reset);
	cr_assert(relay_up(W.ra) && relay_up(W.rb));
	free(up);
}

/* No listener at the server: its RST comes back to the client as RST. */
Test(relay, server_refuses)
{
	struct relay_stats a;

	client_open(PORT);
	run(10000);
	cr_assert(W.cli.got_reset);
	cr_assert(!W.cli.connected);
	relay_stats(W.ra, &a);
	cr_assert_eq(a.mux.refused_in, 1);
	cr_assert_eq(W.released_a, 1);
	cr_assert_eq(W.released_b, 1);
}

/* A silent server: the client hears nothing (its retransmitted SYNs are
 * absorbed) until A's pending open times out (75 s, before B's own SYNs
 * give up); then the flow ends at both appliances. */
Test(relay, server_silent)
{
	struct tcp_stack_stats sa;
	struct relay_stats a, b;

	W.server_silent = true;
	client_open(PORT);
	run_time(100u * 1000000);
	cr_assert(!W.cli.connected);
	cr_assert(!W.cli.got_reset, "silence is relayed as silence");
	relay_stats(W.ra, &a);
	relay_stats(W.rb, &b);
	tcp_stack_stats(W.a, &sa);
	cr_assert_eq(b.originated, 1);
	cr_assert_eq(sa.pending_timeouts, 1);
	cr_assert_geq(sa.pending_syn_absorbed, 5);
	cr_assert_eq(sa.pending, 0);
	cr_assert_eq(a.mux.active + b.mux.active, 0);
	cr_assert_eq(W.released_a, 1);
	cr_assert_eq(W.released_b, 1);
}

/* The server resets after taking some bytes (split TCP: A acknowledged
 * more than the server took): the client gets a RST, never a clean end. */
Test(relay, server_resets_midway)
{
	size_t n = 2u << 20;
	uint8_t *up = bytes(n, 5);

	server_listen();
	W.cli = (struct app){ .src = up, .len = n, .close_after = true };
	W.srv = (struct app){ .abort_after = 100000 };
	client_open(PORT);
	run(200000);
	cr_assert(W.cli.connected);
	cr_assert(W.cli.got_reset);
	cr_assert(!W.cli.got_fin);
	cr_assert_geq(W.srv.got_len, 100000);
	cr_assert(!memcmp(W.srv.got, up, W.srv.got_len));
	free(up);
}

/* The client resets: the server gets a RST. */
Test(relay, client_resets)
{
	size_t n = 1u << 20;
	uint8_t *up = bytes(n, 6);

	server_listen();
	W.cli = (struct app){ .src = up, .len = n };
	client_open(PORT);
	for (int i = 0; i < 400; i++)
		step();
	cr_assert(W.cli.connected && W.srv.connected);
	cr_assert_gt(W.srv.got_len, 0);
	tcp_abort(W.cli.c);
	W.cli.c = NULL;
	run(10000);
	cr_assert(W.srv.got_reset);
	cr_assert(!memcmp(W.srv.got, up, W.srv.got_len));
	free(up);
}

/* The channel goes down mid-transfer: both ends are reset. */
Test(relay, channel_down)
{
	size_t n = 2u << 20;
	uint8_t *up = bytes(n, 7);

	server_listen();
	W.cli = (struct app){ .src = up, .len = n, .close_after = true };
	client_open(PORT);
	for (int i = 0; i < 400; i++)
		step();
	cr_assert(W.cli.connected && W.srv.connected);
	relay_channel_down(W.ra);
	relay_channel_down(W.rb);
	run(10000);
	cr_assert(W.cli.got_reset);
	cr_assert(W.srv.got_reset);
	free(up);
}

/* 200 connections at once on one channel, each its own bytes plus a part
 * all share, each answered: byte-exact, all released. */
Test(relay, two_hundred_flows)
{
	enum { N = 200, LEN = 30000 };
	uint8_t *up[N], *shared = bytes(LEN / 2, 99), *down = bytes(2000, 98);
	struct relay_stats a, b;

	server_listen();
	for (unsigned i = 1; i <= N; i++) {
		up[i - 1] = bytes(LEN, i + 10);
		memcpy(up[i - 1] + LEN / 4, shared, LEN / 2);
		W.clis[i] = (struct app){ .src = up[i - 1], .len = LEN, .close_after = true };
		W.srvs[i] = (struct app){ .src = down, .len = 2000, .close_after = true };
		client_open_i(i, PORT);
	}
	run(400000);
	for (unsigned i = 1; i <= N; i++) {
		cr_assert_eq(W.srvs[i].got_len, LEN, "flow %u: %zu", i, W.srvs[i].got_len);
		cr_assert(!memcmp(W.srvs[i].got, up[i - 1], LEN), "flow %u", i);
		cr_assert_eq(W.clis[i].got_len, 2000, "flow %u", i);
		cr_assert(!memcmp(W.clis[i].got, down, 2000), "flow %u", i);
		cr_assert(W.clis[i].got_fin && W.srvs[i].got_fin, "flow %u", i);
		free(up[i - 1]);
	}
	relay_stats(W.ra, &a);
	relay_stats(W.rb, &b);
	cr_assert_eq(a.intercepted, N);
	cr_assert_eq(a.mux.done, N);
	cr_assert_eq(a.mux.active + b.mux.active, 0);
	cr_assert_gt(a.mux.cache_hits, N / 2, "the shared part crosses as references");
	free(shared);
	free(down);
}

/* Every connection B's relay holds has its flow entry pinned (else the
 * server's segments would be bridged past it). */
static void run_pinned(unsigned max_steps)
{
	struct tcp_addr c = { { 198, 18, 0, 1 } }, s = { { 198, 18, 1, 1 } };
	unsigned idle = 0;

	for (unsigned k = 0; k < max_steps && idle < 100; k++) {
		idle = step() ? 0 : idle + 1;
		for (unsigned i = 0; i < 3; i++) {
			struct tcp_conn *b = tcp_find_conn(W.b, TCP_AF_INET, &c,
							   (uint16_t)(CPORT + i), &s, PORT);

			cr_assert(!b || !tcp_user(b) || W.pinned_b[i],
				  "flow %u: B's relay holds its connection, its entry is unpinned", i);
		}
	}
}

/* B's decoder fails two checks mid-transfer (injected): RESYNC twice, and
 * the server still gets every byte, in order, once; so does a flow open
 * across the RESYNCs, and one opened after them. B's flow entries stay
 * pinned while its relay holds their connections, each unpinned once. */
Test(relay, resync_byte_exact)
{
	size_t n = 4u << 20;
	uint8_t *up = bytes(n, 8), *up1 = bytes(n, 12), *up2 = bytes(n, 13);
	struct relay_stats a, b;

	memcpy(up + n / 2, up, n / 2);
	server_listen();
	W.cli = (struct app){ .src = up, .len = n, .close_after = true };
	W.srv = (struct app){ .close_after = true };
	W.clis[1] = (struct app){ .src = up1, .len = n, .close_after = true };
	W.srvs[1] = (struct app){ .close_after = true };
	client_open(PORT);
	client_open_i(1, PORT);
	for (int i = 0; i < 300 && W.srv.got_len < n / 8; i++)
		step();
	cr_assert_gt(W.srv.got_len, 0);
	cr_assert_lt(W.srv.got_len, n / 2);
	cr_assert_lt(W.srvs[1].got_len, n / 2);
	/* as straitd --corrupt-records 2: the second fails the first DATA of
	 * the new epoch */
	chan_mux_inject_check_failure(relay_mux(W.rb), 2);
	run_pinned(400000);
	cr_assert_eq(W.srv.got_len, n);
	cr_assert(!memcmp(W.srv.got, up, n));
	cr_assert(W.srv.got_fin && W.cli.got_fin);
	cr_assert_eq(W.srvs[1].got_len, n);
	cr_assert(!memcmp(W.srvs[1].got, up1, n));
	relay_stats(W.ra, &a);
	relay_stats(W.rb, &b);
	cr_assert_eq(b.mux.resyncs_asked, 2);
	cr_assert_eq(a.mux.resyncs_done, 2);
	cr_assert_gt(a.mux.resent_bytes, 0);
	/* a flow of the new epoch */
	W.clis[2] = (struct app){ .src = up2, .len = n, .close_after = true };
	W.srvs[2] = (struct app){ .close_after = true };
	client_open_i(2, PORT);
	run_pinned(400000);
	cr_assert_eq(W.srvs[2].got_len, n);
	cr_assert(!memcmp(W.srvs[2].got, up2, n));
	cr_assert(W.srvs[2].got_fin && W.clis[2].got_fin);
	relay_stats(W.ra, &a);
	relay_stats(W.rb, &b);
	cr_assert_eq(a.mux.done, 3);
	cr_assert_eq(a.mux.active + b.mux.active, 0);
	cr_assert_eq(a.mux.flow_errors + b.mux.flow_errors, 0);
	cr_assert_eq(W.released_a, 3);
	cr_assert_eq(W.released_b, 3);
	cr_assert_eq(W.unpinned_twice, 0);
	cr_assert(!W.pinned_b[0] && !W.pinned_b[1] && !W.pinned_b[2]);
	free(up);
	free(up1);
	free(up2);
}

/* Server 0 stops reading: its TCP window closes, B's out ring fills, the
 * credit stops, A's raw ring fills and A stops reading client 0. Flow 1
 * completes meanwhile; flow 0 holds no more than its rings. */
Test(relay, stopped_server_does_not_stall_others)
{
	size_t n = 4u << 20;
	uint8_t *up0 = bytes(n, 9), *up1 = bytes(n, 10);
	struct relay_stats a;

	server_listen();
	W.cli = (struct app){ .src = up0, .len = n, .close_after = true };
	W.srv = (struct app){ .close_after = true, .stopped = true };
	W.clis[1] = (struct app){ .src = up1, .len = n, .close_after = true };
	W.srvs[1] = (struct app){ .close_after = true };
	client_open(PORT);
	client_open_i(1, PORT);
	run(400000);
	cr_assert_eq(W.srvs[1].got_len, n);
	cr_assert(!memcmp(W.srvs[1].got, up1, n));
	cr_assert(W.srvs[1].got_fin);
	cr_assert_eq(W.srv.got_len, 0);
	relay_stats(W.ra, &a);
	cr_assert_leq(a.mux.raw_held, 128u << 10);
	cr_assert_gt(a.mux.credit_stalls, 0);
	/* server 0 reads again: its flow completes */
	W.srv.stopped = false;
	app_read(&W.srv);
	run(400000);
	cr_assert_eq(W.srv.got_len, n);
	cr_assert(!memcmp(W.srv.got, up0, n));
	cr_assert(W.srv.got_fin);
	free(up0);
	free(up1);
}

/* The server's router answers B's SYN with an ICMP unreachable (host
 * unreachable, from 198.18.1.254): B reads the message as relay_hook.c
 * does (the quote names the connection and its SYN's sequence number),
 * the open is refused, and A's worker is asked to send the client the same
 * type, code and source, quoting the client's SYN. A quote with another
 * sequence number (a blind forgery) is not taken; neither is one about an
 * established connection. */
Test(relay, server_unreachable)
{
	static const uint8_t router[4] = { 198, 18, 1, 254 };
	struct icmp_quote q, back;
	struct tcp_addr l, r;
	struct tcp_conn *c;
	struct relay_stats a, b;
	uint8_t msg[ICMP_ERROR_MAX];
	const uint8_t *syn;
	size_t n;

	W.server_silent = true;
	W.keep_server_syn = true;
	client_open(PORT);
	run(2000);
	cr_assert(W.server_syn, "B sent its SYN to the server");
	syn = rte_pktmbuf_mtod(W.server_syn, const uint8_t *);
	memset(&q, 0, sizeof(q));
	q.family = 4;
	q.type = 3;
	q.code = 1;
	memcpy(q.from, router, 4);
	memcpy(q.src, syn + 12, 4);
	memcpy(q.dst, syn + 16, 4);
	q.sport = (uint16_t)(syn[20] << 8 | syn[21]);
	q.dport = (uint16_t)(syn[22] << 8 | syn[23]);
	q.seq = (uint32_t)syn[24] << 24 | (uint32_t)syn[25] << 16 | (uint32_t)syn[26] << 8 | syn[27];
	n = icmp_unreach_write(msg, sizeof(msg), &q);
	cr_assert(icmp_quote_tcp(4, router, msg + 20, n - 20, &back));
	memset(&l, 0, sizeof(l));
	memset(&r, 0, sizeof(r));
	memcpy(l.b, back.src, 4);
	memcpy(r.b, back.dst, 4);
	c = tcp_find_conn(W.b, TCP_AF_INET, &l, back.sport, &r, back.dport);
	cr_assert(c, "the quote names B's connection");
	cr_assert_eq(back.seq, tcp_conn_iss(c), "and its SYN");
	cr_assert(!tcp_find_conn(W.b, TCP_AF_INET, &l, (uint16_t)(back.sport + 1), &r,
				 back.dport));
	cr_assert(relay_unreachable(W.rb, c, back.type, back.code, router));
	run(2000);
	cr_assert_eq(W.unreach, 1);
	cr_assert_eq(W.unreach_rf.reason, CHAN_REFUSE_UNREACH);
	cr_assert_eq(W.unreach_rf.icmp_type, 3);
	cr_assert_eq(W.unreach_rf.icmp_code, 1);
	cr_assert(!memcmp(W.unreach_rf.icmp_src, router, 4));
	cr_assert_eq(W.unreach_q.client_port, CPORT);
	cr_assert_eq(W.unreach_q.server_port, PORT);
	cr_assert(!W.cli.connected && !W.cli.got_reset, "the client hears only the ICMP");
	relay_stats(W.ra, &a);
	relay_stats(W.rb, &b);
	cr_assert_eq(b.unreachable, 1);
	cr_assert_eq(a.mux.refused_in, 1);
	cr_assert_eq(a.mux.active + b.mux.active, 0);
	cr_assert_eq(W.released_a, 1);
	cr_assert_eq(W.released_b, 1);
}

/* ICMP about a connection that is not waiting for its SYN's answer (here
 * established) is not an open's refusal: nothing changes. */
Test(relay, unreachable_after_open_ignored)
{
	static const uint8_t router[4] = { 198, 18, 1, 254 };
	struct tcp_addr l = { { 198, 18, 0, 1 } }, r = { { 198, 18, 1, 1 } };
	struct tcp_conn *c;
	uint8_t *up = bytes(1000, 11);

	server_listen();
	W.cli = (struct app){ .src = up, .len = 1000 };
	client_open(PORT);
	run(2000);
	cr_assert(W.cli.connected && W.srv.connected);
	c = tcp_find_conn(W.b, TCP_AF_INET, &l, CPORT, &r, PORT);
	cr_assert(c);
	cr_assert(!relay_unreachable(W.rb, c, 3, 1, router));
	run(2000);
	cr_assert_eq(W.srv.got_len, 1000);
	cr_assert(!W.cli.got_reset && !W.srv.got_reset && W.unreach == 0);
	free(up);
}
