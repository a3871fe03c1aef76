/* SPDX-License-Identifier: BSD-3-Clause */
/* SYN cookies that keep the options (tcp_input.c "SYN cookies"): window
 * scale and SACK-permitted ride in the low bits of our TSval and come back
 * in the ACK's TSecr, authenticated by the cookie's hash; the MSS is a
 * 3-bit index. Every refused cookie is counted in syncookies_bad and
 * answered with RST; no connection state exists before a good ACK. */
#include <criterion/criterion.h>
#include <string.h>

#include "harness.h"

static struct harness H;
static struct harness *h = &H;

static void fini(void)
{
	h_fini(h);
}

TestSuite(cookies, .fini = fini);

static struct tcp_stack_stats stats(void)
{
	struct tcp_stack_stats s;
	tcp_stack_stats(h->st, &s);
	return s;
}

/* A stack whose cookie listener on port 9 answers every SYN with a cookie. */
static void setup(uint8_t af, uint32_t flags)
{
	struct tcp_config cfg = { .flags = TCP_CFG_SYNCOOKIES_ALWAYS | flags };
	h_init(h, &cfg, af);
	cr_assert_eq(tcp_listen(h->st, af, NULL, 9, 0, TCP_LISTEN_SYNCOOKIES), 0);
}

struct offer {
	uint16_t mss;   /* 0: no MSS option */
	int ws;         /* -1: none */
	bool sack, ts;
	uint32_t tsval;
};

static unsigned syn_opts(const struct offer *o, uint8_t *p)
{
	unsigned n = 0;
	if (o->mss)
		n += o_mss(p + n, o->mss);
	if (o->ws >= 0)
		n += o_ws(p + n, (uint8_t)o->ws);
	if (o->sack)
		n += o_sackok(p + n);
	if (o->ts)
		n += o_ts(p + n, o->tsval, 0);
	return n;
}

/* Sends the SYN, returns the cookie SYN-ACK. */
static void syn(const struct offer *o, uint32_t isn, struct h_seg *sa)
{
	uint8_t p[40];
	h_clear(h);
	h_send(h, isn, 0, TH_SYN, 65535, p, syn_opts(o, p), NULL, 0);
	cr_assert_eq(h->nout, 1, "one SYN-ACK");
	h_out(h, 0, sa);
	cr_assert_eq(sa->flags, TH_SYN | TH_ACK);
	cr_assert_eq(sa->ack, isn + 1);
	cr_assert(sa->csum_ok);
	h_clear(h);
}

/* The completing ACK (with a TS option echoing ecr when ts). */
static void ack(uint32_t isn, uint32_t cookie, bool ts, uint32_t val, uint32_t ecr,
		const void *data, uint32_t len)
{
	uint8_t p[12];
	h_send(h, isn + 1, cookie + 1, TH_ACK, 1000, p, ts ? o_ts(p, val, ecr) : 0,
	       data, len);
}

