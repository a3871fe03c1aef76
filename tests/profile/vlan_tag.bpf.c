/* SPDX-License-Identifier: BSD-3-Clause */
/* tc programs for tests/e2e/profile-capture.sh: this kernel has no 8021q
 * module, so a veth carries VLAN 30 by tagging on egress (section "push")
 * and untagging on ingress (section "pop"). The capture sees the tag both
 * ways: AF_PACKET taps transmitted frames after tc egress and received
 * ones before tc ingress. Built at test time: clang -target bpf. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>

static long (*skb_vlan_push)(struct __sk_buff *skb, __u16 proto, __u16 tci) =
	(void *)BPF_FUNC_skb_vlan_push;
static long (*skb_vlan_pop)(struct __sk_buff *skb) = (void *)BPF_FUNC_skb_vlan_pop;

__attribute__((section("push"), used)) int vlan_push(struct __sk_buff *skb)
{
	skb_vlan_push(skb, __builtin_bswap16(0x8100), 30);
	return TC_ACT_OK;
}

__attribute__((section("pop"), used)) int vlan_pop(struct __sk_buff *skb)
{
	if (skb->vlan_present)
		skb_vlan_pop(skb);
	return TC_ACT_OK;
}

char _license[] __attribute__((section("license"), used)) = "Dual BSD/GPL";
