/* SPDX-License-Identifier: BSD-3-Clause */
/* pair.c - two muxes back to back (see pair.h). */
#include "pair.h"

#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

void buf_put(struct buf *b, const void *p, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2 + 64;
		b->p = realloc(b->p, b->cap);
		cr_assert(b->p);
	}
	if (n)
		memcpy(b->p + b->len, p, n);
	b->len += n;
}

void buf_free(struct buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

void fill_random(uint8_t *p, size_t n, uint64_t seed)
{
	uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;

	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (uint8_t)(x >> 24);
	}
}

static struct end *end_of(struct chan_flow *f)
{
	return chan_flow_user(f);
}

static struct end *end_new(struct pair *p, int side)
{
	struct end *e;

	cr_assert_lt(p->nends, PAIR_ENDS);
	e = &p->ends[p->nends];
	memset(e, 0, sizeof(*e));
	e->pr = p;
	e->side = side;
	e->peer = -1;
	e->sink_cap = SIZE_MAX;
	p->nends++;
	return e;
}

static int cb_open(void *ctx, struct chan_flow *f, const struct chan_open *o)
{
	struct pair *p = ctx;
	struct end *e = end_new(p, 1);

	e->open = *o;
	e->f = f;
	e->sink_cap = p->server_sink_cap;
	e->src = p->reply;
	e->src_len = p->reply_len;
	e->fin_after = p->reply_fin;
	/* the client's port names its end at A (pair_open) */
	e->peer = o->client_port - 1000;
	p->ends[e->peer].peer = (int)(e - p->ends);
	chan_flow_set_user(f, e);
	if (p->refuse) {
		e->refused = true;
		e->f = NULL;
		return p->refuse;
	}
	if (!p->defer_accept) {
		chan_flow_accept(f);
		e->opened = true;
	}
	return 0;
}

static void cb_opened(void *ctx, struct chan_flow *f)
{
	end_of(f)->opened = true;
}

static void cb_refused(void *ctx, struct chan_flow *f, const struct chan_refused *r)
{
	struct end *e = end_of(f);

	e->refused = true;
	e->refusal = *r;
	e->f = NULL;
}

static size_t cb_deliver(void *ctx, struct chan_flow *f, const uint8_t *b, size_t n)
{
	struct end *e = end_of(f);

	cr_assert(e, "delivery to a released flow");
	if (n > e->sink_cap)
		n = e->sink_cap;
	buf_put(&e->got, b, n);
	return n;
}

static void cb_fin(void *ctx, struct chan_flow *f)
{
	struct end *e = end_of(f);

	cr_assert(!e->got_fin, "FIN twice");
	e->got_fin = true;
}

static void cb_writable(void *ctx, struct chan_flow *f)
{
}

static void cb_reset(void *ctx, struct chan_flow *f, unsigned reason)
{
	struct end *e = end_of(f);

	if (!e)
		return;
	e->got_reset = true;
	e->reset_reason = reason;
	e->f = NULL;
}

static void cb_done(void *ctx, struct chan_flow *f)
{
	struct end *e = end_of(f);

	e->done = true;
	e->f = NULL;
}

static const struct chan_mux_ops ops = {
	.open = cb_open, .opened = cb_opened, .refused = cb_refused,
	.deliver = cb_deliver, .fin = cb_fin, .writable = cb_writable,
	.reset = cb_reset, .done = cb_done,
};

static void side_init(struct pair *p, int i, const struct chan_mux_config *c)
{
	struct chan_mux_config cfg = { 0 };
	struct side *s = &p->s[i];

	if (c) {
		cfg = *c;
	} else {
		cfg.codec.capacity = 4u << 20;
		cfg.max_flows = 128;
		cfg.raw_window = 1u << 20;
		cfg.out_window = 512u << 10;
	}
	cfg.role = i ? CHAN_ROLE_ACCEPT : CHAN_ROLE_CONNECT;
	chan_mux_config_defaults(&cfg);
	s->size = chan_mux_size(&cfg);
	cr_assert(s->size, "config refused");
	s->mem = aligned_alloc(64, (s->size + 63) & ~(size_t)63);
	cr_assert(s->mem);
	s->m = chan_mux_init(s->mem, s->size, &cfg, &ops, p);
	cr_assert(s->m);
}

