/* SPDX-License-Identifier: BSD-3-Clause */
/* The tenant channels of one worker on their own TCP stack: connect or
 * listen, replace, reconnect, the API for the flow layer, the link-test
 * services and the goodput test. See channel.h. */
#include "channel.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_branch_prediction.h>
#include <rte_mbuf.h>
#include <rte_random.h>

#include "tcp_services.h"

enum {
	EPHEMERAL_LO = 49152,
	EPHEMERAL_N = 16384,
	RETRY_MIN_US = 100000,       /* first reconnect 100 ms after a failure */
	RETRY_MAX_US = 5000000,      /* then doubling, up to 5 s */
	SCAN_US = 1000,              /* reconnects and tests looked at every ms */
	TEST_CHUNK = 16384,
};

struct channel {
	struct channel_stack *cs;
	uint8_t af;
	bool used;                   /* a tenant's (channel_remove() frees it) */
	bool connector, tunnel_up;
	uint8_t state;               /* enum channel_state */
	struct tcp_addr local, peer;
	struct tcp_conn *conn;
	uint64_t retry_at_us;
	uint32_t backoff_us;
	const struct channel_user *user;
	void *user_arg;
	void *owner;
	const struct channel_gate *gate; /* channel_set_gate(): conn and tconn */
	void *gate_arg;
	uint64_t min_rate_bps;       /* channel_set_min_rate(): the same */
	bool bbr;                    /* channel_set_bbr(): the same */
	struct tcp_bbr model[2];     /* with bbr: conn's and tconn's (tcp_gate.bbr) */
	struct channel_stats st;     /* bytes_* etc. of connections already closed */
	/* goodput test */
	struct tcp_conn *tconn;
	uint64_t t0_us;
	struct channel_test test;
};

struct channel_stack {
	struct tcp_stack *st;
	struct tcp_services *sv;
	const struct tcp_ops *ops;
	void *ctx;
	bool impair_on;              /* the test knob between stack and ESP */
	struct tcp_impair im;
	struct tcp_ops impaired_ops; /* the stack's ops when it is on */
	struct channel *ch;
	uint32_t n, max;             /* entries ever used (some may be free again), room */
	uint32_t *slots;             /* by InnerAddress: channel index + 1 */
	uint32_t mask;
	uint64_t scan_due_us;
	uint16_t next_port;
	uint8_t pattern[TEST_CHUNK + 251];   /* tcp_source_byte(i), i = 0.. */
	uint8_t buf[TEST_CHUNK];
};


const char *channel_state_name(enum channel_state s)
{
	static const char *const n[] = { "down", "connecting", "up" };
	return (unsigned)s < 3 ? n[s] : "?";
}

const char *channel_why_name(enum channel_why w)
{
	static const char *const n[CHANNEL_WHY_COUNT] = {
		[CHANNEL_WHY_TUNNEL_DOWN] = "tunnel_down", [CHANNEL_WHY_RESET] = "reset",
		[CHANNEL_WHY_TIMEOUT] = "timeout", [CHANNEL_WHY_CLOSED] = "closed",
		[CHANNEL_WHY_REPLACED] = "replaced", [CHANNEL_WHY_RESTART] = "restart",
	};
	return (unsigned)w < CHANNEL_WHY_COUNT ? n[w] : "?";
}

static uint64_t now_us(const struct channel_stack *cs)
{
	return cs->ops->now_us(cs->ctx);
}

static uint32_t addr_hash(uint8_t af, const uint8_t *a)
{
	uint32_t h = 2166136261u ^ af; /* FNV-1a */
	for (unsigned i = 0; i < (af == 4 ? 4u : 16u); i++)
		h = (h ^ a[i]) * 16777619u;
	return h;
}

static bool addr_eq(uint8_t af, const uint8_t *a, const uint8_t *b)
{
	return !memcmp(a, b, af == 4 ? 4 : 16);
}

