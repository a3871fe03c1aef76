/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * channel_wire.h - every frame of a tenant channel and every limit of it.
 *
 * A tenant channel is one TCP connection between the tenant's two inner
 * appliance addresses, inside ESP (DESIGN.md, "Data path", step 4). Both
 * directions of its byte stream are a sequence of frames. Each appliance
 * encodes the flows it sends with its own encoder (the direction's
 * mirrored cache log) and decodes what it receives with its own decoder;
 * the codec's records (include/strait/dedupe.h) travel in DATA frames.
 *
 * Every integer is little-endian (as the codec's); addresses are bytes in
 * network order, IPv4 in the first 4 of 16 (the other 12 must be zero).
 * Reserved fields must be zero. A frame is
 *
 *   0  1  type (enum chan_type)
 *   1  3  body length in bytes (exactly the type's size, or for DATA
 *         CHAN_DATA_HEAD + 1 .. CHAN_DATA_HEAD + CHAN_RECORDS_MAX)
 *   4  .  body
 *
 * Bodies (offset, size, field):
 *
 * HELLO, 64: first frame each way after the channel's TCP connects.
 *   0 4 magic "STRC" | 4 2 version (2) | 6 1 literal window log of the
 *   sender's codec (CacheWindow; 0: the default for CacheSize, else
 *   STRAIT_DEDUPE_WINDOW_LOG_MIN.._MAX) | 7 1 reserved | 8 4 tenant Id
 *   | 12 4 epoch the sender's encoder starts unless it continues
 *   | 16 4 codec format version | 20 4 min_chunk | 24 4 avg_chunk
 *   | 28 4 max_chunk | 32 8 cache capacity (CacheSize)
 *   | 40 4 epoch and 48 8 digest of the log the sender's encoder can
 *   continue (digest 0: none) | 44 4 epoch and 56 8 digest of the log
 *   the sender's decoder holds (digest 0: none)
 *   Both ends must agree on tenant, codec version, chunking, capacity and
 *   literal window (0 compares as the default it stands for), or the
 *   channel refuses to carry flows (and says which field differs). Byte 6
 *   was reserved before: a sender writes 0 for the default window, so a
 *   peer from before it agrees unless another window is set.
 *   An encoder continues its log (no new epoch) exactly when the state it
 *   can continue is non-zero and equal to the one the peer's decoder
 *   holds; each end decides the same from the two HELLOs (a cache file
 *   that outlived a restart: dedupe/README.md, "Cache files").
 *
 * OPEN, 76: the sender intercepted a client's SYN and asks the peer to open
 * the real connection to the server, as the client.
 *   0 4 flow | 4 1 af (4, 6) | 5 1 VLAN tags (0..2) | 6 1 SYN option flags
 *   (CHAN_SYN_*) | 7 1 window scale (<= 14; 0 without CHAN_SYN_WSCALE)
 *   | 8 2 MSS (0: none) | 10 2 client port | 12 2 server port (ports != 0)
 *   | 14 2 reserved | 16 2x2 TPIDs | 20 2x2 TCIs (outer first; unused
 *   tags zero) | 24 6 destination MAC | 30 6 source MAC (of the client's
 *   SYN) | 36 16 client address | 52 16 server address
 *   | 68 8 credit: decoded bytes the sender accepts toward the client
 *   before the first CREDIT (the reverse direction's initial window).
 *
 * OPENED, 16: the server accepted. 0 4 flow | 4 4 reserved | 8 8 credit
 *   (decoded bytes the peer accepts toward the server).
 *
 * REFUSED, 24: the server did not accept, and how.
 *   0 4 flow | 4 1 reason (enum chan_refuse) | 5 1 ICMP type | 6 1 ICMP
 *   code | 7 1 reserved | 8 16 the ICMP's source address (all zero unless
 *   CHAN_REFUSE_UNREACH: then type 3 with code 0..15, or ICMPv6 type 1
 *   with code 0..7, from that address: the client gets the same; an
 *   IPv4 address in the first 4 bytes, the rest zero)
 *
 * DATA, 16 + records: codec records of one flow, produced by one encode
 * call (they end on a record boundary), possibly after a stream header.
 *   0 4 flow | 4 4 epoch of the records | 8 8 offset: decoded bytes of
 *   this flow's direction before these records | 16 . records
 *
 * CREDIT, 16: 0 4 flow | 4 4 reserved | 8 8 limit: the total decoded bytes
 *   of the flow the receiver may now send (absolute, never decreases).
 *
 * DECODED, 16: 0 4 flow | 4 4 reserved | 8 8 offset: decoded bytes of the
 *   flow verified by the decoder; the encoder may free raw bytes below it.
 *
 * CLOSE, 24: the flow's direction ended (the client or server sent FIN);
 *   0 4 flow | 4 4 reserved | 8 8 total decoded bytes | 16 8 XXH3-64 of
 *   them. The receiver relays the FIN once all of them are delivered.
 *
 * RESET, 8: the flow is over at once. 0 4 flow | 4 1 reason
 *   (enum chan_reset) | 5 3 reserved
 *
 * RESYNC, 8: the receiver's decoder failed a check; nothing of the failed
 *   record was delivered. 0 4 new epoch (the failed one + 1) | 4 2 cause
 *   (the decoder's error, negated) | 6 2 reserved
 *   The decoder sends DECODED for every flow it advanced, then RESYNC, then
 *   ignores DATA of other epochs. The encoder starts the new epoch (empty
 *   log, a stream header) and resends each flow from its DECODED offset,
 *   from the raw bytes it kept.
 *
 * Flow ids name a flow for both directions. The appliance that opens a
 * flow picks its id: bit 0 is its role in the channel's TCP (0: it
 * connected, 1: it accepted), the rest counts up; ids are not reused while
 * the channel lives. Control frames (all but DATA) never wait for credit.
 */
