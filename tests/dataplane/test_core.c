/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests of straitd's plain-C parts: frame parser (a numbered table of
 * frames and the reason each must give), flow table, classifier,
 * neighbours, local answers. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <string.h>

#include "classify.h"
#include "flow.h"
#include "local.h"
#include "neigh.h"
#include "pkt.h"
#include "relay_policy.h"

static const uint8_t MAC_A[6] = { 2, 0, 0, 0, 0, 0xa };
static const uint8_t MAC_B[6] = { 2, 0, 0, 0, 0, 0xb };

/* Builds Ethernet + IPv4 + TCP (20-byte header) into f; returns length. */
static uint32_t ip4_tcp(uint8_t *f, const uint8_t *src, const uint8_t *dst, uint16_t sport,
			uint16_t dport, uint8_t flags, uint32_t payload)
{
	memcpy(f, MAC_B, 6);
	memcpy(f + 6, MAC_A, 6);
	f[12] = 0x08; f[13] = 0x00;
	uint8_t *ip = f + 14;
	memset(ip, 0, 20);
	ip[0] = 0x45;
	uint16_t tot = (uint16_t)(40 + payload);
	ip[2] = (uint8_t)(tot >> 8); ip[3] = (uint8_t)tot;
	ip[8] = 64; ip[9] = PROTO_TCP;
	memcpy(ip + 12, src, 4);
	memcpy(ip + 16, dst, 4);
	uint16_t c = csum_fold(csum_add(0, ip, 20));
	ip[10] = (uint8_t)(c >> 8); ip[11] = (uint8_t)c;
	uint8_t *t = ip + 20;
	memset(t, 0, 20 + payload);
	t[0] = (uint8_t)(sport >> 8); t[1] = (uint8_t)sport;
	t[2] = (uint8_t)(dport >> 8); t[3] = (uint8_t)dport;
	t[12] = 5 << 4;
	t[13] = flags;
	return 14 + tot;
}

static const uint8_t C4[4] = { 198, 18, 0, 10 }, S4[4] = { 198, 18, 1, 20 };

struct pcase {
	int n;
	enum pkt_malformed want;
	void (*mutate)(uint8_t *f, uint32_t *len);
};

static void m_none(uint8_t *f, uint32_t *len) { (void)f; (void)len; }
static void m_runt(uint8_t *f, uint32_t *len) { (void)f; *len = 13; }
static void m_vlan_cut(uint8_t *f, uint32_t *len) { f[12] = 0x81; f[13] = 0; *len = 15; }
static void m_ver(uint8_t *f, uint32_t *len) { f[14] = 0x55; (void)len; }
static void m_ihl(uint8_t *f, uint32_t *len) { f[14] = 0x44; (void)len; }
static void m_csum(uint8_t *f, uint32_t *len) { f[24] ^= 1; (void)len; }
static void m_cut_ip(uint8_t *f, uint32_t *len) { (void)f; *len = 14 + 19; }
static void m_total_long(uint8_t *f, uint32_t *len) { (void)f; *len -= 1; }
static void m_tcp_cut(uint8_t *f, uint32_t *len)
{
	/* shorten total length to 30: TCP header cut at 10 bytes */
	f[16] = 0; f[17] = 30; f[24] = f[25] = 0;
	uint16_t c = csum_fold(csum_add(0, f + 14, 20));
	f[24] = (uint8_t)(c >> 8); f[25] = (uint8_t)c;
	*len = 14 + 30;
}
static void m_doff(uint8_t *f, uint32_t *len) { f[14 + 20 + 12] = 0xf0; (void)len; }
static void m_doff_small(uint8_t *f, uint32_t *len) { f[14 + 20 + 12] = 0x40; (void)len; }
static void m_pad(uint8_t *f, uint32_t *len) { memset(f + *len, 0, 6); *len += 6; } /* Ethernet padding is fine */
static void m_vlan(uint8_t *f, uint32_t *len)
{
	memmove(f + 16, f + 12, *len - 12);
	f[12] = 0x81; f[13] = 0; f[14] = 0x00; f[15] = 42;
	*len += 4;
}

static const struct pcase pcases[] = {
	{ 1, PKT_OK, m_none },
	{ 2, PKT_RUNT, m_runt },
	{ 3, PKT_VLAN_TRUNC, m_vlan_cut },
	{ 4, PKT_IP4_HDR, m_ver },
	{ 5, PKT_IP4_HDR, m_ihl },
	{ 6, PKT_IP4_CSUM, m_csum },
	{ 7, PKT_IP4_HDR, m_cut_ip },
	{ 8, PKT_IP4_LEN, m_total_long },
	{ 9, PKT_TCP_TRUNC, m_tcp_cut },
	{ 10, PKT_TCP_TRUNC, m_doff },
	{ 11, PKT_TCP_TRUNC, m_doff_small },
	{ 12, PKT_OK, m_pad },
	{ 13, PKT_OK, m_vlan },
};

Test(pkt, table)
{
	for (size_t i = 0; i < sizeof(pcases) / sizeof(pcases[0]); i++) {
		uint8_t f[256];
		uint32_t len = ip4_tcp(f, C4, S4, 1234, 80, TCP_SYN, 10);
		pcases[i].mutate(f, &len);
		struct pkt_info pi;
		enum pkt_malformed got = pkt_parse(f, len, &pi);
		cr_expect_eq(got, pcases[i].want, "case %d: %s, expected %s", pcases[i].n,
			     pkt_malformed_name(got), pkt_malformed_name(pcases[i].want));
	}
}

Test(pkt, fields)
{
	uint8_t f[256];
	uint32_t len = ip4_tcp(f, C4, S4, 1234, 80, TCP_SYN | TCP_ACK, 10);
	m_vlan(f, &len);
	struct pkt_info pi;
	cr_assert_eq(pkt_parse(f, len, &pi), PKT_OK);
	cr_expect_eq(pi.vlan, 42);
	cr_expect_eq(pi.l2_len, 18);
	cr_expect_eq(pi.family, 4);
	cr_expect_eq(pi.l4_proto, PROTO_TCP);
	cr_expect_eq(pi.sport, 1234);
	cr_expect_eq(pi.dport, 80);
	cr_expect_eq(pi.tcp_flags, TCP_SYN | TCP_ACK);
	cr_expect_eq(pi.l4_off, 18 + 20);
	cr_expect(!memcmp(pi.src, C4, 4));
}

