/* SPDX-License-Identifier: BSD-3-Clause */
/* Link-test services (discard, echo, source) from crafted segments. */
#include <criterion/criterion.h>
#include <string.h>

#include "harness.h"
#include "tcp_services.h"

static struct harness H;
static struct harness *h = &H;
static struct tcp_services *sv;

static void fini(void)
{
	h_fini(h);
	tcp_services_free(sv);
}

TestSuite(services, .fini = fini);

static uint32_t open_to(uint16_t port)
{
	h->lport = port;
	h_send(h, 1000, 0, TH_SYN, 65535, NULL, 0, NULL, 0);
	struct h_seg s;
	h_out(h, 0, &s);
	cr_assert_eq(s.flags, TH_SYN | TH_ACK, "port %u answers", port);
	h_send(h, 1001, s.seq + 1, TH_ACK, 65535, NULL, 0, NULL, 0);
	h_clear(h);
	return s.seq;
}

static void setup(void)
{
	h_init(h, NULL, TCP_AF_INET);
	sv = tcp_services_attach(h->st, TCP_AF_INET, &h->local, 0, 16384);
	cr_assert_not_null(sv);
}

Test(services, source_streams_requested_bytes_then_closes)
{
	setup();
	uint32_t iss = open_to(TCP_SVC_SOURCE);
	h_send(h, 1001, iss + 1, TH_ACK | TH_PSH, 65535, NULL, 0, "3000\n", 5);
	uint32_t got = 0;
	bool fin = false;
	for (unsigned i = 0; i < h->nout; i++) {
		struct h_seg s;
		h_out(h, i, &s);
		for (uint32_t k = 0; k < s.len; k++)
			cr_assert_eq(s.payload[k], tcp_source_byte(s.seq - iss - 1 + k));
		got += s.len;
		fin |= (s.flags & TH_FIN) != 0;
	}
	cr_assert_eq(got, 3000);
	cr_assert(fin);
	struct tcp_services_stats st;
	tcp_services_stats(sv, &st);
	cr_assert_eq(st.sourced, 3000);
}

Test(services, source_rejects_garbage)
{
	setup();
	uint32_t iss = open_to(TCP_SVC_SOURCE);
	h_send(h, 1001, iss + 1, TH_ACK | TH_PSH, 65535, NULL, 0, "12x\n", 4);
	struct h_seg s;
	h_out(h, h->nout - 1, &s);
	cr_assert(s.flags & TH_FIN);
	struct tcp_services_stats st;
	tcp_services_stats(sv, &st);
	cr_assert_eq(st.bad_requests, 1);
	cr_assert_eq(st.sourced, 0);
}

Test(services, echo_returns_bytes)
{
	setup();
	uint32_t iss = open_to(TCP_SVC_ECHO);
	h_send(h, 1001, iss + 1, TH_ACK | TH_PSH, 65535, NULL, 0, "hello", 5);
	struct h_seg s;
	h_out(h, 0, &s);
	cr_assert_eq(s.len, 5);
	cr_assert_eq(memcmp(s.payload, "hello", 5), 0);
	h_clear(h);
	h_send(h, 1006, iss + 6, TH_ACK | TH_FIN, 65535, NULL, 0, NULL, 0);
	h_out(h, h->nout - 1, &s);
	cr_assert(s.flags & TH_FIN, "echo closes after the client does");
}

Test(services, echo_back_pressure_keeps_bytes)
{
	struct tcp_config cfg = { .sndbuf = 4000 };
	h_init(h, &cfg, TCP_AF_INET);
	sv = tcp_services_attach(h->st, TCP_AF_INET, &h->local, 0, 16384);
	uint32_t iss = open_to(TCP_SVC_ECHO);
	/* the client stops reading: its window is 0 */
	h_send(h, 1001, iss + 1, TH_ACK, 0, NULL, 0, NULL, 0);
	static uint8_t d[1000];
	for (int i = 0; i < 1000; i++)
		d[i] = (uint8_t)i;
	for (uint32_t k = 0; k < 10; k++)
		h_send(h, 1001 + 1000 * k, iss + 1, TH_ACK, 0, NULL, 0, d, 1000);
	struct tcp_conn *c = NULL;
	for (uint32_t i = 0; i < h->st->cfg.max_conns && !c; i++)
		if (h->st->conns[i].flags & TF_IN_TABLE)
			c = &h->st->conns[i];
	cr_assert_not_null(c);
	cr_assert_eq(c->sndq.bytes, 4000, "echo holds what its send buffer takes");
	cr_assert_eq(c->rcvq.bytes, 6000, "the rest waits in the receive queue");
	h_clear(h);
	/* the client reads: window opens, everything comes back */
	uint32_t acked = 0, got = 0;
	for (int round = 0; round < 50 && got < 10000; round++) {
		h_send(h, 11001, iss + 1 + acked, TH_ACK, 65535, NULL, 0, NULL, 0);
		for (unsigned i = 0; i < h->nout; i++) {
			struct h_seg s;
			h_out(h, i, &s);
			if (s.len && s.seq == iss + 1 + got) {
				for (uint32_t k = 0; k < s.len; k++)
					cr_assert_eq(s.payload[k], (uint8_t)((got + k) % 1000));
				got += s.len;
			}
		}
		acked = got;
		h_clear(h);
	}
	cr_assert_eq(got, 10000);
}

