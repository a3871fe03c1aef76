/* SPDX-License-Identifier: BSD-3-Clause */
#include "report.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "timeline.h"
#include "wanmodel.h"

enum { TABLE_FLOWS = 20 };

static const char *const dir_name[2] = { "c2s", "s2c" };
static const char *const gap_reason[] = { "ack", "ooo-limit", "end" };
static const char *const end_name[] = { "open", "fin", "rst" };

/* A tenant, or the total over every tenant. */
struct unit {
	const char *name;
	int tenant;
	uint32_t flows;
	uint64_t cache, window;
	uint64_t raw[2], codec[2], strait[2], hits[2], misses[2];
	struct timeline raw_tl[2], strait_tl[2];
	bool own_tl;              /* the timelines are sums made here */
};

static double duration(const struct profile *P)
{
	return P->started ? P->now - P->t0 : 0;
}

static void unit_of_group(struct unit *u, const struct group *g)
{
	memset(u, 0, sizeof(*u));
	u->name = g->name;
	u->tenant = g->tenant;
	u->flows = g->flows;
	u->cache = g->p.capacity;
	u->window = 1ull << strait_dedupe_window_log(&g->p);
	for (int d = 0; d < 2; d++) {
		const struct est_dir *ed = &g->d[d];
		u->raw[d] = ed->raw;
		u->codec[d] = ed->codec;
		u->strait[d] = ed->strait;
		u->hits[d] = ed->cs.hits;
		u->misses[d] = ed->cs.misses;
		u->raw_tl[d] = ed->raw_tl;
		u->strait_tl[d] = ed->strait_tl;
	}
}

static void tl_sum(struct timeline *to, const struct timeline *from)
{
	for (size_t i = 0; i < from->n; i++)
		if (from->b[i])
			tl_add(to, (double)i * TL_BUCKET + TL_BUCKET / 2, from->b[i]);
}

static void unit_total(struct unit *u, const struct estimate *E)
{
	memset(u, 0, sizeof(*u));
	u->name = "total";
	u->tenant = -1;
	u->own_tl = true;
	for (unsigned i = 0; i < E->n; i++) {
		struct unit g;
		unit_of_group(&g, &E->g[i]);
		u->flows += g.flows;
		for (int d = 0; d < 2; d++) {
			u->raw[d] += g.raw[d];
			u->codec[d] += g.codec[d];
			u->strait[d] += g.strait[d];
			u->hits[d] += g.hits[d];
			u->misses[d] += g.misses[d];
			tl_sum(&u->raw_tl[d], &g.raw_tl[d]);
			tl_sum(&u->strait_tl[d], &g.strait_tl[d]);
		}
	}
}

static void unit_free(struct unit *u)
{
	if (!u->own_tl)
		return;
	for (int d = 0; d < 2; d++) {
		tl_free(&u->raw_tl[d]);
		tl_free(&u->strait_tl[d]);
	}
}

static double reduction(uint64_t raw, uint64_t strait)
{
	return raw ? 1.0 - (double)strait / (double)raw : 0;
}

/* Time to carry the unit over w, without and with Strait: the slower
 * direction (a WAN link is full duplex), and the longest wait of a byte
 * when the capture's bytes are drained at that rate. */
struct wan_times {
	double tcp_bps, strait_bps, raw_s, strait_s, raw_lag, strait_lag;
};

static void wan_times(const struct unit *u, const struct wan_profile *w, struct wan_times *t)
{
	memset(t, 0, sizeof(*t));
	t->tcp_bps = wan_tcp_bps(w);
	t->strait_bps = wan_strait_bps(w);
	for (int d = 0; d < 2; d++) {
		t->raw_s = fmax(t->raw_s, (double)u->raw[d] * 8 / t->tcp_bps);
		t->strait_s = fmax(t->strait_s, (double)u->strait[d] * 8 / t->strait_bps);
		t->raw_lag = fmax(t->raw_lag, tl_max_lag(&u->raw_tl[d], t->tcp_bps));
		t->strait_lag = fmax(t->strait_lag, tl_max_lag(&u->strait_tl[d], t->strait_bps));
	}
}

