/* SPDX-License-Identifier: BSD-3-Clause */
/* Telemetry of the WAN side (commands in telemetry.c's table):
 *   /strait/tunnel               totals, and each tenant's state
 *   /strait/tunnel,NAME          one tenant: tunnel, handshakes, ESP, drops,
 *                                channel, its class in the WAN shaper, the
 *                                last test of the channel alone
 *   /strait/tunnel/test,NAME,MODE,BYTES   starts that test (discard, echo,
 *                                source); its result shows in /strait/tunnel,NAME
 * Read from the workers' snapshots (wan_snapshot()); never from their live
 * state. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_telemetry.h>

#include "dp.h"
#include "wan.h"

/* Every worker's snapshot; NULL when none could be read. */
static struct wan_snap *snaps(const struct dp_app *a, unsigned *n)
{
	struct wan_snap *s = calloc(a->n_workers, sizeof(*s));
	if (!s)
		return NULL;
	*n = 0;
	for (unsigned w = 0; w < a->n_workers; w++)
		if (!wan_snapshot(&a->workers[w], &s[*n]))
			(*n)++;
	if (!*n) {
		free(s);
		return NULL;
	}
	return s;
}

static const struct wan_tenant_snap *find(const struct wan_snap *s, unsigned n, unsigned index)
{
	for (unsigned w = 0; w < n; w++)
		for (unsigned i = 0; i < s[w].n; i++)
			if (s[w].t[i].index == index)
				return &s[w].t[i];
	return NULL;
}

static int tenant_index(const struct dp_app *a, const char *name, size_t len)
{
	const struct strait_config *cfg = dp_held_cfg(a);
	for (unsigned i = 0; i < cfg->n_tenants; i++)
		if (len && strlen(cfg->tenants[i].name) == len && !strncmp(cfg->tenants[i].name, name, len))
			return (int)i;
	return -1;
}

static struct rte_tel_data *sub_dict(struct rte_tel_data *d, const char *key)
{
	struct rte_tel_data *sub = rte_tel_data_alloc();
	if (!sub)
		return NULL;
	rte_tel_data_start_dict(sub);
	if (rte_tel_data_add_dict_container(d, key, sub, 0)) {
		rte_tel_data_free(sub);
		return NULL;
	}
	return sub; /* owned by d; filled after adding (a pointer is kept) */
}

static void u64(struct rte_tel_data *d, const char *k, uint64_t v)
{
	if (d)
		rte_tel_data_add_dict_u64(d, k, v);
}

/* A class of the WAN shaper (wan_shaper.h): its policy as applied, what
 * it sent and how, what it holds. */
static void put_shaper(struct rte_tel_data *d, const struct wan_shaper_snap *s)
{
	if (!d)
		return;
	rte_tel_data_add_dict_string(d, "mode", shaper_mode_name(s->cls.mode));
	u64(d, "guaranteed_bps", s->guaranteed_bps);
	u64(d, "ceiling_bps", s->ceiling_bps);
	u64(d, "rate_bps", s->rate_bps);
	u64(d, "bytes", s->cls.bytes);
	u64(d, "frames", s->cls.frames);
	u64(d, "green_bytes", s->cls.green_bytes);
	u64(d, "borrowed_bytes", s->cls.borrowed_bytes);
	u64(d, "throttled", s->cls.throttled);
	u64(d, "held_bytes", s->held_bytes);
	u64(d, "over_bytes", s->over_bytes);
	u64(d, "rpo_target_ns", s->cls.rpo_target_ns);
	u64(d, "lag_ns", s->cls.lag_ns);
	u64(d, "urgent", s->cls.urgent);
	u64(d, "urgent_bytes", s->cls.urgent_bytes);
	if (s->at_ns)
		u64(d, "at_ns", s->at_ns);
}

