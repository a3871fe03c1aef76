/* SPDX-License-Identifier: BSD-3-Clause */
/* Appliance and tenant configuration: INI through libinih, validated here.
 *
 * libinih as packaged does not pass line numbers to the handler, so the
 * file is fed through ini_parse_stream() with a reader that counts lines and
 * remembers where each section starts; the handler then knows the line of
 * the key it is looking at, and a missing key is reported at its section.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <ini.h>
#include <openssl/evp.h>
#include <libgen.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "strait/ctl.h"
#include "strait/dedupe.h"

enum {
	MAX_KEYS_SEEN = 64,
	MAX_FILE_BYTES = 1 << 20, /* a configuration file is a few hundred bytes */
};

/* snprintf that truncates silently: messages and paths here are bounded
 * on purpose, and a path too long for the buffer fails at open(). */
static int sfmt(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int sfmt(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	return n;
}

struct parse_ctx {
	FILE *f;
	const char *path;
	char dir[PATH_MAX];
	unsigned line;
	char section[64];
	struct {                  /* where each section first starts */
		char name[16];
		unsigned line;
	} sections[8];
	unsigned n_sections;
	struct strait_error *err;
	bool failed;
	/* singular keys already given, to reject duplicates */
	char seen[MAX_KEYS_SEEN][64];
	unsigned n_seen;
	unsigned gw_line[2][2]; /* [LAN/WAN][IPv4/IPv6]: where Gateway was given */
};

static void set_err(struct parse_ctx *c, unsigned line, const char *section,
		    const char *key, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static void set_err(struct parse_ctx *c, unsigned line, const char *section,
		    const char *key, const char *fmt, ...)
{
	if (c->failed)
		return; /* keep the first error: later ones often follow from it */
	c->failed = true;
	struct strait_error *e = c->err;
	sfmt(e->file, sizeof(e->file), "%s", c->path);
	e->line = line;
	if (section && key)
		sfmt(e->field, sizeof(e->field), "[%s] %s", section, key);
	else if (section)
		sfmt(e->field, sizeof(e->field), "[%s]", section);
	else
		e->field[0] = '\0';
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
}

int strait_error_set(struct strait_error *err, int rc, const char *file, unsigned line,
		     const char *field, const char *fmt, ...)
{
	memset(err, 0, sizeof(*err));
	sfmt(err->file, sizeof(err->file), "%s", file);
	err->line = line;
	sfmt(err->field, sizeof(err->field), "%s", field);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return rc;
}

const char *strait_error_str(const struct strait_error *err, char *buf, size_t len)
{
	char line[16] = "";
	if (err->line)
		sfmt(line, sizeof(line), "%u:", err->line);
	sfmt(buf, len, "%s:%s %s%s%s", err->file, line, err->field,
	     err->field[0] ? ": " : "", err->msg);
	return buf;
}

/* Reader for ini_parse_stream: one line per call, counted. inih's line
 * buffer is num bytes (200 as packaged): a line that does not fit is an
 * error at its own line, never cut in two (the rest would be read as a new
 * line: a comment's tail would become a setting). */
static char *reader(char *str, int num, void *stream)
{
	struct parse_ctx *c = stream;
	if (c->failed || num < 2)
		return NULL;
	/* getc, not fgets: a NUL byte inside the line must be seen */
	int got = 0, ch = EOF;
	while (got < num - 1 && (ch = getc(c->f)) != EOF) {
		str[got++] = (char)ch;
		if (ch == '\n')
			break;
	}
	if (got == 0)
		return NULL;
	str[got] = '\0';
	c->line++;
	if (memchr(str, '\0', (size_t)got)) {
		set_err(c, c->line, NULL, NULL, "NUL byte in the line");
		return NULL;
	}
	if (got == num - 1 && str[got - 1] != '\n' && getc(c->f) != EOF) {
		set_err(c, c->line, NULL, NULL, "line longer than %d characters", num - 2);
		return NULL;
	}
	const char *p = str;
	while (isspace((unsigned char)*p))
		p++;
	if (*p == '[') {
		/* ']' as inih finds it: before an inline comment (';' after
		 * whitespace), which hides what follows */
		const char *end = NULL;
		for (const char *q = p + 1; *q && !end; q++) {
			if (*q == ';' && isspace((unsigned char)q[-1]))
				break;
			if (*q == ']')
				end = q;
		}
		if (!end) { /* inih would go on in the previous section */
			set_err(c, c->line, NULL, NULL, "section header without ']'");
			return NULL;
		}
		size_t n = (size_t)(end - p - 1);
		if (n >= sizeof(c->section))
			n = sizeof(c->section) - 1;
		memcpy(c->section, p + 1, n);
		c->section[n] = '\0';
		bool seen = false;
		for (unsigned i = 0; i < c->n_sections && !seen; i++)
			seen = !strcasecmp(c->sections[i].name, c->section);
		if (!seen && c->n_sections < 8 && n < sizeof(c->sections[0].name)) {
			memcpy(c->sections[c->n_sections].name, c->section, n + 1);
			c->sections[c->n_sections++].line = c->line;
		}
	}
	return str;
}

/* The line of [name] in the file just parsed (0: absent), for errors
 * about keys missing from it: no second reading of the file. */
static unsigned section_line(const struct parse_ctx *c, const char *name)
{
	for (unsigned i = 0; i < c->n_sections; i++)
		if (!strcasecmp(c->sections[i].name, name))
			return c->sections[i].line;
	return 0;
}

static bool seen_once(struct parse_ctx *c, const char *section, const char *key)
{
	char k[64];
	sfmt(k, sizeof(k), "%s.%s", section, key);
	for (unsigned i = 0; i < c->n_seen; i++)
		if (strcasecmp(c->seen[i], k) == 0) {
			set_err(c, c->line, section, key, "given twice");
			return false;
		}
	if (c->n_seen < MAX_KEYS_SEEN)
		sfmt(c->seen[c->n_seen++], sizeof(c->seen[0]), "%s", k);
	return true;
}

/* ---- value parsers ---- */

bool strait_parse_addr(const char *s, struct strait_addr *out)
{
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, s, out->addr) == 1) {
		out->family = 4;
		return true;
	}
	if (inet_pton(AF_INET6, s, out->addr) == 1) {
		out->family = 6;
		return true;
	}
	return false;
}

bool strait_parse_prefix(const char *s, struct strait_prefix *out)
{
	char buf[INET6_ADDRSTRLEN + 8];
	if (strlen(s) >= sizeof(buf))
		return false;
	strcpy(buf, s);
	char *slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	struct strait_addr a;
	if (!strait_parse_addr(buf, &a))
		return false;
	unsigned max = a.family == 4 ? 32 : 128;
	unsigned len = max;
	if (slash) {
		char *end;
		errno = 0;
		if (!isdigit((unsigned char)slash[1]))
			return false; /* no sign, no space: "/+8", "/-0" */
		unsigned long v = strtoul(slash + 1, &end, 10);
		if (errno || end == slash + 1 || *end || v > max)
			return false;
		len = (unsigned)v;
	}
	memset(out, 0, sizeof(*out));
	out->family = a.family;
	out->len = (uint8_t)len;
	memcpy(out->addr, a.addr, 16);
	return true;
}

bool strait_prefix_contains(const struct strait_prefix *p, uint8_t family,
			    const uint8_t *addr)
{
	if (p->family != family)
		return false;
	unsigned full = p->len / 8, rest = p->len % 8;
	if (memcmp(p->addr, addr, full) != 0)
		return false;
	if (rest) {
		uint8_t mask = (uint8_t)(0xff00u >> rest);
		if ((p->addr[full] ^ addr[full]) & mask)
			return false;
	}
	return true;
}

/* Host bits set in a prefix are a typo more often than not. */
static bool prefix_is_canonical(const struct strait_prefix *p)
{
	unsigned max = p->family == 4 ? 4 : 16;
	for (unsigned i = 0; i < max; i++) {
		unsigned bit = i * 8;
		uint8_t mask = bit >= p->len ? 0 : bit + 8 <= p->len ? 0xff
			       : (uint8_t)(0xff00u >> (p->len - bit));
		if (p->addr[i] & (uint8_t)~mask)
			return false;
	}
	return true;
}

bool strait_parse_rate(const char *s, uint64_t *bps)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || v < 0 || !isfinite(v))
		return false;
	double mul = 1;
	switch (*end) {
	case 'k': case 'K': mul = 1e3; end++; break;
	case 'm': case 'M': mul = 1e6; end++; break;
	case 'g': case 'G': mul = 1e9; end++; break;
	case 't': case 'T': mul = 1e12; end++; break;
	default: break;
	}
	if (*end && strcasecmp(end, "bit") != 0 && strcasecmp(end, "bps") != 0)
		return false;
	v *= mul;
	if (v > 1e15)
		return false;
	*bps = (uint64_t)v;
	return true;
}

