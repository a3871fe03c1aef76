/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_mux.c - two channel muxes back to back (pair.h): flows both ways,
 * byte-exact; RESYNC after an injected decoder check failure; credit with
 * a stalled flow beside a running one; bounded memory; small writes
 * flushed; refusals, resets and the end of a session; cache files that
 * outlive the muxes (a restart continues the log, a lost file starts a new
 * epoch).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "pair.h"

static uint8_t *data_new(size_t n, uint64_t seed)
{
	uint8_t *p = malloc(n);

	cr_assert(p);
	fill_random(p, n, seed);
	return p;
}

static void assert_got(const struct end *e, const uint8_t *want, size_t n, const char *who)
{
	cr_assert_eq(e->got.len, n, "%s: got %zu bytes, want %zu", who, e->got.len, n);
	cr_assert(!memcmp(e->got.p, want, n), "%s: bytes differ", who);
}

Test(mux, hello)
{
	struct pair p;

	pair_init(&p, NULL, NULL);
	cr_assert(!chan_mux_up(p.s[0].m));
	pair_run(&p, 10);
	cr_assert(chan_mux_up(p.s[0].m) && chan_mux_up(p.s[1].m));
	pair_fini(&p);
}

/* A (config a) and B (b) disagree at HELLO: both sessions fail with err,
 * each says why, and no flow opens. */
static void hello_refused(const struct chan_mux_config *a, const struct chan_mux_config *b,
			  int err, const char *why_a, const char *why_b)
{
	struct chan_open o = { .af = 4, .client_port = 1, .server_port = 2 };
	struct pair p;

	pair_init(&p, a, b);
	pair_run(&p, 10);
	cr_assert_eq(p.rx_err[0], err);
	cr_assert_eq(p.rx_err[1], err);
	cr_assert(!chan_mux_up(p.s[0].m) && !chan_mux_up(p.s[1].m));
	cr_assert_str_eq(chan_mux_why(p.s[0].m), why_a);
	cr_assert_str_eq(chan_mux_why(p.s[1].m), why_b);
	errno = 0;
	cr_assert_null(chan_flow_open(p.s[0].m, &o, NULL));
	cr_assert_eq(errno, ENOTCONN);
	pair_fini(&p);
}

Test(mux, hello_cache_size_differs)
{
	struct chan_mux_config a = { .codec.capacity = 4u << 20 };
	struct chan_mux_config b = { .codec.capacity = 8u << 20 };

	hello_refused(&a, &b, CHAN_MUX_E_CACHE,
		      "peer CacheSize 8388608 bytes, ours 4194304: both appliances must agree",
		      "peer CacheSize 4194304 bytes, ours 8388608: both appliances must agree");
}

/* The first frame of type `type` in what a side sent (record), or fails. */
static void first_frame(const struct buf *rec, unsigned type, bool stream_header,
			struct chan_frame *f)
{
	size_t pos = 0;

	while (pos < rec->len) {
		long n = chan_frame_parse(rec->p + pos, rec->len - pos, f);

		cr_assert_gt(n, 0, "frame at %zu: %ld", pos, n);
		pos += (size_t)n;
		if (f->type == type && (!stream_header ||
					(f->data.len >= STRAIT_DEDUPE_HEADER_SIZE &&
					 !memcmp(f->data.records, "STRD", 4))))
			return;
	}
	cr_assert_fail("no frame of type %u", type);
}

/* CacheWindow: 2 MiB at A, the default for 32 MiB (4 MiB) at B. */
Test(mux, hello_cache_window_differs)
{
	struct chan_mux_config a = { .codec.capacity = 32u << 20, .codec.window_log = 21 };
	struct chan_mux_config b = { .codec.capacity = 32u << 20 };

	hello_refused(&a, &b, CHAN_MUX_E_WINDOW,
		      "peer CacheWindow 4194304 bytes, ours 2097152: both appliances must agree",
		      "peer CacheWindow 2097152 bytes, ours 4194304: both appliances must agree");
	cr_assert_str_eq(chan_mux_strerror(CHAN_MUX_E_WINDOW), "peer has another CacheWindow");
}

