/* SPDX-License-Identifier: BSD-3-Clause */
/* The connection table: preallocated slots, lookup by 4-tuple, allocation
 * and free (a freed connection is reaped when the outermost call ends),
 * state changes with their counts, the appliance's and tenants' bounds
 * and buffer accounting, and events to the application. */
#include "tcp_internal.h"

#include <string.h>

static uint32_t tuple_hash(const struct tcp_stack *st, uint8_t af,
			   const struct tcp_addr *l, uint16_t lport,
			   const struct tcp_addr *r, uint16_t rport)
{
	uint8_t buf[37];
	size_t alen = af == TCP_AF_INET ? 4 : 16;
	memcpy(buf, l->b, alen);
	memcpy(buf + alen, r->b, alen);
	memcpy(buf + 2 * alen, &lport, 2);
	memcpy(buf + 2 * alen + 2, &rport, 2);
	buf[2 * alen + 4] = af;
	return (uint32_t)tcp_siphash(st->hash_key, buf, 2 * alen + 5) &
	       (st->nbuckets - 1);
}

bool tcp_addr_eq(uint8_t af, const struct tcp_addr *a, const struct tcp_addr *b)
{
	return memcmp(a->b, b->b, af == TCP_AF_INET ? 4 : 16) == 0;
}

struct tcp_conn *tcp_find(struct tcp_stack *st, uint8_t af,
			     const struct tcp_addr *l, uint16_t lport,
			     const struct tcp_addr *r, uint16_t rport)
{
	uint32_t h = tuple_hash(st, af, l, lport, r, rport);
	for (uint32_t i = st->buckets[h]; i; i = st->conns[i - 1].hnext) {
		struct tcp_conn *c = &st->conns[i - 1];
		if (c->af == af && c->lport == lport && c->rport == rport &&
		    !(c->flags & TF_DEAD) &&
		    tcp_addr_eq(af, &c->laddr, l) && tcp_addr_eq(af, &c->raddr, r))
			return c;
	}
	return NULL;
}

struct tcp_conn *tcp_lookup(struct tcp_stack *st, const struct tcp_seg *s)
{
	return tcp_find(st, s->af, &s->dst, s->dport, &s->src, s->sport);
}

struct tcp_conn *tcp_conn_alloc(struct tcp_stack *st, uint8_t af,
				const struct tcp_addr *laddr, uint16_t lport,
				const struct tcp_addr *raddr, uint16_t rport,
				uint16_t tenant)
{
	if (!st->free_head) {
		st->stats.limit_table++;
		return NULL;
	}
	struct tcp_conn *c = &st->conns[st->free_head - 1];
	st->free_head = c->hnext;
	uint32_t idx = c->idx;
	memset(c, 0, sizeof(*c));
	c->idx = idx;
	c->st = st;
	c->af = af;
	c->laddr = *laddr;
	c->raddr = *raddr;
	c->lport = lport;
	c->rport = rport;
	c->tenant = tenant;
	c->state = TCP_CLOSED;
	c->rto_us = st->cfg.rto_init_us;
	c->snd_mss = 536;
	c->rcv_wscale = tcp_our_wscale(st);
	uint32_t h = tuple_hash(st, af, laddr, lport, raddr, rport);
	c->hnext = st->buckets[h];
	st->buckets[h] = idx + 1;
	c->flags = TF_IN_TABLE;
	st->nconns++;
	return c;
}

/* The window scale we offer: the smallest that covers rcvbuf. */
uint8_t tcp_our_wscale(const struct tcp_stack *st)
{
	uint8_t ws = 0;
	if (!(st->cfg.flags & TCP_CFG_NO_WSCALE))
		while (ws < TCP_WSCALE_MAX && (65535u << ws) < st->cfg.rcvbuf)
			ws++;
	return ws;
}

void tcp_conn_free(struct tcp_stack *st, struct tcp_conn *c)
{
	if (!(c->flags & TF_IN_TABLE) || (c->flags & TF_DEAD))
		return;
	tcp_set_state(c, TCP_CLOSED);
	tcp_account(c, -(int64_t)(c->sndq.bytes + c->rcvq.bytes + c->oooq.bytes));
	mq_free(&c->sndq);
	mq_free(&c->rcvq);
	mq_free(&c->oooq);
	c->t_rto = c->t_delack = c->t_persist = c->t_tw = c->t_pace = 0;
	tcp_timer_unlink(st, c);
	c->flags |= TF_DEAD;
	c->znext = st->zombies;
	st->zombies = c;
	if (!st->depth) {
		TCP_SCOPE(st); /* freed outside any call: reaped as this scope ends */
	}
}