/* Every prefix of a valid frame parses without reading past it (ASan
 * checks the reads: the buffer is exactly len bytes). */
Test(pkt, every_truncation)
{
	uint8_t f[256];
	uint32_t full = ip4_tcp(f, C4, S4, 1, 2, TCP_SYN, 30);
	for (uint32_t len = 0; len <= full; len++) {
		uint8_t *b = malloc(len ? len : 1);
		memcpy(b, f, len);
		struct pkt_info pi;
		enum pkt_malformed r = pkt_parse(b, len, &pi);
		cr_expect(len == full ? r == PKT_OK : r != PKT_OK, "len %u: %s", len, pkt_malformed_name(r));
		free(b);
	}
}

/* A chained frame: IP lengths against the whole frame, headers within the
 * first segment (only it is read: the buffer is exactly seg bytes). */
Test(pkt, segments)
{
	uint8_t f[256];
	uint32_t full = ip4_tcp(f, C4, S4, 1, 2, TCP_ACK, 150);
	for (uint32_t seg = 0; seg <= full; seg++) {
		uint8_t *b = malloc(seg ? seg : 1);
		memcpy(b, f, seg);
		struct pkt_info pi;
		enum pkt_malformed r = pkt_parse_seg(b, seg, full, &pi);
		/* 54: Ethernet + IPv4 + TCP headers */
		cr_expect(seg >= 54 ? r == PKT_OK : r != PKT_OK, "seg %u: %s", seg, pkt_malformed_name(r));
		if (r == PKT_OK)
			cr_expect_eq(pi.ip_len, full - 14);
		/* the total length still must fit the whole frame */
		cr_expect_neq(pkt_parse_seg(b, seg, full - 1, &pi), PKT_OK, "seg %u", seg);
		free(b);
	}
}

/* Ethernet + IPv6 (next header nh) + payload; returns the length. */
static uint32_t ip6_frame(uint8_t *f, uint8_t nh, const uint8_t *payload, uint32_t plen)
{
	static const uint8_t c6[16] = { 0x20, 0x01, 0, 2, [15] = 0x10 };
	static const uint8_t s6[16] = { 0x20, 0x01, 0, 2, 0, 0, 0, 1, [15] = 0x20 };
	memcpy(f, MAC_B, 6);
	memcpy(f + 6, MAC_A, 6);
	f[12] = 0x86; f[13] = 0xdd;
	uint8_t *ip = f + 14;
	memset(ip, 0, 40);
	ip[0] = 0x60;
	ip[4] = (uint8_t)(plen >> 8); ip[5] = (uint8_t)plen;
	ip[6] = nh;
	ip[7] = 64;
	memcpy(ip + 8, c6, 16);
	memcpy(ip + 24, s6, 16);
	memcpy(ip + 40, payload, plen);
	return 14 + 40 + plen;
}

/* A 20-byte TCP header (ports 1111 -> 2222, SYN) at p. */
static uint32_t put_tcp(uint8_t *p)
{
	memset(p, 0, 20);
	p[0] = 1111 >> 8; p[1] = 1111 & 0xff; p[2] = 2222 >> 8; p[3] = 2222 & 0xff;
	p[12] = 5 << 4;
	p[13] = TCP_SYN;
	return 20;
}

/* Parses f in a buffer of exactly len bytes. */
static enum pkt_malformed parse_exact(const uint8_t *f, uint32_t len, struct pkt_info *pi,
				      uint8_t **keep)
{
	uint8_t *b = malloc(len);
	cr_assert(b);
	memcpy(b, f, len);
	enum pkt_malformed r = pkt_parse(b, len, pi);
	*keep = b;
	return r;
}

/* The IPv6 extension chain: at most PKT_MAX_EXT_HDRS headers walked; AH's
 * length in 4-byte units minus 2; fragments first (TCP parsed) or later
 * (no L4 header); an atomic fragment (offset 0, M = 0) is no fragment. */
Test(pkt, ip6_ext_chain)
{
	uint8_t pl[256], f[512], *b;
	struct pkt_info pi;
	for (unsigned n = PKT_MAX_EXT_HDRS; n <= PKT_MAX_EXT_HDRS + 1; n++) {
		uint32_t o = 0;
		for (unsigned i = 0; i < n; i++) { /* destination options, 8 bytes each */
			memset(pl + o, 0, 8);
			pl[o] = i + 1 < n ? 60 : PROTO_TCP;
			pl[o + 2] = 1; pl[o + 3] = 4; /* PadN */
			o += 8;
		}
		o += put_tcp(pl + o);
		uint32_t len = ip6_frame(f, 60, pl, o);
		enum pkt_malformed r = parse_exact(f, len, &pi, &b);
		if (n == PKT_MAX_EXT_HDRS) {
			cr_expect_eq(r, PKT_OK, "%u headers: %s", n, pkt_malformed_name(r));
			cr_expect_eq(pi.l4_proto, PROTO_TCP);
			cr_expect_eq(pi.sport, 1111);
		} else {
			cr_expect_eq(r, PKT_IP6_EXT, "%u headers: %s", n, pkt_malformed_name(r));
		}
		free(b);
	}
	/* AH with payload length 4: (4 + 2) * 4 = 24 bytes, then TCP */
	memset(pl, 0, 24);
	pl[0] = PROTO_TCP;
	pl[1] = 4;
	uint32_t o = 24 + put_tcp(pl + 24);
	uint32_t len = ip6_frame(f, 51, pl, o);
	cr_assert_eq(parse_exact(f, len, &pi, &b), PKT_OK);
	cr_expect_eq(pi.l4_off, 14 + 40 + 24);
	cr_expect_eq(pi.l3_len, 40 + 24);
	cr_expect_eq(pi.sport, 1111);
	cr_expect_eq(pi.dport, 2222);
	free(b);
	/* AH claiming more than there is */
	pl[1] = 40;
	len = ip6_frame(f, 51, pl, o);
	cr_expect_eq(parse_exact(f, len, &pi, &b), PKT_IP6_EXT);
	free(b);
	/* fragment header: first (offset 0, M = 1), later (offset 8, junk
	 * after it), atomic (offset 0, M = 0) */
	static const struct { uint8_t off_hi, off_lo; bool frag, tcp; } fr[] = {
		{ 0, 1, true, true }, { 0, 8, true, false }, { 0, 0, false, true },
	};
	for (unsigned i = 0; i < 3; i++) {
		memset(pl, 0, 8);
		pl[0] = PROTO_TCP;
		pl[2] = fr[i].off_hi;
		pl[3] = fr[i].off_lo;
		o = 8 + (fr[i].tcp ? put_tcp(pl + 8) : 3);
		if (!fr[i].tcp)
			memset(pl + 8, 0xee, 3); /* not a TCP header: never read */
		len = ip6_frame(f, 44, pl, o);
		cr_assert_eq(parse_exact(f, len, &pi, &b), PKT_OK, "fragment case %u", i);
		cr_expect_eq(pi.is_fragment, fr[i].frag, "fragment case %u", i);
		cr_expect_eq(pi.l4_proto, fr[i].tcp ? PROTO_TCP : 0, "fragment case %u", i);
		if (fr[i].tcp)
			cr_expect_eq(pi.sport, 1111, "fragment case %u", i);
		free(b);
	}
}