/* ---- JSON ---- */

static json_t *rates_json(const struct timeline *tl, double dur)
{
	struct tl_rates r;
	tl_rates(tl, dur, &r);
	return json_pack("{s:f,s:f,s:f}", "peak", r.peak_bps, "p95", r.p95_bps, "mean", r.mean_bps);
}

static json_t *unit_json(const struct unit *u, const struct report_in *in, const char *file)
{
	double dur = duration(in->P);
	uint64_t raw = u->raw[0] + u->raw[1], strait = u->strait[0] + u->strait[1];
	json_t *o = json_pack("{s:s,s:I,s:I,s:I,s:f,s:I,s:I}",
		"name", u->name,
		"raw_bytes", (json_int_t)raw, "strait_bytes", (json_int_t)strait,
		"codec_bytes", (json_int_t)(u->codec[0] + u->codec[1]),
		"reduction", reduction(raw, strait),
		"cache_hits", (json_int_t)(u->hits[0] + u->hits[1]),
		"cache_misses", (json_int_t)(u->misses[0] + u->misses[1]));
	if (file)
		json_object_set_new(o, "file", json_string(file));
	if (u->tenant >= 0 || u->cache) {
		json_object_set_new(o, "cache_bytes", json_integer((json_int_t)u->cache));
		json_object_set_new(o, "window_bytes", json_integer((json_int_t)u->window));
	}
	json_object_set_new(o, "flows", json_integer(u->flows));
	for (int d = 0; d < 2; d++) {
		json_t *dj = json_pack("{s:I,s:I,s:I,s:f,s:I,s:I,s:o,s:o}",
			"raw_bytes", (json_int_t)u->raw[d], "strait_bytes", (json_int_t)u->strait[d],
			"codec_bytes", (json_int_t)u->codec[d],
			"reduction", reduction(u->raw[d], u->strait[d]),
			"cache_hits", (json_int_t)u->hits[d], "cache_misses", (json_int_t)u->misses[d],
			"raw_rate_bps", rates_json(&u->raw_tl[d], dur),
			"strait_rate_bps", rates_json(&u->strait_tl[d], dur));
		if (in->rpo > 0)
			json_object_set_new(dj, "rpo", json_pack("{s:f,s:f,s:f}", "seconds", in->rpo,
				"raw_bps", tl_rpo_bps(&u->raw_tl[d], in->rpo),
				"strait_bps", tl_rpo_bps(&u->strait_tl[d], in->rpo)));
		json_object_set_new(o, dir_name[d], dj);
	}
	json_t *wan = json_array();
	for (int i = 0; i < WAN_N_PROFILES; i++) {
		const struct wan_profile *w = &wan_profiles[i];
		struct wan_times t;
		wan_times(u, w, &t);
		json_array_append_new(wan, json_pack("{s:s,s:f,s:f,s:f,s:s,s:f,s:f,s:f,s:f,s:f,s:f,s:f}",
			"profile", w->name, "link_bps", w->bps, "rtt_seconds", w->rtt,
			"loss", w->loss, "loss_kind", w->loss_kind,
			"tcp_bps", t.tcp_bps, "strait_bps", t.strait_bps,
			"raw_seconds", t.raw_s, "strait_seconds", t.strait_s,
			"speedup", t.strait_s > 0 ? t.raw_s / t.strait_s : 0,
			"raw_max_lag_seconds", t.raw_lag, "strait_max_lag_seconds", t.strait_lag));
	}
	json_object_set_new(o, "wan", wan);
	return o;
}

static json_t *addr_json(uint8_t family, const uint8_t *a)
{
	char buf[64], *dot;
	profile_endpoint(buf, sizeof(buf), family, a, 0);
	dot = strrchr(buf, '.'); /* "a.b.c.d.0" or "[v6].0" */
	*dot = '\0';
	if (family == 6) {
		buf[strlen(buf) - 1] = '\0';
		return json_string(buf + 1);
	}
	return json_string(buf);
}

