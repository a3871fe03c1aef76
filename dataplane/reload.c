/* SPDX-License-Identifier: BSD-3-Clause */
/* The reload's apply path (ctl/README.md, "Reload"): how a new
 * configuration reaches the workers without one of them ever reading a
 * configuration while it changes.
 *
 *   reload (API thread, or the SIGHUP thread below):
 *     load + validate + diff (ctl)  --refused-->  answer, nothing changed
 *     app->published_cfg = next     (publication)
 *     rte_rcu_qsbr_synchronize()    every worker has finished the
 *                                   iteration that could read cur
 *     events -> each worker's ring  removed / changed / added tenants
 *     wait until every worker has   (between its bursts: its flows of a
 *     handled them                   removed tenant bridged, modules told)
 *     -> ctl switches the running configuration and frees cur
 *
 * A worker loads app->published_cfg at the start of each loop iteration
 * into w->cfg and reports a quiescent state at its end (DPDK's QSBR RCU),
 * so the fast path takes no lock and never waits: the reload waits for
 * the workers.
 */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <rte_malloc.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "dp.h"
#include "strait/api.h"

enum {
	EVENTS_RING = 4096,   /* per worker: more than a reload's 3 x 1,024 */
	EVENTS_BURST = 64,
	WAIT_US = 100,        /* the reload polls the workers' progress */
};

static struct {
	struct dp_app *app;
	sem_t hup;            /* posted by the SIGHUP handler */
	pthread_t thread;
	bool started;
	volatile bool stop;
	struct strait_config_diff diff;
} sighup;

/* ---- the worker's side ---- */

void dp_worker_rcu_online(struct dp_worker *w)
{
	rte_rcu_qsbr_thread_register(w->app->qsbr, w->id);
	rte_rcu_qsbr_thread_online(w->app->qsbr, w->id);
}

void dp_worker_rcu_offline(struct dp_worker *w)
{
	rte_rcu_qsbr_thread_offline(w->app->qsbr, w->id);
	rte_rcu_qsbr_thread_unregister(w->app->qsbr, w->id);
}

struct purge {
	struct dp_worker *w;
	const bool *removed; /* by slot */
};

/* A removed tenant's flow is bridged from now on, unoptimized, as a flow
 * whose SYN was not seen: the appliance never breaks a connection it
 * stops optimizing (modules were told first and have let go of it). */
static void purge_flow(void *ctx, struct flow *f)
{
	const struct purge *p = ctx;
	if (f->tenant == FLOW_BRIDGED || f->tenant >= STRAIT_MAX_TENANTS || !p->removed[f->tenant])
		return;
	f->tenant = FLOW_BRIDGED;
	f->flags = (uint16_t)((f->flags | FLOW_F_UNSEEN) & ~FLOW_F_PINNED); /* no relay holds it */
}

unsigned dp_worker_events(struct dp_worker *w)
{
	struct dp_tenant_event ev[EVENTS_BURST];
	unsigned n = rte_ring_sc_dequeue_burst_elem(w->events, ev, sizeof(ev[0]), EVENTS_BURST, NULL);
	if (!n)
		return 0;
	bool removed[STRAIT_MAX_TENANTS];
	bool any = false;
	memset(removed, 0, sizeof(removed));
	for (unsigned i = 0; i < n; i++) {
		dp_hooks_tenant(w, &ev[i]); /* modules first: their flows, tunnels, rates */
		if (ev[i].kind != DP_TENANT_REMOVED)
			continue;
		removed[ev[i].slot] = any = true;
		/* the slot starts from zero when a later reload gives it to
		 * another tenant (its statistics carry a new generation); a
		 * restarted tenant keeps counting */
		if (!(ev[i].apply & STRAIT_APPLY_RESTART))
			memset(&w->stats.tenant[ev[i].slot], 0, sizeof(w->stats.tenant[0]));
	}
	if (any) {
		struct purge p = { w, removed };
		flow_table_foreach(w->flows, purge_flow, &p);
	}
	__atomic_store_n(&w->events_done, w->events_done + n, __ATOMIC_RELEASE);
	return n;
}

/* The worker's loop and its modules' stop are over (or its start
 * failed): it reads no configuration and no event from here, so a reload
 * may stop waiting for it and ctl may free what it was handed. Not
 * before: a worker that quits in the middle of an event still reads the
 * event's configuration. */
void dp_worker_gone(struct dp_worker *w)
{
	__atomic_store_n(&w->gone, true, __ATOMIC_RELEASE);
}

/* ---- the reload's side ---- */

/* The events of kind for the changes c[0..n): with `restarts`, those of
 * the changes that restart their tenant (sent as REMOVED, then ADDED);
 * else the others. */