/* IPv4 fragments: the first has its TCP header parsed, a later one has no
 * L4 header (and its payload is not read as one). */
Test(pkt, ip4_fragments)
{
	uint8_t f[256], *b;
	struct pkt_info pi;
	uint32_t len = ip4_tcp(f, C4, S4, 1, 2, TCP_SYN, 0);
	f[14 + 6] = 0x20; /* MF */
	f[24] = f[25] = 0;
	uint16_t c = csum_fold(csum_add(0, f + 14, 20));
	f[24] = (uint8_t)(c >> 8); f[25] = (uint8_t)c;
	cr_assert_eq(parse_exact(f, len, &pi, &b), PKT_OK);
	cr_expect(pi.is_fragment);
	cr_expect_eq(pi.l4_proto, PROTO_TCP);
	cr_expect_eq(pi.dport, 2);
	free(b);
	/* later fragment: offset 1 (8 bytes), only 4 bytes of payload */
	len = ip4_tcp(f, C4, S4, 1, 2, TCP_SYN, 0);
	f[16] = 0; f[17] = 24;
	f[14 + 6] = 0x00; f[14 + 7] = 1;
	f[24] = f[25] = 0;
	c = csum_fold(csum_add(0, f + 14, 20));
	f[24] = (uint8_t)(c >> 8); f[25] = (uint8_t)c;
	cr_assert_eq(parse_exact(f, 14 + 24, &pi, &b), PKT_OK);
	cr_expect(pi.is_fragment);
	cr_expect_eq(pi.l4_proto, 0);
	cr_expect_eq(pi.sport, 0);
	free(b);
	(void)len;
}

static struct flow_key key_of(const uint8_t *src, const uint8_t *dst, uint16_t sp, uint16_t dp,
			      bool *src_a)
{
	uint8_t f[128];
	ip4_tcp(f, src, dst, sp, dp, TCP_SYN, 0);
	struct pkt_info pi;
	cr_assert_eq(pkt_parse(f, 54, &pi), PKT_OK);
	struct flow_key k;
	*src_a = flow_key_make(&pi, &k);
	return k;
}

static unsigned expired_seen;
static void count_expire(void *ctx, const struct flow *f)
{
	(void)ctx;
	(void)f;
	expired_seen++;
}

Test(flow, symmetric_and_expiry)
{
	struct flow_table *ft = flow_table_create(64, 1000, 100, count_expire, NULL);
	cr_assert(ft);
	bool a1, a2;
	struct flow_key k1 = key_of(C4, S4, 40000, 80, &a1);
	struct flow_key k2 = key_of(S4, C4, 80, 40000, &a2);
	cr_expect(!memcmp(&k1, &k2, sizeof(k1)), "both directions share a key");
	cr_expect_neq(a1, a2);
	uint32_t h = flow_key_hash(&k1);
	cr_expect_null(flow_lookup(ft, &k1, h, 0));
	struct flow *f = flow_insert(ft, &k1, h, 0);
	cr_assert(f);
	cr_expect_eq(flow_lookup(ft, &k2, h, 500), f);
	f->last_ms = 500;
	cr_expect_eq(flow_lookup(ft, &k1, h, 1500), f, "idle exactly the timeout: alive");
	cr_expect_null(flow_lookup(ft, &k1, h, 1501), "idle past the timeout: gone");
	cr_expect_eq(expired_seen, 1);
	cr_expect_eq(flow_table_used(ft), 0);
	/* closed flows go sooner */
	f = flow_insert(ft, &k1, h, 2000);
	f->flags |= FLOW_F_RST;
	cr_expect_eq(flow_table_sweep(ft, 2050, 8), 0);
	cr_expect_eq(flow_table_sweep(ft, 2101, 8), 1);
	flow_table_destroy(ft);
}

Test(flow, bounded_never_evicts_live)
{
	/* 64 flows = 8 buckets of 8: insert until refused; every accepted flow
	 * must still be found, and the table never holds more than 64. */
	struct flow_table *ft = flow_table_create(64, 1000, 100, NULL, NULL);
	unsigned ok = 0, refused = 0;
	for (uint16_t p = 1; p <= 200; p++) {
		bool a;
		struct flow_key k = key_of(C4, S4, p, 80, &a);
		uint32_t h = flow_key_hash(&k);
		if (flow_insert(ft, &k, h, 0))
			ok++;
		else
			refused++;
	}
	cr_expect_eq(ok + refused, 200);
	cr_expect_leq(ok, 64);
	cr_expect_gt(refused, 0);
	cr_expect_eq(flow_table_used(ft), ok);
	unsigned found = 0;
	for (uint16_t p = 1; p <= 200; p++) {
		bool a;
		struct flow_key k = key_of(C4, S4, p, 80, &a);
		found += flow_lookup(ft, &k, flow_key_hash(&k), 10) != NULL;
	}
	cr_expect_eq(found, ok);
	/* after expiry, room again */
	bool a;
	struct flow_key k = key_of(C4, S4, 999, 80, &a);
	cr_expect_eq(flow_table_sweep(ft, 5000, 8), ok);
	cr_expect(flow_insert(ft, &k, flow_key_hash(&k), 5000) != NULL);
	flow_table_destroy(ft);
}

