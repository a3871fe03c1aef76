/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_reasm.c - libFuzzer target for strait-profile's TCP reassembler.
 *
 * Input: one mode byte, then 8-byte operations on one direction of a
 * connection whose bytes are a known function of their sequence number
 * (truth(seq)). Each operation is a segment (SYN, FIN, RST-free flags, a
 * sequence number near the start or anywhere, a length up to 3000), an
 * acknowledgement from the peer, or the end of the stream. In mode 0 every
 * segment carries the true bytes; in mode 1 some carry altered ones.
 *
 * Checked after every operation: bytes and gaps arrive in order, each
 * starting where the last ended; next = bytes delivered + gap bytes; the
 * held data stays within its limits; in mode 0 every delivered byte is the
 * true byte of its sequence number and no overlap is called inconsistent;
 * in mode 1 every delivered byte is the true byte or its altered form.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dissect.h"
#include "reasm.h"

#define ISN 0xfffff000u    /* the stream wraps 4 KiB in */
#define HELD_MAX (16u << 10)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t truth(uint32_t seq)
{
	uint32_t x = seq * 2654435761u;
	return (uint8_t)(x >> 24 ^ x >> 11);
}

struct oracle {
	struct reasm *r;
	uint64_t expect;   /* offset of the next byte or gap */
	int mode;
};

static void on_data(void *ctx, uint64_t off, const uint8_t *p, size_t len)
{
	struct oracle *o = ctx;
	if (off != o->expect || !len)
		abort();
	for (size_t i = 0; i < len; i++) {
		uint8_t t = truth(o->r->base + (uint32_t)(off + i));
		if (p[i] != t && (o->mode == 0 || p[i] != (uint8_t)~t))
			abort(); /* a wrong byte */
	}
	o->expect += len;
}

static void on_gap(void *ctx, uint64_t off, uint64_t len, enum reasm_gap_reason why)
{
	struct oracle *o = ctx;
	if (off != o->expect || !len || why > REASM_GAP_END)
		abort();
	o->expect += len;
}

static void check(const struct reasm *r, const struct oracle *o)
{
	if (r->next != o->expect || r->next != r->st.bytes + r->st.gap_bytes)
		abort();
	if (r->held_cost > HELD_MAX || r->held_n > REASM_MAX_HELD)
		abort();
	if (o->mode == 0 && r->st.conflicts)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t buf[3000];
	struct reasm r;
	struct oracle o = { &r, 0, 0 };
	struct reasm_sink k = { on_data, on_gap, &o };

	if (size < 1)
		return 0;
	o.mode = data[0] & 1;
	reasm_init(&r, HELD_MAX);
	for (size_t i = 1; i + 8 <= size; i += 8) {
		const uint8_t *op = data + i;
		uint32_t off = (uint32_t)op[1] | (uint32_t)op[2] << 8;
		if (op[0] & 0x80) /* far: anywhere in the sequence space */
			off |= (uint32_t)op[3] << 16 | (uint32_t)op[4] << 24;
		else
			off |= (uint32_t)(op[3] & 3) << 16;
		uint32_t seq = ISN + 1 + off;
		switch (op[0] & 3) {
		case 0: { /* a segment */
			size_t len = ((size_t)op[5] | (size_t)op[6] << 8) % sizeof(buf);
			uint8_t flags = TCP_ACK | ((op[7] & 1) ? TCP_FIN : 0);
			for (size_t j = 0; j < len; j++) {
				buf[j] = truth(seq + (uint32_t)j);
				if (o.mode && (op[7] & 2))
					buf[j] = (uint8_t)~buf[j];
			}
			reasm_segment(&r, seq, flags, buf, len, &k);
			break;
		}
		case 1: /* the SYN (a wrong ISN when op[7] says so) */
			reasm_segment(&r, op[7] & 4 ? ISN + op[5] : ISN, TCP_SYN | (op[7] & 1 ? TCP_FIN : 0),
				      NULL, 0, &k);
			break;
		case 2:
			reasm_ack(&r, seq, &k);
			break;
		case 3:
			reasm_finish(&r, &k);
			break;
		}
		check(&r, &o);
	}
	reasm_finish(&r, &k);
	check(&r, &o);
	if (r.held)
		abort();
	reasm_free(&r);
	return 0;
}
