/* SPDX-License-Identifier: BSD-3-Clause */
/* The profile's outputs: the table (stdout), the JSON report, the plot. */
#ifndef STRAIT_PROFILE_REPORT_H
#define STRAIT_PROFILE_REPORT_H

#include <stdio.h>

#include "profile.h"

struct capture_info {
	const char *path;
	const char *link;      /* link type name, or NULL when not opened */
	uint64_t packets, bytes;
	char error[512];       /* "" when the file was read to its end */
};

struct report_in {
	const struct profile *P;
	const struct capture_info *caps;
	unsigned n_caps;
	double rpo;            /* 0: not asked */
	const char *cache_note;
};

void report_table(FILE *out, const struct report_in *in);
/* 0, or -1 with errno / a message on stderr. */
int report_json(const char *path, const struct report_in *in);
int report_plot(const char *path, const struct report_in *in);

#endif
