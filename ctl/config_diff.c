/* SPDX-License-Identifier: BSD-3-Clause */
/* Reload: what differs between the running configuration and a new one,
 * and where the new one's tenants go (ctl.h, "reload").
 *
 * As wireguard-tools' sync_conf(): both tenant sets sorted by name and
 * walked side by side; a name only in the running set is removed, only in
 * the new set added, in both compared field by field. A tenant keeps its
 * slot (its index: flows, statistics and the dataplane's per-tenant state
 * are indexed by it), so an added or removed tenant never moves another.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "strait/ctl.h"

/* ---- tenant fields ---- */

static bool prefix_in(const struct strait_prefix *p, const struct strait_prefix *set, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (set[i].family == p->family && set[i].len == p->len &&
		    !memcmp(set[i].addr, p->addr, 16))
			return true;
	return false;
}

/* Lists compare as sets: "a, b" and "b, a" are the same rule. */
static bool prefixes_differ(const struct strait_prefix *a, unsigned na,
			    const struct strait_prefix *b, unsigned nb)
{
	for (unsigned i = 0; i < na; i++)
		if (!prefix_in(&a[i], b, nb))
			return true;
	for (unsigned i = 0; i < nb; i++)
		if (!prefix_in(&b[i], a, na))
			return true;
	return false;
}

static bool port_in(const struct strait_port_range *p, const struct strait_port_range *set,
		    unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (set[i].lo == p->lo && set[i].hi == p->hi)
			return true;
	return false;
}

static bool ports_differ(const struct strait_tenant_cfg *a, const struct strait_tenant_cfg *b)
{
	for (unsigned i = 0; i < a->n_ports; i++)
		if (!port_in(&a->ports[i], b->ports, b->n_ports))
			return true;
	for (unsigned i = 0; i < b->n_ports; i++)
		if (!port_in(&b->ports[i], a->ports, a->n_ports))
			return true;
	return false;
}

static bool addr_differ(const struct strait_addr *a, const struct strait_addr *b)
{
	return a->family != b->family || memcmp(a->addr, b->addr, 16);
}

static const struct {
	const char *name;
	uint32_t apply;
} tenant_fields[STRAIT_FIELD_COUNT] = {
	[STRAIT_FIELD_FILE] = { "file", STRAIT_APPLY_NONE },
	/* the file's name alone: the same key from elsewhere changes nothing */
	[STRAIT_FIELD_KEY_FILE] = { "[Tenant] KeyFile", STRAIT_APPLY_NONE },
	[STRAIT_FIELD_PEER_DOWN] = { "[Tenant] PeerDown", STRAIT_APPLY_POLICY },
	[STRAIT_FIELD_CLIENT_PREFIX] = { "[Interception] ClientPrefix", STRAIT_APPLY_RULE },
	[STRAIT_FIELD_SERVER_PREFIX] = { "[Interception] ServerPrefix", STRAIT_APPLY_RULE },
	[STRAIT_FIELD_PORTS] = { "[Interception] Ports", STRAIT_APPLY_RULE },
	[STRAIT_FIELD_ENDPOINT] = { "[Peer] Endpoint", STRAIT_APPLY_TUNNEL },
	[STRAIT_FIELD_INNER] = { "[Peer] InnerAddress", STRAIT_APPLY_RESTART },
	[STRAIT_FIELD_PEER_INNER] = { "[Peer] PeerInnerAddress", STRAIT_APPLY_RESTART },
	[STRAIT_FIELD_GUARANTEED] = { "[Bandwidth] Guaranteed", STRAIT_APPLY_RATE },
	[STRAIT_FIELD_CEILING] = { "[Bandwidth] Ceiling", STRAIT_APPLY_RATE },
	[STRAIT_FIELD_PRIORITY] = { "[Bandwidth] Priority", STRAIT_APPLY_RATE },
	[STRAIT_FIELD_WEIGHT] = { "[Bandwidth] Weight", STRAIT_APPLY_RATE },
	[STRAIT_FIELD_CACHE_SIZE] = { "[Tenant] CacheSize", STRAIT_APPLY_CACHE },
	[STRAIT_FIELD_ID] = { "[Tenant] Id", STRAIT_APPLY_RESTART },
	[STRAIT_FIELD_KEY] = { "[Tenant] KeyFile (its key)", STRAIT_APPLY_REKEY },
	[STRAIT_FIELD_PEER_TIMEOUT] = { "[Peer] PeerTimeout", STRAIT_APPLY_TUNNEL },
	[STRAIT_FIELD_KEEPALIVE] = { "[Peer] KeepaliveInterval", STRAIT_APPLY_TUNNEL },
	[STRAIT_FIELD_REKEY_TIME] = { "[Peer] RekeyTime", STRAIT_APPLY_TUNNEL },
	[STRAIT_FIELD_REKEY_BYTES] = { "[Peer] RekeyBytes", STRAIT_APPLY_TUNNEL },
	[STRAIT_FIELD_CACHE_FILE] = { "[Tenant] CacheFile", STRAIT_APPLY_CACHE },
	/* read from the published config at each OPEN and SYN: live */
	[STRAIT_FIELD_VLANS] = { "[Interception] Vlans", STRAIT_APPLY_RULE },
	/* the WAN shaper's class and the channel's minimum rate, in place
	 * (dataplane/wan_shaper.c: wan_shaper_sync) */
	[STRAIT_FIELD_RPO_TARGET] = { "[Bandwidth] RpoTarget", STRAIT_APPLY_RATE },
	[STRAIT_FIELD_TRANSPORT] = { "[Bandwidth] Transport", STRAIT_APPLY_RATE },
	/* the codec's literal window: built again as for CacheSize (both
	 * appliances must agree on it, as on CacheSize) */
	[STRAIT_FIELD_CACHE_WINDOW] = { "[Tenant] CacheWindow", STRAIT_APPLY_CACHE },
};

