/* SPDX-License-Identifier: BSD-3-Clause */
/* [Control] in the appliance file, the API token, and the reload's diff:
 * tables of cases, each with what it must give. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "strait/ctl.h"
#include "tree.h"

static struct tree t;

static void setup(void)
{
	tree_init(&t);
}

static void teardown(void)
{
	tree_fini(&t);
}

/* ---- [Control] ---- */

struct ccase {
	int n;
	const char *control;  /* the section's body */
	int line;             /* 0: accepted; else the error's line */
	const char *field;
	unsigned n_listen;
};

/* tree_appliance(): [Control] is line 11, its first key line 12. */
static const struct ccase ccases[] = {
	{ 1, "Listen = 127.0.0.1:8470\nTokenFile = token\n", 0, NULL, 1 },
	{ 2, "Listen = [::1]:8470\nTokenFile = token\n", 0, NULL, 1 },
	{ 3, "Listen = /run/strait-test.sock\nListen = 127.0.0.1:0\nTokenFile = token\n", 0, NULL, 2 },
	{ 4, "Listen = ./api.sock\nTokenFile = token\n", 0, NULL, 1 },
	{ 5, "Listen = ::1:8470\nTokenFile = token\n", 12, "[Control] Listen", 0 },
	{ 6, "Listen = 127.0.0.1\nTokenFile = token\n", 12, "[Control] Listen", 0 },
	{ 7, "Listen = 127.0.0.1:70000\nTokenFile = token\n", 12, "[Control] Listen", 0 },
	{ 8, "Listen = localhost:8470\nTokenFile = token\n", 12, "[Control] Listen", 0 },
	{ 9, "Listen = [127.0.0.1]:8470\nTokenFile = token\n", 12, "[Control] Listen", 0 },
	{ 10, "Listen = 127.0.0.1:1\nListen = 127.0.0.1:2\nListen = 127.0.0.1:3\n"
	      "Listen = 127.0.0.1:4\nListen = 127.0.0.1:5\nTokenFile = token\n", 16, "[Control] Listen", 0 },
	{ 11, "Listen = 127.0.0.1:8470\n", 11, "[Control] TokenFile", 0 },
	{ 12, "TokenFile = token\n", 12, "[Control] Listen", 0 },
	{ 13, "Listen = 127.0.0.1:8470\nTokenFile = a\nTokenFile = b\n", 14, "[Control] TokenFile", 0 },
	{ 14, "Listen = 127.0.0.1:8470\nTokenFile = token\nPort = 1\n", 14, "[Control] Port", 0 },
	{ 15, "Listen = /" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.sock\nTokenFile = token\n", 12,
	  "[Control] Listen", 0 },
	{ 16, "Listen = 127.0.0.1:8470 \nTokenFile = token\n", 0, NULL, 1 },
};

Test(control, section, .init = setup, .fini = teardown)
{
	static struct strait_appliance_cfg a;
	for (size_t i = 0; i < sizeof(ccases) / sizeof(ccases[0]); i++) {
		const struct ccase *c = &ccases[i];
		struct strait_error err;
		char msg[PATH_MAX + 512];
		tree_appliance(&t, NULL, c->control);
		int r = strait_appliance_load(t.app, &a, &err);
		strait_error_str(&err, msg, sizeof(msg));
		if (!c->line) {
			cr_expect_eq(r, 0, "case %d: refused: %s", c->n, msg);
			cr_expect_eq(a.control.n_listen, c->n_listen, "case %d", c->n);
			continue;
		}
		cr_expect_eq(r, -EINVAL, "case %d: accepted", c->n);
		cr_expect_eq(err.line, (unsigned)c->line, "case %d: %s", c->n, msg);
		cr_expect_str_eq(err.field, c->field, "case %d: %s", c->n, msg);
	}
}

