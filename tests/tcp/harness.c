/* SPDX-License-Identifier: BSD-3-Clause */
#include "harness.h"
#include "test_eal.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_ip.h>
#include <rte_mempool.h>
#include <rte_tcp.h>

static bool eal_up;

void h_eal(void)
{
	if (eal_up)
		return;
	cr_assert_geq(test_eal_init("tcpt", 128), 0, "rte_eal_init");
	eal_up = true;
}

static uint64_t now_us(void *ctx)
{
	return ((struct harness *)ctx)->now;
}

static void output(void *ctx, struct rte_mbuf **pkts, uint16_t n)
{
	struct harness *h = ctx;
	for (uint16_t i = 0; i < n; i++) {
		if (h->nout < H_MAXOUT)
			h->out[h->nout++] = pkts[i];
		else
			rte_pktmbuf_free(pkts[i]);
	}
}

static void event(void *ctx, struct tcp_conn *c, uint32_t ev)
{
	struct harness *h = ctx;
	h->last_conn = c;
	h->events |= ev;
	h->nevents++;
	if (h->on_event)
		h->on_event(h, c, ev);
}

void h_init(struct harness *h, struct tcp_config *cfg, uint8_t af)
{
	static int pools;
	h_eal();
	memset(h, 0, sizeof(*h));
	char name[32];
	snprintf(name, sizeof(name), "tp%d", pools++);
	h->mp = rte_pktmbuf_pool_create(name, 4095, 256, 0,
					RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	cr_assert_not_null(h->mp);
	static const struct tcp_ops ops = { now_us, output, event };
	struct tcp_config def = { 0 };
	if (!cfg)
		cfg = &def;
	memset(cfg->secret, 7, sizeof(cfg->secret)); /* deterministic ISNs */
	h->now = 1000000000ull;
	h->st = tcp_stack_create(cfg, &ops, h, h->mp);
	cr_assert_not_null(h->st);
	h->af = af;
	if (af == TCP_AF_INET) {
		uint8_t l[4] = { 198, 18, 128, 1 }, r[4] = { 198, 18, 128, 2 };
		memcpy(h->local.b, l, 4);
		memcpy(h->remote.b, r, 4);
	} else {
		uint8_t l[16] = { 0x20, 0x01, 0, 2, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
		memcpy(h->local.b, l, 16);
		memcpy(h->remote.b, l, 16);
		h->remote.b[15] = 2;
	}
	h->lport = 9;
	h->rport = 40000;
}

void h_clear(struct harness *h)
{
	for (unsigned i = 0; i < h->nout; i++)
		rte_pktmbuf_free(h->out[i]);
	h->nout = 0;
	h->events = 0;
	h->nevents = 0;
}

void h_fini(struct harness *h)
{
	if (!h->mp)
		return;
	h_clear(h);
	tcp_stack_destroy(h->st);
	/* every mbuf must be back in the pool: nothing leaked */
	cr_assert_eq(rte_mempool_in_use_count(h->mp), 0, "mbufs leaked: %u",
		     rte_mempool_in_use_count(h->mp));
	rte_mempool_free(h->mp);
	h->mp = NULL;
}

void h_advance(struct harness *h, uint64_t us)
{
	h->now += us;
	tcp_poll(h->st);
}

struct rte_mbuf *h_craft(struct harness *h, uint32_t seq, uint32_t ack,
			 uint8_t flags, uint16_t wnd, const uint8_t *opts,
			 unsigned optlen, const void *data, uint32_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(h->mp);
	cr_assert_not_null(m);
	unsigned l3 = h->af == TCP_AF_INET ? 20 : 40;
	unsigned l4 = 20 + optlen;
	uint8_t *p = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)(14 + l3 + l4 + len));
	cr_assert_not_null(p);
	memset(p, 0xee, 14);
	m->l2_len = 14;
	p += 14;
	struct rte_tcp_hdr *th = (struct rte_tcp_hdr *)(p + l3);
	th->src_port = rte_cpu_to_be_16(h->rport);
	th->dst_port = rte_cpu_to_be_16(h->lport);
	th->sent_seq = rte_cpu_to_be_32(seq);
	th->recv_ack = rte_cpu_to_be_32(ack);
	th->data_off = (uint8_t)((l4 / 4) << 4);
	th->tcp_flags = flags;
	th->rx_win = rte_cpu_to_be_16(wnd);
	th->cksum = 0;
	th->tcp_urp = 0;
	if (optlen)
		memcpy(th + 1, opts, optlen);
	if (len)
		memcpy((uint8_t *)th + l4, data, len);
	if (h->af == TCP_AF_INET) {
		struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)p;
		memset(ip, 0, sizeof(*ip));
		ip->version_ihl = 0x45;
		ip->total_length = rte_cpu_to_be_16((uint16_t)(l3 + l4 + len));
		ip->time_to_live = 64;
		ip->next_proto_id = IPPROTO_TCP;
		memcpy(&ip->src_addr, h->remote.b, 4);
		memcpy(&ip->dst_addr, h->local.b, 4);
		ip->hdr_checksum = rte_ipv4_cksum(ip);
		th->cksum = rte_ipv4_udptcp_cksum(ip, th);
	} else {
		struct rte_ipv6_hdr *ip = (struct rte_ipv6_hdr *)p;
		memset(ip, 0, sizeof(*ip));
		ip->vtc_flow = rte_cpu_to_be_32(6u << 28);
		ip->payload_len = rte_cpu_to_be_16((uint16_t)(l4 + len));
		ip->proto = IPPROTO_TCP;
		ip->hop_limits = 64;
		memcpy(ip->src_addr, h->remote.b, 16);
		memcpy(ip->dst_addr, h->local.b, 16);
		th->cksum = rte_ipv6_udptcp_cksum(ip, th);
	}
	return m;
}

