/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Strait tunnel: IPsec ESP (RFC 4303) in UDP (RFC 3948, port 4500), tunnel
 * mode, AES-256-GCM with a 16-byte ICV (RFC 4106), 64-bit extended sequence
 * numbers, a 1024-packet anti-replay window, SA lifetimes, and the key
 * exchange that makes the SAs (X25519 + tenant PSK, HKDF-SHA256).
 *
 * A plain library: byte buffers in, byte buffers out; no DPDK, no dedupe.
 *
 * Buffers. Every in-place function takes a struct strait_pkt: `data` points
 * at the packet, `len` is its length, `head` and `tail` say how many bytes
 * before `data` and after `data + len` the function may write. The caller
 * owns the memory before, during and after the call; nothing is allocated
 * or freed per packet. On success the fields describe the result (a sealed
 * ESP packet, an outer frame, an inner packet); on failure the packet must
 * be dropped (seal and open leave the fields unchanged): nothing from a
 * rejected frame reaches the caller. Open decrypts in place before the
 * ICV is known to be bad, so on E_ICV it wipes the bytes between the IV
 * and the ICV; after E_PAYLOAD or DUMMY they hold authenticated plaintext.
 *
 * Errors. Setup returns NULL or -errno. Packet functions return an
 * enum strait_esp_status and count every rejection by reason.
 *
 * Threads. An SA or a tunnel belongs to one thread (the worker that owns
 * the tenant); nothing here locks. Seal and open allocate nothing, make no
 * syscalls and never log; keys are wiped when an SA or tunnel is freed.
 *
 * Time. Every function that needs it takes `now_ns` from the caller, so
 * tests drive the clock by hand. The handshake also uses it as the INIT
 * timestamp, so it must be wall-clock time (CLOCK_REALTIME) for the
 * timestamps to keep increasing across restarts.
 *
 * Frame on the wire (tunnel mode, IPv4 or IPv6 outer header):
 *
 *   outer IP | UDP sport->4500 | SPI(4) | Seq low(4) | IV(8) |
 *     [ inner IP packet | pad 1,2,.. (0-3) | pad len(1) | next hdr(1) ]  <- AES-GCM
 *     | ICV(16)
 *
 *   nonce = salt(4) || IV(8), IV = the 64-bit sequence number (unique per key)
 *   AAD   = SPI || Seq high(4) || Seq low(4)             (RFC 4106 section 5, ESN)
 *   next header 4 = inner IPv4, 41 = inner IPv6, 59 = dummy (dropped silently)
 *   key material = 32-byte AES key || 4-byte salt (the RFC 4106 order)
 *
 * The same UDP port carries the key exchange behind RFC 3948's non-ESP
 * marker (four zero bytes where an SPI would be); see "Key exchange" below.
 */
#ifndef STRAIT_TUNNEL_H
#define STRAIT_TUNNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Every protocol limit in one place. */
enum strait_tunnel_limits {
	STRAIT_ESP_KEY_LEN = 32,
	STRAIT_ESP_SALT_LEN = 4,
	STRAIT_ESP_KEYMAT_LEN = 36,        /* key || salt */
	STRAIT_ESP_HDR_LEN = 8,            /* SPI + low sequence number */
	STRAIT_ESP_IV_LEN = 8,
	STRAIT_ESP_ICV_LEN = 16,
	STRAIT_ESP_FRONT = 16,             /* header + IV, in front of the inner packet */
	STRAIT_ESP_TAILROOM = 21,          /* <= 3 pad + pad len + next hdr + ICV */
	STRAIT_ESP_MIN_LEN = 36,           /* header + IV + 4-byte aligned trailer + ICV */
	STRAIT_ESP_UDP_PORT = 4500,
	STRAIT_ESP_OUTER_V4 = 28,          /* IPv4 + UDP */
	STRAIT_ESP_OUTER_V6 = 48,          /* IPv6 + UDP */
	STRAIT_ESP_HEADROOM = 64,          /* IPv6 + UDP + ESP header + IV */
	STRAIT_ESP_NON_ESP_MARKER = 4,     /* RFC 3948: four zero bytes */
	STRAIT_ESP_REPLAY_WINDOW = 1024,   /* packets, RFC 4303 section 3.4.3 */
	STRAIT_ESP_REPLAY_WORDS = 17,      /* 1024 bits + one word of slack */
	STRAIT_ESP_SPI_MIN = 256,          /* SPIs 1-255 are reserved by IANA */
	STRAIT_ESP_NH_IPV4 = 4,
	STRAIT_ESP_NH_IPV6 = 41,
	STRAIT_ESP_NH_DUMMY = 59,
};

