/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Key exchange and the per-tenant tunnel: handshake, key confirmation,
 * per-direction keys, replayed and forged messages, rekey with frames in
 * flight, retirement, the simultaneous-initiation tie-break, and timers
 * driven by hand.
 */
#include <criterion/criterion.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

#include "strait/tunnel.h"

enum { HEAD = STRAIT_ESP_HEADROOM, BUFSZ = 2048, TENANT = 7 };
static const uint64_t SEC = 1000000000u;
static const uint64_t T0 = UINT64_C(1700000000) * 1000000000u;

static uint32_t spi_counter[4];
static uint32_t pick_spi(void *arg)
{
	int side = (int)(intptr_t)arg;
	return (uint32_t)(0x10000 * (side + 1)) + ++spi_counter[side];
}

static struct strait_tunnel *mk(uint32_t local, uint32_t peer, uint8_t psk_byte,
				struct strait_esp_lifetime soft)
{
	struct strait_tunnel_config c = {
		.tenant_id = TENANT, .local_id = local, .peer_id = peer, .soft = soft,
		.retire_ns = 3 * SEC, .retry_ns = 1 * SEC,
		.choose_spi = pick_spi, .choose_spi_arg = (void *)(intptr_t)(local - 1),
	};
	memset(c.psk, psk_byte, sizeof(c.psk));
	struct strait_tunnel *t = strait_tunnel_create(&c, T0);
	cr_assert(t);
	return t;
}

struct msg {
	uint8_t b[STRAIT_KX_MAX_LEN];
	size_t n;
};

static struct msg init_msg(struct strait_tunnel *t, uint64_t now)
{
	struct msg m;
	int n = strait_tunnel_initiate(t, now, m.b, sizeof(m.b));
	cr_assert_eq(n, STRAIT_KX_INIT_LEN);
	m.n = (size_t)n;
	return m;
}

static enum strait_kx_status deliver(struct strait_tunnel *to, uint64_t now, const struct msg *in,
				     struct msg *reply)
{
	struct msg dummy;
	if (!reply)
		reply = &dummy;
	return strait_tunnel_handshake(to, now, in->b, in->n, reply->b, sizeof(reply->b), &reply->n);
}

/* A (id 1) initiates, B (id 2) responds; all three messages delivered. */
static void handshake(struct strait_tunnel *a, struct strait_tunnel *b, uint64_t now)
{
	struct msg init = init_msg(a, now), resp, conf, none;
	cr_assert_eq(deliver(b, now, &init, &resp), STRAIT_KX_OK);
	cr_assert_eq(resp.n, STRAIT_KX_RESP_LEN);
	cr_assert_eq(deliver(a, now, &resp, &conf), STRAIT_KX_OK);
	cr_assert_eq(conf.n, STRAIT_KX_CONFIRM_LEN);
	cr_assert_eq(deliver(b, now, &conf, &none), STRAIT_KX_OK);
	cr_assert_eq(none.n, 0);
}

struct frame {
	uint8_t buf[BUFSZ];
	struct strait_pkt p;
};

static void seal(struct strait_tunnel *t, struct frame *f, uint8_t tag, uint64_t now)
{
	memset(f->buf, 0, sizeof(f->buf));
	uint8_t *p = f->buf + HEAD;
	p[0] = 0x45;
	p[3] = 60;
	p[20] = tag;
	f->p = (struct strait_pkt){.data = p, .len = 60, .head = HEAD, .tail = BUFSZ - HEAD - 60};
	cr_assert_eq(strait_tunnel_seal(t, &f->p, STRAIT_ESP_NH_IPV4, now), STRAIT_ESP_OK);
}

static enum strait_esp_status open_(struct strait_tunnel *t, struct frame *f, uint8_t tag, uint64_t now)
{
	uint8_t nh;
	enum strait_esp_status s = strait_tunnel_open(t, &f->p, &nh, now);
	if (s == STRAIT_ESP_OK) {
		cr_assert_eq(nh, 4);
		cr_assert_eq(f->p.len, 60);
		cr_assert_eq(f->p.data[20], tag);
	}
	return s;
}

static void both_ways(struct strait_tunnel *a, struct strait_tunnel *b, uint64_t now)
{
	struct frame f;
	seal(a, &f, 0xa1, now);
	cr_assert_eq(open_(b, &f, 0xa1, now), STRAIT_ESP_OK);
	seal(b, &f, 0xb1, now);
	cr_assert_eq(open_(a, &f, 0xb1, now), STRAIT_ESP_OK);
}

static const struct strait_esp_lifetime none_life;

Test(kx, handshake_receiver_chosen_spis)
{
	struct strait_tunnel *a = mk(1, 2, 0x5a, none_life), *b = mk(2, 1, 0x5a, none_life);
	cr_assert_not(strait_tunnel_ready(a));
	handshake(a, b, T0);
	cr_assert(strait_tunnel_ready(a) && strait_tunnel_ready(b));
	/* each side receives on an SPI it chose itself (A: 0x1xxxx, B: 0x2xxxx) */
	cr_assert_eq(strait_tunnel_spi_in(a) >> 16, 1);
	cr_assert_eq(strait_tunnel_spi_in(b) >> 16, 2);
	cr_assert_eq(strait_tunnel_spi_out(a), strait_tunnel_spi_in(b));
	cr_assert_eq(strait_tunnel_spi_out(b), strait_tunnel_spi_in(a));
	both_ways(a, b, T0);
	cr_assert_eq(strait_tunnel_stats(a)->kx_dh, 1);
	cr_assert_eq(strait_tunnel_stats(b)->kx_dh, 1);
	strait_tunnel_free(a);
	strait_tunnel_free(b);
}

/* Each direction has its own key and salt: a frame A sealed for B, relabelled
 * with the SPI of the B->A direction, does not open at A. (Both directions
 * start at sequence number 1: a shared key would repeat GCM nonces.) */
Test(kx, directions_have_their_own_keys)
{
	struct strait_tunnel *a = mk(1, 2, 0x5a, none_life), *b = mk(2, 1, 0x5a, none_life);
	handshake(a, b, T0);
	struct frame f;
	seal(a, &f, 1, T0);
	uint32_t spi = strait_tunnel_spi_in(a);
	f.p.data[0] = (uint8_t)(spi >> 24);
	f.p.data[1] = (uint8_t)(spi >> 16);
	f.p.data[2] = (uint8_t)(spi >> 8);
	f.p.data[3] = (uint8_t)spi;
	cr_assert_eq(open_(a, &f, 1, T0), STRAIT_ESP_E_ICV);
	strait_tunnel_free(a);
	strait_tunnel_free(b);
}

Test(kx, responder_waits_for_confirmation)
{
	struct strait_tunnel *a = mk(1, 2, 0x5a, none_life), *b = mk(2, 1, 0x5a, none_life);
	struct msg init = init_msg(a, T0), resp, conf;
	struct frame f;
	cr_assert_eq(deliver(b, T0, &init, &resp), STRAIT_KX_OK);
	cr_assert_not(strait_tunnel_ready(b), "no data SA before key confirmation");
	f.p = (struct strait_pkt){.data = f.buf + HEAD, .len = 60, .head = HEAD, .tail = 100};
	cr_assert_eq(strait_tunnel_seal(b, &f.p, 4, T0), STRAIT_ESP_E_NOSA);
	cr_assert_eq(deliver(a, T0, &resp, &conf), STRAIT_KX_OK);
	cr_assert(strait_tunnel_ready(a), "initiator: RESP confirmed the keys");
	/* a CONFIRM with a wrong confirm value (valid mac) is refused */
	struct msg bad = conf;
	bad.b[20] ^= 1;
	/* recompute nothing: the mac now fails first */
	cr_assert_eq(deliver(b, T0, &bad, NULL), STRAIT_KX_E_MAC);
	cr_assert_not(strait_tunnel_ready(b));
	cr_assert_eq(deliver(b, T0, &conf, NULL), STRAIT_KX_OK);
	cr_assert(strait_tunnel_ready(b));
	both_ways(a, b, T0);
	strait_tunnel_free(a);
	strait_tunnel_free(b);
}