/* A shaped rate: 0 (none) or at least 1 kbit/s (the shaper's floor). */
static bool parse_link_rate(const char *s, uint64_t *bps)
{
	return strait_parse_rate(s, bps) && (*bps == 0 || *bps >= 1000);
}

/* RpoTarget: a duration (strait_parse_duration), 1 s .. 30 days. */
static bool parse_rpo(const char *s, uint64_t *ns)
{
	return strait_parse_duration(s, ns) && *ns >= 1000000000ull &&
	       *ns <= 30ull * 86400 * 1000000000ull;
}

const char *strait_transport_name(enum strait_transport t)
{
	static const char *const names[] = { "rate", "bbr", "cubic" };
	return (unsigned)t < sizeof(names) / sizeof(names[0]) ? names[t] : "?";
}

/* A decimal number with up to 9 decimals times a unit, exactly (no
 * floating point): *end is left at the unit. False on overflow. */
static bool parse_scaled(const char *s, const char **end, uint64_t unit, uint64_t *out)
{
	unsigned __int128 whole = 0, frac = 0;
	unsigned nd = 0, nf = 0;
	const char *p = s;
	for (; isdigit((unsigned char)*p); p++, nd++) {
		whole = whole * 10 + (unsigned)(*p - '0');
		if (whole > UINT64_MAX)
			return false;
	}
	if (*p == '.') {
		for (p++; isdigit((unsigned char)*p); p++, nf++) {
			if (nf == 9)
				return false;
			frac = frac * 10 + (unsigned)(*p - '0');
		}
		if (!nf)
			return false;
	}
	if (!nd)
		return false;
	for (unsigned i = nf; i < 9; i++)
		frac *= 10;
	unsigned __int128 v = whole * unit + frac * unit / 1000000000u;
	if (v > UINT64_MAX)
		return false;
	*out = (uint64_t)v;
	*end = p;
	return true;
}

bool strait_parse_duration(const char *s, uint64_t *ns)
{
	static const struct { const char *name; uint64_t ns; } units[] = {
		{ "ns", 1 }, { "us", 1000 }, { "ms", 1000000 }, { "s", 1000000000ull },
		{ "m", 60000000000ull }, { "min", 60000000000ull }, { "h", 3600000000000ull },
		{ "d", 86400000000000ull }, { "", 1000000000ull },
	};
	const char *unit;
	uint64_t v;
	/* parse once to find the unit, again with its scale */
	if (!parse_scaled(s, &unit, 1, &v))
		return false;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (!strcmp(unit, units[i].name))
			return parse_scaled(s, &unit, units[i].ns, ns);
	return false;
}

bool strait_parse_bytes(const char *s, uint64_t *bytes)
{
	static const char scale[] = "KMGTP";
	const char *unit;
	uint64_t v;
	if (!parse_scaled(s, &unit, 1, &v))
		return false;
	uint64_t mul = 1;
	const char *p = unit;
	const char *k = *p ? strchr(scale, toupper((unsigned char)*p)) : NULL;
	if (k) {
		mul = 1ull << (10 * (k - scale + 1));
		p++;
		if (*p == 'i')
			p++;
	}
	if (*p == 'B')
		p++;
	if (*p)
		return false;
	return parse_scaled(s, &unit, mul, bytes);
}

/* A percentage with up to 4 decimals, as parts per million: exact, no
 * floating point ("0.0001" is 1 ppm). */
static bool parse_pct_ppm(const char *s, uint32_t *ppm)
{
	uint64_t whole = 0, frac = 0;
	unsigned nd = 0, nf = 0;
	const char *p = s;
	for (; isdigit((unsigned char)*p); p++, nd++) {
		whole = whole * 10 + (uint64_t)(*p - '0');
		if (whole > 100)
			return false;
	}
	if (*p == '.') {
		for (p++; isdigit((unsigned char)*p); p++, nf++) {
			if (nf == 4)
				return false;
			frac = frac * 10 + (uint64_t)(*p - '0');
		}
		if (!nf)
			return false;
	}
	if (*p == '%')
		p++;
	if (*p || !nd)
		return false;
	for (unsigned i = nf; i < 4; i++)
		frac *= 10;
	uint64_t v = whole * 10000 + frac;
	if (v > 1000000)
		return false;
	*ppm = (uint32_t)v;
	return true;
}

/* Strips leading and trailing blanks in place. */
static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

bool strait_parse_tcp_impair(const char *s, struct strait_tcp_impair *out,
			     char *why, size_t why_len)
{
	struct strait_tcp_impair t = { .seed = 1, .rx = true, .tx = true };
	char buf[256];
	why[0] = '\0';
	if (!strcasecmp(s, "off") || !strcasecmp(s, "none")) {
		*out = (struct strait_tcp_impair){ .seed = 1, .rx = true, .tx = true };
		return true;
	}
	if (!*s) {
		sfmt(why, why_len, "empty (expected drop=P,dup=P,reorder=P,seed=N,dir=both, or off)");
		return false;
	}
	if (strlen(s) >= sizeof(buf)) {
		sfmt(why, why_len, "too long");
		return false;
	}
	strcpy(buf, s);
	unsigned seen = 0;
	static const char *const keys[] = { "drop", "dup", "reorder", "seed", "dir" };
	for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		tok = trim(tok);
		char *eq = strchr(tok, '=');
		if (!eq) {
			sfmt(why, why_len, "\"%.64s\" is not key=value (drop, dup, reorder, seed, dir)", tok);
			return false;
		}
		*eq = '\0';
		tok = trim(tok);
		const char *v = trim(eq + 1);
		unsigned k = 0;
		while (k < 5 && strcasecmp(tok, keys[k]))
			k++;
		if (k == 5) {
			sfmt(why, why_len, "unknown item \"%.64s\" (drop, dup, reorder, seed, dir)", tok);
			return false;
		}
		if (seen & (1u << k)) {
			sfmt(why, why_len, "%s given twice", keys[k]);
			return false;
		}
		seen |= 1u << k;
		if (k < 3) {
			uint32_t *dst = k == 0 ? &t.drop_ppm : k == 1 ? &t.dup_ppm : &t.reorder_ppm;
			if (!parse_pct_ppm(v, dst)) {
				sfmt(why, why_len, "%s \"%.64s\" is not a percentage 0..100 (up to 4 decimals)", keys[k], v);
				return false;
			}
		} else if (k == 3) {
			char *end;
			errno = 0;
			if (!isdigit((unsigned char)*v)) {
				sfmt(why, why_len, "seed \"%.64s\" is not 0..18446744073709551615", v);
				return false;
			}
			unsigned long long x = strtoull(v, &end, 10);
			if (errno || *end) {
				sfmt(why, why_len, "seed \"%.64s\" is not 0..18446744073709551615", v);
				return false;
			}
			t.seed = x;
		} else {
			t.rx = !strcasecmp(v, "rx") || !strcasecmp(v, "both");
			t.tx = !strcasecmp(v, "tx") || !strcasecmp(v, "both");
			if (!t.rx && !t.tx) {
				sfmt(why, why_len, "dir \"%.64s\" is not rx, tx or both", v);
				return false;
			}
		}
	}
	if ((uint64_t)t.drop_ppm + t.dup_ppm + t.reorder_ppm > 1000000) {
		sfmt(why, why_len, "drop + dup + reorder is more than 100%%");
		return false;
	}
	*out = t;
	return true;
}

