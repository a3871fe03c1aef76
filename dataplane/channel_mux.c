/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * channel_mux.c - a tenant channel's flows over one byte stream each way
 * (rules in channel_mux.h, frames in channel_wire.h).
 *
 * A flow, seen from one appliance, has two halves:
 *
 *   tx (local end -> peer)   raw ring [acked ... fed ... accepted)
 *        acked: the peer's DECODED; fed: given to the encoder; sent:
 *        decoded bytes the records carry (<= fed: the chunker holds a
 *        partial chunk); credit: the peer's limit on sent.
 *   rx (peer -> local end)   out ring [delivered ... decoded)
 *        granted: the limit we last told the peer (delivered +
 *        out_window when told); a DATA beyond it is a rule broken.
 *
 * Work lists, each a ring of flow slots in which a flow appears at most
 * once (its in_* flag; a released slot keeps the flag and its stale entry
 * is skipped, so release never searches a list): ctlq (control frames
 * due), txq (flows with bytes, a flush or an END to encode), and flushq
 * ((slot, deadline) pairs; every deadline is now + flush_us when pushed,
 * so the ring is in deadline order; checked when popped).
 */
#include "channel_mux.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include "channel_ring.h"

enum flow_state {
	FS_FREE = 0,
	FS_OPENING,   /* our OPEN sent, no answer yet */
	FS_ACCEPTING, /* the peer's OPEN: waiting for our server */
	FS_OPEN,
	FS_DYING,     /* released by the caller; a REFUSED/RESET to send */
};

enum ctl_bits {
	CTL_OPEN = 1u << 0,
	CTL_OPENED = 1u << 1,
	CTL_REFUSED = 1u << 2,
	CTL_DECODED = 1u << 3,
	CTL_CREDIT = 1u << 4,
	CTL_CLOSE = 1u << 5,
	CTL_RESET = 1u << 6,
};

enum tx_state {
	TX_OPEN = 0,
	TX_FIN,     /* the local end sent FIN: encode to the end, then CLOSE */
	TX_CLOSED,  /* CLOSE queued or sent */
};

enum rx_state {
	RX_OPEN = 0,
	RX_CLOSED,  /* CLOSE checked; FIN once the out ring is empty */
	RX_DONE,    /* FIN delivered */
};

enum {
	REFUSALS_MAX = 64,
	SEGS = 8,
	DISCARD_CHUNK = 1u << 30,
};

struct chan_flow {
	struct chan_mux *m;
	uint32_t id, slot;
	uint8_t state, ctl, tx_state, rx_state;
	bool in_ctlq, in_txq, in_flushq; /* survive release: see the top */
	bool opener;
	bool flushed;             /* the partial chunk went out; no input since */
	bool flush_due;
	bool want_room;           /* chan_flow_write() took less than offered */
	bool stalled;             /* out of credit, off txq until CREDIT */
	bool discard;             /* rx broke a rule: decode, drop the output */
	struct chan_refused refusal;
	uint8_t reset_reason;
	void *user;
	struct chan_open open;    /* ours, until OPEN is sent */
	/* tx */
	struct chan_ring raw;
	uint64_t accepted, fed, sent, acked, credit;
	uint64_t last_input;
	struct strait_dedupe_flow *chunker;
	XXH3_state_t *tx_digest;
	/* rx */
	struct chan_ring out;
	uint64_t decoded, delivered, granted, decoded_sent;
	XXH3_state_t *rx_digest;
};

struct slot_ring {
	uint32_t *v;
	uint32_t cap, head, len;
};

struct flush_ent {
	uint32_t slot;
	uint64_t at;
};

struct chan_mux {
	struct chan_mux_config cfg;
	const struct chan_mux_ops *ops;
	void *ctx;
	struct strait_dedupe_encoder *enc;
	struct strait_dedupe_decoder *dec;
	size_t chunker_size;
	struct chan_flow *flows;
	uint32_t *free_slots, nfree;
	uint32_t *hash, hash_mask;
	struct slot_ring ctlq, txq;
	struct flush_ent *flushq;
	uint32_t fq_cap, fq_head, fq_len;
	struct { uint32_t id; uint8_t reason; } refusals[REFUSALS_MAX];
	uint32_t nrefusals;
	uint8_t *rxbuf;
	size_t rx_len;
	bool started, hello_sent, peer_hello, resync_due;
	bool rx_resyncing;      /* RESYNC asked, no DATA of the new epoch yet */
	uint16_t resync_cause;
	uint32_t epoch_tx, epoch_rx;
	struct strait_dedupe_state rx_held; /* our decoder's, in our HELLO */
	uint32_t next_id;       /* our next flow id / 2 */
	uint32_t peer_next;     /* the lowest id / 2 a new peer OPEN may use */
	uint64_t now;
	uint64_t drain_at, drain_acked; /* the drain rate's last sample */
	double drain_bps;
	unsigned inject;
	int err;
	char why[160];
	struct chan_mux_stats st;
};

/* ---- configuration and workspace ---- */

static bool pow2(uint32_t v)
{
	return v && !(v & (v - 1));
}

void chan_mux_config_defaults(struct chan_mux_config *c)
{
	uint64_t cap = c->codec.capacity;
	uint32_t wlog = c->codec.window_log;

	if (!c->codec.avg_chunk) {
		strait_dedupe_params_default(&c->codec);
		if (cap)
			c->codec.capacity = cap;
		c->codec.window_log = wlog;
	}
	if (!c->max_flows)
		c->max_flows = CHAN_MUX_DEFAULT_FLOWS;
	if (!c->raw_window)
		c->raw_window = 4u << 20;
	if (!c->out_window)
		c->out_window = 2u << 20;
	if (!c->flush_us)
		c->flush_us = 1000;
	if (!c->quantum)
		c->quantum = 1u << 20;
}

static bool config_ok(const struct chan_mux_config *c)
{
	return !strait_dedupe_params_check(&c->codec) && c->max_flows &&
	       c->max_flows <= (1u << 20) && pow2(c->raw_window) &&
	       pow2(c->out_window) && c->raw_window >= 4096 &&
	       c->out_window >= 4 * c->codec.max_chunk && c->quantum;
}

#define ALIGN64(x) (((x) + 63) & ~(size_t)63)

struct layout {
	size_t mux, enc, dec, flows, per_flow, chunker, digest, hash, slots,
	       flushq, rxbuf, total;
	uint32_t hash_size;
};

