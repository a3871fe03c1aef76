/* SPDX-License-Identifier: BSD-3-Clause */
/* The application API: active open, reading, writing, shutdown, close and
 * abort, handlers and user data. */
#include "tcp_internal.h"

#include <errno.h>
#include <string.h>

/* An active open; offer (may be NULL) is the other host's SYN that ours
 * copies (tcp_connect_offer): kept in the syn_* fields, which an active
 * open does not use otherwise (syn_mss != 0 marks it). */
static struct tcp_conn *open_active(struct tcp_stack *st, enum tcp_af af,
				    const struct tcp_addr *laddr, uint16_t lport,
				    const struct tcp_addr *raddr, uint16_t rport,
				    uint16_t tenant, const struct tcp_syn_opts *offer)
{
	if ((af != TCP_AF_INET && af != TCP_AF_INET6) || !lport || !rport ||
	    tenant >= st->cfg.max_tenants || !laddr || !raddr) {
		errno = EINVAL;
		return NULL;
	}
	TCP_SCOPE(st);
	if (tcp_find(st, af, laddr, lport, raddr, rport)) {
		errno = EADDRINUSE;
		return NULL;
	}
	if (!tcp_may_open(st, tenant, true)) {
		errno = ENOSPC;
		return NULL;
	}
	struct tcp_conn *c = tcp_conn_alloc(st, af, laddr, lport, raddr, rport, tenant);
	if (!c) {
		errno = ENOSPC;
		return NULL;
	}
	if (offer) {
		uint16_t ours = af == TCP_AF_INET ? st->cfg.mss : (uint16_t)(st->cfg.mss - 20);
		c->syn_mss = offer->mss && offer->mss < ours ? offer->mss : ours;
		c->syn_wscale = offer->wscale >= 0 ? 0 : -1;
		c->syn_sack_ok = offer->sack_ok;
		c->syn_ts = offer->timestamps;
	}
	c->iss = tcp_isn(st, c);
	c->snd_una = c->snd_nxt = c->snd_max = c->iss;
	tcp_cc_init(c);
	tcp_set_state(c, TCP_SYN_SENT);
	tcp_send_segment(c, c->iss, 0, TH_SYN);
	c->snd_nxt = c->snd_max = c->iss + 1;
	c->flags |= TF_RTT_TIMING; /* the handshake gives the first RTT sample */
	c->rtt_seq = c->iss;
	c->rtt_start_us = st->now;
	tcp_arm_rto(c);
	return c;
}

struct tcp_conn *tcp_connect(struct tcp_stack *st, enum tcp_af af,
			     const struct tcp_addr *laddr, uint16_t lport,
			     const struct tcp_addr *raddr, uint16_t rport,
			     uint16_t tenant)
{
	return open_active(st, af, laddr, lport, raddr, rport, tenant, NULL);
}

struct tcp_conn *tcp_connect_offer(struct tcp_stack *st, enum tcp_af af,
				   const struct tcp_addr *laddr, uint16_t lport,
				   const struct tcp_addr *raddr, uint16_t rport,
				   uint16_t tenant, const struct tcp_syn_opts *offer)
{
	if (!offer) {
		errno = EINVAL;
		return NULL;
	}
	return open_active(st, af, laddr, lport, raddr, rport, tenant, offer);
}

void tcp_set_handler(struct tcp_conn *c, tcp_event_fn fn, void *arg)
{
	c->handler = fn;
	c->handler_arg = arg;
}

struct tcp_conn *tcp_find_conn(struct tcp_stack *st, enum tcp_af af,
			       const struct tcp_addr *laddr, uint16_t lport,
			       const struct tcp_addr *raddr, uint16_t rport)
{
	struct tcp_conn *c = tcp_find(st, (uint8_t)af, laddr, lport, raddr, rport);

	return c && !(c->flags & (TF_DEAD | TF_APP_CLOSED)) ? c : NULL;
}

uint32_t tcp_conn_iss(const struct tcp_conn *c)
{
	return c->iss;
}

