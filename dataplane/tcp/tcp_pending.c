/* SPDX-License-Identifier: BSD-3-Clause */
/* Pending opens of intercepted flows (tcp.h, tcp_intercept()): the
 * client's SYN is held, unanswered, until the application accepts it (the
 * SYN-ACK goes out) or refuses it (RST, silence or an ICMP error), within
 * per-appliance and per-tenant bounds and a timeout. */
#include "tcp_internal.h"

#include <errno.h>
#include <string.h>

#include <rte_mbuf.h>

/* Room for one more intercepted open of the tenant? Counts the drop. */
bool tcp_may_pend(struct tcp_stack *st, uint16_t tenant)
{
	struct tcp_tenant *t = &st->tenants[tenant];
	if (st->pending >= st->cfg.max_pending || t->pending >= st->cfg.tenant_max_pending) {
		st->stats.pending_limit_drops++;
		t->pending_limit_drops++;
		return false;
	}
	if (st->established + st->half_open + st->pending >= st->cfg.max_established ||
	    t->established + t->pending >= st->cfg.tenant_max_established) {
		st->stats.limit_established++;
		return false;
	}
	return true;
}

bool tcp_intercept_room(const struct tcp_stack *st, uint16_t tenant)
{
	if (tenant >= st->cfg.max_tenants)
		return false;
	const struct tcp_tenant *t = &st->tenants[tenant];

	return st->free_head &&
	       st->pending < st->cfg.max_pending && t->pending < st->cfg.tenant_max_pending &&
	       st->established + st->half_open + st->pending < st->cfg.max_established &&
	       t->established + t->pending < st->cfg.tenant_max_established;
}

int tcp_tenant_handler(struct tcp_stack *st, uint16_t tenant, tcp_event_fn fn,
		       void *arg)
{
	if (tenant >= st->cfg.max_tenants)
		return -EINVAL;
	st->tenants[tenant].handler = fn;
	st->tenants[tenant].handler_arg = arg;
	return 0;
}

bool tcp_is_pending(const struct tcp_conn *c)
{
	return (c->flags & TF_PENDING) && c->state == TCP_SYN_RECEIVED;
}

int tcp_accept_pending(struct tcp_conn *c)
{
	if (!tcp_is_pending(c))
		return -EINVAL;
	struct tcp_stack *st = c->st;
	TCP_SCOPE(st);
	c->flags &= ~TF_PENDING;
	c->t_tw = 0;
	c->iss = tcp_isn(st, c);
	c->snd_una = c->iss;
	c->snd_nxt = c->snd_max = c->iss + 1;
	c->recover = c->iss;
	c->snd_wl2 = c->iss;
	st->stats.pending_accepted++;
	tcp_send_segment(c, c->iss, 0, TH_SYN | TH_ACK);
	c->flags |= TF_RTT_TIMING;
	c->rtt_seq = c->iss;
	c->rtt_start_us = st->now;
	tcp_arm_rto(c);
	return 0;
}

int tcp_refuse_pending(struct tcp_conn *c, enum tcp_refuse how,
		       struct tcp_refused *out)
{
	if (!tcp_is_pending(c) ||
	    (how != TCP_REFUSE_RST && how != TCP_REFUSE_SILENT && how != TCP_REFUSE_UNREACH))
		return -EINVAL;
	struct tcp_stack *st = c->st;
	TCP_SCOPE(st);
	if (out) {
		memset(out, 0, sizeof(*out));
		out->af = c->af;
		out->client = c->raddr;
		out->server = c->laddr;
		out->client_port = c->rport;
		out->server_port = c->lport;
		out->client_isn = c->irs;
	}
	if (how == TCP_REFUSE_RST) {
		/* what the server's RST answer to the SYN is (RFC 9293
		 * 3.10.7.1): <SEQ=0><ACK=ISN+1><CTL=RST,ACK> */
		struct tcp_seg s;
		memset(&s, 0, sizeof(s));
		s.af = c->af;
		s.src = c->raddr;
		s.dst = c->laddr;
		s.sport = c->rport;
		s.dport = c->lport;
		s.seq = c->irs;
		s.flags = TH_SYN;
		tcp_send_rst_reply(st, &s);
	}
	st->stats.pending_refused++;
	c->flags |= TF_APP_CLOSED;
	tcp_conn_free(st, c);
	return 0;
}

