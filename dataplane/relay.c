/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * relay.c - a tenant's LAN connections joined to its channel's flows
 * (relay.h). A connection and its flow point at each other
 * (tcp_set_user(), chan_flow_set_user()); either side ending unbinds both
 * before it tells the other, so no callback ever finds a stale pointer.
 *
 *   A: SYN -> tcp_intercept -> PENDING -> OPEN ... OPENED -> tcp_accept_pending
 *                                                 REFUSED -> tcp_refuse_pending
 *   B: OPEN -> check_open? originate -> tcp_connect_offer ... CONNECTED -> accept
 *                                                    RESET/TIMEOUT/ICMP -> refuse
 *   both: READABLE -> tcp_read into the raw ring (as far as it has room)
 *         deliver -> tcp_write (the rest waits in the out ring)
 *         WRITABLE -> chan_flow_drain; PEER_FIN (all read) -> chan_flow_fin
 *         fin -> tcp_shutdown; done -> tcp_close
 *         RESET/TIMEOUT -> chan_flow_reset; reset -> tcp_abort
 */
#include "relay.h"

#include <errno.h>
#include <string.h>

struct relay {
	struct chan_mux *mux;
	struct tcp_stack *lan;
	const struct relay_env *env;
	void *ctx;
	uint16_t tenant;
	bool down_rst;
	struct relay_stats st;
};

#define ALIGN64(x) (((x) + 63) & ~(size_t)63)

size_t relay_size(const struct relay_config *cfg)
{
	size_t m = chan_mux_size(&cfg->mux);

	return m ? ALIGN64(sizeof(struct relay)) + m : 0;
}

static void unbind(struct tcp_conn *c, struct chan_flow *f)
{
	if (c)
		tcp_set_user(c, NULL);
	if (f)
		chan_flow_set_user(f, NULL);
}

/* We are done with c (closed, reset or never opened): the worker may let
 * its flow entry go. */
static void release(struct relay *r, struct tcp_conn *c)
{
	if (r->env->release)
		r->env->release(r->ctx, c, NULL);
}

/* The flow's tuple as OPEN names it, from the client's pending open (the
 * local end is the server we stand in for). */
static void tuple_of(struct tcp_conn *c, struct chan_open *o)
{
	struct tcp_addr l, r;
	uint16_t lp, rp;
	uint8_t af;

	tcp_conn_tuple(c, &af, &l, &lp, &r, &rp);
	o->af = af;
	memcpy(o->server, l.b, 16);
	memcpy(o->client, r.b, 16);
	o->client_port = rp;
	o->server_port = lp;
}

/* Reads what the LAN connection holds into the flow's raw ring, as far as
 * it has room; its end once every byte before the FIN is in. */
static void pump_in(struct tcp_conn *c, struct chan_flow *f)
{
	for (;;) {
		size_t n = tcp_readable(c);
		uint8_t *b;
		long k;

		if (!n)
			break;
		b = chan_flow_wbuf(f, &n);
		if (!n)
			return;
		k = tcp_read(c, b, n);
		if (k <= 0)
			return;
		chan_flow_commit(f, (size_t)k);
	}
	if (tcp_peer_closed(c))
		chan_flow_fin(f);
}

/* ---- A: the client's SYN ---- */

static void pending(struct relay *r, struct tcp_conn *c)
{
	struct chan_open o = { 0 };
	struct tcp_syn_opts so;
	struct chan_flow *f;

	tuple_of(c, &o);
	tcp_conn_syn_opts(c, &so);
	o.mss = so.mss;
	if (so.wscale >= 0) {
		o.syn_flags |= CHAN_SYN_WSCALE;
		o.wscale = (uint8_t)(so.wscale > CHAN_WSCALE_MAX ? CHAN_WSCALE_MAX : so.wscale);
	}
	o.syn_flags |= so.sack_ok ? CHAN_SYN_SACK : 0;
	o.syn_flags |= so.timestamps ? CHAN_SYN_TIMESTAMPS : 0;
	if (!r->env->syn_l2 || !r->env->syn_l2(r->ctx, c, &o) ||
	    !(f = chan_flow_open(r->mux, &o, c))) {
		/* fail-closed while the channel is down: RST; else silence
		 * (the client's next SYN finds a free flow, or PeerDown) */
		bool rst = r->down_rst && !chan_mux_up(r->mux);

		r->st.open_failed++;
		release(r, c);
		tcp_refuse_pending(c, rst ? TCP_REFUSE_RST : TCP_REFUSE_SILENT, NULL);
		return;
	}
	tcp_set_user(c, f);
	r->st.intercepted++;
}

void relay_refuse(struct relay *r, struct tcp_conn *c)
{
	struct chan_flow *f = tcp_user(c);

	if (f) {
		unbind(c, f);
		chan_flow_reset(f, CHAN_RESET_ABORT);
	}
	release(r, c);
	tcp_refuse_pending(c, TCP_REFUSE_RST, NULL);
}

