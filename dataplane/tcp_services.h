/* SPDX-License-Identifier: BSD-3-Clause */
/* Link-test services on the appliance's own address, as real appliances
 * offer them, so an operator can measure the appliance's TCP from any host
 * with nc or iperf-style tools:
 *   discard (port 9, RFC 863): reads and drops everything;
 *   echo    (port 7, RFC 862): returns every byte, at the pace the client
 *                              reads them (back-pressure, nothing dropped);
 *   source  (port 19):         the client sends a decimal byte count and a
 *                              newline; the service streams that many bytes
 *                              (byte i is i % 251) and closes (FIN).
 *                              "N reset\n" instead: N bytes, then, once the
 *                              client has acknowledged all of them, an RST
 *                              (an abortive close from the appliance's side:
 *                              the client reads N bytes, then ECONNRESET).
 * One `struct tcp_services` per stack; memory is preallocated per
 * connection slot at attach time. */
#ifndef STRAIT_DATAPLANE_TCP_SERVICES_H
#define STRAIT_DATAPLANE_TCP_SERVICES_H

#include "tcp.h"

enum { TCP_SVC_ECHO = 7, TCP_SVC_DISCARD = 9, TCP_SVC_SOURCE = 19 };

struct tcp_services;

struct tcp_services_stats {
	uint64_t accepted, discarded, echoed, sourced, bad_requests;
	uint64_t aborted;           /* "N reset" connections reset */
	struct tcp_conn_stats last; /* of the last connection that ended */
};

/* Listens on the three ports of (af, addr) for `tenant`, with SYN
 * cookies. Returns NULL with errno on failure. */
struct tcp_services *tcp_services_attach(struct tcp_stack *st, enum tcp_af af,
					 const struct tcp_addr *addr,
					 uint16_t tenant, uint32_t max_conns);
/* Adds the same services on another address family/address. */
int tcp_services_listen(struct tcp_services *sv, enum tcp_af af,
			const struct tcp_addr *addr, uint16_t tenant);
void tcp_services_stats(const struct tcp_services *sv, struct tcp_services_stats *out);
/* Resets the "N reset" connections whose bytes are all acknowledged; call
 * from the poll loop (nothing to do costs one comparison). */
void tcp_services_poll(struct tcp_services *sv);
void tcp_services_free(struct tcp_services *sv);

/* The byte the source service sends at offset i. */
static inline uint8_t tcp_source_byte(uint64_t i)
{
	return (uint8_t)(i % 251);
}

#endif