/* The default written out (4 MiB at 32 MiB) is the default: its HELLO says
 * 0, as a peer from before the field does, and the two agree. */
Test(mux, hello_cache_window_default_agrees)
{
	struct chan_mux_config a = { .codec.capacity = 32u << 20, .codec.window_log = 22 };
	struct chan_mux_config b = { .codec.capacity = 32u << 20 };
	struct buf rec = { 0 };
	struct chan_frame f;
	struct pair p;

	pair_init(&p, &a, &b);
	p.record[0] = &rec;
	pair_run(&p, 10);
	cr_assert(chan_mux_up(p.s[0].m) && chan_mux_up(p.s[1].m));
	first_frame(&rec, CHAN_HELLO, false, &f);
	cr_assert_eq(f.hello.window_log, 0);
	buf_free(&rec);
	pair_fini(&p);
}

/* Both at a 2 MiB budget on a 32 MiB cache: the session comes up, 1 MiB
 * twice crosses byte-exact (the second as references), the encoder's
 * stream says the budget (header byte 6) and the workspace is smaller
 * than at the default window. */
Test(mux, cache_window_carries_data)
{
	struct chan_mux_config cfg = { .codec.capacity = 32u << 20, .codec.window_log = 21,
				       .max_flows = 16, .raw_window = 1u << 20,
				       .out_window = 512u << 10 };
	struct chan_mux_config dflt = cfg;
	size_t n = 1u << 20;
	uint8_t *up = data_new(2 * n, 3);
	struct buf rec = { 0 };
	struct chan_mux_stats st;
	struct chan_frame f;
	struct pair p;
	int c;

	dflt.codec.window_log = 0;
	memcpy(up + n, up, n);
	pair_init(&p, &cfg, NULL);
	p.record[0] = &rec;
	p.room = 64u << 10;
	pair_run(&p, 5);
	cr_assert(chan_mux_up(p.s[0].m) && chan_mux_up(p.s[1].m));
	first_frame(&rec, CHAN_HELLO, false, &f);
	cr_assert_eq(f.hello.window_log, 21);
	c = pair_open(&p, up, 2 * n, true);
	pair_run(&p, 20000);
	assert_got(pair_peer(&p, c), up, 2 * n, "server");
	chan_mux_stats(p.s[0].m, &st);
	cr_assert_lt(st.records_out, n + n / 20, "records %llu for 1 MiB new + 1 MiB seen",
		     (unsigned long long)st.records_out);
	first_frame(&rec, CHAN_DATA, true, &f);
	cr_assert_eq(f.data.records[6], 21, "the encoder's window log");
	chan_mux_config_defaults(&cfg);
	chan_mux_config_defaults(&dflt);
	cr_assert_lt(chan_mux_size(&cfg), chan_mux_size(&dflt));
	buf_free(&rec);
	free(up);
	pair_fini(&p);
}

Test(mux, hello_tenant_differs)
{
	struct chan_mux_config a = { .tenant = 1, .codec.capacity = 4u << 20 };
	struct chan_mux_config b = { .tenant = 2, .codec.capacity = 4u << 20 };
	struct pair p;

	pair_init(&p, &a, &b);
	pair_run(&p, 10);
	cr_assert_eq(p.rx_err[1], CHAN_MUX_E_TENANT);
	cr_assert_str_eq(chan_mux_why(p.s[1].m), "peer tenant Id 1, ours 2");
	pair_fini(&p);
}

Test(mux, one_byte_each_way)
{
	static const uint8_t req[1] = { 'q' }, rsp[1] = { 'r' };
	struct pair p;
	int c;
	struct end *s;

	pair_init(&p, NULL, NULL);
	pair_run(&p, 5);
	p.reply = rsp;
	p.reply_len = 1;
	p.reply_fin = true;
	c = pair_open(&p, req, 1, true);
	pair_run(&p, 1000);
	s = pair_peer(&p, c);
	cr_assert(s && s->opened && p.ends[c].opened);
	assert_got(s, req, 1, "server");
	assert_got(&p.ends[c], rsp, 1, "client");
	cr_assert(s->got_fin && p.ends[c].got_fin);
	cr_assert(s->done && p.ends[c].done, "flows not released");
	for (int i = 0; i < 2; i++) {
		struct chan_mux_stats st;

		chan_mux_stats(p.s[i].m, &st);
		cr_assert_eq(st.active, 0);
		cr_assert_eq(st.done, 1);
		cr_assert_eq(st.raw_held, 0);
		cr_assert_eq(st.lan_in, 1);
		cr_assert_eq(st.lan_out, 1);
	}
	cr_assert_eq(s->open.server_port, 873);
	pair_fini(&p);
}

