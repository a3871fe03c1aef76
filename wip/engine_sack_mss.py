#!/usr/bin/env python3
# Engine fix: a data segment that carries SACK blocks is that much shorter
# (Linux: tcp_current_mss), else it exceeds the path MTU by up to 28 bytes.
import os, sys, re
tcp = os.path.join(sys.argv[1], "dataplane", "tcp")
def edit(path, pairs, count=1):
    p = os.path.join(tcp, path)
    s = open(p).read()
    for old, new in pairs:
        if old not in s:
            sys.exit("%s: not found:\n%s" % (path, old))
        s = s.replace(old, new, count)
    open(p, "w").write(s)
edit("tcp_options.c", [("""	return n;
}""", """	return n;
}

uint32_t tcp_data_mss(const struct tcp_conn *c)
{
	/* snd_mss already leaves room for the timestamps; SACK blocks (and a
	 * D-SACK) take the rest from the payload, as Linux does */
	if (!(c->flags & TF_SACK) || (!c->nrsb && c->rcv_dsack[0] == c->rcv_dsack[1]))
		return c->snd_mss;
	uint8_t tmp[TCP_OPT_SPACE];
	unsigned extra = tcp_build_options(c, TH_ACK, tmp) - (c->flags & TF_TS ? 12u : 0u);
	return c->snd_mss > extra + 1 ? c->snd_mss - extra : 1;
}""")])
edit("tcp_internal.h", [("""unsigned tcp_build_options(const struct tcp_conn *c, uint8_t flags,""",
"""/* The payload a data segment sent now may carry: snd_mss less the SACK
 * blocks the segment will carry (so no segment exceeds the path MTU). */
uint32_t tcp_data_mss(const struct tcp_conn *c);
unsigned tcp_build_options(const struct tcp_conn *c, uint8_t flags,""")])
p = os.path.join(tcp, "tcp_output.c")
s = open(p).read()
n0 = s.count("if (hl > c->snd_mss)\n")
s = s.replace("if (hl > c->snd_mss)\n\t\t\t\t\thl = c->snd_mss;", "if (hl > tcp_data_mss(c))\n\t\t\t\t\thl = tcp_data_mss(c);")
s = s.replace("if (hl > c->snd_mss)\n\t\thl = c->snd_mss;", "if (hl > tcp_data_mss(c))\n\t\thl = tcp_data_mss(c);")
old = """		uint32_t len = avail < usable ? avail : usable;
		if (len > c->snd_mss)
			len = c->snd_mss;"""
new = """		uint32_t len = avail < usable ? avail : usable;
		uint32_t mss = tcp_data_mss(c);
		if (len > mss)
			len = mss;"""
assert old in s; s = s.replace(old, new)
old = """		if (len < c->snd_mss && len < avail && inflight &&"""
new = """		if (len < mss && len < avail && inflight &&"""
assert old in s; s = s.replace(old, new)
open(p, "w").write(s)
edit("tcp_timer.c", [("""		uint32_t len = end_data - c->snd_nxt;
		if (len > c->snd_mss)
			len = c->snd_mss;""", """		uint32_t len = end_data - c->snd_nxt;
		if (len > tcp_data_mss(c))
			len = tcp_data_mss(c);"""),
("""		uint32_t lo = hi - c->snd_una > c->snd_mss ? hi - c->snd_mss : c->snd_una;""",
 """		uint32_t mss = tcp_data_mss(c);
		uint32_t lo = hi - c->snd_una > mss ? hi - mss : c->snd_una;""")])
print("data mss:", n0, "retransmission clamps,", s.count("tcp_data_mss"), "uses")
