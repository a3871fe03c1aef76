/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer target: arbitrary segments into a tcp_stack.
 *
 * Each input builds a fresh stack with a listener (port 80) and, as far as
 * the input's first byte asks, a valid handshake prefix: a passive open
 * (SYN, then ACK) and an active open (tcp_connect, then the SYN-ACK), over
 * IPv4 or IPv6, with or without MSS/WS/SACK-permitted/timestamps. The rest
 * of the input is a list of operations:
 *   0: a segment to one of the connections, fields relative to its state
 *      (seq from rcv_nxt, ack from snd_una), fuzzed flags, window, options
 *      and payload, checksummed;
 *   1: raw bytes as an L3 packet at a fuzzed L2 offset;
 *   2: the clock moves and timers run;
 *   3: the application writes, reads, shuts down, closes or aborts; on a
 *      pending open: accepts it or refuses it (RST, silence, ICMP, or a
 *      fuzzed kind).
 * SYN cookies: at most 2 half-open, so SYNs beyond them get cookies; a
 * segment from the same port can then be relative to the last SYN-ACK (and
 * echo its TSval) to complete, or fail, a cookie handshake.
 * Intercepted flows: a segment operation may go through tcp_intercept()
 * (tenant 0 reports to ops->event, tenant 1 to a tenant handler) toward a
 * port that has no listener; pending opens join the application's
 * connections, bounded (3 per appliance, 2 per tenant) and timed out
 * after 5 s. A handshake prefix may hold one such open (and accept it).
 * Invariants: no sanitizer report, and every mbuf is back in the pool once
 * the stack is destroyed (the pool has no per-lcore cache, so its count is
 * exact). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_tcp.h>

#include "tcp_internal.h"
#include "test_eal.h"

enum { POOL = 2047, MAXC = 8, LPORT = 80, PEER_PORT = 40000, APORT = 50000, RPORT = 443,
       IPORT = 3260 };

struct in {
	const uint8_t *p;
	size_t n;
};

