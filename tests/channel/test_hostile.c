/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_hostile.c - a hostile peer, written frame by frame, against one mux
 * (the appliance that accepts the channel). Each case says what it gets:
 * a broken frame or session rule fails the session (a sticky, named
 * error); a broken flow rule resets that flow only (RESET to the peer,
 * reset to the local end) and the next flow works; a decoder failure asks
 * for RESYNC.
 */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <xxhash.h>

#include "channel_mux.h"
#include "pair.h"

enum { FLOWS = 8, WINDOW = 64u << 10 };

struct fake {
	struct chan_mux *m;
	void *mem;
	struct strait_dedupe_params p;
	void *emem, *fmem[FLOWS];
	struct strait_dedupe_encoder *enc;
	struct strait_dedupe_flow *fl[FLOWS];
	uint64_t off[FLOWS];   /* decoded bytes sent per flow (by id / 2) */
	int err;
	/* what the mux told its local ends */
	unsigned opens, resets[FLOWS], reset_reason[FLOWS], fins[FLOWS];
	size_t got[FLOWS];
	/* what the mux sent back */
	unsigned sent[CHAN_TYPE_MAX + 1];
	uint64_t last_value[CHAN_TYPE_MAX + 1];
	uint32_t last_flow[CHAN_TYPE_MAX + 1];
	uint16_t last_cause;
};

static int cb_open(void *ctx, struct chan_flow *f, const struct chan_open *o)
{
	struct fake *k = ctx;

	k->opens++;
	chan_flow_set_user(f, (void *)(uintptr_t)(chan_flow_id(f) / 2 + 1));
	chan_flow_accept(f);
	return 0;
}

static unsigned idx(struct chan_flow *f)
{
	return (unsigned)(uintptr_t)chan_flow_user(f) - 1;
}

static size_t cb_deliver(void *ctx, struct chan_flow *f, const uint8_t *p, size_t n)
{
	struct fake *k = ctx;

	k->got[idx(f)] += n;
	return n;
}

static void cb_reset(void *ctx, struct chan_flow *f, unsigned reason)
{
	struct fake *k = ctx;

	if (!chan_flow_user(f))
		return;
	k->resets[idx(f)]++;
	k->reset_reason[idx(f)] = reason;
}

static void cb_fin(void *ctx, struct chan_flow *f)
{
	struct fake *k = ctx;

	k->fins[idx(f)]++;
}

static const struct chan_mux_ops ops = {
	.open = cb_open, .deliver = cb_deliver, .reset = cb_reset, .fin = cb_fin,
};

static void fake_init(struct fake *k, uint32_t max_flows)
{
	struct chan_mux_config cfg = { .codec.capacity = 4u << 20, .role = CHAN_ROLE_ACCEPT,
				       .out_window = WINDOW, .max_flows = max_flows,
				       .quantum = 64u << 10 };
	size_t n;

	memset(k, 0, sizeof(*k));
	chan_mux_config_defaults(&cfg);
	n = chan_mux_size(&cfg);
	k->mem = aligned_alloc(64, (n + 63) & ~(size_t)63);
	k->m = chan_mux_init(k->mem, n, &cfg, &ops, k);
	cr_assert(k->m);
	chan_mux_start(k->m, 1);
	k->p = cfg.codec;
	n = strait_dedupe_encoder_size(&k->p);
	k->emem = malloc(n);
	k->enc = strait_dedupe_encoder_init(k->emem, n, &k->p, 1);
	for (int i = 0; i < FLOWS; i++) {
		n = strait_dedupe_flow_size(&k->p);
		k->fmem[i] = malloc(n);
		k->fl[i] = strait_dedupe_flow_init(k->fmem[i], n, &k->p, (uint32_t)i * 2);
	}
}

static void fake_fini(struct fake *k)
{
	chan_mux_reset(k->m);
	free(k->mem);
	free(k->emem);
	for (int i = 0; i < FLOWS; i++)
		free(k->fmem[i]);
}