static bool parse_uint(const char *s, unsigned long lo, unsigned long hi,
		       unsigned long *out)
{
	char *end;
	errno = 0;
	if (!isdigit((unsigned char)*s))
		return false;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

static bool copy_name(const char *s, char *out, size_t len)
{
	size_t n = strlen(s);
	if (n == 0 || n >= len)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
			return false;
	memcpy(out, s, n + 1);
	return true;
}

/* A path relative to the configuration file's folder. */
static bool resolve_path(const struct parse_ctx *c, const char *s, char *out, size_t len)
{
	int n;
	if (!*s)
		return false;
	if (s[0] == '/')
		n = sfmt(out, len, "%s", s);
	else
		n = sfmt(out, len, "%s/%s", c->dir, s);
	return n > 0 && (size_t)n < len;
}

/* Calls fn on each comma- or space-separated item of s; false stops. */
static bool each_item(struct parse_ctx *c, const char *section, const char *key,
		      const char *s, bool (*fn)(struct parse_ctx *, const char *, void *),
		      void *arg)
{
	char buf[256];
	if (strlen(s) >= sizeof(buf)) {
		set_err(c, c->line, section, key, "value too long");
		return false;
	}
	strcpy(buf, s);
	int items = 0;
	for (char *save = NULL, *tok = strtok_r(buf, ", \t", &save); tok;
	     tok = strtok_r(NULL, ", \t", &save)) {
		items++;
		if (!fn(c, tok, arg))
			return false;
	}
	if (!items) {
		set_err(c, c->line, section, key, "empty list");
		return false;
	}
	return true;
}

/* ---- appliance file ---- */

enum { SEC_APPLIANCE = 1, SEC_LAN, SEC_WAN, SEC_TEST, SEC_CONTROL };

struct appliance_ctx {
	struct parse_ctx p;
	struct strait_appliance_cfg *cfg;
	bool have_port[2];
};

static int section_index(const char *s, const char *const *names, int n)
{
	for (int i = 0; i < n; i++)
		if (strcasecmp(s, names[i]) == 0)
			return i + 1;
	return 0;
}

/* Host bits of a in prefix length len (IPv4): 0 none, 1 all zero, 2 all
 * one, 3 mixed. */
static int host_bits4(const uint8_t *a, unsigned len)
{
	if (len >= 31)
		return 0; /* /31 (RFC 3021) and /32 have no network/broadcast */
	uint32_t v = (uint32_t)a[0] << 24 | (uint32_t)a[1] << 16 | (uint32_t)a[2] << 8 | a[3];
	uint32_t host = 0xffffffffu >> len;
	return (v & host) == 0 ? 1 : (v & host) == host ? 2 : 3;
}

/* Why an address cannot be the appliance's own (or its gateway), or NULL. */
static const char *unusable_addr(uint8_t family, const uint8_t *a)
{
	static const uint8_t zero[16];
	static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };
	if (family == 4) {
		if (a[0] == 0)
			return "is in 0.0.0.0/8";
		if (a[0] == 127)
			return "is a loopback address";
		if (a[0] >= 224)
			return "is a multicast, reserved or broadcast address";
		return NULL;
	}
	if (a[0] == 0xff)
		return "is a multicast address";
	if (!memcmp(a, zero, 15) && a[15] <= 1)
		return a[15] ? "is the loopback address" : "is the unspecified address";
	if (!memcmp(a, mapped, 12))
		return "is an IPv4-mapped address";
	return NULL;
}

static bool check_own_addr(struct parse_ctx *c, const char *sec, const char *val,
			   const struct strait_prefix *p)
{
	const char *why = unusable_addr(p->family, p->addr);
	int hb = p->family == 4 ? host_bits4(p->addr, p->len) : 0;
	if (!why && p->len == 0)
		why = "has prefix length 0";
	if (!why && hb == 1)
		why = "is the network's own address";
	if (!why && hb == 2)
		why = "is the network's broadcast address";
	if (why) {
		set_err(c, c->line, sec, "Address", "\"%s\" %s: not usable as the port's own address", val, why);
		return false;
	}
	return true;
}

static bool port_key(struct parse_ctx *c, const char *sec, struct strait_port_cfg *pc,
		     const char *key, const char *val)
{
	unsigned long v;
	if (!strcasecmp(key, "Port")) {
		if (!*val || strlen(val) >= sizeof(pc->device)) {
			set_err(c, c->line, sec, key, "expected a DPDK device name or PCI address");
			return false;
		}
		strcpy(pc->device, val);
	} else if (!strcasecmp(key, "Vlan")) {
		if (!parse_uint(val, 0, 4094, &v)) {
			set_err(c, c->line, sec, key, "\"%s\" is not a VLAN id (0 = untagged, 1..4094)", val);
			return false;
		}
		pc->vlan = (uint16_t)v;
	} else if (!strcasecmp(key, "Address")) {
		struct strait_prefix p;
		if (!strait_parse_prefix(val, &p) || !strchr(val, '/')) {
			set_err(c, c->line, sec, key, "\"%s\" is not an address with prefix length (198.18.0.1/24, 2001:2::1/64)", val);
			return false;
		}
		if (!check_own_addr(c, sec, val, &p))
			return false;
		struct strait_prefix *slot = p.family == 4 ? &pc->addr4 : &pc->addr6;
		if (slot->family) {
			set_err(c, c->line, sec, key, "one IPv%u address per port", p.family);
			return false;
		}
		*slot = p;
	} else if (!strcasecmp(key, "Gateway")) {
		struct strait_addr a;
		if (!strait_parse_addr(val, &a)) {
			set_err(c, c->line, sec, key, "\"%s\" is not an IPv4 or IPv6 address", val);
			return false;
		}
		struct strait_addr *slot = a.family == 4 ? &pc->gateway4 : &pc->gateway6;
		if (slot->family) {
			set_err(c, c->line, sec, key, "one IPv%u gateway per port", a.family);
			return false;
		}
		*slot = a;
		c->gw_line[sec[0] == 'W'][a.family == 6] = c->line;
	} else {
		set_err(c, c->line, sec, key, "unknown key (Port, Vlan, Address, Gateway%s)",
			sec[0] == 'W' ? ", Rate, RateBurst" : "");
		return false;
	}
	return true;
}

bool strait_parse_listen(const char *s, struct strait_listen *out)
{
	memset(out, 0, sizeof(*out));
	if (s[0] == '/' || s[0] == '.') {
		size_t n = strlen(s);
		if (n >= sizeof(out->path))
			return false;
		memcpy(out->path, s, n + 1);
		return true;
	}
	char buf[INET6_ADDRSTRLEN + 16];
	if (strlen(s) >= sizeof(buf))
		return false;
	strcpy(buf, s);
	char *host = buf, *colon = strrchr(buf, ':');
	if (!colon)
		return false;
	*colon = '\0';
	if (host[0] == '[') {
		size_t n = strlen(host);
		if (n < 2 || host[n - 1] != ']')
			return false;
		host[n - 1] = '\0';
		host++;
	} else if (strchr(host, ':')) {
		return false; /* IPv6 needs brackets: [::1]:8470 */
	}
	unsigned long port;
	struct strait_addr a;
	/* port 0: a free port the kernel picks (tests; straitd logs it) */
	if (!parse_uint(colon + 1, 0, 65535, &port) || !strait_parse_addr(host, &a) ||
	    (a.family == 6) != (buf[0] == '['))
		return false;
	out->family = a.family;
	memcpy(out->addr, a.addr, 16);
	out->port = (uint16_t)port;
	return true;
}

const char *strait_listen_str(const struct strait_listen *l, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN] = "";
	if (!l->family)
		sfmt(buf, len, "%s", l->path);
	else if (l->family == 4)
		sfmt(buf, len, "%s:%u", inet_ntop(AF_INET, l->addr, a, sizeof(a)), l->port);
	else
		sfmt(buf, len, "[%s]:%u", inet_ntop(AF_INET6, l->addr, a, sizeof(a)), l->port);
	return buf;
}

/* [Control]: Listen (repeats: a TCP address and/or a Unix socket), TokenFile. */
static int control_key(struct parse_ctx *c, struct strait_control_cfg *cc, const char *key,
		       const char *val)
{
	const char *s = "Control";
	if (!strcasecmp(key, "Listen")) {
		struct strait_listen l;
		char path[PATH_MAX];
		if (val[0] == '/' || val[0] == '.') { /* a socket's path */
			if (!resolve_path(c, val, path, sizeof(path)) || strlen(path) >= sizeof(l.path)) {
				set_err(c, c->line, s, key, "\"%s\" is too long for a Unix socket's path (%d)",
					val, STRAIT_SOCKET_PATH_MAX - 1);
				return 0;
			}
			val = path;
		}
		if (!strait_parse_listen(val, &l)) {
			set_err(c, c->line, s, key, "\"%s\" is neither address:port (127.0.0.1:8470, [::1]:8470) "
				"nor a Unix socket's path (/run/strait/api.sock)", val);
			return 0;
		}
		if (cc->n_listen == STRAIT_LISTEN_MAX) {
			set_err(c, c->line, s, key, "more than %d sockets", STRAIT_LISTEN_MAX);
			return 0;
		}
		cc->listen[cc->n_listen++] = l;
		if (!cc->listen_line)
			cc->listen_line = c->line;
	} else if (!strcasecmp(key, "TokenFile")) {
		if (!seen_once(c, s, key))
			return 0;
		if (!resolve_path(c, val, cc->token_file, sizeof(cc->token_file))) {
			set_err(c, c->line, s, key, "bad path");
			return 0;
		}
		cc->token_line = c->line;
	} else {
		set_err(c, c->line, s, key, "unknown key (Listen, TokenFile)");
		return 0;
	}
	return 1;
}

