/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The strait-wanem profiles and the model of how fast each carries a
 * replication stream, with and without Strait.
 *
 * Plain TCP: goodput = min(link x MSS/1500, Mathis: MSS/RTT x 1.22/sqrt(p))
 * with MSS 1448 (1500-byte packets with timestamps); no loss, no Mathis cap.
 * Strait: the channel paces at the link rate and treats random loss as
 * loss, not congestion (DESIGN.md, Channel), so goodput = link x (1 - p) x
 * the channel's payload share of a 1500-byte ESP-in-UDP packet (outer IPv4
 * 20 + UDP 8 + ESP 8 + IV 8 + ICV 16 + trailer 2 + padding 2 on average,
 * inner IPv4 20 + TCP with timestamps 32: 1384 of 1500 bytes).
 */
#ifndef STRAIT_PROFILE_WANMODEL_H
#define STRAIT_PROFILE_WANMODEL_H

enum {
	WAN_MSS = 1448,
	WAN_PACKET = 1500,
	WAN_CHANNEL_PAYLOAD = 1384,
	WAN_N_PROFILES = 5,
};

struct wan_profile {
	const char *name;
	double bps;     /* link rate */
	double rtt;     /* seconds */
	double loss;    /* probability */
	const char *loss_kind;
};

extern const struct wan_profile wan_profiles[WAN_N_PROFILES];

/* Goodput in bit/s of plain TCP and of Strait's channel on profile w. */
double wan_tcp_bps(const struct wan_profile *w);
double wan_strait_bps(const struct wan_profile *w);

#endif