static void fake_send(struct fake *k, const struct chan_frame *f)
{
	uint8_t b[256];
	size_t n = chan_frame_write(b, sizeof(b), f);

	cr_assert(n, "frame %s not written", chan_type_name(f->type));
	k->err = chan_mux_rx(k->m, b, n);
}

static void fake_raw(struct fake *k, const uint8_t *b, size_t n)
{
	k->err = chan_mux_rx(k->m, b, n);
}

/* What the mux sends: counted by type. */
static void fake_pull(struct fake *k)
{
	static uint8_t out[1 << 20];
	size_t n = chan_mux_tx(k->m, out, sizeof(out), 2), pos = 0;

	while (pos < n) {
		struct chan_frame f;
		long len = chan_frame_parse(out + pos, n - pos, &f);

		cr_assert_gt(len, 0);
		k->sent[f.type]++;
		k->last_flow[f.type] = f.flow;
		k->last_value[f.type] = f.value;
		if (f.type == CHAN_RESYNC) {
			k->last_value[f.type] = f.resync.epoch;
			k->last_cause = f.resync.cause;
		}
		pos += (size_t)len;
	}
}

static void fake_hello(struct fake *k, uint32_t epoch)
{
	struct chan_frame f = { .type = CHAN_HELLO, .hello = {
		.version = CHAN_VERSION, .epoch = epoch, .codec_version = STRAIT_DEDUPE_VERSION,
		.min_chunk = k->p.min_chunk, .avg_chunk = k->p.avg_chunk,
		.max_chunk = k->p.max_chunk, .capacity = k->p.capacity } };

	strait_dedupe_encoder_reset(k->enc, epoch);
	fake_send(k, &f);
	cr_assert_eq(k->err, 0);
	fake_pull(k);
	cr_assert_eq(k->sent[CHAN_HELLO], 1);
}

/* The peer opens flow id; B accepts it and its OPENED (the credit B
 * grants) goes out. */
static void fake_open(struct fake *k, uint32_t id)
{
	struct chan_frame f = { .type = CHAN_OPEN, .flow = id, .open = {
		.af = 4, .client_port = 1000, .server_port = 873, .credit = WINDOW } };

	fake_send(k, &f);
	if (!k->err)
		fake_pull(k);
}

/* n bytes of flow id as one DATA frame (any credit). */
static void fake_data(struct fake *k, uint32_t id, const uint8_t *p, size_t n,
		      enum strait_dedupe_mode mode)
{
	size_t cap = CHAN_FRAME_MAX + 65536;
	uint8_t *b = malloc(cap);
	struct strait_dedupe_encode_result r;

	cr_assert_eq(strait_dedupe_encode(k->enc, k->fl[id / 2], p, n, mode, UINT64_MAX,
					  b + CHAN_HEADER_SIZE + CHAN_DATA_HEAD, cap - 20, &r), 0);
	cr_assert_gt(r.out_len, 0);
	chan_data_head_write(b, id, 1, k->off[id / 2], (uint32_t)r.out_len);
	k->off[id / 2] += r.decoded;
	fake_raw(k, b, CHAN_HEADER_SIZE + CHAN_DATA_HEAD + r.out_len);
	free(b);
}

Test(hostile, frame_before_hello)
{
	struct fake k;

	fake_init(&k, 4);
	fake_open(&k, 0);
	cr_assert_eq(k.err, CHAN_MUX_E_NO_HELLO);
	/* sticky */
	fake_open(&k, 2);
	cr_assert_eq(k.err, CHAN_MUX_E_NO_HELLO);
	cr_assert(!chan_mux_up(k.m));
	fake_fini(&k);
}

Test(hostile, unknown_frame_type)
{
	static const uint8_t b[] = { 42, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 };
	struct fake k;

	fake_init(&k, 4);
	fake_hello(&k, 1);
	fake_raw(&k, b, sizeof(b));
	cr_assert_eq(k.err, CHAN_E_TYPE);
	cr_assert_str_eq(chan_mux_why(k.m), "unknown frame type (frame type 42)");
	fake_fini(&k);
}

