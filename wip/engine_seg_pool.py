#!/usr/bin/env python3
# The engine change the channel needs: segments built for output from a
# pool of their own (tcp_config.seg_pool).
import os, sys
tcp = os.path.join(sys.argv[1], "dataplane", "tcp")
def edit(path, pairs):
    p = os.path.join(tcp, path)
    s = open(p).read()
    for old, new in pairs:
        if old not in s:
            sys.exit("%s: not found:\n%s" % (path, old))
        s = s.replace(old, new, 1)
    open(p, "w").write(s)
edit("tcp.h", [("""	uint32_t pending_timeout_us;
};""", """	uint32_t pending_timeout_us;
	/* Segments built for output (and freed once sent) come from this pool
	 * when set, else from the stack's: with a pool of their own, data
	 * queued for sending can never take the last mbuf a segment needs to
	 * carry it (every queue full, nothing sent, nothing acknowledged). */
	struct rte_mempool *seg_pool;
};""")])
edit("tcp_output.c", [("""	struct rte_mbuf *m = rte_pktmbuf_alloc(st->mp);""",
                       """	struct rte_mbuf *m = rte_pktmbuf_alloc(st->cfg.seg_pool ? st->cfg.seg_pool : st->mp);""")])
print("seg_pool added")
