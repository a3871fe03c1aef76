/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_decode.c - libFuzzer target for the dedupe decoder.
 *
 * Input: one control byte, then a stream. Unless the stream starts with the
 * header magic, a valid header (default chunk params, 1 MiB cache) is fed
 * first, so mutations reach the records instead of dying on the header
 * check. The control byte picks the output buffer size (1..32 bytes or
 * 64 KiB), whether the input arrives whole or in three pieces, and the
 * copying or the zero-copy (segments) decoder. The
 * decoder must never read or write out of bounds (ASan), never write more
 * than the buffer, and end with 0 or an error code.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <strait/dedupe.h>

#define MAX_OUT (16u << 20)

static struct strait_dedupe_decoder *dec;
static uint8_t header[STRAIT_DEDUPE_HEADER_SIZE];
static uint8_t out[65536];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The decoder's workspace is allocated once, outside any input. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct strait_dedupe_params p;
	size_t n;

	strait_dedupe_params_default(&p);
	p.capacity = 1u << 20;
	n = strait_dedupe_decoder_size(&p);
	dec = strait_dedupe_decoder_init(malloc(n), n, &p);
	if (!dec)
		abort();
	strait_dedupe_header_write(header, &p, &(struct strait_dedupe_state){ 1, 0 });
	return 0;
}

static bool zero_copy;

static int feed(const uint8_t *p, size_t n, size_t cap, size_t *total)
{
	size_t used = 0;
	int rc;

	do {
		struct strait_dedupe_decode_result r;

		if (zero_copy) {
			struct strait_dedupe_segment sg[4];
			unsigned ns;
			size_t sum = 0;

			rc = strait_dedupe_decode_segments(dec, p + used, n - used,
							   cap, sg, 4, &ns, &r);
			for (unsigned i = 0; i < ns; i++) {
				memcpy(out + sum, sg[i].p, sg[i].len); /* ASan checks */
				sum += sg[i].len;
			}
			if (ns > 4 || sum != r.out_len)
				abort();
		} else {
			rc = strait_dedupe_decode(dec, p + used, n - used, out, cap, &r);
		}
		if (r.out_len > cap || r.in_used > n - used)
			abort();
		if (rc < 0)
			return rc;
		used += r.in_used;
		*total += r.out_len;
		if (*total > MAX_OUT)
			return -1; /* a legal but huge expansion: enough */
	} while (rc == 1);
	if (used != n)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t cap, total = 0, piece;
	uint8_t ctl;

	strait_dedupe_decoder_reset(dec);
	if (size < 1)
		return 0;
	ctl = data[0];
	data++;
	size--;
	cap = (ctl & 0x20) ? 1 + (ctl & 0x1f) : sizeof(out);
	piece = (ctl & 0x40) ? size / 3 + 1 : size;
	zero_copy = ctl & 0x80;
	if (!(size >= 4 && memcmp(data, "STRD", 4) == 0) &&
	    feed(header, sizeof(header), cap, &total))
		abort();
	for (size_t at = 0; at < size; at += piece) {
		size_t n = size - at < piece ? size - at : piece;

		if (feed(data + at, n, cap, &total))
			return 0;
	}
	(void)strait_dedupe_decode_finish(dec);
	return 0;
}