/* CONFIRM lost: the first data frame under the new keys confirms them. */
Test(kx, lost_confirm_recovered_by_data)
{
	struct strait_tunnel *a = mk(1, 2, 0x5a, none_life), *b = mk(2, 1, 0x5a, none_life);
	struct msg init = init_msg(a, T0), resp, conf;
	cr_assert_eq(deliver(b, T0, &init, &resp), STRAIT_KX_OK);
	cr_assert_eq(deliver(a, T0, &resp, &conf), STRAIT_KX_OK);
	struct frame f;
	seal(a, &f, 7, T0);
	f.p.data[f.p.len - 1] ^= 1; /* a forged frame confirms nothing */
	cr_assert_eq(open_(b, &f, 7, T0), STRAIT_ESP_E_ICV);
	cr_assert_not(strait_tunnel_ready(b));
	seal(a, &f, 7, T0);
	cr_assert_eq(open_(b, &f, 7, T0), STRAIT_ESP_OK);
	cr_assert(strait_tunnel_ready(b));
	cr_assert_eq(deliver(b, T0, &conf, NULL), STRAIT_KX_E_UNEXPECTED, "late CONFIRM is harmless");
	both_ways(a, b, T0);
	strait_tunnel_free(a);
	strait_tunnel_free(b);
}

Test(kx, replayed_init_dropped_before_x25519)
{
	struct strait_tunnel *a = mk(1, 2, 0x5a, none_life), *b = mk(2, 1, 0x5a, none_life);
	struct msg init = init_msg(a, T0), resp, conf;
	cr_assert_eq(deliver(b, T0, &init, &resp), STRAIT_KX_OK);
	cr_assert_eq(deliver(a, T0, &resp, &conf), STRAIT_KX_OK);
	cr_assert_eq(deliver(b, T0, &conf, NULL), STRAIT_KX_OK);
	uint32_t in = strait_tunnel_spi_in(b), out = strait_tunnel_spi_out(b);
	uint64_t dh = strait_tunnel_stats(b)->kx_dh;

	cr_assert_eq(deliver(b, T0 + 5 * SEC, &init, &resp), STRAIT_KX_E_REPLAY);
	cr_assert_eq(resp.n, 0, "no reply");
	cr_assert_eq(strait_tunnel_stats(b)->kx_dh, dh, "no X25519 work");
	cr_assert_eq(strait_tunnel_stats(b)->kx_rx[STRAIT_KX_E_REPLAY], 1);
	cr_assert_eq(strait_tunnel_spi_in(b), in, "live SA untouched");
	cr_assert_eq(strait_tunnel_spi_out(b), out);
	both_ways(a, b, T0 + 5 * SEC);

	/* an INIT with an older timestamp than the last accepted, from the
	 * real peer (a new initiation made with a clock set back) */
	struct strait_tunnel *a2 = mk(1, 2, 0x5a, none_life);
	struct msg old = init_msg(a2, T0 - SEC);
	cr_assert_eq(deliver(b, T0 + 6 * SEC, &old, &resp), STRAIT_KX_E_REPLAY);
	cr_assert_eq(strait_tunnel_stats(b)->kx_dh, dh);
	strait_tunnel_free(a2);
	strait_tunnel_free(a);
	strait_tunnel_free(b);
}

Test(kx, bad_messages_counted_no_work)
{
	struct strait_tunnel *a = mk(1, 2, 0x5a, none_life), *b = mk(2, 1, 0x5a, none_life);
	struct strait_tunnel *wrong_psk = mk(1, 2, 0x5b, none_life);
	struct strait_tunnel *stranger = mk(3, 2, 0x5a, none_life);
	struct msg m = init_msg(a, T0), bad;

	for (size_t n = 0; n < m.n; n++) {
		bad = m;
		bad.n = n;
		cr_assert_eq(deliver(b, T0, &bad, NULL), STRAIT_KX_E_MALFORMED, "length %zu", n);
	}
	bad = m;
	bad.b[1] = 2;
	cr_assert_eq(deliver(b, T0, &bad, NULL), STRAIT_KX_E_MALFORMED, "version");
	bad = m;
	bad.b[0] = 9;
	cr_assert_eq(deliver(b, T0, &bad, NULL), STRAIT_KX_E_MALFORMED, "type");
	bad = m;
	bad.b[7] ^= 1;
	cr_assert_eq(deliver(b, T0, &bad, NULL), STRAIT_KX_E_TENANT, "tenant");
	for (size_t i = 12; i < m.n; i++) {
		bad = m;
		bad.b[i] ^= 0x10;
		cr_assert_eq(deliver(b, T0, &bad, NULL), STRAIT_KX_E_MAC, "byte %zu", i);
	}
	bad = init_msg(wrong_psk, T0);
	cr_assert_eq(deliver(b, T0, &bad, NULL), STRAIT_KX_E_MAC, "wrong PSK");
	bad = init_msg(stranger, T0);
	cr_assert_eq(deliver(b, T0, &bad, NULL), STRAIT_KX_E_TENANT, "unknown node id");
	cr_assert_eq(strait_tunnel_stats(b)->kx_dh, 0);
	cr_assert_not(strait_tunnel_ready(b));
	/* the genuine INIT still works: nothing above moved the timestamp */
	struct msg resp;
	cr_assert_eq(deliver(b, T0, &m, &resp), STRAIT_KX_OK);
	strait_tunnel_free(a);
	strait_tunnel_free(b);
	strait_tunnel_free(wrong_psk);
	strait_tunnel_free(stranger);
}

/* K_mac as tunnel.h specifies it, computed here independently, so that a
 * PSK holder's forgeries (wrong confirm, low-order key) can be made. */
static void k_mac(uint8_t psk_byte, uint8_t out[32])
{
	uint8_t psk[32];
	memset(psk, psk_byte, 32);
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	EVP_KDF_CTX *ctx = EVP_KDF_CTX_new(kdf);
	OSSL_PARAM p[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, psk, 32),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (char *)"strait kx v1", 12),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (char *)"strait kx mac", 13),
		OSSL_PARAM_construct_end(),
	};
	cr_assert_eq(EVP_KDF_derive(ctx, out, 32, p), 1);
	EVP_KDF_CTX_free(ctx);
	EVP_KDF_free(kdf);
}

static void remac(struct msg *m, uint8_t psk_byte)
{
	uint8_t k[32];
	size_t len = 0;
	k_mac(psk_byte, k);
	cr_assert(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, k, 32, m->b, m->n - 32,
			    m->b + m->n - 32, 32, &len));
}

Test(kx, psk_holder_forgeries)
{
	struct strait_tunnel *a = mk(1, 2, 0x5a, none_life), *b = mk(2, 1, 0x5a, none_life);
	struct msg init = init_msg(a, T0), resp, conf, forged;

	/* the recomputed mac of an untouched message equals the real one */
	forged = init;
	remac(&forged, 0x5a);
	cr_assert_arr_eq(forged.b, init.b, init.n, "K_mac matches the header's definition");

	/* low-order ephemeral key: refused by X25519, nothing installed */
	forged = init;
	memset(forged.b + 24, 0, 32);
	forged.b[23] ^= 1; /* newer timestamp */
	remac(&forged, 0x5a);
	cr_assert_eq(deliver(b, T0, &forged, &resp), STRAIT_KX_E_CRYPTO);
	cr_assert_eq(resp.n, 0);

	init = init_msg(a, T0 + SEC);
	cr_assert_eq(deliver(b, T0 + SEC, &init, &resp), STRAIT_KX_OK);
	/* RESP with a wrong confirm value (keys not derived): refused */
	forged = resp;
	forged.b[60] ^= 1;
	remac(&forged, 0x5a);
	cr_assert_eq(deliver(a, T0 + SEC, &forged, &conf), STRAIT_KX_E_CONFIRM);
	cr_assert_not(strait_tunnel_ready(a));
	/* RESP with a substituted ephemeral key: the confirm no longer matches */
	forged = resp;
	forged.b[30] ^= 1;
	remac(&forged, 0x5a);
	cr_assert_eq(deliver(a, T0 + SEC, &forged, &conf), STRAIT_KX_E_CONFIRM);
	cr_assert_eq(deliver(a, T0 + SEC, &resp, &conf), STRAIT_KX_OK);
	/* CONFIRM with a wrong confirm value */
	forged = conf;
	forged.b[25] ^= 1;
	remac(&forged, 0x5a);
	cr_assert_eq(deliver(b, T0 + SEC, &forged, NULL), STRAIT_KX_E_CONFIRM);
	cr_assert_not(strait_tunnel_ready(b));
	cr_assert_eq(deliver(b, T0 + SEC, &conf, NULL), STRAIT_KX_OK);
	both_ways(a, b, T0 + SEC);
	strait_tunnel_free(a);
	strait_tunnel_free(b);
}

/* Rekey: frames sealed under the old pair and still in flight open after
 * the switch; the old inbound SA is retired after retire_ns. */
