/* SPDX-License-Identifier: BSD-3-Clause */
/* A configuration tree in a temporary folder for the control tests: an
 * appliance file (app.conf), tenants/NAME.conf, and a token file. */
#ifndef STRAIT_TESTS_CTL_TREE_H
#define STRAIT_TESTS_CTL_TREE_H

#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TREE_TOKEN "0123456789abcdef0123456789abcdef"

struct tree {
	char dir[64];
	char app[128];
};

static inline void tree_write(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	cr_assert(f, "%s", path);
	fputs(text, f);
	fclose(f);
}

/* tenants/<file>: a key of 32 bytes, all `seed`, in base64, mode 0600. */
static inline void tree_key(const struct tree *t, const char *file, unsigned seed)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	uint8_t key[33] = { 0 };
	char text[48], path[512];
	memset(key, (int)(seed % 255 + 1), 32);
	for (unsigned i = 0; i < 11; i++) {
		uint32_t v = (uint32_t)key[3 * i] << 16 | (uint32_t)key[3 * i + 1] << 8 | key[3 * i + 2];
		for (unsigned k = 0; k < 4; k++)
			text[4 * i + k] = b64[(v >> (18 - 6 * k)) & 63];
	}
	text[43] = '=';
	text[44] = '\n';
	text[45] = '\0';
	snprintf(path, sizeof(path), "%s/tenants/%s", t->dir, file);
	tree_write(path, text);
	cr_assert_eq(chmod(path, 0600), 0, "%s", path);
}

/* tenants/<name>.conf: a valid tenant, Id n, whose rule and inner address
 * come from n (10.n/16 -> 10.(100+n)/16 on port 873 + n), and its key
 * (<name>.key, from n), with `extra` appended (more keys for its
 * sections, or whole sections). */
static inline void tree_tenant(const struct tree *t, const char *name, unsigned n, const char *extra)
{
	char path[256], text[2048];
	snprintf(path, sizeof(path), "%s/tenants/%s.conf", t->dir, name);
	snprintf(text, sizeof(text),
		 "[Tenant]\nName = %s\nId = %u\nKeyFile = %s.key\nPeerDown = bypass\n"
		 "[Interception]\nClientPrefix = 10.%u.%u.0/24\nServerPrefix = 10.%u.%u.0/24\nPorts = %u\n"
		 "[Peer]\nEndpoint = 198.18.1.2\nInnerAddress = 169.254.%u.%u\nPeerInnerAddress = 169.255.%u.%u\n"
		 "%s",
		 name, n, name, n / 256, n % 256, 100 + n / 256, n % 256, 873 + n % 1000, n / 256, n % 256,
		 n / 256, n % 256, extra ? extra : "");
	tree_write(path, text);
	snprintf(path, sizeof(path), "%s.key", name);
	tree_key(t, path, n);
}

static inline void tree_remove_tenant(const struct tree *t, const char *name)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/tenants/%s.conf", t->dir, name);
	cr_assert_eq(unlink(path), 0, "%s", path);
}

/* The appliance file with `extra` after its [Appliance] keys; `control`
 * is the [Control] section's body (NULL: none). */
static inline void tree_appliance(const struct tree *t, const char *extra, const char *control)
{
	char text[2048];
	snprintf(text, sizeof(text),
		 "[Appliance]\nName = test\nWorkers = 1\nTenantDir = tenants\n%s"
		 "[LAN]\nPort = net_pcap0\nAddress = 198.18.0.1/24\n"
		 "[WAN]\nPort = net_pcap1\nAddress = 198.18.1.1/24\n"
		 "%s%s",
		 extra ? extra : "", control ? "[Control]\n" : "", control ? control : "");
	tree_write(t->app, text);
}

static inline void tree_init(struct tree *t)
{
	snprintf(t->dir, sizeof(t->dir), "/tmp/strait-ctl-XXXXXX");
	cr_assert(mkdtemp(t->dir));
	snprintf(t->app, sizeof(t->app), "%s/app.conf", t->dir);
	char path[128];
	snprintf(path, sizeof(path), "%s/tenants", t->dir);
	cr_assert_eq(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/token", t->dir);
	tree_write(path, TREE_TOKEN "\n");
	cr_assert_eq(chmod(path, 0600), 0);
	tree_appliance(t, NULL, NULL);
}

static inline void tree_fini(struct tree *t)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", t->dir);
	cr_assert_eq(system(cmd), 0);
}

#endif
