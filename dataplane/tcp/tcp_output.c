/* SPDX-License-Identifier: BSD-3-Clause */
/* Building and sending segments: headers, options, checksums (software or
 * offloaded), the send loop (window, congestion window, SACK holes, FIN),
 * pure ACKs, RSTs and challenge ACKs. */
#include "tcp_internal.h"

#include <string.h>

#include <rte_ip.h>
#include <rte_tcp.h>

void tcp_flush(struct tcp_stack *st)
{
	if (st->ntx) {
		uint16_t n = st->ntx;
		st->ntx = 0;
		st->stats.segs_out += n;
		st->ops.output(st->ctx, st->tx, n);
	}
}

static void emit(struct tcp_stack *st, struct rte_mbuf *m)
{
	if (st->ntx == TCP_TX_BURST)
		tcp_flush(st);
	st->tx[st->ntx++] = m;
}

/* Builds one segment in a fresh mbuf; data starts at the L3 header. The
 * payload (plen bytes) is copied from q at offset qoff. */
static struct rte_mbuf *build(struct tcp_stack *st, uint8_t af,
			      const struct tcp_addr *src, const struct tcp_addr *dst,
			      uint16_t sport, uint16_t dport, uint32_t seq,
			      uint32_t ack, uint8_t flags, uint16_t wnd,
			      const uint8_t *opts, unsigned optlen,
			      struct mbuf_q *q, uint32_t qoff, uint32_t plen)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(st->cfg.seg_pool ? st->cfg.seg_pool : st->mp);
	if (!m) {
		st->stats.nombuf++;
		return NULL;
	}
	unsigned l3 = af == TCP_AF_INET ? sizeof(struct rte_ipv4_hdr)
					: sizeof(struct rte_ipv6_hdr);
	unsigned l4 = sizeof(struct rte_tcp_hdr) + optlen;
	uint8_t *p = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)(l3 + l4 + plen));
	if (!p) {
		rte_pktmbuf_free(m);
		st->stats.nombuf++;
		return NULL;
	}
	struct rte_tcp_hdr *th = (struct rte_tcp_hdr *)(p + l3);
	th->src_port = rte_cpu_to_be_16(sport);
	th->dst_port = rte_cpu_to_be_16(dport);
	th->sent_seq = rte_cpu_to_be_32(seq);
	th->recv_ack = rte_cpu_to_be_32(ack);
	th->data_off = (uint8_t)((l4 / 4) << 4);
	th->tcp_flags = flags;
	th->rx_win = rte_cpu_to_be_16(wnd);
	th->cksum = 0;
	th->tcp_urp = 0;
	if (optlen)
		memcpy(th + 1, opts, optlen);
	if (plen)
		mq_copy(q, qoff, p + l3 + l4, plen);

	bool offload = st->cfg.flags & TCP_CFG_TX_CSUM_OFFLOAD;
	m->hash.usr = 0; /* no connection's (tcp_send_segment sets its own) */
	m->l2_len = 0;
	m->l3_len = (uint16_t)l3;
	m->l4_len = (uint16_t)l4;
	if (af == TCP_AF_INET) {
		struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)p;
		ip->version_ihl = 0x45;
		ip->type_of_service = 0;
		ip->total_length = rte_cpu_to_be_16((uint16_t)(l3 + l4 + plen));
		ip->packet_id = 0;
		ip->fragment_offset = rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG);
		ip->time_to_live = 64;
		ip->next_proto_id = IPPROTO_TCP;
		ip->hdr_checksum = 0;
		memcpy(&ip->src_addr, src->b, 4);
		memcpy(&ip->dst_addr, dst->b, 4);
		if (offload) {
			m->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM |
				       RTE_MBUF_F_TX_TCP_CKSUM;
			th->cksum = rte_ipv4_phdr_cksum(ip, m->ol_flags);
		} else {
			ip->hdr_checksum = rte_ipv4_cksum(ip);
			th->cksum = rte_ipv4_udptcp_cksum(ip, th);
		}
	} else {
		struct rte_ipv6_hdr *ip = (struct rte_ipv6_hdr *)p;
		ip->vtc_flow = rte_cpu_to_be_32(6u << 28);
		ip->payload_len = rte_cpu_to_be_16((uint16_t)(l4 + plen));
		ip->proto = IPPROTO_TCP;
		ip->hop_limits = 64;
		memcpy(ip->src_addr, src->b, 16);
		memcpy(ip->dst_addr, dst->b, 16);
		if (offload) {
			m->ol_flags |= RTE_MBUF_F_TX_IPV6 | RTE_MBUF_F_TX_TCP_CKSUM;
			th->cksum = rte_ipv6_phdr_cksum(ip, m->ol_flags);
		} else {
			th->cksum = rte_ipv6_udptcp_cksum(ip, th);
		}
	}
	return m;
}

