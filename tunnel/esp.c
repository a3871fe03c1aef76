/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ESP sealing and opening (RFC 4303) with AES-256-GCM (RFC 4106), in place.
 *
 * One EVP_CIPHER_CTX per SA, keyed once at creation; each packet only
 * re-initialises the nonce. The explicit IV is the 64-bit sequence number,
 * which never repeats under one key because sequence numbers never wrap.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "strait/tunnel.h"
#include "tunnel_internal.h"

struct strait_esp_sa {
	EVP_CIPHER_CTX *ctx;
	enum strait_esp_dir dir;
	bool esn;
	uint32_t spi;
	uint8_t salt[STRAIT_ESP_SALT_LEN];
	uint64_t seq;                      /* outbound: last number used */
	struct strait_esp_replay replay;   /* inbound */
	struct strait_esp_lifetime soft, hard;
	uint64_t created_ns;
	struct strait_esp_stats stats;
};

static const char *const status_names[STRAIT_ESP_STATUS_MAX] = {
	[STRAIT_ESP_OK] = "ok",
	[STRAIT_ESP_DUMMY] = "dummy",
	[STRAIT_ESP_E_MALFORMED] = "malformed",
	[STRAIT_ESP_E_SPI] = "unknown_spi",
	[STRAIT_ESP_E_REPLAY] = "replay",
	[STRAIT_ESP_E_ICV] = "icv",
	[STRAIT_ESP_E_PAYLOAD] = "payload",
	[STRAIT_ESP_E_EXPIRED] = "expired",
	[STRAIT_ESP_E_NOROOM] = "noroom",
	[STRAIT_ESP_E_NOSA] = "nosa",
};

const char *strait_esp_status_name(enum strait_esp_status s)
{
	if ((unsigned)s >= STRAIT_ESP_STATUS_MAX)
		return "invalid";
	return status_names[s];
}

struct strait_esp_sa *strait_esp_sa_create(const struct strait_esp_sa_config *cfg)
{
	struct strait_esp_sa *sa;
	EVP_CIPHER *aes;
	int ok;

	if (cfg->spi < STRAIT_ESP_SPI_MIN || (cfg->no_esn && cfg->first_seq > UINT32_MAX) ||
	    (cfg->dir != STRAIT_ESP_OUTBOUND && cfg->dir != STRAIT_ESP_INBOUND)) {
		errno = EINVAL;
		return NULL;
	}
	sa = calloc(1, sizeof(*sa));
	if (!sa) {
		errno = ENOMEM;
		return NULL;
	}
	sa->dir = cfg->dir;
	sa->esn = !cfg->no_esn;
	sa->spi = cfg->spi;
	memcpy(sa->salt, cfg->keymat + STRAIT_ESP_KEY_LEN, STRAIT_ESP_SALT_LEN);
	sa->seq = cfg->first_seq ? cfg->first_seq - 1 : 0;
	strait_esp_replay_init(&sa->replay);
	if (cfg->dir == STRAIT_ESP_INBOUND)
		sa->replay.top = sa->seq;
	sa->soft = cfg->soft;
	sa->hard = cfg->hard;
	sa->created_ns = cfg->now_ns;

	sa->ctx = EVP_CIPHER_CTX_new();
	if (!sa->ctx)
		goto err_free;
	aes = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
	if (!aes)
		goto err_ctx;
	if (cfg->dir == STRAIT_ESP_OUTBOUND)
		ok = EVP_EncryptInit_ex(sa->ctx, aes, NULL, NULL, NULL);
	else
		ok = EVP_DecryptInit_ex(sa->ctx, aes, NULL, NULL, NULL);
	EVP_CIPHER_free(aes);
	/* The default GCM IV length is 12, the RFC 4106 nonce (salt || IV). */
	if (ok != 1 || EVP_CIPHER_CTX_get_iv_length(sa->ctx) != 12)
		goto err_ctx;
	if (cfg->dir == STRAIT_ESP_OUTBOUND)
		ok = EVP_EncryptInit_ex(sa->ctx, NULL, NULL, cfg->keymat, NULL);
	else
		ok = EVP_DecryptInit_ex(sa->ctx, NULL, NULL, cfg->keymat, NULL);
	if (ok != 1)
		goto err_ctx;
	return sa;

err_ctx:
	EVP_CIPHER_CTX_free(sa->ctx);
err_free:
	OPENSSL_cleanse(sa, sizeof(*sa));
	free(sa);
	errno = EIO;
	return NULL;
}

void strait_esp_sa_free(struct strait_esp_sa *sa)
{
	if (!sa)
		return;
	EVP_CIPHER_CTX_free(sa->ctx); /* cleanses the key schedule */
	OPENSSL_cleanse(sa, sizeof(*sa));
	free(sa);
}