static uint8_t u8(struct in *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

static uint16_t u16(struct in *in)
{
	return (uint16_t)(u8(in) << 8 | u8(in));
}

static uint32_t u32(struct in *in)
{
	return (uint32_t)u16(in) << 16 | u16(in);
}

static struct rte_mempool *mp;
static uint64_t now;
static struct tcp_conn *conns[MAXC];
static bool leave_unread;

static const uint8_t L4[4] = { 198, 19, 0, 1 }, P4[4] = { 198, 19, 0, 2 };
static const uint8_t L6[16] = { 0x20, 0x01, 0, 2, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
static const uint8_t P6[16] = { 0x20, 0x01, 0, 2, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 2 };

static uint64_t now_us(void *ctx)
{
	(void)ctx;
	return now;
}

/* The last SYN-ACK sent (a cookie one, when no connection exists), so
 * that segments to a fresh port can complete a cookie handshake. */
static struct {
	bool valid;
	uint16_t dport;
	uint32_t seq, ack, tsval;
} synack;

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void output(void *ctx, struct rte_mbuf **pkts, uint16_t n)
{
	(void)ctx;
	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		const uint8_t *p = rte_pktmbuf_mtod(m, const uint8_t *);
		const struct rte_tcp_hdr *th = (const void *)(p + m->l3_len);
		if ((th->tcp_flags & (RTE_TCP_SYN_FLAG | RTE_TCP_ACK_FLAG)) ==
		    (RTE_TCP_SYN_FLAG | RTE_TCP_ACK_FLAG)) {
			synack.valid = true;
			synack.dport = rte_be_to_cpu_16(th->dst_port);
			synack.seq = rte_be_to_cpu_32(th->sent_seq);
			synack.ack = rte_be_to_cpu_32(th->recv_ack);
			synack.tsval = 0;
			const uint8_t *o = (const uint8_t *)(th + 1);
			unsigned ol = m->l4_len - 20u;
			for (unsigned k = 0; k + 10 <= ol; k++)
				if (o[k] == 8 && o[k + 1] == 10) {
					synack.tsval = get32(o + k + 2);
					break;
				}
		}
		rte_pktmbuf_free(m);
	}
}

static void forget(struct tcp_conn *c)
{
	for (int i = 0; i < MAXC; i++)
		if (conns[i] == c)
			conns[i] = NULL;
}

static void event(void *ctx, struct tcp_conn *c, uint32_t ev)
{
	(void)ctx;
	if (ev & (TCP_EV_CONNECTED | TCP_EV_PENDING)) {
		bool known = false;
		for (int i = 0; i < MAXC; i++)
			known |= conns[i] == c;
		for (int i = 0; i < MAXC && !known; i++)
			if (!conns[i]) {
				conns[i] = c;
				known = true;
			}
		if (!known) {
			tcp_close(c); /* a pending open: refused silently */
			return;
		}
	}
	if ((ev & TCP_EV_READABLE) && !leave_unread) {
		uint8_t buf[4096];
		while (tcp_read(c, buf, sizeof(buf)) > 0)
			;
	}
	if (ev & (TCP_EV_RESET | TCP_EV_TIMEOUT | TCP_EV_CLOSED)) {
		forget(c);
		tcp_close(c);
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (test_eal_init("fuzztcp", 64) < 0) {
		fprintf(stderr, "fuzz-tcp-input: rte_eal_init failed\n");
		abort();
	}
	mp = rte_pktmbuf_pool_create("fuzz_tcp", POOL, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
	if (!mp)
		abort();
	return 0;
}

/* Tenant 1's handler (its channel): the same application. */
static void chan_event(void *arg, struct tcp_conn *c, uint32_t ev)
{
	(void)arg;
	event(NULL, c, ev);
}

/* A checksummed segment from the peer (af, peer port sport) to dport,
 * through tcp_input(), or tcp_intercept() for tenant icpt when >= 0. */
static void segment_to(struct tcp_stack *st, uint8_t af, uint16_t sport, uint16_t dport,
		       uint32_t seq, uint32_t ack, uint8_t flags, uint16_t wnd,
		       const uint8_t *opt, unsigned optlen, const uint8_t *data,
		       unsigned len, int icpt)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(mp);
	if (!m)
		return;
	unsigned l3 = af == TCP_AF_INET ? 20 : 40, l4 = 20 + (optlen & ~3u);
	uint8_t *p = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)(l3 + l4 + len));
	if (!p) {
		rte_pktmbuf_free(m);
		return;
	}
	m->l2_len = 0;
	struct rte_tcp_hdr *th = (struct rte_tcp_hdr *)(p + l3);
	memset(th, 0, sizeof(*th));
	th->src_port = rte_cpu_to_be_16(sport);
	th->dst_port = rte_cpu_to_be_16(dport);
	th->sent_seq = rte_cpu_to_be_32(seq);
	th->recv_ack = rte_cpu_to_be_32(ack);
	th->data_off = (uint8_t)((l4 / 4) << 4);
	th->tcp_flags = flags;
	th->rx_win = rte_cpu_to_be_16(wnd);
	if (l4 > 20) /* opt and data may be NULL when empty */
		memcpy(th + 1, opt, l4 - 20);
	if (len)
		memcpy((uint8_t *)th + l4, data, len);
	if (af == TCP_AF_INET) {
		struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)p;
		memset(ip, 0, sizeof(*ip));
		ip->version_ihl = 0x45;
		ip->total_length = rte_cpu_to_be_16((uint16_t)(l3 + l4 + len));
		ip->time_to_live = 64;
		ip->next_proto_id = IPPROTO_TCP;
		memcpy(&ip->src_addr, P4, 4);
		memcpy(&ip->dst_addr, L4, 4);
		ip->hdr_checksum = rte_ipv4_cksum(ip);
		th->cksum = rte_ipv4_udptcp_cksum(ip, th);
	} else {
		struct rte_ipv6_hdr *ip = (struct rte_ipv6_hdr *)p;
		memset(ip, 0, sizeof(*ip));
		ip->vtc_flow = rte_cpu_to_be_32(6u << 28);
		ip->payload_len = rte_cpu_to_be_16((uint16_t)(l4 + len));
		ip->proto = IPPROTO_TCP;
		ip->hop_limits = 64;
		memcpy(ip->src_addr, P6, 16);
		memcpy(ip->dst_addr, L6, 16);
		th->cksum = rte_ipv6_udptcp_cksum(ip, th);
	}
	if (icpt >= 0)
		tcp_intercept(st, m, (uint16_t)icpt);
	else
		tcp_input(st, &m, 1);
}

