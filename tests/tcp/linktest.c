/* SPDX-License-Identifier: BSD-3-Clause */
/* tcp-linktest: the TCP engine and its link-test services on one DPDK
 * port, with just enough L2 to be reached (ARP, IPv6 neighbour discovery),
 * so end-to-end tests can drive the engine with Linux TCP before straitd
 * wires it in. Not the appliance: no bridging, no flow table.
 *
 *   tcp-linktest [EAL args] -- --ip A.B.C.D [--ip6 ADDR] [--drop PCT]
 *       [--dup PCT] [--reorder PCT] [--seed N] [--seconds N] [--newreno]
 *       [--no-pacing] [--syncookies-always]
 *
 * --drop/--dup/--reorder perturb a share (percent, may be fractional) of
 * the segments the engine receives and of those it sends, through
 * straitd's own impairment knob (tcp_impair.h: the same draws for the same
 * seed and packet order). Prints "ready" once listening, JSON statistics
 * on SIGTERM/SIGINT.
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_arp.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "tcp.h"
#include "tcp_impair.h"
#include "tcp_services.h"

enum { BURST = 32, NEIGH = 64 };

struct neigh {
	uint8_t af;
	uint8_t ip[16];
	struct rte_ether_addr mac;
};

static volatile sig_atomic_t stop;
static uint16_t port;
static struct rte_ether_addr mymac;
static uint8_t myip[4], myip6[16];
static bool have6;
static struct neigh neigh[NEIGH];
static unsigned nneigh, neigh_next;
static struct rte_mempool *mp;
static struct tcp_stack *st;
static struct tcp_impair im;
static uint64_t n_rx, n_tx, n_noneigh, n_txfail;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static uint64_t now_us(void *ctx)
{
	(void)ctx;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void learn(uint8_t af, const void *ip, const struct rte_ether_addr *mac)
{
	size_t len = af == 4 ? 4 : 16;
	for (unsigned i = 0; i < nneigh; i++)
		if (neigh[i].af == af && !memcmp(neigh[i].ip, ip, len)) {
			neigh[i].mac = *mac;
			return;
		}
	struct neigh *n = &neigh[nneigh < NEIGH ? nneigh++ : neigh_next++ % NEIGH];
	n->af = af;
	memset(n->ip, 0, 16);
	memcpy(n->ip, ip, len);
	n->mac = *mac;
}

static const struct rte_ether_addr *lookup(uint8_t af, const void *ip)
{
	size_t len = af == 4 ? 4 : 16;
	for (unsigned i = 0; i < nneigh; i++)
		if (neigh[i].af == af && !memcmp(neigh[i].ip, ip, len))
			return &neigh[i].mac;
	return NULL;
}

static void tx_raw(struct rte_mbuf **pkts, uint16_t n)
{
	uint16_t sent = 0;
	for (int tries = 0; sent < n && tries < 100; tries++)
		sent += rte_eth_tx_burst(port, 0, pkts + sent, (uint16_t)(n - sent));
	for (uint16_t i = sent; i < n; i++) {
		n_txfail++;
		rte_pktmbuf_free(pkts[i]);
	}
	n_tx += sent;
}

static void output(void *ctx, struct rte_mbuf **pkts, uint16_t n)
{
	(void)ctx;
	struct rte_mbuf *tx[BURST * 3];
	unsigned nt = 0;
	uint64_t now = now_us(NULL);
	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		const uint8_t *l3 = rte_pktmbuf_mtod(m, const uint8_t *);
		uint8_t af = (l3[0] >> 4) == 4 ? 4 : 6;
		const struct rte_ether_addr *dst =
			lookup(af, af == 4 ? l3 + 16 : l3 + 24);
		if (!dst) {
			n_noneigh++;
			rte_pktmbuf_free(m);
			continue;
		}
		struct rte_ether_hdr *eh =
			(struct rte_ether_hdr *)rte_pktmbuf_prepend(m, sizeof(*eh));
		if (!eh) {
			n_txfail++;
			rte_pktmbuf_free(m);
			continue;
		}
		eh->dst_addr = *dst;
		eh->src_addr = mymac;
		eh->ether_type = rte_cpu_to_be_16(af == 4 ? RTE_ETHER_TYPE_IPV4
							  : RTE_ETHER_TYPE_IPV6);
		m->l2_len = sizeof(*eh);
		nt += tcp_impair_pass(&im, TCP_IMPAIR_TX, m, now, tx + nt);
		if (nt >= BURST * 2) {
			tx_raw(tx, (uint16_t)nt);
			nt = 0;
		}
	}
	if (nt)
		tx_raw(tx, (uint16_t)nt);
}

static void arp_input(struct rte_mbuf *m)
{
	struct rte_ether_hdr *eh = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	if (m->data_len < sizeof(*eh) + sizeof(struct rte_arp_hdr))
		goto drop;
	struct rte_arp_hdr *a = (struct rte_arp_hdr *)(eh + 1);
	if (a->arp_hardware != rte_cpu_to_be_16(RTE_ARP_HRD_ETHER) ||
	    a->arp_protocol != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4))
		goto drop;
	learn(4, &a->arp_data.arp_sip, &a->arp_data.arp_sha);
	if (a->arp_opcode != rte_cpu_to_be_16(RTE_ARP_OP_REQUEST) ||
	    memcmp(&a->arp_data.arp_tip, myip, 4))
		goto drop;
	a->arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REPLY);
	a->arp_data.arp_tha = a->arp_data.arp_sha;
	a->arp_data.arp_tip = a->arp_data.arp_sip;
	a->arp_data.arp_sha = mymac;
	memcpy(&a->arp_data.arp_sip, myip, 4);
	eh->dst_addr = eh->src_addr;
	eh->src_addr = mymac;
	tx_raw(&m, 1);
	return;
drop:
	rte_pktmbuf_free(m);
}

/* IPv6 neighbour solicitation for our address: answer with an
 * advertisement carrying our link-layer address. */
