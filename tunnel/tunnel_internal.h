/* SPDX-License-Identifier: BSD-3-Clause */
/* Private helpers of tunnel/: byte order and branch hints. */
#ifndef STRAIT_TUNNEL_INTERNAL_H
#define STRAIT_TUNNEL_INTERNAL_H

#include <stdint.h>

#include "strait/tunnel.h"

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

static inline uint16_t get_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t get_be64(const uint8_t *p)
{
	return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}

static inline void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline void put_be64(uint8_t *p, uint64_t v)
{
	put_be32(p, (uint32_t)(v >> 32));
	put_be32(p + 4, (uint32_t)v);
}

/* sa_log.c: formats one SA as an esp_sa UAT line and hands it to
 * log->fn (if set); wipes the line afterwards. */
void sa_log_emit(const struct strait_sa_log *log, enum strait_esp_dir dir, uint32_t spi,
		 const uint8_t keymat[STRAIT_ESP_KEYMAT_LEN]);

#endif