void tcp_conn_reap(struct tcp_stack *st, struct tcp_conn *c)
{
	uint32_t h = tuple_hash(st, c->af, &c->laddr, c->lport, &c->raddr, c->rport);
	uint32_t *pp = &st->buckets[h];
	while (*pp && *pp != c->idx + 1)
		pp = &st->conns[*pp - 1].hnext;
	if (*pp)
		*pp = c->hnext;
	c->flags = 0;
	c->hnext = st->free_head;
	st->free_head = c->idx + 1;
	st->nconns--;
}

static bool is_half(uint8_t s)
{
	return s == TCP_SYN_SENT || s == TCP_SYN_RECEIVED;
}

static bool is_est(uint8_t s)
{
	return s >= TCP_ESTABLISHED && s != TCP_TIME_WAIT;
}

/* State changes keep the half-open and established counts (per appliance
 * and per tenant) exact. An intercepted flow's open counts as pending, not
 * half-open, until it leaves SYN-RECEIVED. */
void tcp_set_state(struct tcp_conn *c, uint8_t state)
{
	struct tcp_stack *st = c->st;
	struct tcp_tenant *t = &st->tenants[c->tenant];
	bool ic = (c->flags & TF_INTERCEPT) != 0;
	uint32_t *sh = ic ? &st->pending : &st->half_open;
	uint32_t *th = ic ? &t->pending : &t->half_open;
	if (is_half(c->state) && !is_half(state)) {
		(*sh)--;
		(*th)--;
		c->flags &= ~TF_PENDING;
	} else if (!is_half(c->state) && is_half(state)) {
		(*sh)++;
		(*th)++;
	}
	if (is_est(c->state) && !is_est(state)) {
		st->established--;
		t->established--;
	} else if (!is_est(c->state) && is_est(state)) {
		st->established++;
		t->established++;
	}
	c->state = state;
}

bool tcp_may_open(struct tcp_stack *st, uint16_t tenant, bool half)
{
	const struct tcp_tenant *t = &st->tenants[tenant];
	if (half && (st->half_open >= st->cfg.max_half_open ||
		     t->half_open >= st->cfg.tenant_max_half_open)) {
		st->stats.limit_half_open++;
		return false;
	}
	if (st->established + st->half_open >= st->cfg.max_established ||
	    t->established + t->half_open >= st->cfg.tenant_max_established) {
		st->stats.limit_established++;
		return false;
	}
	return true;
}

bool tcp_tenant_buffer_ok(struct tcp_conn *c, uint32_t add)
{
	const struct tcp_tenant *t = &c->st->tenants[c->tenant];
	return t->buffered + add <= c->st->cfg.tenant_max_buffer;
}

void tcp_account(struct tcp_conn *c, int64_t delta)
{
	c->st->tenants[c->tenant].buffered += (uint64_t)delta;
}

void tcp_notify(struct tcp_conn *c, uint32_t ev)
{
	if (c->flags & TF_APP_CLOSED || (!c->st->ops.event && !c->handler))
		return;
	if (!(c->flags & TF_NOTIFIED_CONN)) {
		/* A passive connection is unknown to the application until it
		 * is established; never send it events before CONNECTED. */
		if (!(ev & TCP_EV_CONNECTED) && (c->flags & TF_PASSIVE))
			return;
		if (ev & TCP_EV_CONNECTED)
			c->flags |= TF_NOTIFIED_CONN;
	}
	if (c->handler)
		c->handler(c->handler_arg, c, ev);
	else
		c->st->ops.event(c->st->ctx, c, ev);
}

/* Goes to CLOSED after a reset or a timeout; frees at once when the
 * application has no handle (or never had one). */
void tcp_conn_reset(struct tcp_conn *c, uint32_t ev)
{
	struct tcp_stack *st = c->st;
	tcp_account(c, -(int64_t)(c->sndq.bytes + c->oooq.bytes));
	mq_free(&c->sndq);
	mq_free(&c->oooq);
	c->t_rto = c->t_delack = c->t_persist = c->t_tw = c->t_pace = 0;
	tcp_timer_update(c);
	tcp_set_state(c, TCP_CLOSED);
	c->flags |= TF_RESET;
	if (ev & TCP_EV_RESET)
		st->tenants[c->tenant].resets++;
	bool app = !(c->flags & TF_APP_CLOSED) &&
		   (!(c->flags & TF_PASSIVE) || (c->flags & TF_NOTIFIED_CONN));
	if (app)
		tcp_notify(c, ev | TCP_EV_CLOSED);
	else
		tcp_conn_free(st, c);
}