Test(control, values, .init = setup, .fini = teardown)
{
	static struct strait_appliance_cfg a;
	struct strait_error err;
	char buf[256], want[256];
	tree_appliance(&t, NULL, "Listen = [::1]:8471\nListen = ./api.sock\nTokenFile = token\n");
	cr_assert_eq(strait_appliance_load(t.app, &a, &err), 0);
	cr_expect_str_eq(strait_listen_str(&a.control.listen[0], buf, sizeof(buf)), "[::1]:8471");
	cr_expect_eq(a.control.listen[0].port, 8471);
	snprintf(want, sizeof(want), "%s/./api.sock", t.dir);
	cr_expect_str_eq(strait_listen_str(&a.control.listen[1], buf, sizeof(buf)), want);
	snprintf(want, sizeof(want), "%s/token", t.dir);
	cr_expect_str_eq(a.control.token_file, want);
	cr_expect_str_eq(a.file, t.app);
	struct strait_listen l;
	cr_expect(strait_parse_listen("198.18.0.1:1", &l));
	cr_expect_str_eq(strait_listen_str(&l, buf, sizeof(buf)), "198.18.0.1:1");
	cr_expect_not(strait_parse_listen("198.18.0.1:0x10", &l));
	cr_expect_not(strait_parse_listen("", &l));
	cr_expect_not(strait_parse_listen(":8470", &l));
}

/* ---- the token ---- */

struct tkcase {
	int n;
	const char *content;
	mode_t mode;
	int rc;
	const char *why; /* in the message */
};

static const struct tkcase tkcases[] = {
	{ 1, TREE_TOKEN "\n", 0600, 0, NULL },
	{ 2, TREE_TOKEN, 0400, 0, NULL },
	{ 3, TREE_TOKEN "\n", 0640, -EINVAL, "mode 0640" },
	{ 4, TREE_TOKEN "\n", 0604, -EINVAL, "mode 0604" },
	{ 5, "short\n", 0600, -EINVAL, "does not hold a token" },
	{ 6, "0123456789 abcdef0123456789\n", 0600, -EINVAL, "does not hold a token" },
	{ 7, "0123456789abcdef\n0123456789abcdef\n", 0600, -EINVAL, "does not hold a token" },
	{ 8, "", 0600, -EINVAL, "does not hold a token" },
};

Test(control, token, .init = setup, .fini = teardown)
{
	static struct strait_appliance_cfg a;
	struct strait_error err;
	char tok[STRAIT_TOKEN_MAX + 1], path[128], msg[PATH_MAX + 512];
	tree_appliance(&t, NULL, "Listen = 127.0.0.1:0\nTokenFile = token\n");
	cr_assert_eq(strait_appliance_load(t.app, &a, &err), 0);
	snprintf(path, sizeof(path), "%s/token", t.dir);
	for (size_t i = 0; i < sizeof(tkcases) / sizeof(tkcases[0]); i++) {
		const struct tkcase *c = &tkcases[i];
		tree_write(path, c->content);
		cr_assert_eq(chmod(path, c->mode), 0);
		int r = strait_token_load(&a, tok, sizeof(tok), &err);
		strait_error_str(&err, msg, sizeof(msg));
		cr_expect_eq(r, c->rc, "case %d: %d: %s", c->n, r, msg);
		if (!r) {
			cr_expect_str_eq(tok, TREE_TOKEN, "case %d", c->n);
			continue;
		}
		cr_expect(strstr(msg, c->why), "case %d: %s", c->n, msg);
		/* the appliance file's TokenFile line, never the content */
		cr_expect_str_eq(err.file, t.app, "case %d", c->n);
		cr_expect_eq(err.line, 13, "case %d", c->n);
		cr_expect_null(strstr(msg, "0123456789"), "case %d quotes the token: %s", c->n, msg);
	}
	cr_expect_eq(strait_token_read("/nonexistent/token", tok, sizeof(tok), &err), -ENOENT);
	cr_expect_neq(strait_token_read("/dev/null", tok, sizeof(tok), &err), 0);
}

/* ---- the reload's diff ---- */

/* The configuration and its keys, as straitd and a reload load them. */
static struct strait_config *load(void)
{
	struct strait_config *c = strait_config_new();
	struct strait_error err;
	char msg[PATH_MAX + 512];
	cr_assert(c);
	cr_assert_eq(strait_config_load(t.app, c, &err), 0, "%s", strait_error_str(&err, msg, sizeof(msg)));
	cr_assert_eq(strait_config_load_keys(c, &err), 0, "%s", strait_error_str(&err, msg, sizeof(msg)));
	return c;
}

static unsigned slot_of(const struct strait_config *c, const char *name)
{
	for (unsigned i = 0; i < c->n_tenants; i++)
		if (!strcmp(c->tenants[i].name, name))
			return i;
	cr_assert_fail("no tenant %s", name);
	return 0;
}