Test(kx, rekey_old_sa_opens_in_flight_then_retires)
{
	struct strait_tunnel *a = mk(1, 2, 0x5a, none_life), *b = mk(2, 1, 0x5a, none_life);
	struct frame in_flight[3];
	struct msg out;
	handshake(a, b, T0);
	both_ways(a, b, T0);
	uint32_t old_a_in = strait_tunnel_spi_in(a), old_b_in = strait_tunnel_spi_in(b);
	for (int i = 0; i < 3; i++)
		seal(b, &in_flight[i], (uint8_t)(0x40 + i), T0); /* B->A, old keys */

	handshake(b, a, T0 + SEC); /* B initiates this time */
	cr_assert_neq(strait_tunnel_spi_in(a), old_a_in);
	cr_assert_neq(strait_tunnel_spi_in(b), old_b_in);
	both_ways(a, b, T0 + SEC);
	cr_assert_eq(open_(a, &in_flight[0], 0x40, T0 + SEC), STRAIT_ESP_OK, "old SA still opens");

	cr_assert_eq(strait_tunnel_tick(a, T0 + 3 * SEC, out.b, sizeof(out.b)), 0);
	cr_assert_eq(open_(a, &in_flight[1], 0x41, T0 + 3 * SEC), STRAIT_ESP_OK);
	cr_assert_eq(strait_tunnel_tick(a, T0 + 4 * SEC, out.b, sizeof(out.b)), 0);
	cr_assert_eq(strait_tunnel_stats(a)->retired, 1);
	cr_assert_eq(open_(a, &in_flight[2], 0x42, T0 + 4 * SEC), STRAIT_ESP_E_SPI, "retired");
	cr_assert_eq(strait_tunnel_stats(a)->esp_rx[STRAIT_ESP_E_SPI], 1);
	strait_tunnel_free(a);
	strait_tunnel_free(b);
}

/* Both sides start a handshake at once: the lower node id's INIT wins,
 * whichever INIT arrives first; the same for two rekeys at once, while
 * frames sealed under the old pair are still in flight. */
Test(kx, simultaneous_initiation_tie_break)
{
	for (int order = 0; order < 4; order++) {
		struct strait_tunnel *a = mk(1, 2, 0x5a, none_life), *b = mk(2, 1, 0x5a, none_life);
		struct frame old_ab, old_ba;
		uint64_t now = T0;
		if (order >= 2) {
			handshake(a, b, T0);
			seal(a, &old_ab, 0x0a, T0);
			seal(b, &old_ba, 0x0b, T0);
			now = T0 + SEC;
		}
		struct msg ia = init_msg(a, now), ib = init_msg(b, now), ra, rb, conf;
		if (order % 2 == 0) {
			cr_assert_eq(deliver(a, now, &ib, &rb), STRAIT_KX_E_TIEBREAK);
			cr_assert_eq(deliver(b, now, &ia, &ra), STRAIT_KX_OK);
		} else {
			cr_assert_eq(deliver(b, now, &ia, &ra), STRAIT_KX_OK);
			cr_assert_eq(deliver(a, now, &ib, &rb), STRAIT_KX_E_TIEBREAK);
		}
		cr_assert_eq(rb.n, 0);
		cr_assert_eq(deliver(a, now, &ra, &conf), STRAIT_KX_OK);
		cr_assert_eq(deliver(b, now, &conf, NULL), STRAIT_KX_OK);
		both_ways(a, b, now);
		if (order >= 2) {
			cr_assert_eq(open_(b, &old_ab, 0x0a, now), STRAIT_ESP_OK, "in flight A->B");
			cr_assert_eq(open_(a, &old_ba, 0x0b, now), STRAIT_ESP_OK, "in flight B->A");
		}
		cr_assert_eq(strait_tunnel_stats(a)->handshakes, order >= 2 ? 2 : 1);
		cr_assert_eq(strait_tunnel_stats(b)->handshakes, order >= 2 ? 2 : 1);
		strait_tunnel_free(a);
		strait_tunnel_free(b);
	}
}

/* A newer pair installed as initiator supersedes an older pair still
 * awaiting confirmation as responder. B starts a rekey (hs1): A answers and
 * waits for CONFIRM_1. Before it arrives, A's owner starts another rekey
 * (hs2), which completes on A's side first. A frame B sealed under hs1, or
 * the late CONFIRM_1, must not put hs1 back over hs2 at A: B ends on hs2,
 * so the two sides would hold different pairs and the tunnel would die
 * once the retiring SAs expire. (The hs1 frame is lost: E_SPI.) */
Test(kx, newer_pair_supersedes_pending_response)
{
	struct strait_tunnel *a = mk(1, 2, 0x5a, none_life), *b = mk(2, 1, 0x5a, none_life);
	struct msg i1, r1, c1, i2, r2, c2;
	struct frame f;
	handshake(a, b, T0);
	const uint64_t now = T0 + SEC;

	i1 = init_msg(b, now);
	cr_assert_eq(deliver(a, now, &i1, &r1), STRAIT_KX_OK);
	cr_assert_eq(deliver(b, now, &r1, &c1), STRAIT_KX_OK); /* B now seals with hs1 */
	i2 = init_msg(a, now + 1);
	cr_assert_eq(deliver(b, now + 1, &i2, &r2), STRAIT_KX_OK);
	cr_assert_eq(deliver(a, now + 1, &r2, &c2), STRAIT_KX_OK); /* A now on hs2 */

	/* B seals with hs1 until C2 reaches it: A opens those frames (they
	 * are not lost in the race) but hs1 never comes back as A's pair */
	uint32_t a_in = strait_tunnel_spi_in(a);
	struct frame late;
	seal(b, &f, 0x11, now + 1);
	seal(b, &late, 0x13, now + 1); /* held back until hs1 has retired */
	cr_assert_eq(open_(a, &f, 0x11, now + 1), STRAIT_ESP_OK, "in flight under hs1");
	cr_assert_eq(strait_tunnel_spi_in(a), a_in, "hs1 must not come back");
	cr_assert_eq(deliver(a, now + 1, &c1, NULL), STRAIT_KX_E_UNEXPECTED, "late CONFIRM_1");
	cr_assert_eq(deliver(b, now + 1, &c2, NULL), STRAIT_KX_OK);
	cr_assert_eq(strait_tunnel_spi_out(a), strait_tunnel_spi_in(b), "A->B pair matches");
	cr_assert_eq(strait_tunnel_spi_out(b), strait_tunnel_spi_in(a), "B->A pair matches");

	struct msg none;
	const uint64_t later = now + 10 * SEC; /* every retiring SA is gone */
	cr_assert_eq(strait_tunnel_tick(a, later, none.b, sizeof(none.b)), 0);
	cr_assert_eq(strait_tunnel_tick(b, later, none.b, sizeof(none.b)), 0);
	both_ways(a, b, later);
	cr_assert_eq(open_(a, &late, 0x13, later), STRAIT_ESP_E_SPI, "hs1 retired after retire_ns");
	strait_tunnel_free(a);
	strait_tunnel_free(b);
}

/* A newer INIT replaces a pair we answered that its initiator may already
 * use (our RESP reached it, its CONFIRM did not reach us, and it started
 * another rekey): frames it seals under that pair still open here until
 * the newer pair is confirmed, and the replaced pair is never promoted. */
Test(kx, newer_init_retires_answered_pair)
{
	struct strait_tunnel *a = mk(1, 2, 0x5a, none_life), *b = mk(2, 1, 0x5a, none_life);
	struct msg i1, r1, c1, i2, r2, c2;
	struct frame f;
	handshake(a, b, T0);
	const uint64_t now = T0 + SEC;
	uint32_t b_in = strait_tunnel_spi_in(b);
	i1 = init_msg(a, now);
	cr_assert_eq(deliver(b, now, &i1, &r1), STRAIT_KX_OK);
	cr_assert_eq(deliver(a, now, &r1, &c1), STRAIT_KX_OK); /* C1 lost; A seals with pair 1 */
	seal(a, &f, 0x21, now);
	i2 = init_msg(a, now + 1);
	cr_assert_eq(deliver(b, now + 1, &i2, &r2), STRAIT_KX_OK); /* pair 1 retires at B */
	cr_assert_eq(open_(b, &f, 0x21, now + 1), STRAIT_ESP_OK, "in flight under pair 1");
	cr_assert_eq(strait_tunnel_spi_in(b), b_in, "pair 1 never promoted");
	cr_assert_eq(deliver(b, now + 1, &c1, NULL), STRAIT_KX_E_UNEXPECTED);
	cr_assert_eq(deliver(a, now + 1, &r2, &c2), STRAIT_KX_OK);
	cr_assert_eq(deliver(b, now + 1, &c2, NULL), STRAIT_KX_OK);
	both_ways(a, b, now + 1);
	strait_tunnel_free(a);
	strait_tunnel_free(b);
}

/* A response the peer never confirms must not stop this side from ever
 * rekeying. Traffic flows only B->A; A's inbound SA passes its soft limit
 * and A rekeys; A installs the new pair, but its CONFIRM is lost and A has
 * no data to send, so B is left holding an unconfirmed response and keeps
 * sealing under the old pair, which A retires after retire_ns: B->A would
 * be dead for good (A's new SAs see no traffic, so they never expire).
 * Once the response is older than retry_ns, B's own soft limit must make
 * B start a rekey. */
