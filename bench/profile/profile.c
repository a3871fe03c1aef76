/* SPDX-License-Identifier: BSD-3-Clause */
#include "profile.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "classify.h"

enum { DUMP_MAX_SUFFIX = 1000 };

void profile_init(struct profile *P)
{
	memset(P, 0, sizeof(*P));
	flows_init(&P->ft);
}

void profile_free(struct profile *P)
{
	for (struct flow *f = P->ft.first; f; f = f->next)
		for (int d = 0; d < 2; d++) {
			reasm_free(&f->d[d].r);
			free(f->d[d].gaps);
			free(f->d[d].stage);
			free(f->d[d].cf);
			if (f->d[d].dump)
				fclose(f->d[d].dump);
		}
	flows_free(&P->ft);
}

static void fatal(struct profile *P, const char *what, const char *why)
{
	if (!P->err[0])
		snprintf(P->err, sizeof(P->err), "%.300s: %.200s", what, why);
}

void profile_endpoint(char *buf, size_t len, uint8_t family, const uint8_t *a,
		      uint16_t port)
{
	char ip[INET6_ADDRSTRLEN];
	inet_ntop(family == 4 ? AF_INET : AF_INET6, a, ip, sizeof(ip));
	snprintf(buf, len, family == 4 ? "%s.%u" : "[%s].%u", ip, port);
}

/* ---- selection ---- */

static bool port_selected(const struct profile *P, uint16_t port)
{
	if (!P->n_ports)
		return true;
	for (unsigned i = 0; i < P->n_ports; i++)
		if (port >= P->ports[i].lo && port <= P->ports[i].hi)
			return true;
	return false;
}

/* The group of a connection from client to server:port, or -1. */
static int select_group(const struct profile *P, uint8_t family, const uint8_t *client,
			const uint8_t *server, uint16_t port)
{
	if (P->tenants) {
		uint16_t t = classify_syn(P->tenants, family, client, server, port);
		return t == 0xffff ? -1 : t;
	}
	return port_selected(P, port) ? 0 : -1;
}

/* ---- reassembly to estimate and dump ---- */

struct sink_ctx {
	struct profile *P;
	struct flow_dir *fd;
};

static void dump_open(struct profile *P, struct flow_dir *fd)
{
	const struct flow *f = fd->flow;
	char c[64], s[64], path[4096];
	profile_endpoint(c, sizeof(c), f->family, f->caddr, f->cport);
	profile_endpoint(s, sizeof(s), f->family, f->saddr, f->sport);
	const char *dir = fd->dir == C2S ? "c2s" : "s2c";
	for (int i = 1; i <= DUMP_MAX_SUFFIX; i++) {
		if (i == 1)
			snprintf(path, sizeof(path), "%s/tcp-%s-%s-%s", P->dump_dir, c, s, dir);
		else /* the 5-tuple again: a later connection */
			snprintf(path, sizeof(path), "%s/tcp-%s-%s-%s.%d", P->dump_dir, c, s, dir, i);
		int fdn = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fdn < 0 && errno == EEXIST)
			continue;
		if (fdn < 0 || !(fd->dump = fdopen(fdn, "w"))) {
			fatal(P, path, strerror(errno));
			if (fdn >= 0)
				close(fdn);
		}
		return;
	}
	fatal(P, path, "too many files of that name");
}

static void on_data(void *ctx, uint64_t off, const uint8_t *p, size_t len)
{
	struct sink_ctx *sc = ctx;
	struct profile *P = sc->P;
	(void)off;
	est_data(&P->est, sc->fd, P->now - P->t0, p, len);
	if (P->dump_dir) {
		if (!sc->fd->dump && !P->err[0])
			dump_open(P, sc->fd);
		if (sc->fd->dump && fwrite(p, 1, len, sc->fd->dump) != len)
			fatal(P, P->dump_dir, strerror(errno));
	}
}

static void on_gap(void *ctx, uint64_t off, uint64_t len, enum reasm_gap_reason why)
{
	struct sink_ctx *sc = ctx;
	struct flow_dir *fd = sc->fd;
	if (fd->n_gaps < GAPS_LISTED) {
		if (!(fd->n_gaps & (fd->n_gaps - 1))) { /* 0, 1, 2, 4, ...: grow */
			struct gap_rec *g = realloc(fd->gaps, (fd->n_gaps ? fd->n_gaps * 2 : 1) * sizeof(*g));
			if (!g) {
				sc->P->c.out_of_memory++;
				return;
			}
			fd->gaps = g;
		}
		fd->gaps[fd->n_gaps++] = (struct gap_rec){ off, len, (uint8_t)why };
	}
	est_break(&sc->P->est, fd, sc->P->now - sc->P->t0, false);
}

static struct reasm_sink sink_of(struct sink_ctx *sc, struct profile *P, struct flow_dir *fd)
{
	sc->P = P;
	sc->fd = fd;
	return (struct reasm_sink){ on_data, on_gap, sc };
}