const char *strait_field_name(unsigned field)
{
	return field < STRAIT_FIELD_COUNT ? tenant_fields[field].name : "?";
}

uint32_t strait_field_apply(unsigned field)
{
	return field < STRAIT_FIELD_COUNT ? tenant_fields[field].apply : 0;
}

const char *strait_apply_name(unsigned bit_index)
{
	static const char *const names[STRAIT_APPLY_COUNT] = {
		"rule", "rate", "rekey", "policy", "tunnel", "restart", "cache",
	};
	return bit_index < STRAIT_APPLY_COUNT ? names[bit_index] : "?";
}

/* Every field of a tenant and of the appliance is compared below, or a
 * reload would silently ignore its change. A field added to struct
 * strait_tenant_cfg or strait_appliance_cfg (ctl.h) stops the build here:
 * compare it (a tenant's: a STRAIT_FIELD_ and how it applies; the
 * appliance's: in place, or "takes a restart"), add a case to
 * tests/ctl/test_control.c, then update the size. */
_Static_assert(sizeof(struct strait_tenant_cfg) == 13224,
	       "a tenant field config_diff.c does not compare (see above)");
_Static_assert(sizeof(struct strait_appliance_cfg) == 13336,
	       "an appliance field config_diff.c does not compare (see above)");

static bool key_loaded(const struct strait_tenant_cfg *t)
{
	static const uint8_t zero[sizeof(t->key_id)];
	return memcmp(t->key_id, zero, sizeof(zero)) != 0;
}