/* 1 MiB of random bytes then the same MiB again, both ways, through 64 KiB
 * of room per step in pieces of 999 bytes: byte-exact, and the second MiB
 * crosses as references. */
Test(mux, mib_twice_both_ways)
{
	size_t n = 1u << 20;
	uint8_t *up = data_new(2 * n, 1), *down = data_new(2 * n, 2);
	struct chan_mux_stats a;
	struct pair p;
	int c;

	memcpy(up + n, up, n);
	memcpy(down + n, down, n);
	pair_init(&p, NULL, NULL);
	p.room = 64u << 10;
	p.piece = 999;
	p.reply = down;
	p.reply_len = 2 * n;
	p.reply_fin = true;
	pair_run(&p, 5);
	c = pair_open(&p, up, 2 * n, true);
	pair_run(&p, 20000);
	assert_got(pair_peer(&p, c), up, 2 * n, "server");
	assert_got(&p.ends[c], down, 2 * n, "client");
	cr_assert(p.ends[c].done && pair_peer(&p, c)->done);
	chan_mux_stats(p.s[0].m, &a);
	cr_assert_lt(a.records_out, n + n / 20, "records %llu for 1 MiB new + 1 MiB seen",
		     (unsigned long long)a.records_out);
	cr_assert_gt(a.cache_hits, 100);
	free(up);
	free(down);
	pair_fini(&p);
}

/* 100 flows at once, each its own bytes plus a part all share. */
Test(mux, hundred_flows)
{
	enum { N = 100, LEN = 40000 };
	uint8_t *src[N], *shared = data_new(LEN / 2, 99), *rsp = data_new(3000, 98);
	struct pair p;
	int idx[N];

	pair_init(&p, NULL, NULL);
	p.room = 256u << 10;
	p.reply = rsp;
	p.reply_len = 3000;
	p.reply_fin = true;
	pair_run(&p, 5);
	for (int i = 0; i < N; i++) {
		src[i] = data_new(LEN, (uint64_t)i + 10);
		memcpy(src[i] + LEN / 4, shared, LEN / 2);
		idx[i] = pair_open(&p, src[i], LEN, true);
	}
	pair_run(&p, 50000);
	for (int i = 0; i < N; i++) {
		assert_got(pair_peer(&p, idx[i]), src[i], LEN, "server");
		assert_got(&p.ends[idx[i]], rsp, 3000, "client");
		cr_assert(p.ends[idx[i]].done, "flow %d not done", i);
		free(src[i]);
	}
	free(shared);
	free(rsp);
	pair_fini(&p);
}

/* The decoder at B fails a check (injected): B sends DECODED and RESYNC,
 * A starts a new epoch and resends from its raw bytes: byte-exact. */
Test(mux, resync_after_check_failure)
{
	size_t n = 3u << 20;
	uint8_t *up = data_new(n, 5);
	struct chan_mux_stats a, b;
	struct pair p;
	int c;

	memcpy(up + n / 3, up, n / 3); /* references too */
	memcpy(up + 2 * n / 3, up, n / 3);
	pair_init(&p, NULL, NULL);
	p.room = 128u << 10;
	pair_run(&p, 5);
	c = pair_open(&p, up, n, true);
	for (int i = 0; i < 12; i++)
		pair_step(&p);
	cr_assert_gt(pair_peer(&p, c)->got.len, 0);
	chan_mux_inject_check_failure(p.s[1].m, 1);
	pair_run(&p, 20000);
	/* a second failure, with the log of the new epoch referenced */
	assert_got(pair_peer(&p, c), up, n, "server");
	chan_mux_stats(p.s[0].m, &a);
	chan_mux_stats(p.s[1].m, &b);
	cr_assert_eq(b.resyncs_asked, 1);
	cr_assert_eq(b.decode_errors, 1);
	cr_assert(b.last_decode_error == (uint64_t)-STRAIT_DEDUPE_E_CHECK ||
		  b.last_decode_error == (uint64_t)-STRAIT_DEDUPE_E_DIGEST,
		  "error %llu", (unsigned long long)b.last_decode_error);
	cr_assert_eq(a.resyncs_done, 1);
	cr_assert_gt(a.resent_bytes, 0);
	cr_assert_eq(a.epoch_tx, b.epoch_rx);
	cr_assert_eq(b.digest_errors, 0);
	cr_assert(p.ends[c].done || pair_peer(&p, c)->got_fin);
	free(up);
	pair_fini(&p);
}

