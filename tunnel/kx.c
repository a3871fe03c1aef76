/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Key exchange and the per-tenant tunnel: ephemeral X25519 + the tenant's
 * PSK, HKDF-SHA256 into one SA per direction, SPIs chosen by the receiver,
 * key confirmation, replay-proof initiations, rekey and retirement.
 * The message format is specified in include/strait/tunnel.h.
 *
 *   initiator                                  responder
 *   INIT {SPI_i, ts, E_i, mac}        ---->    mac, ts > last ts, then X25519
 *   (INITIAL_CONTACT when the sender holds no SA: once the handshake it
 *   came with completes, the receiver drops its older pairs with the peer
 *   and reports the tunnel down, then up again)
 *                                     <----    RESP {SPI_i, SPI_r, E_r, confirm_r, mac}
 *   mac, X25519, confirm_r: use SAs
 *   CONFIRM {SPI_i, SPI_r, confirm_i} ---->    confirm_i: use SAs
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

#include "strait/tunnel.h"
#include "tunnel_internal.h"

enum {
	MAC_LEN = 32,
	PUB_LEN = 32,
	CONFIRM_LEN = 32,
	RESP_TH_LEN = 52,       /* RESP bytes hashed into the transcript */
	RETIRING = 2,           /* inbound SAs kept for frames in flight */
	DEFAULT_RETIRE_NS = 5000000000u,
	DEFAULT_RETRY_NS = 1000000000u,
};

#define DEFAULT_MAX_SKEW_NS UINT64_C(120000000000) /* 120 s */

static const char label_v1[] = "strait kx v1";

struct pending_init {           /* we initiated */
	bool active;
	EVP_PKEY *eph;
	uint32_t spi_i;
	uint64_t sent_ns;
	uint8_t init[STRAIT_KX_INIT_LEN];
};

struct pending_resp {           /* we responded, awaiting confirmation */
	bool active;
	uint32_t spi_i, spi_r;
	uint64_t since_ns;      /* when we answered */
	uint8_t confirm_i[CONFIRM_LEN];
	struct strait_esp_sa *out, *in;
	bool peer_restarted;    /* the INIT said INITIAL_CONTACT while we held a pair */
};

struct strait_tunnel {
	struct strait_tunnel_config cfg;
	uint8_t k_mac[MAC_LEN];
	struct strait_esp_sa *out, *in;   /* the confirmed pair */
	/* Inbound SAs the peer may still seal with, each kept retire_ns:
	 * the pair a rekey replaced, and a pair we answered that a newer
	 * initiation of ours overtook (the peer uses it until our CONFIRM). */
	struct retiring {
		struct strait_esp_sa *sa;
		uint64_t deadline;
	} old[RETIRING];
	struct pending_init pi;
	struct pending_resp pr;
	uint64_t last_ts_rx, last_ts_tx;
	bool resumed; /* cfg.resumed, until the first pair is installed */
	/* dead-peer detection (strait_tunnel_poll) */
	bool up;
	bool restarted;                   /* the peer lost our SAs: EV_DOWN due */
	uint64_t last_rx_ns, last_tx_ns;
	struct strait_tunnel_stats stats;
};

static const char *const kx_names[STRAIT_KX_STATUS_MAX] = {
	[STRAIT_KX_OK] = "ok",
	[STRAIT_KX_E_MALFORMED] = "malformed",
	[STRAIT_KX_E_TENANT] = "tenant",
	[STRAIT_KX_E_MAC] = "mac",
	[STRAIT_KX_E_REPLAY] = "replay",
	[STRAIT_KX_E_STALE] = "stale",
	[STRAIT_KX_E_TIEBREAK] = "tiebreak",
	[STRAIT_KX_E_UNEXPECTED] = "unexpected",
	[STRAIT_KX_E_CONFIRM] = "confirm",
	[STRAIT_KX_E_CRYPTO] = "crypto",
};

const char *strait_kx_status_name(enum strait_kx_status s)
{
	if ((unsigned)s >= STRAIT_KX_STATUS_MAX)
		return "invalid";
	return kx_names[s];
}

/* ------------------------------------------------------------ primitives */

