/* SPDX-License-Identifier: BSD-3-Clause */
/* The per-worker stack: configuration, the preallocated connection table,
 * lookup, listeners, tenant limits and accounting, the application API. */
#include "tcp_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <rte_mempool.h>

static const char *const state_names[TCP_NSTATES] = {
	"CLOSED", "LISTEN", "SYN-SENT", "SYN-RECEIVED", "ESTABLISHED",
	"FIN-WAIT-1", "FIN-WAIT-2", "CLOSE-WAIT", "CLOSING", "LAST-ACK",
	"TIME-WAIT",
};

const char *tcp_state_name(enum tcp_state s)
{
	return (unsigned)s < TCP_NSTATES ? state_names[s] : "?";
}

void tcp_config_defaults(struct tcp_config *c)
{
#define DEF(f, v) if (!c->f) c->f = (v)
	DEF(max_conns, 16384);
	DEF(max_half_open, 1024);
	DEF(max_established, c->max_conns);
	DEF(max_tenants, 64);
	DEF(tenant_max_half_open, c->max_half_open);
	DEF(tenant_max_established, c->max_established);
	DEF(sndbuf, 16u << 20);
	DEF(rcvbuf, 16u << 20);
	DEF(tenant_max_buffer, (uint64_t)c->sndbuf * 64);
	DEF(ooo_max, c->rcvbuf);
	DEF(ooo_max_segs, 1024);
	DEF(mss, 1460);
	DEF(delack_us, 40000);
	DEF(rto_min_us, 200000);
	DEF(rto_max_us, 60000000);
	DEF(rto_init_us, 1000000);
	DEF(time_wait_us, 60000000);
	DEF(challenge_ack_per_s, 1000);
	DEF(max_retries, 15);
	DEF(syn_retries, 6);
	DEF(max_pending, c->max_half_open);
	DEF(tenant_max_pending, c->max_pending);
	DEF(pending_timeout_us, 75000000);
#undef DEF
}

static bool key_is_zero(const uint8_t *k)
{
	for (int i = 0; i < 16; i++)
		if (k[i])
			return false;
	return true;
}

struct tcp_stack *tcp_stack_create(const struct tcp_config *cfg,
				   const struct tcp_ops *ops, void *ctx,
				   struct rte_mempool *mp)
{
	if (!cfg || !ops || !ops->now_us || !ops->output || !mp) {
		errno = EINVAL;
		return NULL;
	}
	struct tcp_stack *st = calloc(1, sizeof(*st));
	if (!st)
		goto err;
	st->cfg = *cfg;
	tcp_config_defaults(&st->cfg);
	if (st->cfg.mss < 536 || st->cfg.mss > 9000 || st->cfg.rcvbuf > (1u << 30) ||
	    st->cfg.sndbuf > (1u << 30)) {
		free(st);
		errno = EINVAL;
		return NULL;
	}
	st->ops = *ops;
	st->ctx = ctx;
	st->mp = mp;
	st->conns = calloc(st->cfg.max_conns, sizeof(*st->conns));
	if (!st->conns)
		goto err_stack;
	st->nbuckets = 1;
	while (st->nbuckets < st->cfg.max_conns)
		st->nbuckets <<= 1;
	st->buckets = calloc(st->nbuckets, sizeof(*st->buckets));
	if (!st->buckets)
		goto err_conns;
	st->tenants = calloc(st->cfg.max_tenants, sizeof(*st->tenants));
	if (!st->tenants)
		goto err_buckets;
	for (uint32_t i = 0; i < st->cfg.max_conns; i++) {
		st->conns[i].idx = i;
		st->conns[i].hnext = i + 2 <= st->cfg.max_conns ? i + 2 : 0;
	}
	st->free_head = st->cfg.max_conns ? 1 : 0;

	uint8_t secret[16];
	if (key_is_zero(cfg->secret)) {
		if (getrandom(secret, sizeof(secret), 0) != sizeof(secret))
			goto err_tenants;
	} else {
		memcpy(secret, cfg->secret, sizeof(secret));
	}
	uint64_t k[2];
	memcpy(k, secret, 16);
	/* Independent keys for the hash table, ISNs and cookies. */
	for (int i = 0; i < 2; i++) {
		uint8_t label[2] = { 'h', (uint8_t)i };
		st->hash_key[i] = tcp_siphash(k, label, 2);
		label[0] = 'i';
		st->isn_key[i] = tcp_siphash(k, label, 2);
		label[0] = 'c';
		st->cookie_key[i] = tcp_siphash(k, label, 2);
	}
	memset(secret, 0, sizeof(secret));
	memset(k, 0, sizeof(k));
	return st;

err_tenants:
	free(st->tenants);
err_buckets:
	free(st->buckets);
err_conns:
	free(st->conns);
err_stack:
	free(st);
err:
	errno = ENOMEM;
	return NULL;
}