enum tcp_state tcp_state(const struct tcp_conn *c)
{
	return (enum tcp_state)c->state;
}

uint32_t tcp_conn_index(const struct tcp_conn *c)
{
	return c->idx;
}

void tcp_conn_tuple(const struct tcp_conn *c, uint8_t *af, struct tcp_addr *laddr,
		    uint16_t *lport, struct tcp_addr *raddr, uint16_t *rport)
{
	*af = c->af;
	*laddr = c->laddr;
	*lport = c->lport;
	*raddr = c->raddr;
	*rport = c->rport;
}

void tcp_set_user(struct tcp_conn *c, void *user)
{
	c->user = user;
}

void *tcp_user(const struct tcp_conn *c)
{
	return c->user;
}

size_t tcp_readable(const struct tcp_conn *c)
{
	return c->rcvq.bytes;
}

size_t tcp_unacked(const struct tcp_conn *c)
{
	return c->sndq.bytes;
}

size_t tcp_unsent(const struct tcp_conn *c)
{
	uint32_t out = c->snd_nxt - c->snd_una;
	return c->sndq.bytes > out ? c->sndq.bytes - out : 0;
}

bool tcp_peer_closed(const struct tcp_conn *c)
{
	return (c->flags & TF_RCVD_FIN) != 0;
}

size_t tcp_writable(const struct tcp_conn *c)
{
	if (c->flags & TF_FIN_QUEUED)
		return 0;
	if (c->state != TCP_ESTABLISHED && c->state != TCP_CLOSE_WAIT &&
	    c->state != TCP_SYN_SENT && c->state != TCP_SYN_RECEIVED)
		return 0;
	uint64_t room = c->st->cfg.sndbuf - c->sndq.bytes;
	const struct tcp_tenant *t = &c->st->tenants[c->tenant];
	uint64_t troom = t->buffered >= c->st->cfg.tenant_max_buffer
				 ? 0 : c->st->cfg.tenant_max_buffer - t->buffered;
	return room < troom ? room : troom;
}

long tcp_write(struct tcp_conn *c, const void *buf, size_t len)
{
	struct tcp_stack *st = c->st;
	if (c->flags & TF_RESET) {
		errno = ECONNRESET;
		return -1;
	}
	if (c->flags & TF_FIN_QUEUED || c->state == TCP_CLOSED ||
	    c->state == TCP_LISTEN || c->state > TCP_CLOSE_WAIT ||
	    (c->state >= TCP_FIN_WAIT_1 && c->state != TCP_CLOSE_WAIT)) {
		errno = EPIPE;
		return -1;
	}
	TCP_SCOPE(st);
	size_t room = tcp_writable(c);
	size_t want = len < room ? len : room;
	const uint8_t *p = buf;
	size_t done = 0;
	while (done < want) {
		struct rte_mbuf *t = c->sndq.tail;
		uint16_t tail_room = 0;
		if (t && RTE_MBUF_DIRECT(t) && rte_mbuf_refcnt_read(t) == 1)
			tail_room = rte_pktmbuf_tailroom(t);
		if (!tail_room) {
			t = rte_pktmbuf_alloc(st->mp);
			if (!t) {
				st->stats.nombuf++;
				break;
			}
			t->data_off = 0;
			mq_push(&c->sndq, t);
			tail_room = rte_pktmbuf_tailroom(t);
		}
		uint32_t k = (uint32_t)(want - done < tail_room ? want - done : tail_room);
		memcpy(rte_pktmbuf_append(t, (uint16_t)k), p + done, k);
		c->sndq.bytes += k;
		done += k;
	}
	tcp_account(c, (int64_t)done);
	if (done < len) {
		c->flags |= TF_WANT_WRITABLE;
		if (!(c->flags & TF_STARVED) && st->n_starved < st->starved_cap) {
			c->flags |= TF_STARVED;
			st->starved[st->n_starved++] = c->idx;
		}
	}
	if (done && c->state != TCP_SYN_SENT && c->state != TCP_SYN_RECEIVED)
		tcp_output(c);
	return (long)done;
}

