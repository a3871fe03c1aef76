/* SPDX-License-Identifier: BSD-3-Clause */
/* The table of modules hooked into the worker loop (dataplane/hooks.c):
 * several modules kept in registration order, each with its own context
 * per worker; frames offered in order until one takes them; every module
 * polled; stop in reverse order with the context withdrawn first; a full
 * table and a failed start. No EAL: the table only calls function
 * pointers, and no mbuf is touched. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "dp.h"

/* One module's view: what it was offered, what it takes. */
struct probe {
	int id;
	uint8_t takes_proto;       /* local(): the L4 protocol it claims */
	bool fail_init;
	unsigned inits, finis, offered, taken, polls;
	struct dp_worker *fini_ctx_seen_by; /* worker whose fini ran */
	void *ctx_at_fini;         /* dp_hooks_ctx() as fini ran */
};

static struct probe probes[DP_HOOKS_MAX + 1];
static char order[64];         /* module letters in call order */

static void mark(const struct probe *p)
{
	size_t n = strlen(order);
	if (n + 1 < sizeof(order))
		order[n] = (char)('A' + (p - probes));
}

static void *init(struct dp_worker *w, struct probe *p)
{
	(void)w;
	p->inits++;
	return p->fail_init ? NULL : p;
}

static void fini(struct dp_worker *w, void *ctx)
{
	struct probe *p = ctx;
	p->finis++;
	p->fini_ctx_seen_by = w;
	p->ctx_at_fini = dp_hooks_ctx(w, p->id);
	mark(p);
}

static bool local(void *ctx, struct rte_mbuf *m, const struct pkt_info *pi, unsigned in_port)
{
	(void)m;
	(void)in_port;
	struct probe *p = ctx;
	p->offered++;
	mark(p);
	if (pi->l4_proto != p->takes_proto)
		return false;
	p->taken++;
	return true;
}

static unsigned poll_one(void *ctx, uint64_t now_ms)
{
	struct probe *p = ctx;
	p->polls++;
	return (unsigned)now_ms;
}

#define PROBE(i) \
	static void *init_##i(struct dp_worker *w) { return init(w, &probes[i]); }
PROBE(0)
PROBE(1)
PROBE(2)
PROBE(3)
PROBE(4)
static void *(*const inits[])(struct dp_worker *) = { init_0, init_1, init_2, init_3, init_4 };

static int add(unsigned i, uint8_t proto)
{
	probes[i].takes_proto = proto;
	struct dp_hooks h = { .name = "probe", .worker_init = inits[i], .worker_fini = fini,
			      .local = local, .poll = poll_one };
	probes[i].id = dp_hooks_register(&h);
	return probes[i].id;
}

/* One process per test (Criterion's default): the table starts empty. */

Test(hooks, modules_in_order_each_with_its_context)
{
	static struct dp_worker w;
	cr_assert_eq(add(0, PROTO_UDP), 0, "the first module's id");
	cr_assert_eq(add(1, PROTO_TCP), 1, "a second module is added, not overwriting the first");
	cr_assert_eq(dp_hooks_ctx(&w, 0), NULL, "no context before the worker starts");
	cr_assert_eq(dp_hooks_start(&w), 0);
	cr_assert_eq(dp_hooks_ctx(&w, 0), &probes[0]);
	cr_assert_eq(dp_hooks_ctx(&w, 1), &probes[1]);
	cr_assert_eq(dp_hooks_ctx(&w, 2), NULL, "no such module");

	struct pkt_info udp = { .l4_proto = PROTO_UDP }, tcp = { .l4_proto = PROTO_TCP },
			icmp = { .l4_proto = PROTO_ICMP };
	memset(order, 0, sizeof(order));
	cr_assert(dp_hooks_local(&w, NULL, &udp, DP_WAN), "UDP taken");
	cr_assert_str_eq(order, "A", "the first module took it; the second was not asked");
	memset(order, 0, sizeof(order));
	cr_assert(dp_hooks_local(&w, NULL, &tcp, DP_LAN), "TCP taken");
	cr_assert_str_eq(order, "AB", "asked in registration order until one takes it");
	memset(order, 0, sizeof(order));
	cr_assert_not(dp_hooks_local(&w, NULL, &icmp, DP_LAN), "nobody takes ICMP");
	cr_assert_str_eq(order, "AB");
	cr_assert_eq(probes[0].taken, 1);
	cr_assert_eq(probes[1].taken, 1);
	cr_assert_not(dp_hooks_intercept(&w, NULL, &tcp, NULL, DP_LAN),
		      "no module intercepts: the worker bridges");

	w.now_ms = 3;
	cr_assert_eq(dp_hooks_poll(&w), 6, "every module polled, their work summed");
	cr_assert_eq(probes[0].polls, 1);
	cr_assert_eq(probes[1].polls, 1);

	memset(order, 0, sizeof(order));
	dp_hooks_stop(&w);
	cr_assert_str_eq(order, "BA", "stopped in reverse order");
	cr_assert_eq(probes[0].finis, 1);
	cr_assert_eq(probes[1].ctx_at_fini, NULL, "the context is withdrawn before fini runs");
	cr_assert_eq(dp_hooks_ctx(&w, 0), NULL);
}

Test(hooks, contexts_per_worker)
{
	static struct dp_worker w0, w1;
	add(0, PROTO_TCP);
	cr_assert_eq(dp_hooks_start(&w0), 0);
	cr_assert_eq(dp_hooks_start(&w1), 0);
	cr_assert_eq(probes[0].inits, 2, "worker_init once per worker");
	dp_hooks_stop(&w0);
	cr_assert_eq(dp_hooks_ctx(&w0, 0), NULL);
	cr_assert_eq(dp_hooks_ctx(&w1, 0), &probes[0], "the other worker's context stays");
	cr_assert_eq(probes[0].fini_ctx_seen_by, &w0);
	dp_hooks_stop(&w1);
}

Test(hooks, table_full)
{
	for (unsigned i = 0; i < DP_HOOKS_MAX; i++)
		cr_assert_eq(add(i, PROTO_TCP), (int)i);
	cr_assert_eq(add(DP_HOOKS_MAX, PROTO_TCP), -ENOSPC);
}

Test(hooks, failed_start_stops_the_modules_started)
{
	static struct dp_worker w;
	add(0, PROTO_TCP);
	probes[1].fail_init = true;
	add(1, PROTO_UDP);
	add(2, PROTO_ICMP);
	cr_assert_eq(dp_hooks_start(&w), -1);
	cr_assert_eq(probes[0].finis, 1, "the module started before the failure is stopped");
	cr_assert_eq(probes[2].inits, 0, "modules after the failure never start");
	cr_assert_eq(dp_hooks_ctx(&w, 0), NULL);
}