/* A SYN finds room in a bucket full of bridged flows (the least recently
 * seen goes); never in one full of tenant flows. */
Test(flow, syn_evicts_bridged_only)
{
	struct flow_table *ft = flow_table_create(FLOW_WAYS, 100000, 100, NULL, NULL); /* one bucket */
	bool a, ev;
	for (uint16_t p = 1; p <= FLOW_WAYS; p++) {
		struct flow_key k = key_of(C4, S4, p, 80, &a);
		struct flow *f = flow_insert(ft, &k, flow_key_hash(&k), p);
		cr_assert(f);
		f->tenant = FLOW_BRIDGED;
		f->flags = FLOW_F_UNSEEN;
	}
	struct flow_key k = key_of(C4, S4, 100, 80, &a);
	cr_expect_null(flow_insert(ft, &k, flow_key_hash(&k), 50), "a non-SYN evicted");
	struct flow *f = flow_insert_syn(ft, &k, flow_key_hash(&k), 50, &ev);
	cr_assert(f);
	cr_expect(ev);
	struct flow_key k1 = key_of(C4, S4, 1, 80, &a);
	cr_expect_null(flow_lookup(ft, &k1, flow_key_hash(&k1), 50), "not the oldest evicted");
	struct flow_key k2 = key_of(C4, S4, 2, 80, &a);
	cr_expect(flow_lookup(ft, &k2, flow_key_hash(&k2), 50) != NULL);
	/* every flow a tenant's: no room even for a SYN */
	for (unsigned i = 0; i < FLOW_WAYS; i++) {
		struct flow_key ki = key_of(C4, S4, (uint16_t)(i == 0 ? 100 : i + 1), 80, &a);
		struct flow *fi = flow_lookup(ft, &ki, flow_key_hash(&ki), 50);
		cr_assert(fi, "flow %u", i);
		fi->tenant = 0;
	}
	struct flow_key k3 = key_of(C4, S4, 200, 80, &a);
	cr_expect_null(flow_insert_syn(ft, &k3, flow_key_hash(&k3), 60, &ev));
	cr_expect(!ev);
	flow_table_destroy(ft);
}

/* The seed moves flows between buckets; the hash stays symmetric. */
Test(flow, seeded_hash)
{
	bool a, b;
	struct flow_key k = key_of(C4, S4, 1234, 80, &a), r = key_of(S4, C4, 80, 1234, &b);
	uint32_t h0 = flow_key_hash(&k);
	flow_hash_seed(0x123456789abcdefull);
	uint32_t h1 = flow_key_hash(&k);
	cr_expect_neq(h0, h1);
	cr_expect_eq(h1, flow_key_hash(&r));
	flow_hash_seed(0x85a308d3243f6a88ull); /* back to the default */
	cr_expect_eq(flow_key_hash(&k), h0);
}

Test(classify, longest_prefix_then_ports)
{
	static struct strait_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.n_tenants = 3;
	struct strait_tenant_cfg *t = cfg.tenants;
	cr_assert(strait_parse_prefix("198.18.0.0/16", &t[0].client[0]));
	cr_assert(strait_parse_prefix("198.18.1.0/24", &t[0].server[0]));
	t[0].n_client = t[0].n_server = 1;
	t[0].ports[0] = (struct strait_port_range){ 1, 65535 };
	t[0].n_ports = 1;
	t[1] = t[0];
	cr_assert(strait_parse_prefix("198.18.1.16/28", &t[1].server[0]));
	t[2] = t[0];
	cr_assert(strait_parse_prefix("198.18.0.10/32", &t[2].client[0]));
	t[2].ports[0] = (struct strait_port_range){ 80, 80 };
	const uint8_t s_in28[4] = { 198, 18, 1, 20 }, s_out28[4] = { 198, 18, 1, 40 };
	const uint8_t other[4] = { 198, 19, 0, 1 };
	cr_expect_eq(classify_syn(&cfg, 4, C4, s_in28, 80), 1, "server /28 beats /24");
	cr_expect_eq(classify_syn(&cfg, 4, C4, s_out28, 80), 2, "then client /32 beats /16");
	cr_expect_eq(classify_syn(&cfg, 4, C4, s_out28, 81), 0, "port 81 only in the wide rule");
	cr_expect_eq(classify_syn(&cfg, 4, other, s_out28, 80), 0xffff, "client outside");
	cr_expect_eq(classify_syn(&cfg, 6, C4, s_out28, 80), 0xffff, "other family");
}

/* The tag stacks a tenant's connections may use (relay_policy.h), as a
 * numbered table: tenant 0 without Vlans (the LAN port's Vlan 7), tenant
 * 1 with Vlans = 0, 100. */
Test(relay_policy, vlans)
{
	static struct strait_config cfg;
	static const struct {
		int n;
		unsigned tenant, ntags;
		uint16_t tpid[2], tci[2];
		bool want;
	} T[] = {
		{ 1, 0, 1, { 0x8100 }, { 7 }, true },            /* the LAN's VLAN */
		{ 2, 0, 1, { 0x8100 }, { 0xe007 }, true },       /* with a priority */
		{ 3, 0, 0, { 0 }, { 0 }, false },                /* untagged */
		{ 4, 0, 1, { 0x8100 }, { 8 }, false },
		{ 5, 1, 0, { 0 }, { 0 }, true },                 /* untagged: Vlans 0 */
		{ 6, 1, 1, { 0x8100 }, { 0x2000 }, true },       /* priority tag = 0 */
		{ 7, 1, 1, { 0x8100 }, { 100 }, true },
		{ 8, 1, 1, { 0x8100 }, { 7 }, false },           /* not the tenant's */
		{ 9, 1, 1, { 0x88a8 }, { 100 }, false },         /* an S-tag */
		{ 10, 1, 1, { 0x9100 }, { 100 }, false },
		{ 11, 1, 2, { 0x88a8, 0x8100 }, { 100, 100 }, false }, /* QinQ */
		{ 12, 1, 2, { 0x8100, 0x8100 }, { 0, 0 }, false },
		{ 13, 1, 3, { 0x8100, 0x8100 }, { 0, 0 }, false },
	};

	memset(&cfg, 0, sizeof(cfg));
	cfg.n_tenants = 2;
	cfg.appliance.lan.vlan = 7;
	cfg.tenants[1].vlans[0] = 0;
	cfg.tenants[1].vlans[1] = 100;
	cfg.tenants[1].n_vlans = 2;
	for (unsigned i = 0; i < sizeof(T) / sizeof(T[0]); i++)
		cr_expect_eq(relay_vlan_allowed(&cfg, T[i].tenant, T[i].ntags, T[i].tpid, T[i].tci),
			     T[i].want, "case %d", T[i].n);
}