struct channel *channel_find(const struct channel_stack *cs, uint8_t af, const uint8_t *addr)
{
	for (uint32_t i = addr_hash(af, addr) & cs->mask;; i = (i + 1) & cs->mask) {
		uint32_t s = cs->slots[i];
		if (!s)
			return NULL;
		struct channel *ch = &cs->ch[s - 1];
		if (ch->af == af && addr_eq(af, ch->local.b, addr))
			return ch;
	}
}

void *channel_owner(const struct channel *ch)
{
	return ch->owner;
}

/* ---- one connection's life ---- */

static void fold_stats(struct channel *ch, struct tcp_conn *c)
{
	struct tcp_conn_stats s;
	tcp_conn_stats(c, &s);
	ch->st.bytes_in += s.bytes_in;
	ch->st.bytes_out += s.bytes_out;
	ch->st.retrans_segs += s.retrans_segs;
}

static void schedule_retry(struct channel *ch)
{
	if (!ch->connector || !ch->tunnel_up)
		return;
	if (!ch->backoff_us)
		ch->backoff_us = RETRY_MIN_US;
	ch->retry_at_us = now_us(ch->cs) + ch->backoff_us;
	ch->backoff_us = ch->backoff_us * 2 > RETRY_MAX_US ? RETRY_MAX_US : ch->backoff_us * 2;
}

/* The connection is over (the engine's handle released by the caller). */
static void went_down(struct channel *ch, enum channel_why why)
{
	bool was_up = ch->state == CHANNEL_UP;
	fold_stats(ch, ch->conn);
	ch->conn = NULL;
	ch->state = ch->tunnel_up ? CHANNEL_CONNECTING : CHANNEL_DOWN;
	ch->st.down[why]++;
	schedule_retry(ch);
	if (was_up && ch->user && ch->user->disconnected)
		ch->user->disconnected(ch->user_arg, ch, why);
}

static void on_conn(void *arg, struct tcp_conn *c, uint32_t ev)
{
	struct channel *ch = arg;
	if (ev & TCP_EV_CONNECTED) {
		ch->state = CHANNEL_UP;
		ch->st.connects++;
		ch->backoff_us = 0;
		if (ch->user && ch->user->connected)
			ch->user->connected(ch->user_arg, ch);
	}
	if (ch->conn != c)
		return; /* the user closed it from connected() */
	if (ev & TCP_EV_READABLE) {
		if (ch->user && ch->user->readable) {
			ch->user->readable(ch->user_arg, ch);
		} else {
			size_t n = tcp_readable(c);
			tcp_consume(c, n);
			ch->st.discarded += n;
		}
	}
	if (ch->conn != c)
		return;
	if ((ev & TCP_EV_WRITABLE) && ch->user && ch->user->writable)
		ch->user->writable(ch->user_arg, ch);
	if (ch->conn != c)
		return;
	if (ev & (TCP_EV_RESET | TCP_EV_TIMEOUT | TCP_EV_CLOSED)) {
		went_down(ch, ev & TCP_EV_RESET ? CHANNEL_WHY_RESET
			      : ev & TCP_EV_TIMEOUT ? CHANNEL_WHY_TIMEOUT : CHANNEL_WHY_CLOSED);
		tcp_close(c);
	} else if (ev & TCP_EV_PEER_FIN) {
		/* the peer ends the channel (it stops): close ours too */
		went_down(ch, CHANNEL_WHY_CLOSED);
		tcp_close(c);
	}
}

static void try_connect(struct channel *ch)
{
	struct channel_stack *cs = ch->cs;
	struct tcp_conn *c = NULL;
	for (int tries = 0; tries < 8 && !c; tries++) {
		uint16_t port = (uint16_t)(EPHEMERAL_LO + cs->next_port++ % EPHEMERAL_N);
		c = tcp_connect(cs->st, ch->af == 4 ? TCP_AF_INET : TCP_AF_INET6, &ch->local, port,
				&ch->peer, CHANNEL_PORT, 0);
		if (!c && errno != EADDRINUSE)
			break;
	}
	if (!c) {
		schedule_retry(ch);
		return;
	}
	tcp_set_handler(c, on_conn, ch);
	ch->conn = c;
}

