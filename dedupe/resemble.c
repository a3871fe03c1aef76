/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * resemble.c - which cached chunk does a new chunk resemble?
 *
 * Sketch: bottom-k min-hash over content-defined samples. The chunker keeps
 * the gear hash at about one position in 64, chosen by the hash itself
 * (chunker.c, as Odess samples), so a few changed bytes change only the
 * samples whose 60-byte window covers them, and an inserted run shifts the
 * rest without changing them. A chunk's features are the RESEMBLE_KEYS
 * smallest distinct values of a mix of its samples (Broder: two sample
 * sets share their minimum with probability = their Jaccard similarity).
 * Each feature is indexed on its own. Measured on every workload against
 * N-transform super-features (12 transforms, 3 super-features of 4 or 6 of
 * 2, Finesse/N-transform style): one shared feature is enough here, because
 * a rewritten block or page is often only part of a cached chunk (the
 * chunk boundaries of a block write differ from those of the image it
 * rewrites) and super-features, which need all their features to agree,
 * miss those: bottom-6 sent 4.55 MB for the upgrade against 4.64 / 4.97 MB,
 * 12.5 against 13.8 / 17.6 MB for the block rewrites. A candidate is only
 * ever a base to try, never trusted: delta.c compares bytes.
 *
 * The index: buckets of 8 {tag, entry} slots, one cache line each, like the
 * exact index; a chunk's features are inserted beside its exact
 * fingerprint. A slot with the same tag is taken over by the newer chunk
 * (the newest version of a page is the best base), otherwise an empty or
 * dead slot, otherwise the oldest. Lookup counts, per live entry, how many
 * of the new chunk's features name it, and picks the entry with the most,
 * the newest on a tie.
 */
#include "dedupe_internal.h"

#define EMPTY UINT32_MAX

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 31;
	x *= 0x7FB5D329728EA185ULL;
	x ^= x >> 27;
	x *= 0x81DADEF4BC2DD44DULL;
	x ^= x >> 33;
	return x;
}

bool resemble_features(const struct chunk_scan *st,
		       uint64_t key[RESEMBLE_KEYS])
{
	uint32_t n = st->ns < CHUNK_SAMPLES ? st->ns : CHUNK_SAMPLES, k = 0;

	for (uint32_t i = 0; i < n; i++) {
		uint64_t x = mix64(st->samp[i]);
		uint32_t j;

		for (j = 0; j < k && key[j] < x; j++)
			;
		if (j == RESEMBLE_KEYS || (j < k && key[j] == x))
			continue;
		if (k < RESEMBLE_KEYS)
			k++;
		memmove(key + j + 1, key + j, (k - 1 - j) * sizeof(key[0]));
		key[j] = x;
	}
	if (k < RESEMBLE_MIN_KEYS)
		return false;
	for (uint32_t j = k; j < RESEMBLE_KEYS; j++)
		key[j] = key[0];
	return true;
}

size_t resemble_index_bytes(const struct strait_dedupe_params *p)
{
	return resemble_buckets(p) * RESEMBLE_SLOTS * sizeof(struct resemble_slot);
}

uint64_t resemble_buckets(const struct strait_dedupe_params *p)
{
	uint64_t want = p->capacity / p->avg_chunk * RESEMBLE_SLOTS_PER_AVG /
			RESEMBLE_SLOTS, r = 16;

	while (r < want)
		r <<= 1;
	return r;
}

void resemble_attach(struct resemble *r, struct resemble_slot *slots,
		     uint64_t buckets)
{
	r->slot = slots;
	r->mask = buckets - 1;
}

void resemble_init(struct resemble *r, struct resemble_slot *slots,
		   uint64_t buckets)
{
	resemble_attach(r, slots, buckets);
	resemble_clear(r);
}

void resemble_clear(struct resemble *r)
{
	for (uint64_t i = 0; i <= r->mask; i++)
		for (int s = 0; s < RESEMBLE_SLOTS; s++)
			r->slot[i * RESEMBLE_SLOTS + s] =
				(struct resemble_slot){ 0, EMPTY };
}

/* A slot may come from a cache file (hints, never trusted): it names a
 * live entry or it is ignored. */
static bool live(const struct dedupe_log *l, uint32_t idx)
{
	return idx < l->max_ent && log_age(l, idx) < l->count;
}

void resemble_insert(struct resemble *r, const struct dedupe_log *l,
		     const uint64_t key[RESEMBLE_KEYS], uint32_t idx)
{
	for (int k = 0; k < RESEMBLE_KEYS; k++) {
		struct resemble_slot *b =
			&r->slot[(key[k] & r->mask) * RESEMBLE_SLOTS];
		uint32_t tag = (uint32_t)(key[k] >> 32), oldest = UINT32_MAX;
		int victim = 0;

		for (int s = 0; s < RESEMBLE_SLOTS; s++) {
			uint32_t age;

			if (!live(l, b[s].idx) || b[s].tag == tag) {
				victim = s;
				break;
			}
			age = log_age(l, b[s].idx);
			if (age < oldest)
				oldest = age, victim = s;
		}
		b[victim].tag = tag;
		b[victim].idx = idx;
	}
}

uint32_t resemble_lookup(const struct resemble *r, const struct dedupe_log *l,
			 const uint64_t key[RESEMBLE_KEYS])
{
	uint32_t cand[RESEMBLE_KEYS], votes[RESEMBLE_KEYS];
	uint32_t best = EMPTY, best_votes = 0, best_age = 0;
	int nc = 0;

	for (int k = 0; k < RESEMBLE_KEYS; k++) {
		const struct resemble_slot *b =
			&r->slot[(key[k] & r->mask) * RESEMBLE_SLOTS];
		uint32_t tag = (uint32_t)(key[k] >> 32);
		uint32_t pick = EMPTY, pick_age = 0;
		int c;

		/* the newest live chunk with this super-feature */
		for (int s = 0; s < RESEMBLE_SLOTS; s++) {
			uint32_t age;

			if (b[s].tag != tag || !live(l, b[s].idx))
				continue;
			age = log_age(l, b[s].idx);
			if (pick == EMPTY || age > pick_age)
				pick = b[s].idx, pick_age = age;
		}
		if (pick == EMPTY)
			continue;
		for (c = 0; c < nc && cand[c] != pick; c++)
			;
		if (c == nc) {
			cand[nc] = pick;
			votes[nc++] = 0;
		}
		votes[c]++;
	}
	for (int c = 0; c < nc; c++) {
		uint32_t age = log_age(l, cand[c]);

		if (votes[c] > best_votes ||
		    (votes[c] == best_votes && age > best_age))
			best = cand[c], best_votes = votes[c], best_age = age;
	}
	return best;
}
