/* SPDX-License-Identifier: BSD-3-Clause */
/* Counters and introspection (telemetry): per connection, per stack, per
 * tenant, and the table's slots. */
#include "tcp_internal.h"

#include <errno.h>

static const char *const state_names[TCP_NSTATES] = {
	"CLOSED", "LISTEN", "SYN-SENT", "SYN-RECEIVED", "ESTABLISHED",
	"FIN-WAIT-1", "FIN-WAIT-2", "CLOSE-WAIT", "CLOSING", "LAST-ACK",
	"TIME-WAIT",
};

const char *tcp_state_name(enum tcp_state s)
{
	return (unsigned)s < TCP_NSTATES ? state_names[s] : "?";
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