Test(hostile, second_hello)
{
	struct fake k;

	struct chan_frame f = { .type = CHAN_HELLO, .hello.version = CHAN_VERSION };

	fake_init(&k, 4);
	fake_hello(&k, 1);
	fake_send(&k, &f);
	cr_assert_eq(k.err, CHAN_MUX_E_HELLO);
	fake_fini(&k);
}

Test(hostile, open_with_our_role_or_old_id)
{
	struct fake k;

	fake_init(&k, 4);
	fake_hello(&k, 1);
	fake_open(&k, 1); /* odd: an id the accepting side would pick */
	cr_assert_eq(k.err, CHAN_MUX_E_FLOW_ID);
	fake_fini(&k);

	fake_init(&k, 4);
	fake_hello(&k, 1);
	fake_open(&k, 4);
	cr_assert_eq(k.err, 0);
	fake_open(&k, 2); /* ids only grow */
	cr_assert_eq(k.err, CHAN_MUX_E_FLOW_ID);
	fake_fini(&k);
}

/* DATA past the credit B granted resets that flow; another flow goes on. */
Test(hostile, data_past_credit)
{
	size_t n = 3 * WINDOW;
	uint8_t *p = malloc(n);
	struct chan_mux_stats st;
	struct fake k;

	fill_random(p, n, 1);
	fake_init(&k, 4);
	fake_hello(&k, 1);
	fake_open(&k, 0);
	fake_open(&k, 2);
	cr_assert_eq(k.sent[CHAN_OPENED], 2);
	cr_assert_eq(k.last_value[CHAN_OPENED], WINDOW);
	fake_data(&k, 0, p, n, STRAIT_DEDUPE_CONTINUE);
	cr_assert_eq(k.err, 0, "the session survives");
	cr_assert_eq(k.resets[0], 1);
	cr_assert_eq(k.reset_reason[0], CHAN_RESET_PROTOCOL);
	cr_assert_leq(k.got[0], WINDOW);
	fake_pull(&k);
	cr_assert_eq(k.sent[CHAN_RESET], 1);
	cr_assert_eq(k.last_flow[CHAN_RESET], 0);
	/* flow 2 still decodes: the log stayed mirrored */
	fake_data(&k, 2, p, WINDOW / 2, STRAIT_DEDUPE_CONTINUE);
	fake_data(&k, 2, p + WINDOW / 2, WINDOW / 2, STRAIT_DEDUPE_END);
	cr_assert_eq(k.err, 0);
	cr_assert_eq(k.got[1], WINDOW);
	chan_mux_stats(k.m, &st);
	cr_assert_eq(st.flow_errors, 1);
	cr_assert_eq(st.decode_errors, 0);
	free(p);
	fake_fini(&k);
}

/* DATA whose offset is not where the flow is. */
Test(hostile, data_offset_out_of_order)
{
	uint8_t p[1000];
	struct fake k;

	fill_random(p, sizeof(p), 2);
	fake_init(&k, 4);
	fake_hello(&k, 1);
	fake_open(&k, 0);
	fake_data(&k, 0, p, 500, STRAIT_DEDUPE_FLUSH);
	cr_assert_eq(k.got[0], 500);
	k.off[0] += 7;
	fake_data(&k, 0, p, 500, STRAIT_DEDUPE_FLUSH);
	cr_assert_eq(k.err, 0);
	cr_assert_eq(k.resets[0], 1);
	cr_assert_eq(k.got[0], 500);
	fake_fini(&k);
}

/* Records of flow 2 in a DATA frame of flow 0: never delivered to flow 0;
 * the decoder stream is suspect, so RESYNC. */