static bool layout_of(const struct chan_mux_config *c, struct layout *l)
{
	if (!config_ok(c))
		return false;
	memset(l, 0, sizeof(*l));
	l->hash_size = 1;
	while (l->hash_size < 2 * c->max_flows)
		l->hash_size <<= 1;
	l->mux = ALIGN64(sizeof(struct chan_mux));
	l->enc = ALIGN64(c->cache_tx ? strait_dedupe_encoder_size_cached(&c->codec)
				     : strait_dedupe_encoder_size(&c->codec));
	l->dec = ALIGN64(c->cache_rx ? strait_dedupe_decoder_size_cached(&c->codec)
				     : strait_dedupe_decoder_size(&c->codec));
	l->flows = ALIGN64(sizeof(struct chan_flow) * c->max_flows);
	l->chunker = ALIGN64(strait_dedupe_flow_size(&c->codec));
	l->digest = ALIGN64(sizeof(XXH3_state_t));
	l->per_flow = l->chunker + 2 * l->digest + c->raw_window + c->out_window;
	l->hash = ALIGN64(sizeof(uint32_t) * l->hash_size);
	l->slots = ALIGN64(sizeof(uint32_t) * c->max_flows);
	l->flushq = ALIGN64(sizeof(struct flush_ent) * c->max_flows);
	l->rxbuf = ALIGN64(CHAN_FRAME_MAX);
	if (l->enc == 0 || l->dec == 0 || l->chunker == 0)
		return false;
	l->total = l->mux + l->enc + l->dec + l->flows + l->per_flow * c->max_flows +
		   l->hash + 3 * l->slots + l->flushq + l->rxbuf;
	return true;
}

size_t chan_mux_size(const struct chan_mux_config *c)
{
	struct layout l;

	return layout_of(c, &l) ? l.total : 0;
}

static uint8_t *take(uint8_t **p, size_t n)
{
	uint8_t *r = *p;

	*p += n;
	return r;
}

struct chan_mux *chan_mux_init(void *mem, size_t size, const struct chan_mux_config *c,
			       const struct chan_mux_ops *ops, void *ctx)
{
	struct layout l;
	struct chan_mux *m;
	uint8_t *p = mem;

	if (!mem || ((uintptr_t)mem & 7) || !layout_of(c, &l) || size < l.total)
		return NULL;
	/* 64-byte alignment for what follows the mux (XXH3 states need it) */
	if ((uintptr_t)mem & 63)
		return NULL;
	m = (struct chan_mux *)take(&p, l.mux);
	memset(m, 0, sizeof(*m));
	m->cfg = *c;
	m->ops = ops;
	m->ctx = ctx;
	m->enc = c->cache_tx ? strait_dedupe_encoder_init_cached(take(&p, l.enc), l.enc,
								 &c->codec, c->cache_tx)
			     : strait_dedupe_encoder_init(take(&p, l.enc), l.enc, &c->codec, 0);
	m->dec = c->cache_rx ? strait_dedupe_decoder_init_cached(take(&p, l.dec), l.dec,
								 &c->codec, c->cache_rx)
			     : strait_dedupe_decoder_init(take(&p, l.dec), l.dec, &c->codec);
	if (!m->enc || !m->dec)
		return NULL;
	m->chunker_size = l.chunker;
	m->flows = (struct chan_flow *)take(&p, l.flows);
	memset(m->flows, 0, sizeof(struct chan_flow) * c->max_flows);
	for (uint32_t i = 0; i < c->max_flows; i++) {
		struct chan_flow *f = &m->flows[i];

		f->m = m;
		f->slot = i;
		f->chunker = (struct strait_dedupe_flow *)take(&p, l.chunker);
		f->tx_digest = (XXH3_state_t *)take(&p, l.digest);
		f->rx_digest = (XXH3_state_t *)take(&p, l.digest);
		f->raw.buf = take(&p, c->raw_window);
		f->raw.size = c->raw_window;
		f->out.buf = take(&p, c->out_window);
		f->out.size = c->out_window;
	}
	m->hash = (uint32_t *)take(&p, l.hash);
	m->hash_mask = l.hash_size - 1;
	memset(m->hash, 0, sizeof(uint32_t) * l.hash_size);
	m->free_slots = (uint32_t *)take(&p, l.slots);
	m->ctlq.v = (uint32_t *)take(&p, l.slots);
	m->txq.v = (uint32_t *)take(&p, l.slots);
	m->ctlq.cap = m->txq.cap = c->max_flows;
	m->flushq = (struct flush_ent *)take(&p, l.flushq);
	m->fq_cap = c->max_flows;
	m->rxbuf = take(&p, l.rxbuf);
	for (uint32_t i = 0; i < c->max_flows; i++)
		m->free_slots[i] = c->max_flows - 1 - i;
	m->nfree = c->max_flows;
	return m;
}

/* ---- small pieces: id table, work lists ---- */

static uint32_t id_hash(const struct chan_mux *m, uint32_t id)
{
	return (id * 0x9E3779B1u) >> 7 & m->hash_mask;
}

static struct chan_flow *flow_find(struct chan_mux *m, uint32_t id)
{
	for (uint32_t i = id_hash(m, id);; i = (i + 1) & m->hash_mask) {
		uint32_t v = m->hash[i];

		if (!v)
			return NULL;
		if (m->flows[v - 1].id == id)
			return &m->flows[v - 1];
	}
}

static void hash_add(struct chan_mux *m, struct chan_flow *f)
{
	uint32_t i = id_hash(m, f->id);

	while (m->hash[i])
		i = (i + 1) & m->hash_mask;
	m->hash[i] = f->slot + 1;
}

/* Linear probing: deletion shifts later members of the run back. */
static void hash_del(struct chan_mux *m, struct chan_flow *f)
{
	uint32_t i = id_hash(m, f->id), j;

	while (m->hash[i] != f->slot + 1)
		i = (i + 1) & m->hash_mask;
	m->hash[i] = 0;
	for (j = (i + 1) & m->hash_mask; m->hash[j]; j = (j + 1) & m->hash_mask) {
		uint32_t v = m->hash[j], home = id_hash(m, m->flows[v - 1].id);

		/* v may move to i when i lies cyclically in [home, j) */
		if (((j - home) & m->hash_mask) >= ((j - i) & m->hash_mask)) {
			m->hash[i] = v;
			m->hash[j] = 0;
			i = j;
		}
	}
}

static void ring_push(struct slot_ring *q, uint32_t v)
{
	q->v[(q->head + q->len++) % q->cap] = v;
}

static uint32_t ring_pop(struct slot_ring *q)
{
	uint32_t v = q->v[q->head];

	q->head = (q->head + 1) % q->cap;
	q->len--;
	return v;
}

static void ctl_set(struct chan_flow *f, unsigned bits)
{
	f->ctl |= (uint8_t)bits;
	if (!f->in_ctlq) {
		f->in_ctlq = true;
		ring_push(&f->m->ctlq, f->slot);
	}
}

static void tx_wake(struct chan_flow *f)
{
	if (!f->in_txq) {
		f->in_txq = true;
		ring_push(&f->m->txq, f->slot);
	}
}

static void flush_arm(struct chan_mux *m, struct chan_flow *f)
{
	if (f->in_flushq)
		return; /* its entry checks for later input when it is due */
	f->in_flushq = true;
	m->flushq[(m->fq_head + m->fq_len++) % m->fq_cap] =
		(struct flush_ent){ f->slot, m->now + m->cfg.flush_us };
}

/* Flows idle for flush_us with a partial chunk go to txq to flush it. */
static void flush_expire(struct chan_mux *m)
{
	while (m->fq_len) {
		struct flush_ent *e = &m->flushq[m->fq_head];
		struct chan_flow *f = &m->flows[e->slot];

		if (e->at > m->now)
			break;
		m->fq_head = (m->fq_head + 1) % m->fq_cap;
		m->fq_len--;
		f->in_flushq = false;
		if (f->state != FS_OPEN || f->flushed || f->fed != f->accepted ||
		    f->tx_state != TX_OPEN || !strait_dedupe_flow_pending(f->chunker))
			continue;
		if (f->last_input + m->cfg.flush_us > m->now) {
			flush_arm(m, f); /* input came since: wait again */
			continue;
		}
		f->flush_due = true;
		tx_wake(f);
	}
}

