/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * strait-esp bench: seal and open throughput on one core for 64, 512, 1400
 * and 8900-byte inner packets, beside `openssl speed -aead -evp
 * aes-256-gcm` (encrypt, and -decrypt) for the same sizes, measured in the
 * same run. Runs alternate (openssl, seal, open, openssl -decrypt) so that
 * noise from other work on the machine hits all of them; each figure is
 * the median of the runs. Throughput counts inner (plaintext) bytes, as
 * openssl speed counts its plaintext. Packets are sealed and opened one
 * burst of 32 buffers at a time, as the dataplane hands them over (openssl
 * speed reuses a single buffer).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "strait/benchstat.h"
#include "strait/tunnel.h"
#include "tunnel_internal.h"

int strait_esp_bench(int argc, char **argv);

enum { NSIZES = 4, MAX_RUNS = 31, BURST = 32 };
static const size_t sizes[NSIZES] = {64, 512, 1400, 8900};

/* bytes/s from `openssl speed`, or -1. */
static double openssl_speed(size_t size, double seconds, bool decrypt)
{
	char cmd[256], line[512];
	double v = -1;
	FILE *f;

	snprintf(cmd, sizeof(cmd),
		 "openssl speed -aead %s-evp aes-256-gcm -bytes %zu -seconds %d -mr 2>/dev/null",
		 decrypt ? "-decrypt " : "", size, (int)(seconds < 1 ? 1 : seconds + 0.5));
	f = popen(cmd, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char *p = strrchr(line, ':');
		if (!strncmp(line, "+F:", 3) && p)
			v = strtod(p + 1, NULL);
	}
	pclose(f);
	return v;
}

/*
 * Second baseline: the bare EVP calls a GCM packet needs (new nonce, 12
 * bytes of AAD, data, tag), key set once, on the same burst of buffers:
 * the ceiling for any ESP code built on OpenSSL. (openssl speed -aead
 * also re-sets the key on every operation.)
 */
static double evp_loop(const uint8_t *key, uint8_t *mem, size_t stride, size_t n, size_t size,
		       double seconds)
{
	EVP_CIPHER *aes = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	uint8_t nonce[12] = {0}, aad[12] = {0};
	uint64_t bytes = 0, ctr = 0;
	double t0, bps = -1;
	int outl;

	if (!aes || !ctx || EVP_EncryptInit_ex(ctx, aes, NULL, key, NULL) != 1)
		goto out;
	t0 = bench_clock(CLOCK_THREAD_CPUTIME_ID);
	while (bench_clock(CLOCK_THREAD_CPUTIME_ID) - t0 < seconds) {
		for (size_t i = 0; i < n; i++) {
			uint8_t *p = mem + i * stride + STRAIT_ESP_HEADROOM;
			put_be64(nonce + 4, ++ctr);
			if (EVP_EncryptInit_ex(ctx, NULL, NULL, NULL, nonce) != 1 ||
			    EVP_EncryptUpdate(ctx, NULL, &outl, aad, sizeof(aad)) != 1 ||
			    EVP_EncryptUpdate(ctx, p, &outl, p, (int)size) != 1 ||
			    EVP_EncryptFinal_ex(ctx, p + size, &outl) != 1 ||
			    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, p + size) != 1)
				goto out;
		}
		bytes += n * size;
	}
	bps = (double)bytes / (bench_clock(CLOCK_THREAD_CPUTIME_ID) - t0);
out:
	EVP_CIPHER_CTX_free(ctx);
	EVP_CIPHER_free(aes);
	return bps;
}

struct pool {
	uint8_t *mem;
	size_t stride, n, size;
	struct strait_pkt *pkt;
};

static void fill_inner(uint8_t *p, size_t n, uint32_t salt)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 131 + salt);
	p[0] = 0x45;
	p[1] = 0;
	put_be16(p + 2, (uint16_t)n);
}

static int pool_init(struct pool *pl, size_t size)
{
	pl->size = size;
	pl->stride = (STRAIT_ESP_HEADROOM + size + STRAIT_ESP_TAILROOM + 63) & ~(size_t)63;
	pl->n = BURST;
	pl->mem = aligned_alloc(64, pl->n * pl->stride);
	pl->pkt = calloc(pl->n, sizeof(*pl->pkt));
	if (!pl->mem || !pl->pkt)
		return -ENOMEM;
	return 0;
}

static void pool_reset(struct pool *pl)
{
	for (size_t i = 0; i < pl->n; i++) {
		uint8_t *b = pl->mem + i * pl->stride;
		pl->pkt[i] = (struct strait_pkt){.data = b + STRAIT_ESP_HEADROOM, .len = pl->size,
						 .head = STRAIT_ESP_HEADROOM,
						 .tail = pl->stride - STRAIT_ESP_HEADROOM - pl->size};
		fill_inner(pl->pkt[i].data, pl->size, (uint32_t)i);
	}
}

static void pool_free(struct pool *pl)
{
	free(pl->mem);
	free(pl->pkt);
}

/*
 * Seal: reseal the pool's packets over and over (the previous ciphertext is
 * the next plaintext; the cost does not depend on the bytes). Open: seal
 * the pool (untimed), open every frame (timed), repeat. Returns bytes/s of
 * thread CPU time, which on one busy thread equals wall time but ignores
 * time the scheduler gives to other work.
 */