/* The VLAN id B tags an OPEN's connection with: the id alone, never the
 * peer's priority or DEI bits; a priority tag (id 0) is no tag. */
Test(relay_policy, open_vlan_id_only)
{
	static const struct {
		int n;
		uint8_t nvlan;
		uint16_t tci;
		uint16_t want;
	} T[] = {
		{ 1, 0, 0, 0 },           /* untagged */
		{ 2, 1, 100, 100 },
		{ 3, 1, 0xe064, 100 },    /* priority 7: dropped */
		{ 4, 1, 0x1064, 100 },    /* DEI: dropped */
		{ 5, 1, 0xa000, 0 },      /* a priority tag: no tag */
		{ 6, 1, 0xffff, 4095 },
	};

	for (unsigned i = 0; i < sizeof(T) / sizeof(T[0]); i++) {
		struct chan_open o = { .af = 4, .nvlan = T[i].nvlan, .tpid = { 0x8100 },
				       .tci = { T[i].tci } };

		if (!o.nvlan)
			o.tpid[0] = 0;
		cr_expect_eq(relay_open_vlan(&o), T[i].want, "case %d", T[i].n);
	}
}

/* The addresses a peer's OPEN may name (relay_policy.c, host_ok) under a
 * rule that allows everything: special-purpose blocks (RFC 6890
 * registries) are refused as server or client, ordinary hosts
 * (private, shared, benchmarking, ULA, global) pass. */
Test(relay_policy, special_addresses)
{
	static struct strait_config cfg;
	static const struct {
		int n;
		const char *addr;
		bool ok;
	} T[] = {
		{ 1, "10.1.2.3", true },              /* private */
		{ 2, "172.16.0.1", true },
		{ 3, "192.168.1.1", true },
		{ 4, "100.64.0.1", true },            /* shared (CGN) */
		{ 5, "198.18.7.7", true },            /* benchmarking */
		{ 6, "8.8.8.8", true },
		{ 7, "0.1.2.3", false },              /* this network */
		{ 8, "127.0.0.2", false },
		{ 9, "169.254.0.1", false },          /* link-local */
		{ 10, "169.254.255.254", false },
		{ 11, "192.0.0.9", false },           /* IETF protocol assignments */
		{ 12, "192.0.0.170", false },         /* NAT64 discovery */
		{ 13, "192.0.2.1", false },           /* TEST-NET-1 */
		{ 14, "198.51.100.1", false },
		{ 15, "203.0.113.1", false },
		{ 16, "192.88.99.1", false },         /* 6to4 relay anycast */
		{ 17, "224.0.0.1", false },
		{ 18, "240.0.0.1", false },
		{ 19, "255.255.255.255", false },
		{ 20, "198.18.1.0", false },          /* our LAN's network, */
		{ 21, "198.18.1.255", false },        /* broadcast, */
		{ 22, "198.18.1.254", false },        /* own address */
		{ 23, "169.253.255.255", true },      /* just outside */
		{ 24, "192.0.3.1", true },
		{ 25, "2001:db9::1", true },          /* global */
		{ 26, "fd00::1", true },              /* ULA */
		{ 27, "2001:2::1", true },            /* benchmarking */
		{ 28, "2001:2:0:1::20", true },
		{ 29, "::", false },
		{ 30, "::1", false },
		{ 31, "::198.18.0.1", false },        /* IPv4-compatible */
		{ 32, "::ffff:198.18.0.1", false },   /* IPv4-mapped */
		{ 33, "64:ff9b::c612:1", false },     /* NAT64 */
		{ 34, "64:ff9b:1::1", false },        /* local-use NAT64 */
		{ 35, "100::1", false },              /* discard-only */
		{ 36, "100:0:0:1::1", false },        /* dummy prefix */
		{ 37, "2001:0:4136:e378::1", false }, /* Teredo */
		{ 38, "2001:10::1", false },          /* ORCHID */
		{ 39, "2001:2f::1", false },          /* ORCHIDv2 */
		{ 40, "2001:db8::1", false },         /* documentation */
		{ 41, "2002:c612:1::1", false },      /* 6to4 */
		{ 42, "3fff:fff::1", false },         /* documentation (RFC 9637) */
		{ 43, "5f00::1", false },             /* SRv6 SIDs */
		{ 44, "fe80::1", false },             /* link-local */
		{ 45, "febf:ffff::1", false },
		{ 46, "fec0::1", false },             /* site-local */
		{ 47, "ff02::1", false },
		{ 48, "2001:2:0:1::1", false },       /* own LAN address */
		{ 49, "fe7f:ffff::1", true },         /* just below fe80::/10 */
		{ 50, "3fff:1000::1", true },         /* just past 3fff::/20 */
		{ 51, "2001:30::1", false },          /* DRIP (RFC 9374) */
		{ 52, "2001:3::1", false },           /* AMT: 2001::/23 but */
		{ 53, "2001:1ff:ffff::1", false },    /* the end of 2001::/23 */
		{ 54, "2001:200::1", true },          /* just past it */
		{ 55, "::ffff:0:c612:1", false },     /* IPv4-translated */
		{ 56, "2001:2:0:1::", false },        /* our LAN's subnet-router anycast */
		{ 57, "2001:2:0:1::2", true },        /* a host beside us */
		{ 58, "2001:1:ffff::1", false },      /* just below 2001:2::/48 */
	};
	struct strait_tenant_cfg *t = cfg.tenants;

	memset(&cfg, 0, sizeof(cfg));
	cfg.n_tenants = 1;
	cr_assert(strait_parse_prefix("198.18.1.254/24", &cfg.appliance.lan.addr4));
	cr_assert(strait_parse_prefix("2001:2:0:1::1/64", &cfg.appliance.lan.addr6));
	cr_assert(strait_parse_prefix("0.0.0.0/0", &t->client[0]));
	cr_assert(strait_parse_prefix("::/0", &t->client[1]));
	cr_assert(strait_parse_prefix("0.0.0.0/0", &t->server[0]));
	cr_assert(strait_parse_prefix("::/0", &t->server[1]));
	t->n_client = t->n_server = 2;
	t->ports[0] = (struct strait_port_range){ 1, 65535 };
	t->n_ports = 1;
	for (unsigned i = 0; i < sizeof(T) / sizeof(T[0]); i++) {
		struct chan_open o = { .mss = 1460, .client_port = 40000, .server_port = 873 };
		uint8_t a[16] = { 0 };
		bool v6 = strchr(T[i].addr, ':') != NULL;
		enum relay_refusal want = T[i].ok ? RELAY_OPEN_OK : RELAY_OPEN_ADDR;

		cr_assert_eq(inet_pton(v6 ? AF_INET6 : AF_INET, T[i].addr, a), 1, "case %d", T[i].n);
		o.af = v6 ? 6 : 4;
		/* as the server, then as the client, against an ordinary host */
		memcpy(o.server, a, 16);
		memcpy(o.client, v6 ? (uint8_t[16]){ 0xfd, [15] = 9 }
				    : (uint8_t[16]){ 10, 9, 9, 9 }, 16);
		cr_expect_eq(relay_open_check(&cfg, 0, &o), want, "case %d as server", T[i].n);
		memcpy(o.client, a, 16);
		memcpy(o.server, v6 ? (uint8_t[16]){ 0xfd, [15] = 9 }
				    : (uint8_t[16]){ 10, 9, 9, 9 }, 16);
		cr_expect_eq(relay_open_check(&cfg, 0, &o), want, "case %d as client", T[i].n);
	}
}