static uint32_t tenant_fields_differ(const struct strait_tenant_cfg *a,
				     const struct strait_tenant_cfg *b)
{
	uint32_t f = 0;
#define DIFF(field, cond) \
	do { \
		if (cond) \
			f |= 1u << (field); \
	} while (0)
	DIFF(STRAIT_FIELD_FILE, strcmp(a->file, b->file));
	DIFF(STRAIT_FIELD_KEY_FILE, strcmp(a->key_file, b->key_file));
	DIFF(STRAIT_FIELD_PEER_DOWN, a->peer_down != b->peer_down);
	DIFF(STRAIT_FIELD_CLIENT_PREFIX, prefixes_differ(a->client, a->n_client, b->client, b->n_client));
	DIFF(STRAIT_FIELD_SERVER_PREFIX, prefixes_differ(a->server, a->n_server, b->server, b->n_server));
	DIFF(STRAIT_FIELD_PORTS, ports_differ(a, b));
	DIFF(STRAIT_FIELD_VLANS, a->n_vlans != b->n_vlans ||
				 memcmp(a->vlans, b->vlans, a->n_vlans * sizeof(a->vlans[0])));
	DIFF(STRAIT_FIELD_ENDPOINT, addr_differ(&a->peer_endpoint, &b->peer_endpoint) ||
				    a->peer_port != b->peer_port);
	DIFF(STRAIT_FIELD_INNER, addr_differ(&a->inner_local, &b->inner_local));
	DIFF(STRAIT_FIELD_PEER_INNER, addr_differ(&a->inner_peer, &b->inner_peer));
	DIFF(STRAIT_FIELD_GUARANTEED, a->guaranteed_bps != b->guaranteed_bps);
	DIFF(STRAIT_FIELD_CEILING, a->ceiling_bps != b->ceiling_bps);
	DIFF(STRAIT_FIELD_PRIORITY, a->priority != b->priority);
	DIFF(STRAIT_FIELD_WEIGHT, a->weight != b->weight);
	DIFF(STRAIT_FIELD_CACHE_SIZE, a->cache_size != b->cache_size);
	/* as its value: written out as the default or dropped, the same */
	DIFF(STRAIT_FIELD_CACHE_WINDOW, strait_tenant_cache_window(a) != strait_tenant_cache_window(b));
	DIFF(STRAIT_FIELD_ID, a->id != b->id);
	/* keys are compared by their ids, when both were loaded (the rule
	 * tools load none) */
	DIFF(STRAIT_FIELD_KEY, key_loaded(a) && key_loaded(b) &&
				       memcmp(a->key_id, b->key_id, sizeof(a->key_id)));
	DIFF(STRAIT_FIELD_PEER_TIMEOUT, a->peer_timeout_ns != b->peer_timeout_ns);
	DIFF(STRAIT_FIELD_KEEPALIVE, a->keepalive_ns != b->keepalive_ns);
	DIFF(STRAIT_FIELD_REKEY_TIME, a->rekey_ns != b->rekey_ns);
	DIFF(STRAIT_FIELD_REKEY_BYTES, a->rekey_bytes != b->rekey_bytes);
	DIFF(STRAIT_FIELD_CACHE_FILE, strcmp(a->cache_file, b->cache_file));
	DIFF(STRAIT_FIELD_RPO_TARGET, a->rpo_target_ns != b->rpo_target_ns);
	DIFF(STRAIT_FIELD_TRANSPORT, a->transport != b->transport);
	/* not compared: psk and has_psk (the key is key_id's), id_line,
	 * key_line, inner_line, guaranteed_line (where in the file, as
	 * `file`'s name) */
#undef DIFF
	return f;
}

/* ---- appliance fields ---- */

/* The line of the first `key` in [section] of an INI file (0: absent, as
 * when a default changed because the key was removed: then the section's
 * line, or 0). Only for error messages. */
static unsigned key_line(const char *path, const char *section, const char *key)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	char line[512];
	unsigned n = 0, sec_line = 0, found = 0;
	bool in = false;
	size_t sl = strlen(section), kl = strlen(key);
	while (!found && fgets(line, sizeof(line), f)) {
		n++;
		const char *p = line;
		while (isspace((unsigned char)*p))
			p++;
		if (*p == '[') {
			in = !strncasecmp(p + 1, section, sl) && p[1 + sl] == ']';
			if (in && !sec_line)
				sec_line = n;
		} else if (in && !strncasecmp(p, key, kl) && (isspace((unsigned char)p[kl]) || p[kl] == '=')) {
			found = n;
		}
	}
	fclose(f);
	return found ? found : sec_line;
}

/* An appliance key that applies in place, listed when it changed. */
static void in_place(struct strait_config_diff *d, int changed, const char *key)
{
	if (!changed)
		return;
	if (d->n_appliance >= STRAIT_INPLACE_APPLIANCE_KEYS)
		abort(); /* a key without its slot in ctl.h: a build mistake */
	d->appliance[d->n_appliance++] = key;
}

/* Appliance fields that only a restart applies: the ports, the workers and
 * every table sized at start, the test knob, the API's sockets. */