static bool nd_input(struct rte_mbuf *m, struct rte_ipv6_hdr *ip6)
{
	struct rte_ether_hdr *eh = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	uint8_t *icmp = (uint8_t *)(ip6 + 1);
	if (m->data_len < sizeof(*eh) + sizeof(*ip6) + 24 || icmp[0] != 135)
		return false;
	if (memcmp(icmp + 8, myip6, 16))
		return false;
	learn(6, ip6->src_addr, &eh->src_addr);
	/* reply: NA with solicited+override flags and target LL option */
	struct rte_mbuf *r = rte_pktmbuf_alloc(mp);
	if (!r)
		return false;
	uint16_t plen = 32;
	uint8_t *p = (uint8_t *)rte_pktmbuf_append(r, (uint16_t)(sizeof(*eh) + 40 + plen));
	struct rte_ether_hdr *re = (struct rte_ether_hdr *)p;
	re->dst_addr = eh->src_addr;
	re->src_addr = mymac;
	re->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV6);
	struct rte_ipv6_hdr *r6 = (struct rte_ipv6_hdr *)(re + 1);
	memset(r6, 0, sizeof(*r6));
	r6->vtc_flow = rte_cpu_to_be_32(6u << 28);
	r6->payload_len = rte_cpu_to_be_16(plen);
	r6->proto = 58;
	r6->hop_limits = 255;
	memcpy(r6->src_addr, myip6, 16);
	memcpy(r6->dst_addr, ip6->src_addr, 16);
	uint8_t *na = (uint8_t *)(r6 + 1);
	memset(na, 0, plen);
	na[0] = 136;
	na[4] = 0x60; /* solicited, override */
	memcpy(na + 8, myip6, 16);
	na[24] = 2; /* target link-layer address */
	na[25] = 1;
	memcpy(na + 26, &mymac, 6);
	uint16_t ck = rte_ipv6_udptcp_cksum(r6, na);
	memcpy(na + 2, &ck, 2);
	tx_raw(&r, 1);
	return true;
}