/* ---------------------------------------------------------------- buffers */

struct strait_pkt {
	uint8_t *data;  /* first byte of the packet */
	size_t len;     /* bytes of packet at data */
	size_t head;    /* writable bytes before data */
	size_t tail;    /* writable bytes after data + len */
};

/* ---------------------------------------------------------------- status */

enum strait_esp_status {
	STRAIT_ESP_OK = 0,
	STRAIT_ESP_DUMMY,       /* next header 59: authenticated, drop silently */
	STRAIT_ESP_E_MALFORMED, /* truncated, misaligned, bad length or header */
	STRAIT_ESP_E_SPI,       /* SPI is not this SA's (or unknown to the tunnel) */
	STRAIT_ESP_E_REPLAY,    /* duplicate, left of the window, or seq 0 */
	STRAIT_ESP_E_ICV,       /* ICV does not verify: forged or corrupted */
	STRAIT_ESP_E_PAYLOAD,   /* ICV good, but padding, next header or inner
				   packet invalid */
	STRAIT_ESP_E_EXPIRED,   /* hard lifetime reached or sequence space used up */
	STRAIT_ESP_E_NOROOM,    /* seal: too little headroom or tailroom */
	STRAIT_ESP_E_NOSA,      /* tunnel: no confirmed SA yet */
	STRAIT_ESP_STATUS_MAX
};

/* Short lowercase name ("icv", "replay", ...), never NULL. */
const char *strait_esp_status_name(enum strait_esp_status s);

/* ---------------------------------------------------------------- replay */

/*
 * Anti-replay window over 64-bit extended sequence numbers (RFC 4303
 * section 3.4.3 and Appendix A). `top` is the highest authenticated number
 * (0 before the first); the window covers top-1023 .. top.
 * Use: seq = infer(low bits); check(seq) before decrypting; update(seq)
 * only after the ICV has verified.
 */
struct strait_esp_replay {
	uint64_t top;
	uint64_t bitmap[STRAIT_ESP_REPLAY_WORDS];
};

void strait_esp_replay_init(struct strait_esp_replay *r);
/* The full 64-bit number for the low 32 bits on the wire (Appendix A.2);
 * 0 when it would fall before the start of the sequence space. */
uint64_t strait_esp_replay_infer(const struct strait_esp_replay *r, uint32_t seq_lo);
/* true if seq is new: not 0, not left of the window, not yet seen. */
bool strait_esp_replay_check(const struct strait_esp_replay *r, uint64_t seq);
/* Marks seq as seen, sliding the window if seq is beyond the top. */
void strait_esp_replay_update(struct strait_esp_replay *r, uint64_t seq);

/* ---------------------------------------------------------------- SA */

/* A zero field means no limit. Seconds are counted from creation. */
struct strait_esp_lifetime {
	uint64_t packets;
	uint64_t bytes;     /* inner bytes sealed or opened */
	uint64_t seconds;
};

enum strait_esp_dir { STRAIT_ESP_OUTBOUND, STRAIT_ESP_INBOUND };

struct strait_esp_sa_config {
	enum strait_esp_dir dir;
	uint32_t spi;                              /* >= STRAIT_ESP_SPI_MIN */
	uint8_t keymat[STRAIT_ESP_KEYMAT_LEN];     /* key || salt */
	uint64_t first_seq;   /* outbound: number of the first sealed packet;
				 inbound: the first number expected (the
				 window starts just below it). 0 means 1,
				 the RFC 4303 start. */
	struct strait_esp_lifetime soft, hard;
	uint64_t now_ns;      /* creation time on the caller's clock */
	bool no_esn;          /* 32-bit sequence numbers, AAD = SPI || Seq (for
				 interop and test vectors; Strait's own SAs
				 always use ESN) */
};

