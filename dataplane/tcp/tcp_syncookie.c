/* SPDX-License-Identifier: BSD-3-Clause */
/* SYN cookies (RFC 4987) for listeners with TCP_LISTEN_SYNCOOKIES: no
 * state is kept for a SYN answered with a cookie, and the ACK that
 * completes the handshake opens the connection from what it echoes.
 *
 * The cookie is our ISN: 29 bits of SipHash-2-4 (the stack's cookie_key)
 * over the 4-tuple, the client's ISN, the 64 s time slot, the MSS index
 * and the timestamp word, then the 3-bit MSS index in clear. The
 * timestamp word is 0 when the SYN offered no timestamps; otherwise it is
 * the TSval of our SYN-ACK, whose low 5 bits carry the client's options
 * (bits 0-3: its window scale, 15 = none; bit 4: SACK-permitted) and whose
 * high bits are our millisecond clock, rounded down so that it never runs
 * ahead of the clock (the TSvals of the connection stay monotonic at the
 * peer, RFC 7323 PAWS). The completing ACK echoes that TSval in TSecr: the
 * hash over it authenticates the option bits, so a forged or altered TSecr
 * (or a timestamp option added or removed) fails the check like a forged
 * cookie. A cookie is good in its slot and the next (64-128 s). */
#include "tcp_internal.h"

#include <string.h>

/* MSS values a cookie can carry (3 bits): the common ones for IPv4 and
 * IPv6 paths (1460/1440 Ethernet, 1400..1300 tunnels and PPPoE, 1220 the
 * IPv6 minimum, 536 the IPv4 default, 8960 jumbo). A SYN's MSS is rounded
 * down to the table. */
static const uint16_t cookie_mss[8] = { 536, 1220, 1300, 1360, 1400, 1440, 1460, 8960 };

enum {
	COOKIE_MSS_BITS = 3,
	COOKIE_TS_BITS = 5,
	COOKIE_WS_NONE = 0xf,
	COOKIE_SACK = 0x10,
};

struct cookie_in {
	uint32_t slot, peer_isn;
	uint8_t mss_idx;
	uint8_t has_ts;
	uint32_t ts; /* our TSval (the ACK's TSecr), 0 without timestamps */
};

static uint32_t cookie_hash(struct tcp_stack *st, const struct tcp_seg *s,
			    const struct cookie_in *in)
{
	uint8_t buf[64];
	size_t alen = s->af == TCP_AF_INET ? 4 : 16, n = 0;
	memcpy(buf, s->src.b, alen); n += alen;
	memcpy(buf + n, s->dst.b, alen); n += alen;
	memcpy(buf + n, &s->sport, 2); n += 2;
	memcpy(buf + n, &s->dport, 2); n += 2;
	memcpy(buf + n, &in->slot, 4); n += 4;
	memcpy(buf + n, &in->peer_isn, 4); n += 4;
	buf[n++] = in->mss_idx;
	buf[n++] = in->has_ts;
	memcpy(buf + n, &in->ts, 4); n += 4;
	buf[n++] = s->af;
	return (uint32_t)tcp_siphash(st->cookie_key, buf, n);
}

static uint32_t cookie_slot(const struct tcp_stack *st)
{
	return (uint32_t)(st->now / 1000000 / TCP_COOKIE_PERIOD_S);
}

unsigned tcp_cookie_mss_index(uint16_t mss)
{
	unsigned idx = 0;
	for (unsigned i = 0; i < 8; i++)
		if (cookie_mss[i] <= mss)
			idx = i;
	return idx;
}

uint16_t tcp_cookie_mss(unsigned idx)
{
	return cookie_mss[idx & 7];
}

/* The TSval of a cookie SYN-ACK: the clock with the option bits in its low
 * bits, never ahead of the clock. */
uint32_t tcp_cookie_tsval(uint32_t now_ms, uint8_t bits)
{
	uint32_t mask = (1u << COOKIE_TS_BITS) - 1;
	uint32_t ts = (now_ms & ~mask) | (bits & mask);
	if (SEQ_GT(ts, now_ms))
		ts -= mask + 1;
	return ts;
}

static uint32_t cookie_make(struct tcp_stack *st, const struct tcp_seg *s,
			    unsigned mss_idx, bool has_ts, uint32_t ts)
{
	struct cookie_in in = { .slot = cookie_slot(st), .peer_isn = s->seq,
				.mss_idx = (uint8_t)mss_idx, .has_ts = has_ts,
				.ts = has_ts ? ts : 0 };
	uint32_t mask = (1u << COOKIE_MSS_BITS) - 1;
	return (cookie_hash(st, s, &in) & ~mask) | mss_idx;
}

/* Checks the ACK that completes a cookie handshake; returns the MSS index
 * or -1. The option bits are then in s->opt.tsecr (when s has TS). */