static int hkdf(int mode, const uint8_t *salt, size_t salt_len, const uint8_t *key,
		size_t key_len, const char *info, uint8_t *out, size_t out_len)
{
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	EVP_KDF_CTX *ctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	OSSL_PARAM params[6], *p = params;
	int ok = 0;

	EVP_KDF_free(kdf);
	if (!ctx)
		return -EIO;
	*p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
	*p++ = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)key, key_len);
	if (salt)
		*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, salt_len);
	if (info)
		*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info,
							 strlen(info));
	*p = OSSL_PARAM_construct_end();
	ok = EVP_KDF_derive(ctx, out, out_len, params);
	EVP_KDF_CTX_free(ctx);
	return ok == 1 ? 0 : -EIO;
}

static int expand(const uint8_t prk[32], const char *info, uint8_t *out, size_t n)
{
	return hkdf(EVP_KDF_HKDF_MODE_EXPAND_ONLY, NULL, 0, prk, 32, info, out, n);
}

static int hmac(const uint8_t key[MAC_LEN], const uint8_t *msg, size_t n, uint8_t out[MAC_LEN])
{
	size_t len = 0;

	if (!EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, MAC_LEN, msg, n, out,
		       MAC_LEN, &len) || len != MAC_LEN)
		return -EIO;
	return 0;
}

static EVP_PKEY *x25519_keygen(uint8_t pub[PUB_LEN])
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
	size_t len = PUB_LEN;

	if (k && (EVP_PKEY_get_raw_public_key(k, pub, &len) != 1 || len != PUB_LEN)) {
		EVP_PKEY_free(k);
		return NULL;
	}
	return k;
}

/* Fails on a low-order peer key (OpenSSL refuses an all-zero secret). */
static int x25519(EVP_PKEY *priv, const uint8_t peer_pub[PUB_LEN], uint8_t out[32])
{
	EVP_PKEY *peer = EVP_PKEY_new_raw_public_key_ex(NULL, "X25519", NULL, peer_pub, PUB_LEN);
	EVP_PKEY_CTX *ctx = peer ? EVP_PKEY_CTX_new_from_pkey(NULL, priv, NULL) : NULL;
	size_t len = 32;
	int ok = ctx && EVP_PKEY_derive_init(ctx) == 1 && EVP_PKEY_derive_set_peer(ctx, peer) == 1 &&
		 EVP_PKEY_derive(ctx, out, &len) == 1 && len == 32;

	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(peer);
	return ok ? 0 : -EIO;
}

/* ------------------------------------------------------------ key schedule */

struct keys {
	uint8_t i2r[STRAIT_ESP_KEYMAT_LEN], r2i[STRAIT_ESP_KEYMAT_LEN];
	uint8_t confirm_i[CONFIRM_LEN], confirm_r[CONFIRM_LEN];
};

static int derive(const struct strait_tunnel *t, const uint8_t dh[32],
		  const uint8_t *init, const uint8_t *resp, struct keys *k)
{
	uint8_t th[32], ikm[32 + STRAIT_KX_PSK_LEN], prk[32];
	unsigned int th_len = 0;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int rc = -EIO;

	if (!md)
		return -ENOMEM;
	if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(md, label_v1, strlen(label_v1)) != 1 ||
	    EVP_DigestUpdate(md, init, STRAIT_KX_INIT_LEN) != 1 ||
	    EVP_DigestUpdate(md, resp, RESP_TH_LEN) != 1 ||
	    EVP_DigestFinal_ex(md, th, &th_len) != 1)
		goto out;
	memcpy(ikm, dh, 32);
	memcpy(ikm + 32, t->cfg.psk, STRAIT_KX_PSK_LEN);
	if (hkdf(EVP_KDF_HKDF_MODE_EXTRACT_ONLY, th, sizeof(th), ikm, sizeof(ikm), NULL,
		 prk, sizeof(prk)) ||
	    expand(prk, "strait esp i->r", k->i2r, sizeof(k->i2r)) ||
	    expand(prk, "strait esp r->i", k->r2i, sizeof(k->r2i)) ||
	    expand(prk, "strait kx i confirm", k->confirm_i, sizeof(k->confirm_i)) ||
	    expand(prk, "strait kx r confirm", k->confirm_r, sizeof(k->confirm_r)))
		goto out;
	rc = 0;