static int appliance_handler(void *user, const char *section, const char *key,
			     const char *val)
{
	static const char *const names[] = { "Appliance", "LAN", "WAN", "Test", "Control" };
	struct appliance_ctx *a = user;
	struct parse_ctx *c = &a->p;
	struct strait_appliance_cfg *cfg = a->cfg;
	unsigned long v = 0;
	if (c->failed)
		return 0;
	int sec = section_index(section, names, 5);
	if (!sec) {
		set_err(c, c->line, section, NULL, "unknown section (Appliance, LAN, WAN, Test, Control)");
		return 0;
	}
	if (sec == SEC_CONTROL)
		return control_key(c, &cfg->control, key, val);
	bool multi = sec != SEC_APPLIANCE && (!strcasecmp(key, "Address") || !strcasecmp(key, "Gateway"));
	if (!multi && !seen_once(c, names[sec - 1], key))
		return 0;
	if (sec == SEC_WAN && !strcasecmp(key, "Rate")) {
		if (!parse_link_rate(val, &cfg->wan_rate_bps) || !cfg->wan_rate_bps)
			set_err(c, c->line, names[sec - 1], key, "\"%s\" is not a rate in bit/s of at least 1k (100M, 1G, 2.5G)", val);
		cfg->wan_rate_line = c->line;
		return !c->failed;
	}
	if (sec == SEC_WAN && !strcasecmp(key, "RateBurst")) {
		uint64_t ns;
		if (!strait_parse_duration(val, &ns) || ns < 1000000ull || ns > 100000000ull)
			set_err(c, c->line, names[sec - 1], key, "\"%s\" is not a duration of 1ms to 100ms (2ms, 8ms)", val);
		else
			cfg->wan_burst_ns = ns;
		return !c->failed;
	}
	if (sec == SEC_LAN || sec == SEC_WAN) {
		if (!strcasecmp(key, "Port"))
			a->have_port[sec - SEC_LAN] = true;
		return port_key(c, names[sec - 1], sec == SEC_LAN ? &cfg->lan : &cfg->wan, key, val);
	}
	if (sec == SEC_TEST) {
		/* test facilities, never for production traffic */
		char why[160];
		if (strcasecmp(key, "TcpImpair"))
			set_err(c, c->line, names[sec - 1], key, "unknown key (TcpImpair)");
		else if (!strait_parse_tcp_impair(val, &cfg->tcp_impair, why, sizeof(why)))
			set_err(c, c->line, names[sec - 1], key, "%s", why);
		return !c->failed;
	}
	const char *s = names[0];
	if (!strcasecmp(key, "Name")) {
		if (!copy_name(val, cfg->name, sizeof(cfg->name)))
			set_err(c, c->line, s, key, "expected 1..%d characters of [A-Za-z0-9._-]", STRAIT_NAME_MAX - 1);
	} else if (!strcasecmp(key, "Workers")) {
		if (!parse_uint(val, 0, STRAIT_MAX_WORKERS, &v))
			set_err(c, c->line, s, key, "\"%s\" is not 0 (single-lcore) .. %d", val, STRAIT_MAX_WORKERS);
		cfg->workers = (unsigned)v;
	} else if (!strcasecmp(key, "FlowTableSize")) {
		if (!parse_uint(val, 64, 1u << 24, &v) || (v & (v - 1)))
			set_err(c, c->line, s, key, "\"%s\" is not a power of two in 64..16777216", val);
		cfg->flow_table_size = (uint32_t)v;
	} else if (!strcasecmp(key, "OptimizedFlows")) {
		if (!parse_uint(val, 16, 1u << 20, &v))
			set_err(c, c->line, s, key, "\"%s\" is not 16..1048576 connections", val);
		cfg->optimized_flows = (uint32_t)v;
	} else if (!strcasecmp(key, "FlowIdleTimeout")) {
		if (!parse_uint(val, 1, 86400, &v))
			set_err(c, c->line, s, key, "\"%s\" is not 1..86400 seconds", val);
		cfg->flow_idle_timeout = (uint32_t)v;
	} else if (!strcasecmp(key, "FlowClosedTimeout")) {
		if (!parse_uint(val, 1, 3600, &v))
			set_err(c, c->line, s, key, "\"%s\" is not 1..3600 seconds", val);
		cfg->flow_closed_timeout = (uint32_t)v;
	} else if (!strcasecmp(key, "NeighbourTableSize")) {
		if (!parse_uint(val, 16, 1u << 20, &v) || (v & (v - 1)))
			set_err(c, c->line, s, key, "\"%s\" is not a power of two in 16..1048576", val);
		cfg->neigh_table_size = (uint32_t)v;
	} else if (!strcasecmp(key, "Burst")) {
		if (!parse_uint(val, 1, 64, &v))
			set_err(c, c->line, s, key, "\"%s\" is not 1..64", val);
		cfg->burst = (uint32_t)v;
	} else if (!strcasecmp(key, "TenantDir")) {
		if (!resolve_path(c, val, cfg->tenant_dir, sizeof(cfg->tenant_dir)))
			set_err(c, c->line, s, key, "bad path");
	} else {
		set_err(c, c->line, s, key, "unknown key (Name, Workers, FlowTableSize, OptimizedFlows, FlowIdleTimeout, FlowClosedTimeout, NeighbourTableSize, Burst, TenantDir)");
	}
	return !c->failed;
}

/* Opens the file, runs inih with line counting; returns 0 or -errno. */
static int run_ini(struct parse_ctx *c, const char *path, ini_handler h, void *user,
		   struct strait_error *err)
{
	memset(err, 0, sizeof(*err));
	c->path = path;
	c->err = err;
	char tmp[PATH_MAX];
	sfmt(tmp, sizeof(tmp), "%s", path);
	sfmt(c->dir, sizeof(c->dir), "%s", dirname(tmp));
	/* O_NONBLOCK: opening a FIFO must not wait for a writer. */
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	struct stat st;
	int e = 0;
	const char *why = NULL;
	if (fd < 0 || fstat(fd, &st) != 0)
		e = errno;
	else if (!S_ISREG(st.st_mode))
		why = "not a regular file";
	else if (st.st_size > MAX_FILE_BYTES)
		why = "larger than 1 MiB";
	else if (fcntl(fd, F_SETFL, 0) != 0 || !(c->f = fdopen(fd, "r")))
		e = errno;
	if (e || why) {
		if (fd >= 0)
			close(fd);
		sfmt(err->file, sizeof(err->file), "%s", path);
		if (why)
			sfmt(err->msg, sizeof(err->msg), "cannot read: %s", why);
		else
			sfmt(err->msg, sizeof(err->msg), "cannot open: %s", strerror(e));
		return why ? -EINVAL : -e;
	}
	int r = ini_parse_stream(reader, c, h, user);
	fclose(c->f);
	c->f = NULL;
	if (r > 0 && !c->failed)
		set_err(c, (unsigned)r, NULL, NULL, "syntax error (expected [Section] or Key = Value)");
	else if (r < 0 && !c->failed)
		set_err(c, 0, NULL, NULL, "cannot read");
	return c->failed ? -EINVAL : 0;
}

/* Where a section starts, for errors about keys missing from it. */
static unsigned find_section_line(const char *path, const char *name)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	char line[512];
	unsigned n = 0, found = 0;
	size_t len = strlen(name);
	while (fgets(line, sizeof(line), f)) {
		n++;
		const char *p = line;
		while (isspace((unsigned char)*p))
			p++;
		if (*p == '[' && !strncasecmp(p + 1, name, len) && p[1 + len] == ']') {
			found = n;
			break;
		}
	}
	fclose(f);
	return found;
}

static bool check_port(struct parse_ctx *c, const char *sec, const struct strait_port_cfg *pc)
{
	if (pc->gateway4.family && !pc->addr4.family) {
		set_err(c, find_section_line(c->path, sec), sec, "Gateway", "an IPv4 gateway needs an IPv4 Address on the port");
		return false;
	}
	if (pc->gateway6.family && !pc->addr6.family) {
		set_err(c, find_section_line(c->path, sec), sec, "Gateway", "an IPv6 gateway needs an IPv6 Address on the port");
		return false;
	}
	/* the gateway must be a neighbour on the port's prefix (or, IPv6, a
	 * link-local router address) */
	for (int v6 = 0; v6 < 2; v6++) {
		const struct strait_addr *gw = v6 ? &pc->gateway6 : &pc->gateway4;
		const struct strait_prefix *own = v6 ? &pc->addr6 : &pc->addr4;
		if (!gw->family)
			continue;
		unsigned line = c->gw_line[sec[0] == 'W'][v6];
		char a[INET6_ADDRSTRLEN] = "", o[INET6_ADDRSTRLEN] = "";
		inet_ntop(v6 ? AF_INET6 : AF_INET, gw->addr, a, sizeof(a));
		inet_ntop(v6 ? AF_INET6 : AF_INET, own->addr, o, sizeof(o));
		const char *why = unusable_addr(gw->family, gw->addr);
		bool link_local = v6 && gw->addr[0] == 0xfe && (gw->addr[1] & 0xc0) == 0x80;
		if (!why && !link_local && !strait_prefix_contains(own, gw->family, gw->addr))
			why = "is outside the port's prefix";
		if (!why && !memcmp(gw->addr, own->addr, v6 ? 16 : 4))
			why = "is the port's own address";
		if (!why && !v6 && host_bits4(gw->addr, own->len) == 1)
			why = "is the network's own address";
		if (!why && !v6 && host_bits4(gw->addr, own->len) == 2)
			why = "is the network's broadcast address";
		if (why) {
			set_err(c, line, sec, "Gateway", "%s %s %s/%u", a, why, o, own->len);
			return false;
		}
	}
	return true;
}