Test(neigh, learn_update_replace)
{
	struct neigh_table t;
	cr_assert_eq(neigh_init(&t, 16), 0);
	neigh_learn(&t, 4, C4, 0, MAC_A, 1);
	const struct neigh_entry *e = neigh_lookup(&t, 4, C4, 0);
	cr_assert(e);
	cr_expect(!memcmp(e->mac, MAC_A, 6));
	cr_expect_null(neigh_lookup(&t, 4, C4, 5), "per VLAN");
	neigh_learn(&t, 4, C4, 0, MAC_B, 2);
	cr_expect(!memcmp(neigh_lookup(&t, 4, C4, 0)->mac, MAC_B, 6));
	cr_expect_eq(t.updated, 1);
	for (uint8_t i = 0; i < 100; i++) {
		uint8_t ip[4] = { 10, 0, 0, i };
		neigh_learn(&t, 4, ip, 0, MAC_A, 10 + i);
	}
	unsigned n = 0;
	for (unsigned i = 0; i < 16; i++)
		n += t.e[i].valid;
	cr_expect_eq(n, 16, "bounded, full");
	uint8_t last[4] = { 10, 0, 0, 99 };
	cr_expect(neigh_lookup(&t, 4, last, 0) != NULL, "newest kept");
	neigh_free(&t);
}

/* A pinned entry (the gateway) survives any number of other addresses in
 * its set; a set of pinned entries learns nothing new. */
Test(neigh, pinned_kept)
{
	struct neigh_table t;
	cr_assert_eq(neigh_init(&t, NEIGH_WAYS), 0); /* one set: everything collides */
	uint8_t gw[4] = { 198, 18, 1, 254 };
	neigh_learn_pin(&t, 4, gw, 0, MAC_A, 1, true);
	for (unsigned i = 0; i < 100; i++) {
		uint8_t ip[4] = { 10, 0, 0, (uint8_t)i };
		neigh_learn(&t, 4, ip, 0, MAC_B, 2 + i);
	}
	const struct neigh_entry *e = neigh_lookup(&t, 4, gw, 0);
	cr_assert(e, "gateway evicted");
	cr_expect(!memcmp(e->mac, MAC_A, 6));
	neigh_learn(&t, 4, gw, 0, MAC_B, 500); /* its MAC may still change */
	cr_expect(!memcmp(neigh_lookup(&t, 4, gw, 0)->mac, MAC_B, 6));
	for (uint8_t i = 0; i < NEIGH_WAYS; i++) {
		uint8_t ip[4] = { 198, 18, 1, i };
		neigh_learn_pin(&t, 4, ip, 0, MAC_A, 600, true);
	}
	uint8_t other[4] = { 10, 9, 9, 9 };
	neigh_learn(&t, 4, other, 0, MAC_B, 700);
	cr_expect_null(neigh_lookup(&t, 4, other, 0), "a set of pinned entries took a new one");
	neigh_free(&t);
}

/* Another thread's copy (neigh_read) is whole and names the address
 * asked; a borrowed entry is replaced by one learnt from a frame, never
 * the other way round. */
Test(neigh, read_and_borrowed)
{
	struct neigh_table t;
	struct neigh_entry e;
	cr_assert_eq(neigh_init(&t, 16), 0);
	cr_expect(!neigh_read(&t, 4, C4, 0, &e), "empty");
	neigh_learn_borrowed(&t, 4, C4, 0, MAC_A, 1);
	cr_assert(neigh_read(&t, 4, C4, 0, &e));
	cr_expect(e.borrowed);
	cr_expect(!memcmp(e.mac, MAC_A, 6));
	cr_expect_eq(e.seq % 2, 0, "no write in progress");
	cr_expect(!neigh_read(&t, 4, C4, 30, &e), "per VLAN");
	neigh_learn(&t, 4, C4, 0, MAC_B, 2); /* learnt: its own now */
	cr_assert(neigh_read(&t, 4, C4, 0, &e));
	cr_expect(!e.borrowed);
	cr_expect(!memcmp(e.mac, MAC_B, 6));
	neigh_learn_borrowed(&t, 4, C4, 0, MAC_A, 3); /* a copy never overrides */
	cr_assert(neigh_read(&t, 4, C4, 0, &e));
	cr_expect(!memcmp(e.mac, MAC_B, 6));
	cr_expect(!e.borrowed);
	neigh_free(&t);
}

/* On a VLAN other than the port's own (a tenant's), only the answers to
 * the appliance's own ARP requests and NSs there, to its MAC, are its
 * own: consumed (the worker learns them); a request there is not. */
