/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_cachefile.c - libFuzzer target for cache files: the log state a
 * commit record names and the entry table it describes, as a writer with a
 * bug or a damaged disk could leave them, with every checksum made right
 * (so that the checks behind the checksums are what is tested) and every
 * entry's check made right for the ring's bytes (zeros). A file that loads
 * must keep the decoder inside its ring: it outputs each live entry, inserts
 * a literal (evicting from the loaded state) and outputs them again; every
 * byte out must be a zero (a byte of the table or the records would not
 * be). A file that does not load is replaced by an empty cache.
 *
 * Input: u32 head, u32 used, u16 tail, u16 count, u16 next, u16 literal
 * length, then entry rows {u32 offset, u16 length} from row 0. Small
 * params (1 MiB ring, 256/1024/4096 chunks) keep the file at 3 MiB.
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include <strait/dedupe.h>

#define CAP (1u << 20)
#define MAX_ENT (CAP / 256 + 128)
#define TABLE 8192u
#define FP_OFF (TABLE + ((MAX_ENT * 16 + 4095) & ~4095u))
#define SIZE (3u << 20) /* the ring at 2 MiB */

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct strait_dedupe_params par;
static uint8_t zeros[4096], out[65536];
static uint32_t zcheck[4097];
static uint64_t zfp[4097];
static void *dmem;
static size_t dsize;
static int fd;
static char path[64];