static void rx(struct rte_mbuf **pkts, uint16_t n)
{
	struct rte_mbuf *in[BURST * TCP_IMPAIR_OUT_MAX];
	unsigned ni = 0;
	uint64_t now = now_us(NULL);
	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		n_rx++;
		if (m->data_len < sizeof(struct rte_ether_hdr) + 20) {
			rte_pktmbuf_free(m);
			continue;
		}
		struct rte_ether_hdr *eh = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
		uint16_t et = rte_be_to_cpu_16(eh->ether_type);
		if (et == RTE_ETHER_TYPE_ARP) {
			arp_input(m);
			continue;
		}
		if (et == RTE_ETHER_TYPE_IPV4) {
			struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eh + 1);
			if (memcmp(&ip->dst_addr, myip, 4) || ip->next_proto_id != IPPROTO_TCP) {
				rte_pktmbuf_free(m);
				continue;
			}
			learn(4, &ip->src_addr, &eh->src_addr);
		} else if (et == RTE_ETHER_TYPE_IPV6 && have6 &&
			   m->data_len >= sizeof(*eh) + 40) {
			struct rte_ipv6_hdr *ip6 = (struct rte_ipv6_hdr *)(eh + 1);
			if (ip6->proto == 58) {
				nd_input(m, ip6);
				rte_pktmbuf_free(m);
				continue;
			}
			if (memcmp(ip6->dst_addr, myip6, 16) || ip6->proto != IPPROTO_TCP) {
				rte_pktmbuf_free(m);
				continue;
			}
			learn(6, ip6->src_addr, &eh->src_addr);
		} else {
			rte_pktmbuf_free(m);
			continue;
		}
		m->l2_len = sizeof(*eh);
		ni += tcp_impair_pass(&im, TCP_IMPAIR_RX, m, now, in + ni);
	}
	if (ni)
		tcp_input(st, in, (uint16_t)ni);
}