#ifndef STRAIT_DATAPLANE_CHANNEL_WIRE_H
#define STRAIT_DATAPLANE_CHANNEL_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include <strait/dedupe.h>

enum chan_limits {
	CHAN_VERSION = 2,                    /* 2: HELLO carries the log states */
	CHAN_MAGIC = 0x43525453,             /* "STRC" little-endian */
	CHAN_HEADER_SIZE = 4,                /* type + body length */
	CHAN_RECORDS_MAX = 1 << 20,          /* codec bytes in one DATA */
	CHAN_DATA_HEAD = 16,                 /* DATA body before the records */
	CHAN_FRAME_MAX = CHAN_HEADER_SIZE + CHAN_DATA_HEAD + CHAN_RECORDS_MAX,
	CHAN_HELLO_SIZE = 64,
	CHAN_OPEN_SIZE = 76,
	CHAN_OPENED_SIZE = 16,
	CHAN_REFUSED_SIZE = 24,
	CHAN_CREDIT_SIZE = 16,
	CHAN_DECODED_SIZE = 16,
	CHAN_CLOSE_SIZE = 24,
	CHAN_RESET_SIZE = 8,
	CHAN_RESYNC_SIZE = 8,
	CHAN_CONTROL_MAX = CHAN_HEADER_SIZE + CHAN_OPEN_SIZE, /* largest control frame */
	CHAN_MAX_VLANS = 2,
	CHAN_WSCALE_MAX = 14,
};

enum chan_type {
	CHAN_HELLO = 1,
	CHAN_OPEN = 2,
	CHAN_OPENED = 3,
	CHAN_REFUSED = 4,
	CHAN_DATA = 5,
	CHAN_CREDIT = 6,
	CHAN_DECODED = 7,
	CHAN_CLOSE = 8,
	CHAN_RESET = 9,
	CHAN_RESYNC = 10,
	CHAN_TYPE_MAX = CHAN_RESYNC,
};

enum chan_syn_flags {
	CHAN_SYN_SACK = 1u << 0,
	CHAN_SYN_TIMESTAMPS = 1u << 1,
	CHAN_SYN_WSCALE = 1u << 2,
	CHAN_SYN_ALL = 7,
};

/* What the client sees when the server did not accept. */
enum chan_refuse {
	CHAN_REFUSE_RST = 1,     /* the server reset: RST */
	CHAN_REFUSE_UNREACH = 2, /* an ICMP unreachable: the same ICMP */
	CHAN_REFUSE_SILENT = 3,  /* no answer: silence */
	CHAN_REFUSE_POLICY = 4,  /* outside the tenant's rule at the peer: RST */
	CHAN_REFUSE_BUSY = 5,    /* the peer has no room: silence (the client
				  * retries its SYN) */
	CHAN_REFUSE_MAX = CHAN_REFUSE_BUSY,
};

