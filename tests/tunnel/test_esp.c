/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ESP seal/open: GCM test vectors, round trips for every pad length, every
 * rejection reason, the replay window seen through real frames, lifetimes
 * with an injected clock, and the UDP/4500 encapsulation.
 */
#include <criterion/criterion.h>
#include <string.h>

#include <openssl/evp.h>

#include "strait/tunnel.h"

enum { HEAD = STRAIT_ESP_HEADROOM, BUFSZ = HEAD + 9000 + 64 };

static void unhex(const char *s, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		cr_assert_eq(sscanf(s + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
	cr_assert_eq(strlen(s), 2 * n, "hex length");
}

static const uint8_t test_keymat[36] = {
	0x60, 0x3d, 0xeb, 0x10, 0x15, 0xca, 0x71, 0xbe, 0x2b, 0x73, 0xae, 0xf0,
	0x85, 0x7d, 0x77, 0x81, 0x1f, 0x35, 0x2c, 0x07, 0x3b, 0x61, 0x08, 0xd7,
	0x2d, 0x98, 0x10, 0xa3, 0x09, 0x14, 0xdf, 0xf4, 0xde, 0xca, 0xf8, 0x88,
};

static struct strait_esp_sa *sa_new(enum strait_esp_dir dir, uint32_t spi, uint64_t first_seq)
{
	struct strait_esp_sa_config c = {.dir = dir, .spi = spi, .first_seq = first_seq};
	memcpy(c.keymat, test_keymat, sizeof(c.keymat));
	struct strait_esp_sa *sa = strait_esp_sa_create(&c);
	cr_assert(sa, "sa_create");
	return sa;
}

/* An inner IPv4 (or IPv6) packet of n bytes at buf + HEAD. */
static struct strait_pkt inner(uint8_t *buf, size_t n, int family, uint8_t fill)
{
	uint8_t *p = buf + HEAD;
	memset(buf, 0xee, BUFSZ);
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(fill + i * 7);
	if (family == 4) {
		p[0] = 0x45;
		p[2] = (uint8_t)(n >> 8);
		p[3] = (uint8_t)n;
	} else {
		p[0] = 0x60;
		p[4] = (uint8_t)((n - 40) >> 8);
		p[5] = (uint8_t)(n - 40);
	}
	return (struct strait_pkt){.data = p, .len = n, .head = HEAD, .tail = BUFSZ - HEAD - n};
}

static uint8_t nh_of(int family)
{
	return family == 4 ? STRAIT_ESP_NH_IPV4 : STRAIT_ESP_NH_IPV6;
}

/* draft-mcgrew-gcm-test-01 (the RFC 4106 ESP test vectors), the AES-256
 * case: SPI 4a2cbfe3, seq 2, 32-bit sequence numbers (AAD = SPI || Seq),
 * explicit IV 0102030405060708. Its trailer names next header 1, which a
 * tunnel-mode SA refuses after authentication: the frame must authenticate
 * (E_PAYLOAD, not E_ICV), decrypt to the reference plaintext, and one
 * flipped bit of the ICV must make it E_ICV. */
Test(esp, rfc4106_vector_aes256)
{
	uint8_t keymat[36], pkt[16 + 52 + 16], plain[52], orig[sizeof(pkt)];
	struct strait_esp_sa_config c = {.dir = STRAIT_ESP_INBOUND, .spi = 0x4a2cbfe3,
					 .no_esn = true};
	uint8_t nh;

	unhex("abbccddef00112233445566778899aababbccddef00112233445566778899aab11223344",
	      keymat, 36);
	unhex("4a2cbfe3000000020102030405060708"
	      "ff425c9b724599df7a3bcd510194e00d6a78107f1b0b1cbf06efae9d65a5d763"
	      "748a637985771d347f0545659f14e99def842d8e"
	      "b335f4eecfdbf831824b4c4915956c96", pkt, sizeof(pkt));
	unhex("4500003069a6400080062690c0a801029389155e0a9e008b2dc57ee000000000"
	      "7002400020bf0000020405b40101040201020201", plain, sizeof(plain));
	memcpy(orig, pkt, sizeof(pkt));
	memcpy(c.keymat, keymat, 36);

	struct strait_esp_sa *sa = strait_esp_sa_create(&c);
	cr_assert(sa);
	struct strait_pkt p = {.data = pkt, .len = sizeof(pkt)};
	cr_assert_eq(strait_esp_open(sa, &p, &nh, 0), STRAIT_ESP_E_PAYLOAD);
	cr_assert_arr_eq(pkt + 16, plain, sizeof(plain), "decrypts to the reference plaintext");
	strait_esp_sa_free(sa);

	sa = strait_esp_sa_create(&c);
	memcpy(pkt, orig, sizeof(pkt));
	pkt[sizeof(pkt) - 1] ^= 1;
	p = (struct strait_pkt){.data = pkt, .len = sizeof(pkt)};
	cr_assert_eq(strait_esp_open(sa, &p, &nh, 0), STRAIT_ESP_E_ICV);
	cr_assert_eq(strait_esp_sa_stats(sa)->rejected[STRAIT_ESP_E_ICV], 1);
	strait_esp_sa_free(sa);
}

/* Golden frame: the wire format pinned down, so a change to it is a
 * decision and not an accident. Computed independently with
 * python3-cryptography's AESGCM: SPI 0x12345, sequence number 2^32 + 5
 * (ESN: only the low half on the wire, the high half in the AAD), a
 * 27-byte inner IPv4 packet (3 pad bytes), key material test_keymat. */
Test(esp, golden_frame_esn)
{
	static const char inner_hex[] = "4500001b0000400040110000c6120a01c6120a0273747261697421";
	static const char frame_hex[] =
		"0001234500000005000000010000000542ea4cd05a0b98d7da9d0bbe831651d3"
		"0ba03cb8e314dcfa48a0de663a1048b1addba83b4a21ecb4ae412f514945a281";
	uint8_t buf[HEAD + 64], frame[64], orig[27];
	struct strait_esp_sa_config c = {.dir = STRAIT_ESP_OUTBOUND, .spi = 0x12345,
					 .first_seq = (UINT64_C(1) << 32) + 5};
	memcpy(c.keymat, test_keymat, 36);
	struct strait_esp_sa *out = strait_esp_sa_create(&c);
	c.dir = STRAIT_ESP_INBOUND;
	struct strait_esp_sa *in = strait_esp_sa_create(&c);
	cr_assert(out && in);
	unhex(inner_hex, orig, sizeof(orig));
	unhex(frame_hex, frame, sizeof(frame));
	memcpy(buf + HEAD, orig, sizeof(orig));
	struct strait_pkt p = {.data = buf + HEAD, .len = sizeof(orig), .head = HEAD, .tail = 64 - 27};
	cr_assert_eq(strait_esp_seal(out, &p, STRAIT_ESP_NH_IPV4, 0), STRAIT_ESP_OK);
	cr_assert_eq(p.len, sizeof(frame));
	cr_assert_arr_eq(p.data, frame, sizeof(frame), "sealed frame differs from the golden one");
	uint8_t nh;
	cr_assert_eq(strait_esp_open(in, &p, &nh, 0), STRAIT_ESP_OK);
	cr_assert_arr_eq(p.data, orig, sizeof(orig));
	strait_esp_sa_free(out);
	strait_esp_sa_free(in);
}

/* NIST GCM (McGrew-Viega test cases 13-16, AES-256) through the cipher the
 * SA uses, fetched the same way, with the 12-byte nonce = salt || IV split
 * of RFC 4106: the salt is the first 4 bytes. */
Test(esp, nist_gcm_aes256)
{
	static const struct {
		const char *k, *iv, *p, *a, *c, *t;
	} v[] = {
		{"0000000000000000000000000000000000000000000000000000000000000000",
		 "000000000000000000000000", "", "", "", "530f8afbc74536b9a963b4f1c4cb738b"},
		{"0000000000000000000000000000000000000000000000000000000000000000",
		 "000000000000000000000000", "00000000000000000000000000000000", "",
		 "cea7403d4d606b6e074ec5d3baf39d18", "d0d1c8a799996bf0265b98b5d48ab919"},
		{"feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
		 "cafebabefacedbaddecaf888",
		 "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
		 "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255", "",
		 "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
		 "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad",
		 "b094dac5d93471bdec1a502270e3cc6c"},
		{"feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
		 "cafebabefacedbaddecaf888",
		 "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
		 "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
		 "feedfacedeadbeeffeedfacedeadbeefabaddad2",
		 "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
		 "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
		 "76fc6ece0f4e1768cddf8853bb2d551b"},
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		uint8_t k[32], iv[12], p[64], a[20], c[64], t[16], out[64], tag[16];
		size_t pn = strlen(v[i].p) / 2, an = strlen(v[i].a) / 2;
		int len;
		unhex(v[i].k, k, 32);
		unhex(v[i].iv, iv, 12);
		unhex(v[i].p, p, pn);
		unhex(v[i].a, a, an);
		unhex(v[i].c, c, pn);
		unhex(v[i].t, t, 16);
		EVP_CIPHER *aes = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
		EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
		cr_assert(aes && ctx);
		cr_assert(EVP_EncryptInit_ex(ctx, aes, NULL, k, iv));
		if (an)
			cr_assert(EVP_EncryptUpdate(ctx, NULL, &len, a, (int)an));
		if (pn)
			cr_assert(EVP_EncryptUpdate(ctx, out, &len, p, (int)pn));
		cr_assert(EVP_EncryptFinal_ex(ctx, out + pn, &len));
		cr_assert(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, tag));
		cr_expect_arr_eq(out, c, pn, "vector %zu ciphertext", i);
		cr_expect_arr_eq(tag, t, 16, "vector %zu tag", i);
		EVP_CIPHER_CTX_free(ctx);
		EVP_CIPHER_free(aes);
	}
}

/* Every inner length mod 4 (so every pad length), both families, sizes
 * from the smallest packet to a jumbo frame. */
Test(esp, round_trip_all_pad_lengths)
{
	static uint8_t buf[BUFSZ], copy[BUFSZ];
	static const size_t sizes[] = {20, 21, 22, 23, 40, 41, 42, 43, 64, 511, 1400, 1401, 8900};
	struct strait_esp_sa *out = sa_new(STRAIT_ESP_OUTBOUND, 0x1234, 0);
	struct strait_esp_sa *in = sa_new(STRAIT_ESP_INBOUND, 0x1234, 0);

	for (int fam = 4; fam <= 6; fam += 2) {
		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			size_t n = sizes[i];
			if (fam == 6 && n < 40)
				continue;
			struct strait_pkt p = inner(buf, n, fam, (uint8_t)i);
			memcpy(copy, buf, BUFSZ);
			cr_assert_eq(strait_esp_seal(out, &p, nh_of(fam), 0), STRAIT_ESP_OK);
			cr_assert_eq(p.data, buf + HEAD - 16);
			cr_assert_eq(p.len % 4, 0, "ESP packet is 4-byte aligned");
			cr_assert_eq(p.len, 16 + n + (4 - (n + 2) % 4) % 4 + 2 + 16);
			cr_assert_neq(memcmp(p.data + 16, copy + HEAD, n), 0, "encrypted");
			uint8_t nh = 0;
			cr_assert_eq(strait_esp_open(in, &p, &nh, 0), STRAIT_ESP_OK, "size %zu fam %d", n, fam);
			cr_assert_eq(nh, nh_of(fam));
			cr_assert_eq(p.data, buf + HEAD);
			cr_assert_eq(p.len, n);
			cr_assert_arr_eq(p.data, copy + HEAD, n);
			cr_assert_eq(p.head, HEAD);
		}
	}
	cr_assert_eq(strait_esp_sa_stats(in)->packets, strait_esp_sa_stats(out)->packets);
	strait_esp_sa_free(out);
	strait_esp_sa_free(in);
}