static json_t *flow_dir_json(const struct flow_dir *fd, bool codec)
{
	const struct reasm_stats *st = &fd->r.st;
	uint64_t strait = codec ? fd->codec_bytes + fd->frames * EST_FRAME_OVERHEAD : fd->codec_bytes;
	json_t *gaps = json_array();
	for (uint32_t i = 0; i < fd->n_gaps; i++)
		json_array_append_new(gaps, json_pack("{s:I,s:I,s:s}",
			"offset", (json_int_t)fd->gaps[i].off, "length", (json_int_t)fd->gaps[i].len,
			"reason", gap_reason[fd->gaps[i].why]));
	json_t *o = json_pack("{s:I,s:I,s:I,s:f,s:I,s:I,s:I,s:I,s:I,s:o}",
		"raw_bytes", (json_int_t)st->bytes, "strait_bytes", (json_int_t)strait,
		"codec_bytes", (json_int_t)fd->codec_bytes,
		"reduction", reduction(st->bytes, strait),
		"cache_hits", (json_int_t)fd->hits, "cache_misses", (json_int_t)fd->misses,
		"runs", (json_int_t)fd->runs,
		"gap_count", (json_int_t)st->gaps, "gap_bytes", (json_int_t)st->gap_bytes,
		"gaps", gaps);
	json_object_set_new(o, "gaps_listed", json_integer(fd->n_gaps));
	json_object_set_new(o, "retransmitted_bytes", json_integer((json_int_t)st->dup_bytes));
	json_object_set_new(o, "inconsistent_overlaps", json_integer((json_int_t)st->conflicts));
	json_object_set_new(o, "inconsistent_bytes", json_integer((json_int_t)st->conflict_bytes));
	json_object_set_new(o, "late_bytes", json_integer((json_int_t)st->late_bytes));
	json_object_set_new(o, "bytes_before_start", json_integer((json_int_t)st->early_bytes));
	json_object_set_new(o, "bytes_after_fin", json_integer((json_int_t)st->beyond_fin_bytes));
	json_object_set_new(o, "out_of_order_segments", json_integer((json_int_t)st->ooo_segments));
	json_object_set_new(o, "out_of_order_peak_bytes", json_integer((json_int_t)st->ooo_peak));
	json_object_set_new(o, "ooo_limit_hits", json_integer((json_int_t)st->ooo_limit_hits));
	json_object_set_new(o, "syn_mismatch", json_integer((json_int_t)st->syn_mismatch));
	json_object_set_new(o, "fin", json_boolean(fd->r.fin));
	return o;
}

static json_t *flow_json(const struct flow *f, const struct estimate *E)
{
	json_t *vl = json_array();
	for (int i = 0; i < f->nvlan; i++)
		json_array_append_new(vl, json_integer(f->vlan[i]));
	json_t *o = json_pack("{s:i,s:s,s:o,s:i,s:o,s:i,s:i,s:o,s:f,s:f,s:b,s:s,s:I}",
		"id", (int)f->id, "tenant", E->g[f->group].name,
		"client", addr_json(f->family, f->caddr), "client_port", f->cport,
		"server", addr_json(f->family, f->saddr), "server_port", f->sport,
		"ip_version", f->family, "vlan", vl,
		"start_seconds", f->t_first, "last_seconds", f->t_last,
		"handshake_seen", f->syn, "end", end_name[f->end],
		"packets", (json_int_t)f->packets);
	if (f->midstream)
		json_object_set_new(o, "note", json_string("no SYN in the capture: the stream starts at the first byte seen"));
	uint64_t raw = 0, strait = 0;
	for (int d = 0; d < 2; d++) {
		json_t *dj = flow_dir_json(&f->d[d], E->codec);
		raw += (uint64_t)json_integer_value(json_object_get(dj, "raw_bytes"));
		strait += (uint64_t)json_integer_value(json_object_get(dj, "strait_bytes"));
		json_object_set_new(o, dir_name[d], dj);
	}
	json_object_set_new(o, "raw_bytes", json_integer((json_int_t)raw));
	json_object_set_new(o, "strait_bytes", json_integer((json_int_t)strait));
	json_object_set_new(o, "reduction", json_real(reduction(raw, strait)));
	return o;
}

