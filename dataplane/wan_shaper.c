/* SPDX-License-Identifier: BSD-3-Clause */
/* The WAN shaper on the WAN TX path: the channels' output gate, the
 * per-worker scheduling loop, the link bucket the workers share. See
 * wan_shaper.h. */
#include "wan_shaper.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "channel.h"

enum {
	FRAME_MAX = 1538,            /* the largest frame charged, on the wire (DRR quantum) */
	RUN_BUDGET = 64,             /* picks per worker loop */
	SOON_NS = 200000,            /* sendable this soon: keep the worker awake */
	RATE_WINDOW_NS = 1000000000, /* telemetry's rate: 1 s windows */
};

struct tenant_gate {
	struct wan_shaper *s;
	struct channel *ch;          /* NULL: no tenant of this worker in the slot */
	unsigned cls;
	bool permit;                 /* one segment granted by a pick */
	uint64_t win_t0, win_bytes0, rate_bps;
};

struct wan_shaper {
	struct shaper *sh;
	unsigned n_workers;
	bool shared;                 /* several workers and a link rate: the link bucket too */
	bool dirty;                  /* a tenant came or went since the last sync */
	uint64_t gen;                /* the configuration's generation last synced */
	uint64_t now;
	uint64_t bridged_seen;
	uint64_t bridged_over;       /* bridged bytes beyond the link's room */
	struct shaper_class_cfg ccfg[WAN_SHAPER_BRIDGED + 1];
	struct tenant_gate t[WAN_SHAPER_BRIDGED + 1];
};

/* The link the workers share: GCRA on one atomic theoretical arrival
 * time, 32.32 ns per byte. Its rate is [WAN] Rate: every worker's sync
 * stores the same values (a reader mixing an old and a new one for a
 * frame is harmless). */
static struct {
	_Alignas(64) uint64_t tat;
	uint64_t nspb, tau;
} link;

static uint64_t nspb_of(uint64_t bps)
{
	return bps ? (uint64_t)(((unsigned __int128)8000000000ull << 32) / bps) : 0;
}

static void link_set(uint64_t bps, uint64_t burst_ns)
{
	uint64_t nspb = nspb_of(bps);
	uint64_t frame = (uint64_t)(((unsigned __int128)FRAME_MAX * nspb) >> 32);
	__atomic_store_n(&link.tau, frame > burst_ns ? frame : burst_ns, __ATOMIC_RELAXED);
	__atomic_store_n(&link.nspb, nspb, __ATOMIC_RELAXED);
}

static void link_charge(uint32_t len, uint64_t now)
{
	uint64_t nspb = __atomic_load_n(&link.nspb, __ATOMIC_RELAXED);
	uint64_t cost = (uint64_t)(((unsigned __int128)len * nspb) >> 32);
	uint64_t old = __atomic_load_n(&link.tat, __ATOMIC_RELAXED), next;
	do
		next = (old > now ? old : now) + cost;
	while (!__atomic_compare_exchange_n(&link.tat, &old, next, true, __ATOMIC_RELAXED,
					    __ATOMIC_RELAXED));
}

/* 0 when the shared link may take a frame now, else when it may. */
static uint64_t link_wait(uint64_t now)
{
	uint64_t tat = __atomic_load_n(&link.tat, __ATOMIC_RELAXED);
	uint64_t tau = __atomic_load_n(&link.tau, __ATOMIC_RELAXED);
	return tat <= now + tau ? 0 : tat - tau;
}

bool wan_shaper_wanted(const struct strait_config *cfg)
{
	if (cfg->appliance.wan_rate_bps)
		return true;
	for (unsigned i = 0; i < cfg->n_tenants; i++)
		if (cfg->tenants[i].guaranteed_bps || cfg->tenants[i].ceiling_bps)
			return true;
	return false;
}

/* ---- the gate (channel_gate: the channel stack's tcp_gate asks it) ---- */

static bool gate_may_send(void *arg)
{
	struct tenant_gate *g = arg;
	if (g->permit)
		return true;
	shaper_wake(g->s->sh, g->cls, g->s->now);
	return false;
}

static void gate_sent(void *arg, uint32_t len)
{
	(void)len; /* charged as it leaves, with its headers */
	struct tenant_gate *g = arg;
	g->permit = false;
}

