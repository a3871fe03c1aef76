/* SPDX-License-Identifier: BSD-3-Clause */
/* One Linux interface seen through AF_PACKET: a TPACKET_V2 receive ring
 * (promiscuous, outgoing frames ignored, virtio-net headers on so that a
 * partial checksum can be completed and a superframe recognised) and a
 * TPACKET_V2 transmit ring sent with one send() per batch, bypassing the
 * qdisc. No allocation and one syscall per batch, not per frame. */
#ifndef WANEM_PORT_H
#define WANEM_PORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct port {
	const char *name;
	int ifindex;
	uint32_t mtu, max_frame;      /* largest frame passed on */
	int rx_fd, tx_fd;
	uint8_t *rx_ring, *tx_ring;
	size_t rx_ring_size, tx_ring_size;
	uint32_t rx_frame_size, rx_frames, rx_next;
	uint32_t tx_frame_size, tx_frames, tx_next, tx_pending;
	bool gso_warned;
	uint64_t rx_dropped;          /* superframes, truncated, bad checksum offsets */
	uint64_t tx_dropped;          /* too large for this port, or rejected by the ring */
	uint64_t rx_overrun;          /* the kernel found the receive ring full */
	uint8_t scratch[65536 + 64];  /* a frame being rebuilt (VLAN tag, checksum) */
};

/* Opens both rings on interface name. Returns 0, or -errno with a message
 * already printed. */
int port_open(struct port *p, const char *name);
void port_close(struct port *p);

/* ts_ns: the kernel's receive timestamp (CLOCK_REALTIME), as the ring
 * reports it. */
typedef void port_rx_fn(void *ctx, const uint8_t *frame, uint32_t len, uint64_t ts_ns);

/* Hands every frame waiting in the receive ring to fn (at most max), each
 * a complete frame: the VLAN tag the kernel took off put back, a partial
 * checksum completed. Returns the number of ring entries consumed. */
unsigned port_rx(struct port *p, unsigned max, port_rx_fn *fn, void *ctx);

/* Copies a frame into the transmit ring; false if the ring is full (try
 * again after port_tx_flush()). A frame too large for this port is
 * dropped and counted, and true returned. */
bool port_tx(struct port *p, const uint8_t *frame, uint32_t len);

/* Sends what port_tx() queued. Returns 0 or -errno. */
int port_tx_flush(struct port *p);

/* Adds the kernel's count of frames it found no room for in the receive
 * ring (PACKET_STATISTICS, which resets on reading) to p->rx_overrun. */
void port_read_overrun(struct port *p);

/* The pending socket error (ENETDOWN, ENODEV, ...) of either ring, 0 if none. */
int port_error(struct port *p);

#endif