void h_send(struct harness *h, uint32_t seq, uint32_t ack, uint8_t flags,
	    uint16_t wnd, const uint8_t *opts, unsigned optlen,
	    const void *data, uint32_t len)
{
	struct rte_mbuf *m = h_craft(h, seq, ack, flags, wnd, opts, optlen, data, len);
	tcp_input(h->st, &m, 1);
}

void h_out(struct harness *h, unsigned i, struct h_seg *s)
{
	cr_assert_lt(i, h->nout, "output segment %u missing (have %u)", i, h->nout);
	struct rte_mbuf *m = h->out[i];
	cr_assert_eq(m->nb_segs, 1);
	const uint8_t *p = rte_pktmbuf_mtod(m, const uint8_t *);
	const struct rte_tcp_hdr *th;
	memset(s, 0, sizeof(*s));
	if ((p[0] >> 4) == 4) {
		const struct rte_ipv4_hdr *ip = (const void *)p;
		cr_assert_eq(rte_be_to_cpu_16(ip->total_length), m->data_len);
		cr_assert_eq(memcmp(&ip->src_addr, h->local.b, 4), 0);
		cr_assert_eq(memcmp(&ip->dst_addr, h->remote.b, 4), 0);
		th = (const void *)(p + 20);
		s->csum_ok = rte_raw_cksum(ip, 20) == 0xffff &&
			     rte_ipv4_udptcp_cksum(ip, th) == 0;
		s->af = 4;
	} else {
		const struct rte_ipv6_hdr *ip = (const void *)p;
		cr_assert_eq(rte_be_to_cpu_16(ip->payload_len) + 40u, m->data_len);
		th = (const void *)(p + 40);
		s->csum_ok = rte_ipv6_udptcp_cksum(ip, th) == 0;
		s->af = 6;
	}
	unsigned doff = (th->data_off >> 4) * 4u;
	s->seq = rte_be_to_cpu_32(th->sent_seq);
	s->ack = rte_be_to_cpu_32(th->recv_ack);
	s->flags = th->tcp_flags;
	s->wnd = rte_be_to_cpu_16(th->rx_win);
	s->sport = rte_be_to_cpu_16(th->src_port);
	s->dport = rte_be_to_cpu_16(th->dst_port);
	s->len = (uint32_t)(m->data_len - ((const uint8_t *)th - p) - doff);
	memcpy(s->payload, (const uint8_t *)th + doff, s->len);
	cr_assert(tcp_parse_options((const uint8_t *)(th + 1), doff - 20,
				    (s->flags & TH_SYN) != 0, &s->opt));
}

