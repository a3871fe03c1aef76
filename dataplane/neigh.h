/* SPDX-License-Identifier: BSD-3-Clause */
/* IP -> MAC per port and VLAN, learnt from received frames. One table per
 * port per worker, written only by its worker; other threads (control's
 * telemetry, another worker borrowing a next hop) read it with
 * neigh_read(), which takes an entry only when its sequence word was
 * even and unchanged across the copy (a seqlock per entry: never a torn
 * MAC or key). Pure C.
 *
 * 4-way set-associative; a full set replaces its least recently refreshed
 * entry that is not pinned (the configured gateways are learnt pinned, so
 * no flood of other sources evicts them); a set full of pinned entries
 * learns nothing new. */
#ifndef STRAIT_DATAPLANE_NEIGH_H
#define STRAIT_DATAPLANE_NEIGH_H

#include <stdbool.h>
#include <stdint.h>

enum {
	NEIGH_WAYS = 4,
	NEIGH_BORROW_MS = 2000, /* a borrowed entry is copied again after this */
};

struct neigh_entry {
	uint8_t ip[16];
	uint8_t mac[6];
	uint16_t vlan;
	uint8_t family;
	uint8_t pinned;   /* never replaced by another address */
	uint8_t borrowed; /* copied from another worker's table (neigh_read),
			   * not learnt here: trusted for NEIGH_BORROW_MS */
	uint8_t pad;
	uint32_t valid;   /* 0 = free */
	uint32_t seq;     /* odd while the owner writes the entry */
	uint64_t seen_ms; /* learnt or refreshed (borrowed: copied) */
};

struct neigh_table {
	struct neigh_entry *e; /* n_sets * NEIGH_WAYS */
	uint32_t mask;
	uint64_t learned, updated;
};

/* size: entries, a power of two >= NEIGH_WAYS. Returns 0 or -ENOMEM/-EINVAL. */
int neigh_init(struct neigh_table *t, uint32_t size);
void neigh_free(struct neigh_table *t);
/* Records ip -> mac (refresh when known). */
void neigh_learn(struct neigh_table *t, uint8_t family, const uint8_t *ip, uint16_t vlan,
		 const uint8_t *mac, uint64_t now_ms);
/* The same, pinning the entry when pin (its MAC is still refreshed). */
void neigh_learn_pin(struct neigh_table *t, uint8_t family, const uint8_t *ip, uint16_t vlan,
		     const uint8_t *mac, uint64_t now_ms, bool pin);
/* Copies another worker's borrowed entry into t (marked borrowed; a
 * frame learnt later replaces it as its own). */
void neigh_learn_borrowed(struct neigh_table *t, uint8_t family, const uint8_t *ip,
			  uint16_t vlan, const uint8_t *mac, uint64_t now_ms);
/* The owner's lookup (the worker that writes t). */
const struct neigh_entry *neigh_lookup(const struct neigh_table *t, uint8_t family,
				       const uint8_t *ip, uint16_t vlan);

/* Any thread: a consistent copy of ip's entry in a table another thread
 * writes (false: none, or it changed during every try). */
bool neigh_read(const struct neigh_table *t, uint8_t family, const uint8_t *ip, uint16_t vlan,
		struct neigh_entry *out);

#endif
