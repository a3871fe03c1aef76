/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * strait-esp: seal and open pcap captures with one ESP SA, and measure
 * seal/open throughput beside OpenSSL's own AES-256-GCM speed.
 *
 *   strait-esp seal --spi SPI --key HEX --src IP:PORT --dst IP:PORT [--seq N] IN.pcap OUT.pcap
 *   strait-esp open --spi SPI --key HEX [--seq N] IN.pcap OUT.pcap
 *     (--seq: the first sequence number expected, default 1; needed to
 *     place 64-bit numbers when a capture starts far into the sequence)
 *   strait-esp bench [--runs N] [--seconds S]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "strait/tunnel.h"
#include "tunnel_internal.h"

enum { SNAP = 65535, BUF = SNAP + 2 * STRAIT_ESP_HEADROOM + 64 };

static void usage(void)
{
	fputs("usage: strait-esp seal --spi SPI --key HEX --src IP:PORT --dst IP:PORT [--seq N] IN.pcap OUT.pcap\n"
	      "       strait-esp open --spi SPI --key HEX [--seq N] IN.pcap OUT.pcap\n"
	      "       strait-esp bench [--runs N] [--seconds S]\n"
	      "  SPI: >= 256 (decimal or 0x hex); HEX: 72 hex digits, 32-byte AES key then 4-byte salt\n",
	      stderr);
}

static int parse_hex(const char *s, uint8_t *out, size_t n)
{
	if (!strncmp(s, "0x", 2) || !strncmp(s, "0X", 2))
		s += 2;
	if (strlen(s) != 2 * n)
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		if (sscanf(s + 2 * i, "%2x", &v) != 1 || !strchr("0123456789abcdefABCDEF", s[2 * i]) ||
		    !strchr("0123456789abcdefABCDEF", s[2 * i + 1]))
			return -1;
		out[i] = (uint8_t)v;
	}
	return 0;
}

static int parse_u64(const char *s, uint64_t *v)
{
	char *end;
	errno = 0;
	unsigned long long x = strtoull(s, &end, 0);
	if (errno || !*s || *end || *s == '-')
		return -1;
	*v = x;
	return 0;
}

/* IPv4 "a.b.c.d:port" or IPv6 "[addr]:port". */
static int parse_endpoint(const char *s, uint8_t *family, uint8_t addr[16], uint16_t *port)
{
	char host[64];
	const char *colon;
	uint64_t p;

	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (!close || close[1] != ':' || (size_t)(close - s - 1) >= sizeof(host))
			return -1;
		memcpy(host, s + 1, (size_t)(close - s - 1));
		host[close - s - 1] = 0;
		colon = close + 1;
		if (inet_pton(AF_INET6, host, addr) != 1)
			return -1;
		*family = 6;
	} else {
		colon = strrchr(s, ':');
		if (!colon || (size_t)(colon - s) >= sizeof(host))
			return -1;
		memcpy(host, s, (size_t)(colon - s));
		host[colon - s] = 0;
		if (inet_pton(AF_INET, host, addr) != 1)
			return -1;
		*family = 4;
	}
	if (parse_u64(colon + 1, &p) || p == 0 || p > 65535)
		return -1;
	*port = (uint16_t)p;
	return 0;
}

/* Offset of the IP header in a captured frame, or -1 if it carries none. */
static long ip_offset(int dlt, const uint8_t *f, size_t n)
{
	size_t off;
	uint16_t type;

	switch (dlt) {
	case DLT_RAW:
	case DLT_IPV4:
	case DLT_IPV6:
		return n ? 0 : -1;
	case DLT_EN10MB:
		if (n < 14)
			return -1;
		type = get_be16(f + 12);
		off = 14;
		while ((type == 0x8100 || type == 0x88a8) && n >= off + 4) {
			type = get_be16(f + off + 2);
			off += 4;
		}
		break;
	case DLT_LINUX_SLL:
		if (n < 16)
			return -1;
		type = get_be16(f + 14);
		off = 16;
		break;
	default:
		return -1;
	}
	if ((type != 0x0800 && type != 0x86dd) || off >= n)
		return -1;
	return (long)off;
}

