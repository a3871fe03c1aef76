/* SPDX-License-Identifier: BSD-3-Clause */
/* The reload's apply path (dataplane/reload.c): no worker ever reads a
 * configuration once it is retired.
 *
 * Two worker threads run the worker's side of the protocol as worker.c's
 * loop does (load the published configuration, handle tenant events, read
 * the configuration for a while, report a quiescent state) while the main
 * thread applies 30 reloads through dp_reload_apply(): every other one
 * removes, adds and changes a tenant, the others change only the
 * appliance (no tenant event: nothing but the quiescent states to wait
 * for); the diffs come from ctl's strait_config_diff(). After each reload
 * the retired configuration is overwritten with a poison and freed, as
 * ctl frees it: a worker that still reads it sees the poison (or ASan
 * sees the read). A module checks what each event hands it: the old
 * configuration for a removed tenant, the worker's new one otherwise.
 * Without the wait for the quiescent states it fails.
 *
 * A second test quits straitd while a worker is inside an event (its
 * module slow to handle a removal): the reload must not return, and ctl
 * must not free the old configuration, until that worker is done with it
 * (handled, or gone: dp_worker_gone()). */
#include <criterion/criterion.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include <rte_rcu_qsbr.h>

#include "dp.h"
#include "test_eal.h"

enum { WORKERS = 2, TENANTS = 64, RELOADS = 30, POISON = 0x5a };

static struct dp_app app;
static struct dp_worker workers[WORKERS];
static volatile bool stop;
static unsigned bad_reads, bad_events;   /* atomics */
static unsigned events_seen[WORKERS];
static unsigned slow_removal_us; /* a module that takes its time */

/* A configuration the test wrote: every field the workers read is
 * recognizable, so a poisoned (retired) one is seen. */
static bool sane(const struct strait_config *c)
{
	if (c->n_tenants > STRAIT_MAX_TENANTS || strcmp(c->appliance.name, "reload-test"))
		return false;
	for (unsigned i = 0; i < c->n_tenants; i++) {
		char k = c->tenants[i].name[0];
		if (k != '\0' && k != 't')
			return false;
	}
	return true;
}

static void *module_init(struct dp_worker *w)
{
	return w;
}

static void module_tenant(void *ctx, const struct dp_tenant_event *ev)
{
	struct dp_worker *w = ctx;
	__atomic_add_fetch(&events_seen[w->id], 1, __ATOMIC_RELAXED);
	if (slow_removal_us && ev->kind == DP_TENANT_REMOVED)
		usleep(slow_removal_us);
	bool ok = sane(ev->cfg) && ev->slot < ev->cfg->n_tenants &&
		  strait_tenant_present(&ev->cfg->tenants[ev->slot]);
	if (ev->kind != DP_TENANT_REMOVED)
		ok = ok && ev->cfg == w->cfg; /* the new one, already the worker's */
	if (!ok)
		__atomic_add_fetch(&bad_events, 1, __ATOMIC_RELAXED);
}

static void *worker(void *arg)
{
	struct dp_worker *w = arg;
	if (dp_hooks_start(w))
		return NULL;
	dp_worker_rcu_online(w);
	while (!stop && !app.quit) {
		w->cfg = __atomic_load_n(&app.published_cfg, __ATOMIC_ACQUIRE);
		dp_worker_events(w);
		/* what bursts read (the rules, tenant by tenant), over a
		 * while: the configuration stays in hand across the sleep */
		if (!sane(w->cfg))
			__atomic_add_fetch(&bad_reads, 1, __ATOMIC_RELAXED);
		usleep(20);
		if (!sane(w->cfg))
			__atomic_add_fetch(&bad_reads, 1, __ATOMIC_RELAXED);
		rte_rcu_qsbr_quiescent(app.qsbr, w->id);
	}
	dp_worker_rcu_offline(w);
	dp_hooks_stop(w);
	dp_worker_gone(w);
	return NULL;
}

/* Tenants tfixed, whose ceiling is `tag`, and t<first> .. t<first +
 * TENANTS - 2>; the tenant folder's name changes with every generation
 * (an appliance change applied in place: a reload with no tenant
 * events, which waits for the workers' quiescent states alone). */
static struct strait_config *make(unsigned first, unsigned gen, unsigned tag)
{
	struct strait_config *c = strait_config_new();
	cr_assert_not_null(c);
	snprintf(c->appliance.name, sizeof(c->appliance.name), "reload-test");
	snprintf(c->appliance.file, sizeof(c->appliance.file), "/nonexistent/appliance.conf");
	snprintf(c->appliance.tenant_dir, sizeof(c->appliance.tenant_dir), "/nonexistent/t%u", gen);
	snprintf(c->tenants[0].name, sizeof(c->tenants[0].name), "tfixed");
	c->tenants[0].ceiling_bps = 1000000ull + tag;
	for (unsigned i = 1; i < TENANTS; i++) {
		struct strait_tenant_cfg *t = &c->tenants[i];
		snprintf(t->name, sizeof(t->name), "t%04u", first + i);
		t->ceiling_bps = 1000000;
	}
	c->n_tenants = TENANTS;
	c->generation = gen;
	return c;
}

