/* SPDX-License-Identifier: BSD-3-Clause */
#include "wanmodel.h"

#include <math.h>

/* The profiles of strait-wanem (bench/wanem/options.c), which gives each
 * direction half the RTT and the full loss. */
const struct wan_profile wan_profiles[WAN_N_PROFILES] = {
	{ "metro", 1e9, 0.010, 0, "none" },
	{ "regional", 100e6, 0.050, 0.005, "random" },
	{ "transcon", 155e6, 0.080, 0.001, "random" },
	{ "intercont", 45e6, 0.150, 0.01, "random" },
	{ "geo-sat", 20e6, 0.600, 0.005, "bursts (mean 4 frames)" },
};

double wan_tcp_bps(const struct wan_profile *w)
{
	double link = w->bps * WAN_MSS / WAN_PACKET;
	if (w->loss <= 0)
		return link;
	double mathis = WAN_MSS * 8 / w->rtt * 1.22 / sqrt(w->loss);
	return fmin(link, mathis);
}

double wan_strait_bps(const struct wan_profile *w)
{
	return w->bps * (1 - w->loss) * WAN_CHANNEL_PAYLOAD / WAN_PACKET;
}