/* Connections accepted on CHANNEL_PORT: adopted by the channel of their
 * local address when they come from its peer; a newer one replaces the
 * old (the peer restarted). */
static void on_accept(void *arg, struct tcp_conn *c, uint32_t ev)
{
	struct channel_stack *cs = arg;
	if (!(ev & TCP_EV_CONNECTED)) {
		if (ev & (TCP_EV_RESET | TCP_EV_TIMEOUT | TCP_EV_CLOSED))
			tcp_close(c);
		return;
	}
	uint8_t af;
	struct tcp_addr la, ra;
	uint16_t lp, rp;
	tcp_conn_tuple(c, &af, &la, &lp, &ra, &rp);
	uint8_t fam = af == TCP_AF_INET ? 4 : 6;
	struct channel *ch = channel_find(cs, fam, la.b);
	if (!ch || ch->connector || !addr_eq(fam, ch->peer.b, ra.b)) {
		tcp_abort(c);
		return;
	}
	if (ch->conn) {
		struct tcp_conn *old = ch->conn;
		went_down(ch, CHANNEL_WHY_REPLACED);
		tcp_abort(old);
	}
	ch->conn = c;
	tcp_set_handler(c, on_conn, ch);
	on_conn(ch, c, ev);
}

/* ---- the stack's output gate: each channel's (and its test's) ---- */

static void on_test(void *arg, struct tcp_conn *c, uint32_t ev);

/* The channel c belongs to (its connection or its test), or NULL (a
 * service's, a listener's). */
static struct channel *conn_channel(const struct tcp_conn *c)
{
	void *arg;
	tcp_event_fn fn = tcp_conn_handler(c, &arg);
	return fn == on_conn || fn == on_test ? arg : NULL;
}

static bool gate_may_send(void *ctx, struct tcp_conn *c)
{
	(void)ctx;
	struct channel *ch = conn_channel(c);
	return !ch || !ch->gate || ch->gate->may_send(ch->gate_arg);
}

static void gate_sent(void *ctx, struct tcp_conn *c, uint32_t len)
{
	(void)ctx;
	struct channel *ch = conn_channel(c);
	if (ch && ch->gate)
		ch->gate->sent(ch->gate_arg, len);
}

static uint64_t gate_min_rate(void *ctx, const struct tcp_conn *c)
{
	(void)ctx;
	struct channel *ch = conn_channel(c);
	return ch ? ch->min_rate_bps : 0;
}

static struct tcp_bbr *gate_bbr(void *ctx, const struct tcp_conn *c)
{
	(void)ctx;
	struct channel *ch = conn_channel(c);
	if (!ch || !ch->bbr)
		return NULL;
	return &ch->model[c == ch->tconn];
}

static const struct tcp_gate stack_gate = { gate_may_send, gate_sent, gate_min_rate, gate_bbr };

/* ---- the stack ---- */

/* With the test knob on, the stack's ops: ours, around the caller's. */
static uint64_t impaired_now_us(void *ctx)
{
	const struct channel_stack *cs = ctx;
	return cs->ops->now_us(cs->ctx);
}

static void impaired_output(void *ctx, struct rte_mbuf **pkts, uint16_t n)
{
	struct channel_stack *cs = ctx;
	uint64_t now = now_us(cs);
	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *out[TCP_IMPAIR_OUT_MAX];
		unsigned k = tcp_impair_pass(&cs->im, TCP_IMPAIR_TX, pkts[i], now, out);
		if (k)
			cs->ops->output(cs->ctx, out, (uint16_t)k);
	}
}

/* Segments the knob held back long enough; true while it holds one. */
static bool impair_poll(struct channel_stack *cs)
{
	uint64_t now = now_us(cs);
	struct rte_mbuf *m = tcp_impair_due(&cs->im, TCP_IMPAIR_RX, now);
	if (m)
		tcp_input(cs->st, &m, 1);
	m = tcp_impair_due(&cs->im, TCP_IMPAIR_TX, now);
	if (m)
		cs->ops->output(cs->ctx, &m, 1);
	return tcp_impair_next(&cs->im) != UINT64_MAX;
}