static const struct channel_gate gate = { gate_may_send, gate_sent };

/* ---- setup, tenants, reloads ---- */

/* An empty slot's class, and bridged traffic's: below every tenant. */
static const struct shaper_class_cfg idle_class = { .priority = SHAPER_PRIOS - 1, .weight = 1 };

struct wan_shaper *wan_shaper_create(unsigned n_workers, uint64_t now_ns)
{
	struct wan_shaper *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	for (unsigned k = 0; k <= WAN_SHAPER_BRIDGED; k++) {
		s->ccfg[k] = idle_class;
		s->t[k] = (struct tenant_gate){ .s = s, .cls = k, .win_t0 = now_ns };
	}
	struct shaper_cfg sc = {
		.mtu = FRAME_MAX, .n_classes = WAN_SHAPER_BRIDGED + 1, .classes = s->ccfg,
	};
	s->sh = shaper_create(&sc, now_ns);
	if (!s->sh) {
		int e = errno;
		free(s);
		errno = e;
		return NULL;
	}
	s->n_workers = n_workers;
	s->now = now_ns;
	s->dirty = true; /* the first sync applies its configuration */
	return s;
}

void wan_shaper_destroy(struct wan_shaper *s)
{
	if (!s)
		return;
	shaper_destroy(s->sh);
	free(s);
}

void wan_shaper_attach(struct wan_shaper *s, unsigned slot, struct channel *ch)
{
	struct tenant_gate *g = &s->t[slot];
	shaper_class_reset(s->sh, slot);
	*g = (struct tenant_gate){ .s = s, .ch = ch, .cls = slot, .win_t0 = s->now };
	channel_set_gate(ch, &gate, g);
	s->dirty = true;
}

void wan_shaper_detach(struct wan_shaper *s, unsigned slot)
{
	struct tenant_gate *g = &s->t[slot];
	if (g->ch) {
		channel_set_gate(g->ch, NULL, NULL);
		channel_set_min_rate(g->ch, 0);
	}
	shaper_class_reset(s->sh, slot);
	*g = (struct tenant_gate){ .s = s, .cls = slot, .win_t0 = s->now };
	s->dirty = true;
}

void wan_shaper_sync(struct wan_shaper *s, const struct strait_config *cfg, uint64_t now_ns)
{
	if (!s->dirty && cfg->generation == s->gen)
		return;
	if (now_ns > s->now)
		s->now = now_ns;
	uint64_t link_bps = cfg->appliance.wan_rate_bps;
	for (unsigned k = 0; k < WAN_SHAPER_BRIDGED; k++) {
		const struct strait_tenant_cfg *tc = &cfg->tenants[k];
		if (!s->t[k].ch || k >= cfg->n_tenants || !strait_tenant_present(tc)) {
			s->ccfg[k] = idle_class;
			continue;
		}
		s->ccfg[k] = (struct shaper_class_cfg){
			.guaranteed_bps = tc->guaranteed_bps, .ceiling_bps = tc->ceiling_bps,
			.priority = tc->priority, .weight = tc->weight ? tc->weight : 1,
			.rpo_target_ns = tc->rpo_target_ns,
		};
		/* Transport = rate: random loss does not slow the channel below
		 * its guarantee, and the shaper alone paces it, which it can
		 * only do with a rate to hold the class to (a Ceiling or [WAN]
		 * Rate): without one the channel is CUBIC, paced by its engine;
		 * bbr: the channel models the path, within what the shaper
		 * grants */
		bool capped = tc->ceiling_bps || link_bps;
		channel_set_min_rate(s->t[k].ch, tc->transport == STRAIT_TRANSPORT_RATE && capped
							 ? tc->guaranteed_bps : 0);
		channel_set_bbr(s->t[k].ch, tc->transport == STRAIT_TRANSPORT_BBR);
	}
	struct shaper_cfg sc = {
		.link_bps = link_bps, .mtu = FRAME_MAX, .burst_ns = cfg->appliance.wan_burst_ns,
		.n_classes = WAN_SHAPER_BRIDGED + 1, .classes = s->ccfg,
	};
	if (shaper_reconfigure(s->sh, &sc, s->now)) /* ctl checked it: cannot happen */
		fprintf(stderr, "straitd: WAN shaper: configuration %llu refused, the previous "
				"one goes on\n", (unsigned long long)cfg->generation);
	if (s->n_workers > 1)
		link_set(link_bps, cfg->appliance.wan_burst_ns ? cfg->appliance.wan_burst_ns : SHAPER_BURST_NS);
	s->shared = s->n_workers > 1 && link_bps;
	s->gen = cfg->generation;
	s->dirty = false;
}