/* ---- flow slots ---- */

static struct chan_flow *flow_alloc(struct chan_mux *m, uint32_t id, bool opener)
{
	struct chan_flow *f;
	bool in_ctlq, in_txq, in_flushq;

	if (!m->nfree)
		return NULL;
	f = &m->flows[m->free_slots[--m->nfree]];
	in_ctlq = f->in_ctlq;
	in_txq = f->in_txq;
	in_flushq = f->in_flushq;
	memset(&f->state, 0, offsetof(struct chan_flow, raw) - offsetof(struct chan_flow, state));
	f->in_ctlq = in_ctlq;
	f->in_txq = in_txq;
	f->in_flushq = in_flushq;
	f->id = id;
	f->opener = opener;
	f->accepted = f->fed = f->sent = f->acked = f->credit = 0;
	f->last_input = 0;
	f->decoded = f->delivered = f->granted = f->decoded_sent = 0;
	strait_dedupe_flow_init(f->chunker, m->chunker_size, &m->cfg.codec, id);
	XXH3_64bits_reset(f->tx_digest);
	XXH3_64bits_reset(f->rx_digest);
	hash_add(m, f);
	m->st.active++;
	return f;
}

static void flow_free(struct chan_flow *f)
{
	struct chan_mux *m = f->m;

	if (f->state == FS_FREE)
		return;
	m->st.raw_held -= f->accepted - f->acked;
	m->st.held_flows -= f->want_room;
	f->want_room = false;
	hash_del(m, f);
	f->state = FS_FREE;
	f->ctl = 0;
	f->user = NULL;
	m->free_slots[m->nfree++] = f->slot;
	m->st.active--;
}

/* A terminal event the caller hears about, then the slot is released. */
static void flow_reset_local(struct chan_flow *f, unsigned reason)
{
	struct chan_mux *m = f->m;

	if (f->state != FS_DYING && m->ops->reset)
		m->ops->reset(m->ctx, f, reason);
	flow_free(f);
}

/* The flow broke a rule (or its end is gone): RESET to the peer, reset the
 * local end, keep the slot until the frame is out. rx continues to decode
 * (the log must stay mirrored) and drops its output. */
static void flow_fail(struct chan_flow *f, unsigned reason)
{
	struct chan_mux *m = f->m;

	if (f->state == FS_DYING || f->state == FS_FREE)
		return;
	m->st.flow_errors += reason == CHAN_RESET_PROTOCOL;
	m->st.digest_errors += reason == CHAN_RESET_DIGEST;
	f->state = FS_DYING;
	if (m->ops->reset)
		m->ops->reset(m->ctx, f, reason);
	f->user = NULL;
	f->discard = true;
	f->reset_reason = (uint8_t)reason;
	f->ctl = 0;
	ctl_set(f, CTL_RESET);
}

static void maybe_done(struct chan_flow *f)
{
	struct chan_mux *m = f->m;

	if (f->state != FS_OPEN || f->ctl || f->tx_state != TX_CLOSED ||
	    f->acked != f->accepted || f->rx_state != RX_DONE)
		return;
	m->st.done++;
	if (m->ops->done)
		m->ops->done(m->ctx, f);
	flow_free(f);
}

/* ---- session ---- */

/* The state our encoder can continue: a cache file's log (digest 0: none). */
static struct strait_dedupe_state tx_state(const struct chan_mux *m)
{
	struct strait_dedupe_state s;

	strait_dedupe_encoder_state(m->enc, &s);
	if (!m->cfg.cache_tx)
		s.digest = 0;
	return s;
}

void chan_mux_reset(struct chan_mux *m)
{
	for (uint32_t i = 0; i < m->cfg.max_flows; i++) {
		struct chan_flow *f = &m->flows[i];

		if (f->state != FS_FREE)
			flow_reset_local(f, CHAN_RESET_ABORT);
		f->in_ctlq = f->in_txq = f->in_flushq = false;
	}
	m->ctlq.head = m->ctlq.len = 0;
	m->txq.head = m->txq.len = 0;
	m->fq_head = m->fq_len = 0;
	m->nrefusals = 0;
	m->rx_len = 0;
	m->started = m->hello_sent = m->peer_hello = m->resync_due = false;
	m->rx_resyncing = false;
}

void chan_mux_start(struct chan_mux *m, uint64_t now_us)
{
	chan_mux_reset(m);
	m->now = now_us;
	m->drain_at = now_us;
	m->drain_acked = m->st.acked;
	m->started = true;
	m->err = 0;
	m->why[0] = 0;
	m->next_id = 0;
	m->peer_next = 0;
	/* A log kept in a cache file may continue (rx_hello decides); one in
	 * memory starts again, and a decoder stopped mid-record or by an
	 * error holds nothing to continue. */
	if (!m->cfg.cache_tx)
		strait_dedupe_encoder_reset(m->enc, ++m->epoch_tx);
	else /* the epoch it starts unless it continues */
		m->epoch_tx = tx_state(m).epoch + 1 ? tx_state(m).epoch + 1 : 1;
	if (!m->cfg.cache_rx)
		strait_dedupe_decoder_reset(m->dec);
	else if (strait_dedupe_decode_finish(m->dec) != 0 &&
		 strait_dedupe_decode_finish(m->dec) != STRAIT_DEDUPE_E_NO_HEADER)
		strait_dedupe_decoder_reset(m->dec);
	strait_dedupe_decoder_state(m->dec, &m->rx_held);
	if (!m->cfg.cache_rx)
		m->rx_held.digest = 0;
}

int chan_mux_commit(struct chan_mux *m)
{
	/* a side without a file has nothing to commit (its log was in memory) */
	int a = m->cfg.cache_tx ? strait_dedupe_encoder_commit(m->enc) : 0;
	int b = m->cfg.cache_rx ? strait_dedupe_decoder_commit(m->dec) : 0;

	return a ? a : b;
}

bool chan_mux_up(const struct chan_mux *m)
{
	return m->started && m->peer_hello && !m->err;
}

int chan_mux_error(const struct chan_mux *m)
{
	return m->err;
}

const char *chan_mux_why(const struct chan_mux *m)
{
	return m->why;
}

const char *chan_mux_strerror(int err)
{
	switch (err) {
	case CHAN_MUX_E_NO_HELLO: return "frame before the peer's HELLO";
	case CHAN_MUX_E_HELLO: return "second HELLO";
	case CHAN_MUX_E_TENANT: return "peer is another tenant";
	case CHAN_MUX_E_CODEC: return "peer runs another codec format";
	case CHAN_MUX_E_CHUNK: return "peer chunks with other parameters";
	case CHAN_MUX_E_CACHE: return "peer has another CacheSize";
	case CHAN_MUX_E_WINDOW: return "peer has another CacheWindow";
	case CHAN_MUX_E_FLOW_ID: return "OPEN with a flow id that is not new";
	case CHAN_MUX_E_RESYNC: return "RESYNC to an unexpected epoch";
	case CHAN_MUX_E_FLOOD: return "peer ignores refused OPENs";
	case CHAN_MUX_E_ENCODER: return "encoder failed";
	}
	return chan_wire_strerror(err);
}