void pair_init(struct pair *p, const struct chan_mux_config *a,
	       const struct chan_mux_config *b)
{
	memset(p, 0, sizeof(*p));
	side_init(p, 0, a);
	side_init(p, 1, b ? b : a);
	p->now = 1000000;
	p->room = 4u << 20;
	p->piece = SIZE_MAX;
	p->tick_us = 100;
	p->server_sink_cap = SIZE_MAX;
	chan_mux_start(p->s[0].m, p->now);
	chan_mux_start(p->s[1].m, p->now);
}

void pair_fini(struct pair *p)
{
	for (unsigned i = 0; i < p->nends; i++)
		buf_free(&p->ends[i].got);
	for (int i = 0; i < 2; i++) {
		chan_mux_reset(p->s[i].m);
		free(p->s[i].mem);
		buf_free(&p->s[i].pipe_out);
	}
	free(p->out);
}

int pair_open(struct pair *p, const uint8_t *src, size_t len, bool fin)
{
	struct end *e = end_new(p, 0);
	int idx = (int)(e - p->ends);
	struct chan_open o = { .af = 4, .client_port = (uint16_t)(1000 + idx),
			       .server_port = 873, .client = { 198, 18, 0, 1 },
			       .server = { 198, 18, 1, 1 } };

	e->src = src;
	e->src_len = len;
	e->fin_after = fin;
	e->f = chan_flow_open(p->s[0].m, &o, e);
	cr_assert(e->f, "open failed");
	return idx;
}

struct end *pair_peer(struct pair *p, int i)
{
	return p->ends[i].peer >= 0 ? &p->ends[p->ends[i].peer] : NULL;
}

bool pair_step(struct pair *p)
{
	bool moved = false;
	uint8_t *out;

	if (p->out_cap < p->room) {
		free(p->out);
		p->out = malloc(p->room);
		p->out_cap = p->room;
	}
	out = p->out;

	for (unsigned i = 0; i < p->nends; i++) {
		struct end *e = &p->ends[i];

		if (!e->f || !(e->opened))
			continue;
		if (e->src_off < e->src_len) {
			size_t k = chan_flow_write(e->f, e->src + e->src_off,
						   e->src_len - e->src_off);

			e->src_off += k;
			moved |= k > 0;
		}
		if (e->f && e->src_off == e->src_len && e->fin_after && !e->fin_sent) {
			chan_flow_fin(e->f);
			e->fin_sent = true;
			moved = true;
		}
		if (e->f && e->sink_cap && chan_flow_undelivered(e->f)) {
			size_t before = e->got.len;

			chan_flow_drain(e->f);
			moved |= e->got.len != before;
		}
	}
	for (int i = 0; i < 2; i++) {
		size_t n = chan_mux_tx(p->s[i].m, out, p->room, p->now);

		buf_put(&p->s[i].pipe_out, out, n);
		if (p->record[i])
			buf_put(p->record[i], out, n);
		moved |= n > 0;
	}
	for (int i = 0; i < 2; i++) {
		struct buf *b = &p->s[i].pipe_out;
		size_t pos = 0;

		while (pos < b->len && !p->rx_err[!i]) {
			size_t k = b->len - pos < p->piece ? b->len - pos : p->piece;

			p->rx_err[!i] = chan_mux_rx(p->s[!i].m, b->p + pos, k);
			pos += k;
		}
		moved |= b->len > 0;
		b->len = 0;
	}
	for (int i = 0; i < 2; i++) {
		struct chan_mux_stats st;

		chan_mux_stats(p->s[i].m, &st);
		if (st.raw_held > p->max_raw_held)
			p->max_raw_held = st.raw_held;
	}
	for (unsigned i = 0; i < p->nends; i++) {
		struct end *e = &p->ends[i];

		if (e->f && chan_flow_undelivered(e->f) > p->max_undelivered)
			p->max_undelivered = chan_flow_undelivered(e->f);
	}
	p->now += p->tick_us;
	return moved;
}

unsigned pair_run(struct pair *p, unsigned max)
{
	unsigned steps = 0, idle = 0;

	/* a few idle steps in a row: flush timers get their turn */
	while (steps < max && idle < 30) {
		idle = pair_step(p) ? 0 : idle + 1;
		steps++;
	}
	return steps;
}