Test(kx, unconfirmed_response_does_not_block_rekey)
{
	struct strait_esp_lifetime soft = {.packets = 3};
	struct strait_tunnel *a = mk(1, 2, 0x5a, soft), *b = mk(2, 1, 0x5a, soft);
	struct msg init, resp, lost, m, r, c;
	struct frame f;
	handshake(a, b, T0);
	for (int i = 0; i < 3; i++) {
		seal(b, &f, 1, T0);
		cr_assert_eq(open_(a, &f, 1, T0), STRAIT_ESP_OK);
	}
	int n = strait_tunnel_tick(a, T0, init.b, sizeof(init.b));
	cr_assert_eq(n, STRAIT_KX_INIT_LEN, "A's inbound SA is past its soft limit");
	init.n = (size_t)n;
	cr_assert_eq(deliver(b, T0, &init, &resp), STRAIT_KX_OK);
	cr_assert_eq(deliver(a, T0, &resp, &lost), STRAIT_KX_OK); /* CONFIRM lost */

	seal(b, &f, 2, T0 + SEC / 2);
	cr_assert_eq(open_(a, &f, 2, T0 + SEC / 2), STRAIT_ESP_OK, "old pair, in flight");
	cr_assert_eq(strait_tunnel_tick(b, T0 + SEC / 2, m.b, sizeof(m.b)), 0,
		     "the response is fresh: A may still confirm it");
	n = strait_tunnel_tick(b, T0 + 2 * SEC, m.b, sizeof(m.b));
	cr_assert_eq(n, STRAIT_KX_INIT_LEN, "soft limit: B rekeys despite the unconfirmed response");
	m.n = (size_t)n;
	cr_assert_eq(deliver(a, T0 + 2 * SEC, &m, &r), STRAIT_KX_OK);
	cr_assert_eq(deliver(b, T0 + 2 * SEC, &r, &c), STRAIT_KX_OK);
	cr_assert_eq(deliver(a, T0 + 2 * SEC, &c, NULL), STRAIT_KX_OK);
	cr_assert_eq(strait_tunnel_spi_out(a), strait_tunnel_spi_in(b));
	cr_assert_eq(strait_tunnel_spi_out(b), strait_tunnel_spi_in(a));
	const uint64_t later = T0 + 10 * SEC; /* every retiring SA is gone */
	cr_assert_eq(strait_tunnel_tick(a, later, m.b, sizeof(m.b)), 0);
	cr_assert_eq(strait_tunnel_tick(b, later, m.b, sizeof(m.b)), 0);
	seal(b, &f, 3, later);
	cr_assert_eq(open_(a, &f, 3, later), STRAIT_ESP_OK);
	strait_tunnel_free(a);
	strait_tunnel_free(b);
}

/* The same with no lifetimes at all: A's owner starts the rekey, the
 * CONFIRM is lost, traffic flows only B->A. No soft limit will ever fire
 * on B, so B must start a handshake of its own once its response has gone
 * unconfirmed for retry_ns, before A retires the old pair. */
Test(kx, unconfirmed_response_restarts_handshake)
{
	struct strait_tunnel *a = mk(1, 2, 0x5a, none_life), *b = mk(2, 1, 0x5a, none_life);
	struct msg init, resp, lost, m, r, c;
	struct frame f;
	handshake(a, b, T0);
	init = init_msg(a, T0);
	cr_assert_eq(deliver(b, T0, &init, &resp), STRAIT_KX_OK);
	cr_assert_eq(deliver(a, T0, &resp, &lost), STRAIT_KX_OK); /* CONFIRM lost */
	cr_assert_eq(strait_tunnel_tick(b, T0 + SEC / 2, m.b, sizeof(m.b)), 0);
	int n = strait_tunnel_tick(b, T0 + SEC, m.b, sizeof(m.b));
	cr_assert_eq(n, STRAIT_KX_INIT_LEN, "B restarts the handshake after retry_ns");
	m.n = (size_t)n;
	cr_assert_eq(deliver(a, T0 + SEC, &m, &r), STRAIT_KX_OK);
	cr_assert_eq(deliver(b, T0 + SEC, &r, &c), STRAIT_KX_OK);
	cr_assert_eq(deliver(a, T0 + SEC, &c, NULL), STRAIT_KX_OK);
	const uint64_t later = T0 + 10 * SEC;
	cr_assert_eq(strait_tunnel_tick(a, later, m.b, sizeof(m.b)), 0);
	cr_assert_eq(strait_tunnel_tick(b, later, m.b, sizeof(m.b)), 0, "nothing left pending");
	seal(b, &f, 3, later);
	cr_assert_eq(open_(a, &f, 3, later), STRAIT_ESP_OK);
	both_ways(a, b, later);
	strait_tunnel_free(a);
	strait_tunnel_free(b);
}

/* Timers by hand: the first tick starts a handshake, an unanswered INIT
 * is resent after retry_ns, a soft limit starts a rekey. */
Test(kx, tick_start_retry_soft_rekey)
{
	struct strait_esp_lifetime soft = {.packets = 4};
	struct strait_tunnel *a = mk(1, 2, 0x5a, soft), *b = mk(2, 1, 0x5a, soft);
	struct msg m1, m2, m3, resp, conf;
	int n = strait_tunnel_tick(a, T0, m1.b, sizeof(m1.b));
	cr_assert_eq(n, STRAIT_KX_INIT_LEN);
	m1.n = (size_t)n;
	cr_assert_eq(strait_tunnel_tick(a, T0 + SEC / 2, m2.b, sizeof(m2.b)), 0, "not yet");
	n = strait_tunnel_tick(a, T0 + SEC, m2.b, sizeof(m2.b));
	cr_assert_eq(n, STRAIT_KX_INIT_LEN, "resent");
	m2.n = (size_t)n;
	cr_assert_neq(memcmp(m1.b, m2.b, m1.n), 0, "a fresh INIT, not a copy");
	cr_assert_eq(deliver(b, T0 + SEC, &m2, &resp), STRAIT_KX_OK);
	cr_assert_eq(deliver(b, T0 + SEC, &m1, NULL), STRAIT_KX_E_REPLAY, "older INIT after newer");
	cr_assert_eq(deliver(a, T0 + SEC, &resp, &conf), STRAIT_KX_OK);
	cr_assert_eq(deliver(b, T0 + SEC, &conf, NULL), STRAIT_KX_OK);

	uint32_t spi = strait_tunnel_spi_out(a);
	struct frame f;
	for (int i = 0; i < 3; i++) {
		seal(a, &f, 1, T0 + SEC);
		cr_assert_eq(strait_tunnel_tick(a, T0 + SEC, m3.b, sizeof(m3.b)), 0);
	}
	seal(a, &f, 1, T0 + SEC);
	n = strait_tunnel_tick(a, T0 + SEC, m3.b, sizeof(m3.b));
	cr_assert_eq(n, STRAIT_KX_INIT_LEN, "soft limit: rekey");
	m3.n = (size_t)n;
	cr_assert_eq(strait_tunnel_stats(a)->rekeys_started, 1);
	cr_assert_eq(deliver(b, T0 + SEC, &m3, &resp), STRAIT_KX_OK);
	cr_assert_eq(deliver(a, T0 + SEC, &resp, &conf), STRAIT_KX_OK);
	cr_assert_eq(deliver(b, T0 + SEC, &conf, NULL), STRAIT_KX_OK);
	cr_assert_neq(strait_tunnel_spi_out(a), spi);
	both_ways(a, b, T0 + SEC);
	strait_tunnel_free(a);
	strait_tunnel_free(b);
}

Test(kx, unknown_spi_and_short_frames)
{
	struct strait_tunnel *a = mk(1, 2, 0x5a, none_life), *b = mk(2, 1, 0x5a, none_life);
	handshake(a, b, T0);
	struct frame f;
	seal(a, &f, 1, T0);
	f.p.data[2] ^= 0x40;
	cr_assert_eq(open_(b, &f, 1, T0), STRAIT_ESP_E_SPI);
	f.p.len = 7;
	cr_assert_eq(open_(b, &f, 1, T0), STRAIT_ESP_E_MALFORMED);
	cr_assert_eq(strait_tunnel_stats(b)->esp_rx[STRAIT_ESP_E_SPI], 1);
	cr_assert_eq(strait_tunnel_stats(b)->esp_rx[STRAIT_ESP_E_MALFORMED], 1);
	strait_tunnel_free(a);
	strait_tunnel_free(b);
}

/* The whole exchange as the dataplane carries it: handshake messages
 * behind the non-ESP marker and data as ESP, in UDP/4500 over IPv6. */
