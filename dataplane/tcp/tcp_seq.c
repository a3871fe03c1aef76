/* SPDX-License-Identifier: BSD-3-Clause */
/* Sequence arithmetic, RFC 9293 acceptability, RFC 6528 ISNs (SipHash-2-4). */
#include "tcp_internal.h"

#include <string.h>

/* RFC 9293 3.10.7.4, first check. Four cases on (segment length, window):
 *   len 0, wnd 0:  seq == rcv_nxt
 *   len 0, wnd >0: rcv_nxt <= seq < rcv_nxt + wnd
 *   len >0, wnd 0: never
 *   len >0, wnd >0: the first or the last byte lies in the window
 * len counts SYN and FIN. All comparisons are modulo 2^32. */
bool tcp_seq_acceptable(uint32_t rcv_nxt, uint32_t rcv_wnd, uint32_t seq,
			uint32_t len)
{
	if (len == 0) {
		if (rcv_wnd == 0)
			return seq == rcv_nxt;
		return seq - rcv_nxt < rcv_wnd;
	}
	if (rcv_wnd == 0)
		return false;
	return seq - rcv_nxt < rcv_wnd || (seq + len - 1) - rcv_nxt < rcv_wnd;
}

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                          \
	do {                                                              \
		v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32); \
		v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;                    \
		v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;                    \
		v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32); \
	} while (0)

static uint64_t le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

/* SipHash-2-4 (Aumasson, Bernstein): a keyed PRF, fast on short inputs. */
uint64_t tcp_siphash(const uint64_t key[2], const void *data, size_t len)
{
	const uint8_t *p = data;
	uint64_t v0 = 0x736f6d6570736575ULL ^ key[0];
	uint64_t v1 = 0x646f72616e646f6dULL ^ key[1];
	uint64_t v2 = 0x6c7967656e657261ULL ^ key[0];
	uint64_t v3 = 0x7465646279746573ULL ^ key[1];
	size_t i;

	for (i = 0; i + 8 <= len; i += 8) {
		uint64_t m = le64(p + i);
		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	uint64_t b = (uint64_t)len << 56;
	for (size_t j = 0; i + j < len; j++)
		b |= (uint64_t)p[i + j] << (8 * j);
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

/* RFC 6528: ISN = M + F(localip, localport, remoteip, remoteport, key),
 * M a 4-microsecond timer. */
uint32_t tcp_isn(struct tcp_stack *st, const struct tcp_conn *c)
{
	uint8_t buf[40];
	size_t alen = c->af == TCP_AF_INET ? 4 : 16;

	memcpy(buf, c->laddr.b, alen);
	memcpy(buf + alen, c->raddr.b, alen);
	buf[2 * alen] = (uint8_t)(c->lport >> 8);
	buf[2 * alen + 1] = (uint8_t)c->lport;
	buf[2 * alen + 2] = (uint8_t)(c->rport >> 8);
	buf[2 * alen + 3] = (uint8_t)c->rport;
	uint32_t f = (uint32_t)tcp_siphash(st->isn_key, buf, 2 * alen + 4);
	return f + (uint32_t)(st->now / 4);
}
