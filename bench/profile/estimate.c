/* SPDX-License-Identifier: BSD-3-Clause */
#include "estimate.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

void est_init(struct estimate *E, bool codec, double flush)
{
	memset(E, 0, sizeof(*E));
	E->codec = codec;
	E->flush = flush;
}

int est_add_group(struct estimate *E, const char *name, int tenant, uint64_t cache,
		  uint64_t window)
{
	struct group *g = realloc(E->g, (E->n + 1) * sizeof(*g));
	if (!g)
		return -ENOMEM;
	E->g = g;
	g = &E->g[E->n];
	memset(g, 0, sizeof(*g));
	snprintf(g->name, sizeof(g->name), "%s", name);
	g->tenant = tenant;
	strait_dedupe_params_default(&g->p);
	if (cache)
		g->p.capacity = cache;
	g->p.window_log = window ? (uint32_t)__builtin_ctzll(window) : 0;
	if (strait_dedupe_params_check(&g->p))
		return -EINVAL;
	E->n++;
	return 0;
}

void est_free(struct estimate *E)
{
	for (unsigned i = 0; i < E->n; i++)
		for (int d = 0; d < 2; d++) {
			struct est_dir *ed = &E->g[i].d[d];
			if (ed->mem)
				munmap(ed->mem, ed->mem_size);
			tl_free(&ed->raw_tl);
			tl_free(&ed->strait_tl);
		}
	free(E->g);
	free(E->out);
	memset(E, 0, sizeof(*E));
}

__attribute__((format(printf, 2, 3)))
static void fail(struct estimate *E, const char *fmt, ...)
{
	va_list ap;
	if (E->err[0])
		return; /* the first error is the one to report */
	va_start(ap, fmt);
	vsnprintf(E->err, sizeof(E->err), fmt, ap);
	va_end(ap);
}

static void set_active(struct estimate *E, struct flow_dir *fd, bool on)
{
	if (fd->active == on)
		return;
	fd->active = on;
	if (on) {
		fd->act_prev = NULL;
		fd->act_next = E->active;
		if (E->active)
			E->active->act_prev = fd;
		E->active = fd;
	} else {
		if (fd->act_prev)
			fd->act_prev->act_next = fd->act_next;
		else
			E->active = fd->act_next;
		if (fd->act_next)
			fd->act_next->act_prev = fd->act_prev;
		fd->act_prev = fd->act_next = NULL;
	}
}

/* The encoder of a group direction, set up on its first byte: the cache
 * is mapped, so pages are only touched as the log fills. */
static struct strait_dedupe_encoder *encoder(struct estimate *E, struct group *g,
					     struct est_dir *ed)
{
	if (ed->e)
		return ed->e;
	size_t n = strait_dedupe_encoder_size(&g->p);
	void *mem = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (mem == MAP_FAILED) {
		fail(E, "cannot map the cache of %s: %s", g->name, strerror(errno));
		return NULL;
	}
	ed->e = strait_dedupe_encoder_init(mem, n, &g->p, 1);
	if (!ed->e) {
		munmap(mem, n);
		fail(E, "cannot set up the encoder of %s", g->name);
		return NULL;
	}
	ed->mem = mem;
	ed->mem_size = n;
	return ed->e;
}