static void segment(struct tcp_stack *st, uint8_t af, uint16_t sport, uint16_t dport,
		    uint32_t seq, uint32_t ack, uint8_t flags, uint16_t wnd,
		    const uint8_t *opt, unsigned optlen, const uint8_t *data, unsigned len)
{
	segment_to(st, af, sport, dport, seq, ack, flags, wnd, opt, optlen, data, len, -1);
}

/* The connection (not a listener) whose peer port is rport, if any. */
static struct tcp_conn *find_conn(struct tcp_stack *st, uint16_t rport)
{
	for (uint32_t i = 0; i < tcp_stack_max_conns(st); i++) {
		struct tcp_conn *c = (struct tcp_conn *)tcp_conn_at(st, i);
		if (c && c->rport == rport && !(c->flags & TF_LISTENER))
			return c;
	}
	return NULL;
}

static const uint8_t syn_opts[20] = {
	2, 4, 0x05, 0xb4,                 /* MSS 1460 */
	1, 3, 3, 7,                       /* NOP, WS 7 */
	4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, /* SACK-permitted, TS 1/0 */
};

static void handshakes(struct tcp_stack *st, uint8_t how)
{
	uint8_t af_a = how & 1 ? TCP_AF_INET6 : TCP_AF_INET;
	uint8_t af_b = how & 2 ? TCP_AF_INET6 : TCP_AF_INET;
	unsigned steps = (how >> 2) & 7;
	unsigned ol = how & 0x20 ? sizeof(syn_opts) : 0;
	static const uint8_t ack_opts[12] = { 1, 1, 8, 10, 0, 0, 0, 2, 0, 0, 0, 1 };
	if (steps >= 1)
		segment(st, af_a, PEER_PORT, LPORT, 1000, 0, RTE_TCP_SYN_FLAG, 65535,
			syn_opts, ol, NULL, 0);
	struct tcp_conn *a = find_conn(st, PEER_PORT);
	if (steps >= 2 && a) {
		segment(st, af_a, PEER_PORT, LPORT, 1001, a->iss + 1, RTE_TCP_ACK_FLAG, 512,
			ack_opts, ol ? 12 : 0, NULL, 0);
	}
	if (steps >= 3) {
		struct tcp_addr l = { { 0 } }, r = { { 0 } };
		memcpy(l.b, af_b == TCP_AF_INET ? L4 : L6, af_b == TCP_AF_INET ? 4 : 16);
		memcpy(r.b, af_b == TCP_AF_INET ? P4 : P6, af_b == TCP_AF_INET ? 4 : 16);
		struct tcp_conn *b = tcp_connect(st, af_b, &l, APORT, &r, RPORT, 0);
		for (int i = 0; b && i < MAXC; i++)
			if (!conns[i]) {
				conns[i] = b;
				break;
			}
		if (b && steps >= 4)
			segment(st, af_b, RPORT, APORT, 7000, b->iss + 1,
				RTE_TCP_SYN_FLAG | RTE_TCP_ACK_FLAG, 65535, syn_opts, ol, NULL, 0);
	}
	/* an intercepted flow's SYN held pending (tenant 1), then accepted
	 * and completed */
	if (steps >= 5)
		segment_to(st, af_a, PEER_PORT + 1, IPORT, 3000, 0, RTE_TCP_SYN_FLAG, 65535,
			   syn_opts, ol, NULL, 0, 1);
	struct tcp_conn *p = find_conn(st, PEER_PORT + 1);
	if (steps >= 6 && p && tcp_is_pending(p) && tcp_accept_pending(p) == 0 && steps >= 7)
		segment(st, af_a, PEER_PORT + 1, IPORT, 3001, p->iss + 1, RTE_TCP_ACK_FLAG, 512,
			ack_opts, ol ? 12 : 0, NULL, 0);
}