static int appliance_diff(const struct strait_appliance_cfg *a, const struct strait_appliance_cfg *b,
			  struct strait_config_diff *d, struct strait_error *err)
{
	static const char *const sides[2] = { "LAN", "WAN" };
	const char *sec = NULL, *key = NULL;
	if (a->workers != b->workers)
		sec = "Appliance", key = "Workers";
	else if (a->flow_table_size != b->flow_table_size)
		sec = "Appliance", key = "FlowTableSize";
	else if (a->optimized_flows != b->optimized_flows)
		sec = "Appliance", key = "OptimizedFlows";
	else if (a->flow_idle_timeout != b->flow_idle_timeout)
		sec = "Appliance", key = "FlowIdleTimeout";
	else if (a->flow_closed_timeout != b->flow_closed_timeout)
		sec = "Appliance", key = "FlowClosedTimeout";
	else if (a->neigh_table_size != b->neigh_table_size)
		sec = "Appliance", key = "NeighbourTableSize";
	else if (a->burst != b->burst)
		sec = "Appliance", key = "Burst";
	else if (memcmp(&a->tcp_impair, &b->tcp_impair, sizeof(a->tcp_impair)))
		sec = "Test", key = "TcpImpair";
	else if (a->control.n_listen != b->control.n_listen ||
		 memcmp(a->control.listen, b->control.listen, sizeof(a->control.listen)))
		sec = "Control", key = "Listen";
	for (int s = 0; s < 2 && !sec; s++) {
		const struct strait_port_cfg *pa = s ? &a->wan : &a->lan, *pb = s ? &b->wan : &b->lan;
		if (strcmp(pa->device, pb->device))
			key = "Port";
		else if (pa->vlan != pb->vlan)
			key = "Vlan";
		else if (memcmp(&pa->addr4, &pb->addr4, sizeof(pa->addr4)) ||
			 memcmp(&pa->addr6, &pb->addr6, sizeof(pa->addr6)))
			key = "Address";
		else if (addr_differ(&pa->gateway4, &pb->gateway4) ||
			 addr_differ(&pa->gateway6, &pb->gateway6))
			key = "Gateway";
		if (key)
			sec = sides[s];
	}
	if (sec) {
		char field[64];
		snprintf(field, sizeof(field), "[%s] %s", sec, key);
		return strait_error_set(err, -EINVAL, b->file, key_line(b->file, sec, key), field,
				"changed: takes a restart of straitd (nothing was applied)");
	}
	/* one call per key of STRAIT_INPLACE_APPLIANCE_KEYS (ctl.h): a key
	 * added here needs a slot there (test_control.c changes them all) */
	in_place(d, strcmp(a->name, b->name), "[Appliance] Name");
	in_place(d, strcmp(a->tenant_dir, b->tenant_dir), "[Appliance] TenantDir");
	in_place(d, strcmp(a->control.token_file, b->control.token_file), "[Control] TokenFile");
	/* the WAN shaper's link, in place (wan_rate_line: where, not what) */
	in_place(d, a->wan_rate_bps != b->wan_rate_bps, "[WAN] Rate");
	in_place(d, a->wan_burst_ns != b->wan_burst_ns, "[WAN] RateBurst");
	return 0;
}

/* ---- tenants ---- */

struct named {
	const char *name;
	unsigned slot;
};

static int named_cmp(const void *a, const void *b)
{
	return strcmp(((const struct named *)a)->name, ((const struct named *)b)->name);
}

static unsigned sorted_names(const struct strait_config *c, struct named *out)
{
	unsigned n = 0;
	for (unsigned i = 0; i < c->n_tenants; i++)
		if (strait_tenant_present(&c->tenants[i]))
			out[n++] = (struct named){ c->tenants[i].name, i };
	qsort(out, n, sizeof(out[0]), named_cmp);
	return n;
}

static void change(struct strait_tenant_change *c, const char *name, unsigned slot,
		   uint32_t fields)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->slot = slot;
	c->fields = fields;
	for (unsigned f = 0; f < STRAIT_FIELD_COUNT; f++)
		if (fields & (1u << f))
			c->apply |= strait_field_apply(f);
}

/* Moves next->tenants[placed[s]] to slot s for every slot s, in place:
 * tenants are large (file paths), so each goes straight to its slot,
 * following the permutation's cycles with one spare. The empty entries of
 * next (its holes, and everything past its last tenant) fill the slots no
 * tenant goes to; a hole's leftovers are wiped there. */
static void place(struct strait_config *next, const int *placed, int *dest,
		  struct strait_tenant_cfg *spare)
{
	enum { UNSET = -2, MOVED = -1 };
	for (unsigned j = 0; j < STRAIT_MAX_TENANTS; j++)
		dest[j] = UNSET;
	for (unsigned s = 0; s < STRAIT_MAX_TENANTS; s++)
		if (placed[s] >= 0)
			dest[placed[s]] = (int)s;
	unsigned e = 0, holes = next->n_tenants;
	for (unsigned j = 0; j < STRAIT_MAX_TENANTS; j++) {
		if (dest[j] != UNSET)
			continue;
		while (placed[e] >= 0)
			e++;
		dest[j] = (int)e++;
	}
	for (unsigned start = 0; start < STRAIT_MAX_TENANTS; start++) {
		if (dest[start] == MOVED || dest[start] == (int)start)
			continue;
		/* spare[0] carries the entry on its way; spare[1] swaps */
		spare[0] = next->tenants[start];
		unsigned cur = start;
		do {
			unsigned to = (unsigned)dest[cur];
			dest[cur] = MOVED;
			spare[1] = next->tenants[to];
			next->tenants[to] = spare[0];
			spare[0] = spare[1];
			cur = to;
		} while (cur != start);
	}
	for (unsigned s = 0; s < holes; s++)
		if (placed[s] < 0)
			memset(&next->tenants[s], 0, sizeof(next->tenants[s]));
}

