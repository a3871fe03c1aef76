/* SPDX-License-Identifier: BSD-3-Clause */
/* straitd internals: the application, its workers and their counters.
 * Only dataplane/ includes this (and DPDK). */
#ifndef STRAIT_DATAPLANE_DP_H
#define STRAIT_DATAPLANE_DP_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_branch_prediction.h>
#include <rte_common.h>
#include <rte_cycles.h>

#include "dp_hooks.h"
#include "flow.h"
#include "local.h"
#include "neigh.h"
#include "pkt.h"
#include "strait/ctl.h"
#include "tcp_impair.h"

struct rte_mempool;
struct rte_ring;
struct rte_mbuf;

enum {
	DP_LAN = 0,
	DP_WAN = 1,
	DP_NPORTS = 2,
	DP_BURST_MAX = 64,
	DP_TXBUF = 128,        /* frames buffered per port before a flush */
	DP_CTRL_RING = 256,    /* frames from the main lcore to a worker */
	DP_STEER_RING = 4096,  /* frames handed to a flow's owner, per port */
	DP_BETWEEN_MS = 10,    /* control's period, on the main lcore or between bursts */
};

enum dp_drop {
	DROP_MALFORMED = 0,    /* a malformed reason whose rule is "drop" */
	DROP_MALFORMED_TO_US,  /* malformed and sent to our own MAC */
	DROP_LOCAL_INVALID,    /* a request to us that fails its checks */
	DROP_LOCAL_UNHANDLED,  /* to our address, nothing serves it (yet) */
	DROP_TX_FULL,          /* the TX queue refused the frame */
	DROP_NO_MBUF,          /* control could not allocate a frame */
	DROP_COUNT
};

struct dp_port_stats {
	uint64_t rx_pkts, rx_bytes;
	uint64_t tx_pkts, tx_bytes;
	uint64_t bridged_pkts, bridged_bytes; /* received here, sent on the other port */
	uint64_t local_in, local_out;         /* frames for us / answers sent */
	/* dp_tx_l3() toward a next hop not yet resolved (tx.c): packets held,
	 * sent once it answered, given up (no answer: the module is told,
	 * dp_hooks.h unresolved()), replaced by a later one held for the same
	 * next hop, dropped with every resolution slot taken */
	uint64_t held, held_sent, unresolved, held_replaced, resolve_full;
	uint64_t drops[DROP_COUNT];           /* by reason: received here, or
					       * (tx_full, no_mbuf) sent here */
};

struct dp_tenant_stats {
	uint64_t pkts, bytes, flows, active;
	uint64_t rx_bytes[DP_NPORTS]; /* of bytes: received on the LAN, the WAN */
	uint64_t bridged_bytes[DP_NPORTS]; /* of those, bridged (no module took them) */
	uint64_t mid_stream; /* flows its rule matches, first seen mid-stream */
};

struct dp_flow_stats {
	uint64_t created, unseen_syn, table_full, expired, reused;
	uint64_t steered, steer_full; /* handed to the owner worker / its ring
				       * was full (bridged untracked) */
	uint64_t evicted; /* bridged flows a SYN took the slot of */
	uint64_t no_rule; /* SYNs that matched no tenant's rule */
};

struct dp_stats {
	struct dp_port_stats port[DP_NPORTS];
	uint64_t malformed[PKT_MALFORMED_COUNT];
	struct dp_flow_stats flows;
	uint64_t flows_active;
	struct dp_tenant_stats tenant[STRAIT_MAX_TENANTS];
};

struct dp_app;

enum {
	DP_RESOLVE_MAX = 32,     /* next hops being resolved, per port per worker */
	DP_RESOLVE_GAP_MS = 500, /* between ARP requests / NSs for one of them */
	DP_RESOLVE_TRIES = 6,    /* requests before it is unreachable (3 s) */
};

/* A next hop being resolved (tx.c): the latest packet toward it is held
 * until it answers or DP_RESOLVE_TRIES requests went unanswered. */
struct dp_resolve {
	uint8_t ip[16];
	uint16_t vlan;
	uint8_t family;         /* 0: a free slot */
	uint8_t tries;          /* requests sent */
	uint64_t next_ms;       /* the next request (or the end) is due */
	struct rte_mbuf *held;  /* IP packet (dp_tx_l3()'s), or NULL */
};