Test(cookies, options_kept_exactly_as_offered)
{
	setup(TCP_AF_INET, 0);
	unsigned n = 0;
	for (unsigned combo = 0; combo < 8; combo++) {
		struct offer o = { .mss = 1400, .ws = combo & 1 ? 7 : -1,
				   .sack = combo & 2, .ts = combo & 4, .tsval = 5000 };
		h->rport = (uint16_t)(30000 + combo);
		struct h_seg sa;
		syn(&o, 100000 * combo, &sa);
		cr_assert_eq(stats().conns, combo, "no state before the ACK");
		/* without timestamps nothing but the MSS can be remembered */
		cr_assert(sa.opt.has_mss && sa.opt.mss == 1400);
		cr_assert_eq(sa.opt.has_ts, o.ts, "combo %u", combo);
		cr_assert_eq(sa.opt.has_wscale, o.ts && o.ws >= 0, "combo %u", combo);
		cr_assert_eq(sa.opt.sack_ok, o.ts && o.sack, "combo %u", combo);
		uint32_t now_ms = (uint32_t)(h->now / 1000);
		if (o.ts) {
			cr_assert_eq(sa.opt.tsecr, 5000);
			cr_assert(SEQ_LEQ(sa.opt.tsval, now_ms), "TSval never ahead of the clock");
			cr_assert_lt(now_ms - sa.opt.tsval, 32);
		}
		if (sa.opt.has_wscale)
			cr_assert_eq(sa.opt.wscale, 9, "ours: 16 MiB rcvbuf");
		/* the ACK a little later */
		h->now += 7000;
		ack(100000 * combo, sa.seq, o.ts, 5001, sa.opt.tsval, NULL, 0);
		cr_assert_eq(stats().syncookies_ok, ++n, "combo %u", combo);
		struct tcp_conn *c = h->last_conn;
		cr_assert(h->events & TCP_EV_CONNECTED);
		cr_assert_eq(tcp_state(c), TCP_ESTABLISHED);
		cr_assert_eq(!!(c->flags & TF_TS), o.ts);
		cr_assert_eq(!!(c->flags & TF_WSCALE), o.ts && o.ws >= 0);
		cr_assert_eq(!!(c->flags & TF_SACK), o.ts && o.sack);
		cr_assert_eq(c->snd_wscale, o.ts && o.ws >= 0 ? 7 : 0);
		cr_assert_eq(c->snd_wnd, 1000u << c->snd_wscale, "the ACK's window is scaled");
		cr_assert_eq(c->snd_mss, o.ts ? 1400 - 12 : 1400);
		struct tcp_syn_opts so;
		tcp_conn_syn_opts(c, &so);
		cr_assert_eq(so.timestamps, o.ts);
		cr_assert_eq(so.sack_ok, o.ts && o.sack);
		cr_assert_eq(so.wscale, o.ts && o.ws >= 0 ? 7 : -1);
		/* data out: TSval from the same clock, not behind the SYN-ACK's
		 * (PAWS at the peer), echoing the ACK's TSval */
		h_clear(h);
		cr_assert_eq(tcp_write(c, "data", 4), 4);
		struct h_seg d;
		h_out(h, 0, &d);
		cr_assert_eq(d.seq, sa.seq + 1);
		cr_assert_eq(d.len, 4);
		cr_assert_eq(d.opt.has_ts, o.ts);
		if (o.ts) {
			cr_assert(SEQ_GEQ(d.opt.tsval, sa.opt.tsval));
			cr_assert_eq(d.opt.tsval, (uint32_t)(h->now / 1000));
			cr_assert_eq(d.opt.tsecr, 5001);
		}
		/* our windows scale by what we offered in the SYN-ACK */
		uint8_t ws = c->flags & TF_WSCALE ? 9 : 0;
		cr_assert_eq(c->rcv_wscale, ws);
		h_clear(h);
	}
}

Test(cookies, data_on_the_completing_ack_with_sack_blocks_later)
{
	setup(TCP_AF_INET, 0);
	struct offer o = { .mss = 1460, .ws = 2, .sack = true, .ts = true, .tsval = 77 };
	struct h_seg sa;
	syn(&o, 4000, &sa);
	ack(4000, sa.seq, true, 78, sa.opt.tsval, "ping", 4);
	struct tcp_conn *c = h->last_conn;
	char b[8];
	cr_assert_eq(tcp_read(c, b, sizeof(b)), 4);
	cr_assert_eq(memcmp(b, "ping", 4), 0);
	/* an out-of-order segment is reported with a SACK block: SACK is on */
	h_clear(h);
	uint8_t p[12];
	h_send(h, 4001 + 4 + 100, sa.seq + 1, TH_ACK, 1000, p, o_ts(p, 79, sa.opt.tsval),
	       "x", 1);
	struct h_seg d;
	h_out(h, h->nout - 1, &d);
	cr_assert_eq(d.ack, 4005);
	cr_assert_eq(d.opt.nsack, 1);
	cr_assert_eq(d.opt.sack[0][0], 4105);
	cr_assert_eq(d.opt.sack[0][1], 4106);
}

Test(cookies, mss_table_round_trip)
{
	for (unsigned i = 0; i < 8; i++) {
		uint16_t m = tcp_cookie_mss(i);
		cr_assert_eq(tcp_cookie_mss_index(m), i);
		cr_assert_eq(tcp_cookie_mss_index((uint16_t)(m + 1)), i, "rounded down");
		if (i)
			cr_assert_eq(tcp_cookie_mss_index((uint16_t)(m - 1)), i - 1);
		cr_assert_lt(tcp_cookie_mss(i), i < 7 ? tcp_cookie_mss(i + 1) : 65535);
	}
	cr_assert_eq(tcp_cookie_mss_index(100), 0, "tiny: the table's floor");
	/* through real handshakes: each value our MSS (1460) allows comes back */
	setup(TCP_AF_INET, 0);
	unsigned ok = 0;
	for (unsigned i = 0; i < 8; i++) {
		uint16_t m = tcp_cookie_mss(i);
		struct offer o = { .mss = m, .ws = -1 };
		h->rport = (uint16_t)(20000 + i);
		struct h_seg sa;
		syn(&o, 9000 + i, &sa);
		uint16_t want = m > 1460 ? 1460 : m;
		cr_assert_eq(sa.opt.mss, want);
		cr_assert_eq(sa.seq & 7, tcp_cookie_mss_index(want), "index in the low bits");
		ack(9000 + i, sa.seq, false, 0, 0, NULL, 0);
		cr_assert_eq(stats().syncookies_ok, ++ok);
		cr_assert_eq(h->last_conn->snd_mss, want);
	}
	/* no MSS option: the IPv4 default, 536 */
	h->rport = 20100;
	struct offer none = { .ws = -1 };
	struct h_seg sa;
	syn(&none, 1, &sa);
	cr_assert_eq(sa.opt.mss, 536);
	/* between entries: rounded down */
	h->rport = 20101;
	struct offer odd = { .mss = 1450, .ws = -1 };
	syn(&odd, 1, &sa);
	cr_assert_eq(sa.opt.mss, 1440);
}

