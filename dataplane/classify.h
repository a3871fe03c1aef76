/* SPDX-License-Identifier: BSD-3-Clause */
/* Interception rules: which tenant (if any) a new TCP flow belongs to.
 * Called once per SYN, so a linear scan over the tenants is enough. */
#ifndef STRAIT_DATAPLANE_CLASSIFY_H
#define STRAIT_DATAPLANE_CLASSIFY_H

#include <stdint.h>

#include "strait/ctl.h"

/* The tenant whose rule matches a SYN from client to server:dport (host
 * order), or 0xffff (FLOW_BRIDGED). Among matching tenants the longest
 * server prefix wins, then the longest client prefix, then the narrowest
 * port range; strait_config_load() refuses configurations where that still
 * leaves a tie. */
uint16_t classify_syn(const struct strait_config *cfg, uint8_t family,
		      const uint8_t *client, const uint8_t *server, uint16_t dport);

#endif