struct strait_esp_stats {
	uint64_t packets;     /* sealed, or opened and handed to the caller */
	uint64_t bytes;       /* inner bytes of those */
	uint64_t dummy;       /* next header 59, dropped silently */
	uint64_t rejected[STRAIT_ESP_STATUS_MAX];   /* by reason */
};

struct strait_esp_sa;

/* Creates the SA and its one cipher context. NULL with errno set: EINVAL
 * (SPI < 256, bad first_seq), ENOMEM, EIO (OpenSSL). The key material is
 * copied; the caller should wipe its own copy. */
struct strait_esp_sa *strait_esp_sa_create(const struct strait_esp_sa_config *cfg);
/* Wipes the key and frees; NULL is a no-op. */
void strait_esp_sa_free(struct strait_esp_sa *sa);

uint32_t strait_esp_sa_spi(const struct strait_esp_sa *sa);
/* Outbound: last sequence number used. Inbound: top of the replay window. */
uint64_t strait_esp_sa_seq(const struct strait_esp_sa *sa);
const struct strait_esp_stats *strait_esp_sa_stats(const struct strait_esp_sa *sa);
/* true once a soft limit is reached (the owner should rekey); the SA keeps
 * working until a hard limit. */
bool strait_esp_sa_soft_expired(const struct strait_esp_sa *sa, uint64_t now_ns);
/* true once a hard limit is reached: seal and open refuse with E_EXPIRED. */
bool strait_esp_sa_hard_expired(const struct strait_esp_sa *sa, uint64_t now_ns);

/*
 * Seal in place. In: pkt = the inner packet (IPv4 or IPv6, or anything with
 * next_header 59); needs head >= STRAIT_ESP_FRONT and tail >=
 * STRAIT_ESP_TAILROOM. Out: pkt = the ESP packet, SPI through ICV.
 * next_header: STRAIT_ESP_NH_IPV4, _IPV6 or _DUMMY (any other value is
 * sealed as given, and refused by open: tests use that).
 * Returns OK, E_NOROOM, E_EXPIRED (hard limit or no sequence number left:
 * numbers never wrap) or E_MALFORMED (outbound-only misuse, bad length).
 */
enum strait_esp_status strait_esp_seal(struct strait_esp_sa *sa, struct strait_pkt *pkt,
				       uint8_t next_header, uint64_t now_ns);

/*
 * Open in place. In: pkt = an ESP packet from its SPI to its ICV. Out (OK
 * only): pkt = the inner packet, *next_header = 4 or 41. Lengths are all
 * checked before use; the replay window is checked before decryption and
 * advanced only once the ICV verifies. Returns OK, DUMMY (counted, drop
 * silently) or a reason the frame is dropped (counted in the SA's stats).
 */
enum strait_esp_status strait_esp_open(struct strait_esp_sa *sa, struct strait_pkt *pkt,
				       uint8_t *next_header, uint64_t now_ns);

/* The tenant id of a handshake message (marker stripped; 0 if shorter than
 * the header): for dispatch to the tenant's owner, before any check. */
uint32_t strait_kx_peek_tenant(const uint8_t *msg, size_t len);

/* The SPI of an ESP packet (0 if shorter than a header): for dispatch. */
uint32_t strait_esp_peek_spi(const uint8_t *esp, size_t len);

/* ---------------------------------------------------------------- UDP/4500 */

/* One end of the outer path. family is 4 or 6; addresses in network order
 * (4 or 16 bytes used). */
struct strait_esp_path {
	uint8_t family;
	uint8_t ttl;            /* 0 means 64 */
	uint16_t sport, dport;  /* host order; dport normally 4500 */
	uint16_t ip_id;         /* next IPv4 identification (incremented) */
	uint8_t src[16], dst[16];
};

