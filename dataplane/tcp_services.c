/* SPDX-License-Identifier: BSD-3-Clause */
/* discard, echo and source services over the engine's application API. */
#include "tcp_services.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

enum { REQ_MAX = 32, CHUNK = 16384 };

struct svc_conn {
	uint64_t remaining; /* source: bytes still to send */
	uint64_t offset;    /* source: bytes sent so far */
	uint8_t port;
	uint8_t nreq;       /* source: request characters seen */
	bool streaming, done;
	bool reset;         /* source: RST instead of FIN ("N reset") */
	bool abort_pending; /* source: on the pending list, waiting for ACKs */
	struct tcp_conn *c;
	char req[REQ_MAX + 1];
};

struct tcp_services {
	struct tcp_stack *st;
	uint8_t pattern[CHUNK + 251]; /* tcp_source_byte(i), i = 0.. */
	uint32_t max_conns;
	struct svc_conn *conns;
	/* "N reset" connections whose N bytes are sent but not all
	 * acknowledged yet: slot indices, checked by tcp_services_poll() */
	uint32_t *pending;
	uint32_t npending;
	struct tcp_services_stats stats;
	uint8_t buf[CHUNK];
};

/* All of the connection's data acknowledged by the peer. */
static bool all_acked(const struct tcp_conn *c)
{
	return tcp_unacked(c) == 0;
}

static void source_abort(struct tcp_services *sv, struct tcp_conn *c, struct svc_conn *s)
{
	sv->stats.aborted++;
	memset(s, 0, sizeof(*s));
	tcp_abort(c);
}

/* The source's end: FIN, or for "N reset" an RST once every byte sent is
 * acknowledged (an RST discards what is unacknowledged, so before that the
 * client could see fewer than N bytes). The RST goes from
 * tcp_services_poll(), never from inside an event: the handle stays valid
 * for the rest of the event. */
static void source_end(struct tcp_services *sv, struct tcp_conn *c, struct svc_conn *s)
{
	s->done = true;
	if (!s->reset) {
		tcp_shutdown(c);
		return;
	}
	s->abort_pending = true;
	s->c = c;
	sv->pending[sv->npending++] = tcp_conn_index(c); /* one per slot: fits */
}

/* The connection in slot idx is gone: off the pending list. */
static void unpend(struct tcp_services *sv, uint32_t idx)
{
	for (uint32_t i = 0; i < sv->npending; i++)
		if (sv->pending[i] == idx) {
			sv->pending[i] = sv->pending[--sv->npending];
			return;
		}
}

void tcp_services_poll(struct tcp_services *sv)
{
	for (uint32_t i = 0; i < sv->npending;) {
		struct svc_conn *s = &sv->conns[sv->pending[i]];
		if (s->abort_pending && !all_acked(s->c)) {
			i++;
			continue;
		}
		if (s->abort_pending) /* else: the slot was cleared meanwhile */
			source_abort(sv, s->c, s);
		sv->pending[i] = sv->pending[--sv->npending];
	}
}

static void source_pump(struct tcp_services *sv, struct tcp_conn *c, struct svc_conn *s)
{
	while (s->remaining) {
		/* offer a full chunk: a short write arms TCP_EV_WRITABLE */
		size_t want = s->remaining < CHUNK ? (size_t)s->remaining : CHUNK;
		long k = tcp_write(c, sv->pattern + s->offset % 251, want);
		if (k <= 0)
			break;
		s->offset += (uint64_t)k;
		s->remaining -= (uint64_t)k;
		sv->stats.sourced += (uint64_t)k;
		if ((size_t)k < want)
			break;
	}
	if (!s->remaining && !s->done)
		source_end(sv, c, s);
}

/* A request is "N" or "N reset" (digits, one space, the word), ended by
 * a newline; anything else is refused with a FIN. */
static bool parse_request(struct svc_conn *s)
{
	s->req[s->nreq] = 0;
	char *end;
	if (s->req[0] < '0' || s->req[0] > '9')
		return false;
	errno = 0;
	unsigned long long n = strtoull(s->req, &end, 10);
	if (errno)
		return false;
	if (!strcmp(end, " reset"))
		s->reset = true;
	else if (*end)
		return false;
	s->remaining = n;
	return true;
}