int strait_appliance_load(const char *path, struct strait_appliance_cfg *out,
			  struct strait_error *err)
{
	struct appliance_ctx a = { .cfg = out };
	memset(out, 0, sizeof(*out));
	sfmt(out->name, sizeof(out->name), "strait");
	out->workers = 1;
	out->flow_table_size = 65536;
	out->optimized_flows = 16384;
	out->flow_idle_timeout = 300;
	out->flow_closed_timeout = 10;
	out->neigh_table_size = 1024;
	out->burst = 32;
	out->tcp_impair = (struct strait_tcp_impair){ .seed = 1, .rx = true, .tx = true };
	sfmt(out->file, sizeof(out->file), "%s", path);
	int r = run_ini(&a.p, path, appliance_handler, &a, err);
	if (r)
		return r;
	struct parse_ctx *c = &a.p;
	const struct strait_control_cfg *cc = &out->control;
	if (cc->n_listen && !cc->token_file[0])
		set_err(c, find_section_line(path, "Control"), "Control", "TokenFile",
			"missing: every request needs the token (Authorization: Bearer)");
	else if (cc->token_file[0] && !cc->n_listen)
		set_err(c, cc->token_line, "Control", "Listen", "missing: where the API listens (127.0.0.1:8470)");
	else if (!a.have_port[0])
		set_err(c, find_section_line(path, "LAN"), "LAN", "Port", "missing: the LAN port's DPDK device");
	else if (!a.have_port[1])
		set_err(c, find_section_line(path, "WAN"), "WAN", "Port", "missing: the WAN port's DPDK device");
	else if (!strcmp(out->lan.device, out->wan.device))
		set_err(c, find_section_line(path, "WAN"), "WAN", "Port", "same device as the LAN port");
	else if (check_port(c, "LAN", &out->lan))
		check_port(c, "WAN", &out->wan);
	return c->failed ? -EINVAL : 0;
}

/* ---- tenant file ---- */

struct tenant_ctx {
	struct parse_ctx p;
	struct strait_tenant_cfg *cfg;
	const char *sec;
	const char *key;
	int side; /* 0 client, 1 server */
	bool have_name, have_id, have_key, have_peer_down, have_endpoint, have_inner, have_inner_peer;
	unsigned keepalive_line;
	unsigned cache_window_line; /* checked against CacheSize, which may follow */
};

static bool add_prefix(struct parse_ctx *c, const char *tok, void *arg)
{
	struct tenant_ctx *t = arg;
	struct strait_tenant_cfg *cfg = t->cfg;
	struct strait_prefix p;
	if (!strait_parse_prefix(tok, &p)) {
		set_err(c, c->line, t->sec, t->key, "\"%s\" is not a prefix (10.1.0.0/16, 2001:db8::/48)", tok);
		return false;
	}
	if (!prefix_is_canonical(&p)) {
		set_err(c, c->line, t->sec, t->key, "\"%s\" has host bits set beyond /%u", tok, p.len);
		return false;
	}
	struct strait_prefix *arr = t->side ? cfg->server : cfg->client;
	unsigned *n = t->side ? &cfg->n_server : &cfg->n_client;
	if (*n >= STRAIT_MAX_PREFIXES) {
		set_err(c, c->line, t->sec, t->key, "more than %d prefixes", STRAIT_MAX_PREFIXES);
		return false;
	}
	arr[(*n)++] = p;
	return true;
}

static bool add_ports(struct parse_ctx *c, const char *tok, void *arg)
{
	struct tenant_ctx *t = arg;
	struct strait_tenant_cfg *cfg = t->cfg;
	char buf[32];
	unsigned long lo, hi;
	if (strlen(tok) >= sizeof(buf))
		goto bad;
	strcpy(buf, tok);
	char *dash = strchr(buf, '-');
	if (dash)
		*dash = '\0';
	if (!parse_uint(buf, 1, 65535, &lo))
		goto bad;
	hi = lo;
	if (dash && (!parse_uint(dash + 1, 1, 65535, &hi) || hi < lo))
		goto bad;
	if (cfg->n_ports >= STRAIT_MAX_PORT_RANGES) {
		set_err(c, c->line, t->sec, t->key, "more than %d port ranges", STRAIT_MAX_PORT_RANGES);
		return false;
	}
	cfg->ports[cfg->n_ports++] = (struct strait_port_range){ (uint16_t)lo, (uint16_t)hi };
	return true;
bad:
	set_err(c, c->line, t->sec, t->key, "\"%s\" is not a TCP port or range (1..65535, lo-hi)", tok);
	return false;
}

static bool add_vlan(struct parse_ctx *c, const char *tok, void *arg)
{
	struct tenant_ctx *t = arg;
	struct strait_tenant_cfg *cfg = t->cfg;
	unsigned long v;
	if (!parse_uint(tok, 0, 4094, &v)) {
		set_err(c, c->line, t->sec, t->key, "\"%s\" is not a VLAN id (0 = untagged, 1..4094)", tok);
		return false;
	}
	if (cfg->n_vlans >= STRAIT_MAX_VLANS) {
		set_err(c, c->line, t->sec, t->key, "more than %d VLANs", STRAIT_MAX_VLANS);
		return false;
	}
	cfg->vlans[cfg->n_vlans++] = (uint16_t)v;
	return true;
}