struct sa_args {
	uint32_t spi;
	uint8_t key[STRAIT_ESP_KEYMAT_LEN];
	uint64_t seq;
	struct strait_esp_path path;
	bool have_spi, have_key, have_src, have_dst;
};

static int parse_sa_args(int argc, char **argv, struct sa_args *a)
{
	static const struct option opts[] = {
		{"spi", required_argument, NULL, 's'}, {"key", required_argument, NULL, 'k'},
		{"src", required_argument, NULL, 'S'}, {"dst", required_argument, NULL, 'D'},
		{"seq", required_argument, NULL, 'q'}, {NULL, 0, NULL, 0},
	};
	uint8_t fam;
	uint64_t v;
	int c;

	memset(a, 0, sizeof(*a));
	a->seq = 1;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (parse_u64(optarg, &v) || v < STRAIT_ESP_SPI_MIN || v > UINT32_MAX) {
				fprintf(stderr, "strait-esp: --spi must be 256..4294967295\n");
				return -1;
			}
			a->spi = (uint32_t)v;
			a->have_spi = true;
			break;
		case 'k':
			if (parse_hex(optarg, a->key, sizeof(a->key))) {
				fprintf(stderr, "strait-esp: --key must be 72 hex digits (32-byte key + 4-byte salt)\n");
				return -1;
			}
			a->have_key = true;
			break;
		case 'S':
		case 'D':
			if (parse_endpoint(optarg, &fam, c == 'S' ? a->path.src : a->path.dst,
					   c == 'S' ? &a->path.sport : &a->path.dport)) {
				fprintf(stderr, "strait-esp: bad endpoint '%s' (IPv4:PORT or [IPv6]:PORT)\n", optarg);
				return -1;
			}
			if ((a->have_src || a->have_dst) && fam != a->path.family) {
				fprintf(stderr, "strait-esp: --src and --dst must be the same family\n");
				return -1;
			}
			a->path.family = fam;
			*(c == 'S' ? &a->have_src : &a->have_dst) = true;
			break;
		case 'q':
			if (parse_u64(optarg, &v) || v == 0) {
				fprintf(stderr, "strait-esp: --seq must be >= 1\n");
				return -1;
			}
			a->seq = v;
			break;
		default:
			usage();
			return -1;
		}
	}
	if (!a->have_spi || !a->have_key) {
		fprintf(stderr, "strait-esp: --spi and --key are required\n");
		return -1;
	}
	return 0;
}

struct io {
	pcap_t *in;
	pcap_t *dead;
	pcap_dumper_t *out;
};

static int open_io(struct io *io, const char *in, const char *out)
{
	char err[PCAP_ERRBUF_SIZE];

	io->in = pcap_open_offline(in, err);
	if (!io->in) {
		fprintf(stderr, "strait-esp: %s: %s\n", in, err);
		return -1;
	}
	io->dead = pcap_open_dead(DLT_RAW, SNAP);
	io->out = io->dead ? pcap_dump_open(io->dead, out) : NULL;
	if (!io->out) {
		fprintf(stderr, "strait-esp: %s: %s\n", out, io->dead ? pcap_geterr(io->dead) : "pcap");
		if (io->dead)
			pcap_close(io->dead);
		pcap_close(io->in);
		return -1;
	}
	return 0;
}

static int close_io(struct io *io)
{
	int rc = 0;

	if (pcap_dump_flush(io->out))
		rc = -1;
	pcap_dump_close(io->out);
	pcap_close(io->dead);
	pcap_close(io->in);
	return rc;
}

/*
 * Parses the arguments of seal (with an outer path) or open, creates the SA
 * (the key is wiped from the arguments either way) and opens the captures.
 * NULL with the exit code in *rc on failure.
 */