static void op_segment(struct tcp_stack *st, struct in *in)
{
	uint8_t sel = u8(in);
	uint8_t flags = u8(in);
	int32_t dseq = (int32_t)u32(in), dack = (int32_t)u32(in);
	uint16_t wnd = u16(in);
	unsigned optlen = u8(in) % 41;
	uint8_t opt[40] = { 0 };
	for (unsigned i = 0; i < optlen; i++)
		opt[i] = u8(in);
	unsigned len = u16(in) % 1400;
	if (len > in->n)
		len = (unsigned)in->n;
	const uint8_t *data = in->p;
	in->p += len;
	in->n -= len;
	/* the peer ports of the two handshakes, a fresh one, or the listener's */
	static const uint16_t sports[4] = { PEER_PORT, RPORT, PEER_PORT + 1, PEER_PORT + 2 };
	uint16_t sport = sports[sel & 3];
	uint16_t dport = (sel & 3) == 1 ? APORT : LPORT;
	uint8_t af = sel & 4 ? TCP_AF_INET6 : TCP_AF_INET;
	/* bit 4: through tcp_intercept() for tenant (bit 5), to a port with
	 * no listener */
	int icpt = sel & 0x10 ? (sel >> 5) & 1 : -1;
	if (icpt >= 0)
		dport = IPORT;
	struct tcp_conn *c = find_conn(st, sport);
	uint32_t seq = (uint32_t)dseq, ack = (uint32_t)dack;
	if (c && !(sel & 8)) {
		af = c->af;
		dport = c->lport;
		seq += c->rcv_nxt;
		ack += c->snd_una;
	} else if (!c && !(sel & 8) && synack.valid && synack.dport == sport) {
		/* relative to the last SYN-ACK: the cookie's ACK, its TSval
		 * echoed in a timestamp option at the start of the options */
		seq += synack.ack;
		ack += synack.seq + 1;
		if (optlen >= 12 && opt[2] == 8 && opt[3] == 10) {
			uint32_t e = get32(opt + 8) + synack.tsval;
			opt[8] = (uint8_t)(e >> 24);
			opt[9] = (uint8_t)(e >> 16);
			opt[10] = (uint8_t)(e >> 8);
			opt[11] = (uint8_t)e;
		}
	}
	segment_to(st, af, sport, dport, seq, ack, flags, wnd, opt, optlen, data, len, icpt);
}

static void op_raw(struct tcp_stack *st, struct in *in, bool offload)
{
	uint8_t l2 = u8(in) & 31;
	unsigned len = u16(in) % 1600;
	if (len > in->n)
		len = (unsigned)in->n;
	struct rte_mbuf *m = rte_pktmbuf_alloc(mp);
	if (!m)
		return;
	uint8_t *p = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)len);
	if (p)
		memcpy(p, in->p, len);
	in->p += len;
	in->n -= len;
	m->l2_len = l2;
	if (offload)
		m->ol_flags |= RTE_MBUF_F_RX_L4_CKSUM_GOOD;
	tcp_input(st, &m, 1);
}