Test(hostile, data_records_of_another_flow)
{
	uint8_t p[1000];
	uint8_t b[32768];
	struct strait_dedupe_encode_result r;
	struct chan_mux_stats st;
	struct fake k;

	fill_random(p, sizeof(p), 3);
	fake_init(&k, 4);
	fake_hello(&k, 1);
	fake_open(&k, 0);
	fake_open(&k, 2);
	cr_assert_eq(strait_dedupe_encode(k.enc, k.fl[1], p, sizeof(p), STRAIT_DEDUPE_FLUSH,
					  UINT64_MAX, b + 20, sizeof(b) - 20, &r), 0);
	chan_data_head_write(b, 0, 1, 0, (uint32_t)r.out_len);
	fake_raw(&k, b, 20 + r.out_len);
	cr_assert_eq(k.err, 0);
	cr_assert_eq(k.got[0] + k.got[1], 0);
	chan_mux_stats(k.m, &st);
	cr_assert_eq(st.resyncs_asked, 1);
	fake_pull(&k);
	cr_assert_eq(k.sent[CHAN_RESYNC], 1);
	cr_assert_eq(k.last_value[CHAN_RESYNC], 2);
	/* DATA of the old epoch is skipped from now on */
	fake_data(&k, 0, p, 10, STRAIT_DEDUPE_FLUSH);
	cr_assert_eq(k.got[0], 0);
	chan_mux_stats(k.m, &st);
	cr_assert_eq(st.stale_frames, 1);
	fake_fini(&k);
}

/* A corrupt record check: nothing of it is delivered; DECODED for the
 * flows, then RESYNC with the cause. */
Test(hostile, corrupt_check_resyncs)
{
	uint8_t p[3000];
	struct fake k;

	fill_random(p, sizeof(p), 4);
	fake_init(&k, 4);
	fake_hello(&k, 1);
	fake_open(&k, 0);
	fake_data(&k, 0, p, 1000, STRAIT_DEDUPE_FLUSH);
	fake_pull(&k);
	cr_assert_eq(k.got[0], 1000);
	chan_mux_inject_check_failure(k.m, 1);
	fake_data(&k, 0, p + 1000, 1000, STRAIT_DEDUPE_FLUSH);
	cr_assert_eq(k.got[0], 1000, "a failed record is never delivered");
	memset(k.sent, 0, sizeof(k.sent));
	fake_pull(&k);
	cr_assert_eq(k.sent[CHAN_RESYNC], 1);
	cr_assert_eq(k.last_value[CHAN_RESYNC], 2);
	cr_assert(k.last_cause == (uint16_t)-STRAIT_DEDUPE_E_DIGEST ||
		  k.last_cause == (uint16_t)-STRAIT_DEDUPE_E_CHECK, "cause %u", k.last_cause);
	/* the peer's new epoch: header, then the flow from byte 1000 */
	strait_dedupe_encoder_reset(k.enc, 2);
	strait_dedupe_flow_init(k.fl[0], strait_dedupe_flow_size(&k.p), &k.p, 0);
	{
		uint8_t b[32768];
		struct strait_dedupe_encode_result r;

		cr_assert_eq(strait_dedupe_encode(k.enc, k.fl[0], p + 1000, 2000,
						  STRAIT_DEDUPE_END, UINT64_MAX, b + 20,
						  sizeof(b) - 20, &r), 0);
		chan_data_head_write(b, 0, 2, 1000, (uint32_t)r.out_len);
		fake_raw(&k, b, 20 + r.out_len);
	}
	cr_assert_eq(k.err, 0);
	cr_assert_eq(k.got[0], 3000);
	fake_fini(&k);
}

Test(hostile, resync_to_wrong_epoch)
{
	struct chan_frame f = { .type = CHAN_RESYNC, .resync = { 7, 1 } };
	struct fake k;

	fake_init(&k, 4);
	fake_hello(&k, 1);
	fake_send(&k, &f);
	cr_assert_eq(k.err, CHAN_MUX_E_RESYNC);
	fake_fini(&k);
}

/* CREDIT that goes down, DECODED past what was sent, OPENED for a flow
 * the peer opened itself: each resets its flow only. */
