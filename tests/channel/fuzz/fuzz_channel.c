/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_channel.c - libFuzzer target for channel frames and the mux that
 * reads them (a hostile peer appliance).
 *
 * Input: one control byte, then a channel byte stream.
 *  - bit 0 clear: the frame parser alone. Every frame it accepts must
 *    write back to exactly its input bytes (the format is canonical), and
 *    it must stop at the first error or incomplete frame.
 *  - bit 0 set: the stream goes to a mux (the accepting appliance, 4 flows,
 *    1 MiB cache) after a valid HELLO (unless the input brings its own),
 *    in pieces of 1..64 bytes or whole (bits 1-3), with the mux's own output
 *    pulled after each piece (bit 4: through 100 bytes of room only), local
 *    ends that take 0, 7 or all bytes (bits 5-6), and the test knob's check
 *    failure armed (bit 7). Flows the peer opens are checked as B checks
 *    them (relay_policy.c, under a rule that allows every address and
 *    port, so every address check runs), then accepted, written to and
 *    closed. The mux must never read or write out of bounds (ASan)
 *    and its counters must stay consistent.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "channel_mux.h"
#include "relay_policy.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct chan_mux *mux;
static struct strait_dedupe_params params;
static size_t sink_cap;
static uint8_t out[1 << 20];
static struct chan_flow *flows[8];
static struct strait_config policy; /* one tenant: any address, any port */

static int cb_open(void *ctx, struct chan_flow *f, const struct chan_open *o)
{
	enum relay_refusal why = relay_open_check(&policy, 0, o);

	if (why >= RELAY_OPEN_REASONS || relay_open_vlan(o) > 4095)
		abort();
	if (o->server_port == 1)
		return CHAN_REFUSE_POLICY;
	chan_flow_accept(f);
	for (unsigned i = 0; i < 8; i++)
		if (!flows[i]) {
			flows[i] = f;
			chan_flow_set_user(f, &flows[i]);
			break;
		}
	return 0;
}

static void forget(struct chan_flow *f)
{
	struct chan_flow **slot = chan_flow_user(f);

	if (slot)
		*slot = NULL;
}

static size_t cb_deliver(void *ctx, struct chan_flow *f, const uint8_t *p, size_t n)
{
	return n < sink_cap ? n : sink_cap;
}

static void cb_reset(void *ctx, struct chan_flow *f, unsigned reason)
{
	forget(f);
}

static void cb_refused(void *ctx, struct chan_flow *f, const struct chan_refused *r)
{
	forget(f);
}

static void cb_done(void *ctx, struct chan_flow *f)
{
	forget(f);
}

static void cb_fin(void *ctx, struct chan_flow *f)
{
	chan_flow_fin(f);
}

static const struct chan_mux_ops ops = {
	.open = cb_open, .deliver = cb_deliver, .reset = cb_reset, .refused = cb_refused,
	.fin = cb_fin, .done = cb_done,
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct chan_mux_config c = { .codec.capacity = 1u << 20, .role = CHAN_ROLE_ACCEPT,
				     .max_flows = 4, .raw_window = 4096,
				     .out_window = 65536, .quantum = 4096 };
	size_t n;

	chan_mux_config_defaults(&c);
	params = c.codec;
	policy.n_tenants = 1;
	if (!strait_parse_prefix("0.0.0.0/0", &policy.tenants[0].client[0]) ||
	    !strait_parse_prefix("::/0", &policy.tenants[0].client[1]) ||
	    !strait_parse_prefix("0.0.0.0/0", &policy.tenants[0].server[0]) ||
	    !strait_parse_prefix("::/0", &policy.tenants[0].server[1]) ||
	    !strait_parse_prefix("198.18.1.1/24", &policy.appliance.lan.addr4))
		abort();
	policy.tenants[0].n_client = policy.tenants[0].n_server = 2;
	policy.tenants[0].ports[0] = (struct strait_port_range){ 1, 65535 };
	policy.tenants[0].n_ports = 1;
	policy.tenants[0].vlans[0] = 0;
	policy.tenants[0].vlans[1] = 100;
	policy.tenants[0].n_vlans = 2;
	n = chan_mux_size(&c);
	mux = chan_mux_init(aligned_alloc(64, (n + 63) & ~(size_t)63), n, &c, &ops, NULL);
	if (!mux)
		abort();
	return 0;
}

static void parse_only(const uint8_t *p, size_t n)
{
	static uint8_t back[CHAN_FRAME_MAX];

	while (n) {
		struct chan_frame f;
		long len = chan_frame_parse(p, n, &f);
		size_t w;

		if (len <= 0)
			return;
		if ((size_t)len > n)
			abort();
		w = chan_frame_write(back, sizeof(back), &f);
		if (w != (size_t)len || memcmp(back, p, w))
			abort();
		p += len;
		n -= (size_t)len;
	}
}

static void pull(size_t room, uint64_t now)
{
	size_t n = chan_mux_tx(mux, out, room, now), pos = 0;

	/* what the mux writes must parse */
	while (pos < n) {
		struct chan_frame f;
		long len = chan_frame_parse(out + pos, n - pos, &f);

		if (len <= 0)
			abort();
		pos += (size_t)len;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t payload[300] = { 1, 2, 3 };
	uint8_t ctl;
	size_t piece, room;
	uint64_t now = 1;

	if (!size)
		return 0;
	ctl = data[0];
	data++;
	size--;
	if (!(ctl & 1)) {
		parse_only(data, size);
		return 0;
	}
	piece = (ctl >> 1 & 7) ? (size_t)1 << (ctl >> 1 & 7) >> 1 : SIZE_MAX;
	room = ctl & 16 ? 100 : sizeof(out);
	sink_cap = (ctl >> 5 & 3) == 0 ? 0 : (ctl >> 5 & 3) == 1 ? 7 : SIZE_MAX;
	memset(flows, 0, sizeof(flows));
	chan_mux_start(mux, now);
	chan_mux_inject_check_failure(mux, ctl >> 7);
	if (!size || data[0] != CHAN_HELLO) {
		struct chan_frame f = { .type = CHAN_HELLO, .hello = {
			.version = CHAN_VERSION, .epoch = 1,
			.codec_version = STRAIT_DEDUPE_VERSION,
			.min_chunk = params.min_chunk, .avg_chunk = params.avg_chunk,
			.max_chunk = params.max_chunk, .capacity = params.capacity } };
		uint8_t b[CHAN_CONTROL_MAX];
		size_t n = chan_frame_write(b, sizeof(b), &f);

		if (chan_mux_rx(mux, b, n))
			abort();
	}
	while (size) {
		size_t k = size < piece ? size : piece;

		chan_mux_rx(mux, data, k);
		data += k;
		size -= k;
		for (unsigned i = 0; i < 8; i++) {
			if (!flows[i])
				continue;
			chan_flow_write(flows[i], payload, sizeof(payload));
			chan_flow_drain(flows[i]);
		}
		pull(room, now += 500);
	}
	for (unsigned i = 0; i < 8; i++)
		if (flows[i])
			chan_flow_fin(flows[i]);
	pull(sizeof(out), now += 5000);
	{
		struct chan_mux_stats st;

		chan_mux_stats(mux, &st);
		if (st.active > 4)
			abort();
	}
	chan_mux_reset(mux);
	return 0;
}
