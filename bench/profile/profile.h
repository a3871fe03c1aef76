/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The profiler's engine: each captured TCP segment goes to its connection,
 * whose selection (a tenant's interception rule, or --ports) is decided
 * when the connection is first seen; selected connections are reassembled
 * and their bytes handed to the estimate as they become contiguous.
 *
 * Who is the client: the sender of a SYN (or the receiver of a SYN-ACK).
 * For a connection whose handshake the capture did not see, the server is
 * the side whose port a rule selects (with tenants: the orientation whose
 * rule matches; if both or neither do, the lower port is the server), and
 * the stream starts at the first byte seen.
 * A connection ends at RST, when both directions have reached their FIN,
 * or at the end of the captures; a SYN on a closed connection's 5-tuple,
 * or with another ISN, starts a new one.
 */
#ifndef STRAIT_PROFILE_PROFILE_H
#define STRAIT_PROFILE_PROFILE_H

#include <stdbool.h>
#include <stdint.h>

#include "strait/ctl.h"

#include "dissect.h"
#include "estimate.h"
#include "flows.h"

enum { GAPS_LISTED = 256, PROFILE_MAX_PORT_RANGES = 64 };

struct profile_counts {
	uint64_t packets, bytes;            /* captured frames, their bytes */
	uint64_t by_result[DISSECT_N_RESULTS];
	uint64_t untracked;                 /* bare ACKs and RSTs of no flow */
	uint64_t after_close;               /* segments of a closed connection */
	uint64_t other_flows, other_bytes;  /* not selected: count, payload */
	uint64_t snapped;                   /* segments cut short by the snap length */
	uint64_t time_backwards;            /* timestamps earlier than the last */
	uint64_t bad_checksum;              /* dropped by --verify-checksums */
	uint64_t out_of_memory;
};

struct profile {
	struct flow_table ft;
	struct estimate est;
	const struct strait_config *tenants; /* NULL: the --ports group */
	struct strait_port_range ports[PROFILE_MAX_PORT_RANGES];
	unsigned n_ports;                    /* 0: every port */
	size_t ooo_limit;
	const char *dump_dir;
	bool started;
	double t0, now;                      /* first timestamp, clock */
	struct profile_counts c;
	char err[512];                       /* a fatal error (dump, codec) */
};

/* Then the caller sets up P->est (its groups: one per tenant, in the
 * tenant set's order, or one for --ports). */
void profile_init(struct profile *P);
void profile_free(struct profile *P);

/* Counts a frame and moves the clock to its timestamp t (seconds): called
 * for every frame, TCP or not, before profile_segment. */
void profile_frame(struct profile *P, double t, uint32_t wire_len,
		   enum dissect_result r);
/* A TCP segment of the last frame. */
void profile_segment(struct profile *P, const struct segment *s);
/* End of every capture: every open connection ends. */
void profile_finish(struct profile *P);

/* "client:port-server:port" style names, for reports and dump files. */
void profile_endpoint(char *buf, size_t len, uint8_t family, const uint8_t *a,
		      uint16_t port);

#endif