int report_json(const char *path, const struct report_in *in)
{
	const struct profile *P = in->P;
	const struct estimate *E = &P->est;
	json_t *root = json_object(), *caps = json_array(), *tenants = json_array(), *flows = json_array();

	for (unsigned i = 0; i < in->n_caps; i++) {
		const struct capture_info *c = &in->caps[i];
		json_array_append_new(caps, json_pack("{s:s,s:s?,s:I,s:I,s:s?}",
			"file", c->path, "link_type", c->link,
			"packets", (json_int_t)c->packets, "bytes", (json_int_t)c->bytes,
			"error", c->error[0] ? c->error : NULL));
	}
	json_object_set_new(root, "captures", caps);
	json_object_set_new(root, "seconds", json_real(duration(P)));

	json_t *pk = json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}",
		"frames", (json_int_t)P->c.packets, "bytes", (json_int_t)P->c.bytes,
		"tcp", (json_int_t)P->c.by_result[DISSECT_TCP],
		"untracked", (json_int_t)P->c.untracked, "after_close", (json_int_t)P->c.after_close,
		"snapped", (json_int_t)P->c.snapped, "time_backwards", (json_int_t)P->c.time_backwards,
		"out_of_memory", (json_int_t)P->c.out_of_memory,
		"bad_checksum", (json_int_t)P->c.bad_checksum);
	for (int r = 1; r < DISSECT_N_RESULTS; r++)
		json_object_set_new(pk, dissect_result_name(r), json_integer((json_int_t)P->c.by_result[r]));
	json_object_set_new(root, "packets", pk);
	json_object_set_new(root, "not_selected", json_pack("{s:I,s:I}",
		"flows", (json_int_t)P->c.other_flows, "payload_bytes", (json_int_t)P->c.other_bytes));

	json_object_set_new(root, "model", json_pack("{s:b,s:s,s:f,s:i,s:i,s:I,s:s,s:s}",
		"codec", E->codec, "cache", in->cache_note, "flush_seconds", E->flush,
		"stage_bytes", EST_STAGE, "frame_overhead_bytes", EST_FRAME_OVERHEAD,
		"ooo_limit_bytes", (json_int_t)P->ooo_limit,
		"overlaps", "first seen wins",
		"strait_bytes", "codec output (stream header and records) + frame_overhead_bytes per encode call that emitted records"));

	struct unit tot;
	unit_total(&tot, E);
	json_object_set_new(root, "total", unit_json(&tot, in, NULL));
	unit_free(&tot);
	for (unsigned i = 0; i < E->n; i++) {
		struct unit u;
		unit_of_group(&u, &E->g[i]);
		const char *file = P->tenants && E->g[i].tenant >= 0 ? P->tenants->tenants[E->g[i].tenant].file : NULL;
		json_array_append_new(tenants, unit_json(&u, in, file));
	}
	json_object_set_new(root, "tenants", tenants);
	for (const struct flow *f = P->ft.first; f; f = f->next)
		if (f->group >= 0)
			json_array_append_new(flows, flow_json(f, E));
	json_object_set_new(root, "flows", flows);

	int rc = strcmp(path, "-") ? json_dump_file(root, path, JSON_INDENT(1) | JSON_REAL_PRECISION(10))
				   : json_dumpf(root, stdout, JSON_INDENT(1) | JSON_REAL_PRECISION(10));
	if (!strcmp(path, "-"))
		fputc('\n', stdout);
	json_decref(root);
	if (rc)
		fprintf(stderr, "strait-profile: cannot write %s: %s\n", path, strerror(errno));
	return rc ? -1 : 0;
}

/* ---- the table ---- */

static const char *sz(char *b, size_t n, double v)
{
	static const char *const u[] = { "B", "kB", "MB", "GB", "TB" };
	int i = 0;
	while (v >= 1000 && i < 4) {
		v /= 1000;
		i++;
	}
	snprintf(b, n, i ? "%.2f %s" : "%.0f %s", v, u[i]);
	return b;
}

