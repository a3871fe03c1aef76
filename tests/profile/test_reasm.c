/* SPDX-License-Identifier: BSD-3-Clause */
/* strait-profile's reassembler: a numbered table of segment sequences, one
 * line each, with what must come out (data and gaps, in order) and the
 * counters that must move. Every case starts 128 bytes before the sequence
 * space wraps. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "dissect.h"
#include "reasm.h"

#define ISN 0xffffff7fu /* offset 0 = ISN + 1 = 2^32 - 128 */

struct op {
	char kind;    /* S syn, s another SYN, D data, X altered data, A ack, F fin, E end */
	int32_t off;  /* stream offset (before 0: before the first byte) */
	uint16_t len;
};

struct tcase {
	int n;
	size_t held_max;
	struct op ops[8];
	const char *want;     /* "d0+100 g100+50a ..." */
	uint64_t dup, conflict_bytes, late, early, beyond_fin, syn_mismatch;
};

#define NO (1 << 20)
#define S { 'S', 0, 0 }
#define S2 { 's', 0, 0 }
#define D(o, l) { 'D', o, l }
#define X(o, l) { 'X', o, l }
#define A(o) { 'A', o, 0 }
#define F(o) { 'F', o, 0 }
#define E { 'E', 0, 0 }
#define P(o) { 'P', o, 0 } /* a bare ACK of this direction: seq o */
#define T(num, held, w, ...) .n = num, .held_max = held, .want = w, .ops = { __VA_ARGS__ }

static const struct tcase cases[] = {
	{ T(1, NO, "d0+100 d100+100", S, D(0, 100), D(100, 100), F(200), E) },
	{ T(2, NO, "d0+100", S, D(0, 100), D(0, 100)), .dup = 100 },
	{ T(3, NO, "d0+100 d100+100", S, D(100, 100), D(0, 100)) },
	{ T(4, NO, "d0+100 d100+50", S, D(0, 100), D(50, 100)), .dup = 50 },
	{ T(5, NO, "d0+100 d100+50", S, D(0, 100), X(50, 100)), .dup = 50, .conflict_bytes = 50 },
	{ T(6, NO, "d0+100 d100+100 d200+50", S, D(100, 100), X(150, 100), D(0, 100)),
	  .dup = 50, .conflict_bytes = 50 },
	{ T(7, NO, "d0+100 g100+100a d200+100", S, D(0, 100), D(200, 100), A(300)) },
	{ T(8, NO, "d0+100", S, D(0, 100), A(300)) },
	{ T(9, NO, "d0+100 g100+100e d200+100", S, D(0, 100), D(200, 100), E) },
	{ T(10, NO, "d0+100 g100+200e", S, D(0, 100), F(300), E) },
	{ T(11, NO, "d0+100 g100+100a d200+100", S, D(0, 100), D(200, 100), A(300), D(100, 100)), .late = 100 },
	{ T(12, NO, "d0+100 d100+100", D(1000, 100), D(900, 150), D(1100, 100)), .early = 100, .dup = 50 },
	{ T(13, 1024, "d0+10 g10+90o d100+1000", S, D(0, 10), D(100, 1000)) },
	{ T(14, NO, "d0+100", S, F(100), D(0, 200)), .beyond_fin = 100 },
	{ T(15, NO, "d0+10", S, S2, D(0, 10)), .syn_mismatch = 1 },
	{ T(16, NO, "d0+100 d100+100 d200+100 d300+100", S, D(300, 100), D(100, 100), D(0, 400)), .dup = 200 },
	{ T(17, 1024, "g0+100o d100+500 g600+100e d700+500", S, D(100, 500), D(700, 500), D(0, 50), E), .late = 50 },
	/* the tail the capture missed, shown by the peer's ACK or the sender's
	 * own bare ACKs: the last sequence number may be the FIN's */
	{ T(18, NO, "d0+100 g100+199e", S, D(0, 100), A(300), E) },
	{ T(19, NO, "d0+100 g100+199e", S, D(0, 100), P(300), E) },
	{ T(20, NO, "d0+100", S, D(0, 100), A(101), P(101), E) },
	{ T(21, NO, "d0+100 g100+200e", S, D(0, 100), A(400), F(300), E) },
};