static enum strait_udp_kind wire(struct strait_esp_path *path, uint8_t *buf, struct strait_pkt *p,
				 bool non_esp)
{
	cr_assert(strait_esp_udp_encap(path, p, non_esp));
	/* the receiver sees only the bytes of the frame */
	uint8_t frame[BUFSZ];
	size_t n = p->len;
	memcpy(frame, p->data, n);
	memset(buf, 0, BUFSZ);
	memcpy(buf + HEAD, frame, n);
	*p = (struct strait_pkt){.data = buf + HEAD, .len = n, .head = HEAD, .tail = BUFSZ - HEAD - n};
	return strait_esp_udp_decap(p, NULL);
}

Test(kx, over_udp_4500_with_marker)
{
	struct strait_tunnel *a = mk(1, 2, 0x5a, none_life), *b = mk(2, 1, 0x5a, none_life);
	struct strait_esp_path ab = {.family = 6, .sport = 4500, .dport = 4500};
	struct strait_esp_path ba = ab;
	ab.src[0] = ab.dst[0] = ba.src[0] = ba.dst[0] = 0xfd;
	ab.src[15] = ba.dst[15] = 1;
	ab.dst[15] = ba.src[15] = 2;
	static uint8_t buf[BUFSZ];
	struct strait_pkt p;
	uint8_t reply[STRAIT_KX_MAX_LEN];
	size_t rn;

	int n = strait_tunnel_initiate(a, T0, buf + HEAD, STRAIT_KX_MAX_LEN);
	p = (struct strait_pkt){.data = buf + HEAD, .len = (size_t)n, .head = HEAD, .tail = 0};
	cr_assert_eq(wire(&ab, buf, &p, true), STRAIT_UDP_HANDSHAKE);
	cr_assert_eq(strait_tunnel_handshake(b, T0, p.data, p.len, reply, sizeof(reply), &rn), STRAIT_KX_OK);
	memcpy(buf + HEAD, reply, rn);
	p = (struct strait_pkt){.data = buf + HEAD, .len = rn, .head = HEAD, .tail = 0};
	cr_assert_eq(wire(&ba, buf, &p, true), STRAIT_UDP_HANDSHAKE);
	cr_assert_eq(strait_tunnel_handshake(a, T0, p.data, p.len, reply, sizeof(reply), &rn), STRAIT_KX_OK);
	memcpy(buf + HEAD, reply, rn);
	p = (struct strait_pkt){.data = buf + HEAD, .len = rn, .head = HEAD, .tail = 0};
	cr_assert_eq(wire(&ab, buf, &p, true), STRAIT_UDP_HANDSHAKE);
	cr_assert_eq(strait_tunnel_handshake(b, T0, p.data, p.len, reply, sizeof(reply), &rn), STRAIT_KX_OK);

	struct frame f;
	uint8_t nh;
	seal(a, &f, 0x33, T0);
	cr_assert_eq(wire(&ab, buf, &f.p, false), STRAIT_UDP_ESP);
	cr_assert_eq(strait_tunnel_open(b, &f.p, &nh, T0), STRAIT_ESP_OK);
	cr_assert_eq(f.p.data[20], 0x33);
	strait_tunnel_free(a);
	strait_tunnel_free(b);
}

/* ---- what the dataplane needs: SA log, stale INITs, reset, counters ---- */

struct sa_lines {
	int n;
	char line[8][STRAIT_SA_LOG_LINE_MAX];
};

static void collect(void *arg, const char *line)
{
	struct sa_lines *l = arg;
	cr_assert_lt(l->n, 8);
	snprintf(l->line[l->n++], sizeof(l->line[0]), "%s", line);
}

static struct strait_tunnel *mk_logged(uint32_t local, uint32_t peer, struct sa_lines *l,
				       uint8_t family, const uint8_t *me, const uint8_t *them)
{
	struct strait_tunnel_config c = {
		.tenant_id = TENANT, .local_id = local, .peer_id = peer,
		.retire_ns = 3 * SEC, .retry_ns = 1 * SEC,
		.choose_spi = pick_spi, .choose_spi_arg = (void *)(intptr_t)(local - 1),
		.sa_log = { .fn = collect, .arg = l, .family = family },
	};
	memset(c.psk, 0x5a, sizeof(c.psk));
	memcpy(c.sa_log.local, me, family == 4 ? 4 : 16);
	memcpy(c.sa_log.peer, them, family == 4 ? 4 : 16);
	struct strait_tunnel *t = strait_tunnel_create(&c, T0);
	cr_assert(t);
	return t;
}

/* Parses one UAT line strictly: the exact format, then the SPI and key. */
static void parse_line(const char *line, const char *proto, const char *src, const char *dst,
		       uint32_t *spi, uint8_t keymat[36])
{
	char want[STRAIT_SA_LOG_LINE_MAX];
	char hex[73];
	unsigned s;
	cr_assert_eq(sscanf(line, "\"%*[^\"]\",\"%*[^\"]\",\"%*[^\"]\",\"0x%8x\",\"%*[^\"]\",\"0x%72[0-9a-f]\"",
			    &s, hex), 2, "%s", line);
	cr_assert_eq(strlen(hex), 72, "%s", line);
	snprintf(want, sizeof(want),
		 "\"%s\",\"%s\",\"%s\",\"0x%08x\",\"AES-GCM with 16 octet ICV [RFC4106]\",\"0x%s\",\"NULL\",\"\"",
		 proto, src, dst, s, hex);
	cr_assert_str_eq(line, want);
	for (int i = 0; i < 36; i++) {
		unsigned b;
		cr_assert_eq(sscanf(hex + 2 * i, "%2x", &b), 1);
		keymat[i] = (uint8_t)b;
	}
	*spi = s;
}

/* Each side logs each SA it creates, once, with the addresses its frames
 * carry; the logged key opens the frames of that SA. */
Test(kx, sa_log_lines)
{
	for (int v6 = 0; v6 < 2; v6++) {
		static const uint8_t a4[4] = { 198, 18, 1, 1 }, b4[4] = { 198, 18, 1, 2 };
		static const uint8_t a6[16] = { 0x20, 0x01, 0, 2, 0, 0, 0, 1, [15] = 1 };
		static const uint8_t b6[16] = { 0x20, 0x01, 0, 2, 0, 0, 0, 1, [15] = 2 };
		const char *pa = v6 ? "2001:2:0:1::1" : "198.18.1.1", *pb = v6 ? "2001:2:0:1::2" : "198.18.1.2";
		const char *proto = v6 ? "IPv6" : "IPv4";
		struct sa_lines la = { 0 }, lb = { 0 };
		struct strait_tunnel *a = mk_logged(1, 2, &la, v6 ? 6 : 4, v6 ? a6 : a4, v6 ? b6 : b4);
		struct strait_tunnel *b = mk_logged(2, 1, &lb, v6 ? 6 : 4, v6 ? b6 : b4, v6 ? a6 : a4);
		handshake(a, b, T0);
		cr_assert_eq(la.n, 2, "A: one line per SA");
		cr_assert_eq(lb.n, 2, "B: one line per SA");
		uint32_t spi;
		uint8_t key[36];
		/* A's line for A->B opens what A seals: as a capture reader would */
		int found = 0;
		for (int i = 0; i < 2; i++) {
			bool out = strstr(la.line[i], pa) < strstr(la.line[i], pb);
			parse_line(la.line[i], proto, out ? pa : pb, out ? pb : pa, &spi, key);
			cr_assert_eq(spi, out ? strait_tunnel_spi_out(a) : strait_tunnel_spi_in(a));
			if (!out)
				continue;
			found++;
			struct strait_esp_sa_config c = { .dir = STRAIT_ESP_INBOUND, .spi = spi, .now_ns = T0 };
			memcpy(c.keymat, key, 36);
			struct strait_esp_sa *reader = strait_esp_sa_create(&c);
			cr_assert(reader);
			struct frame f;
			seal(a, &f, 0x77, T0);
			uint8_t nh;
			cr_assert_eq(strait_esp_open(reader, &f.p, &nh, T0), STRAIT_ESP_OK);
			cr_assert_eq(f.p.data[20], 0x77);
			strait_esp_sa_free(reader);
		}
		cr_assert_eq(found, 1);
		/* B logged the same two SAs from its side: same SPIs and keys */
		for (int i = 0; i < 2; i++) {
			bool matched = false;
			for (int j = 0; j < 2; j++)
				matched |= !strcmp(la.line[i], lb.line[j]);
			cr_assert(matched, "A's line %d not logged by B: %s", i, la.line[i]);
		}
		/* a rekey logs the new pair, and nothing else */
		handshake(b, a, T0 + SEC);
		cr_assert_eq(la.n, 4);
		cr_assert_eq(lb.n, 4);
		cr_assert_str_neq(la.line[2], la.line[0]);
		strait_tunnel_free(a);
		strait_tunnel_free(b);
	}
}