void tcp_stack_destroy(struct tcp_stack *st)
{
	if (!st)
		return;
	for (uint32_t i = 0; i < st->cfg.max_conns; i++) {
		struct tcp_conn *c = &st->conns[i];
		mq_free(&c->sndq);
		mq_free(&c->rcvq);
		mq_free(&c->oooq);
	}
	for (uint16_t i = 0; i < st->ntx; i++)
		rte_pktmbuf_free(st->tx[i]);
	free(st->tenants);
	free(st->buckets);
	free(st->conns);
	memset(st->isn_key, 0, sizeof(st->isn_key));
	memset(st->cookie_key, 0, sizeof(st->cookie_key));
	free(st);
}

/* ---- mbuf queues ---- */

void mq_push(struct mbuf_q *q, struct rte_mbuf *m)
{
	m->next = NULL;
	m->nb_segs = 1;
	m->pkt_len = m->data_len;
	if (q->tail)
		q->tail->next = m;
	else
		q->head = m;
	q->tail = m;
	q->bytes += m->data_len;
	q->segs++;
}

void mq_free(struct mbuf_q *q)
{
	if (q->head)
		rte_pktmbuf_free(q->head);
	q->head = q->tail = q->cur = NULL;
	q->bytes = q->segs = 0;
}

/* Drops n bytes from the front; returns how many were dropped. */
uint32_t mq_drop_front(struct mbuf_q *q, uint32_t n)
{
	uint32_t done = 0;
	while (n && q->head) {
		struct rte_mbuf *m = q->head;
		if (m == q->cur)
			q->cur = NULL; /* freed or trimmed below */
		if (m->data_len <= n) {
			n -= m->data_len;
			done += m->data_len;
			q->head_pos += m->data_len;
			q->bytes -= m->data_len;
			q->segs--;
			q->head = m->next;
			if (!q->head)
				q->tail = NULL;
			m->next = NULL;
			rte_pktmbuf_free_seg(m);
		} else {
			rte_pktmbuf_adj(m, (uint16_t)n);
			q->head_pos += n;
			q->bytes -= n;
			done += n;
			n = 0;
		}
	}
	return done;
}

/* Copies n bytes from offset off; returns how many were copied. Starts
 * from the cursor when it lies at or before off, and leaves it on the
 * mbuf holding the first byte copied. */
uint32_t mq_copy(struct mbuf_q *q, uint32_t off, void *dst, uint32_t n)
{
	uint8_t *d = dst;
	uint32_t done = 0;
	uint64_t want = q->head_pos + off, pos = q->head_pos;
	struct rte_mbuf *m = q->head;
	if (q->cur && q->cur_pos <= want) {
		m = q->cur;
		pos = q->cur_pos;
	}
	while (m && want >= pos + m->data_len) {
		pos += m->data_len;
		m = m->next;
	}
	if (m) {
		q->cur = m;
		q->cur_pos = pos;
	}
	uint32_t o = (uint32_t)(want - pos);
	while (m && done < n) {
		uint32_t k = m->data_len - o;
		if (k > n - done)
			k = n - done;
		memcpy(d + done, rte_pktmbuf_mtod_offset(m, const uint8_t *, o), k);
		done += k;
		o = 0;
		m = m->next;
	}
	return done;
}

/* ---- connection table ---- */

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

static bool addr_eq(uint8_t af, const struct tcp_addr *a, const struct tcp_addr *b)
{
	return memcmp(a->b, b->b, af == TCP_AF_INET ? 4 : 16) == 0;
}

static struct tcp_conn *find(struct tcp_stack *st, uint8_t af,
			     const struct tcp_addr *l, uint16_t lport,
			     const struct tcp_addr *r, uint16_t rport)
{
	uint32_t h = tuple_hash(st, af, l, lport, r, rport);
	for (uint32_t i = st->buckets[h]; i; i = st->conns[i - 1].hnext) {
		struct tcp_conn *c = &st->conns[i - 1];
		if (c->af == af && c->lport == lport && c->rport == rport &&
		    !(c->flags & TF_DEAD) &&
		    addr_eq(af, &c->laddr, l) && addr_eq(af, &c->raddr, r))
			return c;
	}
	return NULL;
}

