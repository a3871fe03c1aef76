/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer target: a hostile frame through everything that reads a
 * received frame without DPDK: pkt_parse() and pkt_parse_seg() (the frame
 * cut into a first segment), flow keys, local_classify() and
 * local_answer() for an untagged and a VLAN-tagged port. Each read runs
 * in a buffer of exactly the bytes it may read, so ASan sees any overrun.
 * Input: byte 0 picks the first-segment length and the answer room; the
 * rest is the frame. Checks what must hold: lengths and offsets within the
 * frame, an answer within its buffer that parses back. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "flow.h"
#include "local.h"
#include "pkt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct local_addr ports[2] = {
	{ .mac = { 2, 0, 0, 0, 1, 1 }, .vlan = 0, .has4 = true, .has6 = true,
	  .ip4 = { 198, 18, 0, 1 }, .ip6 = { 0x20, 0x01, 0, 2, [15] = 1 }, .plen4 = 24, .plen6 = 64,
	  .has_gw4 = true, .gw4 = { 198, 18, 0, 254 } },
	{ .mac = { 2, 0, 0, 0, 1, 2 }, .vlan = 7, .has4 = true, .has6 = true,
	  .ip4 = { 198, 18, 1, 1 }, .ip6 = { 0x20, 0x01, 0, 2, 0, 0, 0, 1, [15] = 1 },
	  .plen4 = 24, .plen6 = 64 },
};

static void check_info(const struct pkt_info *pi, uint32_t seg, uint32_t len)
{
	if (pi->l2_len > seg || pi->ip_len + (uint32_t)pi->l2_len > len)
		abort();
	if (pi->l4_proto == PROTO_TCP && pi->l4_off + (uint32_t)pi->l4_len > seg)
		abort();
	if (pi->family && pi->l2_len + (uint32_t)pi->l3_len > seg)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 9000)
		return 0;
	uint8_t ctl = data[0];
	data++;
	size--;
	uint32_t len = (uint32_t)size;
	uint32_t room = (ctl & 1) ? 128 : 0;
	/* the whole frame in one buffer of exactly len bytes */
	uint8_t *b = malloc(len ? len : 1);
	memcpy(b, data, len);
	struct pkt_info pi;
	enum pkt_malformed r = pkt_parse(b, len, &pi);
	if (r >= PKT_MALFORMED_COUNT)
		abort();
	if (r == PKT_OK) {
		check_info(&pi, len, len);
		if (pi.l4_proto == PROTO_TCP && !pi.is_fragment) {
			struct flow_key k;
			flow_key_make(&pi, &k);
			(void)flow_key_hash(&k);
		}
		for (int p = 0; p < 2; p++) {
			enum local_verdict v = local_classify(b, len, &pi, &ports[p]);
			uint32_t cap = len + room;
			uint8_t *c = malloc(cap ? cap : 1);
			memcpy(c, data, len);
			struct pkt_info pc;
			if (pkt_parse(c, len, &pc) != PKT_OK)
				abort(); /* same bytes, same verdict */
			uint32_t out = local_answer(c, len, cap, &pc, &ports[p], v);
			if (out > cap)
				abort();
			if (out) {
				struct pkt_info back;
				if (pkt_parse(c, out, &back) != PKT_OK)
					abort();
			}
			free(c);
		}
	}
	free(b);
	/* the same frame with only a first segment readable */
	uint32_t seg = len ? (uint32_t)(ctl >> 1) * len / 127 : 0;
	uint8_t *s = malloc(seg ? seg : 1);
	memcpy(s, data, seg);
	r = pkt_parse_seg(s, seg, len, &pi);
	if (r == PKT_OK) {
		check_info(&pi, seg, len);
		for (int p = 0; p < 2; p++)
			(void)local_classify(s, seg, &pi, &ports[p]);
	}
	free(s);
	return 0;
}