Test(esp, spi_below_256_refused)
{
	struct strait_esp_sa_config c = {.dir = STRAIT_ESP_OUTBOUND, .spi = 255};
	cr_assert_null(strait_esp_sa_create(&c));
	c.spi = 0;
	cr_assert_null(strait_esp_sa_create(&c));
	c.spi = 256;
	struct strait_esp_sa *sa = strait_esp_sa_create(&c);
	cr_assert_not_null(sa);
	strait_esp_sa_free(sa);
}

Test(esp, no_room)
{
	static uint8_t buf[BUFSZ];
	struct strait_esp_sa *out = sa_new(STRAIT_ESP_OUTBOUND, 0x1234, 0);
	struct strait_pkt p = inner(buf, 100, 4, 1);
	p.head = 15;
	cr_assert_eq(strait_esp_seal(out, &p, 4, 0), STRAIT_ESP_E_NOROOM);
	p.head = 16;
	p.tail = 100 % 4 ? 0 : 19; /* n = 100: pad 2, needs 20 */
	cr_assert_eq(strait_esp_seal(out, &p, 4, 0), STRAIT_ESP_E_NOROOM);
	p.tail = 20;
	cr_assert_eq(strait_esp_seal(out, &p, 4, 0), STRAIT_ESP_OK);
	cr_assert_eq(strait_esp_sa_seq(out), 1, "refusals used no sequence number");
	strait_esp_sa_free(out);
}

