/* SPDX-License-Identifier: BSD-3-Clause */
/* Channel frames: parsing and writing (formats in channel_wire.h).
 *
 * The parser treats its input as hostile: the body length is checked
 * against the type before anything else is read, then every field against
 * its range; it reads nothing past the frame. The writer refuses what the
 * parser would refuse, so a frame we write always parses back. */
#include "channel_wire.h"

#include <stdbool.h>
#include <string.h>

static inline uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static inline uint64_t get64(const uint8_t *p)
{
	return get32(p) | (uint64_t)get32(p + 4) << 32;
}

static inline void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

static inline void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

static bool all_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return !acc;
}

/* Body size of each type; DATA's is its minimum. */
static const uint32_t body_size[CHAN_TYPE_MAX + 1] = {
	[CHAN_HELLO] = CHAN_HELLO_SIZE,     [CHAN_OPEN] = CHAN_OPEN_SIZE,
	[CHAN_OPENED] = CHAN_OPENED_SIZE,   [CHAN_REFUSED] = CHAN_REFUSED_SIZE,
	[CHAN_DATA] = CHAN_DATA_HEAD + 1,   [CHAN_CREDIT] = CHAN_CREDIT_SIZE,
	[CHAN_DECODED] = CHAN_DECODED_SIZE, [CHAN_CLOSE] = CHAN_CLOSE_SIZE,
	[CHAN_RESET] = CHAN_RESET_SIZE,     [CHAN_RESYNC] = CHAN_RESYNC_SIZE,
};

static bool length_ok(uint8_t type, uint32_t len)
{
	if (type == CHAN_DATA)
		return len >= body_size[type] &&
		       len <= CHAN_DATA_HEAD + CHAN_RECORDS_MAX;
	return len == body_size[type];
}

static bool tpid_ok(uint16_t t)
{
	return t == 0x8100 || t == 0x88a8 || t == 0x9100;
}

/* The ranges both the parser and the writer hold OPEN to. */
static int open_check(const struct chan_open *o)
{
	if (o->af != 4 && o->af != 6)
		return CHAN_E_FIELD;
	if (o->nvlan > CHAN_MAX_VLANS || (o->syn_flags & ~CHAN_SYN_ALL))
		return CHAN_E_FIELD;
	if ((o->syn_flags & CHAN_SYN_WSCALE) ? o->wscale > CHAN_WSCALE_MAX
					     : o->wscale != 0)
		return CHAN_E_FIELD;
	if (!o->client_port || !o->server_port)
		return CHAN_E_FIELD;
	for (unsigned i = 0; i < CHAN_MAX_VLANS; i++) {
		if (i < o->nvlan ? !tpid_ok(o->tpid[i]) : (o->tpid[i] || o->tci[i]))
			return CHAN_E_FIELD;
	}
	if (o->af == 4 && (!all_zero(o->client + 4, 12) || !all_zero(o->server + 4, 12)))
		return CHAN_E_FIELD;
	return 0;
}

static int refused_check(const struct chan_refused *r)
{
	if (r->reason < CHAN_REFUSE_RST || r->reason > CHAN_REFUSE_MAX)
		return CHAN_E_FIELD;
	if (r->reason != CHAN_REFUSE_UNREACH)
		return r->icmp_type || r->icmp_code || !all_zero(r->icmp_src, 16)
		       ? CHAN_E_FIELD : 0;
	if (r->icmp_type == 3) /* an IPv4 source fills the first 4 bytes only */
		return r->icmp_code <= 15 && all_zero(r->icmp_src + 4, 12) ? 0 : CHAN_E_FIELD;
	if (r->icmp_type == 1)
		return r->icmp_code <= 7 ? 0 : CHAN_E_FIELD;
	return CHAN_E_FIELD;
}

/* A HELLO's literal window log: 0 (the default) or one the codec runs. */
static bool window_log_ok(unsigned w)
{
	return !w || (w >= STRAIT_DEDUPE_WINDOW_LOG_MIN && w <= STRAIT_DEDUPE_WINDOW_LOG_MAX);
}

static int parse_hello(const uint8_t *b, struct chan_hello *h)
{
	if (get32(b) != CHAN_MAGIC)
		return CHAN_E_MAGIC;
	h->version = get16(b + 4);
	if (h->version != CHAN_VERSION)
		return CHAN_E_VERSION;
	if (b[7])
		return CHAN_E_RESERVED;
	h->window_log = b[6];
	if (!window_log_ok(h->window_log))
		return CHAN_E_FIELD;
	h->tenant = get32(b + 8);
	h->epoch = get32(b + 12);
	h->codec_version = get32(b + 16);
	h->min_chunk = get32(b + 20);
	h->avg_chunk = get32(b + 24);
	h->max_chunk = get32(b + 28);
	h->capacity = get64(b + 32);
	h->tx_state.epoch = get32(b + 40);
	h->rx_state.epoch = get32(b + 44);
	h->tx_state.digest = get64(b + 48);
	h->rx_state.digest = get64(b + 56);
	return 0;
}