struct dp_worker {
	unsigned id;
	unsigned lcore;
	uint16_t queue;
	struct dp_app *app;
	struct flow_table *flows;
	struct neigh_table neigh[DP_NPORTS];
	struct rte_ring *ctrl;
	struct rte_ring *steer[DP_NPORTS]; /* frames of flows this worker owns */
	struct rte_mbuf *txbuf[DP_NPORTS][DP_TXBUF];
	uint16_t ntx[DP_NPORTS];
	uint64_t now_ms;
	uint64_t last_rx_ms;
	uint64_t swept_ms;
	struct dp_resolve resolve[DP_NPORTS][DP_RESOLVE_MAX];
	unsigned n_resolve[DP_NPORTS];
	bool resolve_off;          /* stopping: nothing more is held */
	/* The last source learnt per port: a run of frames from one host
	 * refreshes its entry once per millisecond, not once per frame. */
	struct {
		uint8_t ip[16];
		uint8_t mac[6];
		uint16_t vlan;
		uint8_t family;
		uint64_t ms;
	} last_learn[DP_NPORTS];
	void *hook_ctx[DP_HOOKS_MAX]; /* each module's, dp_hooks.h */
	/* The configuration this loop iteration reads (reload.c: loaded at its
	 * start from app->published_cfg, released as a quiescent state at its end). */
	const struct strait_config *cfg;
	struct rte_ring *events;   /* tenant events of reloads (reload.c) */
	uint64_t events_done;      /* handled so far (the reload waits on it) */
	bool gone;                 /* reads no configuration or event any more
				    * (dp_worker_gone()) */
	/* The loop's punctuality (worker.c, /strait/workers): written by this
	 * worker only (relaxed atomic stores), read by telemetry. An
	 * iteration is late when it comes round more than late_after_ns
	 * (the WAN shaper's burst, [WAN] RateBurst) after the last, the
	 * worker's own idle sleep aside: it waited for its CPU, or one
	 * iteration took that long. A shaped link loses the time beyond
	 * the burst (dataplane/README.md, "Shaping"). */
	struct dp_loop_stats {
		uint64_t loops, late;
		uint64_t late_ns;          /* beyond late_after_ns, summed */
		uint64_t max_gap_ns;       /* the longest late iteration */
		uint64_t late_after_ns;
	} loop;
	uint64_t late_after;       /* late_after_ns in TSC cycles */
	uint64_t late_gen;         /* the configuration generation it is from */
	unsigned stats_next;       /* the next tenant slot to publish (stats_publish.c) */
	uint64_t stats_due_ms;
	struct dp_stats stats __rte_cache_aligned;
} __rte_cache_aligned;

struct dp_app {
	/* The configuration workers read: published by a reload (reload.c,
	 * RCU) and read by a worker only through its w->cfg (a module:
	 * dp_worker_cfg()), loaded once per loop iteration. Every other
	 * thread (control, telemetry, the API) reads the one in force through
	 * strait_running_get()/put() on `running`. Not named `cfg` so that
	 * code written before reloads existed (app->cfg) fails to build
	 * instead of reading a configuration a reload may retire. */
	const struct strait_config *published_cfg;
	struct strait_running *running;
	struct rte_rcu_qsbr *qsbr;         /* the workers' quiescent states */
	struct strait_stats_table *stats;  /* per-tenant, for the API (stats_publish.c) */
	struct strait_api *api;            /* NULL without [Control] Listen */
	int64_t started_at;                /* Unix time */
	uint16_t port_id[DP_NPORTS];
	struct local_addr local[DP_NPORTS];
	struct rte_mempool *pool;
	unsigned n_workers;        /* >= 1; in single-lcore mode 1, on the main lcore */
	bool single;
	struct dp_worker *workers;
	volatile int quit;
	uint64_t exit_idle_ms;     /* test mode: stop after this long without RX */
	uint64_t start_ms;
	uint64_t last_resolve_ms;
	uint32_t burst;
	/* checksum offloads enabled on each port (the device has them): the
	 * TCP engine leaves checksums to the NIC only when both ports do */
	bool tx_csum[DP_NPORTS], rx_csum[DP_NPORTS];
	unsigned channel_mbufs;    /* per worker: the channels' queue and RX pools, each */
	/* the test knob (--tcp-impair, [Test] TcpImpair): the appliance's own
	 * TCP, the LAN stacks (tcp_hook.c) and the channels (wan.c) */
	struct tcp_impair_cfg impair;
	/* test only (--corrupt-records): the first DATA frames whose check
	 * each tenant's decoder fails */
	unsigned corrupt_records;
};