Test(cookies, ipv6_mss_and_options)
{
	setup(TCP_AF_INET6, 0);
	struct offer o = { .mss = 1440, .ws = 14, .sack = true, .ts = true, .tsval = 1 };
	struct h_seg sa;
	syn(&o, 123, &sa);
	cr_assert_eq(sa.opt.mss, 1440, "ours for IPv6: 1460 - 20");
	cr_assert(sa.opt.has_wscale && sa.opt.sack_ok && sa.opt.has_ts);
	ack(123, sa.seq, true, 2, sa.opt.tsval, NULL, 0);
	struct tcp_conn *c = h->last_conn;
	cr_assert_eq(tcp_state(c), TCP_ESTABLISHED);
	cr_assert_eq(c->snd_wscale, 14);
	cr_assert(c->flags & TF_SACK);
}

Test(cookies, our_config_wins)
{
	/* a stack without SACK or window scaling never turns them on, even
	 * though the SYN offered them */
	setup(TCP_AF_INET, TCP_CFG_NO_SACK | TCP_CFG_NO_WSCALE);
	struct offer o = { .mss = 1460, .ws = 3, .sack = true, .ts = true, .tsval = 9 };
	struct h_seg sa;
	syn(&o, 55, &sa);
	cr_assert(sa.opt.has_ts && !sa.opt.sack_ok && !sa.opt.has_wscale);
	cr_assert_eq(sa.opt.tsval & 0x1f, 0x0f, "no wscale, no SACK in the bits");
	ack(55, sa.seq, true, 10, sa.opt.tsval, NULL, 0);
	struct tcp_conn *c = h->last_conn;
	cr_assert(!(c->flags & (TF_SACK | TF_WSCALE)));
	cr_assert(c->flags & TF_TS);
}

/* Each refused ACK: counted, answered with RST, no connection. */
static void refused(uint64_t *bad, const char *why)
{
	cr_assert_eq(stats().syncookies_bad, ++*bad, "%s: counted", why);
	cr_assert_eq(stats().conns, 0, "%s: nothing created", why);
	cr_assert_eq(stats().syncookies_ok, 0, "%s", why);
	cr_assert_eq(h->nout, 1, "%s: RST", why);
	struct h_seg r;
	h_out(h, 0, &r);
	cr_assert_eq(r.flags, TH_RST, "%s", why);
	h_clear(h);
}

Test(cookies, forged_cookie_refused)
{
	setup(TCP_AF_INET, 0);
	struct offer o = { .mss = 1460, .ws = 7, .sack = true, .ts = true, .tsval = 50 };
	struct h_seg sa;
	syn(&o, 700, &sa);
	uint64_t bad = 0;
	ack(700, sa.seq + 8, true, 51, sa.opt.tsval, NULL, 0);
	refused(&bad, "hash bits off");
	ack(700, sa.seq ^ 1, true, 51, sa.opt.tsval, NULL, 0);
	refused(&bad, "MSS index changed");
	ack(701, sa.seq, true, 51, sa.opt.tsval, NULL, 0);
	refused(&bad, "another client ISN");
	/* the genuine ACK still works afterwards */
	ack(700, sa.seq, true, 51, sa.opt.tsval, NULL, 0);
	cr_assert_eq(stats().syncookies_ok, 1);
	cr_assert_eq(tcp_state(h->last_conn), TCP_ESTABLISHED);
}

Test(cookies, expired_slot_refused)
{
	setup(TCP_AF_INET, 0);
	struct offer o = { .mss = 1460, .ws = 7, .sack = true, .ts = true, .tsval = 50 };
	struct h_seg sa;
	syn(&o, 700, &sa);
	uint64_t bad = 0;
	/* the slot of the SYN and the next one are good: 64 s..128 s; past
	 * the second slot the cookie is dead */
	h->now += 2 * TCP_COOKIE_PERIOD_S * 1000000ull;
	ack(700, sa.seq, true, 51, sa.opt.tsval, NULL, 0);
	refused(&bad, "two slots later");
	/* a fresh cookie from the same client works */
	h_clear(h);
	syn(&o, 700, &sa);
	h->now += TCP_COOKIE_PERIOD_S * 1000000ull;
	ack(700, sa.seq, true, 51, sa.opt.tsval, NULL, 0);
	cr_assert_eq(stats().syncookies_ok, 1, "one slot later: good");
}