/* Encodes fd's stage with mode, at capture time now. */
static void encode(struct estimate *E, struct flow_dir *fd, enum strait_dedupe_mode mode,
		   double now)
{
	struct group *g = &E->g[fd->flow->group];
	struct est_dir *ed = &g->d[fd->dir];
	struct strait_dedupe_encode_result r;
	struct strait_dedupe_encoder *e;

	if (E->err[0] || !(e = encoder(E, g, ed)))
		return;
	if (!fd->cf) {
		size_t n = strait_dedupe_flow_size(&g->p);
		void *mem = malloc(n);
		if (!mem) {
			fail(E, "out of memory for a flow of %s", g->name);
			return;
		}
		fd->cf = strait_dedupe_flow_init(mem, n, &g->p, ed->next_id++);
		ed->runs++;
		fd->runs++;
	}
	size_t need = strait_dedupe_encode_bound(e, fd->staged);
	if (need > E->out_cap) {
		uint8_t *o = realloc(E->out, need);
		if (!o) {
			fail(E, "out of memory for the encoder output of %s", g->name);
			return;
		}
		E->out = o;
		E->out_cap = need;
	}
	int rc = strait_dedupe_encode(e, fd->cf, fd->stage, fd->staged, mode, UINT64_MAX,
				      E->out, E->out_cap, &r);
	if (rc || r.in_used != fd->staged) {
		fail(E, "the encoder of %s failed: %s", g->name, strait_dedupe_strerror(rc));
		return;
	}
	struct strait_dedupe_cache_stats cs;
	strait_dedupe_encoder_stats(e, &cs);
	fd->hits += cs.hits - ed->cs.hits;
	fd->misses += cs.misses - ed->cs.misses;
	ed->cs = cs;
	fd->staged = 0;
	fd->partial = mode == STRAIT_DEDUPE_CONTINUE && strait_dedupe_flow_pending(fd->cf);
	if (r.out_len) {
		uint64_t s = r.out_len + EST_FRAME_OVERHEAD;
		fd->codec_bytes += r.out_len;
		fd->frames++;
		ed->codec += r.out_len;
		ed->strait += s;
		ed->frames++;
		tl_add(&ed->strait_tl, now, s);
	}
}

void est_data(struct estimate *E, struct flow_dir *fd, double now,
	      const uint8_t *p, size_t len)
{
	struct est_dir *ed = &E->g[fd->flow->group].d[fd->dir];
	ed->raw += len;
	tl_add(&ed->raw_tl, now, len);
	fd->last_t = now;
	if (!E->codec) {
		ed->codec += len;
		ed->strait += len;
		fd->codec_bytes += len;
		tl_add(&ed->strait_tl, now, len);
		return;
	}
	if (!fd->stage && !(fd->stage = malloc(EST_STAGE))) {
		fail(E, "out of memory for a flow's stage");
		return;
	}
	while (len) {
		if (!fd->staged)
			fd->stage_t = now;
		size_t n = EST_STAGE - fd->staged < len ? EST_STAGE - fd->staged : len;
		memcpy(fd->stage + fd->staged, p, n);
		fd->staged += (uint32_t)n;
		p += n;
		len -= n;
		if (fd->staged == EST_STAGE)
			encode(E, fd, STRAIT_DEDUPE_CONTINUE, now);
	}
	set_active(E, fd, fd->staged || fd->partial);
}

void est_break(struct estimate *E, struct flow_dir *fd, double now, bool final)
{
	if (E->codec && (fd->cf || fd->staged)) {
		encode(E, fd, STRAIT_DEDUPE_END, now);
		free(fd->cf);
		fd->cf = NULL;
	}
	fd->partial = false;
	fd->staged = 0;
	set_active(E, fd, false);
	if (final) {
		free(fd->stage);
		fd->stage = NULL;
	}
}

void est_tick(struct estimate *E, double now)
{
	if (now < E->tick)
		return;
	E->tick = now + E->flush / 2;
	for (struct flow_dir *fd = E->active, *next; fd; fd = next) {
		next = fd->act_next;
		bool idle = now - fd->last_t >= E->flush;
		if (fd->staged && (idle || now - fd->stage_t >= E->flush))
			encode(E, fd, idle ? STRAIT_DEDUPE_FLUSH : STRAIT_DEDUPE_CONTINUE, now);
		else if (!fd->staged && fd->partial && idle)
			encode(E, fd, STRAIT_DEDUPE_FLUSH, now);
		set_active(E, fd, fd->staged || fd->partial);
	}
}