struct channel_stack *channel_stack_create(const struct channel_config *cfg)
{
	struct channel_stack *cs = calloc(1, sizeof(*cs));
	if (!cs)
		goto err;
	cs->ops = cfg->ops;
	cs->ctx = cfg->ctx;
	cs->max = cfg->max_channels ? cfg->max_channels : 1;
	cs->ch = calloc(cs->max, sizeof(*cs->ch));
	uint32_t size = 4;
	while (size < cs->max * 2)
		size *= 2;
	cs->slots = calloc(size, sizeof(*cs->slots));
	cs->mask = size - 1;
	if (!cs->ch || !cs->slots)
		goto err_cs;
	cs->next_port = (uint16_t)rte_rand();
	for (size_t i = 0; i < sizeof(cs->pattern); i++)
		cs->pattern[i] = tcp_source_byte(i);
	/* each channel, a service connection or two, and TIME-WAITs */
	struct tcp_config tc = {
		.max_conns = 4 * cs->max + 64,
		.mss = cfg->mss,
		.sndbuf = cfg->sndbuf,
		.rcvbuf = cfg->rcvbuf,
		/* every channel counts as engine tenant 0: the pool bounds them */
		.tenant_max_buffer = ((uint64_t)cfg->sndbuf + cfg->rcvbuf) * (cs->max + 8),
		/* no checksum offload: segments are sealed before a NIC sees them */
		.seg_pool = cfg->seg_pool,
	};
	const struct tcp_ops *ops = cfg->ops;
	void *ctx = cfg->ctx;
	cs->impair_on = cfg->impair && tcp_impair_enabled(cfg->impair);
	if (cs->impair_on) {
		/* its own draws, not the LAN stack's: another worker number */
		tcp_impair_init(&cs->im, cfg->impair, cfg->worker + 0x100, cfg->seg_pool);
		cs->impaired_ops = (struct tcp_ops){ impaired_now_us, impaired_output, NULL };
		ops = &cs->impaired_ops;
		ctx = cs;
	}
	cs->st = tcp_stack_create(&tc, ops, ctx, cfg->pool);
	if (!cs->st)
		goto err_cs;
	tcp_stack_set_gate(cs->st, &stack_gate, cs);
	static const struct tcp_addr any;
	if (tcp_listen_cb(cs->st, TCP_AF_INET, &any, CHANNEL_PORT, 0, 0, on_accept, cs) ||
	    tcp_listen_cb(cs->st, TCP_AF_INET6, &any, CHANNEL_PORT, 0, 0, on_accept, cs))
		goto err_st;
	cs->sv = tcp_services_attach(cs->st, TCP_AF_INET, &any, 0, tc.max_conns);
	if (!cs->sv || tcp_services_listen(cs->sv, TCP_AF_INET6, &any, 0))
		goto err_sv;
	return cs;

err_sv:
	tcp_services_free(cs->sv);
err_st:
	tcp_stack_destroy(cs->st);
err_cs:
	free(cs->slots);
	free(cs->ch);
	free(cs);
err:
	errno = ENOMEM;
	return NULL;
}

void channel_stack_destroy(struct channel_stack *cs)
{
	if (!cs)
		return;
	if (cs->impair_on)
		tcp_impair_flush(&cs->im);
	tcp_stack_destroy(cs->st);
	tcp_services_free(cs->sv);
	free(cs->slots);
	free(cs->ch);
	free(cs);
}

const struct tcp_stack *channel_stack_tcp(const struct channel_stack *cs)
{
	return cs->st;
}

static void slot_insert(struct channel_stack *cs, uint32_t index)
{
	const struct channel *ch = &cs->ch[index];
	uint32_t i = addr_hash(ch->af, ch->local.b) & cs->mask;
	while (cs->slots[i])
		i = (i + 1) & cs->mask;
	cs->slots[i] = index + 1;
}