struct tcp_conn *h_accept(struct harness *h, uint32_t peer_isn,
			  const uint8_t *opts, unsigned optlen, uint32_t *iss)
{
	cr_assert_eq(tcp_listen(h->st, h->af, &h->local, h->lport, 0, 0), 0);
	h_send(h, peer_isn, 0, TH_SYN, 65535, opts, optlen, NULL, 0);
	cr_assert_eq(h->nout, 1, "one SYN-ACK");
	struct h_seg s;
	h_out(h, 0, &s);
	cr_assert_eq(s.flags, TH_SYN | TH_ACK);
	cr_assert_eq(s.ack, peer_isn + 1);
	cr_assert(s.csum_ok);
	*iss = s.seq;
	h_clear(h);
	uint8_t o[12];
	unsigned ol = 0;
	if (s.opt.has_ts)
		ol = o_ts(o, 1000, s.opt.tsval);
	h_send(h, peer_isn + 1, s.seq + 1, TH_ACK, 65535, o, ol, NULL, 0);
	cr_assert(h->events & TCP_EV_CONNECTED);
	struct tcp_conn *c = h->last_conn;
	cr_assert_not_null(c);
	cr_assert_eq(tcp_state(c), TCP_ESTABLISHED);
	h_clear(h);
	return c;
}

unsigned o_mss(uint8_t *p, uint16_t mss)
{
	p[0] = 2; p[1] = 4; p[2] = (uint8_t)(mss >> 8); p[3] = (uint8_t)mss;
	return 4;
}

unsigned o_ws(uint8_t *p, uint8_t ws)
{
	p[0] = 1; p[1] = 3; p[2] = 3; p[3] = ws;
	return 4;
}

unsigned o_sackok(uint8_t *p)
{
	p[0] = 1; p[1] = 1; p[2] = 4; p[3] = 2;
	return 4;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

unsigned o_ts(uint8_t *p, uint32_t val, uint32_t ecr)
{
	p[0] = 1; p[1] = 1; p[2] = 8; p[3] = 10;
	put32(p + 4, val);
	put32(p + 8, ecr);
	return 12;
}

unsigned o_sack(uint8_t *p, const uint32_t (*b)[2], unsigned n)
{
	p[0] = 1; p[1] = 1; p[2] = 5; p[3] = (uint8_t)(2 + 8 * n);
	for (unsigned i = 0; i < n; i++) {
		put32(p + 4 + 8 * i, b[i][0]);
		put32(p + 8 + 8 * i, b[i][1]);
	}
	return 4 + 8 * n;
}

void h_ack_sack(struct harness *h, uint32_t peer_seq, uint32_t iss, uint32_t cum,
		const uint32_t (*rel)[2], unsigned n)
{
	uint32_t b = iss + 1, blk[4][2];
	uint8_t o[40];
	unsigned ol;

	for (unsigned i = 0; i < n; i++) {
		blk[i][0] = b + rel[i][0];
		blk[i][1] = b + rel[i][1];
	}
	ol = n ? o_sack(o, (const uint32_t (*)[2])blk, n) : 0;
	h_send(h, peer_seq, b + cum, TH_ACK, 65535, o, ol, NULL, 0);
}