/* One step: change the files, load, diff against cur; cur becomes next. */
struct dcase {
	int n;
	void (*change)(void);
	const char *added, *removed, *changed; /* names, space-separated */
	uint32_t fields, apply;                /* of the (one) changed tenant */
	const char *slots;                     /* "name=slot ..." after the step */
};

/* tenants/NAME.conf for tenant a (Id 1) or d (Id 4), as tree_tenant()
 * wrote them but for `tenant` (the [Tenant] keys after Name) and `rest`
 * (the other sections). */
static void write_a(const char *tenant, const char *rest)
{
	char path[256], text[2048];
	snprintf(path, sizeof(path), "%s/tenants/a.conf", t.dir);
	snprintf(text, sizeof(text), "[Tenant]\nName = a\n%s%s", tenant, rest);
	tree_write(path, text);
}

#define A_TENANT "Id = 1\nKeyFile = a.key\nPeerDown = bypass\n"
#define A_REST "[Bandwidth]\nCeiling = 100M\n[Interception]\nPorts = 874\nServerPrefix = 10.100.1.0/24\n" \
	"ClientPrefix = 10.0.1.0/24\n[Peer]\nPeerInnerAddress = 169.255.0.1\nInnerAddress = 169.254.0.1\n" \
	"Endpoint = 198.18.1.2:4500\n"
#define D_FILE "zz-d.conf"
#define D_TENANT "Id = 4\nKeyFile = other.key\nPeerDown = fail-closed\n"
#define D_REST "[Interception]\nClientPrefix = 10.0.4.0/24, 10.9.0.0/16\nServerPrefix = 10.100.4.0/24\n" \
	"Ports = 877-880\n[Peer]\nEndpoint = 198.18.1.3\nInnerAddress = 169.254.0.4\n" \
	"PeerInnerAddress = 169.255.0.4\n[Bandwidth]\nGuaranteed = 1M\nPriority = 3\nWeight = 7\n"

static void write_d(const char *tenant, const char *peer_extra)
{
	char path[256], text[2048];
	snprintf(path, sizeof(path), "%s/tenants/" D_FILE, t.dir);
	snprintf(text, sizeof(text), "[Tenant]\nName = d\n%s%s%s%s", tenant, D_REST,
		 *peer_extra ? "[Peer]\n" : "", peer_extra);
	tree_write(path, text);
}

