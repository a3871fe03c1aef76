/* SPDX-License-Identifier: BSD-3-Clause */
/* Segment arrival: validation, demultiplexing, the RFC 9293 3.10.7 state
 * machine with RFC 5961 protections, RFC 7323 PAWS, ACK processing and the
 * receive queues (in-order and out-of-order). SYN cookies are in
 * tcp_syncookie.c, pending opens of intercepted flows in tcp_pending.c. */
#include "tcp_internal.h"

#include <string.h>

#include <rte_ip.h>
#include <rte_tcp.h>

/* ---- validation ---- */

/* Every length and offset is checked before use; the mbuf is linearized
 * (segments we keep are single mbufs). Returns false for anything
 * malformed, with the matching counter bumped. */
bool tcp_parse(struct tcp_stack *st, struct rte_mbuf *m, struct tcp_seg *s)
{
	if (!rte_pktmbuf_is_contiguous(m) && rte_pktmbuf_linearize(m) != 0) {
		st->stats.nombuf++;
		return false;
	}
	uint32_t l3off = m->l2_len;
	uint32_t avail = m->data_len;
	if (avail < l3off + 20) {
		st->stats.bad_hdr++;
		return false;
	}
	const uint8_t *p = rte_pktmbuf_mtod(m, const uint8_t *) + l3off;
	avail -= l3off;
	uint32_t l3len, l4len;
	const struct rte_tcp_hdr *th;
	/* the NIC's verdicts count only when asked for, and only GOOD ones:
	 * BAD, UNKNOWN and NONE are checked here */
	uint64_t rxf = (st->cfg.flags & TCP_CFG_RX_CSUM_OFFLOAD) ? m->ol_flags : 0;
	bool csum_ok = (rxf & RTE_MBUF_F_RX_L4_CKSUM_MASK) == RTE_MBUF_F_RX_L4_CKSUM_GOOD;
	bool ip_csum_ok = (rxf & RTE_MBUF_F_RX_IP_CKSUM_MASK) == RTE_MBUF_F_RX_IP_CKSUM_GOOD;

	memset(s, 0, sizeof(*s));
	if ((p[0] >> 4) == 4) {
		const struct rte_ipv4_hdr *ip = (const struct rte_ipv4_hdr *)p;
		l3len = (uint32_t)(p[0] & 0xf) * 4;
		uint32_t tot = rte_be_to_cpu_16(ip->total_length);
		if (l3len < 20 || tot < l3len + 20 || tot > avail ||
		    ip->next_proto_id != IPPROTO_TCP ||
		    (rte_be_to_cpu_16(ip->fragment_offset) &
		     (RTE_IPV4_HDR_MF_FLAG | RTE_IPV4_HDR_OFFSET_MASK))) {
			st->stats.bad_hdr++;
			return false;
		}
		l4len = tot - l3len;
		th = (const struct rte_tcp_hdr *)(p + l3len);
		/* a valid header sums to 0xffff, options included */
		if ((!ip_csum_ok && rte_raw_cksum(ip, l3len) != 0xffff) ||
		    (!csum_ok && rte_ipv4_udptcp_cksum(ip, th) != 0)) {
			st->stats.bad_csum++;
			return false;
		}
		s->af = TCP_AF_INET;
		memcpy(s->src.b, &ip->src_addr, 4);
		memcpy(s->dst.b, &ip->dst_addr, 4);
	} else if ((p[0] >> 4) == 6) {
		const struct rte_ipv6_hdr *ip = (const struct rte_ipv6_hdr *)p;
		l3len = sizeof(*ip);
		if (avail < l3len + 20) {
			st->stats.bad_hdr++;
			return false;
		}
		l4len = rte_be_to_cpu_16(ip->payload_len);
		/* extension headers are not accepted for local TCP */
		if (ip->proto != IPPROTO_TCP || l4len < 20 || l4len > avail - l3len) {
			st->stats.bad_hdr++;
			return false;
		}
		th = (const struct rte_tcp_hdr *)(p + l3len);
		if (!csum_ok && rte_ipv6_udptcp_cksum(ip, th) != 0) {
			st->stats.bad_csum++;
			return false;
		}
		s->af = TCP_AF_INET6;
		memcpy(s->src.b, ip->src_addr, 16);
		memcpy(s->dst.b, ip->dst_addr, 16);
	} else {
		st->stats.bad_hdr++;
		return false;
	}
	uint32_t doff = (uint32_t)(th->data_off >> 4) * 4;
	if (doff < 20 || doff > l4len) {
		st->stats.bad_hdr++;
		return false;
	}
	s->sport = rte_be_to_cpu_16(th->src_port);
	s->dport = rte_be_to_cpu_16(th->dst_port);
	if (!s->sport || !s->dport) {
		st->stats.bad_hdr++;
		return false;
	}
	s->seq = rte_be_to_cpu_32(th->sent_seq);
	s->ack = rte_be_to_cpu_32(th->recv_ack);
	s->wnd = rte_be_to_cpu_16(th->rx_win);
	s->flags = th->tcp_flags;
	s->len = l4len - doff;
	s->payload_off = l3off + l3len + doff;
	if (!tcp_parse_options((const uint8_t *)(th + 1), doff - 20,
			       (s->flags & TH_SYN) != 0, &s->opt)) {
		st->stats.bad_opts++;
		return false;
	}
	return true;
}

/* ---- helpers ---- */