enum strait_udp_kind {
	STRAIT_UDP_ESP,        /* pkt now = the ESP packet */
	STRAIT_UDP_HANDSHAKE,  /* pkt now = a key exchange message (marker stripped) */
	STRAIT_UDP_KEEPALIVE,  /* RFC 3948 NAT keepalive (one 0xff byte) */
	STRAIT_UDP_NOT_OURS,   /* not UDP to port 4500 (or a fragment) */
	STRAIT_UDP_MALFORMED,  /* truncated or inconsistent outer headers/checksum */
};

/*
 * Prepends UDP and IP headers in place (head >= 28 for IPv4, 48 for IPv6).
 * With non_esp, the four-byte non-ESP marker goes first (head + 4). IPv4:
 * DF set, UDP checksum 0 (RFC 3948). IPv6: UDP checksum computed (zero is
 * not allowed). Returns false if there is no room or the result would
 * exceed 65535 bytes.
 */
bool strait_esp_udp_encap(struct strait_esp_path *path, struct strait_pkt *pkt, bool non_esp);

/*
 * Validates an outer IPv4/IPv6 + UDP frame (starting at the IP header) and
 * strips it. On ESP/HANDSHAKE/KEEPALIVE, pkt describes the UDP payload
 * (minus the marker for a handshake) and `from` (if not NULL) the outer
 * addresses and ports as seen by the receiver (src = the peer). Verifies
 * a non-zero UDP checksum; IPv6 with checksum 0 is malformed.
 */
enum strait_udp_kind strait_esp_udp_decap(struct strait_pkt *pkt, struct strait_esp_path *from);

/* ---------------------------------------------------------------- key exchange */

/*
 * Handshake (one per tenant, either side may initiate), all integers
 * big-endian, sent as UDP/4500 payload behind the non-ESP marker:
 *
 *  common header (8 bytes)
 *    0  type      1 = INIT, 2 = RESP, 3 = CONFIRM
 *    1  version   1
 *    2  flags     INIT, RESP: bit 0 INITIAL_CONTACT (the sender holds no
 *                 SA with this peer: it started, restarted or timed the
 *                 peer out); other bits, and any bit in CONFIRM, 0
 *    3  reserved  0
 *    4  tenant id (4)
 *
 *  INIT, initiator -> responder, 88 bytes
 *    8  sender node id (4)
 *   12  SPI_i (4)       chosen by the initiator for the r->i SA it receives on
 *   16  timestamp (8)   ns; must exceed the last INIT accepted from this peer
 *   24  E_i (32)        ephemeral X25519 public key
 *   56  mac (32)        HMAC-SHA256(K_mac, bytes 0..55)
 *
 *  RESP, responder -> initiator, 116 bytes
 *    8  sender node id (4)
 *   12  SPI_i (4)       echoed
 *   16  SPI_r (4)       chosen by the responder for the i->r SA it receives on
 *   20  E_r (32)
 *   52  confirm_r (32)  HKDF-Expand(PRK, "strait kx r confirm", 32)
 *   84  mac (32)        HMAC-SHA256(K_mac, bytes 0..83)
 *
 *  CONFIRM, initiator -> responder, 84 bytes
 *    8  sender node id (4)
 *   12  SPI_i (4)
 *   16  SPI_r (4)
 *   20  confirm_i (32)  HKDF-Expand(PRK, "strait kx i confirm", 32)
 *   52  mac (32)        HMAC-SHA256(K_mac, bytes 0..51)
 *
 *  K_mac = HKDF-SHA256(salt = "strait kx v1", IKM = PSK, info = "strait kx mac", 32)
 *  TH    = SHA-256("strait kx v1" || INIT || RESP bytes 0..51)
 *  PRK   = HKDF-Extract(salt = TH, IKM = X25519(e, E_peer) || PSK)
 *  i->r SA: SPI_r, keymat = HKDF-Expand(PRK, "strait esp i->r", 36)
 *  r->i SA: SPI_i, keymat = HKDF-Expand(PRK, "strait esp r->i", 36)
 *
 * Processing order: length, type, version, tenant, then the mac (PSK only,
 * cheap), then for INIT the timestamp (newer than the last accepted, and
 * within max_skew_ns of our clock); only then X25519. A message that
 * fails any check is dropped and counted; the live SAs are never touched.
 * Key confirmation: the initiator uses its new SAs once RESP's confirm_r
 * verifies; the responder once CONFIRM verifies, or once a frame opens
 * under the new i->r SA (which only a holder of the keys can produce).
 * Rekey: the new pair replaces the old; the old inbound SA keeps opening
 * frames in flight for `retire_ns`, then is freed. A pair we answered
 * that is still unconfirmed when a newer initiation of ours completes is
 * dropped, never promoted over the newer one. Simultaneous
 * initiations: the INIT from the lower node id wins; the higher side drops
 * its own pending initiation and answers.
 * A restarted peer (as IKEv2's INITIAL_CONTACT, RFC 7296 2.4): an
 * authentic, fresh RESP to our INIT with INITIAL_CONTACT, or the CONFIRM
 * (or first frame) completing an exchange whose INIT had it, from a peer
 * we hold a pair with means it lost that pair. Every older SA of ours
 * with it is freed at once (nothing sealed under them can open there any
 * more), and strait_tunnel_poll() reports EV_DOWN, then EV_UP on the new
 * pair, so that what ran inside the tunnel (the channel's TCP) starts
 * over instead of waiting for a peer timeout. An INIT alone never does
 * it: one sent before an exchange that completed first (held while the
 * sender's ARP resolved, reordered) arrives after the pair it helped make,
 * and the peer refuses our RESP to it. A replayed INIT never gets this
 * far (timestamp).
 */