static int tenant_handler(void *user, const char *section, const char *key,
			  const char *val)
{
	static const char *const names[] = { "Tenant", "Interception", "Peer", "Bandwidth" };
	struct tenant_ctx *t = user;
	struct parse_ctx *c = &t->p;
	struct strait_tenant_cfg *cfg = t->cfg;
	unsigned long v = 0;
	if (c->failed)
		return 0;
	int sec = section_index(section, names, 4);
	if (!sec) {
		set_err(c, c->line, section, NULL, "unknown section (Tenant, Interception, Peer, Bandwidth)");
		return 0;
	}
	const char *s = names[sec - 1];
	t->sec = s;
	t->key = key;
	bool list = sec == 2;
	if (!list && !seen_once(c, s, key))
		return 0;
	switch (sec) {
	case 1:
		if (!strcasecmp(key, "Name")) {
			if (!copy_name(val, cfg->name, sizeof(cfg->name)))
				set_err(c, c->line, s, key, "expected 1..%d characters of [A-Za-z0-9._-]", STRAIT_NAME_MAX - 1);
			t->have_name = true;
		} else if (!strcasecmp(key, "Id")) {
			if (!parse_uint(val, 1, STRAIT_TENANT_ID_MAX, &v))
				set_err(c, c->line, s, key, "\"%s\" is not 1..%d (the tenant's number on the wire, the same at both appliances)",
					val, STRAIT_TENANT_ID_MAX);
			cfg->id = (uint16_t)v;
			cfg->id_line = c->line;
			t->have_id = true;
		} else if (!strcasecmp(key, "KeyFile")) {
			if (!resolve_path(c, val, cfg->key_file, sizeof(cfg->key_file)))
				set_err(c, c->line, s, key, "bad path");
			cfg->key_line = c->line;
			t->have_key = true;
		} else if (!strcasecmp(key, "PeerDown")) {
			if (!strcasecmp(val, "bypass"))
				cfg->peer_down = STRAIT_PEER_DOWN_BYPASS;
			else if (!strcasecmp(val, "fail-closed"))
				cfg->peer_down = STRAIT_PEER_DOWN_FAIL_CLOSED;
			else
				set_err(c, c->line, s, key, "\"%s\" is neither bypass nor fail-closed", val);
			t->have_peer_down = true;
		} else if (!strcasecmp(key, "CacheSize")) {
			if (!strait_parse_bytes(val, &cfg->cache_size) || cfg->cache_size < (1u << 20))
				set_err(c, c->line, s, key, "\"%s\" is not a size of at least 1M (512M, 2G)", val);
		} else if (!strcasecmp(key, "CacheWindow")) {
			/* zstd's windows are powers of two, the codec's
			 * smallest is 2 MiB; the largest depends on CacheSize,
			 * checked once the file is read */
			uint64_t w = 0;
			if (!strait_parse_bytes(val, &w) || w & (w - 1) ||
			    w < (1ull << STRAIT_DEDUPE_WINDOW_LOG_MIN))
				set_err(c, c->line, s, key, "\"%s\" is not a power of two of at least 2M (4M, 32M)", val);
			cfg->cache_window = w;
			t->cache_window_line = c->line;
		} else if (!strcasecmp(key, "CacheFile")) {
			if (!resolve_path(c, val, cfg->cache_file, sizeof(cfg->cache_file) - 3))
				set_err(c, c->line, s, key, "bad path");
		} else {
			set_err(c, c->line, s, key, "unknown key (Name, Id, KeyFile, PeerDown, CacheSize, CacheWindow, CacheFile)");
		}
		break;
	case 2:
		if (!strcasecmp(key, "ClientPrefix") || !strcasecmp(key, "ServerPrefix")) {
			t->side = !strcasecmp(key, "ServerPrefix");
			each_item(c, s, key, val, add_prefix, t);
		} else if (!strcasecmp(key, "Ports")) {
			each_item(c, s, key, val, add_ports, t);
		} else if (!strcasecmp(key, "Vlans")) {
			each_item(c, s, key, val, add_vlan, t);
		} else {
			set_err(c, c->line, s, key, "unknown key (ClientPrefix, ServerPrefix, Ports, Vlans)");
		}
		break;
	case 3:
		if (!strcasecmp(key, "Endpoint")) {
			/* address, or [v6]:port / v4:port */
			char buf[INET6_ADDRSTRLEN + 16];
			const char *addr = val;
			unsigned long port = 4500;
			if (strlen(val) >= sizeof(buf)) {
				set_err(c, c->line, s, key, "value too long");
				break;
			}
			strcpy(buf, val);
			if (buf[0] == '[') {
				char *close = strchr(buf, ']');
				if (!close || (close[1] && (close[1] != ':' || !parse_uint(close + 2, 1, 65535, &port)))) {
					set_err(c, c->line, s, key, "\"%s\" is not [IPv6]:port", val);
					break;
				}
				*close = '\0';
				addr = buf + 1;
			} else if (strchr(buf, '.') && strchr(buf, ':') && strchr(buf, ':') == strrchr(buf, ':')) {
				/* v4:port (one colon; an IPv6 literal has more) */
				char *colon = strchr(buf, ':');
				*colon = '\0';
				if (!parse_uint(colon + 1, 1, 65535, &port)) {
					set_err(c, c->line, s, key, "\"%s\" has a bad UDP port", val);
					break;
				}
				addr = buf;
			}
			static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };
			if (strait_parse_addr(addr, &cfg->peer_endpoint) && cfg->peer_endpoint.family == 6 &&
			    !memcmp(cfg->peer_endpoint.addr, mapped, 12)) {
				set_err(c, c->line, s, key, "\"%s\" is an IPv4-mapped IPv6 address: write the IPv4 address", val);
				break;
			}
			if (!strait_parse_addr(addr, &cfg->peer_endpoint)) {
				set_err(c, c->line, s, key, "\"%s\" is not an address (198.18.1.2, [2001:2::2]:4500)", val);
				break;
			}
			cfg->peer_port = (uint16_t)port;
			t->have_endpoint = true;
		} else if (!strcasecmp(key, "InnerAddress") || !strcasecmp(key, "PeerInnerAddress")) {
			bool mine = !strcasecmp(key, "InnerAddress");
			if (!strait_parse_addr(val, mine ? &cfg->inner_local : &cfg->inner_peer))
				set_err(c, c->line, s, key, "\"%s\" is not an IPv4 or IPv6 address", val);
			if (mine) {
				t->have_inner = true;
				cfg->inner_line = c->line;
			}
			else
				t->have_inner_peer = true;
		} else if (!strcasecmp(key, "PeerTimeout") || !strcasecmp(key, "KeepaliveInterval") ||
			   !strcasecmp(key, "RekeyTime")) {
			/* bounds: a timeout below 100 ms would fire on one
			 * queueing delay; rekeys more often than every second
			 * are handshake storms; a day is the longest sane */
			static const struct { const char *key; uint64_t lo, hi; } b[] = {
				{ "PeerTimeout", 100000000ull, 3600000000000ull },
				{ "KeepaliveInterval", 10000000ull, 3600000000000ull },
				{ "RekeyTime", 1000000000ull, 86400000000000ull },
			};
			unsigned k = !strcasecmp(key, "PeerTimeout") ? 0 : !strcasecmp(key, "KeepaliveInterval") ? 1 : 2;
			uint64_t *dst = k == 0 ? &cfg->peer_timeout_ns : k == 1 ? &cfg->keepalive_ns : &cfg->rekey_ns;
			uint64_t ns;
			if (!strait_parse_duration(val, &ns)) {
				set_err(c, c->line, s, key, "\"%s\" is not a duration (500ms, 10s, 1h)", val);
			} else if (ns < b[k].lo || ns > b[k].hi) {
				set_err(c, c->line, s, key, "\"%s\" is outside %s..%s", val,
					k == 0 ? "100ms" : k == 1 ? "10ms" : "1s", k == 2 ? "24h" : "1h");
			}
			*dst = ns;
			if (k == 1)
				t->keepalive_line = c->line;
		} else if (!strcasecmp(key, "RekeyBytes")) {
			/* at least 1 MiB (tests use a few); at most 2^50: far
			 * below AES-GCM's limits under one key */
			if (!strait_parse_bytes(val, &cfg->rekey_bytes) || cfg->rekey_bytes < (1ull << 20) ||
			    cfg->rekey_bytes > (1ull << 50))
				set_err(c, c->line, s, key, "\"%s\" is not a byte count in 1M..1P (64M, 1T)", val);
		} else {
			set_err(c, c->line, s, key, "unknown key (Endpoint, InnerAddress, PeerInnerAddress, "
				"PeerTimeout, KeepaliveInterval, RekeyTime, RekeyBytes)");
		}
		break;
	case 4:
		if (!strcasecmp(key, "Guaranteed") || !strcasecmp(key, "Ceiling")) {
			bool g = !strcasecmp(key, "Guaranteed");
			if (!parse_link_rate(val, g ? &cfg->guaranteed_bps : &cfg->ceiling_bps))
				set_err(c, c->line, s, key, "\"%s\" is not a rate in bit/s, 0 or at least 1k (800k, 100M, 2.5G)", val);
			if (g)
				cfg->guaranteed_line = c->line;
		} else if (!strcasecmp(key, "RpoTarget")) {
			if (!parse_rpo(val, &cfg->rpo_target_ns))
				set_err(c, c->line, s, key, "\"%s\" is not a duration of 1s..30d (300s, 15min, 1h)", val);
		} else if (!strcasecmp(key, "Transport")) {
			unsigned k;
			for (k = 0; k <= STRAIT_TRANSPORT_CUBIC; k++)
				if (!strcasecmp(val, strait_transport_name(k)))
					break;
			if (k > STRAIT_TRANSPORT_CUBIC)
				set_err(c, c->line, s, key, "\"%s\" is not rate, bbr or cubic", val);
			cfg->transport = (enum strait_transport)k;
		} else if (!strcasecmp(key, "Priority")) {
			if (!parse_uint(val, 0, 7, &v))
				set_err(c, c->line, s, key, "\"%s\" is not 0 (highest) .. 7", val);
			cfg->priority = (uint8_t)v;
		} else if (!strcasecmp(key, "Weight")) {
			if (!parse_uint(val, 1, 1000, &v))
				set_err(c, c->line, s, key, "\"%s\" is not 1..1000", val);
			cfg->weight = (uint16_t)v;
		} else {
			set_err(c, c->line, s, key, "unknown key (Guaranteed, Ceiling, Priority, Weight, RpoTarget, Transport)");
		}
		break;
	}
	return !c->failed;
}

