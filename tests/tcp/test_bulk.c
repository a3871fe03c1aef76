/* SPDX-License-Identifier: BSD-3-Clause */
/* Release tier: large transfers between two engines over the lossy wire. */
#include <criterion/criterion.h>

#include "harness.h"
#include "wire.h"

Test(bulk, sixty_four_mib_each_way_one_percent_loss, .timeout = 600)
{
	struct pair_result r;
	run_pair(TCP_AF_INET, 64u << 20, 64u << 20, 1, 1, 2, 4242, &r);
	cr_log_info("64 MiB each way, 1%% drop: %.1f simulated s, retrans %lu/%lu",
		    r.sim_seconds, (unsigned long)r.retrans_a, (unsigned long)r.retrans_b);
}

Test(bulk, sixteen_mib_ipv6_five_percent_loss, .timeout = 600)
{
	run_pair(TCP_AF_INET6, 16u << 20, 4u << 20, 5, 2, 5, 99, NULL);
}

Test(bulk, sixty_four_mib_each_way_clean, .timeout = 600)
{
	struct pair_result r;
	run_pair(TCP_AF_INET, 64u << 20, 64u << 20, 0, 0, 0, 4242, &r);
	cr_log_info("64 MiB each way, clean: %.1f simulated s", r.sim_seconds);
}