static int parse_open(const uint8_t *b, struct chan_open *o)
{
	o->af = b[4];
	o->nvlan = b[5];
	o->syn_flags = b[6];
	o->wscale = b[7];
	o->mss = get16(b + 8);
	o->client_port = get16(b + 10);
	o->server_port = get16(b + 12);
	if (get16(b + 14))
		return CHAN_E_RESERVED;
	for (unsigned i = 0; i < CHAN_MAX_VLANS; i++) {
		o->tpid[i] = get16(b + 16 + 2 * i);
		o->tci[i] = get16(b + 20 + 2 * i);
	}
	memcpy(o->dst_mac, b + 24, 6);
	memcpy(o->src_mac, b + 30, 6);
	memcpy(o->client, b + 36, 16);
	memcpy(o->server, b + 52, 16);
	o->credit = get64(b + 68);
	return open_check(o);
}

long chan_frame_parse(const uint8_t *buf, size_t len, struct chan_frame *f)
{
	const uint8_t *b = buf + CHAN_HEADER_SIZE;
	uint32_t blen;
	int rc = 0;

	if (len < CHAN_HEADER_SIZE)
		return 0;
	if (buf[0] < 1 || buf[0] > CHAN_TYPE_MAX)
		return CHAN_E_TYPE;
	blen = (uint32_t)buf[1] | (uint32_t)buf[2] << 8 | (uint32_t)buf[3] << 16;
	if (!length_ok(buf[0], blen))
		return CHAN_E_LENGTH;
	if (len - CHAN_HEADER_SIZE < blen)
		return 0;
	memset(f, 0, sizeof(*f));
	f->type = buf[0];
	if (f->type != CHAN_HELLO && f->type != CHAN_RESYNC)
		f->flow = get32(b);
	switch (f->type) {
	case CHAN_HELLO:
		rc = parse_hello(b, &f->hello);
		break;
	case CHAN_OPEN:
		rc = parse_open(b, &f->open);
		break;
	case CHAN_OPENED:
	case CHAN_CREDIT:
	case CHAN_DECODED:
		if (get32(b + 4))
			return CHAN_E_RESERVED;
		f->value = get64(b + 8);
		break;
	case CHAN_REFUSED:
		if (b[7])
			return CHAN_E_RESERVED;
		f->refused.reason = b[4];
		f->refused.icmp_type = b[5];
		f->refused.icmp_code = b[6];
		memcpy(f->refused.icmp_src, b + 8, 16);
		rc = refused_check(&f->refused);
		break;
	case CHAN_DATA:
		f->data.epoch = get32(b + 4);
		f->data.offset = get64(b + 8);
		f->data.records = b + CHAN_DATA_HEAD;
		f->data.len = blen - CHAN_DATA_HEAD;
		break;
	case CHAN_CLOSE:
		if (get32(b + 4))
			return CHAN_E_RESERVED;
		f->close.total = get64(b + 8);
		f->close.digest = get64(b + 16);
		break;
	case CHAN_RESET:
		if (!all_zero(b + 5, 3))
			return CHAN_E_RESERVED;
		f->value = b[4];
		if (b[4] < CHAN_RESET_RST || b[4] > CHAN_RESET_MAX)
			return CHAN_E_FIELD;
		break;
	case CHAN_RESYNC:
		if (get16(b + 6))
			return CHAN_E_RESERVED;
		f->resync.epoch = get32(b);
		f->resync.cause = get16(b + 4);
		break;
	}
	if (rc)
		return rc;
	return (long)(CHAN_HEADER_SIZE + blen);
}

static void head_write(uint8_t *out, uint8_t type, uint32_t blen)
{
	out[0] = type;
	out[1] = (uint8_t)blen;
	out[2] = (uint8_t)(blen >> 8);
	out[3] = (uint8_t)(blen >> 16);
}

void chan_data_head_write(uint8_t out[CHAN_HEADER_SIZE + CHAN_DATA_HEAD],
			  uint32_t flow, uint32_t epoch, uint64_t offset,
			  uint32_t records_len)
{
	head_write(out, CHAN_DATA, CHAN_DATA_HEAD + records_len);
	put32(out + 4, flow);
	put32(out + 8, epoch);
	put64(out + 12, offset);
}

static void write_open(uint8_t *b, const struct chan_open *o)
{
	b[4] = o->af;
	b[5] = o->nvlan;
	b[6] = o->syn_flags;
	b[7] = o->wscale;
	put16(b + 8, o->mss);
	put16(b + 10, o->client_port);
	put16(b + 12, o->server_port);
	for (unsigned i = 0; i < CHAN_MAX_VLANS; i++) {
		put16(b + 16 + 2 * i, o->tpid[i]);
		put16(b + 20 + 2 * i, o->tci[i]);
	}
	memcpy(b + 24, o->dst_mac, 6);
	memcpy(b + 30, o->src_mac, 6);
	memcpy(b + 36, o->client, 16);
	memcpy(b + 52, o->server, 16);
	put64(b + 68, o->credit);
}