static void mux_opened(void *ctx, struct chan_flow *f)
{
	struct tcp_conn *c = chan_flow_user(f);

	if (c)
		tcp_accept_pending(c);
}

static void mux_refused(void *ctx, struct chan_flow *f, const struct chan_refused *rf)
{
	struct relay *r = ctx;
	struct tcp_conn *c = chan_flow_user(f);
	struct tcp_refused q;

	uint32_t idx;

	if (!c)
		return;
	unbind(c, f);
	release(r, c);
	idx = tcp_conn_index(c);
	switch (rf->reason) {
	case CHAN_REFUSE_RST:
	case CHAN_REFUSE_POLICY:
		tcp_refuse_pending(c, TCP_REFUSE_RST, NULL);
		break;
	case CHAN_REFUSE_UNREACH:
		tcp_refuse_pending(c, TCP_REFUSE_UNREACH, &q);
		if (r->env->unreachable)
			r->env->unreachable(r->ctx, idx, &q, rf);
		break;
	default:
		tcp_refuse_pending(c, TCP_REFUSE_SILENT, NULL);
	}
}

/* ---- B: the peer's OPEN ---- */

static void conn_event(void *arg, struct tcp_conn *c, uint32_t ev);

static int mux_open(void *ctx, struct chan_flow *f, const struct chan_open *o)
{
	struct relay *r = ctx;
	struct tcp_syn_opts offer;
	struct tcp_addr l, s;
	struct tcp_conn *c;

	enum relay_refusal why = r->env->check_open ? r->env->check_open(r->ctx, o)
						    : RELAY_OPEN_RULE;

	if (why != RELAY_OPEN_OK) {
		r->st.refused[(unsigned)why < RELAY_OPEN_REASONS ? why : RELAY_OPEN_RULE]++;
		return CHAN_REFUSE_POLICY;
	}
	if (r->env->originate && r->env->originate(r->ctx, o))
		return CHAN_REFUSE_BUSY;
	memcpy(l.b, o->client, 16);
	memcpy(s.b, o->server, 16);
	offer.mss = o->mss;
	offer.wscale = (o->syn_flags & CHAN_SYN_WSCALE) ? (int8_t)o->wscale : -1;
	offer.sack_ok = o->syn_flags & CHAN_SYN_SACK;
	offer.timestamps = o->syn_flags & CHAN_SYN_TIMESTAMPS;
	c = tcp_connect_offer(r->lan, o->af == 4 ? TCP_AF_INET : TCP_AF_INET6, &l,
			      o->client_port, &s, o->server_port, r->tenant, &offer);
	if (!c) {
		r->st.origin_failed++;
		if (r->env->release)
			r->env->release(r->ctx, NULL, o);
		return CHAN_REFUSE_BUSY;
	}
	r->st.originated++;
	tcp_set_handler(c, conn_event, r);
	tcp_set_user(c, f);
	chan_flow_set_user(f, c);
	return 0;
}

bool relay_unreachable(struct relay *r, struct tcp_conn *c, uint8_t type, uint8_t code,
		       const uint8_t *from)
{
	struct chan_flow *f = tcp_user(c);
	struct chan_refused rf = { .reason = CHAN_REFUSE_UNREACH, .icmp_type = type,
				   .icmp_code = code };
	struct tcp_addr l, rm;
	uint16_t lp, rp;
	uint8_t af;

	if (!f || tcp_state(c) != TCP_SYN_SENT || !chan_flow_peer_opened(f) ||
	    chan_flow_is_open(f))
		return false; /* only a SYN's answer: later ICMP is TCP's business */
	tcp_conn_tuple(c, &af, &l, &lp, &rm, &rp);
	memcpy(rf.icmp_src, from, af == 4 ? 4 : 16);
	unbind(c, f);
	release(r, c);
	tcp_abort(c); /* no RST goes to the server: it never answered */
	chan_flow_refuse(f, &rf);
	r->st.unreachable++;
	return true;
}

/* ---- both: bytes, ends ---- */

static size_t mux_deliver(void *ctx, struct chan_flow *f, const uint8_t *p, size_t n)
{
	struct relay *r = ctx;
	struct tcp_conn *c = chan_flow_user(f);
	long k;

	if (!c)
		return 0;
	k = tcp_write(c, p, n);
	if (k < 0) {
		/* sending is over at this end (it reset or closed): so is the
		 * flow */
		unbind(c, f);
		chan_flow_reset(f, CHAN_RESET_ABORT);
		r->st.lan_resets++;
		tcp_abort(c);
		return 0;
	}
	return (size_t)k;
}

static void mux_fin(void *ctx, struct chan_flow *f)
{
	struct tcp_conn *c = chan_flow_user(f);

	if (c)
		tcp_shutdown(c);
}

static void mux_writable(void *ctx, struct chan_flow *f)
{
	struct tcp_conn *c = chan_flow_user(f);

	if (c)
		pump_in(c, f);
}