/* Several failures while many flows run, both directions. */
Test(mux, resync_many_flows)
{
	enum { N = 20, LEN = 300000 };
	uint8_t *src[N], *rsp = data_new(LEN, 77);
	struct chan_mux_stats b;
	struct pair p;
	int idx[N];

	pair_init(&p, NULL, NULL);
	p.room = 96u << 10;
	p.piece = 4000;
	p.reply = rsp;
	p.reply_len = LEN;
	p.reply_fin = true;
	pair_run(&p, 5);
	for (int i = 0; i < N; i++) {
		src[i] = data_new(LEN, (uint64_t)i + 200);
		memcpy(src[i] + LEN / 2, src[i], LEN / 2);
		idx[i] = pair_open(&p, src[i], LEN, true);
	}
	for (int k = 0; k < 4; k++) {
		for (int i = 0; i < 15; i++)
			pair_step(&p);
		chan_mux_inject_check_failure(p.s[1].m, 1);
		chan_mux_inject_check_failure(p.s[0].m, 1);
	}
	pair_run(&p, 50000);
	for (int i = 0; i < N; i++) {
		assert_got(pair_peer(&p, idx[i]), src[i], LEN, "server");
		assert_got(&p.ends[idx[i]], rsp, LEN, "client");
		cr_assert(p.ends[idx[i]].done);
		free(src[i]);
	}
	chan_mux_stats(p.s[1].m, &b);
	cr_assert_geq(b.resyncs_asked, 3);
	free(rsp);
	pair_fini(&p);
}

/* Server 0 stops reading; flow 1 of the same tenant completes. Flow 0
 * holds no more than its out ring at B and its raw ring at A. When server
 * 0 reads again, its flow completes byte-exact. */
Test(mux, stalled_server_does_not_stall_others)
{
	struct chan_mux_config cfg = { .codec.capacity = 4u << 20,
				       .raw_window = 256u << 10, .out_window = 64u << 10 };
	size_t n = 4u << 20;
	uint8_t *s0 = data_new(n, 7), *s1 = data_new(n, 8);
	struct chan_mux_stats a;
	struct pair p;
	int c0, c1;
	struct end *e0;

	pair_init(&p, &cfg, NULL);
	p.reply_fin = true; /* the servers send nothing and close their side */
	pair_run(&p, 5);
	p.server_sink_cap = 0; /* server 0 reads nothing */
	c0 = pair_open(&p, s0, n, true);
	pair_step(&p);
	e0 = pair_peer(&p, c0);
	cr_assert(e0);
	p.server_sink_cap = SIZE_MAX;
	c1 = pair_open(&p, s1, n, true);
	pair_run(&p, 20000);
	assert_got(pair_peer(&p, c1), s1, n, "server 1");
	cr_assert(pair_peer(&p, c1)->got_fin);
	cr_assert_eq(e0->got.len, 0);
	cr_assert_leq(p.max_undelivered, cfg.out_window);
	cr_assert_leq(p.max_raw_held, 2 * cfg.raw_window);
	chan_mux_stats(p.s[0].m, &a);
	cr_assert_gt(a.credit_stalls, 0);
	cr_assert_leq(a.raw_held, cfg.raw_window);
	/* flow 0 holds bytes and drains nothing now: the lag grows without
	 * bound; once it drains, the lag is finite */
	cr_assert_gt(a.raw_held, 0);
	cr_assert_gt(a.lag_us, 1000000, "lag %llu us", (unsigned long long)a.lag_us);
	/* its client offers more than the raw ring takes: held back (the
	 * backlog's age in the replication lag, dataplane/repl_lag.h) */
	cr_assert_eq(a.held_flows, 1);
	e0->sink_cap = SIZE_MAX;
	pair_run(&p, 20000);
	assert_got(e0, s0, n, "server 0");
	cr_assert(e0->got_fin);
	for (int i = 0; i < 2000; i++) /* 200 ms: the drain rate is sampled */
		pair_step(&p);
	chan_mux_stats(p.s[0].m, &a);
	cr_assert_gt(a.drain_bps, 0);
	cr_assert_eq(a.lag_us, 0);
	cr_assert_eq(a.held_flows, 0);
	cr_assert(p.ends[c0].done && e0->done);
	free(s0);
	free(s1);
	pair_fini(&p);
}