static struct strait_esp_sa *start(int argc, char **argv, enum strait_esp_dir dir,
				   struct sa_args *a, struct io *io, int *rc)
{
	bool seal = dir == STRAIT_ESP_OUTBOUND;
	struct strait_esp_sa_config cfg = {.dir = dir};
	struct strait_esp_sa *sa;

	*rc = 2;
	if (parse_sa_args(argc, argv, a))
		goto err_key;
	if ((seal && (!a->have_src || !a->have_dst)) || argc - optind != 2) {
		fprintf(stderr, "strait-esp %s: %sIN.pcap and OUT.pcap are required\n",
			seal ? "seal" : "open", seal ? "--src, --dst, " : "");
		goto err_key;
	}
	*rc = 1;
	cfg.spi = a->spi;
	cfg.first_seq = a->seq;
	memcpy(cfg.keymat, a->key, sizeof(cfg.keymat));
	OPENSSL_cleanse(a->key, sizeof(a->key));
	sa = strait_esp_sa_create(&cfg);
	OPENSSL_cleanse(cfg.keymat, sizeof(cfg.keymat));
	if (!sa) {
		fprintf(stderr, "strait-esp: cannot create SA: %s\n", strerror(errno));
		return NULL;
	}
	if (open_io(io, argv[optind], argv[optind + 1])) {
		strait_esp_sa_free(sa);
		return NULL;
	}
	return sa;

err_key:
	OPENSSL_cleanse(a->key, sizeof(a->key));
	return NULL;
}

static void dump(struct io *io, const struct pcap_pkthdr *h, const uint8_t *p, size_t n)
{
	struct pcap_pkthdr oh = {.ts = h->ts, .caplen = (bpf_u_int32)n, .len = (bpf_u_int32)n};
	pcap_dump((u_char *)io->out, &oh, p);
}

static int cmd_seal(int argc, char **argv)
{
	static uint8_t buf[BUF];
	struct sa_args a;
	struct io io;
	struct strait_esp_sa *sa;
	struct pcap_pkthdr *h;
	const u_char *f;
	uint64_t sealed = 0, skipped = 0, failed = 0;
	int rc, dlt;

	sa = start(argc, argv, STRAIT_ESP_OUTBOUND, &a, &io, &rc);
	if (!sa)
		return rc;
	dlt = pcap_datalink(io.in);
	while ((rc = pcap_next_ex(io.in, &h, &f)) == 1) {
		long off = ip_offset(dlt, f, h->caplen);
		if (off < 0 || h->caplen != h->len) {
			skipped++; /* not IP, or cut short by the capture's snaplen */
			continue;
		}
		size_t n = h->caplen - (size_t)off;
		uint8_t *inner = buf + STRAIT_ESP_HEADROOM + 8;
		if (n > SNAP || (f[off] >> 4 != 4 && f[off] >> 4 != 6)) {
			skipped++; /* no IP packet is longer than 65535 bytes */
			continue;
		}
		memcpy(inner, f + off, n);
		uint8_t nh = inner[0] >> 4 == 6 ? STRAIT_ESP_NH_IPV6 : STRAIT_ESP_NH_IPV4;
		struct strait_pkt pkt = {.data = inner, .len = n, .head = STRAIT_ESP_HEADROOM + 8,
					 .tail = sizeof(buf) - STRAIT_ESP_HEADROOM - 8 - n};
		enum strait_esp_status s = strait_esp_seal(sa, &pkt, nh, 0);
		if (s != STRAIT_ESP_OK || !strait_esp_udp_encap(&a.path, &pkt, false)) {
			fprintf(stderr, "strait-esp: packet %" PRIu64 ": %s\n", sealed + skipped + failed + 1,
				s != STRAIT_ESP_OK ? strait_esp_status_name(s) : "too large for UDP");
			failed++;
			if (s == STRAIT_ESP_E_EXPIRED)
				break;
			continue;
		}
		dump(&io, h, pkt.data, pkt.len);
		sealed++;
	}
	if (rc == -1)
		fprintf(stderr, "strait-esp: %s: %s\n", argv[optind], pcap_geterr(io.in));
	printf("{\"sealed\": %" PRIu64 ", \"skipped\": %" PRIu64 ", \"failed\": %" PRIu64
	       ", \"last_seq\": %" PRIu64 "}\n", sealed, skipped, failed, strait_esp_sa_seq(sa));
	strait_esp_sa_free(sa);
	if (close_io(&io) || rc == -1)
		return 1;
	return failed ? 1 : 0;
}