/* What a case's segments offered first at each offset (0 = nothing yet):
 * every byte delivered must be the first seen at its offset. */
enum { SPAN = 4096, OFF0 = 1024 }; /* offsets -1024 .. 3071 */

struct trace {
	char s[512];
	const struct reasm *r;
	uint8_t first[SPAN];
	int bad;
};

static void on_data(void *ctx, uint64_t off, const uint8_t *p, size_t len)
{
	struct trace *t = ctx;
	size_t n = strlen(t->s);
	snprintf(t->s + n, sizeof(t->s) - n, "%sd%llu+%zu", n ? " " : "", (unsigned long long)off, len);
	int32_t at = (int32_t)(t->r->base + (uint32_t)off - (ISN + 1)) + OFF0;
	for (size_t i = 0; i < len; i++)
		t->bad += at + (int)i < 0 || at + (int)i >= SPAN || p[i] != t->first[at + i];
}

static void on_gap(void *ctx, uint64_t off, uint64_t len, enum reasm_gap_reason why)
{
	struct trace *t = ctx;
	size_t n = strlen(t->s);
	snprintf(t->s + n, sizeof(t->s) - n, "%sg%llu+%llu%c", n ? " " : "", (unsigned long long)off,
		 (unsigned long long)len, "aoe"[why]);
}

Test(reasm, table)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct tcase *c = &cases[i];
		static struct trace t;
		memset(&t, 0, sizeof(t));
		struct reasm_sink k = { on_data, on_gap, &t };
		struct reasm r;
		uint8_t buf[2048];
		reasm_init(&r, c->held_max);
		t.r = &r;
		for (int j = 0; j < 8 && c->ops[j].kind; j++) {
			const struct op *o = &c->ops[j];
			uint32_t seq = ISN + 1 + (uint32_t)o->off;
			for (int b = 0; b < o->len; b++) {
				buf[b] = o->kind == 'X' ? 'x' : (uint8_t)(o->off + b) | 1;
				if (!t.first[o->off + b + OFF0])
					t.first[o->off + b + OFF0] = buf[b];
			}
			switch (o->kind) {
			case 'S': reasm_segment(&r, ISN, TCP_SYN, NULL, 0, &k); break;
			case 's': reasm_segment(&r, ISN + 5000, TCP_SYN, NULL, 0, &k); break;
			case 'D': case 'X': reasm_segment(&r, seq, TCP_ACK, buf, o->len, &k); break;
			case 'A': reasm_ack(&r, seq, &k); break;
			case 'P': reasm_segment(&r, seq, TCP_ACK, NULL, 0, &k); break;
			case 'F': reasm_segment(&r, seq, TCP_FIN | TCP_ACK, NULL, 0, &k); break;
			case 'E': reasm_finish(&r, &k); break;
			}
		}
		cr_expect_str_eq(t.s, c->want, "case %d", c->n);
		cr_expect_eq(t.bad, 0, "case %d: a delivered byte is not the first seen", c->n);
		cr_expect_eq(r.st.dup_bytes, c->dup, "case %d: dup %llu", c->n, (unsigned long long)r.st.dup_bytes);
		cr_expect_eq(r.st.conflict_bytes, c->conflict_bytes, "case %d: conflict bytes", c->n);
		cr_expect_eq(r.st.late_bytes, c->late, "case %d: late", c->n);
		cr_expect_eq(r.st.early_bytes, c->early, "case %d: early", c->n);
		cr_expect_eq(r.st.beyond_fin_bytes, c->beyond_fin, "case %d: beyond FIN", c->n);
		cr_expect_eq(r.st.syn_mismatch, c->syn_mismatch, "case %d: SYN mismatch", c->n);
		cr_expect_eq(r.next, r.st.bytes + r.st.gap_bytes, "case %d: accounting", c->n);
		reasm_free(&r);
	}
}