/* Seal one frame of n bytes with sequence number seq into buf. */
static struct strait_pkt sealed(uint8_t *buf, uint64_t seq, size_t n)
{
	struct strait_esp_sa *out = sa_new(STRAIT_ESP_OUTBOUND, 0x1234, seq);
	struct strait_pkt p = inner(buf, n, 4, (uint8_t)seq);
	cr_assert_eq(strait_esp_seal(out, &p, 4, 0), STRAIT_ESP_OK);
	strait_esp_sa_free(out);
	return p;
}

Test(esp, rejections_have_distinct_reasons)
{
	static uint8_t buf[BUFSZ], orig[BUFSZ];
	struct strait_esp_sa *in = sa_new(STRAIT_ESP_INBOUND, 0x1234, 0);
	struct strait_pkt p0 = sealed(buf, 5, 100), p;
	uint8_t nh;
	uint64_t expect[STRAIT_ESP_STATUS_MAX] = {0};
	memcpy(orig, buf, BUFSZ);

#define TRY(mutate, want)                                                         \
	do {                                                                      \
		memcpy(buf, orig, BUFSZ);                                         \
		p = p0;                                                           \
		mutate;                                                           \
		cr_assert_eq(strait_esp_open(in, &p, &nh, 0), want, "%s", #mutate); \
		expect[want]++;                                                   \
	} while (0)

	/* truncated at every length: malformed, never read past the end */
	for (size_t n = 0; n < p0.len; n++) {
		if (n >= STRAIT_ESP_MIN_LEN && (n - 32) % 4 == 0)
			TRY(p.len = n, STRAIT_ESP_E_ICV);   /* well-formed length, wrong bytes */
		else
			TRY(p.len = n, STRAIT_ESP_E_MALFORMED);
	}
	TRY(p.data[3] ^= 1, STRAIT_ESP_E_SPI);                 /* wrong SPI */
	TRY(p.data[p.len - 1] ^= 0x80, STRAIT_ESP_E_ICV);      /* wrong ICV */
	TRY(p.data[20] ^= 1, STRAIT_ESP_E_ICV);                /* forged ciphertext */
	TRY(p.data[7] ^= 1, STRAIT_ESP_E_ICV);                 /* forged sequence number */
	TRY(p.data[8] ^= 1, STRAIT_ESP_E_ICV);                 /* forged IV */
	TRY((void)0, STRAIT_ESP_OK);                           /* the real one */
	TRY((void)0, STRAIT_ESP_E_REPLAY);                     /* replayed */
	TRY(p.data[p.len - 1] ^= 0x80, STRAIT_ESP_E_REPLAY);   /* replay checked before the ICV */
	TRY(p.data[4] = p.data[5] = p.data[6] = p.data[7] = 0, STRAIT_ESP_E_REPLAY); /* seq 0 */

	const struct strait_esp_stats *st = strait_esp_sa_stats(in);
	for (int s = STRAIT_ESP_E_MALFORMED; s < STRAIT_ESP_STATUS_MAX; s++)
		cr_expect_eq(st->rejected[s], expect[s], "reason %s counted %llu want %llu",
			     strait_esp_status_name((enum strait_esp_status)s),
			     (unsigned long long)st->rejected[s], (unsigned long long)expect[s]);
	cr_expect_eq(st->packets, 1);
	strait_esp_sa_free(in);
#undef TRY
}

/* OpenSSL's GCM decrypts before it checks the tag, in place: a frame whose
 * ICV fails must not leave its plaintext in the caller's buffer (an
 * attacker who flips one ICV bit of a genuine frame would otherwise make
 * the receiver hold that frame's plaintext in a buffer it believes is a
 * dropped ciphertext). The descriptor is unchanged and the bytes between
 * the IV and the ICV are wiped. */
Test(esp, icv_failure_leaves_no_plaintext)
{
	static uint8_t buf[BUFSZ], copy[BUFSZ];
	struct strait_esp_sa *out = sa_new(STRAIT_ESP_OUTBOUND, 0x1234, 0);
	struct strait_esp_sa *in = sa_new(STRAIT_ESP_INBOUND, 0x1234, 0);
	struct strait_pkt p = inner(buf, 200, 4, 0x33), before;
	uint8_t nh = 0xaa;
	memcpy(copy, buf, BUFSZ);
	cr_assert_eq(strait_esp_seal(out, &p, STRAIT_ESP_NH_IPV4, 0), STRAIT_ESP_OK);
	p.data[p.len - 1] ^= 1;
	before = p;
	cr_assert_eq(strait_esp_open(in, &p, &nh, 0), STRAIT_ESP_E_ICV);
	cr_assert_eq(p.data, before.data);
	cr_assert_eq(p.len, before.len);
	cr_assert_eq(nh, 0xaa);
	for (size_t i = 16; i < p.len - 16; i++)
		cr_assert_eq(p.data[i], 0, "byte %zu of the rejected frame not wiped", i);
	cr_assert_neq(memcmp(p.data + 16, copy + HEAD, 200), 0);
	strait_esp_sa_free(out);
	strait_esp_sa_free(in);
}

/* A forged frame with a sequence number far ahead must not move the
 * window (it is advanced only after the ICV verifies). */
Test(esp, window_advances_only_after_icv)
{
	static uint8_t buf[BUFSZ];
	struct strait_esp_sa *in = sa_new(STRAIT_ESP_INBOUND, 0x1234, 0);
	uint8_t nh;
	struct strait_pkt p = sealed(buf, 1, 60);
	cr_assert_eq(strait_esp_open(in, &p, &nh, 0), STRAIT_ESP_OK);

	p = sealed(buf, 100000, 60);
	p.data[p.len - 2] ^= 1;
	cr_assert_eq(strait_esp_open(in, &p, &nh, 0), STRAIT_ESP_E_ICV);
	cr_assert_eq(strait_esp_sa_seq(in), 1, "window top unchanged");

	p = sealed(buf, 2, 60); /* would be left of the window had it moved */
	cr_assert_eq(strait_esp_open(in, &p, &nh, 0), STRAIT_ESP_OK);
	strait_esp_sa_free(in);
}

/* Through real frames: ESN across 2^32 (the high half is only in the AAD),
 * out-of-order arrival inside the window, and the window's left edge. */
Test(esp, esn_across_2_32)
{
	static uint8_t buf[BUFSZ];
	struct strait_esp_sa *in = sa_new(STRAIT_ESP_INBOUND, 0x1234, 0);
	const uint64_t B = UINT64_C(1) << 32;
	uint8_t nh;
	static const struct {
		int n;
		uint64_t seq;
		enum strait_esp_status want;
	} steps[] = {
		/* a window starts at 1; walk it up in jumps of less than 2^31 */
		{0, 1, STRAIT_ESP_OK},
		{0, B / 2, STRAIT_ESP_OK},
		{1, B - 10, STRAIT_ESP_OK},
		{2, B + 5, STRAIT_ESP_OK},        /* low half 5: inferred Th + 1 */
		{3, B - 3, STRAIT_ESP_OK},        /* late, previous subspace, in window */
		{4, B - 3, STRAIT_ESP_E_REPLAY},
		{5, B + 5 - 1023, STRAIT_ESP_OK}, /* left edge (previous subspace) */
		/* one left of the window: case B infers Th, far ahead, so the
		 * window lets it through and the ICV (high half in the AAD)
		 * rejects it */
		{6, B + 5 - 1024, STRAIT_ESP_E_ICV},
		{7, B + 1, STRAIT_ESP_OK},
		{8, 2 * B + 7, STRAIT_ESP_OK},    /* jump to the next-but-one subspace */
	};
	{
		/* an empty window cannot place a low half near 2^32: it would be
		 * subspace -1 (RFC 4303 A.2 case B with Th = 0) */
		struct strait_esp_sa *fresh = sa_new(STRAIT_ESP_INBOUND, 0x1234, 0);
		struct strait_pkt p = sealed(buf, B - 10, 44);
		cr_expect_eq(strait_esp_open(fresh, &p, &nh, 0), STRAIT_ESP_E_REPLAY);
		strait_esp_sa_free(fresh);
	}
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		struct strait_pkt p = sealed(buf, steps[i].seq, 44);
		enum strait_esp_status s = strait_esp_open(in, &p, &nh, 0);
		if (steps[i].n == 8) {
			/* Th:Tl = 1:5, low half 7 infers 1:7, so the AAD differs:
			 * a jump of 2^32 cannot be recognised (RFC 4303 A.3). */
			cr_expect_eq(s, STRAIT_ESP_E_ICV, "step 8");
			continue;
		}
		cr_expect_eq(s, steps[i].want, "step %d: %s", steps[i].n, strait_esp_status_name(s));
	}
	strait_esp_sa_free(in);
}