static void mux_reset(void *ctx, struct chan_flow *f, unsigned reason)
{
	struct relay *r = ctx;
	struct tcp_conn *c = chan_flow_user(f);

	if (!c)
		return;
	unbind(c, f);
	release(r, c);
	r->st.lan_resets++;
	if (tcp_is_pending(c))
		tcp_refuse_pending(c, TCP_REFUSE_SILENT, NULL); /* as if unanswered */
	else
		tcp_abort(c);
}

static void mux_done(void *ctx, struct chan_flow *f)
{
	struct relay *r = ctx;
	struct tcp_conn *c = chan_flow_user(f);

	if (!c)
		return;
	unbind(c, f);
	release(r, c);
	tcp_close(c); /* both FINs are through: this only lets go of c */
}

static void conn_event(void *arg, struct tcp_conn *c, uint32_t ev)
{
	struct relay *r = arg;
	struct chan_flow *f = tcp_user(c);

	if (ev & TCP_EV_PENDING) {
		pending(r, c);
		return;
	}
	if (!f) {
		if (ev & TCP_EV_CLOSED)
			tcp_close(c);
		return;
	}
	if (ev & (TCP_EV_RESET | TCP_EV_TIMEOUT)) {
		bool b = chan_flow_peer_opened(f);

		unbind(c, f);
		release(r, c);
		if (b && !chan_flow_is_open(f)) {
			struct chan_refused rf = {
				.reason = (ev & TCP_EV_RESET) ? CHAN_REFUSE_RST : CHAN_REFUSE_SILENT };
			chan_flow_refuse(f, &rf);
		} else {
			chan_flow_reset(f, (ev & TCP_EV_RESET) ? CHAN_RESET_RST : CHAN_RESET_TIMEOUT);
		}
		if (ev & TCP_EV_CLOSED)
			tcp_close(c);
		else
			tcp_abort(c);
		return;
	}
	if ((ev & TCP_EV_CONNECTED) && chan_flow_peer_opened(f))
		chan_flow_accept(f);
	if (ev & (TCP_EV_READABLE | TCP_EV_PEER_FIN))
		pump_in(c, f);
	if (ev & TCP_EV_WRITABLE)
		chan_flow_drain(f);
}

/* ---- setup and the channel ---- */

static const struct chan_mux_ops mux_ops = {
	.open = mux_open, .opened = mux_opened, .refused = mux_refused,
	.deliver = mux_deliver, .fin = mux_fin, .writable = mux_writable,
	.reset = mux_reset, .done = mux_done,
};

struct relay *relay_create(void *mem, size_t size, const struct relay_config *cfg,
			   struct tcp_stack *lan, const struct relay_env *env, void *ctx)
{
	size_t head = ALIGN64(sizeof(struct relay)), need = relay_size(cfg);
	struct relay *r = mem;

	if (!mem || ((uintptr_t)mem & 63) || !need || size < need)
		return NULL;
	memset(r, 0, sizeof(*r));
	r->lan = lan;
	r->env = env;
	r->ctx = ctx;
	r->tenant = cfg->stack_tenant;
	r->down_rst = cfg->down_rst;
	r->mux = chan_mux_init((uint8_t *)mem + head, size - head, &cfg->mux, &mux_ops, r);
	if (!r->mux || tcp_tenant_handler(lan, r->tenant, conn_event, r))
		return NULL;
	return r;
}

void relay_destroy(struct relay *r)
{
	chan_mux_reset(r->mux);
	tcp_tenant_handler(r->lan, r->tenant, NULL, NULL);
}

int relay_cache_commit(struct relay *r)
{
	return chan_mux_commit(r->mux);
}

void relay_set_down_rst(struct relay *r, bool on)
{
	r->down_rst = on;
}

void relay_channel_up(struct relay *r, uint64_t now_us)
{
	chan_mux_start(r->mux, now_us);
}

void relay_channel_down(struct relay *r)
{
	chan_mux_reset(r->mux);
}

int relay_channel_rx(struct relay *r, const uint8_t *p, size_t n)
{
	return chan_mux_rx(r->mux, p, n);
}

size_t relay_channel_tx(struct relay *r, uint8_t *out, size_t cap, uint64_t now_us)
{
	return chan_mux_tx(r->mux, out, cap, now_us);
}

bool relay_channel_pending(const struct relay *r)
{
	return chan_mux_tx_pending(r->mux);
}

uint64_t relay_next_timer(const struct relay *r)
{
	return chan_mux_next_timer(r->mux);
}

bool relay_up(const struct relay *r)
{
	return chan_mux_up(r->mux);
}

const char *relay_why(const struct relay *r)
{
	return chan_mux_why(r->mux);
}

struct chan_mux *relay_mux(struct relay *r)
{
	return r->mux;
}

void relay_stats(const struct relay *r, struct relay_stats *s)
{
	*s = r->st;
	chan_mux_stats(r->mux, &s->mux);
}