struct channel *channel_add(struct channel_stack *cs, uint8_t af, const uint8_t *local,
			    const uint8_t *peer, void *owner)
{
	if (channel_find(cs, af, local))
		return NULL;
	uint32_t index = 0;
	while (index < cs->n && cs->ch[index].used)
		index++;
	if (index == cs->max)
		return NULL;
	struct channel *ch = &cs->ch[index];
	memset(ch, 0, sizeof(*ch));
	ch->used = true;
	ch->cs = cs;
	ch->af = af;
	memcpy(ch->local.b, local, af == 4 ? 4 : 16);
	memcpy(ch->peer.b, peer, af == 4 ? 4 : 16);
	/* the lower InnerAddress connects (the tunnel's tie-break agrees) */
	ch->connector = memcmp(local, peer, af == 4 ? 4 : 16) < 0;
	ch->st.connector = ch->connector;
	ch->owner = owner;
	slot_insert(cs, index);
	if (index == cs->n)
		cs->n++;
	return ch;
}

void channel_remove(struct channel *ch)
{
	struct channel_stack *cs = ch->cs;
	channel_set_user(ch, NULL, NULL);
	channel_tunnel(ch, false); /* aborts the connection and a test */
	ch->used = false;
	/* open addressing: the table is built again (a reload, not a packet) */
	memset(cs->slots, 0, sizeof(*cs->slots) * (cs->mask + 1));
	for (uint32_t i = 0; i < cs->n; i++)
		if (cs->ch[i].used)
			slot_insert(cs, i);
}

void channel_restart(struct channel *ch)
{
	if (!ch->conn)
		return;
	struct tcp_conn *c = ch->conn;
	went_down(ch, CHANNEL_WHY_RESTART);
	tcp_abort(c); /* the peer's side hears a reset and starts again too */
}

void channel_input(struct channel_stack *cs, struct rte_mbuf *m)
{
	if (likely(!cs->impair_on)) {
		tcp_input(cs->st, &m, 1);
		return;
	}
	struct rte_mbuf *out[TCP_IMPAIR_OUT_MAX];
	unsigned k = tcp_impair_pass(&cs->im, TCP_IMPAIR_RX, m, now_us(cs), out);
	if (k)
		tcp_input(cs->st, out, (uint16_t)k);
}

void channel_stack_impair_stats(const struct channel_stack *cs, struct tcp_impair_stats *out)
{
	if (cs->impair_on)
		*out = cs->im.stats;
	else
		memset(out, 0, sizeof(*out));
}

static void test_conn_stats(const struct tcp_conn *c, struct channel_test *t)
{
	struct tcp_conn_stats s;
	tcp_conn_stats(c, &s);
	t->retrans_segs = s.retrans_segs;
	t->fast_recoveries = s.fast_recoveries;
	t->rto_expiries = s.rto_expiries;
	t->srtt_us = s.srtt_us;
	t->min_rtt_us = s.min_rtt_us;
	t->cwnd = s.cwnd;
	t->ssthresh = s.ssthresh;
	t->snd_wnd = s.snd_wnd;
}

static void test_end(struct channel *ch, bool ok)
{
	struct channel_test *t = &ch->test;
	test_conn_stats(ch->tconn, t);
	t->state = ok ? CHANNEL_TEST_DONE : CHANNEL_TEST_FAILED;
	if (ok)
		t->ns = (now_us(ch->cs) - ch->t0_us) * 1000;
	tcp_close(ch->tconn);
	ch->tconn = NULL;
}

void channel_tunnel(struct channel *ch, bool up)
{
	ch->tunnel_up = up;
	if (up) {
		if (ch->state == CHANNEL_DOWN)
			ch->state = CHANNEL_CONNECTING;
		ch->backoff_us = 0;
		if (ch->connector && !ch->conn)
			try_connect(ch);
		return;
	}
	if (ch->tconn) {
		struct tcp_conn *c = ch->tconn;
		ch->tconn = NULL;
		ch->test.state = CHANNEL_TEST_FAILED;
		tcp_abort(c);
	}
	if (ch->conn) {
		struct tcp_conn *c = ch->conn;
		went_down(ch, CHANNEL_WHY_TUNNEL_DOWN);
		tcp_abort(c);
	}
	ch->state = CHANNEL_DOWN;
}