uint32_t strait_esp_sa_spi(const struct strait_esp_sa *sa)
{
	return sa->spi;
}

uint64_t strait_esp_sa_seq(const struct strait_esp_sa *sa)
{
	return sa->dir == STRAIT_ESP_OUTBOUND ? sa->seq : sa->replay.top;
}

const struct strait_esp_stats *strait_esp_sa_stats(const struct strait_esp_sa *sa)
{
	return &sa->stats;
}

static bool reached(const struct strait_esp_sa *sa, const struct strait_esp_lifetime *l,
		    uint64_t now_ns)
{
	if (l->packets && sa->stats.packets >= l->packets)
		return true;
	if (l->bytes && sa->stats.bytes >= l->bytes)
		return true;
	if (l->seconds && now_ns >= sa->created_ns &&
	    (now_ns - sa->created_ns) / 1000000000u >= l->seconds)
		return true;
	return false;
}

bool strait_esp_sa_soft_expired(const struct strait_esp_sa *sa, uint64_t now_ns)
{
	return reached(sa, &sa->soft, now_ns) || reached(sa, &sa->hard, now_ns);
}

bool strait_esp_sa_hard_expired(const struct strait_esp_sa *sa, uint64_t now_ns)
{
	return reached(sa, &sa->hard, now_ns);
}

uint32_t strait_esp_peek_spi(const uint8_t *esp, size_t len)
{
	return len < STRAIT_ESP_HDR_LEN ? 0 : get_be32(esp);
}

static inline void make_nonce(uint8_t nonce[12], const uint8_t salt[4], const uint8_t *iv)
{
	memcpy(nonce, salt, 4);
	memcpy(nonce + 4, iv, 8);
}

/* RFC 4106 section 5: SPI || Seq high || Seq low with ESN, else SPI || Seq. */
static inline int make_aad(const struct strait_esp_sa *sa, uint8_t aad[12], const uint8_t *esp,
			   uint64_t seq)
{
	memcpy(aad, esp, 4);
	if (!sa->esn) {
		memcpy(aad + 4, esp + 4, 4);
		return 8;
	}
	put_be32(aad + 4, (uint32_t)(seq >> 32));
	memcpy(aad + 8, esp + 4, 4);
	return 12;
}

static inline enum strait_esp_status reject(struct strait_esp_sa *sa, enum strait_esp_status s)
{
	sa->stats.rejected[s]++;
	return s;
}

enum strait_esp_status strait_esp_seal(struct strait_esp_sa *sa, struct strait_pkt *pkt,
				       uint8_t next_header, uint64_t now_ns)
{
	uint8_t nonce[12], aad[12];
	uint8_t *p = pkt->data, *esp;
	size_t n = pkt->len, pad, ct_len;
	uint64_t seq;
	int outl, aad_len;

	if (unlikely(sa->dir != STRAIT_ESP_OUTBOUND || n > 65535))
		return reject(sa, STRAIT_ESP_E_MALFORMED);
	/* Pad so that pad length and next header end on a 4-byte boundary
	 * (the 16-byte header + IV keeps that alignment). */
	pad = (4 - ((n + 2) & 3)) & 3;
	if (unlikely(pkt->head < STRAIT_ESP_FRONT ||
		     pkt->tail < pad + 2 + STRAIT_ESP_ICV_LEN))
		return reject(sa, STRAIT_ESP_E_NOROOM);
	if (unlikely(sa->seq == (sa->esn ? UINT64_MAX : UINT32_MAX) ||
		     reached(sa, &sa->hard, now_ns)))
		return reject(sa, STRAIT_ESP_E_EXPIRED);
	seq = ++sa->seq;

	for (size_t i = 0; i < pad; i++)
		p[n + i] = (uint8_t)(i + 1);
	p[n + pad] = (uint8_t)pad;
	p[n + pad + 1] = next_header;
	ct_len = n + pad + 2;

	esp = p - STRAIT_ESP_FRONT;
	put_be32(esp, sa->spi);
	put_be32(esp + 4, (uint32_t)seq);
	put_be64(esp + 8, seq);
	make_nonce(nonce, sa->salt, esp + 8);
	aad_len = make_aad(sa, aad, esp, seq);

	if (unlikely(EVP_EncryptInit_ex(sa->ctx, NULL, NULL, NULL, nonce) != 1 ||
		     EVP_EncryptUpdate(sa->ctx, NULL, &outl, aad, aad_len) != 1 ||
		     EVP_EncryptUpdate(sa->ctx, p, &outl, p, (int)ct_len) != 1 ||
		     EVP_EncryptFinal_ex(sa->ctx, p + ct_len, &outl) != 1 ||
		     EVP_CIPHER_CTX_ctrl(sa->ctx, EVP_CTRL_AEAD_GET_TAG, STRAIT_ESP_ICV_LEN,
					 p + ct_len) != 1))
		return reject(sa, STRAIT_ESP_E_EXPIRED); /* the cipher refused: stop */

	sa->stats.packets++;
	sa->stats.bytes += n;
	pkt->data = esp;
	pkt->len = STRAIT_ESP_FRONT + ct_len + STRAIT_ESP_ICV_LEN;
	pkt->head -= STRAIT_ESP_FRONT;
	pkt->tail -= pad + 2 + STRAIT_ESP_ICV_LEN;
	return STRAIT_ESP_OK;
}