static uint16_t clamp_mss(const struct tcp_stack *st, uint8_t af, const struct tcp_opts *o)
{
	uint16_t ours = af == TCP_AF_INET ? st->cfg.mss : (uint16_t)(st->cfg.mss - 20);
	uint16_t theirs = o->has_mss ? o->mss : (af == TCP_AF_INET ? 536 : 1220);
	if (theirs < TCP_MSS_FLOOR)
		theirs = TCP_MSS_FLOOR;
	uint16_t m = theirs < ours ? theirs : ours;
	/* room for our options (timestamps + 3 SACK blocks) within MSS is
	 * taken from the payload, as RFC 6691 says */
	return m;
}

void tcp_negotiate(struct tcp_conn *c, const struct tcp_seg *s)
{
	const struct tcp_config *cfg = &c->st->cfg;
	c->syn_mss = s->opt.has_mss ? s->opt.mss : 0;
	c->syn_wscale = s->opt.has_wscale ? (int8_t)s->opt.wscale : -1;
	c->syn_sack_ok = s->opt.sack_ok;
	c->syn_ts = s->opt.has_ts;
	c->snd_mss = clamp_mss(c->st, c->af, &s->opt);
	if (s->opt.has_wscale && !(cfg->flags & TCP_CFG_NO_WSCALE)) {
		c->flags |= TF_WSCALE;
		c->snd_wscale = s->opt.wscale;
	} else {
		c->rcv_wscale = 0;
		c->snd_wscale = 0;
	}
	if (s->opt.sack_ok && !(cfg->flags & TCP_CFG_NO_SACK))
		c->flags |= TF_SACK;
	if (s->opt.has_ts && !(cfg->flags & TCP_CFG_NO_TIMESTAMPS)) {
		c->flags |= TF_TS;
		c->ts_recent = s->opt.tsval;
		c->ts_recent_us = c->st->now;
	}
	if (c->flags & TF_TS)
		c->snd_mss = (uint16_t)(c->snd_mss - 12);
}

/* The connection reached CLOSED by an orderly path. */
static void conn_closed(struct tcp_conn *c)
{
	c->t_rto = c->t_delack = c->t_persist = c->t_tw = c->t_pace = 0;
	tcp_timer_update(c);
	tcp_set_state(c, TCP_CLOSED);
	if (c->flags & TF_APP_CLOSED)
		tcp_conn_free(c->st, c);
	else
		tcp_notify(c, TCP_EV_CLOSED);
}

void tcp_conn_closed(struct tcp_conn *c)
{
	conn_closed(c);
}

void tcp_established(struct tcp_conn *c)
{
	tcp_set_state(c, TCP_ESTABLISHED);
	if (c->flags & TF_FIN_QUEUED)
		tcp_set_state(c, TCP_FIN_WAIT_1);
	tcp_notify(c, TCP_EV_CONNECTED);
}

/* ---- LISTEN ---- */

static bool passive_open(struct tcp_stack *st, const struct tcp_listener *l,
			 const struct tcp_seg *s)
{
	if ((l->flags & TCP_LISTEN_SYNCOOKIES) &&
	    (st->cfg.flags & TCP_CFG_SYNCOOKIES_ALWAYS)) {
		tcp_cookie_send(st, s);
		return true;
	}
	if (!tcp_may_open(st, l->tenant, true)) {
		if ((l->flags & TCP_LISTEN_SYNCOOKIES) &&
		    st->half_open >= st->cfg.max_half_open) {
			tcp_cookie_send(st, s);
			return true;
		}
		return false; /* silently: the client retries */
	}
	struct tcp_conn *c = tcp_conn_alloc(st, s->af, &s->dst, s->dport,
					    &s->src, s->sport, l->tenant);
	if (!c)
		return false;
	c->flags |= TF_PASSIVE;
	c->handler = l->fn;
	c->handler_arg = l->arg;
	c->irs = s->seq;
	c->rcv_nxt = s->seq + 1;
	tcp_negotiate(c, s);
	c->iss = tcp_isn(st, c);
	c->snd_una = c->iss;
	c->snd_nxt = c->snd_max = c->iss + 1;
	c->recover = c->iss;
	c->snd_wnd = s->wnd; /* never scaled in a SYN */
	c->max_snd_wnd = c->snd_wnd;
	c->snd_wl1 = s->seq;
	c->snd_wl2 = c->iss;
	tcp_cc_init(c);
	tcp_set_state(c, TCP_SYN_RECEIVED);
	tcp_send_segment(c, c->iss, 0, TH_SYN | TH_ACK);
	c->flags |= TF_RTT_TIMING;
	c->rtt_seq = c->iss;
	c->rtt_start_us = st->now;
	tcp_arm_rto(c);
	return true;
}

/* ---- receive queues ---- */

static void rcvq_append(struct tcp_conn *c, struct rte_mbuf *m)
{
	struct rte_mbuf *t = c->rcvq.tail;
	uint16_t len = m->data_len;
	/* Copy small segments into the tail's free room so that a peer
	 * sending tiny segments cannot pin one mbuf per byte. */
	if (t && RTE_MBUF_DIRECT(t) && rte_mbuf_refcnt_read(t) == 1 &&
	    rte_pktmbuf_tailroom(t) >= len && len <= 512) {
		memcpy(rte_pktmbuf_append(t, len), rte_pktmbuf_mtod(m, void *), len);
		c->rcvq.bytes += len;
		rte_pktmbuf_free(m);
		return;
	}
	mq_push(&c->rcvq, m);
}

/* Inserts [seq, seq + len) held in m (payload only) into the out-of-order
 * queue, sorted, trimming overlaps. Returns false (and frees m) when the
 * bounds refuse it. */