/* ---- the tests of the channel alone ---- */

const char *channel_test_mode_name(enum channel_test_mode m)
{
	static const char *const n[] = { "discard", "echo", "source" };
	return (unsigned)m < 3 ? n[m] : "?";
}

const char *channel_test_state_name(enum channel_test_state s)
{
	static const char *const n[] = { "idle", "running", "done", "failed" };
	return (unsigned)s < 4 ? n[s] : "?";
}

/* Writes the pattern from where it stopped; FIN after the last byte. */
static void test_pump(struct channel *ch)
{
	struct channel_test *t = &ch->test;
	while (t->sent < t->bytes) {
		uint64_t left = t->bytes - t->sent;
		size_t want = left < TEST_CHUNK ? (size_t)left : TEST_CHUNK;
		long k = tcp_write(ch->tconn, ch->cs->pattern + t->sent % 251, want);
		if (k <= 0)
			return; /* TCP_EV_WRITABLE follows */
		t->sent += (uint64_t)k;
	}
	tcp_shutdown(ch->tconn);
}

/* Reads what came back (echo, source) and compares it with the pattern. */
static void test_check(struct channel *ch)
{
	struct channel_test *t = &ch->test;
	uint8_t *buf = ch->cs->buf;
	for (;;) {
		long k = tcp_read(ch->tconn, buf, TEST_CHUNK);
		if (k <= 0)
			return;
		const uint8_t *want = ch->cs->pattern + t->received % 251;
		for (long i = 0; i < k; i++)
			t->mismatches += buf[i] != want[i];
		t->received += (uint64_t)k;
	}
}

static void on_test(void *arg, struct tcp_conn *c, uint32_t ev)
{
	struct channel *ch = arg;
	struct channel_test *t = &ch->test;
	if (ch->tconn != c)
		return;
	if (ev & TCP_EV_CONNECTED) {
		ch->t0_us = now_us(ch->cs);
		if (t->mode == CHANNEL_TEST_SOURCE) {
			char req[32];
			int n = snprintf(req, sizeof(req), "%llu\n", (unsigned long long)t->bytes);
			tcp_write(c, req, (size_t)n); /* fits: the send buffer is empty */
		}
	}
	if (ev & TCP_EV_READABLE) {
		if (t->mode == CHANNEL_TEST_DISCARD)
			tcp_consume(c, tcp_readable(c));
		else
			test_check(ch);
	}
	if (ev & (TCP_EV_RESET | TCP_EV_TIMEOUT)) {
		test_end(ch, false);
		return;
	}
	if (ev & TCP_EV_PEER_FIN) {
		/* each service closes once it has read (discard, echo) or sent
		 * (source) every byte */
		bool all = t->mode == CHANNEL_TEST_DISCARD ? t->sent == t->bytes
			   : t->received == t->bytes && !t->mismatches;
		test_end(ch, all);
		return;
	}
	if (ev & TCP_EV_CLOSED) {
		test_end(ch, false);
		return;
	}
	if ((ev & (TCP_EV_CONNECTED | TCP_EV_WRITABLE)) && t->mode != CHANNEL_TEST_SOURCE)
		test_pump(ch);
}

int channel_test_start(struct channel *ch, enum channel_test_mode mode, uint64_t bytes)
{
	static const uint16_t ports[] = { TCP_SVC_DISCARD, TCP_SVC_ECHO, TCP_SVC_SOURCE };
	if ((unsigned)mode > CHANNEL_TEST_SOURCE)
		return -EINVAL;
	if (ch->tconn)
		return -EBUSY;
	if (!ch->tunnel_up)
		return -ENOTCONN;
	struct channel_stack *cs = ch->cs;
	struct tcp_conn *c = NULL;
	for (int tries = 0; tries < 8 && !c; tries++) {
		uint16_t port = (uint16_t)(EPHEMERAL_LO + cs->next_port++ % EPHEMERAL_N);
		c = tcp_connect(cs->st, ch->af == 4 ? TCP_AF_INET : TCP_AF_INET6, &ch->local, port,
				&ch->peer, ports[mode], 0);
		if (!c && errno != EADDRINUSE)
			break;
	}
	if (!c)
		return -errno;
	uint32_t runs = ch->test.runs;
	memset(&ch->test, 0, sizeof(ch->test));
	ch->test.runs = runs + 1;
	ch->test.mode = (uint8_t)mode;
	ch->test.state = CHANNEL_TEST_RUNNING;
	ch->test.bytes = bytes;
	ch->tconn = c;
	tcp_set_handler(c, on_test, ch);
	return 0;
}