/* The inner packet must be one whole IP packet of the family the next
 * header names, exactly as long as its own header says. */
static bool inner_valid(const uint8_t *p, size_t n, uint8_t nh)
{
	if (nh == STRAIT_ESP_NH_IPV4)
		return n >= 20 && p[0] >> 4 == 4 && (p[0] & 15) >= 5 &&
		       get_be16(p + 2) == n && (size_t)(p[0] & 15) * 4 <= n;
	if (nh == STRAIT_ESP_NH_IPV6)
		return n >= 40 && p[0] >> 4 == 6 && (size_t)get_be16(p + 4) + 40 == n;
	return false;
}

enum strait_esp_status strait_esp_open(struct strait_esp_sa *sa, struct strait_pkt *pkt,
				       uint8_t *next_header, uint64_t now_ns)
{
	uint8_t nonce[12], aad[12];
	uint8_t *esp = pkt->data, *p;
	size_t len = pkt->len, ct_len, pad, n;
	uint64_t seq;
	uint8_t nh;
	int outl, aad_len;

	if (unlikely(sa->dir != STRAIT_ESP_INBOUND || len < STRAIT_ESP_MIN_LEN ||
		     len > 65535 || (len - STRAIT_ESP_FRONT - STRAIT_ESP_ICV_LEN) % 4))
		return reject(sa, STRAIT_ESP_E_MALFORMED);
	if (unlikely(get_be32(esp) != sa->spi))
		return reject(sa, STRAIT_ESP_E_SPI);
	seq = sa->esn ? strait_esp_replay_infer(&sa->replay, get_be32(esp + 4)) : get_be32(esp + 4);
	if (unlikely(!strait_esp_replay_check(&sa->replay, seq)))
		return reject(sa, STRAIT_ESP_E_REPLAY);
	if (unlikely(reached(sa, &sa->hard, now_ns)))
		return reject(sa, STRAIT_ESP_E_EXPIRED);

	p = esp + STRAIT_ESP_FRONT;
	ct_len = len - STRAIT_ESP_FRONT - STRAIT_ESP_ICV_LEN;
	make_nonce(nonce, sa->salt, esp + 8);
	aad_len = make_aad(sa, aad, esp, seq);

	if (unlikely(EVP_DecryptInit_ex(sa->ctx, NULL, NULL, NULL, nonce) != 1 ||
		     EVP_DecryptUpdate(sa->ctx, NULL, &outl, aad, aad_len) != 1 ||
		     EVP_DecryptUpdate(sa->ctx, p, &outl, p, (int)ct_len) != 1 ||
		     EVP_CIPHER_CTX_ctrl(sa->ctx, EVP_CTRL_AEAD_SET_TAG, STRAIT_ESP_ICV_LEN,
					 p + ct_len) != 1 ||
		     EVP_DecryptFinal_ex(sa->ctx, p + ct_len, &outl) != 1)) {
		/* GCM decrypted in place before the tag was known to be bad:
		 * wipe the plaintext so the dropped buffer holds none of it. */
		OPENSSL_cleanse(p, ct_len);
		return reject(sa, STRAIT_ESP_E_ICV);
	}

	/* Authentic: the number is consumed whatever the payload holds. */
	strait_esp_replay_update(&sa->replay, seq);

	pad = p[ct_len - 2];
	nh = p[ct_len - 1];
	if (unlikely(pad + 2 > ct_len))
		return reject(sa, STRAIT_ESP_E_PAYLOAD);
	n = ct_len - 2 - pad;
	for (size_t i = 0; i < pad; i++)
		if (unlikely(p[n + i] != (uint8_t)(i + 1)))
			return reject(sa, STRAIT_ESP_E_PAYLOAD);
	if (nh == STRAIT_ESP_NH_DUMMY) {
		sa->stats.dummy++;
		return STRAIT_ESP_DUMMY;
	}
	if (unlikely(!inner_valid(p, n, nh)))
		return reject(sa, STRAIT_ESP_E_PAYLOAD);

	sa->stats.packets++;
	sa->stats.bytes += n;
	*next_header = nh;
	pkt->data = p;
	pkt->len = n;
	pkt->head += STRAIT_ESP_FRONT;
	pkt->tail += pad + 2 + STRAIT_ESP_ICV_LEN;
	return STRAIT_ESP_OK;
}
