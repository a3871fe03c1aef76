/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What Strait would send: the real codec, one encoder per group (a tenant,
 * or the --ports selection) and direction, as the appliance runs it.
 *
 * Each flow direction's bytes reach the encoder in capture order, as they
 * become contiguous, through a stage of up to EST_STAGE bytes: the stage is
 * encoded (CONTINUE) when it is full, when its oldest byte has waited the
 * flush interval, at a gap and at the end of the flow (END). A flow
 * direction that has had no new byte for the flush interval while its
 * chunker holds a partial chunk is flushed (FLUSH: the partial chunk goes
 * out tentatively, as the appliance must send a request that waits for its
 * answer). A gap ends the run: the bytes after it are a new run with a
 * chunker of its own (a new codec flow id), never joined to the bytes before.
 *
 * Counted: codec bytes = every byte the encoder emits (stream header and
 * records); strait bytes = codec bytes + EST_FRAME_OVERHEAD per encode call
 * that emitted records (the channel's DATA frame around them: type, flow
 * id, length). Tunnel overhead per packet is in the WAN model.
 */
#ifndef STRAIT_PROFILE_ESTIMATE_H
#define STRAIT_PROFILE_ESTIMATE_H

#include <stdbool.h>
#include <stdint.h>

#include <strait/dedupe.h>

#include "flows.h"
#include "timeline.h"

enum {
	EST_STAGE = 256 << 10,     /* = the codec's literal batch */
	EST_FRAME_OVERHEAD = 8,
};

struct est_dir {
	struct strait_dedupe_encoder *e;
	void *mem;
	size_t mem_size;
	uint32_t next_id;
	uint64_t raw, codec, strait, frames, hits, misses, runs;
	struct strait_dedupe_cache_stats cs;
	struct timeline raw_tl, strait_tl;
};

struct group {
	char name[64];
	int tenant;                 /* index in the tenant set, -1 for --ports */
	struct strait_dedupe_params p;
	uint32_t flows;
	struct est_dir d[2];
};

struct estimate {
	struct group *g;
	unsigned n;
	bool codec;                 /* false: reassembly only, strait = raw */
	double flush;               /* seconds of capture time */
	double t0, tick;
	struct flow_dir *active;    /* flow directions with staged or partial bytes */
	uint8_t *out;
	size_t out_cap;
	char err[256];              /* set when the codec failed: fatal */
};

/* Groups are added first, then the capture is fed. */
void est_init(struct estimate *E, bool codec, double flush);
/* cache, window: the group's CacheSize and CacheWindow (0: the codec's
 * defaults); -EINVAL when the codec refuses them (a window above 1/8 of
 * the cache). */
int est_add_group(struct estimate *E, const char *name, int tenant, uint64_t cache,
		  uint64_t window);
void est_free(struct estimate *E);

/* now: seconds since the capture's start. */
void est_data(struct estimate *E, struct flow_dir *fd, double now,
	      const uint8_t *p, size_t len);
/* A gap in fd's bytes, or (final) its end: the run ends. */
void est_break(struct estimate *E, struct flow_dir *fd, double now, bool final);
/* The clock moved: stages that waited, idle partial chunks. */
void est_tick(struct estimate *E, double now);

#endif