static const char *rate(char *b, size_t n, double bps)
{
	snprintf(b, n, "%.1f", bps / 1e6);
	return b;
}

static const char *dur(char *b, size_t n, double s)
{
	if (s < 1)
		snprintf(b, n, "%.0f ms", s * 1e3);
	else if (s < 60)
		snprintf(b, n, "%.1f s", s);
	else if (s < 3600)
		snprintf(b, n, "%.1f min", s / 60);
	else
		snprintf(b, n, "%.2f h", s / 3600);
	return b;
}

static void unit_rows(FILE *out, const struct unit *u, const struct report_in *in)
{
	char a[32], b[32], c[32], d[32], e[32], f[32], n[16];
	double secs = duration(in->P);
	for (int k = 0; k < 2; k++) {
		struct tl_rates rr, sr;
		tl_rates(&u->raw_tl[k], secs, &rr);
		tl_rates(&u->strait_tl[k], secs, &sr);
		fprintf(out, "%-16s %5s %-3s %10s %10s %7.1f%% %9llu %9s %9s %9s %9s\n",
			k ? "" : u->name, k ? "" : (snprintf(n, sizeof(n), "%u", u->flows), n),
			dir_name[k], sz(a, sizeof(a), (double)u->raw[k]), sz(b, sizeof(b), (double)u->strait[k]),
			100 * reduction(u->raw[k], u->strait[k]), (unsigned long long)u->hits[k],
			rate(c, sizeof(c), rr.peak_bps), rate(d, sizeof(d), rr.p95_bps),
			rate(e, sizeof(e), sr.peak_bps), rate(f, sizeof(f), sr.p95_bps));
	}
	if (in->rpo > 0) {
		double r = 0, s = 0;
		for (int k = 0; k < 2; k++) {
			r = fmax(r, tl_rpo_bps(&u->raw_tl[k], in->rpo));
			s = fmax(s, tl_rpo_bps(&u->strait_tl[k], in->rpo));
		}
		fprintf(out, "%-16s RPO %g s: WAN rate needed %s Mbit/s raw, %s Mbit/s with Strait\n", "",
			in->rpo, rate(a, sizeof(a), r), rate(b, sizeof(b), s));
	}
}

static uint64_t flow_raw(const struct flow *f)
{
	return f->d[0].r.st.bytes + f->d[1].r.st.bytes;
}