static int cookie_check(struct tcp_stack *st, const struct tcp_seg *s)
{
	uint32_t mask = (1u << COOKIE_MSS_BITS) - 1;
	uint32_t cookie = s->ack - 1;
	struct cookie_in in = { .peer_isn = s->seq - 1,
				.mss_idx = (uint8_t)(cookie & mask),
				.has_ts = s->opt.has_ts,
				.ts = s->opt.has_ts ? s->opt.tsecr : 0 };
	uint32_t slot = cookie_slot(st);
	for (uint32_t d = 0; d < 2; d++) {
		in.slot = slot - d;
		if ((cookie_hash(st, s, &in) & ~mask) == (cookie & ~mask))
			return in.mss_idx;
	}
	return -1;
}

void tcp_cookie_send(struct tcp_stack *st, const struct tcp_seg *s)
{
	const struct tcp_config *cfg = &st->cfg;
	uint16_t ours = s->af == TCP_AF_INET ? cfg->mss : (uint16_t)(cfg->mss - 20);
	uint16_t theirs = s->opt.has_mss ? s->opt.mss : (s->af == TCP_AF_INET ? 536 : 1220);
	unsigned idx = tcp_cookie_mss_index(theirs < ours ? theirs : ours);
	bool ts = s->opt.has_ts && !(cfg->flags & TCP_CFG_NO_TIMESTAMPS);
	bool ws = ts && s->opt.has_wscale && !(cfg->flags & TCP_CFG_NO_WSCALE);
	bool sack = ts && s->opt.sack_ok && !(cfg->flags & TCP_CFG_NO_SACK);
	uint32_t tsval = 0;
	if (ts) {
		uint8_t bits = (uint8_t)((ws ? s->opt.wscale : COOKIE_WS_NONE) |
					 (sack ? COOKIE_SACK : 0));
		tsval = tcp_cookie_tsval((uint32_t)(st->now / 1000), bits);
	}
	tcp_send_synack_cookie(st, s, cookie_make(st, s, idx, ts, tsval),
			       cookie_mss[idx], ts ? (int64_t)tsval : -1, sack,
			       ws ? tcp_our_wscale(st) : -1);
}

struct tcp_conn *tcp_cookie_open(struct tcp_stack *st,
				    const struct tcp_listener *l,
				    const struct tcp_seg *s)
{
	int idx = cookie_check(st, s);
	if (idx < 0) {
		st->stats.syncookies_bad++;
		return NULL;
	}
	if (!tcp_may_open(st, l->tenant, false))
		return NULL;
	struct tcp_conn *c = tcp_conn_alloc(st, s->af, &s->dst, s->dport,
					    &s->src, s->sport, l->tenant);
	if (!c)
		return NULL;
	st->stats.syncookies_ok++;
	c->flags |= TF_PASSIVE;
	c->handler = l->fn;
	c->handler_arg = l->arg;
	c->irs = s->seq - 1;
	c->rcv_nxt = s->seq;
	c->rcv_wscale = 0;
	c->iss = s->ack - 1;
	c->snd_una = c->snd_nxt = c->snd_max = s->ack;
	c->recover = c->iss;
	c->snd_mss = cookie_mss[idx];
	c->syn_mss = c->snd_mss;
	c->syn_wscale = -1;
	if (s->opt.has_ts) {
		/* the options the SYN offered and we accepted (send_cookie) */
		uint8_t bits = (uint8_t)(s->opt.tsecr & ((1u << COOKIE_TS_BITS) - 1));
		uint8_t ws = bits & COOKIE_WS_NONE;
		c->flags |= TF_TS;
		c->syn_ts = true;
		c->ts_recent = s->opt.tsval;
		c->ts_recent_us = st->now;
		c->snd_mss = (uint16_t)(c->snd_mss - 12);
		if (ws != COOKIE_WS_NONE && ws <= TCP_WSCALE_MAX) {
			c->flags |= TF_WSCALE;
			c->snd_wscale = ws;
			c->rcv_wscale = tcp_our_wscale(st);
			c->syn_wscale = (int8_t)ws;
		}
		if (bits & COOKIE_SACK) {
			c->flags |= TF_SACK;
			c->syn_sack_ok = true;
		}
	}
	c->snd_wnd = (uint32_t)s->wnd << c->snd_wscale;
	c->max_snd_wnd = c->snd_wnd;
	c->snd_wl1 = s->seq;
	c->snd_wl2 = s->ack;
	c->rcv_adv = c->rcv_nxt + 65535; /* the SYN-ACK's window, unscaled */
	c->last_ack_sent = c->rcv_nxt;
	tcp_cc_init(c);
	tcp_established(c);
	return c;
}