Test(cookies, tampered_tsecr_refused)
{
	setup(TCP_AF_INET, 0);
	/* the SYN offered timestamps only: a forged TSecr must not be able
	 * to switch SACK or window scaling on */
	struct offer o = { .mss = 1460, .ws = -1, .sack = false, .ts = true, .tsval = 50 };
	struct h_seg sa;
	syn(&o, 700, &sa);
	cr_assert_eq(sa.opt.tsval & 0x1f, 0x0f);
	uint64_t bad = 0;
	uint32_t t = sa.opt.tsval;
	ack(700, sa.seq, true, 51, t | 0x10, NULL, 0);
	refused(&bad, "SACK bit set");
	ack(700, sa.seq, true, 51, (t & ~0x1fu) | 0x07, NULL, 0);
	refused(&bad, "window scale 7");
	ack(700, sa.seq, true, 51, t + 32, NULL, 0);
	refused(&bad, "clock bits changed");
	ack(700, sa.seq, false, 0, 0, NULL, 0);
	refused(&bad, "timestamps dropped");
	ack(700, sa.seq, true, 51, 0, NULL, 0);
	refused(&bad, "TSecr zero");
	/* and the other way: a cookie made without timestamps cannot gain them */
	struct offer plain = { .mss = 1460, .ws = 7, .sack = true };
	h->rport = 40001;
	syn(&plain, 900, &sa);
	cr_assert(!sa.opt.has_ts);
	ack(900, sa.seq, true, 51, 0x1f, NULL, 0);
	refused(&bad, "timestamps added");
	ack(900, sa.seq, false, 0, 0, NULL, 0);
	cr_assert_eq(stats().syncookies_ok, 1);
	cr_assert(!(h->last_conn->flags & (TF_SACK | TF_WSCALE | TF_TS)));
}

Test(cookies, other_four_tuple_refused)
{
	setup(TCP_AF_INET, 0);
	struct offer o = { .mss = 1460, .ws = 7, .sack = true, .ts = true, .tsval = 50 };
	struct h_seg sa;
	syn(&o, 700, &sa);
	uint64_t bad = 0;
	h->rport = 40001;
	ack(700, sa.seq, true, 51, sa.opt.tsval, NULL, 0);
	refused(&bad, "client port");
	h->rport = 40000;
	h->remote.b[3] = 3;
	ack(700, sa.seq, true, 51, sa.opt.tsval, NULL, 0);
	refused(&bad, "client address");
	h->remote.b[3] = 2;
	/* another local address: the listener is on any address */
	h->local.b[3] = 9;
	ack(700, sa.seq, true, 51, sa.opt.tsval, NULL, 0);
	cr_assert_eq(stats().syncookies_bad, ++bad, "server address");
	cr_assert_eq(stats().conns, 0);
	h_clear(h);
	h->local.b[3] = 1;
	ack(700, sa.seq, true, 51, sa.opt.tsval, NULL, 0);
	cr_assert_eq(stats().syncookies_ok, 1);
}

Test(cookies, only_when_half_open_is_full_without_always)
{
	struct tcp_config cfg = { .max_half_open = 1 };
	h_init(h, &cfg, TCP_AF_INET);
	cr_assert_eq(tcp_listen(h->st, TCP_AF_INET, NULL, 9, 0, TCP_LISTEN_SYNCOOKIES), 0);
	struct offer o = { .mss = 1460, .ws = 7, .sack = true, .ts = true, .tsval = 50 };
	struct h_seg sa;
	syn(&o, 1, &sa);
	cr_assert_eq(stats().syncookies_sent, 0);
	cr_assert_eq(stats().half_open, 1);
	h->rport = 40002;
	syn(&o, 1, &sa);
	cr_assert_eq(stats().syncookies_sent, 1);
	cr_assert(sa.opt.has_wscale && sa.opt.sack_ok);
	ack(1, sa.seq, true, 51, sa.opt.tsval, NULL, 0);
	cr_assert_eq(stats().syncookies_ok, 1);
	cr_assert(h->last_conn->flags & TF_SACK);
}

Test(cookies, tsval_carries_the_bits_and_never_runs_ahead)
{
	static const uint32_t clocks[] = { 0, 5, 31, 32, 33, 1000, 0x7fffffff,
					   0xffffffe0u, 0xffffffffu };
	for (unsigned i = 0; i < sizeof(clocks) / sizeof(clocks[0]); i++)
		for (uint8_t bits = 0; bits < 32; bits++) {
			uint32_t now = clocks[i], ts = tcp_cookie_tsval(now, bits);
			cr_assert_eq(ts & 31, bits);
			cr_assert(SEQ_LEQ(ts, now), "now %u bits %u: %u", now, bits, ts);
			cr_assert_lt(now - ts, 32u, "now %u bits %u: %u", now, bits, ts);
		}
}