struct tcp_conn *tcp_lookup(struct tcp_stack *st, const struct tcp_seg *s)
{
	return find(st, s->af, &s->dst, s->dport, &s->src, s->sport);
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

static void timer_unlink(struct tcp_stack *st, struct tcp_conn *c)
{
	if (c->tprev)
		c->tprev->tnext = c->tnext;
	else if (st->timers == c)
		st->timers = c->tnext;
	else
		return;
	if (c->tnext)
		c->tnext->tprev = c->tprev;
	c->tnext = c->tprev = NULL;
}

static uint64_t conn_due(const struct tcp_conn *c)
{
	uint64_t d = UINT64_MAX;
	const uint64_t t[] = { c->t_rto, c->t_delack, c->t_persist, c->t_tw, c->t_pace };
	for (unsigned i = 0; i < 5; i++)
		if (t[i] && t[i] < d)
			d = t[i];
	return d;
}

void tcp_timer_update(struct tcp_conn *c)
{
	struct tcp_stack *st = c->st;
	bool armed = c->t_rto || c->t_delack || c->t_persist || c->t_tw || c->t_pace;
	if (armed) {
		uint64_t d = conn_due(c);
		if (d < st->next_due)
			st->next_due = d;
	}
	bool linked = c->tprev || st->timers == c;
	if (armed && !linked) {
		c->tnext = st->timers;
		c->tprev = NULL;
		if (st->timers)
			st->timers->tprev = c;
		st->timers = c;
	} else if (!armed && linked) {
		timer_unlink(st, c);
	}
}

static void leave(struct tcp_stack *st);

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
	timer_unlink(st, c);
	c->flags |= TF_DEAD;
	c->znext = st->zombies;
	st->zombies = c;
	if (!st->depth) {
		st->depth = 1;
		leave(st); /* freed outside any call: reaped now */
	}
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

/* ---- listeners and opens ---- */

int tcp_listen(struct tcp_stack *st, enum tcp_af af, const struct tcp_addr *addr,
	       uint16_t port, uint16_t tenant, uint32_t flags)
{
	return tcp_listen_cb(st, af, addr, port, tenant, flags, NULL, NULL);
}

void tcp_set_handler(struct tcp_conn *c, tcp_event_fn fn, void *arg)
{
	c->handler = fn;
	c->handler_arg = arg;
}

int tcp_listen_cb(struct tcp_stack *st, enum tcp_af af, const struct tcp_addr *addr,
		  uint16_t port, uint16_t tenant, uint32_t flags,
		  tcp_event_fn fn, void *arg)
{
	if ((af != TCP_AF_INET && af != TCP_AF_INET6) || !port ||
	    tenant >= st->cfg.max_tenants)
		return -EINVAL;
	struct tcp_addr any = { 0 };
	if (!addr)
		addr = &any;
	struct tcp_listener *freel = NULL;
	for (int i = 0; i < TCP_MAX_LISTENERS; i++) {
		struct tcp_listener *l = &st->listeners[i];
		if (!l->used) {
			if (!freel)
				freel = l;
			continue;
		}
		if (l->af == af && l->port == port && addr_eq(af, &l->addr, addr))
			return -EADDRINUSE;
	}
	if (!freel)
		return -ENOSPC;
	freel->used = true;
	freel->af = af;
	freel->port = port;
	freel->tenant = tenant;
	freel->flags = flags;
	freel->addr = *addr;
	freel->fn = fn;
	freel->arg = arg;
	return 0;
}

const struct tcp_listener *tcp_find_listener(struct tcp_stack *st,
					     const struct tcp_seg *s)
{
	static const struct tcp_addr any;
	const struct tcp_listener *wild = NULL;
	for (int i = 0; i < TCP_MAX_LISTENERS; i++) {
		const struct tcp_listener *l = &st->listeners[i];
		if (!l->used || l->af != s->af || l->port != s->dport)
			continue;
		if (addr_eq(s->af, &l->addr, &s->dst))
			return l;
		if (addr_eq(s->af, &l->addr, &any))
			wild = l;
	}
	return wild;
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


static void reap(struct tcp_stack *st, struct tcp_conn *c)
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

/* The call scope (TCP_SCOPE, tcp_internal.h). */
struct tcp_scope tcp_scope_enter(struct tcp_stack *st)
{
	if (st->depth++ == 0)
		st->now = st->ops.now_us(st->ctx);
	return (struct tcp_scope){ st };
}

static void leave(struct tcp_stack *st)
{
	if (--st->depth)
		return;
	tcp_flush(st);
	while (st->zombies) {
		struct tcp_conn *c = st->zombies;
		st->zombies = c->znext;
		reap(st, c);
	}
}

void tcp_scope_leave(struct tcp_scope *s)
{
	leave(s->st);
}

struct tcp_conn *tcp_connect(struct tcp_stack *st, enum tcp_af af,
			     const struct tcp_addr *laddr, uint16_t lport,
			     const struct tcp_addr *raddr, uint16_t rport,
			     uint16_t tenant)
{
	if ((af != TCP_AF_INET && af != TCP_AF_INET6) || !lport || !rport ||
	    tenant >= st->cfg.max_tenants || !laddr || !raddr) {
		errno = EINVAL;
		return NULL;
	}
	TCP_SCOPE(st);
	if (find(st, af, laddr, lport, raddr, rport)) {
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

/* ---- application API ---- */

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
	if (done < len)
		c->flags |= TF_WANT_WRITABLE;
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
		tcp_send_segment(c, c->snd_nxt, 0, TH_RST | TH_ACK);
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

void tcp_conn_stats(const struct tcp_conn *c, struct tcp_conn_stats *out)
{
	*out = c->stats;
	out->srtt_us = c->srtt_us;
	out->rttvar_us = c->rttvar_us;
	out->rto_us = c->rto_us;
	out->min_rtt_us = c->min_rtt_us;
	out->cwnd = c->cwnd;
	out->ssthresh = c->ssthresh;
	out->snd_wnd = c->snd_wnd;
	out->rcv_wnd = c->rcv_adv - c->rcv_nxt;
}

void tcp_stack_stats(const struct tcp_stack *st, struct tcp_stack_stats *out)
{
	*out = st->stats;
	out->conns = st->nconns;
	out->half_open = st->half_open;
	out->established = st->established;
	out->pending = st->pending;
}

int tcp_tenant_stats(const struct tcp_stack *st, uint16_t tenant,
		     struct tcp_tenant_stats *out)
{
	if (tenant >= st->cfg.max_tenants)
		return -EINVAL;
	const struct tcp_tenant *t = &st->tenants[tenant];
	out->half_open = t->half_open;
	out->established = t->established;
	out->buffered = t->buffered;
	out->retrans_segs = t->retrans_segs;
	out->resets = t->resets;
	out->ooo_bytes = t->ooo_bytes;
	out->pending = t->pending;
	out->pending_limit_drops = t->pending_limit_drops;
	out->pending_timeouts = t->pending_timeouts;
	return 0;
}

uint32_t tcp_stack_max_conns(const struct tcp_stack *st)
{
	return st->cfg.max_conns;
}

uint16_t tcp_stack_max_tenants(const struct tcp_stack *st)
{
	return st->cfg.max_tenants;
}

const struct tcp_conn *tcp_conn_at(const struct tcp_stack *st, uint32_t idx)
{
	if (idx >= st->cfg.max_conns)
		return NULL;
	const struct tcp_conn *c = &st->conns[idx];
	return (c->flags & TF_IN_TABLE) && !(c->flags & TF_DEAD) ? c : NULL;
}

uint16_t tcp_conn_tenant(const struct tcp_conn *c)
{
	return c->tenant;
}

uint64_t tcp_next_timer(const struct tcp_stack *st)
{
	return st->timers ? st->next_due : UINT64_MAX;
}

/* Walks the connections with an armed timer, but only when the earliest
 * deadline has come: between deadlines a poll costs one comparison. */
void tcp_poll(struct tcp_stack *st)
{
	TCP_SCOPE(st);
	if (st->now >= st->next_due) {
		st->next_due = UINT64_MAX;
		struct tcp_conn *c = st->timers;
		while (c) {
			struct tcp_conn *next = c->tnext;
			if ((c->flags & TF_PENDING) && c->t_tw && st->now >= c->t_tw)
				tcp_pending_expired(c);
			else
				tcp_timers_run(c);
			if (!(c->flags & TF_DEAD)) {
				uint64_t d = conn_due(c);
				if (d < st->next_due)
					st->next_due = d;
			}
			c = next;
		}
	}
}