static int cmd_open(int argc, char **argv)
{
	static uint8_t buf[BUF];
	struct sa_args a;
	struct io io;
	struct strait_esp_sa *sa;
	struct pcap_pkthdr *h;
	const u_char *f;
	uint64_t opened = 0, not_esp = 0, handshake = 0;
	uint64_t reasons[STRAIT_ESP_STATUS_MAX] = {0};
	int rc, dlt;

	sa = start(argc, argv, STRAIT_ESP_INBOUND, &a, &io, &rc);
	if (!sa)
		return rc;
	dlt = pcap_datalink(io.in);
	while ((rc = pcap_next_ex(io.in, &h, &f)) == 1) {
		long off = ip_offset(dlt, f, h->caplen);
		if (off < 0) {
			not_esp++;
			continue;
		}
		size_t n = h->caplen - (size_t)off;
		if (n > SNAP) {
			reasons[STRAIT_ESP_E_MALFORMED]++;
			continue;
		}
		memcpy(buf + STRAIT_ESP_HEADROOM, f + off, n);
		struct strait_pkt pkt = {.data = buf + STRAIT_ESP_HEADROOM, .len = n,
					 .head = STRAIT_ESP_HEADROOM,
					 .tail = sizeof(buf) - STRAIT_ESP_HEADROOM - n};
		uint8_t nh;
		switch (strait_esp_udp_decap(&pkt, NULL)) {
		case STRAIT_UDP_ESP:
			break;
		case STRAIT_UDP_MALFORMED:
			reasons[STRAIT_ESP_E_MALFORMED]++;
			continue;
		case STRAIT_UDP_HANDSHAKE:
		case STRAIT_UDP_KEEPALIVE:
			handshake++;
			continue;
		default:
			not_esp++;
			continue;
		}
		enum strait_esp_status s = strait_esp_open(sa, &pkt, &nh, 0);
		reasons[s]++;
		if (s != STRAIT_ESP_OK)
			continue;
		dump(&io, h, pkt.data, pkt.len);
		opened++;
	}
	if (rc == -1)
		fprintf(stderr, "strait-esp: %s: %s\n", argv[optind], pcap_geterr(io.in));
	printf("{\"opened\": %" PRIu64 ", \"rejected\": {", opened);
	for (int s = STRAIT_ESP_DUMMY; s <= STRAIT_ESP_E_EXPIRED; s++)
		printf("%s\"%s\": %" PRIu64, s == STRAIT_ESP_DUMMY ? "" : ", ",
		       strait_esp_status_name((enum strait_esp_status)s), reasons[s]);
	printf("}, \"not_esp\": %" PRIu64 ", \"non_esp_marker\": %" PRIu64 "}\n", not_esp, handshake);
	strait_esp_sa_free(sa);
	if (close_io(&io) || rc == -1)
		return 1;
	return 0;
}

int strait_esp_bench(int argc, char **argv);

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage();
		return 2;
	}
	if (!strcmp(argv[1], "seal"))
		return cmd_seal(argc - 1, argv + 1);
	if (!strcmp(argv[1], "open"))
		return cmd_open(argc - 1, argv + 1);
	if (!strcmp(argv[1], "bench"))
		return strait_esp_bench(argc - 1, argv + 1);
	usage();
	return 2;
}
