/* SPDX-License-Identifier: BSD-3-Clause */
/* Checksum offloads. With TCP_CFG_TX_CSUM_OFFLOAD the engine leaves the
 * checksums to the NIC: it sets the flags and lengths DPDK asks for and
 * puts the pseudo-header sum in the TCP checksum field; what a NIC then
 * fills in must be a valid segment. With TCP_CFG_RX_CSUM_OFFLOAD it trusts
 * the NIC's GOOD verdicts (IP header and L4 separately) and checks every
 * other segment itself; without the flag it trusts nothing. */
#include <criterion/criterion.h>
#include <string.h>

#include <rte_ip.h>
#include <rte_tcp.h>

#include "harness.h"

static struct harness H;
static struct harness *h = &H;

static void fini(void)
{
	h_fini(h);
}

TestSuite(offload, .fini = fini);

/* What the NIC does with the request: fill in the checksums. */
static void nic_fill(struct rte_mbuf *m)
{
	uint8_t *p = rte_pktmbuf_mtod(m, uint8_t *);
	struct rte_tcp_hdr *th = (struct rte_tcp_hdr *)(p + m->l3_len);

	th->cksum = 0;
	if (m->ol_flags & RTE_MBUF_F_TX_IPV4) {
		struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)p;
		if (m->ol_flags & RTE_MBUF_F_TX_IP_CKSUM) {
			ip->hdr_checksum = 0;
			ip->hdr_checksum = rte_ipv4_cksum(ip);
		}
		th->cksum = rte_ipv4_udptcp_cksum(ip, th);
	} else {
		th->cksum = rte_ipv6_udptcp_cksum((struct rte_ipv6_hdr *)p, th);
	}
}

static void tx_offload(uint8_t af)
{
	struct tcp_config cfg = { .flags = TCP_CFG_TX_CSUM_OFFLOAD };
	h_init(h, &cfg, af);
	cr_assert_eq(tcp_listen(h->st, h->af, &h->local, h->lport, 0, 0), 0);
	uint8_t o[40];
	unsigned ol = o_mss(o, 1460);
	ol += o_sackok(o + ol);
	ol += o_ts(o + ol, 5, 0);
	ol += o_ws(o + ol, 7);
	o[ol++] = 1;
	h_send(h, 1000, 0, TH_SYN, 65535, o, ol, NULL, 0);
	cr_assert_eq(h->nout, 1, "one SYN-ACK");
	struct rte_mbuf *m = h->out[0];
	const uint8_t *p = rte_pktmbuf_mtod(m, const uint8_t *);
	unsigned l3 = af == TCP_AF_INET ? 20 : 40;
	cr_assert_eq(m->l2_len, 0);
	cr_assert_eq(m->l3_len, l3);
	cr_assert_eq(m->l4_len, (p[l3 + 12] >> 4) * 4u, "l4_len is the TCP header with options");
	cr_assert_gt(m->l4_len, 20);
	const struct rte_tcp_hdr *th = (const struct rte_tcp_hdr *)(p + l3);
	if (af == TCP_AF_INET) {
		const struct rte_ipv4_hdr *ip = (const struct rte_ipv4_hdr *)p;
		uint64_t want = RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_TCP_CKSUM;
		cr_assert_eq(m->ol_flags & want, want);
		cr_assert_eq(ip->hdr_checksum, 0, "IP checksum left to the NIC");
		cr_assert_eq(th->cksum, rte_ipv4_phdr_cksum(ip, m->ol_flags));
	} else {
		const struct rte_ipv6_hdr *ip = (const struct rte_ipv6_hdr *)p;
		uint64_t want = RTE_MBUF_F_TX_IPV6 | RTE_MBUF_F_TX_TCP_CKSUM;
		cr_assert_eq(m->ol_flags & want, want);
		cr_assert_eq(m->ol_flags & (RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM), 0);
		cr_assert_eq(th->cksum, rte_ipv6_phdr_cksum(ip, m->ol_flags));
	}
	struct h_seg s;
	h_out(h, 0, &s);
	cr_assert(!s.csum_ok, "the engine did not compute the full checksum itself");
	nic_fill(m);
	h_out(h, 0, &s);
	cr_assert(s.csum_ok, "what the NIC fills in is a valid segment");
	cr_assert_eq(s.flags, TH_SYN | TH_ACK);
	cr_assert_eq(s.ack, 1001);
}