Test(esp, sequence_never_wraps)
{
	static uint8_t buf[BUFSZ];
	struct strait_esp_sa *out = sa_new(STRAIT_ESP_OUTBOUND, 0x1234, UINT64_MAX);
	struct strait_pkt p = inner(buf, 40, 4, 0);
	cr_assert_eq(strait_esp_seal(out, &p, 4, 0), STRAIT_ESP_OK);
	cr_assert_eq(strait_esp_sa_seq(out), UINT64_MAX);
	p = inner(buf, 40, 4, 0);
	cr_assert_eq(strait_esp_seal(out, &p, 4, 0), STRAIT_ESP_E_EXPIRED);
	cr_assert_eq(strait_esp_sa_seq(out), UINT64_MAX);
	strait_esp_sa_free(out);

	/* 32-bit SAs stop at 2^32 - 1 */
	struct strait_esp_sa_config c = {.dir = STRAIT_ESP_OUTBOUND, .spi = 300, .no_esn = true,
					 .first_seq = UINT32_MAX};
	out = strait_esp_sa_create(&c);
	cr_assert(out);
	p = inner(buf, 40, 4, 0);
	cr_assert_eq(strait_esp_seal(out, &p, 4, 0), STRAIT_ESP_OK);
	p = inner(buf, 40, 4, 0);
	cr_assert_eq(strait_esp_seal(out, &p, 4, 0), STRAIT_ESP_E_EXPIRED);
	strait_esp_sa_free(out);
}