/* An INIT far from our clock is refused before any X25519 work, counted
 * as stale, and the live SAs do not move. */
Test(kx, stale_init_refused)
{
	struct strait_tunnel *a = mk(1, 2, 0x5a, none_life), *b = mk(2, 1, 0x5a, none_life);
	handshake(a, b, T0);
	uint32_t in = strait_tunnel_spi_in(b);
	uint64_t dh = strait_tunnel_stats(b)->kx_dh;
	struct msg resp;
	/* made 121 s in b's past, and 121 s in b's future */
	struct msg old = init_msg(a, T0 + 10 * SEC);
	cr_assert_eq(deliver(b, T0 + 131 * SEC, &old, &resp), STRAIT_KX_E_STALE);
	cr_assert_eq(resp.n, 0);
	struct msg future = init_msg(a, T0 + 200 * SEC);
	cr_assert_eq(deliver(b, T0 + 79 * SEC, &future, &resp), STRAIT_KX_E_STALE);
	cr_assert_eq(strait_tunnel_stats(b)->kx_rx[STRAIT_KX_E_STALE], 2);
	cr_assert_eq(strait_tunnel_stats(b)->kx_dh, dh, "no X25519 work");
	cr_assert_eq(strait_tunnel_spi_in(b), in, "live SA untouched");
	both_ways(a, b, T0 + 131 * SEC);
	/* within the window: accepted */
	struct msg fresh = init_msg(a, T0 + 140 * SEC);
	cr_assert_eq(deliver(b, T0 + 259 * SEC, &fresh, &resp), STRAIT_KX_OK);
	cr_assert_str_eq(strait_kx_status_name(STRAIT_KX_E_STALE), "stale");
	strait_tunnel_free(a);
	strait_tunnel_free(b);
}

/* Peer down: reset drops every SA (nothing sealed, old frames refused), the
 * next tick initiates, the peer's old INIT stays refused (timestamps kept),
 * and a new handshake brings the tunnel back. */
Test(kx, reset_when_peer_down)
{
	struct strait_tunnel *a = mk(1, 2, 0x5a, none_life), *b = mk(2, 1, 0x5a, none_life);
	struct msg init = init_msg(a, T0), resp, conf;
	cr_assert_eq(deliver(b, T0, &init, &resp), STRAIT_KX_OK);
	cr_assert_eq(deliver(a, T0, &resp, &conf), STRAIT_KX_OK);
	cr_assert_eq(deliver(b, T0, &conf, NULL), STRAIT_KX_OK);
	struct frame old;
	seal(a, &old, 3, T0);
	strait_tunnel_reset(b);
	cr_assert_not(strait_tunnel_ready(b));
	cr_assert_eq(strait_tunnel_spi_in(b), 0);
	struct frame f;
	f.p = (struct strait_pkt){.data = f.buf + HEAD, .len = 60, .head = HEAD, .tail = 100};
	cr_assert_eq(strait_tunnel_seal(b, &f.p, 4, T0), STRAIT_ESP_E_NOSA);
	cr_assert_eq(open_(b, &old, 3, T0), STRAIT_ESP_E_SPI, "old SAs refused");
	cr_assert_eq(deliver(b, T0 + SEC, &init, &resp), STRAIT_KX_E_REPLAY, "replay still refused");
	cr_assert_eq(strait_tunnel_stats(b)->resets, 1);
	/* b initiates on its next tick, and again every retry_ns */
	struct msg m;
	int n = strait_tunnel_tick(b, T0 + 2 * SEC, m.b, sizeof(m.b));
	cr_assert_eq(n, STRAIT_KX_INIT_LEN);
	cr_assert_eq(strait_tunnel_tick(b, T0 + 2 * SEC + SEC / 2, m.b, sizeof(m.b)), 0);
	n = strait_tunnel_tick(b, T0 + 3 * SEC, m.b, sizeof(m.b));
	cr_assert_eq(n, STRAIT_KX_INIT_LEN);
	m.n = (size_t)n;
	/* a restarted a: a fresh tunnel with the same PSK answers */
	strait_tunnel_free(a);
	a = mk(1, 2, 0x5a, none_life);
	cr_assert_eq(deliver(a, T0 + 3 * SEC, &m, &resp), STRAIT_KX_OK);
	cr_assert_eq(deliver(b, T0 + 3 * SEC, &resp, &conf), STRAIT_KX_OK);
	cr_assert_eq(deliver(a, T0 + 3 * SEC, &conf, NULL), STRAIT_KX_OK);
	both_ways(a, b, T0 + 3 * SEC);
	/* messages written, by type */
	const struct strait_tunnel_stats *sb = strait_tunnel_stats(b);
	cr_assert_eq(sb->kx_tx[STRAIT_KX_INIT], 2);
	cr_assert_eq(sb->kx_tx[STRAIT_KX_RESP], 1);
	cr_assert_eq(sb->kx_tx[STRAIT_KX_CONFIRM], 1);
	cr_assert_eq(strait_tunnel_stats(a)->kx_tx[STRAIT_KX_RESP], 1);
	strait_tunnel_free(a);
	strait_tunnel_free(b);
}

Test(kx, peek_tenant)
{
	struct strait_tunnel *a = mk(1, 2, 0x5a, none_life);
	struct msg m = init_msg(a, T0);
	cr_assert_eq(strait_kx_peek_tenant(m.b, m.n), TENANT);
	cr_assert_eq(strait_kx_peek_tenant(m.b, STRAIT_KX_HDR_LEN), TENANT);
	cr_assert_eq(strait_kx_peek_tenant(m.b, STRAIT_KX_HDR_LEN - 1), 0);
	strait_tunnel_free(a);
}

/* Dead-peer detection: UP after the first handshake, keepalives when
 * nothing was sealed, DOWN (every SA reset) after peer_timeout of silence,
 * INITs every retry while down, UP again after the next handshake. */