int strait_tenant_load(const char *path, struct strait_tenant_cfg *out,
		       struct strait_error *err)
{
	struct tenant_ctx t = { .cfg = out };
	memset(out, 0, sizeof(*out));
	sfmt(out->file, sizeof(out->file), "%s", path);
	out->peer_port = 4500;
	out->weight = 100;
	out->peer_timeout_ns = STRAIT_PEER_TIMEOUT_NS_DEFAULT;
	out->rekey_ns = STRAIT_REKEY_NS_DEFAULT;
	out->rekey_bytes = STRAIT_REKEY_BYTES_DEFAULT;
	out->cache_size = STRAIT_DEFAULT_CACHE_SIZE;
	int r = run_ini(&t.p, path, tenant_handler, &t, err);
	if (r)
		return r;
	struct parse_ctx *c = &t.p;
	unsigned ln_t = section_line(c, "Tenant");
	unsigned ln_i = section_line(c, "Interception");
	unsigned ln_p = section_line(c, "Peer");
	unsigned ln_b = section_line(c, "Bandwidth");
	if (!t.have_name)
		set_err(c, ln_t, "Tenant", "Name", "missing");
	else if (!t.have_id)
		set_err(c, ln_t, "Tenant", "Id", "missing: the tenant's number on the wire (1..%d), the same in both appliances' files",
			STRAIT_TENANT_ID_MAX);
	else if (!t.have_key)
		set_err(c, ln_t, "Tenant", "KeyFile", "missing: the tenant's pre-shared key file");
	else if (!t.have_peer_down)
		set_err(c, ln_t, "Tenant", "PeerDown", "missing: bypass or fail-closed");
	else if (!out->n_client)
		set_err(c, ln_i, "Interception", "ClientPrefix", "missing");
	else if (!out->n_server)
		set_err(c, ln_i, "Interception", "ServerPrefix", "missing");
	else if (!out->n_ports)
		set_err(c, ln_i, "Interception", "Ports", "missing");
	else if (!t.have_endpoint)
		set_err(c, ln_p, "Peer", "Endpoint", "missing: the peer appliance's WAN address");
	else if (!t.have_inner)
		set_err(c, ln_p, "Peer", "InnerAddress", "missing");
	else if (!t.have_inner_peer)
		set_err(c, ln_p, "Peer", "PeerInnerAddress", "missing");
	else if (out->inner_local.family != out->inner_peer.family)
		set_err(c, ln_p, "Peer", "PeerInnerAddress", "not the same family as InnerAddress");
	else if (!memcmp(out->inner_local.addr, out->inner_peer.addr, 16))
		set_err(c, ln_p, "Peer", "PeerInnerAddress", "same as InnerAddress");
	else if (out->ceiling_bps && out->guaranteed_bps > out->ceiling_bps)
		set_err(c, ln_b, "Bandwidth", "Guaranteed", "above Ceiling");
	else if (t.keepalive_line && out->keepalive_ns >= out->peer_timeout_ns)
		set_err(c, t.keepalive_line, "Peer", "KeepaliveInterval",
			"not shorter than PeerTimeout: the peer would be declared down between keepalives");
	else if (out->cache_window > strait_dedupe_window_max(out->cache_size))
		set_err(c, t.cache_window_line, "Tenant", "CacheWindow",
			"%lluM is above the largest window for this CacheSize: %lluM (1/8 of it, 2M..128M)",
			(unsigned long long)(out->cache_window >> 20),
			(unsigned long long)(strait_dedupe_window_max(out->cache_size) >> 20));
	if (c->failed)
		return -EINVAL;
	if (!out->keepalive_ns)
		out->keepalive_ns = out->peer_timeout_ns / 3;
	/* Client and server prefixes of different families can never match a flow. */
	bool fam_ok = false;
	for (unsigned i = 0; i < out->n_client; i++)
		for (unsigned j = 0; j < out->n_server; j++)
			fam_ok |= out->client[i].family == out->server[j].family;
	if (!fam_ok)
		set_err(c, ln_i, "Interception", "ServerPrefix", "no client prefix of the same address family");
	return c->failed ? -EINVAL : 0;
}

/* ---- the whole configuration ---- */

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool prefix_eq(const struct strait_prefix *a, const struct strait_prefix *b)
{
	return a->family == b->family && a->len == b->len && !memcmp(a->addr, b->addr, 16);
}

/* Width of t's narrowest port range holding port, or -1. */
static int narrowest(const struct strait_tenant_cfg *t, unsigned port)
{
	int best = -1;
	for (unsigned i = 0; i < t->n_ports; i++)
		if (port >= t->ports[i].lo && port <= t->ports[i].hi) {
			int w = t->ports[i].hi - t->ports[i].lo;
			if (best < 0 || w < best)
				best = w;
		}
	return best;
}

/* Two tenants tie when the classifier's rule (longest server prefix, then
 * longest client prefix, then narrowest port range) cannot choose between
 * them for some SYN: a client prefix and a server prefix the same in both,
 * and a port where both have a range and their narrowest are equally
 * wide. The narrowest width is constant between range boundaries, so the
 * ports tried are each range's first port and the one after its last. */
static bool ambiguous(const struct strait_tenant_cfg *a, const struct strait_tenant_cfg *b)
{
	bool same_prefixes = false;
	for (unsigned i = 0; i < a->n_client && !same_prefixes; i++)
		for (unsigned j = 0; j < b->n_client && !same_prefixes; j++) {
			if (!prefix_eq(&a->client[i], &b->client[j]))
				continue;
			for (unsigned k = 0; k < a->n_server && !same_prefixes; k++)
				for (unsigned l = 0; l < b->n_server && !same_prefixes; l++)
					same_prefixes = prefix_eq(&a->server[k], &b->server[l]);
		}
	if (!same_prefixes)
		return false;
	const struct strait_tenant_cfg *both[2] = { a, b };
	for (int s = 0; s < 2; s++)
		for (unsigned i = 0; i < both[s]->n_ports; i++) {
			unsigned pts[2] = { both[s]->ports[i].lo, both[s]->ports[i].hi + 1u };
			for (int k = 0; k < 2; k++) {
				if (pts[k] > 65535)
					continue;
				int wa = narrowest(a, pts[k]);
				if (wa >= 0 && wa == narrowest(b, pts[k]))
					return true;
			}
		}
	return false;
}


/* What tenant i's own file cannot tell: an outer address of its Endpoint's
 * family on the WAN port, and no clash with the tenants before it (name,
 * Id, InnerAddress, CacheFile, an ambiguous rule). */
static int check_tenant(const struct strait_config *cfg, unsigned i, const char *appliance_path,
			struct strait_error *err)
{
	const struct strait_tenant_cfg *t = &cfg->tenants[i];
	const struct strait_port_cfg *wan = &cfg->appliance.wan;
	unsigned fam = t->peer_endpoint.family;
	if (!(fam == 4 ? wan->addr4.family : wan->addr6.family))
		return strait_error_set(err, -EINVAL, t->file, find_section_line(t->file, "Peer"), "[Peer] Endpoint",
				  "an IPv%u endpoint, but the appliance's [WAN] has no IPv%u Address (%s)",
				  fam, fam, appliance_path);
	for (unsigned j = 0; j < i; j++) {
		const struct strait_tenant_cfg *o = &cfg->tenants[j];
		if (o->id == t->id)
			return strait_error_set(err, -EINVAL, t->file, t->id_line, "[Tenant] Id",
					  "%u already used by tenant \"%s\" (%s)", t->id, o->name, o->file);
		if (o->inner_local.family == t->inner_local.family &&
		    !memcmp(o->inner_local.addr, t->inner_local.addr, 16)) {
			char a[INET6_ADDRSTRLEN] = "";
			inet_ntop(t->inner_local.family == 4 ? AF_INET : AF_INET6, t->inner_local.addr, a, sizeof(a));
			return strait_error_set(err, -EINVAL, t->file, t->inner_line, "[Peer] InnerAddress",
					  "%s already used by tenant \"%s\" (%s): each tenant's channel needs "
					  "its own inner address", a, o->name, o->file);
		}
		if (t->cache_file[0] && !strcmp(o->cache_file, t->cache_file))
			return strait_error_set(err, -EINVAL, t->file, find_section_line(t->file, "Tenant"), "[Tenant] CacheFile",
					  "already the cache of tenant \"%s\" (%s): caches are per tenant",
					  o->name, o->file);
		if (!strcmp(o->name, t->name))
			return strait_error_set(err, -EINVAL, t->file, find_section_line(t->file, "Tenant"), "[Tenant] Name",
					  "tenant name \"%s\" already used by %s", o->name, o->file);
		if (ambiguous(o, t))
			return strait_error_set(err, -EINVAL, t->file, find_section_line(t->file, "Interception"), "[Interception]",
					  "ties with tenant \"%s\" (%s): same prefixes and an equally narrow "
					  "port range for some port", o->name, o->file);
	}
	return 0;
}

static void fmt_rate(char *buf, size_t len, unsigned __int128 bps)
{
	static const struct { uint64_t mul; char sfx; } u[] = { { 1000000000, 'G' }, { 1000000, 'M' }, { 1000, 'k' } };
	for (size_t i = 0; i < sizeof(u) / sizeof(u[0]); i++)
		if (bps >= u[i].mul && bps % u[i].mul == 0) {
			sfmt(buf, len, "%llu%c", (unsigned long long)(bps / u[i].mul), u[i].sfx);
			return;
		}
	sfmt(buf, len, "%llu", (unsigned long long)bps);
}

/* The tenants' guarantees share [WAN] Rate: the first tenant (in file
 * order) whose guarantee makes the sum exceed it is refused at its
 * Guaranteed line. */