static int session_fail(struct chan_mux *m, int err, const char *why)
{
	if (!m->err) {
		m->err = err;
		snprintf(m->why, sizeof(m->why), "%s", why ? why : chan_mux_strerror(err));
	}
	return m->err;
}

/* ---- rx: frames from the peer ---- */

static int rx_hello(struct chan_mux *m, const struct chan_hello *h)
{
	const struct strait_dedupe_params *p = &m->cfg.codec;
	char why[160];

	if (m->peer_hello)
		return session_fail(m, CHAN_MUX_E_HELLO, NULL);
	if (h->tenant != m->cfg.tenant) {
		snprintf(why, sizeof(why), "peer tenant Id %u, ours %u", h->tenant, m->cfg.tenant);
		return session_fail(m, CHAN_MUX_E_TENANT, why);
	}
	if (h->codec_version != STRAIT_DEDUPE_VERSION) {
		snprintf(why, sizeof(why), "peer codec format %u, ours %u",
			 h->codec_version, STRAIT_DEDUPE_VERSION);
		return session_fail(m, CHAN_MUX_E_CODEC, why);
	}
	if (h->min_chunk != p->min_chunk || h->avg_chunk != p->avg_chunk ||
	    h->max_chunk != p->max_chunk) {
		snprintf(why, sizeof(why), "peer chunks %u:%u:%u, ours %u:%u:%u",
			 h->min_chunk, h->avg_chunk, h->max_chunk, p->min_chunk,
			 p->avg_chunk, p->max_chunk);
		return session_fail(m, CHAN_MUX_E_CHUNK, why);
	}
	if (h->capacity != p->capacity) {
		snprintf(why, sizeof(why), "peer CacheSize %llu bytes, ours %llu: both "
			 "appliances must agree", (unsigned long long)h->capacity,
			 (unsigned long long)p->capacity);
		return session_fail(m, CHAN_MUX_E_CACHE, why);
	}
	/* 0 is the default for the capacity (equal by now): a peer that
	 * leaves it at the default agrees with one that writes it out */
	struct strait_dedupe_params peer = { .capacity = h->capacity, .window_log = h->window_log };
	if (strait_dedupe_window_log(&peer) != strait_dedupe_window_log(p)) {
		snprintf(why, sizeof(why), "peer CacheWindow %llu bytes, ours %llu: both "
			 "appliances must agree", 1ull << strait_dedupe_window_log(&peer),
			 1ull << strait_dedupe_window_log(p));
		return session_fail(m, CHAN_MUX_E_WINDOW, why);
	}
	m->peer_hello = true;
	/* rx: the peer's encoder continues the log our decoder holds, or
	 * starts the epoch its HELLO names (the header empties our log) */
	if (h->tx_state.digest && h->tx_state.epoch == m->rx_held.epoch &&
	    h->tx_state.digest == m->rx_held.digest) {
		m->epoch_rx = h->tx_state.epoch;
		m->st.continued_rx++;
	} else {
		m->epoch_rx = h->epoch;
	}
	/* tx: the same rule, seen from our encoder */
	if (m->cfg.cache_tx) {
		struct strait_dedupe_state our = tx_state(m);

		if (our.digest && h->rx_state.epoch == our.epoch &&
		    h->rx_state.digest == our.digest &&
		    strait_dedupe_encoder_restart(m->enc, &h->rx_state) == 1) {
			m->epoch_tx = our.epoch;
			m->st.continued_tx++;
		} else {
			strait_dedupe_encoder_reset(m->enc, m->epoch_tx);
		}
	}
	return 0;
}

/* The peer's OPEN o for flow id, or with o NULL a whole OPEN whose fields
 * broke the wire's ranges: that flow is refused (policy), the session
 * goes on. */
static int rx_open(struct chan_mux *m, uint32_t id, const struct chan_open *o)
{
	struct chan_flow *f;
	int rc;

	if ((id & 1) == m->cfg.role || (id >> 1) < m->peer_next)
		return session_fail(m, CHAN_MUX_E_FLOW_ID, NULL);
	m->peer_next = (id >> 1) + 1;
	f = flow_alloc(m, id, false);
	if (!f) {
		if (m->nrefusals == REFUSALS_MAX)
			return session_fail(m, CHAN_MUX_E_FLOOD, NULL);
		m->refusals[m->nrefusals].id = id;
		m->refusals[m->nrefusals++].reason = CHAN_REFUSE_BUSY;
		m->st.refused_out++;
		m->st.refused_busy++;
		return 0;
	}
	f->state = FS_ACCEPTING;
	f->credit = o ? o->credit : 0;
	if (!o) {
		m->st.refused_malformed++;
		rc = CHAN_REFUSE_POLICY;
	} else {
		rc = m->ops->open ? m->ops->open(m->ctx, f, o) : CHAN_REFUSE_POLICY;
	}
	if (rc && f->state == FS_ACCEPTING) {
		struct chan_refused r = { .reason = (uint8_t)rc };

		if (rc < CHAN_REFUSE_RST || rc > CHAN_REFUSE_MAX || rc == CHAN_REFUSE_UNREACH)
			r.reason = CHAN_REFUSE_POLICY;
		chan_flow_refuse(f, &r);
	}
	return 0;
}

static void credit_update(struct chan_flow *f)
{
	/* grant again once a quarter of the window has drained */
	if (f->delivered + f->out.size - f->granted >= f->out.size / 4 &&
	    f->rx_state == RX_OPEN && f->state == FS_OPEN)
		ctl_set(f, CTL_CREDIT);
}

static void rx_fin_check(struct chan_flow *f)
{
	struct chan_mux *m = f->m;

	if (f->rx_state != RX_CLOSED || f->delivered != f->decoded)
		return;
	f->rx_state = RX_DONE;
	if (m->ops->fin)
		m->ops->fin(m->ctx, f);
	if (f->state == FS_OPEN)
		maybe_done(f);
}

/* Decoded bytes of flow f: digest, then straight to the local end while
 * nothing waits before them, the rest into the out ring. */
static void deliver(struct chan_flow *f, const uint8_t *p, size_t n)
{
	struct chan_mux *m = f->m;

	XXH3_64bits_update(f->rx_digest, p, n);
	if (f->delivered == f->decoded && m->ops->deliver) {
		size_t k = m->ops->deliver(m->ctx, f, p, n);

		if (k > n)
			k = n;
		f->delivered += k;
		f->decoded += k;
		m->st.lan_out += k;
		p += k;
		n -= k;
	}
	if (n && f->state == FS_OPEN) {
		chan_ring_put(&f->out, f->decoded, p, n);
		f->decoded += n;
	}
	if (f->state == FS_OPEN) {
		ctl_set(f, CTL_DECODED);
		credit_update(f);
	}
}