/* A 100-byte request with no FIN goes out once the flow has been idle
 * flush_us (1 ms), not before; the tentative bytes are committed later. */
Test(mux, small_write_flushed)
{
	uint8_t *src = data_new(50000, 3);
	struct pair p;
	struct chan_mux_stats a;
	struct end *s;
	int c;

	pair_init(&p, NULL, NULL);
	pair_run(&p, 5);
	c = pair_open(&p, src, 100, false);
	for (int i = 0; i < 5; i++)
		pair_step(&p);
	s = pair_peer(&p, c);
	cr_assert(s);
	cr_assert_eq(s->got.len, 0, "sent before the flush delay");
	for (int i = 0; i < 12; i++)
		pair_step(&p);
	assert_got(s, src, 100, "server");
	chan_mux_stats(p.s[0].m, &a);
	cr_assert_eq(a.flushes, 1);
	/* more bytes: the partial chunk is completed and committed */
	p.ends[c].src_len = 50000;
	p.ends[c].fin_after = true;
	pair_run(&p, 2000);
	assert_got(s, src, 50000, "server");
	cr_assert(s->got_fin);
	free(src);
	pair_fini(&p);
}

Test(mux, refused_by_policy)
{
	struct chan_mux_stats a, b;
	struct pair p;
	int c;

	pair_init(&p, NULL, NULL);
	p.refuse = CHAN_REFUSE_POLICY;
	pair_run(&p, 5);
	c = pair_open(&p, (const uint8_t *)"x", 1, true);
	pair_run(&p, 100);
	cr_assert(p.ends[c].refused);
	cr_assert_eq(p.ends[c].refusal.reason, CHAN_REFUSE_POLICY);
	chan_mux_stats(p.s[0].m, &a);
	chan_mux_stats(p.s[1].m, &b);
	cr_assert_eq(a.refused_in, 1);
	cr_assert_eq(b.refused_out, 1);
	cr_assert_eq(b.refused_policy, 1);
	cr_assert_eq(a.active + b.active, 0);
	pair_fini(&p);
}

/* The client resets mid-transfer: the server's end is reset (RST). */
Test(mux, reset_from_client)
{
	size_t n = 1u << 20;
	uint8_t *src = data_new(n, 4);
	struct pair p;
	int c;

	pair_init(&p, NULL, NULL);
	p.room = 32u << 10;
	pair_run(&p, 5);
	c = pair_open(&p, src, n, false);
	for (int i = 0; i < 10; i++)
		pair_step(&p);
	cr_assert_gt(pair_peer(&p, c)->got.len, 0);
	chan_flow_reset(p.ends[c].f, CHAN_RESET_RST);
	p.ends[c].f = NULL;
	pair_run(&p, 100);
	cr_assert(pair_peer(&p, c)->got_reset);
	cr_assert_eq(pair_peer(&p, c)->reset_reason, CHAN_RESET_RST);
	free(src);
	pair_fini(&p);
}

