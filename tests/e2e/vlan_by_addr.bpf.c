/* SPDX-License-Identifier: BSD-3-Clause */
/* A tc egress program for tests/e2e/relay-two-sites.sh: this kernel has no
 * 8021q module (nor tc's vlan action), so one address of a LAN host lives
 * on a VLAN by tagging on egress the frames of that address alone: IPv4
 * whose destination (DIR 0) or source (DIR 1) is ADDR, and ARP whose
 * target or sender is ADDR. The tag is 802.1Q with TCI (priority bits
 * included). Ingress untagging is tests/profile/vlan_tag.bpf.c's "pop".
 * Built at test time: clang -target bpf -DADDR=0x... -DDIR=0|1 -DTCI=...
 * (ADDR: the address's four bytes read as a little-endian __u32). */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>

static long (*skb_load_bytes)(const struct __sk_buff *skb, __u32 off, void *to, __u32 len) =
	(void *)BPF_FUNC_skb_load_bytes;
static long (*skb_vlan_push)(struct __sk_buff *skb, __u16 proto, __u16 tci) =
	(void *)BPF_FUNC_skb_vlan_push;

__attribute__((section("push"), used)) int vlan_push_addr(struct __sk_buff *skb)
{
	__u32 a = 0, off;

	if (skb->protocol == __builtin_bswap16(0x0800))
		off = 14 + (DIR ? 12 : 16);     /* IPv4 source, destination */
	else if (skb->protocol == __builtin_bswap16(0x0806))
		off = 14 + (DIR ? 14 : 24);     /* ARP sender, target IP */
	else
		return TC_ACT_OK;
	if (!skb_load_bytes(skb, off, &a, 4) && a == ADDR)
		skb_vlan_push(skb, __builtin_bswap16(0x8100), TCI);
	return TC_ACT_OK;
}

char _license[] __attribute__((section("license"), used)) = "Dual BSD/GPL";
