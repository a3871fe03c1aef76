/* SPDX-License-Identifier: BSD-3-Clause */
/* TCP options: MSS, window scale, SACK-permitted, SACK, timestamps.
 *
 * Parsing is strict: an option whose length byte is missing, below 2, runs
 * past the header, or does not match the fixed size of a known kind makes
 * the whole segment invalid (the caller drops and counts it). Unknown kinds
 * with a sane length are skipped (RFC 9293 3.2).
 */
#include "tcp_internal.h"

#include <string.h>

enum {
	OPT_EOL = 0, OPT_NOP = 1, OPT_MSS = 2, OPT_WS = 3, OPT_SACK_OK = 4,
	OPT_SACK = 5, OPT_TS = 8,
};

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

bool tcp_parse_options(const uint8_t *p, unsigned len, bool syn,
		       struct tcp_opts *o)
{
	memset(o, 0, sizeof(*o));
	unsigned i = 0;
	while (i < len) {
		uint8_t kind = p[i];
		if (kind == OPT_EOL)
			break;
		if (kind == OPT_NOP) {
			i++;
			continue;
		}
		if (i + 1 >= len)
			return false; /* no length byte */
		uint8_t olen = p[i + 1];
		if (olen < 2 || olen > len - i)
			return false;
		const uint8_t *v = p + i + 2;
		switch (kind) {
		case OPT_MSS:
			if (olen != 4)
				return false;
			if (syn) {
				o->has_mss = true;
				o->mss = (uint16_t)(v[0] << 8 | v[1]);
			}
			break;
		case OPT_WS:
			if (olen != 3)
				return false;
			if (syn) {
				o->has_wscale = true;
				/* RFC 7323 2.3: values above 14 are used as 14 */
				o->wscale = v[0] > TCP_WSCALE_MAX ? TCP_WSCALE_MAX : v[0];
			}
			break;
		case OPT_SACK_OK:
			if (olen != 2)
				return false;
			if (syn)
				o->sack_ok = true;
			break;
		case OPT_SACK: {
			unsigned n = (olen - 2u) / 8u;
			if (olen < 10 || (olen - 2u) % 8u != 0 || n > TCP_SACK_MAX_BLOCKS)
				return false;
			for (unsigned b = 0; b < n; b++) {
				o->sack[b][0] = be32(v + 8 * b);
				o->sack[b][1] = be32(v + 8 * b + 4);
			}
			o->nsack = (uint8_t)n;
			break;
		}
		case OPT_TS:
			if (olen != 10)
				return false;
			o->has_ts = true;
			o->tsval = be32(v);
			o->tsecr = be32(v + 4);
			break;
		default:
			break;
		}
		i += olen;
	}
	return true;
}

static uint32_t ts_now(const struct tcp_conn *c)
{
	return (uint32_t)(c->st->now / 1000); /* 1 ms ticks */
}

/* Writes the options for a segment of ours; returns their length (a
 * multiple of 4, at most 40). */
unsigned tcp_build_options(const struct tcp_conn *c, uint8_t flags, uint8_t *p)
{
	unsigned n = 0;
	uint32_t cfg = c->st->cfg.flags;

	if (flags & TH_SYN) {
		bool active = !(flags & TH_ACK);
		/* an active open made by tcp_connect_offer() offers what the
		 * other host's SYN did (syn_mss is set only then) */
		bool offer = active && c->syn_mss;
		uint16_t mss = offer ? c->syn_mss
			     : c->af == TCP_AF_INET ? c->st->cfg.mss
						    : (uint16_t)(c->st->cfg.mss - 20);
		p[n++] = OPT_MSS; p[n++] = 4;
		p[n++] = (uint8_t)(mss >> 8); p[n++] = (uint8_t)mss;
		bool sack = active ? !(cfg & TCP_CFG_NO_SACK) && (!offer || c->syn_sack_ok)
				   : (c->flags & TF_SACK);
		bool ts = active ? !(cfg & TCP_CFG_NO_TIMESTAMPS) && (!offer || c->syn_ts)
				 : (c->flags & TF_TS);
		bool ws = active ? !(cfg & TCP_CFG_NO_WSCALE) && (!offer || c->syn_wscale >= 0)
				 : (c->flags & TF_WSCALE);
		if (sack) {
			p[n++] = OPT_SACK_OK; p[n++] = 2;
		}
		if (ts) {
			if (!sack) {
				p[n++] = OPT_NOP; p[n++] = OPT_NOP;
			}
			p[n++] = OPT_TS; p[n++] = 10;
			put32(p + n, ts_now(c));
			put32(p + n + 4, active ? 0 : c->ts_recent);
			n += 8;
		} else if (sack) {
			p[n++] = OPT_NOP; p[n++] = OPT_NOP;
		}
		if (ws) {
			p[n++] = OPT_NOP;
			p[n++] = OPT_WS; p[n++] = 3; p[n++] = c->rcv_wscale;
		}
		return n;
	}
	if (c->flags & TF_TS) {
		p[n++] = OPT_NOP; p[n++] = OPT_NOP;
		p[n++] = OPT_TS; p[n++] = 10;
		put32(p + n, ts_now(c));
		put32(p + n + 4, c->ts_recent);
		n += 8;
	}
	/* a D-SACK (RFC 2883) goes first, once */
	unsigned ds = c->rcv_dsack[0] != c->rcv_dsack[1];
	if ((c->flags & TF_SACK) && (c->nrsb || ds) && !(flags & TH_RST)) {
		unsigned nb = c->nrsb + ds;
		unsigned room = (TCP_OPT_SPACE - n - 4) / 8;
		if (nb > room)
			nb = room;
		p[n++] = OPT_NOP; p[n++] = OPT_NOP;
		p[n++] = OPT_SACK; p[n++] = (uint8_t)(2 + 8 * nb);
		for (unsigned b = 0; b < nb; b++) {
			const uint32_t *blk = ds ? (b ? c->rsb[b - 1] : c->rcv_dsack) : c->rsb[b];
			put32(p + n, blk[0]);
			put32(p + n + 4, blk[1]);
			n += 8;
		}
	}
	return n;
}

uint32_t tcp_data_mss(const struct tcp_conn *c)
{
	/* snd_mss already leaves room for the timestamps; SACK blocks (and a
	 * D-SACK) take the rest from the payload, as Linux does */
	if (!(c->flags & TF_SACK) || (!c->nrsb && c->rcv_dsack[0] == c->rcv_dsack[1]))
		return c->snd_mss;
	uint8_t tmp[TCP_OPT_SPACE];
	unsigned extra = tcp_build_options(c, TH_ACK, tmp) - (c->flags & TF_TS ? 12u : 0u);
	return c->snd_mss > extra + 1 ? c->snd_mss - extra : 1;
}