/* The channel goes away mid-transfer: every flow is reset at both ends. */
Test(mux, session_end_resets_flows)
{
	size_t n = 1u << 20;
	uint8_t *src = data_new(n, 4);
	struct pair p;
	int c[3];

	pair_init(&p, NULL, NULL);
	p.room = 32u << 10;
	pair_run(&p, 5);
	for (int i = 0; i < 3; i++)
		c[i] = pair_open(&p, src, n, true);
	for (int i = 0; i < 10; i++)
		pair_step(&p);
	chan_mux_reset(p.s[0].m);
	chan_mux_reset(p.s[1].m);
	for (int i = 0; i < 3; i++) {
		cr_assert(p.ends[c[i]].got_reset);
		cr_assert_eq(p.ends[c[i]].reset_reason, CHAN_RESET_ABORT);
		cr_assert(pair_peer(&p, c[i])->got_reset);
	}
	/* a new session works */
	chan_mux_start(p.s[0].m, p.now);
	chan_mux_start(p.s[1].m, p.now);
	pair_run(&p, 5);
	cr_assert(chan_mux_up(p.s[0].m));
	c[0] = pair_open(&p, src, 1000, true);
	pair_run(&p, 100);
	assert_got(pair_peer(&p, c[0]), src, 1000, "server");
	free(src);
	pair_fini(&p);
}

Test(mux, workspace_is_everything)
{
	struct chan_mux_config cfg = { .codec.capacity = 1u << 30 };
	size_t enc, dec;

	chan_mux_config_defaults(&cfg);
	enc = strait_dedupe_encoder_size(&cfg.codec);
	dec = strait_dedupe_decoder_size(&cfg.codec);
	/* the codec, the rings of every flow and a frame of staging */
	cr_assert_geq(chan_mux_size(&cfg), enc + dec +
		      (size_t)cfg.max_flows * (cfg.raw_window + cfg.out_window) + CHAN_FRAME_MAX);
	cfg.raw_window = 3000; /* not a power of two */
	cr_assert_eq(chan_mux_size(&cfg), 0);
}

/* STRAIT_FUZZ_SEEDS=DIR writes fuzz-channel seeds: what A sent in a
 * session with a flow each way (flush, references, FIN), once as a stream
 * for the parser alone (control byte 0) and once for the mux (1, 3). */
Test(mux, fuzz_seeds)
{
	const char *dir = getenv("STRAIT_FUZZ_SEEDS");
	struct chan_mux_config cfg = { .codec.capacity = 1u << 20, .max_flows = 4,
				       .raw_window = 4096, .out_window = 65536,
				       .quantum = 4096 };
	uint8_t *src;
	struct buf rec = { 0 };
	struct pair p;
	static const uint8_t ctl[] = { 0, 1, 3, 0x21, 0x81 };

	if (!dir)
		return;
	src = data_new(6000, 11);
	memcpy(src + 3000, src, 3000);
	pair_init(&p, &cfg, NULL);
	p.record[0] = &rec;
	p.reply = src;
	p.reply_len = 500;
	p.reply_fin = true;
	pair_run(&p, 5);
	pair_open(&p, src, 6000, true);
	pair_run(&p, 2000);
	for (unsigned i = 0; i < sizeof(ctl); i++) {
		char path[512];
		FILE *fp;

		snprintf(path, sizeof(path), "%s/session-%02x", dir, ctl[i]);
		fp = fopen(path, "wb");
		cr_assert(fp);
		fwrite(&ctl[i], 1, 1, fp);
		fwrite(rec.p, 1, rec.len, fp);
		fclose(fp);
	}
	buf_free(&rec);
	free(src);
	pair_fini(&p);
}

/* Cache files (chan_mux_config cache_tx/rx): the logs outlive the muxes. */
struct files {
	char dir[64];
	struct strait_dedupe_cache_file *cf[4]; /* A.tx A.rx B.tx B.rx */
	struct chan_mux_config cfg[2];
};