Test(kx, poll_keepalive_and_peer_timeout)
{
	struct strait_tunnel *tun[2];
	for (int i = 0; i < 2; i++) {
		struct strait_tunnel_config c = {
			.tenant_id = TENANT, .local_id = (uint32_t)i + 1, .peer_id = 2 - (uint32_t)i,
			.retire_ns = 3 * SEC, .retry_ns = 1 * SEC,
			.peer_timeout_ns = 3 * SEC, .keepalive_ns = SEC,
		};
		memset(c.psk, 0x5a, sizeof(c.psk));
		tun[i] = strait_tunnel_create(&c, T0);
		cr_assert(tun[i]);
	}
	struct strait_tunnel *a = tun[0], *b = tun[1];
	struct msg m, resp, conf;
	/* start-up: both initiate; a (lower id) wins the tie-break */
	cr_assert_eq(strait_tunnel_poll(a, T0, m.b, sizeof(m.b), &m.n), STRAIT_TUNNEL_EV_INIT);
	struct msg mb;
	cr_assert_eq(strait_tunnel_poll(b, T0, mb.b, sizeof(mb.b), &mb.n), STRAIT_TUNNEL_EV_INIT);
	cr_assert_eq(deliver(a, T0, &mb, NULL), STRAIT_KX_E_TIEBREAK);
	cr_assert_eq(deliver(b, T0, &m, &resp), STRAIT_KX_OK);
	cr_assert_eq(deliver(a, T0, &resp, &conf), STRAIT_KX_OK);
	cr_assert_eq(deliver(b, T0, &conf, NULL), STRAIT_KX_OK);
	size_t n;
	cr_assert_eq(strait_tunnel_poll(a, T0, m.b, sizeof(m.b), &n), STRAIT_TUNNEL_EV_UP);
	cr_assert_eq(strait_tunnel_poll(b, T0, m.b, sizeof(m.b), &n), STRAIT_TUNNEL_EV_UP);
	cr_assert(strait_tunnel_peer_up(a) && strait_tunnel_peer_up(b));
	cr_assert_eq(strait_tunnel_poll(a, T0 + SEC / 2, m.b, sizeof(m.b), &n), 0);
	/* a sends data at 0.5 s: its keepalive is due 1 s after that, b's at 1 s */
	struct frame f;
	seal(a, &f, 1, T0 + SEC / 2);
	cr_assert_eq(open_(b, &f, 1, T0 + SEC / 2), STRAIT_ESP_OK);
	cr_assert_eq(strait_tunnel_poll(a, T0 + SEC, m.b, sizeof(m.b), &n), 0);
	cr_assert_eq(strait_tunnel_poll(b, T0 + SEC, m.b, sizeof(m.b), &n), STRAIT_TUNNEL_EV_KEEPALIVE);
	cr_assert_eq(strait_tunnel_poll(b, T0 + SEC, m.b, sizeof(m.b), &n), 0, "once per interval");
	cr_assert_eq(strait_tunnel_poll(a, T0 + 3 * SEC / 2, m.b, sizeof(m.b), &n), STRAIT_TUNNEL_EV_KEEPALIVE);
	/* a's keepalive: a dummy packet; it keeps a alive at b */
	f.p = (struct strait_pkt){.data = f.buf + HEAD, .len = 0, .head = HEAD, .tail = BUFSZ - HEAD};
	cr_assert_eq(strait_tunnel_seal(a, &f.p, STRAIT_ESP_NH_DUMMY, T0 + 3 * SEC / 2), STRAIT_ESP_OK);
	cr_assert_eq(open_(b, &f, 0, T0 + 3 * SEC / 2), STRAIT_ESP_DUMMY);
	cr_assert_eq(strait_tunnel_last_rx(b), T0 + 3 * SEC / 2);
	/* b's keepalives never reach a: a last heard b at 0 (its RESP) */
	cr_assert_eq(strait_tunnel_poll(a, T0 + 3 * SEC - 1, m.b, sizeof(m.b), &n) & STRAIT_TUNNEL_EV_DOWN, 0);
	unsigned ev = strait_tunnel_poll(a, T0 + 3 * SEC, m.b, sizeof(m.b), &m.n);
	cr_assert_eq(ev, STRAIT_TUNNEL_EV_DOWN | STRAIT_TUNNEL_EV_INIT, "ev %#x", ev);
	cr_assert_not(strait_tunnel_peer_up(a));
	cr_assert_not(strait_tunnel_ready(a), "SAs reset");
	cr_assert_eq(strait_tunnel_stats(a)->peer_downs, 1);
	/* nothing more from a: b goes down 3 s after a's keepalive */
	cr_assert_eq(strait_tunnel_poll(b, T0 + 4 * SEC, mb.b, sizeof(mb.b), &n) & STRAIT_TUNNEL_EV_DOWN, 0);
	ev = strait_tunnel_poll(b, T0 + 9 * SEC / 2, mb.b, sizeof(mb.b), &mb.n);
	cr_assert(ev & STRAIT_TUNNEL_EV_DOWN, "ev %#x", ev);
	/* while down, INITs every retry (1 s), no keepalives */
	cr_assert_eq(strait_tunnel_poll(a, T0 + 7 * SEC / 2, m.b, sizeof(m.b), &n), 0);
	cr_assert_eq(strait_tunnel_poll(a, T0 + 4 * SEC, m.b, sizeof(m.b), &m.n), STRAIT_TUNNEL_EV_INIT);
	/* the link is back: b answers a's INIT, both up again */
	cr_assert_eq(deliver(b, T0 + 5 * SEC, &m, &resp), STRAIT_KX_OK);
	cr_assert_eq(deliver(a, T0 + 5 * SEC, &resp, &conf), STRAIT_KX_OK);
	cr_assert_eq(deliver(b, T0 + 5 * SEC, &conf, NULL), STRAIT_KX_OK);
	cr_assert(strait_tunnel_poll(a, T0 + 5 * SEC, m.b, sizeof(m.b), &n) & STRAIT_TUNNEL_EV_UP);
	cr_assert(strait_tunnel_poll(b, T0 + 5 * SEC, m.b, sizeof(m.b), &n) & STRAIT_TUNNEL_EV_UP);
	both_ways(a, b, T0 + 5 * SEC);
	cr_assert_eq(strait_tunnel_stats(a)->keepalives, 2); /* at 1.5 s and just before 3 s */
	strait_tunnel_free(a);
	strait_tunnel_free(b);
}

static struct strait_tunnel *mk_polled_as(uint32_t local, bool resumed)
{
	struct strait_tunnel_config c = {
		.tenant_id = TENANT, .local_id = local, .peer_id = 3 - local,
		.retire_ns = 3 * SEC, .retry_ns = 1 * SEC,
		.peer_timeout_ns = 10 * SEC, .keepalive_ns = SEC, .resumed = resumed,
	};
	memset(c.psk, 0x5a, sizeof(c.psk));
	struct strait_tunnel *t = strait_tunnel_create(&c, T0);
	cr_assert(t);
	return t;
}

static struct strait_tunnel *mk_polled(uint32_t local)
{
	return mk_polled_as(local, false);
}

/* A peer that restarts well within the peer timeout (IKEv2's
 * INITIAL_CONTACT): its first INIT says it holds no SA. Once that exchange
 * is confirmed, its partner drops every older SA with it at once (the old
 * pair refused) and reports DOWN, then UP on the new pair. A rekey between live peers
 * does not; a replay of that INIT is refused; a RESP says the same when the
 * responder is the one that restarted. */
Test(kx, restarted_peer_initial_contact)
{
	struct strait_tunnel *a = mk_polled(1), *b = mk_polled(2);
	struct msg m, resp, conf;
	size_t n;
	uint64_t now = T0;

	handshake(a, b, now);
	cr_assert_eq(strait_tunnel_poll(a, now, m.b, sizeof(m.b), &n), STRAIT_TUNNEL_EV_UP);
	cr_assert_eq(strait_tunnel_poll(b, now, m.b, sizeof(m.b), &n), STRAIT_TUNNEL_EV_UP);
	/* a rekey from b, a live peer: no INITIAL_CONTACT, nothing torn down */
	now += SEC / 4;
	struct msg rk = init_msg(b, now);
	cr_assert_eq(rk.b[2], 0);
	cr_assert_eq(deliver(a, now, &rk, &resp), STRAIT_KX_OK);
	cr_assert_eq(resp.b[2], 0);
	cr_assert_eq(deliver(b, now, &resp, &conf), STRAIT_KX_OK);
	cr_assert_eq(deliver(a, now, &conf, NULL), STRAIT_KX_OK);
	cr_assert_eq(strait_tunnel_poll(a, now, m.b, sizeof(m.b), &n) & STRAIT_TUNNEL_EV_DOWN, 0);
	both_ways(a, b, now);
	struct frame old;
	seal(b, &old, 0xb0, now);
	uint32_t old_out = strait_tunnel_spi_out(a);

	/* b killed and started again 1 s later: its first INIT */
	strait_tunnel_free(b);
	b = mk_polled(2);
	now += SEC;
	cr_assert_eq(strait_tunnel_poll(b, now, m.b, sizeof(m.b), &m.n), STRAIT_TUNNEL_EV_INIT);
	cr_assert_eq(m.b[2], STRAIT_KX_F_INITIAL_CONTACT);
	cr_assert_eq(deliver(a, now, &m, &resp), STRAIT_KX_OK);
	/* the INIT alone tears nothing down: it might be one sent before a
	 * pair that completed first (kx, late_initial_contact_keeps_pair) */
	cr_assert_eq(strait_tunnel_stats(a)->peer_restarts, 0);
	cr_assert_eq(strait_tunnel_spi_out(a), old_out);
	cr_assert_eq(strait_tunnel_poll(a, now, m.b, sizeof(m.b), &n) & STRAIT_TUNNEL_EV_DOWN, 0);
	cr_assert_eq(deliver(b, now, &resp, &conf), STRAIT_KX_OK);
	cr_assert_eq(deliver(a, now, &conf, NULL), STRAIT_KX_OK);
	cr_assert_eq(strait_tunnel_stats(a)->peer_restarts, 1);
	/* a's old pair is gone now, not after retire_ns */
	cr_assert_eq(open_(a, &old, 0xb0, now), STRAIT_ESP_E_SPI, "the old pair refused");
	cr_assert_eq(strait_tunnel_poll(a, now, m.b, sizeof(m.b), &n),
		     STRAIT_TUNNEL_EV_DOWN | STRAIT_TUNNEL_EV_UP, "down, and up on the new pair");
	cr_assert_neq(strait_tunnel_spi_out(a), old_out);
	both_ways(a, b, now);
	/* the restarted peer's INIT again: a replay, refused before any work */
	cr_assert_eq(deliver(a, now + SEC / 2, &m, NULL), STRAIT_KX_E_REPLAY);
	cr_assert_eq(strait_tunnel_stats(a)->peer_restarts, 1);
	cr_assert(strait_tunnel_peer_up(a));

	/* now a restarts while b starts a rekey: a's RESP says so */
	now += 2 * SEC;
	cr_assert_eq(strait_tunnel_poll(b, now, m.b, sizeof(m.b), &n), STRAIT_TUNNEL_EV_UP);
	rk = init_msg(b, now);
	strait_tunnel_free(a);
	a = mk_polled(1);
	cr_assert_eq(deliver(a, now, &rk, &resp), STRAIT_KX_OK);
	cr_assert_eq(resp.b[2], STRAIT_KX_F_INITIAL_CONTACT);
	cr_assert_eq(deliver(b, now, &resp, &conf), STRAIT_KX_OK);
	cr_assert_eq(strait_tunnel_stats(b)->peer_restarts, 1);
	cr_assert_eq(strait_tunnel_poll(b, now, m.b, sizeof(m.b), &n) &
		     (STRAIT_TUNNEL_EV_DOWN | STRAIT_TUNNEL_EV_UP),
		     STRAIT_TUNNEL_EV_DOWN | STRAIT_TUNNEL_EV_UP, "down, and up on the new pair");
	cr_assert_eq(deliver(a, now, &conf, NULL), STRAIT_KX_OK);
	both_ways(a, b, now);
	/* a CONFIRM with the flag is malformed */
	conf.b[2] = STRAIT_KX_F_INITIAL_CONTACT;
	cr_assert_eq(deliver(a, now, &conf, NULL), STRAIT_KX_E_MALFORMED);
	strait_tunnel_free(a);
	strait_tunnel_free(b);
}