Test(esp, dummy_dropped_silently)
{
	static uint8_t buf[BUFSZ];
	struct strait_esp_sa *out = sa_new(STRAIT_ESP_OUTBOUND, 0x1234, 0);
	struct strait_esp_sa *in = sa_new(STRAIT_ESP_INBOUND, 0x1234, 0);
	struct strait_pkt p = inner(buf, 33, 4, 0);
	uint8_t nh = 0xaa;
	cr_assert_eq(strait_esp_seal(out, &p, STRAIT_ESP_NH_DUMMY, 0), STRAIT_ESP_OK);
	cr_assert_eq(strait_esp_open(in, &p, &nh, 0), STRAIT_ESP_DUMMY);
	cr_assert_eq(nh, 0xaa, "nothing handed to the caller");
	cr_assert_eq(strait_esp_sa_stats(in)->dummy, 1);
	cr_assert_eq(strait_esp_sa_stats(in)->packets, 0);
	for (int s = 0; s < STRAIT_ESP_STATUS_MAX; s++)
		cr_assert_eq(strait_esp_sa_stats(in)->rejected[s], 0);
	strait_esp_sa_free(out);
	strait_esp_sa_free(in);
}

/* Authenticated, but not one whole inner packet of the named family:
 * nothing reaches the caller. */