Test(local, answers_on_a_tenant_vlan)
{
	struct local_addr me = { .mac = { 2, 0, 0, 0, 1, 1 }, .has4 = true, .has6 = true,
				 .ip4 = { 198, 18, 1, 2 }, .plen4 = 24,
				 .ip6 = { 0x20, 0x01, 0, 2, [15] = 2 }, .plen6 = 64 };
	struct local_addr server = { .mac = { 2, 0, 0, 0, 1, 9 }, .vlan = 30, .has4 = true,
				     .has6 = true, .ip4 = { 198, 18, 1, 21 },
				     .ip6 = { 0x20, 0x01, 0, 2, [15] = 0x21 } };
	uint8_t f[160];
	struct pkt_info pi;
	/* our request, tagged 30, answered by the server */
	uint32_t len = local_arp_request(f, sizeof(f), &me, 30, server.ip4);
	cr_assert_eq(pkt_parse(f, len, &pi), PKT_OK);
	cr_expect_eq(pi.vlan, 30);
	cr_expect_eq(local_classify(f, len, &pi, &server), LOCAL_ARP_REQ);
	cr_assert_eq(local_answer(f, len, sizeof(f), &pi, &server, LOCAL_ARP_REQ), len);
	cr_assert_eq(pkt_parse(f, len, &pi), PKT_OK);
	cr_expect_eq(local_classify(f, len, &pi, &me), LOCAL_CONSUME, "ARP reply on VLAN 30");
	f[0] ^= 2; /* to another MAC */
	cr_expect_eq(local_classify(f, len, &pi, &me), LOCAL_NONE);
	/* a request for us on VLAN 30: not ours there */
	len = local_arp_request(f, sizeof(f), &server, 30, me.ip4);
	cr_assert_eq(pkt_parse(f, len, &pi), PKT_OK);
	cr_expect_eq(local_classify(f, len, &pi, &me), LOCAL_NONE);
	/* IPv6: our NS on VLAN 30, the server's NA back */
	len = local_ns_request(f, sizeof(f), &me, 30, server.ip6);
	cr_assert_eq(pkt_parse(f, len, &pi), PKT_OK);
	cr_expect_eq(local_classify(f, len, &pi, &server), LOCAL_NS);
	uint32_t alen = local_answer(f, len, sizeof(f), &pi, &server, LOCAL_NS);
	cr_assert(alen);
	cr_assert_eq(pkt_parse(f, alen, &pi), PKT_OK);
	cr_expect_eq(pi.vlan, 30);
	cr_expect_eq(local_classify(f, alen, &pi, &me), LOCAL_CONSUME, "NA on VLAN 30");
}

Test(local, on_link_and_next_hop)
{
	struct local_addr la = { .has4 = true, .ip4 = { 198, 18, 1, 1 }, .plen4 = 23,
				 .has_gw4 = true, .gw4 = { 198, 18, 1, 254 } };
	uint8_t in[4] = { 198, 18, 0, 7 }, out[4] = { 198, 18, 2, 7 };
	cr_expect(local_on_link(&la, 4, in));
	cr_expect(!local_on_link(&la, 4, out));
	cr_expect(!local_on_link(&la, 6, in), "no IPv6 address: nothing on-link");
	cr_expect_eq(local_next_hop(&la, 4, in), in);
	cr_expect(!memcmp(local_next_hop(&la, 4, out), la.gw4, 4));
	cr_expect(local_is_gateway(&la, 4, la.gw4));
}

Test(local, arp_and_ns_requests_parse_back)
{
	struct local_addr la = { .mac = { 2, 0, 0, 0, 1, 1 }, .vlan = 7, .has4 = true, .has6 = true,
				 .ip4 = { 198, 18, 0, 1 }, .ip6 = { 0x20, 0x01, 0, 2, [15] = 1 } };
	uint8_t f[128];
	uint32_t len = local_arp_request(f, sizeof(f), &la, la.vlan, S4);
	struct pkt_info pi;
	cr_assert_eq(pkt_parse(f, len, &pi), PKT_OK);
	cr_expect_eq(pi.vlan, 7);
	cr_expect_eq(pi.ethertype, ETYPE_ARP);
	uint8_t target6[16] = { 0x20, 0x01, 0, 2, [15] = 0xfe };
	len = local_ns_request(f, sizeof(f), &la, la.vlan, target6);
	cr_assert_eq(pkt_parse(f, len, &pi), PKT_OK);
	cr_expect_eq(pi.l4_proto, PROTO_ICMP6);
	cr_expect_eq(csum_l4(6, pi.src, pi.dst, PROTO_ICMP6, f + pi.l4_off, pi.ip_len - 40), 0);
	cr_expect_eq(f[0], 0x33);
	cr_expect_eq(f[5], 0xfe);
	/* the NS, seen by a port owning the target, is answered with an NA */
	struct local_addr peer = la;
	memcpy(peer.ip6, target6, 16);
	peer.mac[5] = 9;
	cr_assert_eq(local_classify(f, len, &pi, &peer), LOCAL_NS);
	uint32_t alen = local_answer(f, len, sizeof(f), &pi, &peer, LOCAL_NS);
	cr_assert_eq(alen, 18 + 40 + 32);
	cr_assert_eq(pkt_parse(f, alen, &pi), PKT_OK);
	cr_expect_eq(f[pi.l4_off], 136);
	cr_expect(!memcmp(f, la.mac, 6), "NA to the solicitor's link-layer address");
	cr_expect_eq(csum_l4(6, pi.src, pi.dst, PROTO_ICMP6, f + pi.l4_off, 32), 0);
	/* too small a buffer: refused, nothing written past cap */
	cr_expect_eq(local_arp_request(f, 40, &la, la.vlan, S4), 0);
}

/* Sets the ICMPv6 checksum of an untagged frame without extension headers. */
static void fix_icmp6(uint8_t *f, uint32_t len)
{
	uint8_t *icmp = f + 54;
	icmp[2] = icmp[3] = 0;
	uint16_t c = csum_l4(6, f + 22, f + 38, PROTO_ICMP6, icmp, len - 54);
	icmp[2] = (uint8_t)(c >> 8); icmp[3] = (uint8_t)c;
}

