/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Seal and open allocate nothing per packet, OpenSSL included: every
 * OpenSSL allocation in this process goes through a counter, and the
 * count must not move while 10000 frames are sealed and opened.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "strait/tunnel.h"

static unsigned long allocs;

static void *count_malloc(size_t n, const char *file, int line)
{
	(void)file;
	(void)line;
	allocs++;
	return malloc(n);
}

static void *count_realloc(void *p, size_t n, const char *file, int line)
{
	(void)file;
	(void)line;
	allocs++;
	return realloc(p, n);
}

static void count_free(void *p, const char *file, int line)
{
	(void)file;
	(void)line;
	free(p);
}

/* Must run before OpenSSL's first allocation in this process. */
static int hooked;
__attribute__((constructor)) static void hook(void)
{
	hooked = CRYPTO_set_mem_functions(count_malloc, count_realloc, count_free);
}

Test(noalloc, seal_open_allocate_nothing)
{
	cr_assert(hooked, "OpenSSL allocated before the counter was installed");
	struct strait_esp_sa_config c = {.spi = 0x777};
	memset(c.keymat, 0x11, sizeof(c.keymat));
	c.dir = STRAIT_ESP_OUTBOUND;
	struct strait_esp_sa *out = strait_esp_sa_create(&c);
	c.dir = STRAIT_ESP_INBOUND;
	struct strait_esp_sa *in = strait_esp_sa_create(&c);
	cr_assert(out && in);
	cr_assert_gt(allocs, 0, "the counter sees OpenSSL's allocations (SA setup)");
	static uint8_t buf[STRAIT_ESP_HEADROOM + 1500 + 64];
	uint8_t nh;

	/* one warm-up packet each way (lazy provider state), then count */
	for (int round = 0; round < 2; round++) {
		unsigned long before = allocs;
		for (int i = 0; i < (round ? 10000 : 1); i++) {
			uint8_t *p0 = buf + STRAIT_ESP_HEADROOM;
			memset(p0, 0, 1400);
			p0[0] = 0x45;
			p0[2] = 1400 >> 8;
			p0[3] = 1400 & 0xff;
			struct strait_pkt p = {.data = p0, .len = 1400, .head = STRAIT_ESP_HEADROOM,
					       .tail = 64};
			cr_assert_eq(strait_esp_seal(out, &p, 4, 0), STRAIT_ESP_OK);
			cr_assert_eq(strait_esp_open(in, &p, &nh, 0), STRAIT_ESP_OK);
		}
		if (round)
			cr_assert_eq(allocs, before, "%lu allocations in 10000 packets", allocs - before);
	}
	strait_esp_sa_free(out);
	strait_esp_sa_free(in);
}