Test(esp, bad_inner_payload)
{
	static uint8_t buf[BUFSZ];
	struct strait_esp_sa *out = sa_new(STRAIT_ESP_OUTBOUND, 0x1234, 0);
	struct strait_esp_sa *in = sa_new(STRAIT_ESP_INBOUND, 0x1234, 0);
	uint8_t nh;
	struct strait_pkt p = inner(buf, 100, 4, 0);
	cr_assert_eq(strait_esp_seal(out, &p, STRAIT_ESP_NH_IPV6, 0), STRAIT_ESP_OK);
	cr_assert_eq(strait_esp_open(in, &p, &nh, 0), STRAIT_ESP_E_PAYLOAD);
	p = inner(buf, 100, 4, 0);
	buf[HEAD + 3] = 99; /* IPv4 total length says 99 */
	cr_assert_eq(strait_esp_seal(out, &p, STRAIT_ESP_NH_IPV4, 0), STRAIT_ESP_OK);
	cr_assert_eq(strait_esp_open(in, &p, &nh, 0), STRAIT_ESP_E_PAYLOAD);
	p = inner(buf, 100, 4, 0);
	cr_assert_eq(strait_esp_seal(out, &p, 17, 0), STRAIT_ESP_OK);
	cr_assert_eq(strait_esp_open(in, &p, &nh, 0), STRAIT_ESP_E_PAYLOAD);
	cr_assert_eq(strait_esp_sa_stats(in)->rejected[STRAIT_ESP_E_PAYLOAD], 3);
	strait_esp_sa_free(out);
	strait_esp_sa_free(in);
}

static struct strait_esp_sa *sa_life(enum strait_esp_dir dir, struct strait_esp_lifetime soft,
				     struct strait_esp_lifetime hard, uint64_t now)
{
	struct strait_esp_sa_config c = {.dir = dir, .spi = 0x1234, .soft = soft, .hard = hard,
					 .now_ns = now};
	memcpy(c.keymat, test_keymat, 36);
	struct strait_esp_sa *sa = strait_esp_sa_create(&c);
	cr_assert(sa);
	return sa;
}