void report_table(FILE *out, const struct report_in *in)
{
	const struct profile *P = in->P;
	const struct estimate *E = &P->est;
	char a[32], b[32], c[32], d[32], e[32];

	fprintf(out, "strait-profile: %u capture%s, %llu frames (%s), %s of traffic; %u connections selected, %llu not\n",
		in->n_caps, in->n_caps == 1 ? "" : "s", (unsigned long long)P->c.packets,
		sz(a, sizeof(a), (double)P->c.bytes), dur(b, sizeof(b), duration(P)),
		P->ft.count - (uint32_t)P->c.other_flows, (unsigned long long)P->c.other_flows);
	if (!E->codec)
		fprintf(out, "(--no-codec: reassembly only, Strait bytes = raw bytes)\n");
	fprintf(out, "\n%-16s %5s %-3s %10s %10s %8s %9s %9s %9s %9s %9s\n", "TENANT", "FLOWS", "DIR",
		"RAW", "STRAIT", "REDUCED", "HITS", "RAW PEAK", "RAW P95", "STR PEAK", "STR P95");
	for (unsigned i = 0; i < E->n; i++) {
		struct unit u;
		unit_of_group(&u, &E->g[i]);
		unit_rows(out, &u, in);
	}
	struct unit tot;
	unit_total(&tot, E);
	if (E->n > 1)
		unit_rows(out, &tot, in);
	fprintf(out, "(rates in Mbit/s over 1 s; STRAIT = codec output + %d B per channel frame)\n",
		EST_FRAME_OVERHEAD);

	fprintf(out, "\n%-10s %10s %7s %6s %10s %10s %10s %10s %8s\n", "WAN", "LINK", "RTT", "LOSS",
		"TCP Mbit/s", "RAW TIME", "STR Mbit/s", "STR TIME", "SPEEDUP");
	for (int i = 0; i < WAN_N_PROFILES; i++) {
		const struct wan_profile *w = &wan_profiles[i];
		struct wan_times t;
		wan_times(&tot, w, &t);
		fprintf(out, "%-10s %10s %5.0fms %5.1f%% %10s %10s %10s %10s %7.1fx\n", w->name,
			rate(a, sizeof(a), w->bps), w->rtt * 1e3, w->loss * 100, rate(b, sizeof(b), t.tcp_bps),
			dur(c, sizeof(c), t.raw_s), rate(d, sizeof(d), t.strait_bps), dur(e, sizeof(e), t.strait_s),
			t.strait_s > 0 ? t.raw_s / t.strait_s : 0);
	}
	unit_free(&tot);

	/* the largest connections */
	const struct flow *top[TABLE_FLOWS];
	unsigned n = 0, sel = 0;
	for (const struct flow *f = P->ft.first; f; f = f->next) {
		if (f->group < 0)
			continue;
		sel++;
		unsigned j = n < TABLE_FLOWS ? n++ : TABLE_FLOWS;
		if (j == TABLE_FLOWS && flow_raw(top[TABLE_FLOWS - 1]) >= flow_raw(f))
			continue;
		if (j == TABLE_FLOWS)
			j--;
		while (j > 0 && flow_raw(top[j - 1]) < flow_raw(f)) {
			top[j] = top[j - 1];
			j--;
		}
		top[j] = f;
	}
	fprintf(out, "\nCONNECTIONS (%u largest of %u)\n%4s %-12s %-46s %10s %10s %8s %5s  %s\n", n, sel,
		"ID", "TENANT", "CLIENT -> SERVER", "RAW", "STRAIT", "REDUCED", "GAPS", "NOTES");
	for (unsigned i = 0; i < n; i++) {
		const struct flow *f = top[i];
		char cl[64], sv[64], ends[160], notes[128];
		uint64_t st = 0, gaps = 0;
		for (int k = 0; k < 2; k++) {
			st += E->codec ? f->d[k].codec_bytes + f->d[k].frames * EST_FRAME_OVERHEAD : f->d[k].codec_bytes;
			gaps += f->d[k].r.st.gaps;
		}
		profile_endpoint(cl, sizeof(cl), f->family, f->caddr, f->cport);
		profile_endpoint(sv, sizeof(sv), f->family, f->saddr, f->sport);
		snprintf(ends, sizeof(ends), "%s -> %s", cl, sv);
		snprintf(notes, sizeof(notes), "%s%s%s", end_name[f->end], f->midstream ? ", mid-stream" : "",
			 f->nvlan ? ", vlan" : "");
		fprintf(out, "%4u %-12.12s %-46s %10s %10s %7.1f%% %5llu  %s\n", f->id, E->g[f->group].name, ends,
			sz(a, sizeof(a), (double)flow_raw(f)), sz(b, sizeof(b), (double)st),
			100 * reduction(flow_raw(f), st), (unsigned long long)gaps, notes);
	}

	/* what the capture did not hold, and what it held twice */
	uint64_t gaps = 0, gap_bytes = 0, conf = 0, late = 0, early = 0, lim = 0, dup = 0;
	for (const struct flow *f = P->ft.first; f; f = f->next)
		for (int k = 0; f->group >= 0 && k < 2; k++) {
			const struct reasm_stats *s = &f->d[k].r.st;
			gaps += s->gaps;
			gap_bytes += s->gap_bytes;
			conf += s->conflicts;
			late += s->late_bytes;
			early += s->early_bytes;
			lim += s->ooo_limit_hits;
			dup += s->dup_bytes;
		}
	fprintf(out, "\nCAPTURE: %llu gaps (%s missing), %s retransmitted, %llu inconsistent overlaps, "
		"%llu out-of-order limit hits, %llu late and %llu pre-start bytes; frames: %llu IP fragments, "
		"%llu truncated, %llu malformed, %llu snapped segments, %llu bad checksums dropped\n",
		(unsigned long long)gaps, sz(a, sizeof(a), (double)gap_bytes), sz(b, sizeof(b), (double)dup),
		(unsigned long long)conf, (unsigned long long)lim, (unsigned long long)late,
		(unsigned long long)early, (unsigned long long)P->c.by_result[DISSECT_FRAGMENT],
		(unsigned long long)P->c.by_result[DISSECT_TRUNCATED],
		(unsigned long long)P->c.by_result[DISSECT_MALFORMED], (unsigned long long)P->c.snapped,
		(unsigned long long)P->c.bad_checksum);
	for (unsigned i = 0; i < in->n_caps; i++)
		if (in->caps[i].error[0])
			fprintf(out, "ERROR %s: %s\n", in->caps[i].path, in->caps[i].error);
}