enum strait_kx_limits {
	STRAIT_KX_HDR_LEN = 8,
	STRAIT_KX_INIT_LEN = 88,
	STRAIT_KX_RESP_LEN = 116,
	STRAIT_KX_CONFIRM_LEN = 84,
	STRAIT_KX_MAX_LEN = 116,
	STRAIT_KX_PSK_LEN = 32,
	STRAIT_KX_VERSION = 1,
	STRAIT_KX_F_INITIAL_CONTACT = 1, /* header byte 2 */
	STRAIT_SA_LOG_LINE_MAX = 256,  /* one esp_sa UAT line, with its NUL */
};

enum strait_kx_type { STRAIT_KX_INIT = 1, STRAIT_KX_RESP = 2, STRAIT_KX_CONFIRM = 3 };

enum strait_kx_status {
	STRAIT_KX_OK = 0,          /* accepted (a reply may have been written) */
	STRAIT_KX_E_MALFORMED,     /* length, type, version */
	STRAIT_KX_E_TENANT,        /* not this tunnel's tenant or peer */
	STRAIT_KX_E_MAC,           /* mac does not verify (no PSK) */
	STRAIT_KX_E_REPLAY,        /* INIT timestamp not newer than the last accepted */
	STRAIT_KX_E_STALE,         /* INIT timestamp further than max_skew_ns from our clock */
	STRAIT_KX_E_TIEBREAK,      /* INIT lost the simultaneous-initiation tie-break */
	STRAIT_KX_E_UNEXPECTED,    /* RESP/CONFIRM matching no pending handshake */
	STRAIT_KX_E_CONFIRM,       /* confirm value wrong (keys differ) */
	STRAIT_KX_E_CRYPTO,        /* X25519/HKDF failure (e.g. low-order point) */
	STRAIT_KX_STATUS_MAX
};

const char *strait_kx_status_name(enum strait_kx_status s);

/*
 * SA log, the ESP analogue of SSLKEYLOGFILE: for each data SA as it is
 * created (the responder's pair when it answers, the initiator's when the
 * RESP verifies), fn gets one line in Wireshark's esp_sa UAT format, with
 * no newline:
 *
 *   "IPv4","198.18.1.1","198.18.1.2","0x00a10003","AES-GCM with 16 octet ICV [RFC4106]","0x<key||salt, 72 hex digits>","NULL",""
 *
 * (source and destination as the ESP frames of that SA carry them; "IPv6"
 * for an IPv6 outer header). The line holds the key: the tunnel wipes its
 * buffer after the call, the callee writes it only where the operator
 * asked. This is the only way a key leaves the library.
 */
