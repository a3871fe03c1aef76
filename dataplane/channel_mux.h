/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * channel_mux.h - one tenant channel's multiplexer: the flows, the codec and
 * the frames of channel_wire.h, on byte buffers (no DPDK, no sockets).
 *
 * Each appliance holds one mux per tenant, for the tenant's whole life; a
 * channel connection (the TCP inside ESP) is one session of it. The caller
 * moves bytes: what the peer sent goes in through chan_mux_rx(), what the
 * mux wants to send comes out of chan_mux_tx() (never more than the room the
 * caller offers: the channel's send buffer), and each flow's local end (the
 * client's connection at the appliance that intercepted it, the server's at
 * the other) writes with chan_flow_write() and takes bytes through the
 * deliver callback.
 *
 *   local end --chan_flow_write--> raw ring --encode (credit, room)--> DATA --tx-->
 *   --rx--> DATA --decode (checks)--> out ring / deliver --> local end
 *
 * Rules (DESIGN.md, "Data path" 2-4 and 7, "The mirrored redundancy cache"):
 * - Credit, per flow, in decoded bytes. A flow is encoded only while the
 *   peer's credit allows and the caller's room holds the records' bound
 *   (encoding updates the mirrored log and cannot be undone). The receiver
 *   grants credit for room it holds: each flow has an out ring of
 *   out_window bytes, and the limit it grants is delivered + out_window, so
 *   one stalled local end stops its own flow only.
 * - Raw bytes are kept (raw ring, raw_window bytes) until the peer's
 *   DECODED says its decoder verified them. A decoder check failure never
 *   delivers the failed record: the receiver sends DECODED for its flows
 *   and RESYNC(epoch + 1), both ends empty the direction's log, and the
 *   sender re-encodes each flow from its DECODED offset.
 * - Control frames go before DATA and never wait for credit.
 * - Small writes: a flow whose input ran dry with a partial chunk is
 *   flushed (the codec's tentative record) after flush_us without input.
 * - Memory: chan_mux_size() says how much; everything lives in the caller's
 *   workspace (codec logs, rings, chunker states, the flow table, staging);
 *   nothing is allocated afterwards.
 *
 * Errors. A peer that breaks the framing or the session (HELLO mismatch, a
 * bad RESYNC epoch, a reused flow id) fails the session: chan_mux_rx()
 * returns a negative enum chan_mux_error (or chan_wire_error), sticky until
 * chan_mux_reset(); the caller closes the channel and its flows follow
 * PeerDown. A frame that breaks a rule of one flow (credit overrun, an
 * offset out of order, a bad CLOSE) resets that flow only. A decoder failure
 * resyncs the direction; no flow is lost.
 *
 * Threading: none. A mux belongs to the worker that owns its tenant.
 */
#ifndef STRAIT_DATAPLANE_CHANNEL_MUX_H
#define STRAIT_DATAPLANE_CHANNEL_MUX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <strait/dedupe.h>

#include "channel_wire.h"

struct chan_mux;
struct chan_flow;

enum chan_role {
	CHAN_ROLE_CONNECT = 0, /* our end called connect() */
	CHAN_ROLE_ACCEPT = 1,
};

/* Session errors (negative). */
enum chan_mux_error {
	CHAN_MUX_E_NO_HELLO = -2101,  /* a frame before the peer's HELLO */
	CHAN_MUX_E_HELLO = -2102,     /* a second HELLO */
	CHAN_MUX_E_TENANT = -2103,    /* HELLO of another tenant Id */
	CHAN_MUX_E_CODEC = -2104,     /* another codec format version */
	CHAN_MUX_E_CHUNK = -2105,     /* other chunking parameters */
	CHAN_MUX_E_CACHE = -2106,     /* another CacheSize */
	CHAN_MUX_E_FLOW_ID = -2107,   /* OPEN with an id that is not new, or of
				       * our role */
	CHAN_MUX_E_RESYNC = -2108,    /* RESYNC to an epoch we are not at + 1 */
	CHAN_MUX_E_FLOOD = -2109,     /* more refused OPENs queued than we can
				       * answer: the peer ignores our refusals */
	CHAN_MUX_E_ENCODER = -2110,   /* our encoder failed (zstd) */
	CHAN_MUX_E_WINDOW = -2111,    /* another literal window (CacheWindow) */
};

struct chan_mux_config {
	uint32_t tenant;        /* [Tenant] Id, checked in HELLO */
	enum chan_role role;
	struct strait_dedupe_params codec; /* capacity = CacheSize,
					    * window_log = CacheWindow */
	uint32_t max_flows;     /* flows at once (both openers) */
	uint32_t raw_window;    /* raw bytes kept per flow; power of two */
	uint32_t out_window;    /* decoded bytes held per flow (the credit we
				 * grant); power of two, >= 4 max_chunk (a
				 * sender waits for a chunk's worth of credit) */
	uint32_t flush_us;      /* input idle this long: flush the partial
				 * chunk */
	uint32_t quantum;       /* raw bytes encoded per flow per turn */
	/* Optional (NULL: logs in the workspace, a new epoch every session):
	 * the tenant's cache files (strait_dedupe_cache_file_open() with
	 * codec), the encoder's and the decoder's, open while the mux lives.
	 * Their logs outlive the process: a session continues them when the
	 * peer holds the same state (HELLO), and chan_mux_commit() makes the
	 * current state theirs. */
	struct strait_dedupe_cache_file *cache_tx, *cache_rx;
};

enum { CHAN_MUX_DEFAULT_FLOWS = 256 };

/* Fills defaults for zero fields: CHAN_MUX_DEFAULT_FLOWS flows, 4 MiB raw, 2 MiB out, flush
 * 1 ms, quantum 1 MiB, codec defaults (capacity left as given when
 * non-zero). */
void chan_mux_config_defaults(struct chan_mux_config *c);
/* Workspace bytes, or 0 when the configuration is unusable. */
size_t chan_mux_size(const struct chan_mux_config *c);

/* What the mux tells its caller. f is valid until a terminal callback
 * (refused, reset, done) returns, or until the caller resets or refuses it. */
struct chan_mux_ops {
	/* The peer asks to open a flow (we are the server's side). Return 0
	 * and answer later with chan_flow_accept() or chan_flow_refuse(), or
	 * return an enum chan_refuse reason to refuse at once. */
	int (*open)(void *ctx, struct chan_flow *f, const struct chan_open *o);
	/* Our OPEN: the server accepted. */
	void (*opened)(void *ctx, struct chan_flow *f);
	/* Our OPEN: the server refused. Terminal. */
	void (*refused)(void *ctx, struct chan_flow *f, const struct chan_refused *r);
	/* Decoded bytes for the flow's local end; returns how many it took
	 * (the rest wait in the out ring: call chan_flow_drain() when the
	 * local end has room again). */
	size_t (*deliver)(void *ctx, struct chan_flow *f, const uint8_t *p, size_t n);
	/* The peer's direction ended and every byte of it was delivered:
	 * half-close the local end (FIN). */
	void (*fin)(void *ctx, struct chan_flow *f);
	/* The raw ring has room again after chan_flow_write() took less than
	 * offered. */
	void (*writable)(void *ctx, struct chan_flow *f);
	/* The flow is over: the peer reset it, or it broke a rule, or the
	 * session ended (enum chan_reset). Terminal: reset the local end. */
	void (*reset)(void *ctx, struct chan_flow *f, unsigned reason);
	/* Both directions closed and confirmed. Terminal. */
	void (*done)(void *ctx, struct chan_flow *f);
};

/* Builds a mux in mem (8-byte aligned, chan_mux_size() bytes, zeroed pages
 * are fine: it writes what it uses). NULL if the config is unusable. The
 * session starts with chan_mux_start(). */
struct chan_mux *chan_mux_init(void *mem, size_t size, const struct chan_mux_config *c,
			       const struct chan_mux_ops *ops, void *ctx);

/* A channel connection is up: sends HELLO, waits for the peer's. Without
 * cache files each direction starts a new epoch with an empty log; with
 * them HELLO carries the states each end holds, and a direction whose
 * encoder's state equals its peer decoder's continues (channel_wire.h). */
void chan_mux_start(struct chan_mux *m, uint64_t now_us);
/* Makes both logs' current state their cache files' (a sync: call it where
 * the channel is quiet, or at shutdown). 0, or the first -errno of the
 * encoder's and the decoder's commits (a side without a file: nothing to
 * commit). */
int chan_mux_commit(struct chan_mux *m);
/* The channel connection ended (or the caller gave up on it): every flow
 * gets reset(CHAN_RESET_ABORT) and is released; the mux is idle until the
 * next chan_mux_start(). */
void chan_mux_reset(struct chan_mux *m);
/* true once both HELLOs agree: flows may open. */
bool chan_mux_up(const struct chan_mux *m);
/* The session's error (0 if none) and a sentence saying what differs or
 * what broke ("peer CacheSize 536870912, ours 1073741824"). */
int chan_mux_error(const struct chan_mux *m);
const char *chan_mux_why(const struct chan_mux *m);
const char *chan_mux_strerror(int err);

/* Bytes from the channel. Takes everything it is given (frames complete
 * across calls) and handles every complete frame. Returns 0, or a session
 * error (sticky). Callbacks run inside. */
int chan_mux_rx(struct chan_mux *m, const uint8_t *p, size_t n);
/* Fills out[0..cap) with frames to send: control first, then DATA for
 * flows with credit, each encode only when its bound fits. Returns the
 * bytes written: the caller must send all of them, in order. */
size_t chan_mux_tx(struct chan_mux *m, uint8_t *out, size_t cap, uint64_t now_us);
/* true when chan_mux_tx() has something to send now. */
bool chan_mux_tx_pending(const struct chan_mux *m);
/* The earliest flush deadline (now_us clock), UINT64_MAX if none. */
uint64_t chan_mux_next_timer(const struct chan_mux *m);

/* ---- flows ---- */

/* We intercepted a client's SYN: opens flow o (credit is set by the mux).
 * NULL with errno ENOTCONN (session not up) or ENOSPC (max_flows). */
struct chan_flow *chan_flow_open(struct chan_mux *m, const struct chan_open *o,
				 void *user);
/* Answers the peer's OPEN (after ops->open returned 0). accept: the server
 * answered; refuse: how it did not (r->reason, ICMP type/code). After
 * refuse, f is released. */
void chan_flow_accept(struct chan_flow *f);
void chan_flow_refuse(struct chan_flow *f, const struct chan_refused *r);

/* Bytes from the local end; returns how many the raw ring took (then wait
 * for ops->writable). Valid once the flow is open (before that: 0). */
size_t chan_flow_write(struct chan_flow *f, const void *p, size_t n);
/* Room in the raw ring: how many bytes chan_flow_write() takes now. */
size_t chan_flow_room(const struct chan_flow *f);
/* The same without a copy: where the next bytes go (*n, what the caller
 * has, is cut to the contiguous room there; when the room is smaller than
 * asked, ops->writable fires once it grows), then chan_flow_commit(f, k)
 * once k <= *n bytes are in (a larger k is ignored). */
uint8_t *chan_flow_wbuf(struct chan_flow *f, size_t *n);
void chan_flow_commit(struct chan_flow *f, size_t n);
/* The local end sent FIN: after what it wrote, the direction ends. */
void chan_flow_fin(struct chan_flow *f);
/* The local end has room again: delivers what waits in the out ring. */
void chan_flow_drain(struct chan_flow *f);
/* The local end reset or failed: RESET to the peer; f is released. */
void chan_flow_reset(struct chan_flow *f, unsigned reason);

uint32_t chan_flow_id(const struct chan_flow *f);
/* true for the flows the peer opened (we stand in for their client) */
bool chan_flow_peer_opened(const struct chan_flow *f);
/* true once OPENED went or came (false while the open is undecided) */
bool chan_flow_is_open(const struct chan_flow *f);
void *chan_flow_user(const struct chan_flow *f);
void chan_flow_set_user(struct chan_flow *f, void *user);
/* Decoded bytes waiting in the out ring for the local end. */
size_t chan_flow_undelivered(const struct chan_flow *f);

/* ---- statistics ---- */

struct chan_mux_stats {
	/* flows */
	uint64_t opened;          /* OPENs we sent */
	uint64_t accepted;        /* peer OPENs we accepted */
	uint64_t refused_in;      /* our OPENs the peer refused */
	uint64_t refused_out;     /* peer OPENs we refused (all reasons) */
	uint64_t refused_policy;  /*   of which outside the tenant's rule */
	uint64_t refused_busy;    /*   of which for lack of room */
	uint64_t refused_malformed; /*   of which (also counted in policy) a
				     * whole OPEN with a field out of range */
	uint64_t resets_in, resets_out; /* RESET received, sent */
	uint64_t done;            /* flows closed cleanly */
	uint32_t active;          /* flows in the table now */
	/* bytes */
	uint64_t lan_in;          /* raw bytes the local ends wrote */
	uint64_t lan_out;         /* decoded bytes delivered to local ends */
	uint64_t wan_out, wan_in; /* channel bytes produced, consumed */
	uint64_t records_out;     /* codec bytes in DATA sent (resends too) */
	uint64_t encoded_bytes;   /* decoded bytes those records carry */
	uint64_t raw_held;        /* raw bytes kept, not yet DECODED */
	uint64_t acked;           /* raw bytes confirmed DECODED, total */
	uint32_t held_flows;      /* flows whose local end offered more than the
				   * raw ring took: their sources wait */
	/* replication lag: raw_held over the recent drain rate (DECODED
	 * bytes per second, averaged over about a second) */
	uint64_t drain_bps;       /* bytes per second */
	uint64_t lag_us;          /* UINT64_MAX: bytes held and nothing drains */
	/* flow control and recovery */
	uint64_t credit_stalls;   /* a flow had bytes to send and no credit */
	uint64_t room_stalls;     /* the caller's room was too small to encode */
	uint64_t resyncs_asked;   /* our decoder failed, we sent RESYNC */
	uint64_t resyncs_done;    /* the peer's RESYNC: we re-encoded */
	uint64_t resent_bytes;    /* raw bytes encoded again after a RESYNC */
	uint64_t decode_errors;   /* decoder failures (each asked a RESYNC) */
	uint64_t last_decode_error; /* the last one's code, negated */
	uint64_t flow_errors;     /* flows reset for breaking a rule */
	uint64_t digest_errors;   /* CLOSE digests that did not match */
	uint64_t stale_frames;    /* frames for flows already gone, or DATA
				   * of an old epoch (skipped) */
	uint64_t flushes;         /* partial chunks flushed */
	/* codec (this side's encoder) */
	uint64_t cache_hits, cache_misses;
	uint32_t epoch_tx, epoch_rx;
	uint32_t continued_tx, continued_rx; /* sessions that continued a log */
};
void chan_mux_stats(const struct chan_mux *m, struct chan_mux_stats *s);

/* Test knob: the next n DATA frames received get one bit of their first
 * record's check flipped before decoding, as a corrupt log entry would (the
 * decoder must refuse the record; the channel resyncs). */
void chan_mux_inject_check_failure(struct chan_mux *m, unsigned n);

#endif