static void send_events(struct dp_app *app, uint16_t kind, const struct strait_tenant_change *c,
			unsigned n, const struct strait_config *cfg, bool restarts, uint64_t *sent)
{
	for (unsigned i = 0; i < n; i++) {
		if (!!(c[i].apply & STRAIT_APPLY_RESTART) != restarts)
			continue;
		struct dp_tenant_event ev = { .kind = kind, .slot = (uint16_t)c[i].slot,
					      .apply = c[i].apply, .cfg = cfg };
		for (unsigned k = 0; k < app->n_workers; k++) {
			/* the ring holds a whole reload: never full */
			while (rte_ring_mp_enqueue_elem(app->workers[k].events, &ev, sizeof(ev)))
				usleep(WAIT_US);
			sent[k]++;
		}
	}
}

int dp_reload_apply(void *arg, const struct strait_config *cur, const struct strait_config *next,
		    const struct strait_config_diff *d, struct strait_error *err)
{
	struct dp_app *app = arg;
	uint64_t target[STRAIT_MAX_WORKERS];
	for (unsigned k = 0; k < app->n_workers; k++)
		target[k] = __atomic_load_n(&app->workers[k].events_done, __ATOMIC_ACQUIRE);
	__atomic_store_n(&app->published_cfg, next, __ATOMIC_RELEASE);
	/* from here no worker starts an iteration with cur; once this
	 * returns none is still in one */
	rte_rcu_qsbr_synchronize(app->qsbr, RTE_QSBR_THRID_INVALID);
	send_events(app, DP_TENANT_REMOVED, d->removed, d->n_removed, cur, false, target);
	send_events(app, DP_TENANT_REMOVED, d->changed, d->n_changed, cur, true, target);
	send_events(app, DP_TENANT_CHANGED, d->changed, d->n_changed, next, false, target);
	send_events(app, DP_TENANT_ADDED, d->changed, d->n_changed, next, true, target);
	send_events(app, DP_TENANT_ADDED, d->added, d->n_added, next, false, target);
	/* ctl frees cur once this returns: every worker has handled the
	 * events (REMOVED ones hand it cur), or is gone. Quitting is no
	 * reason to stop waiting earlier: a worker still in its last
	 * iteration may be reading cur. */
	for (unsigned k = 0; k < app->n_workers; k++)
		while (__atomic_load_n(&app->workers[k].events_done, __ATOMIC_ACQUIRE) < target[k] &&
		       !__atomic_load_n(&app->workers[k].gone, __ATOMIC_ACQUIRE))
			usleep(WAIT_US);
	return 0;
}

/* ---- SIGHUP: the same path, on a thread of its own ---- */

void dp_reload_signal(void)
{
	if (sighup.app)
		sem_post(&sighup.hup);
}

static void *sighup_thread(void *arg)
{
	struct dp_app *app = arg;
	for (;;) {
		while (sem_wait(&sighup.hup) && errno == EINTR)
			;
		if (sighup.stop)
			return NULL;
		struct strait_error err;
		char buf[PATH_MAX + 512];
		int r = app->api ? strait_api_reload(app->api, false, &sighup.diff, &err)
				 : strait_running_reload(app->running, false, dp_reload_apply, app,
							 &sighup.diff, &err);
		if (r)
			fprintf(stderr, "straitd: reload (SIGHUP) refused, nothing changed: %s\n",
				strait_error_str(&err, buf, sizeof(buf)));
		else
			fprintf(stderr, "straitd: reload (SIGHUP): %u added, %u removed, %u changed\n",
				sighup.diff.n_added, sighup.diff.n_removed, sighup.diff.n_changed);
	}
}

int dp_reload_init(struct dp_app *app)
{
	size_t sz = rte_rcu_qsbr_get_memsize(app->n_workers);
	app->qsbr = rte_zmalloc("strait_qsbr", sz, RTE_CACHE_LINE_SIZE);
	if (!app->qsbr || rte_rcu_qsbr_init(app->qsbr, app->n_workers))
		return -ENOMEM;
	for (unsigned k = 0; k < app->n_workers; k++) {
		char name[32];
		snprintf(name, sizeof(name), "dp_events_%u", k);
		app->workers[k].events = rte_ring_create_elem(name, sizeof(struct dp_tenant_event),
							      EVENTS_RING, SOCKET_ID_ANY, RING_F_SC_DEQ);
		if (!app->workers[k].events)
			return -ENOMEM;
	}
	if (sem_init(&sighup.hup, 0, 0))
		return -errno;
	sighup.app = app;
	int r = pthread_create(&sighup.thread, NULL, sighup_thread, app);
	if (r)
		return -r;
	pthread_setname_np(sighup.thread, "strait-reload");
	sighup.started = true;
	return 0;
}

void dp_reload_fini(struct dp_app *app)
{
	if (sighup.started) {
		sighup.stop = true;
		sem_post(&sighup.hup);
		pthread_join(sighup.thread, NULL);
		sighup.started = false;
		sem_destroy(&sighup.hup);
	}
	sighup.app = NULL;
	for (unsigned k = 0; app->workers && k < app->n_workers; k++) {
		rte_ring_free(app->workers[k].events);
		app->workers[k].events = NULL;
	}
	rte_free(app->qsbr);
	app->qsbr = NULL;
}
