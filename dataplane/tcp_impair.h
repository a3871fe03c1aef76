/* SPDX-License-Identifier: BSD-3-Clause */
/* A test facility: the appliance deliberately drops, duplicates and
 * reorders a share of the TCP segments its own stack receives and sends,
 * so the engine's loss recovery can be exercised against any peer (Linux,
 * the far appliance) without a WAN emulator. Off unless configured
 * (straitd --tcp-impair, or [Test] TcpImpair in the appliance file).
 *
 * Per segment, one draw from a xorshift64* generator seeded from the
 * configured seed, the worker id and the direction: below drop it is
 * freed; below drop + dup it goes out twice (the second an
 * rte_pktmbuf_copy() from the pool); below drop + dup + reorder it is held
 * back and released right after the next segment of the same direction,
 * or by tcp_impair_due() once held TCP_IMPAIR_HOLD_US. At most one segment
 * is held per direction; a reorder draw while one is held lets the segment
 * pass. The same seed and the same packet order give the same decisions.
 *
 * No allocation beyond mbufs for duplicates, no lock, no syscall: one
 * struct per worker, used on its lcore only. */
#ifndef STRAIT_DATAPLANE_TCP_IMPAIR_H
#define STRAIT_DATAPLANE_TCP_IMPAIR_H

#include <stdbool.h>
#include <stdint.h>

struct rte_mbuf;
struct rte_mempool;

enum tcp_impair_dir { TCP_IMPAIR_RX = 0, TCP_IMPAIR_TX = 1, TCP_IMPAIR_NDIRS = 2 };

enum {
	TCP_IMPAIR_PPM = 1000000,   /* shares are in parts per million */
	TCP_IMPAIR_HOLD_US = 1000,  /* longest a reordered segment is held */
	TCP_IMPAIR_OUT_MAX = 3,     /* segments one pass can release */
};

struct tcp_impair_cfg {
	uint32_t drop_ppm, dup_ppm, reorder_ppm; /* sum <= TCP_IMPAIR_PPM */
	uint64_t seed;
	bool rx, tx;                /* which directions are impaired */
};

struct tcp_impair_stats {
	uint64_t dropped[TCP_IMPAIR_NDIRS];
	uint64_t dup[TCP_IMPAIR_NDIRS];
	uint64_t reordered[TCP_IMPAIR_NDIRS];
	uint64_t dup_nombuf;       /* a duplicate the pool had no mbuf for */
	uint64_t held;             /* segments held now (0..2) */
};

struct tcp_impair {
	uint32_t drop, dup_end, reorder_end; /* cumulative thresholds, ppm */
	bool on[TCP_IMPAIR_NDIRS];
	uint64_t rng[TCP_IMPAIR_NDIRS];
	struct rte_mbuf *held[TCP_IMPAIR_NDIRS];
	uint64_t held_us[TCP_IMPAIR_NDIRS];
	struct rte_mempool *mp;
	struct tcp_impair_stats stats;
};

/* True when cfg impairs anything. */
bool tcp_impair_enabled(const struct tcp_impair_cfg *cfg);

/* Sets up worker `worker`'s knob; duplicates come from mp. */
void tcp_impair_init(struct tcp_impair *im, const struct tcp_impair_cfg *cfg,
		     unsigned worker, struct rte_mempool *mp);

/* Passes segment m (direction dir, at time now_us) through the knob. Takes
 * ownership of m. Fills out[] with the segments to deliver now, in order,
 * and returns their count (0..TCP_IMPAIR_OUT_MAX); the caller owns them.
 * A direction that is off returns m alone. */
unsigned tcp_impair_pass(struct tcp_impair *im, enum tcp_impair_dir dir,
			 struct rte_mbuf *m, uint64_t now_us,
			 struct rte_mbuf *out[TCP_IMPAIR_OUT_MAX]);

/* The segment held in dir once it has waited TCP_IMPAIR_HOLD_US (the
 * caller owns it), or NULL. */
struct rte_mbuf *tcp_impair_due(struct tcp_impair *im, enum tcp_impair_dir dir,
				uint64_t now_us);

/* When tcp_impair_due() will next return a segment; UINT64_MAX if none. */
uint64_t tcp_impair_next(const struct tcp_impair *im);

/* Frees the held segments (shutdown). */
void tcp_impair_flush(struct tcp_impair *im);

#endif