/* The end of one direction: held data behind gaps, the codec's last chunk. */
static void end_dir(struct profile *P, struct flow_dir *fd)
{
	struct sink_ctx sc;
	struct reasm_sink k = sink_of(&sc, P, fd);
	reasm_finish(&fd->r, &k);
	est_break(&P->est, fd, P->now - P->t0, true);
	reasm_free(&fd->r);
	if (fd->dump) {
		if (fclose(fd->dump))
			fatal(P, P->dump_dir, strerror(errno));
		fd->dump = NULL;
	}
}

static void end_flow(struct profile *P, struct flow *f, enum flow_end how)
{
	f->end = how;
	if (f->group < 0)
		return;
	end_dir(P, &f->d[C2S]);
	end_dir(P, &f->d[S2C]);
}

/* ---- segments ---- */

void profile_frame(struct profile *P, double t, uint32_t wire_len, enum dissect_result r)
{
	if (!P->started) {
		P->started = true;
		P->t0 = P->now = t;
	}
	if (t < P->now)
		P->c.time_backwards++; /* the clock stays where it was */
	else
		P->now = t;
	P->c.packets++;
	P->c.bytes += wire_len;
	P->c.by_result[r]++;
	est_tick(&P->est, P->now - P->t0);
}

static struct flow *new_flow(struct profile *P, const struct segment *s)
{
	bool client_is_src;
	if (s->flags & TCP_SYN) {
		client_is_src = !(s->flags & TCP_ACK);
	} else {
		if ((!s->len && !(s->flags & TCP_FIN)) || (s->flags & TCP_RST)) {
			P->c.untracked++;
			return NULL;
		}
		bool to_dst = select_group(P, s->family, s->src, s->dst, s->dport) >= 0;
		bool to_src = select_group(P, s->family, s->dst, s->src, s->sport) >= 0;
		client_is_src = to_dst != to_src ? to_dst : s->dport <= s->sport;
	}
	struct flow *f = flows_add(&P->ft, s, client_is_src);
	if (!f) {
		P->c.out_of_memory++;
		return NULL;
	}
	f->syn = s->flags & TCP_SYN;
	f->midstream = !f->syn;
	f->t_first = P->now - P->t0;
	f->group = select_group(P, f->family, f->caddr, f->saddr, f->sport);
	if (f->group < 0) {
		P->c.other_flows++;
		return f;
	}
	P->est.g[f->group].flows++;
	for (int d = 0; d < 2; d++)
		reasm_init(&f->d[d].r, P->ooo_limit);
	return f;
}

void profile_segment(struct profile *P, const struct segment *s)
{
	int dir = C2S;
	struct flow *f = flows_find(&P->ft, s, &dir);
	bool syn_only = (s->flags & (TCP_SYN | TCP_ACK)) == TCP_SYN;
	if (f && syn_only) {
		/* a new connection on a closed 5-tuple, or the same one again */
		const struct reasm *r = &f->d[dir].r;
		bool same = f->end == FLOW_OPEN && dir == C2S && f->syn &&
			    (f->group < 0 || (r->started && r->syn && r->base == s->seq + 1));
		if (!same) {
			if (f->end == FLOW_OPEN)
				end_flow(P, f, FLOW_OPEN);
			flows_retire(&P->ft, f);
			f = NULL;
		}
	}
	if (!f) {
		if (!(f = new_flow(P, s)))
			return;
		dir = memcmp(f->caddr, s->src, 16) || f->cport != s->sport ? S2C : C2S;
	}
	f->packets++;
	f->t_last = P->now - P->t0;
	if (f->group < 0) {
		P->c.other_bytes += s->wire_len;
		return;
	}
	if (f->end != FLOW_OPEN) {
		P->c.after_close++;
		return;
	}
	if (s->flags & TCP_RST) {
		end_flow(P, f, FLOW_RST);
		return;
	}
	struct flow_dir *fd = &f->d[dir], *od = &f->d[!dir];
	struct sink_ctx sc;
	struct reasm_sink k = sink_of(&sc, P, fd);
	if (s->len < s->wire_len) {
		/* the snap length cut the payload: a FIN goes after all of it */
		P->c.snapped++;
		reasm_segment(&fd->r, s->seq, s->flags & (uint8_t)~TCP_FIN, s->payload, s->len, &k);
		if (s->flags & TCP_FIN)
			reasm_segment(&fd->r, s->seq + ((s->flags & TCP_SYN) ? 1 : 0) + s->wire_len,
				      TCP_FIN, NULL, 0, &k);
	} else {
		reasm_segment(&fd->r, s->seq, s->flags, s->payload, s->len, &k);
	}
	if (s->flags & TCP_ACK) {
		struct sink_ctx so;
		struct reasm_sink ko = sink_of(&so, P, od);
		reasm_ack(&od->r, s->ack, &ko);
	}
	if (reasm_done(&fd->r))
		end_dir(P, fd); /* its last chunk goes now, not at the other FIN */
	if (reasm_done(&f->d[C2S].r) && reasm_done(&f->d[S2C].r))
		end_flow(P, f, FLOW_FIN);
}

void profile_finish(struct profile *P)
{
	for (struct flow *f = P->ft.first; f; f = f->next)
		if (f->end == FLOW_OPEN)
			end_flow(P, f, FLOW_OPEN);
}