void tcp_count_retrans(struct tcp_conn *c, uint32_t bytes)
{
	c->stats.retrans_segs++;
	c->stats.retrans_bytes += bytes;
	c->st->stats.retrans_segs++;
	c->st->tenants[c->tenant].retrans_segs++;
}

/* The window we can offer: real free space in the receive queue, within
 * the tenant's budget; never shrinks the right edge already advertised
 * (RFC 9293 3.8.6.2.2), and moves it only by a useful amount (receiver
 * silly window avoidance). */
uint32_t tcp_rcv_window(const struct tcp_conn *c)
{
	const struct tcp_stack *st = c->st;
	uint32_t used = c->rcvq.bytes;
	uint32_t space = used >= st->cfg.rcvbuf ? 0 : st->cfg.rcvbuf - used;
	const struct tcp_tenant *t = &st->tenants[c->tenant];
	uint64_t troom = t->buffered >= st->cfg.tenant_max_buffer
				 ? 0 : st->cfg.tenant_max_buffer - t->buffered;
	if (space > troom)
		space = (uint32_t)troom;
	uint32_t maxwin = 65535u << (c->flags & TF_WSCALE ? c->rcv_wscale : 0);
	if (space > maxwin)
		space = maxwin;
	uint32_t adv = SEQ_GT(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;
	uint32_t sws = st->cfg.rcvbuf / 2 < c->snd_mss ? st->cfg.rcvbuf / 2 : c->snd_mss;
	if (space < adv + sws && space != maxwin)
		return adv; /* keep the old right edge */
	return space;
}

void tcp_send_segment(struct tcp_conn *c, uint32_t seq, uint32_t len,
		      uint8_t flags)
{
	struct tcp_stack *st = c->st;
	uint8_t opts[TCP_OPT_SPACE];
	unsigned optlen = tcp_build_options(c, flags, opts);
	uint32_t ack = 0;
	uint16_t wfield;
	uint32_t wnd = 0;

	if (flags & TH_ACK)
		ack = c->rcv_nxt;
	if (flags & TH_RST) {
		wfield = 0;
	} else {
		wnd = tcp_rcv_window(c);
		if (flags & TH_SYN) {
			wfield = wnd > 65535 ? 65535 : (uint16_t)wnd;
			wnd = wfield;
		} else {
			uint8_t ws = c->flags & TF_WSCALE ? c->rcv_wscale : 0;
			uint32_t f = wnd >> ws;
			wfield = f > 65535 ? 65535 : (uint16_t)f;
			wnd = (uint32_t)wfield << ws;
		}
	}
	uint32_t base = (c->state == TCP_SYN_SENT || c->state == TCP_SYN_RECEIVED)
				? c->iss + 1 : c->snd_una;
	uint32_t qoff = len ? seq - base : 0;
	struct rte_mbuf *m = build(st, c->af, &c->laddr, &c->raddr, c->lport,
				   c->rport, seq, ack, flags, wfield, opts, optlen,
				   &c->sndq, qoff, len);
	if (!m)
		return;
	m->hash.usr = c->idx + 1;
	if (flags & TH_ACK) {
		if (SEQ_GT(c->rcv_nxt + wnd, c->rcv_adv) || !(flags & TH_SYN))
			c->rcv_adv = c->rcv_nxt + wnd;
		c->last_ack_sent = c->rcv_nxt;
		c->rcv_dsack[0] = c->rcv_dsack[1] = 0; /* sent once */
		c->flags &= ~(TF_ACK_NOW | TF_DELACK);
		c->segs_unacked = 0;
		if (c->t_delack) {
			c->t_delack = 0;
			tcp_timer_update(c);
		}
	}
	c->stats.segs_out++;
	emit(st, m);
}

/* The sequence number of a segment that carries neither data nor FIN: the
 * next new one (snd_max, as BSD: snd_nxt goes back to snd_una on an RTO,
 * and a peer that holds those bytes finds an older number unacceptable),
 * but never past the peer's window (a zero-window probe moves snd_max one
 * byte beyond it), as Linux's tcp_acceptable_seq(). */
uint32_t tcp_ack_seq(const struct tcp_conn *c)
{
	uint32_t edge = c->snd_una + c->snd_wnd;
	return SEQ_GT(c->snd_max, edge) ? edge : c->snd_max;
}

void tcp_send_ack(struct tcp_conn *c)
{
	tcp_send_segment(c, tcp_ack_seq(c), 0, TH_ACK);
}

/* RFC 5961 7: challenge ACKs share one budget per stack per second. */
bool tcp_challenge_ack(struct tcp_conn *c)
{
	struct tcp_stack *st = c->st;
	if (st->now - st->ca_window_start >= 1000000) {
		st->ca_window_start = st->now;
		st->ca_count = 0;
	}
	if (st->ca_count >= st->cfg.challenge_ack_per_s) {
		st->stats.challenge_ack_limited++;
		return false;
	}
	st->ca_count++;
	st->stats.challenge_acks++;
	c->stats.challenge_acks++;
	tcp_send_ack(c);
	return true;
}

/* RFC 9293 3.10.7.1: the reply to a segment that matches no connection. */
void tcp_send_rst_reply(struct tcp_stack *st, const struct tcp_seg *s)
{
	struct rte_mbuf *m;
	if (s->flags & TH_RST)
		return;
	if (s->flags & TH_ACK)
		m = build(st, s->af, &s->dst, &s->src, s->dport, s->sport, s->ack,
			  0, TH_RST, 0, NULL, 0, NULL, 0, 0);
	else
		m = build(st, s->af, &s->dst, &s->src, s->dport, s->sport, 0,
			  s->seq + s->len + !!(s->flags & TH_SYN) + !!(s->flags & TH_FIN),
			  TH_RST | TH_ACK, 0, NULL, 0, NULL, 0, 0);
	if (m) {
		st->stats.rst_out++;
		emit(st, m);
	}
}

/* A SYN-ACK that keeps no state: the ISN is the cookie, the MSS its
 * table value; with timestamps (ts >= 0, the TSval carrying the client's
 * options in its low bits, see tcp_syncookie.c) also SACK-permitted and window
 * scale as the client offered them; without, MSS only (RFC 4987 3.1). */
void tcp_send_synack_cookie(struct tcp_stack *st, const struct tcp_seg *s,
			    uint32_t isn, uint16_t mss, int64_t ts, bool sack,
			    int wscale)
{
	uint8_t o[TCP_OPT_SPACE];
	unsigned n = 0;
	o[n++] = 2; o[n++] = 4; o[n++] = (uint8_t)(mss >> 8); o[n++] = (uint8_t)mss;
	if (ts >= 0) {
		uint32_t v = (uint32_t)ts, e = s->opt.tsval;
		if (sack) {
			o[n++] = 4; o[n++] = 2;
		} else {
			o[n++] = 1; o[n++] = 1;
		}
		o[n++] = 8; o[n++] = 10;
		o[n++] = (uint8_t)(v >> 24); o[n++] = (uint8_t)(v >> 16);
		o[n++] = (uint8_t)(v >> 8); o[n++] = (uint8_t)v;
		o[n++] = (uint8_t)(e >> 24); o[n++] = (uint8_t)(e >> 16);
		o[n++] = (uint8_t)(e >> 8); o[n++] = (uint8_t)e;
		if (wscale >= 0) {
			o[n++] = 1; o[n++] = 3; o[n++] = 3; o[n++] = (uint8_t)wscale;
		}
	}
	struct rte_mbuf *m = build(st, s->af, &s->dst, &s->src, s->dport, s->sport,
				   isn, s->seq + 1, TH_SYN | TH_ACK, 65535, o, n,
				   NULL, 0, 0);
	if (m) {
		st->stats.syncookies_sent++;
		emit(st, m);
	}
}

static void start_rtt_timing(struct tcp_conn *c, uint32_t seq)
{
	if (c->flags & (TF_TS | TF_RTT_TIMING))
		return;
	c->flags |= TF_RTT_TIMING;
	c->rtt_seq = seq;
	c->rtt_start_us = c->st->now;
}

/* Sends what the windows allow: with SACK, ranges RACK marked lost first
 * (RFC 8985, within PRR's window); without, the hole at SND.UNA in
 * recovery; then new data, then FIN, then a pure ACK if one is owed. */
void tcp_output(struct tcp_conn *c)
{
	struct tcp_stack *st = c->st;
	bool sent = false;

	if (c->state == TCP_SYN_RECEIVED) {
		if (c->flags & TF_PENDING) { /* no SYN-ACK until accepted */
			c->flags &= ~TF_ACK_NOW;
			return;
		}
		if (c->flags & TF_ACK_NOW)
			tcp_send_segment(c, c->iss, 0, TH_SYN | TH_ACK);
		return;
	}
	if (c->state < TCP_ESTABLISHED || c->state == TCP_TIME_WAIT) {
		if (c->state == TCP_TIME_WAIT && (c->flags & TF_ACK_NOW))
			tcp_send_ack(c);
		return;
	}
	bool can_send = c->state == TCP_ESTABLISHED || c->state == TCP_CLOSE_WAIT ||
			c->state == TCP_FIN_WAIT_1 || c->state == TCP_LAST_ACK ||
			c->state == TCP_CLOSING;
	uint32_t end_data = c->snd_una + c->sndq.bytes;
	bool fin = (c->flags & TF_FIN_QUEUED) != 0;

	for (int guard = 0; can_send && guard < 4096; guard++) {
		if (tcp_pace_wait(c))
			break;
		uint32_t cw = c->cwnd;
		if (!(c->flags & TF_IN_RECOVERY) && c->dupacks && c->dupacks < TCP_DUPTHRESH)
			cw += c->dupacks * c->snd_mss; /* limited transmit (RFC 3042) */
		bool cwnd_limits = true; /* else the pipe checks above do */
		if ((c->flags & TF_SACK) && ((c->flags & TF_IN_RECOVERY) || c->lost_bytes)) {
			/* RACK-marked losses first, then new data, as PRR's
			 * cwnd (pipe + what this ACK allows) says */
			if (tcp_pipe(c) >= c->cwnd)
				break;
			uint32_t hs, hl;
			if (tcp_lost_next(c, &hs, &hl)) {
				if (tcp_gate_held(c))
					break;
				if (hl > tcp_data_mss(c))
					hl = tcp_data_mss(c);
				tcp_send_segment(c, hs, hl, TH_ACK);
				tcp_pace_sent(c, hl);
				tcp_rack_sent(c, hs, hl, true);
				tcp_lost_sent(c, hs, hl);
				tcp_count_retrans(c, hl);
				sent = true;
				continue;
			}
			cwnd_limits = false; /* new data limited by pipe above */
		} else if (c->flags & TF_IN_RECOVERY) {
			if (tcp_pipe(c) + c->snd_mss > c->cwnd)
				break;
			uint32_t hs, hl;
			if (tcp_sack_next_hole(c, c->rexmit_nxt, &hs, &hl)) {
				if (tcp_gate_held(c))
					break;
				if (hl > tcp_data_mss(c))
					hl = tcp_data_mss(c);
				tcp_send_segment(c, hs, hl, TH_ACK);
				tcp_pace_sent(c, hl);
				c->rexmit_nxt = hs + hl;
				c->rexmit_inflight += hl;
				tcp_count_retrans(c, hl);
				sent = true;
				continue;
			}
			cwnd_limits = false; /* new data limited by pipe above */
		}
		/* skip ranges the peer already holds (after an RTO, or
		 * while recovering) */
		for (unsigned i = 0; i < c->nsb; i++)
			if (SEQ_GEQ(c->snd_nxt, c->sb[i][0]) && SEQ_LT(c->snd_nxt, c->sb[i][1]))
				c->snd_nxt = c->sb[i][1];
		uint32_t avail = SEQ_LT(c->snd_nxt, end_data) ? end_data - c->snd_nxt : 0;
		uint32_t inflight = c->snd_nxt - c->snd_una;
		/* the peer's window counts sequence space, the congestion
		 * window the bytes in the network (tcp_cc_inflight) */
		uint32_t usable = c->snd_wnd > inflight ? c->snd_wnd - inflight : 0;
		if (cwnd_limits) {
			uint32_t net = tcp_cc_inflight(c);
			uint32_t room = cw > net ? cw - net : 0;
			if (room < usable)
				usable = room;
		}
		if (c->flags & TF_IN_RECOVERY)
			usable = c->snd_una + c->snd_wnd - c->snd_nxt > c->snd_wnd
					 ? 0 : c->snd_una + c->snd_wnd - c->snd_nxt;
		uint32_t len = avail < usable ? avail : usable;
		uint32_t mss = tcp_data_mss(c);
		if (len > mss)
			len = mss;
		if (len == 0) {
			if (fin && c->snd_nxt == end_data && avail == 0) {
				tcp_send_segment(c, c->snd_nxt, 0, TH_FIN | TH_ACK);
				c->snd_nxt++;
				c->flags |= TF_FIN_SENT;
				if (SEQ_GT(c->snd_nxt, c->snd_max))
					c->snd_max = c->snd_nxt;
				sent = true;
			}
			break;
		}
		/* sender silly window avoidance: full segments, or the tail
		 * of the queue, or half the largest window seen */
		if (len < mss && len < avail && inflight &&
		    len < c->max_snd_wnd / 2)
			break;
		if (tcp_gate_held(c))
			break;
		uint8_t flags = TH_ACK;
		bool last = len == avail;
		if (last)
			flags |= TH_PSH;
		if (last && fin && usable > len)
			flags |= TH_FIN;
		bool rexmit = SEQ_LT(c->snd_nxt, c->snd_max);
		tcp_send_segment(c, c->snd_nxt, len, flags);
		tcp_pace_sent(c, len);
		tcp_rack_sent(c, c->snd_nxt, len, rexmit);
		if (c->flags & TF_IN_RECOVERY) {
			c->prr_out += len;
			c->flags &= ~TF_PRR_FIRST;
		}
		if (rexmit) {
			uint32_t r = c->snd_max - c->snd_nxt;
			r = r < len ? r : len;
			tcp_count_retrans(c, r);
		} else {
			c->stats.bytes_out += len;
			start_rtt_timing(c, c->snd_nxt);
		}
		c->snd_nxt += len + !!(flags & TH_FIN);
		if (flags & TH_FIN)
			c->flags |= TF_FIN_SENT;
		if (SEQ_GT(c->snd_nxt, c->snd_max))
			c->snd_max = c->snd_nxt;
		sent = true;
	}
	if (sent) {
		tcp_arm_sent(c);
		if (c->t_persist) {
			c->t_persist = 0;
			c->flags &= ~TF_PERSIST;
			tcp_timer_update(c);
		}
	} else if (can_send && c->snd_wnd == 0 && c->snd_nxt == c->snd_una &&
		   (SEQ_LT(c->snd_nxt, end_data) || fin) && !c->t_rto &&
		   !c->t_persist) {
		/* RFC 9293 3.8.6.1: probe a zero window */
		uint32_t iv = c->rto_us < TCP_PERSIST_MIN_US ? TCP_PERSIST_MIN_US : c->rto_us;
		c->t_persist = st->now + iv;
		c->flags |= TF_PERSIST;
		c->persist_shift = 0;
		tcp_timer_update(c);
	}
	if (!sent && (c->flags & TF_ACK_NOW))
		tcp_send_ack(c);
}

/* RFC 5681 3.2 step 4 / RFC 6675 5 step 4.3: on entering recovery the
 * first unacknowledged segment goes out at once, whatever the pipe says. */
void tcp_fast_retransmit(struct tcp_conn *c)
{
	uint32_t hs, hl;
	if (!tcp_sack_next_hole(c, c->snd_una, &hs, &hl))
		return;
	if (hl > tcp_data_mss(c))
		hl = tcp_data_mss(c);
	tcp_send_segment(c, hs, hl, TH_ACK);
	c->rexmit_nxt = hs + hl;
	c->rexmit_inflight += hl;
	tcp_count_retrans(c, hl);
	tcp_arm_rto(c);
}