static void files_open(struct files *fs, enum strait_dedupe_cache_status want_a_tx)
{
	static const char *const name[4] = { "a.tx", "a.rx", "b.tx", "b.rx" };

	for (int i = 0; i < 2; i++) {
		fs->cfg[i] = (struct chan_mux_config){ .codec.capacity = 4u << 20, .max_flows = 16 };
		chan_mux_config_defaults(&fs->cfg[i]);
	}
	for (int i = 0; i < 4; i++) {
		enum strait_dedupe_cache_status st;
		char path[96], msg[256];

		snprintf(path, sizeof(path), "%s/%s", fs->dir, name[i]);
		cr_assert_eq(strait_dedupe_cache_file_open(path, &fs->cfg[0].codec, 0, &fs->cf[i],
							   &st, msg, sizeof(msg)), 0, "%s", msg);
		if (i == 0)
			cr_assert_eq(st, want_a_tx, "%s: %s", path, msg);
	}
	fs->cfg[0].cache_tx = fs->cf[0];
	fs->cfg[0].cache_rx = fs->cf[1];
	fs->cfg[1].cache_tx = fs->cf[2];
	fs->cfg[1].cache_rx = fs->cf[3];
}

/* One upload of src through a new pair on the files; the pair's stats. */
static void files_session(struct files *fs, const uint8_t *src, size_t n,
			  struct chan_mux_stats *a, struct chan_mux_stats *b)
{
	struct pair p;
	int c;

	pair_init(&p, &fs->cfg[0], &fs->cfg[1]);
	p.reply_fin = true;
	pair_run(&p, 5);
	c = pair_open(&p, src, n, true);
	pair_run(&p, 20000);
	assert_got(pair_peer(&p, c), src, n, "server");
	cr_assert(p.ends[c].done && pair_peer(&p, c)->done);
	chan_mux_stats(p.s[0].m, a);
	chan_mux_stats(p.s[1].m, b);
	cr_assert_eq(chan_mux_commit(p.s[0].m), 0);
	cr_assert_eq(chan_mux_commit(p.s[1].m), 0);
	pair_fini(&p);
	for (int i = 0; i < 4; i++)
		strait_dedupe_cache_file_close(fs->cf[i]);
}

Test(mux, cache_files_continue_after_restart)
{
	size_t n = 1u << 20;
	uint8_t *up = data_new(n, 7);
	struct chan_mux_stats a, b;
	struct files fs;
	char cmd[96];

	snprintf(fs.dir, sizeof(fs.dir), "/tmp/strait-mux-cache-XXXXXX");
	cr_assert(mkdtemp(fs.dir));
	/* 1: new files, new epoch, the bytes sent in full */
	files_open(&fs, STRAIT_DEDUPE_CACHE_CREATED);
	files_session(&fs, up, n, &a, &b);
	cr_assert_eq(a.continued_tx + b.continued_rx, 0);
	cr_assert_gt(a.records_out, n, "first pass: %llu", (unsigned long long)a.records_out);
	/* 2: both "restarted" from their files: the log continues (the same
	 * epoch at both ends), the same bytes cost under 2 % */
	files_open(&fs, STRAIT_DEDUPE_CACHE_LOADED);
	files_session(&fs, up, n, &a, &b);
	cr_assert_eq(a.continued_tx, 1);
	cr_assert_eq(b.continued_rx, 1);
	cr_assert_eq(a.epoch_tx, b.epoch_rx);
	cr_assert_lt(a.records_out, n / 50, "after the restart: %llu bytes",
		     (unsigned long long)a.records_out);
	/* 3: B lost its decoder's file: A's encoder starts a new epoch, the
	 * bytes are sent in full and arrive exactly */
	snprintf(cmd, sizeof(cmd), "%s/b.rx", fs.dir);
	cr_assert_eq(unlink(cmd), 0);
	files_open(&fs, STRAIT_DEDUPE_CACHE_LOADED);
	files_session(&fs, up, n, &a, &b);
	cr_assert_eq(a.continued_tx + b.continued_rx, 0);
	cr_assert_gt(a.records_out, n);
	cr_assert_eq(a.epoch_tx, b.epoch_rx);
	for (const char *f = "a.tx\0a.rx\0b.tx\0b.rx\0"; *f; f += strlen(f) + 1) {
		snprintf(cmd, sizeof(cmd), "%s/%s", fs.dir, f);
		unlink(cmd);
	}
	rmdir(fs.dir);
	free(up);
}
