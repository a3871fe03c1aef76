/* SPDX-License-Identifier: BSD-3-Clause */
/* Listeners: (address family, address or any, port) with a tenant, flags
 * (SYN cookies) and an optional event handler for what they accept. */
#include "tcp_internal.h"

#include <errno.h>

int tcp_listen(struct tcp_stack *st, enum tcp_af af, const struct tcp_addr *addr,
	       uint16_t port, uint16_t tenant, uint32_t flags)
{
	return tcp_listen_cb(st, af, addr, port, tenant, flags, NULL, NULL);
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
		if (l->af == af && l->port == port && tcp_addr_eq(af, &l->addr, addr))
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
		if (tcp_addr_eq(s->af, &l->addr, &s->dst))
			return l;
		if (tcp_addr_eq(s->af, &l->addr, &any))
			wild = l;
	}
	return wild;
}