Test(offload, tx_ipv4)
{
	tx_offload(TCP_AF_INET);
}

Test(offload, tx_ipv6)
{
	tx_offload(TCP_AF_INET6);
}

/* A SYN whose TCP checksum (or IPv4 header checksum) is wrong, marked by
 * the "NIC" with flags; returns whether the engine answered it. */
static bool syn_taken(bool bad_l4, bool bad_ip, uint64_t ol_flags)
{
	h_clear(h);
	struct rte_mbuf *m = h_craft(h, 5000, 0, TH_SYN, 65535, NULL, 0, NULL, 0);
	uint8_t *p = rte_pktmbuf_mtod(m, uint8_t *) + m->l2_len;
	unsigned l3 = h->af == TCP_AF_INET ? 20 : 40;
	if (bad_l4)
		((struct rte_tcp_hdr *)(p + l3))->cksum ^= 0x1234;
	if (bad_ip)
		((struct rte_ipv4_hdr *)p)->hdr_checksum ^= 0x0101;
	m->ol_flags = ol_flags;
	tcp_input(h->st, &m, 1);
	bool answered = h->nout == 1;
	if (answered) { /* forget the half-open connection */
		struct h_seg s;
		h_out(h, 0, &s);
		h_send(h, 5001, s.seq + 1, TH_ACK, 65535, NULL, 0, NULL, 0);
		cr_assert_not_null(h->last_conn);
		tcp_abort(h->last_conn);
		h_clear(h);
	}
	return answered;
}

static const uint64_t L4_GOOD = RTE_MBUF_F_RX_L4_CKSUM_GOOD;
static const uint64_t IP_GOOD = RTE_MBUF_F_RX_IP_CKSUM_GOOD;

Test(offload, rx_trusts_good_verdicts_only_when_configured)
{
	struct tcp_config cfg = { .flags = TCP_CFG_RX_CSUM_OFFLOAD };
	h_init(h, &cfg, TCP_AF_INET);
	cr_assert_eq(tcp_listen(h->st, h->af, &h->local, h->lport, 0, 0), 0);
	struct tcp_stack_stats st;

	cr_assert(syn_taken(false, false, 0), "a correct segment without verdicts is checked and taken");
	cr_assert(syn_taken(true, false, L4_GOOD | IP_GOOD), "the NIC said GOOD: not recomputed");
	cr_assert(!syn_taken(true, false, RTE_MBUF_F_RX_L4_CKSUM_BAD | IP_GOOD), "BAD is dropped");
	cr_assert(!syn_taken(true, false, RTE_MBUF_F_RX_L4_CKSUM_UNKNOWN | IP_GOOD),
		  "UNKNOWN is checked here");
	cr_assert(!syn_taken(true, false, RTE_MBUF_F_RX_L4_CKSUM_NONE | IP_GOOD),
		  "NONE (the NIC did not look) is checked here");
	cr_assert(!syn_taken(false, true, L4_GOOD), "a GOOD L4 says nothing of the IPv4 header");
	cr_assert(syn_taken(false, true, L4_GOOD | IP_GOOD), "both GOOD: taken as the NIC says");
	tcp_stack_stats(h->st, &st);
	cr_assert_eq(st.bad_csum, 4, "every refused segment counted (%lu)", (unsigned long)st.bad_csum);
}

Test(offload, rx_verdicts_ignored_without_the_flag)
{
	h_init(h, NULL, TCP_AF_INET6);
	cr_assert_eq(tcp_listen(h->st, h->af, &h->local, h->lport, 0, 0), 0);
	cr_assert(!syn_taken(true, false, L4_GOOD), "not configured: the engine checks itself");
	cr_assert(syn_taken(false, false, L4_GOOD));
	struct tcp_stack_stats st;
	tcp_stack_stats(h->st, &st);
	cr_assert_eq(st.bad_csum, 1);
}