void channel_set_bbr(struct channel *ch, bool on)
{
	ch->bbr = on;
}

void channel_set_min_rate(struct channel *ch, uint64_t bps)
{
	ch->min_rate_bps = bps;
}

void channel_set_gate(struct channel *ch, const struct channel_gate *g, void *arg)
{
	ch->gate = g;
	ch->gate_arg = arg;
}

size_t channel_unsent(const struct channel *ch)
{
	return (ch->conn ? tcp_unsent(ch->conn) : 0) + (ch->tconn ? tcp_unsent(ch->tconn) : 0);
}

void channel_kick(struct channel *ch)
{
	if (ch->conn)
		tcp_kick(ch->conn);
	if (ch->tconn)
		tcp_kick(ch->tconn);
}

void channel_test_result(const struct channel *ch, struct channel_test *out)
{
	*out = ch->test;
	if (ch->tconn && out->state == CHANNEL_TEST_RUNNING)
		test_conn_stats(ch->tconn, out);
}

unsigned channel_poll(struct channel_stack *cs)
{
	tcp_poll(cs->st);
	tcp_services_poll(cs->sv);
	uint64_t now = now_us(cs);
	if (now >= cs->scan_due_us) {
		cs->scan_due_us = now + SCAN_US;
		for (uint32_t i = 0; i < cs->n; i++) {
			struct channel *ch = &cs->ch[i];
			if (ch->used && ch->connector && ch->tunnel_up && !ch->conn &&
			    now >= ch->retry_at_us)
				try_connect(ch);
		}
	}
	bool held = cs->impair_on && impair_poll(cs);
	uint64_t due = tcp_next_timer(cs->st);
	return held || (due != UINT64_MAX && due <= now + 200);
}

/* ---- the flow layer's API ---- */

void channel_set_user(struct channel *ch, const struct channel_user *u, void *arg)
{
	ch->user = u;
	ch->user_arg = arg;
}

enum channel_state channel_state(const struct channel *ch)
{
	return (enum channel_state)ch->state;
}

long channel_send(struct channel *ch, const void *buf, size_t len)
{
	if (ch->state != CHANNEL_UP)
		return -1;
	return tcp_write(ch->conn, buf, len);
}

size_t channel_writable(const struct channel *ch)
{
	return ch->state == CHANNEL_UP ? tcp_writable(ch->conn) : 0;
}

size_t channel_readable(const struct channel *ch)
{
	return ch->state == CHANNEL_UP ? tcp_readable(ch->conn) : 0;
}

size_t channel_peek(const struct channel *ch, void *buf, size_t len)
{
	return ch->state == CHANNEL_UP ? tcp_peek(ch->conn, buf, len) : 0;
}

void channel_consume(struct channel *ch, size_t n)
{
	if (ch->state == CHANNEL_UP)
		tcp_consume(ch->conn, n);
}

void channel_stats(const struct channel *ch, struct channel_stats *out)
{
	*out = ch->st;
	out->state = ch->state;
	if (ch->conn) {
		struct tcp_conn_stats s;
		tcp_conn_stats(ch->conn, &s);
		out->bytes_in += s.bytes_in;
		out->bytes_out += s.bytes_out;
		out->retrans_segs += s.retrans_segs;
		out->srtt_us = s.srtt_us;
		out->min_rtt_us = s.min_rtt_us;
		out->cwnd = s.cwnd;
	}
}