struct strait_sa_log {
	void (*fn)(void *arg, const char *line);   /* NULL: no log */
	void *arg;
	uint8_t family;                 /* 4 or 6: the outer header */
	uint8_t local[16], peer[16];    /* outer addresses, network order */
};

struct strait_tunnel_config {
	uint32_t tenant_id;
	uint32_t local_id, peer_id;     /* node ids, distinct; tie-break */
	uint8_t psk[STRAIT_KX_PSK_LEN];
	struct strait_esp_lifetime soft, hard;  /* for every data SA */
	uint64_t retire_ns;   /* old inbound SA lifetime after a rekey (0: 5 s) */
	uint64_t retry_ns;    /* resend an unanswered INIT after (0: 1 s) */
	/* An INIT whose timestamp is further than this from now_ns is
	 * refused (STRAIT_KX_E_STALE) before any X25519 work: after a
	 * restart forgot the last timestamp accepted, only an INIT captured
	 * in the last max_skew_ns could be replayed. The two appliances'
	 * clocks must agree within it (NTP). 0: 120 s. */
	uint64_t max_skew_ns;
	/* Receiver-chosen SPIs: returns a fresh SPI >= 256 (e.g. one that
	 * encodes the owning worker). NULL: random. */
	uint32_t (*choose_spi)(void *arg);
	void *choose_spi_arg;
	struct strait_sa_log sa_log;
	/* Dead-peer detection (strait_tunnel_poll): the peer is down once
	 * nothing authentic came from it for peer_timeout_ns (0: never);
	 * a keepalive is due after keepalive_ns without sealing (0: none). */
	uint64_t peer_timeout_ns, keepalive_ns;
	/* This tunnel replaces one the appliance ran with the same peer (a
	 * reload's new timers or Endpoint): the peer's state for us is intact,
	 * so until its first pair is installed its INIT and RESP do not claim
	 * INITIAL_CONTACT (which would make the peer drop its SAs and the
	 * channel inside them). */
	bool resumed;
};

struct strait_tunnel_stats {
	uint64_t kx_rx[STRAIT_KX_STATUS_MAX];   /* handshake messages by outcome */
	uint64_t kx_tx[STRAIT_KX_CONFIRM + 1];  /* messages written, by type (INIT,
						 * RESP, CONFIRM; [0] unused) */
	uint64_t kx_dh;             /* X25519 operations done */
	uint64_t handshakes;        /* completed (confirmed) */
	uint64_t rekeys_started;
	uint64_t retired;           /* old inbound SAs freed */
	uint64_t resets;            /* strait_tunnel_reset() calls */
	uint64_t keepalives;        /* keepalives asked for (EV_KEEPALIVE) */
	uint64_t peer_downs;        /* peer timeouts (EV_DOWN) */
	uint64_t peer_restarts;     /* completed exchanges with INITIAL_CONTACT
				     * from a peer we held SAs with (EV_DOWN,
				     * then EV_UP) */
	uint64_t esp_rx[STRAIT_ESP_STATUS_MAX]; /* open outcomes, incl. unknown SPI */
	uint64_t esp_tx[STRAIT_ESP_STATUS_MAX]; /* seal outcomes */
};

struct strait_tunnel;

/* NULL with errno (EINVAL, ENOMEM, EIO). PSK copied; wiped on free. */
struct strait_tunnel *strait_tunnel_create(const struct strait_tunnel_config *cfg, uint64_t now_ns);
void strait_tunnel_free(struct strait_tunnel *t);

/* Starts a handshake (or a rekey): writes an INIT into out (cap >=
 * STRAIT_KX_MAX_LEN) and returns its length, or -errno. Replaces any
 * pending initiation of ours. */
int strait_tunnel_initiate(struct strait_tunnel *t, uint64_t now_ns, uint8_t *out, size_t cap);

/* Processes one handshake message (marker already stripped). A reply, if
 * any, is written to out (cap >= STRAIT_KX_MAX_LEN) with its length in
 * *out_len (0 if none). Counted in stats.kx_rx. */