int strait_config_diff(const struct strait_config *cur, struct strait_config *next,
		       struct strait_config_diff *d, struct strait_error *err)
{
	memset(d, 0, offsetof(struct strait_config_diff, added));
	d->n_appliance = 0;
	int r = appliance_diff(&cur->appliance, &next->appliance, d, err);
	if (r)
		return r;
	struct named *a = malloc(sizeof(*a) * STRAIT_MAX_TENANTS * 2);
	/* placed[slot] = next's index for that slot, or -1 */
	int *placed = malloc(sizeof(*placed) * STRAIT_MAX_TENANTS);
	bool *freed = calloc(STRAIT_MAX_TENANTS, sizeof(*freed));
	int *dest = malloc(sizeof(*dest) * STRAIT_MAX_TENANTS);
	struct strait_tenant_cfg *tmp = malloc(sizeof(*tmp) * 2);
	if (!a || !placed || !freed || !dest || !tmp) {
		r = strait_error_set(err, -ENOMEM, next->appliance.file, 0, "", "out of memory");
		goto out;
	}
	struct named *b = a + STRAIT_MAX_TENANTS;
	unsigned na = sorted_names(cur, a), nb = sorted_names(next, b);
	for (unsigned s = 0; s < STRAIT_MAX_TENANTS; s++)
		placed[s] = -1;
	unsigned i = 0, j = 0;
	unsigned pending[STRAIT_MAX_TENANTS], n_pending = 0; /* next's indexes to place */
	while (i < na || j < nb) {
		int c = i == na ? 1 : j == nb ? -1 : strcmp(a[i].name, b[j].name);
		if (c < 0) {
			change(&d->removed[d->n_removed++], a[i].name, a[i].slot, 0);
			freed[a[i].slot] = true;
			i++;
		} else if (c > 0) {
			pending[n_pending++] = b[j].slot;
			j++;
		} else {
			const struct strait_tenant_cfg *o = &cur->tenants[a[i].slot];
			uint32_t f = tenant_fields_differ(o, &next->tenants[b[j].slot]);
			if (f)
				change(&d->changed[d->n_changed++], a[i].name, a[i].slot, f);
			placed[a[i].slot] = (int)b[j].slot;
			i++, j++;
		}
	}
	/* new tenants: empty slots not freed by this reload, lowest first */
	unsigned slot = 0;
	for (unsigned k = 0; k < n_pending; k++) {
		while (slot < STRAIT_MAX_TENANTS &&
		       (placed[slot] >= 0 || freed[slot] ||
			(slot < cur->n_tenants && strait_tenant_present(&cur->tenants[slot]))))
			slot++;
		if (slot == STRAIT_MAX_TENANTS) {
			r = strait_error_set(err, -E2BIG, next->appliance.tenant_dir, 0, "",
				     "no free tenant slot for \"%s\": %d slots, %u of them freed by this "
				     "reload (usable by the next one)", next->tenants[pending[k]].name,
				     STRAIT_MAX_TENANTS, d->n_removed);
			goto out;
		}
		placed[slot] = (int)pending[k];
		change(&d->added[d->n_added++], next->tenants[pending[k]].name, slot, 0);
	}
	place(next, placed, dest, tmp);
	uint64_t gen = cur->generation + 1;
	unsigned n = 0;
	for (unsigned s = 0; s < STRAIT_MAX_TENANTS; s++) {
		if (placed[s] < 0)
			continue;
		next->tenants[s].generation = s < cur->n_tenants && strait_tenant_present(&cur->tenants[s])
						      ? cur->tenants[s].generation : gen;
		n = s + 1;
	}
	next->n_tenants = n;
	next->generation = gen;
	r = 0;
out:
	free(a);
	free(placed);
	free(freed);
	free(dest);
	if (tmp)
		explicit_bzero(tmp, sizeof(*tmp) * 2); /* keys passed through it */
	free(tmp);
	return r;
}

bool strait_config_diff_empty(const struct strait_config_diff *d)
{
	return !d->n_added && !d->n_removed && !d->n_changed && !d->n_appliance;
}

struct strait_config *strait_config_new(void)
{
	return calloc(1, sizeof(struct strait_config));
}

void strait_config_free(struct strait_config *cfg)
{
	if (!cfg)
		return;
	strait_config_wipe_keys(cfg);
	free(cfg);
}