static void remove_file(void)
{
	unlink(path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	strait_dedupe_params_default(&par);
	par.capacity = CAP;
	par.min_chunk = 256;
	par.avg_chunk = 1024;
	par.max_chunk = 4096;
	for (size_t n = 1; n <= 4096; n++) {
		XXH128_hash_t h = XXH3_128bits(zeros, n);

		zcheck[n] = (uint32_t)h.high64;
		zfp[n] = h.low64;
	}
	dsize = strait_dedupe_decoder_size_cached(&par);
	dmem = malloc(dsize);
	/* a real file: cache files are opened O_NOFOLLOW, so a
	 * /proc/self/fd link to a memfd is (rightly) refused */
	snprintf(path, sizeof(path), "/dev/shm/fuzz-cachefile-XXXXXX");
	fd = mkstemp(path);
	if (fd < 0 || !dmem)
		abort();
	atexit(remove_file);
	return 0;
}

static uint32_t fold(uint32_t h, uint32_t check)
{
	return (((h << 7) | (h >> 25)) ^ check) * 0x9E3779B1u;
}

static uint32_t get(const uint8_t *p, int n)
{
	uint32_t v = 0;

	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void put(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++, v >>= 8)
		p[i] = (uint8_t)v;
}

/* Writes the file: the fuzzed rows and state, right checksums. */
static void write_file(const uint8_t *data, size_t size, uint32_t *count)
{
	static uint8_t table[MAX_ENT * 16], fps[MAX_ENT * 8];
	uint8_t rec[128] = "STRDCACH";
	uint32_t head = get(data, 4), used = get(data + 4, 4);
	uint32_t tail = get(data + 8, 2), next = get(data + 12, 2);
	size_t rows = (size - 16) / 6;
	XXH64_state_t st;

	*count = get(data + 10, 2);
	memset(table, 0, sizeof(table));
	memset(fps, 0, sizeof(fps));
	for (size_t i = 0; i < rows && i < MAX_ENT; i++) {
		const uint8_t *r = data + 16 + 6 * i;
		uint32_t len = get(r + 4, 2);

		put(table + 16 * i, get(r, 4), 8);
		put(table + 16 * i + 8, len, 4);
		/* checks that match the ring's zeros, where they can */
		put(table + 16 * i + 12, len && len <= 4096 ? zcheck[len] : 0, 4);
		put(fps + 8 * i, len && len <= 4096 ? zfp[len] : 0, 8);
	}
	put(rec + 8, 1, 4);
	memcpy(rec + 12, &(uint32_t){ 0x01020304 }, 4);
	put(rec + 16, 1, 8);               /* generation 1: slot 1 */
	put(rec + 24, 1, 4);               /* CLEAN */
	put(rec + 28, par.min_chunk, 4);
	put(rec + 32, par.avg_chunk, 4);
	put(rec + 36, par.max_chunk, 4);
	put(rec + 40, MAX_ENT, 4);
	put(rec + 44, 9, 4);               /* epoch */
	put(rec + 48, CAP, 8);
	put(rec + 56, 0xD16E57, 8);        /* digest */
	put(rec + 64, head, 8);
	put(rec + 72, used, 8);
	put(rec + 80, tail, 4);
	put(rec + 84, *count, 4);
	put(rec + 88, next, 4);
	/* the live rows' checksum, as the file computes it (when the state
	 * lets it: otherwise the record is refused before) */
	XXH64_reset(&st, 0);
	if (tail < MAX_ENT && *count <= MAX_ENT) {
		uint32_t first = MAX_ENT - tail < *count ? MAX_ENT - tail : *count;

		XXH64_update(&st, table + 16 * tail, (size_t)first * 16);
		XXH64_update(&st, table, (size_t)(*count - first) * 16);
		XXH64_update(&st, fps + 8 * tail, (size_t)first * 8);
		XXH64_update(&st, fps, (size_t)(*count - first) * 8);
	}
	put(rec + 96, XXH64_digest(&st), 8);
	put(rec + 120, XXH64(rec, 120, 0), 8);
	if (ftruncate(fd, 0) || ftruncate(fd, SIZE) ||
	    pwrite(fd, rec, sizeof(rec), 4096) != sizeof(rec) ||
	    pwrite(fd, table, sizeof(table), TABLE) != sizeof(table) ||
	    pwrite(fd, fps, sizeof(fps), FP_OFF) != sizeof(fps))
		abort();
}

/* Decodes s; every byte out must be a zero. */
static int decode(struct strait_dedupe_decoder *d, const uint8_t *s, size_t n)
{
	size_t used = 0;
	int rc;

	do {
		struct strait_dedupe_decode_result r;

		rc = strait_dedupe_decode(d, s + used, n - used, out, sizeof(out), &r);
		for (size_t i = 0; i < r.out_len; i++)
			if (out[i])
				abort(); /* a byte from outside the ring */
		used += r.in_used;
	} while (rc == 1);
	return rc;
}

static size_t varint(uint8_t *p, uint64_t v)
{
	size_t n = 0;

	for (; v >= 0x80; v >>= 7)
		p[n++] = (uint8_t)(v | 0x80);
	p[n++] = (uint8_t)v;
	return n;
}

/* A reference to each of the newest `count` entries, oldest first. */
static size_t refs(uint8_t *s, uint32_t count, const uint8_t *table, uint32_t next)
{
	size_t k = 0;

	for (uint32_t dist = count; dist >= 1; dist--) {
		uint32_t idx = (next + MAX_ENT - dist) % MAX_ENT;

		s[k++] = 0x05;
		k += varint(s + k, 0);
		k += varint(s + k, 0);
		k += varint(s + k, dist);
		k += varint(s + k, 1);
		put(s + k, fold(0, get(table + 16 * idx + 12, 4)), 4);
		k += 4;
	}
	return k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t s[MAX_ENT * 24 + 8192], table[MAX_ENT * 16];
	struct strait_dedupe_cache_file *cf;
	enum strait_dedupe_cache_status st;
	struct strait_dedupe_decoder *d;
	struct strait_dedupe_state ds;
	uint32_t count, lit;
	char msg[256];
	size_t k;

	if (size < 16)
		return 0;
	write_file(data, size, &count);
	if (strait_dedupe_cache_file_open(path, &par, 0, &cf, &st, msg, sizeof(msg)))
		abort();
	if (st == STRAIT_DEDUPE_CACHE_LOADED) {
		d = strait_dedupe_decoder_init_cached(dmem, dsize, &par, cf);
		if (!d)
			abort();
		strait_dedupe_decoder_state(d, &ds);
		if (pread(fd, table, sizeof(table), TABLE) != sizeof(table))
			abort();
		strait_dedupe_header_write(s, &par, &ds);
		k = STRAIT_DEDUPE_HEADER_SIZE;
		k += refs(s + k, count, table, get(data + 12, 2));
		/* a zero literal: inserted at the head, evicting */
		lit = 1 + get(data + 14, 2) % 4096;
		s[k++] = 0x02;
		k += varint(s + k, 0);
		k += varint(s + k, 0);
		k += varint(s + k, 1);
		k += varint(s + k, lit);
		put(s + k, fold(0, zcheck[lit]), 4);
		put(s + k + 4, lit, 4);
		k += 8;
		memset(s + k, 0, lit);
		k += lit;
		if (decode(d, s, k) >= 0) {
			/* then every entry still there, from the newest back */
			if (pread(fd, table, sizeof(table), TABLE) != sizeof(table))
				abort();
			k = refs(s, count + 1 > MAX_ENT ? MAX_ENT : count + 1, table,
				 (get(data + 12, 2) + 1) % MAX_ENT);
			(void)decode(d, s, k);
		}
	} else if (st != STRAIT_DEDUPE_CACHE_DISCARDED || !msg[0]) {
		abort();
	}
	strait_dedupe_cache_file_close(cf);
	return 0;
}