Test(esp, lifetime_packets_and_bytes)
{
	static uint8_t buf[BUFSZ];
	struct strait_esp_sa *out = sa_life(STRAIT_ESP_OUTBOUND, (struct strait_esp_lifetime){.packets = 3},
					    (struct strait_esp_lifetime){.packets = 5}, 0);
	for (int i = 1; i <= 5; i++) {
		struct strait_pkt p = inner(buf, 40, 4, 0);
		cr_assert_eq(strait_esp_seal(out, &p, 4, 0), STRAIT_ESP_OK);
		cr_assert_eq(strait_esp_sa_soft_expired(out, 0), i >= 3, "after %d", i);
	}
	cr_assert(strait_esp_sa_hard_expired(out, 0));
	struct strait_pkt p = inner(buf, 40, 4, 0);
	cr_assert_eq(strait_esp_seal(out, &p, 4, 0), STRAIT_ESP_E_EXPIRED);
	strait_esp_sa_free(out);

	out = sa_life(STRAIT_ESP_OUTBOUND, (struct strait_esp_lifetime){.bytes = 1000},
		      (struct strait_esp_lifetime){.bytes = 2000}, 0);
	struct strait_esp_sa *in = sa_life(STRAIT_ESP_INBOUND, (struct strait_esp_lifetime){.bytes = 1000},
					   (struct strait_esp_lifetime){.bytes = 2000}, 0);
	int sealed_n = 0;
	uint8_t nh;
	for (;;) {
		p = inner(buf, 600, 4, 0);
		if (strait_esp_seal(out, &p, 4, 0) != STRAIT_ESP_OK)
			break;
		sealed_n++;
		cr_assert_eq(strait_esp_open(in, &p, &nh, 0), STRAIT_ESP_OK);
		cr_assert_eq(strait_esp_sa_soft_expired(out, 0), sealed_n * 600 >= 1000);
	}
	cr_assert_eq(sealed_n, 4, "600-byte packets until 2000 bytes: 4 (the limit is checked before)");
	/* the inbound SA refuses past its hard byte limit too */
	struct strait_esp_sa *out2 = sa_new(STRAIT_ESP_OUTBOUND, 0x1234, 100);
	p = inner(buf, 600, 4, 0);
	cr_assert_eq(strait_esp_seal(out2, &p, 4, 0), STRAIT_ESP_OK);
	cr_assert_eq(strait_esp_open(in, &p, &nh, 0), STRAIT_ESP_E_EXPIRED);
	strait_esp_sa_free(out2);
	strait_esp_sa_free(out);
	strait_esp_sa_free(in);
}

Test(esp, lifetime_seconds_injected_clock)
{
	static uint8_t buf[BUFSZ];
	const uint64_t t0 = UINT64_C(1000) * 1000000000u, s = 1000000000u;
	struct strait_esp_sa *out = sa_life(STRAIT_ESP_OUTBOUND, (struct strait_esp_lifetime){.seconds = 10},
					    (struct strait_esp_lifetime){.seconds = 20}, t0);
	struct strait_pkt p;
	cr_assert_not(strait_esp_sa_soft_expired(out, t0 + 10 * s - 1));
	cr_assert(strait_esp_sa_soft_expired(out, t0 + 10 * s));
	p = inner(buf, 40, 4, 0);
	cr_assert_eq(strait_esp_seal(out, &p, 4, t0 + 20 * s - 1), STRAIT_ESP_OK);
	cr_assert_not(strait_esp_sa_hard_expired(out, t0 + 20 * s - 1));
	cr_assert(strait_esp_sa_hard_expired(out, t0 + 20 * s));
	p = inner(buf, 40, 4, 0);
	cr_assert_eq(strait_esp_seal(out, &p, 4, t0 + 20 * s), STRAIT_ESP_E_EXPIRED);
	strait_esp_sa_free(out);
}

/* ------------------------------------------------------------ UDP/4500 */

static struct strait_esp_path path(int family)
{
	struct strait_esp_path pa = {.family = (uint8_t)family, .sport = 4500, .dport = 4500};
	if (family == 4) {
		memcpy(pa.src, (uint8_t[]){198, 18, 0, 1}, 4);
		memcpy(pa.dst, (uint8_t[]){198, 18, 0, 2}, 4);
	} else {
		pa.src[0] = pa.dst[0] = 0x20;
		pa.src[1] = pa.dst[1] = 0x01;
		pa.src[15] = 1;
		pa.dst[15] = 2;
	}
	return pa;
}

