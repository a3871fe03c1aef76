/* SPDX-License-Identifier: BSD-3-Clause */
/* The byte queues of a connection (send, receive, out of order): FIFOs of
 * mbufs linked through m->next, with a copy cursor (struct mbuf_q). */
#include "tcp_internal.h"

#include <string.h>

void mq_push(struct mbuf_q *q, struct rte_mbuf *m)
{
	m->next = NULL;
	m->nb_segs = 1;
	m->pkt_len = m->data_len;
	if (q->tail)
		q->tail->next = m;
	else
		q->head = m;
	q->tail = m;
	q->bytes += m->data_len;
	q->segs++;
}

void mq_free(struct mbuf_q *q)
{
	if (q->head)
		rte_pktmbuf_free(q->head);
	q->head = q->tail = q->cur = NULL;
	q->bytes = q->segs = 0;
}

/* Drops n bytes from the front; returns how many were dropped. */
uint32_t mq_drop_front(struct mbuf_q *q, uint32_t n)
{
	uint32_t done = 0;
	while (n && q->head) {
		struct rte_mbuf *m = q->head;
		if (m == q->cur)
			q->cur = NULL; /* freed or trimmed below */
		if (m->data_len <= n) {
			n -= m->data_len;
			done += m->data_len;
			q->head_pos += m->data_len;
			q->bytes -= m->data_len;
			q->segs--;
			q->head = m->next;
			if (!q->head)
				q->tail = NULL;
			m->next = NULL;
			rte_pktmbuf_free_seg(m);
		} else {
			rte_pktmbuf_adj(m, (uint16_t)n);
			q->head_pos += n;
			q->bytes -= n;
			done += n;
			n = 0;
		}
	}
	return done;
}

/* Copies n bytes from offset off; returns how many were copied. Starts
 * from the cursor when it lies at or before off, and leaves it on the
 * mbuf holding the first byte copied. */
uint32_t mq_copy(struct mbuf_q *q, uint32_t off, void *dst, uint32_t n)
{
	uint8_t *d = dst;
	uint32_t done = 0;
	uint64_t want = q->head_pos + off, pos = q->head_pos;
	struct rte_mbuf *m = q->head;
	if (q->cur && q->cur_pos <= want) {
		m = q->cur;
		pos = q->cur_pos;
	}
	while (m && want >= pos + m->data_len) {
		pos += m->data_len;
		m = m->next;
	}
	if (m) {
		q->cur = m;
		q->cur_pos = pos;
	}
	uint32_t o = (uint32_t)(want - pos);
	while (m && done < n) {
		uint32_t k = m->data_len - o;
		if (k > n - done)
			k = n - done;
		memcpy(d + done, rte_pktmbuf_mtod_offset(m, const uint8_t *, o), k);
		done += k;
		o = 0;
		m = m->next;
	}
	return done;
}