static void nothing(void) {}
static void add_d(void) { tree_tenant(&t, "d", 4, NULL); }
static void remove_b(void) { tree_remove_tenant(&t, "b"); }
static void add_aa(void) { tree_tenant(&t, "aa", 5, NULL); }
static void remove_c_add_e(void) { tree_remove_tenant(&t, "c"); tree_tenant(&t, "e", 6, NULL); }
static void ceiling(void) { tree_tenant(&t, "a", 1, "[Bandwidth]\nCeiling = 100M\n"); }
/* the same rule written in another order and spelling */
static void same_ports(void) { write_a(A_TENANT, A_REST); }
static void inner(void)
{
	write_a(A_TENANT, "[Bandwidth]\nCeiling = 100M\n[Interception]\nPorts = 874\n"
		"ServerPrefix = 10.100.1.0/24\nClientPrefix = 10.0.1.0/24\n[Peer]\n"
		"PeerInnerAddress = 169.255.0.1\nInnerAddress = 169.254.99.1\nEndpoint = 198.18.1.2\n");
}
/* another file, another key, another policy and endpoint */
static void key_file(void)
{
	char path[256];
	tree_key(&t, "other.key", 99);
	snprintf(path, sizeof(path), "%s/tenants/d.conf", t.dir);
	tree_write(path, "[Tenant]\nName = d\n" D_TENANT
		   "[Interception]\nClientPrefix = 10.0.4.0/24\nServerPrefix = 10.100.4.0/24\nPorts = 877\n"
		   "[Peer]\nEndpoint = 198.18.1.3\nInnerAddress = 169.254.0.4\nPeerInnerAddress = 169.255.0.4\n");
}
static void rules(void)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/tenants/d.conf", t.dir);
	tree_write(path, "[Tenant]\nName = d\n" D_TENANT D_REST);
}
static void renamed_file(void)
{
	char from[256], to[256];
	snprintf(from, sizeof(from), "%s/tenants/d.conf", t.dir);
	snprintf(to, sizeof(to), "%s/tenants/" D_FILE, t.dir);
	cr_assert_eq(rename(from, to), 0);
}
static void cache_size(void) { write_d(D_TENANT "CacheSize = 2G\n", ""); }
/* a new key in the same file: a rotation */
static void key_rotated(void) { tree_key(&t, "other.key", 100); }
/* the same key from another file: nothing to do */
static void key_moved(void)
{
	tree_key(&t, "other-copy.key", 100);
	write_d("Id = 4\nKeyFile = other-copy.key\nPeerDown = fail-closed\nCacheSize = 2G\n", "");
}
static void id(void) { write_d("Id = 40\nKeyFile = other-copy.key\nPeerDown = fail-closed\nCacheSize = 2G\n", ""); }
#define D40 "Id = 40\nKeyFile = other-copy.key\nPeerDown = fail-closed\nCacheSize = 2G\n"
static void peer_timeout(void) { write_d(D40, "PeerTimeout = 3s\n"); }
static void keepalive(void) { write_d(D40, "PeerTimeout = 3s\nKeepaliveInterval = 500ms\n"); }
static void rekey_time(void) { write_d(D40, "PeerTimeout = 3s\nKeepaliveInterval = 500ms\nRekeyTime = 2m\n"); }
static void rekey_bytes(void)
{
	write_d(D40, "PeerTimeout = 3s\nKeepaliveInterval = 500ms\nRekeyTime = 2m\nRekeyBytes = 64M\n");
}
#define D_TIMERS "PeerTimeout = 3s\nKeepaliveInterval = 500ms\nRekeyTime = 2m\nRekeyBytes = 64M\n"
static void cache_file(void) { write_d(D40 "CacheFile = /var/lib/strait/d\n", D_TIMERS); }
/* KeepaliveInterval written as its default (a third of PeerTimeout)... */
static void keepalive_default(void)
{
	write_d(D40 "CacheFile = /var/lib/strait/d\n",
		"PeerTimeout = 3s\nRekeyTime = 2m\nRekeyBytes = 64M\nKeepaliveInterval = 1s\n");
}
/* ...then dropped: the same value, nothing to do */
static void keepalive_dropped(void)
{
	write_d(D40 "CacheFile = /var/lib/strait/d\n", "PeerTimeout = 3s\nRekeyTime = 2m\nRekeyBytes = 64M\n");
}

/* [Interception] Vlans: read at each SYN and OPEN, so a rule change */
static void vlans(void)
{
	write_d(D40 "CacheFile = /var/lib/strait/d\n", "PeerTimeout = 3s\nRekeyTime = 2m\nRekeyBytes = 64M\n"
		"[Interception]\nVlans = 0, 100\n");
}

/* the WAN shaper's policy: in place, as a rate */
static void rpo_transport(void)
{
	write_d(D40 "CacheFile = /var/lib/strait/d\n", "PeerTimeout = 3s\nRekeyTime = 2m\nRekeyBytes = 64M\n"
		"[Interception]\nVlans = 0, 100\n[Bandwidth]\nRpoTarget = 5min\nTransport = cubic\n");
}

/* [Tenant] CacheWindow as its value: written out as the default for
 * CacheSize 2G (128M), the same; then a budget: the codec built again */
#define D_LATER "PeerTimeout = 3s\nRekeyTime = 2m\nRekeyBytes = 64M\n" \
	"[Interception]\nVlans = 0, 100\n[Bandwidth]\nRpoTarget = 5min\nTransport = cubic\n"
static void cache_window_default(void) { write_d(D40 "CacheFile = /var/lib/strait/d\nCacheWindow = 128M\n", D_LATER); }
static void cache_window(void) { write_d(D40 "CacheFile = /var/lib/strait/d\nCacheWindow = 16M\n", D_LATER); }