static bool ooo_insert(struct tcp_conn *c, struct rte_mbuf *m, uint32_t seq)
{
	const struct tcp_config *cfg = &c->st->cfg;
	uint32_t len = m->data_len;
	struct rte_mbuf *prev = NULL, *cur = c->oooq.head;
	struct rte_mbuf *t = c->oooq.tail;

	if (t && SEQ_GEQ(seq, *mbuf_seq(t) + t->data_len)) {
		prev = t; /* the usual case behind a hole: append, O(1) */
		cur = NULL;
	}
	while (cur && SEQ_LEQ(*mbuf_seq(cur), seq)) {
		prev = cur;
		cur = cur->next;
	}
	if (prev) {
		uint32_t pend = *mbuf_seq(prev) + prev->data_len;
		if (SEQ_GEQ(pend, seq + len))
			goto dup;
		if (SEQ_GT(pend, seq)) {
			rte_pktmbuf_adj(m, (uint16_t)(pend - seq));
			len -= pend - seq;
			seq = pend;
		}
	}
	/* drop successors the new segment covers, trim a partial overlap */
	while (cur && SEQ_GEQ(seq + len, *mbuf_seq(cur) + cur->data_len)) {
		struct rte_mbuf *nx = cur->next;
		c->oooq.bytes -= cur->data_len;
		tcp_account(c, -(int64_t)cur->data_len);
		c->oooq.segs--;
		cur->next = NULL;
		rte_pktmbuf_free_seg(cur);
		cur = nx;
	}
	if (prev)
		prev->next = cur;
	else
		c->oooq.head = cur;
	if (!cur)
		c->oooq.tail = prev;
	if (cur && SEQ_GT(seq + len, *mbuf_seq(cur))) {
		uint32_t cut = seq + len - *mbuf_seq(cur);
		rte_pktmbuf_trim(m, (uint16_t)cut);
		len -= cut;
	}
	/* the segment count bound is for small segments (an mbuf each);
	 * segments of 512 bytes or more are bounded by ooo_max bytes: a peer
	 * filling a large window behind one hole must not lose them */
	if (c->oooq.bytes + len > cfg->ooo_max ||
	    (c->oooq.segs >= cfg->ooo_max_segs && len < 512) ||
	    c->oooq.segs >= cfg->ooo_max_segs + cfg->ooo_max / 512 ||
	    !tcp_tenant_buffer_ok(c, len)) {
		rte_pktmbuf_free(m);
		return false;
	}
	*mbuf_seq(m) = seq;
	m->next = cur;
	m->nb_segs = 1;
	m->pkt_len = len;
	if (prev)
		prev->next = m;
	else
		c->oooq.head = m;
	if (!cur)
		c->oooq.tail = m;
	c->oooq.bytes += len;
	c->oooq.segs++;
	tcp_account(c, len);
	c->stats.bytes_in += len; /* new bytes only: duplicates are dup_bytes */
	c->stats.ooo_bytes += len;
	c->st->tenants[c->tenant].ooo_bytes += len;
	return true;
dup:
	c->stats.dup_bytes += len;
	if (c->flags & TF_SACK) {
		c->rcv_dsack[0] = seq; /* RFC 2883 */
		c->rcv_dsack[1] = seq + len;
	}
	rte_pktmbuf_free(m);
	return true;
}

/* Moves segments that became in order from the OOO queue to rcvq. */
static void ooo_drain(struct tcp_conn *c)
{
	struct rte_mbuf *m;
	while ((m = c->oooq.head) && SEQ_LEQ(*mbuf_seq(m), c->rcv_nxt)) {
		c->oooq.head = m->next;
		if (!c->oooq.head)
			c->oooq.tail = NULL;
		c->oooq.segs--;
		c->oooq.bytes -= m->data_len;
		m->next = NULL;
		uint32_t seq = *mbuf_seq(m);
		uint32_t end = seq + m->data_len;
		/* bytes an in-order segment already brought were counted
		 * twice: once here, once in order; the second is a duplicate */
		if (SEQ_LEQ(end, c->rcv_nxt)) {
			tcp_account(c, -(int64_t)m->data_len);
			c->stats.bytes_in -= m->data_len;
			c->stats.dup_bytes += m->data_len;
			rte_pktmbuf_free_seg(m);
			continue;
		}
		uint32_t skip = c->rcv_nxt - seq;
		if (skip) {
			rte_pktmbuf_adj(m, (uint16_t)skip);
			tcp_account(c, -(int64_t)skip);
			c->stats.bytes_in -= skip;
			c->stats.dup_bytes += skip;
		}
		c->rcv_nxt = end;
		m->pkt_len = m->data_len;
		rcvq_append(c, m);
	}
}

/* The SACK blocks we report: the block holding the latest segment first,
 * then earlier ones still above rcv_nxt (RFC 2018 4). */