void chan_flow_drain(struct chan_flow *f)
{
	struct chan_mux *m = f->m;

	while (f->state == FS_OPEN && f->delivered < f->decoded && m->ops->deliver) {
		size_t n = (size_t)(f->decoded - f->delivered), k;
		const uint8_t *p = chan_ring_span(&f->out, f->delivered, &n);

		k = m->ops->deliver(m->ctx, f, p, n);
		if (k > n)
			k = n;
		f->delivered += k;
		m->st.lan_out += k;
		if (k < n)
			break;
	}
	if (f->state == FS_OPEN) {
		credit_update(f);
		rx_fin_check(f);
	}
}

/* Our decoder failed: nothing of the failed record was delivered. Ask the
 * peer to start over from what each flow's DECODED says. */
static void resync(struct chan_mux *m, int cause)
{
	m->st.decode_errors++;
	m->st.resyncs_asked++;
	m->st.last_decode_error = (uint64_t)-(int64_t)cause;
	m->epoch_rx++;
	strait_dedupe_decoder_reset(m->dec);
	m->resync_due = true;
	m->rx_resyncing = true;
	m->resync_cause = (uint16_t)-cause;
}

/* Test knob: flips a bit of the first record's check (format version 1,
 * include/strait/dedupe.h). Returns false when the frame has no record
 * with a check. */
static bool corrupt_check(uint8_t *p, size_t len)
{
	size_t i = 0;
	unsigned varints;

	if (len && p[0] == STRAIT_DEDUPE_REC_HEADER)
		i = STRAIT_DEDUPE_HEADER_SIZE;
	if (i >= len)
		return false;
	switch (p[i]) {
	case STRAIT_DEDUPE_REC_LITERAL_ZSTD:
	case STRAIT_DEDUPE_REC_LITERAL_RAW:
		varints = 3; /* flow, skip, n; then n lengths */
		break;
	case STRAIT_DEDUPE_REC_TENTATIVE_ZSTD:
	case STRAIT_DEDUPE_REC_TENTATIVE_RAW:
		varints = 2;
		break;
	case STRAIT_DEDUPE_REC_REFERENCE:
		varints = 4;
		break;
	default:
		return false;
	}
	i++;
	for (unsigned v = 0; v < varints; v++) {
		uint64_t val = 0;
		unsigned shift = 0;

		while (i < len && shift < 64) {
			val |= (uint64_t)(p[i] & 0x7f) << shift;
			shift += 7;
			if (!(p[i++] & 0x80))
				break;
		}
		if (v == 2 && varints == 3 && val <= STRAIT_DEDUPE_BATCH_CHUNKS)
			varints += (unsigned)val;
	}
	if (i + 4 > len)
		return false;
	p[i] ^= 0x01;
	return true;
}

static void rx_data(struct chan_mux *m, uint32_t id, struct chan_data *d)
{
	struct chan_flow *f = flow_find(m, id);
	size_t used = 0;

	if (d->epoch != m->epoch_rx) {
		m->st.stale_frames++;
		return;
	}
	m->rx_resyncing = false;
	if (m->inject && corrupt_check((uint8_t *)d->records, d->len))
		m->inject--;
	if (f && (f->state == FS_DYING || f->discard))
		f = NULL;
	if (f && (f->state != FS_OPEN || f->rx_state != RX_OPEN || d->offset != f->decoded)) {
		flow_fail(f, CHAN_RESET_PROTOCOL);
		f = NULL;
	}
	if (!f)
		m->st.stale_frames++;
	for (;;) {
		struct strait_dedupe_segment sg[SEGS];
		struct strait_dedupe_decode_result r;
		unsigned ns = 0;
		size_t room = f ? (size_t)(f->granted - f->decoded) : DISCARD_CHUNK;
		int rc = strait_dedupe_decode_segments(m->dec, d->records + used,
						       d->len - used, room, sg, SEGS,
						       &ns, &r);

		used += r.in_used;
		if (rc >= 0 && r.epoch != m->epoch_rx)
			rc = STRAIT_DEDUPE_E_HEADER;
		if (r.out_len && r.flow != id)
			rc = rc < 0 ? rc : STRAIT_DEDUPE_E_RANGE; /* records of another flow */
		else if (f) {
			for (unsigned i = 0; i < ns && f && f->state == FS_OPEN; i++)
				deliver(f, sg[i].p, sg[i].len);
			if (f->state != FS_OPEN)
				f = NULL;
		}
		if (rc < 0) {
			resync(m, rc);
			return;
		}
		if (rc == 0)
			break;
		if (f && !r.out_len && room == 0) {
			/* output pending past the credit we granted */
			flow_fail(f, CHAN_RESET_PROTOCOL);
			f = NULL;
		}
	}
	if (strait_dedupe_decode_finish(m->dec))
		resync(m, STRAIT_DEDUPE_E_TRUNCATED);
}

static void rx_close(struct chan_mux *m, struct chan_flow *f, const struct chan_close *c)
{
	if (f->rx_state == RX_OPEN && c->total > f->decoded && m->rx_resyncing)
		return; /* sent before the peer heard our RESYNC: it comes again */
	if (f->rx_state != RX_OPEN || c->total != f->decoded) {
		flow_fail(f, CHAN_RESET_PROTOCOL);
		return;
	}
	if (XXH3_64bits_digest(f->rx_digest) != c->digest) {
		flow_fail(f, CHAN_RESET_DIGEST);
		return;
	}
	f->rx_state = RX_CLOSED;
	rx_fin_check(f);
}

static int rx_resync(struct chan_mux *m, const struct chan_resync *r)
{
	if (r->epoch != m->epoch_tx + 1)
		return session_fail(m, CHAN_MUX_E_RESYNC, NULL);
	m->epoch_tx = r->epoch;
	m->st.resyncs_done++;
	strait_dedupe_encoder_reset(m->enc, r->epoch);
	for (uint32_t i = 0; i < m->cfg.max_flows; i++) {
		struct chan_flow *f = &m->flows[i];

		if (f->state != FS_OPEN)
			continue;
		m->st.resent_bytes += f->fed - f->acked;
		f->fed = f->sent = f->acked;
		strait_dedupe_flow_init(f->chunker, m->chunker_size, &m->cfg.codec, f->id);
		f->flushed = false;
		if (f->tx_state == TX_CLOSED && f->acked != f->accepted)
			f->tx_state = TX_FIN;
		if (f->tx_state == TX_FIN)
			f->ctl &= (uint8_t)~CTL_CLOSE;
		if (f->fed < f->accepted || f->tx_state == TX_FIN)
			tx_wake(f);
	}
	return 0;
}