size_t chan_frame_write(uint8_t *out, size_t cap, const struct chan_frame *f)
{
	uint8_t *b = out + CHAN_HEADER_SIZE;
	uint32_t blen;

	if (f->type < 1 || f->type > CHAN_TYPE_MAX)
		return 0;
	blen = f->type == CHAN_DATA ? CHAN_DATA_HEAD + f->data.len : body_size[f->type];
	if (!length_ok(f->type, blen) || cap < CHAN_HEADER_SIZE + blen)
		return 0;
	if ((f->type == CHAN_OPEN && open_check(&f->open)) ||
	    (f->type == CHAN_REFUSED && refused_check(&f->refused)) ||
	    (f->type == CHAN_RESET && (f->value < CHAN_RESET_RST || f->value > CHAN_RESET_MAX)) ||
	    (f->type == CHAN_HELLO && (f->hello.version != CHAN_VERSION ||
				       !window_log_ok(f->hello.window_log))))
		return 0;
	if (f->type == CHAN_DATA) {
		chan_data_head_write(out, f->flow, f->data.epoch, f->data.offset, f->data.len);
		memcpy(b + CHAN_DATA_HEAD, f->data.records, f->data.len);
		return CHAN_HEADER_SIZE + blen;
	}
	head_write(out, f->type, blen);
	memset(b, 0, blen);
	if (f->type != CHAN_HELLO && f->type != CHAN_RESYNC)
		put32(b, f->flow);
	switch (f->type) {
	case CHAN_HELLO:
		put32(b, CHAN_MAGIC);
		put16(b + 4, f->hello.version);
		b[6] = f->hello.window_log;
		put32(b + 8, f->hello.tenant);
		put32(b + 12, f->hello.epoch);
		put32(b + 16, f->hello.codec_version);
		put32(b + 20, f->hello.min_chunk);
		put32(b + 24, f->hello.avg_chunk);
		put32(b + 28, f->hello.max_chunk);
		put64(b + 32, f->hello.capacity);
		put32(b + 40, f->hello.tx_state.epoch);
		put32(b + 44, f->hello.rx_state.epoch);
		put64(b + 48, f->hello.tx_state.digest);
		put64(b + 56, f->hello.rx_state.digest);
		break;
	case CHAN_OPEN:
		write_open(b, &f->open);
		break;
	case CHAN_OPENED:
	case CHAN_CREDIT:
	case CHAN_DECODED:
		put64(b + 8, f->value);
		break;
	case CHAN_REFUSED:
		b[4] = f->refused.reason;
		b[5] = f->refused.icmp_type;
		b[6] = f->refused.icmp_code;
		memcpy(b + 8, f->refused.icmp_src, 16);
		break;
	case CHAN_CLOSE:
		put64(b + 8, f->close.total);
		put64(b + 16, f->close.digest);
		break;
	case CHAN_RESET:
		b[4] = (uint8_t)f->value;
		break;
	case CHAN_RESYNC:
		put32(b, f->resync.epoch);
		put16(b + 4, f->resync.cause);
		break;
	}
	return CHAN_HEADER_SIZE + blen;
}

const char *chan_type_name(unsigned type)
{
	static const char *const names[CHAN_TYPE_MAX + 1] = {
		[CHAN_HELLO] = "HELLO",     [CHAN_OPEN] = "OPEN",
		[CHAN_OPENED] = "OPENED",   [CHAN_REFUSED] = "REFUSED",
		[CHAN_DATA] = "DATA",       [CHAN_CREDIT] = "CREDIT",
		[CHAN_DECODED] = "DECODED", [CHAN_CLOSE] = "CLOSE",
		[CHAN_RESET] = "RESET",     [CHAN_RESYNC] = "RESYNC",
	};
	return type >= 1 && type <= CHAN_TYPE_MAX ? names[type] : "?";
}

const char *chan_refuse_name(unsigned reason)
{
	static const char *const names[CHAN_REFUSE_MAX + 1] = {
		[CHAN_REFUSE_RST] = "rst",       [CHAN_REFUSE_UNREACH] = "unreachable",
		[CHAN_REFUSE_SILENT] = "silent", [CHAN_REFUSE_POLICY] = "policy",
		[CHAN_REFUSE_BUSY] = "busy",
	};
	return reason >= 1 && reason <= CHAN_REFUSE_MAX ? names[reason] : "?";
}

const char *chan_reset_name(unsigned reason)
{
	static const char *const names[CHAN_RESET_MAX + 1] = {
		[CHAN_RESET_RST] = "rst",           [CHAN_RESET_TIMEOUT] = "timeout",
		[CHAN_RESET_PROTOCOL] = "protocol", [CHAN_RESET_DIGEST] = "digest",
		[CHAN_RESET_ABORT] = "abort",
	};
	return reason >= 1 && reason <= CHAN_RESET_MAX ? names[reason] : "?";
}

const char *chan_wire_strerror(int err)
{
	switch (err) {
	case CHAN_E_TYPE: return "unknown frame type";
	case CHAN_E_LENGTH: return "frame length wrong for its type";
	case CHAN_E_RESERVED: return "reserved field not zero";
	case CHAN_E_FIELD: return "frame field out of range";
	case CHAN_E_MAGIC: return "not a Strait channel (HELLO magic)";
	case CHAN_E_VERSION: return "channel version not supported";
	}
	return "?";
}
