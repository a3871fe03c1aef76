/* SPDX-License-Identifier: BSD-3-Clause */
/* Test harness for the TCP engine: an EAL without hugepages, a mempool, an
 * injected clock, captured output and crafted segments (IPv4/IPv6 after a
 * 14-byte L2 header, checksums computed as a real peer would). */
#ifndef STRAIT_TESTS_TCP_HARNESS_H
#define STRAIT_TESTS_TCP_HARNESS_H

#include "tcp_internal.h"

#define H_MAXOUT 4096

struct h_seg {
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t wnd;
	uint32_t len;
	uint8_t payload[9000];
	struct tcp_opts opt;
	bool csum_ok;
	uint8_t af;
	uint16_t sport, dport;
};

struct harness {
	struct tcp_stack *st;
	struct rte_mempool *mp;
	uint64_t now;
	struct rte_mbuf *out[H_MAXOUT];
	unsigned nout;
	uint8_t af;
	struct tcp_addr local, remote; /* the engine's and the peer's */
	uint16_t lport, rport;
	/* last events seen */
	struct tcp_conn *last_conn;
	uint32_t events;
	unsigned nevents;
	void (*on_event)(struct harness *h, struct tcp_conn *c, uint32_t ev);
};

void h_eal(void);
void h_init(struct harness *h, struct tcp_config *cfg, uint8_t af);
void h_fini(struct harness *h);
/* Sends a crafted segment from the peer into the engine. */
void h_send(struct harness *h, uint32_t seq, uint32_t ack, uint8_t flags,
	    uint16_t wnd, const uint8_t *opts, unsigned optlen,
	    const void *data, uint32_t len);
struct rte_mbuf *h_craft(struct harness *h, uint32_t seq, uint32_t ack,
			 uint8_t flags, uint16_t wnd, const uint8_t *opts,
			 unsigned optlen, const void *data, uint32_t len);
/* The peer's ACK (sequence peer_seq, window 65535): cumulative `cum`
 * bytes and n (<= 4) SACK blocks, relative to the first data byte (iss + 1). */
void h_ack_sack(struct harness *h, uint32_t peer_seq, uint32_t iss, uint32_t cum,
		const uint32_t (*rel)[2], unsigned n);
/* Decodes output segment i (and checks its checksums). */
void h_out(struct harness *h, unsigned i, struct h_seg *s);
void h_clear(struct harness *h);
void h_advance(struct harness *h, uint64_t us); /* moves the clock, polls */
/* Passive open helper: listener on lport, handshake from peer with the
 * given SYN options; returns the established connection. */
struct tcp_conn *h_accept(struct harness *h, uint32_t peer_isn,
			  const uint8_t *opts, unsigned optlen, uint32_t *iss);

/* option builders; return length */
unsigned o_mss(uint8_t *p, uint16_t mss);
unsigned o_ws(uint8_t *p, uint8_t ws);
unsigned o_sackok(uint8_t *p);
unsigned o_ts(uint8_t *p, uint32_t val, uint32_t ecr);
unsigned o_sack(uint8_t *p, const uint32_t (*b)[2], unsigned n);

#endif