/* Milliseconds from the TSC: no syscall on the fast path, and one clock
 * for workers and control alike. */
static inline uint64_t dp_now_ms(void)
{
	static uint64_t hz_per_ms;
	if (unlikely(!hz_per_ms))
		hz_per_ms = rte_get_tsc_hz() / 1000 ? rte_get_tsc_hz() / 1000 : 1;
	return rte_get_tsc_cycles() / hz_per_ms;
}

/* worker.c */
int dp_worker_init(struct dp_app *app, struct dp_worker *w, unsigned id);
void dp_worker_fini(struct dp_worker *w);
/* The worker loop; returns when app->quit is set, after draining. With
 * `between`, calls it every DP_BETWEEN_MS between bursts (single-lcore
 * mode: the control tick). */
int dp_worker_run(struct dp_worker *w, void (*between)(struct dp_app *app));
/* dp_worker_run() without `between`: a worker lcore's (remote launch). */
int dp_worker_main(void *arg);
/* One pass of the worker loop: returns the frames handled. */
unsigned dp_worker_poll(struct dp_worker *w);
void dp_worker_drain(struct dp_worker *w);

/* The published configuration, for a telemetry command: run_command()
 * holds the one in force (strait_running_get()), so this one (that, or a
 * reload's next) is not freed before the command returns. */
static inline const struct strait_config *dp_held_cfg(const struct dp_app *a)
{
	return __atomic_load_n(&a->published_cfg, __ATOMIC_ACQUIRE);
}

/* reload.c: the reload's apply path. Workers read the configuration
 * through RCU and get tenant events between bursts; SIGHUP reloads on a
 * thread of its own, as POST /v1/reload does on the API's. */
int dp_reload_init(struct dp_app *app);
void dp_reload_fini(struct dp_app *app);
void dp_reload_signal(void);                /* async-signal-safe: SIGHUP */
int dp_reload_apply(void *app, const struct strait_config *cur, const struct strait_config *next,
		    const struct strait_config_diff *diff, struct strait_error *err);
void dp_worker_rcu_online(struct dp_worker *w);
void dp_worker_rcu_offline(struct dp_worker *w);
unsigned dp_worker_events(struct dp_worker *w); /* between bursts */
void dp_worker_gone(struct dp_worker *w);       /* once its modules stopped */

/* stats_publish.c: a share of the tenants' statistics into app->stats,
 * every few milliseconds, between bursts. */
unsigned dp_stats_publish(struct dp_worker *w);

/* api.c: the control API on [Control] Listen, with straitd's counters. */
int dp_api_start(struct dp_app *app);
void dp_api_stop(struct dp_app *app);

/* tx.c: sends what the worker buffered for port (dp_tx_frame()). */
void dp_tx_flush(struct dp_worker *w, unsigned port);
/* tx.c: the next hops being resolved: sends what they held once they
 * answered, asks again, gives up; between bursts (cheap with none).
 * Returns the work done. */
unsigned dp_tx_resolve_poll(struct dp_worker *w);
/* tx.c: frees what is held (the worker stops). */
void dp_tx_resolve_fini(struct dp_worker *w);

/* control.c (main lcore): next-hop resolution and the idle exit; cheap
 * when nothing is due. */
void dp_control_tick(struct dp_app *app);

/* telemetry.c */
/* Sum of every worker's counters. */
void dp_stats_sum(const struct dp_app *app, struct dp_stats *out);
/* Serves /strait/... for app until dp_telemetry_quiesce(). */
int dp_telemetry_register(struct dp_app *app);
/* Stops serving app: waits until no telemetry command is reading it. */
void dp_telemetry_quiesce(void);
int dp_stats_write_json(const struct dp_app *app, const char *path);

#endif