#define F(x) (1u << STRAIT_FIELD_##x)
static const struct dcase dcases[] = {
	{ 1, nothing, "", "", "", 0, 0, "a=0 b=1 c=2" },
	{ 2, add_d, "d", "", "", 0, 0, "a=0 b=1 c=2 d=3" },
	{ 3, remove_b, "", "b", "", 0, 0, "a=0 c=2 d=3" },
	/* a slot freed by an earlier reload is taken again */
	{ 4, add_aa, "aa", "", "", 0, 0, "a=0 aa=1 c=2 d=3" },
	/* never one freed by the same reload (its flows may still drain) */
	{ 5, remove_c_add_e, "e", "c", "", 0, 0, "a=0 aa=1 d=3 e=4" },
	{ 6, ceiling, "", "", "a", F(CEILING), STRAIT_APPLY_RATE, "a=0 aa=1 d=3 e=4" },
	{ 7, same_ports, "", "", "", 0, 0, "a=0" },
	{ 8, inner, "", "", "a", F(INNER), STRAIT_APPLY_RESTART, "a=0" },
	{ 9, key_file, "", "", "d", F(KEY_FILE) | F(KEY) | F(PEER_DOWN) | F(ENDPOINT),
	  STRAIT_APPLY_REKEY | STRAIT_APPLY_POLICY | STRAIT_APPLY_TUNNEL, "d=3" },
	{ 10, rules, "", "", "d", F(CLIENT_PREFIX) | F(PORTS) | F(GUARANTEED) | F(PRIORITY) | F(WEIGHT),
	  STRAIT_APPLY_RULE | STRAIT_APPLY_RATE, "d=3" },
	{ 11, renamed_file, "", "", "d", F(FILE), STRAIT_APPLY_NONE, "d=3" },
	{ 12, cache_size, "", "", "d", F(CACHE_SIZE), STRAIT_APPLY_CACHE, "d=3" },
	{ 13, key_rotated, "", "", "d", F(KEY), STRAIT_APPLY_REKEY, "d=3" },
	{ 14, key_moved, "", "", "d", F(KEY_FILE), STRAIT_APPLY_NONE, "d=3" },
	{ 15, id, "", "", "d", F(ID), STRAIT_APPLY_RESTART, "d=3" },
	{ 16, peer_timeout, "", "", "d", F(PEER_TIMEOUT) | F(KEEPALIVE), STRAIT_APPLY_TUNNEL, "d=3" },
	{ 17, keepalive, "", "", "d", F(KEEPALIVE), STRAIT_APPLY_TUNNEL, "d=3" },
	{ 18, rekey_time, "", "", "d", F(REKEY_TIME), STRAIT_APPLY_TUNNEL, "d=3" },
	{ 19, rekey_bytes, "", "", "d", F(REKEY_BYTES), STRAIT_APPLY_TUNNEL, "d=3" },
	{ 20, cache_file, "", "", "d", F(CACHE_FILE), STRAIT_APPLY_CACHE, "d=3" },
	{ 21, keepalive_default, "", "", "d", F(KEEPALIVE), STRAIT_APPLY_TUNNEL, "d=3" },
	{ 22, keepalive_dropped, "", "", "", 0, 0, "d=3" },
	{ 23, vlans, "", "", "d", F(VLANS), STRAIT_APPLY_RULE, "d=3" },
	{ 24, rpo_transport, "", "", "d", F(RPO_TARGET) | F(TRANSPORT), STRAIT_APPLY_RATE, "d=3" },
	{ 25, cache_window_default, "", "", "", 0, 0, "d=3" },
	{ 26, cache_window, "", "", "d", F(CACHE_WINDOW), STRAIT_APPLY_CACHE, "d=3" },
};
#undef F

static void names_of(const struct strait_tenant_change *c, unsigned n, char *out, size_t len)
{
	out[0] = '\0';
	for (unsigned i = 0; i < n; i++)
		snprintf(out + strlen(out), len - strlen(out), "%s%s", i ? " " : "", c[i].name);
}