int main(int argc, char **argv)
{
	int ea = rte_eal_init(argc, argv);
	if (ea < 0) {
		fprintf(stderr, "tcp-linktest: EAL init failed\n");
		return 1;
	}
	argc -= ea;
	argv += ea;
	double seconds = 0;
	double drop_pct = 0, dup_pct = 0, reorder_pct = 0;
	struct tcp_impair_cfg icfg = { .seed = 1, .rx = true, .tx = true };
	uint32_t cfgflags = 0;
	static const struct option lo[] = {
		{ "ip", required_argument, NULL, 'i' }, { "ip6", required_argument, NULL, '6' },
		{ "drop", required_argument, NULL, 'd' }, { "dup", required_argument, NULL, 'u' },
		{ "reorder", required_argument, NULL, 'r' }, { "seed", required_argument, NULL, 's' },
		{ "seconds", required_argument, NULL, 't' },
		{ "newreno", no_argument, NULL, 'n' }, { "no-pacing", no_argument, NULL, 'p' },
		{ "syncookies-always", no_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 },
	};
	bool have4 = false;
	int o;
	while ((o = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (o) {
		case 'i': have4 = inet_pton(AF_INET, optarg, myip) == 1; break;
		case '6': have6 = inet_pton(AF_INET6, optarg, myip6) == 1; break;
		case 'd': drop_pct = atof(optarg); break;
		case 'u': dup_pct = atof(optarg); break;
		case 'r': reorder_pct = atof(optarg); break;
		case 's': icfg.seed = strtoull(optarg, NULL, 0); break;
		case 't': seconds = atof(optarg); break;
		case 'n': cfgflags |= TCP_CFG_NEWRENO; break;
		case 'p': cfgflags |= TCP_CFG_NO_PACING; break;
		case 'c': cfgflags |= TCP_CFG_SYNCOOKIES_ALWAYS; break;
		default:
			fprintf(stderr, "usage: tcp-linktest [EAL] -- --ip A.B.C.D [--ip6 X] "
					"[--drop P] [--dup P] [--reorder P] [--seed N] [--seconds N]\n");
			return 2;
		}
	}
	if (!have4 || rte_eth_dev_count_avail() < 1) {
		fprintf(stderr, "tcp-linktest: need --ip and one port\n");
		return 2;
	}
	/* percent to parts per million, as straitd's --tcp-impair */
	icfg.drop_ppm = (uint32_t)(drop_pct * 10000 + 0.5);
	icfg.dup_ppm = (uint32_t)(dup_pct * 10000 + 0.5);
	icfg.reorder_ppm = (uint32_t)(reorder_pct * 10000 + 0.5);
	if (drop_pct < 0 || dup_pct < 0 || reorder_pct < 0 ||
	    (uint64_t)icfg.drop_ppm + icfg.dup_ppm + icfg.reorder_ppm > TCP_IMPAIR_PPM) {
		fprintf(stderr, "tcp-linktest: --drop, --dup and --reorder are percents that add up to 100 at most\n");
		return 2;
	}
	mp = rte_pktmbuf_pool_create("lt", 65535, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
				     (int)rte_socket_id());
	if (!mp) {
		fprintf(stderr, "tcp-linktest: mempool\n");
		return 1;
	}
	struct rte_eth_conf conf = { 0 };
	if (rte_eth_dev_configure(port, 1, 1, &conf) < 0 ||
	    rte_eth_rx_queue_setup(port, 0, 1024, rte_eth_dev_socket_id(port), NULL, mp) < 0 ||
	    rte_eth_tx_queue_setup(port, 0, 1024, rte_eth_dev_socket_id(port), NULL) < 0 ||
	    rte_eth_dev_start(port) < 0) {
		fprintf(stderr, "tcp-linktest: port setup failed\n");
		return 1;
	}
	rte_eth_promiscuous_enable(port);
	rte_eth_macaddr_get(port, &mymac);
	tcp_impair_init(&im, &icfg, 0, mp);

	struct tcp_config cfg = { .max_conns = 4096, .sndbuf = 4u << 20, .rcvbuf = 4u << 20,
				  .tenant_max_buffer = 1ull << 30, .flags = cfgflags };
	static const struct tcp_ops ops = { now_us, output, NULL };
	st = tcp_stack_create(&cfg, &ops, NULL, mp);
	struct tcp_addr a4 = { 0 };
	memcpy(a4.b, myip, 4);
	struct tcp_services *sv = st ? tcp_services_attach(st, TCP_AF_INET, &a4, 0, 4096) : NULL;
	if (!sv) {
		fprintf(stderr, "tcp-linktest: stack/services setup failed\n");
		return 1;
	}
	if (have6) {
		struct tcp_addr a6;
		memcpy(a6.b, myip6, 16);
		if (tcp_services_listen(sv, TCP_AF_INET6, &a6, 0)) {
			fprintf(stderr, "tcp-linktest: IPv6 listen failed\n");
			return 1;
		}
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	printf("ready\n");
	fflush(stdout);

	uint64_t start = now_us(NULL), idle = 0;
	while (!stop) {
		struct rte_mbuf *pkts[BURST];
		uint16_t n = rte_eth_rx_burst(port, 0, pkts, BURST);
		if (n) {
			rx(pkts, n);
			idle = 0;
		} else if (++idle > 64) {
			/* release a segment held for reordering once due, then rest */
			uint64_t now = now_us(NULL);
			struct rte_mbuf *m = tcp_impair_due(&im, TCP_IMPAIR_RX, now);
			if (m)
				tcp_input(st, &m, 1);
			m = tcp_impair_due(&im, TCP_IMPAIR_TX, now);
			if (m)
				tx_raw(&m, 1);
			/* sleep, but never past the engine's next deadline nor a
			 * held segment's release */
			uint64_t due = tcp_next_timer(st), held = tcp_impair_next(&im);
			if (held < due)
				due = held;
			uint64_t nap = idle > 4096 ? 1000 : 20;
			if (due <= now)
				nap = 0;
			else if (due - now < nap)
				nap = due - now;
			if (nap)
				usleep((useconds_t)nap);
		}
		tcp_poll(st);
		if (seconds > 0 && now_us(NULL) - start > seconds * 1e6)
			break;
	}
	struct tcp_stack_stats s;
	tcp_stack_stats(st, &s);
	struct tcp_services_stats ss;
	tcp_services_stats(sv, &ss);
	printf("{\"rx\":%lu,\"tx\":%lu,\"drop_rx\":%lu,\"drop_tx\":%lu,\"dup\":%lu,"
	       "\"reorder\":%lu,\"no_neigh\":%lu,\"tx_fail\":%lu,\"segs_in\":%lu,"
	       "\"segs_out\":%lu,\"bad_csum\":%lu,\"bad_hdr\":%lu,\"retrans\":%lu,"
	       "\"rto\":%lu,\"rst_in\":%lu,\"rst_out\":%lu,\"conns\":%u,\"accepted\":%lu,"
	       "\"discarded\":%lu,\"echoed\":%lu,\"sourced\":%lu,\"nombuf\":%lu}\n",
	       (unsigned long)n_rx, (unsigned long)n_tx,
	       (unsigned long)im.stats.dropped[TCP_IMPAIR_RX],
	       (unsigned long)im.stats.dropped[TCP_IMPAIR_TX],
	       (unsigned long)(im.stats.dup[TCP_IMPAIR_RX] + im.stats.dup[TCP_IMPAIR_TX]),
	       (unsigned long)(im.stats.reordered[TCP_IMPAIR_RX] + im.stats.reordered[TCP_IMPAIR_TX]),
	       (unsigned long)n_noneigh, (unsigned long)n_txfail, (unsigned long)s.segs_in,
	       (unsigned long)s.segs_out, (unsigned long)s.bad_csum, (unsigned long)s.bad_hdr,
	       (unsigned long)s.retrans_segs, (unsigned long)s.rto_expiries,
	       (unsigned long)s.rst_in, (unsigned long)s.rst_out, s.conns,
	       (unsigned long)ss.accepted, (unsigned long)ss.discarded,
	       (unsigned long)ss.echoed, (unsigned long)ss.sourced, (unsigned long)s.nombuf);
	if (cfgflags & TCP_CFG_SYNCOOKIES_ALWAYS)
		printf("{\"syncookies_sent\":%lu,\"syncookies_ok\":%lu,\"syncookies_bad\":%lu}\n",
		       (unsigned long)s.syncookies_sent, (unsigned long)s.syncookies_ok,
		       (unsigned long)s.syncookies_bad);
	const struct tcp_conn_stats *l = &ss.last;
	printf("{\"last_conn\":{\"srtt_us\":%u,\"min_rtt_us\":%u,\"rto_us\":%u,"
	       "\"cwnd\":%u,\"ssthresh\":%u,\"retrans\":%lu,\"rto\":%lu,\"recoveries\":%lu,"
	       "\"tail_probes\":%lu,\"bytes_out\":%lu,\"bytes_in\":%lu,\"ooo_bytes\":%lu}}\n",
	       l->srtt_us, l->min_rtt_us, l->rto_us, l->cwnd, l->ssthresh,
	       (unsigned long)l->retrans_segs, (unsigned long)l->rto_expiries,
	       (unsigned long)l->fast_recoveries, (unsigned long)l->tail_probes,
	       (unsigned long)l->bytes_out, (unsigned long)l->bytes_in,
	       (unsigned long)l->ooo_bytes);
	fflush(stdout);
	tcp_impair_flush(&im);
	tcp_stack_destroy(st);
	tcp_services_free(sv);
	rte_eth_dev_stop(port);
	rte_eth_dev_close(port);
	rte_eal_cleanup();
	return 0;
}