static const char *const esp_drops[] = {
	[STRAIT_ESP_E_SPI] = "unknown_spi", [STRAIT_ESP_E_REPLAY] = "replay",
	[STRAIT_ESP_E_ICV] = "icv", [STRAIT_ESP_E_MALFORMED] = "malformed",
	[STRAIT_ESP_E_PAYLOAD] = "payload", [STRAIT_ESP_E_EXPIRED] = "expired",
};

static void put_tenant(struct rte_tel_data *d, const struct dp_app *a, const struct wan_tenant_snap *t)
{
	const struct strait_tenant_cfg *tc = &dp_held_cfg(a)->tenants[t->index];
	const struct strait_tunnel_stats *u = &t->tun;
	char hex[16];
	rte_tel_data_add_dict_string(d, "name", tc->name);
	u64(d, "id", tc->id);
	u64(d, "worker", wan_tenant_owner(a, t->index));
	rte_tel_data_add_dict_string(d, "state", t->up ? "up" : "down");
	snprintf(hex, sizeof(hex), "0x%08x", t->spi_in);
	rte_tel_data_add_dict_string(d, "spi_in", hex);
	snprintf(hex, sizeof(hex), "0x%08x", t->spi_out);
	rte_tel_data_add_dict_string(d, "spi_out", hex);
	if (t->last_rx_ms_ago != UINT64_MAX)
		u64(d, "last_rx_ms_ago", t->last_rx_ms_ago);

	struct rte_tel_data *h = sub_dict(d, "handshakes");
	if (h) {
		struct rte_tel_data *sent = sub_dict(h, "sent");
		u64(sent, "init", u->kx_tx[STRAIT_KX_INIT]);
		u64(sent, "resp", u->kx_tx[STRAIT_KX_RESP]);
		u64(sent, "confirm", u->kx_tx[STRAIT_KX_CONFIRM]);
		u64(h, "accepted", u->kx_rx[STRAIT_KX_OK]);
		struct rte_tel_data *ref = sub_dict(h, "refused");
		for (int s = 1; s < STRAIT_KX_STATUS_MAX; s++)
			u64(ref, strait_kx_status_name(s), u->kx_rx[s]);
		u64(h, "completed", u->handshakes);
		u64(h, "x25519", u->kx_dh);
	}
	u64(d, "rekeys_started", u->rekeys_started);
	u64(d, "sas_retired", u->retired);
	u64(d, "peer_timeouts", u->peer_downs);
	u64(d, "peer_restarts", u->peer_restarts);
	struct rte_tel_data *k = sub_dict(d, "keepalives");
	u64(k, "sent", u->keepalives);
	u64(k, "received", t->keepalives_in);
	struct rte_tel_data *e = sub_dict(d, "esp");
	u64(e, "frames_in", t->esp_in_frames);
	u64(e, "bytes_in", t->esp_in_bytes);
	u64(e, "frames_out", t->esp_out_frames);
	u64(e, "bytes_out", t->esp_out_bytes);
	struct rte_tel_data *dr = sub_dict(d, "drops");
	for (size_t s = 0; s < RTE_DIM(esp_drops); s++)
		if (esp_drops[s])
			u64(dr, esp_drops[s], u->esp_rx[s]);
	for (int i = 0; i < WAN_TDROP_COUNT; i++)
		if (i != WAN_TDROP_TX_NO_MBUF && i != WAN_TDROP_TX_NOROOM)
			u64(dr, wan_tenant_drop_name(i), t->drops[i]);
	struct rte_tel_data *tx = sub_dict(d, "tx_refused");
	u64(tx, "no_sa", u->esp_tx[STRAIT_ESP_E_NOSA]);
	u64(tx, "expired", u->esp_tx[STRAIT_ESP_E_EXPIRED]);
	u64(tx, "noroom", u->esp_tx[STRAIT_ESP_E_NOROOM] + t->drops[WAN_TDROP_TX_NOROOM]);
	u64(tx, "no_mbuf", t->drops[WAN_TDROP_TX_NO_MBUF]);

	const struct channel_stats *c = &t->ch;
	struct rte_tel_data *ch = sub_dict(d, "channel");
	if (ch) {
		rte_tel_data_add_dict_string(ch, "state", channel_state_name(c->state));
		rte_tel_data_add_dict_string(ch, "side", c->connector ? "connects" : "listens");
		u64(ch, "connects", c->connects);
		struct rte_tel_data *dn = sub_dict(ch, "down");
		for (int i = 0; i < CHANNEL_WHY_COUNT; i++)
			u64(dn, channel_why_name(i), c->down[i]);
		u64(ch, "bytes_in", c->bytes_in);
		u64(ch, "bytes_out", c->bytes_out);
		u64(ch, "retrans_segs", c->retrans_segs);
		u64(ch, "srtt_us", c->srtt_us);
		u64(ch, "min_rtt_us", c->min_rtt_us);
		u64(ch, "cwnd", c->cwnd);
		u64(ch, "discarded", c->discarded);
	}
	if (t->shaper.shaped)
		put_shaper(sub_dict(d, "shaper"), &t->shaper);
	const struct channel_test *ts = &t->test;
	struct rte_tel_data *te = sub_dict(d, "test");
	if (te) {
		rte_tel_data_add_dict_string(te, "mode", channel_test_mode_name(ts->mode));
		rte_tel_data_add_dict_string(te, "state", channel_test_state_name(ts->state));
		u64(te, "runs", ts->runs);
		u64(te, "bytes", ts->bytes);
		u64(te, "sent", ts->sent);
		u64(te, "received", ts->received);
		u64(te, "mismatches", ts->mismatches);
		u64(te, "ns", ts->ns);
		/* goodput: the payload one way (discard, source) or each way (echo) */
		u64(te, "mbit_s", ts->ns ? ts->bytes * 8000 / ts->ns : 0);
		u64(te, "retrans_segs", ts->retrans_segs);
		u64(te, "fast_recoveries", ts->fast_recoveries);
		u64(te, "rto_expiries", ts->rto_expiries);
		u64(te, "srtt_us", ts->srtt_us);
		u64(te, "min_rtt_us", ts->min_rtt_us);
		u64(te, "cwnd", ts->cwnd);
		u64(te, "ssthresh", ts->ssthresh);
		u64(te, "snd_wnd", ts->snd_wnd);
	}
}

