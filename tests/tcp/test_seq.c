/* SPDX-License-Identifier: BSD-3-Clause */
/* Sequence acceptability (RFC 9293 3.10.7.4) as a numbered table,
 * wrap-around, SipHash test vectors, RFC 6528 ISNs. */
#include <criterion/criterion.h>
#include <string.h>

#include "tcp_internal.h"

struct acc_case {
	int n;
	uint32_t rcv_nxt, wnd, seq, len;
	bool ok;
};

#define T(n, r, w, s, l, ok) { n, r, w, s, l, ok }
static const struct acc_case acc[] = {
	/* len 0, wnd 0: only seq == rcv_nxt */
	T(1, 1000, 0, 1000, 0, true),
	T(2, 1000, 0, 999, 0, false),
	T(3, 1000, 0, 1001, 0, false),
	/* len 0, wnd > 0: rcv_nxt <= seq < rcv_nxt + wnd */
	T(4, 1000, 100, 1000, 0, true),
	T(5, 1000, 100, 1099, 0, true),
	T(6, 1000, 100, 1100, 0, false),
	T(7, 1000, 100, 999, 0, false),
	/* len > 0, wnd 0: never */
	T(8, 1000, 0, 1000, 1, false),
	T(9, 1000, 0, 999, 10, false),
	/* len > 0, wnd > 0: first or last byte in the window */
	T(10, 1000, 100, 1000, 10, true),
	T(11, 1000, 100, 990, 11, true),   /* last byte 1000 */
	T(12, 1000, 100, 990, 10, false),  /* last byte 999: all old */
	T(13, 1000, 100, 1099, 50, true),  /* first byte at the edge */
	T(14, 1000, 100, 1100, 1, false),  /* just beyond */
	T(15, 1000, 100, 900, 300, false), /* spans the window: neither end in it */
	/* wrap-around at 2^32 */
	T(16, 0xfffffff0u, 0x20, 0x00000005u, 1, true),
	T(17, 0xfffffff0u, 0x20, 0xffffffefu, 1, false),
	T(18, 0xfffffff0u, 0x20, 0x00000010u, 0, false),
	T(19, 0xfffffff0u, 0x20, 0x0000000fu, 0, true),
	T(20, 0xfffffff0u, 0x20, 0xffffffe0u, 0x11, true), /* last byte 0xfffffff0 */
	T(21, 0x7fffffffu, 10, 0x80000000u, 5, true),
	T(22, 0, 65535, 0xffffffffu, 2, true), /* last byte is 0 */
};

Test(seq, acceptability_table)
{
	for (size_t i = 0; i < sizeof(acc) / sizeof(acc[0]); i++) {
		const struct acc_case *t = &acc[i];
		cr_expect_eq(tcp_seq_acceptable(t->rcv_nxt, t->wnd, t->seq, t->len),
			     t->ok, "case %d", t->n);
	}
}

Test(seq, comparisons_wrap)
{
	cr_assert(SEQ_LT(0xffffffffu, 0u));
	cr_assert(SEQ_GT(5u, 0xfffffff0u));
	cr_assert(SEQ_LEQ(7u, 7u));
	cr_assert(SEQ_LT(0x7ffffffeu, 0x7fffffffu));
	cr_assert(SEQ_LT(0u, 0x7fffffffu));
	cr_assert(SEQ_GT(0u, 0x80000001u));
	cr_assert_eq(SEQ_MAX(0xfffffff0u, 3u), 3u);
	cr_assert_eq(SEQ_MIN(0xfffffff0u, 3u), 0xfffffff0u);
}

/* Reference vectors from the SipHash paper (key 00..0f, input 00..n-1). */
Test(seq, siphash_vectors)
{
	uint8_t kb[16], in[64];
	for (int i = 0; i < 16; i++)
		kb[i] = (uint8_t)i;
	for (int i = 0; i < 64; i++)
		in[i] = (uint8_t)i;
	uint64_t k[2];
	memcpy(k, kb, 16); /* little-endian host */
	cr_assert_eq(tcp_siphash(k, in, 0), 0x726fdb47dd0e0e31ULL);
	cr_assert_eq(tcp_siphash(k, in, 1), 0x74f839c593dc67fdULL);
	cr_assert_eq(tcp_siphash(k, in, 8), 0x93f5f5799a932462ULL);
	cr_assert_eq(tcp_siphash(k, in, 15), 0xa129ca6149be45e5ULL);
}
