/* SPDX-License-Identifier: BSD-3-Clause */
#include "classify.h"

static int best_len(const struct strait_prefix *p, unsigned n, uint8_t family,
		    const uint8_t *addr)
{
	int best = -1;
	for (unsigned i = 0; i < n; i++)
		if (p[i].len > best && strait_prefix_contains(&p[i], family, addr))
			best = p[i].len;
	return best;
}

uint16_t classify_syn(const struct strait_config *cfg, uint8_t family,
		      const uint8_t *client, const uint8_t *server, uint16_t dport)
{
	uint16_t winner = 0xffff;
	int64_t best = -1;
	for (unsigned t = 0; t < cfg->n_tenants; t++) {
		const struct strait_tenant_cfg *tc = &cfg->tenants[t];
		int width = -1;
		for (unsigned i = 0; i < tc->n_ports; i++)
			if (dport >= tc->ports[i].lo && dport <= tc->ports[i].hi) {
				int w = tc->ports[i].hi - tc->ports[i].lo;
				if (width < 0 || w < width)
					width = w;
			}
		if (width < 0)
			continue;
		int s = best_len(tc->server, tc->n_server, family, server);
		if (s < 0)
			continue;
		int c = best_len(tc->client, tc->n_client, family, client);
		if (c < 0)
			continue;
		/* server length, then client length, then narrower ports */
		int64_t score = ((int64_t)s << 32) | ((int64_t)c << 17) | (65535 - width);
		if (score > best) {
			best = score;
			winner = (uint16_t)t;
		}
	}
	return winner;
}
