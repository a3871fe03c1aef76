// SPDX-License-Identifier: BSD-3-Clause
/* strait-wanem's counters as a summary line and as JSON (see stats.h). */
#include "stats.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void stats_summary(FILE *f, const struct dir_report r[NDIR])
{
	for (int d = 0; d < NDIR; d++) {
		const struct link_stats *s = r[d].st;

		fprintf(f, "%s%s: in %" PRIu64 " fr %" PRIu64 " B, out %" PRIu64 " fr %" PRIu64
			" B, drop loss %" PRIu64 " queue %" PRIu64 " full %" PRIu64
			" oversize %" PRIu64 " tx %" PRIu64 " overrun %" PRIu64 ", dup %" PRIu64
			", reord %" PRIu64
			", queue max %" PRIu64 " B",
			d ? "; " : "", r[d].name, s->rx_frames, s->rx_bytes, s->tx_frames,
			s->tx_bytes, s->drop_loss, s->drop_queue, s->drop_full, r[d].drop_oversize,
			r[d].drop_tx, r[d].drop_overrun, s->duplicated, s->reordered,
			s->queue_hwm_bytes);
	}
	fputc('\n', f);
	fflush(f);
}

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", (unsigned char)*s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

static void json_dir(FILE *f, const struct dir_report *r)
{
	const struct impair *im = r->im;
	const struct link_stats *s = r->st;

	fprintf(f, "  \"%s\": {\n", r->name);
	fputs("    \"from\": ", f);
	json_str(f, r->from);
	fputs(", \"to\": ", f);
	json_str(f, r->to);
	fputs(",\n", f);
	fprintf(f, "    \"config\": {\"delay_ns\": %" PRIu64 ", \"jitter_ns\": %" PRIu64
		", \"loss_pct\": %.6g, \"loss_burst\": %.6g, \"dup_pct\": %.6g"
		", \"reorder_pct\": %.6g, \"rate_bps\": %" PRIu64 ", \"queue_bytes\": %" PRIu64 "},\n",
		im->delay_ns, im->jitter_ns, im->loss * 100, im->loss_burst, im->dup * 100,
		im->reorder * 100, im->rate_bps, im->queue_bytes);
	fprintf(f, "    \"rx_frames\": %" PRIu64 ", \"rx_bytes\": %" PRIu64 ",\n",
		s->rx_frames, s->rx_bytes);
	fprintf(f, "    \"tx_frames\": %" PRIu64 ", \"tx_bytes\": %" PRIu64 ",\n",
		s->tx_frames, s->tx_bytes);
	fprintf(f, "    \"dropped\": {\"loss\": %" PRIu64 ", \"queue\": %" PRIu64
		", \"full\": %" PRIu64 ", \"oversize\": %" PRIu64 ", \"tx\": %" PRIu64
		", \"overrun\": %" PRIu64 "},\n",
		s->drop_loss, s->drop_queue, s->drop_full, r->drop_oversize, r->drop_tx,
		r->drop_overrun);
	fprintf(f, "    \"duplicated\": %" PRIu64 ", \"reordered\": %" PRIu64 ",\n",
		s->duplicated, s->reordered);
	fprintf(f, "    \"queue_hwm_bytes\": %" PRIu64 ", \"queued_frames\": %" PRIu64 "\n",
		s->queue_hwm_bytes, r->queued_frames);
	fprintf(f, "  }");
}

int stats_write_json(const char *path, const struct options *o, uint64_t seed,
		     const struct dir_report r[NDIR], const char *end,
		     double elapsed_s, double cpu_s)
{
	size_t n = strlen(path) + 5;
	char *tmp = malloc(n);
	FILE *f;
	int err = 0;

	if (!tmp)
		return -ENOMEM;
	snprintf(tmp, n, "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f) {
		err = -errno;
		free(tmp);
		return err;
	}
	fprintf(f, "{\n  \"seed\": %" PRIu64 ",\n  \"profile\": %s%s%s,\n", seed,
		o->profile ? "\"" : "", o->profile ? o->profile : "null", o->profile ? "\"" : "");
	fputs("  \"end\": ", f);
	json_str(f, end);
	fprintf(f, ",\n  \"elapsed_s\": %.3f,\n  \"cpu_s\": %.3f,\n", elapsed_s, cpu_s);
	json_dir(f, &r[DIR_A2B]);
	fputs(",\n", f);
	json_dir(f, &r[DIR_B2A]);
	fputs("\n}\n", f);
	if (ferror(f))
		err = -EIO;
	if (fclose(f) != 0 && !err)
		err = -errno;
	if (!err && rename(tmp, path) != 0)
		err = -errno;
	if (err)
		unlink(tmp);
	free(tmp);
	return err;
}