Test(diff, table, .init = setup, .fini = teardown)
{
	static struct strait_config_diff d;
	tree_tenant(&t, "a", 1, NULL);
	tree_tenant(&t, "b", 2, NULL);
	tree_tenant(&t, "c", 3, NULL);
	struct strait_config *cur = load();
	for (size_t i = 0; i < sizeof(dcases) / sizeof(dcases[0]); i++) {
		const struct dcase *c = &dcases[i];
		struct strait_error err;
		char msg[PATH_MAX + 512], got[512];
		c->change();
		struct strait_config *next = load();
		int r = strait_config_diff(cur, next, &d, &err);
		cr_assert_eq(r, 0, "case %d: %s", c->n, strait_error_str(&err, msg, sizeof(msg)));
		names_of(d.added, d.n_added, got, sizeof(got));
		cr_expect_str_eq(got, c->added, "case %d: added", c->n);
		names_of(d.removed, d.n_removed, got, sizeof(got));
		cr_expect_str_eq(got, c->removed, "case %d: removed", c->n);
		names_of(d.changed, d.n_changed, got, sizeof(got));
		cr_expect_str_eq(got, c->changed, "case %d: changed", c->n);
		if (d.n_changed) {
			cr_expect_eq(d.changed[0].fields, c->fields, "case %d: fields %#x", c->n, d.changed[0].fields);
			cr_expect_eq(d.changed[0].apply, c->apply, "case %d: apply %#x", c->n, d.changed[0].apply);
		}
		cr_expect_eq(strait_config_diff_empty(&d), !d.n_added && !d.n_removed && !d.n_changed);
		/* slots: a tenant keeps its own */
		char slots[256];
		snprintf(slots, sizeof(slots), "%s", c->slots);
		for (char *save = NULL, *tok = strtok_r(slots, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
			char *eq = strchr(tok, '=');
			*eq = '\0';
			cr_expect_eq(slot_of(next, tok), (unsigned)atoi(eq + 1), "case %d: %s in slot %u",
				     c->n, tok, slot_of(next, tok));
		}
		/* a tenant keeps its generation; a new one takes the new one */
		cr_expect_eq(next->generation, cur->generation + 1);
		for (unsigned k = 0; k < d.n_added; k++)
			cr_expect_eq(next->tenants[d.added[k].slot].generation, next->generation);
		for (unsigned k = 0; k < next->n_tenants; k++)
			if (strait_tenant_present(&next->tenants[k]) && k < cur->n_tenants &&
			    !strcmp(cur->tenants[k].name, next->tenants[k].name))
				cr_expect_eq(next->tenants[k].generation, cur->tenants[k].generation);
		strait_config_free(cur);
		cur = next;
	}
	strait_config_free(cur);
}

/* Changes only a restart applies are refused, naming file, line and field;
 * changes that apply in place are listed. */
struct acase {
	int n;
	const char *extra, *control;
	const char *field; /* NULL: accepted */
	unsigned line;
	const char *applied; /* accepted: the change listed */
};

static const struct acase acases[] = {
	{ 1, "Workers = 2\n", NULL, "[Appliance] Workers", 2, NULL },
	{ 2, "FlowTableSize = 1024\n", NULL, "[Appliance] FlowTableSize", 5, NULL },
	{ 3, "Burst = 8\n", NULL, "[Appliance] Burst", 5, NULL },
	{ 4, NULL, "Listen = 127.0.0.1:9\nTokenFile = token\n", "[Control] Listen", 12, NULL },
	{ 5, "Name = other\n", NULL, NULL, 0, "[Appliance] Name" },
	/* the WAN shaper's link rate: in place */
	{ 6, NULL, NULL, NULL, 0, "[WAN] Rate" },
	{ 7, "OptimizedFlows = 64\n", NULL, "[Appliance] OptimizedFlows", 5, NULL },
	/* the shaper's burst: in place */
	{ 8, NULL, NULL, NULL, 0, "[WAN] RateBurst" },
};

Test(diff, appliance, .init = setup, .fini = teardown)
{
	static struct strait_config_diff d;
	tree_tenant(&t, "a", 1, NULL);
	struct strait_config *cur = load();
	for (size_t i = 0; i < sizeof(acases) / sizeof(acases[0]); i++) {
		const struct acase *c = &acases[i];
		struct strait_error err;
		char msg[PATH_MAX + 512];
		/* "Name = test" is given first: a second Name is a duplicate,
		 * so case 5 rewrites the file with another name */
		if (c->n == 5) {
			tree_appliance(&t, NULL, NULL);
			char text[4096];
			FILE *f = fopen(t.app, "r");
			size_t n = fread(text, 1, sizeof(text) - 1, f);
			fclose(f);
			text[n] = '\0';
			char *p = strstr(text, "Name = test");
			memcpy(p, "Name = othr", 11);
			tree_write(t.app, text);
		} else if (c->n == 6) {
			tree_write(t.app, "[Appliance]\nName = test\nWorkers = 1\nTenantDir = tenants\n"
				   "[LAN]\nPort = net_pcap0\nAddress = 198.18.0.1/24\n"
				   "[WAN]\nPort = net_pcap1\nAddress = 198.18.1.1/24\nRate = 100M\n");
		} else if (c->n == 8) {
			tree_write(t.app, "[Appliance]\nName = test\nWorkers = 1\nTenantDir = tenants\n"
				   "[LAN]\nPort = net_pcap0\nAddress = 198.18.0.1/24\n"
				   "[WAN]\nPort = net_pcap1\nAddress = 198.18.1.1/24\nRateBurst = 8ms\n");
		} else if (c->n == 1) {
			tree_write(t.app, "[Appliance]\nWorkers = 2\nName = test\nTenantDir = tenants\n"
				   "[LAN]\nPort = net_pcap0\nAddress = 198.18.0.1/24\n"
				   "[WAN]\nPort = net_pcap1\nAddress = 198.18.1.1/24\n");
		} else {
			tree_appliance(&t, c->extra, c->control);
		}
		struct strait_config *next = load();
		int r = strait_config_diff(cur, next, &d, &err);
		strait_error_str(&err, msg, sizeof(msg));
		if (!c->field) {
			cr_expect_eq(r, 0, "case %d: %s", c->n, msg);
			cr_expect_eq(d.n_appliance, 1, "case %d", c->n);
			cr_expect_str_eq(d.appliance[0], c->applied, "case %d", c->n);
		} else {
			cr_expect_eq(r, -EINVAL, "case %d", c->n);
			cr_expect_str_eq(err.field, c->field, "case %d: %s", c->n, msg);
			cr_expect_eq(err.line, c->line, "case %d: %s", c->n, msg);
			cr_expect_str_eq(err.file, t.app, "case %d", c->n);
			cr_expect(strstr(msg, "restart"), "case %d: %s", c->n, msg);
		}
		strait_config_free(next);
	}
	strait_config_free(cur);
}

/* Every appliance key that applies in place changed by one reload: all
 * listed, none beyond its slot (struct strait_config_diff). */
Test(diff, every_in_place_appliance_key_at_once, .init = setup, .fini = teardown)
{
	static struct strait_config_diff d;
	struct strait_error err;
	char msg[PATH_MAX + 512], path[PATH_MAX];
	tree_tenant(&t, "a", 1, NULL);
	tree_appliance(&t, NULL, "Listen = 127.0.0.1:9\nTokenFile = token\n");
	struct strait_config *cur = load();
	snprintf(path, sizeof(path), "%s/token2", t.dir);
	tree_write(path, TREE_TOKEN "\n");
	cr_assert_eq(chmod(path, 0600), 0);
	tree_write(t.app, "[Appliance]\nName = other\nWorkers = 1\nTenantDir = ./tenants\n"
		   "[LAN]\nPort = net_pcap0\nAddress = 198.18.0.1/24\n"
		   "[WAN]\nPort = net_pcap1\nAddress = 198.18.1.1/24\nRate = 100M\nRateBurst = 8ms\n"
		   "[Control]\nListen = 127.0.0.1:9\nTokenFile = token2\n");
	struct strait_config *next = load();
	int r = strait_config_diff(cur, next, &d, &err);
	cr_assert_eq(r, 0, "%s", strait_error_str(&err, msg, sizeof(msg)));
	cr_expect_eq(d.n_appliance, STRAIT_INPLACE_APPLIANCE_KEYS);
	static const char *const want[] = { "[Appliance] Name", "[Appliance] TenantDir",
					    "[Control] TokenFile", "[WAN] Rate", "[WAN] RateBurst" };
	for (unsigned i = 0; i < d.n_appliance && i < 5; i++)
		cr_expect_str_eq(d.appliance[i], want[i]);
	strait_config_free(next);
	strait_config_free(cur);
}

/* 1,024 slots all taken: a tenant added by the reload that frees one must
 * wait for the next reload. */
Test(diff, full, .init = setup, .fini = teardown)
{
	static struct strait_config_diff d;
	tree_tenant(&t, "a", 1, NULL);
	struct strait_config *cur = load(), *next = strait_config_new();
	struct strait_error err;
	cr_assert(next);
	for (unsigned i = 0; i < STRAIT_MAX_TENANTS; i++) {
		cur->tenants[i] = cur->tenants[0];
		snprintf(cur->tenants[i].name, sizeof(cur->tenants[i].name), "t%04u", i);
	}
	cur->n_tenants = STRAIT_MAX_TENANTS;
	*next = *cur;
	snprintf(next->tenants[7].name, sizeof(next->tenants[7].name), "new");
	cr_expect_eq(strait_config_diff(cur, next, &d, &err), -E2BIG);
	cr_expect(strstr(err.msg, "no free tenant slot for \"new\""), "%s", err.msg);
	/* the next reload can use the slot */
	*next = *cur;
	next->tenants[7].name[0] = '\0';
	cr_assert_eq(strait_config_diff(cur, next, &d, &err), 0);
	cr_expect_eq(d.n_removed, 1);
	struct strait_config *third = strait_config_new();
	*third = *next;
	snprintf(third->tenants[7].name, sizeof(third->tenants[7].name), "new");
	cr_assert_eq(strait_config_diff(next, third, &d, &err), 0);
	cr_expect_eq(d.n_added, 1);
	cr_expect_eq(d.added[0].slot, 7);
	strait_config_free(cur);
	strait_config_free(next);
	strait_config_free(third);
}

/* Random reloads in memory (seeded): after each, every tenant of the new
 * set is whole in its slot (compared with the set as loaded), a tenant
 * that stayed kept its slot, and every other entry is empty. */
Test(diff, random_reloads, .init = setup, .fini = teardown)
{
	static struct strait_config_diff d;
	tree_tenant(&t, "a", 1, NULL);
	struct strait_config *tmpl = load(), *cur = strait_config_new(), *loaded = strait_config_new();
	cr_assert(cur && loaded);
	uint64_t rng = 42;
	bool in_cur[300] = { false };
	unsigned slot_of_id[300];
	*cur = *tmpl;
	cur->n_tenants = 0;
	for (int round = 0; round < 60; round++) {
		/* the new set: each of 300 names present with probability 1/3,
		 * in name order as strait_config_load() gives them; the port
		 * carries the round, so content changes are seen */
		struct strait_config *next = strait_config_new();
		*next = *tmpl;
		next->n_tenants = 0;
		memset(next->tenants, 0, sizeof(next->tenants));
		bool in_next[300];
		for (unsigned id = 0; id < 300; id++) {
			rng = rng * 6364136223846793005ull + 1442695040888963407ull;
			in_next[id] = (rng >> 33) % 3 == 0;
			if (!in_next[id])
				continue;
			struct strait_tenant_cfg *x = &next->tenants[next->n_tenants++];
			*x = tmpl->tenants[0];
			snprintf(x->name, sizeof(x->name), "t%03u", id);
			x->ports[0].lo = x->ports[0].hi = (uint16_t)(1000 + id + (rng >> 40) % 2);
		}
		*loaded = *next;
		struct strait_error err;
		cr_assert_eq(strait_config_diff(cur, next, &d, &err), 0, "round %d: %s", round, err.msg);
		unsigned present = 0;
		for (unsigned s = 0; s < STRAIT_MAX_TENANTS; s++) {
			const struct strait_tenant_cfg *x = &next->tenants[s];
			if (!strait_tenant_present(x)) {
				static const struct strait_tenant_cfg zero;
				cr_assert_eq(memcmp(x, &zero, sizeof(zero)), 0, "round %d: slot %u not empty", round, s);
				continue;
			}
			cr_assert_lt(s, next->n_tenants);
			present++;
			unsigned id = (unsigned)atoi(x->name + 1);
			cr_assert(in_next[id]);
			const struct strait_tenant_cfg *want = NULL;
			for (unsigned k = 0; k < loaded->n_tenants; k++)
				if (!strcmp(loaded->tenants[k].name, x->name))
					want = &loaded->tenants[k];
			cr_assert(want);
			struct strait_tenant_cfg w = *want;
			w.generation = x->generation;
			cr_assert_eq(memcmp(&w, x, sizeof(w)), 0, "round %d: %s damaged", round, x->name);
			if (in_cur[id])
				cr_assert_eq(s, slot_of_id[id], "round %d: %s moved", round, x->name);
			slot_of_id[id] = s;
		}
		cr_assert_eq(present, loaded->n_tenants);
		memcpy(in_cur, in_next, sizeof(in_cur));
		strait_config_free(cur);
		cur = next;
	}
	strait_config_free(tmpl);
	strait_config_free(cur);
	strait_config_free(loaded);
}