/* Start-up: b's INIT (INITIAL_CONTACT, it held no pair then) is held in
 * b's dataplane until a's ARP answer arrives, while a's own INIT reaches
 * b and completes a pair; b's INIT then reaches a after the pair. It must
 * not tear the pair down: b has no initiation pending and refuses a's
 * answer, the pair carries on, and a's next tick settles the unconfirmed
 * answer with an ordinary rekey. */
Test(kx, late_initial_contact_keeps_pair)
{
	struct strait_tunnel *a = mk_polled(1), *b = mk_polled(2);
	struct msg resp, conf, late, late_resp, m;
	size_t n;
	uint64_t now = T0;

	late = init_msg(b, now);
	cr_assert_eq(late.b[2], STRAIT_KX_F_INITIAL_CONTACT);
	now += SEC / 100;
	struct msg ia = init_msg(a, now);
	cr_assert_eq(deliver(b, now, &ia, &resp), STRAIT_KX_OK, "b drops its own, answers");
	cr_assert_eq(deliver(a, now, &resp, &conf), STRAIT_KX_OK);
	cr_assert_eq(deliver(b, now, &conf, NULL), STRAIT_KX_OK);
	cr_assert_eq(strait_tunnel_poll(a, now, m.b, sizeof(m.b), &n), STRAIT_TUNNEL_EV_UP);
	cr_assert_eq(strait_tunnel_poll(b, now, m.b, sizeof(m.b), &n), STRAIT_TUNNEL_EV_UP);
	uint32_t out = strait_tunnel_spi_out(a);
	struct frame f;
	seal(b, &f, 0xb1, now);

	cr_assert_eq(deliver(a, now, &late, &late_resp), STRAIT_KX_OK, "answered");
	cr_assert_eq(deliver(b, now, &late_resp, NULL), STRAIT_KX_E_UNEXPECTED);
	cr_assert_eq(strait_tunnel_stats(a)->peer_restarts, 0);
	cr_assert_eq(strait_tunnel_spi_out(a), out, "the pair kept");
	cr_assert_eq(open_(a, &f, 0xb1, now), STRAIT_ESP_OK, "b's frames still open");
	cr_assert_eq(strait_tunnel_poll(a, now, m.b, sizeof(m.b), &n) & STRAIT_TUNNEL_EV_DOWN, 0);
	both_ways(a, b, now);
	/* after retry_ns the unconfirmed answer gives way to a rekey */
	now += 2 * SEC;
	unsigned ev = strait_tunnel_poll(a, now, m.b, sizeof(m.b), &m.n);
	cr_assert_eq(ev & (STRAIT_TUNNEL_EV_INIT | STRAIT_TUNNEL_EV_DOWN), STRAIT_TUNNEL_EV_INIT);
	cr_assert_eq(m.b[2], 0, "a rekey, no INITIAL_CONTACT");
	cr_assert_eq(deliver(b, now, &m, &resp), STRAIT_KX_OK);
	cr_assert_eq(deliver(a, now, &resp, &conf), STRAIT_KX_OK);
	cr_assert_eq(deliver(b, now, &conf, NULL), STRAIT_KX_OK);
	cr_assert_eq(strait_tunnel_stats(a)->peer_restarts + strait_tunnel_stats(b)->peer_restarts, 0);
	cr_assert(strait_tunnel_peer_up(a) && strait_tunnel_peer_up(b));
	both_ways(a, b, now);
	strait_tunnel_free(a);
	strait_tunnel_free(b);
}

/* A reload's restart (new timers, same key): the new tunnel is `resumed`,
 * its INIT claims no INITIAL_CONTACT, and the peer keeps its channel: the
 * handshake is an ordinary rekey there. Once its pair is installed, a
 * later restart of the peer is told as usual. */
Test(kx, resumed_tunnel_claims_no_contact)
{
	struct strait_tunnel *a = mk_polled(1), *b = mk_polled(2);
	struct msg m, resp, conf;
	size_t n;
	uint64_t now = T0;

	handshake(a, b, now);
	cr_assert_eq(strait_tunnel_poll(a, now, m.b, sizeof(m.b), &n), STRAIT_TUNNEL_EV_UP);
	cr_assert_eq(strait_tunnel_poll(b, now, m.b, sizeof(m.b), &n), STRAIT_TUNNEL_EV_UP);
	strait_tunnel_free(a);
	a = mk_polled_as(1, true);
	now += SEC;
	struct msg in = init_msg(a, now);
	cr_assert_eq(in.b[2], 0, "no INITIAL_CONTACT from a resumed tunnel");
	cr_assert_eq(deliver(b, now, &in, &resp), STRAIT_KX_OK);
	cr_assert_eq(resp.b[2], 0);
	cr_assert_eq(strait_tunnel_stats(b)->peer_restarts, 0);
	cr_assert_eq(strait_tunnel_poll(b, now, m.b, sizeof(m.b), &n) & STRAIT_TUNNEL_EV_DOWN, 0,
		     "b's tunnel and channel stay up");
	cr_assert_eq(deliver(a, now, &resp, &conf), STRAIT_KX_OK);
	cr_assert_eq(deliver(b, now, &conf, NULL), STRAIT_KX_OK);
	both_ways(a, b, now);
	/* b restarted: a, its pair installed, is told and answers as usual */
	strait_tunnel_free(b);
	b = mk_polled(2);
	now += SEC;
	in = init_msg(b, now);
	cr_assert_eq(in.b[2], STRAIT_KX_F_INITIAL_CONTACT);
	cr_assert_eq(deliver(a, now, &in, &resp), STRAIT_KX_OK);
	cr_assert_eq(deliver(b, now, &resp, &conf), STRAIT_KX_OK);
	cr_assert_eq(deliver(a, now, &conf, NULL), STRAIT_KX_OK);
	cr_assert_eq(strait_tunnel_stats(a)->peer_restarts, 1);
	strait_tunnel_free(a);
	strait_tunnel_free(b);
}

/* Both sides start at once, both INITs claim INITIAL_CONTACT, and the
 * lower id refuses the higher id's INIT (tie-break). That INIT's timestamp
 * is used up all the same: replayed later (by anyone who saw it, within
 * max_skew) it is refused, and never tears down the live pair. */
Test(kx, tiebroken_init_not_replayable)
{
	struct strait_tunnel *a = mk_polled(1), *b = mk_polled(2);
	struct msg resp, conf, m;
	size_t n;
	uint64_t now = T0;

	struct msg ia = init_msg(a, now), ib = init_msg(b, now);
	cr_assert_eq(ib.b[2], STRAIT_KX_F_INITIAL_CONTACT);
	cr_assert_eq(deliver(a, now, &ib, NULL), STRAIT_KX_E_TIEBREAK);
	cr_assert_eq(deliver(b, now, &ia, &resp), STRAIT_KX_OK);
	cr_assert_eq(deliver(a, now, &resp, &conf), STRAIT_KX_OK);
	cr_assert_eq(deliver(b, now, &conf, NULL), STRAIT_KX_OK);
	both_ways(a, b, now);
	now += 5 * SEC;
	cr_assert_eq(deliver(a, now, &ib, NULL), STRAIT_KX_E_REPLAY);
	cr_assert_eq(strait_tunnel_stats(a)->peer_restarts, 0);
	cr_assert(strait_tunnel_peer_up(a) || !(strait_tunnel_poll(a, now, m.b, sizeof(m.b), &n) &
						 STRAIT_TUNNEL_EV_DOWN));
	cr_assert_neq(strait_tunnel_spi_out(a), 0, "the live pair kept");
	strait_tunnel_free(a);
	strait_tunnel_free(b);
}