/* ---- the plot ---- */

int report_plot(const char *path, const struct report_in *in)
{
	struct unit tot;
	unit_total(&tot, &in->P->est);
	size_t n = 1; /* seconds on the plot, as far as the timeline goes */
	for (int d = 0; d < 2; d++)
		n = fmax(n, ceil((double)fmax(tot.raw_tl[d].n, tot.strait_tl[d].n) * TL_BUCKET));
	double *r0 = calloc(n, sizeof(double)), *r1 = calloc(n, sizeof(double));
	double *s0 = calloc(n, sizeof(double)), *s1 = calloc(n, sizeof(double));
	int rc = -1;
	if (!r0 || !r1 || !s0 || !s1)
		goto out;
	tl_per_second(&tot.raw_tl[0], r0, n);
	tl_per_second(&tot.raw_tl[1], r1, n);
	tl_per_second(&tot.strait_tl[0], s0, n);
	tl_per_second(&tot.strait_tl[1], s1, n);
	bool any = false;
	for (size_t i = 0; i < n && !any; i++)
		any = r0[i] + r1[i] > 0;
	char cmd[64];
	/* its stdout away: gnuplot writes the image there when it cannot open
	 * the output file */
	snprintf(cmd, sizeof(cmd), "gnuplot > /dev/null");
	FILE *g = popen(cmd, "w");
	if (!g) {
		fprintf(stderr, "strait-profile: cannot run gnuplot: %s\n", strerror(errno));
		goto out;
	}
	fprintf(g, "set terminal pngcairo size 1100,500 font ',10'\nset output '");
	for (const char *p = path; *p; p++) /* a quote in a file name */
		fprintf(g, *p == '\'' ? "''" : "%c", *p);
	fprintf(g, "'\nset title 'strait-profile: WAN rate needed, raw vs Strait (1 s windows, both directions)'\n"
		   "set xlabel 'seconds into the capture'\nset ylabel 'Mbit/s'\nset grid\nset key top right\n"
		   "set yrange [0:%s]\n"
		   "plot '-' using 1:2 with steps lw 2 title 'raw', '-' using 1:2 with steps lw 2 title 'Strait'\n",
		   any ? "*" : "1"); /* nothing selected: no empty range warning */
	/* a step per second, closed by the end of the last one */
	for (size_t i = 0; i < n; i++)
		fprintf(g, "%zu %.6f\n", i, (r0[i] + r1[i]) / 1e6);
	fprintf(g, "%zu %.6f\ne\n", n, (r0[n - 1] + r1[n - 1]) / 1e6);
	for (size_t i = 0; i < n; i++)
		fprintf(g, "%zu %.6f\n", i, (s0[i] + s1[i]) / 1e6);
	fprintf(g, "%zu %.6f\ne\n", n, (s0[n - 1] + s1[n - 1]) / 1e6);
	int st = pclose(g);
	if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st)) {
		fprintf(stderr, "strait-profile: gnuplot failed writing %s (its message above; "
				"is gnuplot installed?)\n", path);
		goto out;
	}
	rc = 0;
out:
	free(r0);
	free(r1);
	free(s0);
	free(s1);
	unit_free(&tot);
	return rc;
}
