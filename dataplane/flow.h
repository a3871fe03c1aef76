/* SPDX-License-Identifier: BSD-3-Clause */
/* The flow table: one per worker, TCP over IPv4 and IPv6, bounded, with
 * idle expiry. Pure C (no DPDK), time passed in by the caller in ms.
 *
 * A flow's fate is decided once, at the SYN that opens it: a tenant id
 * (matched by classify_syn()) or FLOW_BRIDGED. A flow first seen mid-stream
 * gets FLOW_BRIDGED with FLOW_F_UNSEEN and keeps it for life (until it
 * expires: a SYN does not re-decide it). The worker tracks each side's next
 * sequence number (nxt[]) so only an in-window RST or FIN closes a flow.
 *
 * Layout: 8-way set-associative buckets. A flow lives in the bucket its
 * symmetric (and, per start, randomly seeded) hash names; a full bucket
 * whose flows are all alive refuses the new flow (the caller bridges it
 * untracked and counts table_full), except that a SYN takes the slot of
 * the bucket's least recently seen bridged flow (unseen or decided
 * bridged: its later frames are bridged all the same, as an unseen flow).
 * A tenant flow is never evicted, so a decided flow never changes fate,
 * and spoofed mid-stream segments cannot lock out a new connection. Expired
 * entries are reclaimed lazily on insert and by flow_table_sweep(), which
 * the worker runs a few buckets at a time.
 */
#ifndef STRAIT_DATAPLANE_FLOW_H
#define STRAIT_DATAPLANE_FLOW_H

#include <stdbool.h>
#include <stdint.h>

#include "pkt.h"

enum {
	FLOW_WAYS = 8,
	FLOW_BRIDGED = 0xffff,
};

enum flow_flags {
	FLOW_F_UNSEEN = 1u << 0,   /* SYN not seen: bridged for life */
	FLOW_F_FIN_A = 1u << 1,    /* FIN from side a */
	FLOW_F_FIN_B = 1u << 2,
	FLOW_F_RST = 1u << 3,
	FLOW_F_CLIENT_B = 1u << 4, /* the SYN came from side b */
	FLOW_F_SEQ_A = 1u << 5,    /* nxt[0] holds side a's next sequence number */
	FLOW_F_SEQ_B = 1u << 6,
	FLOW_F_BYPASS = 1u << 7,   /* a tenant's, bridged unoptimized (PeerDown
				    * bypass, or its SYN came from the WAN) */
	FLOW_F_PINNED = 1u << 8,   /* a connection of the relay lives on it:
				    * never expires until unpinned */
};

/* A RST or FIN is honoured (closes the flow) only when its sequence number
 * is within this distance of the sender's next expected one, or (a RST
 * answering a segment) it acknowledges exactly the other side's. The
 * distance is the largest unscaled TCP window: a blind RST has to hit one
 * of 2^16 numbers out of 2^32. */
#define FLOW_SEQ_WINDOW 65535u

/* Canonical key: side a is the lower (address, port), so both directions
 * of a connection find the same flow. Built, hashed and compared as five
 * words (w), which avoids store-forwarding stalls from byte-wise writes;
 * the named fields describe the layout (little-endian). */
struct flow_key {
	union {
		struct {
			uint8_t a[16], b[16];
			uint16_t pa, pb;
			uint16_t vlan;
			uint8_t family;
			uint8_t pad;
		};
		uint64_t w[5];
	};
};

_Static_assert(sizeof(struct flow_key) == 40, "flow_key is hashed and compared as 5 words");

struct flow {
	struct flow_key key;
	uint32_t hash;     /* 0 = free slot */
	uint16_t tenant;   /* or FLOW_BRIDGED */
	uint16_t flags;
	uint64_t last_ms;
	uint64_t pkts, bytes;
	uint32_t nxt[2];   /* next sequence number expected from side a, b */
};

struct flow_table;

/* Called for each flow reclaimed (expired), before its slot is reused. */
typedef void (*flow_expire_fn)(void *ctx, const struct flow *f);

/* size: flows, a power of two >= FLOW_WAYS. NULL on bad size or no memory. */
struct flow_table *flow_table_create(uint32_t size, uint32_t idle_ms,
				     uint32_t closed_ms, flow_expire_fn fn, void *ctx);
void flow_table_destroy(struct flow_table *ft);

/* Builds the canonical key of a parsed TCP/IP frame; returns true when the
 * frame's source is side a. */
bool flow_key_make(const struct pkt_info *pi, struct flow_key *k);
uint32_t flow_key_hash(const struct flow_key *k);

/* Finds the flow of k. */
struct flow *flow_lookup(struct flow_table *ft, const struct flow_key *k, uint32_t hash,
			 uint64_t now_ms);
/* Adds k (caller checked it is absent); NULL when its bucket is full of
 * live flows. The new flow is zeroed except key, hash and last_ms. */
struct flow *flow_insert(struct flow_table *ft, const struct flow_key *k, uint32_t hash,
			 uint64_t now_ms);
/* The same for a SYN: a bucket full of live flows gives up its least
 * recently seen FLOW_BRIDGED flow (reported through the expire callback;
 * *evicted set). NULL when every flow in the bucket is a tenant's. */
struct flow *flow_insert_syn(struct flow_table *ft, const struct flow_key *k, uint32_t hash,
			     uint64_t now_ms, bool *evicted);
/* Seeds flow_key_hash() (all tables: workers must agree); call once
 * before any flow is hashed. Without it a fixed seed is used (tests). */
void flow_hash_seed(uint64_t seed);
/* Reclaims expired flows in the next n buckets (round robin); returns how
 * many. */
unsigned flow_table_sweep(struct flow_table *ft, uint64_t now_ms, unsigned n);
uint32_t flow_table_used(const struct flow_table *ft);
/* Calls fn on every flow in the table (a reload's purge: never per packet). */
void flow_table_foreach(struct flow_table *ft, void (*fn)(void *ctx, struct flow *f), void *ctx);
uint32_t flow_table_size(const struct flow_table *ft);
bool flow_closed(const struct flow *f);

#endif