Test(udp, encap_decap_both_families)
{
	static uint8_t buf[BUFSZ], copy[BUFSZ];
	for (int fam = 4; fam <= 6; fam += 2) {
		struct strait_esp_sa *out = sa_new(STRAIT_ESP_OUTBOUND, 0x1234, 0);
		struct strait_esp_sa *in = sa_new(STRAIT_ESP_INBOUND, 0x1234, 0);
		struct strait_esp_path pa = path(fam), from;
		struct strait_pkt p = inner(buf, 300, 4, 9);
		uint8_t nh;
		memcpy(copy, buf, BUFSZ);
		cr_assert_eq(strait_esp_seal(out, &p, 4, 0), STRAIT_ESP_OK);
		cr_assert(strait_esp_udp_encap(&pa, &p, false));
		cr_assert_eq(p.data, buf + HEAD - 16 - (fam == 4 ? 28 : 48));
		size_t ip = fam == 4 ? 20 : 40;
		uint16_t csum = (uint16_t)(p.data[ip + 6] << 8 | p.data[ip + 7]);
		if (fam == 4)
			cr_assert_eq(csum, 0, "IPv4: UDP checksum 0");
		else
			cr_assert_neq(csum, 0, "IPv6: UDP checksum computed");
		cr_assert_eq(strait_esp_udp_decap(&p, &from), STRAIT_UDP_ESP);
		cr_assert_eq(from.family, fam);
		cr_assert_arr_eq(from.src, pa.src, fam == 4 ? 4 : 16);
		cr_assert_eq(strait_esp_open(in, &p, &nh, 0), STRAIT_ESP_OK);
		cr_assert_arr_eq(p.data, copy + HEAD, 300);
		strait_esp_sa_free(out);
		strait_esp_sa_free(in);
	}
}

Test(udp, decap_rejects)
{
	static uint8_t buf[BUFSZ], orig[BUFSZ];
	for (int fam = 4; fam <= 6; fam += 2) {
		struct strait_esp_path pa = path(fam);
		size_t ip = fam == 4 ? 20 : 40;
		struct strait_pkt p0 = inner(buf, 64, 4, 0), p;
		cr_assert(strait_esp_udp_encap(&pa, &p0, false));
		memcpy(orig, buf, BUFSZ);
#define DECAP(mutate, want)                                                    \
	do {                                                                   \
		memcpy(buf, orig, BUFSZ);                                      \
		p = p0;                                                        \
		mutate;                                                        \
		cr_expect_eq(strait_esp_udp_decap(&p, NULL), want, "fam %d: %s", fam, #mutate); \
	} while (0)
		for (size_t n = 0; n < p0.len; n++)
			DECAP(p.len = n, STRAIT_UDP_MALFORMED);
		DECAP((void)0, STRAIT_UDP_ESP);
		DECAP(p.data[0] = 0x55, STRAIT_UDP_MALFORMED);          /* version 5 */
		DECAP(p.data[ip + 3] = 99, STRAIT_UDP_NOT_OURS);        /* other port */
		DECAP(p.data[ip + 5] += 1, STRAIT_UDP_MALFORMED);       /* UDP length */
		DECAP(p.data[p.len - 1] ^= 1, fam == 4 ? STRAIT_UDP_ESP : STRAIT_UDP_MALFORMED);
		if (fam == 4) {
			DECAP(p.data[9] = 6, STRAIT_UDP_MALFORMED);     /* header checksum */
			DECAP(p.data[0] = 0x44, STRAIT_UDP_MALFORMED);  /* IHL 4 */
		} else {
			DECAP(p.data[ip + 6] = p.data[ip + 7] = 0, STRAIT_UDP_MALFORMED); /* zero csum */
			DECAP(p.data[6] = 0, STRAIT_UDP_NOT_OURS);      /* extension header */
		}
#undef DECAP
	}
}

Test(udp, marker_and_keepalive)
{
	static uint8_t buf[256];
	struct strait_esp_path pa = path(6);
	uint8_t *msg = buf + 128;
	memcpy(msg, "\x01\x01hello", 7);
	struct strait_pkt p = {.data = msg, .len = 7, .head = 128, .tail = 121};
	cr_assert(strait_esp_udp_encap(&pa, &p, true));
	cr_assert_eq(p.len, 40 + 8 + 4 + 7);
	cr_assert_eq(strait_esp_udp_decap(&p, NULL), STRAIT_UDP_HANDSHAKE);
	cr_assert_eq(p.data, msg);
	cr_assert_eq(p.len, 7);

	buf[128] = 0xff;
	p = (struct strait_pkt){.data = msg, .len = 1, .head = 128, .tail = 127};
	cr_assert(strait_esp_udp_encap(&pa, &p, false));
	cr_assert_eq(strait_esp_udp_decap(&p, NULL), STRAIT_UDP_KEEPALIVE);

	p = (struct strait_pkt){.data = msg, .len = 7, .head = 40, .tail = 0};
	cr_assert_not(strait_esp_udp_encap(&pa, &p, true), "too little headroom");
}
