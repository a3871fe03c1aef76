// SPDX-License-Identifier: BSD-3-Clause
/* strait-wanem's options. Three layers, resolved per direction: a profile's
 * values, then options for both directions, then a2b-/b2a- options; a later
 * layer wins whatever the order on the command line. */
#include "options.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum field { F_DELAY, F_JITTER, F_LOSS, F_BURST, F_DUP, F_REORDER, F_RATE,
	     F_QUEUE, NFIELD };

enum queue_kind { Q_BYTES, Q_TIME, Q_BDP };

/* One layer: which fields it sets and their values (times in ns, rates in
 * bit/s, probabilities 0..1, the queue as given). */
struct layer {
	bool set[NFIELD];
	uint64_t u[NFIELD];
	double d[NFIELD];
	enum queue_kind qkind;
};

struct profile {
	const char *name;
	uint64_t rate_bps;
	uint64_t rtt_ms;
	double loss_pct;
	double burst;
};

/* The named WANs (DESIGN.md "Bench"). Each direction gets half the RTT and
 * the full loss; geo-sat loses in bursts of 4 frames on average. */
static const struct profile profiles[] = {
	{ "metro",     1000000000, 10,  0,   0 },
	{ "regional",  100000000,  50,  0.5, 0 },
	{ "transcon",  155000000,  80,  0.1, 0 },
	{ "intercont", 45000000,   150, 1,   0 },
	{ "geo-sat",   20000000,   600, 0.5, 4 },
};

static const char *const field_name[NFIELD] = {
	"delay", "jitter", "loss", "loss-burst", "dup", "reorder", "rate", "queue",
};

static const char usage[] =
"usage: strait-wanem IF_A IF_B [options]\n"
"Passes every frame between IF_A and IF_B, both directions, through the\n"
"impairments. Options apply to both directions; prefixed a2b- or b2a-\n"
"(--a2b-delay 10ms) they set one direction only.\n"
"  --delay D        one-way delay: 25ms, 800us, 1s (default 0)\n"
"  --jitter J       delay varies uniformly in [D-J, D+J]; order is kept\n"
"                   unless --reorder is given\n"
"  --loss P         percent of frames lost at random\n"
"  --loss-burst B   losses come in bursts of mean length B frames\n"
"                   (Gilbert-Elliott; --loss stays the average)\n"
"  --dup P          percent of frames duplicated\n"
"  --reorder P      percent of frames sent without the delay (ahead of\n"
"                   the ones before them); jitter may then reorder too\n"
"  --rate R         link rate: 100M, 1G, 155M, 500k (bit/s, Ethernet\n"
"                   preamble, FCS and gap counted); default unlimited\n"
"  --queue Q        rate limiter's queue: bytes, Nms of the rate, or bdp\n"
"                   (default: one bandwidth-delay product); tail drop\n"
"  --seed N         seed of the loss/dup/reorder/jitter decisions\n"
"  --profile NAME   metro, regional, transcon, intercont, geo-sat\n"
"  --stats-json F   write the counters to F at exit\n"
"SIGUSR1 prints a one-line summary; SIGTERM or SIGINT stop (exit 0).\n";