static int check_guarantees(const struct strait_config *cfg, const char *appliance_path,
			    struct strait_error *err)
{
	uint64_t link = cfg->appliance.wan_rate_bps;
	unsigned __int128 sum = 0;
	if (!link)
		return 0;
	for (unsigned i = 0; i < cfg->n_tenants; i++) {
		const struct strait_tenant_cfg *t = &cfg->tenants[i];
		sum += t->guaranteed_bps;
		if (sum <= link)
			continue;
		char total[32], rate[32];
		fmt_rate(total, sizeof(total), sum);
		fmt_rate(rate, sizeof(rate), link);
		return strait_error_set(err, -EINVAL, t->file, t->guaranteed_line,
					"[Bandwidth] Guaranteed",
					"the guarantees of tenants up to \"%s\" add up to %s, above "
					"[WAN] Rate = %s (%s:%u)", t->name, total, rate, appliance_path,
					cfg->appliance.wan_rate_line);
	}
	return 0;
}

int strait_config_load(const char *appliance_path, struct strait_config *out,
		       struct strait_error *err)
{
	memset(out, 0, sizeof(*out));
	out->generation = 1;
	int r = strait_appliance_load(appliance_path, &out->appliance, err);
	if (r)
		return r;
	const char *dir = out->appliance.tenant_dir;
	if (!dir[0])
		return 0;
	DIR *d = opendir(dir);
	if (!d) {
		int e = errno;
		memset(err, 0, sizeof(*err));
		sfmt(err->file, sizeof(err->file), "%s", appliance_path);
		err->line = find_section_line(appliance_path, "Appliance");
		sfmt(err->field, sizeof(err->field), "[Appliance] TenantDir");
		sfmt(err->msg, sizeof(err->msg), "cannot open %s: %s", dir, strerror(e));
		return -e;
	}
	char *names[STRAIT_MAX_TENANTS + 1];
	unsigned n = 0;
	struct dirent *de;
	r = 0;
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		if (len < 6 || strcmp(de->d_name + len - 5, ".conf") || de->d_name[0] == '.')
			continue;
		if (n == STRAIT_MAX_TENANTS) {
			memset(err, 0, sizeof(*err));
			sfmt(err->file, sizeof(err->file), "%s", dir);
			sfmt(err->msg, sizeof(err->msg), "more than %d tenant files", STRAIT_MAX_TENANTS);
			r = -E2BIG;
			break;
		}
		names[n] = strdup(de->d_name);
		if (!names[n]) {
			r = -ENOMEM;
			break;
		}
		n++;
	}
	closedir(d);
	if (!r)
		qsort(names, n, sizeof(names[0]), name_cmp);
	for (unsigned i = 0; i < n && !r; i++) {
		char path[PATH_MAX];
		sfmt(path, sizeof(path), "%s/%s", dir, names[i]);
		r = strait_tenant_load(path, &out->tenants[i], err);
		if (r)
			break;
		out->tenants[i].generation = out->generation;
		out->n_tenants = i + 1;
		r = check_tenant(out, i, appliance_path, err);
	}
	for (unsigned i = 0; i < n; i++)
		free(names[i]);
	if (!r)
		r = check_guarantees(out, appliance_path, err);
	return r;
}

/* ---- key files ---- */

enum {
	KEY_B64_LEN = 44,      /* 32 bytes in base64: 43 characters and one '=' */
	KEY_FILE_MAX = 256,    /* a key, a newline, some blanks: never more */
};

static int b64_value(char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+')
		return 62;
	if (ch == '/')
		return 63;
	return -1;
}

/* Exactly 44 characters of standard base64 ending in one '=', with the
 * two bits the '=' leaves unused zero (the only spelling an encoder
 * produces): a typo is refused, never read as another key. */
static bool b64_key(const char *s, size_t n, uint8_t out[STRAIT_PSK_LEN])
{
	if (n != KEY_B64_LEN || s[KEY_B64_LEN - 1] != '=')
		return false;
	uint32_t acc = 0;
	unsigned bits = 0, o = 0;
	for (size_t i = 0; i < KEY_B64_LEN - 1; i++) {
		int v = b64_value(s[i]);
		if (v < 0)
			return false;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	return o == STRAIT_PSK_LEN && (acc & ((1u << bits) - 1)) == 0;
}

static int key_err(const struct strait_tenant_cfg *t, struct strait_error *err, int rc,
		   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int key_err(const struct strait_tenant_cfg *t, struct strait_error *err, int rc,
		   const char *fmt, ...)
{
	memset(err, 0, sizeof(*err));
	sfmt(err->file, sizeof(err->file), "%s", t->file);
	err->line = t->key_line;
	sfmt(err->field, sizeof(err->field), "[Tenant] KeyFile");
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return rc;
}

/* key_id: SHA-256 over a label and the key, its first 16 bytes. */
static int key_identify(struct strait_tenant_cfg *t)
{
	static const char label[] = "strait key id";
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned len = 0;
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	int ok = c && EVP_DigestInit_ex(c, EVP_sha256(), NULL) &&
		 EVP_DigestUpdate(c, label, sizeof(label) - 1) &&
		 EVP_DigestUpdate(c, t->psk, sizeof(t->psk)) && EVP_DigestFinal_ex(c, md, &len) &&
		 len >= sizeof(t->key_id);
	EVP_MD_CTX_free(c);
	if (ok)
		memcpy(t->key_id, md, sizeof(t->key_id));
	explicit_bzero(md, sizeof(md));
	return ok ? 0 : -1;
}

int strait_tenant_load_key(struct strait_tenant_cfg *t, struct strait_error *err)
{
	strait_tenant_wipe_key(t);
	const char *path = t->key_file;
	/* O_NONBLOCK: a FIFO must not wait for a writer */
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		int e = errno;
		return key_err(t, err, -e, "cannot open %s: %s (create it: umask 077; wg genkey > FILE, "
			       "or head -c 32 /dev/urandom | base64 > FILE; see configs/keys/README.md)",
			       path, strerror(e));
	}
	struct stat st;
	char buf[KEY_FILE_MAX + 1];
	int rc = 0;
	ssize_t n = 0;
	if (fstat(fd, &st) != 0) {
		int e = errno;
		rc = key_err(t, err, -e, "cannot stat %s: %s", path, strerror(e));
	} else if (!S_ISREG(st.st_mode)) {
		rc = key_err(t, err, -EINVAL, "%s is not a regular file", path);
	} else if (st.st_mode & 077) {
		rc = key_err(t, err, -EINVAL, "%s has mode %04o: group or others may read it (chmod 600 %s)",
			     path, (unsigned)(st.st_mode & 07777), path);
	} else {
		size_t got = 0;
		while (got < sizeof(buf) && (n = read(fd, buf + got, sizeof(buf) - got)) > 0)
			got += (size_t)n;
		if (n < 0) {
			int e = errno;
			rc = key_err(t, err, -e, "cannot read %s: %s", path, strerror(e));
		} else {
			/* trailing blanks and newlines allowed, nothing else */
			while (got && isspace((unsigned char)buf[got - 1]))
				got--;
			static const uint8_t zero[STRAIT_PSK_LEN];
			if (!b64_key(buf, got, t->psk))
				rc = key_err(t, err, -EINVAL, "%s does not hold a key: expected 32 bytes in base64 "
					     "(44 characters ending in '=', as wg genkey prints)", path);
			else if (!memcmp(t->psk, zero, sizeof(zero)))
				rc = key_err(t, err, -EINVAL, "%s holds an all-zero key", path);
			else
				t->has_psk = key_identify(t) == 0;
			if (!rc && !t->has_psk)
				rc = key_err(t, err, -ENOMEM, "%s: cannot compute the key's id", path);
		}
	}
	explicit_bzero(buf, sizeof(buf));
	close(fd);
	if (rc)
		strait_tenant_wipe_key(t);
	return rc;
}

int strait_config_load_keys(struct strait_config *cfg, struct strait_error *err)
{
	for (unsigned i = 0; i < cfg->n_tenants; i++) {
		int rc = strait_tenant_load_key(&cfg->tenants[i], err);
		if (rc) {
			strait_config_wipe_keys(cfg);
			return rc;
		}
	}
	return 0;
}

void strait_tenant_wipe_key(struct strait_tenant_cfg *t)
{
	explicit_bzero(t->psk, sizeof(t->psk));
	t->has_psk = false;
}

void strait_config_wipe_keys(struct strait_config *cfg)
{
	for (unsigned i = 0; i < STRAIT_MAX_TENANTS; i++)
		strait_tenant_wipe_key(&cfg->tenants[i]);
}

uint64_t strait_tenant_cache_window(const struct strait_tenant_cfg *t)
{
	return t->cache_window ? t->cache_window : strait_dedupe_window_max(t->cache_size);
}

void strait_tenant_hard_limits(const struct strait_tenant_cfg *t, uint64_t *hard_ns,
			       uint64_t *hard_bytes)
{
	uint64_t dt = t->rekey_ns / 10, db = t->rekey_bytes / 10;
	if (dt < 5000000000ull)
		dt = 5000000000ull;
	if (db < (64ull << 20))
		db = 64ull << 20;
	*hard_ns = t->rekey_ns + dt;
	*hard_bytes = t->rekey_bytes + db;
}