/* What the NS and echo6 answers refuse: NS code != 0, DAD (unspecified
 * source) with a source link-layer option, a bad echo6 checksum; and
 * what they accept: DAD without the option (NA to all-nodes). */
Test(local, ns_and_echo6_checks)
{
	struct local_addr asker = { .mac = { 2, 0, 0, 0, 1, 1 }, .has6 = true,
				    .ip6 = { 0x20, 0x01, 0, 2, [15] = 1 } };
	struct local_addr me = { .mac = { 2, 0, 0, 0, 1, 9 }, .has6 = true,
				 .ip6 = { 0x20, 0x01, 0, 2, [15] = 0xfe }, .plen6 = 64 };
	uint8_t f[160];
	struct pkt_info pi;
	uint32_t len = local_ns_request(f, sizeof(f), &asker, asker.vlan, me.ip6);
	cr_assert_eq(pkt_parse(f, len, &pi), PKT_OK);
	cr_assert_eq(local_classify(f, len, &pi, &me), LOCAL_NS);
	uint8_t g[160];
	/* code 1 (checksum fixed): refused */
	memcpy(g, f, len);
	g[55] = 1;
	fix_icmp6(g, len);
	cr_assert_eq(pkt_parse(g, len, &pi), PKT_OK);
	cr_expect_eq(local_answer(g, len, sizeof(g), &pi, &me, LOCAL_NS), 0, "NS code 1 answered");
	/* DAD with the SLLA option: refused */
	memcpy(g, f, len);
	memset(g + 22, 0, 16);
	fix_icmp6(g, len);
	cr_assert_eq(pkt_parse(g, len, &pi), PKT_OK);
	cr_expect_eq(local_answer(g, len, sizeof(g), &pi, &me, LOCAL_NS), 0, "DAD with SLLA answered");
	/* DAD without it: NA to all-nodes */
	uint32_t dlen = len - 8;
	g[19] = 24; /* payload length */
	fix_icmp6(g, dlen);
	cr_assert_eq(pkt_parse(g, dlen, &pi), PKT_OK);
	cr_assert_eq(local_classify(g, dlen, &pi, &me), LOCAL_NS);
	uint32_t alen = local_answer(g, dlen, sizeof(g), &pi, &me, LOCAL_NS);
	cr_assert_eq(alen, 14 + 40 + 32);
	cr_expect_eq(g[0], 0x33);
	cr_expect_eq(g[14 + 24], 0xff);
	/* echo6 to me: answered with a good checksum, not with a bad one */
	uint8_t echo[8 + 4] = { 128, 0, 0, 0, 0, 7, 0, 1, 'p', 'i', 'n', 'g' };
	len = ip6_frame(f, PROTO_ICMP6, echo, sizeof(echo));
	memcpy(f, me.mac, 6);
	memcpy(f + 38, me.ip6, 16);
	fix_icmp6(f, len);
	memcpy(g, f, len);
	cr_assert_eq(pkt_parse(f, len, &pi), PKT_OK);
	cr_assert_eq(local_classify(f, len, &pi, &me), LOCAL_ECHO6);
	cr_expect_eq(local_answer(f, len, sizeof(f), &pi, &me, LOCAL_ECHO6), len);
	cr_expect_eq(f[54], 129);
	g[len - 1] ^= 1;
	cr_assert_eq(pkt_parse(g, len, &pi), PKT_OK);
	cr_expect_eq(local_answer(g, len, sizeof(g), &pi, &me, LOCAL_ECHO6), 0, "bad checksum answered");
}

/* Random damage to valid frames (flips, truncation, growth), through every
 * function that reads a received frame. The buffer is exactly the frame's
 * length (plus the answer room local_answer() is told about), so ASan
 * catches any read or write past it. Deterministic PRNG. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)rng_state;
}

static uint32_t seed_frame(uint8_t *f, unsigned kind, const struct local_addr *la)
{
	uint32_t len;
	switch (kind % 4) {
	case 0:
		return ip4_tcp(f, C4, la->ip4, 1, 2, TCP_SYN, rnd() % 64);
	case 1:
		return local_arp_request(f, 128, la, la->vlan, la->ip4);
	case 2:
		return local_ns_request(f, 128, la, la->vlan, la->ip6);
	default: /* an echo request to us */
		len = ip4_tcp(f, C4, la->ip4, 0, 0, 0, 8);
		f[14 + 9] = PROTO_ICMP;
		f[14 + 20] = 8;
		return len;
	}
}

Test(pkt, random_damage)
{
	struct local_addr la = { .mac = { 2, 0, 0, 0, 1, 1 }, .has4 = true, .has6 = true,
				 .ip4 = { 198, 18, 0, 1 }, .ip6 = { 0x20, 0x01, 0, 2, [15] = 1 } };
	unsigned counts[PKT_MALFORMED_COUNT] = { 0 };
	for (unsigned i = 0; i < 200000; i++) {
		uint8_t seed[256];
		uint32_t len = seed_frame(seed, i, &la);
		unsigned flips = rnd() % 4;
		for (unsigned j = 0; j < flips; j++)
			seed[rnd() % len] ^= (uint8_t)(1u << (rnd() % 8));
		if (rnd() % 3 == 0)
			len = rnd() % (len + 1);
		uint32_t room = rnd() % 2 ? 0 : 96;
		/* parse and classify in exactly len bytes; answer in len + room */
		uint8_t *b = malloc(len ? len : 1);
		memcpy(b, seed, len);
		struct pkt_info pi;
		enum pkt_malformed r = pkt_parse(b, len, &pi);
		counts[r]++;
		if (r == PKT_OK) {
			if (pi.l4_proto == PROTO_TCP && !pi.is_fragment) {
				struct flow_key k;
				flow_key_make(&pi, &k);
				(void)flow_key_hash(&k);
			}
			enum local_verdict v = local_classify(b, len, &pi, &la);
			uint8_t *a = malloc(len + room);
			memcpy(a, seed, len);
			cr_assert_eq(pkt_parse(a, len, &pi), PKT_OK);
			uint32_t out = local_answer(a, len, len + room, &pi, &la, v);
			cr_assert_leq(out, len + room);
			free(a);
		}
		free(b);
	}
	cr_expect_gt(counts[PKT_OK], 1000);
	cr_expect_gt(counts[PKT_IP4_CSUM], 1000);
}