static int rx_frame(struct chan_mux *m, struct chan_frame *fr)
{
	struct chan_flow *f;

	if (fr->type == CHAN_HELLO)
		return rx_hello(m, &fr->hello);
	if (!m->peer_hello)
		return session_fail(m, CHAN_MUX_E_NO_HELLO, NULL);
	switch (fr->type) {
	case CHAN_OPEN:
		return rx_open(m, fr->flow, &fr->open);
	case CHAN_DATA:
		rx_data(m, fr->flow, &fr->data);
		return 0;
	case CHAN_RESYNC:
		return rx_resync(m, &fr->resync);
	}
	f = flow_find(m, fr->flow);
	if (!f || f->state == FS_DYING) {
		m->st.stale_frames++;
		return 0;
	}
	switch (fr->type) {
	case CHAN_OPENED:
		if (f->state != FS_OPENING) {
			flow_fail(f, CHAN_RESET_PROTOCOL);
			break;
		}
		f->state = FS_OPEN;
		f->credit = fr->value;
		if (m->ops->opened)
			m->ops->opened(m->ctx, f);
		if (f->state == FS_OPEN && (f->fed < f->accepted || f->tx_state == TX_FIN))
			tx_wake(f);
		break;
	case CHAN_REFUSED:
		if (f->state != FS_OPENING) {
			flow_fail(f, CHAN_RESET_PROTOCOL);
			break;
		}
		if (fr->refused.reason == CHAN_REFUSE_UNREACH &&
		    fr->refused.icmp_type != (f->open.af == 4 ? 3 : 1)) {
			memset(&fr->refused, 0, sizeof(fr->refused));
			fr->refused.reason = CHAN_REFUSE_SILENT;
		}
		m->st.refused_in++;
		if (m->ops->refused)
			m->ops->refused(m->ctx, f, &fr->refused);
		flow_free(f);
		break;
	case CHAN_CREDIT:
		if (f->state != FS_OPEN || fr->value < f->credit) {
			flow_fail(f, CHAN_RESET_PROTOCOL);
			break;
		}
		f->credit = fr->value;
		if (f->stalled) {
			f->stalled = false;
			tx_wake(f);
		}
		break;
	case CHAN_DECODED:
		if (f->state != FS_OPEN || fr->value < f->acked || fr->value > f->sent) {
			flow_fail(f, CHAN_RESET_PROTOCOL);
			break;
		}
		m->st.acked += fr->value - f->acked;
		m->st.raw_held -= fr->value - f->acked;
		f->acked = fr->value;
		if (f->want_room && chan_flow_room(f)) {
			f->want_room = false;
			m->st.held_flows--;
			if (m->ops->writable)
				m->ops->writable(m->ctx, f);
		}
		if (f->state == FS_OPEN)
			maybe_done(f);
		break;
	case CHAN_CLOSE:
		if (f->state != FS_OPEN) {
			flow_fail(f, CHAN_RESET_PROTOCOL);
			break;
		}
		rx_close(m, f, &fr->close);
		break;
	case CHAN_RESET:
		m->st.resets_in++;
		flow_reset_local(f, (unsigned)fr->value);
		break;
	}
	return 0;
}

/* Parses and handles the complete frames at the start of p[0..n); returns
 * the bytes they took, or a session error. */
static long rx_frames(struct chan_mux *m, const uint8_t *p, size_t n)
{
	size_t pos = 0;

	while (!m->err) {
		struct chan_frame fr = { .type = 0 };
		long len = chan_frame_parse(p + pos, n - pos, &fr);

		if ((len == CHAN_E_FIELD || len == CHAN_E_RESERVED) && fr.type == CHAN_OPEN) {
			/* whole, and it names its flow: refuse that flow only */
			if (!m->peer_hello)
				return session_fail(m, CHAN_MUX_E_NO_HELLO, NULL);
			rx_open(m, fr.flow, NULL);
			pos += CHAN_HEADER_SIZE + CHAN_OPEN_SIZE;
			continue;
		}
		if (len < 0) {
			char why[80];

			snprintf(why, sizeof(why), "%s (frame type %u)",
				 chan_wire_strerror((int)len), p[pos]);
			return session_fail(m, (int)len, why);
		}
		if (!len)
			break;
		rx_frame(m, &fr);
		pos += (size_t)len;
	}
	return m->err ? m->err : (long)pos;
}

int chan_mux_rx(struct chan_mux *m, const uint8_t *p, size_t n)
{
	if (m->err || !m->started)
		return m->err;
	m->st.wan_in += n;
	/* whole frames straight from the caller's bytes when nothing is
	 * staged (not with the test knob: it writes into the records) */
	if (!m->rx_len && !m->inject) {
		long used = rx_frames(m, p, n);

		if (used < 0)
			return (int)used;
		p += used;
		n -= (size_t)used;
	}
	while (n) {
		size_t k = CHAN_FRAME_MAX - m->rx_len;
		long used;

		if (k > n)
			k = n;
		memcpy(m->rxbuf + m->rx_len, p, k);
		m->rx_len += k;
		p += k;
		n -= k;
		used = rx_frames(m, m->rxbuf, m->rx_len);
		if (used < 0)
			return (int)used;
		memmove(m->rxbuf, m->rxbuf + used, m->rx_len - (size_t)used);
		m->rx_len -= (size_t)used;
	}
	return 0;
}

/* ---- tx: frames to the peer ---- */

static size_t put_frame(uint8_t *out, size_t cap, struct chan_frame *fr, struct chan_mux *m)
{
	size_t n = chan_frame_write(out, cap, fr);

	m->st.wan_out += n;
	return n;
}

/* Writes f's due control frames; false when out of room (f keeps the
 * rest). */
static bool tx_control(struct chan_mux *m, struct chan_flow *f, uint8_t *out,
		       size_t cap, size_t *n)
{
	while (f->ctl && f->state != FS_FREE) {
		struct chan_frame fr = { .flow = f->id };
		unsigned bit = f->ctl & -f->ctl;

		if (cap - *n < CHAN_CONTROL_MAX)
			return false;
		switch (bit) {
		case CTL_OPEN:
			fr.type = CHAN_OPEN;
			fr.open = f->open;
			fr.open.credit = f->granted;
			break;
		case CTL_OPENED:
			fr.type = CHAN_OPENED;
			fr.value = f->granted = f->delivered + f->out.size;
			break;
		case CTL_REFUSED:
			fr.type = CHAN_REFUSED;
			fr.refused = f->refusal;
			break;
		case CTL_DECODED:
			fr.type = CHAN_DECODED;
			fr.value = f->decoded;
			break;
		case CTL_CREDIT:
			fr.type = CHAN_CREDIT;
			fr.value = f->granted = f->delivered + f->out.size;
			break;
		case CTL_CLOSE:
			fr.type = CHAN_CLOSE;
			fr.close.total = f->accepted;
			fr.close.digest = XXH3_64bits_digest(f->tx_digest);
			break;
		case CTL_RESET:
			fr.type = CHAN_RESET;
			fr.value = f->reset_reason;
			break;
		}
		f->ctl &= (uint8_t)~bit;
		if (bit == CTL_DECODED) {
			if (f->decoded == f->decoded_sent)
				continue;
			f->decoded_sent = f->decoded;
		}
		*n += put_frame(out + *n, cap - *n, &fr, m);
		if (bit == CTL_REFUSED || bit == CTL_RESET) {
			m->st.resets_out += bit == CTL_RESET;
			flow_free(f);
			return true;
		}
	}
	maybe_done(f);
	return true;
}

enum tx_result { TX_IDLE, TX_MORE, TX_FULL };

/* The DATA frame last written to the caller's buffer: a flow's next turn
 * in the same buffer extends it (one header, and a turn that ends a run of
 * references costs less). */