/* EAL, the checking module, the reload path and the worker threads, on
 * configuration cur. */
static void start(const char *name, struct strait_config *cur, pthread_t *th)
{
	cr_assert_geq(test_eal_init(name, 64), 0);
	struct dp_hooks h = { .name = "check", .worker_init = module_init,
			      .tenant = module_tenant };
	cr_assert_geq(dp_hooks_register(&h), 0);
	app.n_workers = WORKERS;
	app.workers = workers;
	cr_assert_eq(dp_reload_init(&app), 0);
	app.published_cfg = cur;
	for (unsigned k = 0; k < WORKERS; k++) {
		workers[k].app = &app;
		workers[k].id = k;
		workers[k].flows = flow_table_create(1024, 1000, 1000, NULL, NULL);
		cr_assert_not_null(workers[k].flows);
		cr_assert_eq(pthread_create(&th[k], NULL, worker, &workers[k]), 0);
	}
}

Test(reload, no_worker_reads_a_retired_configuration, .timeout = 120)
{
	struct strait_config *cur = make(0, 1, 0);
	pthread_t th[WORKERS];
	start("dp-reload", cur, th);

	struct strait_config_diff *d = malloc(sizeof(*d));
	cr_assert_not_null(d);
	struct strait_error err;
	unsigned first = 0, events = 0;
	for (unsigned r = 1; r <= RELOADS; r++) {
		bool tenants = r % 2; /* else only the appliance changes */
		first += tenants;
		struct strait_config *next = make(first, r + 1, tenants ? r : r - 1);
		cr_assert_eq(strait_config_diff(cur, next, d, &err), 0, "%s", err.msg);
		cr_assert_eq(d->n_added + d->n_removed + d->n_changed, tenants ? 3 : 0,
			     "reload %u: one added, one removed, one changed, or none", r);
		cr_assert_eq(d->n_appliance, 1, "[Appliance] TenantDir, in place");
		events += tenants ? 3 : 0;
		cr_assert_eq(dp_reload_apply(&app, cur, next, d, &err), 0);
		memset(cur, POISON, sizeof(*cur)); /* retired: ctl frees it now */
		strait_config_free(cur);
		cur = next;
	}
	stop = true;
	for (unsigned k = 0; k < WORKERS; k++)
		pthread_join(th[k], NULL);
	cr_assert_eq(bad_reads, 0, "a worker read a retired configuration %u times", bad_reads);
	cr_assert_eq(bad_events, 0, "%u events handed a retired or wrong configuration",
		     bad_events);
	for (unsigned k = 0; k < WORKERS; k++) {
		cr_assert_eq(events_seen[k], events, "worker %u handled every event", k);
		cr_assert_eq(workers[k].events_done, events);
		flow_table_destroy(workers[k].flows);
	}
	dp_reload_fini(&app);
	strait_config_free(cur);
	free(d);
}

static void *quit_soon(void *arg)
{
	(void)arg;
	usleep(50 * 1000);
	app.quit = 1; /* SIGTERM */
	return NULL;
}

/* straitd quits during a reload while each worker is inside a removal's
 * event (300 ms): the reload returns only once the workers are done with
 * the old configuration, which is then poisoned and freed as ctl does. */
Test(reload, quit_while_a_worker_holds_an_event, .timeout = 60)
{
	struct strait_config *cur = make(0, 1, 0), *next = make(1, 2, 1);
	pthread_t th[WORKERS], q;
	start("dp-reload-quit", cur, th);
	struct strait_config_diff *d = malloc(sizeof(*d));
	struct strait_error err;
	cr_assert_not_null(d);
	cr_assert_eq(strait_config_diff(cur, next, d, &err), 0, "%s", err.msg);
	cr_assert_eq(d->n_removed, 1);
	slow_removal_us = 300 * 1000;
	cr_assert_eq(pthread_create(&q, NULL, quit_soon, NULL), 0);
	cr_assert_eq(dp_reload_apply(&app, cur, next, d, &err), 0);
	memset(cur, POISON, sizeof(*cur)); /* retired: ctl frees it now */
	strait_config_free(cur);
	pthread_join(q, NULL);
	for (unsigned k = 0; k < WORKERS; k++)
		pthread_join(th[k], NULL);
	cr_assert_eq(bad_events, 0, "%u events read a freed configuration", bad_events);
	for (unsigned k = 0; k < WORKERS; k++) {
		cr_assert_geq(events_seen[k], 1, "worker %u was in the removal", k);
		flow_table_destroy(workers[k].flows);
	}
	dp_reload_fini(&app);
	strait_config_free(next);
	free(d);
}