static int run_once(struct strait_esp_sa *out, struct strait_esp_sa *in, struct pool *pl,
		    double seconds, double *seal_bps, double *open_bps)
{
	double t0, spent = 0;
	uint64_t bytes = 0;
	uint8_t nh;

	t0 = bench_clock(CLOCK_THREAD_CPUTIME_ID);
	while (bench_clock(CLOCK_THREAD_CPUTIME_ID) - t0 < seconds) {
		for (size_t i = 0; i < pl->n; i++) {
			struct strait_pkt p = {.data = pl->pkt[i].data, .len = pl->size,
					       .head = pl->pkt[i].head, .tail = pl->pkt[i].tail};
			if (strait_esp_seal(out, &p, STRAIT_ESP_NH_IPV4, 0) != STRAIT_ESP_OK)
				return -EIO;
		}
		bytes += pl->n * pl->size;
	}
	*seal_bps = (double)bytes / (bench_clock(CLOCK_THREAD_CPUTIME_ID) - t0);

	bytes = 0;
	while (spent < seconds) {
		pool_reset(pl);
		for (size_t i = 0; i < pl->n; i++)
			if (strait_esp_seal(out, &pl->pkt[i], STRAIT_ESP_NH_IPV4, 0) != STRAIT_ESP_OK)
				return -EIO;
		t0 = bench_clock(CLOCK_THREAD_CPUTIME_ID);
		for (size_t i = 0; i < pl->n; i++)
			if (strait_esp_open(in, &pl->pkt[i], &nh, 0) != STRAIT_ESP_OK)
				return -EIO;
		spent += bench_clock(CLOCK_THREAD_CPUTIME_ID) - t0;
		bytes += pl->n * pl->size;
	}
	*open_bps = (double)bytes / spent;
	pool_reset(pl);
	return 0;
}

int strait_esp_bench(int argc, char **argv)
{
	static const struct option opts[] = {
		{"runs", required_argument, NULL, 'r'},
		{"seconds", required_argument, NULL, 's'},
		{NULL, 0, NULL, 0},
	};
	double seconds = 1.0;
	int runs = 5, c;
	double res[NSIZES][5][MAX_RUNS];

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'r')
			runs = atoi(optarg);
		else if (c == 's')
			seconds = atof(optarg);
		else
			return 2;
	}
	if (runs < 1 || runs > MAX_RUNS || !(seconds > 0 && seconds <= 10)) {
		fprintf(stderr, "strait-esp bench: --runs 1..%d, --seconds (0, 10]\n", MAX_RUNS);
		return 2;
	}

	for (int z = 0; z < NSIZES; z++) {
		struct strait_esp_sa_config cfg = {.spi = 0x1234};
		struct strait_esp_sa *out, *in;
		struct pool pl;

		for (int i = 0; i < STRAIT_ESP_KEYMAT_LEN; i++)
			cfg.keymat[i] = (uint8_t)(i * 7 + 1);
		cfg.dir = STRAIT_ESP_OUTBOUND;
		out = strait_esp_sa_create(&cfg);
		cfg.dir = STRAIT_ESP_INBOUND;
		in = strait_esp_sa_create(&cfg);
		if (!out || !in || pool_init(&pl, sizes[z])) {
			fprintf(stderr, "strait-esp bench: setup failed\n");
			return 1;
		}
		pool_reset(&pl);
		for (int r = 0; r < runs; r++) {
			res[z][0][r] = openssl_speed(sizes[z], seconds, false);
			if (run_once(out, in, &pl, seconds / 2, &res[z][1][r], &res[z][2][r])) {
				fprintf(stderr, "strait-esp bench: seal/open failed\n");
				return 1;
			}
			res[z][3][r] = openssl_speed(sizes[z], seconds, true);
			res[z][4][r] = evp_loop(cfg.keymat, pl.mem, pl.stride, pl.n, sizes[z], seconds / 2);
		}
		pool_free(&pl);
		strait_esp_sa_free(out);
		strait_esp_sa_free(in);
	}

	printf("{\n  \"bench\": \"strait-esp\",\n  \"cipher\": \"AES-256-GCM (RFC 4106, ESN AAD)\",\n"
	       "  \"runs\": %d,\n  \"seconds_per_run\": %.2f,\n  \"unit\": \"MB/s of inner bytes, median\",\n"
	       "  \"baseline\": \"openssl speed -aead [-decrypt] -evp aes-256-gcm -bytes N\",\n"
	       "  \"evp_gcm\": \"bare EVP AES-256-GCM per packet (nonce, 12-byte AAD, data, tag), key set once\",\n"
	       "  \"sizes\": [\n",
	       runs, seconds);
	for (int z = 0; z < NSIZES; z++) {
		double ossl = bench_median(res[z][0], runs) / 1e6, seal = bench_median(res[z][1], runs) / 1e6;
		double open = bench_median(res[z][2], runs) / 1e6, ossl_d = bench_median(res[z][3], runs) / 1e6;
		double evp = bench_median(res[z][4], runs) / 1e6;
		printf("    {\"bytes\": %zu, \"seal_MBps\": %.1f, \"open_MBps\": %.1f, "
		       "\"openssl_enc_MBps\": %.1f, \"openssl_dec_MBps\": %.1f, \"evp_gcm_MBps\": %.1f, "
		       "\"seal_vs_evp\": %.3f, "
		       "\"seal_vs_openssl\": %.3f, \"open_vs_openssl\": %.3f, \"open_vs_openssl_dec\": %.3f, "
		       "\"seal_cpu_s_per_GB\": %.3f, \"open_cpu_s_per_GB\": %.3f}%s\n",
		       sizes[z], seal, open, ossl, ossl_d, evp, seal / evp, seal / ossl, open / ossl, open / ossl_d,
		       1e3 / seal, 1e3 / open, z + 1 < NSIZES ? "," : "");
	}
	printf("  ]\n}\n");
	return 0;
}
