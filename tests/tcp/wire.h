/* SPDX-License-Identifier: BSD-3-Clause */
/* Two engines back to back over a wire that drops, duplicates and
 * reorders segments with a fixed seed; byte-exact transfers both ways. */
#ifndef STRAIT_TESTS_TCP_WIRE_H
#define STRAIT_TESTS_TCP_WIRE_H

#include <stdint.h>

struct pair_result {
	uint64_t steps, dropped, duped, reordered;
	double sim_seconds;
	uint64_t retrans_a, retrans_b;
};

void run_pair(uint8_t af, uint64_t a_to_b, uint64_t b_to_a, unsigned drop,
	      unsigned dup, unsigned reorder, uint32_t seed,
	      struct pair_result *res);

#endif