out:
	OPENSSL_cleanse(ikm, sizeof(ikm));
	OPENSSL_cleanse(prk, sizeof(prk));
	EVP_MD_CTX_free(md);
	return rc;
}

static struct strait_esp_sa *make_sa(const struct strait_tunnel *t, enum strait_esp_dir dir,
				     uint32_t spi, const uint8_t *keymat, uint64_t now_ns)
{
	struct strait_esp_sa_config c = {
		.dir = dir, .spi = spi, .soft = t->cfg.soft, .hard = t->cfg.hard, .now_ns = now_ns,
	};
	struct strait_esp_sa *sa;

	memcpy(c.keymat, keymat, sizeof(c.keymat));
	sa = strait_esp_sa_create(&c);
	OPENSSL_cleanse(c.keymat, sizeof(c.keymat));
	if (sa)
		sa_log_emit(&t->cfg.sa_log, dir, spi, keymat);
	return sa;
}

/* ------------------------------------------------------------ state */

static struct strait_esp_sa *retiring_sa(const struct strait_tunnel *t, uint32_t spi)
{
	for (int i = 0; i < RETIRING; i++)
		if (t->old[i].sa && strait_esp_sa_spi(t->old[i].sa) == spi)
			return t->old[i].sa;
	return NULL;
}

static bool spi_in_use(const struct strait_tunnel *t, uint32_t spi)
{
	return (t->in && strait_esp_sa_spi(t->in) == spi) || retiring_sa(t, spi) ||
	       (t->pr.active && t->pr.spi_r == spi) || (t->pi.active && t->pi.spi_i == spi);
}

/* Keeps sa opening frames for retire_ns; with every slot taken, the one
 * closest to its end goes first. */
static void retire(struct strait_tunnel *t, struct strait_esp_sa *sa, uint64_t now_ns)
{
	int k = 0;
	if (!sa)
		return;
	for (int i = 1; i < RETIRING; i++)
		if (!t->old[i].sa || (t->old[k].sa && t->old[i].deadline < t->old[k].deadline))
			k = i;
	if (t->old[k].sa) {
		strait_esp_sa_free(t->old[k].sa);
		t->stats.retired++;
	}
	t->old[k].sa = sa;
	t->old[k].deadline = now_ns + t->cfg.retire_ns;
}

static void free_retiring(struct strait_tunnel *t)
{
	for (int i = 0; i < RETIRING; i++) {
		strait_esp_sa_free(t->old[i].sa);
		t->old[i].sa = NULL;
	}
}

static uint32_t choose_spi(const struct strait_tunnel *t)
{
	for (int tries = 0; tries < 64; tries++) {
		uint32_t spi;
		if (t->cfg.choose_spi) {
			spi = t->cfg.choose_spi(t->cfg.choose_spi_arg);
		} else {
			uint8_t b[4];
			if (RAND_bytes(b, sizeof(b)) != 1)
				return 0;
			spi = get_be32(b);
		}
		if (spi >= STRAIT_ESP_SPI_MIN && !spi_in_use(t, spi))
			return spi;
	}
	return 0;
}

static void drop_pending_init(struct strait_tunnel *t)
{
	EVP_PKEY_free(t->pi.eph);
	memset(&t->pi, 0, sizeof(t->pi));
}

static void drop_pending_resp(struct strait_tunnel *t)
{
	strait_esp_sa_free(t->pr.out);
	strait_esp_sa_free(t->pr.in);
	OPENSSL_cleanse(&t->pr, sizeof(t->pr));
}

/* A pair we answered gives way to a newer one before it was confirmed. The
 * peer may have installed it already (our RESP reached it) and seal with
 * it until it learns of the newer pair: its inbound SA retires like a
 * replaced one, never promoted. We never sealed with its outbound SA. */
static void retire_pending_resp(struct strait_tunnel *t, uint64_t now_ns)
{
	retire(t, t->pr.in, now_ns);
	t->pr.in = NULL;
	drop_pending_resp(t);
}