static bool rsb_update(struct tcp_conn *c, uint32_t seq, bool new_tail_run)
{
	uint32_t nb[TCP_SACK_SEND_BLOCKS][2];
	unsigned n = 0;
	struct rte_mbuf *t = c->oooq.tail;
	if (c->nrsb && t && *mbuf_seq(t) == seq && c->rsb[0][1] == seq) {
		c->rsb[0][1] = seq + t->data_len; /* the latest block grew: O(1) */
		return true;
	}
	/* the contiguous OOO run around seq: a new hole behind the tail is
	 * that segment alone, O(1); otherwise one pass, each run's start kept
	 * as the walk goes (a scan from every segment of the runs before
	 * seq's was quadratic: half the receiver's CPU under 1 % loss with a
	 * few thousand segments queued) */
	uint32_t s = 0, e = 0;
	bool found = false;
	if (new_tail_run && t && *mbuf_seq(t) == seq) {
		s = seq;
		e = seq + t->data_len;
		found = true;
	}
	for (struct rte_mbuf *m = found ? NULL : c->oooq.head; m; m = m->next) {
		uint32_t ms = *mbuf_seq(m);
		if (m == c->oooq.head || ms != e) {
			if (found)
				break; /* seq's run ended */
			s = ms;
		}
		e = ms + m->data_len;
		if (!found && SEQ_LEQ(s, seq) && SEQ_LT(seq, e))
			found = true;
	}
	if (found) {
		nb[n][0] = s;
		nb[n][1] = e;
		n++;
	}
	for (unsigned i = 0; i < c->nrsb && n < TCP_SACK_SEND_BLOCKS; i++) {
		uint32_t bs = c->rsb[i][0], be = c->rsb[i][1];
		if (SEQ_LEQ(be, c->rcv_nxt))
			continue;
		if (found && SEQ_GEQ(bs, s) && SEQ_LEQ(be, e))
			continue;
		if (found && SEQ_LT(bs, e) && SEQ_GT(be, s))
			continue;
		nb[n][0] = bs;
		nb[n][1] = be;
		n++;
	}
	memcpy(c->rsb, nb, sizeof(nb[0]) * n);
	c->nrsb = (uint8_t)n;
	return false;
}

static void rsb_prune(struct tcp_conn *c)
{
	unsigned n = 0;
	for (unsigned i = 0; i < c->nrsb; i++) {
		if (SEQ_LEQ(c->rsb[i][1], c->rcv_nxt))
			continue;
		if (SEQ_LT(c->rsb[i][0], c->rcv_nxt))
			c->rsb[i][0] = c->rcv_nxt;
		c->rsb[n][0] = c->rsb[i][0];
		c->rsb[n][1] = c->rsb[i][1];
		n++;
	}
	c->nrsb = (uint8_t)n;
}

/* Step seven (segment text) and eight (FIN) of RFC 9293 3.10.7.4, for a
 * segment already found acceptable. Consumes m. */
