/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The SA log line: one data SA in Wireshark's esp_sa UAT format (the
 * table Preferences > Protocols > ESP > ESP SAs fills, and what
 * `tshark -o "uat:esp_sa:LINE"` takes):
 *
 *   "IPv4","SRC","DST","0xSPI8","AES-GCM with 16 octet ICV [RFC4106]","0xKEYSALT","NULL",""
 *
 * protocol, source and destination of the ESP frames, SPI, encryption
 * algorithm, key || salt in hex (RFC 4106 order), authentication algorithm
 * (NULL: GCM authenticates itself) and authentication key (empty). A file
 * of such lines is also a valid esp_sa UAT file.
 */
#include <arpa/inet.h>
#include <stdio.h>

#include <openssl/crypto.h>

#include "strait/tunnel.h"
#include "tunnel_internal.h"

void sa_log_emit(const struct strait_sa_log *log, enum strait_esp_dir dir, uint32_t spi,
		 const uint8_t keymat[STRAIT_ESP_KEYMAT_LEN])
{
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];
	char key[2 * STRAIT_ESP_KEYMAT_LEN + 1];
	char line[STRAIT_SA_LOG_LINE_MAX];
	static const char hex[] = "0123456789abcdef";
	int af = log->family == 6 ? AF_INET6 : AF_INET;
	const uint8_t *from = dir == STRAIT_ESP_OUTBOUND ? log->local : log->peer;
	const uint8_t *to = dir == STRAIT_ESP_OUTBOUND ? log->peer : log->local;
	int n;

	if (!log->fn || !inet_ntop(af, from, src, sizeof(src)) || !inet_ntop(af, to, dst, sizeof(dst)))
		return;
	for (size_t i = 0; i < STRAIT_ESP_KEYMAT_LEN; i++) {
		key[2 * i] = hex[keymat[i] >> 4];
		key[2 * i + 1] = hex[keymat[i] & 15];
	}
	key[sizeof(key) - 1] = '\0';
	n = snprintf(line, sizeof(line),
		     "\"%s\",\"%s\",\"%s\",\"0x%08x\",\"AES-GCM with 16 octet ICV [RFC4106]\",\"0x%s\",\"NULL\",\"\"",
		     af == AF_INET6 ? "IPv6" : "IPv4", src, dst, spi, key);
	if (n > 0 && (size_t)n < sizeof(line))
		log->fn(log->arg, line);
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(line, sizeof(line));
}