static void source_request(struct tcp_services *sv, struct tcp_conn *c, struct svc_conn *s)
{
	while (!s->streaming && tcp_readable(c)) {
		char ch;
		tcp_read(c, &ch, 1);
		if (ch == '\n' || ch == '\r') {
			if (!s->nreq)
				continue;
			if (!parse_request(s))
				goto bad;
			s->streaming = true;
		} else if (((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || ch == ' ') &&
			   s->nreq < REQ_MAX) {
			s->req[s->nreq++] = ch;
		} else {
			goto bad;
		}
	}
	if (s->streaming) {
		/* anything after the request is discarded */
		size_t n = tcp_readable(c);
		tcp_consume(c, n);
		source_pump(sv, c, s);
	}
	return;
bad:
	sv->stats.bad_requests++;
	s->done = true;
	tcp_shutdown(c);
}

static void echo_pump(struct tcp_services *sv, struct tcp_conn *c, struct svc_conn *s)
{
	for (;;) {
		/* peek, offer all of it, take only what the send side took:
		 * a short write arms TCP_EV_WRITABLE, the rest stays queued
		 * and the client's window closes */
		size_t n = tcp_peek(c, sv->buf, CHUNK);
		if (!n)
			break;
		long k = tcp_write(c, sv->buf, n);
		if (k <= 0)
			break;
		tcp_consume(c, (size_t)k);
		sv->stats.echoed += (uint64_t)k;
		if ((size_t)k < n)
			break;
	}
	if (tcp_peer_closed(c) && !tcp_readable(c) && !s->done) {
		s->done = true;
		tcp_shutdown(c);
	}
}

static void on_event(void *arg, struct tcp_conn *c, uint32_t ev)
{
	struct tcp_services *sv = arg;
	uint32_t idx = tcp_conn_index(c);
	if (idx >= sv->max_conns) {
		tcp_abort(c);
		return;
	}
	struct svc_conn *s = &sv->conns[idx];
	if (ev & TCP_EV_CONNECTED) {
		uint8_t af;
		struct tcp_addr la, ra;
		uint16_t lp, rp;
		tcp_conn_tuple(c, &af, &la, &lp, &ra, &rp);
		if (s->abort_pending)
			unpend(sv, idx);
		memset(s, 0, sizeof(*s));
		s->port = (uint8_t)lp;
		sv->stats.accepted++;
	}
	if (ev & (TCP_EV_RESET | TCP_EV_TIMEOUT | TCP_EV_CLOSED)) {
		tcp_conn_stats(c, &sv->stats.last);
		if (s->abort_pending)
			unpend(sv, idx);
		memset(s, 0, sizeof(*s));
		tcp_close(c);
		return;
	}
	switch (s->port) {
	case TCP_SVC_DISCARD: {
		size_t n = tcp_readable(c);
		tcp_consume(c, n);
		sv->stats.discarded += n;
		if ((ev & TCP_EV_PEER_FIN) && !s->done) {
			s->done = true;
			tcp_shutdown(c);
		}
		break;
	}
	case TCP_SVC_ECHO:
		echo_pump(sv, c, s);
		break;
	case TCP_SVC_SOURCE:
		if (s->streaming) {
			size_t n = tcp_readable(c);
			tcp_consume(c, n);
			source_pump(sv, c, s);
		} else {
			source_request(sv, c, s);
		}
		if ((ev & TCP_EV_PEER_FIN) && !s->streaming && !s->done) {
			s->done = true;
			tcp_shutdown(c);
		}
		break;
	default:
		break;
	}
}

int tcp_services_listen(struct tcp_services *sv, enum tcp_af af,
			const struct tcp_addr *addr, uint16_t tenant)
{
	static const uint16_t ports[] = { TCP_SVC_ECHO, TCP_SVC_DISCARD, TCP_SVC_SOURCE };
	for (unsigned i = 0; i < 3; i++) {
		int rc = tcp_listen_cb(sv->st, af, addr, ports[i], tenant,
				       TCP_LISTEN_SYNCOOKIES, on_event, sv);
		if (rc)
			return rc;
	}
	return 0;
}

struct tcp_services *tcp_services_attach(struct tcp_stack *st, enum tcp_af af,
					 const struct tcp_addr *addr,
					 uint16_t tenant, uint32_t max_conns)
{
	struct tcp_services *sv = calloc(1, sizeof(*sv));
	if (!sv)
		goto err;
	sv->conns = calloc(max_conns, sizeof(*sv->conns));
	if (!sv->conns)
		goto err_sv;
	sv->pending = calloc(max_conns, sizeof(*sv->pending));
	if (!sv->pending)
		goto err_conns;
	sv->st = st;
	sv->max_conns = max_conns;
	for (size_t i = 0; i < sizeof(sv->pattern); i++)
		sv->pattern[i] = tcp_source_byte(i);
	int rc = tcp_services_listen(sv, af, addr, tenant);
	if (rc) {
		free(sv->pending);
		free(sv->conns);
		free(sv);
		errno = -rc;
		return NULL;
	}
	return sv;
err_conns:
	free(sv->conns);
err_sv:
	free(sv);
err:
	errno = ENOMEM;
	return NULL;
}

void tcp_services_stats(const struct tcp_services *sv, struct tcp_services_stats *out)
{
	*out = sv->stats;
}

void tcp_services_free(struct tcp_services *sv)
{
	if (!sv)
		return;
	free(sv->pending);
	free(sv->conns);
	free(sv);
}