struct open_frame {
	size_t at;        /* its offset in out; SIZE_MAX: none */
	uint32_t flow;
	uint32_t len;     /* records so far */
	uint64_t offset;
};

/* One turn of flow f: encode up to a quantum of its raw bytes within its
 * credit and the room left (CLOSE after the last).
 *
 * Credit: the records of one encode call decode to at most the chunker's
 * partial chunk plus the input, so the input is cut to the credit left
 * beyond the partial chunk and the encoder never has to split a chunk
 * into a tentative record for lack of credit (those bytes would not be
 * deduplicated). With less credit than a partial chunk and a chunk of
 * input the flow waits: the peer's window is at least 4 chunks, so the
 * wait ends once it has delivered what it holds. */
static enum tx_result tx_data(struct chan_mux *m, struct chan_flow *f, uint8_t *out,
			      size_t cap, size_t *n, struct open_frame *of)
{
	struct strait_dedupe_encode_result r;
	enum strait_dedupe_mode mode = STRAIT_DEDUPE_CONTINUE;
	size_t head = CHAN_HEADER_SIZE + CHAN_DATA_HEAD, room, in_len, min_in;
	uint64_t avail = f->accepted - f->fed, budget = f->credit - f->sent;
	uint32_t maxc = m->cfg.codec.max_chunk;
	size_t pend = strait_dedupe_flow_pending(f->chunker);
	bool extend;
	const uint8_t *in;
	int rc;

	if (f->state != FS_OPEN || f->tx_state == TX_CLOSED)
		return TX_IDLE;
	if (!avail && f->tx_state != TX_FIN && !(f->flush_due && pend))
		return TX_IDLE;
	if (budget < pend + (avail < maxc ? avail : maxc)) {
		m->st.credit_stalls++;
		f->stalled = true;
		return TX_IDLE;
	}
	extend = of->at != SIZE_MAX && of->flow == f->id &&
		 of->at + head + of->len == *n;
	if (extend)
		room = CHAN_RECORDS_MAX - of->len;
	else
		room = CHAN_RECORDS_MAX;
	if (cap - *n < room + (extend ? 0 : head))
		room = cap - *n > head ? cap - *n - (extend ? 0 : head) : 0;
	in_len = avail < m->cfg.quantum ? (size_t)avail : m->cfg.quantum;
	if (in_len > budget - pend)
		in_len = (size_t)(budget - pend);
	in = chan_ring_span(&f->raw, f->fed, &in_len);
	/* what fits the room, but not slivers: a turn takes 4 KiB (or all
	 * there is), else the room counts as full (the encoder's bound has a
	 * fixed part: a room just above it would take a few bytes a turn) */
	min_in = in_len < 4096 ? in_len : 4096;
	while (in_len > min_in && strait_dedupe_encode_bound(m->enc, in_len) > room)
		in_len = in_len / 2 > min_in ? in_len / 2 : min_in;
	if (strait_dedupe_encode_bound(m->enc, in_len) > room) {
		m->st.room_stalls++;
		return TX_FULL;
	}
	if (in_len == avail) {
		if (f->tx_state == TX_FIN)
			mode = STRAIT_DEDUPE_END;
		else if (f->flush_due)
			mode = STRAIT_DEDUPE_FLUSH;
	}
	rc = strait_dedupe_encode(m->enc, f->chunker, in, in_len, mode, budget,
				  out + *n + (extend ? 0 : head), room, &r);
	if (rc) {
		session_fail(m, CHAN_MUX_E_ENCODER, NULL);
		return TX_FULL;
	}
	if (r.out_len) {
		if (!extend) {
			*of = (struct open_frame){ *n, f->id, 0, f->sent };
			*n += head;
			m->st.wan_out += head;
		}
		of->len += (uint32_t)r.out_len;
		chan_data_head_write(out + of->at, f->id, m->epoch_tx, of->offset, of->len);
		*n += r.out_len;
		m->st.wan_out += r.out_len;
		m->st.records_out += r.out_len;
		m->st.encoded_bytes += r.decoded;
	}
	f->fed += r.in_used;
	f->sent += r.decoded;
	if (mode == STRAIT_DEDUPE_FLUSH) {
		m->st.flushes += f->flush_due && pend;
		f->flushed = true;
		f->flush_due = false;
	}
	if (f->fed == f->accepted && f->tx_state == TX_FIN &&
	    !strait_dedupe_flow_pending(f->chunker)) {
		f->tx_state = TX_CLOSED;
		ctl_set(f, CTL_CLOSE);
		return TX_IDLE;
	}
	if (f->fed == f->accepted && mode == STRAIT_DEDUPE_CONTINUE &&
	    strait_dedupe_flow_pending(f->chunker) && !f->flushed)
		flush_arm(m, f);
	if (f->fed < f->accepted || f->tx_state == TX_FIN)
		return TX_MORE;
	return TX_IDLE;
}

/* Every 100 ms: the drain rate, an average over about a second. */
static void drain_sample(struct chan_mux *m)
{
	uint64_t dt = m->now - m->drain_at;

	if (dt < 100000)
		return;
	m->drain_bps += ((double)(m->st.acked - m->drain_acked) * 1e6 / (double)dt -
			 m->drain_bps) / 8;
	m->drain_at = m->now;
	m->drain_acked = m->st.acked;
}

size_t chan_mux_tx(struct chan_mux *m, uint8_t *out, size_t cap, uint64_t now_us)
{
	struct open_frame of = { .at = SIZE_MAX };
	size_t n = 0;

	m->now = now_us;
	drain_sample(m);
	if (!m->started || m->err)
		return 0;
	if (!m->hello_sent) {
		struct chan_frame fr = { .type = CHAN_HELLO };
		const struct strait_dedupe_params *p = &m->cfg.codec;

		fr.hello = (struct chan_hello){
			.version = CHAN_VERSION, .tenant = m->cfg.tenant,
			.epoch = m->epoch_tx, .codec_version = STRAIT_DEDUPE_VERSION,
			.min_chunk = p->min_chunk, .avg_chunk = p->avg_chunk,
			.max_chunk = p->max_chunk, .capacity = p->capacity,
			.tx_state = tx_state(m), .rx_state = m->rx_held,
			/* the default as 0: what a peer from before the
			 * field takes (it was reserved) */
			.window_log = (uint8_t)(p->window_log == strait_dedupe_window_log_max(p->capacity)
						? 0 : p->window_log),
		};
		if (cap < CHAN_HEADER_SIZE + CHAN_HELLO_SIZE)
			return 0;
		n += put_frame(out, cap, &fr, m);
		m->hello_sent = true;
	}
	if (!m->peer_hello)
		return n;
	flush_expire(m);
	while (m->ctlq.len) {
		struct chan_flow *f = &m->flows[m->ctlq.v[m->ctlq.head]];

		if (!tx_control(m, f, out, cap, &n))
			return n;
		ring_pop(&m->ctlq);
		f->in_ctlq = false;
	}
	while (m->nrefusals) {
		struct chan_frame fr = { .type = CHAN_REFUSED };

		if (cap - n < CHAN_CONTROL_MAX)
			return n;
		fr.flow = m->refusals[m->nrefusals - 1].id;
		fr.refused.reason = m->refusals[--m->nrefusals].reason;
		n += put_frame(out + n, cap - n, &fr, m);
	}
	if (m->resync_due) {
		struct chan_frame fr = { .type = CHAN_RESYNC };

		if (cap - n < CHAN_CONTROL_MAX)
			return n;
		fr.resync.epoch = m->epoch_rx;
		fr.resync.cause = m->resync_cause;
		n += put_frame(out + n, cap - n, &fr, m);
		m->resync_due = false;
	}
	/* round robin, a quantum per turn; every TX_MORE made progress, so
	 * this ends when the input, the credit or the room runs out */
	while (m->txq.len) {
		struct chan_flow *f = &m->flows[m->txq.v[m->txq.head]];
		enum tx_result r = tx_data(m, f, out, cap, &n, &of);

		if (r == TX_FULL)
			break;
		ring_pop(&m->txq);
		f->in_txq = false;
		if (r == TX_MORE)
			tx_wake(f);
		/* a CLOSE queued by the turn goes right after its DATA (its
		 * ctlq entry is skipped once f->ctl is 0) */
		if (f->ctl == CTL_CLOSE && cap - n >= CHAN_CONTROL_MAX)
			tx_control(m, f, out, cap, &n);
	}
	return n;
}