/* An open the application never decided: dropped without a word to the
 * client (as a silent server), the application told. */
void tcp_pending_expired(struct tcp_conn *c)
{
	struct tcp_stack *st = c->st;
	c->t_tw = 0;
	st->stats.pending_timeouts++;
	st->tenants[c->tenant].pending_timeouts++;
	tcp_conn_reset(c, TCP_EV_TIMEOUT);
}

void tcp_conn_syn_opts(const struct tcp_conn *c, struct tcp_syn_opts *out)
{
	out->mss = c->syn_mss;
	out->wscale = c->syn_wscale;
	out->sack_ok = c->syn_sack_ok;
	out->timestamps = c->syn_ts;
}

/* A segment for an open whose SYN is held: we have sent nothing yet. */
void tcp_pending_input(struct tcp_conn *c, struct rte_mbuf *m, const struct tcp_seg *s)
{
	struct tcp_stack *st = c->st;
	rte_pktmbuf_free(m);
	c->stats.segs_in++;
	if (s->flags & TH_RST) {
		st->stats.rst_in++;
		/* only a RST at the client's next sequence can be its own */
		if (s->seq == c->rcv_nxt)
			tcp_conn_reset(c, TCP_EV_RESET);
		else
			st->stats.dropped_seq++;
		return;
	}
	if ((s->flags & (TH_SYN | TH_ACK)) == TH_SYN && s->seq == c->irs) {
		st->stats.pending_syn_absorbed++; /* the client retries: still pending */
		return;
	}
	st->stats.dropped_seq++; /* nothing of ours to acknowledge: silence */
}

static int intercept_open(struct tcp_stack *st, const struct tcp_seg *s,
			  uint16_t tenant)
{
	if (!tcp_may_pend(st, tenant))
		return -ENOSPC;
	struct tcp_conn *c = tcp_conn_alloc(st, s->af, &s->dst, s->dport,
					    &s->src, s->sport, tenant);
	if (!c)
		return -ENOSPC;
	const struct tcp_tenant *t = &st->tenants[tenant];
	/* the application knows it from TCP_EV_PENDING on: every later
	 * event (reset, timeout, connected) reaches it */
	c->flags |= TF_INTERCEPT | TF_PENDING | TF_NOTIFIED_CONN;
	c->handler = t->handler;
	c->handler_arg = t->handler_arg;
	c->irs = s->seq;
	c->rcv_nxt = s->seq + 1;
	tcp_negotiate(c, s);
	c->snd_wnd = s->wnd; /* never scaled in a SYN */
	c->max_snd_wnd = c->snd_wnd;
	c->snd_wl1 = s->seq;
	tcp_cc_init(c);
	tcp_set_state(c, TCP_SYN_RECEIVED);
	c->t_tw = st->now + st->cfg.pending_timeout_us;
	tcp_timer_update(c);
	st->stats.pending_opens++;
	tcp_notify(c, TCP_EV_PENDING);
	return 0;
}

int tcp_intercept(struct tcp_stack *st, struct rte_mbuf *m, uint16_t tenant)
{
	if (tenant >= st->cfg.max_tenants) {
		rte_pktmbuf_free(m);
		return -EINVAL;
	}
	int rc = 0;
	struct tcp_seg s;
	TCP_SCOPE(st);
	st->stats.segs_in++;
	if (!tcp_parse(st, m, &s)) {
		rte_pktmbuf_free(m);
		rc = -EBADMSG;
		goto out;
	}
	struct tcp_conn *c = tcp_lookup(st, &s);
	if (c && tcp_time_wait_reuse(c, &s))
		c = NULL;
	if (c) {
		tcp_conn_input(st, c, m, &s);
		goto out;
	}
	rte_pktmbuf_free(m);
	if ((s.flags & (TH_SYN | TH_ACK | TH_RST | TH_FIN)) != TH_SYN) {
		/* a flow the engine does not know: as tcp_input() answers */
		st->stats.no_conn++;
		tcp_send_rst_reply(st, &s);
		rc = -EINVAL;
		goto out;
	}
	if (!st->tenants[tenant].handler && !st->ops.event) {
		rc = -EINVAL; /* nobody to decide */
		goto out;
	}
	rc = intercept_open(st, &s, tenant);
out:
	return rc;
}