size_t tcp_peek(const struct tcp_conn *c, void *buf, size_t len)
{
	uint32_t n = len > c->rcvq.bytes ? c->rcvq.bytes : (uint32_t)len;
	struct mbuf_q q = c->rcvq; /* a copy: the cursor is not needed here */
	q.cur = NULL;
	return mq_copy(&q, 0, buf, n);
}

void tcp_consume(struct tcp_conn *c, size_t len)
{
	struct tcp_stack *st = c->st;
	uint32_t n = len > c->rcvq.bytes ? c->rcvq.bytes : (uint32_t)len;
	if (!n)
		return;
	TCP_SCOPE(st);
	mq_drop_front(&c->rcvq, n);
	tcp_account(c, -(int64_t)n);
	/* Window update when the right edge can move by a useful amount
	 * (receiver-side silly window avoidance, RFC 9293 3.8.6.2.2). */
	if (c->state >= TCP_ESTABLISHED && c->state <= TCP_FIN_WAIT_2 &&
	    !(c->flags & TF_RCVD_FIN)) {
		uint32_t edge = c->rcv_nxt + tcp_rcv_window(c);
		uint32_t thresh = st->cfg.rcvbuf / 2 < 2u * c->snd_mss
					  ? st->cfg.rcvbuf / 2 : 2u * c->snd_mss;
		if (SEQ_GT(edge, c->rcv_adv) && edge - c->rcv_adv >= thresh) {
			c->flags |= TF_ACK_NOW;
			tcp_output(c);
		}
	}
}

long tcp_read(struct tcp_conn *c, void *buf, size_t len)
{
	if (!c->rcvq.bytes && (c->flags & TF_RESET)) {
		errno = ECONNRESET;
		return -1;
	}
	size_t n = tcp_peek(c, buf, len);
	tcp_consume(c, n);
	return (long)n;
}

int tcp_shutdown(struct tcp_conn *c)
{
	if (c->flags & TF_FIN_QUEUED)
		return 0;
	switch (c->state) {
	case TCP_SYN_SENT:
	case TCP_SYN_RECEIVED:
	case TCP_ESTABLISHED:
	case TCP_CLOSE_WAIT:
		break;
	default:
		return -ENOTCONN;
	}
	TCP_SCOPE(c->st);
	c->flags |= TF_FIN_QUEUED;
	if (c->state == TCP_ESTABLISHED)
		tcp_set_state(c, TCP_FIN_WAIT_1);
	else if (c->state == TCP_CLOSE_WAIT)
		tcp_set_state(c, TCP_LAST_ACK);
	/* SYN-SENT, SYN-RECEIVED: FIN goes out once established (RFC 9293 3.10.4). */
	tcp_output(c);
	return 0;
}

void tcp_abort(struct tcp_conn *c)
{
	struct tcp_stack *st = c->st;
	if (tcp_is_pending(c)) {
		tcp_refuse_pending(c, TCP_REFUSE_RST, NULL);
		return;
	}
	TCP_SCOPE(st);
	c->flags |= TF_APP_CLOSED;
	if (c->state >= TCP_SYN_RECEIVED && c->state != TCP_TIME_WAIT) {
		tcp_send_segment(c, tcp_ack_seq(c), 0, TH_RST | TH_ACK);
		st->stats.rst_out++;
	}
	tcp_conn_free(st, c);
}

void tcp_close(struct tcp_conn *c)
{
	struct tcp_stack *st = c->st;
	if (tcp_is_pending(c)) {
		tcp_refuse_pending(c, TCP_REFUSE_SILENT, NULL);
		return;
	}
	if (c->rcvq.bytes && c->state != TCP_CLOSED) {
		tcp_abort(c); /* unread data: RFC 2525 2.17, as Linux does */
		return;
	}
	if (c->state == TCP_CLOSED || c->state == TCP_SYN_SENT) {
		TCP_SCOPE(st);
		c->flags |= TF_APP_CLOSED;
		tcp_conn_free(st, c);
		return;
	}
	tcp_shutdown(c);
	c->flags |= TF_APP_CLOSED;
}