enum strait_kx_status strait_tunnel_handshake(struct strait_tunnel *t, uint64_t now_ns,
					      const uint8_t *msg, size_t len,
					      uint8_t *out, size_t cap, size_t *out_len);

/* Timers: retires the old inbound SA after retire_ns; resends an
 * unanswered INIT after retry_ns; starts a handshake when there is no SA,
 * when an SA passes a soft limit, or when a RESP of ours has gone
 * unconfirmed for retry_ns (its CONFIRM lost and no data from the peer),
 * but never while a RESP of ours is younger than that. Writes an INIT to
 * out when one is due (returns its length), else returns 0. */
int strait_tunnel_tick(struct strait_tunnel *t, uint64_t now_ns, uint8_t *out, size_t cap);

/* True once a confirmed outbound SA exists. */
bool strait_tunnel_ready(const struct strait_tunnel *t);

/*
 * The owner's timer call, instead of strait_tunnel_tick(): runs the tick
 * (an INIT when one is due) and dead-peer detection. Anything authentic
 * from the peer counts as life: an accepted handshake message, a frame
 * that opens, a dummy packet. Returns events, ORed:
 *   EV_DOWN       the peer was up and has been silent for peer_timeout_ns:
 *                 every SA is reset (strait_tunnel_reset), and from now on
 *                 INITs go out every retry_ns until the peer answers; or
 *                 it restarted (INITIAL_CONTACT): our SAs with it are
 *                 gone, EV_UP follows when the new pair is confirmed;
 *   EV_INIT       *out_len bytes of INIT in out: send them behind the marker;
 *   EV_UP         a confirmed SA exists again (first time, or since DOWN);
 *   EV_KEEPALIVE  nothing sealed for keepalive_ns: seal and send a dummy
 *                 packet (next header 59, no payload). Asked once per
 *                 interval, whether or not the caller could send it.
 */
enum strait_tunnel_event {
	STRAIT_TUNNEL_EV_DOWN = 1u << 0,
	STRAIT_TUNNEL_EV_INIT = 1u << 1,
	STRAIT_TUNNEL_EV_UP = 1u << 2,
	STRAIT_TUNNEL_EV_KEEPALIVE = 1u << 3,
};
unsigned strait_tunnel_poll(struct strait_tunnel *t, uint64_t now_ns, uint8_t *out, size_t cap,
			    size_t *out_len);
/* Up between EV_UP and EV_DOWN. */
bool strait_tunnel_peer_up(const struct strait_tunnel *t);
/* When something authentic last came from the peer (now_ns clock). */
uint64_t strait_tunnel_last_rx(const struct strait_tunnel *t);

/* The peer is gone (silent for the owner's peer timeout): frees every SA
 * and any handshake in progress, wiping their keys, so that nothing is
 * sealed for a peer that will not open it and the next tick initiates
 * again (every retry_ns until the peer answers). Keeps the PSK, the
 * timestamps that refuse replayed INITs, and the counters. */
void strait_tunnel_reset(struct strait_tunnel *t);

/* Seal with the current outbound SA (same contract as strait_esp_seal);
 * E_NOSA before the first handshake is confirmed. */
enum strait_esp_status strait_tunnel_seal(struct strait_tunnel *t, struct strait_pkt *pkt,
					  uint8_t next_header, uint64_t now_ns);
/* Open with the inbound SA named by the SPI: current, the one being
 * confirmed, or the old one being retired; else E_SPI. */
enum strait_esp_status strait_tunnel_open(struct strait_tunnel *t, struct strait_pkt *pkt,
					  uint8_t *next_header, uint64_t now_ns);

/* SPIs of the current pair (0 if none): for tests and the CLI. */
uint32_t strait_tunnel_spi_out(const struct strait_tunnel *t);
uint32_t strait_tunnel_spi_in(const struct strait_tunnel *t);
const struct strait_tunnel_stats *strait_tunnel_stats(const struct strait_tunnel *t);

#ifdef __cplusplus
}
#endif
#endif /* STRAIT_TUNNEL_H */