int wan_tel_tunnel(const struct dp_app *a, const char *params, struct rte_tel_data *d)
{
	unsigned n;
	struct wan_snap *s = snaps(a, &n);
	if (!s)
		return -1;
	rte_tel_data_start_dict(d);
	if (params && *params) {
		int i = tenant_index(a, params, strlen(params));
		const struct wan_tenant_snap *t = i < 0 ? NULL : find(s, n, (unsigned)i);
		if (t)
			put_tenant(d, a, t);
		free(s);
		return t ? 0 : -1;
	}
	uint64_t pool_free[3] = { 0 }, pool_size[3] = { 0 };
	struct tcp_stack_stats st = { 0 };
	struct tcp_impair_stats im = { 0 };
	uint64_t drops[WAN_DROP_COUNT] = { 0 }, esp[STRAIT_ESP_STATUS_MAX] = { 0 };
	uint64_t kx[STRAIT_KX_STATUS_MAX] = { 0 }, td[WAN_TDROP_COUNT] = { 0 };
	unsigned up = 0, tenants = 0;
	struct rte_tel_data *states = rte_tel_data_alloc();
	if (states)
		rte_tel_data_start_dict(states);
	for (unsigned w = 0; w < n; w++) {
		for (int i = 0; i < WAN_DROP_COUNT; i++)
			drops[i] += s[w].drops[i];
		for (int k = 0; k < 3; k++) {
			pool_free[k] += s[w].pool_free[k];
			pool_size[k] += s[w].pool_size[k];
		}
		st.conns += s[w].stack.conns;
		st.established += s[w].stack.established;
		st.segs_in += s[w].stack.segs_in;
		st.segs_out += s[w].stack.segs_out;
		st.retrans_segs += s[w].stack.retrans_segs;
		st.rto_expiries += s[w].stack.rto_expiries;
		st.rst_in += s[w].stack.rst_in;
		st.rst_out += s[w].stack.rst_out;
		st.nombuf += s[w].stack.nombuf;
		st.no_conn += s[w].stack.no_conn;
		st.bad_csum += s[w].stack.bad_csum;
		for (int k = 0; k < TCP_IMPAIR_NDIRS; k++) {
			im.dropped[k] += s[w].impair.dropped[k];
			im.dup[k] += s[w].impair.dup[k];
			im.reordered[k] += s[w].impair.reordered[k];
		}
		for (unsigned j = 0; j < s[w].n; j++) {
			const struct wan_tenant_snap *t = &s[w].t[j];
			tenants++;
			up += t->up;
			for (int i = 0; i < STRAIT_ESP_STATUS_MAX; i++)
				esp[i] += t->tun.esp_rx[i];
			for (int i = 0; i < STRAIT_KX_STATUS_MAX; i++)
				kx[i] += t->tun.kx_rx[i];
			for (int i = 0; i < WAN_TDROP_COUNT; i++)
				td[i] += t->drops[i];
			if (states)
				rte_tel_data_add_dict_string(states, dp_held_cfg(a)->tenants[t->index].name,
							     t->up ? "up" : "down");
		}
	}
	u64(d, "tenants", tenants);
	u64(d, "up", up);
	u64(d, "workers", n);
	/* bridged traffic's class in each worker's shaper, summed */
	struct wan_shaper_snap br = { 0 };
	for (unsigned w = 0; w < n; w++) {
		if (!s[w].bridged.shaped)
			continue;
		br.shaped = true;
		br.cls.bytes += s[w].bridged.cls.bytes;
		br.cls.frames += s[w].bridged.cls.frames;
		br.cls.borrowed_bytes += s[w].bridged.cls.borrowed_bytes;
		br.rate_bps += s[w].bridged.rate_bps;
		br.over_bytes += s[w].bridged.over_bytes;
	}
	if (br.shaped)
		put_shaper(sub_dict(d, "bridged_shaper"), &br);
	struct rte_tel_data *dr = sub_dict(d, "drops");
	/* before a frame is a tenant's, then the tenants' own */
	u64(dr, "unknown_spi", drops[WAN_DROP_UNKNOWN_SPI] + esp[STRAIT_ESP_E_SPI]);
	u64(dr, "replay", esp[STRAIT_ESP_E_REPLAY]);
	u64(dr, "icv", esp[STRAIT_ESP_E_ICV]);
	u64(dr, "malformed", drops[WAN_DROP_MALFORMED] + esp[STRAIT_ESP_E_MALFORMED]);
	u64(dr, "payload", esp[STRAIT_ESP_E_PAYLOAD]);
	u64(dr, "expired", esp[STRAIT_ESP_E_EXPIRED]);
	u64(dr, "handshake_mac", kx[STRAIT_KX_E_MAC]);
	u64(dr, "handshake_replay", kx[STRAIT_KX_E_REPLAY]);
	u64(dr, "stale_timestamp", kx[STRAIT_KX_E_STALE]);
	u64(dr, "handshake_malformed", kx[STRAIT_KX_E_MALFORMED]);
	u64(dr, "handshake_other", kx[STRAIT_KX_E_TENANT] + kx[STRAIT_KX_E_TIEBREAK] +
	    kx[STRAIT_KX_E_UNEXPECTED] + kx[STRAIT_KX_E_CONFIRM] + kx[STRAIT_KX_E_CRYPTO]);
	u64(dr, "unknown_tenant", drops[WAN_DROP_UNKNOWN_TENANT]);
	u64(dr, "nat_keepalive", drops[WAN_DROP_NAT_KEEPALIVE]);
	u64(dr, "steer_full", drops[WAN_DROP_STEER_FULL]);
	u64(dr, "inner_malformed", td[WAN_TDROP_INNER_MALFORMED]);
	u64(dr, "inner_addr", td[WAN_TDROP_INNER_ADDR]);
	u64(dr, "rx_no_mbuf", td[WAN_TDROP_RX_NO_MBUF]);
	/* the workers' channel stacks and their mbuf budgets */
	struct rte_tel_data *cs = sub_dict(d, "channel_stack");
	u64(cs, "conns", st.conns);
	u64(cs, "established", st.established);
	u64(cs, "segs_in", st.segs_in);
	u64(cs, "segs_out", st.segs_out);
	u64(cs, "retrans_segs", st.retrans_segs);
	u64(cs, "rto_expiries", st.rto_expiries);
	u64(cs, "rst_in", st.rst_in);
	u64(cs, "rst_out", st.rst_out);
	u64(cs, "no_conn", st.no_conn);
	u64(cs, "bad_csum", st.bad_csum);
	u64(cs, "nombuf", st.nombuf);
	/* the test knob (--tcp-impair) on the channels' segments */
	struct rte_tel_data *ik = cs ? sub_dict(cs, "impair") : NULL;
	u64(ik, "dropped_rx", im.dropped[TCP_IMPAIR_RX]);
	u64(ik, "dropped_tx", im.dropped[TCP_IMPAIR_TX]);
	u64(ik, "dup_rx", im.dup[TCP_IMPAIR_RX]);
	u64(ik, "dup_tx", im.dup[TCP_IMPAIR_TX]);
	u64(ik, "reordered_rx", im.reordered[TCP_IMPAIR_RX]);
	u64(ik, "reordered_tx", im.reordered[TCP_IMPAIR_TX]);
	struct rte_tel_data *pl = sub_dict(d, "mbufs");
	static const char *const pn[3][2] = { { "queue_free", "queue_size" }, { "seg_free", "seg_size" },
					      { "rx_free", "rx_size" } };
	for (int k = 0; k < 3; k++) {
		u64(pl, pn[k][0], pool_free[k]);
		u64(pl, pn[k][1], pool_size[k]);
	}
	if (states && rte_tel_data_add_dict_container(d, "state", states, 0))
		rte_tel_data_free(states);
	free(s);
	return 0;
}