static int bad(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int bad(const char *fmt, ...)
{
	va_list ap;

	fputs("strait-wanem: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (see --help)\n", stderr);
	return -1;
}

/* A finite number at the start of s; *end after it. */
static bool number(const char *s, double *v, const char **end)
{
	char *e;

	if (!*s || *s == ' ' || *s == '+' || *s == '-')
		return false;
	errno = 0;
	*v = strtod(s, &e);
	if (e == s || errno || !isfinite(*v) || *v < 0)
		return false;
	if (strncasecmp(s, "inf", 3) == 0 || strncasecmp(s, "nan", 3) == 0 ||
	    strncasecmp(s, "0x", 2) == 0)
		return false;
	*end = e;
	return true;
}

static bool parse_time(const char *s, uint64_t *ns)
{
	static const struct { const char *unit; double scale; } units[] = {
		{ "ns", 1 }, { "us", 1e3 }, { "ms", 1e6 }, { "s", 1e9 },
	};
	const char *e;
	double v;

	if (!number(s, &v, &e))
		return false;
	if (!*e && v == 0) {
		*ns = 0;
		return true;
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (strcmp(e, units[i].unit) == 0 && v * units[i].scale < 1e13) {
			*ns = (uint64_t)llround(v * units[i].scale);
			return true;
		}
	return false;   /* no unit, or more than 10,000 s */
}

static bool parse_percent(const char *s, double *p)
{
	const char *e;
	double v;

	if (!number(s, &v, &e) || (*e && strcmp(e, "%") != 0) || v > 100)
		return false;
	*p = v / 100;
	return true;
}

static bool parse_rate(const char *s, uint64_t *bps)
{
	const char *e;
	double v, scale = 1;

	if (strcmp(s, "unlimited") == 0) {
		*bps = 0;
		return true;
	}
	if (!number(s, &v, &e))
		return false;
	switch (*e) {
	case 'k': case 'K': scale = 1e3; e++; break;
	case 'm': case 'M': scale = 1e6; e++; break;
	case 'g': case 'G': scale = 1e9; e++; break;
	}
	if (*e && strcmp(e, "bit") != 0)
		return false;
	v *= scale;
	if (v != 0 && (v < 1000 || v > 1e12))
		return false;   /* 1 kbit/s .. 1 Tbit/s */
	*bps = (uint64_t)llround(v);
	return true;
}

static bool parse_queue(const char *s, struct layer *l)
{
	const char *e;
	double v;

	if (strcmp(s, "bdp") == 0) {
		l->qkind = Q_BDP;
		return true;
	}
	if (parse_time(s, &l->u[F_QUEUE]) && strcmp(s, "0") != 0) {
		l->qkind = Q_TIME;
		return true;
	}
	if (!number(s, &v, &e) || *e || v != floor(v) || v < 1 || v > 1e12)
		return false;
	l->qkind = Q_BYTES;
	l->u[F_QUEUE] = (uint64_t)v;
	return true;
}

static bool parse_burst(const char *s, double *b)
{
	const char *e;

	return number(s, b, &e) && !*e && *b >= 1 && *b <= 1e6;
}

static const char *const field_form[NFIELD] = {
	"a time such as 25ms or 800us",
	"a time such as 5ms",
	"a percentage 0..100",
	"a mean burst length >= 1 (frames)",
	"a percentage 0..100",
	"a percentage 0..100",
	"a rate such as 100M or 1G (bit/s)",
	"bytes, a time such as 20ms, or bdp",
};

static bool parse_field(struct layer *l, enum field f, const char *v)
{
	switch (f) {
	case F_DELAY: case F_JITTER: return parse_time(v, &l->u[f]);
	case F_LOSS: case F_DUP: case F_REORDER: return parse_percent(v, &l->d[f]);
	case F_BURST: return parse_burst(v, &l->d[f]);
	case F_RATE: return parse_rate(v, &l->u[f]);
	case F_QUEUE: return parse_queue(v, l);
	default: return false;
	}
}

static const struct profile *find_profile(const char *name)
{
	for (size_t i = 0; i < sizeof(profiles) / sizeof(profiles[0]); i++)
		if (strcmp(profiles[i].name, name) == 0)
			return &profiles[i];
	return NULL;
}

static void profile_layer(const struct profile *p, struct layer *l)
{
	memset(l, 0, sizeof(*l));
	l->set[F_RATE] = l->set[F_DELAY] = l->set[F_LOSS] = true;
	l->u[F_RATE] = p->rate_bps;
	l->u[F_DELAY] = p->rtt_ms * 1000000 / 2;
	l->d[F_LOSS] = p->loss_pct / 100;
	if (p->burst > 0) {
		l->set[F_BURST] = true;
		l->d[F_BURST] = p->burst;
	}
}

/* The value of field f for a direction: its own layer, else both, else the
 * profile (layers[0..2]); NULL if none sets it. */
static const struct layer *pick(const struct layer *const layers[3], enum field f)
{
	for (int i = 2; i >= 0; i--)
		if (layers[i] && layers[i]->set[f])
			return layers[i];
	return NULL;
}

#define MAX_FRAME_WIRE 1538   /* a 1514-byte frame on the wire */

static int resolve(struct options *o, const struct layer *prof,
		   const struct layer *both, const struct layer *own)
{
	const struct layer *layers[NDIR][3] = {
		{ prof, both, &own[DIR_A2B] }, { prof, both, &own[DIR_B2A] },
	};
	static const char *const dname[NDIR] = { "a2b", "b2a" };

	for (int d = 0; d < NDIR; d++) {
		struct impair *im = &o->dir[d];
		const struct layer *l;

		memset(im, 0, sizeof(*im));
		if ((l = pick(layers[d], F_DELAY))) im->delay_ns = l->u[F_DELAY];
		if ((l = pick(layers[d], F_JITTER))) im->jitter_ns = l->u[F_JITTER];
		if ((l = pick(layers[d], F_LOSS))) im->loss = l->d[F_LOSS];
		if ((l = pick(layers[d], F_BURST))) im->loss_burst = l->d[F_BURST];
		if ((l = pick(layers[d], F_DUP))) im->dup = l->d[F_DUP];
		if ((l = pick(layers[d], F_REORDER))) im->reorder = l->d[F_REORDER];
		if ((l = pick(layers[d], F_RATE))) im->rate_bps = l->u[F_RATE];
	}
	for (int d = 0; d < NDIR; d++) {
		struct impair *im = &o->dir[d];
		const struct layer *l = pick(layers[d], F_QUEUE);
		uint64_t rtt_ns = o->dir[DIR_A2B].delay_ns + o->dir[DIR_B2A].delay_ns;

		if (im->loss_burst > 0 && im->loss == 0)
			im->loss_burst = 0;     /* a profile's bursts, loss overridden to 0 */
		if (im->loss_burst > 0 && im->loss >= 1)
			return bad("%s: --loss-burst needs --loss below 100", dname[d]);
		if (!im->rate_bps) {
			if (l && l != prof)
				return bad("%s: --queue needs --rate (it is the rate limiter's queue)",
					   dname[d]);
			continue;
		}
		if (l && l->qkind == Q_BYTES) {
			im->queue_bytes = l->u[F_QUEUE];
		} else if (l && l->qkind == Q_TIME) {
			im->queue_bytes = (uint64_t)((double)im->rate_bps * l->u[F_QUEUE] / 8e9);
		} else {
			im->queue_bytes = (uint64_t)((double)im->rate_bps * rtt_ns / 8e9);
			if (im->queue_bytes < 10 * MAX_FRAME_WIRE)
				im->queue_bytes = 10 * MAX_FRAME_WIRE;
		}
		if (im->queue_bytes < MAX_FRAME_WIRE)
			return bad("%s: --queue of %llu bytes holds no full-size frame (%d wire bytes)",
				   dname[d], (unsigned long long)im->queue_bytes, MAX_FRAME_WIRE);
		if (im->queue_bytes > (1ull << 31))
			return bad("%s: --queue above 2 GiB", dname[d]);
	}
	return 0;
}

int options_parse(struct options *o, int argc, char **argv)
{
	struct layer prof, both, own[NDIR];
	bool have_prof = false;
	int npos = 0;

	memset(o, 0, sizeof(*o));
	memset(&both, 0, sizeof(both));
	memset(own, 0, sizeof(own));
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val, *eq;
		char name[64];
		struct layer *l = &both;
		int f;

		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			fputs(usage, stdout);
			return 1;
		}
		if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
			if (a[0] == '-')
				return bad("unknown option '%s'", a);
			if (npos == NDIR)
				return bad("unexpected argument '%s' (two interfaces only)", a);
			o->ifname[npos++] = a;
			continue;
		}
		a += 2;
		eq = strchr(a, '=');
		size_t nlen = eq ? (size_t)(eq - a) : strlen(a);
		if (nlen >= sizeof(name))
			return bad("unknown option '%s'", argv[i]);
		snprintf(name, sizeof(name), "%.*s", (int)nlen, a);
		if (eq)
			val = eq + 1;
		else if (i + 1 < argc)
			val = argv[++i];
		else
			return bad("--%s needs a value", name);

		if (strcmp(name, "profile") == 0) {
			const struct profile *p = find_profile(val);

			if (!p)
				return bad("unknown profile '%s' (metro, regional, transcon, intercont, geo-sat)",
					   val);
			profile_layer(p, &prof);
			have_prof = true;
			o->profile = p->name;
			continue;
		}
		if (strcmp(name, "stats-json") == 0) {
			if (!*val)
				return bad("--stats-json needs a file name");
			o->stats_json = val;
			continue;
		}
		if (strcmp(name, "seed") == 0) {
			char *e;

			errno = 0;
			o->seed = strtoull(val, &e, 10);
			if (!*val || *e || errno || val[0] == '-')
				return bad("--seed '%s': an unsigned integer", val);
			o->seed_given = true;
			continue;
		}
		const char *fname = name;
		if (strncmp(name, "a2b-", 4) == 0) {
			l = &own[DIR_A2B];
			fname += 4;
		} else if (strncmp(name, "b2a-", 4) == 0) {
			l = &own[DIR_B2A];
			fname += 4;
		}
		for (f = 0; f < NFIELD; f++)
			if (strcmp(fname, field_name[f]) == 0)
				break;
		if (f == NFIELD)
			return bad("unknown option '--%s'", name);
		if (!parse_field(l, f, val))
			return bad("--%s '%s': expected %s", name, val, field_form[f]);
		l->set[f] = true;
	}
	if (npos < NDIR)
		return bad("two interfaces needed: strait-wanem IF_A IF_B [options]");
	if (strcmp(o->ifname[0], o->ifname[1]) == 0)
		return bad("IF_A and IF_B are both '%s'", o->ifname[0]);
	return resolve(o, have_prof ? &prof : NULL, &both, own);
}
