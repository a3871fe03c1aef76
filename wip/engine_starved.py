#!/usr/bin/env python3
# Engine change: TCP_EV_WRITABLE for a connection whose write was refused
# by the tenant budget or the mempool (not by its own send buffer): no ACK
# of its own may ever come to wake it, so tcp_poll() looks every ms.
import os, sys
tcp = os.path.join(sys.argv[1], "dataplane", "tcp")
def edit(path, pairs):
    p = os.path.join(tcp, path)
    s = open(p).read()
    for old, new in pairs:
        if old not in s:
            sys.exit("%s: not found:\n%s" % (path, old))
        s = s.replace(old, new, 1)
    open(p, "w").write(s)
edit("tcp_internal.h", [
("""	TF_RACK_VALID = 1u << 30,  /* RACK.xmit_ts is set (a segment was delivered) */""",
 """	TF_RACK_VALID = 1u << 30,  /* RACK.xmit_ts is set (a segment was delivered) */
	TF_STARVED = 1u << 31,     /* on st->starved: tcp_poll() checks its room */"""),
("""	struct tcp_conn *zombies;   /* freed during this call, reaped on return */""",
 """	struct tcp_conn *zombies;   /* freed during this call, reaped on return */
	/* Connections a write refused (TF_STARVED), by index: the room they
	 * wait for may come from other connections (the tenant's budget, the
	 * pool), which sends them no ACK; tcp_poll() looks every millisecond. */
	uint32_t *starved;
	uint32_t n_starved, starved_cap;
	uint64_t starved_due;"""),
])
edit("tcp_stack.c", [
("""	st->tenants = calloc(st->cfg.max_tenants, sizeof(*st->tenants));
	if (!st->tenants)
		goto err_buckets;""",
 """	st->tenants = calloc(st->cfg.max_tenants, sizeof(*st->tenants));
	if (!st->tenants)
		goto err_buckets;
	/* twice the table: a slot reused before the next look may be listed twice */
	st->starved_cap = 2 * st->cfg.max_conns;
	st->starved = calloc(st->starved_cap, sizeof(*st->starved));
	if (!st->starved)
		goto err_tenants;"""),
("""	free(st->tenants);
	free(st->buckets);
	free(st->conns);
	memset(st->isn_key, 0, sizeof(st->isn_key));""",
 """	free(st->starved);
	free(st->tenants);
	free(st->buckets);
	free(st->conns);
	memset(st->isn_key, 0, sizeof(st->isn_key));"""),
])
edit("tcp_api.c", [
("""	if (done < len)
		c->flags |= TF_WANT_WRITABLE;""",
 """	if (done < len) {
		c->flags |= TF_WANT_WRITABLE;
		if (!(c->flags & TF_STARVED) && st->n_starved < st->starved_cap) {
			c->flags |= TF_STARVED;
			st->starved[st->n_starved++] = c->idx;
		}
	}"""),
])
edit("tcp_timer.c", [
("""void tcp_poll(struct tcp_stack *st)
{
	TCP_SCOPE(st);""",
 """/* Writers refused for want of room that their own ACKs may never bring
 * (the tenant's budget or the pool, held by other connections): told
 * TCP_EV_WRITABLE once a quarter of a send buffer (at most 64 KiB) fits
 * and the pool has mbufs again. Entries appended by the events go after
 * the ones being looked at. */
static void wake_starved(struct tcp_stack *st)
{
	uint32_t n = st->n_starved, kept = 0;
	uint64_t want = st->cfg.sndbuf / 4 < 65536 ? st->cfg.sndbuf / 4 : 65536;
	bool pool = rte_mempool_avail_count(st->mp) >= 64;
	for (uint32_t i = 0; i < n; i++) {
		struct tcp_conn *c = &st->conns[st->starved[i]];
		if (!(c->flags & TF_STARVED))
			continue; /* freed (flags cleared) or listed twice */
		if (!(c->flags & TF_WANT_WRITABLE) || (c->flags & TF_DEAD)) {
			c->flags &= ~TF_STARVED;
			continue;
		}
		if (pool && tcp_writable(c) >= want) {
			c->flags &= ~(TF_STARVED | TF_WANT_WRITABLE);
			tcp_notify(c, TCP_EV_WRITABLE);
			continue;
		}
		st->starved[kept++] = st->starved[i];
	}
	uint32_t added = st->n_starved - n;
	memmove(&st->starved[kept], &st->starved[n], added * sizeof(*st->starved));
	st->n_starved = kept + added;
}

void tcp_poll(struct tcp_stack *st)
{
	TCP_SCOPE(st);
	if (st->n_starved && st->now >= st->starved_due) {
		st->starved_due = st->now + 1000;
		wake_starved(st);
	}"""),
])
print("starved writers woken")
