/* SPDX-License-Identifier: BSD-3-Clause */
/* The table of modules hooked into the worker loop (dp_hooks.h): filled
 * once before the workers start, then only read; each worker keeps its
 * own context per module. */
#include <errno.h>

#include "dp.h"

static struct dp_hooks table[DP_HOOKS_MAX];
static unsigned n_hooks;

int dp_hooks_register(const struct dp_hooks *h)
{
	if (n_hooks == DP_HOOKS_MAX)
		return -ENOSPC;
	table[n_hooks] = *h;
	return (int)n_hooks++;
}

void *dp_hooks_ctx(const struct dp_worker *w, int id)
{
	if (id < 0 || (unsigned)id >= n_hooks)
		return NULL;
	return __atomic_load_n(&w->hook_ctx[id], __ATOMIC_SEQ_CST);
}

uint64_t dp_worker_now_ms(const struct dp_worker *w)
{
	return w->now_ms;
}

int dp_hooks_start(struct dp_worker *w)
{
	for (unsigned i = 0; i < n_hooks; i++) {
		if (!table[i].worker_init)
			continue;
		void *ctx = table[i].worker_init(w);
		if (!ctx) {
			dp_hooks_stop(w); /* the modules started before it */
			return -1;
		}
		__atomic_store_n(&w->hook_ctx[i], ctx, __ATOMIC_RELEASE);
	}
	return 0;
}

/* Runs once, as the worker leaves its loop, never per packet. */
void dp_hooks_stop(struct dp_worker *w)
{
	for (unsigned i = n_hooks; i-- > 0;) {
		void *ctx = w->hook_ctx[i];
		__atomic_store_n(&w->hook_ctx[i], NULL, __ATOMIC_SEQ_CST);
		if (ctx && table[i].worker_fini)
			table[i].worker_fini(w, ctx);
	}
}

bool dp_hooks_intercept(struct dp_worker *w, struct rte_mbuf *m, const struct pkt_info *pi,
			struct flow *f, unsigned in_port)
{
	for (unsigned i = 0; i < n_hooks; i++)
		if (table[i].intercept && table[i].intercept(w->hook_ctx[i], m, pi, f, in_port))
			return true;
	return false;
}

bool dp_hooks_local(struct dp_worker *w, struct rte_mbuf *m, const struct pkt_info *pi,
		    unsigned in_port)
{
	for (unsigned i = 0; i < n_hooks; i++)
		if (table[i].local && table[i].local(w->hook_ctx[i], m, pi, in_port))
			return true;
	return false;
}

unsigned dp_hooks_poll(struct dp_worker *w)
{
	unsigned work = 0;
	for (unsigned i = 0; i < n_hooks; i++)
		if (table[i].poll)
			work += table[i].poll(w->hook_ctx[i], w->now_ms);
	return work;
}

/* Added and changed: in the order of registration; removed: in reverse,
 * as at stop (a module lets go of what an earlier one gave it, the relay
 * of the WAN module's channel, before that one frees it). */
void dp_hooks_tenant(struct dp_worker *w, const struct dp_tenant_event *ev)
{
	bool rev = ev->kind == DP_TENANT_REMOVED;
	for (unsigned k = 0; k < n_hooks; k++) {
		unsigned i = rev ? n_hooks - 1 - k : k;
		if (table[i].tenant)
			table[i].tenant(w->hook_ctx[i], ev);
	}
}

void dp_hooks_tenant_stats(struct dp_worker *w, unsigned slot, struct strait_tenant_stats *s)
{
	for (unsigned i = 0; i < n_hooks; i++)
		if (table[i].tenant_stats)
			table[i].tenant_stats(w->hook_ctx[i], slot, s);
}

bool dp_hooks_unresolved(struct dp_worker *w, struct rte_mbuf *m, unsigned port)
{
	for (unsigned i = 0; i < n_hooks; i++)
		if (table[i].unresolved && table[i].unresolved(w->hook_ctx[i], m, port))
			return true;
	return false;
}

const struct strait_config *dp_worker_cfg(const struct dp_worker *w)
{
	return w->cfg;
}
