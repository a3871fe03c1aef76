/* SPDX-License-Identifier: BSD-3-Clause */
/* The per-worker stack: configuration, creation and destruction, and the
 * call scope (TCP_SCOPE) every entry point runs in. */
#include "tcp_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <rte_mempool.h>

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
	/* twice the table: a slot reused before the next look may be listed twice */
	st->starved_cap = 2 * st->cfg.max_conns;
	st->starved = calloc(st->starved_cap, sizeof(*st->starved));
	if (!st->starved)
		goto err_tenants;
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
	free(st->starved);
	free(st->tenants);
	free(st->buckets);
	free(st->conns);
	memset(st->isn_key, 0, sizeof(st->isn_key));
	memset(st->cookie_key, 0, sizeof(st->cookie_key));
	free(st);
}

/* The call scope (TCP_SCOPE, tcp_internal.h). */
struct tcp_scope tcp_scope_enter(struct tcp_stack *st)
{
	if (st->depth++ == 0)
		st->now = st->ops.now_us(st->ctx);
	return (struct tcp_scope){ st };
}

void tcp_scope_leave(struct tcp_scope *s)
{
	struct tcp_stack *st = s->st;
	if (--st->depth)
		return;
	tcp_flush(st);
	while (st->zombies) {
		struct tcp_conn *c = st->zombies;
		st->zombies = c->znext;
		tcp_conn_reap(st, c);
	}
}