/* The peer has no state for us (its RESP to our INIT, or the INIT of a
 * handshake that completed, says INITIAL_CONTACT: it restarted, or timed
 * us out): nothing sealed under the pairs it forgot will ever open there,
 * nor will it seal with them again, so they go now, not after retire_ns;
 * the next poll reports the tunnel down (the channel inside it is gone
 * with the peer's state) and up again on the new pair. Never on an INIT
 * alone: one the peer sent before an exchange that then completed (held
 * while its ARP resolved, reordered) reaches us after the pair it made,
 * and must not tear it down; the peer refuses our RESP to it. */
static void peer_lost(struct strait_tunnel *t)
{
	strait_esp_sa_free(t->out);
	strait_esp_sa_free(t->in);
	t->out = t->in = NULL;
	free_retiring(t);
	t->restarted = true;
	t->stats.peer_restarts++;
}

/* The new pair becomes current; the old inbound SA keeps opening frames in
 * flight until retire_ns has passed. */
static void install(struct strait_tunnel *t, struct strait_esp_sa *out, struct strait_esp_sa *in,
		    uint64_t now_ns)
{
	retire(t, t->in, now_ns);
	strait_esp_sa_free(t->out);
	t->out = out;
	t->in = in;
	t->resumed = false;
	t->stats.handshakes++;
}

struct strait_tunnel *strait_tunnel_create(const struct strait_tunnel_config *cfg, uint64_t now_ns)
{
	struct strait_tunnel *t;