static void receive_text(struct tcp_conn *c, struct rte_mbuf *m, struct tcp_seg *s)
{
	struct tcp_stack *st = c->st;
	uint32_t seq = s->seq, len = s->len;
	bool fin = (s->flags & TH_FIN) != 0;
	uint32_t wnd = SEQ_GT(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;
	bool accepts = c->state == TCP_ESTABLISHED || c->state == TCP_FIN_WAIT_1 ||
		       c->state == TCP_FIN_WAIT_2;
	bool readable = false;

	if (!accepts || (c->flags & TF_RCVD_FIN)) {
		/* data after a FIN, or in CLOSE-WAIT and later: ignore */
		rte_pktmbuf_free(m);
		if (len || fin)
			c->flags |= TF_ACK_NOW;
		return;
	}
	rte_pktmbuf_adj(m, (uint16_t)s->payload_off);
	rte_pktmbuf_trim(m, (uint16_t)(m->data_len - len));
	m->ol_flags = 0;
	/* trim what we already have */
	if (len && SEQ_LT(seq, c->rcv_nxt)) {
		uint32_t d = c->rcv_nxt - seq;
		if (c->flags & TF_SACK) {
			c->rcv_dsack[0] = seq; /* RFC 2883 */
			c->rcv_dsack[1] = d >= len ? seq + len : c->rcv_nxt;
		}
		if (d >= len) {
			c->stats.dup_bytes += len;
			len = 0;
		} else {
			c->stats.dup_bytes += d;
			rte_pktmbuf_adj(m, (uint16_t)d);
			len -= d;
		}
		seq = c->rcv_nxt;
		c->flags |= TF_ACK_NOW;
	}
	/* trim what lies beyond the advertised window */
	if (len && SEQ_GT(seq + len, c->rcv_nxt + wnd)) {
		uint32_t over = seq + len - (c->rcv_nxt + wnd);
		if (over >= len)
			len = 0;
		else
			len -= over;
		rte_pktmbuf_trim(m, (uint16_t)(m->data_len - len));
		fin = false;
		c->flags |= TF_ACK_NOW;
	}
	if (len && !tcp_tenant_buffer_ok(c, len) && seq == c->rcv_nxt) {
		len = 0; /* tenant budget exhausted: the window says so too */
		fin = false;
		c->flags |= TF_ACK_NOW;
	}
	if (len == 0) {
		rte_pktmbuf_free(m);
	} else if (seq == c->rcv_nxt) {
		bool had_ooo = c->oooq.head != NULL;
		if (!c->stats.bytes_in)
			c->quickack = TCP_QUICKACKS; /* the peer's slow start, as Linux */
		c->rcv_nxt += len;
		c->stats.bytes_in += len;
		tcp_account(c, len);
		rcvq_append(c, m);
		if (had_ooo) {
			ooo_drain(c);
			rsb_prune(c);
			c->flags |= TF_ACK_NOW; /* RFC 5681 4.2: a hole was filled */
			c->quickack = TCP_QUICKACKS;
		}
		readable = true;
		if (++c->segs_unacked >= 2 || len < c->snd_mss / 2)
			c->flags |= TF_ACK_NOW;
		else if (c->quickack && !(c->flags & TF_ACK_NOW)) {
			/* at the start and after a loss the sender runs a small
			 * window: ACK every segment for a while, as Linux does */
			c->quickack--;
			c->flags |= TF_ACK_NOW;
		}
	} else {
		/* out of order: keep within bounds, ACK (dup ACK, RFC 5681 4.2) */
		struct rte_mbuf *t = c->oooq.tail;
		bool tail_gap = t && SEQ_GT(seq, *mbuf_seq(t) + t->data_len);
		bool kept = ooo_insert(c, m, seq);
		bool grew = false;
		if (kept && (c->flags & TF_SACK))
			grew = rsb_update(c, seq, tail_gap);
		if (fin && kept) {
			/* remember it: taken when the data before it arrives */
			c->flags |= TF_OOO_FIN;
			c->ooo_fin = seq + len;
		}
		fin = false;
		if (grew && !(c->flags & TF_ACK_NOW) && ++c->segs_unacked < TCP_SACK_COMPRESS) {
			/* SACK compression, as Linux does: a segment that only
			 * extends the latest SACK block behind a hole already
			 * reported is ACKed with the rest of its input burst
			 * (at the next timer poll, at most TCP_SACK_COMPRESS
			 * segments); a new hole, a repair or anything else is
			 * ACKed at once */
			c->flags |= TF_DELACK;
			if (!c->t_delack || c->t_delack > st->now) {
				c->t_delack = st->now;
				tcp_timer_update(c);
			}
		} else {
			c->flags |= TF_ACK_NOW;
		}
	}
	bool fin_now = fin && seq + len == c->rcv_nxt;
	if ((c->flags & TF_OOO_FIN) && c->rcv_nxt == c->ooo_fin) {
		fin_now = true;
		c->flags &= ~TF_OOO_FIN;
	}
	if (fin_now) {
		c->rcv_nxt++;
		c->flags |= TF_RCVD_FIN | TF_ACK_NOW;
		switch (c->state) {
		case TCP_ESTABLISHED:
			tcp_set_state(c, TCP_CLOSE_WAIT);
			break;
		case TCP_FIN_WAIT_1:
			if (c->snd_una == c->snd_max && (c->flags & TF_FIN_SENT))
				tcp_enter_time_wait(c);
			else
				tcp_set_state(c, TCP_CLOSING);
			break;
		case TCP_FIN_WAIT_2:
			tcp_enter_time_wait(c);
			break;
		default:
			break;
		}
		tcp_notify(c, TCP_EV_PEER_FIN | (readable ? TCP_EV_READABLE : 0));
		return;
	}
	if (!(c->flags & TF_ACK_NOW) && len) {
		c->flags |= TF_DELACK;
		if (!c->t_delack) {
			c->t_delack = st->now + st->cfg.delack_us;
			tcp_timer_update(c);
		}
	}
	if (readable)
		tcp_notify(c, TCP_EV_READABLE);
}

/* ---- ACK processing (RFC 9293 step five, RFC 5961 5) ---- */

static void rtt_from_ack(struct tcp_conn *c, const struct tcp_seg *s)
{
	struct tcp_stack *st = c->st;
	if ((c->flags & TF_SACK) && c->nxl)
		return; /* microsecond samples from the send records (tcp_rack_ack) */
	if ((c->flags & TF_RTT_TIMING) && SEQ_GT(s->ack, c->rtt_seq)) {
		c->flags &= ~TF_RTT_TIMING;
		tcp_rtt_sample(c, (uint32_t)(st->now - c->rtt_start_us));
	} else if ((c->flags & TF_TS) && s->opt.has_ts && s->opt.tsecr) {
		/* 1 ms ticks: a sample of 0 ticks only says "below 1 ms"; once a
		 * microsecond sample exists it is the better estimate (on a LAN
		 * +500 us would inflate SRTT, and with it PTO and pacing) */
		uint32_t ticks = (uint32_t)(st->now / 1000) - s->opt.tsecr;
		if (ticks < 60000 && !(c->flags & TF_RTT_TIMING) && (ticks || !c->min_rtt_us))
			tcp_rtt_sample(c, ticks ? ticks * 1000 : 500);
	}
}

/* Returns false when the segment must be dropped. */
static bool process_ack(struct tcp_conn *c, struct tcp_seg *s)
{
	struct tcp_stack *st = c->st;

	if (c->state == TCP_SYN_RECEIVED) {
		if (SEQ_LEQ(s->ack, c->snd_una) || SEQ_GT(s->ack, c->snd_max)) {
			tcp_send_rst_reply(st, s);
			return false;
		}
		c->snd_una = c->iss + 1;
		c->snd_wnd = (uint32_t)s->wnd << c->snd_wscale;
		c->max_snd_wnd = c->snd_wnd;
		c->snd_wl1 = s->seq;
		c->snd_wl2 = s->ack;
		c->retries = 0;
		if (c->flags & TF_RTT_TIMING) {
			c->flags &= ~TF_RTT_TIMING;
			tcp_rtt_sample(c, (uint32_t)(st->now - c->rtt_start_us));
		} else if (c->flags & TF_TS && s->opt.has_ts && s->opt.tsecr) {
			uint32_t ticks = (uint32_t)(st->now / 1000) - s->opt.tsecr;
			if (ticks < 60000)
				tcp_rtt_sample(c, ticks * 1000 + 500);
		}
		c->t_rto = 0;
		tcp_timer_update(c);
		tcp_established(c);
		if (c->flags & TF_DEAD)
			return false;
	}
	/* RFC 5961 5.2: acceptable ACKs lie in [SND.UNA - MAX.SND.WND, SND.NXT] */
	if (SEQ_GT(s->ack, c->snd_max)) {
		tcp_challenge_ack(c);
		return false;
	}
	if (SEQ_LT(s->ack, c->snd_una - c->max_snd_wnd)) {
		tcp_challenge_ack(c);
		return false;
	}

	uint32_t acked = SEQ_GT(s->ack, c->snd_una) ? s->ack - c->snd_una : 0;
	uint32_t swnd = (uint32_t)s->wnd << c->snd_wscale;
	bool wnd_update = false;

	/* window update (RFC 9293 3.10.7.4, SND.WL1/WL2 rule) */
	if (SEQ_GEQ(s->ack, c->snd_una) &&
	    (SEQ_LT(c->snd_wl1, s->seq) ||
	     (c->snd_wl1 == s->seq && SEQ_LEQ(c->snd_wl2, s->ack)))) {
		wnd_update = swnd != c->snd_wnd;
		c->snd_wnd = swnd;
		c->snd_wl1 = s->seq;
		c->snd_wl2 = s->ack;
		if (swnd > c->max_snd_wnd)
			c->max_snd_wnd = swnd;
	}

	uint32_t sacked_before = c->sacked_bytes, old_una = c->snd_una;
	if (c->flags & TF_SACK && s->opt.nsack)
		tcp_sack_update(c, &s->opt);
	/* RFC 6675 2: an ACK that SACKs new data counts as a duplicate even
	 * when its window changed (Linux moves its window on every ACK) */
	bool sack_grew = c->sacked_bytes > sacked_before;

	if (acked) {
		uint32_t data = acked > c->sndq.bytes ? c->sndq.bytes : acked;
		mq_drop_front(&c->sndq, data);
		tcp_account(c, -(int64_t)data);
		rtt_from_ack(c, s);
		c->snd_una = s->ack;
		if (SEQ_LT(c->snd_nxt, c->snd_una))
			c->snd_nxt = c->snd_una;
		if (SEQ_LT(c->rexmit_nxt, c->snd_una))
			c->rexmit_nxt = c->snd_una;
		tcp_sack_prune(c);
		if ((c->flags & TF_PROBED) && SEQ_GEQ(c->snd_una, c->tlp_high))
			c->flags &= ~TF_PROBED;
		c->retries = 0;
		c->dupacks = 0;
		if (c->flags & TF_IN_RECOVERY) {
			c->rexmit_inflight = acked >= c->rexmit_inflight
						     ? 0 : c->rexmit_inflight - acked;
			if (SEQ_GEQ(c->snd_una, c->recover))
				tcp_cc_exit_recovery(c);
			else if (!(c->flags & TF_SACK)) {
				/* RFC 6582 3.2 step 5: a partial ACK retransmits
				 * the next unacknowledged segment at once */
				c->rexmit_nxt = c->snd_una;
				tcp_fast_retransmit(c);
			}
		} else {
			tcp_cc_ack(c, acked);
		}
		/* RFC 6298 5.2/5.3 */
		c->rto_us = c->srtt_us ? c->rto_us : c->rto_us;
		if (c->snd_una == c->snd_max) {
			c->t_rto = 0;
			tcp_timer_update(c);
		} else {
			tcp_arm_rto(c);
		}
		if ((c->flags & TF_WANT_WRITABLE) && tcp_writable(c) >= st->cfg.sndbuf / 4) {
			c->flags &= ~TF_WANT_WRITABLE;
			tcp_notify(c, TCP_EV_WRITABLE);
			if (c->flags & TF_DEAD)
				return false;
		}
	} else if (s->ack == c->snd_una && s->len == 0 &&
		   !(s->flags & (TH_SYN | TH_FIN)) && (!wnd_update || sack_grew) &&
		   c->snd_max != c->snd_una) {
		/* a duplicate ACK (RFC 5681 2); the first two may release new
		 * segments (limited transmit, RFC 3042, in tcp_output) */
		c->dupacks++;
		bool sack_lost = (c->flags & TF_SACK) &&
				 c->sacked_bytes > (uint32_t)(TCP_DUPTHRESH - 1) * c->snd_mss;
		/* a SACK of the tail probe: what was sent before it is lost
		 * (RFC 8985 7.4, without RACK's reordering window) */
		if ((c->flags & TF_PROBED) && c->nsb && SEQ_GEQ(c->sack_hi, c->tlp_high))
			sack_lost = true;
		if (!(c->flags & TF_IN_RECOVERY) && !(c->flags & TF_SACK) &&
		    (c->dupacks >= TCP_DUPTHRESH || sack_lost) &&
		    SEQ_GEQ(c->snd_una, c->recover)) {
			tcp_cc_enter_recovery(c);
			tcp_fast_retransmit(c);
		}
	}
	if (c->flags & TF_SACK) {
		/* RFC 8985 / RFC 6937: losses and the recovery window */
		int64_t dlv = (int64_t)acked + c->sacked_bytes - sacked_before;
		tcp_rack_ack(c, &s->opt, old_una, dlv > 0 ? (uint32_t)dlv : 0);
	}
	if (tcp_bbr_on(c))
		tcp_bbr_ack(c, acked);

	/* our FIN acknowledged? */
	bool fin_acked = (c->flags & TF_FIN_SENT) && c->snd_una == c->snd_max &&
			 c->sndq.bytes == 0;
	switch (c->state) {
	case TCP_FIN_WAIT_1:
		if (fin_acked) {
			tcp_set_state(c, TCP_FIN_WAIT_2);
			c->t_rto = 0;
			if (c->flags & TF_APP_CLOSED)
				c->t_tw = st->now + st->cfg.time_wait_us; /* FIN-WAIT-2 timeout */
			tcp_timer_update(c);
		}
		break;
	case TCP_CLOSING:
		if (fin_acked)
			tcp_enter_time_wait(c);
		break;
	case TCP_LAST_ACK:
		if (fin_acked) {
			conn_closed(c);
			return false;
		}
		break;
	default:
		break;
	}
	return true;
}

/* ---- synchronized states ---- */

static bool paws_reject(struct tcp_conn *c, const struct tcp_seg *s)
{
	if (!(c->flags & TF_TS) || !s->opt.has_ts || (s->flags & TH_RST))
		return false;
	if (!SEQ_LT(s->opt.tsval, c->ts_recent))
		return false;
	/* RFC 7323 5.5: a ts_recent idle for 24 days is invalid */
	if (c->st->now - c->ts_recent_us > (uint64_t)TCP_PAWS_IDLE_S * 1000000) {
		c->ts_recent = s->opt.tsval;
		return false;
	}
	return true;
}

/* The reply to an unacceptable segment (RFC 9293 3.10.7.4) or one PAWS
 * refused: an ACK. A segment without data gets one at most every
 * TCP_INVALID_ACK_MS (Linux: tcp_invalid_ratelimit): two ends that each
 * find the other's pure ACKs unacceptable would ACK each other at line
 * rate. Data is always answered: the peer's recovery needs the ACK. */
static void ack_unacceptable(struct tcp_conn *c, const struct tcp_seg *s)
{
	struct tcp_stack *st = c->st;
	if (s->len == 0 && !(s->flags & (TH_SYN | TH_FIN))) {
		/* the last reply's time, | 1 so that 0 means none: any clock
		 * value, also past 2^31 ms (a TSC that counts from boot) */
		uint32_t ms = (uint32_t)(st->now / 1000);
		if (c->invalid_ack_ms && (ms | 1) - c->invalid_ack_ms < TCP_INVALID_ACK_MS) {
			st->stats.invalid_ack_limited++;
			return;
		}
		c->invalid_ack_ms = ms | 1;
	}
	c->flags |= TF_ACK_NOW;
}

static void in_synchronized(struct tcp_conn *c, struct rte_mbuf *m, struct tcp_seg *s)
{
	struct tcp_stack *st = c->st;
	uint32_t seglen = s->len + !!(s->flags & TH_SYN) + !!(s->flags & TH_FIN);
	uint32_t wnd = SEQ_GT(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;

	c->stats.segs_in++;
	/* Simultaneous open: the peer's SYN-ACK repeats its SYN at IRS; its
	 * ACK completes our handshake (RFC 9293 figure 8, as Linux does). */
	if (c->state == TCP_SYN_RECEIVED && !(c->flags & (TF_PASSIVE | TF_INTERCEPT)) &&
	    (s->flags & (TH_SYN | TH_ACK | TH_RST)) == (TH_SYN | TH_ACK) &&
	    s->seq == c->irs && s->ack == c->snd_max && s->len == 0) {
		s->flags &= (uint8_t)~TH_SYN;
		s->seq = c->irs + 1;
		seglen = !!(s->flags & TH_FIN);
	}
	if (paws_reject(c, s)) {
		st->stats.paws_drops++;
		ack_unacceptable(c, s);
		goto drop;
	}
	/* first: sequence acceptability */
	if (!tcp_seq_acceptable(c->rcv_nxt, wnd, s->seq, seglen)) {
		st->stats.dropped_seq++;
		if (c->state == TCP_TIME_WAIT && (s->flags & TH_FIN) && !(s->flags & TH_RST))
			c->t_tw = st->now + st->cfg.time_wait_us; /* a retransmitted FIN */
		if (!(s->flags & TH_RST)) {
			if (s->len)
				c->stats.dup_bytes += s->len;
			if (s->len && (c->flags & TF_SACK) && SEQ_LEQ(s->seq + s->len, c->rcv_nxt) &&
			    SEQ_GEQ(s->seq, c->rcv_nxt - wnd - 65536u)) {
				c->rcv_dsack[0] = s->seq; /* RFC 2883 */
				c->rcv_dsack[1] = s->seq + s->len;
			}
			ack_unacceptable(c, s);
		}
		goto drop;
	}
	/* second: RST (RFC 5961 3.2) */
	if (s->flags & TH_RST) {
		st->stats.rst_in++;
		if (s->seq != c->rcv_nxt) {
			tcp_challenge_ack(c);
			goto drop;
		}
		rte_pktmbuf_free(m);
		if (c->state == TCP_SYN_RECEIVED && (c->flags & TF_PASSIVE))
			tcp_conn_free(st, c); /* back to LISTEN: the listener remains */
		else if (c->state == TCP_CLOSING || c->state == TCP_LAST_ACK ||
			 c->state == TCP_TIME_WAIT)
			conn_closed(c);
		else
			tcp_conn_reset(c, TCP_EV_RESET);
		return;
	}
	/* fourth: SYN in a synchronized state (RFC 5961 4.2) */
	if (s->flags & TH_SYN) {
		if (c->state == TCP_SYN_RECEIVED && s->seq == c->irs &&
		    !(s->flags & TH_ACK)) {
			c->flags |= TF_ACK_NOW; /* retransmitted SYN: resend SYN-ACK */
			goto drop;
		}
		tcp_challenge_ack(c);
		goto drop;
	}
	/* fifth: ACK */
	if (!(s->flags & TH_ACK))
		goto drop;
	/* RFC 7323 4.3: remember the timestamp to echo */
	if ((c->flags & TF_TS) && s->opt.has_ts &&
	    SEQ_LEQ(s->seq, c->last_ack_sent) && SEQ_GEQ(s->opt.tsval, c->ts_recent)) {
		c->ts_recent = s->opt.tsval;
		c->ts_recent_us = st->now;
	}
	if (c->state == TCP_TIME_WAIT) {
		if (s->flags & TH_FIN) {
			c->flags |= TF_ACK_NOW; /* retransmitted FIN: ACK, restart 2 MSL */
			c->t_tw = st->now + st->cfg.time_wait_us;
		}
		goto drop;
	}
	if (!process_ack(c, s)) {
		rte_pktmbuf_free(m);
		return;
	}
	/* seventh, eighth: text and FIN */
	receive_text(c, m, s);
	return;
drop:
	rte_pktmbuf_free(m);
}

static void in_syn_sent(struct tcp_conn *c, struct rte_mbuf *m, struct tcp_seg *s)
{
	struct tcp_stack *st = c->st;
	rte_pktmbuf_free(m);
	if (s->flags & TH_ACK) {
		if (SEQ_LEQ(s->ack, c->iss) || SEQ_GT(s->ack, c->snd_max)) {
			tcp_send_rst_reply(st, s);
			return;
		}
	}
	if (s->flags & TH_RST) {
		st->stats.rst_in++;
		if (s->flags & TH_ACK)
			tcp_conn_reset(c, TCP_EV_RESET); /* connection refused */
		return;
	}
	if (!(s->flags & TH_SYN))
		return;
	c->irs = s->seq;
	c->rcv_nxt = s->seq + 1;
	tcp_negotiate(c, s);
	c->snd_wnd = s->wnd;
	c->max_snd_wnd = c->snd_wnd;
	c->snd_wl1 = s->seq;
	c->snd_wl2 = s->ack;
	if (s->flags & TH_ACK) {
		c->snd_una = s->ack;
		if (c->flags & TF_TS && s->opt.has_ts && s->opt.tsecr) {
			uint32_t ticks = (uint32_t)(st->now / 1000) - s->opt.tsecr;
			if (ticks < 60000 && !(c->flags & TF_RTT_TIMING))
				tcp_rtt_sample(c, ticks * 1000 + 500);
		}
		if (c->flags & TF_RTT_TIMING) {
			c->flags &= ~TF_RTT_TIMING;
			tcp_rtt_sample(c, (uint32_t)(st->now - c->rtt_start_us));
		}
		c->retries = 0;
		c->t_rto = 0;
		tcp_timer_update(c);
		c->flags |= TF_ACK_NOW;
		tcp_established(c);
		if (c->flags & TF_DEAD)
			return;
		tcp_output(c); /* ACK, and any data queued before the handshake */
	} else {
		/* simultaneous open (RFC 9293 3.5, figure 7) */
		tcp_set_state(c, TCP_SYN_RECEIVED);
		c->flags |= TF_ACK_NOW;
		tcp_output(c);
	}
}

/* TIME-WAIT may end early for a new SYN with a higher sequence number
 * (RFC 9293 3.6.1 / RFC 6191). */
bool tcp_time_wait_reuse(struct tcp_conn *c, const struct tcp_seg *s)
{
	if (c->state != TCP_TIME_WAIT || (s->flags & (TH_SYN | TH_ACK | TH_RST)) != TH_SYN)
		return false;
	if (!SEQ_GT(s->seq, c->rcv_nxt))
		return false;
	if ((c->flags & TF_TS) && s->opt.has_ts && SEQ_LT(s->opt.tsval, c->ts_recent))
		return false;
	c->flags |= TF_APP_CLOSED;
	tcp_conn_free(c->st, c);
	return true;
}

bool tcp_conn_input(struct tcp_stack *st, struct tcp_conn *c,
		       struct rte_mbuf *m, struct tcp_seg *s)
{
	if (c->state == TCP_SYN_RECEIVED && (c->flags & TF_PENDING)) {
		tcp_pending_input(c, m, s);
		return true;
	}
	if (c->state == TCP_SYN_SENT)
		in_syn_sent(c, m, s);
	else if (c->state == TCP_CLOSED) {
		rte_pktmbuf_free(m); /* closed, the application still holds it */
		tcp_send_rst_reply(st, s);
		return false;
	} else
		in_synchronized(c, m, s);
	if (!(c->flags & TF_DEAD))
		tcp_output(c);
	return true;
}

static bool input_one(struct tcp_stack *st, struct rte_mbuf *m)
{
	struct tcp_seg s;
	if (!tcp_parse(st, m, &s)) {
		rte_pktmbuf_free(m);
		return false;
	}
	struct tcp_conn *c = tcp_lookup(st, &s);
	if (c && tcp_time_wait_reuse(c, &s))
		c = NULL;
	if (c)
		return tcp_conn_input(st, c, m, &s);
	const struct tcp_listener *l = tcp_find_listener(st, &s);
	if (l) {
		uint8_t f = s.flags & (TH_SYN | TH_ACK | TH_RST | TH_FIN);
		if (f == TH_SYN) {
			rte_pktmbuf_free(m);
			return passive_open(st, l, &s);
		}
		if (f == TH_ACK || f == (TH_ACK | TH_FIN)) {
			if (l->flags & TCP_LISTEN_SYNCOOKIES) {
				c = tcp_cookie_open(st, l, &s);
				if (c) {
					if (!(c->flags & TF_DEAD)) {
						receive_text(c, m, &s);
						if (!(c->flags & TF_DEAD))
							tcp_output(c);
					} else {
						rte_pktmbuf_free(m);
					}
					return true;
				}
			}
		}
		if (f & TH_RST) {
			rte_pktmbuf_free(m);
			return false;
		}
	}
	st->stats.no_conn++;
	tcp_send_rst_reply(st, &s);
	rte_pktmbuf_free(m);
	return false;
}

uint16_t tcp_input(struct tcp_stack *st, struct rte_mbuf **pkts, uint16_t n)
{
	uint16_t ok = 0;
	TCP_SCOPE(st);
	for (uint16_t i = 0; i < n; i++) {
		st->stats.segs_in++;
		ok += input_one(st, pkts[i]);
	}
	return ok;
}
