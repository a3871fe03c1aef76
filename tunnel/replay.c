/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Anti-replay window over 64-bit extended sequence numbers.
 *
 * RFC 4303 Appendix A.2: only the low 32 bits travel; the receiver infers
 * the high 32 from the top of its window (Th:Tl) and its size W.
 *   Case A, Tl >= W - 1 (window inside one 2^32 subspace):
 *     Seq >= Tl - W + 1  -> Th      (in or right of the window)
 *     else               -> Th + 1  (wrapped into the next subspace)
 *   Case B, Tl < W - 1 (window straddles the subspace boundary):
 *     Seq >= Tl - W + 1 (mod 2^32) -> Th - 1  (left part of the window)
 *     else                         -> Th
 *
 * The bitmap is a ring of 64-bit words indexed by seq / 64 (WireGuard's
 * layout): one spare word means sliding the window only clears whole
 * words, never shifts bits.
 */
#include <string.h>

#include "strait/tunnel.h"

enum {
	WINDOW = STRAIT_ESP_REPLAY_WINDOW,
	WORDS = STRAIT_ESP_REPLAY_WORDS,
};

_Static_assert((WORDS - 1) * 64 >= WINDOW, "ring must hold the window plus a word");

void strait_esp_replay_init(struct strait_esp_replay *r)
{
	memset(r, 0, sizeof(*r));
}

uint64_t strait_esp_replay_infer(const struct strait_esp_replay *r, uint32_t seq_lo)
{
	uint32_t tl = (uint32_t)r->top;
	uint64_t th = r->top >> 32;
	uint32_t bottom = tl - (WINDOW - 1); /* mod 2^32 */
	uint64_t sh;

	if (tl >= WINDOW - 1) {
		if (seq_lo >= bottom)
			sh = th;
		else if (th == UINT32_MAX)
			return 0; /* would need 2^64: numbers never wrap */
		else
			sh = th + 1;
	} else {
		if (seq_lo >= bottom) {
			if (th == 0)
				return 0; /* before the sequence space began */
			sh = th - 1;
		} else {
			sh = th;
		}
	}
	return sh << 32 | seq_lo;
}

bool strait_esp_replay_check(const struct strait_esp_replay *r, uint64_t seq)
{
	if (seq == 0)
		return false;
	if (seq > r->top)
		return true;
	if (r->top - seq >= WINDOW)
		return false;
	return !(r->bitmap[(seq >> 6) % WORDS] >> (seq & 63) & 1);
}

void strait_esp_replay_update(struct strait_esp_replay *r, uint64_t seq)
{
	if (seq > r->top) {
		uint64_t cur = r->top >> 6, next = seq >> 6;
		uint64_t n = next - cur;

		if (n > WORDS)
			n = WORDS;
		for (uint64_t i = 1; i <= n; i++)
			r->bitmap[(cur + i) % WORDS] = 0;
		r->top = seq;
	}
	r->bitmap[(seq >> 6) % WORDS] |= UINT64_C(1) << (seq & 63);
}