	(void)now_ns;
	if (cfg->local_id == cfg->peer_id) {
		errno = EINVAL;
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (!t) {
		errno = ENOMEM;
		return NULL;
	}
	t->cfg = *cfg;
	t->resumed = cfg->resumed;
	if (!t->cfg.retire_ns)
		t->cfg.retire_ns = DEFAULT_RETIRE_NS;
	if (!t->cfg.retry_ns)
		t->cfg.retry_ns = DEFAULT_RETRY_NS;
	if (!t->cfg.max_skew_ns)
		t->cfg.max_skew_ns = DEFAULT_MAX_SKEW_NS;
	if (hkdf(EVP_KDF_HKDF_MODE_EXTRACT_AND_EXPAND, (const uint8_t *)label_v1, strlen(label_v1),
		 cfg->psk, STRAIT_KX_PSK_LEN, "strait kx mac", t->k_mac, sizeof(t->k_mac))) {
		OPENSSL_cleanse(t, sizeof(*t));
		free(t);
		errno = EIO;
		return NULL;
	}
	return t;
}

void strait_tunnel_reset(struct strait_tunnel *t)
{
	drop_pending_init(t);
	drop_pending_resp(t);
	strait_esp_sa_free(t->out);
	strait_esp_sa_free(t->in);
	free_retiring(t);
	t->out = t->in = NULL;
	t->stats.resets++;
}

uint32_t strait_kx_peek_tenant(const uint8_t *msg, size_t len)
{
	return len >= STRAIT_KX_HDR_LEN ? get_be32(msg + 4) : 0;
}

void strait_tunnel_free(struct strait_tunnel *t)
{
	if (!t)
		return;
	drop_pending_init(t);
	drop_pending_resp(t);
	strait_esp_sa_free(t->out);
	strait_esp_sa_free(t->in);
	free_retiring(t);
	OPENSSL_cleanse(t, sizeof(*t));
	free(t);
}

static void put_hdr(const struct strait_tunnel *t, uint8_t *m, uint8_t type)
{
	m[0] = type;
	m[1] = STRAIT_KX_VERSION;
	m[2] = m[3] = 0;
	put_be32(m + 4, t->cfg.tenant_id);
	put_be32(m + 8, t->cfg.local_id);
}

int strait_tunnel_initiate(struct strait_tunnel *t, uint64_t now_ns, uint8_t *out, size_t cap)
{
	uint8_t *m = t->pi.init;
	uint64_t ts;

	if (cap < STRAIT_KX_INIT_LEN)
		return -ENOSPC;
	drop_pending_init(t);
	t->pi.spi_i = choose_spi(t);
	if (!t->pi.spi_i)
		return -EIO;
	t->pi.eph = x25519_keygen(m + 24);
	if (!t->pi.eph)
		return -EIO;
	ts = now_ns > t->last_ts_tx ? now_ns : t->last_ts_tx + 1;
	t->last_ts_tx = ts;
	put_hdr(t, m, STRAIT_KX_INIT);
	m[2] = t->out || t->resumed ? 0 : STRAIT_KX_F_INITIAL_CONTACT;
	put_be32(m + 12, t->pi.spi_i);
	put_be64(m + 16, ts);
	if (hmac(t->k_mac, m, 56, m + 56)) {
		drop_pending_init(t);
		return -EIO;
	}
	t->pi.active = true;
	t->pi.sent_ns = now_ns;
	t->stats.kx_tx[STRAIT_KX_INIT]++;
	if (t->out)
		t->stats.rekeys_started++;
	memcpy(out, m, STRAIT_KX_INIT_LEN);
	return STRAIT_KX_INIT_LEN;
}

static enum strait_kx_status on_init(struct strait_tunnel *t, uint64_t now_ns, const uint8_t *m,
				     uint8_t *out, size_t *out_len)
{
	uint64_t ts = get_be64(m + 16);
	uint8_t dh[32];
	struct keys k;
	EVP_PKEY *eph;
	uint32_t spi_r;
	struct strait_esp_sa *sa_out, *sa_in;
	enum strait_kx_status st = STRAIT_KX_E_CRYPTO;
	bool fresh = !t->out && !t->resumed; /* we hold no pair with the peer */

	if (ts <= t->last_ts_rx)
		return STRAIT_KX_E_REPLAY;     /* before any X25519 work */
	if (ts > now_ns + t->cfg.max_skew_ns || now_ns > ts + t->cfg.max_skew_ns)
		return STRAIT_KX_E_STALE;      /* likewise */
	/* Used up even when the tie-break refuses it: else a captured INIT
	 * (INITIAL_CONTACT set, at start) replayed later would pass. */
	t->last_ts_rx = ts;
	if (t->pi.active) {
		/* Both sides initiated: the lower node id's INIT wins. */
		if (t->cfg.local_id < t->cfg.peer_id)
			return STRAIT_KX_E_TIEBREAK;
		drop_pending_init(t);
	}

	spi_r = choose_spi(t);
	put_hdr(t, out, STRAIT_KX_RESP);
	out[2] = fresh ? STRAIT_KX_F_INITIAL_CONTACT : 0;
	put_be32(out + 12, get_be32(m + 12));
	put_be32(out + 16, spi_r);
	eph = x25519_keygen(out + 20);
	if (!spi_r || !eph)
		goto err;
	t->stats.kx_dh++;
	if (x25519(eph, m + 24, dh) || derive(t, dh, m, out, &k))
		goto err;
	memcpy(out + 52, k.confirm_r, CONFIRM_LEN);
	if (hmac(t->k_mac, out, 84, out + 84))
		goto err;
	sa_in = make_sa(t, STRAIT_ESP_INBOUND, spi_r, k.i2r, now_ns);
	sa_out = make_sa(t, STRAIT_ESP_OUTBOUND, get_be32(m + 12), k.r2i, now_ns);
	if (!sa_in || !sa_out) {
		strait_esp_sa_free(sa_in);
		strait_esp_sa_free(sa_out);
		goto err;
	}
	retire_pending_resp(t, now_ns); /* an earlier INIT's: the peer may hold it */
	t->pr.active = true;
	t->pr.peer_restarted = (m[2] & STRAIT_KX_F_INITIAL_CONTACT) && t->out;
	t->pr.spi_i = get_be32(m + 12);
	t->pr.spi_r = spi_r;
	t->pr.since_ns = now_ns;
	memcpy(t->pr.confirm_i, k.confirm_i, CONFIRM_LEN);
	t->pr.in = sa_in;
	t->pr.out = sa_out;
	*out_len = STRAIT_KX_RESP_LEN;
	t->stats.kx_tx[STRAIT_KX_RESP]++;
	st = STRAIT_KX_OK;
err:
	EVP_PKEY_free(eph);
	OPENSSL_cleanse(dh, sizeof(dh));
	OPENSSL_cleanse(&k, sizeof(k));
	return st;
}

static enum strait_kx_status on_resp(struct strait_tunnel *t, uint64_t now_ns, const uint8_t *m,
				     uint8_t *out, size_t *out_len)
{
	uint32_t spi_r = get_be32(m + 16);
	uint8_t dh[32];
	struct keys k;
	struct strait_esp_sa *sa_out = NULL, *sa_in = NULL;
	enum strait_kx_status st = STRAIT_KX_E_CRYPTO;

	if (!t->pi.active || get_be32(m + 12) != t->pi.spi_i)
		return STRAIT_KX_E_UNEXPECTED;
	t->stats.kx_dh++;
	if (x25519(t->pi.eph, m + 20, dh) || derive(t, dh, t->pi.init, m, &k))
		goto out;
	if (CRYPTO_memcmp(k.confirm_r, m + 52, CONFIRM_LEN)) {
		st = STRAIT_KX_E_CONFIRM;
		goto out;
	}
	sa_out = make_sa(t, STRAIT_ESP_OUTBOUND, spi_r, k.i2r, now_ns);
	sa_in = make_sa(t, STRAIT_ESP_INBOUND, t->pi.spi_i, k.r2i, now_ns);
	if (!sa_out || !sa_in) {
		strait_esp_sa_free(sa_out);
		strait_esp_sa_free(sa_in);
		goto out;
	}
	put_hdr(t, out, STRAIT_KX_CONFIRM);
	put_be32(out + 12, t->pi.spi_i);
	put_be32(out + 16, spi_r);
	memcpy(out + 20, k.confirm_i, CONFIRM_LEN);
	if (hmac(t->k_mac, out, 52, out + 52)) {
		strait_esp_sa_free(sa_out);
		strait_esp_sa_free(sa_in);
		goto out;
	}
	drop_pending_init(t);
	if ((m[2] & STRAIT_KX_F_INITIAL_CONTACT) && t->out) {
		peer_lost(t);
		drop_pending_resp(t);
	}
	/* A pair we answered earlier and that is still unconfirmed is older
	 * than this one: promoting it later (by its CONFIRM or a frame) would
	 * put it back over the pair the peer ends on. It only retires: the
	 * peer may seal with it until our CONFIRM reaches it. */
	retire_pending_resp(t, now_ns);
	install(t, sa_out, sa_in, now_ns);
	*out_len = STRAIT_KX_CONFIRM_LEN;
	t->stats.kx_tx[STRAIT_KX_CONFIRM]++;
	st = STRAIT_KX_OK;
out:
	OPENSSL_cleanse(dh, sizeof(dh));
	OPENSSL_cleanse(&k, sizeof(k));
	return st;
}

static void promote_pending(struct strait_tunnel *t, uint64_t now_ns)
{
	if (t->pr.peer_restarted)
		peer_lost(t);
	install(t, t->pr.out, t->pr.in, now_ns);
	t->pr.out = t->pr.in = NULL;
	drop_pending_resp(t);
}

static enum strait_kx_status on_confirm(struct strait_tunnel *t, uint64_t now_ns, const uint8_t *m)
{
	if (!t->pr.active || get_be32(m + 12) != t->pr.spi_i || get_be32(m + 16) != t->pr.spi_r)
		return STRAIT_KX_E_UNEXPECTED;
	if (CRYPTO_memcmp(t->pr.confirm_i, m + 20, CONFIRM_LEN))
		return STRAIT_KX_E_CONFIRM;
	promote_pending(t, now_ns);
	return STRAIT_KX_OK;
}

static enum strait_kx_status handshake(struct strait_tunnel *t, uint64_t now_ns,
				       const uint8_t *m, size_t len, uint8_t *out, size_t cap,
				       size_t *out_len)
{
	size_t want, mac_at;
	uint8_t mac[MAC_LEN];

	if (len < STRAIT_KX_HDR_LEN || m[1] != STRAIT_KX_VERSION || m[3] ||
	    (m[2] & ~STRAIT_KX_F_INITIAL_CONTACT) || (m[2] && m[0] == STRAIT_KX_CONFIRM))
		return STRAIT_KX_E_MALFORMED;
	switch (m[0]) {
	case STRAIT_KX_INIT:
		want = STRAIT_KX_INIT_LEN;
		break;
	case STRAIT_KX_RESP:
		want = STRAIT_KX_RESP_LEN;
		break;
	case STRAIT_KX_CONFIRM:
		want = STRAIT_KX_CONFIRM_LEN;
		break;
	default:
		return STRAIT_KX_E_MALFORMED;
	}
	if (len != want)
		return STRAIT_KX_E_MALFORMED;
	if (get_be32(m + 4) != t->cfg.tenant_id || get_be32(m + 8) != t->cfg.peer_id)
		return STRAIT_KX_E_TENANT;
	mac_at = want - MAC_LEN;
	if (hmac(t->k_mac, m, mac_at, mac))
		return STRAIT_KX_E_CRYPTO;
	if (CRYPTO_memcmp(mac, m + mac_at, MAC_LEN))
		return STRAIT_KX_E_MAC;
	/* Authentic from here on (the sender knows the PSK). */
	if (m[0] == STRAIT_KX_INIT && get_be32(m + 12) < STRAIT_ESP_SPI_MIN)
		return STRAIT_KX_E_MALFORMED;
	if (m[0] == STRAIT_KX_RESP && get_be32(m + 16) < STRAIT_ESP_SPI_MIN)
		return STRAIT_KX_E_MALFORMED;
	if (m[0] != STRAIT_KX_CONFIRM && cap < STRAIT_KX_MAX_LEN)
		return STRAIT_KX_E_CRYPTO;
	switch (m[0]) {
	case STRAIT_KX_INIT:
		return on_init(t, now_ns, m, out, out_len);
	case STRAIT_KX_RESP:
		return on_resp(t, now_ns, m, out, out_len);
	default:
		return on_confirm(t, now_ns, m);
	}
}

enum strait_kx_status strait_tunnel_handshake(struct strait_tunnel *t, uint64_t now_ns,
					      const uint8_t *msg, size_t len,
					      uint8_t *out, size_t cap, size_t *out_len)
{
	enum strait_kx_status s;

	*out_len = 0;
	s = handshake(t, now_ns, msg, len, out, cap, out_len);
	t->stats.kx_rx[s]++;
	if (s == STRAIT_KX_OK)
		t->last_rx_ns = now_ns;  /* authentic: the mac verified, and fresh */
	return s;
}

/* A response the peer has not confirmed within retry_ns may never be: its
 * CONFIRM was lost and the initiator has no data to send (it already uses
 * the new pair, and retires the old one we still seal with), or it had
 * dropped its initiation. Either way, a handshake of ours settles it. */
static bool awaiting_confirm(const struct strait_tunnel *t, uint64_t now_ns)
{
	return now_ns >= t->pr.since_ns && now_ns - t->pr.since_ns < t->cfg.retry_ns;
}

int strait_tunnel_tick(struct strait_tunnel *t, uint64_t now_ns, uint8_t *out, size_t cap)
{
	for (int i = 0; i < RETIRING; i++)
		if (t->old[i].sa && now_ns >= t->old[i].deadline) {
			strait_esp_sa_free(t->old[i].sa);
			t->old[i].sa = NULL;
			t->stats.retired++;
		}
	if (t->pi.active) {
		if (now_ns >= t->pi.sent_ns + t->cfg.retry_ns || now_ns < t->pi.sent_ns)
			return strait_tunnel_initiate(t, now_ns, out, cap);
		return 0;
	}
	if (t->pr.active)
		return awaiting_confirm(t, now_ns) ? 0 : strait_tunnel_initiate(t, now_ns, out, cap);
	if (!t->out)
		return strait_tunnel_initiate(t, now_ns, out, cap);
	if (strait_esp_sa_soft_expired(t->out, now_ns) || strait_esp_sa_soft_expired(t->in, now_ns))
		return strait_tunnel_initiate(t, now_ns, out, cap);
	return 0;
}

unsigned strait_tunnel_poll(struct strait_tunnel *t, uint64_t now_ns, uint8_t *out, size_t cap,
			    size_t *out_len)
{
	unsigned ev = 0;
	int n;

	*out_len = 0;
	if (t->restarted) {
		t->restarted = false;
		if (t->up) {
			t->up = false;
			ev |= STRAIT_TUNNEL_EV_DOWN;
		}
	}
	if (t->up && t->cfg.peer_timeout_ns && now_ns - t->last_rx_ns >= t->cfg.peer_timeout_ns &&
	    now_ns >= t->last_rx_ns) {
		/* silent too long: nothing more is sealed for it, and the tick
		 * below starts a handshake (again every retry_ns) */
		strait_tunnel_reset(t);
		t->up = false;
		t->stats.peer_downs++;
		ev |= STRAIT_TUNNEL_EV_DOWN;
	}
	n = strait_tunnel_tick(t, now_ns, out, cap);
	if (n > 0) {
		*out_len = (size_t)n;
		ev |= STRAIT_TUNNEL_EV_INIT;
	}
	if (!t->up && t->out) {
		t->up = true;
		t->last_rx_ns = now_ns;  /* the handshake that made t->out */
		t->last_tx_ns = now_ns;
		ev |= STRAIT_TUNNEL_EV_UP;
	}
	if (t->up && t->cfg.keepalive_ns && now_ns - t->last_tx_ns >= t->cfg.keepalive_ns &&
	    now_ns >= t->last_tx_ns) {
		t->last_tx_ns = now_ns;  /* once per interval, sent or not */
		t->stats.keepalives++;
		ev |= STRAIT_TUNNEL_EV_KEEPALIVE;
	}
	return ev;
}

bool strait_tunnel_peer_up(const struct strait_tunnel *t)
{
	return t->up;
}

uint64_t strait_tunnel_last_rx(const struct strait_tunnel *t)
{
	return t->last_rx_ns;
}

bool strait_tunnel_ready(const struct strait_tunnel *t)
{
	return t->out != NULL;
}

enum strait_esp_status strait_tunnel_seal(struct strait_tunnel *t, struct strait_pkt *pkt,
					  uint8_t next_header, uint64_t now_ns)
{
	enum strait_esp_status s = STRAIT_ESP_E_NOSA;

	if (likely(t->out))
		s = strait_esp_seal(t->out, pkt, next_header, now_ns);
	t->stats.esp_tx[s]++;
	if (likely(s == STRAIT_ESP_OK))
		t->last_tx_ns = now_ns;
	return s;
}

enum strait_esp_status strait_tunnel_open(struct strait_tunnel *t, struct strait_pkt *pkt,
					  uint8_t *next_header, uint64_t now_ns)
{
	enum strait_esp_status s;
	struct strait_esp_sa *old;
	uint32_t spi;

	spi = strait_esp_peek_spi(pkt->data, pkt->len);
	if (unlikely(pkt->len < STRAIT_ESP_HDR_LEN)) {
		s = STRAIT_ESP_E_MALFORMED;
	} else if (likely(t->in && spi == strait_esp_sa_spi(t->in))) {
		s = strait_esp_open(t->in, pkt, next_header, now_ns);
	} else if (t->pr.active && spi == t->pr.spi_r) {
		/* Only the holder of the new keys can make this frame open:
		 * it confirms the handshake as CONFIRM would. */
		s = strait_esp_open(t->pr.in, pkt, next_header, now_ns);
		if (s == STRAIT_ESP_OK || s == STRAIT_ESP_DUMMY)
			promote_pending(t, now_ns);
	} else if ((old = retiring_sa(t, spi))) {
		s = strait_esp_open(old, pkt, next_header, now_ns);
	} else {
		s = STRAIT_ESP_E_SPI;
	}
	t->stats.esp_rx[s]++;
	if (likely(s == STRAIT_ESP_OK || s == STRAIT_ESP_DUMMY))
		t->last_rx_ns = now_ns;
	return s;
}

uint32_t strait_tunnel_spi_out(const struct strait_tunnel *t)
{
	return t->out ? strait_esp_sa_spi(t->out) : 0;
}

uint32_t strait_tunnel_spi_in(const struct strait_tunnel *t)
{
	return t->in ? strait_esp_sa_spi(t->in) : 0;
}

const struct strait_tunnel_stats *strait_tunnel_stats(const struct strait_tunnel *t)
{
	return &t->stats;
}
