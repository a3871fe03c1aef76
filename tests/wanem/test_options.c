// SPDX-License-Identifier: BSD-3-Clause
/* strait-wanem's options (bench/wanem/options.c): profiles, overrides per
 * direction, queue forms, and the errors (one line, caller exits 2). */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <stdarg.h>
#include <string.h>

#include "options.h"

static int parse(struct options *o, ...)
{
	char *argv[32] = { "strait-wanem", "ia", "ib" };
	int argc = 3;
	va_list ap;
	char *a;

	va_start(ap, o);
	while ((a = va_arg(ap, char *)))
		argv[argc++] = a;
	va_end(ap);
	return options_parse(o, argc, argv);
}

#define P(o, ...) parse(o, __VA_ARGS__, (char *)NULL)

Test(options, profile_values)
{
	struct options o;

	cr_assert_eq(P(&o, "--profile", "regional"), 0);
	for (int d = 0; d < NDIR; d++) {
		cr_assert_eq(o.dir[d].rate_bps, 100000000);
		cr_assert_eq(o.dir[d].delay_ns, 25000000);
		cr_assert_float_eq(o.dir[d].loss, 0.005, 1e-12);
		/* one BDP: 100 Mbit/s x 50 ms */
		cr_assert_eq(o.dir[d].queue_bytes, 625000);
	}
	cr_assert_eq(P(&o, "--profile", "geo-sat"), 0);
	cr_assert_eq(o.dir[0].delay_ns, 300000000);
	cr_assert_float_eq(o.dir[0].loss_burst, 4, 1e-12);
	cr_assert_eq(P(&o, "--profile", "metro"), 0);
	cr_assert_eq(o.dir[1].rate_bps, 1000000000);
	cr_assert_eq(o.dir[1].delay_ns, 5000000);
	cr_assert_eq(P(&o, "--profile", "transcon"), 0);
	cr_assert_eq(o.dir[1].rate_bps, 155000000);
	cr_assert_eq(P(&o, "--profile", "intercont"), 0);
	cr_assert_float_eq(o.dir[1].loss, 0.01, 1e-12);
}

Test(options, explicit_overrides_profile_and_direction_overrides_both)
{
	struct options o;

	cr_assert_eq(P(&o, "--loss", "0", "--profile", "geo-sat", "--b2a-rate", "1M",
		       "--a2b-delay=10ms"), 0);
	cr_assert_eq(o.dir[DIR_A2B].loss, 0);
	cr_assert_eq(o.dir[DIR_A2B].loss_burst, 0);
	cr_assert_eq(o.dir[DIR_A2B].delay_ns, 10000000);
	cr_assert_eq(o.dir[DIR_B2A].delay_ns, 300000000);
	cr_assert_eq(o.dir[DIR_A2B].rate_bps, 20000000);
	cr_assert_eq(o.dir[DIR_B2A].rate_bps, 1000000);
	/* the BDP uses both one-way delays: 20 Mbit/s x 310 ms */
	cr_assert_eq(o.dir[DIR_A2B].queue_bytes, 775000);
}

Test(options, queue_forms)
{
	struct options o;

	cr_assert_eq(P(&o, "--rate", "100M", "--queue", "20ms"), 0);
	cr_assert_eq(o.dir[0].queue_bytes, 250000);
	cr_assert_eq(P(&o, "--rate", "100M", "--queue", "64000"), 0);
	cr_assert_eq(o.dir[0].queue_bytes, 64000);
	/* no delay: the BDP floor of ten full frames */
	cr_assert_eq(P(&o, "--rate", "1G", "--queue", "bdp"), 0);
	cr_assert_eq(o.dir[0].queue_bytes, 15380);
	cr_assert_eq(P(&o, "--delay", "800us", "--jitter", "100us", "--seed", "9"), 0);
	cr_assert_eq(o.dir[0].delay_ns, 800000);
	cr_assert_eq(o.dir[0].jitter_ns, 100000);
	cr_assert(o.seed_given && o.seed == 9);
	cr_assert_eq(o.dir[0].queue_bytes, 0);
}

Test(options, errors, .init = cr_redirect_stderr)
{
	static const char *const bad[][3] = {
		{ "--delay", "5" }, { "--delay", "-5ms" }, { "--rate", "100Q" },
		{ "--loss", "101" }, { "--loss", "abc" }, { "--queue", "20ms" },
		{ "--profile", "moon" }, { "--bogus", "1" }, { "--seed", "-1" },
		{ "--loss-burst", "0.5" }, { "--jitter", "nan" }, { "--rate", "1e3000" },
	};
	struct options o;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(P(&o, bad[i][0], bad[i][1]), -1, "%s %s", bad[i][0], bad[i][1]);
	cr_assert_eq(P(&o, "--rate", "100M", "--queue", "100"), -1);   /* no full frame */
	cr_assert_eq(P(&o, "--delay"), -1);
	cr_assert_eq(P(&o, "--loss", "100", "--loss-burst", "3"), -1);
	char *same[] = { "strait-wanem", "x", "x" };
	cr_assert_eq(options_parse(&o, 3, same), -1);
	char *one[] = { "strait-wanem", "x" };
	cr_assert_eq(options_parse(&o, 2, one), -1);
}
