/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_roundtrip.c - libFuzzer target: whatever the bytes and however the
 * encoder is driven (flows, piece sizes, flushes, credit budgets), the
 * decoder must give back each flow's bytes exactly.
 *
 * Input: 8 control bytes, then the payload. Each of up to 3 flows sends the
 * payload twice (so the second copy meets the cache) and then an edited
 * copy (a byte changed every 64 to 1000 bytes: near-duplicates, DELTA
 * records), in pieces whose sizes, modes (continue / flush) and budgets
 * come from the control bytes, interleaved round-robin. Small chunk sizes
 * (256/1024/4096) and a 1 MiB cache make chunks, references, runs, deltas
 * and eviction happen on small inputs.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <strait/dedupe.h>

#define FLOWS 3
#define OUT_CAP (1u << 20)

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct strait_dedupe_params par;
static struct strait_dedupe_encoder *enc;
static struct strait_dedupe_decoder *dec;
static struct strait_dedupe_flow *flows[FLOWS];
static uint8_t *stream, *got[FLOWS], *scratch, *edited;
static size_t fsize, stream_cap, esize;
static void *emem;

/* Workspaces are allocated once, outside any input (no leak reports). */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	size_t ds;

	strait_dedupe_params_default(&par);
	par.min_chunk = 256;
	par.avg_chunk = 1024;
	par.max_chunk = 4096;
	par.capacity = 1u << 20;
	esize = strait_dedupe_encoder_size(&par);
	ds = strait_dedupe_decoder_size(&par);
	emem = malloc(esize);
	dec = strait_dedupe_decoder_init(malloc(ds), ds, &par);
	fsize = strait_dedupe_flow_size(&par);
	for (int i = 0; i < FLOWS; i++) {
		flows[i] = malloc(fsize);
		got[i] = malloc(OUT_CAP);
	}
	scratch = malloc(4096);
	edited = malloc(65536);
	stream_cap = 64u << 20;
	stream = malloc(stream_cap);
	if (!emem || !dec || !stream || !scratch || !edited)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *ctl = data, *pay = data + 8;
	size_t n, at[FLOWS] = { 0 }, want, slen = 0, glen[FLOWS] = { 0 }, off, avail;
	unsigned nflows, step = 0;
	bool done[FLOWS] = { false };

	if (size < 8 || size - 8 > 65536)
		return 0;
	n = size - 8;
	want = 3 * n;
	memcpy(edited, pay, n);
	for (size_t i = ctl[6] % 64; i < n; i += 64 + (size_t)ctl[7] * 4)
		edited[i] ^= (uint8_t)(ctl[5] | 1);
	nflows = 1 + ctl[0] % FLOWS;
	enc = strait_dedupe_encoder_init(emem, esize, &par, ctl[1]);
	strait_dedupe_decoder_reset(dec);
	if (!enc)
		abort();
	for (unsigned i = 0; i < nflows; i++)
		strait_dedupe_flow_init(flows[i], fsize, &par, i);

	/* encode: round-robin over flows, each sends pay twice */
	for (unsigned left = nflows; left;) {
		for (unsigned i = 0; i < nflows; i++) {
			struct strait_dedupe_encode_result r;
			uint8_t c = ctl[2 + step++ % 6];
			size_t piece = 1 + (size_t)c * 37 % 5000;
			uint64_t budget = (c & 0x80) ? UINT64_MAX : 1 + (uint64_t)c * c * 3;
			enum strait_dedupe_mode mode = (c & 3) == 1 ?
				STRAIT_DEDUPE_FLUSH : STRAIT_DEDUPE_CONTINUE;
			const uint8_t *src = NULL;
			size_t bound;

			if (done[i])
				continue;
			if (at[i] == want) {
				piece = 0; /* only the held partial chunk is left */
			} else {
				off = at[i] % n;
				avail = n - off;
				if (piece > avail)
					piece = avail;
				src = (at[i] >= 2 * n ? edited : pay) + off;
			}
			if (at[i] + piece == want)
				mode = STRAIT_DEDUPE_END;
			bound = strait_dedupe_encode_bound(enc, piece);
			if (slen + bound > stream_cap)
				abort();
			if (strait_dedupe_encode(enc, flows[i], src, piece, mode, budget,
						 stream + slen, bound, &r))
				abort();
			if (r.decoded > budget || r.in_used > piece)
				abort();
			slen += r.out_len;
			at[i] += r.in_used;
			if (at[i] == want && mode == STRAIT_DEDUPE_END &&
			    r.in_used == piece &&
			    strait_dedupe_flow_pending(flows[i]) == 0) {
				done[i] = true;
				left--;
			}
		}
	}

	/* decode in pieces with a small output buffer */
	for (size_t pos = 0; pos < slen || pos == 0;) {
		size_t k = slen - pos < 999 ? slen - pos : 999, used = 0;
		int rc;

		do {
			struct strait_dedupe_decode_result r;

			rc = strait_dedupe_decode(dec, stream + pos + used, k - used,
						  scratch, 97 + ctl[7] * 15u, &r);
			if (rc < 0 || r.flow >= nflows || glen[r.flow] + r.out_len > want)
				abort();
			memcpy(got[r.flow] + glen[r.flow], scratch, r.out_len);
			glen[r.flow] += r.out_len;
			used += r.in_used;
		} while (rc == 1);
		pos += k;
		if (!slen)
			break;
	}
	if (strait_dedupe_decode_finish(dec))
		abort();
	for (unsigned i = 0; i < nflows; i++) {
		if (glen[i] != want ||
		    (n && (memcmp(got[i], pay, n) || memcmp(got[i] + n, pay, n) ||
			   memcmp(got[i] + 2 * n, edited, n))))
			abort();
	}
	return 0;
}
