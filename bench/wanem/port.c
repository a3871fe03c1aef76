// SPDX-License-Identifier: BSD-3-Clause
/* AF_PACKET rings on one interface (see port.h). */
#include "port.h"

#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <linux/ethtool.h>
#include <linux/if_packet.h>
#include <linux/sockios.h>
#include <linux/virtio_net.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

enum {
	RX_FRAMES = 8192,      /* 100 ms of full-size frames at 1 Gbit/s: a stalled emulator loses none */
	TX_FRAMES = 1024,
	RING_BLOCK = 1 << 18,
	VNET_LEN = sizeof(struct virtio_net_hdr),
};

static uint32_t frame_size_for(uint32_t mtu)
{
	uint32_t s = 2048;

	while (s < mtu + 256)   /* tpacket2_hdr, sockaddr_ll, vnet header, L2 */
		s <<= 1;
	return s;
}

static int fail(const char *ifname, const char *what)
{
	int err = errno;

	fprintf(stderr, "strait-wanem: %s: %s: %s\n", ifname, what, strerror(err));
	return -err;
}

/* Best effort: frames merged by GRO on our own receive side would reach us
 * as superframes. The senders' TSO/GSO is theirs to turn off. */
static void gro_off(int fd, const char *name)
{
	struct ethtool_value ev = { .cmd = ETHTOOL_SGRO, .data = 0 };
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_data = (void *)&ev;
	(void)ioctl(fd, SIOCETHTOOL, &ifr);
}

static int ring(int fd, int which, uint32_t frame_size, uint32_t frames,
		uint8_t **map, size_t *size)
{
	struct tpacket_req req = {
		.tp_block_size = RING_BLOCK,
		.tp_frame_size = frame_size,
		.tp_block_nr = (uint32_t)((uint64_t)frames * frame_size / RING_BLOCK),
		.tp_frame_nr = frames,
	};

	if (setsockopt(fd, SOL_PACKET, which, &req, sizeof(req)) < 0)
		return -1;
	*size = (size_t)req.tp_block_size * req.tp_block_nr;
	*map = mmap(NULL, *size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
	if (*map == MAP_FAILED) {
		*map = NULL;
		return -1;
	}
	return 0;
}

static int open_socket(struct port *p, int proto, int rx)
{
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, proto);
	int v2 = TPACKET_V2, one = 1;
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET, .sll_protocol = (uint16_t)proto,
		.sll_ifindex = p->ifindex,
	};

	if (fd < 0)
		return fail(p->name, "AF_PACKET socket");
	if (rx) {
		p->rx_fd = fd;
		struct packet_mreq mr = { .mr_ifindex = p->ifindex, .mr_type = PACKET_MR_PROMISC };

		if (setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof(one)) < 0)
			return fail(p->name, "PACKET_VNET_HDR");
		if (setsockopt(fd, SOL_PACKET, PACKET_VERSION, &v2, sizeof(v2)) < 0)
			return fail(p->name, "PACKET_VERSION");
		if (setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one)) < 0)
			return fail(p->name, "PACKET_IGNORE_OUTGOING");
		if (ring(fd, PACKET_RX_RING, p->rx_frame_size, RX_FRAMES, &p->rx_ring,
			 &p->rx_ring_size) < 0)
			return fail(p->name, "receive ring");
		p->rx_frames = RX_FRAMES;
		if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0)
			return fail(p->name, "bind");
		if (setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr)) < 0)
			return fail(p->name, "promiscuous mode");
	} else {
		p->tx_fd = fd;
		if (setsockopt(fd, SOL_PACKET, PACKET_VERSION, &v2, sizeof(v2)) < 0)
			return fail(p->name, "PACKET_VERSION");
		if (setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one)) < 0)
			return fail(p->name, "PACKET_QDISC_BYPASS");
		if (ring(fd, PACKET_TX_RING, p->tx_frame_size, TX_FRAMES, &p->tx_ring,
			 &p->tx_ring_size) < 0)
			return fail(p->name, "transmit ring");
		p->tx_frames = TX_FRAMES;
		if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0)
			return fail(p->name, "bind");
	}
	return 0;
}

int port_open(struct port *p, const char *name)
{
	struct ifreq ifr;
	int fd, err;

	memset(p, 0, offsetof(struct port, scratch));
	p->name = name;
	p->rx_fd = p->tx_fd = -1;
	if (strlen(name) >= IFNAMSIZ || !(p->ifindex = (int)if_nametoindex(name))) {
		fprintf(stderr, "strait-wanem: no interface '%s' here\n", name);
		return -ENODEV;
	}
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fail(name, "socket");
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	err = ioctl(fd, SIOCGIFMTU, &ifr);
	if (err == 0)
		gro_off(fd, name);
	close(fd);
	if (err < 0)
		return fail(name, "MTU");
	p->mtu = (uint32_t)ifr.ifr_mtu;
	if (p->mtu > 65000) {
		fprintf(stderr, "strait-wanem: %s: MTU %u too large\n", name, p->mtu);
		return -EINVAL;
	}
	p->max_frame = p->mtu + 14 + 8;   /* Ethernet header and two VLAN tags */
	p->rx_frame_size = p->tx_frame_size = frame_size_for(p->mtu);
	if ((err = open_socket(p, 0, 0)) < 0 || (err = open_socket(p, htons(ETH_P_ALL), 1)) < 0)
		return err;
	return 0;
}

void port_close(struct port *p)
{
	if (p->rx_ring)
		munmap(p->rx_ring, p->rx_ring_size);
	if (p->tx_ring)
		munmap(p->tx_ring, p->tx_ring_size);
	if (p->rx_fd >= 0)
		close(p->rx_fd);
	if (p->tx_fd >= 0)
		close(p->tx_fd);
	p->rx_ring = p->tx_ring = NULL;
	p->rx_fd = p->tx_fd = -1;
}

static uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* Completes a CHECKSUM_PARTIAL frame: the field at start + off holds the
 * pseudo-header sum; the checksum covers [start, len). */
static bool complete_csum(uint8_t *f, uint32_t len, uint32_t start, uint32_t off)
{
	uint32_t sum = 0, i;
	uint16_t c;

	if (start >= len || off + 2 > len - start)
		return false;
	for (i = start; i + 1 < len; i += 2)
		sum += (uint32_t)f[i] << 8 | f[i + 1];
	if (i < len)
		sum += (uint32_t)f[i] << 8;
	c = (uint16_t)~fold(sum);
	if (c == 0)
		c = 0xffff;   /* UDP's "no checksum" is 0; TCP accepts either */
	f[start + off] = (uint8_t)(c >> 8);
	f[start + off + 1] = (uint8_t)c;
	return true;
}

/* One received frame: NULL if it is dropped (counted), else the complete
 * frame (in the ring, or rebuilt in p->scratch). */
static const uint8_t *frame_in(struct port *p, struct tpacket2_hdr *h, uint32_t *len)
{
	uint8_t *data = (uint8_t *)h + h->tp_mac;
	const struct virtio_net_hdr *vh = (const void *)(data - VNET_LEN);
	bool vlan = h->tp_status & TP_STATUS_VLAN_VALID;
	bool csum = vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM;
	uint32_t n = h->tp_snaplen;

	if (vh->gso_type != VIRTIO_NET_HDR_GSO_NONE) {
		if (!p->gso_warned)
			fprintf(stderr, "strait-wanem: %s: a superframe (TSO/GSO/GRO) arrived; "
				"dropped: turn it off at the sender (ethtool -K PEER tso off gso off)\n",
				p->name);
		p->gso_warned = true;
		p->rx_dropped++;
		return NULL;
	}
	if (n != h->tp_len || n < 14 || n + (vlan ? 4 : 0) > p->max_frame) {
		p->rx_dropped++;
		return NULL;
	}
	*len = n;
	if (!vlan && !csum)
		return data;
	if (vlan) {
		uint16_t tpid = h->tp_status & TP_STATUS_VLAN_TPID_VALID ? h->tp_vlan_tpid : 0x8100;
		uint16_t tag[2] = { htons(tpid), htons(h->tp_vlan_tci) };

		memcpy(p->scratch, data, 12);
		memcpy(p->scratch + 12, tag, 4);
		memcpy(p->scratch + 16, data + 12, n - 12);
		*len = n + 4;
	} else {
		memcpy(p->scratch, data, n);
	}
	if (csum && !complete_csum(p->scratch, *len, le16toh(vh->csum_start) + (vlan ? 4 : 0),
				   le16toh(vh->csum_offset))) {
		p->rx_dropped++;
		return NULL;
	}
	return p->scratch;
}

unsigned port_rx(struct port *p, unsigned max, port_rx_fn *fn, void *ctx)
{
	unsigned n = 0;

	while (n < max) {
		struct tpacket2_hdr *h = (void *)(p->rx_ring + (size_t)p->rx_next * p->rx_frame_size);
		const uint8_t *f;
		uint32_t len;

		if (!(__atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER))
			break;
		f = frame_in(p, h, &len);
		if (f)
			fn(ctx, f, len, (uint64_t)h->tp_sec * 1000000000ull + h->tp_nsec);
		__atomic_store_n(&h->tp_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
		p->rx_next = (p->rx_next + 1) % p->rx_frames;
		n++;
	}
	return n;
}

bool port_tx(struct port *p, const uint8_t *frame, uint32_t len)
{
	struct tpacket2_hdr *h = (void *)(p->tx_ring + (size_t)p->tx_next * p->tx_frame_size);
	uint32_t off = TPACKET2_HDRLEN - sizeof(struct sockaddr_ll);
	uint32_t st = __atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE);

	if (len > p->max_frame || len + off > p->tx_frame_size) {
		p->tx_dropped++;
		return true;
	}
	if (st == TP_STATUS_WRONG_FORMAT) {
		p->tx_dropped++;
	} else if (st != TP_STATUS_AVAILABLE) {
		return false;
	}
	memcpy((uint8_t *)h + off, frame, len);
	h->tp_len = len;
	h->tp_snaplen = len;
	__atomic_store_n(&h->tp_status, TP_STATUS_SEND_REQUEST, __ATOMIC_RELEASE);
	p->tx_next = (p->tx_next + 1) % p->tx_frames;
	p->tx_pending++;
	return true;
}

int port_tx_flush(struct port *p)
{
	if (!p->tx_pending)
		return 0;
	p->tx_pending = 0;
	if (send(p->tx_fd, NULL, 0, MSG_DONTWAIT) < 0 && errno != EAGAIN && errno != ENOBUFS)
		return -errno;
	return 0;
}

int port_error(struct port *p)
{
	int fds[2] = { p->rx_fd, p->tx_fd };

	for (int i = 0; i < 2; i++) {
		int err = 0;
		socklen_t sl = sizeof(err);

		if (fds[i] >= 0 && getsockopt(fds[i], SOL_SOCKET, SO_ERROR, &err, &sl) == 0 && err)
			return err;
	}
	return 0;
}

void port_read_overrun(struct port *p)
{
	struct tpacket_stats st;
	socklen_t sl = sizeof(st);

	if (p->rx_fd >= 0 && getsockopt(p->rx_fd, SOL_PACKET, PACKET_STATISTICS, &st, &sl) == 0)
		p->rx_overrun += st.tp_drops;
}