Test(hostile, flow_rules)
{
	struct chan_frame f = { .type = CHAN_CREDIT, .flow = 0, .value = WINDOW - 1 };
	struct fake k;

	fake_init(&k, 4);
	fake_hello(&k, 1);
	fake_open(&k, 0);
	fake_open(&k, 2);
	fake_open(&k, 4);
	fake_send(&k, &f); /* below the OPEN's credit */
	f = (struct chan_frame){ .type = CHAN_DECODED, .flow = 2, .value = 1 };
	fake_send(&k, &f);
	f = (struct chan_frame){ .type = CHAN_OPENED, .flow = 4, .value = 1 };
	fake_send(&k, &f);
	cr_assert_eq(k.err, 0);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(k.resets[i], 1, "flow %d", i);
		cr_assert_eq(k.reset_reason[i], CHAN_RESET_PROTOCOL);
	}
	fake_pull(&k);
	cr_assert_eq(k.sent[CHAN_RESET], 3);
	/* frames for the released flows are stale, not errors */
	fake_send(&k, &f);
	cr_assert_eq(k.err, 0);
	fake_fini(&k);
}

/* A CLOSE whose digest does not match the bytes: the flow is reset (the
 * server sees RST, never a clean end). A good CLOSE: FIN after the bytes. */
Test(hostile, close_digest)
{
	uint8_t p[2000];
	struct chan_frame f = { .type = CHAN_CLOSE, .flow = 0, .close = { 1000, 12345 } };
	struct chan_mux_stats st;
	struct fake k;

	fill_random(p, sizeof(p), 5);
	fake_init(&k, 4);
	fake_hello(&k, 1);
	fake_open(&k, 0);
	fake_open(&k, 2);
	fake_data(&k, 0, p, 1000, STRAIT_DEDUPE_END);
	fake_send(&k, &f);
	cr_assert_eq(k.resets[0], 1);
	cr_assert_eq(k.reset_reason[0], CHAN_RESET_DIGEST);
	cr_assert_eq(k.fins[0], 0);
	chan_mux_stats(k.m, &st);
	cr_assert_eq(st.digest_errors, 1);
	fake_data(&k, 2, p, 1000, STRAIT_DEDUPE_END);
	f.flow = 2;
	f.close.digest = XXH3_64bits(p, 1000);
	f.close.total = 999; /* wrong total */
	fake_send(&k, &f);
	cr_assert_eq(k.resets[1], 1);
	cr_assert_eq(k.fins[1], 0);
	fake_fini(&k);

	fake_init(&k, 4);
	fake_hello(&k, 1);
	fake_open(&k, 0);
	fake_data(&k, 0, p, 1000, STRAIT_DEDUPE_END);
	f.flow = 0;
	f.close.total = 1000;
	fake_send(&k, &f);
	cr_assert_eq(k.fins[0], 1);
	cr_assert_eq(k.resets[0], 0);
	fake_fini(&k);
}

/* More OPENs than flows: the extra ones are refused (busy); a peer that
 * keeps opening past what the mux can answer fails the session. */
Test(hostile, open_flood)
{
	struct fake k;
	uint32_t id = 0;

	fake_init(&k, 2);
	fake_hello(&k, 1);
	fake_open(&k, id);
	fake_open(&k, id += 2);
	fake_open(&k, id += 2);
	cr_assert_eq(k.err, 0);
	cr_assert_eq(k.sent[CHAN_REFUSED], 1);
	cr_assert_eq(k.last_flow[CHAN_REFUSED], 4);
	/* OPENs while the mux is given no chance to answer */
	for (int i = 0; i < 64 && !k.err; i++) {
		struct chan_frame f = { .type = CHAN_OPEN, .flow = id += 2, .open = {
			.af = 4, .client_port = 1, .server_port = 2 } };

		fake_send(&k, &f);
	}
	cr_assert_eq(k.err, 0);
	{
		struct chan_frame f = { .type = CHAN_OPEN, .flow = id += 2, .open = {
			.af = 4, .client_port = 1, .server_port = 2 } };

		fake_send(&k, &f);
	}
	cr_assert_eq(k.err, CHAN_MUX_E_FLOOD);
	fake_fini(&k);
}
