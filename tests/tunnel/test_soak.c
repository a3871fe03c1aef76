/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Soak (slow suite): 2^21 frames through one SA pair across the
 * 2^32 sequence boundary, shuffled in blocks of 512 (reordered by up to
 * 511 places), 1% dropped and
 * 1% duplicated on the way. Every frame that arrives opens exactly once;
 * duplicates are the only rejections (replay); nothing else is lost.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "strait/tunnel.h"

enum { N = 1 << 21, RING = 512, SLOT = 256, HEAD = STRAIT_ESP_HEADROOM };

Test(soak, reorder_drop_duplicate_across_2_32, .timeout = 600)
{
	struct strait_esp_sa_config c = {.spi = 0x4242, .first_seq = (UINT64_C(1) << 32) - N / 2};
	for (int i = 0; i < 36; i++)
		c.keymat[i] = (uint8_t)(i * 13 + 5);
	c.dir = STRAIT_ESP_OUTBOUND;
	struct strait_esp_sa *out = strait_esp_sa_create(&c);
	c.dir = STRAIT_ESP_INBOUND;
	struct strait_esp_sa *in = strait_esp_sa_create(&c);
	uint8_t (*ring)[SLOT] = calloc(RING, SLOT);
	size_t *ring_len = calloc(RING, sizeof(size_t));
	uint8_t *seen = calloc(N, 1);
	uint8_t work[SLOT + HEAD];
	uint64_t sent = 0, delivered = 0, dups = 0, dropped = 0;
	unsigned s = 99;
	cr_assert(out && in && ring && ring_len && seen);

	/* blocks of RING frames, shuffled: no frame moves 1024 places or more */
	for (uint32_t base = 0; base < N; base += RING) {
		uint32_t order[RING];
		for (uint32_t j = 0; j < RING; j++) {
			uint32_t idx = base + j;
			uint8_t *p0 = work + HEAD;
			memset(p0, 0, 64);
			p0[0] = 0x45;
			p0[3] = 64;
			memcpy(p0 + 20, &idx, 4);
			struct strait_pkt p = {.data = p0, .len = 64, .head = HEAD, .tail = SLOT - 64};
			cr_assert_eq(strait_esp_seal(out, &p, 4, 0), STRAIT_ESP_OK);
			sent++;
			memcpy(ring[j], p.data, p.len);
			ring_len[j] = p.len;
			order[j] = j;
		}
		for (uint32_t j = RING - 1; j > 0; j--) {
			s = s * 1103515245u + 12345u;
			uint32_t r = (s >> 8) % (j + 1), t = order[j];
			order[j] = order[r];
			order[r] = t;
		}
		for (uint32_t j = 0; j < RING; j++) {
			size_t k = order[j];
			s = s * 1103515245u + 12345u;
			if ((s >> 12) % 100 == 0) {
				dropped++;
				continue;
			}
			for (int copy = 0; copy < (((s >> 20) % 100) == 0 ? 2 : 1); copy++) {
				memcpy(work + HEAD, ring[k], ring_len[k]);
				struct strait_pkt p = {.data = work + HEAD, .len = ring_len[k], .head = HEAD};
				uint8_t nh;
				enum strait_esp_status st = strait_esp_open(in, &p, &nh, 0);
				if (copy == 0) {
					cr_assert_eq(st, STRAIT_ESP_OK, "frame %u lost: %s", base + (uint32_t)k,
						     strait_esp_status_name(st));
					uint32_t idx;
					memcpy(&idx, p.data + 20, 4);
					cr_assert(idx == base + k && !seen[idx]);
					seen[idx] = 1;
					delivered++;
				} else {
					cr_assert_eq(st, STRAIT_ESP_E_REPLAY);
					dups++;
				}
			}
		}
	}
	cr_assert_eq(delivered + dropped, sent);
	cr_assert_gt(dups, 1000);
	cr_assert_gt(strait_esp_sa_seq(in), UINT64_C(1) << 32, "crossed 2^32");
	cr_assert_eq(strait_esp_sa_stats(in)->rejected[STRAIT_ESP_E_REPLAY], dups);
	free(ring);
	free(ring_len);
	free(seen);
	strait_esp_sa_free(out);
	strait_esp_sa_free(in);
}