enum chan_reset {
	CHAN_RESET_RST = 1,      /* the end host reset its connection */
	CHAN_RESET_TIMEOUT = 2,  /* its connection timed out */
	CHAN_RESET_PROTOCOL = 3, /* the flow broke a channel rule (credit,
				  * offsets, an unknown state) */
	CHAN_RESET_DIGEST = 4,   /* the CLOSE digest did not match */
	CHAN_RESET_ABORT = 5,    /* local: out of resources, shutting down */
	CHAN_RESET_MAX = CHAN_RESET_ABORT,
};

/* chan_frame_parse() errors: the peer broke the framing, so the stream
 * cannot be followed further and the channel is torn down. */
enum chan_wire_error {
	CHAN_E_TYPE = -2001,     /* unknown frame type */
	CHAN_E_LENGTH = -2002,   /* body length wrong for its type */
	CHAN_E_RESERVED = -2003, /* a reserved field is not zero */
	CHAN_E_FIELD = -2004,    /* a field outside its range */
	CHAN_E_MAGIC = -2005,    /* HELLO without the magic: not a channel */
	CHAN_E_VERSION = -2006,  /* HELLO of another channel version */
};

struct chan_hello {
	uint16_t version;
	uint8_t window_log; /* 0: the default for capacity */
	uint32_t tenant, epoch, codec_version;
	uint32_t min_chunk, avg_chunk, max_chunk;
	uint64_t capacity;
	struct strait_dedupe_state tx_state; /* the encoder can continue */
	struct strait_dedupe_state rx_state; /* the decoder holds */
};

struct chan_open {
	uint8_t af, nvlan, syn_flags, wscale;
	uint16_t mss, client_port, server_port;
	uint16_t tpid[CHAN_MAX_VLANS], tci[CHAN_MAX_VLANS];
	uint8_t dst_mac[6], src_mac[6];
	uint8_t client[16], server[16];
	uint64_t credit;
};

struct chan_refused {
	uint8_t reason, icmp_type, icmp_code;
	uint8_t icmp_src[16]; /* network order; IPv4 in the first 4 */
};

struct chan_data {
	uint32_t epoch;
	uint64_t offset;
	const uint8_t *records; /* points into the parsed buffer */
	uint32_t len;
};

struct chan_close {
	uint64_t total, digest;
};

struct chan_resync {
	uint32_t epoch;
	uint16_t cause;
};

/* One parsed frame. `flow` is set for every type but HELLO and RESYNC;
 * `value` is OPENED's and CREDIT's credit, DECODED's offset, RESET's
 * reason. */
struct chan_frame {
	uint8_t type;
	uint32_t flow;
	union {
		struct chan_hello hello;
		struct chan_open open;
		struct chan_refused refused;
		struct chan_data data;
		struct chan_close close;
		struct chan_resync resync;
		uint64_t value;
	};
};

/* Parses the frame at the start of buf[0..len). Returns its total length
 * (> 0) with *f filled, 0 when more bytes are needed (the header, or the
 * length it announces, is not all there yet; a length over the type's
 * limit is an error at once), or a negative enum chan_wire_error. DATA's
 * records point into buf. Reads nothing past len. An OPEN of the right
 * length whose fields are out of range (CHAN_E_FIELD, CHAN_E_RESERVED)
 * still sets f->type and f->flow: the stream can be followed past it, and
 * the receiver refuses that flow rather than the whole channel. */
long chan_frame_parse(const uint8_t *buf, size_t len, struct chan_frame *f);

/* Writes frame f (DATA: its records too) to out. Returns the total length,
 * or 0 when it does not fit in cap or a field is outside its range (so
 * that every frame written parses back to the same values). */
size_t chan_frame_write(uint8_t *out, size_t cap, const struct chan_frame *f);

/* The header and head of a DATA frame whose records_len bytes of records
 * the caller wrote (or will write) at out + CHAN_HEADER_SIZE + CHAN_DATA_HEAD. */
void chan_data_head_write(uint8_t out[CHAN_HEADER_SIZE + CHAN_DATA_HEAD],
			  uint32_t flow, uint32_t epoch, uint64_t offset,
			  uint32_t records_len);

/* Static names for logs and telemetry ("OPEN", "rst", ...; "?" if unknown). */
const char *chan_type_name(unsigned type);
const char *chan_refuse_name(unsigned reason);
const char *chan_reset_name(unsigned reason);
const char *chan_wire_strerror(int err);

#endif