int wan_tel_test(const struct dp_app *a, const char *params, struct rte_tel_data *d)
{
	/* NAME,MODE,BYTES */
	const char *c1 = params ? strchr(params, ',') : NULL;
	const char *c2 = c1 ? strchr(c1 + 1, ',') : NULL;
	rte_tel_data_start_dict(d);
	int i = c1 ? tenant_index(a, params, (size_t)(c1 - params)) : -1;
	int mode = -1;
	for (int m = 0; c2 && m <= CHANNEL_TEST_SOURCE; m++)
		if ((size_t)(c2 - c1 - 1) == strlen(channel_test_mode_name(m)) &&
		    !strncmp(c1 + 1, channel_test_mode_name(m), (size_t)(c2 - c1 - 1)))
			mode = m;
	char *end = NULL;
	unsigned long long bytes = c2 ? strtoull(c2 + 1, &end, 10) : 0;
	int r = -EINVAL;
	if (i >= 0 && mode >= 0 && end && !*end && bytes)
		r = wan_request_test((unsigned)i, (enum channel_test_mode)mode, bytes);
	u64(d, "started", r == 0);
	if (r)
		rte_tel_data_add_dict_string(d, "usage", "/strait/tunnel/test,TENANT,discard|echo|source,BYTES");
	return 0;
}
