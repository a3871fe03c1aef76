/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Anti-replay window and ESN inference, RFC 4303 section 3.4.3 and
 * Appendix A, as numbered tables (one line per case).
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "strait/tunnel.h"

#define W STRAIT_ESP_REPLAY_WINDOW
#define HI(h) ((uint64_t)(h) << 32)

/*
 * Appendix A.2: the receiver holds the top of the window (Th:Tl) and
 * infers the high 32 bits of a received low half. 0 means "no valid
 * number" (before the start of the space, or beyond 2^64).
 *   Case A: Tl >= W - 1, window inside one subspace.
 *   Case B: Tl < W - 1, window straddles two subspaces.
 */
static const struct infer_case {
	int n;
	uint64_t top;
	uint32_t lo;
	uint64_t want;
} infer_cases[] = {
	/* Case A: Seq >= Tl - W + 1 -> Th, else Th + 1 */
	{1, W - 1, 0, 0},                              /* bottom edge is seq 0: invalid */
	{2, 5000, 5000 - W + 1, 5000 - W + 1},        /* exactly the bottom */
	{3, 5000, 5000 - W, HI(1) | (5000 - W)},      /* one left of bottom: next subspace */
	{4, 5000, 5000, 5000},                         /* the top itself */
	{5, 5000, 5001, 5001},                         /* right of the top */
	{6, 5000, 0xffffffff, 0xffffffff},             /* far right, same subspace */
	{7, HI(7) | 0xfffffc00, 0, HI(8)},             /* wrapped into the next subspace */
	{8, HI(7) | 5000, 5000 - W, HI(8) | (5000 - W)},
	{9, HI(7) | 5000, 5000 - W + 1, HI(7) | (5000 - W + 1)},
	/* Case B: Seq >= Tl - W + 1 (mod 2^32) -> Th - 1, else Th */
	{10, HI(1), 0xfffffc01, 0xfffffc01},           /* bottom edge, previous subspace */
	{11, HI(1), 0xfffffc00, HI(1) | 0xfffffc00},   /* left of bottom: far ahead */
	{12, HI(1), 0, HI(1)},                         /* the top */
	{13, HI(1) | 5, 6, HI(1) | 6},                 /* right of the top */
	{14, HI(1) | 5, 0xffffffff, 0xffffffff},       /* left part of the window */
	{15, HI(1) | 1022, 0xffffffff, 0xffffffff},    /* Tl = W - 2: bottom is 2^32 - 1 */
	{16, HI(1) | 1022, 0xfffffffe, HI(1) | 0xfffffffe},
	{17, 0, 1, 1},                                 /* first packet */
	{18, 0, 0xfffffc01, 0},                        /* would be subspace -1 */
	{19, 5, 0xffffffff, 0},                        /* likewise */
	{20, HI(0xffffffff) | 5000, 10, 0},            /* would need 2^64: never wrap */
	{21, HI(0xffffffff) | 5000, 4000, HI(0xffffffff) | 4000},
};

Test(replay, appendix_a_inference)
{
	for (size_t i = 0; i < sizeof(infer_cases) / sizeof(infer_cases[0]); i++) {
		const struct infer_case *c = &infer_cases[i];
		struct strait_esp_replay r;
		strait_esp_replay_init(&r);
		r.top = c->top;
		cr_expect_eq(strait_esp_replay_infer(&r, c->lo), c->want,
			     "case %d: top %#llx lo %#x: got %#llx want %#llx", c->n,
			     (unsigned long long)c->top, c->lo,
			     (unsigned long long)strait_esp_replay_infer(&r, c->lo),
			     (unsigned long long)c->want);
	}
}

/*
 * Window checks in order (WireGuard style): each line is one received
 * 64-bit number and whether it is accepted; accepted numbers update the
 * window as an authenticated packet would.
 */
static const struct window_case {
	int n;
	uint64_t seq;
	bool ok;
} window_cases[] = {
	{1, 1, true},
	{2, 1, false},                 /* duplicate */
	{3, 0, false},                 /* 0 is never sent */
	{4, W, true},
	{5, 1, false},                 /* in window (top - 1023), already seen */
	{6, 2, true},                  /* in window, unseen */
	{7, 2, false},
	{8, 2 * W, true},              /* window now W+1 .. 2W */
	{9, W, false},                 /* exactly one left of the window */
	{10, W + 1, true},             /* bottom edge */
	{11, W + 1, false},
	{12, 2 * W - 1, true},
	{13, 2 * W + 1, true},
	{14, 2 * W, false},
	{15, 10000, true},             /* jump beyond the window clears it */
	{16, 10000 - W + 1, true},     /* new bottom edge */
	{17, 10000 - W, false},        /* too old */
	{18, 9999, true},
	{19, 10000 - 64, true},        /* bits in other ring words */
	{20, 10000 - 128, true},
	{21, 10000 - 64, false},
	{22, HI(1) - 1, true},         /* last number of subspace 0 */
	{23, HI(1), true},             /* across the 2^32 boundary */
	{24, HI(1) - 1, false},
	{25, HI(1) - W + 1, true},     /* bottom edge straddling the boundary */
	{26, HI(1) - W, false},
	{27, HI(1) + 63, true},        /* word boundaries */
	{28, HI(1) + 64, true},
	{29, HI(1) + 2, true},
	{30, HI(1) + 64, false},
	{31, HI(1) + 64 + W, true},    /* slide by exactly one window */
	{32, HI(1) + 64, false},       /* now one left of the bottom */
	{33, HI(1) + 65, true},
	{34, HI(1) + 64 + W, false},   /* the top, seen */
	{35, HI(1) + 64 + W - 1, true},
};

Test(replay, window_table)
{
	struct strait_esp_replay r;
	strait_esp_replay_init(&r);
	for (size_t i = 0; i < sizeof(window_cases) / sizeof(window_cases[0]); i++) {
		const struct window_case *c = &window_cases[i];
		bool ok = strait_esp_replay_check(&r, c->seq);
		cr_expect_eq(ok, c->ok, "case %d: seq %#llx: got %d", c->n,
			     (unsigned long long)c->seq, ok);
		if (ok)
			strait_esp_replay_update(&r, c->seq);
	}
}

/* Against a plain model: a set of seen numbers and the highest one. */
Test(replay, random_against_model)
{
	enum { SPAN = 1 << 24, OPS = 200000 };
	uint8_t *seen = calloc(SPAN, 1);
	struct strait_esp_replay r;
	uint64_t top = 0, base = HI(1) - (1 << 21); /* crosses 2^32 */
	unsigned s = 12345;

	cr_assert(seen);
	strait_esp_replay_init(&r);
	for (int i = 0; i < OPS; i++) {
		s = s * 1103515245u + 12345u;
		uint64_t off;
		if (top == 0)
			off = (s >> 8) % 100;
		else
			off = (top - base) + ((s >> 8) % 2100) - 2000 + ((s >> 26) ? 0 : 1500);
		if (off >= SPAN)
			continue;
		uint64_t seq = base + off;
		bool want = seq > top || (top - seq < W && !seen[off]);
		cr_assert_eq(strait_esp_replay_check(&r, seq), want, "op %d seq %#llx top %#llx", i,
			     (unsigned long long)seq, (unsigned long long)top);
		if (want) {
			strait_esp_replay_update(&r, seq);
			seen[off] = 1;
			if (seq > top)
				top = seq;
		}
	}
	cr_expect_gt(top, HI(1), "the walk crossed 2^32 (top %#llx)", (unsigned long long)top);
	free(seen);
}