/* ---- per frame ---- */

void wan_shaper_charge(struct wan_shaper *s, unsigned k, uint32_t len, uint64_t now_ns)
{
	if (now_ns > s->now)
		s->now = now_ns;
	shaper_sent(s->sh, k, len, s->now);
	if (s->shared)
		link_charge(len, s->now);
}

void wan_shaper_bridged(struct wan_shaper *s, uint64_t total_bytes, uint64_t now_ns)
{
	uint64_t d = total_bytes - s->bridged_seen;
	s->bridged_seen = total_bytes;
	if (now_ns > s->now)
		s->now = now_ns;
	/* Bridged frames are not held (no queue of their own): they are
	 * charged, a frame at a time, as far as the link has room; beyond it
	 * they went out anyway and are only counted, so that a bridged flood
	 * cannot put the link in a debt the tenants would never see the end
	 * of. */
	while (d) {
		uint32_t len = d > FRAME_MAX ? FRAME_MAX : (uint32_t)d;
		d -= len;
		if (!shaper_link_ok(s->sh, s->now)) {
			s->bridged_over += len + d;
			break;
		}
		wan_shaper_charge(s, WAN_SHAPER_BRIDGED, len, s->now);
	}
}

void wan_shaper_set_lag(struct wan_shaper *s, unsigned k, uint64_t lag_ns, uint64_t now_ns)
{
	if (now_ns > s->now)
		s->now = now_ns;
	if (k < WAN_SHAPER_BRIDGED && s->t[k].ch)
		shaper_set_lag(s->sh, k, lag_ns, s->now);
}

bool wan_shaper_urgent(const struct wan_shaper *s, unsigned k)
{
	struct shaper_class_stats st;
	shaper_class_stats(s->sh, k, &st);
	return st.urgent;
}

unsigned wan_shaper_run(struct wan_shaper *s, uint64_t now_ns)
{
	if (now_ns > s->now)
		s->now = now_ns;
	uint64_t next = UINT64_MAX;
	for (int i = 0; i < RUN_BUDGET; i++) {
		int c = shaper_pick(s->sh, s->now, &next);
		if (c < 0)
			break;
		struct tenant_gate *g = &s->t[c];
		if (!g->ch) { /* the bridged class has no demand to serve */
			shaper_sleep(s->sh, (unsigned)c);
			continue;
		}
		if (s->shared && shaper_class_mode(s->sh, (unsigned)c) != SHAPER_GREEN) {
			uint64_t until = link_wait(s->now);
			if (until) {
				shaper_defer(s->sh, (unsigned)c, until);
				continue;
			}
		}
		g->permit = true;
		channel_kick(g->ch);
		if (g->permit) { /* nothing to send: windows full or empty queue */
			g->permit = false;
			shaper_sleep(s->sh, (unsigned)c);
		}
		next = 0;
	}
	return next <= s->now + SOON_NS;
}

/* ---- telemetry ---- */

void wan_shaper_stats(struct wan_shaper *s, unsigned k, uint64_t now_ns,
		      struct wan_shaper_snap *out)
{
	struct tenant_gate *g = &s->t[k];
	out->shaped = true;
	shaper_class_stats(s->sh, k, &out->cls);
	if (now_ns >= g->win_t0 + RATE_WINDOW_NS) {
		g->rate_bps = (uint64_t)((unsigned __int128)(out->cls.bytes - g->win_bytes0) * 8 *
					 1000000000u / (now_ns - g->win_t0));
		g->win_t0 = now_ns;
		g->win_bytes0 = out->cls.bytes;
	}
	out->rate_bps = g->rate_bps;
	out->held_bytes = g->ch ? channel_unsent(g->ch) : 0;
	out->over_bytes = g->ch ? 0 : s->bridged_over;
	out->guaranteed_bps = s->ccfg[k].guaranteed_bps;
	out->ceiling_bps = s->ccfg[k].ceiling_bps;
	out->at_ns = now_ns;
}