static void op_app(struct in *in)
{
	uint8_t what = u8(in);
	struct tcp_conn *c = conns[(what >> 3) % MAXC];
	if (!c)
		return;
	static uint8_t buf[65536];
	if (tcp_is_pending(c)) {
		switch (what & 7) {
		case 3:
			tcp_accept_pending(c);
			return;
		case 6: {
			struct tcp_refused r;
			if (tcp_refuse_pending(c, TCP_REFUSE_UNREACH, &r) == 0)
				forget(c);
			return;
		}
		case 7: {
			enum tcp_refuse how = (enum tcp_refuse)(u8(in) & 7);
			if (tcp_refuse_pending(c, how, NULL) == 0)
				forget(c);
			return;
		}
		default:
			break; /* write, read, close (silent), abort (RST), consume */
		}
	}
	switch (what & 7) {
	case 0:
	case 1: {
		size_t n = (size_t)u16(in) * (what & 1 ? 16 : 1);
		if (n > sizeof(buf))
			n = sizeof(buf);
		tcp_write(c, buf, n);
		break;
	}
	case 2:
		tcp_read(c, buf, u16(in));
		break;
	case 3:
		tcp_shutdown(c);
		break;
	case 4:
		forget(c);
		tcp_close(c);
		break;
	case 5:
		forget(c);
		tcp_abort(c);
		break;
	case 6: {
		size_t n = tcp_readable(c), k = u16(in);
		tcp_consume(c, k < n ? k : n);
		break;
	}
	default:
		leave_unread = !leave_unread;
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct in in = { data, size };
	uint8_t how = u8(&in);
	bool offload = how & 0x40;
	struct tcp_config cfg = {
		.max_conns = 16, .max_half_open = 2, .max_tenants = 2,
		.sndbuf = 256u << 10, .rcvbuf = 256u << 10, .ooo_max = 64u << 10,
		.ooo_max_segs = 32, .tenant_max_buffer = 1u << 20,
		.flags = (offload ? TCP_CFG_RX_CSUM_OFFLOAD : 0) |
			 (how & 0x80 ? TCP_CFG_NEWRENO | TCP_CFG_NO_PACING : 0),
		.max_pending = 3, .tenant_max_pending = 2, .pending_timeout_us = 5000000,
	};
	memset(cfg.secret, 7, sizeof(cfg.secret));
	static const struct tcp_ops ops = { now_us, output, event };
	now = 1000000000ull;
	leave_unread = false;
	synack.valid = false;
	memset(conns, 0, sizeof(conns));
	struct tcp_stack *st = tcp_stack_create(&cfg, &ops, NULL, mp);
	if (!st)
		abort();
	struct tcp_addr any = { { 0 } };
	if (tcp_listen(st, TCP_AF_INET, &any, LPORT, 0, TCP_LISTEN_SYNCOOKIES) ||
	    tcp_listen(st, TCP_AF_INET6, &any, LPORT, 0, TCP_LISTEN_SYNCOOKIES))
		abort();
	if (tcp_tenant_handler(st, 1, chan_event, NULL))
		abort();
	handshakes(st, how);
	for (unsigned ops_done = 0; in.n && ops_done < 256; ops_done++) {
		switch (u8(&in) & 3) {
		case 0:
			op_segment(st, &in);
			break;
		case 1:
			op_raw(st, &in, offload);
			break;
		case 2:
			now += (uint64_t)u16(&in) * 1000;
			tcp_poll(st);
			break;
		default:
			op_app(&in);
			break;
		}
	}
	/* the pending bounds hold whatever came in */
	struct tcp_stack_stats ss;
	struct tcp_tenant_stats t0, t1;
	tcp_stack_stats(st, &ss);
	tcp_tenant_stats(st, 0, &t0);
	tcp_tenant_stats(st, 1, &t1);
	if (ss.pending > 3 || t0.pending > 2 || t1.pending > 2 ||
	    ss.pending != t0.pending + t1.pending)
		abort();
	/* run the timers out a while: retransmissions, TIME-WAIT */
	for (int i = 0; i < 8; i++) {
		now += 10000000;
		tcp_poll(st);
	}
	tcp_stack_destroy(st);
	if (rte_mempool_avail_count(mp) != POOL) {
		fprintf(stderr, "fuzz-tcp-input: %u mbufs not returned to the pool\n",
			POOL - rte_mempool_avail_count(mp));
		abort();
	}
	return 0;
}