Test(services, discard_takes_everything)
{
	setup();
	uint32_t iss = open_to(TCP_SVC_DISCARD);
	static uint8_t d[1000];
	for (uint32_t k = 0; k < 50; k++)
		h_send(h, 1001 + 1000 * k, iss + 1, TH_ACK, 65535, NULL, 0, d, 1000);
	struct tcp_services_stats st;
	tcp_services_stats(sv, &st);
	cr_assert_eq(st.discarded, 50000);
	struct h_seg s;
	h_out(h, h->nout - 1, &s);
	cr_assert_eq(s.ack, 51001);
}

/* "N reset": N bytes, then an RST only once the client has acknowledged
 * all of them (an earlier RST would throw unacknowledged bytes away). */
Test(services, source_reset_after_all_bytes_acknowledged)
{
	setup();
	uint32_t iss = open_to(TCP_SVC_SOURCE);
	h_send(h, 1001, iss + 1, TH_ACK | TH_PSH, 65535, NULL, 0, "3000 reset\n", 11);
	uint32_t got = 0;
	for (unsigned i = 0; i < h->nout; i++) {
		struct h_seg s;
		h_out(h, i, &s);
		cr_assert_not(s.flags & (TH_FIN | TH_RST), "no FIN, no RST yet");
		for (uint32_t k = 0; k < s.len; k++)
			cr_assert_eq(s.payload[k], tcp_source_byte(s.seq - iss - 1 + k));
		got += s.len;
	}
	cr_assert_eq(got, 3000);
	h_clear(h);
	/* part acknowledged: still no RST */
	h_send(h, 1012, iss + 1 + 1000, TH_ACK, 65535, NULL, 0, NULL, 0);
	tcp_services_poll(sv);
	for (unsigned i = 0; i < h->nout; i++) {
		struct h_seg s;
		h_out(h, i, &s);
		cr_assert_not(s.flags & TH_RST, "RST before every byte was acknowledged");
	}
	h_clear(h);
	h_send(h, 1012, iss + 1 + 3000, TH_ACK, 65535, NULL, 0, NULL, 0);
	tcp_services_poll(sv);
	cr_assert_geq(h->nout, 1);
	struct h_seg s;
	h_out(h, h->nout - 1, &s);
	cr_assert(s.flags & TH_RST, "RST once all 3000 bytes are acknowledged");
	cr_assert_eq(s.seq, iss + 1 + 3000);
	struct tcp_services_stats st;
	tcp_services_stats(sv, &st);
	cr_assert_eq(st.aborted, 1);
	cr_assert_eq(st.sourced, 3000);
	cr_assert_eq(h->st->stats.conns, 0, "the connection is gone");
	h_clear(h);
	tcp_services_poll(sv);
	cr_assert_eq(h->nout, 0, "nothing more");
}

/* A client that resets first takes the connection off the pending list. */
Test(services, source_reset_pending_then_client_rst)
{
	setup();
	uint32_t iss = open_to(TCP_SVC_SOURCE);
	h_send(h, 1001, iss + 1, TH_ACK | TH_PSH, 65535, NULL, 0, "2000 reset\n", 11);
	h_clear(h);
	h_send(h, 1012, 0, TH_RST, 0, NULL, 0, NULL, 0);
	tcp_services_poll(sv);
	cr_assert_eq(h->nout, 0);
	struct tcp_services_stats st;
	tcp_services_stats(sv, &st);
	cr_assert_eq(st.aborted, 0);
	/* a new connection in the same slot is not reset by a stale entry */
	iss = open_to(TCP_SVC_SOURCE);
	h_send(h, 1001, iss + 1, TH_ACK | TH_PSH, 65535, NULL, 0, "10\n", 3);
	h_send(h, 1004, iss + 1 + 11, TH_ACK, 65535, NULL, 0, NULL, 0);
	tcp_services_poll(sv);
	for (unsigned i = 0; i < h->nout; i++) {
		struct h_seg s;
		h_out(h, i, &s);
		cr_assert_not(s.flags & TH_RST);
	}
}

Test(services, source_rejects_bad_reset_requests)
{
	static const char *const bad[] = { "reset\n", "12 resetx\n", "12  reset\n", "12 RESET\n", "12 abort\n" };
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		setup();
		uint32_t iss = open_to(TCP_SVC_SOURCE);
		h_send(h, 1001, iss + 1, TH_ACK | TH_PSH, 65535, NULL, 0, bad[i], (uint32_t)strlen(bad[i]));
		struct h_seg s;
		h_out(h, h->nout - 1, &s);
		cr_assert(s.flags & TH_FIN, "\"%s\" refused with a FIN", bad[i]);
		struct tcp_services_stats st;
		tcp_services_stats(sv, &st);
		cr_assert_eq(st.bad_requests, 1, "%s", bad[i]);
		cr_assert_eq(st.sourced, 0);
		fini();
	}
	setup(); /* for the suite's fini */
}