bool chan_mux_tx_pending(const struct chan_mux *m)
{
	if (!m->started || m->err)
		return false;
	return !m->hello_sent || (m->peer_hello && (m->ctlq.len || m->txq.len ||
		m->nrefusals || m->resync_due));
}

uint64_t chan_mux_next_timer(const struct chan_mux *m)
{
	return m->fq_len ? m->flushq[m->fq_head].at : UINT64_MAX;
}

/* ---- flows: the caller's side ---- */

struct chan_flow *chan_flow_open(struct chan_mux *m, const struct chan_open *o, void *user)
{
	struct chan_flow *f;

	if (!chan_mux_up(m)) {
		errno = ENOTCONN;
		return NULL;
	}
	f = flow_alloc(m, m->next_id << 1 | m->cfg.role, true);
	if (!f) {
		errno = ENOSPC;
		return NULL;
	}
	m->next_id++;
	f->state = FS_OPENING;
	f->user = user;
	f->open = *o;
	f->granted = f->out.size;
	m->st.opened++;
	ctl_set(f, CTL_OPEN);
	return f;
}

void chan_flow_accept(struct chan_flow *f)
{
	if (f->state != FS_ACCEPTING)
		return;
	f->state = FS_OPEN;
	f->m->st.accepted++;
	ctl_set(f, CTL_OPENED);
	if (f->fed < f->accepted)
		tx_wake(f);
}

void chan_flow_refuse(struct chan_flow *f, const struct chan_refused *r)
{
	struct chan_mux *m = f->m;

	if (f->state != FS_ACCEPTING)
		return;
	m->st.refused_out++;
	m->st.refused_policy += r->reason == CHAN_REFUSE_POLICY;
	m->st.refused_busy += r->reason == CHAN_REFUSE_BUSY;
	f->refusal = *r;
	f->user = NULL;
	f->state = FS_DYING;
	f->ctl = 0;
	ctl_set(f, CTL_REFUSED);
}

size_t chan_flow_room(const struct chan_flow *f)
{
	if (f->state != FS_OPEN || f->tx_state != TX_OPEN)
		return 0;
	return f->raw.size - (size_t)(f->accepted - f->acked);
}

uint8_t *chan_flow_wbuf(struct chan_flow *f, size_t *n)
{
	size_t room = chan_flow_room(f);

	if (*n > room) {
		*n = room;
		f->m->st.held_flows += !f->want_room;
		f->want_room = true;
	}
	return (uint8_t *)chan_ring_span(&f->raw, f->accepted, n);
}

void chan_flow_commit(struct chan_flow *f, size_t n)
{
	struct chan_mux *m = f->m;
	size_t run = n;
	const uint8_t *p = chan_ring_span(&f->raw, f->accepted, &run);

	if (!n || n > chan_flow_room(f) || run < n)
		return;
	XXH3_64bits_update(f->tx_digest, p, n);
	f->accepted += n;
	f->last_input = m->now;
	f->flushed = false;
	m->st.lan_in += n;
	m->st.raw_held += n;
	if (!f->stalled)
		tx_wake(f);
}

size_t chan_flow_write(struct chan_flow *f, const void *p, size_t n)
{
	size_t done = 0;

	while (done < n) {
		size_t k = n - done;
		uint8_t *b = chan_flow_wbuf(f, &k);

		if (!k)
			break;
		memcpy(b, (const uint8_t *)p + done, k);
		chan_flow_commit(f, k);
		done += k;
	}
	return done;
}

void chan_flow_fin(struct chan_flow *f)
{
	if (f->state != FS_OPEN || f->tx_state != TX_OPEN)
		return;
	f->tx_state = TX_FIN;
	if (!f->stalled || f->fed == f->accepted)
		tx_wake(f);
}

void chan_flow_reset(struct chan_flow *f, unsigned reason)
{
	if (f->state == FS_FREE || f->state == FS_DYING)
		return;
	if (reason < CHAN_RESET_RST || reason > CHAN_RESET_MAX)
		reason = CHAN_RESET_ABORT;
	f->user = NULL;
	if (f->state == FS_ACCEPTING) {
		struct chan_refused r = { .reason = CHAN_REFUSE_RST };

		chan_flow_refuse(f, &r);
		return;
	}
	f->state = FS_DYING;
	f->discard = true;
	f->reset_reason = (uint8_t)reason;
	f->ctl = 0;
	ctl_set(f, CTL_RESET);
}

uint32_t chan_flow_id(const struct chan_flow *f)
{
	return f->id;
}

bool chan_flow_peer_opened(const struct chan_flow *f)
{
	return !f->opener;
}

bool chan_flow_is_open(const struct chan_flow *f)
{
	return f->state == FS_OPEN;
}

void *chan_flow_user(const struct chan_flow *f)
{
	return f->user;
}

void chan_flow_set_user(struct chan_flow *f, void *user)
{
	f->user = user;
}

size_t chan_flow_undelivered(const struct chan_flow *f)
{
	return (size_t)(f->decoded - f->delivered);
}

void chan_mux_stats(const struct chan_mux *m, struct chan_mux_stats *s)
{
	struct strait_dedupe_cache_stats cs;

	*s = m->st;
	strait_dedupe_encoder_stats(m->enc, &cs);
	s->cache_hits = cs.hits;
	s->cache_misses = cs.misses;
	s->epoch_tx = m->epoch_tx;
	s->epoch_rx = m->epoch_rx;
	s->drain_bps = (uint64_t)m->drain_bps;
	if (!s->raw_held)
		s->lag_us = 0;
	else if (s->drain_bps)
		s->lag_us = (uint64_t)((double)s->raw_held * 1e6 / m->drain_bps);
	else
		s->lag_us = UINT64_MAX;
}

void chan_mux_inject_check_failure(struct chan_mux *m, unsigned n)
{
	m->inject = n;
}
